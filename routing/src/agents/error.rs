//! The one error type of agent selection: what was wrong with an agent, a queue
//! specification or score weights, said so that whoever wrote the config can fix it.

use thiserror::Error;

/// Why an [`Agent`](super::Agent), a [`QueueSpec`](super::QueueSpec) or
/// [`ScoreWeights`](super::ScoreWeights) was rejected.
///
/// Every variant is a fault of the input (config, REST request, directory sync); nothing
/// here is transient, so retrying the same input fails the same way.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A proficiency level (an agent's skill level, or a queue's minimum) outside `1..=5`.
    #[error("{owner}: skill `{skill}` has proficiency {level}, expected 1..=5")]
    InvalidProficiency {
        /// Who declared it: "agent `id`" or "queue `name`".
        owner: String,
        /// The skill's name.
        skill: String,
        /// The rejected level.
        level: u8,
    },
    /// An agent with capacity 0 could never take a call.
    #[error("agent `{agent}`: capacity must be at least 1")]
    ZeroCapacity {
        /// The agent's id.
        agent: String,
    },
    /// Two agents with the same id in one pool.
    #[error("agent `{agent}` is already in the pool")]
    DuplicateAgent {
        /// The repeated id.
        agent: String,
    },
    /// The same skill listed twice for one agent or one queue.
    #[error("{owner}: skill `{skill}` is listed twice")]
    DuplicateSkill {
        /// Who declared it: "agent `id`" or "queue `name`".
        owner: String,
        /// The repeated skill.
        skill: String,
    },
    /// Expansion steps must be listed in ascending order of `after_s`.
    #[error(
        "queue `{queue}`: expansion step {step} (after_s = {after_s}) comes after a step \
         with after_s = {previous_after_s}; list steps in ascending order of after_s"
    )]
    ExpansionOrder {
        /// The queue's name.
        queue: String,
        /// Zero-based position of the offending step in `expand`.
        step: usize,
        /// Its `after_s`.
        after_s: u32,
        /// The larger `after_s` of the step before it.
        previous_after_s: u32,
    },
    /// An expansion step with a positive `min_delta`: expansion only widens the pool.
    #[error("queue `{queue}`: expansion step {step} has min_delta = {min_delta}; it must be <= 0")]
    RaisingExpansion {
        /// The queue's name.
        queue: String,
        /// Zero-based position of the offending step in `expand`.
        step: usize,
        /// The rejected delta.
        min_delta: i8,
    },
    /// An expansion step names (in `skill` or `relax`) a skill the queue does not require.
    #[error("queue `{queue}`: expansion step {step} names skill `{skill}`, which the queue does not require")]
    UnknownExpansionSkill {
        /// The queue's name.
        queue: String,
        /// Zero-based position of the offending step in `expand`.
        step: usize,
        /// The skill named by the step.
        skill: String,
    },
    /// A score weight that is negative or not finite, or an idle horizon of zero.
    #[error("queue `{queue}`: weighted-score `{field}` = {value} is invalid (weights must be finite and >= 0, idle_horizon_s >= 1)")]
    InvalidWeights {
        /// The queue's name.
        queue: String,
        /// The field: `skill`, `idle`, `load` or `idle_horizon_s`.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// More distinct skills than skill ids (`u16`) can name.
    #[error("too many distinct skills: at most {limit} are supported")]
    TooManySkills {
        /// The maximum number of distinct skills in one pool.
        limit: usize,
    },
}
