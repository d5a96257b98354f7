//! `CdrWriter`: writes CDRs off the call path.
//!
//! A call's task hands its records to a [`CdrSender`], whose `send` never blocks: it puts
//! the record on a bounded queue or, when the queue is full (the disk is slower than the
//! calls), drops it, counts it and says so. One dedicated thread owns the [`CdrStore`],
//! takes whatever is queued (up to the queue's capacity, waiting up to 20 ms for more
//! after the first record) and writes it in one
//! transaction, so a burst of hang-ups costs one commit, not one each.
//!
//! A plain thread and a std channel, not a tokio task: `SQLite` blocks, and a blocked
//! runtime worker would stall calls.
//!
//! Shutdown rule: every `send` that returned `Ok` is written before [`CdrWriter::shutdown`]
//! returns. A send racing with shutdown either gets `Ok` and is written, or gets
//! [`CdrError::Closed`]; it is never accepted and then lost. (Senders announce themselves
//! in `in_flight` before they look at `closed`; the thread, once it has seen the shutdown
//! marker, waits for `in_flight` to reach zero before its last drain.)
//!
//! A batch that cannot be written is retried, then written record by record; a record
//! that still cannot be written is logged as JSON at error level (target
//! `dcx::cdr::lost`, so billing can recover it from the log) and counted as lost.

use super::error::CdrError;
use super::record::Cdr;
use super::store::CdrStore;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer waits for more records before committing a batch.
const LINGER: Duration = Duration::from_millis(20);

/// Tries per batch before its records are written one by one.
const WRITE_TRIES: u32 = 3;
/// Pause before the first retry; doubled for each further one.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What the queue carries. Records are boxed so that a slot of the preallocated queue
/// is a pointer, not a whole record.
enum Message {
    Record(Box<Cdr>),
    Shutdown,
}

/// Counters of the writer, for metrics. All counts are since the writer started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CdrStats {
    /// Records `send` accepted onto the queue.
    pub accepted: u64,
    /// Records written to the store.
    pub written: u64,
    /// Records not written because the same call id and attempt was already stored.
    pub duplicates: u64,
    /// Records refused by `send` because the queue was full.
    pub dropped_full: u64,
    /// Records refused by `send` because the writer had shut down.
    pub dropped_closed: u64,
    /// Accepted records that could not be written (logged, see the module doc).
    pub lost: u64,
    /// Batches committed in one transaction each.
    pub batches: u64,
}

impl CdrStats {
    #[cfg(test)]
    /// Records accepted and not yet written, skipped or lost: the queue's depth plus the
    /// batch being written.
    pub fn pending(&self) -> u64 {
        self.accepted
            .saturating_sub(self.written + self.duplicates + self.lost)
    }
}

#[derive(Default)]
struct Shared {
    closed: AtomicBool,
    in_flight: AtomicUsize,
    accepted: AtomicU64,
    written: AtomicU64,
    duplicates: AtomicU64,
    dropped_full: AtomicU64,
    dropped_closed: AtomicU64,
    lost: AtomicU64,
    batches: AtomicU64,
}

impl Shared {
    fn stats(&self) -> CdrStats {
        CdrStats {
            accepted: self.accepted.load(SeqCst),
            written: self.written.load(SeqCst),
            duplicates: self.duplicates.load(SeqCst),
            dropped_full: self.dropped_full.load(SeqCst),
            dropped_closed: self.dropped_closed.load(SeqCst),
            lost: self.lost.load(SeqCst),
            batches: self.batches.load(SeqCst),
        }
    }
}

/// The CDR writer thread and its queue. Dropping it shuts it down as
/// [`CdrWriter::shutdown`] does (blocking until the queue is written).
pub struct CdrWriter {
    tx: SyncSender<Message>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A cloneable, non-blocking handle to the writer's queue, for call tasks.
#[derive(Clone)]
pub struct CdrSender {
    tx: SyncSender<Message>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for CdrSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdrSender").finish_non_exhaustive()
    }
}

impl CdrWriter {
    /// The queue capacity the gateway uses: 2.5 s of a stalled disk at the 2,000 calls
    /// per second the gateway aims at (two records a call), about 1 MiB of queue.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// Starts the writer thread, which owns `store`, with a queue of `capacity` records
    /// (at least 1).
    pub fn spawn(store: CdrStore, capacity: usize) -> Result<Self, CdrError> {
        let capacity = capacity.max(1);
        let (tx, rx) = sync_channel(capacity);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("dcx-cdr-writer".into())
            .spawn(move || run(store, &rx, &thread_shared, capacity))
            .map_err(CdrError::Spawn)?;
        Ok(Self {
            tx,
            shared,
            thread: Some(thread),
        })
    }

