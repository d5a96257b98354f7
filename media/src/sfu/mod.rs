//! Rooms and supervisor modes: which member of a room hears which, and how their audio
//! gets there, on top of one shard's [`crate::webrtc::MediaCore`]. Sans-IO, like the
//! core.
//!
//! ## Why a separate [`Sfu`] that wraps the core
//! The core's job is WebRTC termination (ICE-lite, DTLS-SRTP, demultiplexing one
//! socket); rooms are a policy on top of it, so they live in their own type rather than
//! as methods of `MediaCore`. The `Sfu` owns its core instead of being handed its
//! events because forwarding belongs inside the input call: a frame that arrives in
//! [`Sfu::handle_datagram`] is written to its subscribers before that call returns, with
//! no hop through the caller's queue, and the rooms see every frame and every
//! disconnect before anyone else. The `Sfu` keeps the core's shape (the same
//! `handle_*`, `poll_*` and peer commands, plus room commands), so the shell drives one
//! or the other the same way, and a shard that only bridges to SIP can keep using the
//! bare core.
//!
//! ## Who hears whom
//! A member joins a room as a [`Role::Participant`] (agent, customer, colleague) or a
//! [`Role::Supervisor`] (who starts in [`SupervisorMode::Listen`]). Everyone hears every
//! participant but themselves; a supervisor is heard by nobody in `Listen`, by the one
//! participant named in `Whisper`, by everyone in `Barge`. A muted member is heard by
//! nobody. What a member hears is then a route:
//!
//! | hears | route | what the subscriber gets |
//! |---|---|---|
//! | nobody | silent | nothing (its stream pauses) |
//! | one member | forward | that member's frames, payload bytes unchanged (no transcoding) |
//! | two or more | mix | decode each, sum, encode one Opus stream for this subscriber |
//!
//! So two participants forward to each other; a listening supervisor gets a mix of
//! both; whisper turns the agent's route into a mix of customer and supervisor; barge
//! does that for both participants.
//!
//! ## One continuous stream per subscriber
//! str0m numbers the RTP sequence of every frame written, so what this layer must keep
//! continuous is the `rtp_time` it writes with. Each subscriber has a
//! [`crate::munger::Forwarder`] that decides (pinned to the member it hears, or to its
//! mix, and muted while silent) and a [`crate::munger::Munger`] that rewrites the source's
//! timestamps onto the subscriber's timeline: unchanged offsets within a source, and at
//! a change of source (forward to mix and back, a member replaced) or after a pause (a
//! mute) a jump by the wall time elapsed, with the marker bit set. Forwarded and mixed
//! frames are one stream to the browser.
//!
//! ## Mixing at 48 kHz
//! Members are browsers sending fullband Opus. Mixing at 8 kHz would turn a supervised
//! call into telephone audio the moment a supervisor whispers, and the switch between a
//! forwarded (fullband) and a mixed (narrowband) stream would be heard. Decoding 48 kHz
//! Opus costs more than narrowband (about 25 us per frame against 4, see
//! `../shared/MEASURED.md`), but only mixes pay it: each source feeding a mix is decoded
//! once per frame, whatever the number of mixes it feeds, and each mixed subscriber is
//! encoded once, so a barged call costs three decodes and three encodes per 20 ms and a
//! plain two-party call none. The [`Mixer`] takes its frame size as a parameter, so the
//! bridge can mix the PSTN side at 8 kHz with the same type.
//!
//! Mixing runs on one 20 ms tick for the shard ([`Sfu::poll_timeout`] names it while any
//! room mixes). A source feeding a mix goes through its own jitter buffer and decoder
//! (libopus concealment for losses, a short backlog for clock drift) and yields one
//! frame per tick; the [`Mixer`] sums the frames in 32 bits and saturates once to 16.
//!
//! ## Allocation
//! Forwarding a frame looks up the sender's room, scans the room's members, decides,
//! munges and hands str0m a clone of the received `Arc` payload: nothing is allocated
//! here (str0m allocates its RTP packet and datagram). Decoders, the mixer and the
//! encoders work in buffers sized when a route first needs them; the one allocation per
//! mixed frame is the `Arc` that carries its encoded payload into str0m.
//!
//! ## Events
//! Audio frames of room members are consumed by their room; every other
//! [`crate::webrtc::MediaEvent`] (connections, disconnects, DTMF, audio of peers in no
//! room) passes through [`Sfu::poll_event`]. A member whose peer disconnects leaves its
//! room.

mod downtrack;
mod hearing;
mod mixer;
mod room;
mod shard;
mod source;

pub use self::mixer::Mixer;
pub use self::shard::Sfu;

use std::fmt;

use thiserror::Error;

use crate::webrtc::{MediaError, PeerId};

/// The sample rate rooms mix at: browsers' Opus, fullband. See the module docs.
pub const MIX_RATE_HZ: u32 = 48_000;
/// Samples in one 20 ms mixing frame at [`MIX_RATE_HZ`].
pub const MIX_FRAME: usize = 960;
/// The most members a room holds (what each member hears is a 64-bit set).
pub const MAX_MEMBERS: usize = 64;

