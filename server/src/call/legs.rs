//! The message building of a transit call: who we are on the wire ([`Local`]), the
//! identifiers a call mints ([`Ids`]), and the dialog state each leg needs to build its
//! in-dialog requests ([`Dialog`]).
//!
//! Every identifier a call mints (Via branches, its From tag toward carriers, its To tag
//! toward the origin) starts with the call's token, 16 hex digits. The endpoint finds the
//! call a response or an in-dialog request belongs to by reading the token back
//! ([`token_of_branch`], [`token_of_tag`]) and looking it up in one map; the call then
//! checks the rest (Call-ID, remote tag, which transaction). Nothing here does I/O.

use dcx_routing::rng::{Random, SplitMix64};
use dcx_sip::headers::{DisplayName, NameAddr};
use dcx_sip::transaction::{NonInviteClient, Reliability, Timers};
use dcx_sip::uri::{Host, Uri};
use dcx_sip::{Message, Method, RequestBuilder, SipError, ViaSpec};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Max-Forwards of requests dcx originates inside a dialog (RFC 3261 8.1.1.6).
pub const MAX_FORWARDS: u8 = 70;

/// The default SIP port, for URIs without one.
const SIP_PORT: u16 = 5060;

/// The transport a leg's messages ride. Over TCP nothing is retransmitted (the
/// transactions run with [`Reliability::Reliable`]) and requests to a peer that
/// connected to us go back on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Datagrams, retransmitted by the transactions.
    #[default]
    Udp,
    /// A stream connection (RFC 3261 18: Content-Length framing).
    Tcp,
}

impl Transport {
    /// The Via transport token.
    pub fn via(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }

    /// Whether the transactions retransmit.
    pub fn reliability(self) -> Reliability {
        match self {
            Self::Udp => Reliability::Unreliable,
            Self::Tcp => Reliability::Reliable,
        }
    }

    /// The transport a message's top Via names: what a request arrived on and what its
    /// responses go back on (RFC 3261 18.2.2). Anything but TCP counts as UDP here.
    pub fn of(msg: &Message<'_>) -> Self {
        match msg.top_via() {
            Ok(v) if v.transport.eq_ignore_ascii_case("TCP") => Self::Tcp,
            _ => Self::Udp,
        }
    }
}

/// Our address on the wire: the Via sent-by and the Contact of every leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// `IP:port` in Via and Contact.
    pub sent_by: String,
    /// Our Contact, a name-addr.
    pub contact: String,
}

impl Local {
    /// The addresses for a socket bound to `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            sent_by: addr.to_string(),
            contact: format!("<sip:dcx@{addr}>"),
        }
    }

    /// The host part of `sent_by` (for Call-IDs).
    pub fn host(&self) -> &str {
        self.sent_by
            .rsplit_once(':')
            .map_or(self.sent_by.as_str(), |(h, _)| h)
    }
}

/// The identifiers of one call, all prefixed by its token, and its client nonces.
#[derive(Debug, Clone)]
pub struct Ids {
    token: u64,
    next: u32,
    rng: SplitMix64,
}

