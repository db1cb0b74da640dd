//! `leadorch capacity sources`: the health of the capacity sources the daemon polls
//! (`[capacity.sources.<name>]`, ADR 0032) — state, teams, last success, last error,
//! failures in a row — as the leading daemon wrote it after its last poll.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use leadorch_store::{CapacitySources, SourceHealthRow};
use serde::Serialize;

use crate::common::{load_config, open, print_table, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum CapacityCommand {
    /// The capacity sources and their health: state (ok, degraded, failing, idle, starting,
    /// not polled), teams fed, last success, last error, failed polls in a row
    Sources(SourcesArgs),
}

/// `leadorch capacity …`.
#[derive(Args, Debug)]
pub struct CapacityArgs {
    #[command(subcommand)]
    pub cmd: CapacityCommand,
}

#[derive(Args, Debug)]
pub struct SourcesArgs {
    /// Configuration file (its [capacity.sources.*] are listed even before a daemon polled
    /// them); LEADORCH__SECTION__KEY variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// The project whose sources to show; overrides `project` in the config file [default:
    /// default]
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
}

/// One source as shown.
#[derive(Debug, Serialize)]
struct SourceLine {
    name: String,
    kind: String,
    state: String,
    /// Whether the configuration file given (or found) lists it.
    configured: bool,
    interval: Option<String>,
    max_age: Option<String>,
    teams: i64,
    last_poll_at: Option<String>,
    last_success_at: Option<String>,
    last_error_at: Option<String>,
    last_error: Option<String>,
    error_kind: Option<String>,
    consecutive_failures: i64,
    limit_info: Option<String>,
    next_poll_at: Option<String>,
}

fn time(micros: Option<i64>) -> Option<String> {
    micros
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn seconds(d: chrono::Duration) -> String {
    format!("{}s", d.num_seconds())
}

pub async fn run(g: &Global, args: CapacityArgs) -> Result<ExitCode> {
    match args.cmd {
        CapacityCommand::Sources(a) => sources(g, a).await,
    }
}

async fn sources(g: &Global, args: SourcesArgs) -> Result<ExitCode> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(project) = &args.project {
        leadorch_domain::project::check_name(project)
            .map_err(|e| anyhow::anyhow!("--project: {e}"))?;
        config.project.clone_from(project);
    }
    let engine = open(g, Open::Existing).await?;
    let rows = CapacitySources::new(engine.store.db().clone())
        .list(Some(&config.project))
        .await?;
    let configured = &config.capacity.sources;
    let mut lines: Vec<SourceLine> = rows
        .into_iter()
        .map(|r: SourceHealthRow| {
            let settings = configured.get(&r.name);
            SourceLine {
                configured: settings.is_some(),
                interval: settings.map(|s| seconds(s.interval())),
                max_age: settings.map(|s| seconds(s.max_age())),
                last_poll_at: time(r.last_poll_at),
                last_success_at: time(r.last_success_at),
                last_error_at: time(r.last_error_at),
                next_poll_at: time(r.next_poll_at),
                name: r.name,
                kind: r.kind,
                state: r.state,
                teams: r.teams,
                last_error: r.last_error,
                error_kind: r.error_kind,
                consecutive_failures: r.consecutive_failures,
                limit_info: r.limit_info,
            }
        })
        .collect();
    for (name, s) in configured {
        if lines.iter().any(|l| l.name == *name) {
            continue;
        }
        lines.push(SourceLine {
            name: name.clone(),
            kind: s.kind.clone(),
            state: "not polled".into(),
            configured: true,
            interval: Some(seconds(s.interval())),
            max_age: Some(seconds(s.max_age())),
            teams: 0,
            last_poll_at: None,
            last_success_at: None,
            last_error_at: None,
            last_error: None,
            error_kind: None,
            consecutive_failures: 0,
            limit_info: None,
            next_poll_at: None,
        });
    }
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    if args.json {
        for l in &lines {
            outln!("{}", serde_json::to_string(l)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        eprintln!(
            "no capacity source{}: add a [capacity.sources.<name>] to the config file (docs/capacity-sources.md)",
            leadorch_domain::project::flag(&config.project)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let dash = |s: Option<String>| s.unwrap_or_else(|| "-".to_string());
    let rows: Vec<[String; 8]> = lines
        .into_iter()
        .map(|l| {
            [
                l.name,
                l.kind,
                if l.configured {
                    l.state
                } else {
                    format!("{} (not configured)", l.state)
                },
                l.teams.to_string(),
                dash(l.last_success_at),
                l.consecutive_failures.to_string(),
                dash(l.last_error),
                dash(l.next_poll_at),
            ]
        })
        .collect();
    print_table(
        [
            "SOURCE",
            "KIND",
            "STATE",
            "TEAMS",
            "LAST OK",
            "FAILURES",
            "LAST ERROR",
            "NEXT POLL",
        ],
        &rows,
    )?;
    Ok(ExitCode::SUCCESS)
}
