//! The carrier side every call has, whatever its origin (a SIP trunk or a browser):
//! the candidates left ([`Plan`]), the attempts made ([`Attempt`]), the failure that
//! will be reported if nothing better comes, and the failover decisions between them.
//!
//! The dialer decides nothing about the origin: it says "dial the next one" or "give
//! up with this failure", and the call answers its own origin accordingly.

use super::attempts::{Attempt, InviteNews, Offer, Plan, Target};
use super::events::{AttemptEnd, CallEvent, CallRecord, HangupSide, Parties, Rated, Times};
use super::legs::Ids;
use super::CallSetup;
use dcx_routing::{AttemptOutcome, Next};
use dcx_sip::{Message, Method};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Where a call's records go: its parties, its clock, its event queue.
pub struct Records<'a> {
    /// Who called whom.
    pub parties: &'a Parties,
    /// The call's setup (for the clock).
    pub setup: &'a CallSetup,
    /// The call's event queue.
    pub events: &'a mut VecDeque<CallEvent>,
}

/// What a failed attempt leaves the call to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// The policy says try the next candidate, and one is left.
    DialNext,
    /// Give up with [`Dialer::take_failure`].
    GiveUp,
}

/// The carrier attempts of one call.
#[derive(Debug, Default)]
pub struct Dialer {
    /// The candidates not tried yet.
    pub plan: Plan,
    /// Every attempt made, in order.
    pub attempts: Vec<Attempt>,
    /// The failure to report if no attempt answers: code, reason, who.
    pub last_failure: Option<(u16, Vec<u8>, HangupSide)>,
}

impl Dialer {
    /// A dialer over routing's candidates, best first.
    pub fn new(targets: Vec<Target>) -> Self {
        Self {
            plan: Plan::new(targets),
            ..Self::default()
        }
    }

    /// Starts the next candidate's INVITE (skipping any whose INVITE cannot be built);
    /// false when none is left.
    pub fn dial_next(
        &mut self,
        now: Instant,
        offer: &Offer<'_>,
        ids: &mut Ids,
        setup: &CallSetup,
        call_id: &str,
    ) -> bool {
        while let Some(next) = self.plan.next() {
            let carrier = next.1.route.trunk_out.clone();
            match Attempt::start(now, next, offer, ids, &setup.local, setup.timers) {
                Ok(a) => {
                    tracing::debug!(%call_id, %carrier, attempt = a.number, "dialing");
                    self.attempts.push(a);
                    return true;
                }
                Err(e) => tracing::warn!(%call_id, %carrier, "cannot build the INVITE: {e}"),
            }
        }
        false
    }

