//! `leadorch demo`: the simulator, the daemon and the example rules together, on an
//! accelerated clock, with a live view and a summary against the same world without rules.
//!
//! Each simulated minute: the simulator advances; what happened (leads, leads worked or
//! expired, capacity readings, hourly metrics) is recorded through the engine exactly as the
//! HTTP API and the Google Ads reader would record it; then one daemon step runs at the
//! simulated time — the same code `leadorch daemon` runs — which evaluates the rules, records
//! the evaluation, and applies accepted changes to the simulated account through
//! [`SimAdapter`]. The comparison run is the same simulator, same seed, with no rules: since
//! the simulator is deterministic and only rules change it, that is exactly the run with
//! rules disabled.
//!
//! The live view prints times in the simulated account's time zone, and says which at the
//! start; the summary accounts for every lead (worked, still open at the end, could not be
//! worked) and every unit of spend (see [`SimSummary`]), and counts what each rule did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_domain::campaign::DayOfWeek;
use leadorch_domain::campaign::HourMetrics;
use leadorch_domain::lead::LeadArrival;
use leadorch_domain::{
    Campaign, CampaignCommand, CapacityCommand, CapacitySnapshot, Lead, LeadCommand, LeadOutcome,
    LeadStatus,
};
use leadorch_evaluate::library::{rule_id_of, save_rule};
use leadorch_rules::{Calendar, RuleHost};
use leadorch_sim::{SimConfig, SimEvent, SimSummary, Simulator};
use leadorch_store::Metadata;
use serde::Serialize;

use crate::adapter::SimAdapter;
use crate::daemon::{Daemon, StepReport};
use crate::executor::ExecResult;
use crate::{Error, Result};

/// What the demo runs.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Simulated minutes to run.
    pub minutes: u64,
    /// Simulated start (UTC).
    pub start: DateTime<Utc>,
    /// Simulator seed.
    pub seed: u64,
    /// Folder of the rules to load (`rules/`); every `*.rhai` in it is saved and enabled.
    pub rules_dir: PathBuf,
    /// Folder of the shared modules (`rules/lib`); none: the library built into leadorch.
    pub lib_dir: Option<PathBuf>,
    /// Simulated minutes between status lines of the live view.
    pub view_every: u64,
    /// Real seconds to wait per simulated minute (0: as fast as possible).
    pub pace: std::time::Duration,
    /// Daemon configuration (policy, facts settings); the time zone is the simulator's, and a
    /// team without a calendar of its own gets one from its shifts ([`shift_calendars`]).
    pub config: Config,
    /// Actor recorded for saving and enabling the rules (`"demo"` unless the person running
    /// the demo is named).
    pub actor: String,
    /// Set to stop early (Ctrl-C); the summary covers the minutes run.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// The outcome of a demo run.
#[derive(Clone, Debug, Serialize)]
pub struct DemoSummary {
    /// Simulated minutes run.
    pub minutes: u64,
    /// Rules loaded.
    pub rules: Vec<String>,
    /// The time zone the live view's times are in (the simulated account's).
    pub timezone: String,
    /// Rule → decisions of it the arbiter accepted (changes and notifications), for every
    /// rule loaded (0 for a rule that never acted).
    pub accepted_by_rule: BTreeMap<String, u64>,
    /// Evaluations recorded.
    pub evaluations: u64,
    /// Changes applied to the simulated account.
    pub changes_applied: u64,
    /// Suppressed proposals (dwell, cooldown, hold, no change, conflicts).
    pub suppressed: u64,
    /// Rule failures.
    pub rule_failures: u64,
    /// Rule runs for one campaign replayed from kept results (`[evaluation] reuse`).
    pub runs_reused: u64,
    /// Rule runs for one campaign evaluated while reusing (0 with reuse off).
    pub runs_evaluated: u64,
    /// The world with the rules.
    pub with_rules: SimSummary,
    /// The same world with the rules disabled.
    pub without_rules: SimSummary,
}

/// A line of the live view.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewLine {
    /// Periodic status.
    Status(String),
    /// A decision or what happened to it.
    Decision(String),
}

