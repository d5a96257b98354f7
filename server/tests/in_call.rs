//! A browser -> PSTN call once answered, through the running gateway with real peers on
//! loopback (as `browser.rs`, whose gateway and call setup are `support::pstn`'s): the
//! browser holds and resumes the call (`hold`/`unhold`: a re-INVITE toward the carrier,
//! `a=sendonly` then `a=sendrecv`, which sipp checks with `ereg check_it` in
//! `tests/sipp/uas_media_at_hold.xml`), and mutes itself (`mute`: no SIP, silence toward
//! the carrier).
//!
//! Audio is checked by frequency both ways: the browser talks 1 kHz as Opus, the
//! carrier's socket [`CARRIER_HZ`] as PCMU (not 440 Hz: that is dcx's hold tone toward
//! the carrier, [`HOLD_HZ`]). Each side judges 20 ms windows; after each change it
//! waits for the new sound and counts what it should no longer hear ([`Since`]).
//! Every wait ends on an event (a datagram, a frame, an exit), with a limit. That the
//! held browser hears nothing is judged by arrival time: the browser's thread stamps
//! every Opus payload it gets, and none may come later than [`IN_FLIGHT`] after the
//! hold took effect (the first window of the hold tone at the carrier), for as long as
//! the carrier hears the hold tone.
//!
//! The browser also hands its call to a number (`transfer` to `16665550000`): dcx dials
//! it on carrier-c (a second sipp, its media another socket of the test) and bridges
//! carrier-b to carrier-c, each hearing the other's tone.
//!
//! And it hands its call to another browser (`transfer` to `user:bob`): bob's browser is
//! offered the call from the far end's number, and takes it.
//!
//! Ports: one fixed block per test, `32_300`, `32_400`, `26_500`, `26_600`, `26_700`, `26_800`, `26_900` (see `agents.rs`
//! for who holds which block; the kernel's ephemeral ports start at `32_768`).

mod support;

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::media::{pcmu_rms, Heard, Media, ToneMeter, FRAME, WAIT};
use support::pstn::{Answered, Dcx, Ports, TONE_WINDOWS};
use support::sipp::have_sipp;
use support::ws_client::strs;

/// What the browser says (Opus at 48 kHz).
const BROWSER_HZ: f64 = 1000.0;
/// What the carrier says (PCMU at 8 kHz).
const CARRIER_HZ: f64 = 700.0;
/// dcx's hold tone toward the carrier of a held browser call (1 s on, 2 s off).
const HOLD_HZ: f64 = 440.0;
/// Windows of the hold tone's first burst to hear before resuming (of 50).
const HOLD_WINDOWS: usize = 45;
/// How long audio dcx sent before a change took effect may still be on its way (or
/// waiting for a test thread): generous, for a loaded machine.
const IN_FLIGHT: Duration = Duration::from_millis(200);
/// The loudest RMS level a muted browser's packet may have at the carrier.
const SILENCE_RMS: f64 = 30.0;
/// The longest pause between two packets at the carrier while the browser is held or
/// muted (dcx's own audio stands in, every 20 ms).
const MAX_GAP: Duration = Duration::from_millis(100);

