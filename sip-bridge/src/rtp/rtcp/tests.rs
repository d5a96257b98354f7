use super::*;
use proptest::collection::vec;
use proptest::prelude::any;

const CNAME: &str = "dcx@192.0.2.10";

fn wall(unix_secs: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(unix_secs)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn session(ssrc: u32, now: Instant, seed: u64) -> RtcpSession {
    RtcpSession::new(
        RtcpConfig::new(ssrc, CNAME, 8000, seed),
        now,
        wall(1_700_000_000.0),
    )
    .unwrap()
}

fn blocks_of(packet: &RtcpPacket<'_>) -> Vec<ReportBlock> {
    match packet {
        RtcpPacket::SenderReport(sr) => sr.blocks.iter().collect(),
        RtcpPacket::ReceiverReport(rr) => rr.blocks.iter().collect(),
        other => panic!("not a report: {other:?}"),
    }
}

// ---- packets ----

#[test]
fn sr_round_trips_with_exact_fields() {
    let info = SenderInfo {
        ntp: NtpTime(0xE8F1_2345_8000_0000),
        rtp_timestamp: 123_456,
        packet_count: 500,
        octet_count: 80_000,
    };
    let blocks = [
        ReportBlock {
            ssrc: 0xAABB_CCDD,
            fraction_lost: 12,
            cumulative_lost: 5,
            ext_highest_seq: 0x0001_0005,
            jitter: 42,
            lsr: 0x1234_5678,
            dlsr: 0x0001_8000,
        },
        ReportBlock {
            ssrc: 7,
            fraction_lost: 255,
            cumulative_lost: -3,
            ..ReportBlock::default()
        },
    ];
    let mut out = Vec::new();
    write_report(&mut out, 0x1122_3344, Some(&info), &blocks, CNAME).unwrap();
    // SR: header, SSRC, 20 bytes of sender info, 2 blocks = 76; SDES: header, SSRC,
    // CNAME item (2 + 14) and a null, padded to 20 = 28.
    assert_eq!(out.len(), 76 + 28);
    assert_eq!(out[..4], [0x82, 200, 0, 18]);
    assert_eq!(out[76..80], [0x81, 202, 0, 6]);
    assert_eq!(out[100..], [0, 0, 0, 0], "the null item and padding");

    let packets = parse_compound(&out).unwrap();
    assert_eq!(packets.len(), 2);
    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!((sr.ssrc, sr.sender_info), (0x1122_3344, info));
    assert_eq!(sr.blocks.len(), 2);
    assert_eq!(blocks_of(&packets[0]), blocks);
    let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
        panic!("{packets:?}")
    };
    assert_eq!(
        sdes.chunks,
        [SdesChunk {
            ssrc: 0x1122_3344,
            cname: Some(CNAME.as_bytes())
        }]
    );
    assert_eq!(sdes.chunks[0].cname_str(), Some(CNAME));
}

/// An RR with one block and an SDES, laid out by hand from RFC 3550 6.4.2 and 6.5.
const RR_SDES: [u8; 48] = [
    0x81, 201, 0, 7, // RR, one block, 8 words
    0xDE, 0xAD, 0xBE, 0xEF, // reporter
    1, 2, 3, 4, // SSRC_1
    12, 0, 0, 5, // fraction 12/256, 5 lost
    0, 1, 0, 0x63, // extended highest 65_635
    0, 0, 0, 42, // jitter
    0x12, 0x34, 0x56, 0x78, // LSR
    0, 1, 0x80, 0, // DLSR 1.5 s
    0x81, 202, 0, 3, // SDES, one chunk, 4 words
    0xDE, 0xAD, 0xBE, 0xEF, // its SSRC
    1, 5, b'h', b'e', b'l', b'l', b'o', 0, // CNAME "hello", null item
];

#[test]
fn rr_matches_a_hand_built_datagram_both_ways() {
    let block = ReportBlock {
        ssrc: 0x0102_0304,
        fraction_lost: 12,
        cumulative_lost: 5,
        ext_highest_seq: 65_635,
        jitter: 42,
        lsr: 0x1234_5678,
        dlsr: duration_to_ntp_short(ms(1500)),
    };
    let mut out = Vec::new();
    write_report(&mut out, 0xDEAD_BEEF, None, &[block], "hello").unwrap();
    assert_eq!(out, RR_SDES);
    let packets = parse_compound(&RR_SDES).unwrap();
    let RtcpPacket::ReceiverReport(rr) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!(rr.ssrc, 0xDEAD_BEEF);
    assert_eq!(blocks_of(&packets[0]), [block]);
}