/// Runs the demo on `engine` (a fresh database is expected).
pub async fn run(
    engine: &Engine,
    opts: &DemoOptions,
    view: &mut (dyn FnMut(ViewLine) + Send),
) -> Result<DemoSummary> {
    let sim_config = SimConfig::demo(opts.start, opts.seed);
    let tz = sim_config.timezone.clone();
    let mut config = opts.config.clone();
    config.facts.timezone = tz.clone();
    sim_facts(&mut config.facts, &sim_config);
    let sim = Arc::new(Mutex::new(
        Simulator::new(sim_config).map_err(|e| Error::Sim(e.to_string()))?,
    ));
    let host = Arc::new(
        RuleHost::new_or_built_in(opts.lib_dir.as_deref(), config.limits()).map_err(|e| {
            let lib = match &opts.lib_dir {
                Some(dir) => dir.display().to_string(),
                None => "built into leadorch".to_string(),
            };
            Error::Input(format!("rules library {lib}: {e}"))
        })?,
    );
    let rules = load_rules_dir(engine, &host, &opts.rules_dir, opts.start, &opts.actor).await?;
    view(ViewLine::Status(format!(
        "times in {tz} (the simulated account's time zone)"
    )));
    let adapter = Arc::new(SimAdapter::new(sim.clone()));
    let mut daemon = Daemon::start(engine.clone(), host, adapter, config).await?;
    let ingest = Metadata::actor("sim");
    let now = lock(&sim)?.now();
    let teams = lock(&sim)?.capacity();
    for c in teams {
        record_capacity(
            engine,
            &ingest,
            &c.team,
            c.agents_available,
            c.open_leads,
            c.max_open_leads,
            now,
        )
        .await?;
    }
    let mut totals = Counters {
        accepted_by_rule: rules.iter().map(|r| (r.clone(), 0)).collect(),
        ..Counters::default()
    };
    let first = daemon.step(now).await?;
    totals.add(&first);
    show_step(&daemon, &first, &tz, view);
    let mut minutes_run = 0;
    for minute in 1..=opts.minutes {
        if opts.stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        minutes_run = minute;
        let events = lock(&sim)?.advance(1);
        for e in events {
            ingest_event(engine, &ingest, e).await?;
        }
        let now = lock(&sim)?.now();
        let report = daemon.step(now).await?;
        totals.add(&report);
        show_step(&daemon, &report, &tz, view);
        if opts.view_every > 0 && minute % opts.view_every == 0 {
            view(ViewLine::Status(status_line(&daemon, now, &tz)));
        }
        if !opts.pace.is_zero() {
            tokio::time::sleep(opts.pace).await;
        }
    }
    let with_rules = lock(&sim)?.summary();
    let without_rules = {
        let mut baseline = Simulator::new(SimConfig::demo(opts.start, opts.seed))
            .map_err(|e| Error::Sim(e.to_string()))?;
        let mut left = minutes_run;
        while left > 0 {
            let n = left.min(u64::from(u32::MAX)) as u32;
            baseline.advance(n);
            left -= u64::from(n);
        }
        baseline.summary()
    };
    Ok(DemoSummary {
        minutes: minutes_run,
        rules,
        timezone: tz,
        accepted_by_rule: totals.accepted_by_rule,
        evaluations: totals.evaluations,
        changes_applied: totals.applied,
        suppressed: totals.suppressed,
        rule_failures: totals.failures,
        runs_reused: totals.reused,
        runs_evaluated: totals.evaluated,
        with_rules,
        without_rules,
    })
}

#[derive(Default)]
struct Counters {
    evaluations: u64,
    applied: u64,
    suppressed: u64,
    failures: u64,
    reused: u64,
    evaluated: u64,
    accepted_by_rule: BTreeMap<String, u64>,
}

impl Counters {
    fn add(&mut self, r: &StepReport) {
        for e in &r.evaluations {
            self.evaluations += 1;
            self.suppressed += e.suppressed.len() as u64;
            self.failures += e.failures.len() as u64;
            self.reused += e.reused as u64;
            self.evaluated += e.evaluated as u64;
            for p in &e.accepted {
                *self.accepted_by_rule.entry(p.rule.clone()).or_default() += 1;
            }
        }
        self.applied += r
            .executed
            .iter()
            .filter(|x| matches!(x.result, ExecResult::Applied))
            .count() as u64;
    }
}

/// What rules need to know of the simulated world that its campaigns do not carry, where the
/// configuration does not say otherwise: each campaign's team (`facts.campaign_teams`, for a
/// campaign without a `team:<name>` label, as an account that cannot add labels would map
/// it) and each team's calendar from its shifts ([`shift_calendars`]).
pub fn sim_facts(facts: &mut leadorch_config::FactSettings, sim: &SimConfig) {
    for c in &sim.campaigns {
        facts
            .campaign_teams
            .entry(format!("{}/{}", sim.customer_id, c.campaign_id))
            .or_insert_with(|| c.team.clone());
    }
    for (team, calendar) in shift_calendars(sim) {
        facts.calendars.entry(team).or_insert(calendar);
    }
}

