//! The tokio shell around the [`MediaCore`]: one task owns the shared WebRTC UDP socket
//! and the core, and waits for whichever comes first: a datagram, the core's next
//! deadline, a command from a [`WebRtcHandle`], a free slot for an event that had to
//! wait, or shutdown. The core never sees the socket or the clock; the shell never
//! decides. After every wakeup it drains the core: datagrams to the socket, events to
//! the receiver [`WebRtcShell::new`] returned (the seam for call control).
//!
//! The caller binds the socket and builds the core (the core announces the socket's
//! port in every SDP answer, so binding comes first: see the tests), then spawns
//! [`WebRtcShell::run`] into its own task set and keeps the [`WebRtcHandle`].
//!
//! ## Shards
//! One loop saturates one core, so the gateway can run several (`[media]
//! webrtc_shards`, [`WebRtcShell::sharded`]): shard `i` has its own socket (port
//! `webrtc_port + i`), core and rooms, and shares nothing with the others but the
//! event channel. Every peer and room id names its shard, and the one handle routes by
//! it ([`handle`]); a room's members must share a shard, so a peer meant for a room is
//! added beside one of its members ([`WebRtcHandle::add_peer_beside`]).
//!
//! ## Never waiting on the consumer
//! The media loop must not stall behind whoever reads its events (that reader may well
//! be awaiting a reply from this loop), so events are only ever `try_send`-ed into a
//! bounded channel. Audio frames are dropped, and counted, once the channel is nearly
//! full: a late frame is a lost frame, and the jitter buffer conceals it. The last
//! [`CONTROL_RESERVE`] slots are kept for the rare events that must not be lost (a peer
//! connected or gone, a key press); should even those run out, the events wait in order
//! in the shell until the channel has room. Audio toward a browser goes the same way:
//! [`WebRtcHandle::write_audio`] never waits, and a frame the loop has no room for is
//! refused with [`ShellError::Busy`].
//!
//! ## Not here yet
//! One socket, so the source address of a transmit is the socket's own: several public
//! IPs need one socket each (or `IP_PKTINFO`). On shutdown the peers are dropped without
//! a DTLS `close_notify`: call control removes its peers first if the browsers should
//! be told.

mod handle;

pub use self::handle::WebRtcHandle;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dcx_media::sfu::{Role, RoomCommand, RoomId, Sfu, SfuError};
use dcx_media::webrtc::{
    AudioCodec, CoreCounters, KeyPress, MediaCore, MediaError, MediaEvent, PeerId,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};

/// The read buffer: any UDP datagram fits (WebRTC's stay below the path MTU), so none
/// is truncated into something the core would misread.
const MAX_DATAGRAM: usize = 65_535;
/// Commands waiting for the loop: 20 ms of audio for 1,000 peers.
const COMMAND_QUEUE: usize = 1024;
/// Events waiting for call control.
const EVENT_QUEUE: usize = 4096;
/// Event slots audio may not take: kept for connects, disconnects and key presses.
const CONTROL_RESERVE: usize = 256;

/// Why a request through the [`WebRtcHandle`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The core refused the command (a bad offer, an unknown peer, ...).
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The shell has stopped (shutdown): nothing reaches the core any more.
    #[error("the WebRTC media loop has stopped")]
    Stopped,
    /// The SFU refused a room command.
    #[error(transparent)]
    Room(#[from] SfuError),
    /// The media loop is behind: its command queue is full, so this audio frame is
    /// dropped rather than sent late.
    #[error("the WebRTC media loop is busy: audio frame dropped")]
    Busy,
    /// A room's members share a shard, and these are on different ones (a peer meant
    /// for a room is added beside one of its members).
    #[error("{0}: a room's members must share a media shard")]
    Apart(String),
}

/// The core's counters and the shell's own, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShellCounters {
    /// What the core counted (datagrams received, malformed, unrouted; peers).
    pub core: CoreCounters,
    /// Audio frames from [`WebRtcHandle::write_audio`] the core refused (the peer is
    /// gone, the codec was not negotiated, ...).
    pub writes_refused: u64,
    /// Audio events dropped because call control was not keeping up.
    pub audio_events_dropped: u64,
    /// Socket receive errors (e.g. ICMP port unreachable after a send).
    pub receive_errors: u64,
    /// Socket send errors.
    pub send_errors: u64,
}

impl std::ops::AddAssign for ShellCounters {
    /// Sums two shards' counters.
    fn add_assign(&mut self, other: Self) {
        self.core += other.core;
        self.writes_refused += other.writes_refused;
        self.audio_events_dropped += other.audio_events_dropped;
        self.receive_errors += other.receive_errors;
        self.send_errors += other.send_errors;
    }
}

