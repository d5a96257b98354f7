//! Trunk health by OPTIONS pings (like Kamailio's dispatcher probing).
//!
//! Every `interval` the trunk is pinged. A final response counts as a success when it
//! shows a working peer: any 2xx, 3xx, 4xx (404 or 405 still prove the SIP stack is
//! alive), 501 (OPTIONS not implemented) and 6xx; a 5xx other than 501 (503 Service
//! Unavailable: overloaded or out of service), a transaction timeout or a transport
//! error count as failures. After `down_after` consecutive failures the trunk is
//! down; after `up_after` consecutive successes it is up again. A trunk starts up (new
//! trunks take calls at once; a dead one is found within `down_after` pings).

use std::time::{Duration, Instant};

/// Probing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// Time between pings.
    pub interval: Duration,
    /// Consecutive failures that mark the trunk down.
    pub down_after: u32,
    /// Consecutive successes that mark it up again.
    pub up_after: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            down_after: 3,
            up_after: 2,
        }
    }
}

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Takes calls.
    Up,
    /// Skipped by routing.
    Down,
}

/// The health of one trunk.
#[derive(Debug, Clone)]
pub struct Health {
    config: HealthConfig,
    state: HealthState,
    failures: u32,
    successes: u32,
    next_ping: Instant,
    in_flight: bool,
    changed: Option<HealthState>,
}

impl Health {
    /// A trunk that is up and will be pinged first at `now`.
    pub fn new(now: Instant, config: HealthConfig) -> Self {
        Self {
            config,
            state: HealthState::Up,
            failures: 0,
            successes: 0,
            next_ping: now,
            in_flight: false,
            changed: None,
        }
    }

    /// Its settings.
    pub fn config(&self) -> HealthConfig {
        self.config
    }

    /// Up or down now.
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// Whether an OPTIONS should be sent now (then call `handle_result` when its
    /// transaction ends). Returns true at most once per interval.
    pub fn poll_ping(&mut self, now: Instant) -> bool {
        if self.in_flight || now < self.next_ping {
            return false;
        }
        self.in_flight = true;
        self.next_ping = now + self.config.interval;
        true
    }

    /// The ping's transaction ended: `Some(status)` for a final response, `None` for a
    /// timeout or transport error.
    pub fn handle_result(&mut self, status: Option<u16>) {
        self.in_flight = false;
        let ok = status.is_some_and(|s| matches!(s, 200..=499 | 501 | 600..=699));
        if ok {
            self.failures = 0;
            self.successes += 1;
            if self.state == HealthState::Down && self.successes >= self.config.up_after {
                self.set(HealthState::Up);
            }
        } else {
            self.successes = 0;
            self.failures += 1;
            if self.state == HealthState::Up && self.failures >= self.config.down_after {
                self.set(HealthState::Down);
            }
        }
    }

    fn set(&mut self, state: HealthState) {
        self.state = state;
        self.changed = Some(state);
    }

    /// A change of state since the last call, to log and publish.
    pub fn poll_change(&mut self) -> Option<HealthState> {
        self.changed.take()
    }

    /// When the next ping is due (none while one is in flight).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.in_flight).then_some(self.next_ping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_down_after_n_failures_and_up_after_m_successes() {
        let t0 = Instant::now();
        let mut h = Health::new(t0, HealthConfig::default());
        let mut now = t0;
        let mut ping = |h: &mut Health, result: Option<u16>| {
            now = h.poll_timeout().expect("a ping is scheduled");
            assert!(h.poll_ping(now));
            assert!(!h.poll_ping(now), "one ping in flight at a time");
            h.handle_result(result);
        };
        ping(&mut h, Some(200));
        ping(&mut h, None);
        ping(&mut h, None);
        assert_eq!(h.state(), HealthState::Up, "two failures are not three");
        ping(&mut h, Some(404));
        ping(&mut h, None);
        ping(&mut h, Some(503));
        ping(&mut h, None);
        assert_eq!(
            (h.state(), h.poll_change()),
            (HealthState::Down, Some(HealthState::Down))
        );
        ping(&mut h, Some(405));
        assert_eq!(h.state(), HealthState::Down, "one success is not two");
        ping(&mut h, Some(200));
        assert_eq!(
            (h.state(), h.poll_change()),
            (HealthState::Up, Some(HealthState::Up))
        );
        assert_eq!(h.poll_change(), None);
        // Pings were spaced by the interval.
        assert_eq!(
            now - t0,
            Duration::from_mins(4),
            "nine pings, one interval apart"
        );
    }
}