/// Identifies one room of an [`Sfu`]; never reused by that `Sfu`, and unique across
/// the shards of a gateway like a [`PeerId`] (its shard in the top bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(u64);

impl RoomId {
    /// The number behind the id, for logs and metrics labels.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The shard whose [`Sfu`] has (or had) this room; its members are that shard's.
    pub fn shard(self) -> u16 {
        crate::webrtc::split_shard(self.0).0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::webrtc::write_numbered(f, "room", self.0)
    }
}

/// How a member takes part in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A party to the call (an agent, a customer, a colleague): heard by everyone.
    Participant,
    /// Someone supervising the call: heard as its [`SupervisorMode`] says.
    Supervisor,
}

/// What a supervisor's voice reaches. A supervisor always hears every participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SupervisorMode {
    /// Heard by nobody.
    #[default]
    Listen,
    /// Heard by this participant only (the agent being coached).
    Whisper {
        /// The participant who hears the supervisor.
        to: PeerId,
    },
    /// Heard by everyone in the room.
    Barge,
}

/// A command to the rooms of an [`Sfu`], for a shell that receives them over a channel
/// ([`Sfu::apply`]). Each is also a method of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomCommand {
    /// [`Sfu::create_room`].
    Create,
    /// [`Sfu::close_room`].
    Close(RoomId),
    /// [`Sfu::join`].
    Join {
        /// The room.
        room: RoomId,
        /// A peer of the core.
        peer: PeerId,
        /// How it takes part.
        role: Role,
    },
    /// [`Sfu::leave`].
    Leave(PeerId),
    /// [`Sfu::set_supervisor_mode`].
    SetSupervisorMode {
        /// A supervisor in a room.
        supervisor: PeerId,
        /// The new mode.
        mode: SupervisorMode,
    },
    /// [`Sfu::set_muted`].
    SetMuted {
        /// A member of a room.
        peer: PeerId,
        /// Muted (heard by nobody) or not.
        muted: bool,
    },
}

impl RoomCommand {
    /// The shard whose [`Sfu`] applies this command: its room's, or its peer's; `None`
    /// for [`Self::Create`], which any shard can do. A shell over several shards
    /// routes by it.
    pub fn shard(&self) -> Option<u16> {
        match *self {
            Self::Create => None,
            Self::Close(room) | Self::Join { room, .. } => Some(room.shard()),
            Self::Leave(peer)
            | Self::SetSupervisorMode {
                supervisor: peer, ..
            }
            | Self::SetMuted { peer, .. } => Some(peer.shard()),
        }
    }
}

/// Why a room command failed. Nothing changed, except after [`SfuError::Codec`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SfuError {
    /// No room with this id (never created, or closed).
    #[error("{0} is unknown (never created, or closed)")]
    UnknownRoom(RoomId),
    /// The peer is not (or no longer) a peer of the core.
    #[error("{0} is unknown to the media core (never added, or gone)")]
    UnknownPeer(PeerId),
    /// A peer is in one room at a time.
    #[error("{peer} is already in {room}; it must leave first")]
    AlreadyInRoom {
        /// The peer.
        peer: PeerId,
        /// The room it is in.
        room: RoomId,
    },
    /// The peer is in no room.
    #[error("{0} is in no room")]
    NotInRoom(PeerId),
    /// Supervisor modes apply to supervisors only.
    #[error("{0} joined as a participant, not a supervisor")]
    NotASupervisor(PeerId),
    /// A whisper goes to a participant of the supervisor's own room.
    #[error("{supervisor} cannot whisper to {to}: not a participant of its room")]
    WhisperTargetNotParticipant {
        /// The supervisor.
        supervisor: PeerId,
        /// The peer named.
        to: PeerId,
    },
    /// The room already holds [`MAX_MEMBERS`] members.
    #[error("{0} is full ({MAX_MEMBERS} members)")]
    RoomFull(RoomId),
    /// The room owns what a member receives; frames cannot be written to it directly.
    #[error("{0} is in a room, which owns what it receives")]
    InRoom(PeerId),
    /// libopus refused to build a decoder or encoder for a mix. The command took
    /// effect, but the mixes that needed the codec are silent.
    #[error("the mixer's Opus codec could not be set up: {0}")]
    Codec(String),
    /// The media core refused the command.
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// What [`Sfu::apply`] returns: the id of a room it created, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandOutcome {
    /// The command is done.
    Done,
    /// [`RoomCommand::Create`] made this room.
    Created(RoomId),
}

/// Counters of the rooms, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuCounters {
    /// Frames forwarded unchanged to a subscriber.
    pub frames_forwarded: u64,
    /// Mixed frames encoded and written to a subscriber.
    pub frames_mixed: u64,
    /// Frames the core refused to write (e.g. a codec the subscriber did not negotiate).
    pub write_errors: u64,
    /// Frames of a mix's source that libopus could not decode (concealed instead).
    pub decode_errors: u64,
    /// Frames of a mix's source concealed for loss.
    pub concealed_frames: u64,
}

#[cfg(test)]
mod tests;
