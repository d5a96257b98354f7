//! Call control: the B2BUA that joins two legs of a call.
//!
//! Today: SIP-to-SIP transit ([`TransitCall`]): an origin trunk's INVITE is routed by
//! the rate deck and sent to carriers in least-cost order with per-carrier failover,
//! then the two dialogs are bridged until either side hangs up.
//!
//! - [`transit`]: the call's state machine (sans-IO: messages and time in, datagrams,
//!   events and deadlines out); how a call ends is in its `hangup` submodule.
//! - [`attempts`]: the candidates and one INVITE toward one carrier.
//! - [`origin`]: the origin's INVITE, our responses to it, in-call server transactions.
//! - [`legs`]: identifiers, dialogs and request building.
//! - [`events`]: what a call reports for CDRs, quality and metrics.
//! - [`media`]: media anchoring, the signalling half: the call's two RTP ports and the
//!   SDP rewrite pointing each side at dcx; the relay itself is
//!   [`crate::media_relay`], driven by the endpoint's media commands.
//!
//! The SIP endpoint ([`crate::sip::endpoint`]) owns the calls and routes each message to
//! one of them; the calls never see a socket or a clock.
//!
//! Re-INVITEs (hold, unhold, new media addresses) are relayed between the legs by
//! the `transit::reinvite` submodule; an INVITE without SDP (late offer) is handled by
//! `transit::late_offer` (dcx offers both ways, the origin's ACK answers); session
//! timers (RFC 4028) on both legs are `transit::session`'s. Digest authentication toward
//! carriers is in [`attempts`]; skipping carriers whose OPTIONS health is down
//! is the endpoint's ([`crate::sip::probes`]), through routing's carrier snapshot.

pub mod attempts;
pub mod browser;
pub mod dialer;
pub mod events;
pub mod inbound;
pub mod legs;
pub mod limits;
pub mod media;
pub mod origin;
pub mod records;
pub mod refer;
pub mod reoffer;
pub mod transit;

#[cfg(test)]
mod tests;

pub use attempts::Target;
pub use events::{CallEvent, WallClock};
pub use transit::{CallSetup, Routed, TransitCall};
