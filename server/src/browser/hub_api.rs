//! What the REST API asks the session hub: the live calls, a hang-up, the agents and
//! the queues. The hub owns all of it, so the API does not read it behind a lock: it
//! sends a [`HubQuery`] (inside [`HubEvent::Query`]) with a oneshot for the answer, and
//! the hub answers between two other events with a snapshot ([`CallView`], and the
//! contact center's [`AgentView`] and [`QueueView`]).
//!
//! A call here is one of the hub's call tasks: a browser's own call (`browser`, by the
//! session that placed it) or an inbound caller for a queue (`inbound`, waiting,
//! ringing at an agent or taken by one). A browser names its calls, so two sessions may
//! both have a `c1`; inbound calls have the gateway's `q-...` ids.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use dcx_signaling::SessionId;
use serde::Serialize;
use tokio::sync::oneshot;

use super::call::CallHandle;
use super::hub::{Hub, HubEvent, HubHandle};
use crate::contact::{queue_call_id, AgentView, QueueCall, QueueCallState, QueueView};

/// The reason an administrator's hang-up gives the call (and its CDR).
pub const HUNG_UP_BY_ADMIN: &str = "hung up by an administrator";

/// A question for the hub, with where its answer goes.
#[derive(Debug)]
pub enum HubQuery {
    /// The live calls.
    ListCalls {
        /// Browser calls by session and call id, then inbound calls in arrival order.
        reply: oneshot::Sender<Vec<CallView>>,
    },
    /// Hang one call up ([`HUNG_UP_BY_ADMIN`]).
    HangUp {
        /// The call's id (a browser's, or an inbound `q-...`).
        call_id: String,
        /// The browser session, when more than one has a call of that id.
        session: Option<String>,
        /// The call as it was, or why not.
        reply: oneshot::Sender<Result<CallView, HangUpError>>,
    },
    /// The agents (none without queues).
    Agents {
        /// In config order.
        reply: oneshot::Sender<Vec<AgentView>>,
    },
    /// The queues (none without queues).
    Queues {
        /// In config order.
        reply: oneshot::Sender<Vec<QueueView>>,
    },
    /// Serve these `[[agents]]` and `[[queues]]` from now on (the REST API changed them).
    Reconfigure {
        /// The new config.
        loaded: std::sync::Arc<crate::config::Loaded>,
        /// Its queues' hold audio, by queue name.
        hold_audio: std::collections::HashMap<String, std::sync::Arc<[i16]>>,
        /// Done, or why not (nothing changed then).
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// What kind of call task a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A browser's call to the PSTN.
    Browser,
    /// A carrier's call to a DID, queued for (or taken by) an agent.
    Inbound,
    /// A supervisor's browser on another live call (`supervise`).
    Supervision,
    /// A browser's own call that its browser transferred away (to a number, or joined
    /// to another of its calls): dcx bridges the carriers, no browser is on it.
    Transferred,
}

/// Which task to reach for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Browser(SessionId),
    Inbound(u64),
    /// The position in the hub's transferred calls.
    Transferred(usize),
}

/// One live call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallView {
    /// Its id: the browser's for a browser call, `q-...` for an inbound one.
    pub call_id: String,
    /// `browser` or `inbound`.
    pub kind: CallKind,
    /// The account of the browser on the call (for an inbound call, its agent's).
    pub account: Option<String>,
    /// The user who placed it, or the agent it rings at or that took it.
    pub user: Option<String>,
    /// That browser's session.
    pub session: Option<String>,
    /// Inbound: the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Inbound: the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Inbound: `waiting`, `ringing` or `answered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<QueueCallState>,
    /// Inbound: seconds since the caller arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_s: Option<u64>,
    /// Transferred: where to (the number, or `call:ID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip)]
    owner: Owner,
}

/// Why a hang-up found no one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HangUpError {
    /// No live call has this id (on that session, if one was named).
    #[error("no live call {0:?}")]
    NotFound(String),
    /// Browser calls of more than one session have this id.
    #[error(
        "call id {call_id:?} is up on {} sessions ({}): name one with ?session=",
        sessions.len(),
        sessions.join(", ")
    )]
    Ambiguous {
        /// The id asked for.
        call_id: String,
        /// The sessions that have a call of that id.
        sessions: Vec<String>,
    },
}

/// The hub has stopped (the gateway is shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session hub has stopped")]
pub struct HubStopped;

