//! URIs as SIP carries them: `sip:`/`sips:` (RFC 3261 19.1), `tel:` (RFC 3966) and any
//! other absolute URI, kept opaque (RFC 4475 `unkscm`, `novelsc`, `unksm2`).
//!
//! Parsing checks the grammar and borrows every part from the input; `%HH` escapes are
//! validated but never decoded into structure (RFC 4475 `esc01`, `escnull`): an escaped
//! `@` in a user part stays in the user part. [`percent_decode`] decodes on request.

mod sip;

pub(crate) use sip::split_host_port;
pub use sip::SipUri;

use crate::error::{bad_uri, SipError};
use crate::params::Params;
use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque.
    Other(AbsoluteUri<'a>),
}

impl<'a> Uri<'a> {
    /// Parses an absolute URI.
    pub fn parse(s: &'a str) -> Result<Self, SipError> {
        let (scheme, rest) = split_scheme(s.as_bytes()).ok_or(bad_uri("no scheme"))?;
        let scheme = &s[..scheme.len()];
        let rest = &s[s.len() - rest.len()..];
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_parts(s, scheme.len() == 4, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_parts(s, rest).map(Uri::Tel)
        } else {
            if rest.is_empty()
                || !rest
                    .bytes()
                    .all(|b| (0x21..0x7f).contains(&b) && b != b'<' && b != b'>' && b != b'"')
            {
                return Err(bad_uri("opaque part is empty or has a forbidden character"));
            }
            Ok(Uri::Other(AbsoluteUri {
                raw: s,
                scheme,
                rest,
            }))
        }
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) => {
                if u.secure {
                    &u.raw[..4]
                } else {
                    &u.raw[..3]
                }
            }
            Uri::Tel(u) => &u.raw[..3],
            Uri::Other(u) => u.scheme,
        }
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.raw,
            Uri::Tel(u) => u.raw,
            Uri::Other(u) => u.raw,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `scheme ":" rest`, scheme = `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(crate) fn split_scheme(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = s.iter().position(|&b| b == b':')?;
    let scheme = &s[..colon];
    let ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    ok.then(|| (scheme, &s[colon + 1..]))
}

/// A URI of a scheme this layer does not interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    /// The whole URI.
    pub raw: &'a str,
    /// The scheme, as written.
    pub scheme: &'a str,
    /// Everything after the colon.
    pub rest: &'a str,
}

/// A `tel:` URI (RFC 3966): a subscriber number and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    raw: &'a str,
    /// The number as written (visual separators `-`, `.`, `(`, `)` kept).
    pub number: &'a str,
    /// Parameters (`phone-context`, `ext`, ...).
    pub params: Params<'a>,
}

impl<'a> TelUri<'a> {
    fn parse_parts(raw: &'a str, rest: &'a str) -> Result<Self, SipError> {
        let (number, params) = match rest.split_once(';') {
            Some((n, p)) => (n, Params::parse_uri(p).map_err(bad_uri)?),
            None => (rest, Params::NONE),
        };
        let digits = number.strip_prefix('+').unwrap_or(number);
        let ok = digits
            .bytes()
            .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
            && digits.bytes().all(|b| {
                b.is_ascii_hexdigit() || matches!(b, b'*' | b'#' | b'-' | b'.' | b'(' | b')')
            });
        if !ok {
            return Err(bad_uri("tel number has no digits or a forbidden character"));
        }
        Ok(Self {
            raw,
            number,
            params,
        })
    }

    /// Whether the number is global (`+` and a country code).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }
}

/// A host: a domain name, an IPv4 address or an IPv6 reference (`[2001:db8::1]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name, as written.
    Domain(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    V6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Parses a host: `[IPv6]`, dotted IPv4, or a domain of letters, digits, `-`, `_`, `.`.
    pub fn parse(s: &'a str) -> Result<Self, SipError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(bad_uri("IPv6 reference lacks ']'"))?;
            return inner
                .parse()
                .map(Host::V6)
                .map_err(|_| bad_uri("malformed IPv6 address"));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s
                .parse()
                .map(Host::V4)
                .map_err(|_| bad_uri("malformed IPv4 address"));
        }
        let ok = !s.is_empty()
            && !s.starts_with(['.', '-'])
            && !s.contains("..")
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if ok {
            Ok(Host::Domain(s))
        } else {
            Err(bad_uri("malformed host name"))
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Decodes `%HH` escapes; borrows when there are none. Invalid escapes are kept as is.
pub fn percent_decode(text: &str) -> Cow<'_, [u8]> {
    if !text.contains('%') {
        return Cow::Borrowed(text.as_bytes());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|d| char::from(*d).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (other, _, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert!(
            matches!(Uri::parse("tel:+1-201-555-0123;ext=1"), Ok(Uri::Tel(t)) if t.is_global())
        );
        assert!(
            matches!(Uri::parse("soap.beep://192.0.2.103:3002"), Ok(Uri::Other(o)) if o.scheme == "soap.beep")
        );
        assert!(matches!(Uri::parse("SIPS:a@b"), Ok(Uri::Sip(s)) if s.secure));
        assert_eq!(Uri::parse("isbn:2983792873").unwrap().scheme(), "isbn");
        for bad in ["<sip:a@b>", "sip:", "tel:xyz", "x:", "1x:a", "x:a b"] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            Host::parse("[2001:db8::1]"),
            Ok(Host::V6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            Host::parse("255.255.255.255"),
            Ok(Host::V4(Ipv4Addr::BROADCAST))
        );
        assert!(Host::parse("256.1.1.1").is_err());
        assert!(Host::parse("a b").is_err());
        assert_eq!(percent_decode("null-%00-%zz"), &b"null-\0-%zz"[..]);
    }
}
