//! Sender packet sequences, receiver robustness, and the two together over a lossy,
//! reordering link in virtual time.

use super::*;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The media clock of the stream the events ride on: 8 kHz from `t0`, starting at `ts0`.
fn media_ts(t0: Instant, ts0: u32, now: Instant) -> u32 {
    ts0.wrapping_add(((now - t0).as_micros() * 8 / 1000) as u32)
}

/// Runs a sender until idle, polling at every timeout; returns (time since t0, packet).
fn drain(sender: &mut DtmfSender, t0: Instant, ts0: u32) -> Vec<(Duration, DtmfPacket)> {
    let mut out = Vec::new();
    while let Some(at) = sender.poll_timeout() {
        while let Some(p) = sender.poll_packet(at, media_ts(t0, ts0, at)) {
            out.push((at - t0, p));
        }
        assert!(out.len() < 10_000, "sender does not finish");
    }
    out
}

#[test]
fn a_100ms_digit_is_four_updates_and_three_end_packets() {
    let t0 = Instant::now();
    let mut s = DtmfSender::new(DtmfSenderConfig::default()).unwrap();
    s.enqueue(t0, DtmfDigit::D5, 100).unwrap();
    let packets = drain(&mut s, t0, 1000);
    let summary: Vec<(u64, bool, bool, u16)> = packets
        .iter()
        .map(|(at, p)| {
            (
                at.as_millis() as u64,
                p.marker,
                p.event.end,
                p.event.duration,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, true, false, 160),
            (20, false, false, 320),
            (40, false, false, 480),
            (60, false, false, 640),
            (80, false, true, 800),
            (100, false, true, 800),
            (120, false, true, 800),
        ]
    );
    for (_, p) in &packets {
        assert_eq!(p.timestamp, 1000, "every packet carries the event's start");
        assert_eq!((p.event.event, p.event.volume), (5, 10));
        assert_eq!(p.payload(), p.event.to_bytes());
    }
    assert!(!s.is_sending());
}

#[test]
fn queued_digits_follow_after_the_gap_with_their_own_timestamp_and_marker() {
    let t0 = Instant::now();
    let mut s = DtmfSender::new(DtmfSenderConfig {
        inter_digit_gap_ms: 70,
        ..DtmfSenderConfig::default()
    })
    .unwrap();
    for c in "1#".chars() {
        s.enqueue(t0, DtmfDigit::from_char(c).unwrap(), 100)
            .unwrap();
    }
    assert_eq!(s.queued(), 2);
    let packets = drain(&mut s, t0, 0);
    let starts: Vec<_> = packets.iter().filter(|(_, p)| p.marker).collect();
    assert_eq!(starts.len(), 2);
    // First tone 0-100 ms, its last end packet at 120 ms; the next starts at 100 + 70.
    assert_eq!(starts[1].0, ms(170));
    assert_eq!(starts[1].1.timestamp, 170 * 8);
    assert_eq!(starts[1].1.event.event, 11);
    assert_eq!(packets.iter().filter(|(_, p)| p.event.end).count(), 6);
}

