//! PSTN to agent through the running gateway, with real peers on loopback: sipp plays
//! the carrier's caller (an INVITE from `origin-a`'s `inbound_from` to a number of
//! `[[dids]]`, with the scenarios `tests/sipp/uac_queue_*.xml`), its media a UDP socket
//! of the test (`support::media`); the agents are str0m browsers over `/ws`
//! (`support::ws_client`, `support::webrtc_client`) with agent tokens, taking the calls
//! the contact center offers them (`incoming`, `accept` with the browser's offer,
//! `reject`, `hangup`, `transfer`; `agent_state` both ways, `docs/signaling.md`). The
//! gateway, the caller and the agents' sockets are `support::contact`'s.
//!
//! Audio is checked by frequency: the queue's hold tone (440 Hz, 1 s on and 2 s off)
//! window by window at the caller's socket while it waits; then the caller talks
//! 1 kHz as PCMU (to wherever dcx's RTP comes from) and the agent's browser 600 Hz as
//! Opus, and each side counts the 20 ms windows that carry the other's tone (and the
//! caller, that no hold tone comes once the agent's voice does). After a blind
//! transfer the caller hears the hold tone again, then the next browser's voice (800 Hz,
//! then 700 Hz), and none of the one before. Every wait ends on an
//! event (a frame, a datagram, an exit) with a limit; the one exception is the wait of
//! a few milliseconds that puts two agents' idle stamps in different milliseconds, which
//! says so.
//!
//! Ports as in `browser.rs`: one fixed block per test from `28_000` on, and the
//! transfer tests' from `32_000` on (`transit.rs` holds `25_000` to `26_499`,
//! `browser.rs` `27_000` to `27_899`, `api.rs` `29_000` on, `user_calls.rs` `30_000`
//! on, the demo config's RTP `31_000` to `31_999`; the kernel's ephemeral ports start at
//! `32_768`, so the last block below them is `32_600`); dcx's HTTP port is
//! `127.0.0.1:0`, read from its log. sipp runs with `-m 1` and `-timeout 30s` and is
//! killed on drop. Without `sipp` on PATH the tests fail loudly: `./scripts/test`
//! installs it.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::contact::{
    CallerEar, Dcx, Ports, AGENT_HZ, CALLER_HZ, HOLD_OFF, HOLD_ON, NUMBER, TONE_WINDOWS,
};
use support::media::{ToneMeter, VoiceMeter};
use support::sipp::have_sipp;
use support::ws_client::strs;

/// The voice of the browser that takes the caller after a transfer (Opus at 48 kHz).
const SECOND_HZ: f64 = 800.0;
/// The voice of the browser after a second transfer.
const THIRD_HZ: f64 = 700.0;

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
    // The caller waits 500 ms after the 183 by sipp's clock, whose timers may fire a
    // millisecond or two early (499 seen): the wait is the pause, not a moment less.
    assert!(waited >= 490, "{record}");
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

