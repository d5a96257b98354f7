//! [`Explain`]: why [`select`](super::select) picked whom, for logs and the supervisor
//! console. Built only when asked for; allocation is fine here.

use std::fmt;

use super::pool::idle_fraction_of;
use super::select::Ranking;
use super::skills::Requirement;
use super::{AgentIndex, AgentPool, CompiledQueue, ScoreWeights, SkillRequirement, Strategy};

/// One weighted component of a score: `points = value * weight`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorePart {
    /// The component, in `0..=1`.
    pub value: f64,
    /// Its weight from [`ScoreWeights`].
    pub weight: f64,
    /// `value * weight`, the contribution to the total.
    pub points: f64,
}

impl ScorePart {
    pub(crate) fn new(value: f64, weight: f64) -> Self {
        Self {
            value,
            weight,
            points: value * weight,
        }
    }
}

/// An agent's weighted score, by component: `total = skill + idle + load` points.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreBreakdown {
    /// The agent's index.
    pub agent: AgentIndex,
    /// The agent's id.
    pub agent_id: String,
    /// How far the agent's levels exceed the requirement.
    pub skill: ScorePart,
    /// How long the agent has been idle, against the horizon.
    pub idle: ScorePart,
    /// The agent's spare capacity.
    pub load: ScorePart,
    /// The score: the sum of the three parts' points, equal to [`Selection::score`].
    ///
    /// [`Selection::score`]: super::Selection::score
    pub total: f64,
}

/// The idle and load components of agent `i`'s weighted score: cheap column reads, so
/// selection computes them first and bounds the score before looking at skills.
pub(crate) fn availability_parts(
    pool: &AgentPool,
    i: AgentIndex,
    now_ms: i64,
    w: &ScoreWeights,
) -> [ScorePart; 2] {
    [
        ScorePart::new(pool.idle_fraction(i, now_ms, w.idle_horizon_ms()), w.idle),
        ScorePart::new(pool.free_fraction(i), w.load),
    ]
}

/// An upper bound of the weighted score of any agent whose capped idle time is
/// `idle_ms`: skill fit and spare capacity at their maximum (1), summed like [`total`].
/// Nondecreasing in `idle_ms` (every step rounds monotonically).
pub(crate) fn upper_bound(w: &ScoreWeights, idle_ms: i64, horizon_ms: i64) -> f64 {
    total(&[
        ScorePart::new(1.0, w.skill),
        ScorePart::new(idle_fraction_of(idle_ms, horizon_ms), w.idle),
        ScorePart::new(1.0, w.load),
    ])
}

/// All three components of agent `i`'s weighted score. Selection and explanation both
/// sum them with [`total`], so the two agree to the bit.
pub(crate) fn score_parts(
    pool: &AgentPool,
    i: AgentIndex,
    req: &Requirement,
    now_ms: i64,
    w: &ScoreWeights,
) -> [ScorePart; 3] {
    let [idle, load] = availability_parts(pool, i, now_ms, w);
    [ScorePart::new(pool.skill_fit(i, req), w.skill), idle, load]
}

/// The score from its parts.
pub(crate) fn total(parts: &[ScorePart; 3]) -> f64 {
    parts[0].points + parts[1].points + parts[2].points
}

impl ScoreBreakdown {
    fn new(
        pool: &AgentPool,
        i: AgentIndex,
        req: &Requirement,
        now_ms: i64,
        w: &ScoreWeights,
    ) -> Self {
        let parts = score_parts(pool, i, req, now_ms, w);
        Self {
            agent: i,
            agent_id: pool.id(i).to_owned(),
            skill: parts[0],
            idle: parts[1],
            load: parts[2],
            total: total(&parts),
        }
    }
}

