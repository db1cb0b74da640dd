//! `POST /v1/capacity`: a team's capacity reading, pushed by a CRM or contact centre (scope
//! `capacity`). A reading is recorded only when it changes the team's capacity, or when the last
//! recorded one is older than [`HEARTBEAT`] (so a steady team still shows a fresh reading); an
//! older reading than the last is refused with `at` named (ADR 0022, decision 10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use leadorch_domain::capacity::{CapacityCommand, CapacityEvent, CapacitySnapshot};
use leadorch_domain::AnyEvent;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Scoped};
use crate::body::Body;
use crate::ids::{check_client_id, scoped};
use crate::{Api, Problem};

/// An unchanged reading is still recorded once the last one is this old.
pub const HEARTBEAT: chrono::Duration = chrono::Duration::minutes(15);

/// How far ahead of the server's clock a reading's `at` may be (clock skew).
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// A capacity reading.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct CapacityReading {
    /// The team, e.g. `sales-nl`: 1 to 128 of A-Z a-z 0-9 . _ -.
    #[schema(example = "sales-nl", pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub team: String,
    /// Agents available to take leads now.
    #[schema(format = Int64, maximum = 4294967295_i64)]
    pub agents_available: u32,
    /// Leads the team has open now.
    #[schema(format = Int64, maximum = 4294967295_i64)]
    pub open_leads: u32,
    /// How many open leads the team can handle.
    #[schema(format = Int64, maximum = 4294967295_i64)]
    pub max_open_leads: u32,
    /// When it was read (RFC 3339) [default: now].
    pub at: Option<DateTime<Utc>>,
    /// Where it came from, 1 to 64 characters, not only spaces [default: the key's name].
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub source: Option<String>,
}

/// What became of a reading.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct CapacityAnswer {
    /// Whether it was recorded (`false`: the same as the last reading, which is recent).
    pub recorded: bool,
    /// The team.
    pub team: String,
    /// `open_leads / max_open_leads` (`null` when there is no capacity at all).
    pub utilisation: Option<f64>,
    /// This request's trace id (also in the recorded event's metadata).
    pub trace_id: String,
}

/// Records a team's capacity reading when it changes the team's capacity.
#[utoipa::path(post, path = "/v1/capacity", tag = "capacity",
    request_body = CapacityReading,
    responses(
        (status = 201, description = "Recorded", body = CapacityAnswer),
        (status = 200, description = "Not recorded: the same as the last, recent reading", body = CapacityAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the capacity scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Older than the team's last reading (field at), or the team takes its capacity from another source (field team)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn push(
    State(api): State<Api>,
    caller: Scoped<scope::Capacity>,
    Body(reading): Body<CapacityReading>,
) -> Result<(StatusCode, Json<CapacityAnswer>), Problem> {
    check_client_id("team", &reading.team)?;
    let now = Utc::now();
    let at = reading.at.unwrap_or(now);
    if at > now + MAX_SKEW {
        return Err(Problem::invalid(
            "at",
            format!("at {at} is more than 5 minutes ahead of this server's clock ({now}); send the time the reading was taken"),
        ));
    }
    let source = reading.source.unwrap_or_else(|| caller.name.clone());
    if source.trim().is_empty() || source.chars().count() > 64 {
        return Err(Problem::invalid("source", "source is 1 to 64 characters"));
    }
    let team = scoped(&caller.project, &reading.team);
    // A team defined with another capacity source takes no pushed readings: one source of
    // truth per team. A team not defined by events (named by campaign labels or the
    // configuration) takes them.
    let defined = leadorch_evaluate::teams::load_team(&api.engine, &team)
        .await
        .map_err(|e| match e {
            leadorch_evaluate::Error::Engine(e) => crate::problem::from_engine(&e),
            leadorch_evaluate::Error::Store(e) => Problem::from_store(&e),
            other => {
                tracing::error!("reading team {team}: {other}");
                Problem::internal()
            }
        })?;
    if defined.is_defined()
        && *defined.capacity_source() != leadorch_domain::team::CapacitySource::Pushed
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "wrong-capacity-source",
            "Not this team's capacity source",
            format!(
                "team {} takes its capacity from {}, not from pushed readings: change it with `leadorch teams set {} --capacity-source pushed` if pushes should count",
                reading.team,
                defined.capacity_source(),
                reading.team
            ),
        )
        .field("team"));
    }
    let last: CapacitySnapshot = api
        .engine
        .current::<CapacitySnapshot>(&team)
        .await
        .map_err(|e| crate::problem::from_engine(&e))?;
    let trace_id = uuid::Uuid::now_v7().to_string();
    let command = CapacityCommand::Record {
        team: team.clone(),
        agents_available: reading.agents_available,
        open_leads: reading.open_leads,
        max_open_leads: reading.max_open_leads,
        source,
        max_age_secs: None,
        at,
    };
    // The domain's own checks first, so every refusal names its field.
    let events = last.decide(command.clone()).map_err(|e| {
        use leadorch_domain::capacity::CapacityError as E;
        match e {
            E::OutOfOrder { .. } => Problem::new(
                StatusCode::CONFLICT,
                "out-of-order",
                "Out of order",
                format!("{e}: send readings in the order they were taken"),
            )
            .field("at"),
            E::ZeroMaxWithAgents => Problem::invalid("max_open_leads", e.to_string()),
            E::EmptyField(f) => Problem::invalid(f, e.to_string()),
            E::TeamMismatch { .. } => Problem::invalid("team", e.to_string()),
        }
    })?;
    let utilisation = events.first().and_then(CapacityEvent::utilisation);
    let unchanged = last.recorded_at().is_some_and(|t| at - t < HEARTBEAT)
        && last.agents_available() == reading.agents_available
        && last.open_leads() == reading.open_leads
        && last.max_open_leads() == reading.max_open_leads;
    let answer = |recorded| CapacityAnswer {
        recorded,
        team: reading.team.clone(),
        utilisation,
        trace_id: trace_id.clone(),
    };
    if unchanged {
        return Ok((StatusCode::OK, Json(answer(false))));
    }
    let metadata = leadorch_store::Metadata {
        actor: caller.actor.clone(),
        trace_id: Some(trace_id.clone()),
        ..Default::default()
    };
    api.engine
        .execute::<CapacitySnapshot>(&team, command, &metadata)
        .await
        .map_err(|e| crate::problem::from_engine(&e))?;
    api.metrics.reading(crate::metrics::ReadingSource::Pushed);
    Ok((StatusCode::CREATED, Json(answer(true))))
}

