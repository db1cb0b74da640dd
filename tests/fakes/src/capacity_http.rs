//! A fake CRM capacity endpoint for the generic HTTP poll source (`kind = "http_poll"`):
//! `GET /capacity/{team}` answers one team's figures, `GET /capacity` every team's, as JSON
//! with a bearer token required. Tests set the figures, revoke the token (401) or forbid it
//! (403), take it down (503), and put it under a rate limit that answers `429` with
//! `Retry-After` and counts every request that came back while it was told to wait.
//!
//! Shapes: one team `{"team": "nl", "agents": {"available": 3}, "leads": {"open": 12, "max":
//! 40}}`; all teams `{"teams": {"nl": {…the same…}}}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::{lock, random_token, serve, Server};

/// One team's figures at the fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeamCapacity {
    /// Agents available.
    pub available: u32,
    /// Open leads.
    pub open: u32,
    /// Maximum of open leads.
    pub max: u32,
}

/// The fake's rate limit: at most `requests` per `window` (fixed windows from the first
/// request of each); beyond it `429` with `Retry-After: retry_after_secs`.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
    /// What `Retry-After` says, seconds.
    pub retry_after_secs: u64,
}

/// What the fake counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every request.
    pub requests: u64,
    /// Requests answered with figures.
    pub answered: u64,
    /// `429`s sent.
    pub rate_limited: u64,
    /// Requests that arrived while a `Retry-After` the fake had sent was still running: the
    /// client did not wait as told.
    pub while_told_to_wait: u64,
    /// Requests without the right credential.
    pub unauthorized: u64,
}

#[derive(Debug)]
struct State_ {
    token: String,
    refuse: Option<u16>,
    down: bool,
    teams: BTreeMap<String, TeamCapacity>,
    limit: Option<RateLimit>,
    window: Option<(Instant, u32)>,
    told_until: Option<Instant>,
    counts: Counts,
}

/// A running fake capacity endpoint on `127.0.0.1`. Cheap to clone; the server stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct FakeCapacityHttp {
    state: Arc<Mutex<State_>>,
    server: Arc<Server>,
}

impl std::fmt::Debug for FakeCapacityHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCapacityHttp")
            .field("base_url", &self.base_url())
            .finish()
    }
}

impl FakeCapacityHttp {
    /// Starts the fake with no teams and a random bearer token ([`FakeCapacityHttp::token`]).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> FakeCapacityHttp {
        let state = Arc::new(Mutex::new(State_ {
            token: random_token(32),
            refuse: None,
            down: false,
            teams: BTreeMap::new(),
            limit: None,
            window: None,
            told_until: None,
            counts: Counts::default(),
        }));
        let router = Router::new()
            .route("/capacity", get(all_teams))
            .route("/capacity/{team}", get(one_team))
            .with_state(state.clone());
        let server = Arc::new(serve(router).await);
        FakeCapacityHttp { state, server }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The bearer token it takes (send `Authorization: Bearer <token>`).
    pub fn token(&self) -> String {
        lock(&self.state).token.clone()
    }

    /// Sets a team's figures.
    pub fn set_team(&self, team: &str, capacity: TeamCapacity) {
        lock(&self.state).teams.insert(team.to_string(), capacity);
    }

    /// Refuses every request with `status` (401: a revoked token, 403: a forbidden one), or
    /// accepts the token again with `None`.
    pub fn refuse_with(&self, status: Option<u16>) {
        lock(&self.state).refuse = status;
    }

    /// Answers `503` to everything while `down`.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// Puts it under a rate limit (or lifts it).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut s = lock(&self.state);
        s.limit = limit;
        s.window = None;
        s.told_until = None;
    }

    /// What it counted so far.
    pub fn counts(&self) -> Counts {
        lock(&self.state).counts
    }
}

type Shared = Arc<Mutex<State_>>;

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// The checks every request goes through; `Some` is the refusal to answer with.
fn admit(state: &Shared, headers: &HeaderMap) -> Option<Response> {
    let mut s = lock(state);
    let now = Instant::now();
    s.counts.requests += 1;
    if s.told_until.is_some_and(|until| now < until) {
        s.counts.while_told_to_wait += 1;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(s.token.as_str()) {
        s.counts.unauthorized += 1;
        return Some(problem(StatusCode::UNAUTHORIZED, "invalid credentials"));
    }
    if let Some(status) = s.refuse {
        s.counts.unauthorized += 1;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
        return Some(problem(status, "credential revoked"));
    }
    if s.down {
        return Some(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "down for maintenance",
        ));
    }
    if let Some(limit) = s.limit {
        let (start, used) = match s.window {
            Some((start, used)) if now.duration_since(start) < limit.window => (start, used),
            _ => (now, 0),
        };
        if used >= limit.requests {
            s.window = Some((start, used));
            s.counts.rate_limited += 1;
            s.told_until = Some(now + Duration::from_secs(limit.retry_after_secs));
            let mut answer = problem(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            answer.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(limit.retry_after_secs),
            );
            return Some(answer);
        }
        s.window = Some((start, used + 1));
    }
    s.counts.answered += 1;
    None
}

fn team_json(team: &str, c: &TeamCapacity) -> Value {
    json!({
        "team": team,
        "agents": {"available": c.available},
        "leads": {"open": c.open, "max": c.max},
    })
}

async fn one_team(
    State(state): State<Shared>,
    Path(team): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(answer) = admit(&state, &headers) {
        return answer;
    }
    let found = lock(&state).teams.get(&team).copied();
    match found {
        Some(c) => Json(team_json(&team, &c)).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such team"),
    }
}

async fn all_teams(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(answer) = admit(&state, &headers) {
        return answer;
    }
    let teams: serde_json::Map<String, Value> = lock(&state)
        .teams
        .iter()
        .map(|(team, c)| (team.clone(), team_json(team, c)))
        .collect();
    Json(json!({ "teams": teams })).into_response()
}
