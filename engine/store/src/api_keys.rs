//! HTTP API keys and the API's access log: two tables beside the log (ADR 0022, 0023).
//!
//! A key is stored only as the SHA-256 of its text, which is also how a request's key is
//! found. What a key looks like, its scopes and allowlists are the API's business
//! (`leadorch-api`); this module keeps the rows. The access log holds one row per
//! authenticated request — never a body or a personal field — and, because rows hold IP
//! addresses, [`ApiKeys::purge_access_log`] deletes them after their retention.

use crate::conn::{with_conn, Conn};
use crate::error::{Result, StoreError};
use crate::{on_pool, Db};

/// One stored key (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// Public id, e.g. `key_3kT9xQ2mWb`.
    pub key_id: String,
    /// The project the key belongs to.
    pub project: String,
    /// Its name, unique among the project's working keys.
    pub name: String,
    /// SHA-256 of the key's text.
    pub hash: Vec<u8>,
    /// The key's first characters, to recognise it in a list.
    pub prefix: String,
    /// Scope names.
    pub scopes: Vec<String>,
    /// CIDR allowlist; empty: any address.
    pub allow_ips: Vec<String>,
    /// When it was made, µs since the epoch.
    pub created_at: i64,
    /// Who made it (the actor).
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// One access-log row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AccessRow {
    /// The key's project.
    pub project: String,
    /// The key's public id.
    pub key_id: String,
    /// HTTP method.
    pub method: String,
    /// The route's template (`/v1/leads/{id}/status`), never the concrete path: ids can be
    /// personal.
    pub route: String,
    /// The answer's status.
    pub status: u16,
    /// The client's address.
    pub ip: String,
    /// When the request arrived, µs since the epoch.
    pub at: i64,
    /// How long the answer took, milliseconds.
    pub millis: i64,
}

/// What to read of the access log.
#[derive(Clone, Debug, Default)]
pub struct AccessQuery {
    /// Only this project's rows.
    pub project: Option<String>,
    /// Only this key's rows.
    pub key_id: Option<String>,
    /// Only rows at or after this time (µs).
    pub since: Option<i64>,
    /// Only rows with an id below this one (paging backwards, newest first).
    pub before_id: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}

/// The keys and access-log tables of one database.
#[derive(Clone, Debug)]
pub struct ApiKeys {
    db: Db,
}

