//! A browser's session end to end: answer, ICE-lite, DTLS, audio both ways, the end.

use std::time::Duration;

use str0m::Event;

use super::harness::{frame, parse_frame, Client, LinkConfig, World, FRAME_INTERVAL};
use super::{assert_all_in_order, client_received, core_received, stream, stream_from};
use crate::webrtc::{
    AudioCodec, DisconnectReason, MediaCore, MediaError, MediaEvent, WebRtcConfig,
};

#[test]
fn answer_is_ice_lite_with_one_host_candidate_and_opus_with_fec() {
    let mut world = World::new(LinkConfig::CLEAN, 1);
    let (client, offer) = Client::new(world.now, "198.51.100.1:5000".parse().unwrap(), true);
    let (_, answer) = world.core.add_peer(world.now, &offer).unwrap();
    drop(client);
    assert!(answer.contains("a=ice-lite"), "{answer}");
    let candidates: Vec<_> = answer
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    assert_eq!(candidates.len(), 1, "{answer}");
    assert!(
        candidates[0].contains("203.0.113.10 10000 typ host"),
        "{answer}"
    );
    assert!(answer.contains("opus/48000/2"), "{answer}");
    assert!(answer.contains("useinbandfec=1"), "{answer}");
    // The browser offered PCMU, so it is answered; it offered no PCMA, so that is not.
    assert!(answer.contains("PCMU/8000"), "{answer}");
    assert!(!answer.contains("PCMA/8000"), "{answer}");
    assert!(answer.contains("telephone-event/48000"), "{answer}");
    assert!(answer.contains("a=fingerprint:sha-256"), "{answer}");
    // Audio only: no transport-wide congestion control (no TWCC feedback every 50 ms per
    // peer), whatever the browser offers; the mid stays for BUNDLE.
    assert!(
        offer.contains("transport-wide-cc"),
        "the client offers it: {offer}"
    );
    assert!(!answer.contains("transport-wide-cc"), "{answer}");
    assert!(
        answer.contains("urn:ietf:params:rtp-hdrext:sdes:mid"),
        "{answer}"
    );
}

#[test]
fn browser_connects_and_audio_flows_both_ways() {
    let mut world = World::new(LinkConfig::CLEAN, 2);
    let (c, peer) = world.add_client("198.51.100.1:5000");
    assert!(!world.connected(peer));
    world.connect(c, peer);

    stream(&mut world, &[(c, peer)], 50);

    // Lossless and in order: every frame, unchanged, with RTP time and sequence
    // numbers each one step up.
    assert_all_in_order(&core_received(&world, peer, c), 50, "browser -> core");
    let audio = world.audio_from(peer);
    for pair in audio.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1, "ext_seq steps by one");
        assert_eq!(pair[1].1, pair[0].1 + 960, "rtp_time steps by 20 ms");
    }
    assert!(world.events.iter().all(|(_, e)| !matches!(
        e,
        MediaEvent::Audio { codec, .. } if *codec != AudioCodec::Opus
    )));
    assert_all_in_order(&client_received(&world, c), 50, "core -> browser");
    // A frame written leaves in the same call, not at the core's next timeout.
    world
        .core
        .write_audio(world.now, peer, AudioCodec::Opus, 50 * 960, vec![1; 40])
        .unwrap();
    assert!(world.core.poll_transmit().is_some());
    assert!(world.disconnects().is_empty());
    assert_eq!(world.core.counters().datagrams_unrouted, 0);
    assert_eq!(world.core.counters().datagrams_malformed, 0);
}

