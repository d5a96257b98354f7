//! [`ContactCenter::reconfigure`]: new `[[agents]]` and `[[queues]]` (the REST API)
//! taken without a restart and without losing a caller or an agent's state.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use dcx_routing::agents::AgentIndex;
use dcx_signaling::AgentStatus;

use super::{Action, ContactCenter};
use crate::config::contact::{AgentSection, QueueSection};

impl ContactCenter {
    /// Serves `agents` and `queues` from now on, with `hold_audio` by queue name.
    ///
    /// - An agent that stays keeps its presence, its offer or call, its wrap-up, its
    ///   missed offers, its idle time and calls handled; its skills are the new ones.
    /// - An agent that is gone stops being offered calls: an offer ringing at it is
    ///   withdrawn (the caller is offered to the next agent) and it is told `offline`; a
    ///   call it is on goes on, without wrap-up after it.
    /// - Callers keep their place and their wait in their queue, under its new rules.
    /// - A queue that is gone must hold no call: otherwise nothing changes and the error
    ///   says which queue holds how many.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        agents: &[AgentSection],
        queues: &[QueueSection],
        hold_audio: HashMap<String, std::sync::Arc<[i16]>>,
    ) -> Result<(), String> {
        let staying: HashSet<&str> = queues.iter().map(|q| q.name.get_ref().as_str()).collect();
        for (qi, q) in self.queues.iter().enumerate() {
            let held = self.calls.values().filter(|c| c.queue == qi).count();
            if held > 0 && !staying.contains(q.name.as_str()) {
                return Err(format!(
                    "queue {:?} holds {held} call(s): remove it once it is empty",
                    q.name
                ));
            }
        }
        let mut fresh = Self::new(agents, queues, self.clock, 0)?;
        let mut moved: HashMap<AgentIndex, AgentIndex> = HashMap::new();
        for (user, &old) in &self.by_user {
            let Some(&new) = fresh.by_user.get(user) else {
                continue;
            };
            let pool = &mut fresh.pool;
            pool.set_state(new, self.pool.state(old));
            pool.set_active_calls(new, self.pool.active_calls(old));
            pool.set_idle_since(new, self.pool.idle_since_ms(old));
            pool.set_calls_handled(new, self.pool.calls_handled(old));
            fresh.live[new] = std::mem::take(&mut self.live[old]);
            moved.insert(old, new);
        }
        let mut gone: Vec<AgentIndex> = (0..self.pool.len())
            .filter(|i| !moved.contains_key(i))
            .collect();
        gone.sort_unstable();
        for &old in &gone {
            if let Some(token) = self.live[old].offer {
                self.withdraw(now, token, "agent_removed");
            }
            self.actions.retain(
                |a| !matches!(a, Action::AgentState { user, .. } if user == self.pool.id(old)),
            );
            self.actions.push_back(Action::AgentState {
                user: self.pool.id(old).to_owned(),
                state: AgentStatus::Offline,
                wrap_up_remaining_s: None,
            });
        }
        for call in self.calls.values_mut() {
            call.queue = fresh.queue_by_name[self.queues[call.queue].name.as_str()];
            call.ringing = call
                .ringing
                .and_then(|(a, until)| moved.get(&a).map(|&n| (n, until)));
            call.excluded = call
                .excluded
                .iter()
                .filter_map(|a| moved.get(a).copied())
                .collect();
            call.answered = call.answered.and_then(|a| moved.get(&a).copied());
        }
        self.pool = fresh.pool;
        self.live = fresh.live;
        self.by_user = fresh.by_user;
        self.queues = fresh.queues;
        self.queue_by_name = fresh.queue_by_name;
        self.hold_audio = hold_audio;
        for i in 0..self.pool.len() {
            self.refresh(now, i);
        }
        self.dispatch(now);
        Ok(())
    }
}
