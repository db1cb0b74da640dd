//! Read models as stored: reading documents (a rebuild's parts merged with the per-key rows
//! saved since) and replacing them in a rebuild ([`ReadModelWriter`]).
//!
//! A rebuild writes each read model as compressed parts of many rows (docs/adr/0014). On
//! SQLite the rebuild's writer is rusqlite with one prepared statement, one of the two
//! measured SQLite bulk paths (docs/adr/0004); on PostgreSQL it inserts arrays through a
//! [`WriteTx`].

use std::time::Duration;

use tokio::sync::mpsc;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_pool;
use crate::parts::{self, Packer, Part};
use crate::tx::WriteTx;

/// Rows of a read model as a rebuild sends them.
enum Rows {
    /// Documents, packed by the writer.
    Docs(Vec<(String, Vec<u8>)>),
    /// Parts packed by the caller ([`crate::parts::PartBuilder`]).
    Packed(Vec<Part>),
}

impl Rows {
    /// Checks that the rows continue the projection's key order (sorting documents first).
    fn check_order(&mut self, projection: &'static str, order: &mut KeyOrder) -> Result<()> {
        match self {
            Rows::Docs(rows) => order.check(projection, rows),
            Rows::Packed(parts) => parts
                .iter()
                .try_for_each(|p| order.check_range(projection, &p.first_key, &p.last_key)),
        }
    }

    /// The rows as parts, packing documents.
    fn into_parts(self, packer: &mut Packer) -> Result<Vec<Part>> {
        match self {
            Rows::Docs(rows) => packer.pack(&rows),
            Rows::Packed(parts) => Ok(parts),
        }
    }
}

/// What a rebuild sends to its [`ReadModelWriter`].
enum RebuildMsg {
    /// Replace every document of one projection.
    Table(&'static str, Rows),
    /// More documents of the projection of the last `Table`.
    More(&'static str, Rows),
    /// Set the checkpoint and commit.
    Commit(String, u64),
}

/// Replaces read models in one transaction, table by table, on its own thread: the caller
/// serializes the next table while this one is packed and written. Each table is stored as
/// compressed parts of many rows (docs/adr/0014), so its rows must come in strictly
/// increasing key order across the table's messages. Dropped without
/// [`ReadModelWriter::commit`], it rolls back.
pub struct ReadModelWriter {
    tx: mpsc::Sender<RebuildMsg>,
    done: tokio::task::JoinHandle<Result<()>>,
}

impl ReadModelWriter {
    async fn send(&self, msg: RebuildMsg) -> Result<()> {
        if self.tx.send(msg).await.is_err() {
            return Err(StoreError::Internal("the read-model writer stopped".into()));
        }
        Ok(())
    }

    /// Queues every document of `projection` (replacing what is stored).
    pub async fn table(
        &self,
        projection: &'static str,
        rows: Vec<(String, Vec<u8>)>,
    ) -> Result<()> {
        self.send(RebuildMsg::Table(projection, Rows::Docs(rows)))
            .await
    }

    /// Queues more documents of `projection`, whose first part went through
    /// [`ReadModelWriter::table`]: a large table is sent in parts, so that it is written while
    /// its next part is serialized.
    pub async fn more(&self, projection: &'static str, rows: Vec<(String, Vec<u8>)>) -> Result<()> {
        self.send(RebuildMsg::More(projection, Rows::Docs(rows)))
            .await
    }

    /// [`ReadModelWriter::table`] for rows the caller packed itself (say, on several threads)
    /// with [`crate::parts::PartBuilder`]; `first` replaces what is stored, later calls add.
    pub async fn packed(
        &self,
        projection: &'static str,
        parts: Vec<Part>,
        first: bool,
    ) -> Result<()> {
        let rows = Rows::Packed(parts);
        self.send(if first {
            RebuildMsg::Table(projection, rows)
        } else {
            RebuildMsg::More(projection, rows)
        })
        .await
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
                    let mut t = WriteTx::begin(&db).await?;
                    let mut order = KeyOrder::default();
                    while let Some(msg) = rx.recv().await {
                        let (projection, mut rows) = match msg {
                            RebuildMsg::Table(projection, rows) => {
                                t.clear(projection).await?;
                                order.restart(projection);
                                (projection, rows)
                            }
                            RebuildMsg::More(projection, rows) => (projection, rows),
                            RebuildMsg::Commit(name, position) => {
                                t.set_checkpoint(&name, position).await?;
                                return t.commit().await;
                            }
                        };
                        rows.check_order(projection, &mut order)?;
                        let parts = match rows {
                            Rows::Packed(parts) => parts,
                            // Compressing is CPU work: off the async workers.
                            docs => tokio::task::spawn_blocking(move || {
                                docs.into_parts(&mut Packer::new()?)
                            })
                            .await
                            .map_err(|e| {
                                StoreError::Internal(format!("read-model packer: {e}"))
                            })??,
                        };
                        t.put_parts(projection, &parts).await?;
                    }
                    // Dropped without commit: the transaction rolls back.
                    Ok(())
                })
            }
        };
        ReadModelWriter { tx, done }
    }

    /// One read-model document: its row saved since the last rebuild, else the part of the
    /// last rebuild that holds it.
    pub async fn doc(&self, projection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let saved: Option<Option<Vec<u8>>> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT doc FROM read_models WHERE projection = $1 AND key = $2")
            .bind(projection)
            .bind(key)
            .fetch_optional(p)
            .await)?;
        if let Some(doc) = saved {
            return Ok(doc);
        }
        let parts: Vec<Vec<u8>> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT data FROM read_model_parts \
             WHERE projection = $1 AND first_key <= $2 AND last_key >= $2")
            .bind(projection)
            .bind(key)
            .fetch_all(p)
            .await)?;
        for data in parts {
            if let Some(doc) = parts::find(projection, &data, key)? {
                return Ok(Some(doc));
            }
        }
        Ok(None)
    }

    /// Every document of a projection, ordered by key (bytewise).
    pub async fn docs(&self, projection: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let packed: Vec<(Vec<u8>, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT data, rows FROM read_model_parts WHERE projection = $1 ORDER BY first_key")
            .bind(projection)
            .fetch_all(p)
            .await)?;
        let mut base = Vec::with_capacity(packed.iter().map(|(_, n)| *n as usize).sum());
        for (data, _) in &packed {
            parts::unpack(projection, data, &mut base)?;
        }
        drop(packed);
        let saved: Vec<(String, Option<Vec<u8>>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT key, doc FROM read_models WHERE projection = $1 ORDER BY key")
            .bind(projection)
            .fetch_all(p)
            .await)?;
        Ok(parts::merge(base, saved))
    }
}

