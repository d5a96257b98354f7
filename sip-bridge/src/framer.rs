//! Frames SIP messages out of a byte stream (TCP, TLS, WebSocket-less streams):
//! feed bytes with [`StreamFramer::push`], then take each complete message with
//! [`StreamFramer::poll_message`] until it returns `Ok(None)`.
//!
//! Sans-IO: the shell owns the socket and passes bytes in. Content-Length is required
//! (RFC 3261 18.3, 20.14); CRLFs between messages (keepalives, RFC 5626) are skipped;
//! the head is bounded (64 KiB by default) so a peer cannot make us buffer forever. Any
//! error is fatal for the connection: the framing is lost, so every later poll returns
//! the same error and the shell should close the connection (after a 400 if it can).

use crate::error::SipError;
use crate::message::{parse_head, Message};

/// Size limits for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerLimits {
    /// Largest start line plus headers plus the empty line, in bytes.
    pub max_head_bytes: usize,
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for FramerLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: 64 * 1024,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The framer of one stream connection.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already handed out (dropped on the next push).
    start: usize,
    /// Where to resume looking for the end of the head, relative to `start`.
    scanned: usize,
    /// Total length of the message at `start` once its head was parsed.
    pending_total: Option<usize>,
    limits: FramerLimits,
    failed: Option<SipError>,
}

impl StreamFramer {
    /// A framer with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A framer with the given limits.
    pub fn with_limits(limits: FramerLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn poll_message(&mut self) -> Result<Option<Message<'_>>, SipError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        // Skip CRLF keepalives before a message.
        if self.pending_total.is_none() {
            let skip = self.buf[self.start..]
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(self.buf.len() - self.start);
            if skip > 0 {
                self.start += skip;
                self.scanned = 0;
            }
        }
        let window = &self.buf[self.start..];
        let total = if let Some(total) = self.pending_total {
            total
        } else {
            let Some(head_len) = find_head_end(window, self.scanned) else {
                self.scanned = window.len().saturating_sub(3);
                if window.len() > self.limits.max_head_bytes {
                    return Err(self.fail(SipError::HeadTooLarge {
                        limit: self.limits.max_head_bytes,
                    }));
                }
                return Ok(None);
            };
            if head_len > self.limits.max_head_bytes {
                return Err(self.fail(SipError::HeadTooLarge {
                    limit: self.limits.max_head_bytes,
                }));
            }
            let body_len = match parse_head(&window[..head_len]) {
                Ok(head) => match head.content_length {
                    Some(n) => n,
                    None => return Err(self.fail(SipError::MissingContentLength)),
                },
                Err(e) => return Err(self.fail(e)),
            };
            if body_len > self.limits.max_body_bytes {
                return Err(self.fail(SipError::BodyTooLarge {
                    declared: body_len,
                    limit: self.limits.max_body_bytes,
                }));
            }
            head_len + body_len
        };
        if window.len() < total {
            self.pending_total = Some(total);
            return Ok(None);
        }
        self.pending_total = None;
        self.scanned = 0;
        let begin = self.start;
        self.start += total;
        let bytes = &self.buf[begin..begin + total];
        // The head parsed above; parse again to borrow the returned message from `buf`.
        match parse_head(bytes) {
            Ok(head) => {
                let body_len = total.saturating_sub(head.body_start);
                Ok(Some(Message::from_head(bytes, head, body_len)))
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn fail(&mut self, e: SipError) -> SipError {
        self.failed = Some(e.clone());
        e
    }
}

/// The length of the head (through the empty line) of the message at the start of `buf`,
/// searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn byte_by_byte_with_keepalives() {
        let mut f = StreamFramer::new();
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        let mut got = Vec::new();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(m) = f.poll_message().unwrap() {
                got.push(m.body().to_vec());
            }
        }
        assert_eq!(got, [b"body".to_vec(), b"body".to_vec()]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn default_head_limit_is_64_kib() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        let filler = format!("X-Pad: {}\r\n", "p".repeat(1000));
        while f.buffered() <= 64 * 1024 {
            assert_eq!(f.poll_message(), Ok(None));
            f.push(filler.as_bytes());
        }
        assert_eq!(
            f.poll_message(),
            Err(SipError::HeadTooLarge { limit: 65536 })
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\n");
        assert_eq!(f.poll_message(), Err(SipError::MissingContentLength));
        f.push(MSG);
        assert_eq!(f.poll_message(), Err(SipError::MissingContentLength));

        let mut f = StreamFramer::with_limits(FramerLimits {
            max_head_bytes: 32,
            max_body_bytes: 8,
        });
        f.push(&[b'a'; 40]);
        assert_eq!(f.poll_message(), Err(SipError::HeadTooLarge { limit: 32 }));
        let mut f = StreamFramer::with_limits(FramerLimits {
            max_head_bytes: 100,
            max_body_bytes: 2,
        });
        f.push(MSG);
        assert!(matches!(
            f.poll_message(),
            Err(SipError::BodyTooLarge { declared: 4, .. })
        ));
    }
}
