//! Sales teams: who is in them, how many open leads they can carry, when they work and where
//! their capacity comes from. One aggregate per team (stream `team:<name>`); its events are
//! the one source of truth for a team, set through `leadorch teams …` or the HTTP API. The
//! configuration's calendars stay the fallback for teams whose events say nothing of their
//! hours (ADR 0022, decision 9).
//!
//! - **Members** are opaque ids (the CRM's owner id) with an optional display name and an
//!   optional maximum of open leads, both of which can be changed later. A display name is an employee's personal data: it is
//!   sealed with the key of the member's own data subject, `member:<id>`
//!   ([`member_subject`], purpose [`KeyPurpose::Staff`]), so erasing that subject shreds the
//!   name wherever it was recorded while the id and the team's history stay.
//! - **Maximum open leads**: set on the team, or (when it is not) the sum of its members'.
//! - **Business hours** ([`WeeklyHours`]) in the team's IANA time zone, and holidays.
//! - **Exactly one capacity source** ([`CapacitySource`]): pushed snapshots (the default),
//!   computed from the team's leads' statuses, or a named connector.
//!
//! Setting a value the team already has records nothing; so does a command that changes
//! nothing. A team's name and its members' ids are ids as stored ([`valid_scoped_id`]): bare
//! in the `default` project, `<project>/<id>` in another.

mod hours;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::personal::{KeyPurpose, PersonalData, PersonalField};
use crate::{is_blank, valid_id, valid_scoped_id};

pub use hours::{Day, Interval, WeeklyHours};

crate::event_table!(TeamEvent {
    TeamDefined => "1.0",
    TimeZoneSet => "1.0",
    BusinessHoursSet => "1.0",
    HolidaysSet => "1.0",
    MaxOpenLeadsSet => "1.0",
    CapacitySourceSet => "1.0",
    MemberAdded => "1.0",
    MemberRemoved => "1.0",
    MemberUpdated => "1.0",
});

/// The longest member display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The data subject of a team member (`member:<id>`): whose key seals the member's display
/// name, in every team the member is in.
pub fn member_subject(member_id: &str) -> String {
    format!("member:{member_id}")
}

/// Where a team's capacity comes from; exactly one per team. Written `pushed`, `leads` or
/// `connector:<name>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CapacitySource {
    /// Capacity snapshots pushed to the API (or recorded by the CLI). The default.
    #[default]
    Pushed,
    /// Computed from the statuses of the team's leads.
    Leads,
    /// Read by the named connector (a CRM or contact centre).
    Connector(String),
}

impl fmt::Display for CapacitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacitySource::Pushed => f.write_str("pushed"),
            CapacitySource::Leads => f.write_str("leads"),
            CapacitySource::Connector(name) => write!(f, "connector:{name}"),
        }
    }
}

impl FromStr for CapacitySource {
    type Err = TeamError;

    fn from_str(s: &str) -> Result<Self, TeamError> {
        match s.trim() {
            "pushed" => Ok(CapacitySource::Pushed),
            "leads" => Ok(CapacitySource::Leads),
            other => match other.strip_prefix("connector:") {
                Some(name) if valid_id(name) => Ok(CapacitySource::Connector(name.to_string())),
                Some(name) => Err(TeamError::InvalidId {
                    field: "connector name",
                    value: name.to_string(),
                }),
                None => Err(TeamError::UnknownCapacitySource(other.to_string())),
            },
        }
    }
}

impl TryFrom<String> for CapacitySource {
    type Error = TeamError;

    fn try_from(s: String) -> Result<Self, TeamError> {
        s.parse()
    }
}

impl From<CapacitySource> for String {
    fn from(source: CapacitySource) -> String {
        source.to_string()
    }
}

/// A member of a team. Its display name is not part of the state (aggregate state holds no
/// personal data): it is in the member's [`TeamEvent::MemberAdded`], sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's id: opaque, e.g. the CRM's owner id.
    pub id: String,
    /// How many open leads the member can carry, if said.
    pub max_open_leads: Option<u32>,
    /// When the member was added.
    pub added_at: DateTime<Utc>,
}

