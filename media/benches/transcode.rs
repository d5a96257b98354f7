//! Transcoding density: how many bridged calls (Opus <-> PCMU, both directions, 50
//! frames/s each way) one core sustains through dcx's `Transcoder`, against raw libopus
//! doing the same decode and encode on the same frames, in the same run.
//!
//! `cargo bench -p dcx-media --bench transcode`

use dcx_media::bridge::{G711Decode, G711Encode, OpusDecode, OpusEncode, OpusSettings, Transcoder};
use dcx_media::g711::Law;
use dcx_media::jitter::Playout;
use dcx_media::tone::SineGenerator;
use std::hint::black_box;
use std::time::Instant;

mod rss;
use rss::rss_kib;

const CALLS: usize = 100;
const FRAMES: usize = 250; // 5 s of audio per call

/// Speech-like test signal: a 120 Hz voice with harmonics, syllables every 200 ms.
fn speech(rate: u32, samples: usize) -> Vec<i16> {
    let mut harmonics: Vec<SineGenerator> = [120.0, 240.0, 360.0, 720.0, 1080.0, 2200.0]
        .iter()
        .map(|&f| SineGenerator::new(f, rate, 2500))
        .collect();
    (0..samples)
        .map(|i| {
            let envelope = ((i as f64 / f64::from(rate) * 5.0 * std::f64::consts::PI)
                .sin()
                .abs()
                * 1.2)
                .min(1.0);
            let s: f64 = harmonics
                .iter_mut()
                .map(|h| f64::from(h.next_sample()))
                .sum();
            (s * envelope * 0.8) as i16
        })
        .collect()
}

