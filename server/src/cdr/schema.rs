//! The CDR schema and its migrations.
//!
//! `schema_version` holds one row per migration applied (version, UTC time); the file's
//! version is the highest, 0 for a new file. Migration `n` takes a file from version
//! `n - 1` to `n`, in its own transaction together with its version row, so a crash
//! leaves the file at one version or the next, never between. Migrations are only ever
//! appended: a released one is never edited.

use super::error::{at, CdrError};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The migrations, oldest first: `MIGRATIONS[i]` takes version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the CDR table. STRICT so that a wrong type is refused rather than stored;
    // `rate_per_min` is derived from the exact nano-units for people writing SQL.
    "CREATE TABLE cdr (
        id                INTEGER PRIMARY KEY,
        call_id           TEXT    NOT NULL,
        attempt           INTEGER NOT NULL CHECK (attempt >= 0),
        leg               TEXT    NOT NULL CHECK (leg IN ('sip', 'browser')),
        trunk_in          TEXT    NOT NULL,
        trunk_out         TEXT,
        caller            TEXT    NOT NULL,
        callee            TEXT    NOT NULL,
        callee_normalized TEXT    NOT NULL,
        prefix            TEXT,
        rate_per_min_nano INTEGER NOT NULL,
        rate_per_min      REAL GENERATED ALWAYS AS (rate_per_min_nano / 1e9) VIRTUAL,
        start_ms          INTEGER NOT NULL,
        first_ring_ms     INTEGER,
        answer_ms         INTEGER,
        end_ms            INTEGER NOT NULL,
        duration_s        INTEGER NOT NULL CHECK (duration_s >= 0),
        cost_nano         INTEGER NOT NULL,
        sip_code          INTEGER NOT NULL CHECK (sip_code BETWEEN 100 AND 699),
        hangup            TEXT    NOT NULL CHECK (hangup IN ('caller', 'callee', 'system')),
        reason            TEXT    NOT NULL,
        queue             TEXT,
        agent             TEXT,
        queue_wait_ms     INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX cdr_call_id_attempt ON cdr (call_id, attempt);
    CREATE INDEX cdr_start_ms ON cdr (start_ms);",
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Creates the version table if needed and applies every migration the file lacks.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<i64, CdrError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL
        ) STRICT;",
    )
    .map_err(at(path, "create table schema_version"))?;
    loop {
        // IMMEDIATE: take the write lock before reading the version, so that two
        // processes opening a new file do not both apply migration 1.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(path, "begin migration"))?;
        let found = read_version(&tx, path)?;
        check_not_newer(found, path)?;
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return Ok(found);
        };
        tx.execute_batch(sql).map_err(at(path, "apply migration"))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at)
             VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [found + 1],
        )
        .map_err(at(path, "record schema version"))?;
        tx.commit().map_err(at(path, "commit migration"))?;
    }
}

/// Checks, without writing, that the file is at exactly this build's version.
pub(crate) fn check_current(conn: &Connection, path: &Path) -> Result<(), CdrError> {
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema
                            WHERE type = 'table' AND name = 'schema_version')",
            [],
            |row| row.get(0),
        )
        .map_err(at(path, "look for table schema_version"))?;
    let found = if has_table {
        read_version(conn, path)?
    } else {
        0
    };
    check_not_newer(found, path)?;
    if found < SCHEMA_VERSION {
        return Err(CdrError::SchemaTooOld {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// The file's version: the highest applied, 0 when none.
pub(crate) fn read_version(conn: &Connection, path: &Path) -> Result<i64, CdrError> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
    .map_err(at(path, "read schema version"))
}

fn check_not_newer(found: i64, path: &Path) -> Result<(), CdrError> {
    if found > SCHEMA_VERSION {
        return Err(CdrError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
