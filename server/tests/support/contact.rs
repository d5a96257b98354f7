//! PSTN to agent through the running gateway (`agents.rs`): one test's dcx with agents
//! agent1 and agent2, the queue `support` and its DID; the PSTN caller (sipp playing
//! `tests/sipp/uac_queue_*.xml` from `origin-a`'s `inbound_from`, its media a UDP socket
//! of the test that talks [`CALLER_HZ`] back); the agents' browsers (a WebSocket with an
//! agent token, and a str0m peer per accepted call).
//!
//! Audio is checked by frequency: what the caller hears, window by window, is the
//! queue's hold tone (its runs on and off) until an agent's voice starts ([`CallerEar`]).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::{json, Value};

use super::media::{carrier_media_talking, Heard, Media, ToneMeter, WAIT};
use super::sipp::{scenario, Sipp, SippPorts};
use super::webrtc_client::{Browser, BrowserCommand};
use super::ws_client::{hello_frame, strs, Ws};
use super::Gateway;

/// The DID the caller dials.
pub const NUMBER: &str = "15550100";
/// A route for everything else, so that only `[[dids]]` keeps the call off carrier-b.
pub const DECK: &str = "prefix,carrier,rate\n1,carrier-b,0.01\n";
/// The gateway's `[signaling] token_key` (the demo key).
pub const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
/// The queue's hold tone.
pub const HOLD_HZ: f64 = 440.0;
/// What the caller says (PCMU at 8 kHz).
pub const CALLER_HZ: f64 = 1000.0;
/// What the agent's browser says (Opus at 48 kHz).
pub const AGENT_HZ: f64 = 600.0;
/// Windows with the right tone each way before a call counts as talking (1 s).
pub const TONE_WINDOWS: usize = 50;
/// The hold tone's cadence in 20 ms frames: 1 s on, 2 s off.
pub const HOLD_ON: usize = 50;
/// The hold tone's pause, in 20 ms frames.
pub const HOLD_OFF: usize = 100;

/// Ports of one test, `base` .. `base + 100`: the caller's SIP port `+2`, its sipp's
/// RTP (`-mp`) `+10`, the caller's media socket `+40`, sipp's control port `+50`, dcx's
/// WebRTC port `+61`, its `[media] rtp_ports` `+70` to `+99`; carrier-b's SIP address
/// `+0` (nothing listens: no call may go there).
#[derive(Clone, Copy)]
pub struct Ports {
    pub base: u16,
    pub caller_sip: u16,
    pub caller_rtp: u16,
    pub webrtc: u16,
}

impl Ports {
    pub fn new(base: u16) -> Self {
        Self {
            base,
            caller_sip: base + 2,
            caller_rtp: base + 40,
            webrtc: base + 61,
        }
    }
}

/// One test's gateway: agents agent1 and agent2 (skill support), queue `support`, the
/// DID [`NUMBER`] for it, trunk `origin-a` for loopback callers.
pub struct Dcx {
    pub gw: Gateway,
    pub ports: Ports,
    /// dcx's SIP address.
    pub sip: String,
}

impl Dcx {
    /// The gateway with `queue` as extra lines of the `support` queue. OPTIONS probing
    /// is off. Returns once dcx listens for SIP.
    pub fn start(name: &str, ports: Ports, queue: &str) -> Self {
        let config = format!(
            "[server]\nhttp_listen = \"127.0.0.1:0\"\n\
             [sip]\nlisten = \"127.0.0.1:0\"\n\
             [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = {}\n\
             [signaling]\ntoken_key = \"{TOKEN_KEY}\"\n\
             [routing]\ndeck = \"deck.csv\"\n\
             [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n\
             [[trunks]]\nname = \"origin-a\"\ninbound_from = [\"127.0.0.1/32\"]\n\
             [[agents]]\nuser = \"agent1\"\nskills = {{ support = 5 }}\n\
             [[agents]]\nuser = \"agent2\"\nskills = {{ support = 5 }}\n\
             [[queues]]\nname = \"support\"\nstrategy = \"longest-idle\"\n\
             skills = {{ support = 1 }}\n{queue}\
             [[dids]]\nnumber = \"{NUMBER}\"\nqueue = \"support\"\n",
            ports.base + 70,
            ports.base + 99,
            ports.webrtc,
            ports.base,
        );
        let gw = Gateway::start(name, &config, &[("deck.csv", DECK)]);
        let sip = gw.wait_for_addr("sip listening");
        Self { gw, ports, sip }
    }

