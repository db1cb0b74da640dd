//! Operations: `GET /readyz` (the database answers and its schema is this build's).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::{Api, Problem};

/// The server can answer requests that need the database.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct Ready {
    /// Always `ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// The schema version applied, which is the newest this build knows.
    pub schema_version: i64,
}

/// Whether the database answers and its schema is current. Any working key may ask.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is away or its schema is not current", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn readyz(State(api): State<Api>, _caller: Caller) -> Result<Json<Ready>, Problem> {
    let db = api.engine.store.db();
    let applied = db
        .applied_schema_version()
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let known = db.known_schema_version();
    if applied != known {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            format!("the database's schema is version {applied}, this server's is {known}: restart the server so it migrates, or upgrade it"),
        )
        .header(axum::http::header::RETRY_AFTER, "60"));
    }
    Ok(Json(Ready {
        status: "ready",
        database: db.dialect().name(),
        schema_version: applied,
    }))
}
