//! Expansion over waiting time, and `next_caller` across queues.

use super::{ago, compile, pick, select_at, NOW};
use crate::agents::{
    next_caller, next_caller_excluding, Agent, AgentPool, AgentState, CallerContext, CompiledQueue,
    Expansion, QueueSpec, Strategy, WaitingCaller,
};

#[test]
fn expansion_lowers_the_minimum_after_the_configured_wait() {
    let pool = AgentPool::new(vec![
        Agent::new("expert")
            .with_skill("spanish", 4)
            .with_idle_since(ago(10)),
        Agent::new("learner")
            .with_skill("spanish", 3)
            .with_idle_since(ago(300)),
    ])
    .unwrap();
    let q = compile(
        &pool,
        &QueueSpec::new("es")
            .with_skill("spanish", 4)
            .with_expansion(Expansion::after(30).min_delta(-1)),
    );
    let arrived_ms = |waited_ms: i64| NOW - waited_ms;
    let at = |waited_ms| pick(&q, &pool, &CallerContext::new(arrived_ms(waited_ms)));
    assert_eq!(at(29_999).as_deref(), Some("expert"));
    assert_eq!(
        at(30_000).as_deref(),
        Some("learner"),
        "longest idle once both qualify"
    );
    let explained = select_at(&q, &pool, &CallerContext::new(ago(31)), NOW, true).unwrap();
    let ex = explained.explain.unwrap();
    assert_eq!(
        (ex.steps_applied, ex.eligible, ex.waited_ms),
        (1, 2, 31_000)
    );
    assert_eq!(ex.requirement[0].min, 3);
}

#[test]
fn expansion_can_target_one_skill_and_relax_another() {
    let pool = AgentPool::new(vec![
        Agent::new("es-only")
            .with_skill("spanish", 2)
            .with_idle_since(ago(100)),
        Agent::new("billing-only").with_skill("billing", 5),
    ])
    .unwrap();
    let q = compile(
        &pool,
        &QueueSpec::new("support-es")
            .with_strategy(Strategy::FewestCalls)
            .with_skill("spanish", 3)
            .with_skill("billing", 2)
            .with_expansion(Expansion::after(30).skill("spanish").min_delta(-1))
            .with_expansion(Expansion::after(60).relax("billing")),
    );
    let at = |waited_s: i64| pick(&q, &pool, &CallerContext::new(ago(waited_s)));
    assert_eq!(at(0), None);
    assert_eq!(
        at(45),
        None,
        "spanish 2 is enough now, but billing is still required"
    );
    assert_eq!(at(60).as_deref(), Some("es-only"));
    let s = select_at(&q, &pool, &CallerContext::new(ago(61)), NOW, true).unwrap();
    let ex = s.explain.unwrap();
    assert_eq!(ex.relaxed, ["billing"]);
    assert_eq!(ex.requirement.len(), 1);
    assert_eq!(
        (ex.requirement[0].skill.as_str(), ex.requirement[0].min),
        ("spanish", 2)
    );
}

#[test]
fn relaxing_an_unknown_skill_makes_the_queue_servable() {
    let pool = AgentPool::new(vec![Agent::new("a").with_skill("english", 3)]).unwrap();
    let q = compile(
        &pool,
        &QueueSpec::new("de")
            .with_skill("german", 1)
            .with_skill("english", 1)
            .with_expansion(Expansion::after(120).relax("german")),
    );
    assert_eq!(pick(&q, &pool, &CallerContext::new(ago(119))), None);
    assert_eq!(
        pick(&q, &pool, &CallerContext::new(ago(120))).as_deref(),
        Some("a")
    );
}

/// Queues: 0 sales (priority 1, english), 1 vip (priority 10, english 4+, drops to 2
/// after 30 s), 2 spanish (priority 5, spanish).
fn queues(pool: &AgentPool) -> Vec<CompiledQueue> {
    vec![
        compile(
            pool,
            &QueueSpec::new("sales")
                .with_priority(1)
                .with_skill("english", 1),
        ),
        compile(
            pool,
            &QueueSpec::new("vip")
                .with_priority(10)
                .with_skill("english", 4)
                .with_expansion(Expansion::after(30).min_delta(-2)),
        ),
        compile(
            pool,
            &QueueSpec::new("es")
                .with_priority(5)
                .with_skill("spanish", 1),
        ),
    ]
}

fn caller(caller_id: u64, queue: usize, waited_s: i64) -> WaitingCaller {
    WaitingCaller {
        caller_id,
        queue,
        arrived_at_ms: ago(waited_s),
    }
}

fn english_pool() -> AgentPool {
    AgentPool::new(vec![
        Agent::new("english-3").with_skill("english", 3),
        Agent::new("english-5").with_skill("english", 5),
        Agent::new("spanish")
            .with_skill("spanish", 3)
            .with_skill("english", 1),
    ])
    .unwrap()
}

#[test]
fn next_caller_serves_priority_then_longest_wait_among_servable_queues() {
    let pool = english_pool();
    let queues = queues(&pool);
    let waiting = [
        caller(100, 0, 100),
        caller(101, 1, 10),  // vip: needs english 4 for 20 s more
        caller(102, 2, 500), // spanish
        caller(103, 0, 200),
        caller(104, 0, 200), // same wait as 103: the earlier entry wins
    ];
    let next = |agent| next_caller(agent, &pool, &waiting, &queues, NOW);
    assert_eq!(
        next(0),
        Some(3),
        "sales, longest wait; vip and spanish not servable"
    );
    assert_eq!(next(1), Some(1), "vip first despite the shortest wait");
    assert_eq!(next(2), Some(2), "spanish outranks sales");

    let expanded = [caller(100, 0, 100), caller(101, 1, 40)];
    assert_eq!(
        next_caller(0, &pool, &expanded, &queues, NOW),
        Some(1),
        "vip's requirement expanded at that caller's wait"
    );
}

#[test]
fn next_caller_needs_a_ready_agent_and_a_known_queue() {
    let mut pool = english_pool();
    let queues = queues(&pool);
    let waiting = [caller(1, 7, 900), caller(2, 0, 10)];
    assert_eq!(next_caller(0, &pool, &waiting, &queues, NOW), Some(1));
    assert_eq!(
        next_caller(99, &pool, &waiting, &queues, NOW),
        None,
        "unknown agent"
    );
    assert_eq!(next_caller(0, &pool, &[], &queues, NOW), None);

    pool.set_state(
        0,
        AgentState::WrapUp {
            until_ms: NOW + 5_000,
        },
    );
    assert_eq!(
        next_caller(0, &pool, &waiting, &queues, NOW),
        None,
        "still wrapping up"
    );
    assert_eq!(
        next_caller(0, &pool, &waiting, &queues, NOW + 5_000),
        Some(1)
    );
    pool.set_state(0, AgentState::Available);
    pool.set_active_calls(0, 1);
    assert_eq!(
        next_caller(0, &pool, &waiting, &queues, NOW),
        None,
        "at capacity"
    );
}

#[test]
fn next_caller_excluding_skips_callers_the_agent_declined() {
    let pool = english_pool();
    let queues = queues(&pool);
    let waiting = [caller(1, 0, 300), caller(2, 0, 200), caller(3, 0, 100)];
    let declined_by_0 = |_: usize, c: &WaitingCaller| c.caller_id == 1;
    let next = next_caller_excluding(0, &pool, &waiting, &queues, NOW, declined_by_0);
    assert_eq!(next, Some(1));
    let none = next_caller_excluding(0, &pool, &waiting, &queues, NOW, |_, _| true);
    assert_eq!(none, None);
}
