//! How a transit call ends: the caller gives up (CANCEL, or BYE before the answer),
//! either side hangs up (BYE relayed to the other), or dcx hangs up both (no ACK); and
//! the events each end reports.

use super::super::dialer::Records;
use super::super::events::{AttemptEnd, CallEvent, HangupSide, Times};
use super::{Phase, Side, TransitCall};
use std::time::Instant;

impl TransitCall {
    /// The origin cancelled (CANCEL, or BYE in the early dialog) before an answer.
    pub(super) fn caller_gave_up(&mut self, now: Instant, why: &str) {
        if let Some(bytes) = self.origin.response(487, b"Request Terminated", None, None) {
            self.server.send_response(now, 487, bytes);
        }
        let records = Records {
            parties: &self.parties,
            setup: &self.setup,
            events: &mut self.events,
        };
        self.dialer.cancel_all(now, records);
        self.end(now, 487, HangupSide::Caller, why);
    }

    pub(super) fn bye_from(&mut self, now: Instant, side: Side) {
        match (self.phase, side) {
            (Phase::Answered(_), Side::Origin) => {
                if let Some(a) = &mut self.answer {
                    a.handle_ack(); // a BYE before the ACK also ends the 2xx resends
                }
                self.hang_up_carrier(now);
                self.end(now, 200, HangupSide::Caller, "BYE");
            }
            (Phase::Answered(i), Side::Carrier(j)) if i == j => {
                self.bye_origin(now);
                self.end(now, 200, HangupSide::Callee, "BYE");
            }
            (Phase::Dialing, Side::Origin) => self.caller_gave_up(now, "BYE before answer"),
            _ => {}
        }
    }

    fn hang_up_carrier(&mut self, now: Instant) {
        if let Phase::Answered(i) = self.phase {
            self.dialer.attempts[i].send_bye(now, &mut self.ids, &self.setup.local);
        }
    }

    pub(super) fn hang_up_both(&mut self, now: Instant) {
        self.hang_up_carrier(now);
        self.bye_origin(now);
    }

    fn bye_origin(&mut self, now: Instant) {
        let (answer, origin) = (&mut self.answer, &mut self.origin);
        let bye = super::super::origin::bye_origin(now, answer, origin, &mut self.ids, &self.setup);
        self.origin_bye = bye;
    }

    /// The call is over for both parties: report the answered attempt and the call.
    pub(super) fn end(&mut self, now: Instant, code: u16, hangup: HangupSide, why: &str) {
        if let Phase::Answered(i) = self.phase {
            self.report_attempt(now, i, AttemptEnd::Answered, 200);
        }
        self.phase = Phase::Ended;
        let clock = self.setup.clock;
        tracing::debug!(call_id = %self.parties.call_id, code, ?hangup, why, "call ended");
        let times = Times::between(clock, self.started, self.first_ring, self.answered, now);
        let record = self
            .dialer
            .call_record(&self.parties, times, (code, hangup, why));
        self.events.push_back(CallEvent::CallEnded(record));
    }

    pub(super) fn report_attempt(
        &mut self,
        now: Instant,
        i: usize,
        end: AttemptEnd,
        sip_code: u16,
    ) {
        let mut records = Records {
            parties: &self.parties,
            setup: &self.setup,
            events: &mut self.events,
        };
        self.dialer.report(now, i, end, sip_code, &mut records);
    }
}
