//! The store's error type.

use std::sync::Arc;

use crate::log::ExpectedVersion;

/// Everything the store can fail with. Each variant says what went wrong and, where the
/// caller can do something about it, what.
#[derive(Debug, thiserror::Error, Clone)]
pub enum StoreError {
    /// The append's expected stream version did not match: another writer got there first.
    /// The caller may reload the stream and retry (HTTP 409).
    #[error("stream {stream} is at version {actual}, but the append expected {expected}: reload it and retry")]
    Conflict {
        /// The stream.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// What the stream is at.
        actual: u64,
    },
    /// A retried append reused event ids of an earlier append but with other content or
    /// in another stream (HTTP 422).
    #[error("event id {event_id} was already appended to {stream} with different content")]
    IdempotencyMismatch {
        /// The reused event id.
        event_id: String,
        /// Where it is stored.
        stream: String,
    },
    /// The request itself was malformed (HTTP 400).
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    /// A value given to the store is not one it can keep (an over-long `Idempotency-Key`, a
    /// claim without a project); says what and why (HTTP 400).
    #[error("{0}")]
    InvalidInput(String),
    /// The database URL could not be parsed or has an unknown scheme.
    #[error("invalid database URL {url}: {reason}")]
    BadUrl {
        /// The URL, password removed.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database could not be reached.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// Why.
        reason: String,
    },
    /// A command that only reads was pointed at a database that does not exist (a SQLite
    /// path with no file, a PostgreSQL database without leadorch's tables); nothing was
    /// created.
    #[error("{reason}: check the path or URL, or create a database there with `leadorch init --database-url {location}`")]
    NoDatabase {
        /// The URL, password removed.
        location: String,
        /// What is missing, and where.
        reason: String,
    },
    /// A command that only reads found the database but not its master key file; no key
    /// was created (a new key could not read what the database holds).
    #[error("no master key file at {path}: the database exists, so its key must too; point --master-key-file (or LEADORCH_MASTER_KEY) at the key it was written with")]
    NoMasterKey {
        /// The key file looked for.
        path: String,
    },
    /// The database itself is physically damaged (SQLite: "database disk image is
    /// malformed", a truncated file, not a database; PostgreSQL: data or index corruption).
    /// Nothing read from it can be trusted.
    #[error("the database is damaged ({reason}): what it holds cannot be trusted; restore it from a backup")]
    Damaged {
        /// What the database reported.
        reason: String,
    },
    /// The disk holding the database is full (SQLite's SQLITE_FULL, PostgreSQL's disk_full
    /// 53100). The transaction was rolled back: nothing already stored is lost.
    #[error("no space left for the database{} ({reason}): free space on its disk, or move the database and point --database-url at it, then run again; the write was rolled back and nothing already stored is lost", location.as_deref().map(|l| format!(" {l}")).unwrap_or_default())]
    DiskFull {
        /// Where (the URL or path, no password), when known.
        location: Option<String>,
        /// What the database reported.
        reason: String,
    },
    /// The database was written by a newer leadorch.
    #[error("the database at {location} has schema version {found}, newer than this leadorch understands (up to {known}): upgrade leadorch, or point --database-url at another database")]
    NewerSchema {
        /// Where.
        location: String,
        /// Applied version.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A database operation failed (HTTP 503 when transient, else 500).
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(Arc<sqlx::migrate::MigrateError>),
    /// A stored row could not be read back.
    #[error("event at position {position} cannot be decoded: {reason}")]
    Decode {
        /// Position of the event.
        position: u64,
        /// Why.
        reason: String,
    },
    /// A stored read model could not be read back (a damaged file, or a format from a newer
    /// leadorch). Read models are derived: a rebuild replaces them.
    #[error("read model {projection} cannot be read: {reason}; run `leadorch replay` to rebuild it from the log")]
    CorruptReadModel {
        /// The read model.
        projection: String,
        /// Why.
        reason: String,
    },
    /// Encryption or key handling failed.
    #[error("{0}")]
    Crypto(String),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A lease ([`crate::lease`]) could not be taken: what failed and why (HTTP 503).
    #[error("{0}")]
    Lease(String),
    /// The background writer is gone (the store was closed or crashed).
    #[error("the event log writer has stopped")]
    WriterStopped,
    /// An atomic append's side rows could not be written (a fingerprint another lead holds, a
    /// key that changed, an `Idempotency-Key` already answered): nothing of it was written.
    #[error("atomic append refused: {0}")]
    Refused(Box<crate::atomic::Refusal>),
    /// A bug or a crashed task (HTTP 500).
    #[error("internal error: {0}")]
    Internal(String),
    /// Internal to the writer: the group must be redone with every lookup (never returned
    /// to callers).
    #[doc(hidden)]
    #[error("internal: group to be redone")]
    RedoCarefully,
}

impl StoreError {
    pub(crate) fn connect(url: &str, e: sqlx::Error) -> Self {
        if is_damage(&e) {
            return StoreError::from(e);
        }
        StoreError::Connect {
            url: crate::db::redact_url(url),
            reason: e.to_string(),
        }
    }