#[test]
fn a_tone_longer_than_the_duration_field_is_split_into_segments() {
    let t0 = Instant::now();
    let mut s = DtmfSender::new(DtmfSenderConfig::default()).unwrap();
    s.enqueue(t0, DtmfDigit::D0, 10_000).unwrap(); // 80,000 samples
    let packets = drain(&mut s, t0, 5_000);
    let first: Vec<_> = packets
        .iter()
        .filter(|(_, p)| p.timestamp == 5_000)
        .collect();
    let second: Vec<_> = packets
        .iter()
        .filter(|(_, p)| p.timestamp == 5_000 + 0xFFFF)
        .collect();
    assert_eq!(first.len() + second.len(), packets.len());
    // Segment 1: one marker, durations growing to 0xFFFF, whose report is sent 3 times
    // without the E bit.
    assert_eq!(first.iter().filter(|(_, p)| p.marker).count(), 1);
    assert!(first
        .windows(2)
        .all(|w| w[0].1.event.duration <= w[1].1.event.duration));
    let finals: Vec<_> = first
        .iter()
        .filter(|(_, p)| p.event.duration == 0xFFFF)
        .collect();
    assert_eq!(finals.len(), 3);
    assert!(finals.iter().all(|(_, p)| !p.event.end));
    assert_eq!(finals[0].0, ms(409 * 20)); // (409 + 1) * 160 >= 65535
    assert_eq!(finals[2].0, ms(411 * 20));
    // Segment 2: no marker, counts from the new timestamp, ends with 3 E packets.
    assert!(second.iter().all(|(_, p)| !p.marker));
    // The slot that crosses 0xFFFF reports the first segment's end and the 65 samples
    // already in the second.
    assert_eq!(second[0].0, finals[0].0);
    assert_eq!(u32::from(second[0].1.event.duration), 410 * 160 - 0xFFFF);
    assert_eq!(u32::from(second[1].1.event.duration), 411 * 160 - 0xFFFF);
    let ends: Vec<_> = second.iter().filter(|(_, p)| p.event.end).collect();
    assert_eq!(ends.len(), 3);
    assert!(ends
        .iter()
        .all(|(_, p)| p.event.duration == (80_000 - 0xFFFF) as u16));
    assert!(packets
        .iter()
        .all(|(_, p)| p.event.end == ends.iter().any(|e| e.1 == *p)));
}

#[test]
fn sender_rejects_what_it_cannot_send() {
    let t0 = Instant::now();
    let bad = |c: DtmfSenderConfig| DtmfSender::new(c).unwrap_err();
    assert!(matches!(
        bad(DtmfSenderConfig {
            volume: 64,
            ..DtmfSenderConfig::default()
        }),
        DtmfError::InvalidConfig(_)
    ));
    assert!(matches!(
        bad(DtmfSenderConfig {
            ptime_ms: 0,
            ..DtmfSenderConfig::default()
        }),
        DtmfError::InvalidConfig(_)
    ));
    assert!(matches!(
        bad(DtmfSenderConfig {
            clock_rate_hz: 0,
            ..DtmfSenderConfig::default()
        }),
        DtmfError::InvalidConfig(_)
    ));
    let mut s = DtmfSender::new(DtmfSenderConfig {
        queue_capacity: 1,
        ..DtmfSenderConfig::default()
    })
    .unwrap();
    assert_eq!(
        s.enqueue(t0, DtmfDigit::D1, 0),
        Err(DtmfError::ZeroDuration)
    );
    s.enqueue(t0, DtmfDigit::D1, 100).unwrap();
    assert_eq!(
        s.enqueue(t0, DtmfDigit::D2, 100),
        Err(DtmfError::QueueFull { capacity: 1 })
    );
    s.clear_queue();
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn poll_timeout_names_the_next_due_packet_and_nothing_comes_early() {
    let t0 = Instant::now();
    let mut s = DtmfSender::new(DtmfSenderConfig::default()).unwrap();
    assert_eq!(s.poll_timeout(), None);
    s.enqueue(t0 + ms(5), DtmfDigit::D9, 60).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + ms(5)));
    assert_eq!(s.poll_packet(t0, 0), None);
    assert!(s.poll_packet(t0 + ms(5), 40).unwrap().marker);
    assert!(s.is_sending());
    assert_eq!(s.poll_packet(t0 + ms(5), 40), None);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25)));
    assert_eq!(s.poll_packet(t0 + ms(24), 0), None);
    // A late caller gets every overdue packet at once, with the same durations.
    let late: Vec<_> = std::iter::from_fn(|| s.poll_packet(t0 + ms(200), 0)).collect();
    let durations: Vec<_> = late
        .iter()
        .map(|p| (p.event.duration, p.event.end))
        .collect();
    assert_eq!(
        durations,
        vec![(320, false), (480, true), (480, true), (480, true)]
    );
}

fn receiver() -> DtmfReceiver {
    DtmfReceiver::new(DtmfReceiverConfig::default()).unwrap()
}

fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
    .to_bytes()
}

fn drain_events(r: &mut DtmfReceiver) -> Vec<DtmfEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn ended(events: &[DtmfEvent]) -> Vec<DtmfTone> {
    events
        .iter()
        .filter_map(|e| match e {
            DtmfEvent::Ended(t) => Some(*t),
            DtmfEvent::Began { .. } => None,
        })
        .collect()
}

#[test]
fn repeated_end_packets_make_one_digit() {
    let t0 = Instant::now();
    let mut r = receiver();
    for (i, d) in [160u16, 320, 480, 640].iter().enumerate() {
        r.handle_packet(t0 + ms(20 * i as u64), 8000, &payload(7, false, *d))
            .unwrap();
    }
    for i in 4..7 {
        r.handle_packet(t0 + ms(20 * i), 8000, &payload(7, true, 800))
            .unwrap();
    }
    let events = drain_events(&mut r);
    assert_eq!(
        events[0],
        DtmfEvent::Began {
            event: 7,
            rtp_timestamp: 8000
        }
    );
    let tones = ended(&events);
    assert_eq!(tones.len(), 1);
    assert_eq!(tones[0].digit(), Some(DtmfDigit::D7));
    assert_eq!(
        (tones[0].duration_samples, tones[0].duration_ms),
        (800, 100)
    );
    assert_eq!(tones[0].end, EndReason::EndBit);
    assert_eq!(events.len(), 2);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn reordered_packets_and_a_lost_start_still_give_the_full_duration() {
    let t0 = Instant::now();
    let mut r = receiver();
    // The marker packet (160) is lost; 480 overtakes 320; an end packet overtakes 640.
    let order = [
        (480, false),
        (320, false),
        (800, true),
        (640, false),
        (800, true),
    ];
    for (i, (d, end)) in order.iter().enumerate() {
        r.handle_packet(t0 + ms(20 * i as u64), 1234, &payload(11, *end, *d))
            .unwrap();
    }
    let tones = ended(&drain_events(&mut r));
    assert_eq!(tones.len(), 1);
    assert_eq!((tones[0].event, tones[0].duration_samples), (11, 800));
}

#[test]
fn lost_end_packets_are_closed_by_timeout_or_by_the_next_event() {
    let t0 = Instant::now();
    let mut r = receiver();
    r.handle_packet(t0, 100, &payload(1, false, 160)).unwrap();
    r.handle_packet(t0 + ms(20), 100, &payload(1, false, 320))
        .unwrap();
    assert_eq!(r.poll_timeout(), Some(t0 + ms(320)));
    r.handle_timeout(t0 + ms(319));
    assert!(r.in_event());
    r.handle_timeout(t0 + ms(320));
    let tones = ended(&drain_events(&mut r));
    assert_eq!(
        (tones[0].duration_samples, tones[0].end),
        (320, EndReason::Timeout)
    );
    // A late end packet of the timed-out event is not a second digit.
    r.handle_packet(t0 + ms(400), 100, &payload(1, true, 800))
        .unwrap();
    assert!(drain_events(&mut r).is_empty());

    r.handle_packet(t0 + ms(500), 5000, &payload(2, false, 160))
        .unwrap();
    r.handle_packet(t0 + ms(700), 7000, &payload(3, false, 160))
        .unwrap();
    let events = drain_events(&mut r);
    let tones = ended(&events);
    assert_eq!(tones.len(), 1);
    assert_eq!((tones[0].event, tones[0].end), (2, EndReason::Superseded));
    assert_eq!(
        events.last(),
        Some(&DtmfEvent::Began {
            event: 3,
            rtp_timestamp: 7000
        })
    );
    // A straggler of event 2 after event 3 began is ignored.
    r.handle_packet(t0 + ms(710), 5000, &payload(2, true, 480))
        .unwrap();
    assert!(drain_events(&mut r).is_empty());
}

#[test]
fn a_malformed_payload_is_an_error_and_changes_nothing() {
    let mut r = receiver();
    assert_eq!(
        r.handle_packet(Instant::now(), 0, &[1, 2]),
        Err(DtmfError::ShortPayload { len: 2 })
    );
    assert!(!r.in_event());
    assert!(r.poll_event().is_none());
}

#[test]
fn sender_to_receiver_round_trips_long_tones_across_segments_and_timestamp_wrap() {
    let t0 = Instant::now();
    let mut s = DtmfSender::new(DtmfSenderConfig::default()).unwrap();
    s.enqueue(t0, DtmfDigit::Star, 20_000).unwrap(); // 160,000 samples: 3 segments
    s.enqueue(t0, DtmfDigit::A, 120).unwrap();
    let mut r = receiver();
    for (at, p) in drain(&mut s, t0, u32::MAX - 50_000) {
        r.handle_packet(t0 + at, p.timestamp, &p.payload()).unwrap();
    }
    let tones = ended(&drain_events(&mut r));
    let got: Vec<_> = tones
        .iter()
        .map(|t| (t.digit(), t.duration_ms, t.end))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(DtmfDigit::Star), 20_000, EndReason::EndBit),
            (Some(DtmfDigit::A), 120, EndReason::EndBit),
        ]
    );
    assert_eq!(tones[0].rtp_timestamp, u32::MAX - 50_000);
}

