//! Google accounts over HTTP (scope `admin`), what `leadorch google …` does, for the operators'
//! app working against a daemon: `GET /v1/google/accounts`, `POST
//! /v1/google/accounts/{account}/consent` (starts a consent and answers Google's consent page
//! at once; the grant is recorded when Google's answer arrives), `POST
//! /v1/google/accounts/{account}/revoke` and `DELETE /v1/google/accounts/{account}` (forget:
//! revoke, delete the token, destroy the account's keys).
//!
//! Google sends its answer to a loopback address of the server's machine (an installed-app
//! OAuth client may use any loopback port, ADR 0008), so the consent page must be opened in a
//! browser on that machine.
//!
//! A key sees and acts on its own project's accounts only (ADR 0030): names in paths and
//! answers are bare (`ops`); project `acme`'s `ops` is stored as `acme/ops`, and another
//! project's account answers the same `404` as an unknown one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Caller, Scoped};
use crate::ids::scoped;
use crate::problem::from_engine;
use crate::{Api, Problem};

/// How long a started consent waits for Google's answer.
pub const CONSENT_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// A Google account as the engine knows it (read back by the desktop in remote mode).
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct AccountView {
    /// Its name within the key's project (`leadorch google connect [--project P] --account
    /// NAME`).
    pub account: String,
    /// `not_connected`, `connected`, `reconsent_needed` or `revoked`.
    pub status: String,
    /// Customer ids the grant reaches.
    pub customers: Vec<String>,
    /// When the grant was given.
    pub connected_at: Option<DateTime<Utc>>,
    /// Why Google refused the grant, while consent is needed again.
    pub reconsent_reason: Option<String>,
    /// When the account's Google data was deleted (forgotten).
    pub data_deleted_at: Option<DateTime<Utc>>,
    /// Until when Google's daily quota was last recorded exhausted: nothing is sent to Google
    /// through the account before then. In the past once the hold is over; null when it never
    /// was.
    pub quota_exhausted_until: Option<DateTime<Utc>>,
}

/// A consent under way. (`GoogleConsentStarted` in TypeScript: the desktop's own
/// `ConsentStarted` has that name.)
#[derive(Debug, Serialize, ToSchema, TS)]
#[ts(rename = "GoogleConsentStarted")]
pub struct ConsentStarted {
    /// The account being connected.
    pub account: String,
    /// Google's consent page: open it in a browser on the server's machine.
    pub consent_url: String,
    /// Where Google's answer is awaited (a loopback address of the server).
    pub redirect_uri: String,
    /// Until when it is awaited; `GET /v1/google/accounts` shows the account `connected` once
    /// it arrived.
    pub waits_until: DateTime<Utc>,
}

/// What revoking did.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RevokeAnswer {
    /// The account.
    pub account: String,
    /// `revoked_at_google`, `already_ended` or `no_token`.
    pub outcome: String,
}

fn problem(e: &leadorch_accounts::Error) -> Problem {
    use leadorch_accounts::Error as E;
    match e {
        E::Engine(e) => from_engine(e),
        E::Store(e) => Problem::from_store(e),
        E::Input(m) if m.contains("no Google account named") => Problem::not_found(m.clone()),
        E::Input(m) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "google-refused",
            "Cannot do this with Google",
            m.clone(),
        ),
        E::OAuth(e) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "google-oauth",
            "Google OAuth failed",
            e.to_string(),
        ),
    }
}

/// The OAuth client of `[google]`; a server without one cannot talk to Google: `409` (the
/// server's state does not allow it; the operator's to fix, by configuring `[google]`).
fn oauth(api: &Api) -> Result<leadorch_oauth::OAuthConfig, Problem> {
    leadorch_accounts::oauth_config(&api.settings.google).map_err(|e| {
        Problem::new(
            StatusCode::CONFLICT,
            "not-configured",
            "Google is not configured",
            format!("this server cannot reach Google: {e}"),
        )
    })
}

/// The stored name of the caller's project's `account` (a bare name), `404` unless it was
/// ever connected. A name holding a `/` (another project's stored name) is no account of the
/// caller's: the same `404`.
async fn known(api: &Api, caller: &Caller, account: &str) -> Result<String, Problem> {
    let unknown = || Problem::not_found(format!("no Google account named {account:?} is known"));
    leadorch_accounts::check_bare_name(account).map_err(|_| unknown())?;
    let stored = scoped(&caller.project, account);
    let state = leadorch_accounts::load_account(&api.engine, &stored)
        .await
        .map_err(|e| problem(&e))?;
    if state.status() == leadorch_domain::google_account::AccountStatus::NotConnected {
        return Err(unknown());
    }
    Ok(stored)
}

