//! Read-only snapshots of the contact center (agents, queues, queue calls) and the
//! methods that take them, called by
//! the session hub for the REST API (`GET /api/v1/agents`, `/queues`, `/calls`). Plain
//! data: they hold no reference into the contact center, so a snapshot can leave the
//! hub's task while the state it was taken from moves on.

use std::collections::BTreeMap;
use std::time::Instant;

use dcx_routing::agents::{AgentIndex, AgentState};
use dcx_signaling::AgentStatus;
use serde::Serialize;

/// The id a queue call has on an agent's socket (`incoming`, `accept`) and in the API.
/// The same format as the session hub's offers (`browser::hub`, `carry_out`).
pub fn queue_call_id(token: u64) -> String {
    format!("q-{token:016x}")
}

/// One agent, as the contact center sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    /// The agent's user (its token's `user` claim).
    pub user: String,
    /// Its presence: `available`, `away`, `offline`, `busy` (offered a call or on one)
    /// or `wrap_up`.
    pub state: AgentStatus,
    /// Seconds of wrap-up left, in `wrap_up`.
    pub wrap_up_remaining_s: Option<u64>,
    /// The queue call offered to it or that it is on.
    pub call_id: Option<String>,
    /// Its skills and their levels.
    pub skills: BTreeMap<String, u8>,
    /// The queues whose skills it meets.
    pub queues: Vec<String>,
    /// Queue calls it has handled since the gateway started.
    pub calls_handled: u32,
}

/// Where a queue call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueCallState {
    /// Nobody is offered it.
    Waiting,
    /// Offered to an agent, ringing there.
    Ringing,
    /// An agent took it.
    Answered,
}

/// A caller in (or taken from) a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueCall {
    /// The contact center's token of the call (the SIP side's).
    #[serde(skip)]
    pub token: u64,
    /// Its id ([`queue_call_id`]).
    pub call_id: String,
    /// The queue.
    pub queue: String,
    /// The caller.
    pub from: String,
    /// Waiting, ringing at an agent, or answered.
    pub state: QueueCallState,
    /// The agent it rings at or that took it.
    pub agent: Option<String>,
    /// Seconds since the caller arrived.
    pub wait_s: u64,
}

/// One queue now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueView {
    /// Its name.
    pub name: String,
    /// How it picks an agent (`longest-idle`, ...).
    pub strategy: &'static str,
    /// Its callers nobody took yet (waiting or ringing), in arrival order.
    pub waiting: Vec<QueueCall>,
    /// The agents whose skills meet the queue's, whatever their presence.
    pub agents_eligible: Vec<String>,
    /// Of those, the ones that could be offered a caller now.
    pub agents_available: Vec<String>,
}

/// Snapshots, for the REST API, and the one caller a transfer may bring back.
impl super::ContactCenter {
    /// Queue call `token`'s queue and caller, while the contact center holds it.
    pub fn caller(&self, token: u64) -> Option<(String, String)> {
        let c = self.calls.get(&token)?;
        Some((self.queues[c.queue].name.clone(), c.from.clone()))
    }

    /// `user`'s presence at `now` and its wrap-up left, if `user` is an agent.
    pub fn presence(&self, now: Instant, user: &str) -> Option<(AgentStatus, Option<u64>)> {
        let &i = self.by_user.get(user)?;
        let view = self.agent_view(now, i);
        Some((view.state, view.wrap_up_remaining_s))
    }

    /// Every agent and its presence at `now`, in config order.
    pub fn agents(&self, now: Instant) -> Vec<AgentView> {
        (0..self.pool.len())
            .map(|i| self.agent_view(now, i))
            .collect()
    }

    fn agent_view(&self, now: Instant, i: AgentIndex) -> AgentView {
        let live = &self.live[i];
        let state = match self.pool.state(i) {
            AgentState::Available => AgentStatus::Available,
            AgentState::Busy => AgentStatus::Busy,
            AgentState::WrapUp { .. } => AgentStatus::WrapUp,
            AgentState::Away => AgentStatus::Away,
            AgentState::Offline => AgentStatus::Offline,
        };
        let wrap_up_remaining_s = live
            .wrap_until
            .filter(|_| state == AgentStatus::WrapUp)
            .map(|t| t.saturating_duration_since(now).as_secs());
        AgentView {
            user: self.pool.id(i).to_owned(),
            state,
            wrap_up_remaining_s,
            call_id: live.call.or(live.offer).map(queue_call_id),
            skills: self
                .pool
                .skills_of(i)
                .map(|(s, level)| (s.to_owned(), level))
                .collect(),
            queues: self
                .queues
                .iter()
                .filter(|q| self.pool.meets(i, q.compiled.requirement_at(0)))
                .map(|q| q.name.clone())
                .collect(),
            calls_handled: self.pool.calls_handled(i),
        }
    }

