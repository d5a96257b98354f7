//! The origin's side of a transit call: its INVITE as received, the dialog dcx holds
//! with it as a UAS, the responses dcx sends it, and the server transactions of the
//! requests either side sends inside the call (BYE, CANCEL, the rest).

use super::legs::{bare_address, Dialog, Ids, Transport};
use dcx_sip::headers::Contact;
use dcx_sip::transaction::{NonInviteServer, ServerEvent, Timers};
use dcx_sip::uri::Uri;
use dcx_sip::{response_to, Message, SipError};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// What dcx keeps of the origin's INVITE.
#[derive(Debug)]
pub struct OriginInvite {
    /// The INVITE as received (re-parsed to build each response: cheaper than keeping
    /// owned copies of every header a response copies).
    pub bytes: Vec<u8>,
    /// Where it came from: responses go back there.
    pub peer: SocketAddr,
    /// Its top Via branch.
    pub branch: String,
    /// The dialog with the origin (our To tag, its From tag, its Contact, its
    /// Record-Route set).
    pub dialog: Dialog,
    /// The Request-URI's user part (or a `tel:` number): the number dialled.
    pub dialled: String,
    /// The URI of its From.
    pub caller: String,
    /// Its From, without tag: the From of our INVITEs.
    pub from_address: String,
    /// Its Max-Forwards minus one (RFC 3261 16.6; 70 when absent).
    pub max_forwards: u8,
}

impl OriginInvite {
    /// Reads what the call needs from a validated INVITE.
    pub fn read(msg: &Message<'_>, peer: SocketAddr, ids: &Ids) -> Result<Self, SipError> {
        let from = msg.from()?;
        let to = msg.to()?;
        let branch = msg.top_via()?.branch().unwrap_or_default().to_owned();
        let target = match msg.contacts().next() {
            Some(Ok(Contact::Address(c))) => c.uri_raw.to_owned(),
            _ => from.uri_raw.to_owned(),
        };
        let route_set = msg
            .record_routes()
            .filter_map(Result::ok)
            .map(|r| bare_address(&r))
            .collect();
        let dialog = Dialog {
            call_id: msg.call_id()?.to_owned(),
            local_tag: ids.origin_tag(),
            remote_tag: from.tag().map(str::to_owned),
            local_uri: bare_address(&to),
            remote_uri: bare_address(&from),
            remote_target: target,
            route_set,
            local_cseq: 0,
            fallback: peer,
            transport: Transport::of(msg),
            flow: (Transport::of(msg) == Transport::Tcp).then_some(peer),
        };
        Ok(Self {
            bytes: msg.as_bytes().to_vec(),
            peer,
            branch,
            caller: from.uri_raw.to_owned(),
            from_address: bare_address(&from),
            max_forwards: msg.max_forwards()?.map_or(70, |m| m.saturating_sub(1)),
            dialog,
            dialled: Self::dialled(msg),
        })
    }

    /// The number a request dials: the Request-URI's user part (a `tel:` URI's number),
    /// without RFC 4694 parameters (`;npdi`, `;rn=`), which ride in the user part.
    pub fn dialled(msg: &Message<'_>) -> String {
        let uri = msg.request_line().map(|l| l.uri).unwrap_or_default();
        let user = match Uri::parse(uri) {
            Ok(Uri::Sip(sip)) => sip.user.unwrap_or_default(),
            Ok(Uri::Tel(tel)) => tel.number,
            _ => "",
        };
        user.split(';').next().unwrap_or_default().to_owned()
    }

    /// A response to the INVITE with our To tag (none on a 100), our Contact on 18x and
    /// 2xx, and `body` if given.
    pub fn response(
        &self,
        code: u16,
        reason: &[u8],
        contact: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Option<Vec<u8>> {
        self.response_with(code, reason, contact, body, &[])
    }

    /// [`Self::response`] with more headers.
    pub fn response_with(
        &self,
        code: u16,
        reason: &[u8],
        contact: Option<&str>,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, &[u8])],
    ) -> Option<Vec<u8>> {
        let invite = Message::parse_datagram(&self.bytes).ok()?;
        let tag = (code > 100).then_some(self.dialog.local_tag.as_str());
        let mut r = response_to(&invite, code, reason, tag).ok()?;
        if let Some(c) = contact {
            r = r.contact(c).ok()?;
        }
        r = r.header("Server", b"dcx");
        for (name, value) in headers {
            r = r.header(name, value);
        }
        if let Some((content_type, b)) = body {
            r = r.body(content_type, b);
        }
        let mut out = Vec::with_capacity(512);
        r.write_to(&mut out).ok()?;
        Some(out)
    }
}

