//! Character classes and small lexers of the RFC 3261 section 25 grammar, shared by the
//! message split, the URI parser and the typed headers.
//!
//! Typed parsers run on raw header values, which may still contain folded line breaks:
//! the split guarantees that every CR or LF inside a value is part of a fold (`CRLF` or
//! `LF` followed by SP/HTAB), so treating CR and LF as linear whitespace here is the same
//! as unfolding first, and costs no allocation.

use std::borrow::Cow;

/// `token` characters: alphanumerics and ``- . ! % * _ + ` ' ~``.
pub(crate) const fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS[b as usize]
}

/// [`is_token_char`] as a lookup table: header names and tokens are scanned byte by byte.
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    table
};

/// The index of the first CR or LF in `s`, eight bytes at a time (SWAR): line ends are
/// what the split spends its time looking for.
pub(crate) fn find_line_break(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Marks bytes equal to zero; the lowest mark is always exact.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let marks = zero_bytes(word ^ (ONES * u64::from(b'\n')))
            | zero_bytes(word ^ (ONES * u64::from(b'\r')));
        if marks != 0 {
            return Some(offset + (marks.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| offset + i)
}

/// `word` characters (Call-ID): token characters plus `( ) < > : \ " / [ ] ? { }`.
pub(crate) const fn is_word_char(b: u8) -> bool {
    is_token_char(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// Linear whitespace as seen inside a raw (possibly folded) header value.
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether `s` is a non-empty token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Trims linear whitespace (including folds) on both ends.
pub(crate) fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_lws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_lws(c)).map_or(start, |i| i + 1);
    // Both ends sit next to ASCII whitespace or the string's ends: char boundaries.
    s.get(start..end).unwrap_or_default()
}

/// Trims linear whitespace at the start.
pub(crate) fn trim_lws_start(s: &str) -> &str {
    let start = s.bytes().position(|c| !is_lws(c)).unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// Trims linear whitespace at the end of a byte slice.
pub(crate) fn trim_lws_bytes(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !is_lws(*first) {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !is_lws(*last) {
            break;
        }
        b = rest;
    }
    b
}

/// Parses `1*DIGIT` (leading zeros allowed) into a `u32`; `None` on anything else or
/// overflow.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut n: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses `1*DIGIT` into a `usize`; `None` on anything else or overflow.
pub(crate) fn parse_usize(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    let mut n: usize = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
    }
    Some(n)
}

/// Given `s` starting with `"`, returns the byte index just past the closing quote, or
/// `None` if the quoted string is unterminated or holds a forbidden raw byte.
///
/// `qdtext` is LWS, `%x21`, `%x23-5B`, `%x5D-7E` or UTF-8 above 0x7F; `quoted-pair` is a
/// backslash and any byte except CR and LF.
pub(crate) fn quoted_end(s: &[u8]) -> Option<usize> {
    debug_assert_eq!(s.first(), Some(&b'"'));
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                let next = *s.get(i + 1)?;
                if next == b'\r' || next == b'\n' {
                    return None;
                }
                i += 2;
            }
            b if is_lws(b) || b >= 0x21 && b != 0x7f => i += 1,
            _ => return None,
        }
    }
    None
}

/// Removes the backslashes of quoted pairs; borrows when there are none.
pub(crate) fn unescape_quoted(inner: &str) -> Cow<'_, str> {
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Splits `s` on `sep` bytes that are outside quoted strings and outside `<...>`.
///
/// Yields every piece, empty ones included, untrimmed. An unterminated quote or angle
/// bracket swallows the rest of the input into the last piece; the typed parser of that
/// piece then reports it.
pub(crate) struct TopLevelSplit<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> TopLevelSplit<'a> {
    pub(crate) fn new(s: &'a str, sep: u8) -> Self {
        Self { rest: Some(s), sep }
    }
}

/// Bytes that matter to [`TopLevelSplit`]; every other byte is skipped at one test each.
const SPLIT_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b',' as usize] = true;
    table[b';' as usize] = true;
    table
};

