//! Trunks: the carriers dcx sends calls to and takes calls from.
//!
//! Two sans-IO state machines a trunk runs besides its calls: [`Health`] (OPTIONS pings;
//! down after N failures, up after M successes; routing reads the result through its
//! carrier snapshot) and [`Registration`] (outbound REGISTER for registration-based
//! trunks, refreshed before expiry, backing off after failures). Both are driven like the
//! transactions: `handle_*(now, ..)`, `poll_action()`, `poll_timeout()`.

mod health;
mod registration;

pub use health::{Health, HealthConfig, HealthState};
pub use registration::{Registration, RegistrationAction, RegistrationConfig, RegistrationState};
