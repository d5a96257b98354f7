//! RTP port allocation for the carrier leg: even ports from the configured range (RTP on
//! the even port, RTCP on the odd one above, RFC 3550 11), handed out round-robin, and a
//! released port rests for a quarantine before reuse so that late packets of a finished
//! call do not reach the next one.
//!
//! The rest is [`QUARANTINE`] (4 s) unless set with [`PortPool::with_rest`]: RTP is
//! real-time, so a packet still in flight seconds after the BYE is already useless, and
//! round-robin reuse makes the actual rest longer whenever the pool is not near its
//! limit. The rest bounds the rate of anchored calls: a range of `P` pairs sustains
//! `P / (2 * rest)` zero-length calls per second (two pairs per call).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a released port rests before it is handed out again, by default.
pub const QUARANTINE: Duration = Duration::from_secs(4);

/// Why a port range is not usable, or no port is free.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// The range text does not parse.
    #[error("{0:?} is not a port range like \"31000-31999\"")]
    BadRange(String),
    /// The range holds no RTP/RTCP pair.
    #[error("port range {0}-{1} holds no even/odd RTP/RTCP pair")]
    EmptyRange(u16, u16),
    /// Every pair is in use or resting.
    #[error("no free RTP port: all {0} pairs are in use")]
    Exhausted(usize),
}

/// The pool of RTP/RTCP port pairs.
#[derive(Debug, Clone)]
pub struct PortPool {
    free: VecDeque<u16>,
    resting: VecDeque<(Instant, u16)>,
    pairs: usize,
    rest: Duration,
}

impl PortPool {
    /// A pool over `"first-last"` (inclusive).
    pub fn parse(range: &str) -> Result<Self, PortError> {
        let (first, last) = Self::parse_range(range)?;
        Self::new(first, last)
    }

    /// The bounds of `"first-last"` (inclusive), as written.
    pub fn parse_range(range: &str) -> Result<(u16, u16), PortError> {
        let bad = || PortError::BadRange(range.to_owned());
        let (a, b) = range.split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        Ok((first, last))
    }

    /// A pool over `first..=last`.
    pub fn new(first: u16, last: u16) -> Result<Self, PortError> {
        let start = first.max(1024).next_multiple_of(2);
        let free: VecDeque<u16> = (u32::from(start)..u32::from(last))
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        if free.is_empty() {
            return Err(PortError::EmptyRange(first, last));
        }
        Ok(Self {
            pairs: free.len(),
            free,
            resting: VecDeque::new(),
            rest: QUARANTINE,
        })
    }

    /// The same pool with released ports resting `rest` before reuse.
    #[must_use]
    pub fn with_rest(mut self, rest: Duration) -> Self {
        self.rest = rest;
        self
    }

    /// An even RTP port (RTCP is the next one).
    pub fn allocate(&mut self, now: Instant) -> Result<u16, PortError> {
        while self
            .resting
            .front()
            .is_some_and(|&(since, _)| now.duration_since(since) >= self.rest)
        {
            if let Some((_, port)) = self.resting.pop_front() {
                self.free.push_back(port);
            }
        }
        self.free
            .pop_front()
            .ok_or(PortError::Exhausted(self.pairs))
    }

    /// Gives a port back; it rests (by default [`QUARANTINE`]) before reuse.
    pub fn release(&mut self, now: Instant, port: u16) {
        self.resting.push_back((now, port));
    }

    /// Pairs free right now.
    pub fn available(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_even_ports_and_quarantines_released_ones() {
        let t0 = Instant::now();
        let mut pool = PortPool::parse("31001-31006").unwrap();
        assert_eq!(
            pool.available(),
            2,
            "31002/3 and 31004/5; 31006 has no RTCP port"
        );
        let a = pool.allocate(t0).unwrap();
        let b = pool.allocate(t0).unwrap();
        assert_eq!((a, b), (31002, 31004));
        assert_eq!(pool.allocate(t0), Err(PortError::Exhausted(2)));
        pool.release(t0, a);
        assert!(
            pool.allocate(t0 + Duration::from_millis(3_999)).is_err(),
            "still resting"
        );
        assert_eq!(pool.allocate(t0 + QUARANTINE), Ok(31002));
        let mut long = PortPool::parse("31001-31003")
            .unwrap()
            .with_rest(Duration::from_secs(30));
        let p = long.allocate(t0).unwrap();
        long.release(t0, p);
        assert!(long.allocate(t0 + Duration::from_secs(29)).is_err());
        assert_eq!(long.allocate(t0 + Duration::from_secs(30)), Ok(p));
    }

    #[test]
    fn bad_ranges_are_clear() {
        assert!(matches!(
            PortPool::parse("31000"),
            Err(PortError::BadRange(_))
        ));
        assert!(matches!(
            PortPool::parse("a-b"),
            Err(PortError::BadRange(_))
        ));
        assert_eq!(
            PortPool::parse("31001-31001").unwrap_err(),
            PortError::EmptyRange(31001, 31001)
        );
        assert_eq!(
            PortPool::parse("65534-65535")
                .unwrap()
                .allocate(Instant::now()),
            Ok(65534)
        );
    }
}
