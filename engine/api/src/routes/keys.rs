//! `/v1/keys`: the project's API keys (scope `admin`). A new key's text is in the answer to
//! its creation and nowhere else, ever.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Scoped};
use crate::body::{Body, Params};
use crate::keys::{self, CreateError, KeySpec, Scope};
use crate::routes::time_text;
use crate::{Api, Problem};

/// A key as listed (never its text).
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct KeyView {
    /// Public id.
    pub key_id: String,
    /// Name.
    pub name: String,
    /// Its first characters, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Where it may be used from; empty: anywhere.
    pub allow_ips: Vec<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl From<leadorch_store::KeyRow> for KeyView {
    fn from(r: leadorch_store::KeyRow) -> KeyView {
        KeyView {
            key_id: r.key_id,
            name: r.name,
            prefix: r.prefix,
            scopes: r.scopes,
            allow_ips: r.allow_ips,
            created_at: time_text(r.created_at),
            created_by: r.created_by,
            revoked_at: r.revoked_at.map(time_text),
        }
    }
}

/// A scope's name, as a request writes it (documents [`NewKeyRequest::scopes`]).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the names; requests are read as text and checked
pub enum ScopeName {
    /// Send leads and their status changes.
    Ingest,
    /// Push capacity readings.
    Capacity,
    /// Read campaigns, teams, events, decisions, rules, audits.
    Read,
    /// Change rules.
    Rules,
    /// Everything.
    Admin,
}

/// A key to make.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// Its name, unique among the project's working keys (e.g. `hubspot-prod`): 1 to 64
    /// characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
        example = "hubspot-prod"
    )]
    pub name: String,
    /// Any of `ingest`, `capacity`, `read`, `rules`, `admin` (at least one).
    #[schema(value_type = Vec<ScopeName>, min_items = 1)]
    pub scopes: Vec<String>,
    /// Addresses or networks it may be used from; empty or absent: anywhere.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub allow_ips: Vec<String>,
}

/// The new key: `key` is shown this once and is not stored.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct CreatedKey {
    /// The key's text: keep it now, it cannot be shown again.
    pub key: String,
    /// The key as listed.
    #[serde(flatten)]
    pub view: KeyView,
}

/// Which keys to list.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListKeys {
    /// Also list revoked keys.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub include_revoked: bool,
}

/// The keys of the caller's project.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct KeyList {
    /// Oldest first.
    pub items: Vec<KeyView>,
}

/// Makes a key in the caller's project.
#[utoipa::path(post, path = "/v1/keys", tag = "admin",
    request_body = NewKeyRequest,
    responses(
        (status = 201, description = "Made; the key is shown once", body = CreatedKey),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A working key has that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn create(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Body(req): Body<NewKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), Problem> {
    let mut scopes = Vec::new();
    for (i, s) in req.scopes.iter().enumerate() {
        scopes.push(
            s.parse::<Scope>()
                .map_err(|p| Problem::invalid(&format!("scopes[{i}]"), p))?,
        );
    }
    let spec = KeySpec {
        project: caller.project.clone(),
        name: req.name,
        scopes,
        allow_ips: req.allow_ips,
    };
    let actor = caller.actor.clone();
    let now = chrono::Utc::now().timestamp_micros();
    match keys::create(&api.keys, &spec, &actor, now).await {
        Ok((key, row)) => Ok((
            StatusCode::CREATED,
            Json(CreatedKey {
                key: key.text.to_string(),
                view: row.into(),
            }),
        )),
        Err(CreateError::Invalid { field, problem }) => Err(Problem::invalid(&field, problem)),
        Err(CreateError::Store(leadorch_store::StoreError::InvalidAppend(detail))) => {
            Err(Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail).field("name"))
        }
        Err(CreateError::Store(e)) => Err(Problem::from_store(&e)),
    }
}

/// The caller's project's keys.
#[utoipa::path(get, path = "/v1/keys", tag = "admin",
    params(ListKeys),
    responses(
        (status = 200, description = "The keys", body = KeyList),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Params(q): Params<ListKeys>,
) -> Result<Json<KeyList>, Problem> {
    let rows = api
        .keys
        .list(&caller.project, q.include_revoked)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    Ok(Json(KeyList {
        items: rows.into_iter().map(KeyView::from).collect(),
    }))
}

/// Revokes a key of the caller's project (by id or name); it stops working at once.
#[utoipa::path(delete, path = "/v1/keys/{key_id}", tag = "admin",
    params(("key_id" = String, Path, description = "The key's id (key_…), or its name")),
    responses(
        (status = 200, description = "Revoked", body = KeyView),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such working key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn revoke(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(key): Path<String>,
) -> Result<Json<KeyView>, Problem> {
    let now = chrono::Utc::now().timestamp_micros();
    match api.keys.revoke(&caller.project, &key, now).await {
        Ok(Some(row)) => Ok(Json(row.into())),
        Ok(None) => Err(Problem::not_found(format!(
            "no working key {key:?} in this project"
        ))),
        Err(e) => Err(Problem::from_store(&e)),
    }
}
