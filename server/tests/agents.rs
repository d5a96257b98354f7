//! PSTN to agent through the running gateway, with real peers on loopback: sipp plays
//! the carrier's caller (an INVITE from `origin-a`'s `inbound_from` to a number of
//! `[[dids]]`, with the scenarios `tests/sipp/uac_queue_*.xml`), its media a UDP socket
//! of the test (`support::media`); the agents are str0m browsers over `/ws`
//! (`support::ws_client`, `support::webrtc_client`) with agent tokens, taking the calls
//! the contact center offers them (`incoming`, `accept` with the browser's offer,
//! `reject`, `hangup`; `agent_state` both ways, `docs/signaling.md`).
//!
//! Audio is checked by frequency: the queue's hold tone (440 Hz, 1 s on and 2 s off)
//! window by window at the caller's socket while it waits; then the caller talks
//! 1 kHz as PCMU (to wherever dcx's RTP comes from) and the agent's browser 600 Hz as
//! Opus, and each side counts the 20 ms windows that carry the other's tone (and the
//! caller, that no hold tone comes once the agent's voice does). Every wait ends on an
//! event (a frame, a datagram, an exit) with a limit; the one exception is the wait of
//! a few milliseconds that puts two agents' idle stamps in different milliseconds, which
//! says so.
//!
//! Ports as in `browser.rs`: one fixed block per test from `28_000` on (`transit.rs`
//! holds `25_000` to `26_499`, `browser.rs` `27_000` to `27_899`); dcx's HTTP port is
//! `127.0.0.1:0`, read from its log. sipp runs with `-m 1` and `-timeout 30s` and is
//! killed on drop. Without `sipp` on PATH the tests fail loudly: `./scripts/test`
//! installs it.

mod support;

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::{json, Value};
use support::media::{carrier_media_talking, Heard, Media, ToneMeter, WAIT};
use support::sipp::{have_sipp, scenario, Sipp, SippPorts};
use support::webrtc_client::{Browser, BrowserCommand};
use support::ws_client::{hello_frame, strs, Ws};
use support::Gateway;

/// The DID the caller dials.
const NUMBER: &str = "15550100";
/// A route for everything else, so that only `[[dids]]` keeps the call off carrier-b.
const DECK: &str = "prefix,carrier,rate\n1,carrier-b,0.01\n";
/// The gateway's `[signaling] token_key` (the demo key).
const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
/// The queue's hold tone.
const HOLD_HZ: f64 = 440.0;
/// What the caller says (PCMU at 8 kHz).
const CALLER_HZ: f64 = 1000.0;
/// What the agent's browser says (Opus at 48 kHz).
const AGENT_HZ: f64 = 600.0;
/// Windows with the right tone each way before a call counts as talking (1 s).
const TONE_WINDOWS: usize = 50;
/// The hold tone's cadence in 20 ms frames: 1 s on, 2 s off.
const HOLD_ON: usize = 50;
const HOLD_OFF: usize = 100;

