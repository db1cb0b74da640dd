//! SQLite's write-ahead log is copied back into the database file by a task of its own, off
//! the writer's path.
//!
//! SQLite checkpoints on the connection that commits, inside its commit, once the log holds
//! 1,000 pages (`wal_autocheckpoint`). A lead group commit writes about 400 pages, so the
//! writer stopped for a checkpoint every third group: it copied some 4 MB of scattered pages
//! into the database file and synced it while every waiting append waited too. The writer's
//! connection now has `wal_autocheckpoint = 0`, and this task runs a `PASSIVE` checkpoint
//! (the kind SQLite runs itself: it never blocks the writer or readers) after the log moves,
//! at most every [`INTERVAL`]. Durability is unchanged: a commit is durable once its log
//! frames are synced (`synchronous=FULL`), whenever they are copied back. A checkpoint that
//! copied everything lets the next write start the log file again from its beginning, so
//! the file stays as small as before. Other connections keep SQLite's own checkpoints.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::Db;

/// The shortest time between two checkpoints while the log grows.
pub(crate) const INTERVAL: Duration = Duration::from_millis(200);

/// Starts the checkpoint task for an SQLite database (nothing for PostgreSQL). It ends when
/// the log's writer has ended (`head` has no sender left) or the pool is closed.
pub(crate) fn spawn(db: &Db, mut head: watch::Receiver<u64>) {
    let Db::Sqlite { pool, .. } = db else {
        return;
    };
    let pool = pool.clone();
    tokio::spawn(async move {
        while head.changed().await.is_ok() {
            let done: Result<(i64, i64, i64), sqlx::Error> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&pool)
                    .await;
            match done {
                Ok(_) => {}
                Err(sqlx::Error::PoolClosed) => return,
                // Busy or away: the next move of the log tries again.
                Err(e) => tracing::debug!(error = %e, "WAL checkpoint failed; retrying later"),
            }
            tokio::time::sleep(INTERVAL).await;
        }
    });
}
