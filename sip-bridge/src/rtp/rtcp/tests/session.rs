//! The session: two ends over a link, schedule, RTT, BYE, source changes.

use super::*;

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