/// Each team's working hours as a business-hours calendar (local time): per weekday, the
/// hours at least one of its agents is on shift. Rules see it as `now.open["<team>"]`
/// (`business_hours` pauses campaigns outside it).
pub fn shift_calendars(config: &SimConfig) -> BTreeMap<String, Calendar> {
    const DAYS: [(DayOfWeek, &str); 7] = [
        (DayOfWeek::Monday, "mon"),
        (DayOfWeek::Tuesday, "tue"),
        (DayOfWeek::Wednesday, "wed"),
        (DayOfWeek::Thursday, "thu"),
        (DayOfWeek::Friday, "fri"),
        (DayOfWeek::Saturday, "sat"),
        (DayOfWeek::Sunday, "sun"),
    ];
    let mut calendars = BTreeMap::new();
    for team in &config.teams {
        let mut weekly = BTreeMap::new();
        for (day, name) in DAYS {
            let mut hours: Vec<(u8, u8)> = team
                .shifts
                .iter()
                .filter(|s| s.weekdays.contains(&day))
                .map(|s| (s.start_hour, s.end_hour))
                .collect();
            hours.sort_unstable();
            let mut merged: Vec<(u8, u8)> = Vec::new();
            for (start, end) in hours {
                match merged.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            if !merged.is_empty() {
                weekly.insert(
                    name.to_string(),
                    merged
                        .into_iter()
                        .map(|(a, b)| [format!("{a:02}:00"), format!("{b:02}:00")])
                        .collect(),
                );
            }
        }
        calendars.insert(
            team.name.clone(),
            Calendar {
                weekly,
                holidays: Vec::new(),
                timezone: None,
            },
        );
    }
    calendars
}

fn lock(sim: &Arc<Mutex<Simulator>>) -> Result<std::sync::MutexGuard<'_, Simulator>> {
    sim.lock()
        .map_err(|_| Error::Sim("simulator state is poisoned".into()))
}

