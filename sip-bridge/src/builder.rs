//! Builds correct, minimal requests and responses into a `Vec<u8>`.
//!
//! Randomness is injected: the caller supplies branch, tags and Call-ID (sans-IO). Every
//! input is checked before a byte is written, so a display name or reason phrase from a
//! browser cannot inject a header (no CR/LF anywhere, tokens where the grammar wants
//! them). Content-Length is always written, computed from the body.
//! [`response_to`] copies what RFC 3261 8.2.6.2 says a response copies from its request.

use crate::error::SipError;
use crate::headers::{NameAddr, MAGIC_COOKIE};
use crate::message::{HeaderName, Message, Method};
use crate::syntax::{is_token, is_word_char, unfold};
use crate::uri::Uri;
use std::borrow::Cow;

/// The top Via a request is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaSpec<'b> {
    /// Transport token: `UDP`, `TCP`, `TLS`, `WS`, ...
    pub transport: &'b str,
    /// `host[:port]` this element listens on.
    pub sent_by: &'b str,
    /// The branch, starting with `z9hG4bK`.
    pub branch: &'b str,
    /// Add `;rport` (RFC 3581).
    pub rport: bool,
}

/// A request to write: set the parts, then [`RequestBuilder::write_to`].
#[derive(Debug, Clone)]
pub struct RequestBuilder<'b> {
    method: Method<'b>,
    uri: &'b str,
    via: Option<ViaSpec<'b>>,
    max_forwards: u8,
    from: Option<(&'b str, &'b str)>,
    to: Option<(&'b str, Option<&'b str>)>,
    call_id: Option<&'b str>,
    cseq: Option<u32>,
    contact: Option<&'b str>,
    extra: Vec<(&'b str, &'b [u8])>,
    body: Option<(&'b str, &'b [u8])>,
}

impl<'b> RequestBuilder<'b> {
    /// A request for `method` to `uri`, with Max-Forwards 70.
    pub fn new(method: Method<'b>, uri: &'b str) -> Self {
        Self {
            method,
            uri,
            via: None,
            max_forwards: 70,
            from: None,
            to: None,
            call_id: None,
            cseq: None,
            contact: None,
            extra: Vec::new(),
            body: None,
        }
    }

    /// The top Via (required).
    #[must_use]
    pub fn via(mut self, via: ViaSpec<'b>) -> Self {
        self.via = Some(via);
        self
    }

    /// Max-Forwards (default 70).
    #[must_use]
    pub fn max_forwards(mut self, hops: u8) -> Self {
        self.max_forwards = hops;
        self
    }

    /// From: a URI or a name-addr (`"Alice" <sip:a@x>`), and our tag (required).
    #[must_use]
    pub fn from(mut self, address: &'b str, tag: &'b str) -> Self {
        self.from = Some((address, tag));
        self
    }

    /// To: a URI or a name-addr, and the remote tag inside a dialog (required).
    #[must_use]
    pub fn to(mut self, address: &'b str, tag: Option<&'b str>) -> Self {
        self.to = Some((address, tag));
        self
    }

    /// Call-ID (required).
    #[must_use]
    pub fn call_id(mut self, call_id: &'b str) -> Self {
        self.call_id = Some(call_id);
        self
    }

    /// CSeq number (required); the method is the request's.
    #[must_use]
    pub fn cseq(mut self, seq: u32) -> Self {
        self.cseq = Some(seq);
        self
    }

    /// Contact: a URI or name-addr (required for INVITE).
    #[must_use]
    pub fn contact(mut self, contact: &'b str) -> Self {
        self.contact = Some(contact);
        self
    }

    /// Any other header, written after the standard ones in the order added.
    #[must_use]
    pub fn header(mut self, name: &'b str, value: &'b [u8]) -> Self {
        self.extra.push((name, value));
        self
    }

