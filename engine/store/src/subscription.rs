//! Catch-up subscriptions.
//!
//! A subscriber reads `position > checkpoint` in pages, applies them to its read model and
//! commits the read-model change and the new checkpoint in one [`crate::tx::WriteTx`]: after
//! a crash it resumes exactly where its last commit left off. New events wake subscribers
//! through the log head's watch channel, fed by the writer (same process) and by `LISTEN
//! leadorch_events` (PostgreSQL, other processes; [`crate::head`]); a poll interval covers
//! SQLite files written by another process.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::Db;
use crate::error::Result;
use crate::log::{EventLog, RecordedEvent};
use crate::on_pool;

/// Reads a log from a checkpoint on, waiting for new events when it has caught up.
pub struct CatchUp {
    log: EventLog,
    head: watch::Receiver<u64>,
    position: u64,
    page: u64,
    poll: Duration,
}

impl CatchUp {
    /// Starts after `position`, reading up to `page` events at a time.
    pub fn new(log: &EventLog, position: u64, page: u64) -> CatchUp {
        CatchUp {
            head: log.watch_head(),
            log: log.clone(),
            position,
            page: page.max(1),
            poll: Duration::from_millis(500),
        }
    }

    /// How often to look for events written by other processes when no notification came.
    pub fn poll_every(mut self, every: Duration) -> CatchUp {
        self.poll = every;
        self
    }

    /// The last position handed out.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next page of events; waits (notification or poll) while there are none.
    pub async fn next(&mut self) -> Result<Vec<RecordedEvent>> {
        loop {
            // Marked before reading, so a commit that lands after the read still wakes us.
            self.head.mark_unchanged();
            let page = self.log.read_after(self.position, self.page).await?;
            if let Some(last) = page.last() {
                self.position = last.position;
                return Ok(page);
            }
            let _ = tokio::time::timeout(self.poll, self.head.changed()).await;
        }
    }
}

impl Db {
    /// The checkpoint of subscriber `name` (0 when it never committed one).
    pub async fn checkpoint(&self, name: &str) -> Result<u64> {
        let v: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT position FROM checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(p)
            .await)?;
        Ok(v.unwrap_or(0) as u64)
    }
}
