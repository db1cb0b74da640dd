//! A fake of Google's OAuth 2.0 endpoints for installed (desktop) apps: the authorization
//! endpoint with loopback redirect, PKCE (S256) and `state`; the token endpoint
//! (`authorization_code` and `refresh_token` grants); and the revocation endpoint.
//!
//! Test infrastructure, never shipped; one file because the three endpoints share the fake's
//! state (codes, grants, fault queue) and the contract tests read it top to bottom.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::server::{lock, random_token, serve, ConnControl, Server};

/// The scope the Google Ads API needs; the fake refuses consent requests without it.
pub const ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";

/// Lifetime Google gives access tokens (`expires_in`), in seconds.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECS: u64 = 3599;

/// Authorization codes are redeemable for this long.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// What the fake knows about an access token (see [`FakeOAuth::is_valid_access_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Issued by this fake, not expired, not revoked.
    Valid,
    /// Issued by this fake, past its lifetime (or expired by [`FakeOAuth::expire_access_tokens`]).
    Expired,
    /// Issued by this fake, then revoked (directly or through its refresh token).
    Revoked,
    /// Never issued by this fake.
    Unknown,
}

/// A fault the token endpoint plays once, for the next `POST /token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthFault {
    /// 500 with `{"error":"internal_failure",…}`.
    Internal,
    /// 503 with `{"error":"temporarily_unavailable",…}`.
    Unavailable,
    /// Waits this long, then answers normally.
    Slow {
        /// Delay before the normal answer, in milliseconds.
        millis: u64,
    },
    /// Closes the connection without an HTTP response.
    DropConnection,
}

/// One request the token endpoint received (the client secret is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `grant_type` form field (empty when missing).
    pub grant_type: String,
    /// The client id, from the form or from HTTP Basic.
    pub client_id: Option<String>,
    /// Whether the client authenticated with HTTP Basic rather than form fields.
    pub basic_auth: bool,
    /// Every form field, with `client_secret` replaced by `[redacted]`.
    pub params: Vec<(String, String)>,
}

impl TokenRequest {
    /// The first value of a form field.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A pair of tokens issued without the browser flow (see [`FakeOAuth::issue_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// A valid access token for the Ads fake.
    pub access_token: String,
    /// The refresh token it belongs to.
    pub refresh_token: String,
}

#[derive(Debug)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    offline: bool,
    issued: Instant,
}

#[derive(Debug)]
struct RefreshGrant {
    client_id: String,
    scope: String,
    revoked: bool,
    expired: bool,
}

#[derive(Debug)]
struct AccessGrant {
    refresh_token: Option<String>,
    expires_at: Instant,
    revoked: bool,
}

#[derive(Debug)]
struct OAuthState {
    clients: HashMap<String, String>,
    deny_next: u32,
    codes: HashMap<String, PendingCode>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    access_tokens: HashMap<String, AccessGrant>,
    lifetime_secs: u64,
    refresh_count: u64,
    token_requests: Vec<TokenRequest>,
    faults: VecDeque<OAuthFault>,
}

impl OAuthState {
    fn issue_access(&mut self, refresh_token: Option<String>) -> String {
        let token = format!("ya29.fake-{}", random_token(40));
        self.access_tokens.insert(
            token.clone(),
            AccessGrant {
                refresh_token,
                expires_at: Instant::now() + Duration::from_secs(self.lifetime_secs),
                revoked: false,
            },
        );
        token
    }

    fn issue_refresh(&mut self, client_id: &str, scope: &str) -> String {
        let token = format!("1//fake-{}", random_token(48));
        self.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                revoked: false,
                expired: false,
            },
        );
        token
    }

    /// Revokes a refresh token and every access token minted from it.
    fn revoke_refresh(&mut self, refresh_token: &str) -> bool {
        let Some(grant) = self.refresh_tokens.get_mut(refresh_token) else {
            return false;
        };
        grant.revoked = true;
        for access in self.access_tokens.values_mut() {
            if access.refresh_token.as_deref() == Some(refresh_token) {
                access.revoked = true;
            }
        }
        true
    }
}

struct Shared {
    state: Mutex<OAuthState>,
    default_client: (String, String),
}

/// A running fake of Google OAuth on `127.0.0.1`. Cheap to clone; the server stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct FakeOAuth {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

impl std::fmt::Debug for FakeOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOAuth")
            .field("base_url", &self.base_url())
            .finish()
    }
}

