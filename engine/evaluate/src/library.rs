//! Saving rules into the log and reading them back: a rule's source is compiled (refused with
//! line and column when it does not compile), then recorded as a new rule or a new version of
//! an existing one. Every version stays: [`rule_history`] lists what happened to a rule,
//! [`rule_version`] finds one version's source, [`diff_versions`] compares two, and
//! [`rollback_rule`] records an earlier version's source as a new version; [`set_enabled`]
//! lets a rule act or stops it, and [`compile_saved`] compiles a saved version (for dry runs,
//! [`crate::dry_run`]). What the CLI, the HTTP API and the desktop show of saved rules comes
//! from here ([`list_rules`], [`rule_summaries`] and [`rule_header`] too).
//!
//! Rules are per project (ADR 0030): the functions here take the stored id
//! (`leadorch_domain::project::scoped`: `acme/capacity_gate` for project `acme`, bare in the
//! default project), so callers scope; what they name back (messages, compiled rules, history
//! entries, [`list_rules_in`]) is the bare id.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use leadorch_core::{projection, Engine};
use leadorch_domain::rule::RuleVersion;
use leadorch_domain::{project, stream_id, AnyEvent, Rule, RuleCommand, RuleError, RuleEvent};
use leadorch_rules::{parse_meta, source_digest, RuleHost, Schedule, Scope, Trigger};
use leadorch_store::{Metadata, Reveal};
use serde::Serialize;

use crate::tick::LoadedRule;
use crate::{Error, Result};

/// What saving did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// A new rule (version 1).
    Created,
    /// A new version of an existing rule.
    NewVersion,
    /// The source was the same as the current version.
    Unchanged,
}

/// The rule id of a file: its stem (`rules/capacity_gate.rhai` → `capacity_gate`).
pub fn rule_id_of(path: &Path) -> Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Input(format!(
                "{}: cannot name a rule after this file",
                path.display()
            ))
        })
}

/// Compiles and records `source` as rule `id` (the stored id: `<project>/<id>` outside the
/// default project, [`leadorch_domain::project::scoped`]); `enable` enables it when it is not
/// yet.
pub async fn save_rule(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    source: &str,
    enable: bool,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<Saved> {
    save_rule_with(
        engine,
        host,
        id,
        source,
        enable,
        at,
        &Metadata::actor(actor),
    )
    .await
    .map(|outcome| outcome.saved)
}

/// What [`save_rule_with`] recorded, and the rule after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveOutcome {
    /// What became of the source.
    pub saved: Saved,
    /// The current version after saving (the new one, or the unchanged current one).
    pub version: u32,
    /// Whether the rule is enabled after saving.
    pub enabled: bool,
    /// Whether this save enabled it (`enable` on a rule that was disabled).
    pub enabled_now: bool,
}

