//! Saving rules into the log and reading them back: a rule's source is compiled (refused with
//! line and column when it does not compile), then recorded as a new rule or a new version of
//! an existing one. Every version stays: [`rule_history`] lists what happened to a rule,
//! [`rule_version`] finds one version's source, [`diff_versions`] compares two, and
//! [`rollback_rule`] records an earlier version's source as a new version. What the CLI, the
//! HTTP API and the desktop show of saved rules comes from here ([`list_rules`] too).

use std::path::Path;

use chrono::{DateTime, Utc};
use leadorch_core::{projection, Engine};
use leadorch_domain::rule::RuleVersion;
use leadorch_domain::{stream_id, AnyEvent, Rule, RuleCommand, RuleError, RuleEvent};
use leadorch_rules::{parse_meta, source_digest, RuleHost, Scope};
use leadorch_store::{Metadata, Reveal};
use serde::Serialize;

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

/// Compiles and records `source` as rule `id`; `enable` enables it when it is not yet.
pub async fn save_rule(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    source: &str,
    enable: bool,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<Saved> {
    let compiled = host.compile(id, source)?;
    let metadata = Metadata::actor(actor);
    let state = load_rule(engine, id).await?;
    let saved = match state.current() {
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
                    &metadata,
                )
                .await?;
            Saved::Created
        }
        Some(v) if v.source == source => Saved::Unchanged,
        Some(_) => {
            engine
                .execute::<Rule>(
                    id,
                    RuleCommand::Update {
                        source: source.to_string(),
                        at,
                    },
                    &metadata,
                )
                .await?;
            Saved::NewVersion
        }
    };
    let enabled = state.is_enabled();
    if enable && !enabled {
        engine
            .execute::<Rule>(id, RuleCommand::Enable { at }, &metadata)
            .await?;
    }
    Ok(saved)
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
    Error::NotFound(format!(
        "no saved rule {id:?}: `leadorch rules list` shows the saved rules"
    ))
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
    /// Rule id.
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
            rule: id.to_string(),
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
/// recording nothing, when the rule or the version does not exist, when that source is the
/// current one ("version N is already current"), and when it no longer compiles against
/// `host`'s library ([`Error::NoLongerCompiles`], with line and column).
pub async fn rollback_rule(
    engine: &Engine,
    host: &RuleHost,
    id: &str,
    to: u32,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<RolledBack> {
    let state = saved_rule(engine, id).await?;
    let target = rule_version(&state, id, Some(to))?;
    let command = RuleCommand::Rollback { to, at };
    // The domain's refusals (deleted, already current) before compiling: the same decision
    // the command gets below.
    if let Err(refused) = state.decide(command.clone()) {
        return Err(match refused {
            RuleError::NoSuchVersion(_) => rule_version(&state, id, Some(to))
                .err()
                .unwrap_or_else(|| Error::Input(format!("rule {id}: {refused}"))),
            other => Error::Input(format!("rule {id}: {other}")),
        });
    }
    host.compile(id, &target.source)
        .map_err(|error| Error::NoLongerCompiles {
            rule: id.to_string(),
            version: to,
            error,
        })?;
    engine
        .execute::<Rule>(id, command, &Metadata::actor(actor))
        .await?;
    let state = load_rule(engine, id).await?;
    Ok(RolledBack {
        to,
        version: state.current().map_or(0, |v| v.version),
        enabled: state.is_enabled(),
    })
}

/// A saved rule as listed: its current version with the priority and scope of that version's
/// `//!` header.
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
    /// Why the header cannot be read (a saved rule's header always could when it was saved).
    pub header_error: Option<String>,
}

/// Every saved rule that is not deleted, by id.
pub async fn list_rules(engine: &Engine) -> Result<Vec<RuleSummary>> {
    let models = projection::catch_up(&engine.store).await?;
    let mut rules = Vec::new();
    for (id, doc) in models.rules.iter() {
        let rule = &doc.state;
        let Some(current) = rule.current() else {
            continue;
        };
        if rule.deleted_at().is_some() {
            continue;
        }
        let (priority, scope, header_error) = match parse_meta(&current.source) {
            Ok(meta) => (meta.priority, Some(meta.scope), None),
            Err(e) => (rule.priority(), None, Some(e.to_string())),
        };
        rules.push(RuleSummary {
            id: id.to_string(),
            version: current.version,
            enabled: rule.is_enabled(),
            priority,
            scope,
            header_error,
        });
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rules)
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
    fn a_diff_marks_a_missing_final_newline() {
        let diff = diff_versions("gate", &version(1, "a\nb"), &version(2, "a\nc\n"));
        assert_eq!(
            diff,
            "--- gate v1\n+++ gate v2\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
        );
    }
}