impl FakeOAuth {
    /// Starts the fake on `127.0.0.1:<free port>` with one registered client
    /// ([`FakeOAuth::client_id`] / [`FakeOAuth::client_secret`]).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> FakeOAuth {
        let client_id = format!(
            "{}-fake.apps.googleusercontent.com",
            rand::random::<u32>() % 1_000_000_000
        );
        let client_secret = format!("GOCSPX-{}", random_token(28));
        let mut clients = HashMap::new();
        clients.insert(client_id.clone(), client_secret.clone());
        let shared = Arc::new(Shared {
            state: Mutex::new(OAuthState {
                clients,
                deny_next: 0,
                codes: HashMap::new(),
                refresh_tokens: HashMap::new(),
                access_tokens: HashMap::new(),
                lifetime_secs: DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
                refresh_count: 0,
                token_requests: Vec::new(),
                faults: VecDeque::new(),
            }),
            default_client: (client_id, client_secret),
        });
        let router = Router::new()
            .route("/o/oauth2/v2/auth", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .with_state(shared.clone());
        let server = Arc::new(serve(router).await);
        FakeOAuth { shared, server }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, OAuthState> {
        lock(&self.shared.state)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The authorization endpoint (Google: `https://accounts.google.com/o/oauth2/v2/auth`).
    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base_url())
    }

    /// The token endpoint (Google: `https://oauth2.googleapis.com/token`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The revocation endpoint (Google: `https://oauth2.googleapis.com/revoke`).
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base_url())
    }

    /// The default client's id.
    pub fn client_id(&self) -> &str {
        &self.shared.default_client.0
    }

    /// The default client's secret.
    pub fn client_secret(&self) -> &str {
        &self.shared.default_client.1
    }

    /// Registers another OAuth client (or changes the secret of a known one).
    pub fn register_client(&self, client_id: &str, client_secret: &str) {
        self.state()
            .clients
            .insert(client_id.to_owned(), client_secret.to_owned());
    }

    /// The next consent the fake user gives is a refusal (`error=access_denied`).
    pub fn deny_next_consent(&self) {
        self.state().deny_next += 1;
    }

    /// Revokes one refresh token and its access tokens, as the user would in their Google
    /// account; `false` when the token is unknown.
    pub fn revoke(&self, refresh_token: &str) -> bool {
        self.state().revoke_refresh(refresh_token)
    }

    /// Revokes every refresh token and access token issued so far.
    pub fn revoke_all(&self) {
        let mut st = self.state();
        for grant in st.refresh_tokens.values_mut() {
            grant.revoked = true;
        }
        for access in st.access_tokens.values_mut() {
            access.revoked = true;
        }
    }

    /// Every refresh token issued so far expires (as after 7 days for an app in "Testing"):
    /// refreshing answers `invalid_grant`.
    pub fn expire_refresh_tokens(&self) {
        for grant in self.state().refresh_tokens.values_mut() {
            grant.expired = true;
        }
    }

    /// Every access token issued so far is expired from now on.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for access in self.state().access_tokens.values_mut() {
            access.expires_at = now;
        }
    }

    /// Lifetime (and `expires_in`) of access tokens issued from now on; 0 issues tokens that
    /// are already expired.
    pub fn set_access_token_lifetime(&self, secs: u64) {
        self.state().lifetime_secs = secs;
    }

    /// How many successful `refresh_token` grants the fake answered.
    pub fn refresh_count(&self) -> u64 {
        self.state().refresh_count
    }

    /// Every request the token endpoint received, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state().token_requests.clone()
    }

    /// Queues a fault for the token endpoint; each queued fault is played by one request.
    pub fn push_token_fault(&self, fault: OAuthFault) {
        self.state().faults.push_back(fault);
    }

    /// Issues a refresh token and an access token for the default client and the AdWords
    /// scope, as if the code flow had just completed.
    pub fn issue_tokens(&self) -> IssuedTokens {
        let mut st = self.state();
        let client = self.shared.default_client.0.clone();
        let refresh_token = st.issue_refresh(&client, ADWORDS_SCOPE);
        let access_token = st.issue_access(Some(refresh_token.clone()));
        IssuedTokens {
            access_token,
            refresh_token,
        }
    }

    /// What the fake knows about `access_token` (used by the Ads fake to authenticate).
    pub fn is_valid_access_token(&self, access_token: &str) -> TokenCheck {
        let st = self.state();
        match st.access_tokens.get(access_token) {
            None => TokenCheck::Unknown,
            Some(a) if a.revoked => TokenCheck::Revoked,
            Some(a) if Instant::now() >= a.expires_at => TokenCheck::Expired,
            Some(_) => TokenCheck::Valid,
        }
    }
}

