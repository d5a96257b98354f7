//! Writing RTP packets into caller-owned buffers, and patching forwarded packets in place.

use super::{HeaderExtension, RtpError, FIXED_HEADER_LEN, MAX_CSRCS, RTP_VERSION};

/// The header of a packet to send. CSRCs and the extension are borrowed, so building a
/// header allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader<'a> {
    /// The M bit.
    pub marker: bool,
    /// The payload type, 0-127.
    pub payload_type: u8,
    /// The 16-bit sequence number.
    pub sequence_number: u16,
    /// The media timestamp, in clock-rate units.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// Contributing sources, at most 15.
    pub csrcs: &'a [u32],
    /// An optional header extension; its data must be whole 32-bit words.
    pub extension: Option<HeaderExtension<'a>>,
}

/// The most extension data the 16-bit word count can describe.
const MAX_EXTENSION_BYTES: usize = 4 * u16::MAX as usize;

impl RtpHeader<'_> {
    /// Length of the serialized header (fixed part, CSRCs, extension).
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrcs.len() + self.extension.map_or(0, |e| 4 + e.data.len())
    }

    /// Always false: a header has at least its 12 fixed bytes. (For clippy's `len` rule.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes header, `payload` and `padding_len` bytes of padding (0 for none; the last
    /// padding byte holds the count, per RFC 3550) into `out`. Returns the packet length.
    pub fn write(
        &self,
        payload: &[u8],
        padding_len: u8,
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        if self.payload_type > 0x7F {
            return Err(RtpError::PayloadTypeOutOfRange(self.payload_type));
        }
        if self.csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        if let Some(ext) = self.extension {
            if ext.data.len() % 4 != 0 || ext.data.len() > MAX_EXTENSION_BYTES {
                return Err(RtpError::BadExtensionLength(ext.data.len()));
            }
        }
        let header_len = self.len();
        let needed = header_len + payload.len() + usize::from(padding_len);
        if out.len() < needed {
            return Err(RtpError::BufferTooSmall {
                needed,
                available: out.len(),
            });
        }
        out[0] = (RTP_VERSION << 6)
            | if padding_len > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrcs.len() as u8;
        out[1] = self.payload_type | if self.marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut at = FIXED_HEADER_LEN;
        for csrc in self.csrcs {
            out[at..at + 4].copy_from_slice(&csrc.to_be_bytes());
            at += 4;
        }
        if let Some(ext) = self.extension {
            out[at..at + 2].copy_from_slice(&ext.profile.to_be_bytes());
            let words = (ext.data.len() / 4) as u16;
            out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
            at += 4;
            out[at..at + ext.data.len()].copy_from_slice(ext.data);
            at += ext.data.len();
        }
        out[at..at + payload.len()].copy_from_slice(payload);
        at += payload.len();
        if padding_len > 0 {
            let pad = usize::from(padding_len);
            out[at..at + pad - 1].fill(0);
            out[at + pad - 1] = padding_len;
            at += pad;
        }
        Ok(at)
    }
}

