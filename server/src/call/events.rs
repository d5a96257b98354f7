//! What a call tells the rest of the gateway when an attempt or the call ends: the
//! seam for call detail records, carrier quality and metrics.
//!
//! A [`TransitCall`](super::TransitCall) never writes a CDR or touches a counter itself;
//! it emits one [`CallEvent::AttemptEnded`] per carrier attempt (in dialling order) and one
//! [`CallEvent::CallEnded`], each carrying every field a CDR row needs. Times are unix
//! milliseconds computed from the call's virtual time through a [`WallClock`] anchor, so
//! unit tests stay deterministic and the CDR store never reads a clock either.

use dcx_routing::Tariff;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Maps the monotonic `Instant`s a sans-IO core is driven with to unix milliseconds:
/// one pair of readings taken by the shell at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// The monotonic reading.
    pub at: Instant,
    /// The wall-clock reading taken at the same moment, unix milliseconds.
    pub unix_ms: i64,
}

impl WallClock {
    /// Both clocks read now (the shell does this once, at start).
    pub fn now() -> Self {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            at: Instant::now(),
            unix_ms,
        }
    }

    /// Unix milliseconds at `t`.
    pub fn unix_ms(&self, t: Instant) -> i64 {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match t.checked_duration_since(self.at) {
            Some(after) => self.unix_ms.saturating_add(ms(after)),
            None => self.unix_ms.saturating_sub(ms(self.at - t)),
        }
    }
}

pub use crate::cdr::HangupSide;

/// How one carrier attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The carrier answered (the attempt ends when the call does).
    Answered,
    /// A final failure response from the carrier.
    Rejected,
    /// No final response in time (timer B), or the request could not be sent.
    Timeout,
    /// No 18x within the post-dial-delay timer: cancelled, the next carrier was tried.
    PostDialDelay,
    /// The origin cancelled the call while this attempt was ringing.
    Cancelled,
}

/// Times of a call or an attempt, unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(
    clippy::struct_field_names,
    reason = "named as the CDR columns they fill"
)]
pub struct Times {
    /// The INVITE arrived (call) or was sent (attempt).
    pub start_ms: i64,
    /// The first 18x.
    pub first_ring_ms: Option<i64>,
    /// The 2xx.
    pub answer_ms: Option<i64>,
    /// The end: the final failure, the CANCEL, or the BYE.
    pub end_ms: i64,
}

impl Times {
    /// Times read off `clock`: from `start` to `end`, with the first 18x and the 2xx.
    pub fn between(
        clock: WallClock,
        start: Instant,
        first_ring: Option<Instant>,
        answer: Option<Instant>,
        end: Instant,
    ) -> Self {
        Self {
            start_ms: clock.unix_ms(start),
            first_ring_ms: first_ring.map(|t| clock.unix_ms(t)),
            answer_ms: answer.map(|t| clock.unix_ms(t)),
            end_ms: clock.unix_ms(end),
        }
    }
}

/// What routing chose for an attempt (or for the call: the answering or last attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    /// The carrier (trunk) dialled.
    pub trunk_out: Arc<str>,
    /// The deck prefix that matched.
    pub prefix: String,
    /// Rate per minute, nano-units.
    pub rate_nano: u64,
    /// Billing terms, for the cost.
    pub tariff: Tariff,
}

/// Who called whom, shared by a call's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The origin's Call-ID: the call's id in logs and CDRs.
    pub call_id: String,
    /// The trunk the call came in on.
    pub trunk_in: String,
    /// The calling party: the URI of the origin's From.
    pub caller: String,
    /// The called party as dialled (the Request-URI's user part).
    pub callee: String,
    /// The called number after normalization; empty when it did not normalize.
    pub callee_normalized: String,
    /// What the calling leg is: a SIP trunk or a browser.
    pub origin_leg: crate::cdr::LegKind,
}

/// One carrier attempt, ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// Who called whom.
    pub parties: Parties,
    /// 1-based, in dialling order.
    pub attempt: u32,
    /// Where it went.
    pub route: Rated,
    /// Its times.
    pub times: Times,
    /// How it ended.
    pub end: AttemptEnd,
    /// The carrier's final status (200 when answered; 408 for a timeout; 487 when
    /// cancelled; 0 when nothing was sent).
    pub sip_code: u16,
}

/// The call, ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// Who called whom.
    pub parties: Parties,
    /// The answering attempt's route, or the last tried; `None` when nothing was dialled.
    pub route: Option<Rated>,
    /// Attempts made.
    pub attempts: u32,
    /// As the origin saw them.
    pub times: Times,
    /// The final status the origin got (200 for an answered call).
    pub sip_code: u16,
    /// Who ended it.
    pub hangup: HangupSide,
    /// Why, in words (a routing error, "BYE", "CANCEL", "no ACK").
    pub reason: String,
    /// The queue of an inbound call for agents.
    pub queue: Option<String>,
    /// The agent who answered it.
    pub agent: Option<String>,
    /// How long the caller waited in the queue (until answered, or the end).
    pub queue_wait_ms: Option<i64>,
}

/// What a call reports.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A carrier attempt ended (answered attempts end with the call).
    AttemptEnded(AttemptRecord),
    /// The call ended; sent after its attempts' events.
    CallEnded(CallRecord),
}

impl CallEvent {
    /// Logs the event: a line per call at info, a line per attempt at debug.
    pub fn log(&self) {
        match self {
            CallEvent::AttemptEnded(a) => tracing::debug!(
                call_id = %a.parties.call_id,
                attempt = a.attempt,
                trunk_out = %a.route.trunk_out,
                prefix = %a.route.prefix,
                end = ?a.end,
                sip_code = a.sip_code,
                "attempt ended"
            ),
            CallEvent::CallEnded(c) => tracing::info!(
                call_id = %c.parties.call_id,
                trunk_in = %c.parties.trunk_in,
                trunk_out = c.route.as_ref().map_or("", |r| &*r.trunk_out),
                callee = %c.parties.callee_normalized,
                attempts = c.attempts,
                sip_code = c.sip_code,
                hangup = ?c.hangup,
                reason = %c.reason,
                answered = c.times.answer_ms.is_some(),
                duration_ms = c.times.answer_ms.map_or(0, |a| c.times.end_ms - a),
                "call ended"
            ),
        }
    }
}
