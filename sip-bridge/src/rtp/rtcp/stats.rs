//! Reception and transmission statistics, as RFC 3550 appendix A computes them.
//!
//! [`ReceiverStats`] follows one remote source: sequence validation with probation and
//! resynchronization (A.1), expected and lost packets with the per-report interval
//! (A.3), interarrival jitter (A.8, the integer form). [`SenderStats`] counts what we
//! send, for the sender information of an SR.

use super::packet::{ReportBlock, CUMULATIVE_LOST_MAX, CUMULATIVE_LOST_MIN};
use std::time::{Duration, Instant};

/// A jump of less than this many sequence numbers ahead is a gap (loss), not a restart
/// (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// A sequence number up to this many behind the highest is a late or duplicate packet,
/// not a restart (RFC 3550 A.1).
pub const MAX_MISORDER: u16 = 100;
/// Sequential packets a new source must send before it counts (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u8 = 2;

const SEQ_MOD: u64 = 1 << 16;

/// What [`ReceiverStats::on_packet`] made of a packet (RFC 3550 A.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// Counted: in order, after a gap, late, or a duplicate.
    Valid,
    /// The source is on probation (fewer than [`MIN_SEQUENTIAL`] sequential packets so
    /// far); not counted.
    Probation,
    /// A jump too large to be loss or reordering; not counted unless the next packet
    /// follows it.
    Jump,
    /// This packet followed a jump: the sender restarted its sequence, and statistics
    /// start over from this packet (counted).
    Restarted,
}

/// Statistics of one remote source (one SSRC) as RFC 3550 appendix A keeps them.
///
/// Arrival times are given in the source's RTP timestamp units, on any clock that
/// advances at the RTP clock rate (the session converts its `Instant`s): only
/// differences matter.
#[derive(Debug, Clone, Default)]
pub struct ReceiverStats {
    /// Highest sequence number seen (A.1 `max_seq`).
    max_seq: u16,
    /// Sequence number wraps, times 65536 (A.1 `cycles`).
    cycles: u64,
    /// First sequence number counted (A.1 `base_seq`).
    base_seq: u64,
    /// The sequence number that would confirm a jump (A.1 `bad_seq`); `None` at first.
    bad_seq: Option<u16>,
    /// Sequential packets still needed to leave probation; `None` before the first one.
    probation: Option<u8>,
    /// Packets counted since the last (re)start (A.1 `received`).
    received: u64,
    /// `expected` at the last report (A.3).
    expected_prior: u64,
    /// `received` at the last report (A.3).
    received_prior: u64,
    /// Counted and lost packets from before restarts, for call totals.
    received_before_restarts: u64,
    lost_before_restarts: i64,
    /// Relative transit time of the previous packet (A.8); `None` until one is counted.
    transit: Option<u32>,
    /// Jitter times 16 (A.8's integer form).
    jitter_x16: u64,
}

impl ReceiverStats {
    /// Statistics for a source not heard yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one RTP packet: validates its sequence number (A.1) and, if it counts,
    /// updates the jitter (A.8) with its timestamp and arrival time (both in RTP units).
    pub fn on_packet(&mut self, seq: u16, rtp_timestamp: u32, arrival_rtp: u32) -> SeqCheck {
        let check = self.check_seq(seq);
        match check {
            SeqCheck::Valid => self.update_jitter(rtp_timestamp, arrival_rtp),
            SeqCheck::Restarted => {
                // A new timeline: re-anchor transit so the step does not count as jitter.
                self.transit = None;
                self.update_jitter(rtp_timestamp, arrival_rtp);
            }
            SeqCheck::Probation | SeqCheck::Jump => {}
        }
        check
    }

