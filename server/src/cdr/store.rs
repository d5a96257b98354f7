//! `CdrStore`: CDRs in an embedded `SQLite` file.
//!
//! The file is in WAL mode with `synchronous=NORMAL`: readers (`dcx cdr`) never block the
//! writer, and a commit costs no fsync (a power cut may lose the last commits, a crash of
//! dcx loses nothing committed). Inserts are idempotent on `(call_id, attempt)`: writing
//! the same record twice stores it once, so a replay cannot double-bill.
//!
//! A store is one connection, used by one thread: in the gateway, [`super::CdrWriter`]'s.

use super::error::{at, CdrError};
use super::record::{Cdr, HangupSide, LegKind};
use super::schema;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Row, ToSql, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The stored columns, in the order of [`insert_params`] and [`cdr_from_row`].
const COLUMNS: &str = "call_id, attempt, leg, trunk_in, trunk_out, caller, callee, \
     callee_normalized, prefix, rate_per_min_nano, start_ms, first_ring_ms, answer_ms, \
     end_ms, duration_s, cost_nano, sip_code, hangup, reason, queue, agent, queue_wait_ms";

const INSERT: &str = "INSERT INTO cdr (call_id, attempt, leg, trunk_in, trunk_out, caller, \
     callee, callee_normalized, prefix, rate_per_min_nano, start_ms, first_ring_ms, \
     answer_ms, end_ms, duration_s, cost_nano, sip_code, hangup, reason, queue, agent, \
     queue_wait_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19, ?20, ?21, ?22) \
     ON CONFLICT (call_id, attempt) DO NOTHING";

/// Which CDRs to read: every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrQuery {
    /// Records that started at or after this time, unix milliseconds.
    pub since_ms: Option<i64>,
    /// Records that started before this time, unix milliseconds.
    pub until_ms: Option<i64>,
    /// The records of one call (the call record and its attempts).
    pub call_id: Option<String>,
    /// Records whose inbound or outbound trunk is this one.
    pub trunk: Option<String>,
    /// At most this many records (the newest).
    pub limit: Option<u32>,
}

/// A `SQLite` file (or memory) of CDRs. See the module doc.
pub struct CdrStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for CdrStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdrStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CdrStore {
    /// Opens or creates the store at `path` and migrates it to the current schema. The
    /// directory must exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CdrError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(at(&path, "open"))?;
        Self::init(conn, path)
    }

    /// Opens an existing store for reading only (`dcx cdr`): never creates, writes or
    /// migrates; the file must be at this build's schema version.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, CdrError> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(at(&path, "open read-only"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(at(&path, "set busy_timeout"))?;
        schema::check_current(&conn, &path)?;
        Ok(Self { conn, path })
    }

    #[cfg(test)]
    /// A store in memory, for tests and for running without a CDR file.
    pub fn open_in_memory() -> Result<Self, CdrError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(at(&path, "open"))?;
        Self::init(conn, path)
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Self, CdrError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(at(&path, "set busy_timeout"))?;
        // The first statement that reads the file: a foreign file fails here.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(at(&path, "set journal_mode=WAL"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(at(&path, "set synchronous=NORMAL"))?;
        schema::migrate(&mut conn, &path)?;
        Ok(Self { conn, path })
    }

    #[cfg(test)]
    /// The file this store is in (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    /// The file's schema version (the highest migration applied).
    pub fn schema_version(&self) -> Result<i64, CdrError> {
        schema::read_version(&self.conn, &self.path)
    }

    /// Writes one record. Returns `false` when a record with the same call id and
    /// attempt was already stored (the stored one is kept).
    pub fn insert(&mut self, cdr: &Cdr) -> Result<bool, CdrError> {
        let mut stmt = self
            .conn
            .prepare_cached(INSERT)
            .map_err(at(&self.path, "prepare insert"))?;
        let rows = stmt
            .execute(&insert_params(cdr)[..])
            .map_err(at(&self.path, "insert"))?;
        Ok(rows == 1)
    }

    /// Writes the records in one transaction: all or none. Returns how many were new
    /// (the others were already stored).
    pub fn insert_batch(&mut self, cdrs: &[Cdr]) -> Result<usize, CdrError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(path, "begin batch"))?;
        let mut inserted = 0;
        {
            let mut stmt = tx
                .prepare_cached(INSERT)
                .map_err(at(path, "prepare insert"))?;
            for cdr in cdrs {
                inserted += stmt
                    .execute(&insert_params(cdr)[..])
                    .map_err(at(path, "insert batch"))?;
            }
        }
        tx.commit().map_err(at(path, "commit batch"))?;
        Ok(inserted)
    }

    /// The records that match, newest start first (a call's records by attempt within
    /// the same millisecond).
    pub fn query(&self, q: &CdrQuery) -> Result<Vec<Cdr>, CdrError> {
        let mut sql = format!("SELECT {COLUMNS} FROM cdr WHERE 1 = 1");
        let mut args: Vec<&dyn ToSql> = Vec::new();
        if let Some(since) = &q.since_ms {
            sql.push_str(" AND start_ms >= ?");
            args.push(since);
        }
        if let Some(until) = &q.until_ms {
            sql.push_str(" AND start_ms < ?");
            args.push(until);
        }
        if let Some(call_id) = &q.call_id {
            sql.push_str(" AND call_id = ?");
            args.push(call_id);
        }
        if let Some(trunk) = &q.trunk {
            sql.push_str(" AND (trunk_in = ? OR trunk_out = ?)");
            args.push(trunk);
            args.push(trunk);
        }
        sql.push_str(" ORDER BY start_ms DESC, call_id, attempt");
        if let Some(limit) = &q.limit {
            sql.push_str(" LIMIT ?");
            args.push(limit);
        }
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(at(&self.path, "prepare query"))?;
        let rows = stmt
            .query_map(args.as_slice(), cdr_from_row)
            .map_err(at(&self.path, "query"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(at(&self.path, "read row"))
    }

    #[cfg(test)]
    /// How many records are stored.
    pub fn count(&self) -> Result<u64, CdrError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM cdr", [], |row| row.get::<_, i64>(0))
            .map(i64::unsigned_abs)
            .map_err(at(&self.path, "count"))
    }
}

