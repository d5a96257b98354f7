//! The contact center: which agent is offered which waiting caller, and what happens
//! when an offer rings out, an agent declines, a caller gives up or a call ends.
//! Sans-IO: the session hub feeds it (agents' presence and answers, callers arriving
//! and leaving) with the time, and carries out its [`Action`]s (an `incoming` offer to
//! an agent's browser, an offer withdrawn, a caller given up on, an agent's new state).
//!
//! Agent selection itself is the routing core's ([`dcx_routing::agents::select`]: the
//! queue's strategy over the eligible agents); this module keeps the live state around
//! it in an [`AgentPool`]: an agent being offered a call or on one is `Busy`, after a
//! call `WrapUp` until its wrap-up time passes, `Away` after letting
//! `missed_offers_away` offers in a row ring out.
//!
//! Rules: one offer at a time per caller and per agent; a caller is never offered again
//! to an agent who let it ring out or declined it (unless nobody else is left, in which
//! case the exclusions are cleared and the round starts over); callers are served in
//! the order they arrived, each at most `max_wait_s`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use dcx_routing::agents::{
    select, Agent, AgentIndex, AgentPool, AgentState, CallerContext, CompiledQueue, QueueSpec,
    Strategy,
};
use dcx_routing::rng::SplitMix64;
use dcx_signaling::AgentStatus;

use crate::call::events::WallClock;
use crate::config::contact::{AgentSection, QueueSection};

mod reconfigure;
mod view;
pub use view::{queue_call_id, AgentView, QueueCall, QueueCallState, QueueView};

/// What the hub must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Offer call `token` to `user`'s browser (`incoming`).
    Offer {
        /// The call.
        token: u64,
        /// The agent.
        user: String,
        /// The caller.
        from: String,
        /// The queue.
        queue: String,
    },
    /// The offer of `token` to `user` is over without an answer (`ended` to the agent).
    Withdraw {
        /// The call.
        token: u64,
        /// The agent.
        user: String,
        /// Why, for the browser: `not_answered`, `caller_hung_up`, `rejected`.
        reason: &'static str,
    },
    /// Nobody took the caller in time and its queue has a `fallback_number`: put it
    /// through to that number (the caller has left the contact center).
    Forward {
        /// The call.
        token: u64,
        /// The queue it waited in.
        queue: String,
        /// Where to.
        number: String,
    },
    /// Nobody took the caller in time: end the call with `code`.
    GiveUp {
        /// The call.
        token: u64,
        /// The SIP status for the caller.
        code: u16,
        /// Why, for the CDR.
        why: String,
    },
    /// Tell `user` its presence.
    AgentState {
        /// The agent.
        user: String,
        /// Its presence.
        state: AgentStatus,
        /// Seconds of wrap-up left, in `wrap_up`.
        wrap_up_remaining_s: Option<u64>,
    },
}

/// Where a blind transfer sends an answered caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// Straight to this agent (a user of `[[agents]]`).
    Agent(String),
    /// Back into this queue.
    Queue(String),
    /// Out of the contact center, to this number (the call's task dials it).
    Number(String),
}

/// A queue's timing rules, from `[[queues]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRules {
    /// How long one offer rings.
    pub ring_timeout: Duration,
    /// How long a caller waits at most.
    pub max_wait: Duration,
    /// An agent's wrap-up after a call.
    pub wrap_up: Duration,
    /// Offers rung out in a row before the agent is set away.
    pub missed_offers_away: u32,
    /// The hold tone, Hz (0: silence).
    pub hold_tone_hz: u32,
}

struct Queue {
    name: String,
    /// Where its callers go when their max wait passes.
    fallback: Option<usize>,
    /// Or the number they are put through to.
    fallback_number: Option<String>,
    compiled: CompiledQueue,
    rules: QueueRules,
}

#[derive(Debug, Default)]
struct AgentLive {
    /// What the agent chose (available, away, offline); busy and wrap-up come on top.
    chosen: Option<dcx_signaling::AgentState>,
    /// Offers rung out in a row.
    missed: u32,
    /// The call offered to it now.
    offer: Option<u64>,
    /// The call it is on.
    call: Option<u64>,
    /// When its wrap-up ends.
    wrap_until: Option<Instant>,
}

#[derive(Debug)]
struct Waiting {
    queue: usize,
    from: String,
    arrived: Instant,
    arrived_ms: i64,
    /// Since when it waits in its current queue (its max wait counts from here).
    queue_since: Instant,
    /// Whether it was moved to its queue's fallback already.
    fell_back: bool,
    /// Arrival order.
    seq: u64,
    /// The agent it rings at, and until when.
    ringing: Option<(AgentIndex, Instant)>,
    excluded: Vec<AgentIndex>,
    answered: Option<AgentIndex>,
}

