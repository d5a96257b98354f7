//! Browser to PSTN through the running gateway, with real peers on loopback: a str0m
//! client stands in for the browser (the protocol of `docs/signaling.md` on `/ws`, then
//! ICE, DTLS and Opus against dcx's one WebRTC port; `support::webrtc_client`), and sipp
//! (Debian's `sip-tester`; `support::sipp`) plays the carriers with the scenarios in
//! `tests/sipp/`, their media answered by a UDP socket of the test (`support::media`).
//! The gateway, alice's login and the answered call are `support::pstn`'s (shared with
//! `in_call.rs`: hold, unhold, mute).
//!
//! Audio is checked by frequency both ways: the browser talks 1 kHz as Opus, the
//! carrier's socket 440 Hz as PCMU back to wherever dcx's RTP comes from; each side
//! counts the 20 ms windows it heard that carry the other's tone. Every wait ends on an
//! event (a frame, a datagram, an exit), with a limit; the one exception is the
//! blocked-destination test's short negative check, which says so.
//!
//! Ports as in `transit.rs`: one fixed block per test, below the kernel's ephemeral
//! range, from `27_000` on (`transit.rs` holds `25_000` to `26_499`); dcx's HTTP port is
//! `127.0.0.1:0`, read from its log. sipp runs with `-m 1` and `-timeout 30s` and is
//! killed on drop. Without `sipp` on PATH the tests that need it fail loudly:
//! `./scripts/test` installs it.

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::json;
use support::media::{carrier_media, is_timeout, Media, ToneMeter, WAIT};
use support::pstn::{alice, alice_token, Answered, Dcx, Ports, NUMBER, TOKEN_KEY, TONE_WINDOWS};
use support::sipp::{have_sipp, scenario};
use support::webrtc_client::{Browser, BrowserCommand};
use support::ws_client::{call_frame, hello_frame, strs};

/// On the deck (carrier-b), and blocked by `[routing] blocked`.
const BLOCKED_NUMBER: &str = "19005550100";
const BLOCKED: &str = "blocked = [{ prefix = \"1900\", reason = \"US premium rate\" }]\n";
/// The carrier's telephone-event payload type (`uas_media_at*.xml`).
const CARRIER_EVENT_PT: u8 = 101;

#[test]
fn a_browser_call_reaches_the_carrier_with_audio_both_ways() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("browser-audio", Ports::new(27_000), "");
    let call = Answered::new(dcx, "uas_media_at.xml");
    let mut at_carrier = ToneMeter::pcmu(1000.0);
    call.carrier_media.hear(&mut at_carrier, TONE_WINDOWS);
    println!("browser -> dcx -> carrier: {at_carrier}");
    let mut at_browser = ToneMeter::opus(440.0);
    call.browser.hear(&mut at_browser, TONE_WINDOWS);
    println!("carrier -> dcx -> browser: {at_browser}");
    call.hang_up();
}

