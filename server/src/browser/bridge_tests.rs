//! The bridge in virtual time: tones through both directions, checked by frequency;
//! numbering toward the carrier continuous across a change of carrier; what is not the
//! negotiated RTP counted and dropped.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dcx_media::rtp::{RtpHeader, RtpPacket};
use dcx_media::tone::{goertzel_amplitude, zero_crossing_frequency, SineGenerator};
use dcx_media::Law;
use dcx_sip::sdp::{Codec, Direction, Negotiated};

use super::MediaBridge;
use dcx_media::bridge::BridgeMode;

const FRAME: Duration = Duration::from_millis(20);

fn carrier(codec: Codec, remote: &str) -> Negotiated {
    let remote: SocketAddr = remote.parse().unwrap();
    Negotiated {
        codec,
        payload_type: codec.static_payload_type(),
        dtmf_payload_type: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
        remote: Some(remote),
        remote_rtcp: None,
    }
}

/// One RTP packet as sent toward the carrier, parsed back.
#[derive(Debug)]
struct Sent {
    to: SocketAddr,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    marker: bool,
    pcm: Vec<i16>,
}

/// The browser speaks `hz` as Opus for `frames` frames from `t0`; what the bridge sent
/// toward the carrier.
fn browser_speaks(
    bridge: &mut MediaBridge,
    t0: Instant,
    first: u32,
    frames: u32,
    hz: f64,
) -> Vec<Sent> {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut tone = SineGenerator::new(hz, 48_000, 8000);
    let mut sent = Vec::new();
    for k in first..first + frames {
        let now = t0 + FRAME * k;
        let mut pcm = [0i16; 960];
        tone.fill(&mut pcm);
        let opus = encoder.encode_vec(&pcm, 400).unwrap();
        bridge.handle_browser_audio(now, u64::from(k), u64::from(k) * 960, &opus);
        bridge.poll_to_carrier(now, |to, bytes| {
            let p = RtpPacket::parse(bytes).unwrap();
            let law = Law::from_payload_type(p.payload_type()).unwrap();
            let mut pcm = vec![0i16; p.payload().len()];
            law.decode_slice(p.payload(), &mut pcm);
            sent.push(Sent {
                to,
                pt: p.payload_type(),
                seq: p.sequence_number(),
                ts: p.timestamp(),
                ssrc: p.ssrc(),
                marker: p.marker(),
                pcm,
            });
        });
    }
    sent
}

fn assert_tone(pcm: &[i16], rate_hz: u32, hz: f64) {
    let at = goertzel_amplitude(pcm, rate_hz, hz);
    let off =
        goertzel_amplitude(pcm, rate_hz, hz * 1.4).max(goertzel_amplitude(pcm, rate_hz, hz * 0.7));
    assert!(
        at > 5.0 * off && at > 1000.0,
        "{hz} Hz: {at:.0} vs {off:.0}"
    );
    let measured = zero_crossing_frequency(pcm, rate_hz).unwrap();
    assert!(
        (measured - hz).abs() < hz * 0.03,
        "{measured} Hz, expected {hz}"
    );
}

#[test]
fn the_browsers_opus_reaches_the_carrier_as_continuous_pcmu_at_its_frequency() {
    let mut bridge = MediaBridge::new(0xDC00_0001, 1000).unwrap();
    let t0 = Instant::now();
    // Before the carrier leg is negotiated nothing goes out, and nothing is kept.
    assert!(browser_speaks(&mut bridge, t0, 0, 10, 1000.0).is_empty());
    bridge
        .set_carrier(carrier(Codec::Pcmu, "192.0.2.1:4000"))
        .unwrap();
    let sent = browser_speaks(&mut bridge, t0, 10, 100, 1000.0);
    assert!(sent.len() >= 95, "{} packets", sent.len());
    assert!(sent.iter().all(|s| s.pt == 0 && s.ssrc == 0xDC00_0001));
    assert!(sent
        .iter()
        .all(|s| s.to == "192.0.2.1:4000".parse().unwrap()));
    assert!(sent[0].marker && sent[1..].iter().all(|s| !s.marker));
    for pair in sent.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert_eq!(pair[1].ts, pair[0].ts.wrapping_add(160));
    }
    let pcm: Vec<i16> = sent.iter().skip(5).flat_map(|s| s.pcm.clone()).collect();
    assert_tone(&pcm, 8000, 1000.0);
}

