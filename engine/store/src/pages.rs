//! Bulk reading for replays: the log in pages, read ahead by a background reader.
//!
//! On SQLite the reader is rusqlite on one read snapshot, one of the two measured SQLite bulk
//! paths (docs/adr/0004); on PostgreSQL it pages through the pool.

use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::log::{to_hash, EventLog, RecordedEvent, EVENT_COLUMNS};

/// A page of [`EventLog::stream_pages_mapped`]: the events, and what `map` made of each
/// (`mapped[i]` is of `events[i]`).
#[derive(Debug)]
pub struct MappedPage<T> {
    /// The events, in log order.
    pub events: Vec<RecordedEvent>,
    /// One result per event, in the same order.
    pub mapped: Vec<T>,
}

impl<T> MappedPage<T> {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

impl EventLog {
    /// Every event after `after` (up to `until`), in pages of `page`, read by a background
    /// reader while the caller works on the previous page. On SQLite the reader is a
    /// dedicated thread on one read snapshot (rusqlite: about 3× sqlx's row rate, which is
    /// what bounds a replay); on PostgreSQL it pages with [`EventLog::read_after`].
    pub fn stream_pages(
        &self,
        after: u64,
        until: Option<u64>,
        page: usize,
    ) -> mpsc::Receiver<Result<Vec<RecordedEvent>>> {
        let (tx, rx) = mpsc::channel(2);
        let page = page.max(1);
        let until = until.unwrap_or(i64::MAX as u64);
        match self.db() {
            Db::Sqlite { path, .. } => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = sqlite_pages(&path, after, until, page, &tx) {
                        let _ = tx.blocking_send(Err(e));
                    }
                });
            }
            Db::Postgres { .. } => {
                let log = self.clone();
                tokio::spawn(async move {
                    let mut from = after;
                    while from < until {
                        let limit = (page as u64).min(until - from);
                        match log.read_after(from, limit).await {
                            Ok(p) if p.is_empty() => break,
                            Ok(p) => {
                                from = p.last().map(|e| e.position).unwrap_or(until);
                                if tx.send(Ok(p)).await.is_err() {
                                    break;
                                }
                            }
                            Err(e) => {
                                let _ = tx.send(Err(e)).await;
                                break;
                            }
                        }
                    }
                });
            }
        }
        rx
    }

    /// Like [`EventLog::stream_pages`], with `map` applied to every event on a thread of its
    /// own: a replay decodes there while the caller folds the previous page, and the reader
    /// reads the next one, so all three stages run at once. The results come beside the
    /// page's events, not paired with them, so no event is moved again to make the pairs.
    pub fn stream_pages_mapped<T, F>(
        &self,
        after: u64,
        until: Option<u64>,
        page: usize,
        mut map: F,
    ) -> mpsc::Receiver<Result<MappedPage<T>>>
    where
        T: Send + 'static,
        F: FnMut(&RecordedEvent) -> T + Send + 'static,
    {
        let mut raw = self.stream_pages(after, until, page);
        let (tx, rx) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            while let Some(page) = raw.blocking_recv() {
                let failed = page.is_err();
                let mapped = page.map(|events| {
                    let mapped = events.iter().map(&mut map).collect();
                    MappedPage { events, mapped }
                });
                if tx.blocking_send(mapped).is_err() || failed {
                    break;
                }
            }
        });
        rx
    }
}

fn sqlite_pages(
    path: &std::path::Path,
    after: u64,
    until: u64,
    page: usize,
    tx: &mpsc::Sender<Result<Vec<RecordedEvent>>>,
) -> Result<()> {
    use rusqlite::OpenFlags;
    let bad = |e: rusqlite::Error| StoreError::Decode {
        position: after + 1,
        reason: format!("reading the SQLite log: {e}"),
    };
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(bad)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(bad)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 AND position <= ?2 ORDER BY position"
        ))
        .map_err(bad)?;
    let mut rows = stmt
        .query([after as i64, until.min(i64::MAX as u64) as i64])
        .map_err(bad)?;
    let mut buf = Vec::with_capacity(page);
    while let Some(r) = rows.next().map_err(bad)? {
        buf.push(recorded(r).map_err(|e| match e {
            RowError::Sqlite(e) => bad(e),
            RowError::Store(e) => e,
        })?);
        if buf.len() == page {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(page));
            if tx.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.blocking_send(Ok(buf));
    }
    Ok(())
}

/// Why a row of the SQLite log could not be read: the database, or what it holds.
pub(crate) enum RowError {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for RowError {
    fn from(e: rusqlite::Error) -> RowError {
        RowError::Sqlite(e)
    }
}

/// One row of `SELECT {EVENT_COLUMNS} FROM events` read with rusqlite; fixed-size columns are
/// read in place (no allocation per column and row).
pub(crate) fn recorded(r: &rusqlite::Row<'_>) -> std::result::Result<RecordedEvent, RowError> {
    let position: i64 = r.get(0)?;
    let blob = |i: usize| -> std::result::Result<&[u8], RowError> {
        r.get_ref(i)?.as_blob().map_err(|e| {
            RowError::Store(StoreError::Decode {
                position: position as u64,
                reason: format!("column {i} of the SQLite log: {e}"),
            })
        })
    };
    let event_id = Uuid::from_slice(blob(3)?).map_err(|e| {
        RowError::Store(StoreError::Decode {
            position: position as u64,
            reason: format!("event id: {e}"),
        })
    })?;
    Ok(RecordedEvent {
        position: position as u64,
        stream_id: r.get(1)?,
        stream_version: r.get::<_, i64>(2)? as u64,
        event_id,
        event_type: r.get(4)?,
        schema_version: r.get(5)?,
        payload: r.get(6)?,
        metadata: r.get(7)?,
        recorded_at: r.get(8)?,
        prev_hash: to_hash(position, blob(9)?).map_err(RowError::Store)?,
        hash: to_hash(position, blob(10)?).map_err(RowError::Store)?,
    })
}
