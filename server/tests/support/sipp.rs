//! sipp (Debian's `sip-tester`) as a SIP peer of the end-to-end tests: the scenarios of
//! `tests/sipp/`, one process per side of a call, its output in the test's directory,
//! killed on drop if it has not ended.
//!
//! Every sipp runs with `-m 1` (one call) and `-timeout 30s`, so it always ends by
//! itself; the ports it binds are the test's (below the kernel's ephemeral range, so
//! they cannot collide with the `127.0.0.1:0` listeners of other tests).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long sipp may take to bind its port.
const START: Duration = Duration::from_secs(10);
/// The longest wait for an exit: sipp's own `-timeout 30s` ends it well before.
const EXIT: Duration = Duration::from_secs(60);

/// The path of scenario `name` in `tests/sipp/`.
pub fn scenario(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/sipp")
        .join(name);
    assert!(p.exists(), "missing sipp scenario {}", p.display());
    p.display().to_string()
}

/// These tests need a real SIP peer: without sipp they fail rather than pass unrun
/// (`./scripts/test` installs it).
pub fn have_sipp() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`sipp` is not installed: run ./scripts/test (it installs sip-tester) or apt-get install sip-tester"
    );
    found
}

/// The ports one sipp binds.
#[derive(Debug, Clone, Copy)]
pub struct SippPorts {
    /// Its SIP port (`-p`).
    pub sip: u16,
    /// Its RTP ports (`-mp`; sipp uses up to 4 from there).
    pub media: u16,
    /// Its control port (`-cp`).
    pub control: u16,
}

/// One sipp process; killed on drop if it has not ended.
pub struct Sipp {
    name: String,
    pid: u32,
    dir: PathBuf,
    done: mpsc::Receiver<std::io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
}

impl Sipp {
    /// Starts `sipp <args> -i 127.0.0.1 -p .. -mp .. -cp .. -m 1 -timeout 30s` in `dir`
    /// as `name` (its output goes to `name.out` and `name.err` there). `args` are the
    /// scenario's, and for a caller the remote address.
    pub fn start<S: AsRef<OsStr>>(dir: &Path, name: &str, args: &[S], at: SippPorts) -> Self {
        let (sip, mp, cp) = (
            at.sip.to_string(),
            at.media.to_string(),
            at.control.to_string(),
        );
        let log = |ext: &str| std::fs::File::create(dir.join(format!("{name}.{ext}"))).unwrap();
        let mut child = Command::new("sipp")
            .args(args)
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", &sip])
            .args(["-mp", &mp, "-cp", &cp, "-m", "1", "-timeout", "30s"])
            .args(["-trace_err", "-nostdin"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log("out"))
            .stderr(log("err"))
            .spawn()
            .expect("cannot start sipp");
        let pid = child.id();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        Self {
            name: name.to_owned(),
            pid,
            dir: dir.to_owned(),
            done,
            status: None,
        }
    }

    /// A UAS on UDP: started, then waited for until its port is bound (sipp says
    /// nothing when it is ready).
    pub fn callee<S: AsRef<OsStr>>(dir: &Path, name: &str, args: &[S], at: SippPorts) -> Self {
        let bound = || UdpSocket::bind(("127.0.0.1", at.sip)).is_err();
        Self::start(dir, name, args, at).ready_when(bound, "bound its UDP port")
    }

    /// A UAS on TCP (`-t t1` among `args`): started, then waited for until it accepts
    /// connections.
    pub fn callee_tcp<S: AsRef<OsStr>>(dir: &Path, name: &str, args: &[S], at: SippPorts) -> Self {
        let listening = || TcpStream::connect(("127.0.0.1", at.sip)).is_ok();
        Self::start(dir, name, args, at).ready_when(listening, "listened on its TCP port")
    }

    /// Polls `ready` (there is no event for it) until it holds, for [`START`] at most.
    fn ready_when(mut self, ready: impl Fn() -> bool, what: &str) -> Self {
        let deadline = Instant::now() + START;
        while !ready() {
            assert!(
                Instant::now() < deadline && self.is_running(),
                "sipp {} never {what}\n{}",
                self.name,
                self.log_tails()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self
    }

    /// Whether sipp is still running (its scenario not over).
    pub fn is_running(&mut self) -> bool {
        self.exit_within(Duration::ZERO).is_none()
    }

    /// Waits for the exit (sipp's own `-timeout` ends it well before the limit) and
    /// asserts success; on failure shows the end of what sipp wrote.
    pub fn assert_success(self) {
        self.assert_success_within(EXIT);
    }

    /// [`Sipp::assert_success`], but sipp must end within `limit`.
    pub fn assert_success_within(mut self, limit: Duration) {
        let Some(status) = self.exit_within(limit) else {
            panic!(
                "sipp {} did not end within {limit:?}\n{}",
                self.name,
                self.log_tails()
            );
        };
        assert!(
            status.success(),
            "sipp {} exited with {status}\n{}",
            self.name,
            self.log_tails()
        );
    }

    /// The exit status, once sipp has ended; waits `limit` for it at most.
    fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(status) = self.done.recv_timeout(limit) {
                self.status = Some(status.unwrap());
            }
        }
        self.status
    }

    /// The last 3000 bytes of each file sipp `name` wrote, and of any error log.
    fn log_tails(&self) -> String {
        let mut report = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&self.name) || file.contains("errors") {
                let text = std::fs::read(entry.path()).unwrap_or_default();
                let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(3000)..]);
                let _ = writeln!(report, "--- {file}\n{tail}");
            }
        }
        report
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = Command::new("kill").arg(self.pid.to_string()).status();
        }
    }
}
