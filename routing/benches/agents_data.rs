//! Deterministic synthetic data for agent-selection benchmarks: a contact center of `n`
//! agents (40 skills, 2-6 per agent, ~30% available) and a weighted-score queue over it.
//!
//! Include it with `#[path = "agents_data.rs"] mod agents_data;`. It uses only the public
//! API of `dcx_routing::agents` and `dcx_routing::rng`.
#![allow(dead_code)] // each including target uses a different subset

use dcx_routing::agents::{
    select, Agent, AgentIndex, AgentPool, AgentState, CallerContext, CompiledQueue, Expansion,
    QueueSpec, ScoreWeights, Strategy,
};
use dcx_routing::rng::{Random, SplitMix64};

/// The "now" of the synthetic data (unix ms): idle times and wrap-ups are around it.
pub const NOW_MS: i64 = 1_700_000_000_000;

/// 10 languages, then 30 topics; the earlier in each group, the more agents have it.
pub const SKILLS: [&str; 40] = [
    "english",
    "spanish",
    "french",
    "german",
    "portuguese",
    "italian",
    "dutch",
    "polish",
    "arabic",
    "mandarin", //
    "billing",
    "technical",
    "sales",
    "retention",
    "accounts",
    "orders",
    "returns",
    "shipping",
    "payments",
    "fraud",
    "vip",
    "onboarding",
    "mobile",
    "internet",
    "tv",
    "hardware",
    "software",
    "warranty",
    "complaints",
    "collections",
    "insurance",
    "claims",
    "loans",
    "cards",
    "mortgage",
    "savings",
    "business",
    "partners",
    "escalations",
    "outbound",
];

const LANGUAGES: u64 = 10;
const TOPICS: u64 = 30;

/// `n` agents generated from `seed` (same seed, same pool), and a weighted-score queue
/// that needs English 2+ and billing 2+, lowered by one after 30 s, billing relaxed
/// after 60 s.
///
/// Mix: 70% speak English as their main language (20% Spanish, 10% another), plus 1-5
/// topics skewed toward the first ones (billing the most common); levels 1-5. Presence:
/// 30% available, 10% in wrap-up (half of them ended), 40% busy, 15% away, 5% offline;
/// 10% take 2-3 concurrent calls; idle up to an hour; 0-119 calls handled.
pub fn synthetic_pool(n: usize, seed: u64) -> (AgentPool, CompiledQueue) {
    let mut rng = SplitMix64::new(seed);
    let mut pool = AgentPool::default();
    pool.reserve(n);
    for i in 0..n {
        pool.push(synthetic_agent(i, &mut rng))
            .expect("synthetic agents are valid");
    }
    let queue = synthetic_queue(
        &pool,
        Strategy::WeightedScore {
            weights: ScoreWeights::default(),
        },
    );
    (pool, queue)
}

/// The queue of [`synthetic_pool`] with another strategy.
pub fn synthetic_queue(pool: &AgentPool, strategy: Strategy) -> CompiledQueue {
    let spec = QueueSpec::new("billing-en")
        .with_priority(5)
        .with_strategy(strategy)
        .with_skill("english", 2)
        .with_skill("billing", 2)
        .with_expansion(Expansion::after(30).min_delta(-1))
        .with_expansion(Expansion::after(60).relax("billing"));
    pool.compile_queue(&spec).expect("synthetic queue is valid")
}

/// One selection as a server would make it: the `i`-th caller has waited `i % 90`
/// seconds (so all three expansion stages occur) and has declined one agent.
pub fn select_one(
    pool: &AgentPool,
    queue: &CompiledQueue,
    i: usize,
    rng: &mut impl Random,
) -> Option<AgentIndex> {
    let declined = [i.wrapping_mul(7_919) % pool.len().max(1)];
    let waited_ms = (i % 90) as i64 * 1_000;
    let caller = CallerContext::new(NOW_MS - waited_ms)
        .with_cursor(Some(i % pool.len().max(1)))
        .excluding(&declined);
    select(queue, &caller, pool, NOW_MS, rng, false).map(|s| s.agent)
}

fn synthetic_agent(i: usize, rng: &mut SplitMix64) -> Agent {
    let mut agent = Agent::new(format!("agent-{i:05}"));
    let language = match rng.below(10) {
        0..=6 => 0,
        7 | 8 => 1,
        _ => 2 + rng.below(LANGUAGES - 2),
    };
    agent = agent.with_skill(SKILLS[language as usize], level(rng));
    let topics = 1 + rng.below(5);
    for _ in 0..topics {
        // The smaller of two uniform draws: topic k is picked with weight (30 - k).
        let topic = rng.below(TOPICS).min(rng.below(TOPICS));
        let name = SKILLS[(LANGUAGES + topic) as usize];
        if !agent.skills.iter().any(|s| s.skill == name) {
            agent = agent.with_skill(name, level(rng));
        }
    }

    let capacity = if rng.below(10) == 0 {
        2 + rng.below(2) as u16
    } else {
        1
    };
    let state = match rng.below(100) {
        0..=29 => AgentState::Available,
        30..=39 => AgentState::WrapUp {
            until_ms: NOW_MS - 30_000 + rng.below(60_000) as i64,
        },
        40..=79 => AgentState::Busy,
        80..=94 => AgentState::Away,
        _ => AgentState::Offline,
    };
    let active_calls = match state {
        AgentState::Busy => 1 + rng.below(u64::from(capacity)) as u16,
        _ => rng.below(u64::from(capacity)) as u16,
    };
    agent
        .with_capacity(capacity)
        .with_state(state)
        .with_active_calls(active_calls)
        .with_idle_since(NOW_MS - rng.below(3_600_000) as i64)
        .with_calls_handled(rng.below(120) as u32)
}

fn level(rng: &mut SplitMix64) -> u8 {
    1 + rng.below(5) as u8
}
