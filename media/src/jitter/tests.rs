//! Jitter buffer behaviour in virtual time: reordering, loss, late and duplicate
//! packets, source changes and sequence jumps, and adaptation over a simulated link.

use super::*;
use crate::rtp::{RtpHeader, RtpPacket};
use std::time::{Duration, Instant};

const PTIME_MS: u64 = 20;
const SAMPLES: u32 = 160;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A 20 ms PCMU packet `i` of a stream starting at `seq0`/`ts0`; payload byte = `i`.
struct Source {
    ssrc: u32,
    seq0: u16,
    ts0: u32,
}

impl Source {
    fn packet(&self, i: u32, buf: &mut [u8; 64]) -> usize {
        let header = RtpHeader {
            sequence_number: self.seq0.wrapping_add(i as u16),
            timestamp: self.ts0.wrapping_add(i * SAMPLES),
            ssrc: self.ssrc,
            marker: i == 0,
            ..RtpHeader::default()
        };
        header.write(&[i as u8; 4], 0, buf).unwrap()
    }

    fn push(&self, jb: &mut JitterBuffer, at: Instant, i: u32) -> PushOutcome {
        let mut buf = [0u8; 64];
        let n = self.packet(i, &mut buf);
        jb.push(at, &RtpPacket::parse(&buf[..n]).unwrap())
    }
}

const A: Source = Source {
    ssrc: 0xA,
    seq0: 65_530,
    ts0: u32::MAX - 800,
};
const B: Source = Source {
    ssrc: 0xB,
    seq0: 100,
    ts0: 9_999,
};

/// What `pop` returned, in a comparable form: `Ok(payload byte)` or `Err(lost count)`.
fn pop_all(jb: &mut JitterBuffer, now: Instant) -> Vec<Result<u8, u32>> {
    let mut out = Vec::new();
    loop {
        match jb.pop(now) {
            Playout::Packet(p) => out.push(Ok(p.payload[0])),
            Playout::Lost(n) => out.push(Err(n)),
            Playout::Empty => return out,
        }
    }
}

fn buffer() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::default()).unwrap()
}

#[test]
fn nothing_plays_before_its_delay_then_packets_come_in_order_across_the_wrap() {
    let t0 = Instant::now();
    let mut jb = buffer();
    for i in 0..10 {
        assert_eq!(
            A.push(&mut jb, t0 + ms(PTIME_MS * u64::from(i)), i),
            PushOutcome::Buffered
        );
    }
    // Initial delay 40 ms, shrinking 0.5 ms per packet while the link is calm.
    assert_eq!(pop_all(&mut jb, t0 + ms(30)), vec![]);
    assert_eq!(jb.poll_timeout(), Some(t0 + jb.current_delay()));
    let out = pop_all(&mut jb, t0 + ms(300));
    assert_eq!(out, (0..10).map(Ok).collect::<Vec<_>>());
    assert_eq!(jb.stats().played, 10);
    assert_eq!(jb.poll_timeout(), None);
}

#[test]
fn reordering_within_the_delay_is_repaired() {
    let t0 = Instant::now();
    let mut jb = buffer();
    // Packets 1 and 2 swap, 5 arrives 30 ms late (after 6 and 7).
    let arrivals = [
        (0, 0),
        (20, 2),
        (21, 1),
        (60, 3),
        (80, 4),
        (120, 6),
        (140, 7),
        (130, 5),
    ];
    for (at, i) in arrivals {
        assert_eq!(A.push(&mut jb, t0 + ms(at), i), PushOutcome::Buffered);
    }
    let mut out = Vec::new();
    for t in (0..400).step_by(5) {
        out.extend(pop_all(&mut jb, t0 + ms(t)));
    }
    assert_eq!(out, (0..8).map(Ok).collect::<Vec<_>>());
}

