//! `/v1/webhooks`: the project's signed webhook endpoints and their deliveries (scope
//! `admin`; ADR 0033, docs/webhooks.md). An endpoint's secret is in the answer to its
//! creation and to a rotation, and nowhere else. Another project's endpoint is `404`, as an
//! unknown one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use leadorch_store::{DeliverySummary, Endpoint, Webhooks};
use leadorch_webhooks::manage::{self, ManageError};
use leadorch_webhooks::ssrf::Reach;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Caller, Scoped};
use crate::body::{Body, Params};
use crate::routes::time_text;
use crate::{Api, Problem};

/// A webhook event type, as an endpoint asks for it (`all`: every type there is now).
#[derive(Debug, Serialize, ToSchema, TS)]
#[allow(dead_code)] // documents the names; requests are read as text and checked
pub enum EventTypeName {
    /// Every type there is now.
    #[serde(rename = "all")]
    All,
    /// A change was applied.
    #[serde(rename = "change.applied")]
    ChangeApplied,
    /// Applying a change failed.
    #[serde(rename = "change.failed")]
    ChangeFailed,
    /// A campaign was paused.
    #[serde(rename = "campaign.paused")]
    CampaignPaused,
    /// A campaign was resumed.
    #[serde(rename = "campaign.resumed")]
    CampaignResumed,
    /// A Google account needs consent again.
    #[serde(rename = "account.reconsent_needed")]
    ReconsentNeeded,
    /// Google's quota for a Google account is exhausted: nothing is sent until `until`.
    #[serde(rename = "account.quota_exhausted")]
    QuotaExhausted,
    /// A capacity source started failing.
    #[serde(rename = "capacity_source.failing")]
    SourceFailing,
    /// A capacity source answers again.
    #[serde(rename = "capacity_source.recovered")]
    SourceRecovered,
    /// A rule started failing.
    #[serde(rename = "rule.failing")]
    RuleFailing,
    /// A rule's `notify(…)` message.
    #[serde(rename = "rule.notify")]
    RuleNotify,
}

/// An endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct WebhookView {
    /// Its id.
    #[schema(example = "we_0193b1f2c4d87e2a9c1b3d5e7f901234")]
    pub endpoint_id: String,
    /// Where deliveries go.
    #[schema(example = "https://hooks.example.com/leadorch")]
    pub url: String,
    /// The event types it receives.
    #[schema(example = json!(["change.applied", "campaign.paused"]))]
    pub events: Vec<String>,
    /// Whether deliveries are made to it.
    pub enabled: bool,
    /// When it was disabled (RFC 3339), if it is.
    pub disabled_at: Option<String>,
    /// Why it was disabled: `410 Gone`, a retry schedule that failed.
    pub disabled_reason: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> WebhookView {
        WebhookView {
            enabled: e.disabled_at.is_none(),
            disabled_at: e.disabled_at.map(time_text),
            disabled_reason: e.disabled_reason,
            created_at: time_text(e.created_at),
            endpoint_id: e.endpoint_id,
            url: e.url,
            events: e.events,
            created_by: e.created_by,
        }
    }
}

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// Where to POST: `https` (plain `http` only to a host the configuration's `[webhooks]`
    /// `allow_private` or `allow_hosts` allows); loopback, private, link-local and other
    /// internal addresses are refused unless allowed there.
    #[schema(
        min_length = 1,
        max_length = 2048,
        example = "https://hooks.example.com/leadorch"
    )]
    pub url: String,
    /// The event types it receives (at least one), or `all` alone.
    #[schema(value_type = Vec<EventTypeName>, min_items = 1)]
    pub events: Vec<String>,
}

/// The new endpoint: `secret` is shown this once.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct CreatedWebhook {
    /// The signing secret (`whsec_…`): give it to the receiver now, it cannot be shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    /// The endpoint as listed.
    #[serde(flatten)]
    pub view: WebhookView,
}

/// A rotated secret.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RotatedSecret {
    /// The endpoint.
    pub endpoint_id: String,
    /// The new secret (`whsec_…`), shown this once; webhooks are signed with it and with the
    /// previous one until the next rotation.
    pub secret: String,
}

/// The caller's project's endpoints.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct WebhookList {
    /// Oldest first.
    pub items: Vec<WebhookView>,
}

/// Where a delivery is.
#[derive(Debug, Serialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documents the names; the store's state is serialised
pub enum DeliveryStateName {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// The whole retry schedule failed.
    GivenUp,
    /// Its endpoint was disabled or removed first.
    Disabled,
}

/// One delivery: an event for the endpoint, and how its attempts went.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DeliveryView {
    /// The `webhook-id` its attempts carry.
    pub delivery_id: String,
    /// The webhook event type.
    pub event_type: String,
    /// Where it is.
    #[schema(value_type = DeliveryStateName)]
    #[ts(as = "DeliveryStateName")]
    pub state: leadorch_store::DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When pending: its next attempt (RFC 3339).
    pub next_attempt_at: Option<String>,
    /// When it reached its final state (RFC 3339).
    pub finished_at: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The last attempt's answer status, if an answer came.
    pub last_status: Option<u16>,
    /// Why the last attempt got no answer, or the start of a non-2xx answer.
    pub last_error: Option<String>,
}

impl From<DeliverySummary> for DeliveryView {
    fn from(s: DeliverySummary) -> DeliveryView {
        let d = s.delivery;
        DeliveryView {
            delivery_id: d.delivery_id,
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_at.map(time_text),
            finished_at: d.finished_at.map(time_text),
            created_at: time_text(d.created_at),
            last_status: s.last.as_ref().and_then(|a| a.status),
            last_error: s.last.and_then(|a| a.error),
        }
    }
}

