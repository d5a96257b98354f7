//! When each peer next needs its timeout handled, kept as an ordered index.
//!
//! The shell asks the core for its next deadline after every input, and the core runs
//! the peers that are due: scanning every peer for both would cost a visit per peer per
//! datagram, which with a thousand peers on a shard outweighs the datagram's own work.
//! The index is updated only when a peer's deadline moves, which most datagrams do not
//! do. Each peer keeps the deadline it is indexed under ([`Scheduled`]), so knowing
//! whether it moved costs no lookup (a map from peer to deadline here cost ~580
//! instructions per forwarded packet in `SipHash` and probing).

use std::collections::BTreeSet;
use std::time::Instant;

use super::PeerId;

/// The deadline a peer is indexed under, kept by the peer itself.
pub(super) type Scheduled = Option<Instant>;

/// The deadlines of a core's peers. See the module docs.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    by_time: BTreeSet<(Instant, PeerId)>,
    /// Deadlines moved so far.
    moves: u64,
}

impl Schedule {
    /// Sets `peer`'s next deadline to `at`; `scheduled` is the one it is indexed under
    /// (none for a new peer), updated here.
    pub(super) fn set(&mut self, peer: PeerId, scheduled: &mut Scheduled, at: Instant) {
        match scheduled.replace(at) {
            Some(old) if old == at => {}
            Some(old) => {
                self.by_time.remove(&(old, peer));
                self.by_time.insert((at, peer));
                self.moves += 1;
            }
            None => {
                self.by_time.insert((at, peer));
            }
        }
    }

    /// Forgets `peer`, indexed under `scheduled`.
    pub(super) fn remove(&mut self, peer: PeerId, scheduled: Scheduled) {
        if let Some(old) = scheduled {
            self.by_time.remove(&(old, peer));
        }
    }

    /// How many times a deadline moved.
    pub(super) fn moves(&self) -> u64 {
        self.moves
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|&(at, _)| at)
    }

    /// Appends the peers due at `now` to `out`, earliest first.
    pub(super) fn due(&self, now: Instant, out: &mut Vec<PeerId>) {
        out.extend(
            self.by_time
                .range(..=(now, PeerId(u64::MAX)))
                .map(|&(_, peer)| peer),
        );
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_time.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn finds_the_due_peers_and_follows_moved_deadlines() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut schedule = Schedule::default();
        let mut kept = [None; 4];
        assert_eq!(schedule.next(), None);
        schedule.set(PeerId(1), &mut kept[1], at(30));
        schedule.set(PeerId(2), &mut kept[2], at(10));
        schedule.set(PeerId(3), &mut kept[3], at(20));
        schedule.set(PeerId(2), &mut kept[2], at(40));
        schedule.set(PeerId(3), &mut kept[3], at(20));
        assert_eq!(kept[2], Some(at(40)));
        assert_eq!(schedule.next(), Some(at(20)));
        let mut due = Vec::new();
        schedule.due(at(30), &mut due);
        assert_eq!(due, [PeerId(3), PeerId(1)]);
        schedule.remove(PeerId(3), kept[3]);
        schedule.remove(PeerId(0), kept[0]);
        due.clear();
        schedule.due(at(100), &mut due);
        assert_eq!(due, [PeerId(1), PeerId(2)]);
        assert_eq!(schedule.len(), 2, "a moved deadline is indexed once");
        assert_eq!(schedule.moves(), 1);
    }
}