/// What the handle asks of the loop.
enum Command {
    AddPeer {
        offer: String,
        narrowband: bool,
        reply: oneshot::Sender<Result<(PeerId, String), MediaError>>,
    },
    RemovePeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    WriteAudio {
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        payload: Arc<[u8]>,
    },
    Counters {
        reply: oneshot::Sender<ShellCounters>,
    },
    Renegotiate {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    SendDtmf {
        peer: PeerId,
        rtp_time: u64,
        press: KeyPress,
    },
    /// A room of two participants, forwarding between them without transcoding.
    Pair {
        peers: [PeerId; 2],
        reply: oneshot::Sender<Result<RoomId, SfuError>>,
    },
    CloseRoom {
        room: RoomId,
    },
    Room {
        command: RoomCommand,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
}

/// The media loop's state: the socket, the core, and the channels to the rest of the
/// gateway. Built by [`Self::new`], consumed by [`Self::run`].
pub struct WebRtcShell {
    socket: UdpSocket,
    /// The socket's address, handed to the core as each datagram's destination.
    local_addr: SocketAddr,
    /// The shard: its peers and their rooms.
    core: Sfu,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<MediaEvent>,
    /// Control events that found the event channel full, oldest first.
    held: VecDeque<MediaEvent>,
    shutdown: watch::Receiver<bool>,
    /// The shell's counters (`core` is filled in when asked).
    counters: ShellCounters,
    /// The core's peers after the last wakeup, for placing new ones.
    peers: Arc<AtomicUsize>,
}

impl WebRtcShell {
    /// A shell for `core` on `socket` (bound where the core's candidates point), until
    /// `shutdown` flips to true or its sender is dropped. Returns the shell to spawn,
    /// the handle to talk to it, and the receiver of the core's events.
    #[cfg(test)]
    pub fn new(
        socket: UdpSocket,
        core: MediaCore,
        shutdown: &watch::Receiver<bool>,
    ) -> std::io::Result<(Self, WebRtcHandle, mpsc::Receiver<MediaEvent>)> {
        let (shells, handle, events) = Self::sharded(vec![(socket, core)], shutdown)?;
        let shell = shells.into_iter().next().ok_or_else(no_shards)?;
        Ok((shell, handle, events))
    }

    /// A shell for each `(socket, core)`, the core of index `i` being shard `i`
    /// (`WebRtcConfig::shard`) on its own socket: one loop each, to be spawned apart so
    /// that they run on different cores. One handle routes to all of them and one
    /// receiver has all their events.
    pub fn sharded(
        shards: Vec<(UdpSocket, MediaCore)>,
        shutdown: &watch::Receiver<bool>,
    ) -> std::io::Result<(Vec<Self>, WebRtcHandle, mpsc::Receiver<MediaEvent>)> {
        if shards.is_empty() {
            return Err(no_shards());
        }
        let (events, event_rx) = mpsc::channel(EVENT_QUEUE);
        let mut shells = Vec::with_capacity(shards.len());
        let mut handles = Vec::with_capacity(shards.len());
        for (i, (socket, core)) in shards.into_iter().enumerate() {
            if usize::from(core.shard()) != i {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("media core {i} is numbered shard {}", core.shard()),
                ));
            }
            let local_addr = socket.local_addr()?;
            let (command_tx, commands) = mpsc::channel(COMMAND_QUEUE);
            let peers = Arc::new(AtomicUsize::new(core.peer_count()));
            shells.push(Self {
                socket,
                local_addr,
                core: Sfu::new(core),
                commands,
                events: events.clone(),
                held: VecDeque::new(),
                shutdown: shutdown.clone(),
                counters: ShellCounters::default(),
                peers: Arc::clone(&peers),
            });
            handles.push(handle::Shard {
                commands: command_tx,
                peers,
            });
        }
        Ok((shells, WebRtcHandle::new(handles), event_rx))
    }

