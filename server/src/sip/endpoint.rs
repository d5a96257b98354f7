//! The SIP endpoint core: every datagram that reaches the SIP port goes through here.
//!
//! Order of work for a datagram: parse (a malformed request is answered with the status
//! its error maps to, built from whatever head parsed; a malformed response is dropped;
//! both are counted) -> validate (the same) -> source check (a request from a source no
//! trunk's `inbound_from` allows gets 403 and is counted; dcx never acts for an unknown
//! source; a carrier's address may send requests inside calls but never start one) ->
//! transaction matching (RFC 3261 17.2.3: a retransmission is answered by its server
//! transaction, never by a second decision) -> the call it belongs to ([`Calls`]) -> the
//! method: a new INVITE starts a transit call, OPTIONS is answered here.
//!
//! Responses are validated and handed to the trunk probe or call whose branch they
//! carry; the rest are counted as stray. The probes ([`Probes`]: OPTIONS toward each
//! outbound trunk) tell routing which carriers are down.
//!
//! Sans-IO: datagrams and time in, datagrams, call events and deadlines out. The UDP
//! shell in [`super::udp`] drives it.

use super::calls::{CallStats, Calls, Transit};
use super::probes::{Probes, TrunkStatus};
use super::registrations::{RegistrationStatus, Registrations};
use crate::call::CallEvent;
use crate::config::sip::IpNet;
use dcx_sip::transaction::{InviteServer, NonInviteServer, ServerEvent, Timers};
use dcx_sip::{message, response_to, validate, Message, Method, SipError};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Extra headers of a response: name and value.
type Extra<'a> = &'a [(&'a str, &'a [u8])];

/// Methods this endpoint understands, for `Allow`.
const ALLOW: &[u8] = b"INVITE, ACK, CANCEL, BYE, OPTIONS";

/// A source network and the trunk it belongs to.
#[derive(Debug, Clone)]
pub struct InboundRule {
    /// Allowed sources.
    pub net: IpNet,
    /// The trunk's name.
    pub trunk: String,
}

/// Counters and trunk health, read by the health and metrics endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams received (keepalives included).
    pub datagrams: u64,
    /// Messages that did not parse or validate.
    pub malformed: u64,
    /// Requests refused because no trunk allows their source.
    pub forbidden: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// Requests answered from a transaction (retransmissions absorbed).
    pub retransmissions: u64,
    /// Transit calls.
    pub calls: CallStats,
    /// Health of the probed trunks.
    pub trunks: Arc<[TrunkStatus]>,
    /// Registrations with trunks.
    pub registrations: Arc<[RegistrationStatus]>,
}

/// RFC 3261 17.2.3: branch, sent-by and method (an ACK matches its INVITE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    branch: String,
    sent_by: String,
    method: String,
}

enum ServerTx {
    Invite(InviteServer),
    NonInvite(NonInviteServer),
}

struct Pending {
    tx: ServerTx,
    peer: SocketAddr,
}

/// The endpoint.
pub struct Endpoint {
    inbound: Vec<InboundRule>,
    transactions: HashMap<TxKey, Pending>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    timers: Timers,
    stats: EndpointStats,
    tag_seed: u64,
    tags: u64,
    calls: Option<Calls>,
    probes: Option<Probes>,
    registrations: Option<Registrations>,
}

impl Endpoint {
    /// An endpoint taking requests from the `inbound` sources; `tag_seed` makes its
    /// To tags unpredictable.
    pub fn new(inbound: Vec<InboundRule>, tag_seed: u64) -> Self {
        Self {
            inbound,
            transactions: HashMap::new(),
            out: VecDeque::new(),
            timers: Timers::default(),
            stats: EndpointStats::default(),
            tag_seed,
            tags: 0,
            calls: None,
            probes: None,
            registrations: None,
        }
    }

    /// Uses `timers` for its own transactions (the default is RFC 3261's).
    #[must_use]
    pub fn with_timers(mut self, timers: Timers) -> Self {
        self.timers = timers;
        self
    }

    /// Registers with the trunks that want it.
    #[must_use]
    pub fn with_registrations(mut self, registrations: Registrations) -> Self {
        self.registrations = Some(registrations);
        self
    }

    /// Probes trunks with OPTIONS and skips those found down when routing.
    #[must_use]
    pub fn with_probes(mut self, probes: Probes) -> Self {
        self.probes = Some(probes);
        self
    }

    /// Takes INVITEs as transit calls (without it they get 501).
    #[must_use]
    pub fn with_transit(mut self, transit: Transit) -> Self {
        self.calls = Some(Calls::new(transit));
        self
    }

