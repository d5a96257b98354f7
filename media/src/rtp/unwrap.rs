//! Unwrapping RTP's wrapping counters into 64-bit ones (RFC 3550 appendix A.1 style).
//!
//! A received 16-bit sequence number (or 32-bit timestamp) is placed at the 64-bit value
//! nearest to the highest one seen so far: less than half the counter's range ahead
//! counts as newer (possibly after a wrap), otherwise as older (reordered, possibly from
//! before a wrap). The first value maps to itself, so `ext_seq` counts cycles from 0 as
//! RTCP's extended highest sequence number does; a value that would unwrap below 0 (a
//! packet from before the stream's first one, across a wrap) is reported as `None`.
//!
//! Appendix A.1's handling of large jumps (a sender that restarts its sequence) is a
//! policy of the consumer, not of the arithmetic: the jitter buffer resynchronizes after
//! two consecutive packets outside its window.

/// Places `value` (a counter of `bits` bits) next to `highest` (already unwrapped).
fn unwrap_counter(highest: u64, value: u64, bits: u32) -> Option<u64> {
    let modulus = 1u64 << bits;
    let forward = value.wrapping_sub(highest) & (modulus - 1);
    if forward < modulus / 2 {
        Some(highest + forward)
    } else {
        highest.checked_sub(modulus - forward)
    }
}

/// Unwraps 16-bit RTP sequence numbers into `ext_seq`.
#[derive(Debug, Clone, Default)]
pub struct SeqUnwrapper {
    highest: Option<u64>,
}

impl SeqUnwrapper {
    /// An unwrapper that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `ext_seq` of `seq`, updating the highest seen; `None` if it lies before the
    /// stream's start (see the module docs).
    pub fn unwrap(&mut self, seq: u16) -> Option<u64> {
        let ext = match self.highest {
            None => u64::from(seq),
            Some(highest) => unwrap_counter(highest, u64::from(seq), 16)?,
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        Some(ext)
    }

    /// The highest `ext_seq` seen, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// Unwraps 32-bit RTP timestamps into `ext_ts`.
#[derive(Debug, Clone, Default)]
pub struct TimestampUnwrapper {
    highest: Option<u64>,
}

impl TimestampUnwrapper {
    /// An unwrapper that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `ext_ts` of `timestamp`, updating the highest seen; `None` if it lies before
    /// the stream's start.
    pub fn unwrap(&mut self, timestamp: u32) -> Option<u64> {
        let ext = match self.highest {
            None => u64::from(timestamp),
            Some(highest) => unwrap_counter(highest, u64::from(timestamp), 32)?,
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        Some(ext)
    }

    /// The highest `ext_ts` seen, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequence_wraps_forward_and_reorders_back() {
        let mut u = SeqUnwrapper::new();
        assert_eq!(u.unwrap(65_534), Some(65_534));
        assert_eq!(u.unwrap(65_535), Some(65_535));
        assert_eq!(u.unwrap(1), Some(65_537)); // 0 lost, wrapped
        assert_eq!(u.unwrap(0), Some(65_536)); // reordered after the wrap
        assert_eq!(u.unwrap(65_533), Some(65_533)); // reordered from before the wrap
        assert_eq!(u.highest(), Some(65_537));
        assert_eq!(u.unwrap(2), Some(65_538));
    }

    #[test]
    fn a_packet_from_before_the_start_across_a_wrap_is_none() {
        let mut u = SeqUnwrapper::new();
        assert_eq!(u.unwrap(2), Some(2));
        assert_eq!(u.unwrap(65_535), None);
        assert_eq!(u.unwrap(1), Some(1));
        assert_eq!(u.highest(), Some(2));
    }

    #[test]
    fn timestamps_wrap_at_32_bits() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(u32::MAX - 159), Some(u64::from(u32::MAX) - 159));
        assert_eq!(u.unwrap(0), Some(1 << 32));
        assert_eq!(u.unwrap(160), Some((1 << 32) + 160));
        assert_eq!(u.unwrap(u32::MAX - 319), Some(u64::from(u32::MAX) - 319));
    }

    proptest! {
        /// Against the naive reference: any walk whose steps stay within a quarter of the
        /// range of the highest value seen unwraps to the walk itself.
        #[test]
        fn unwrap_recovers_any_walk_with_bounded_reordering(
            start in 0u64..=u64::from(u16::MAX),
            steps in proptest::collection::vec(-3000i64..3000, 1..400),
        ) {
            let mut u = SeqUnwrapper::new();
            let mut truth = start + (1 << 20); // keep the walk away from 0
            let mut highest = truth;
            // First value maps to itself modulo the offset we added.
            let offset = truth - u.unwrap(truth as u16).unwrap();
            for step in steps {
                let next = (truth as i64 + step).max(0) as u64;
                if next < offset || highest.abs_diff(next) >= 1 << 14 {
                    continue;
                }
                truth = next;
                highest = highest.max(truth);
                prop_assert_eq!(u.unwrap(truth as u16).map(|e| e + offset), Some(truth));
            }
        }
    }
}
