//! Reading a client's text frame: limits, the error-code ladder, field rules.
//!
//! [`ClientMessage::parse`] climbs one rung at a time so the client learns what it got
//! wrong: frame too large (`too_large`) -> not a JSON object (`malformed`) -> no known
//! `type` (`unknown_type`) -> a `hello` for another version (`unsupported_version`) ->
//! fields serde rejects (`invalid_message`, with serde's reason) -> field values outside
//! the rules below (`invalid_message`). Errors name the `call_id` of the frame when it
//! has a well-formed one, so a client can tie the error to its call.
//!
//! Rules serde cannot express:
//! - `call_id`: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
//! - `to`: 1 to 64 bytes, no control characters; `user:NAME` needs a non-empty name.
//! - `sdp`: 1 byte to 64 KiB.
//! - `digits`: 1 to 32 of `0-9 * # A-D`; `duration_ms` 40 to 5000.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ErrorCode, ProtocolError};
use crate::message::{ClientMessage, Destination, PROTOCOL_VERSION};

/// Largest text frame accepted, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest SDP accepted, in bytes.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Longest `call_id`, in characters.
pub const MAX_CALL_ID_CHARS: usize = 64;
/// Longest `to`, in bytes.
pub const MAX_TO_BYTES: usize = 64;
/// Most digits in one `dtmf` message.
pub const MAX_DTMF_DIGITS: usize = 32;
/// Allowed `dtmf.duration_ms`, milliseconds.
pub const DTMF_DURATION_MS: std::ops::RangeInclusive<u32> = 40..=5000;

impl ClientMessage {
    /// Parses and checks one text frame; see the module doc for the order of checks.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "frame is {} bytes, the limit is {MAX_FRAME_BYTES}",
                    text.len()
                ),
            ));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ProtocolError::new(ErrorCode::Malformed, format!("not JSON: {e}")))?;
        let Value::Object(object) = &value else {
            return Err(ProtocolError::new(
                ErrorCode::Malformed,
                "a frame must hold one JSON object",
            ));
        };
        let call_id = object
            .get("call_id")
            .and_then(Value::as_str)
            .filter(|id| is_call_id(id))
            .map(str::to_owned);
        let attach = |err: ProtocolError| match &call_id {
            Some(id) => err.with_call_id(id.clone()),
            None => err,
        };
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => return Err(unknown_type("\"type\" must be a string")),
            None => return Err(unknown_type("the object has no \"type\"")),
        };
        if !Self::TYPES.contains(&kind) {
            return Err(unknown_type(format!("there is no message type {kind:?}")));
        }
        if kind == "hello" {
            if let Some(v) = object.get("v").and_then(Value::as_u64) {
                if v != u64::from(PROTOCOL_VERSION) {
                    return Err(ProtocolError::new(
                        ErrorCode::UnsupportedVersion,
                        format!("protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}"),
                    ));
                }
            }
        }
        let message = Self::deserialize(value)
            .map_err(|e| attach(ProtocolError::new(ErrorCode::InvalidMessage, e.to_string())))?;
        message
            .check_fields()
            .map_err(|reason| attach(ProtocolError::new(ErrorCode::InvalidMessage, reason)))?;
        Ok(message)
    }

    /// The rules of the module doc; `Err` holds the reason.
    fn check_fields(&self) -> Result<(), String> {
        if let Some(id) = self.call_id() {
            if !is_call_id(id) {
                return Err(format!(
                    "call_id must be 1 to {MAX_CALL_ID_CHARS} characters of A-Z a-z 0-9 _ -"
                ));
            }
        }
        match self {
            Self::Call { to, sdp, .. } => {
                check_to(to)?;
                check_sdp(sdp)
            }
            Self::Accept { sdp, .. } | Self::Update { sdp, .. } => check_sdp(sdp),
            Self::Supervise {
                target,
                target_session,
                sdp,
                ..
            } => {
                if !is_call_id(target) {
                    return Err(format!(
                        "target must be 1 to {MAX_CALL_ID_CHARS} characters of A-Z a-z 0-9 _ -"
                    ));
                }
                if target_session
                    .as_ref()
                    .is_some_and(|s| s.is_empty() || s.len() > 64)
                {
                    return Err("target_session must be 1 to 64 bytes".to_owned());
                }
                check_sdp(sdp)
            }
            Self::Transfer { to, .. } => check_to(to),
            Self::Dtmf {
                digits,
                duration_ms,
                ..
            } => check_dtmf(digits, *duration_ms),
            _ => Ok(()),
        }
    }
}

fn unknown_type(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::new(ErrorCode::UnknownType, reason)
}

