//! # dcx-signaling: the browser protocol
//!
//! How a browser talks to dcx over its WebSocket (`/ws`): typed JSON messages
//! ([`ClientMessage`], [`ServerMessage`]), HS256 auth tokens ([`TokenKey`]), per-socket
//! gating ([`Connection`]) and sessions that survive a reconnect ([`Sessions`]). The
//! reference for client authors is `docs/signaling.md`; its example frames are tests.
//!
//! Sans-IO: no sockets, no async, no clock reads (`Instant` and unix seconds come in as
//! arguments), no OS randomness (a [`Random`] comes in). No media and no call state: the
//! server's call control acts on the messages this crate lets through.
//!
//! ## The run loop the server follows
//! Per socket, one [`Connection`]; per node, one [`Sessions`]. For each text frame:
//! 1. [`ClientMessage::parse`] -> on error send [`ProtocolError::to_server_message`];
//! 2. [`Connection::check`] -> on error send it;
//! 3. `hello`: [`TokenKey::verify`] then [`Sessions::authenticate`] -> [`Connection::open`]
//!    and send [`Welcome::to_server_message`] (if [`Welcome::took_over`], close the
//!    session's previous socket); on error [`Connection::fail`] and send it;
//! 4. anything else: dispatch to call control, which answers with [`ServerMessage`]s
//!    (or a [`ProtocolError`] such as `unknown_call`), sent with [`ServerMessage::to_json`].
//!
//! After sending an error whose [`ErrorCode::closes_connection`] is true, close the socket.
//! When a socket closes, pass [`Connection::close`]'s attachment to [`Sessions::detach`].
//! Arm one timer at [`Sessions::poll_timeout`]; when it fires call
//! [`Sessions::handle_timeout`], then end the calls of every [`Sessions::poll_expired`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use dcx_signaling::*;
//!
//! let key = TokenKey::new(b"a-secret-of-at-least-16-bytes").unwrap();
//! let mut sessions = Sessions::new(DEFAULT_RESUME_GRACE);
//! let mut rng = { let mut n = 0; move || { n += 1; n } }; // the server passes a CSPRNG
//! let (now, now_unix) = (Instant::now(), 1_700_000_000);
//! let token = key.sign(&Claims {
//!     account: "demo".into(), user: "alice".into(), role: Role::Softphone, exp: now_unix + 3600,
//! });
//!
//! let mut conn = Connection::new();
//! let mut handle = |conn: &mut Connection, sessions: &mut Sessions, text: &str| -> String {
//!     let result = ClientMessage::parse(text).and_then(|msg| {
//!         conn.check(&msg)?;
//!         match msg {
//!             ClientMessage::Hello { token, resume, .. } => {
//!                 let claims = key.verify(&token, now_unix)?;
//!                 let welcome = sessions.authenticate(now, claims, resume.as_deref(), &mut rng)?;
//!                 conn.open(&welcome);
//!                 Ok(welcome.to_server_message(vec![]))
//!             }
//!             ClientMessage::Ping { seq } => Ok(ServerMessage::Pong { seq }),
//!             _ => Err(ProtocolError::new(ErrorCode::Internal, "call control is elsewhere")),
//!         }
//!     });
//!     result.unwrap_or_else(|err| { conn.fail(&err); err.to_server_message() }).to_json()
//! };
//!
//! let reply = handle(&mut conn, &mut sessions, r#"{"type":"ping","seq":1}"#);
//! assert!(reply.contains(r#""code":"not_authenticated""#));
//! assert_eq!(conn.state(), ConnectionState::Closed); // the server closes this socket
//!
//! let mut conn = Connection::new();
//! let hello = format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#);
//! assert!(handle(&mut conn, &mut sessions, &hello).starts_with(r#"{"type":"welcome","v":1,"#));
//! assert!(handle(&mut conn, &mut sessions, "not json").contains(r#""code":"malformed""#));
//! assert_eq!(handle(&mut conn, &mut sessions, r#"{"type":"ping","seq":2}"#), r#"{"type":"pong","seq":2}"#);
//!
//! // The socket drops; nobody resumes; the grace passes.
//! sessions.detach(now, conn.close().unwrap());
//! let deadline = sessions.poll_timeout().unwrap();
//! assert_eq!(deadline, now + Duration::from_secs(30));
//! sessions.handle_timeout(deadline);
//! assert!(sessions.poll_expired().is_some()); // end its calls, write CDRs
//! ```
//!
//! ## Rules
//! Nothing here panics on input from the network: every frame, token and resume token
//! becomes a value or a [`ProtocolError`]. Errors carry codes; match on the code, never
//! on the reason text.

mod base64url;
pub mod connection;
pub mod error;
mod hmac;
pub mod message;
pub mod parse;
pub mod random;
pub mod session;
pub mod token;

pub use connection::{Connection, ConnectionState};
pub use error::{ErrorCode, ProtocolError};
pub use message::{
    AgentState, AgentStatus, ClientMessage, Destination, ServerMessage, SupervisorMode,
    PROTOCOL_VERSION,
};
pub use parse::{is_call_id, MAX_FRAME_BYTES};
pub use random::Random;
pub use session::{Attachment, SessionId, Sessions, Welcome, DEFAULT_RESUME_GRACE};
pub use token::{Claims, KeyError, Role, TokenError, TokenKey};
