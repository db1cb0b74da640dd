//! Scenario fixtures: TOML files describing facts over time and the decisions expected at
//! each step, run through the real host and arbiter (`leadorch rules test rules/fixtures`).
//!
//! The format is documented in `rules/README.md`. In short: a fixture names one rule
//! (`rule = "../x.rhai"`) or several (`rules = [...]`), sets up campaigns, and lists steps;
//! each step may change team capacity and campaign facts, and states the exact set of
//! accepted decisions (`expect`), optionally the suppressed ones and the failures. After a
//! step the accepted changes are applied to the campaigns (as if executed at once, with
//! `last_change_at` = step time), so hysteresis, dwell and cooldown can be exercised.
//!
//! This file is the runner; what a fixture file may say (its serde types, and how its
//! entries patch the facts) is in `fixtures/spec.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::arbiter::{resolve, Policy, Resolution};
use crate::decision::{Action, Proposal};
use crate::facts::{CampaignFacts, Facts, TeamFacts};
use crate::host::{CompileError, CompiledRule, RuleHost};
use crate::view::iso_utc;

mod spec;

use spec::{calendar, patch_campaign, patch_team, ExpectSpec, FixtureFile, StepSpec};

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
    /// Every step as run: what it expected and what happened.
    pub outcomes: Vec<StepOutcome>,
}

/// One step of a fixture as run: what it expected, what the rules and the arbiter decided,
/// and what differed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    /// The step's number, from 1.
    pub number: usize,
    /// The step's time (the rules' clock).
    pub at: DateTime<Utc>,
    /// The step's `note`, if any.
    pub note: Option<String>,
    /// The decisions the step expects to be accepted, as the fixture states them
    /// (`"pause 1/2 by capacity_gate"`).
    pub expected: Vec<String>,
    /// The decisions the arbiter accepted (`"pause 1/2 by capacity_gate"`).
    pub accepted: Vec<String>,
    /// The proposals it held, with why.
    pub suppressed: Vec<String>,
    /// The rules' failures (`"capacity_gate 1/2: …"`).
    pub failures: Vec<String>,
    /// What differed from the step's expectations (accepted, suppressed or failures); empty
    /// when the step matched.
    pub problems: Vec<String>,
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
    let source = read_file(path).map_err(|e| CompileError {
        rule: name.clone(),
        line: None,
        column: None,
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    host.compile(&name, &source)
}

/// Runs every `*.toml` fixture in `dir` (not recursive), in file-name order. Stops at the
/// first fixture that cannot be run.
// Allowed: the fixtures runner lists the fixture folder it is given (a test tool, not part
// of evaluating rules).
#[allow(clippy::disallowed_methods)]
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

/// Reads a rule or fixture file.
// Allowed: the fixtures runner and `leadorch rules check` read the files they are given (a
// test tool, not part of evaluating rules; the host itself reads only `rules/lib`).
#[allow(clippy::disallowed_methods)]
fn read_file(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Runs one fixture file; the rules it names are read relative to its folder.
pub fn run_fixture(host: &RuleHost, path: &Path) -> Result<FixtureReport, FixtureError> {
    let text = read_file(path).map_err(|source| FixtureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    run_fixture_source(host, path, &text, &mut |rel| {
        check_rule_file(host, &base.join(rel))
    })
}

fn parse_fixture(path: &Path, text: &str) -> Result<FixtureFile, FixtureError> {
    toml::from_str(text).map_err(|e| FixtureError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn rule_refs<'a>(path: &Path, file: &'a FixtureFile) -> Result<Vec<&'a String>, FixtureError> {
    match (&file.rule, &file.rules) {
        (Some(one), None) => Ok(vec![one]),
        (None, Some(many)) if !many.is_empty() => Ok(many.iter().collect()),
        _ => Err(FixtureError::Invalid {
            path: path.to_path_buf(),
            message:
                "name the rule under test with `rule = \"…\"` or `rules = [\"…\", …]` (one of them)"
                    .to_string(),
        }),
    }
}

/// The rules a fixture's text names (`rule = …` or `rules = […]`), as written
/// (`"../capacity_gate.rhai"`); `path` only labels errors.
pub fn fixture_rules(path: &Path, text: &str) -> Result<Vec<String>, FixtureError> {
    let file = parse_fixture(path, text)?;
    Ok(rule_refs(path, &file)?.into_iter().cloned().collect())
}

/// Runs a fixture given as text (`path` only labels it); `load` compiles each rule the
/// fixture names, given the name as written (`"../capacity_gate.rhai"`). What
/// [`run_fixture`] does with files, and the HTTP API with sources it was sent.
pub fn run_fixture_source(
    host: &RuleHost,
    path: &Path,
    text: &str,
    load: &mut dyn FnMut(&str) -> Result<CompiledRule, CompileError>,
) -> Result<FixtureReport, FixtureError> {
    let file = parse_fixture(path, text)?;
    let invalid = |message: String| FixtureError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut rules = Vec::new();
    for rel in rule_refs(path, &file)? {
        let rule = load(rel).map_err(|error| FixtureError::Rule {
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
        outcomes: Vec::new(),
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
        report.outcomes.push(StepOutcome {
            number,
            at,
            note: step.note.clone(),
            expected: step.expect.iter().map(ExpectSpec::describe).collect(),
            accepted: resolution.accepted.iter().map(short).collect(),
            suppressed: resolution
                .suppressed
                .iter()
                .map(|s| format!("{} ({})", short(&s.proposal), s.why))
                .collect(),
            failures: failures
                .iter()
                .map(|(rule, c, _, e)| format!("{rule} {}: {e}", c.as_deref().unwrap_or("(run)")))
                .collect(),
            problems,
        });
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
    let Some(change) = action.to_change() else {
        return; // a notification
    };
    c.apply(&change);
    c.last_change_at.insert(change.field().to_string(), at);
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
