//! Rules: Rhai sources users write, with their whole edit history.
//!
//! Every edit adds a version; nothing is overwritten, so a decision can always name the exact
//! source it ran. A new rule starts **disabled** so it can be previewed before it acts.
//! Deleting is terminal. A rollback is a new version too, whose source is an earlier
//! version's and which says so (`rolled_back_to`). The domain does not compile Rhai (that is
//! the rules host's job); it only keeps the text.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{PersonalData, PersonalField};

crate::event_table!(RuleEvent {
    RuleCreated => "1.0",
    RuleVersionAdded => "1.1",
    RuleEnabled => "1.0",
    RuleDisabled => "1.0",
    RuleDeleted => "1.0",
});

/// Commands of a [`Rule`].
#[derive(Clone, Debug, PartialEq)]
pub enum RuleCommand {
    /// Create the rule (version 1, disabled).
    Create {
        /// Display name.
        name: String,
        /// Rhai source.
        source: String,
        /// Evaluation order: higher runs first and wins conflicts.
        priority: i32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Add a new version of the source.
    Update {
        /// New Rhai source.
        source: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Add a new version whose source is version `to`'s (a rollback).
    Rollback {
        /// The earlier version whose source becomes current again.
        to: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Let the rule act.
    Enable {
        /// When.
        at: DateTime<Utc>,
    },
    /// Stop the rule from acting.
    Disable {
        /// When.
        at: DateTime<Utc>,
    },
    /// Delete the rule for good (its history stays).
    Delete {
        /// When.
        at: DateTime<Utc>,
    },
}

/// Events of a [`Rule`]. None has personal fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RuleEvent {
    /// The rule was created, disabled, at version 1.
    RuleCreated {
        /// Display name.
        name: String,
        /// Rhai source of version 1.
        source: String,
        /// Evaluation order.
        priority: i32,
        /// Always 1.
        version: u32,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// A new version of the source.
    RuleVersionAdded {
        /// The new version number (previous + 1).
        version: u32,
        /// Its Rhai source.
        source: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
        /// Set when this version is a rollback: the earlier version whose source it restores
        /// (schema 1.1; absent from ordinary versions and from every 1.0 payload).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rolled_back_to: Option<u32>,
    },
    /// The rule may act.
    RuleEnabled {
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The rule may not act.
    RuleDisabled {
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The rule was deleted.
    RuleDeleted {
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`RuleCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// The rule exists already. HTTP 409.
    #[error("rule already exists")]
    AlreadyExists,
    /// No such rule. HTTP 404.
    #[error("rule does not exist")]
    NotFound,
    /// The rule was deleted. HTTP 410.
    #[error("rule was deleted")]
    Deleted,
    /// The new source equals the current version. HTTP 409.
    #[error("source is unchanged")]
    Unchanged,
    /// A rollback names a version the rule does not have. HTTP 404.
    #[error("no version {0}")]
    NoSuchVersion(u32),
    /// A rollback to the source that is current already. HTTP 409.
    #[error("version {0} is already current")]
    AlreadyCurrent(u32),
    /// The rule is already enabled. HTTP 409.
    #[error("rule is already enabled")]
    AlreadyEnabled,
    /// The rule is already disabled. HTTP 409.
    #[error("rule is already disabled")]
    AlreadyDisabled,
}

/// One version of a rule's source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleVersion {
    /// Version number, from 1.
    pub version: u32,
    /// Rhai source.
    pub source: String,
    /// When it was written.
    pub at: DateTime<Utc>,
}

/// A rule with its whole history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    name: Option<String>,
    priority: i32,
    versions: Vec<RuleVersion>,
    enabled: bool,
    created_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

impl Rule {
    /// Display name, once created.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Evaluation order.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[RuleVersion] {
        &self.versions
    }

    /// The current version.
    pub fn current(&self) -> Option<&RuleVersion> {
        self.versions.last()
    }

    /// Whether the rule may act (never after deletion).
    pub fn is_enabled(&self) -> bool {
        self.enabled && self.deleted_at.is_none()
    }

    /// When it was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_at
    }

    /// When it was deleted.
    pub fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.deleted_at
    }

    fn check_live(&self) -> Result<(), RuleError> {
        if self.deleted_at.is_some() {
            return Err(RuleError::Deleted);
        }
        if self.created_at.is_none() {
            return Err(RuleError::NotFound);
        }
        Ok(())
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: RuleCommand) -> Result<Vec<RuleEvent>, RuleError> {
        match command {
            RuleCommand::Create {
                name,
                source,
                priority,
                at,
            } => {
                if self.deleted_at.is_some() {
                    return Err(RuleError::Deleted);
                }
                if self.created_at.is_some() {
                    return Err(RuleError::AlreadyExists);
                }
                if is_blank(&name) {
                    return Err(RuleError::EmptyField("name"));
                }
                if is_blank(&source) {
                    return Err(RuleError::EmptyField("source"));
                }
                Ok(vec![RuleEvent::RuleCreated {
                    name,
                    source,
                    priority,
                    version: 1,
                    at,
                }])
            }
            RuleCommand::Update { source, at } => {
                self.check_live()?;
                if is_blank(&source) {
                    return Err(RuleError::EmptyField("source"));
                }
                let current = self.current().ok_or(RuleError::NotFound)?;
                if current.source == source {
                    return Err(RuleError::Unchanged);
                }
                Ok(vec![RuleEvent::RuleVersionAdded {
                    version: current.version.saturating_add(1),
                    source,
                    at,
                    rolled_back_to: None,
                }])
            }
            RuleCommand::Rollback { to, at } => {
                self.check_live()?;
                let current = self.current().ok_or(RuleError::NotFound)?;
                let target = self
                    .versions
                    .iter()
                    .find(|v| v.version == to)
                    .ok_or(RuleError::NoSuchVersion(to))?;
                if target.source == current.source {
                    return Err(RuleError::AlreadyCurrent(to));
                }
                Ok(vec![RuleEvent::RuleVersionAdded {
                    version: current.version.saturating_add(1),
                    source: target.source.clone(),
                    at,
                    rolled_back_to: Some(to),
                }])
            }
            RuleCommand::Enable { at } => {
                self.check_live()?;
                if self.enabled {
                    return Err(RuleError::AlreadyEnabled);
                }
                Ok(vec![RuleEvent::RuleEnabled { at }])
            }
            RuleCommand::Disable { at } => {
                self.check_live()?;
                if !self.enabled {
                    return Err(RuleError::AlreadyDisabled);
                }
                Ok(vec![RuleEvent::RuleDisabled { at }])
            }
            RuleCommand::Delete { at } => {
                self.check_live()?;
                Ok(vec![RuleEvent::RuleDeleted { at }])
            }
        }
    }
}

impl Rule {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: RuleEvent) {
        match event {
            RuleEvent::RuleCreated {
                name,
                source,
                priority,
                version,
                at,
            } => {
                self.name = Some(name);
                self.priority = priority;
                self.versions = vec![RuleVersion {
                    version,
                    source,
                    at,
                }];
                self.enabled = false;
                self.created_at = Some(at);
            }
            RuleEvent::RuleVersionAdded {
                version,
                source,
                at,
                rolled_back_to: _,
            } => self.versions.push(RuleVersion {
                version,
                source,
                at,
            }),
            RuleEvent::RuleEnabled { .. } => self.enabled = true,
            RuleEvent::RuleDisabled { .. } => self.enabled = false,
            RuleEvent::RuleDeleted { at } => {
                self.enabled = false;
                self.deleted_at = Some(at);
            }
        }
    }
}

impl PersonalData for RuleEvent {
    fn data_subject(&self) -> Option<&str> {
        None
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        &[]
    }
}

/// One sample of every event variant.
#[cfg(test)]
pub(crate) fn samples() -> Vec<RuleEvent> {
    use crate::testutil::t;
    vec![
        RuleEvent::RuleCreated {
            name: "pause when full".into(),
            source: "if utilisation >= 1.0 { pause() }".into(),
            priority: 10,
            version: 1,
            at: t(0),
        },
        RuleEvent::RuleVersionAdded {
            version: 2,
            source: "if utilisation >= 0.9 { pause() }".into(),
            at: t(1),
            rolled_back_to: None,
        },
        RuleEvent::RuleVersionAdded {
            version: 3,
            source: "if utilisation >= 1.0 { pause() }".into(),
            at: t(1),
            rolled_back_to: Some(1),
        },
        RuleEvent::RuleEnabled { at: t(2) },
        RuleEvent::RuleDisabled { at: t(3) },
        RuleEvent::RuleDeleted { at: t(4) },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<Rule>;

    const V1: &str = "if utilisation >= 1.0 { pause() }";
    const V2: &str = "if utilisation >= 0.9 { pause() }";

    fn created() -> RuleEvent {
        RuleEvent::RuleCreated {
            name: "pause when full".into(),
            source: V1.into(),
            priority: 10,
            version: 1,
            at: t(0),
        }
    }

    fn create() -> RuleCommand {
        RuleCommand::Create {
            name: "pause when full".into(),
            source: V1.into(),
            priority: 10,
            at: t(0),
        }
    }

    fn version_added(version: u32, source: &str) -> RuleEvent {
        RuleEvent::RuleVersionAdded {
            version,
            source: source.into(),
            at: t(i64::from(version)),
            rolled_back_to: None,
        }
    }

    fn every_command() -> Vec<RuleCommand> {
        vec![
            create(),
            RuleCommand::Update {
                source: V2.into(),
                at: t(9),
            },
            RuleCommand::Rollback { to: 1, at: t(9) },
            RuleCommand::Enable { at: t(9) },
            RuleCommand::Disable { at: t(9) },
            RuleCommand::Delete { at: t(9) },
        ]
    }

    #[test]
    fn create_starts_at_version_one() {
        Fixture::with(())
            .given_no_previous_events()
            .when(create())
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn create_twice_is_refused() {
        Fixture::with(())
            .given(vec![created()])
            .when(create())
            .then_expect_error(RuleError::AlreadyExists);
    }

    #[test]
    fn create_needs_a_name_and_source() {
        Fixture::with(())
            .given_no_previous_events()
            .when(RuleCommand::Create {
                name: " ".into(),
                source: V1.into(),
                priority: 0,
                at: t(0),
            })
            .then_expect_error(RuleError::EmptyField("name"));
        Fixture::with(())
            .given_no_previous_events()
            .when(RuleCommand::Create {
                name: "x".into(),
                source: "".into(),
                priority: 0,
                at: t(0),
            })
            .then_expect_error(RuleError::EmptyField("source"));
    }

    #[test]
    fn update_adds_the_next_version() {
        Fixture::with(())
            .given(vec![created()])
            .when(RuleCommand::Update {
                source: V2.into(),
                at: t(2),
            })
            .then_expect_events(vec![version_added(2, V2)]);
        Fixture::with(())
            .given(vec![created(), version_added(2, V2)])
            .when(RuleCommand::Update {
                source: V1.into(),
                at: t(3),
            })
            .then_expect_events(vec![version_added(3, V1)]);
    }

    #[test]
    fn update_with_the_current_source_is_refused() {
        Fixture::with(())
            .given(vec![created(), version_added(2, V2)])
            .when(RuleCommand::Update {
                source: V2.into(),
                at: t(3),
            })
            .then_expect_error(RuleError::Unchanged);
    }

    #[test]
    fn update_needs_a_source() {
        Fixture::with(())
            .given(vec![created()])
            .when(RuleCommand::Update {
                source: "\n".into(),
                at: t(3),
            })
            .then_expect_error(RuleError::EmptyField("source"));
    }

    #[test]
    fn rollback_adds_a_version_with_the_old_source() {
        Fixture::with(())
            .given(vec![created(), version_added(2, V2)])
            .when(RuleCommand::Rollback { to: 1, at: t(3) })
            .then_expect_events(vec![RuleEvent::RuleVersionAdded {
                version: 3,
                source: V1.into(),
                at: t(3),
                rolled_back_to: Some(1),
            }]);
        let mut rule = Rule::default();
        for event in [
            created(),
            version_added(2, V2),
            RuleEvent::RuleVersionAdded {
                version: 3,
                source: V1.into(),
                at: t(3),
                rolled_back_to: Some(1),
            },
        ] {
            rule.apply(event);
        }
        assert_eq!(
            rule.current().map(|v| (v.version, v.source.as_str())),
            Some((3, V1))
        );
    }

    #[test]
    fn rollback_to_the_current_source_or_a_missing_version_is_refused() {
        Fixture::with(())
            .given(vec![created(), version_added(2, V2)])
            .when(RuleCommand::Rollback { to: 2, at: t(3) })
            .then_expect_error(RuleError::AlreadyCurrent(2));
        // Version 3 restored version 1's source: version 1 is current again.
        Fixture::with(())
            .given(vec![created(), version_added(2, V2), version_added(3, V1)])
            .when(RuleCommand::Rollback { to: 1, at: t(4) })
            .then_expect_error(RuleError::AlreadyCurrent(1));
        Fixture::with(())
            .given(vec![created(), version_added(2, V2)])
            .when(RuleCommand::Rollback { to: 5, at: t(3) })
            .then_expect_error(RuleError::NoSuchVersion(5));
        Fixture::with(())
            .given(vec![created(), version_added(2, V2)])
            .when(RuleCommand::Rollback { to: 0, at: t(3) })
            .then_expect_error(RuleError::NoSuchVersion(0));
    }

    #[test]
    fn an_ordinary_version_stores_no_rollback_field() {
        // What a 1.0 build wrote and reads: the same three fields.
        let stored = serde_json::to_value(version_added(2, V2)).unwrap();
        let mut fields: Vec<&String> = stored["RuleVersionAdded"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        fields.sort();
        assert_eq!(fields, ["at", "source", "version"]);
    }

    #[test]
    fn enable_and_disable_toggle() {
        Fixture::with(())
            .given(vec![created()])
            .when(RuleCommand::Enable { at: t(1) })
            .then_expect_events(vec![RuleEvent::RuleEnabled { at: t(1) }]);
        Fixture::with(())
            .given(vec![created(), RuleEvent::RuleEnabled { at: t(1) }])
            .when(RuleCommand::Disable { at: t(2) })
            .then_expect_events(vec![RuleEvent::RuleDisabled { at: t(2) }]);
    }

    #[test]
    fn enable_or_disable_twice_is_refused() {
        Fixture::with(())
            .given(vec![created()])
            .when(RuleCommand::Disable { at: t(1) })
            .then_expect_error(RuleError::AlreadyDisabled);
        Fixture::with(())
            .given(vec![created(), RuleEvent::RuleEnabled { at: t(1) }])
            .when(RuleCommand::Enable { at: t(2) })
            .then_expect_error(RuleError::AlreadyEnabled);
    }

    #[test]
    fn delete_is_recorded() {
        Fixture::with(())
            .given(vec![created(), RuleEvent::RuleEnabled { at: t(1) }])
            .when(RuleCommand::Delete { at: t(2) })
            .then_expect_events(vec![RuleEvent::RuleDeleted { at: t(2) }]);
    }

    #[test]
    fn every_command_after_delete_is_refused() {
        for command in every_command() {
            Fixture::with(())
                .given(vec![created(), RuleEvent::RuleDeleted { at: t(1) }])
                .when(command)
                .then_expect_error(RuleError::Deleted);
        }
    }

    #[test]
    fn every_command_but_create_needs_the_rule() {
        for command in every_command().into_iter().skip(1) {
            Fixture::with(())
                .given_no_previous_events()
                .when(command)
                .then_expect_error(RuleError::NotFound);
        }
    }

    #[test]
    fn state_keeps_every_version() {
        let mut rule = Rule::default();
        for event in samples() {
            rule.apply(event);
        }
        assert_eq!(rule.name(), Some("pause when full"));
        assert_eq!(rule.priority(), 10);
        assert_eq!(
            rule.versions()
                .iter()
                .map(|v| (v.version, v.source.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (1, "if utilisation >= 1.0 { pause() }"),
                (2, "if utilisation >= 0.9 { pause() }"),
                (3, "if utilisation >= 1.0 { pause() }")
            ]
        );
        assert_eq!(rule.current().map(|v| v.version), Some(3));
        assert!(!rule.is_enabled());
        assert_eq!(rule.created_at(), Some(t(0)));
        assert_eq!(rule.deleted_at(), Some(t(4)));
    }
}
