//! Carrier quality: sliding-window ASR, ACD and PDD per (carrier, prefix group), fed by
//! call outcomes, read by the LCR ordering to demote a carrier whose answer-seizure ratio
//! falls under a threshold after a minimum number of attempts (as `OpenSIPS` qrouting).
//!
//! The window is a ring of time buckets: recording touches one bucket, reading sums the
//! buckets still inside the window. Time is passed in (unix seconds). The book is plain
//! data owned by one task; the decision reads it by reference.

use serde::Deserialize;
use std::collections::HashMap;

/// Quality settings (`[routing.quality]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Length of the sliding window, seconds.
    pub window_s: u32,
    /// Buckets the window is divided into (its resolution).
    pub buckets: u16,
    /// Attempts needed in the window before a carrier can be demoted.
    pub min_samples: u32,
    /// Demote below this answer-seizure ratio (0.0-1.0); 0 disables demotion.
    pub min_asr: f64,
    /// Group quality by the first N digits of the matched prefix; 0 = the whole prefix.
    pub group_digits: u8,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            window_s: 3600,
            buckets: 12,
            min_samples: 20,
            min_asr: 0.0,
            group_digits: 0,
        }
    }
}

impl QualityConfig {
    /// What is wrong with the settings: `(field, message)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.buckets == 0 {
            out.push(("buckets", "must be at least 1".into()));
        }
        if self.window_s < u32::from(self.buckets.max(1)) {
            out.push(("window_s", "must be at least one second per bucket".into()));
        }
        if !(0.0..=1.0).contains(&self.min_asr) {
            out.push((
                "min_asr",
                format!("{} is not a ratio in 0.0..=1.0", self.min_asr),
            ));
        }
        out
    }

    /// The quality group of a matched prefix.
    pub fn group<'a>(&self, prefix: &'a str) -> &'a str {
        match usize::from(self.group_digits) {
            0 => prefix,
            n => &prefix[..n.min(prefix.len())],
        }
    }
}

/// How one attempt toward a carrier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOutcome<'a> {
    /// The carrier tried.
    pub carrier: &'a str,
    /// The prefix that matched for it.
    pub prefix: &'a str,
    /// When the attempt ended, unix seconds.
    pub at_s: i64,
    /// Whether it was answered.
    pub answered: bool,
    /// Talk time of an answered call, seconds.
    pub duration_s: u32,
    /// Post-dial delay: INVITE to first 18x/200, if any came, milliseconds.
    pub pdd_ms: Option<u32>,
}

/// Figures over the window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QualityStats {
    /// Attempts (seizures).
    pub attempts: u32,
    /// Answered attempts.
    pub answered: u32,
    /// Answer-seizure ratio, 0.0-1.0 (0 without attempts).
    pub asr: f64,
    /// Average call duration of answered calls, seconds.
    pub acd_s: f64,
    /// Average post-dial delay, milliseconds (over attempts that rang).
    pub pdd_ms: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    epoch: i64,
    attempts: u32,
    answered: u32,
    duration_s: u64,
    pdd_ms: u64,
    pdd_count: u32,
}

#[derive(Debug, Clone)]
struct Window {
    buckets: Box<[Bucket]>,
}

/// The quality record of every (carrier, prefix group).
#[derive(Debug, Clone)]
pub struct QualityBook {
    config: QualityConfig,
    by_carrier: HashMap<Box<str>, HashMap<Box<str>, Window>>,
}

