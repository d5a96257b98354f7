//! The forwarder's decisions and the munger's continuity, including a property test
//! over arbitrary source switches, pauses and wraps.

use super::*;
use crate::rtp::{RtpHeader, RtpPacket};
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn munger() -> Munger {
    Munger::new(MungerConfig {
        ssrc: 0x5555,
        clock_rate_hz: 8000,
        initial_sequence_number: 65_534,
        initial_timestamp: u32::MAX - 200,
    })
}

fn src(sequence_number: u16, timestamp: u32) -> SourcePacket {
    SourcePacket {
        sequence_number,
        timestamp,
        marker: false,
    }
}

#[test]
fn latest_policy_follows_a_new_ssrc_and_drops_the_old_one() {
    let mut f = Forwarder::new(SourcePolicy::Latest);
    assert_eq!(f.decide(1), ForwardDecision::Forward(Continuity::NewSource));
    assert_eq!(f.decide(1), ForwardDecision::Forward(Continuity::Continue));
    assert_eq!(f.decide(2), ForwardDecision::Forward(Continuity::NewSource));
    assert_eq!(
        f.decide(1),
        ForwardDecision::Drop(DropReason::RetiredSource)
    );
    assert_eq!(f.decide(2), ForwardDecision::Forward(Continuity::Continue));
    assert_eq!(f.current_source(), Some(2));
}

#[test]
fn pinned_policy_forwards_only_the_selected_source() {
    let mut f = Forwarder::new(SourcePolicy::Pinned(7));
    assert_eq!(f.decide(8), ForwardDecision::Drop(DropReason::NotSelected));
    assert_eq!(f.decide(7), ForwardDecision::Forward(Continuity::NewSource));
    f.set_policy(SourcePolicy::Pinned(8));
    assert_eq!(f.decide(7), ForwardDecision::Drop(DropReason::NotSelected));
    assert_eq!(f.decide(8), ForwardDecision::Forward(Continuity::NewSource));
    // Switching back to a source heard before is allowed when pinned.
    f.set_policy(SourcePolicy::Pinned(7));
    assert_eq!(f.decide(7), ForwardDecision::Forward(Continuity::NewSource));
}

#[test]
fn mute_drops_and_unmute_resumes() {
    let mut f = Forwarder::new(SourcePolicy::Latest);
    assert_eq!(f.decide(1), ForwardDecision::Forward(Continuity::NewSource));
    f.set_muted(true);
    assert!(f.is_muted());
    assert_eq!(f.decide(1), ForwardDecision::Drop(DropReason::Muted));
    f.set_muted(false);
    assert_eq!(f.decide(1), ForwardDecision::Forward(Continuity::Resume));
    assert_eq!(f.decide(1), ForwardDecision::Forward(Continuity::Continue));
}

#[test]
fn a_source_switch_continues_sequence_and_advances_time_by_the_wall_clock() {
    let t0 = Instant::now();
    let mut m = munger();
    let a0 = m
        .munge(t0, src(1000, 50_000), Continuity::NewSource)
        .unwrap();
    assert_eq!(
        (a0.sequence_number, a0.timestamp, a0.ssrc),
        (65_534, u32::MAX - 200, 0x5555)
    );
    assert!(a0.marker);
    let a1 = m
        .munge(t0 + ms(20), src(1001, 50_160), Continuity::Continue)
        .unwrap();
    assert_eq!(
        (a1.sequence_number, a1.timestamp),
        (65_535, (u32::MAX - 200).wrapping_add(160))
    );
    assert!(!a1.marker);
    // Source B, 20 ms later, with unrelated numbering: seq +1 (wrapping), ts +160.
    let b0 = m
        .munge(t0 + ms(40), src(7, 123), Continuity::NewSource)
        .unwrap();
    assert_eq!((b0.sequence_number, b0.ext_seq), (0, 65_536));
    assert_eq!(b0.timestamp, a1.timestamp.wrapping_add(160));
    assert!(b0.marker);
    // Within B, upstream loss stays a gap and reordering stays reordering.
    let b3 = m
        .munge(t0 + ms(100), src(10, 123 + 480), Continuity::Continue)
        .unwrap();
    assert_eq!(
        (b3.sequence_number, b3.timestamp),
        (3, b0.timestamp.wrapping_add(480))
    );
    let b2 = m
        .munge(t0 + ms(101), src(9, 123 + 320), Continuity::Continue)
        .unwrap();
    assert_eq!(b2.sequence_number, 2);
    // A straggler of A after the switch, or of B from before it, cannot be placed.
    assert_eq!(
        m.munge(t0 + ms(102), src(6, 0), Continuity::Continue),
        Err(MungeError::PrecedesSwitch)
    );
}

#[test]
fn hold_and_unhold_jump_the_timestamp_by_the_time_on_hold() {
    let t0 = Instant::now();
    let mut f = Forwarder::new(SourcePolicy::Latest);
    let mut m = munger();
    let mut last = None;
    for i in 0..10u16 {
        let ForwardDecision::Forward(c) = f.decide(1) else {
            panic!()
        };
        last = Some(
            m.munge(t0 + ms(20 * u64::from(i)), src(i, 160 * u32::from(i)), c)
                .unwrap(),
        );
    }
    let last = last.unwrap();
    f.set_muted(true);
    for i in 10..260u16 {
        assert_eq!(
            f.decide(1),
            ForwardDecision::Drop(DropReason::Muted),
            "packet {i}"
        );
    }
    f.set_muted(false);
    // 5 s after the last packet sent (at 180 ms): +40,000 ticks, seq +1 despite the
    // 250 packets not forwarded.
    let ForwardDecision::Forward(c) = f.decide(1) else {
        panic!()
    };
    assert_eq!(c, Continuity::Resume);
    let resumed = m.munge(t0 + ms(5180), src(260, 160 * 260), c).unwrap();
    assert_eq!(resumed.ext_seq, last.ext_seq + 1);
    assert_eq!(resumed.timestamp, last.timestamp.wrapping_add(40_000));
    assert!(resumed.marker);
}

