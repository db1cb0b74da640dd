//! The event log: its types and the [`EventLog`] handle — appends (handed to the writer task,
//! `writer.rs`) and reads.
//!
//! Appends from any number of tasks go through one writer task that group-commits them; a
//! request that fails its version check gets its own error, the others in the group still
//! commit. The log head a commit moves is watched through [`EventLog::watch_head`]
//! ([`crate::head`]); bulk reading for replays is in [`crate::pages`], chain verification in
//! [`crate::verify`].

use std::fmt;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::atomic::{AtomicAppend, StreamPart};
use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::hash::{Hash, HashInput};
use crate::head::{head_on_pool, Head};
use crate::on_pool;
use crate::sync::{Announce, SyncFn, Syncer, WalFile};
use crate::writer::{writer_loop, Request, WriterConn, MAX_GROUP_EVENTS};

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
    pub(crate) fn admits(self, actual: u64) -> bool {
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
pub struct Queued(oneshot::Receiver<Result<Vec<Appended>>>);

impl Queued {
    /// Waits until the append is durable or refused.
    pub async fn outcome(self) -> Result<Appended> {
        self.0
            .await
            .map_err(|_| StoreError::WriterStopped)??
            .pop()
            .ok_or_else(|| StoreError::Internal("the writer answered with no part".into()))
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

impl RecordedEvent {
    /// Recorded-at as a timestamp.
    pub fn recorded_at_utc(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.recorded_at).unwrap_or_default()
    }

    /// Parsed metadata (empty when unreadable).
    pub fn metadata(&self) -> Metadata {
        serde_json::from_slice(&self.metadata).unwrap_or_default()
    }

    pub(crate) fn hash_input(&self) -> HashInput<'_> {
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
pub(crate) struct EventRow {
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

pub(crate) fn to_hash(position: i64, bytes: &[u8]) -> Result<Hash> {
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

/// Handle to the log. Cheap to clone; all clones share one writer task.
#[derive(Clone)]
pub struct EventLog {
    db: Db,
    tx: mpsc::Sender<Request>,
    head: watch::Receiver<u64>,
    /// Events this log's writer has committed since it started.
    appended: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("db", &self.db.describe())
            .finish()
    }
}

/// Starts the writer task on its own thread, with a single-threaded runtime of its own, and
/// returns once its connection is open (or with the error that kept it from opening).
///
/// Every append of the process waits for this one task, and it runs a dozen statements per
/// group, each a hand-off to the database driver and back. On the callers' runtime each
/// hand-off back waited behind whatever the request tasks were doing (sealing, JSON, HTTP):
/// on two busy cores a group took 20-30 ms, most of it queued, and the rate was bounded by
/// that wait rather than by the database. On its own thread the operating system schedules
/// it as soon as the driver answers. The thread ends when the last [`EventLog`] is dropped.
async fn spawn_writer(
    db: &Db,
    rx: mpsc::Receiver<Request>,
    head: watch::Sender<u64>,
    appended: std::sync::Arc<std::sync::atomic::AtomicU64>,
    sync: Option<SyncFn>,
) -> Result<()> {
    let (ready_tx, ready_rx) = oneshot::channel::<Result<()>>();
    let db = db.clone();
    let started = std::thread::Builder::new()
        .name("leadorch-writer".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(StoreError::Io {
                        what: "starting the log writer's runtime".into(),
                        source: std::sync::Arc::new(e),
                    }));
                    return;
                }
            };
            runtime.block_on(async move {
                // Connected here, so a PostgreSQL connection's socket belongs to this runtime.
                let announce = Announce { head, appended };
                let started = async {
                    let mut conn = WriterConn::connect(&db).await?;
                    let syncer = match conn.defer_sync().await? {
                        Some(wal) => {
                            let what = format!("the event log's file {}", wal.display());
                            let sync = sync.unwrap_or_else(|| {
                                let mut file = WalFile::new(wal);
                                Box::new(move || file.sync())
                            });
                            Some(Syncer::spawn(sync, announce.clone(), what)?)
                        }
                        None => None,
                    };
                    Ok::<_, StoreError>((conn, syncer))
                };
                match started.await {
                    Ok((conn, syncer)) => {
                        let _ = ready_tx.send(Ok(()));
                        writer_loop(conn, rx, announce, syncer).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        });
    if let Err(e) = started {
        return Err(StoreError::Io {
            what: "starting the log writer's thread".into(),
            source: std::sync::Arc::new(e),
        });
    }
    ready_rx.await.unwrap_or_else(|_| {
        Err(StoreError::Io {
            what: "starting the log writer".into(),
            source: std::sync::Arc::new(std::io::Error::other("the writer's thread ended")),
        })
    })
}

impl EventLog {
    /// Starts the writer for `db`, on a thread of its own (see [`spawn_writer`]).
    pub async fn open(db: Db) -> Result<EventLog> {
        EventLog::open_syncing(db, None).await
    }

    /// [`EventLog::open`] with `sync` in place of the fsync of SQLite's log file (tests).
    #[cfg(test)]
    pub(crate) async fn open_syncing_with(db: Db, sync: SyncFn) -> Result<EventLog> {
        EventLog::open_syncing(db, Some(sync)).await
    }

    async fn open_syncing(db: Db, sync: Option<SyncFn>) -> Result<EventLog> {
        let start = head_on_pool(&db).await?.position;
        let (head_tx, head_rx) = watch::channel(start);
        let (tx, rx) = mpsc::channel(8192);
        let appended = std::sync::Arc::default();
        spawn_writer(
            &db,
            rx,
            head_tx.clone(),
            std::sync::Arc::clone(&appended),
            sync,
        )
        .await?;
        crate::checkpoint::spawn(&db, head_rx.clone());
        crate::head::spawn_listener(&db, head_tx);
        Ok(EventLog {
            db,
            tx,
            head: head_rx,
            appended,
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
        let append = AtomicAppend {
            parts: vec![StreamPart {
                stream_id: stream_id.to_string(),
                expected,
                events,
            }],
            side: Vec::new(),
        };
        Ok(Queued(self.send(append).await?))
    }

    /// Appends the events of several streams and the side rows that belong with them in one
    /// transaction, all or nothing ([`crate::atomic`]); returns where each part landed, in
    /// order. Each part's expected version is checked; side rows that cannot be written
    /// refuse the whole append with [`StoreError::Refused`].
    pub async fn append_atomic(&self, append: AtomicAppend) -> Result<Vec<Appended>> {
        let n = append.parts.len();
        let out = self
            .send(append)
            .await?
            .await
            .map_err(|_| StoreError::WriterStopped)??;
        if out.len() != n {
            return Err(StoreError::Internal(format!(
                "the writer answered {} parts of {n}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Writes access-log rows with the writer's next group commit (ADR 0041): the API's
    /// rows share the log's one writer instead of competing with it for SQLite's write lock.
    pub async fn log_access(&self, rows: Vec<crate::api_keys::AccessRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.append_atomic(AtomicAppend {
            parts: Vec::new(),
            side: rows
                .into_iter()
                .map(crate::atomic::SideRow::Access)
                .collect(),
        })
        .await
        .map(|_| ())
    }

    async fn send(&self, append: AtomicAppend) -> Result<oneshot::Receiver<Result<Vec<Appended>>>> {
        append.check()?;
        let n = append.event_count();
        if n > MAX_GROUP_EVENTS {
            return Err(StoreError::InvalidAppend(format!(
                "{n} events in one append; the most is {MAX_GROUP_EVENTS}"
            )));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { append, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(rx)
    }

    /// A receiver of the last known position, updated after every commit (in this process,
    /// and from other processes through LISTEN/NOTIFY on PostgreSQL).
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    /// How many events this log's writer (one per process, normally) has committed since it
    /// started: not those of other processes, nor retries that found their events stored.
    pub fn appended_here(&self) -> u64 {
        self.appended.load(std::sync::atomic::Ordering::Relaxed)
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
        if let Some(inline) = self.db.inline() {
            // One aggregate's events, by the (stream, version) index (ADR 0041).
            return inline.read("reading a stream", |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 \
                     ORDER BY stream_id, stream_version"
                ))?;
                let mut rows = stmt.query([stream_id])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(crate::pages::recorded(r)?);
                }
                Ok::<_, crate::pages::RowError>(out)
            });
        }
        self.list(&EventFilter {
            stream: Some(stream_id.to_string()),
            ..Default::default()
        })
        .await
    }

    /// The events of one stream after stream version `after`, in order.
    pub async fn read_stream_after(
        &self,
        stream_id: &str,
        after: u64,
    ) -> Result<Vec<RecordedEvent>> {
        let rows: Vec<EventRow> = on_pool!(&self.db, p => sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2 \
                 ORDER BY stream_id, stream_version"))
            .bind(stream_id)
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(RecordedEvent::try_from).collect()
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

    /// Up to `limit` events of aggregate type `aggregate_type` (streams `<type>:…`) after
    /// `after`, in order. Walks the positions after `after` (stream ids compared by their
    /// first bytes, as [`crate::window`] does): cheap when `after` is near the head.
    pub async fn read_aggregate_type_after(
        &self,
        aggregate_type: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>> {
        let prefix = format!("{aggregate_type}:");
        let rows: Vec<EventRow> = on_pool!(&self.db, p => {
            let mut qb = sqlx::QueryBuilder::new(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position > "
            ));
            qb.push_bind(after.min(i64::MAX as u64) as i64);
            qb.push(" AND substr(stream_id, 1, ")
                .push_bind(prefix.chars().count() as i32)
                .push(") = ")
                .push_bind(prefix.as_str());
            qb.push(" ORDER BY position LIMIT ")
                .push_bind(limit.min(i64::MAX as u64) as i64);
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

    /// The last position recorded at or before `micros` (0 if none).
    pub async fn position_at_time(&self, micros: i64) -> Result<u64> {
        let v: Option<i64> = on_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT MAX(position) FROM events WHERE recorded_at <= $1")
            .bind(micros)
            .fetch_one(p)
            .await)?;
        Ok(v.unwrap_or(0) as u64)
    }
}