    /// `user`'s browser: connected, `hello` with its agent token, `welcome` checked, and
    /// the presence dcx tells an agent right after it (`offline`: a fresh agent).
    pub fn agent(&self, user: &'static str) -> Agent {
        let mut agent = self.browser(user, Role::Agent, "agent");
        agent.expect_state("offline");
        agent
    }

    /// A softphone's browser (no agent), as [`Dcx::agent`] with the softphone role.
    pub fn softphone(&self, user: &'static str) -> Agent {
        self.browser(user, Role::Softphone, "softphone")
    }

    /// A supervisor's browser, as [`Dcx::agent`] with the supervisor role.
    pub fn supervisor(&self, user: &'static str) -> Agent {
        self.browser(user, Role::Supervisor, "supervisor")
    }

    fn browser(&self, user: &'static str, role: Role, role_name: &str) -> Agent {
        let mut ws = Ws::connect(self.gw.http_addr(), self.ports.webrtc);
        ws.send(&hello_frame(&token(user, role), None));
        let welcome = ws.next("welcome");
        assert_eq!(
            strs(&welcome, ["type", "user", "account", "role"]),
            ["welcome", user, "demo", role_name],
            "{welcome}"
        );
        Agent {
            user,
            ws,
            states: VecDeque::new(),
            at: Instant::now(),
            wrap_up_at: Instant::now(),
            log: Vec::new(),
        }
    }

    /// The caller's sipp running `name` (a `uac_queue_*.xml`), its media at the test's
    /// socket.
    pub fn caller_sipp(&self, name: &str) -> Sipp {
        let (file, rtp) = (scenario(name), self.ports.caller_rtp.to_string());
        let args = [
            "-sf", &file, "-key", "rtp_port", &rtp, &self.sip, "-s", NUMBER,
        ];
        let base = self.ports.base;
        let at = SippPorts {
            sip: self.ports.caller_sip,
            media: base + 10,
            control: base + 50,
        };
        Sipp::start(&self.gw.dir, "caller", &args, at)
    }

    /// The caller: its media socket (talking [`CALLER_HZ`] back to dcx once dcx's RTP
    /// comes), then its sipp running `name`.
    pub fn caller(&self, name: &str) -> Caller {
        let media = carrier_media_talking(self.ports.caller_rtp, CALLER_HZ);
        let sipp = self.caller_sipp(name);
        Caller {
            sipp,
            media,
            ear: CallerEar::default(),
        }
    }

    /// carrier-b for a call put through to a number: sipp answering, its media the
    /// test's socket (`+30`) talking `hz`, hanging up 1.5 s after its ACK.
    pub fn carrier_b(&self, hz: f64) -> (Sipp, Media) {
        self.carrier("carrier-b", self.ports.base, hz)
    }

    /// Carrier `name` at SIP port `sip`, as [`Dcx::carrier_b`].
    pub fn carrier(&self, name: &str, sip: u16, hz: f64) -> (Sipp, Media) {
        self.carrier_playing(name, sip, hz, "uas_media_at_bye.xml")
    }

    /// Carrier `name` at SIP port `sip` running `scenario` (a `uas_media_at*.xml`), its
    /// media the test's socket (`+30`) talking `hz`.
    pub fn carrier_playing(
        &self,
        name: &str,
        sip: u16,
        hz: f64,
        scenario_name: &str,
    ) -> (Sipp, Media) {
        let base = self.ports.base;
        let media = carrier_media_talking(base + 30, hz);
        let rtp = (base + 30).to_string();
        let args = ["-sf", &scenario(scenario_name), "-key", "rtp_port", &rtp];
        let at = SippPorts {
            sip,
            media: base + 20,
            control: base + 51,
        };
        (Sipp::callee(&self.gw.dir, name, &args, at), media)
    }

    /// The caller's From URI, as `incoming` names it.
    pub fn caller_uri(&self) -> String {
        format!("sip:sipp@127.0.0.1:{}", self.ports.caller_sip)
    }

    /// The CDR of the one call (an inbound call has no attempt records).
    pub fn call_record(&self) -> Value {
        let mut records = self.gw.cdrs(1);
        let record = records.remove(0);
        assert_eq!(strs(&record, ["leg"]), ["sip"], "{record}");
        assert_eq!(record["attempt"], 0, "{record}");
        record
    }
}

