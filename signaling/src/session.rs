//! The session registry: who is logged in, and which sessions wait for a reconnect.
//!
//! A session outlives its WebSocket. When the socket drops, the server calls
//! [`Sessions::detach`] and the session waits `grace` for a `hello` with its resume
//! token; if none comes, it expires and the server ends its calls. A resume always
//! rotates the token (the old one stops working), so a token that leaked from an old
//! connection cannot be replayed once it has been used.
//!
//! Each socket's hold on a session is an [`Attachment`]. A resume while the old socket is
//! still open takes the session over; the old socket's attachment goes stale, so when
//! the server closes that socket its late `detach` changes nothing.
//!
//! Sans-IO: time comes in as an `Instant`, randomness as a [`Random`], and expiry goes
//! out through `poll_timeout` / `handle_timeout` / `poll_expired`. The registry is two
//! maps (by id, by resume token) and a deadline set; nothing here is shared or locked.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{ErrorCode, ProtocolError};
use crate::message::{ServerMessage, PROTOCOL_VERSION};
use crate::random::Random;
use crate::token::Claims;

/// How long a detached session waits for its client unless configured otherwise.
pub const DEFAULT_RESUME_GRACE: Duration = Duration::from_secs(30);

/// Draws before giving up on a fresh id or token: repeats mean a broken generator.
const MAX_DRAWS: usize = 4;

/// A session's identity; on the wire `s-` and 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s-{:016x}", self.0)
    }
}

/// One socket's hold on a session. Pass it back to [`Sessions::detach`] when the socket
/// drops; once another socket has resumed the session, it no longer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attachment {
    session_id: SessionId,
    epoch: u64,
}

impl Attachment {
    /// The session held.
    pub fn session_id(self) -> SessionId {
        self.session_id
    }
}

/// The outcome of a successful `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The session, new or resumed.
    pub session_id: SessionId,
    /// This socket's hold on it.
    pub attachment: Attachment,
    /// The token for the next resume (32 hex digits, 128 random bits).
    pub resume_token: String,
    /// The claims of the `hello`'s token, now the session's.
    pub claims: Claims,
    /// Whether an existing session was resumed (its calls may still be live).
    pub resumed: bool,
    /// Whether it was resumed from a socket the server still has open: close that one.
    pub took_over: bool,
    /// How long the session survives a dropped socket.
    pub grace: Duration,
}

impl Welcome {
    /// The `welcome` message, listing the calls the server kept for a resumed session.
    pub fn to_server_message(&self, resumed_calls: Vec<String>) -> ServerMessage {
        ServerMessage::Welcome {
            v: PROTOCOL_VERSION,
            session_id: self.session_id.to_string(),
            resume_token: self.resume_token.clone(),
            user: self.claims.user.clone(),
            account: self.claims.account.clone(),
            role: self.claims.role,
            resume_grace_s: self.grace.as_secs(),
            resumed_calls,
        }
    }
}

#[derive(Debug)]
struct Session {
    claims: Claims,
    resume_token: String,
    epoch: u64,
    /// `None` while a socket holds the session.
    detached_until: Option<Instant>,
}

/// All sessions of this node. See the module doc.
#[derive(Debug)]
pub struct Sessions {
    grace: Duration,
    by_id: HashMap<SessionId, Session>,
    by_token: HashMap<String, SessionId>,
    deadlines: BTreeSet<(Instant, SessionId)>,
    expired: VecDeque<SessionId>,
    next_epoch: u64,
}

