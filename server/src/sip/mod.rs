//! The SIP side of the gateway: a sans-IO [`endpoint::Endpoint`] (parsing, validation,
//! source checks, server transactions, the requests it can answer itself), the transit
//! calls it runs ([`calls`], with the call state machines in [`crate::call`]), the
//! OPTIONS health probes of outbound trunks ([`probes`]) and the tokio shell that owns
//! the UDP socket ([`udp`]) and the TCP connections ([`tcp`]).

pub mod calls;
pub mod endpoint;
pub mod probes;
pub mod provision;
pub mod registrations;
pub mod tcp;
pub mod udp;
