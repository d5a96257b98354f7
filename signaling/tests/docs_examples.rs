//! `docs/signaling.md` is checked against the crate: every example frame, the error-code
//! table and the demo tokens. A doc edit that drifts from the code fails here.
//!
//! Frames are the lines `→ JSON` (client) and `← JSON` (server) in fenced blocks. Server
//! frames must read as a [`ServerMessage`] and serialize back to the same text. Client
//! frames must parse and serialize back, unless the next frame is an `error` this crate
//! produces (parse, gate, resume), in which case the crate must give that exact error.

use std::time::{Duration, Instant};

use dcx_signaling::{
    ClientMessage, Connection, ErrorCode, ProtocolError, Role, ServerMessage, Sessions, TokenKey,
};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/signaling.md"));
const DEMO_KEY: &[u8] = b"dcx-demo-signing-key-change-me!!";
const NOW_UNIX: u64 = 1_700_000_000;

#[derive(Debug)]
enum Frame<'a> {
    Client(&'a str),
    Server(&'a str),
}

/// The frames of each fenced block, in order.
fn blocks() -> Vec<Vec<Frame<'static>>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<Frame>> = None;
    for line in DOC.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Vec::new()),
            }
        } else if let Some(block) = current.as_mut() {
            if let Some(json) = line.strip_prefix("→ ") {
                block.push(Frame::Client(json));
            } else if let Some(json) = line.strip_prefix("← ") {
                block.push(Frame::Server(json));
            }
        }
    }
    blocks.retain(|b| !b.is_empty());
    blocks
}

fn key() -> TokenKey {
    TokenKey::new(DEMO_KEY).unwrap()
}

/// What the crate answers to `text` sent alone, if it is one of the errors the crate
/// makes itself.
fn crate_error(text: &str, expected: ErrorCode) -> Option<ProtocolError> {
    let message = match ClientMessage::parse(text) {
        Ok(message) => message,
        Err(err) => return Some(err),
    };
    match expected {
        ErrorCode::NotAuthenticated => Connection::new().check(&message).err(),
        ErrorCode::ResumeFailed => {
            let ClientMessage::Hello { token, resume, .. } = message else {
                panic!("resume_failed follows a hello");
            };
            let claims = key().verify(&token, NOW_UNIX).unwrap();
            let mut sessions = Sessions::new(Duration::from_secs(30));
            sessions
                .authenticate(Instant::now(), claims, resume.as_deref(), &mut || 1)
                .err()
        }
        _ => None,
    }
}

#[test]
fn the_doc_has_examples_of_every_client_message() {
    let blocks = blocks();
    let sent: Vec<_> = blocks
        .iter()
        .flatten()
        .filter_map(|f| match f {
            Frame::Client(text) => ClientMessage::parse(text).ok(),
            Frame::Server(_) => None,
        })
        .map(|m| m.type_name())
        .collect();
    for kind in ClientMessage::TYPES {
        assert!(sent.contains(&kind), "no example of {kind}");
    }
    assert!(blocks.len() >= 8, "found {} example blocks", blocks.len());
}

#[test]
fn server_frames_are_canonical_server_messages() {
    for frame in blocks().iter().flatten() {
        if let Frame::Server(text) = frame {
            let message: ServerMessage = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{text}\n is not a server message: {e}"));
            assert_eq!(&message.to_json(), text, "not in canonical form");
        }
    }
}

#[test]
fn client_frames_parse_or_fail_exactly_as_shown() {
    let mut checked_errors = 0;
    for block in blocks() {
        for (i, frame) in block.iter().enumerate() {
            let Frame::Client(text) = frame else { continue };
            let reply = block[i + 1..].iter().find_map(|f| match f {
                Frame::Server(reply) => Some(serde_json::from_str::<ServerMessage>(reply)),
                Frame::Client(_) => None,
            });
            if let Some(Ok(ServerMessage::Error {
                code,
                reason,
                call_id,
            })) = &reply
            {
                if let Some(err) = crate_error(text, *code) {
                    assert_eq!(
                        (err.code, &err.reason, &err.call_id),
                        (*code, reason, call_id),
                        "{text}"
                    );
                    checked_errors += 1;
                    continue;
                }
            }
            let message = ClientMessage::parse(text)
                .unwrap_or_else(|e| panic!("{text}\n does not parse: {e}"));
            assert_eq!(&serde_json::to_string(&message).unwrap(), text);
        }
    }
    assert!(
        checked_errors >= 7,
        "checked {checked_errors} error examples"
    );
}

#[test]
fn hello_examples_carry_tokens_that_match_their_welcome() {
    let mut checked = 0;
    for block in blocks() {
        for pair in block.windows(2) {
            let [Frame::Client(hello), Frame::Server(welcome)] = pair else {
                continue;
            };
            let (
                Ok(ClientMessage::Hello { token, .. }),
                Ok(ServerMessage::Welcome {
                    user,
                    account,
                    role,
                    ..
                }),
            ) = (
                ClientMessage::parse(hello),
                serde_json::from_str::<ServerMessage>(welcome),
            )
            else {
                continue;
            };
            let claims = key().verify(&token, NOW_UNIX).unwrap();
            assert_eq!(
                (claims.user, claims.account, claims.role),
                (user, account, role)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3);
}

#[test]
fn error_code_table_matches_the_crate() {
    let rows: Vec<(ErrorCode, bool)> = DOC
        .lines()
        .filter_map(|line| {
            let cells: Vec<_> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let code: ErrorCode = serde_json::from_value(code.into()).ok()?;
            let closes = match *cells.get(2)? {
                "**yes**" => true,
                "no" => false,
                other => panic!("{code}: closes column says {other:?}"),
            };
            Some((code, closes))
        })
        .collect();
    assert_eq!(rows.len(), 18, "every code once");
    for (code, closes) in rows {
        assert_eq!(code.closes_connection(), closes, "{code}");
    }
}

#[test]
fn demo_token_table_verifies_with_the_demo_key() {
    let mut seen = Vec::new();
    for line in DOC.lines().filter(|l| l.contains("| `eyJ")) {
        let cells: Vec<_> = line
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let claims = key().verify(cells[3], NOW_UNIX).unwrap();
        let role: Role = serde_json::from_value(cells[2].into()).unwrap();
        assert_eq!((claims.user.as_str(), claims.role), (cells[1], role));
        assert_eq!(
            (claims.account.as_str(), claims.exp),
            ("demo", 4_102_444_800)
        );
        seen.push(claims.user);
    }
    assert_eq!(seen, ["alice", "agent1", "agent2", "admin"]);
}
