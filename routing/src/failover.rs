//! Failover policy: what the call control does when an attempt toward a carrier fails.
//!
//! Routing only describes the policy as data; the SIP call control follows it. A final
//! response in `retry_codes` (default 408, 480, 500, 502, 503, 504) or a timeout moves to
//! the next candidate; codes that express the called party's will (486 Busy Here, 600
//! Busy Everywhere, 603 Decline, 604 Does Not Exist Anywhere, 606 Not Acceptable) always
//! end the call, because another carrier would reach the same person. The post-dial-delay
//! timer moves on when a carrier has not rung (18x) within `pdd_timeout_ms`.

use serde::{Deserialize, Serialize};

/// Final responses that must end the call, never fail over.
pub const NEVER_RETRY: [u16; 5] = [486, 600, 603, 604, 606];

/// What to do after an attempt ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A final SIP response (>= 300) from the carrier.
    Final(u16),
    /// No final response in time (SIP timer B/F, or the transport failed).
    Timeout,
    /// No 18x within the post-dial-delay timer.
    PostDialDelay,
}

/// The verdict on a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try the next candidate.
    TryNext,
    /// End the call with this outcome.
    Stop,
}

/// One carrier's failover policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverPolicy {
    /// Final responses that move to the next candidate.
    pub retry_codes: Vec<u16>,
    /// Whether a transaction timeout moves to the next candidate.
    pub retry_on_timeout: bool,
    /// Move on if no 18x arrived within this many milliseconds (0 = never).
    pub pdd_timeout_ms: u64,
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        Self {
            retry_codes: vec![408, 480, 500, 502, 503, 504],
            retry_on_timeout: true,
            pdd_timeout_ms: 8_000,
        }
    }
}

impl FailoverPolicy {
    /// Decides whether a failed attempt moves to the next candidate.
    pub fn next(&self, outcome: AttemptOutcome) -> Next {
        let retry = match outcome {
            AttemptOutcome::Final(code) => {
                !NEVER_RETRY.contains(&code) && self.retry_codes.contains(&code)
            }
            AttemptOutcome::Timeout => self.retry_on_timeout,
            AttemptOutcome::PostDialDelay => self.pdd_timeout_ms > 0,
        };
        if retry {
            Next::TryNext
        } else {
            Next::Stop
        }
    }

    /// What is wrong with the policy, if anything: `(field, message)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for &code in &self.retry_codes {
            if NEVER_RETRY.contains(&code) {
                out.push((
                    "retry_codes",
                    format!("{code} ends the call by the callee's will and can never fail over"),
                ));
            } else if !(300..=699).contains(&code) {
                out.push((
                    "retry_codes",
                    format!("{code} is not a final SIP failure code (300-699)"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_follows_wholesale_practice() {
        let p = FailoverPolicy::default();
        for code in [408, 480, 500, 502, 503, 504] {
            assert_eq!(p.next(AttemptOutcome::Final(code)), Next::TryNext, "{code}");
        }
        for code in [404, 486, 600, 603, 604, 606, 484] {
            assert_eq!(p.next(AttemptOutcome::Final(code)), Next::Stop, "{code}");
        }
        assert_eq!(p.next(AttemptOutcome::Timeout), Next::TryNext);
        assert_eq!(p.next(AttemptOutcome::PostDialDelay), Next::TryNext);
    }

    #[test]
    fn busy_never_fails_over_even_if_configured() {
        let p = FailoverPolicy {
            retry_codes: vec![486, 503, 200],
            retry_on_timeout: false,
            pdd_timeout_ms: 0,
        };
        assert_eq!(p.next(AttemptOutcome::Final(486)), Next::Stop);
        assert_eq!(p.next(AttemptOutcome::Timeout), Next::Stop);
        assert_eq!(p.next(AttemptOutcome::PostDialDelay), Next::Stop);
        let problems = p.problems();
        assert_eq!(problems.len(), 2);
        assert!(problems[0].1.contains("486"));
        assert!(problems[1].1.contains("200"));
    }
}
