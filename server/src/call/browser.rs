//! One browser -> PSTN call, the SIP side: the carrier attempts routing chose, with the
//! same failover policy, digest answers and post-dial-delay timer as transit calls, and
//! dcx's own SDP offer (PCMU, PCMA, telephone-event at the call's RTP port), since the
//! browser's WebRTC offer is answered by the media core, not forwarded.
//!
//! ```text
//!   Dialing --2xx from the live attempt--> Answered --BYE from the carrier / hang_up--> Ended
//!      |  \--failure: policy says retry and a candidate is left: next attempt (stay)
//!      +--last or final failure, hang_up, no route--> Ended
//! ```
//! Sans-IO like [`super::TransitCall`]: `handle_request` / `handle_response` /
//! `handle_timeout` / [`BrowserCall::hang_up`] with the time passed in, then drain
//! `poll_transmit`, `poll_event` (CDR events) and `poll_news` (what the browser's call
//! task must hear: ringing, answered with where the carrier receives, ended).
//!
//! Failover is invisible to the browser: only the live attempt's 18x, the answer and the
//! final end are news. No session timer is offered to carriers: nothing on the browser
//! leg could refresh it, and the WebRTC side has its own liveness (ICE consent).

mod hold;
mod transfer;

use super::attempts::{InviteNews, Offer};
use super::dialer::{AfterFailure, Dialer, Records};
use super::events::{AttemptEnd, CallEvent, HangupSide, Parties, Times};
use super::legs::body_of;
use super::origin::InCallRequests;
use super::reoffer::{ReofferSetup, Reoffers};
use super::{CallSetup, Routed};
use dcx_routing::AttemptOutcome;
use dcx_sip::sdp::{AudioCapabilities, Codec, Negotiated};
use dcx_sip::{Message, Method};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Our telephone-event payload type in the offer to carriers.
const EVENT_PT: u8 = 101;

/// Who places a browser call, and to where.
#[derive(Debug, Clone)]
pub struct BrowserOrigin {
    /// The account of the token.
    pub account: String,
    /// The user of the token.
    pub user: String,
    /// The number as the browser sent it.
    pub dialled: String,
}

/// An inbound call dcx answered with early media, waiting for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The caller (the URI of the carrier's From).
    pub from: String,
    /// The DID dialled.
    pub dialled: String,
    /// The DID's queue (empty for a user's DID).
    pub queue: String,
    /// The user the DID rings directly, instead of a queue.
    pub user: Option<String>,
    /// The carrier leg as negotiated (dcx answered the carrier's offer).
    pub media: Negotiated,
    /// The call's RTP address (in our answer), for the media task to bind.
    pub rtp: (IpAddr, u16),
}

/// What a call's media task must hear about its SIP side: a browser's call
/// ([`BrowserCall`]) or an inbound call for an agent ([`super::inbound::InboundCall`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserNews {
    /// An inbound call arrived and is queued, its early media up.
    Offered(Arrival),
    /// The live attempt rings (18x); with SDP, early media flows from `Some` on.
    Ringing(Option<Negotiated>),
    /// The carrier answered; the carrier leg's codec and address.
    Answered(Negotiated),
    /// The carrier made a new offer in the call (hold, resume, a media move) and dcx
    /// answered it: the carrier leg's new codec, address and direction.
    Renegotiated(Negotiated),
    /// dcx asked the carrier to take a blind transfer itself (REFER) and it did not:
    /// the call is still up, and dcx puts it through with a leg of its own. Why, in
    /// words.
    ReferFailed(String),
    /// The call is over (the CDR events went out before this).
    Ended {
        /// The final SIP status (200 for an answered call).
        sip_code: u16,
        /// Who ended it.
        hangup: HangupSide,
        /// Why, in words.
        reason: String,
        /// dcx refused the call before any leg: the protocol's code for it
        /// (`destination_blocked`, `limit_exceeded`, `no_route`, `invalid_number`).
        refusal: Option<&'static str>,
    },
}

/// Why dcx refuses a browser's call before any leg: the SIP status for the CDR, the
/// protocol's code for the browser, and the rule or limit in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The SIP final status it counts as (403, 404, 484, 503).
    pub sip_code: u16,
    /// `destination_blocked`, `limit_exceeded`, `no_route` or `invalid_number`.
    pub code: &'static str,
    /// Why, in words.
    pub why: String,
}

