//! Media hot-path benchmarks: `cargo bench -p dcx-media --bench g711`.
//!
//! - G.711 encode + decode of one 20 ms frame (160 samples at 8 kHz), each law;
//! - jitter buffer push + pop of one 20 ms packet in steady state (parse included);
//! - SFU forward decision + munge + in-place header rewrite of one packet.
//!
//! Each figure is per frame or per packet; at 50 packets per second per direction a
//! call's budget is 20 ms per frame, so these are far from mattering alone, but they are
//! the per-packet floor under the transcoding and forwarding densities of issue 4.

use criterion::Criterion;
use dcx_media::g711::Law;
use dcx_media::jitter::{JitterBuffer, JitterConfig, Playout};
use dcx_media::munger::{
    ForwardDecision, Forwarder, Munger, MungerConfig, SourcePacket, SourcePolicy,
};
use dcx_media::rtp::{rewrite_header, RtpHeader, RtpPacket};
use dcx_media::tone::SineGenerator;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn bench_g711(c: &mut Criterion) {
    let mut pcm = [0i16; 160];
    SineGenerator::new(1000.0, 8000, 12_000).fill(&mut pcm);
    let mut codes = [0u8; 160];
    let mut out = [0i16; 160];
    for (law, name) in [(Law::Ulaw, "ulaw"), (Law::Alaw, "alaw")] {
        c.bench_function(&format!("g711/{name}/encode+decode 160 samples"), |b| {
            b.iter(|| {
                law.encode_slice(black_box(&pcm), &mut codes);
                law.decode_slice(black_box(&codes), &mut out);
                black_box(&out);
            });
        });
        c.bench_function(&format!("g711/{name}/encode 160 samples"), |b| {
            b.iter(|| {
                law.encode_slice(black_box(&pcm), &mut codes);
                black_box(&codes);
            });
        });
    }
}

/// A 172-byte PCMU packet (12 header + 160 payload) to be renumbered per iteration.
fn pcmu_packet() -> ([u8; 172], usize) {
    let mut buf = [0u8; 172];
    let header = RtpHeader {
        payload_type: 0,
        ssrc: 0xCAFE,
        ..RtpHeader::default()
    };
    let n = header.write(&[0xFF; 160], 0, &mut buf).expect("fits");
    (buf, n)
}

fn bench_jitter(c: &mut Criterion) {
    let (mut buf, n) = pcmu_packet();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid config");
    let t0 = Instant::now();
    let mut i: u32 = 0;
    c.bench_function("jitter/push+pop per 20 ms packet", |b| {
        b.iter(|| {
            let now = t0 + Duration::from_millis(20) * i;
            rewrite_header(&mut buf[..n], false, i as u16, i.wrapping_mul(160), 0xCAFE)
                .expect("rtp");
            let packet = RtpPacket::parse(&buf[..n]).expect("rtp");
            black_box(jb.push(now, &packet));
            while let Playout::Packet(p) = jb.pop(now) {
                black_box(p.payload);
            }
            i = i.wrapping_add(1);
        });
    });
    let s = jb.stats();
    assert_eq!(
        s.late + s.duplicate + s.out_of_window,
        0,
        "steady state expected: {s:?}"
    );
}

fn bench_forward(c: &mut Criterion) {
    let (mut buf, n) = pcmu_packet();
    let mut forwarder = Forwarder::new(SourcePolicy::Latest);
    let mut munger = Munger::new(MungerConfig {
        ssrc: 1,
        clock_rate_hz: 8000,
        initial_sequence_number: 0,
        initial_timestamp: 0,
    });
    let t0 = Instant::now();
    let mut i: u32 = 0;
    c.bench_function("sfu/decide+munge+rewrite per packet", |b| {
        b.iter(|| {
            rewrite_header(&mut buf[..n], false, i as u16, i.wrapping_mul(160), 0xCAFE)
                .expect("rtp");
            let packet = RtpPacket::parse(&buf[..n]).expect("rtp");
            if let ForwardDecision::Forward(continuity) = forwarder.decide(packet.ssrc()) {
                let source = SourcePacket::from(&packet);
                let now = t0 + Duration::from_millis(20) * i;
                if let Ok(out) = munger.munge(now, source, continuity) {
                    out.apply(&mut buf[..n]).expect("rtp");
                }
            }
            black_box(&buf);
            i = i.wrapping_add(1);
        });
    });
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_g711(&mut c);
    bench_jitter(&mut c);
    bench_forward(&mut c);
    c.final_summary();
}
