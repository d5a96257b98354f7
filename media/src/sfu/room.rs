//! One room: its members, the route each one's ears take (planned from the rules of
//! [`super::hearing`] whenever a member joins, leaves, changes mode or is muted), and the
//! two ways audio reaches a subscriber: forwarded as it arrives ([`Room::on_audio`]), or
//! mixed on the shard's tick ([`Room::mix_tick`]).

use std::sync::Arc;
use std::time::Instant;

use super::downtrack::{DownTrack, Route};
use super::hearing::{heard_by, Seat};
use super::mixer::{MixEncoder, Mixer, MAX_OPUS_PAYLOAD};
use super::source::SourceDecoder;
use super::{Role, SfuCounters, SfuError, SupervisorMode, MAX_MEMBERS, MIX_FRAME};
use crate::webrtc::{AudioCodec, MediaCore, PeerId};

/// One audio frame from a member, as the core reported it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame<'a> {
    pub(super) from: PeerId,
    pub(super) codec: AudioCodec,
    pub(super) ext_seq: u64,
    pub(super) rtp_time: u64,
    pub(super) payload: &'a Arc<[u8]>,
}

/// The shard's buffers for making a mixed frame, shared by all its rooms.
pub(super) struct MixScratch {
    mixer: Mixer,
    pcm: Box<[i16; MIX_FRAME]>,
    payload: Box<[u8; MAX_OPUS_PAYLOAD]>,
}

impl MixScratch {
    pub(super) fn new() -> Self {
        Self {
            mixer: Mixer::new(MIX_FRAME),
            pcm: Box::new([0; MIX_FRAME]),
            payload: Box::new([0; MAX_OPUS_PAYLOAD]),
        }
    }
}

struct Member {
    peer: PeerId,
    role: Role,
    mode: SupervisorMode,
    muted: bool,
    /// This member's key as a source in its subscribers' forwarders.
    source: u32,
    /// What it hears.
    route: Route,
    track: DownTrack,
    /// Whether its voice is in someone's mix.
    feeds_mix: bool,
    /// Its voice's decoding chain, made the first time it feeds a mix.
    decoder: Option<SourceDecoder>,
    /// The encoder of its mix, made the first time it hears one.
    encoder: Option<MixEncoder>,
}

impl Member {
    fn seat(&self) -> Seat {
        Seat {
            peer: self.peer,
            role: self.role,
            mode: self.mode,
            muted: self.muted,
        }
    }
}

/// The members of one room and their routes.
pub(super) struct Room {
    members: Vec<Member>,
    next_source: u32,
    /// Some member's route is a mix.
    mixing: bool,
}

impl Room {
    pub(super) fn new() -> Self {
        Self {
            members: Vec::new(),
            // Key 0 is the subscribers' own mix (`MIX_SOURCE`).
            next_source: 1,
            mixing: false,
        }
    }

    // ---- getters ----

    pub(super) fn is_mixing(&self) -> bool {
        self.mixing
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.members.iter().map(|m| m.peer)
    }

    pub(super) fn role_of(&self, peer: PeerId) -> Option<Role> {
        self.member(peer).map(|m| m.role)
    }

    fn member(&self, peer: PeerId) -> Option<&Member> {
        self.members.iter().find(|m| m.peer == peer)
    }

    fn index_of(&self, peer: PeerId) -> Option<usize> {
        self.members.iter().position(|m| m.peer == peer)
    }

    // ---- commands (the shard has checked who is where) ----

    /// Adds a member, heard and hearing as its role says.
    pub(super) fn join(&mut self, peer: PeerId, role: Role) -> Result<(), SfuError> {
        self.members.push(Member {
            peer,
            role,
            mode: SupervisorMode::Listen,
            muted: false,
            source: self.next_source,
            route: Route::Silent,
            track: DownTrack::new(AudioCodec::Opus.clock_rate_hz()),
            feeds_mix: false,
            decoder: None,
            encoder: None,
        });
        self.next_source += 1;
        self.plan()
    }

    /// Removes a member; returns whether it was one.
    pub(super) fn leave(&mut self, peer: PeerId) -> Result<bool, SfuError> {
        let Some(i) = self.index_of(peer) else {
            return Ok(false);
        };
        self.members.remove(i);
        self.plan().map(|()| true)
    }

    /// Sets a supervisor's mode (the caller has checked it is one, and the target).
    pub(super) fn set_mode(
        &mut self,
        supervisor: PeerId,
        mode: SupervisorMode,
    ) -> Result<(), SfuError> {
        if let Some(i) = self.index_of(supervisor) {
            self.members[i].mode = mode;
        }
        self.plan()
    }

    pub(super) fn set_muted(&mut self, peer: PeerId, muted: bool) -> Result<(), SfuError> {
        if let Some(i) = self.index_of(peer) {
            self.members[i].muted = muted;
        }
        self.plan()
    }

    pub(super) fn is_full(&self) -> bool {
        self.members.len() >= MAX_MEMBERS
    }

