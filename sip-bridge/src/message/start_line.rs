//! The first line of a message: a Request-Line or a Status-Line (RFC 3261 7.1, 7.2).
//!
//! Parsing is strict about separators (exactly one SP between elements, no trailing
//! whitespace: RFC 4475 `lwsstart`, `trws`, `lwsruri`) and lenient about content (any
//! method token, any URI scheme, any reason phrase bytes).

use crate::error::SipError;
use crate::syntax::is_token_char;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A SIP method: the RFC 3261 ones and common extensions by name, any other token kept
/// as written. Methods are case-sensitive; equality compares the text.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Method<'a> {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// PRACK (RFC 3262)
    Prack,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// INFO (RFC 6086)
    Info,
    /// REFER (RFC 3515)
    Refer,
    /// MESSAGE (RFC 3428)
    Message,
    /// UPDATE (RFC 3311)
    Update,
    /// Any other method token, as written.
    Extension(&'a str),
}

impl<'a> Method<'a> {
    /// Classifies a method token (the caller has checked it is a token).
    pub fn from_token(token: &'a str) -> Self {
        match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "REGISTER" => Self::Register,
            "PRACK" => Self::Prack,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "PUBLISH" => Self::Publish,
            "INFO" => Self::Info,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            "UPDATE" => Self::Update,
            other => Self::Extension(other),
        }
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &'a str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Register => "REGISTER",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Publish => "PUBLISH",
            Self::Info => "INFO",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Update => "UPDATE",
            Self::Extension(s) => s,
        }
    }
}

impl PartialEq for Method<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Method<'_> {}

impl Hash for Method<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP-Version, `SIP/<major>.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl Version {
    /// SIP/2.0, the only version this layer acts on.
    pub const SIP_2_0: Self = Self { major: 2, minor: 0 };

    /// Parses `SIP/1*DIGIT.1*DIGIT` ("SIP" in any case).
    pub fn parse(s: &[u8]) -> Result<Self, SipError> {
        let rest = match s {
            [a, b, c, b'/', rest @ ..] if [*a, *b, *c].eq_ignore_ascii_case(b"SIP") => rest,
            _ => return Err(SipError::BadVersion),
        };
        let dot = rest
            .iter()
            .position(|&b| b == b'.')
            .ok_or(SipError::BadVersion)?;
        let number = |d: &[u8]| {
            std::str::from_utf8(d)
                .ok()
                .and_then(crate::syntax::parse_u32)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or(SipError::BadVersion)
        };
        Ok(Self {
            major: number(&rest[..dot])?,
            minor: number(&rest[dot + 1..])?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}.{}", self.major, self.minor)
    }
}

/// `Method SP Request-URI SP SIP-Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// The method.
    pub method: Method<'a>,
    /// The Request-URI as written (parse it with [`crate::uri::Uri::parse`]).
    pub uri: &'a str,
    /// The SIP-Version.
    pub version: Version,
}

/// `SIP-Version SP Status-Code SP Reason-Phrase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// The SIP-Version.
    pub version: Version,
    /// The status code, 100-699.
    pub code: u16,
    /// The reason phrase bytes, verbatim (UTF-8 is allowed; nothing is decoded).
    pub reason: &'a [u8],
}

/// The start line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// A request.
    Request(RequestLine<'a>),
    /// A response.
    Response(StatusLine<'a>),
}

impl<'a> StartLine<'a> {
    /// Parses a start line (without its line end).
    pub fn parse(line: &'a [u8]) -> Result<Self, SipError> {
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
            parse_status_line(line).map(StartLine::Response)
        } else {
            parse_request_line(line).map(StartLine::Request)
        }
    }
}

