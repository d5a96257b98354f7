//! [`MediaCore`]: all WebRTC peers of one shard behind one UDP socket. See the module
//! docs of [`crate::webrtc`] for the run loop.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Rtc, RtcConfig};

use super::demux::{stun_local_ufrag, Demux};
use super::peer::{KeyPress, Outbox, Peer};
use super::schedule::Schedule;
use super::{AudioCodec, MediaError, MediaEvent, PeerId, Transmit, WebRtcConfig};
use crate::fast_hash::FastMap;

/// Counters of the shared socket, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Datagrams handed to [`MediaCore::handle_datagram`].
    pub datagrams_received: u64,
    /// Datagrams that are not STUN, DTLS, RTP or RTCP (or are truncated): dropped.
    pub datagrams_malformed: u64,
    /// Well-formed datagrams that no peer accepts: dropped.
    pub datagrams_unrouted: u64,
    /// Peers added with [`MediaCore::add_peer`].
    pub peers_added: u64,
    /// Peers gone, for whatever reason.
    pub peers_gone: u64,
    /// Peers run by [`MediaCore::handle_timeout`] because their deadline had come.
    pub peer_timeouts: u64,
    /// Times a peer's deadline moved, so its place in the schedule did (a cost per
    /// datagram that grows with the number of peers).
    pub deadline_moves: u64,
}

impl std::ops::AddAssign for CoreCounters {
    /// Sums two shards' counters (the gateway's figures are over all its shards).
    fn add_assign(&mut self, other: Self) {
        self.datagrams_received += other.datagrams_received;
        self.datagrams_malformed += other.datagrams_malformed;
        self.datagrams_unrouted += other.datagrams_unrouted;
        self.peers_added += other.peers_added;
        self.peers_gone += other.peers_gone;
        self.peer_timeouts += other.peer_timeouts;
        self.deadline_moves += other.deadline_moves;
    }
}

/// The WebRTC peers of one shard. Inputs are `handle_*` and commands; outputs are
/// drained with `poll_transmit`, `poll_event` and `poll_timeout`.
pub struct MediaCore {
    rtc_config: RtcConfig,
    candidates: Vec<Candidate>,
    connect_timeout: std::time::Duration,
    /// Boxed: a table slot is a pointer, and growing the table moves no `Rtc`.
    peers: FastMap<PeerId, Box<Peer>>,
    /// When each peer is next due for `handle_timeout`.
    schedule: Schedule,
    /// The peers due in a `handle_timeout` call (kept for its capacity).
    due: Vec<PeerId>,
    demux: Demux,
    /// [`WebRtcConfig::shard`], in every peer's id.
    shard: u16,
    next_id: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    counters: CoreCounters,
}

