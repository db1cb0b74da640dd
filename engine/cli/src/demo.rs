//! `leadorch demo`: the simulator, the daemon and the example rules together on an accelerated
//! clock, with a live view and a summary against the same world with the rules disabled.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;
use leadorch_core::Engine;
use leadorch_daemon::demo::{self, DemoOptions, DemoSummary, ViewLine};
use leadorch_store::{db, StoreConfig};

use crate::common::{load_config, money, parse_time};
use crate::Global;

/// The demo's default start: Monday 2 March 2026, 07:00 in Amsterdam.
const DEMO_START: &str = "2026-03-02T06:00:00Z";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Stop after this many simulated minutes and print the summary (Ctrl-C stops early
    /// with the summary so far); 600 is a working day from 07:00
    #[arg(long, default_value_t = 600)]
    pub minutes: u64,
    /// Simulated start (RFC 3339)
    #[arg(long, default_value = DEMO_START)]
    pub start: String,
    /// Simulator seed; the same seed gives the same run
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Folder of the rules to run (every *.rhai in it)
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Folder of the rules' shared modules [default: <rules>/lib, else the built-in library]
    #[arg(long)]
    pub lib: Option<PathBuf>,
    /// SQLite file to write (must not exist); or name the database with --database-url (it
    /// must hold no events) [default: a new demo-<time>.db in the data folder]
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Simulated minutes between status lines
    #[arg(long, default_value_t = 30)]
    pub view_every: u64,
    /// Simulated minutes per real second (0: as fast as possible)
    #[arg(long, default_value_t = 0.0)]
    pub speed: f64,
    /// Print only the summary, as JSON
    #[arg(long)]
    pub json: bool,
    /// Daemon configuration (policy, calendars); see docs/leadorch.example.toml
    #[arg(long)]
    pub config: Option<PathBuf>,
}

fn per_lead(spend_micros: i64, leads: u64) -> i64 {
    if leads == 0 {
        0
    } else {
        spend_micros / leads as i64
    }
}

/// Where the demo writes: `--db PATH` (a new SQLite file), `--database-url URL` (an empty
/// database, created when missing), else a new `demo-<time>.db` in the data folder.
fn target(g: &Global, args: &DemoArgs) -> Result<StoreConfig> {
    // `--db` on the command line beats a DATABASE_URL standing in the environment; both
    // flags on one command line are a contradiction.
    let url_flag = g.on_command_line.contains(&"--database-url");
    let url = match (&args.db, &g.database_url) {
        (Some(_), Some(url)) if url_flag => bail!(
            "both --db and --database-url ({}) name the demo's database: give one",
            db::redact_url(url)
        ),
        (Some(p), Some(_)) | (Some(p), None) if p.exists() => bail!(
            "{} exists: the demo writes a fresh database; pick a new --db path",
            p.display()
        ),
        (Some(p), Some(_)) => format!("sqlite://{}", p.display()),
        (Some(p), None) => {
            if p.exists() {
                bail!(
                    "{} exists: the demo writes a fresh database; pick a new --db path",
                    p.display()
                );
            }
            format!("sqlite://{}", p.display())
        }
        (None, Some(url)) => url.clone(),
        (None, None) => {
            let dir = db::default_data_dir();
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the data folder {}", dir.display()))?;
            let path = dir.join(format!("demo-{}.db", Utc::now().format("%Y%m%d-%H%M%S")));
            format!("sqlite://{}", path.display())
        }
    };
    let mut config = StoreConfig::new(url);
    config.master_key_file = g.master_key_file.clone();
    Ok(config)
}

