//! Capacity sources' health: one row per configured source of a project, beside the log
//! (ADR 0032). The leading daemon upserts it after every poll; `leadorch capacity sources`,
//! `GET /v1/capacity/sources` and `/metrics` read it from any process. Only the transitions
//! (failing, recovered) are events in the log.

use crate::error::Result;
use crate::{on_pool, Db};

/// One source's health.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceHealthRow {
    /// The project whose daemon polls it.
    pub project: String,
    /// The source's name (`[capacity.sources.<name>]`).
    pub name: String,
    /// The connector: `http_poll`, `hubspot`, `salesforce`.
    pub kind: String,
    /// `starting` (not polled yet), `ok`, `failing` (the last poll failed), `idle` (no team
    /// takes its capacity from it).
    pub state: String,
    /// Teams the last poll asked for.
    pub teams: i64,
    /// When it was last polled, µs since the epoch.
    pub last_poll_at: Option<i64>,
    /// When a poll last succeeded, µs.
    pub last_success_at: Option<i64>,
    /// When a poll last failed, µs.
    pub last_error_at: Option<i64>,
    /// What went wrong last (no credential, no personal data).
    pub last_error: Option<String>,
    /// Its kind: `auth`, `rate_limited`, `unavailable`, `response`, `config`.
    pub error_kind: Option<String>,
    /// Failed polls since the last success.
    pub consecutive_failures: i64,
    /// The source's own report of its rate limit (e.g. `api-usage=18/15000`).
    pub limit_info: Option<String>,
    /// When it will be polled next, µs.
    pub next_poll_at: Option<i64>,
    /// When the row was written, µs.
    pub updated_at: i64,
}

type Raw = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
    i64,
);

const COLUMNS: &str = "project, name, kind, state, teams, last_poll_at, last_success_at, \
    last_error_at, last_error, error_kind, consecutive_failures, limit_info, next_poll_at, updated_at";

fn from_raw(r: Raw) -> SourceHealthRow {
    SourceHealthRow {
        project: r.0,
        name: r.1,
        kind: r.2,
        state: r.3,
        teams: r.4,
        last_poll_at: r.5,
        last_success_at: r.6,
        last_error_at: r.7,
        last_error: r.8,
        error_kind: r.9,
        consecutive_failures: r.10,
        limit_info: r.11,
        next_poll_at: r.12,
        updated_at: r.13,
    }
}

/// The `capacity_sources` table of one database.
#[derive(Clone, Debug)]
pub struct CapacitySources {
    db: Db,
}

impl CapacitySources {
    /// The table of `db`.
    pub fn new(db: Db) -> CapacitySources {
        CapacitySources { db }
    }

    /// Writes a source's row, replacing the one there.
    pub async fn upsert(&self, row: &SourceHealthRow) -> Result<()> {
        let sql = format!(
            "INSERT INTO capacity_sources ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (project, name) DO UPDATE SET kind = excluded.kind, \
             state = excluded.state, teams = excluded.teams, last_poll_at = excluded.last_poll_at, \
             last_success_at = excluded.last_success_at, last_error_at = excluded.last_error_at, \
             last_error = excluded.last_error, error_kind = excluded.error_kind, \
             consecutive_failures = excluded.consecutive_failures, \
             limit_info = excluded.limit_info, next_poll_at = excluded.next_poll_at, \
             updated_at = excluded.updated_at"
        );
        on_pool!(&self.db, p => sqlx::query(&sql)
            .bind(&row.project)
            .bind(&row.name)
            .bind(&row.kind)
            .bind(&row.state)
            .bind(row.teams)
            .bind(row.last_poll_at)
            .bind(row.last_success_at)
            .bind(row.last_error_at)
            .bind(&row.last_error)
            .bind(&row.error_kind)
            .bind(row.consecutive_failures)
            .bind(&row.limit_info)
            .bind(row.next_poll_at)
            .bind(row.updated_at)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// One source's row.
    pub async fn get(&self, project: &str, name: &str) -> Result<Option<SourceHealthRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM capacity_sources WHERE project = $1 AND name = $2");
        let raw: Option<Raw> = on_pool!(&self.db, p => sqlx::query_as(&sql)
            .bind(project)
            .bind(name)
            .fetch_optional(p)
            .await)?;
        Ok(raw.map(from_raw))
    }

    /// A project's sources (every project's with `None`), by project and name.
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<SourceHealthRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM capacity_sources WHERE ($1 IS NULL OR project = $1) \
             ORDER BY project, name"
        );
        let raw: Vec<Raw> = on_pool!(&self.db, p => sqlx::query_as(&sql)
            .bind(project)
            .fetch_all(p)
            .await)?;
        Ok(raw.into_iter().map(from_raw).collect())
    }

    /// Deletes the project's rows of sources not in `names` (no longer configured); returns
    /// how many.
    pub async fn retain(&self, project: &str, names: &[String]) -> Result<u64> {
        let mut removed = 0;
        for row in self.list(Some(project)).await? {
            if names.contains(&row.name) {
                continue;
            }
            removed += on_pool!(&self.db, p => sqlx::query(
                "DELETE FROM capacity_sources WHERE project = $1 AND name = $2")
                .bind(project)
                .bind(&row.name)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(removed)
    }
}
