//! `/v1/teams`: the caller's project's sales teams — time zone, business hours, holidays,
//! maximum of open leads, capacity source and members. Reading needs scope `read`, changing
//! scope `admin`.
//!
//! The teams library (`leadorch_evaluate::teams`, which `leadorch teams` calls too) decides and
//! records; this module keeps projects apart (a team `sales-nl` of project `acme` is stored as
//! `acme/sales-nl`, and so are its members' ids, [`crate::ids`]; callers only ever see the bare
//! names), converts to the documented types below, and names the field at fault in every
//! refusal. Members' display names are personal data: only a key with scope `admin` sees them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use leadorch_domain::TeamError;
use leadorch_evaluate::teams::{self, MaxFrom, MemberSettings, TeamSettings, TeamView};
use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Caller, Scoped};
use crate::body::Body;
use crate::ids::{check_client_id, scoped, unscoped};
use crate::keys::Scope;
use crate::{Api, Problem};

/// What to set of a team. A field left out stays as it is; a new team is defined with what
/// is given (capacity source `pushed` unless given). Nothing is recorded for a value the team
/// already has.
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    /// IANA time zone of the team's hours and holidays. It can be changed, not removed.
    #[serde(default, deserialize_with = "not_null")]
    #[ts(optional)]
    #[schema(value_type = String, example = "Europe/Amsterdam")]
    pub time_zone: Option<String>,
    /// Business hours in the team's time zone, one line per group of days, e.g.
    /// `mon-fri 09:00-17:00` or `sat 10:00-12:00,13:00-15:00`. Replaces the team's hours;
    /// `null` removes them (its calendar then comes from the configuration, if that has one).
    /// Needs the team's time zone, given here or set before.
    #[serde(default, deserialize_with = "present")]
    #[ts(optional)]
    #[schema(value_type = Option<Vec<String>>, example = json!(["mon-fri 09:00-17:00"]))]
    pub hours: Option<Option<Vec<String>>>,
    /// Every holiday of the team (local dates, `YYYY-MM-DD`). Replaces its holidays; an empty
    /// list removes them.
    #[serde(default, deserialize_with = "not_null")]
    #[ts(optional)]
    #[schema(value_type = Vec<NaiveDate>, example = json!(["2026-12-25"]))]
    pub holidays: Option<Vec<NaiveDate>>,
    /// The team's own maximum of open leads (0 or more); `null` makes it the sum of its
    /// members' maximums again.
    #[serde(default, deserialize_with = "present")]
    #[ts(optional)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64, example = 40)]
    pub max_open_leads: Option<Option<i64>>,
    /// Where the team's capacity comes from: `pushed` (readings sent to `POST /v1/capacity`),
    /// `leads` (its leads' statuses) or `connector:<name>`. Exactly one per team.
    #[serde(default, deserialize_with = "not_null")]
    #[ts(optional)]
    #[schema(value_type = String, example = "pushed")]
    pub capacity_source: Option<String>,
}

/// What to set of a member: a field left out stays as it is (a new member has neither).
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    /// Display name, 1 to 200 characters. Personal data: stored sealed with the member's own
    /// key (data subject `member:<id>`) and shredded when the member is erased. `null`
    /// removes it.
    #[serde(default, deserialize_with = "present")]
    #[ts(optional)]
    #[schema(value_type = Option<String>, example = "Ada Lovelace")]
    pub name: Option<Option<String>>,
    /// How many open leads the member can carry (0 or more); `null` removes it. A team without
    /// a maximum of its own carries the sum of its members'.
    #[serde(default, deserialize_with = "present")]
    #[ts(optional)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64, example = 12)]
    pub max_open_leads: Option<Option<i64>>,
}

/// A team as its events define it.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct TeamResponse {
    /// The team's name.
    #[schema(example = "sales-nl")]
    pub name: String,
    /// IANA time zone of its hours and holidays; `null` when not set.
    pub time_zone: Option<String>,
    /// Business hours as lines (`mon-fri 09:00-17:00`); empty when it has none (its calendar
    /// then comes from the configuration, if that has one).
    pub hours: Vec<String>,
    /// Holidays (local dates), sorted.
    pub holidays: Vec<NaiveDate>,
    /// Its maximum of open leads; `null` when neither the team nor any member gives one.
    pub max_open_leads: Option<u32>,
    /// Where that maximum comes from; `null` when there is none.
    pub max_open_leads_from: Option<MaxOpenLeadsFrom>,
    /// Where its capacity comes from: `pushed`, `leads` or `connector:<name>`.
    #[schema(example = "pushed")]
    pub capacity_source: String,
    /// Members, in the order they were added.
    pub members: Vec<MemberResponse>,
    /// When it was defined.
    pub defined_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where a team's maximum of open leads comes from.