impl Ids {
    /// The identifiers of the call with `token`; `seed` (drawn from the endpoint's
    /// seeded generator, never shown on the wire) feeds its digest client nonces.
    pub fn new(token: u64, seed: u64) -> Self {
        Self {
            token,
            next: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// A fresh digest client nonce (RFC 7616 `cnonce`): 128 bits from the call's
    /// generator, unrelated to its token.
    pub fn cnonce(&mut self) -> String {
        format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64())
    }

    fn bump(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    /// A fresh Via branch.
    pub fn branch(&mut self) -> String {
        let n = self.bump();
        format!("{}{:016x}.{n}", dcx_sip::headers::MAGIC_COOKIE, self.token)
    }

    /// A fresh Call-ID toward a carrier.
    pub fn call_id(&mut self, host: &str) -> String {
        let n = self.bump();
        format!("{:016x}.{n}@{host}", self.token)
    }

    /// Our To tag toward the origin.
    pub fn origin_tag(&self) -> String {
        format!("{:016x}o", self.token)
    }

    /// Our From tag toward carriers.
    pub fn carrier_tag(&self) -> String {
        format!("{:016x}c", self.token)
    }
}

fn token_of(s: &str) -> Option<u64> {
    let hex = s.get(..16)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// The token of a branch dcx minted.
pub fn token_of_branch(branch: &str) -> Option<u64> {
    token_of(branch.strip_prefix(dcx_sip::headers::MAGIC_COOKIE)?)
}

/// The token of a tag dcx minted (our To tag toward the origin, our From tag toward a
/// carrier).
pub fn token_of_tag(tag: &str) -> Option<u64> {
    if tag.len() != 17 {
        return None;
    }
    token_of(tag)
}

/// A name-addr without header parameters (no tag), for From/To of a new request.
pub fn bare_address(a: &NameAddr<'_>) -> String {
    match a.display_name {
        Some(DisplayName::Quoted(q)) => format!("\"{q}\" <{}>", a.uri_raw),
        Some(DisplayName::Tokens(t)) => format!("{t} <{}>", a.uri_raw),
        None => format!("<{}>", a.uri_raw),
    }
}

/// Where a request to `uri` goes: its IP host and port; `None` for a domain name (the
/// caller falls back to the address it knows for the peer).
pub fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let Ok(Uri::Sip(sip)) = Uri::parse(uri) else {
        return None;
    };
    let ip = match sip.host {
        Host::V4(v4) => IpAddr::V4(v4),
        Host::V6(v6) => IpAddr::V6(v6),
        Host::Domain(_) => return None,
    };
    Some(SocketAddr::new(ip, sip.port.unwrap_or(SIP_PORT)))
}

/// The URI inside a Route or Record-Route value.
fn route_uri(value: &str) -> Option<&str> {
    let inner = value.split_once('<')?.1;
    Some(inner.split_once('>')?.0)
}

/// One leg's dialog, as RFC 3261 12 keeps it, plus where its requests are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (unknown until a carrier's response carries one).
    pub remote_tag: Option<String>,
    /// Our address (From of our requests), without tag.
    pub local_uri: String,
    /// The peer's address (To of our requests), without tag.
    pub remote_uri: String,
    /// The peer's Contact: the Request-URI of in-dialog requests.
    pub remote_target: String,
    /// Route values, in the order they go into our requests.
    pub route_set: Vec<String>,
    /// The `CSeq` number of our last request.
    pub local_cseq: u32,
    /// Where the peer's requests came from, or the trunk address: used when neither
    /// the first route nor the remote target names an IP.
    pub fallback: SocketAddr,
    /// The transport of this leg.
    pub transport: Transport,
    /// The connection the peer opened to us, when its requests came over TCP: our
    /// requests in the dialog ride it back (as RFC 5923 allows) whatever the Contact.
    pub flow: Option<SocketAddr>,
}

impl Dialog {
    /// The next hop of an in-dialog request: the first route, else the remote target,
    /// else the fallback address. (A strict router in the route set is treated as a
    /// loose one.)
    pub fn next_hop(&self) -> SocketAddr {
        if let Some(flow) = self.flow {
            return flow;
        }
        let hop = match self.route_set.first() {
            Some(route) => route_uri(route).and_then(uri_addr),
            None => uri_addr(&self.remote_target),
        };
        hop.unwrap_or(self.fallback)
    }

    /// Takes the target and route set from a 2xx (or a request) as a UAC: the Contact,
    /// and the Record-Route in reverse order (RFC 3261 12.1.2).
    pub fn learn_from_response(&mut self, msg: &Message<'_>) {
        if let Some(tag) = msg.to().ok().and_then(|t| t.tag()) {
            self.remote_tag = Some(tag.to_owned());
        }
        if let Some(Ok(dcx_sip::headers::Contact::Address(c))) = msg.contacts().next() {
            c.uri_raw.clone_into(&mut self.remote_target);
        }
        let mut routes: Vec<String> = msg
            .record_routes()
            .filter_map(Result::ok)
            .map(|r| bare_address(&r))
            .collect();
        routes.reverse();
        self.route_set = routes;
    }

    /// Ends the dialog from our side: a BYE (`CSeq` one up) on branch `branch` and its
    /// client transaction, with where it goes.
    pub fn bye(
        &mut self,
        now: Instant,
        branch: String,
        local: &Local,
        timers: Timers,
    ) -> Result<OutgoingBye, SipError> {
        self.local_cseq += 1;
        let r = Request::new(Method::Bye, self.local_cseq, &branch, local);
        let bytes = self.request(&r)?;
        let tx = NonInviteClient::new(now, bytes, self.transport.reliability(), timers);
        Ok((branch, self.next_hop(), tx))
    }

