//! The writer's fast path on SQLite, on the writer's own thread (ADR 0055).
//!
//! sqlx runs each SQLite connection on a thread of its own, and every statement — every row a
//! statement returns, too — is a message to that thread and an answer back. A group commit is
//! a few dozen of them, and on two busy cores each hand-off waited for a core: in `bench
//! ingest` the writer and its connection's thread switched 52,000 times for 20,000 leads, and
//! spent more time waiting to be scheduled than running. Here the fast path — every group
//! that needs no lookup of event ids and whose rows are all new, which is nearly all of them —
//! runs its statements on the writer's thread over rusqlite, with prepared statements kept
//! between groups. Anything it cannot write as asked (a version conflict, a row already
//! there, a refusal, any error) rolls back and is redone the careful way on the sqlx
//! connection ([`crate::writer`]), which tells each request its outcome and reports errors
//! as before; so this path only ever writes what the careful path would have written.

use std::sync::LazyLock;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::atomic::{SideGroups, SideRow};
use crate::db::Db;
use crate::hash::Hash;
use crate::log::{to_hash, EVENT_COLUMNS};
use crate::writer::{claim_scope, plan, Outcomes, Planned, Request, Row, WriterCache};

/// The statements shared with the sqlx side, with their `$N` parameters as SQLite's `?N`:
/// SQLite reads `$4` as a name, numbered in order of first use, and [`crate::atomic::EXTEND_KEY`]
/// uses `$4` first (sqlx binds `$N` by the number in the name).
static CREATE_KEY: LazyLock<String> = LazyLock::new(|| numbered(crate::atomic::CREATE_KEY));
static EXTEND_KEY: LazyLock<String> = LazyLock::new(|| numbered(crate::atomic::EXTEND_KEY));

fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Why the fast path gave a group up (it rolled back; the careful path redoes it).
#[derive(Debug)]
pub(crate) enum GaveUp {
    /// Something the careful path sorts out request by request: a version conflict, a side
    /// row it could not write as asked.
    Careful,
    /// SQLite or the fingerprint index's reads failed: the careful path tries again and
    /// reports what fails there.
    Failed(String),
}

impl From<rusqlite::Error> for GaveUp {
    fn from(e: rusqlite::Error) -> Self {
        GaveUp::Failed(e.to_string())
    }
}

impl From<crate::error::StoreError> for GaveUp {
    fn from(e: crate::error::StoreError) -> Self {
        GaveUp::Failed(e.to_string())
    }
}

