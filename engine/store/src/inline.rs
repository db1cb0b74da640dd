//! Point reads on SQLite without a thread hop (ADR 0041).
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is a message to
//! that thread and an answer back, so a read of one row costs two thread switches and the
//! wake-ups around them. A lead makes three such reads before it is written (its API key, its
//! team's stream, its fingerprints), each a lookup by key of a few rows from pages already in
//! memory — microseconds of SQLite's own work, dwarfed by the hand-offs (a quarter of the API's
//! CPU under load was the kernel switching threads).
//!
//! These reads run here instead, on the calling thread, on one of a few read-only rusqlite
//! connections this database keeps idle. Each statement runs in autocommit (its own read
//! snapshot, released when the statement finishes), so it sees every commit made before it
//! began, by this process or another, exactly as a pooled read does; in WAL mode a reader never
//! waits for the writer. Only bounded reads belong here: they block the async worker that runs
//! them for as long as they take.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};
use crate::pages::RowError;

/// Connections kept idle between reads: one per core that reads at the same moment is
/// enough, a reader that finds none idle opens one.
const KEEP_IDLE: usize = 4;

/// The read-only connections of one SQLite database.
#[derive(Debug)]
pub struct Inline {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Inline {
    pub(crate) fn new(path: PathBuf) -> Inline {
        Inline {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (opened when there is none), on this thread.
    pub(crate) fn read<T, E: Into<RowError>>(
        &self,
        what: &str,
        read: impl FnOnce(&Connection) -> std::result::Result<T, E>,
    ) -> Result<T> {
        let fail = |e: rusqlite::Error| StoreError::Internal(format!("{what} (SQLite): {e}"));
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match taken {
            Some(c) => c,
            None => self.open().map_err(fail)?,
        };
        let out = read(&conn).map_err(|e| match e.into() {
            RowError::Sqlite(e) => fail(e),
            RowError::Store(e) => e,
        });
        // A statement left unfinished would hold its read snapshot (hiding later commits and
        // holding back checkpoints): every read here steps its statements to the end or drops
        // them, and a connection still in a transaction is not kept.
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < KEEP_IDLE {
                idle.push(conn);
            }
        }
        out
    }

    /// Drops the idle connections (the database is closing).
    pub(crate) fn close(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // Reads only, whatever a caller's SQL says.
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }
}
