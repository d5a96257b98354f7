//! Each strategy picks whom it should; eligibility (state, wrap-up, capacity, skills,
//! exclusions) holds for all of them.

use super::{ago, compile, pick, pick_at, select_at, NOW};
use crate::agents::{
    select, Agent, AgentPool, AgentState, CallerContext, QueueSpec, ScoreWeights, Strategy,
};
use crate::rng::SplitMix64;

const ALL: [Strategy; 5] = [
    Strategy::LongestIdle,
    Strategy::FewestCalls,
    Strategy::RoundRobin,
    Strategy::Random,
    Strategy::WeightedScore {
        weights: ScoreWeights {
            skill: 1.0,
            idle: 1.0,
            load: 1.0,
            idle_horizon_s: 600,
        },
    },
];

/// Idle longest first: busy, away, offline, in wrap-up, and full agents are skipped.
fn presence_pool() -> AgentPool {
    AgentPool::new(vec![
        Agent::new("recent").with_idle_since(ago(10)),
        Agent::new("idle-60").with_idle_since(ago(60)),
        Agent::new("busy")
            .with_idle_since(ago(900))
            .with_state(AgentState::Busy),
        Agent::new("away")
            .with_idle_since(ago(800))
            .with_state(AgentState::Away),
        Agent::new("offline")
            .with_idle_since(ago(700))
            .with_state(AgentState::Offline),
        Agent::new("wrap-up")
            .with_idle_since(ago(600))
            .with_state(AgentState::WrapUp { until_ms: NOW + 1 }),
        Agent::new("full")
            .with_idle_since(ago(500))
            .with_active_calls(1),
        Agent::new("multi-full")
            .with_idle_since(ago(400))
            .with_capacity(2)
            .with_active_calls(2),
    ])
    .unwrap()
}

#[test]
fn longest_idle_skips_unavailable_and_full_agents() {
    let pool = presence_pool();
    let q = compile(&pool, &QueueSpec::new("q"));
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
        Some("idle-60")
    );
}

#[test]
fn wrap_up_ends_at_until_ms() {
    let pool = presence_pool();
    let q = compile(&pool, &QueueSpec::new("q"));
    let caller = CallerContext::new(NOW);
    assert_eq!(pick_at(&q, &pool, &caller, NOW).as_deref(), Some("idle-60"));
    assert_eq!(
        pick_at(&q, &pool, &caller, NOW + 1).as_deref(),
        Some("wrap-up")
    );
}

#[test]
fn spare_capacity_keeps_an_agent_eligible() {
    let mut pool = presence_pool();
    let multi = pool.index_of("multi-full").unwrap();
    let q = compile(&pool, &QueueSpec::new("q"));
    pool.set_active_calls(multi, 1);
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
        Some("multi-full")
    );
    pool.set_active_calls(multi, 2);
    pool.set_state(pool.index_of("busy").unwrap(), AgentState::Available);
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
        Some("busy"),
        "in-place presence update is seen"
    );
}

#[test]
fn exclusions_skip_agents_that_declined() {
    let pool = presence_pool();
    let q = compile(&pool, &QueueSpec::new("q"));
    let declined = [pool.index_of("idle-60").unwrap()];
    let caller = CallerContext::new(NOW).excluding(&declined);
    assert_eq!(pick(&q, &pool, &caller).as_deref(), Some("recent"));
    let everyone = [0, 1];
    for strategy in ALL {
        let q = compile(&pool, &QueueSpec::new("q").with_strategy(strategy));
        let caller = CallerContext::new(NOW).excluding(&everyone);
        assert_eq!(pick(&q, &pool, &caller), None, "{strategy}");
    }
}

#[test]
fn nobody_eligible_means_none_for_every_strategy() {
    let pool = AgentPool::new(vec![
        Agent::new("a").with_skill("english", 5),
        Agent::new("b").with_skill("spanish", 2),
        Agent::new("c")
            .with_skill("spanish", 5)
            .with_state(AgentState::Busy),
    ])
    .unwrap();
    for strategy in ALL {
        let spanish = QueueSpec::new("es")
            .with_strategy(strategy)
            .with_skill("spanish", 3);
        let german = QueueSpec::new("de")
            .with_strategy(strategy)
            .with_skill("german", 1);
        for spec in [spanish, german] {
            let q = compile(&pool, &spec);
            assert_eq!(
                pick(&q, &pool, &CallerContext::new(NOW)),
                None,
                "{strategy}"
            );
        }
        let empty = AgentPool::default();
        let q = compile(&empty, &QueueSpec::new("q").with_strategy(strategy));
        assert_eq!(
            pick(&q, &empty, &CallerContext::new(NOW)),
            None,
            "{strategy}"
        );
    }
}