#[test]
fn hold_reinvites_the_carrier_with_hold_audio_and_unhold_brings_both_voices_back() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-hold", Ports::new(32_300), "");
    let mut args = dcx.media_at("uas_media_at_hold.xml");
    args.push("-trace_msg".into());
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "before the hold");

    // Held: the carrier hears dcx's hold tone instead of the browser; the browser hears
    // nothing at all.
    let held = Instant::now();
    call.ws.send(r#"{"type":"hold","call_id":"c1"}"#);
    let mut at_carrier = Since::at_carrier(held, HOLD_HZ, BROWSER_HZ);
    at_carrier.hear(&call.carrier_media, HOLD_WINDOWS, "the hold tone");
    println!("held, at the carrier: {at_carrier}");
    at_carrier.assert_clean();
    assert!(at_carrier.max_gap < MAX_GAP, "{at_carrier}");
    let heard: Vec<Heard> = drain(&call.browser)
        .into_iter()
        .filter(|h| h.at > held)
        .collect();
    let mut at_browser = ToneMeter::opus(CARRIER_HZ);
    for h in &heard {
        at_browser.feed(h);
    }
    // The hold took effect when its tone started: what dcx sent the browser before
    // then is in flight for a moment at most.
    let took_effect = at_carrier.first.unwrap();
    let late: Vec<Duration> = heard
        .iter()
        .map(|h| h.at - took_effect)
        .filter(|d| *d > IN_FLIGHT)
        .collect();
    println!(
        "held, at the browser: {} payloads after `hold` ({at_browser}), the last {:?} \
         after it, over {:?} of hold",
        heard.len(),
        heard.last().map(|h| h.at - held),
        held.elapsed()
    );
    assert!(
        late.is_empty(),
        "the held browser heard {late:?} after the hold tone started"
    );
    assert!(call.carrier.is_running(), "the carrier's call ended");

    // Resumed: both voices again, and no hold tone.
    let resumed = Instant::now();
    call.ws.send(r#"{"type":"unhold","call_id":"c1"}"#);
    let mut at_carrier = Since::at_carrier(resumed, BROWSER_HZ, HOLD_HZ);
    at_carrier.hear(&call.carrier_media, TONE_WINDOWS, "the browser again");
    println!("resumed, at the carrier: {at_carrier}");
    at_carrier.assert_clean();
    let mut at_browser = Since::at_browser(resumed, CARRIER_HZ, HOLD_HZ);
    at_browser.hear(&call.browser, TONE_WINDOWS, "the carrier again");
    println!("resumed, at the browser: {at_browser}");
    at_browser.assert_clean();

    // The carrier's scenario ends once both re-INVITEs passed its checks and the BYE came.
    let dir = call.dcx.gw.dir.clone();
    call.hang_up();
    let offers = directions_received(&dir, "uas_media_at_hold");
    println!("the carrier's INVITEs, their directions: {offers:?}");
    assert_eq!(offers.len(), 3, "{offers:?}");
    assert_eq!(offers[1..], ["a=sendonly", "a=sendrecv"], "{offers:?}");
}

#[test]
fn a_muted_browser_sends_silence_and_unmuted_its_voice_again() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-mute", Ports::new(32_400), "");
    let args = dcx.media_at("uas_media_at.xml");
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "before the mute");

    // Muted: packets keep coming to the carrier, silent; the browser still hears it.
    let muted = Instant::now();
    call.ws
        .send(r#"{"type":"mute","call_id":"c1","muted":true}"#);
    let silence = Silence::hear(&call.carrier_media, muted, TONE_WINDOWS);
    println!("muted, at the carrier: {silence}");
    assert!(
        silence.first_silent - muted < IN_FLIGHT + 5 * FRAME,
        "{silence}"
    );
    assert!(silence.loudest < SILENCE_RMS, "{silence}");
    assert_eq!(
        silence.voice, 0,
        "the browser's voice while muted: {silence}"
    );
    assert!(silence.max_gap < MAX_GAP, "{silence}");
    let mut at_browser = Since::at_browser(muted, CARRIER_HZ, HOLD_HZ);
    at_browser.hear(&call.browser, TONE_WINDOWS / 2, "the carrier while muted");
    println!("muted, at the browser: {at_browser}");
    at_browser.assert_clean();

    let unmuted = Instant::now();
    call.ws
        .send(r#"{"type":"mute","call_id":"c1","muted":false}"#);
    let mut at_carrier = Since::at_carrier(unmuted, BROWSER_HZ, HOLD_HZ);
    at_carrier.hear(&call.carrier_media, TONE_WINDOWS, "the browser again");
    println!("unmuted, at the carrier: {at_carrier}");
    at_carrier.assert_clean();
    assert!(call.carrier.is_running(), "the carrier's call ended");
    call.hang_up();
}

/// Both voices come through: a second of each at the other end.
fn talk(call: &Answered, when: &str) {
    let mut at_carrier = ToneMeter::pcmu(BROWSER_HZ);
    call.carrier_media.hear(&mut at_carrier, TONE_WINDOWS);
    let mut at_browser = ToneMeter::opus(CARRIER_HZ);
    call.browser.hear(&mut at_browser, TONE_WINDOWS);
    println!("{when}: at the carrier {at_carrier}; at the browser {at_browser}");
}

/// What one end heard since a change asked for at `asked`: the sound it should hear
/// now, and the one it should no longer hear once the new one came.
struct Since {
    asked: Instant,
    want: ToneMeter,
    gone: ToneMeter,
    gone_hz: f64,
    /// When the first window of `want` came.
    first: Option<Instant>,
    /// Windows of `gone` after the first of `want`.
    gone_after: usize,
    /// Windows of `gone` before it (the change on its way).
    gone_before: usize,
    last_at: Option<Instant>,
    /// The longest pause between two arrivals once `want` came.
    max_gap: Duration,
}

impl Since {
    /// At the carrier's socket (PCMU): `want_hz` should come, `gone_hz` no longer.
    fn at_carrier(asked: Instant, want_hz: f64, gone_hz: f64) -> Self {
        Self::new(
            asked,
            ToneMeter::pcmu(want_hz),
            ToneMeter::pcmu(gone_hz),
            gone_hz,
        )
    }

    /// At the browser (Opus): `want_hz` should come, `gone_hz` no longer.
    fn at_browser(asked: Instant, want_hz: f64, gone_hz: f64) -> Self {
        Self::new(
            asked,
            ToneMeter::opus(want_hz),
            ToneMeter::opus(gone_hz),
            gone_hz,
        )
    }

    fn new(asked: Instant, want: ToneMeter, gone: ToneMeter, gone_hz: f64) -> Self {
        Self {
            asked,
            want,
            gone,
            gone_hz,
            first: None,
            gone_after: 0,
            gone_before: 0,
            last_at: None,
            max_gap: Duration::ZERO,
        }
    }

    fn feed(&mut self, heard: &Heard) {
        let (want, gone) = (self.want.right, self.gone.right);
        self.want.feed(heard);
        self.gone.feed(heard);
        let gone = self.gone.right - gone;
        if self.first.is_some() {
            self.gone_after += gone;
            if let Some(last) = self.last_at {
                self.max_gap = self.max_gap.max(heard.at - last);
            }
        } else {
            self.gone_before += gone;
            if self.want.right > want {
                self.first = Some(heard.at);
            }
        }
        self.last_at = Some(heard.at);
    }

    /// Listens to `media` until `windows` windows of the wanted sound came; panics
    /// after [`WAIT`].
    fn hear<C: Send + 'static>(&mut self, media: &Media<C>, windows: usize, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.want.right < windows {
            let Some(heard) = media.next(deadline) else {
                panic!("no {what} within {WAIT:?}: {self}");
            };
            self.feed(&heard);
        }
    }

    /// Nothing of the old sound came once the new one did.
    fn assert_clean(&self) {
        assert_eq!(self.gone_after, 0, "{self}");
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.first.map(|t| t - self.asked);
        write!(
            f,
            "{}, the first {first:?} after asking; {} windows at {} Hz before it, {} after; \
             longest pause {:?}",
            self.want, self.gone_before, self.gone_hz, self.gone_after, self.max_gap
        )
    }
}