#[derive(Debug, Serialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum MaxOpenLeadsFrom {
    /// Set on the team.
    Team,
    /// The sum of its members' maximums.
    Members,
}

/// A member of a team.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct MemberResponse {
    /// The member's id (opaque, e.g. the CRM's owner id).
    #[schema(example = "owner-17")]
    pub id: String,
    /// Display name. Personal data: given only to a key with scope `admin`; `null` for every
    /// other key, and when the member has no name or was erased.
    pub name: Option<String>,
    /// How many open leads the member can carry; `null` when not given.
    pub max_open_leads: Option<u32>,
    /// When the member was added.
    pub added_at: DateTime<Utc>,
}

/// The teams of the caller's project.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct TeamList {
    /// By name.
    pub items: Vec<TeamResponse>,
}

/// Every team of the caller's project.
#[utoipa::path(get, path = "/v1/teams", tag = "teams", operation_id = "list_teams",
    responses(
        (status = 200, description = "The project's teams (members' names only for an admin key)", body = TeamList),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
) -> Result<Json<TeamList>, Problem> {
    let names = teams::team_names(&api.engine)
        .await
        .map_err(|e| refusal(e, &Context::default()))?;
    let mut items = Vec::new();
    for stored in &names {
        let Some(bare) = unscoped(&caller.project, stored) else {
            continue;
        };
        let view = teams::show_team(&api.engine, stored)
            .await
            .map_err(|e| refusal(e, &Context::team(bare)))?;
        items.push(response(view, bare, &caller));
    }
    Ok(Json(TeamList { items }))
}

/// One team of the caller's project.
#[utoipa::path(get, path = "/v1/teams/{team}", tag = "teams", operation_id = "show_team",
    params(("team" = String, Path, description = "The team's name, e.g. sales-nl", pattern = "^[A-Za-z0-9._-]{1,128}$")),
    responses(
        (status = 200, description = "The team (members' names only for an admin key)", body = TeamResponse),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such team", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The name is no valid id (field team)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn show(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(team): Path<String>,
) -> Result<Json<TeamResponse>, Problem> {
    check_client_id("team", &team)?;
    let view = teams::show_team(&api.engine, &scoped(&caller.project, &team))
        .await
        .map_err(|e| refusal(e, &Context::team(&team)))?;
    Ok(Json(response(view, &team, &caller)))
}

/// Defines a team of the caller's project, or changes what the body gives of it.
#[utoipa::path(put, path = "/v1/teams/{team}", tag = "teams", operation_id = "set_team",
    params(("team" = String, Path, description = "The team's name: 1 to 128 of A-Z a-z 0-9 . _ -", pattern = "^[A-Za-z0-9._-]{1,128}$")),
    request_body = TeamRequest,
    responses(
        (status = 201, description = "Defined", body = TeamResponse),
        (status = 200, description = "Changed (or already so: nothing recorded)", body = TeamResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (an unknown time zone, hours that cannot be read, a negative maximum, an unknown capacity source, an unknown field); nothing recorded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn set(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(team): Path<String>,
    Body(req): Body<TeamRequest>,
) -> Result<(StatusCode, Json<TeamResponse>), Problem> {
    check_client_id("team", &team)?;
    let context = Context {
        team: Some(&team),
        member: None,
        hours: req.hours.clone().flatten(),
    };
    let settings = TeamSettings {
        time_zone: req.time_zone,
        hours: req.hours,
        holidays: req.holidays,
        max_open_leads: req.max_open_leads,
        capacity_source: req.capacity_source,
    };
    let saved = teams::set_team_with(
        &api.engine,
        &scoped(&caller.project, &team),
        &settings,
        Utc::now(),
        &metadata(&caller),
    )
    .await
    .map_err(|e| refusal(e, &context))?;
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response(saved.team, &team, &caller))))
}

/// Adds a member to a team of the caller's project, or changes what the body gives of one.
#[utoipa::path(put, path = "/v1/teams/{team}/members/{member}", tag = "teams", operation_id = "put_team_member",
    params(
        ("team" = String, Path, description = "The team's name", pattern = "^[A-Za-z0-9._-]{1,128}$"),
        ("member" = String, Path, description = "The member's id: 1 to 128 of A-Z a-z 0-9 . _ - (e.g. the CRM's owner id)", pattern = "^[A-Za-z0-9._-]{1,128}$"),
    ),
    request_body = MemberRequest,
    responses(
        (status = 201, description = "Added; the team now", body = TeamResponse),
        (status = 200, description = "Changed (or already so: nothing recorded); the team now", body = TeamResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such team", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (an empty name, a negative maximum, an unknown field); nothing recorded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn put_member(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path((team, member)): Path<(String, String)>,
    Body(req): Body<MemberRequest>,
) -> Result<(StatusCode, Json<TeamResponse>), Problem> {
    check_client_id("team", &team)?;
    check_client_id("member", &member)?;
    let settings = MemberSettings {
        name: req.name,
        max_open_leads: req.max_open_leads,
    };
    let saved = teams::put_member(
        &api.engine,
        &scoped(&caller.project, &team),
        &scoped(&caller.project, &member),
        &settings,
        Utc::now(),
        &metadata(&caller),
    )
    .await
    .map_err(|e| refusal(e, &Context::member(&team, &member)))?;
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response(saved.team, &team, &caller))))
}

