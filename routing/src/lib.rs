//! # dcx-routing: where a call goes
//!
//! The pure routing core of dcx: number normalization, rate decks compiled to an FST,
//! least-cost routing with quality demotion and a failover policy, and contact-center
//! agent selection. No I/O, no async, no clock, no OS randomness: the caller passes the
//! deck text, the time (unix seconds or milliseconds, as each API names it), a snapshot of
//! live state, and a [`rng::Random`].
//!
//! ## How the server uses it
//! 1. At start and on reload: [`table::RateTable::from_csv`] -> [`lcr::Router::new`] ->
//!    [`store::RouterStore::replace`]. A failed reload leaves the old router in place.
//! 2. Per call: `store.load().decide(number, &input, &mut rng)` -> a [`lcr::Decision`]
//!    whose candidates the call control tries in order, following each candidate's
//!    [`failover::FailoverPolicy`].
//! 3. At the end of each attempt: [`quality::QualityBook::record`].
//! 4. For queue calls: [`agents`] selects an agent from a snapshot of agent state.
//!
//! ## Rules
//! Errors are values that say what to fix; nothing here panics on deck or number input.
//! Lookups do not allocate once their output buffer has grown.

pub mod agents;
pub mod deck;
pub mod failover;
pub mod lcr;
pub mod number;
pub mod prefix_fst;
pub mod quality;
pub mod rng;
pub mod store;
pub mod table;

pub use deck::{DeckError, DeckProblem, Tariff};
pub use failover::{AttemptOutcome, FailoverPolicy, Next};
pub use lcr::{
    BlockRule, Candidate, CarrierSnapshot, CarrierState, Decision, DecisionInput, Explain,
    ExplainLine, RouteError, Router, RoutingPolicy, Verdict,
};
pub use number::{NormalizeRule, NumberError, NumberPlan, E164};
pub use quality::{CallOutcome, QualityBook, QualityConfig, QualityStats};
pub use store::RouterStore;
pub use table::{CarrierId, RateMatch, RateTable};
