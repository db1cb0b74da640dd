//! `leadorch rules [--project NAME] save|list|history|show|diff|rollback|enable|disable|dry-run|backtest|check|test`.
//!
//! Rules are per project (ADR 0030): project `acme`'s rule `capacity_gate` is stored as
//! `acme/capacity_gate`, as the HTTP API stores it; the default project's ids are bare. The
//! commands take and print bare ids and scope them with `--project`. `check` and `test` read
//! no saved rule and open no database, so they take no project (`globals`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use leadorch_core::Engine;
use leadorch_evaluate::backtest::{self, BacktestOptions};
use leadorch_evaluate::dry_run;
use leadorch_evaluate::library::{
    self, load_rule, rule_id_of, save_rule_with, Change, HistoryEntry, RuleSummary, Saved,
};
use leadorch_evaluate::tick::{self, LoadedRule};
use leadorch_rules::RuleHost;
use leadorch_store::Metadata;
use serde_json::json;

use crate::common::{
    actor, as_of, campaign_text, find_lib, host, host_near, host_over, lib_hint, load_config,
    money, open, print_figures, print_table, progress_bar, simulated_facts, time_arg,
    with_lib_hint, Open,
};
use crate::Global;

/// `leadorch rules [--project NAME] …`.
#[derive(Args, Debug)]
pub struct RulesArgs {
    /// The project whose rules these are: another project's rule ids are kept apart from the
    /// default project's (stored as NAME/rule), and its dry runs and backtests see its own
    /// campaigns and teams (check and test read no saved rule: default only)
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub project: String,
    #[command(subcommand)]
    pub cmd: RulesCommand,
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
        /// Folder of shared modules [default: rules/lib, else the built-in library]
        #[arg(long)]
        lib: Option<PathBuf>,
    },
    /// List saved rules: name, version, enabled, priority and scope (of the current
    /// version's header)
    List {
        /// JSON lines
        #[arg(long)]
        json: bool,
    },
    /// What happened to a saved rule, oldest first: each version, enable, disable, rollback,
    /// with when (UTC), by whom and the digest of the source then current
    History {
        /// Rule id
        rule: String,
        /// One JSON object per line (full source digests)
        #[arg(long)]
        json: bool,
    },
    /// Print a saved rule's source (the current version, or --version), nothing else
    Show {
        /// Rule id
        rule: String,
        /// Version to print
        #[arg(long)]
        version: Option<u32>,
    },
    /// Unified diff of two versions of a saved rule (from A to B)
    Diff {
        /// Rule id
        rule: String,
        /// Version to compare from
        a: u32,
        /// Version to compare to
        b: u32,
    },
    /// Record an earlier version's source as a new version (compiled first; the rule stays
    /// enabled or disabled as it is)
    Rollback {
        /// Rule id
        rule: String,
        /// The version whose source becomes current again
        #[arg(long)]
        to: u32,
        /// Folder of shared modules [default: rules/lib, else the built-in library]
        #[arg(long)]
        lib: Option<PathBuf>,
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
        /// Folder of shared modules [default: rules_lib in the configuration, else lib/ in
        /// the first file's folder or the nearest folder above it, else rules/lib, else the
        /// built-in library]
        #[arg(long)]
        lib: Option<PathBuf>,
    },
    /// Run scenario fixtures (facts over time -> expected decisions)
    Test {
        /// Folder of *.toml fixtures, or one fixture file
        #[arg(default_value = "rules/fixtures")]
        path: PathBuf,
        /// Folder of shared modules [default: rules/lib, else the built-in library]
        #[arg(long)]
        lib: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct DryRunArgs {
    /// A saved rule's id, or a .rhai file
    pub rule: String,
    /// Evaluate as of this event time (RFC 3339 or a date) instead of now: the facts are the
    /// world as it was then (only events that had happened by then) and the rule's clock
    /// (local time, business hours, "today") reads it; digits are a log position (the clock
    /// is then the latest event time up to it)
    #[arg(long, visible_alias = "at", value_name = "TIME|POSITION")]
    pub as_of: Option<String>,
    /// Only what the log held at this recorded time (RFC 3339 or a date): events written by
    /// then; without --as-of the rule's clock reads this time
    #[arg(long, value_name = "TIME")]
    pub known_at: Option<String>,
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
    /// Window start, event time (RFC 3339 or a date)
    #[arg(long)]
    pub from: String,
    /// Window end, event time (RFC 3339 or a date)
    #[arg(long)]
    pub to: String,
    /// Only what the log held at this recorded time (RFC 3339 or a date): events written by
    /// then
    #[arg(long, value_name = "TIME")]
    pub known_at: Option<String>,
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

/// "version N" of a saved rule, "from file" for a file (version 0).
fn version_label(rule: &LoadedRule) -> String {
    if rule.version == 0 {
        "from file".to_string()
    } else {
        format!("version {}", rule.version)
    }
}

/// The rule argument as a file, when it names one (else it is a saved rule's id).
fn rule_file(rule: &str) -> Option<&Path> {
    let path = Path::new(rule);
    (rule.ends_with(".rhai") || path.is_file()).then_some(path)
}

/// A rule from a `.rhai` file, or from `project`'s saved rule `rule` (its current version or
/// `version`); named bare either way, as the daemon names its project's rules.
async fn rule_arg(
    engine: &Engine,
    host: &RuleHost,
    project: &str,
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
    let stored = leadorch_domain::project::scoped(project, rule);
    let state = load_rule(engine, &stored).await?;
    if state.current().is_none() {
        bail!(
            "no saved rule {rule:?}{}: give a saved rule's id ({}) or a .rhai file",
            in_project(project),
            list_command(project)
        );
    }
    Ok(library::compile_saved(engine, host, &stored, version).await?)
}

/// " in project acme" outside the default project, for messages.
fn in_project(project: &str) -> String {
    if project == leadorch_domain::project::DEFAULT {
        String::new()
    } else {
        format!(" in project {project}")
    }
}

/// The command that lists `project`'s rules.
fn list_command(project: &str) -> String {
    if project == leadorch_domain::project::DEFAULT {
        "leadorch rules list".to_string()
    } else {
        format!("leadorch rules --project {project} list")
    }
}

pub async fn run(g: &Global, args: RulesArgs) -> Result<ExitCode> {
    let project = args.project.as_str();
    leadorch_domain::project::check_name(project).map_err(|e| anyhow::anyhow!("--project: {e}"))?;
    // Another project's ids carry its prefix in the log (as the HTTP API stores them).
    let scoped = |id: &str| leadorch_domain::project::scoped(project, id);
    match args.cmd {
        RulesCommand::Save { files, enable, lib } => {
            if files.is_empty() {
                bail!("give at least one .rhai file");
            }
            let config = load_config(None)?;
            let (host, found) =
                host_near(lib.as_deref(), &config, files.first().map(PathBuf::as_path))?;
            let engine = open(g, Open::Create).await?;
            for f in files {
                let source = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                let id = rule_id_of(&f)?;
                let saved = save_rule_with(
                    &engine,
                    &host,
                    &scoped(&id),
                    &source,
                    enable,
                    Utc::now(),
                    &Metadata::actor(actor(g)),
                )
                .await
                .with_context(|| format!("{}", f.display()))
                .map_err(|e| with_lib_hint(e, &found))?;
                let what = match saved.saved {
                    Saved::Created => "created",
                    Saved::NewVersion => "new version",
                    Saved::Unchanged => "unchanged",
                };
                outln!(
                    "{id}: {what} (version {}, {})",
                    saved.version,
                    if saved.enabled { "enabled" } else { "disabled" }
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::List { json } => {
            let engine = open(g, Open::Existing).await?;
            let rules = library::list_rules_in(&engine, project).await?;
            if json {
                for r in &rules {
                    let mut line = json!({
                        "id": r.id,
                        "version": r.version,
                        "enabled": r.enabled,
                        "priority": r.priority,
                        "scope": r.scope,
                    });
                    if let Some(e) = &r.header_error {
                        line["header_error"] = json!(e);
                    }
                    outln!("{line}")?;
                }
            } else {
                print_rule_table(&rules)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::History { rule, json } => {
            let engine = open(g, Open::Existing).await?;
            let history = library::rule_history(&engine, &scoped(&rule)).await?;
            if json {
                for e in &history {
                    outln!("{}", history_json(e))?;
                }
            } else {
                print_history(&history)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Show { rule, version } => {
            let engine = open(g, Open::Existing).await?;
            let state = library::saved_rule(&engine, &scoped(&rule)).await?;
            let v = library::rule_version(&state, &rule, version)?;
            write_out(&v.source)?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Diff { rule, a, b } => {
            let engine = open(g, Open::Existing).await?;
            let state = library::saved_rule(&engine, &scoped(&rule)).await?;
            let from = library::rule_version(&state, &rule, Some(a))?;
            let to = library::rule_version(&state, &rule, Some(b))?;
            write_out(&library::diff_versions(&rule, from, to))?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Rollback { rule, to, lib } => {
            let config = load_config(None)?;
            let host = host(lib.as_deref(), &config)?;
            let engine = open(g, Open::Existing).await?;
            let done =
                library::rollback_rule(&engine, &host, &scoped(&rule), to, Utc::now(), &actor(g))
                    .await?;
            outln!(
                "{rule}: rolled back to version {} (now version {}, {})",
                done.to,
                done.version,
                if done.enabled { "enabled" } else { "disabled" }
            )?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Enable { rule } => toggle(g, project, &rule, true).await,
        RulesCommand::Disable { rule } => toggle(g, project, &rule, false).await,
        RulesCommand::Check { files, lib } => {
            let config = load_config(None)?;
            let found = find_lib(lib.as_deref(), &config, files.first().map(PathBuf::as_path))?;
            let host = host_over(found.dir.as_deref(), &config)?;
            let mut bad = 0;
            let mut unknown_module = false;
            for f in &files {
                let checked = check_file(&host, f);
                match &checked.compiled {
                    Ok(rule) => {
                        outln!(
                            "{}: ok (priority {}, triggers {:?})",
                            f.display(),
                            rule.meta.priority,
                            rule.meta.triggers
                        )?;
                        for u in &checked.unknown_facts {
                            eprintln!("warning: {}:{}:{}: {u}", f.display(), u.line, u.column);
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        unknown_module |= checked.unknown_module();
                        outln!("{}: {e}", f.display())?;
                    }
                }
            }
            if unknown_module {
                eprintln!("hint: {}", lib_hint(&found));
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
            let (host, found) = host_near(lib.as_deref(), &config, Some(&path))?;
            let reports = if path.is_dir() {
                leadorch_rules::run_fixture_dir(&host, &path)
            } else {
                leadorch_rules::run_fixture(&host, &path).map(|r| vec![r])
            }
            .map_err(|e| with_lib_hint(e.into(), &found))?;
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
        RulesCommand::DryRun(args) => dry_run(g, project, args).await,
        RulesCommand::Backtest(args) => backtest_cmd(g, project, args).await,
    }
}

/// `rules check FILE`: the file compiled as the rule named after its stem, with the warnings
/// of [`library::check_source`]; a file that cannot be read is its error.
fn check_file(host: &RuleHost, f: &Path) -> library::Checked {
    let name = f
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rule")
        .to_string();
    match std::fs::read_to_string(f) {
        Ok(source) => library::check_source(host, &name, &source),
        Err(e) => library::Checked {
            compiled: Err(leadorch_rules::CompileError {
                rule: name,
                line: None,
                column: None,
                message: format!("cannot read {}: {e}", f.display()),
            }),
            unknown_facts: Vec::new(),
        },
    }
}

/// [`simulated_facts`] for the default project only: the simulated world is one company's
/// (the daemon refuses `--adapter sim` for another project).
async fn sim_facts_for(
    engine: &Engine,
    project: &str,
    config: &mut leadorch_config::Config,
) -> Result<()> {
    if project == leadorch_domain::project::DEFAULT {
        simulated_facts(engine, config).await?;
    }
    Ok(())
}

/// Text exactly as it is (a rule's source, a diff) on standard output.
fn write_out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// `rules list`: a header and one aligned row per rule (nothing when there are none).
fn print_rule_table(rules: &[RuleSummary]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let rows: Vec<[String; 5]> = rules
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.version.to_string(),
                if r.enabled { "yes" } else { "no" }.to_string(),
                r.priority.to_string(),
                match (&r.scope, &r.header_error) {
                    (Some(scope), _) => scope.to_string(),
                    (None, e) => format!("? (header: {})", e.as_deref().unwrap_or("unreadable")),
                },
            ]
        })
        .collect();
    print_table(["NAME", "VERSION", "ENABLED", "PRIORITY", "SCOPE"], &rows)
}

/// What the backtest's columns mean (also in rules/README.md, "Backtests").
const BACKTEST_LEGEND: &str = "\
FLIPS: status changes (pause/resume) the rule would have made / that actually happened.
PAUSED MIN: minutes the campaign would have been / actually was paused.
SPEND AVOIDED: cost recorded while the rule would have had the campaign paused, it ran, and
  its team was full (utilisation at or above 100 %).
LEADS LOST: leads that arrived while the rule would have had the campaign paused and its
  team had room.
SPEND ADDED: estimated cost (the campaign's average hourly cost) while the rule would have
  kept running a campaign that this rule's recorded decisions actually paused. Changes by
  other rules and by people happen in the backtest as they happened.";

/// The time zone times are shown in: the account's (`facts.timezone`), UTC when unreadable.
fn display_zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

/// What a history line says happened.
fn change_text(e: &HistoryEntry) -> String {
    match (e.what, e.rolled_back_to) {
        (Change::RolledBack, Some(to)) => format!("rolled back to v{to}"),
        (Change::NewVersion, _) => "new version".to_string(),
        (what, _) => what.as_str().to_string(),
    }
}

/// `rules history`: a header and one aligned line per event (time in UTC, the first 12
/// characters of the source digest).
fn print_history(history: &[HistoryEntry]) -> Result<()> {
    let rows: Vec<[String; 5]> = history
        .iter()
        .map(|e| {
            [
                e.version.to_string(),
                e.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                e.actor.clone(),
                change_text(e),
                e.source_digest.chars().take(12).collect(),
            ]
        })
        .collect();
    print_table(["VERSION", "AT", "BY", "WHAT", "SOURCE"], &rows)
}

/// `rules history --json`: one object per event.
fn history_json(e: &HistoryEntry) -> serde_json::Value {
    json!({
        "rule": e.rule,
        "position": e.position,
        "version": e.version,
        "at": e.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "recorded_at": e.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "actor": e.actor,
        "what": e.what.as_str(),
        "rolled_back_to": e.rolled_back_to,
        "source_digest": e.source_digest,
    })
}

/// `rules enable|disable RULE`: `project`'s rule `rule` (bare).
async fn toggle(g: &Global, project: &str, rule: &str, enable: bool) -> Result<ExitCode> {
    let engine = open(g, Open::Existing).await?;
    let changed = library::set_enabled(
        &engine,
        &leadorch_domain::project::scoped(project, rule),
        enable,
        Utc::now(),
        &Metadata::actor(actor(g)),
    )
    .await?;
    outln!(
        "{rule}: {}{}",
        if changed { "" } else { "already " },
        if enable { "enabled" } else { "disabled" }
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `rules dry-run`: over `project`'s campaigns and teams.
async fn dry_run(g: &Global, project: &str, args: DryRunArgs) -> Result<ExitCode> {
    let mut config = load_config(args.config.as_deref())?;
    let (host, found) = host_near(None, &config, rule_file(&args.rule))?;
    let engine = open(g, Open::Existing).await?;
    sim_facts_for(&engine, project, &mut config).await?;
    let rule = rule_arg(&engine, &host, project, &args.rule, None)
        .await
        .map_err(|e| with_lib_hint(e, &found))?;
    let as_of = as_of(&engine, args.as_of.as_deref(), args.known_at.as_deref()).await?;
    let done = dry_run::dry_run(
        &engine,
        &host,
        project,
        rule,
        as_of,
        &config.facts,
        &config.policy(),
        Utc::now(),
    )
    .await?;
    let (rule, at, as_of, outcome) = (&done.rule, done.at, &done.as_of, &done.outcome);
    let run = done.run();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "rule": rule.id,
                "version": rule.version,
                "at": at,
                "known_at": as_of.known_at,
                "until_position": as_of.until,
                "facts_digest": outcome.facts_digest,
                "run": tick::run_record(rule, run),
                "resolution": outcome.resolution,
            }))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "dry run of {} ({}) at {}{}: {} campaign(s) in scope; nothing is recorded or applied",
        rule.id,
        version_label(rule),
        at.to_rfc3339(),
        match (as_of.known_at, as_of.position) {
            (None, None) => String::new(),
            _ => format!(" over the log {}", as_of.describe()),
        },
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

/// `rules backtest`: over `project`'s campaigns and teams.
async fn backtest_cmd(g: &Global, project: &str, args: BacktestArgs) -> Result<ExitCode> {
    let mut config = load_config(args.config.as_deref())?;
    let (host, found) = host_near(None, &config, rule_file(&args.rule))?;
    let engine = open(g, Open::Existing).await?;
    sim_facts_for(&engine, project, &mut config).await?;
    let rule = rule_arg(&engine, &host, project, &args.rule, args.version)
        .await
        .map_err(|e| with_lib_hint(e, &found))?;
    let from: DateTime<Utc> = time_arg("--from", &args.from)?;
    let to: DateTime<Utc> = time_arg("--to", &args.to)?;
    let known = as_of(&engine, None, args.known_at.as_deref()).await?;
    if to <= from {
        bail!("--to ({}) must be after --from ({})", args.to, args.from);
    }
    let head = engine.store.log.head().await?;
    let bar = progress_bar(head.position, "backtesting");
    let opts = BacktestOptions {
        rule: rule.clone(),
        project,
        from,
        to,
        facts: &config.facts,
        policy: config.policy(),
        default_every: config.default_every(),
        until: known.until,
        reuse: config.evaluation.reuse,
    };
    let report = backtest::run(&engine, &host, &opts, &mut |p| bar.set_position(p)).await?;
    bar.finish_and_clear();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let zone = display_zone(&config.facts.timezone);
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string();
    outln!(
        "backtest of {} ({}, source {}) from {} to {} ({}): {} evaluations over {} events",
        rule.id,
        version_label(&rule),
        &report.source_digest[..12.min(report.source_digest.len())],
        local(from),
        local(to),
        zone.name(),
        report.evaluations,
        report.events
    )?;
    if known.known_at.is_some() {
        outln!("over the log {}", known.describe())?;
    }
    if report.timeline.is_empty() {
        outln!("the rule would have changed nothing in this window")?;
    } else {
        outln!()?;
        let rows: Vec<[String; 4]> = report
            .timeline
            .iter()
            .map(|t| {
                [
                    local(t.at),
                    t.action.clone(),
                    campaign_text(&t.campaign, &t.campaign_name),
                    t.reason.clone(),
                ]
            })
            .collect();
        print_table(["TIME", "ACTION", "CAMPAIGN", "REASON"], &rows)?;
    }
    outln!()?;
    let mut rows: Vec<[String; 8]> = report
        .campaigns
        .iter()
        .chain(std::iter::once((&"total".to_string(), &report.totals)))
        .map(|(id, f)| {
            [
                if id == "total" && f.name.is_empty() {
                    "total".to_string()
                } else {
                    campaign_text(id, &f.name)
                },
                f.flips_backtest.to_string(),
                f.flips_actual.to_string(),
                format!("{:.0}", f.minutes_paused_backtest),
                format!("{:.0}", f.minutes_paused_actual),
                money(f.spend_avoided_micros),
                f.leads_lost.to_string(),
                money(f.spend_added_micros),
            ]
        })
        .collect();
    if rows.len() == 1 {
        rows.clear();
    }
    print_figures(
        [
            "CAMPAIGN",
            "FLIPS RULE",
            "FLIPS ACTUAL",
            "PAUSED MIN RULE",
            "PAUSED MIN ACTUAL",
            "SPEND AVOIDED",
            "LEADS LOST",
            "SPEND ADDED",
        ],
        &rows,
    )?;
    outln!()?;
    outln!("{BACKTEST_LEGEND}")?;
    if report.failures > 0 {
        outln!("the rule failed in {} evaluation(s)", report.failures)?;
    }
    Ok(ExitCode::SUCCESS)
}
