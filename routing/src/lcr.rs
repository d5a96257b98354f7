//! Least-cost routing: a dialled number -> an ordered list of carrier candidates.
//!
//! Order of work: normalize the number, refuse blocked destinations, find each carrier's
//! longest prefix in effect, drop carriers that are down or full (from the caller's
//! snapshot), demote carriers whose quality fell under the threshold, then order by
//! (demoted, rate, priority) with a weighted random draw among exact ties, and cut the
//! list at the maximum number of attempts. Every step can be explained.

use crate::deck::fields::nano_to_f64;
use crate::deck::Tariff;
use crate::failover::FailoverPolicy;
use crate::number::{NumberError, NumberPlan, E164};
use crate::prefix_fst::PrefixMap;
use crate::quality::QualityBook;
use crate::rng::Random;
use crate::table::{RateMatch, RateTable};
use std::collections::HashMap;
use std::sync::Arc;

/// Why no call can be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The dialled string is not a number.
    #[error("invalid number: {0}")]
    InvalidNumber(#[from] NumberError),
    /// The destination is on the deny list.
    #[error("{number} is blocked by rule {reason:?} (prefix {prefix})")]
    Blocked {
        /// The normalized number.
        number: String,
        /// The deny-list prefix that matched.
        prefix: String,
        /// The rule's reason, from the config.
        reason: String,
    },
    /// No carrier has a rate for the number.
    #[error("no route to {number}: no carrier has a matching prefix in effect")]
    NoRoute {
        /// The normalized number.
        number: String,
    },
    /// Carriers have rates but none can take the call now.
    #[error("no carrier available for {number}: {}", skipped.iter().map(|(c, r)| format!("{c} {r}")).collect::<Vec<_>>().join(", "))]
    NoCarrierAvailable {
        /// The normalized number.
        number: String,
        /// Each matching carrier and why it was skipped.
        skipped: Vec<(String, String)>,
    },
}

impl RouteError {
    /// The SIP final response a B2BUA sends for this error.
    pub fn sip_status(&self) -> u16 {
        match self {
            RouteError::InvalidNumber(_) => 484,
            RouteError::Blocked { .. } => 403,
            RouteError::NoRoute { .. } => 404,
            RouteError::NoCarrierAvailable { .. } => 503,
        }
    }
}

/// A destination that must never be routed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRule {
    /// E.164 prefix, digits only.
    pub prefix: String,
    /// Why, shown in the error (e.g. "UK premium rate").
    pub reason: String,
}

/// Live state of one carrier, as the caller sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierState {
    /// Up according to health checks.
    pub up: bool,
    /// Calls in progress through it.
    pub active_calls: u32,
    /// Its concurrent-call limit, if any.
    pub max_calls: Option<u32>,
}

impl Default for CarrierState {
    fn default() -> Self {
        Self {
            up: true,
            active_calls: 0,
            max_calls: None,
        }
    }
}

/// The state of every carrier the caller knows; unknown carriers are up and unlimited.
#[derive(Debug, Clone, Default)]
pub struct CarrierSnapshot {
    states: HashMap<Box<str>, CarrierState>,
}

impl CarrierSnapshot {
    /// Sets one carrier's state.
    pub fn set(&mut self, carrier: &str, state: CarrierState) {
        self.states.insert(carrier.into(), state);
    }

    /// One carrier's state.
    pub fn get(&self, carrier: &str) -> CarrierState {
        self.states.get(carrier).copied().unwrap_or_default()
    }
}

/// The routing policy: failover per carrier and the attempt limit.
#[derive(Debug, Clone)]
pub struct RoutingPolicy {
    default_failover: Arc<FailoverPolicy>,
    per_carrier: HashMap<Box<str>, Arc<FailoverPolicy>>,
    max_attempts: usize,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self::new(FailoverPolicy::default(), HashMap::new(), 3)
    }
}

impl RoutingPolicy {
    /// A policy with a default failover policy, per-carrier overrides and an attempt limit.
    pub fn new(
        default_failover: FailoverPolicy,
        per_carrier: HashMap<String, FailoverPolicy>,
        max_attempts: usize,
    ) -> Self {
        Self {
            default_failover: Arc::new(default_failover),
            per_carrier: per_carrier
                .into_iter()
                .map(|(k, v)| (k.into_boxed_str(), Arc::new(v)))
                .collect(),
            max_attempts: max_attempts.max(1),
        }
    }

    /// The failover policy that applies to a carrier.
    pub fn failover(&self, carrier: &str) -> &Arc<FailoverPolicy> {
        self.per_carrier
            .get(carrier)
            .unwrap_or(&self.default_failover)
    }

