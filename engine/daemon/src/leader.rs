//! Leadership: only one daemon per database acts.
//!
//! PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released
//! when that connection closes, so a daemon that dies (even `kill -9`) hands over as soon as
//! the server notices the socket closed. SQLite: an exclusive OS file lock on
//! `<database>.daemon.lock`, released by the OS when the process exits.
//! A daemon that is not the leader waits and tries again; when it takes over it resumes from
//! the checkpoints in the database (nothing is kept only in the old leader's memory).

use std::fs::{File, OpenOptions};

use leadorch_store::Db;
use sqlx::{Connection, PgConnection};

use crate::{Error, Result};

/// The advisory lock key of the daemon (`'LOrc'`).
pub const ADVISORY_KEY: i64 = 0x4C4F_7263;

/// Held leadership; dropping it gives it up.
#[derive(Debug)]
pub enum Leadership {
    /// The advisory lock's connection.
    Postgres(PgConnection),
    /// The locked file.
    Sqlite(File),
}

impl Leadership {
    /// Tries once to become the leader for `db`.
    pub async fn try_acquire(db: &Db) -> Result<Option<Leadership>> {
        match db {
            Db::Postgres { options, .. } => {
                let mut conn = PgConnection::connect_with(options)
                    .await
                    .map_err(|e| Error::Leadership(format!("connecting: {e}")))?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| Error::Leadership(format!("advisory lock: {e}")))?;
                if got {
                    Ok(Some(Leadership::Postgres(conn)))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
            Db::Sqlite { path, .. } => {
                let mut lock_path = path.clone().into_os_string();
                lock_path.push(".daemon.lock");
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(|e| {
                        Error::Leadership(format!(
                            "cannot open {}: {e}",
                            std::path::Path::new(&lock_path).display()
                        ))
                    })?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Leadership::Sqlite(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => {
                        Err(Error::Leadership(format!("file lock: {e}")))
                    }
                }
            }
        }
    }

    /// Whether the leadership is still held (the PostgreSQL connection is alive).
    pub async fn check(&mut self) -> bool {
        match self {
            Leadership::Postgres(conn) => conn.ping().await.is_ok(),
            Leadership::Sqlite(_) => true,
        }
    }
}