#[test]
fn a_switch_in_the_same_instant_still_advances_one_frame() {
    let t0 = Instant::now();
    let mut m = munger();
    let a = m.munge(t0, src(1, 0), Continuity::NewSource).unwrap();
    let a2 = m
        .munge(t0 + ms(10), src(2, 80), Continuity::Continue)
        .unwrap(); // 10 ms frames
    let b = m
        .munge(t0 + ms(10), src(500, 9), Continuity::NewSource)
        .unwrap();
    assert_eq!(a2.timestamp, a.timestamp.wrapping_add(80));
    assert_eq!(b.timestamp, a2.timestamp.wrapping_add(80));
}

#[test]
fn a_dtx_pause_is_not_taken_for_a_frame() {
    let t0 = Instant::now();
    let mut m = munger();
    let a = m.munge(t0, src(1, 0), Continuity::NewSource).unwrap();
    // The next packet comes after a pause: its timestamp is 300 ms on, not one frame.
    let a2 = m
        .munge(t0 + ms(300), src(2, 2400), Continuity::Continue)
        .unwrap();
    assert_eq!(a2.timestamp, a.timestamp.wrapping_add(2400));
    // A switch 5 ms later moves the stream on by one 20 ms frame, not by 300 ms.
    let b = m
        .munge(t0 + ms(305), src(900, 77), Continuity::NewSource)
        .unwrap();
    assert_eq!(b.timestamp, a2.timestamp.wrapping_add(160));
}

#[test]
fn apply_rewrites_the_packet_in_place() {
    let mut buf = [0u8; 32];
    let header = RtpHeader {
        payload_type: 0,
        sequence_number: 1,
        timestamp: 2,
        ssrc: 3,
        ..RtpHeader::default()
    };
    let n = header.write(&[0xFF; 4], 0, &mut buf).unwrap();
    let parsed = RtpPacket::parse(&buf[..n]).unwrap();
    let mut m = munger();
    let out = m
        .munge(
            Instant::now(),
            SourcePacket::from(&parsed),
            Continuity::NewSource,
        )
        .unwrap();
    out.apply(&mut buf[..n]).unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(
        (p.ssrc(), p.sequence_number(), p.timestamp(), p.marker()),
        (0x5555, 65_534, u32::MAX - 200, true)
    );
    assert_eq!(p.payload(), &[0xFF; 4]);
}

/// One step of the property test's script.
#[derive(Debug, Clone)]
enum Step {
    /// Send this many packets from the current source, 20 ms apart.
    Send(u16),
    /// A new publisher SSRC starting at this sequence number and timestamp.
    Switch(u16, u32),
    /// Nothing arrives for this long.
    Pause(u32),
    /// Mute (hold) or unmute the subscriber.
    Mute(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u16..40).prop_map(Step::Send),
        2 => (any::<u16>(), any::<u32>()).prop_map(|(s, t)| Step::Switch(s, t)),
        1 => (0u32..20_000).prop_map(Step::Pause),
        1 => any::<bool>().prop_map(Step::Mute),
    ]
}

proptest! {
    #[test]
    fn output_sequence_is_strictly_plus_one_across_switches_pauses_and_wraps(
        initial_sequence_number: u16,
        initial_timestamp: u32,
        first: (u16, u32),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut f = Forwarder::new(SourcePolicy::Latest);
        let mut m = Munger::new(MungerConfig { ssrc: 9, clock_rate_hz: 8000, initial_sequence_number, initial_timestamp });
        let mut ssrc = 100u32;
        let (mut seq, mut ts) = first;
        let mut prev: Option<(MungedHeader, Instant, u32)> = None;
        for s in steps {
            match s {
                Step::Send(n) => {
                    for _ in 0..n {
                        if let ForwardDecision::Forward(c) = f.decide(ssrc) {
                            let out = m.munge(now, src(seq, ts), c).unwrap();
                            prop_assert_eq!(out.ssrc, 9);
                            if let Some((p, at, prev_ts)) = prev {
                                prop_assert_eq!(out.ext_seq, p.ext_seq + 1);
                                prop_assert_eq!(out.sequence_number, p.sequence_number.wrapping_add(1));
                                let step = out.timestamp.wrapping_sub(p.timestamp);
                                if c == Continuity::Continue {
                                    // The source's own spacing, pauses (DTX) included.
                                    prop_assert_eq!(step, ts.wrapping_sub(prev_ts));
                                } else {
                                    let elapsed = ((now - at).as_micros() * 8 / 1000) as u32;
                                    prop_assert_eq!(step, elapsed.max(160));
                                    prop_assert!(out.marker);
                                }
                            } else {
                                prop_assert_eq!(out.sequence_number, initial_sequence_number);
                                prop_assert_eq!(out.timestamp, initial_timestamp);
                            }
                            prev = Some((out, now, ts));
                        }
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                        now += ms(20);
                    }
                }
                Step::Switch(s, t) => {
                    ssrc += 1;
                    seq = s;
                    ts = t;
                }
                Step::Pause(p) => {
                    now += ms(u64::from(p));
                    ts = ts.wrapping_add(p * 8);
                }
                Step::Mute(muted) => f.set_muted(muted),
            }
        }
    }
}
