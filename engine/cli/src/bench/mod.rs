//! `leadorch bench …`: throughput against named peers, measured in the same run.
//!
//! Every contender gets a fresh database with the same durability settings (SQLite: the
//! connect options of our own store — WAL, `synchronous=FULL`, a 30 s busy timeout;
//! PostgreSQL: `synchronous_commit=on`), the same workload and the same number of concurrent
//! tokio tasks. Results go to standard output as a table followed, last, by one
//! `ratio leadorch/<peer> = X.XX` line per peer; progress goes to standard error.

mod append;
mod fresh;
mod replay;
mod rules;

use std::process::ExitCode;
use std::time::Duration;

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

impl Backend {
    /// The cqrs-es store this backend is compared with, by crate name.
    pub fn peer(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite-es",
            Backend::Postgres => "postgres-es",
        }
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Durable single-event appends from concurrent writers: leadorch vs the cqrs-es store
    /// (sqlite-es / postgres-es), a raw sqlx insert per transaction, and the raw multi-row
    /// batch ceiling
    Append(AppendArgs),
    /// Full read-model rebuild of a large log: leadorch vs the cqrs-es store's replay
    Replay(ReplayArgs),
    /// One rules evaluation tick (1,000 campaigns x 20 rules) against plain Rhai with
    /// per-call fact conversion, and the daemon's reaction latency to a capacity event
    Rules(rules::RulesArgs),
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
    /// Peers to measure beside leadorch, comma-separated: the cqrs-es store (`peer`, or its
    /// crate name), `raw-insert`, `raw-batch`; `none` measures leadorch alone (for profiling)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "peer,raw-insert,raw-batch"
    )]
    pub peers: Vec<String>,
    /// Server for --backend postgres (a database is created and dropped per contender)
    #[arg(
        long,
        env = "LEADORCH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
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
    #[arg(
        long,
        env = "LEADORCH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

/// Runs a benchmark.
pub async fn run(_global: &Global, cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Append(args) => append::run(&args).await,
        BenchCommand::Replay(args) => replay::run(&args).await,
        BenchCommand::Rules(args) => rules::run(&args).await,
    }
}

/// One line of the results table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// Contender name (`leadorch`, a peer crate, `raw-insert`, `raw-batch`).
    pub contender: String,
    /// Events written or replayed.
    pub events: u64,
    /// Concurrent tasks.
    pub writers: u64,
    /// Wall-clock time of the measured phase.
    pub elapsed: Duration,
    /// Per-operation latencies, when each operation is one event.
    pub latencies: Option<Latencies>,
    /// Anything worth knowing about the figure.
    pub notes: String,
}

impl Row {
    pub fn events_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.events as f64 / s
        } else {
            f64::INFINITY
        }
    }
}

/// Sorted latencies in microseconds.
#[derive(Clone, Debug)]
pub(crate) struct Latencies(Vec<u32>);

impl Latencies {
    pub fn new(mut micros: Vec<u32>) -> Latencies {
        micros.sort_unstable();
        Latencies(micros)
    }

    /// Nearest-rank percentile, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.0.len()) - 1;
        Some(f64::from(self.0[i]) / 1000.0)
    }
}

/// Prints the results table.
pub(crate) fn print_table(rows: &[Row]) {
    let header = [
        "contender",
        "events",
        "writers",
        "seconds",
        "events/s",
        "p50 ms",
        "p99 ms",
        "notes",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let pct = |p| {
                r.latencies
                    .as_ref()
                    .and_then(|l| l.percentile_ms(p))
                    .map_or_else(|| "-".to_string(), |ms| format!("{ms:.2}"))
            };
            [
                r.contender.clone(),
                r.events.to_string(),
                r.writers.to_string(),
                format!("{:.3}", r.elapsed.as_secs_f64()),
                format!("{:.0}", r.events_per_sec()),
                pct(50.0),
                pct(99.0),
                r.notes.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: [&str; 8]| {
        let mut out = String::new();
        for (i, (s, w)) in c.iter().zip(widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = w.saturating_sub(s.chars().count());
            match i {
                // Text columns left-aligned, numbers right-aligned; no trailing blanks.
                0 => {
                    out.push_str(s);
                    out.push_str(&" ".repeat(pad));
                }
                7 => out.push_str(s),
                _ => {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(s);
                }
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for c in &cells {
        line(c.each_ref().map(String::as_str));
    }
}

/// Prints `ratio leadorch/<peer> = X.XX` for every row after the first (which is ours).
pub(crate) fn print_ratios(rows: &[Row]) {
    let Some((ours, peers)) = rows.split_first() else {
        return;
    };
    for p in peers {
        println!(
            "ratio {}/{} = {:.2}",
            ours.contender,
            p.contender,
            ours.events_per_sec() / p.events_per_sec()
        );
    }
}

/// `12345` → `"12,345"` for messages.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(|ms| ms * 1000).collect());
        assert_eq!(l.percentile_ms(50.0), Some(50.0));
        assert_eq!(l.percentile_ms(99.0), Some(99.0));
        assert_eq!(l.percentile_ms(100.0), Some(100.0));
        assert_eq!(Latencies::new(vec![]).percentile_ms(50.0), None);
        assert_eq!(Latencies::new(vec![1500]).percentile_ms(99.0), Some(1.5));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
