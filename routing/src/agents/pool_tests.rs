//! Tests of the columnar agent pool.

use super::*;

fn pool() -> AgentPool {
    AgentPool::new(vec![
        Agent::new("a")
            .with_skill("spanish", 3)
            .with_skill("billing", 5),
        Agent::new("b").with_skill("billing", 1).with_capacity(2),
    ])
    .unwrap()
}

#[test]
fn columns_round_trip_agent_values() {
    let p = pool();
    assert_eq!(p.len(), 2);
    assert_eq!(p.index_of("b"), Some(1));
    assert_eq!(p.id(1), "b");
    assert_eq!(p.capacity(1), 2);
    assert_eq!(p.skill_level(0, "billing"), Some(5));
    assert_eq!(p.skill_level(1, "spanish"), None);
    let mut skills: Vec<_> = p.skills_of(0).collect();
    skills.sort_unstable();
    assert_eq!(skills, [("billing", 5), ("spanish", 3)]);
    assert_eq!(p.skills().len(), 2);
}

#[test]
fn invalid_agents_are_rejected_without_changing_the_pool() {
    let mut p = pool();
    let fp = p.skills().fingerprint();
    let bad = [
        (Agent::new("c").with_capacity(0), "capacity"),
        (Agent::new("a"), "duplicate id"),
        (Agent::new("c").with_skill("german", 6), "level 6"),
        (Agent::new("c").with_skill("german", 0), "level 0"),
        (
            Agent::new("c")
                .with_skill("german", 2)
                .with_skill("german", 3),
            "duplicate skill",
        ),
    ];
    for (agent, why) in bad {
        assert!(p.push(agent).is_err(), "{why}");
    }
    assert_eq!(p.len(), 2);
    assert_eq!(p.skills().fingerprint(), fp);
    assert_eq!(p.skills().id("german"), None);
    assert_eq!(
        p.push(Agent::new("a")),
        Err(AgentError::DuplicateAgent { agent: "a".into() })
    );
}

#[test]
fn readiness_follows_state_capacity_and_wrap_up() {
    let mut p = pool();
    assert!(p.is_ready(0, 0));
    p.set_active_calls(0, 1);
    assert!(!p.is_ready(0, 0), "capacity 1 reached");
    p.set_active_calls(0, 0);
    p.set_state(0, AgentState::WrapUp { until_ms: 500 });
    assert!(!p.is_ready(0, 499));
    assert!(p.is_ready(0, 500));
    p.set_state(0, AgentState::Busy);
    assert!(
        !p.is_ready(0, i64::MAX),
        "busy is never ready, even at the end of time"
    );
    p.set_active_calls(1, 1);
    assert!(p.is_ready(1, 0), "capacity 2 leaves room");
}

#[test]
fn eligibility_bitsets_follow_pushes_and_presence_across_words() {
    let mut p = AgentPool::default();
    for k in 0..150 {
        let mut a = Agent::new(format!("a{k}")).with_state(AgentState::Busy);
        if k % 3 == 0 {
            a = a.with_skill("es", 1 + (k % 5) as u8);
        }
        p.push(a).unwrap();
    }
    let q = p
        .compile_queue(&QueueSpec::new("q").with_skill("es", 2))
        .unwrap();
    let req = q.requirement_at(0);
    assert_eq!(p.eligible(req, 0, &[]).count(), 0, "all busy");
    for k in [0, 3, 63, 66, 129, 147, 148] {
        p.set_state(k, AgentState::Available);
    }
    p.set_state(129, AgentState::WrapUp { until_ms: 10 });
    // 0 is level 1, 148 lacks the skill; 129 is in wrap-up until 10.
    let got: Vec<_> = p.eligible(req, 9, &[]).collect();
    assert_eq!(got, [3, 63, 66, 147]);
    let got: Vec<_> = p.eligible(req, 10, &[66]).collect();
    assert_eq!(got, [3, 63, 129, 147]);
    p.set_active_calls(63, 1);
    assert!(!p.eligible(req, 10, &[]).any(|i| i == 63), "full");
    let idx = p.push(Agent::new("late").with_skill("es", 5)).unwrap();
    assert_eq!(idx, 150);
    assert_eq!(p.eligible(req, 10, &[]).last(), Some(150));
    assert_eq!(
        p.eligible_in(req, 10, &[], 4..148).collect::<Vec<_>>(),
        [66, 129, 147]
    );
}

#[test]
fn many_required_skills_are_checked_exactly() {
    let skills: Vec<String> = (0..MAX_BITSET_NEEDS + 2).map(|k| format!("s{k}")).collect();
    let agent = |id: &str, missing: Option<usize>| {
        let mut a = Agent::new(id);
        for (k, s) in skills.iter().enumerate() {
            if Some(k) != missing {
                a = a.with_skill(s.clone(), 1);
            }
        }
        a.with_skill("other", 1)
    };
    let mut agents = vec![agent("all", None)];
    agents.extend((0..skills.len()).map(|k| agent(&format!("no-s{k}"), Some(k))));
    let p = AgentPool::new(agents).unwrap();
    let mut spec = QueueSpec::new("q");
    for s in &skills {
        spec = spec.with_skill(s.clone(), 1);
    }
    let q = p.compile_queue(&spec).unwrap();
    let req = q.requirement_at(0);
    assert!(!req.skills_suffice);
    assert_eq!(p.eligible(req, 0, &[]).collect::<Vec<_>>(), [0]);
}

#[test]
fn a_requirement_from_another_pool_finds_nobody_without_panicking() {
    let other = AgentPool::new(vec![Agent::new("x")
        .with_skill("a", 1)
        .with_skill("b", 1)
        .with_skill("c", 1)])
    .unwrap();
    let q = other
        .compile_queue(&QueueSpec::new("q").with_skill("c", 1))
        .unwrap();
    assert_eq!(pool().eligible(q.requirement_at(0), 0, &[]).count(), 0);
}

#[test]
fn components_stay_in_unit_range() {
    let mut p = pool();
    p.set_idle_since(0, 1_000);
    assert!((p.idle_fraction(0, 31_000, 60_000) - 0.5).abs() < 1e-12);
    assert!((p.idle_fraction(0, 999_000, 60_000) - 1.0).abs() < 1e-12);
    assert!(
        p.idle_fraction(0, 0, 60_000).abs() < 1e-12,
        "idle_since in the future"
    );
    p.set_active_calls(1, 1);
    assert!((p.free_fraction(1) - 0.5).abs() < 1e-12);
    p.set_active_calls(1, 3);
    assert!(p.free_fraction(1).abs() < 1e-12);
}