/// What the carrier got from a muted browser: from the first silent packet after
/// `mute` (RMS under [`SILENCE_RMS`]) on, `packets` packets.
struct Silence {
    asked: Instant,
    /// Packets before the first silent one (the mute on its way).
    before: usize,
    first_silent: Instant,
    packets: usize,
    /// The loudest packet's RMS level.
    loudest: f64,
    /// Windows of the browser's voice.
    voice: usize,
    max_gap: Duration,
}

impl Silence {
    /// Listens to the carrier's socket `media` from `asked` on; panics after [`WAIT`].
    fn hear(media: &Media, asked: Instant, packets: usize) -> Self {
        let deadline = Instant::now() + WAIT;
        let next = || {
            let heard = media.next(deadline);
            heard.unwrap_or_else(|| panic!("no packets at the carrier within {WAIT:?}"))
        };
        let mut before = 0;
        let first = loop {
            let heard = next();
            if pcmu_rms(&heard.data).is_some_and(|rms| rms < SILENCE_RMS) {
                break heard;
            }
            before += 1;
        };
        let mut voice = ToneMeter::pcmu(BROWSER_HZ);
        voice.feed(&first);
        let mut silence = Self {
            asked,
            before,
            first_silent: first.at,
            packets: 1,
            loudest: pcmu_rms(&first.data).unwrap_or_default(),
            voice: 0,
            max_gap: Duration::ZERO,
        };
        let mut last_at = first.at;
        while silence.packets < packets {
            let heard = next();
            voice.feed(&heard);
            let rms = pcmu_rms(&heard.data).unwrap_or(f64::INFINITY);
            silence.loudest = silence.loudest.max(rms);
            silence.max_gap = silence.max_gap.max(heard.at - last_at);
            last_at = heard.at;
            silence.packets += 1;
        }
        silence.voice = voice.right;
        silence
    }
}

