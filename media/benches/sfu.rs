//! SFU forwarding: packets per second one core forwards between browsers, with SRTP,
//! through dcx's [`Sfu`] (the core's receive, the room's decide + munge, str0m's write
//! and protect), between str0m clients in the crate's virtual-time harness; then the
//! same with 1,000 peers connected (500 rooms of two, everyone talking); then what a
//! supervisor costs (a call of three sending real Opus, in listen and in barge).
//!
//! Only the SFU's own work is timed (its `handle_datagram` and `handle_timeout`); the
//! clients standing in for browsers run in the same process, untimed. In the same run:
//! the receive alone (peers in no room) and str0m's bare `write_audio`, so the forward
//! step and this crate's share of it can be told apart. With 1,000 peers the SFU is
//! also timed alone on a replay of what the clients sent, twice: with the browsers at
//! phases of their own within each 20 ms (as real ones are: the figure to quote) and in
//! step (a room's two packets arrive together, so each peer is still warm in the CPU
//! caches; the earlier figures of docs/performance.md were measured this way).
//!
//! The floor (`bare.rs`): the same replay through bare str0m `Rtc`s built from dcx's own
//! `RtcConfig`, each room forwarding a packet as it came (no core, no schedule of ours,
//! no munging), so that what str0m itself costs per packet is measured in the same run
//! and dcx/bare says what dcx adds. `-- floor [ROOMS] [ROUNDS]` alternates the two.
//!
//! `cargo bench -p dcx-media --bench sfu`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcx_media::sfu::{Role, Sfu, SupervisorMode};
use dcx_media::tone::SineGenerator;
use dcx_media::webrtc::{
    AudioCodec, MediaCore, MediaError, MediaEvent, PeerId, Transmit, WebRtcConfig,
};

// The allocator of the `dcx` binary, so that what is measured here is what runs there
// (its huge pages matter with 1,000 peers: see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod rss;
use rss::rss_kib;

mod bare;
use bare::Bare;

mod shards;

// The webrtc tests' world (simulated network, str0m clients), shared with this bench; it
// names the library's types through this module's imports above.
#[allow(dead_code)]
#[path = "../src/webrtc/tests/harness.rs"]
mod harness;

use harness::{Endpoint, LinkConfig, World, FRAME_INTERVAL, FRAME_TICKS};

/// Frames each client sends in each phase of the two-peer run (20 ms each).
const FRAMES_TWO_PEERS: u64 = 10_000;
/// Rooms (of two) in the crowded run, and frames each client sends there.
const ROOMS: usize = 500;
const FRAMES_CROWDED: u64 = 250;
/// An Opus frame of 20 ms at 32 kbit/s: 80 bytes.
const PAYLOAD_BYTES: usize = 80;
/// Seconds each supervised call talks.
const SUPERVISED_SECONDS: u64 = 10;

/// What forwards between the clients: dcx's [`Sfu`] (its `Endpoint` is the harness's),
/// or the [`Bare`] str0m floor.
trait Server: Endpoint {
    /// Puts two peers in a room of their own.
    fn pair(&mut self, now: Instant, a: PeerId, b: PeerId);
    fn frames_forwarded(&self) -> u64;
}

impl Server for Sfu {
    fn pair(&mut self, now: Instant, a: PeerId, b: PeerId) {
        let room = self.create_room();
        for peer in [a, b] {
            self.join(now, room, peer, Role::Participant).unwrap();
        }
    }
    fn frames_forwarded(&self) -> u64 {
        self.counters().frames_forwarded
    }
}