    /// Names the database in an error that should say where it happened (a full disk).
    pub fn located(self, db: &crate::db::Db) -> Self {
        match self {
            StoreError::DiskFull {
                location: None,
                reason,
            } => StoreError::DiskFull {
                location: Some(db.describe()),
                reason,
            },
            e => e,
        }
    }

    /// Whether the database is away for now: a connection that broke or could not be made,
    /// a pool that waited in vain for one, a server shutting down or starting up. Waiting and
    /// trying again may succeed (the API answers `503` with `Retry-After`, the daemon waits
    /// with backoff). A write that failed this way while committing may or may not have been
    /// applied: sending the same events again (the same ids) tells, and never writes them twice
    /// (ADR 0028).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Database(e) => is_unavailable(e),
            _ => false,
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict { .. } | StoreError::Database(_) | StoreError::WriterStopped
        )
    }
}

/// Whether the database reports itself damaged: SQLite's SQLITE_CORRUPT (11, with its
/// extended codes) or SQLITE_NOTADB (26), PostgreSQL's data_corrupted (XX001) or
/// index_corrupted (XX002).
fn is_damage(e: &sqlx::Error) -> bool {
    let Some(code) = e.as_database_error().and_then(|d| d.code()) else {
        return false;
    };
    match code.parse::<i64>() {
        Ok(sqlite) => matches!(sqlite & 0xff, 11 | 26),
        Err(_) => matches!(code.as_ref(), "XX001" | "XX002"),
    }
}

/// Whether a sqlx error means the database is away for now ([`StoreError::is_unavailable`]):
/// an I/O error on the connection (reset, refused, closed), TLS failing, a pool timeout, the
/// connection's worker gone, or PostgreSQL's connection_exception class (08), admin_shutdown
/// (57P01), crash_shutdown (57P02), cannot_connect_now (57P03) or too_many_connections
/// (53300).
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Whether the database reports a full disk: SQLite's SQLITE_FULL (13), PostgreSQL's
/// disk_full (53100).
fn is_disk_full(e: &sqlx::Error) -> bool {
    let Some(code) = e.as_database_error().and_then(|d| d.code()) else {
        return false;
    };
    match code.parse::<i64>() {
        Ok(sqlite) => sqlite & 0xff == 13,
        Err(_) => code.as_ref() == "53100",
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_disk_full(&e) {
            let reason = match e.as_database_error() {
                Some(d) => d.message().to_string(),
                None => e.to_string(),
            };
            return StoreError::DiskFull {
                location: None,
                reason,
            };
        }
        if is_damage(&e) {
            let reason = match e.as_database_error() {
                Some(d) => d.message().to_string(),
                None => e.to_string(),
            };
            return StoreError::Damaged { reason };
        }
        StoreError::Database(Arc::new(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner)
            | sqlx::migrate::MigrateError::ExecuteMigration(inner, _)
                if is_damage(&inner) =>
            {
                inner.into()
            }
            e => StoreError::Migrate(Arc::new(e)),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io {
            what: "file access".into(),
            source: Arc::new(e),
        }
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
