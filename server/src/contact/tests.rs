//! The contact center in virtual time: offers, ring-outs, rejections, wrap-up,
//! longest-idle order, away after missed offers, callers given up on.

use std::time::{Duration, Instant};

use dcx_signaling::{AgentState as Chosen, AgentStatus};

use super::{Action, ContactCenter};
use crate::call::events::WallClock;
use crate::config::contact::{AgentSection, QueueSection};

fn agents(users: &[&str]) -> Vec<AgentSection> {
    users
        .iter()
        .map(|u| toml::from_str(&format!("user = \"{u}\"\nskills = {{ support = 5 }}\n")).unwrap())
        .collect()
}

fn queue(extra: &str) -> Vec<QueueSection> {
    vec![toml::from_str(&format!(
        "name = \"support\"\nskills = {{ support = 1 }}\nring_timeout_s = 10\nmax_wait_s = 120\nwrap_up_s = 5\n{extra}"
    ))
    .unwrap()]
}

struct Run {
    cc: ContactCenter,
    now: Instant,
}

impl Run {
    fn new(users: &[&str], extra: &str) -> Self {
        let now = Instant::now();
        let clock = WallClock {
            at: now,
            unix_ms: 1_700_000_000_000,
        };
        let cc = ContactCenter::new(&agents(users), &queue(extra), clock, 1).unwrap();
        Self { cc, now }
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.cc.poll_action()).collect()
    }

    fn offers(&mut self) -> Vec<(u64, String)> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Offer { token, user, .. } => Some((token, user)),
                _ => None,
            })
            .collect()
    }

    fn available(&mut self, user: &str) {
        self.cc
            .set_state(self.now, user, Chosen::Available)
            .unwrap();
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(at) = self.cc.poll_timeout().filter(|&t| t <= until) {
            self.now = self.now.max(at);
            self.cc.handle_timeout(self.now);
        }
        self.now = until;
    }
}

#[test]
fn the_longest_idle_agent_is_offered_first_and_a_ring_out_moves_to_the_next() {
    let mut run = Run::new(&["agent1", "agent2"], "");
    run.available("agent2");
    run.advance(Duration::from_secs(30));
    run.available("agent1");
    run.actions();
    assert!(run.cc.arrived(run.now, 7, "support", "+15550123"));
    assert_eq!(
        run.offers(),
        [(7, "agent2".to_owned())],
        "agent2 idled longer"
    );
    run.advance(Duration::from_secs(10));
    let actions = run.actions();
    assert!(actions.contains(&Action::Withdraw {
        token: 7,
        user: "agent2".into(),
        reason: "not_answered"
    }));
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Offer { token: 7, user, .. } if user == "agent1")));
    run.cc.accept(run.now, 7, "agent1").unwrap();
    assert!(
        run.cc.accept(run.now, 7, "agent2").is_err(),
        "only the agent it rings at"
    );
}

#[test]
fn a_call_ended_puts_its_agent_in_wrap_up_then_back_to_available() {
    let mut run = Run::new(&["agent1"], "");
    run.available("agent1");
    run.cc.arrived(run.now, 1, "support", "a");
    run.offers();
    run.cc.accept(run.now, 1, "agent1").unwrap();
    run.cc.ended(run.now, 1);
    let actions = run.actions();
    assert!(
        actions.contains(&Action::AgentState {
            user: "agent1".into(),
            state: AgentStatus::WrapUp,
            wrap_up_remaining_s: Some(5)
        }),
        "{actions:?}"
    );
    // During wrap-up a new caller waits.
    run.cc.arrived(run.now, 2, "support", "b");
    assert!(run.offers().is_empty());
    run.advance(Duration::from_secs(5));
    let actions = run.actions();
    assert!(
        actions.contains(&Action::AgentState {
            user: "agent1".into(),
            state: AgentStatus::Busy,
            wrap_up_remaining_s: None
        }) && actions
            .iter()
            .any(|a| matches!(a, Action::Offer { token: 2, .. })),
        "{actions:?}"
    );
}

