//! [`WebRtcHandle`]: how the rest of the gateway reaches its media shards. Every peer
//! and room id names the shard that has it ([`PeerId::shard`], [`RoomId::shard`]), so a
//! command about one goes to that shard's loop and no other; a new peer goes where it
//! is asked to (beside the peer it will share a room with) or else to the shard with
//! the fewest peers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dcx_media::sfu::{RoomCommand, RoomId, SfuError};
use dcx_media::webrtc::{AudioCodec, KeyPress, MediaError, PeerId};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use super::{Command, ShellCounters, ShellError};

/// One shard's mailbox, and its peers as its loop last counted them.
#[derive(Debug)]
pub(super) struct Shard {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) peers: Arc<AtomicUsize>,
}

/// How the rest of the gateway reaches the media loops; cheap to clone.
#[derive(Debug, Clone)]
pub struct WebRtcHandle {
    /// Shard `i`'s at index `i`; never empty.
    shards: Arc<[Shard]>,
}

impl WebRtcHandle {
    /// The handle of these shards (at least one, shard `i` at index `i`).
    pub(super) fn new(shards: Vec<Shard>) -> Self {
        debug_assert!(!shards.is_empty());
        Self {
            shards: shards.into(),
        }
    }

    /// Answers a browser's SDP offer: the new peer's id and the SDP answer. The peer
    /// is reported connected (or gone) on the event receiver.
    #[cfg(test)]
    pub async fn add_peer(&self, offer: String) -> Result<(PeerId, String), ShellError> {
        self.add_peer_with(offer, false).await
    }

    /// [`Self::add_peer`] for a call bridged to G.711 when `narrowband`: the answer asks
    /// the browser for narrowband Opus (`MediaCore::add_peer_with`). The peer goes to
    /// the shard with the fewest peers: use [`Self::add_peer_beside`] for one that is
    /// to share a room.
    pub async fn add_peer_with(
        &self,
        offer: String,
        narrowband: bool,
    ) -> Result<(PeerId, String), ShellError> {
        self.add_to(self.least_loaded(), offer, narrowband).await
    }

    /// [`Self::add_peer_with`] on the shard of `beside` (the other side of a browser
    /// call, a member of the room a supervisor joins): a room's members share a
    /// shard, whose loop forwards between them.
    pub async fn add_peer_beside(
        &self,
        beside: PeerId,
        offer: String,
        narrowband: bool,
    ) -> Result<(PeerId, String), ShellError> {
        self.add_to(self.of_peer(beside)?, offer, narrowband).await
    }

