//! The engine's decisions and the past (scope `read`): `GET /v1/evaluations` (each evaluation
//! with the facts its rules saw, their runs, the arbiter's resolution and the changes it
//! asked for) and `GET /v1/replay` (campaigns, teams and rules as they were at a moment).
//! Each project sees its own: its evaluations (ids `<project>/…` outside `default`, shown
//! bare), its campaigns, teams and rules (ADR 0030).

use axum::extract::State;
use axum::Json;
use chrono::SecondsFormat;
use leadorch_core::time_travel::{parse_time, AsOf, Point};
use leadorch_store::{Match, Reveal, Window};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Scoped};
use crate::body::Params;
use crate::problem::from_engine;
use crate::routes::campaigns::CampaignView;
use crate::routes::progress::ProgressToken;
use crate::routes::Page;
use crate::{Api, Problem};

/// Which evaluations.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvaluationQuery {
    /// Only evaluations after this log position [default: 0].
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// Only evaluations before this log position; without `order`, the page is the newest of
    /// them, newest first (as `GET /v1/events` reads `before`).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub before: Option<u64>,
    /// `oldest` (first) or `newest` (first) [default: `newest` with `before`, else
    /// `oldest`]. `next` continues in the same direction: pass it as `after` (oldest first)
    /// or `before` (newest first).
    #[param(inline)]
    pub order: Option<EvaluationOrder>,
    /// At most this many (1 to 200) [default: 50].
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Only evaluations whose facts or changes name this campaign (`<customer>/<campaign>`).
    pub campaign: Option<String>,
}

/// The order of `GET /v1/evaluations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationOrder {
    /// Oldest first, after `after`.
    Oldest,
    /// Newest first, before `before` (or the end).
    Newest,
}

/// One recorded evaluation.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct EvaluationView {
    /// Its log position.
    pub position: u64,
    /// Its id (what a change's `decision_ref` names).
    pub id: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The evaluation: trigger, time, facts, each rule's run, the resolution, the changes —
    /// the `EvaluationRecorded` event's data as stored (so `google_account` is absent from
    /// evaluations recorded before 1.1), its personal fields opened (`null` once forgotten).
    /// Its shape is `EvaluationRecord`'s (OpenAPI says so); the TypeScript binding is still
    /// `JsonValue` until the desktop's code and fixtures build whole records, and
    /// `EvaluationRecord.ts` is exported beside it.
    #[schema(value_type = leadorch_domain::EvaluationRecord)]
    pub evaluation: Value,
}

/// Evaluations in log order, oldest first after `after`; or newest first before `before`
/// (`order=newest`, or `before` alone).
#[utoipa::path(get, path = "/v1/evaluations", tag = "campaigns",
    params(EvaluationQuery),
    responses(
        (status = 200, description = "Evaluations between `after` and `before` in `order`; `next` is where the next page in the same direction starts (its `after` oldest first, its `before` newest first)", body = Page<EvaluationView>),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn evaluations(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Params(q): Params<EvaluationQuery>,
) -> Result<Json<Page<EvaluationView>>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::invalid(
            "limit",
            format!("limit is 1 to 200, not {limit}"),
        ));
    }
    crate::routes::events::check_position("after", q.after.unwrap_or(0))?;
    if let Some(b) = q.before {
        crate::routes::events::check_position("before", b)?;
    }
    let newest = match q.order {
        Some(order) => order == EvaluationOrder::Newest,
        None => q.before.is_some(),
    };
    let store = &api.engine.store;
    // The operator's own campaign facts: opened as `leadorch explain` opens them.
    let mut decoder = store.codec.decoder(Reveal::Decrypt);
    let wanted = q.campaign.as_ref().map(|c| format!("\"{c}\""));
    let mut items = Vec::new();
    let mut after = q.after.unwrap_or(0);
    let mut before = q.before;
    // Where the next page in the same direction starts.
    let cursor = |after: u64, before: Option<u64>| {
        if newest {
            before.map(|b| b.to_string())
        } else {
            Some(after.to_string())
        }
    };
    let mut scanned = 0u64;
    loop {
        let page = store
            .log
            .window(&Window {
                after,
                before,
                newest_first: newest,
                limit: limit.max(100),
                filter: Match {
                    event_type: Some("EvaluationRecorded".into()),
                    ..Default::default()
                },
            })
            .await
            .map_err(|e| Problem::from_store(&e))?;
        let full = page.len() as u64 == limit.max(100);
        for rec in &page {
            if newest {
                before = Some(rec.position);
            } else {
                after = rec.position;
            }
            scanned += 1;
            let stored = rec
                .stream_id
                .strip_prefix("evaluation:")
                .unwrap_or(&rec.stream_id);
            // Another project's evaluation: not read, not counted as the caller's.
            let Some(id) = crate::ids::unscoped(&caller.project, stored) else {
                continue;
            };
            let data = decoder
                .payload(rec)
                .await
                .map_err(|e| Problem::from_store(&e))?;
            let evaluation = data.get("EvaluationRecorded").cloned().unwrap_or(data);
            if let Some(w) = &wanted {
                let names = |k: &str| {
                    evaluation
                        .get(k)
                        .is_some_and(|v| v.to_string().contains(w.as_str()))
                };
                if !names("facts") && !names("changes") {
                    continue;
                }
            }
            items.push(EvaluationView {
                position: rec.position,
                id: id.to_string(),
                recorded_at: rec
                    .recorded_at_utc()
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
                evaluation,
            });
            if items.len() as u64 == limit {
                return Ok(Json(Page {
                    items,
                    next: cursor(after, before),
                }));
            }
        }
        if !full {
            return Ok(Json(Page { items, next: None }));
        }
        if scanned >= 10_000 {
            return Ok(Json(Page {
                items,
                next: cursor(after, before),
            }));
        }
    }
}

