//! Browser call setup latency through a running dcx, on loopback (`bench/call-setup`
//! starts dcx and runs this).
//!
//! This process plays both ends of a browser -> PSTN call, one call at a time:
//! - the browser: a WebSocket to dcx's `/ws` (`hello` with a token signed here), then
//!   per call `call {call_id, to, sdp}` with a real WebRTC offer from a fresh str0m
//!   `Rtc` (made before the clock starts; no ICE or DTLS follows, since setup ends at
//!   `answered`), and `hangup` once answered;
//! - the carrier: a UDP socket at dcx's trunk address that answers every INVITE at once
//!   with 100 and 200 (PCMU, SDP pointing at a socket that is bound and never read),
//!   BYE and CANCEL with 200, and ignores ACK. It notes, per INVITE, when it arrived
//!   and when the 200 left.
//!
//! Both ends read the same monotonic clock, so the carrier's timestamps split each call
//! into the part before the INVITE reaches the carrier (the `call` frame over the
//! WebSocket, dcx, the INVITE over UDP) and the part after its 200 leaves (the 200 over
//! UDP, dcx, `answered` over the WebSocket); the carrier's own time between is not
//! dcx's.
//!
//! Baselines in the same run, each measured just before every call: a WebSocket
//! `ping` -> `pong` through dcx (the WebSocket hop both ways plus dcx's cheapest frame),
//! and a bare SIP INVITE -> 200 from this process to its own carrier over the same
//! loopback (the UDP hop both ways plus the carrier).
//!
//! What dcx adds to a call, as printed: `call` -> `answered`, minus the carrier's own
//! time for that call's INVITE, minus the run's median WebSocket round trip and the
//! run's median SIP wire time (the bare INVITE -> 200 minus the carrier's time in it).
//! Subtracting medians, not the baselines measured next to each call, means a quiet
//! baseline cannot hide a slow call: the noise of the machine counts against dcx.
//!
//! Usage: `call_setup --ws 127.0.0.1:5621 --carrier 127.0.0.1:5630 --token-key KEY`
//! (`--help` for the rest).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use clap::Parser;
use dcx_signaling::{Claims, Role, ServerMessage, TokenKey};
use dcx_sip::{response_to, Message, Method, RequestBuilder, ViaSpec};
use serde_json::json;
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};
use tokio_tungstenite::tungstenite::{self, Message as Frame};

/// The longest wait for any one frame, datagram or carrier note.
const WAIT: Duration = Duration::from_secs(10);
/// The carrier's To tag: one for every dialog (their Call-IDs differ).
const CARRIER_TAG: &str = "bench-carrier";

#[derive(Parser, Debug)]
#[command(about = "Browser call setup latency through a running dcx (see bench/call-setup)")]
struct Args {
    /// dcx's HTTP address (the WebSocket is its `/ws`).
    #[arg(long)]
    ws: SocketAddr,
    /// The address the carrier listens on: dcx's trunk address for it.
    #[arg(long)]
    carrier: SocketAddr,
    /// dcx's `[signaling] token_key`.
    #[arg(long)]
    token_key: String,
    /// Calls measured.
    #[arg(long, default_value_t = 500)]
    calls: usize,
    /// Calls made first and not counted (the first calls warm caches, pools and the CDR store).
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// The number dialled (routed to the carrier by dcx's deck).
    #[arg(long, default_value = "15551234567")]
    to: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.calls == 0 {
        bail!("--calls must be at least 1");
    }
    let (notes_tx, notes) = mpsc::channel();
    let carrier = Carrier::bind(args.carrier)?;
    std::thread::spawn(move || {
        if let Err(e) = carrier.serve(&notes_tx) {
            let _ = notes_tx.send(Note::Failed(format!("{e:#}")));
        }
    });
    let mut run = Run {
        ws: Ws::login(args.ws, &args.token_key)?,
        sip: SipClient::new(args.carrier)?,
        notes,
        browser: UdpSocket::bind("127.0.0.1:0").context("the browser's UDP socket")?,
        retransmissions: 0,
    };
    let mut samples = Vec::with_capacity(args.calls);
    let mut cold = None;
    for i in 0..args.warmup + args.calls {
        let s = run
            .one(i, &args.to)
            .with_context(|| format!("call {} of {}", i + 1, args.warmup + args.calls))?;
        cold.get_or_insert(s.answered);
        if i >= args.warmup {
            samples.push(s);
        }
    }
    print!("{}", report(&args, &samples, cold, run.retransmissions));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One call and its baselines.

/// The times of one call and of the baselines measured just before it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// `call` sent -> `trying` received.
    trying: Duration,
    /// `call` sent -> `answered` received.
    answered: Duration,
    /// `hangup` sent -> `ended` received.
    ended: Duration,
    /// `call` sent -> the INVITE at the carrier.
    inbound: Duration,
    /// The carrier's 200 sent -> `answered` received.
    outbound: Duration,
    /// The carrier's own time: the INVITE received -> its 200 sent.
    carrier: Duration,
    /// `ping` sent -> `pong` received.
    ws_rtt: Duration,
    /// Bare INVITE sent -> 200 received, this process to its carrier.
    sip_rtt: Duration,
    /// The carrier's own time in that bare INVITE.
    sip_carrier: Duration,
}

