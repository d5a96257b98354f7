//! The non-INVITE client transaction (RFC 3261 17.1.2).
//!
//! ```text
//!   Trying --1xx--> Proceeding --200-699--> Completed --timer K--> Terminated
//!     +--------------200-699----------------^
//!     +--timer F (either state)--> Terminated (Timeout)
//! ```
//! Timer E retransmits over unreliable transports: T1, doubling up to T2 while `Trying`,
//! every T2 while `Proceeding`. Timer F gives up after 64*T1. Timer K (T4) absorbs
//! retransmitted final responses.

use super::{earliest, ClientEvent, Deadline, Events, Reliability, Timers};
use std::time::{Duration, Instant};

/// RFC 3261 state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Request sent, nothing heard.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// The final response arrived.
    Completed,
    /// Over.
    Terminated,
}

/// One non-INVITE client transaction (OPTIONS, BYE, CANCEL, REGISTER, ...).
#[derive(Debug)]
pub struct NonInviteClient {
    state: State,
    reliability: Reliability,
    timers: Timers,
    request: Vec<u8>,
    pending: bool,
    timer_e: Deadline,
    interval_e: Duration,
    timer_f: Deadline,
    timer_k: Deadline,
    events: Events<ClientEvent>,
    retransmissions: u32,
}

impl NonInviteClient {
    /// Starts the transaction: the request is ready in `poll_transmit`.
    pub fn new(now: Instant, request: Vec<u8>, reliability: Reliability, timers: Timers) -> Self {
        let mut t = Self {
            state: State::Trying,
            reliability,
            timers,
            request,
            pending: true,
            timer_e: Deadline::default(),
            interval_e: timers.t1,
            timer_f: Deadline::default(),
            timer_k: Deadline::default(),
            events: Events::default(),
            retransmissions: 0,
        };
        if reliability == Reliability::Unreliable {
            t.timer_e.set(now + timers.t1);
        }
        t.timer_f.set(now + timers.timeout());
        t
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// How many times the request was retransmitted.
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// A response arrived for this transaction.
    pub fn handle_response(&mut self, now: Instant, status: u16) {
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.events.push(ClientEvent::Provisional(status));
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                self.state = State::Completed;
                self.timer_e.clear();
                self.timer_f.clear();
                let wait = match self.reliability {
                    Reliability::Unreliable => self.timers.t4,
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timer_k.set(now + wait);
                self.events.push(ClientEvent::Final(status));
            }
            _ => {}
        }
    }

    /// The transport failed to send: the TU learns it and the transaction ends.
    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.events.push(ClientEvent::Timeout);
            self.terminate();
        }
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_e.fire(now) && matches!(self.state, State::Trying | State::Proceeding) {
            self.pending = true;
            self.retransmissions += 1;
            self.interval_e = match self.state {
                State::Trying => (self.interval_e * 2).min(self.timers.t2),
                _ => self.timers.t2,
            };
            self.timer_e.set(now + self.interval_e);
        }
        if self.timer_f.fire(now) && matches!(self.state, State::Trying | State::Proceeding) {
            self.events.push(ClientEvent::Timeout);
            self.terminate();
        }
        if self.timer_k.fire(now) && self.state == State::Completed {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.pending = false;
        for t in [&mut self.timer_e, &mut self.timer_f, &mut self.timer_k] {
            t.clear();
        }
        self.events.push(ClientEvent::Terminated);
    }

    /// Bytes to send now, if any.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        std::mem::take(&mut self.pending).then_some(self.request.as_slice())
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_e, self.timer_f, self.timer_k])
    }
}
