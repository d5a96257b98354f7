//! Trunks, DIDs, queues and agents changed through the REST API of the running gateway
//! take effect without a restart, and the config file on disk says so afterwards: a
//! queue and an agent created and a DID pointed at the new queue, then a real PSTN call
//! (sipp from `origin-a`) to that DID is offered to the new agent's browser (a str0m
//! peer over `/ws`), who answers and hears the caller; the file still loads with
//! `dcx check-config` and kept the comments it had. And a trunk created through the API
//! carries a browser's call (sipp answering as the new carrier) once an uploaded deck
//! routes to it. And a registering trunk deleted through the API removes its binding at
//! the registrar (sipp) with `Expires: 0`.
//!
//! Ports: `29_200`, `29_300` and `29_800` (the block of `api.rs`, which takes `29_000`
//! and `29_100`).

mod support;

use serde_json::json;
use support::contact::{token, Dcx, Ports, AGENT_HZ, CALLER_HZ, TONE_WINDOWS};
use support::media::ToneMeter;
use support::request;
use support::sipp::{have_sipp, scenario, Sipp, SippPorts};
use support::ws_client::strs;

/// `method` on `path` of `dcx`'s REST API with an admin token.
fn as_admin(dcx: &Dcx, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let admin = token("ops", dcx_signaling::Role::Admin);
    request(dcx.gw.http_addr(), method, path, Some(&admin), body)
}

#[test]
fn a_queue_agent_and_did_made_through_the_api_take_a_pstn_call_without_a_restart() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("prov-queue", Ports::new(29_200), "wrap_up_s = 1\n");
    let config = dcx.gw.dir.join("dcx.toml");
    let before = std::fs::read_to_string(&config).unwrap();
    let api = |method: &str, path: &str, body: serde_json::Value| {
        as_admin(&dcx, method, path, &body.to_string())
    };
    let queue = json!({"name": "sales", "skills": {"sales": 1}, "ring_timeout_s": 10,
                       "wrap_up_s": 1, "hold_tone_hz": 440});
    assert_eq!(api("POST", "/api/v1/queues", queue).0, 201);
    let agent = json!({"user": "agent3", "skills": {"sales": 5}});
    assert_eq!(api("POST", "/api/v1/agents", agent).0, 201);
    let (status, did) = api("PUT", "/api/v1/dids/15550100", json!({"queue": "sales"}));
    assert_eq!(
        (status, did.clone()),
        (200, json!({"number": "15550100", "queue": "sales"}))
    );

    // agent1 (support only) is available too: the DID's calls are no longer its queue's.
    let mut agent1 = dcx.agent("agent1");
    agent1.set_state("available");
    let mut agent3 = dcx.agent("agent3");
    agent3.set_state("available");
    let (_, queues) = api("GET", "/api/v1/queues", json!(null));
    let sales = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "sales")
        .cloned()
        .unwrap_or_else(|| panic!("no queue sales in {queues}"));
    assert_eq!(sales["agents_available"], json!(["agent3"]), "{sales}");

    let caller = dcx.caller("uac_queue_bye.xml");
    let call_id = agent3.expect_incoming_in(&dcx.caller_uri(), "sales");
    agent3.expect_state("busy");
    let browser = agent3.accept(&call_id, AGENT_HZ);
    let mut at_agent = ToneMeter::opus(CALLER_HZ);
    browser.hear(&mut at_agent, TONE_WINDOWS / 2);
    println!("caller -> dcx -> agent3: {at_agent}");
    let ended = agent3.next("ended");
    assert_eq!(strs(&ended, ["reason"]), ["remote_hangup"], "{ended}");
    caller.sipp.assert_success();
    agent1.assert_quiet();
    drop(browser);
    let record = dcx.call_record();
    assert_eq!(
        strs(&record, ["queue", "agent", "hangup"]),
        ["sales", "agent3", "caller"],
        "{record}"
    );

    // On disk: the new entries, everything else as it was, and a config that loads.
    let after = std::fs::read_to_string(&config).unwrap();
    for line in [
        "name = \"sales\"",
        "user = \"agent3\"",
        "skills = { sales = 5 }",
    ] {
        assert!(after.contains(line), "{line:?} not in\n{after}");
    }
    assert!(
        after.contains("[[dids]]\nnumber = \"15550100\"\nqueue = \"sales\"\n"),
        "{after}"
    );
    for line in before.lines().filter(|l| !l.starts_with("queue = ")) {
        assert!(after.contains(line), "{line:?} lost from\n{after}");
    }
    let check = support::dcx()
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// What the carrier created through the API says (PCMU).
const CARRIER_HZ: f64 = 1200.0;

