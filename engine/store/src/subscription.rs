//! Catch-up subscriptions and read-model transactions.
//!
//! A subscriber reads `position > checkpoint` in pages, applies them to its read model and
//! commits the read-model change and the new checkpoint in one [`ReadModelTx`]: after a crash
//! it resumes exactly where its last commit left off. New events wake subscribers through a
//! watch channel fed by the writer (same process) and by `LISTEN leadorch_events`
//! (PostgreSQL, other processes); a poll interval covers SQLite files written by another
//! process.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::{mpsc, watch};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::log::{EventLog, RecordedEvent};
use crate::on_pool;

/// The NOTIFY channel the writer signals on after each commit.
pub const NOTIFY_CHANNEL: &str = "leadorch_events";

pub(crate) fn spawn_pg_listener(options: PgConnectOptions, head: watch::Sender<u64>) {
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

/// A transaction for a read-model change and its checkpoint.
pub enum ReadModelTx {
    /// On SQLite.
    Sqlite(Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

macro_rules! on_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            ReadModelTx::Sqlite($t) => $body,
            ReadModelTx::Postgres($t) => $body,
        }
    };
}

impl ReadModelTx {
    /// Opens a write transaction.
    pub async fn begin(db: &Db) -> Result<ReadModelTx> {
        let sql = db.dialect().begin_write();
        Ok(match db {
            Db::Sqlite { pool, .. } => ReadModelTx::Sqlite(pool.begin_with(sql).await?),
            Db::Postgres { pool, .. } => ReadModelTx::Postgres(pool.begin_with(sql).await?),
        })
    }

