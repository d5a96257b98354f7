//! [`Sfu`]: one shard's [`MediaCore`] and its rooms. See [`super`] for why it wraps the
//! core and how a frame reaches its subscribers.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::room::{Frame, MixScratch, Room};
use super::{CommandOutcome, Role, RoomCommand, RoomId, SfuCounters, SfuError, SupervisorMode};
use crate::fast_hash::FastMap;
use crate::webrtc::{AudioCodec, KeyPress, MediaCore, MediaError, MediaEvent, PeerId, Transmit};

/// The mixing frame: one tick of every room's mixes.
const MIX_TICK: Duration = Duration::from_millis(20);
/// Ticks run in one call when the shell comes late; beyond that the missed ones are
/// skipped (a few frames of the mixes are lost rather than sent in a burst).
const MAX_CATCH_UP_TICKS: u32 = 5;

/// The rooms of one shard, over its [`MediaCore`]. Inputs are `handle_*`, peer and room
/// commands; outputs are drained with `poll_transmit`, `poll_event` and `poll_timeout`,
/// exactly as with the core (whose run loop is in [`crate::webrtc`]).
///
/// - getters: [`Self::core`], [`Self::counters`], [`Self::room_of`], [`Self::members`];
/// - peer commands: [`Self::add_peer`], [`Self::remove_peer`], [`Self::write_audio`],
///   [`Self::send_dtmf`] (the last two for peers in no room);
/// - room commands: [`Self::create_room`], [`Self::close_room`], [`Self::join`],
///   [`Self::leave`], [`Self::set_supervisor_mode`], [`Self::set_muted`], or any of them
///   as a [`RoomCommand`] through [`Self::apply`];
/// - inputs: [`Self::handle_datagram`], [`Self::handle_timeout`];
/// - outputs: [`Self::poll_transmit`], [`Self::poll_event`], [`Self::poll_timeout`].
pub struct Sfu {
    core: MediaCore,
    /// Looked up for every frame.
    rooms: FastMap<RoomId, Room>,
    /// The rooms that mix, in order: they tick in the same order on every run of a
    /// simulation.
    mixing: BTreeSet<RoomId>,
    /// Looked up for every frame; only looked up, so its order does not matter.
    room_of: FastMap<PeerId, RoomId>,
    next_room: u64,
    events: VecDeque<MediaEvent>,
    /// The next mixing tick, while some room mixes.
    next_mix: Option<Instant>,
    scratch: MixScratch,
    counters: SfuCounters,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("core", &self.core)
            .field("rooms", &self.rooms.len())
            .field("members", &self.room_of.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Sfu {
    /// Rooms over `core`, which may already have peers.
    pub fn new(core: MediaCore) -> Self {
        Self {
            core,
            rooms: FastMap::default(),
            mixing: BTreeSet::new(),
            room_of: FastMap::default(),
            next_room: 1,
            events: VecDeque::new(),
            next_mix: None,
            scratch: MixScratch::new(),
            counters: SfuCounters::default(),
        }
    }

    // ---- getters ----

    /// The media core, for its counters and peers.
    pub fn core(&self) -> &MediaCore {
        &self.core
    }

    /// The rooms' counters so far.
    pub fn counters(&self) -> SfuCounters {
        self.counters
    }

    /// The room `peer` is in.
    pub fn room_of(&self, peer: PeerId) -> Option<RoomId> {
        self.room_of.get(&peer).copied()
    }

    /// The members of `room`, in the order they joined, with their roles.
    pub fn members(&self, room: RoomId) -> Result<Vec<(PeerId, Role)>, SfuError> {
        let room = self.rooms.get(&room).ok_or(SfuError::UnknownRoom(room))?;
        Ok(room
            .peers()
            .filter_map(|p| Some((p, room.role_of(p)?)))
            .collect())
    }

    // ---- peer commands ----

    /// [`MediaCore::add_peer`]: answers a browser's offer; the peer is in no room.
    pub fn add_peer(
        &mut self,
        now: Instant,
        offer_sdp: &str,
    ) -> Result<(PeerId, String), MediaError> {
        let added = self.core.add_peer(now, offer_sdp);
        self.pump(now);
        added
    }

    /// [`MediaCore::add_peer_with`]: the answer asks for narrowband Opus when
    /// `narrowband` (a peer bridged to G.711).
    pub fn add_peer_with(
        &mut self,
        now: Instant,
        offer_sdp: &str,
        narrowband: bool,
    ) -> Result<(PeerId, String), MediaError> {
        let added = self.core.add_peer_with(now, offer_sdp, narrowband);
        self.pump(now);
        added
    }

    /// [`MediaCore::renegotiate`]: a peer's new offer (an ICE restart), in or out of a
    /// room.
    pub fn renegotiate(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        let answer = self.core.renegotiate(now, peer, offer_sdp);
        self.pump(now);
        answer
    }

    /// [`MediaCore::remove_peer`], after the peer leaves its room.
    pub fn remove_peer(&mut self, now: Instant, peer: PeerId) -> Result<(), MediaError> {
        self.forget_member(now, peer);
        let removed = self.core.remove_peer(peer);
        self.pump(now);
        removed
    }

    /// [`MediaCore::write_audio`], for a peer in no room (e.g. bridged to a SIP leg).
    pub fn write_audio(
        &mut self,
        now: Instant,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        payload: impl Into<Arc<[u8]>>,
    ) -> Result<(), SfuError> {
        if self.room_of.contains_key(&peer) {
            return Err(SfuError::InRoom(peer));
        }
        let written = self.core.write_audio(now, peer, codec, rtp_time, payload);
        self.pump(now);
        Ok(written?)
    }

    /// [`MediaCore::send_dtmf`], for a peer in no room.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        press: KeyPress,
    ) -> Result<(), SfuError> {
        if self.room_of.contains_key(&peer) {
            return Err(SfuError::InRoom(peer));
        }
        let sent = self.core.send_dtmf(now, peer, codec, rtp_time, press);
        self.pump(now);
        Ok(sent?)
    }

    // ---- room commands ----

    /// Runs a room command; only dispatches to the methods below.
    pub fn apply(
        &mut self,
        now: Instant,
        command: RoomCommand,
    ) -> Result<CommandOutcome, SfuError> {
        match command {
            RoomCommand::Create => return Ok(CommandOutcome::Created(self.create_room())),
            RoomCommand::Close(room) => self.close_room(now, room)?,
            RoomCommand::Join { room, peer, role } => self.join(now, room, peer, role)?,
            RoomCommand::Leave(peer) => self.leave(now, peer).map(|_| ())?,
            RoomCommand::SetSupervisorMode { supervisor, mode } => {
                self.set_supervisor_mode(now, supervisor, mode)?;
            }
            RoomCommand::SetMuted { peer, muted } => self.set_muted(now, peer, muted)?,
        }
        Ok(CommandOutcome::Done)
    }

    /// A new, empty room.
    pub fn create_room(&mut self) -> RoomId {
        let id = RoomId(crate::webrtc::with_shard(self.core.shard(), self.next_room));
        self.next_room += 1;
        self.rooms.insert(id, Room::new());
        id
    }

    /// Every member leaves and the room is forgotten. The peers stay connected.
    pub fn close_room(&mut self, now: Instant, room: RoomId) -> Result<(), SfuError> {
        let closed = self
            .rooms
            .remove(&room)
            .ok_or(SfuError::UnknownRoom(room))?;
        for peer in closed.peers() {
            self.room_of.remove(&peer);
        }
        self.update_mix_clock(now, room);
        Ok(())
    }

    /// Puts a peer of the core into a room. A supervisor starts in
    /// [`SupervisorMode::Listen`].
    pub fn join(
        &mut self,
        now: Instant,
        room: RoomId,
        peer: PeerId,
        role: Role,
    ) -> Result<(), SfuError> {
        if !self.core.has_peer(peer) {
            return Err(SfuError::UnknownPeer(peer));
        }
        if let Some(&current) = self.room_of.get(&peer) {
            return Err(SfuError::AlreadyInRoom {
                peer,
                room: current,
            });
        }
        let target = self
            .rooms
            .get_mut(&room)
            .ok_or(SfuError::UnknownRoom(room))?;
        if target.is_full() {
            return Err(SfuError::RoomFull(room));
        }
        let joined = target.join(peer, role);
        // Even a codec failure leaves the member in (with its mixes silent).
        self.room_of.insert(peer, room);
        self.update_mix_clock(now, room);
        joined
    }

    /// Takes a peer out of its room: it hears nothing more and nobody hears it. Returns
    /// the room it left.
    pub fn leave(&mut self, now: Instant, peer: PeerId) -> Result<RoomId, SfuError> {
        let room = self
            .room_of
            .remove(&peer)
            .ok_or(SfuError::NotInRoom(peer))?;
        let left = match self.rooms.get_mut(&room) {
            Some(r) => r.leave(peer).map(|_| ()),
            None => Ok(()),
        };
        self.update_mix_clock(now, room);
        left.map(|()| room)
    }

    /// Changes what a supervisor's voice reaches. A whisper goes to a participant of the
    /// supervisor's room; if that participant leaves, nobody hears the whisper.
    pub fn set_supervisor_mode(
        &mut self,
        now: Instant,
        supervisor: PeerId,
        mode: SupervisorMode,
    ) -> Result<(), SfuError> {
        let (id, room) = self.room_mut(supervisor)?;
        if room.role_of(supervisor) != Some(Role::Supervisor) {
            return Err(SfuError::NotASupervisor(supervisor));
        }
        if let SupervisorMode::Whisper { to } = mode {
            if room.role_of(to) != Some(Role::Participant) {
                return Err(SfuError::WhisperTargetNotParticipant { supervisor, to });
            }
        }
        let changed = room.set_mode(supervisor, mode);
        self.update_mix_clock(now, id);
        changed
    }

    /// Mutes a member (nobody in its room hears it) or unmutes it. A muted member still
    /// hears the room.
    pub fn set_muted(&mut self, now: Instant, peer: PeerId, muted: bool) -> Result<(), SfuError> {
        let (id, room) = self.room_mut(peer)?;
        let changed = room.set_muted(peer, muted);
        self.update_mix_clock(now, id);
        changed
    }

    // ---- inputs ----

    /// [`MediaCore::handle_datagram`]; a frame from a room member is forwarded (or
    /// queued for its mixes) before this returns.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.core
            .handle_datagram(now, source, destination, datagram);
        self.pump(now);
    }

