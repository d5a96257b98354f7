//! Participants forwarding to each other: the bytes sent are the bytes received, a mute
//! stops a side, leaving stops a room and no other, and every subscriber's stream stays
//! one timeline whatever happens upstream.

use std::time::{Duration, Instant};

use str0m::media::MediaData;

use super::{
    assert_hears, assert_not_hears, ms, payloads, Scene, AGENT_HZ, CUSTOMER_HZ, SUPERVISOR_HZ,
};
use crate::sfu::{Role, SupervisorMode};

/// Checks that `received` is one stream: sequence numbers one apart, and each frame's
/// RTP time after the previous one by the wall time between them (between sends, so
/// between arrivals over a link of constant latency), and by one 20 ms frame at least,
/// to within a millisecond. Returns how many frames there were.
fn assert_one_timeline(received: &[(Instant, &MediaData)], who: &str) -> usize {
    for pair in received.windows(2) {
        let ((at_a, a), (at_b, b)) = (pair[0], pair[1]);
        assert_eq!(
            **b.seq_range.start(),
            **a.seq_range.end() + 1,
            "{who}: sequence gap"
        );
        let ticks = b.time.numer().checked_sub(a.time.numer());
        let ticks = ticks.unwrap_or_else(|| panic!("{who}: RTP time went back"));
        let media_us = ticks * 1_000_000 / 48_000;
        let wall_us = (at_b - at_a).as_micros() as u64;
        let expected_us = wall_us.max(20_000);
        assert!(
            media_us.abs_diff(expected_us) <= 1_000,
            "{who}: RTP time moved {media_us} us for {wall_us} us of wall time"
        );
    }
    received.len()
}

#[test]
fn two_participants_hear_each_other_from_the_very_bytes_sent() {
    let mut s = Scene::new(1);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    s.room(&[(agent, Role::Participant), (customer, Role::Participant)]);
    let start = s.now();
    s.talk(Duration::from_secs(2));
    s.world.run_for(ms(100));
    let (settled, end) = (start + ms(300), s.now());

    let agent_heard = s.heard(agent, settled, end);
    assert_hears(&agent_heard, CUSTOMER_HZ, "agent");
    assert_not_hears(&agent_heard, AGENT_HZ, "agent (its own voice)");
    let customer_heard = s.heard(customer, settled, end);
    assert_hears(&customer_heard, AGENT_HZ, "customer");
    assert_not_hears(&customer_heard, CUSTOMER_HZ, "customer (its own voice)");

    // Forwarded, not transcoded: every frame reaches the other side, byte for byte, in
    // order, on one timeline.
    assert_eq!(payloads(&s.received(agent)), s.voices[customer].sent);
    assert_eq!(payloads(&s.received(customer)), s.voices[agent].sent);
    assert_eq!(assert_one_timeline(&s.received(agent), "agent"), 100);
    assert_eq!(assert_one_timeline(&s.received(customer), "customer"), 100);
    let counters = s.sfu().counters();
    assert_eq!(counters.frames_forwarded, 200);
    assert_eq!(counters.frames_mixed, 0);
    assert_eq!(counters.write_errors, 0);
    // The rooms consumed the audio; the caller saw none of it.
    assert!(s.world.audio_from(s.peer(agent)).is_empty());
}

#[test]
fn a_shards_peers_and_rooms_carry_its_number_and_forward_as_on_shard_zero() {
    let mut s = Scene::on_shard(11, 7);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    let room = s.room(&[(agent, Role::Participant), (customer, Role::Participant)]);
    let (a, c) = (s.peer(agent), s.peer(customer));
    assert_eq!((a.shard(), c.shard(), room.shard()), (7, 7, 7));
    assert_eq!(
        (a.to_string(), room.to_string()),
        ("peer-7.1".into(), "room-7.1".into())
    );
    assert_ne!(a, c);
    s.talk(Duration::from_secs(1));
    s.world.run_for(ms(100));
    assert_eq!(payloads(&s.received(agent)), s.voices[customer].sent);
    assert_eq!(payloads(&s.received(customer)), s.voices[agent].sent);
    assert_eq!(s.sfu().counters().frames_forwarded, 100);
}

#[test]
fn a_mute_stops_that_side_only_and_the_stream_resumes_on_its_timeline() {
    let mut s = Scene::new(2);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    s.room(&[(agent, Role::Participant), (customer, Role::Participant)]);
    s.talk(Duration::from_secs(1));
    let muted_at = s.now();
    let customer_peer = s.peer(customer);
    s.sfu().set_muted(muted_at, customer_peer, true).unwrap();
    s.talk(Duration::from_secs(1));
    let unmuted_at = s.now();
    s.sfu().set_muted(unmuted_at, customer_peer, false).unwrap();
    s.talk(Duration::from_secs(1));
    s.world.run_for(ms(100));
    let end = s.now();

    // Nothing of the customer reaches the agent while muted (a frame in flight aside).
    assert_eq!(s.frames_between(agent, muted_at + ms(15), unmuted_at), 0);
    assert_hears(
        &s.heard(agent, unmuted_at + ms(200), end),
        CUSTOMER_HZ,
        "agent after the unmute",
    );
    // The muted customer still hears the agent.
    assert_hears(
        &s.heard(customer, muted_at + ms(200), unmuted_at),
        AGENT_HZ,
        "muted customer",
    );
    assert_eq!(s.frames_between(customer, muted_at, unmuted_at), 50);
    // The agent's stream paused and resumed one second later on the same timeline.
    assert_one_timeline(&s.received(agent), "agent");
}

