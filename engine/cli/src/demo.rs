//! `leadorch demo`: the simulator, the daemon and the example rules together on an accelerated
//! clock, with a live view and a summary against the same world without rules.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;
use leadorch_core::Engine;
use leadorch_daemon::demo::{self, DemoOptions, ViewLine};
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
    /// Folder of the rules' shared modules [default: <rules>/lib]
    #[arg(long)]
    pub lib: Option<PathBuf>,
    /// SQLite file to write (must not exist) [default: a new demo-<time>.db in the data
    /// folder]
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

pub async fn run(_g: &Global, args: DemoArgs) -> Result<ExitCode> {
    let start = parse_time(&args.start)?;
    if !args.rules.is_dir() {
        bail!(
            "rules folder {} not found: run from the repository root or pass --rules DIR",
            args.rules.display()
        );
    }
    let lib = args.lib.clone().unwrap_or_else(|| args.rules.join("lib"));
    let path = match &args.db {
        Some(p) => {
            if p.exists() {
                bail!(
                    "{} exists: the demo writes a fresh database; pick a new --db path",
                    p.display()
                );
            }
            p.clone()
        }
        None => {
            let dir = db::default_data_dir();
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the data folder {}", dir.display()))?;
            dir.join(format!("demo-{}.db", Utc::now().format("%Y%m%d-%H%M%S")))
        }
    };
    let url = format!("sqlite://{}", path.display());
    let engine = Engine::open(&StoreConfig::new(url.clone()))
        .await
        .with_context(|| format!("creating the demo database {}", path.display()))?;
    leadorch_core::synthetic::mark(&engine, "demo", args.seed, start).await?;
    let config = load_config(args.config.as_deref())?;
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
        outln!("database: {}", path.display())?;
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
    let w = &summary.with_rules;
    let o = &summary.without_rules;
    outln!()?;
    outln!(
        "summary after {} simulated minutes ({} rules: {})",
        summary.minutes,
        summary.rules.len(),
        summary.rules.join(", ")
    )?;
    outln!("{:<40} {:>14} {:>14}", "", "with rules", "rules disabled")?;
    let rows: Vec<(&str, String, String)> = vec![
        ("spend", money(w.spend_micros), money(o.spend_micros)),
        ("clicks", w.clicks.to_string(), o.clicks.to_string()),
        ("leads", w.leads.to_string(), o.leads.to_string()),
        (
            "leads worked",
            w.leads_worked.to_string(),
            o.leads_worked.to_string(),
        ),
        (
            "leads the team could not work",
            w.leads_expired.to_string(),
            o.leads_expired.to_string(),
        ),
        (
            "spend on leads the team could not work",
            money(w.spend_on_expired_micros),
            money(o.spend_on_expired_micros),
        ),
        (
            "spend per lead worked",
            money(per_lead(w.spend_micros, w.leads_worked)),
            money(per_lead(o.spend_micros, o.leads_worked)),
        ),
        (
            "status flips",
            w.status_flips.to_string(),
            o.status_flips.to_string(),
        ),
    ];
    for (name, a, b) in rows {
        outln!("{name:<40} {a:>14} {b:>14}")?;
    }
    outln!(
        "evaluations: {}, changes applied: {}, proposals held back: {}, rule failures: {}",
        summary.evaluations,
        summary.changes_applied,
        summary.suppressed,
        summary.rule_failures
    )?;
    let end = start + chrono::Duration::minutes(summary.minutes as i64);
    outln!("explore what it recorded:")?;
    outln!("  leadorch --database-url {url} explain \"NL Generic\"")?;
    outln!(
        "  leadorch --database-url {url} rules backtest capacity_gate --from {} --to {}",
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;
    outln!("  leadorch --database-url {url} events list --type EvaluationRecorded --limit 5")?;
    Ok(ExitCode::SUCCESS)
}
