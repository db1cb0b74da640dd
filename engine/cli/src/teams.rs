//! `leadorch teams set|member add|member remove|list|show|import-config`: sales teams as
//! events (`leadorch_evaluate::teams`, which the HTTP API calls too).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::{NaiveDate, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use leadorch_evaluate::teams::{
    self, ImportReport, MaxFrom, NewMember, TeamSaved, TeamSettings, TeamView,
};

use crate::common::{actor, load_config, open, print_table, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum TeamsCommand {
    /// Define a team, or change what is given of it: time zone, business hours, holidays,
    /// maximum of open leads, capacity source (nothing is recorded when nothing changes)
    Set(SetArgs),
    /// Add or remove a team's members
    #[command(subcommand)]
    Member(MemberCommand),
    /// List the teams: time zone, hours, holidays, maximum of open leads, capacity source,
    /// members
    List {
        /// One JSON object per line, members and their names included
        #[arg(long)]
        json: bool,
    },
    /// Show one team with its members
    Show {
        /// Team name
        name: String,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Record the configuration's teams as events: every team facts.campaign_teams and
    /// facts.default_team name, with the hours and holidays of the calendar of its name.
    /// Fills in only what the teams' events do not say yet; run again it records nothing
    ImportConfig {
        /// Configuration file
        #[arg(long, env = "LEADORCH_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// `leadorch teams [--project NAME] …`.
#[derive(Args, Debug)]
pub struct TeamsArgs {
    /// The project whose teams these are: another project's team names and member ids are
    /// kept apart from the default project's (stored as NAME/team)
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub project: String,
    #[command(subcommand)]
    pub cmd: TeamsCommand,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// Team name (1 to 128 letters, digits, '.', '_' or '-')
    pub name: String,
    /// IANA time zone of the team's hours and holidays, e.g. Europe/Amsterdam
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Business hours in the team's time zone, e.g. "mon-fri 09:00-17:00"; repeat for more
    /// ("sat 10:00-14:00"). Replaces the team's hours
    #[arg(long, value_name = "DAYS TIMES")]
    pub hours: Vec<String>,
    /// Remove the team's hours (its calendar then comes from the configuration, if any)
    #[arg(long, conflicts_with = "hours")]
    pub no_hours: bool,
    /// A holiday (YYYY-MM-DD); repeat for more. Replaces the team's holidays
    #[arg(long = "holiday", value_name = "DATE", value_parser = parse_date)]
    pub holidays: Vec<NaiveDate>,
    /// Remove all the team's holidays
    #[arg(long, conflicts_with = "holidays")]
    pub no_holidays: bool,
    /// Most open leads the team can carry, or "members" for the sum of its members'
    #[arg(long, value_name = "N|members", allow_hyphen_values = true)]
    pub max_open_leads: Option<String>,
    /// Where the team's capacity comes from: pushed, leads or connector:NAME [new teams:
    /// pushed]
    #[arg(long, value_name = "SOURCE")]
    pub capacity_source: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Add a member to a team
    Add {
        /// Team name
        team: String,
        /// The member's id: opaque, e.g. the CRM's owner id
        #[arg(long)]
        id: String,
        /// Display name (personal data: stored sealed with the member's key, subject
        /// member:ID)
        #[arg(long)]
        name: Option<String>,
        /// Most open leads the member can carry
        #[arg(long, value_name = "N", allow_hyphen_values = true)]
        max_open_leads: Option<i64>,
    },
    /// Remove a member from a team (the name stays sealed in the log until the member is
    /// erased: leadorch subjects erase member:ID)
    Remove {
        /// Team name
        team: String,
        /// The member's id
        #[arg(long)]
        id: String,
    },
}

/// A `--holiday` date.
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date: use YYYY-MM-DD, e.g. 2026-12-25"))
}

/// `--max-open-leads N|members`.
fn parse_max(s: &str) -> Result<Option<i64>> {
    if s.trim() == "members" {
        return Ok(None);
    }
    match s.trim().parse::<i64>() {
        Ok(n) => Ok(Some(n)),
        Err(_) => bail!(
            "--max-open-leads {s:?}: give a number of open leads, or \"members\" for the sum \
             of the members'"
        ),
    }
}

fn settings_of(args: &SetArgs) -> Result<TeamSettings> {
    Ok(TeamSettings {
        time_zone: args.time_zone.clone(),
        hours: if args.no_hours {
            Some(None)
        } else if args.hours.is_empty() {
            None
        } else {
            Some(Some(args.hours.clone()))
        },
        holidays: if args.no_holidays {
            Some(Vec::new())
        } else if args.holidays.is_empty() {
            None
        } else {
            Some(args.holidays.clone())
        },
        max_open_leads: args.max_open_leads.as_deref().map(parse_max).transpose()?,
        capacity_source: args.capacity_source.clone(),
    })
}

pub async fn run(g: &Global, args: TeamsArgs) -> Result<ExitCode> {
    let project = args.project.as_str();
    leadorch_domain::project::check_name(project).map_err(|e| anyhow::anyhow!("--project: {e}"))?;
    // Another project's names carry its prefix (as the HTTP API stores them); shown bare.
    let scoped = |name: &str| leadorch_domain::project::scoped(project, name);
    let bare = |mut team: TeamView| {
        team.name = leadorch_domain::project::unscoped(project, &team.name)
            .unwrap_or(&team.name)
            .to_string();
        for m in &mut team.members {
            m.id = leadorch_domain::project::unscoped(project, &m.id)
                .unwrap_or(&m.id)
                .to_string();
        }
        team
    };
    match args.cmd {
        TeamsCommand::Set(mut args) => {
            let settings = settings_of(&args)?;
            let engine = open(g, Open::Create).await?;
            args.name = scoped(&args.name);
            let mut saved =
                teams::set_team(&engine, &args.name, &settings, Utc::now(), &actor(g)).await?;
            saved.team = bare(saved.team);
            outln!("{}", saved_line(&saved))?;
        }
        TeamsCommand::Member(MemberCommand::Add {
            team,
            id,
            name,
            max_open_leads,
        }) => {
            let engine = open(g, Open::Existing).await?;
            let member = NewMember {
                id: scoped(&id),
                name,
                max_open_leads,
            };
            let view =
                teams::add_member(&engine, &scoped(&team), &member, Utc::now(), &actor(g)).await?;
            outln!("{team}: added member {id} ({})", members_text(&view))?;
        }
        TeamsCommand::Member(MemberCommand::Remove { team, id }) => {
            let engine = open(g, Open::Existing).await?;
            let view =
                teams::remove_member(&engine, &scoped(&team), &scoped(&id), Utc::now(), &actor(g))
                    .await?;
            outln!("{team}: removed member {id} ({})", members_text(&view))?;
        }
        TeamsCommand::List { json } => {
            let engine = open(g, Open::Existing).await?;
            let all: Vec<TeamView> = teams::list_teams(&engine)
                .await?
                .into_iter()
                .filter(|t| leadorch_domain::project::unscoped(project, &t.name).is_some())
                .map(bare)
                .collect();
            if json {
                for t in &all {
                    outln!("{}", serde_json::to_string(t)?)?;
                }
            } else {
                print_team_table(&all)?;
            }
        }
        TeamsCommand::Show { name, json } => {
            let engine = open(g, Open::Existing).await?;
            let team = bare(teams::show_team(&engine, &scoped(&name)).await?);
            if json {
                outln!("{}", serde_json::to_string(&team)?)?;
            } else {
                print_team(&team)?;
            }
        }
        TeamsCommand::ImportConfig { config } => {
            let config = load_config(config.as_deref())?;
            let engine = open(g, Open::Create).await?;
            let report = teams::import_config(&engine, &config, Utc::now(), &actor(g)).await?;
            print_import(&report)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sales-nl: defined (time_zone, hours)`, `sales-nl: changed max_open_leads`,
/// `sales-nl: unchanged`.
fn saved_line(saved: &TeamSaved) -> String {
    let name = &saved.team.name;
    let parts = saved.changed.join(", ");
    match (saved.created, saved.changed.is_empty()) {
        (true, true) => format!(
            "{name}: defined (capacity source {})",
            saved.team.capacity_source
        ),
        (true, false) => format!(
            "{name}: defined with {parts} (capacity source {})",
            saved.team.capacity_source
        ),
        (false, true) => format!("{name}: unchanged"),
        (false, false) => format!("{name}: changed {parts}"),
    }
}

fn members_text(team: &TeamView) -> String {
    match team.members.len() {
        1 => "1 member".to_string(),
        n => format!("{n} members"),
    }
}

/// `40 (the team's own)`, `25 (sum of members)`, `-`.
fn max_text(team: &TeamView) -> String {
    match (team.max_open_leads, team.max_open_leads_from) {
        (Some(n), Some(MaxFrom::Members)) => format!("{n} (sum of members)"),
        (Some(n), _) => n.to_string(),
        (None, _) => "-".to_string(),
    }
}

fn or_dash(s: Option<&str>) -> String {
    s.unwrap_or("-").to_string()
}

/// `teams list`: a header and one aligned row per team (nothing when there are none).
fn print_team_table(all: &[TeamView]) -> Result<()> {
    if all.is_empty() {
        return Ok(());
    }
    let rows: Vec<[String; 7]> = all
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                or_dash(t.time_zone.as_deref()),
                if t.hours.is_empty() {
                    "-".to_string()
                } else {
                    t.hours.join("; ")
                },
                t.holidays.len().to_string(),
                max_text(t),
                t.capacity_source.to_string(),
                t.members.len().to_string(),
            ]
        })
        .collect();
    print_table(
        [
            "TEAM",
            "TIME ZONE",
            "HOURS",
            "HOLIDAYS",
            "MAX OPEN LEADS",
            "CAPACITY SOURCE",
            "MEMBERS",
        ],
        &rows,
    )
}

/// `teams show`: the team's settings, one per line, then its members.
fn print_team(t: &TeamView) -> Result<()> {
    let time = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let hours = if t.hours.is_empty() {
        vec!["- (the configured calendar of its name, if any)".to_string()]
    } else {
        t.hours.clone()
    };
    let holidays: Vec<String> = t.holidays.iter().map(NaiveDate::to_string).collect();
    let mut lines: Vec<(&str, String)> = vec![
        ("team", t.name.clone()),
        ("time zone", or_dash(t.time_zone.as_deref())),
    ];
    for (i, h) in hours.into_iter().enumerate() {
        lines.push((if i == 0 { "hours" } else { "" }, h));
    }
    lines.extend([
        (
            "holidays",
            if holidays.is_empty() {
                "-".to_string()
            } else {
                holidays.join(", ")
            },
        ),
        ("max open leads", max_text(t)),
        ("capacity source", t.capacity_source.to_string()),
        ("defined", time(t.defined_at)),
        ("updated", time(t.updated_at)),
    ]);
    for (key, value) in lines {
        outln!("{key:<16} {value}")?;
    }
    if t.members.is_empty() {
        outln!("\nno members")?;
        return Ok(());
    }
    outln!()?;
    let rows: Vec<[String; 4]> = t
        .members
        .iter()
        .map(|m| {
            [
                m.id.clone(),
                or_dash(m.name.as_deref()),
                m.max_open_leads.map_or("-".to_string(), |n| n.to_string()),
                time(m.added_at),
            ]
        })
        .collect();
    print_table(["MEMBER", "NAME", "MAX OPEN LEADS", "ADDED"], &rows)
}

/// `teams import-config`: a line per team, then the calendars left in the configuration.
fn print_import(report: &ImportReport) -> Result<()> {
    if report.teams.is_empty() {
        outln!(
            "the configuration names no teams (facts.campaign_teams, facts.default_team): \
             nothing to import"
        )?;
    }
    for t in &report.teams {
        let parts = t.changed.join(", ");
        let what = match (t.created, t.changed.is_empty()) {
            (true, true) => "defined".to_string(),
            (true, false) => format!("defined with {parts}"),
            (false, true) => "unchanged".to_string(),
            (false, false) => format!("added {parts}"),
        };
        outln!("{}: {what}", t.name)?;
        if let Some(note) = &t.note {
            outln!("  {note}")?;
        }
    }
    if !report.calendars_left.is_empty() {
        outln!(
            "calendars not named after a team stay in the configuration: {}",
            report.calendars_left.join(", ")
        )?;
    }
    Ok(())
}