#[test]
fn an_agent_transfers_the_caller_to_another_agent_who_takes_it() {
    if !have_sipp() {
        return;
    }
    let queue = "wrap_up_s = 1\nhold_tone_hz = 440\n";
    let dcx = Dcx::start("agents-transfer-user", Ports::new(32_000), queue);
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut agent2 = dcx.agent("agent2");
    agent2.set_state("away");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let browser1 = agent1.accept(&call_id, AGENT_HZ);
    let mut at_agent1 = ToneMeter::opus(CALLER_HZ);
    browser1.hear(&mut at_agent1, TONE_WINDOWS);
    caller.hear_agent(TONE_WINDOWS);

    // Refused, and the call stays up: a queue that does not exist, and agent2 while it
    // is away.
    for to in ["queue:nope", "user:agent2"] {
        let transfer = json!({"type": "transfer", "call_id": call_id, "to": to});
        let e = agent1.expect_error(&transfer, "bad_state", &call_id);
        println!("transfer to {to}: {e}");
    }
    browser1.hear(&mut at_agent1, TONE_WINDOWS);
    caller.hear_agent(TONE_WINDOWS);
    println!("after the refusals: caller -> agent1 {at_agent1}");
    assert!(caller.sipp.is_running(), "the caller's call ended");

    // To agent2, available now: agent1 leaves the call, agent2 is offered the same call.
    agent2.set_state("available");
    let before = agent1.log.len();
    let transferred = Instant::now();
    agent1.transfer(&call_id, "user:agent2");
    agent1.expect_ended(&call_id, "transferred");
    agent1.expect_wrap_up(1);
    println!(
        "agent1 after the transfer, in order: {:?}",
        &agent1.log[before..]
    );
    assert_eq!(agent2.expect_incoming(&dcx.caller_uri()), call_id);
    println!(
        "agent2 offered {:?} after the transfer",
        agent2.at - transferred
    );
    agent2.expect_state("busy");
    // agent1's browser has no call any more: its hang-up does not reach the caller.
    let hangup = json!({"type": "hangup", "call_id": call_id});
    agent1.expect_error(&hangup, "unknown_call", &call_id);

    // The caller hears the hold tone (and not agent1) until agent2 answers.
    caller.ear = CallerEar::after_transfer(AGENT_HZ, SECOND_HZ);
    caller.listen("the hold tone after the transfer", |e| e.hold.right >= 1);
    println!(
        "the hold tone is back {:?} after the transfer",
        transferred.elapsed()
    );
    caller.listen("half a second of hold tone", |e| e.hold.right >= 25);
    let browser2 = agent2.accept(&call_id, SECOND_HZ);
    let mut at_agent2 = ToneMeter::opus(CALLER_HZ);
    browser2.hear(&mut at_agent2, TONE_WINDOWS);
    println!("caller -> dcx -> agent2: {at_agent2}");
    caller.hear_agent(TONE_WINDOWS);
    assert_eq!(caller.ear.stale_after_hold, 0, "{}", caller.ear);
    agent1.expect_state("available");

    agent2.hang_up(&call_id);
    // The caller got the BYE and answered it.
    caller.sipp.assert_success();
    agent2.expect_wrap_up(1);
    agent2.expect_state("available");
    agent1.assert_quiet();
    agent2.assert_quiet();
    drop((browser1, browser2));

    let record = dcx.call_record();
    println!("CDR: {record}");
    assert_eq!(
        strs(&record, ["queue", "hangup", "trunk_in", "callee"]),
        ["support", "callee", "origin-a", NUMBER],
        "{record}"
    );
    assert_eq!(record["sip_code"], 200, "{record}");
    // Its queue wait counts the wait after the transfer too: the caller heard 25
    // windows (500 ms) of hold tone before agent2 answered, counted from the first
    // window's arrival, so 400 ms is a safe floor; the first wait alone was ~10-40 ms.
    let waited = record["queue_wait_ms"].as_i64().unwrap_or_default();
    assert!(waited >= 400, "queue_wait_ms {waited}: {record}");
}

