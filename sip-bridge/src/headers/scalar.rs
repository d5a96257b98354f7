//! Single-value headers with small grammars: CSeq, Max-Forwards, Call-ID, Content-Type
//! (and Accept's media ranges), Session-Expires (RFC 4028), option tags and Date.

use crate::error::{bad_header, SipError};
use crate::message::Method;
use crate::params::Params;
use crate::syntax::{
    is_lws, is_sip_date, is_token, is_word_char, parse_u32, take_token, trim_lws, trim_lws_start,
};

/// `CSeq: <number> <method>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (RFC 3261: below 2^31 when chosen, up to 2^32-1 on receipt).
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(s: &'a str) -> Result<Self, SipError> {
        let s = trim_lws(s);
        let digits_end = s
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(s.len());
        let seq = parse_u32(&s[..digits_end]).ok_or(bad_header(
            "CSeq",
            if digits_end == 0 {
                "no sequence number"
            } else {
                "sequence number exceeds 2^32-1"
            },
        ))?;
        let rest = &s[digits_end..];
        if !rest.starts_with(|c: char| c.is_ascii() && is_lws(c as u8)) {
            return Err(bad_header(
                "CSeq",
                "no whitespace between number and method",
            ));
        }
        let method = trim_lws_start(rest);
        if !is_token(method) {
            return Err(bad_header("CSeq", "method is not a token"));
        }
        Ok(Self {
            seq,
            method: Method::from_token(method),
        })
    }
}

/// Parses Max-Forwards: `1*DIGIT`, 0-255.
pub(crate) fn parse_max_forwards(s: &str) -> Result<u8, SipError> {
    parse_u32(trim_lws(s))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or(bad_header("Max-Forwards", "not a number in 0-255"))
}

/// Checks a Call-ID: `word [ "@" word ]`.
pub(crate) fn parse_call_id(s: &str) -> Result<&str, SipError> {
    let s = trim_lws(s);
    let (left, right) = s.split_once('@').map_or((s, None), |(l, r)| (l, Some(r)));
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word_char);
    if word(left) && right.is_none_or(word) {
        Ok(s)
    } else {
        Err(bad_header("Call-ID", "not word [\"@\" word]"))
    }
}

/// A media type (`Content-Type`) or media range (`Accept`): `type/subtype;params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// The type (`application`, or `*` in a range).
    pub main: &'a str,
    /// The subtype (`sdp`, or `*` in a range).
    pub sub: &'a str,
    /// Parameters (`boundary`, `charset`, `q`, ...).
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses `m-type SLASH m-subtype *( SEMI m-parameter )`.
    pub fn parse(s: &'a str, header: &'static str) -> Result<Self, SipError> {
        let s = trim_lws(s);
        let (main, rest) = take_token(s);
        let rest = trim_lws_start(rest)
            .strip_prefix('/')
            .ok_or(bad_header(header, "media type needs type/subtype"))?;
        let (sub, rest) = take_token(trim_lws_start(rest));
        if main.is_empty() || sub.is_empty() {
            return Err(bad_header(header, "media type or subtype is not a token"));
        }
        let rest = trim_lws_start(rest);
        let params = if rest.is_empty() {
            Params::NONE
        } else {
            let raw = rest
                .strip_prefix(';')
                .ok_or(bad_header(header, "unexpected text after the media type"))?;
            Params::parse_header(raw).map_err(|reason| bad_header(header, reason))?
        };
        Ok(Self { main, sub, params })
    }

    /// Whether this is `essence` (`type/subtype`), case-insensitively.
    pub fn is(&self, essence: &str) -> bool {
        essence.split_once('/').is_some_and(|(m, s)| {
            self.main.eq_ignore_ascii_case(m) && self.sub.eq_ignore_ascii_case(s)
        })
    }

    /// Whether this media range (from Accept) matches `essence`, with `*` wildcards.
    pub fn matches(&self, essence: &str) -> bool {
        essence.split_once('/').is_some_and(|(m, s)| {
            (self.main == "*" || self.main.eq_ignore_ascii_case(m))
                && (self.sub == "*" || self.sub.eq_ignore_ascii_case(s))
        })
    }
}

/// Who refreshes a session (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The UAC refreshes.
    Uac,
    /// The UAS refreshes.
    Uas,
}

/// `Session-Expires: delta-seconds [;refresher=uac|uas]` (RFC 4028 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// The session interval in seconds.
    pub delta_secs: u32,
    /// The refresher, if given.
    pub refresher: Option<Refresher>,
    /// All parameters (including `refresher`).
    pub params: Params<'a>,
}

impl<'a> SessionExpires<'a> {
    /// Parses a Session-Expires value.
    pub fn parse(s: &'a str) -> Result<Self, SipError> {
        const NAME: &str = "Session-Expires";
        let (delta, params) = match trim_lws(s).split_once(';') {
            Some((d, p)) => (d, Params::parse_header(p).map_err(|r| bad_header(NAME, r))?),
            None => (s, Params::NONE),
        };
        let delta_secs = parse_u32(trim_lws(delta))
            .ok_or(bad_header(NAME, "delta-seconds is not a number below 2^32"))?;
        let refresher = match params.get("refresher") {
            None => None,
            Some(Some(r)) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(Some(r)) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => return Err(bad_header(NAME, "refresher must be uac or uas")),
        };
        Ok(Self {
            delta_secs,
            refresher,
            params,
        })
    }
}

/// Checks one option tag (Require, Supported, Unsupported, Proxy-Require).
pub(crate) fn parse_option_tag<'a>(s: &'a str, header: &'static str) -> Result<&'a str, SipError> {
    if is_token(s) {
        Ok(s)
    } else {
        Err(bad_header(header, "option tag is not a token"))
    }
}

/// Checks a Date value (RFC 1123 date in GMT).
pub(crate) fn parse_date(s: &str) -> Result<&str, SipError> {
    let s = trim_lws(s);
    if is_sip_date(s) {
        Ok(s)
    } else {
        Err(bad_header("Date", "not an RFC 1123 date in GMT"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        assert_eq!(
            CSeq::parse("0009\r\n  INVITE"),
            Ok(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("1 INV ITE").is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_max_forwards(" 0068 "), Ok(68));
        assert!(parse_max_forwards("300").is_err());
        assert!(parse_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(parse_call_id("a@b@c").is_err());
        let se = SessionExpires::parse("1800 ; refresher = uac").unwrap();
        assert_eq!((se.delta_secs, se.refresher), (1800, Some(Refresher::Uac)));
        assert!(SessionExpires::parse("90;refresher=me").is_err());
        let ct =
            MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655", "Content-Type").unwrap();
        assert!(ct.is("Multipart/Mixed"));
        assert_eq!(ct.params.value("boundary"), Some("7a9cbec02ceef655"));
        assert!(MediaType::parse("*/*", "Accept")
            .unwrap()
            .matches("application/sdp"));
        assert!(MediaType::parse("application", "Content-Type").is_err());
    }
}
