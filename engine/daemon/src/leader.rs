//! Leadership: only one daemon per database and project acts.
//!
//! The daemon leads while it holds the store's lease ([`leadorch_store::lease`]: an advisory
//! lock on PostgreSQL, an OS file lock beside a SQLite file; both are released when the
//! holder dies, even by `kill -9`). A daemon that is not the leader waits and tries again;
//! when it takes over it resumes from the checkpoints in the database (nothing is kept only
//! in the old leader's memory).

use leadorch_store::{Db, Lease};

use crate::{Error, Result};

/// The advisory lock key of the daemon (`'LOrc'`).
pub use leadorch_store::lease::ADVISORY_KEY;

/// Held leadership; dropping it gives it up.
#[derive(Debug)]
pub struct Leadership(Lease);

impl Leadership {
    /// Tries once to become `project`'s leader for `db`. The database being away is a store
    /// error ([`Error::is_unavailable`]: wait and try again); other failures are
    /// [`Error::Leadership`].
    pub async fn try_acquire(db: &Db, project: &str) -> Result<Option<Leadership>> {
        db.try_lease(project)
            .await
            .map(|lease| lease.map(Leadership))
            .map_err(|e| {
                if e.is_unavailable() {
                    Error::Store(e)
                } else {
                    Error::Leadership(e.to_string())
                }
            })
    }

    /// Whether the leadership is still held (the PostgreSQL connection is alive). Once
    /// `false`, it is lost for good (the server released the lock with the connection, and
    /// another daemon may lead now): the daemon stops acting until it takes it again.
    pub async fn check(&mut self) -> bool {
        self.0.check().await
    }
}
