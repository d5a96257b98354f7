//! The relay: DTMF payload types, and RTCP on both legs over real loopback sockets.

use super::*;

#[test]
fn telephone_events_take_the_receiving_sides_payload_type() {
    let pts = Some(EventPts {
        origin_pt: 101,
        carrier_pt: 96,
    });
    let mut event = [
        0x80,
        0x80 | 0x65,
        0,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        9,
        1,
        0x8a,
        0,
        160,
    ];
    map_events(pts, &mut event, MediaSide::Carrier);
    assert_eq!(event[1], 0x80 | 0x60, "marker kept, 101 -> 96");
    assert_eq!(
        &event[12..],
        [1, 0x8a, 0, 160],
        "the event itself untouched"
    );
    map_events(pts, &mut event, MediaSide::Origin);
    assert_eq!(event[1], 0x80 | 0x65, "and back");
    let mut audio = [0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9];
    map_events(pts, &mut audio, MediaSide::Carrier);
    assert_eq!(audio[1], 0, "audio untouched");
    map_events(None, &mut event, MediaSide::Carrier);
    assert_eq!(event[1], 0x80 | 0x65, "no mapping, no change");
}

/// Four ports `p, p+1, p+2, p+3` (p even, from `start` on) that are free now.
fn free_quad(start: u16) -> u16 {
    for p in (start..start + 1000).step_by(4) {
        let socks: Vec<_> = (p..p + 4)
            .map(|q| std::net::UdpSocket::bind(("127.0.0.1", q)))
            .collect();
        if socks.iter().all(Result::is_ok) {
            return p;
        }
    }
    panic!("no four free ports from {start}");
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xFF; 160]);
    p
}

/// A peer: its RTP and RTCP sockets.
struct Peer {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Peer {
    async fn at(port: u16) -> Self {
        Self {
            rtp: UdpSocket::bind(("127.0.0.1", port)).await.unwrap(),
            rtcp: UdpSocket::bind(("127.0.0.1", port + 1)).await.unwrap(),
        }
    }
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one call's RTCP story: reports both ways, the peer's report, BYE"
)]
async fn each_leg_gets_reports_about_what_it_sent_and_what_dcx_sent_it() {
    use dcx_sip::rtp::rtcp::{parse_compound, write_report, RtcpPacket};
    let ours = free_quad(41_000);
    let anchor = Anchor {
        ip: "127.0.0.1".parse().unwrap(),
        origin_port: ours,
        carrier_port: ours + 2,
    };
    let theirs = free_quad(42_000);
    let (origin, carrier) = (Peer::at(theirs).await, Peer::at(theirs + 2).await);
    let (tx, rx) = mpsc::unbounded_channel();
    let stats = Arc::new(RelayStats::default());
    let fast = RtcpSetup {
        interval: std::time::Duration::from_millis(200),
    };
    let relay = tokio::spawn(relay(
        anchor,
        rx,
        stats.clone(),
        (0x1234_5678_9abc_def0, fast),
    ));
    for (side, port) in [
        (MediaSide::Origin, theirs),
        (MediaSide::Carrier, theirs + 2),
    ] {
        tx.send(MediaNews {
            side,
            remote: SocketAddr::from(([127, 0, 0, 1], port)),
            transcode: None,
            events: None,
        })
        .unwrap();
    }
    // 40 packets each way, 10 ms apart; packet 20 from the carrier is "lost".
    let mut to_carrier_ssrc = None;
    let mut buf = [0u8; 2048];
    for seq in 1..=40u16 {
        origin
            .rtp
            .send_to(&rtp(seq, 0x0000_0A0A), ("127.0.0.1", ours))
            .await
            .unwrap();
        if seq != 20 {
            carrier
                .rtp
                .send_to(&rtp(seq, 0x0000_0C0C), ("127.0.0.1", ours + 2))
                .await
                .unwrap();
        }
        if let Ok(Ok(n)) = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            carrier.rtp.recv(&mut buf),
        )
        .await
        {
            to_carrier_ssrc = Some(u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]));
            assert!(n > 12);
        }
    }
    let to_carrier_ssrc = to_carrier_ssrc.expect("RTP reached the carrier");
    assert_ne!(
        to_carrier_ssrc, 0x0000_0A0A,
        "dcx's own SSRC toward the carrier"
    );

    // Each side receives a sender report for dcx's stream and a block about its own.
    for (peer, sent_ssrc, lost) in [(&carrier, 0x0000_0C0Cu32, 1), (&origin, 0x0000_0A0A, 0)] {
        let mut report = None;
        for _ in 0..10 {
            let n =
                tokio::time::timeout(std::time::Duration::from_secs(2), peer.rtcp.recv(&mut buf))
                    .await
                    .expect("a report within 2 s")
                    .unwrap();
            let packets = parse_compound(&buf[..n]).unwrap();
            if let Some(RtcpPacket::SenderReport(sr)) = packets.first() {
                if let Some(block) = sr.blocks.iter().find(|b| b.ssrc == sent_ssrc) {
                    report = Some((sr.ssrc, sr.sender_info.packet_count, block));
                    break;
                }
            }
        }
        let (ssrc, sent, block) = report.expect("an SR with a block about the side's stream");
        if sent_ssrc == 0x0000_0C0C {
            assert_eq!(
                ssrc, to_carrier_ssrc,
                "the SR speaks for the SSRC the RTP carried"
            );
        }
        assert!(sent >= 30, "dcx counted what it sent: {sent}");
        assert_eq!(block.ext_highest_seq, 40);
        assert_eq!(block.cumulative_lost, lost, "{block:?}");
    }

    // The carrier's own report and a malformed datagram reach dcx's RTCP port.
    let mut rr = Vec::new();
    write_report(&mut rr, 0x0000_0C0C, None, &[], "carrier@test").unwrap();
    carrier
        .rtcp
        .send_to(&rr, ("127.0.0.1", ours + 3))
        .await
        .unwrap();
    carrier
        .rtcp
        .send_to(b"not rtcp", ("127.0.0.1", ours + 3))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while stats.rtcp_malformed.load(Relaxed) == 0 || stats.rtcp_received.load(Relaxed) == 0 {
        assert!(std::time::Instant::now() < deadline, "{}", stats.to_json());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(stats.rtcp_sent.load(Relaxed) >= 2);

    // Hang-up: the relay says BYE on both legs and stops.
    drop(tx);
    relay.await.unwrap();
    let mut bye = false;
    while let Ok(Ok(n)) = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        carrier.rtcp.recv(&mut buf),
    )
    .await
    {
        bye |= parse_compound(&buf[..n])
            .unwrap()
            .iter()
            .any(|p| matches!(p, RtcpPacket::Bye(_)));
    }
    assert!(bye, "a BYE at the end of the call");
}