/// Which readings.
#[derive(Debug, Deserialize, utoipa::IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Readings taken at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Readings taken before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// At most this many, the newest (1 to 10000) [default: 1000].
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// One recorded reading.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RecordedReading {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// Agents available.
    pub agents_available: u32,
    /// Open leads.
    pub open_leads: u32,
    /// The maximum of open leads.
    pub max_open_leads: u32,
    /// `open_leads / max_open_leads` (`null` without capacity).
    pub utilisation: Option<f64>,
    /// Where it came from (a key's name, `leads`, a connector).
    pub source: String,
    /// Its log position.
    pub position: u64,
}

/// A team's capacity over time: its recorded readings, oldest first.
#[utoipa::path(get, path = "/v1/teams/{team}/capacity", tag = "capacity",
    params(("team" = String, Path, description = "The team", pattern = "^[A-Za-z0-9._-]{1,128}$"), HistoryQuery),
    responses(
        (status = 200, description = "Readings, oldest first (empty when none)", body = Vec<RecordedReading>),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn history(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    axum::extract::Path(team): axum::extract::Path<String>,
    crate::body::Params(q): crate::body::Params<HistoryQuery>,
) -> Result<Json<Vec<RecordedReading>>, Problem> {
    check_client_id("team", &team)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(Problem::invalid(
            "limit",
            format!("limit is 1 to 10000, not {limit}"),
        ));
    }
    let stream = leadorch_domain::stream_id("capacity", &scoped(&caller.project, &team));
    let store = &api.engine.store;
    let records = store
        .log
        .read_stream(&stream)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let mut decoder = store.codec.decoder(leadorch_store::Reveal::Redact);
    let mut out = std::collections::VecDeque::new();
    for rec in &records {
        let event = leadorch_core::projection::decode(&mut decoder, rec)
            .await
            .map_err(|e| crate::problem::from_engine(&e))?;
        let AnyEvent::Capacity(e @ CapacityEvent::CapacityRecorded { .. }) = event else {
            continue;
        };
        let utilisation = e.utilisation();
        let CapacityEvent::CapacityRecorded {
            agents_available,
            open_leads,
            max_open_leads,
            source,
            at,
            ..
        } = e;
        if q.from.is_some_and(|f| at < f) || q.to.is_some_and(|t| at >= t) {
            continue;
        }
        out.push_back(RecordedReading {
            at,
            agents_available,
            open_leads,
            max_open_leads,
            utilisation,
            source,
            position: rec.position,
        });
        if out.len() > limit {
            out.pop_front();
        }
    }
    Ok(Json(out.into()))
}