#[test]
fn a_new_carrier_after_failover_continues_the_stream_and_gets_its_own_law() {
    let mut bridge = MediaBridge::new(7, 65_530).unwrap();
    let t0 = Instant::now();
    bridge
        .set_carrier(carrier(Codec::Pcmu, "192.0.2.1:4000"))
        .unwrap();
    let first = browser_speaks(&mut bridge, t0, 0, 20, 1000.0);
    bridge
        .set_carrier(carrier(Codec::Pcma, "192.0.2.2:5000"))
        .unwrap();
    let second = browser_speaks(&mut bridge, t0, 20, 50, 1000.0);
    let (last, next) = (first.last().unwrap(), &second[0]);
    assert_eq!(
        next.seq,
        last.seq.wrapping_add(1),
        "sequence numbers wrap and go on"
    );
    assert_eq!(next.ssrc, last.ssrc);
    assert!(next.marker, "the new leg's stream starts a talkspurt");
    assert!(second
        .iter()
        .all(|s| s.pt == 8 && s.to == "192.0.2.2:5000".parse().unwrap()));
    let pcm: Vec<i16> = second.iter().skip(5).flat_map(|s| s.pcm.clone()).collect();
    assert_tone(&pcm, 8000, 1000.0);
}

#[test]
fn the_carriers_pcmu_reaches_the_browser_as_opus_at_its_frequency() {
    let mut bridge = MediaBridge::new(1, 1).unwrap();
    bridge
        .set_carrier(carrier(Codec::Pcmu, "192.0.2.1:4000"))
        .unwrap();
    let from: SocketAddr = "192.0.2.9:4002".parse().unwrap();
    let t0 = Instant::now();
    let mut tone = SineGenerator::new(440.0, 8000, 8000);
    let mut frames = Vec::new();
    let mut packet = [0u8; 200];
    for k in 0..100u16 {
        let now = t0 + FRAME * u32::from(k);
        let mut pcm = [0i16; 160];
        tone.fill(&mut pcm);
        let mut pcmu = [0u8; 160];
        Law::Ulaw.encode_slice(&pcm, &mut pcmu);
        let header = RtpHeader {
            payload_type: 0,
            sequence_number: 500 + k,
            timestamp: 9000 + u32::from(k) * 160,
            ssrc: 0xCA11,
            ..RtpHeader::default()
        };
        let len = header.write(&pcmu, 0, &mut packet).unwrap();
        bridge.handle_carrier_datagram(now, from, &packet[..len]);
        // Garbage and telephone-event on the same port are counted and dropped.
        bridge.handle_carrier_datagram(now, from, b"not rtp");
        bridge.poll_to_browser(now, |rtp_time, opus| frames.push((rtp_time, opus.to_vec())));
    }
    // Symmetric RTP: replies go where the carrier's packets come from.
    assert_eq!(bridge.carrier_addr(), Some(from));
    assert_eq!(bridge.counters().carrier_dropped, 100);
    assert!(frames.len() >= 95, "{} frames", frames.len());
    for pair in frames.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 960, "48 kHz RTP time steps by 20 ms");
    }
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = Vec::new();
    for (_, opus) in &frames {
        let mut out = [0i16; 960];
        let n = decoder.decode(opus, &mut out, false).unwrap();
        pcm.extend_from_slice(&out[..n]);
    }
    assert_tone(&pcm[960 * 5..], 48_000, 440.0);
}