impl QualityBook {
    /// An empty book.
    pub fn new(config: QualityConfig) -> Self {
        Self {
            config,
            by_carrier: HashMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &QualityConfig {
        &self.config
    }

    fn bucket_s(&self) -> i64 {
        i64::from((self.config.window_s / u32::from(self.config.buckets.max(1))).max(1))
    }

    /// Records how an attempt ended.
    pub fn record(&mut self, o: &CallOutcome<'_>) {
        let epoch = o.at_s.div_euclid(self.bucket_s());
        let n = usize::from(self.config.buckets.max(1));
        let group = self.config.group(o.prefix);
        let groups = self.by_carrier.entry(o.carrier.into()).or_default();
        let window = groups.entry(group.into()).or_insert_with(|| Window {
            buckets: vec![Bucket::default(); n].into_boxed_slice(),
        });
        let b = &mut window.buckets[epoch.rem_euclid(n as i64) as usize];
        if b.epoch != epoch {
            *b = Bucket {
                epoch,
                ..Bucket::default()
            };
        }
        b.attempts += 1;
        if o.answered {
            b.answered += 1;
            b.duration_s += u64::from(o.duration_s);
        }
        if let Some(pdd) = o.pdd_ms {
            b.pdd_ms += u64::from(pdd);
            b.pdd_count += 1;
        }
    }

    /// Figures for a carrier and matched prefix over the window ending at `now_s`.
    pub fn stats(&self, carrier: &str, prefix: &str, now_s: i64) -> QualityStats {
        let Some(window) = self
            .by_carrier
            .get(carrier)
            .and_then(|g| g.get(self.config.group(prefix)))
        else {
            return QualityStats::default();
        };
        let now_epoch = now_s.div_euclid(self.bucket_s());
        let oldest = now_epoch - i64::from(self.config.buckets.max(1)) + 1;
        let mut sum = Bucket::default();
        for b in window
            .buckets
            .iter()
            .filter(|b| (oldest..=now_epoch).contains(&b.epoch))
        {
            sum.attempts += b.attempts;
            sum.answered += b.answered;
            sum.duration_s += b.duration_s;
            sum.pdd_ms += b.pdd_ms;
            sum.pdd_count += b.pdd_count;
        }
        let ratio = |num: f64, den: u32| if den == 0 { 0.0 } else { num / f64::from(den) };
        QualityStats {
            attempts: sum.attempts,
            answered: sum.answered,
            asr: ratio(f64::from(sum.answered), sum.attempts),
            acd_s: ratio(sum.duration_s as f64, sum.answered),
            pdd_ms: ratio(sum.pdd_ms as f64, sum.pdd_count),
        }
    }

    /// Why a carrier should be demoted for this prefix now, if it should.
    pub fn demotion(&self, carrier: &str, prefix: &str, now_s: i64) -> Option<String> {
        if self.config.min_asr <= 0.0 {
            return None;
        }
        let s = self.stats(carrier, prefix, now_s);
        (s.attempts >= self.config.min_samples && s.asr < self.config.min_asr).then(|| {
            format!(
                "ASR {:.0}% < {:.0}% over {} attempts",
                s.asr * 100.0,
                self.config.min_asr * 100.0,
                s.attempts
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(at_s: i64, answered: bool) -> CallOutcome<'static> {
        CallOutcome {
            carrier: "c1",
            prefix: "4420",
            at_s,
            answered,
            duration_s: if answered { 60 } else { 0 },
            pdd_ms: Some(2000),
        }
    }

    fn book() -> QualityBook {
        QualityBook::new(QualityConfig {
            window_s: 600,
            buckets: 10,
            min_samples: 10,
            min_asr: 0.4,
            group_digits: 0,
        })
    }

    #[test]
    fn computes_asr_acd_pdd() {
        let mut b = book();
        for i in 0..10 {
            b.record(&outcome(1000 + i, i % 4 == 0)); // 3 of 10 answered
        }
        let s = b.stats("c1", "4420", 1010);
        assert_eq!((s.attempts, s.answered), (10, 3));
        assert!((s.asr - 0.3).abs() < 1e-9);
        assert!((s.acd_s - 60.0).abs() < 1e-9);
        assert!((s.pdd_ms - 2000.0).abs() < 1e-9);
        assert!(b
            .demotion("c1", "4420", 1010)
            .unwrap()
            .contains("ASR 30% < 40% over 10"));
        assert_eq!(b.stats("c1", "44", 1010).attempts, 0);
        assert_eq!(b.stats("c2", "4420", 1010).attempts, 0);
    }

    #[test]
    fn needs_min_samples_and_forgets_old_buckets() {
        let mut b = book();
        for i in 0..9 {
            b.record(&outcome(1000 + i, false));
        }
        assert!(b.demotion("c1", "4420", 1010).is_none(), "9 < min_samples");
        b.record(&outcome(1009, false));
        assert!(b.demotion("c1", "4420", 1010).is_some());
        // Ten minutes later the window has slid past every failure.
        assert_eq!(b.stats("c1", "4420", 1000 + 600).attempts, 0);
        assert!(b.demotion("c1", "4420", 1000 + 600).is_none());
        // A bucket reused by a later epoch starts from zero.
        b.record(&outcome(1000 + 600, true));
        let s = b.stats("c1", "4420", 1000 + 600);
        assert_eq!((s.attempts, s.answered), (1, 1));
    }

    #[test]
    fn groups_by_leading_digits() {
        let mut b = QualityBook::new(QualityConfig {
            group_digits: 2,
            ..QualityConfig::default()
        });
        b.record(&outcome(0, true));
        assert_eq!(b.stats("c1", "447", 1).attempts, 1);
    }
}
