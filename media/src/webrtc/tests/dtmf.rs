//! DTMF as RFC 4733 telephone-events over the WebRTC leg, both ways.

use std::time::Duration;

use str0m::format::CodecExtra;
use str0m::media::{Frequency, MediaTime, TelephoneEvent};

use super::harness::{LinkConfig, World};
use crate::dtmf::{DtmfDigit, DtmfEvent, EndReason};
use crate::webrtc::{AudioCodec, KeyPress, MediaEvent};

#[test]
fn a_browser_key_press_arrives_as_one_digit() {
    let mut world = World::new(LinkConfig::CLEAN, 8);
    let (c, peer) = world.add_client("198.51.100.1:5000");
    world.connect(c, peer);

    let now = world.now;
    let client = &mut world.clients[c];
    let pt = client.opus_pt();
    client
        .rtc
        .writer(client.mid)
        .unwrap()
        .telephone_event(TelephoneEvent {
            event: DtmfDigit::D5.event(),
            end: true,
            volume: 10,
            duration: Duration::from_millis(100),
        })
        .write(
            pt,
            now,
            MediaTime::new(48_000, Frequency::FORTY_EIGHT_KHZ),
            [],
        )
        .unwrap();
    client.drain(now, &mut world.net);
    world.run_for(Duration::from_millis(500));

    let dtmf: Vec<_> = world
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            MediaEvent::Dtmf { peer: p, event } if *p == peer => Some(*event),
            _ => None,
        })
        .collect();
    assert_eq!(dtmf.len(), 2, "{dtmf:?}");
    assert!(
        matches!(dtmf[0], DtmfEvent::Began { event: 5, .. }),
        "{dtmf:?}"
    );
    let DtmfEvent::Ended(tone) = dtmf[1] else {
        panic!("{dtmf:?}");
    };
    assert_eq!(tone.digit(), Some(DtmfDigit::D5));
    assert_eq!(tone.duration_ms, 100);
    assert_eq!(tone.end, EndReason::EndBit);
    // Telephone-events are not audio.
    assert!(world.audio_from(peer).is_empty());
}

#[test]
fn a_key_press_from_the_core_reaches_the_browser_with_its_end_packets() {
    let mut world = World::new(LinkConfig::CLEAN, 9);
    let (c, peer) = world.add_client("198.51.100.1:5000");
    world.connect(c, peer);

    let press = KeyPress {
        digit: DtmfDigit::Pound,
        duration: Duration::from_millis(120),
        volume: 10,
    };
    world
        .core
        .send_dtmf(world.now, peer, AudioCodec::Opus, 0, press)
        .unwrap();
    world.flush();
    world.run_for(Duration::from_millis(500));

    let reports: Vec<TelephoneEvent> = world.clients[c]
        .media()
        .filter_map(|d| match d.codec_extra {
            CodecExtra::Tele(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(reports.len() >= 4, "{reports:?}");
    assert!(reports.iter().all(|t| t.event == DtmfDigit::Pound.event()));
    let ends: Vec<_> = reports.iter().filter(|t| t.end).collect();
    assert_eq!(
        ends.len(),
        3,
        "RFC 4733 repeats the end packet: {reports:?}"
    );
    assert!(ends
        .iter()
        .all(|t| t.duration == Duration::from_millis(120)));
    assert!(!reports[0].end);
}
