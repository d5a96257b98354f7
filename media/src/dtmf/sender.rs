//! Turning a digit and a duration into RFC 4733 packets, paced by the caller's clock.
//!
//! The packets of one event, at update interval `p` (the audio ptime) from the start
//! `t0`, all carry the RTP timestamp of the start (RFC 4733 section 2.5.1.1):
//! - update `k` is due at `t0 + k·p` and reports the duration the tone will have reached
//!   at the end of that interval, `(k + 1)·p` samples; the first has the marker bit;
//! - the update that reaches the full duration is the final report: E bit set, sent a
//!   total of three times, one per interval (section 2.5.1.4);
//! - a tone longer than the 16-bit duration field can say (0xFFFF samples, 8.2 s at
//!   8 kHz) is split into segments (section 2.5.1.3): the segment's final report has
//!   duration 0xFFFF and no E bit and is also sent three times (interleaved with the
//!   next segment's first updates), and the next segment's packets carry the timestamp
//!   of the previous segment plus 0xFFFF and count their duration from there, without a
//!   marker bit (it is the same event).
//!
//! The next queued digit starts no earlier than `inter_digit_gap_ms` after the previous
//! tone's end, and after its last end packet.

use super::{DtmfDigit, DtmfError, TelephoneEvent, MAX_SEGMENT_DURATION};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the sender paces and labels its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfSenderConfig {
    /// The telephone-event clock rate, the same as the audio's (8000 for G.711).
    pub clock_rate_hz: u32,
    /// Interval between updates: the audio packetization time.
    pub ptime_ms: u32,
    /// Power level to report, in -dBm0 (0-63). 10 is typical.
    pub volume: u8,
    /// Silence between the end of one tone and the start of the next queued one.
    pub inter_digit_gap_ms: u32,
    /// How many digits may wait in the queue.
    pub queue_capacity: usize,
}

impl Default for DtmfSenderConfig {
    fn default() -> Self {
        Self {
            clock_rate_hz: 8000,
            ptime_ms: 20,
            volume: 10,
            inter_digit_gap_ms: 50,
            queue_capacity: 32,
        }
    }
}

/// One telephone-event packet to send: the caller adds sequence number, SSRC and the
/// negotiated telephone-event payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The RTP marker bit: set on the first packet of an event.
    pub marker: bool,
    /// The RTP timestamp: the event's (or segment's) start.
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

impl DtmfPacket {
    /// The 4-byte RTP payload.
    pub fn payload(&self) -> [u8; 4] {
        self.event.to_bytes()
    }
}

/// Times the final report of an event or segment is sent (RFC 4733 section 2.5.1.4).
const FINAL_REPORTS: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct Queued {
    digit: DtmfDigit,
    total_samples: u64,
}

/// The event on the air.
#[derive(Debug, Clone, Copy)]
struct Active {
    digit: DtmfDigit,
    total_samples: u64,
    start: Instant,
    /// Index of the next update slot.
    slot: u32,
    /// RTP timestamp and sample offset of the current segment.
    segment_ts: u32,
    segment_base: u64,
    /// The previous segment's final report, with repeats still owed.
    segment_final: Option<(DtmfPacket, u8)>,
    /// The event's end report, with the number of times sent.
    end: Option<(DtmfPacket, u8)>,
}

/// Sends queued DTMF digits as RFC 4733 packets. See the module docs for the timing.
#[derive(Debug)]
pub struct DtmfSender {
    config: DtmfSenderConfig,
    ptime: Duration,
    ptime_samples: u64,
    queue: VecDeque<Queued>,
    active: Option<Active>,
    /// Packets of the slot being emitted (at most two: a segment's repeat and an update).
    ready: [Option<DtmfPacket>; 2],
    /// Earliest start of the next digit.
    next_start: Option<Instant>,
}

impl DtmfSender {
    /// A sender with the given pacing; fails on a configuration RTP cannot carry.
    pub fn new(config: DtmfSenderConfig) -> Result<Self, DtmfError> {
        if config.clock_rate_hz == 0 {
            return Err(DtmfError::InvalidConfig("clock_rate_hz must be positive"));
        }
        if !(1..=200).contains(&config.ptime_ms) {
            return Err(DtmfError::InvalidConfig("ptime_ms must be 1-200"));
        }
        let ptime_samples = u64::from(config.ptime_ms) * u64::from(config.clock_rate_hz) / 1000;
        if ptime_samples == 0 || ptime_samples >= u64::from(MAX_SEGMENT_DURATION) {
            return Err(DtmfError::InvalidConfig(
                "ptime_ms must span 1 to 65534 samples at clock_rate_hz",
            ));
        }
        if config.volume > 63 {
            return Err(DtmfError::InvalidConfig("volume is 0-63 (-dBm0)"));
        }
        if config.queue_capacity == 0 {
            return Err(DtmfError::InvalidConfig(
                "queue_capacity must be at least 1",
            ));
        }
        Ok(Self {
            config,
            ptime: Duration::from_millis(u64::from(config.ptime_ms)),
            ptime_samples,
            queue: VecDeque::with_capacity(config.queue_capacity),
            active: None,
            ready: [None; 2],
            next_start: None,
        })
    }

