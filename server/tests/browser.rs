//! Browser to PSTN through the running gateway, with real peers on loopback: a str0m
//! client stands in for the browser (the protocol of `docs/signaling.md` on `/ws`, then
//! ICE, DTLS and Opus against dcx's one WebRTC port), and sipp (Debian's `sip-tester`)
//! plays the carriers with the scenarios in `tests/sipp/`, their media answered by a
//! UDP socket of the test.
//!
//! Audio is checked by frequency both ways: the browser talks 1 kHz as Opus, the
//! carrier's socket 440 Hz as PCMU back to wherever dcx's RTP comes from; each side
//! counts the 20 ms windows it heard that carry the other's tone. Every wait ends on an
//! event (a frame, a datagram, an exit), with a limit; the one exception is the
//! blocked-destination test's short negative check, which says so.
//!
//! Ports as in `transit.rs`: one fixed block per test, below the kernel's ephemeral
//! range, from `27_000` on (`transit.rs` holds `25_000` to `26_499`). sipp runs with `-m 1` and
//! `-timeout 30s` and is killed on drop. Without `sipp` on PATH the tests that need it
//! fail loudly: `./scripts/test` installs it.

mod support;

use std::fmt;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dcx_media::tone::{goertzel_amplitude, zero_crossing_frequency, SineGenerator};
use dcx_media::{Law, RtpHeader, RtpPacket};
use dcx_signaling::{Claims, Role, ServerMessage, TokenKey};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use support::Gateway;
use tokio_tungstenite::tungstenite::{self, Message};

const NUMBER: &str = "15551234567";
const BLOCKED_NUMBER: &str = "19005550100";
/// carrier-b is the cheaper for 1555. 1900 has a route too, so that only the deny list
/// keeps a call to it off the carriers.
const DECK: &str =
    "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n1900,carrier-b,0.50\n";
const BLOCKED: &str = "blocked = [{ prefix = \"1900\", reason = \"US premium rate\" }]\n";
/// The gateway's `[signaling] token_key` (the demo key).
const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
/// Windows with the right tone each way before a call counts as talking (1 s).
const TONE_WINDOWS: usize = 50;
/// One audio frame, as both sides send them.
const FRAME: Duration = Duration::from_millis(20);
/// The longest wait for one WebSocket frame, or for a tone.
const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_browser_call_reaches_the_carrier_with_audio_both_ways() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(27_000);
    let gw = start_gateway("browser-audio", &config(ports, ""));
    let carrier_media = carrier_media(ports);
    let answers = media_at("uas_media_at.xml", ports);
    let carrier = Sipp::callee(&gw.dir, "carrier-b", &answers, 0, ports);
    let mut ws = Ws::login(ports);
    let browser = ws.call("c1", NUMBER);
    ws.until_answered("c1");

    let at_carrier = carrier_media.wait_for_tone(ToneMeter::new(8000, 1000.0), pcmu);
    println!("browser -> dcx -> carrier: {at_carrier}");
    let at_browser = browser.wait_for_tone(ToneMeter::new(48_000, 440.0), opus_decoder());
    println!("carrier -> dcx -> browser: {at_browser}");

    ws.send(r#"{"type":"hangup","call_id":"c1"}"#);
    ws.expect_ended("c1", "hangup");
    // The carrier got its BYE (and answered it): its scenario ends only then.
    carrier.assert_success();
}

#[test]
fn the_cheapest_carrier_answers_503_and_the_call_connects_through_the_next() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(27_100);
    let gw = start_gateway("browser-failover", &config(ports, ""));
    let carrier_media = carrier_media(ports);
    let refuses = ["-sf".to_owned(), scenario("uas_503.xml")];
    let cheapest = Sipp::callee(&gw.dir, "carrier-b", &refuses, 0, ports);
    let answers = media_at("uas_media_at.xml", ports);
    let next = Sipp::callee(&gw.dir, "carrier-c", &answers, 1, ports);
    let mut ws = Ws::login(ports);
    let _browser = ws.call("c1", NUMBER);
    // The 503 stays inside dcx: the browser sees progress only, then the answer.
    let progress = ws.until_answered("c1");
    println!("before answered: {progress:?}");
    // carrier-b got the INVITE, said 503 and was ACKed.
    cheapest.assert_success();

    let at_carrier = carrier_media.wait_for_tone(ToneMeter::new(8000, 1000.0), pcmu);
    println!("browser -> dcx -> carrier-c: {at_carrier}");
    ws.send(r#"{"type":"hangup","call_id":"c1"}"#);
    ws.expect_ended("c1", "hangup");
    next.assert_success();
}