impl Refused {
    /// A routing refusal.
    pub fn route(e: &dcx_routing::RouteError) -> Self {
        let code = match e {
            dcx_routing::RouteError::Blocked { .. } => "destination_blocked",
            dcx_routing::RouteError::InvalidNumber(_) => "invalid_number",
            _ => "no_route",
        };
        Self {
            sip_code: e.sip_status(),
            code,
            why: e.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Dialing,
    Answered(usize),
    Ended,
}

/// One browser-originated call's SIP side.
#[derive(Debug)]
pub struct BrowserCall {
    /// dcx refused the call before any leg (its code for the browser).
    refusal: Option<&'static str>,
    ids: super::legs::Ids,
    setup: CallSetup,
    parties: Parties,
    from_address: String,
    caps: AudioCapabilities,
    offer_body: Vec<u8>,
    requests: InCallRequests,
    dialer: Dialer,
    /// The hold or resume re-INVITE sent last.
    reinvite: Option<hold::ReInvite>,
    /// The re-INVITE before it (to ACK its 2xx again).
    reinvite_before: Option<hold::ReInvite>,
    /// A hold or resume asked for while a re-INVITE was pending.
    hold_wanted: Option<bool>,
    /// A blind transfer the carrier was asked to carry itself (REFER), and to where.
    refer: Option<(super::refer::Refer, String)>,
    /// The answering carrier's 2xx did not leave REFER out of its `Allow`.
    allows_refer: bool,
    /// The carrier's new offers (made once the call is answered).
    reoffers: Option<Reoffers>,
    phase: Phase,
    started: Instant,
    first_ring: Option<Instant>,
    answered: Option<Instant>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<CallEvent>,
    news: VecDeque<BrowserNews>,
}

impl BrowserCall {
    /// A call from `origin` that routing answered with `route` (or refused, with the
    /// SIP status and why: a routing error, an account limit), its carrier leg's RTP at
    /// `rtp` (`None`: no free port, the call fails with 503). `token` prefixes its
    /// identifiers, `seed` feeds its secrets. Sends the first INVITE, or ends at once.
    pub fn new(
        now: Instant,
        setup: &CallSetup,
        (token, seed): (u64, u64),
        origin: &BrowserOrigin,
        route: Result<Routed, Refused>,
        rtp: Option<(IpAddr, u16)>,
    ) -> Self {
        let mut ids = super::legs::Ids::new(token, seed);
        let host = setup.local.host().to_owned();
        let (number, targets, route_err) = match route {
            Ok(r) => (r.number, r.targets, None),
            Err(e) => (String::new(), Vec::new(), Some(e)),
        };
        let (address, port) = rtp.unwrap_or((IpAddr::from([0, 0, 0, 0]), 0));
        let caps = AudioCapabilities {
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event: true,
            telephone_event_pt: EVENT_PT,
            ptime_ms: 20,
            address,
            port,
            session_id: token >> 1,
            session_version: 1,
        };
        let offer_body = caps.offer().write().into_bytes();
        let mut call = Self {
            parties: Parties {
                call_id: ids.call_id(&host),
                trunk_in: format!("webrtc:{}", origin.account),
                caller: origin.user.clone(),
                callee: origin.dialled.clone(),
                callee_normalized: number,
                origin_leg: crate::cdr::LegKind::Browser,
            },
            from_address: format!("<sip:{}@{host}>", sip_user(&origin.user)),
            ids,
            setup: setup.clone(),
            caps,
            offer_body,
            requests: InCallRequests::default(),
            dialer: Dialer::new(targets),
            reinvite: None,
            reinvite_before: None,
            hold_wanted: None,
            refer: None,
            allows_refer: false,
            reoffers: None,
            phase: Phase::Dialing,
            started: now,
            first_ring: None,
            answered: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            news: VecDeque::new(),
            refusal: None,
        };
        match route_err {
            Some(refused) => {
                call.refusal = Some(refused.code);
                call.end(now, refused.sip_code, HangupSide::System, &refused.why);
            }
            None if rtp.is_none() => {
                call.end(now, 503, HangupSide::System, "no free RTP port");
            }
            None if !call.dialer.plan.has_more() => call.end(
                now,
                503,
                HangupSide::System,
                "no candidate carrier has a trunk address",
            ),
            None => call.dial_next(now),
        }
        call.flush();
        call
    }

    /// The account of the browser that placed it.
    pub fn account(&self) -> &str {
        self.parties
            .trunk_in
            .strip_prefix("webrtc:")
            .unwrap_or_default()
    }

    /// The call's id in logs and CDRs (dcx's, not the browser's).
    pub fn call_id(&self) -> &str {
        &self.parties.call_id
    }

    /// The browser hung up (or went away): CANCEL while dialing, BYE once answered.
    pub fn hang_up(&mut self, now: Instant, why: &str) {
        match self.phase {
            Phase::Dialing => {
                let records = Records {
                    parties: &self.parties,
                    setup: &self.setup,
                    events: &mut self.events,
                };
                self.dialer.cancel_all(now, records);
                self.end(now, 487, HangupSide::Caller, why);
            }
            Phase::Answered(i) => {
                let a = &mut self.dialer.attempts[i];
                a.send_bye(now, &mut self.ids, &self.setup.local);
                self.end(now, 200, HangupSide::Caller, why);
            }
            Phase::Ended => {}
        }
        self.flush();
    }

    /// A request the endpoint matched to this call (by our tag in its To).
    pub fn handle_request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        if self.requests.absorb(msg) {
            self.flush();
            return;
        }
        let Some(method) = msg.method() else { return };
        let live = self.live_attempt_of(msg);
        let tag = self.ids.carrier_tag();
        let timers = self.setup.timers;
        let our_reinvite_pending = self.reinvite.as_ref().is_some_and(|r| !r.done());
        let answer = match (method, live) {
            (Method::Ack, _) => {
                if let Some(r) = &mut self.reoffers {
                    r.handle_ack(msg);
                }
                None
            }
            (Method::Bye | Method::Options, Some(_)) => Some((200, &b"OK"[..])),
            (Method::Notify, Some(_)) if self.refer_notify(msg) => Some((200, &b"OK"[..])),
            (Method::Notify, _) => Some((481, &b"Subscription Does Not Exist"[..])),
            // Both sides offering at once (RFC 3261 14.2): the carrier tries again.
            (Method::Invite | Method::Update, Some(_)) if our_reinvite_pending => {
                Some((491, &b"Request Pending"[..]))
            }
            // Hold, resume, a media move or a refresh from the carrier.
            (Method::Invite | Method::Update, Some(i)) => {
                let transport = self.dialer.attempts[i].dialog.transport;
                let setup = ReofferSetup {
                    local_tag: tag.clone(),
                    contact: self.setup.local.contact.clone(),
                    timers,
                    reliability: transport.reliability(),
                };
                let reoffers = self.reoffers.get_or_insert_with(|| Reoffers::new(setup));
                let (requests, caps, sdp) =
                    (&mut self.requests, &mut self.caps, &mut self.offer_body);
                if let Some(m) = reoffers.handle(now, (from, msg), requests, caps, sdp) {
                    self.news.push_back(BrowserNews::Renegotiated(m));
                }
                None
            }
            (Method::Bye | Method::Invite | Method::Update | Method::Cancel, None) => {
                Some((481, &b"Call/Transaction Does Not Exist"[..]))
            }
            _ => Some((501, &b"Not Implemented"[..])),
        };
        if let Some(code) = answer {
            self.requests.answer(now, from, msg, code, &tag, timers);
        }
        if method == Method::Bye && live.is_some() {
            self.end(now, 200, HangupSide::Callee, "BYE");
        }
        if method == Method::Notify {
            self.refer_outcome(now);
        }
        self.flush();
    }

    /// The answered attempt whose dialog `msg` is in.
    fn live_attempt_of(&self, msg: &Message<'_>) -> Option<usize> {
        let Phase::Answered(i) = self.phase else {
            return None;
        };
        let call_id = msg.call_id().ok()?;
        let to_tag = msg.to().ok()?.tag()?;
        let from_tag = msg.from().ok()?.tag()?;
        let d = &self.dialer.attempts[i].dialog;
        (d.call_id == call_id && d.local_tag == to_tag && d.remote_tag.as_deref() == Some(from_tag))
            .then_some(i)
    }

    /// A response whose top Via branch carries this call's token.
    pub fn handle_response(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        let branch = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        if self.refer_response(now, msg) {
            self.flush();
            return;
        }
        let of_invite = msg.cseq().is_ok_and(|c| c.method == Method::Invite);
        let ours = |r: &Option<hold::ReInvite>| r.as_ref().is_some_and(|r| r.is_ours(branch));
        if of_invite && (ours(&self.reinvite) || ours(&self.reinvite_before)) {
            self.reinvite_response(now, msg);
            self.flush();
            return;
        }
        let ids_setup = (&mut self.ids, &self.setup);
        if let Some((i, news)) = self.dialer.handle_response(now, from, msg, ids_setup) {
            for n in news {
                self.on_invite_news(now, i, n, Some(msg));
            }
        }
        self.flush();
    }

    /// The carrier's SDP in an 18x or 2xx, negotiated against our offer.
    fn negotiated(&self, msg: &Message<'_>) -> Option<Negotiated> {
        let (_, body) = body_of(msg)?;
        let sdp = dcx_sip::sdp::parse(body).ok()?;
        self.caps.accept_answer(&sdp).ok()
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
            InviteNews::Provisional(180..=189) if wanted => {
                self.first_ring.get_or_insert(now);
                let media = msg.and_then(|m| self.negotiated(m));
                self.news.push_back(BrowserNews::Ringing(media));
            }
            InviteNews::Answered if wanted => {
                self.phase = Phase::Answered(i);
                self.answered = Some(now);
                self.allows_refer = msg.is_some_and(|m| super::legs::allows(m, "REFER"));
                if let Some(media) = msg.and_then(|m| self.negotiated(m)) {
                    self.news.push_back(BrowserNews::Answered(media));
                } else {
                    // RFC 3264: an answer we cannot use ends the session.
                    let a = &mut self.dialer.attempts[i];
                    a.send_bye(now, &mut self.ids, &self.setup.local);
                    self.end(
                        now,
                        488,
                        HangupSide::System,
                        "the carrier's answer has no usable G.711 audio",
                    );
                }
            }
            InviteNews::Answered => {
                // A late 2xx from an attempt we gave up on: ACKed, then hung up.
                let a = &mut self.dialer.attempts[i];
                a.send_bye(now, &mut self.ids, &self.setup.local);
            }
            InviteNews::Failed(code) if wanted => {
                let reason = msg
                    .and_then(|m| m.status_line())
                    .map_or(&b""[..], |s| s.reason);
                let outcome = AttemptOutcome::Final(code);
                self.attempt_failed(now, i, outcome, (code, reason.to_vec()));
            }
            InviteNews::TimedOut if wanted => {
                let reason = b"Request Timeout".to_vec();
                self.attempt_failed(now, i, AttemptOutcome::Timeout, (408, reason));
            }
            _ => {}
        }
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
            from: &self.from_address,
            max_forwards: 70,
            body: Some(("application/sdp", self.offer_body.as_slice())),
            headers: &[],
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
        self.end(now, code, side, &String::from_utf8_lossy(&reason));
    }

