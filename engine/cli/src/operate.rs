//! Commands that operate the engine: `demo`, `daemon`, `rules …`, `explain`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdsAdapter, SimAdapter};
use leadorch_daemon::backtest::{self, BacktestOptions};
use leadorch_daemon::demo::{self, DemoOptions, ViewLine};
use leadorch_daemon::library::{load_rule, rule_id_of, save_rule, Saved};
use leadorch_daemon::tick::{self, LoadedRule};
use leadorch_daemon::{explain as explain_mod, Daemon, DaemonConfig};
use leadorch_rules::RuleHost;
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::{db, Metadata, StoreConfig};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::commands::{actor, open, parse_time, progress_bar};
use crate::Global;

/// The demo's default start: Monday 2 March 2026, 07:00 in Amsterdam.
const DEMO_START: &str = "2026-03-02T06:00:00Z";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Stop after this many simulated minutes and print the summary (Ctrl-C stops early
    /// with the summary so far) [default: 600, a working day from 07:00]
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

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Configuration file (TOML); LEADORCH__SECTION__KEY variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Ads platform: `sim` runs the built-in simulated account in real time beside the
    /// daemon; `google` acts on the Google Ads customers of the [google] config section with
    /// the grant stored by `leadorch google connect`
    #[arg(long, default_value = "sim")]
    pub adapter: String,
    /// Run one cycle and exit
    #[arg(long)]
    pub once: bool,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Compile and save rule files as new rules or new versions (refused with line and
    /// column when they do not compile)
    Save {
        /// Rule files (*.rhai); the rule id is the file name without .rhai
        files: Vec<PathBuf>,
        /// Enable the rules too (new rules start disabled)
        #[arg(long)]
        enable: bool,
        /// Folder of shared modules [default: rules/lib]
        #[arg(long)]
        lib: Option<PathBuf>,
    },
    /// List saved rules
    List {
        /// JSON lines
        #[arg(long)]
        json: bool,
    },
    /// Let a saved rule act
    Enable {
        /// Rule id
        rule: String,
    },
    /// Stop a saved rule from acting
    Disable {
        /// Rule id
        rule: String,
    },
    /// Evaluate a rule against the current state; nothing is recorded or applied
    DryRun(DryRunArgs),
    /// Replay recorded history through a rule version and report what it would have done
    Backtest(BacktestArgs),
    /// Compile rule files and report errors with line and column
    Check {
        /// Rule files
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Folder of shared modules [default: rules/lib]
        #[arg(long)]
        lib: Option<PathBuf>,
    },
    /// Run scenario fixtures (facts over time -> expected decisions)
    Test {
        /// Folder of *.toml fixtures, or one fixture file
        #[arg(default_value = "rules/fixtures")]
        path: PathBuf,
        /// Folder of shared modules [default: rules/lib]
        #[arg(long)]
        lib: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct DryRunArgs {
    /// A saved rule's id, or a .rhai file
    pub rule: String,
    /// The time the rule sees (local time, business hours, "today"; RFC 3339) instead of
    /// now; the state is always the current one (for the past, use `rules backtest`)
    #[arg(long)]
    pub at: Option<String>,
    /// Configuration file (facts settings, policy)
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// A saved rule's id (its current version, or --version), or a .rhai file
    pub rule: String,
    /// Window start (RFC 3339 or a date)
    #[arg(long)]
    pub from: String,
    /// Window end (RFC 3339 or a date)
    #[arg(long)]
    pub to: String,
    /// Version of a saved rule
    #[arg(long)]
    pub version: Option<u32>,
    /// Configuration file (facts settings, policy)
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Campaign id (customer/campaign) or exact name
    pub campaign: String,
    /// As of this time (RFC 3339) instead of now
    #[arg(long)]
    pub at: Option<String>,
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

fn load_config(path: Option<&Path>) -> Result<DaemonConfig> {
    Ok(DaemonConfig::load(path, std::env::vars())?)
}

fn host(lib: Option<&Path>, config: &DaemonConfig) -> Result<RuleHost> {
    let lib = lib
        .map(Path::to_path_buf)
        .or_else(|| config.rules_lib.clone())
        .unwrap_or_else(|| PathBuf::from("rules/lib"));
    let dir = lib.is_dir().then_some(lib.as_path());
    RuleHost::new(dir, config.limits())
        .with_context(|| format!("loading the rules library {}", lib.display()))
}

fn money(micros: i64) -> String {
    let units = micros as f64 / 1e6;
    let whole = units.trunc() as i64;
    let cents = ((units - whole as f64).abs() * 100.0).round() as i64;
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{cents:02}", if micros < 0 { "-" } else { "" })
}

fn per_lead(spend_micros: i64, leads: u64) -> i64 {
    if leads == 0 {
        0
    } else {
        spend_micros / leads as i64
    }
}

pub async fn demo(_g: &Global, args: DemoArgs) -> Result<ExitCode> {
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

pub async fn daemon(g: &Global, args: DaemonArgs) -> Result<ExitCode> {
    if args.adapter != "sim" && args.adapter != "google" {
        bail!(
            "unknown --adapter {:?}: use `sim` (the built-in simulated account) or `google`",
            args.adapter
        );
    }
    let mut config = load_config(args.config.as_deref())?;
    let mut global = g.clone();
    if global.database_url.is_none() && !config.database_url.is_empty() {
        global.database_url = Some(config.database_url.clone());
    }
    let engine = open(&global).await?;
    if config.actor.is_empty() {
        config.actor = "daemon".into();
    }
    let host = Arc::new(host(None, &config)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The platform, what to call it, and (for the simulator) the world running beside it.
    let (adapter, platform, world): (Arc<dyn AdsAdapter>, String, Option<JoinHandle<()>>) =
        if args.adapter == "google" {
            let platform = format!(
                "Google Ads account {} (customers {})",
                config.google.account,
                config.google.customers.join(", ")
            );
            (
                crate::google::adapter(&engine, &config).await?,
                platform,
                None,
            )
        } else {
            // The simulated account runs in real time beside the daemon: one simulated minute
            // per minute, its leads, capacity and metrics recorded as they happen.
            let sim_config = SimConfig::demo(Utc::now(), 7);
            if config.facts.timezone == "UTC" {
                config.facts.timezone = sim_config.timezone.clone();
            }
            let sim = Arc::new(Mutex::new(
                Simulator::new(sim_config).map_err(|e| anyhow::anyhow!("simulator: {e}"))?,
            ));
            let world = (!args.once).then(|| sim_world(&engine, &sim, stop_rx.clone()));
            (
                Arc::new(SimAdapter::new(sim)),
                "the simulated account".to_string(),
                world,
            )
        };
    if args.once {
        let mut d = Daemon::start(engine.clone(), host, adapter, config).await?;
        let report = d.step(Utc::now()).await?;
        outln!("{}", serde_json::to_string(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    eprintln!(
        "leadorch daemon: {} with {platform}; SIGTERM or Ctrl-C stops after the current step",
        db::redact_url(
            &global
                .database_url
                .clone()
                .unwrap_or_else(db::default_database_url)
        )
    );
    let mut on_step = |r: &leadorch_daemon::StepReport| {
        for e in &r.evaluations {
            for p in &e.accepted {
                tracing::info!(evaluation = %e.id, rule = %p.rule, campaign = %p.campaign, action = p.decision.action.name(), "accepted");
            }
        }
    };
    let result = Daemon::run(engine, host, adapter, config, stop_rx, &mut on_step).await;
    if let Some(world) = world {
        world.abort();
    }
    result?;
    eprintln!("leadorch daemon: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Advances the simulated account one minute per minute and records what happens in it,
/// until `stop` fires.
fn sim_world(
    engine: &Engine,
    sim: &Arc<Mutex<Simulator>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    let engine = engine.clone();
    let sim = sim.clone();
    tokio::spawn(async move {
        let ingest = Metadata::actor("sim");
        loop {
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(60)) => {}
                _ = stop.changed() => return,
            }
            let events = match sim.lock() {
                Ok(mut s) => s.advance(1),
                Err(_) => return,
            };
            for e in events {
                if let Err(e) = demo::ingest_event(&engine, &ingest, e).await {
                    tracing::warn!(error = %e, "recording a simulator event failed");
                }
            }
        }
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// "version N" of a saved rule, "from file" for a file (version 0).
fn version_label(rule: &LoadedRule) -> String {
    if rule.version == 0 {
        "from file".to_string()
    } else {
        format!("version {}", rule.version)
    }
}

/// A rule from a saved id (current or given version) or a `.rhai` file.
async fn rule_arg(
    engine: &Engine,
    host: &RuleHost,
    rule: &str,
    version: Option<u32>,
) -> Result<Arc<LoadedRule>> {
    let path = Path::new(rule);
    if rule.ends_with(".rhai") || path.is_file() {
        let source = std::fs::read_to_string(path).with_context(|| format!("reading {rule}"))?;
        let id = rule_id_of(path)?;
        let compiled = host.compile(&id, &source)?;
        return Ok(Arc::new(LoadedRule {
            id,
            version: 0,
            compiled,
        }));
    }
    let state = load_rule(engine, rule).await?;
    if state.current().is_none() {
        bail!(
            "no saved rule {rule:?}: give a saved rule's id (leadorch rules list) or a .rhai file"
        );
    }
    let v = match version {
        Some(n) => state
            .versions()
            .iter()
            .find(|v| v.version == n)
            .with_context(|| format!("rule {rule} has no version {n}"))?,
        None => state.current().context("rule has no version")?,
    };
    let compiled = host.compile(rule, &v.source)?;
    Ok(Arc::new(LoadedRule {
        id: rule.to_string(),
        version: v.version,
        compiled,
    }))
}

pub async fn rules(g: &Global, cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Save { files, enable, lib } => {
            if files.is_empty() {
                bail!("give at least one .rhai file");
            }
            let config = load_config(None)?;
            let host = host(lib.as_deref(), &config)?;
            let engine = open(g).await?;
            for f in files {
                let source = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                let id = rule_id_of(&f)?;
                let saved = save_rule(&engine, &host, &id, &source, enable, Utc::now(), &actor(g))
                    .await
                    .with_context(|| format!("{}", f.display()))?;
                let what = match saved {
                    Saved::Created => "created",
                    Saved::NewVersion => "new version",
                    Saved::Unchanged => "unchanged",
                };
                let state = load_rule(&engine, &id).await?;
                outln!(
                    "{id}: {what} (version {}, {})",
                    state.current().map_or(0, |v| v.version),
                    if state.is_enabled() {
                        "enabled"
                    } else {
                        "disabled"
                    }
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::List { json } => {
            let engine = open(g).await?;
            let p = leadorch_core::projection::catch_up(&engine.store).await?;
            for (id, doc) in p.rules.iter() {
                let r = &doc.state;
                if r.deleted_at().is_some() {
                    continue;
                }
                let v = r.current().map_or(0, |v| v.version);
                if json {
                    outln!(
                        "{}",
                        json!({"id": id, "version": v, "enabled": r.is_enabled(), "priority": r.priority()})
                    )?;
                } else {
                    outln!(
                        "{id}  v{v}  {}",
                        if r.is_enabled() {
                            "enabled"
                        } else {
                            "disabled"
                        }
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Enable { rule } => toggle(g, &rule, true).await,
        RulesCommand::Disable { rule } => toggle(g, &rule, false).await,
        RulesCommand::Check { files, lib } => {
            let config = load_config(None)?;
            let host = host(lib.as_deref(), &config)?;
            let mut bad = 0;
            for f in &files {
                match leadorch_rules::check_rule_file(&host, f) {
                    Ok(rule) => outln!(
                        "{}: ok (priority {}, triggers {:?})",
                        f.display(),
                        rule.meta.priority,
                        rule.meta.triggers
                    )?,
                    Err(e) => {
                        bad += 1;
                        outln!("{}: {e}", f.display())?;
                    }
                }
            }
            if bad > 0 {
                eprintln!(
                    "error: {bad} of {} rule file(s) do not compile",
                    files.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test { path, lib } => {
            let config = load_config(None)?;
            let lib = lib.or_else(|| {
                let guess = if path.is_dir() {
                    path.join("../lib")
                } else {
                    path.parent().map(|p| p.join("../lib")).unwrap_or_default()
                };
                guess.is_dir().then_some(guess)
            });
            let host = host(lib.as_deref(), &config)?;
            let reports = if path.is_dir() {
                leadorch_rules::run_fixture_dir(&host, &path)?
            } else {
                vec![leadorch_rules::run_fixture(&host, &path)?]
            };
            let mut failed = 0;
            for r in &reports {
                if r.failures.is_empty() {
                    outln!("ok    {} ({} steps)", r.path.display(), r.steps)?;
                } else {
                    failed += 1;
                    outln!("FAIL  {} ({} steps)", r.path.display(), r.steps)?;
                    for f in &r.failures {
                        outln!("      {f}")?;
                    }
                }
            }
            outln!("{} fixture(s), {} failed", reports.len(), failed)?;
            Ok(if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        RulesCommand::DryRun(args) => dry_run(g, args).await,
        RulesCommand::Backtest(args) => backtest_cmd(g, args).await,
    }
}

async fn toggle(g: &Global, rule: &str, enable: bool) -> Result<ExitCode> {
    let engine = open(g).await?;
    let command = if enable {
        leadorch_domain::RuleCommand::Enable { at: Utc::now() }
    } else {
        leadorch_domain::RuleCommand::Disable { at: Utc::now() }
    };
    engine
        .execute::<leadorch_domain::Rule>(rule, command, &Metadata::actor(actor(g)))
        .await?;
    outln!("{rule}: {}", if enable { "enabled" } else { "disabled" })?;
    Ok(ExitCode::SUCCESS)
}

async fn dry_run(g: &Global, args: DryRunArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let host = host(None, &config)?;
    let engine = open(g).await?;
    let rule = rule_arg(&engine, &host, &args.rule, None).await?;
    let at = match &args.at {
        Some(t) => parse_time(t)?,
        None => Utc::now(),
    };
    let view = leadorch_daemon::facts::FactsView::load(&engine).await?;
    let facts = view.facts(at, &config.facts);
    let outcome = tick::evaluate(&host, std::slice::from_ref(&rule), facts, &config.policy());
    let run = &outcome.runs[0].1;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "rule": rule.id,
                "version": rule.version,
                "at": at,
                "facts_digest": outcome.facts_digest,
                "run": tick::run_record(&rule, run),
                "resolution": outcome.resolution,
            }))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "dry run of {} ({}) at {}: {} campaign(s) in scope; nothing is recorded or applied",
        rule.id,
        version_label(&rule),
        at.to_rfc3339(),
        run.evaluated
    )?;
    for p in &outcome.resolution.accepted {
        outln!(
            "would {:<14} {}  {}",
            p.decision.action.name(),
            p.campaign,
            p.decision.reason
        )?;
    }
    for s in &outcome.resolution.suppressed {
        outln!(
            "held  {:<14} {}  {} ({})",
            s.proposal.decision.action.name(),
            s.proposal.campaign,
            s.proposal.decision.reason,
            serde_json::to_string(&s.why)?
        )?;
    }
    for f in &run.failures {
        outln!("failed for {}: {}", f.campaign, f.error)?;
    }
    if let Some(e) = &run.aborted {
        outln!("stopped: {e}")?;
    }
    for l in &run.logs {
        outln!("print [{}]: {}", l.campaign, l.line)?;
    }
    if outcome.resolution.accepted.is_empty() && outcome.resolution.suppressed.is_empty() {
        outln!("no decisions")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn backtest_cmd(g: &Global, args: BacktestArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let host = host(None, &config)?;
    let engine = open(g).await?;
    let rule = rule_arg(&engine, &host, &args.rule, args.version).await?;
    let from: DateTime<Utc> = parse_time(&args.from)?;
    let to: DateTime<Utc> = parse_time(&args.to)?;
    if to <= from {
        bail!("--to ({}) must be after --from ({})", args.to, args.from);
    }
    let head = engine.store.log.head().await?;
    let bar = progress_bar(head.position, "backtesting");
    let opts = BacktestOptions {
        rule: rule.clone(),
        from,
        to,
        facts: &config.facts,
        policy: config.policy(),
        default_every: config.default_every(),
    };
    let report = backtest::run(&engine, &host, &opts, &mut |p| bar.set_position(p)).await?;
    bar.finish_and_clear();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "backtest of {} ({}, source {}) from {} to {}: {} evaluations over {} events",
        rule.id,
        version_label(&rule),
        &report.source_digest[..12.min(report.source_digest.len())],
        from.to_rfc3339(),
        to.to_rfc3339(),
        report.evaluations,
        report.events
    )?;
    for t in &report.timeline {
        outln!(
            "{}  {:<14} {}  {}",
            t.at.to_rfc3339(),
            t.action,
            t.campaign,
            t.reason
        )?;
    }
    outln!()?;
    outln!(
        "{:<28} {:>7} {:>7} {:>10} {:>10} {:>13} {:>10} {:>13}",
        "campaign",
        "flips",
        "actual",
        "paused min",
        "actual min",
        "spend avoided",
        "leads lost",
        "spend added"
    )?;
    let mut rows: Vec<(&String, &backtest::CampaignFigures)> = report.campaigns.iter().collect();
    let total = ("total".to_string(), report.totals.clone());
    rows.push((&total.0, &total.1));
    for (id, f) in rows {
        outln!(
            "{:<28} {:>7} {:>7} {:>10.0} {:>10.0} {:>13} {:>10} {:>13}",
            id,
            f.flips_backtest,
            f.flips_actual,
            f.minutes_paused_backtest,
            f.minutes_paused_actual,
            money(f.spend_avoided_micros),
            f.leads_lost,
            money(f.spend_added_micros)
        )?;
    }
    if report.failures > 0 {
        outln!("the rule failed in {} evaluation(s)", report.failures)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn explain(g: &Global, args: ExplainArgs) -> Result<ExitCode> {
    let engine = open(g).await?;
    let at = args.at.as_deref().map(parse_time).transpose()?;
    let id = explain_mod::resolve_campaign(&engine, &args.campaign).await?;
    let x = explain_mod::explain(&engine, &id, at).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&x)?)?;
    } else {
        outln!("{}", explain_mod::render(&x).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
