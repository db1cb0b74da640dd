//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadorch_rules::{
    CampaignFacts, CompiledRule, Facts, Limits, PreparedFacts, RuleHost, RuleRun, TeamFacts,
};

/// `rules/` at the workspace root.
pub fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

/// A host with the real `rules/lib` and the test [`limits`].
pub fn host() -> RuleHost {
    host_with(limits())
}

/// The default limits, except a wall-clock budget no test reaches before the outcome it
/// checks: a debug build on a busy machine can take longer than the production budget
/// (50 ms) for a run that is otherwise fine or stopped by another limit, and tests must not
/// depend on how fast the machine is. Tests of the wall-clock budget set their own.
pub fn limits() -> Limits {
    Limits {
        wall_clock: Duration::from_secs(60),
        ..Limits::default()
    }
}

pub fn host_with(limits: Limits) -> RuleHost {
    RuleHost::new(Some(&rules_dir().join("lib")), limits).expect("host builds")
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

pub fn team(name: &str, agents: u32, open: u32, max: u32) -> TeamFacts {
    TeamFacts {
        team: name.to_string(),
        agents_available: agents,
        open_leads: open,
        max_open_leads: max,
        updated_at: None,
        leads_window: 0,
        max_age_secs: None,
    }
}

pub fn campaign(n: u32, labels: &[&str], team: Option<&str>) -> CampaignFacts {
    let mut c = CampaignFacts::new(&format!("111-222-3333/{n}"), &format!("Campaign {n}"));
    c.labels = labels.iter().map(|l| l.to_string()).collect();
    c.team = team.map(str::to_string);
    c.daily_budget_micros = 50_000_000;
    c
}

/// Facts at Monday 2026-03-02 10:00 UTC with one team `sales-nl` at the given load.
pub fn facts(campaigns: Vec<CampaignFacts>, open: u32) -> Facts {
    let mut teams = BTreeMap::new();
    teams.insert("sales-nl".to_string(), team("sales-nl", 4, open, 100));
    Facts {
        at: t("2026-03-02T10:00:00Z"),
        timezone: "Europe/Amsterdam".to_string(),
        calendars: BTreeMap::new(),
        window_minutes: 60,
        teams,
        campaigns,
    }
}

/// Three campaigns of team sales-nl.
pub fn three() -> Vec<CampaignFacts> {
    (1..=3)
        .map(|n| campaign(n, &["x"], Some("sales-nl")))
        .collect()
}

pub fn compile(host: &RuleHost, source: &str) -> CompiledRule {
    host.compile("test_rule", source)
        .unwrap_or_else(|e| panic!("compiles: {e}"))
}

pub fn run(host: &RuleHost, source: &str, facts: &Facts) -> RuleRun {
    let rule = compile(host, source);
    let prepared: PreparedFacts = host.prepare(facts);
    host.evaluate(&rule, &prepared)
}