struct Run {
    ws: Ws,
    sip: SipClient,
    notes: mpsc::Receiver<Note>,
    /// The address the browser's offers name as their host candidate.
    browser: UdpSocket,
    /// INVITEs the carrier saw again (a retransmission means a late 100 or 200).
    retransmissions: usize,
}

impl Run {
    /// The baselines, then call `i`: `call` until `answered`, `hangup` until `ended`,
    /// and the carrier's BYE, so that nothing of this call overlaps the next.
    fn one(&mut self, i: usize, to: &str) -> anyhow::Result<Sample> {
        let ws_rtt = self.ws.ping(i).context("WebSocket ping")?;
        let call_id = format!("bench-base-{i}");
        let sip_rtt = self.sip.invite(&call_id).context("bare SIP INVITE")?;
        let base = self.invite_note()?;
        if base.call_id != call_id {
            bail!("the carrier saw INVITE {}, not {call_id}", base.call_id);
        }
        let offer = offer(self.browser.local_addr()?)?;
        let call_id = format!("c{i}");
        let frame = json!({"type": "call", "call_id": call_id, "to": to, "sdp": offer});
        let sent = Instant::now();
        self.ws.send(frame.to_string())?;
        let mut trying = None;
        let answered = loop {
            let (at, message) = self.ws.next("answered")?;
            match message {
                ServerMessage::Trying { call_id: c, .. } if c == call_id => {
                    trying.get_or_insert(at);
                }
                ServerMessage::Ringing { call_id: c, .. } if c == call_id => {}
                ServerMessage::Answered { call_id: c, .. } if c == call_id => break at,
                other => bail!("waiting for answered to {call_id}, got {other:?}"),
            }
        };
        let trying = trying.ok_or_else(|| anyhow!("{call_id} was answered without trying"))?;
        let invite = self.invite_note()?;

        let hangup = Instant::now();
        self.ws
            .send(json!({"type": "hangup", "call_id": call_id}).to_string())?;
        let ended = match self.ws.next("ended")? {
            (at, ServerMessage::Ended { call_id: c, .. }) if c == call_id => at,
            (_, other) => bail!("waiting for ended of {call_id}, got {other:?}"),
        };
        self.bye_note(&invite.call_id)?;
        Ok(Sample {
            trying: trying - sent,
            answered: answered - sent,
            ended: ended - hangup,
            inbound: invite.received.saturating_duration_since(sent),
            outbound: answered.saturating_duration_since(invite.answered),
            carrier: invite.answered - invite.received,
            ws_rtt,
            sip_rtt,
            sip_carrier: base.answered - base.received,
        })
    }

    /// The carrier's note of the next new INVITE.
    fn invite_note(&mut self) -> anyhow::Result<Invite> {
        loop {
            match self.note("an INVITE")? {
                Note::Invite(inv) if inv.first => return Ok(inv),
                Note::Invite(_) => self.retransmissions += 1,
                Note::Bye(_) => {}
                Note::Failed(e) => bail!("the carrier stopped: {e}"),
            }
        }
    }

    /// Waits until the carrier has answered the BYE of SIP call `call_id`.
    fn bye_note(&mut self, call_id: &str) -> anyhow::Result<()> {
        loop {
            match self.note("the BYE")? {
                Note::Bye(c) if c == call_id => return Ok(()),
                Note::Invite(inv) if !inv.first => self.retransmissions += 1,
                Note::Invite(inv) => bail!("an INVITE ({}) before the BYE", inv.call_id),
                Note::Bye(c) => bail!("a BYE for {c}, waiting for {call_id}'s"),
                Note::Failed(e) => bail!("the carrier stopped: {e}"),
            }
        }
    }

