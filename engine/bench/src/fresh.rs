//! Fresh databases for each contender, with our store's durability settings, and the tables
//! of the peers.
//!
//! SQLite files go in one temporary folder (deleted at the end). On PostgreSQL each
//! contender gets its own database (`CREATE DATABASE leadorch_bench_…`), dropped with
//! `DROP DATABASE … WITH (FORCE)` when the contender is done; the database named in the URL
//! is only used to issue those two statements (and `CHECKPOINT`).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use leadorch_store::Db;

use super::Backend;

/// A pool on one of the two backends.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the backend's pool; both arms must have the same type.
macro_rules! with_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::fresh::Pool::Sqlite($p) => $body,
            $crate::fresh::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Pool {
    /// Opens every connection now, so that connecting is not part of a measurement.
    pub async fn warm(&self, connections: u32) -> Result<()> {
        with_pool!(self, p => {
            let conns = futures::future::try_join_all((0..connections).map(|_| p.acquire())).await?;
            drop(conns);
        });
        Ok(())
    }

    /// Runs statements separated by `;` (no parameters).
    pub async fn execute_script(&self, script: &str) -> Result<()> {
        for stmt in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            with_pool!(self, p => sqlx::query(stmt).execute(p).await.map(|_| ()))
                .with_context(|| format!("running {stmt}"))?;
        }
        Ok(())
    }

    /// `SELECT COUNT(*) FROM <table>`.
    pub async fn count(&self, table: &str) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = with_pool!(self, p => sqlx::query_scalar(&sql).fetch_one(p).await)?;
        Ok(n as u64)
    }

    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

/// One fresh database.
#[derive(Debug)]
pub(crate) struct Fresh {
    /// URL for [`Db::connect`].
    pub url: String,
    /// SQLite: the file.
    pub path: Option<PathBuf>,
    /// PostgreSQL: the database name.
    pub pg_name: Option<String>,
}

/// Connect options of our store (durability, busy timeout), to give every contender the same.
#[derive(Clone, Debug)]
enum Template {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

/// Creates and drops the fresh databases of one benchmark run.
pub(crate) struct Databases {
    pub backend: Backend,
    dir: Option<tempfile::TempDir>,
    server: String,
    template: Option<Template>,
    live: Vec<String>,
}

impl Databases {
    /// Prepares a run: a temporary folder (SQLite) or a check that the server answers
    /// (PostgreSQL). The connect options every contender uses are taken from our store's
    /// [`Db::connect`] on a throwaway database.
    pub async fn new(backend: Backend, postgres_url: &str) -> Result<Databases> {
        let mut dbs = Databases {
            backend,
            dir: None,
            server: postgres_url.to_string(),
            template: None,
            live: Vec::new(),
        };
        match backend {
            Backend::Sqlite => {
                dbs.dir = Some(
                    tempfile::Builder::new()
                        .prefix("leadorch-bench-")
                        .tempdir()
                        .context("creating a temporary folder")?,
                );
            }
            Backend::Postgres => {
                if !postgres_url.starts_with("postgres:")
                    && !postgres_url.starts_with("postgresql:")
                {
                    bail!("--postgres-url must start with postgres://");
                }
                let admin = dbs.admin().await?;
                admin.close().await.ok();
            }
        }
        let probe = dbs.create("template").await?;
        let result = async {
            let db = Db::connect(&probe.url)
                .await
                .with_context(|| format!("connecting to {}", probe.url))?;
            let t = match &db {
                Db::Sqlite { options, .. } => Template::Sqlite((**options).clone()),
                Db::Postgres { options, .. } => Template::Postgres((**options).clone()),
            };
            db.close().await;
            anyhow::Ok(t)
        }
        .await;
        dbs.drop_db(probe).await;
        dbs.template = Some(result?);
        Ok(dbs)
    }

    async fn admin(&self) -> Result<PgConnection> {
        let options = PgConnectOptions::from_str(&self.server)
            .context("parsing --postgres-url")?
            .disable_statement_logging();
        PgConnection::connect_with(&options).await.with_context(|| {
            format!(
                "PostgreSQL at {} is not reachable; start it or pass --postgres-url",
                leadorch_store::db::redact_url(&self.server)
            )
        })
    }

