//! `sip:` and `sips:` URIs (RFC 3261 19.1.1, 25.1):
//! `sip:[user[:password]@]host[:port][;params][?headers]`.
//!
//! The user part may hold `;`, `?`, `/` and `,` (RFC 4475 `semiuri`, `intmeth`), so the
//! userinfo is everything before the first `@`; host, params and headers follow it.

use super::Host;
use crate::error::{bad_uri, SipError};
use crate::params::{is_unreserved, is_uri_chars, Params};

/// A `sip:` or `sips:` URI, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    pub(super) raw: &'a str,
    /// `true` for `sips:`.
    pub secure: bool,
    /// The user part, escapes kept (`sips%3Auser%40example.com`).
    pub user: Option<&'a str>,
    /// The password, escapes kept.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The host as written.
    pub host_raw: &'a str,
    /// The port, if given.
    pub port: Option<u16>,
    /// URI parameters (`transport`, `lr`, `maddr`, `user`, ...), escapes kept.
    pub params: Params<'a>,
    /// The headers after `?`, raw (`Route=%3Csip:example.com%3E`), if any.
    pub headers: Option<&'a str>,
}

impl<'a> SipUri<'a> {
    /// Parses a `sip:`/`sips:` URI.
    pub fn parse(s: &'a str) -> Result<Self, SipError> {
        match super::Uri::parse(s)? {
            super::Uri::Sip(u) => Ok(u),
            _ => Err(bad_uri("not a sip: or sips: URI")),
        }
    }

    pub(super) fn parse_parts(raw: &'a str, secure: bool, rest: &'a str) -> Result<Self, SipError> {
        let (userinfo, hostpart) = match rest.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, password) = u.split_once(':').map_or((u, None), |(a, b)| (a, Some(b)));
                if user.is_empty() || !is_uri_chars(user, is_user_char) {
                    return Err(bad_uri("user part is empty or has a forbidden character"));
                }
                if password.is_some_and(|p| !is_uri_chars(p, is_password_char)) {
                    return Err(bad_uri("password has a forbidden character"));
                }
                (Some(user), password)
            }
        };
        let (hostpart, headers) = match hostpart.split_once('?') {
            Some((h, hdrs)) => (h, Some(hdrs)),
            None => (hostpart, None),
        };
        if let Some(h) = headers {
            check_headers(h)?;
        }
        let (hostport, params) = match hostpart.split_once(';') {
            Some((hp, p)) => (hp, Params::parse_uri(p).map_err(bad_uri)?),
            None => (hostpart, Params::NONE),
        };
        let (host_raw, port) = split_host_port(hostport)?;
        Ok(Self {
            raw,
            secure,
            user,
            password,
            host: Host::parse(host_raw)?,
            host_raw,
            port,
            params,
            headers,
        })
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The `transport` parameter, if any.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// Whether the URI has the `lr` parameter (a loose router, RFC 3261 16.12).
    pub fn is_loose_router(&self) -> bool {
        self.params.contains("lr")
    }
}

/// Splits `host [":" port]`, with `[IPv6]` hosts.
pub(crate) fn split_host_port(s: &str) -> Result<(&str, Option<u16>), SipError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(bad_uri("IPv6 reference lacks ']'"))?;
        let (host, after) = s.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or(bad_uri("unexpected text after IPv6 reference"))?,
                ),
            ),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            crate::syntax::parse_u32(p)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or(bad_uri("port is not a number in 0-65535"))?,
        ),
    };
    Ok((host, port))
}

/// `user = 1*( unreserved / escaped / user-unreserved )`, user-unreserved = `&=+$,;?/`.
fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`.
fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `hnv-unreserved / unreserved` for header names and values.
fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// `headers = header *( "&" header )`, `header = hname "=" hvalue`.
fn check_headers(s: &str) -> Result<(), SipError> {
    for h in s.split('&') {
        let (name, value) = h.split_once('=').ok_or(bad_uri("URI header lacks '='"))?;
        if name.is_empty()
            || !is_uri_chars(name, is_header_char)
            || !is_uri_chars(value, is_header_char)
        {
            return Err(bad_uri("URI header has a forbidden character"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn escapes_stay_in_the_user_part() {
        let u = SipUri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(u.user, Some("sips%3Auser%40example.com"));
        assert_eq!(u.host, Host::Domain("example.net"));
        let u = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some("user;par=u%40example.net"));
    }

    #[test]
    fn full_uri() {
        let u =
            SipUri::parse("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X=y")
                .unwrap();
        assert!(u.secure);
        assert_eq!(u.password, Some("secret"));
        assert_eq!(
            u.host,
            Host::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        );
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.is_loose_router());
        assert_eq!(u.headers, Some("Subject=hi&X=y"));
        let u = SipUri::parse("sip:[::1]").unwrap();
        assert_eq!((u.host_raw, u.port), ("[::1]", None));
    }

    #[test]
    fn rejects() {
        for bad in [
            "sip:@h",
            "sip:u@",
            "sip:u@h:99999",
            "sip:u@h;",
            "sip:u@h?x",
            "sip:u@[::1",
            "sip:u@h:",
            "sip:u%zz@h",
            "sip:u@h b",
        ] {
            assert!(SipUri::parse(bad).is_err(), "{bad}");
        }
    }
}
