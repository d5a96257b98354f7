//! A browser's WebSocket to dcx's `/ws` for the end-to-end tests: the protocol of
//! `docs/signaling.md` as JSON text frames (tungstenite, blocking, every read with a
//! limit), and a call's start: the str0m browser's offer out, dcx's answer from
//! `trying` into the browser, whose media then runs on its own thread.

use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use dcx_signaling::ServerMessage;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use super::media::{is_timeout, Media, WAIT};
use super::webrtc_client::{Browser, BrowserCommand};

/// The string members `keys` of `v` (`-` for one that is not a string).
pub fn strs<'a, const N: usize>(v: &'a Value, keys: [&str; N]) -> [&'a str; N] {
    keys.map(|k| v[k].as_str().unwrap_or("-"))
}

/// A `hello` with `token`, resuming the session of `resume` if given.
pub fn hello_frame(token: &str, resume: Option<&str>) -> String {
    let mut hello = json!({"type": "hello", "v": 1, "token": token});
    if let Some(resume) = resume {
        hello["resume"] = resume.into();
    }
    hello.to_string()
}

/// A `call` of `to` with the browser's offer `sdp`.
pub fn call_frame(call_id: &str, to: &str, sdp: &str) -> String {
    json!({"type": "call", "call_id": call_id, "to": to, "sdp": sdp}).to_string()
}

/// A browser's WebSocket to dcx: text frames out, JSON values in.
pub struct Ws {
    socket: tungstenite::WebSocket<TcpStream>,
    /// dcx's WebRTC ports (one per media shard), one of which its answers must name.
    webrtc: std::ops::RangeInclusive<u16>,
}

impl Ws {
    /// Connects to `ws://addr/ws`; dcx's answers must name its WebRTC port `webrtc`.
    pub fn connect(addr: &str, webrtc: u16) -> Self {
        Self::connect_to_shards(addr, webrtc..=webrtc)
    }

    /// [`Self::connect`] to a dcx with a media shard on each port of `webrtc`.
    pub fn connect_to_shards(addr: &str, webrtc: std::ops::RangeInclusive<u16>) -> Self {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let (socket, _) = tungstenite::client(format!("ws://{addr}/ws"), stream)
            .unwrap_or_else(|e| panic!("WebSocket handshake on ws://{addr}/ws: {e}"));
        Self { socket, webrtc }
    }

    /// Sends one text frame.
    pub fn send(&mut self, text: &str) {
        self.socket.send(Message::text(text.to_owned())).unwrap();
    }

    /// Goes away as a tab does when the network drops: the TCP connection ends with no
    /// close frame.
    pub fn vanish(self) {
        let _ = self.socket.get_ref().shutdown(Shutdown::Both);
    }