    /// Builds a request in this dialog. `uri` overrides the remote target (the INVITE
    /// and its CANCEL go to the Request-URI they were sent with); `to_tag` overrides the
    /// remote tag (the ACK of a failure carries the failure's To tag).
    pub fn request(&self, r: &Request<'_>) -> Result<Vec<u8>, SipError> {
        let uri = r.uri.unwrap_or(&self.remote_target);
        let to_tag = r.to_tag.or(self.remote_tag.as_deref());
        let mut b = RequestBuilder::new(r.method, uri)
            .via(ViaSpec {
                transport: self.transport.via(),
                sent_by: &r.local.sent_by,
                branch: r.branch,
                rport: true,
            })
            .max_forwards(r.max_forwards)
            .from(&self.local_uri, &self.local_tag)
            .to(&self.remote_uri, to_tag)
            .call_id(&self.call_id)
            .cseq(r.cseq);
        if !matches!(r.method, Method::Cancel | Method::Ack | Method::Bye) {
            b = b.contact(&r.local.contact);
        }
        if r.method != Method::Cancel {
            for route in &self.route_set {
                b = b.header("Route", route.as_bytes());
            }
        }
        if let Some((name, value)) = r.auth {
            b = b.header(name, value.as_bytes());
        }
        for (name, value) in r.headers {
            b = b.header(name, value.as_bytes());
        }
        if let Some((content_type, body)) = r.body {
            b = b.body(content_type, body);
        }
        let mut out = Vec::with_capacity(512 + r.body.map_or(0, |b| b.1.len()));
        b.write_to(&mut out)?;
        Ok(out)
    }
}

/// A BYE we sent: its branch, where it went, its transaction.
pub type OutgoingBye = (String, SocketAddr, NonInviteClient);

/// Moves what a BYE's transaction wants to send into `out`.
pub fn transmit_bye(bye: &mut Option<OutgoingBye>, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
    if let Some((_, to, tx)) = bye {
        while let Some(b) = tx.poll_transmit() {
            out.push_back((*to, b.to_vec()));
        }
    }
}

/// The parts of one request built by [`Dialog::request`].
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: Method<'a>,
    /// The `CSeq` number.
    pub cseq: u32,
    /// The Via branch.
    pub branch: &'a str,
    /// Our address.
    pub local: &'a Local,
    /// Max-Forwards.
    pub max_forwards: u8,
    /// The Request-URI, if not the remote target.
    pub uri: Option<&'a str>,
    /// The To tag, if not the remote tag.
    pub to_tag: Option<&'a str>,
    /// Content-Type and body.
    pub body: Option<(&'a str, &'a [u8])>,
    /// A credentials header (`Authorization` or `Proxy-Authorization`) and its value.
    pub auth: Option<(&'a str, &'a str)>,
    /// More headers, in order.
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Request<'a> {
    /// A request without body, to the remote target, Max-Forwards 70.
    pub fn new(method: Method<'a>, cseq: u32, branch: &'a str, local: &'a Local) -> Self {
        Self {
            method,
            cseq,
            branch,
            local,
            max_forwards: MAX_FORWARDS,
            uri: None,
            to_tag: None,
            body: None,
            auth: None,
            headers: &[],
        }
    }
}

/// The body of a message with its Content-Type, if it has a body.
pub fn body_of<'m>(msg: &Message<'m>) -> Option<(&'m str, &'m [u8])> {
    if msg.body().is_empty() {
        return None;
    }
    let content_type = msg
        .header("Content-Type")
        .and_then(|h| std::str::from_utf8(h.value()).ok())
        .unwrap_or("application/sdp");
    Some((content_type, msg.body()))
}

/// Whether `msg`'s `Allow` lists `method`; true without an `Allow` (RFC 3261 20.5: its
/// absence says nothing).
pub fn allows(msg: &Message<'_>, method: &str) -> bool {
    let mut allow = msg.headers_named("Allow").peekable();
    if allow.peek().is_none() {
        return true;
    }
    allow
        .filter_map(dcx_sip::Header::value_str)
        .flat_map(|v| v.split(','))
        .any(|m| m.trim().eq_ignore_ascii_case(method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_branches_and_tags() {
        let mut ids = Ids::new(0xdead_beef_0123_4567, 1);
        let b = ids.branch();
        assert!(b.starts_with("z9hG4bKdeadbeef01234567."));
        assert_eq!(token_of_branch(&b), Some(0xdead_beef_0123_4567));
        assert_eq!(token_of_tag(&ids.origin_tag()), Some(0xdead_beef_0123_4567));
        assert_eq!(
            token_of_tag(&ids.carrier_tag()),
            Some(0xdead_beef_0123_4567)
        );
        assert_eq!(token_of_branch("z9hG4bK-sipp-1-2"), None);
        assert_eq!(token_of_tag("1234"), None);
        assert_ne!(ids.branch(), b);
    }

    #[test]
    fn next_hop_prefers_route_then_target_then_fallback() {
        let mut d = Dialog {
            call_id: "c".into(),
            local_tag: "l".into(),
            remote_tag: Some("r".into()),
            local_uri: "<sip:a@h>".into(),
            remote_uri: "<sip:b@h>".into(),
            remote_target: "sip:b@192.0.2.1:5070".into(),
            route_set: vec![],
            local_cseq: 1,
            fallback: "192.0.2.9:5060".parse().unwrap(),
            transport: Transport::Udp,
            flow: None,
        };
        assert_eq!(d.next_hop(), "192.0.2.1:5070".parse().unwrap());
        d.route_set = vec!["<sip:192.0.2.2;lr>".into()];
        assert_eq!(d.next_hop(), "192.0.2.2:5060".parse().unwrap());
        d.route_set = vec!["<sip:proxy.example;lr>".into()];
        assert_eq!(d.next_hop(), d.fallback);
        d.flow = Some("192.0.2.7:40000".parse().unwrap());
        assert_eq!(
            d.next_hop(),
            d.flow.unwrap(),
            "a TCP peer's own connection first"
        );
    }
}
