//! Re-INVITEs inside an answered call (hold, unhold, a new media address, a codec
//! change), relayed from the leg that sent one to the other leg as dcx's own re-INVITE
//! in that leg's dialog:
//!
//! ```text
//!   asker --re-INVITE--> dcx --re-INVITE (SDP pointed at dcx)--> other leg
//!   asker <--final------ dcx <--final---------------------------- other leg
//!   asker ----ACK------> dcx ----ACK (sent on its 2xx at once)--> other leg
//! ```
//! The SDP is rewritten like the first offer and answer (our address and ports, the
//! G.711 widening and the transcoding pair), so direction attributes (`a=sendonly`,
//! `a=inactive`: hold) pass through untouched, and the relay learns each side's new
//! address only once the exchange succeeded: a refused re-INVITE (488, 491, ...)
//! changes nothing. One re-INVITE at a time: another one from either side meanwhile is
//! answered 491 Request Pending (RFC 3261 14.2), and so is one before the answer.
//! The asker's Contact refreshes its remote target, the other leg's 2xx Contact its own
//! (RFC 3261 12.2); the route sets stay as the first exchange set them.

use super::super::legs::{body_of, Dialog, Request, Transport};
use super::super::media::{
    narrow_g711, rewrite_sdp, widen_g711, EventPts, MediaNews, MediaSide, Transcode,
};
use super::{Phase, Side, TransitCall};
use dcx_sip::dialog::answer::{Answer, AnswerEvent};
use dcx_sip::headers::Contact;
use dcx_sip::transaction::{ClientEvent, InviteClient, InviteServer};
use dcx_sip::{response_to, Message, Method};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// One relayed re-INVITE: the asker's server side and our client side toward the
/// other leg.
#[derive(Debug)]
pub(super) struct Relayed {
    /// Who sent it.
    asker: Side,
    /// Where it came from: our responses go back there.
    peer: SocketAddr,
    /// The asker's request (to build our responses).
    request: Vec<u8>,
    /// Its top Via branch and `CSeq` number.
    asker_branch: String,
    asker_cseq: u32,
    server: InviteServer,
    /// Our 2xx to the asker, resent until its ACK.
    answer: Option<Answer>,
    /// Our re-INVITE toward the other leg.
    branch: String,
    cseq: u32,
    to: SocketAddr,
    /// `None` when dcx answered itself (a re-INVITE without an offer).
    client: Option<InviteClient>,
    /// The ACK of the other leg's 2xx, resent for each retransmitted 2xx.
    ack: Option<(SocketAddr, Vec<u8>)>,
    resend_ack: bool,
    /// The asker's SDP: where it receives and its formats.
    offer: Option<Offered>,
    /// A final response went to the asker.
    done: bool,
}

#[derive(Debug)]
struct Offered {
    remote: Option<SocketAddr>,
    formats: Vec<String>,
    events: Option<u8>,
}

impl Relayed {
    /// Whether it still waits for the other leg's final response.
    pub(super) fn pending(&self) -> bool {
        !self.done
    }

    pub(super) fn is_our_branch(&self, branch: &str) -> bool {
        self.branch == branch
    }