fn join(items: &[String]) -> String {
    items.join(",")
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

type RawKey = (
    String,
    String,
    String,
    Vec<u8>,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
);

fn from_raw(r: RawKey) -> KeyRow {
    KeyRow {
        key_id: r.0,
        project: r.1,
        name: r.2,
        hash: r.3,
        prefix: r.4,
        scopes: split(&r.5),
        allow_ips: split(&r.6),
        created_at: r.7,
        created_by: r.8,
        revoked_at: r.9,
    }
}

type RawAccess = (i64, String, String, String, String, i32, String, i64, i64);

const KEY_COLUMNS: &str =
    "key_id, project, name, hash, prefix, scopes, allow_ips, created_at, created_by, revoked_at";

impl ApiKeys {
    /// The tables of `db`.
    pub fn new(db: Db) -> ApiKeys {
        ApiKeys { db }
    }

    /// Stores a new key. A working key of the same name in the project is refused
    /// ([`StoreError::InvalidAppend`] names it): revoke it first.
    pub async fn insert(&self, row: &KeyRow) -> Result<()> {
        let res = on_pool!(&self.db, p => sqlx::query(
            "INSERT INTO api_keys (key_id, project, name, hash, prefix, scopes, allow_ips, \
             created_at, created_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)")
            .bind(&row.key_id)
            .bind(&row.project)
            .bind(&row.name)
            .bind(&row.hash)
            .bind(&row.prefix)
            .bind(join(&row.scopes))
            .bind(join(&row.allow_ips))
            .bind(row.created_at)
            .bind(&row.created_by)
            .execute(p)
            .await
            .map(|_| ()));
        match res {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::InvalidAppend(format!(
                    "project {} already has a working key named {:?}: revoke it first, or pick another name",
                    row.project, row.name
                )))
            }
            other => Ok(other?),
        }
    }

    /// The key whose text hashes to `hash`, revoked or not.
    pub async fn by_hash(&self, hash: &[u8]) -> Result<Option<KeyRow>> {
        if let Some(inline) = self.db.inline() {
            use rusqlite::OptionalExtension;
            let raw = inline.read("reading an API key", |c| {
                c.prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1"
                ))?
                .query_row([hash], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                })
                .optional()
            })?;
            return Ok(raw.map(from_raw));
        }
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1");
        let raw: Option<RawKey> = on_pool!(&self.db, p => sqlx::query_as(&sql)
            .bind(hash)
            .fetch_optional(p)
            .await)?;
        Ok(raw.map(from_raw))
    }

    /// A project's keys, oldest first; revoked ones only when asked.
    pub async fn list(&self, project: &str, include_revoked: bool) -> Result<Vec<KeyRow>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE project = $1 {} ORDER BY created_at, key_id",
            if include_revoked {
                ""
            } else {
                "AND revoked_at IS NULL"
            }
        );
        let raw: Vec<RawKey> = on_pool!(&self.db, p => sqlx::query_as(&sql)
            .bind(project)
            .fetch_all(p)
            .await)?;
        Ok(raw.into_iter().map(from_raw).collect())
    }

    /// Revokes the project's working key whose id or name is `which`; returns it, or `None`
    /// when the project has no such working key.
    pub async fn revoke(&self, project: &str, which: &str, now: i64) -> Result<Option<KeyRow>> {
        let found = self
            .list(project, false)
            .await?
            .into_iter()
            .find(|k| k.key_id == which || k.name == which);
        let Some(mut key) = found else {
            return Ok(None);
        };
        on_pool!(&self.db, p => sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&key.key_id)
            .execute(p)
            .await
            .map(|_| ()))?;
        key.revoked_at = Some(now);
        Ok(Some(key))
    }

    /// Access-log rows, newest first, with their ids (for paging with `before_id`).
    pub async fn access_log(&self, q: &AccessQuery) -> Result<Vec<(i64, AccessRow)>> {
        let raw: Vec<RawAccess> = on_pool!(&self.db, p => sqlx::query_as(
                "SELECT id, project, key_id, method, route, status, ip, at, millis FROM access_log \
                 WHERE ($1 IS NULL OR project = $1) AND ($2 IS NULL OR key_id = $2) \
                 AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR id < $4) \
                 ORDER BY id DESC LIMIT $5")
                .bind(q.project.as_deref())
                .bind(q.key_id.as_deref())
                .bind(q.since)
                .bind(q.before_id)
                .bind(i64::from(q.limit))
                .fetch_all(p)
                .await)?;
        Ok(raw
            .into_iter()
            .map(|r| {
                (
                    r.0,
                    AccessRow {
                        project: r.1,
                        key_id: r.2,
                        method: r.3,
                        route: r.4,
                        status: u16::try_from(r.5).unwrap_or(0),
                        ip: r.6,
                        at: r.7,
                        millis: r.8,
                    },
                )
            })
            .collect())
    }

    /// Deletes access-log rows older than `before` (µs); returns how many.
    pub async fn purge_access_log(&self, before: i64) -> Result<u64> {
        Ok(
            on_pool!(&self.db, p => sqlx::query("DELETE FROM access_log WHERE at < $1")
            .bind(before)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?,
        )
    }
}

/// Inserts access-log rows in one statement, inside the caller's transaction (the writer's
/// group: [`crate::atomic::SideRow::Access`]).
pub(crate) async fn insert_access(conn: &mut Conn<'_>, rows: &[&AccessRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    with_conn!(conn, c => {
        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO access_log (project, key_id, method, route, status, ip, at, millis) ",
        );
        qb.push_values(rows, |mut b, r| {
            b.push_bind(r.project.as_str())
                .push_bind(r.key_id.as_str())
                .push_bind(r.method.as_str())
                .push_bind(r.route.as_str())
                .push_bind(i32::from(r.status))
                .push_bind(r.ip.as_str())
                .push_bind(r.at)
                .push_bind(r.millis);
        });
        qb.build().execute(c).await.map(|_| ())
    })?;
    Ok(())
}