/// A token of account `demo` for agent `user`, signed with [`TOKEN_KEY`].
pub fn agent_token(user: &str) -> String {
    token(user, Role::Agent)
}

/// A token of account `demo` for `user` in `role`, signed with [`TOKEN_KEY`].
pub fn token(user: &str, role: Role) -> String {
    let claims = Claims {
        account: "demo".into(),
        user: user.into(),
        role,
        exp: 4_102_444_800,
    };
    TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&claims)
}

/// An agent's browser: its WebSocket, with the `agent_state` frames kept in order apart
/// from the rest (they come between the others as dcx's state changes).
pub struct Agent {
    user: &'static str,
    ws: Ws,
    /// `agent_state` frames read while waiting for something else, and when.
    states: VecDeque<(Instant, Value)>,
    /// When the last frame returned came.
    pub at: Instant,
    /// When `wrap_up` came.
    pub wrap_up_at: Instant,
    /// Every frame read, in the order it came: its `type`, and an `agent_state`'s
    /// state after a colon (`ended`, `agent_state:wrap_up`).
    pub log: Vec<String>,
}

impl Agent {
    /// Sends `frame` as one text frame.
    pub fn send(&mut self, frame: &Value) {
        self.ws.send(&frame.to_string());
    }

    /// Chooses a presence; dcx confirms it.
    pub fn set_state(&mut self, state: &str) {
        self.send(&json!({"type": "agent_state", "state": state}));
        self.expect_state(state);
    }

    /// The next frame that is not `agent_state`.
    pub fn next(&mut self, what: &str) -> Value {
        loop {
            let frame = self.read(what);
            let at = Instant::now();
            if frame["type"] == "agent_state" {
                self.states.push_back((at, frame));
                continue;
            }
            self.at = at;
            return frame;
        }
    }

    /// The next `agent_state` frame is `state` (without `wrap_up_remaining_s`).
    pub fn expect_state(&mut self, state: &str) {
        let frame = self.next_state(state);
        let want = json!({"type": "agent_state", "state": state});
        assert_eq!(frame, want, "{}", self.user);
    }

    /// The next `agent_state` frame is `wrap_up` with `remaining_s` left.
    pub fn expect_wrap_up(&mut self, remaining_s: u64) {
        let frame = self.next_state("wrap_up");
        let want = json!({"type": "agent_state", "state": "wrap_up",
            "wrap_up_remaining_s": remaining_s});
        assert_eq!(frame, want, "{}", self.user);
        self.wrap_up_at = self.at;
    }

    fn next_state(&mut self, what: &str) -> Value {
        let (at, frame) = self.states.pop_front().unwrap_or_else(|| {
            let frame = self.read(what);
            let user = self.user;
            assert_eq!(frame["type"], "agent_state", "{user}: {frame} for {what}");
            (Instant::now(), frame)
        });
        self.at = at;
        frame
    }

    /// The next frame of the socket, logged.
    fn read(&mut self, what: &str) -> Value {
        let frame = self.ws.next(what);
        let mut label = frame["type"].as_str().unwrap_or("-").to_owned();
        if let Some(state) = frame["state"].as_str() {
            label = format!("{label}:{state}");
        }
        self.log.push(label);
        frame
    }

    /// An `incoming` from `from` in queue `support`; its call id (`q-` and 16 hex).
    pub fn expect_incoming(&mut self, from: &str) -> String {
        self.expect_incoming_in(from, "support")
    }

    /// An `incoming` from `from` in `queue`; its call id.
    pub fn expect_incoming_in(&mut self, from: &str, queue: &str) -> String {
        let frame = self.next("incoming");
        let id = frame["call_id"].as_str().unwrap_or_default().to_owned();
        let want = json!({"type": "incoming", "call_id": id, "from": from, "queue": queue});
        assert_eq!(frame, want, "{}", self.user);
        let hex = id.strip_prefix("q-").unwrap_or_default();
        assert!(
            hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{frame}"
        );
        id
    }

    /// `ended` for `call_id` with `reason` and nothing else.
    pub fn expect_ended(&mut self, call_id: &str, reason: &str) {
        let frame = self.next("ended");
        let want = json!({"type": "ended", "call_id": call_id, "reason": reason});
        assert_eq!(frame, want, "{}", self.user);
    }

