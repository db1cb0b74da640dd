//! Teams, as the CLI (`leadorch teams …`) and the HTTP API change and read them: defining a
//! team and setting its time zone, business hours, holidays, maximum of open leads and
//! capacity source ([`set_team`]); adding, changing and removing members ([`add_member`],
//! [`put_member`], [`remove_member`]); reading teams back with their members' names
//! ([`show_team`], [`list_teams`], [`team_names`]); and moving the configuration's teams over
//! ([`import_config`]). Plain serde types in and out; the decisions are the `Team`
//! aggregate's. Each change comes in two forms: one recorded with just an actor (the CLI),
//! and a `…_with` one recorded with the caller's whole [`Metadata`] (the API's trace id).
//!
//! Names are names as stored: another project's team is `<project>/<name>` (and its members'
//! ids `<project>/<id>`), which the API adds and strips.
//!
//! Members' display names are personal data (sealed with the member's key, subject
//! `member:<id>`): [`TeamView`] carries them for the person or program that manages the team,
//! read models never do.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use leadorch_config::Config;
use leadorch_core::{projection, Engine};
use leadorch_domain::team::{CapacitySource, TeamChanges, WeeklyHours};
use leadorch_domain::{
    split_stream_id, stream_id, valid_id, valid_scoped_id, AnyEvent, Team, TeamCommand, TeamError,
    TeamEvent,
};
use leadorch_rules::Calendar;
use leadorch_store::{EventFilter, Metadata, Reveal};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Error, Result};

/// What to change of a team; a part left out (`None`) stays as it is. The body of the API's
/// team requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// IANA time zone of the team's hours and holidays (`Europe/Amsterdam`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Business hours as lines like `mon-fri 09:00-17:00` (see
    /// [`WeeklyHours::parse`]); `Some(None)` (JSON `null`) removes them, and the team's
    /// calendar then comes from the configuration, if it has one.
    #[serde(default, deserialize_with = "present")]
    pub hours: Option<Option<Vec<String>>>,
    /// Every holiday of the team (local dates); an empty list removes them.
    #[serde(default)]
    pub holidays: Option<Vec<NaiveDate>>,
    /// The team's own maximum of open leads; `Some(None)` (JSON `null`) makes it the sum of
    /// its members' again. Refused when negative.
    #[serde(default, deserialize_with = "present")]
    pub max_open_leads: Option<Option<i64>>,
    /// `pushed`, `leads` or `connector:<name>`.
    #[serde(default)]
    pub capacity_source: Option<String>,
}

/// A field that is present, even as `null`: `Some(None)` for `null`, `None` when absent
/// (with `#[serde(default)]`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A member to add.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The member's id: opaque, e.g. the CRM's owner id (1 to 128 of `A-Z a-z 0-9 . _ -`).
    pub id: String,
    /// Display name (personal data, sealed).
    #[serde(default)]
    pub name: Option<String>,
    /// How many open leads the member can carry. Refused when negative.
    #[serde(default)]
    pub max_open_leads: Option<i64>,
}

/// What to change of a member, or what a new member is: a part left out (`None`) stays as it
/// is (a new member has none). The body of the API's member requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSettings {
    /// Display name (personal data, sealed); `Some(None)` (JSON `null`) removes it.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// How many open leads the member can carry; `Some(None)` (JSON `null`) removes it.
    /// Refused when negative.
    #[serde(default, deserialize_with = "present")]
    pub max_open_leads: Option<Option<i64>>,
}

/// What [`put_member`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberSaved {
    /// Whether the member was added by it.
    pub created: bool,
    /// Whether anything was recorded (an update that changes nothing records nothing).
    pub changed: bool,
    /// The team now.
    pub team: TeamView,
}

/// Where a team's maximum of open leads comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFrom {
    /// Set on the team.
    Team,
    /// The sum of its members' maximums.
    Members,
}

/// A member as read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// The member's id.
    pub id: String,
    /// Display name; `None` when not given or erased.
    pub name: Option<String>,
    /// How many open leads the member can carry, if said.
    pub max_open_leads: Option<u32>,
    /// When the member was added.
    pub added_at: DateTime<Utc>,
}

