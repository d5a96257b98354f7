//! The rules of who hears whom in a room, as a pure function of the members' roles,
//! supervisor modes and mutes (see the table in [`super`]). Kept apart from the room's
//! machinery so the rules can be read, and tested, in one place.

use super::{Role, SupervisorMode};
use crate::webrtc::PeerId;

/// What the rules need to know of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seat {
    pub(super) peer: PeerId,
    pub(super) role: Role,
    /// Meaningful for supervisors only.
    pub(super) mode: SupervisorMode,
    pub(super) muted: bool,
}

/// The members `listener` hears, as a set of indices into `seats` (bit `i` for
/// `seats[i]`; `seats` holds at most 64).
pub(super) fn heard_by(seats: &[Seat], listener: usize) -> u64 {
    let me = seats[listener];
    seats
        .iter()
        .enumerate()
        .filter(|&(i, speaker)| i != listener && !speaker.muted && hears(me, *speaker))
        .fold(0, |set, (i, _)| set | 1 << i)
}

/// Whether `listener` hears `speaker` (both unmuted, distinct).
fn hears(listener: Seat, speaker: Seat) -> bool {
    match speaker.role {
        Role::Participant => true,
        Role::Supervisor => match speaker.mode {
            SupervisorMode::Listen => false,
            SupervisorMode::Whisper { to } => to == listener.peer,
            SupervisorMode::Barge => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: usize = 0;
    const CUSTOMER: usize = 1;
    const SUPERVISOR: usize = 2;

    fn seat(peer: u64, role: Role) -> Seat {
        Seat {
            peer: PeerId::for_test(peer),
            role,
            mode: SupervisorMode::Listen,
            muted: false,
        }
    }

    /// Agent (peer 1), customer (peer 2) and a supervisor (peer 3) in `mode`.
    fn call(mode: SupervisorMode) -> Vec<Seat> {
        let mut seats = vec![
            seat(1, Role::Participant),
            seat(2, Role::Participant),
            seat(3, Role::Supervisor),
        ];
        seats[SUPERVISOR].mode = mode;
        seats
    }

    fn set(members: &[usize]) -> u64 {
        members.iter().fold(0, |s, i| s | 1 << i)
    }

    /// (agent hears, customer hears, supervisor hears)
    fn hearing(seats: &[Seat]) -> (u64, u64, u64) {
        (
            heard_by(seats, AGENT),
            heard_by(seats, CUSTOMER),
            heard_by(seats, SUPERVISOR),
        )
    }

    #[test]
    fn each_mode_reaches_whom_it_promises() {
        let whisper = SupervisorMode::Whisper {
            to: PeerId::for_test(1),
        };
        let table = [
            (SupervisorMode::Listen, (&[CUSTOMER][..], &[AGENT][..])),
            (whisper, (&[CUSTOMER, SUPERVISOR][..], &[AGENT][..])),
            (
                SupervisorMode::Barge,
                (&[CUSTOMER, SUPERVISOR][..], &[AGENT, SUPERVISOR][..]),
            ),
        ];
        for (mode, (agent, customer)) in table {
            assert_eq!(
                hearing(&call(mode)),
                (set(agent), set(customer), set(&[AGENT, CUSTOMER])),
                "{mode:?}"
            );
        }
    }

    #[test]
    fn a_whisper_reaches_only_the_participant_named() {
        let seats = call(SupervisorMode::Whisper {
            to: PeerId::for_test(2),
        });
        assert_eq!(
            hearing(&seats),
            (
                set(&[CUSTOMER]),
                set(&[AGENT, SUPERVISOR]),
                set(&[AGENT, CUSTOMER])
            )
        );
    }

    #[test]
    fn a_muted_member_is_heard_by_nobody_and_still_hears() {
        let mut seats = call(SupervisorMode::Barge);
        seats[CUSTOMER].muted = true;
        assert_eq!(
            hearing(&seats),
            (set(&[SUPERVISOR]), set(&[AGENT, SUPERVISOR]), set(&[AGENT]))
        );
        seats[SUPERVISOR].muted = true;
        assert_eq!(hearing(&seats).0, 0);
    }

    #[test]
    fn supervisors_hear_each_other_only_when_barging() {
        let mut seats = call(SupervisorMode::Listen);
        seats.push(seat(4, Role::Supervisor));
        assert_eq!(heard_by(&seats, 3), set(&[AGENT, CUSTOMER]));
        seats[SUPERVISOR].mode = SupervisorMode::Barge;
        assert_eq!(heard_by(&seats, 3), set(&[AGENT, CUSTOMER, SUPERVISOR]));
        assert_eq!(heard_by(&seats, SUPERVISOR), set(&[AGENT, CUSTOMER]));
    }

    #[test]
    fn a_conference_hears_everyone_else() {
        let seats: Vec<_> = (1..=5).map(|p| seat(p, Role::Participant)).collect();
        for i in 0..5 {
            assert_eq!(heard_by(&seats, i), set(&[0, 1, 2, 3, 4]) & !(1 << i));
        }
    }
}
