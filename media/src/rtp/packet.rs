//! A zero-copy view over one received RTP datagram.
//!
//! [`RtpPacket::parse`] validates the layout once (version, CSRC list, extension,
//! padding) and remembers where the payload is; the accessors then read fields straight
//! from the borrowed bytes. A packet that parses can be read without further checks.

use super::{RtpError, FIXED_HEADER_LEN, RTP_VERSION};

/// A validated RTP packet borrowed from a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    bytes: &'a [u8],
    /// Offset of the payload (after CSRCs and extension).
    payload_start: usize,
    /// Offset one past the payload (before padding).
    payload_end: usize,
}

/// The header extension of RFC 3550 section 5.3.1: a 16-bit profile-defined value and
/// data in whole 32-bit words (RFC 8285 one- and two-byte elements live inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The "defined by profile" field, e.g. `0xBEDE` for RFC 8285 one-byte elements.
    pub profile: u16,
    /// The extension data, a multiple of 4 bytes long.
    pub data: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Validates `bytes` as an RTP packet.
    ///
    /// Checks: at least 12 bytes, version 2, the CSRC list and the extension fit, and a
    /// padding count (when the P bit is set) between 1 and the bytes after the header.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RtpError> {
        let len = bytes.len();
        if len < FIXED_HEADER_LEN {
            return Err(RtpError::Truncated {
                needed: FIXED_HEADER_LEN,
                len,
            });
        }
        let version = bytes[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let csrc_count = usize::from(bytes[0] & 0x0F);
        let mut header_len = FIXED_HEADER_LEN + 4 * csrc_count;
        if len < header_len {
            return Err(RtpError::Truncated {
                needed: header_len,
                len,
            });
        }
        if bytes[0] & 0x10 != 0 {
            if len < header_len + 4 {
                return Err(RtpError::Truncated {
                    needed: header_len + 4,
                    len,
                });
            }
            let words = usize::from(read_u16(bytes, header_len + 2));
            header_len += 4 + 4 * words;
            if len < header_len {
                return Err(RtpError::Truncated {
                    needed: header_len,
                    len,
                });
            }
        }
        let mut payload_end = len;
        if bytes[0] & 0x20 != 0 {
            let available = len - header_len;
            let count = bytes[len - 1];
            if count == 0 || usize::from(count) > available {
                return Err(RtpError::BadPadding { count, available });
            }
            payload_end -= usize::from(count);
        }
        Ok(Self {
            bytes,
            payload_start: header_len,
            payload_end,
        })
    }

    /// The whole datagram, header and padding included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The P bit: the packet ends with padding.
    pub fn has_padding(&self) -> bool {
        self.bytes[0] & 0x20 != 0
    }

    /// Number of padding bytes at the end (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.bytes.len() - self.payload_end
    }

    /// The M bit (for audio: first packet of a talkspurt).
    pub fn marker(&self) -> bool {
        self.bytes[1] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.bytes[1] & 0x7F
    }

    /// The 16-bit sequence number as sent.
    pub fn sequence_number(&self) -> u16 {
        read_u16(self.bytes, 2)
    }

    /// The 32-bit media timestamp as sent, in units of the payload's clock rate.
    pub fn timestamp(&self) -> u32 {
        read_u32(self.bytes, 4)
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        read_u32(self.bytes, 8)
    }

    /// The contributing sources, in header order.
    pub fn csrcs(&self) -> Csrcs<'a> {
        let count = usize::from(self.bytes[0] & 0x0F);
        Csrcs {
            bytes: &self.bytes[FIXED_HEADER_LEN..FIXED_HEADER_LEN + 4 * count],
        }
    }

    /// The header extension, when the X bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        if self.bytes[0] & 0x10 == 0 {
            return None;
        }
        let start = FIXED_HEADER_LEN + 4 * usize::from(self.bytes[0] & 0x0F);
        Some(HeaderExtension {
            profile: read_u16(self.bytes, start),
            data: &self.bytes[start + 4..self.payload_start],
        })
    }

    /// Length of the header: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.payload_start
    }

    /// The payload, without header and padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.payload_start..self.payload_end]
    }
}

