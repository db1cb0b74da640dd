//! The event log: group-committed appends with optimistic concurrency, reads, and chain
//! verification.
//!
//! Appends from any number of tasks go through one writer task. It takes every request that
//! is waiting, opens one write transaction, checks each request's expected stream version,
//! assigns gap-free positions, chains the hashes, inserts all rows with multi-row `INSERT`s,
//! moves the log head and commits once — one fsync for the whole group. A request that fails
//! its version check gets its own error; the others in the group still commit.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, SqliteConnection};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::db::{Db, Dialect};
use crate::error::{Result, StoreError};
use crate::hash::{event_hash, Hash, HashInput, GENESIS};
use crate::on_pool;

/// Most events one group commit writes.
const MAX_GROUP_EVENTS: usize = 4096;
/// Rows per multi-row `INSERT` (11 parameters each, below SQLite's and Postgres' limits).
const ROWS_PER_INSERT: usize = 500;

/// What the appender expects the stream's current version to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version (0 = no stream).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

impl ExpectedVersion {
    fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }
}

/// Who caused an event and why: stored as JSON next to the payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Who or what acted (`cli:alice`, `daemon`, `api:key-id`, `seed`).
    pub actor: String,
    /// Groups every event caused by one request or one evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The event or command that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Distributed trace id, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Metadata {
    /// Metadata naming only the actor.
    pub fn actor(actor: impl Into<String>) -> Self {
        Metadata {
            actor: actor.into(),
            ..Default::default()
        }
    }

    /// Serialized form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// An event about to be appended. Its payload is already in stored form (personal fields
/// encrypted, see [`crate::codec`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique id (UUIDv7); appending the same ids again is a no-op that returns the original
    /// positions.
    pub event_id: Uuid,
    /// Event type name.
    pub event_type: String,
    /// Payload schema version, "MAJOR.MINOR".
    pub schema_version: String,
    /// Stored payload bytes.
    pub payload: Vec<u8>,
    /// Stored metadata bytes.
    pub metadata: Vec<u8>,
}

impl NewEvent {
    /// A new event with a fresh UUIDv7.
    pub fn new(
        event_type: impl Into<String>,
        schema_version: impl Into<String>,
        payload: Vec<u8>,
        metadata: &Metadata,
    ) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: schema_version.into(),
            payload,
            metadata: metadata.to_bytes(),
        }
    }
}

/// Where an append landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// Position of the first event.
    pub first_position: u64,
    /// Position of the last event.
    pub last_position: u64,
    /// The stream's version after the append.
    pub stream_version: u64,
}

/// An append the writer has taken but may not have written yet (see [`EventLog::enqueue`]).
#[derive(Debug)]
#[must_use = "an enqueued append may still fail: await its outcome"]
pub struct Queued(oneshot::Receiver<Result<Appended>>);

impl Queued {
    /// Waits until the append is durable or refused.
    pub async fn outcome(self) -> Result<Appended> {
        self.0.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position (1-based, gap-free).
    pub position: u64,
    /// Stream id.
    pub stream_id: String,
    /// Version within the stream (1-based).
    pub stream_version: u64,
    /// Event id.
    pub event_id: Uuid,
    /// Type name.
    pub event_type: String,
    /// Schema version.
    pub schema_version: String,
    /// Stored payload bytes.
    pub payload: Vec<u8>,
    /// Stored metadata bytes.
    pub metadata: Vec<u8>,
    /// Microseconds since the Unix epoch (UTC).
    pub recorded_at: i64,
    /// Hash of the previous event.
    pub prev_hash: Hash,
    /// This event's hash.
    pub hash: Hash,
}

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

impl RecordedEvent {
    /// Recorded-at as a timestamp.
    pub fn recorded_at_utc(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.recorded_at).unwrap_or_default()
    }

    /// Parsed metadata (empty when unreadable).
    pub fn metadata(&self) -> Metadata {
        serde_json::from_slice(&self.metadata).unwrap_or_default()
    }