/// Runs a statement that returns a row when it wrote as asked (`RETURNING`): whether it did.
fn wrote(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<bool> {
    Ok(stmt.query_row(params, |_| Ok(())).optional()?.is_some())
}

/// The writer's rusqlite connection.
pub(crate) struct Fast {
    conn: Connection,
}

impl Fast {
    /// Opens the connection as the writer's sqlx connection is set up: a 30 s busy timeout,
    /// no checkpoints of its own, statement journals in memory, a 64 MiB page cache, and
    /// commits synced by the syncer ([`crate::sync`]), so only on a database in WAL mode.
    pub(crate) fn open(path: &std::path::Path) -> rusqlite::Result<Fast> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "secure_delete", true)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "temp_store", "memory")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidQuery);
        }
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Fast { conn })
    }

    /// Writes a group the fast way, in one transaction. On `Err` nothing was written, the
    /// caller forgets `cache` (it may hold the group's versions), and the connection is out
    /// of its transaction (or should be dropped, if rolling back failed: [`Fast::usable`]).
    pub(crate) fn write_group(
        &mut self,
        db: &Db,
        group: &[Request],
        cache: &mut WriterCache,
    ) -> std::result::Result<(Outcomes, Option<u64>, u64), GaveUp> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let done = self
            .write_in_transaction(db, group, cache)
            .and_then(|done| Ok(self.conn.execute_batch("COMMIT").map(|()| done)?));
        if done.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        done
    }

    /// Whether the connection can take the next group (not stuck in a transaction).
    pub(crate) fn usable(&self) -> bool {
        self.conn.is_autocommit()
    }

    fn write_in_transaction(
        &mut self,
        db: &Db,
        group: &[Request],
        cache: &mut WriterCache,
    ) -> std::result::Result<(Outcomes, Option<u64>, u64), GaveUp> {
        let c = &self.conn;
        let (head_pos, head_hash, head_at): (i64, Vec<u8>, i64) = c
            .prepare_cached("SELECT position, hash, recorded_at FROM log_head WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let mut prev: Hash = to_hash(head_pos, &head_hash)?;
        let mut position = head_pos;
        let now = chrono::Utc::now().timestamp_micros();
        let recorded_at = now.max(head_at);
        let scope = claim_scope(db, group, now)?;
        if cache.head != Some(head_pos) {
            cache.clear();
        }

        // The version of every stream of the group the cache does not hold.
        let mut versions = std::collections::HashMap::new();
        {
            let mut stmt =
                c.prepare_cached("SELECT MAX(stream_version) FROM events WHERE stream_id = ?1")?;
            for p in group.iter().flat_map(|r| r.append.parts.iter()) {
                if versions.contains_key(&p.stream_id) {
                    continue;
                }
                let v = match cache.versions.get(&p.stream_id) {
                    Some(v) => *v,
                    None => stmt
                        .query_row([&p.stream_id], |r| r.get::<_, Option<i64>>(0))?
                        .map_or(0, |v| v as u64),
                };
                versions.insert(p.stream_id.clone(), v);
            }
        }

        let events: usize = group.iter().map(|r| r.append.event_count()).sum();
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(events);
        let mut outcomes: Outcomes = Vec::with_capacity(group.len());
        let mut side: Vec<&SideRow> = Vec::new();
        let mut stored = std::collections::HashMap::new();
        for r in group {
            match plan(
                r,
                &mut stored,
                &mut versions,
                &mut rows,
                &mut position,
                &mut prev,
                recorded_at,
            ) {
                Ok(Planned::New(appended)) => {
                    side.extend(r.append.side.iter());
                    outcomes.push(Ok(appended));
                }
                // A version conflict may be a retry of an append that committed: only the
                // careful path (it looks event ids up) tells.
                Ok(Planned::Stored(_)) | Err(crate::error::StoreError::Conflict { .. }) => {
                    return Err(GaveUp::Careful)
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }

        let Some(g) = SideGroups::of(&side) else {
            return Err(GaveUp::Careful);
        };
        // Claims: SQLite's fingerprints are an append-only table found through the index
        // (ADR 0047); a fingerprint some committed row holds goes the careful way.
        if !g.claims.is_empty() {
            let Some(scope) = scope.as_ref() else {
                return Err(GaveUp::Careful);
            };
            for (claim, kind, fp) in &g.claims {
                if !scope.committed(&claim.project, *kind, fp)?.is_empty() {
                    return Err(GaveUp::Careful);
                }
            }
            let mut stmt = c.prepare_cached(
                "INSERT INTO fingerprints \
                 (project, kind, fingerprint, lead_id, subject_id, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (claim, kind, fp) in &g.claims {
                stmt.execute(params![
                    claim.project,
                    kind.as_str(),
                    fp.as_slice(),
                    claim.lead_id,
                    claim.subject_id,
                    claim.expires_at
                ])?;
            }
        }
        if !g.new_keys.is_empty() {
            let mut stmt = c.prepare_cached(&CREATE_KEY)?;
            for k in &g.new_keys {
                if !wrote(
                    &mut stmt,
                    params![
                        k.subject,
                        k.purpose.as_str(),
                        k.wrapped.as_slice(),
                        k.now,
                        k.expires_at
                    ],
                )? {
                    return Err(GaveUp::Careful);
                }
            }
        }
        if !g.extends.is_empty() {
            let mut stmt = c.prepare_cached(&EXTEND_KEY)?;
            for k in &g.extends {
                if !wrote(
                    &mut stmt,
                    params![
                        k.subject,
                        k.purpose.as_str(),
                        k.wrapped.as_slice(),
                        k.expires_at
                    ],
                )? {
                    return Err(GaveUp::Careful);
                }
            }
        }
        if !g.answers.is_empty() {
            let mut stmt = c.prepare_cached(
                "INSERT INTO idempotency_keys \
                 (project, api_key_id, key, request_hash, status, body, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (project, api_key_id, key) DO NOTHING RETURNING key",
            )?;
            for i in &g.answers {
                if !wrote(
                    &mut stmt,
                    params![
                        i.project,
                        i.api_key_id,
                        i.key,
                        i.record.request_hash.as_slice(),
                        i32::from(i.record.status),
                        i.record.body,
                        i.record.created_at
                    ],
                )? {
                    return Err(GaveUp::Careful);
                }
            }
        }
        if !g.access.is_empty() {
            let mut stmt = c.prepare_cached(
                "INSERT INTO access_log (project, key_id, method, route, status, ip, at, millis) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for a in &g.access {
                stmt.execute(params![
                    a.project,
                    a.key_id,
                    a.method,
                    a.route,
                    i32::from(a.status),
                    a.ip,
                    a.at,
                    a.millis
                ])?;
            }
        }

        if !rows.is_empty() {
            let mut stmt = c.prepare_cached(&format!(
                "INSERT INTO events ({EVENT_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?;
            for row in &rows {
                stmt.execute(params![
                    row.position,
                    row.stream_id,
                    row.stream_version,
                    row.event.event_id.as_bytes().as_slice(),
                    row.event.event_type,
                    row.event.schema_version,
                    row.event.payload.as_slice(),
                    row.event.metadata.as_slice(),
                    row.recorded_at,
                    row.prev_hash.as_slice(),
                    row.hash.as_slice()
                ])?;
            }
            c.prepare_cached(
                "UPDATE log_head SET position = ?1, hash = ?2, recorded_at = ?3 WHERE id = 1",
            )?
            .execute(params![position, prev.as_slice(), recorded_at])?;
        }
        let last = (!rows.is_empty()).then_some(position as u64);
        let written = rows.len() as u64;
        cache.head = Some(position);
        if cache.versions.len() > 200_000 {
            cache.versions.clear();
        }
        cache.versions.extend(versions);
        Ok((outcomes, last, written))
    }
}
