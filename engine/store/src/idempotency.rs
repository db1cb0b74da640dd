//! `Idempotency-Key` records (`idempotency_keys`, ADR 0022 decision 8), with Stripe's
//! semantics: the first answer to a key (status and body) is kept with a hash of the request
//! that got it; the same key again returns that answer, and the same key with another request
//! is the caller's 422. Keyed by project, API key and the key itself, so two clients never
//! share a key. Records are deleted by retention once older than the window kept (at least
//! 24 hours, [`purge_older_than`]).
//!
//! The functions take a [`Conn`], so the writer can record the answer in the group
//! transaction that appends what the request wrote; [`IdempotencyKeys`] runs each on its own.
//! The body is stored as given: an answer stored here must not carry personal data.

use crate::conn::{pooled, with_conn, Conn};
use crate::db::Db;
use crate::error::{Result, StoreError};

/// Most characters of an `Idempotency-Key` (Stripe's limit).
pub const MAX_KEY: usize = 255;

/// Which record: project, API key, `Idempotency-Key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyKey<'a> {
    /// The project.
    pub project: &'a str,
    /// The API key's id (not the key).
    pub api_key_id: &'a str,
    /// The client's `Idempotency-Key`: 1 to 255 printable ASCII characters.
    pub key: &'a str,
}

impl IdempotencyKey<'_> {
    pub(crate) fn check(&self) -> Result<()> {
        let k = self.key;
        if k.is_empty() || k.len() > MAX_KEY {
            return Err(StoreError::InvalidInput(format!(
                "an Idempotency-Key must be 1 to {MAX_KEY} characters, not {}",
                k.len()
            )));
        }
        if !k.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(StoreError::InvalidInput(
                "an Idempotency-Key may hold only printable ASCII characters".into(),
            ));
        }
        if self.project.is_empty() || self.api_key_id.is_empty() {
            return Err(StoreError::InvalidInput(
                "an idempotency record needs a project and an API key".into(),
            ));
        }
        Ok(())
    }
}

/// The first answer to a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// A hash of the request that got the answer (the caller's choice of hash).
    pub request_hash: Vec<u8>,
    /// The answer's HTTP status.
    pub status: u16,
    /// The answer's body.
    pub body: String,
    /// When it was recorded (µs since the epoch).
    pub created_at: i64,
}

impl IdempotencyRecord {
    /// Whether a request with this hash is the one that got the answer (a retry), rather
    /// than another request reusing the key.
    pub fn is_for(&self, request_hash: &[u8]) -> bool {
        self.request_hash == request_hash
    }
}

type Row = (Vec<u8>, i32, String, i64);

fn record((request_hash, status, body, created_at): Row) -> Result<IdempotencyRecord> {
    let status = u16::try_from(status).map_err(|_| {
        StoreError::Internal(format!("a stored idempotency record has status {status}"))
    })?;
    Ok(IdempotencyRecord {
        request_hash,
        status,
        body,
        created_at,
    })
}

const SELECT: &str = "SELECT request_hash, status, body, created_at FROM idempotency_keys \
     WHERE project = $1 AND api_key_id = $2 AND key = $3";

/// The record of `key`, if any.
pub async fn get(
    conn: &mut Conn<'_>,
    key: &IdempotencyKey<'_>,
) -> Result<Option<IdempotencyRecord>> {
    key.check()?;
    let row: Option<Row> = with_conn!(conn, c => sqlx::query_as(SELECT)
        .bind(key.project)
        .bind(key.api_key_id)
        .bind(key.key)
        .fetch_optional(c)
        .await)?;
    row.map(record).transpose()
}

/// Records the first answer to `key`: `None` when it was stored, or the record already there
/// (which stays as it was). Never a unique violation, so a PostgreSQL transaction around it
/// stays usable.
pub async fn put(
    conn: &mut Conn<'_>,
    key: &IdempotencyKey<'_>,
    answer: &IdempotencyRecord,
) -> Result<Option<IdempotencyRecord>> {
    key.check()?;
    let inserted = with_conn!(conn, c => sqlx::query(
        "INSERT INTO idempotency_keys \
         (project, api_key_id, key, request_hash, status, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (project, api_key_id, key) DO NOTHING")
        .bind(key.project)
        .bind(key.api_key_id)
        .bind(key.key)
        .bind(answer.request_hash.as_slice())
        .bind(i32::from(answer.status))
        .bind(answer.body.as_str())
        .bind(answer.created_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if inserted == 1 {
        return Ok(None);
    }
    get(conn, key).await?.map(Some).ok_or_else(|| {
        StoreError::Internal(
            "an idempotency record refused an insert and then could not be read".into(),
        )
    })
}

/// Deletes every record created before `cutoff` (µs); returns how many.
pub async fn purge_older_than(conn: &mut Conn<'_>, cutoff: i64) -> Result<u64> {
    Ok(
        with_conn!(conn, c => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(cutoff)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?,
    )
}

/// How many records were created before `cutoff`: what [`purge_older_than`] would delete.
pub async fn count_older_than(conn: &mut Conn<'_>, cutoff: i64) -> Result<u64> {
    let n: i64 = with_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM idempotency_keys WHERE created_at < $1")
        .bind(cutoff)
        .fetch_one(c)
        .await)?;
    Ok(n.max(0) as u64)
}

/// The idempotency records of a database, each call on a pooled connection.
#[derive(Clone, Debug)]
pub struct IdempotencyKeys {
    db: Db,
}

impl IdempotencyKeys {
    /// The table in `db`.
    pub fn new(db: Db) -> IdempotencyKeys {
        IdempotencyKeys { db }
    }

    /// [`get`].
    pub async fn get(&self, key: &IdempotencyKey<'_>) -> Result<Option<IdempotencyRecord>> {
        pooled!(&self.db, conn => get(conn, key).await)
    }

    /// [`put`].
    pub async fn put(
        &self,
        key: &IdempotencyKey<'_>,
        answer: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>> {
        pooled!(&self.db, conn => put(conn, key, answer).await)
    }

    /// [`purge_older_than`].
    pub async fn purge_older_than(&self, cutoff: i64) -> Result<u64> {
        pooled!(&self.db, conn => purge_older_than(conn, cutoff).await)
    }

    /// [`count_older_than`].
    pub async fn count_older_than(&self, cutoff: i64) -> Result<u64> {
        pooled!(&self.db, conn => count_older_than(conn, cutoff).await)
    }
}
