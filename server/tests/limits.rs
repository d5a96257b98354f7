//! Account fraud limits (`[[accounts]]`) on browser calls to the PSTN, through the
//! running gateway: a destination outside `allowed_prefixes` and a call beyond
//! `max_concurrent_calls` are refused with 403 and a reason before any SIP leg, while
//! the account's allowed call reaches its carrier (sipp). Ports from `28_500` on (its own block: every test binary has its own range).

mod support;

use dcx_signaling::{Claims, Role, TokenKey};
use support::sipp::{have_sipp, scenario, Sipp, SippPorts};
use support::webrtc_client::Browser;
use support::ws_client::{call_frame, hello_frame, Ws};
use support::Gateway;

const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
const DECK: &str = "prefix,carrier,rate\n1555,carrier-b,0.01\n44,carrier-b,0.02\n";

#[test]
fn an_account_may_call_only_its_prefixes_and_only_so_many_at_once() {
    if !have_sipp() {
        return;
    }
    let base = 28_500;
    let webrtc = base + 61;
    let config = format!(
        "[server]\nhttp_listen = \"127.0.0.1:0\"\n\
         [sip]\nlisten = \"127.0.0.1:0\"\n\
         [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = {webrtc}\n\
         [signaling]\ntoken_key = \"{TOKEN_KEY}\"\n\
         [routing]\ndeck = \"deck.csv\"\n\
         [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{base}\"\noptions_interval_s = 0\n\
         [[accounts]]\nname = \"demo\"\nallowed_prefixes = [\"1555\"]\nmax_concurrent_calls = 1\n",
        base + 70,
        base + 99,
    );
    let gw = Gateway::start("limits", &config, &[("deck.csv", DECK)]);
    gw.wait_for("sip listening");
    let rtp = (base + 40).to_string();
    let args = [
        "-sf",
        &scenario("uas_media_at.xml"),
        "-key",
        "rtp_port",
        &rtp,
    ];
    let at = SippPorts {
        sip: base,
        media: base + 10,
        control: base + 50,
    };
    let carrier = Sipp::callee(&gw.dir, "carrier-b", &args, at);

    let token = TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&Claims {
        account: "demo".into(),
        user: "alice".into(),
        role: Role::Softphone,
        exp: 4_102_444_800,
    });
    let mut ws = Ws::connect(gw.http_addr(), webrtc);
    ws.send(&hello_frame(&token, None));
    ws.next("welcome");

    // Allowed: it reaches the carrier and is answered.
    let media = ws.call("c1", "15551234567");
    ws.until_answered("c1");

    // A second call while the first is up: max_concurrent_calls.
    let (_, offer) = Browser::new();
    ws.send(&call_frame("c2", "15551234568", &offer));
    let ended = ws.next("ended");
    assert_eq!(ended["call_id"], "c2", "{ended}");
    assert_eq!(ended["sip_code"], 403, "{ended}");
    assert_eq!(ended["reason"], "limit_exceeded", "{ended}");
    let detail = ended["detail"].as_str().unwrap();
    assert!(detail.contains("max_concurrent_calls is 1"), "{detail}");

    // A destination the deck routes but the account may not call.
    ws.send(&call_frame("c3", "442071234567", &offer));
    let ended = ws.next("ended");
    assert_eq!(
        (ended["call_id"].as_str(), ended["sip_code"].as_u64()),
        (Some("c3"), Some(403))
    );
    assert_eq!(ended["reason"], "destination_blocked", "{ended}");
    assert!(
        ended["detail"]
            .as_str()
            .unwrap()
            .contains("allowed_prefixes"),
        "{ended}"
    );

    ws.send(r#"{"type":"hangup","call_id":"c1"}"#);
    ws.expect_ended("c1", "hangup");
    carrier.assert_success();
    drop(media);
    // Only the allowed call made an attempt; the refused ones have a record each.
    let cdrs = gw.cdrs(4);
    let attempts = cdrs.iter().filter(|c| c["attempt"] == 1).count();
    assert_eq!(attempts, 1, "{cdrs:?}");
    let refused = cdrs
        .iter()
        .filter(|c| c["attempt"] == 0 && c["sip_code"] == 403)
        .count();
    assert_eq!(refused, 2, "{cdrs:?}");
}