/// Whether `id` is a valid `call_id`.
pub fn is_call_id(id: &str) -> bool {
    (1..=MAX_CALL_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_to(to: &str) -> Result<(), String> {
    if to.is_empty() || to.len() > MAX_TO_BYTES {
        return Err(format!("to must be 1 to {MAX_TO_BYTES} bytes"));
    }
    if to.chars().any(char::is_control) {
        return Err("to must not contain control characters".into());
    }
    if Destination::parse(to) == Destination::User("") {
        return Err("to \"user:\" needs a user name".into());
    }
    Ok(())
}

fn check_sdp(sdp: &str) -> Result<(), String> {
    if sdp.is_empty() || sdp.len() > MAX_SDP_BYTES {
        return Err(format!("sdp must be 1 to {MAX_SDP_BYTES} bytes"));
    }
    Ok(())
}

fn check_dtmf(digits: &str, duration_ms: Option<u32>) -> Result<(), String> {
    let valid = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D');
    if digits.is_empty() || digits.len() > MAX_DTMF_DIGITS || !digits.chars().all(valid) {
        return Err(format!(
            "digits must be 1 to {MAX_DTMF_DIGITS} of 0-9 * # A-D"
        ));
    }
    if let Some(ms) = duration_ms {
        if !DTMF_DURATION_MS.contains(&ms) {
            return Err(format!(
                "duration_ms must be {} to {}",
                DTMF_DURATION_MS.start(),
                DTMF_DURATION_MS.end()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::AgentState;
    use proptest::prelude::*;

    fn code(text: &str) -> ErrorCode {
        ClientMessage::parse(text).unwrap_err().code
    }

    #[test]
    fn parses_each_kind() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"hello","v":1,"token":"a.b.c"}"#),
            Ok(ClientMessage::Hello {
                v: 1,
                token: "a.b.c".into(),
                resume: None
            })
        );
        assert_eq!(
            ClientMessage::parse(
                r#"{"type":"call","call_id":"c-1","to":"user:alice","sdp":"v=0\r\n"}"#
            ),
            Ok(ClientMessage::Call {
                call_id: "c-1".into(),
                to: "user:alice".into(),
                sdp: "v=0\r\n".into()
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"agent_state","state":"available"}"#),
            Ok(ClientMessage::AgentState {
                state: AgentState::Available
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ping"}"#),
            Ok(ClientMessage::Ping { seq: None })
        );
        assert_eq!(
            ClientMessage::parse(
                r#"{"type":"dtmf","call_id":"c1","digits":"12*#AD","duration_ms":100}"#
            ),
            Ok(ClientMessage::Dtmf {
                call_id: "c1".into(),
                digits: "12*#AD".into(),
                duration_ms: Some(100)
            })
        );
    }

    #[test]
    fn not_json_or_not_an_object_is_malformed() {
        assert_eq!(code("hello"), ErrorCode::Malformed);
        assert_eq!(code(r#"{"type":"ping""#), ErrorCode::Malformed);
        assert_eq!(code(r#"["ping"]"#), ErrorCode::Malformed);
        assert_eq!(code("42"), ErrorCode::Malformed);
        assert_eq!(code(""), ErrorCode::Malformed);
    }

    #[test]
    fn missing_or_unknown_type_is_unknown_type() {
        assert_eq!(code(r#"{"seq":1}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"answer"}"#), ErrorCode::UnknownType);
        // Tags are exact: no case folding.
        assert_eq!(code(r#"{"type":"Ping"}"#), ErrorCode::UnknownType);
    }

    #[test]
    fn bad_fields_are_invalid_message_with_serde_reason() {
        let err = ClientMessage::parse(r#"{"type":"call","call_id":"c1","to":"100"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidMessage);
        assert!(err.reason.contains("sdp"), "{}", err.reason);
        assert_eq!(err.call_id.as_deref(), Some("c1"));

        assert_eq!(
            code(r#"{"type":"mute","call_id":"c1","muted":"yes"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"agent_state","state":"busy"}"#),
            ErrorCode::InvalidMessage,
            "busy is set by the server only"
        );
        assert_eq!(
            code(r#"{"type":"agent_state","state":"wrap_up"}"#),
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            ClientMessage::parse(r#"{"type":"hangup","call_id":"c1","cause":"x"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidMessage);
        assert!(err.reason.contains("cause"), "{}", err.reason);
    }

    #[test]
    fn other_hello_versions_are_unsupported() {
        assert_eq!(
            code(r#"{"type":"hello","v":2,"token":"t"}"#),
            ErrorCode::UnsupportedVersion
        );
        // Checked before the fields: a v2 hello may look different.
        assert_eq!(
            code(r#"{"type":"hello","v":2,"auth":{}}"#),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            code(r#"{"type":"hello","token":"t"}"#),
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn call_id_rules() {
        let hangup = |id: &str| format!(r#"{{"type":"hangup","call_id":"{id}"}}"#);
        assert!(ClientMessage::parse(&hangup(&"a".repeat(64))).is_ok());
        assert!(ClientMessage::parse(&hangup("A_z-09")).is_ok());
        for bad in ["", "a b", "a.b", "é", &"a".repeat(65)] {
            let err = ClientMessage::parse(&hangup(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidMessage, "{bad:?}");
            assert_eq!(err.call_id, None, "a bad call_id is not echoed");
        }
    }

    #[test]
    fn to_rules() {
        let call =
            |to: &str| format!(r#"{{"type":"call","call_id":"c1","to":"{to}","sdp":"v=0"}}"#);
        assert!(ClientMessage::parse(&call("+1 (555) 0100")).is_ok());
        assert!(ClientMessage::parse(&call(&"9".repeat(64))).is_ok());
        for bad in ["", "user:", r"1\u0000", &"9".repeat(65)] {
            let err = ClientMessage::parse(&call(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidMessage, "{bad:?}");
            assert_eq!(err.call_id.as_deref(), Some("c1"));
        }
        let transfer = r#"{"type":"transfer","call_id":"c1","to":""}"#;
        assert_eq!(code(transfer), ErrorCode::InvalidMessage);
    }

    #[test]
    fn supervise_rules() {
        let supervise = |target: &str, extra: &str| {
            format!(
                r#"{{"type":"supervise","call_id":"s1","target":"{target}","mode":"whisper","sdp":"v=0"{extra}}}"#
            )
        };
        assert!(ClientMessage::parse(&supervise("q-00ff", "")).is_ok());
        assert!(ClientMessage::parse(&supervise("c1", r#","target_session":"s-1""#)).is_ok());
        for (target, extra) in [
            ("", ""),
            ("a b", ""),
            ("c1", r#","target_session":"""#),
            ("c1", r#","mode2":"barge""#),
        ] {
            let err = ClientMessage::parse(&supervise(target, extra)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidMessage, "{target:?} {extra}");
        }
        let bad_mode = r#"{"type":"supervisor_mode","call_id":"s1","mode":"shout"}"#;
        assert_eq!(code(bad_mode), ErrorCode::InvalidMessage);
    }

    #[test]
    fn sdp_rules() {
        assert_eq!(
            code(r#"{"type":"accept","call_id":"c1","sdp":""}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"call","call_id":"c1","to":"1","sdp":""}"#),
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn dtmf_rules() {
        let dtmf = |digits: &str, ms: &str| {
            format!(r#"{{"type":"dtmf","call_id":"c1","digits":"{digits}"{ms}}}"#)
        };
        assert!(ClientMessage::parse(&dtmf(&"0".repeat(32), "")).is_ok());
        assert!(ClientMessage::parse(&dtmf("5", r#","duration_ms":40"#)).is_ok());
        assert!(ClientMessage::parse(&dtmf("5", r#","duration_ms":5000"#)).is_ok());
        for (digits, ms) in [
            ("", ""),
            ("a", ""),
            ("E", ""),
            ("1 2", ""),
            (&"0".repeat(33), ""),
            ("5", r#","duration_ms":39"#),
            ("5", r#","duration_ms":5001"#),
        ] {
            assert_eq!(
                code(&dtmf(digits, ms)),
                ErrorCode::InvalidMessage,
                "{digits:?} {ms}"
            );
        }
    }

    #[test]
    fn frame_limit_is_64_kib() {
        // A valid message padded with whitespace to exactly the limit parses...
        let msg = r#"{"type":"ping"}"#;
        let at_limit = format!("{msg}{}", " ".repeat(MAX_FRAME_BYTES - msg.len()));
        assert!(ClientMessage::parse(&at_limit).is_ok());
        // ...one byte more does not, whatever it holds.
        assert_eq!(code(&format!("{at_limit} ")), ErrorCode::TooLarge);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(code(&deep), ErrorCode::Malformed);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = ClientMessage::parse(&text);
        }

        #[test]
        fn arbitrary_objects_never_panic(
            kind in prop::sample::select(ClientMessage::TYPES.to_vec()),
            call_id in ".{0,70}",
            extra in "[a-z_]{1,12}",
            n in any::<i64>(),
        ) {
            let text = serde_json::json!({
                "type": kind, "call_id": call_id, "to": call_id, "sdp": call_id,
                "digits": call_id, "v": n, "token": call_id, extra: n,
            })
            .to_string();
            let _ = ClientMessage::parse(&text);
        }
    }
}
