//! Starting the `dcx` binary for end-to-end tests: a config in a fresh directory, the
//! process killed when the test ends, its log lines readable with a timeout.
#![allow(dead_code)] // each test file uses part of it

pub mod contact;
pub mod media;
pub mod pstn;
pub mod sipp;
pub mod webrtc_client;
pub mod ws_client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `dcx` binary.
pub fn dcx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dcx"))
}

/// A fresh directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dcx-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a file and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A running gateway; killed on drop.
pub struct Gateway {
    pub child: Child,
    pub dir: PathBuf,
    lines: mpsc::Receiver<String>,
    /// The HTTP (and WebSocket) address, from the `http listening` log line.
    http: String,
}

impl Gateway {
    /// Starts `dcx --config dcx.toml` with `files` beside the config.
    pub fn start(name: &str, config: &str, files: &[(&str, &str)]) -> Self {
        let dir = tempdir(name);
        for (file, text) in files {
            write(&dir, file, text);
        }
        let cfg = write(&dir, "dcx.toml", config);
        let mut child = dcx()
            .arg("--config")
            .arg(&cfg)
            .env("DCX_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut gw = Self {
            child,
            dir,
            lines,
            http: String::new(),
        };
        gw.http = gw.wait_for_addr("http listening");
        gw
    }

    /// The address dcx's HTTP server listens on (`/healthz`, `/metrics`, `/ws`): the
    /// one it logged, so that `http_listen` may be `127.0.0.1:0`.
    pub fn http_addr(&self) -> &str {
        &self.http
    }

    /// Waits (30 s at most) for a log line containing `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The `addr=` of the log line containing `needle`.
    pub fn wait_for_addr(&self, needle: &str) -> String {
        let line = self.wait_for(needle);
        line.split("addr=").nth(1).unwrap().trim().to_owned()
    }

    /// `GET path` on the HTTP port; the whole response as text.
    pub fn get(&self, path: &str) -> String {
        http_get(&self.http, path)
    }

    /// `GET /healthz` as JSON.
    pub fn health(&self) -> serde_json::Value {
        let resp = self.get("/healthz");
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    }

    /// The call detail records, through `dcx --config <this config> cdr --json` (so the
    /// store is found as `[cdr] path` says), once there are `n`: the writer batches on
    /// its own thread, so this polls, for 15 s at most.
    pub fn cdrs(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = dcx()
                .arg("--config")
                .arg(self.dir.join("dcx.toml"))
                .args(["cdr", "--json"])
                .output()
                .unwrap();
            let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if records.len() >= n || Instant::now() > deadline {
                assert_eq!(
                    records.len(),
                    n,
                    "CDRs: {records:?} {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return records;
            }
            // A poll of another process: there is no event to wait on.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`-HUP`, `-TERM`) to the process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET; the whole response as text.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// One HTTP/1.1 request (`Connection: close`); the status and the body as JSON.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        unchunk(body)
    } else {
        body.to_owned()
    };
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    (status, json)
}

/// A chunked body, decoded.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}
