//! `leadorch`: the command line of Lead Orchestrator, and its daemon.
//!
//! One module per command family (`events`, `audit`, `replay`, `subjects`, `retention`,
//! `seed`, `bench`, `demo`, `daemon`, `rules`, `teams`, `explain`, `google`, `init`, `keys`,
//! `serve`, `status`, `webhooks`, `debug`), each with its
//! clap definitions and its `run`; what they share (opening the engine from the global
//! options, the configuration file, time parsing, output helpers) is in `common`. No family
//! imports another; [`run`] dispatches. `completions` (shell completion scripts) needs only
//! the clap definitions and lives here.
#![forbid(unsafe_code)]

/// `writeln!` to standard output, returning the error (a closed pipe ends a listing quietly).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod audit;
mod bench;
mod capacity;
mod common;
mod daemon;
mod debug;
mod demo;
mod events;
mod explain;
mod globals;
mod google;
mod health;
mod init;
mod keys;
mod listen_args;
mod replay;
mod retention;
mod rules;
mod seed;
mod serve;
mod status;
mod subjects;
mod teams;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// File holding the master key that wraps data keys (created when missing, except by
    /// commands that only read a database named by --database-url)
    /// [default: master.key beside the SQLite file, or in the data folder];
    /// LEADORCH_MASTER_KEY (base64) overrides it
    #[arg(long, env = "LEADORCH_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Who is acting, recorded with every event this command writes
    #[arg(long, env = "LEADORCH_ACTOR", global = true)]
    pub actor: Option<String>,
    /// The global options given on the command line (not through the environment), as
    /// flags (`--actor`): a command refuses those it would not act on (`globals`).
    #[arg(skip)]
    pub on_command_line: Vec<&'static str>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the database named by --database-url (applying the schema) and its master key
    /// when missing, and say what was created; commands that only read never create one
    Init,
    /// Read the event log
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Check the log's integrity
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Rebuild the read models from position 0, or show them as of an earlier point
    Replay(replay::ReplayArgs),
    /// Data subjects: export (GDPR Art. 15/20) and erasure (Art. 17)
    Subjects(subjects::SubjectsArgs),
    /// Retention of personal data
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Write a realistic synthetic history (leads with consents, capacity, campaign changes,
    /// erasures)
    Seed(seed::SeedArgs),
    /// Benchmarks against named peers, measured in the same run
    Bench(bench::BenchArgs),
    /// Run the simulator, the daemon and the example rules together on an accelerated
    /// clock, with a live view and a summary against the same world with the rules disabled
    Demo(demo::DemoArgs),
    /// Evaluate rules on their schedules and within a moment of each capacity change, lead
    /// or metrics refresh, and apply decisions (one leader per database)
    Daemon(daemon::DaemonArgs),
    /// Rules: save, list, history, show, diff, rollback, enable/disable, dry-run, backtest,
    /// check, test; --project for another project's rules
    Rules(rules::RulesArgs),
    /// Sales teams: set (time zone, business hours, holidays, maximum of open leads,
    /// capacity source), member add/remove, list, show, import-config; --project for another
    /// project's teams
    Teams(teams::TeamsArgs),
    /// Capacity sources the daemon polls ([capacity.sources.*] in the config file): sources
    /// and their health
    Capacity(capacity::CapacityArgs),
    /// Why is this campaign in its current state (or as of --at)?
    Explain(explain::ExplainArgs),
    /// What the engine works with: database, daemon, adapter, accounts, campaigns with their
    /// teams and covering rules, teams' capacity readings; a warning line for every rule or
    /// campaign that can never act
    Status(status::StatusArgs),
    /// The HTTP API alone, no rules acting: every endpoint but /healthz needs a key
    /// (`leadorch keys create`); the description is at /openapi.json
    Serve(serve::ServeArgs),
    /// The HTTP API's keys: create (shown once), list, revoke
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Who called the HTTP API: key, route, status, address, time (kept 90 days)
    AccessLog(keys::AccessLogArgs),
    /// Google accounts: connect (OAuth consent), revoke, forget, list; --project for another
    /// project's accounts
    Google(google::GoogleArgs),
    /// Signed webhooks: add an endpoint (its secret shown once), list, remove, deliveries,
    /// rotate-secret, enable; --project for another project's endpoints
    Webhooks(webhooks::WebhooksArgs),
    /// Print a shell completion script: `leadorch completions bash > /etc/bash_completion.d/leadorch`,
    /// `leadorch completions zsh > ~/.zfunc/_leadorch`, `leadorch completions fish >
    /// ~/.config/fish/completions/leadorch.fish`
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Appends events one at a time forever, printing each acknowledged event id (crash tests)
    #[command(hide = true, name = "debug-append-loop")]
    DebugAppendLoop {
        /// Stream to append to
        #[arg(long, default_value = "debug:crash")]
        stream: String,
    },
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches_from(bench::with_help_forwarded(std::env::args_os()));
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.global.on_command_line = globals::on_command_line(&matches);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADORCH_LOG")
                // sqlx's pool warns of every connection a database restart broke and of
                // every request that waited for one meanwhile; a server says the outage
                // itself, once (ADR 0028). `LEADORCH_LOG=warn` shows them.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(
                        "warn,sqlx::pool=error,sqlx_core::pool=error",
                    )
                }),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: a log redirected to a file, a pipe or
        // a service manager gets plain text.
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
    let database = database_of(&cli);
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", name_full_disk(error_line(&e), &database));
            ExitCode::FAILURE
        }
    }
}

