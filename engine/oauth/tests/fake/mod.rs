//! An in-test Google OAuth server on 127.0.0.1:0: authorization endpoint (plays the person
//! who consents), token endpoint (checks client, redirect URI and PKCE S256), revocation.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

pub const CLIENT_ID: &str = "1234-test.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-fake-client-secret";
pub const ADWORDS: &str = "https://www.googleapis.com/auth/adwords";

/// What the person does on the consent screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Grant,
    Deny,
}

/// How the token endpoint answers a code exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exchange {
    Normal,
    NoRefreshToken,
    Scope(String),
}

/// How the token endpoint answers a refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    Normal,
    InvalidGrant,
    InvalidClient,
    ServerError,
    Hang,
}

/// How the revocation endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoke {
    Normal,
    ServerError,
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    scope: String,
}

#[derive(Default)]
pub struct Counters {
    pub token_calls: AtomicUsize,
    pub exchanges: AtomicUsize,
    pub refreshes: AtomicUsize,
    pub revokes: AtomicUsize,
}

pub struct Fake {
    pub base: Url,
    pub counters: Counters,
    consent: Mutex<Consent>,
    exchange: Mutex<Exchange>,
    refresh: Mutex<Refresh>,
    revoke: Mutex<Revoke>,
    refresh_delay: Mutex<Duration>,
    grants: Mutex<HashMap<String, Grant>>,
    refresh_tokens: Mutex<HashSet<String>>,
    access_tokens: Mutex<Vec<String>>,
    /// Why the fake rejected requests (to explain a failing test).
    pub rejections: Mutex<Vec<String>>,
    next: AtomicUsize,
}

impl Fake {
    /// Starts the server on 127.0.0.1:0.
    pub async fn start() -> Arc<Fake> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let fake = Arc::new(Fake {
            base,
            counters: Counters::default(),
            consent: Mutex::new(Consent::Grant),
            exchange: Mutex::new(Exchange::Normal),
            refresh: Mutex::new(Refresh::Normal),
            revoke: Mutex::new(Revoke::Normal),
            refresh_delay: Mutex::new(Duration::ZERO),
            grants: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashSet::new()),
            access_tokens: Mutex::new(Vec::new()),
            rejections: Mutex::new(Vec::new()),
            next: AtomicUsize::new(1),
        });
        let app = Router::new()
            .route("/auth", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    pub fn set_consent(&self, consent: Consent) {
        *self.consent.lock().unwrap() = consent;
    }
    pub fn set_exchange(&self, exchange: Exchange) {
        *self.exchange.lock().unwrap() = exchange;
    }
    pub fn set_refresh(&self, refresh: Refresh) {
        *self.refresh.lock().unwrap() = refresh;
    }
    pub fn set_revoke(&self, revoke: Revoke) {
        *self.revoke.lock().unwrap() = revoke;
    }
    pub fn set_refresh_delay(&self, delay: Duration) {
        *self.refresh_delay.lock().unwrap() = delay;
    }

    /// Registers a refresh token as if a consent had issued it.
    pub fn issue_refresh_token(&self) -> String {
        let token = format!("1//refresh-{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.refresh_tokens.lock().unwrap().insert(token.clone());
        token
    }

    /// Every access token issued so far.
    pub fn access_tokens(&self) -> Vec<String> {
        self.access_tokens.lock().unwrap().clone()
    }

    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    fn reject(&self, why: impl Into<String>) -> Response {
        let why = why.into();
        self.rejections.lock().unwrap().push(why.clone());
        oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &why)
    }

    fn new_access_token(&self) -> String {
        let token = format!("ya29.access-{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.access_tokens.lock().unwrap().push(token.clone());
        token
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The authorization endpoint: checks the request and redirects like Google does after the
/// person decided.
async fn authorize(
    State(fake): State<Arc<Fake>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    if p("client_id") != CLIENT_ID
        || p("response_type") != "code"
        || p("code_challenge_method") != "S256"
        || p("code_challenge").is_empty()
        || p("state").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let mut redirect = Url::parse(&p("redirect_uri")).unwrap();
    match *fake.consent.lock().unwrap() {
        Consent::Grant => {
            let code = format!("4/code-{}", fake.next.fetch_add(1, Ordering::SeqCst));
            fake.grants.lock().unwrap().insert(
                code.clone(),
                Grant {
                    challenge: p("code_challenge"),
                    redirect_uri: p("redirect_uri"),
                    scope: p("scope"),
                },
            );
            redirect
                .query_pairs_mut()
                .append_pair("state", &p("state"))
                .append_pair("code", &code)
                .append_pair("scope", &p("scope"));
        }
        Consent::Deny => {
            redirect
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("state", &p("state"));
        }
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

async fn token(
    State(fake): State<Arc<Fake>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    fake.counters.token_calls.fetch_add(1, Ordering::SeqCst);
    let f = |k: &str| form.get(k).cloned().unwrap_or_default();
    if f("client_id") != CLIENT_ID || f("client_secret") != CLIENT_SECRET {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    match f("grant_type").as_str() {
        "authorization_code" => {
            fake.counters.exchanges.fetch_add(1, Ordering::SeqCst);
            let Some(grant) = fake.grants.lock().unwrap().remove(&f("code")) else {
                return fake.reject("unknown or reused code");
            };
            if f("redirect_uri") != grant.redirect_uri {
                return fake.reject("redirect_uri differs from the authorization request");
            }
            let verifier = f("code_verifier");
            if verifier.len() < 43 {
                return fake.reject("code_verifier missing or too short");
            }
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if challenge != grant.challenge {
                return fake.reject("code_verifier does not match the S256 code_challenge");
            }
            let exchange = fake.exchange.lock().unwrap().clone();
            let scope = match &exchange {
                Exchange::Scope(scope) => scope.clone(),
                _ => grant.scope,
            };
            let mut body = json!({
                "access_token": fake.new_access_token(),
                "expires_in": 3599,
                "scope": scope,
                "token_type": "Bearer",
                "id_token": "not.used.here",
            });
            if exchange != Exchange::NoRefreshToken {
                body["refresh_token"] = json!(fake.issue_refresh_token());
            }
            Json(body).into_response()
        }
        "refresh_token" => {
            fake.counters.refreshes.fetch_add(1, Ordering::SeqCst);
            let delay = *fake.refresh_delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            let mode = *fake.refresh.lock().unwrap();
            match mode {
                Refresh::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    StatusCode::GATEWAY_TIMEOUT.into_response()
                }
                Refresh::ServerError => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "<html>Service Unavailable</html>",
                )
                    .into_response(),
                Refresh::InvalidClient => oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                ),
                Refresh::InvalidGrant => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                ),
                Refresh::Normal => {
                    if !fake
                        .refresh_tokens
                        .lock()
                        .unwrap()
                        .contains(&f("refresh_token"))
                    {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "Token has been expired or revoked.",
                        );
                    }
                    Json(json!({
                        "access_token": fake.new_access_token(),
                        "expires_in": 3599,
                        "scope": ADWORDS,
                        "token_type": "Bearer",
                    }))
                    .into_response()
                }
            }
        }
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other}"),
        ),
    }
}

async fn revoke(
    State(fake): State<Arc<Fake>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    fake.counters.revokes.fetch_add(1, Ordering::SeqCst);
    if *fake.revoke.lock().unwrap() == Revoke::ServerError {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    if fake.refresh_tokens.lock().unwrap().remove(&token) {
        Json(json!({})).into_response()
    } else {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        )
    }
}