    /// Time has come to `now`: the core's timers, and the mixing tick when it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.pump(now);
        let Some(mut at) = self.next_mix else {
            return;
        };
        let mut ticks = 0;
        while at <= now && ticks < MAX_CATCH_UP_TICKS {
            for id in &self.mixing {
                if let Some(room) = self.rooms.get_mut(id) {
                    room.mix_tick(now, &mut self.core, &mut self.scratch, &mut self.counters);
                }
            }
            at += MIX_TICK;
            ticks += 1;
        }
        if at <= now {
            at = now + MIX_TICK;
        }
        self.next_mix = Some(at);
        self.pump(now);
    }

    // ---- outputs ----

    /// The next datagram to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.poll_transmit()
    }

    /// The next event the rooms did not consume, oldest first.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When to call [`Self::handle_timeout`]: the core's next timer or the next mixing
    /// tick; `None` with no peers and no mixes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.core.poll_timeout(), self.next_mix) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- internals ----

    /// Moves the core's events on: room members' audio to their room, the rest to the
    /// caller. A member that disconnected leaves its room.
    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.core.poll_event() {
            if let MediaEvent::Audio {
                peer,
                codec,
                ext_seq,
                rtp_time,
                payload,
                ..
            } = &event
            {
                if let Some(room) = self.room_of.get(peer) {
                    if let Some(room) = self.rooms.get_mut(room) {
                        let frame = Frame {
                            from: *peer,
                            codec: *codec,
                            ext_seq: *ext_seq,
                            rtp_time: *rtp_time,
                            payload,
                        };
                        room.on_audio(now, frame, &mut self.core, &mut self.counters);
                    }
                    continue;
                }
            }
            if let MediaEvent::PeerDisconnected(peer, _) = &event {
                self.forget_member(now, *peer);
            }
            self.events.push_back(event);
        }
    }

    /// Takes a peer out of its room, if it is in one.
    fn forget_member(&mut self, now: Instant, peer: PeerId) {
        if self.room_of.contains_key(&peer) {
            // Leaving only shrinks what the others hear: no codec to make, no failure.
            let _ = self.leave(now, peer);
        }
    }

    fn room_mut(&mut self, peer: PeerId) -> Result<(RoomId, &mut Room), SfuError> {
        let id = *self.room_of.get(&peer).ok_or(SfuError::NotInRoom(peer))?;
        let room = self.rooms.get_mut(&id).ok_or(SfuError::NotInRoom(peer))?;
        Ok((id, room))
    }

    /// After `room` changed (or closed): starts the mixing tick when a room starts
    /// mixing, stops it when none does.
    fn update_mix_clock(&mut self, now: Instant, room: RoomId) {
        if self.rooms.get(&room).is_some_and(Room::is_mixing) {
            self.mixing.insert(room);
        } else {
            self.mixing.remove(&room);
        }
        if self.mixing.is_empty() {
            self.next_mix = None;
        } else if self.next_mix.is_none() {
            self.next_mix = Some(now);
        }
    }
}