#[test]
fn two_browsers_share_the_core_over_a_lossy_jittery_link() {
    let lossy = LinkConfig {
        latency: Duration::from_millis(30),
        jitter: Duration::from_millis(45),
        loss: 0.05,
    };
    let mut world = World::new(lossy, 0x5EED);
    let (a, peer_a) = world.add_client("198.51.100.1:5000");
    let (b, peer_b) = world.add_client("198.51.100.2:6000");
    world.connect(a, peer_a);
    world.connect(b, peer_b);

    stream(&mut world, &[(a, peer_a), (b, peer_b)], 200);

    // Each side gets only its own frames, unaltered and at their RTP times (checked
    // by core_received/client_received), nearly all of them, some out of order.
    let mut reordered = false;
    for (c, peer) in [(a, peer_a), (b, peer_b)] {
        for (what, got) in [
            ("browser -> core", core_received(&world, peer, c)),
            ("core -> browser", client_received(&world, c)),
        ] {
            assert!(
                got.len() >= 180 && got.len() < 200,
                "{what}: {} of 200",
                got.len()
            );
            reordered |= got.windows(2).any(|p| p[1] < p[0]);
        }
        let audio = world.audio_from(peer);
        assert!(audio.iter().any(|(_, _, contiguous, _)| !contiguous));
    }
    assert!(reordered, "the jitter should have reordered some frames");
    assert!(world.net.lost > 0);
    assert!(world.disconnects().is_empty());
    assert_eq!(world.core.peer_count(), 2);
}

#[test]
fn removing_a_peer_closes_it_and_reports_it_once() {
    let mut world = World::new(LinkConfig::CLEAN, 3);
    let (c, peer) = world.add_client("198.51.100.1:5000");
    world.connect(c, peer);
    world.core.remove_peer(peer).unwrap();
    world.flush();
    world.run_for(Duration::from_millis(200));

    assert_eq!(
        world.disconnects(),
        [&MediaEvent::PeerDisconnected(
            peer,
            DisconnectReason::Removed
        )]
    );
    assert_eq!(world.core.peer_count(), 0);
    // The browser was told (DTLS close_notify), not left to time out.
    assert!(world.clients[c]
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Closed)));
    assert!(matches!(
        world.core.write_audio(world.now, peer, AudioCodec::Opus, 0, vec![1]),
        Err(MediaError::UnknownPeer(p)) if p == peer
    ));
    assert!(matches!(
        world.core.remove_peer(peer),
        Err(MediaError::UnknownPeer(_))
    ));
}

#[test]
fn a_browser_that_never_comes_is_given_up() {
    let mut world = World::new(LinkConfig::CLEAN, 4);
    let (_, offer) = Client::new(world.now, "198.51.100.1:5000".parse().unwrap(), false);
    let (peer, _answer) = world.core.add_peer(world.now, &offer).unwrap();
    let added = world.now;
    world.run_until_cond(Duration::from_secs(40), |w| !w.disconnects().is_empty());

    // str0m's ICE-lite agent gives up first when no check ever comes; the connect
    // timeout is the backstop.
    let gone = world.disconnects();
    assert!(
        matches!(
            gone[..],
            [MediaEvent::PeerDisconnected(p, DisconnectReason::IceDisconnected | DisconnectReason::ConnectTimeout)] if *p == peer
        ),
        "{gone:?}"
    );
    assert!(world.now - added <= Duration::from_secs(30));
    assert_eq!(world.core.peer_count(), 0);
    assert_eq!(world.core.poll_timeout(), None);
}

#[test]
fn a_browser_whose_dtls_never_completes_is_given_up_after_the_connect_timeout() {
    let mut world = World::new(LinkConfig::CLEAN, 4);
    world.net.drop_dtls();
    let (c, peer) = world.add_client("198.51.100.1:5000");
    let added = world.now;
    world.run_until_cond(Duration::from_secs(40), |w| !w.disconnects().is_empty());

    assert_eq!(
        world.disconnects(),
        [&MediaEvent::PeerDisconnected(
            peer,
            DisconnectReason::ConnectTimeout
        )]
    );
    let after = world.now - added;
    assert!(
        after >= Duration::from_secs(30) && after < Duration::from_secs(31),
        "{after:?}"
    );
    assert!(!world.connected(peer));
    assert!(!world.clients[c].rtc.is_connected());
}

#[test]
fn offers_without_usable_audio_are_refused_and_leave_nothing_behind() {
    let mut world = World::new(LinkConfig::CLEAN, 5);
    assert!(matches!(
        world.core.add_peer(world.now, "this is not sdp"),
        Err(MediaError::BadOffer(_))
    ));

    // A browser that only offers video.
    let mut rtc = str0m::Rtc::builder().build(world.now);
    let mut change = rtc.sdp_api();
    change.add_media(
        str0m::media::MediaKind::Video,
        str0m::media::Direction::SendRecv,
        None,
        None,
        None,
    );
    let (offer, _) = change.apply().unwrap();
    let refused = world.core.add_peer(world.now, &offer.to_sdp_string());
    assert!(
        matches!(
            refused,
            Err(MediaError::NoCommonCodec | MediaError::OfferRefused(_))
        ),
        "{refused:?}"
    );
    assert_eq!(world.core.peer_count(), 0);
    assert_eq!(world.core.counters().peers_added, 0);
    assert_eq!(world.core.poll_timeout(), None);
}