#[test]
fn bye_round_trips_after_a_report() {
    let mut out = Vec::new();
    write_report(&mut out, 9, None, &[], CNAME).unwrap();
    write_bye(&mut out, &[9, 10], Some("hangup")).unwrap();
    assert_eq!(out.len() % 4, 0);
    let packets = parse_compound(&out).unwrap();
    assert_eq!(packets.len(), 3);
    assert!(blocks_of(&packets[0]).is_empty());
    let RtcpPacket::Bye(bye) = &packets[2] else {
        panic!("{packets:?}")
    };
    assert_eq!(bye.sources.iter().collect::<Vec<_>>(), [9, 10]);
    assert_eq!(bye.reason, Some(&b"hangup"[..]));

    let mut out = Vec::new();
    write_report(&mut out, 9, None, &[], CNAME).unwrap();
    write_bye(&mut out, &[9], Some("")).unwrap();
    let packets = parse_compound(&out).unwrap();
    assert!(matches!(&packets[2], RtcpPacket::Bye(b) if b.reason.is_none()));
}

#[test]
fn cname_padding_is_right_for_every_length() {
    for len in 0..=MAX_TEXT_LEN {
        let cname = "x".repeat(len);
        let mut out = Vec::new();
        write_report(&mut out, 1, None, &[], &cname).unwrap();
        let sdes = &out[8..];
        let nulls = sdes.len() - 8 - 2 - len;
        assert!((1..=4).contains(&nulls), "{len}: {nulls} nulls");
        let packets = parse_compound(&out).unwrap();
        let RtcpPacket::SourceDescription(d) = &packets[1] else {
            panic!("{packets:?}")
        };
        assert_eq!(d.chunks[0].cname, Some(cname.as_bytes()));
    }
}

#[test]
fn cumulative_lost_is_24_bit_signed_and_clamped() {
    let cases = [
        (-1, [0xFF, 0xFF, 0xFF], -1),
        (i32::MIN, [0x80, 0, 0], CUMULATIVE_LOST_MIN),
        (
            CUMULATIVE_LOST_MAX + 10,
            [0x7F, 0xFF, 0xFF],
            CUMULATIVE_LOST_MAX,
        ),
    ];
    for (lost, wire, back) in cases {
        let block = ReportBlock {
            fraction_lost: 0xAB,
            cumulative_lost: lost,
            ..ReportBlock::default()
        };
        let mut out = Vec::new();
        write_report(&mut out, 1, None, &[block], "").unwrap();
        assert_eq!(out[12], 0xAB, "the fraction is untouched");
        assert_eq!(out[13..16], wire);
        let packets = parse_compound(&out).unwrap();
        assert_eq!(blocks_of(&packets[0])[0].cumulative_lost, back);
    }
}

#[test]
fn sdes_keeps_the_cname_and_skips_other_items() {
    let mut d = RR_SDES[..32].to_vec();
    d.extend_from_slice(&[0x82, 202, 0, 7]); // SDES, two chunks, 8 words
    d.extend_from_slice(&[
        0, 0, 0, 1, 2, 3, b'B', b'o', b'b', 1, 2, b'a', b'@', 0, 0, 0,
    ]);
    d.extend_from_slice(&[0, 0, 0, 2, 8, 2, b'p', b'x', 0, 0, 0, 0]);
    let packets = parse_compound(&d).unwrap();
    let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
        panic!("{packets:?}")
    };
    assert_eq!(
        sdes.chunks,
        [
            SdesChunk {
                ssrc: 1,
                cname: Some(b"a@")
            },
            SdesChunk {
                ssrc: 2,
                cname: None
            }
        ]
    );
}

