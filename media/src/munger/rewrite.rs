//! Rewriting SSRC, sequence number and timestamp for one subscriber.

use super::Continuity;
use crate::rtp::{rewrite_header, RtpError, RtpPacket, SeqUnwrapper};
use std::time::Instant;
use thiserror::Error;

/// The outgoing stream's identity and starting point (random in production, chosen by
/// the caller so tests are deterministic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MungerConfig {
    /// The SSRC the subscriber sees.
    pub ssrc: u32,
    /// The payload's clock rate, to turn wall time into timestamp units.
    pub clock_rate_hz: u32,
    /// Sequence number of the first packet sent.
    pub initial_sequence_number: u16,
    /// Timestamp of the first packet sent.
    pub initial_timestamp: u32,
}

/// The header fields the munger reads from an incoming packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePacket {
    /// Incoming sequence number.
    pub sequence_number: u16,
    /// Incoming timestamp.
    pub timestamp: u32,
    /// Incoming marker bit.
    pub marker: bool,
}

impl From<&RtpPacket<'_>> for SourcePacket {
    fn from(p: &RtpPacket<'_>) -> Self {
        Self {
            sequence_number: p.sequence_number(),
            timestamp: p.timestamp(),
            marker: p.marker(),
        }
    }
}

/// The rewritten header of one forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MungedHeader {
    /// Outgoing SSRC.
    pub ssrc: u32,
    /// Outgoing sequence number.
    pub sequence_number: u16,
    /// Outgoing sequence number, unwrapped.
    pub ext_seq: u64,
    /// Outgoing timestamp.
    pub timestamp: u32,
    /// Outgoing marker bit.
    pub marker: bool,
}

impl MungedHeader {
    /// Writes these fields into the RTP packet in `packet`, in place.
    pub fn apply(&self, packet: &mut [u8]) -> Result<(), RtpError> {
        rewrite_header(
            packet,
            self.marker,
            self.sequence_number,
            self.timestamp,
            self.ssrc,
        )
    }
}

/// A packet the munger cannot place in the outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MungeError {
    /// A reordered packet from before the current source took over (or resumed): its
    /// sequence number would collide with packets already sent. Drop it.
    #[error("packet precedes the current source's first forwarded packet")]
    PrecedesSwitch,
}

/// Offsets of the current source: `out = in + offset`.
#[derive(Debug, Clone)]
struct Epoch {
    in_seq: SeqUnwrapper,
    first_in_ext: u64,
    seq_offset: u64,
    ts_offset: u32,
    last_in: (u64, u32),
}

/// Rewrites forwarded packets into one continuous stream. See the module docs.
#[derive(Debug, Clone)]
pub struct Munger {
    config: MungerConfig,
    epoch: Option<Epoch>,
    highest_out_ext: Option<u64>,
    /// Timestamp and send time of the packet with the highest output sequence.
    last_out: Option<(u32, Instant)>,
    /// The shortest timestamp step between consecutive packets of the current source,
    /// capped at 20 ms: its frame. A longer step may be a DTX pause, not a frame.
    frame_ticks: u32,
}

impl Munger {
    /// A munger that has sent nothing. Assumes 20 ms frames until it sees the source's.
    pub fn new(config: MungerConfig) -> Self {
        Self {
            config,
            epoch: None,
            highest_out_ext: None,
            last_out: None,
            frame_ticks: default_frame_ticks(config.clock_rate_hz),
        }
    }

    /// Rewrites one packet the [`super::Forwarder`] decided to forward with
    /// `continuity`.
    pub fn munge(
        &mut self,
        now: Instant,
        packet: SourcePacket,
        continuity: Continuity,
    ) -> Result<MungedHeader, MungeError> {
        let restart = continuity != Continuity::Continue || self.epoch.is_none();
        if restart {
            self.start_epoch(now, packet);
        }
        let Some(epoch) = self.epoch.as_mut() else {
            return Err(MungeError::PrecedesSwitch);
        };
        let in_ext = epoch
            .in_seq
            .unwrap(packet.sequence_number)
            .ok_or(MungeError::PrecedesSwitch)?;
        if in_ext < epoch.first_in_ext {
            return Err(MungeError::PrecedesSwitch);
        }
        if in_ext == epoch.last_in.0 + 1 {
            let step = packet.timestamp.wrapping_sub(epoch.last_in.1);
            if step > 0 && step < self.frame_ticks {
                self.frame_ticks = step;
            }
        }
        if in_ext > epoch.last_in.0 {
            epoch.last_in = (in_ext, packet.timestamp);
        }
        let out_ext = in_ext.wrapping_add(epoch.seq_offset);
        let timestamp = packet.timestamp.wrapping_add(epoch.ts_offset);
        if self.highest_out_ext.is_none_or(|h| out_ext > h) {
            self.highest_out_ext = Some(out_ext);
            self.last_out = Some((timestamp, now));
        }
        Ok(MungedHeader {
            ssrc: self.config.ssrc,
            sequence_number: out_ext as u16,
            ext_seq: out_ext,
            timestamp,
            marker: packet.marker || restart,
        })
    }

    /// New offsets: the packet goes out at the next sequence number, its timestamp after
    /// the elapsed wall time.
    fn start_epoch(&mut self, now: Instant, packet: SourcePacket) {
        let out_ext = self
            .highest_out_ext
            .map_or(u64::from(self.config.initial_sequence_number), |h| h + 1);
        let out_ts = match self.last_out {
            None => self.config.initial_timestamp,
            Some((ts, at)) => {
                let elapsed_us = now.saturating_duration_since(at).as_micros();
                let ticks = (elapsed_us * u128::from(self.config.clock_rate_hz) / 1_000_000) as u32;
                ts.wrapping_add(ticks.max(self.frame_ticks))
            }
        };
        // The jump above used the previous source's frame; the new source's is learned
        // afresh.
        self.frame_ticks = default_frame_ticks(self.config.clock_rate_hz);
        let mut in_seq = SeqUnwrapper::new();
        let in_ext = u64::from(packet.sequence_number);
        in_seq.unwrap(packet.sequence_number);
        self.epoch = Some(Epoch {
            in_seq,
            first_in_ext: in_ext,
            seq_offset: out_ext.wrapping_sub(in_ext),
            ts_offset: out_ts.wrapping_sub(packet.timestamp),
            last_in: (in_ext, packet.timestamp),
        });
    }

    /// The outgoing SSRC.
    pub fn ssrc(&self) -> u32 {
        self.config.ssrc
    }
}

/// 20 ms in `clock_rate_hz` units: the frame assumed until a shorter one is seen.
fn default_frame_ticks(clock_rate_hz: u32) -> u32 {
    (clock_rate_hz / 50).max(1)
}
