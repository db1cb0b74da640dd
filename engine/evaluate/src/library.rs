//! Saving rules into the log: a rule's source is compiled (refused with line and column when
//! it does not compile), then recorded as a new rule or a new version of an existing one.

use std::path::Path;

use chrono::{DateTime, Utc};
use leadorch_core::Engine;
use leadorch_domain::{Rule, RuleCommand};
use leadorch_rules::RuleHost;
use leadorch_store::Metadata;

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

/// A rule's state from its stream (default when it does not exist).
pub async fn load_rule(engine: &Engine, id: &str) -> Result<Rule> {
    Ok(engine
        .load_state::<Rule>(id, |e| match e {
            leadorch_domain::AnyEvent::Rule(e) => Some(e),
            _ => None,
        })
        .await?)
}
