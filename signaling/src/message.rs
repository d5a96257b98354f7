//! The messages of the browser protocol, as typed values.
//!
//! Each WebSocket text frame carries one JSON object whose `type` names the message; the
//! other members are its fields. [`ClientMessage`] is what a browser may send,
//! [`ServerMessage`] what dcx sends back. Both are plain serde enums, internally tagged, so
//! the Rust types are the protocol reference and `docs/signaling.md` is checked against
//! them by the tests here. Parsing client input, with its limits and error codes, lives
//! in [`crate::parse`]; this module only defines the shapes.
//!
//! Optional fields of server messages are left out of the JSON when they have no value.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::token::Role;

/// The protocol version this crate speaks (`hello.v`, `welcome.v`).
pub const PROTOCOL_VERSION: u32 = 1;

/// A message from the browser to dcx.
///
/// Use [`ClientMessage::parse`] on received text: it applies the frame limit and the
/// field rules that serde alone cannot express.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// The first message on a connection: authenticate, optionally resuming a session.
    Hello {
        /// Protocol version; must be [`PROTOCOL_VERSION`].
        v: u32,
        /// An HS256 token (see [`crate::token`]).
        token: String,
        /// The `resume_token` of an earlier `welcome`, to get that session back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// Place a call. `to` is a number for the PSTN or `user:NAME` for another browser.
    Call {
        /// Chosen by the client, unique among its live calls.
        call_id: String,
        /// The destination; see [`Destination::parse`].
        to: String,
        /// The browser's SDP offer.
        sdp: String,
    },
    /// Answer an `incoming` call. The SDP is the browser's own *offer*; dcx replies with
    /// `answered` carrying its answer (its media side is ICE-lite and only answers).
    Accept {
        /// The call from `incoming`.
        call_id: String,
        /// The browser's SDP offer.
        sdp: String,
    },
    /// Decline an `incoming` call.
    Reject {
        /// The call from `incoming`.
        call_id: String,
    },
    /// End a call in any state.
    Hangup {
        /// The call to end.
        call_id: String,
    },
    /// Send DTMF digits to the far end (RFC 4733 events).
    Dtmf {
        /// The call.
        call_id: String,
        /// One to 32 of `0-9 * # A-D`.
        digits: String,
        /// Tone length per digit, 40 to 5000 ms; the server's default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u32>,
    },
    /// A new SDP offer for a live call's WebRTC peer: the browser's ICE restart after a
    /// network change (`RTCPeerConnection.restartIce()`). Answered with `updated`.
    Update {
        /// The call.
        call_id: String,
        /// The browser's new offer.
        sdp: String,
    },
    /// Put the far end on hold.
    Hold {
        /// The call.
        call_id: String,
    },
    /// Take the far end off hold.
    Unhold {
        /// The call.
        call_id: String,
    },
    /// Stop or restart sending the browser's audio to the far end.
    Mute {
        /// The call.
        call_id: String,
        /// `true` to mute.
        muted: bool,
    },
    /// Blind-transfer the far end to another destination and leave the call.
    Transfer {
        /// The call.
        call_id: String,
        /// The new destination, same rules as `call.to`.
        to: String,
    },
    /// Supervise a live call (supervisor and admin roles): dcx answers `sdp` with a
    /// WebRTC peer of this browser's own that hears both parties, and is heard as
    /// `mode` says. `hangup` with this `call_id` ends the supervision, not the call.
    Supervise {
        /// Chosen by the client for the supervision, unique among its live calls.
        call_id: String,
        /// The live call to supervise, as `GET /api/v1/calls` lists it.
        target: String,
        /// The session of the target call, when ids of two sessions clash.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_session: Option<String>,
        /// Who hears the supervisor.
        mode: SupervisorMode,
        /// The supervisor browser's SDP offer.
        sdp: String,
    },
    /// Change who hears the supervisor on a supervision (`supervise`).
    SupervisorMode {
        /// The supervision.
        call_id: String,
        /// The new mode.
        mode: SupervisorMode,
    },
    /// An agent sets its own presence (agent and supervisor roles only).
    AgentState {
        /// The state the agent asks for.
        state: AgentState,
    },
    /// Keepalive; answered by `pong` with the same `seq`.
    Ping {
        /// Echoed back in `pong`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
}

impl ClientMessage {
    /// Every `type` a client may send, in declaration order.
    pub const TYPES: [&'static str; 15] = [
        "hello",
        "call",
        "accept",
        "reject",
        "hangup",
        "dtmf",
        "update",
        "hold",
        "unhold",
        "mute",
        "transfer",
        "supervise",
        "supervisor_mode",
        "agent_state",
        "ping",
    ];

    /// The wire `type` of this message.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Call { .. } => "call",
            Self::Accept { .. } => "accept",
            Self::Reject { .. } => "reject",
            Self::Hangup { .. } => "hangup",
            Self::Dtmf { .. } => "dtmf",
            Self::Update { .. } => "update",
            Self::Hold { .. } => "hold",
            Self::Unhold { .. } => "unhold",
            Self::Mute { .. } => "mute",
            Self::Transfer { .. } => "transfer",
            Self::Supervise { .. } => "supervise",
            Self::SupervisorMode { .. } => "supervisor_mode",
            Self::AgentState { .. } => "agent_state",
            Self::Ping { .. } => "ping",
        }
    }

    /// The call this message is about, if it is about one.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Self::Call { call_id, .. }
            | Self::Accept { call_id, .. }
            | Self::Reject { call_id }
            | Self::Hangup { call_id }
            | Self::Dtmf { call_id, .. }
            | Self::Update { call_id, .. }
            | Self::Hold { call_id }
            | Self::Unhold { call_id }
            | Self::Mute { call_id, .. }
            | Self::Transfer { call_id, .. }
            | Self::Supervise { call_id, .. }
            | Self::SupervisorMode { call_id, .. } => Some(call_id),
            Self::Hello { .. } | Self::AgentState { .. } | Self::Ping { .. } => None,
        }
    }
}