impl Endpoint for Bare {
    fn build(config: &WebRtcConfig) -> Self {
        Bare::new(config)
    }
    fn add_peer(&mut self, now: Instant, offer: &str) -> Result<(PeerId, String), MediaError> {
        Ok(Bare::add_peer(self, now, offer))
    }
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, _: SocketAddr, d: &[u8]) {
        Bare::handle_datagram(self, now, source, d);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Bare::handle_timeout(self, now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Bare::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<MediaEvent> {
        Bare::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Bare::poll_timeout(self)
    }
}

impl Server for Bare {
    fn pair(&mut self, _: Instant, a: PeerId, b: PeerId) {
        Bare::pair(self, a, b);
    }
    fn frames_forwarded(&self) -> u64 {
        Bare::frames_forwarded(self)
    }
}

/// The server, with the time spent in its inputs counted.
struct Timed<S> {
    sfu: S,
    busy: Duration,
}

impl<S: Server> Endpoint for Timed<S> {
    fn build(config: &WebRtcConfig) -> Self {
        Self {
            sfu: S::build(config),
            busy: Duration::ZERO,
        }
    }
    fn add_peer(&mut self, now: Instant, offer: &str) -> Result<(PeerId, String), MediaError> {
        self.sfu.add_peer(now, offer)
    }
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        let t = Instant::now();
        self.sfu.handle_datagram(now, source, destination, datagram);
        self.busy += t.elapsed();
    }
    fn handle_timeout(&mut self, now: Instant) {
        let t = Instant::now();
        self.sfu.handle_timeout(now);
        self.busy += t.elapsed();
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.sfu.poll_transmit()
    }
    fn poll_event(&mut self) -> Option<MediaEvent> {
        self.sfu.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.sfu.poll_timeout()
    }
}

/// A datagram on the simulated network: when, from, to, the bytes.
type Datagram = (Instant, SocketAddr, SocketAddr, Vec<u8>);

/// The world around a timed server, and where each client's RTP clock is.
struct Bench<S = Sfu> {
    world: World<Timed<S>>,
    peers: Vec<PeerId>,
    next_frame: u64,
    /// What each client sends: a cycle of frames.
    payloads: Vec<Vec<Vec<u8>>>,
}

impl<S: Server> Bench<S> {
    /// `clients` browsers, all connected.
    fn new(clients: usize) -> Self {
        Self::on_shard(clients, 0)
    }

    /// [`Self::new`], the server being media shard `shard`.
    fn on_shard(clients: usize, shard: u16) -> Self {
        let mut world = World::on_shard(LinkConfig::CLEAN, 7, shard);
        let peers: Vec<PeerId> = (0..clients)
            .map(|i| {
                world
                    .add_client(&format!("10.{}.{}.1:5000", i / 250, i % 250))
                    .1
            })
            .collect();
        world.run_until_cond(Duration::from_secs(60), |w| {
            let up = w
                .events
                .iter()
                .filter(|(_, e)| matches!(e, MediaEvent::PeerConnected(_)))
                .count();
            up == clients && w.clients.iter().all(|c| c.rtc.is_connected())
        });
        let payload: Vec<u8> = (0..PAYLOAD_BYTES).map(|i| (i * 37) as u8).collect();
        Self {
            world,
            peers,
            next_frame: 0,
            payloads: vec![vec![payload]; clients],
        }
    }

    /// Every client sends `frames` frames, one per 20 ms; returns the SFU's busy time
    /// and the packets sent.
    fn talk(&mut self, frames: u64) -> (Duration, u64) {
        let busy = self.world.core.busy;
        let t0 = self.world.now;
        for k in 0..frames {
            self.world.run_until(t0 + FRAME_INTERVAL * k as u32);
            let now = self.world.now;
            let rtp_time = (self.next_frame + k) * FRAME_TICKS;
            let frame = self.next_frame + k;
            for (client, cycle) in self.world.clients.iter_mut().zip(&self.payloads) {
                let payload = &cycle[frame as usize % cycle.len()];
                client.send_opus(now, &mut self.world.net, rtp_time, payload);
            }
        }
        self.next_frame += frames;
        self.world.run_for(FRAME_INTERVAL * 5);
        let sent = frames * self.world.clients.len() as u64;
        (self.world.core.busy.saturating_sub(busy), sent)
    }