    /// A.1 `update_seq`, with the source's first packet starting probation.
    fn check_seq(&mut self, seq: u16) -> SeqCheck {
        let probation = match self.probation {
            None => {
                // A.1: a new source starts just before its first packet, on probation.
                self.max_seq = seq.wrapping_sub(1);
                MIN_SEQUENTIAL
            }
            Some(p) => p,
        };
        if probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.max_seq = seq;
                self.probation = Some(probation - 1);
                if probation == 1 {
                    self.restart(seq);
                    self.received = 1;
                    return SeqCheck::Valid;
                }
            } else {
                self.max_seq = seq;
                self.probation = Some(MIN_SEQUENTIAL - 1);
            }
            return SeqCheck::Probation;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            // In order, possibly after a gap.
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= (1 << 16) - u32::from(MAX_MISORDER) {
            // A very large jump: a restart if the next packet follows it.
            if self.bad_seq != Some(seq) {
                self.bad_seq = Some(seq.wrapping_add(1));
                return SeqCheck::Jump;
            }
            self.received_before_restarts += self.received;
            self.lost_before_restarts += self.cumulative_lost();
            self.restart(seq);
            self.received = 1;
            return SeqCheck::Restarted;
        }
        // Otherwise a duplicate or a late packet: counted, max_seq unchanged.
        self.received += 1;
        SeqCheck::Valid
    }

    /// A.1 `init_seq`: statistics start at `seq`.
    fn restart(&mut self, seq: u16) {
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.bad_seq = None;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.8: `J += (|D| - J) / 16`, kept times 16 in integers.
    fn update_jitter(&mut self, rtp_timestamp: u32, arrival_rtp: u32) {
        let transit = arrival_rtp.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.transit {
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            self.jitter_x16 = (self.jitter_x16 + d).saturating_sub((self.jitter_x16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Whether the source has left probation.
    pub fn is_valid(&self) -> bool {
        self.probation == Some(0)
    }

    /// The extended highest sequence number received (wraps after 2^32, as on the
    /// wire).
    pub fn ext_highest_seq(&self) -> u32 {
        (self.cycles + u64::from(self.max_seq)) as u32
    }

    /// Packets expected since the last restart: extended highest minus first, plus one
    /// (A.3); 0 on probation.
    pub fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        (self.cycles + u64::from(self.max_seq) + 1).saturating_sub(self.base_seq)
    }

    /// Packets counted since the last restart, duplicates included (A.1 `received`).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets lost since the last restart: expected minus received, negative when
    /// duplicates outnumber losses. Unclamped; the report block clamps to 24 bits.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Packets counted since the source was first heard, across restarts.
    pub fn packets_received(&self) -> u64 {
        self.received_before_restarts + self.received
    }

    /// Packets lost since the source was first heard, across restarts.
    pub fn packets_lost(&self) -> i64 {
        self.lost_before_restarts + self.cumulative_lost()
    }

    /// Packets counted since the last report block was taken.
    pub fn received_since_report(&self) -> u64 {
        self.received.saturating_sub(self.received_prior)
    }

    /// The interarrival jitter in RTP timestamp units (A.8).
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_x16 >> 4).unwrap_or(u32::MAX)
    }

    /// A report block about this source (`ssrc`), closing the report interval (A.3):
    /// the fraction lost covers the packets since the previous call. `lsr` and `dlsr`
    /// come from the last SR received from the source (0 if none).
    pub fn report_block(&mut self, ssrc: u32, lsr: u32, dlsr: u32) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let cumulative_lost = self.cumulative_lost().clamp(
            i64::from(CUMULATIVE_LOST_MIN),
            i64::from(CUMULATIVE_LOST_MAX),
        ) as i32;
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            ext_highest_seq: self.ext_highest_seq(),
            jitter: self.jitter(),
            lsr,
            dlsr,
        }
    }
}

/// What we have sent on one SSRC: the counts and the RTP timestamp of an SR.
#[derive(Debug, Clone, Default)]
pub struct SenderStats {
    packets: u64,
    octets: u64,
    last: Option<(u32, Instant)>,
}

impl SenderStats {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One RTP packet sent at `now` with timestamp `rtp_timestamp` and `payload_len`
    /// payload octets (header and padding excluded, RFC 3550 6.4.1).
    pub fn on_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.packets += 1;
        self.octets += payload_len as u64;
        self.last = Some((rtp_timestamp, now));
    }

    /// RTP packets sent.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// RTP payload octets sent.
    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// The last RTP timestamp sent and when it was sent.
    pub fn last_sent(&self) -> Option<(u32, Instant)> {
        self.last
    }

    /// The RTP timestamp that corresponds to `now`: the last one sent, advanced by the
    /// time since at `clock_rate_hz` (what an SR pairs with its NTP time).
    pub fn rtp_timestamp_at(&self, now: Instant, clock_rate_hz: u32) -> Option<u32> {
        let (timestamp, sent) = self.last?;
        let elapsed = now.saturating_duration_since(sent);
        Some(timestamp.wrapping_add(rtp_units(elapsed, clock_rate_hz)))
    }
}

/// `duration` in units of a `clock_rate_hz` clock, truncated and wrapping at 2^32 as
/// RTP timestamps do.
pub(super) fn rtp_units(duration: Duration, clock_rate_hz: u32) -> u32 {
    (duration.as_nanos() * u128::from(clock_rate_hz) / 1_000_000_000) as u32
}
