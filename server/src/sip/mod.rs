//! The SIP side of the gateway: a sans-IO [`endpoint::Endpoint`] (parsing, validation,
//! source checks, server transactions, the requests it can answer itself) and the tokio
//! shell that owns the UDP socket ([`udp`]).

pub mod endpoint;
pub mod udp;