/// [`save_rule`] with the events' metadata given whole (an API key's actor and a trace id),
/// saying what it recorded. Nothing is recorded when the source does not compile
/// ([`Error::Compile`], with line and column).
pub async fn save_rule_with(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    source: &str,
    enable: bool,
    at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<SaveOutcome> {
    let compiled = host.compile(shown(id), source)?;
    let state = load_rule(engine, id).await?;
    let (saved, version) = match state.current() {
        None => {
            engine
                .execute::<Rule>(
                    id,
                    RuleCommand::Create {
                        name: id.to_string(),
                        source: source.to_string(),
                        priority: compiled.meta.priority,
                        at,
                    },
                    metadata,
                )
                .await?;
            (Saved::Created, 1)
        }
        Some(v) if v.source == source => (Saved::Unchanged, v.version),
        Some(v) => {
            engine
                .execute::<Rule>(
                    id,
                    RuleCommand::Update {
                        source: source.to_string(),
                        at,
                    },
                    metadata,
                )
                .await?;
            (Saved::NewVersion, v.version.saturating_add(1))
        }
    };
    let was_enabled = state.is_enabled();
    let enabled_now = enable && !was_enabled;
    if enabled_now {
        engine
            .execute::<Rule>(id, RuleCommand::Enable { at }, metadata)
            .await?;
    }
    Ok(SaveOutcome {
        saved,
        version,
        enabled: was_enabled || enabled_now,
        enabled_now,
    })
}

/// Lets saved rule `id` act (`enabled`) or stops it; `Ok(false)`, recording nothing, when it
/// already is so. An error naming `id` when it was never saved ([`Error::NotFound`]) or was
/// deleted ([`Error::Conflict`]).
pub async fn set_enabled(
    engine: &Engine,
    id: &str,
    enabled: bool,
    at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<bool> {
    let state = saved_rule(engine, id).await?;
    if state.deleted_at().is_some() {
        return Err(Error::Conflict(format!(
            "rule {} was deleted: it can be neither enabled nor disabled",
            shown(id)
        )));
    }
    if state.is_enabled() == enabled {
        return Ok(false);
    }
    let command = if enabled {
        RuleCommand::Enable { at }
    } else {
        RuleCommand::Disable { at }
    };
    match engine.execute::<Rule>(id, command, metadata).await {
        Ok(_) => Ok(true),
        // Someone else did the same meanwhile: it is so, and this call recorded nothing.
        Err(leadorch_core::Error::Rejected { .. })
            if load_rule(engine, id).await?.is_enabled() == enabled =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Version `version` (or the current one) of saved rule `id` (the stored id), compiled
/// against `host`'s library, ready to evaluate ([`crate::dry_run`], backtests). The rule is
/// named bare, as its project's rules are when they run ([`crate::tick::RuleSet::enabled`]):
/// `acme/capacity_gate` runs, proposes and is reported as `capacity_gate`. An error naming
/// `id` when it was never saved, the versions when it has no such version, and
/// [`Error::Compile`] when that source no longer compiles.
pub async fn compile_saved(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    version: Option<u32>,
) -> Result<Arc<LoadedRule>> {
    let state = saved_rule(engine, id).await?;
    let name = shown(id);
    let v = rule_version(&state, name, version)?;
    let compiled = host.compile(name, &v.source)?;
    Ok(Arc::new(LoadedRule {
        id: name.to_string(),
        version: v.version,
        compiled,
    }))
}

/// A saved rule's state; an error naming `id` when no rule of that id was ever saved.
pub async fn saved_rule(engine: &Engine, id: &str) -> Result<Rule> {
    let state = load_rule(engine, id).await?;
    if state.current().is_none() {
        return Err(not_found(id));
    }
    Ok(state)
}

fn not_found(id: &str) -> Error {
    Error::NotFound(match project::of(id) {
        project::DEFAULT => {
            format!("no saved rule {id:?}: `leadorch rules list` shows the saved rules")
        }
        other => format!(
            "no saved rule {:?} in project {other}: `leadorch rules --project {other} list` shows its saved rules",
            shown(id)
        ),
    })
}

/// The id a stored rule id is known by in its own project (`acme/capacity_gate` →
/// `capacity_gate`): what messages, compiled rules and history entries name.
fn shown(stored: &str) -> &str {
    project::unscoped(project::of(stored), stored).unwrap_or(stored)
}

/// Version `version` of a saved rule, or its current version (`None`); an error naming the
/// versions that exist when it has no such version.
pub fn rule_version<'a>(rule: &'a Rule, id: &str, version: Option<u32>) -> Result<&'a RuleVersion> {
    let found = match version {
        None => rule.current(),
        Some(n) => rule.versions().iter().find(|v| v.version == n),
    };
    found.ok_or_else(|| {
        let what = version.map_or("no version".to_string(), |n| format!("no version {n}"));
        Error::NotFound(format!(
            "rule {id} has {what} (it has {})",
            versions_text(rule.versions())
        ))
    })
}

/// "versions 1, 2, 3" (or "versions 1 to 40" when there are many; they are numbered from 1
/// without gaps).
fn versions_text(versions: &[RuleVersion]) -> String {
    match versions {
        [] => "no versions".to_string(),
        [one] => format!("version {}", one.version),
        [first, .., last] if versions.len() > 10 => {
            format!("versions {} to {}", first.version, last.version)
        }
        many => format!(
            "versions {}",
            many.iter()
                .map(|v| v.version.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What one event of a rule's stream did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The rule was saved for the first time (version 1, disabled).
    Created,
    /// A new version of the source was saved.
    NewVersion,
    /// A new version restoring an earlier version's source ([`HistoryEntry::rolled_back_to`]).
    RolledBack,
    /// The rule was allowed to act.
    Enabled,
    /// The rule was stopped from acting.
    Disabled,
    /// The rule was deleted (its history stays).
    Deleted,
}

impl Change {
    /// The JSON name: `created`, `new_version`, `rolled_back`, `enabled`, `disabled`,
    /// `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::NewVersion => "new_version",
            Change::RolledBack => "rolled_back",
            Change::Enabled => "enabled",
            Change::Disabled => "disabled",
            Change::Deleted => "deleted",
        }
    }
}

/// One event of a rule's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Rule id, as its project knows it (bare: `capacity_gate` for `acme/capacity_gate`).
    pub rule: String,
    /// The event's position in the log.
    pub position: u64,
    /// The version current after the event (the new one for a new version or a rollback).
    pub version: u32,
    /// When it happened (the event's time).
    pub at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Who acted (the event's metadata: `cli:alice`, `daemon`, `api:key-id`, `demo`).
    pub actor: String,
    /// What happened.
    pub what: Change,
    /// For a rollback: the earlier version whose source it restores.
    pub rolled_back_to: Option<u32>,
    /// Digest of the source of `version` ([`leadorch_rules::source_digest`], what
    /// evaluations record).
    pub source_digest: String,
}

/// Every event of a saved rule, oldest first; an error naming `id` when it was never saved.
pub async fn rule_history(engine: &Engine, id: &str) -> Result<Vec<HistoryEntry>> {
    let records = engine.store.log.read_stream(&stream_id("rule", id)).await?;
    let mut decoder = engine.store.codec.decoder(Reveal::Redact);
    let mut entries = Vec::with_capacity(records.len());
    let mut current: Option<(u32, String)> = None;
    for rec in records {
        let AnyEvent::Rule(event) = projection::decode(&mut decoder, &rec).await? else {
            continue;
        };
        let (what, at, rolled_back_to) = match event {
            RuleEvent::RuleCreated {
                version,
                source,
                at,
                ..
            } => {
                current = Some((version, source_digest(&source)));
                (Change::Created, at, None)
            }
            RuleEvent::RuleVersionAdded {
                version,
                source,
                at,
                rolled_back_to,
            } => {
                current = Some((version, source_digest(&source)));
                let what = match rolled_back_to {
                    Some(_) => Change::RolledBack,
                    None => Change::NewVersion,
                };
                (what, at, rolled_back_to)
            }
            RuleEvent::RuleEnabled { at } => (Change::Enabled, at, None),
            RuleEvent::RuleDisabled { at } => (Change::Disabled, at, None),
            RuleEvent::RuleDeleted { at } => (Change::Deleted, at, None),
        };
        let (version, digest) = current.clone().unwrap_or_default();
        entries.push(HistoryEntry {
            rule: shown(id).to_string(),
            position: rec.position,
            version,
            at,
            recorded_at: rec.recorded_at_utc(),
            actor: rec.metadata().actor,
            what,
            rolled_back_to,
            source_digest: digest,
        });
    }
    if entries.is_empty() {
        return Err(not_found(id));
    }
    Ok(entries)
}

/// A unified diff of two versions' sources, with `--- ID vA` and `+++ ID vB` headers (always
/// present; nothing follows them when the sources are equal) and three lines of context.
pub fn diff_versions(id: &str, a: &RuleVersion, b: &RuleVersion) -> String {
    use std::fmt::Write as _;
    let diff = similar::TextDiff::from_lines(&a.source, &b.source);
    let mut out = format!("--- {id} v{}\n+++ {id} v{}\n", a.version, b.version);
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    for hunk in unified.iter_hunks() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{hunk}");
    }
    out
}

/// What a rollback recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolledBack {
    /// The earlier version whose source was restored.
    pub to: u32,
    /// The new version recorded with that source.
    pub version: u32,
    /// Whether the rule is enabled (a rollback does not change it).
    pub enabled: bool,
}

/// Records version `to`'s source as a new version of rule `id`, marked as a rollback. Refused,
/// recording nothing, when the rule or the version does not exist ([`Error::NotFound`]), when
/// that source is the current one ("version N is already current") or the rule was deleted
/// ([`Error::Conflict`]), and when it no longer compiles against `host`'s library
/// ([`Error::NoLongerCompiles`], with line and column).
pub async fn rollback_rule(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    to: u32,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<RolledBack> {
    rollback_rule_with(engine, host, id, to, at, &Metadata::actor(actor)).await
}

/// [`rollback_rule`] with the event's metadata given whole (an API key's actor and a trace
/// id).
pub async fn rollback_rule_with(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    to: u32,
    at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<RolledBack> {
    let state = saved_rule(engine, id).await?;
    let name = shown(id);
    let target = rule_version(&state, name, Some(to))?;
    let command = RuleCommand::Rollback { to, at };
    // The domain's refusals (deleted, already current) before compiling: the same decision
    // the command gets below.
    if let Err(refused) = state.decide(command.clone()) {
        return Err(match refused {
            RuleError::NoSuchVersion(_) => rule_version(&state, name, Some(to))
                .err()
                .unwrap_or_else(|| Error::Input(format!("rule {name}: {refused}"))),
            other => Error::Conflict(format!("rule {name}: {other}")),
        });
    }
    host.compile(name, &target.source)
        .map_err(|error| Error::NoLongerCompiles {
            rule: name.to_string(),
            version: to,
            error,
        })?;
    engine.execute::<Rule>(id, command, metadata).await?;
    let state = load_rule(engine, id).await?;
    Ok(RolledBack {
        to,
        version: state.current().map_or(0, |v| v.version),
        enabled: state.is_enabled(),
    })
}

/// A saved rule as listed: its current version with the priority, scope, timer and triggers
/// of that version's `//!` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    /// Rule id.
    pub id: String,
    /// Current version.
    pub version: u32,
    /// Whether it may act.
    pub enabled: bool,
    /// Evaluation order of the current version (its header's `priority:`; the priority
    /// recorded at creation when the header cannot be read).
    pub priority: i32,
    /// Which campaigns it is evaluated for (empty: all); `None` when the header cannot be
    /// read.
    pub scope: Option<Scope>,
    /// Its header's timer (`every:` or `cron:`); `None` without one (the daemon then runs it
    /// on the configured default period) or when the header cannot be read.
    pub schedule: Option<Timer>,
    /// Events that also make it run (`on:`).
    pub triggers: Vec<Trigger>,
    /// Why the header cannot be read (a saved rule's header always could when it was saved).
    pub header_error: Option<String>,
}

/// A rule's timer as its header writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// `every: 5m`: the period (`30s`, `5m`, `1h30m`, `1d`).
    Every(String),
    /// `cron: */10 8-18 * * mon-fri`: the pattern.
    Cron(String),
}

impl From<&Schedule> for Timer {
    fn from(s: &Schedule) -> Timer {
        match s {
            Schedule::Every(period) => Timer::Every(duration_text(*period)),
            Schedule::Cron(pattern) => Timer::Cron(pattern.clone()),
        }
    }
}

/// A duration as headers write it: `1d`, `2h`, `1h30m`, `45s`; `0` for none.
pub fn duration_text(d: chrono::Duration) -> String {
    let mut secs = d.num_seconds();
    if secs <= 0 {
        return "0".to_string();
    }
    use std::fmt::Write as _;
    let mut out = String::new();
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if secs >= size {
            // Writing to a String cannot fail.
            let _ = write!(out, "{}{unit}", secs / size);
            secs %= size;
        }
    }
    out
}