#[test]
fn a_trunk_made_through_the_api_carries_a_browser_call_once_the_deck_names_it() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(29_300);
    let dcx = Dcx::start("prov-trunk", ports, "");
    let base = ports.base;
    // The new carrier: sipp answering with its media at the test's socket (`+30`), hanging
    // up 1.5 s after its ACK.
    let (carrier, carrier_media) = dcx.carrier("carrier-n", base + 5, CARRIER_HZ);

    let trunk = json!({"name": "carrier-n", "address": format!("127.0.0.1:{}", base + 5),
                       "options_interval_s": 0});
    let (status, body) = as_admin(&dcx, "POST", "/api/v1/trunks", &trunk.to_string());
    assert_eq!(status, 201, "{body}");
    let deck = "prefix,carrier,rate\n1555,carrier-n,0.001\n1,carrier-b,0.01\n";
    let (status, body) = as_admin(&dcx, "PUT", "/api/v1/deck", deck);
    assert_eq!(status, 200, "{body}");

    let mut agent1 = dcx.agent("agent1");
    let browser = agent1.call("c1", "+15551230000");
    agent1.expect_answered("c1");
    let mut at_browser = ToneMeter::opus(CARRIER_HZ);
    browser.hear(&mut at_browser, TONE_WINDOWS / 2);
    println!("carrier-n -> dcx -> browser: {at_browser}");
    // `call`'s browser talks 1 kHz.
    let mut at_carrier = ToneMeter::pcmu(1000.0);
    carrier_media.hear(&mut at_carrier, TONE_WINDOWS / 2);
    println!("browser -> dcx -> carrier-n: {at_carrier}");
    let ended = agent1.next("ended");
    assert_eq!(strs(&ended, ["reason"]), ["remote_hangup"], "{ended}");
    carrier.assert_success();
    let calls = &dcx.gw.health()["sip"]["calls"];
    assert_eq!(
        (calls["started"].as_u64(), calls["answered"].as_u64()),
        (Some(1), Some(1)),
        "{calls}"
    );
    let records = dcx.gw.cdrs(2);
    let call = records
        .iter()
        .find(|r| r["leg"] == "browser")
        .unwrap_or_else(|| panic!("no browser leg in {records:?}"));
    assert_eq!(strs(call, ["trunk_out"]), ["carrier-n"], "{call}");
}

#[test]
fn a_registering_trunk_deleted_through_the_api_removes_its_binding() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(29_800);
    let dcx = Dcx::start("prov-unregister", ports, "");
    let base = ports.base;
    // The registrar: grants the first REGISTER an hour, then wants `Expires: 0` on the
    // same Call-ID.
    let at = SippPorts {
        sip: base + 5,
        media: base + 20,
        control: base + 51,
    };
    let registrar = Sipp::callee(
        &dcx.gw.dir,
        "carrier-r",
        &["-sf", &scenario("uas_register_unregister.xml")],
        at,
    );
    let trunk = json!({"name": "carrier-r", "address": format!("127.0.0.1:{}", base + 5),
                       "options_interval_s": 0, "register": true,
                       "username": "gw", "password": "s3cret"});
    let (status, body) = as_admin(&dcx, "POST", "/api/v1/trunks", &trunk.to_string());
    assert_eq!(status, 201, "{body}");
    // The registrar's 200, as dcx logs it, before the trunk goes.
    let line = dcx.gw.wait_for("registered");
    assert!(line.contains("carrier-r"), "{line}");
    let (status, body) = as_admin(&dcx, "DELETE", "/api/v1/trunks/carrier-r", "");
    assert!(status == 200 || status == 204, "{status} {body}");
    // The registrar saw the un-REGISTER (Expires: 0, same Call-ID) and answered it.
    registrar.assert_success();
    let health = dcx.gw.health();
    assert!(
        health["registrations"].get("carrier-r").is_none(),
        "a removed trunk is not shown: {}",
        health["registrations"]
    );
}