fn insert_params(c: &Cdr) -> [&dyn ToSql; 22] {
    [
        &c.call_id,
        &c.attempt,
        &c.leg,
        &c.trunk_in,
        &c.trunk_out,
        &c.caller,
        &c.callee,
        &c.callee_normalized,
        &c.prefix,
        &c.rate_per_min_nano,
        &c.start_ms,
        &c.first_ring_ms,
        &c.answer_ms,
        &c.end_ms,
        &c.duration_s,
        &c.cost_nano,
        &c.sip_code,
        &c.hangup,
        &c.reason,
        &c.queue,
        &c.agent,
        &c.queue_wait_ms,
    ]
}

fn cdr_from_row(row: &Row<'_>) -> rusqlite::Result<Cdr> {
    Ok(Cdr {
        call_id: row.get(0)?,
        attempt: row.get(1)?,
        leg: row.get(2)?,
        trunk_in: row.get(3)?,
        trunk_out: row.get(4)?,
        caller: row.get(5)?,
        callee: row.get(6)?,
        callee_normalized: row.get(7)?,
        prefix: row.get(8)?,
        rate_per_min_nano: row.get(9)?,
        start_ms: row.get(10)?,
        first_ring_ms: row.get(11)?,
        answer_ms: row.get(12)?,
        end_ms: row.get(13)?,
        duration_s: row.get(14)?,
        cost_nano: row.get(15)?,
        sip_code: row.get(16)?,
        hangup: row.get(17)?,
        reason: row.get(18)?,
        queue: row.get(19)?,
        agent: row.get(20)?,
        queue_wait_ms: row.get(21)?,
    })
}

impl ToSql for LegKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for LegKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        Self::from_name(name).ok_or_else(|| unknown("leg kind", name))
    }
}

impl ToSql for HangupSide {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for HangupSide {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        Self::from_name(name).ok_or_else(|| unknown("hangup side", name))
    }
}