    fn note(&mut self, what: &str) -> anyhow::Result<Note> {
        self.notes
            .recv_timeout(WAIT)
            .map_err(|_| anyhow!("the carrier saw no {what} within {WAIT:?}"))
    }
}

/// A browser's SDP offer: a fresh str0m peer with one send-receive audio line (Opus and
/// G.711, as browsers offer) and a host candidate at `addr`.
fn offer(addr: SocketAddr) -> anyhow::Result<String> {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .enable_pcma(true, false)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(addr, "udp").context("host candidate")?);
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, _pending) = change.apply().context("str0m made no offer")?;
    Ok(offer.to_sdp_string())
}

// ---------------------------------------------------------------------------------------
// The browser's WebSocket.

struct Ws {
    socket: tungstenite::WebSocket<TcpStream>,
}

impl Ws {
    /// Connected to `ws://addr/ws` and past `welcome`.
    fn login(addr: SocketAddr, token_key: &str) -> anyhow::Result<Self> {
        let stream =
            TcpStream::connect(addr).with_context(|| format!("connect to dcx at {addr}"))?;
        // Frames are small and each waits for an answer: no Nagle on our side.
        stream.set_nodelay(true)?;
        let (socket, _) = tungstenite::client(format!("ws://{addr}/ws"), stream)
            .map_err(|e| anyhow!("WebSocket handshake on ws://{addr}/ws: {e}"))?;
        let mut ws = Self { socket };
        let claims = Claims {
            account: "bench".into(),
            user: "caller".into(),
            role: Role::Softphone,
            exp: 4_102_444_800,
        };
        let token = TokenKey::new(token_key.as_bytes())
            .map_err(|e| anyhow!("--token-key: {e}"))?
            .sign(&claims);
        ws.send(json!({"type": "hello", "v": 1, "token": token}).to_string())?;
        match ws.next("welcome")?.1 {
            ServerMessage::Welcome { .. } => Ok(ws),
            other => bail!("hello was answered with {other:?}"),
        }
    }

    fn send(&mut self, text: String) -> anyhow::Result<()> {
        self.socket
            .send(Frame::text(text))
            .context("sending to dcx's WebSocket")
    }

    /// `ping` -> `pong`: the round trip.
    fn ping(&mut self, seq: usize) -> anyhow::Result<Duration> {
        let sent = Instant::now();
        self.send(json!({"type": "ping", "seq": seq}).to_string())?;
        match self.next("pong")? {
            (at, ServerMessage::Pong { seq: Some(s) }) if s as usize == seq => Ok(at - sent),
            (_, other) => bail!("waiting for pong {seq}, got {other:?}"),
        }
    }

    /// The next server message and when its frame was read (before it was parsed).
    fn next(&mut self, what: &str) -> anyhow::Result<(Instant, ServerMessage)> {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no {what} from dcx within {WAIT:?}");
            }
            self.socket.get_ref().set_read_timeout(Some(left))?;
            let frame = match self.socket.read() {
                Ok(frame) => frame,
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => continue,
                Err(e) => bail!("waiting for {what}: dcx's WebSocket: {e}"),
            };
            let at = Instant::now();
            let text = match frame {
                Frame::Text(text) => text,
                Frame::Ping(_) | Frame::Pong(_) => continue,
                other => bail!("waiting for {what}, dcx sent {other:?}"),
            };
            let message = serde_json::from_str(text.as_str())
                .with_context(|| format!("not a server message: {}", text.as_str()))?;
            if let ServerMessage::Error { .. } = message {
                bail!("waiting for {what}, dcx answered {}", text.as_str());
            }
            return Ok((at, message));
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

// ---------------------------------------------------------------------------------------
// The carrier, and the bare SIP client of the baseline.

/// What the carrier tells the client.
#[derive(Debug)]
enum Note {
    /// It answered an INVITE.
    Invite(Invite),
    /// It answered the BYE of this Call-ID.
    Bye(String),
    /// Its socket failed.
    Failed(String),
}

#[derive(Debug)]
struct Invite {
    call_id: String,
    /// The datagram was read.
    received: Instant,
    /// The 200 was sent.
    answered: Instant,
    /// Not a retransmission of an INVITE seen before.
    first: bool,
}

struct Carrier {
    socket: UdpSocket,
    /// `Contact` of the 200: where dcx sends ACK and BYE.
    contact: String,
    /// The SDP answer: PCMU at a port of `media`.
    sdp: Vec<u8>,
    /// Where the SDP says the carrier receives RTP: bound so that dcx's packets (if
    /// any) are not refused, never read.
    _media: UdpSocket,
}

impl Carrier {
    fn bind(addr: SocketAddr) -> anyhow::Result<Self> {
        let socket =
            UdpSocket::bind(addr).with_context(|| format!("the carrier's SIP port {addr}"))?;
        let media = UdpSocket::bind((addr.ip(), 0)).context("the carrier's RTP port")?;
        let (ip, port) = (addr.ip(), media.local_addr()?.port());
        let sdp = format!(
            "v=0\r\no=carrier 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
        );
        Ok(Self {
            socket,
            contact: format!("<sip:carrier@{addr}>"),
            sdp: sdp.into_bytes(),
            _media: media,
        })
    }

