//! An adaptive jitter buffer in front of each decoder: it takes RTP packets as they
//! arrive (`push(now, packet)`) and releases them in sequence order at their playout
//! time (`pop(now)`), reporting holes as [`Playout::Lost`] so the decoder can conceal.
//!
//! ## Timing model
//! A packet's playout time is its media time (RTP timestamp over the clock rate) plus
//! the stream's reference transit plus the current delay. The reference transit is the
//! lowest `arrival - media time` seen (it follows a lower value at once and creeps up
//! slowly, to track clock drift), so the delay is what a packet may be late by compared
//! with the fastest one. The delay targets three times the RFC 3550 interarrival jitter
//! estimate (section 6.4.1, appendix A.8), clamped to `min_delay_ms..=max_delay_ms`
//! (20-200 ms by default): it rises at once when jitter grows and falls back by at most
//! 0.5 ms per packet when the network calms, so the output speeds up gently rather than
//! jumping. Silence in the sender's timestamps (DTX) is kept as silence.
//!
//! `pop(now)` returns, in order: the next packet once its playout time has come; or
//! `Lost(n)` for missing packets whose playout time (interpolated between the packets
//! around the hole) has passed while a later packet waits; or `Empty`. A packet that
//! arrives after its turn was played or declared lost is `Late` and dropped; a second
//! copy of a buffered packet is a `Duplicate`. All are counted in [`JitterStats`].
//!
//! ## Streams
//! A new SSRC resets the stream (buffered packets of the old one are flushed and
//! counted) and later packets of the old SSRC are dropped as stale. A packet outside the
//! window (`capacity_packets` around the next to play) is dropped unless the next packet
//! continues from it: then the sender has jumped its sequence (a restart), and the
//! buffer resynchronizes on it. A gap longer than the window is therefore a resync, not
//! a `Lost(n)`: the caller sees `Empty` meanwhile and plays comfort noise or silence.
//! The delay estimate survives both, as the network path is the same.
//!
//! ## Memory
//! The ring of slots is allocated at construction, each with `slot_bytes` of payload
//! room; a slot grows only when a payload larger than any before it lands in it (up to
//! `max_payload_bytes`), so after warm-up push and pop allocate nothing.

mod buffer;
mod delay;

pub use buffer::JitterBuffer;

use thiserror::Error;

/// Sizing and delay bounds of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// The payload's RTP clock rate (8000 for G.711, 48000 for Opus).
    pub clock_rate_hz: u32,
    /// Lowest playout delay.
    pub min_delay_ms: u32,
    /// Highest playout delay.
    pub max_delay_ms: u32,
    /// Delay before any jitter has been measured.
    pub initial_delay_ms: u32,
    /// Ring size in packets (rounded up to a power of two); also the reorder window.
    pub capacity_packets: usize,
    /// Payload bytes preallocated per slot (160 is a 20 ms G.711 frame).
    pub slot_bytes: usize,
    /// Larger payloads are refused ([`PushOutcome::TooLarge`]).
    pub max_payload_bytes: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            clock_rate_hz: 8000,
            min_delay_ms: 20,
            max_delay_ms: 200,
            initial_delay_ms: 40,
            capacity_packets: 64,
            slot_bytes: 160,
            max_payload_bytes: 1500,
        }
    }
}

/// A configuration the buffer cannot work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JitterError {
    /// A value out of range; the text says which and why.
    #[error("invalid jitter buffer configuration: {0}")]
    InvalidConfig(&'static str),
}

/// What `push` did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushOutcome {
    /// Stored for playout.
    Buffered,
    /// Its turn has passed (played or declared lost): dropped.
    Late,
    /// A copy of a packet already buffered: dropped.
    Duplicate,
    /// Payload larger than `max_payload_bytes`: dropped.
    TooLarge,
    /// Far outside the window and not (yet) confirmed as a sequence jump: dropped.
    OutOfWindow,
    /// From an SSRC the stream has moved away from: dropped.
    StaleSource,
}

/// One packet released for decoding. The payload borrows the buffer's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutPacket<'a> {
    /// Unwrapped sequence number.
    pub ext_seq: u64,
    /// Unwrapped timestamp.
    pub ext_ts: u64,
    /// The RTP timestamp as received.
    pub rtp_timestamp: u32,
    /// The marker bit (start of a talkspurt).
    pub marker: bool,
    /// The payload type, to pick the decoder.
    pub payload_type: u8,
    /// The codec payload.
    pub payload: &'a [u8],
}

/// What `pop` has for the decoder now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// The next packet in order.
    Packet(PlayoutPacket<'a>),
    /// This many packets in a row are missing and their time has come: conceal them.
    Lost(u32),
    /// Nothing to play yet; see [`JitterBuffer::poll_timeout`].
    Empty,
}

impl<'a> Playout<'a> {
    /// A packet carrying just `payload` (numbering zeroed): for feeding a decoder
    /// directly, without a jitter buffer in front (tests, benchmarks, a bridge fed
    /// in order).
    pub fn payload(payload: &'a [u8]) -> Self {
        Self::Packet(PlayoutPacket {
            ext_seq: 0,
            ext_ts: 0,
            rtp_timestamp: 0,
            marker: false,
            payload_type: 0,
            payload,
        })
    }
}

/// Counters since construction. Drops are split by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed.
    pub received: u64,
    /// Packets released by `pop`.
    pub played: u64,
    /// Packets reported as `Lost`.
    pub lost: u64,
    /// Packets dropped as late.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicate: u64,
    /// Packets dropped as too large.
    pub too_large: u64,
    /// Packets dropped outside the window.
    pub out_of_window: u64,
    /// Packets dropped from a replaced SSRC.
    pub stale_source: u64,
    /// Changes of SSRC.
    pub source_changes: u64,
    /// Resynchronizations on a confirmed sequence jump.
    pub resyncs: u64,
    /// Buffered packets discarded by a source change, resync or reset.
    pub flushed: u64,
}

#[cfg(test)]
mod tests;