    /// A response to one of the attempts (INVITE, CANCEL or BYE, matched by the top Via
    /// branch): the attempt's index and what its INVITE transaction said.
    pub fn handle_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &Message<'_>,
        (ids, setup): (&mut Ids, &CallSetup),
    ) -> Option<(usize, Vec<InviteNews>)> {
        let (Some(code), Ok(via), Ok(cseq)) = (msg.status_code(), msg.top_via(), msg.cseq()) else {
            return None;
        };
        let branch = via.branch().unwrap_or_default();
        let i = self
            .attempts
            .iter()
            .position(|a| a.is_invite_branch(branch) || a.bye_branch() == Some(branch))?;
        let mut news = Vec::new();
        let a = &mut self.attempts[i];
        match cseq.method {
            Method::Invite if a.is_invite_branch(branch) => {
                a.handle_invite_response(now, from, msg, (ids, &setup.local), &mut news);
            }
            Method::Cancel => a.handle_cancel_response(now, code),
            Method::Bye => a.handle_bye_response(now, code),
            _ => {}
        }
        Some((i, news))
    }

    /// Runs the attempts' timers: what each INVITE transaction said, and the attempts
    /// whose post-dial-delay passed.
    pub fn handle_timeout(&mut self, now: Instant) -> (Vec<(usize, InviteNews)>, Vec<usize>) {
        let mut said = Vec::new();
        let mut pdd = Vec::new();
        for (i, a) in self.attempts.iter_mut().enumerate() {
            let mut news = Vec::new();
            a.handle_timeout(now, &mut news);
            said.extend(news.into_iter().map(|n| (i, n)));
            if a.pdd_expired(now) {
                pdd.push(i);
            }
        }
        (said, pdd)
    }

    /// Attempt `i` failed: it is recorded, its failure remembered, and the policy
    /// applied.
    pub fn failed(
        &mut self,
        now: Instant,
        i: usize,
        outcome: AttemptOutcome,
        (code, reason): (u16, Vec<u8>),
        mut records: Records<'_>,
    ) -> AfterFailure {
        let end = match outcome {
            AttemptOutcome::Final(_) => AttemptEnd::Rejected,
            AttemptOutcome::Timeout => AttemptEnd::Timeout,
            AttemptOutcome::PostDialDelay => AttemptEnd::PostDialDelay,
        };
        self.attempts[i].live = false;
        self.report(now, i, end, code, &mut records);
        let side = if outcome == AttemptOutcome::Final(code) {
            HangupSide::Callee
        } else {
            HangupSide::System
        };
        let retry = self.attempts[i].target.failover.next(outcome) == Next::TryNext;
        self.last_failure = Some((code, reason, side));
        if retry && self.plan.has_more() {
            AfterFailure::DialNext
        } else {
            AfterFailure::GiveUp
        }
    }

    /// No 18x from attempt `i` in time: if the policy says so and a candidate is left
    /// (and the call is still dialing), the attempt is cancelled and recorded, and the
    /// caller dials the next (true); else the last candidate keeps ringing.
    pub fn post_dial_delay(
        &mut self,
        now: Instant,
        i: usize,
        dialing: bool,
        mut records: Records<'_>,
    ) -> bool {
        let policy = &self.attempts[i].target.failover;
        let retry = policy.next(AttemptOutcome::PostDialDelay) == Next::TryNext;
        if dialing && retry && self.plan.has_more() {
            self.attempts[i].abandon(now, &records.setup.local);
            self.report(now, i, AttemptEnd::PostDialDelay, 487, &mut records);
            self.last_failure = Some((408, b"Request Timeout".to_vec(), HangupSide::System));
            true
        } else {
            self.attempts[i].pdd_deadline = None;
            false
        }
    }

    /// Cancels every attempt still wanted (the caller gave up), recording each.
    pub fn cancel_all(&mut self, now: Instant, records: Records<'_>) {
        let Records {
            parties,
            setup,
            events,
        } = records;
        for i in 0..self.attempts.len() {
            if self.attempts[i].live {
                self.attempts[i].abandon(now, &setup.local);
                let mut records = Records {
                    parties,
                    setup,
                    events: &mut *events,
                };
                self.report(now, i, AttemptEnd::Cancelled, 487, &mut records);
            }
        }
    }

    /// The failure to give up with: the last attempt's, else 503.
    pub fn take_failure(&mut self) -> (u16, Vec<u8>, HangupSide) {
        self.last_failure.take().unwrap_or((
            503,
            b"Service Unavailable".to_vec(),
            HangupSide::System,
        ))
    }

    /// Records attempt `i`'s end (once).
    pub fn report(
        &mut self,
        now: Instant,
        i: usize,
        end: AttemptEnd,
        sip_code: u16,
        records: &mut Records<'_>,
    ) {
        let at = (records.setup.clock, now);
        if let Some(e) = self.attempts[i].record(records.parties, at, end, sip_code) {
            records.events.push_back(e);
        }
    }

    /// The call's record: routed as the answering attempt (or the last tried).
    pub fn call_record(
        &self,
        parties: &Parties,
        times: Times,
        (sip_code, hangup, why): (u16, HangupSide, &str),
    ) -> CallRecord {
        let route: Option<Rated> = self
            .attempts
            .iter()
            .rev()
            .find(|a| a.answered.is_some())
            .or(self.attempts.last())
            .map(|a| a.target.route.clone());
        CallRecord {
            parties: parties.clone(),
            route,
            attempts: self.plan.tried(),
            times,
            sip_code,
            hangup,
            reason: why.to_owned(),
            queue: None,
            agent: None,
            queue_wait_ms: None,
        }
    }

    /// Moves what the attempts' transactions want to send into `out`.
    pub fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        for a in &mut self.attempts {
            a.transmit(out);
        }
    }

    /// The attempts' next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.attempts.iter().filter_map(Attempt::poll_timeout).min()
    }
}