#[test]
fn the_cheapest_carrier_answers_503_and_the_call_connects_through_the_next() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("browser-failover", Ports::new(27_100), "");
    let carrier_media = carrier_media(dcx.ports.carrier_rtp);
    let refuses = ["-sf".to_owned(), scenario("uas_503.xml")];
    let cheapest = dcx.carrier("carrier-b", &refuses, 0);
    let next = dcx.carrier("carrier-c", &dcx.media_at("uas_media_at.xml"), 1);
    let (mut ws, _) = dcx.login();
    let _browser = ws.call("c1", NUMBER);
    // The 503 stays inside dcx: the browser sees progress only, then the answer.
    let progress = ws.until_answered("c1");
    println!("before answered: {progress:?}");
    // carrier-b got the INVITE, said 503 and was ACKed.
    cheapest.assert_success();

    let mut at_carrier = ToneMeter::pcmu(1000.0);
    carrier_media.hear(&mut at_carrier, TONE_WINDOWS);
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
    let dcx = Dcx::start("browser-blocked", ports, BLOCKED);
    let (mut ws, _) = dcx.login();
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
    // `ended` with the protocol's code, the SIP status it counts as, and the rule in words.
    let detail = verdict["detail"].as_str().unwrap_or_default();
    assert_eq!(
        verdict,
        json!({"type": "ended", "call_id": "c1", "reason": "destination_blocked",
               "sip_code": 403, "detail": detail}),
        "not a refusal as blocked"
    );
    assert!(
        detail.contains("US premium rate") || detail.contains("blocked"),
        "{detail}"
    );
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
    let dcx = Dcx::start("browser-bad-frames", Ports::new(27_300), "");
    // Anything before hello: refused, and the socket closes.
    let mut early = dcx.connect();
    early.expect_error(&call_frame("c1", NUMBER, "v=0\r\n"), "not_authenticated");
    early.expect_closed();

    // Authenticated: each bad frame gets its error, and the connection stays.
    let (mut ws, _) = dcx.login();
    let malformed = ws.expect_error("not json", "malformed");
    assert!(malformed.get("call_id").is_none(), "{malformed}");
    ws.expect_error(r#"{"type":"nope"}"#, "unknown_type");
    let unknown = ws.expect_error(r#"{"type":"hangup","call_id":"zzz"}"#, "unknown_call");
    assert_eq!(unknown["call_id"], "zzz", "{unknown}");
    ws.send(r#"{"type":"ping","seq":7}"#);
    assert_eq!(ws.next("pong"), json!({"type": "pong", "seq": 7}));
}

#[test]
fn the_carrier_hanging_up_ends_the_browser_call() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("browser-remote-bye", Ports::new(27_400), "");
    let mut call = Answered::new(dcx, "uas_media_at_bye.xml");
    call.ws.expect_ended("c1", "remote_hangup");
    // Its BYE was answered 200.
    call.carrier.assert_success();
    call.ws
        .expect_error(r#"{"type":"hangup","call_id":"c1"}"#, "unknown_call");
}

#[test]
fn dtmf_from_the_browser_reaches_the_carrier_as_rfc4733() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("browser-dtmf", Ports::new(27_500), "");
    let mut call = Answered::new(dcx, "uas_media_at.xml");
    // Audio first: the events must continue its stream.
    let mut at_carrier = ToneMeter::pcmu(1000.0);
    call.carrier_media.hear(&mut at_carrier, TONE_WINDOWS);

    // Digits by message: 100 ms each is 800 ticks at 8 kHz.
    let dtmf = r#"{"type":"dtmf","call_id":"c1","digits":"12#","duration_ms":100}"#;
    let digits = || call.ws.send(dtmf);
    let seen = rtp_around_key_press(&call.carrier_media, digits, 11);
    let packets = check_key_presses(&seen, &[1, 2, 11], 800);
    println!(
        "`dtmf` 12# at the carrier, durations: {packets:?} ({} RTP packets in all)",
        seen.len()
    );

    // A key press as a browser's RTCDTMFSender makes it: RFC 4733 at 48 kHz on the
    // WebRTC leg, 120 ms (960 ticks at 8 kHz toward the carrier).
    let press = || {
        call.browser.command(BrowserCommand::KeyPress {
            event: 5,
            duration: Duration::from_millis(120),
        });
    };
    let seen = rtp_around_key_press(&call.carrier_media, press, 5);
    let packets = check_key_presses(&seen, &[5], 960);
    println!(
        "the browser's key press 5 at the carrier, durations: {packets:?} ({} RTP packets in all)",
        seen.len()
    );
    call.hang_up();
}

#[test]
fn a_dropped_websocket_resumes_within_the_grace_and_the_call_lives_on() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("browser-resume", Ports::new(27_600), "");
    let mut call = Answered::new(dcx, "uas_media_at.xml");
    let (mut at_carrier, mut at_browser) = (ToneMeter::pcmu(1000.0), ToneMeter::opus(440.0));
    let talk = |at_carrier: &mut ToneMeter, at_browser: &mut ToneMeter| {
        call.carrier_media.hear(at_carrier, TONE_WINDOWS);
        call.browser.hear(at_browser, TONE_WINDOWS);
    };
    talk(&mut at_carrier, &mut at_browser);
    println!("before the drop: at the carrier {at_carrier}; at the browser {at_browser}");
    let _ = (at_carrier.take_max_gap(), at_browser.take_max_gap());

    // The network drops: no close frame. The call goes on meanwhile, both ways; the
    // second of tone this takes is also the time a wrong BYE would have had to arrive.
    call.ws.vanish();
    talk(&mut at_carrier, &mut at_browser);
    println!("while away: at the carrier {at_carrier}; at the browser {at_browser}");
    assert!(
        call.carrier.is_running(),
        "the carrier got a BYE when the socket dropped"
    );

    let welcome = call.welcome.clone();
    let old = welcome["resume_token"].as_str().unwrap();
    let again;
    (call.ws, again) = call.dcx.hello(Some(old));
    assert_eq!(again["session_id"], welcome["session_id"], "{again}");
    assert_ne!(
        again["resume_token"], old,
        "the resume token is spent: {again}"
    );
    assert_eq!(again["resumed_calls"], json!(["c1"]), "{again}");

    talk(&mut at_carrier, &mut at_browser);
    println!("after the resume: at the carrier {at_carrier}; at the browser {at_browser}");
    let gaps = (at_carrier.take_max_gap(), at_browser.take_max_gap());
    println!(
        "longest pause from the drop on: at the carrier {:?}, at the browser {:?}",
        gaps.0, gaps.1
    );
    assert!(
        gaps.0 < Duration::from_millis(500) && gaps.1 < Duration::from_millis(500),
        "the audio paused: {gaps:?}"
    );
    assert!(call.carrier.is_running(), "the carrier got a BYE");
    // The spent token resumes nothing (and does not disturb the session).
    let mut stale = call.dcx.connect();
    stale.expect_error(&hello_frame(&alice_token(), Some(old)), "resume_failed");
    stale.expect_closed();
    call.hang_up();
}

