//! Browser-to-browser calls through the running gateway: two str0m browsers on `/ws`,
//! one calling `user:bob`, the other accepting; audio forwarded by dcx's SFU both ways
//! without transcoding, checked by frequency (Opus in, Opus out), and the CDR written.
//! A supervisor joins such a call (the SFU room's supervisor role) and listens,
//! whispers to the browser it targeted, and barges. A browser hands its call to a third
//! (`transfer` to `user:carol`), who takes it. Ports from `30_000` on.

mod support;

use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::{json, Value};
use std::time::Duration;
use support::media::{ToneMeter, VoiceMeter};
use support::webrtc_client::Browser;
use support::ws_client::{call_frame, candidate_port, hello_frame, strs, Ws};
use support::Gateway;

const TOKEN_KEY: &str = "dcx-demo-signing-key-change-me!!";
const DECK: &str = "prefix,carrier,rate\n1555,carrier-b,0.01\n";

fn token_as(user: &str, role: Role) -> String {
    TokenKey::new(TOKEN_KEY.as_bytes()).unwrap().sign(&Claims {
        account: "demo".into(),
        user: user.into(),
        role,
        exp: 4_102_444_800,
    })
}

struct Dcx {
    gw: Gateway,
    webrtc: u16,
}

impl Dcx {
    fn start(name: &str, base: u16) -> Self {
        let webrtc = base + 61;
        let config = format!(
            "[server]\nhttp_listen = \"127.0.0.1:0\"\n\
             [sip]\nlisten = \"127.0.0.1:0\"\n\
             [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = {webrtc}\nwebrtc_shards = 2\n\
             [signaling]\ntoken_key = \"{TOKEN_KEY}\"\n\
             [routing]\ndeck = \"deck.csv\"\n\
             [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{base}\"\noptions_interval_s = 0\n",
            base + 70,
            base + 99,
        );
        let gw = Gateway::start(name, &config, &[("deck.csv", DECK)]);
        gw.wait_for("webrtc listening");
        Self { gw, webrtc }
    }

    fn login(&self, user: &str) -> Ws {
        self.login_as(user, Role::Softphone)
    }

    fn login_as(&self, user: &str, role: Role) -> Ws {
        // Two media shards: a call's peers must share one.
        let mut ws = Ws::connect_to_shards(self.gw.http_addr(), self.webrtc..=self.webrtc + 1);
        ws.send(&hello_frame(&token_as(user, role), None));
        let welcome = ws.next("welcome");
        assert_eq!(welcome["user"], user, "{welcome}");
        ws
    }
}

/// The next frame, which must be of `kind` for `call_id`.
fn expect(ws: &mut Ws, kind: &str, call_id: &str) -> Value {
    let frame = ws.next(kind);
    assert_eq!(
        strs(&frame, ["type", "call_id"]),
        [kind, call_id],
        "{frame}"
    );
    frame
}

#[test]
fn a_browser_calls_another_by_name_and_they_hear_each_other() {
    let dcx = Dcx::start("user-call", 30_000);
    let mut alice = dcx.login("alice");
    let mut bob = dcx.login("bob");

    let (alice_browser, offer) = Browser::talking(1000.0);
    alice.send(&call_frame("a1", "user:bob", &offer));
    let trying = expect(&mut alice, "trying", "a1");
    let alice_media = alice.start_media(alice_browser, trying["sdp"].as_str().unwrap());

    let incoming = bob.next("incoming");
    assert_eq!(incoming["type"], "incoming", "{incoming}");
    assert_eq!(incoming["from"], "user:alice", "{incoming}");
    assert!(incoming.get("queue").is_none(), "{incoming}");
    let bob_call = incoming["call_id"].as_str().unwrap().to_owned();
    let ringing = expect(&mut alice, "ringing", "a1");
    assert_eq!(ringing["early_media"], false);

    let (bob_browser, bob_offer) = Browser::talking(600.0);
    bob.send(&json!({"type": "accept", "call_id": bob_call, "sdp": bob_offer}).to_string());
    let answered = expect(&mut bob, "answered", &bob_call);
    let bob_media = bob.start_media(bob_browser, answered["sdp"].as_str().unwrap());
    // Bob's peer is on Alice's shard: the room forwards between them in one loop.
    assert_eq!(
        candidate_port(answered["sdp"].as_str().unwrap()),
        candidate_port(trying["sdp"].as_str().unwrap())
    );
    let answered = expect(&mut alice, "answered", "a1");
    assert!(answered.get("sdp").is_none(), "{answered}");

    // Each hears the other's tone: forwarded Opus, decoded by the receiving browser.
    let mut at_alice = ToneMeter::opus(600.0);
    alice_media.hear(&mut at_alice, 50);
    let mut at_bob = ToneMeter::opus(1000.0);
    bob_media.hear(&mut at_bob, 50);

    bob.send(&json!({"type": "hangup", "call_id": bob_call}).to_string());
    bob.expect_ended(&bob_call, "hangup");
    alice.expect_ended("a1", "remote_hangup");

    let cdrs = dcx.gw.cdrs(1);
    let call = &cdrs[0];
    assert_eq!(call["leg"], "browser", "{call}");
    assert_eq!(call["caller"], "alice", "{call}");
    assert_eq!(call["callee"], "user:bob", "{call}");
    assert_eq!(call["hangup"], "callee", "{call}");
    assert!(call["answer_ms"].is_i64(), "{call}");
    drop((alice_media, bob_media));
}