#[test]
fn missed_offers_set_an_agent_away_and_a_caller_waits_until_someone_is_available() {
    let mut run = Run::new(&["agent1", "agent2"], "missed_offers_away = 2\n");
    run.available("agent1");
    run.cc.arrived(run.now, 1, "support", "a");
    assert_eq!(run.offers().len(), 1);
    run.advance(Duration::from_secs(10));
    // Nobody else is available: agent1 gets a second round, and misses it too.
    assert_eq!(run.offers(), [(1, "agent1".to_owned())]);
    run.advance(Duration::from_secs(10));
    let actions = run.actions();
    assert!(
        actions.contains(&Action::AgentState {
            user: "agent1".into(),
            state: AgentStatus::Away,
            wrap_up_remaining_s: None
        }),
        "{actions:?}"
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::Offer { .. })));
    run.available("agent2");
    assert_eq!(run.offers(), [(1, "agent2".to_owned())]);
}

#[test]
fn a_rejected_offer_goes_to_the_next_agent_and_a_caller_gone_withdraws_its_offer() {
    let mut run = Run::new(&["agent1", "agent2"], "");
    run.available("agent1");
    run.available("agent2");
    run.cc.arrived(run.now, 1, "support", "a");
    let first = run.offers()[0].1.clone();
    run.cc.reject(run.now, 1, &first).unwrap();
    let second = run.offers();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].1, first);
    run.cc.ended(run.now, 1);
    assert!(run.actions().contains(&Action::Withdraw {
        token: 1,
        user: second[0].1.clone(),
        reason: "caller_hung_up"
    }));
}

#[test]
fn a_caller_nobody_takes_is_given_up_on_after_max_wait() {
    let mut run = Run::new(&["agent1"], "");
    run.cc.arrived(run.now, 9, "support", "a");
    assert!(!run.cc.arrived(run.now, 10, "sales", "b"), "no such queue");
    run.advance(Duration::from_secs(119));
    assert!(run.actions().is_empty());
    run.advance(Duration::from_secs(1));
    assert!(matches!(
        &run.actions()[..],
        [Action::GiveUp {
            token: 9,
            code: 480,
            ..
        }]
    ));
    assert_eq!(run.cc.poll_timeout(), None);
}

#[test]
fn a_blind_transfer_offers_the_caller_to_the_named_agent_or_requeues_it() {
    use super::Transfer;
    let mut run = Run::new(&["agent1", "agent2"], "");
    run.available("agent1");
    run.cc.arrived(run.now, 1, "support", "a");
    run.offers();
    run.cc.accept(run.now, 1, "agent1").unwrap();
    // agent2 is not available yet.
    let to_agent2 = Transfer::Agent("agent2".into());
    assert!(run.cc.transfer(run.now, 1, &to_agent2).is_err());
    run.available("agent2");
    run.actions();
    run.cc.transfer(run.now, 1, &to_agent2).unwrap();
    let actions = run.actions();
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Offer { token: 1, user, .. } if user == "agent2")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&Action::AgentState {
            user: "agent1".into(),
            state: AgentStatus::WrapUp,
            wrap_up_remaining_s: Some(5)
        }),
        "{actions:?}"
    );
    run.cc.accept(run.now, 1, "agent2").unwrap();
    // Back into the queue: agent1, out of wrap-up, takes it.
    run.advance(Duration::from_secs(5));
    run.actions();
    run.cc
        .transfer(run.now, 1, &Transfer::Queue("support".into()))
        .unwrap();
    assert_eq!(run.offers(), [(1, "agent1".to_owned())]);
}

