//! One carrier INVITE to a DID that dcx answers itself (PSTN -> agent): the SIP side.
//! dcx answers the carrier's offer with G.711 at the call's RTP port and sends that
//! answer at once in a 183 (early media: the caller hears hold audio while queued); the
//! same answer goes in the 200 when an agent takes the call ([`InboundCall::answer`]).
//! A caller who gives up (CANCEL, BYE) or a carrier who hangs up ends it, as does
//! [`InboundCall::hang_up`] (an agent hung up, or the queue gave up on the caller).
//!
//! ```text
//!   Queued (183 + SDP) --answer--> Answered (200, until ACK) --BYE either way--> Ended
//!      +--CANCEL / hang_up (a final failure)--> Ended
//! ```
//! Sans-IO like the other calls; what the call's media task must hear comes out of
//! `poll_news` as [`BrowserNews`]: `Offered` with the carrier leg's negotiation, then
//! `Answered`, then `Ended`.

use super::browser::{Arrival, BrowserNews};
use super::events::{CallEvent, CallRecord, HangupSide, Parties, Times};
use super::legs::{body_of, transmit_bye, Ids, OutgoingBye, Transport};
use super::origin::{InCallRequests, OriginInvite};
use super::reoffer::{ReofferSetup, Reoffers};
use super::CallSetup;
use dcx_sip::dialog::answer::{Answer, AnswerEvent};
use dcx_sip::sdp::{negotiate, AudioCapabilities, Codec, Negotiated};
use dcx_sip::transaction::InviteServer;
use dcx_sip::{Message, Method};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Our telephone-event payload type when the carrier offers one we answer with its own.
const EVENT_PT: u8 = 101;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Answered,
    Ended,
}

/// dcx's answer to the carrier's offer: the negotiation, our SDP, our RTP address, and
/// the capabilities it was made with (for the carrier's later offers).
type Answered = (Negotiated, Vec<u8>, (IpAddr, u16), AudioCapabilities);

/// Where an inbound call goes: the DID's queue, or one user's browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidTarget {
    /// The queue's name; empty for a user's DID.
    pub queue: String,
    /// The user whose browser is offered the call directly.
    pub user: Option<String>,
}

/// One inbound call answered by dcx.
#[derive(Debug)]
pub struct InboundCall {
    ids: Ids,
    setup: CallSetup,
    parties: Parties,
    origin: OriginInvite,
    server: InviteServer,
    answer: Option<Answer>,
    /// Our SDP answer (sent in the 183 and the 200; then our answer to the carrier's
    /// last new offer).
    sdp: Option<Vec<u8>>,
    /// What we answer with, and the carrier's new offers once answered.
    caps: Option<AudioCapabilities>,
    reoffers: Reoffers,
    requests: InCallRequests,
    bye: Option<OutgoingBye>,
    /// A blind transfer the carrier was asked to carry itself (REFER), and to where.
    refer: Option<(super::refer::Refer, String)>,
    /// The carrier's INVITE did not leave REFER out of its `Allow`.
    allows_refer: bool,
    queue: String,
    user: Option<String>,
    agent: Option<String>,
    phase: Phase,
    started: Instant,
    answered: Option<Instant>,
    /// Since when the answered caller waits in a queue again (a transfer), and the
    /// waits of that kind so far: the CDR's queue wait is the first plus these.
    requeued_at: Option<Instant>,
    waited_again: std::time::Duration,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<CallEvent>,
    news: VecDeque<BrowserNews>,
}

