//! The access log's writer: one row per authenticated request (key, route template, status,
//! IP, time; never a body or a personal field), written in batches by a task of its own so a
//! request never waits on it, and rows older than [`RETENTION`] deleted as it goes.

use std::time::Duration;

use leadorch_store::{AccessRow, ApiKeys, EventLog};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long access-log rows are kept (they hold IP addresses).
pub const RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Most rows written in one transaction.
const BATCH: usize = 512;

/// Where requests drop their rows. Cloned into every request; [`AccessSink::close`] flushes.
#[derive(Clone, Debug)]
pub struct AccessSink {
    tx: mpsc::Sender<AccessRow>,
}

/// The writer task; [`AccessWriter::finish`] waits until every row sent is written.
#[derive(Debug)]
pub struct AccessWriter {
    task: JoinHandle<()>,
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Starts the writer over `keys`' tables. Rows are written by `log`'s writer, with its group
/// commit (ADR 0041); old rows are deleted through `keys`.
pub fn start(keys: ApiKeys, log: EventLog) -> (AccessSink, AccessWriter) {
    let (tx, mut rx) = mpsc::channel::<AccessRow>(8192);
    let task = tokio::spawn(async move {
        let retention = i64::try_from(RETENTION.as_micros()).unwrap_or(i64::MAX);
        let mut purged_at: Option<i64> = None;
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            let now = now_micros();
            if purged_at.is_none_or(|t| now.saturating_sub(t) > 3_600_000_000) {
                match keys.purge_access_log(now - retention).await {
                    Ok(_) => purged_at = Some(now),
                    Err(e) => tracing::warn!("purging the access log failed: {e}"),
                }
            }
            // A failed write is retried a few times; the rows are never logged elsewhere
            // (they hold IP addresses).
            let mut tries = 0;
            while let Err(e) = log.log_access(batch.clone()).await {
                tries += 1;
                if tries >= 5 {
                    tracing::error!(
                        "writing {} access-log rows failed 5 times, dropped: {e}",
                        batch.len()
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            batch.clear();
        }
    });
    (AccessSink { tx }, AccessWriter { task })
}

impl AccessSink {
    /// Queues a row (waits only while the writer is more than 8,192 rows behind).
    pub async fn record(&self, row: AccessRow) {
        if self.tx.send(row).await.is_err() {
            tracing::error!("the access-log writer has stopped; a row was not written");
        }
    }
}

impl AccessWriter {
    /// Waits until every row queued by every (dropped) sink is written.
    pub async fn finish(self) {
        if let Err(e) = self.task.await {
            tracing::error!("the access-log writer failed: {e}");
        }
    }
}