/// Removes a member from a team of the caller's project. Its name stays in the log, sealed,
/// until the member is erased.
#[utoipa::path(delete, path = "/v1/teams/{team}/members/{member}", tag = "teams", operation_id = "remove_team_member",
    params(
        ("team" = String, Path, description = "The team's name", pattern = "^[A-Za-z0-9._-]{1,128}$"),
        ("member" = String, Path, description = "The member's id", pattern = "^[A-Za-z0-9._-]{1,128}$"),
    ),
    responses(
        (status = 200, description = "Removed; the team now", body = TeamResponse),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such team, or the team no such member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name is no valid id (field team or member)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn remove_member(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path((team, member)): Path<(String, String)>,
) -> Result<Json<TeamResponse>, Problem> {
    check_client_id("team", &team)?;
    check_client_id("member", &member)?;
    let stored = scoped(&caller.project, &team);
    match teams::remove_member_with(
        &api.engine,
        &stored,
        &scoped(&caller.project, &member),
        Utc::now(),
        &metadata(&caller),
    )
    .await
    {
        Ok(view) => Ok(Json(response(view, &team, &caller))),
        // Which is missing, the team or the member: the library says it in words only.
        Err(leadorch_evaluate::Error::NotFound(_)) => {
            let defined = teams::load_team(&api.engine, &stored)
                .await
                .map_err(|e| refusal(e, &Context::default()))?
                .is_defined();
            Err(if defined {
                no_member(&team, &member)
            } else {
                no_team(&team)
            })
        }
        Err(e) => Err(refusal(e, &Context::member(&team, &member))),
    }
}

/// Recorded as the caller's actor ([`Caller::actor`]: `api-key:<key id>`, or the local
/// operator's) with a trace id of its own, like every change over HTTP.
fn metadata(caller: &Caller) -> leadorch_store::Metadata {
    leadorch_store::Metadata {
        actor: caller.actor.clone(),
        trace_id: Some(uuid::Uuid::now_v7().to_string()),
        ..Default::default()
    }
}

/// A team as the caller sees it: its bare name, its members' bare ids, and their names only
/// for an admin key.
fn response(view: TeamView, name: &str, caller: &Caller) -> TeamResponse {
    let names = Scope::Admin.granted_by(&caller.scopes);
    TeamResponse {
        name: name.to_string(),
        time_zone: view.time_zone,
        hours: view.hours,
        holidays: view.holidays,
        max_open_leads: view.max_open_leads,
        max_open_leads_from: view.max_open_leads_from.map(|f| match f {
            MaxFrom::Team => MaxOpenLeadsFrom::Team,
            MaxFrom::Members => MaxOpenLeadsFrom::Members,
        }),
        capacity_source: view.capacity_source.to_string(),
        members: view
            .members
            .into_iter()
            .map(|m| MemberResponse {
                id: unscoped(&caller.project, &m.id).map_or_else(|| m.id.clone(), str::to_string),
                name: m.name.filter(|_| names),
                max_open_leads: m.max_open_leads,
                added_at: m.added_at,
            })
            .collect(),
        defined_at: view.defined_at,
        updated_at: view.updated_at,
    }
}

/// What a request named, to word its refusals in the caller's names.
#[derive(Default)]
struct Context<'a> {
    team: Option<&'a str>,
    member: Option<&'a str>,
    /// The hours the request gave, to name the line at fault (`hours[1]`).
    hours: Option<Vec<String>>,
}

impl<'a> Context<'a> {
    fn team(team: &'a str) -> Context<'a> {
        Context {
            team: Some(team),
            ..Context::default()
        }
    }

    fn member(team: &'a str, member: &'a str) -> Context<'a> {
        Context {
            team: Some(team),
            member: Some(member),
            hours: None,
        }
    }
}

fn no_team(team: &str) -> Problem {
    Problem::not_found(format!(
        "no team {team:?} in this project: define it with PUT /v1/teams/{team}; GET /v1/teams lists the teams"
    ))
    .field("team")
}