#[test]
fn the_carriers_rfc4733_key_press_comes_out_as_one_digit_not_as_audio() {
    let mut bridge = MediaBridge::new(1, 1).unwrap();
    bridge
        .set_carrier(carrier(Codec::Pcmu, "192.0.2.1:4000"))
        .unwrap();
    let from: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let t0 = Instant::now();
    let mut packet = [0u8; 64];
    // Digit 5 for 100 ms at 8 kHz: updates every 20 ms, then three end packets.
    let durations = [160u16, 320, 480, 640, 800, 800, 800];
    for (k, duration) in durations.iter().enumerate() {
        let end = k >= 4;
        let payload = [
            5,
            if end { 0x8a } else { 0x0a }, // E bit, volume 10
            (duration >> 8) as u8,
            *duration as u8,
        ];
        let header = RtpHeader {
            marker: k == 0,
            payload_type: 101,
            sequence_number: 100 + k as u16,
            timestamp: 8000,
            ssrc: 9,
            ..RtpHeader::default()
        };
        let len = header.write(&payload, 0, &mut packet).unwrap();
        bridge.handle_carrier_datagram(t0 + FRAME * k as u32, from, &packet[..len]);
    }
    let mut events = Vec::new();
    while let Some(e) = bridge.poll_carrier_dtmf(t0 + FRAME * 7) {
        events.push(e);
    }
    assert_eq!(events.len(), 2, "{events:?}");
    let dcx_media::dtmf::DtmfEvent::Ended(tone) = events[1] else {
        panic!("{events:?}");
    };
    assert_eq!(tone.digit(), Some(dcx_media::dtmf::DtmfDigit::D5));
    assert_eq!(tone.duration_ms, 100);
    assert_eq!(
        bridge.counters().carrier_dropped,
        0,
        "events are not dropped audio"
    );
    let mut frames = 0;
    bridge.poll_to_browser(t0 + FRAME * 20, |_, _| frames += 1);
    assert_eq!(
        frames, 0,
        "nothing of the events reaches the browser as audio"
    );
}

/// What each party heard over a run of the supervised bridge, as 8 kHz PCM (the
/// browsers' Opus decoded at 8 kHz).
#[derive(Default)]
struct Heard {
    carrier: Vec<i16>,
    agent: Vec<i16>,
    supervisor: Vec<i16>,
}

/// `frames` frames of 20 ms from `first`: the agent speaks 1 kHz, the customer
/// (carrier) 440 Hz, the supervisor 1.7 kHz.
fn three_speak(bridge: &mut MediaBridge, t0: Instant, first: u32, frames: u32) -> Heard {
    let opus_encoder =
        || opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let (mut agent_enc, mut sup_enc) = (opus_encoder(), opus_encoder());
    let decoder = || opus::Decoder::new(8000, opus::Channels::Mono).unwrap();
    let (mut agent_dec, mut sup_dec) = (decoder(), decoder());
    let mut agent_tone = SineGenerator::new(1000.0, 48_000, 6000);
    let mut sup_tone = SineGenerator::new(1700.0, 48_000, 6000);
    let mut customer_tone = SineGenerator::new(440.0, 8000, 6000);
    let mut heard = Heard::default();
    let from: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let mut packet = [0u8; 200];
    for k in first..first + frames {
        let now = t0 + FRAME * k;
        let mut pcm = [0i16; 960];
        agent_tone.fill(&mut pcm);
        let opus = agent_enc.encode_vec(&pcm, 400).unwrap();
        bridge.handle_browser_audio(now, u64::from(k), u64::from(k) * 960, &opus);
        sup_tone.fill(&mut pcm);
        let opus = sup_enc.encode_vec(&pcm, 400).unwrap();
        bridge.handle_supervisor_audio(now, u64::from(k), u64::from(k) * 960, &opus);
        let mut pcm8 = [0i16; 160];
        customer_tone.fill(&mut pcm8);
        let mut g711 = [0u8; 160];
        Law::Ulaw.encode_slice(&pcm8, &mut g711);
        let header = RtpHeader {
            payload_type: 0,
            sequence_number: k as u16,
            timestamp: k * 160,
            ssrc: 7,
            ..RtpHeader::default()
        };
        let len = header.write(&g711, 0, &mut packet).unwrap();
        bridge.handle_carrier_datagram(now, from, &packet[..len]);
        bridge.poll_to_carrier(now, |_, bytes| {
            let p = RtpPacket::parse(bytes).unwrap();
            let mut pcm = vec![0i16; p.payload().len()];
            Law::Ulaw.decode_slice(p.payload(), &mut pcm);
            heard.carrier.extend_from_slice(&pcm);
        });
        let mut out = [0i16; 960];
        bridge.poll_to_browser(now, |_, opus| {
            let n = agent_dec.decode(opus, &mut out, false).unwrap();
            heard.agent.extend_from_slice(&out[..n]);
        });
        bridge.poll_to_supervisor(now, |_, opus| {
            let n = sup_dec.decode(opus, &mut out, false).unwrap();
            heard.supervisor.extend_from_slice(&out[..n]);
        });
    }
    heard
}

