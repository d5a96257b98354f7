//! One SIP-to-SIP transit call: the origin's INVITE in, carrier attempts out in the
//! order routing chose, failover invisible to the origin, then the two dialogs bridged
//! until either side hangs up.
//!
//! ```text
//!   Dialing --2xx from the live attempt--> Answered --BYE either side / no ACK--> Ended
//!      |  \--failure: policy says retry and a candidate is left: next attempt (stay)
//!      +--last or final failure, CANCEL, no route--> Ended (final response to the origin)
//! ```
//! Sans-IO like the transactions it drives: `handle_request` / `handle_response` /
//! `handle_timeout` with the time passed in, then drain `poll_transmit`, `poll_event`
//! and `poll_timeout`. The endpoint owns the socket and finds the call a message
//! belongs to (see [`super::legs`] for how); the call checks the rest.
//!
//! Media: when routing handed the call an [`Anchor`] (two RTP ports), the origin's SDP
//! goes to the carriers pointed at our carrier-facing port and the carrier's SDP (18x
//! and 2xx) comes back pointed at our origin-facing port; where each side receives is
//! reported by `poll_media` for the relay. Without one, SDP passes through unchanged.

use super::attempts::{InviteNews, Offer, Target};
use super::dialer::{AfterFailure, Dialer, Records};
use super::events::{CallEvent, HangupSide, Parties, WallClock};
use super::legs::{body_of, Ids, Local, Transport};
use super::media::{narrow_g711, rewrite_sdp, widen_g711, Anchor, EventPts, MediaNews, MediaSide};
use super::origin::{InCallRequests, OriginInvite};

mod hangup;
mod late_offer;
mod session;
pub use session::SESSION_TIMER_OFFER;
mod reinvite;
use dcx_routing::{AttemptOutcome, RouteError};
use dcx_sip::builder::default_reason;
use dcx_sip::dialog::answer::{Answer, AnswerEvent};
use dcx_sip::transaction::{InviteServer, NonInviteClient, Timers};
use dcx_sip::{Message, Method};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// The answer to a request for a dialog or transaction this call does not have.
const NO_DIALOG: (u16, &[u8]) = (481, b"Call/Transaction Does Not Exist");

/// What every call of an endpoint shares.
#[derive(Debug, Clone)]
pub struct CallSetup {
    /// Our address on the wire.
    pub local: Local,
    /// SIP timer values.
    pub timers: Timers,
    /// Instant -> unix milliseconds, for the events.
    pub clock: WallClock,
}

/// Routing's answer for a call, resolved to trunk addresses.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The normalized number.
    pub number: String,
    /// Candidates with an address, best first (at most the policy's max attempts).
    pub targets: Vec<Target>,
    /// The RTP ports held for the call; `None` passes SDP through unchanged.
    pub media: Option<Anchor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Dialing,
    Answered(usize),
    Ended,
}

/// Which dialog an in-call request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Origin,
    Carrier(usize),
}

impl Side {
    /// Index of the side in the per-leg arrays (`sent_sdp`, `timers`).
    fn slot(self) -> usize {
        match self {
            Side::Origin => 0,
            Side::Carrier(_) => 1,
        }
    }
}