#[test]
fn a_missing_packet_is_reported_lost_at_its_own_time() {
    let t0 = Instant::now();
    let mut jb = buffer();
    for i in [0, 1, 2, 4, 5] {
        A.push(&mut jb, t0 + ms(PTIME_MS * u64::from(i)), i);
    }
    let delay = jb.current_delay();
    // Packet 3 would have played at 60 ms + delay: not before.
    let before = pop_all(&mut jb, t0 + ms(59) + delay);
    assert_eq!(before, vec![Ok(0), Ok(1), Ok(2)]);
    assert_eq!(jb.poll_timeout(), Some(t0 + ms(60) + delay));
    assert_eq!(pop_all(&mut jb, t0 + ms(60) + delay), vec![Err(1)]);
    assert_eq!(pop_all(&mut jb, t0 + ms(500)), vec![Ok(4), Ok(5)]);
    assert_eq!(jb.stats().lost, 1);
    // A burst of three reports as one Lost(3) when the caller is late.
    for i in [6, 10] {
        A.push(&mut jb, t0 + ms(PTIME_MS * u64::from(i)), i);
    }
    assert_eq!(pop_all(&mut jb, t0 + ms(1000)), vec![Ok(6), Err(3), Ok(10)]);
}

#[test]
fn late_and_duplicate_packets_are_dropped_and_counted() {
    let t0 = Instant::now();
    let mut jb = buffer();
    for i in [0, 1, 3, 4] {
        A.push(&mut jb, t0 + ms(PTIME_MS * u64::from(i)), i);
    }
    assert_eq!(A.push(&mut jb, t0 + ms(81), 4), PushOutcome::Duplicate);
    assert_eq!(
        pop_all(&mut jb, t0 + ms(300)),
        vec![Ok(0), Ok(1), Err(1), Ok(3), Ok(4)]
    );
    assert_eq!(A.push(&mut jb, t0 + ms(301), 2), PushOutcome::Late);
    assert_eq!(A.push(&mut jb, t0 + ms(302), 1), PushOutcome::Late);
    let s = jb.stats();
    assert_eq!(
        (s.received, s.played, s.lost, s.late, s.duplicate),
        (7, 4, 1, 2, 1)
    );
    assert_eq!(pop_all(&mut jb, t0 + ms(400)), vec![]);
}

#[test]
fn an_early_reordered_packet_before_the_first_one_still_plays() {
    let t0 = Instant::now();
    let mut jb = buffer();
    A.push(&mut jb, t0, 1);
    assert_eq!(A.push(&mut jb, t0 + ms(5), 0), PushOutcome::Buffered);
    assert_eq!(pop_all(&mut jb, t0 + ms(200)), vec![Ok(0), Ok(1)]);
}

#[test]
fn a_new_ssrc_resets_cleanly_and_the_old_one_is_stale() {
    let t0 = Instant::now();
    let mut jb = buffer();
    for i in 0..5 {
        A.push(&mut jb, t0 + ms(PTIME_MS * u64::from(i)), i);
    }
    assert_eq!(pop_all(&mut jb, t0 + ms(90)), vec![Ok(0), Ok(1), Ok(2)]);
    // The far side switches SSRC (re-INVITE): unrelated sequence and timestamps.
    for i in 0..4 {
        assert_eq!(
            B.push(&mut jb, t0 + ms(100 + PTIME_MS * u64::from(i)), 50 + i),
            PushOutcome::Buffered
        );
    }
    assert_eq!(A.push(&mut jb, t0 + ms(150), 5), PushOutcome::StaleSource);
    assert_eq!(jb.ssrc(), Some(0xB));
    assert_eq!(
        pop_all(&mut jb, t0 + ms(400)),
        vec![Ok(50), Ok(51), Ok(52), Ok(53)]
    );
    let s = jb.stats();
    assert_eq!(
        (s.source_changes, s.flushed, s.stale_source, s.lost),
        (1, 2, 1, 0)
    );
}