/// Google's consent screen error page: 400, plain HTML, never a redirect.
fn error_page(error: &str, detail: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 400 ({error})</title>\
         <p><b>400.</b> <ins>That’s an error.</ins></p><p>Error 400: {error}</p>\
         <p>{}</p></html>",
        html_escape(detail)
    );
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn parse_pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A loopback redirect URI as Google accepts for desktop clients.
fn loopback_redirect(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    (url.scheme() == "http" && loopback && url.fragment().is_none()).then_some(url)
}

/// `GET /o/oauth2/v2/auth`: validates like Google, then the fake user consents (or refuses).
async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let pairs = parse_pairs(query.as_deref().unwrap_or(""));
    let get = |k: &str| first(&pairs, k).filter(|v| !v.is_empty());
    let mut st = lock(&shared.state);

    let Some(client_id) = get("client_id") else {
        return error_page("invalid_request", "Missing required parameter: client_id");
    };
    if !st.clients.contains_key(client_id) {
        return error_page("invalid_client", "The OAuth client was not found.");
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    let Some(mut redirect) = loopback_redirect(redirect_uri) else {
        return error_page(
            "redirect_uri_mismatch",
            "Desktop clients must use a loopback redirect URI (http://127.0.0.1:<port>).",
        );
    };
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return error_page(
                "unsupported_response_type",
                &format!("Invalid response_type: {other}"),
            )
        }
        None => {
            return error_page(
                "invalid_request",
                "Missing required parameter: response_type",
            )
        }
    }
    let Some(scope) = get("scope") else {
        return error_page("invalid_request", "Missing required parameter: scope");
    };
    if !scope.split(' ').any(|s| s == ADWORDS_SCOPE) {
        return error_page(
            "invalid_scope",
            &format!("The request must ask for the scope {ADWORDS_SCOPE}."),
        );
    }
    let Some(state) = get("state") else {
        return error_page("invalid_request", "Missing required parameter: state");
    };
    let Some(challenge) = get("code_challenge") else {
        return error_page(
            "invalid_request",
            "Missing required parameter: code_challenge",
        );
    };
    match get("code_challenge_method") {
        Some("S256") => {}
        Some(other) => {
            return error_page(
                "invalid_request",
                &format!("Invalid code_challenge_method: {other} (only S256 is accepted)"),
            )
        }
        None => {
            return error_page(
                "invalid_request",
                "Missing required parameter: code_challenge_method",
            )
        }
    }
    if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
        return error_page("invalid_request", "Invalid code_challenge.");
    }
    let offline = match get("access_type") {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return error_page("invalid_request", &format!("Invalid access_type: {other}"))
        }
    };

    if st.deny_next > 0 {
        st.deny_next -= 1;
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", state);
    } else {
        let code = format!("4/0Afake-{}", random_token(40));
        st.codes.insert(
            code.clone(),
            PendingCode {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                challenge: challenge.to_owned(),
                scope: scope.to_owned(),
                offline,
                issued: Instant::now(),
            },
        );
        redirect
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state)
            .append_pair("scope", scope);
    }
    let location = HeaderValue::from_str(redirect.as_str()).expect("a URL is a header value");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (
                header::CACHE_CONTROL,
                "no-cache, no-store, max-age=0, must-revalidate",
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// Client credentials from HTTP Basic (`Authorization: Basic base64(id:secret)`, each part
/// form-urlencoded as RFC 6749 §2.3.1 says).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// A PKCE verifier: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `POST /token`.
async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<ConnControl>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = parse_pairs(&String::from_utf8_lossy(&body));
    let basic = basic_credentials(&headers);
    let fault = {
        let mut st = lock(&shared.state);
        st.token_requests.push(TokenRequest {
            grant_type: first(&pairs, "grant_type").unwrap_or("").to_owned(),
            client_id: basic
                .as_ref()
                .map(|(id, _)| id.clone())
                .or_else(|| first(&pairs, "client_id").map(str::to_owned)),
            basic_auth: basic.is_some(),
            params: pairs
                .iter()
                .map(|(k, v)| {
                    let v = if k == "client_secret" {
                        "[redacted]"
                    } else {
                        v
                    };
                    (k.clone(), v.to_owned())
                })
                .collect(),
        });
        st.faults.pop_front()
    };
    match fault {
        Some(OAuthFault::Internal) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_failure",
                "Backend Error",
            )
        }
        Some(OAuthFault::Unavailable) => {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service is currently unavailable.",
            )
        }
        Some(OAuthFault::Slow { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        Some(OAuthFault::DropConnection) => conn.drop_connection().await,
        None => {}
    }
    if !is_form(&headers) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let (client_id, client_secret) = match basic {
        Some(creds) => creds,
        None => (
            first(&pairs, "client_id").unwrap_or("").to_owned(),
            first(&pairs, "client_secret").unwrap_or("").to_owned(),
        ),
    };
    let mut st = lock(&shared.state);
    match st.clients.get(&client_id) {
        None => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            )
        }
        Some(secret) if *secret != client_secret => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized")
        }
        Some(_) => {}
    }
    let bad_grant = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    match first(&pairs, "grant_type") {
        Some("authorization_code") => {
            let code = first(&pairs, "code").unwrap_or("");
            if code.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter: code",
                );
            }
            let Some(pending) = st.codes.get(code) else {
                return bad_grant("Bad Request");
            };
            if pending.issued.elapsed() > CODE_LIFETIME || pending.client_id != client_id {
                return bad_grant("Bad Request");
            }
            if first(&pairs, "redirect_uri") != Some(pending.redirect_uri.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let Some(verifier) = first(&pairs, "code_verifier") else {
                return bad_grant("Missing code verifier.");
            };
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !valid_verifier(verifier) || computed != pending.challenge {
                return bad_grant("Invalid code verifier.");
            }
            let pending = st.codes.remove(code).expect("checked above");
            let refresh = pending
                .offline
                .then(|| st.issue_refresh(&client_id, &pending.scope));
            let access = st.issue_access(refresh.clone());
            let mut answer = json!({
                "access_token": access,
                "expires_in": st.lifetime_secs,
                "scope": pending.scope,
                "token_type": "Bearer",
            });
            if let Some(refresh) = refresh {
                answer["refresh_token"] = Value::String(refresh);
            }
            json_response(StatusCode::OK, answer)
        }
        Some("refresh_token") => {
            let refresh = first(&pairs, "refresh_token").unwrap_or("").to_owned();
            if refresh.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            }
            let scope = match st.refresh_tokens.get(&refresh) {
                Some(g) if !g.revoked && !g.expired && g.client_id == client_id => g.scope.clone(),
                Some(g) if !g.revoked && !g.expired => {
                    return oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized_client",
                        "Unauthorized",
                    )
                }
                _ => return bad_grant("Token has been expired or revoked."),
            };
            let access = st.issue_access(Some(refresh));
            st.refresh_count += 1;
            json_response(
                StatusCode::OK,
                json!({
                    "access_token": access,
                    "expires_in": st.lifetime_secs,
                    "scope": scope,
                    "token_type": "Bearer",
                }),
            )
        }
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type: ",
        ),
    }
}

/// `POST /revoke` (form field `token`, or `?token=`): revoking either token of a grant revokes
/// the whole grant, as Google does.
async fn revoke(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut pairs = parse_pairs(&String::from_utf8_lossy(&body));
    pairs.extend(parse_pairs(query.as_deref().unwrap_or("")));
    let Some(token) = first(&pairs, "token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: token",
        );
    };
    let mut st = lock(&shared.state);
    let refresh = if st.refresh_tokens.contains_key(token) {
        Some(token.to_owned())
    } else {
        match st.access_tokens.get(token) {
            Some(a) => a.refresh_token.clone(),
            None => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "invalid_token", "error_description": "Bad Request"}),
                )
            }
        }
    };
    let already = match &refresh {
        Some(r) => st.refresh_tokens.get(r).is_some_and(|g| g.revoked),
        None => st.access_tokens.get(token).is_some_and(|a| a.revoked),
    };
    if already {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_token", "error_description": "Token expired or revoked"}),
        );
    }
    match refresh {
        Some(r) => {
            st.revoke_refresh(&r);
        }
        None => {
            if let Some(a) = st.access_tokens.get_mut(token) {
                a.revoked = true;
            }
        }
    }
    json_response(StatusCode::OK, json!({}))
}