impl std::fmt::Debug for MediaCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaCore")
            .field("candidates", &self.candidates)
            .field("peers", &self.peers.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl MediaCore {
    /// A core with no peers. Generates the DTLS certificate all its peers present.
    pub fn new(config: &WebRtcConfig) -> Result<Self, MediaError> {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let certificate =
            crypto
                .dtls_provider
                .generate_certificate()
                .ok_or(MediaError::InvalidConfig(
                    "the crypto provider cannot generate a DTLS certificate",
                ))?;
        Self::with_certificate(config, &crypto, &certificate)
    }

    /// A core whose peers present `certificate` (e.g. one kept across restarts).
    pub fn with_certificate(
        config: &WebRtcConfig,
        crypto: &Arc<CryptoProvider>,
        certificate: &DtlsCert,
    ) -> Result<Self, MediaError> {
        config.validate()?;
        let candidates = config
            .candidate_addrs()
            .map(|addr| {
                Candidate::host(addr, Protocol::Udp).map_err(|_| {
                    MediaError::InvalidConfig("a public IP is not usable as an ICE host candidate")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rtc_config: config.rtc_config(crypto, certificate),
            candidates,
            connect_timeout: config.connect_timeout,
            peers: FastMap::default(),
            schedule: Schedule::default(),
            due: Vec::new(),
            demux: Demux::default(),
            shard: config.shard,
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: CoreCounters::default(),
        })
    }

    // ---- getters ----

    /// The counters so far.
    pub fn counters(&self) -> CoreCounters {
        CoreCounters {
            deadline_moves: self.schedule.moves(),
            ..self.counters
        }
    }

    /// The shard this core is ([`WebRtcConfig::shard`]).
    pub fn shard(&self) -> u16 {
        self.shard
    }

    /// Peers added and not yet reported gone.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Whether `peer` was added and is not yet reported gone.
    pub fn has_peer(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    // ---- commands ----

    /// Answers a browser's SDP offer: a new ICE-lite peer with our host candidates.
    /// Returns its id and the SDP answer to send back. Nothing is kept on error.
    pub fn add_peer(
        &mut self,
        now: Instant,
        offer_sdp: &str,
    ) -> Result<(PeerId, String), MediaError> {
        self.add_peer_with(now, offer_sdp, false)
    }

    /// [`Self::add_peer`] for a call bridged to G.711 when `narrowband`: the answer asks
    /// the browser for narrowband Opus ([`super::narrowband_opus`]).
    pub fn add_peer_with(
        &mut self,
        now: Instant,
        offer_sdp: &str,
        narrowband: bool,
    ) -> Result<(PeerId, String), MediaError> {
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| MediaError::BadOffer(e.to_string()))?;
        let mut rtc: Rtc = self.rtc_config.clone().build(now);
        for candidate in &self.candidates {
            rtc.add_local_candidate(candidate.clone());
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::OfferRefused(e.to_string()))?;
        let mut answer = answer.to_sdp_string();
        if narrowband {
            answer = super::narrowband_opus(&answer);
        }
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        let id = PeerId::numbered(self.shard, self.next_id);
        let mut peer = Peer::new(id, rtc, now, self.connect_timeout);
        peer.set_narrowband(narrowband);
        // str0m reports MediaAdded only once SRTP is up, so the answer names the mid.
        peer.find_audio_mid(&answer);
        if !peer.has_common_audio_codec() {
            return Err(MediaError::NoCommonCodec);
        }
        // Nothing reaches the browser before it sends its first check (ICE-lite);
        // this only learns str0m's first timeout.
        peer.drain(&mut Outbox {
            transmits: &mut self.transmits,
            events: &mut self.events,
        });
        self.next_id += 1;
        self.counters.peers_added += 1;
        self.demux.add_peer(id, ufrag);
        self.peers.insert(id, Box::new(peer));
        self.settle(id);
        Ok((id, answer))
    }

    /// A new offer from a connected peer's browser, typically an ICE restart after a
    /// network change (new `a=ice-ufrag`/`a=ice-pwd`, maybe a new address): str0m
    /// answers it on the same session (DTLS and SRTP carry on), and the answer's new
    /// local credentials route the browser's checks from then on. Returns the answer.
    pub fn renegotiate(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| MediaError::BadOffer(e.to_string()))?;
        let narrowband = self
            .peers
            .get(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?
            .narrowband();
        let answer = self.with_peer(peer, |p, out| {
            let answer = p.accept_offer(offer)?;
            p.handle_input(Input::Timeout(now), out);
            Ok(answer)
        })?;
        let answer = if narrowband {
            super::narrowband_opus(&answer)
        } else {
            answer
        };
        if let Some(p) = self.peers.get_mut(&peer) {
            let ufrag = p.local_ufrag();
            self.demux.new_ufrag(peer, ufrag);
        }
        Ok(answer)
    }

    /// Closes a peer (DTLS `close_notify` to the browser) and forgets it; reported as
    /// [`MediaEvent::PeerDisconnected`] with [`super::DisconnectReason::Removed`].
    pub fn remove_peer(&mut self, peer: PeerId) -> Result<(), MediaError> {
        self.with_peer(peer, |peer, out| {
            peer.close(out);
            Ok(())
        })
    }

    /// Sends one audio frame to a peer. `rtp_time` counts `codec.clock_rate_hz()`; str0m
    /// 0.25 puts its low 32 bits on the wire as they are (no random offset of its own:
    /// measured), so the caller chooses the stream's origin; `payload` is the
    /// codec frame, handed to str0m without a copy. The datagram is queued for
    /// [`Self::poll_transmit`] before this returns. Frames written before the peer is
    /// connected are dropped.
    pub fn write_audio(
        &mut self,
        now: Instant,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        payload: impl Into<Arc<[u8]>>,
    ) -> Result<(), MediaError> {
        self.write_audio_marked(now, peer, codec, rtp_time, payload, false)
    }

    /// [`Self::write_audio`] with the RTP marker bit set when `start_of_talkspurt`: the
    /// first frame after silence, or the first of a stream that continues from another
    /// source (the SFU's munger asks for it), so the browser's jitter buffer resyncs.
    pub fn write_audio_marked(
        &mut self,
        now: Instant,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        payload: impl Into<Arc<[u8]>>,
        start_of_talkspurt: bool,
    ) -> Result<(), MediaError> {
        let payload = payload.into();
        self.with_peer(peer, |peer, out| {
            peer.write_audio(now, codec, rtp_time, payload, start_of_talkspurt, out)
        })
    }

    /// Sends a key press to a peer as RFC 4733 telephone-events starting at `rtp_time`
    /// of its audio in `codec`; str0m sends the updates and the three end packets on
    /// time from then on, between the audio frames.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        peer: PeerId,
        codec: AudioCodec,
        rtp_time: u64,
        press: KeyPress,
    ) -> Result<(), MediaError> {
        self.with_peer(peer, |peer, out| {
            peer.send_dtmf(now, codec, rtp_time, press, out)
        })
    }

    // ---- inputs ----

    /// A datagram arrived on the shared socket from `source`. `destination` is the
    /// local address it arrived on; when it is none of the host candidates (a socket
    /// bound to 0.0.0.0, or behind 1:1 NAT), the candidate of the same IP family
    /// stands in for it, as ICE only answers on its own candidates.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.counters.datagrams_received += 1;
        let destination = self.local_addr(destination);
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, datagram) else {
            self.counters.datagrams_malformed += 1;
            return;
        };
        let input = Input::Receive(now, receive);
        let Some(id) = self.route(source, datagram, &input) else {
            self.counters.datagrams_unrouted += 1;
            return;
        };
        let _ = self.with_peer(id, |peer, out| {
            peer.handle_input(input, out);
            Ok(())
        });
    }

    /// Time has come to `now`: runs every peer whose timeout has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        self.schedule.due(now, &mut due);
        self.counters.peer_timeouts += due.len() as u64;
        for &id in &due {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.handle_timeout(
                    now,
                    &mut Outbox {
                        transmits: &mut self.transmits,
                        events: &mut self.events,
                    },
                );
            }
            self.settle(id);
        }
        self.due = due;
    }

    // ---- outputs ----

    /// The next datagram to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When to call [`Self::handle_timeout`]; `None` with no peers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.next()
    }

    // ---- internals ----

    /// Runs `f` on a peer with the core's queues, then settles the peer.
    fn with_peer<T>(
        &mut self,
        id: PeerId,
        f: impl FnOnce(&mut Peer, &mut Outbox) -> Result<T, MediaError>,
    ) -> Result<T, MediaError> {
        let peer = self.peers.get_mut(&id).ok_or(MediaError::UnknownPeer(id))?;
        let mut out = Outbox {
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        let result = f(peer, &mut out);
        // Settled here rather than by `settle`: the peer is at hand (one lookup per
        // datagram's peer, not two).
        if peer.gone().is_none() {
            peer.reschedule(&mut self.schedule);
        } else {
            self.settle(id);
        }
        result
    }

    /// After a peer did something: forgets it if it ended (and reports why), or notes
    /// its next deadline.
    fn settle(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(reason) = peer.gone().cloned() else {
            peer.reschedule(&mut self.schedule);
            return;
        };
        let scheduled = peer.scheduled;
        self.peers.remove(&id);
        self.schedule.remove(id, scheduled);
        self.demux.remove_peer(id);
        self.counters.peers_gone += 1;
        self.events
            .push_back(MediaEvent::PeerDisconnected(id, reason));
    }

    /// The peer a datagram belongs to: STUN by the ufrag it names, the rest by the
    /// address ICE proved; each candidate confirmed by str0m's `accepts`.
    fn route(&mut self, source: SocketAddr, datagram: &[u8], input: &Input) -> Option<PeerId> {
        let accepted = |peers: &FastMap<PeerId, Box<Peer>>, id: PeerId| {
            peers.get(&id).is_some_and(|p| p.accepts(input))
        };
        if stun_local_ufrag(datagram).is_some() {
            return self
                .demux
                .by_ufrag(datagram)
                .filter(|id| accepted(&self.peers, *id));
        }
        if let Some(id) = self.demux.by_addr(source) {
            if accepted(&self.peers, id) {
                return Some(id);
            }
        }
        // A first non-STUN datagram from an address ICE nominated: ask each peer once,
        // then remember the answer.
        let id = *self.peers.iter().find(|(_, p)| p.accepts(input))?.0;
        self.demux.learn_addr(source, id);
        Some(id)
    }

    fn local_addr(&self, destination: SocketAddr) -> SocketAddr {
        let addrs = || self.candidates.iter().map(Candidate::addr);
        if addrs().any(|a| a == destination) {
            return destination;
        }
        addrs()
            .find(|a| a.is_ipv4() == destination.is_ipv4())
            .or_else(|| addrs().next())
            .unwrap_or(destination)
    }

    #[cfg(test)]
    pub(super) fn remembered_addrs(&self) -> usize {
        self.demux.addr_count()
    }
}
