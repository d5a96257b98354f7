//! Packets: round trips against hand-built datagrams, and malformed input.

use super::*;

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
pub(super) const RR_SDES: [u8; 48] = [
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
