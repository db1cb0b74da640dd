//! `GET /v1/capacity/sources`: the health of the capacity sources the caller's project's
//! daemon polls (scope `read`), as that daemon wrote it after its last poll (ADR 0032).

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Scoped};
use crate::routes::time_text;
use crate::{Api, Problem};

/// One capacity source's health. Error texts never hold a credential or personal data.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct SourceHealth {
    /// The source's name (`[capacity.sources.<name>]`; teams name it `connector:<name>`).
    #[schema(example = "crm")]
    pub name: String,
    /// The connector: `http_poll`, `hubspot`, `salesforce`.
    #[schema(example = "http_poll")]
    pub kind: String,
    /// `starting` (not polled since the daemon started), `ok`, `degraded` (some teams did not
    /// answer), `failing` (the last poll failed), `idle` (no team takes its capacity from it).
    #[schema(example = "ok")]
    pub state: String,
    /// Teams the last poll asked for.
    pub teams: i64,
    /// When it was last polled (RFC 3339).
    pub last_poll_at: Option<String>,
    /// When a poll last succeeded (RFC 3339).
    pub last_success_at: Option<String>,
    /// When a poll last failed (RFC 3339).
    pub last_error_at: Option<String>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// Its kind: `auth`, `rate_limited`, `unavailable`, `response`, `config`, `team`.
    pub error_kind: Option<String>,
    /// Failed polls since the last success.
    pub consecutive_failures: i64,
    /// The source's own report of its rate limit, if it gives one.
    pub limit_info: Option<String>,
    /// When it will be polled next (RFC 3339).
    pub next_poll_at: Option<String>,
}

/// The caller's project's capacity sources.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct SourcesAnswer {
    /// By name.
    pub sources: Vec<SourceHealth>,
}

/// The health of the capacity sources of the key's project.
#[utoipa::path(get, path = "/v1/capacity/sources", tag = "capacity",
    responses(
        (status = 200, description = "The sources, by name (empty when no daemon of the project polled one)", body = SourcesAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
) -> Result<Json<SourcesAnswer>, Problem> {
    let rows = leadorch_store::CapacitySources::new(api.engine.store.db().clone())
        .list(Some(&caller.project))
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let time = |t: Option<i64>| t.map(time_text);
    Ok(Json(SourcesAnswer {
        sources: rows
            .into_iter()
            .map(|r| SourceHealth {
                last_poll_at: time(r.last_poll_at),
                last_success_at: time(r.last_success_at),
                last_error_at: time(r.last_error_at),
                next_poll_at: time(r.next_poll_at),
                name: r.name,
                kind: r.kind,
                state: r.state,
                teams: r.teams,
                last_error: r.last_error,
                error_kind: r.error_kind,
                consecutive_failures: r.consecutive_failures,
                limit_info: r.limit_info,
            })
            .collect(),
    }))
}
