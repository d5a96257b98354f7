//! WebRTC termination: every browser peer of one shard, on one UDP socket, in one
//! sans-IO [`MediaCore`] built on str0m.
//!
//! ## Why it is shaped so
//! A gateway answers browsers, it never dials them, and it sits on a public address: so
//! each peer is an ICE-lite `str0m::Rtc` that answers the browser's SDP offer with one
//! host candidate per configured public IP, all on the one shared port. One socket for
//! every peer means one loop owns it and demultiplexes each datagram to the peer it
//! belongs to ([`MediaCore::handle_datagram`]): a STUN binding request by the local ICE
//! username fragment it names, anything else by the remote address that ICE has proved.
//! A datagram no peer accepts is counted and dropped, so a stray or hostile packet
//! cannot touch any peer but the one whose proven address it comes from.
//!
//! The core owns no socket, no clock and no thread. Its shell (a tokio task, a later
//! step) reads the socket and the clock and turns them into calls:
//!
//! ```text
//! loop {
//!     // inputs, each with the time it happened
//!     core.handle_datagram(now, source, destination, &bytes);   // a datagram arrived
//!     core.handle_timeout(now);                                 // poll_timeout passed
//!     core.add_peer(now, offer) / remove_peer / write_audio(..) // commands
//!     // then drain, before waiting again
//!     while let Some(t) = core.poll_transmit() { socket.send_to(&t.contents, t.destination) }
//!     while let Some(e) = core.poll_event() { /* to call control */ }
//!     sleep_until(core.poll_timeout()) or the next datagram or command
//! }
//! ```
//!
//! str0m's rule ("one mutation, then poll until `Timeout`") is kept inside the core:
//! after every input or command the peers it touched are drained at once into the
//! core's queues, so the shell may call inputs and commands in any order and drain the
//! queues whenever it likes.
//!
//! ## What a peer carries
//! One audio m-line: Opus 48 kHz with in-band FEC (str0m's default Opus parameters),
//! PCMU and PCMA when the browser offers them, and telephone-event at 48 and 8 kHz.
//! Incoming audio is handed on frame by frame as [`MediaEvent::Audio`], unreordered
//! (the jitter buffer downstream reorders and conceals: see [`crate::jitter`]);
//! telephone-events go through a [`crate::dtmf::DtmfReceiver`] per peer and come out as
//! [`MediaEvent::Dtmf`], one `Began` and one `Ended` per key press.
//!
//! ## Security
//! DTLS-SRTP with the fingerprint of the offer verified by str0m: a peer whose
//! certificate does not match its `a=fingerprint` is disconnected with
//! [`DisconnectReason::CertificateMismatch`] and is never reported connected. All peers
//! of a core present one DTLS certificate, generated when the core is built (as a
//! media server with one identity would), which spares a key generation per call.

mod answer;
mod config;
mod core;
mod demux;
mod peer;
mod rtp_io;
mod schedule;

pub use self::answer::narrowband_opus;
pub use self::config::WebRtcConfig;
pub use self::core::{CoreCounters, MediaCore};
pub use self::peer::KeyPress;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;

use crate::dtmf::DtmfEvent;

/// Identifies one WebRTC peer of a [`MediaCore`]; never reused by that core, and
/// unique across the cores of one gateway: the core's shard
/// ([`WebRtcConfig::shard`]) is in its top [`SHARD_BITS`] bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(u64);

/// The bits of a [`PeerId`] (and of an `sfu::RoomId`) above the count, naming the
/// shard that gave it out.
pub const SHARD_BITS: u32 = 16;
/// Where the shard's number starts in an id.
pub(crate) const SHARD_SHIFT: u32 = u64::BITS - SHARD_BITS;

impl PeerId {
    /// The number behind the id, for logs and metrics labels.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The shard of the core that has (or had) this peer.
    pub fn shard(self) -> u16 {
        split_shard(self.0).0
    }

    /// The `n`th peer of `shard` (n from 1): how a core numbers its peers.
    pub(crate) fn numbered(shard: u16, n: u64) -> Self {
        Self(with_shard(shard, n))
    }

    /// The id numbered `n`, for stand-ins of the core (the SFU bench's bare str0m
    /// forwarder). A core numbers its own peers; an id it never gave out is refused
    /// as [`MediaError::UnknownPeer`].
    #[doc(hidden)]
    pub fn from_raw(n: u64) -> Self {
        Self(n)
    }

    /// An id no core handed out, for tests of what is keyed by peers.
    #[cfg(test)]
    pub(crate) fn for_test(id: u64) -> Self {
        Self(id)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_numbered(f, "peer", self.0)
    }
}

/// `n` (below 2^48) as the `n`th id of `shard`.
pub(crate) fn with_shard(shard: u16, n: u64) -> u64 {
    u64::from(shard) << SHARD_SHIFT | n
}

/// An id's shard and its number within the shard.
pub(crate) fn split_shard(raw: u64) -> (u16, u64) {
    // The shift leaves SHARD_BITS = 16 bits: the cast loses nothing.
    #[allow(clippy::cast_possible_truncation)]
    let shard = (raw >> SHARD_SHIFT) as u16;
    (shard, raw & ((1 << SHARD_SHIFT) - 1))
}