    /// Accepts the offer with a fresh browser talking `hz`: `answered` with dcx's
    /// answer, on which the browser's media starts.
    pub fn accept(&mut self, call_id: &str, hz: f64) -> Media<BrowserCommand> {
        self.offer(
            call_id,
            hz,
            |offer| json!({"type": "accept", "call_id": call_id, "sdp": offer}),
        )
    }

    /// Sends `frame(offer)` with a fresh browser's offer (talking `hz`), takes dcx's
    /// answer from the `answered` for `call_id`, and starts the browser's media on it.
    fn offer(
        &mut self,
        call_id: &str,
        hz: f64,
        frame: impl FnOnce(&str) -> Value,
    ) -> Media<BrowserCommand> {
        let (browser, offer) = Browser::talking(hz);
        self.send(&frame(&offer));
        let answered = self.next("answered");
        let got = strs(&answered, ["type", "call_id"]);
        assert_eq!(got, ["answered", call_id], "{answered}");
        let answer = answered["sdp"]
            .as_str()
            .expect("answered carries dcx's answer");
        self.ws.start_media(browser, answer)
    }

    /// Supervises live call `target` in `mode` as supervision `call_id`, with a fresh
    /// browser talking `hz`: `answered` with dcx's answer, on which its media starts.
    pub fn supervise(
        &mut self,
        call_id: &str,
        target: &str,
        mode: &str,
        hz: f64,
    ) -> Media<BrowserCommand> {
        self.offer(call_id, hz, |offer| {
            json!({"type": "supervise", "call_id": call_id, "target": target,
                "mode": mode, "sdp": offer})
        })
    }

    /// Calls `to` (`user:NAME`, a number) as `call_id` with a fresh browser; returns
    /// its media once `trying` came with dcx's answer.
    pub fn call(&mut self, call_id: &str, to: &str) -> Media<BrowserCommand> {
        self.ws.call(call_id, to)
    }

    /// Reads until call `call_id` is `answered` (`ringing` may come first).
    pub fn expect_answered(&mut self, call_id: &str) {
        loop {
            let frame = self.next("answered");
            assert_eq!(frame["call_id"], call_id, "{frame}");
            match frame["type"].as_str() {
                Some("answered") => return,
                Some("ringing") => {}
                _ => panic!("{}: {frame} before answered", self.user),
            }
        }
    }

    /// A blind transfer of `call_id` to `to` (`user:NAME`, `queue:NAME`, a number).
    pub fn transfer(&mut self, call_id: &str, to: &str) {
        self.send(&json!({"type": "transfer", "call_id": call_id, "to": to}));
    }

    /// Sends `frame` and expects an `error` with `code` for `call_id` back (and nothing
    /// in between but `agent_state`).
    pub fn expect_error(&mut self, frame: &Value, code: &str, call_id: &str) -> Value {
        self.send(frame);
        let e = self.next(code);
        assert_eq!(
            strs(&e, ["type", "code", "call_id"]),
            ["error", code, call_id],
            "{}: {frame} -> {e}",
            self.user
        );
        assert!(e["reason"].is_string(), "{e}");
        e
    }

    /// Hangs up: `ended` with `hangup` comes back (and the caller's leg's `sip_code`,
    /// which this does not check).
    pub fn hang_up(&mut self, call_id: &str) {
        self.send(&json!({"type": "hangup", "call_id": call_id}));
        let frame = self.next("ended");
        let got = strs(&frame, ["type", "call_id", "reason"]);
        assert_eq!(got, ["ended", call_id, "hangup"], "{}: {frame}", self.user);
    }

    /// Nothing more came: no `agent_state` left over, and no frame waiting in the socket
    /// (what dcx sent has arrived by now: this reads with a short limit, no event to
    /// wait for).
    pub fn assert_quiet(&mut self) {
        assert!(self.states.is_empty(), "{}: {:?}", self.user, self.states);
        let more = self.ws.next_within(Duration::from_millis(20));
        assert!(more.is_none(), "{}: unexpected {more:?}", self.user);
    }
}

/// The PSTN caller: sipp, its media socket, and what it heard.
pub struct Caller {
    // Dropped in this order: sipp (killed if still running), then the socket.
    pub sipp: Sipp,
    pub media: Media,
    pub ear: CallerEar,
}

