//! The writer task: one per [`crate::log::EventLog`], it group-commits every append.
//!
//! It takes every request that is waiting, opens one write transaction, checks each
//! request's expected stream version, assigns gap-free positions, chains the hashes, inserts
//! all rows with multi-row `INSERT`s, moves the log head and commits once — one fsync for the
//! whole group. A request that fails its version check gets its own error; the others in the
//! group still commit. Each group is written in steps: [`lookup`] (stored event ids and
//! stream versions), [`plan`] (outcomes and rows), [`insert`], then the head moves and the
//! transaction commits.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::{Connection, PgConnection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::atomic::StreamPart;
use crate::atomic::{write_side_rows, write_side_rows_together, AtomicAppend, SideRow};
use crate::conn::Conn;
use crate::db::{Db, Dialect, PG_INSERT_EVENTS};
use crate::error::{Result, StoreError};
use crate::fast::{Fast, GaveUp};
use crate::hash::{event_hash, Hash, HashInput};
use crate::log::{to_hash, Appended, NewEvent, EVENT_COLUMNS};
use crate::sync::{Announce, Committed, Syncer};

/// Most events one group commit writes.
pub(crate) const MAX_GROUP_EVENTS: usize = 4096;
/// Rows per multi-row `INSERT` (11 parameters each, below SQLite's and Postgres' limits).
const ROWS_PER_INSERT: usize = 500;

/// One append waiting for the writer: one stream's events, or an atomic append of several
/// streams and side rows. The reply holds one [`Appended`] per part.
pub(crate) struct Request {
    pub(crate) append: AtomicAppend,
    pub(crate) reply: oneshot::Sender<Result<Vec<Appended>>>,
}

/// The writer's own connection.
pub(crate) enum WriterConn {
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
    pub(crate) async fn connect(db: &Db) -> Result<WriterConn> {
        Ok(match db {
            Db::Sqlite { options, .. } => WriterConn::Sqlite(
                // Checkpoints run off the writer's path (crate::checkpoint). The statement
                // journals of its multi-row `INSERT … ON CONFLICT`s stay in memory instead of
                // a temporary file (a `pwrite` per page they touch; ADR 0041).
                Box::new(
                    SqliteConnection::connect_with(
                        &(**options)
                            .clone()
                            .pragma("wal_autocheckpoint", "0")
                            .pragma("temp_store", "memory")
                            // Group commits insert into the events table and its indexes:
                            // their pages stay cached (64 MiB, grown only as used).
                            .pragma("cache_size", "-65536"),
                    )
                    .await?,
                ),
                db.clone(),
            ),
            Db::Postgres { options, .. } => WriterConn::Postgres(
                Box::new(PgConnection::connect_with(options).await?),
                db.clone(),
            ),
        })
    }

    /// On an SQLite database in WAL mode, makes this connection commit without syncing and
    /// answers the log file a [`Syncer`] syncs before anything is acknowledged (ADR 0055).
    /// `None` (the connection syncs in its commits, as before) for PostgreSQL and for SQLite
    /// in another journal mode (an in-memory database).
    pub(crate) async fn defer_sync(&mut self) -> Result<Option<std::path::PathBuf>> {
        let WriterConn::Sqlite(c, _) = self else {
            return Ok(None);
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **c)
            .await?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(None);
        }
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(&mut **c)
                .await?;
        if file.is_empty() {
            return Ok(None);
        }
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut **c)
            .await?;
        Ok(Some(std::path::PathBuf::from(format!("{file}-wal"))))
    }

    /// Connects again after the connection broke, committing as the first one did.
    async fn reconnect(db: &Db, deferred: bool) -> Result<WriterConn> {
        let mut conn = WriterConn::connect(db).await?;
        if deferred {
            conn.defer_sync().await?;
        }
        Ok(conn)
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

    fn conn(&mut self) -> Conn<'_> {
        match self {
            WriterConn::Sqlite(c, _) => Conn::Sqlite(c),
            WriterConn::Postgres(c, _) => Conn::Postgres(c),
        }
    }
}

