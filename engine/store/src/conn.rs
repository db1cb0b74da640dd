//! [`Conn`]: one connection of either backend, for statements that run on the caller's
//! connection — inside a [`crate::WriteTx`] ([`crate::WriteTx::conn`]), inside the writer's
//! group transaction (its connection, `Conn::Sqlite(&mut **c)`), or on one taken from the
//! pool. The side tables beside the log ([`crate::fingerprints`], [`crate::idempotency`])
//! are written through it, so what belongs with an append can commit with it.

use sqlx::{PgConnection, SqliteConnection};

use crate::error::Result;

/// A borrowed connection of either backend.
pub enum Conn<'c> {
    /// On SQLite.
    Sqlite(&'c mut SqliteConnection),
    /// On PostgreSQL.
    Postgres(&'c mut PgConnection),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            Conn::Postgres(_) => "Conn::Postgres",
        })
    }
}

/// Runs `$body` with `$c` bound to the connection (`&mut SqliteConnection` or
/// `&mut PgConnection`); both arms must have the same type.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::conn::Conn::Sqlite($c) => {
                let $c = &mut **$c;
                $body
            }
            $crate::conn::Conn::Postgres($c) => {
                let $c = &mut **$c;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// Runs `$body` with `$conn` bound to a `&mut Conn` on a connection taken from `$db`'s pool.
macro_rules! pooled {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { pool, .. } => {
                let mut pooled = pool.acquire().await?;
                let $conn = &mut $crate::conn::Conn::Sqlite(&mut *pooled);
                $body
            }
            $crate::db::Db::Postgres { pool, .. } => {
                let mut pooled = pool.acquire().await?;
                let $conn = &mut $crate::conn::Conn::Postgres(&mut *pooled);
                $body
            }
        }
    };
}
pub(crate) use pooled;

/// Runs `$body` with `$conn` bound to a `&mut Conn` in a new write transaction on `$db`,
/// committed when `$body` succeeds (rolled back when it fails).
macro_rules! in_write_tx {
    ($db:expr, $conn:ident => $body:expr) => {{
        let mut tx = $crate::tx::WriteTx::begin($db).await?;
        let out = {
            let $conn = &mut tx.conn();
            $body
        };
        match out {
            Ok(v) => {
                tx.commit().await?;
                Ok(v)
            }
            Err(e) => Err(e),
        }
    }};
}
pub(crate) use in_write_tx;

/// Opens savepoint `name` (`conn` must be in a transaction).
pub(crate) async fn savepoint(conn: &mut Conn<'_>, name: &str) -> Result<()> {
    let sql = format!("SAVEPOINT {name}");
    with_conn!(conn, c => sqlx::query(&sql).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Releases savepoint `name`, keeping what was done since it was opened.
pub(crate) async fn release(conn: &mut Conn<'_>, name: &str) -> Result<()> {
    let sql = format!("RELEASE SAVEPOINT {name}");
    with_conn!(conn, c => sqlx::query(&sql).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Undoes what was done since savepoint `name` was opened, and releases it.
pub(crate) async fn roll_back_to(conn: &mut Conn<'_>, name: &str) -> Result<()> {
    let sql = format!("ROLLBACK TO SAVEPOINT {name}");
    with_conn!(conn, c => sqlx::query(&sql).execute(c).await.map(|r| r.rows_affected()))?;
    release(conn, name).await
}
