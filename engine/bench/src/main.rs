//! `leadorch-bench`: the benchmarks behind `leadorch bench …`, throughput against named
//! peers measured in the same run. The `leadorch` binary runs this one (built beside it by
//! `cargo build --release` at the repository root) with its arguments, so the benchmarks and
//! their peers (sqlite-es, postgres-es, the rules baseline) are not part of the product.
//!
//! Every contender gets a fresh database with the same durability settings (SQLite: the
//! connect options of our own store — WAL, `synchronous=FULL`, a 30 s busy timeout;
//! PostgreSQL: `synchronous_commit=on`), the same workload and the same number of concurrent
//! tokio tasks. Results go to standard output as a table followed, last, by one
//! `ratio leadorch/<peer> = X.XX` line per peer; progress goes to standard error.
#![forbid(unsafe_code)]

mod agency;
mod append;
mod daemon;
mod fresh;
mod ingest;
mod naive;
mod react;
mod replay;
mod rules;
mod scrub;
mod served;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Benchmarks against named peers, measured in the same run
#[derive(Parser, Debug)]
#[command(name = "leadorch bench", bin_name = "leadorch bench", long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: BenchCommand,
}

/// The options every `leadorch` command takes, accepted here as `leadorch` accepts them
/// (`leadorch bench` passes those given before `bench` first). The benchmarks make their own
/// databases and use none of them.
#[derive(Args, Debug, Clone)]
struct Global {
    /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: an SQLite file in
    /// $LEADORCH_HOME, else $XDG_DATA_HOME/leadorch, else ~/.local/share/leadorch]
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// File holding the master key that wraps data keys (created when missing)
    /// [default: master.key beside the SQLite file, or in the data folder];
    /// LEADORCH_MASTER_KEY (base64) overrides it
    #[arg(long, env = "LEADORCH_MASTER_KEY_FILE", global = true)]
    master_key_file: Option<PathBuf>,
    /// Who is acting, recorded with every event this command writes
    #[arg(long, env = "LEADORCH_ACTOR", global = true)]
    actor: Option<String>,
}

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
enum BenchCommand {
    /// Durable single-event appends from concurrent writers: leadorch vs the cqrs-es store
    /// (sqlite-es / postgres-es), a raw sqlx insert per transaction, and the raw multi-row
    /// batch ceiling
    Append(AppendArgs),
    /// Full read-model rebuild of a large log: leadorch vs the cqrs-es store's replay
    Replay(ReplayArgs),
    /// The replay view's scrubber: the state at one moment after another from kept views of
    /// the log, against a fold from the first event per moment
    Scrub(ScrubArgs),
    /// One rules evaluation tick (1,000 campaigns x 20 rules) against plain Rhai with
    /// per-call fact conversion, and the daemon's reaction latency to a capacity event
    Rules(rules::RulesArgs),
    /// Durable `POST /v1/leads` over loopback from concurrent keep-alive connections: leadorch
    /// vs the store's own writes of the same leads (the ceiling) and a plain axum + sqlx
    /// handler (one transaction per lead)
    Ingest(ingest::IngestArgs),
    /// A capacity push over HTTP (`POST /v1/capacity`) to the fake Google Ads receiving the
    /// `campaigns:mutate` that pauses or resumes the team's capacity-gated campaign: the API,
    /// the daemon with the example rules and the Google Ads client, all real, in this process
    /// against the fake Google holding `--campaigns` campaigns
    React(react::ReactArgs),
    /// A daemon's start on a large seeded log (`daemon --adapter sim --once`, its own
    /// process) from the kept facts view against a fold from the first event, and its RSS
    /// after the start and over simulated minutes of operation
    Daemon(daemon::DaemonArgs),
    /// An agency's client customers under one manager account on one PostgreSQL: the daemon
    /// stepped once per 5-minute period (simulated clock) over all their campaigns with the
    /// example rules, each step timed, and the requests per customer at the fake Google
    Agency(agency::AgencyArgs),
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

#[derive(Args, Debug)]
pub struct ScrubArgs {
    /// Database to run on
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Events in the seeded log
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Moments visited from the end backwards (then every other one forwards again)
    #[arg(long, default_value_t = 12)]
    pub moments: u64,
    /// Server for --backend postgres
    #[arg(
        long,
        env = "LEADORCH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

/// Runs a benchmark.
async fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Append(args) => append::run(&args).await,
        BenchCommand::Replay(args) => replay::run(&args).await,
        BenchCommand::Rules(args) => rules::run(&args).await,
        BenchCommand::Scrub(args) => scrub::run(&args).await,
        BenchCommand::Ingest(args) => ingest::run(&args).await,
        BenchCommand::React(args) => react::run(&args).await,
        BenchCommand::Daemon(args) => daemon::run(&args).await,
        BenchCommand::Agency(args) => agency::run(&args).await,
    }
}

// The allocator of the `leadorch` binary, so that figures are those of the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The global options are accepted as `leadorch` accepts them; no benchmark reads them.
    let Cli { global: _, command } = cli;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADORCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only at a terminal, as `leadorch` (a redirected log gets plain text).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One line of the results table.
#[derive(Clone, Debug)]
struct Row {
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
struct Latencies(Vec<u32>);

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
fn print_table(rows: &[Row]) {
    print_table_named(rows, ["events", "writers", "events/s"]);
}

/// Prints the results table with other names for the count, task and rate columns.
fn print_table_named(rows: &[Row], [count, tasks, rate]: [&str; 3]) {
    let header = [
        "contender",
        count,
        tasks,
        "seconds",
        rate,
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
fn print_ratios(rows: &[Row]) {
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
fn thousands(n: u64) -> String {
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
