//! Carrier attempts: the candidates routing chose ([`Plan`]) and one INVITE toward one
//! carrier with everything that hangs off it ([`Attempt`]): its client transaction, its
//! CANCEL, the ACK of its 2xx, its BYE, its post-dial-delay deadline and its times.
//!
//! An attempt does not decide what happens next; it reports what its transactions say
//! ([`InviteNews`]) and the call ([`super::TransitCall`]) applies the failover policy.
//!
//! Digest authentication (RFC 3261 22.2, RFC 7616/8760): a 401 or 407 from the trunk
//! address the INVITE went to, when the trunk has credentials, is acknowledged by
//! its transaction and answered once: the same INVITE again with a new branch, `CSeq` + 1,
//! the same Call-ID and From tag, and `Authorization` / `Proxy-Authorization` for the
//! strongest challenge offered. Every answer uses the fresh nonce of its own challenge,
//! so the nonce count is always 1 (nothing is pre-authorized, no nonce is reused) and
//! the client nonce is fresh from the call's generator. A second challenge, a challenge
//! from a trunk without credentials or from another address, or one that cannot be
//! answered is the attempt's failure with that code.

use super::events::{AttemptEnd, AttemptRecord, CallEvent, Parties, Rated, Times, WallClock};
use super::legs::{Dialog, Ids, Local, Request, Transport};
use dcx_routing::FailoverPolicy;
use dcx_sip::auth::{authorize, Challenge, Credentials};
use dcx_sip::transaction::{ClientEvent, InviteClient, NonInviteClient, Timers};
use dcx_sip::{Message, Method, SipError};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One carrier routing chose, resolved to its trunk's address.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The carrier, prefix, rate and tariff.
    pub route: Rated,
    /// The trunk's address.
    pub addr: SocketAddr,
    /// What to do when the attempt fails.
    pub failover: Arc<FailoverPolicy>,
    /// The trunk's digest credentials, to answer its challenges.
    pub credentials: Option<Arc<Credentials>>,
    /// UDP or TCP toward the trunk.
    pub transport: Transport,
}

/// The challenge to answer in a 401 (`WWW-Authenticate`) or 407
/// (`Proxy-Authenticate`): the strongest one offered, and the header the answer goes in.
pub fn read_challenge(
    code: u16,
    msg: &Message<'_>,
) -> Result<(Challenge, &'static str), dcx_sip::auth::AuthError> {
    let (asked, answer) = if code == 401 {
        ("WWW-Authenticate", "Authorization")
    } else {
        ("Proxy-Authenticate", "Proxy-Authorization")
    };
    let values: Vec<String> = msg
        .headers_named(asked)
        .map(|h| String::from_utf8_lossy(&h.unfolded()).into_owned())
        .collect();
    Challenge::strongest(values.iter().map(String::as_str)).map(|c| (c, answer))
}

/// The candidates not tried yet, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    targets: VecDeque<Target>,
    tried: u32,
}

impl Plan {
    /// A plan over `targets`, best first.
    pub fn new(targets: Vec<Target>) -> Self {
        Self {
            targets: targets.into(),
            tried: 0,
        }
    }

    /// Whether another candidate is left.
    pub fn has_more(&self) -> bool {
        !self.targets.is_empty()
    }

    /// The next candidate and its 1-based attempt number.
    pub fn next(&mut self) -> Option<(u32, Target)> {
        let t = self.targets.pop_front()?;
        self.tried += 1;
        Some((self.tried, t))
    }

    /// Attempts started so far.
    pub fn tried(&self) -> u32 {
        self.tried
    }
}

/// What the origin's INVITE gives every attempt.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// The normalized number dialled.
    pub number: &'a str,
    /// The caller's address (From of our INVITE), without tag.
    pub from: &'a str,
    /// Max-Forwards of our INVITE (the origin's, decremented).
    pub max_forwards: u8,
    /// The origin's body (the SDP offer), passed through.
    pub body: Option<(&'a str, &'a [u8])>,
    /// Extra headers of every INVITE (the session-timer offer, for calls that can
    /// refresh it).
    pub headers: &'static [(&'static str, &'static str)],
}

