//! SIP transactions (RFC 3261 section 17, with the RFC 6026 `Accepted` state), sans-IO.
//!
//! Four state machines, one per kind: INVITE client ([`InviteClient`]), non-INVITE
//! client ([`NonInviteClient`]), INVITE server ([`InviteServer`]) and non-INVITE server
//! ([`NonInviteServer`]). Each one is driven the same way, like str0m and quinn-proto:
//!
//! 1. give it what happened: `handle_*(now, ..)` for a message from the peer or the
//!    transaction user (TU), `handle_timeout(now)` when `poll_timeout()` is due;
//! 2. then drain it: `poll_transmit()` for bytes to send (first sends and
//!    retransmissions), `poll_event()` for what the TU must learn, and `poll_timeout()`
//!    for the next deadline (timers A-K, L and M).
//!
//! Time is passed in and never read; retransmissions happen only over unreliable
//! transports ([`Reliability::Unreliable`]); a machine never allocates after it was
//! created, except to keep the bytes of a new response or ACK to retransmit.
//! Matching a message to its transaction (RFC 3261 17.1.3 and 17.2.3) is the caller's
//! job: these machines see only messages that belong to them.

mod invite_client;
mod invite_server;
mod non_invite_client;
mod non_invite_server;
#[cfg(test)]
mod sim;

pub use invite_client::{InviteClient, State as InviteClientState};
pub use invite_server::{InviteServer, State as InviteServerState};
pub use non_invite_client::{NonInviteClient, State as NonInviteClientState};
pub use non_invite_server::{NonInviteServer, State as NonInviteServerState};

use std::time::{Duration, Instant};

/// The timer base values of RFC 3261 table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum time a message remains in the network (5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64 * T1: the transaction timeout (timers B, F, H, J, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Whether the transport loses messages (UDP) or not (TCP, TLS, WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// Messages may be lost: the transaction retransmits.
    Unreliable,
    /// Messages arrive or the connection fails: no retransmissions, zero wait timers.
    Reliable,
}

/// What a client transaction tells its TU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent {
    /// A provisional response (1xx) to pass up.
    Provisional(u16),
    /// The final response to pass up (the first one; retransmissions are absorbed,
    /// except 2xx to an INVITE, which all go to the TU per RFC 6026).
    Final(u16),
    /// No final response in time (timer B or F): the TU treats it as a 408.
    Timeout,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// What a server transaction tells its TU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// The ACK for a non-2xx final response never came (timer H).
    AckTimeout,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// A one-shot deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn set(&mut self, at: Instant) {
        self.0 = Some(at);
    }

    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }

    /// Whether it is due at `now`; clears it if so.
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        match self.0 {
            Some(at) if at <= now => {
                self.0 = None;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn at(self) -> Option<Instant> {
        self.0
    }
}

/// The earliest of some deadlines.
pub(crate) fn earliest(deadlines: &[Deadline]) -> Option<Instant> {
    deadlines.iter().filter_map(|d| d.at()).min()
}

/// A small queue of events (a transaction emits at most a few per input).
#[derive(Debug, Clone)]
pub(crate) struct Events<E> {
    queue: [Option<E>; 4],
    len: usize,
}

impl<E> Default for Events<E> {
    fn default() -> Self {
        Self {
            queue: [None, None, None, None],
            len: 0,
        }
    }
}

impl<E: Copy> Events<E> {
    pub(crate) fn push(&mut self, e: E) {
        if self.len < self.queue.len() {
            self.queue[self.len] = Some(e);
            self.len += 1;
        }
    }

    pub(crate) fn pop(&mut self) -> Option<E> {
        if self.len == 0 {
            return None;
        }
        let e = self.queue[0].take();
        self.queue.rotate_left(1);
        self.len -= 1;
        e
    }
}