    /// Inserts or replaces one document.
    pub async fn put(&mut self, projection: &str, key: &str, doc: &[u8]) -> Result<()> {
        on_tx!(self, t => sqlx::query(
            "INSERT INTO read_models (projection, key, doc) VALUES ($1, $2, $3) \
             ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc")
            .bind(projection)
            .bind(key)
            .bind(doc)
            .execute(&mut **t)
            .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Inserts or replaces many documents of one projection: a few hundred per statement on
    /// SQLite, thousands per statement (arrays) on PostgreSQL.
    pub async fn put_many(&mut self, projection: &str, docs: &[(String, Vec<u8>)]) -> Result<()> {
        if let ReadModelTx::Postgres(t) = self {
            for chunk in docs.chunks(5000) {
                sqlx::query(
                    "INSERT INTO read_models (projection, key, doc) \
                     SELECT $1, k, d FROM UNNEST($2::text[], $3::bytea[]) AS u(k, d) \
                     ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc",
                )
                .bind(projection)
                .bind(chunk.iter().map(|(k, _)| k.as_str()).collect::<Vec<&str>>())
                .bind(
                    chunk
                        .iter()
                        .map(|(_, d)| d.as_slice())
                        .collect::<Vec<&[u8]>>(),
                )
                .execute(&mut **t)
                .await?;
            }
            return Ok(());
        }
        for chunk in docs.chunks(300) {
            on_tx!(self, t => {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO read_models (projection, key, doc) ");
                qb.push_values(chunk, |mut b, (key, doc)| {
                    b.push_bind(projection).push_bind(key.as_str()).push_bind(doc.as_slice());
                });
                qb.push(" ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc");
                qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Removes one document.
    pub async fn delete(&mut self, projection: &str, key: &str) -> Result<()> {
        on_tx!(self, t => sqlx::query("DELETE FROM read_models WHERE projection = $1 AND key = $2")
            .bind(projection)
            .bind(key)
            .execute(&mut **t)
            .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes every document of a projection (before a rebuild).
    pub async fn clear(&mut self, projection: &str) -> Result<()> {
        on_tx!(self, t => sqlx::query("DELETE FROM read_models WHERE projection = $1")
            .bind(projection)
            .execute(&mut **t)
            .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records how far the subscriber `name` has read.
    pub async fn set_checkpoint(&mut self, name: &str, position: u64) -> Result<()> {
        let now = chrono::Utc::now().timestamp_micros();
        on_tx!(self, t => sqlx::query(
            "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at")
            .bind(name)
            .bind(position as i64)
            .bind(now)
            .execute(&mut **t)
            .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub(crate) async fn upsert_key(
        &mut self,
        subject: &str,
        purpose: &str,
        wrapped: &[u8],
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<Vec<u8>> {
        Ok(
            on_tx!(self, t => sqlx::query_scalar(crate::keys::UPSERT_KEY)
            .bind(subject)
            .bind(purpose)
            .bind(wrapped)
            .bind(now)
            .bind(expires_at)
            .fetch_one(&mut **t)
            .await)?,
        )
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        on_tx!(self, t => t.commit().await)?;
        Ok(())
    }
}

/// What a rebuild sends to its [`ReadModelWriter`].
enum RebuildMsg {
    /// Replace every document of one projection.
    Table(&'static str, Vec<(String, Vec<u8>)>),
    /// More documents of the projection of the last `Table`.
    More(&'static str, Vec<(String, Vec<u8>)>),
    /// Set the checkpoint and commit.
    Commit(String, u64),
}

/// Replaces read models in one transaction, table by table, on its own thread: the caller
/// serializes the next table while this one is written. Dropped without
/// [`ReadModelWriter::commit`], it rolls back.
pub struct ReadModelWriter {
    tx: mpsc::Sender<RebuildMsg>,
    done: tokio::task::JoinHandle<Result<()>>,
}

impl ReadModelWriter {
    /// Queues every document of `projection` (replacing what is stored).
    pub async fn table(
        &self,
        projection: &'static str,
        rows: Vec<(String, Vec<u8>)>,
    ) -> Result<()> {
        if self
            .tx
            .send(RebuildMsg::Table(projection, rows))
            .await
            .is_err()
        {
            return Err(StoreError::Internal("the read-model writer stopped".into()));
        }
        Ok(())
    }

    /// Queues more documents of `projection`, whose first part went through
    /// [`ReadModelWriter::table`]: a large table is sent in parts, so that it is written while
    /// its next part is serialized. Parts in key order are written fastest.
    pub async fn more(&self, projection: &'static str, rows: Vec<(String, Vec<u8>)>) -> Result<()> {
        if self
            .tx
            .send(RebuildMsg::More(projection, rows))
            .await
            .is_err()
        {
            return Err(StoreError::Internal("the read-model writer stopped".into()));
        }
        Ok(())
    }

    /// Sets checkpoint `name` to `position` and commits everything queued.
    pub async fn commit(self, name: &str, position: u64) -> Result<()> {
        let sent = self
            .tx
            .send(RebuildMsg::Commit(name.to_string(), position))
            .await;
        drop(self.tx);
        let outcome = self
            .done
            .await
            .map_err(|e| StoreError::Internal(format!("read-model writer: {e}")))?;
        outcome?;
        if sent.is_err() {
            return Err(StoreError::Internal("the read-model writer stopped".into()));
        }
        Ok(())
    }
}

impl Db {
    /// A writer that replaces read models in one transaction, for a rebuild. On SQLite it runs
    /// on a dedicated rusqlite connection with one prepared statement (several times sqlx's
    /// row rate, and a rebuild writes hundreds of thousands of rows); on PostgreSQL it inserts
    /// arrays through the pool.
    pub fn read_model_writer(&self) -> ReadModelWriter {
        let (tx, mut rx) = mpsc::channel::<RebuildMsg>(1);
        let done = match self {
            Db::Sqlite { path, .. } => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || replace_sqlite(&path, &mut rx))
            }
            Db::Postgres { .. } => {
                let db = self.clone();
                tokio::spawn(async move {
                    let mut t = ReadModelTx::begin(&db).await?;
                    while let Some(msg) = rx.recv().await {
                        match msg {
                            RebuildMsg::Table(projection, rows) => {
                                t.clear(projection).await?;
                                t.put_many(projection, &rows).await?;
                            }
                            RebuildMsg::More(projection, rows) => {
                                t.put_many(projection, &rows).await?;
                            }
                            RebuildMsg::Commit(name, position) => {
                                t.set_checkpoint(&name, position).await?;
                                return t.commit().await;
                            }
                        }
                    }
                    // Dropped without commit: the transaction rolls back.
                    Ok(())
                })
            }
        };
        ReadModelWriter { tx, done }
    }

    /// The checkpoint of subscriber `name` (0 when it never committed one).
    pub async fn checkpoint(&self, name: &str) -> Result<u64> {
        let v: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT position FROM checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(p)
            .await)?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// One read-model document.
    pub async fn doc(&self, projection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT doc FROM read_models WHERE projection = $1 AND key = $2")
            .bind(projection)
            .bind(key)
            .fetch_optional(p)
            .await)?)
    }

    /// Every document of a projection, ordered by key.
    pub async fn docs(&self, projection: &str) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT key, doc FROM read_models WHERE projection = $1 ORDER BY key")
            .bind(projection)
            .fetch_all(p)
            .await)?)
    }
}

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

/// Replaces read models on SQLite: the new rows go into a shadow table, in key order, and at
/// the end the projections that were not sent are copied over, the old table dropped and the
/// shadow table renamed, all in one transaction. Dropping a table frees its pages as a whole
/// (with `secure_delete` off, without rewriting them), where deleting its rows one by one
/// rewrote every page; the price is that the old rows' pages stay in the file as free pages,
/// which the next rebuild reuses.
fn replace_sqlite(path: &std::path::Path, rx: &mut mpsc::Receiver<RebuildMsg>) -> Result<()> {
    use rusqlite::OptionalExtension;
    let fail = |e: rusqlite::Error| StoreError::Internal(format!("writing read models: {e}"));
    let mut conn = rusqlite::Connection::open(path).map_err(fail)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(fail)?;
    // Read models hold no personal data, so the rows this replaces need no zeroing.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA secure_delete = OFF; PRAGMA cache_size = -65536;",
    )
    .map_err(fail)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(fail)?;
    // The same table as migrations/sqlite/0002_read_models_clustered.sql creates.
    tx.execute_batch(
        "DROP TABLE IF EXISTS read_models_next; \
         CREATE TABLE read_models_next ( \
             projection TEXT NOT NULL, \
             key        TEXT NOT NULL, \
             doc        BLOB NOT NULL, \
             PRIMARY KEY (projection, key) \
         ) WITHOUT ROWID;",
    )
    .map_err(fail)?;
    let mut sent: Vec<&'static str> = Vec::new();
    {
        let mut clear = tx
            .prepare("DELETE FROM read_models_next WHERE projection = ?1")
            .map_err(fail)?;
        let mut insert = tx
            .prepare("INSERT INTO read_models_next (projection, key, doc) VALUES (?1, ?2, ?3)")
            .map_err(fail)?;
        loop {
            let (projection, rows) = match rx.blocking_recv() {
                Some(RebuildMsg::Table(projection, rows)) => {
                    if sent.contains(&projection) {
                        // Sent again: replaces what was sent before.
                        clear.execute([projection]).map_err(fail)?;
                    } else {
                        sent.push(projection);
                    }
                    (projection, rows)
                }
                Some(RebuildMsg::More(projection, rows)) => {
                    if !sent.contains(&projection) {
                        sent.push(projection);
                    }
                    (projection, rows)
                }
                Some(RebuildMsg::Commit(name, position)) => {
                    // Projections not sent are kept: found by seeking from one to the next
                    // (a few seeks, not a scan of the old rows), then copied.
                    let mut kept = Vec::new();
                    {
                        let mut next = tx
                            .prepare(
                                "SELECT projection FROM read_models WHERE projection > ?1 \
                                 ORDER BY projection LIMIT 1",
                            )
                            .map_err(fail)?;
                        let mut after = String::new();
                        while let Some(p) = next
                            .query_row([&after], |r| r.get::<_, String>(0))
                            .optional()
                            .map_err(fail)?
                        {
                            if !sent.contains(&p.as_str()) {
                                kept.push(p.clone());
                            }
                            after = p;
                        }
                    }
                    for p in kept {
                        tx.execute(
                            "INSERT INTO read_models_next (projection, key, doc) \
                             SELECT projection, key, doc FROM read_models WHERE projection = ?1",
                            [p],
                        )
                        .map_err(fail)?;
                    }
                    tx.execute_batch(
                        "DROP TABLE read_models; \
                         ALTER TABLE read_models_next RENAME TO read_models;",
                    )
                    .map_err(fail)?;
                    tx.execute(
                        "INSERT INTO checkpoints (name, position, updated_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
                         updated_at = excluded.updated_at",
                        rusqlite::params![
                            name,
                            position as i64,
                            chrono::Utc::now().timestamp_micros()
                        ],
                    )
                    .map_err(fail)?;
                    break;
                }
                // The rebuild gave up: roll back.
                None => return Ok(()),
            };
            for (key, doc) in &rows {
                insert
                    .execute(rusqlite::params![projection, key, doc])
                    .map_err(fail)?;
            }
        }
    }
    tx.commit().map_err(fail)?;
    Ok(())
}