/// What one response did to an attempt's INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteNews {
    /// A 1xx arrived (18x are relayed, 100 only allows a CANCEL).
    Provisional(u16),
    /// The first 2xx.
    Answered,
    /// A retransmitted 2xx: our ACK was resent.
    AnsweredAgain,
    /// A failure response.
    Failed(u16),
    /// Timer B: no final response in time.
    TimedOut,
}

/// One INVITE toward one carrier.
#[derive(Debug)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one INVITE, each set by a different message"
)]
pub struct Attempt {
    /// 1-based attempt number.
    pub number: u32,
    /// Where it went.
    pub target: Target,
    /// The carrier-side dialog (remote tag and target learnt from its responses).
    pub dialog: Dialog,
    request_uri: String,
    branch: String,
    invite: InviteClient,
    /// The `CSeq` number of the current INVITE (2 after a challenge).
    invite_cseq: u32,
    max_forwards: u8,
    body: Option<(String, Vec<u8>)>,
    headers: &'static [(&'static str, &'static str)],
    /// The credentials header the current INVITE carries (repeated in the 2xx's ACK).
    auth: Option<(&'static str, String)>,
    /// The challenged INVITE's branch and transaction, kept to ACK a retransmitted
    /// 401/407 until its timer D ends it.
    challenged: Option<(String, InviteClient)>,
    timers: Timers,
    /// When the INVITE went out.
    pub started: Instant,
    /// The first 18x.
    pub first_ring: Option<Instant>,
    /// The 2xx.
    pub answered: Option<Instant>,
    /// Post-dial-delay deadline, while no 18x came.
    pub pdd_deadline: Option<Instant>,
    /// Whether the call still wants this attempt (false once cancelled or superseded).
    pub live: bool,
    /// Whether its `AttemptEnded` event went out.
    pub reported: bool,
    heard: bool,
    /// A final response or timer B ended the INVITE transaction's interest for the call
    /// (tracked here: the transaction's `State` type is not exported by dcx-sip).
    finished: bool,
    cancel_pending: bool,
    cancel: Option<NonInviteClient>,
    ack: Option<(SocketAddr, Vec<u8>)>,
    resend_ack: bool,
    bye: Option<(String, SocketAddr, NonInviteClient)>,
}

impl Attempt {
    /// Builds the INVITE and starts its transaction.
    pub fn start(
        now: Instant,
        (number, target): (u32, Target),
        offer: &Offer<'_>,
        ids: &mut Ids,
        local: &Local,
        timers: Timers,
    ) -> Result<Self, SipError> {
        let request_uri = format!("sip:{}@{}", offer.number, target.addr);
        let dialog = Dialog {
            call_id: ids.call_id(local.host()),
            local_tag: ids.carrier_tag(),
            remote_tag: None,
            local_uri: offer.from.to_owned(),
            remote_uri: format!("<{request_uri}>"),
            remote_target: request_uri.clone(),
            route_set: Vec::new(),
            local_cseq: 1,
            fallback: target.addr,
            transport: target.transport,
            flow: None,
        };
        let branch = ids.branch();
        let mut r = Request::new(Method::Invite, 1, &branch, local);
        r.headers = offer.headers;
        r.max_forwards = offer.max_forwards;
        r.body = offer.body;
        let bytes = dialog.request(&r)?;
        let pdd_ms = target.failover.pdd_timeout_ms;
        Ok(Self {
            number,
            dialog,
            request_uri,
            branch,
            invite: InviteClient::new(now, bytes, target.transport.reliability(), timers),
            invite_cseq: 1,
            max_forwards: offer.max_forwards,
            body: offer.body.map(|(t, b)| (t.to_owned(), b.to_vec())),
            headers: offer.headers,
            auth: None,
            challenged: None,
            timers,
            started: now,
            first_ring: None,
            answered: None,
            pdd_deadline: (pdd_ms > 0).then(|| now + Duration::from_millis(pdd_ms)),
            live: true,
            reported: false,
            heard: false,
            finished: false,
            cancel_pending: false,
            cancel: None,
            ack: None,
            resend_ack: false,
            bye: None,
            target,
        })
    }