    /// Takes the trunks and DIDs of a changed config (the REST API) without a restart:
    /// which sources are trunks, where new calls go, which numbers are answered, what is
    /// probed and registered. Calls and transactions in progress go on as they were.
    pub fn reconfigure(&mut self, now: Instant, mut p: super::provision::SipProvision) {
        self.inbound = std::mem::take(&mut p.inbound);
        if let Some(calls) = &mut self.calls {
            calls.reconfigure(&mut p);
        }
        if let Some(probes) = &mut self.probes {
            probes.reconfigure(now, p.probes);
        }
        if let Some(r) = &mut self.registrations {
            r.reconfigure(now, p.registrations);
        }
        self.apply_health();
        self.handle_timeout(now);
    }

    /// The counters.
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            calls: self.calls.as_ref().map(Calls::stats).unwrap_or_default(),
            trunks: self.probes.as_ref().map(Probes::view).unwrap_or_default(),
            registrations: self
                .registrations
                .as_ref()
                .map(Registrations::view)
                .unwrap_or_default(),
            ..self.stats.clone()
        }
    }

    /// What the calls reported (attempts and calls ended), in order.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.calls.as_mut()?.poll_event()
    }

    /// What the RTP relay must do for the calls (open, learn a side's address, close).
    pub fn poll_media(&mut self) -> Option<super::calls::MediaCommand> {
        self.calls.as_mut()?.poll_media()
    }

    /// A browser's call (see [`Calls::start_browser`]); `None` when this endpoint
    /// routes no calls (no `[routing]`).
    pub fn dial_browser(
        &mut self,
        now: Instant,
        origin: &crate::call::browser::BrowserOrigin,
    ) -> Option<(u64, Option<(std::net::IpAddr, u16)>)> {
        let calls = self.calls.as_mut()?;
        Some(calls.start_browser(now, origin, &mut self.out))
    }

    /// Hangs up call `token`'s far end (see [`Calls::hang_up_call`]).
    pub fn hang_up_call(&mut self, now: Instant, token: u64, code: u16, why: &str) {
        if let Some(calls) = &mut self.calls {
            calls.hang_up_call(now, token, (code, why), &mut self.out);
        }
    }

    /// The browser of call `token` put it on hold (`true`) or resumed it.
    pub fn hold_call(&mut self, now: Instant, token: u64, held: bool) {
        if let Some(calls) = &mut self.calls {
            calls.hold_call(now, token, held, &mut self.out);
        }
    }

    /// Answered inbound call `token` waits in a queue again.
    pub fn requeued(&mut self, now: Instant, token: u64) {
        if let Some(calls) = &mut self.calls {
            calls.requeued(now, token);
        }
    }

    /// An agent took inbound call `token`.
    /// Asks the carrier of inbound call `token` to take a blind transfer to `number`
    /// (REFER); false when it is not asked (its trunk does not take REFER, ...).
    pub fn refer_call(&mut self, now: Instant, token: u64, number: &str) -> bool {
        let Some(calls) = &mut self.calls else {
            return false;
        };
        let asked = calls.refer_call(now, token, number, &mut self.out);
        self.drain();
        asked
    }

    pub fn answer_call(&mut self, now: Instant, token: u64, agent: &str) {
        if let Some(calls) = &mut self.calls {
            calls.answer_call(now, token, agent, &mut self.out);
        }
    }

    /// What browser calls' tasks must hear (ringing, answered, ended), in order.
    pub fn poll_browser(&mut self) -> Option<super::calls::BrowserUpdate> {
        self.calls.as_mut()?.poll_browser()
    }

    /// A datagram arrived from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams += 1;
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ')) {
            return; // RFC 5626 keepalive
        }
        match Message::parse_datagram(bytes) {
            Ok(msg) if msg.is_request() => self.handle_request(now, from, &msg),
            Ok(msg) => self.handle_response(now, from, &msg),
            Err(e) => {
                self.stats.malformed += 1;
                if message::looks_like_response(bytes) {
                    return;
                }
                if let Ok(head) = Message::parse_head_only(bytes) {
                    self.reject(from, &head, &e);
                } else if let Some(repaired) = addressable_head(bytes) {
                    // The request line or the framing headers are broken (RFC 4475
                    // `ltgtruri`, `mcl01`): the headers a response is addressed with may
                    // still be intact.
                    if let Ok(head) = Message::parse_head_only(&repaired) {
                        self.reject(from, &head, &e);
                    }
                }
            }
        }
    }

    fn handle_response(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        if validate::response(msg).is_err() {
            self.stats.malformed += 1;
            return;
        }
        if self.probes.as_mut().is_some_and(|p| p.handle_response(msg)) {
            self.apply_health();
            return;
        }
        if let Some(r) = &mut self.registrations {
            if r.handle_response(now, from, msg) {
                r.transmit(&mut self.out);
                return;
            }
        }
        let taken = match &mut self.calls {
            Some(calls) => calls.handle_response(now, from, msg, &mut self.out),
            None => false,
        };
        if !taken {
            self.stats.stray_responses += 1;
        }
    }

    fn handle_request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        let is_ack = msg.method() == Some(Method::Ack);
        let policy = validate::Policy {
            // sipfrag: the NOTIFYs about a REFER of ours.
            accepted_content_types: Some(&["application/sdp", "message/sipfrag"]),
            answer_content_type: Some("application/sdp"),
            ..validate::Policy::default()
        };
        if let Err(e) = validate::request(msg, &policy) {
            self.stats.malformed += 1;
            if !is_ack {
                self.reject(from, msg, &e);
            }
            return;
        }
        let origin = self
            .inbound
            .iter()
            .find(|r| r.net.contains(from.ip()))
            .map(|r| r.trunk.clone());
        let carrier = || self.calls.as_ref().is_some_and(|c| c.is_carrier(from.ip()));
        if origin.is_none() && !carrier() {
            self.forbid(from, msg, is_ack);
            return;
        }
        tracing::trace!(%from, trunk = ?origin, method = ?msg.method(), "request");
        let Some(key) = tx_key(msg) else {
            self.reject(
                from,
                msg,
                &SipError::BadHeader {
                    name: "Via",
                    reason: "no RFC 3261 branch to match a transaction",
                },
            );
            return;
        };
        if let Some(p) = self.transactions.get_mut(&key) {
            self.stats.retransmissions += 1;
            match (&mut p.tx, is_ack) {
                (ServerTx::Invite(t), true) => {
                    t.handle_ack(now);
                }
                (ServerTx::Invite(t), false) => t.handle_request(),
                (ServerTx::NonInvite(t), _) => t.handle_request(),
            }
            return;
        }
        if let Some(calls) = &mut self.calls {
            let invite_key = TxKey {
                method: "INVITE".to_owned(),
                ..key.clone()
            };
            if let Some(token) = calls.find(msg, &invite_key) {
                calls.handle_request(now, token, from, msg, &mut self.out);
                return;
            }
        }
        if is_ack {
            return; // an ACK for no transaction of ours: nothing to do (RFC 3261 17.2.3)
        }
        let initial = msg.to().ok().is_some_and(|t| t.tag().is_none());
        if msg.method() == Some(Method::Invite) && initial {
            let Some(trunk) = origin else {
                // A carrier's address is trusted inside calls, never to start one.
                self.forbid(from, msg, false);
                return;
            };
            if let Some(calls) = &mut self.calls {
                if let Err(e) = calls.start(now, (msg, from, &trunk), key, &mut self.out) {
                    self.reject(from, msg, &e);
                }
                return;
            }
        }
        self.new_transaction(now, from, msg, key);
    }

    fn forbid(&mut self, from: SocketAddr, msg: &Message<'_>, is_ack: bool) {
        self.stats.forbidden += 1;
        tracing::debug!(%from, "request from a source no trunk allows: 403");
        if !is_ack {
            self.respond(from, msg, 403, b"Forbidden", &[]);
        }
    }

    fn new_transaction(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>, key: TxKey) {
        let method = msg.method();
        let (code, reason, extra): (u16, &[u8], Extra<'_>) = match method {
            Some(Method::Options) => (
                200,
                b"OK",
                &[("Allow", ALLOW), ("Accept", b"application/sdp")],
            ),
            Some(Method::Bye | Method::Cancel) => (481, b"Call/Transaction Does Not Exist", &[]),
            // A re-INVITE (To tag) for a dialog we do not know.
            Some(Method::Invite) if msg.to().ok().is_some_and(|t| t.tag().is_some()) => {
                (481, b"Call/Transaction Does Not Exist", &[])
            }
            Some(Method::Register) => (405, b"Method Not Allowed", &[("Allow", ALLOW)]),
            // INVITE included when the endpoint runs without transit call control.
            _ => (501, b"Not Implemented", &[("Allow", ALLOW)]),
        };
        let Some(bytes) = self.build(msg, code, reason, extra) else {
            return;
        };
        let reliability = crate::call::legs::Transport::of(msg).reliability();
        let tx = if method == Some(Method::Invite) {
            let mut t = InviteServer::new(reliability, self.timers);
            t.send_response(now, code, bytes);
            ServerTx::Invite(t)
        } else {
            let mut t = NonInviteServer::new(reliability, self.timers);
            t.send_response(now, code, bytes);
            ServerTx::NonInvite(t)
        };
        self.transactions.insert(key, Pending { tx, peer: from });
        self.drain();
    }

    fn reject(&mut self, from: SocketAddr, msg: &Message<'_>, e: &SipError) {
        let unsupported;
        let extra: Extra<'_> = if let SipError::BadExtension { unsupported: u } = e {
            unsupported = u.clone();
            &[("Unsupported", unsupported.as_bytes())]
        } else {
            &[]
        };
        self.respond(
            from,
            msg,
            e.sip_status(),
            e.reason_phrase().as_bytes(),
            extra,
        );
    }

    /// A response sent once, outside any transaction (errors found before matching).
    fn respond(
        &mut self,
        to: SocketAddr,
        msg: &Message<'_>,
        code: u16,
        reason: &[u8],
        extra: Extra<'_>,
    ) {
        if let Some(bytes) = self.build(msg, code, reason, extra) {
            self.out.push_back((to, bytes));
        }
    }

    fn build(
        &mut self,
        msg: &Message<'_>,
        code: u16,
        reason: &[u8],
        extra: Extra<'_>,
    ) -> Option<Vec<u8>> {
        self.tags += 1;
        let tag = format!("{:x}", dcx_routing::rng::mix(self.tag_seed ^ self.tags));
        let mut r = response_to(msg, code, reason, Some(&tag)).ok()?;
        for (name, value) in extra {
            r = r.header(name, value);
        }
        r = r.header("Server", b"dcx");
        let mut out = Vec::with_capacity(512);
        r.write_to(&mut out).ok()?;
        Some(out)
    }

    /// Runs the transactions' and calls' timers and forgets finished ones.
    pub fn handle_timeout(&mut self, now: Instant) {
        for p in self.transactions.values_mut() {
            match &mut p.tx {
                ServerTx::Invite(t) => t.handle_timeout(now),
                ServerTx::NonInvite(t) => t.handle_timeout(now),
            }
        }
        if let Some(calls) = &mut self.calls {
            calls.handle_timeout(now, &mut self.out);
        }
        if let Some(p) = &mut self.probes {
            p.handle_timeout(now, &mut self.out);
        }
        if let Some(r) = &mut self.registrations {
            r.handle_timeout(now, &mut self.out);
        }
        self.apply_health();
        self.drain();
    }

    /// Tells routing which trunks the probes found up or down.
    fn apply_health(&mut self) {
        let Some(p) = &mut self.probes else { return };
        while let Some((trunk, up)) = p.poll_change() {
            if up {
                tracing::info!(%trunk, "trunk up: answering OPTIONS again");
            } else {
                tracing::warn!(%trunk, "trunk down: OPTIONS failed, routing skips it");
            }
            if let Some(calls) = &mut self.calls {
                calls.set_carrier_up(&trunk, up);
            }
        }
    }

    fn drain(&mut self) {
        let out = &mut self.out;
        self.transactions.retain(|_, p| {
            let mut done = false;
            match &mut p.tx {
                ServerTx::Invite(t) => {
                    while let Some(b) = t.poll_transmit() {
                        out.push_back((p.peer, b.to_vec()));
                    }
                    while let Some(e) = t.poll_event() {
                        done |= e == ServerEvent::Terminated;
                    }
                }
                ServerTx::NonInvite(t) => {
                    while let Some(b) = t.poll_transmit() {
                        out.push_back((p.peer, b.to_vec()));
                    }
                    while let Some(e) = t.poll_event() {
                        done |= e == ServerEvent::Terminated;
                    }
                }
            }
            !done
        });
    }

    /// A datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        if self.out.is_empty() {
            self.drain();
        }
        self.out.pop_front()
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self
            .transactions
            .values()
            .filter_map(|p| match &p.tx {
                ServerTx::Invite(t) => t.poll_timeout(),
                ServerTx::NonInvite(t) => t.poll_timeout(),
            })
            .min();
        let calls = self.calls.as_ref().and_then(Calls::poll_timeout);
        let probes = self.probes.as_ref().and_then(Probes::poll_timeout);
        let registrations = self
            .registrations
            .as_ref()
            .and_then(Registrations::poll_timeout);
        own.into_iter()
            .chain(calls)
            .chain(probes)
            .chain(registrations)
            .min()
    }

    /// Live server transactions.
    #[cfg(test)]
    pub fn transactions(&self) -> usize {
        self.transactions.len()
    }
}

