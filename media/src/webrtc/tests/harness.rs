//! A virtual-time world for the [`MediaCore`] (or anything that drives one, such as the
//! SFU: see [`Endpoint`]): browser stand-ins (full-ICE str0m clients), an in-memory
//! network with seeded loss and jitter, and a clock that jumps to the next thing due. A
//! minute of calls runs in a fraction of a second and every run of a seed is the same
//! run.
//!
//! The file names the library's types through its parent module (`super::MediaCore`),
//! so the SFU bench can include it too (`#[path]`) and drive the same world.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use super::{MediaCore, MediaError, MediaEvent, PeerId, Sfu, Transmit, WebRtcConfig};

/// What the world drives on the server side: the sans-IO shape of [`MediaCore`].
pub trait Endpoint {
    /// One that answers on `config`'s address.
    fn build(config: &WebRtcConfig) -> Self;
    fn add_peer(&mut self, now: Instant, offer: &str) -> Result<(PeerId, String), MediaError>;
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    );
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn poll_event(&mut self) -> Option<MediaEvent>;
    fn poll_timeout(&self) -> Option<Instant>;
}

/// `Endpoint` for a type with the core's own `handle_*`/`poll_*` methods (the core, and
/// the SFU that keeps its shape), built by `$build` from the config.
macro_rules! endpoint_of_the_core_shape {
    ($t:ty, $config:ident => $build:expr) => {
        impl Endpoint for $t {
            fn build($config: &WebRtcConfig) -> Self {
                $build
            }
            fn add_peer(
                &mut self,
                now: Instant,
                offer: &str,
            ) -> Result<(PeerId, String), MediaError> {
                <$t>::add_peer(self, now, offer)
            }
            fn handle_datagram(
                &mut self,
                now: Instant,
                source: SocketAddr,
                destination: SocketAddr,
                datagram: &[u8],
            ) {
                <$t>::handle_datagram(self, now, source, destination, datagram);
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now);
            }
            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<MediaEvent> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
        }
    };
}

endpoint_of_the_core_shape!(MediaCore, config => MediaCore::new(config).unwrap());
endpoint_of_the_core_shape!(Sfu, config => Sfu::new(MediaCore::new(config).unwrap()));

/// Where the core's shared socket is.
pub const CORE_ADDR: &str = "203.0.113.10:10000";

/// Time never advances by less than this per step, so a timeout that is already due
/// cannot stall the world.
const MIN_STEP: Duration = Duration::from_millis(1);

/// `SplitMix64` (Steele, Lea, Flood 2014): a tiny seeded generator, plenty for a network.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// How the network treats every datagram.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    pub latency: Duration,
    /// Each datagram is delayed by a further uniform 0..jitter (so it reorders).
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
}

impl LinkConfig {
    pub const CLEAN: Self = Self {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        loss: 0.0,
    };
}

struct InFlight {
    at: Instant,
    order: u64,
    source: SocketAddr,
    destination: SocketAddr,
    contents: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// Datagrams in flight between everyone, delivered at their arrival time.
pub struct Network {
    config: LinkConfig,
    rng: SplitMix64,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    drop_dtls: bool,
    pub sent: u64,
    pub lost: u64,
}

impl Network {
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        Self {
            config,
            rng: SplitMix64::new(seed),
            in_flight: BinaryHeap::new(),
            order: 0,
            drop_dtls: false,
            sent: 0,
            lost: 0,
        }
    }

    /// From now on, drops every DTLS record (first byte 20-63), both ways.
    pub fn drop_dtls(&mut self) {
        self.drop_dtls = true;
    }

    pub fn send(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) {
        self.sent += 1;
        if self.drop_dtls && matches!(contents.first(), Some(20..=63)) {
            self.lost += 1;
            return;
        }
        if self.rng.chance(self.config.loss) {
            self.lost += 1;
            return;
        }
        let jitter_us = self.config.jitter.as_micros() as u64;
        let extra = if jitter_us == 0 {
            0
        } else {
            self.rng.below(jitter_us)
        };
        self.order += 1;
        self.in_flight.push(Reverse(InFlight {
            at: now + self.config.latency + Duration::from_micros(extra),
            order: self.order,
            source,
            destination,
            contents,
        }));
    }