fn unknown(what: &str, name: &str) -> FromSqlError {
    FromSqlError::Other(format!("unknown {what} {name:?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::fixture::{answered, failed, many, TempDir, T0_MS};
    use crate::cdr::schema::SCHEMA_VERSION;
    use rusqlite::ErrorCode;

    fn version_rows(store: &CdrStore) -> i64 {
        store
            .conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_file_gets_the_schema_and_a_reopen_keeps_it() {
        let dir = TempDir::new("reopen");
        let path = dir.join("cdr.db");
        let mut store = CdrStore::open(&path).unwrap();
        assert_eq!(store.path(), path);
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            version_rows(&store),
            SCHEMA_VERSION,
            "one row per migration"
        );
        let pragma = |name: &str| -> String {
            store
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
        assert_eq!(pragma("synchronous"), "Integer(1)", "NORMAL");
        let indexes: Vec<String> = store
            .conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'cdr' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["cdr_call_id_attempt", "cdr_start_ms"]);
        assert!(store.insert(&answered("c1", 0, T0_MS)).unwrap());
        drop(store);

        let store = CdrStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            version_rows(&store),
            SCHEMA_VERSION,
            "no migration applied twice"
        );
        assert_eq!(store.count().unwrap(), 1);
        drop(store);

        let reader = CdrStore::open_read_only(&path).unwrap();
        assert_eq!(
            reader.query(&CdrQuery::default()).unwrap(),
            [answered("c1", 0, T0_MS)]
        );
    }

    #[test]
    fn a_file_from_a_newer_dcx_is_refused() {
        let dir = TempDir::new("newer");
        let path = dir.join("cdr.db");
        let store = CdrStore::open(&path).unwrap();
        store
            .conn
            .execute("INSERT INTO schema_version VALUES (99, 'future')", [])
            .unwrap();
        drop(store);
        for result in [CdrStore::open(&path), CdrStore::open_read_only(&path)] {
            let err = result.expect_err("refused");
            assert!(
                matches!(
                    err,
                    CdrError::SchemaTooNew {
                        found: 99,
                        supported: SCHEMA_VERSION,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(
                err.to_string().contains("cdr.db: schema version 99"),
                "{err}"
            );
        }
    }

    #[test]
    fn read_only_never_creates_and_wants_a_dcx_file() {
        let dir = TempDir::new("read-only");
        let missing = dir.join("typo.db");
        let err = CdrStore::open_read_only(&missing).expect_err("missing file");
        assert_eq!(err.sqlite_code(), Some(ErrorCode::CannotOpen), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!(
                "CDR store {}: open read-only: ",
                missing.display()
            )),
            "{err}"
        );
        assert!(!missing.exists(), "a read-only open created the file");

        let foreign = dir.join("other.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = CdrStore::open_read_only(&foreign).expect_err("foreign file");
        assert!(
            matches!(err, CdrError::SchemaTooOld { found: 0, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("is it a dcx CDR file?"), "{err}");
    }

    #[test]
    fn a_corrupt_or_unwritable_path_is_a_clear_error() {
        let dir = TempDir::new("corrupt");
        let garbage = dir.join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        let err = CdrStore::open(&garbage).expect_err("not a database");
        assert_eq!(err.sqlite_code(), Some(ErrorCode::NotADatabase), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "CDR store {}: set journal_mode=WAL: ",
                garbage.display()
            )),
            "{text}"
        );
        assert!(text.contains("not a database"), "{text}");

        let no_dir = dir.join("no-such-dir").join("cdr.db");
        let err = CdrStore::open(&no_dir).expect_err("missing directory");
        assert_eq!(err.sqlite_code(), Some(ErrorCode::CannotOpen), "{err:?}");
        assert!(err.to_string().contains("no-such-dir"), "{err}");

        // A directory where the file should be (root ignores file modes, so a read-only
        // file would not test anything here).
        let err = CdrStore::open(dir.join("")).expect_err("a directory");
        assert_eq!(err.sqlite_code(), Some(ErrorCode::CannotOpen), "{err:?}");
    }

    #[test]
    fn a_record_round_trips_with_every_field() {
        let mut store = CdrStore::open_in_memory().unwrap();
        let agent_call = Cdr {
            leg: LegKind::Browser,
            trunk_out: None,
            prefix: None,
            first_ring_ms: None,
            queue: Some("support".into()),
            agent: Some("alice".into()),
            queue_wait_ms: Some(12_345),
            hangup: HangupSide::System,
            reason: "ring timeout; Q.850;cause=19".into(),
            sip_code: 480,
            ..answered("c-agent", 0, T0_MS)
        };
        for cdr in [answered("c1", 0, T0_MS), agent_call] {
            assert!(store.insert(&cdr).unwrap());
            let q = CdrQuery {
                call_id: Some(cdr.call_id.clone()),
                ..CdrQuery::default()
            };
            assert_eq!(store.query(&q).unwrap(), [cdr]);
        }
        let rate: f64 = store
            .conn
            .query_row(
                "SELECT rate_per_min FROM cdr WHERE call_id = 'c1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!((rate - 0.0123).abs() < 1e-12, "{rate}");
    }

    #[test]
    fn queries_filter_and_return_newest_first() {
        let mut store = CdrStore::open_in_memory().unwrap();
        // Call a: carrier-c fails (503), carrier-b answers. Call b, 60 s later, answered
        // on carrier-b. Call c, from origin-x, 120 s later.
        let t = T0_MS;
        let records = [
            answered("a", 0, t),
            failed("a", 1, t + 10, "carrier-c"),
            answered("a", 2, t + 320),
            answered("b", 0, t + 60_000),
            answered("b", 1, t + 60_010),
            Cdr {
                trunk_in: "origin-x".into(),
                ..answered("c", 0, t + 120_000)
            },
        ];
        for r in &records {
            store.insert(r).unwrap();
        }
        let ids = |store: &CdrStore, q: CdrQuery| -> Vec<String> {
            store
                .query(&q)
                .unwrap()
                .iter()
                .map(|c| format!("{}/{}", c.call_id, c.attempt))
                .collect()
        };
        assert_eq!(
            ids(&store, CdrQuery::default()),
            ["c/0", "b/1", "b/0", "a/2", "a/1", "a/0"]
        );
        assert_eq!(store.count().unwrap(), 6);
        let q = CdrQuery {
            since_ms: Some(t + 320),
            ..CdrQuery::default()
        };
        assert_eq!(
            ids(&store, q),
            ["c/0", "b/1", "b/0", "a/2"],
            "since is inclusive"
        );
        let q = CdrQuery {
            until_ms: Some(t + 60_000),
            ..CdrQuery::default()
        };
        assert_eq!(ids(&store, q), ["a/2", "a/1", "a/0"], "until is exclusive");
        let q = CdrQuery {
            call_id: Some("a".into()),
            ..CdrQuery::default()
        };
        assert_eq!(ids(&store, q), ["a/2", "a/1", "a/0"]);
        let q = CdrQuery {
            trunk: Some("carrier-c".into()),
            ..CdrQuery::default()
        };
        assert_eq!(ids(&store, q), ["a/1"], "trunk matches the outbound trunk");
        let q = CdrQuery {
            trunk: Some("origin-x".into()),
            ..CdrQuery::default()
        };
        assert_eq!(ids(&store, q), ["c/0"], "trunk matches the inbound trunk");
        let q = CdrQuery {
            limit: Some(2),
            ..CdrQuery::default()
        };
        assert_eq!(ids(&store, q), ["c/0", "b/1"], "the newest");
        let q = CdrQuery {
            since_ms: Some(t),
            until_ms: Some(t + 100_000),
            trunk: Some("carrier-b".into()),
            limit: Some(3),
            call_id: None,
        };
        assert_eq!(ids(&store, q), ["b/1", "b/0", "a/2"]);
        let q = CdrQuery {
            call_id: Some("nope".into()),
            ..CdrQuery::default()
        };
        assert!(ids(&store, q).is_empty());
        // Same start: attempts in order.
        store.insert(&answered("d", 1, t + 200_000)).unwrap();
        store.insert(&answered("d", 0, t + 200_000)).unwrap();
        let q = CdrQuery {
            limit: Some(2),
            ..CdrQuery::default()
        };
        assert_eq!(ids(&store, q), ["d/0", "d/1"]);
    }

    #[test]
    fn the_same_record_is_stored_once() {
        let mut store = CdrStore::open_in_memory().unwrap();
        assert!(store.insert(&answered("a", 0, T0_MS)).unwrap());
        let changed = Cdr {
            cost_nano: 1,
            ..answered("a", 0, T0_MS)
        };
        assert!(
            !store.insert(&changed).unwrap(),
            "a duplicate is not inserted"
        );
        let batch = [
            answered("a", 0, T0_MS),
            answered("a", 1, T0_MS),
            answered("b", 0, T0_MS),
        ];
        assert_eq!(store.insert_batch(&batch).unwrap(), 2);
        assert_eq!(store.count().unwrap(), 3);
        let q = CdrQuery {
            call_id: Some("a".into()),
            limit: Some(1),
            ..CdrQuery::default()
        };
        assert_eq!(
            store.query(&q).unwrap()[0].cost_nano,
            25_625_000,
            "the first one is kept"
        );
    }

    #[test]
    fn a_batch_is_written_whole_or_not_at_all() {
        let mut store = CdrStore::open_in_memory().unwrap();
        let mut batch = many(1_000);
        assert_eq!(store.insert_batch(&batch).unwrap(), 1_000);
        assert_eq!(store.count().unwrap(), 1_000);

        let mut more = many(1_010)[1_000..].to_vec();
        more[5].sip_code = 42; // refused by the schema's CHECK
        let err = store.insert_batch(&more).expect_err("bad row");
        assert_eq!(
            err.sqlite_code(),
            Some(ErrorCode::ConstraintViolation),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("CDR store :memory:: insert batch: "),
            "{err}"
        );
        assert_eq!(
            store.count().unwrap(),
            1_000,
            "none of the batch was written"
        );

        more[5].sip_code = 200;
        assert_eq!(store.insert_batch(&more).unwrap(), 10);
        batch.extend(more);
        batch.reverse();
        assert_eq!(store.query(&CdrQuery::default()).unwrap(), batch);
    }

    #[test]
    fn a_row_that_does_not_decode_is_an_error_not_a_panic() {
        let mut store = CdrStore::open_in_memory().unwrap();
        store.insert(&answered("a", 0, T0_MS)).unwrap();
        // Only a hand edit can do this: the CHECK would refuse it, so drop to a raw
        // schema-less write by disabling checks.
        store
            .conn
            .execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE cdr SET hangup = 'both'")
            .unwrap();
        let err = store.query(&CdrQuery::default()).expect_err("undecodable");
        assert!(err.to_string().contains("read row"), "{err}");
        assert!(
            err.to_string().contains(r#"unknown hangup side "both""#),
            "{err}"
        );
    }
}
