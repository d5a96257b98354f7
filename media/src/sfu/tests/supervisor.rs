//! Supervisor modes on a live call, checked by frequency on every side: the agent
//! speaks 440 Hz, the customer 1000 Hz, the supervisor 2500 Hz.

use std::time::{Duration, Instant};

use super::{
    assert_hears, assert_not_hears, ms, payloads, Scene, AGENT_HZ, CUSTOMER_HZ, SUPERVISOR_HZ,
};
use crate::sfu::{CommandOutcome, Role, RoomCommand, SfuError, SupervisorMode};
use crate::webrtc::{AudioCodec, DisconnectReason, MediaEvent, PeerId};

/// An agent, a customer and a supervisor in one room; the supervisor in the mode
/// `mode` makes of the agent's peer. Everyone talks for two seconds.
struct Supervised {
    s: Scene,
    agent: usize,
    customer: usize,
    supervisor: usize,
    /// From when the mixes have settled (jitter buffers filled, codecs started).
    settled: Instant,
    end: Instant,
}

fn supervised(seed: u64, mode: impl FnOnce(PeerId) -> SupervisorMode) -> Supervised {
    let mut s = Scene::new(seed);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    let supervisor = s.add("198.51.100.3:5000", SUPERVISOR_HZ);
    s.room(&[
        (agent, Role::Participant),
        (customer, Role::Participant),
        (supervisor, Role::Supervisor),
    ]);
    let (now, agent_peer, supervisor_peer) = (s.now(), s.peer(agent), s.peer(supervisor));
    s.sfu()
        .set_supervisor_mode(now, supervisor_peer, mode(agent_peer))
        .unwrap();
    let start = s.now();
    s.talk(Duration::from_secs(2));
    s.world.run_for(ms(100));
    let end = s.now();
    Supervised {
        s,
        agent,
        customer,
        supervisor,
        settled: start + ms(400),
        end,
    }
}

impl Supervised {
    fn heard(&self, voice: usize) -> Vec<i16> {
        self.s.heard(voice, self.settled, self.end)
    }
}

#[test]
fn listen_the_supervisor_hears_both_sides_and_neither_side_hears_it() {
    let t = supervised(10, |_| SupervisorMode::Listen);
    let supervisor = t.heard(t.supervisor);
    assert_hears(&supervisor, AGENT_HZ, "supervisor");
    assert_hears(&supervisor, CUSTOMER_HZ, "supervisor");
    assert_not_hears(&supervisor, SUPERVISOR_HZ, "supervisor (its own voice)");
    let agent = t.heard(t.agent);
    assert_hears(&agent, CUSTOMER_HZ, "agent");
    assert_not_hears(&agent, SUPERVISOR_HZ, "agent");
    let customer = t.heard(t.customer);
    assert_hears(&customer, AGENT_HZ, "customer");
    assert_not_hears(&customer, SUPERVISOR_HZ, "customer");
    // The call itself is still forwarded untouched; only the supervisor gets a mix.
    assert_eq!(
        payloads(&t.s.received(t.agent)),
        t.s.voices[t.customer].sent
    );
    assert_eq!(
        payloads(&t.s.received(t.customer)),
        t.s.voices[t.agent].sent
    );
    let mixed = t.s.received(t.supervisor).len();
    assert!(mixed >= 95, "{mixed} mixed frames in 2 s");
    let counters = t.s.world.core.counters();
    // (The last mixed frame may still be on its way.)
    assert!(
        counters.frames_mixed.abs_diff(mixed as u64) <= 1,
        "{counters:?}"
    );
    assert_eq!(counters.frames_forwarded, 200);
}

#[test]
fn whisper_the_agent_hears_the_supervisor_and_the_customer_does_not() {
    let t = supervised(11, |agent| SupervisorMode::Whisper { to: agent });
    let agent = t.heard(t.agent);
    assert_hears(&agent, CUSTOMER_HZ, "agent");
    assert_hears(&agent, SUPERVISOR_HZ, "agent, whispered to");
    assert_not_hears(&agent, AGENT_HZ, "agent (its own voice)");
    let customer = t.heard(t.customer);
    assert_hears(&customer, AGENT_HZ, "customer");
    assert_not_hears(&customer, SUPERVISOR_HZ, "customer");
    // The customer's side is still a forward of the agent's own frames.
    assert_eq!(
        payloads(&t.s.received(t.customer)),
        t.s.voices[t.agent].sent
    );
    let supervisor = t.heard(t.supervisor);
    assert_hears(&supervisor, AGENT_HZ, "supervisor");
    assert_hears(&supervisor, CUSTOMER_HZ, "supervisor");
    assert_not_hears(&supervisor, SUPERVISOR_HZ, "supervisor (its own voice)");
}

#[test]
fn barge_both_sides_hear_the_supervisor_besides_each_other() {
    let t = supervised(12, |_| SupervisorMode::Barge);
    let agent = t.heard(t.agent);
    assert_hears(&agent, CUSTOMER_HZ, "agent");
    assert_hears(&agent, SUPERVISOR_HZ, "agent");
    assert_not_hears(&agent, AGENT_HZ, "agent (its own voice)");
    let customer = t.heard(t.customer);
    assert_hears(&customer, AGENT_HZ, "customer");
    assert_hears(&customer, SUPERVISOR_HZ, "customer");
    assert_not_hears(&customer, CUSTOMER_HZ, "customer (its own voice)");
    let supervisor = t.heard(t.supervisor);
    assert_hears(&supervisor, AGENT_HZ, "supervisor");
    assert_hears(&supervisor, CUSTOMER_HZ, "supervisor");
    // Three mixes now, and nothing forwarded once barging began.
    let counters = t.s.world.core.counters();
    assert_eq!(counters.frames_forwarded, 0);
    assert!(counters.frames_mixed >= 3 * 95, "{counters:?}");
}