    /// Runs what is due: transaction timers and the post-dial-delay timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.requests.handle_timeout(now);
        if let Some(r) = &mut self.reoffers {
            r.handle_timeout(now);
        }
        self.reinvite_timeout(now);
        self.refer_timeout(now);
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

    fn report_attempt(&mut self, now: Instant, i: usize, end: AttemptEnd, sip_code: u16) {
        let mut records = Records {
            parties: &self.parties,
            setup: &self.setup,
            events: &mut self.events,
        };
        self.dialer.report(now, i, end, sip_code, &mut records);
    }

    /// The call is over: the answered attempt's record, the call's, then the news.
    fn end(&mut self, now: Instant, sip_code: u16, hangup: HangupSide, why: &str) {
        if self.phase == Phase::Ended {
            return;
        }
        if let Phase::Answered(i) = self.phase {
            self.report_attempt(now, i, AttemptEnd::Answered, 200);
        }
        self.phase = Phase::Ended;
        let clock = self.setup.clock;
        tracing::debug!(call_id = %self.parties.call_id, sip_code, ?hangup, why, "browser call ended");
        let times = Times::between(clock, self.started, self.first_ring, self.answered, now);
        let record = self
            .dialer
            .call_record(&self.parties, times, (sip_code, hangup, why));
        self.events.push_back(CallEvent::CallEnded(record));
        self.news.push_back(BrowserNews::Ended {
            sip_code,
            hangup,
            reason: why.to_owned(),
            refusal: self.refusal,
        });
    }

    fn flush(&mut self) {
        self.requests.transmit(&mut self.out);
        if let Some(r) = &mut self.reoffers {
            r.transmit(&mut self.out);
        }
        self.dialer.transmit(&mut self.out);
        if let Some(r) = &mut self.reinvite {
            r.transmit(&mut self.out);
        }
        self.refer_transmit();
    }

    /// A datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    /// What the call reports for CDRs and statistics, in order.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// What the browser's call task must hear, in order.
    pub fn poll_news(&mut self) -> Option<BrowserNews> {
        self.news.pop_front()
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.requests.poll_timeout(),
            self.reoffers.as_ref().and_then(Reoffers::poll_timeout),
            self.dialer.poll_timeout(),
            self.reinvite
                .as_ref()
                .and_then(hold::ReInvite::poll_timeout),
            self.refer_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the call ended (its media can stop; transactions may still drain).
    pub fn has_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether the call ended and its transactions finished.
    pub fn is_over(&self) -> bool {
        self.has_ended() && self.poll_timeout().is_none() && self.out.is_empty()
    }
}

/// A user name as a SIP user part: what RFC 3261 25.1 allows unescaped, else `_`.
fn sip_user(user: &str) -> String {
    user.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