    /// The media loop. Runs until shutdown; a socket error is logged and counted, and
    /// the loop goes on.
    pub async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        // Stopped before it started: `changed` below only sees later changes.
        if *self.shutdown.borrow_and_update() {
            return;
        }
        loop {
            let deadline = self.core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            // The command is dispatched after the select, whose output still borrows
            // `self.events` for the permit; the other arms touch their own fields only.
            let command = tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    match received {
                        Ok((n, from)) => {
                            let now = Instant::now();
                            self.core.handle_datagram(now, from, self.local_addr, &buf[..n]);
                        }
                        // ICMP port unreachable from an earlier send surfaces here on
                        // Linux: not this socket's failure.
                        Err(e) => {
                            self.counters.receive_errors += 1;
                            tracing::debug!("webrtc udp receive: {e}");
                        }
                    }
                    None
                }
                Some(command) = self.commands.recv() => Some(command),
                () = sleep => {
                    self.core.handle_timeout(Instant::now());
                    None
                }
                permit = self.events.reserve(), if !self.held.is_empty() => {
                    match (permit, self.held.pop_front()) {
                        (Ok(permit), Some(event)) => permit.send(event),
                        (Ok(_), None) => {}
                        // Nobody listens any more.
                        (Err(_), _) => self.held.clear(),
                    }
                    None
                }
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        break;
                    }
                    None
                }
            };
            if let Some(command) = command {
                self.dispatch(command);
            }
            self.flush().await;
        }
    }

    /// Hands one command to the core.
    fn dispatch(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::AddPeer {
                offer,
                narrowband,
                reply,
            } => {
                let added = self.core.add_peer_with(now, &offer, narrowband);
                // Counted before the reply: the next add may be placed by it.
                let count = self.core.core().peer_count();
                self.peers.store(count, Ordering::Relaxed);
                if let Err(Ok((peer, _))) = reply.send(added) {
                    // The asker is gone and nobody will ever hear of this peer.
                    let _ = self.core.remove_peer(now, peer);
                }
            }
            Command::RemovePeer { peer, reply } => {
                let _ = reply.send(self.core.remove_peer(now, peer));
            }
            Command::Renegotiate { peer, offer, reply } => {
                let _ = reply.send(self.core.renegotiate(now, peer, &offer));
            }
            Command::SendDtmf {
                peer,
                rtp_time,
                press,
            } => {
                if let Err(e) = self
                    .core
                    .send_dtmf(now, peer, AudioCodec::Opus, rtp_time, press)
                {
                    self.counters.writes_refused += 1;
                    tracing::debug!(%peer, "key press to the browser refused: {e}");
                }
            }
            Command::Pair { peers, reply } => {
                let room = self.core.create_room();
                let joined = peers
                    .iter()
                    .try_for_each(|&p| self.core.join(now, room, p, Role::Participant));
                let result = match joined {
                    Ok(()) => Ok(room),
                    Err(e) => {
                        let _ = self.core.close_room(now, room);
                        Err(e)
                    }
                };
                if reply.send(result).is_err() {
                    let _ = self.core.close_room(now, room);
                }
            }
            Command::CloseRoom { room } => {
                let _ = self.core.close_room(now, room);
            }
            Command::Room { command, reply } => {
                let _ = reply.send(self.core.apply(now, command).map(|_| ()));
            }
            Command::WriteAudio {
                peer,
                codec,
                rtp_time,
                payload,
            } => self.write_audio(now, peer, codec, rtp_time, payload),
            Command::Counters { reply } => {
                let _ = reply.send(ShellCounters {
                    core: self.core.core().counters(),
                    ..self.counters
                });
            }
        }
    }

    fn write_audio(
        &mut self,
        now: Instant,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        payload: Arc<[u8]>,
    ) {
        if let Err(e) = self.core.write_audio(now, peer, codec, rtp_time, payload) {
            self.counters.writes_refused += 1;
            tracing::debug!(%peer, "webrtc write refused: {e}");
        }
    }

    /// Sends what the core queued, then hands on its events.
    async fn flush(&mut self) {
        while let Some(transmit) = self.core.poll_transmit() {
            if let Err(e) = self
                .socket
                .send_to(&transmit.contents, transmit.destination)
                .await
            {
                self.counters.send_errors += 1;
                tracing::debug!(to = %transmit.destination, "webrtc udp send: {e}");
            }
        }
        while let Some(event) = self.core.poll_event() {
            self.deliver(event);
        }
        self.peers
            .store(self.core.core().peer_count(), Ordering::Relaxed);
    }

    /// Passes an event on without waiting (see the module docs): audio only while
    /// nothing waits and the reserve is free, everything else in order.
    fn deliver(&mut self, event: MediaEvent) {
        if matches!(event, MediaEvent::Audio { .. }) {
            if self.held.is_empty() && self.events.capacity() > CONTROL_RESERVE {
                // Closed: nobody listens, so there is nobody to count it for.
                let _ = self.events.try_send(event);
            } else {
                self.counters.audio_events_dropped += 1;
            }
            return;
        }
        self.held.push_back(event);
        while let Some(event) = self.held.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.held.push_front(event);
                    return;
                }
                Err(TrySendError::Closed(_)) => {
                    self.held.clear();
                    return;
                }
            }
        }
    }
}

fn no_shards() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, "no media shards")
}

#[cfg(test)]
mod tests;