    /// Whether `branch` is its INVITE's, or the challenged INVITE's before it.
    pub fn is_invite_branch(&self, branch: &str) -> bool {
        self.branch == branch || self.challenged.as_ref().is_some_and(|c| c.0 == branch)
    }

    /// The branch of its BYE, if one was sent.
    pub fn bye_branch(&self) -> Option<&str> {
        self.bye.as_ref().map(|b| b.0.as_str())
    }

    /// A response to its INVITE arrived from `from`.
    pub fn handle_invite_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &Message<'_>,
        (ids, local): (&mut Ids, &Local),
        news: &mut Vec<InviteNews>,
    ) {
        let Some(code) = msg.status_code() else {
            return;
        };
        let to_tag = msg.to().ok().and_then(|t| t.tag());
        let branch = msg.top_via().ok().and_then(|v| v.branch());
        if let Some((old_branch, old)) = &mut self.challenged {
            if branch == Some(old_branch.as_str()) {
                // A retransmitted challenge: its transaction ACKs it again.
                let mut r = Request::new(Method::Ack, self.invite_cseq - 1, old_branch, local);
                r.uri = Some(&self.request_uri);
                r.to_tag = to_tag;
                let mut d = self.dialog.clone();
                d.remote_tag = None;
                old.handle_response(now, code, || d.request(&r).unwrap_or_default());
                while old.poll_event().is_some() {}
                return;
            }
        }
        let dialog = &self.dialog;
        let (uri, branch) = (&self.request_uri, &self.branch);
        let cseq = self.invite_cseq;
        self.invite.handle_response(now, code, || {
            // RFC 3261 17.1.1.3: the ACK of a failure is part of the transaction.
            let mut r = Request::new(Method::Ack, cseq, branch, local);
            r.uri = Some(uri);
            r.to_tag = to_tag;
            dialog.request(&r).unwrap_or_default()
        });
        while let Some(e) = self.invite.poll_event() {
            match e {
                ClientEvent::Provisional(code) => {
                    self.heard = true;
                    if (180..=189).contains(&code) && self.first_ring.is_none() {
                        self.first_ring = Some(now);
                        self.pdd_deadline = None;
                    }
                    news.push(InviteNews::Provisional(code));
                }
                ClientEvent::Final(200..=299) => {
                    self.finished = true;
                    if self.answered.is_some() {
                        news.push(InviteNews::AnsweredAgain);
                        self.resend_ack = true;
                    } else {
                        self.answered = Some(now);
                        self.pdd_deadline = None;
                        self.ack_2xx(msg, ids, local);
                        news.push(InviteNews::Answered);
                    }
                }
                ClientEvent::Final(code @ (401 | 407)) if !self.finished => {
                    match self.answer_challenge(now, from, code, msg, (ids, local)) {
                        Ok(()) => {
                            tracing::debug!(carrier = %self.target.route.trunk_out, code, "challenge answered");
                            return;
                        }
                        Err(why) => {
                            tracing::debug!(carrier = %self.target.route.trunk_out, code, "challenge not answered: {why}");
                            self.finished = true;
                            self.pdd_deadline = None;
                            news.push(InviteNews::Failed(code));
                        }
                    }
                }
                ClientEvent::Final(code) => {
                    self.finished = true;
                    self.pdd_deadline = None;
                    news.push(InviteNews::Failed(code));
                }
                ClientEvent::Timeout => {
                    self.finished = true;
                    news.push(InviteNews::TimedOut);
                }
                ClientEvent::Terminated => {}
            }
        }
        if self.heard && self.cancel_pending && !self.finished {
            self.send_cancel(now, local);
        }
    }

