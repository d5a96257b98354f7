//! Injected randomness for session ids and resume tokens.
//!
//! The crate never reads an OS random source: the caller passes a [`Random`]. Tests pass a
//! counter and get the same ids every run. A resume token is a bearer credential for a
//! live session, so the server must pass a cryptographically secure generator seeded from
//! the OS; a statistical generator such as `SplitMix64` is not enough there.

/// A source of uniformly distributed 64-bit values.
pub trait Random {
    /// The next value.
    fn next_u64(&mut self) -> u64;
}

/// Any `FnMut() -> u64` is a source: `&mut || rng.next_u64()`.
impl<F: FnMut() -> u64> Random for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}
