//! The zero-copy split of a SIP message (RFC 3261 section 7): start line, header fields
//! and a Content-Length-framed body, all borrowed from the input buffer.
//!
//! The split checks only what framing and the start line need; header values are parsed
//! lazily by the typed accessors in [`crate::headers`] and checked by
//! [`crate::validate`]. That keeps a parse to one pass over the head with one
//! allocation (the header index), and lets a caller answer a malformed header with a
//! proper 400 built from the parts that did parse.
//!
//! Rules applied here: CRLF line ends, bare LF accepted leniently, a bare CR rejected;
//! CRLFs before the start line skipped (RFC 3261 7.5); a line starting with SP/HTAB
//! continues the previous header; header names are tokens followed by optional
//! whitespace and a colon; Content-Length values must agree.

mod header;
mod start_line;

pub use header::{Header, HeaderName};
pub use start_line::{Method, RequestLine, StartLine, StatusLine, Version};

use crate::error::SipError;
use crate::syntax::{find_line_break, is_token_char, parse_usize, trim_lws_bytes};

/// A parsed SIP message borrowing its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    bytes: &'a [u8],
    start: StartLine<'a>,
    headers: Vec<Header<'a>>,
    body: &'a [u8],
    content_length: Option<usize>,
}

/// The start line and headers of a message, before its body is framed.
pub(crate) struct Head<'a> {
    pub(crate) start: StartLine<'a>,
    pub(crate) headers: Vec<Header<'a>>,
    /// Offset of the first start-line byte (after skipped CRLFs).
    pub(crate) begin: usize,
    /// Offset of the first body byte (just past the empty line).
    pub(crate) body_start: usize,
    pub(crate) content_length: Option<usize>,
}

impl<'a> Message<'a> {
    /// Parses one message from a datagram (UDP rules, RFC 3261 18.3).
    ///
    /// Content-Length frames the body: if it announces more bytes than are present the
    /// message is rejected ([`SipError::BodyTruncated`], 400); bytes after the body are
    /// ignored (RFC 4475 `dblreq`). Without Content-Length the body is the rest of the
    /// datagram.
    pub fn parse_datagram(buf: &'a [u8]) -> Result<Self, SipError> {
        let head = parse_head(buf)?;
        let available = buf.len() - head.body_start;
        let body_len = match head.content_length {
            Some(declared) if declared > available => {
                return Err(SipError::BodyTruncated {
                    declared,
                    available,
                })
            }
            Some(declared) => declared,
            None => available,
        };
        Ok(Self::from_head(buf, head, body_len))
    }

    /// Parses the start line and headers only, ignoring body framing. Use it to answer a
    /// datagram that [`Message::parse_datagram`] rejected for its framing (e.g. `clerr`):
    /// the headers needed for a 400 are usually intact. The body of the result is empty.
    pub fn parse_head_only(buf: &'a [u8]) -> Result<Self, SipError> {
        let head = parse_head(buf)?;
        Ok(Self::from_head(buf, head, 0))
    }

    pub(crate) fn from_head(buf: &'a [u8], head: Head<'a>, body_len: usize) -> Self {
        let end = head.body_start + body_len;
        Self {
            bytes: &buf[head.begin..end],
            start: head.start,
            headers: head.headers,
            body: &buf[head.body_start..end],
            content_length: head.content_length,
        }
    }

    /// The bytes of this message exactly as received: start line to end of body.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }

