//! `name-addr` / `addr-spec` with header parameters: From, To, Contact, Route,
//! Record-Route (RFC 3261 20.10, 20.20, 20.39, 25.1).
//!
//! With `<>` the URI is what is inside them and `;params` after `>` are header params.
//! Without `<>` (an addr-spec) the URI ends at the first `;` or whitespace, so
//! `;unknownparam` is a header parameter (RFC 4475 `cparam01`), and a URI with `?`
//! or `,` must be in `<>` (RFC 4475 `regbadct`).

use crate::error::{bad_header, SipError};
use crate::params::Params;
use crate::syntax::{is_lws, is_token_char, quoted_end, trim_lws, trim_lws_start, unescape_quoted};
use crate::uri::{split_scheme, Uri};
use std::borrow::Cow;

/// A display name as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayName<'a> {
    /// A quoted string: the text between the quotes, backslash escapes kept.
    Quoted(&'a str),
    /// One or more tokens separated by whitespace, as written.
    Tokens(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The text as written (without the quotes of a quoted string).
    pub fn raw(&self) -> &'a str {
        match self {
            DisplayName::Quoted(s) | DisplayName::Tokens(s) => s,
        }
    }

    /// The text with quoted-pair escapes removed; allocates only if there were any.
    pub fn text(&self) -> Cow<'a, str> {
        match self {
            DisplayName::Quoted(s) => unescape_quoted(s),
            DisplayName::Tokens(s) => Cow::Borrowed(s),
        }
    }
}

/// An address with optional display name and header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, if any.
    pub display_name: Option<DisplayName<'a>>,
    /// The URI as written (inside `<>` if there were brackets).
    pub uri_raw: &'a str,
    /// Whether the URI was enclosed in `<>`.
    pub bracketed: bool,
    /// Header parameters (`tag`, `expires`, `q`, ...).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one `name-addr` or `addr-spec` followed by parameters. `header` names the
    /// header for error messages.
    pub(crate) fn parse(s: &'a str, header: &'static str) -> Result<Self, SipError> {
        let s = trim_lws(s);
        if s.is_empty() {
            return Err(bad_header(header, "empty address"));
        }
        let first_special = s.bytes().position(|b| b == b'<' || b == b':' || b == b'"');
        match first_special.map(|i| s.as_bytes()[i]) {
            Some(b'<' | b'"') => Self::parse_name_addr(s, header),
            Some(b':') => Self::parse_addr_spec(s, header),
            _ => Err(bad_header(header, "no URI")),
        }
    }

    fn parse_name_addr(s: &'a str, header: &'static str) -> Result<Self, SipError> {
        let (display_name, rest) = if s.starts_with('"') {
            let end = quoted_end(s.as_bytes()).ok_or(bad_header(
                header,
                "unterminated or malformed quoted display name",
            ))?;
            (
                Some(DisplayName::Quoted(&s[1..end - 1])),
                trim_lws_start(&s[end..]),
            )
        } else {
            let lt = byte_pos(s, b'<').ok_or(bad_header(header, "no '<'"))?;
            let name = trim_lws(&s[..lt]);
            if !name.bytes().all(|b| is_token_char(b) || is_lws(b)) {
                return Err(bad_header(
                    header,
                    "unquoted display name has a non-token character",
                ));
            }
            let name = (!name.is_empty()).then_some(DisplayName::Tokens(name));
            (name, &s[lt..])
        };
        let inner = rest
            .strip_prefix('<')
            .ok_or(bad_header(header, "display name not followed by '<'"))?;
        let gt = byte_pos(inner, b'>').ok_or(bad_header(header, "'<' without '>'"))?;
        let uri_raw = &inner[..gt];
        if uri_raw.is_empty() || uri_raw.bytes().any(|b| is_lws(b) || b == b'<') {
            return Err(bad_header(
                header,
                "URI in <> is empty or contains whitespace",
            ));
        }
        let params = parse_params_after(&inner[gt + 1..], header)?;
        Ok(Self {
            display_name,
            uri_raw,
            bracketed: true,
            params,
        })
    }

    fn parse_addr_spec(s: &'a str, header: &'static str) -> Result<Self, SipError> {
        let end = s
            .bytes()
            .position(|b| b == b';' || is_lws(b))
            .unwrap_or(s.len());
        let uri_raw = &s[..end];
        if uri_raw.contains(['?', ',']) {
            return Err(bad_header(
                header,
                "a URI with '?' or ',' must be enclosed in <>",
            ));
        }
        if split_scheme(uri_raw.as_bytes()).is_none() {
            return Err(bad_header(header, "address has no URI scheme"));
        }
        let params = parse_params_after(&s[end..], header)?;
        Ok(Self {
            display_name: None,
            uri_raw,
            bracketed: false,
            params,
        })
    }

    /// Parses the URI.
    pub fn uri(&self) -> Result<Uri<'a>, SipError> {
        Uri::parse(self.uri_raw)
    }

    /// The `tag` parameter (From/To), if any.
    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }
}

/// The first `byte` in `s`: a plain loop beats `memchr` on values this short.
fn byte_pos(s: &str, byte: u8) -> Option<usize> {
    s.bytes().position(|b| b == byte)
}

/// Parses `*( SEMI param )` after an address: empty, or `;` then parameters.
fn parse_params_after<'a>(rest: &'a str, header: &'static str) -> Result<Params<'a>, SipError> {
    let rest = trim_lws(rest);
    if rest.is_empty() {
        return Ok(Params::NONE);
    }
    let raw = rest
        .strip_prefix(';')
        .ok_or(bad_header(header, "unexpected text after the address"))?;
    Params::parse_header(raw).map_err(|reason| bad_header(header, reason))
}

/// One Contact value: `*` or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER: remove all bindings).
    Star,
    /// An address with its parameters (`expires`, `q`, ...).
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub(crate) fn parse(s: &'a str) -> Result<Self, SipError> {
        if trim_lws(s) == "*" {
            Ok(Contact::Star)
        } else {
            NameAddr::parse(s, "Contact").map(Contact::Address)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = NameAddr::parse(
            " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            "To",
        )
        .unwrap();
        assert_eq!(
            (a.uri_raw, a.tag(), a.bracketed),
            (
                "sip:vivekg@chair-dnrc.example.com",
                Some("1918181833n"),
                false
            )
        );
        let a = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
            "From",
        )
        .unwrap();
        assert_eq!(a.display_name.unwrap().text(), "J Rosenberg \\\"");
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323", "From").unwrap();
        assert_eq!(a.display_name, Some(DisplayName::Tokens("caller")));
        let a = NameAddr::parse("sip:+1@gw;unknownparam", "Contact").unwrap();
        assert!(a.params.contains("unknownparam"));
        assert!(a.uri().unwrap().as_sip().unwrap().params.is_empty());
        let a = NameAddr::parse("<sip:+1@gw;unknownparam>", "Contact").unwrap();
        assert!(a.params.is_empty());
        assert!(a
            .uri()
            .unwrap()
            .as_sip()
            .unwrap()
            .params
            .contains("unknownparam"));
    }

    #[test]
    fn rejects() {
        for bad in [
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"Mr. J. User <sip:j.user@example.com>",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:a@b> junk",
            "nobody",
            "",
        ] {
            assert!(NameAddr::parse(bad, "To").is_err(), "{bad}");
        }
        assert_eq!(Contact::parse(" * "), Ok(Contact::Star));
    }
}
