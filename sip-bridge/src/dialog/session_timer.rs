//! Session timers (RFC 4028): keep-alive of a call by periodic refreshes, so that a call
//! whose far end vanished (a crashed carrier, a lost BYE) is torn down and its CDR closed.
//!
//! The machine negotiates the interval and the refresher from `Session-Expires` /
//! `Min-SE`, then, if we refresh, asks for a refresh (re-INVITE or UPDATE) at half the
//! interval; if the other side refreshes and does not, it declares the session expired
//! (send BYE) at `interval - min(32 s, interval / 3)` (RFC 4028 10).

pub use crate::headers::Refresher;
use std::time::{Duration, Instant};

/// Local settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// Interval we ask for, seconds (RFC 4028 recommends 1800).
    pub session_expires_s: u32,
    /// The smallest interval we accept, seconds (at least 90).
    pub min_se_s: u32,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        Self {
            session_expires_s: 1800,
            min_se_s: 90,
        }
    }
}

/// The verdict on an incoming request's `Session-Expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Too short: answer `422 Session Interval Too Small` with `Min-SE: min_se_s`.
    TooSmall {
        /// Our minimum, for the `Min-SE` header.
        min_se_s: u32,
    },
    /// Accepted: put `Session-Expires: interval_s;refresher=..` in the 2xx.
    Accept {
        /// The interval, seconds.
        interval_s: u32,
        /// Who refreshes.
        refresher: Refresher,
    },
}

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send a refresh (re-INVITE or UPDATE) carrying `Session-Expires`.
    Refresh,
    /// No refresh came in time: end the call (BYE) and record why.
    Expired,
}

/// The timer of one dialog.
#[derive(Debug, Clone)]
pub struct SessionTimer {
    interval: Duration,
    we_refresh: bool,
    deadline: Option<Instant>,
}

impl SessionTimerConfig {
    /// Checks an incoming dialog-creating request's `Session-Expires` (value and
    /// refresher, if present) and `Min-SE`. We are the UAS.
    pub fn answer(
        &self,
        session_expires: Option<(u32, Option<Refresher>)>,
        their_min_se: Option<u32>,
    ) -> Offer {
        let floor = self.min_se_s.max(their_min_se.unwrap_or(0)).max(90);
        match session_expires {
            Some((s, _)) if s < self.min_se_s => Offer::TooSmall {
                min_se_s: self.min_se_s,
            },
            Some((s, refresher)) => Offer::Accept {
                interval_s: s.min(self.session_expires_s).max(floor),
                // The caller asked for a refresher, or it supports the extension and
                // refreshes itself (RFC 4028 9: the UAS may pick; the UAC is the usual choice).
                refresher: refresher.unwrap_or(Refresher::Uac),
            },
            // The caller did not ask: we still run a timer and refresh ourselves.
            None => Offer::Accept {
                interval_s: self.session_expires_s.max(floor),
                refresher: Refresher::Uas,
            },
        }
    }

    /// The `Session-Expires` to retry with after a `422` carrying `Min-SE: min_se_s`.
    pub fn after_422(&self, min_se_s: u32) -> u32 {
        self.session_expires_s.max(min_se_s)
    }
}

impl SessionTimer {
    /// Starts the timer when the dialog is established (2xx sent or received):
    /// `interval_s` and `refresher` as negotiated, `we_are_uac` for our role.
    pub fn start(now: Instant, interval_s: u32, refresher: Refresher, we_are_uac: bool) -> Self {
        let mut t = Self {
            interval: Duration::from_secs(u64::from(interval_s.max(90))),
            we_refresh: (refresher == Refresher::Uac) == we_are_uac,
            deadline: None,
        };
        t.rearm(now);
        t
    }

    /// Whether we are the refresher.
    pub fn we_refresh(&self) -> bool {
        self.we_refresh
    }

    fn rearm(&mut self, now: Instant) {
        let wait = if self.we_refresh {
            self.interval / 2
        } else {
            self.interval
                .saturating_sub((self.interval / 3).min(Duration::from_secs(32)))
        };
        self.deadline = Some(now + wait);
    }

    /// A refresh succeeded (ours answered 2xx, or theirs arrived), possibly with a new
    /// interval and refresher.
    pub fn handle_refreshed(
        &mut self,
        now: Instant,
        interval_s: u32,
        refresher: Refresher,
        we_are_uac: bool,
    ) {
        *self = Self::start(now, interval_s, refresher, we_are_uac);
    }

    /// What is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Action> {
        let due = self.deadline.filter(|&d| d <= now)?;
        if self.we_refresh {
            // Ask again at the same pace until the refresh succeeds; the peer's
            // session ends on its side if none does.
            self.deadline = Some(due + self.interval / 2);
            Some(Action::Refresh)
        } else {
            self.deadline = None;
            Some(Action::Expired)
        }
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_rfc4028() {
        let cfg = SessionTimerConfig::default();
        assert_eq!(
            cfg.answer(Some((60, None)), None),
            Offer::TooSmall { min_se_s: 90 }
        );
        assert_eq!(
            cfg.answer(Some((3600, Some(Refresher::Uas))), Some(120)),
            Offer::Accept {
                interval_s: 1800,
                refresher: Refresher::Uas
            },
            "we may lower the interval, not below Min-SE"
        );
        assert_eq!(
            cfg.answer(Some((600, None)), None),
            Offer::Accept {
                interval_s: 600,
                refresher: Refresher::Uac
            }
        );
        assert_eq!(
            cfg.answer(None, None),
            Offer::Accept {
                interval_s: 1800,
                refresher: Refresher::Uas
            }
        );
        assert_eq!(cfg.after_422(2400), 2400);
    }

    #[test]
    fn the_refresher_refreshes_at_half_the_interval() {
        let t0 = Instant::now();
        let mut t = SessionTimer::start(t0, 600, Refresher::Uac, true);
        assert!(t.we_refresh());
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(300)));
        assert_eq!(t.handle_timeout(t0 + Duration::from_secs(299)), None);
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(300)),
            Some(Action::Refresh)
        );
        t.handle_refreshed(t0 + Duration::from_secs(301), 600, Refresher::Uac, true);
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(601)));
    }

    #[test]
    fn the_other_side_must_refresh_or_the_session_expires() {
        let t0 = Instant::now();
        let mut t = SessionTimer::start(t0, 600, Refresher::Uac, false);
        assert!(!t.we_refresh());
        // 600 - min(32, 200) = 568 s.
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(568)));
        t.handle_refreshed(t0 + Duration::from_secs(300), 600, Refresher::Uac, false);
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(600)),
            None,
            "the refresh moved the deadline"
        );
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(868)),
            Some(Action::Expired)
        );
        assert_eq!(t.poll_timeout(), None);
        // A short interval: interval / 3 is less than 32 s.
        let short = SessionTimer::start(t0, 90, Refresher::Uas, true);
        assert_eq!(short.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    }
}