    pub(super) fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        while let Some(b) = self.server.poll_transmit() {
            out.push_back((self.peer, b.to_vec()));
        }
        if let Some(a) = &mut self.answer {
            while let Some(b) = a.poll_transmit() {
                out.push_back((self.peer, b.to_vec()));
            }
        }
        if let Some(c) = &mut self.client {
            while let Some(b) = c.poll_transmit() {
                out.push_back((self.to, b.to_vec()));
            }
        }
        if std::mem::take(&mut self.resend_ack) {
            if let Some((to, bytes)) = &self.ack {
                out.push_back((*to, bytes.clone()));
            }
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.server.poll_timeout(),
            self.answer.as_ref().and_then(Answer::poll_timeout),
            self.client.as_ref().and_then(InviteClient::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// The other leg of `side`.
fn other(side: Side, answered: usize) -> Side {
    match side {
        Side::Origin => Side::Carrier(answered),
        Side::Carrier(_) => Side::Origin,
    }
}

/// The asker's Contact, if it has one: its new remote target.
fn contact_of(msg: &Message<'_>) -> Option<String> {
    match msg.contacts().next() {
        Some(Ok(Contact::Address(c))) => Some(c.uri_raw.to_owned()),
        _ => None,
    }
}

impl TransitCall {
    fn dialog_mut(&mut self, side: Side) -> &mut Dialog {
        match side {
            Side::Origin => &mut self.origin.dialog,
            Side::Carrier(i) => &mut self.dialer.attempts[i].dialog,
        }
    }

    /// Our port facing `side`, when media is anchored.
    fn port_facing(&self, side: Side) -> Option<(std::net::IpAddr, u16)> {
        let a = self.anchor?;
        Some(match side {
            Side::Origin => (a.ip, a.origin_port),
            Side::Carrier(_) => (a.ip, a.carrier_port),
        })
    }

    /// A re-INVITE from `side` (a dialog of this call), or a retransmission of the one
    /// being relayed.
    pub(super) fn reinvite_from(
        &mut self,
        now: Instant,
        from: SocketAddr,
        side: Side,
        msg: &Message<'_>,
    ) {
        let branch = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        if let Some(r) = &mut self.reinvite {
            if r.asker == side && r.asker_branch == branch {
                r.server.handle_request();
                if let Some(a) = &mut r.answer {
                    a.handle_request();
                }
                return;
            }
        }
        let Phase::Answered(answered) = self.phase else {
            self.refuse(from, msg, 491, b"Request Pending");
            return;
        };
        if self.reinvite.as_ref().is_some_and(Relayed::pending)
            || self
                .refresh
                .as_ref()
                .is_some_and(super::session::Refresh::pending)
        {
            self.refuse(from, msg, 491, b"Request Pending");
            return;
        }
        let Ok(cseq) = msg.cseq() else { return };
        if let Some(c) = contact_of(msg) {
            self.dialog_mut(side).remote_target = c;
        }
        let target = other(side, answered);
        let timers = self.setup.timers;
        let mut relayed = Relayed {
            asker: side,
            peer: from,
            request: msg.as_bytes().to_vec(),
            asker_branch: branch.to_owned(),
            asker_cseq: cseq.seq,
            server: InviteServer::new(Transport::of(msg).reliability(), timers),
            answer: None,
            branch: String::new(),
            cseq: 0,
            to: from,
            client: None,
            ack: None,
            resend_ack: false,
            offer: None,
            done: false,
        };
        // The asker's SDP, pointed at our port facing the other leg.
        let Some(body) = body_of(msg) else {
            // No offer (a session refresh, or an offer wanted from us): answered here
            // with the SDP this side already has from us; the other leg is not asked.
            self.reinvite = Some(relayed);
            let ours = self.sent_sdp[side.slot()].clone();
            self.answer_asker(now, ours);
            return;
        };
        let forwarded = self.offer_toward(target, body, &mut relayed);
        let ours = self.ids.branch();
        let local = self.setup.local.clone();
        let timer_headers = self.timer_request_headers(target);
        let timer_headers: Vec<(&str, &str)> = timer_headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        let d = self.dialog_mut(target);
        d.local_cseq += 1;
        let our_cseq = d.local_cseq;
        let mut r = Request::new(Method::Invite, our_cseq, &ours, &local);
        r.body = Some((forwarded.0.as_str(), forwarded.1.as_slice()));
        r.headers = &timer_headers;
        let reliability = d.transport.reliability();
        let (bytes, to) = match d.request(&r) {
            Ok(bytes) => (bytes, d.next_hop()),
            Err(e) => {
                tracing::debug!(call_id = %self.parties.call_id, "cannot relay the re-INVITE: {e}");
                self.refuse(from, msg, 500, b"Server Internal Error");
                return;
            }
        };
        if let Ok(trying) = response_to(msg, 100, b"Trying", None) {
            let mut out = Vec::new();
            if trying.write_to(&mut out).is_ok() {
                relayed.server.send_response(now, 100, out);
            }
        }
        tracing::debug!(call_id = %self.parties.call_id, ?side, "relaying a re-INVITE");
        self.sent_sdp[target.slot()] = Some(forwarded);
        relayed.branch = ours;
        relayed.cseq = our_cseq;
        relayed.to = to;
        relayed.client = Some(InviteClient::new(now, bytes, reliability, timers));
        self.reinvite = Some(relayed);
    }

    /// The asker's offer pointed at our port facing `target` (its own address and
    /// formats kept in `relayed` for the answer).
    fn offer_toward(
        &self,
        target: Side,
        (content_type, sdp): (&str, &[u8]),
        relayed: &mut Relayed,
    ) -> (String, Vec<u8>) {
        let rewritten = self
            .port_facing(target)
            .and_then(|(ip, port)| rewrite_sdp((content_type, sdp), ip, port, widen_g711));
        match rewritten {
            Some((out, _)) => {
                relayed.offer = Some(Offered {
                    remote: out.remote,
                    formats: out.formats,
                    events: out.events,
                });
                (content_type.to_owned(), out.body)
            }
            None => (content_type.to_owned(), sdp.to_vec()),
        }
    }

    /// Answers a request once, outside any transaction (its retransmissions get the same
    /// answer again).
    fn refuse(&mut self, from: SocketAddr, msg: &Message<'_>, code: u16, reason: &[u8]) {
        if let Ok(r) = response_to(msg, code, reason, None) {
            let mut bytes = Vec::new();
            if r.write_to(&mut bytes).is_ok() {
                self.out.push_back((from, bytes));
            }
        }
    }

    /// An ACK from `side` for the relayed re-INVITE's final response; false if it is
    /// not one.
    pub(super) fn reinvite_ack(&mut self, now: Instant, side: Side, msg: &Message<'_>) -> bool {
        let Some(r) = &mut self.reinvite else {
            return false;
        };
        let cseq = msg.cseq().map(|c| c.seq).ok();
        if r.asker != side || cseq != Some(r.asker_cseq) {
            return false;
        }
        let branch = msg.top_via().ok().and_then(|v| v.branch());
        if branch == Some(r.asker_branch.as_str()) {
            r.server.handle_ack(now); // the ACK of a failure: the transaction's own
        } else if let Some(a) = &mut r.answer {
            a.handle_ack();
        }
        true
    }

    /// A response to our relayed re-INVITE.
    pub(super) fn reinvite_response(&mut self, now: Instant, msg: &Message<'_>) {
        let Some(code) = msg.status_code() else {
            return;
        };
        let Phase::Answered(answered) = self.phase else {
            return;
        };
        let Some(r) = &mut self.reinvite else { return };
        let target = other(r.asker, answered);
        let to_tag = msg.to().ok().and_then(|t| t.tag()).map(str::to_owned);
        let d = match target {
            Side::Origin => &self.origin.dialog,
            Side::Carrier(i) => &self.dialer.attempts[i].dialog,
        };
        let local = &self.setup.local;
        let (branch, cseq) = (r.branch.clone(), r.cseq);
        let Some(client) = &mut r.client else { return };
        client.handle_response(now, code, || {
            // RFC 3261 17.1.1.3: the ACK of a failure, same branch.
            let mut req = Request::new(Method::Ack, cseq, &branch, local);
            req.to_tag = to_tag.as_deref();
            d.request(&req).unwrap_or_default()
        });
        let mut finals = Vec::new();
        while let Some(e) = client.poll_event() {
            if let ClientEvent::Final(code) = e {
                finals.push(code);
            }
        }
        for code in finals {
            if (200..300).contains(&code) {
                self.reinvite_accepted(now, target, msg);
            } else {
                let reason = msg.status_line().map_or(&b""[..], |s| s.reason);
                self.reinvite_failed(now, code, reason);
            }
        }
    }

    /// The other leg accepted: ACK it, tell the relay, answer the asker with its SDP.
    fn reinvite_accepted(&mut self, now: Instant, target: Side, msg: &Message<'_>) {
        let local = self.setup.local.clone();
        let ack_branch = self.ids.branch();
        let Some(r) = &mut self.reinvite else { return };
        if r.ack.is_some() {
            r.resend_ack = true; // a retransmitted 2xx
            return;
        }
        let cseq = r.cseq;
        if let Some(c) = contact_of(msg) {
            self.dialog_mut(target).remote_target = c;
        }
        let d = self.dialog_mut(target);
        let ack = d
            .request(&Request::new(Method::Ack, cseq, &ack_branch, &local))
            .ok()
            .map(|bytes| (d.next_hop(), bytes));
        let answer_body = self.reinvite_answer_body(target, msg);
        if let Some(r) = &mut self.reinvite {
            r.ack = ack;
            r.resend_ack = true;
        }
        self.refreshed(now, target);
        self.answer_asker(now, answer_body);
    }

    /// Our 200 to the asker, with `body`; resent until its ACK.
    fn answer_asker(&mut self, now: Instant, body: Option<(String, Vec<u8>)>) {
        let contact = self.setup.local.contact.clone();
        let timers = self.setup.timers;
        let Some(asker) = self.reinvite.as_ref().map(|r| r.asker) else {
            return;
        };
        self.refreshed(now, asker);
        let headers = self.timer_response_headers(asker);
        let tag = self.local_tag(asker);
        let Some(r) = &mut self.reinvite else { return };
        r.done = true;
        let Ok(request) = Message::parse_datagram(&r.request) else {
            return;
        };
        let Some(bytes) = ok_response(&request, &tag, &contact, body.as_ref(), &headers) else {
            return;
        };
        let reliability = match asker {
            Side::Origin => self.origin.dialog.transport,
            Side::Carrier(i) => self.dialer.attempts[i].dialog.transport,
        }
        .reliability();
        r.server.send_response(now, 200, bytes.clone());
        let mut answer = Answer::new(now, bytes, reliability, timers);
        let _ = answer.poll_transmit(); // the transaction sent the first one
        r.answer = Some(answer);
        if body.is_some() {
            self.sent_sdp[asker.slot()] = body;
        }
    }

    /// The other leg's answer rewritten for the asker, and the relay told where both
    /// sides now receive.
    fn reinvite_answer_body(
        &mut self,
        target: Side,
        msg: &Message<'_>,
    ) -> Option<(String, Vec<u8>)> {
        let (t, b) = body_of(msg)?;
        let asker = self.reinvite.as_ref().map_or(Side::Origin, |r| r.asker);
        let (Some((ip, port)), Some(offer)) = (
            self.port_facing(asker),
            self.reinvite.as_mut().and_then(|r| r.offer.take()),
        ) else {
            return Some((t.to_owned(), b.to_vec()));
        };
        let formats = offer.formats;
        let Some((out, pair)) = rewrite_sdp((t, b), ip, port, |m| narrow_g711(m, &formats)) else {
            return Some((t.to_owned(), b.to_vec()));
        };
        // The pair as origin/carrier: narrow_g711 names the offerer "origin".
        let pair = pair.flatten().map(|p| match target {
            Side::Carrier(_) => p,
            Side::Origin => Transcode {
                origin_pt: p.carrier_pt,
                carrier_pt: p.origin_pt,
            },
        });
        let (origin_remote, carrier_remote, events) = match target {
            Side::Carrier(_) => (
                offer.remote,
                out.remote,
                EventPts::of(offer.events, out.events),
            ),
            Side::Origin => (
                out.remote,
                offer.remote,
                EventPts::of(out.events, offer.events),
            ),
        };
        if let Some(remote) = origin_remote {
            self.media_news.push_back(MediaNews {
                side: MediaSide::Origin,
                remote,
                transcode: None,
                events: None,
            });
        }
        if let Some(remote) = carrier_remote {
            self.media_news.push_back(MediaNews {
                side: MediaSide::Carrier,
                remote,
                transcode: pair,
                events,
            });
        }
        if target == Side::Origin {
            // The carrier offered this time: the origin's formats are its answer's.
            self.origin_formats = out.formats;
            self.origin_events = out.events;
        } else {
            self.origin_formats = formats;
            self.origin_events = offer.events;
        }
        Some((t.to_owned(), out.body))
    }

    /// The other leg refused (or timed out): the asker gets the same code, nothing
    /// changes.
    fn reinvite_failed(&mut self, now: Instant, code: u16, reason: &[u8]) {
        let Some(asker) = self.reinvite.as_ref().map(|r| r.asker) else {
            return;
        };
        let tag = self.local_tag(asker);
        let Some(r) = &mut self.reinvite else { return };
        if r.done {
            return;
        }
        r.done = true;
        let Ok(request) = Message::parse_datagram(&r.request) else {
            return;
        };
        let Ok(resp) = response_to(&request, code, reason, Some(&tag)) else {
            return;
        };
        let mut bytes = Vec::new();
        if resp.header("Server", b"dcx").write_to(&mut bytes).is_ok() {
            r.server.send_response(now, code, bytes);
        }
    }

    /// Runs the relayed re-INVITE's timers.
    pub(super) fn reinvite_timeout(&mut self, now: Instant) {
        let Some(r) = &mut self.reinvite else { return };
        r.server.handle_timeout(now);
        while r.server.poll_event().is_some() {}
        let mut timed_out = false;
        if let Some(c) = &mut r.client {
            c.handle_timeout(now);
            while let Some(e) = c.poll_event() {
                timed_out |= e == ClientEvent::Timeout;
            }
        }
        let mut ack_lost = false;
        if let Some(a) = &mut r.answer {
            a.handle_timeout(now);
            ack_lost = a.poll_event() == Some(AnswerEvent::AckTimeout);
        }
        if timed_out {
            self.reinvite_failed(now, 408, b"Request Timeout");
        }
        if ack_lost {
            // RFC 3261 13.3.1.4: no ACK for our 2xx ends the session.
            self.hang_up_both(now);
            self.end(
                now,
                200,
                super::HangupSide::System,
                "no ACK for a re-INVITE's 2xx",
            );
        }
    }
}

/// A 200 to `request` with our tag and Contact and `body`.
fn ok_response(
    request: &Message<'_>,
    tag: &str,
    contact: &str,
    body: Option<&(String, Vec<u8>)>,
    headers: &[(&'static str, String)],
) -> Option<Vec<u8>> {
    let mut r = response_to(request, 200, b"OK", Some(tag))
        .ok()?
        .contact(contact)
        .ok()?
        .header("Server", b"dcx");
    for (name, value) in headers {
        r = r.header(name, value.as_bytes());
    }
    if let Some((t, b)) = body {
        r = r.body(t, b);
    }
    let mut out = Vec::with_capacity(512);
    r.write_to(&mut out).ok()?;
    Some(out)
}