    /// A handle for call tasks to send records with.
    pub fn handle(&self) -> CdrSender {
        CdrSender {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }

    #[cfg(test)]
    /// The counters so far.
    pub fn stats(&self) -> CdrStats {
        self.shared.stats()
    }

    /// Refuses further records, writes everything accepted, stops the thread and
    /// returns the final counters. Blocks until then.
    pub fn shutdown(mut self) -> Result<CdrStats, CdrError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<CdrStats, CdrError> {
        let Some(thread) = self.thread.take() else {
            return Ok(self.shared.stats());
        };
        self.shared.closed.store(true, SeqCst);
        // Blocking is right here: the thread is draining, so room comes. An error means
        // the thread is gone, which `join` reports.
        let _ = self.tx.send(Message::Shutdown);
        thread.join().map_err(|_| CdrError::WriterPanicked)?;
        Ok(self.shared.stats())
    }
}

impl Drop for CdrWriter {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl CdrSender {
    /// Queues `cdr` for writing without ever blocking. Fails with [`CdrError::Full`]
    /// when the queue is full and [`CdrError::Closed`] after shutdown; the record is
    /// then dropped and counted.
    pub fn send(&self, cdr: Cdr) -> Result<(), CdrError> {
        let shared = &*self.shared;
        shared.in_flight.fetch_add(1, SeqCst);
        let result = if shared.closed.load(SeqCst) {
            Err(TrySendError::Disconnected(Message::Record(Box::new(cdr))))
        } else {
            self.tx.try_send(Message::Record(Box::new(cdr)))
        };
        shared.in_flight.fetch_sub(1, SeqCst);
        let (full, message) = match result {
            Ok(()) => {
                shared.accepted.fetch_add(1, SeqCst);
                return Ok(());
            }
            Err(TrySendError::Full(message)) => (true, message),
            Err(TrySendError::Disconnected(message)) => (false, message),
        };
        let Message::Record(cdr) = message else {
            unreachable!("a sender only sends records")
        };
        let (call_id, attempt) = (cdr.call_id, cdr.attempt);
        if full {
            shared.dropped_full.fetch_add(1, SeqCst);
            Err(CdrError::Full { call_id, attempt })
        } else {
            shared.dropped_closed.fetch_add(1, SeqCst);
            Err(CdrError::Closed { call_id, attempt })
        }
    }