    /// Routes every member from what it hears now, making the decoders and encoders
    /// new mixes need. If libopus cannot make one, the mixes that needed it are silent
    /// and the error is returned; everything else is routed.
    fn plan(&mut self) -> Result<(), SfuError> {
        let seats: Vec<Seat> = self.members.iter().map(Member::seat).collect();
        let mut routes: Vec<Route> = (0..seats.len())
            .map(|i| {
                let heard = heard_by(&seats, i);
                match heard.count_ones() {
                    0 => Route::Silent,
                    1 => Route::Forward(self.members[heard.trailing_zeros() as usize].source),
                    _ => Route::Mix(heard),
                }
            })
            .collect();
        let mut failure = None;
        for (i, route) in routes.iter_mut().enumerate() {
            if let Route::Mix(_) = route {
                if let Err(e) = ensure(&mut self.members[i].encoder, MixEncoder::new) {
                    failure.get_or_insert(e);
                    *route = Route::Silent;
                }
            }
        }
        let fed = routes.iter().fold(0u64, |all, r| match r {
            Route::Mix(set) => all | set,
            _ => all,
        });
        for (j, member) in self.members.iter_mut().enumerate() {
            let feeds = fed & 1 << j != 0;
            if feeds && !member.feeds_mix {
                match ensure(&mut member.decoder, SourceDecoder::new) {
                    // A pause makes what it had buffered stale.
                    Ok(decoder) => decoder.restart(),
                    Err(e) => {
                        failure.get_or_insert(e);
                        continue;
                    }
                }
            }
            member.feeds_mix = feeds;
        }
        for (member, route) in self.members.iter_mut().zip(routes) {
            member.route = route;
            member.track.set_route(route);
        }
        self.mixing = self
            .members
            .iter()
            .any(|m| matches!(m.route, Route::Mix(_)));
        failure.map_or(Ok(()), Err)
    }

    // ---- media ----

    /// Forwards a member's frame to each subscriber that hears that member alone, and
    /// hands it to the member's decoder if it feeds a mix. Allocates nothing.
    pub(super) fn on_audio(
        &mut self,
        now: Instant,
        frame: Frame<'_>,
        core: &mut MediaCore,
        counters: &mut SfuCounters,
    ) {
        let Some(i) = self.index_of(frame.from) else {
            return;
        };
        let source = self.members[i].source;
        if self.members[i].feeds_mix && frame.codec == AudioCodec::Opus {
            if let Some(decoder) = self.members[i].decoder.as_mut() {
                decoder.push(now, frame.ext_seq, frame.rtp_time, frame.payload);
            }
        }
        let clock_rate_hz = frame.codec.clock_rate_hz();
        for (j, sub) in self.members.iter_mut().enumerate() {
            if j == i {
                continue;
            }
            let Some(placed) =
                sub.track
                    .forward(now, source, frame.ext_seq, frame.rtp_time, clock_rate_hz)
            else {
                continue;
            };
            let written = core.write_audio_marked(
                now,
                sub.peer,
                frame.codec,
                placed.rtp_time,
                Arc::clone(frame.payload),
                placed.start_of_talkspurt,
            );
            match written {
                Ok(()) => counters.frames_forwarded += 1,
                Err(_) => counters.write_errors += 1,
            }
        }
    }

    /// One 20 ms tick of mixing: each source feeding a mix yields a frame, and each
    /// subscriber that hears a mix gets the sum of its sources, encoded.
    pub(super) fn mix_tick(
        &mut self,
        now: Instant,
        core: &mut MediaCore,
        scratch: &mut MixScratch,
        counters: &mut SfuCounters,
    ) {
        if !self.mixing {
            return;
        }
        for member in self.members.iter_mut().filter(|m| m.feeds_mix) {
            if let Some(decoder) = member.decoder.as_mut() {
                decoder.pull(now, counters);
            }
        }
        for i in 0..self.members.len() {
            let Route::Mix(set) = self.members[i].route else {
                continue;
            };
            let sources = self
                .members
                .iter()
                .enumerate()
                .filter(|&(j, _)| set & 1 << j != 0)
                .filter_map(|(_, m)| m.decoder.as_ref().map(SourceDecoder::frame));
            scratch.mixer.mix(sources, &mut scratch.pcm[..]);
            let sub = &mut self.members[i];
            let (Some(encoder), Some(placed)) = (sub.encoder.as_mut(), sub.track.mixed(now)) else {
                continue;
            };
            let Ok(len) = encoder.encode(&scratch.pcm[..], &mut scratch.payload) else {
                counters.write_errors += 1;
                continue;
            };
            // The one allocation per mixed frame: str0m keeps the payload it is given.
            let payload: Arc<[u8]> = Arc::from(&scratch.payload[..len]);
            let written = core.write_audio_marked(
                now,
                sub.peer,
                AudioCodec::Opus,
                placed.rtp_time,
                payload,
                placed.start_of_talkspurt,
            );
            match written {
                Ok(()) => counters.frames_mixed += 1,
                Err(_) => counters.write_errors += 1,
            }
        }
    }
}

/// The codec in `slot`, made with `make` if there is none yet.
fn ensure<T>(
    slot: &mut Option<T>,
    make: impl FnOnce() -> Result<T, SfuError>,
) -> Result<&mut T, SfuError> {
    let value = match slot.take() {
        Some(value) => value,
        None => make()?,
    };
    Ok(slot.insert(value))
}