/// A team as its events define it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TeamView {
    /// The team's name.
    pub name: String,
    /// IANA time zone of its hours and holidays, if set.
    pub time_zone: Option<String>,
    /// Business hours as lines (`mon-fri 09:00-17:00`); empty when it has none (its
    /// calendar then comes from the configuration, if it has one).
    pub hours: Vec<String>,
    /// Holidays, sorted.
    pub holidays: Vec<NaiveDate>,
    /// Its maximum of open leads, if known.
    pub max_open_leads: Option<u32>,
    /// Where that maximum comes from.
    pub max_open_leads_from: Option<MaxFrom>,
    /// Where its capacity comes from (`pushed`, `leads`, `connector:<name>`).
    pub capacity_source: CapacitySource,
    /// Members, in the order they were added.
    pub members: Vec<MemberView>,
    /// When it was defined.
    pub defined_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What [`set_team`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TeamSaved {
    /// Whether the team was defined by it.
    pub created: bool,
    /// The parts it changed (`time_zone`, `hours`, `holidays`, `max_open_leads`,
    /// `capacity_source`); empty when it changed nothing and recorded nothing.
    pub changed: Vec<&'static str>,
    /// The team now.
    pub team: TeamView,
}

/// What [`import_config`] did with one team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportedTeam {
    /// The team's name.
    pub name: String,
    /// Whether the import defined it.
    pub created: bool,
    /// The parts it recorded (`time_zone`, `hours`, `holidays`); empty when nothing.
    pub changed: Vec<&'static str>,
    /// Why a configured calendar of its name was not imported, if it was not.
    pub note: Option<String>,
}

/// What [`import_config`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Every team the configuration names, by name.
    pub teams: Vec<ImportedTeam>,
    /// Configured calendars not named after a team (such as `default`): they stay in the
    /// configuration.
    pub calendars_left: Vec<String>,
}

/// A team's state from its stream (not defined when it has none), members' names left out.
pub async fn load_team(engine: &Engine, name: &str) -> Result<Team> {
    Ok(engine
        .load_state::<Team>(name, |e| match e {
            AnyEvent::Team(e) => Some(e),
            _ => None,
        })
        .await?)
}

