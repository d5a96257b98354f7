//! RTCP (RFC 3550) for the carrier leg: packets, statistics and a sans-IO session.
//!
//! - [`parse_compound`], [`write_report`], [`write_bye`]: compound RTCP datagrams, read
//!   with the validity checks of RFC 3550 A.2 (malformed input is an [`RtcpError`],
//!   never a panic) and written as SR/RR + SDES CNAME (+ BYE).
//! - [`ReceiverStats`]: one remote source's sequence validation (A.1), loss (A.3) and
//!   interarrival jitter (A.8); [`SenderStats`]: what we sent.
//! - [`RtcpSession`]: one leg (our SSRC toward one remote party) that sends reports on
//!   the RFC 3550 6.2 schedule, reads the peer's, and measures the round-trip time.
//!
//! ## Run loop
//! The session never reads a clock and never touches a socket; the shell that owns the
//! RTP/RTCP sockets drives it:
//! 1. [`RtcpSession::on_rtp_sent`] for each RTP packet sent, [`RtcpSession::on_rtp_received`]
//!    for each one received on the leg, [`RtcpSession::handle_rtcp`] for each datagram on
//!    the RTCP port (an error means: drop the datagram, nothing was changed).
//! 2. After any input, send what [`RtcpSession::poll_transmit`] returns, then arm a timer
//!    for [`RtcpSession::poll_timeout`] and call [`RtcpSession::handle_timeout`] when it
//!    fires.
//! 3. At hang-up, [`RtcpSession::bye`], then send the final [`RtcpSession::poll_transmit`].
//!
//! ```
//! use dcx_sip::rtp::rtcp::{parse_compound, RtcpConfig, RtcpPacket, RtcpSession};
//! use std::time::{Duration, Instant, SystemTime};
//!
//! let t0 = Instant::now();
//! let config = RtcpConfig::new(0x1234_5678, "dcx@192.0.2.10", 8000, 42);
//! let mut leg = RtcpSession::new(config, t0, SystemTime::now())?;
//! leg.on_rtp_sent(t0, 160, 160);
//! let due = leg.poll_timeout().expect("reports are scheduled");
//! leg.handle_timeout(due);
//! let datagram = leg.poll_transmit().expect("a report is due");
//! let packets = parse_compound(datagram)?;
//! assert!(matches!(packets[0], RtcpPacket::SenderReport(_)));
//! assert!(leg.poll_timeout() > Some(due));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Scope
//! A two-party session: RFC 3550 6.3's interval computation reduces to its minimum (5%
//! of a G.711 call's bandwidth would allow a report every half second), so the interval
//! is [`RtcpConfig::min_interval`] (5 s) randomized over [0.5, 1.5] times itself, the
//! first report after half of that (6.2). Timer reconsideration (with its e - 3/2
//! compensation), BYE reconsideration and SSRC collision handling matter only with many
//! members and are left out. The session reports on one remote source at a time; when the carrier
//! switches SSRC, the new source takes over once it passes probation and the call totals
//! carry on.

mod packet;
mod stats;
#[cfg(test)]
mod tests;

pub use packet::{
    duration_to_ntp_short, ntp_short_to_duration, parse_compound, write_bye, write_report, Bye,
    NtpTime, ReceiverReport, ReportBlock, ReportBlockIter, ReportBlocks, RtcpBuildError, RtcpError,
    RtcpPacket, SdesChunk, SenderInfo, SenderReport, SourceDescription, SsrcIter, Ssrcs,
    CUMULATIVE_LOST_MAX, CUMULATIVE_LOST_MIN, MAX_COUNT, MAX_TEXT_LEN, PT_APP, PT_BYE, PT_RR,
    PT_SDES, PT_SR, RTCP_VERSION, SDES_CNAME,
};
pub use stats::{ReceiverStats, SenderStats, SeqCheck, MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL};

use std::time::{Duration, Instant, SystemTime};

/// RFC 3550 6.2's recommended minimum interval between reports.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest interval [`RtcpSession::new`] accepts.
pub const MIN_INTERVAL_FLOOR: Duration = Duration::from_millis(100);

/// How one leg's RTCP is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpConfig {
    /// Our SSRC on this leg, as our RTP carries it on the wire.
    pub local_ssrc: u32,
    /// Our canonical name (RFC 3550 6.5.1, e.g. `dcx@192.0.2.10`), at most 255 bytes.
    pub cname: String,
    /// The RTP clock rate of the leg's payload (8000 for G.711).
    pub clock_rate_hz: u32,
    /// The minimum interval between reports; [`DEFAULT_MIN_INTERVAL`] unless changed.
    pub min_interval: Duration,
    /// Seed of the interval randomization (from the shell's random source).
    pub seed: u64,
}

