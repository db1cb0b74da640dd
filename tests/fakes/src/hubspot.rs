//! A fake HubSpot CRM v3 for the HubSpot capacity source (`kind = "hubspot"`), keeping HubSpot's
//! documented request and response shapes:
//!
//! * `GET /crm/v3/owners` — owners (`id`, `email`, `firstName`, `lastName`, `userId`,
//!   `userIdIncludingInactive`, `type`, `createdAt`, `updatedAt`, `archived`, `teams`
//!   `[{id, name, primary}]`), `limit` (default 100, at most 500), `after` (an opaque cursor from
//!   `paging.next.after`), `archived` (`true`: only archived owners; default only active ones),
//!   `email`.
//! * `POST /crm/v3/objects/{objectType}/search` — `filterGroups` (at most 5, OR-ed) of
//!   `filters` (at most 6 each, 18 in all, AND-ed) with `propertyName`, `operator` (`EQ`, `NEQ`,
//!   `IN`, `NOT_IN`, `HAS_PROPERTY`, `NOT_HAS_PROPERTY`), `value` or `values`; `properties`,
//!   `sorts`, `query`, `limit` (default 10, at most 200) and `after`. The answer has `total`,
//!   `results` (`id`, `properties`, `createdAt`, `updatedAt`, `archived`) and, when more
//!   follow, `paging.next.after`; past 10,000 results HubSpot refuses, and so does the fake.
//! * `PATCH /crm/v3/objects/{objectType}/{id}` — `{"properties": {...}}`, so a lead's status can
//!   be changed from outside too (`curl`), as in HubSpot.
//!
//! Every request needs `Authorization: Bearer <token>`; a test can expire the token (401
//! `EXPIRED_AUTHENTICATION`), revoke it (401 `INVALID_AUTHENTICATION`) or take its scopes
//! away (403 `MISSING_SCOPES`). Errors have HubSpot's shape: `status`, `message`,
//! `correlationId`, `category` (and `errors`/`context` for validation).
//!
//! **The search rate limit** is HubSpot's documented one: 4 searches a second per token, as a
//! token bucket (a burst of 4, one more every 250 ms), so a client that spaces its searches by
//! a quarter second is never refused whatever the machine's latency. Beyond it: `429` with
//! HubSpot's body (`errorType: RATE_LIMIT`, `policyName: SECONDLY`) and headers
//! (`X-HubSpot-RateLimit-Interval-Milliseconds`, `-Max`, `-Remaining: 0`, and `Retry-After`
//! only when a test asks for it). The fake remembers until when it told the client to wait
//! (`Retry-After`, else the interval) and counts every search that arrived before then
//! ([`HubSpotCounts::while_told_to_wait`]): a test asserts that is 0, which depends on the
//! client alone, not on how fast the machine is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::server::{lock, random_token, serve, Server};

/// HubSpot's documented search rate: requests per second per token.
pub const HUBSPOT_SEARCH_PER_SECOND: u32 = 4;

/// Most results a search pages through (`after` + `limit` beyond it is refused).
pub const HUBSPOT_SEARCH_MAX_RESULTS: usize = 10_000;

/// One team an owner belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeOwnerTeam {
    /// HubSpot's team id.
    pub id: String,
    /// The team's name.
    pub name: String,
    /// Whether it is the owner's primary team.
    pub primary: bool,
}

/// One owner (a HubSpot user that records can be assigned to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeOwner {
    /// The owner id (what `hubspot_owner_id` holds).
    pub id: String,
    /// Email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The user id (a different number than the owner id).
    pub user_id: u64,
    /// Teams.
    pub teams: Vec<FakeOwnerTeam>,
    /// Deactivated: listed only with `archived=true`, `userId` null.
    pub archived: bool,
}

impl FakeOwner {
    /// An active owner `id` with made-up name and email, in `teams` (`(id, name)`, the first
    /// primary).
    pub fn new(id: &str, teams: &[(&str, &str)]) -> FakeOwner {
        FakeOwner {
            id: id.to_string(),
            email: format!("owner{id}@example.com"),
            first_name: format!("First{id}"),
            last_name: format!("Last{id}"),
            user_id: id.parse::<u64>().map_or(1, |n| n + 1_000_000),
            teams: teams
                .iter()
                .enumerate()
                .map(|(i, (id, name))| FakeOwnerTeam {
                    id: id.to_string(),
                    name: name.to_string(),
                    primary: i == 0,
                })
                .collect(),
            archived: false,
        }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": if self.archived { Value::Null } else { json!(self.user_id) },
            "userIdIncludingInactive": self.user_id,
            "type": "PERSON",
            "createdAt": "2026-01-05T09:00:00.000Z",
            "updatedAt": "2026-02-01T09:00:00.000Z",
            "archived": self.archived,
            "teams": self.teams.iter().map(|t| json!({"id": t.id, "name": t.name, "primary": t.primary})).collect::<Vec<_>>(),
        })
    }
}