#[test]
fn ties_go_to_the_lowest_index() {
    let pool = AgentPool::new(vec![
        Agent::new("first").with_idle_since(ago(5)),
        Agent::new("second").with_idle_since(ago(5)),
    ])
    .unwrap();
    for strategy in [Strategy::LongestIdle, Strategy::FewestCalls, ALL[4]] {
        let q = compile(&pool, &QueueSpec::new("q").with_strategy(strategy));
        assert_eq!(
            pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
            Some("first")
        );
    }
}

#[test]
fn fewest_calls_then_longest_idle() {
    let pool = AgentPool::new(vec![
        Agent::new("five")
            .with_calls_handled(5)
            .with_idle_since(ago(900)),
        Agent::new("two-recent")
            .with_calls_handled(2)
            .with_idle_since(ago(10)),
        Agent::new("two-idle")
            .with_calls_handled(2)
            .with_idle_since(ago(20)),
        Agent::new("zero-busy")
            .with_calls_handled(0)
            .with_state(AgentState::Busy),
    ])
    .unwrap();
    let q = compile(
        &pool,
        &QueueSpec::new("q").with_strategy(Strategy::FewestCalls),
    );
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
        Some("two-idle")
    );
}

/// Six agents; 1 is busy and 4 lacks the skill, so 0, 2, 3, 5 are eligible.
fn round_robin_pool() -> AgentPool {
    let agent = |id: &str| Agent::new(id).with_skill("support", 2);
    AgentPool::new(vec![
        agent("a0"),
        agent("a1").with_state(AgentState::Busy),
        agent("a2"),
        agent("a3"),
        Agent::new("a4"),
        agent("a5"),
    ])
    .unwrap()
}

#[test]
fn round_robin_cycles_through_eligible_agents_and_wraps() {
    let pool = round_robin_pool();
    let q = compile(
        &pool,
        &QueueSpec::new("q")
            .with_strategy(Strategy::RoundRobin)
            .with_skill("support", 1),
    );
    let mut cursor = None;
    let mut order = Vec::new();
    for _ in 0..9 {
        let caller = CallerContext::new(NOW).with_cursor(cursor);
        let s = select_at(&q, &pool, &caller, NOW, false).unwrap();
        assert_eq!(s.round_robin_cursor, Some(s.agent));
        cursor = s.round_robin_cursor;
        order.push(s.agent);
    }
    assert_eq!(order, [0, 2, 3, 5, 0, 2, 3, 5, 0]);
}

#[test]
fn round_robin_cursor_edge_cases() {
    let pool = round_robin_pool();
    let q = compile(
        &pool,
        &QueueSpec::new("q")
            .with_strategy(Strategy::RoundRobin)
            .with_skill("support", 1),
    );
    let next = |cursor: Option<usize>, exclude: &[usize]| {
        let caller = CallerContext::new(NOW)
            .with_cursor(cursor)
            .excluding(exclude);
        select_at(&q, &pool, &caller, NOW, false).map(|s| s.agent)
    };
    assert_eq!(next(Some(1), &[]), Some(2), "cursor on an ineligible agent");
    assert_eq!(next(Some(99), &[]), Some(0), "cursor past the end wraps");
    assert_eq!(next(Some(usize::MAX), &[]), Some(0));
    assert_eq!(
        next(Some(3), &[5]),
        Some(0),
        "excluded agents are passed over"
    );
    assert_eq!(
        next(Some(3), &[0, 2, 5]),
        Some(3),
        "the cursor's own agent comes last"
    );
}