    async fn add_to(
        &self,
        shard: &Shard,
        offer: String,
        narrowband: bool,
    ) -> Result<(PeerId, String), ShellError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::AddPeer {
            offer,
            narrowband,
            reply,
        };
        request(shard, command).await?;
        answer
            .await
            .map_err(|_| ShellError::Stopped)?
            .map_err(ShellError::from)
    }

    /// Closes a peer (the browser is told); reported as `PeerDisconnected(.., Removed)`.
    pub async fn remove_peer(&self, peer: PeerId) -> Result<(), ShellError> {
        let (reply, done) = oneshot::channel();
        request(self.of_peer(peer)?, Command::RemovePeer { peer, reply }).await?;
        done.await
            .map_err(|_| ShellError::Stopped)?
            .map_err(ShellError::from)
    }

    /// Sends one audio frame to a peer, as `MediaCore::write_audio`: `rtp_time` in
    /// `codec.clock_rate_hz()` from any origin, `payload` one codec frame. Never waits:
    /// [`ShellError::Busy`] when the loop is behind. What the core then refuses is
    /// counted in [`ShellCounters::writes_refused`], not reported.
    pub fn write_audio(
        &self,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        payload: impl Into<Arc<[u8]>>,
    ) -> Result<(), ShellError> {
        let command = Command::WriteAudio {
            peer,
            codec,
            rtp_time,
            payload: payload.into(),
        };
        offer(self.of_peer(peer)?, command)
    }

    /// A live peer's new offer (an ICE restart): dcx's answer, on the same session.
    pub async fn renegotiate(&self, peer: PeerId, offer: String) -> Result<String, ShellError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Renegotiate { peer, offer, reply };
        request(self.of_peer(peer)?, command).await?;
        Ok(answer.await.map_err(|_| ShellError::Stopped)??)
    }

    /// Sends a key press to a peer as RFC 4733 (Opus clock, starting at `rtp_time` of
    /// its audio). Never waits: [`ShellError::Busy`] when the loop is behind.
    pub fn send_dtmf(
        &self,
        peer: PeerId,
        rtp_time: u64,
        press: KeyPress,
    ) -> Result<(), ShellError> {
        let command = Command::SendDtmf {
            peer,
            rtp_time,
            press,
        };
        offer(self.of_peer(peer)?, command)
    }

    /// Puts two peers in a room of their own: each hears the other, forwarded by the
    /// SFU without transcoding (a browser-to-browser call). They must share a shard
    /// ([`Self::add_peer_beside`]): [`ShellError::Apart`] if not.
    pub async fn pair(&self, peers: [PeerId; 2]) -> Result<RoomId, ShellError> {
        let [a, b] = peers;
        if a.shard() != b.shard() {
            return Err(apart(&a, a.shard(), &b, b.shard()));
        }
        let (reply, paired) = oneshot::channel();
        request(self.of_peer(a)?, Command::Pair { peers, reply }).await?;
        paired
            .await
            .map_err(|_| ShellError::Stopped)?
            .map_err(ShellError::Room)
    }

    /// Closes a room (its members stay peers, in no room).
    pub async fn close_room(&self, room: RoomId) -> Result<(), ShellError> {
        request(self.of_room(room)?, Command::CloseRoom { room }).await
    }

    /// A command to the rooms (a supervisor joining, its mode): done, or why not. A
    /// peer joins a room of its own shard only ([`ShellError::Apart`]).
    pub async fn room(&self, command: RoomCommand) -> Result<(), ShellError> {
        if let RoomCommand::Join { room, peer, .. } = command {
            if room.shard() != peer.shard() {
                return Err(apart(&peer, peer.shard(), &room, room.shard()));
            }
        }
        // Create goes anywhere. An id no shard of ours gave out goes anywhere too: every
        // shard refuses it (unknown room or peer), as the one shard always did.
        let shard = command
            .shard()
            .and_then(|n| self.shards.get(usize::from(n)))
            .unwrap_or_else(|| self.least_loaded());
        let (reply, done) = oneshot::channel();
        request(shard, Command::Room { command, reply }).await?;
        done.await
            .map_err(|_| ShellError::Stopped)?
            .map_err(ShellError::Room)
    }

    /// The counters as of now, summed over the shards.
    pub async fn counters(&self) -> Result<ShellCounters, ShellError> {
        let mut sum = ShellCounters::default();
        for shard in self.shards.iter() {
            let (reply, counters) = oneshot::channel();
            request(shard, Command::Counters { reply }).await?;
            sum += counters.await.map_err(|_| ShellError::Stopped)?;
        }
        Ok(sum)
    }

    /// Each shard's peers (shard `i` at index `i`), as its loop last counted them.
    pub fn shard_peers(&self) -> Vec<usize> {
        let peers = self.shards.iter();
        peers.map(|s| s.peers.load(Ordering::Relaxed)).collect()
    }

    /// The shard with the fewest peers (the first of those if several).
    fn least_loaded(&self) -> &Shard {
        let fewest = self
            .shards
            .iter()
            .min_by_key(|s| s.peers.load(Ordering::Relaxed));
        // Never empty, so `min_by_key` always finds one.
        fewest.unwrap_or(&self.shards[0])
    }

    /// The shard that has `peer`: an id no shard of ours gave out is an unknown peer.
    fn of_peer(&self, peer: PeerId) -> Result<&Shard, ShellError> {
        self.shards
            .get(usize::from(peer.shard()))
            .ok_or(ShellError::Media(MediaError::UnknownPeer(peer)))
    }

    /// The shard that has `room`.
    fn of_room(&self, room: RoomId) -> Result<&Shard, ShellError> {
        self.shards
            .get(usize::from(room.shard()))
            .ok_or(ShellError::Room(SfuError::UnknownRoom(room)))
    }
}

fn apart(
    a: &dyn std::fmt::Display,
    a_shard: u16,
    b: &dyn std::fmt::Display,
    b_shard: u16,
) -> ShellError {
    ShellError::Apart(format!(
        "{a} is on media shard {a_shard} and {b} on shard {b_shard}"
    ))
}

/// Queues a command for the shard's loop, waiting for room.
async fn request(shard: &Shard, command: Command) -> Result<(), ShellError> {
    shard
        .commands
        .send(command)
        .await
        .map_err(|_| ShellError::Stopped)
}

/// Queues a command without waiting: [`ShellError::Busy`] if the loop is behind.
fn offer(shard: &Shard, command: Command) -> Result<(), ShellError> {
    shard.commands.try_send(command).map_err(|e| match e {
        TrySendError::Full(_) => ShellError::Busy,
        TrySendError::Closed(_) => ShellError::Stopped,
    })
}
