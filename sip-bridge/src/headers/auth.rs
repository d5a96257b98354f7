//! Authorization, Proxy-Authorization, WWW-Authenticate and Proxy-Authenticate values
//! (RFC 3261 20.7, 20.27, 20.28, 20.44; RFC 8760): a scheme and comma-separated
//! `name=value` parameters. Unknown schemes parse too (RFC 4475 `regaut01`).

use crate::error::{bad_header, SipError};
use crate::syntax::{is_token, quoted_end, take_token, trim_lws, TopLevelSplit};

/// Credentials or a challenge: the scheme and its parameters, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthValue<'a> {
    /// The scheme as written (`Digest`, ...).
    pub scheme: &'a str,
    params_raw: &'a str,
}

impl<'a> AuthValue<'a> {
    /// Parses `scheme LWS auth-param *( COMMA auth-param )`; the parameter list may be
    /// empty for schemes without parameters.
    pub fn parse(s: &'a str, header: &'static str) -> Result<Self, SipError> {
        let s = trim_lws(s);
        let (scheme, rest) = take_token(s);
        if scheme.is_empty() {
            return Err(bad_header(header, "scheme is not a token"));
        }
        let params_raw = trim_lws(rest);
        if !params_raw.is_empty() && rest.len() == params_raw.len() {
            return Err(bad_header(header, "scheme not followed by whitespace"));
        }
        for item in split(params_raw) {
            let (name, value) = item
                .split_once('=')
                .ok_or(bad_header(header, "auth parameter lacks '='"))?;
            let (name, value) = (trim_lws(name), trim_lws(value));
            let value_ok = if value.starts_with('"') {
                quoted_end(value.as_bytes()) == Some(value.len())
            } else {
                is_token(value)
            };
            if !is_token(name) || !value_ok {
                return Err(bad_header(
                    header,
                    "auth parameter is not token=(token / quoted-string)",
                ));
            }
        }
        Ok(Self { scheme, params_raw })
    }

    /// Whether the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// The parameters in order; quoted values without their quotes, escapes kept.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        split(self.params_raw).filter_map(|item| {
            let (name, value) = item.split_once('=')?;
            let value = trim_lws(value);
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((trim_lws(name), value))
        })
    }

    /// The parameter `name` (case-insensitive), e.g. `realm`, `nonce`, `algorithm`.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

fn split(raw: &str) -> impl Iterator<Item = &str> {
    (!raw.is_empty())
        .then(|| TopLevelSplit::new(raw, b',').map(trim_lws))
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_unknown() {
        let a = AuthValue::parse(
            "Digest username=\"alice\", realm=\"a,b\",\r\n nonce=\"x\", uri=\"sip:b\", algorithm=SHA-256",
            "Authorization",
        )
        .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("REALM"), Some("a,b"));
        assert_eq!(a.param("algorithm"), Some("SHA-256"));
        assert_eq!(a.params().count(), 5);
        let u = AuthValue::parse("NoOneKnowsThisScheme opaque-data=here", "Authorization").unwrap();
        assert_eq!(
            (u.scheme, u.param("opaque-data")),
            ("NoOneKnowsThisScheme", Some("here"))
        );
        assert!(AuthValue::parse("Digest realm", "Authorization").is_err());
        assert!(AuthValue::parse("Digest realm=\"x", "Authorization").is_err());
        assert!(AuthValue::parse("Digest a=b,,c=d", "Authorization").is_err());
    }
}
