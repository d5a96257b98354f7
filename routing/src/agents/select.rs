//! [`select`]: which eligible agent takes a caller of a queue, by the queue's strategy.
//!
//! One pass over the pool's bitsets (the required skills' holders and readiness, 64
//! agents at a time, see [`AgentPool::eligible`]); the candidates that pass are then
//! judged by the strategy's cheap key first (idle time, calls handled, an upper bound of
//! the weighted score), and only one that could win pays for the exact skill check. No
//! allocation unless an explanation is asked for. Ties are broken deterministically
//! (longest idle, then lowest index), so the same snapshot and the same random seed give
//! the same answer.

use std::cmp::Ordering;

use super::explain::{self, Explain, ScorePart};
use super::skills::Requirement;
use super::{AgentIndex, AgentPool, CompiledQueue, ScoreWeights, Strategy};
use crate::rng::Random;

/// The caller being routed, as far as selection cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallerContext<'a> {
    /// When the caller entered the queue (unix ms); waiting time drives expansion.
    pub arrived_at_ms: i64,
    /// For `round-robin`: the agent picked last time for this queue (start after it);
    /// `None` starts at index 0. Store [`Selection::round_robin_cursor`] between calls.
    pub round_robin_cursor: Option<AgentIndex>,
    /// Agents not to offer this caller again (declined, or let it ring out).
    pub exclude: &'a [AgentIndex],
}

impl<'a> CallerContext<'a> {
    /// A caller who arrived at `arrived_at_ms`, with no cursor and no exclusions.
    pub fn new(arrived_at_ms: i64) -> Self {
        Self {
            arrived_at_ms,
            ..Self::default()
        }
    }

    /// Sets the round-robin cursor.
    #[must_use]
    pub fn with_cursor(mut self, cursor: Option<AgentIndex>) -> Self {
        self.round_robin_cursor = cursor;
        self
    }

    /// Sets the agents to skip.
    #[must_use]
    pub fn excluding(mut self, exclude: &'a [AgentIndex]) -> Self {
        self.exclude = exclude;
        self
    }

    /// How long the caller has waited at `now_ms`, in ms (never negative).
    pub fn waited_ms(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.arrived_at_ms).max(0)
    }
}

/// The agent [`select`] picked.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The agent's index in the pool; its id is `pool.id(agent)`.
    pub agent: AgentIndex,
    /// `weighted-score` only: the agent's score.
    pub score: Option<f64>,
    /// `round-robin` only: the cursor to pass next time (the selected agent).
    pub round_robin_cursor: Option<AgentIndex>,
    /// The explanation, when asked for.
    pub explain: Option<Explain>,
}

/// Picks the agent to offer `caller` of `queue` at `now_ms`, or `None` if nobody is
/// eligible.
///
/// Eligible: state available (or wrap-up ended), `active_calls < capacity`, skills meeting
/// the queue's requirement expanded to the caller's waiting time, and not in
/// `caller.exclude`. Among those, the queue's [`Strategy`] decides; `rng` is drawn from
/// only by [`Strategy::Random`] (once per eligible agent).
///
/// Does not allocate unless `explain` is true. `queue` must be compiled for `pool`'s
/// skills ([`CompiledQueue::is_compiled_for`]); otherwise nobody is selected (and debug
/// builds panic).
pub fn select<R: Random + ?Sized>(
    queue: &CompiledQueue,
    caller: &CallerContext<'_>,
    pool: &AgentPool,
    now_ms: i64,
    rng: &mut R,
    explain: bool,
) -> Option<Selection> {
    let compiled_for_pool = queue.is_compiled_for(pool);
    debug_assert!(
        compiled_for_pool,
        "queue `{}` was compiled for another pool's skills; recompile it",
        queue.name()
    );
    if !compiled_for_pool {
        return None;
    }
    let waited_ms = caller.waited_ms(now_ms);
    let req = queue.requirement_at(waited_ms);
    let candidates = pool.candidates(req, now_ms, caller.exclude);
    let mut ranking = None;
    let mut selection = match *queue.strategy() {
        Strategy::LongestIdle => {
            plain(first_min(candidates, pool, req, |i| pool.idle_since_ms(i))?)
        }
        Strategy::FewestCalls => plain(first_min(candidates, pool, req, |i| {
            (pool.calls_handled(i), pool.idle_since_ms(i))
        })?),
        Strategy::RoundRobin => {
            let agent = round_robin(pool, req, now_ms, caller)?;
            Selection {
                round_robin_cursor: Some(agent),
                ..plain(agent)
            }
        }
        Strategy::Random => plain(reservoir(pool.eligible(req, now_ms, caller.exclude), rng)?),
        Strategy::WeightedScore { weights } => {
            let r = rank(candidates, pool, req, now_ms, &weights, explain)?;
            ranking = Some(r);
            Selection {
                score: Some(r.best.score),
                ..plain(r.best.agent)
            }
        }
    };
    if explain {
        selection.explain = Some(Explain::build(&explain::Context {
            queue,
            pool,
            req,
            exclude: caller.exclude,
            now_ms,
            waited_ms,
            agent: selection.agent,
            ranking,
        }));
    }
    Some(selection)
}