/// Why an agent was selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Explain {
    /// The queue's name.
    pub queue: String,
    /// The strategy used.
    pub strategy: Strategy,
    /// How long the caller had waited, in ms.
    pub waited_ms: i64,
    /// How many expansion steps applied at that wait.
    pub steps_applied: usize,
    /// The effective required skills after expansion.
    pub requirement: Vec<SkillRequirement>,
    /// The queue's skills dropped by expansion.
    pub relaxed: Vec<String>,
    /// How many agents were eligible (exclusions applied).
    pub eligible: usize,
    /// How many otherwise eligible agents were skipped because the caller excluded them.
    pub excluded: usize,
    /// The selected agent's index.
    pub agent: AgentIndex,
    /// The selected agent's id.
    pub agent_id: String,
    /// `weighted-score` only: the selected agent's score by component.
    pub chosen: Option<ScoreBreakdown>,
    /// `weighted-score` only: the second-best agent's score, if there was one.
    pub runner_up: Option<ScoreBreakdown>,
}

/// What [`Explain::build`] needs about the selection just made.
pub(crate) struct Context<'a> {
    pub(crate) queue: &'a CompiledQueue,
    pub(crate) pool: &'a AgentPool,
    pub(crate) req: &'a Requirement,
    pub(crate) exclude: &'a [AgentIndex],
    pub(crate) now_ms: i64,
    pub(crate) waited_ms: i64,
    pub(crate) agent: AgentIndex,
    pub(crate) ranking: Option<Ranking>,
}

impl Explain {
    pub(crate) fn build(cx: &Context<'_>) -> Self {
        let Context {
            queue,
            pool,
            req,
            exclude,
            now_ms,
            ..
        } = *cx;
        let eligible = pool.eligible(req, now_ms, exclude).count();
        let without_exclusions = pool.eligible(req, now_ms, &[]).count();
        let breakdown = |i| match queue.strategy() {
            Strategy::WeightedScore { weights } => {
                Some(ScoreBreakdown::new(pool, i, req, now_ms, weights))
            }
            _ => None,
        };
        let ranking = cx.ranking.as_ref();
        Self {
            queue: queue.name().to_owned(),
            strategy: *queue.strategy(),
            waited_ms: cx.waited_ms,
            steps_applied: req.steps_applied(),
            requirement: req
                .needs()
                .map(|(id, min)| SkillRequirement::new(pool.skills().name(id), min))
                .collect(),
            relaxed: req.relaxed_skills().to_vec(),
            eligible,
            excluded: without_exclusions.saturating_sub(eligible),
            agent: cx.agent,
            agent_id: pool.id(cx.agent).to_owned(),
            chosen: ranking.and_then(|r| breakdown(r.best.agent)),
            runner_up: ranking
                .and_then(|r| r.runner_up)
                .and_then(|s| breakdown(s.agent)),
        }
    }
}

impl fmt::Display for ScoreBreakdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` {:.3} = skill {:.2}x{} + idle {:.2}x{} + load {:.2}x{}",
            self.agent_id,
            self.total,
            self.skill.value,
            self.skill.weight,
            self.idle.value,
            self.idle.weight,
            self.load.value,
            self.load.weight,
        )
    }
}

impl fmt::Display for Explain {
    /// One line, e.g. ``queue `support-es` (weighted-score) waited 42.0 s, 1 step:
    /// spanish>=2; relaxed billing; 12 eligible, 1 excluded; chose `a7` 1.830 = ...``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queue `{}` ({}) waited {:.1} s, {} step(s):",
            self.queue,
            self.strategy,
            self.waited_ms as f64 / 1_000.0,
            self.steps_applied
        )?;
        if self.requirement.is_empty() {
            f.write_str(" any skills")?;
        }
        for r in &self.requirement {
            write!(f, " {}>={}", r.skill, r.min)?;
        }
        if !self.relaxed.is_empty() {
            write!(f, "; relaxed {}", self.relaxed.join(", "))?;
        }
        write!(
            f,
            "; {} eligible, {} excluded; chose ",
            self.eligible, self.excluded
        )?;
        match &self.chosen {
            Some(b) => write!(f, "{b}")?,
            None => write!(f, "`{}`", self.agent_id)?,
        }
        if let Some(b) = &self.runner_up {
            write!(f, "; runner-up {b}")?;
        }
        Ok(())
    }
}