    fn next_at(&self) -> Option<Instant> {
        self.in_flight.peek().map(|Reverse(p)| p.at)
    }

    /// Everything in flight, in arrival order, as (arrival, source, destination,
    /// datagram): taken off the network, delivered to nobody.
    #[allow(dead_code, reason = "used by the sfu bench's replay, not by the tests")]
    pub fn take_all(&mut self) -> Vec<(Instant, SocketAddr, SocketAddr, Vec<u8>)> {
        let mut all = Vec::with_capacity(self.in_flight.len());
        while let Some(Reverse(p)) = self.in_flight.pop() {
            all.push((p.at, p.source, p.destination, p.contents));
        }
        all
    }

    fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        if self.next_at()? <= now {
            self.in_flight.pop().map(|Reverse(p)| p)
        } else {
            None
        }
    }
}

/// A browser stand-in: a full-ICE str0m peer that offers one audio m-line.
pub struct Client {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub mid: Mid,
    pending: Option<SdpPendingOffer>,
    /// The address of an ICE restart in progress (see [`Client::ice_restart_to`]).
    restart_to: Option<SocketAddr>,
    pub events: Vec<(Instant, Event)>,
    timeout: Instant,
    pub error: Option<String>,
}

impl Client {
    /// A client at `addr` and its SDP offer (Opus, plus PCMU when `with_pcmu`, and
    /// telephone-event at 48 kHz).
    pub fn new(now: Instant, addr: SocketAddr, with_pcmu: bool) -> (Self, String) {
        let mut config = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(with_pcmu, false)
            .set_reordering_size_audio(0);
        config.codec_config().add_config(
            110.into(),
            None,
            Codec::Tele,
            Frequency::FORTY_EIGHT_KHZ,
            None,
            str0m::format::FormatParams::default(),
        );
        let mut rtc = config.build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let client = Self {
            rtc,
            addr,
            mid,
            pending: Some(pending),
            restart_to: None,
            events: Vec::new(),
            timeout: now,
            error: None,
        };
        (client, offer.to_sdp_string())
    }

    /// The browser moved to `addr` (a network change): an ICE restart, new credentials
    /// and only the new host candidate; returns the new offer.
    #[allow(dead_code, reason = "used by the webrtc tests, not by the sfu bench")]
    pub fn ice_restart_to(&mut self, addr: SocketAddr) -> String {
        let mut change = self.rtc.sdp_api();
        change.ice_restart(false);
        let (offer, pending) = change.apply().expect("an ICE restart is a change");
        self.pending = Some(pending);
        // str0m applies the restart (dropping the old candidates) with the answer: the
        // new candidate comes after it, in `accept_answer`.
        self.restart_to = Some(addr);
        self.addr = addr;
        offer.to_sdp_string()
    }

    pub fn accept_answer(&mut self, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        let pending = self.pending.take().unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        if let Some(addr) = self.restart_to.take() {
            self.rtc
                .add_local_candidate(Candidate::host(addr, "udp").unwrap());
        }
    }

    fn alive(&self) -> bool {
        self.error.is_none() && self.rtc.is_alive()
    }

    fn input(&mut self, now: Instant, input: Input, net: &mut Network) {
        if !self.alive() {
            return;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            self.error = Some(e.to_string());
        }
        self.drain(now, net);
    }

    /// Runs the client's timeout at `now` (str0m sends what was written then).
    #[allow(dead_code, reason = "used by the sfu bench's replay, not by the tests")]
    pub fn tick(&mut self, now: Instant, net: &mut Network) {
        self.input(now, Input::Timeout(now), net);
    }