#[test]
fn a_did_call_goes_to_the_longest_idle_agent_then_the_next_when_it_rings_out() {
    if !have_sipp() {
        return;
    }
    let queue = "ring_timeout_s = 2\nwrap_up_s = 1\nhold_tone_hz = 440\n";
    let dcx = Dcx::start("agents-ring-out", Ports::new(28_000), queue);
    // agent2 is ready first, so it has been idle longest. Idle stamps are unix
    // milliseconds, and a tie goes to agent1 (the first in the config): agent1 says
    // `available` only once the clock has moved on. This waits for the clock itself,
    // not for an event, and takes at most 2 ms.
    let mut agent2 = dcx.agent("agent2");
    agent2.set_state("available");
    let agent2_ready = Instant::now();
    let mut agent1 = dcx.agent("agent1");
    if let Some(left) = Duration::from_millis(2).checked_sub(agent2_ready.elapsed()) {
        std::thread::sleep(left);
    }
    agent1.set_state("available");

    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let started = Instant::now();
    let call_id = agent2.expect_incoming(&dcx.caller_uri());
    let offered2 = agent2.at;
    agent2.expect_state("busy");
    println!(
        "agent2 offered {call_id} {:?} after the INVITE",
        offered2 - started
    );

    // agent2 lets it ring: after ring_timeout_s, the offer ends and agent1 gets it.
    agent2.expect_ended(&call_id, "not_answered");
    let rang = agent2.at - offered2;
    println!("agent2's offer rang {rang:?} (ring_timeout_s = 2)");
    assert!(
        rang >= Duration::from_millis(1900) && rang < Duration::from_secs(4),
        "agent2's offer rang {rang:?}"
    );
    agent2.expect_state("available");
    assert_eq!(agent1.expect_incoming(&dcx.caller_uri()), call_id);
    println!(
        "agent1 offered {:?} after agent2's ended",
        agent1.at.saturating_duration_since(agent2.at)
    );
    agent1.expect_state("busy");

    // Meanwhile (over 2 s) the caller heard the hold tone: a whole second of it, then
    // the silence.
    caller.listen("the hold tone and its pause", |e| {
        e.runs.len() >= 2 && e.runs[1].windows >= 40
    });
    let first = caller.ear.runs[0];
    println!(
        "the caller while queued: {}; first packet {:?} after the INVITE",
        caller.ear,
        caller.ear.first_at.map(|t| t - started)
    );
    assert!(
        first.tone && (HOLD_ON - 2..=HOLD_ON).contains(&first.windows),
        "the hold tone's first burst: {}",
        caller.ear
    );

    // agent1 takes it: answered with dcx's answer, ICE and DTLS, audio both ways.
    let browser = agent1.accept(&call_id, AGENT_HZ);
    let mut at_agent = ToneMeter::opus(CALLER_HZ);
    browser.hear(&mut at_agent, TONE_WINDOWS);
    println!("caller -> dcx -> agent1: {at_agent}");
    caller.hear_agent(TONE_WINDOWS);

    agent1.hang_up(&call_id);
    // The caller got the BYE and answered it.
    caller.sipp.assert_success();
    agent1.expect_wrap_up(1);
    agent1.expect_state("available");
    println!(
        "agent1's wrap-up: {:?} (wrap_up_s = 1)",
        agent1.at - agent1.wrap_up_at
    );
    assert!(agent1.at - agent1.wrap_up_at >= Duration::from_millis(900));
    agent1.assert_quiet();
    agent2.assert_quiet();
    drop(browser);

    let record = dcx.call_record();
    assert_eq!(
        strs(&record, ["queue", "agent", "hangup", "trunk_in", "callee"]),
        ["support", "agent1", "callee", "origin-a", NUMBER],
        "{record}"
    );
    assert_eq!(record["sip_code"], 200, "{record}");
    let waited = record["queue_wait_ms"].as_i64().unwrap_or(-1);
    println!("CDR: queue_wait_ms {waited}, {record}");
    assert!(waited >= 2000, "{record}");
}

#[test]
fn a_caller_who_hangs_up_while_queued_withdraws_the_offer() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("agents-cancel", Ports::new(28_100), "ring_timeout_s = 20\n");
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let caller = dcx.caller_sipp("uac_queue_cancel.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    // The caller CANCELs 500 ms after the 183: the offer is withdrawn.
    agent1.expect_ended(&call_id, "caller_hung_up");
    agent1.expect_state("available");
    // 200 to the CANCEL, 487 to the INVITE, ACKed.
    caller.assert_success();
    agent1.assert_quiet();

    let record = dcx.call_record();
    assert_eq!(
        strs(&record, ["queue", "hangup", "trunk_in", "callee"]),
        ["support", "caller", "origin-a", NUMBER],
        "{record}"
    );
    assert_eq!(record["sip_code"], 487, "{record}");
    assert_eq!(record["agent"], Value::Null, "nobody took it: {record}");
    let waited = record["queue_wait_ms"].as_i64().unwrap_or(-1);
    println!("CDR: queue_wait_ms {waited}, {record}");
    assert!(waited >= 500, "{record}");
}