    /// The most carriers one call tries.
    pub fn max_attempts(&self) -> usize {
        self.max_attempts
    }
}

/// What a decision reads besides the number.
#[derive(Debug, Clone, Copy)]
pub struct DecisionInput<'a> {
    /// The time of the call, unix seconds (for effective dates and quality windows).
    pub at_s: i64,
    /// Carrier health and load.
    pub carriers: &'a CarrierSnapshot,
    /// Quality records, if quality-based demotion is in use.
    pub quality: Option<&'a QualityBook>,
    /// Whether to build an explanation.
    pub explain: bool,
}

/// One carrier to try, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Carrier (trunk) name.
    pub carrier: Arc<str>,
    /// Length of the matched prefix of the decision's number.
    pub prefix_len: u8,
    /// Rate per minute, nano-units.
    pub rate_nano: u64,
    /// Billing terms, priority and weight.
    pub tariff: Tariff,
    /// What to do when this attempt fails.
    pub failover: Arc<FailoverPolicy>,
    /// Whether quality demoted it behind the others.
    pub demoted: bool,
}

impl Candidate {
    /// Rate per minute in currency units.
    pub fn rate(&self) -> f64 {
        nano_to_f64(self.rate_nano)
    }
}

/// What happened to one matching carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Chosen, at this 0-based position.
    Candidate(usize),
    /// Chosen, but demoted by quality.
    Demoted {
        /// 0-based position.
        position: usize,
        /// Why.
        reason: String,
    },
    /// Not usable now.
    Skipped(String),
    /// Usable, but past the attempt limit.
    BeyondMaxAttempts,
}

/// One line of an explanation: a matching carrier and its fate.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainLine {
    /// Carrier name.
    pub carrier: Arc<str>,
    /// The prefix that matched for it.
    pub prefix: String,
    /// Rate per minute.
    pub rate: f64,
    /// Its row's priority.
    pub priority: i32,
    /// Its row's weight.
    pub weight: u32,
    /// What happened to it.
    pub verdict: Verdict,
}

/// Why the decision came out as it did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explain {
    /// The dial-plan rule that normalized the number, if any.
    pub normalized_by: Option<String>,
    /// Every carrier that had a rate, longest prefix first.
    pub carriers: Vec<ExplainLine>,
}

/// The outcome of routing one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The normalized number.
    pub number: E164,
    /// Carriers to try, in order (at most the policy's max attempts).
    pub candidates: Vec<Candidate>,
    /// The explanation, when asked for.
    pub explain: Option<Explain>,
}

impl Decision {
    /// The prefix a candidate matched.
    pub fn prefix_of(&self, c: &Candidate) -> &str {
        &self.number.as_str()[..usize::from(c.prefix_len)]
    }
}

/// A compiled routing configuration: rate table, dial plan, deny list, policy.
#[derive(Debug)]
pub struct Router {
    table: RateTable,
    plan: NumberPlan,
    blocked: PrefixMap,
    block_rules: Vec<BlockRule>,
    policy: RoutingPolicy,
}

struct Working {
    m: RateMatch,
    demotion: Option<String>,
}

impl Router {
    /// Puts the parts together. Block rules must hold digit prefixes (validated by the
    /// config); a rule whose prefix is not digits never matches.
    pub fn new(
        table: RateTable,
        plan: NumberPlan,
        block_rules: Vec<BlockRule>,
        policy: RoutingPolicy,
    ) -> Self {
        let blocked = PrefixMap::new(
            block_rules
                .iter()
                .enumerate()
                .map(|(i, r)| (r.prefix.as_str(), i as u64)),
        );
        Self {
            table,
            plan,
            blocked,
            block_rules,
            policy,
        }
    }

    /// The compiled rate table.
    pub fn table(&self) -> &RateTable {
        &self.table
    }

    /// The routing policy.
    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// The dial plan.
    pub fn plan(&self) -> &NumberPlan {
        &self.plan
    }

