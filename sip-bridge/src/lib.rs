//! # dcx-sip: the SIP side of dcx
//!
//! dcx's SIP stack: the message layer, sans-IO transactions (RFC 3261 section 17) and
//! dialog machinery, SDP offer/answer, digest auth, trunks and the RTP leg toward
//! carriers. Every protocol core here is sans-IO (bytes and events in, bytes, events and
//! deadlines out; time passed in); the tokio shell that owns the sockets lives in the
//! server.
//!
//! - [`transaction`]: the four RFC 3261 transaction state machines with RFC 6026.
//! - [`dialog`]: 2xx retransmission until the ACK, RFC 4028 session timers.
//! - [`sdp`]: SDP parsing and writing, offer/answer for PCMU/PCMA and telephone-event.
//! - [`auth`]: digest authentication toward trunks (MD5, SHA-256, RFC 8760).
//! - [`trunk`]: OPTIONS health and outbound registration.
//! - [`rtp`]: the carrier leg's RTP port pairs and its RTCP (RFC 3550 reports and statistics).
//!
//! ## The message layer's job
//! - [`message`]: split a datagram or framed buffer into start line, header fields and a
//!   Content-Length-framed body ([`Message::parse_datagram`]).
//! - [`framer`]: cut complete messages out of a TCP byte stream ([`StreamFramer`]).
//! - [`uri`]: `sip:`/`sips:`, `tel:` and opaque absolute URIs.
//! - [`headers`]: typed, lazily parsed access to the headers a B2BUA reads (Via, From,
//!   To, Call-ID, CSeq, Max-Forwards, Contact, Route, Record-Route, Content-Type,
//!   Require/Supported, Session-Expires, the auth headers), as methods on [`Message`].
//! - [`validate`]: the checks to make before acting on a request or a response.
//! - [`builder`]: correct, minimal requests and responses, and [`builder::response_to`].
//!
//! ## Zero-copy
//! A [`Message<'a>`](Message) borrows the buffer it was parsed from: the method, the
//! Request-URI, header names and values, parameters, the reason phrase and the body are
//! all slices of the input. Parsing allocates one `Vec` (the header index); typed
//! accessors allocate nothing, except to unfold a folded value on request. Headers this
//! crate does not interpret, the body (binary-safe) and the reason phrase (UTF-8 or not)
//! pass through byte for byte.
//!
//! ## How a shell uses it (UDP)
//! 1. `Message::parse_datagram(buf)`; on error, if the datagram is a request
//!    ([`message::looks_like_response`] is false), answer with the error's
//!    [`SipError::sip_status`] built from [`Message::parse_head_only`] when that parses.
//! 2. [`validate::request`] (or [`validate::response`]); on error, answer a request with
//!    `response_to(&msg, err.sip_status(), err.reason_phrase(), tag)`, drop a response.
//! 3. Hand the message to the transaction layer, which reads it through the typed
//!    accessors.
//!
//! ## Rules
//! - Never panics on input: every byte sequence gives a message or a [`SipError`]
//!   (checked by property tests and a fuzz target).
//! - Errors say what is wrong (which header, which rule) and map to the SIP status a
//!   request carrying them should be answered with ([`SipError::sip_status`]); a response
//!   that fails is dropped, never answered.
//! - Lenient where RFC 3261 and RFC 4475 ask for robustness (bare LF line ends, folded
//!   lines, compact and any-case names, whitespace around separators, unknown methods,
//!   schemes and headers), strict where leniency would change meaning (separators in the
//!   start line, Content-Length framing, quoting, `<>` around addresses with `?` or `,`).
//! - No I/O, no clock, no randomness: branches, tags and Call-IDs are passed in.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod builder;
pub mod dialog;
mod error;
pub mod framer;
pub mod headers;
pub mod message;
pub mod params;
pub mod rtp;
pub mod sdp;
mod syntax;
pub mod transaction;
pub mod trunk;
pub mod uri;
pub mod validate;

pub use builder::{response_to, RequestBuilder, ResponseBuilder, ViaSpec};
pub use error::SipError;
pub use framer::{FramerLimits, StreamFramer};
pub use message::{Header, HeaderName, Message, Method};
pub use uri::Uri;

/// Removes the backslashes of quoted-pair escapes from the inside of a quoted string
/// (as returned by parameter and display-name accessors); borrows when there are none.
pub fn unquote(inner: &str) -> std::borrow::Cow<'_, str> {
    syntax::unescape_quoted(inner)
}