fn plain(agent: AgentIndex) -> Selection {
    Selection {
        agent,
        score: None,
        round_robin_cursor: None,
        explain: None,
    }
}

/// The eligible agent with the smallest `key`, the first such in index order.
///
/// The key is a column read, so it is compared before the exact skill check: only an
/// agent that would become the new minimum pays for it.
fn first_min<K: Ord>(
    candidates: impl Iterator<Item = AgentIndex>,
    pool: &AgentPool,
    req: &Requirement,
    key: impl Fn(AgentIndex) -> K,
) -> Option<AgentIndex> {
    let mut best: Option<(AgentIndex, K)> = None;
    for agent in candidates {
        let k = key(agent);
        let improves = match &best {
            None => true,
            Some((_, min)) => k < *min,
        };
        if improves && pool.meets_levels(agent, req) {
            best = Some((agent, k));
        }
    }
    best.map(|(agent, _)| agent)
}

/// The first eligible agent after the cursor, wrapping to the start (and to the cursor's
/// own agent last).
fn round_robin(
    pool: &AgentPool,
    req: &Requirement,
    now_ms: i64,
    caller: &CallerContext<'_>,
) -> Option<AgentIndex> {
    let n = pool.len();
    let start = caller
        .round_robin_cursor
        .map_or(0, |c| c.saturating_add(1).min(n));
    pool.eligible_in(req, now_ms, caller.exclude, start..n)
        .next()
        .or_else(|| {
            pool.eligible_in(req, now_ms, caller.exclude, 0..start)
                .next()
        })
}

/// Uniform choice in one pass (reservoir sampling with a reservoir of one): the `k`-th
/// eligible agent replaces the pick with probability `1/k`.
fn reservoir<R: Random + ?Sized>(
    eligible: impl Iterator<Item = AgentIndex>,
    rng: &mut R,
) -> Option<AgentIndex> {
    let mut pick = None;
    for (seen, agent) in (1u64..).zip(eligible) {
        if rng.below(seen) == 0 {
            pick = Some(agent);
        }
    }
    pick
}

/// An agent's weighted score.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored {
    pub(crate) agent: AgentIndex,
    pub(crate) score: f64,
    idle_since_ms: i64,
}

impl Scored {
    /// Higher score, then longer idle; on a full tie the earlier agent keeps its place.
    fn beats(&self, other: &Self) -> bool {
        match self.score.total_cmp(&other.score) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.idle_since_ms < other.idle_since_ms,
        }
    }
}

/// The best weighted score, and the second best when asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranking {
    pub(crate) best: Scored,
    pub(crate) runner_up: Option<Scored>,
}

impl Ranking {
    fn admit(self, scored: Scored, with_runner_up: bool) -> Self {
        if scored.beats(&self.best) {
            return Self {
                best: scored,
                runner_up: with_runner_up.then_some(self.best),
            };
        }
        let second = match self.runner_up {
            None => true,
            Some(second) => scored.beats(&second),
        };
        if with_runner_up && second {
            Self {
                runner_up: Some(scored),
                ..self
            }
        } else {
            self
        }
    }
}