#[test]
fn an_agent_who_is_not_available_is_never_offered() {
    if !have_sipp() {
        return;
    }
    let queue = "wrap_up_s = 1\nhold_tone_hz = 440\n";
    let dcx = Dcx::start("agents-presence", Ports::new(28_200), queue);
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("away");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");

    // A whole cycle of the hold tone (1 s on, 2 s off) and the next burst: over 3 s in
    // the queue, with the only agent away.
    caller.listen("a whole hold cycle", |e| e.runs.len() >= 3);
    println!("the caller while the agent is away: {}", caller.ear);
    let [on, off] = [caller.ear.runs[0], caller.ear.runs[1]];
    assert!(
        on.tone && (HOLD_ON - 2..=HOLD_ON).contains(&on.windows),
        "{}",
        caller.ear
    );
    assert!(
        !off.tone && (HOLD_OFF - 2..=HOLD_OFF + 2).contains(&off.windows),
        "{}",
        caller.ear
    );
    agent1.assert_quiet();

    // Available: the waiting caller is offered at once.
    let before = Instant::now();
    agent1.set_state("available");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    println!(
        "offered {:?} after agent_state available",
        agent1.at - before
    );
    agent1.expect_state("busy");
    // It declines; being the only agent, it gets a new round of the same caller.
    agent1.send(&json!({"type": "reject", "call_id": call_id}));
    agent1.expect_ended(&call_id, "rejected");
    agent1.expect_state("available");
    assert_eq!(agent1.expect_incoming(&dcx.caller_uri()), call_id);
    agent1.expect_state("busy");

    let browser = agent1.accept(&call_id, AGENT_HZ);
    let mut at_agent = ToneMeter::opus(CALLER_HZ);
    browser.hear(&mut at_agent, TONE_WINDOWS / 2);
    println!("caller -> dcx -> agent1: {at_agent}");
    caller.hear_agent(TONE_WINDOWS / 2);
    agent1.hang_up(&call_id);
    caller.sipp.assert_success();
    agent1.expect_wrap_up(1);
    agent1.expect_state("available");
    agent1.assert_quiet();
    drop(browser);

    let record = dcx.call_record();
    assert_eq!(strs(&record, ["queue", "agent"]), ["support", "agent1"]);
    let waited = record["queue_wait_ms"].as_i64().unwrap_or(-1);
    println!("CDR: queue_wait_ms {waited}");
    assert!(waited >= 3000, "{record}");
}

#[test]
fn the_callers_bye_ends_the_agents_call() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("agents-caller-bye", Ports::new(28_300), "wrap_up_s = 1\n");
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    // The caller hangs up 3 s after its ACK.
    let caller = dcx.caller("uac_queue_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let browser = agent1.accept(&call_id, AGENT_HZ);
    let mut at_agent = ToneMeter::opus(CALLER_HZ);
    browser.hear(&mut at_agent, TONE_WINDOWS / 2);
    println!("caller -> dcx -> agent1: {at_agent}");

    let frame = agent1.next("ended");
    let want = json!({"type": "ended", "call_id": call_id, "reason": "remote_hangup",
        "sip_code": 200});
    assert_eq!(frame, want);
    // Its BYE got 200.
    caller.sipp.assert_success();
    agent1.expect_wrap_up(1);
    agent1.expect_state("available");
    agent1.assert_quiet();
    drop(browser);

    let record = dcx.call_record();
    assert_eq!(
        strs(&record, ["queue", "agent", "hangup", "reason"]),
        ["support", "agent1", "caller", "BYE"],
        "{record}"
    );
    assert_eq!(record["sip_code"], 200, "{record}");
}

#[test]
fn a_caller_nobody_takes_gets_480_when_the_max_wait_passes() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("agents-max-wait", Ports::new(28_400), "max_wait_s = 1\n");
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("away");
    let started = Instant::now();
    // 183, then 480 (ACKed).
    dcx.caller_sipp("uac_queue_480.xml").assert_success();
    let waited = started.elapsed();
    println!("the caller's sipp ended {waited:?} after it started (max_wait_s = 1)");
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    agent1.assert_quiet();

    let record = dcx.call_record();
    assert_eq!(
        strs(&record, ["queue", "hangup"]),
        ["support", "system"],
        "{record}"
    );
    assert_eq!(record["sip_code"], 480, "{record}");
    assert_eq!(record["agent"], Value::Null, "{record}");
    let waited = record["queue_wait_ms"].as_i64().unwrap_or(-1);
    println!("CDR: queue_wait_ms {waited}, reason {}", record["reason"]);
    assert!(waited >= 1000, "{record}");
}

// ---------------------------------------------------------------------------------------
// The gateway: ports, config, the caller and the agents.

