//! What must not get through: datagrams that belong to no one, and a browser whose DTLS
//! certificate is not the one its offer promised.

use std::net::SocketAddr;

use super::harness::frame;
use super::harness::{LinkConfig, SplitMix64, World, FRAME_INTERVAL, FRAME_TICKS};
use super::{assert_all_in_order, client_received, client_tag, core_received, core_tag, stream};
use crate::webrtc::{AudioCodec, DisconnectReason, MediaEvent};

const STUN_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// A STUN binding request with a USERNAME and a (bogus) MESSAGE-INTEGRITY.
fn stun_request(rng: &mut SplitMix64, username: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    let mut push = |kind: u16, value: &[u8]| {
        attrs.extend_from_slice(&kind.to_be_bytes());
        attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attrs.extend_from_slice(value);
        attrs.resize(attrs.len().next_multiple_of(4), 0);
    };
    push(0x0006, username.as_bytes());
    push(0x0008, &rng.bytes(20));
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    msg.extend_from_slice(&STUN_COOKIE);
    msg.extend_from_slice(&rng.bytes(12));
    msg.extend_from_slice(&attrs);
    msg
}

fn answer_ufrag(answer: &str) -> String {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .to_string()
}

/// Garbage that no peer may accept, from a stranger: random bytes (some shaped like
/// each kind of datagram the socket demultiplexes), truncated STUN, STUN for a ufrag
/// no peer has.
fn stranger_garbage(rng: &mut SplitMix64, known_ufrag: &str) -> Vec<u8> {
    match rng.below(6) {
        0 => {
            let len = rng.below(300) as usize;
            rng.bytes(len)
        }
        1 => {
            // Shaped like STUN, DTLS, RTP or RTCP by its first byte.
            let len = 20 + rng.below(200) as usize;
            let mut d = rng.bytes(len);
            d[0] = [0x00, 0x01, 22, 23, 0x80, 0x80][rng.below(6) as usize];
            if d[0] == 0x80 && rng.chance(0.5) {
                d[1] = 200; // RTCP sender report
            }
            d
        }
        2 | 3 => {
            // A STUN request for a real peer, cut short.
            let full = stun_request(rng, &format!("{known_ufrag}:zzzz"));
            let cut = 1 + rng.below(full.len() as u64 - 1) as usize;
            full[..cut].to_vec()
        }
        4 => stun_request(rng, "nobody:zzzz"),
        _ => Vec::new(),
    }
}

#[test]
fn garbage_is_counted_and_dropped_while_both_peers_keep_flowing() {
    let mut world = World::new(LinkConfig::CLEAN, 6);
    let (a, peer_a) = world.add_client("198.51.100.1:5000");
    let (b, peer_b) = world.add_client("198.51.100.2:6000");
    world.connect(a, peer_a);
    world.connect(b, peer_b);
    let ufrag_a = answer_ufrag(&world.answers[a]);
    let addr_a = world.clients[a].addr;
    let mut rng = SplitMix64::new(0xBAD);

    let frames = 100;
    let t0 = world.now;
    let mut from_strangers = 0;
    for k in 0..frames {
        world.run_until(t0 + FRAME_INTERVAL * k);
        let now = world.now;
        let rtp_time = u64::from(k) * FRAME_TICKS;
        for (c, peer) in [(a, peer_a), (b, peer_b)] {
            world.clients[c].send_opus(now, &mut world.net, rtp_time, &frame(client_tag(c), k));
            world
                .core
                .write_audio(now, peer, AudioCodec::Opus, rtp_time, frame(core_tag(c), k))
                .unwrap();
            world.flush();
        }
        for _ in 0..5 {
            let stranger = SocketAddr::from((
                [192, 0, 2, rng.below(250) as u8 + 1],
                40_000 + rng.below(1000) as u16,
            ));
            let datagram = stranger_garbage(&mut rng, &ufrag_a);
            world.inject(stranger, &datagram);
            from_strangers += 1;
        }
        // A forged check naming peer A's ufrag: str0m's `accepts` verifies its
        // MESSAGE-INTEGRITY, so it reaches no peer either.
        let stranger = SocketAddr::from(([192, 0, 2, 77], 41_000));
        let forged = stun_request(&mut rng, &format!("{ufrag_a}:zzzz"));
        world.inject(stranger, &forged);
        from_strangers += 1;
        // Random bytes shaped as RTP from A's own address: routed to A, whose SRTP
        // authentication drops them.
        let mut fake_rtp = rng.bytes(60);
        fake_rtp[0] = 0x80;
        fake_rtp[1] = 111;
        world.inject(addr_a, &fake_rtp);
    }
    world.run_for(FRAME_INTERVAL * 20);

    let counters = world.core.counters();
    assert_eq!(
        counters.datagrams_malformed + counters.datagrams_unrouted,
        from_strangers,
        "{counters:?}"
    );
    assert!(
        counters.datagrams_malformed > 0 && counters.datagrams_unrouted > 0,
        "{counters:?}"
    );
    // Strangers leave nothing behind in the demultiplexer.
    assert!(
        world.core.remembered_addrs() <= 2,
        "{}",
        world.core.remembered_addrs()
    );
    for (c, peer) in [(a, peer_a), (b, peer_b)] {
        assert_all_in_order(&core_received(&world, peer, c), frames, "browser -> core");
        assert_all_in_order(&client_received(&world, c), frames, "core -> browser");
    }
    assert!(world.disconnects().is_empty(), "{:?}", world.disconnects());
}

/// The offer with its certificate fingerprint changed in its first byte: what a man in
/// the middle presenting his own certificate would look like.
fn forge_fingerprint(offer: String) -> String {
    const PREFIX: &str = "a=fingerprint:sha-256 ";
    let mut offer = offer;
    let at = offer
        .find(PREFIX)
        .expect("the offer has a sha-256 fingerprint")
        + PREFIX.len();
    let forged_first = if offer[at..].starts_with("00") {
        "FF"
    } else {
        "00"
    };
    offer.replace_range(at..at + 2, forged_first);
    offer
}

#[test]
fn a_certificate_that_does_not_match_the_offer_never_connects_and_others_carry_on() {
    let mut world = World::new(LinkConfig::CLEAN, 7);
    let (a, peer_a) = world.add_client("198.51.100.1:5000");
    let (m, peer_m) = world.add_client_with("198.51.100.66:6666", forge_fingerprint);
    world.connect(a, peer_a);
    world.run_until_cond(std::time::Duration::from_secs(10), |w| {
        !w.disconnects().is_empty()
    });

    assert_eq!(
        world.disconnects(),
        [&MediaEvent::PeerDisconnected(
            peer_m,
            DisconnectReason::CertificateMismatch
        )]
    );
    assert!(
        !world.connected(peer_m),
        "the impostor was reported connected"
    );
    assert!(!world.clients[m].rtc.is_connected());
    assert_eq!(world.core.peer_count(), 1);

    // The honest browser is unaffected, before and after.
    stream(&mut world, &[(a, peer_a)], 50);
    assert_all_in_order(&core_received(&world, peer_a, a), 50, "browser -> core");
    assert_all_in_order(&client_received(&world, a), 50, "core -> browser");
    assert!(world.audio_from(peer_m).is_empty());
    assert_eq!(world.disconnects().len(), 1);
}