/// Iterator over the CSRC list of an [`RtpPacket`].
#[derive(Debug, Clone)]
pub struct Csrcs<'a> {
    bytes: &'a [u8],
}

impl Iterator for Csrcs<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (head, rest) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Csrcs<'_> {}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PCMU packet as a carrier sends it: no CSRC, no extension.
    const PLAIN: [u8; 16] = [
        0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x01, 0x40, 0xDE, 0xAD, 0xBE, 0xEF, 0xFF, 0xFE, 0x7F,
        0x00,
    ];

    #[test]
    fn parses_fixed_header_fields() {
        let p = RtpPacket::parse(&PLAIN).unwrap();
        assert!(!p.marker());
        assert_eq!(p.payload_type(), 0);
        assert_eq!(p.sequence_number(), 0x1234);
        assert_eq!(p.timestamp(), 320);
        assert_eq!(p.ssrc(), 0xDEAD_BEEF);
        assert_eq!(p.csrcs().count(), 0);
        assert_eq!(p.extension(), None);
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.payload(), &[0xFF, 0xFE, 0x7F, 0x00]);
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        // V=2, P, X, CC=2; M with payload type 101 (0x65).
        let mut b = vec![0xB2, 0x80 | 0x65, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1];
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 3]); // two CSRCs
        b.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]); // one-word extension
        b.extend_from_slice(&[1, 2, 3]); // payload
        b.extend_from_slice(&[0, 0, 3]); // three padding bytes
        let p = RtpPacket::parse(&b).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), 101);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![2, 3]);
        let ext = p.extension().unwrap();
        assert_eq!(ext.profile, 0xBEDE);
        assert_eq!(ext.data, &[0x10, 0xAA, 0, 0]);
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.payload(), &[1, 2, 3]);
    }

    #[test]
    fn rejects_short_and_foreign_datagrams() {
        assert_eq!(
            RtpPacket::parse(&PLAIN[..11]),
            Err(RtpError::Truncated {
                needed: 12,
                len: 11
            })
        );
        // A STUN binding request starts with 0x00 0x01: version 0.
        let mut stun = PLAIN;
        stun[0] = 0x00;
        assert_eq!(RtpPacket::parse(&stun), Err(RtpError::BadVersion(0)));
        // CC = 2 but only one CSRC present.
        let mut cc = PLAIN;
        cc[0] = 0x82;
        assert_eq!(
            RtpPacket::parse(&cc),
            Err(RtpError::Truncated {
                needed: 20,
                len: 16
            })
        );
        // X bit with an extension longer than the datagram.
        let mut x = PLAIN.to_vec();
        x[0] = 0x90;
        x[14] = 0;
        x[15] = 5;
        assert_eq!(
            RtpPacket::parse(&x),
            Err(RtpError::Truncated {
                needed: 36,
                len: 16
            })
        );
    }

    #[test]
    fn rejects_bad_padding_counts() {
        let mut zero = PLAIN;
        zero[0] = 0xA0;
        zero[15] = 0;
        assert_eq!(
            RtpPacket::parse(&zero),
            Err(RtpError::BadPadding {
                count: 0,
                available: 4
            })
        );
        let mut big = PLAIN;
        big[0] = 0xA0;
        big[15] = 5;
        assert_eq!(
            RtpPacket::parse(&big),
            Err(RtpError::BadPadding {
                count: 5,
                available: 4
            })
        );
        // Padding that eats the whole payload is legal (a padding-only probe).
        let mut all = PLAIN;
        all[0] = 0xA0;
        all[15] = 4;
        assert_eq!(RtpPacket::parse(&all).unwrap().payload(), &[] as &[u8]);
    }
}