/// What the browser sends: Opus 20 ms packets from a source at `rate`.
fn browser_packets(rate: u32) -> Vec<Vec<u8>> {
    let mut enc = opus::Encoder::new(rate, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let frame = rate as usize / 50;
    let pcm = speech(rate, frame * FRAMES);
    pcm.chunks(frame)
        .map(|c| {
            let mut out = [0u8; 1275];
            let n = enc.encode(c, &mut out).unwrap();
            out[..n].to_vec()
        })
        .collect()
}

fn carrier_frames() -> Vec<Vec<u8>> {
    speech(8000, 160 * FRAMES)
        .chunks(160)
        .map(|c| {
            let mut out = vec![0u8; 160];
            Law::Ulaw.encode_slice(c, &mut out);
            out
        })
        .collect()
}

/// Seconds of CPU per second of audio per call, through dcx's transcoders.
fn dcx_cost(browser: &[Vec<u8>], carrier: &[Vec<u8>], settings: OpusSettings) -> f64 {
    let mut calls: Vec<_> = (0..CALLS)
        .map(|_| {
            (
                Transcoder::new(OpusDecode::new().unwrap(), G711Encode::new(Law::Ulaw)),
                Transcoder::new(
                    G711Decode::new(Law::Ulaw),
                    OpusEncode::new(settings).unwrap(),
                ),
            )
        })
        .collect();
    let t0 = Instant::now();
    for f in 0..FRAMES {
        for (to_carrier, to_browser) in &mut calls {
            to_carrier.process(Playout::payload(&browser[f]), |p| {
                black_box(p);
            });
            to_browser.process(Playout::payload(&carrier[f]), |p| {
                black_box(p);
            });
        }
    }
    t0.elapsed().as_secs_f64() / CALLS as f64 / (FRAMES as f64 / 50.0)
}

/// The same work with libopus called directly: decode to 8 kHz + mu-law encode, mu-law
/// decode + encode from 8 kHz.
fn raw_cost(browser: &[Vec<u8>], carrier: &[Vec<u8>], settings: OpusSettings) -> f64 {
    let mut calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let dec = opus::Decoder::new(8000, opus::Channels::Mono).unwrap();
            let mut enc =
                opus::Encoder::new(8000, opus::Channels::Mono, opus::Application::Voip).unwrap();
            enc.set_bitrate(opus::Bitrate::Bits(settings.bitrate_bps))
                .unwrap();
            enc.set_complexity(settings.complexity).unwrap();
            enc.set_inband_fec(settings.fec).unwrap();
            enc.set_packet_loss_perc(settings.expected_loss_pct)
                .unwrap();
            enc.set_signal(opus::Signal::Voice).unwrap();
            (dec, enc)
        })
        .collect();
    let mut pcm = [0i16; 960];
    let mut g711 = [0u8; 960];
    let mut out = [0u8; 1275];
    let t0 = Instant::now();
    for f in 0..FRAMES {
        for (dec, enc) in &mut calls {
            let n = dec.decode(&browser[f], &mut pcm, false).unwrap();
            black_box(Law::Ulaw.encode_slice(&pcm[..n], &mut g711));
            let n = Law::Ulaw.decode_slice(&carrier[f], &mut pcm);
            black_box(enc.encode(&pcm[..n], &mut out).unwrap());
        }
    }
    t0.elapsed().as_secs_f64() / CALLS as f64 / (FRAMES as f64 / 50.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench --no-run`-style probes
    }
    let carrier = carrier_frames();
    println!("transcoding density: {CALLS} calls x {FRAMES} frames of 20 ms each way, medians of 5 runs (dcx and raw interleaved)");
    println!(
        "{:<46} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "browser source / encoder",
        "dcx us/frame",
        "raw us/frame",
        "dcx calls",
        "raw calls",
        "dcx/raw"
    );
    for (label, rate) in [
        ("narrowband (8 kHz source)", 8000),
        ("fullband (48 kHz source)", 48_000),
    ] {
        let browser = browser_packets(rate);
        for complexity in [0, 2, 5, 10] {
            let settings = OpusSettings {
                complexity,
                ..OpusSettings::default()
            };
            let (mut d, mut r) = (Vec::new(), Vec::new());
            for _ in 0..5 {
                d.push(dcx_cost(&browser, &carrier, settings));
                r.push(raw_cost(&browser, &carrier, settings));
            }
            let (d, r) = (median(d), median(r));
            // CPU per 20 ms frame (both directions), and calls one core sustains.
            println!(
                "{:<46} {:>12.1} {:>12.1} {:>10.0} {:>10.0} {:>8.2}",
                format!(
                    "{label}, complexity {complexity}{}",
                    if complexity == OpusSettings::default().complexity {
                        " *"
                    } else {
                        ""
                    }
                ),
                d * 1e6 / 50.0,
                r * 1e6 / 50.0,
                1.0 / d,
                1.0 / r,
                d / r
            );
        }
    }
    println!("* = dcx's default encoder setting");
    memory_per_call(&browser_packets(8000), &carrier);
}

/// Memory per bridged call: both transcoders and both jitter buffers (one frame through
/// each, so nothing is allocated later), against bare libopus state (one decoder, one
/// encoder) in the same run.
fn memory_per_call(browser: &[Vec<u8>], carrier: &[Vec<u8>]) {
    use dcx_media::jitter::{JitterBuffer, JitterConfig};
    const N: usize = 1000;
    let before = rss_kib();
    let mut raw: Vec<_> = (0..N)
        .map(|_| {
            (
                opus::Decoder::new(8000, opus::Channels::Mono).unwrap(),
                opus::Encoder::new(8000, opus::Channels::Mono, opus::Application::Voip).unwrap(),
            )
        })
        .collect();
    let mut pcm = [0i16; 960];
    let mut out = [0u8; 1275];
    for (d, e) in &mut raw {
        let n = d.decode(&browser[0], &mut pcm, false).unwrap();
        black_box(e.encode(&pcm[..n], &mut out).unwrap());
    }
    let raw_kib = rss_kib().saturating_sub(before);
    let before = rss_kib();
    let opus_jitter = JitterConfig {
        clock_rate_hz: 48_000,
        slot_bytes: 400,
        ..JitterConfig::default()
    };
    let mut calls: Vec<_> = (0..N)
        .map(|_| {
            (
                JitterBuffer::new(opus_jitter).unwrap(),
                Transcoder::new(OpusDecode::new().unwrap(), G711Encode::new(Law::Ulaw)),
                JitterBuffer::new(JitterConfig::default()).unwrap(),
                Transcoder::new(
                    G711Decode::new(Law::Ulaw),
                    OpusEncode::new(OpusSettings::default()).unwrap(),
                ),
            )
        })
        .collect();
    for (_, up, _, down) in &mut calls {
        up.process(Playout::payload(&browser[0]), |p| {
            black_box(p);
        });
        down.process(Playout::payload(&carrier[0]), |p| {
            black_box(p);
        });
    }
    let dcx_kib = rss_kib().saturating_sub(before);
    println!(
        "memory per bridged call ({N} calls): dcx {} KiB (2 transcoders + 2 jitter buffers), raw libopus {} KiB (decoder + encoder), dcx/raw {:.2}",
        dcx_kib / N as u64,
        raw_kib / N as u64,
        dcx_kib as f64 / raw_kib.max(1) as f64
    );
    black_box((raw, calls));
}
