//! A configured capacity source's health, as far as the log needs it: the moments it started
//! failing and recovered (ADR 0032). One aggregate per source, stream
//! `capacity_source:<project>/<name>` (bare `<name>` in the default project).
//!
//! Every poll's outcome (last success, last error, consecutive failures) is mutable status and
//! lives in the `capacity_sources` table beside the log; only the transitions are events, so
//! that what reacts to them (the webhooks of a later package, an audit) reads them from the
//! log like anything else, once each. Error texts are the connector's own words about what
//! went wrong (status, error code, which pointer was missing): never a token, never a person.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{PersonalData, PersonalField};

crate::event_table!(CapacitySourceEvent {
    SourceFailing => "1.0",
    SourceRecovered => "1.0",
});

/// Commands of a [`CapacitySourceHealth`].
#[derive(Clone, Debug, PartialEq)]
pub enum CapacitySourceCommand {
    /// The source fails: record it unless it is already failing.
    Fail {
        /// The connector kind (`http_poll`, `hubspot`, `salesforce`).
        kind: String,
        /// What kind of failure (`auth`, `rate_limited`, `unavailable`, `response`, `config`,
        /// `stale`).
        error_kind: String,
        /// What went wrong, without secrets or personal data.
        error: String,
        /// When it was seen.
        at: DateTime<Utc>,
    },
    /// The source answered again: record it if it was failing.
    Recover {
        /// When.
        at: DateTime<Utc>,
    },
}

/// Events of a [`CapacitySourceHealth`]. None has personal fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CapacitySourceEvent {
    /// The source started failing: its readings are no longer coming in.
    SourceFailing {
        /// The connector kind.
        kind: String,
        /// What kind of failure (`auth`, `rate_limited`, `unavailable`, `response`, `config`,
        /// `stale`).
        error_kind: String,
        /// What went wrong, without secrets or personal data.
        error: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The source answered again after failing.
    SourceRecovered {
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

impl CapacitySourceEvent {
    /// The event's time.
    pub fn at(&self) -> &DateTime<Utc> {
        match self {
            CapacitySourceEvent::SourceFailing { at, .. }
            | CapacitySourceEvent::SourceRecovered { at } => at,
        }
    }
}

/// Why a [`CapacitySourceCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapacitySourceError {
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
}

/// Whether a capacity source is failing, as its transitions recorded it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacitySourceHealth {
    failing_since: Option<DateTime<Utc>>,
    error_kind: Option<String>,
}

impl CapacitySourceHealth {
    /// Since when the source fails, if it does.
    pub fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.failing_since
    }

    /// The kind of its failure, while it fails.
    pub fn error_kind(&self) -> Option<&str> {
        self.error_kind.as_deref()
    }

    /// Decides a command: only transitions produce events.
    pub fn decide(
        &self,
        command: CapacitySourceCommand,
    ) -> Result<Vec<CapacitySourceEvent>, CapacitySourceError> {
        match command {
            CapacitySourceCommand::Fail {
                kind,
                error_kind,
                error,
                at,
            } => {
                if is_blank(&kind) {
                    return Err(CapacitySourceError::EmptyField("kind"));
                }
                if is_blank(&error_kind) {
                    return Err(CapacitySourceError::EmptyField("error_kind"));
                }
                if self.failing_since.is_some() {
                    return Ok(vec![]);
                }
                Ok(vec![CapacitySourceEvent::SourceFailing {
                    kind,
                    error_kind,
                    error,
                    at,
                }])
            }
            CapacitySourceCommand::Recover { at } => Ok(match self.failing_since {
                Some(_) => vec![CapacitySourceEvent::SourceRecovered { at }],
                None => vec![],
            }),
        }
    }

    pub(crate) fn evolve(&mut self, event: CapacitySourceEvent) {
        match event {
            CapacitySourceEvent::SourceFailing { error_kind, at, .. } => {
                self.failing_since = Some(at);
                self.error_kind = Some(error_kind);
            }
            CapacitySourceEvent::SourceRecovered { .. } => {
                self.failing_since = None;
                self.error_kind = None;
            }
        }
    }
}

impl PersonalData for CapacitySourceEvent {
    fn data_subject(&self) -> Option<&str> {
        None
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        &[]
    }
}

/// One sample of every event variant.
#[cfg(test)]
pub(crate) fn samples() -> Vec<CapacitySourceEvent> {
    use crate::testutil::t;
    vec![
        CapacitySourceEvent::SourceFailing {
            kind: "http_poll".into(),
            error_kind: "auth".into(),
            error: "401 Unauthorized: the credential was refused".into(),
            at: t(0),
        },
        CapacitySourceEvent::SourceRecovered { at: t(5) },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;

    type Fixture = TestFramework<CapacitySourceHealth>;

    fn fail(minute: i64) -> CapacitySourceCommand {
        CapacitySourceCommand::Fail {
            kind: "http_poll".into(),
            error_kind: "auth".into(),
            error: "401 Unauthorized: the credential was refused".into(),
            at: t(minute),
        }
    }

    #[test]
    fn only_transitions_are_recorded() {
        Fixture::with(())
            .given_no_previous_events()
            .when(fail(0))
            .then_expect_events(vec![samples()[0].clone()]);
        Fixture::with(())
            .given(vec![samples()[0].clone()])
            .when(fail(1))
            .then_expect_events(vec![]);
        Fixture::with(())
            .given(vec![samples()[0].clone()])
            .when(CapacitySourceCommand::Recover { at: t(5) })
            .then_expect_events(vec![samples()[1].clone()]);
        Fixture::with(())
            .given(samples())
            .when(CapacitySourceCommand::Recover { at: t(6) })
            .then_expect_events(vec![]);
        Fixture::with(())
            .given_no_previous_events()
            .when(CapacitySourceCommand::Recover { at: t(6) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_failure_names_its_kind() {
        Fixture::with(())
            .given_no_previous_events()
            .when(CapacitySourceCommand::Fail {
                kind: "http_poll".into(),
                error_kind: " ".into(),
                error: "x".into(),
                at: t(0),
            })
            .then_expect_error(CapacitySourceError::EmptyField("error_kind"));
    }

    #[test]
    fn the_state_follows_the_transitions() {
        use cqrs_es::Aggregate;
        let mut health = CapacitySourceHealth::default();
        let [failing, recovered] = <[_; 2]>::try_from(samples()).expect("two samples");
        health.apply(failing);
        assert_eq!(health.failing_since(), Some(t(0)));
        assert_eq!(health.error_kind(), Some("auth"));
        health.apply(recovered);
        assert_eq!(health.failing_since(), None);
        assert_eq!(health.error_kind(), None);
    }
}
