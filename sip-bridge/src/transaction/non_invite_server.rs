//! The non-INVITE server transaction (RFC 3261 17.2.2).
//!
//! ```text
//!   Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --timer J--> Terminated
//!     +------------------200-699 from TU-------------------^
//! ```
//! A retransmitted request is absorbed in `Trying`, answered with the last provisional
//! response in `Proceeding` and with the final response in `Completed`. Timer J (64*T1
//! over unreliable transports, zero otherwise) keeps the final response for
//! retransmitted requests.

use super::{earliest, Deadline, Events, Reliability, ServerEvent, Timers};
use std::time::{Duration, Instant};

/// RFC 3261 state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The request arrived; the TU has not answered.
    Trying,
    /// A provisional response went out.
    Proceeding,
    /// The final response went out.
    Completed,
    /// Over.
    Terminated,
}

/// One non-INVITE server transaction.
#[derive(Debug)]
pub struct NonInviteServer {
    state: State,
    reliability: Reliability,
    timers: Timers,
    response: Vec<u8>,
    pending: bool,
    timer_j: Deadline,
    events: Events<ServerEvent>,
    retransmissions: u32,
}

impl NonInviteServer {
    /// A transaction for a request that just arrived.
    pub fn new(reliability: Reliability, timers: Timers) -> Self {
        Self {
            state: State::Trying,
            reliability,
            timers,
            response: Vec::new(),
            pending: false,
            timer_j: Deadline::default(),
            events: Events::default(),
            retransmissions: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// How many times a response was retransmitted.
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// The TU answers with `status`; `bytes` is the whole response.
    pub fn send_response(&mut self, now: Instant, status: u16, bytes: Vec<u8>) {
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => self.state = State::Proceeding,
            (State::Trying | State::Proceeding, 200..=699) => {
                self.state = State::Completed;
                let wait = match self.reliability {
                    Reliability::Unreliable => self.timers.timeout(),
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timer_j.set(now + wait);
            }
            _ => return,
        }
        self.response = bytes;
        self.pending = true;
    }

    /// The request arrived again: resend the last response, if any.
    pub fn handle_request(&mut self) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            self.pending = true;
            self.retransmissions += 1;
        }
    }

    /// The transport failed to send: the transaction ends.
    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.terminate();
        }
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.fire(now) && self.state == State::Completed {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.pending = false;
        self.timer_j.clear();
        self.events.push(ServerEvent::Terminated);
    }

    /// Bytes to send now, if any.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        std::mem::take(&mut self.pending).then_some(self.response.as_slice())
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_j])
    }
}