    /// Every call in a queue or taken from one, in arrival order.
    pub fn queue_calls(&self, now: Instant) -> Vec<QueueCall> {
        let mut calls: Vec<(u64, QueueCall)> = self
            .calls
            .iter()
            .map(|(&token, c)| {
                let (state, agent) = match (c.answered, c.ringing) {
                    (Some(i), _) => (QueueCallState::Answered, Some(i)),
                    (None, Some((i, _))) => (QueueCallState::Ringing, Some(i)),
                    (None, None) => (QueueCallState::Waiting, None),
                };
                let call = QueueCall {
                    token,
                    call_id: queue_call_id(token),
                    queue: self.queues[c.queue].name.clone(),
                    from: c.from.clone(),
                    state,
                    agent: agent.map(|i| self.pool.id(i).to_owned()),
                    wait_s: now.saturating_duration_since(c.arrived).as_secs(),
                };
                (c.seq, call)
            })
            .collect();
        calls.sort_unstable_by_key(|(seq, _)| *seq);
        calls.into_iter().map(|(_, c)| c).collect()
    }

    /// Every queue at `now`: its callers nobody took yet, the agents it may offer them
    /// to, and which of those are free now.
    pub fn queues(&self, now: Instant) -> Vec<QueueView> {
        let now_ms = self.clock.unix_ms(now);
        let calls = self.queue_calls(now);
        self.queues
            .iter()
            .map(|q| {
                let req = q.compiled.requirement_at(0);
                let agents = |ready: bool| -> Vec<String> {
                    (0..self.pool.len())
                        .filter(|&i| {
                            if ready {
                                self.pool.is_eligible(i, req, now_ms)
                            } else {
                                self.pool.meets(i, req)
                            }
                        })
                        .map(|i| self.pool.id(i).to_owned())
                        .collect()
                };
                QueueView {
                    name: q.name.clone(),
                    strategy: q.compiled.strategy().name(),
                    waiting: calls
                        .iter()
                        .filter(|c| c.queue == q.name && c.state != QueueCallState::Answered)
                        .cloned()
                        .collect(),
                    agents_eligible: agents(false),
                    agents_available: agents(true),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use dcx_signaling::{AgentState, AgentStatus};

    use super::QueueCallState;
    use crate::call::events::WallClock;
    use crate::contact::ContactCenter;

    #[test]
    fn snapshots_follow_a_caller_from_waiting_to_the_agents_wrap_up() {
        let now = Instant::now();
        let agents: Vec<crate::config::contact::AgentSection> = ["agent1", "junior"]
            .iter()
            .zip([5, 1])
            .map(|(u, level)| {
                toml::from_str(&format!(
                    "user = \"{u}\"\nskills = {{ support = {level} }}\n"
                ))
                .unwrap()
            })
            .collect();
        let queues: Vec<crate::config::contact::QueueSection> =
            vec![
                toml::from_str("name = \"support\"\nskills = { support = 3 }\nwrap_up_s = 10\n")
                    .unwrap(),
            ];
        let clock = WallClock {
            at: now,
            unix_ms: 1_700_000_000_000,
        };
        let mut cc = ContactCenter::new(&agents, &queues, clock, 1).unwrap();

        cc.arrived(now, 7, "support", "sip:caller@carrier");
        let q = &cc.queues(now + Duration::from_secs(3))[0];
        assert_eq!(q.waiting.len(), 1);
        assert_eq!(
            (
                q.waiting[0].state,
                q.waiting[0].wait_s,
                q.waiting[0].agent.as_deref()
            ),
            (QueueCallState::Waiting, 3, None)
        );
        assert_eq!(q.agents_eligible, ["agent1"], "junior's level is too low");
        assert!(q.agents_available.is_empty());
        let a = cc.agents(now);
        assert_eq!(a[1].queues, Vec::<String>::new());
        assert_eq!(a[1].skills.get("support"), Some(&1));

        cc.set_state(now, "agent1", AgentState::Available).unwrap();
        let calls = cc.queue_calls(now);
        assert_eq!(calls[0].state, QueueCallState::Ringing);
        assert_eq!(calls[0].call_id, "q-0000000000000007");
        cc.accept(now, 7, "agent1").unwrap();
        assert_eq!(cc.queue_calls(now)[0].state, QueueCallState::Answered);
        assert!(
            cc.queues(now)[0].waiting.is_empty(),
            "an answered caller waits no more"
        );
        assert_eq!(cc.agents(now)[0].state, AgentStatus::Busy);

        cc.ended(now + Duration::from_secs(60), 7);
        let a = &cc.agents(now + Duration::from_secs(64))[0];
        assert_eq!(
            (
                a.state,
                a.wrap_up_remaining_s,
                a.call_id.as_deref(),
                a.calls_handled
            ),
            (AgentStatus::WrapUp, Some(6), None, 1)
        );
        assert!(cc.queue_calls(now).is_empty());
    }
}
