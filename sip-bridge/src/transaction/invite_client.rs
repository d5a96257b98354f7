//! The INVITE client transaction (RFC 3261 17.1.1, with RFC 6026's `Accepted`).
//!
//! ```text
//!   Calling --1xx--> Proceeding --2xx--> Accepted --timer M--> Terminated
//!      |                 |
//!      +----300-699------+--> Completed (ACK sent) --timer D--> Terminated
//!      +--timer B--> Terminated (Timeout)
//! ```
//! Timer A retransmits the INVITE over unreliable transports while `Calling`, doubling
//! each time; timer B gives up after 64*T1. The ACK for a non-2xx final response is part
//! of the transaction (same branch) and is resent for every retransmitted final
//! response; the ACK for a 2xx belongs to the TU (it is a new transaction).

use super::{earliest, ClientEvent, Deadline, Events, Reliability, Timers};
use std::time::{Duration, Instant};

/// Timer D's minimum over unreliable transports (RFC 3261 17.1.1.2).
const TIMER_D: Duration = Duration::from_secs(32);

/// RFC 3261 state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 2xx arrived (RFC 6026): absorbs nothing, waits for 2xx retransmissions.
    Accepted,
    /// A failure response arrived and was acknowledged.
    Completed,
    /// Over.
    Terminated,
}

/// One INVITE client transaction.
#[derive(Debug)]
pub struct InviteClient {
    state: State,
    reliability: Reliability,
    timers: Timers,
    request: Vec<u8>,
    ack: Vec<u8>,
    /// What `poll_transmit` returns next: the request or the ACK.
    pending: Option<Pending>,
    timer_a: Deadline,
    interval_a: Duration,
    timer_b: Deadline,
    timer_d: Deadline,
    timer_m: Deadline,
    events: Events<ClientEvent>,
    retransmissions: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Request,
    Ack,
}

impl InviteClient {
    /// Starts the transaction: the INVITE is ready in `poll_transmit`.
    pub fn new(now: Instant, request: Vec<u8>, reliability: Reliability, timers: Timers) -> Self {
        let mut t = Self {
            state: State::Calling,
            reliability,
            timers,
            request,
            ack: Vec::new(),
            pending: Some(Pending::Request),
            timer_a: Deadline::default(),
            interval_a: timers.t1,
            timer_b: Deadline::default(),
            timer_d: Deadline::default(),
            timer_m: Deadline::default(),
            events: Events::default(),
            retransmissions: 0,
        };
        if reliability == Reliability::Unreliable {
            t.timer_a.set(now + timers.t1);
        }
        t.timer_b.set(now + timers.timeout());
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

    /// A response arrived for this transaction. `build_ack` is called once, on the first
    /// non-2xx final response, for the ACK the transaction sends (and resends).
    pub fn handle_response(
        &mut self,
        now: Instant,
        status: u16,
        build_ack: impl FnOnce() -> Vec<u8>,
    ) {
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.timer_a.clear();
                self.timer_b.clear();
                self.events.push(ClientEvent::Provisional(status));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timer_a.clear();
                self.timer_b.clear();
                self.timer_m.set(now + self.timers.timeout());
                self.events.push(ClientEvent::Final(status));
            }
            (State::Calling | State::Proceeding, 300..=699) => {
                self.state = State::Completed;
                self.timer_a.clear();
                self.timer_b.clear();
                self.ack = build_ack();
                self.pending = Some(Pending::Ack);
                let wait = match self.reliability {
                    Reliability::Unreliable => TIMER_D,
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timer_d.set(now + wait);
                self.events.push(ClientEvent::Final(status));
            }
            // RFC 6026: every 2xx in Accepted goes to the TU, which ACKs it.
            (State::Accepted, 200..=299) => self.events.push(ClientEvent::Final(status)),
            // A retransmitted failure response: resend the ACK, tell nobody.
            (State::Completed, 300..=699) => self.pending = Some(Pending::Ack),
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
        if self.timer_a.fire(now) && self.state == State::Calling {
            self.pending = Some(Pending::Request);
            self.retransmissions += 1;
            self.interval_a *= 2;
            self.timer_a.set(now + self.interval_a);
        }
        if self.timer_b.fire(now) && self.state == State::Calling {
            self.events.push(ClientEvent::Timeout);
            self.terminate();
        }
        if self.timer_d.fire(now) && self.state == State::Completed {
            self.terminate();
        }
        if self.timer_m.fire(now) && self.state == State::Accepted {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.pending = None;
        for t in [
            &mut self.timer_a,
            &mut self.timer_b,
            &mut self.timer_d,
            &mut self.timer_m,
        ] {
            t.clear();
        }
        self.events.push(ClientEvent::Terminated);
    }

    /// Bytes to send now, if any.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        match self.pending.take()? {
            Pending::Request => Some(&self.request),
            Pending::Ack => Some(&self.ack),
        }
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_a, self.timer_b, self.timer_d, self.timer_m])
    }
}
