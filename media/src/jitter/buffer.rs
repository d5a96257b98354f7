//! The jitter buffer proper: a ring of preallocated slots indexed by `ext_seq`.

use super::delay::DelayEstimator;
use super::{JitterConfig, JitterError, JitterStats, Playout, PlayoutPacket, PushOutcome};
use crate::rtp::{RtpPacket, SeqUnwrapper, TimestampUnwrapper};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Slot {
    occupied: bool,
    ext_seq: u64,
    ext_ts: u64,
    rtp_timestamp: u32,
    marker: bool,
    payload_type: u8,
    payload: Vec<u8>,
}

/// The packets of one SSRC, between resets.
#[derive(Debug)]
struct Stream {
    ssrc: u32,
    seq: SeqUnwrapper,
    ts: TimestampUnwrapper,
    /// `ext_ts` of the first packet: media time 0.
    base_ts: u64,
    /// The next `ext_seq` to play; everything buffered is in `next_seq..next_seq + capacity`.
    next_seq: u64,
    highest_seq: u64,
    /// Something has been played or declared lost.
    started: bool,
    /// The last packet played, to interpolate the playout time of missing ones.
    anchor: Option<(u64, u64)>,
    buffered: usize,
}

/// An adaptive jitter buffer for one incoming RTP stream. See the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    slots: Vec<Slot>,
    mask: u64,
    /// Time origin of all microsecond values, set by the first push.
    epoch: Option<Instant>,
    stream: Option<Stream>,
    retired_ssrc: Option<u32>,
    /// Raw sequence number of the last out-of-window packet.
    jump_candidate: Option<u16>,
    delay: DelayEstimator,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer with all its slots allocated.
    pub fn new(config: JitterConfig) -> Result<Self, JitterError> {
        let c = &config;
        if c.clock_rate_hz == 0 {
            return Err(JitterError::InvalidConfig("clock_rate_hz must be positive"));
        }
        if c.min_delay_ms > c.max_delay_ms {
            return Err(JitterError::InvalidConfig(
                "min_delay_ms exceeds max_delay_ms",
            ));
        }
        if !(c.min_delay_ms..=c.max_delay_ms).contains(&c.initial_delay_ms) {
            return Err(JitterError::InvalidConfig(
                "initial_delay_ms must lie between min and max",
            ));
        }
        if !(2..=4096).contains(&c.capacity_packets) {
            return Err(JitterError::InvalidConfig(
                "capacity_packets must be 2-4096",
            ));
        }
        if c.slot_bytes > c.max_payload_bytes {
            return Err(JitterError::InvalidConfig(
                "slot_bytes exceeds max_payload_bytes",
            ));
        }
        let capacity = c.capacity_packets.next_power_of_two();
        let slots = (0..capacity)
            .map(|_| Slot {
                occupied: false,
                ext_seq: 0,
                ext_ts: 0,
                rtp_timestamp: 0,
                marker: false,
                payload_type: 0,
                payload: Vec::with_capacity(c.slot_bytes),
            })
            .collect();
        Ok(Self {
            config,
            slots,
            mask: capacity as u64 - 1,
            epoch: None,
            stream: None,
            retired_ssrc: None,
            jump_candidate: None,
            delay: DelayEstimator::new(c.min_delay_ms, c.max_delay_ms, c.initial_delay_ms),
            stats: JitterStats::default(),
        })
    }

    /// Takes one received packet.
    pub fn push(&mut self, now: Instant, packet: &RtpPacket<'_>) -> PushOutcome {
        self.stats.received += 1;
        if packet.payload().len() > self.config.max_payload_bytes {
            self.stats.too_large += 1;
            return PushOutcome::TooLarge;
        }
        let epoch = *self.epoch.get_or_insert(now);
        let now_us = micros_since(epoch, now);
        let ssrc = packet.ssrc();
        match &self.stream {
            Some(s) if s.ssrc == ssrc => {}
            Some(s) => {
                if self.retired_ssrc == Some(ssrc) {
                    self.stats.stale_source += 1;
                    return PushOutcome::StaleSource;
                }
                self.retired_ssrc = Some(s.ssrc);
                self.stats.source_changes += 1;
                self.reset_stream();
                self.start_stream(packet);
            }
            None => self.start_stream(packet),
        }
        self.accept(now_us, packet)
    }

    /// Places a packet of the current stream.
    fn accept(&mut self, now_us: i64, packet: &RtpPacket<'_>) -> PushOutcome {
        let capacity = self.mask + 1;
        let Some(stream) = self.stream.as_mut() else {
            return PushOutcome::OutOfWindow;
        };
        let ext = stream.seq.unwrap(packet.sequence_number());
        let ext_ts = stream.ts.unwrap(packet.timestamp());
        let (Some(ext_seq), Some(ext_ts)) = (ext, ext_ts) else {
            return self.out_of_window(now_us, packet);
        };
        let in_window = ext_seq >= stream.next_seq && ext_seq < stream.next_seq + capacity;
        let reorder_before_start =
            !stream.started && ext_seq < stream.next_seq && stream.highest_seq - ext_seq < capacity;
        let late = ext_seq < stream.next_seq && stream.next_seq - ext_seq <= capacity;
        if !in_window && !reorder_before_start && !late {
            return self.out_of_window(now_us, packet);
        }
        self.jump_candidate = None;
        let transit_us = now_us - media_us(ext_ts, stream.base_ts, self.config.clock_rate_hz);
        if !in_window && !reorder_before_start {
            self.delay.on_packet(transit_us);
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        let slot = &mut self.slots[(ext_seq & self.mask) as usize];
        if slot.occupied {
            self.stats.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        self.delay.on_packet(transit_us);
        if reorder_before_start {
            stream.next_seq = ext_seq;
        }
        stream.highest_seq = stream.highest_seq.max(ext_seq);
        stream.buffered += 1;
        slot.occupied = true;
        slot.ext_seq = ext_seq;
        slot.ext_ts = ext_ts;
        slot.rtp_timestamp = packet.timestamp();
        slot.marker = packet.marker();
        slot.payload_type = packet.payload_type();
        slot.payload.clear();
        slot.payload.extend_from_slice(packet.payload());
        PushOutcome::Buffered
    }

    /// A packet far from the window: a stray, or the first sign of a sequence jump.
    fn out_of_window(&mut self, now_us: i64, packet: &RtpPacket<'_>) -> PushOutcome {
        let seq = packet.sequence_number();
        if self.jump_candidate == Some(seq.wrapping_sub(1)) {
            self.stats.resyncs += 1;
            self.reset_stream();
            self.start_stream(packet);
            return self.accept(now_us, packet);
        }
        self.jump_candidate = Some(seq);
        self.stats.out_of_window += 1;
        PushOutcome::OutOfWindow
    }

    fn start_stream(&mut self, packet: &RtpPacket<'_>) {
        let mut seq = SeqUnwrapper::new();
        let mut ts = TimestampUnwrapper::new();
        let next_seq = seq.unwrap(packet.sequence_number()).unwrap_or_default();
        let base_ts = ts.unwrap(packet.timestamp()).unwrap_or_default();
        self.stream = Some(Stream {
            ssrc: packet.ssrc(),
            seq,
            ts,
            base_ts,
            next_seq,
            highest_seq: next_seq,
            started: false,
            anchor: None,
            buffered: 0,
        });
    }

    /// Drops the current stream and its buffered packets.
    fn reset_stream(&mut self) {
        if let Some(stream) = self.stream.take() {
            self.stats.flushed += stream.buffered as u64;
        }
        for slot in &mut self.slots {
            slot.occupied = false;
        }
        self.jump_candidate = None;
        self.delay.reset_stream();
    }

    /// Forgets the stream (e.g. after a re-INVITE); counters and the delay estimate stay.
    pub fn reset(&mut self) {
        self.reset_stream();
        self.retired_ssrc = None;
    }

    /// Playout time of media timestamp `ext_ts`, in microseconds since the epoch.
    fn playout_us(&self, stream: &Stream, ext_ts: u64) -> i64 {
        let offset = self.delay.playout_offset_us().unwrap_or_default();
        media_us(ext_ts, stream.base_ts, self.config.clock_rate_hz) + offset
    }

    /// What the decoder should do at `now`. Call until it returns `Empty`.
    pub fn pop(&mut self, now: Instant) -> Playout<'_> {
        let (Some(epoch), Some(stream)) = (self.epoch, self.stream.as_ref()) else {
            return Playout::Empty;
        };
        if stream.buffered == 0 {
            return Playout::Empty;
        }
        let now_us = micros_since(epoch, now);
        let next = stream.next_seq;
        let idx = (next & self.mask) as usize;
        if self.slots[idx].occupied && self.slots[idx].ext_seq == next {
            if self.playout_us(stream, self.slots[idx].ext_ts) > now_us {
                return Playout::Empty;
            }
            let slot = &mut self.slots[idx];
            slot.occupied = false;
            let Some(stream) = self.stream.as_mut() else {
                return Playout::Empty;
            };
            stream.next_seq += 1;
            stream.buffered -= 1;
            stream.started = true;
            stream.anchor = Some((slot.ext_seq, slot.ext_ts));
            self.stats.played += 1;
            let slot = &self.slots[idx];
            return Playout::Packet(PlayoutPacket {
                ext_seq: slot.ext_seq,
                ext_ts: slot.ext_ts,
                rtp_timestamp: slot.rtp_timestamp,
                marker: slot.marker,
                payload_type: slot.payload_type,
                payload: &slot.payload,
            });
        }
        let missing = self.missing_due(stream, now_us);
        if missing == 0 {
            return Playout::Empty;
        }
        if let Some(stream) = self.stream.as_mut() {
            stream.next_seq += missing;
            stream.started = true;
        }
        self.stats.lost += missing;
        Playout::Lost(missing as u32)
    }

    /// The first buffered packet after the hole at `next_seq`: `(ext_seq, ext_ts)`.
    fn after_hole(&self, stream: &Stream) -> Option<(u64, u64)> {
        (stream.next_seq + 1..=stream.next_seq + self.mask).find_map(|s| {
            let slot = &self.slots[(s & self.mask) as usize];
            (slot.occupied && slot.ext_seq == s).then_some((s, slot.ext_ts))
        })
    }

    /// Playout time of missing packet `seq`, interpolated between the last packet played
    /// and the first one after the hole (or that one's, without a packet played).
    fn missing_playout_us(&self, stream: &Stream, seq: u64, after: (u64, u64)) -> i64 {
        let (p_seq, p_ts) = after;
        let ts = match stream.anchor {
            Some((a_seq, a_ts)) if a_seq < seq && a_ts <= p_ts => {
                a_ts + (p_ts - a_ts) * (seq - a_seq) / (p_seq - a_seq)
            }
            _ => p_ts,
        };
        self.playout_us(stream, ts)
    }

    /// How many missing packets from `next_seq` on are due at `now_us`.
    fn missing_due(&self, stream: &Stream, now_us: i64) -> u64 {
        let Some(after) = self.after_hole(stream) else {
            return 0;
        };
        (stream.next_seq..after.0)
            .take_while(|&s| self.missing_playout_us(stream, s, after) <= now_us)
            .count() as u64
    }

    /// When `pop` will next have something: the playout time of the next packet or of
    /// the next missing one. `None` when nothing is buffered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (epoch, stream) = (self.epoch?, self.stream.as_ref()?);
        if stream.buffered == 0 {
            return None;
        }
        let slot = &self.slots[(stream.next_seq & self.mask) as usize];
        let at_us = if slot.occupied && slot.ext_seq == stream.next_seq {
            self.playout_us(stream, slot.ext_ts)
        } else {
            let after = self.after_hole(stream)?;
            self.missing_playout_us(stream, stream.next_seq, after)
        };
        Some(epoch + Duration::from_micros(at_us.max(0) as u64))
    }

    /// Counters since construction.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets waiting.
    pub fn buffered(&self) -> usize {
        self.stream.as_ref().map_or(0, |s| s.buffered)
    }

    /// The RFC 3550 interarrival jitter estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_micros(self.delay.jitter_us().max(0) as u64)
    }

    /// The same in RTP timestamp units, as RTCP receiver reports carry it.
    pub fn jitter_rtp_units(&self) -> u32 {
        (self.delay.jitter_us().max(0) as u64 * u64::from(self.config.clock_rate_hz) / 1_000_000)
            as u32
    }

    /// The delay the estimator aims at.
    pub fn target_delay(&self) -> Duration {
        Duration::from_micros(self.delay.target_us().max(0) as u64)
    }

    /// The delay applied now (it moves toward the target).
    pub fn current_delay(&self) -> Duration {
        Duration::from_micros(self.delay.delay_us().max(0) as u64)
    }

    /// The SSRC being played, if any.
    pub fn ssrc(&self) -> Option<u32> {
        self.stream.as_ref().map(|s| s.ssrc)
    }
}

