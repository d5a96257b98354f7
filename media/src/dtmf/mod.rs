//! DTMF as RFC 4733 telephone-events: the 4-byte payload, a sender that turns a digit
//! and a duration into the packet sequence carriers expect, and a receiver that turns
//! packets back into exactly one digit per key press.
//!
//! Both are sans-IO. The sender is driven by `poll_packet(now, media_ts)` and says when
//! to call again with `poll_timeout`; it does not own the RTP sequence number or SSRC,
//! because telephone-events share them with the audio of the same stream: the caller
//! stamps each [`DtmfPacket`] as its next RTP packet (with the telephone-event payload
//! type) and sends no audio while [`DtmfSender::is_sending`] is true. The receiver takes
//! the RTP timestamp and payload of each telephone-event packet and yields
//! [`DtmfEvent`]s from `poll_event`; a lost end is closed by `handle_timeout`.
//!
//! Packets bypass the jitter buffer: the receiver tolerates reordering, duplicates and
//! loss on its own, keyed by the event's RTP timestamp as RFC 4733 section 2.5.2 says.

mod event;
mod receiver;
mod sender;

pub use event::{DtmfDigit, TelephoneEvent};
pub use receiver::{DtmfEvent, DtmfReceiver, DtmfReceiverConfig, DtmfTone, EndReason};
pub use sender::{DtmfPacket, DtmfSender, DtmfSenderConfig};

use thiserror::Error;

/// The largest value of the 16-bit duration field; longer events are split into
/// segments (RFC 4733 section 2.5.1.3).
pub const MAX_SEGMENT_DURATION: u16 = u16::MAX;

/// A DTMF failure: a malformed payload from the peer, or a request the sender cannot
/// honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// A telephone-event payload shorter than its 4 bytes.
    #[error("telephone-event payload of {len} bytes, expected 4")]
    ShortPayload {
        /// Bytes present.
        len: usize,
    },
    /// A character that is not one of `0-9 * # A-D`.
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit(char),
    /// A tone of zero length (or shorter than one sample at the clock rate).
    #[error("a DTMF tone must last at least one sample")]
    ZeroDuration,
    /// The sender's queue of pending digits is full.
    #[error("DTMF queue full ({capacity} digits pending)")]
    QueueFull {
        /// The configured capacity.
        capacity: usize,
    },
    /// A configuration value out of range; the text says which and why.
    #[error("invalid DTMF configuration: {0}")]
    InvalidConfig(&'static str),
}

#[cfg(test)]
mod tests;