/// Ports of one test, `base` .. `base + 100`: the caller's SIP port `+2`, its sipp's
/// RTP (`-mp`) `+10`, the caller's media socket `+40`, sipp's control port `+50`, dcx's
/// WebRTC port `+61`, its `[media] rtp_ports` `+70` to `+99`; carrier-b's SIP address
/// `+0` (nothing listens: no call may go there).
#[derive(Clone, Copy)]
struct Ports {
    base: u16,
    caller_sip: u16,
    caller_rtp: u16,
    webrtc: u16,
}

impl Ports {
    fn new(base: u16) -> Self {
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
struct Dcx {
    gw: Gateway,
    ports: Ports,
    /// dcx's SIP address.
    sip: String,
}

impl Dcx {
    /// The gateway with `queue` as extra lines of the `support` queue. OPTIONS probing
    /// is off. Returns once dcx listens for SIP.
    fn start(name: &str, ports: Ports, queue: &str) -> Self {
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

    /// `user`'s browser: connected, `hello` with its agent token, `welcome` checked.
    fn agent(&self, user: &'static str) -> Agent {
        let mut ws = Ws::connect(self.gw.http_addr(), self.ports.webrtc);
        ws.send(&hello_frame(&agent_token(user), None));
        let welcome = ws.next("welcome");
        assert_eq!(
            strs(&welcome, ["type", "user", "account", "role"]),
            ["welcome", user, "demo", "agent"],
            "{welcome}"
        );
        Agent {
            user,
            ws,
            states: VecDeque::new(),
            at: Instant::now(),
            wrap_up_at: Instant::now(),
        }
    }

    /// The caller's sipp running `name` (a `uac_queue_*.xml`), its media at the test's
    /// socket.
    fn caller_sipp(&self, name: &str) -> Sipp {
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
    fn caller(&self, name: &str) -> Caller {
        let media = carrier_media_talking(self.ports.caller_rtp, CALLER_HZ);
        let sipp = self.caller_sipp(name);
        Caller {
            sipp,
            media,
            ear: CallerEar::default(),
        }
    }

    /// The caller's From URI, as `incoming` names it.
    fn caller_uri(&self) -> String {
        format!("sip:sipp@127.0.0.1:{}", self.ports.caller_sip)
    }

    /// The CDR of the one call (an inbound call has no attempt records).
    fn call_record(&self) -> Value {
        let mut records = self.gw.cdrs(1);
        let record = records.remove(0);
        assert_eq!(strs(&record, ["leg"]), ["sip"], "{record}");
        assert_eq!(record["attempt"], 0, "{record}");
        record
    }
}

fn agent_token(user: &str) -> String {
    let claims = Claims {
        account: "demo".into(),
        user: user.into(),
        role: Role::Agent,
        exp: 4_102_444_800,
    };
    TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&claims)
}

/// An agent's browser: its WebSocket, with the `agent_state` frames kept in order apart
/// from the rest (they come between the others as dcx's state changes).
struct Agent {
    user: &'static str,
    ws: Ws,
    /// `agent_state` frames read while waiting for something else, and when.
    states: VecDeque<(Instant, Value)>,
    /// When the last frame returned came.
    at: Instant,
    /// When `wrap_up` came.
    wrap_up_at: Instant,
}

impl Agent {
    fn send(&mut self, frame: &Value) {
        self.ws.send(&frame.to_string());
    }

    /// Chooses a presence; dcx confirms it.
    fn set_state(&mut self, state: &str) {
        self.send(&json!({"type": "agent_state", "state": state}));
        self.expect_state(state);
    }

    /// The next frame that is not `agent_state`.
    fn next(&mut self, what: &str) -> Value {
        loop {
            let frame = self.ws.next(what);
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
    fn expect_state(&mut self, state: &str) {
        let frame = self.next_state(state);
        let want = json!({"type": "agent_state", "state": state});
        assert_eq!(frame, want, "{}", self.user);
    }

    /// The next `agent_state` frame is `wrap_up` with `remaining_s` left.
    fn expect_wrap_up(&mut self, remaining_s: u64) {
        let frame = self.next_state("wrap_up");
        let want = json!({"type": "agent_state", "state": "wrap_up",
            "wrap_up_remaining_s": remaining_s});
        assert_eq!(frame, want, "{}", self.user);
        self.wrap_up_at = self.at;
    }

    fn next_state(&mut self, what: &str) -> Value {
        let (at, frame) = self.states.pop_front().unwrap_or_else(|| {
            let frame = self.ws.next(what);
            let user = self.user;
            assert_eq!(frame["type"], "agent_state", "{user}: {frame} for {what}");
            (Instant::now(), frame)
        });
        self.at = at;
        frame
    }

    /// An `incoming` from `from` in queue `support`; its call id (`q-` and 16 hex).
    fn expect_incoming(&mut self, from: &str) -> String {
        let frame = self.next("incoming");
        let id = frame["call_id"].as_str().unwrap_or_default().to_owned();
        let want = json!({"type": "incoming", "call_id": id, "from": from, "queue": "support"});
        assert_eq!(frame, want, "{}", self.user);
        let hex = id.strip_prefix("q-").unwrap_or_default();
        assert!(
            hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{frame}"
        );
        id
    }

    /// `ended` for `call_id` with `reason` and nothing else.
    fn expect_ended(&mut self, call_id: &str, reason: &str) {
        let frame = self.next("ended");
        let want = json!({"type": "ended", "call_id": call_id, "reason": reason});
        assert_eq!(frame, want, "{}", self.user);
    }

    /// Accepts the offer with a fresh browser talking `hz`: `answered` with dcx's
    /// answer, on which the browser's media starts.
    fn accept(&mut self, call_id: &str, hz: f64) -> Media<BrowserCommand> {
        let (browser, offer) = Browser::talking(hz);
        self.send(&json!({"type": "accept", "call_id": call_id, "sdp": offer}));
        let answered = self.next("answered");
        let got = strs(&answered, ["type", "call_id"]);
        assert_eq!(got, ["answered", call_id], "{answered}");
        let answer = answered["sdp"]
            .as_str()
            .expect("answered carries dcx's answer");
        self.ws.start_media(browser, answer)
    }

    /// Hangs up: `ended` with `hangup` comes back (and the caller's leg's `sip_code`,
    /// which this does not check).
    fn hang_up(&mut self, call_id: &str) {
        self.send(&json!({"type": "hangup", "call_id": call_id}));
        let frame = self.next("ended");
        let got = strs(&frame, ["type", "call_id", "reason"]);
        assert_eq!(got, ["ended", call_id, "hangup"], "{}: {frame}", self.user);
    }

    /// Nothing more came: no `agent_state` left over, and no frame waiting in the socket
    /// (what dcx sent has arrived by now: this reads with a short limit, no event to
    /// wait for).
    fn assert_quiet(&mut self) {
        assert!(self.states.is_empty(), "{}: {:?}", self.user, self.states);
        let more = self.ws.next_within(Duration::from_millis(20));
        assert!(more.is_none(), "{}: unexpected {more:?}", self.user);
    }
}

/// The PSTN caller: sipp, its media socket, and what it heard.
struct Caller {
    // Dropped in this order: sipp (killed if still running), then the socket.
    sipp: Sipp,
    media: Media,
    ear: CallerEar,
}

impl Caller {
    /// Feeds what the caller's socket hears to its ear until `done`; panics after
    /// [`WAIT`].
    fn listen(&mut self, what: &str, done: impl Fn(&CallerEar) -> bool) {
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
    fn hear_agent(&mut self, windows: usize) {
        let target = self.ear.agent.right + windows;
        self.listen("the agent's voice", |e| e.agent.right >= target);
        println!("agent1 -> dcx -> caller: {}", self.ear.agent);
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
struct Run {
    tone: bool,
    windows: usize,
}

/// What the caller heard, 20 ms window by window: the hold tone's runs (on and off)
/// until the agent's voice started, then the agent's tone.
struct CallerEar {
    hold: ToneMeter,
    agent: ToneMeter,
    runs: Vec<Run>,
    /// Hold-tone windows after the agent's voice started.
    hold_after_agent: usize,
    first_at: Option<Instant>,
}

impl Default for CallerEar {
    fn default() -> Self {
        Self {
            hold: ToneMeter::pcmu(HOLD_HZ),
            agent: ToneMeter::pcmu(AGENT_HZ),
            runs: Vec::new(),
            hold_after_agent: 0,
            first_at: None,
        }
    }
}

impl CallerEar {
    fn feed(&mut self, heard: &Heard) {
        self.first_at.get_or_insert(heard.at);
        let (windows, right) = (self.hold.windows, self.hold.right);
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
        )
    }
}
