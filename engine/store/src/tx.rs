//! The store's write transaction, [`WriteTx`]: read-model changes, subscribers' checkpoints,
//! subject keys and side-table rows ([`WriteTx::conn`]) are written through it, so that what belongs together commits together
//! (a read-model change with its checkpoint).

use sqlx::{Postgres, Sqlite, Transaction};

use crate::conn::Conn;
use crate::db::{Db, PG_INSERT_PARTS, PG_UPSERT_DOCS};
use crate::error::{Result, StoreError};
use crate::parts::Part;

/// The store's write transaction: a read-model change and its checkpoint, subject keys.
/// Dropped without [`WriteTx::commit`], it rolls back.
pub enum WriteTx {
    /// On SQLite.
    Sqlite(Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

macro_rules! on_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            WriteTx::Sqlite($t) => $body,
            WriteTx::Postgres($t) => $body,
        }
    };
}

impl WriteTx {
    /// Opens a write transaction.
    pub async fn begin(db: &Db) -> Result<WriteTx> {
        let sql = db.dialect().begin_write();
        Ok(match db {
            Db::Sqlite { pool, .. } => WriteTx::Sqlite(pool.begin_with(sql).await?),
            Db::Postgres { pool, .. } => WriteTx::Postgres(pool.begin_with(sql).await?),
        })
    }

    /// The transaction's connection, for the side tables ([`crate::fingerprints`],
    /// [`crate::idempotency`]) whose rows commit with it.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            WriteTx::Sqlite(t) => Conn::Sqlite(t),
            WriteTx::Postgres(t) => Conn::Postgres(t),
        }
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
        if let WriteTx::Postgres(t) = self {
            for chunk in docs.chunks(5000) {
                sqlx::query(PG_UPSERT_DOCS)
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

    /// Removes one document. The key's row becomes a marker (a NULL document), which hides
    /// the document in the read model's parts, if a rebuild left it there.
    pub async fn delete(&mut self, projection: &str, key: &str) -> Result<()> {
        on_tx!(self, t => sqlx::query(
            "INSERT INTO read_models (projection, key, doc) VALUES ($1, $2, NULL) \
             ON CONFLICT (projection, key) DO UPDATE SET doc = NULL")
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
        on_tx!(self, t => sqlx::query("DELETE FROM read_model_parts WHERE projection = $1")
            .bind(projection)
            .execute(&mut **t)
            .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Inserts packed parts of a projection (PostgreSQL; SQLite rebuilds use rusqlite).
    pub(crate) async fn put_parts(&mut self, projection: &str, parts: &[Part]) -> Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let WriteTx::Postgres(t) = self else {
            return Err(StoreError::Internal(
                "read-model parts go through rusqlite on SQLite".into(),
            ));
        };
        sqlx::query(PG_INSERT_PARTS)
            .bind(projection)
            .bind(
                parts
                    .iter()
                    .map(|p| p.first_key.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(
                parts
                    .iter()
                    .map(|p| p.last_key.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(parts.iter().map(|p| p.rows).collect::<Vec<i64>>())
            .bind(
                parts
                    .iter()
                    .map(|p| p.data.as_slice())
                    .collect::<Vec<&[u8]>>(),
            )
            .execute(&mut **t)
            .await?;
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

    /// Moves the subscriber `name` from `from` to `to` only if it is still at `from` (no
    /// checkpoint counts as 0): `false` when another transaction moved it first, and then
    /// nothing is changed. The write lock (SQLite) or the row lock (PostgreSQL, whose
    /// `UPDATE` re-reads the row after waiting) makes two movers from one position meet here.
    pub async fn move_checkpoint(&mut self, name: &str, from: u64, to: u64) -> Result<bool> {
        let now = chrono::Utc::now().timestamp_micros();
        let moved = if from == 0 {
            // No row reads as 0: insert it, or move a row that is at 0.
            on_tx!(self, t => sqlx::query(
                "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
                 updated_at = excluded.updated_at WHERE checkpoints.position = 0")
                .bind(name)
                .bind(to as i64)
                .bind(now)
                .execute(&mut **t)
                .await.map(|r| r.rows_affected()))?
        } else {
            on_tx!(self, t => sqlx::query(
                "UPDATE checkpoints SET position = $2, updated_at = $3 \
                 WHERE name = $1 AND position = $4")
                .bind(name)
                .bind(to as i64)
                .bind(now)
                .bind(from as i64)
                .execute(&mut **t)
                .await.map(|r| r.rows_affected()))?
        };
        Ok(moved == 1)
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

    /// [`crate::db::Dialect::lock_keys`]: taken before forgetting a key or writing the kept
    /// facts.
    pub(crate) async fn lock_keys(&mut self) -> Result<()> {
        let Some(sql) = self.dialect().lock_keys() else {
            return Ok(());
        };
        on_tx!(self, t => sqlx::query(sql).execute(&mut **t).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A subject's wrapped key for `purpose`, read inside the transaction.
    pub(crate) async fn wrapped_key(
        &mut self,
        subject: &str,
        purpose: leadorch_domain::personal::KeyPurpose,
    ) -> Result<Option<Vec<u8>>> {
        Ok(on_tx!(self, t => sqlx::query_scalar(
            "SELECT wrapped_key FROM subject_keys WHERE subject_id = $1 AND purpose = $2")
            .bind(subject)
            .bind(purpose.as_str())
            .fetch_optional(&mut **t)
            .await)?)
    }

    /// Deletes a subject's key for one purpose; says whether there was one.
    pub(crate) async fn delete_key(&mut self, subject: &str, purpose: &str) -> Result<bool> {
        let n = on_tx!(self, t => sqlx::query(
            "DELETE FROM subject_keys WHERE subject_id = $1 AND purpose = $2")
            .bind(subject)
            .bind(purpose)
            .execute(&mut **t)
            .await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    fn dialect(&self) -> crate::db::Dialect {
        match self {
            WriteTx::Sqlite(_) => crate::db::Dialect::Sqlite,
            WriteTx::Postgres(_) => crate::db::Dialect::Postgres,
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        on_tx!(self, t => t.commit().await)?;
        Ok(())
    }
}