    /// The SFU alone on what the clients send: every client's `frames` frames are
    /// made first (untimed, nothing delivered), then fed to the SFU back to back in
    /// arrival order with its timeouts, its output counted and dropped. The clients
    /// never run in between, so their state does not push the SFU's out of the CPU
    /// caches, as on a media server whose browsers are elsewhere. Returns the SFU's
    /// busy time and the packets fed. Ends the bench's world: the clients hear nothing.
    ///
    /// `in_step`: every client sends at the same instant of each 20 ms, so the packets
    /// arrive in the clients' order and a room's two members arrive one after the
    /// other (each peer's state is still warm from the packet just forwarded to it).
    /// Otherwise each client sends at a phase of its own within the 20 ms, as browsers
    /// with free-running capture clocks do, and the arrivals interleave.
    fn replay(&mut self, frames: u64, in_step: bool) -> (Duration, u64) {
        let datagrams = self.record(frames, in_step);
        let busy = self.world.core.busy;
        self.feed(&datagrams);
        (
            self.world.core.busy.saturating_sub(busy),
            datagrams.len() as u64,
        )
    }

    /// What the clients send to the SFU in `frames` frames, made and not delivered,
    /// for [`Self::feed`]; the world's clock moves to the end of it. See
    /// [`Self::replay`].
    fn record(&mut self, frames: u64, in_step: bool) -> Vec<Datagram> {
        let t0 = self.world.now + FRAME_INTERVAL;
        let phase = |client: usize| {
            if in_step {
                return Duration::ZERO;
            }
            // A fixed scramble of the client's index into 0..20 ms, in microseconds.
            let spread = (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            Duration::from_micros(spread % 20_000)
        };
        for k in 0..frames {
            let rtp_time = (self.next_frame + k) * FRAME_TICKS;
            let frame = self.next_frame + k;
            let clients = self.world.clients.iter_mut().zip(&self.payloads);
            for (i, (client, cycle)) in clients.enumerate() {
                let now = t0 + FRAME_INTERVAL * k as u32 + phase(i);
                let payload = &cycle[frame as usize % cycle.len()];
                client.send_opus(now, &mut self.world.net, rtp_time, payload);
                // str0m sends what was written at its next timeout.
                client.tick(now, &mut self.world.net);
            }
        }
        let datagrams: Vec<_> = self
            .world
            .net
            .take_all()
            .into_iter()
            .filter(|d| d.2 == self.world.core_addr)
            .collect();
        self.next_frame += frames;
        self.world.now = t0 + FRAME_INTERVAL * frames as u32;
        datagrams
    }

    /// Feeds `datagrams` to the SFU in order, with its timeouts; what it sends is
    /// dropped. Never inlined, so a profiler can collect this alone (see `main`).
    #[inline(never)]
    fn feed(&mut self, datagrams: &[Datagram]) {
        let local = self.world.core_local;
        let core = &mut self.world.core;
        for (at, source, _, bytes) in datagrams {
            if core.poll_timeout().is_some_and(|t| t <= *at) {
                core.handle_timeout(*at);
            }
            core.handle_datagram(*at, *source, local, bytes);
            while core.poll_transmit().is_some() {}
            while core.poll_event().is_some() {}
        }
    }

    /// Pairs the peers into rooms of two participants.
    fn pair_up(&mut self) {
        let now = self.world.now;
        for pair in self.peers.chunks(2) {
            self.world.core.sfu.pair(now, pair[0], pair[1]);
        }
    }

    fn frames_forwarded(&self) -> u64 {
        self.world.core.sfu.frames_forwarded()
    }
}

impl Bench<Sfu> {
    fn leave_rooms(&mut self) {
        let now = self.world.now;
        for &peer in &self.peers {
            self.world.core.sfu.leave(now, peer).unwrap();
        }
    }

