//! Scenario fixtures: TOML files describing facts over time and the decisions expected at
//! each step, run through the real host and arbiter (`leadorch rules test rules/fixtures`).
//!
//! The format is documented in `rules/README.md`. In short: a fixture names one rule
//! (`rule = "../x.rhai"`) or several (`rules = [...]`), sets up campaigns, and lists steps;
//! each step may change team capacity and campaign facts, and states the exact set of
//! accepted decisions (`expect`), optionally the suppressed ones and the failures. After a
//! step the accepted changes are applied to the campaigns (as if executed at once, with
//! `last_change_at` = step time), so hysteresis, dwell and cooldown can be exercised.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use leadorch_domain::campaign::{AdScheduleSlot, Bidding, CampaignStatus};
use serde::{Deserialize, Deserializer};

use crate::arbiter::{resolve, Policy, Resolution};
use crate::decision::{Action, Proposal};
use crate::facts::{Calendar, CampaignFacts, Facts, Metrics, TeamFacts};
use crate::host::{CompileError, CompiledRule, RuleHost};
use crate::view::{iso_utc, parse_day, parse_hhmm};

/// The outcome of one fixture file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureReport {
    /// The fixture file.
    pub path: PathBuf,
    /// The fixture's description, if any.
    pub description: Option<String>,
    /// Steps run.
    pub steps: usize,
    /// One message per step whose outcome differed from the expectation; empty = passed.
    pub failures: Vec<String>,
}

impl FixtureReport {
    /// Whether every step matched.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A fixture that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown/mistyped keys (message has line and column).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The fixture file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The fixture is well-formed TOML but makes no sense (unknown campaign, bad time…).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The fixture file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A rule the fixture names does not compile.
    #[error("{}: {error}", path.display())]
    Rule {
        /// The fixture file.
        path: PathBuf,
        /// The compile error.
        error: CompileError,
    },
}