fn micros_since(epoch: Instant, now: Instant) -> i64 {
    now.saturating_duration_since(epoch).as_micros() as i64
}

/// Media time of `ext_ts` relative to the stream's first timestamp, in microseconds.
fn media_us(ext_ts: u64, base_ts: u64, clock_rate_hz: u32) -> i64 {
    let ticks = ext_ts as i64 - base_ts as i64;
    ticks * 1_000_000 / i64::from(clock_rate_hz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpHeader;

    #[test]
    fn after_warm_up_no_slot_reallocates() {
        let mut jb = JitterBuffer::new(JitterConfig::default()).unwrap();
        let t0 = Instant::now();
        let mut buf = [0u8; 200];
        let mut fingerprint = None;
        for i in 0..2_000u32 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            let header = RtpHeader {
                sequence_number: i as u16,
                timestamp: 160 * i,
                ssrc: 1,
                ..RtpHeader::default()
            };
            let n = header.write(&[0x55; 160], 0, &mut buf).unwrap();
            jb.push(at, &RtpPacket::parse(&buf[..n]).unwrap());
            while !matches!(jb.pop(at + Duration::from_millis(100)), Playout::Empty) {}
            let now: Vec<_> = jb
                .slots
                .iter()
                .map(|s| (s.payload.as_ptr(), s.payload.capacity()))
                .collect();
            if i == 100 {
                fingerprint = Some(now);
            } else if i > 100 {
                assert_eq!(
                    fingerprint.as_ref(),
                    Some(&now),
                    "a slot reallocated at packet {i}"
                );
            }
        }
        assert_eq!(jb.stats().played, 2_000);
    }
}