#[test]
fn pcmu_offered_by_the_browser_flows_as_pcmu_both_ways() {
    use str0m::format::Codec;
    let mut world = World::new(LinkConfig::CLEAN, 10);
    let (c, peer) = world.add_client_offering("198.51.100.1:5000", true, |offer| offer);
    world.connect(c, peer);

    let t0 = world.now;
    for k in 0..20u8 {
        world.run_until(t0 + FRAME_INTERVAL * u32::from(k));
        let now = world.now;
        let rtp_time = u64::from(k) * 160;
        world.clients[c].send(now, &mut world.net, Codec::PCMU, rtp_time, &[k; 160]);
        world
            .core
            .write_audio(now, peer, AudioCodec::Pcmu, rtp_time, vec![0x80 | k; 160])
            .unwrap();
        world.flush();
    }
    world.run_for(Duration::from_millis(200));

    let got: Vec<_> = world
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            MediaEvent::Audio {
                codec,
                rtp_time,
                payload,
                ..
            } => Some((*codec, *rtp_time, payload.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 20);
    for (k, (codec, rtp_time, payload)) in got.iter().enumerate() {
        assert_eq!(*codec, AudioCodec::Pcmu);
        assert_eq!(*payload, vec![k as u8; 160]);
        assert_eq!(rtp_time - got[0].1, k as u64 * 160, "8 kHz RTP clock");
    }
    let back: Vec<_> = world.clients[c]
        .media()
        .map(|d| (d.params.spec().codec, d.data.to_vec()))
        .collect();
    assert_eq!(back.len(), 20);
    for (k, (codec, payload)) in back.iter().enumerate() {
        assert_eq!(*codec, Codec::PCMU);
        assert_eq!(*payload, vec![0x80 | k as u8; 160]);
    }
    // PCMA was not offered, so it cannot be sent.
    assert!(matches!(
        world
            .core
            .write_audio(world.now, peer, AudioCodec::Pcma, 0, vec![0xD5; 160]),
        Err(MediaError::CodecNotNegotiated {
            codec: AudioCodec::Pcma,
            ..
        })
    ));
}

#[test]
fn a_socket_bound_to_the_unspecified_address_still_connects() {
    let mut world = World::new(LinkConfig::CLEAN, 11);
    // The shell only knows its socket's own address, 0.0.0.0:10000.
    world.core_local = "0.0.0.0:10000".parse().unwrap();
    let (c, peer) = world.add_client("198.51.100.1:5000");
    world.connect(c, peer);
    stream(&mut world, &[(c, peer)], 10);
    assert_all_in_order(&core_received(&world, peer, c), 10, "browser -> core");
    assert_all_in_order(&client_received(&world, c), 10, "core -> browser");
}

#[test]
fn every_public_ip_is_a_host_candidate_on_the_shared_port() {
    let mut config = WebRtcConfig::new("203.0.113.10".parse().unwrap(), 10_000);
    config.public_ips.push("2001:db8::10".parse().unwrap());
    let mut core = MediaCore::new(&config).unwrap();
    let now = std::time::Instant::now();
    let (_, offer) = Client::new(now, "198.51.100.1:5000".parse().unwrap(), false);
    let (_, answer) = core.add_peer(now, &offer).unwrap();
    let candidates: Vec<_> = answer
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    assert_eq!(candidates.len(), 2, "{answer}");
    assert!(candidates
        .iter()
        .any(|c| c.contains("203.0.113.10 10000 typ host")));
    assert!(candidates
        .iter()
        .any(|c| c.contains("2001:db8::10 10000 typ host")));
}

#[test]
fn unusable_configurations_are_refused() {
    let good = WebRtcConfig::new("203.0.113.10".parse().unwrap(), 10_000);
    let mut no_ip = good.clone();
    no_ip.public_ips.clear();
    let mut no_port = good.clone();
    no_port.port = 0;
    let mut unspecified = good.clone();
    unspecified.public_ips = vec!["0.0.0.0".parse().unwrap()];
    let mut no_time = good.clone();
    no_time.connect_timeout = Duration::ZERO;
    for bad in [no_ip, no_port, unspecified, no_time] {
        assert!(
            matches!(MediaCore::new(&bad), Err(MediaError::InvalidConfig(_))),
            "{bad:?}"
        );
    }
    assert!(MediaCore::new(&good).is_ok());
}

#[test]
fn a_bridged_call_asks_the_browser_for_narrowband_opus() {
    let mut world = World::new(LinkConfig::CLEAN, 7);
    let (mut client, offer) = Client::new(world.now, "198.51.100.7:5000".parse().unwrap(), true);
    let (_, answer) = world.core.add_peer_with(world.now, &offer, true).unwrap();
    let fmtp = answer
        .lines()
        .find(|l| l.starts_with("a=fmtp:") && l.contains("useinbandfec=1"))
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(
        fmtp.ends_with("maxplaybackrate=8000;sprop-maxcapturerate=8000"),
        "{fmtp}"
    );
    // The browser's side (str0m here) takes the edited answer.
    client.accept_answer(&answer);
}

#[test]
fn audio_written_before_the_browser_connects_is_not_sent_later_as_a_burst() {
    let mut world = World::new(LinkConfig::CLEAN, 21);
    let (c, peer) = world.add_client("198.51.100.1:5000");
    // The call control may write before ICE and DTLS are up (early media): those frames
    // are dropped, not queued until SRTP comes up.
    for k in 0..10u32 {
        world
            .core
            .write_audio(
                world.now,
                peer,
                AudioCodec::Opus,
                u64::from(k) * 960,
                frame(0xEE, k),
            )
            .unwrap();
    }
    world.connect(c, peer);
    world.run_for(Duration::from_millis(200));
    assert!(
        world.clients[c].media().next().is_none(),
        "nothing written before the connect arrives"
    );

    stream(&mut world, &[(c, peer)], 20);
    let received: Vec<_> = world.clients[c].media().collect();
    assert_eq!(received.len(), 20);
    assert!(received.iter().all(|d| parse_frame(&d.data).0 != 0xEE));
    // One packet per frame, numbered by the core one step at a time.
    for pair in received.windows(2) {
        assert_eq!(
            **pair[1].seq_range.start(),
            **pair[0].seq_range.start() + 1,
            "sequence numbers step by one"
        );
    }
}

#[test]
fn an_ice_restart_from_a_new_address_keeps_the_session_and_its_audio() {
    let mut world = World::new(LinkConfig::CLEAN, 23);
    let (c, peer) = world.add_client("198.51.100.1:5000");
    world.connect(c, peer);
    stream(&mut world, &[(c, peer)], 20);
    let before = world.audio_from(peer).len();

    // The browser's network changed: new address, ICE restart, new offer.
    let new_addr = "203.0.113.7:6000".parse().unwrap();
    let offer = world.clients[c].ice_restart_to(new_addr);
    world.moved(c);
    let answer = world.core.renegotiate(world.now, peer, &offer).unwrap();
    assert!(answer.contains("a=ice-lite"), "{answer}");
    let old_ufrag = world.answers[c]
        .lines()
        .find(|l| l.starts_with("a=ice-ufrag:"))
        .unwrap()
        .to_owned();
    assert!(
        !answer.contains(&old_ufrag),
        "new local credentials: {answer}"
    );
    world.clients[c].accept_answer(&answer);
    world.run_for(Duration::from_secs(2));
    assert!(world.disconnects().is_empty(), "{:?}", world.disconnects());

    let heard_before = world.clients[c].media().count();
    stream_from(&mut world, &[(c, peer)], 20, 20);
    assert_eq!(
        world.audio_from(peer).len(),
        before + 20,
        "the core hears the new address"
    );
    assert!(
        world.clients[c].media().count() >= heard_before + 20,
        "the browser hears the core at its new address"
    );
    assert_eq!(world.core.counters().datagrams_unrouted, 0);
}
