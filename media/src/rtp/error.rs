//! Why a datagram is not a usable RTP packet, or why a packet cannot be written.

use thiserror::Error;

/// A malformed RTP packet (the peer's fault), or a packet the caller asked to write that
/// RTP cannot express or that does not fit the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Fewer bytes than the header announces (fixed header, CSRC list or extension).
    #[error("truncated RTP packet: {needed} header bytes announced, {len} present")]
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// The version field is not 2 (e.g. a STUN or DTLS datagram on an RTP port).
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The padding count is zero or larger than what follows the header.
    #[error("RTP padding count {count} invalid: {available} bytes follow the header")]
    BadPadding {
        /// The padding count in the last byte.
        count: u8,
        /// Bytes after the header (payload plus padding).
        available: usize,
    },
    /// A payload type above 127 was asked for (the field is 7 bits).
    #[error("payload type {0} does not fit the 7-bit field")]
    PayloadTypeOutOfRange(u8),
    /// More than 15 CSRCs were asked for (the count field is 4 bits).
    #[error("{0} CSRCs do not fit the 4-bit count (at most 15)")]
    TooManyCsrcs(usize),
    /// A header extension whose data is not a whole number of 32-bit words, or longer
    /// than the 16-bit length field can say.
    #[error("header extension of {0} bytes: must be a multiple of 4 and at most 262140")]
    BadExtensionLength(usize),
    /// The output buffer is too small for the packet.
    #[error("buffer of {available} bytes too small for a {needed}-byte RTP packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

impl RtpError {
    /// A short stable name for a drop counter (`rtp_dropped_total{reason=..}`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::BadVersion(_) => "version",
            Self::BadPadding { .. } => "padding",
            Self::PayloadTypeOutOfRange(_) => "payload_type",
            Self::TooManyCsrcs(_) => "csrc_count",
            Self::BadExtensionLength(_) => "extension_length",
            Self::BufferTooSmall { .. } => "buffer_too_small",
        }
    }
}