/// What the token the fake takes is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubSpotTokenState {
    /// Accepted.
    Valid,
    /// 401 `EXPIRED_AUTHENTICATION`.
    Expired,
    /// 401 `INVALID_AUTHENTICATION` (revoked, or the private app deleted).
    Revoked,
    /// 403 `MISSING_SCOPES` (the private app lost a scope).
    MissingScopes,
}

/// What the fake counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubSpotCounts {
    /// `GET /crm/v3/owners` requests answered with owners.
    pub owner_pages: u64,
    /// Searches answered with results.
    pub searches: u64,
    /// `429`s sent.
    pub rate_limited: u64,
    /// Searches that arrived while a wait the fake had told (`Retry-After`, else the
    /// interval header) still ran: the client did not wait as told.
    pub while_told_to_wait: u64,
    /// Requests refused for their credential (401/403).
    pub unauthorized: u64,
    /// Requests refused as malformed (400).
    pub bad_requests: u64,
}

#[derive(Debug)]
struct Bucket {
    per_second: u32,
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct State_ {
    token: String,
    token_state: HubSpotTokenState,
    owners: Vec<FakeOwner>,
    /// Object type → record id → properties.
    objects: BTreeMap<String, BTreeMap<u64, BTreeMap<String, String>>>,
    next_id: u64,
    bucket: Option<Bucket>,
    retry_after_secs: Option<u64>,
    told_until: Option<Instant>,
    counts: HubSpotCounts,
    search_bodies: Vec<Value>,
    correlation: u64,
}

/// A running fake HubSpot on `127.0.0.1`. Cheap to clone; the server stops when the last clone
/// is dropped.
#[derive(Clone)]
pub struct FakeHubSpot {
    state: Arc<Mutex<State_>>,
    server: Arc<Server>,
}

impl std::fmt::Debug for FakeHubSpot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHubSpot")
            .field("base_url", &self.base_url())
            .finish()
    }
}

type Shared = Arc<Mutex<State_>>;