#[test]
fn a_transfer_to_the_queue_offers_the_caller_again() {
    if !have_sipp() {
        return;
    }
    let queue = "wrap_up_s = 1\nhold_tone_hz = 440\n";
    let dcx = Dcx::start("agents-transfer-queue", Ports::new(32_100), queue);
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut agent2 = dcx.agent("agent2");
    agent2.set_state("away");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let first = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);

    // Back to the queue with agent2 away: agent1 is offered it again, after its wrap-up.
    let transferred = Instant::now();
    agent1.transfer(&call_id, "queue:support");
    agent1.expect_ended(&call_id, "transferred");
    agent1.expect_wrap_up(1);
    caller.ear = CallerEar::after_transfer(AGENT_HZ, SECOND_HZ);
    caller.listen("the hold tone after the transfer", |e| e.hold.right >= 1);
    agent1.expect_state("available");
    assert_eq!(agent1.expect_incoming(&dcx.caller_uri()), call_id);
    let again = agent1.at - transferred;
    println!("agent1 offered again {again:?} after the transfer (wrap_up_s = 1)");
    assert!(again >= Duration::from_millis(900), "{again:?}");
    agent1.expect_state("busy");
    let second = agent1.accept(&call_id, SECOND_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);
    assert_eq!(caller.ear.stale_after_hold, 0, "{}", caller.ear);
    let mut at_agent1 = ToneMeter::opus(CALLER_HZ);
    second.hear(&mut at_agent1, TONE_WINDOWS / 2);
    println!("caller -> dcx -> agent1's second browser: {at_agent1}");

    // Back to the queue with agent2 available: offered to agent2 at once.
    agent2.set_state("available");
    let transferred = Instant::now();
    agent1.transfer(&call_id, "queue:support");
    agent1.expect_ended(&call_id, "transferred");
    agent1.expect_wrap_up(1);
    assert_eq!(agent2.expect_incoming(&dcx.caller_uri()), call_id);
    let at_once = agent2.at - transferred;
    println!("agent2 offered {at_once:?} after the transfer");
    assert!(at_once < Duration::from_millis(900), "{at_once:?}");
    agent2.expect_state("busy");
    caller.ear = CallerEar::after_transfer(SECOND_HZ, THIRD_HZ);
    caller.listen("the hold tone after the transfer", |e| e.hold.right >= 10);
    let third = agent2.accept(&call_id, THIRD_HZ);
    let mut at_agent2 = ToneMeter::opus(CALLER_HZ);
    third.hear(&mut at_agent2, TONE_WINDOWS / 2);
    println!("caller -> dcx -> agent2: {at_agent2}");
    caller.hear_agent(TONE_WINDOWS / 2);
    assert_eq!(caller.ear.stale_after_hold, 0, "{}", caller.ear);
    agent1.expect_state("available");

    agent2.hang_up(&call_id);
    caller.sipp.assert_success();
    agent2.expect_wrap_up(1);
    agent2.expect_state("available");
    agent1.assert_quiet();
    agent2.assert_quiet();
    drop((first, second, third));

    let record = dcx.call_record();
    println!("CDR: {record}");
    assert_eq!(
        strs(&record, ["queue", "hangup"]),
        ["support", "callee"],
        "{record}"
    );
    assert_eq!(record["sip_code"], 200, "{record}");
}

/// A DID that names a user (`[[dids]] user = ...`) rings that user's browser directly,
/// whatever its agent state, with no queue; it answers, both hear each other, and
/// its hangup ends the caller's call.
#[test]
fn a_user_did_rings_that_users_browser_directly() {
    if !have_sipp() {
        return;
    }
    // Ahead of the queue's DID for the same number: an exact number, first one wins.
    let did = format!("[[dids]]\nnumber = \"{NUMBER}\"\nuser = \"agent1\"\n");
    let dcx = Dcx::start("agents-user-did", Ports::new(32_500), &did);
    let mut agent1 = dcx.agent("agent1");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let frame = agent1.next("incoming");
    let call_id = frame["call_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        frame,
        json!({"type": "incoming", "call_id": call_id, "from": dcx.caller_uri()}),
        "no queue, and no agent_state needed"
    );
    let browser = agent1.accept(&call_id, AGENT_HZ);
    let mut at_agent = ToneMeter::opus(CALLER_HZ);
    browser.hear(&mut at_agent, TONE_WINDOWS / 2);
    caller.hear_agent(TONE_WINDOWS / 2);
    agent1.hang_up(&call_id);
    caller.sipp.assert_success();
    drop(browser);
    let record = dcx.call_record();
    assert!(record["queue"].is_null(), "{record}");
    assert_eq!(record["agent"], "agent1", "{record}");
}

