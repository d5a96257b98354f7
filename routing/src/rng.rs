//! Injected randomness for routing decisions.
//!
//! Routing is pure: it never reads the OS clock or an OS random source. Where a decision
//! needs chance (weighted ties between carriers, the `random` agent strategy), the caller
//! passes something that implements [`Random`]; tests pass a seeded [`SplitMix64`] and get
//! the same decisions every run.

/// A source of uniformly distributed 64-bit values.
pub trait Random {
    /// The next uniformly distributed value.
    fn next_u64(&mut self) -> u64;

    /// A uniformly distributed value in `0..bound` (`bound > 0`).
    ///
    /// Multiply-shift (Lemire) mapping: the bias is below `bound / 2^64`, far below
    /// anything a statistical test of call proportions can see.
    fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// `SplitMix64`: a tiny, fast, seedable generator (Steele, Lea, Flood 2014) with good
/// statistical quality for simulation and load spreading. Not for cryptography.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

impl Random for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One `SplitMix64` output for `seed`: a well-mixed 64-bit value derived from another
/// (for unpredictable identifiers from a seed and a counter).
pub fn mix(seed: u64) -> u64 {
    SplitMix64::new(seed).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            let v = rng.below(5);
            assert!(v < 5);
            seen[v as usize] += 1;
        }
        for count in seen {
            assert!((1_800..2_200).contains(&count), "skewed: {seen:?}");
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<u64> = (0..4)
            .scan(SplitMix64::new(1), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(SplitMix64::new(1), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
    }
}