    fn hash_input(&self) -> HashInput<'_> {
        HashInput {
            position: self.position,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id.as_bytes(),
            event_type: &self.event_type,
            schema_version: &self.schema_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at: self.recorded_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    position: i64,
    stream_id: String,
    stream_version: i64,
    event_id: Vec<u8>,
    event_type: String,
    schema_version: String,
    payload: Vec<u8>,
    metadata: Vec<u8>,
    recorded_at: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// Columns in table order.
pub(crate) const EVENT_COLUMNS: &str = "position, stream_id, stream_version, event_id, \
     event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash";

fn to_hash(position: i64, bytes: &[u8]) -> Result<Hash> {
    bytes.try_into().map_err(|_| StoreError::Decode {
        position: position as u64,
        reason: format!("hash has {} bytes, expected 32", bytes.len()),
    })
}

impl TryFrom<EventRow> for RecordedEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self> {
        let event_id = Uuid::from_slice(&r.event_id).map_err(|e| StoreError::Decode {
            position: r.position as u64,
            reason: format!("event id: {e}"),
        })?;
        Ok(RecordedEvent {
            position: r.position as u64,
            prev_hash: to_hash(r.position, &r.prev_hash)?,
            hash: to_hash(r.position, &r.hash)?,
            stream_id: r.stream_id,
            stream_version: r.stream_version as u64,
            event_id,
            event_type: r.event_type,
            schema_version: r.schema_version,
            payload: r.payload,
            metadata: r.metadata,
            recorded_at: r.recorded_at,
        })
    }
}

/// Which events to list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only this stream.
    pub stream: Option<String>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only positions after this one.
    pub after: u64,
    /// Only positions up to this one.
    pub until: Option<u64>,
    /// At most this many.
    pub limit: Option<u64>,
}

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

/// Result of verifying the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every event and the head agree.
    Intact {
        /// Events checked.
        count: u64,
        /// The head hash.
        head: Hash,
    },
    /// The first position where stored bytes disagree with the chain.
    Broken {
        /// First bad position.
        position: u64,
        /// What is wrong there.
        reason: String,
    },
}

struct Request {
    stream_id: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Appended>>,
}

/// Handle to the log. Cheap to clone; all clones share one writer task.
#[derive(Clone)]
pub struct EventLog {
    db: Db,
    tx: mpsc::Sender<Request>,
    head: watch::Receiver<u64>,
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("db", &self.db.describe())
            .finish()
    }
}