/// Which moment.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// As of this event time (RFC 3339 or a date) or log position (digits).
    pub at: String,
    /// Only what the log held at this recorded time (RFC 3339 or a date).
    pub known_at: Option<String>,
}

/// A team's capacity as it was.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct TeamThen {
    /// The team.
    pub team: String,
    /// Agents available.
    pub agents_available: u32,
    /// Open leads.
    pub open_leads: u32,
    /// The maximum of open leads.
    pub max_open_leads: u32,
    /// When the reading was taken.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A rule as it was.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleThen {
    /// The rule.
    pub id: String,
    /// Its version then.
    pub version: u32,
    /// Whether it could act then.
    pub enabled: bool,
}

/// The state at a moment.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct Replay {
    /// What was folded: the view's description (`as of … (position N)`).
    pub view: String,
    /// The last log position folded in.
    pub position: u64,
    /// Campaigns then.
    pub campaigns: Vec<CampaignView>,
    /// Teams' capacity then.
    pub teams: Vec<TeamThen>,
    /// Rules then.
    pub rules: Vec<RuleThen>,
}

/// Campaigns, teams' capacity and rules as they were at a moment (event time or position),
/// folded from the log in memory; nothing is saved. The first replay in a server reads the
/// whole log and keeps views of it every so many events; later ones start from the nearest
/// (ADR 0043). Send a `Progress-Token` to follow a long one.
#[utoipa::path(get, path = "/v1/replay", tag = "campaigns",
    params(ReplayQuery,
        ("Progress-Token" = Option<String>, Header, description = "A token of the caller's choosing (1–64 of A-Z a-z 0-9 _ -): while the replay runs, `GET /v1/progress/{token}` answers how many of the log's events it has read")),
    responses(
        (status = 200, description = "The state then", body = Replay),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "at or known_at is not a time or position", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn replay(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    ProgressToken(token): ProgressToken,
    Params(q): Params<ReplayQuery>,
) -> Result<Json<Replay>, Problem> {
    let progress = api.progress.follow(&caller, token.as_ref(), "events");
    let point = Point::parse("at", &q.at).map_err(|e| Problem::invalid("at", e))?;
    let known = q
        .known_at
        .as_deref()
        .map(|s| parse_time("known_at", s))
        .transpose()
        .map_err(|e| Problem::invalid("known_at", e))?;
    let view = AsOf::resolve(&api.engine.store.log, Some(point), known)
        .await
        .map_err(|e| from_engine(&e))?;
    // From the nearest kept view (ADR 0043): the first replay in a process reads the whole
    // log, later ones what the moment needs. One replay at a time per process.
    let facts = api
        .timeline
        .lock()
        .await
        .view_as_of(&api.engine, &view, &mut |done, total| {
            progress.total(total);
            progress.done(done);
        })
        .await
        .map_err(|e| crate::routes::leads::evaluate_problem(&e))?;
    let campaigns = facts
        .campaigns
        .iter()
        .filter(|(_, entry)| entry.project() == caller.project)
        .filter_map(|(id, entry)| crate::routes::campaigns::view_of(&api, id, &entry.state))
        .collect();
    let teams = facts
        .teams
        .iter()
        .filter_map(|(team, entry)| {
            let bare = crate::ids::unscoped(&caller.project, team)?;
            let c = &entry.capacity;
            c.recorded_at()?;
            Some(TeamThen {
                team: bare.to_string(),
                agents_available: c.agents_available(),
                open_leads: c.open_leads(),
                max_open_leads: c.max_open_leads(),
                at: c.recorded_at(),
            })
        })
        .collect();
    let rules = facts
        .rules
        .iter()
        .filter_map(|(id, entry)| {
            Some(RuleThen {
                id: crate::ids::unscoped(&caller.project, id)?.to_string(),
                version: entry.state.current().map(|v| v.version).unwrap_or(0),
                enabled: entry.state.is_enabled(),
            })
        })
        .collect();
    Ok(Json(Replay {
        view: view.describe(),
        position: facts.position,
        campaigns,
        teams,
        rules,
    }))
}
