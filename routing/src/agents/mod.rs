//! Contact-center agent selection: which agent takes a caller ([`select`]) and which
//! waiting caller an agent who frees up takes ([`next_caller`]).
//!
//! # Shape
//! The server owns live agent state. It keeps an [`AgentPool`], a columnar snapshot of
//! agents (skills interned to ids, presence folded into a "ready at" time), updates
//! presence in place with the pool's `set_*` methods and publishes clones as immutable
//! snapshots. Queues come from config as [`QueueSpec`] and are compiled once per pool
//! skill set ([`AgentPool::compile_queue`]) into [`CompiledQueue`]s, which hold the
//! requirement of every expansion stage (bullseye routing: after a caller has waited
//! long enough, minimum levels drop and skills are relaxed).
//!
//! [`select`] and [`next_caller`] are pure functions of (queue, caller, pool, `now_ms`,
//! rng): no clock, no I/O, no allocation (unless an [`Explain`] is asked for), one scan
//! over the pool's columns. Time is unix milliseconds passed in; randomness is injected
//! through [`Random`](crate::rng::Random).
//!
//! # Indices
//! An [`AgentIndex`] is a position in one pool. Cursors, exclusions and selections are
//! indices, so they stay meaningful while the server only updates presence; when it
//! rebuilds the pool (agents joining with new skills, leaving), it should keep existing
//! agents in order (append new ones) or translate indices through [`AgentPool::id`] and
//! [`AgentPool::index_of`], and recompile its queues if
//! [`CompiledQueue::is_compiled_for`] says so.
//!
//! # Example
//! ```
//! use dcx_routing::agents::{
//!     next_caller, select, Agent, AgentPool, AgentState, CallerContext, Expansion,
//!     QueueSpec, Strategy, WaitingCaller,
//! };
//! use dcx_routing::rng::SplitMix64;
//!
//! let now_ms = 1_700_000_060_000;
//! let pool = AgentPool::new(vec![
//!     Agent::new("ana").with_skill("spanish", 5).with_idle_since(now_ms - 90_000),
//!     Agent::new("ben").with_skill("spanish", 2).with_idle_since(now_ms - 300_000),
//!     Agent::new("eve").with_skill("spanish", 5).with_state(AgentState::Away),
//! ])?;
//! let queue = pool.compile_queue(
//!     &QueueSpec::new("support-es")
//!         .with_strategy(Strategy::LongestIdle)
//!         .with_skill("spanish", 3)
//!         .with_expansion(Expansion::after(30).min_delta(-1)),
//! )?;
//! let mut rng = SplitMix64::new(1);
//!
//! // A caller who just arrived needs Spanish 3+: only ana qualifies.
//! let fresh = CallerContext::new(now_ms);
//! let pick = select(&queue, &fresh, &pool, now_ms, &mut rng, false).unwrap();
//! assert_eq!(pool.id(pick.agent), "ana");
//!
//! // After 30 s the minimum drops to 2, and ben has been idle longer.
//! let patient = CallerContext::new(now_ms - 45_000);
//! let pick = select(&queue, &patient, &pool, now_ms, &mut rng, true).unwrap();
//! assert_eq!(pool.id(pick.agent), "ben");
//! assert_eq!(pick.explain.unwrap().eligible, 2);
//!
//! // ana frees up: she takes the longest-waiting caller she can serve.
//! let waiting = [
//!     WaitingCaller { caller_id: 7, queue: 0, arrived_at_ms: now_ms - 5_000 },
//!     WaitingCaller { caller_id: 8, queue: 0, arrived_at_ms: now_ms - 20_000 },
//! ];
//! let queues = [queue];
//! assert_eq!(next_caller(0, &pool, &waiting, &queues, now_ms), Some(1));
//! # Ok::<(), dcx_routing::agents::AgentError>(())
//! ```

mod agent;
mod error;
mod explain;
mod pool;
mod queue;
mod select;
mod skills;
mod strategy;
mod waiting;

#[cfg(test)]
mod tests;

pub use agent::{Agent, AgentSkill, AgentState};
pub use error::AgentError;
pub use explain::{Explain, ScoreBreakdown, ScorePart};
pub use pool::{AgentPool, Eligible};
pub use queue::{CompiledQueue, Expansion, QueueSpec, SkillRequirement};
pub use select::{select, CallerContext, Selection};
pub use skills::{Requirement, SkillId, SkillRegistry, MAX_PROFICIENCY, MIN_PROFICIENCY};
pub use strategy::{ScoreWeights, Strategy};
pub use waiting::{next_caller, next_caller_excluding, WaitingCaller};

/// The position of an agent in an [`AgentPool`], in the order agents were added.
pub type AgentIndex = usize;
