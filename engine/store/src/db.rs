//! Connecting to SQLite or PostgreSQL, migrations, and the few places where their SQL differs.
//!
//! Everything above this module is written once: the [`on_pool!`](crate::on_pool) macro
//! expands one body for each backend, and the SQL text is shared (sqlx binds `$1`-style
//! parameters on both). The differences are the statements of [`Dialect`], the PostgreSQL
//! array statements below it (`PG_*`: many rows in one statement, where SQLite takes
//! multi-row `VALUES` written once), `Db::scrub_subject_keys`, and an event's own time
//! ([`Dialect::event_time_range`]: string functions on SQLite, a function of migration 0009
//! on PostgreSQL). Callers still pick how to bind a list (JSON text on SQLite, an array on
//! PostgreSQL), as sqlx types binds per driver.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions as _;

use crate::error::{Result, StoreError};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// An embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Dialect {
    /// The statement that opens a write transaction. SQLite takes the write lock at once
    /// (`IMMEDIATE`), so two processes never deadlock upgrading a read lock.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Serialises the transactions that write the kept facts or forget a key (ADR 0048):
    /// SQLite's write transactions already are; PostgreSQL takes a transaction-scoped
    /// advisory lock (`'LOkf'`).
    pub(crate) fn lock_keys(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(1280273254)"),
        }
    }

    /// Reads the log head inside a write transaction. On PostgreSQL the row lock serialises
    /// every writer of every process, which is what keeps positions gap-free.
    pub(crate) fn lock_head(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT position, hash, recorded_at FROM log_head WHERE id = 1",
            Dialect::Postgres => {
                "SELECT position, hash, recorded_at FROM log_head WHERE id = 1 FOR UPDATE"
            }
        }
    }

    /// The event ids of a list (`$1`) that are stored, with their position, stream and
    /// version. The list is a JSON array of hex ids on SQLite, an array of ids on PostgreSQL.
    pub(crate) fn find_events(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "SELECT event_id, position, stream_id, stream_version FROM events \
                 WHERE event_id IN (SELECT unhex(value) FROM json_each($1))"
            }
            Dialect::Postgres => {
                "SELECT event_id, position, stream_id, stream_version FROM events \
                 WHERE event_id = ANY($1)"
            }
        }
    }

    /// The current version (NULL: no such stream) of each stream of a list (`$1`: a JSON
    /// array on SQLite, an array on PostgreSQL), each found through the
    /// (stream_id, stream_version) index.
    pub(crate) fn stream_versions(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "SELECT value, (SELECT MAX(stream_version) FROM events WHERE stream_id = value) \
                 FROM json_each($1)"
            }
            Dialect::Postgres => {
                "SELECT s.id, (SELECT e.stream_version FROM events e WHERE e.stream_id = s.id \
                 ORDER BY e.stream_version DESC LIMIT 1) FROM unnest($1::text[]) AS s(id)"
            }
        }
    }

    /// Tells other processes the log's new head position (`$1`, as text) when the writer's
    /// transaction commits: `NOTIFY` on PostgreSQL (see [`crate::head::NOTIFY_CHANNEL`]);
    /// nothing on SQLite, whose other processes poll.
    pub(crate) fn notify_head(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_notify('leadorch_events', $1)"),
        }
    }

    /// Whether a table exists, with `$1` bound to its name.
    pub(crate) fn table_exists(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        }
    }

    /// A condition over the `events` row in scope: the event's own time (its payload's `at`,
    /// ADR 0019) lies in `[lo, hi)`, µs since the epoch, as the three pieces of text around
    /// the two binds (`lo`, then `hi`). An event whose payload is not JSON, holds no `at` under
    /// its `event_type`, or whose `at` is not an RFC 3339 time never matches, and never fails
    /// the statement (a tampered row simply has no event time). Fractions finer than µs are
    /// cut, not rounded, so the comparison is exact for bounds in whole µs. The time is
    /// worked out once per row (the costly part: parsing the payload).
    ///
    /// SQLite: `BETWEEN lo AND hi - 1` over [`SQLITE_EVENT_TIME`] (SQLite computes the left
    /// side of a `BETWEEN` once). It reads the payload as JSON text (`CAST … AS TEXT`: since
    /// 3.45 its JSON functions take a BLOB for JSONB) and works the time out with string
    /// functions and `unixepoch`, which keeps only milliseconds of a fraction, so the
    /// fraction's µs are added apart.
    /// PostgreSQL: `leadorch_event_at` (migration 0009), a PL/pgSQL function whose exception
    /// handler turns a payload that is not UTF-8 JSON into NULL (PostgreSQL 15 has no
    /// error-free JSON test for a plain expression), tested against `int8range(lo, hi)`:
    /// `BETWEEN` would call it twice.
    pub(crate) fn event_time_range(self) -> [String; 3] {
        match self {
            Dialect::Sqlite => [
                format!("{SQLITE_EVENT_TIME} BETWEEN "),
                " AND ".into(),
                " - 1".into(),
            ],
            Dialect::Postgres => [
                "leadorch_event_at(payload, event_type) <@ int8range(".into(),
                ", ".into(),
                ")".into(),
            ],
        }
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// SQLite: an event's own time in µs since the epoch, or NULL ([`Dialect::event_time_range`]).
/// Innermost, `a`: the `at` under the event's type (an
/// event type with a `"` would break the JSON path, and none has one). Then `tz` (what follows
/// the seconds and their fraction) and `digits` (the fraction). Then the checks of RFC 3339's
/// shape (a real date: `date()` gives it back unchanged) and the sum: whole seconds by
/// `unixepoch` as if UTC, the fraction's first six digits, minus the offset.
const SQLITE_EVENT_TIME: &str = "(SELECT CASE \
     WHEN a GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][Tt ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' \
      AND date(substr(a, 1, 10)) = substr(a, 1, 10) \
      AND (tz IN ('Z', 'z') OR tz GLOB '[+-][0-9][0-9]:[0-9][0-9]') \
      AND (substr(a, 20, 1) <> '.' OR digits <> '') \
     THEN unixepoch(substr(a, 1, 10) || ' ' || substr(a, 12, 8)) * 1000000 \
        + CAST(substr(digits || '000000', 1, 6) AS INTEGER) \
        - CASE WHEN tz IN ('Z', 'z') THEN 0 \
          ELSE (CASE substr(tz, 1, 1) WHEN '-' THEN -1 ELSE 1 END) \
             * (CAST(substr(tz, 2, 2) AS INTEGER) * 3600 + CAST(substr(tz, 5, 2) AS INTEGER) * 60) \
             * 1000000 END \
     END \
   FROM (SELECT a, \
       CASE WHEN substr(a, 20, 1) = '.' THEN ltrim(substr(a, 21), '0123456789') \
            ELSE substr(a, 20) END AS tz, \
       CASE WHEN substr(a, 20, 1) = '.' \
            THEN substr(a, 21, length(a) - 20 - length(ltrim(substr(a, 21), '0123456789'))) \
            ELSE '' END AS digits \
     FROM (SELECT CASE WHEN instr(event_type, '\"') = 0 AND json_valid(CAST(payload AS TEXT)) \
           THEN json_extract(CAST(payload AS TEXT), '$.\"' || event_type || '\".at') END AS a)))";

/// PostgreSQL: inserts every row of a writer's group in one statement of arrays (one array
/// per column of [`crate::log::EVENT_COLUMNS`]). SQLite inserts multi-row `VALUES`.
pub(crate) const PG_INSERT_EVENTS: &str = "INSERT INTO events (position, stream_id, \
     stream_version, event_id, event_type, schema_version, payload, metadata, recorded_at, \
     prev_hash, hash) SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::bytea[], \
     $5::text[], $6::text[], $7::bytea[], $8::bytea[], $9::int8[], $10::bytea[], $11::bytea[])";

/// PostgreSQL: inserts or replaces documents of projection `$1`, keys `$2` and documents `$3`
/// as arrays. SQLite upserts multi-row `VALUES`.
pub(crate) const PG_UPSERT_DOCS: &str = "INSERT INTO read_models (projection, key, doc) \
     SELECT $1, k, d FROM UNNEST($2::text[], $3::bytea[]) AS u(k, d) \
     ON CONFLICT (projection, key) DO UPDATE SET doc = excluded.doc";

/// PostgreSQL: inserts parts of projection `$1` as arrays. SQLite rebuilds insert parts with
/// rusqlite (`crate::read_models`).
pub(crate) const PG_INSERT_PARTS: &str =
    "INSERT INTO read_model_parts (projection, first_key, last_key, rows, data) \
     SELECT $1, f, l, n, d FROM UNNEST($2::text[], $3::text[], $4::int8[], $5::bytea[]) \
     AS u(f, l, n, d)";

/// Whether opening a database may create it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Open {
    /// Only a database that exists and carries leadorch's schema (what commands that read
    /// use): a missing SQLite file, or a database without leadorch's tables, is
    /// [`StoreError::NoDatabase`], and nothing is created.
    Existing,
    /// Create the SQLite file and its folder when missing, and apply the schema to an empty
    /// database.
    #[default]
    Create,
}