    pub fn drain(&mut self, now: Instant, net: &mut Network) {
        while self.alive() {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.timeout = at;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    net.send(now, t.source, t.destination, t.contents.into());
                }
                Ok(Output::Event(e)) => self.events.push((now, e)),
                Err(e) => self.error = Some(e.to_string()),
            }
        }
    }

    /// Sends one Opus frame (opaque bytes: nothing here decodes them).
    pub fn send_opus(&mut self, now: Instant, net: &mut Network, rtp_time: u64, payload: &[u8]) {
        self.send(now, net, Codec::Opus, rtp_time, payload);
    }

    /// Sends one frame of `codec` at `rtp_time` in that codec's clock.
    pub fn send(
        &mut self,
        now: Instant,
        net: &mut Network,
        codec: Codec,
        rtp_time: u64,
        payload: &[u8],
    ) {
        let params = *self
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == codec)
            .unwrap();
        let writer = self.rtc.writer(self.mid).unwrap();
        let time = MediaTime::new(rtp_time, params.spec().clock_rate);
        writer
            .write(params.pt(), now, time, payload.to_vec())
            .unwrap();
        self.drain(now, net);
    }

    pub fn opus_pt(&self) -> str0m::media::Pt {
        self.rtc
            .codec_config()
            .find(|p| p.spec().codec == Codec::Opus)
            .unwrap()
            .pt()
    }

    /// The media frames received, in arrival order.
    pub fn media(&self) -> impl Iterator<Item = &MediaData> {
        self.events.iter().filter_map(|(_, e)| match e {
            Event::MediaData(d) => Some(d),
            _ => None,
        })
    }
}

/// The core (or the endpoint that drives one), its clients and the network, at one
/// virtual time.
pub struct World<E = MediaCore> {
    pub now: Instant,
    pub core: E,
    pub core_addr: SocketAddr,
    /// The local address the shell reports for datagrams to the core (the socket's
    /// own address, which need not be the announced one).
    pub core_local: SocketAddr,
    pub clients: Vec<Client>,
    /// Which client is at which address.
    client_at: HashMap<SocketAddr, usize>,
    pub net: Network,
    /// Everything the core reported, with when.
    pub events: Vec<(Instant, MediaEvent)>,
    /// The core's SDP answer to each client, by client index.
    pub answers: Vec<String>,
}

impl World<MediaCore> {
    pub fn new(link: LinkConfig, seed: u64) -> Self {
        Self::with_endpoint(link, seed)
    }
}

impl<E: Endpoint> World<E> {
    /// A world around an `E` built on the core's address.
    pub fn with_endpoint(link: LinkConfig, seed: u64) -> Self {
        Self::on_shard(link, seed, 0)
    }

    /// [`Self::with_endpoint`], the core being shard `shard` of a gateway.
    pub fn on_shard(link: LinkConfig, seed: u64, shard: u16) -> Self {
        let core_addr: SocketAddr = CORE_ADDR.parse().unwrap();
        let config = WebRtcConfig {
            shard,
            ..WebRtcConfig::new(core_addr.ip(), core_addr.port())
        };
        let now = Instant::now();
        Self {
            now,
            core: E::build(&config),
            core_addr,
            core_local: core_addr,
            clients: Vec::new(),
            client_at: HashMap::new(),
            net: Network::new(link, seed),
            events: Vec::new(),
            answers: Vec::new(),
        }
    }

    /// A client at `addr` whose offer is passed through `edit` before the core
    /// answers it. Returns the client's index and its peer id.
    pub fn add_client_with(
        &mut self,
        addr: &str,
        edit: impl FnOnce(String) -> String,
    ) -> (usize, PeerId) {
        self.add_client_offering(addr, false, edit)
    }

    /// Like [`Self::add_client_with`], the client also offering PCMU when `with_pcmu`.
    pub fn add_client_offering(
        &mut self,
        addr: &str,
        with_pcmu: bool,
        edit: impl FnOnce(String) -> String,
    ) -> (usize, PeerId) {
        let (mut client, offer) = Client::new(self.now, addr.parse().unwrap(), with_pcmu);
        let (peer, answer) = self.core.add_peer(self.now, &edit(offer)).unwrap();
        client.accept_answer(&answer);
        client.drain(self.now, &mut self.net);
        self.client_at.insert(client.addr, self.clients.len());
        self.clients.push(client);
        self.answers.push(answer);
        self.flush();
        (self.clients.len() - 1, peer)
    }

    pub fn add_client(&mut self, addr: &str) -> (usize, PeerId) {
        self.add_client_with(addr, |offer| offer)
    }