impl RtcpConfig {
    /// A configuration with the default interval.
    pub fn new(local_ssrc: u32, cname: impl Into<String>, clock_rate_hz: u32, seed: u64) -> Self {
        Self {
            local_ssrc,
            cname: cname.into(),
            clock_rate_hz,
            min_interval: DEFAULT_MIN_INTERVAL,
            seed,
        }
    }
}

/// A leg's RTCP figures, for CDRs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RtcpStats {
    /// RTP packets we sent.
    pub packets_sent: u64,
    /// RTP payload octets we sent.
    pub octets_sent: u64,
    /// RTP packets received and counted (RFC 3550 A.1: not the probation packet, not a
    /// jump awaiting confirmation; duplicates count).
    pub packets_received: u64,
    /// Packets lost: expected minus received, summed over the remote's sources and
    /// sequence restarts; negative when duplicates outnumber losses.
    pub packets_lost: i64,
    /// The fraction lost in our last report's interval, 0.0 to 1.0 (in steps of 1/256).
    pub fraction_lost: f64,
    /// Interarrival jitter of the current remote source, in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time from the peer's last report about us, if it carried an LSR.
    pub rtt_ms: Option<f64>,
    /// The fraction of our packets the peer lost, from its last report about us.
    pub remote_fraction_lost: Option<f64>,
    /// The jitter the peer sees on our packets, in milliseconds.
    pub remote_jitter_ms: Option<f64>,
}

/// RTCP for one leg: our SSRC toward one remote party (see the module docs for the run
/// loop).
///
/// Methods, in the order of the run loop: getters ([`stats`](Self::stats),
/// [`rtt`](Self::rtt), [`remote_ssrc`](Self::remote_ssrc),
/// [`bye_received`](Self::bye_received)); inputs (`on_rtp_*`, `handle_*`, [`bye`](Self::bye));
/// outputs ([`poll_transmit`](Self::poll_transmit), then
/// [`poll_timeout`](Self::poll_timeout)).
#[derive(Debug, Clone)]
pub struct RtcpSession {
    local_ssrc: u32,
    cname: String,
    clock_rate_hz: u32,
    min_interval: Duration,
    rng: SplitMix64,
    clock: WallClock,
    sender: SenderStats,
    sent_since_report: bool,
    /// The source we report on.
    remote: Option<Source>,
    /// A new SSRC from the peer, on probation before it replaces `remote`.
    candidate: Option<Source>,
    /// Totals of sources `remote` has replaced.
    retired_received: u64,
    retired_lost: i64,
    last_sr: Option<LastSr>,
    /// The peer's last report block about us.
    about_us: Option<ReportBlock>,
    rtt: Option<Duration>,
    fraction_lost: u8,
    /// When the next report is due; `None` once a BYE is queued.
    next_report: Option<Instant>,
    transmit: Vec<u8>,
    transmit_ready: bool,
    bye_received: bool,
}

#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    stats: ReceiverStats,
}

/// The last SR received: from whom, its NTP time's middle bits, when it arrived.
#[derive(Debug, Clone, Copy)]
struct LastSr {
    ssrc: u32,
    lsr: u32,
    arrival: Instant,
}

impl RtcpSession {
    /// A session that starts at `now`, when the wall clock read `wall_clock` (the NTP
    /// times of our SRs and the LSR/DLSR arithmetic derive from the pair). The first
    /// report is due after half an interval.
    ///
    /// Refuses a CNAME over 255 bytes, a zero clock rate and an interval under
    /// [`MIN_INTERVAL_FLOOR`].
    pub fn new(
        config: RtcpConfig,
        now: Instant,
        wall_clock: SystemTime,
    ) -> Result<Self, RtcpBuildError> {
        if config.cname.len() > MAX_TEXT_LEN {
            return Err(RtcpBuildError::TextTooLong(config.cname.len()));
        }
        if config.clock_rate_hz == 0 {
            return Err(RtcpBuildError::ZeroClockRate);
        }
        if config.min_interval < MIN_INTERVAL_FLOOR {
            return Err(RtcpBuildError::IntervalTooShort(config.min_interval));
        }
        let mut session = Self {
            local_ssrc: config.local_ssrc,
            cname: config.cname,
            clock_rate_hz: config.clock_rate_hz,
            min_interval: config.min_interval,
            rng: SplitMix64(config.seed),
            clock: WallClock {
                base: now,
                base_unix: wall_clock
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default(),
            },
            sender: SenderStats::new(),
            sent_since_report: false,
            remote: None,
            candidate: None,
            retired_received: 0,
            retired_lost: 0,
            last_sr: None,
            about_us: None,
            rtt: None,
            fraction_lost: 0,
            next_report: None,
            transmit: Vec::new(),
            transmit_ready: false,
            bye_received: false,
        };
        session.next_report = Some(now + session.randomized(session.min_interval / 2));
        Ok(session)
    }

