//! The INVITE server transaction (RFC 3261 17.2.1, with RFC 6026's `Accepted`).
//!
//! ```text
//!   Proceeding --2xx from TU--> Accepted --timer L--> Terminated
//!       |
//!       +--300-699 from TU--> Completed --ACK--> Confirmed --timer I--> Terminated
//!                                 +--timer H--> Terminated (AckTimeout)
//! ```
//! A retransmitted INVITE is answered with the last provisional response (`Proceeding`)
//! or the final response (`Completed`). Timer G retransmits a failure response over
//! unreliable transports (T1, doubling up to T2) until the ACK arrives; timer H gives up
//! after 64*T1. In `Accepted` the TU retransmits its 2xx itself (the dialog layer) and
//! receives the ACK; retransmitted INVITEs are absorbed.
//!
//! The TU should send `100 Trying` at once through [`InviteServer::send_response`]
//! (RFC 3261 17.2.1 requires it within 200 ms unless another provisional goes out).

use super::{earliest, Deadline, Events, Reliability, ServerEvent, Timers};
use std::time::{Duration, Instant};

/// RFC 3261 state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The INVITE arrived; provisional responses may go out.
    Proceeding,
    /// A 2xx went out (RFC 6026).
    Accepted,
    /// A failure response went out; waiting for its ACK.
    Completed,
    /// The ACK arrived; absorbing stray retransmissions.
    Confirmed,
    /// Over.
    Terminated,
}

/// One INVITE server transaction.
#[derive(Debug)]
pub struct InviteServer {
    state: State,
    reliability: Reliability,
    timers: Timers,
    /// The last response sent (provisional or final), resent on a retransmitted INVITE.
    response: Vec<u8>,
    pending: bool,
    timer_g: Deadline,
    interval_g: Duration,
    timer_h: Deadline,
    timer_i: Deadline,
    timer_l: Deadline,
    events: Events<ServerEvent>,
    retransmissions: u32,
}

impl InviteServer {
    /// A transaction for an INVITE that just arrived.
    pub fn new(reliability: Reliability, timers: Timers) -> Self {
        Self {
            state: State::Proceeding,
            reliability,
            timers,
            response: Vec::new(),
            pending: false,
            timer_g: Deadline::default(),
            interval_g: timers.t1,
            timer_h: Deadline::default(),
            timer_i: Deadline::default(),
            timer_l: Deadline::default(),
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
            // A provisional, or the TU retransmitting its 2xx (RFC 6026 7.1).
            (State::Proceeding, 100..=199) | (State::Accepted, 200..=299) => {}
            (State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timer_l.set(now + self.timers.timeout());
            }
            (State::Proceeding, 300..=699) => {
                self.state = State::Completed;
                if self.reliability == Reliability::Unreliable {
                    self.interval_g = self.timers.t1;
                    self.timer_g.set(now + self.interval_g);
                }
                self.timer_h.set(now + self.timers.timeout());
            }
            _ => return,
        }
        self.response = bytes;
        self.pending = true;
    }

    /// The INVITE arrived again: resend the last response, if any.
    pub fn handle_request(&mut self) {
        if matches!(self.state, State::Proceeding | State::Completed) && !self.response.is_empty() {
            self.pending = true;
            self.retransmissions += 1;
        }
    }

    /// An ACK matched this transaction. Returns whether it goes to the TU (only the ACK
    /// for a 2xx does; the ACK for a failure response ends the transaction's work).
    pub fn handle_ack(&mut self, now: Instant) -> bool {
        match self.state {
            State::Accepted => true,
            State::Completed => {
                self.state = State::Confirmed;
                self.timer_g.clear();
                self.timer_h.clear();
                let wait = match self.reliability {
                    Reliability::Unreliable => self.timers.t4,
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timer_i.set(now + wait);
                false
            }
            _ => false,
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
        if self.timer_g.fire(now) && self.state == State::Completed {
            self.pending = true;
            self.retransmissions += 1;
            self.interval_g = (self.interval_g * 2).min(self.timers.t2);
            self.timer_g.set(now + self.interval_g);
        }
        if self.timer_h.fire(now) && self.state == State::Completed {
            self.events.push(ServerEvent::AckTimeout);
            self.terminate();
        }
        if self.timer_i.fire(now) && self.state == State::Confirmed {
            self.terminate();
        }
        if self.timer_l.fire(now) && self.state == State::Accepted {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.pending = false;
        for t in [
            &mut self.timer_g,
            &mut self.timer_h,
            &mut self.timer_i,
            &mut self.timer_l,
        ] {
            t.clear();
        }
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
        earliest(&[self.timer_g, self.timer_h, self.timer_i, self.timer_l])
    }
}