/// One transit call.
#[derive(Debug)]
pub struct TransitCall {
    ids: Ids,
    setup: CallSetup,
    parties: Parties,
    origin: OriginInvite,
    server: InviteServer,
    answer: Option<Answer>,
    requests: InCallRequests,
    reinvite: Option<reinvite::Relayed>,
    /// Session timers of the origin's leg and the carrier's (RFC 4028).
    timers: [Option<session::LegTimer>; 2],
    /// What the origin's `Session-Expires` negotiated: interval, refresher, and whether
    /// it supports the extension.
    origin_se: Option<(u32, dcx_sip::headers::Refresher, bool)>,
    /// A refresh re-INVITE dcx sent.
    refresh: Option<session::Refresh>,
    /// Set when the origin's INVITE had no SDP and dcx offered itself.
    late: Option<late_offer::LateOffer>,
    /// The last SDP we sent each side (origin, carrier): what a re-INVITE without an
    /// offer is answered with.
    sent_sdp: [Option<(String, Vec<u8>)>; 2],
    origin_bye: Option<(String, SocketAddr, NonInviteClient)>,
    dialer: Dialer,
    offer_body: Option<(String, Vec<u8>)>,
    anchor: Option<Anchor>,
    origin_formats: Vec<String>,
    /// The origin's telephone-event payload type (from its offer).
    origin_events: Option<u8>,
    media_news: VecDeque<MediaNews>,
    phase: Phase,
    started: Instant,
    first_ring: Option<Instant>,
    answered: Option<Instant>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<CallEvent>,
}

impl TransitCall {
    /// A call for the origin's INVITE `msg` (validated, from `peer`, of trunk
    /// `trunk_in`) that routing answered with `route`; `token` prefixes its identifiers,
    /// `seed` feeds its secrets (digest client nonces). Sends 100 Trying, then either the
    /// routing error's final response or the first carrier's INVITE.
    pub fn new(
        now: Instant,
        setup: &CallSetup,
        (token, seed): (u64, u64),
        (msg, peer, trunk_in): (&Message<'_>, SocketAddr, &str),
        route: Result<Routed, RouteError>,
    ) -> Result<Self, dcx_sip::SipError> {
        let ids = Ids::new(token, seed);
        let origin = OriginInvite::read(msg, peer, &ids)?;
        let (number, targets, anchor, route_err) = match route {
            Ok(r) => (r.number, r.targets, r.media, None),
            Err(e) => (String::new(), Vec::new(), None, Some(e)),
        };
        let mut call = Self {
            parties: Parties {
                call_id: origin.dialog.call_id.clone(),
                trunk_in: trunk_in.to_owned(),
                caller: origin.caller.clone(),
                callee: origin.dialled.clone(),
                callee_normalized: number,
                origin_leg: crate::cdr::LegKind::Sip,
            },
            ids,
            setup: setup.clone(),
            server: InviteServer::new(Transport::of(msg).reliability(), setup.timers),
            answer: None,
            requests: InCallRequests::default(),
            reinvite: None,
            late: None,
            timers: [None, None],
            origin_se: None,
            refresh: None,
            sent_sdp: [None, None],
            origin_bye: None,
            dialer: Dialer::new(targets),
            offer_body: body_of(msg).map(|(t, b)| (t.to_owned(), b.to_vec())),
            anchor,
            origin_formats: Vec::new(),
            origin_events: None,
            media_news: VecDeque::new(),
            phase: Phase::Dialing,
            started: now,
            first_ring: None,
            answered: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            origin,
        };
        let too_small = call.origin_session(msg).err();
        if call.offer_body.is_none() {
            call.offer_ourselves(token);
        } else {
            call.anchor_offer();
        }
        if let Some(trying) = call.origin.response(100, b"Trying", None, None) {
            call.server.send_response(now, 100, trying);
            call.flush(); // the transaction holds one response at a time
        }
        match route_err {
            _ if too_small.is_some() => {
                let min_se = too_small.unwrap_or(90).to_string();
                let reason = b"Session Interval Too Small";
                let headers = [("Min-SE", min_se.as_bytes())];
                if let Some(bytes) = call.origin.response_with(422, reason, None, None, &headers) {
                    call.server.send_response(now, 422, bytes);
                }
                call.end(
                    now,
                    422,
                    HangupSide::System,
                    "Session-Expires below our Min-SE",
                );
            }
            Some(e) => {
                let code = e.sip_status();
                call.fail_origin(
                    now,
                    code,
                    default_reason(code).as_bytes(),
                    HangupSide::System,
                    &e.to_string(),
                );
            }
            None if call.offer_body.is_none() && !call.is_late_offer() => {
                call.fail_origin(
                    now,
                    503,
                    b"Service Unavailable",
                    HangupSide::System,
                    "no RTP ports to make an offer for an INVITE without SDP",
                );
            }
            None if !call.dialer.plan.has_more() => {
                call.fail_origin(
                    now,
                    503,
                    b"Service Unavailable",
                    HangupSide::System,
                    "no candidate carrier has a trunk address",
                );
            }
            None => call.dial_next(now),
        }
        call.flush();
        Ok(call)
    }

    /// What the RTP relay must learn (where each side receives), in order.
    pub fn poll_media(&mut self) -> Option<MediaNews> {
        self.media_news.pop_front()
    }

    /// Points the offer we forward at our carrier-facing port; the relay learns where
    /// the origin receives.
    fn anchor_offer(&mut self) {
        let (Some(a), Some((t, b))) = (self.anchor, self.offer_body.as_ref()) else {
            return;
        };
        if let Some((out, _)) = rewrite_sdp((t, b), a.ip, a.carrier_port, widen_g711) {
            if let Some(remote) = out.remote {
                self.media_news.push_back(MediaNews {
                    side: MediaSide::Origin,
                    remote,
                    transcode: None,
                    events: None,
                });
            }
            self.origin_formats = out.formats;
            self.origin_events = out.events;
            self.offer_body = Some((t.clone(), out.body));
        }
    }

    /// A carrier's 18x/2xx body for the origin: pointed at our origin-facing port when
    /// anchored (the relay learns where the carrier receives), else passed through.
    fn anchor_answer(&mut self, msg: &Message<'_>) -> Option<(String, Vec<u8>)> {
        let (t, b) = body_of(msg)?;
        let Some(a) = self.anchor else {
            return Some((t.to_owned(), b.to_vec()));
        };
        let formats = &self.origin_formats;
        let late = self.is_late_offer();
        // Late offer: the carrier's answer becomes our offer to the origin, both laws in it.
        let edit = |m: &mut dcx_sip::sdp::MediaDescription| {
            if late {
                widen_g711(m);
                None
            } else {
                narrow_g711(m, formats)
            }
        };
        match rewrite_sdp((t, b), a.ip, a.origin_port, edit) {
            Some((out, transcode)) => {
                if late {
                    self.carrier_answered(out.formats.first(), out.remote, out.events);
                }
                if let Some(remote) = out.remote {
                    self.media_news.push_back(MediaNews {
                        side: MediaSide::Carrier,
                        remote,
                        transcode: transcode.flatten(),
                        events: EventPts::of(self.origin_events, out.events),
                    });
                }
                Some((t.to_owned(), out.body))
            }
            None => Some((t.to_owned(), b.to_vec())),
        }
    }

    /// The origin's Call-ID.
    pub fn call_id(&self) -> &str {
        &self.parties.call_id
    }

    /// A request that the endpoint matched to this call: a retransmission of the
    /// origin's INVITE, its CANCEL or ACK, or a request inside either dialog.
    pub fn handle_request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        if !self.requests.absorb(msg) {
            self.dispatch_request(now, from, msg);
        }
        self.flush();
    }