impl InboundCall {
    /// The carrier's INVITE `msg` (validated, from `peer`, of trunk `trunk_in`) to a DID
    /// of `target`, with the call's RTP port at `rtp` (`None`: no free port, 503).
    pub fn new(
        now: Instant,
        setup: &CallSetup,
        (token, seed): (u64, u64),
        (msg, peer, trunk_in): (&Message<'_>, SocketAddr, &str),
        target: &DidTarget,
        rtp: Option<(IpAddr, u16)>,
    ) -> Result<Self, dcx_sip::SipError> {
        let ids = Ids::new(token, seed);
        let origin = OriginInvite::read(msg, peer, &ids)?;
        let mut call = Self {
            parties: Parties {
                call_id: origin.dialog.call_id.clone(),
                trunk_in: trunk_in.to_owned(),
                caller: origin.caller.clone(),
                callee: origin.dialled.clone(),
                callee_normalized: origin.dialled.clone(),
                origin_leg: crate::cdr::LegKind::Sip,
            },
            ids,
            setup: setup.clone(),
            server: InviteServer::new(Transport::of(msg).reliability(), setup.timers),
            answer: None,
            sdp: None,
            caps: None,
            reoffers: Reoffers::new(ReofferSetup {
                local_tag: origin.dialog.local_tag.clone(),
                contact: setup.local.contact.clone(),
                timers: setup.timers,
                reliability: origin.dialog.transport.reliability(),
            }),
            requests: InCallRequests::default(),
            bye: None,
            refer: None,
            allows_refer: super::legs::allows(msg, "REFER"),
            queue: target.queue.clone(),
            user: target.user.clone(),
            agent: None,
            phase: Phase::Queued,
            started: now,
            answered: None,
            requeued_at: None,
            waited_again: std::time::Duration::ZERO,
            out: VecDeque::new(),
            events: VecDeque::new(),
            news: VecDeque::new(),
            origin,
        };
        call.respond(now, 100, b"Trying", None);
        match Self::negotiate(msg, token, rtp) {
            Ok((negotiated, sdp, rtp, caps)) => {
                let body = Some(("application/sdp", sdp.as_slice()));
                call.respond(now, 183, b"Session Progress", body);
                call.sdp = Some(sdp);
                call.caps = Some(caps);
                call.news.push_back(BrowserNews::Offered(Arrival {
                    from: call.parties.caller.clone(),
                    dialled: call.parties.callee.clone(),
                    queue: call.queue.clone(),
                    user: call.user.clone(),
                    media: negotiated,
                    rtp,
                }));
            }
            Err((code, why)) => call.fail(now, code, &why),
        }
        call.flush();
        Ok(call)
    }

    fn negotiate(
        msg: &Message<'_>,
        token: u64,
        rtp: Option<(IpAddr, u16)>,
    ) -> Result<Answered, (u16, String)> {
        let Some((ip, port)) = rtp else {
            return Err((503, "no free RTP port".into()));
        };
        let Some((_, body)) = body_of(msg) else {
            // No offer (late offer): dcx would have to offer in the 200 and learn the
            // answer from the ACK; queue calls take an offer in the INVITE.
            return Err((488, "the INVITE has no SDP offer".into()));
        };
        let offer = dcx_sip::sdp::parse(body).map_err(|e| (400, format!("bad SDP: {e}")))?;
        let caps = AudioCapabilities {
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event: true,
            telephone_event_pt: EVENT_PT,
            ptime_ms: 20,
            address: ip,
            port,
            session_id: token >> 1,
            session_version: 1,
        };
        let (negotiated, answer) =
            negotiate(&offer, &caps).map_err(|e| (e.sip_status(), e.to_string()))?;
        Ok((negotiated, answer.write().into_bytes(), (ip, port), caps))
    }

    /// The carrier's Call-ID.
    pub fn call_id(&self) -> &str {
        &self.parties.call_id
    }

    /// The trunk the call came in on.
    pub fn trunk_in(&self) -> &str {
        &self.parties.trunk_in
    }

    /// An agent took the call: the 200 with our answer, retransmitted until the ACK.
    /// Again after a blind transfer: the 200 went out already, and the CDR names the
    /// agent who took the call last.
    pub fn answer(&mut self, now: Instant, agent: &str) {
        if self.phase == Phase::Answered {
            self.agent = Some(agent.to_owned());
            if let Some(at) = self.requeued_at.take() {
                self.waited_again += now.saturating_duration_since(at);
            }
            return;
        }
        if self.phase != Phase::Queued {
            return;
        }
        let contact = self.setup.local.contact.clone();
        let body = self.sdp.as_deref().map(|b| ("application/sdp", b));
        let Some(bytes) = self.origin.response(200, b"OK", Some(&contact), body) else {
            self.fail(now, 500, "cannot build the 200");
            self.flush();
            return;
        };
        self.server.send_response(now, 200, bytes.clone());
        let reliability = self.origin.dialog.transport.reliability();
        let mut answer = Answer::new(now, bytes, reliability, self.setup.timers);
        // The server transaction sends the first 2xx; the Answer only retransmits it.
        let _ = answer.poll_transmit();
        self.answer = Some(answer);
        self.phase = Phase::Answered;
        self.answered = Some(now);
        self.agent = Some(agent.to_owned());
        self.flush();
    }

    /// The answered caller waits in a queue again (its agent transferred it): the time
    /// until the next [`InboundCall::answer`] counts as queue wait.
    pub fn requeued(&mut self, now: Instant) {
        if self.phase == Phase::Answered && self.requeued_at.is_none() {
            self.requeued_at = Some(now);
        }
    }

    /// Ends the call from dcx's side: a final failure (`code`, e.g. 480 when the queue
    /// gives up) while queued, a BYE once answered.
    pub fn hang_up(&mut self, now: Instant, code: u16, why: &str) {
        match self.phase {
            Phase::Queued => self.fail(now, code, why),
            Phase::Answered => {
                self.bye_origin(now);
                self.end(now, 200, HangupSide::Callee, why);
            }
            Phase::Ended => {}
        }
        self.flush();
    }

    /// Asks the carrier to call `number` itself and take the caller there (REFER, a
    /// blind transfer): false when it cannot be asked (not answered, a REFER already in
    /// flight, REFER not in the carrier's `Allow`). How it goes comes as news: `Ended`
    /// when the carrier has the call (dcx hung up its side), `ReferFailed` otherwise.
    pub fn refer(&mut self, now: Instant, number: &str) -> bool {
        if self.phase != Phase::Answered || self.refer.is_some() || !self.allows_refer {
            return false;
        }
        let setup = (self.ids.branch(), &self.setup.local, self.setup.timers);
        let dialog = &mut self.origin.dialog;
        self.refer = super::refer::Refer::start(now, dialog, number, setup, &self.parties.call_id);
        self.flush();
        self.refer.is_some()
    }

    /// What the REFER came to, once: the call ends (the carrier has it) or the media
    /// task hears that dcx must put it through itself.
    fn refer_outcome(&mut self, now: Instant) {
        let Some((r, number)) = &mut self.refer else {
            return;
        };
        match r.poll_outcome() {
            Some(super::refer::ReferOutcome::Transferred) => {
                let why = format!("transferred by REFER to {number}");
                self.bye_origin(now);
                self.end(now, 200, HangupSide::Callee, &why);
            }
            Some(super::refer::ReferOutcome::Failed(why)) => {
                tracing::info!(call_id = %self.parties.call_id, "REFER to {number} failed: {why}");
                self.news.push_back(BrowserNews::ReferFailed(why));
            }
            None => {}
        }
    }

    /// A request the endpoint matched to this call.
    pub fn handle_request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        if self.requests.absorb(msg) {
            self.flush();
            return;
        }
        let Some(method) = msg.method() else { return };
        let branch = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        let of_invite = branch == self.origin.branch;
        let tag = self.origin.dialog.local_tag.clone();
        let timers = self.setup.timers;
        let in_dialog = self.is_our_dialog(msg);
        match method {
            Method::Invite if of_invite => {
                self.server.handle_request();
                if let Some(a) = &mut self.answer {
                    a.handle_request();
                }
            }
            Method::Ack if self.reoffers.handle_ack(msg) => {}
            Method::Ack => {
                let to_tu = !of_invite || self.server.handle_ack(now);
                if to_tu && in_dialog {
                    if let Some(a) = &mut self.answer {
                        a.handle_ack();
                    }
                }
            }
            Method::Cancel if of_invite => {
                self.requests
                    .answer(now, from, msg, (200, b"OK"), &tag, timers);
                if self.phase == Phase::Queued {
                    self.respond(now, 487, b"Request Terminated", None);
                    self.end(now, 487, HangupSide::Caller, "CANCEL");
                }
            }
            Method::Bye if in_dialog => {
                self.requests
                    .answer(now, from, msg, (200, b"OK"), &tag, timers);
                if let Some(a) = &mut self.answer {
                    a.handle_ack(); // a BYE before the ACK also ends the 2xx resends
                }
                if self.phase != Phase::Ended {
                    if self.phase == Phase::Queued {
                        self.respond(now, 487, b"Request Terminated", None);
                    }
                    self.end(now, 200, HangupSide::Caller, "BYE");
                }
            }
            Method::Options if in_dialog => {
                self.requests
                    .answer(now, from, msg, (200, b"OK"), &tag, timers);
            }
            // The carrier's reports on our REFER.
            Method::Notify if in_dialog => {
                let ours = self
                    .refer
                    .as_mut()
                    .is_some_and(|(r, _)| r.handle_notify(msg));
                let code = if ours {
                    (200, &b"OK"[..])
                } else {
                    (481, &b"Subscription Does Not Exist"[..])
                };
                self.requests.answer(now, from, msg, code, &tag, timers);
                self.refer_outcome(now);
            }
            // Hold, resume, a media move or a refresh from the carrier, once answered.
            Method::Invite | Method::Update if in_dialog && self.phase == Phase::Answered => {
                let (Some(caps), Some(sdp)) = (&mut self.caps, &mut self.sdp) else {
                    let code = (488, &b"Not Acceptable Here"[..]);
                    self.requests.answer(now, from, msg, code, &tag, timers);
                    self.flush();
                    return;
                };
                let requests = &mut self.requests;
                if let Some(m) = self.reoffers.handle(now, (from, msg), requests, caps, sdp) {
                    self.news.push_back(BrowserNews::Renegotiated(m));
                }
            }
            // Before the 200 the dialog is early: a new offer waits for the answer.
            Method::Invite | Method::Update if in_dialog => {
                let code = (491, &b"Request Pending"[..]);
                self.requests.answer(now, from, msg, code, &tag, timers);
            }
            Method::Bye | Method::Invite | Method::Update | Method::Cancel => {
                let code = (481, &b"Call/Transaction Does Not Exist"[..]);
                self.requests.answer(now, from, msg, code, &tag, timers);
            }
            _ => {
                let code = (501, &b"Not Implemented"[..]);
                self.requests.answer(now, from, msg, code, &tag, timers);
            }
        }
        self.flush();
    }