    /// Sends the INVITE again with credentials for the challenge in `msg` (a 401 or
    /// 407 its transaction has acknowledged), or says why it cannot.
    fn answer_challenge(
        &mut self,
        now: Instant,
        from: SocketAddr,
        code: u16,
        msg: &Message<'_>,
        (ids, local): (&mut Ids, &Local),
    ) -> Result<(), String> {
        if !self.live {
            return Err("the call no longer wants this attempt".into());
        }
        if self.auth.is_some() {
            return Err("challenged again after our credentials".into());
        }
        let Some(creds) = self.target.credentials.clone() else {
            return Err("the trunk has no credentials".into());
        };
        if from != self.target.addr {
            return Err(format!("the challenge came from {from}, not the trunk"));
        }
        let (challenge, answer) = read_challenge(code, msg).map_err(|e| e.to_string())?;
        let body = self.body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
        let value = authorize(
            &challenge,
            &creds,
            "INVITE",
            &self.request_uri,
            body.map_or(&[][..], |b| b.1),
            1,
            &ids.cnonce(),
        );
        let branch = ids.branch();
        let mut r = Request::new(Method::Invite, self.invite_cseq + 1, &branch, local);
        r.headers = self.headers;
        r.max_forwards = self.max_forwards;
        r.body = body;
        r.auth = Some((answer, &value));
        let bytes = self.dialog.request(&r).map_err(|e| e.to_string())?;
        self.invite_cseq += 1;
        self.dialog.local_cseq = self.invite_cseq;
        let old = std::mem::replace(
            &mut self.invite,
            InviteClient::new(now, bytes, self.dialog.transport.reliability(), self.timers),
        );
        let old_branch = std::mem::replace(&mut self.branch, branch);
        self.challenged = Some((old_branch, old));
        self.auth = Some((answer, value));
        self.heard = false;
        Ok(())
    }

    /// The ACK of a 2xx: a transaction of its own toward the carrier's Contact, through
    /// its Record-Route set (RFC 3261 13.2.2.4).
    fn ack_2xx(&mut self, msg: &Message<'_>, ids: &mut Ids, local: &Local) {
        self.dialog.learn_from_response(msg);
        let branch = ids.branch();
        let mut r = Request::new(Method::Ack, self.invite_cseq, &branch, local);
        r.auth = self.auth.as_ref().map(|(n, v)| (*n, v.as_str()));
        match self.dialog.request(&r) {
            Ok(bytes) => self.ack = Some((self.dialog.next_hop(), bytes)),
            Err(e) => tracing::debug!("cannot build the ACK of the carrier's 2xx: {e}"),
        }
        self.resend_ack = true;
    }

    /// A response to its CANCEL arrived.
    pub fn handle_cancel_response(&mut self, now: Instant, code: u16) {
        if let Some(c) = &mut self.cancel {
            c.handle_response(now, code);
            while c.poll_event().is_some() {}
        }
    }

    /// A response to its BYE arrived.
    pub fn handle_bye_response(&mut self, now: Instant, code: u16) {
        if let Some((_, _, c)) = &mut self.bye {
            c.handle_response(now, code);
            while c.poll_event().is_some() {}
        }
    }

    /// The call no longer wants this attempt: CANCEL it once the carrier was heard from
    /// (RFC 3261 9.1: not before a provisional response), and not if it already ended.
    pub fn abandon(&mut self, now: Instant, local: &Local) {
        self.live = false;
        self.pdd_deadline = None;
        if self.finished {
            return;
        }
        if self.heard {
            self.send_cancel(now, local);
        } else {
            self.cancel_pending = true;
        }
    }

