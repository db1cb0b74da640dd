//! `leadorch`: the command line of Lead Orchestrator, and its daemon.
#![forbid(unsafe_code)]

/// `writeln!` to standard output, returning the error (a closed pipe ends a listing quietly).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod bench;
mod commands;
mod google;
mod operate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit code for "the command ran and found a problem" (a broken chain).
pub const EXIT_FINDING: u8 = 3;

/// Lead Orchestrator: event-sourced control of ad campaigns by sales capacity.
#[derive(Parser, Debug)]
#[command(name = "leadorch", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: an SQLite file in
    /// $LEADORCH_HOME, else $XDG_DATA_HOME/leadorch, else ~/.local/share/leadorch]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// File holding the master key that wraps data keys (created when missing)
    /// [default: master.key beside the SQLite file, or in the data folder];
    /// LEADORCH_MASTER_KEY (base64) overrides it
    #[arg(long, env = "LEADORCH_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Who is acting, recorded with every event this command writes
    #[arg(long, env = "LEADORCH_ACTOR", global = true)]
    pub actor: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read the event log
    #[command(subcommand)]
    Events(EventsCommand),
    /// Check the log's integrity
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rebuild the read models from position 0, or show them as of an earlier point
    Replay(ReplayArgs),
    /// Data subjects: export (GDPR Art. 15/20) and erasure (Art. 17)
    #[command(subcommand)]
    Subjects(SubjectsCommand),
    /// Retention of personal data
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Write a realistic synthetic history (leads with consents, capacity, campaign changes,
    /// erasures)
    Seed(SeedArgs),
    /// Benchmarks against named peers, measured in the same run
    Bench(bench::BenchArgs),
    /// Run the simulator, the daemon and the example rules together on an accelerated
    /// clock, with a live view and a summary against the same world without rules
    Demo(operate::DemoArgs),
    /// Evaluate rules on their schedules and within a moment of each capacity change, lead
    /// or metrics refresh, and apply decisions (one leader per database)
    Daemon(operate::DaemonArgs),
    /// Rules: save, list, enable/disable, dry-run, backtest, check, test
    #[command(subcommand)]
    Rules(operate::RulesCommand),
    /// Why is this campaign in its current state (or as of --at)?
    Explain(operate::ExplainArgs),
    /// Google accounts: connect (OAuth consent), revoke, forget, list
    #[command(subcommand)]
    Google(google::GoogleCommand),
    /// Appends events one at a time forever, printing each acknowledged event id (crash tests)
    #[command(hide = true, name = "debug-append-loop")]
    DebugAppendLoop {
        /// Stream to append to
        #[arg(long, default_value = "debug:crash")]
        stream: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// List events in log order
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this stream (e.g. lead:0191…, campaign:1234567890/1001)
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this event type (e.g. LeadReceived)
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only events after this position
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// At most this many events
    #[arg(long)]
    pub limit: Option<u64>,
    /// One JSON object per line, with the payload
    #[arg(long)]
    pub json: bool,
    /// Decrypt personal fields in --json output (default: shown as null)
    #[arg(long, requires = "json")]
    pub reveal: bool,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain: exit 0 with the count and head hash when it holds, exit 3
    /// with the first bad position when any stored byte was changed
    Verify,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Show the read models as of a position (e.g. 1200) or a time (RFC 3339, e.g.
    /// 2026-11-01T12:00:00Z, or a date) instead of rebuilding the stored ones
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum SubjectsCommand {
    /// Everything held about a data subject, decrypted, as JSON (records the request)
    Export {
        /// The data subject id
        id: String,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Erase a data subject by destroying their keys (the log stays verifiable)
    Erase {
        /// The data subject id
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Shred personal data whose retention window has ended
    Enforce {
        /// Evaluate the windows at this time instead of now (RFC 3339)
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// How many events to write
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Random seed; the same seed writes the same history
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_from(bench::with_help_forwarded(std::env::args_os()));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADORCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
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
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is stdout closing under us (`leadorch events list | head`), which ends
/// the command quietly like any Unix tool.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
