//! When each peer next needs its timeout handled, kept as an ordered index.
//!
//! The shell asks the core for its next deadline after every input, and the core runs
//! the peers that are due: scanning every peer for both would cost a visit per peer per
//! datagram, which with a thousand peers on a shard outweighs the datagram's own work.
//! The index is updated only when a peer's deadline moves, which most datagrams do not
//! do.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::PeerId;

/// The deadlines of a core's peers. See the module docs.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    by_time: BTreeSet<(Instant, PeerId)>,
    of_peer: HashMap<PeerId, Instant>,
}

impl Schedule {
    /// Sets `peer`'s next deadline (it had none, or another one).
    pub(super) fn set(&mut self, peer: PeerId, at: Instant) {
        match self.of_peer.insert(peer, at) {
            Some(old) if old == at => {}
            Some(old) => {
                self.by_time.remove(&(old, peer));
                self.by_time.insert((at, peer));
            }
            None => {
                self.by_time.insert((at, peer));
            }
        }
    }

    /// Forgets `peer`.
    pub(super) fn remove(&mut self, peer: PeerId) {
        if let Some(old) = self.of_peer.remove(&peer) {
            self.by_time.remove(&(old, peer));
        }
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
        assert_eq!(schedule.next(), None);
        schedule.set(PeerId(1), at(30));
        schedule.set(PeerId(2), at(10));
        schedule.set(PeerId(3), at(20));
        schedule.set(PeerId(2), at(40));
        schedule.set(PeerId(3), at(20));
        assert_eq!(schedule.next(), Some(at(20)));
        let mut due = Vec::new();
        schedule.due(at(30), &mut due);
        assert_eq!(due, [PeerId(3), PeerId(1)]);
        schedule.remove(PeerId(3));
        schedule.remove(PeerId(9));
        due.clear();
        schedule.due(at(100), &mut due);
        assert_eq!(due, [PeerId(1), PeerId(2)]);
        assert_eq!(schedule.by_time.len(), schedule.of_peer.len());
    }
}