#[test]
fn a_stray_packet_is_dropped_but_a_confirmed_sequence_jump_resyncs() {
    let t0 = Instant::now();
    let mut jb = buffer();
    for i in 0..3 {
        A.push(&mut jb, t0 + ms(PTIME_MS * u64::from(i)), i);
    }
    assert_eq!(
        A.push(&mut jb, t0 + ms(41), 20_000),
        PushOutcome::OutOfWindow
    );
    assert_eq!(A.push(&mut jb, t0 + ms(60), 3), PushOutcome::Buffered);
    assert_eq!(
        pop_all(&mut jb, t0 + ms(200)),
        vec![Ok(0), Ok(1), Ok(2), Ok(3)]
    );
    // The sender restarts its numbering 30,000 ahead: two in a row confirm it.
    let jump = |i: u32| 30_000 + i;
    assert_eq!(
        A.push(&mut jb, t0 + ms(220), jump(0)),
        PushOutcome::OutOfWindow
    );
    assert_eq!(
        A.push(&mut jb, t0 + ms(240), jump(1)),
        PushOutcome::Buffered
    );
    A.push(&mut jb, t0 + ms(260), jump(2));
    let out = pop_all(&mut jb, t0 + ms(600));
    assert_eq!(out, vec![Ok(jump(1) as u8), Ok(jump(2) as u8)]);
    let s = jb.stats();
    assert_eq!((s.out_of_window, s.resyncs, s.lost), (2, 1, 0));
}

