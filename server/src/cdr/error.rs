//! What can go wrong with CDRs, with the file and the SQL step it went wrong at.

use std::path::PathBuf;

/// An error of the CDR store or its writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CdrError {
    /// `SQLite` failed at `step` on the store at `path` (`:memory:` for an in-memory store).
    #[error("CDR store {}: {step}: {cause}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the store was doing, e.g. `set journal_mode=WAL`, `insert batch`.
        step: &'static str,
        /// `SQLite`'s own error.
        cause: rusqlite::Error,
    },
    /// The file was written by a newer dcx whose schema this one does not know.
    #[error(
        "CDR store {}: schema version {found} is newer than this dcx knows ({supported}); \
         run a newer dcx or point it at another file",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The version recorded in the file.
        found: i64,
        /// The newest version this build migrates to.
        supported: i64,
    },
    /// The file is not a dcx CDR store, or one from an older dcx that has not been
    /// migrated yet (a read-only open does not migrate).
    #[error(
        "CDR store {}: schema version {found}, this dcx reads version {supported}; \
         is it a dcx CDR file? (the gateway migrates it when it opens it)",
        path.display()
    )]
    SchemaTooOld {
        /// The database file.
        path: PathBuf,
        /// The version recorded in the file (0: no dcx schema at all).
        found: i64,
        /// The version this build reads.
        supported: i64,
    },
    /// The writer's queue is full (the disk is slower than the calls): the record was
    /// dropped and counted, not written.
    #[error("CDR queue full: record {attempt} of call {call_id:?} dropped")]
    Full {
        /// The call whose record was dropped.
        call_id: String,
        /// Its attempt number.
        attempt: u32,
    },
    /// The writer has shut down: the record was dropped and counted, not written.
    #[error("CDR writer stopped: record {attempt} of call {call_id:?} dropped")]
    Closed {
        /// The call whose record was dropped.
        call_id: String,
        /// Its attempt number.
        attempt: u32,
    },
    /// The writer thread could not be started.
    #[error("cannot start the CDR writer thread: {0}")]
    Spawn(std::io::Error),
    /// The writer thread panicked; records it held may be lost.
    #[error("the CDR writer thread panicked")]
    WriterPanicked,
}

impl CdrError {
    /// `SQLite`'s primary error code, when `SQLite` failed: lets the caller tell a full disk
    /// (`DiskFull`), a locked file (`DatabaseBusy`) or a foreign file (`NotADatabase`)
    /// apart without matching text.
    pub fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            Self::Sqlite { cause, .. } => cause.sqlite_error_code(),
            _ => None,
        }
    }

    #[cfg(test)]
    /// Whether a record was dropped rather than written ([`Self::Full`], [`Self::Closed`]).
    pub fn is_dropped_record(&self) -> bool {
        matches!(self, Self::Full { .. } | Self::Closed { .. })
    }
}

/// Wraps a rusqlite result with the file and the step, for `map_err`.
pub(crate) fn at<'a>(
    path: &'a std::path::Path,
    step: &'static str,
) -> impl Fn(rusqlite::Error) -> CdrError + 'a {
    move |cause| CdrError::Sqlite {
        path: path.to_path_buf(),
        step,
        cause,
    }
}