    /// The body and its Content-Type.
    #[must_use]
    pub fn body(mut self, content_type: &'b str, body: &'b [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    /// Checks the parts and appends the message to `out` (nothing is appended on error).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), SipError> {
        let missing = |what| SipError::Build {
            what,
            reason: "required but not set",
        };
        let via = self.via.ok_or(missing("Via"))?;
        let (from, from_tag) = self.from.ok_or(missing("From"))?;
        let (to, to_tag) = self.to.ok_or(missing("To"))?;
        let call_id = self.call_id.ok_or(missing("Call-ID"))?;
        let cseq = self.cseq.ok_or(missing("CSeq"))?;
        if !is_token(self.method.as_str()) {
            return Err(build("method", "not a token"));
        }
        Uri::parse(self.uri).map_err(|_| build("Request-URI", "not a valid absolute URI"))?;
        check_via(&via)?;
        check_tag("From tag", from_tag)?;
        if let Some(tag) = to_tag {
            check_tag("To tag", tag)?;
        }
        check_call_id(call_id)?;
        if self.method == Method::Invite && self.contact.is_none() {
            return Err(missing("Contact"));
        }
        let from = address("From", from)?;
        let to = address("To", to)?;
        let contact = self.contact.map(|c| address("Contact", c)).transpose()?;
        check_extra(&self.extra)?;
        if let Some((ct, _)) = self.body {
            check_content_type(ct)?;
        }

        let method = self.method.as_str();
        let mut w = Writer(out);
        w.line(&[method.as_bytes(), b" ", self.uri.as_bytes(), b" SIP/2.0"]);
        w.line(&[
            b"Via: SIP/2.0/",
            via.transport.as_bytes(),
            b" ",
            via.sent_by.as_bytes(),
            b";branch=",
            via.branch.as_bytes(),
            if via.rport { b";rport" } else { b"" },
        ]);
        w.line(&[b"Max-Forwards: ", self.max_forwards.to_string().as_bytes()]);
        w.line(&[
            b"To: ",
            to.as_bytes(),
            tag_param(to_tag),
            to_tag.unwrap_or("").as_bytes(),
        ]);
        w.line(&[b"From: ", from.as_bytes(), b";tag=", from_tag.as_bytes()]);
        w.line(&[b"Call-ID: ", call_id.as_bytes()]);
        w.line(&[
            b"CSeq: ",
            cseq.to_string().as_bytes(),
            b" ",
            method.as_bytes(),
        ]);
        if let Some(contact) = contact {
            w.line(&[b"Contact: ", contact.as_bytes()]);
        }
        w.tail(&self.extra, self.body);
        Ok(())
    }
}

/// A response to write: status line, headers, body.
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'b> {
    code: u16,
    reason: &'b [u8],
    headers: Vec<(&'b str, Cow<'b, [u8]>)>,
    extra: Vec<(&'b str, &'b [u8])>,
    body: Option<(&'b str, &'b [u8])>,
}

impl<'b> ResponseBuilder<'b> {
    /// A response with `code` (100-699) and `reason` (bytes passed through verbatim).
    pub fn new(code: u16, reason: &'b [u8]) -> Self {
        Self {
            code,
            reason,
            headers: Vec::new(),
            extra: Vec::new(),
            body: None,
        }
    }

    /// Any header, written in the order added.
    #[must_use]
    pub fn header(mut self, name: &'b str, value: &'b [u8]) -> Self {
        self.extra.push((name, value));
        self
    }

    /// Contact (a URI or name-addr), as a 2xx to INVITE needs; checked like the request
    /// builder's.
    pub fn contact(mut self, contact: &'b str) -> Result<Self, SipError> {
        let value = match address("Contact", contact)? {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        self.headers.push(("Contact", value));
        Ok(self)
    }

    /// The body and its Content-Type.
    #[must_use]
    pub fn body(mut self, content_type: &'b str, body: &'b [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    /// Checks the parts and appends the message to `out` (nothing is appended on error).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), SipError> {
        if !(100..=699).contains(&self.code) {
            return Err(build("status code", "not in 100-699"));
        }
        if self.reason.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(build("reason phrase", "contains CR or LF"));
        }
        check_extra(&self.extra)?;
        if let Some((ct, _)) = self.body {
            check_content_type(ct)?;
        }
        let mut w = Writer(out);
        w.line(&[
            b"SIP/2.0 ",
            self.code.to_string().as_bytes(),
            b" ",
            self.reason,
        ]);
        for (name, value) in &self.headers {
            w.line(&[name.as_bytes(), b": ", value]);
        }
        w.tail(&self.extra, self.body);
        Ok(())
    }
}

/// Starts a response to `request` (RFC 3261 8.2.6.2): copies every Via value in order,
/// From, To, Call-ID and CSeq (unfolded, under their full names), and Timestamp for a
/// 100. If `to_tag` is given and the request's To has no tag, `;tag=<to_tag>` is added
/// (pass `None` for a 100 Trying or a stateless error that needs none).
///
/// It copies what the request has, so it also answers requests that failed
/// [`crate::validate::request`]: a request missing From (RFC 4475 `insuf`) gets a 400
/// without From, which is the best that can be done. Fails only on a response or a bad
/// `to_tag`.
pub fn response_to<'b>(
    request: &Message<'b>,
    code: u16,
    reason: &'b [u8],
    to_tag: Option<&'b str>,
) -> Result<ResponseBuilder<'b>, SipError> {
    if !request.is_request() {
        return Err(SipError::WrongKind {
            expected: "request",
        });
    }
    if let Some(tag) = to_tag {
        check_tag("To tag", tag)?;
    }
    let mut r = ResponseBuilder::new(code, reason);
    for h in request.headers_of(HeaderName::Via) {
        r.headers.push(("Via", unfold(h.value())));
    }
    let mut copy = |kind: HeaderName| {
        if let Some(h) = request.headers_of(kind).next() {
            let mut value = unfold(h.value());
            if kind == HeaderName::To {
                let has_tag = request.to().ok().is_some_and(|t| t.tag().is_some());
                if let (Some(tag), false) = (to_tag, has_tag) {
                    let v = value.to_mut();
                    v.extend_from_slice(b";tag=");
                    v.extend_from_slice(tag.as_bytes());
                }
            }
            r.headers.push((kind.canonical(), value));
        }
    };
    copy(HeaderName::From);
    copy(HeaderName::To);
    copy(HeaderName::CallId);
    copy(HeaderName::CSeq);
    if code == 100 {
        copy(HeaderName::Timestamp);
    }
    Ok(r)
}

