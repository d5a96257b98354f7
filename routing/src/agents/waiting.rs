//! [`next_caller`]: which waiting caller an agent who just became free should take.
//!
//! The reverse of [`select`](super::select): the agent is fixed and the callers of every
//! queue compete. The highest queue priority wins, then the longest wait, each caller
//! judged against its own queue's requirement expanded to its own waiting time.

use serde::{Deserialize, Serialize};

use super::{AgentIndex, AgentPool, CompiledQueue};

/// A caller waiting in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WaitingCaller {
    /// The server's id for the call.
    pub caller_id: u64,
    /// Index of the caller's queue in the `queues` slice given to [`next_caller`].
    pub queue: usize,
    /// When the caller entered the queue (unix ms).
    pub arrived_at_ms: i64,
}

/// The index in `waiting` of the caller `agent` should take at `now_ms`, or `None`.
///
/// Considers callers whose queue's requirement, expanded to that caller's waiting time,
/// the agent meets; picks the highest queue priority, then the earliest arrival, then
/// the lowest index. Returns `None` if the agent cannot take a call at `now_ms` in this
/// snapshot (not available, wrap-up not over, or at capacity): update the pool with the
/// agent's new presence before asking. Callers of an unknown queue index, or of a queue
/// compiled for another pool, are skipped. Does not allocate.
pub fn next_caller(
    agent: AgentIndex,
    pool: &AgentPool,
    waiting: &[WaitingCaller],
    queues: &[CompiledQueue],
    now_ms: i64,
) -> Option<usize> {
    next_caller_excluding(agent, pool, waiting, queues, now_ms, |_, _| false)
}

/// [`next_caller`], also skipping callers for which `skip(index, caller)` is true (for
/// instance those who already rang this agent without an answer). `skip` is called only
/// for callers that would otherwise be the best so far.
pub fn next_caller_excluding(
    agent: AgentIndex,
    pool: &AgentPool,
    waiting: &[WaitingCaller],
    queues: &[CompiledQueue],
    now_ms: i64,
    mut skip: impl FnMut(usize, &WaitingCaller) -> bool,
) -> Option<usize> {
    if agent >= pool.len() || !pool.is_ready(agent, now_ms) {
        return None;
    }
    // (index, priority, arrived_at_ms) of the best caller so far.
    let mut best: Option<(usize, i32, i64)> = None;
    for (index, caller) in waiting.iter().enumerate() {
        let Some(queue) = queues.get(caller.queue) else {
            continue;
        };
        let priority = queue.priority();
        if let Some((_, best_priority, best_arrival)) = best {
            let better = priority > best_priority
                || (priority == best_priority && caller.arrived_at_ms < best_arrival);
            if !better {
                continue;
            }
        }
        if !queue.is_compiled_for(pool) {
            continue;
        }
        let waited_ms = now_ms.saturating_sub(caller.arrived_at_ms).max(0);
        if pool.meets(agent, queue.requirement_at(waited_ms)) && !skip(index, caller) {
            best = Some((index, priority, caller.arrived_at_ms));
        }
    }
    best.map(|(index, _, _)| index)
}