#[test]
fn a_browser_that_does_not_come_back_is_hung_up_when_the_grace_passes() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::with_grace("browser-grace", Ports::new(27_700), "", 1);
    let call = Answered::new(dcx, "uas_media_at.xml");
    let mut at_carrier = ToneMeter::pcmu(1000.0);
    call.carrier_media.hear(&mut at_carrier, TONE_WINDOWS);

    let dropped = Instant::now();
    call.ws.vanish();
    // sipp ends once it got the BYE and answered it.
    call.carrier.assert_success_within(Duration::from_secs(5));
    let after = dropped.elapsed();
    println!("the carrier's BYE came {after:?} after the socket dropped (grace 1 s)");
    assert!(
        after >= Duration::from_secs(1),
        "hung up before the grace passed: {after:?}"
    );

    // The call's record (attempt 0) and carrier-b's attempt.
    let records = call.dcx.gw.cdrs(2);
    let call = records
        .iter()
        .find(|r| r["attempt"] == 0)
        .unwrap_or_else(|| panic!("no call record: {records:?}"));
    assert_eq!(
        strs(call, ["leg", "hangup"]),
        ["browser", "caller"],
        "{call}"
    );
    let reason = call["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("resume grace"), "{call}");
    assert_eq!(call["sip_code"], 200, "{call}");
    let attempt = records.iter().find(|r| r["attempt"] == 1);
    assert_eq!(
        attempt.map(|a| &a["trunk_out"]),
        Some(&json!("carrier-b")),
        "{records:?}"
    );
}

