//! Turning received telephone-event packets into one digit per key press.
//!
//! An event is identified by its RTP timestamp (RFC 4733 section 2.5.2.1): packets with
//! the timestamp of the event in progress update its duration (the largest reported
//! wins, so reordering does no harm); the first packet with the E bit ends it; the
//! repeated end packets and any late packet of a finished event are recognised by their
//! timestamp and ignored. A lost start packet is harmless (the first packet seen
//! starts the event, marker or not); lost end packets are covered by a timeout, and an
//! event whose end was lost is also closed by the start of a newer one. A segment of a
//! long event (same event code, timestamp advanced by exactly 0xFFFF) continues it.

use super::{DtmfDigit, DtmfError, TelephoneEvent, MAX_SEGMENT_DURATION};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the receiver interprets time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfReceiverConfig {
    /// The telephone-event clock rate (from the SDP `a=rtpmap`), to report milliseconds.
    pub clock_rate_hz: u32,
    /// How long after an event's last packet it is closed when no end packet arrived.
    pub end_timeout_ms: u32,
}

impl Default for DtmfReceiverConfig {
    fn default() -> Self {
        Self {
            clock_rate_hz: 8000,
            end_timeout_ms: 300,
        }
    }
}

/// Why an event was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// A packet with the E bit arrived.
    EndBit,
    /// No packet for `end_timeout_ms`: all end packets were lost.
    Timeout,
    /// A newer event started before this one's end arrived.
    Superseded,
}

/// A finished event: one per key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfTone {
    /// The event code (0-15 for digits; see [`Self::digit`]).
    pub event: u8,
    /// Total duration in clock-rate units, across segments.
    pub duration_samples: u64,
    /// The same in milliseconds (rounded down).
    pub duration_ms: u64,
    /// The last reported volume, in -dBm0.
    pub volume: u8,
    /// RTP timestamp of the event's start (its first segment).
    pub rtp_timestamp: u32,
    /// How the end was recognised.
    pub end: EndReason,
}

impl DtmfTone {
    /// The DTMF digit, if the event is one.
    pub fn digit(&self) -> Option<DtmfDigit> {
        DtmfDigit::from_event(self.event)
    }
}

/// What the receiver reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// An event started (for relays that start playing at once). At most one per event.
    Began {
        /// The event code.
        event: u8,
        /// RTP timestamp of the event's start.
        rtp_timestamp: u32,
    },
    /// An event finished. Exactly one per event that began.
    Ended(DtmfTone),
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    first_ts: u32,
    segment_ts: u32,
    /// Duration of the segments before the current one.
    base_samples: u64,
    /// Largest duration reported in the current segment.
    segment_duration: u16,
    volume: u8,
    last_packet_at: Instant,
}

/// Events held for `poll_event`; a caller that never polls loses the oldest.
const EVENT_QUEUE: usize = 8;

/// Receives RFC 4733 telephone-events. See the module docs.
#[derive(Debug)]
pub struct DtmfReceiver {
    config: DtmfReceiverConfig,
    end_timeout: Duration,
    active: Option<Active>,
    /// Timestamp of the last segment of the most recently finished event.
    last_finished_ts: Option<u32>,
    events: VecDeque<DtmfEvent>,
}

/// `a` is later than `b` in RTP timestamp (serial number) arithmetic.
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl DtmfReceiver {
    /// A receiver that has seen nothing.
    pub fn new(config: DtmfReceiverConfig) -> Result<Self, DtmfError> {
        if config.clock_rate_hz == 0 {
            return Err(DtmfError::InvalidConfig("clock_rate_hz must be positive"));
        }
        Ok(Self {
            config,
            end_timeout: Duration::from_millis(u64::from(config.end_timeout_ms)),
            active: None,
            last_finished_ts: None,
            events: VecDeque::with_capacity(EVENT_QUEUE),
        })
    }

    /// Takes one telephone-event packet: its RTP timestamp and payload. A malformed
    /// payload is an error and changes nothing.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        rtp_timestamp: u32,
        payload: &[u8],
    ) -> Result<(), DtmfError> {
        let te = TelephoneEvent::parse(payload)?;
        if let Some(a) = self.active.as_mut() {
            if rtp_timestamp == a.segment_ts {
                a.segment_duration = a.segment_duration.max(te.duration);
                a.volume = te.volume;
                a.last_packet_at = now;
                if te.end {
                    self.finish(EndReason::EndBit);
                }
                return Ok(());
            }
            let next_segment = a.segment_ts.wrapping_add(u32::from(MAX_SEGMENT_DURATION));
            if te.event == a.event && rtp_timestamp == next_segment {
                a.base_samples += u64::from(MAX_SEGMENT_DURATION);
                a.segment_ts = rtp_timestamp;
                a.segment_duration = te.duration;
                a.volume = te.volume;
                a.last_packet_at = now;
                if te.end {
                    self.finish(EndReason::EndBit);
                }
                return Ok(());
            }
            if !newer(rtp_timestamp, a.segment_ts) {
                return Ok(()); // a late packet of an earlier segment or event
            }
            self.finish(EndReason::Superseded);
        }
        if self
            .last_finished_ts
            .is_some_and(|last| !newer(rtp_timestamp, last))
        {
            return Ok(()); // a repeated end packet, or a late packet of a finished event
        }
        self.active = Some(Active {
            event: te.event,
            first_ts: rtp_timestamp,
            segment_ts: rtp_timestamp,
            base_samples: 0,
            segment_duration: te.duration,
            volume: te.volume,
            last_packet_at: now,
        });
        self.push(DtmfEvent::Began {
            event: te.event,
            rtp_timestamp,
        });
        if te.end {
            self.finish(EndReason::EndBit);
        }
        Ok(())
    }

    /// Closes an event whose end packets were all lost, once `end_timeout_ms` passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.finish(EndReason::Timeout);
        }
    }

    /// When [`Self::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.active
            .as_ref()
            .map(|a| a.last_packet_at + self.end_timeout)
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// True while an event is in progress.
    pub fn in_event(&self) -> bool {
        self.active.is_some()
    }

    fn finish(&mut self, end: EndReason) {
        let Some(a) = self.active.take() else { return };
        let duration_samples = a.base_samples + u64::from(a.segment_duration);
        self.last_finished_ts = Some(a.segment_ts);
        self.push(DtmfEvent::Ended(DtmfTone {
            event: a.event,
            duration_samples,
            duration_ms: duration_samples * 1000 / u64::from(self.config.clock_rate_hz),
            volume: a.volume,
            rtp_timestamp: a.first_ts,
            end,
        }));
    }

    fn push(&mut self, event: DtmfEvent) {
        if self.events.len() == EVENT_QUEUE {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}