/// Saves and enables every `*.rhai` of `dir` (sorted), returning their ids.
pub async fn load_rules_dir(
    engine: &Engine,
    host: &RuleHost,
    dir: &Path,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Input(format!("rules folder {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    let mut ids = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path)
            .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        let id = rule_id_of(&path)?;
        save_rule(engine, host, &id, &source, true, at, actor).await?;
        ids.push(id);
    }
    Ok(ids)
}

async fn record_capacity(
    engine: &Engine,
    metadata: &Metadata,
    team: &str,
    agents_available: u32,
    open_leads: u32,
    max_open_leads: u32,
    at: DateTime<Utc>,
) -> Result<()> {
    engine
        .execute::<CapacitySnapshot>(
            team,
            CapacityCommand::Record {
                team: team.to_string(),
                agents_available,
                open_leads,
                // A team with nobody on shift has no room, but the domain wants a bound
                // whenever agents are present; with no agents 0 is valid.
                max_open_leads,
                source: "sim".into(),
                max_age_secs: None,
                at,
            },
            metadata,
        )
        .await?;
    Ok(())
}

/// Records one simulator event through the engine.
pub async fn ingest_event(engine: &Engine, metadata: &Metadata, event: SimEvent) -> Result<()> {
    match event {
        SimEvent::LeadArrived {
            lead_id,
            team,
            customer_id,
            campaign_id,
            name,
            email,
            phone,
            at,
        } => {
            let fingerprint = leadorch_core::fingerprint(&email, &phone);
            engine
                .execute::<Lead>(
                    &lead_id,
                    LeadCommand::ReceiveLead {
                        arrival: LeadArrival {
                            lead_id: lead_id.clone(),
                            subject_id: format!("subject-{lead_id}"),
                            team,
                            campaign_id: Some(campaign_id),
                            customer_id: Some(customer_id),
                            source: "sim-landing-page".into(),
                            fingerprint: Some(fingerprint),
                            name: Some(name),
                            email: Some(email),
                            phone: Some(phone),
                            at,
                            ..LeadArrival::default()
                        },
                        outcome: LeadOutcome::Accepted,
                    },
                    metadata,
                )
                .await?;
        }
        SimEvent::LeadWorked {
            lead_id,
            status,
            at,
            ..
        } => {
            engine
                .execute::<Lead>(
                    &lead_id,
                    LeadCommand::ChangeStatus {
                        status,
                        owner: None,
                        at,
                    },
                    metadata,
                )
                .await?;
        }
        SimEvent::LeadExpired { lead_id, at, .. } => {
            engine
                .execute::<Lead>(
                    &lead_id,
                    LeadCommand::ChangeStatus {
                        status: LeadStatus::Lost,
                        owner: None,
                        at,
                    },
                    metadata,
                )
                .await?;
        }
        SimEvent::CapacityChanged {
            team,
            agents_available,
            open_leads,
            max_open_leads,
            at,
        } => {
            record_capacity(
                engine,
                metadata,
                &team,
                agents_available,
                open_leads,
                max_open_leads,
                at,
            )
            .await?;
        }
        SimEvent::MetricsHour {
            customer_id,
            campaign_id,
            hour_start,
            impressions,
            clicks,
            cost_micros,
            conversions,
            at,
        } => {
            engine
                .execute::<Campaign>(
                    &Campaign::aggregate_id(&customer_id, &campaign_id),
                    CampaignCommand::RecordMetrics {
                        hour_start,
                        metrics: HourMetrics {
                            impressions,
                            clicks,
                            cost_micros,
                            conversions,
                        },
                        google_account: None,
                        at,
                    },
                    metadata,
                )
                .await?;
        }
    }
    Ok(())
}

fn local(at: DateTime<Utc>, tz: &str) -> String {
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    at.with_timezone(&tz).format("%a %H:%M").to_string()
}

fn show_step(
    daemon: &Daemon,
    report: &StepReport,
    tz: &str,
    view: &mut (dyn FnMut(ViewLine) + Send),
) {
    for e in &report.evaluations {
        for p in &e.accepted {
            view(ViewLine::Decision(format!(
                "{}  {:<14} {:<22} {}: {}",
                local(e.at, tz),
                p.decision.action.name(),
                crate::lines::campaign_name(daemon, &p.campaign),
                p.rule,
                p.decision.reason
            )));
        }
        for c in &e.conflicts {
            view(ViewLine::Decision(format!(
                "{}  conflict       {:<22} {} ({}) wins over {}",
                local(e.at, tz),
                crate::lines::campaign_name(daemon, &c.campaign),
                c.winner,
                c.winner_action,
                c.losers
                    .iter()
                    .map(|(r, a)| format!("{r} ({a})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for (rule, campaign, error) in &e.failures {
            view(ViewLine::Decision(format!(
                "{}  rule failed    {rule} {campaign}: {error}",
                local(e.at, tz)
            )));
        }
    }
    for x in &report.executed {
        if let ExecResult::Failed { error, .. } = &x.result {
            view(ViewLine::Decision(format!(
                "{}  apply failed   {:<22} {error}",
                "",
                crate::lines::campaign_name(daemon, &x.campaign)
            )));
        }
    }
    for id in &report.drift {
        view(ViewLine::Decision(format!(
            "  changed outside the engine: {} (respected, not undone)",
            crate::lines::campaign_name(daemon, id)
        )));
    }
}

/// The live view's status line: local time, each team's utilisation, each campaign's status.
pub fn status_line(daemon: &Daemon, now: DateTime<Utc>, tz: &str) -> String {
    let facts = daemon.view.facts_in(
        now,
        &daemon.config.facts,
        &leadorch_evaluate::facts::FactsScope::project(&daemon.config.project),
    );
    let teams: Vec<String> = facts
        .teams
        .values()
        .map(|t| {
            format!(
                "{} {:>3.0}% ({}/{}, {} agents)",
                t.team,
                t.utilisation() * 100.0,
                t.open_leads,
                t.max_open_leads,
                t.agents_available
            )
        })
        .collect();
    let campaigns: Vec<String> = facts
        .campaigns
        .iter()
        .map(|c| {
            let mark = match c.status {
                leadorch_domain::campaign::CampaignStatus::Enabled => "on ",
                leadorch_domain::campaign::CampaignStatus::Paused => "off",
                leadorch_domain::campaign::CampaignStatus::Removed => "del",
            };
            format!("{mark} {}", c.name)
        })
        .collect();
    format!(
        "{}  {}  |  {}",
        local(now, tz),
        teams.join("  "),
        campaigns.join(", ")
    )
}
