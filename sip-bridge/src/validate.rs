//! The checks to make after parsing and before acting on a message.
//!
//! [`request`] runs, in this order, the checks a B2BUA (a UAS toward the sender) must
//! make per RFC 3261 8.2 and the RFC 4475 notes, so that the first failure carries the
//! status the RFC asks for: version (505), Request-URI grammar and scheme (400, 416),
//! single-value headers appearing once (400, `multi01`), mandatory headers (400,
//! `insuf`), the grammar of the headers a B2BUA reads (400; CSeq first, as `scalar02`
//! asks), CSeq method (400, `mismatch01/02`), Max-Forwards (483), Require (420),
//! Content-Type (415) and Accept (406). [`response`] checks what a response needs before
//! it is matched to a transaction; a response that fails is dropped, never answered.

use crate::error::SipError;
use crate::message::{HeaderName, Message, Method};
use crate::uri::Uri;

/// What this element supports, for the checks that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'p> {
    /// Option tags we implement; any other tag in Require gets 420.
    pub supported_option_tags: &'p [&'p str],
    /// Request-URI schemes we handle (case-insensitive); others get 416.
    pub uri_schemes: &'p [&'p str],
    /// Body types we accept (`type/subtype`); others get 415. `None`: accept any.
    pub accepted_content_types: Option<&'p [&'p str]>,
    /// The body type we answer an INVITE with (`application/sdp`): if the INVITE's Accept
    /// excludes it, 406. `None`: skip the check.
    pub answer_content_type: Option<&'p str>,
    /// Reject a request without Max-Forwards. Off by default: RFC 2543 peers omit it
    /// (RFC 4475 3.4.1 `inv2543` asks to accept them).
    pub require_max_forwards: bool,
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Self {
            supported_option_tags: &[],
            uri_schemes: &["sip", "sips", "tel"],
            accepted_content_types: None,
            answer_content_type: None,
            require_max_forwards: false,
        }
    }
}

/// Headers that may appear at most once.
const SINGLE: [HeaderName; 9] = [
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::From,
    HeaderName::To,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::Date,
    HeaderName::Expires,
    HeaderName::SessionExpires,
];

/// Checks a request before a B2BUA acts on it. On error, answer with
/// [`SipError::sip_status`] (for 420, put `unsupported` in an `Unsupported` header), except
/// for an ACK, which is never answered.
pub fn request(msg: &Message<'_>, policy: &Policy<'_>) -> Result<(), SipError> {
    let line = msg.request_line().ok_or(SipError::WrongKind {
        expected: "request",
    })?;
    check_version(msg)?;
    let uri = Uri::parse(line.uri)?;
    if let Uri::Sip(sip) = &uri {
        if sip.headers.is_some() {
            return Err(SipError::HeadersInRequestUri);
        }
    }
    if !policy
        .uri_schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(uri.scheme()))
    {
        return Err(SipError::UnsupportedUriScheme {
            scheme: uri.scheme().to_owned(),
        });
    }
    check_common(msg)?;
    if policy.require_max_forwards && msg.single(HeaderName::MaxForwards)?.is_none() {
        return Err(SipError::MissingHeader {
            name: "Max-Forwards",
        });
    }
    let cseq = msg.cseq()?;
    if cseq.method != line.method {
        return Err(SipError::CSeqMethodMismatch);
    }
    if line.method == Method::Register {
        // RFC 3261 10.2: To holds the address-of-record, a SIP or SIPS URI.
        if !matches!(msg.to()?.uri()?, Uri::Sip(_)) {
            return Err(SipError::BadHeader {
                name: "To",
                reason: "a REGISTER's To must be a SIP or SIPS URI",
            });
        }
    }
    // RFC 3261 16.3: OPTIONS with Max-Forwards 0 may be answered by the element itself.
    if msg.max_forwards()? == Some(0) && line.method != Method::Options {
        return Err(SipError::TooManyHops);
    }
    if !matches!(line.method, Method::Ack | Method::Cancel) {
        check_require(msg, policy)?;
    }
    check_body_type(msg, policy)?;
    if line.method == Method::Invite {
        check_accept(msg, policy)?;
    }
    Ok(())
}

/// Checks a response before it is matched to a transaction: version, single-value
/// headers, mandatory headers and their grammar. A failing response is dropped.
pub fn response(msg: &Message<'_>) -> Result<(), SipError> {
    if msg.status_line().is_none() {
        return Err(SipError::WrongKind {
            expected: "response",
        });
    }
    check_version(msg)?;
    check_common(msg)
}

fn check_version(msg: &Message<'_>) -> Result<(), SipError> {
    let v = msg.version();
    if v == crate::message::Version::SIP_2_0 {
        Ok(())
    } else {
        Err(SipError::VersionNotSupported {
            major: v.major,
            minor: v.minor,
        })
    }
}