    /// Queues `digit` for `duration_ms` of tone, starting no earlier than `now`.
    pub fn enqueue(
        &mut self,
        now: Instant,
        digit: DtmfDigit,
        duration_ms: u32,
    ) -> Result<(), DtmfError> {
        let total_samples = u64::from(duration_ms) * u64::from(self.config.clock_rate_hz) / 1000;
        if total_samples == 0 {
            return Err(DtmfError::ZeroDuration);
        }
        if self.queue.len() == self.config.queue_capacity {
            return Err(DtmfError::QueueFull {
                capacity: self.config.queue_capacity,
            });
        }
        if self.active.is_none() && self.queue.is_empty() {
            self.next_start = Some(self.next_start.map_or(now, |t| t.max(now)));
        }
        self.queue.push_back(Queued {
            digit,
            total_samples,
        });
        Ok(())
    }

    /// Drops queued digits that have not started. The tone on the air finishes normally.
    pub fn clear_queue(&mut self) {
        self.queue.clear();
    }

    /// True while an event is on the air: the caller sends no audio packets meanwhile.
    pub fn is_sending(&self) -> bool {
        self.active.is_some() || self.ready.iter().any(Option::is_some)
    }

    /// Digits queued and not yet started.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When to call [`Self::poll_packet`] next; `None` when idle with nothing queued.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(a) = &self.active {
            return Some(a.start + self.ptime * a.slot);
        }
        if self.queue.is_empty() {
            None
        } else {
            self.next_start
        }
    }

    /// The next packet due at `now`, if any. `media_ts` is the RTP timestamp an audio
    /// frame sent at `now` would carry; it becomes the event's timestamp when a digit
    /// starts. Call until it returns `None`, then wait for [`Self::poll_timeout`].
    pub fn poll_packet(&mut self, now: Instant, media_ts: u32) -> Option<DtmfPacket> {
        loop {
            if let Some(packet) = self.ready.iter_mut().find_map(Option::take) {
                return Some(packet);
            }
            match &self.active {
                None => {
                    let start = self.next_start?;
                    if now < start {
                        return None;
                    }
                    let queued = self.queue.pop_front()?;
                    self.active = Some(Active {
                        digit: queued.digit,
                        total_samples: queued.total_samples,
                        start: now,
                        slot: 0,
                        segment_ts: media_ts,
                        segment_base: 0,
                        segment_final: None,
                        end: None,
                    });
                }
                Some(a) => {
                    if now < a.start + self.ptime * a.slot {
                        return None;
                    }
                    self.emit_slot();
                }
            }
        }
    }

    /// Fills `ready` with the packets of the active event's next slot.
    fn emit_slot(&mut self) {
        let volume = self.config.volume;
        let ptime_samples = self.ptime_samples;
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let mut out = [None, None];
        let mut n = 0;
        let mut push = |p: DtmfPacket| {
            out[n] = Some(p);
            n += 1;
        };
        if let Some((packet, sent)) = a.segment_final.as_mut() {
            push(*packet);
            *sent += 1;
            if *sent == FINAL_REPORTS {
                a.segment_final = None;
            }
        }
        if let Some((packet, sent)) = a.end.as_mut() {
            push(*packet);
            *sent += 1;
            let done = *sent == FINAL_REPORTS;
            let (start, total, slot) = (a.start, a.total_samples, a.slot);
            a.slot += 1;
            if done {
                self.finish(start, total, slot);
            }
            self.ready = out;
            return;
        }
        let elapsed = (u64::from(a.slot) + 1) * ptime_samples;
        let reached = elapsed.min(a.total_samples);
        let max = u64::from(MAX_SEGMENT_DURATION);
        if reached - a.segment_base >= max && a.total_samples - a.segment_base > max {
            let report = DtmfPacket {
                marker: a.slot == 0,
                timestamp: a.segment_ts,
                event: TelephoneEvent {
                    event: a.digit.event(),
                    end: false,
                    volume,
                    duration: MAX_SEGMENT_DURATION,
                },
            };
            push(report);
            a.segment_final = Some((report, 1));
            a.segment_base += max;
            a.segment_ts = a.segment_ts.wrapping_add(u32::from(MAX_SEGMENT_DURATION));
        }
        let duration = (reached - a.segment_base) as u16;
        let end = reached == a.total_samples;
        if end || duration > 0 {
            let packet = DtmfPacket {
                marker: a.slot == 0 && a.segment_base == 0,
                timestamp: a.segment_ts,
                event: TelephoneEvent {
                    event: a.digit.event(),
                    end,
                    volume,
                    duration,
                },
            };
            push(packet);
            if end {
                a.end = Some((packet, 1));
            }
        }
        a.slot += 1;
        self.ready = out;
    }

    /// Ends the active event whose last end packet went out in slot `last_slot`.
    fn finish(&mut self, start: Instant, total_samples: u64, last_slot: u32) {
        self.active = None;
        let tone =
            Duration::from_micros(total_samples * 1_000_000 / u64::from(self.config.clock_rate_hz));
        let gap = Duration::from_millis(u64::from(self.config.inter_digit_gap_ms));
        let after_last_packet = start + self.ptime * (last_slot + 1);
        self.next_start = Some((start + tone + gap).max(after_last_packet));
    }
}
