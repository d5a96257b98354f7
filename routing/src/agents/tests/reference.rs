//! `select` against a naive reference (filter the `Agent` values, then `min_by_key` or
//! the equivalent) on random pools, queues with expansion, waits and exclusions.

use proptest::prelude::*;

use super::NOW;
use crate::agents::{
    select, Agent, AgentPool, AgentState, CallerContext, Expansion, QueueSpec, ScoreWeights,
    Strategy as Pick,
};
use crate::rng::SplitMix64;

/// The last name is never given to an agent: a skill unknown to the pool.
const SKILLS: [&str; 6] = ["en", "es", "fr", "billing", "tech", "nobody-has-it"];

fn arb_state() -> impl Strategy<Value = AgentState> {
    prop_oneof![
        3 => Just(AgentState::Available),
        1 => Just(AgentState::Busy),
        1 => Just(AgentState::Away),
        1 => Just(AgentState::Offline),
        2 => (-3_000i64..3_000).prop_map(|d| AgentState::WrapUp { until_ms: NOW + d }),
    ]
}

fn arb_agent() -> impl Strategy<Value = Agent> {
    (
        proptest::collection::vec((0..5usize, 1..=5u8), 0..4),
        arb_state(),
        1..=3u16,
        0..=3u16,
        0..20i64,
        0..4u32,
    )
        .prop_map(|(skills, state, capacity, active, idle_s, calls)| {
            let mut agent = Agent::new("")
                .with_state(state)
                .with_capacity(capacity)
                .with_active_calls(active)
                .with_idle_since(NOW - idle_s * 1_000)
                .with_calls_handled(calls);
            for (s, level) in skills {
                if !agent.skills.iter().any(|k| k.skill == SKILLS[s]) {
                    agent = agent.with_skill(SKILLS[s], level);
                }
            }
            agent
        })
}

fn arb_pool() -> impl Strategy<Value = Vec<Agent>> {
    proptest::collection::vec(arb_agent(), 0..40).prop_map(|mut agents| {
        for (i, a) in agents.iter_mut().enumerate() {
            a.id = format!("agent-{i}");
        }
        agents
    })
}

fn arb_queue() -> impl Strategy<Value = QueueSpec> {
    let steps = proptest::collection::vec((0..120u32, -3i8..=0, 0..4usize, any::<bool>()), 0..3);
    (proptest::collection::vec((0..6usize, 1..=5u8), 0..3), steps).prop_map(|(skills, steps)| {
        let mut spec = QueueSpec::new("q");
        for (s, min) in skills {
            if !spec.skills.iter().any(|r| r.skill == SKILLS[s]) {
                spec = spec.with_skill(SKILLS[s], min);
            }
        }
        let mut steps = steps;
        steps.sort_by_key(|step| step.0);
        for (after_s, delta, target, relax) in steps {
            let mut step = Expansion::after(after_s).min_delta(delta);
            if let Some(r) = spec.skills.get(target) {
                step = if relax {
                    step.relax(r.skill.clone())
                } else {
                    step.skill(r.skill.clone())
                };
            }
            spec = spec.with_expansion(step);
        }
        spec
    })
}

/// The requirement after expansion, by name, computed directly from the spec.
fn naive_requirement(spec: &QueueSpec, waited_ms: i64) -> Vec<(String, u8)> {
    let mut req: Vec<(String, i16, bool)> = spec
        .skills
        .iter()
        .map(|r| (r.skill.clone(), i16::from(r.min), false))
        .collect();
    for step in spec
        .expand
        .iter()
        .filter(|s| i64::from(s.after_s) * 1_000 <= waited_ms)
    {
        for (skill, min, relaxed) in &mut req {
            if step.skill.as_ref().is_none() || step.skill.as_ref() == Some(skill) {
                *min = (*min + i16::from(step.min_delta)).max(1);
            }
            *relaxed |= step.relax.contains(skill);
        }
    }
    req.into_iter()
        .filter(|r| !r.2)
        .map(|(skill, min, _)| (skill, min as u8))
        .collect()
}

