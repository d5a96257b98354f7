//! Call events -> CDRs: one record per attempt and one for the call, costed with the
//! answered attempt's tariff (minimum duration, increment, connect fee).

use super::events::{AttemptRecord, CallEvent, CallRecord, Rated};
use crate::cdr::{billable_s, Cdr, HangupSide, LegKind};

fn nano(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What an answered leg costs at its route's tariff.
fn cost(route: Option<&Rated>, answer_ms: Option<i64>, end_ms: i64) -> i64 {
    let seconds = u64::try_from(billable_s(answer_ms, end_ms)).unwrap_or(0);
    route.map_or(0, |r| nano(r.tariff.cost_nano(r.rate_nano, seconds)))
}

impl CallRecord {
    /// What the call costs at its answered attempt's tariff, nano-units.
    pub fn cost_nano(&self) -> i64 {
        cost(self.route.as_ref(), self.times.answer_ms, self.times.end_ms)
    }
}

impl CallEvent {
    /// The CDR this event is.
    pub fn to_cdr(&self) -> Cdr {
        match self {
            CallEvent::AttemptEnded(a) => attempt(a),
            CallEvent::CallEnded(c) => call(c),
        }
    }
}

fn attempt(a: &AttemptRecord) -> Cdr {
    let t = &a.times;
    Cdr {
        call_id: a.parties.call_id.clone(),
        attempt: a.attempt,
        leg: LegKind::Sip,
        trunk_in: a.parties.trunk_in.clone(),
        trunk_out: Some(a.route.trunk_out.to_string()),
        caller: a.parties.caller.clone(),
        callee: a.parties.callee.clone(),
        callee_normalized: a.parties.callee_normalized.clone(),
        prefix: Some(a.route.prefix.clone()),
        rate_per_min_nano: nano(a.route.rate_nano),
        start_ms: t.start_ms,
        first_ring_ms: t.first_ring_ms,
        answer_ms: t.answer_ms,
        end_ms: t.end_ms,
        duration_s: billable_s(t.answer_ms, t.end_ms),
        cost_nano: cost(Some(&a.route), t.answer_ms, t.end_ms),
        sip_code: a.sip_code,
        hangup: HangupSide::System,
        reason: format!("{:?}", a.end).to_lowercase(),
        queue: None,
        agent: None,
        queue_wait_ms: None,
    }
}

fn call(c: &CallRecord) -> Cdr {
    let t = &c.times;
    Cdr {
        call_id: c.parties.call_id.clone(),
        attempt: 0,
        leg: c.parties.origin_leg,
        trunk_in: c.parties.trunk_in.clone(),
        trunk_out: c.route.as_ref().map(|r| r.trunk_out.to_string()),
        caller: c.parties.caller.clone(),
        callee: c.parties.callee.clone(),
        callee_normalized: c.parties.callee_normalized.clone(),
        prefix: c.route.as_ref().map(|r| r.prefix.clone()),
        rate_per_min_nano: c.route.as_ref().map_or(0, |r| nano(r.rate_nano)),
        start_ms: t.start_ms,
        first_ring_ms: t.first_ring_ms,
        answer_ms: t.answer_ms,
        end_ms: t.end_ms,
        duration_s: billable_s(t.answer_ms, t.end_ms),
        cost_nano: c.cost_nano(),
        sip_code: c.sip_code,
        hangup: c.hangup,
        reason: c.reason.clone(),
        queue: c.queue.clone(),
        agent: c.agent.clone(),
        queue_wait_ms: c.queue_wait_ms,
    }
}
