//! Fresh databases for tests: a SQLite file in a temporary folder, or a new database on the
//! PostgreSQL server named by `LEADORCH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Postgres tests fail, loudly, when the server
//! is not there: the test command starts it.
//!
//! Only ever a dev-dependency: the helpers (and `tempfile`) stay out of the product.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::PathBuf;

use leadorch_store::Dialect;
use sqlx::{Connection, Executor, PgConnection};

/// Default server for Postgres tests.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The base URL of the test server.
pub fn postgres_base_url() -> String {
    std::env::var("LEADORCH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// A throwaway database; dropped (Postgres) or deleted (SQLite) by [`TestDb::cleanup`] or
/// when the value is dropped (SQLite only).
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Backend.
    pub dialect: Dialect,
    /// SQLite: the folder holding the file (deleted on drop).
    pub dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh database on `dialect`.
    pub async fn new(dialect: Dialect) -> TestDb {
        match dialect {
            Dialect::Sqlite => Self::sqlite(),
            Dialect::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite file.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb {
            url,
            dialect: Dialect::Sqlite,
            dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh database on the test PostgreSQL server.
    pub async fn postgres() -> TestDb {
        let base = postgres_base_url();
        let name = format!("lo_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!("PostgreSQL test server at {base} is not reachable ({e}); start it (see README) or set LEADORCH_TEST_POSTGRES_URL")
        });
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("LEADORCH_TEST_POSTGRES_URL must name a database"),
        };
        TestDb {
            url,
            dialect: Dialect::Postgres,
            dir: None,
            pg_name: Some(name),
        }
    }

    /// The SQLite file (SQLite only).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("test.db"))
    }

    /// Drops the Postgres database (after every pool on it is closed).
    pub async fn cleanup(self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut admin) = PgConnection::connect(&postgres_base_url()).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// Both backends, for tests that must pass on each.
pub const BOTH: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];