#[test]
fn a_caller_past_max_wait_moves_once_to_the_fallback_queue() {
    let now = Instant::now();
    let clock = WallClock {
        at: now,
        unix_ms: 1_700_000_000_000,
    };
    let mut queues = queue("fallback_queue = \"overflow\"\n");
    queues.push(
        toml::from_str(
            "name = \"overflow\"\nskills = { overflow = 1 }\nring_timeout_s = 10\nmax_wait_s = 30\n",
        )
        .unwrap(),
    );
    let overflow: AgentSection =
        toml::from_str("user = \"night\"\nskills = { overflow = 5 }\n").unwrap();
    let mut all = agents(&["agent1"]);
    all.push(overflow);
    let mut run = Run {
        cc: ContactCenter::new(&all, &queues, clock, 1).unwrap(),
        now,
    };
    run.available("night");
    run.cc.arrived(run.now, 1, "support", "a");
    assert!(run.offers().is_empty(), "night has no support skill");
    run.advance(Duration::from_secs(120));
    assert_eq!(run.offers(), [(1, "night".to_owned())], "moved to overflow");
    run.cc.reject(run.now, 1, "night").unwrap();
    run.actions();
    // Its max wait counts again in the new queue, and there is no second fallback.
    run.advance(Duration::from_secs(30));
    let actions = run.actions();
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::GiveUp {
                token: 1,
                code: 480,
                ..
            }
        )),
        "{actions:?}"
    );
}

#[test]
fn a_caller_past_max_wait_is_forwarded_to_the_fallback_number_and_leaves_the_queue() {
    let mut run = Run::new(&["agent1"], "fallback_number = \"+15550123\"\n");
    run.cc.arrived(run.now, 1, "support", "a");
    run.advance(Duration::from_secs(119));
    assert!(
        !run.actions()
            .iter()
            .any(|a| matches!(a, Action::Forward { .. })),
        "not before max_wait_s"
    );
    run.advance(Duration::from_secs(1));
    let actions = run.actions();
    assert!(
        actions.iter().any(|a| a
            == &Action::Forward {
                token: 1,
                queue: "support".into(),
                number: "+15550123".into(),
            }),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::GiveUp { .. })),
        "{actions:?}"
    );
    // It is out of the queue: an agent who comes along is not offered it.
    run.available("agent1");
    assert!(run.offers().is_empty());
    assert!(run.cc.queue_calls(run.now).is_empty());
}

#[test]
fn an_attended_transfer_hands_the_call_to_the_colleague_without_an_offer() {
    let mut run = Run::new(&["agent1", "agent2"], "");
    run.available("agent1");
    run.cc.arrived(run.now, 1, "support", "a");
    assert_eq!(run.offers(), [(1, "agent1".to_owned())]);
    run.cc.accept(run.now, 1, "agent1").unwrap();
    run.available("agent2");
    run.actions();
    run.cc.hand_to(run.now, 1, "agent2").unwrap();
    let actions = run.actions();
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Offer { .. })),
        "{actions:?}"
    );
    let states: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::AgentState { user, state, .. } => Some((user.as_str(), *state)),
            _ => None,
        })
        .collect();
    assert!(
        states.contains(&("agent1", AgentStatus::WrapUp)),
        "{states:?}"
    );
    assert!(
        states.contains(&("agent2", AgentStatus::Busy)),
        "{states:?}"
    );
    let calls = run.cc.queue_calls(run.now);
    assert_eq!(calls[0].agent.as_deref(), Some("agent2"));
    // The call ending now wraps up agent2.
    run.cc.ended(run.now, 1);
    let actions = run.actions();
    assert!(
        actions.iter().any(|a| matches!(a,
        Action::AgentState { user, state: AgentStatus::WrapUp, .. } if user == "agent2")),
        "{actions:?}"
    );
    assert_eq!(run.cc.hand_to(run.now, 9, "agent2"), Err("no such call"));
}

fn sales_queue() -> QueueSection {
    toml::from_str("name = \"sales\"\nskills = { sales = 1 }\nring_timeout_s = 10\n").unwrap()
}