fn tx_key(msg: &Message<'_>) -> Option<TxKey> {
    let via = msg.top_via().ok()?;
    let branch = via
        .branch()
        .filter(|b| b.len() > dcx_sip::headers::MAGIC_COOKIE.len())?;
    let method = match msg.method()? {
        Method::Ack => "INVITE".to_owned(),
        m => m.as_str().to_owned(),
    };
    Some(TxKey {
        branch: branch.to_owned(),
        sent_by: format!("{}:{}", via.host_raw, via.port.unwrap_or(5060)),
        method,
    })
}

/// The head of a rejected request rebuilt so that a response can be addressed from it:
/// a well-formed placeholder request line, the header lines without Content-Length (a
/// response copies Via, From, To, `Call-ID` and `CSeq`, never the request line or framing),
/// no body.
fn addressable_head(bytes: &[u8]) -> Option<Vec<u8>> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let mut lines = bytes[..head_end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.next()?; // the request line
    let mut out = Vec::with_capacity(head_end + 32);
    out.extend_from_slice(b"INVALID sip:invalid SIP/2.0\r\n");
    for line in lines {
        let name = line.split(|&b| b == b':').next().unwrap_or(line);
        let name = name.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OPTIONS: &[u8] = b"OPTIONS sip:dcx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=a\r\nTo: <sip:dcx@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    fn endpoint() -> Endpoint {
        Endpoint::new(
            vec![InboundRule {
                net: IpNet::parse("127.0.0.0/8").unwrap(),
                trunk: "origin-a".into(),
            }],
            7,
        )
    }

    fn status(bytes: &[u8]) -> u16 {
        Message::parse_datagram(bytes)
            .unwrap()
            .status_code()
            .unwrap()
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:5070".parse().unwrap()
    }

    #[test]
    fn answers_options_and_absorbs_retransmissions() {
        let mut e = endpoint();
        let t0 = Instant::now();
        e.handle_datagram(t0, peer(), OPTIONS);
        let (to, first) = e.poll_transmit().unwrap();
        assert_eq!((to, status(&first)), (peer(), 200));
        let resp = Message::parse_datagram(&first).unwrap();
        assert!(resp.header("Allow").is_some());
        assert!(resp.to().unwrap().tag().is_some());
        // The same request again: the transaction answers with the same bytes.
        e.handle_datagram(t0 + Duration::from_millis(500), peer(), OPTIONS);
        assert_eq!(e.poll_transmit().unwrap().1, first);
        assert_eq!((e.transactions(), e.stats().retransmissions), (1, 1));
        // Timer J (64*T1) ends it.
        e.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(e.transactions(), 0);
        assert!(e.poll_timeout().is_none());
    }

    #[test]
    fn unknown_sources_get_403_and_are_counted() {
        let mut e = endpoint();
        e.handle_datagram(Instant::now(), "192.0.2.7:5060".parse().unwrap(), OPTIONS);
        assert_eq!(status(&e.poll_transmit().unwrap().1), 403);
        assert_eq!((e.stats().forbidden, e.transactions()), (1, 0));
    }

    #[test]
    fn malformed_requests_are_answered_and_responses_dropped() {
        let mut e = endpoint();
        let now = Instant::now();
        let no_call_id = String::from_utf8_lossy(OPTIONS).replace("Call-ID: c1\r\n", "");
        e.handle_datagram(now, peer(), no_call_id.as_bytes());
        assert_eq!(status(&e.poll_transmit().unwrap().1), 400);
        let bad_version = String::from_utf8_lossy(OPTIONS).replace(
            "OPTIONS sip:dcx@127.0.0.1 SIP/2.0",
            "OPTIONS sip:dcx@127.0.0.1 SIP/7.0",
        );
        e.handle_datagram(now, peer(), bad_version.as_bytes());
        assert_eq!(status(&e.poll_transmit().unwrap().1), 505);
        // A response without the headers a response needs is malformed; a well-formed
        // one that matches nothing of ours is stray. Neither is answered.
        e.handle_datagram(now, peer(), b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        let stray = String::from_utf8_lossy(OPTIONS)
            .replace("OPTIONS sip:dcx@127.0.0.1 SIP/2.0", "SIP/2.0 200 OK")
            .replace("<sip:dcx@127.0.0.1>", "<sip:dcx@127.0.0.1>;tag=x");
        e.handle_datagram(now, peer(), stray.as_bytes());
        e.handle_datagram(now, peer(), b"\x00\x01garbage");
        e.handle_datagram(now, peer(), b"\r\n\r\n");
        assert!(e.poll_transmit().is_none());
        assert_eq!(e.stats().malformed, 4);
        assert_eq!(e.stats().stray_responses, 1);
        assert_eq!(e.stats().datagrams, 6);
    }
}
