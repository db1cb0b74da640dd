//! Leases: at most one holder per database and project at a time (the daemon's leadership:
//! one daemon acts for each project, ADR 0030).
//!
//! PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released
//! when that connection closes, so a holder that dies (even `kill -9`) hands over as soon as
//! the server notices the socket closed. The `default` project's key is [`ADVISORY_KEY`] (as
//! before projects); another project's is the pair ([`ADVISORY_KEY`], 32 bits of SHA-256 of
//! its name), which PostgreSQL keeps apart from every single-key lock. SQLite: an exclusive
//! OS file lock on `<database>.daemon.lock` (`<database>.daemon.<project>.lock` for another
//! project), released by the OS when the process exits. Either way, dropping the [`Lease`]
//! gives it up.

use std::fs::{File, OpenOptions};

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

use crate::db::Db;
use crate::error::{Result, StoreError};

/// The advisory lock key of the daemon's lease (`'LOrc'`).
pub const ADVISORY_KEY: i64 = 0x4C4F_7263;

/// A held lease; dropping it gives it up.
#[derive(Debug)]
pub struct Lease(Held);

#[derive(Debug)]
enum Held {
    /// The advisory lock's connection.
    Postgres(PgConnection),
    /// The locked file (held for its lock, never read).
    Sqlite { _locked: File },
}

/// The second key of a project's advisory lock (`None` for the default project, which
/// keeps the single key [`ADVISORY_KEY`]).
fn project_key(project: &str) -> Option<i32> {
    (project != leadorch_domain::project::DEFAULT).then(|| {
        let digest = Sha256::digest(format!("leadorch-daemon:{project}").as_bytes());
        i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    })
}

impl Db {
    /// Tries once to take `project`'s lease on this database: `None` while another holder
    /// has it.
    pub async fn try_lease(&self, project: &str) -> Result<Option<Lease>> {
        match self {
            Db::Postgres { options, .. } => {
                let mut conn = PgConnection::connect_with(options)
                    .await
                    .map_err(|e| lease_error("connecting", e))?;
                let query = match project_key(project) {
                    None => {
                        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(ADVISORY_KEY)
                    }
                    Some(key) => sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                        .bind(ADVISORY_KEY as i32)
                        .bind(key),
                };
                let got: bool = query
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| lease_error("advisory lock", e))?;
                if got {
                    Ok(Some(Lease(Held::Postgres(conn))))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
            Db::Sqlite { path, .. } => {
                // The lease follows the database file, not the name it was given: a link to it
                // (or `./x.db` beside `/abs/x.db`) names the same lock (issue 18).
                let file =
                    std::fs::canonicalize(path.as_path()).unwrap_or_else(|_| path.to_path_buf());
                let mut lock_path = file.into_os_string();
                if project == leadorch_domain::project::DEFAULT {
                    lock_path.push(".daemon.lock");
                } else {
                    lock_path.push(format!(".daemon.{project}.lock"));
                }
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(|e| {
                        StoreError::Lease(format!(
                            "cannot open {}: {e}",
                            std::path::Path::new(&lock_path).display()
                        ))
                    })?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Lease(Held::Sqlite { _locked: file }))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => {
                        Err(StoreError::Lease(format!("file lock: {e}")))
                    }
                }
            }
        }
    }
}

/// A failure to take the lease: the database being away stays a database error (so that
/// [`StoreError::is_unavailable`] tells a caller to wait and try again), anything else is a
/// [`StoreError::Lease`] saying what failed.
fn lease_error(what: &str, e: sqlx::Error) -> StoreError {
    if crate::error::is_unavailable(&e) {
        StoreError::from(e)
    } else {
        StoreError::Lease(format!("{what}: {e}"))
    }
}

impl Lease {
    /// Whether the lease is still held (the PostgreSQL connection is alive). A `false` is for
    /// good: the server let go of the lock with the connection, and another process may hold
    /// it now; take a new lease ([`Db::try_lease`]) before acting again.
    pub async fn check(&mut self) -> bool {
        match &mut self.0 {
            Held::Postgres(conn) => conn.ping().await.is_ok(),
            Held::Sqlite { .. } => true,
        }
    }
}
