//! What the engine has to work with and what it cannot act on, for `leadorch status` and
//! the daemon's start: the database, the daemon, the ads platform, the Google accounts,
//! every campaign with its team and the rules that cover it, every team with the age of its
//! last capacity reading, a warning for every rule or campaign that can never act, one for
//! the teams whose campaign mapping or calendar only the configuration file gives, and one
//! for Google's daily quota hold on an account while it is in force.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_domain::campaign::CampaignStatus;
use leadorch_evaluate::facts::{FactsScope, FactsView};
use leadorch_evaluate::library::{self, RuleSummary};
use leadorch_rules::{CampaignFacts, Scope};
use serde::Serialize;

use crate::common::campaign_text;

/// How the warning that no campaign is recorded starts (a starting daemon, about to read
/// them, leaves it out).
pub(crate) const NO_CAMPAIGNS: &str = "no campaigns recorded";

/// A capacity reading older than this is reported as stale.
const STALE_AFTER_MINUTES: i64 = 60;

/// Everything `status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    /// When the status was taken.
    pub at: DateTime<Utc>,
    /// The database.
    pub database: DatabaseStatus,
    /// The daemon.
    pub daemon: DaemonStatus,
    /// The ads platform `leadorch daemon` acts on with this configuration.
    pub adapter: AdapterStatus,
    /// Google accounts.
    pub accounts: Vec<AccountStatus>,
    /// Campaigns (removed ones left out), by id.
    pub campaigns: Vec<CampaignStatusLine>,
    /// Teams with a capacity reading, and teams campaigns name without one.
    pub teams: Vec<TeamStatus>,
    /// Saved rules.
    pub rules: Vec<RuleStatus>,
    /// Every rule or campaign that can never act, and why; what to do.
    pub warnings: Vec<String>,
}

/// The database.
#[derive(Debug, Serialize)]
pub struct DatabaseStatus {
    /// Where (no password).
    pub url: String,
    /// Events in the log (the head position).
    pub events: u64,
}

/// The daemon.
#[derive(Debug, Serialize)]
pub struct DaemonStatus {
    /// Whether a daemon holds the leadership lease of this database now.
    pub leader_running: bool,
    /// The last evaluation recorded: when it was recorded, by whom.
    pub last_evaluation_at: Option<DateTime<Utc>>,
    /// Who recorded it.
    pub last_evaluation_by: Option<String>,
}

/// The ads platform.
#[derive(Debug, Serialize)]
pub struct AdapterStatus {
    /// `google`, `sim` (a simulated database) or `none`.
    pub kind: String,
    /// What it acts on.
    pub detail: String,
}

/// A Google account.
#[derive(Debug, Serialize)]
pub struct AccountStatus {
    /// Its name.
    pub account: String,
    /// `connected`, `reconsent_needed`, `revoked`, `not_connected`.
    pub status: String,
    /// Customers the grant reaches.
    pub customers: Vec<String>,
    /// Campaigns recorded through it.
    pub campaigns: usize,
    /// Until when Google's daily quota was last recorded exhausted (nothing is sent to Google
    /// through the account before then); in the past once the hold is over.
    pub quota_exhausted_until: Option<DateTime<Utc>>,
}

/// A campaign.
#[derive(Debug, Serialize)]
pub struct CampaignStatusLine {
    /// `<customer>/<campaign>`.
    pub id: String,
    /// Name (empty once its Google data is deleted).
    pub name: String,
    /// `enabled` or `paused`.
    pub status: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its team, and where the team came from (`label`, `mapping`, `default`).
    pub team: Option<String>,
    /// `label`, `mapping` (facts.campaign_teams), `default` (facts.default_team), or none.
    pub team_from: Option<String>,
    /// Enabled rules whose scope covers it, by evaluation order.
    pub rules: Vec<String>,
}