    /// Moves the core's output to the network and the event log.
    pub fn flush(&mut self) {
        while let Some(t) = self.core.poll_transmit() {
            self.net.send(self.now, t.source, t.destination, t.contents);
        }
        while let Some(e) = self.core.poll_event() {
            self.events.push((self.now, e));
        }
    }

    /// A datagram from anyone to the core, now, bypassing the network.
    pub fn inject(&mut self, source: SocketAddr, datagram: &[u8]) {
        self.core
            .handle_datagram(self.now, source, self.core_local, datagram);
        self.flush();
    }

    /// Advances to the earliest thing due (never past `limit`) and does it.
    fn step(&mut self, limit: Instant) {
        let due = [
            self.core.poll_timeout(),
            self.net.next_at(),
            self.clients
                .iter()
                .filter(|c| c.alive())
                .map(|c| c.timeout)
                .min(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(limit);
        self.now = due.max(self.now + MIN_STEP).min(limit);
        let now = self.now;
        while let Some(p) = self.net.pop_due(now) {
            if p.destination == self.core_addr {
                self.core
                    .handle_datagram(now, p.source, self.core_local, &p.contents);
                self.flush();
            } else if let Some(c) = self
                .client_at
                .get(&p.destination)
                .and_then(|i| self.clients.get_mut(*i))
            {
                let receive =
                    Receive::new(Protocol::Udp, p.source, p.destination, &p.contents).unwrap();
                c.input(now, Input::Receive(now, receive), &mut self.net);
            }
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
            self.flush();
        }
        for c in &mut self.clients {
            if c.timeout <= now {
                c.input(now, Input::Timeout(now), &mut self.net);
            }
        }
    }

    pub fn run_until(&mut self, deadline: Instant) {
        while self.now < deadline {
            self.step(deadline);
        }
    }

    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// Runs until `done` holds, failing after `limit` of virtual time.
    pub fn run_until_cond(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = self.now + limit;
        while !done(self) {
            assert!(self.now < deadline, "condition not met within {limit:?}");
            self.step(deadline);
        }
    }

    /// Client `c` now lives at its new address (after [`Client::ice_restart_to`]).
    #[allow(dead_code, reason = "used by the webrtc tests, not by the sfu bench")]
    pub fn moved(&mut self, c: usize) {
        self.client_at.retain(|_, i| *i != c);
        self.client_at.insert(self.clients[c].addr, c);
    }

    pub fn connected(&self, peer: PeerId) -> bool {
        self.events
            .iter()
            .any(|(_, e)| *e == MediaEvent::PeerConnected(peer))
    }

    pub fn disconnects(&self) -> Vec<&MediaEvent> {
        self.events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| matches!(e, MediaEvent::PeerDisconnected(..)))
            .collect()
    }

    /// Runs until the core reports `peer` connected and client `client` is connected.
    pub fn connect(&mut self, client: usize, peer: PeerId) {
        self.run_until_cond(Duration::from_secs(10), |w| {
            w.connected(peer) && w.clients[client].rtc.is_connected()
        });
    }

    /// Audio frames the core received from `peer`: (`ext_seq`, `rtp_time`, `contiguous`,
    /// `payload`).
    pub fn audio_from(&self, peer: PeerId) -> Vec<(u64, u64, bool, Arc<[u8]>)> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                MediaEvent::Audio {
                    peer: p,
                    ext_seq,
                    rtp_time,
                    contiguous,
                    payload,
                    ..
                } if *p == peer => Some((*ext_seq, *rtp_time, *contiguous, Arc::clone(payload))),
                _ => None,
            })
            .collect()
    }
}

/// A recognisable opaque "Opus" frame: who sent it, its index, then filler.
pub fn frame(sender: u8, index: u32) -> Vec<u8> {
    let mut f = vec![sender];
    f.extend_from_slice(&index.to_be_bytes());
    f.extend((0..35u8).map(|i| i.wrapping_mul(sender).wrapping_add(index as u8)));
    f
}

/// The (sender, index) written into a [`frame`].
pub fn parse_frame(payload: &[u8]) -> (u8, u32) {
    (
        payload[0],
        u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]),
    )
}

/// One Opus frame of 20 ms in 48 kHz RTP units.
pub const FRAME_TICKS: u64 = 960;
pub const FRAME_INTERVAL: Duration = Duration::from_millis(20);