/// What a rule's `//!` header says ([`leadorch_rules::parse_meta`]), in the words headers
/// use: durations as text, the timer as [`Timer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleHeader {
    /// The prose before the first key.
    pub description: Option<String>,
    /// `priority:` (0 when not given).
    pub priority: i32,
    /// `scope:` (empty: every campaign).
    pub scope: Scope,
    /// `every:` or `cron:`.
    pub schedule: Option<Timer>,
    /// `on:`.
    pub triggers: Vec<Trigger>,
    /// `dwell:`, the rule's own minimum time between status changes.
    pub dwell: Option<String>,
    /// `cooldown:`, the rule's own minimum time between changes of one field.
    pub cooldown: Option<String>,
}

/// Reads the header of `source`; the error says which line is wrong and why.
pub fn rule_header(source: &str) -> std::result::Result<RuleHeader, leadorch_rules::MetaError> {
    let meta = parse_meta(source)?;
    Ok(RuleHeader {
        description: meta.description,
        priority: meta.priority,
        scope: meta.scope,
        schedule: meta.schedule.as_ref().map(Timer::from),
        triggers: meta.triggers,
        dwell: meta.dwell.map(duration_text),
        cooldown: meta.cooldown.map(duration_text),
    })
}

/// Every saved rule that is not deleted, by id (the rules read model as of the head).
pub async fn list_rules(engine: &Engine) -> Result<Vec<RuleSummary>> {
    let models = projection::current(&engine.store, &["rules"]).await?;
    Ok(rule_summaries(&models))
}

