//! Wire errors: the codes a client sees in `error` messages and which of them end the
//! connection.
//!
//! Everything that goes wrong with a client's message becomes a [`ProtocolError`], which
//! carries a machine-readable [`ErrorCode`], a human-readable reason and, when the failing
//! message named one, its `call_id`. The server sends [`ProtocolError::to_server_message`]
//! and then closes the socket if [`ErrorCode::closes_connection`] says so. Clients match
//! on the code, never on the reason text.

use serde::{Deserialize, Serialize};

use crate::message::ServerMessage;

/// The machine-readable code of an `error` message (`snake_case` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not JSON, or not a JSON object.
    Malformed,
    /// The frame is larger than [`crate::MAX_FRAME_BYTES`].
    TooLarge,
    /// The object has no `type` string, or names a type this protocol does not have.
    UnknownType,
    /// A known type with missing, extra or badly typed fields, or a field value outside
    /// its allowed range (e.g. a `call_id` with a space).
    InvalidMessage,
    /// `hello.v` names a protocol version this server does not speak.
    UnsupportedVersion,
    /// A message other than `hello` before authentication.
    NotAuthenticated,
    /// A second `hello` on an authenticated connection.
    AlreadyAuthenticated,
    /// The token is malformed, signed with another key or algorithm, or has bad claims.
    TokenInvalid,
    /// The token's `exp` has passed.
    TokenExpired,
    /// The token's role may not do this (e.g. a softphone sending `agent_state`).
    Forbidden,
    /// No call with this `call_id` on this session.
    UnknownCall,
    /// A `call` reused a `call_id` that is still live on this session.
    CallExists,
    /// The call is not in a state where this message applies (e.g. `hold` while ringing).
    BadState,
    /// The resume token is unknown, expired, or belongs to another user.
    ResumeFailed,
    /// The destination is blocked for this account (fraud rules, blocklist).
    DestinationBlocked,
    /// No carrier or user can take a call to this destination.
    NoRoute,
    /// A limit was hit (concurrent calls, rate per minute, spend).
    LimitExceeded,
    /// A fault inside dcx; the reason says what, the client may retry.
    Internal,
}

impl ErrorCode {
    /// Whether the server closes the WebSocket after sending this error.
    ///
    /// Only errors after which nothing on this connection could succeed close it: the
    /// client failed or skipped authentication, or speaks another version. Every other
    /// error is about one message or one call, and the connection stays open.
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            Self::NotAuthenticated
                | Self::TokenInvalid
                | Self::TokenExpired
                | Self::UnsupportedVersion
                | Self::ResumeFailed
        )
    }

    /// The wire spelling, e.g. `"token_expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::UnknownType => "unknown_type",
            Self::InvalidMessage => "invalid_message",
            Self::UnsupportedVersion => "unsupported_version",
            Self::NotAuthenticated => "not_authenticated",
            Self::AlreadyAuthenticated => "already_authenticated",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::Forbidden => "forbidden",
            Self::UnknownCall => "unknown_call",
            Self::CallExists => "call_exists",
            Self::BadState => "bad_state",
            Self::ResumeFailed => "resume_failed",
            Self::DestinationBlocked => "destination_blocked",
            Self::NoRoute => "no_route",
            Self::LimitExceeded => "limit_exceeded",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest reason kept, in bytes: serde's reasons can quote client input.
const MAX_REASON_BYTES: usize = 200;

/// A client message that cannot be carried out, as the client will be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct ProtocolError {
    /// What kind of failure, for the client's code.
    pub code: ErrorCode,
    /// What exactly is wrong, for the person reading the log.
    pub reason: String,
    /// The call the failing message was about, if it named one.
    pub call_id: Option<String>,
}

impl ProtocolError {
    /// An error not tied to a call. A reason longer than 200 bytes is cut short.
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_BYTES {
            let mut end = MAX_REASON_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        Self {
            code,
            reason,
            call_id: None,
        }
    }

    /// The same error, about call `call_id`.
    #[must_use]
    pub fn with_call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = Some(call_id.into());
        self
    }

    /// The `error` message to send to the client.
    pub fn to_server_message(&self) -> ServerMessage {
        ServerMessage::Error {
            code: self.code,
            reason: self.reason.clone(),
            call_id: self.call_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 18] = [
        ErrorCode::Malformed,
        ErrorCode::TooLarge,
        ErrorCode::UnknownType,
        ErrorCode::InvalidMessage,
        ErrorCode::UnsupportedVersion,
        ErrorCode::NotAuthenticated,
        ErrorCode::AlreadyAuthenticated,
        ErrorCode::TokenInvalid,
        ErrorCode::TokenExpired,
        ErrorCode::Forbidden,
        ErrorCode::UnknownCall,
        ErrorCode::CallExists,
        ErrorCode::BadState,
        ErrorCode::ResumeFailed,
        ErrorCode::DestinationBlocked,
        ErrorCode::NoRoute,
        ErrorCode::LimitExceeded,
        ErrorCode::Internal,
    ];

    #[test]
    fn as_str_matches_serde_spelling() {
        for code in ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn only_auth_and_version_failures_close_the_connection() {
        let closing: Vec<_> = ALL
            .into_iter()
            .filter(|c| c.closes_connection())
            .map(ErrorCode::as_str)
            .collect();
        assert_eq!(
            closing,
            [
                "unsupported_version",
                "not_authenticated",
                "token_invalid",
                "token_expired",
                "resume_failed"
            ]
        );
    }

    #[test]
    fn error_message_carries_code_reason_and_call() {
        let err = ProtocolError::new(ErrorCode::UnknownCall, "no call c1").with_call_id("c1");
        assert_eq!(
            err.to_server_message().to_json(),
            r#"{"type":"error","code":"unknown_call","reason":"no call c1","call_id":"c1"}"#
        );
        assert_eq!(err.to_string(), "unknown_call: no call c1");
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let err = ProtocolError::new(ErrorCode::InvalidMessage, "é".repeat(150));
        assert!(err.reason.len() <= MAX_REASON_BYTES + '…'.len_utf8());
        assert!(err.reason.ends_with('…'));
    }
}