/// Checks shared by requests and responses.
fn check_common(msg: &Message<'_>) -> Result<(), SipError> {
    for kind in SINGLE {
        msg.single(kind)?;
    }
    for kind in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Via,
    ] {
        if msg.headers_of(kind).next().is_none() {
            return Err(SipError::MissingHeader {
                name: kind.canonical(),
            });
        }
    }
    msg.cseq()?;
    msg.call_id()?;
    msg.from()?.uri()?;
    msg.to()?.uri()?;
    for via in msg.vias() {
        via?;
    }
    if msg.vias().next().is_none() {
        return Err(SipError::MissingHeader { name: "Via" });
    }
    msg.max_forwards()?;
    for contact in msg.contacts() {
        if let crate::headers::Contact::Address(a) = contact? {
            a.uri()?;
        }
    }
    for tags in [
        HeaderName::Require,
        HeaderName::ProxyRequire,
        HeaderName::Supported,
    ] {
        for tag in msg.option_tags(tags) {
            tag?;
        }
    }
    msg.content_type()?;
    msg.session_expires()?;
    msg.date()?;
    if !msg.body().is_empty() && msg.single(HeaderName::ContentType)?.is_none() {
        return Err(SipError::BodyWithoutContentType);
    }
    Ok(())
}

fn check_require(msg: &Message<'_>, policy: &Policy<'_>) -> Result<(), SipError> {
    let mut unsupported = String::new();
    for tag in msg.require() {
        let tag = tag?;
        if !policy
            .supported_option_tags
            .iter()
            .any(|s| s.eq_ignore_ascii_case(tag))
        {
            if !unsupported.is_empty() {
                unsupported.push_str(", ");
            }
            unsupported.push_str(tag);
        }
    }
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(SipError::BadExtension { unsupported })
    }
}

fn check_body_type(msg: &Message<'_>, policy: &Policy<'_>) -> Result<(), SipError> {
    let (Some(accepted), Some(ct)) = (policy.accepted_content_types, msg.content_type()?) else {
        return Ok(());
    };
    if msg.body().is_empty() || accepted.iter().any(|t| ct.is(t)) {
        Ok(())
    } else {
        Err(SipError::UnsupportedMediaType {
            content_type: format!("{}/{}", ct.main, ct.sub),
        })
    }
}

fn check_accept(msg: &Message<'_>, policy: &Policy<'_>) -> Result<(), SipError> {
    let Some(answer) = policy.answer_content_type else {
        return Ok(());
    };
    if msg.headers_of(HeaderName::Accept).next().is_none() {
        return Ok(());
    }
    for range in msg.accepts() {
        if range?.matches(answer) {
            return Ok(());
        }
    }
    Err(SipError::NotAcceptable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(extra: &str) -> Vec<u8> {
        format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n\
             From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n{extra}l: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn check(extra: &str, policy: &Policy<'_>) -> Result<(), SipError> {
        let raw = options(extra);
        request(&Message::parse_datagram(&raw)?, policy)
    }

    #[test]
    fn policy_driven_codes() {
        let p = Policy::default();
        assert_eq!(check("", &p), Ok(()));
        let e = check(
            "Require: 100rel, foo\r\n",
            &Policy {
                supported_option_tags: &["100rel"],
                ..p
            },
        );
        assert_eq!(
            e,
            Err(SipError::BadExtension {
                unsupported: "foo".into()
            })
        );
        assert_eq!(check("Date: Sat, 15 Oct 2005 04:44:56 GMT\r\n", &p), Ok(()));
        assert_eq!(
            check("Date: 15 Oct 2005\r\n", &p).map_err(|e| e.sip_status()),
            Err(400)
        );
        assert_eq!(
            check("To: <sip:e@f>\r\n", &p),
            Err(SipError::DuplicateHeader { name: "To" })
        );
        assert_eq!(
            check(
                "",
                &Policy {
                    require_max_forwards: true,
                    ..p
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn max_forwards_zero() {
        let p = Policy::default();
        let zero = String::from_utf8(options(""))
            .unwrap()
            .replace("Max-Forwards: 70", "Max-Forwards: 0");
        assert_eq!(
            request(&Message::parse_datagram(zero.as_bytes()).unwrap(), &p),
            Ok(())
        );
        let invite = zero.replace("OPTIONS", "INVITE");
        let m = Message::parse_datagram(invite.as_bytes()).unwrap();
        assert_eq!(request(&m, &p), Err(SipError::TooManyHops));
        assert_eq!(SipError::TooManyHops.sip_status(), 483);
        let ack = zero.replace("OPTIONS", "ACK");
        let m = Message::parse_datagram(ack.as_bytes()).unwrap();
        assert_eq!(request(&m, &p), Err(SipError::TooManyHops));
    }
}
