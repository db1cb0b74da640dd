//! `leadorch bench …`: throughput against named peers, measured in the same run.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use crate::Global;

/// Which database a benchmark runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
    /// Fresh databases on the PostgreSQL server (--postgres-url).
    Postgres,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Durable single-event appends from concurrent writers: leadorch vs the cqrs-es store
    /// (sqlite-es / postgres-es), a raw sqlx insert per transaction, and the raw multi-row
    /// batch ceiling
    Append(AppendArgs),
    /// Full read-model rebuild of a large log: leadorch vs the cqrs-es store's replay
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
pub struct AppendArgs {
    /// Database to run on
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Events each contender appends
    #[arg(long, default_value_t = 20_000)]
    pub events: u64,
    /// Concurrent writers
    #[arg(long, default_value_t = 64)]
    pub writers: u64,
    /// Server for --backend postgres (a database is created and dropped per contender)
    #[arg(long, env = "LEADORCH_BENCH_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Database to run on
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Events in the log being replayed
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Server for --backend postgres
    #[arg(long, env = "LEADORCH_BENCH_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
}

/// Runs a benchmark.
pub async fn run(_global: &Global, _cmd: BenchCommand) -> Result<ExitCode> {
    anyhow::bail!("benchmarks are being written")
}