#[test]
fn other_packet_types_pass_over() {
    let mut d = RR_SDES[..32].to_vec();
    d.extend_from_slice(&[0x80 | 3, PT_APP, 0, 2, 0, 0, 0, 1, b'd', b'c', b'x', b'!']);
    d.extend_from_slice(&[0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]); // PSFB PLI
    d.extend_from_slice(&[0x80, 207, 0, 1, 0, 0, 0, 1]); // empty XR
    let packets = parse_compound(&d).unwrap();
    let kinds: Vec<_> = packets
        .iter()
        .skip(1)
        .map(|p| match p {
            RtcpPacket::Other { pt, count, body } => (*pt, *count, body.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, [(204, 3, 8), (206, 1, 8), (207, 0, 4)]);
}

#[test]
fn padding_on_the_last_packet_is_removed() {
    let mut d = RR_SDES.to_vec();
    d[32] |= 0x20;
    d[35] += 1;
    d.extend_from_slice(&[0, 0, 0, 4]);
    let packets = parse_compound(&d).unwrap();
    assert_eq!(packets[1], parse_compound(&RR_SDES).unwrap()[1]);

    let mut single = RR_SDES[..32].to_vec();
    single[0] |= 0x20;
    single[3] += 1;
    single.extend_from_slice(&[9, 9, 9, 4]);
    assert_eq!(blocks_of(&parse_compound(&single).unwrap()[0]).len(), 1);
}

/// [`RR_SDES`] with the byte at `at` replaced.
fn with(at: usize, byte: u8) -> Vec<u8> {
    let mut d = RR_SDES.to_vec();
    d[at] = byte;
    d
}

#[test]
fn malformed_framing_is_an_error() {
    let cases: Vec<(Vec<u8>, RtcpError)> = vec![
        (vec![], RtcpError::Truncated { index: 0, len: 0 }),
        (
            RR_SDES[..3].to_vec(),
            RtcpError::Truncated { index: 0, len: 3 },
        ),
        (
            [&RR_SDES[..], &[0x80, 0]].concat(),
            RtcpError::Truncated { index: 2, len: 2 },
        ),
        (
            with(0, 0x41),
            RtcpError::BadVersion {
                index: 0,
                version: 1,
            },
        ),
        (
            with(32, 0xC1),
            RtcpError::BadVersion {
                index: 1,
                version: 3,
            },
        ),
        (
            RR_SDES[..40].to_vec(),
            RtcpError::LengthOverrun {
                index: 1,
                declared: 16,
                available: 8,
            },
        ),
        (
            with(3, 200),
            RtcpError::LengthOverrun {
                index: 0,
                declared: 804,
                available: 48,
            },
        ),
        (with(0, 0xA1), RtcpError::PaddingNotLast { index: 0 }),
        (with(1, PT_SDES), RtcpError::FirstNotReport { pt: PT_SDES }),
    ];
    for (datagram, expected) in cases {
        assert_eq!(parse_compound(&datagram), Err(expected), "{datagram:02x?}");
    }

    let mut padded = RR_SDES.to_vec();
    padded[32] |= 0x20;
    for (last, count) in [(0, 0), (13, 13)] {
        padded[47] = last;
        assert_eq!(
            parse_compound(&padded),
            Err(RtcpError::BadPadding {
                index: 1,
                count,
                len: 12
            })
        );
    }
}

#[test]
fn malformed_bodies_are_errors() {
    let cases = [
        (
            with(0, 0x82),
            RtcpError::BodyTooShort {
                index: 0,
                pt: PT_RR,
                len: 28,
                needed: 52,
            },
        ),
        (
            with(1, PT_SR),
            RtcpError::BodyTooShort {
                index: 0,
                pt: PT_SR,
                len: 28,
                needed: 48,
            },
        ),
        (
            with(41, 9),
            RtcpError::BadSdes {
                index: 1,
                chunk: 0,
                what: "an item overruns the packet",
            },
        ),
        (
            with(32, 0x82),
            RtcpError::BadSdes {
                index: 1,
                chunk: 1,
                what: "no room for the SSRC",
            },
        ),
    ];
    for (datagram, expected) in cases {
        assert_eq!(parse_compound(&datagram), Err(expected), "{datagram:02x?}");
    }

    let mut bye = RR_SDES[..32].to_vec();
    bye.extend_from_slice(&[0x81, PT_BYE, 0, 2, 0, 0, 0, 1, 6, b'b', b'y', b'e']);
    assert_eq!(
        parse_compound(&bye),
        Err(RtcpError::BadByeReason {
            index: 1,
            declared: 6,
            available: 3
        })
    );
    bye[32] = 0x83;
    assert!(matches!(
        parse_compound(&bye),
        Err(RtcpError::BodyTooShort { needed: 12, .. })
    ));
}

#[test]
fn writer_refuses_what_does_not_fit() {
    let mut out = Vec::new();
    let blocks = [ReportBlock::default(); 32];
    assert_eq!(
        write_report(&mut out, 1, None, &blocks, CNAME),
        Err(RtcpBuildError::TooManyBlocks(32))
    );
    assert_eq!(
        write_report(&mut out, 1, None, &[], &"x".repeat(256)),
        Err(RtcpBuildError::TextTooLong(256))
    );
    assert_eq!(
        write_bye(&mut out, &[0; 32], None),
        Err(RtcpBuildError::TooManySources(32))
    );
    assert_eq!(
        write_bye(&mut out, &[1], Some(&"x".repeat(256))),
        Err(RtcpBuildError::TextTooLong(256))
    );
    assert!(out.is_empty(), "nothing appended on error");
    assert!(write_report(&mut out, 1, None, &blocks[..31], &"x".repeat(255)).is_ok());
}

#[test]
fn ntp_arithmetic() {
    assert_eq!(
        NtpTime::from_unix(Duration::ZERO).0,
        NtpTime::UNIX_EPOCH_SECS << 32
    );
    let t = NtpTime::from_unix(Duration::from_millis(1500));
    assert_eq!(t.0 & 0xFFFF_FFFF, 0x8000_0000);
    assert_eq!(
        t.middle_32(),
        (((NtpTime::UNIX_EPOCH_SECS + 1) as u32) << 16) | 0x8000
    );
    assert_eq!(duration_to_ntp_short(Duration::from_secs(1)), 65_536);
    assert_eq!(duration_to_ntp_short(ms(40)), 2621);
    assert_eq!(
        duration_to_ntp_short(Duration::from_secs(1 << 20)),
        u32::MAX
    );
    assert_eq!(ntp_short_to_duration(65_536 + 32_768), ms(1500));
}

// ---- statistics (RFC 3550 A.1, A.3, A.8) ----

/// Feeds sequence numbers with timestamps 160 apart and a constant transit.
fn feed(stats: &mut ReceiverStats, seqs: impl IntoIterator<Item = u16>) -> Vec<SeqCheck> {
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

// ---- the session ----

const PTIME: Duration = Duration::from_millis(20);

enum Wire {
    Rtp { seq: u16, ts: u32, ssrc: u32 },
    Rtcp(Vec<u8>),
}

/// One end of a simulated call: its session and its RTP stream's counters.
struct Peer {
    session: RtcpSession,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

/// Two peers sending G.711 at 20 ms to each other over a link with a fixed one-way
/// delay, in virtual time; optionally dropping every `n`th RTP packet from peer 0.
struct Link {
    now: Instant,
    one_way: Duration,
    drop_every: Option<u16>,
    next_rtp: Instant,
    in_flight: Vec<(Instant, usize, Wire)>,
}

impl Link {
    fn new(now: Instant, one_way: Duration) -> Self {
        Self {
            now,
            one_way,
            drop_every: None,
            next_rtp: now,
            in_flight: Vec::new(),
        }
    }

    /// Runs until `until`, jumping from one event to the next.
    fn run(&mut self, peers: &mut [Peer; 2], until: Instant) {
        while self.now < until {
            let now = self.now;
            self.deliver(peers);
            if now >= self.next_rtp {
                for (from, p) in peers.iter_mut().enumerate() {
                    p.session.on_rtp_sent(now, p.ts, 160);
                    let dropped = from == 0 && self.drop_every.is_some_and(|n| p.seq % n == 0);
                    if !dropped {
                        let wire = Wire::Rtp {
                            seq: p.seq,
                            ts: p.ts,
                            ssrc: p.ssrc,
                        };
                        self.in_flight.push((now + self.one_way, 1 - from, wire));
                    }
                    p.seq = p.seq.wrapping_add(1);
                    p.ts = p.ts.wrapping_add(160);
                }
                self.next_rtp += PTIME;
            }
            for (from, p) in peers.iter_mut().enumerate() {
                if p.session.poll_timeout().is_some_and(|t| t <= now) {
                    p.session.handle_timeout(now);
                }
                if let Some(datagram) = p.session.poll_transmit() {
                    let wire = Wire::Rtcp(datagram.to_vec());
                    self.in_flight.push((now + self.one_way, 1 - from, wire));
                }
            }
            let next = [
                Some(self.next_rtp),
                peers[0].session.poll_timeout(),
                peers[1].session.poll_timeout(),
                self.in_flight.iter().map(|f| f.0).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            self.now = next.map_or(until, |n| n.min(until));
        }
    }

    fn deliver(&mut self, peers: &mut [Peer; 2]) {
        let now = self.now;
        self.in_flight.sort_by_key(|f| f.0);
        let due = self.in_flight.iter().take_while(|f| f.0 <= now).count();
        for (_, to, wire) in self.in_flight.drain(..due) {
            let session = &mut peers[to].session;
            match wire {
                Wire::Rtp { seq, ts, ssrc } => session.on_rtp_received(now, seq, ts, ssrc),
                Wire::Rtcp(datagram) => session.handle_rtcp(now, &datagram).unwrap(),
            }
        }
    }
}

/// Two peers whose wall clocks disagree by a day and a bit, as a carrier's may.
fn pair(t0: Instant) -> [Peer; 2] {
    let a = RtcpConfig::new(0xA, "a@dcx", 8000, 1);
    let b = RtcpConfig::new(0xB, "b@carrier", 8000, 2);
    [
        Peer {
            session: RtcpSession::new(a, t0, wall(1_700_000_000.0)).unwrap(),
            ssrc: 0xA,
            seq: 1000,
            ts: 0,
        },
        Peer {
            session: RtcpSession::new(b, t0, wall(1_700_090_000.123_4)).unwrap(),
            ssrc: 0xB,
            seq: 65_000,
            ts: 0xFFFF_0000,
        },
    ]
}

#[test]
fn two_sessions_measure_the_round_trip() {
    let t0 = Instant::now();
    let mut peers = pair(t0);
    let mut link = Link::new(t0, ms(40));
    link.run(&mut peers, t0 + Duration::from_secs(30));
    for p in &peers {
        let stats = p.session.stats();
        let rtt_ms = stats.rtt_ms.expect("an RTT after 30 s");
        // Three roundings to 1/65536 s (LSR, DLSR, arrival): well under 0.1 ms.
        assert!((rtt_ms - 80.0).abs() < 0.1, "rtt {rtt_ms} ms");
        assert!((1490..=1500).contains(&stats.packets_received), "{stats:?}");
        assert_eq!(
            (stats.packets_lost, stats.fraction_lost),
            (0, 0.0),
            "{stats:?}"
        );
        assert!(stats.jitter_ms < 0.2, "{stats:?}");
        assert_eq!(stats.remote_fraction_lost, Some(0.0));
        let rtt = p.session.rtt().unwrap();
        assert!((rtt.as_secs_f64() * 1000.0 - rtt_ms).abs() < 1e-9);
    }
    assert_eq!(peers[0].session.remote_ssrc(), Some(0xB));
    assert_eq!(peers[1].session.remote_ssrc(), Some(0xA));
    assert!(!peers[0].session.bye_received());
}

#[test]
fn loss_on_the_link_shows_on_both_ends() {
    let t0 = Instant::now();
    let mut peers = pair(t0);
    let mut link = Link::new(t0, ms(40));
    link.drop_every = Some(20);
    link.run(&mut peers, t0 + Duration::from_secs(60));
    let b = peers[1].session.stats();
    assert!((b.fraction_lost - 0.05).abs() < 0.01, "{b:?}");
    let lost_share = b.packets_lost as f64 / (b.packets_received as f64 + b.packets_lost as f64);
    assert!((lost_share - 0.05).abs() < 0.002, "{b:?}");
    let a = peers[0].session.stats();
    let seen_by_b = a.remote_fraction_lost.expect("B reports on A");
    assert!((seen_by_b - 0.05).abs() < 0.01, "{a:?}");
    assert_eq!((a.packets_lost, a.remote_jitter_ms), (0, Some(0.0)));
}

#[test]
fn report_blocks_echo_the_last_sr_and_give_an_asymmetric_rtt() {
    let t0 = Instant::now();
    let mut a = session(0xA, t0, 7);
    let mut b = RtcpSession::new(
        RtcpConfig::new(0xB, "b", 8000, 8),
        t0,
        wall(1_234_567_890.5),
    )
    .unwrap();
    for n in 0..3_u16 {
        a.on_rtp_sent(t0 + PTIME * u32::from(n), u32::from(n) * 160, 160);
        b.on_rtp_received(
            t0 + PTIME * u32::from(n) + ms(25),
            n,
            u32::from(n) * 160,
            0xA,
        );
    }
    let sent = a.poll_timeout().unwrap();
    a.handle_timeout(sent);
    let sr = a.poll_transmit().unwrap().to_vec();
    let RtcpPacket::SenderReport(parsed) = &parse_compound(&sr).unwrap()[0] else {
        panic!("A sent RTP: an SR")
    };
    let lsr = parsed.sender_info.ntp.middle_32();
    b.handle_rtcp(sent + ms(25), &sr).unwrap();

    // B's report goes out at least 700 ms after the SR arrived and takes 15 ms back.
    let b_at = b.poll_timeout().unwrap().max(sent + ms(725));
    b.handle_timeout(b_at);
    let rr = b.poll_transmit().unwrap().to_vec();
    let packets = parse_compound(&rr).unwrap();
    assert!(
        matches!(packets[0], RtcpPacket::ReceiverReport(_)),
        "B sent no RTP: an RR"
    );
    let [block] = blocks_of(&packets[0])[..] else {
        panic!("{packets:?}")
    };
    assert_eq!((block.ssrc, block.lsr), (0xA, lsr));
    assert_eq!(block.dlsr, duration_to_ntp_short(b_at - (sent + ms(25))));
    a.handle_rtcp(b_at + ms(15), &rr).unwrap();
    let rtt = a.rtt().unwrap();
    assert!(rtt.abs_diff(ms(40)) < Duration::from_micros(50), "{rtt:?}");
}

#[test]
fn reports_are_sr_after_sending_else_rr_with_exact_sender_info() {
    let t0 = Instant::now();
    let mut s = session(0x5EED, t0, 3);
    s.on_rtp_sent(t0, 1000, 160);
    s.on_rtp_sent(t0 + PTIME, 1160, 172);
    let due = s.poll_timeout().unwrap();
    s.handle_timeout(due.checked_sub(ms(1)).unwrap());
    assert!(s.poll_transmit().is_none(), "not due yet");
    s.handle_timeout(due);
    let datagram = s.poll_transmit().unwrap().to_vec();
    assert!(s.poll_transmit().is_none(), "once");
    let packets = parse_compound(&datagram).unwrap();
    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("{packets:?}")
    };
    let since_last = (due - (t0 + PTIME)).as_nanos() * 8000 / 1_000_000_000;
    let unix = Duration::from_secs(1_700_000_000) + (due - t0);
    assert_eq!(
        sr.sender_info,
        SenderInfo {
            ntp: NtpTime::from_unix(unix),
            rtp_timestamp: 1160 + since_last as u32,
            packet_count: 2,
            octet_count: 332,
        }
    );
    assert!(blocks_of(&packets[0]).is_empty(), "nothing received");
    assert!(
        matches!(&packets[1], RtcpPacket::SourceDescription(d) if d.chunks[0].cname_str() == Some(CNAME))
    );

    let next = s.poll_timeout().unwrap();
    s.handle_timeout(next);
    let packets = parse_compound(s.poll_transmit().unwrap()).unwrap();
    assert!(matches!(packets[0], RtcpPacket::ReceiverReport(rr) if rr.ssrc == 0x5EED));
}

#[test]
fn report_interval_is_randomized_within_half_to_one_and_a_half() {
    let t0 = Instant::now();
    let mut s = session(1, t0, 0xDEAD_BEEF);
    let first = s.poll_timeout().unwrap() - t0;
    assert!(
        first >= ms(1250) && first < ms(3750),
        "first report after {first:?}"
    );
    let mut now = t0 + first;
    let (mut min, mut max, mut total) = (Duration::MAX, Duration::ZERO, Duration::ZERO);
    for _ in 0..1000 {
        s.handle_timeout(now);
        assert!(s.poll_transmit().is_some());
        let gap = s.poll_timeout().unwrap() - now;
        assert!(gap >= ms(2500) && gap < ms(7500), "{gap:?}");
        (min, max, total) = (min.min(gap), max.max(gap), total + gap);
        now += gap;
    }
    assert!(
        min < ms(2600) && max > ms(7400),
        "spread over the range: {min:?}..{max:?}"
    );
    assert!(
        (total / 1000).abs_diff(Duration::from_secs(5)) < ms(150),
        "mean {:?}",
        total / 1000
    );

    let seeds: Vec<_> = (0..4)
        .map(|seed| session(1, t0, seed).poll_timeout())
        .collect();
    assert!(
        seeds.windows(2).all(|w| w[0] != w[1]),
        "the seed decides: {seeds:?}"
    );
    assert_eq!(
        session(1, t0, 9).poll_timeout(),
        session(1, t0, 9).poll_timeout()
    );

    let mut config = RtcpConfig::new(1, CNAME, 8000, 1);
    config.min_interval = Duration::from_secs(1);
    let s = RtcpSession::new(config, t0, wall(0.0)).unwrap();
    let first = s.poll_timeout().unwrap() - t0;
    assert!(first >= ms(250) && first < ms(750), "{first:?}");
}

#[test]
fn bye_is_sent_once_after_a_report_and_stops_the_timer() {
    let t0 = Instant::now();
    let mut a = session(0xA, t0, 1);
    let mut b = session(0xB, t0, 2);
    a.bye(t0 + ms(10));
    let datagram = a.poll_transmit().unwrap().to_vec();
    let packets = parse_compound(&datagram).unwrap();
    assert_eq!(packets.len(), 3);
    assert!(matches!(&packets[2], RtcpPacket::Bye(bye) if bye.sources.iter().eq([0xA])));
    assert_eq!(a.poll_timeout(), None);
    a.bye(t0 + ms(20));
    a.handle_timeout(t0 + Duration::from_secs(60));
    assert!(a.poll_transmit().is_none());

    assert!(!b.bye_received());
    b.handle_rtcp(t0 + ms(50), &datagram).unwrap();
    assert!(b.bye_received());
}

#[test]
fn a_new_remote_ssrc_takes_over_after_probation_and_totals_carry_on() {
    let t0 = Instant::now();
    let mut s = session(0xA, t0, 1);
    let at = |n: u32| t0 + PTIME * n;
    for n in 0..50_u16 {
        s.on_rtp_received(at(n.into()), n, u32::from(n) * 160, 0x01D);
    }
    assert_eq!(s.stats().packets_received, 49);
    s.on_rtp_received(at(50), 7000, 0, 0x5EA);
    assert_eq!(
        s.remote_ssrc(),
        Some(0x01D),
        "one stray packet does not switch"
    );
    s.on_rtp_received(at(51), 50, 50 * 160, 0x01D);
    s.on_rtp_received(at(52), 9000, 0, 0xAE1);
    s.on_rtp_received(at(53), 9001, 160, 0xAE1);
    assert_eq!(s.remote_ssrc(), Some(0xAE1), "two sequential packets do");
    for n in 2..10_u16 {
        s.on_rtp_received(at(52 + u32::from(n)), 9000 + n, u32::from(n) * 160, 0xAE1);
    }
    let stats = s.stats();
    assert_eq!((stats.packets_received, stats.packets_lost), (50 + 9, 0));
}

#[test]
fn session_jitter_uses_the_clock_rate() {
    let t0 = Instant::now();
    let mut s = session(0xA, t0, 1);
    for n in 0..400_u16 {
        let extra = if n % 2 == 1 { ms(10) } else { Duration::ZERO };
        s.on_rtp_received(
            t0 + PTIME * u32::from(n) + extra,
            n,
            u32::from(n) * 160,
            0xB,
        );
    }
    let jitter_ms = s.stats().jitter_ms;
    assert!((9.8..=10.0).contains(&jitter_ms), "{jitter_ms}");
}

#[test]
fn a_malformed_datagram_changes_nothing() {
    let t0 = Instant::now();
    let mut a = session(0xA, t0, 1);
    let mut b = session(0xB, t0, 2);
    a.on_rtp_sent(t0, 0, 160);
    let due = a.poll_timeout().unwrap();
    a.handle_timeout(due);
    let mut datagram = a.poll_transmit().unwrap().to_vec();
    datagram.extend_from_slice(&[0x80, PT_BYE, 0, 9]);
    for n in 0..5_u16 {
        b.on_rtp_received(due + PTIME * u32::from(n), n, u32::from(n) * 160, 0xA);
    }
    assert!(matches!(
        b.handle_rtcp(due, &datagram),
        Err(RtcpError::LengthOverrun { index: 2, .. })
    ));
    let next = b.poll_timeout().unwrap().max(due + ms(100));
    b.handle_timeout(next);
    let packets = parse_compound(b.poll_transmit().unwrap()).unwrap();
    let [block] = blocks_of(&packets[0])[..] else {
        panic!("{packets:?}")
    };
    assert_eq!(
        (block.lsr, block.dlsr),
        (0, 0),
        "the SR in the bad datagram was not used"
    );
}

#[test]
fn configuration_mistakes_are_refused() {
    let t0 = Instant::now();
    let new = |config| RtcpSession::new(config, t0, wall(0.0)).map(|_| ());
    assert_eq!(
        new(RtcpConfig::new(1, "x".repeat(256), 8000, 1)),
        Err(RtcpBuildError::TextTooLong(256))
    );
    assert_eq!(
        new(RtcpConfig::new(1, CNAME, 0, 1)),
        Err(RtcpBuildError::ZeroClockRate)
    );
    let mut config = RtcpConfig::new(1, CNAME, 8000, 1);
    config.min_interval = ms(50);
    assert_eq!(new(config), Err(RtcpBuildError::IntervalTooShort(ms(50))));
}

// ---- never panics ----

fn valid_compound() -> Vec<u8> {
    let mut out = Vec::new();
    let info = SenderInfo::default();
    write_report(
        &mut out,
        1,
        Some(&info),
        &[ReportBlock::default(); 2],
        CNAME,
    )
    .unwrap();
    write_bye(&mut out, &[1, 2], Some("bye")).unwrap();
    out
}

proptest::proptest! {
    #[test]
    fn parse_never_panics_on_random_bytes(bytes in vec(any::<u8>(), 0..600)) {
        let _ = parse_compound(&bytes);
    }

    #[test]
    fn parse_never_panics_after_a_valid_report(
        first in 0x80_u8..0xC0,
        pt in 192_u8..224,
        words in 0_u16..64,
        body in vec(any::<u8>(), 0..260),
    ) {
        let mut d = RR_SDES[..32].to_vec();
        d.extend_from_slice(&[first, pt]);
        d.extend_from_slice(&words.to_be_bytes());
        d.extend_from_slice(&body);
        if let Ok(packets) = parse_compound(&d) {
            for p in &packets {
                if let RtcpPacket::SenderReport(SenderReport { blocks, .. }) | RtcpPacket::ReceiverReport(ReceiverReport { blocks, .. }) = p {
                    proptest::prop_assert_eq!(blocks.iter().count(), blocks.len());
                }
            }
        }
        let t0 = Instant::now();
        let _ = session(0xA, t0, 1).handle_rtcp(t0, &d);
    }

    #[test]
    fn parse_never_panics_on_a_damaged_compound(
        flips in vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
    ) {
        let mut d = valid_compound();
        for (at, byte) in flips {
            let len = d.len();
            d[at % len] = byte;
        }
        d.truncate(cut % (d.len() + 1));
        let _ = parse_compound(&d);
    }

    #[test]
    fn report_blocks_round_trip(
        words in (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        fraction_lost in any::<u8>(),
        cumulative_lost in CUMULATIVE_LOST_MIN..=CUMULATIVE_LOST_MAX,
        info in (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()),
    ) {
        let (ssrc, ext_highest_seq, jitter, lsr, dlsr) = words;
        let block = ReportBlock { ssrc, fraction_lost, cumulative_lost, ext_highest_seq, jitter, lsr, dlsr };
        let info = SenderInfo { ntp: NtpTime(info.0), rtp_timestamp: info.1, packet_count: info.2, octet_count: info.3 };
        let mut out = Vec::new();
        write_report(&mut out, ssrc, Some(&info), &[block], CNAME).unwrap();
        let packets = parse_compound(&out).unwrap();
        let RtcpPacket::SenderReport(sr) = &packets[0] else { panic!("{packets:?}") };
        proptest::prop_assert_eq!(sr.sender_info, info);
        proptest::prop_assert_eq!(blocks_of(&packets[0]), vec![block]);
    }

    #[test]
    fn in_order_streams_with_gaps_count_exactly(
        base in any::<u16>(),
        gaps in vec(1_u16..MAX_DROPOUT, 0..300),
    ) {
        // 0 and 1 end the probation; then the gaps, across wraps wherever `base` puts them.
        let mut offsets = vec![0_u32, 1];
        for gap in gaps {
            offsets.push(offsets[offsets.len() - 1] + u32::from(gap));
        }
        let mut s = ReceiverStats::new();
        let checks = feed(&mut s, offsets.iter().map(|&o| base.wrapping_add(o as u16)));
        proptest::prop_assert!(checks[1..].iter().all(|&c| c == Valid), "{:?}", checks);
        let highest = offsets[offsets.len() - 1];
        let received = offsets.len() as u64 - 1;
        proptest::prop_assert_eq!(s.ext_highest_seq(), u32::from(base) + highest);
        proptest::prop_assert_eq!((s.expected(), s.received()), (u64::from(highest), received));
        let block = s.report_block(1, 0, 0);
        let lost = i64::from(highest) - received as i64;
        proptest::prop_assert_eq!(i64::from(block.cumulative_lost), lost);
        proptest::prop_assert_eq!(i64::from(block.fraction_lost), lost * 256 / i64::from(highest));
    }
}
