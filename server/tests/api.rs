//! The REST API of the running gateway (`docs/api.md`), over plain HTTP/1.1 on a
//! `TcpStream`: readiness, the admin token, a deck upload refused and one swapped in
//! (seen by `/healthz` like any reload, and undone by SIGHUP, which reads the deck file
//! again), and the session hub's calls, agents and queues.
//!
//! Ports: one block of 100 per test from `29_000` on (dcx's WebRTC port and `[media]
//! rtp_ports`; the tests run in parallel); HTTP and SIP are `127.0.0.1:0`, read from
//! the log. Nothing here needs sipp.

mod support;

use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::json;
use support::{request, Gateway};

const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
const DECK: &str = "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n";

fn token(role: Role) -> String {
    let claims = Claims {
        account: "demo".into(),
        user: "ops".into(),
        role,
        exp: 4_102_444_800,
    };
    TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&claims)
}

/// The gateway with ports from `base`, two carriers, one agent and one queue.
fn start(name: &str, base: u16) -> Gateway {
    let config = format!(
        "[server]\nhttp_listen = \"127.0.0.1:0\"\n\
         [sip]\nlisten = \"127.0.0.1:0\"\n\
         [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = {}\n\
         [signaling]\ntoken_key = \"{TOKEN_KEY}\"\n\
         [routing]\ndeck = \"deck.csv\"\n\
         [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n\
         [[trunks]]\nname = \"carrier-c\"\naddress = \"127.0.0.1:{}\"\noptions_interval_s = 0\n\
         [[agents]]\nuser = \"agent1\"\nskills = {{ support = 5 }}\n\
         [[queues]]\nname = \"support\"\nskills = {{ support = 1 }}\n\
         [[dids]]\nnumber = \"15550100\"\nqueue = \"support\"\n",
        base + 70,
        base + 99,
        base + 1,
        base + 10,
        base + 11,
    );
    let gw = Gateway::start(name, &config, &[("deck.csv", DECK)]);
    gw.wait_for("sip listening");
    gw
}

#[test]
fn a_deck_uploaded_through_the_api_is_in_effect_until_sighup_reads_the_file_again() {
    let gw = start("api-deck", 29_000);
    let addr = gw.http_addr().to_owned();
    let admin = token(Role::Admin);
    let call =
        |method: &str, path: &str, body: &str| request(&addr, method, path, Some(&admin), body);

    let (status, ready) = request(&addr, "GET", "/readyz", None, "");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        ready,
        json!({"status": "ready", "listening": true, "deck_rows": 2})
    );

    let (status, body) = request(&addr, "GET", "/api/v1/trunks", None, "");
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("unauthorized")),
        "{body}"
    );
    let softphone = token(Role::Softphone);
    let (status, body) = request(&addr, "PUT", "/api/v1/deck", Some(&softphone), DECK);
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );

    let bad = "prefix,carrier,rate\n1555,carrier-b,0.01\n44,carrier-b,cheap\n";
    let (status, body) = call("PUT", "/api/v1/deck", bad);
    assert_eq!(status, 422, "{body}");
    let problem = &body["error"]["problems"][0];
    assert_eq!(
        (&problem["line"], &problem["field"]),
        (&json!(3), &json!("rate")),
        "{body}"
    );
    let routing = &gw.health()["routing"];
    assert_eq!(
        (&routing["rows"], &routing["failed_reloads"]),
        (&json!(2), &json!(1))
    );

    let good = "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n44,carrier-c,0.03\n";
    let (status, body) = call("PUT", "/api/v1/deck", good);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], 3);
    assert_eq!(body["carriers"], json!(["carrier-b", "carrier-c"]));
    let routing = &gw.health()["routing"];
    assert_eq!(routing["rows"], 3, "{routing}");
    assert_eq!(routing["deck"], "<uploaded by PUT /api/v1/deck>");

    // The upload is not written anywhere: SIGHUP reloads the deck file.
    gw.wait_for("rate deck uploaded through the API");
    gw.signal("-HUP");
    gw.wait_for("rate deck reloaded");
    assert_eq!(call("GET", "/api/v1/deck", "").1["rows"], 2);
}

#[test]
fn calls_agents_queues_and_cdrs_come_from_the_running_gateway() {
    let gw = start("api-state", 29_100);
    let addr = gw.http_addr().to_owned();
    let admin = token(Role::Admin);
    let call = |method: &str, path: &str| request(&addr, method, path, Some(&admin), "");

    assert_eq!(call("GET", "/api/v1/calls"), (200, json!([])));
    let (status, body) = call("DELETE", "/api/v1/calls/c1");
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (status, agents) = call("GET", "/api/v1/agents");
    assert_eq!(status, 200);
    assert_eq!(agents[0]["user"], "agent1");
    assert_eq!(agents[0]["state"], "offline");
    let (status, queues) = call("GET", "/api/v1/queues");
    assert_eq!(status, 200);
    assert_eq!(queues[0]["name"], "support");
    assert_eq!(queues[0]["agents_eligible"], json!(["agent1"]));
    assert_eq!(queues[0]["waiting"], json!([]));
    let (status, trunks) = call("GET", "/api/v1/trunks");
    assert_eq!(status, 200);
    assert_eq!(trunks[1]["name"], "carrier-c");
    assert_eq!(
        call("GET", "/api/v1/cdrs?from=2026-01-01T00:00:00Z"),
        (200, json!([]))
    );
    let (status, body) = call("GET", "/api/v1/cdrs?from=yesterday");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
}