    #[cfg(test)]
    /// The writer's counters so far.
    pub fn stats(&self) -> CdrStats {
        self.shared.stats()
    }
}

/// The writer thread: batch what is queued, write it, until the shutdown marker.
fn run(mut store: CdrStore, rx: &Receiver<Message>, shared: &Shared, max_batch: usize) {
    let mut batch: Vec<Cdr> = Vec::new();
    let mut stopping = false;
    while !stopping {
        // Every `CdrWriter` holds a sender, so this ends only by the marker.
        match rx.recv() {
            Ok(Message::Record(cdr)) => batch.push(*cdr),
            Ok(Message::Shutdown) | Err(_) => stopping = true,
        }
        // Linger a moment for more: under load a commit per record would cost more
        // than the records (measured: a third of the writer's time in BEGIN/COMMIT at
        // 1,500 calls/s); a record waits at most LINGER longer to be written.
        let until = std::time::Instant::now() + LINGER;
        while !stopping && batch.len() < max_batch {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(Message::Record(cdr)) => batch.push(*cdr),
                Ok(Message::Shutdown) | Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        if stopping {
            drain_after_close(rx, shared, &mut batch);
        }
        write(&mut store, &mut batch, shared);
    }
}

/// Takes the records that senders put on the queue before they saw `closed`.
fn drain_after_close(rx: &Receiver<Message>, shared: &Shared, batch: &mut Vec<Cdr>) {
    while shared.in_flight.load(SeqCst) != 0 {
        std::thread::yield_now();
    }
    while let Ok(message) = rx.try_recv() {
        if let Message::Record(cdr) = message {
            batch.push(*cdr);
        }
    }
}

/// Writes the batch in one transaction, retrying a failure that may pass (a lock, a full
/// disk); then, or at once for a record the schema refuses, writes the records one by
/// one so that one bad record does not take its batch with it. Empties the batch.
fn write(store: &mut CdrStore, batch: &mut Vec<Cdr>, shared: &Shared) {
    if batch.is_empty() {
        return;
    }
    let mut pause = RETRY_PAUSE;
    for attempt in 1..=WRITE_TRIES {
        match store.insert_batch(batch) {
            Ok(inserted) => {
                shared.written.fetch_add(inserted as u64, SeqCst);
                shared
                    .duplicates
                    .fetch_add((batch.len() - inserted) as u64, SeqCst);
                shared.batches.fetch_add(1, SeqCst);
                batch.clear();
                return;
            }
            Err(e) if attempt < WRITE_TRIES && !is_refused_record(&e) => {
                tracing::warn!(error = %e, records = batch.len(), attempt, "CDR batch not written, retrying");
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), "CDR batch not written, writing its records one by one");
                break;
            }
        }
    }
    for cdr in batch.drain(..) {
        match store.insert(&cdr) {
            Ok(true) => shared.written.fetch_add(1, SeqCst),
            Ok(false) => shared.duplicates.fetch_add(1, SeqCst),
            Err(e) => {
                let json = serde_json::to_string(&cdr).unwrap_or_default();
                tracing::error!(target: "dcx::cdr::lost", error = %e, cdr = %json, "CDR lost");
                shared.lost.fetch_add(1, SeqCst)
            }
        };
    }
}

/// Whether the schema refused a record (a CHECK or NOT NULL): retrying cannot help.
fn is_refused_record(e: &CdrError) -> bool {
    e.sqlite_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

#[cfg(test)]
mod tests {
    use super::CdrStats;
    use crate::cdr::error::CdrError;
    use crate::cdr::fixture::{answered, many, TempDir, T0_MS};
    use crate::cdr::{CdrQuery, CdrSender, CdrStore, CdrWriter};
    use std::time::{Duration, Instant};

    #[test]
    fn shutdown_writes_everything_queued() {
        let dir = TempDir::new("drain");
        let path = dir.join("cdr.db");
        let writer =
            CdrWriter::spawn(CdrStore::open(&path).unwrap(), CdrWriter::DEFAULT_CAPACITY).unwrap();
        let sender = writer.handle();
        let records = many(5_000);
        for cdr in &records {
            sender.send(cdr.clone()).unwrap();
        }
        let stats = writer.shutdown().unwrap();
        assert_eq!(
            (stats.accepted, stats.written, stats.lost, stats.pending()),
            (5_000, 5_000, 0, 0)
        );
        assert!(stats.batches >= 1 && stats.batches <= 5_000, "{stats:?}");

        let store = CdrStore::open(&path).unwrap();
        assert_eq!(store.count().unwrap(), 5_000);
        let mut stored = store.query(&CdrQuery::default()).unwrap();
        stored.reverse();
        assert_eq!(stored, records);
    }

    #[test]
    fn send_refuses_instead_of_blocking_when_the_queue_is_full() {
        let dir = TempDir::new("full");
        let path = dir.join("cdr.db");
        let capacity = 4;
        let writer = CdrWriter::spawn(CdrStore::open(&path).unwrap(), capacity).unwrap();
        let sender = writer.handle();

        // Another connection holds the write lock: the writer's next transaction waits
        // for it (busy timeout 5 s), as behind a stalled disk.
        let mut lock = rusqlite::Connection::open(&path).unwrap();
        let held = lock
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();

        let started = Instant::now();
        let (mut ok, mut full) = (0_u64, 0_u64);
        for cdr in many(100) {
            match sender.send(cdr) {
                Ok(()) => ok += 1,
                Err(CdrError::Full {
                    call_id,
                    attempt: 0,
                }) => {
                    assert!(call_id.starts_with("call-"));
                    full += 1;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(2),
            "send blocked: {elapsed:?}"
        );
        // The writer holds at most one batch (<= capacity) while the queue holds the rest.
        assert!(ok <= 2 * capacity as u64, "{ok} accepted");
        assert_eq!(ok + full, 100);
        assert_eq!(sender.stats().dropped_full, full);

        held.rollback().unwrap();
        let stats = writer.shutdown().unwrap();
        assert_eq!(
            stats,
            CdrStats {
                accepted: ok,
                written: ok,
                dropped_full: full,
                batches: stats.batches,
                ..CdrStats::default()
            }
        );
        assert_eq!(CdrStore::open(&path).unwrap().count().unwrap(), ok);
    }

    #[test]
    fn send_after_shutdown_is_refused_and_counted() {
        let writer = CdrWriter::spawn(CdrStore::open_in_memory().unwrap(), 8).unwrap();
        let sender: CdrSender = writer.handle();
        let late = sender.clone();
        sender.send(answered("a", 0, T0_MS)).unwrap();
        let stats = writer.shutdown().unwrap();
        assert_eq!(stats.written, 1);
        let err = late.send(answered("b", 0, T0_MS)).expect_err("closed");
        assert!(
            matches!(&err, CdrError::Closed { call_id, attempt: 0 } if call_id == "b"),
            "{err:?}"
        );
        assert!(err.is_dropped_record());
        assert_eq!(
            err.to_string(),
            "CDR writer stopped: record 0 of call \"b\" dropped"
        );
        assert_eq!(late.stats().dropped_closed, 1);
    }

    #[test]
    fn duplicates_are_counted_not_written() {
        let writer = CdrWriter::spawn(CdrStore::open_in_memory().unwrap(), 8).unwrap();
        let sender = writer.handle();
        for _ in 0..3 {
            sender.send(answered("a", 0, T0_MS)).unwrap();
        }
        let stats = writer.shutdown().unwrap();
        assert_eq!(
            (
                stats.accepted,
                stats.written,
                stats.duplicates,
                stats.pending()
            ),
            (3, 1, 2, 0)
        );
    }

    #[test]
    fn a_record_the_schema_refuses_does_not_take_its_batch_with_it() {
        let dir = TempDir::new("refused");
        let path = dir.join("cdr.db");
        let writer = CdrWriter::spawn(CdrStore::open(&path).unwrap(), 8).unwrap();
        let sender = writer.handle();
        // Held lock: the writer blocks on its first batch while the rest queue up, so
        // the refused record shares a batch with a good one whatever the timing.
        let mut lock = rusqlite::Connection::open(&path).unwrap();
        let held = lock
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        sender.send(answered("good-1", 0, T0_MS)).unwrap();
        let mut bad = answered("bad", 0, T0_MS);
        bad.sip_code = 42;
        sender.send(bad).unwrap();
        sender.send(answered("good-2", 0, T0_MS)).unwrap();
        held.rollback().unwrap();
        let stats = writer.shutdown().unwrap();
        assert_eq!(
            (stats.accepted, stats.written, stats.lost, stats.pending()),
            (3, 2, 1, 0)
        );
        let stored: Vec<String> = CdrStore::open(&path)
            .unwrap()
            .query(&CdrQuery::default())
            .unwrap()
            .into_iter()
            .map(|c| c.call_id)
            .collect();
        assert_eq!(stored, ["good-1", "good-2"]);
    }

    /// Senders on several threads race with shutdown: every record they were told was
    /// accepted is in the file, whatever the interleaving.
    #[test]
    fn a_send_racing_shutdown_is_either_refused_or_written() {
        let dir = TempDir::new("race");
        let path = dir.join("cdr.db");
        for round in 0..5 {
            let writer = CdrWriter::spawn(CdrStore::open(&path).unwrap(), 64).unwrap();
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    let sender = writer.handle();
                    std::thread::spawn(move || {
                        let mut accepted = 0_u64;
                        for i in 0.. {
                            let cdr = answered(&format!("r{round}-t{t}-{i}"), 0, T0_MS + i);
                            match sender.send(cdr) {
                                Ok(()) => accepted += 1,
                                Err(CdrError::Full { .. }) => std::thread::yield_now(),
                                Err(CdrError::Closed { .. }) => return accepted,
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                        unreachable!()
                    })
                })
                .collect();
            while writer.stats().accepted < 500 {
                std::thread::yield_now();
            }
            let stats = writer.shutdown().unwrap();
            let accepted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(stats.accepted, accepted);
            assert_eq!(stats.written, accepted, "round {round}: {stats:?}");
            let q = CdrQuery {
                call_id: None,
                ..CdrQuery::default()
            };
            let stored = CdrStore::open(&path).unwrap().query(&q).unwrap();
            let in_round = stored
                .iter()
                .filter(|c| c.call_id.starts_with(&format!("r{round}-")))
                .count();
            assert_eq!(in_round as u64, accepted, "round {round}");
        }
    }
}
