//! Blind transfer by REFER (RFC 3515, 5589), through the running gateway with real
//! peers on loopback: a PSTN caller (sipp from `origin-a`, whose trunk is given
//! `refer = true` through the REST API) waits in a queue, an agent's browser (a str0m
//! peer over `/ws`) takes the call and transfers it to a number. The carrier that
//! takes the REFER (`tests/sipp/uac_queue_refer.xml`: 202, NOTIFY 100, NOTIFY 200)
//! carries the call itself and dcx hangs up its side with no leg of its own; the one
//! that declines it (`uac_queue_refer_declined.xml`: 603) is put through by dcx,
//! which bridges a new leg to carrier-b as without REFER.
//!
//! And a transfer to a number that cannot be reached (carrier-b answers 503) takes the
//! caller back to its queue, where the next agent takes it; and a softphone's own PSTN
//! call transferred to `queue:support` waits there and is taken by an agent.
//!
//! Ports: `29_400` on (after `provisioning.rs`'s `29_200` and `29_300`).

mod support;

use serde_json::json;
use support::contact::{token, CallerEar, Dcx, Ports, AGENT_HZ, CALLER_HZ, TONE_WINDOWS};
use support::media::ToneMeter;
use support::request;
use support::sipp::{have_sipp, scenario, Sipp, SippPorts};
use support::ws_client::strs;

/// The number the agent transfers to.
const NUMBER: &str = "16665550000";
/// carrier-b's voice, when dcx bridges.
const ONWARD_HZ: f64 = 700.0;

/// The gateway, with `origin-a` taking transfers by REFER (set through the API).
fn start(name: &str, base: u16) -> Dcx {
    let dcx = Dcx::start(
        name,
        Ports::new(base),
        "wrap_up_s = 1\nhold_tone_hz = 440\n",
    );
    let origin = json!({"inbound_from": ["127.0.0.1/32"], "refer": true});
    let admin = token("ops", dcx_signaling::Role::Admin);
    let (status, body) = request(
        dcx.gw.http_addr(),
        "PUT",
        "/api/v1/trunks/origin-a",
        Some(&admin),
        &origin.to_string(),
    );
    assert_eq!(
        (status, body["refer"].clone()),
        (200, json!(true)),
        "{body}"
    );
    dcx
}

#[test]
fn a_carrier_that_takes_the_refer_carries_the_transfer_and_dcx_leaves() {
    if !have_sipp() {
        return;
    }
    let dcx = start("refer-accepted", 29_400);
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut caller = dcx.caller("uac_queue_refer.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    agent1.expect_state("busy");
    let browser = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);

    agent1.transfer(&call_id, NUMBER);
    agent1.expect_ended(&call_id, "transferred");
    drop(browser);
    // The scenario checked the REFER's Refer-To and Referred-By, accepted it, said 200
    // in its NOTIFYs, and got dcx's BYE.
    caller.sipp.assert_success();
    agent1.expect_wrap_up(1);
    agent1.expect_state("available");
    // One record: the caller's call, ended by the transfer; dcx dialled nothing.
    let record = dcx.call_record();
    assert_eq!(
        strs(&record, ["queue", "agent", "reason"]),
        ["support", "agent1", "transferred by REFER to 16665550000"],
        "{record}"
    );
}