#[test]
fn random_is_uniform_over_eligible_agents() {
    let pool = round_robin_pool();
    let q = compile(
        &pool,
        &QueueSpec::new("q")
            .with_strategy(Strategy::Random)
            .with_skill("support", 1),
    );
    let mut rng = SplitMix64::new(2024);
    let draws = 40_000;
    let mut counts = [0u32; 6];
    for _ in 0..draws {
        let s = select(&q, &CallerContext::new(NOW), &pool, NOW, &mut rng, false).unwrap();
        counts[s.agent] += 1;
    }
    assert_eq!(
        (counts[1], counts[4]),
        (0, 0),
        "never an ineligible agent: {counts:?}"
    );
    let expected = f64::from(draws) / 4.0;
    let chi2: f64 = [0, 2, 3, 5]
        .iter()
        .map(|&i| (f64::from(counts[i]) - expected).powi(2) / expected)
        .sum();
    // 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
    assert!(chi2 < 16.27, "chi2 = {chi2}, counts = {counts:?}");
}

#[test]
fn random_is_reproducible_with_the_same_seed() {
    let pool = round_robin_pool();
    let q = compile(&pool, &QueueSpec::new("q").with_strategy(Strategy::Random));
    let run = |seed| {
        let mut rng = SplitMix64::new(seed);
        (0..20)
            .map(|_| {
                select(&q, &CallerContext::new(NOW), &pool, NOW, &mut rng, false)
                    .unwrap()
                    .agent
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
}

/// Spanish 3+ required. a: skill 1.0, idle 0.5, load 1.0 = 2.5;
/// b: 0.0 + 1.0 + 1.0 = 2.0; c: 0.5 + 1.0 + 0.5 = 2.0 (idle less long than b).
fn weighted_pool() -> AgentPool {
    AgentPool::new(vec![
        Agent::new("a")
            .with_skill("spanish", 5)
            .with_idle_since(ago(50)),
        Agent::new("b")
            .with_skill("spanish", 3)
            .with_idle_since(ago(200)),
        Agent::new("c")
            .with_skill("spanish", 4)
            .with_idle_since(ago(100))
            .with_capacity(2)
            .with_active_calls(1),
        Agent::new("d")
            .with_skill("spanish", 2)
            .with_idle_since(ago(999)),
    ])
    .unwrap()
}

fn weighted(skill: f64) -> Strategy {
    Strategy::WeightedScore {
        weights: ScoreWeights {
            skill,
            idle: 1.0,
            load: 1.0,
            idle_horizon_s: 100,
        },
    }
}

#[test]
fn weighted_score_prefers_the_best_match_and_explains_it() {
    let pool = weighted_pool();
    let q = compile(
        &pool,
        &QueueSpec::new("es")
            .with_strategy(weighted(1.0))
            .with_skill("spanish", 3),
    );
    let s = select_at(&q, &pool, &CallerContext::new(NOW), NOW, true).unwrap();
    assert_eq!(pool.id(s.agent), "a");
    let score = s.score.unwrap();
    assert!((score - 2.5).abs() < 1e-12, "{score}");

    let ex = s.explain.unwrap();
    assert_eq!(
        (ex.eligible, ex.excluded, ex.agent_id.as_str()),
        (3, 0, "a")
    );
    assert_eq!(ex.requirement.len(), 1);
    assert_eq!(
        (ex.requirement[0].skill.as_str(), ex.requirement[0].min),
        ("spanish", 3)
    );
    let chosen = ex.chosen.as_ref().unwrap();
    assert_eq!(
        chosen.total.to_bits(),
        score.to_bits(),
        "explain agrees with the score"
    );
    let sum = chosen.skill.points + chosen.idle.points + chosen.load.points;
    assert!((sum - chosen.total).abs() < 1e-12);
    assert!((chosen.skill.value - 1.0).abs() < 1e-12);
    assert!((chosen.idle.value - 0.5).abs() < 1e-12);
    assert!((chosen.load.value - 1.0).abs() < 1e-12);
    let second = ex.runner_up.as_ref().unwrap();
    assert_eq!(second.agent_id, "b", "tie with c goes to the longer idle");
    assert!((second.total - 2.0).abs() < 1e-12);
    let line = ex.to_string();
    assert!(
        line.contains("spanish>=3") && line.contains("runner-up `b`"),
        "{line}"
    );
}

#[test]
fn weighted_score_follows_its_weights() {
    let pool = weighted_pool();
    let spec = |w| {
        QueueSpec::new("es")
            .with_strategy(w)
            .with_skill("spanish", 3)
    };
    let q = compile(&pool, &spec(weighted(0.0)));
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
        Some("b")
    );
    let q = compile(&pool, &spec(weighted(1.0)));
    let exclude = [0];
    let caller = CallerContext::new(NOW).excluding(&exclude);
    let s = select_at(&q, &pool, &caller, NOW, true).unwrap();
    assert_eq!(pool.id(s.agent), "b");
    let ex = s.explain.unwrap();
    assert_eq!((ex.eligible, ex.excluded), (2, 1));
    assert_eq!(ex.runner_up.unwrap().agent_id, "c");
}

#[test]
fn explain_is_only_built_when_asked() {
    let pool = weighted_pool();
    for strategy in ALL {
        let q = compile(&pool, &QueueSpec::new("q").with_strategy(strategy));
        let quiet = select_at(&q, &pool, &CallerContext::new(NOW), NOW, false).unwrap();
        assert!(quiet.explain.is_none());
        let told = select_at(&q, &pool, &CallerContext::new(NOW), NOW, true).unwrap();
        let ex = told.explain.unwrap();
        assert_eq!((ex.agent, ex.eligible), (told.agent, 4));
        assert_eq!(
            ex.chosen.is_some(),
            matches!(strategy, Strategy::WeightedScore { .. })
        );
    }
}

#[test]
fn weighted_score_ties_go_to_the_longest_idle_not_the_lowest_index() {
    // Both idle past the 100 s horizon and equally skilled: equal scores.
    let pool = AgentPool::new(vec![
        Agent::new("idle-200")
            .with_skill("spanish", 4)
            .with_idle_since(ago(200)),
        Agent::new("idle-300")
            .with_skill("spanish", 4)
            .with_idle_since(ago(300)),
    ])
    .unwrap();
    let q = compile(
        &pool,
        &QueueSpec::new("es")
            .with_strategy(weighted(1.0))
            .with_skill("spanish", 3),
    );
    let s = select_at(&q, &pool, &CallerContext::new(NOW), NOW, true).unwrap();
    assert_eq!(pool.id(s.agent), "idle-300");
    let ex = s.explain.unwrap();
    let (chosen, second) = (ex.chosen.unwrap(), ex.runner_up.unwrap());
    assert_eq!(chosen.total.to_bits(), second.total.to_bits(), "a real tie");
    assert_eq!(second.agent_id, "idle-200");
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(NOW)).as_deref(),
        Some("idle-300")
    );
}