    fn dispatch_request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        let Some(method) = msg.method() else { return };
        let branch = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        let of_invite = branch == self.origin.branch;
        let tag = self.origin.dialog.local_tag.clone();
        let timers = self.setup.timers;
        match method {
            Method::Invite if of_invite => {
                self.server.handle_request();
                if let Some(a) = &mut self.answer {
                    a.handle_request();
                }
            }
            Method::Ack
                if self
                    .side_of(msg)
                    .is_some_and(|side| self.reinvite_ack(now, side, msg)) => {}
            Method::Ack => {
                let to_tu = !of_invite || self.server.handle_ack(now);
                if to_tu && self.side_of(msg) == Some(Side::Origin) {
                    if let Some(a) = &mut self.answer {
                        a.handle_ack();
                    }
                    if matches!(self.phase, Phase::Answered(_)) {
                        self.late_answer(now, msg);
                    }
                }
            }
            Method::Cancel if of_invite => {
                self.requests
                    .answer(now, from, msg, (200, b"OK"), &tag, timers);
                if self.phase == Phase::Dialing {
                    self.caller_gave_up(now, "CANCEL");
                }
            }
            Method::Bye => match self.side_of(msg) {
                Some(side) => {
                    self.requests
                        .answer(now, from, msg, (200, b"OK"), &tag, timers);
                    self.bye_from(now, side);
                }
                None => self
                    .requests
                    .answer(now, from, msg, NO_DIALOG, &tag, timers),
            },
            Method::Invite | Method::Update => match self.side_of(msg) {
                Some(side) if self.is_live_side(side) && method == Method::Invite => {
                    self.reinvite_from(now, from, side, msg);
                }
                Some(side) if self.is_live_side(side) => self.update_from(now, from, side, msg),
                _ => self
                    .requests
                    .answer(now, from, msg, NO_DIALOG, &tag, timers),
            },
            // A CANCEL of anything but the call's INVITE (RFC 3261 9.2: no such
            // transaction).
            Method::Cancel => self
                .requests
                .answer(now, from, msg, NO_DIALOG, &tag, timers),
            Method::Options if self.side_of(msg).is_some() => {
                self.requests
                    .answer(now, from, msg, (200, b"OK"), &tag, timers);
            }
            _ => self
                .requests
                .answer(now, from, msg, (501, b"Not Implemented"), &tag, timers),
        }
    }

    /// Our tag in `side`'s dialog (the To tag toward the origin, the From tag toward
    /// carriers).
    fn local_tag(&self, side: Side) -> String {
        match side {
            Side::Origin => self.origin.dialog.local_tag.clone(),
            Side::Carrier(_) => self.ids.carrier_tag(),
        }
    }

    /// Whether `side` is one of the two legs bridged now (or the origin while dialing).
    fn is_live_side(&self, side: Side) -> bool {
        match (side, self.phase) {
            (Side::Origin, _) => true,
            (Side::Carrier(i), Phase::Answered(a)) => i == a,
            (Side::Carrier(_), _) => false,
        }
    }

    fn side_of(&self, msg: &Message<'_>) -> Option<Side> {
        let call_id = msg.call_id().ok()?;
        let to_tag = msg.to().ok()?.tag()?;
        let from_tag = msg.from().ok()?.tag()?;
        let is = |d: &super::legs::Dialog| {
            d.call_id == call_id
                && d.local_tag == to_tag
                && d.remote_tag.as_deref() == Some(from_tag)
        };
        if is(&self.origin.dialog) {
            return Some(Side::Origin);
        }
        self.dialer
            .attempts
            .iter()
            .position(|a| is(&a.dialog))
            .map(Side::Carrier)
    }

    /// A response from `from` whose top Via branch carries this call's token.
    pub fn handle_response(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        let (Some(code), Ok(via), Ok(cseq)) = (msg.status_code(), msg.top_via(), msg.cseq()) else {
            return;
        };
        let branch = via.branch().unwrap_or_default();
        if cseq.method == Method::Invite
            && self
                .reinvite
                .as_ref()
                .is_some_and(|r| r.is_our_branch(branch))
        {
            self.reinvite_response(now, msg);
            self.flush();
            return;
        }
        if cseq.method == Method::Invite
            && self
                .refresh
                .as_ref()
                .is_some_and(|r| r.is_our_branch(branch))
        {
            self.refresh_response(now, msg);
            self.flush();
            return;
        }
        if let Some((b, _, tx)) = &mut self.origin_bye {
            if b == branch {
                tx.handle_response(now, code);
                while tx.poll_event().is_some() {}
                self.flush();
                return;
            }
        }
        let ids_setup = (&mut self.ids, &self.setup);
        if let Some((i, news)) = self.dialer.handle_response(now, from, msg, ids_setup) {
            for n in news {
                self.on_invite_news(now, i, n, Some(msg));
            }
        }
        self.flush();
    }

    fn on_invite_news(
        &mut self,
        now: Instant,
        i: usize,
        news: InviteNews,
        msg: Option<&Message<'_>>,
    ) {
        let wanted = self.dialer.attempts[i].live && self.phase == Phase::Dialing;
        match news {
            InviteNews::Provisional(code @ 180..=189) if wanted => {
                let Some(msg) = msg else { return };
                self.first_ring.get_or_insert(now);
                let reason = msg.status_line().map_or(&b""[..], |s| s.reason);
                let contact = self.setup.local.contact.clone();
                let body = self.anchor_answer(msg).filter(|_| !self.is_late_offer());
                let body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
                if let Some(bytes) = self.origin.response(code, reason, Some(&contact), body) {
                    self.server.send_response(now, code, bytes);
                }
            }
            InviteNews::Answered if wanted => {
                if let Some(msg) = msg {
                    self.answer_origin(now, i, msg);
                }
            }
            InviteNews::Answered => {
                // A late 2xx from an attempt we gave up on: ACKed, then hung up (RFC 3261 15).
                self.dialer.attempts[i].send_bye(now, &mut self.ids, &self.setup.local);
            }
            InviteNews::Failed(code) if wanted => {
                let reason = msg
                    .and_then(|m| m.status_line())
                    .map_or(&b""[..], |s| s.reason);
                self.attempt_failed(now, i, AttemptOutcome::Final(code), (code, reason.to_vec()));
            }
            InviteNews::TimedOut if wanted => {
                self.attempt_failed(
                    now,
                    i,
                    AttemptOutcome::Timeout,
                    (408, b"Request Timeout".to_vec()),
                );
            }
            _ => {}
        }
    }

    fn answer_origin(&mut self, now: Instant, i: usize, msg: &Message<'_>) {
        self.phase = Phase::Answered(i);
        self.answered = Some(now);
        let contact = self.setup.local.contact.clone();
        let sent = self.anchor_answer(msg);
        self.sent_sdp = [sent.clone(), self.offer_body.clone()];
        let body = sent.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
        self.carrier_answered_timer(now, msg);
        let headers = self.origin_answered(now);
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        let Some(bytes) = self
            .origin
            .response_with(200, b"OK", Some(&contact), body, &headers)
        else {
            self.hang_up_both(now);
            self.end(
                now,
                500,
                HangupSide::System,
                "cannot build the 200 for the origin",
            );
            return;
        };
        self.server.send_response(now, 200, bytes.clone());
        let reliability = self.origin.dialog.transport.reliability();
        let mut answer = Answer::new(now, bytes, reliability, self.setup.timers);
        // The server transaction sends the first 2xx; the Answer only retransmits it.
        let _ = answer.poll_transmit();
        self.answer = Some(answer);
    }

    fn attempt_failed(
        &mut self,
        now: Instant,
        i: usize,
        outcome: AttemptOutcome,
        failure: (u16, Vec<u8>),
    ) {
        let records = Records {
            parties: &self.parties,
            setup: &self.setup,
            events: &mut self.events,
        };
        match self.dialer.failed(now, i, outcome, failure, records) {
            AfterFailure::DialNext => self.dial_next(now),
            AfterFailure::GiveUp => self.fail_with_last(now),
        }
    }

    fn dial_next(&mut self, now: Instant) {
        let offer = Offer {
            number: &self.parties.callee_normalized,
            from: &self.origin.from_address,
            max_forwards: self.origin.max_forwards,
            body: self
                .offer_body
                .as_ref()
                .map(|(t, b)| (t.as_str(), b.as_slice())),
            headers: SESSION_TIMER_OFFER,
        };
        let call_id = &self.parties.call_id;
        if !self
            .dialer
            .dial_next(now, &offer, &mut self.ids, &self.setup, call_id)
        {
            self.fail_with_last(now);
        }
    }

    fn fail_with_last(&mut self, now: Instant) {
        let (code, reason, side) = self.dialer.take_failure();
        let why = String::from_utf8_lossy(&reason).into_owned();
        self.fail_origin(now, code, &reason, side, &why);
    }

    /// Ends an unanswered call with a final response to the origin.
    fn fail_origin(&mut self, now: Instant, code: u16, reason: &[u8], side: HangupSide, why: &str) {
        if self.phase != Phase::Dialing {
            return;
        }
        if let Some(bytes) = self.origin.response(code, reason, None, None) {
            self.server.send_response(now, code, bytes);
        }
        self.end(now, code, side, why);
    }

    /// Runs what is due at `now`: transaction timers, the post-dial-delay timer, the
    /// 2xx retransmission.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
        while self.server.poll_event().is_some() {}
        let mut ack_lost = false;
        if let Some(a) = &mut self.answer {
            a.handle_timeout(now);
            ack_lost = a.poll_event() == Some(AnswerEvent::AckTimeout);
        }
        if ack_lost && matches!(self.phase, Phase::Answered(_)) {
            self.hang_up_both(now);
            self.end(now, 200, HangupSide::System, "no ACK from the origin");
        }
        self.requests.handle_timeout(now);
        self.reinvite_timeout(now);
        self.refresh_timeout(now);
        self.session_timeout(now);
        if let Some((_, _, tx)) = &mut self.origin_bye {
            tx.handle_timeout(now);
            while tx.poll_event().is_some() {}
        }
        let (said, pdd) = self.dialer.handle_timeout(now);
        for (i, n) in said {
            self.on_invite_news(now, i, n, None);
        }
        for i in pdd {
            let records = Records {
                parties: &self.parties,
                setup: &self.setup,
                events: &mut self.events,
            };
            let dialing = self.phase == Phase::Dialing;
            if self.dialer.post_dial_delay(now, i, dialing, records) {
                self.dial_next(now);
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        // In-call responses first: a 200 to a CANCEL precedes the 487 it causes.
        self.requests.transmit(&mut self.out);
        let peer = self.origin.peer;
        while let Some(b) = self.server.poll_transmit() {
            self.out.push_back((peer, b.to_vec()));
        }
        if let Some(a) = &mut self.answer {
            while let Some(b) = a.poll_transmit() {
                self.out.push_back((peer, b.to_vec()));
            }
        }
        super::legs::transmit_bye(&mut self.origin_bye, &mut self.out);
        self.dialer.transmit(&mut self.out);
        if let Some(r) = &mut self.reinvite {
            r.transmit(&mut self.out);
        }
        if let Some(r) = &mut self.refresh {
            r.transmit(&mut self.out);
        }
    }

    /// A datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    /// What the call reports, in order.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.server.poll_timeout(),
            self.answer.as_ref().and_then(Answer::poll_timeout),
            self.requests.poll_timeout(),
            self.reinvite
                .as_ref()
                .and_then(reinvite::Relayed::poll_timeout),
            self.refresh
                .as_ref()
                .and_then(session::Refresh::poll_timeout),
            self.session_deadline(),
            self.origin_bye.as_ref().and_then(|b| b.2.poll_timeout()),
            self.dialer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Frees what an ended call no longer needs while its transactions drain (up to
    /// 64*T1): the SDP bodies, the media news, the session and offer state.
    pub fn compact(&mut self) {
        if self.phase != Phase::Ended {
            return;
        }
        self.offer_body = None;
        self.sent_sdp = [None, None];
        self.origin_formats = Vec::new();
        self.media_news = VecDeque::new();
        self.late = None;
        self.timers = [None, None];
        self.dialer.last_failure = None;
    }

    /// Whether the call ended (its media can stop; transactions may still be draining).
    pub fn has_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether the call ended and its transactions finished: it can be forgotten.
    pub fn is_over(&self) -> bool {
        self.phase == Phase::Ended && self.poll_timeout().is_none() && self.out.is_empty()
    }
}
