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

mod error;
mod record;
mod render;
mod schema;
mod store;
mod writer;

#[cfg(test)]
pub(crate) mod fixture;

pub use record::{billable_s, Cdr, HangupSide, LegKind};
pub use render::{render_table, write_json_lines};
pub use store::{CdrQuery, CdrStore};
pub use writer::{CdrSender, CdrWriter};