#[test]
fn a_call_to_a_user_who_is_not_connected_or_rejects_ends_cleanly() {
    let dcx = Dcx::start("user-call-refused", 30_100);
    let mut alice = dcx.login("alice");
    // Nobody named carol is connected: refused before any media is set up.
    let (_, offer) = Browser::new();
    let refused = alice.expect_error(&call_frame("a1", "user:carol", &offer), "no_route");
    assert_eq!(refused["call_id"], "a1", "{refused}");

    let mut bob = dcx.login("bob");
    alice.send(&call_frame("a2", "user:bob", &offer));
    expect(&mut alice, "trying", "a2");
    let incoming = bob.next("incoming");
    let bob_call = incoming["call_id"].as_str().unwrap().to_owned();
    bob.send(&json!({"type": "reject", "call_id": bob_call}).to_string());
    expect(&mut alice, "ringing", "a2");
    alice.expect_ended("a2", "rejected");
    bob.expect_ended(&bob_call, "rejected");
    // Both sockets live on.
    alice.send(r#"{"type":"ping","seq":3}"#);
    assert_eq!(alice.next("pong"), json!({"type": "pong", "seq": 3}));
}

#[test]
fn a_supervisor_listens_whispers_to_one_browser_and_barges_on_a_browser_call() {
    let dcx = Dcx::start("user-call-supervised", 30_200);
    let mut alice = dcx.login("alice");
    let mut bob = dcx.login("bob");
    let mut boss = dcx.login_as("boss", Role::Supervisor);
    let (alice_hz, bob_hz, boss_hz) = (1000.0, 600.0, 1300.0);
    let (alice_browser, offer) = Browser::talking(alice_hz);
    alice.send(&call_frame("a1", "user:bob", &offer));
    let trying = expect(&mut alice, "trying", "a1");
    let alice_media = alice.start_media(alice_browser, trying["sdp"].as_str().unwrap());
    let incoming = bob.next("incoming");
    let bob_call = incoming["call_id"].as_str().unwrap().to_owned();
    expect(&mut alice, "ringing", "a1");
    // Not answered yet: nothing to supervise.
    let (_, early) = Browser::talking(boss_hz);
    let supervise = |id: &str, offer: &str| {
        json!({"type": "supervise", "call_id": id, "target": "a1", "mode": "listen",
            "sdp": offer})
        .to_string()
    };
    boss.send(&supervise("s0", &early));
    expect(&mut boss, "error", "s0");
    boss.expect_ended("s0", "failed");
    let (bob_browser, bob_offer) = Browser::talking(bob_hz);
    bob.send(&json!({"type": "accept", "call_id": bob_call, "sdp": bob_offer}).to_string());
    let answered = expect(&mut bob, "answered", &bob_call);
    let bob_media = bob.start_media(bob_browser, answered["sdp"].as_str().unwrap());
    expect(&mut alice, "answered", "a1");

    let (boss_browser, boss_offer) = Browser::talking(boss_hz);
    boss.send(&supervise("s1", &boss_offer));
    let answered = expect(&mut boss, "answered", "s1");
    // On the call's shard, whose room mixes for it.
    assert_eq!(
        candidate_port(answered["sdp"].as_str().unwrap()),
        candidate_port(trying["sdp"].as_str().unwrap())
    );
    let boss_media = boss.start_media(boss_browser, answered["sdp"].as_str().unwrap());
    let tones = [alice_hz, bob_hz, boss_hz];
    let (mut at_alice, mut at_bob, mut at_boss) = (
        VoiceMeter::opus(&tones),
        VoiceMeter::opus(&tones),
        VoiceMeter::opus(&tones),
    );
    let settle = Duration::from_millis(300);
    let check = |who: &str, mode: &str, heard: &[usize], want: [bool; 3]| {
        println!("{mode}: {who} heard alice/bob/boss in {heard:?} of 20");
        for ((&n, want), name) in heard.iter().zip(want).zip(["alice", "bob", "boss"]) {
            if want {
                assert!(n >= 15, "{mode}: {who} should hear {name}: {heard:?}");
            } else {
                assert!(n <= 2, "{mode}: {who} should not hear {name}: {heard:?}");
            }
        }
    };
    let heard = at_boss.listen(&boss_media, settle, 20);
    check("boss", "listen", &heard, [true, true, false]);
    let heard = at_alice.listen(&alice_media, Duration::ZERO, 20);
    check("alice", "listen", &heard, [false, true, false]);

    let mode = |m: &str| json!({"type": "supervisor_mode", "call_id": "s1", "mode": m}).to_string();
    boss.send(&mode("whisper"));
    let heard = at_alice.listen(&alice_media, settle, 20);
    check("alice", "whisper", &heard, [false, true, true]);
    let heard = at_bob.listen(&bob_media, Duration::ZERO, 20);
    check("bob", "whisper", &heard, [true, false, false]);
    boss.send(&mode("barge"));
    let heard = at_bob.listen(&bob_media, settle, 20);
    check("bob", "barge", &heard, [true, false, true]);

    // The supervisor leaves; then the call ends.
    boss.send(&json!({"type": "hangup", "call_id": "s1"}).to_string());
    boss.expect_ended("s1", "hangup");
    let heard = at_bob.listen(&bob_media, settle, 20);
    check(
        "bob",
        "after the supervisor left",
        &heard,
        [true, false, false],
    );
    alice.send(&json!({"type": "hangup", "call_id": "a1"}).to_string());
    alice.expect_ended("a1", "hangup");
    bob.expect_ended(&bob_call, "remote_hangup");
    drop(boss_media);
}

#[test]
fn a_browser_transfers_a_browser_call_to_another_user_who_takes_it() {
    let dcx = Dcx::start("user-call-transfer", 30_300);
    let mut alice = dcx.login("alice");
    let mut bob = dcx.login("bob");
    let mut carol = dcx.login("carol");
    let (alice_browser, offer) = Browser::talking(1000.0);
    alice.send(&call_frame("a1", "user:bob", &offer));
    let trying = expect(&mut alice, "trying", "a1");
    let alice_media = alice.start_media(alice_browser, trying["sdp"].as_str().unwrap());
    let incoming = bob.next("incoming");
    let bob_call = incoming["call_id"].as_str().unwrap().to_owned();
    expect(&mut alice, "ringing", "a1");
    let (bob_browser, bob_offer) = Browser::talking(600.0);
    bob.send(&json!({"type": "accept", "call_id": bob_call, "sdp": bob_offer}).to_string());
    let answered = expect(&mut bob, "answered", &bob_call);
    let bob_media = bob.start_media(bob_browser, answered["sdp"].as_str().unwrap());
    expect(&mut alice, "answered", "a1");
    let mut at_alice = ToneMeter::opus(600.0);
    alice_media.hear(&mut at_alice, 25);

    // bob hands alice to carol: to a number it cannot (no SIP leg), to carol it can.
    let e = bob.expect_error(
        &json!({"type": "transfer", "call_id": bob_call, "to": "15551234567"}).to_string(),
        "bad_state",
    );
    assert_eq!(e["call_id"], bob_call.as_str(), "{e}");
    bob.send(&json!({"type": "transfer", "call_id": bob_call, "to": "user:carol"}).to_string());
    bob.expect_ended(&bob_call, "transferred");
    drop(bob_media);
    let incoming = carol.next("incoming");
    let carol_call = incoming["call_id"].as_str().unwrap().to_owned();
    assert_eq!(
        incoming,
        json!({"type": "incoming", "call_id": carol_call, "from": "user:alice"}),
        "carol is offered alice"
    );
    let (carol_browser, carol_offer) = Browser::talking(800.0);
    carol.send(&json!({"type": "accept", "call_id": carol_call, "sdp": carol_offer}).to_string());
    let answered = expect(&mut carol, "answered", &carol_call);
    let carol_media = carol.start_media(carol_browser, answered["sdp"].as_str().unwrap());
    let mut at_alice = ToneMeter::opus(800.0);
    alice_media.hear(&mut at_alice, 25);
    let mut at_carol = ToneMeter::opus(1000.0);
    carol_media.hear(&mut at_carol, 25);
    println!("carol -> dcx -> alice: {at_alice}; alice -> dcx -> carol: {at_carol}");

    alice.send(r#"{"type":"hangup","call_id":"a1"}"#);
    alice.expect_ended("a1", "hangup");
    carol.expect_ended(&carol_call, "remote_hangup");
    drop((alice_media, carol_media));
}
