//! Dialog-level machinery of the B2BUA: what lives as long as a call rather than a
//! transaction.
//!
//! - [`answer`]: the UAS 2xx retransmission until the ACK (RFC 3261 13.3.1.4).
//! - [`session_timer`]: RFC 4028 session timers (refresh, or end a dead session).

pub mod answer;
pub mod session_timer;
