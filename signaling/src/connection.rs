//! The gate of one WebSocket: which parsed messages it may carry in its current state.
//!
//! A connection is `AwaitingHello` until authentication succeeds, then `Open` with the
//! session's [`Attachment`] and role, and `Closed` after an error that ends it. The gate
//! knows nothing of calls; it only answers "may this message be handled now?":
//! - before authentication only `hello` is allowed; anything else is `not_authenticated`
//!   and closes the connection, since nothing can succeed without a session;
//! - once open, another `hello` is `already_authenticated`;
//! - `agent_state` needs a role that takes queue calls (agent or supervisor), else
//!   `forbidden`. Every role may `call`, `accept` and `reject`: any user can be called
//!   as `user:NAME`, and a session can only accept a call dcx offered to it (call
//!   control answers `unknown_call` otherwise), so queue calls reach agents only
//!   because routing offers them to agents only.

use crate::error::{ErrorCode, ProtocolError};
use crate::message::ClientMessage;
use crate::session::{Attachment, Welcome};
use crate::token::Role;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Waiting for `hello`.
    AwaitingHello,
    /// Authenticated.
    Open {
        /// This socket's hold on its session.
        attachment: Attachment,
        /// The session's role.
        role: Role,
    },
    /// Ended by an error that closes the connection; the server closes the socket.
    Closed,
}

/// One WebSocket's protocol state. The server keeps one per socket.
#[derive(Debug, Clone)]
pub struct Connection {
    state: ConnectionState,
}

impl Default for Connection {
    fn default() -> Self {
        Self::new()
    }
}