/// The key's project's Google accounts, by name.
#[utoipa::path(get, path = "/v1/google/accounts", tag = "google",
    responses(
        (status = 200, description = "The accounts", body = Vec<AccountView>),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the admin scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
) -> Result<Json<Vec<AccountView>>, Problem> {
    let accounts = leadorch_accounts::list_in(&api.engine, &caller.project)
        .await
        .map_err(|e| problem(&e))?;
    Ok(Json(
        accounts
            .into_iter()
            .map(|a| AccountView {
                account: a.account,
                status: a.status.to_string(),
                customers: a.customers,
                connected_at: a.connected_at,
                reconsent_reason: a.reconsent_reason,
                data_deleted_at: a.data_deleted_at,
                quota_exhausted_until: a.quota_exhausted_until,
            })
            .collect(),
    ))
}

/// Starts connecting a Google account of the key's project: answers Google's consent page at
/// once and records the grant when Google's answer reaches the server (within 10 minutes).
#[utoipa::path(post, path = "/v1/google/accounts/{account}/consent", tag = "google",
    params(("account" = String, Path, description = "The account's name in the key's project (1-100 of letters, digits, . _ @ + -)")),
    responses(
        (status = 202, description = "Started: open consent_url", body = ConsentStarted),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the admin scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad account name", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No OAuth client is configured ([google] client_id)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn consent(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(account): Path<String>,
) -> Result<(StatusCode, Json<ConsentStarted>), Problem> {
    oauth(&api)?;
    let invalid = |e| match e {
        leadorch_accounts::Error::Input(m) => Problem::invalid("account", m),
        other => problem(&other),
    };
    // The bare name first: `acme%2Fops` must not reach project acme's account.
    leadorch_accounts::check_bare_name(&account).map_err(invalid)?;
    let stored = scoped(&caller.project, &account);
    let pending = leadorch_accounts::PendingConsent::start(&api.settings.google, &stored, None)
        .map_err(invalid)?;
    let started = ConsentStarted {
        account: account.clone(),
        consent_url: pending.consent_page().to_string(),
        redirect_uri: pending.redirect_uri().to_string(),
        waits_until: Utc::now()
            + chrono::Duration::from_std(CONSENT_WAIT).unwrap_or(chrono::Duration::zero()),
    };
    let engine = api.engine.clone();
    let actor = caller.actor.clone();
    tokio::spawn(async move {
        match pending.finish(&engine, CONSENT_WAIT, &actor).await {
            Ok(c) => tracing::info!(
                "Google account {} connected ({} customers)",
                c.account,
                c.customers.len()
            ),
            Err(e) => tracing::warn!("connecting Google account {account}: {e}"),
        }
    });
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// Ends the grant at Google and deletes the stored token; the account's data stays readable
/// until it is forgotten.
#[utoipa::path(post, path = "/v1/google/accounts/{account}/revoke", tag = "google",
    params(("account" = String, Path, description = "The account's name in the key's project")),
    responses(
        (status = 200, description = "Revoked", body = RevokeAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the admin scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account in the key's project", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Google's revocation endpoint failed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No OAuth client is configured ([google] client_id)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn revoke(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(account): Path<String>,
) -> Result<Json<RevokeAnswer>, Problem> {
    let stored = known(&api, &caller, &account).await?;
    let oauth = oauth(&api)?;
    let actor = caller.actor.clone();
    let outcome = leadorch_accounts::revoke(&api.engine, &oauth, &stored, &actor, Utc::now())
        .await
        .map_err(|e| problem(&e))?;
    Ok(Json(RevokeAnswer {
        account,
        outcome: match outcome {
            leadorch_accounts::Revoked::AtGoogle => "revoked_at_google",
            leadorch_accounts::Revoked::AlreadyEnded => "already_ended",
            leadorch_accounts::Revoked::NoToken => "no_token",
        }
        .into(),
    }))
}

/// Forgets an account: revokes it (when still connected), deletes its token and destroys its
/// keys, so its campaigns' names, budgets and metrics can no longer be read.
#[utoipa::path(delete, path = "/v1/google/accounts/{account}", tag = "google",
    params(("account" = String, Path, description = "The account's name in the key's project")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the admin scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account in the key's project", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Google's revocation endpoint failed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No OAuth client is configured ([google] client_id)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn forget(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(account): Path<String>,
) -> Result<StatusCode, Problem> {
    let stored = known(&api, &caller, &account).await?;
    let oauth = oauth(&api)?;
    let actor = caller.actor.clone();
    leadorch_accounts::forget(&api.engine, &oauth, &stored, &actor, Utc::now())
        .await
        .map_err(|e| match e {
            leadorch_accounts::Error::Input(m) if m.contains("is known") => Problem::not_found(m),
            other => problem(&other),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