    /// The Request-Line, if this is a request.
    pub fn request_line(&self) -> Option<&RequestLine<'a>> {
        match &self.start {
            StartLine::Request(r) => Some(r),
            StartLine::Response(_) => None,
        }
    }

    /// The Status-Line, if this is a response.
    pub fn status_line(&self) -> Option<&StatusLine<'a>> {
        match &self.start {
            StartLine::Response(s) => Some(s),
            StartLine::Request(_) => None,
        }
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    /// The request method, if this is a request.
    pub fn method(&self) -> Option<Method<'a>> {
        self.request_line().map(|r| r.method)
    }

    /// The status code, if this is a response.
    pub fn status_code(&self) -> Option<u16> {
        self.status_line().map(|s| s.code)
    }

    /// The SIP-Version of the start line.
    pub fn version(&self) -> Version {
        match &self.start {
            StartLine::Request(r) => r.version,
            StartLine::Response(s) => s.version,
        }
    }

    /// All header fields in order of appearance.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The header fields of one known kind, in order (full and compact names alike).
    pub fn headers_of(&self, kind: HeaderName) -> impl Iterator<Item = &Header<'a>> + '_ {
        self.headers.iter().filter(move |h| h.kind == kind)
    }

    /// The header fields named `name` (any case, full or compact), known or not.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Header<'a>> + 's {
        self.headers.iter().filter(move |h| h.is(name))
    }

    /// The first header field named `name`, if any.
    pub fn header(&self, name: &str) -> Option<&Header<'a>> {
        self.headers.iter().find(|h| h.is(name))
    }

    /// The single header of `kind`, if present; an error if it appears more than once.
    pub fn single(&self, kind: HeaderName) -> Result<Option<&Header<'a>>, SipError> {
        let mut found = self.headers_of(kind);
        let first = found.next();
        if found.next().is_some() {
            return Err(SipError::DuplicateHeader {
                name: kind.canonical_or("header"),
            });
        }
        Ok(first)
    }

    /// The body, exactly as received (binary-safe).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The Content-Length value, if the message had one (all copies agree).
    pub fn content_length(&self) -> Option<usize> {
        self.content_length
    }
}

/// Whether `buf` looks like a response (starts with `SIP/`, after any CRLFs). A response
/// that fails to parse or validate is dropped, never answered.
pub fn looks_like_response(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf[start..].len() >= 4 && buf[start..start + 4].eq_ignore_ascii_case(b"SIP/")
}

/// Finds the end of the line starting at `pos`: returns (end of content, start of next
/// line). A bare CR is an error; `None` if no line end is present yet.
fn line_end(buf: &[u8], pos: usize, line_no: usize) -> Result<Option<(usize, usize)>, SipError> {
    let Some(off) = find_line_break(&buf[pos..]) else {
        return Ok(None);
    };
    let at = pos + off;
    if buf[at] == b'\n' {
        return Ok(Some((at, at + 1)));
    }
    match buf.get(at + 1) {
        Some(b'\n') => Ok(Some((at, at + 2))),
        Some(_) => Err(SipError::BadHeaderLine {
            line: line_no,
            reason: "bare CR (not followed by LF)",
        }),
        None => Ok(None),
    }
}

/// Splits the start line and headers of the message at the start of `buf`.
/// [`SipError::HeadNotTerminated`] means more bytes are needed (or, for a datagram, that
/// the empty line is missing).
pub(crate) fn parse_head(buf: &[u8]) -> Result<Head<'_>, SipError> {
    let begin = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(SipError::Empty)?;
    let (end, mut pos) = line_end(buf, begin, 1)?.ok_or(SipError::HeadNotTerminated)?;
    let start = StartLine::parse(&buf[begin..end])?;
    let mut headers = Vec::with_capacity(16);
    let mut content_length = None;
    let mut line_no = 1;
    // The header being read: (name, kind, value start, value end).
    let mut current: Option<(&[u8], HeaderName, usize, usize)> = None;
    loop {
        line_no += 1;
        let (end, next) = line_end(buf, pos, line_no)?.ok_or(SipError::HeadNotTerminated)?;
        let line = &buf[pos..end];
        match line.first() {
            None => {
                if let Some(h) = current.take() {
                    finish_header(buf, h, &mut headers, &mut content_length)?;
                }
                return Ok(Head {
                    start,
                    headers,
                    begin,
                    body_start: next,
                    content_length,
                });
            }
            Some(b' ' | b'\t') => match current.as_mut() {
                Some(h) => h.3 = end,
                None => {
                    return Err(SipError::BadHeaderLine {
                        line: line_no,
                        reason: "continuation line with no header before it",
                    })
                }
            },
            Some(_) => {
                if let Some(h) = current.take() {
                    finish_header(buf, h, &mut headers, &mut content_length)?;
                }
                let (name, value_start) = split_name(line, line_no)?;
                current = Some((name, HeaderName::from_name(name), pos + value_start, end));
            }
        }
        pos = next;
    }
}