pub async fn run(g: &Global, args: DemoArgs) -> Result<ExitCode> {
    let start = parse_time(&args.start)?;
    if !args.rules.is_dir() {
        bail!(
            "rules folder {} not found: run from the repository root or pass --rules DIR",
            args.rules.display()
        );
    }
    // --lib, else <rules>/lib, else the library built into leadorch.
    let lib = match &args.lib {
        Some(dir) => Some(dir.clone()),
        None => Some(args.rules.join("lib")).filter(|dir| dir.is_dir()),
    };
    let config = load_config(args.config.as_deref())?;
    let store = target(g, &args)?;
    let shown = db::redact_url(&store.database_url);
    let engine = Engine::open(&store)
        .await
        .with_context(|| format!("creating the demo database {shown}"))?;
    let head = engine.store.log.head().await?.position;
    if head > 0 {
        bail!(
            "the database {shown} already holds {head} events: the demo writes a fresh history; \
             point --database-url at a new or empty database (or use --db NEW.db)"
        );
    }
    leadorch_core::synthetic::mark(&engine, "demo", args.seed, start).await?;
    let pace = if args.speed > 0.0 {
        StdDuration::from_secs_f64(1.0 / args.speed)
    } else {
        StdDuration::ZERO
    };
    let opts = DemoOptions {
        minutes: args.minutes,
        start,
        seed: args.seed,
        rules_dir: args.rules.clone(),
        lib_dir: lib,
        view_every: args.view_every,
        pace,
        config,
        actor: g.actor.clone().unwrap_or_else(|| "demo".to_string()),
        stop: Arc::default(),
    };
    {
        // Ctrl-C ends the run early with the summary so far.
        let stop = opts.stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    if !args.json {
        outln!(
            "leadorch demo: {} simulated minutes from {} (seed {}), rules from {}",
            args.minutes,
            start.to_rfc3339(),
            args.seed,
            args.rules.display()
        )?;
        outln!("database: {shown}")?;
    }
    let quiet = args.json;
    let mut view = move |line: ViewLine| {
        if quiet {
            return;
        }
        let text = match line {
            ViewLine::Status(s) | ViewLine::Decision(s) => s,
        };
        let _ = outln!("{text}");
    };
    let summary = demo::run(&engine, &opts, &mut view).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_summary(&summary)?;
    let end = start + chrono::Duration::minutes(summary.minutes as i64);
    // The other commands show times in the configured time zone: name the demo's.
    let mut prefix = format!("LEADORCH__FACTS__TIMEZONE={} leadorch", summary.timezone);
    prefix.push_str(&format!(" --database-url {shown}"));
    if let Some(key) = &g.master_key_file {
        prefix.push_str(&format!(" --master-key-file {}", key.display()));
    }
    outln!(
        "explore what it recorded (times in {}, as above):",
        summary.timezone
    )?;
    outln!("  {prefix} explain \"NL Generic\"")?;
    outln!(
        "  {prefix} rules backtest capacity_gate --from {} --to {}",
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;
    outln!("  {prefix} events list --type EvaluationRecorded --limit 5")?;
    Ok(ExitCode::SUCCESS)
}

/// The summary: every lead and every unit of spend of both runs, the difference split into
/// the same parts (each group's indented rows add up to its first row), then what each rule
/// did.
fn print_summary(summary: &DemoSummary) -> Result<()> {
    let w = &summary.with_rules;
    let o = &summary.without_rules;
    outln!()?;
    outln!(
        "summary after {} simulated minutes ({} rules: {})",
        summary.minutes,
        summary.rules.len(),
        summary.rules.join(", ")
    )?;
    outln!(
        "{:<38} {:>14} {:>14} {:>14}",
        "",
        "with rules",
        "rules disabled",
        "difference"
    )?;
    let count = |name: &str, a: u64, b: u64| {
        (
            name.to_string(),
            a.to_string(),
            b.to_string(),
            format!("{:+}", a as i64 - b as i64),
        )
    };
    let spend = |name: &str, a: i64, b: i64| {
        let d = a - b;
        (
            name.to_string(),
            money(a),
            money(b),
            format!("{}{}", if d > 0 { "+" } else { "" }, money(d)),
        )
    };
    let rows = vec![
        count("leads received", w.leads, o.leads),
        count("  worked", w.leads_worked, o.leads_worked),
        count("  still open at the end", w.leads_open, o.leads_open),
        count(
            "  could not be worked (expired)",
            w.leads_expired,
            o.leads_expired,
        ),
        spend("spend", w.spend_micros, o.spend_micros),
        spend(
            "  on leads worked",
            w.spend_on_worked_micros,
            o.spend_on_worked_micros,
        ),
        spend(
            "  on leads still open",
            w.spend_on_open_micros,
            o.spend_on_open_micros,
        ),
        spend(
            "  on leads that could not be worked",
            w.spend_on_expired_micros,
            o.spend_on_expired_micros,
        ),
        spend(
            "  on clicks that brought no lead",
            w.spend_without_lead_micros,
            o.spend_without_lead_micros,
        ),
        count("clicks", w.clicks, o.clicks),
        spend(
            "spend per lead worked",
            per_lead(w.spend_micros, w.leads_worked),
            per_lead(o.spend_micros, o.leads_worked),
        ),
        count("campaign status changes", w.status_flips, o.status_flips),
    ];
    for (name, a, b, d) in rows {
        outln!("{name:<38} {a:>14} {b:>14} {d:>14}")?;
    }
    outln!("(difference = with rules - rules disabled; a spend is the cost of its clicks)")?;
    outln!("what each rule did (decisions accepted):")?;
    let width = summary
        .accepted_by_rule
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0);
    for (rule, accepted) in &summary.accepted_by_rule {
        outln!("  {rule:<width$} {accepted:>6}")?;
    }
    outln!(
        "evaluations: {}, changes applied: {}, proposals held back: {}, rule failures: {}",
        summary.evaluations,
        summary.changes_applied,
        summary.suppressed,
        summary.rule_failures
    )?;
    Ok(())
}