/// Checks that a rebuild sends each table's rows in strictly increasing key order (sorting
/// each message first), as its parts must not overlap.
#[derive(Default)]
struct KeyOrder {
    last: std::collections::HashMap<&'static str, String>,
}

impl KeyOrder {
    /// The table is sent afresh (replacing what was sent before).
    fn restart(&mut self, projection: &'static str) {
        self.last.remove(projection);
    }

    /// Sorts `rows` and checks that they continue the projection's order without repeats.
    fn check(&mut self, projection: &'static str, rows: &mut [(String, Vec<u8>)]) -> Result<()> {
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(out_of_order(projection, &w[1].0));
        }
        match (rows.first(), rows.last()) {
            (Some((first, _)), Some((last, _))) => self.check_range(projection, first, last),
            _ => Ok(()),
        }
    }

    /// Checks that keys `first..=last` (in order) continue the projection's order.
    fn check_range(&mut self, projection: &'static str, first: &str, last: &str) -> Result<()> {
        if self
            .last
            .get(projection)
            .is_some_and(|prev| prev.as_str() >= first)
        {
            return Err(out_of_order(projection, first));
        }
        self.last.insert(projection, last.to_string());
        Ok(())
    }
}

fn out_of_order(projection: &str, key: &str) -> StoreError {
    StoreError::Internal(format!(
        "read model {projection}: key {key:?} sent twice or after a later key; \
         a rebuild must send each table's rows in increasing key order"
    ))
}

/// Replaces read models on SQLite, in one transaction: the sent projections' parts are
/// replaced by new ones, packed on this thread; their rows saved per key since the last
/// rebuild are dropped with the old per-key table. That table is replaced by a shadow table
/// into which only the projections that were not sent are copied: dropping a table frees its
/// pages as a whole (with `secure_delete` off, without rewriting them), where deleting its
/// rows one by one rewrote every page.
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
    // The same table as migrations/sqlite/0004_read_model_parts.sql creates.
    tx.execute_batch(
        "DROP TABLE IF EXISTS read_models_next; \
         CREATE TABLE read_models_next ( \
             projection TEXT NOT NULL, \
             key        TEXT NOT NULL, \
             doc        BLOB, \
             PRIMARY KEY (projection, key) \
         ) WITHOUT ROWID;",
    )
    .map_err(fail)?;
    let mut sent: Vec<&'static str> = Vec::new();
    let mut order = KeyOrder::default();
    let mut packer = Packer::new()?;
    let (mut waited, mut packing, mut inserting) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut rows_in, mut bytes_out) = (0usize, 0usize);
    {
        let mut clear = tx
            .prepare("DELETE FROM read_model_parts WHERE projection = ?1")
            .map_err(fail)?;
        let mut insert = tx
            .prepare(
                "INSERT INTO read_model_parts (projection, first_key, last_key, rows, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(fail)?;
        loop {
            let t = std::time::Instant::now();
            let msg = rx.blocking_recv();
            waited += t.elapsed();
            let (projection, mut rows) = match msg {
                Some(RebuildMsg::Table(projection, rows)) => {
                    // Replaces the parts of the last rebuild, or what this one sent before.
                    clear.execute([projection]).map_err(fail)?;
                    order.restart(projection);
                    if !sent.contains(&projection) {
                        sent.push(projection);
                    }
                    (projection, rows)
                }
                Some(RebuildMsg::More(projection, rows)) => {
                    if !sent.contains(&projection) {
                        clear.execute([projection]).map_err(fail)?;
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
            let t = std::time::Instant::now();
            rows.check_order(projection, &mut order)?;
            let parts = rows.into_parts(&mut packer)?;
            packing += t.elapsed();
            rows_in += parts.iter().map(|p| p.rows as usize).sum::<usize>();
            bytes_out += parts.iter().map(|p| p.data.len()).sum::<usize>();
            let t = std::time::Instant::now();
            for part in parts {
                insert
                    .execute(rusqlite::params![
                        projection,
                        part.first_key,
                        part.last_key,
                        part.rows,
                        part.data
                    ])
                    .map_err(fail)?;
            }
            inserting += t.elapsed();
        }
    }
    let t = std::time::Instant::now();
    tx.commit().map_err(fail)?;
    tracing::debug!(
        rows = rows_in,
        packed_bytes = bytes_out,
        waited_ms = waited.as_millis() as u64,
        packing_ms = packing.as_millis() as u64,
        inserting_ms = inserting.as_millis() as u64,
        commit_ms = t.elapsed().as_millis() as u64,
        "read models replaced"
    );
    Ok(())
}