    fn is_our_dialog(&self, msg: &Message<'_>) -> bool {
        let d = &self.origin.dialog;
        let (Ok(call_id), Ok(to), Ok(from)) = (msg.call_id(), msg.to(), msg.from()) else {
            return false;
        };
        d.call_id == call_id
            && to.tag() == Some(d.local_tag.as_str())
            && from.tag() == d.remote_tag.as_deref()
    }

    /// A response: to our BYE, or to our REFER.
    pub fn handle_response(&mut self, now: Instant, _from: SocketAddr, msg: &Message<'_>) {
        let (Some(code), Ok(via)) = (msg.status_code(), msg.top_via()) else {
            return;
        };
        if let Some((r, _)) = self.refer.as_mut().filter(|(r, _)| r.is_ours(msg)) {
            r.handle_response(now, code);
            self.refer_outcome(now);
        }
        if let Some((b, _, tx)) = &mut self.bye {
            if via.branch() == Some(b.as_str()) {
                tx.handle_response(now, code);
                while tx.poll_event().is_some() {}
            }
        }
        self.flush();
    }

    /// Runs what is due: transaction timers, the 2xx retransmission (and its end).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
        while self.server.poll_event().is_some() {}
        let mut ack_lost = false;
        if let Some(a) = &mut self.answer {
            a.handle_timeout(now);
            ack_lost = a.poll_event() == Some(AnswerEvent::AckTimeout);
        }
        if ack_lost && self.phase == Phase::Answered {
            self.bye_origin(now);
            self.end(now, 200, HangupSide::System, "no ACK from the carrier");
        }
        self.requests.handle_timeout(now);
        self.reoffers.handle_timeout(now);
        if let Some((r, _)) = &mut self.refer {
            r.handle_timeout(now);
            self.refer_outcome(now);
        }
        if let Some((_, _, tx)) = &mut self.bye {
            tx.handle_timeout(now);
            while tx.poll_event().is_some() {}
        }
        self.flush();
    }

    fn respond(&mut self, now: Instant, code: u16, reason: &[u8], body: Option<(&str, &[u8])>) {
        let contact = (code > 100).then(|| self.setup.local.contact.clone());
        if let Some(bytes) = self.origin.response(code, reason, contact.as_deref(), body) {
            self.server.send_response(now, code, bytes);
            // The transaction holds one response at a time: send each as it is made.
            self.flush();
        }
    }

    fn fail(&mut self, now: Instant, code: u16, why: &str) {
        if self.phase != Phase::Queued {
            return;
        }
        let reason = dcx_sip::builder::default_reason(code);
        self.respond(now, code, reason.as_bytes(), None);
        self.end(now, code, HangupSide::System, why);
    }

    fn bye_origin(&mut self, now: Instant) {
        let (answer, origin) = (&mut self.answer, &mut self.origin);
        self.bye = super::origin::bye_origin(now, answer, origin, &mut self.ids, &self.setup);
    }

    fn end(&mut self, now: Instant, sip_code: u16, hangup: HangupSide, why: &str) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        let clock = self.setup.clock;
        // The 183 with early media went out as the call arrived (when it could).
        let ring = self.sdp.is_some().then_some(self.started);
        let times = Times::between(clock, self.started, ring, self.answered, now);
        let waiting_now = self
            .requeued_at
            .map_or(std::time::Duration::ZERO, |at| now - at);
        let queue_wait_ms =
            (self.answered.unwrap_or(now) - self.started + self.waited_again + waiting_now)
                .as_millis();
        self.events.push_back(CallEvent::CallEnded(CallRecord {
            parties: self.parties.clone(),
            route: None,
            attempts: 0,
            times,
            sip_code,
            hangup,
            reason: why.to_owned(),
            queue: (!self.queue.is_empty()).then(|| self.queue.clone()),
            agent: self.agent.clone(),
            queue_wait_ms: Some(i64::try_from(queue_wait_ms).unwrap_or(i64::MAX)),
        }));
        self.news.push_back(BrowserNews::Ended {
            sip_code,
            hangup,
            reason: why.to_owned(),
            refusal: None,
        });
    }

    fn flush(&mut self) {
        self.requests.transmit(&mut self.out);
        self.reoffers.transmit(&mut self.out);
        let peer = self.origin.peer;
        while let Some(b) = self.server.poll_transmit() {
            self.out.push_back((peer, b.to_vec()));
        }
        if let Some(a) = &mut self.answer {
            while let Some(b) = a.poll_transmit() {
                self.out.push_back((peer, b.to_vec()));
            }
        }
        transmit_bye(&mut self.bye, &mut self.out);
        if let Some((r, _)) = &mut self.refer {
            r.transmit(&mut self.out);
        }
    }

    /// A datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    /// What the call reports for CDRs, in order.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// What the call's media task must hear, in order.
    pub fn poll_news(&mut self) -> Option<BrowserNews> {
        self.news.pop_front()
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.server.poll_timeout(),
            self.answer.as_ref().and_then(Answer::poll_timeout),
            self.requests.poll_timeout(),
            self.reoffers.poll_timeout(),
            self.bye.as_ref().and_then(|b| b.2.poll_timeout()),
            self.refer.as_ref().and_then(|(r, _)| r.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the call ended (its media can stop).
    pub fn has_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether the call ended and its transactions finished.
    pub fn is_over(&self) -> bool {
        self.has_ended() && self.poll_timeout().is_none() && self.out.is_empty()
    }
}
