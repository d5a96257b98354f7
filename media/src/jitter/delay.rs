//! The playout delay: the RFC 3550 interarrival jitter estimate, a reference transit,
//! and the delay applied, adapting between the configured bounds. All in microseconds.

/// The delay aims at this many times the jitter estimate. The estimate is a mean
/// deviation between packets in arrival order; under heavy reordering it runs near half
/// the spread of the delays, so three of them cover the spread with a margin.
const JITTER_MULTIPLIER: i64 = 3;
/// Most the applied delay falls per packet when the target is lower: 0.5 ms, i.e. a
/// 2.5 % speed-up at 50 packets per second.
const SHRINK_STEP_US: i64 = 500;
/// The reference transit creeps up by this fraction of the excess per packet, to follow
/// a sender clock slower than ours.
const REFERENCE_CREEP_SHIFT: u32 = 10;

#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)] // every field is in microseconds: the house style names units
pub(super) struct DelayEstimator {
    min_delay_us: i64,
    max_delay_us: i64,
    /// RFC 3550 jitter, scaled by 16 as in appendix A.8.
    jitter16_us: i64,
    prev_transit_us: Option<i64>,
    reference_us: Option<i64>,
    delay_us: i64,
}

impl DelayEstimator {
    pub(super) fn new(min_delay_ms: u32, max_delay_ms: u32, initial_delay_ms: u32) -> Self {
        Self {
            min_delay_us: i64::from(min_delay_ms) * 1000,
            max_delay_us: i64::from(max_delay_ms) * 1000,
            jitter16_us: 0,
            prev_transit_us: None,
            reference_us: None,
            delay_us: i64::from(initial_delay_ms) * 1000,
        }
    }

    /// Takes the transit (`arrival - media time`) of one received packet, in arrival
    /// order.
    pub(super) fn on_packet(&mut self, transit_us: i64) {
        if let Some(prev) = self.prev_transit_us {
            let d = (transit_us - prev).abs();
            self.jitter16_us += d - ((self.jitter16_us + 8) >> 4);
        }
        self.prev_transit_us = Some(transit_us);
        self.reference_us = Some(match self.reference_us {
            Some(r) if transit_us >= r => r + ((transit_us - r) >> REFERENCE_CREEP_SHIFT),
            _ => transit_us,
        });
        let target = self.target_us();
        self.delay_us = if target >= self.delay_us {
            target
        } else {
            (self.delay_us - SHRINK_STEP_US).max(target)
        };
    }

    /// Forgets the transit history of a stream (its time base is gone), keeping the
    /// jitter estimate and the delay.
    pub(super) fn reset_stream(&mut self) {
        self.prev_transit_us = None;
        self.reference_us = None;
    }

    pub(super) fn jitter_us(&self) -> i64 {
        self.jitter16_us >> 4
    }

    pub(super) fn target_us(&self) -> i64 {
        (JITTER_MULTIPLIER * self.jitter_us()).clamp(self.min_delay_us, self.max_delay_us)
    }

    pub(super) fn delay_us(&self) -> i64 {
        self.delay_us
    }

    /// The offset from media time to playout time, once a packet has been seen.
    pub(super) fn playout_offset_us(&self) -> Option<i64> {
        self.reference_us.map(|r| r + self.delay_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_follows_rfc_3550_a8_and_drives_the_target() {
        let mut e = DelayEstimator::new(20, 200, 40);
        e.on_packet(10_000);
        assert_eq!(e.jitter_us(), 0);
        // Alternating transit of 10 and 40 ms: |D| = 30 ms every packet; J -> 30 ms.
        for i in 0..400 {
            e.on_packet(if i % 2 == 0 { 40_000 } else { 10_000 });
        }
        assert!((e.jitter_us() - 30_000).abs() < 100, "{}", e.jitter_us());
        assert!((e.target_us() - 90_000).abs() < 300, "{}", e.target_us());
        assert_eq!(e.delay_us(), e.target_us());
        assert_eq!(e.playout_offset_us(), Some(10_000 + e.target_us()));
    }

    #[test]
    fn the_delay_falls_by_at_most_half_a_millisecond_per_packet() {
        let mut e = DelayEstimator::new(20, 200, 200);
        e.on_packet(0);
        assert_eq!(e.delay_us(), 199_500);
        e.on_packet(0);
        assert_eq!(e.delay_us(), 199_000);
        for _ in 0..1000 {
            e.on_packet(0);
        }
        assert_eq!(e.delay_us(), 20_000);
    }

    #[test]
    fn the_reference_drops_at_once_and_creeps_up() {
        let mut e = DelayEstimator::new(20, 200, 20);
        e.on_packet(50_000);
        e.on_packet(30_000);
        assert_eq!(e.playout_offset_us(), Some(30_000 + e.delay_us()));
        e.on_packet(30_000 + 1024 * 10);
        assert_eq!(e.playout_offset_us(), Some(30_010 + e.delay_us()));
    }
}