#[test]
fn a_carrier_that_declines_the_refer_is_put_through_by_dcx() {
    if !have_sipp() {
        return;
    }
    let dcx = start("refer-declined", 29_500);
    let (carrier, carrier_media) = dcx.carrier_b(ONWARD_HZ);
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut caller = dcx.caller("uac_queue_refer_declined.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    let browser = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);

    agent1.transfer(&call_id, NUMBER);
    agent1.expect_ended(&call_id, "transferred");
    drop(browser);
    // Declined (603): dcx dials carrier-b and bridges it to the caller.
    let mut at_carrier = ToneMeter::pcmu(CALLER_HZ);
    carrier_media.hear(&mut at_carrier, TONE_WINDOWS / 2);
    println!("caller -> dcx -> carrier-b: {at_carrier}");
    caller.ear = CallerEar::after_transfer(AGENT_HZ, ONWARD_HZ);
    caller.listen("carrier-b's voice", |e| e.agent.right >= TONE_WINDOWS / 2);
    println!("carrier-b -> dcx -> caller: {}", caller.ear.agent);
    carrier.assert_success();
    caller.sipp.assert_success();
    let records = dcx.gw.cdrs(3);
    let onward = records
        .iter()
        .find(|r| r["leg"] == "browser" && r["attempt"] == 0)
        .unwrap_or_else(|| panic!("no onward leg in {records:?}"));
    assert_eq!(
        strs(onward, ["callee", "trunk_out"]),
        [NUMBER, "carrier-b"],
        "{onward}"
    );
}

/// What agent2's browser says.
const AGENT2_HZ: f64 = 800.0;

#[test]
fn a_caller_put_through_to_a_number_that_fails_goes_back_to_its_queue() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(29_600);
    let dcx = Dcx::start(
        "transfer-recall",
        ports,
        "wrap_up_s = 5\nhold_tone_hz = 440\n",
    );
    // carrier-b refuses the number: 503.
    let at = SippPorts {
        sip: ports.base,
        media: ports.base + 20,
        control: ports.base + 51,
    };
    let refusing = Sipp::callee(
        &dcx.gw.dir,
        "carrier-b",
        &["-sf", &scenario("uas_503.xml")],
        at,
    );
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut caller = dcx.caller("uac_queue_wait_bye.xml");
    let call_id = agent1.expect_incoming(&dcx.caller_uri());
    let browser = agent1.accept(&call_id, AGENT_HZ);
    caller.hear_agent(TONE_WINDOWS / 2);
    // agent2 comes available while agent1 talks.
    let mut agent2 = dcx.agent("agent2");
    agent2.set_state("available");

    agent1.transfer(&call_id, NUMBER);
    agent1.expect_ended(&call_id, "transferred");
    drop(browser);
    refusing.assert_success();
    // Back in the queue: agent2 (agent1 wraps up) is offered the same caller.
    let again = agent2.expect_incoming(&dcx.caller_uri());
    assert_eq!(again, call_id, "the same call, offered again");
    let browser2 = agent2.accept(&again, AGENT2_HZ);
    caller.ear = CallerEar::after_transfer(AGENT_HZ, AGENT2_HZ);
    caller.listen("agent2's voice", |e| e.agent.right >= TONE_WINDOWS / 2);
    println!("agent2 -> dcx -> caller: {}", caller.ear.agent);
    let mut at_agent2 = ToneMeter::opus(CALLER_HZ);
    browser2.hear(&mut at_agent2, TONE_WINDOWS / 2);
    agent2.hang_up(&again);
    caller.sipp.assert_success();
    let records = dcx.gw.cdrs(3);
    let call = records
        .iter()
        .find(|r| r["leg"] == "sip" && r["attempt"] == 0)
        .unwrap_or_else(|| panic!("no caller record in {records:?}"));
    assert_eq!(
        strs(call, ["queue", "agent"]),
        ["support", "agent2"],
        "{call}"
    );
}

/// carrier-b's voice on a softphone's call.
const CARRIER_HZ: f64 = 900.0;

#[test]
fn a_softphones_pstn_call_transferred_to_a_queue_is_taken_by_an_agent() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(29_700);
    let dcx = Dcx::start(
        "transfer-to-queue",
        ports,
        "wrap_up_s = 1\nhold_tone_hz = 440\n",
    );
    let (carrier, carrier_media) =
        dcx.carrier_playing("carrier-b", ports.base, CARRIER_HZ, "uas_media_at.xml");
    let mut alice = dcx.softphone("alice");
    let _media = alice.call("c1", "15551230000");
    alice.expect_answered("c1");
    // A queue that does not exist: refused, alice keeps the call.
    alice.transfer("c1", "queue:sales");
    let e = alice.next("error");
    assert_eq!(strs(&e, ["code", "call_id"]), ["no_route", "c1"], "{e}");
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    alice.transfer("c1", "queue:support");
    alice.expect_ended("c1", "transferred");
    // Offered like a DID caller, from the number alice dialled.
    let call_id = agent1.expect_incoming_in("15551230000", "support");
    agent1.expect_state("busy");
    let browser = agent1.accept(&call_id, AGENT_HZ);
    let mut at_agent = ToneMeter::opus(CARRIER_HZ);
    browser.hear(&mut at_agent, TONE_WINDOWS / 2);
    let mut at_carrier = ToneMeter::pcmu(AGENT_HZ);
    carrier_media.hear(&mut at_carrier, TONE_WINDOWS / 2);
    println!("carrier-b -> dcx -> agent1: {at_agent}; agent1 -> dcx -> carrier-b: {at_carrier}");
    agent1.hang_up(&call_id);
    carrier.assert_success();
    // The call's end reaches the contact center: agent1 wraps up, then is available.
    agent1.expect_wrap_up(1);
    agent1.expect_state("available");
}
