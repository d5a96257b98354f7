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

# ensure_packages CMD:PACKAGE...: installs each Debian PACKAGE whose program CMD is not on
# PATH (shell builtins do not count).
# Idempotent: does nothing when every command is already there.
ensure_packages() {
  local missing=() pair
  for pair in "$@"; do
    type -P "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
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