fn naive_eligible(agents: &[Agent], req: &[(String, u8)], exclude: &[usize]) -> Vec<usize> {
    (0..agents.len())
        .filter(|&i| {
            let a = &agents[i];
            let available = match a.state {
                AgentState::Available => true,
                AgentState::WrapUp { until_ms } => until_ms <= NOW,
                _ => false,
            };
            let skilled = req.iter().all(|(skill, min)| {
                a.skills
                    .iter()
                    .any(|k| &k.skill == skill && k.level >= *min)
            });
            available && a.active_calls < a.capacity && skilled && !exclude.contains(&i)
        })
        .collect()
}

fn naive_score(a: &Agent, req: &[(String, u8)], w: &ScoreWeights) -> f64 {
    let fit = if req.is_empty() {
        0.0
    } else {
        let sum: f64 = req
            .iter()
            .map(|(skill, min)| {
                let level = a.skills.iter().find(|k| &k.skill == skill).unwrap().level;
                if *min == 5 {
                    0.0
                } else {
                    f64::from(level - min) / f64::from(5 - min)
                }
            })
            .sum();
        sum / req.len() as f64
    };
    let horizon = f64::from(w.idle_horizon_s) * 1_000.0;
    let idle = ((NOW - a.idle_since_ms) as f64).clamp(0.0, horizon) / horizon;
    let load = 1.0 - f64::from(a.active_calls) / f64::from(a.capacity);
    w.skill * fit + w.idle * idle + w.load * load
}

/// In-place presence changes, applied both to the `Agent` values and through the pool's
/// `set_*` methods.
#[derive(Debug, Clone)]
enum Update {
    State(AgentState),
    ActiveCalls(u16),
    IdleSince(i64),
    CallsHandled(u32),
}

fn arb_update() -> impl Strategy<Value = Update> {
    prop_oneof![
        arb_state().prop_map(Update::State),
        (0..=3u16).prop_map(Update::ActiveCalls),
        (0..20i64, 0..3i64).prop_map(|(s, ms)| Update::IdleSince(NOW - s * 1_000 - ms)),
        (0..4u32).prop_map(Update::CallsHandled),
    ]
}

fn apply(agents: &mut [Agent], pool: &mut AgentPool, i: usize, update: &Update) {
    let a = &mut agents[i];
    match *update {
        Update::State(state) => {
            a.state = state;
            pool.set_state(i, state);
        }
        Update::ActiveCalls(n) => {
            a.active_calls = n;
            pool.set_active_calls(i, n);
        }
        Update::IdleSince(t) => {
            a.idle_since_ms = t;
            pool.set_idle_since(i, t);
        }
        Update::CallsHandled(n) => {
            a.calls_handled = n;
            pool.set_calls_handled(i, n);
        }
    }
}

/// Weights that make ties likely (a zero weight, a short horizon) as well as not.
fn arb_weights() -> impl Strategy<Value = ScoreWeights> {
    let weight = prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(1.5), Just(3.0)];
    (weight.clone(), weight.clone(), weight, 1..30u32).prop_map(|(skill, idle, load, h)| {
        ScoreWeights {
            skill,
            idle,
            load,
            idle_horizon_s: h,
        }
    })
}

/// One caller of one queue, selected for with every strategy.
struct Case<'a> {
    spec: &'a QueueSpec,
    waited_ms: i64,
    exclude: &'a [usize],
    cursor: Option<usize>,
    seed: u64,
    weights: ScoreWeights,
}