    /// Answers requests until the socket fails or the client is gone.
    fn serve(&self, notes: &mpsc::Sender<Note>) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 65_536];
        let mut out = Vec::with_capacity(2048);
        let mut seen = HashSet::new();
        loop {
            let (n, from) = self.socket.recv_from(&mut buf).context("carrier recv")?;
            let received = Instant::now();
            let msg = match Message::parse_datagram(&buf[..n]) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("carrier: an unparsable datagram from {from}: {e}");
                    continue;
                }
            };
            // Responses: none are expected (the carrier sends no requests).
            let Some(method) = msg.method() else { continue };
            let call_id = msg.call_id().unwrap_or("?").to_owned();
            let note = match method {
                Method::Invite => {
                    out.clear();
                    response_to(&msg, 100, b"Trying", None)?.write_to(&mut out)?;
                    self.socket.send_to(&out, from)?;
                    out.clear();
                    response_to(&msg, 200, b"OK", Some(CARRIER_TAG))?
                        .contact(&self.contact)?
                        .body("application/sdp", &self.sdp)
                        .write_to(&mut out)?;
                    self.socket.send_to(&out, from)?;
                    let answered = Instant::now();
                    let first = seen.insert(call_id.clone());
                    Some(Note::Invite(Invite {
                        call_id,
                        received,
                        answered,
                        first,
                    }))
                }
                Method::Ack => None,
                _ => {
                    out.clear();
                    response_to(&msg, 200, b"OK", None)?.write_to(&mut out)?;
                    self.socket.send_to(&out, from)?;
                    (method == Method::Bye).then_some(Note::Bye(call_id))
                }
            };
            if let Some(note) = note {
                if notes.send(note).is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// The baseline's SIP user agent: INVITE, wait for the 200, ACK.
struct SipClient {
    socket: UdpSocket,
    carrier: SocketAddr,
    local: String,
    sdp: String,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl SipClient {
    fn new(carrier: SocketAddr) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind((carrier.ip(), 0)).context("the SIP baseline's socket")?;
        let local = socket.local_addr()?.to_string();
        let ip = carrier.ip();
        // An offer like dcx's to carriers: PCMU, PCMA, telephone-event.
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n\
             a=sendrecv\r\n"
        );
        Ok(Self {
            socket,
            carrier,
            local,
            sdp,
            buf: vec![0u8; 65_536],
            out: Vec::with_capacity(2048),
        })
    }

    /// INVITE sent -> 200 received (the 100 before it is skipped); then the ACK.
    fn invite(&mut self, call_id: &str) -> anyhow::Result<Duration> {
        self.request(Method::Invite, call_id, None)?;
        let sent = Instant::now();
        self.socket.send_to(&self.out, self.carrier)?;
        let deadline = sent + WAIT;
        let answered = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no 200 from the carrier within {WAIT:?}");
            }
            self.socket.set_read_timeout(Some(left))?;
            let n = match self.socket.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e).context("the SIP baseline's socket"),
            };
            let at = Instant::now();
            let msg = Message::parse_datagram(&self.buf[..n])
                .map_err(|e| anyhow!("the carrier sent an unparsable response: {e}"))?;
            match msg.status_code() {
                Some(100..=199) => {}
                Some(200) => break at,
                other => bail!("the carrier answered {other:?}"),
            }
        };
        // The ACK of a 2xx is a transaction of its own; the carrier ignores it anyway.
        self.request(Method::Ack, call_id, Some(CARRIER_TAG))?;
        self.socket.send_to(&self.out, self.carrier)?;
        Ok(answered - sent)
    }

    /// Writes `method` of call `call_id` into `self.out`.
    fn request(
        &mut self,
        method: Method<'_>,
        call_id: &str,
        to_tag: Option<&str>,
    ) -> anyhow::Result<()> {
        let target = format!("sip:15551234567@{}", self.carrier);
        let branch = format!("z9hG4bK-{call_id}-{}", method.as_str());
        let mut b = RequestBuilder::new(method, &target)
            .via(ViaSpec {
                transport: "UDP",
                sent_by: &self.local,
                branch: &branch,
                rport: false,
            })
            .max_forwards(70)
            .from("<sip:bench@127.0.0.1>", "bench-base")
            .to("<sip:15551234567@127.0.0.1>", to_tag)
            .call_id(call_id)
            .cseq(1);
        if method == Method::Invite {
            b = b
                .contact("<sip:bench@127.0.0.1>")
                .body("application/sdp", self.sdp.as_bytes());
        }
        self.out.clear();
        b.write_to(&mut self.out)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The report.

/// Milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, p90, p99 and max of `values` (nearest rank).
#[derive(Debug, Clone, Copy)]
struct Spread {
    median: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let r = (q * values.len() as f64).ceil() as usize;
            values[r.clamp(1, values.len()) - 1]
        };
        Self {
            median: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: values[values.len() - 1],
        }
    }

    fn row(&self, out: &mut String, name: &str) {
        let _ = writeln!(
            out,
            "  {name:<48} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            self.median, self.p90, self.p99, self.max
        );
    }
}