/// Who hears a supervisor (everyone on the call is heard by the supervisor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorMode {
    /// Nobody: the supervisor only listens.
    Listen,
    /// The agent (the browser on the call), not the far end: coaching.
    Whisper,
    /// Both parties: the supervisor joins the conversation.
    Barge,
}

/// The presence an agent may choose for itself. `wrap_up` and `busy` exist too, but only
/// the server sets them (see [`AgentStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Ready to take queue calls.
    Available,
    /// Logged in, not taking calls.
    Away,
    /// Logged out of the queues.
    Offline,
}

/// An agent's presence as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Ready to take queue calls.
    Available,
    /// Logged in, not taking calls.
    Away,
    /// Logged out of the queues.
    Offline,
    /// After a call, for the configured wrap-up time; then back to available.
    WrapUp,
    /// On a call.
    Busy,
}

impl From<AgentState> for AgentStatus {
    fn from(state: AgentState) -> Self {
        match state {
            AgentState::Available => Self::Available,
            AgentState::Away => Self::Away,
            AgentState::Offline => Self::Offline,
        }
    }
}

/// A message from dcx to the browser. Serialize with [`ServerMessage::to_json`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Authentication succeeded.
    Welcome {
        /// Protocol version, [`PROTOCOL_VERSION`].
        v: u32,
        /// This session, `s-` and 16 hex digits; the same after a resume.
        session_id: String,
        /// Send as `hello.resume` after a reconnect; replaced by every `welcome`.
        resume_token: String,
        /// From the token.
        user: String,
        /// From the token.
        account: String,
        /// From the token.
        role: Role,
        /// How long the session survives a dropped connection, seconds.
        resume_grace_s: u64,
        /// Calls that survived the reconnect (empty for a fresh session).
        resumed_calls: Vec<String>,
    },
    /// dcx is working on the call; `sdp` answers the browser's offer so ICE and DTLS can
    /// start while the far end rings.
    Trying {
        /// The call.
        call_id: String,
        /// dcx's SDP answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
    },
    /// The far end is ringing.
    Ringing {
        /// The call.
        call_id: String,
        /// Whether audio (ringback, announcements) already flows.
        early_media: bool,
    },
    /// The far end answered (outbound), or dcx answered the browser's offer (`accept`).
    Answered {
        /// The call.
        call_id: String,
        /// dcx's SDP answer, when not already sent in `trying`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
    },
    /// dcx's answer to an `update` (the peer's session goes on, media included).
    Updated {
        /// The call.
        call_id: String,
        /// dcx's SDP answer.
        sdp: String,
    },
    /// The call is over.
    Ended {
        /// The call.
        call_id: String,
        /// Why, e.g. `hangup`, `remote_hangup`, `busy`, `no_answer`, `rejected`,
        /// `transferred`, `failed`, `session_expired`; a call dcx refused before any
        /// leg: `destination_blocked`, `limit_exceeded`, `no_route`, `invalid_number`.
        reason: String,
        /// The SIP final response code, when the end came from a SIP leg.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sip_code: Option<u16>,
        /// Words for people: why dcx refused the call (the rule, the limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A call for this browser: answer with `accept` or `reject`.
    Incoming {
        /// Chosen by dcx.
        call_id: String,
        /// The caller: a number or `user:NAME`.
        from: String,
        /// The queue that routed it, for queue calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<String>,
    },
    /// The agent's presence changed (by its own request or by the server).
    AgentState {
        /// The new presence.
        state: AgentStatus,
        /// Seconds of wrap-up left, in `wrap_up`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wrap_up_remaining_s: Option<u64>,
    },
    /// A DTMF digit received from the far end.
    Dtmf {
        /// The call.
        call_id: String,
        /// One of `0-9 * # A-D`.
        digit: char,
    },
    /// The answer to `ping`.
    Pong {
        /// The `seq` of the ping.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A client message failed; see [`crate::ProtocolError`].
    Error {
        /// What kind of failure.
        code: ErrorCode,
        /// What exactly is wrong.
        reason: String,
        /// The call the failing message was about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
    },
}

impl ServerMessage {
    /// The message as one JSON object, ready for a text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("server messages hold only strings, integers, booleans and enums")
    }
}