#[test]
fn a_supervisor_that_disconnects_leaves_and_the_call_forwards_again() {
    let mut t = supervised(13, |_| SupervisorMode::Barge);
    let supervisor_peer = t.s.peer(t.supervisor);
    let now = t.s.now();
    t.s.sfu().remove_peer(now, supervisor_peer).unwrap();
    t.s.world.flush();
    t.s.voices[t.supervisor].speaking = false;
    let gone_at = t.s.now();
    t.s.talk(Duration::from_secs(1));
    let end = t.s.now();

    assert!(t.s.world.events.iter().any(
        |(_, e)| *e == MediaEvent::PeerDisconnected(supervisor_peer, DisconnectReason::Removed)
    ));
    assert_eq!(t.s.sfu().room_of(supervisor_peer), None);
    let agent = t.s.heard(t.agent, gone_at + ms(300), end);
    assert_hears(&agent, CUSTOMER_HZ, "agent");
    assert_not_hears(&agent, SUPERVISOR_HZ, "agent");
    // Back to forwarding: the customer's own frames again.
    let sent = &t.s.voices[t.customer].sent;
    let received = t.s.received(t.agent);
    let late: Vec<_> = received
        .iter()
        .filter(|(at, _)| *at > gone_at + ms(15))
        .collect();
    assert!(late.len() >= 45);
    assert!(late
        .iter()
        .all(|(_, d)| sent.iter().any(|p| p[..] == d.data[..])));
    // No room mixes any more: the mixing tick stopped.
    let mixed = t.s.sfu().counters().frames_mixed;
    t.s.talk(ms(200));
    assert_eq!(t.s.sfu().counters().frames_mixed, mixed);
}

#[test]
fn room_commands_refuse_what_cannot_be_and_change_nothing() {
    let mut s = Scene::new(14);
    let agent = s.add("198.51.100.1:5000", AGENT_HZ);
    let customer = s.add("198.51.100.2:5000", CUSTOMER_HZ);
    let supervisor = s.add("198.51.100.3:5000", SUPERVISOR_HZ);
    let (a, c, sup) = (s.peer(agent), s.peer(customer), s.peer(supervisor));
    let now = s.now();
    let sfu = s.sfu();
    let CommandOutcome::Created(room) = sfu.apply(now, RoomCommand::Create).unwrap() else {
        panic!("no room");
    };
    let other = sfu.create_room();
    for (peer, role) in [
        (a, Role::Participant),
        (c, Role::Participant),
        (sup, Role::Supervisor),
    ] {
        sfu.apply(now, RoomCommand::Join { room, peer, role })
            .unwrap();
    }
    let stranger = PeerId::for_test(999);
    assert!(matches!(
        sfu.join(now, room, stranger, Role::Participant),
        Err(SfuError::UnknownPeer(p)) if p == stranger
    ));
    assert!(matches!(
        sfu.join(now, other, a, Role::Participant),
        Err(SfuError::AlreadyInRoom { peer, room: r }) if peer == a && r == room
    ));
    let closed = sfu.create_room();
    sfu.close_room(now, closed).unwrap();
    assert!(matches!(
        sfu.apply(now, RoomCommand::Close(closed)),
        Err(SfuError::UnknownRoom(r)) if r == closed
    ));
    assert!(matches!(
        sfu.set_supervisor_mode(now, a, SupervisorMode::Barge),
        Err(SfuError::NotASupervisor(p)) if p == a
    ));
    assert!(matches!(
        sfu.set_supervisor_mode(now, sup, SupervisorMode::Whisper { to: sup }),
        Err(SfuError::WhisperTargetNotParticipant { .. })
    ));
    assert!(matches!(
        sfu.set_muted(now, stranger, true),
        Err(SfuError::NotInRoom(p)) if p == stranger
    ));
    // A room owns what its members receive.
    assert!(matches!(
        sfu.write_audio(now, a, AudioCodec::Opus, 0, vec![1, 2, 3]),
        Err(SfuError::InRoom(p)) if p == a
    ));
    // None of that changed the room: the call forwards and the supervisor listens.
    assert_eq!(sfu.members(room).unwrap().len(), 3);
    s.talk(Duration::from_secs(1));
    assert_eq!(s.sfu().counters().frames_forwarded, 100);
    assert_not_hears(
        &s.heard(agent, s.now().checked_sub(ms(600)).unwrap(), s.now()),
        SUPERVISOR_HZ,
        "agent",
    );

    // Closing the room lets everyone go; they can join elsewhere.
    let now = s.now();
    s.sfu().apply(now, RoomCommand::Close(room)).unwrap();
    assert_eq!(s.sfu().room_of(a), None);
    s.sfu().join(now, other, a, Role::Participant).unwrap();
    assert_eq!(
        s.sfu().apply(now, RoomCommand::Leave(a)).unwrap(),
        CommandOutcome::Done
    );
}