/// Every saved rule of `project` that is not deleted, by id, named bare (stored as
/// `<project>/<id>` outside the default project).
pub async fn list_rules_in(engine: &Engine, project: &str) -> Result<Vec<RuleSummary>> {
    let models = projection::current(&engine.store, &["rules"]).await?;
    Ok(rule_summaries_in(&models, project))
}

/// [`rule_summaries`] of `project`'s rules, named bare.
pub fn rule_summaries_in(models: &projection::Projections, project: &str) -> Vec<RuleSummary> {
    summaries_of(models.rules.iter().filter_map(|(id, doc)| {
        leadorch_domain::project::unscoped(project, id).map(|bare| (bare, &doc.state))
    }))
}

/// Every saved rule of `models` that is not deleted, by id (for a caller that keeps the read
/// models itself, like the HTTP API).
pub fn rule_summaries(models: &projection::Projections) -> Vec<RuleSummary> {
    summaries_of(
        models
            .rules
            .iter()
            .map(|(id, doc)| (id.as_str(), &doc.state)),
    )
}

/// [`rule_summaries`] of rules from any view (the facts view's, the read models'), by id.
pub fn summaries_of<'a>(
    rules_by_id: impl Iterator<Item = (&'a str, &'a leadorch_domain::Rule)>,
) -> Vec<RuleSummary> {
    let mut rules = Vec::new();
    for (id, rule) in rules_by_id {
        let Some(current) = rule.current() else {
            continue;
        };
        if rule.deleted_at().is_some() {
            continue;
        }
        let summary = match rule_header(&current.source) {
            Ok(header) => RuleSummary {
                id: id.to_string(),
                version: current.version,
                enabled: rule.is_enabled(),
                priority: header.priority,
                scope: Some(header.scope),
                schedule: header.schedule,
                triggers: header.triggers,
                header_error: None,
            },
            Err(e) => RuleSummary {
                id: id.to_string(),
                version: current.version,
                enabled: rule.is_enabled(),
                priority: rule.priority(),
                scope: None,
                schedule: None,
                triggers: Vec::new(),
                header_error: Some(e.to_string()),
            },
        };
        rules.push(summary);
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    rules
}

/// A rule's state from its stream (default when it does not exist).
pub async fn load_rule(engine: &Engine, id: &str) -> Result<Rule> {
    Ok(engine
        .load_state::<Rule>(id, |e| match e {
            leadorch_domain::AnyEvent::Rule(e) => Some(e),
            _ => None,
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(version: u32, source: &str) -> RuleVersion {
        RuleVersion {
            version,
            source: source.to_string(),
            at: DateTime::<Utc>::default(),
        }
    }

    #[test]
    fn a_missing_version_names_the_ones_that_exist() {
        let mut rule = Rule::default();
        let err = |rule: &Rule, n| rule_version(rule, "gate", Some(n)).unwrap_err().to_string();
        assert_eq!(
            err(&rule, 1),
            "rule gate has no version 1 (it has no versions)"
        );
        for event in std::iter::once(RuleEvent::RuleCreated {
            name: "gate".into(),
            source: "a".into(),
            priority: 0,
            version: 1,
            at: DateTime::<Utc>::default(),
        })
        .chain((2..=12).map(|n| RuleEvent::RuleVersionAdded {
            version: n,
            source: n.to_string(),
            at: DateTime::<Utc>::default(),
            rolled_back_to: None,
        })) {
            cqrs_es::Aggregate::apply(&mut rule, event);
            if rule.versions().len() == 1 {
                assert_eq!(
                    err(&rule, 2),
                    "rule gate has no version 2 (it has version 1)"
                );
            }
        }
        assert_eq!(
            err(&rule, 13),
            "rule gate has no version 13 (it has versions 1 to 12)"
        );
        assert_eq!(
            rule_version(&rule, "gate", None).map(|v| v.version).ok(),
            Some(12)
        );
    }

    #[test]
    fn durations_read_as_headers_write_them() {
        let text = |secs| duration_text(chrono::Duration::seconds(secs));
        assert_eq!(text(300), "5m");
        assert_eq!(text(5_400), "1h30m");
        assert_eq!(text(86_400), "1d");
        assert_eq!(text(45), "45s");
        assert_eq!(text(0), "0");
        let header = rule_header("//! Pause when full.\n//! priority: 7\n//! every: 1h30m\n//! on: lead_received\n//! dwell: 20m\n1")
            .expect("a header");
        assert_eq!(header.schedule, Some(Timer::Every("1h30m".into())));
        assert_eq!(header.dwell.as_deref(), Some("20m"));
        assert_eq!(header.priority, 7);
        assert_eq!(header.description.as_deref(), Some("Pause when full."));
        assert_eq!(header.triggers, vec![Trigger::LeadReceived]);
        assert_eq!(
            rule_header("//! priority: 1\n//! cron: */5 * * * *\n")
                .unwrap()
                .schedule,
            Some(Timer::Cron("*/5 * * * *".into()))
        );
    }

    #[test]
    fn another_project_s_rule_is_named_bare_and_its_absence_names_the_project() {
        assert_eq!(shown("acme/capacity_gate"), "capacity_gate");
        assert_eq!(shown("capacity_gate"), "capacity_gate");
        assert_eq!(
            not_found("acme/gate").to_string(),
            "no saved rule \"gate\" in project acme: `leadorch rules --project acme list` shows its saved rules"
        );
        assert_eq!(
            not_found("gate").to_string(),
            "no saved rule \"gate\": `leadorch rules list` shows the saved rules"
        );
    }

    #[test]
    fn a_diff_marks_a_missing_final_newline() {
        let diff = diff_versions("gate", &version(1, "a\nb"), &version(2, "a\nc\n"));
        assert_eq!(
            diff,
            "--- gate v1\n+++ gate v2\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
        );
    }
}

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The source does not compile.
    Error,
    /// It compiles, but reads a fact rules do not see (an error at run time).
    Warning,
}

/// One thing `rules check` says about a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// What checking one source found: the compiled rule, or the compile error; and the
/// warnings about facts rules do not see (only for a source that compiles).
#[derive(Debug)]
pub struct Checked {
    /// The compiled rule, or why it does not compile.
    pub compiled: std::result::Result<leadorch_rules::CompiledRule, leadorch_rules::CompileError>,
    /// Reads of facts rules do not see, in source order.
    pub unknown_facts: Vec<leadorch_rules::UnknownFact>,
}

impl Checked {
    /// Every diagnostic with its line and column: the compile error, else the warnings.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match &self.compiled {
            Err(e) => vec![Diagnostic {
                severity: Severity::Error,
                line: e.line,
                column: e.column,
                message: e.message.clone(),
            }],
            Ok(_) => self
                .unknown_facts
                .iter()
                .map(|u| Diagnostic {
                    severity: Severity::Warning,
                    line: Some(u.line),
                    column: Some(u.column),
                    message: u.to_string(),
                })
                .collect(),
        }
    }

    /// Whether the compile error is an `import` of a module the library does not have.
    pub fn unknown_module(&self) -> bool {
        self.compiled
            .as_ref()
            .is_err_and(|e| e.message.starts_with("unknown module"))
    }
}

/// Compiles `source` as rule `id` against `host`'s library and looks for reads of facts
/// rules do not see: what `leadorch rules check` reports per file and `POST /v1/rules/check`
/// answers.
pub fn check_source(host: &RuleHost, id: &str, source: &str) -> Checked {
    let compiled = host.compile(id, source);
    let unknown_facts = if compiled.is_ok() {
        leadorch_rules::unknown_facts(source)
    } else {
        Vec::new()
    };
    Checked {
        compiled,
        unknown_facts,
    }
}