#[test]
fn muting_a_whispering_supervisor_returns_the_agent_to_forwarding() {
    let mut s = Scene::new(3);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    let supervisor = s.add("198.51.100.3:5000", SUPERVISOR_HZ);
    s.room(&[
        (agent, Role::Participant),
        (customer, Role::Participant),
        (supervisor, Role::Supervisor),
    ]);
    let now = s.now();
    let (agent_peer, supervisor_peer) = (s.peer(agent), s.peer(supervisor));
    let whisper = SupervisorMode::Whisper { to: agent_peer };
    s.sfu()
        .set_supervisor_mode(now, supervisor_peer, whisper)
        .unwrap();
    s.talk(Duration::from_secs(1));
    let muted_at = s.now();
    assert_hears(
        &s.heard(agent, muted_at.checked_sub(ms(600)).unwrap(), muted_at),
        SUPERVISOR_HZ,
        "agent, whispered to",
    );
    s.sfu().set_muted(muted_at, supervisor_peer, true).unwrap();
    s.talk(Duration::from_secs(1));
    let end = s.now();

    let after = s.heard(agent, muted_at + ms(300), end);
    assert_hears(&after, CUSTOMER_HZ, "agent");
    assert_not_hears(&after, SUPERVISOR_HZ, "agent, supervisor muted");
    // Forwarded again: what arrives now is the customer's frames themselves.
    let sent = &s.voices[customer].sent;
    let received = s.received(agent);
    let late: Vec<_> = received
        .iter()
        .filter(|(at, _)| *at > muted_at + ms(15))
        .collect();
    assert!(late.len() >= 45, "{} frames", late.len());
    assert!(late
        .iter()
        .all(|(_, d)| sent.iter().any(|p| p[..] == d.data[..])));
    assert_one_timeline(&received, "agent");
}

#[test]
fn leaving_a_room_stops_its_forwarding_and_leaves_other_rooms_alone() {
    let mut s = Scene::new(4);
    let a1 = s.add("198.51.100.1:5000", AGENT_HZ);
    let c1 = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    let a2 = s.add("198.51.100.3:5000", AGENT_HZ);
    let c2 = s.add("198.51.100.4:5000", CUSTOMER_HZ);
    let room1 = s.room(&[(a1, Role::Participant), (c1, Role::Participant)]);
    let room2 = s.room(&[(a2, Role::Participant), (c2, Role::Participant)]);
    s.talk(Duration::from_secs(1));
    let left_at = s.now();
    let a1_peer = s.peer(a1);
    assert_eq!(s.sfu().leave(left_at, a1_peer).unwrap(), room1);
    s.talk(Duration::from_secs(1));
    s.world.run_for(ms(100));
    let end = s.now();

    // Room 1 went quiet both ways at once; the peer that left is still connected.
    assert_eq!(s.frames_between(c1, left_at + ms(15), end), 0);
    assert_eq!(s.frames_between(a1, left_at + ms(15), end), 0);
    assert_eq!(
        s.frames_between(c1, left_at.checked_sub(ms(500)).unwrap(), left_at),
        25
    );
    assert_eq!(s.sfu().room_of(a1_peer), None);
    assert_eq!(
        s.sfu().members(room1).unwrap(),
        [(s.peer(c1), Role::Participant)]
    );
    assert!(s.sfu().core().has_peer(a1_peer));
    // Room 2 never noticed: every frame, byte for byte, on one timeline.
    assert_eq!(payloads(&s.received(a2)), s.voices[c2].sent);
    assert_eq!(payloads(&s.received(c2)), s.voices[a2].sent);
    assert_eq!(assert_one_timeline(&s.received(a2), "a2"), 100);
    assert_eq!(assert_one_timeline(&s.received(c2), "c2"), 100);
    assert_eq!(s.sfu().members(room2).unwrap().len(), 2);
    // A peer in no room is the caller's again: its audio comes out as events.
    assert!(!s.world.audio_from(a1_peer).is_empty());
}

#[test]
fn a_subscriber_hears_one_stream_across_mode_changes_and_mutes() {
    let mut s = Scene::new(5);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    let supervisor = s.add("198.51.100.3:5000", SUPERVISOR_HZ);
    s.room(&[
        (agent, Role::Participant),
        (customer, Role::Participant),
        (supervisor, Role::Supervisor),
    ]);
    let (customer_peer, supervisor_peer) = (s.peer(customer), s.peer(supervisor));
    // Forwarded, mixed, forwarded, paused, forwarded: with odd durations, so that
    // switches fall between the 20 ms ticks.
    s.talk(ms(610));
    let now = s.now();
    s.sfu()
        .set_supervisor_mode(now, supervisor_peer, SupervisorMode::Barge)
        .unwrap();
    s.talk(ms(630));
    s.world.run_for(ms(7));
    let now = s.now();
    s.sfu()
        .set_supervisor_mode(now, supervisor_peer, SupervisorMode::Listen)
        .unwrap();
    s.talk(ms(600));
    let now = s.now();
    s.sfu().set_muted(now, customer_peer, true).unwrap();
    s.talk(ms(450));
    let now = s.now();
    s.sfu().set_muted(now, customer_peer, false).unwrap();
    s.talk(ms(600));
    s.world.run_for(ms(100));

    let received = s.received(agent);
    let frames = assert_one_timeline(&received, "agent");
    let sent = &s.voices[customer].sent;
    let forwarded = received
        .iter()
        .filter(|(_, d)| sent.iter().any(|p| p[..] == d.data[..]))
        .count();
    assert!(forwarded > 80, "{forwarded} forwarded of {frames}");
    assert!(frames - forwarded > 25, "{} mixed", frames - forwarded);
    assert!(s.sfu().counters().frames_mixed > 0);
}
