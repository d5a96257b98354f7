//! Property tests: no input panics the parser.

use super::packet::RR_SDES;
use super::stats::feed;
use super::*;
use proptest::collection::vec;
use proptest::prelude::any;
use SeqCheck::Valid;

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