/// The writer task: takes every waiting request, writes them as one group, replies to each
/// — through `syncer` once the log file is on disk when there is one (ADR 0055), else as soon
/// as the group committed.
pub(crate) async fn writer_loop(
    mut conn: WriterConn,
    mut rx: mpsc::Receiver<Request>,
    announce: Announce,
    syncer: Option<Syncer>,
) {
    let deferred = syncer.is_some();
    let mut fast: Option<Fast> = None;
    let mut broken = false;
    let mut last_group = 0usize;
    let mut cache = WriterCache::default();
    while let Some(first) = rx.recv().await {
        // With a syncer, the next group waits for a place in the pipeline, and takes
        // everything that arrived meanwhile.
        let place = match &syncer {
            Some(s) => s.place().await,
            None => None,
        };
        let mut group = vec![first];
        let mut n = group[0].append.event_count();
        let mut drain = |group: &mut Vec<Request>, n: &mut usize| {
            while *n < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(r) => {
                        *n += r.append.event_count();
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
        if let Some(e) = syncer.as_ref().and_then(Syncer::failed) {
            for r in group {
                let _ = r.reply.send(Err(e.clone()));
            }
            continue;
        }
        if broken {
            match WriterConn::reconnect(conn.db(), deferred).await {
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
        // The fast path needs the syncer's WAL mode (Fast::open checks it too).
        if fast.is_none() && deferred {
            fast = open_fast(conn.db());
        }
        let mut outcome = match fast.as_mut() {
            Some(f) => match f.write_group(conn.db(), &group, &mut cache) {
                Ok(done) => Ok(done),
                Err(gave_up) => {
                    if let GaveUp::Failed(e) = &gave_up {
                        tracing::debug!(error = %e, "fast group commit failed; redoing it carefully");
                    }
                    if !f.usable() {
                        fast = None;
                    }
                    cache.clear();
                    write_group(&mut conn, &group, &mut cache, true).await
                }
            },
            None => write_twice(&mut conn, &group, &mut cache).await,
        };
        if let Err(e) = &outcome {
            let rolled_back = rollback(&mut conn).await.is_ok();
            cache.clear();
            if !rolled_back || e.is_unavailable() {
                // The connection broke, perhaps while committing, when whether the group was
                // applied is not known. On a new connection the group is redone the careful
                // way: event ids already stored answer with their positions, so a group that
                // did commit is not written twice, and each writer learns its outcome.
                match WriterConn::reconnect(conn.db(), deferred).await {
                    Ok(c) => {
                        conn = c;
                        outcome = write_group(&mut conn, &group, &mut cache, true).await;
                        if outcome.is_err() {
                            broken = rollback(&mut conn).await.is_err();
                            cache.clear();
                        }
                    }
                    Err(_) => broken = true,
                }
            }
        }
        match outcome {
            Ok((outcomes, last, written)) => {
                // A redone group may have written nothing and still answer with positions
                // its first, unacknowledged commit wrote: the head is at least there.
                let top = outcomes
                    .iter()
                    .filter_map(|o| o.as_ref().ok())
                    .flat_map(|parts| parts.iter().map(|a| a.last_position))
                    .max();
                // Every answer of a committed group waits for the sync, refusals too: each
                // may rest on rows of an earlier group that is not on disk yet.
                let committed = Committed {
                    replies: group.into_iter().map(|r| r.reply).zip(outcomes).collect(),
                    last: last.max(top),
                    written,
                    place,
                };
                match &syncer {
                    Some(s) => s.hand_over(committed),
                    None => announce.acknowledge(committed),
                }
            }
            Err(e) => {
                let e = e.located(conn.db());
                // Every writer in the group gets the error (and says it): a debug line here.
                tracing::debug!(error = %e, "group commit failed");
                for r in group {
                    let _ = r.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The fast path's connection on SQLite ([`crate::fast`]); `None` on PostgreSQL, or when it
/// cannot be opened (every group then goes through sqlx, as it did before).
fn open_fast(db: &Db) -> Option<Fast> {
    let Db::Sqlite { path, .. } = db else {
        return None;
    };
    match Fast::open(path) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::debug!(error = %e, "the writer's fast path is off for now");
            None
        }
    }
}

/// Writes a group: the fast path first (no lookup of event ids, stream versions from the
/// cache); a unique violation (a retried append, or a stale cache) or a version conflict
/// rolls back and redoes the group the careful way, which looks everything up.
async fn write_twice(
    conn: &mut WriterConn,
    group: &[Request],
    cache: &mut WriterCache,
) -> Result<(Outcomes, Option<u64>, u64)> {
    let outcome = write_group(conn, group, cache, false).await;
    if matches!(&outcome, Err(e) if is_unique_violation(e))
        || matches!(&outcome, Err(StoreError::RedoCarefully))
    {
        // A connection that broke fails the careful attempt too, and the caller sees that.
        let _ = rollback(conn).await;
        cache.clear();
        return write_group(conn, group, cache, true).await;
    }
    outcome
}

/// Rolls back whatever transaction the connection is in. An error means the connection is
/// unusable — or, on SQLite, that the failure already rolled the transaction back; either
/// way the group is redone on a new connection, which costs only time.
async fn rollback(conn: &mut WriterConn) -> Result<u64> {
    Ok(on_conn!(conn, c => sqlx::query("ROLLBACK").execute(c).await.map(|r| r.rows_affected()))?)
}

/// One row to insert, with everything computed.
pub(crate) struct Row<'a> {
    pub(crate) position: i64,
    pub(crate) stream_id: &'a str,
    pub(crate) stream_version: i64,
    pub(crate) event: &'a NewEvent,
    pub(crate) recorded_at: i64,
    pub(crate) prev_hash: Hash,
    pub(crate) hash: Hash,
}

pub(crate) type Outcomes = Vec<Result<Vec<Appended>>>;

/// What the writer knows between groups: the stream versions it wrote, valid while the log
/// head is where its last commit left it (no other process wrote in between).
#[derive(Default)]
pub(crate) struct WriterCache {
    pub(crate) head: Option<i64>,
    pub(crate) versions: HashMap<String, u64>,
}

impl WriterCache {
    pub(crate) fn clear(&mut self) {
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

/// What [`lookup`] found for a group.
struct Found {
    /// Event ids already stored (retried appends), with their position, stream and version.
    stored: HashMap<Vec<u8>, (i64, String, i64)>,
    /// The current version of every stream in the group.
    versions: HashMap<String, u64>,
}

/// Writes one group in one transaction: locks the head, [`lookup`], [`plan`] for each
/// request, [`insert`], [`move_head`], commit. On the fast path (`careful` false) a version
/// conflict makes the whole group [`StoreError::RedoCarefully`].
async fn write_group(
    conn: &mut WriterConn,
    group: &[Request],
    cache: &mut WriterCache,
    careful: bool,
) -> Result<(Outcomes, Option<u64>, u64)> {
    let dialect = conn.dialect();
    on_conn!(conn, c => sqlx::query(dialect.begin_write()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let (head_pos, head_hash, head_at): (i64, Vec<u8>, i64) =
        on_conn!(conn, c => sqlx::query_as(dialect.lock_head()).fetch_one(&mut *c).await)?;
    let mut prev: Hash = to_hash(head_pos, &head_hash)?;
    let mut position = head_pos;
    let now = chrono::Utc::now().timestamp_micros();
    let recorded_at = now.max(head_at);

    let db = conn.db().clone();
    let scope = claim_scope(&db, group, now)?;

    if cache.head != Some(head_pos) {
        // Another process appended since our last commit: what we remember may be stale.
        cache.clear();
    }

    let Found {
        mut stored,
        mut versions,
    } = lookup(conn, group, cache, careful).await?;

    let events: usize = group.iter().map(|r| r.append.event_count()).sum();
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(events);
    let mut outcomes: Outcomes = Vec::with_capacity(group.len());
    // The fast path writes every request's side rows in a few multi-row statements after
    // planning; anything it cannot write as asked (a refusal, a retry) redoes the group the
    // careful way, request by request.
    let mut side: Vec<&SideRow> = Vec::new();
    for r in group {
        // Only the careful path takes a request back out of the group, so only it needs to
        // know where planning stood before it.
        let before = careful.then(|| Checkpoint::take(r, &versions, rows.len(), position, prev));
        let planned = plan(
            r,
            &mut stored,
            &mut versions,
            &mut rows,
            &mut position,
            &mut prev,
            recorded_at,
        );
        let outcome = match (planned, before) {
            (Ok(Planned::New(appended)), None) => {
                side.extend(r.append.side.iter());
                Ok(appended)
            }
            (Ok(Planned::New(appended)), Some(before)) if !r.append.side.is_empty() => {
                match write_side_rows(&mut conn.conn(), scope.as_ref(), &r.append.side).await? {
                    None => Ok(appended),
                    Some(refusal) => {
                        before.restore(
                            r,
                            &mut stored,
                            &mut versions,
                            &mut rows,
                            &mut position,
                            &mut prev,
                        );
                        Err(StoreError::Refused(Box::new(refusal)))
                    }
                }
            }
            (Ok(Planned::New(appended) | Planned::Stored(appended)), _) => Ok(appended),
            (Err(e), _) => Err(e),
        };
        outcomes.push(outcome);
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
    if !careful && !write_side_rows_together(&mut conn.conn(), scope.as_ref(), &side, now).await? {
        return Err(StoreError::RedoCarefully);
    }

    insert(conn, &rows).await?;
    let last = if rows.is_empty() {
        None
    } else {
        move_head(conn, position, &prev, recorded_at).await?;
        Some(position as u64)
    };
    on_conn!(conn, c => sqlx::query("COMMIT").execute(&mut *c).await.map(|r| r.rows_affected()))?;
    cache.head = Some(position);
    if cache.versions.len() > 200_000 {
        cache.versions.clear();
    }
    cache.versions.extend(versions);
    Ok((outcomes, last, rows.len() as u64))
}

/// On SQLite, when the group claims fingerprints: the fingerprint index, caught up now that
/// this transaction holds the write lock and before it writes a claim (ADR 0047).
pub(crate) fn claim_scope<'a>(
    db: &'a Db,
    group: &[Request],
    now: i64,
) -> Result<Option<crate::fingerprint_index::ClaimScope<'a>>> {
    if group
        .iter()
        .any(|r| r.append.side.iter().any(|s| matches!(s, SideRow::Claim(_))))
    {
        db.claim_scope(now)
    } else {
        Ok(None)
    }
}

/// Looks up what planning the group needs, inside its transaction: the event ids already
/// stored (careful path only) and the version of every stream of the group the cache does
/// not hold (each found through the (stream_id, stream_version) index). One statement each
/// whatever the group's size (a list parameter: a JSON array on SQLite, an array on
/// PostgreSQL; the statements are [`Dialect::find_events`] and [`Dialect::stream_versions`]),
/// so the prepared statement is reused instead of re-planned.
async fn lookup(
    conn: &mut WriterConn,
    group: &[Request],
    cache: &WriterCache,
    careful: bool,
) -> Result<Found> {
    let dialect = conn.dialect();
    let found: Vec<(Vec<u8>, i64, String, i64)> = match conn {
        _ if !careful => Vec::new(),
        WriterConn::Sqlite(c, _) => {
            let hex: Vec<String> = event_ids(group).map(hex::encode).collect();
            sqlx::query_as(dialect.find_events())
                .bind(serde_json::to_string(&hex).unwrap_or_else(|_| "[]".into()))
                .fetch_all(&mut **c)
                .await?
        }
        WriterConn::Postgres(c, _) => {
            let ids: Vec<&[u8]> = event_ids(group).collect();
            sqlx::query_as(dialect.find_events())
                .bind(&ids)
                .fetch_all(&mut **c)
                .await?
        }
    };
    let stored: HashMap<Vec<u8>, (i64, String, i64)> = found
        .into_iter()
        .map(|(id, pos, stream, ver)| (id, (pos, stream, ver)))
        .collect();

    let mut streams: Vec<&str> = parts(group)
        .map(|p| p.stream_id.as_str())
        .filter(|s| !cache.versions.contains_key(*s))
        .collect();
    streams.sort_unstable();
    streams.dedup();
    let found: Vec<(String, Option<i64>)> = match conn {
        _ if streams.is_empty() => Vec::new(),
        WriterConn::Sqlite(c, _) => {
            sqlx::query_as(dialect.stream_versions())
                .bind(serde_json::to_string(&streams).unwrap_or_else(|_| "[]".into()))
                .fetch_all(&mut **c)
                .await?
        }
        WriterConn::Postgres(c, _) => {
            sqlx::query_as(dialect.stream_versions())
                .bind(&streams)
                .fetch_all(&mut **c)
                .await?
        }
    };
    let mut versions: HashMap<String, u64> = parts(group)
        .filter_map(|p| {
            cache
                .versions
                .get(&p.stream_id)
                .map(|v| (p.stream_id.clone(), *v))
        })
        .collect();
    versions.extend(
        found
            .into_iter()
            .map(|(s, v)| (s, v.map_or(0, |v| v as u64))),
    );
    Ok(Found { stored, versions })
}

/// Every stream part of the group, in order.
fn parts(group: &[Request]) -> impl Iterator<Item = &StreamPart> {
    group.iter().flat_map(|r| r.append.parts.iter())
}

/// Every event id of the group, in order.
fn event_ids(group: &[Request]) -> impl Iterator<Item = &[u8]> {
    parts(group).flat_map(|p| p.events.iter().map(|e| e.event_id.as_bytes().as_slice()))
}

/// Inserts the planned rows: multi-row `INSERT`s of [`ROWS_PER_INSERT`] rows on SQLite, all
/// rows in one statement of arrays ([`PG_INSERT_EVENTS`]) on PostgreSQL.
async fn insert(conn: &mut WriterConn, rows: &[Row<'_>]) -> Result<()> {
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
            sqlx::query(PG_INSERT_EVENTS)
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
    Ok(())
}

/// Moves the log head to the group's last row and, on PostgreSQL, tells the other processes
/// ([`Dialect::notify_head`], delivered when the transaction commits).
async fn move_head(
    conn: &mut WriterConn,
    position: i64,
    hash: &Hash,
    recorded_at: i64,
) -> Result<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE log_head SET position = $1, hash = $2, recorded_at = $3 WHERE id = 1")
        .bind(position)
        .bind(hash.as_slice())
        .bind(recorded_at)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    if let Some(notify) = conn.dialect().notify_head() {
        on_conn!(conn, c => sqlx::query(notify)
            .bind(position.to_string())
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// What [`plan`] made of a request.
pub(crate) enum Planned {
    /// Rows to insert, landing at these positions (one per part).
    New(Vec<Appended>),
    /// A retry of an append that already committed: where it landed.
    Stored(Vec<Appended>),
}

/// Where planning stood before a request: what a refused request's side rows put back.
struct Checkpoint {
    rows: usize,
    position: i64,
    prev: Hash,
    versions: Vec<(String, Option<u64>)>,
}

impl Checkpoint {
    fn take(
        r: &Request,
        versions: &HashMap<String, u64>,
        rows: usize,
        position: i64,
        prev: Hash,
    ) -> Checkpoint {
        Checkpoint {
            rows,
            position,
            prev,
            versions: r
                .append
                .parts
                .iter()
                .map(|p| (p.stream_id.clone(), versions.get(&p.stream_id).copied()))
                .collect(),
        }
    }

    /// Takes a planned request back out of the group.
    fn restore(
        self,
        r: &Request,
        stored: &mut HashMap<Vec<u8>, (i64, String, i64)>,
        versions: &mut HashMap<String, u64>,
        rows: &mut Vec<Row<'_>>,
        position: &mut i64,
        prev: &mut Hash,
    ) {
        rows.truncate(self.rows);
        *position = self.position;
        *prev = self.prev;
        for (stream, v) in self.versions {
            match v {
                Some(v) => versions.insert(stream, v),
                None => versions.remove(&stream),
            };
        }
        for p in &r.append.parts {
            for e in &p.events {
                stored.remove(e.event_id.as_bytes().as_slice());
            }
        }
    }
}

/// Decides one request of a group: idempotent replay, conflict, or rows to insert (every
/// part or none).
pub(crate) fn plan<'a>(
    r: &'a Request,
    stored: &mut HashMap<Vec<u8>, (i64, String, i64)>,
    versions: &mut HashMap<String, u64>,
    rows: &mut Vec<Row<'a>>,
    position: &mut i64,
    prev: &mut Hash,
    recorded_at: i64,
) -> Result<Planned> {
    let parts = &r.append.parts;
    let any_known = parts
        .iter()
        .flat_map(|p| p.events.iter())
        .any(|e| stored.contains_key(e.event_id.as_bytes().as_slice()));
    if any_known {
        // A retry of an append that already committed: every event must be there, in its
        // part's stream, in order.
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            let known: Vec<_> = p
                .events
                .iter()
                .map(|e| stored.get(e.event_id.as_bytes().as_slice()))
                .collect();
            let all_same = known.iter().enumerate().all(|(i, k)| {
                matches!(k, Some((_, s, _)) if *s == p.stream_id)
                    && (i == 0
                        || matches!((k, known[i - 1]), (Some((q, _, _)), Some((o, _, _))) if *q == o + 1))
            });
            if !all_same {
                let bad = p
                    .events
                    .iter()
                    .zip(&known)
                    .find(|(_, k)| k.is_some())
                    .or_else(|| p.events.iter().zip(&known).next())
                    .map(|(e, _)| e.event_id.to_string())
                    .unwrap_or_default();
                return Err(StoreError::IdempotencyMismatch {
                    event_id: bad,
                    stream: p.stream_id.clone(),
                });
            }
            let first = known[0].map(|k| k.0).unwrap_or(0) as u64;
            let (last, last_ver) = known[known.len() - 1]
                .map(|k| (k.0 as u64, k.2 as u64))
                .unwrap_or((0, 0));
            out.push(Appended {
                first_position: first,
                last_position: last,
                stream_version: last_ver,
            });
        }
        return Ok(Planned::Stored(out));
    }
    let mut seen = std::collections::HashSet::new();
    if !parts
        .iter()
        .flat_map(|p| p.events.iter())
        .all(|e| seen.insert(e.event_id))
    {
        return Err(StoreError::InvalidAppend(
            "the same event id appears twice in one append".into(),
        ));
    }
    // Every part's version first: a conflict in any part writes none.
    for p in parts {
        let actual = versions.get(&p.stream_id).copied().unwrap_or(0);
        if !p.expected.admits(actual) {
            return Err(StoreError::Conflict {
                stream: p.stream_id.clone(),
                expected: p.expected,
                actual,
            });
        }
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let actual = versions.get(&p.stream_id).copied().unwrap_or(0);
        let first = *position + 1;
        let mut version = actual;
        for e in &p.events {
            *position += 1;
            version += 1;
            let input = HashInput {
                position: *position as u64,
                stream_id: &p.stream_id,
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
                stream_id: &p.stream_id,
                stream_version: version as i64,
                event: e,
                recorded_at,
                prev_hash: *prev,
                hash,
            });
            stored.insert(
                e.event_id.as_bytes().to_vec(),
                (*position, p.stream_id.clone(), version as i64),
            );
            *prev = hash;
        }
        versions.insert(p.stream_id.clone(), version);
        out.push(Appended {
            first_position: first as u64,
            last_position: *position as u64,
            stream_version: version,
        });
    }
    Ok(Planned::New(out))
}