    fn send_cancel(&mut self, now: Instant, local: &Local) {
        self.cancel_pending = false;
        if self.cancel.is_some() {
            return;
        }
        let mut r = Request::new(Method::Cancel, self.invite_cseq, &self.branch, local);
        r.uri = Some(&self.request_uri);
        r.to_tag = None;
        let mut d = self.dialog.clone();
        d.remote_tag = None;
        match d.request(&r) {
            Ok(bytes) => {
                self.cancel = Some(NonInviteClient::new(
                    now,
                    bytes,
                    self.dialog.transport.reliability(),
                    self.timers,
                ));
            }
            Err(e) => tracing::debug!("cannot build CANCEL: {e}"),
        }
    }

    /// Ends the answered dialog with a BYE.
    pub fn send_bye(&mut self, now: Instant, ids: &mut Ids, local: &Local) {
        if self.bye.is_some() || self.dialog.remote_tag.is_none() {
            return;
        }
        match self.dialog.bye(now, ids.branch(), local, self.timers) {
            Ok(bye) => self.bye = Some(bye),
            Err(e) => tracing::debug!("cannot build BYE toward the carrier: {e}"),
        }
    }

    /// Runs its transactions' timers; returns what the INVITE transaction reported.
    pub fn handle_timeout(&mut self, now: Instant, news: &mut Vec<InviteNews>) {
        self.invite.handle_timeout(now);
        while let Some(e) = self.invite.poll_event() {
            if e == ClientEvent::Timeout {
                self.finished = true;
                news.push(InviteNews::TimedOut);
            }
        }
        if let Some(c) = &mut self.cancel {
            c.handle_timeout(now);
            while c.poll_event().is_some() {}
        }
        if let Some((_, _, c)) = &mut self.bye {
            c.handle_timeout(now);
            while c.poll_event().is_some() {}
        }
        if let Some((_, old)) = &mut self.challenged {
            old.handle_timeout(now);
            while old.poll_event().is_some() {}
            if old.poll_timeout().is_none() {
                self.challenged = None;
            }
        }
    }

    /// Whether the post-dial-delay deadline passed without an 18x.
    pub fn pdd_expired(&self, now: Instant) -> bool {
        self.live && self.first_ring.is_none() && self.pdd_deadline.is_some_and(|t| t <= now)
    }

    /// Moves what its transactions want to send into `out`.
    pub fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        let addr = self.target.addr;
        if let Some((_, old)) = &mut self.challenged {
            while let Some(b) = old.poll_transmit() {
                out.push_back((addr, b.to_vec()));
            }
        }
        while let Some(b) = self.invite.poll_transmit() {
            out.push_back((addr, b.to_vec()));
        }
        if let Some(c) = &mut self.cancel {
            while let Some(b) = c.poll_transmit() {
                out.push_back((addr, b.to_vec()));
            }
        }
        if std::mem::take(&mut self.resend_ack) {
            if let Some((to, bytes)) = &self.ack {
                out.push_back((*to, bytes.clone()));
            }
        }
        super::legs::transmit_bye(&mut self.bye, out);
    }

    /// Its CDR event, once: `None` if it was already reported.
    pub fn record(
        &mut self,
        parties: &Parties,
        (clock, now): (WallClock, Instant),
        end: AttemptEnd,
        sip_code: u16,
    ) -> Option<CallEvent> {
        if std::mem::replace(&mut self.reported, true) {
            return None;
        }
        Some(CallEvent::AttemptEnded(AttemptRecord {
            parties: parties.clone(),
            attempt: self.number,
            route: self.target.route.clone(),
            times: Times::between(clock, self.started, self.first_ring, self.answered, now),
            end,
            sip_code,
        }))
    }

    /// Its next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.invite.poll_timeout(),
            self.challenged.as_ref().and_then(|c| c.1.poll_timeout()),
            self.cancel.as_ref().and_then(NonInviteClient::poll_timeout),
            self.bye.as_ref().and_then(|b| b.2.poll_timeout()),
            self.pdd_deadline.filter(|_| self.live),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