#[test]
fn too_large_payloads_are_refused_and_bad_configs_rejected() {
    let mut jb = JitterBuffer::new(JitterConfig {
        max_payload_bytes: 3,
        slot_bytes: 3,
        ..JitterConfig::default()
    })
    .unwrap();
    assert_eq!(A.push(&mut jb, Instant::now(), 0), PushOutcome::TooLarge);
    assert_eq!(jb.stats().too_large, 1);
    for bad in [
        JitterConfig {
            clock_rate_hz: 0,
            ..JitterConfig::default()
        },
        JitterConfig {
            min_delay_ms: 300,
            ..JitterConfig::default()
        },
        JitterConfig {
            initial_delay_ms: 10,
            ..JitterConfig::default()
        },
        JitterConfig {
            capacity_packets: 1,
            ..JitterConfig::default()
        },
        JitterConfig {
            slot_bytes: 2000,
            ..JitterConfig::default()
        },
    ] {
        assert!(matches!(
            JitterBuffer::new(bad),
            Err(JitterError::InvalidConfig(_))
        ));
    }
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

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// One simulated phase of a link: `packets` 20 ms packets with `base_ms` of transit
/// plus uniform jitter in `0..jitter_ms`, `loss_percent` lost.
#[derive(Clone, Copy)]
struct Phase {
    packets: u32,
    jitter_ms: u64,
    loss_percent: u64,
}

/// What happened to each packet of a phase, and the delay at its end.
#[derive(Debug, Default)]
struct PhaseReport {
    sent: u64,
    lost_on_link: u64,
    late: u64,
    target_at_end: Duration,
    current_at_end: Duration,
    max_target: Duration,
}

/// Runs the phases back to back over one stream, popping at every millisecond.
/// Checks on the way that output is in strictly increasing order with no repeat and
/// that played + reported lost + late account for every packet sent.
fn simulate(seed: u64, phases: &[Phase]) -> Vec<PhaseReport> {
    const BASE_MS: u64 = 30;
    let mut rng = SplitMix64(seed);
    let t0 = Instant::now();
    let mut arrivals = Vec::new(); // (arrival ms, index, phase)
    let mut reports: Vec<PhaseReport> = phases.iter().map(|_| PhaseReport::default()).collect();
    let mut i = 0u32;
    for (p, phase) in phases.iter().enumerate() {
        for _ in 0..phase.packets {
            reports[p].sent += 1;
            if rng.below(100) < phase.loss_percent {
                reports[p].lost_on_link += 1;
            } else {
                let at = u64::from(i) * PTIME_MS + BASE_MS + rng.below(phase.jitter_ms.max(1));
                arrivals.push((at, i, p));
            }
            i += 1;
        }
    }
    let total = i;
    arrivals.sort_unstable();
    let phase_of = |i: u32| {
        let mut end = 0;
        phases.iter().position(|ph| {
            end += ph.packets;
            i < end
        })
    };
    let mut jb = buffer();
    let mut next_expected = None; // ext_seq relative to packet 0
    let mut first_out = None;
    let mut played = 0u64;
    let mut lost_reported = 0u64;
    let mut arrival = arrivals.iter().peekable();
    let end_ms = u64::from(total) * PTIME_MS + 1000;
    for now_ms in 0..end_ms {
        let now = t0 + ms(now_ms);
        while let Some(&&(at, i, p)) = arrival.peek() {
            if at > now_ms {
                break;
            }
            arrival.next();
            if A.push(&mut jb, now, i) == PushOutcome::Late {
                reports[p].late += 1;
            }
        }
        loop {
            match jb.pop(now) {
                Playout::Packet(pkt) => {
                    let rel = pkt.ext_seq - u64::from(A.seq0);
                    first_out.get_or_insert(rel);
                    let expected = *next_expected.get_or_insert(rel);
                    assert_eq!(rel, expected, "seed {seed}: out of order at {now_ms} ms");
                    assert_eq!(pkt.payload[0], rel as u8);
                    next_expected = Some(rel + 1);
                    played += 1;
                }
                Playout::Lost(n) => {
                    let expected = next_expected.expect("a packet plays before any loss");
                    next_expected = Some(expected + u64::from(n));
                    lost_reported += u64::from(n);
                }
                Playout::Empty => break,
            }
        }
        if now_ms % PTIME_MS == 0 {
            let sent_so_far = (now_ms / PTIME_MS) as u32;
            if let Some(p) = phase_of(sent_so_far.saturating_sub(1)) {
                let r = &mut reports[p];
                r.target_at_end = jb.target_delay();
                r.current_at_end = jb.current_delay();
                r.max_target = r.max_target.max(jb.target_delay());
            }
        }
    }
    let s = jb.stats();
    assert_eq!(played, s.played);
    assert_eq!(lost_reported, s.lost);
    // Output covers a contiguous range; every arrival is played or dropped as late.
    let (first, next) = (first_out.unwrap(), next_expected.unwrap());
    assert_eq!(played + lost_reported, next - first, "seed {seed}: {s:?}");
    assert!(
        next + 3 >= u64::from(total),
        "seed {seed}: the stream's tail did not play"
    );
    assert_eq!(s.received, arrivals.len() as u64);
    assert_eq!(s.received, s.played + s.late, "seed {seed}: {s:?}");
    reports
}

#[test]
fn simulation_steady_link_plays_everything_without_late_drops() {
    for seed in 0..8 {
        let reports = simulate(
            seed,
            &[Phase {
                packets: 1500,
                jitter_ms: 15,
                loss_percent: 2,
            }],
        );
        let r = &reports[0];
        assert!(r.late * 1000 <= r.sent, "seed {seed}: {r:?}");
        assert!(
            r.target_at_end >= ms(20) && r.target_at_end <= ms(40),
            "seed {seed}: {r:?}"
        );
    }
}

#[test]
fn simulation_target_grows_under_jitter_and_shrinks_back_when_calm() {
    for seed in 0..4 {
        let calm = Phase {
            packets: 500,
            jitter_ms: 2,
            loss_percent: 0,
        };
        let rough = Phase {
            packets: 1500,
            jitter_ms: 100,
            loss_percent: 1,
        };
        let reports = simulate(
            seed,
            &[
                calm,
                rough,
                Phase {
                    packets: 1000,
                    ..calm
                },
            ],
        );
        let (before, during, after) = (&reports[0], &reports[1], &reports[2]);
        assert_eq!(before.target_at_end, ms(20), "seed {seed}: {before:?}");
        assert_eq!(before.late, 0, "seed {seed}");
        // Uniform 0-100 ms jitter, reordering: J ~45 ms in arrival order, target ~135 ms.
        // The estimate fluctuates with the sample; it stays well above the floor.
        assert!(during.target_at_end >= ms(80), "seed {seed}: {during:?}");
        assert!(during.max_target >= ms(120), "seed {seed}: {during:?}");
        assert!(during.max_target < ms(200), "seed {seed}: {during:?}");
        // Lateness only while the estimate catches up: under 2 % of the phase.
        assert!(during.late * 50 < during.sent, "seed {seed}: {during:?}");
        assert_eq!(after.target_at_end, ms(20), "seed {seed}: {after:?}");
        assert!(after.current_at_end <= ms(21), "seed {seed}: {after:?}");
    }
}

#[test]
fn simulation_delay_stays_within_bounds_under_extreme_jitter() {
    let reports = simulate(
        99,
        &[Phase {
            packets: 1000,
            jitter_ms: 600,
            loss_percent: 5,
        }],
    );
    assert_eq!(reports[0].max_target, ms(200));
}
