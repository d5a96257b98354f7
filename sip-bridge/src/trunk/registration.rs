//! Outbound registration for trunks that want it (RFC 3261 10.2).
//!
//! ```text
//!   Unregistered --send--> Registering --2xx--> Registered --refresh due--> Registering
//!                               |  +--423--> Registering (with the Min-Expires asked)
//!                               +--failure/timeout--> Failed --back-off--> Registering
//! ```
//! A binding is refreshed before it expires: at the later of half its lifetime and one
//! minute before the end. Failures back off exponentially from `backoff_min` to
//! `backoff_max`. Challenges (401/407) are answered by the caller within the same
//! attempt (see [`crate::auth`]); only the attempt's final outcome comes here.

use std::time::{Duration, Instant};

/// Registration settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// Expiry asked for, seconds.
    pub expires_s: u32,
    /// First back-off after a failure.
    pub backoff_min: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            expires_s: 3600,
            backoff_min: Duration::from_secs(10),
            backoff_max: Duration::from_mins(5),
        }
    }
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Nothing sent yet, or unregistered on purpose.
    Unregistered,
    /// A REGISTER is in flight.
    Registering,
    /// Bound until this time.
    Registered {
        /// When the binding expires.
        until: Instant,
    },
    /// The last attempt failed with this status (`None`: timeout).
    Failed {
        /// The final status, if any.
        status: Option<u16>,
    },
}

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationAction {
    /// Send a REGISTER with this `Expires` (0 removes the binding).
    SendRegister {
        /// Seconds.
        expires_s: u32,
    },
}

/// One trunk's registration.
#[derive(Debug, Clone)]
pub struct Registration {
    config: RegistrationConfig,
    state: RegistrationState,
    expires_s: u32,
    next_send: Option<Instant>,
    backoff: Duration,
    unregistering: bool,
}

impl Registration {
    /// A registration whose first REGISTER is due at `now`.
    pub fn new(now: Instant, config: RegistrationConfig) -> Self {
        Self {
            config,
            state: RegistrationState::Unregistered,
            expires_s: config.expires_s,
            next_send: Some(now),
            backoff: config.backoff_min,
            unregistering: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// What to do at `now`, if anything.
    pub fn poll_action(&mut self, now: Instant) -> Option<RegistrationAction> {
        self.next_send.filter(|&t| t <= now)?;
        self.next_send = None;
        self.state = RegistrationState::Registering;
        let expires_s = if self.unregistering {
            0
        } else {
            self.expires_s
        };
        Some(RegistrationAction::SendRegister { expires_s })
    }

    /// The attempt's final response: `status`, the expiry the registrar granted (from
    /// the Contact's `expires` or the `Expires` header) for a 2xx, or its `Min-Expires`
    /// for a 423.
    pub fn handle_response(&mut self, now: Instant, status: u16, expires_s: Option<u32>) {
        match status {
            200..=299 if self.unregistering => {
                self.state = RegistrationState::Unregistered;
            }
            200..=299 => {
                let granted = expires_s.unwrap_or(self.expires_s);
                let lifetime = Duration::from_secs(u64::from(granted));
                self.state = RegistrationState::Registered {
                    until: now + lifetime,
                };
                let refresh_in =
                    (lifetime / 2).max(lifetime.saturating_sub(Duration::from_mins(1)));
                self.next_send = Some(now + refresh_in);
                self.backoff = self.config.backoff_min;
            }
            423 if expires_s.is_some_and(|min| min > self.expires_s) => {
                self.expires_s = expires_s.unwrap_or(self.expires_s);
                self.next_send = Some(now);
            }
            _ => self.fail(now, Some(status)),
        }
    }

    /// The attempt timed out or the transport failed.
    pub fn handle_timeout_failure(&mut self, now: Instant) {
        self.fail(now, None);
    }

    fn fail(&mut self, now: Instant, status: Option<u16>) {
        self.state = RegistrationState::Failed { status };
        if !self.unregistering {
            self.next_send = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(self.config.backoff_max);
        }
    }

    /// Removes the binding (on shutdown): a REGISTER with `Expires: 0` is due now.
    pub fn unregister(&mut self, now: Instant) {
        self.unregistering = true;
        self.next_send = Some(now);
    }

    /// When `poll_action` has something to do next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_before_expiry() {
        let t0 = Instant::now();
        let mut r = Registration::new(t0, RegistrationConfig::default());
        assert_eq!(
            r.poll_action(t0),
            Some(RegistrationAction::SendRegister { expires_s: 3600 })
        );
        assert_eq!(r.poll_action(t0), None);
        r.handle_response(t0, 200, Some(600));
        assert_eq!(
            r.state(),
            RegistrationState::Registered {
                until: t0 + Duration::from_mins(10)
            }
        );
        assert_eq!(
            r.poll_timeout(),
            Some(t0 + Duration::from_mins(9)),
            "one minute before the end"
        );
        r.handle_response(t0, 200, Some(90));
        assert_eq!(
            r.poll_timeout(),
            Some(t0 + Duration::from_secs(45)),
            "half of a short lifetime"
        );
    }

    #[test]
    fn backs_off_exponentially_and_resets_on_success() {
        let t0 = Instant::now();
        let mut r = Registration::new(t0, RegistrationConfig::default());
        let mut now = t0;
        let mut waits = Vec::new();
        for status in [Some(403), None, Some(500), Some(503), None, Some(408), None] {
            assert!(r.poll_action(now).is_some());
            match status {
                Some(s) => r.handle_response(now, s, None),
                None => r.handle_timeout_failure(now),
            }
            let next = r.poll_timeout().unwrap();
            waits.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(r.state(), RegistrationState::Failed { status: None });
        assert!(r.poll_action(now).is_some());
        r.handle_response(now, 200, None);
        assert!(matches!(r.state(), RegistrationState::Registered { .. }));
        assert!(r.poll_action(now + Duration::from_mins(59)).is_some());
        r.handle_response(now, 500, None);
        assert_eq!(
            r.poll_timeout(),
            Some(now + Duration::from_secs(10)),
            "back-off starts over"
        );
    }

    #[test]
    fn interval_too_brief_retries_with_min_expires() {
        let t0 = Instant::now();
        let mut r = Registration::new(
            t0,
            RegistrationConfig {
                expires_s: 60,
                ..RegistrationConfig::default()
            },
        );
        r.poll_action(t0);
        r.handle_response(t0, 423, Some(300));
        assert_eq!(
            r.poll_action(t0),
            Some(RegistrationAction::SendRegister { expires_s: 300 })
        );
    }

    #[test]
    fn unregisters_with_expires_zero() {
        let t0 = Instant::now();
        let mut r = Registration::new(t0, RegistrationConfig::default());
        r.poll_action(t0);
        r.handle_response(t0, 200, None);
        r.unregister(t0);
        assert_eq!(
            r.poll_action(t0),
            Some(RegistrationAction::SendRegister { expires_s: 0 })
        );
        r.handle_response(t0, 200, None);
        assert_eq!(
            (r.state(), r.poll_timeout()),
            (RegistrationState::Unregistered, None)
        );
    }
}