impl FakeHubSpot {
    /// Starts the fake with no owners, no records, a random private-app token
    /// ([`FakeHubSpot::token`]) and the search rate limit on (4 a second).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> FakeHubSpot {
        let state = Arc::new(Mutex::new(State_ {
            token: format!("pat-eu1-{}", random_token(36)),
            token_state: HubSpotTokenState::Valid,
            owners: Vec::new(),
            objects: BTreeMap::new(),
            next_id: 100_001,
            bucket: Some(Bucket {
                per_second: HUBSPOT_SEARCH_PER_SECOND,
                tokens: f64::from(HUBSPOT_SEARCH_PER_SECOND),
                at: Instant::now(),
            }),
            retry_after_secs: None,
            told_until: None,
            counts: HubSpotCounts::default(),
            search_bodies: Vec::new(),
            correlation: 0,
        }));
        let router = Router::new()
            .route("/crm/v3/owners", get(owners))
            .route("/crm/v3/owners/", get(owners))
            .route("/crm/v3/objects/{object}/search", post(search))
            .route("/crm/v3/objects/{object}/{id}", patch(update))
            .with_state(state.clone());
        let server = Arc::new(serve(router).await);
        FakeHubSpot { state, server }
    }

    /// `http://127.0.0.1:<port>` (what `api.hubapi.com` is for the real one).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The private-app token it takes (`Authorization: Bearer <token>`).
    pub fn token(&self) -> String {
        lock(&self.state).token.clone()
    }

    /// Makes the current token expired, revoked, scope-less or valid again.
    pub fn set_token_state(&self, state: HubSpotTokenState) {
        lock(&self.state).token_state = state;
    }

    /// Issues a new token (the old one is refused from now on, as after a rotation in
    /// HubSpot's private-app settings) and returns it.
    pub fn rotate_token(&self) -> String {
        let mut s = lock(&self.state);
        s.token = format!("pat-eu1-{}", random_token(36));
        s.token_state = HubSpotTokenState::Valid;
        s.token.clone()
    }

    /// Adds (or replaces, by id) an owner.
    pub fn put_owner(&self, owner: FakeOwner) {
        let mut s = lock(&self.state);
        match s.owners.iter_mut().find(|o| o.id == owner.id) {
            Some(o) => *o = owner,
            None => s.owners.push(owner),
        }
    }

    /// Archives (deactivates) an owner, or brings it back.
    pub fn set_owner_archived(&self, id: &str, archived: bool) {
        if let Some(o) = lock(&self.state).owners.iter_mut().find(|o| o.id == id) {
            o.archived = archived;
        }
    }

    /// Adds a contact owned by `owner` (none: unassigned) with lead status `status` (none:
    /// unset) and returns its id.
    pub fn add_contact(&self, owner: Option<&str>, status: Option<&str>) -> u64 {
        let mut properties = BTreeMap::new();
        if let Some(owner) = owner {
            properties.insert("hubspot_owner_id".to_string(), owner.to_string());
        }
        if let Some(status) = status {
            properties.insert("hs_lead_status".to_string(), status.to_string());
        }
        self.add_record("contacts", properties)
    }

    /// Adds `n` contacts owned by `owner` with lead status `status`.
    pub fn add_contacts(&self, n: usize, owner: &str, status: &str) {
        for _ in 0..n {
            self.add_contact(Some(owner), Some(status));
        }
    }

    /// Adds a record of any object type (`contacts`, `deals`, `leads`, …) with `properties`,
    /// and returns its id.
    pub fn add_record(&self, object: &str, properties: BTreeMap<String, String>) -> u64 {
        let mut s = lock(&self.state);
        let id = s.next_id;
        s.next_id += 1;
        let mut properties = properties;
        properties.insert("hs_object_id".into(), id.to_string());
        s.objects
            .entry(object.to_string())
            .or_default()
            .insert(id, properties);
        id
    }

    /// Changes a contact's lead status (`hs_lead_status`; none: cleared), as a sales rep does
    /// in HubSpot. `false` when there is no such contact.
    pub fn set_contact_status(&self, id: u64, status: Option<&str>) -> bool {
        self.set_property("contacts", id, "hs_lead_status", status)
    }

    /// Sets (or clears) one property of a record. `false` when there is no such record.
    pub fn set_property(&self, object: &str, id: u64, property: &str, value: Option<&str>) -> bool {
        let mut s = lock(&self.state);
        let Some(record) = s.objects.get_mut(object).and_then(|o| o.get_mut(&id)) else {
            return false;
        };
        match value {
            Some(v) => record.insert(property.to_string(), v.to_string()),
            None => record.remove(property),
        };
        true
    }

    /// The ids of the contacts `owner` owns with lead status `status`.
    pub fn contacts_of(&self, owner: &str, status: &str) -> Vec<u64> {
        let s = lock(&self.state);
        s.objects
            .get("contacts")
            .map(|records| {
                records
                    .iter()
                    .filter(|(_, p)| {
                        p.get("hubspot_owner_id").map(String::as_str) == Some(owner)
                            && p.get("hs_lead_status").map(String::as_str) == Some(status)
                    })
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets the search rate limit (searches a second per token, as a token bucket with a
    /// burst of as many), or lifts it with `None`. The default is HubSpot's 4.
    pub fn set_search_rate(&self, per_second: Option<u32>) {
        let mut s = lock(&self.state);
        s.bucket = per_second.filter(|n| *n > 0).map(|n| Bucket {
            per_second: n,
            tokens: f64::from(n),
            at: Instant::now(),
        });
        s.told_until = None;
    }

    /// Sends `Retry-After: secs` with each `429` (HubSpot often leaves it out; then the client
    /// has only `X-HubSpot-RateLimit-Interval-Milliseconds` to go by).
    pub fn set_retry_after(&self, secs: Option<u64>) {
        lock(&self.state).retry_after_secs = secs;
    }

    /// What it counted so far.
    pub fn counts(&self) -> HubSpotCounts {
        lock(&self.state).counts
    }

    /// Every search body received (answered or not), in order.
    pub fn search_bodies(&self) -> Vec<Value> {
        lock(&self.state).search_bodies.clone()
    }
}

fn correlation_id(s: &mut State_) -> String {
    s.correlation += 1;
    format!("00000000-0000-4000-8000-{:012x}", s.correlation)
}

/// HubSpot's error body, with its status.
fn error(
    s: &mut State_,
    status: StatusCode,
    category: &str,
    message: &str,
    extra: Option<Value>,
) -> Response {
    let mut body = json!({
        "status": "error",
        "message": message,
        "correlationId": correlation_id(s),
        "category": category,
    });
    if let (Some(Value::Object(extra)), Value::Object(map)) = (extra, &mut body) {
        map.extend(extra);
    }
    (status, Json(body)).into_response()
}

fn bad_request(s: &mut State_, message: &str) -> Response {
    s.counts.bad_requests += 1;
    let extra = json!({
        "errors": [{"message": message, "code": "INVALID_PARAMETER"}],
        "context": {},
    });
    error(
        s,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        message,
        Some(extra),
    )
}

/// The credential check every request goes through.
fn authorize(s: &mut State_, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let refusal = if bearer != Some(s.token.as_str()) {
        Some((
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        ))
    } else {
        match s.token_state {
            HubSpotTokenState::Valid => None,
            HubSpotTokenState::Expired => Some((
                StatusCode::UNAUTHORIZED,
                "EXPIRED_AUTHENTICATION",
                "The OAuth token used to make this call expired.",
            )),
            HubSpotTokenState::Revoked => Some((
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )),
            HubSpotTokenState::MissingScopes => Some((
                StatusCode::FORBIDDEN,
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            )),
        }
    };
    let (status, category, message) = refusal?;
    s.counts.unauthorized += 1;
    Some(error(s, status, category, message, None))
}

/// The general rate-limit headers HubSpot puts on its answers (the fake does not enforce the
/// general limit; the search one is what matters here).
fn general_headers(response: &mut Response) {
    for (name, value) in [
        ("x-hubspot-ratelimit-daily", "500000"),
        ("x-hubspot-ratelimit-daily-remaining", "499000"),
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ("x-hubspot-ratelimit-max", "190"),
        ("x-hubspot-ratelimit-remaining", "189"),
        ("x-hubspot-ratelimit-secondly", "19"),
        ("x-hubspot-ratelimit-secondly-remaining", "18"),
    ] {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
}

/// The search rate limit: `Some(429)` when the bucket is empty.
fn admit_search(s: &mut State_) -> Option<Response> {
    let now = Instant::now();
    if s.told_until.is_some_and(|until| now < until) {
        s.counts.while_told_to_wait += 1;
    }
    let bucket = s.bucket.as_mut()?;
    let rate = f64::from(bucket.per_second);
    let refill = now.duration_since(bucket.at).as_secs_f64() * rate;
    bucket.tokens = (bucket.tokens + refill).min(rate);
    bucket.at = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        return None;
    }
    let per_second = bucket.per_second;
    let told = s
        .retry_after_secs
        .map_or(Duration::from_secs(1), Duration::from_secs);
    s.told_until = Some(now + told);
    s.counts.rate_limited += 1;
    let body = json!({
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(s),
        "policyName": "SECONDLY",
        "category": "RATE_LIMITS",
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let h = response.headers_mut();
    h.insert(
        "x-hubspot-ratelimit-interval-milliseconds",
        HeaderValue::from_static("1000"),
    );
    h.insert("x-hubspot-ratelimit-max", HeaderValue::from(per_second));
    h.insert("x-hubspot-ratelimit-remaining", HeaderValue::from(0));
    if let Some(secs) = s.retry_after_secs {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Some(response)
}

async fn owners(
    State(state): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = lock(&state);
    if let Some(refusal) = authorize(&mut s, &headers) {
        return refusal;
    }
    for key in query.keys() {
        if !matches!(key.as_str(), "limit" | "after" | "archived" | "email") {
            return bad_request(&mut s, &format!("Unknown query parameter: {key}"));
        }
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=500).contains(&l) => l,
        Some(_) => {
            return bad_request(
                &mut s,
                "Invalid limit value: must be between 1 and 500 (inclusive).",
            )
        }
    };
    let archived = match query.get("archived").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return bad_request(&mut s, &format!("Invalid archived value: {other:?}"));
        }
    };
    let start = match query.get("after") {
        None => 0,
        Some(cursor) => match URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| {
                t.strip_prefix("owners:")
                    .and_then(|n| n.parse::<usize>().ok())
            }) {
            Some(n) => n,
            None => return bad_request(&mut s, "Invalid paging cursor: after"),
        },
    };
    let matching: Vec<&FakeOwner> = s
        .owners
        .iter()
        .filter(|o| o.archived == archived)
        .filter(|o| query.get("email").is_none_or(|e| *e == o.email))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|o| o.json())
        .collect();
    let mut body = json!({ "results": page });
    if start + limit < matching.len() {
        let after = URL_SAFE_NO_PAD.encode(format!("owners:{}", start + limit));
        body["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    s.counts.owner_pages += 1;
    let mut response = Json(body).into_response();
    general_headers(&mut response);
    response
}

/// One search filter, checked.
enum Filter {
    Eq(String, String),
    Neq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Has(String),
    NotHas(String),
}

impl Filter {
    fn parse(v: &Value) -> Result<Filter, String> {
        let Value::Object(m) = v else {
            return Err("a filter must be an object".into());
        };
        for key in m.keys() {
            if !matches!(
                key.as_str(),
                "propertyName" | "operator" | "value" | "values" | "highValue"
            ) {
                return Err(format!("Unrecognized field \"{key}\" in a filter"));
            }
        }
        let property = m
            .get("propertyName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or("a filter needs propertyName")?
            .to_string();
        let operator = m
            .get("operator")
            .and_then(Value::as_str)
            .ok_or("a filter needs operator")?;
        let value = || -> Result<String, String> {
            match m.get("value") {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::Bool(b)) => Ok(b.to_string()),
                _ => Err(format!("operator {operator} needs a value")),
            }
        };
        let values = || -> Result<Vec<String>, String> {
            let list = m
                .get("values")
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
                .ok_or(format!(
                    "operator {operator} needs a non-empty values array"
                ))?;
            if list.len() > 100 {
                return Err(format!("operator {operator} takes at most 100 values"));
            }
            list.iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err("values must be strings".to_string()),
                })
                .collect()
        };
        Ok(match operator {
            "EQ" => Filter::Eq(property, value()?),
            "NEQ" => Filter::Neq(property, value()?),
            "IN" => Filter::In(property, values()?),
            "NOT_IN" => Filter::NotIn(property, values()?),
            "HAS_PROPERTY" => Filter::Has(property),
            "NOT_HAS_PROPERTY" => Filter::NotHas(property),
            other => return Err(format!("Unsupported operator: {other}")),
        })
    }

    fn matches(&self, p: &BTreeMap<String, String>) -> bool {
        // HubSpot compares enumeration values without regard to case.
        let eq = |prop: &str, v: &str| p.get(prop).is_some_and(|x| x.eq_ignore_ascii_case(v));
        match self {
            Filter::Eq(prop, v) => eq(prop, v),
            Filter::Neq(prop, v) => !eq(prop, v),
            Filter::In(prop, vs) => vs.iter().any(|v| eq(prop, v)),
            Filter::NotIn(prop, vs) => !vs.iter().any(|v| eq(prop, v)),
            Filter::Has(prop) => p.contains_key(prop),
            Filter::NotHas(prop) => !p.contains_key(prop),
        }
    }
}

/// A search body, checked as HubSpot does: `(filter groups, properties, limit, offset)`.
#[allow(clippy::type_complexity)]
fn parse_search(body: &[u8]) -> Result<(Vec<Vec<Filter>>, Vec<String>, usize, usize), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("Invalid input JSON: {e}"))?;
    let Value::Object(m) = v else {
        return Err("Invalid input JSON: expected an object".into());
    };
    for key in m.keys() {
        if !matches!(
            key.as_str(),
            "filterGroups" | "properties" | "sorts" | "query" | "limit" | "after"
        ) {
            return Err(format!("Unrecognized field \"{key}\""));
        }
    }
    let groups = match m.get("filterGroups") {
        None => vec![],
        Some(Value::Array(groups)) => groups
            .iter()
            .map(|g| {
                let filters = g
                    .get("filters")
                    .and_then(Value::as_array)
                    .ok_or("a filterGroup needs a filters array")?;
                if filters.len() > 6 {
                    return Err("a filterGroup takes at most 6 filters".to_string());
                }
                filters.iter().map(Filter::parse).collect()
            })
            .collect::<Result<Vec<Vec<Filter>>, String>>()?,
        Some(_) => return Err("filterGroups must be an array".into()),
    };
    if groups.len() > 5 {
        return Err("at most 5 filterGroups".into());
    }
    if groups.iter().map(Vec::len).sum::<usize>() > 18 {
        return Err("at most 18 filters in all".into());
    }
    let properties = match m.get("properties") {
        None => vec![],
        Some(Value::Array(p)) => p
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_string)
                    .ok_or("properties must be strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("properties must be an array".into()),
    };
    if let Some(sorts) = m.get("sorts") {
        if !sorts.is_array() {
            return Err("sorts must be an array".into());
        }
    }
    if m.get("query").is_some_and(|q| !q.is_string()) {
        return Err("query must be a string".into());
    }
    let limit = match m.get("limit") {
        None => 10,
        Some(l) => match l.as_u64() {
            Some(l) if l <= 200 => l as usize,
            _ => return Err("limit must be a whole number from 0 to 200".into()),
        },
    };
    let offset = match m.get("after") {
        None | Some(Value::Null) => 0,
        Some(Value::String(a)) => a
            .parse::<usize>()
            .map_err(|_| format!("Invalid paging cursor: {a:?}"))?,
        Some(Value::Number(n)) => n.as_u64().ok_or("Invalid paging cursor")? as usize,
        Some(_) => return Err("after must be a string".into()),
    };
    if offset + limit > HUBSPOT_SEARCH_MAX_RESULTS {
        return Err(format!(
            "Paging past {HUBSPOT_SEARCH_MAX_RESULTS} results is not supported"
        ));
    }
    Ok((groups, properties, limit, offset))
}

