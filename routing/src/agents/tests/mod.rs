//! Scenario tests of agent selection as a whole: strategies, expansion, next caller,
//! config shape, and a property test against a naive reference.

mod config;
mod expansion;
mod reference;
mod strategies;

use crate::agents::{select, AgentPool, CallerContext, CompiledQueue, QueueSpec, Selection};
use crate::rng::SplitMix64;

/// A fixed "now" (unix ms) for scenarios.
const NOW: i64 = 1_700_000_000_000;

/// `NOW` minus `s` seconds.
fn ago(s: i64) -> i64 {
    NOW - s * 1_000
}

fn compile(pool: &AgentPool, spec: &QueueSpec) -> CompiledQueue {
    pool.compile_queue(spec).expect("valid spec")
}

/// Selects with a fixed seed; the selected agent's id.
fn pick(queue: &CompiledQueue, pool: &AgentPool, caller: &CallerContext<'_>) -> Option<String> {
    pick_at(queue, pool, caller, NOW)
}

fn pick_at(
    queue: &CompiledQueue,
    pool: &AgentPool,
    caller: &CallerContext<'_>,
    now_ms: i64,
) -> Option<String> {
    select_at(queue, pool, caller, now_ms, false).map(|s| pool.id(s.agent).to_owned())
}

fn select_at(
    queue: &CompiledQueue,
    pool: &AgentPool,
    caller: &CallerContext<'_>,
    now_ms: i64,
    explain: bool,
) -> Option<Selection> {
    select(
        queue,
        caller,
        pool,
        now_ms,
        &mut SplitMix64::new(42),
        explain,
    )
}
