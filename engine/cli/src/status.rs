//! `leadorch status`: what the engine has to work with and what it cannot act on — the
//! database, the daemon, the ads platform, the Google accounts, every campaign with its team
//! and the rules that cover it, every team with the age of its last capacity reading, a
//! warning for every rule or campaign that can never act, one for the teams whose campaign
//! mapping or calendar only the configuration file gives, and one for Google's daily quota
//! hold on an account while it is in force.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use leadorch_config::Config;
use leadorch_store::db;

use crate::common::{campaign_text, load_config, open, print_table, Open};
use crate::health::{age_text, gather, Status};
use crate::Global;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Configuration file (team mapping, time zone, Google account); LEADORCH__SECTION__KEY
    /// variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// One JSON object (the same content)
    #[arg(long)]
    pub json: bool,
    /// The project whose rules, teams, campaigns, Google accounts and daemon to show; overrides
    /// `project` in the config file [default: default]
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
}

pub async fn run(g: &Global, args: StatusArgs) -> Result<ExitCode> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(project) = &args.project {
        leadorch_domain::project::check_name(project)
            .map_err(|e| anyhow::anyhow!("--project: {e}"))?;
        config.project.clone_from(project);
    }
    let engine = open(g, Open::Existing).await?;
    let url = db::redact_url(
        &g.database_url
            .clone()
            .unwrap_or_else(db::default_database_url),
    );
    let status = gather(&engine, &config, url, Utc::now()).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&status)?)?;
    } else {
        print(&status, &config)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print(s: &Status, config: &Config) -> Result<()> {
    outln!(
        "database   {} ({} events)",
        s.database.url,
        s.database.events
    )?;
    let last = match (&s.daemon.last_evaluation_at, &s.daemon.last_evaluation_by) {
        (Some(at), Some(by)) => format!(
            "last evaluation recorded {} ago by {by}",
            age_text((s.at - *at).num_minutes())
        ),
        _ => "no evaluation recorded yet".to_string(),
    };
    outln!(
        "daemon     {}; {last}",
        if s.daemon.leader_running {
            "running (a daemon holds the leadership of this database)"
        } else {
            "not running"
        }
    )?;
    outln!("adapter    {}", s.adapter.detail)?;
    if s.accounts.is_empty() {
        outln!("accounts   none connected")?;
    }
    for a in &s.accounts {
        outln!(
            "account    {}: {}, customers {}, {} campaign(s) recorded",
            a.account,
            a.status.replace('_', " "),
            if a.customers.is_empty() {
                "none".to_string()
            } else {
                a.customers.join(", ")
            },
            a.campaigns
        )?;
    }
    outln!(
        "time zone  {} (facts.timezone; business hours and \"today\" for rules)",
        config.facts.timezone
    )?;
    outln!()?;
    if s.campaigns.is_empty() {
        outln!("campaigns: none recorded")?;
    } else {
        let rows: Vec<[String; 5]> = s
            .campaigns
            .iter()
            .map(|c| {
                [
                    campaign_text(&c.id, &c.name),
                    c.status.clone(),
                    match (&c.team, &c.team_from) {
                        (Some(t), Some(from)) => format!("{t} ({from})"),
                        (Some(t), None) => t.clone(),
                        _ => "-".to_string(),
                    },
                    if c.labels.is_empty() {
                        "-".to_string()
                    } else {
                        c.labels.join(",")
                    },
                    if c.rules.is_empty() {
                        "-".to_string()
                    } else {
                        c.rules.join(", ")
                    },
                ]
            })
            .collect();
        print_table(["CAMPAIGN", "STATUS", "TEAM", "LABELS", "RULES"], &rows)?;
    }
    outln!()?;
    if s.teams.is_empty() {
        outln!("teams: none")?;
    } else {
        let rows: Vec<[String; 4]> = s
            .teams
            .iter()
            .map(|t| {
                [
                    t.team.clone(),
                    t.utilisation
                        .map_or("-".to_string(), |u| format!("{:.0} %", u * 100.0)),
                    match (t.last_reading_at, t.age_minutes) {
                        (Some(at), Some(age)) => {
                            format!(
                                "{} ago ({})",
                                age_text(age),
                                at.format("%Y-%m-%d %H:%M UTC")
                            )
                        }
                        _ => "never".to_string(),
                    },
                    t.campaigns.to_string(),
                ]
            })
            .collect();
        print_table(["TEAM", "UTILISATION", "LAST READING", "CAMPAIGNS"], &rows)?;
    }
    outln!()?;
    if s.rules.is_empty() {
        outln!("rules: none saved")?;
    } else {
        let rows: Vec<[String; 5]> = s
            .rules
            .iter()
            .map(|r| {
                [
                    r.id.clone(),
                    format!("v{}", r.version),
                    if r.enabled { "yes" } else { "no" }.to_string(),
                    r.scope.clone(),
                    r.campaigns.to_string(),
                ]
            })
            .collect();
        print_table(["RULE", "VERSION", "ENABLED", "SCOPE", "CAMPAIGNS"], &rows)?;
    }
    if !s.warnings.is_empty() {
        outln!()?;
    }
    for w in &s.warnings {
        outln!("warning: {w}")?;
    }
    Ok(())
}