#[test]
fn a_call_to_a_blocked_prefix_is_refused_with_a_reason_and_no_sip_leg() {
    let ports = Ports::new(27_200);
    // carrier-b's SIP address (the 1900 route's carrier) is a socket of the test: an
    // INVITE for the blocked number would land here.
    let carrier_b = UdpSocket::bind(("127.0.0.1", ports.carrier_b)).unwrap();
    let _gw = start_gateway("browser-blocked", &config(ports, BLOCKED));
    let mut ws = Ws::login(ports);
    let (_browser, offer) = Browser::new();
    ws.send(&call_frame("c1", BLOCKED_NUMBER, &offer));
    // dcx may answer the offer (`trying`) before call control refuses; nothing else.
    let verdict = loop {
        let frame = ws.next("the refusal");
        if frame["type"] != "trying" {
            break frame;
        }
        assert_eq!(frame["call_id"], "c1", "{frame}");
    };
    // Either form the contract allows, each exactly.
    let as_error = strs(&verdict, ["type", "code", "call_id"])
        == ["error", "destination_blocked", "c1"]
        && verdict["reason"].is_string();
    let reason = verdict["reason"].as_str().unwrap_or_default();
    let as_ended = (reason.contains("blocked") || reason.contains("premium"))
        && verdict == json!({"type": "ended", "call_id": "c1", "reason": reason, "sip_code": 403});
    assert!(as_error || as_ended, "not a refusal as blocked: {verdict}");
    // The negative check: nothing reached the carrier while dcx refused, nor in the next
    // 500 ms. There is no event for "nothing was sent", so this one wait is on the clock.
    carrier_b
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    match carrier_b.recv_from(&mut buf) {
        Ok((n, from)) => panic!(
            "carrier-b was sent something from {from}:\n{}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => assert!(is_timeout(&e), "carrier-b's socket: {e}"),
    }
    // The refusal leaves no call behind, and the connection open.
    let gone = ws.expect_error(r#"{"type":"hangup","call_id":"c1"}"#, "unknown_call");
    assert_eq!(gone["call_id"], "c1", "{gone}");
    ws.send(r#"{"type":"ping","seq":1}"#);
    assert_eq!(ws.next("pong"), json!({"type": "pong", "seq": 1}));
}

#[test]
fn bad_frames_get_error_frames_and_the_connection_lives_on() {
    let ports = Ports::new(27_300);
    let _gw = start_gateway("browser-bad-frames", &config(ports, ""));
    // Anything before hello: refused, and the socket closes.
    let mut early = Ws::connect(ports);
    early.expect_error(&call_frame("c1", NUMBER, "v=0\r\n"), "not_authenticated");
    early.expect_closed();

    // Authenticated: each bad frame gets its error, and the connection stays.
    let mut ws = Ws::login(ports);
    let malformed = ws.expect_error("not json", "malformed");
    assert!(malformed.get("call_id").is_none(), "{malformed}");
    ws.expect_error(r#"{"type":"nope"}"#, "unknown_type");
    let unknown = ws.expect_error(r#"{"type":"hangup","call_id":"zzz"}"#, "unknown_call");
    assert_eq!(unknown["call_id"], "zzz", "{unknown}");
    ws.send(r#"{"type":"ping","seq":7}"#);
    assert_eq!(ws.next("pong"), json!({"type": "pong", "seq": 7}));

    // A token signed with another key: refused, and that socket closes.
    let forged = TokenKey::new(b"not-the-gateways-signing-key-123")
        .unwrap()
        .sign(&alice());
    let mut forger = Ws::connect(ports);
    forger.expect_error(&hello(&forged), "token_invalid");
    forger.expect_closed();
    // The good connection did not notice.
    ws.send(r#"{"type":"ping","seq":8}"#);
    assert_eq!(ws.next("pong"), json!({"type": "pong", "seq": 8}));
}

#[test]
fn the_carrier_hanging_up_ends_the_browser_call() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(27_400);
    let gw = start_gateway("browser-remote-bye", &config(ports, ""));
    let _carrier_media = carrier_media(ports);
    let hangs_up = media_at("uas_media_at_bye.xml", ports);
    let carrier = Sipp::callee(&gw.dir, "carrier-b", &hangs_up, 0, ports);
    let mut ws = Ws::login(ports);
    let _browser = ws.call("c1", NUMBER);
    ws.until_answered("c1");
    ws.expect_ended("c1", "remote_hangup");
    // Its BYE was answered 200.
    carrier.assert_success();
    ws.expect_error(r#"{"type":"hangup","call_id":"c1"}"#, "unknown_call");
}

// ---------------------------------------------------------------------------------------
// The gateway: ports, config, tokens and frames.

/// Ports of one test, `base` .. `base + 100`: sipp's RTP (`-mp`, up to 4 from there)
/// at `+10` and `+20` and its control ports (`-cp`) from `+50` for the first and second
/// sipp; dcx's `[media] rtp_ports` `+70` to `+99`.
#[derive(Clone, Copy)]
struct Ports {
    base: u16,
    carrier_b: u16,
    carrier_c: u16,
    /// The carrier's media: the test's socket its SDP answer points at.
    carrier_rtp: u16,
    /// dcx's HTTP (and WebSocket) port: fixed, since `support::Gateway` keeps the
    /// address it reads from the log to itself.
    http: u16,
    /// dcx's one UDP port for every WebRTC peer.
    webrtc: u16,
}

impl Ports {
    fn new(base: u16) -> Self {
        let (carrier_b, carrier_c, carrier_rtp) = (base, base + 1, base + 40);
        let (http, webrtc) = (base + 60, base + 61);
        Self {
            base,
            carrier_b,
            carrier_c,
            carrier_rtp,
            http,
            webrtc,
        }
    }
}

/// The test config, with `routing` as extra lines of `[routing]`. OPTIONS probing is
/// off: sipp's scenarios would take a ping for an unexpected call.
fn config(ports: Ports, routing: &str) -> String {
    format!(
        "[server]\nhttp_listen = \"127.0.0.1:{}\"\n\
         [sip]\nlisten = \"127.0.0.1:0\"\n\
         [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = {}\n\
         [signaling]\ntoken_key = \"{TOKEN_KEY}\"\nresume_grace_s = 30\n\
         [routing]\ndeck = \"deck.csv\"\n{routing}\
         [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n\
         [[trunks]]\nname = \"carrier-c\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n",
        ports.http,
        ports.base + 70,
        ports.base + 99,
        ports.webrtc,
        ports.carrier_b,
        ports.carrier_c,
    )
}

/// The gateway with `config`, once it listens for SIP (after HTTP, in its log).
fn start_gateway(name: &str, config: &str) -> Gateway {
    let gw = Gateway::start(name, config, &[("deck.csv", DECK)]);
    gw.wait_for("sip listening");
    gw
}

fn alice() -> Claims {
    Claims {
        account: "demo".into(),
        user: "alice".into(),
        role: Role::Softphone,
        exp: 4_102_444_800,
    }
}

/// The string members `keys` of `v` (`-` for one that is not a string).
fn strs<'a, const N: usize>(v: &'a Value, keys: [&str; N]) -> [&'a str; N] {
    keys.map(|k| v[k].as_str().unwrap_or("-"))
}

fn hello(token: &str) -> String {
    format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#)
}

fn call_frame(call_id: &str, to: &str, sdp: &str) -> String {
    json!({"type": "call", "call_id": call_id, "to": to, "sdp": sdp}).to_string()
}

/// A browser's WebSocket to dcx: text frames out, JSON values in.
struct Ws {
    socket: tungstenite::WebSocket<TcpStream>,
    ports: Ports,
}

impl Ws {
    fn connect(ports: Ports) -> Self {
        let addr = format!("127.0.0.1:{}", ports.http);
        let stream = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let (socket, _) = tungstenite::client(format!("ws://{addr}/ws"), stream)
            .unwrap_or_else(|e| panic!("WebSocket handshake on ws://{addr}/ws: {e}"));
        Self { socket, ports }
    }

    /// Connected, and authenticated as alice with a valid token.
    fn login(ports: Ports) -> Self {
        let mut ws = Self::connect(ports);
        let token = TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&alice());
        ws.send(&hello(&token));
        let w = ws.next("welcome");
        let (session, resume) = (&w["session_id"], &w["resume_token"]);
        let welcome = json!({"type": "welcome", "v": 1, "session_id": session,
            "resume_token": resume, "user": "alice", "account": "demo", "role": "softphone",
            "resume_grace_s": 30, "resumed_calls": []});
        assert_eq!(w, welcome);
        assert!(session.as_str().is_some_and(|s| s.starts_with("s-")), "{w}");
        assert_eq!(resume.as_str().map(str::len), Some(32), "{w}");
        ws
    }

    fn send(&mut self, text: &str) {
        self.socket.send(Message::text(text.to_owned())).unwrap();
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
    fn next(&mut self, what: &str) -> Value {
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
    fn expect_error(&mut self, frame: &str, code: &str) -> Value {
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
    fn expect_closed(&mut self) {
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
    fn expect_ended(&mut self, call_id: &str, reason: &str) {
        let ended = self.next("ended");
        let got = strs(&ended, ["type", "call_id", "reason"]);
        assert_eq!(got, ["ended", call_id, reason], "{ended}");
    }

    /// Places call `call_id` to `to` with a fresh browser's offer, takes dcx's answer
    /// from `trying` and starts the browser's media on it.
    fn call(&mut self, call_id: &str, to: &str) -> Media {
        let (browser, offer) = Browser::new();
        self.send(&call_frame(call_id, to, &offer));
        let trying = self.next("trying");
        let got = strs(&trying, ["type", "call_id"]);
        assert_eq!(got, ["trying", call_id], "{trying}");
        let answer = trying["sdp"].as_str().expect("trying carries dcx's answer");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        let host = format!("127.0.0.1 {} typ host", self.ports.webrtc);
        assert!(
            answer
                .lines()
                .any(|l| l.starts_with("a=candidate:") && l.contains(&host)),
            "no host candidate at {host}: {answer}"
        );
        let answer = answer.to_owned();
        Media::spawn("the browser", move |heard, stop| {
            browser.run(&answer, &heard, &stop);
        })
    }

    /// Reads until `answered`: only `ringing` and further `trying` may come before it
    /// (no `ended`, no `error`). Returns what came before.
    fn until_answered(&mut self, call_id: &str) -> Vec<Value> {
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

// ---------------------------------------------------------------------------------------
// Media: the browser's str0m client, the carrier's RTP socket, and the tone check.

/// A media endpoint on its own thread, passing on the payloads it receives; stopped
/// (and its panic, if any, passed on) on drop.
struct Media {
    who: &'static str,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    heard: mpsc::Receiver<Vec<u8>>,
}

impl Media {
    /// Runs `run(heard, stop)` on a thread; it should return once `stop`'s sender is gone.
    fn spawn(
        who: &'static str,
        run: impl FnOnce(mpsc::Sender<Vec<u8>>, mpsc::Receiver<()>) + Send + 'static,
    ) -> Self {
        let (heard_tx, heard) = mpsc::channel();
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::spawn(move || run(heard_tx, stopped));
        let (stop, thread) = (Some(stop), Some(thread));
        Self {
            who,
            stop,
            thread,
            heard,
        }
    }

    /// Feeds the payloads, through `decode`, to `meter` until [`TONE_WINDOWS`] windows
    /// carry its tone; panics after [`WAIT`].
    fn wait_for_tone(
        &self,
        mut meter: ToneMeter,
        mut decode: impl FnMut(&[u8]) -> Vec<i16>,
    ) -> ToneMeter {
        let (who, deadline) = (self.who, Instant::now() + WAIT);
        while meter.right < TONE_WINDOWS {
            match self
                .heard
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(payload) => meter.feed(&decode(&payload)),
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("{who} heard {meter}"),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{who}'s media thread ended; it heard {meter}")
                }
            }
        }
        meter
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// PCMU payloads as PCM at 8 kHz.
fn pcmu(payload: &[u8]) -> Vec<i16> {
    let mut pcm = vec![0i16; payload.len()];
    Law::Ulaw.decode_slice(payload, &mut pcm);
    pcm
}

/// Opus payloads as PCM at 48 kHz, one decoder for the stream.
fn opus_decoder() -> impl FnMut(&[u8]) -> Vec<i16> {
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = vec![0i16; 960 * 6];
    move |payload| {
        let n = decoder.decode(payload, &mut pcm, false).unwrap();
        pcm[..n].to_vec()
    }
}

/// The browser's stand-in: a full-ICE str0m peer offering Opus, on its own loopback
/// socket and the real clock, talking a 1 kHz tone once connected.
struct Browser {
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    /// str0m's next timeout.
    timeout: Instant,
    connected: bool,
    /// Opus payloads received and not yet passed on.
    received: Vec<Vec<u8>>,
    encoder: opus::Encoder,
    tone: SineGenerator,
    frames_sent: u64,
}

impl Browser {
    /// A browser and its SDP offer.
    fn new() -> (Self, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .set_reordering_size_audio(0)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let encoder =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let browser = Self {
            rtc,
            socket,
            addr,
            mid,
            pending: Some(pending),
            timeout: now,
            connected: false,
            received: Vec::new(),
            encoder,
            tone: SineGenerator::new(1000.0, 48_000, 8000),
            frames_sent: 0,
        };
        (browser, offer.to_sdp_string())
    }

    fn input(&mut self, input: Input<'_>) {
        if self.rtc.is_alive() {
            self.rtc.handle_input(input).unwrap();
            self.drain();
        }
    }

    /// Polls str0m until it names its next timeout; sends what it says to send.
    fn drain(&mut self) {
        while self.rtc.is_alive() {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return;
                }
                Output::Transmit(t) => {
                    // Best effort, as UDP is.
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::Closed) => self.connected = false,
                Output::Event(Event::MediaData(data)) => self.received.push(data.data.to_vec()),
                Output::Event(_) => {}
            }
        }
    }

    /// Sends the next 20 ms of the tone as Opus at 48 kHz.
    fn send_frame(&mut self) {
        let mut pcm = [0i16; 960];
        self.tone.fill(&mut pcm);
        let mut opus = [0u8; 400];
        let n = self.encoder.encode(&pcm, &mut opus).unwrap();
        let pt = self
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == str0m::format::Codec::Opus)
            .unwrap()
            .pt();
        let rtp_time = MediaTime::new(self.frames_sent * 960, Frequency::FORTY_EIGHT_KHZ);
        self.frames_sent += 1;
        let writer = self.rtc.writer(self.mid).unwrap();
        writer
            .write(pt, Instant::now(), rtp_time, opus[..n].to_vec())
            .unwrap();
        self.drain();
    }

    /// The browser's thread: takes dcx's `answer`, then feeds datagrams and timeouts to
    /// str0m and sends a frame of the tone every 20 ms once connected, passing on what
    /// it hears to `heard`; until `stop`'s sender is gone.
    fn run(mut self, answer: &str, heard: &mpsc::Sender<Vec<u8>>, stop: &mpsc::Receiver<()>) {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        let pending = self.pending.take().unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.drain();
        let mut next_frame: Option<Instant> = None;
        let mut buf = vec![0u8; 2048];
        while let Err(mpsc::TryRecvError::Empty) = stop.try_recv() {
            let now = Instant::now();
            let wake = [Some(self.timeout), next_frame, Some(now + 2 * FRAME)]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            set_wait(&self.socket, wake.saturating_duration_since(now));
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let receive = Receive::new(Protocol::Udp, from, self.addr, &buf[..n]).unwrap();
                    self.input(Input::Receive(Instant::now(), receive));
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("the browser's socket: {e}"),
            }
            let now = Instant::now();
            if now >= self.timeout {
                self.input(Input::Timeout(now));
            }
            if self.connected {
                let due = next_frame.get_or_insert(now);
                if now >= *due {
                    *due = next_due(*due, now);
                    self.send_frame();
                }
            }
            for payload in self.received.drain(..) {
                let _ = heard.send(payload);
            }
        }
    }
}

/// The carrier's media: a UDP socket at the port its SDP names. It passes on the PCMU
/// it receives and, once it knows where dcx sends from, sends 440 Hz PCMU back there
/// (symmetric RTP), 20 ms per packet.
fn carrier_media(ports: Ports) -> Media {
    let port = ports.carrier_rtp;
    let socket = UdpSocket::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("the carrier's media port {port}: {e}"));
    Media::spawn("the carrier", move |heard, stop| {
        carrier_loop(&socket, &heard, &stop);
    })
}

fn carrier_loop(socket: &UdpSocket, heard: &mpsc::Sender<Vec<u8>>, stop: &mpsc::Receiver<()>) {
    let mut tone = SineGenerator::new(440.0, 8000, 8000);
    let mut peer: Option<(SocketAddr, Instant)> = None; // dcx's source, the next send
    let (mut seq, mut timestamp) = (0u16, 0u32);
    let (mut buf, mut out) = ([0u8; 2048], [0u8; 12 + 160]);
    while let Err(mpsc::TryRecvError::Empty) = stop.try_recv() {
        let wait = peer.map_or(2 * FRAME, |(_, at)| {
            at.saturating_duration_since(Instant::now())
        });
        set_wait(socket, wait.min(2 * FRAME));
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => match RtpPacket::parse(&buf[..n]) {
                Ok(p) if p.payload_type() == 0 => {
                    peer.get_or_insert((from, Instant::now()));
                    let _ = heard.send(p.payload().to_vec());
                }
                _ => {} // telephone-event, or not RTP
            },
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("the carrier's media socket: {e}"),
        }
        let now = Instant::now();
        let Some((to, due)) = peer.as_mut() else {
            continue;
        };
        if now < *due {
            continue;
        }
        *due = next_due(*due, now);
        let (mut pcm, mut pcmu) = ([0i16; 160], [0u8; 160]);
        tone.fill(&mut pcm);
        Law::Ulaw.encode_slice(&pcm, &mut pcmu);
        let header = RtpHeader {
            marker: seq == 0,
            payload_type: 0,
            sequence_number: seq,
            timestamp,
            ssrc: 0x4ca2_2ee2,
            ..RtpHeader::default()
        };
        let n = header.write(&pcmu, 0, &mut out).unwrap();
        let _ = socket.send_to(&out[..n], *to);
        (seq, timestamp) = (seq.wrapping_add(1), timestamp.wrapping_add(160));
    }
}

/// Judges decoded audio 20 ms at a time: a window is right when `hz` dominates it (its
/// Goertzel amplitude loud and over 5 times that at 0.7 and 1.4 times `hz`) and its
/// zero crossings put it within 3 % of `hz`.
#[derive(Default)]
struct ToneMeter {
    rate_hz: u32,
    hz: f64,
    pending: Vec<i16>,
    windows: usize,
    right: usize,
    /// Zero-crossing frequency and amplitude of the last window.
    last: (f64, f64),
}

impl ToneMeter {
    fn new(rate_hz: u32, hz: f64) -> Self {
        let meter = Self::default();
        Self {
            rate_hz,
            hz,
            ..meter
        }
    }

    fn feed(&mut self, pcm: &[i16]) {
        self.pending.extend_from_slice(pcm);
        let len = self.rate_hz as usize / 50;
        while self.pending.len() >= len {
            let window: Vec<i16> = self.pending.drain(..len).collect();
            let amplitude = |hz| goertzel_amplitude(&window, self.rate_hz, hz);
            let at = amplitude(self.hz);
            let off = amplitude(self.hz * 0.7).max(amplitude(self.hz * 1.4));
            let f = zero_crossing_frequency(&window, self.rate_hz).unwrap_or(0.0);
            self.windows += 1;
            self.last = (f, at);
            if at > 1000.0 && at > 5.0 * off && (f - self.hz).abs() < 0.03 * self.hz {
                self.right += 1;
            }
        }
    }
}

impl fmt::Display for ToneMeter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hz, amplitude) = self.last;
        write!(
            f,
            "{} of {} 20 ms windows at {} Hz (the last: {hz:.0} Hz, amplitude {amplitude:.0})",
            self.right, self.windows, self.hz
        )
    }
}

/// When the frame after the one due at `due` is due: 20 ms on, or now after a stall of
/// more than 100 ms (no burst to catch up).
fn next_due(due: Instant, now: Instant) -> Instant {
    let next = due + FRAME;
    if next + 5 * FRAME < now {
        now
    } else {
        next
    }
}

/// A read timeout of `wait`, at least 1 ms (zero means "block forever" to the OS).
fn set_wait(socket: &UdpSocket, wait: Duration) {
    socket
        .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
        .unwrap();
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

// ---------------------------------------------------------------------------------------
// sipp, as in transit.rs.

fn scenario(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/sipp")
        .join(name);
    assert!(p.exists(), "missing sipp scenario {}", p.display());
    p.display().to_string()
}

/// A scenario whose SDP points the media at the test's carrier socket.
fn media_at(name: &str, ports: Ports) -> Vec<String> {
    let (file, port) = (scenario(name), ports.carrier_rtp.to_string());
    ["-sf", file.as_str(), "-key", "rtp_port", port.as_str()]
        .map(str::to_owned)
        .to_vec()
}

/// These tests need a real SIP peer: without sipp they fail rather than pass unrun
/// (`./scripts/test` installs it).
fn have_sipp() -> bool {
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

/// One sipp carrier (UAS); killed on drop if it has not ended.
struct Sipp {
    name: String,
    dir: PathBuf,
    child: Child,
}

impl Sipp {
    /// Starts `sipp <scenario>` as carrier `name` and the `i`-th sipp of the test, in
    /// `dir`, and waits until it has bound the carrier's port.
    fn callee(dir: &Path, name: &str, scenario: &[String], i: u16, ports: Ports) -> Self {
        let port = if name == "carrier-b" {
            ports.carrier_b
        } else {
            ports.carrier_c
        };
        let (media, control) = (ports.base + 10 + 10 * i, ports.base + 50 + i);
        let fixed = format!(
            "-i 127.0.0.1 -mi 127.0.0.1 -p {port} -mp {media} -cp {control} \
             -m 1 -timeout 30s -trace_err -nostdin"
        );
        let log = |ext: &str| std::fs::File::create(dir.join(format!("{name}.{ext}"))).unwrap();
        let child = Command::new("sipp")
            .args(scenario)
            .args(fixed.split_whitespace())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log("out"))
            .stderr(log("err"))
            .spawn()
            .expect("cannot start sipp");
        let sipp = Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            child,
        };
        // sipp says nothing when it is ready: poll the port (as transit.rs does).
        let deadline = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(Instant::now() < deadline, "{name} never bound port {port}");
            std::thread::sleep(Duration::from_millis(10));
        }
        sipp
    }

    /// Waits for the exit (sipp's own `-timeout` bounds the wait) and asserts success;
    /// on failure shows the end of what sipp wrote.
    fn assert_success(mut self) {
        let status = self.child.wait().unwrap();
        if status.success() {
            return;
        }
        let mut report = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&self.name) || file.contains("errors") {
                let text = std::fs::read(entry.path()).unwrap_or_default();
                let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(3000)..]);
                let _ = writeln!(report, "--- {file}\n{tail}");
            }
        }
        panic!("sipp {} exited with {status}\n{report}", self.name);
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