impl<'a> Iterator for TopLevelSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let bytes = s.as_bytes();
        let mut in_quote = false;
        let mut in_angle = false;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !SPLIT_SPECIAL[usize::from(b)] {
                i += 1;
                continue;
            }
            if in_quote {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_quote = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_quote = true;
            } else if b == b'<' {
                in_angle = true;
            } else if b == b'>' {
                in_angle = false;
            } else if b == self.sep && !in_angle {
                self.rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
            i += 1;
        }
        self.rest = None;
        Some(s)
    }
}

/// Splits a list header value into its comma-separated elements, trimmed. An entirely
/// empty value yields nothing (`Supported:` with no tags); otherwise empty elements are
/// yielded as empty strings so that typed parsers can reject them.
pub(crate) fn list_items(value: &str) -> impl Iterator<Item = &str> {
    let trimmed = trim_lws(value);
    let split = if trimmed.is_empty() {
        None
    } else {
        Some(TopLevelSplit::new(trimmed, b',').map(trim_lws))
    };
    split.into_iter().flatten()
}

/// Replaces each fold (`CRLF` or `LF` followed by SP/HTAB) and the whitespace around it
/// with one SP. Borrows when the value has no line break.
pub(crate) fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.contains(&b'\n') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'\r' || b == b'\n' {
            while out.last().is_some_and(|&l| l == b' ' || l == b'\t') {
                out.pop();
            }
            while i < value.len() && is_lws(value[i]) {
                i += 1;
            }
            out.push(b' ');
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Reads a token at the start of `s`; returns it and the rest.
pub(crate) fn take_token(s: &str) -> (&str, &str) {
    let end = s.bytes().position(|b| !is_token_char(b)).unwrap_or(s.len());
    s.split_at(end)
}

/// Whether `s` is an RFC 1123 date in GMT as RFC 3261 20.17 requires:
/// `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`.
pub(crate) fn is_sip_date(s: &str) -> bool {
    const WKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    b.len() == 29
        && s.get(0..3).is_some_and(|w| WKDAYS.contains(&w))
        && s.get(3..5) == Some(", ")
        && digits(5..7)
        && b[7] == b' '
        && s.get(8..11).is_some_and(|m| MONTHS.contains(&m))
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && s.get(25..29) == Some(" GMT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let items: Vec<_> = list_items(r#""a,b" <sip:x,y@h>;p=1 , <sip:z>,,"#).collect();
        assert_eq!(items, [r#""a,b" <sip:x,y@h>;p=1"#, "<sip:z>", "", ""]);
        assert_eq!(list_items("  ").count(), 0);
        let escaped: Vec<_> = list_items(r#""a\",b", c"#).collect();
        assert_eq!(escaped, [r#""a\",b""#, "c"]);
    }

    #[test]
    fn unfold_joins_continuations() {
        assert_eq!(&*unfold(b"a,\r\n        b"), b"a, b");
        assert_eq!(&*unfold(b"a \n\tb"), b"a b");
        assert!(matches!(unfold(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted_end(br#""a\"b" rest"#), Some(6));
        assert_eq!(quoted_end(b"\"open"), None);
        assert_eq!(quoted_end(b"\"nul\x00\""), None);
        assert_eq!(quoted_end(b"\"esc\\\x00\""), Some(7));
        assert_eq!(unescape_quoted(r#"J \"R\\"#), r#"J "R\"#);
    }

    #[test]
    fn line_breaks_swar() {
        for len in 0..40 {
            for at in 0..len {
                for brk in [b'\r', b'\n'] {
                    let mut s = vec![b'a'; len];
                    s[at] = brk;
                    if at + 3 < len {
                        s[at + 3] = b'\n';
                    }
                    assert_eq!(find_line_break(&s), Some(at), "{len} {at}");
                }
            }
            assert_eq!(find_line_break(&vec![0x8a; len]), None);
        }
        assert_eq!(trim_lws(" \r\n\tж x \r\n"), "ж x");
        assert_eq!(trim_lws(" \t "), "");
    }

    #[test]
    fn numbers_and_dates() {
        assert_eq!(parse_u32("0009"), Some(9));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_usize(b"-1"), None);
        assert!(is_sip_date("Sat, 15 Oct 2005 04:44:56 GMT"));
        assert!(!is_sip_date("Fri, 01 Jan 2010 16:00:00 EST"));
    }
}