fn no_member(team: &str, member: &str) -> Problem {
    Problem::not_found(format!(
        "team {team} has no member {member:?}: GET /v1/teams/{team} lists its members"
    ))
    .field("member")
}

/// The problem for the teams library's error: the domain's refusals name their field, a
/// missing team is a `404`, the store's errors as [`Problem::from_store`].
fn refusal(e: leadorch_evaluate::Error, context: &Context<'_>) -> Problem {
    use leadorch_evaluate::Error as E;
    let team = context.team.unwrap_or_default();
    match e {
        E::Team { error, .. } => {
            let field = field_of(&error, context.hours.as_deref());
            Problem::invalid(&field, error.to_string())
        }
        // The team: a missing member is told apart where it can be missing (a removal).
        E::NotFound(_) => no_team(team),
        E::Input(detail) => Problem::invalid("team", detail),
        // Only when the team changed while the request was answered (a member added twice
        // at once): nothing was recorded by this request.
        E::Conflict(_) => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!(
                "team {team} changed while this request was answered; nothing was recorded: read it again and retry"
            ),
        )
        .field(if context.member.is_some() { "member" } else { "team" }),
        E::Engine(e) => crate::problem::from_engine(&e),
        E::Store(e) => Problem::from_store(&e),
        other => {
            tracing::error!("answering a teams request for {team}: {other}");
            Problem::internal()
        }
    }
}

/// The request field a domain refusal is about, as the bodies and paths above spell it.
fn field_of(e: &TeamError, hours: Option<&[String]>) -> String {
    match e {
        TeamError::InvalidId {
            field: "connector name",
            ..
        }
        | TeamError::UnknownCapacitySource(_) => "capacity_source".into(),
        TeamError::InvalidId {
            field: "member id", ..
        }
        | TeamError::DuplicateMember(_)
        | TeamError::NoSuchMember(_) => "member".into(),
        TeamError::InvalidId { .. } | TeamError::TeamMismatch { .. } | TeamError::NotDefined => {
            "team".into()
        }
        // Hours need a zone: the zone is what is missing.
        TeamError::UnknownTimeZone(_) | TeamError::HoursWithoutTimeZone => "time_zone".into(),
        TeamError::BadHours { line, .. } => hours
            .and_then(|lines| lines.iter().position(|l| l.trim() == line.trim()))
            .map_or_else(|| "hours".to_string(), |i| format!("hours[{i}]")),
        TeamError::EmptyField(field)
        | TeamError::TooLong { field, .. }
        | TeamError::Negative { field, .. }
        | TeamError::TooLarge { field, .. } => (*field).to_string(),
    }
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

/// A field that may be left out but not be `null` (it cannot be removed): `null` is refused
/// as the wrong type, naming the field.
fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_tell_absent_from_null_and_refuse_null_where_nothing_can_be_removed() {
        let r: TeamRequest =
            crate::body::parse(br#"{"hours": null, "max_open_leads": 4}"#).expect("valid");
        assert_eq!(r.hours, Some(None));
        assert_eq!(r.max_open_leads, Some(Some(4)));
        assert_eq!(
            (r.time_zone, r.holidays, r.capacity_source),
            (None, None, None)
        );
        let p = crate::body::parse::<TeamRequest>(br#"{"time_zone": null}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("time_zone"), "{p:?}");
        let p = crate::body::parse::<TeamRequest>(br#"{"holidays": ["25-12-2026"]}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("holidays[0]"), "{p:?}");
        let m: MemberRequest = crate::body::parse(br#"{"name": null}"#).expect("valid");
        assert_eq!((m.name, m.max_open_leads), (Some(None), None));
    }

    #[test]
    fn every_refusal_names_a_field_of_the_request() {
        let lines = vec!["mon-fri 09:00-17:00".to_string(), "sun 25:00".to_string()];
        let bad = TeamError::BadHours {
            line: "sun 25:00".into(),
            reason: "x".into(),
        };
        assert_eq!(field_of(&bad, Some(&lines)), "hours[1]");
        assert_eq!(field_of(&bad, None), "hours");
        assert_eq!(
            field_of(&TeamError::UnknownCapacitySource("crm".into()), None),
            "capacity_source"
        );
        assert_eq!(
            field_of(
                &TeamError::InvalidId {
                    field: "connector name",
                    value: String::new()
                },
                None
            ),
            "capacity_source"
        );
        assert_eq!(
            field_of(
                &TeamError::Negative {
                    field: "max_open_leads",
                    value: -1
                },
                None
            ),
            "max_open_leads"
        );
        assert_eq!(field_of(&TeamError::EmptyField("name"), None), "name");
        assert_eq!(
            field_of(&TeamError::HoursWithoutTimeZone, None),
            "time_zone"
        );
    }
}