/// An endpoint's deliveries.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<DeliveryView>,
}

/// Which deliveries.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// At most this many, newest first (1–1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

fn hooks(api: &Api) -> Webhooks {
    Webhooks::new(api.engine.store.codec.keys().clone())
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("no webhook endpoint {id:?} in this project"))
}

/// The caller's project's endpoint `id`, or `404`.
async fn own(api: &Api, caller: &Caller, id: &str) -> Result<Endpoint, Problem> {
    manage::find(&hooks(api), &caller.project, id)
        .await
        .map_err(|e| Problem::from_store(&e))?
        .ok_or_else(|| not_found(id))
}

/// Registers an endpoint in the caller's project; its signing secret is in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body = NewWebhookRequest,
    responses(
        (status = 201, description = "Registered; the secret is shown once", body = CreatedWebhook),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong: an unknown event type, a URL that is not https or names an address the configuration does not allow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn create(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Body(req): Body<NewWebhookRequest>,
) -> Result<(StatusCode, Json<CreatedWebhook>), Problem> {
    let settings = &api.settings.webhooks;
    let reach = Reach::new(settings.allow_private, &settings.allow_hosts).map_err(|e| {
        tracing::error!("[webhooks] allow_hosts: {e}");
        Problem::internal()
    })?;
    let actor = caller.actor.clone();
    let now = chrono::Utc::now().timestamp_micros();
    match manage::add(
        &hooks(&api),
        &reach,
        &caller.project,
        &req.url,
        &req.events,
        &actor,
        now,
    )
    .await
    {
        Ok((endpoint, secret)) => Ok((
            StatusCode::CREATED,
            Json(CreatedWebhook {
                secret: secret.to_string(),
                view: endpoint.into(),
            }),
        )),
        Err(ManageError::Invalid { field, problem }) => Err(Problem::invalid(&field, problem)),
        Err(ManageError::Store(e)) => Err(Problem::from_store(&e)),
    }
}

/// The caller's project's endpoints.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The endpoints, oldest first", body = WebhookList),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
) -> Result<Json<WebhookList>, Problem> {
    let rows = hooks(&api)
        .list(Some(&caller.project))
        .await
        .map_err(|e| Problem::from_store(&e))?;
    Ok(Json(WebhookList {
        items: rows.into_iter().map(WebhookView::from).collect(),
    }))
}

/// One endpoint of the caller's project.
#[utoipa::path(get, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint's id (we_…)")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookView),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn show(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(endpoint_id): Path<String>,
) -> Result<Json<WebhookView>, Problem> {
    Ok(Json(own(&api, &caller, &endpoint_id).await?.into()))
}

/// Removes an endpoint: its pending deliveries end as disabled, its secret is destroyed; its
/// delivery history is kept 30 days.
#[utoipa::path(delete, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint's id (we_…)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn remove(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, Problem> {
    own(&api, &caller, &endpoint_id).await?;
    let now = chrono::Utc::now().timestamp_micros();
    match hooks(&api).remove(&endpoint_id, now).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(not_found(&endpoint_id)),
        Err(e) => Err(Problem::from_store(&e)),
    }
}

/// Gives an endpoint a new secret, in this answer only; the previous one keeps signing beside
/// it until the next rotation.
#[utoipa::path(post, path = "/v1/webhooks/{endpoint_id}/rotate-secret", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint's id (we_…)")),
    responses(
        (status = 200, description = "Rotated; the new secret is shown once", body = RotatedSecret),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(endpoint_id): Path<String>,
) -> Result<Json<RotatedSecret>, Problem> {
    let now = chrono::Utc::now().timestamp_micros();
    match manage::rotate(&hooks(&api), &caller.project, &endpoint_id, now).await {
        Ok(Some(secret)) => Ok(Json(RotatedSecret {
            endpoint_id,
            secret: secret.to_string(),
        })),
        Ok(None) => Err(not_found(&endpoint_id)),
        Err(e) => Err(Problem::from_store(&e)),
    }
}

/// Enables a disabled endpoint again: events recorded from now on are delivered to it.
#[utoipa::path(post, path = "/v1/webhooks/{endpoint_id}/enable", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint's id (we_…)")),
    responses(
        (status = 200, description = "Enabled (or already enabled)", body = WebhookView),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn enable(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(endpoint_id): Path<String>,
) -> Result<Json<WebhookView>, Problem> {
    own(&api, &caller, &endpoint_id).await?;
    hooks(&api)
        .enable(&endpoint_id)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    Ok(Json(own(&api, &caller, &endpoint_id).await?.into()))
}

/// An endpoint's deliveries, newest first, each with its last attempt's outcome.
#[utoipa::path(get, path = "/v1/webhooks/{endpoint_id}/deliveries", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint's id (we_…)"), DeliveryParams),
    responses(
        (status = 200, description = "The deliveries", body = DeliveryList),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The project has no such endpoint", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn deliveries(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(endpoint_id): Path<String>,
    Params(q): Params<DeliveryParams>,
) -> Result<Json<DeliveryList>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "limit is 1 to 1000"));
    }
    own(&api, &caller, &endpoint_id).await?;
    let rows = hooks(&api)
        .history(&endpoint_id, limit)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    Ok(Json(DeliveryList {
        items: rows.into_iter().map(DeliveryView::from).collect(),
    }))
}
