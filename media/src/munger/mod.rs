//! Per-subscriber forwarding in the SFU, split LiveKit-style into two one-job types:
//!
//! - [`Forwarder`] only decides: for each incoming packet's SSRC, forward or drop (a
//!   source that is not selected, a replaced one, a muted or held subscriber), and
//!   whether the forwarded packet continues the stream, starts a new source, or resumes
//!   after a pause.
//! - [`Munger`] only rewrites: SSRC, sequence number and timestamp, so the subscriber
//!   sees one continuous stream. Within a source the offsets are fixed (so upstream loss
//!   stays visible as a gap and reordering stays reordering). At a new source or a
//!   resume the output sequence continues at +1 and the timestamp jumps by the wall time
//!   elapsed since the last packet sent, in clock units, and by at least one frame (the
//!   source's shortest step, at most 20 ms: a longer step may be a DTX pause); the
//!   marker bit is set so the subscriber's jitter buffer resynchronizes.
//!
//! The same pair keeps a SIP leg's outgoing stream continuous across hold/unhold and a
//! change of the far side's SSRC. Per packet neither allocates; the caller applies the
//! result in place with [`MungedHeader::apply`].

mod forwarder;
mod rewrite;

pub use forwarder::{Continuity, DropReason, ForwardDecision, Forwarder, SourcePolicy};
pub use rewrite::{MungeError, MungedHeader, Munger, MungerConfig, SourcePacket};

#[cfg(test)]
mod tests;