impl Connection {
    /// A connection that has not said `hello` yet.
    pub fn new() -> Self {
        Self {
            state: ConnectionState::AwaitingHello,
        }
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The session this connection holds, once open.
    pub fn attachment(&self) -> Option<Attachment> {
        match self.state {
            ConnectionState::Open { attachment, .. } => Some(attachment),
            _ => None,
        }
    }

    /// Whether `message` may be handled now. An error that closes the connection also
    /// moves it to `Closed`.
    pub fn check(&mut self, message: &ClientMessage) -> Result<(), ProtocolError> {
        let result = self.allowed(message);
        if let Err(err) = &result {
            self.fail(err);
        }
        result
    }

    /// Authentication succeeded: the connection is open on `welcome`'s session.
    pub fn open(&mut self, welcome: &Welcome) {
        debug_assert_eq!(self.state, ConnectionState::AwaitingHello);
        self.state = ConnectionState::Open {
            attachment: welcome.attachment,
            role: welcome.claims.role,
        };
    }

    /// Records an error from elsewhere (token, resume): closes if its code says so.
    pub fn fail(&mut self, err: &ProtocolError) {
        if err.code.closes_connection() {
            self.state = ConnectionState::Closed;
        }
    }

    /// The socket is closing: returns the attachment to pass to `Sessions::detach`.
    pub fn close(&mut self) -> Option<Attachment> {
        let attachment = self.attachment();
        self.state = ConnectionState::Closed;
        attachment
    }

    fn allowed(&self, message: &ClientMessage) -> Result<(), ProtocolError> {
        let is_hello = matches!(message, ClientMessage::Hello { .. });
        match self.state {
            ConnectionState::Closed => Err(ProtocolError::new(
                ErrorCode::NotAuthenticated,
                "the connection is closed",
            )),
            ConnectionState::AwaitingHello if is_hello => Ok(()),
            ConnectionState::AwaitingHello => Err(ProtocolError::new(
                ErrorCode::NotAuthenticated,
                format!("{} before hello; send hello first", message.type_name()),
            )),
            ConnectionState::Open { .. } if is_hello => Err(ProtocolError::new(
                ErrorCode::AlreadyAuthenticated,
                "this connection is already authenticated",
            )),
            ConnectionState::Open { role, .. } => check_role(role, message),
        }
    }
}

fn check_role(role: Role, message: &ClientMessage) -> Result<(), ProtocolError> {
    let refused = match message {
        ClientMessage::AgentState { .. } if !role.takes_queue_calls() => {
            "needs the agent or supervisor role"
        }
        ClientMessage::Supervise { .. } if !matches!(role, Role::Supervisor | Role::Admin) => {
            "needs the supervisor or admin role"
        }
        _ => return Ok(()),
    };
    let err = ProtocolError::new(
        ErrorCode::Forbidden,
        format!("{} {refused}", message.type_name()),
    );
    Err(match message.call_id() {
        Some(id) => err.with_call_id(id),
        None => err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::AgentState;
    use crate::session::Sessions;
    use crate::token::Claims;
    use std::time::{Duration, Instant};

    fn welcome(role: Role) -> Welcome {
        let mut sessions = Sessions::new(Duration::from_secs(30));
        let claims = Claims {
            account: "demo".into(),
            user: "u".into(),
            role,
            exp: u64::MAX,
        };
        let mut n = 0;
        let mut rng = move || {
            n += 1;
            n
        };
        sessions
            .authenticate(Instant::now(), claims, None, &mut rng)
            .unwrap()
    }

    fn hello() -> ClientMessage {
        ClientMessage::Hello {
            v: 1,
            token: "t".into(),
            resume: None,
        }
    }

    fn open(role: Role) -> Connection {
        let mut conn = Connection::new();
        conn.check(&hello()).unwrap();
        conn.open(&welcome(role));
        conn
    }

    fn accept() -> ClientMessage {
        ClientMessage::Accept {
            call_id: "c1".into(),
            sdp: "v=0".into(),
        }
    }

    #[test]
    fn anything_before_hello_is_refused_and_closes() {
        let mut conn = Connection::new();
        let err = conn.check(&ClientMessage::Ping { seq: None }).unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthenticated);
        assert!(err.code.closes_connection());
        assert_eq!(conn.state(), ConnectionState::Closed);
        // Closed stays closed, even for hello.
        assert!(conn.check(&hello()).is_err());
    }

    #[test]
    fn open_connection_refuses_a_second_hello_but_stays_open() {
        let mut conn = open(Role::Softphone);
        let err = conn.check(&hello()).unwrap_err();
        assert_eq!(err.code, ErrorCode::AlreadyAuthenticated);
        assert!(matches!(conn.state(), ConnectionState::Open { .. }));
        assert!(conn.check(&ClientMessage::Ping { seq: Some(1) }).is_ok());
    }

    #[test]
    fn agent_state_needs_agent_or_supervisor() {
        let agent_state = ClientMessage::AgentState {
            state: AgentState::Available,
        };
        for role in [Role::Softphone, Role::Admin] {
            let mut conn = open(role);
            let err = conn.check(&agent_state).unwrap_err();
            assert_eq!(err.code, ErrorCode::Forbidden, "{role:?}");
            assert!(!err.code.closes_connection());
            assert!(matches!(conn.state(), ConnectionState::Open { .. }));
        }
        for role in [Role::Agent, Role::Supervisor] {
            assert!(open(role).check(&agent_state).is_ok(), "{role:?}");
        }
    }

    #[test]
    fn supervise_needs_supervisor_or_admin() {
        let supervise = ClientMessage::Supervise {
            call_id: "s1".into(),
            target: "q-1".into(),
            target_session: None,
            mode: crate::message::SupervisorMode::Listen,
            sdp: "v=0".into(),
        };
        for role in [Role::Softphone, Role::Agent] {
            let err = open(role).check(&supervise).unwrap_err();
            assert_eq!(err.code, ErrorCode::Forbidden, "{role:?}");
            assert_eq!(err.call_id.as_deref(), Some("s1"));
        }
        for role in [Role::Supervisor, Role::Admin] {
            assert!(open(role).check(&supervise).is_ok(), "{role:?}");
        }
    }

    #[test]
    fn every_role_may_call_accept_and_reject() {
        let call = ClientMessage::Call {
            call_id: "c1".into(),
            to: "user:alice".into(),
            sdp: "v=0".into(),
        };
        let reject = ClientMessage::Reject {
            call_id: "c1".into(),
        };
        for role in [Role::Softphone, Role::Agent, Role::Supervisor, Role::Admin] {
            let mut conn = open(role);
            for message in [&call, &accept(), &reject] {
                assert!(conn.check(message).is_ok(), "{role:?} {message:?}");
            }
        }
    }

    #[test]
    fn token_failures_close_other_failures_do_not() {
        let mut conn = Connection::new();
        conn.fail(&ProtocolError::new(ErrorCode::UnknownCall, "x"));
        assert_eq!(conn.state(), ConnectionState::AwaitingHello);
        conn.fail(&ProtocolError::new(ErrorCode::TokenExpired, "x"));
        assert_eq!(conn.state(), ConnectionState::Closed);
    }

    #[test]
    fn close_hands_back_the_attachment_to_detach() {
        let w = welcome(Role::Agent);
        assert_eq!(Connection::new().close(), None);
        let mut conn = Connection::new();
        conn.open(&w);
        assert_eq!(conn.attachment(), Some(w.attachment));
        assert_eq!(conn.close(), Some(w.attachment));
        assert_eq!(conn.state(), ConnectionState::Closed);
        assert_eq!(conn.attachment(), None);
    }
}