/// The RFC 3261 reason phrase for `code` (its class's phrase if the code is not listed).
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        _ => match code / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

const fn build(what: &'static str, reason: &'static str) -> SipError {
    SipError::Build { what, reason }
}

fn tag_param(tag: Option<&str>) -> &'static [u8] {
    if tag.is_some() {
        b";tag="
    } else {
        b""
    }
}

fn check_via(via: &ViaSpec<'_>) -> Result<(), SipError> {
    if !is_token(via.transport) {
        return Err(build("Via transport", "not a token"));
    }
    crate::uri::split_host_port(via.sent_by)
        .and_then(|(host, _)| crate::uri::Host::parse(host))
        .map_err(|_| build("Via sent-by", "not host[:port]"))?;
    if !via.branch.starts_with(MAGIC_COOKIE) || !is_token(via.branch) {
        return Err(build("Via branch", "must be a token starting with z9hG4bK"));
    }
    Ok(())
}

fn check_tag(what: &'static str, tag: &str) -> Result<(), SipError> {
    if is_token(tag) {
        Ok(())
    } else {
        Err(build(what, "not a token"))
    }
}

fn check_call_id(call_id: &str) -> Result<(), SipError> {
    let (l, r) = call_id
        .split_once('@')
        .map_or((call_id, None), |(l, r)| (l, Some(r)));
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word_char);
    if word(l) && r.is_none_or(word) {
        Ok(())
    } else {
        Err(build("Call-ID", "not word [\"@\" word]"))
    }
}

/// A From/To/Contact value: a bare URI is wrapped in `<>` so its parameters stay URI
/// parameters; a name-addr must parse and carry no tag (tags are set separately).
fn address<'s>(what: &'static str, s: &'s str) -> Result<Cow<'s, str>, SipError> {
    if s.contains('<') {
        let a = NameAddr::parse(s, "address").map_err(|_| build(what, "not a valid name-addr"))?;
        a.uri().map_err(|_| build(what, "URI is not valid"))?;
        if a.tag().is_some() {
            return Err(build(
                what,
                "put the tag in the tag argument, not the address",
            ));
        }
        if s.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(build(what, "contains CR or LF"));
        }
        Ok(Cow::Borrowed(s))
    } else {
        Uri::parse(s).map_err(|_| build(what, "not a valid URI"))?;
        Ok(Cow::Owned(format!("<{s}>")))
    }
}

fn check_extra(extra: &[(&str, &[u8])]) -> Result<(), SipError> {
    for (name, value) in extra {
        if !is_token(name) {
            return Err(build("header name", "not a token"));
        }
        if matches!(
            HeaderName::from_name(name.as_bytes()),
            HeaderName::ContentLength | HeaderName::ContentType
        ) {
            return Err(build(
                "header",
                "Content-Length and Content-Type come from body()",
            ));
        }
        if value.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(build("header value", "contains CR or LF"));
        }
    }
    Ok(())
}