/// The supervisor's voice (Opus at 48 kHz).
const SUPERVISOR_HZ: f64 = 1300.0;

#[test]
fn a_supervisor_listens_whispers_and_barges_on_an_agents_call() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start(
        "agents-supervise",
        Ports::new(28_600),
        "hold_tone_hz = 440\n",
    );
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let agent_browser = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);

    // An agent may not supervise; a supervisor may not hold a supervision.
    let (_, offer) = support::webrtc_client::Browser::talking(SUPERVISOR_HZ);
    let supervise = json!({"type": "supervise", "call_id": "s1", "target": call_id,
        "mode": "listen", "sdp": offer});
    agent1.expect_error(&supervise, "forbidden", "s1");
    let mut boss = dcx.supervisor("boss");
    let missing = json!({"type": "supervise", "call_id": "s1", "target": "q-00000000000000ff",
        "mode": "listen", "sdp": offer});
    boss.expect_error(&missing, "unknown_call", "s1");

    let supervisor = boss.supervise("s1", &call_id, "listen", SUPERVISOR_HZ);
    let hold = json!({"type": "hold", "call_id": "s1"});
    boss.expect_error(&hold, "bad_state", "s1");
    let tones = [AGENT_HZ, CALLER_HZ, SUPERVISOR_HZ];
    let mut at_supervisor = VoiceMeter::opus(&tones);
    let mut at_agent = VoiceMeter::opus(&tones);
    let mut at_caller = VoiceMeter::pcmu(&tones);
    let settle = Duration::from_millis(300);
    // 2 s per check, of 100 ms windows: a voice is "there" in at least 15 of 20 and
    // "absent" in at most 2.
    let (windows, there, absent) = (20, 15, 2);
    let check = |who: &str, mode: &str, heard: &[usize], want: [bool; 3]| {
        println!("{mode}: {who} heard agent/caller/supervisor in {heard:?} of {windows}");
        for ((&n, want), name) in heard
            .iter()
            .zip(want)
            .zip(["agent", "caller", "supervisor"])
        {
            if want {
                assert!(
                    n >= there,
                    "{mode}: {who} should hear the {name}: {heard:?}"
                );
            } else {
                assert!(
                    n <= absent,
                    "{mode}: {who} should not hear the {name}: {heard:?}"
                );
            }
        }
    };

    let heard = at_supervisor.listen(&supervisor, settle, windows);
    check("the supervisor", "listen", &heard, [true, true, false]);
    let heard = at_caller.listen(&caller.media, Duration::ZERO, windows);
    check("the caller", "listen", &heard, [true, false, false]);
    let heard = at_agent.listen(&agent_browser, Duration::ZERO, windows);
    check("the agent", "listen", &heard, [false, true, false]);

    boss.send(&json!({"type": "supervisor_mode", "call_id": "s1", "mode": "whisper"}));
    let heard = at_agent.listen(&agent_browser, settle, windows);
    check("the agent", "whisper", &heard, [false, true, true]);
    let heard = at_caller.listen(&caller.media, Duration::ZERO, windows);
    check("the caller", "whisper", &heard, [true, false, false]);

    boss.send(&json!({"type": "supervisor_mode", "call_id": "s1", "mode": "barge"}));
    let heard = at_caller.listen(&caller.media, settle, windows);
    check("the caller", "barge", &heard, [true, false, true]);
    let heard = at_agent.listen(&agent_browser, Duration::ZERO, windows);
    check("the agent", "barge", &heard, [false, true, true]);
    let heard = at_supervisor.listen(&supervisor, Duration::ZERO, windows);
    check("the supervisor", "barge", &heard, [true, true, false]);

    // The supervisor hangs up its supervision: the call goes on without it.
    boss.hang_up("s1");
    let heard = at_caller.listen(&caller.media, settle, windows);
    check(
        "the caller",
        "after the supervisor left",
        &heard,
        [true, false, false],
    );
    assert!(caller.sipp.is_running(), "the caller's call ended");

    // A second supervision ends with the call.
    let supervisor = boss.supervise("s2", &call_id, "listen", SUPERVISOR_HZ);
    let heard = at_supervisor.listen(&supervisor, settle, windows);
    check(
        "the supervisor",
        "listen again",
        &heard,
        [true, true, false],
    );
    agent1.hang_up(&call_id);
    boss.expect_ended("s2", "the supervised call ended");
    caller.sipp.assert_success();
    boss.assert_quiet();
    drop((agent_browser, supervisor));
}