impl HubHandle {
    /// The live calls.
    pub async fn calls(&self) -> Result<Vec<CallView>, HubStopped> {
        self.ask(|reply| HubQuery::ListCalls { reply }).await
    }

    /// Hangs up call `call_id` (of `session`, when given); the call as it was.
    pub async fn hang_up_call(
        &self,
        call_id: String,
        session: Option<String>,
    ) -> Result<Result<CallView, HangUpError>, HubStopped> {
        self.ask(|reply| HubQuery::HangUp {
            call_id,
            session,
            reply,
        })
        .await
    }

    /// The agents and their presence.
    pub async fn agents(&self) -> Result<Vec<AgentView>, HubStopped> {
        self.ask(|reply| HubQuery::Agents { reply }).await
    }

    /// The queues, their callers and agents.
    pub async fn queues(&self) -> Result<Vec<QueueView>, HubStopped> {
        self.ask(|reply| HubQuery::Queues { reply }).await
    }

    /// Serves the agents and queues of `loaded` from now on; an error (a queue that
    /// still holds calls is gone) leaves everything as it was.
    pub async fn reconfigure(
        &self,
        loaded: std::sync::Arc<crate::config::Loaded>,
        hold_audio: std::collections::HashMap<String, std::sync::Arc<[i16]>>,
    ) -> Result<Result<(), String>, HubStopped> {
        self.ask(|reply| HubQuery::Reconfigure {
            loaded,
            hold_audio,
            reply,
        })
        .await
    }

    async fn ask<T>(
        &self,
        query: impl FnOnce(oneshot::Sender<T>) -> HubQuery,
    ) -> Result<T, HubStopped> {
        let (reply, answer) = oneshot::channel();
        if !self.send(HubEvent::Query(query(reply))) {
            return Err(HubStopped);
        }
        answer.await.map_err(|_| HubStopped)
    }
}

impl Hub {
    /// Answers a query of the REST API; only dispatches.
    pub(super) fn query(&mut self, q: HubQuery) {
        let now = Instant::now();
        match q {
            HubQuery::ListCalls { reply } => {
                let _ = reply.send(self.call_views(now));
            }
            HubQuery::HangUp {
                call_id,
                session,
                reply,
            } => {
                let _ = reply.send(self.hang_up_by_id(now, &call_id, session.as_deref()));
            }
            HubQuery::Agents { reply } => {
                let agents = self.contact.as_ref().map(|cc| cc.agents(now));
                let _ = reply.send(agents.unwrap_or_default());
            }
            HubQuery::Queues { reply } => {
                let queues = self.contact.as_ref().map(|cc| cc.queues(now));
                let _ = reply.send(queues.unwrap_or_default());
            }
            HubQuery::Reconfigure {
                loaded,
                hold_audio,
                reply,
            } => {
                let _ = reply.send(self.reconfigure(now, &loaded.config, hold_audio));
            }
        }
    }

    /// New agents and queues; the first queue starts the contact center.
    fn reconfigure(
        &mut self,
        now: Instant,
        config: &crate::config::Config,
        hold_audio: HashMap<String, std::sync::Arc<[i16]>>,
    ) -> Result<(), String> {
        match &mut self.contact {
            Some(cc) => cc.reconfigure(now, &config.agents, &config.queues, hold_audio),
            None if config.queues.is_empty() => Ok(()),
            None => {
                let clock = crate::call::WallClock::now();
                let mut cc = crate::contact::ContactCenter::new(
                    &config.agents,
                    &config.queues,
                    clock,
                    self.random(),
                )?;
                cc.set_hold_audio(hold_audio);
                self.contact = Some(cc);
                Ok(())
            }
        }
    }