/// `SplitMix64` (Steele, Lea, Flood 2014): deterministic randomness for simulations.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[test]
fn over_a_lossy_reordering_link_every_digit_arrives_exactly_once() {
    for seed in 0..200 {
        let mut rng = SplitMix64(seed);
        let t0 = Instant::now();
        let digits: Vec<DtmfDigit> = (0..6)
            .map(|_| DtmfDigit::from_event((rng.next() % 16) as u8).unwrap())
            .collect();
        let durations: Vec<u32> = (0..6).map(|_| 60 + (rng.next() % 200) as u32).collect();
        let mut s = DtmfSender::new(DtmfSenderConfig::default()).unwrap();
        for (d, ms) in digits.iter().zip(&durations) {
            s.enqueue(t0, *d, *ms).unwrap();
        }
        // 15% loss and 0-45 ms of delay each, so packets reorder; sometimes all three
        // end packets of a digit are lost and the timeout closes it.
        let mut arrivals: Vec<(Duration, u32, [u8; 4])> = Vec::new();
        for (at, p) in drain(&mut s, t0, 77) {
            if !rng.chance(15) {
                arrivals.push((at + ms(rng.next() % 45), p.timestamp, p.payload()));
            }
        }
        arrivals.sort_by_key(|a| a.0);
        let mut r = receiver();
        let mut events = Vec::new();
        for (at, ts, payload) in &arrivals {
            r.handle_timeout(t0 + *at);
            r.handle_packet(t0 + *at, *ts, payload).unwrap();
            events.extend(drain_events(&mut r));
        }
        r.handle_timeout(t0 + ms(60_000));
        events.extend(drain_events(&mut r));
        let tones = ended(&events);
        let began = events.len() - tones.len();
        assert_eq!(began, tones.len(), "seed {seed}: one end per start");
        // A digit all of whose packets were lost cannot be seen; every other digit is
        // seen exactly once, in order, and with its full duration when an end arrived.
        let mut next = 0;
        for t in &tones {
            let offset = digits[next..].iter().position(|d| Some(*d) == t.digit());
            let i = next + offset.unwrap_or_else(|| panic!("seed {seed}: {tones:?} vs {digits:?}"));
            if t.end == EndReason::EndBit {
                assert_eq!(t.duration_ms, u64::from(durations[i]), "seed {seed}: {t:?}");
            } else {
                assert!(
                    t.duration_ms <= u64::from(durations[i]),
                    "seed {seed}: {t:?}"
                );
            }
            next = i + 1;
        }
        let seen = tones.len();
        assert!(
            seen >= 5,
            "seed {seed}: 15% loss should not hide more than one digit: {tones:?}"
        );
    }
}
