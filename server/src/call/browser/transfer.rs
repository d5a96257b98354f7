//! A blind transfer of a browser's PSTN call by REFER ([`crate::call::refer`]): the
//! carrier that answered is asked to call the number itself. When its NOTIFY reports
//! the new call answered, dcx hangs up its side (the CDR says `transferred by REFER to
//! NUMBER`); otherwise the call's task hears `ReferFailed` and bridges a leg of its own.

use super::{BrowserCall, BrowserNews, Phase};
use crate::call::events::HangupSide;
use crate::call::refer::{Refer, ReferOutcome};
use dcx_sip::Message;
use std::time::Instant;

impl BrowserCall {
    /// The trunk the answered attempt went out on.
    pub fn trunk_out(&self) -> Option<&str> {
        let Phase::Answered(i) = self.phase else {
            return None;
        };
        Some(&self.dialer.attempts[i].target.route.trunk_out)
    }

    /// Asks the carrier to call `number` itself (REFER): false when it cannot be asked
    /// (not answered, a REFER in flight, REFER not in the carrier's `Allow`).
    pub fn refer(&mut self, now: Instant, number: &str) -> bool {
        let Phase::Answered(i) = self.phase else {
            return false;
        };
        if self.refer.is_some() || !self.allows_refer {
            return false;
        }
        let setup = (self.ids.branch(), &self.setup.local, self.setup.timers);
        let dialog = &mut self.dialer.attempts[i].dialog;
        self.refer = Refer::start(now, dialog, number, setup, &self.parties.call_id);
        self.flush();
        self.refer.is_some()
    }

    /// A NOTIFY in the answered dialog: whether it reports on our REFER.
    pub(super) fn refer_notify(&mut self, msg: &Message<'_>) -> bool {
        self.refer
            .as_mut()
            .is_some_and(|(r, _)| r.handle_notify(msg))
    }

    /// A response to our REFER, if it is one.
    pub(super) fn refer_response(&mut self, now: Instant, msg: &Message<'_>) -> bool {
        let (Some((r, _)), Some(code)) = (self.refer.as_mut(), msg.status_code()) else {
            return false;
        };
        if !r.is_ours(msg) {
            return false;
        }
        r.handle_response(now, code);
        self.refer_outcome(now);
        true
    }

    /// Runs the REFER's timers.
    pub(super) fn refer_timeout(&mut self, now: Instant) {
        if let Some((r, _)) = &mut self.refer {
            r.handle_timeout(now);
            self.refer_outcome(now);
        }
    }

    /// What the REFER came to, once.
    pub(super) fn refer_outcome(&mut self, now: Instant) {
        let Some((r, number)) = &mut self.refer else {
            return;
        };
        match r.poll_outcome() {
            Some(ReferOutcome::Transferred) => {
                let why = format!("transferred by REFER to {number}");
                if let Phase::Answered(i) = self.phase {
                    let a = &mut self.dialer.attempts[i];
                    a.send_bye(now, &mut self.ids, &self.setup.local);
                }
                self.end(now, 200, HangupSide::Caller, &why);
            }
            Some(ReferOutcome::Failed(why)) => {
                tracing::info!(call_id = %self.parties.call_id, "REFER to {number} failed: {why}");
                self.news.push_back(BrowserNews::ReferFailed(why));
            }
            None => {}
        }
    }

    /// The REFER's datagrams.
    pub(super) fn refer_transmit(&mut self) {
        if let Some((r, _)) = &mut self.refer {
            r.transmit(&mut self.out);
        }
    }

    /// The REFER's next deadline.
    pub(super) fn refer_deadline(&self) -> Option<Instant> {
        self.refer.as_ref().and_then(|(r, _)| r.poll_timeout())
    }
}