fn parse_status_line(line: &[u8]) -> Result<StatusLine<'_>, SipError> {
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(SipError::StartLine {
            reason: "status line has no status code",
        })?;
    let version = Version::parse(&line[..sp])?;
    let rest = &line[sp + 1..];
    let code = match rest {
        [a, b, c, tail @ ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && (tail.is_empty() || tail[0] == b' ') =>
        {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(SipError::BadStatusCode),
    };
    if !(100..=699).contains(&code) {
        return Err(SipError::BadStatusCode);
    }
    // "SIP/2.0 100" without SP and reason is accepted leniently as an empty reason.
    let reason = rest.get(4..).unwrap_or_default();
    Ok(StatusLine {
        version,
        code,
        reason,
    })
}

fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, SipError> {
    const SHAPE: &str = "request line must be Method SP Request-URI SP SIP-Version";
    let first = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(SipError::StartLine { reason: SHAPE })?;
    let last = line
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or(SipError::StartLine { reason: SHAPE })?;
    if last == first {
        return Err(SipError::StartLine { reason: SHAPE });
    }
    let method = &line[..first];
    if method.is_empty() || !method.iter().all(|&b| is_token_char(b)) {
        return Err(SipError::StartLine {
            reason: "method is not a token",
        });
    }
    let version = Version::parse(&line[last + 1..])?;
    let uri = &line[first + 1..last];
    check_request_uri(uri)?;
    // Both are ASCII by the checks above.
    let method = std::str::from_utf8(method).map_err(|_| SipError::StartLine { reason: SHAPE })?;
    let uri = std::str::from_utf8(uri).map_err(|_| SipError::BadRequestUri {
        reason: "not ASCII",
    })?;
    Ok(RequestLine {
        method: Method::from_token(method),
        uri,
        version,
    })
}

/// The Request-URI must be `scheme ":" 1*visible-char`, with no whitespace.
fn check_request_uri(uri: &[u8]) -> Result<(), SipError> {
    if uri.is_empty() {
        return Err(SipError::BadRequestUri { reason: "empty" });
    }
    if let Some(&b) = uri.iter().find(|&&b| !(0x21..0x7f).contains(&b)) {
        return Err(SipError::BadRequestUri {
            reason: if b == b' ' || b == b'\t' {
                "contains whitespace"
            } else {
                "contains a control or non-ASCII byte"
            },
        });
    }
    if crate::uri::split_scheme(uri).is_none() {
        return Err(SipError::BadRequestUri {
            reason: "not an absolute URI (scheme \":\" ...)",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let StartLine::Request(r) = StartLine::parse(b"FOO.bar sip:a@b SIP/2.0").unwrap() else {
            panic!("not a request")
        };
        assert_eq!(r.method, Method::Extension("FOO.bar"));
        assert_eq!(r.uri, "sip:a@b");
        assert_eq!(r.version, Version::SIP_2_0);
        for bad in [
            &b"INVITE  sip:a@b SIP/2.0"[..],
            b"INVITE sip:a@b SIP/2.0 ",
            b"INVITE sip:a@b",
            b"INVITE <sip:a@b> SIP/2.0",
            b"INVITE sip:a@b; lr SIP/2.0",
            b"IN(VITE sip:a@b SIP/2.0",
        ] {
            assert!(
                StartLine::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            StartLine::parse(b"OPTIONS sip:a SIP/7.0").map(|s| match s {
                StartLine::Request(r) => r.version.major,
                StartLine::Response(_) => 0,
            }),
            Ok(7)
        );
    }

    #[test]
    fn status_lines() {
        let StartLine::Response(s) = StartLine::parse(b"SIP/2.0 100 ").unwrap() else {
            panic!("not a response")
        };
        assert_eq!((s.code, s.reason), (100, &b""[..]));
        for bad in [
            &b"SIP/2.0 4294967301 x"[..],
            b"SIP/2.0 099 x",
            b"SIP/2.0 700 x",
            b"SIP/2 200 OK",
        ] {
            assert!(StartLine::parse(bad).is_err());
        }
        assert_eq!(Method::Invite, Method::Extension("INVITE"));
    }
}