#[test]
fn a_forged_or_expired_token_is_refused() {
    let dcx = Dcx::start("browser-tokens", Ports::new(27_800), "");
    let (mut ws, _) = dcx.login();
    let key = TokenKey::new(TOKEN_KEY.as_bytes()).unwrap();
    // Signed with another key.
    let other_key = TokenKey::new(b"not-the-gateways-signing-key-123")
        .unwrap()
        .sign(&alice());
    // Claims changed after signing: alice made admin, under alice's signature.
    let admin = key.sign(&Claims {
        role: Role::Admin,
        ..alice()
    });
    let alice_signature = alice_token().rsplit_once('.').unwrap().1.to_owned();
    let tampered = format!("{}.{alice_signature}", admin.rsplit_once('.').unwrap().0);
    // The right key, but past its exp (2001-09-09).
    let expired = key.sign(&Claims {
        exp: 1_000_000_000,
        ..alice()
    });
    for (token, code) in [
        (other_key, "token_invalid"),
        (tampered, "token_invalid"),
        (expired, "token_expired"),
    ] {
        let mut refused = dcx.connect();
        refused.expect_error(&hello_frame(&token, None), code);
        refused.expect_closed();
    }
    // The good connection did not notice.
    ws.send(r#"{"type":"ping","seq":8}"#);
    assert_eq!(ws.next("pong"), json!({"type": "pong", "seq": 8}));
}

// ---------------------------------------------------------------------------------------
// Key presses at the carrier.

/// An RTP packet as the carrier's socket got it.
#[derive(Debug)]
struct Rtp {
    pt: u8,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

impl Rtp {
    fn parse(datagram: &[u8]) -> Option<Self> {
        let p = dcx_media::RtpPacket::parse(datagram).ok()?;
        Some(Self {
            pt: p.payload_type(),
            marker: p.marker(),
            seq: p.sequence_number(),
            timestamp: p.timestamp(),
            ssrc: p.ssrc(),
            payload: p.payload().to_vec(),
        })
    }

    /// A telephone-event's code, end bit and duration (RFC 4733 2.3), read here rather
    /// than by the code under test.
    fn event(&self) -> (u8, bool, u16) {
        let p = &self.payload;
        assert!(
            p.len() >= 4,
            "a telephone-event of {} bytes: {self:?}",
            p.len()
        );
        (p[0], p[1] & 0x80 != 0, u16::from_be_bytes([p[2], p[3]]))
    }

    fn is_event(&self) -> bool {
        self.pt == CARRIER_EVENT_PT
    }
}

/// `seq:pt`, and a telephone-event's (code, end, duration).
impl std::fmt::Display for Rtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.pt)?;
        if self.is_event() {
            write!(f, "{:?}", self.event())?;
        }
        Ok(())
    }
}

/// The carrier's RTP around a key press: from an audio packet that came before
/// `press` was made, until the third end packet of event `last` and one audio packet
/// after it; panics after [`WAIT`].
fn rtp_around_key_press(carrier: &Media, press: impl FnOnce(), last: u8) -> Vec<Rtp> {
    let deadline = Instant::now() + WAIT;
    let next = || {
        let heard = carrier.next(deadline);
        heard.map(|h| Rtp::parse(&h.data).expect("the carrier got RTP only"))
    };
    let mut seen = loop {
        match next() {
            Some(p) if p.pt == 0 => break vec![p],
            Some(_) => {}
            None => panic!("no audio at the carrier within {WAIT:?}"),
        }
    };
    press();
    loop {
        let is_end = |p: &Rtp| p.is_event() && matches!(p.event(), (e, true, _) if e == last);
        let ends = seen.iter().filter(|p| is_end(p)).count();
        if ends >= 3 && seen.last().is_some_and(|p| p.pt == 0) {
            return seen;
        }
        let Some(p) = next() else {
            let events: Vec<_> = seen.iter().filter(|p| p.is_event()).collect();
            panic!("no end of event {last} within {WAIT:?}; events so far: {events:?}");
        };
        seen.push(p);
    }
}