    /// Routes one dialled number.
    pub fn decide(
        &self,
        dialled: &str,
        input: &DecisionInput<'_>,
        rng: &mut impl Random,
    ) -> Result<Decision, RouteError> {
        let normalized = self.plan.normalize(dialled)?;
        let number = normalized.number;
        if let Some((len, rule)) = self.blocked.longest(number.as_bytes()) {
            let rule = &self.block_rules[rule as usize];
            return Err(RouteError::Blocked {
                number: number.to_string(),
                prefix: number.as_str()[..len].to_owned(),
                reason: rule.reason.clone(),
            });
        }
        let mut matches = Vec::new();
        self.table
            .matches(number.as_bytes(), input.at_s, &mut matches);
        if matches.is_empty() {
            return Err(RouteError::NoRoute {
                number: number.to_string(),
            });
        }
        let mut skipped: Vec<(RateMatch, String)> = Vec::new();
        let mut usable: Vec<Working> = Vec::with_capacity(matches.len());
        for m in matches {
            let name = self.table.carrier_name(m.carrier);
            let state = input.carriers.get(name);
            if !state.up {
                skipped.push((m, "down (health check)".into()));
            } else if state.max_calls.is_some_and(|max| state.active_calls >= max) {
                skipped.push((
                    m,
                    format!(
                        "at capacity ({}/{} calls)",
                        state.active_calls,
                        state.max_calls.unwrap_or_default()
                    ),
                ));
            } else {
                let prefix = &number.as_str()[..usize::from(m.prefix_len)];
                let demotion = input
                    .quality
                    .and_then(|q| q.demotion(name, prefix, input.at_s));
                usable.push(Working { m, demotion });
            }
        }
        if usable.is_empty() {
            return Err(RouteError::NoCarrierAvailable {
                number: number.to_string(),
                skipped: skipped
                    .into_iter()
                    .map(|(m, why)| (self.table.carrier_name(m.carrier).to_string(), why))
                    .collect(),
            });
        }
        self.order(&mut usable, rng);
        let keep = usable.len().min(self.policy.max_attempts);
        let candidates = usable[..keep]
            .iter()
            .map(|w| {
                let carrier = self.table.carrier_name(w.m.carrier);
                Candidate {
                    carrier: Arc::clone(carrier),
                    prefix_len: w.m.prefix_len,
                    rate_nano: w.m.rate_nano,
                    tariff: *self.table.tariff(w.m.tariff),
                    failover: Arc::clone(self.policy.failover(carrier)),
                    demoted: w.demotion.is_some(),
                }
            })
            .collect();
        let explain = input.explain.then(|| Explain {
            normalized_by: normalized.rule.map(|r| r.name.clone()),
            carriers: self.explain_lines(&number, usable, skipped, keep),
        });
        Ok(Decision {
            number,
            candidates,
            explain,
        })
    }

    /// Sorts by (demoted, rate, priority) and draws a weighted random order within each
    /// run of exact ties: a carrier with weight 2 goes first twice as often as one with
    /// weight 1 (sequential draws without replacement, as DNS SRV, RFC 2782). Weight 0
    /// goes last among its ties.
    fn order(&self, usable: &mut [Working], rng: &mut impl Random) {
        let key = |w: &Working| {
            (
                w.demotion.is_some(),
                w.m.rate_nano,
                self.table.tariff(w.m.tariff).priority,
            )
        };
        usable.sort_by_key(key);
        let mut start = 0;
        while start < usable.len() {
            let end = start + usable[start..].partition_point(|w| key(w) == key(&usable[start]));
            for i in start..end.saturating_sub(1) {
                let weight = |w: &Working| u64::from(self.table.tariff(w.m.tariff).weight);
                let total: u64 = usable[i..end].iter().map(weight).sum();
                let pick = if total == 0 {
                    i + rng.below((end - i) as u64) as usize
                } else {
                    let mut r = rng.below(total);
                    let mut j = i;
                    while r >= weight(&usable[j]) {
                        r -= weight(&usable[j]);
                        j += 1;
                    }
                    j
                };
                usable.swap(i, pick);
            }
            start = end;
        }
    }

    fn explain_lines(
        &self,
        number: &E164,
        usable: Vec<Working>,
        skipped: Vec<(RateMatch, String)>,
        keep: usize,
    ) -> Vec<ExplainLine> {
        let line = |m: &RateMatch, verdict: Verdict| {
            let t = self.table.tariff(m.tariff);
            ExplainLine {
                carrier: Arc::clone(self.table.carrier_name(m.carrier)),
                prefix: number.as_str()[..usize::from(m.prefix_len)].to_owned(),
                rate: nano_to_f64(m.rate_nano),
                priority: t.priority,
                weight: t.weight,
                verdict,
            }
        };
        let mut lines: Vec<ExplainLine> = usable
            .into_iter()
            .enumerate()
            .map(|(position, w)| {
                let verdict = match (position < keep, w.demotion) {
                    (false, _) => Verdict::BeyondMaxAttempts,
                    (true, Some(reason)) => Verdict::Demoted { position, reason },
                    (true, None) => Verdict::Candidate(position),
                };
                line(&w.m, verdict)
            })
            .collect();
        lines.extend(
            skipped
                .into_iter()
                .map(|(m, why)| line(&m, Verdict::Skipped(why))),
        );
        lines
    }
}

#[cfg(test)]
#[path = "lcr_tests.rs"]
mod tests;