impl fmt::Display for Silence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the first silent packet {:?} after asking ({} packets before it); then {} \
             packets, the loudest at RMS {:.1}, {} windows at {BROWSER_HZ} Hz, longest \
             pause {:?}",
            self.first_silent - self.asked,
            self.before,
            self.packets,
            self.loudest,
            self.voice,
            self.max_gap
        )
    }
}

/// Everything the browser's thread passed on so far (without waiting).
fn drain<C: Send + 'static>(media: &Media<C>) -> Vec<Heard> {
    std::iter::from_fn(|| media.next(Instant::now())).collect()
}

/// The direction attribute (`a=sendonly`, `a=sendrecv`, ...; `-` for none) of each
/// INVITE that sipp `scenario` received, from its `-trace_msg` log in `dir`.
fn directions_received(dir: &Path, scenario: &str) -> Vec<String> {
    let mut directions = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !(file.starts_with(scenario) && file.ends_with("_messages.log")) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for message in text.split("message received").skip(1) {
            let mut lines = message.lines().map(str::trim).skip_while(|l| !l.is_empty());
            let start = lines.by_ref().find(|l| !l.is_empty()).unwrap_or_default();
            if !start.starts_with("INVITE ") {
                continue;
            }
            let direction = lines
                .find(|l| ["a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive"].contains(l));
            directions.push(direction.unwrap_or("-").to_owned());
        }
    }
    directions
}

/// A key press from the carrier (RFC 4733, played by sipp from Debian's pcap) reaches
/// the browser as a `dtmf` frame, once, with its digit; the call goes on.
#[test]
fn a_key_press_from_the_carrier_reaches_the_browser() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-dtmf-in", Ports::new(32_600), "");
    let args = dcx.media_at("uas_dtmf_to_browser.xml");
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    let frame = call.ws.next("dtmf");
    assert_eq!(
        frame,
        serde_json::json!({"type": "dtmf", "call_id": "c1", "digit": "1"})
    );
    talk(&call, "after the key press");
    call.hang_up();
}

/// What carrier-c says on the onward leg of a transfer (PCMU).
const ONWARD_HZ: f64 = 900.0;

