//! Sales-team capacity: how many agents are available and how many open leads they can take,
//! as reported by a CRM, a contact centre or a push to the API. One aggregate per team.
//!
//! Utilisation (`open_leads / max_open_leads`) is derived, never stored.
//!
//! `CapacityRecorded` is at schema version 1.2: version 1.0 had no `source`; the upcaster in
//! [`crate::upcast`] fills in `"unknown"`. Version 1.2 added the optional `max_age_secs`: how
//! long the reading counts as current (a polled source's `max_age`); after that rules see the
//! team as stale (`team.stale`). It travels with the reading so that a backtest sees the same
//! staleness as the daemon did. Pushed readings and readings counted from leads carry none and
//! never go stale.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{PersonalData, PersonalField};

crate::event_table!(CapacityEvent {
    CapacityRecorded => "1.2",
});

/// `open / max`, or `None` when there is no capacity at all (`max == 0`); callers should treat
/// `None` as "full".
fn utilisation(open_leads: u32, max_open_leads: u32) -> Option<f64> {
    (max_open_leads > 0).then(|| f64::from(open_leads) / f64::from(max_open_leads))
}

/// Commands of a [`CapacitySnapshot`].
#[derive(Clone, Debug, PartialEq)]
pub enum CapacityCommand {
    /// Record one capacity reading.
    Record {
        /// The team (the aggregate id).
        team: String,
        /// Agents available to take leads.
        agents_available: u32,
        /// Leads currently open for the team.
        open_leads: u32,
        /// How many open leads the team can handle.
        max_open_leads: u32,
        /// Where the reading came from (e.g. `push`, `hubspot`, `salesforce`).
        source: String,
        /// How long the reading counts as current, seconds; `None`: it never goes stale.
        max_age_secs: Option<u64>,
        /// When it was read.
        at: DateTime<Utc>,
    },
}

/// Events of a [`CapacitySnapshot`]. None has personal fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CapacityEvent {
    /// A capacity reading (schema 1.1: `source` added; 1.2: `max_age_secs` added).
    CapacityRecorded {
        /// The team.
        team: String,
        /// Agents available to take leads.
        agents_available: u32,
        /// Leads currently open for the team.
        open_leads: u32,
        /// How many open leads the team can handle.
        max_open_leads: u32,
        /// Where the reading came from; `"unknown"` for readings stored at schema 1.0.
        source: String,
        /// How long the reading counts as current, seconds (absent: it never goes stale;
        /// always absent before schema 1.2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_age_secs: Option<u64>,
        /// When it was read.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

impl CapacityEvent {
    /// `open_leads / max_open_leads`; `None` when `max_open_leads` is 0 (no capacity: full).
    pub fn utilisation(&self) -> Option<f64> {
        match self {
            CapacityEvent::CapacityRecorded {
                open_leads,
                max_open_leads,
                ..
            } => utilisation(*open_leads, *max_open_leads),
        }
    }
}

/// Why a [`CapacityCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapacityError {
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// The reading names another team than this aggregate's. HTTP 409.
    #[error("reading for team {found:?} sent to team {expected:?}")]
    TeamMismatch {
        /// This aggregate's team.
        expected: String,
        /// The command's team.
        found: String,
    },
    /// Agents are available but can take no leads: a misconfigured source. HTTP 422.
    #[error("max_open_leads must be positive when agents are available")]
    ZeroMaxWithAgents,
    /// The reading is older than the last one. HTTP 409.
    #[error("reading at {at} is older than the last one at {last}")]
    OutOfOrder {
        /// Time of the last reading.
        last: DateTime<Utc>,
        /// Time of this one.
        at: DateTime<Utc>,
    },
}

/// The latest capacity reading of a team.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacitySnapshot {
    team: Option<String>,
    agents_available: u32,
    open_leads: u32,
    max_open_leads: u32,
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age_secs: Option<u64>,
    at: Option<DateTime<Utc>>,
}

impl CapacitySnapshot {
    /// The team, once a reading was recorded.
    pub fn team(&self) -> Option<&str> {
        self.team.as_deref()
    }

    /// Agents available at the last reading.
    pub fn agents_available(&self) -> u32 {
        self.agents_available
    }

    /// Open leads at the last reading.
    pub fn open_leads(&self) -> u32 {
        self.open_leads
    }

    /// Maximum open leads at the last reading.
    pub fn max_open_leads(&self) -> u32 {
        self.max_open_leads
    }