    /// A fresh, empty database; `label` names the contender.
    pub async fn create(&mut self, label: &str) -> Result<Fresh> {
        let clean: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        match self.backend {
            Backend::Sqlite => {
                let dir = self.dir.as_ref().context("no temporary folder")?;
                let path = dir.path().join(format!("{clean}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(Fresh {
                    url: format!("sqlite://{}", path.display()),
                    path: Some(path),
                    pg_name: None,
                })
            }
            Backend::Postgres => {
                let name = format!(
                    "leadorch_bench_{}_{}",
                    clean.to_lowercase(),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                let mut admin = self.admin().await?;
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                self.live.push(name.clone());
                // Start every contender from a clean WAL state.
                admin.execute("CHECKPOINT").await.ok();
                admin.close().await.ok();
                let url = match self.server.split_once('?') {
                    Some((base, query)) => format!("{}?{query}", replace_db(base, &name)?),
                    None => replace_db(&self.server, &name)?,
                };
                Ok(Fresh {
                    url,
                    path: None,
                    pg_name: Some(name),
                })
            }
        }
    }

    /// A pool on `fresh` with our store's connect options and `connections` connections
    /// (statement logging off: sqlx would warn about every statement that waited a second for
    /// SQLite's write lock).
    pub async fn pool(&self, fresh: &Fresh, connections: u32) -> Result<Pool> {
        let connections = connections.max(1);
        Ok(
            match self.template.as_ref().context("no template options")? {
                Template::Sqlite(o) => {
                    let path = fresh.path.as_ref().context("not a SQLite database")?;
                    Pool::Sqlite(
                        SqlitePoolOptions::new()
                            .max_connections(connections)
                            .acquire_timeout(Duration::from_secs(60))
                            .connect_with(o.clone().filename(path).disable_statement_logging())
                            .await
                            .with_context(|| format!("opening {}", path.display()))?,
                    )
                }
                Template::Postgres(o) => {
                    let name = fresh
                        .pg_name
                        .as_deref()
                        .context("not a PostgreSQL database")?;
                    Pool::Postgres(
                        PgPoolOptions::new()
                            .max_connections(connections)
                            .acquire_timeout(Duration::from_secs(60))
                            .connect_with(o.clone().database(name).disable_statement_logging())
                            .await
                            .with_context(|| format!("connecting to database {name}"))?,
                    )
                }
            },
        )
    }

    /// Deletes a fresh database (its pools must be closed).
    pub async fn drop_db(&mut self, fresh: Fresh) {
        if let Some(path) = &fresh.path {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some(name) = &fresh.pg_name {
            self.drop_pg(name).await;
        }
    }

    async fn drop_pg(&mut self, name: &str) {
        match self.admin().await {
            Ok(mut admin) => {
                if let Err(e) = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                {
                    eprintln!("warning: could not drop database {name}: {e}");
                } else {
                    self.live.retain(|n| n != name);
                }
                admin.close().await.ok();
            }
            Err(e) => eprintln!("warning: could not drop database {name}: {e:#}"),
        }
    }

    /// Drops whatever is left (after an error) and the temporary folder.
    pub async fn cleanup(mut self) {
        for name in std::mem::take(&mut self.live) {
            self.drop_pg(&name).await;
        }
        drop(self.dir.take());
    }
}

fn replace_db(url: &str, name: &str) -> Result<String> {
    let named = url
        .split_once("://")
        .and_then(|(scheme, rest)| rest.rsplit_once('/').map(|(server, _)| (scheme, server)));
    match named {
        Some((scheme, server)) if !server.is_empty() => Ok(format!("{scheme}://{server}/{name}")),
        _ => bail!(
            "--postgres-url must name a database, e.g. postgres://postgres@127.0.0.1:5432/test"
        ),
    }
}

/// The cqrs-es peer's tables, as in sqlite-es 0.5.0 `migrations/20221114171845_init.sql` and
/// postgres-es 0.5.0 `db/init.sql`.
pub(crate) fn peer_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TABLE events (
               aggregate_type text                          NOT NULL,
               aggregate_id   text                          NOT NULL,
               sequence       integer CHECK (sequence >= 0) NOT NULL,
               event_type     text                          NOT NULL,
               event_version  text                          NOT NULL,
               payload        text                          NOT NULL,
               metadata       text                          NOT NULL,
               PRIMARY KEY (aggregate_type, aggregate_id, sequence)
             ) STRICT;
             CREATE TABLE snapshots (
               aggregate_type   text                                  NOT NULL,
               aggregate_id     text                                  NOT NULL,
               last_sequence    integer CHECK (last_sequence >= 0)    NOT NULL,
               current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL,
               payload          text                                  NOT NULL,
               PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
             ) STRICT"
        }
        Backend::Postgres => {
            "CREATE TABLE events (
               aggregate_type text                         NOT NULL,
               aggregate_id   text                         NOT NULL,
               sequence       bigint CHECK (sequence >= 0) NOT NULL,
               event_type     text                         NOT NULL,
               event_version  text                         NOT NULL,
               payload        json                         NOT NULL,
               metadata       json                         NOT NULL,
               PRIMARY KEY (aggregate_type, aggregate_id, sequence)
             );
             CREATE TABLE snapshots (
               aggregate_type   text                                 NOT NULL,
               aggregate_id     text                                 NOT NULL,
               last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
               current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
               payload          json                                 NOT NULL,
               PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
             )"
        }
    }
}

