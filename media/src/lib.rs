//! # dcx-media: the media plane of dcx
//!
//! Where this crate is going: WebRTC endpoints and the SFU on str0m (one UDP socket for
//! all peers, ICE-lite, DTLS-SRTP), the bridge toward the SIP leg (Opus 48 kHz <-> G.711
//! 8 kHz through libopus), recording and supervisor mixing. Those arrive with str0m and
//! libopus in later steps. What is here now are the pure parts they stand on:
//!
//! - [`rtp`]: RTP header view, writer and in-place rewrite; `ext_seq`/`ext_ts` unwrapping.
//! - [`g711`]: mu-law and A-law, table-driven, checked against the Recommendation's levels.
//! - [`dtmf`]: RFC 4733 telephone-events: payload codec, a sender that paces a digit into
//!   the packets a carrier expects, a receiver that turns packets into one digit each.
//! - [`jitter`]: an adaptive jitter buffer (20-200 ms) in front of each decoder.
//! - [`munger`]: the SFU's per-subscriber [`munger::Forwarder`] (decides) and
//!   [`munger::Munger`] (rewrites SSRC, sequence numbers and timestamps).
//! - [`tone`]: sine generation and frequency checks (Goertzel, zero crossings) for tests
//!   and hold audio.
//! - [`webrtc`]: the [`webrtc::MediaCore`], every browser peer of a shard on one UDP
//!   socket (str0m, ICE-lite, DTLS-SRTP with the offer's fingerprint verified), sans-IO.
//! - [`sfu`]: rooms over that core ([`sfu::Sfu`]): browser-to-browser forwarding without
//!   transcoding, and supervisor listen, whisper and barge through a 48 kHz [`sfu::Mixer`].
//! - [`recording`]: a call into a stereo WAV file, one side left, the other right. The
//!   sans-IO [`recording::Interleaver`] aligns the sides on one sample timeline; the
//!   [`recording::Recorder`] takes frames from the media loop without blocking (a copy
//!   and a `try_send` on a bounded queue) and writes them on its own thread: the one
//!   place this crate does file I/O and runs a thread, kept off the media path.
//!
//! ## Rules
//! - Sans-IO: no sockets, no threads, no sleeping, no `Instant::now()`. Time comes in as
//!   an `Instant` argument (`now`); state machines are driven by `handle_*`/`push` and
//!   drained by `poll_*`/`pop`, and say when to call them again with `poll_timeout`.
//! - Network input never panics: malformed packets are error values or counted drops.
//! - The per-packet paths (parse, G.711, jitter push/pop, forward/munge) do not allocate
//!   once their buffers exist; buffers are sized at construction.
//! - Counters carry their units in their names: `clock_rate_hz`, `ptime_ms`, `ext_seq`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bridge;
pub mod dtmf;
mod fast_hash;
pub mod g711;
pub mod jitter;
pub mod munger;
pub mod recording;
pub mod rtp;
pub mod sfu;
pub mod tone;
pub mod webrtc;

pub use g711::Law;
pub use rtp::{RtpError, RtpHeader, RtpPacket, SeqUnwrapper, TimestampUnwrapper};