/// `select` with every strategy against the naive reference.
fn check_select(agents: &[Agent], pool: &AgentPool, case: &Case<'_>) -> Result<(), TestCaseError> {
    let Case {
        spec,
        waited_ms,
        exclude,
        cursor,
        seed,
        weights,
    } = *case;
    let req = naive_requirement(spec, waited_ms);
    let eligible = naive_eligible(agents, &req, exclude);
    let caller = CallerContext::new(NOW - waited_ms)
        .with_cursor(cursor)
        .excluding(exclude);
    let strategies = [
        Pick::LongestIdle,
        Pick::FewestCalls,
        Pick::RoundRobin,
        Pick::Random,
        Pick::WeightedScore { weights },
    ];
    for strategy in strategies {
        let queue = pool
            .compile_queue(&spec.clone().with_strategy(strategy))
            .unwrap();
        let got = select(&queue, &caller, pool, NOW, &mut SplitMix64::new(seed), true);
        let quiet = select(
            &queue,
            &caller,
            pool,
            NOW,
            &mut SplitMix64::new(seed),
            false,
        );
        prop_assert_eq!(got.is_some(), !eligible.is_empty(), "{}", strategy);
        let Some(got) = got else { continue };
        // Explaining must not change the choice (the quiet weighted path prunes).
        let quiet = quiet.unwrap();
        prop_assert_eq!(quiet.agent, got.agent, "{}", strategy);
        prop_assert_eq!(quiet.score.map(f64::to_bits), got.score.map(f64::to_bits));
        prop_assert_eq!(quiet.round_robin_cursor, got.round_robin_cursor);
        let explain = got.explain.as_ref().unwrap();
        prop_assert_eq!(explain.eligible, eligible.len());
        let expected = match strategy {
            Pick::LongestIdle => eligible
                .iter()
                .copied()
                .min_by_key(|&i| agents[i].idle_since_ms),
            Pick::FewestCalls => eligible
                .iter()
                .copied()
                .min_by_key(|&i| (agents[i].calls_handled, agents[i].idle_since_ms)),
            Pick::RoundRobin => eligible
                .iter()
                .copied()
                .find(|&i| cursor.is_some_and(|c| i > c))
                .or(eligible.first().copied()),
            Pick::Random => {
                prop_assert!(eligible.contains(&got.agent));
                continue;
            }
            Pick::WeightedScore { weights } => {
                let best = eligible
                    .iter()
                    .map(|&i| naive_score(&agents[i], &req, &weights))
                    .fold(f64::NEG_INFINITY, f64::max);
                let mine = naive_score(&agents[got.agent], &req, &weights);
                prop_assert!(eligible.contains(&got.agent));
                prop_assert!((best - mine).abs() < 1e-9, "best {} got {}", best, mine);
                prop_assert!((got.score.unwrap() - mine).abs() < 1e-9);
                continue;
            }
        };
        prop_assert_eq!(Some(got.agent), expected, "{}", strategy);
    }
    Ok(())
}

proptest! {
    #[test]
    fn select_matches_a_naive_reference(
        agents in arb_pool(),
        spec in arb_queue(),
        waited_ms in 0..150_000i64,
        exclude in proptest::collection::vec(0..40usize, 0..4),
        cursor in proptest::option::of(0..45usize),
        seed in any::<u64>(),
    ) {
        let pool = AgentPool::new(agents.clone()).unwrap();
        let weights = ScoreWeights { skill: 1.5, idle: 1.0, load: 0.5, idle_horizon_s: 10 };
        let case = Case { spec: &spec, waited_ms, exclude: &exclude, cursor, seed, weights };
        check_select(&agents, &pool, &case)?;
    }

    /// Pools spanning several 64-agent bitset words, updated in place after they are
    /// built, with weights that make ties likely.
    #[test]
    fn select_matches_the_reference_on_updated_pools(
        agents in proptest::collection::vec(arb_agent(), 0..300),
        updates in proptest::collection::vec((0..300usize, arb_update()), 0..60),
        spec in arb_queue(),
        waited_ms in 0..150_000i64,
        exclude in proptest::collection::vec(0..300usize, 0..6),
        cursor in proptest::option::of(0..310usize),
        seed in any::<u64>(),
        weights in arb_weights(),
    ) {
        let mut agents = agents;
        for (i, a) in agents.iter_mut().enumerate() {
            a.id = format!("agent-{i}");
        }
        let mut pool = AgentPool::new(agents.clone()).unwrap();
        for (i, update) in &updates {
            if *i < agents.len() {
                apply(&mut agents, &mut pool, *i, update);
            }
        }
        let case = Case { spec: &spec, waited_ms, exclude: &exclude, cursor, seed, weights };
        check_select(&agents, &pool, &case)?;
    }
}