/// What [`TeamCommand::Set`] changes; `None` leaves a part as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamChanges {
    /// IANA time zone of the team's hours and holidays (`Europe/Amsterdam`).
    pub time_zone: Option<String>,
    /// New business hours; `Some(None)` removes them (the team's calendar then comes from
    /// the configuration, if it has one).
    pub hours: Option<Option<WeeklyHours>>,
    /// The team's holidays (all of them; an empty list removes them).
    pub holidays: Option<Vec<NaiveDate>>,
    /// The team's own maximum of open leads, as given (refused when negative);
    /// `Some(None)` makes it the sum of the members' again.
    pub max_open_leads: Option<Option<i64>>,
    /// Where the team's capacity comes from.
    pub capacity_source: Option<CapacitySource>,
}

/// Commands of a [`Team`].
#[derive(Clone, Debug, PartialEq)]
pub enum TeamCommand {
    /// Define the team when it is new (capacity source `pushed` unless `changes` names one)
    /// and change what `changes` gives. Records only what differs from the team as it is.
    Set {
        /// The team's name (the aggregate id).
        team: String,
        /// What to change.
        changes: TeamChanges,
        /// When.
        at: DateTime<Utc>,
    },
    /// Add a member to a defined team.
    AddMember {
        /// The member's id (opaque: the CRM's owner id).
        member_id: String,
        /// Personal: display name.
        name: Option<String>,
        /// How many open leads the member can carry, as given (refused when negative).
        max_open_leads: Option<i64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Change a member's display name or maximum of open leads. Both are given as they are
    /// to be (the name is not in the state: a caller that keeps it reads it from the log);
    /// the caller leaves out an update that changes nothing.
    UpdateMember {
        /// The member's id.
        member_id: String,
        /// Personal: display name; `None`: none.
        name: Option<String>,
        /// How many open leads the member can carry, as given (refused when negative);
        /// `None`: not said.
        max_open_leads: Option<i64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Remove a member from the team.
    RemoveMember {
        /// The member's id.
        member_id: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Events of a [`Team`]. Only [`TeamEvent::MemberAdded`] and [`TeamEvent::MemberUpdated`]
/// have a personal field (the name); they and [`TeamEvent::MemberRemoved`] are about the
/// member's data subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TeamEvent {
    /// The team was defined, with its capacity source.
    TeamDefined {
        /// The team's name.
        team: String,
        /// Where its capacity comes from.
        capacity_source: CapacitySource,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The team's time zone changed.
    TimeZoneSet {
        /// IANA time zone.
        time_zone: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The team's business hours changed.
    BusinessHoursSet {
        /// The new hours, local time; `None`: removed.
        hours: Option<WeeklyHours>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The team's holidays changed.
    HolidaysSet {
        /// Every holiday (local dates, sorted, each once).
        holidays: Vec<NaiveDate>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The team's own maximum of open leads changed.
    MaxOpenLeadsSet {
        /// The maximum; `None`: the sum of the members' maximums.
        max_open_leads: Option<u32>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The team's capacity source changed.
    CapacitySourceSet {
        /// Where its capacity comes from now.
        capacity_source: CapacitySource,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// A member joined the team.
    MemberAdded {
        /// The member's id.
        member_id: String,
        /// The member's data subject ([`member_subject`]), whose key seals `name`.
        subject: String,
        /// Personal ([`KeyPurpose::Staff`]): display name.
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        name: Option<String>,
        /// How many open leads the member can carry, if said.
        max_open_leads: Option<u32>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// A member left the team.
    MemberRemoved {
        /// The member's id.
        member_id: String,
        /// The member's data subject ([`member_subject`]): the event is about them.
        subject: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// A member's display name or maximum of open leads changed; both as they are now.
    MemberUpdated {
        /// The member's id.
        member_id: String,
        /// The member's data subject ([`member_subject`]), whose key seals `name`.
        subject: String,
        /// Personal ([`KeyPurpose::Staff`]): display name now; `None`: none (or erased).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        name: Option<String>,
        /// How many open leads the member can carry now, if said.
        max_open_leads: Option<u32>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`TeamCommand`] was refused. Every one is the caller's mistake: HTTP 422, except
/// where a variant says otherwise.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    /// A team, member or connector id that is not 1 to 128 of `A-Z a-z 0-9 . _ -`.
    #[error("{field} {value:?} is not a valid id: use 1 to 128 letters, digits, '.', '_' or '-'")]
    InvalidId {
        /// What the id names (`team`, `member id`, `connector name`).
        field: &'static str,
        /// The id given.
        value: String,
    },
    /// A required value is empty.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// A value is longer than allowed.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// What.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// Not an IANA time zone.
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/Amsterdam")]
    UnknownTimeZone(String),
    /// A line of business hours that cannot be read.
    #[error("hours {line:?}: {reason}")]
    BadHours {
        /// The line as given.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Hours given to a team that has no time zone, and none given with them.
    #[error("business hours need the team's time zone: give it with them")]
    HoursWithoutTimeZone,
    /// A count below zero.
    #[error("{field} must not be negative (got {value})")]
    Negative {
        /// What.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// A count too large to store.
    #[error("{field} is too large (got {value}, at most {max})", max = u32::MAX)]
    TooLarge {
        /// What.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// Not `pushed`, `leads` or `connector:<name>`.
    #[error("capacity source {0:?} is not one of pushed, leads, connector:NAME")]
    UnknownCapacitySource(String),
    /// The command names another team than this aggregate's. HTTP 409.
    #[error("the command is for team {found:?}, not {expected:?}")]
    TeamMismatch {
        /// This aggregate's team.
        expected: String,
        /// The team the command names.
        found: String,
    },
    /// The team was never defined. HTTP 404.
    #[error("the team is not defined")]
    NotDefined,
    /// The member is in the team already. HTTP 409.
    #[error("member {0:?} is already in the team")]
    DuplicateMember(String),
    /// The member is not in the team. HTTP 404.
    #[error("member {0:?} is not in the team")]
    NoSuchMember(String),
}

/// A sales team as its events define it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Team {
    name: Option<String>,
    time_zone: Option<String>,
    hours: Option<WeeklyHours>,
    holidays: Vec<NaiveDate>,
    max_open_leads: Option<u32>,
    capacity_source: CapacitySource,
    members: Vec<Member>,
    defined_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Team {
    /// The team's name, once defined.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the team was defined.
    pub fn is_defined(&self) -> bool {
        self.name.is_some()
    }

    /// IANA time zone of its hours and holidays, if set.
    pub fn time_zone(&self) -> Option<&str> {
        self.time_zone.as_deref()
    }

    /// Business hours in the team's time zone, if set.
    pub fn hours(&self) -> Option<&WeeklyHours> {
        self.hours.as_ref()
    }

    /// Holidays (local dates), sorted.
    pub fn holidays(&self) -> &[NaiveDate] {
        &self.holidays
    }

    /// The maximum of open leads set on the team itself, if any.
    pub fn own_max_open_leads(&self) -> Option<u32> {
        self.max_open_leads
    }

    /// The team's maximum of open leads: its own when set, else the sum of its members'
    /// (`None` when neither the team nor any member says).
    pub fn max_open_leads(&self) -> Option<u32> {
        self.max_open_leads.or_else(|| {
            self.members
                .iter()
                .filter_map(|m| m.max_open_leads)
                .reduce(u32::saturating_add)
        })
    }

    /// Where its capacity comes from.
    pub fn capacity_source(&self) -> &CapacitySource {
        &self.capacity_source
    }

    /// Members, in the order they were added.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// One member.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// When it was defined.
    pub fn defined_at(&self) -> Option<DateTime<Utc>> {
        self.defined_at
    }

    /// When it last changed.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: TeamCommand) -> Result<Vec<TeamEvent>, TeamError> {
        match command {
            TeamCommand::Set { team, changes, at } => self.decide_set(team, changes, at),
            TeamCommand::AddMember {
                member_id,
                name,
                max_open_leads,
                at,
            } => {
                if !self.is_defined() {
                    return Err(TeamError::NotDefined);
                }
                if !valid_scoped_id(&member_id) {
                    return Err(TeamError::InvalidId {
                        field: "member id",
                        value: member_id,
                    });
                }
                if self.member(&member_id).is_some() {
                    return Err(TeamError::DuplicateMember(member_id));
                }
                let name = display_name(name)?;
                let max_open_leads = max_open_leads
                    .map(|n| count("max_open_leads", n))
                    .transpose()?;
                Ok(vec![TeamEvent::MemberAdded {
                    subject: member_subject(&member_id),
                    member_id,
                    name,
                    max_open_leads,
                    at,
                }])
            }
            TeamCommand::UpdateMember {
                member_id,
                name,
                max_open_leads,
                at,
            } => {
                if !self.is_defined() {
                    return Err(TeamError::NotDefined);
                }
                if self.member(&member_id).is_none() {
                    return Err(TeamError::NoSuchMember(member_id));
                }
                let name = display_name(name)?;
                let max_open_leads = max_open_leads
                    .map(|n| count("max_open_leads", n))
                    .transpose()?;
                Ok(vec![TeamEvent::MemberUpdated {
                    subject: member_subject(&member_id),
                    member_id,
                    name,
                    max_open_leads,
                    at,
                }])
            }
            TeamCommand::RemoveMember { member_id, at } => {
                if !self.is_defined() {
                    return Err(TeamError::NotDefined);
                }
                if self.member(&member_id).is_none() {
                    return Err(TeamError::NoSuchMember(member_id));
                }
                Ok(vec![TeamEvent::MemberRemoved {
                    subject: member_subject(&member_id),
                    member_id,
                    at,
                }])
            }
        }
    }

    fn decide_set(
        &self,
        team: String,
        changes: TeamChanges,
        at: DateTime<Utc>,
    ) -> Result<Vec<TeamEvent>, TeamError> {
        if !valid_scoped_id(&team) {
            return Err(TeamError::InvalidId {
                field: "team",
                value: team,
            });
        }
        if let Some(expected) = &self.name {
            if *expected != team {
                return Err(TeamError::TeamMismatch {
                    expected: expected.clone(),
                    found: team,
                });
            }
        }
        let TeamChanges {
            time_zone,
            hours,
            holidays,
            max_open_leads,
            capacity_source,
        } = changes;
        let time_zone = time_zone.map(|z| canonical_zone(&z)).transpose()?;
        if let Some(Some(h)) = &hours {
            if h.is_empty() {
                return Err(TeamError::EmptyField("hours"));
            }
            if time_zone.is_none() && self.time_zone.is_none() {
                return Err(TeamError::HoursWithoutTimeZone);
            }
        }
        let max_open_leads = max_open_leads
            .map(|m| m.map(|n| count("max_open_leads", n)).transpose())
            .transpose()?;
        let holidays = holidays.map(|mut days| {
            days.sort_unstable();
            days.dedup();
            days
        });

        let mut events = Vec::new();
        if self.is_defined() {
            if let Some(source) = capacity_source.filter(|s| *s != self.capacity_source) {
                events.push(TeamEvent::CapacitySourceSet {
                    capacity_source: source,
                    at,
                });
            }
        } else {
            events.push(TeamEvent::TeamDefined {
                team,
                capacity_source: capacity_source.unwrap_or_default(),
                at,
            });
        }
        if let Some(zone) = time_zone.filter(|z| self.time_zone.as_ref() != Some(z)) {
            events.push(TeamEvent::TimeZoneSet {
                time_zone: zone,
                at,
            });
        }
        if let Some(hours) = hours.filter(|h| *h != self.hours) {
            events.push(TeamEvent::BusinessHoursSet { hours, at });
        }
        if let Some(days) = holidays.filter(|d| *d != self.holidays) {
            events.push(TeamEvent::HolidaysSet { holidays: days, at });
        }
        if let Some(max) = max_open_leads.filter(|m| *m != self.max_open_leads) {
            events.push(TeamEvent::MaxOpenLeadsSet {
                max_open_leads: max,
                at,
            });
        }
        Ok(events)
    }

    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: TeamEvent) {
        let at = *event.at();
        match event {
            TeamEvent::TeamDefined {
                team,
                capacity_source,
                at,
            } => {
                self.name = Some(team);
                self.capacity_source = capacity_source;
                self.defined_at = Some(at);
            }
            TeamEvent::TimeZoneSet { time_zone, .. } => self.time_zone = Some(time_zone),
            TeamEvent::BusinessHoursSet { hours, .. } => self.hours = hours,
            TeamEvent::HolidaysSet { holidays, .. } => self.holidays = holidays,
            TeamEvent::MaxOpenLeadsSet { max_open_leads, .. } => {
                self.max_open_leads = max_open_leads;
            }
            TeamEvent::CapacitySourceSet {
                capacity_source, ..
            } => self.capacity_source = capacity_source,
            TeamEvent::MemberAdded {
                member_id,
                max_open_leads,
                at,
                ..
            } => self.members.push(Member {
                id: member_id,
                max_open_leads,
                added_at: at,
            }),
            TeamEvent::MemberRemoved { member_id, .. } => {
                self.members.retain(|m| m.id != member_id);
            }
            TeamEvent::MemberUpdated {
                member_id,
                max_open_leads,
                ..
            } => {
                if let Some(m) = self.members.iter_mut().find(|m| m.id == member_id) {
                    m.max_open_leads = max_open_leads;
                }
            }
        }
        self.updated_at = Some(at);
    }
}

impl TeamEvent {
    /// When it happened.
    pub fn at(&self) -> &DateTime<Utc> {
        match self {
            TeamEvent::TeamDefined { at, .. }
            | TeamEvent::TimeZoneSet { at, .. }
            | TeamEvent::BusinessHoursSet { at, .. }
            | TeamEvent::HolidaysSet { at, .. }
            | TeamEvent::MaxOpenLeadsSet { at, .. }
            | TeamEvent::CapacitySourceSet { at, .. }
            | TeamEvent::MemberAdded { at, .. }
            | TeamEvent::MemberRemoved { at, .. }
            | TeamEvent::MemberUpdated { at, .. } => at,
        }
    }
}

/// The zone's canonical IANA name, or why it is not one.
fn canonical_zone(zone: &str) -> Result<String, TeamError> {
    zone.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| TeamError::UnknownTimeZone(zone.to_string()))
}

/// A display name as given: trimmed; refused when blank or too long.
fn display_name(name: Option<String>) -> Result<Option<String>, TeamError> {
    match name {
        Some(n) if is_blank(&n) => Err(TeamError::EmptyField("name")),
        Some(n) if n.trim().chars().count() > MAX_NAME_CHARS => Err(TeamError::TooLong {
            field: "name",
            max: MAX_NAME_CHARS,
        }),
        Some(n) => Ok(Some(n.trim().to_string())),
        None => Ok(None),
    }
}

/// A count given as a signed number, as stored.
fn count(field: &'static str, value: i64) -> Result<u32, TeamError> {
    if value < 0 {
        return Err(TeamError::Negative { field, value });
    }
    u32::try_from(value).map_err(|_| TeamError::TooLarge { field, value })
}

const MEMBER_ADDED_FIELDS: &[PersonalField] = &[PersonalField {
    pointer: "/MemberAdded/name",
    purpose: KeyPurpose::Staff,
}];

const MEMBER_UPDATED_FIELDS: &[PersonalField] = &[PersonalField {
    pointer: "/MemberUpdated/name",
    purpose: KeyPurpose::Staff,
}];

impl PersonalData for TeamEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            TeamEvent::MemberAdded { subject, .. }
            | TeamEvent::MemberRemoved { subject, .. }
            | TeamEvent::MemberUpdated { subject, .. } => Some(subject),
            _ => None,
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        match self {
            TeamEvent::MemberAdded { .. } => MEMBER_ADDED_FIELDS,
            TeamEvent::MemberUpdated { .. } => MEMBER_UPDATED_FIELDS,
            _ => &[],
        }
    }
}

/// One sample of every event variant, with every personal field filled.
#[cfg(test)]
pub(crate) fn samples() -> Vec<TeamEvent> {
    use crate::testutil::t;
    vec![
        TeamEvent::TeamDefined {
            team: "sales-nl".into(),
            capacity_source: CapacitySource::Pushed,
            at: t(0),
        },
        TeamEvent::TimeZoneSet {
            time_zone: "Europe/Amsterdam".into(),
            at: t(1),
        },
        TeamEvent::BusinessHoursSet {
            hours: Some(WeeklyHours::parse(&["mon-fri 09:00-17:00"]).expect("valid")),
            at: t(1),
        },
        TeamEvent::HolidaysSet {
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).expect("valid")],
            at: t(1),
        },
        TeamEvent::MaxOpenLeadsSet {
            max_open_leads: Some(40),
            at: t(2),
        },
        TeamEvent::CapacitySourceSet {
            capacity_source: CapacitySource::Connector("hubspot".into()),
            at: t(3),
        },
        TeamEvent::MemberAdded {
            member_id: "owner-17".into(),
            subject: member_subject("owner-17"),
            name: Some("Ada Lovelace".into()),
            max_open_leads: Some(12),
            at: t(4),
        },
        TeamEvent::MemberUpdated {
            member_id: "owner-17".into(),
            subject: member_subject("owner-17"),
            name: Some("Ada King".into()),
            max_open_leads: Some(10),
            at: t(5),
        },
        TeamEvent::MemberRemoved {
            member_id: "owner-17".into(),
            subject: member_subject("owner-17"),
            at: t(5),
        },
    ]
}

#[cfg(test)]
mod tests;
