//! One Via value (RFC 3261 20.42, 18.2.1; RFC 3581 `rport`):
//! `protocol-name SLASH protocol-version SLASH transport LWS sent-by *( SEMI via-params )`,
//! whitespace allowed around the slashes and the port colon (RFC 4475 `wsinv`).

use crate::error::{bad_header, SipError};
use crate::params::Params;
use crate::syntax::{is_lws, parse_u32, take_token, trim_lws, trim_lws_start};
use crate::uri::Host;

const VIA: &str = "Via";

/// The branch prefix of RFC 3261 transactions.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, normally `SIP`.
    pub protocol_name: &'a str,
    /// Protocol version, normally `2.0`.
    pub protocol_version: &'a str,
    /// Transport as written (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, or any token).
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by host as written.
    pub host_raw: &'a str,
    /// The sent-by port, if given.
    pub port: Option<u16>,
    /// Via parameters (`branch`, `received`, `rport`, `maddr`, `ttl`, ...).
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (one element of the comma-separated list).
    pub fn parse(s: &'a str) -> Result<Self, SipError> {
        let s = trim_lws(s);
        let (protocol_name, rest) = token(s, "protocol name is not a token")?;
        let rest = slash(rest)?;
        let (protocol_version, rest) = token(rest, "protocol version is not a token")?;
        let rest = slash(rest)?;
        let (transport, rest) = token(rest, "transport is not a token")?;
        if !rest.starts_with(|c: char| c.is_ascii() && is_lws(c as u8)) {
            return Err(bad_header(
                VIA,
                "no whitespace between sent-protocol and sent-by",
            ));
        }
        let rest = trim_lws_start(rest);
        let host_end = if rest.starts_with('[') {
            rest.find(']').map_or(rest.len(), |i| i + 1)
        } else {
            rest.bytes()
                .position(|b| b == b':' || b == b';' || is_lws(b))
                .unwrap_or(rest.len())
        };
        let host_raw = &rest[..host_end];
        let host =
            Host::parse(host_raw).map_err(|_| bad_header(VIA, "sent-by host is malformed"))?;
        let mut rest = trim_lws_start(&rest[host_end..]);
        let mut port = None;
        if let Some(after) = rest.strip_prefix(':') {
            let after = trim_lws_start(after);
            let end = after
                .bytes()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(after.len());
            port = Some(
                parse_u32(&after[..end])
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or(bad_header(VIA, "sent-by port is not a number in 0-65535"))?,
            );
            rest = trim_lws_start(&after[end..]);
        }
        let params = if rest.is_empty() {
            Params::NONE
        } else {
            let raw = rest
                .strip_prefix(';')
                .ok_or(bad_header(VIA, "unexpected text after sent-by"))?;
            Params::parse_header(raw).map_err(|reason| bad_header(VIA, reason))?
        };
        Ok(Self {
            protocol_name,
            protocol_version,
            transport,
            host,
            host_raw,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.params.value("received")
    }

    /// The `rport` parameter: `None` if absent, `Some(None)` if present without a value
    /// (a request asking for it), `Some(Some(port))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(parse_u32).and_then(|p| u16::try_from(p).ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }
}

fn token<'a>(s: &'a str, reason: &'static str) -> Result<(&'a str, &'a str), SipError> {
    let (t, rest) = take_token(s);
    if t.is_empty() {
        return Err(bad_header(VIA, reason));
    }
    Ok((t, rest))
}

fn slash(s: &str) -> Result<&str, SipError> {
    trim_lws_start(s)
        .strip_prefix('/')
        .map(trim_lws_start)
        .ok_or(bad_header(
            VIA,
            "sent-protocol needs name/version/transport",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tortuous_whitespace() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(
            (v.protocol_version, v.transport, v.host_raw),
            ("2.0", "UDP", "192.0.2.2")
        );
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse(
            "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9] : 5070;rport;received=192.0.2.1").unwrap();
        assert_eq!(
            (v.port, v.rport(), v.received()),
            (Some(5070), Some(None), Some("192.0.2.1"))
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            ";",
            "",
            "SIP/2.0 host",
            "SIP/2.0/UDPhost",
            "SIP/2.0/UDP h:x",
            "SIP/2.0/UDP h junk",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
        }
    }
}
