# Shared by scripts/run, scripts/test and bench/*: the build cache and system packages.
# Sourced, not run.

# A persistent build directory outside the clone keeps rebuilds incremental.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if mkdir -p /var/cache/dcx-target 2>/dev/null && [ -w /var/cache/dcx-target ]; then
    export CARGO_TARGET_DIR=/var/cache/dcx-target
  else
    export CARGO_TARGET_DIR="$HOME/.cache/dcx-target"
  fi
fi

# ensure_packages WHAT:PACKAGE...: installs each Debian PACKAGE whose WHAT is missing: a
# program on PATH (shell builtins do not count) or, when WHAT starts with '/', a file.
# Idempotent: does nothing when everything is already there.
ensure_packages() {
  local missing=() pair what
  for pair in "$@"; do
    what=${pair%%:*}
    if [ "${what#/}" != "$what" ]; then
      [ -e "$what" ] || missing+=("${pair#*:}")
    else
      type -P "$what" >/dev/null 2>&1 || missing+=("${pair#*:}")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing: ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

command -v cargo >/dev/null 2>&1 || {
  echo "cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
  exit 1
}

# What every build needs: a C toolchain for rustc's linker and the C runtime objects,
# cmake and make for libopus (built by the opus crate).
BUILD_PACKAGES=(cc:gcc /usr/include/stdio.h:libc6-dev cmake:cmake make:make)
# `kill` for the end-to-end tests that signal the gateway; sipp for the SIP ones; a C++
# compiler for libFuzzer (scripts/fuzz).
TEST_PACKAGES=(kill:procps sipp:sip-tester c++:g++)
# The browser tests (tests/browser): Debian's Chromium, driven by playwright-core from npm
# (which never downloads a browser of its own).
BROWSER_PACKAGES=(chromium:chromium node:nodejs npm:npm)

# ensure_rust_components COMPONENT...: adds rustup components (clippy, rustfmt) if missing.
ensure_rust_components() {
  local c
  for c in "$@"; do
    case $c in
      clippy) cargo clippy --version >/dev/null 2>&1 && continue ;;
      rustfmt) cargo fmt --version >/dev/null 2>&1 && continue ;;
    esac
    command -v rustup >/dev/null 2>&1 && rustup component add "$c"
  done
}
