//! Receiver and sender statistics (RFC 3550 A.1, A.3, A.8).

use super::*;

/// Feeds sequence numbers with timestamps 160 apart and a constant transit.
pub(super) fn feed(
    stats: &mut ReceiverStats,
    seqs: impl IntoIterator<Item = u16>,
) -> Vec<SeqCheck> {
    seqs.into_iter()
        .map(|s| {
            let ts = u32::from(s).wrapping_mul(160);
            stats.on_packet(s, ts, ts.wrapping_add(1000))
        })
        .collect()
}

use SeqCheck::{Jump, Probation, Restarted, Valid};

/// (expected, received, cumulative lost, extended highest) of `stats`.
fn counts(stats: &ReceiverStats) -> (u64, u64, i64, u32) {
    (
        stats.expected(),
        stats.received(),
        stats.cumulative_lost(),
        stats.ext_highest_seq(),
    )
}

#[test]
fn in_order_after_probation() {
    let mut s = ReceiverStats::new();
    assert_eq!(
        feed(&mut s, [100, 101, 102, 103, 104]),
        [Probation, Valid, Valid, Valid, Valid]
    );
    assert!(s.is_valid());
    assert_eq!(
        counts(&s),
        (4, 4, 0, 104),
        "the probation packet is not counted"
    );

    let mut s = ReceiverStats::new();
    assert_eq!(
        feed(&mut s, [5, 9, 10, 11]),
        [Probation, Probation, Valid, Valid]
    );
    assert_eq!(counts(&s), (2, 2, 0, 11));
}

#[test]
fn reordered_and_duplicate_packets() {
    let mut s = ReceiverStats::new();
    assert_eq!(
        feed(&mut s, [1, 2, 3, 5, 4, 6]),
        [Probation, Valid, Valid, Valid, Valid, Valid]
    );
    assert_eq!(counts(&s), (5, 5, 0, 6));

    let mut s = ReceiverStats::new();
    assert_eq!(
        feed(&mut s, [1, 2, 3, 3, 4]),
        [Probation, Valid, Valid, Valid, Valid]
    );
    assert_eq!(
        counts(&s),
        (3, 4, -1, 4),
        "a duplicate makes the loss negative"
    );

    // Later than MAX_MISORDER behind: treated as a jump, not counted.
    let mut s = ReceiverStats::new();
    feed(&mut s, 1..=200);
    assert_eq!(feed(&mut s, [50, 201]), [Jump, Valid]);
    assert_eq!(counts(&s), (200, 200, 0, 201));
}

#[test]
fn sequence_wraps_into_cycles() {
    let mut s = ReceiverStats::new();
    feed(&mut s, [65_533, 65_534, 65_535, 0, 1, 2]);
    assert_eq!(counts(&s), (5, 5, 0, 65_536 + 2));

    let mut s = ReceiverStats::new();
    let checks = feed(&mut s, [65_534, 65_535, 1, 0, 2]);
    assert_eq!(checks, [Probation, Valid, Valid, Valid, Valid]);
    assert_eq!(
        counts(&s),
        (4, 4, 0, 65_536 + 2),
        "0 arrives after 1, across the wrap"
    );
}

#[test]
fn big_jump_resyncs_after_two_sequential_packets() {
    let mut s = ReceiverStats::new();
    feed(&mut s, 1..=10);
    assert_eq!(
        feed(&mut s, [20_000, 20_001, 20_002]),
        [Jump, Restarted, Valid]
    );
    assert_eq!(
        counts(&s),
        (2, 2, 0, 20_002),
        "statistics restart at 20_001"
    );
    assert_eq!((s.packets_received(), s.packets_lost()), (11, 0));

    // A lone stray jump is dropped and the stream carries on.
    let mut s = ReceiverStats::new();
    feed(&mut s, 1..=10);
    assert_eq!(feed(&mut s, [20_000, 11, 12]), [Jump, Valid, Valid]);
    assert_eq!(counts(&s), (11, 11, 0, 12));
}

#[test]
fn loss_is_cumulative_and_fraction_per_interval() {
    let mut s = ReceiverStats::new();
    feed(
        &mut s,
        (0..100).filter(|n| ![10, 20, 30, 40, 50].contains(n)),
    );
    let block = s.report_block(7, 0, 0);
    // 99 expected (1..=99; 0 was the probation packet), 94 received.
    assert_eq!((block.cumulative_lost, block.ext_highest_seq), (5, 99));
    assert_eq!(block.fraction_lost, (5 * 256 / 99) as u8);
    assert_eq!(block.fraction_lost, 12, "about 5/100 of 256");

    feed(&mut s, 100..200);
    let block = s.report_block(7, 0, 0);
    assert_eq!((block.cumulative_lost, block.fraction_lost), (5, 0));

    feed(&mut s, (200..300).filter(|n| n % 4 != 0));
    let block = s.report_block(7, 0, 0);
    assert_eq!(
        (block.cumulative_lost, block.fraction_lost),
        (30, 64),
        "a quarter lost"
    );
}

#[test]
fn jitter_is_zero_for_constant_transit_and_decays_to_it() {
    let mut s = ReceiverStats::new();
    feed(&mut s, 0..100);
    assert_eq!(s.jitter(), 0);

    for n in 100..120_u16 {
        let ts = u32::from(n) * 160;
        s.on_packet(n, ts, ts + 1000 + u32::from(n % 2) * 400);
    }
    assert!(s.jitter() > 100);
    feed(&mut s, 120..400);
    assert_eq!(
        s.jitter(),
        0,
        "decays to 0 once the transit is constant again"
    );
}

#[test]
fn jitter_follows_rfc_3550_a8_for_alternating_delay() {
    // Transit alternates 0 and 80 units (10 ms at 8 kHz): |D| = 80 for every pair.
    let mut s = ReceiverStats::new();
    let mut seen = Vec::new();
    for n in 0..300_u16 {
        let ts = u32::from(n) * 160;
        s.on_packet(n, ts, ts + u32::from(n % 2) * 80);
        seen.push(s.jitter());
    }
    // Packet 0 is on probation, packet 1 sets the first transit; then J16 += 80 -
    // (J16 + 8) / 16 from J16 = 0: 80, 155, 225, 291 -> J = 5, 9, 14, 18.
    assert_eq!(seen[..6], [0, 0, 5, 9, 14, 18]);
    // The real-valued recursion gives 80 * (1 - (15/16)^n) after n pairs; the integer
    // form stays within 1.5 of it (each step rounds by under 1/2, the report truncates).
    for (k, &j) in seen.iter().enumerate().skip(2) {
        let exact = 80.0 * (1.0 - (15.0_f64 / 16.0).powi(k as i32 - 1));
        assert!(
            (f64::from(j) - exact).abs() < 1.5,
            "packet {k}: {j} vs {exact}"
        );
    }
    assert!((79..=80).contains(&s.jitter()), "converges to |D| = 80");
}

#[test]
fn sender_stats_extrapolate_the_rtp_timestamp() {
    let t0 = Instant::now();
    let mut s = SenderStats::new();
    assert_eq!(s.rtp_timestamp_at(t0, 8000), None);
    s.on_sent(t0, u32::MAX - 79, 160);
    s.on_sent(t0 + ms(20), 80, 160);
    assert_eq!((s.packets(), s.octets()), (2, 320));
    assert_eq!(s.last_sent(), Some((80, t0 + ms(20))));
    assert_eq!(s.rtp_timestamp_at(t0 + ms(1020), 8000), Some(8080));
}
