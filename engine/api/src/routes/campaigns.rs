//! Campaigns and why they are as they are (scope `read`): `GET /v1/campaigns`,
//! `GET /v1/campaigns/{customer}/{campaign}` and its `/explain` (the decision chain, now or as
//! of an earlier point, as `leadorch explain` prints it). The hash chain's verification is
//! `audit.rs`.
//!
//! A campaign belongs to the project of the Google account it was last read through (ADR
//! 0030): a key sees its own project's campaigns, and another project's is a `404`.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use leadorch_core::time_travel::{parse_time, AsOf, Point};
use leadorch_domain::Campaign;
use leadorch_evaluate::explain::Explanation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Scoped};
use crate::body::Params;
use crate::problem::from_engine;
use crate::{Api, Problem};

/// A change the engine requested for a campaign.
#[derive(Clone, Debug, Serialize, ToSchema, TS)]
pub struct LastChange {
    /// Its id in the campaign's stream.
    pub change_id: String,
    /// The change as recorded: a name for a change without parameters (`"pause"`,
    /// `"resume"`), else an object (`{"set_budget": {"daily_budget_micros": …}}`).
    #[schema(value_type = Value)]
    pub change: Value,
    /// Why (the rule's reason; empty when its Google account was forgotten).
    pub reason: String,
    /// The evaluation that decided it (`GET /v1/evaluations`); `null` for a change made by
    /// hand.
    pub decision_ref: Option<String>,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// `requested`, `applied`, `failed` or `superseded` (replaced by a later change of the
    /// same field before it was applied; never sent).
    pub state: String,
    /// When it was applied, failed or was replaced.
    pub ended_at: Option<DateTime<Utc>>,
    /// What Google Ads or the executor reported, when it failed.
    pub error: Option<String>,
}

fn last_change(state: &Campaign) -> Option<LastChange> {
    use leadorch_domain::campaign::ChangeState;
    let (id, record) = state
        .changes()
        .max_by_key(|(id, r)| (r.requested_at, id.to_string()))?;
    let (name, ended_at, error) = match &record.state {
        ChangeState::Requested => ("requested", None, None),
        ChangeState::Applied { at } => ("applied", Some(*at), None),
        ChangeState::Failed { error, at, .. } => ("failed", Some(*at), Some(error.clone())),
        ChangeState::Superseded { at, .. } => ("superseded", Some(*at), None),
    };
    Some(LastChange {
        change_id: id.to_string(),
        change: serde_json::to_value(&record.change).unwrap_or(Value::Null),
        reason: record.reason.clone(),
        decision_ref: record.decision_ref.clone(),
        requested_at: record.requested_at,
        state: name.into(),
        ended_at,
        error,
    })
}

/// A campaign as the engine knows it now.
#[derive(Clone, Debug, Serialize, ToSchema, TS)]
pub struct CampaignView {
    /// `<customer>/<campaign>`.
    #[schema(example = "1234567890/1001")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// `enabled`, `paused` or `removed`.
    pub status: String,
    /// Daily budget in micros of the account currency.
    pub daily_budget_micros: i64,
    /// Bidding strategy, as recorded: a name for a strategy without a target
    /// (`"maximize_conversions"`), else an object with its target.
    #[schema(value_type = Value)]
    pub bidding: Value,
    /// Its labels.
    pub labels: Vec<String>,
    /// The team its capacity comes from (`team:<name>` label, the configured mapping, or the
    /// default team); `null` when none.
    pub team: Option<String>,
    /// When its state was last read from Google Ads (RFC 3339).
    pub last_observed_at: Option<DateTime<Utc>>,
    /// Until when a change made outside the engine is respected (no rule changes it).
    pub manual_hold_until: Option<DateTime<Utc>>,
    /// Changes decided and not yet applied (or failed).
    pub pending_changes: usize,
    /// The last change the engine requested: what, why, by which evaluation, and how it
    /// ended; `null` when none was.
    pub last_change: Option<LastChange>,
}

