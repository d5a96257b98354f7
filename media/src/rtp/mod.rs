//! RTP packets (RFC 3550 section 5): a zero-copy view over a received datagram, a
//! writer for the packets we send, and unwrapping of the 16-bit sequence number and
//! 32-bit timestamp into monotonic 64-bit counters (`ext_seq`, `ext_ts`).
//!
//! Everything here works on caller-owned bytes: parsing borrows the datagram, writing
//! fills a caller's buffer, and [`rewrite_header`] patches a packet in place for the SFU.
//! Nothing allocates and nothing panics on network input: a malformed datagram is an
//! [`RtpError`] whose [`RtpError::label`] names a counter for it.

mod error;
mod packet;
mod unwrap;
mod writer;

pub use error::RtpError;
pub use packet::{Csrcs, HeaderExtension, RtpPacket};
pub use unwrap::{SeqUnwrapper, TimestampUnwrapper};
pub use writer::{rewrite_header, RtpHeader};

/// The RTP version this crate speaks (RFC 3550: 2).
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed header, before CSRCs and the extension.
pub const FIXED_HEADER_LEN: usize = 12;
/// The most CSRCs a header can carry (the CC field is 4 bits).
pub const MAX_CSRCS: usize = 15;