/// Rewrites marker, sequence number, timestamp and SSRC of the RTP packet in `packet`,
/// leaving everything else (payload type, CSRCs, extension, payload) untouched. This is
/// how the SFU applies a [`crate::munger::MungedHeader`] without copying the payload.
pub fn rewrite_header(
    packet: &mut [u8],
    marker: bool,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
) -> Result<(), RtpError> {
    if packet.len() < FIXED_HEADER_LEN {
        return Err(RtpError::Truncated {
            needed: FIXED_HEADER_LEN,
            len: packet.len(),
        });
    }
    let version = packet[0] >> 6;
    if version != RTP_VERSION {
        return Err(RtpError::BadVersion(version));
    }
    packet[1] = (packet[1] & 0x7F) | if marker { 0x80 } else { 0 };
    packet[2..4].copy_from_slice(&sequence_number.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpPacket;
    use proptest::prelude::*;

    #[test]
    fn writes_a_minimal_packet_bit_exact() {
        let header = RtpHeader {
            marker: true,
            payload_type: 8,
            sequence_number: 0xABCD,
            timestamp: 0x0102_0304,
            ssrc: 0x1122_3344,
            ..RtpHeader::default()
        };
        let mut out = [0u8; 14];
        let n = header.write(&[0xD5, 0x55], 0, &mut out).unwrap();
        assert_eq!(n, 14);
        assert_eq!(
            out,
            [0x80, 0x88, 0xAB, 0xCD, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0xD5, 0x55]
        );
    }

    #[test]
    fn refuses_what_rtp_cannot_express() {
        let mut out = [0u8; 64];
        let bad_pt = RtpHeader {
            payload_type: 128,
            ..RtpHeader::default()
        };
        assert_eq!(
            bad_pt.write(&[], 0, &mut out),
            Err(RtpError::PayloadTypeOutOfRange(128))
        );
        let csrcs = [0u32; 16];
        let many = RtpHeader {
            csrcs: &csrcs,
            ..RtpHeader::default()
        };
        assert_eq!(
            many.write(&[], 0, &mut out),
            Err(RtpError::TooManyCsrcs(16))
        );
        let ext = RtpHeader {
            extension: Some(HeaderExtension {
                profile: 0xBEDE,
                data: &[1, 2, 3],
            }),
            ..RtpHeader::default()
        };
        assert_eq!(
            ext.write(&[], 0, &mut out),
            Err(RtpError::BadExtensionLength(3))
        );
        let small = RtpHeader::default();
        assert_eq!(
            small.write(&[0; 10], 0, &mut out[..20]),
            Err(RtpError::BufferTooSmall {
                needed: 22,
                available: 20
            })
        );
    }

    #[test]
    fn rewrite_header_patches_only_the_rewritten_fields() {
        let csrcs = [7u32];
        let header = RtpHeader {
            payload_type: 111,
            sequence_number: 1,
            timestamp: 2,
            ssrc: 3,
            csrcs: &csrcs,
            ..RtpHeader::default()
        };
        let mut buf = [0u8; 32];
        let n = header.write(&[9, 9, 9], 0, &mut buf).unwrap();
        rewrite_header(&mut buf[..n], true, 0xFFFF, 0xFFFF_FFFF, 42).unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), 111);
        assert_eq!(
            (p.sequence_number(), p.timestamp(), p.ssrc()),
            (0xFFFF, 0xFFFF_FFFF, 42)
        );
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![7]);
        assert_eq!(p.payload(), &[9, 9, 9]);
        assert_eq!(
            rewrite_header(&mut buf[..5], false, 0, 0, 0),
            Err(RtpError::Truncated { needed: 12, len: 5 })
        );
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(
            marker: bool,
            payload_type in 0u8..128,
            sequence_number: u16,
            timestamp: u32,
            ssrc: u32,
            csrcs in proptest::collection::vec(any::<u32>(), 0..=15),
            ext in proptest::option::of((any::<u16>(), 0usize..5)),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            padding_len in 0u8..8,
        ) {
            let ext_data: Vec<u8> = ext.map_or(Vec::new(), |(_, words)| (0..words * 4).map(|i| i as u8).collect());
            let header = RtpHeader {
                marker, payload_type, sequence_number, timestamp, ssrc,
                csrcs: &csrcs,
                extension: ext.map(|(profile, _)| HeaderExtension { profile, data: &ext_data }),
            };
            let mut out = vec![0u8; 1500];
            let n = header.write(&payload, padding_len, &mut out).unwrap();
            let p = RtpPacket::parse(&out[..n]).unwrap();
            prop_assert_eq!(p.marker(), marker);
            prop_assert_eq!(p.payload_type(), payload_type);
            prop_assert_eq!(p.sequence_number(), sequence_number);
            prop_assert_eq!(p.timestamp(), timestamp);
            prop_assert_eq!(p.ssrc(), ssrc);
            prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs.clone());
            prop_assert_eq!(p.extension(), header.extension);
            prop_assert_eq!(p.payload(), &payload[..]);
            prop_assert_eq!(p.padding_len(), usize::from(padding_len));
            prop_assert_eq!(p.header_len(), header.len());
        }

        #[test]
        fn parse_never_panics_and_keeps_the_payload_inside(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = RtpPacket::parse(&bytes) {
                prop_assert!(p.header_len() + p.payload().len() + p.padding_len() == bytes.len());
                prop_assert_eq!(p.csrcs().len(), usize::from(bytes[0] & 0x0F));
                let _ = p.extension();
            }
        }
    }
}
