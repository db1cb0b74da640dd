//! `GET /v1/access-log`: who called what, newest first (scope `admin`; the caller's project
//! only). Rows older than 90 days are gone.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Scoped};
use crate::body::Params;
use crate::routes::{time_text, Page};
use crate::{Api, Problem};

/// One request.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct AccessEntry {
    /// Row id (cursor).
    pub id: i64,
    /// The key's public id.
    pub key_id: String,
    /// HTTP method.
    pub method: String,
    /// The route's template, e.g. `/v1/keys/{key_id}`.
    pub route: String,
    /// The answer's status.
    pub status: u16,
    /// The client's address.
    pub ip: String,
    /// When (RFC 3339).
    pub at: String,
    /// How long the answer took, milliseconds.
    pub millis: i64,
}

/// Which rows.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccessParams {
    /// Only this key's requests (its id).
    pub key_id: Option<String>,
    /// Only requests at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// The cursor of the next page (`next` of the page before).
    pub before: Option<i64>,
    /// At most this many (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// The access log of the caller's project, newest first.
#[utoipa::path(get, path = "/v1/access-log", tag = "admin",
    params(AccessParams),
    responses(
        (status = 200, description = "A page of the access log", body = Page<AccessEntry>),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Params(q): Params<AccessParams>,
) -> Result<Json<Page<AccessEntry>>, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "limit is 1 to 1000"));
    }
    let since = match q.since.as_deref() {
        None => None,
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    Problem::invalid("since", format!("{text:?} is not an RFC 3339 time: {e}"))
                })?
                .timestamp_micros(),
        ),
    };
    let rows = api
        .keys
        .access_log(&leadorch_store::AccessQuery {
            project: Some(caller.project.clone()),
            key_id: q.key_id,
            since,
            before_id: q.before,
            limit: limit + 1,
        })
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let more = rows.len() > limit as usize;
    let items: Vec<AccessEntry> = rows
        .into_iter()
        .take(limit as usize)
        .map(|(id, r)| AccessEntry {
            id,
            key_id: r.key_id,
            method: r.method,
            route: r.route,
            status: r.status,
            ip: r.ip,
            at: time_text(r.at),
            millis: r.millis,
        })
        .collect();
    let next = if more {
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { items, next }))
}