impl EventLog {
    /// Starts the writer task for `db`.
    pub async fn open(db: Db) -> Result<EventLog> {
        let conn = WriterConn::connect(&db).await?;
        let start = head_on_pool(&db).await?.position;
        let (head_tx, head_rx) = watch::channel(start);
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(writer_loop(conn, rx, head_tx.clone()));
        if let Db::Postgres { options, .. } = &db {
            crate::subscription::spawn_pg_listener(options.clone(), head_tx);
        }
        Ok(EventLog {
            db,
            tx,
            head: head_rx,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Appends `events` to `stream_id` if the stream is at `expected`, durably, as one unit.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended> {
        self.enqueue(stream_id, expected, events)
            .await?
            .outcome()
            .await
    }

    /// Hands an append to the writer and returns as soon as the writer has it, before it is
    /// written. Appends enqueued one after another (each `enqueue` awaited before the next)
    /// take positions in that order, whatever order their outcomes are awaited in; awaiting
    /// [`Queued::outcome`] tells whether the append was written.
    pub async fn enqueue(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Queued> {
        if events.is_empty() {
            return Err(StoreError::InvalidAppend("no events to append".into()));
        }
        if stream_id.is_empty() || stream_id.len() > 512 {
            return Err(StoreError::InvalidAppend(
                "stream id must be 1 to 512 bytes".into(),
            ));
        }
        if events.len() > MAX_GROUP_EVENTS {
            return Err(StoreError::InvalidAppend(format!(
                "{} events in one append; the most is {MAX_GROUP_EVENTS}",
                events.len()
            )));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request {
                stream_id: stream_id.to_string(),
                expected,
                events,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(Queued(rx))
    }

    /// A receiver of the last known position, updated after every commit (in this process,
    /// and from other processes through LISTEN/NOTIFY on PostgreSQL).
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    /// The head as stored.
    pub async fn head(&self) -> Result<Head> {
        head_on_pool(&self.db).await
    }

    /// The current version of a stream (0 when it does not exist).
    pub async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        let v: Option<i64> = on_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT MAX(stream_version) FROM events WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_one(p)
            .await)?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Every event of one stream, in order.
    pub async fn read_stream(&self, stream_id: &str) -> Result<Vec<RecordedEvent>> {
        self.list(&EventFilter {
            stream: Some(stream_id.to_string()),
            ..Default::default()
        })
        .await
    }

    /// Events matching `filter`, in position order.
    pub async fn list(&self, filter: &EventFilter) -> Result<Vec<RecordedEvent>> {
        let rows: Vec<EventRow> = on_pool!(&self.db, p => {
            let mut qb = sqlx::QueryBuilder::new(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position > "
            ));
            qb.push_bind(filter.after as i64);
            if let Some(until) = filter.until {
                qb.push(" AND position <= ").push_bind(until as i64);
            }
            if let Some(s) = &filter.stream {
                qb.push(" AND stream_id = ").push_bind(s.as_str());
            }
            if let Some(t) = &filter.event_type {
                qb.push(" AND event_type = ").push_bind(t.as_str());
            }
            // Within a stream, version order is position order, and it is what the
            // (stream_id, stream_version) index gives without a sort.
            qb.push(if filter.stream.is_some() {
                " ORDER BY stream_id, stream_version"
            } else {
                " ORDER BY position"
            });
            if let Some(l) = filter.limit {
                qb.push(" LIMIT ").push_bind(l.min(i64::MAX as u64) as i64);
            }
            qb.build_query_as().fetch_all(p).await
        })?;
        rows.into_iter().map(RecordedEvent::try_from).collect()
    }

    /// Up to `limit` events after `after`, in order: the page primitive for replays and
    /// subscriptions.
    pub async fn read_after(&self, after: u64, limit: u64) -> Result<Vec<RecordedEvent>> {
        self.list(&EventFilter {
            after,
            limit: Some(limit),
            ..Default::default()
        })
        .await
    }

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
        match &self.db {
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

    /// The last position recorded at or before `micros` (0 if none).
    pub async fn position_at_time(&self, micros: i64) -> Result<u64> {
        let v: Option<i64> = on_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT MAX(position) FROM events WHERE recorded_at <= $1")
            .bind(micros)
            .fetch_one(p)
            .await)?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Recomputes the whole chain; reports the first position where anything disagrees.
    /// `progress` is called with the number of events checked so far.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<Verification> {
        const PAGE: u64 = 10_000;
        let mut expected_position = 1u64;
        let mut prev = GENESIS;
        loop {
            let page = match self.read_after(expected_position - 1, PAGE).await {
                Ok(p) => p,
                Err(StoreError::Decode { position, reason }) => {
                    return Ok(Verification::Broken { position, reason })
                }
                Err(e) => return Err(e),
            };
            let n = page.len() as u64;
            for e in page {
                if e.position != expected_position {
                    return Ok(Verification::Broken {
                        position: expected_position,
                        reason: format!(
                            "position {expected_position} is missing (next stored is {})",
                            e.position
                        ),
                    });
                }
                if e.prev_hash != prev {
                    return Ok(Verification::Broken {
                        position: e.position,
                        reason: "prev_hash does not match the hash of the event before".into(),
                    });
                }
                let h = event_hash(&prev, &e.hash_input());
                if h != e.hash {
                    return Ok(Verification::Broken {
                        position: e.position,
                        reason: "stored bytes do not match the event's hash".into(),
                    });
                }
                prev = h;
                expected_position += 1;
            }
            progress(expected_position - 1);
            if n < PAGE {
                break;
            }
        }
        let count = expected_position - 1;
        let head = self.head().await?;
        if head.position != count || head.hash != prev {
            return Ok(Verification::Broken {
                position: count.min(head.position) + 1,
                reason: format!(
                    "the log head says position {} but the chain ends at {count}",
                    head.position
                ),
            });
        }
        Ok(Verification::Intact { count, head: prev })
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
        let position: i64 = r.get(0).map_err(bad)?;
        // Fixed-size columns are read in place (no allocation per column and row).
        let blob = |i: usize| -> Result<&[u8]> {
            r.get_ref(i)
                .map_err(bad)?
                .as_blob()
                .map_err(|e| StoreError::Decode {
                    position: position as u64,
                    reason: format!("column {i} of the SQLite log: {e}"),
                })
        };
        let event_id = Uuid::from_slice(blob(3)?).map_err(|e| StoreError::Decode {
            position: position as u64,
            reason: format!("event id: {e}"),
        })?;
        buf.push(RecordedEvent {
            position: position as u64,
            stream_id: r.get(1).map_err(bad)?,
            stream_version: r.get::<_, i64>(2).map_err(bad)? as u64,
            event_id,
            event_type: r.get(4).map_err(bad)?,
            schema_version: r.get(5).map_err(bad)?,
            payload: r.get(6).map_err(bad)?,
            metadata: r.get(7).map_err(bad)?,
            recorded_at: r.get(8).map_err(bad)?,
            prev_hash: to_hash(position, blob(9)?)?,
            hash: to_hash(position, blob(10)?)?,
        });
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

async fn head_on_pool(db: &Db) -> Result<Head> {
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

/// The writer's own connection.
enum WriterConn {
    Sqlite(Box<SqliteConnection>, Db),
    Postgres(Box<PgConnection>, Db),
}

macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            WriterConn::Sqlite($c, _) => {
                let $c = &mut **$c;
                $body
            }
            WriterConn::Postgres($c, _) => {
                let $c = &mut **$c;
                $body
            }
        }
    };
}

impl WriterConn {
    async fn connect(db: &Db) -> Result<WriterConn> {
        Ok(match db {
            Db::Sqlite { options, .. } => WriterConn::Sqlite(
                Box::new(SqliteConnection::connect_with(options).await?),
                db.clone(),
            ),
            Db::Postgres { options, .. } => WriterConn::Postgres(
                Box::new(PgConnection::connect_with(options).await?),
                db.clone(),
            ),
        })
    }

    fn dialect(&self) -> Dialect {
        match self {
            WriterConn::Sqlite(..) => Dialect::Sqlite,
            WriterConn::Postgres(..) => Dialect::Postgres,
        }
    }

    fn db(&self) -> &Db {
        match self {
            WriterConn::Sqlite(_, db) | WriterConn::Postgres(_, db) => db,
        }
    }
}

async fn writer_loop(
    mut conn: WriterConn,
    mut rx: mpsc::Receiver<Request>,
    head: watch::Sender<u64>,
) {
    let mut broken = false;
    let mut last_group = 0usize;
    let mut cache = WriterCache::default();
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let mut n = group[0].events.len();
        let mut drain = |group: &mut Vec<Request>, n: &mut usize| {
            while *n < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(r) => {
                        *n += r.events.len();
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
        };
        drain(&mut group, &mut n);
        // The writers the last commit acknowledged are about to come back. Give them a few
        // scheduler turns (microseconds, against a commit's milliseconds), so a group holds
        // all of them instead of the writers splitting into two alternating halves.
        let mut idle_turns = 0;
        while group.len() < last_group && idle_turns < 4 && n < MAX_GROUP_EVENTS {
            tokio::task::yield_now().await;
            let before = group.len();
            drain(&mut group, &mut n);
            if group.len() == before {
                idle_turns += 1;
            }
        }
        last_group = group.len();
        if broken {
            match WriterConn::connect(conn.db()).await {
                Ok(c) => {
                    conn = c;
                    broken = false;
                }
                Err(e) => {
                    for r in group {
                        let _ = r.reply.send(Err(e.clone()));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        // Fast path first: no lookup of event ids, stream versions from the cache. A unique
        // violation (a retried append, or a stale cache) rolls back and redoes the group the
        // careful way, which looks everything up.
        let mut outcome = write_group(&mut conn, &group, &mut cache, false).await;
        if matches!(&outcome, Err(e) if is_unique_violation(e))
            || matches!(&outcome, Err(StoreError::RedoCarefully))
        {
            let _ = on_conn!(&mut conn, c => sqlx::query("ROLLBACK").execute(c).await.map(|r| r.rows_affected()));
            cache.clear();
            outcome = write_group(&mut conn, &group, &mut cache, true).await;
        }
        match outcome {
            Ok((outcomes, last)) => {
                if let Some(last) = last {
                    head.send_if_modified(|h| {
                        let moved = last > *h;
                        if moved {
                            *h = last;
                        }
                        moved
                    });
                }
                for (r, o) in group.into_iter().zip(outcomes) {
                    let _ = r.reply.send(o);
                }
            }
            Err(e) => {
                let rollback = on_conn!(&mut conn, c => sqlx::query("ROLLBACK").execute(c).await.map(|r| r.rows_affected()));
                if rollback.is_err() {
                    broken = true;
                }
                cache.clear();
                tracing::warn!(error = %e, "group commit failed");
                for r in group {
                    let _ = r.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One row to insert, with everything computed.
struct Row<'a> {
    position: i64,
    stream_id: &'a str,
    stream_version: i64,
    event: &'a NewEvent,
    recorded_at: i64,
    prev_hash: Hash,
    hash: Hash,
}

type Outcomes = Vec<Result<Appended>>;

/// What the writer knows between groups: the stream versions it wrote, valid while the log
/// head is where its last commit left it (no other process wrote in between).
#[derive(Default)]
struct WriterCache {
    head: Option<i64>,
    versions: HashMap<String, u64>,
}

impl WriterCache {
    fn clear(&mut self) {
        self.head = None;
        self.versions.clear();
    }
}

/// Whether a database error is a unique-constraint violation (SQLSTATE 23505 on
/// PostgreSQL, SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY on SQLite).
fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Database(inner) => match inner.as_ref() {
            sqlx::Error::Database(db) => matches!(
                db.code().as_deref(),
                Some("23505") | Some("2067") | Some("1555")
            ),
            _ => false,
        },
        _ => false,
    }
}

async fn write_group(
    conn: &mut WriterConn,
    group: &[Request],
    cache: &mut WriterCache,
    careful: bool,
) -> Result<(Outcomes, Option<u64>)> {
    let dialect = conn.dialect();
    on_conn!(conn, c => sqlx::query(dialect.begin_write()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let (head_pos, head_hash, head_at): (i64, Vec<u8>, i64) =
        on_conn!(conn, c => sqlx::query_as(dialect.lock_head()).fetch_one(&mut *c).await)?;
    let mut prev: Hash = to_hash(head_pos, &head_hash)?;
    let mut position = head_pos;
    let now = chrono::Utc::now().timestamp_micros();
    let recorded_at = now.max(head_at);

    if cache.head != Some(head_pos) {
        // Another process appended since our last commit: what we remember may be stale.
        cache.clear();
    }

    // Event ids already stored (retried appends): only looked up on the careful path.
    let ids: Vec<&[u8]> = group
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.event_id.as_bytes().as_slice()))
        .collect();
    // One statement whatever the group's size (a list parameter: a JSON array on SQLite, an
    // array on PostgreSQL), so the prepared statement is reused instead of re-planned.
    let found: Vec<(Vec<u8>, i64, String, i64)> = match conn {
        _ if !careful => Vec::new(),
        WriterConn::Sqlite(c, _) => {
            let hex: Vec<String> = ids.iter().map(hex::encode).collect();
            sqlx::query_as(
                "SELECT event_id, position, stream_id, stream_version FROM events \
                 WHERE event_id IN (SELECT unhex(value) FROM json_each($1))",
            )
            .bind(serde_json::to_string(&hex).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&mut **c)
            .await?
        }
        WriterConn::Postgres(c, _) => {
            sqlx::query_as(
                "SELECT event_id, position, stream_id, stream_version FROM events \
                 WHERE event_id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(&mut **c)
            .await?
        }
    };
    let mut stored: HashMap<Vec<u8>, (i64, String, i64)> = found
        .into_iter()
        .map(|(id, pos, stream, ver)| (id, (pos, stream, ver)))
        .collect();

    // Current version of every stream in the group, each found through the
    // (stream_id, stream_version) index.
    let mut streams: Vec<&str> = group
        .iter()
        .map(|r| r.stream_id.as_str())
        .filter(|s| !cache.versions.contains_key(*s))
        .collect();
    streams.sort_unstable();
    streams.dedup();
    let found: Vec<(String, Option<i64>)> =
        match conn {
            _ if streams.is_empty() => Vec::new(),
            WriterConn::Sqlite(c, _) => sqlx::query_as(
                "SELECT value, (SELECT MAX(stream_version) FROM events WHERE stream_id = value) \
                 FROM json_each($1)",
            )
            .bind(serde_json::to_string(&streams).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&mut **c)
            .await?,
            WriterConn::Postgres(c, _) => {
                sqlx::query_as(
                    "SELECT s.id, (SELECT e.stream_version FROM events e WHERE e.stream_id = s.id \
                 ORDER BY e.stream_version DESC LIMIT 1) FROM unnest($1::text[]) AS s(id)",
                )
                .bind(&streams)
                .fetch_all(&mut **c)
                .await?
            }
        };
    let mut versions: HashMap<String, u64> = group
        .iter()
        .filter_map(|r| {
            cache
                .versions
                .get(&r.stream_id)
                .map(|v| (r.stream_id.clone(), *v))
        })
        .collect();
    versions.extend(
        found
            .into_iter()
            .map(|(s, v)| (s, v.map_or(0, |v| v as u64))),
    );

    let mut rows: Vec<Row<'_>> = Vec::with_capacity(ids.len());
    let mut outcomes: Outcomes = Vec::with_capacity(group.len());
    for r in group {
        outcomes.push(plan(
            r,
            &mut stored,
            &mut versions,
            &mut rows,
            &mut position,
            &mut prev,
            recorded_at,
        ));
    }
    // A version conflict may be a retry of an append that already committed, which only
    // the careful path (it looks event ids up) can tell.
    if !careful
        && outcomes
            .iter()
            .any(|o| matches!(o, Err(StoreError::Conflict { .. })))
    {
        return Err(StoreError::RedoCarefully);
    }

    match conn {
        WriterConn::Sqlite(c, _) => {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut qb =
                    sqlx::QueryBuilder::new(format!("INSERT INTO events ({EVENT_COLUMNS}) "));
                qb.push_values(chunk, |mut b, row| {
                    b.push_bind(row.position)
                        .push_bind(row.stream_id)
                        .push_bind(row.stream_version)
                        .push_bind(row.event.event_id.as_bytes().as_slice())
                        .push_bind(row.event.event_type.as_str())
                        .push_bind(row.event.schema_version.as_str())
                        .push_bind(row.event.payload.as_slice())
                        .push_bind(row.event.metadata.as_slice())
                        .push_bind(row.recorded_at)
                        .push_bind(row.prev_hash.as_slice())
                        .push_bind(row.hash.as_slice());
                });
                qb.build().execute(&mut **c).await?;
            }
        }
        WriterConn::Postgres(c, _) if !rows.is_empty() => {
            // All rows in one statement of arrays.
            sqlx::query(&format!(
                "INSERT INTO events ({EVENT_COLUMNS}) SELECT * FROM UNNEST($1::int8[], \
                 $2::text[], $3::int8[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], \
                 $8::bytea[], $9::int8[], $10::bytea[], $11::bytea[])"
            ))
            .bind(rows.iter().map(|r| r.position).collect::<Vec<i64>>())
            .bind(rows.iter().map(|r| r.stream_id).collect::<Vec<&str>>())
            .bind(rows.iter().map(|r| r.stream_version).collect::<Vec<i64>>())
            .bind(
                rows.iter()
                    .map(|r| r.event.event_id.as_bytes().as_slice())
                    .collect::<Vec<&[u8]>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.event.event_type.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.event.schema_version.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.event.payload.as_slice())
                    .collect::<Vec<&[u8]>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.event.metadata.as_slice())
                    .collect::<Vec<&[u8]>>(),
            )
            .bind(rows.iter().map(|r| r.recorded_at).collect::<Vec<i64>>())
            .bind(
                rows.iter()
                    .map(|r| r.prev_hash.as_slice())
                    .collect::<Vec<&[u8]>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.hash.as_slice())
                    .collect::<Vec<&[u8]>>(),
            )
            .execute(&mut **c)
            .await?;
        }
        WriterConn::Postgres(..) => {}
    }
    let last = if rows.is_empty() {
        None
    } else {
        on_conn!(conn, c => sqlx::query(
            "UPDATE log_head SET position = $1, hash = $2, recorded_at = $3 WHERE id = 1")
            .bind(position)
            .bind(prev.as_slice())
            .bind(recorded_at)
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
        if dialect == Dialect::Postgres {
            on_conn!(conn, c => sqlx::query("SELECT pg_notify('leadorch_events', $1)")
                .bind(position.to_string())
                .execute(&mut *c)
                .await.map(|r| r.rows_affected()))?;
        }
        Some(position as u64)
    };
    on_conn!(conn, c => sqlx::query("COMMIT").execute(&mut *c).await.map(|r| r.rows_affected()))?;
    cache.head = Some(position);
    if cache.versions.len() > 200_000 {
        cache.versions.clear();
    }
    cache.versions.extend(versions);
    Ok((outcomes, last))
}

/// Decides one request of a group: idempotent replay, conflict, or rows to insert.
fn plan<'a>(
    r: &'a Request,
    stored: &mut HashMap<Vec<u8>, (i64, String, i64)>,
    versions: &mut HashMap<String, u64>,
    rows: &mut Vec<Row<'a>>,
    position: &mut i64,
    prev: &mut Hash,
    recorded_at: i64,
) -> Result<Appended> {
    let known: Vec<_> = r
        .events
        .iter()
        .map(|e| stored.get(e.event_id.as_bytes().as_slice()))
        .collect();
    if known.iter().any(Option::is_some) {
        // A retry of an append that already committed: every event must be there, in this
        // stream, in order.
        let all_same = known.iter().enumerate().all(|(i, k)| {
            matches!(k, Some((_, s, _)) if *s == r.stream_id)
                && (i == 0
                    || matches!((k, known[i - 1]), (Some((p, _, _)), Some((q, _, _))) if *p == q + 1))
        });
        if !all_same {
            let bad = r
                .events
                .iter()
                .zip(&known)
                .find(|(_, k)| k.is_some())
                .map(|(e, _)| e.event_id.to_string())
                .unwrap_or_default();
            return Err(StoreError::IdempotencyMismatch {
                event_id: bad,
                stream: r.stream_id.clone(),
            });
        }
        let first = known[0].map(|k| k.0).unwrap_or(0) as u64;
        let (last, last_ver) = known[known.len() - 1]
            .map(|k| (k.0 as u64, k.2 as u64))
            .unwrap_or((0, 0));
        return Ok(Appended {
            first_position: first,
            last_position: last,
            stream_version: last_ver,
        });
    }
    let mut seen = std::collections::HashSet::new();
    if !r.events.iter().all(|e| seen.insert(e.event_id)) {
        return Err(StoreError::InvalidAppend(
            "the same event id appears twice in one append".into(),
        ));
    }
    let actual = versions.get(&r.stream_id).copied().unwrap_or(0);
    if !r.expected.admits(actual) {
        return Err(StoreError::Conflict {
            stream: r.stream_id.clone(),
            expected: r.expected,
            actual,
        });
    }
    let first = *position + 1;
    let mut version = actual;
    for e in &r.events {
        *position += 1;
        version += 1;
        let input = HashInput {
            position: *position as u64,
            stream_id: &r.stream_id,
            stream_version: version,
            event_id: e.event_id.as_bytes(),
            event_type: &e.event_type,
            schema_version: &e.schema_version,
            payload: &e.payload,
            metadata: &e.metadata,
            recorded_at,
        };
        let hash = event_hash(prev, &input);
        rows.push(Row {
            position: *position,
            stream_id: &r.stream_id,
            stream_version: version as i64,
            event: e,
            recorded_at,
            prev_hash: *prev,
            hash,
        });
        stored.insert(
            e.event_id.as_bytes().to_vec(),
            (*position, r.stream_id.clone(), version as i64),
        );
        *prev = hash;
    }
    versions.insert(r.stream_id.clone(), version);
    Ok(Appended {
        first_position: first as u64,
        last_position: *position as u64,
        stream_version: version,
    })
}