    /// The leg's figures so far.
    pub fn stats(&self) -> RtcpStats {
        let source = self.remote.as_ref().map(|s| &s.stats);
        RtcpStats {
            packets_sent: self.sender.packets(),
            octets_sent: self.sender.octets(),
            packets_received: self.retired_received
                + source.map_or(0, ReceiverStats::packets_received),
            packets_lost: self.retired_lost + source.map_or(0, ReceiverStats::packets_lost),
            fraction_lost: f64::from(self.fraction_lost) / 256.0,
            jitter_ms: source.map_or(0.0, |s| self.rtp_units_to_ms(s.jitter())),
            rtt_ms: self.rtt.map(|rtt| rtt.as_secs_f64() * 1000.0),
            remote_fraction_lost: self.about_us.map(|b| f64::from(b.fraction_lost) / 256.0),
            remote_jitter_ms: self.about_us.map(|b| self.rtp_units_to_ms(b.jitter)),
        }
    }

    /// The round-trip time from the peer's last report about us that carried an LSR
    /// (RFC 3550 6.4.1: arrival - LSR - DLSR, at 1/65536 s resolution).
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The SSRC of the remote source we report on.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote.as_ref().map(|s| s.ssrc)
    }

    /// Whether the peer sent a BYE.
    pub fn bye_received(&self) -> bool {
        self.bye_received
    }

    /// We sent an RTP packet with timestamp `rtp_timestamp` and `payload_len` payload
    /// octets at `now`.
    pub fn on_rtp_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.sender.on_sent(now, rtp_timestamp, payload_len);
        self.sent_since_report = true;
    }

    /// An RTP packet from the peer arrived at `now`.
    pub fn on_rtp_received(&mut self, now: Instant, seq: u16, rtp_timestamp: u32, ssrc: u32) {
        let arrival = stats::rtp_units(
            now.saturating_duration_since(self.clock.base),
            self.clock_rate_hz,
        );
        if let Some(remote) = self.remote.as_mut().filter(|r| r.ssrc == ssrc) {
            remote.stats.on_packet(seq, rtp_timestamp, arrival);
            return;
        }
        let mut source = match self.candidate.take() {
            Some(candidate) if candidate.ssrc == ssrc => candidate,
            _ => Source {
                ssrc,
                stats: ReceiverStats::new(),
            },
        };
        source.stats.on_packet(seq, rtp_timestamp, arrival);
        if self.remote.is_some() && !source.stats.is_valid() {
            self.candidate = Some(source);
        } else if let Some(old) = self.remote.replace(source) {
            self.retired_received += old.stats.packets_received();
            self.retired_lost += old.stats.packets_lost();
        }
    }

    /// A datagram arrived on the RTCP port at `now`: records the LSR of an SR (for our
    /// next block about its sender), takes in blocks about us (the peer's loss and
    /// jitter figures, the round-trip time) and notes a BYE. On error nothing changed:
    /// drop the datagram.
    pub fn handle_rtcp(&mut self, now: Instant, datagram: &[u8]) -> Result<(), RtcpError> {
        for packet in parse_compound(datagram)? {
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    self.last_sr = Some(LastSr {
                        ssrc: sr.ssrc,
                        lsr: sr.sender_info.ntp.middle_32(),
                        arrival: now,
                    });
                    self.on_report_blocks(now, sr.blocks);
                }
                RtcpPacket::ReceiverReport(rr) => self.on_report_blocks(now, rr.blocks),
                RtcpPacket::Bye(bye) => self.on_bye(bye.sources),
                RtcpPacket::SourceDescription(_) | RtcpPacket::Other { .. } => {}
            }
        }
        Ok(())
    }

    /// The report timer fired: queue a report if one is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_report.is_some_and(|due| now >= due) {
            self.transmit.clear();
            self.put_report(now);
            self.transmit_ready = true;
            self.next_report = Some(now + self.randomized(self.min_interval));
        }
    }

    /// We hang up: queue a last report with a BYE (RFC 3550 6.3.7 lets a small session
    /// send it at once) and stop reporting. Calling it again does nothing.
    pub fn bye(&mut self, now: Instant) {
        if self.next_report.take().is_some() {
            self.transmit.clear();
            self.put_report(now);
            packet::put_bye(&mut self.transmit, &[self.local_ssrc], None);
            self.transmit_ready = true;
        }
    }

    /// The datagram to send on the RTCP port, once. A report not taken before the next
    /// one is due is replaced by it.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        if !std::mem::take(&mut self.transmit_ready) {
            return None;
        }
        Some(&self.transmit)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout); `None` after [`bye`](Self::bye).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_report
    }

    /// Appends an SR (if we sent RTP since the last report) or an RR, with a block
    /// about the remote source if it sent since the last report, and our CNAME.
    fn put_report(&mut self, now: Instant) {
        let sender_info = if std::mem::take(&mut self.sent_since_report) {
            self.sender
                .rtp_timestamp_at(now, self.clock_rate_hz)
                .map(|rtp_timestamp| SenderInfo {
                    ntp: self.clock.ntp(now),
                    rtp_timestamp,
                    packet_count: self.sender.packets() as u32,
                    octet_count: self.sender.octets() as u32,
                })
        } else {
            None
        };
        let block = self.take_report_block(now);
        packet::put_report(
            &mut self.transmit,
            self.local_ssrc,
            sender_info.as_ref(),
            block.as_slice(),
            self.cname.as_bytes(),
        );
    }

    fn take_report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let source = self
            .remote
            .as_mut()
            .filter(|s| s.stats.is_valid() && s.stats.received_since_report() > 0)?;
        let (lsr, dlsr) = match self.last_sr {
            Some(sr) if sr.ssrc == source.ssrc => (
                sr.lsr,
                duration_to_ntp_short(now.saturating_duration_since(sr.arrival)),
            ),
            _ => (0, 0),
        };
        let block = source.stats.report_block(source.ssrc, lsr, dlsr);
        self.fraction_lost = block.fraction_lost;
        Some(block)
    }

    /// Takes in the peer's blocks about us: its view of our stream, and the round trip
    /// when it echoes an SR of ours.
    fn on_report_blocks(&mut self, now: Instant, blocks: ReportBlocks<'_>) {
        let local_ssrc = self.local_ssrc;
        for block in blocks.iter().filter(|b| b.ssrc == local_ssrc) {
            self.about_us = Some(block);
            if block.lsr != 0 {
                let arrival = self.clock.ntp(now).middle_32();
                let rtt = arrival.wrapping_sub(block.lsr).wrapping_sub(block.dlsr);
                // Negative only by rounding on a near-zero path (or a peer's bad DLSR).
                self.rtt = Some(if (rtt as i32) < 0 {
                    Duration::ZERO
                } else {
                    ntp_short_to_duration(rtt)
                });
            }
        }
    }

    fn on_bye(&mut self, sources: Ssrcs<'_>) {
        let local_ssrc = self.local_ssrc;
        if sources.iter().any(|ssrc| ssrc != local_ssrc) {
            self.bye_received = true;
        }
    }

    /// `base` times a uniform factor in [0.5, 1.5) (RFC 3550 6.3.1).
    fn randomized(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.5 + self.rng.next_unit())
    }

    fn rtp_units_to_ms(&self, units: u32) -> f64 {
        f64::from(units) * 1000.0 / f64::from(self.clock_rate_hz)
    }
}

/// The `Instant` <-> wall-clock pairing the session was created with.
#[derive(Debug, Clone, Copy)]
struct WallClock {
    base: Instant,
    base_unix: Duration,
}

impl WallClock {
    fn ntp(&self, now: Instant) -> NtpTime {
        let unix = match now.checked_duration_since(self.base) {
            Some(ahead) => self.base_unix.saturating_add(ahead),
            None => self
                .base_unix
                .saturating_sub(self.base.saturating_duration_since(now)),
        };
        NtpTime::from_unix(unix)
    }
}

/// `SplitMix64` (Steele, Lea, Flood 2014): enough to spread report times, not for secrets.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}