/// Splits `name *WSP ":"` off a header line; returns the name and the offset of the value.
fn split_name(line: &[u8], line_no: usize) -> Result<(&[u8], usize), SipError> {
    let name_end = line
        .iter()
        .position(|&b| !is_token_char(b))
        .unwrap_or(line.len());
    if name_end == 0 {
        return Err(SipError::BadHeaderLine {
            line: line_no,
            reason: "header name is not a token",
        });
    }
    let mut i = name_end;
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    if line.get(i) != Some(&b':') {
        return Err(SipError::BadHeaderLine {
            line: line_no,
            reason: "header name not followed by ':'",
        });
    }
    Ok((&line[..name_end], i + 1))
}

fn finish_header<'a>(
    buf: &'a [u8],
    (name, kind, start, end): (&'a [u8], HeaderName, usize, usize),
    headers: &mut Vec<Header<'a>>,
    content_length: &mut Option<usize>,
) -> Result<(), SipError> {
    let value = trim_lws_bytes(&buf[start..end]);
    if kind == HeaderName::ContentLength {
        let n = parse_usize(value).ok_or(SipError::BadContentLength)?;
        match *content_length {
            Some(first) if first != n => {
                return Err(SipError::ConflictingContentLength { first, second: n })
            }
            _ => *content_length = Some(n),
        }
    }
    headers.push(Header { name, kind, value });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_folded_compact_and_body() {
        let raw = b"\r\nINVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nSubject : a\r\n  b\r\nl: 3\r\n\r\nabcdef";
        let m = Message::parse_datagram(raw).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.headers().len(), 3);
        let subject = m.header("s").unwrap();
        assert_eq!(subject.value(), b"a\r\n  b");
        assert!(subject.is_folded());
        assert_eq!(&*subject.unfolded(), b"a b");
        assert_eq!(m.body(), b"abc");
        assert_eq!(m.as_bytes().len(), raw.len() - 5);
        assert_eq!(m.headers_named("VIA").count(), 1);
    }

    #[test]
    fn bare_lf_and_errors() {
        let m = Message::parse_datagram(b"SIP/2.0 200 OK\nCall-ID: x\n\nbody").unwrap();
        assert_eq!((m.status_code(), m.body()), (Some(200), &b"body"[..]));
        assert_eq!(Message::parse_datagram(b"\r\n\r\n"), Err(SipError::Empty));
        assert_eq!(
            Message::parse_datagram(b"OPTIONS sip:a SIP/2.0\r\nA: b\r\n"),
            Err(SipError::HeadNotTerminated)
        );
        assert!(matches!(
            Message::parse_datagram(b"OPTIONS sip:a SIP/2.0\r\nA: b\rc\r\n\r\n"),
            Err(SipError::BadHeaderLine { line: 2, .. })
        ));
        assert!(matches!(
            Message::parse_datagram(b"OPTIONS sip:a SIP/2.0\r\n x\r\n\r\n"),
            Err(SipError::BadHeaderLine { .. })
        ));
        assert_eq!(
            Message::parse_datagram(b"OPTIONS sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab"),
            Err(SipError::ConflictingContentLength {
                first: 1,
                second: 2
            })
        );
        assert!(looks_like_response(b"\r\nsip/2.0 999"));
    }
}