/// Which of 1 kHz (agent), 440 Hz (customer), 1.7 kHz (supervisor) `pcm` carries.
fn voices(pcm: &[i16]) -> [bool; 3] {
    // Skip the start: the jitter buffers and the codecs settle.
    let pcm = &pcm[pcm.len().min(8000)..];
    assert!(pcm.len() >= 8000, "{} samples", pcm.len());
    [1000.0, 440.0, 1700.0].map(|hz| goertzel_amplitude(pcm, 8000, hz) > 1500.0)
}

#[test]
fn a_supervisor_hears_both_sides_and_is_heard_as_its_mode_says() {
    let mut bridge = MediaBridge::new(0xDC00_0003, 1).unwrap();
    bridge
        .set_carrier(carrier(Codec::Pcmu, "192.0.2.1:4000"))
        .unwrap();
    assert_eq!(bridge.supervisor_mode(), None);
    bridge.supervise(BridgeMode::Listen).unwrap();
    let t0 = Instant::now();
    let heard = three_speak(&mut bridge, t0, 0, 150);
    assert_eq!(
        voices(&heard.supervisor),
        [true, true, false],
        "listen: supervisor"
    );
    assert_eq!(voices(&heard.agent), [false, true, false], "listen: agent");
    assert_eq!(
        voices(&heard.carrier),
        [true, false, false],
        "listen: carrier"
    );

    bridge.supervise(BridgeMode::Whisper).unwrap();
    assert_eq!(bridge.supervisor_mode(), Some(BridgeMode::Whisper));
    let heard = three_speak(&mut bridge, t0, 150, 150);
    assert_eq!(voices(&heard.agent), [false, true, true], "whisper: agent");
    assert_eq!(
        voices(&heard.carrier),
        [true, false, false],
        "whisper: carrier"
    );

    bridge.supervise(BridgeMode::Barge).unwrap();
    let heard = three_speak(&mut bridge, t0, 300, 150);
    assert_eq!(voices(&heard.agent), [false, true, true], "barge: agent");
    assert_eq!(
        voices(&heard.carrier),
        [true, false, true],
        "barge: carrier"
    );
    assert_eq!(
        voices(&heard.supervisor),
        [true, true, false],
        "barge: supervisor"
    );

    bridge.unsupervise();
    assert_eq!(bridge.supervisor_mode(), None);
    let heard = three_speak(&mut bridge, t0, 450, 150);
    assert_eq!(
        voices(&heard.carrier),
        [true, false, false],
        "after: carrier"
    );
    assert!(heard.supervisor.is_empty());
}

#[test]
fn nothing_goes_to_a_carrier_that_holds_the_call() {
    let mut bridge = MediaBridge::new(0xDC00_0004, 1).unwrap();
    let mut held = carrier(Codec::Pcmu, "192.0.2.1:4000");
    held.direction = Direction::RecvOnly;
    bridge.set_carrier(held).unwrap();
    let t0 = Instant::now();
    assert!(browser_speaks(&mut bridge, t0, 0, 20, 1000.0).is_empty());
    let silence = [0i16; 160];
    bridge.play_to_carrier(&silence, |_, _| panic!("hold audio to a holding carrier"));
    // c=0.0.0.0 (no address in its SDP): nothing either.
    let mut zero = carrier(Codec::Pcmu, "192.0.2.1:4000");
    zero.remote = None;
    bridge.set_carrier(zero).unwrap();
    assert!(browser_speaks(&mut bridge, t0, 20, 20, 1000.0).is_empty());
    // Resumed: the stream goes on.
    bridge
        .set_carrier(carrier(Codec::Pcmu, "192.0.2.1:4000"))
        .unwrap();
    assert!(browser_speaks(&mut bridge, t0, 40, 20, 1000.0).len() >= 15);
}
