//! Digest authentication as a client (RFC 3261 22, RFC 7616 with SIP's RFC 8760):
//! answering a `401 WWW-Authenticate` or `407 Proxy-Authenticate` challenge from a
//! trunk with an `Authorization` / `Proxy-Authorization` value.
//!
//! MD5 and SHA-256 (and their `-sess` forms); qop `auth` and `auth-int`, or none
//! (RFC 2069 compatibility). When a response carries several challenges, the strongest
//! algorithm wins (RFC 8760 2.4). Which trunk may challenge us is the caller's rule:
//! answer only challenges in responses from the trunk the request went to, and only
//! with that trunk's credentials.

mod digest;

pub use digest::{authorize, Algorithm, AuthError, Challenge, Credentials, Qop};