impl Sessions {
    /// An empty registry whose detached sessions wait `grace` for a resume.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            by_id: HashMap::new(),
            by_token: HashMap::new(),
            deadlines: BTreeSet::new(),
            expired: VecDeque::new(),
            next_epoch: 0,
        }
    }

    // ---- getters ----

    /// The claims a session runs under.
    pub fn claims(&self, id: SessionId) -> Option<&Claims> {
        self.by_id.get(&id).map(|s| &s.claims)
    }

    /// Whether a socket holds the session (`false` if detached or unknown).
    pub fn is_attached(&self, id: SessionId) -> bool {
        self.by_id
            .get(&id)
            .is_some_and(|s| s.detached_until.is_none())
    }

    /// Sessions held, attached or waiting for a resume.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    // ---- handle_* and mutators ----

    /// Binds a verified token to a session: a new one, or with `resume` the session that
    /// token names if it belongs to the same account and user and has not expired.
    ///
    /// A failed resume (`resume_failed`) changes nothing; the client may `hello` again
    /// without `resume` on a new connection.
    pub fn authenticate(
        &mut self,
        now: Instant,
        claims: Claims,
        resume: Option<&str>,
        rng: &mut impl Random,
    ) -> Result<Welcome, ProtocolError> {
        let resume_token = self.fresh_token(rng)?;
        let epoch = self.next_epoch;
        self.next_epoch += 1;
        let Some(old_token) = resume else {
            let session_id = self.fresh_id(rng)?;
            self.by_token.insert(resume_token.clone(), session_id);
            self.by_id.insert(
                session_id,
                Session {
                    claims: claims.clone(),
                    resume_token: resume_token.clone(),
                    epoch,
                    detached_until: None,
                },
            );
            return Ok(self.welcome(session_id, epoch, resume_token, claims, false, false));
        };

        let session_id = self.resumable(now, old_token, &claims).ok_or_else(|| {
            ProtocolError::new(
                ErrorCode::ResumeFailed,
                "the session is unknown, expired, or not yours; hello without resume",
            )
        })?;
        let session = self
            .by_id
            .get_mut(&session_id)
            .expect("resumable returns held sessions");
        let took_over = match session.detached_until.take() {
            Some(deadline) => {
                self.deadlines.remove(&(deadline, session_id));
                false
            }
            None => true,
        };
        let old_token = std::mem::replace(&mut session.resume_token, resume_token.clone());
        session.claims = claims.clone();
        session.epoch = epoch;
        self.by_token.remove(&old_token);
        self.by_token.insert(resume_token.clone(), session_id);
        Ok(self.welcome(session_id, epoch, resume_token, claims, true, took_over))
    }

    /// The socket of `attachment` dropped: its session waits until `now + grace`.
    ///
    /// Returns `false`, changing nothing, if the attachment is stale (another socket
    /// resumed the session), the session is already detached, or it is gone.
    pub fn detach(&mut self, now: Instant, attachment: Attachment) -> bool {
        let id = attachment.session_id;
        let Some(session) = self.by_id.get_mut(&id) else {
            return false;
        };
        if session.epoch != attachment.epoch || session.detached_until.is_some() {
            return false;
        }
        let deadline = now + self.grace;
        session.detached_until = Some(deadline);
        self.deadlines.insert((deadline, id));
        true
    }

    /// Ends a session now (logout, or the server kicked it). It is not reported by
    /// `poll_expired`: the caller ends its calls. Returns whether it existed.
    pub fn close(&mut self, id: SessionId) -> bool {
        let Some(session) = self.by_id.remove(&id) else {
            return false;
        };
        self.by_token.remove(&session.resume_token);
        if let Some(deadline) = session.detached_until {
            self.deadlines.remove(&(deadline, id));
        }
        true
    }

    /// Expires every detached session whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(session) = self.by_id.remove(&id) {
                self.by_token.remove(&session.resume_token);
            }
            self.expired.push_back(id);
        }
    }

    // ---- poll_* ----

    /// When `handle_timeout` next has work: the earliest resume deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// The next session whose grace ran out, oldest first: end its calls and write CDRs.
    pub fn poll_expired(&mut self) -> Option<SessionId> {
        self.expired.pop_front()
    }

    // ---- internals ----

    /// The session `token` names, if `claims` may resume it at `now`.
    fn resumable(&self, now: Instant, token: &str, claims: &Claims) -> Option<SessionId> {
        let id = *self.by_token.get(token)?;
        let session = self.by_id.get(&id)?;
        let same_user =
            session.claims.account == claims.account && session.claims.user == claims.user;
        let alive = session.detached_until.is_none_or(|deadline| now < deadline);
        (same_user && alive).then_some(id)
    }

    fn welcome(
        &self,
        session_id: SessionId,
        epoch: u64,
        resume_token: String,
        claims: Claims,
        resumed: bool,
        took_over: bool,
    ) -> Welcome {
        Welcome {
            session_id,
            attachment: Attachment { session_id, epoch },
            resume_token,
            claims,
            resumed,
            took_over,
            grace: self.grace,
        }
    }

    fn fresh_id(&self, rng: &mut impl Random) -> Result<SessionId, ProtocolError> {
        (0..MAX_DRAWS)
            .map(|_| SessionId(rng.next_u64()))
            .find(|id| !self.by_id.contains_key(id))
            .ok_or_else(repeating_rng)
    }

    fn fresh_token(&self, rng: &mut impl Random) -> Result<String, ProtocolError> {
        (0..MAX_DRAWS)
            .map(|_| format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()))
            .find(|token| !self.by_token.contains_key(token))
            .ok_or_else(repeating_rng)
    }
}

fn repeating_rng() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Internal,
        "the random source keeps repeating values; no fresh session id or token",
    )
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