#[test]
fn weighted_score_top_ties_are_decided_to_the_millisecond_across_the_pool() {
    // Every agent reaches the highest possible score (perfect fit, idle past the
    // horizon, free): only the idle time decides, by one millisecond, over several
    // 64-agent words. `order(k)` is agent k's rank by idle time (0 = longest).
    let top_pool = |order: &dyn Fn(i64) -> i64| {
        let agents = (0..200)
            .map(|k| {
                Agent::new(format!("a{k}"))
                    .with_skill("spanish", 5)
                    .with_idle_since(ago(3_600) + order(k))
            })
            .collect();
        AgentPool::new(agents).unwrap()
    };
    let spec = QueueSpec::new("es")
        .with_strategy(weighted(1.0))
        .with_skill("spanish", 3);
    let cases: [(&dyn Fn(i64) -> i64, &str); 4] = [
        (&|k| 199 - k, "a199"),           // each later agent 1 ms longer idle
        (&|k| k, "a0"),                   // the first is the longest idle
        (&|k| (k - 130).abs(), "a130"),   // longest in the middle of the third word
        (&|k| i64::from(k != 77), "a77"), // one 1 ms longer, the rest tied
    ];
    for (order, want) in cases {
        let pool = top_pool(order);
        let q = compile(&pool, &spec);
        let caller = CallerContext::new(NOW);
        let told = select_at(&q, &pool, &caller, NOW, true).unwrap();
        let quiet = select_at(&q, &pool, &caller, NOW, false).unwrap();
        assert_eq!(pool.id(told.agent), want);
        assert_eq!(quiet.agent, told.agent, "{want}");
        assert_eq!(quiet.score.map(f64::to_bits), told.score.map(f64::to_bits));
    }
    let tied = top_pool(&|_| 0);
    let q = compile(&tied, &spec);
    assert_eq!(
        pick(&q, &tied, &CallerContext::new(NOW)).as_deref(),
        Some("a0"),
        "a full tie goes to the lowest index"
    );
}