    /// Every live call: browser calls by session and id, then inbound calls in arrival
    /// order (those the contact center no longer holds last, by token).
    fn call_views(&self, now: Instant) -> Vec<CallView> {
        let account = |session: SessionId| self.sessions.claims(session).map(|c| c.account.clone());
        // An accepted inbound call is also among its agent's session's calls.
        let inbound_ids: HashMap<String, u64> = self
            .inbound
            .keys()
            .map(|&token| (queue_call_id(token), token))
            .collect();
        let mut agent_of: HashMap<u64, SessionId> = HashMap::new();
        let mut browser = Vec::new();
        for (&session, live) in &self.live {
            for (call_id, handle) in &live.calls {
                if let Some(&token) = inbound_ids.get(call_id) {
                    agent_of.insert(token, session);
                    continue;
                }
                let kind = if handle.is_supervision() {
                    CallKind::Supervision
                } else {
                    CallKind::Browser
                };
                browser.push(CallView {
                    call_id: call_id.clone(),
                    kind,
                    account: account(session),
                    user: Some(live.user.clone()),
                    session: Some(session.to_string()),
                    queue: None,
                    from: None,
                    state: None,
                    wait_s: None,
                    to: None,
                    owner: Owner::Browser(session),
                });
            }
        }
        browser.sort_by(|a, b| (&a.session, &a.call_id).cmp(&(&b.session, &b.call_id)));
        let queued: Vec<QueueCall> = self
            .contact
            .as_ref()
            .map(|cc| cc.queue_calls(now))
            .unwrap_or_default();
        let known: HashSet<u64> = queued.iter().map(|c| c.token).collect();
        let mut gone: Vec<u64> = self
            .inbound
            .keys()
            .copied()
            .filter(|t| !known.contains(t))
            .collect();
        gone.sort_unstable();
        let queued = queued
            .into_iter()
            .filter(|c| self.inbound.contains_key(&c.token))
            .map(|c| (c.token, Some(c)));
        let inbound = queued
            .chain(gone.into_iter().map(|t| (t, None)))
            .map(|(token, c)| {
                let session = agent_of.get(&token).copied();
                CallView {
                    call_id: queue_call_id(token),
                    kind: CallKind::Inbound,
                    account: session.and_then(account),
                    user: c.as_ref().and_then(|c| c.agent.clone()),
                    session: session.map(|s| s.to_string()),
                    queue: c.as_ref().map(|c| c.queue.clone()),
                    from: c.as_ref().map(|c| c.from.clone()),
                    state: c.as_ref().map(|c| c.state),
                    wait_s: c.as_ref().map(|c| c.wait_s),
                    to: None,
                    owner: Owner::Inbound(token),
                }
            });
        browser.extend(inbound);
        let transferred = self.transferred.iter().enumerate();
        browser.extend(
            transferred
                .filter(|(_, t)| !t.handle.is_over())
                .map(|(i, t)| CallView {
                    call_id: t.call_id.clone(),
                    kind: CallKind::Transferred,
                    account: Some(t.account.clone()),
                    user: Some(t.user.clone()),
                    session: Some(t.session.to_string()),
                    queue: None,
                    from: None,
                    state: None,
                    wait_s: None,
                    to: Some(t.to.clone()),
                    owner: Owner::Transferred(i),
                }),
        );
        browser
    }

    /// Asks call `call_id` (of `session`, if given) to end.
    fn hang_up_by_id(
        &self,
        now: Instant,
        call_id: &str,
        session: Option<&str>,
    ) -> Result<CallView, HangUpError> {
        let (call, handle) = self.find_call(now, call_id, session)?;
        if let Some(h) = handle {
            h.hang_up(HUNG_UP_BY_ADMIN);
        }
        Ok(call)
    }

    /// Live call `call_id` (of `session`, if given) as the API lists it, and the
    /// handle of its task (`None`: its task has just ended).
    pub(super) fn find_call(
        &self,
        now: Instant,
        call_id: &str,
        session: Option<&str>,
    ) -> Result<(CallView, Option<&CallHandle>), HangUpError> {
        let mut found: Vec<CallView> = self
            .call_views(now)
            .into_iter()
            .filter(|c| c.call_id == call_id)
            .filter(|c| session.is_none_or(|s| c.session.as_deref() == Some(s)))
            .collect();
        if found.len() > 1 {
            return Err(HangUpError::Ambiguous {
                call_id: call_id.to_owned(),
                sessions: found.iter().filter_map(|c| c.session.clone()).collect(),
            });
        }
        let call = found
            .pop()
            .ok_or_else(|| HangUpError::NotFound(call_id.to_owned()))?;
        let handle = match call.owner {
            Owner::Browser(session) => self.live.get(&session).and_then(|l| l.calls.get(call_id)),
            Owner::Inbound(token) => self.inbound.get(&token),
            Owner::Transferred(i) => self.transferred.get(i).map(|t| &t.handle),
        };
        Ok((call, handle))
    }
}

#[cfg(test)]
pub(crate) mod testing;
