//! Records for the tests.

use super::{Cdr, HangupSide, LegKind};

/// 2026-03-01 12:00:00 UTC.
pub const T0_MS: i64 = 1_772_366_400_000;

/// An answered transit call from origin-a through carrier-b: 125 s at 0.0123/min.
pub fn answered(call_id: &str, attempt: u32, start_ms: i64) -> Cdr {
    Cdr {
        call_id: call_id.to_owned(),
        attempt,
        leg: LegKind::Sip,
        trunk_in: "origin-a".to_owned(),
        trunk_out: Some("carrier-b".to_owned()),
        caller: "+12025550100".to_owned(),
        callee: "00442079460000".to_owned(),
        callee_normalized: "442079460000".to_owned(),
        prefix: Some("4420".to_owned()),
        rate_per_min_nano: 12_300_000,
        start_ms,
        first_ring_ms: Some(start_ms + 1_200),
        answer_ms: Some(start_ms + 4_000),
        end_ms: start_ms + 129_000,
        duration_s: 125,
        cost_nano: 25_625_000,
        sip_code: 200,
        hangup: HangupSide::Caller,
        reason: "BYE".to_owned(),
        queue: None,
        agent: None,
        queue_wait_ms: None,
    }
}

/// A failed attempt: the carrier answered 503 after ringing nothing.
pub fn failed(call_id: &str, attempt: u32, start_ms: i64, trunk_out: &str) -> Cdr {
    Cdr {
        trunk_out: Some(trunk_out.to_owned()),
        first_ring_ms: None,
        answer_ms: None,
        end_ms: start_ms + 300,
        duration_s: 0,
        cost_nano: 0,
        sip_code: 503,
        hangup: HangupSide::Callee,
        reason: "Service Unavailable".to_owned(),
        ..answered(call_id, attempt, start_ms)
    }
}

/// `n` distinct call records, one a second from `T0_MS`.
pub fn many(n: usize) -> Vec<Cdr> {
    (0..n)
        .map(|i| answered(&format!("call-{i:05}"), 0, T0_MS + i as i64 * 1_000))
        .collect()
}

/// A directory of its own under the system's temp dir, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("dcx-cdr-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn join(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