/// A table shaped like our `events` (same columns, constraints and indexes) whose position
/// the database assigns, for the raw sqlx baselines.
pub(crate) fn raw_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TABLE raw_events (
               position       INTEGER PRIMARY KEY,
               stream_id      TEXT    NOT NULL,
               stream_version INTEGER NOT NULL,
               event_id       BLOB    NOT NULL UNIQUE,
               event_type     TEXT    NOT NULL,
               schema_version TEXT    NOT NULL,
               payload        BLOB    NOT NULL,
               metadata       BLOB    NOT NULL,
               recorded_at    INTEGER NOT NULL,
               prev_hash      BLOB    NOT NULL,
               hash           BLOB    NOT NULL,
               UNIQUE (stream_id, stream_version)
             );
             CREATE INDEX raw_events_by_type ON raw_events (event_type, position);
             CREATE INDEX raw_events_by_time ON raw_events (recorded_at)"
        }
        Backend::Postgres => {
            "CREATE TABLE raw_events (
               position       BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
               stream_id      TEXT    NOT NULL,
               stream_version BIGINT  NOT NULL,
               event_id       BYTEA   NOT NULL UNIQUE,
               event_type     TEXT    NOT NULL,
               schema_version TEXT    NOT NULL,
               payload        BYTEA   NOT NULL,
               metadata       BYTEA   NOT NULL,
               recorded_at    BIGINT  NOT NULL,
               prev_hash      BYTEA   NOT NULL,
               hash           BYTEA   NOT NULL,
               UNIQUE (stream_id, stream_version)
             );
             CREATE INDEX raw_events_by_type ON raw_events (event_type, position);
             CREATE INDEX raw_events_by_time ON raw_events (recorded_at)"
        }
    }
}

/// Whether `e` is SQLite's "database is locked" / "database is busy" (`SQLITE_BUSY`,
/// `SQLITE_LOCKED` and their extended codes).
pub(crate) fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().and_then(|c| i64::from_str(&c).ok());
            matches!(code, Some(c) if c & 0xff == 5 || c & 0xff == 6)
                || d.message().contains("database is locked")
        }
        _ => false,
    }
}

/// [`is_sqlite_busy`] through the cqrs-es error type.
pub(crate) fn is_peer_busy(e: &cqrs_es::persist::PersistenceError) -> bool {
    use cqrs_es::persist::PersistenceError as P;
    match e {
        P::UnknownError(b) | P::ConnectionError(b) | P::DeserializationError(b) => {
            b.downcast_ref::<sqlx::Error>().is_some_and(is_sqlite_busy)
                || b.to_string().contains("database is locked")
        }
        P::OptimisticLockError => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_last_path_segment() {
        assert_eq!(
            replace_db("postgres://postgres@127.0.0.1:5432/test", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert!(replace_db("postgres://host", "x").is_err());
    }
}