fn report(args: &Args, samples: &[Sample], cold: Option<Duration>, retrans: usize) -> String {
    let spread =
        |f: fn(&Sample) -> Duration| Spread::of(samples.iter().map(|s| ms(f(s))).collect());
    let answered = spread(|s| s.answered);
    let ws = spread(|s| s.ws_rtt);
    let sip = spread(|s| s.sip_rtt);
    let sip_wire = spread(|s| s.sip_rtt.saturating_sub(s.sip_carrier));
    let adds = |s: &Sample| ms(s.answered) - ms(s.carrier) - ws.median - sip_wire.median;
    let dcx = Spread::of(samples.iter().map(adds).collect());
    let paired = Spread::of(
        samples
            .iter()
            .map(|s| {
                ms(s.answered) - ms(s.carrier) - ms(s.ws_rtt) - ms(s.sip_rtt) + ms(s.sip_carrier)
            })
            .collect(),
    );

    let mut out = String::new();
    let _ = writeln!(
        out,
        "call-setup: {} calls, one at a time, browser (WebSocket {}) -> dcx -> carrier ({}), \
         after {} warm-up calls",
        samples.len(),
        args.ws,
        args.carrier,
        args.warmup
    );
    let _ = writeln!(
        out,
        "  {:<48} {:>8} {:>8} {:>8} {:>8}",
        "ms", "median", "p90", "p99", "max"
    );
    spread(|s| s.trying).row(&mut out, "call -> trying");
    answered.row(&mut out, "call -> answered");
    spread(|s| s.ended).row(&mut out, "hangup -> ended");
    spread(|s| s.inbound).row(&mut out, "  call -> INVITE at the carrier");
    spread(|s| s.carrier).row(&mut out, "  the carrier: INVITE -> 200");
    spread(|s| s.outbound).row(&mut out, "  200 sent -> answered");
    let _ = writeln!(out, "baselines, measured before each call:");
    ws.row(&mut out, "WebSocket ping -> pong (through dcx)");
    sip.row(&mut out, "SIP INVITE -> 200 (this process -> its carrier)");
    sip_wire.row(&mut out, "  of which the wire (minus the carrier's time)");
    let _ = writeln!(
        out,
        "dcx adds: call -> answered, minus the carrier's time for the call's INVITE, minus \
         the run's median ping -> pong and median SIP wire time:"
    );
    dcx.row(&mut out, "dcx adds");
    paired.row(&mut out, "  paired: each call minus its own baselines");
    let _ = writeln!(
        out,
        "ratio call -> answered / (ping -> pong + INVITE -> 200), medians: {:.2}",
        answered.median / (ws.median + sip.median)
    );
    if let Some(cold) = cold {
        let _ = writeln!(out, "first call (cold, not counted): {:.3} ms", ms(cold));
    }
    let _ = writeln!(out, "INVITE retransmissions seen by the carrier: {retrans}");
    let verdict = if dcx.p99 <= 5.0 { "met" } else { "NOT met" };
    let _ = writeln!(
        out,
        "target: dcx adds <= 5 ms at p99: {verdict} ({:.3} ms)",
        dcx.p99
    );
    out
}