/// The voice of the carrier a caller is put through to (PCMU).
const ONWARD_HZ: f64 = 700.0;

#[test]
fn an_agent_transfers_the_caller_to_a_number_and_dcx_bridges_the_new_leg() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(28_700);
    let dcx = Dcx::start(
        "agents-transfer-number",
        ports,
        "wrap_up_s = 1\nhold_tone_hz = 440\n",
    );
    // carrier-b: answers the onward leg, its media the test's socket talking 700 Hz, and
    // hangs up 1.5 s after its ACK.
    let (carrier, carrier_media) = dcx.carrier_b(ONWARD_HZ);
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let browser = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);

    let transferred = Instant::now();
    agent1.transfer(&call_id, "15550123");
    agent1.expect_ended(&call_id, "transferred");
    agent1.expect_wrap_up(1);
    drop(browser);
    // The caller's voice reaches the new carrier, and the carrier's the caller.
    let mut at_carrier = ToneMeter::pcmu(CALLER_HZ);
    carrier_media.hear(&mut at_carrier, TONE_WINDOWS / 2);
    println!(
        "caller -> dcx -> carrier-b {:?} after the transfer: {at_carrier}",
        transferred.elapsed()
    );
    caller.ear = CallerEar::after_transfer(AGENT_HZ, ONWARD_HZ);
    caller.listen("carrier-b's voice", |e| e.agent.right >= TONE_WINDOWS / 2);
    println!("carrier-b -> dcx -> caller: {}", caller.ear.agent);
    assert_eq!(caller.ear.stale_after_hold, 0, "{}", caller.ear);

    // carrier-b hangs up: dcx hangs up the caller, both get their BYE answered.
    carrier.assert_success();
    caller.sipp.assert_success();
    agent1.expect_state("available");
    agent1.assert_quiet();

    // The caller's call, and the onward leg as agent1's call to the number (its
    // attempt and its call record).
    let records = dcx.gw.cdrs(3);
    println!("CDRs: {records:?}");
    let inbound = records
        .iter()
        .find(|r| r["queue"] == "support")
        .expect("the queue call");
    assert_eq!(
        strs(inbound, ["agent", "hangup"]),
        ["agent1", "callee"],
        "{inbound}"
    );
    let reason = inbound["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("onward call to 15550123 ended"),
        "{inbound}"
    );
    let onward = records
        .iter()
        .find(|r| r["attempt"] == 0 && r["queue"] != "support")
        .expect("the onward call");
    assert_eq!(
        strs(onward, ["leg", "trunk_in", "caller", "callee", "trunk_out"]),
        ["browser", "webrtc:demo", "agent1", "15550123", "carrier-b"],
        "{onward}"
    );
}