impl Caller {
    /// Feeds what the caller's socket hears to its ear until `done`; panics after
    /// [`WAIT`].
    pub fn listen(&mut self, what: &str, done: impl Fn(&CallerEar) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.ear) {
            let Some(heard) = self.media.next(deadline) else {
                panic!("the caller: no {what} within {WAIT:?}; heard {}", self.ear);
            };
            self.ear.feed(&heard);
        }
    }

    /// Listens until `windows` windows of the agent's tone came, and checks that no
    /// hold tone came after the first of them.
    pub fn hear_agent(&mut self, windows: usize) {
        let target = self.ear.agent.right + windows;
        self.listen("the agent's voice", |e| e.agent.right >= target);
        println!("the agent -> dcx -> caller: {}", self.ear.agent);
        println!("the caller before the agent's voice: {}", self.ear);
        assert_eq!(
            self.ear.hold_after_agent, 0,
            "the hold tone went on under the agent's voice: {}",
            self.ear
        );
    }
}

/// A stretch of the caller's audio before the agent's voice: hold tone or not.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Hold tone (or not).
    pub tone: bool,
    /// How long, in 20 ms windows.
    pub windows: usize,
}

/// What the caller heard, 20 ms window by window: the hold tone's runs (on and off)
/// until the agent's voice started, then the agent's tone.
pub struct CallerEar {
    /// The queue's hold tone.
    pub hold: ToneMeter,
    /// The agent's voice.
    pub agent: ToneMeter,
    /// The hold tone's runs before the agent's voice.
    pub runs: Vec<Run>,
    /// Hold-tone windows after the agent's voice started.
    pub hold_after_agent: usize,
    /// When the first datagram came.
    pub first_at: Option<Instant>,
    /// After a transfer: the agent who handed the caller on.
    pub stale: Option<ToneMeter>,
    /// Windows of [`CallerEar::stale`]'s voice once the hold tone was back.
    pub stale_after_hold: usize,
}

impl Default for CallerEar {
    fn default() -> Self {
        Self::hearing(AGENT_HZ)
    }
}

impl CallerEar {
    /// An ear for the hold tone, then an agent talking `agent_hz`.
    pub fn hearing(agent_hz: f64) -> Self {
        Self {
            hold: ToneMeter::pcmu(HOLD_HZ),
            agent: ToneMeter::pcmu(agent_hz),
            runs: Vec::new(),
            hold_after_agent: 0,
            first_at: None,
            stale: None,
            stale_after_hold: 0,
        }
    }

    /// After a blind transfer from an agent talking `from_hz` to one talking `to_hz`:
    /// the hold tone, then the new agent; the old one's voice is counted once the hold
    /// tone is back ([`CallerEar::stale_after_hold`]).
    pub fn after_transfer(from_hz: f64, to_hz: f64) -> Self {
        Self {
            stale: Some(ToneMeter::pcmu(from_hz)),
            ..Self::hearing(to_hz)
        }
    }

    /// Judges one datagram.
    pub fn feed(&mut self, heard: &Heard) {
        self.first_at.get_or_insert(heard.at);
        let (windows, right) = (self.hold.windows, self.hold.right);
        if let Some(stale) = &mut self.stale {
            let before = stale.right;
            stale.feed(heard);
            if right > 0 {
                self.stale_after_hold += stale.right - before;
            }
        }
        self.hold.feed(heard);
        self.agent.feed(heard);
        let (new, tone) = (self.hold.windows - windows, self.hold.right - right);
        if self.agent.right > 0 {
            self.hold_after_agent += tone;
            return;
        }
        // A datagram of 20 ms is one window; a longer one counts its tone first.
        for k in 0..new {
            let tone = k < tone;
            match self.runs.last_mut() {
                Some(run) if run.tone == tone => run.windows += 1,
                _ => self.runs.push(Run { tone, windows: 1 }),
            }
        }
    }
}

/// The runs as `on 50, off 100, ...` (20 ms windows), and the meters.
impl fmt::Display for CallerEar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{} {}", if r.tone { "on" } else { "off" }, r.windows))
            .collect();
        write!(
            f,
            "hold tone runs [{}] ({}); {} hold windows after the agent's voice",
            runs.join(", "),
            self.hold,
            self.hold_after_agent
        )?;
        if let Some(stale) = &self.stale {
            let n = self.stale_after_hold;
            write!(
                f,
                "; the agent before: {stale}, {n} of them after the hold tone"
            )?;
        }
        Ok(())
    }
}