fn check_content_type(ct: &str) -> Result<(), SipError> {
    crate::headers::MediaType::parse(ct, "Content-Type")
        .map(drop)
        .map_err(|_| build("Content-Type", "not type/subtype[;params]"))?;
    if ct.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(build("Content-Type", "contains CR or LF"));
    }
    Ok(())
}

struct Writer<'o>(&'o mut Vec<u8>);

impl Writer<'_> {
    fn line(&mut self, parts: &[&[u8]]) {
        for p in parts {
            self.0.extend_from_slice(p);
        }
        self.0.extend_from_slice(b"\r\n");
    }

    fn tail(&mut self, extra: &[(&str, &[u8])], body: Option<(&str, &[u8])>) {
        for (name, value) in extra {
            self.line(&[name.as_bytes(), b": ", value]);
        }
        let body = body.unwrap_or(("", b""));
        if !body.0.is_empty() {
            self.line(&[b"Content-Type: ", body.0.as_bytes()]);
        }
        self.line(&[b"Content-Length: ", body.1.len().to_string().as_bytes()]);
        self.0.extend_from_slice(b"\r\n");
        self.0.extend_from_slice(body.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> RequestBuilder<'static> {
        RequestBuilder::new(
            Method::Invite,
            "sip:+15551234567@carrier.example;user=phone",
        )
        .via(ViaSpec {
            transport: "UDP",
            sent_by: "192.0.2.10:5060",
            branch: "z9hG4bKabc",
            rport: true,
        })
        .from("\"Alice\" <sip:alice@dcx.example>", "f1")
        .to("sip:+15551234567@carrier.example;user=phone", None)
        .call_id("c1@dcx.example")
        .cseq(1)
        .contact("sip:dcx@192.0.2.10:5060")
        .body("application/sdp", b"v=0\r\n")
    }

    #[test]
    fn writes_a_minimal_invite() {
        let mut out = Vec::new();
        invite().write_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("INVITE sip:+15551234567@carrier.example;user=phone SIP/2.0\r\n"));
        assert!(text.contains("\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc;rport\r\n"));
        assert!(text.contains("\r\nTo: <sip:+15551234567@carrier.example;user=phone>\r\n"));
        assert!(text.contains("\r\nMax-Forwards: 70\r\n"));
        assert!(text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"));
    }

    #[test]
    fn response_to_copies_transaction_identifiers() {
        let mut req = Vec::new();
        invite()
            .header("Timestamp", b"54")
            .write_to(&mut req)
            .unwrap();
        let req = Message::parse_datagram(&req).unwrap();
        let mut out = Vec::new();
        response_to(&req, 200, b"OK", Some("b2"))
            .unwrap()
            .contact("sip:dcx@192.0.2.10")
            .unwrap()
            .body("application/sdp", b"v=0\r\n")
            .write_to(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let want = "SIP/2.0 200 OK\r\n\
            Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc;rport\r\n\
            From: \"Alice\" <sip:alice@dcx.example>;tag=f1\r\n\
            To: <sip:+15551234567@carrier.example;user=phone>;tag=b2\r\n\
            Call-ID: c1@dcx.example\r\nCSeq: 1 INVITE\r\nContact: <sip:dcx@192.0.2.10>\r\n\
            Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n";
        assert_eq!(text, want);
        let mut trying = Vec::new();
        response_to(&req, 100, b"Trying", None)
            .unwrap()
            .write_to(&mut trying)
            .unwrap();
        let trying = Message::parse_datagram(&trying).unwrap();
        assert_eq!(trying.header("Timestamp").unwrap().value(), b"54");
        assert_eq!(trying.to().unwrap().tag(), None);
    }

    #[test]
    fn rejects_injection_and_missing_parts() {
        let mut out = Vec::new();
        assert!(invite()
            .header("X-A", b"1\r\nVia: evil")
            .write_to(&mut out)
            .is_err());
        assert!(invite()
            .from("\"A\r\nB\" <sip:a@b>", "t")
            .write_to(&mut out)
            .is_err());
        assert!(invite().call_id("a b").write_to(&mut out).is_err());
        assert!(RequestBuilder::new(Method::Invite, "sip:a@b")
            .write_to(&mut out)
            .is_err());
        assert!(ResponseBuilder::new(200, b"OK\r\nX: y")
            .write_to(&mut out)
            .is_err());
        assert!(out.is_empty());
    }
}