/// Defines team `name` when it is new (capacity source `pushed` unless `settings` names one)
/// and changes what `settings` gives. Records only what differs from the team as it is;
/// nothing at all when nothing does. Refused, recording nothing, with what is wrong and
/// where: a name that is no valid id, an unknown time zone, hours that cannot be read or
/// without a time zone, a negative maximum, an unknown capacity source.
pub async fn set_team(
    engine: &Engine,
    name: &str,
    settings: &TeamSettings,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<TeamSaved> {
    set_team_with(engine, name, settings, at, &Metadata::actor(actor)).await
}

/// [`set_team`], recorded with `metadata`.
pub async fn set_team_with(
    engine: &Engine,
    name: &str,
    settings: &TeamSettings,
    at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<TeamSaved> {
    check_name(name)?;
    let changes = changes_of(name, settings)?;
    let state = load_team(engine, name).await?;
    let command = TeamCommand::Set {
        team: name.to_string(),
        changes,
        at,
    };
    let events = state
        .decide(command.clone())
        .map_err(|e| refused(name, e))?;
    let created = !state.is_defined();
    let changed = changed_parts(&events);
    if !events.is_empty() {
        engine.execute::<Team>(name, command, metadata).await?;
    }
    Ok(TeamSaved {
        created,
        changed,
        team: show_team(engine, name).await?,
    })
}

/// Adds a member to a defined team. Refused, recording nothing, when the team does not
/// exist, the member is in it already, the id is no valid id, the name is empty or the
/// maximum negative.
pub async fn add_member(
    engine: &Engine,
    team: &str,
    member: &NewMember,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<TeamView> {
    check_name(team)?;
    let metadata = Metadata::actor(actor);
    let state = load_team(engine, team).await?;
    let command = TeamCommand::AddMember {
        member_id: member.id.clone(),
        name: member.name.clone(),
        max_open_leads: member.max_open_leads,
        at,
    };
    state
        .decide(command.clone())
        .map_err(|e| refused(team, e))?;
    engine.execute::<Team>(team, command, &metadata).await?;
    show_team(engine, team).await
}

/// Adds member `member_id` to a defined team, or changes what `settings` gives of a member
/// it has (left out: kept, the name read back from the log). Records nothing when that
/// changes nothing. Refused, recording nothing, when the team does not exist (an error
/// naming the team), the id is no valid id, the name is empty or too long, or the maximum
/// negative.
pub async fn put_member(
    engine: &Engine,
    team: &str,
    member_id: &str,
    settings: &MemberSettings,
    at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<MemberSaved> {
    check_name(team)?;
    let (state, names) = read_team(engine, team).await?;
    let current = state.member(member_id);
    let current_name = names.get(member_id).cloned().flatten();
    let command = match current {
        None => TeamCommand::AddMember {
            member_id: member_id.to_string(),
            name: settings.name.clone().flatten(),
            max_open_leads: settings.max_open_leads.flatten(),
            at,
        },
        Some(m) => TeamCommand::UpdateMember {
            member_id: member_id.to_string(),
            name: settings
                .name
                .clone()
                .unwrap_or_else(|| current_name.clone()),
            max_open_leads: settings
                .max_open_leads
                .unwrap_or(m.max_open_leads.map(i64::from)),
            at,
        },
    };
    let events = state
        .decide(command.clone())
        .map_err(|e| refused(team, e))?;
    let unchanged = match (events.as_slice(), current) {
        (
            [TeamEvent::MemberUpdated {
                name,
                max_open_leads,
                ..
            }],
            Some(m),
        ) => *name == current_name && *max_open_leads == m.max_open_leads,
        _ => false,
    };
    if !unchanged {
        engine.execute::<Team>(team, command, metadata).await?;
    }
    Ok(MemberSaved {
        created: current.is_none(),
        changed: !unchanged,
        team: show_team(engine, team).await?,
    })
}

/// Removes a member from a team. Refused when the team does not exist or the member is not
/// in it. The member's name stays in the log, sealed, until the member is erased.
pub async fn remove_member(
    engine: &Engine,
    team: &str,
    member_id: &str,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<TeamView> {
    remove_member_with(engine, team, member_id, at, &Metadata::actor(actor)).await
}

/// [`remove_member`], recorded with `metadata`.
pub async fn remove_member_with(
    engine: &Engine,
    team: &str,
    member_id: &str,
    at: DateTime<Utc>,
    metadata: &Metadata,
) -> Result<TeamView> {
    check_name(team)?;
    let state = load_team(engine, team).await?;
    let command = TeamCommand::RemoveMember {
        member_id: member_id.to_string(),
        at,
    };
    state
        .decide(command.clone())
        .map_err(|e| refused(team, e))?;
    engine.execute::<Team>(team, command, metadata).await?;
    show_team(engine, team).await
}

/// One team as its events define it, with its members' names (decrypted; `None` where
/// erased). An error naming the team when it was never defined.
pub async fn show_team(engine: &Engine, name: &str) -> Result<TeamView> {
    check_name(name)?;
    let (state, mut names) = read_team(engine, name).await?;
    view_of(name, &state, &mut names).ok_or_else(|| not_found(name))
}

/// A team's state and its current members' names (decrypted; `None` where not given or
/// erased), from its stream.
async fn read_team(
    engine: &Engine,
    name: &str,
) -> Result<(Team, BTreeMap<String, Option<String>>)> {
    let records = engine
        .store
        .log
        .read_stream(&stream_id("team", name))
        .await?;
    let mut decoder = engine.store.codec.decoder(Reveal::Decrypt);
    let mut state = Team::default();
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    for rec in &records {
        let AnyEvent::Team(event) = projection::decode(&mut decoder, rec).await? else {
            continue;
        };
        match &event {
            TeamEvent::MemberAdded {
                member_id, name, ..
            } => {
                names.insert(member_id.clone(), name.clone());
            }
            TeamEvent::MemberUpdated {
                member_id, name, ..
            } => {
                names.insert(member_id.clone(), name.clone());
            }
            TeamEvent::MemberRemoved { member_id, .. } => {
                names.remove(member_id);
            }
            _ => {}
        }
        cqrs_es::Aggregate::apply(&mut state, event);
    }
    Ok((state, names))
}

/// The name (as stored) of every team ever defined, sorted. Read from the log's
/// `TeamDefined` events, without bringing the read models up to date (unlike
/// [`list_teams`]), so a read request writes nothing.
pub async fn team_names(engine: &Engine) -> Result<Vec<String>> {
    let records = engine
        .store
        .log
        .list(&EventFilter {
            event_type: Some("TeamDefined".to_string()),
            ..EventFilter::default()
        })
        .await?;
    let names: BTreeSet<String> = records
        .iter()
        .filter_map(|r| split_stream_id(&r.stream_id))
        .filter(|(kind, _)| *kind == "team")
        .map(|(_, name)| name.to_string())
        .collect();
    Ok(names.into_iter().collect())
}

/// Every defined team, by name, with its members' names.
pub async fn list_teams(engine: &Engine) -> Result<Vec<TeamView>> {
    let models = projection::current(&engine.store, &["teams"]).await?;
    let mut teams = Vec::new();
    for (name, doc) in models.teams.iter() {
        if doc.state.is_defined() {
            teams.push(show_team(engine, name).await?);
        }
    }
    Ok(teams)
}

/// Records the configuration's teams as events: every team `facts.campaign_teams` and
/// `facts.default_team` name is defined, and a configured calendar named after a team gives
/// it its hours (in the calendar's time zone, else `facts.timezone`, where the configuration
/// reads it) and holidays. It fills in only what the team's events do not say yet — a team
/// that has hours keeps them — so a second run records nothing. Every name and calendar is
/// checked before anything is recorded.
pub async fn import_config(
    engine: &Engine,
    config: &Config,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<ImportReport> {
    let facts = &config.facts;
    let names = crate::facts::configured_teams(facts);
    for name in &names {
        if !valid_id(name) {
            return Err(Error::Input(format!(
                "the configuration names team {name:?} (facts.campaign_teams or \
                 facts.default_team), which cannot be a team's name: use 1 to 128 letters, \
                 digits, '.', '_' or '-'"
            )));
        }
    }
    let mut plans = Vec::new();
    for name in &names {
        let state = load_team(engine, name).await?;
        let mut changes = TeamChanges::default();
        let mut note = None;
        if let Some(calendar) = facts.calendars.get(*name) {
            let zone = calendar.timezone.as_deref().unwrap_or(&facts.timezone);
            let hours = calendar_hours(name, calendar)?;
            match (state.hours(), state.time_zone()) {
                // Imported before (or set to the same): nothing to say.
                (Some(own), Some(own_zone)) if *own == hours && same_zone(own_zone, zone) => {}
                (Some(_), _) => {
                    note = Some(
                        "keeps the hours its events give, which differ from the configured \
                         calendar of its name (not imported)"
                            .to_string(),
                    )
                }
                (None, Some(own)) if !same_zone(own, zone) => {
                    note = Some(format!(
                        "its time zone is {own}, the configured calendar of its name is read in \
                         {zone}: the calendar was not imported (set the team's hours with its \
                         time zone)"
                    ))
                }
                (None, _) => {
                    changes.time_zone = Some(zone.to_string());
                    changes.hours = Some(Some(hours));
                    changes.holidays = Some(calendar.holidays.clone());
                }
            }
        }
        let command = TeamCommand::Set {
            team: name.to_string(),
            changes,
            at,
        };
        let events = state
            .decide(command.clone())
            .map_err(|e| Error::Input(format!("facts.calendars.{name}: {e}")))?;
        plans.push((name.to_string(), state.is_defined(), command, events, note));
    }
    let mut teams = Vec::new();
    for (name, defined, command, events, note) in plans {
        if !events.is_empty() {
            engine
                .execute::<Team>(&name, command, &Metadata::actor(actor))
                .await?;
        }
        teams.push(ImportedTeam {
            created: !defined,
            changed: changed_parts(&events),
            name,
            note,
        });
    }
    let calendars_left = facts
        .calendars
        .keys()
        .filter(|c| !names.contains(c.as_str()))
        .cloned()
        .collect();
    Ok(ImportReport {
        teams,
        calendars_left,
    })
}

/// A configured calendar's weekly intervals as business hours; refused, naming the
/// calendar, when they cannot be read or there are none.
fn calendar_hours(name: &str, calendar: &Calendar) -> Result<WeeklyHours> {
    let lines: Vec<String> = calendar
        .weekly
        .iter()
        .filter(|(_, intervals)| !intervals.is_empty())
        .map(|(day, intervals)| {
            let times: Vec<String> = intervals.iter().map(|[a, b]| format!("{a}-{b}")).collect();
            format!("{day} {}", times.join(","))
        })
        .collect();
    WeeklyHours::parse(&lines).map_err(|e| match e {
        TeamError::EmptyField(_) => Error::Input(format!(
            "facts.calendars.{name} has no opening hours: a team is open at some time; give \
             the calendar its hours or rename it"
        )),
        e => Error::Input(format!("facts.calendars.{name}: {e}")),
    })
}

/// Whether two zone names name the same zone (`UTC` and `Etc/UTC` do not: they are compared
/// by their canonical names, as the team stores them).
fn same_zone(a: &str, b: &str) -> bool {
    let canonical = |z: &str| {
        z.trim()
            .parse::<chrono_tz::Tz>()
            .map(|t| t.name().to_string())
    };
    matches!((canonical(a), canonical(b)), (Ok(a), Ok(b)) if a == b)
}

/// The domain's changes from what the caller gave: hours read, the capacity source parsed.
fn changes_of(team: &str, settings: &TeamSettings) -> Result<TeamChanges> {
    let hours = match &settings.hours {
        None => None,
        Some(None) => Some(None),
        Some(Some(lines)) => Some(Some(
            WeeklyHours::parse(lines).map_err(|e| refused(team, e))?,
        )),
    };
    let capacity_source = settings
        .capacity_source
        .as_deref()
        .map(str::parse::<CapacitySource>)
        .transpose()
        .map_err(|e| refused(team, e))?;
    Ok(TeamChanges {
        time_zone: settings.time_zone.clone(),
        hours,
        holidays: settings.holidays.clone(),
        max_open_leads: settings.max_open_leads,
        capacity_source,
    })
}

/// The parts a list of decided events changes, in the order they were recorded.
fn changed_parts(events: &[TeamEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            TeamEvent::TeamDefined { .. } => None,
            TeamEvent::TimeZoneSet { .. } => Some("time_zone"),
            TeamEvent::BusinessHoursSet { .. } => Some("hours"),
            TeamEvent::HolidaysSet { .. } => Some("holidays"),
            TeamEvent::MaxOpenLeadsSet { .. } => Some("max_open_leads"),
            TeamEvent::CapacitySourceSet { .. } => Some("capacity_source"),
            TeamEvent::MemberAdded { .. } => Some("members"),
            TeamEvent::MemberRemoved { .. } => Some("members"),
            TeamEvent::MemberUpdated { .. } => Some("members"),
        })
        .collect()
}

fn view_of(
    name: &str,
    state: &Team,
    names: &mut BTreeMap<String, Option<String>>,
) -> Option<TeamView> {
    let (defined_at, updated_at) = (state.defined_at()?, state.updated_at()?);
    let max_open_leads_from = match (state.own_max_open_leads(), state.max_open_leads()) {
        (Some(_), _) => Some(MaxFrom::Team),
        (None, Some(_)) => Some(MaxFrom::Members),
        (None, None) => None,
    };
    Some(TeamView {
        name: name.to_string(),
        time_zone: state.time_zone().map(str::to_string),
        hours: state.hours().map(WeeklyHours::lines).unwrap_or_default(),
        holidays: state.holidays().to_vec(),
        max_open_leads: state.max_open_leads(),
        max_open_leads_from,
        capacity_source: state.capacity_source().clone(),
        members: state
            .members()
            .iter()
            .map(|m| MemberView {
                id: m.id.clone(),
                name: names.remove(&m.id).flatten(),
                max_open_leads: m.max_open_leads,
                added_at: m.added_at,
            })
            .collect(),
        defined_at,
        updated_at,
    })
}

/// Refuses a team name that is no valid id (as stored: [`valid_scoped_id`]), with what a name
/// may be.
fn check_name(name: &str) -> Result<()> {
    if valid_scoped_id(name) {
        return Ok(());
    }
    Err(Error::Input(
        TeamError::InvalidId {
            field: "team",
            value: name.to_string(),
        }
        .to_string(),
    ))
}

fn not_found(team: &str) -> Error {
    Error::NotFound(format!(
        "no team {team:?}: define it first (`leadorch teams set {team}`); `leadorch teams list` \
         shows the teams"
    ))
}

/// The domain's refusal as the error callers map to a status: 404 for a missing team or
/// member, 409 for a member already in the team, 422 for the rest (the domain's error kept,
/// so that the field at fault can be named).
fn refused(team: &str, e: TeamError) -> Error {
    match e {
        TeamError::NotDefined => not_found(team),
        TeamError::NoSuchMember(_) => Error::NotFound(format!("team {team}: {e}")),
        TeamError::DuplicateMember(_) | TeamError::TeamMismatch { .. } => {
            Error::Conflict(format!("team {team}: {e}"))
        }
        error => Error::Team {
            team: team.to_string(),
            error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_null_as_remove_and_absent_as_keep() {
        let s: TeamSettings = serde_json::from_value(serde_json::json!({
            "hours": null, "max_open_leads": 40, "holidays": ["2026-12-25"],
        }))
        .expect("valid");
        assert_eq!(s.hours, Some(None));
        assert_eq!(s.max_open_leads, Some(Some(40)));
        assert_eq!(s.time_zone, None);
        assert_eq!(s.capacity_source, None);
        let s: TeamSettings =
            serde_json::from_value(serde_json::json!({"max_open_leads": null})).expect("valid");
        assert_eq!((s.max_open_leads, s.hours), (Some(None), None));
        let e =
            serde_json::from_value::<TeamSettings>(serde_json::json!({"hourz": []})).unwrap_err();
        assert!(e.to_string().contains("unknown field `hourz`"), "{e}");
        let e = serde_json::from_value::<TeamSettings>(serde_json::json!({"holidays": ["12/25"]}))
            .unwrap_err();
        assert!(
            e.to_string().contains("input contains invalid characters"),
            "{e}"
        );
    }

    #[test]
    fn a_calendar_becomes_hours_or_says_why_not() {
        let mut calendar = Calendar::default();
        calendar
            .weekly
            .insert("fri".into(), vec![["09:00".into(), "17:00".into()]]);
        calendar.weekly.insert(
            "monday".into(),
            vec![
                ["09:00".into(), "12:00".into()],
                ["13:00".into(), "17:00".into()],
            ],
        );
        calendar.weekly.insert("sat".into(), vec![]);
        let hours = calendar_hours("sales-nl", &calendar).expect("valid");
        assert_eq!(
            hours.lines(),
            vec!["mon 09:00-12:00,13:00-17:00", "fri 09:00-17:00"]
        );
        calendar
            .weekly
            .insert("someday".into(), vec![["09:00".into(), "17:00".into()]]);
        let e = calendar_hours("sales-nl", &calendar)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("facts.calendars.sales-nl: hours \"someday 09:00-17:00\": unknown day"),
            "{e}"
        );
        let e = calendar_hours("sales-nl", &Calendar::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no opening hours"), "{e}");
    }

    #[test]
    fn zones_compare_by_their_canonical_names() {
        assert!(same_zone("Europe/Amsterdam", " Europe/Amsterdam"));
        assert!(!same_zone("Europe/Amsterdam", "Europe/Brussels"));
        assert!(!same_zone("Mars/Olympus", "Mars/Olympus"));
    }
}