/// A team.
#[derive(Debug, Serialize)]
pub struct TeamStatus {
    /// Its name.
    pub team: String,
    /// Utilisation of the last reading (what rules see), none without a reading.
    pub utilisation: Option<f64>,
    /// When the last reading was taken.
    pub last_reading_at: Option<DateTime<Utc>>,
    /// Its age in minutes at `at`.
    pub age_minutes: Option<i64>,
    /// Campaigns whose team it is.
    pub campaigns: usize,
}

/// A saved rule.
#[derive(Debug, Serialize)]
pub struct RuleStatus {
    /// Rule id.
    pub id: String,
    /// Current version.
    pub version: u32,
    /// Whether it may act.
    pub enabled: bool,
    /// Evaluation order.
    pub priority: i32,
    /// Its scope as the header writes it.
    pub scope: String,
    /// Campaigns it covers.
    pub campaigns: usize,
}

/// Folds the log and builds the status at `now` of `config.project` (its rules, teams,
/// campaigns, Google accounts and daemon; ADR 0030).
pub async fn gather(
    engine: &Engine,
    config: &Config,
    url: String,
    now: DateTime<Utc>,
) -> Result<Status> {
    let simulated = leadorch_core::synthetic::marker(engine).await?;
    // What the configuration file itself says (not what the simulator adds to it).
    let file_facts = config.facts.clone();
    // See what `daemon --adapter sim` sees on a simulated database.
    let mut config = config.clone();
    crate::common::simulated_facts(engine, &mut config).await?;
    let config = &config;
    let project = config.project.as_str();
    // `--project` for the commands a warning suggests.
    let flag = leadorch_domain::project::flag(project);
    // The facts view (campaigns, teams): the kept view and the events after it (ADR 0048).
    let view = FactsView::load(engine).await?;
    let last_evaluation = last_evaluation(engine, project).await?;
    let events = engine.store.log.head().await?.position;
    // A daemon leads while it holds the lease; taking it here (and dropping it at once)
    // means none does.
    let leader_running = engine.store.log.db().try_lease(project).await?.is_none();

    let facts = view.facts_in(now, &config.facts, &FactsScope::project(project));
    let rules = library::list_rules_in(engine, project).await?;
    // The project's accounts, named bare (`acme/ops` is acme's `ops`).
    let accounts = leadorch_accounts::list_in(engine, project).await?;

    let mut warnings = Vec::new();
    let mut enabled: Vec<&RuleSummary> = rules.iter().filter(|r| r.enabled).collect();
    enabled.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));

    let live: Vec<&CampaignFacts> = facts
        .campaigns
        .iter()
        .filter(|c| c.status != CampaignStatus::Removed)
        .collect();

    // Campaigns, with the enabled rules that cover them.
    let mut coverage: BTreeMap<&str, usize> = BTreeMap::new();
    let mut campaigns = Vec::new();
    for c in &live {
        let covering: Vec<String> = enabled
            .iter()
            .filter(|r| r.scope.as_ref().is_some_and(|s| s.matches(c)))
            .map(|r| r.id.clone())
            .collect();
        campaigns.push(CampaignStatusLine {
            id: c.id.clone(),
            name: c.name.clone(),
            status: status_name(c.status).to_string(),
            labels: c.labels.clone(),
            team: c.team.clone(),
            team_from: team_from(c, config),
            rules: covering,
        });
    }
    for line in &campaigns {
        for r in &line.rules {
            *coverage.entry(r.as_str()).or_default() += 1;
        }
    }

    // Teams: every team with a reading, and every team a campaign names.
    let mut teams: BTreeMap<String, TeamStatus> = BTreeMap::new();
    for (name, t) in &facts.teams {
        let at = t.updated_at;
        teams.insert(
            name.clone(),
            TeamStatus {
                team: name.clone(),
                utilisation: at.map(|_| round2(t.utilisation())),
                last_reading_at: at,
                age_minutes: at.map(|at| (now - at).num_minutes()),
                campaigns: 0,
            },
        );
    }
    for c in &campaigns {
        if let Some(team) = &c.team {
            teams
                .entry(team.clone())
                .or_insert_with(|| TeamStatus {
                    team: team.clone(),
                    utilisation: None,
                    last_reading_at: None,
                    age_minutes: None,
                    campaigns: 0,
                })
                .campaigns += 1;
        }
    }

    // Warnings: rules that can never act.
    if rules.is_empty() {
        warnings.push(
            format!("no rules saved: nothing will ever be decided; save one with `leadorch rules{flag} save FILE.rhai --enable` (examples in rules/)"),
        );
    } else if enabled.is_empty() {
        warnings.push(
            format!("no rule is enabled: nothing will ever be decided; enable one with `leadorch rules{flag} enable NAME`"),
        );
    }
    for r in &enabled {
        match (&r.scope, &r.header_error) {
            (None, e) => warnings.push(format!(
                "rule {} never runs: its header cannot be read ({}); save a corrected version",
                r.id,
                e.as_deref().unwrap_or("unreadable")
            )),
            (Some(scope), _) if coverage.get(r.id.as_str()).copied().unwrap_or(0) == 0 => warnings
                .push(format!(
                    "rule {} can never act: its scope ({}) covers no campaign; {}",
                    r.id,
                    scope,
                    scope_advice(scope, live.is_empty())
                )),
            _ => {}
        }
    }
    // Campaigns that can never be acted on.
    if live.is_empty() {
        warnings.push(format!(
            "{NO_CAMPAIGNS}: the daemon has read none yet; run `leadorch daemon` with a \
             connected Google account ([google] account and customers) so it reads them"
        ));
    }
    for c in &campaigns {
        let who = campaign_text(&c.id, &c.name);
        if c.rules.is_empty() && !enabled.is_empty() {
            warnings.push(format!(
                "campaign {who} is covered by no enabled rule: nothing will ever change it; give \
                 it a label a rule's scope names (labels: {}) or widen a rule's scope",
                labels_named(&enabled)
            ));
        } else if !c.rules.is_empty() && c.team.is_none() {
            warnings.push(format!(
                "campaign {who} has no team: rules that read its team ({}) do nothing for it; \
                 label it team:<name> in Google Ads, or map it in the configuration: \
                 [facts.campaign_teams] \"{}\" = \"<team>\"",
                c.rules.join(", "),
                c.id
            ));
        }
    }
    // Teams without a fresh reading.
    for t in teams.values() {
        match t.age_minutes {
            None if t.campaigns > 0 => warnings.push(format!(
                "team {} has no capacity reading: rules see no capacity for its {} campaign(s); \
                 record its capacity (the simulator, or the HTTP API and CRM sources) or fix the \
                 team name",
                t.team, t.campaigns
            )),
            Some(age) if age > STALE_AFTER_MINUTES => warnings.push(format!(
                "team {}'s last capacity reading is {} old ({}): rules act on stale capacity",
                t.team,
                age_text(age),
                t.last_reading_at
                    .map(|a| a.to_rfc3339())
                    .unwrap_or_default()
            )),
            _ => {}
        }
    }
    // Teams the configuration file alone gives campaigns or a calendar: one line for all
    // (the default project's: its teams are named as the configuration names them).
    let config_only = if project == leadorch_domain::project::DEFAULT {
        view.config_only_teams(&file_facts)
    } else {
        Vec::new()
    };
    if !config_only.is_empty() {
        let teams: Vec<String> = config_only
            .iter()
            .map(|t| {
                let parts: Vec<&str> = [(t.mapping, "campaign mapping"), (t.calendar, "calendar")]
                    .into_iter()
                    .filter_map(|(on, part)| on.then_some(part))
                    .collect();
                format!("{} ({})", t.team, parts.join(", "))
            })
            .collect();
        warnings.push(format!(
            "teams whose campaign mapping or calendar comes only from the configuration file \
             (facts.campaign_teams, facts.default_team, facts.calendars; no Team events say it): \
             {}; run `leadorch teams import-config` to record them as events, then change them \
             with `leadorch teams` or the HTTP API",
            teams.join(", ")
        ));
    }
    // Customers this daemon would read whose campaigns another project's account read first:
    // they stay that project's (ADR 0030 R1), so this project's rules never act on them.
    let configured: std::collections::BTreeSet<String> = config
        .google
        .customers
        .iter()
        .map(|c| c.replace('-', ""))
        .collect();
    let mut elsewhere: BTreeMap<String, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for c in view.campaigns.values() {
        let Some(customer) = c.state.customer_id().map(|id| id.replace('-', "")) else {
            continue;
        };
        if configured.contains(&customer) && c.project() != project && c.state.snapshot().is_some()
        {
            elsewhere.entry(customer).or_default().insert(c.project());
        }
    }
    for (customer, projects) in elsewhere {
        warnings.push(format!(
            "customer {customer} ([google] customers) has campaigns of project {}: they stay that \
             project's (read through its account first), and this project's rules never act on \
             them",
            projects.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    // Accounts that cannot be acted through.
    for a in &accounts {
        if a.status == "reconsent_needed" || a.status == "revoked" {
            warnings.push(format!(
                "Google account {} is {}: its campaigns are not acted on; run `leadorch google \
                 connect{flag} --account {}`",
                a.account,
                a.status.replace('_', " "),
                a.account
            ));
        }
        // Google's quota hold while in force (a revoked account is not acted through anyway).
        let held = a.quota_exhausted_until.filter(|u| *u > now);
        if let Some(until) = held.filter(|_| a.status != "revoked") {
            warnings.push(format!(
                "Google account {}: Google's daily quota is exhausted until {}; nothing is sent \
                 to Google until then, and the rules decide again afterwards",
                a.account,
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
    }

    // What `leadorch daemon` without --adapter acts on: Google when configured; on a
    // simulated database, `--adapter sim` continues the simulated account.
    let adapter = if !config.google.account.is_empty() {
        AdapterStatus {
            kind: "google".into(),
            detail: format!(
                "Google Ads account {} (customers {})",
                config.google.account,
                if config.google.customers.is_empty() {
                    "none configured".to_string()
                } else {
                    config.google.customers.join(", ")
                }
            ),
        }
    } else if let Some(m) = &simulated {
        AdapterStatus {
            kind: "sim".into(),
            detail: format!(
                "the simulated account (`leadorch daemon --adapter sim`): a simulated database, \
                 marked by {} at position {}",
                m.by, m.position
            ),
        }
    } else {
        AdapterStatus {
            kind: "none".into(),
            detail: "no Google account configured ([google] account, LEADORCH__GOOGLE__ACCOUNT)"
                .into(),
        }
    };
    if adapter.kind == "none" {
        warnings.push(format!(
            "no Google account configured: `leadorch daemon` has nothing to act on; run `leadorch \
             google connect{flag} --account NAME` and set [google] account and customers \
             (LEADORCH__GOOGLE__ACCOUNT)"
        ));
    }
    if adapter.kind == "google" && !accounts.iter().any(|a| a.account == config.google.account) {
        warnings.push(format!(
            "the configured Google account {} is not connected to this database{}: run `leadorch \
             google connect{flag} --account {}`",
            config.google.account,
            if flag.is_empty() {
                String::new()
            } else {
                format!(" for project {project}")
            },
            config.google.account
        ));
    }

    let account_lines = accounts
        .iter()
        .map(|a| AccountStatus {
            account: a.account.clone(),
            status: a.status.to_string(),
            customers: a.customers.clone(),
            campaigns: view
                .campaigns
                .values()
                .filter(|c| {
                    c.google_account.as_deref()
                        == Some(leadorch_domain::project::scoped(project, &a.account).as_str())
                })
                .count(),
            quota_exhausted_until: a.quota_exhausted_until,
        })
        .collect();
    let rule_lines = rules
        .iter()
        .map(|r| RuleStatus {
            id: r.id.clone(),
            version: r.version,
            enabled: r.enabled,
            priority: r.priority,
            scope: r
                .scope
                .as_ref()
                .map_or_else(|| "?".into(), Scope::to_string),
            campaigns: if r.enabled {
                coverage.get(r.id.as_str()).copied().unwrap_or(0)
            } else {
                live.iter()
                    .filter(|c| r.scope.as_ref().is_some_and(|s| s.matches(c)))
                    .count()
            },
        })
        .collect();
    Ok(Status {
        at: now,
        database: DatabaseStatus { url, events },
        daemon: DaemonStatus {
            leader_running,
            last_evaluation_at: last_evaluation.as_ref().map(|(at, _)| *at),
            last_evaluation_by: last_evaluation.map(|(_, by)| by),
        },
        adapter,
        accounts: account_lines,
        campaigns,
        teams: teams.into_values().collect(),
        rules: rule_lines,
        warnings,
    })
}

fn status_name(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Enabled => "enabled",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Removed => "removed",
    }
}

/// Where a campaign's team comes from, in the order [`leadorch_evaluate::facts::team_of`]
/// looks.
fn team_from(c: &CampaignFacts, config: &Config) -> Option<String> {
    c.team.as_ref()?;
    Some(
        if c.labels.iter().any(|l| l.starts_with("team:")) {
            "label"
        } else if config.facts.campaign_teams.contains_key(&c.id) {
            "mapping"
        } else {
            "default"
        }
        .to_string(),
    )
}

/// What to do about a rule whose scope covers nothing.
fn scope_advice(scope: &Scope, no_campaigns: bool) -> String {
    if no_campaigns {
        return "no campaign is recorded yet".to_string();
    }
    let mut ways = Vec::new();
    if !scope.labels.is_empty() {
        ways.push(format!(
            "add the label {} to a campaign in Google Ads",
            scope
                .labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    if !scope.teams.is_empty() {
        ways.push(format!(
            "give a campaign the team {} (a team:<name> label or [facts.campaign_teams])",
            scope.teams.join(" or ")
        ));
    }
    if !scope.ids.is_empty() || !scope.names.is_empty() {
        ways.push("check the ids and names its scope lists".to_string());
    }
    ways.push("or change the rule's scope".to_string());
    ways.join(", ")
}

/// The labels enabled rules' scopes name, for advice.
fn labels_named(rules: &[&RuleSummary]) -> String {
    let mut labels: Vec<&str> = rules
        .iter()
        .filter_map(|r| r.scope.as_ref())
        .flat_map(|s| s.labels.iter().map(String::as_str))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.is_empty() {
        "none".to_string()
    } else {
        labels.join(", ")
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Minutes as "45 min", "3 h", "12 days".
pub(crate) fn age_text(minutes: i64) -> String {
    let d = Duration::minutes(minutes.max(0));
    if d.num_minutes() < 120 {
        format!("{} min", d.num_minutes())
    } else if d.num_hours() < 48 {
        format!("{} h", d.num_hours())
    } else {
        format!("{} days", d.num_days())
    }
}

/// When the project's last evaluation was recorded, and by whom: one read of the log's type
/// index, newest first.
async fn last_evaluation(
    engine: &Engine,
    project: &str,
) -> Result<Option<(DateTime<Utc>, String)>> {
    use leadorch_store::{Match, Window};
    // The streams the project sees, as `GET /v1/events` reads them for its keys; evaluations
    // are never campaign streams, so no campaign owners are needed.
    let visibility = leadorch_api::routes::events::visibility(project, &Default::default());
    let last = engine
        .store
        .log
        .window(&Window {
            after: 0,
            before: None,
            newest_first: true,
            limit: 1,
            filter: Match {
                event_type: Some("EvaluationRecorded".into()),
                visibility,
                ..Default::default()
            },
        })
        .await?;
    Ok(last
        .first()
        .map(|rec| (rec.recorded_at_utc(), rec.metadata().actor)))
}