    /// Source of the last reading.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Time of the last reading.
    pub fn recorded_at(&self) -> Option<DateTime<Utc>> {
        self.at
    }

    /// How long the last reading counts as current, seconds (`None`: it never goes stale).
    pub fn max_age_secs(&self) -> Option<u64> {
        self.max_age_secs
    }

    /// Whether the last reading is older than its `max_age` at `now` (never for a reading
    /// without one, nor before any reading).
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        match (self.at, self.max_age_secs) {
            (Some(at), Some(max)) => {
                (now - at).num_seconds() > i64::try_from(max).unwrap_or(i64::MAX)
            }
            _ => false,
        }
    }

    /// Whether a reading of these figures would say the same as the last one.
    pub fn same_figures(
        &self,
        agents_available: u32,
        open_leads: u32,
        max_open_leads: u32,
    ) -> bool {
        self.at.is_some()
            && self.agents_available == agents_available
            && self.open_leads == open_leads
            && self.max_open_leads == max_open_leads
    }

    /// `open_leads / max_open_leads` of the last reading; `None` before any reading or when
    /// `max_open_leads` is 0 (no capacity: treat as full).
    pub fn utilisation(&self) -> Option<f64> {
        self.at?;
        utilisation(self.open_leads, self.max_open_leads)
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: CapacityCommand) -> Result<Vec<CapacityEvent>, CapacityError> {
        match command {
            CapacityCommand::Record {
                team,
                agents_available,
                open_leads,
                max_open_leads,
                source,
                max_age_secs,
                at,
            } => {
                if is_blank(&team) {
                    return Err(CapacityError::EmptyField("team"));
                }
                if is_blank(&source) {
                    return Err(CapacityError::EmptyField("source"));
                }
                if let Some(expected) = &self.team {
                    if *expected != team {
                        return Err(CapacityError::TeamMismatch {
                            expected: expected.clone(),
                            found: team,
                        });
                    }
                }
                if max_open_leads == 0 && agents_available > 0 {
                    return Err(CapacityError::ZeroMaxWithAgents);
                }
                if let Some(last) = self.at {
                    if at < last {
                        return Err(CapacityError::OutOfOrder { last, at });
                    }
                }
                Ok(vec![CapacityEvent::CapacityRecorded {
                    team,
                    agents_available,
                    open_leads,
                    max_open_leads,
                    source,
                    max_age_secs,
                    at,
                }])
            }
        }
    }
}

impl CapacitySnapshot {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: CapacityEvent) {
        match event {
            CapacityEvent::CapacityRecorded {
                team,
                agents_available,
                open_leads,
                max_open_leads,
                source,
                max_age_secs,
                at,
            } => {
                *self = CapacitySnapshot {
                    team: Some(team),
                    agents_available,
                    open_leads,
                    max_open_leads,
                    source: Some(source),
                    max_age_secs,
                    at: Some(at),
                };
            }
        }
    }
}

impl PersonalData for CapacityEvent {
    fn data_subject(&self) -> Option<&str> {
        None
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        &[]
    }
}

