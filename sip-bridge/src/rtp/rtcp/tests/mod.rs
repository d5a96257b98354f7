//! RTCP tests, by part.

use super::*;

const CNAME: &str = "dcx@192.0.2.10";

fn wall(unix_secs: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(unix_secs)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn session(ssrc: u32, now: Instant, seed: u64) -> RtcpSession {
    RtcpSession::new(
        RtcpConfig::new(ssrc, CNAME, 8000, seed),
        now,
        wall(1_700_000_000.0),
    )
    .unwrap()
}

fn blocks_of(packet: &RtcpPacket<'_>) -> Vec<ReportBlock> {
    match packet {
        RtcpPacket::SenderReport(sr) => sr.blocks.iter().collect(),
        RtcpPacket::ReceiverReport(rr) => rr.blocks.iter().collect(),
        other => panic!("not a report: {other:?}"),
    }
}

mod never_panics;
mod packet;
mod session;
mod stats;