#[test]
fn a_caller_nobody_takes_is_put_through_to_the_queues_fallback_number() {
    if !have_sipp() {
        return;
    }
    let queue = "max_wait_s = 1\nhold_tone_hz = 440\nfallback_number = \"15550123\"\n";
    let dcx = Dcx::start("agents-fallback-number", Ports::new(28_800), queue);
    let (carrier, carrier_media) = dcx.carrier_b(ONWARD_HZ);
    // No agent is available: the caller hears the hold tone for its second of max wait.
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    caller.ear = CallerEar::hearing(ONWARD_HZ);
    caller.listen("the hold tone", |e| e.hold.right >= 10);
    // Then carrier-b answers, and the caller gets its 200: voices both ways.
    let mut at_carrier = ToneMeter::pcmu(CALLER_HZ);
    carrier_media.hear(&mut at_carrier, TONE_WINDOWS / 2);
    println!("caller -> dcx -> carrier-b: {at_carrier}");
    caller.hear_agent(TONE_WINDOWS / 2);
    println!("caller's audio: {}", caller.ear);
    carrier.assert_success();
    caller.sipp.assert_success();

    let records = dcx.gw.cdrs(3);
    let inbound = records
        .iter()
        .find(|r| r["queue"] == "support")
        .expect("the queue call");
    println!("CDR: {inbound}");
    assert_eq!(strs(inbound, ["agent"]), ["fallback:15550123"], "{inbound}");
    assert_eq!(inbound["sip_code"], 200, "{inbound}");
    let onward = records
        .iter()
        .find(|r| r["attempt"] == 0 && r["queue"] != "support")
        .expect("the onward call");
    assert_eq!(
        strs(onward, ["trunk_in", "caller", "callee", "trunk_out"]),
        ["webrtc:queue:support", "fallback", "15550123", "carrier-b"],
        "{onward}"
    );
}

#[test]
fn an_agent_consults_a_colleague_and_hands_the_caller_over() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start(
        "agents-attended",
        Ports::new(28_900),
        "wrap_up_s = 1\nhold_tone_hz = 440\n",
    );
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut agent2 = dcx.agent("agent2");
    agent2.set_state("away");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let browser1 = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);

    // The caller on hold, agent1 consults agent2 on a call of their own browsers.
    agent1.send(&json!({"type": "hold", "call_id": call_id}));
    let consult = agent1.call("c2", "user:agent2");
    let incoming = agent2.next("incoming");
    assert_eq!(
        strs(&incoming, ["type", "from"]),
        ["incoming", "user:agent1"],
        "{incoming}"
    );
    let consult_id = incoming["call_id"].as_str().unwrap().to_owned();
    let browser2 = agent2.accept(&consult_id, SECOND_HZ);
    agent1.expect_answered("c2");
    drop(consult);
    let transferred = Instant::now();
    agent1.transfer(&call_id, "call:c2");
    let mut ended = [agent1.next("ended"), agent1.next("ended")];
    ended.sort_by_key(|f| f["call_id"].as_str().map(str::to_owned));
    println!("agent1: {ended:?}");
    for (frame, id) in ended.iter().zip(["c2", call_id.as_str()]) {
        let want = json!({"type": "ended", "call_id": id, "reason": "transferred"});
        assert_eq!(frame, &want);
    }
    agent1.expect_wrap_up(1);

    // The caller and agent2 talk: hold tone gone, no agent1.
    caller.ear = CallerEar::after_transfer(AGENT_HZ, SECOND_HZ);
    caller.listen("agent2's voice", |e| e.agent.right >= TONE_WINDOWS / 2);
    println!(
        "agent2 -> dcx -> caller {:?} after the transfer: {}",
        transferred.elapsed(),
        caller.ear.agent
    );
    assert_eq!(caller.ear.stale_after_hold, 0, "{}", caller.ear);
    let mut at_agent2 = ToneMeter::opus(CALLER_HZ);
    browser2.hear(&mut at_agent2, TONE_WINDOWS / 2);
    println!("caller -> dcx -> agent2: {at_agent2}");
    agent2.expect_state("busy");

    // agent2 has the caller under its id of the consult call, and hangs up.
    agent2.hang_up(&consult_id);
    caller.sipp.assert_success();
    agent2.expect_wrap_up(1);
    agent1.expect_state("available");
    drop((browser1, browser2));
    let records = dcx.gw.cdrs(2);
    let inbound = records
        .iter()
        .find(|r| r["queue"] == "support")
        .expect("the queue call");
    assert_eq!(strs(inbound, ["agent"]), ["agent2"], "{inbound}");
}