/// `kind-n` for shard 0 (a gateway with one shard names ids as it always did), else
/// `kind-shard.n`.
pub(crate) fn write_numbered(f: &mut fmt::Formatter<'_>, kind: &str, raw: u64) -> fmt::Result {
    match split_shard(raw) {
        (0, n) => write!(f, "{kind}-{n}"),
        (shard, n) => write!(f, "{kind}-{shard}.{n}"),
    }
}

/// The audio codecs a browser peer may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// Opus (RFC 7587), RTP clock 48 kHz whatever the coded bandwidth.
    Opus,
    /// G.711 mu-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
}

impl AudioCodec {
    /// The RTP clock rate of the codec.
    pub fn clock_rate_hz(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            Self::Pcmu | Self::Pcma => 8_000,
        }
    }

    /// The G.711 law, for the PCM codecs.
    pub fn law(self) -> Option<crate::Law> {
        match self {
            Self::Opus => None,
            Self::Pcmu => Some(crate::Law::Ulaw),
            Self::Pcma => Some(crate::Law::Alaw),
        }
    }

    pub(crate) fn from_str0m(codec: str0m::format::Codec) -> Option<Self> {
        use str0m::format::Codec;
        match codec {
            Codec::Opus => Some(Self::Opus),
            Codec::PCMU => Some(Self::Pcmu),
            Codec::PCMA => Some(Self::Pcma),
            _ => None,
        }
    }
}

/// Why a peer is gone. Each peer that was added is reported gone exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// [`MediaCore::remove_peer`] was called.
    Removed,
    /// The browser's DTLS certificate does not match the `a=fingerprint` of its offer
    /// (or names a hash function str0m cannot check): a possible man in the middle.
    CertificateMismatch,
    /// ICE and DTLS did not complete within `connect_timeout` of the offer (the
    /// browser never came, or its packets cannot reach us).
    ConnectTimeout,
    /// ICE connectivity was lost: the browser stopped sending consent checks.
    IceDisconnected,
    /// The browser closed the DTLS association.
    ClosedByPeer,
    /// DTLS failed during the handshake (an alert, a malformed handshake); the text is
    /// str0m's, for logs only.
    DtlsFailed(String),
    /// str0m reported another failure of the session; the text is for logs only.
    Failed(String),
}

/// A datagram to send from the shared socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local address (one of the host candidates) it must leave from.
    pub source: SocketAddr,
    /// Where to send it.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// What the core reports, in order, from [`MediaCore::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// ICE, DTLS and SRTP are up: audio can flow both ways.
    PeerConnected(PeerId),
    /// The peer is gone and its id is forgotten by the core.
    PeerDisconnected(PeerId, DisconnectReason),
    /// One audio frame from the browser, in arrival order (not reordered).
    Audio {
        /// From whom.
        peer: PeerId,
        /// The codec of the frame (by its payload type).
        codec: AudioCodec,
        /// The RTP sequence number, unwrapped.
        ext_seq: u64,
        /// The RTP timestamp, unwrapped, in `codec.clock_rate_hz()` units.
        rtp_time: u64,
        /// False when packets were lost or reordered right before this one.
        contiguous: bool,
        /// The codec payload, shared and not copied.
        payload: Arc<[u8]>,
    },
    /// A telephone-event (RFC 4733) key press from the browser, decoded by the peer's
    /// [`crate::dtmf::DtmfReceiver`].
    Dtmf {
        /// From whom.
        peer: PeerId,
        /// `Began` once, then `Ended` once, per key press.
        event: DtmfEvent,
    },
}

/// Why a command to the core failed; the core and its other peers are unaffected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The configuration cannot work; the text says what to change.
    #[error("invalid WebRTC configuration: {0}")]
    InvalidConfig(&'static str),
    /// The offer is not SDP str0m can parse.
    #[error("the SDP offer does not parse: {0}")]
    BadOffer(String),
    /// str0m refused the offer (no m-line, both sides ICE-lite, no fingerprint, ...).
    #[error("the SDP offer was refused: {0}")]
    OfferRefused(String),
    /// The offer has no audio m-line with a codec we take (Opus, PCMU, PCMA).
    #[error("no common audio codec: the offer needs Opus, PCMU or PCMA")]
    NoCommonCodec,
    /// No peer with this id (never added, or already gone).
    #[error("{0} is unknown (removed or disconnected)")]
    UnknownPeer(PeerId),
    /// The peer's audio m-line does not let us send (it is recvonly or inactive).
    #[error("{0} does not receive audio from us (its m-line is recvonly or inactive)")]
    NotSending(PeerId),
    /// The codec was not negotiated with this peer.
    #[error("{codec:?} was not negotiated with {peer}")]
    CodecNotNegotiated {
        /// The peer.
        peer: PeerId,
        /// The codec asked for.
        codec: AudioCodec,
    },
    /// str0m refused to send the media (e.g. a DTMF event overlapping the previous one).
    #[error("{peer} refused the media write: {detail}")]
    WriteRefused {
        /// The peer.
        peer: PeerId,
        /// str0m's reason, for logs only.
        detail: String,
    },
}

#[cfg(test)]
pub(crate) mod tests;