/// One sample of every event variant.
#[cfg(test)]
pub(crate) fn samples() -> Vec<CapacityEvent> {
    use crate::testutil::t;
    vec![CapacityEvent::CapacityRecorded {
        team: "sales-nl".into(),
        agents_available: 4,
        open_leads: 30,
        max_open_leads: 40,
        source: "hubspot".into(),
        max_age_secs: None,
        at: t(0),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<CapacitySnapshot>;

    fn record(agents: u32, open: u32, max: u32, minute: i64) -> CapacityCommand {
        CapacityCommand::Record {
            team: "sales-nl".into(),
            agents_available: agents,
            open_leads: open,
            max_open_leads: max,
            source: "push".into(),
            max_age_secs: None,
            at: t(minute),
        }
    }

    fn recorded(agents: u32, open: u32, max: u32, minute: i64) -> CapacityEvent {
        CapacityEvent::CapacityRecorded {
            team: "sales-nl".into(),
            agents_available: agents,
            open_leads: open,
            max_open_leads: max,
            source: "push".into(),
            max_age_secs: None,
            at: t(minute),
        }
    }

    #[test]
    fn readings_are_recorded() {
        Fixture::with(())
            .given_no_previous_events()
            .when(record(3, 10, 30, 0))
            .then_expect_events(vec![recorded(3, 10, 30, 0)]);
        Fixture::with(())
            .given(vec![recorded(3, 10, 30, 0)])
            .when(record(0, 12, 0, 0))
            .then_expect_events(vec![recorded(0, 12, 0, 0)]);
    }

    #[test]
    fn zero_max_with_agents_is_refused() {
        Fixture::with(())
            .given_no_previous_events()
            .when(record(2, 0, 0, 0))
            .then_expect_error(CapacityError::ZeroMaxWithAgents);
    }

    #[test]
    fn readings_out_of_order_are_refused() {
        Fixture::with(())
            .given(vec![recorded(3, 10, 30, 10)])
            .when(record(3, 11, 30, 9))
            .then_expect_error(CapacityError::OutOfOrder {
                last: t(10),
                at: t(9),
            });
    }

    #[test]
    fn readings_must_name_the_team_and_source() {
        Fixture::with(())
            .given(vec![recorded(3, 10, 30, 0)])
            .when(CapacityCommand::Record {
                team: "sales-be".into(),
                agents_available: 1,
                open_leads: 1,
                max_open_leads: 1,
                source: "push".into(),
                max_age_secs: None,
                at: t(1),
            })
            .then_expect_error(CapacityError::TeamMismatch {
                expected: "sales-nl".into(),
                found: "sales-be".into(),
            });
        Fixture::with(())
            .given_no_previous_events()
            .when(CapacityCommand::Record {
                team: "".into(),
                agents_available: 1,
                open_leads: 1,
                max_open_leads: 1,
                source: "push".into(),
                max_age_secs: None,
                at: t(1),
            })
            .then_expect_error(CapacityError::EmptyField("team"));
        Fixture::with(())
            .given_no_previous_events()
            .when(CapacityCommand::Record {
                team: "sales-nl".into(),
                agents_available: 1,
                open_leads: 1,
                max_open_leads: 1,
                source: " ".into(),
                max_age_secs: None,
                at: t(1),
            })
            .then_expect_error(CapacityError::EmptyField("source"));
    }

    #[test]
    fn a_reading_goes_stale_after_its_own_max_age_only() {
        let mut snapshot = CapacitySnapshot::default();
        assert!(
            !snapshot.is_stale(t(1000)),
            "no reading: nothing to be stale"
        );
        snapshot.apply(recorded(3, 10, 40, 0));
        assert!(!snapshot.is_stale(t(1000)), "no max_age: never stale");
        let mut polled = recorded(3, 10, 40, 0);
        let CapacityEvent::CapacityRecorded { max_age_secs, .. } = &mut polled;
        *max_age_secs = Some(180);
        snapshot.apply(polled.clone());
        assert_eq!(snapshot.max_age_secs(), Some(180));
        assert!(
            !snapshot.is_stale(t(3)),
            "exactly max_age old is still current"
        );
        assert!(snapshot.is_stale(t(4)));
        assert!(snapshot.same_figures(3, 10, 40));
        assert!(!snapshot.same_figures(3, 11, 40));
        let stored = serde_json::to_value(&polled).expect("serializes");
        assert_eq!(
            stored.pointer("/CapacityRecorded/max_age_secs"),
            Some(&serde_json::json!(180))
        );
        let without = serde_json::to_value(recorded(3, 10, 40, 0)).expect("serializes");
        assert!(
            without.pointer("/CapacityRecorded/max_age_secs").is_none(),
            "absent when none, so a 1.1 reader's payload is unchanged"
        );
    }

    #[test]
    fn utilisation_is_derived() {
        assert_eq!(recorded(3, 30, 40, 0).utilisation(), Some(0.75));
        assert_eq!(recorded(3, 50, 40, 0).utilisation(), Some(1.25));
        assert_eq!(recorded(0, 5, 0, 0).utilisation(), None);

        let mut snapshot = CapacitySnapshot::default();
        assert_eq!(snapshot.utilisation(), None);
        snapshot.apply(recorded(3, 30, 40, 0));
        assert_eq!(snapshot.utilisation(), Some(0.75));
        snapshot.apply(recorded(3, 10, 40, 1));
        assert_eq!(snapshot.utilisation(), Some(0.25));
        assert_eq!(snapshot.team(), Some("sales-nl"));
        assert_eq!(snapshot.agents_available(), 3);
        assert_eq!(snapshot.open_leads(), 10);
        assert_eq!(snapshot.max_open_leads(), 40);
        assert_eq!(snapshot.source(), Some("push"));
        assert_eq!(snapshot.recorded_at(), Some(t(1)));
        let stored = serde_json::to_value(recorded(3, 10, 40, 1)).expect("serializes");
        assert!(stored.pointer("/CapacityRecorded/utilisation").is_none());
    }
}