/// Checks RFC 4733 key presses among the carrier's RTP `seen`: audio first, then the
/// events `codes` in order, on the carrier's telephone-event payload type, each
/// starting with the marker bit, its durations rising, ending with three end packets
/// of `end_duration`; everything in one stream (the audio's SSRC, one sequence).
/// Returns each event's durations, packet by packet.
fn check_key_presses(seen: &[Rtp], codes: &[u8], end_duration: u16) -> Vec<Vec<u16>> {
    let all = || {
        seen.iter()
            .map(Rtp::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        seen.first().map(|p| p.pt),
        Some(0),
        "audio first: {}",
        all()
    );
    let ssrc = seen[0].ssrc;
    assert!(seen.iter().all(|p| p.ssrc == ssrc), "one SSRC: {seen:?}");
    assert!(
        seen.windows(2)
            .all(|w| w[1].seq == w[0].seq.wrapping_add(1)),
        "one sequence, no gaps: {}",
        all()
    );
    assert!(seen.iter().all(|p| p.pt == 0 || p.is_event()), "{}", all());
    // An event's packets share its timestamp (its start).
    let mut events: Vec<Vec<&Rtp>> = Vec::new();
    for p in seen.iter().filter(|p| p.is_event()) {
        match events.last_mut() {
            Some(event) if event[0].timestamp == p.timestamp => event.push(p),
            _ => events.push(vec![p]),
        }
    }
    let got: Vec<u8> = events.iter().map(|e| e[0].event().0).collect();
    assert_eq!(got, codes, "{}", all());
    for event in &events {
        let code = event[0].event().0;
        let reports: Vec<(u8, bool, u16)> = event.iter().map(|p| p.event()).collect();
        assert!(reports.iter().all(|r| r.0 == code), "{reports:?}");
        let markers: Vec<bool> = event.iter().map(|p| p.marker).collect();
        assert!(
            markers[0] && !markers[1..].contains(&true),
            "marker on the first only: {markers:?}"
        );
        let first_end = reports.iter().position(|r| r.1).unwrap_or(reports.len());
        let (updates, ends) = reports.split_at(first_end);
        assert!(
            !updates.is_empty(),
            "event {code}: no update before the end: {reports:?}"
        );
        assert!(
            updates.windows(2).all(|w| w[0].2 < w[1].2)
                && updates.iter().all(|u| u.2 < end_duration),
            "event {code}: durations rising to the end: {reports:?}"
        );
        assert_eq!(
            ends,
            [(code, true, end_duration); 3],
            "event {code}: three end packets of {end_duration}: {reports:?}"
        );
    }
    events
        .iter()
        .map(|e| e.iter().map(|p| p.event().2).collect())
        .collect()
}

/// The browser's network changes mid-call (a new address; the old one is gone): it
/// restarts ICE with `update`, dcx answers with `updated` on the same session, and the
/// audio goes on both ways from the new address. The carrier notices nothing.
#[test]
fn an_ice_restart_from_a_new_address_keeps_the_call_and_its_audio() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("browser-ice-restart", Ports::new(32_200), "");
    let mut call = Answered::new(dcx, "uas_media_at.xml");
    let mut at_carrier = ToneMeter::pcmu(1000.0);
    call.carrier_media.hear(&mut at_carrier, TONE_WINDOWS / 2);

    let (offer_tx, offer) = std::sync::mpsc::channel();
    call.browser
        .command(BrowserCommand::RestartIce { offer: offer_tx });
    let offer = offer.recv_timeout(WAIT).expect("the browser's new offer");
    let frame = json!({"type": "update", "call_id": "c1", "sdp": offer});
    call.ws.send(&frame.to_string());
    let updated = call.ws.next("updated");
    assert_eq!(updated["call_id"], "c1", "{updated}");
    let answer = updated["sdp"].as_str().unwrap();
    assert!(answer.contains("a=ice-lite"), "{answer}");
    call.browser
        .command(BrowserCommand::ApplyAnswer(answer.to_owned()));

    // Both ways again, now from the new address.
    let mut at_carrier = ToneMeter::pcmu(1000.0);
    call.carrier_media.hear(&mut at_carrier, TONE_WINDOWS);
    let mut at_browser = ToneMeter::opus(440.0);
    call.browser.hear(&mut at_browser, TONE_WINDOWS);
    println!("after the restart: carrier {at_carrier}, browser {at_browser}");
    call.hang_up();
}