/// carrier-c for the onward leg of a transfer: its media another socket of the test
/// (`+45`) talking [`ONWARD_HZ`], and it hangs up 1.5 s after its ACK.
fn onward_carrier(dcx: &Dcx, scenario: &str) -> (support::sipp::Sipp, Media) {
    let onward_rtp = dcx.ports.base + 45;
    let media = support::media::carrier_media_talking(onward_rtp, ONWARD_HZ);
    let args: Vec<String> = [
        "-sf",
        &support::sipp::scenario(scenario),
        "-key",
        "rtp_port",
        &onward_rtp.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    (dcx.carrier("carrier-c", &args, 1), media)
}

#[test]
fn a_browser_transfers_its_call_to_a_number_and_dcx_bridges_the_two_carriers() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-transfer-number", Ports::new(26_500), "");
    // carrier-c rings 2 s (a 180 without SDP) before it answers.
    let (onward, onward_media) = onward_carrier(&dcx, "uas_media_at_ring_bye.xml");
    let args = dcx.media_at("uas_media_at.xml");
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "before the transfer");

    call.ws
        .send(r#"{"type":"transfer","call_id":"c1","to":"16665550000"}"#);
    call.ws.expect_ended("c1", "transferred");
    // While carrier-c rings, carrier-b hears ringback (440 + 480 Hz), not carrier-c.
    let mut ear = support::media::VoiceMeter::pcmu(&[480.0, ONWARD_HZ]);
    let heard = ear.listen(&call.carrier_media, Duration::from_millis(300), 10);
    println!("carrier-b while carrier-c rings: 480 Hz / carrier-c in {heard:?} of 10 windows");
    assert!(heard[0] >= 8 && heard[1] == 0, "ringback: {heard:?}");
    let mut at_onward = ToneMeter::pcmu(CARRIER_HZ);
    onward_media.hear(&mut at_onward, TONE_WINDOWS / 2);
    let mut at_carrier = Since::at_carrier(Instant::now(), ONWARD_HZ, BROWSER_HZ);
    at_carrier.hear(&call.carrier_media, TONE_WINDOWS / 2, "carrier-c's voice");
    println!("carrier-b -> dcx -> carrier-c: {at_onward}; at carrier-b: {at_carrier}");
    at_carrier.assert_clean();
    // The API lists the call, now without a browser, until it ends.
    let calls = api_calls(&call.dcx);
    assert_eq!(
        calls,
        json!([{"call_id": "c1", "kind": "transferred", "account": "demo", "user": "alice",
                "session": calls[0]["session"], "to": "16665550000"}]),
        "{calls}"
    );

    // carrier-c hangs up; dcx hangs up carrier-b, and both scenarios end well.
    onward.assert_success();
    let Answered { carrier, dcx, .. } = call;
    carrier.assert_success();
    until_no_calls(&dcx);
    let records = dcx.gw.cdrs(4);
    let callees: Vec<&str> = records
        .iter()
        .filter(|r| r["attempt"] == 0)
        .map(|r| r["callee"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(callees.len(), 2, "{records:?}");
    assert!(
        callees.contains(&"16665550000") && callees.contains(&"15551234567"),
        "{records:?}"
    );
}

#[test]
fn a_carrier_that_takes_refer_carries_the_browsers_transfer_itself() {
    if !have_sipp() {
        return;
    }
    let ports = Ports::new(26_900);
    let dcx = Dcx::start("in-call-refer", ports, "");
    // carrier-b takes transfers by REFER: set through the API.
    let trunk = json!({"address": format!("127.0.0.1:{}", ports.carrier_b),
                       "options_interval_s": 0, "refer": true});
    let admin = support::contact::token("ops", dcx_signaling::Role::Admin);
    let (status, body) = support::request(
        dcx.gw.http_addr(),
        "PUT",
        "/api/v1/trunks/carrier-b",
        Some(&admin),
        &trunk.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let args = dcx.media_at("uas_media_at_refer.xml");
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "before the transfer");
    call.ws
        .send(r#"{"type":"transfer","call_id":"c1","to":"16665550000"}"#);
    call.ws.expect_ended("c1", "transferred");
    // The scenario checked the REFER, accepted it, reported 200, and got dcx's BYE.
    let Answered { carrier, dcx, .. } = call;
    carrier.assert_success();
    until_no_calls(&dcx);
    // The call's record and its one attempt: nothing was dialled to 16665550000.
    let records = dcx.gw.cdrs(2);
    let call = records
        .iter()
        .find(|r| r["attempt"] == 0)
        .unwrap_or_else(|| panic!("no call record in {records:?}"));
    assert_eq!(
        strs(call, ["callee", "reason"]),
        ["15551234567", "transferred by REFER to 16665550000"],
        "{call}"
    );
}

/// What bob's browser says after taking a call transferred to it.
const BOB_HZ: f64 = 1200.0;

#[test]
fn a_browser_transfers_its_call_to_another_user_who_takes_it() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-transfer-user", Ports::new(26_800), "");
    let mut bob = dcx.connect();
    let bob_token = support::contact::token("bob", dcx_signaling::Role::Softphone);
    bob.send(&support::ws_client::hello_frame(&bob_token, None));
    bob.next("welcome");
    let args = dcx.media_at("uas_media_at.xml");
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "before the transfer");

    // To a user who is not connected: refused, and alice keeps the call.
    let e = call.ws.expect_error(
        r#"{"type":"transfer","call_id":"c1","to":"user:carol"}"#,
        "no_route",
    );
    assert_eq!(e["call_id"], "c1", "{e}");
    call.ws
        .send(r#"{"type":"transfer","call_id":"c1","to":"user:bob"}"#);
    call.ws.expect_ended("c1", "transferred");
    let incoming = bob.next("incoming");
    let offered = incoming["call_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        incoming,
        json!({"type": "incoming", "call_id": offered, "from": "15551234567"}),
        "the far end's number"
    );
    // The carrier hears hold audio until bob answers.
    let mut on_hold = Since::at_carrier(Instant::now(), HOLD_HZ, BROWSER_HZ);
    on_hold.hear(&call.carrier_media, HOLD_WINDOWS / 3, "the hold tone");
    let (browser, offer) = support::webrtc_client::Browser::talking(BOB_HZ);
    let accept = json!({"type": "accept", "call_id": offered, "sdp": offer});
    bob.send(&accept.to_string());
    let answered = bob.next("answered");
    let bobs = bob.start_media(browser, answered["sdp"].as_str().unwrap_or_default());
    let mut at_bob = ToneMeter::opus(CARRIER_HZ);
    bobs.hear(&mut at_bob, TONE_WINDOWS / 2);
    let mut at_carrier = Since::at_carrier(Instant::now(), BOB_HZ, BROWSER_HZ);
    at_carrier.hear(&call.carrier_media, TONE_WINDOWS / 2, "bob's voice");
    println!("carrier -> dcx -> bob: {at_bob}; at the carrier: {at_carrier}");
    at_carrier.assert_clean();

    // bob hangs up: the carrier gets the BYE.
    bob.send(&json!({"type": "hangup", "call_id": offered}).to_string());
    bob.expect_ended(&offered, "hangup");
    let Answered { carrier, dcx, .. } = call;
    carrier.assert_success();
    until_no_calls(&dcx);
}

#[test]
fn an_attended_transfer_joins_the_call_and_the_consult_call_and_the_browser_leaves() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-attended", Ports::new(26_600), "");
    let (consulted, onward_media) = onward_carrier(&dcx, "uas_media_at_bye.xml");
    let args = dcx.media_at("uas_media_at.xml");
    let mut call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "the first call");

    // Refused, and both calls stay: a consult call that does not exist, and the call
    // itself.
    for (to, code) in [("call:c9", "unknown_call"), ("call:c1", "bad_state")] {
        let frame = format!(r#"{{"type":"transfer","call_id":"c1","to":"{to}"}}"#);
        let e = call.ws.expect_error(&frame, code);
        assert_eq!(e["call_id"], "c1", "{e}");
    }
    // The consult call, to carrier-c (which hangs up 1.5 s after its ACK).
    let consult = call.ws.call("c2", "16665550000");
    call.ws.until_answered("c2");
    let mut at_browser = ToneMeter::opus(ONWARD_HZ);
    consult.hear(&mut at_browser, TONE_WINDOWS / 5);
    println!("the consult call: at the browser {at_browser}");

    call.ws
        .send(r#"{"type":"transfer","call_id":"c1","to":"call:c2"}"#);
    call.ws.expect_ended("c1", "transferred");
    call.ws.expect_ended("c2", "transferred");
    let mut at_consulted = ToneMeter::pcmu(CARRIER_HZ);
    onward_media.hear(&mut at_consulted, TONE_WINDOWS / 2);
    let mut at_carrier = Since::at_carrier(Instant::now(), ONWARD_HZ, BROWSER_HZ);
    at_carrier.hear(&call.carrier_media, TONE_WINDOWS / 2, "carrier-c's voice");
    println!("carrier-b -> dcx -> carrier-c: {at_consulted}; at carrier-b: {at_carrier}");
    at_carrier.assert_clean();
    let calls = api_calls(&call.dcx);
    assert_eq!(
        strs(&calls[0], ["call_id", "kind", "to"]),
        ["c1", "transferred", "call:c2"],
        "{calls}"
    );
    assert_eq!(calls.as_array().map(Vec::len), Some(1), "{calls}");

    // carrier-c hangs up; dcx hangs up carrier-b.
    consulted.assert_success();
    drop(consult);
    let Answered { carrier, dcx, .. } = call;
    carrier.assert_success();
    // Both calls' attempt and call records.
    let records = dcx.gw.cdrs(4);
    assert!(records.iter().all(|r| r["sip_code"] == 200), "{records:?}");
}

#[test]
fn the_carrier_holds_and_resumes_and_the_call_goes_on() {
    if !have_sipp() {
        return;
    }
    let dcx = Dcx::start("in-call-carrier-hold", Ports::new(26_700), "");
    // carrier-b re-INVITEs with a=sendonly 1.5 s after its ACK and with a=sendrecv 1.5 s
    // later; sipp fails the call unless dcx's 200s carry a=recvonly, then a=sendrecv.
    let args = dcx.media_at("uas_carrier_hold.xml");
    let call = Answered::talking(dcx, &args, CARRIER_HZ);
    talk(&call, "before the carrier's hold");
    // Past both re-INVITEs (3 s after the ACK), the voices go both ways again: by then
    // the carrier has resumed, or the 200 to its resume has not come and sipp failed.
    let mut at_browser = ToneMeter::opus(CARRIER_HZ);
    let resumed = Instant::now() + Duration::from_millis(3_200);
    while Instant::now() < resumed {
        let Some(heard) = call.browser.next(resumed + WAIT) else {
            panic!("the browser heard nothing from the carrier");
        };
        at_browser.feed(&heard);
    }
    talk(&call, "after the carrier resumed");
    call.hang_up();
}

/// `GET /api/v1/calls` with an admin token.
fn api_calls(dcx: &Dcx) -> serde_json::Value {
    let admin = support::contact::token("ops", dcx_signaling::Role::Admin);
    let (status, calls) =
        support::request(dcx.gw.http_addr(), "GET", "/api/v1/calls", Some(&admin), "");
    assert_eq!(status, 200, "{calls}");
    calls
}

/// Polls `GET /api/v1/calls` until it is empty (a call's task ends a moment after its
/// last BYE), for 10 s at most.
fn until_no_calls(dcx: &Dcx) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = api_calls(dcx);
        if calls == json!([]) {
            return;
        }
        assert!(Instant::now() < deadline, "calls still listed: {calls}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