/// Reads and compiles one rule file; the rule is named after the file stem. Used by
/// `leadorch rules check FILE…`.
pub fn check_rule_file(host: &RuleHost, path: &Path) -> Result<CompiledRule, CompileError> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rule")
        .to_string();
    let source = std::fs::read_to_string(path).map_err(|e| CompileError {
        rule: name.clone(),
        line: None,
        column: None,
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    host.compile(&name, &source)
}

/// Runs every `*.toml` fixture in `dir` (not recursive), in file-name order. Stops at the
/// first fixture that cannot be run.
pub fn run_fixture_dir(host: &RuleHost, dir: &Path) -> Result<Vec<FixtureReport>, FixtureError> {
    let io = |source| FixtureError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths.iter().map(|p| run_fixture(host, p)).collect()
}

/// Runs one fixture file.
pub fn run_fixture(host: &RuleHost, path: &Path) -> Result<FixtureReport, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file: FixtureFile = toml::from_str(&text).map_err(|e| FixtureError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let invalid = |message: String| FixtureError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let base = path.parent().unwrap_or_else(|| Path::new("."));

    let rule_paths: Vec<&String> = match (&file.rule, &file.rules) {
        (Some(one), None) => vec![one],
        (None, Some(many)) if !many.is_empty() => many.iter().collect(),
        _ => return Err(invalid(
            "name the rule under test with `rule = \"…\"` or `rules = [\"…\", …]` (one of them)"
                .to_string(),
        )),
    };
    let mut rules = Vec::new();
    for rel in rule_paths {
        let rule = check_rule_file(host, &base.join(rel)).map_err(|error| FixtureError::Rule {
            path: path.to_path_buf(),
            error,
        })?;
        rules.push(rule);
    }
    let overrides: BTreeMap<String, _> = rules
        .iter()
        .map(|r| (r.name.clone(), (r.meta.dwell, r.meta.cooldown)))
        .collect();
    let policy = Policy {
        min_dwell: chrono::Duration::minutes(file.policy.dwell_minutes),
        cooldown: chrono::Duration::minutes(file.policy.cooldown_minutes),
    };
    let calendars = file
        .calendars
        .iter()
        .map(|(name, spec)| calendar(name, spec).map(|c| (name.clone(), c)))
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map_err(invalid)?;

    let mut campaigns = Vec::new();
    for (i, spec) in file.campaigns.iter().enumerate() {
        let id = spec
            .id
            .as_deref()
            .ok_or_else(|| invalid(format!("campaigns[{i}] needs an `id`")))?;
        if !id.contains('/') {
            return Err(invalid(format!(
                "campaign id {id:?} must be \"<customer_id>/<campaign_id>\""
            )));
        }
        if campaigns.iter().any(|c: &CampaignFacts| c.id == id) {
            return Err(invalid(format!("campaign {id:?} is listed twice")));
        }
        let mut c = CampaignFacts::new(id, id);
        patch_campaign(&mut c, spec).map_err(|e| invalid(format!("campaign {id}: {e}")))?;
        campaigns.push(c);
    }
    let mut teams: BTreeMap<String, TeamFacts> = BTreeMap::new();
    for (name, spec) in &file.teams {
        patch_team(&mut teams, name, spec, None);
    }
    if file.steps.is_empty() {
        return Err(invalid(
            "a fixture needs at least one [[steps]]".to_string(),
        ));
    }

    let mut report = FixtureReport {
        path: path.to_path_buf(),
        description: file.description.clone(),
        steps: 0,
        failures: Vec::new(),
    };
    for (n, step) in file.steps.iter().enumerate() {
        let number = n + 1;
        let at = step.at.0;
        let label = format!("step {number} ({})", iso_utc(at));
        for (name, spec) in &step.teams {
            patch_team(&mut teams, name, spec, Some(at));
        }
        for (id, spec) in &step.campaigns {
            if spec.id.is_some() {
                return Err(invalid(format!(
                    "{label}: campaigns.{id:?} must not repeat `id`"
                )));
            }
            let c = campaigns
                .iter_mut()
                .find(|c| &c.id == id)
                .ok_or_else(|| invalid(format!("{label}: unknown campaign {id:?}")))?;
            patch_campaign(c, spec).map_err(|e| invalid(format!("{label}: campaign {id}: {e}")))?;
        }
        let facts = Facts {
            at,
            timezone: file.timezone.clone(),
            calendars: calendars.clone(),
            window_minutes: file.window_minutes,
            teams: teams.clone(),
            campaigns: campaigns.clone(),
        };
        let prepared = host.prepare(&facts);
        let mut proposals: Vec<Proposal> = Vec::new();
        let mut failures: Vec<(String, Option<String>, &'static str, String)> = Vec::new();
        for rule in &rules {
            let run = host.evaluate(rule, &prepared);
            proposals.extend(run.proposals);
            for f in run.failures {
                failures.push((
                    rule.name.clone(),
                    Some(f.campaign),
                    f.error.kind(),
                    f.error.to_string(),
                ));
            }
            if let Some(error) = run.aborted {
                failures.push((rule.name.clone(), None, error.kind(), error.to_string()));
            }
        }
        let resolution = resolve(at, proposals, &campaigns, &policy, &overrides);
        let problems = compare(step, &resolution, &failures);
        if !problems.is_empty() {
            report
                .failures
                .push(format!("{label}: {}", problems.join("; ")));
        }
        for p in &resolution.accepted {
            if let Some(c) = campaigns.iter_mut().find(|c| c.id == p.campaign) {
                apply(c, &p.decision.action, at);
            }
        }
        report.steps += 1;
    }
    Ok(report)
}

fn apply(c: &mut CampaignFacts, action: &Action, at: DateTime<Utc>) {
    match action {
        Action::Pause => c.status = CampaignStatus::Paused,
        Action::Resume => c.status = CampaignStatus::Enabled,
        Action::SetBudget {
            daily_budget_micros,
        } => c.daily_budget_micros = *daily_budget_micros,
        Action::SetBidTarget { bidding } => c.bidding = bidding.clone(),
        Action::SetAdSchedule { slots } => c.ad_schedule = slots.clone(),
        Action::Notify { .. } => return,
    }
    if let Some(field) = action.field() {
        c.last_change_at.insert(field.to_string(), at);
    }
}

/// `"set_budget 1/2 40.00 by rule"`.
fn short(p: &Proposal) -> String {
    let action = &p.decision.action;
    let described = action.describe();
    let details = described.strip_prefix(action.name()).unwrap_or_default();
    format!("{} {}{details} by {}", action.name(), p.campaign, p.rule)
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn compare(
    step: &StepSpec,
    resolution: &Resolution,
    failures: &[(String, Option<String>, &'static str, String)],
) -> Vec<String> {
    let mut problems = Vec::new();

    // Accepted decisions: exact set.
    let mut unmatched: Vec<&Proposal> = resolution.accepted.iter().collect();
    let mut missing = Vec::new();
    for want in &step.expect {
        match unmatched.iter().position(|p| want.matches(p)) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(want.describe()),
        }
    }
    if !missing.is_empty() || !unmatched.is_empty() {
        let expected: Vec<String> = step.expect.iter().map(ExpectSpec::describe).collect();
        let got: Vec<String> = resolution.accepted.iter().map(short).collect();
        let mut message = format!("expected {}, got {}", list(&expected), list(&got));
        if !resolution.suppressed.is_empty() {
            let why: Vec<String> = resolution
                .suppressed
                .iter()
                .map(|s| format!("{}: {}", short(&s.proposal), s.why))
                .collect();
            message.push_str(&format!(" (suppressed: {})", why.join(", ")));
        }
        if !failures.is_empty() {
            let f: Vec<String> = failures
                .iter()
                .map(|(rule, c, _, e)| format!("{rule} {}: {e}", c.as_deref().unwrap_or("(run)")))
                .collect();
            message.push_str(&format!(" (failures: {})", f.join(", ")));
        }
        problems.push(message);
    }

    // Suppressed proposals: exact set, when given.
    if let Some(expected) = &step.suppressed {
        let mut unmatched: Vec<_> = resolution.suppressed.iter().collect();
        let mut missing = Vec::new();
        for want in expected {
            match unmatched
                .iter()
                .position(|s| want.expect.matches(&s.proposal) && s.why.kind() == want.why)
            {
                Some(i) => {
                    unmatched.remove(i);
                }
                None => missing.push(format!("{} ({})", want.expect.describe(), want.why)),
            }
        }
        if !missing.is_empty() || !unmatched.is_empty() {
            let got: Vec<String> = resolution
                .suppressed
                .iter()
                .map(|s| format!("{} ({})", short(&s.proposal), s.why))
                .collect();
            let want: Vec<String> = expected
                .iter()
                .map(|w| format!("{} ({})", w.expect.describe(), w.why))
                .collect();
            problems.push(format!(
                "expected suppressed {}, got suppressed {}",
                list(&want),
                list(&got)
            ));
        }
    }

    // Failures: exact set (none unless listed).
    let expected = step.failures.as_deref().unwrap_or(&[]);
    let mut unmatched: Vec<_> = failures.iter().collect();
    let mut missing = Vec::new();
    for want in expected {
        match unmatched.iter().position(|(rule, campaign, kind, _)| {
            want.error == *kind
                && want.campaign.as_deref() == campaign.as_deref()
                && want.rule.as_ref().is_none_or(|r| r == rule)
        }) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(format!(
                "{} {}",
                want.error,
                want.campaign.as_deref().unwrap_or("(run)")
            )),
        }
    }
    if !missing.is_empty() || !unmatched.is_empty() {
        let got: Vec<String> = failures
            .iter()
            .map(|(rule, c, _, e)| format!("{rule} {}: {e}", c.as_deref().unwrap_or("(run)")))
            .collect();
        problems.push(format!(
            "expected failures {}, got failures {}",
            list(&missing),
            list(&got)
        ));
    }
    problems
}

// ------------------------------------------------------------------------------------
// File format.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    rule: Option<String>,
    rules: Option<Vec<String>>,
    description: Option<String>,
    #[serde(default = "utc")]
    timezone: String,
    #[serde(default = "sixty")]
    window_minutes: u32,
    #[serde(default)]
    policy: PolicySpec,
    #[serde(default)]
    calendars: BTreeMap<String, BTreeMap<String, toml::Value>>,
    #[serde(default)]
    teams: BTreeMap<String, TeamSpec>,
    #[serde(default)]
    campaigns: Vec<CampaignSpec>,
    #[serde(default)]
    steps: Vec<StepSpec>,
}

fn utc() -> String {
    "UTC".to_string()
}

fn sixty() -> u32 {
    60
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    #[serde(default)]
    dwell_minutes: i64,
    #[serde(default)]
    cooldown_minutes: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamSpec {
    agents_available: Option<u32>,
    open_leads: Option<u32>,
    max_open_leads: Option<u32>,
    leads_window: Option<u64>,
    updated_at: Option<Time>,
}

fn patch_team(
    teams: &mut BTreeMap<String, TeamFacts>,
    name: &str,
    spec: &TeamSpec,
    at: Option<DateTime<Utc>>,
) {
    let team = teams.entry(name.to_string()).or_insert_with(|| TeamFacts {
        team: name.to_string(),
        agents_available: 0,
        open_leads: 0,
        max_open_leads: 0,
        updated_at: None,
        leads_window: 0,
    });
    if let Some(v) = spec.agents_available {
        team.agents_available = v;
    }
    if let Some(v) = spec.open_leads {
        team.open_leads = v;
    }
    if let Some(v) = spec.max_open_leads {
        team.max_open_leads = v;
    }
    if let Some(v) = spec.leads_window {
        team.leads_window = v;
    }
    team.updated_at = spec
        .updated_at
        .as_ref()
        .map(|t| t.0)
        .or(at)
        .or(team.updated_at);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignSpec {
    id: Option<String>,
    name: Option<String>,
    labels: Option<Vec<String>>,
    team: Option<String>,
    status: Option<CampaignStatus>,
    daily_budget: Option<f64>,
    daily_budget_micros: Option<i64>,
    bidding: Option<BiddingSpec>,
    ad_schedule: Option<Vec<SlotSpec>>,
    manual_override_until: Option<TimeOrNone>,
    last_change_at: Option<BTreeMap<String, Time>>,
    pending_fields: Option<Vec<String>>,
    metrics_today: Option<MetricsSpec>,
    metrics_window: Option<MetricsSpec>,
    leads_today: Option<u64>,
    leads_window: Option<u64>,
}

fn patch_campaign(c: &mut CampaignFacts, spec: &CampaignSpec) -> Result<(), String> {
    if let Some(v) = &spec.name {
        c.name.clone_from(v);
    }
    if let Some(v) = &spec.labels {
        c.labels.clone_from(v);
    }
    if let Some(v) = &spec.team {
        c.team = (!v.is_empty()).then(|| v.clone());
    }
    if let Some(v) = spec.status {
        c.status = v;
    }
    match (spec.daily_budget, spec.daily_budget_micros) {
        (Some(_), Some(_)) => {
            return Err("give daily_budget or daily_budget_micros, not both".to_string())
        }
        (Some(units), None) => c.daily_budget_micros = to_micros(units)?,
        (None, Some(micros)) => c.daily_budget_micros = micros,
        (None, None) => {}
    }
    if let Some(v) = &spec.bidding {
        c.bidding = v.to_bidding()?;
    }
    if let Some(slots) = &spec.ad_schedule {
        c.ad_schedule = slots
            .iter()
            .map(SlotSpec::to_slot)
            .collect::<Result<_, _>>()?;
    }
    if let Some(v) = &spec.manual_override_until {
        c.manual_override_until = v.0;
    }
    if let Some(v) = &spec.last_change_at {
        for (field, t) in v {
            c.last_change_at.insert(field.clone(), t.0);
        }
    }
    if let Some(v) = &spec.pending_fields {
        c.pending_fields.clone_from(v);
    }
    if let Some(m) = &spec.metrics_today {
        c.metrics_today = m.to_metrics()?;
    }
    if let Some(m) = &spec.metrics_window {
        c.metrics_window = m.to_metrics()?;
    }
    if let Some(v) = spec.leads_today {
        c.leads_today = v;
    }
    if let Some(v) = spec.leads_window {
        c.leads_window = v;
    }
    Ok(())
}

fn to_micros(units: f64) -> Result<i64, String> {
    let v = (units * 1_000_000.0).round();
    if v.is_finite() && v.abs() < 9.0e18 {
        Ok(v as i64)
    } else {
        Err(format!("amount {units} is out of range"))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BiddingSpec {
    Named(String),
    TargetCpa { target_cpa: f64 },
    TargetRoas { target_roas: f64 },
}

impl BiddingSpec {
    fn to_bidding(&self) -> Result<Bidding, String> {
        Ok(match self {
            BiddingSpec::Named(n) => match n.as_str() {
                "manual_cpc" => Bidding::ManualCpc,
                "maximize_conversions" => Bidding::MaximizeConversions,
                other => Bidding::Other(other.to_string()),
            },
            BiddingSpec::TargetCpa { target_cpa } => Bidding::TargetCpa {
                target_cpa_micros: to_micros(*target_cpa)?,
            },
            BiddingSpec::TargetRoas { target_roas } => Bidding::TargetRoas {
                target_roas: *target_roas,
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotSpec {
    day: String,
    start: String,
    end: String,
    bid_modifier: Option<f64>,
}

impl SlotSpec {
    fn to_slot(&self) -> Result<AdScheduleSlot, String> {
        let day = parse_day(&self.day).ok_or_else(|| format!("unknown day {:?}", self.day))?;
        let time = |t: &str| parse_hhmm(t).ok_or_else(|| format!("bad time {t:?} (use HH:MM)"));
        let (start, end) = (time(&self.start)?, time(&self.end)?);
        let byte = |v: u32| u8::try_from(v).map_err(|_| "time out of range".to_string());
        Ok(AdScheduleSlot {
            day_of_week: day,
            start_hour: byte(start / 60)?,
            start_minute: byte(start % 60)?,
            end_hour: byte(end / 60)?,
            end_minute: byte(end % 60)?,
            bid_modifier: self.bid_modifier,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSpec {
    #[serde(default)]
    impressions: u64,
    #[serde(default)]
    clicks: u64,
    cost: Option<f64>,
    cost_micros: Option<i64>,
    #[serde(default)]
    conversions: f64,
}

impl MetricsSpec {
    fn to_metrics(&self) -> Result<Metrics, String> {
        let cost_micros = match (self.cost, self.cost_micros) {
            (Some(_), Some(_)) => return Err("give cost or cost_micros, not both".to_string()),
            (Some(units), None) => to_micros(units)?,
            (None, Some(m)) => m,
            (None, None) => 0,
        };
        Ok(Metrics {
            impressions: self.impressions,
            clicks: self.clicks,
            cost_micros,
            conversions: self.conversions,
        })
    }
}

fn calendar(name: &str, spec: &BTreeMap<String, toml::Value>) -> Result<Calendar, String> {
    let mut calendar = Calendar::default();
    for (key, value) in spec {
        if key == "holidays" {
            let dates = value
                .as_array()
                .ok_or_else(|| format!("calendars.{name}.holidays must be a list of dates"))?;
            for d in dates {
                let text = match d {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Datetime(dt) => dt.to_string(),
                    _ => String::new(),
                };
                let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                    format!("calendars.{name}.holidays: {d} is not a date (YYYY-MM-DD)")
                })?;
                calendar.holidays.push(date);
            }
            continue;
        }
        let bad =
            || format!("calendars.{name}.{key} must be a list of [\"HH:MM\", \"HH:MM\"] intervals");
        let intervals = value.as_array().ok_or_else(bad)?;
        let mut parsed = Vec::new();
        for interval in intervals {
            let pair = interval
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(bad)?;
            let s = pair[0].as_str().ok_or_else(bad)?;
            let e = pair[1].as_str().ok_or_else(bad)?;
            parsed.push([s.to_string(), e.to_string()]);
        }
        calendar.weekly.insert(key.clone(), parsed);
    }
    Ok(calendar)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    at: Time,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    #[serde(default)]
    teams: BTreeMap<String, TeamSpec>,
    #[serde(default)]
    campaigns: BTreeMap<String, CampaignSpec>,
    expect: Vec<ExpectSpec>,
    suppressed: Option<Vec<SuppressedSpec>>,
    failures: Option<Vec<FailureSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    campaign: String,
    action: String,
    rule: Option<String>,
    daily_budget: Option<f64>,
    daily_budget_micros: Option<i64>,
    message: Option<String>,
}

impl ExpectSpec {
    fn matches(&self, p: &Proposal) -> bool {
        let action = &p.decision.action;
        if p.campaign != self.campaign || action.name() != self.action {
            return false;
        }
        if self.rule.as_ref().is_some_and(|r| *r != p.rule) {
            return false;
        }
        let micros = self
            .daily_budget_micros
            .or_else(|| self.daily_budget.and_then(|u| to_micros(u).ok()));
        if let Some(want) = micros {
            match action {
                Action::SetBudget {
                    daily_budget_micros,
                } if *daily_budget_micros == want => {}
                _ => return false,
            }
        }
        if let Some(want) = &self.message {
            match action {
                Action::Notify { message } if message == want => {}
                _ => return false,
            }
        }
        true
    }

    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.action, self.campaign);
        if let Some(m) = self.daily_budget_micros {
            s.push_str(&format!(" budget_micros={m}"));
        }
        if let Some(u) = self.daily_budget {
            s.push_str(&format!(" budget={u:.2}"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!(" message={m:?}"));
        }
        if let Some(r) = &self.rule {
            s.push_str(&format!(" by {r}"));
        }
        s
    }
}

#[derive(Deserialize)]
struct SuppressedSpec {
    #[serde(flatten)]
    expect: ExpectSpec,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureSpec {
    campaign: Option<String>,
    error: String,
    rule: Option<String>,
}

/// A time given as a TOML datetime or an RFC 3339 string.
struct Time(DateTime<Utc>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        parse_time(&value)
            .map(Time)
            .map_err(serde::de::Error::custom)
    }
}

/// A time, or `""` / `false` for none (to clear a manual override in a later step).
struct TimeOrNone(Option<DateTime<Utc>>);

impl<'de> Deserialize<'de> for TimeOrNone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        match &value {
            toml::Value::String(s) if s.is_empty() => Ok(TimeOrNone(None)),
            toml::Value::Boolean(false) => Ok(TimeOrNone(None)),
            other => parse_time(other)
                .map(|t| TimeOrNone(Some(t)))
                .map_err(serde::de::Error::custom),
        }
    }
}

fn parse_time(value: &toml::Value) -> Result<DateTime<Utc>, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(format!(
                "expected a time such as \"2026-03-02T09:00:00Z\", got {other}"
            ))
        }
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("bad time {text:?}: {e} (use e.g. \"2026-03-02T09:00:00Z\")"))
}
