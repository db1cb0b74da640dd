//! The log head: where the last commit left the log, and how other processes' commits reach
//! [`crate::log::EventLog::watch_head`] on PostgreSQL (a `LISTEN` task; the writer sends
//! `NOTIFY` in each commit).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::watch;

use crate::db::Db;
use crate::error::Result;
use crate::hash::Hash;
use crate::log::to_hash;
use crate::on_pool;

/// The head of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Last position (0 for an empty log).
    pub position: u64,
    /// Hash of the last event.
    pub hash: Hash,
    /// Recorded-at of the last event.
    pub recorded_at: i64,
}

/// The head as stored.
pub(crate) async fn head_on_pool(db: &Db) -> Result<Head> {
    let (position, hash, recorded_at): (i64, Vec<u8>, i64) = on_pool!(db, p => sqlx::query_as(
        "SELECT position, hash, recorded_at FROM log_head WHERE id = 1")
        .fetch_one(p)
        .await)?;
    Ok(Head {
        position: position as u64,
        hash: to_hash(position, &hash)?,
        recorded_at,
    })
}

/// The NOTIFY channel the writer signals on after each commit.
pub const NOTIFY_CHANNEL: &str = "leadorch_events";

/// On PostgreSQL, starts the task that `LISTEN`s on [`NOTIFY_CHANNEL`] and moves `head` when
/// another process commits; it ends when every receiver of `head` is gone. On SQLite, nothing:
/// subscribers poll for other processes' commits.
pub(crate) fn spawn_listener(db: &Db, head: watch::Sender<u64>) {
    if let Db::Postgres { options, .. } = db {
        spawn_pg_listener(PgConnectOptions::clone(options), head);
    }
}

fn spawn_pg_listener(options: PgConnectOptions, head: watch::Sender<u64>) {
    tokio::spawn(async move {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options);
        // Ends when every receiver is gone (the EventLog was dropped), whatever it is doing.
        tokio::select! {
            _ = listen(&pool, &head) => {}
            _ = head.closed() => {}
        }
        pool.close().await;
    });
}

async fn listen(pool: &sqlx::PgPool, head: &watch::Sender<u64>) {
    loop {
        let mut listener = match PgListener::connect_with(pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "LISTEN connection failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(NOTIFY_CHANNEL).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Ok(pos) = n.payload().parse::<u64>() {
                        head.send_if_modified(|h| {
                            let moved = pos > *h;
                            if moved {
                                *h = pos;
                            }
                            moved
                        });
                    }
                }
                // The connection dropped: notifications may have been missed, so nudge
                // subscribers to re-read, then listen again.
                Ok(None) => head.send_modify(|_| {}),
                Err(_) => break,
            }
        }
    }
}