/// The view of a campaign's state.
pub fn view_of(api: &Api, id: &str, state: &Campaign) -> Option<CampaignView> {
    let snapshot = state.snapshot()?;
    let facts = leadorch_config::FactSettings {
        default_team: api.settings.default_team.clone(),
        campaign_teams: api.settings.campaign_teams.clone(),
        ..Default::default()
    };
    Some(CampaignView {
        id: id.to_string(),
        name: snapshot.name.clone(),
        status: serde_json::to_value(snapshot.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        daily_budget_micros: snapshot.daily_budget_micros,
        bidding: serde_json::to_value(&snapshot.bidding).unwrap_or(Value::Null),
        labels: snapshot.labels.clone(),
        team: leadorch_evaluate::facts::team_of(&snapshot.labels, id, &facts),
        last_observed_at: state.last_observed_at(),
        manual_hold_until: state.manual_override_until(),
        pending_changes: state.pending_changes().count(),
        last_change: last_change(state),
    })
}

/// Every campaign of the caller's project (those read through its Google accounts), by id.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
    responses(
        (status = 200, description = "The campaigns", body = Vec<CampaignView>),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
) -> Result<Json<Vec<CampaignView>>, Problem> {
    let facts = api
        .facts()
        .await
        .map_err(|e| crate::routes::leads::evaluate_problem(&e))?;
    Ok(Json(
        facts
            .campaigns
            .iter()
            .filter(|(_, entry)| entry.project() == caller.project)
            .filter_map(|(id, entry)| view_of(&api, id, &entry.state))
            .collect(),
    ))
}

/// One campaign of the caller's project (another project's is not found).
#[utoipa::path(get, path = "/v1/campaigns/{customer}/{campaign}", tag = "campaigns",
    params(("customer" = String, Path, description = "Google Ads customer id (digits)"),
           ("campaign" = String, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignView),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn one(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path((customer, campaign)): Path<(String, String)>,
) -> Result<Json<CampaignView>, Problem> {
    let id = Campaign::aggregate_id(&customer, &campaign);
    let missing = || Problem::not_found(format!("no campaign {id}"));
    let facts = api
        .facts()
        .await
        .map_err(|e| crate::routes::leads::evaluate_problem(&e))?;
    let entry = facts
        .campaigns
        .get(&id)
        .filter(|entry| entry.project() == caller.project)
        .ok_or_else(missing)?;
    view_of(&api, &id, &entry.state)
        .map(Json)
        .ok_or_else(missing)
}

/// Which moment to explain.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// As of this event time (RFC 3339 or a date) or log position (digits) [default: now].
    pub as_of: Option<String>,
    /// The same as `as_of` (what `leadorch explain --at` calls it).
    pub at: Option<String>,
    /// Only what the log held at this recorded time (RFC 3339 or a date).
    pub known_at: Option<String>,
}

/// Why the campaign is in its state: the decision chain, the facts each rule saw, the
/// arbiter's reasons (what `leadorch explain --json` prints).
#[utoipa::path(get, path = "/v1/campaigns/{customer}/{campaign}/explain", tag = "campaigns",
    params(("customer" = String, Path, description = "Google Ads customer id (digits)"),
           ("campaign" = String, Path, description = "Campaign id"),
           ExplainQuery),
    responses(
        (status = 200, description = "The explanation", body = Explanation),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign (then)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "as_of or known_at is not a time or position", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn explain(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path((customer, campaign)): Path<(String, String)>,
    Params(q): Params<ExplainQuery>,
) -> Result<Json<Explanation>, Problem> {
    let id = Campaign::aggregate_id(&customer, &campaign);
    if !owns_campaign(&api, &caller.project, &id).await? {
        return Err(Problem::not_found(format!("no campaign {id}")));
    }
    let (field, when) = match (&q.as_of, &q.at) {
        (Some(_), Some(_)) => {
            return Err(Problem::invalid(
                "at",
                "give as_of or at (they are the same), not both",
            ))
        }
        (Some(v), None) => ("as_of", Some(v)),
        (None, v) => ("at", v.as_ref()),
    };
    let point = when
        .map(|s| Point::parse(field, s))
        .transpose()
        .map_err(|e| Problem::invalid(field, e))?;
    let known = q
        .known_at
        .as_deref()
        .map(|s| parse_time("known_at", s))
        .transpose()
        .map_err(|e| Problem::invalid("known_at", e))?;
    let view = AsOf::resolve(&api.engine.store.log, point, known)
        .await
        .map_err(|e| from_engine(&e))?;
    let stream = leadorch_domain::stream_id("campaign", &id);
    if api
        .engine
        .store
        .log
        .stream_version(&stream)
        .await
        .map_err(|e| Problem::from_store(&e))?
        == 0
    {
        return Err(Problem::not_found(format!("no campaign {id}")));
    }
    leadorch_evaluate::explain::explain_as_of(&api.engine, &id, &view)
        .await
        .map(Json)
        .map_err(|e| match e {
            leadorch_evaluate::Error::NotFound(m) => Problem::not_found(m),
            other => crate::routes::leads::evaluate_problem(&other),
        })
}

/// Whether campaign `id` belongs to `project` (a campaign never observed belongs to none; the
/// default project's campaigns include those not read from Google).
pub async fn owns_campaign(api: &Api, project: &str, id: &str) -> Result<bool, Problem> {
    let facts = api
        .facts()
        .await
        .map_err(|e| crate::routes::leads::evaluate_problem(&e))?;
    Ok(facts
        .campaigns
        .get(id)
        .is_some_and(|entry| entry.project() == project))
}
