//! The UAS core's 2xx retransmission (RFC 3261 13.3.1.4): the INVITE server transaction
//! is gone once it sent a 2xx (RFC 6026 `Accepted`), so the dialog itself resends the
//! 2xx over unreliable transports (T1, doubling up to T2) until the ACK arrives, and
//! gives up after 64*T1 — then the session must be ended with a BYE.

use crate::transaction::{Reliability, Timers};
use std::time::{Duration, Instant};

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerEvent {
    /// No ACK within 64*T1: confirm nothing, send BYE.
    AckTimeout,
}

/// Retransmits one 2xx until it is acknowledged.
#[derive(Debug)]
pub struct Answer {
    response: Vec<u8>,
    pending: bool,
    next: Option<Instant>,
    interval: Duration,
    give_up: Option<Instant>,
    t2: Duration,
    timed_out: bool,
}

impl Answer {
    /// Sends `response` (a 2xx to an INVITE) now and keeps it until the ACK.
    pub fn new(now: Instant, response: Vec<u8>, reliability: Reliability, timers: Timers) -> Self {
        Self {
            response,
            pending: true,
            next: (reliability == Reliability::Unreliable).then(|| now + timers.t1),
            interval: timers.t1,
            give_up: Some(now + timers.timeout()),
            t2: timers.t2,
            timed_out: false,
        }
    }

    /// The ACK arrived: stop.
    pub fn handle_ack(&mut self) {
        self.next = None;
        self.give_up = None;
        self.pending = false;
    }

    /// The INVITE arrived again (our 2xx was lost): resend at once.
    pub fn handle_request(&mut self) {
        if self.give_up.is_some() {
            self.pending = true;
        }
    }

    /// Runs what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.give_up.is_some_and(|t| t <= now) {
            self.next = None;
            self.give_up = None;
            self.timed_out = true;
            return;
        }
        if let Some(t) = self.next.filter(|&t| t <= now) {
            self.pending = true;
            self.interval = (self.interval * 2).min(self.t2);
            self.next = Some(t + self.interval);
        }
    }

    /// Bytes to send now.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        std::mem::take(&mut self.pending).then_some(self.response.as_slice())
    }

    /// An event for the dialog.
    pub fn poll_event(&mut self) -> Option<AnswerEvent> {
        std::mem::take(&mut self.timed_out).then_some(AnswerEvent::AckTimeout)
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next, self.give_up) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mut a: Answer, start: Instant, ack_at: Option<f64>) -> (Vec<f64>, Vec<AnswerEvent>) {
        let mut sends = Vec::new();
        let mut events = Vec::new();
        let mut now = start;
        loop {
            while a.poll_transmit().is_some() {
                sends.push((now - start).as_secs_f64());
            }
            events.extend(std::iter::from_fn(|| a.poll_event()));
            let Some(next) = a.poll_timeout() else { break };
            if let Some(ack) = ack_at.filter(|&t| start + Duration::from_secs_f64(t) <= next) {
                now = start + Duration::from_secs_f64(ack);
                a.handle_ack();
                continue;
            }
            now = next;
            a.handle_timeout(now);
        }
        (sends, events)
    }

    #[test]
    fn resends_until_ack_or_gives_up_after_64_t1() {
        let t0 = Instant::now();
        let (sends, events) = run(
            Answer::new(
                t0,
                b"200".to_vec(),
                Reliability::Unreliable,
                Timers::default(),
            ),
            t0,
            None,
        );
        assert_eq!(
            sends,
            [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        );
        assert_eq!(events, [AnswerEvent::AckTimeout]);

        let (sends, events) = run(
            Answer::new(
                t0,
                b"200".to_vec(),
                Reliability::Unreliable,
                Timers::default(),
            ),
            t0,
            Some(2.0),
        );
        assert_eq!(sends, [0.0, 0.5, 1.5]);
        assert!(events.is_empty());

        let (sends, events) = run(
            Answer::new(
                t0,
                b"200".to_vec(),
                Reliability::Reliable,
                Timers::default(),
            ),
            t0,
            None,
        );
        assert_eq!(sends, [0.0], "no retransmission over TCP");
        assert_eq!(
            events,
            [AnswerEvent::AckTimeout],
            "but the ACK is still awaited"
        );
    }
}