/// Ranks eligible agents by weighted score.
///
/// Idle and load come from columns; skill fit needs the agent's skill list. The score
/// with a perfect skill fit bounds the real one from above (rounding is monotonic and
/// the sums are done in the same order), so when only the best is wanted, an agent
/// whose bound cannot beat it is skipped before the exact skill check and the fit.
/// Before even that, a [`Bar`] turns "could beat the best" into one integer compare of
/// the agent's `idle_since_ms`, so most agents cost a load and a compare.
fn rank(
    candidates: impl Iterator<Item = AgentIndex>,
    pool: &AgentPool,
    req: &Requirement,
    now_ms: i64,
    weights: &ScoreWeights,
    with_runner_up: bool,
) -> Option<Ranking> {
    let horizon_ms = weights.idle_horizon_ms();
    let top = explain::upper_bound(weights, horizon_ms, horizon_ms);
    let mut bar = Bar::OPEN;
    let mut ranking: Option<Ranking> = None;
    for agent in candidates {
        let idle_since_ms = pool.idle_since_ms(agent);
        if idle_since_ms > bar.latest_idle_since {
            continue;
        }
        let [idle, load] = explain::availability_parts(pool, agent, now_ms, weights);
        if let (Some(r), false) = (&ranking, with_runner_up) {
            let perfect = [ScorePart::new(1.0, weights.skill), idle, load];
            let bound = Scored {
                agent,
                score: explain::total(&perfect),
                idle_since_ms,
            };
            if !bound.beats(&r.best) {
                continue;
            }
        }
        if !pool.meets_levels(agent, req) {
            continue;
        }
        let fit = ScorePart::new(pool.skill_fit(agent, req), weights.skill);
        let scored = Scored {
            agent,
            score: explain::total(&[fit, idle, load]),
            idle_since_ms,
        };
        let r = match ranking {
            None => Ranking {
                best: scored,
                runner_up: None,
            },
            Some(r) => r.admit(scored, with_runner_up),
        };
        ranking = Some(r);
        if !with_runner_up {
            match bar.above(&r.best, top, now_ms, weights) {
                Some(raised) => bar = raised,
                None => break,
            }
        }
    }
    ranking
}

/// Which agents could still beat the best score so far, as one integer compare: an
/// agent idle since later than `latest_idle_since` cannot.
///
/// Exact, not a heuristic: [`explain::upper_bound`] of an agent's capped idle time (skill
/// fit and spare capacity at their maximum, 1) is at least the bound `rank` computes for
/// it, and is nondecreasing in the idle time, so the least idle time that reaches the
/// best score is found by bisection, and every agent idle for less is out. When even a
/// full idle horizon only ties the best, only an agent idle since earlier can still win
/// (ties go to the longest idle).
#[derive(Debug, Clone, Copy)]
struct Bar {
    latest_idle_since: i64,
    /// The best score this bar was computed for and the least capped idle time (ms)
    /// whose upper bound reaches it; scores only rise, so this only rises.
    score: f64,
    min_idle_ms: i64,
}

impl Bar {
    /// Before any agent is scored: everyone could win.
    const OPEN: Self = Self {
        latest_idle_since: i64::MAX,
        score: f64::NEG_INFINITY,
        min_idle_ms: 0,
    };

    /// The bar to beat `best`, given `top`, the upper bound at a full idle horizon; `None`
    /// when no agent can beat it.
    fn above(self, best: &Scored, top: f64, now_ms: i64, weights: &ScoreWeights) -> Option<Self> {
        let reaches_top = top.total_cmp(&best.score);
        if reaches_top.is_lt() {
            return None;
        }
        let horizon_ms = weights.idle_horizon_ms();
        let min_idle_ms = if best.score.total_cmp(&self.score).is_eq() {
            self.min_idle_ms
        } else {
            // The least idle time in `lo..=hi` whose bound reaches the score; `hi` does.
            let (mut lo, mut hi) = (self.min_idle_ms, horizon_ms);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if explain::upper_bound(weights, mid, horizon_ms)
                    .total_cmp(&best.score)
                    .is_lt()
                {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        // Capped idle time `>= min_idle_ms` (>= 1) means `idle_since <= now - min_idle_ms`.
        let mut latest_idle_since = if min_idle_ms == 0 {
            i64::MAX
        } else {
            now_ms.checked_sub(min_idle_ms)?
        };
        if reaches_top.is_eq() {
            latest_idle_since = latest_idle_since.min(best.idle_since_ms.checked_sub(1)?);
        }
        Some(Self {
            latest_idle_since,
            score: best.score,
            min_idle_ms,
        })
    }
}