async fn search(
    State(state): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    s.search_bodies
        .push(serde_json::from_slice(&body).unwrap_or(Value::String("<not JSON>".into())));
    if let Some(refusal) = authorize(&mut s, &headers) {
        return refusal;
    }
    if let Some(limited) = admit_search(&mut s) {
        return limited;
    }
    let (groups, properties, limit, offset) = match parse_search(&body) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(&mut s, &message),
    };
    if !matches!(
        object.as_str(),
        "contacts" | "companies" | "deals" | "tickets" | "leads"
    ) && !object.starts_with("0-")
        && !object.starts_with("2-")
        && !s.objects.contains_key(&object)
    {
        return bad_request(
            &mut s,
            &format!("Unable to infer object type from: {object}"),
        );
    }
    let empty = BTreeMap::new();
    let records = s.objects.get(&object).unwrap_or(&empty);
    let matching: Vec<(&u64, &BTreeMap<String, String>)> = records
        .iter()
        .filter(|(_, p)| groups.is_empty() || groups.iter().any(|g| g.iter().all(|f| f.matches(p))))
        .collect();
    let total = matching.len();
    let results: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, p)| {
            let mut props = Map::new();
            props.insert("hs_object_id".into(), json!(id.to_string()));
            props.insert("createdate".into(), json!("2026-02-01T09:00:00.000Z"));
            props.insert("lastmodifieddate".into(), json!("2026-02-01T09:00:00.000Z"));
            for name in &properties {
                props.insert(name.clone(), p.get(name).map_or(Value::Null, |v| json!(v)));
            }
            json!({
                "id": id.to_string(),
                "properties": props,
                "createdAt": "2026-02-01T09:00:00.000Z",
                "updatedAt": "2026-02-01T09:00:00.000Z",
                "archived": false,
            })
        })
        .collect();
    let mut answer = json!({"total": total, "results": results});
    if offset + limit < total && limit > 0 {
        let after = (offset + limit).to_string();
        answer["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    s.counts.searches += 1;
    Json(answer).into_response()
}

async fn update(
    State(state): State<Shared>,
    Path((object, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    if let Some(refusal) = authorize(&mut s, &headers) {
        return refusal;
    }
    let properties = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => match m.get("properties") {
            Some(Value::Object(p)) => p.clone(),
            _ => return bad_request(&mut s, "properties must be an object"),
        },
        _ => return bad_request(&mut s, "Invalid input JSON"),
    };
    let record = id
        .parse::<u64>()
        .ok()
        .and_then(|id| s.objects.get_mut(&object).and_then(|o| o.get_mut(&id)));
    let Some(record) = record else {
        return error(
            &mut s,
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
            None,
        );
    };
    for (name, value) in properties {
        match value {
            Value::Null => record.remove(&name),
            Value::String(v) if v.is_empty() => record.remove(&name),
            Value::String(v) => record.insert(name, v),
            other => record.insert(name, other.to_string()),
        };
    }
    let props: Map<String, Value> = record.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let mut response = Json(json!({
        "id": id,
        "properties": props,
        "createdAt": "2026-02-01T09:00:00.000Z",
        "updatedAt": "2026-02-01T09:00:00.000Z",
        "archived": false,
    }))
    .into_response();
    general_headers(&mut response);
    response
}