/// The database a command works on, for messages (no password): the demo's `--db`, else the
/// global `--database-url`/`DATABASE_URL`, else the default file.
fn database_of(cli: &Cli) -> String {
    let url = match &cli.command {
        Command::Demo(demo::DemoArgs { db: Some(db), .. }) => {
            format!("sqlite://{}", db.display())
        }
        _ => cli
            .global
            .database_url
            .clone()
            .unwrap_or_else(leadorch_store::db::default_database_url),
    };
    leadorch_store::db::redact_url(&url)
}

/// A full disk is reported where the database is not known to the code that hit it (a
/// checkpoint, a key, a read model): name the command's database in the line.
fn name_full_disk(line: String, database: &str) -> String {
    const UNNAMED: &str = "no space left for the database (";
    if line.contains(UNNAMED) {
        line.replace(
            UNNAMED,
            &format!("no space left for the database {database} ("),
        )
    } else {
        line
    }
}

/// The error and its causes on one line, `: `-separated, each said once: an error whose
/// message already ends with its cause's (`cannot read config X: No such file…`) does not
/// repeat it.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Runs one parsed command line.
async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    globals::check(&cli.command, g)?;
    match cli.command {
        Command::Init => init::run(g).await,
        Command::Events(cmd) => events::run(g, cmd).await,
        Command::Audit(cmd) => audit::run(g, cmd).await,
        Command::Replay(args) => replay::run(g, args).await,
        Command::Subjects(args) => subjects::run(g, args).await,
        Command::Retention(cmd) => retention::run(g, cmd).await,
        Command::Seed(args) => seed::run(g, args).await,
        Command::Bench(cmd) => crate::bench::run(g, cmd).await,
        Command::Demo(args) => demo::run(g, args).await,
        Command::Daemon(args) => daemon::run(g, args).await,
        Command::Rules(cmd) => rules::run(g, cmd).await,
        Command::Teams(cmd) => teams::run(g, cmd).await,
        Command::Capacity(cmd) => capacity::run(g, cmd).await,
        Command::Explain(args) => explain::run(g, args).await,
        Command::Status(args) => status::run(g, args).await,
        Command::Serve(args) => serve::run(g, args).await,
        Command::Keys(cmd) => keys::run(g, cmd).await,
        Command::AccessLog(args) => keys::access_log(g, args).await,
        Command::Google(cmd) => google::run(g, cmd).await,
        Command::Webhooks(cmd) => webhooks::run(g, cmd).await,
        Command::Completions { shell } => completions(shell),
        Command::DebugAppendLoop { stream } => debug::append_loop(g, &stream).await,
    }
}

/// Writes the completion script of every command and option for `shell` to standard output.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // clap_complete offers hidden subcommands too: leave the crash tests' loop out.
    let full = Cli::command();
    let mut shown = clap::Command::new("leadorch")
        .about(full.get_about().cloned().unwrap_or_default())
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    clap_complete::generate(shell, &mut shown, "leadorch", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Whether the error is stdout closing under us (`leadorch events list | head`), which ends
/// the command quietly like any Unix tool.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
