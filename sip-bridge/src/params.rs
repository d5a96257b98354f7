//! `;name=value` parameter lists, as they follow URIs and header values.
//!
//! [`Params`] keeps the raw text (zero-copy) once it has been checked, and tokenizes it
//! again on each lookup: lists are short, lookups rare, and this keeps the typed headers
//! free of allocations. Names compare case-insensitively. A quoted value is returned
//! without its quotes, escapes kept (see [`crate::unquote`]).

use crate::syntax::{is_lws, is_token, is_token_char, quoted_end, trim_lws, TopLevelSplit};

/// A checked parameter list, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// No parameters.
    pub const NONE: Params<'static> = Params { raw: "" };

    /// Checks header-style parameters: `raw` is the text after the first `;`, LWS allowed
    /// around `;` and `=`, values are tokens, hosts or quoted strings.
    pub(crate) fn parse_header(raw: &'a str) -> Result<Self, &'static str> {
        for piece in TopLevelSplit::new(raw, b';') {
            let piece = trim_lws(piece);
            if piece.is_empty() {
                return Err("empty parameter (stray ';')");
            }
            let (name, value) = split_param(piece);
            if !is_token(name) {
                return Err("parameter name is not a token");
            }
            if let Some(value) = value {
                check_header_value(value)?;
            }
        }
        Ok(Self { raw })
    }

    /// Checks URI-style parameters: `raw` is the text after the first `;`, no whitespace,
    /// names and values of `paramchar` (escapes allowed).
    pub(crate) fn parse_uri(raw: &'a str) -> Result<Self, &'static str> {
        for piece in raw.split(';') {
            let (name, value) = piece
                .split_once('=')
                .map_or((piece, None), |(n, v)| (n, Some(v)));
            if name.is_empty() || !is_uri_chars(name, is_param_char) {
                return Err("URI parameter name is empty or has a forbidden character");
            }
            if value.is_some_and(|v| v.is_empty() || !is_uri_chars(v, is_param_char)) {
                return Err("URI parameter value is empty or has a forbidden character");
            }
        }
        Ok(Self { raw })
    }

    /// The raw text after the first `;` (empty if there are no parameters).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters in order: name and value (`None` for a flag such as `lr`).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        let raw = self.raw;
        (!raw.is_empty())
            .then(|| TopLevelSplit::new(raw, b';'))
            .into_iter()
            .flatten()
            .map(|piece| {
                let (name, value) = split_param(trim_lws(piece));
                (name, value.map(strip_quotes))
            })
    }

    /// The parameter `name`: `None` if absent, `Some(None)` if present without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of parameter `name`, if present with a value.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    /// Whether parameter `name` is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Splits `name [ EQUAL value ]`, trimming LWS around the `=`.
fn split_param(piece: &str) -> (&str, Option<&str>) {
    match piece.bytes().position(|b| b == b'=' || b == b'"') {
        Some(eq) if piece.as_bytes()[eq] == b'=' => {
            (trim_lws(&piece[..eq]), Some(trim_lws(&piece[eq + 1..])))
        }
        _ => (piece, None),
    }
}

fn strip_quotes(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// `gen-value = token / host / quoted-string`.
fn check_header_value(value: &str) -> Result<(), &'static str> {
    if value.starts_with('"') {
        return match quoted_end(value.as_bytes()) {
            Some(end) if end == value.len() => Ok(()),
            _ => Err("parameter value has a malformed quoted string"),
        };
    }
    if value.is_empty() {
        return Err("parameter has '=' but no value");
    }
    if value
        .bytes()
        .all(|b| is_token_char(b) || matches!(b, b':' | b'[' | b']'))
    {
        Ok(())
    } else if value.bytes().any(is_lws) {
        Err("parameter value contains whitespace")
    } else {
        Err("parameter value is not a token, host or quoted string")
    }
}

/// RFC 3986 unreserved plus the RFC 3261 `mark` set.
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// `paramchar` without `escaped`: param-unreserved / unreserved.
pub(crate) const fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// Whether every byte of `s` is allowed by `class` or starts a valid `%HH` escape.
pub(crate) fn is_uri_chars(s: &str, class: fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if class(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params() {
        let p =
            Params::parse_header(" tag = 98asjd8 ;\r\n rport; q=\"0.3\"; received=[2001:db8::1]")
                .unwrap();
        assert_eq!(p.value("TAG"), Some("98asjd8"));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.value("q"), Some("0.3"));
        assert_eq!(p.value("received"), Some("[2001:db8::1]"));
        assert_eq!(p.iter().count(), 4);
        for bad in [";", "a;;b", "a=", "a b=c", "a=\"open", "a=b c"] {
            assert!(Params::parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uri_params() {
        let p = Params::parse_uri("%6C%72;n%61me=v%61lue%25%34%31;lr").unwrap();
        assert_eq!(p.value("n%61me"), Some("v%61lue%25%34%31"));
        assert!(p.contains("lr"));
        for bad in ["", "a;", "a=", "a b", "%zz", "a=<"] {
            assert!(Params::parse_uri(bad).is_err(), "{bad}");
        }
    }
}
