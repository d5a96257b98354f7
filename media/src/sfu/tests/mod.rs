//! Rooms end to end, in virtual time: str0m clients standing in for browsers send real
//! Opus (a tone each, encoded at 48 kHz) through the [`Sfu`] over the webrtc harness's
//! simulated network, and decode what they receive; who hears what is checked by
//! frequency (Goertzel) per side, and forwarding by the payload bytes themselves.

mod forwarding;
mod supervisor;

use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::MediaData;

use super::{Role, RoomId, Sfu};
use crate::tone::{goertzel_amplitude, SineGenerator};
use crate::webrtc::tests::harness::{LinkConfig, World, FRAME_INTERVAL};
use crate::webrtc::PeerId;

/// The tones the test's people speak in.
const AGENT_HZ: f64 = 440.0;
const CUSTOMER_HZ: f64 = 1000.0;
const SUPERVISOR_HZ: f64 = 2500.0;
const RATE: u32 = 48_000;
const FRAME: usize = 960;
/// Peak of each tone: three together stay below full scale.
const AMPLITUDE: i16 = 6000;

/// A browser stand-in that speaks: its client in the world, and an Opus encoder at
/// 48 kHz fed with its tone.
struct Voice {
    client: usize,
    peer: PeerId,
    tone: SineGenerator,
    encoder: opus::Encoder,
    rtp_time: u64,
    /// Whether it sends frames when the scene talks.
    speaking: bool,
    /// Every payload it sent, in order.
    sent: Vec<Vec<u8>>,
}

/// Clients around an [`Sfu`], each speaking one tone.
struct Scene {
    world: World<Sfu>,
    voices: Vec<Voice>,
}

impl Scene {
    fn new(seed: u64) -> Self {
        Self::on_shard(seed, 0)
    }

    /// A scene whose SFU is shard `shard` of a gateway.
    fn on_shard(seed: u64, shard: u16) -> Self {
        Self {
            world: World::on_shard(LinkConfig::CLEAN, seed, shard),
            voices: Vec::new(),
        }
    }

    /// A connected client at `addr` that speaks `hz`; returns its voice index.
    fn add(&mut self, addr: &str, hz: f64) -> usize {
        let (client, peer) = self.world.add_client(addr);
        self.world.connect(client, peer);
        let mut encoder =
            opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::Voip).unwrap();
        // A browser's usual mono voice bitrate; complexity low to keep debug tests fast.
        encoder.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
        encoder.set_complexity(3).unwrap();
        self.voices.push(Voice {
            client,
            peer,
            tone: SineGenerator::new(hz, RATE, AMPLITUDE),
            encoder,
            rtp_time: 0,
            speaking: true,
            sent: Vec::new(),
        });
        self.voices.len() - 1
    }

    fn peer(&self, voice: usize) -> PeerId {
        self.voices[voice].peer
    }

    fn sfu(&mut self) -> &mut Sfu {
        &mut self.world.core
    }

    fn now(&self) -> Instant {
        self.world.now
    }

    /// A room with these voices in it, in these roles.
    fn room(&mut self, members: &[(usize, Role)]) -> RoomId {
        let now = self.now();
        let room = self.sfu().create_room();
        for &(voice, role) in members {
            let peer = self.peer(voice);
            self.sfu().join(now, room, peer, role).unwrap();
        }
        room
    }

    /// Everyone speaking sends a 20 ms frame every 20 ms for `duration`.
    fn talk(&mut self, duration: Duration) {
        let end = self.now() + duration;
        while self.now() < end {
            let now = self.now();
            for voice in self.voices.iter_mut().filter(|v| v.speaking) {
                let mut pcm = [0i16; FRAME];
                voice.tone.fill(&mut pcm);
                let mut out = [0u8; 1275];
                let n = voice.encoder.encode(&pcm, &mut out).unwrap();
                let client = &mut self.world.clients[voice.client];
                client.send_opus(now, &mut self.world.net, voice.rtp_time, &out[..n]);
                voice.sent.push(out[..n].to_vec());
                voice.rtp_time += FRAME as u64;
            }
            self.world.flush();
            self.world.run_until(now + FRAME_INTERVAL);
        }
    }

    /// The Opus frames `voice`'s client received, with when, in arrival order.
    fn received(&self, voice: usize) -> Vec<(Instant, &MediaData)> {
        let client = &self.world.clients[self.voices[voice].client];
        client
            .events
            .iter()
            .filter_map(|(at, e)| match e {
                str0m::Event::MediaData(d) if d.params.spec().codec == Codec::Opus => {
                    Some((*at, d))
                }
                _ => None,
            })
            .collect()
    }

    /// What `voice`'s client heard from `from` to `to`: everything it received decoded
    /// in order with one decoder (as a browser would), keeping the frames that arrived
    /// in the window.
    fn heard(&self, voice: usize, from: Instant, to: Instant) -> Vec<i16> {
        let mut decoder = opus::Decoder::new(RATE, opus::Channels::Mono).unwrap();
        let mut heard = Vec::new();
        for (at, data) in self.received(voice) {
            let mut pcm = [0i16; 6 * FRAME];
            let n = decoder.decode(&data.data, &mut pcm, false).unwrap();
            if (from..to).contains(&at) {
                heard.extend_from_slice(&pcm[..n]);
            }
        }
        heard
    }

    /// How many frames `voice`'s client received from `from` to `to`.
    fn frames_between(&self, voice: usize, from: Instant, to: Instant) -> usize {
        self.received(voice)
            .iter()
            .filter(|(at, _)| (from..to).contains(at))
            .count()
    }
}

/// The level of `hz` in `pcm`, in sample units (a tone of peak A measures about A).
fn level(pcm: &[i16], hz: f64) -> f64 {
    goertzel_amplitude(pcm, RATE, hz)
}

/// Asserts `pcm` (at least half a second of it) carries `hz`, clearly.
fn assert_hears(pcm: &[i16], hz: f64, who: &str) {
    assert!(
        pcm.len() >= RATE as usize / 2,
        "{who}: only {} samples",
        pcm.len()
    );
    let at = level(pcm, hz);
    assert!(
        at > f64::from(AMPLITUDE) / 3.0,
        "{who} should hear {hz} Hz: level {at:.0}"
    );
}

/// Asserts `pcm` carries no `hz` beyond the codec's noise.
fn assert_not_hears(pcm: &[i16], hz: f64, who: &str) {
    let at = level(pcm, hz);
    assert!(
        at < f64::from(AMPLITUDE) / 40.0,
        "{who} should not hear {hz} Hz: level {at:.0}"
    );
}

/// The payloads of frames received, as bytes.
fn payloads(received: &[(Instant, &MediaData)]) -> Vec<Vec<u8>> {
    received.iter().map(|(_, d)| d.data.to_vec()).collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