/// Where a `call` or `transfer` goes, read from its `to` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// A telephone number, as dialed; routing normalizes it.
    Number(&'a str),
    /// Another browser: the `user` claim of its token, in the caller's account.
    User(&'a str),
}

impl<'a> Destination<'a> {
    /// The prefix that marks a browser destination.
    pub const USER_PREFIX: &'static str = "user:";

    /// `user:NAME` is [`Destination::User`], anything else a number.
    pub fn parse(to: &'a str) -> Self {
        match to.strip_prefix(Self::USER_PREFIX) {
            Some(name) => Self::User(name),
            None => Self::Number(to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<ClientMessage> {
        let id = || "c1".to_owned();
        vec![
            ClientMessage::Hello {
                v: 1,
                token: "t".into(),
                resume: None,
            },
            ClientMessage::Call {
                call_id: id(),
                to: "+15550100".into(),
                sdp: "v=0".into(),
            },
            ClientMessage::Accept {
                call_id: id(),
                sdp: "v=0".into(),
            },
            ClientMessage::Reject { call_id: id() },
            ClientMessage::Hangup { call_id: id() },
            ClientMessage::Dtmf {
                call_id: id(),
                digits: "1".into(),
                duration_ms: None,
            },
            ClientMessage::Update {
                call_id: id(),
                sdp: "v=0".into(),
            },
            ClientMessage::Hold { call_id: id() },
            ClientMessage::Unhold { call_id: id() },
            ClientMessage::Mute {
                call_id: id(),
                muted: true,
            },
            ClientMessage::Transfer {
                call_id: id(),
                to: "200".into(),
            },
            ClientMessage::Supervise {
                call_id: id(),
                target: "q-1".into(),
                target_session: None,
                mode: SupervisorMode::Listen,
                sdp: "v=0".into(),
            },
            ClientMessage::SupervisorMode {
                call_id: id(),
                mode: SupervisorMode::Barge,
            },
            ClientMessage::AgentState {
                state: AgentState::Away,
            },
            ClientMessage::Ping { seq: Some(3) },
        ]
    }

    #[test]
    fn type_names_match_serde_tags_and_the_types_list() {
        let messages = one_of_each();
        let names: Vec<_> = messages.iter().map(ClientMessage::type_name).collect();
        assert_eq!(names, ClientMessage::TYPES);
        for message in &messages {
            let value = serde_json::to_value(message).unwrap();
            assert_eq!(value["type"], message.type_name());
        }
    }

    #[test]
    fn call_id_is_reported_for_call_messages_only() {
        for message in one_of_each() {
            let expected = !matches!(
                message,
                ClientMessage::Hello { .. }
                    | ClientMessage::AgentState { .. }
                    | ClientMessage::Ping { .. }
            );
            assert_eq!(message.call_id().is_some(), expected, "{message:?}");
        }
    }

    #[test]
    fn server_messages_serialize_flat_with_snake_case_tags() {
        let msg = ServerMessage::AgentState {
            state: AgentStatus::WrapUp,
            wrap_up_remaining_s: Some(12),
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"agent_state","state":"wrap_up","wrap_up_remaining_s":12}"#
        );
        let msg = ServerMessage::Ended {
            call_id: "c1".into(),
            reason: "busy".into(),
            sip_code: None,
            detail: None,
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"ended","call_id":"c1","reason":"busy"}"#
        );
        let msg = ServerMessage::Dtmf {
            call_id: "c1".into(),
            digit: '#',
        };
        assert_eq!(
            msg.to_json(),
            r##"{"type":"dtmf","call_id":"c1","digit":"#"}"##
        );
    }

    #[test]
    fn server_messages_read_back() {
        let msg = ServerMessage::Welcome {
            v: PROTOCOL_VERSION,
            session_id: "s-00000000000000ff".into(),
            resume_token: "ab".repeat(16),
            user: "alice".into(),
            account: "demo".into(),
            role: Role::Softphone,
            resume_grace_s: 30,
            resumed_calls: vec!["c1".into()],
        };
        let back: ServerMessage = serde_json::from_str(&msg.to_json()).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn agent_state_widens_to_status() {
        assert_eq!(
            AgentStatus::from(AgentState::Available),
            AgentStatus::Available
        );
        assert_eq!(AgentStatus::from(AgentState::Offline), AgentStatus::Offline);
    }

    #[test]
    fn destination_tells_users_from_numbers() {
        assert_eq!(Destination::parse("user:alice"), Destination::User("alice"));
        assert_eq!(
            Destination::parse("+1 555 0100"),
            Destination::Number("+1 555 0100")
        );
        assert_eq!(Destination::parse("user"), Destination::Number("user"));
    }
}