    /// The next message, or `None` when `deadline` passes first.
    fn read(&mut self, deadline: Instant) -> Option<tungstenite::Result<Message>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.socket.get_ref().set_read_timeout(Some(left)).unwrap();
            match self.socket.read() {
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                other => return Some(other),
            }
        }
    }

    /// The next text frame as JSON, checked to be a [`ServerMessage`]; `what` names
    /// what the test waits for, for the panic when something else comes.
    pub fn next(&mut self, what: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.read(deadline) {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("waiting for {what}, got {other:?}"),
                Some(Err(e)) => panic!("waiting for {what}: {e}"),
                None => panic!("no {what} within {WAIT:?}"),
            };
            let value: Value = serde_json::from_str(text.as_str())
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text.as_str()));
            if let Err(e) = serde_json::from_value::<ServerMessage>(value.clone()) {
                panic!("not a server message ({e}): {value}");
            }
            return value;
        }
    }

    /// Sends `frame` and expects an `error` with `code` (and some reason) back.
    pub fn expect_error(&mut self, frame: &str, code: &str) -> Value {
        self.send(frame);
        let e = self.next(code);
        assert_eq!(
            strs(&e, ["type", "code"]),
            ["error", code],
            "{frame} -> {e}"
        );
        assert!(e["reason"].is_string(), "{e}");
        e
    }

    /// dcx closes this socket: a close frame, or the connection going away.
    pub fn expect_closed(&mut self) {
        loop {
            match self.read(Instant::now() + WAIT) {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Text(text))) => panic!("the socket stayed open: {text}"),
                Some(Ok(Message::Close(_)) | Err(_)) => return,
                Some(Ok(other)) => panic!("the socket stayed open: {other:?}"),
                None => panic!("the socket was not closed within {WAIT:?}"),
            }
        }
    }

    /// Reads `ended` for `call_id` with `reason` (and `sip_code` or not).
    pub fn expect_ended(&mut self, call_id: &str, reason: &str) {
        let ended = self.next("ended");
        let got = strs(&ended, ["type", "call_id", "reason"]);
        assert_eq!(got, ["ended", call_id, reason], "{ended}");
    }

    /// The next text frame as JSON if one comes within `limit`: for checking that
    /// nothing was sent (a frame sent a while ago is already waiting in the socket).
    pub fn next_within(&mut self, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            match self.read(deadline)? {
                Ok(Message::Text(text)) => {
                    let text = text.as_str();
                    return Some(serde_json::from_str(text).unwrap_or_else(|_| text.into()));
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(other) => return Some(format!("{other:?}").into()),
                Err(e) => return Some(format!("the socket: {e}").into()),
            }
        }
    }

    /// Places call `call_id` to `to` with a fresh browser's offer, takes dcx's answer
    /// from `trying` and starts the browser's media on it.
    pub fn call(&mut self, call_id: &str, to: &str) -> Media<BrowserCommand> {
        let (browser, offer) = Browser::new();
        self.send(&call_frame(call_id, to, &offer));
        let trying = self.next("trying");
        let got = strs(&trying, ["type", "call_id"]);
        assert_eq!(got, ["trying", call_id], "{trying}");
        let answer = trying["sdp"].as_str().expect("trying carries dcx's answer");
        self.start_media(browser, answer)
    }

    /// Checks dcx's SDP `answer` (ICE-lite, a host candidate at its WebRTC port) and
    /// starts `browser`'s media on it, on its own thread.
    pub fn start_media(&self, browser: Browser, answer: &str) -> Media<BrowserCommand> {
        assert!(answer.contains("a=ice-lite"), "{answer}");
        let port = candidate_port(answer);
        assert!(
            self.webrtc.contains(&port),
            "no host candidate on {:?}: {answer}",
            self.webrtc
        );
        assert!(
            answer.contains(&format!("127.0.0.1 {port} typ host")),
            "{answer}"
        );
        let answer = answer.to_owned();
        Media::spawn("the browser", move |heard, commands| {
            browser.run(&answer, &heard, &commands);
        })
    }

    /// Reads until `answered`: only `ringing` and further `trying` may come before it
    /// (no `ended`, no `error`). Returns what came before.
    pub fn until_answered(&mut self, call_id: &str) -> Vec<Value> {
        let mut before = Vec::new();
        loop {
            let frame = self.next("answered");
            assert_eq!(frame["call_id"], call_id, "{frame} after {before:?}");
            match frame["type"].as_str() {
                Some("answered") => return before,
                Some("ringing") if frame["early_media"].is_boolean() => before.push(frame),
                Some("trying") => before.push(frame),
                _ => panic!("{frame} before answered, after {before:?}"),
            }
        }
    }
}

/// The port of the host candidate in dcx's SDP `answer` (its media shard's).
pub fn candidate_port(answer: &str) -> u16 {
    let line = answer.lines().find(|l| l.starts_with("a=candidate:"));
    let line = line.unwrap_or_else(|| panic!("no candidate in {answer}"));
    let port = line.split(' ').nth(5).and_then(|p| p.parse().ok());
    port.unwrap_or_else(|| panic!("no port in {line}"))
}