/// Ends the origin's dialog from dcx's side: stops resending our 2xx (`answer`, the
/// dialog is over) and builds the BYE; `None` (logged) when it cannot be built.
pub fn bye_origin(
    now: Instant,
    answer: &mut Option<dcx_sip::dialog::answer::Answer>,
    origin: &mut OriginInvite,
    ids: &mut Ids,
    setup: &super::CallSetup,
) -> Option<super::legs::OutgoingBye> {
    if let Some(a) = answer {
        a.handle_ack();
    }
    origin
        .dialog
        .bye(now, ids.branch(), &setup.local, setup.timers)
        .map_err(|e| {
            tracing::debug!(call_id = %origin.dialog.call_id, "cannot build BYE toward the origin: {e}");
        })
        .ok()
}

/// The server transactions of requests inside the call (from either side), kept to
/// answer their retransmissions until timer J.
#[derive(Debug, Default)]
pub struct InCallRequests {
    live: Vec<InCallRequest>,
}

#[derive(Debug)]
struct InCallRequest {
    branch: String,
    method: String,
    peer: SocketAddr,
    tx: NonInviteServer,
}

impl InCallRequests {
    /// If `msg` retransmits a request already answered, resend the answer; returns
    /// whether it did.
    pub fn absorb(&mut self, msg: &Message<'_>) -> bool {
        let (Some(method), Ok(via)) = (msg.method(), msg.top_via()) else {
            return false;
        };
        let branch = via.branch().unwrap_or_default();
        match self
            .live
            .iter_mut()
            .find(|r| r.branch == branch && r.method == method.as_str())
        {
            Some(r) => {
                r.tx.handle_request();
                true
            }
            None => false,
        }
    }

    /// Answers `msg` (from `peer`) with `code` in a new server transaction; `to_tag` is
    /// added if its To has none (a CANCEL).
    pub fn answer(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        msg: &Message<'_>,
        (code, reason): (u16, &[u8]),
        to_tag: &str,
        timers: Timers,
    ) {
        self.answer_with(now, peer, msg, (code, reason), to_tag, timers, &[]);
    }

    /// [`Self::answer`] with more headers in the response.
    #[allow(clippy::too_many_arguments, reason = "answer's, plus the headers")]
    pub fn answer_with(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        msg: &Message<'_>,
        (code, reason): (u16, &[u8]),
        to_tag: &str,
        timers: Timers,
        headers: &[(&str, &[u8])],
    ) {
        let (Some(method), Ok(via)) = (msg.method(), msg.top_via()) else {
            return;
        };
        let Ok(r) = response_to(msg, code, reason, Some(to_tag)) else {
            return;
        };
        let mut bytes = Vec::with_capacity(384);
        let mut r = r.header("Server", b"dcx");
        for (name, value) in headers {
            r = r.header(name, value);
        }
        if r.write_to(&mut bytes).is_err() {
            return;
        }
        let mut tx = NonInviteServer::new(Transport::of(msg).reliability(), timers);
        tx.send_response(now, code, bytes);
        self.live.push(InCallRequest {
            branch: via.branch().unwrap_or_default().to_owned(),
            method: method.as_str().to_owned(),
            peer,
            tx,
        });
    }

    /// Answers `msg` (from `peer`) with the response `bytes` (of status `code`), built
    /// by the caller, in a new server transaction.
    pub fn respond_built(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        msg: &Message<'_>,
        code: u16,
        bytes: Vec<u8>,
        timers: Timers,
    ) {
        let (Some(method), Ok(via)) = (msg.method(), msg.top_via()) else {
            return;
        };
        let mut tx = NonInviteServer::new(Transport::of(msg).reliability(), timers);
        tx.send_response(now, code, bytes);
        self.live.push(InCallRequest {
            branch: via.branch().unwrap_or_default().to_owned(),
            method: method.as_str().to_owned(),
            peer,
            tx,
        });
    }

    /// Runs timer J and forgets finished transactions.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.live.retain_mut(|r| {
            r.tx.handle_timeout(now);
            let mut done = false;
            while let Some(e) = r.tx.poll_event() {
                done |= e == ServerEvent::Terminated;
            }
            !done
        });
    }

    /// Moves what they want to send into `out`.
    pub fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        for r in &mut self.live {
            while let Some(b) = r.tx.poll_transmit() {
                out.push_back((r.peer, b.to_vec()));
            }
        }
    }

    /// Their next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.live.iter().filter_map(|r| r.tx.poll_timeout()).min()
    }
}