/// The live state of agents and waiting callers.
pub struct ContactCenter {
    pool: AgentPool,
    live: Vec<AgentLive>,
    by_user: HashMap<String, AgentIndex>,
    queues: Vec<Queue>,
    queue_by_name: HashMap<String, usize>,
    calls: BTreeMap<u64, Waiting>,
    next_seq: u64,
    clock: WallClock,
    rng: SplitMix64,
    actions: VecDeque<Action>,
    hold_audio: HashMap<String, std::sync::Arc<[i16]>>,
}

impl std::fmt::Debug for ContactCenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactCenter")
            .field("agents", &self.pool.len())
            .field("queues", &self.queues.len())
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl ContactCenter {
    /// The agents and queues of the config; everyone starts offline.
    pub fn new(
        agents: &[AgentSection],
        queues: &[QueueSection],
        clock: WallClock,
        seed: u64,
    ) -> Result<Self, String> {
        let pool_agents = agents
            .iter()
            .map(|a| {
                let mut agent =
                    Agent::new(a.user.get_ref().clone()).with_state(AgentState::Offline);
                for (skill, level) in &a.skills {
                    agent = agent.with_skill(skill.clone(), *level);
                }
                agent
            })
            .collect();
        let pool = AgentPool::new(pool_agents).map_err(|e| e.to_string())?;
        let mut compiled = Vec::new();
        for q in queues {
            let strategy = Strategy::from_name(q.strategy.get_ref())
                .ok_or_else(|| format!("queue {}: unknown strategy", q.name.get_ref()))?;
            let mut spec = QueueSpec::new(q.name.get_ref().clone()).with_strategy(strategy);
            for (skill, min) in &q.skills {
                spec = spec.with_skill(skill.clone(), *min);
            }
            let rules = QueueRules {
                ring_timeout: Duration::from_secs(*q.ring_timeout_s.get_ref()),
                max_wait: Duration::from_secs(*q.max_wait_s.get_ref()),
                wrap_up: Duration::from_secs(*q.wrap_up_s.get_ref()),
                missed_offers_away: *q.missed_offers_away.get_ref(),
                hold_tone_hz: *q.hold_tone_hz.get_ref(),
            };
            compiled.push(Queue {
                name: q.name.get_ref().clone(),
                fallback: None,
                fallback_number: q.fallback_number.as_ref().map(|n| n.get_ref().clone()),
                compiled: pool.compile_queue(&spec).map_err(|e| e.to_string())?,
                rules,
            });
        }
        let by_user = (0..pool.len())
            .map(|i| (pool.id(i).to_owned(), i))
            .collect();
        for (queue, q) in compiled.iter_mut().zip(queues) {
            let named = q.fallback_queue.as_ref().map(|f| f.get_ref().as_str());
            queue.fallback = named.and_then(|f| queues.iter().position(|o| o.name.get_ref() == f));
        }
        Ok(Self {
            live: (0..pool.len()).map(|_| AgentLive::default()).collect(),
            pool,
            by_user,
            queue_by_name: compiled
                .iter()
                .enumerate()
                .map(|(i, q)| (q.name.clone(), i))
                .collect(),
            queues: compiled,
            calls: BTreeMap::new(),
            next_seq: 0,
            clock,
            rng: SplitMix64::new(seed),
            actions: VecDeque::new(),
            hold_audio: HashMap::new(),
        })
    }

    /// Sets the queues' hold audio (8 kHz mono samples), by queue name.
    pub fn set_hold_audio(&mut self, audio: HashMap<String, std::sync::Arc<[i16]>>) {
        self.hold_audio = audio;
    }

    /// Queue `name`'s hold audio, if it has a `hold_wav`.
    pub fn hold_audio(&self, name: &str) -> Option<std::sync::Arc<[i16]>> {
        self.hold_audio.get(name).cloned()
    }

    /// The rules of queue `name`.
    pub fn rules(&self, name: &str) -> Option<QueueRules> {
        self.queue_by_name.get(name).map(|&i| self.queues[i].rules)
    }

    /// An agent chose its presence (`agent_state`). Errors name what is wrong.
    pub fn set_state(
        &mut self,
        now: Instant,
        user: &str,
        state: dcx_signaling::AgentState,
    ) -> Result<(), String> {
        let &i = self
            .by_user
            .get(user)
            .ok_or_else(|| format!("{user} is not an agent of any queue ([[agents]])"))?;
        self.live[i].chosen = Some(state);
        if let Some(token) = self.live[i].offer {
            if state != dcx_signaling::AgentState::Available {
                self.withdraw(now, token, "agent_unavailable");
            }
        }
        self.refresh(now, i);
        self.dispatch(now);
        Ok(())
    }

    /// The agent's browser went away for good (its session ended): offline.
    pub fn agent_gone(&mut self, now: Instant, user: &str) {
        if self.by_user.contains_key(user) {
            let _ = self.set_state(now, user, dcx_signaling::AgentState::Offline);
        }
    }

    /// A caller entered `queue`; false when there is no such queue.
    pub fn arrived(&mut self, now: Instant, token: u64, queue: &str, from: &str) -> bool {
        let Some(&q) = self.queue_by_name.get(queue) else {
            return false;
        };
        self.calls.insert(
            token,
            Waiting {
                queue: q,
                from: from.to_owned(),
                arrived: now,
                arrived_ms: self.clock.unix_ms(now),
                queue_since: now,
                fell_back: false,
                seq: self.next_seq,
                ringing: None,
                excluded: Vec::new(),
                answered: None,
            },
        );
        self.next_seq += 1;
        self.dispatch(now);
        true
    }

    /// `user` accepted the offer of `token`. Errors say why not (not offered to it).
    pub fn accept(&mut self, now: Instant, token: u64, user: &str) -> Result<(), &'static str> {
        let &i = self.by_user.get(user).ok_or("not an agent")?;
        let call = self.calls.get_mut(&token).ok_or("no such call")?;
        match call.ringing {
            Some((agent, _)) if agent == i => {}
            _ => return Err("the call is not offered to you"),
        }
        call.ringing = None;
        call.answered = Some(i);
        let live = &mut self.live[i];
        live.offer = None;
        live.call = Some(token);
        live.missed = 0;
        self.refresh(now, i);
        Ok(())
    }

    /// Attended transfer to a colleague the agent consulted: answered call `token`
    /// passes from its agent (who goes to wrap-up) straight to `user`, who is on it
    /// now (no offer: the colleague already talks to the caller). `user` need not be
    /// an agent of `[[agents]]` (a supervisor, anyone the agent called); then the
    /// contact center forgets the call as if it had ended.
    pub fn hand_to(&mut self, now: Instant, token: u64, user: &str) -> Result<(), &'static str> {
        let call = self.calls.get(&token).ok_or("no such call")?;
        let from = call.answered.ok_or("the call is not answered")?;
        let Some(&to) = self.by_user.get(user) else {
            self.ended(now, token);
            return Ok(());
        };
        if to == from {
            return Err("the call is that agent's already");
        }
        let wrap_up = self.queues[call.queue].rules.wrap_up;
        let live = &mut self.live[from];
        live.call = None;
        live.wrap_until = Some(now + wrap_up);
        let handled = self.pool.calls_handled(from) + 1;
        self.pool.set_calls_handled(from, handled);
        self.refresh(now, from);
        if let Some(call) = self.calls.get_mut(&token) {
            call.answered = Some(to);
        }
        let live = &mut self.live[to];
        if let Some(offered) = live.offer.take() {
            // An offer ringing at the colleague meanwhile goes to the next agent.
            if let Some(c) = self.calls.get_mut(&offered) {
                c.ringing = None;
                c.excluded.push(to);
            }
        }
        live.call = Some(token);
        live.wrap_until = None;
        self.refresh(now, to);
        self.dispatch(now);
        Ok(())
    }

    /// `user` declined the offer of `token`: the next agent is tried.
    pub fn reject(&mut self, now: Instant, token: u64, user: &str) -> Result<(), &'static str> {
        let &i = self.by_user.get(user).ok_or("not an agent")?;
        let call = self.calls.get(&token).ok_or("no such call")?;
        if call.ringing.map(|(a, _)| a) != Some(i) {
            return Err("the call is not offered to you");
        }
        self.withdraw(now, token, "rejected");
        self.dispatch(now);
        Ok(())
    }

    /// The call is over (either side hung up, or it was given up on): its agent, if it
    /// had one, goes to wrap-up; an open offer is withdrawn.
    pub fn ended(&mut self, now: Instant, token: u64) {
        if self.calls.get(&token).is_some_and(|c| c.ringing.is_some()) {
            self.withdraw(now, token, "caller_hung_up");
        }
        let Some(call) = self.calls.remove(&token) else {
            return;
        };
        if let Some(i) = call.answered {
            let wrap_up = self.queues[call.queue].rules.wrap_up;
            let live = &mut self.live[i];
            live.call = None;
            live.wrap_until = Some(now + wrap_up);
            let handled = self.pool.calls_handled(i) + 1;
            self.pool.set_calls_handled(i, handled);
            self.refresh(now, i);
        }
        self.dispatch(now);
    }

    /// The agent on call `token` hands the caller on (blind transfer): to another
    /// agent, who is offered it at once (and must be available), back into a queue
    /// (keeping its wait so far), or out to a number (the caller leaves the contact
    /// center). The first agent goes to wrap-up.
    pub fn transfer(
        &mut self,
        now: Instant,
        token: u64,
        to: &Transfer,
    ) -> Result<(), &'static str> {
        let call = self.calls.get(&token).ok_or("no such call")?;
        let from_agent = call.answered.ok_or("the call is not answered")?;
        let target = match to {
            Transfer::Agent(user) => {
                let &j = self.by_user.get(user).ok_or("no such agent")?;
                if j == from_agent || !self.pool.is_ready(j, self.clock.unix_ms(now)) {
                    return Err("that agent is not available");
                }
                Some(j)
            }
            Transfer::Queue(name) => {
                let &q = self.queue_by_name.get(name).ok_or("no such queue")?;
                if let Some(call) = self.calls.get_mut(&token) {
                    call.queue = q;
                    call.queue_since = now;
                }
                None
            }
            Transfer::Number(_) => None,
        };
        if let Transfer::Number(_) = to {
            // The caller leaves the contact center; its agent handled it.
            self.ended(now, token);
            return Ok(());
        }
        let wrap_up = self.queues[self.calls[&token].queue].rules.wrap_up;
        let live = &mut self.live[from_agent];
        live.call = None;
        live.wrap_until = Some(now + wrap_up);
        self.refresh(now, from_agent);
        let Some(call) = self.calls.get_mut(&token) else {
            return Ok(());
        };
        call.answered = None;
        call.excluded = vec![from_agent];
        if let Some(j) = target {
            let ring_timeout = self.queues[call.queue].rules.ring_timeout;
            call.ringing = Some((j, now + ring_timeout));
            let (from, queue) = (call.from.clone(), self.queues[call.queue].name.clone());
            self.live[j].offer = Some(token);
            self.actions.push_back(Action::Offer {
                token,
                user: self.pool.id(j).to_owned(),
                from,
                queue,
            });
            self.refresh(now, j);
        }
        self.dispatch(now);
        Ok(())
    }

    /// Runs what is due: offers that rang out, callers waited too long, wrap-ups over.
    pub fn handle_timeout(&mut self, now: Instant) {
        let rang_out: Vec<(u64, AgentIndex)> = self
            .calls
            .iter()
            .filter_map(|(t, c)| {
                c.ringing
                    .filter(|(_, until)| *until <= now)
                    .map(|(a, _)| (*t, a))
            })
            .collect();
        for (token, i) in rang_out {
            self.withdraw(now, token, "not_answered");
            let q = self.calls.get(&token).map_or(0, |c| c.queue);
            let live = &mut self.live[i];
            live.missed += 1;
            if live.missed >= self.queues[q].rules.missed_offers_away {
                live.missed = 0;
                live.chosen = Some(dcx_signaling::AgentState::Away);
            }
            self.refresh(now, i);
        }
        let too_long: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| c.answered.is_none())
            .filter(|(_, c)| c.queue_since + self.queues[c.queue].rules.max_wait <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in too_long {
            if self.fall_back(now, token) {
                continue;
            }
            if let Some(q) = self.calls.get(&token).map(|c| &self.queues[c.queue]) {
                if let Some(number) = q.fallback_number.clone() {
                    let queue = q.name.clone();
                    self.actions.push_back(Action::Forward {
                        token,
                        queue,
                        number,
                    });
                    self.ended(now, token);
                    continue;
                }
            }
            self.actions.push_back(Action::GiveUp {
                token,
                code: 480,
                why: "nobody answered within the queue's max_wait_s".into(),
            });
            self.ended(now, token);
        }
        for i in 0..self.live.len() {
            if self.live[i].wrap_until.is_some_and(|t| t <= now) {
                self.live[i].wrap_until = None;

                self.pool.set_idle_since(i, self.clock.unix_ms(now));
                self.refresh(now, i);
            }
        }
        self.dispatch(now);
    }

    /// Moves a caller whose max wait passed to its queue's fallback queue (once);
    /// false when there is none (or it fell back already).
    fn fall_back(&mut self, now: Instant, token: u64) -> bool {
        let Some(call) = self.calls.get(&token) else {
            return false;
        };
        let Some(to) = self.queues[call.queue].fallback.filter(|_| !call.fell_back) else {
            return false;
        };
        if call.ringing.is_some() {
            self.withdraw(now, token, "caller_moved");
        }
        if let Some(call) = self.calls.get_mut(&token) {
            call.queue = to;
            call.queue_since = now;
            call.fell_back = true;
            call.excluded.clear();
        }
        true
    }

    /// When `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().flat_map(|c| {
            let max_wait =
                (c.answered.is_none()).then(|| c.queue_since + self.queues[c.queue].rules.max_wait);
            [c.ringing.map(|(_, t)| t), max_wait]
        });
        let wraps = self.live.iter().map(|l| l.wrap_until);
        calls.chain(wraps).flatten().min()
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Ends the offer of `token` (to whoever it rings at); the agent is told why.
    fn withdraw(&mut self, now: Instant, token: u64, reason: &'static str) {
        let Some(call) = self.calls.get_mut(&token) else {
            return;
        };
        let Some((i, _)) = call.ringing.take() else {
            return;
        };
        call.excluded.push(i);
        self.live[i].offer = None;
        self.actions.push_back(Action::Withdraw {
            token,
            user: self.pool.id(i).to_owned(),
            reason,
        });
        self.refresh(now, i);
    }

    /// Puts agent `i`'s effective state in the pool and tells the agent if it changed.
    fn refresh(&mut self, now: Instant, i: AgentIndex) {
        let live = &self.live[i];
        let (pool_state, status) = if live.offer.is_some() || live.call.is_some() {
            (AgentState::Busy, AgentStatus::Busy)
        } else if let Some(until) = live.wrap_until {
            let until_ms = self.clock.unix_ms(until);
            (AgentState::WrapUp { until_ms }, AgentStatus::WrapUp)
        } else {
            match live.chosen {
                Some(dcx_signaling::AgentState::Available) => {
                    (AgentState::Available, AgentStatus::Available)
                }
                Some(dcx_signaling::AgentState::Away) => (AgentState::Away, AgentStatus::Away),
                Some(dcx_signaling::AgentState::Offline) | None => {
                    (AgentState::Offline, AgentStatus::Offline)
                }
            }
        };
        let before = self.pool.state(i);
        if before == pool_state {
            return;
        }
        if pool_state == AgentState::Available && !before.is_available_at(self.clock.unix_ms(now)) {
            // Idle from now: longest-idle ranks by this.
            self.pool.set_idle_since(i, self.clock.unix_ms(now));
        }
        self.pool.set_state(i, pool_state);
        let wrap_up_remaining_s = live
            .wrap_until
            .filter(|_| status == AgentStatus::WrapUp)
            .map(|t| t.saturating_duration_since(now).as_secs());
        self.actions.push_back(Action::AgentState {
            user: self.pool.id(i).to_owned(),
            state: status,
            wrap_up_remaining_s,
        });
    }

    /// Offers every waiting caller nobody rings for to the agent its queue picks, in
    /// arrival order.
    fn dispatch(&mut self, now: Instant) {
        let now_ms = self.clock.unix_ms(now);
        let mut waiting: Vec<(u64, u64)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.ringing.is_none() && c.answered.is_none())
            .map(|(t, c)| (c.seq, *t))
            .collect();
        waiting.sort_unstable();
        for (_, token) in waiting {
            let Some(call) = self.calls.get(&token) else {
                continue;
            };
            let queue = &self.queues[call.queue];
            let mut ctx = CallerContext::new(call.arrived_ms);
            ctx.exclude = &call.excluded;
            let mut pick = select(
                &queue.compiled,
                &ctx,
                &self.pool,
                now_ms,
                &mut self.rng,
                false,
            );
            if pick.is_none() && !call.excluded.is_empty() {
                // Everyone ready was tried: start a new round with them.
                let ctx = CallerContext::new(call.arrived_ms);
                pick = select(
                    &queue.compiled,
                    &ctx,
                    &self.pool,
                    now_ms,
                    &mut self.rng,
                    false,
                );
            }
            let Some(pick) = pick else { continue };
            let (i, ring_timeout) = (pick.agent, queue.rules.ring_timeout);
            let (from, queue_name) = (call.from.clone(), queue.name.clone());
            if let Some(call) = self.calls.get_mut(&token) {
                call.ringing = Some((i, now + ring_timeout));
                if call.excluded.contains(&i) {
                    call.excluded.clear();
                }
            }
            self.live[i].offer = Some(token);
            self.actions.push_back(Action::Offer {
                token,
                user: self.pool.id(i).to_owned(),
                from,
                queue: queue_name,
            });
            self.refresh(now, i);
        }
    }
}

#[cfg(test)]
mod tests;
