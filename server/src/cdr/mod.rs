//! Call detail records: what each call and each of its carrier attempts did and cost,
//! kept in an embedded `SQLite` file and shown by `dcx cdr`.
//!
//! Shape:
//! - [`Cdr`] is one record: attempt 0 describes the call, attempts 1..=n each carrier
//!   (or agent) tried, in order. The call's owner fills it in with times it took and the
//!   cost it computed from the tariff; this module never reads a clock or rates a call.
//! - [`CdrStore`] is the `SQLite` file (WAL, `synchronous=NORMAL`, versioned schema with
//!   migrations), used by one thread.
//! - [`CdrWriter`] owns the store on its own thread; call tasks hold a [`CdrSender`]
//!   whose `send` never blocks and drops (and counts) a record rather than stall a call
//!   when the disk falls behind. `shutdown` writes everything accepted.
//! - [`render_table`] and [`write_json_lines`] are the two output formats of `dcx cdr`.
//!
//! Run loop of the gateway: `CdrStore::open(path)` -> `CdrWriter::spawn(store,
//! CdrWriter::DEFAULT_CAPACITY)` -> hand `writer.handle()` to call control; each call
//! sends its attempt records and its call record when it ends -> on SIGTERM, after the
//! calls have ended, `writer.shutdown()`.

// Until the gateway and `dcx cdr` call this module (issue 3), parts of the API are unused
// in the binary; the test build, which uses all of it, still checks.
#![cfg_attr(not(test), allow(dead_code, unused_imports))]

mod error;
mod record;
mod render;
mod schema;
mod store;
mod writer;

#[cfg(test)]
mod fixture;

pub use error::CdrError;
pub use record::{billable_s, format_nano, nano_to_f64, Cdr, HangupSide, LegKind, NANO};
pub use render::{format_utc_ms, render_json_lines, render_table, write_json_lines};
pub use schema::SCHEMA_VERSION;
pub use store::{CdrQuery, CdrStore};
pub use writer::{CdrSender, CdrStats, CdrWriter};