    /// str0m's own write (packetize, protect, queue) to every peer, `frames` times,
    /// with no room in between; returns the time spent writing and the writes.
    fn write_directly(&mut self, frames: u64) -> (Duration, u64) {
        let payload: Arc<[u8]> = Arc::from(&self.payloads[0][0][..]);
        let mut busy = Duration::ZERO;
        let t0 = self.world.now;
        for k in 0..frames {
            self.world.run_until(t0 + FRAME_INTERVAL * k as u32);
            let now = self.world.now;
            let rtp_time = (self.next_frame + k) * FRAME_TICKS;
            for &peer in &self.peers {
                let t = Instant::now();
                let sfu = &mut self.world.core.sfu;
                sfu.write_audio(now, peer, AudioCodec::Opus, rtp_time, Arc::clone(&payload))
                    .unwrap();
                busy += t.elapsed();
            }
            self.world.flush();
        }
        self.next_frame += frames;
        self.world.run_for(FRAME_INTERVAL * 5);
        (busy, frames * self.peers.len() as u64)
    }
}

fn us_per(busy: Duration, packets: u64) -> f64 {
    busy.as_secs_f64() * 1e6 / packets as f64
}

fn line(label: &str, us: f64) {
    println!("{label:<58} {us:>9.2} {:>12.0}", 1e6 / us);
}

fn two_peers() {
    let mut b = Bench::<Sfu>::new(2);
    let (busy, packets) = b.talk(FRAMES_TWO_PEERS);
    let receive = us_per(busy, packets);
    b.pair_up();
    let before = b.world.core.sfu.counters().frames_forwarded;
    let (busy, packets) = b.talk(FRAMES_TWO_PEERS);
    let forwarded = b.world.core.sfu.counters().frames_forwarded - before;
    assert_eq!(forwarded, packets, "every packet forwarded once");
    let total = us_per(busy, packets);
    b.leave_rooms();
    let (busy, writes) = b.write_directly(FRAMES_TWO_PEERS);
    let raw_write = us_per(busy, writes);
    let forward = total - receive;

    println!(
        "two peers in one room, each sending {FRAMES_TWO_PEERS} frames of \
         {PAYLOAD_BYTES} bytes (SRTP both ways)"
    );
    println!("{:<58} {:>9} {:>12}", "", "us/packet", "packets/s");
    line("receive + forward (the SFU's whole cost per packet)", total);
    line(
        "  receive alone (peer in no room: SRTP unprotect, event)",
        receive,
    );
    line(
        "  forward step (decide + munge + write_audio + SRTP)",
        forward,
    );
    line(
        "    of which str0m's bare write_audio (+ SRTP protect)",
        raw_write,
    );
    println!(
        "{:<58} {:>9.2}",
        "    the rest: rooms (lookup, decide, munge), sender RTCP",
        forward - raw_write
    );
}

/// `2 * rooms` peers, everyone talking: first in no room (receive alone), then paired
/// into rooms (receive + forward); each after a warm-up of one second.
fn crowded(rooms: usize) {
    let peers = 2 * rooms;
    let rss_before = rss_kib();
    let mut b = Bench::<Sfu>::new(peers);
    let rss_peers = rss_kib().saturating_sub(rss_before);
    b.talk(50);
    let (busy, packets) = b.talk(FRAMES_CROWDED);
    let receive = us_per(busy, packets);
    b.pair_up();
    b.talk(50);
    let before = b.world.core.sfu.counters().frames_forwarded;
    let (busy, packets) = b.talk(FRAMES_CROWDED);
    let forwarded = b.world.core.sfu.counters().frames_forwarded - before;
    assert_eq!(forwarded, packets, "every packet forwarded once");
    assert_eq!(b.world.core.sfu.core().peer_count(), peers);
    let before = b.world.core.sfu.counters().frames_forwarded;
    let timeouts_before = b.world.core.sfu.core().counters().peer_timeouts;
    let moves_before = b.world.core.sfu.core().counters().deadline_moves;
    let (alone, fed) = b.replay(FRAMES_CROWDED, false);
    let forwarded_alone = b.world.core.sfu.counters().frames_forwarded - before;
    let timeouts = b.world.core.sfu.core().counters().peer_timeouts - timeouts_before;
    let moves = b.world.core.sfu.core().counters().deadline_moves - moves_before;
    let before = b.world.core.sfu.counters().frames_forwarded;
    let (alone_in_step, fed_in_step) = b.replay(FRAMES_CROWDED, true);
    let forwarded_in_step = b.world.core.sfu.counters().frames_forwarded - before;
    println!();
    println!(
        "{peers} peers connected, {rooms} rooms of two, everyone sending {FRAMES_CROWDED} frames"
    );
    println!("{:<58} {:>9} {:>12}", "", "us/packet", "packets/s");
    line("receive + forward", us_per(busy, packets));
    line("  receive alone (before joining rooms)", receive);
    line(
        "receive + forward, the SFU alone (replayed, no clients)",
        us_per(alone, fed),
    );
    println!(
        "{:<58} {:>9}",
        "  datagrams replayed / frames forwarded",
        format!("{fed}/{forwarded_alone}")
    );
    line(
        "  the same with the browsers in step (rooms arrive paired)",
        us_per(alone_in_step, fed_in_step),
    );
    println!(
        "{:<58} {:>9}",
        "    datagrams replayed / frames forwarded",
        format!("{fed_in_step}/{forwarded_in_step}")
    );
    println!(
        "{:<58} {:>9.3}",
        "  peer timeouts run per datagram replayed",
        timeouts as f64 / fed as f64
    );
    println!(
        "{:<58} {:>9.3}",
        "  peer deadlines moved per datagram replayed",
        moves as f64 / fed as f64
    );
    println!(
        "{:<58} {:>9}",
        "resident memory per peer, KiB (core + its client)",
        rss_peers / peers as u64
    );
}

/// With `2 * rooms` peers in rooms of two, all talking: the replay alone at the
/// browsers' own phases and in step, in us per packet, through `S`.
fn replays<S: Server>(rooms: usize) -> (f64, f64) {
    let mut b = Bench::<S>::new(2 * rooms);
    b.pair_up();
    b.talk(50);
    let mut figures = [false, true].map(|in_step| {
        let before = b.frames_forwarded();
        let (busy, fed) = b.replay(FRAMES_CROWDED, in_step);
        assert!(
            b.frames_forwarded() - before >= FRAMES_CROWDED * 2 * rooms as u64,
            "every frame forwarded"
        );
        us_per(busy, fed)
    });
    figures.reverse();
    let [in_step, own_phases] = figures;
    (own_phases, in_step)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One round of [`floor`]: (dcx, bare), each (own phases, in step) in us/packet.
type Round = ((f64, f64), (f64, f64));

/// dcx's SFU against the bare str0m forwarder ([`Bare`]) on the same replay, `rounds`
/// times alternated, with `2 * rooms` peers: what str0m itself costs per packet, and
/// dcx's ratio to it.
fn floor(rooms: usize, rounds: usize) {
    println!();
    println!(
        "{} peers, {rooms} rooms of two, the replay alone: dcx's SFU against bare str0m \
         (the floor), {rounds} rounds alternated, us/packet",
        2 * rooms
    );
    println!(
        "{:<10} {:>14} {:>14} {:>14} {:>14}",
        "round", "dcx own phase", "bare own phase", "dcx in step", "bare in step"
    );
    let mut rows = Vec::new();
    for round in 1..=rounds {
        // Who goes first swaps each round: a fresh world's first replay can run on
        // a machine in another state (frequency, the other core's load).
        let (dcx, bare) = if round % 2 == 1 {
            (replays::<Sfu>(rooms), replays::<Bare>(rooms))
        } else {
            let bare = replays::<Bare>(rooms);
            (replays::<Sfu>(rooms), bare)
        };
        println!(
            "{round:<10} {:>14.2} {:>14.2} {:>14.2} {:>14.2}",
            dcx.0, bare.0, dcx.1, bare.1
        );
        rows.push((dcx, bare));
    }
    let m = |f: fn(&Round) -> f64| median(rows.iter().map(f).collect());
    let (dcx_own, bare_own) = (m(|r| r.0 .0), m(|r| r.1 .0));
    let (dcx_step, bare_step) = (m(|r| r.0 .1), m(|r| r.1 .1));
    println!(
        "{:<10} {dcx_own:>14.2} {bare_own:>14.2} {dcx_step:>14.2} {bare_step:>14.2}",
        "median"
    );
    println!(
        "dcx/bare (medians): {:.2} at own phases, {:.2} in step; bare str0m's ceiling \
         {:.0} packets/s per core at own phases",
        dcx_own / bare_own,
        dcx_step / bare_step,
        1e6 / bare_own
    );
}

/// One second of a tone as 20 ms Opus frames from a browser (48 kHz, 32 kbit/s, the
/// encoder's default complexity); whole periods, so the cycle repeats seamlessly.
fn opus_tone(frequency_hz: f64) -> Vec<Vec<u8>> {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    encoder.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    let mut tone = SineGenerator::new(frequency_hz, 48_000, 6000);
    let mut pcm = [0i16; 960];
    let mut out = [0u8; 1275];
    (0..50)
        .map(|_| {
            tone.fill(&mut pcm);
            let n = encoder.encode(&pcm, &mut out).unwrap();
            out[..n].to_vec()
        })
        .collect()
}

/// A supervisor mode, made of the agent's peer (the one a whisper goes to).
type ModeOf = fn(PeerId) -> SupervisorMode;

/// An agent, a customer and a supervisor in the mode `mode` makes of the agent's peer,
/// all talking; returns the SFU's CPU per second of the call, in microseconds.
fn supervised(mode: ModeOf) -> f64 {
    let mut b = Bench::<Sfu>::new(3);
    b.payloads = [440.0, 1000.0, 2500.0].map(opus_tone).to_vec();
    let now = b.world.now;
    let sfu = &mut b.world.core.sfu;
    let room = sfu.create_room();
    let roles = [Role::Participant, Role::Participant, Role::Supervisor];
    for (&peer, role) in b.peers.iter().zip(roles) {
        sfu.join(now, room, peer, role).unwrap();
    }
    sfu.set_supervisor_mode(now, b.peers[2], mode(b.peers[0]))
        .unwrap();
    // Warm up (codecs made, jitter buffers filled), then measure.
    b.talk(50);
    let (busy, _) = b.talk(SUPERVISED_SECONDS * 50);
    busy.as_secs_f64() * 1e6 / SUPERVISED_SECONDS as f64
}

fn supervision() {
    println!();
    println!(
        "a call of three sending real Opus (48 kHz tones), {SUPERVISED_SECONDS} s, \
         SFU CPU per second of call"
    );
    println!("{:<58} {:>9} {:>12}", "", "us/s", "calls/core");
    let modes: [(&str, ModeOf); 3] = [
        ("supervisor listens (1 mix: 2 decodes, 1 encode)", |_| {
            SupervisorMode::Listen
        }),
        (
            "supervisor whispers (2 mixes: 3 decodes, 2 encodes)",
            |to| SupervisorMode::Whisper { to },
        ),
        ("supervisor barges (3 mixes: 3 decodes, 3 encodes)", |_| {
            SupervisorMode::Barge
        }),
    ];
    for (label, mode) in modes {
        let us = supervised(mode);
        println!("{label:<58} {us:>9.0} {:>12.0}", 1e6 / us);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench --no-run`-style probes
    }
    // `cargo bench -p dcx-media --bench sfu -- crowded [ROOMS]`: the crowded run only,
    // with 500 rooms or ROOMS (e.g. under a profiler: `valgrind --tool=callgrind
    // --toggle-collect='sfu::Bench::feed'`).
    let args: Vec<String> = std::env::args().collect();
    // `-- floor [ROOMS] [ROUNDS]`: dcx against bare str0m on the replay, alternated.
    if let Some(at) = args.iter().position(|a| a == "floor") {
        let number = |k: usize| args.get(at + k).and_then(|n| n.parse().ok());
        floor(number(1).unwrap_or(ROOMS), number(2).unwrap_or(3));
        return;
    }
    // `-- shards [ROOMS] [ROUNDS]`: the peers of ROOMS rooms on one loop, then on two.
    if let Some(at) = args.iter().position(|a| a == "shards") {
        let number = |k: usize| args.get(at + k).and_then(|n| n.parse().ok());
        shards::shards(number(1).unwrap_or(ROOMS), number(2).unwrap_or(3));
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "crowded") {
        let rooms = args.get(at + 1).and_then(|n| n.parse().ok());
        crowded(rooms.unwrap_or(ROOMS));
        return;
    }
    two_peers();
    // `cargo bench -p dcx-media --bench sfu -- two-peers`: the forwarding path only.
    if std::env::args().any(|a| a == "two-peers") {
        return;
    }
    crowded(ROOMS / 10);
    crowded(ROOMS);
    floor(ROOMS, 1);
    shards::shards(ROOMS, 1);
    supervision();
}