#[test]
fn a_reconfigure_keeps_presence_and_callers_and_a_new_agent_takes_calls() {
    let mut run = Run::new(&["agent1"], "");
    run.available("agent1");
    assert!(run.cc.arrived(run.now, 1, "support", "+15550001"));
    assert_eq!(run.offers(), vec![(1, "agent1".to_owned())]);
    run.cc.accept(run.now, 1, "agent1").unwrap();
    assert!(run.cc.arrived(run.now, 2, "support", "+15550002"));
    assert_eq!(run.offers(), vec![], "agent1 is busy, nobody else");
    run.advance(Duration::from_secs(3));
    // agent2 added, a sales queue added, the support queue's ring timeout changed.
    let mut support = queue("");
    support[0] = toml::from_str(
        "name = \"support\"\nskills = { support = 1 }\nring_timeout_s = 4\nmax_wait_s = 120\nwrap_up_s = 5\n",
    )
    .unwrap();
    support.push(sales_queue());
    run.cc
        .reconfigure(
            run.now,
            &agents(&["agent1", "agent2"]),
            &support,
            std::collections::HashMap::new(),
        )
        .unwrap();
    let actions = run.actions();
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::AgentState { user, .. } if user == "agent1")),
        "agent1's state did not change: {actions:?}"
    );
    run.available("agent2");
    assert_eq!(
        run.offers(),
        vec![(2, "agent2".to_owned())],
        "caller 2 kept its place"
    );
    assert_eq!(
        run.cc.rules("support").unwrap().ring_timeout,
        Duration::from_secs(4)
    );
    assert!(run.cc.rules("sales").is_some());
    let views = run.cc.agents(run.now);
    assert_eq!(views.len(), 2);
    assert_eq!(
        views[0].state,
        AgentStatus::Busy,
        "agent1 is still on call 1"
    );
    // The caller keeps its wait: max wait counts from its arrival, not the change.
    let waiting = run.cc.queue_calls(run.now);
    assert!(
        waiting.iter().any(|c| c.token == 2 && c.wait_s >= 3),
        "{waiting:?}"
    );
}

#[test]
fn a_removed_agent_loses_its_offer_to_the_next_agent_and_is_told_offline() {
    let mut run = Run::new(&["agent1", "agent2"], "");
    run.available("agent1");
    run.advance(Duration::from_secs(5));
    run.available("agent2");
    assert!(run.cc.arrived(run.now, 9, "support", "+15550009"));
    assert_eq!(run.offers(), vec![(9, "agent1".to_owned())]);
    run.cc
        .reconfigure(
            run.now,
            &agents(&["agent2"]),
            &queue(""),
            std::collections::HashMap::new(),
        )
        .unwrap();
    let actions = run.actions();
    assert!(actions.contains(&Action::Withdraw {
        token: 9,
        user: "agent1".into(),
        reason: "agent_removed"
    }));
    assert!(actions.contains(&Action::AgentState {
        user: "agent1".into(),
        state: AgentStatus::Offline,
        wrap_up_remaining_s: None
    }));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Offer { token: 9, user, .. } if user == "agent2")),
        "{actions:?}"
    );
    assert!(run
        .cc
        .set_state(run.now, "agent1", Chosen::Available)
        .is_err());
}

#[test]
fn a_queue_holding_a_caller_cannot_be_removed_and_nothing_changes() {
    let mut run = Run::new(&["agent1"], "");
    assert!(run.cc.arrived(run.now, 3, "support", "+15550003"));
    let e = run
        .cc
        .reconfigure(
            run.now,
            &agents(&["agent1"]),
            &[sales_queue()],
            std::collections::HashMap::new(),
        )
        .unwrap_err();
    assert_eq!(
        e,
        "queue \"support\" holds 1 call(s): remove it once it is empty"
    );
    assert!(run.cc.rules("support").is_some() && run.cc.rules("sales").is_none());
    run.available("agent1");
    assert_eq!(run.offers(), vec![(3, "agent1".to_owned())]);
}