/// A connection pool to one of the two backends, plus what is needed to open the writer's
/// dedicated connection.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite in WAL mode with `synchronous=FULL`.
    Sqlite {
        /// Reader pool.
        pool: SqlitePool,
        /// Options the writer connects with (shared: a `Db` is cloned per request, and the
        /// options hold maps and strings).
        options: Arc<SqliteConnectOptions>,
        /// The database file.
        path: Arc<PathBuf>,
        /// Read-only connections for point reads on the caller's thread (ADR 0041).
        inline: Arc<crate::inline::Inline>,
        /// This process's index of the append-only fingerprint rows (ADR 0047).
        fingerprints: Arc<crate::fingerprint_index::FingerprintIndex>,
    },
    /// PostgreSQL with `synchronous_commit=on`.
    Postgres {
        /// Reader pool.
        pool: PgPool,
        /// Options the writer and listeners connect with (shared, as for SQLite).
        options: Arc<PgConnectOptions>,
    },
}

/// Runs `$body` with `$p` bound to the backend's pool; both arms must have the same type.
#[macro_export]
#[doc(hidden)]
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { pool: $p, .. } => $body,
            $crate::db::Db::Postgres { pool: $p, .. } => $body,
        }
    };
}

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`), applies migrations and refuses a
    /// database written by a newer leadorch.
    pub async fn connect(url: &str) -> Result<Db> {
        Self::connect_with(url, Open::Create).await
    }

    /// [`Db::connect`], creating nothing when `open` is [`Open::Existing`]: the database
    /// must exist and carry leadorch's schema (older schema versions are still migrated).
    pub async fn connect_with(url: &str, open: Open) -> Result<Db> {
        let db = Self::open(url, open).await?;
        if open == Open::Existing && !db.has_schema().await? {
            db.close().await;
            return Err(StoreError::NoDatabase {
                location: redact_url(url),
                reason: format!(
                    "{} holds no leadorch database (no events table)",
                    db.describe()
                ),
            });
        }
        if let Db::Sqlite { pool, .. } = &db {
            if open == Open::Existing {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(pool)
                    .await?;
            }
        }
        db.migrate().await?;
        Ok(db)
    }

    async fn open(url: &str, open: Open) -> Result<Db> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl {
                    url: redact_url(url),
                    reason: e.to_string(),
                })?
                .create_if_missing(open == Open::Create)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .pragma("secure_delete", "ON")
                // The pooled connections read (windows of the log, counts, replays): one
                // pass over a million events gains nothing from a large page cache, and each
                // of the four keeps what it grew to. 8 MiB holds the indexes' upper pages.
                // The writer (crate::writer) and a read-model rebuild keep 64 MiB.
                .pragma("cache_size", "-8192")
                // A replay legitimately reads for seconds; such notes are for debugging.
                .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
            // Setting WAL writes to the file: a database that must exist is only switched
            // once it is known to be leadorch's ([`Db::connect_with`]).
            let wal = options.clone().journal_mode(SqliteJournalMode::Wal);
            let connect = match open {
                Open::Create => wal.clone(),
                Open::Existing => options,
            };
            let options = wal;
            let path = options.get_filename().to_path_buf();
            if open == Open::Existing && !path.is_file() {
                return Err(StoreError::NoDatabase {
                    location: redact_url(url),
                    reason: format!("no database file at {}", path.display()),
                });
            }
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
                        what: format!("creating the database folder {}", dir.display()),
                        source: std::sync::Arc::new(e),
                    })?;
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(1)
                // A file does not drop connections: the ping sqlx sends before handing out
                // a pooled connection was a round trip to its thread on every query.
                .test_before_acquire(false)
                .connect_with(connect)
                .await
                .map_err(|e| StoreError::connect(url, e))?;
            Ok(Db::Sqlite {
                pool,
                options: Arc::new(options),
                inline: Arc::new(crate::inline::Inline::new(path.clone())),
                fingerprints: Arc::default(),
                path: Arc::new(path),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl {
                    url: redact_url(url),
                    reason: e.to_string(),
                })?
                // Every query the store issues has an index path. A log that grows faster than
                // autovacuum re-analyzes it (a bulk import, a benchmark) must not get sequential
                // scans planned from stale statistics, so they are priced out.
                .options([("synchronous_commit", "on"), ("enable_seqscan", "off")])
                .application_name("leadorch")
                .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await
                .map_err(|e| StoreError::connect(url, e))?;
            Ok(Db::Postgres {
                pool,
                options: Arc::new(options),
            })
        } else {
            Err(StoreError::BadUrl {
                url: redact_url(url),
                reason: "expected a URL starting with sqlite:// or postgres://".into(),
            })
        }
    }

    /// Which backend this is.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite { .. } => Dialect::Sqlite,
            Db::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Point reads on the caller's thread, when this is SQLite (ADR 0041).
    pub(crate) fn inline(&self) -> Option<&crate::inline::Inline> {
        match self {
            Db::Sqlite { inline, .. } => Some(inline),
            Db::Postgres { .. } => None,
        }
    }

    /// On SQLite, the fingerprint index and where a write transaction's own fingerprint rows
    /// begin (ADR 0047): caught up here, so call it once the transaction holds the write lock
    /// and before it writes a fingerprint. `None` on PostgreSQL, whose table is keyed by the
    /// fingerprint.
    pub(crate) fn claim_scope(
        &self,
        now: i64,
    ) -> Result<Option<crate::fingerprint_index::ClaimScope<'_>>> {
        self.fingerprint_index()
            .map(|(index, inline)| {
                Ok(crate::fingerprint_index::ClaimScope {
                    base: index.catch_up(inline, now)?,
                    index,
                    inline,
                })
            })
            .transpose()
    }

    /// The fingerprint index, on SQLite (ADR 0047).
    pub(crate) fn fingerprint_index(
        &self,
    ) -> Option<(
        &crate::fingerprint_index::FingerprintIndex,
        &crate::inline::Inline,
    )> {
        match self {
            Db::Sqlite {
                inline,
                fingerprints,
                ..
            } => Some((fingerprints, inline)),
            Db::Postgres { .. } => None,
        }
    }

    /// The SQLite file, when this is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite { path, .. } => Some(path),
            Db::Postgres { .. } => None,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Db::Sqlite { .. } => &SQLITE_MIGRATOR,
            Db::Postgres { .. } => &POSTGRES_MIGRATOR,
        }
    }

    /// The newest schema version this build knows.
    pub fn known_schema_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The newest schema version applied to the database (0 for an empty database).
    pub async fn applied_schema_version(&self) -> Result<i64> {
        let sql = self.dialect().table_exists();
        let exists: i64 = on_pool!(self, p => sqlx::query_scalar(sql)
            .bind("_sqlx_migrations")
            .fetch_one(p)
            .await)?;
        if exists == 0 {
            return Ok(0);
        }
        let v: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(p)
            .await)?;
        Ok(v.unwrap_or(0))
    }

    /// Whether leadorch's schema is there: a migrations table with a version, and the log.
    async fn has_schema(&self) -> Result<bool> {
        if self.applied_schema_version().await? == 0 {
            return Ok(false);
        }
        let events: i64 = on_pool!(self, p => sqlx::query_scalar(self.dialect().table_exists())
            .bind("events")
            .fetch_one(p)
            .await)?;
        Ok(events > 0)
    }

    async fn migrate(&self) -> Result<()> {
        let found = self.applied_schema_version().await?;
        let known = self.known_schema_version();
        if found > known {
            return Err(StoreError::NewerSchema {
                location: self.describe(),
                found,
                known,
            });
        }
        on_pool!(self, p => self.migrator().run(p).await)?;
        Ok(())
    }

    /// Where the data lives, for messages (never includes a password).
    pub fn describe(&self) -> String {
        match self {
            Db::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            Db::Postgres { options, .. } => format!(
                "postgres://{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("")
            ),
        }
    }

    /// Pushes deleted subject keys out of the database files (SQLite: checkpoint and truncate
    /// the WAL; PostgreSQL: vacuum the key table).
    pub(crate) async fn scrub_subject_keys(&self) -> Result<()> {
        match self.dialect() {
            Dialect::Sqlite => {
                // A checkpoint copies the zeroed pages into the main file; TRUNCATE then
                // empties the WAL. Readers can hold it back, so try a few times.
                let mut done = false;
                for _ in 0..100 {
                    let (busy, _, _): (i64, i64, i64) = on_pool!(self, p =>
                        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(p).await)?;
                    if busy == 0 {
                        done = true;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                if !done {
                    // The key row is deleted and zeroed in its page; only an older copy in the
                    // WAL remains until the next checkpoint.
                    tracing::warn!(
                        "readers held the WAL for 5 s; it will be truncated at the next checkpoint"
                    );
                }
            }
            Dialect::Postgres => {
                // Best effort: dead tuples stay until vacuumed.
                let _ = on_pool!(self, p => sqlx::query("VACUUM subject_keys").execute(p).await.map(|r| r.rows_affected()));
            }
        }
        Ok(())
    }

    /// Closes the pools.
    pub async fn close(&self) {
        if let Some(inline) = self.inline() {
            inline.close();
        }
        on_pool!(self, p => p.close().await)
    }
}

/// Removes any password from a database URL before it goes into a message.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_string(),
            },
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The default database: `$LEADORCH_HOME/leadorch.db`, else
/// `$XDG_DATA_HOME/leadorch/leadorch.db`, else `~/.local/share/leadorch/leadorch.db`.
pub fn default_data_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("LEADORCH_HOME") {
        return PathBuf::from(home);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("leadorch");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/leadorch")
}

/// The default database URL (see [`default_data_dir`]).
pub fn default_database_url() -> String {
    format!(
        "sqlite://{}",
        default_data_dir().join("leadorch.db").display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://bob:secret@db.example:5432/x"),
            "postgres://bob:***@db.example:5432/x"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(
            redact_url("postgres://bob@db.example:5432/x"),
            "postgres://bob@db.example:5432/x",
            "no password, nothing to hide"
        );
    }

    #[test]
    fn postgres_statements_name_the_shared_columns_and_channel() {
        assert_eq!(
            PG_INSERT_EVENTS,
            format!(
                "INSERT INTO events ({}) SELECT * FROM UNNEST($1::int8[], $2::text[], \
                 $3::int8[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], $8::bytea[], \
                 $9::int8[], $10::bytea[], $11::bytea[])",
                crate::log::EVENT_COLUMNS
            )
        );
        assert_eq!(
            Dialect::Postgres.notify_head(),
            Some(format!("SELECT pg_notify('{}', $1)", crate::head::NOTIFY_CHANNEL).as_str())
        );
    }
}
