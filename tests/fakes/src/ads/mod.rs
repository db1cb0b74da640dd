//! A fake of the Google Ads REST API v26 (`/v26/…`) on `127.0.0.1`.
//!
//! Test infrastructure, never shipped. Over 600 lines because it is the server: the handle
//! tests drive (set-up, inspection, fault queue), routing, authentication, synthetic metrics
//! and the search/searchStream handlers; the query language
//! (`gaql.rs`), mutations (`mutate.rs`), state (`model.rs`) and error bodies (`errors.rs`)
//! are modules of their own.

mod errors;
mod gaql;
mod model;
mod mutate;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};

use crate::oauth::{FakeOAuth, TokenCheck};
use crate::server::{lock, random_token, serve, ConnControl, Server};
use errors::{AdsErr, ApiFailure};
use model::Customer;
pub use model::{
    find_currency, AdScheduleSlot, AppliedMutation, Bidding, CampaignStatus, DayOfWeek,
    FakeCampaign, FakeCurrency, Fault, HourMetrics, MinuteOfHour, RecordedRequest, Route,
    CURRENCIES, DEFAULT_CURRENCY,
};
use mutate::Service;
pub use mutate::MAX_SCHEDULES_PER_DAY;

/// The API version the fake serves.
pub const API_VERSION: &str = "v26";

/// Rows per `search` page and per `searchStream` chunk unless changed with
/// [`FakeGoogleAds::set_page_size`] (Google's fixed page size).
pub const DEFAULT_PAGE_SIZE: usize = 10_000;

#[derive(Debug)]
struct AdsState {
    customers: BTreeMap<String, Customer>,
    accepted_tokens: HashSet<String>,
    faults: VecDeque<(Route, Fault)>,
    requests: Vec<RecordedRequest>,
    captures: Vec<Value>,
    mutations: Vec<AppliedMutation>,
    page_size: usize,
    page_tokens: HashMap<String, PageToken>,
    /// The daily operations quota is spent (with the `retryDelay` Google then gives, in
    /// seconds, when it gives one): every request is refused until it resets.
    quota_exhausted: Option<Option<u64>>,
    /// Requests the quota still answers before it is spent, and the `retryDelay` then.
    quota_left: Option<(usize, Option<u64>)>,
    quota_refusals: usize,
}

#[derive(Debug, Clone)]
struct PageToken {
    customer: String,
    query: String,
    offset: usize,
}

struct Shared {
    state: Mutex<AdsState>,
    oauth: Option<FakeOAuth>,
    /// How many requests have been received (`requests.len()`), for waiters.
    received: tokio::sync::watch::Sender<usize>,
}

/// A running fake of the Google Ads REST API. Cheap to clone; the server stops when the last
/// clone is dropped.
///
/// Metrics accrue only through [`FakeGoogleAds::accrue_hour`] (deterministic, never from the
/// clock) or [`FakeGoogleAds::set_metrics`].
#[derive(Clone)]
pub struct FakeGoogleAds {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

impl std::fmt::Debug for FakeGoogleAds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGoogleAds")
            .field("base_url", &self.base_url())
            .finish()
    }
}

impl FakeGoogleAds {
    /// Starts the fake on `127.0.0.1:<free port>`. With an OAuth fake, bearer tokens are checked
    /// against it; without one, only tokens given to [`FakeGoogleAds::accept_token`] pass.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(oauth: Option<FakeOAuth>) -> FakeGoogleAds {
        let shared = Arc::new(Shared {
            state: Mutex::new(AdsState {
                customers: BTreeMap::new(),
                accepted_tokens: HashSet::new(),
                faults: VecDeque::new(),
                requests: Vec::new(),
                captures: Vec::new(),
                mutations: Vec::new(),
                page_size: DEFAULT_PAGE_SIZE,
                page_tokens: HashMap::new(),
                quota_exhausted: None,
                quota_left: None,
                quota_refusals: 0,
            }),
            oauth,
            received: tokio::sync::watch::Sender::new(0),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = Arc::new(serve(router).await);
        FakeGoogleAds { shared, server }
    }

    fn state(&self) -> MutexGuard<'_, AdsState> {
        lock(&self.shared.state)
    }

    /// `http://127.0.0.1:<port>` (the API lives under `/v26/`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Adds a customer account (digits only, e.g. `"1234567890"`). With a manager, requests for
    /// it must carry `login-customer-id: <manager>`; the manager account is added too when
    /// unknown. Only accounts without a manager are listed by `listAccessibleCustomers`.
    pub fn add_customer(&self, id: &str, manager: Option<&str>) {
        let mut st = self.state();
        if let Some(m) = manager {
            st.customers
                .entry(m.to_owned())
                .or_insert_with(|| Customer::new(None));
        }
        let customer = st
            .customers
            .entry(id.to_owned())
            .or_insert_with(|| Customer::new(None));
        customer.manager = manager.map(str::to_owned);
    }

    /// Flags a customer as (not) enabled; a disabled one answers 403 `CUSTOMER_NOT_ENABLED`.
    ///
    /// # Panics
    /// When the customer was never added.
    pub fn set_customer_enabled(&self, id: &str, enabled: bool) {
        self.with_customer(id, |c| c.enabled = enabled);
    }

    /// Sets a customer's currency (`customer.currency_code`; [`DEFAULT_CURRENCY`] unless
    /// set): budgets and bids must then be multiples of its unit.
    ///
    /// # Panics
    /// When the customer was never added or the code is not one of [`CURRENCIES`].
    pub fn set_currency(&self, id: &str, code: &str) {
        let known = find_currency(code)
            .unwrap_or_else(|| panic!("currency {code} is not one the fake knows (CURRENCIES)"));
        self.with_customer(id, |c| c.currency = known.code);
    }

    fn with_customer<R>(&self, id: &str, f: impl FnOnce(&mut Customer) -> R) -> R {
        let mut st = self.state();
        let c = st
            .customers
            .get_mut(id)
            .unwrap_or_else(|| panic!("customer {id} was never added (add_customer)"));
        f(c)
    }

    /// Adds (or replaces) a campaign. Ad schedule slots with `criterion_id == 0` get an id;
    /// campaigns sharing a `budget_id` share the budget amount.
    ///
    /// # Panics
    /// When the customer was never added.
    pub fn add_campaign(&self, customer: &str, campaign: FakeCampaign) {
        self.with_customer(customer, |c| c.put_campaign(campaign));
    }

    /// The current state of a campaign.
    pub fn campaign(&self, customer: &str, id: i64) -> Option<FakeCampaign> {
        self.state()
            .customers
            .get(customer)?
            .campaigns
            .get(&id)
            .cloned()
    }

    /// All campaigns of a customer, by id.
    pub fn campaigns(&self, customer: &str) -> Vec<FakeCampaign> {
        self.state()
            .customers
            .get(customer)
            .map(|c| c.campaigns.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A change made by someone in the Google Ads UI (for drift tests): not an API mutation,
    /// not counted by [`FakeGoogleAds::mutation_count`]. Returns the new state.
    ///
    /// # Panics
    /// When the customer or the campaign does not exist.
    pub fn change_in_ui(
        &self,
        customer: &str,
        id: i64,
        change: impl FnOnce(&mut FakeCampaign),
    ) -> FakeCampaign {
        self.with_customer(customer, |c| {
            let mut campaign =
                c.campaigns.get(&id).cloned().unwrap_or_else(|| {
                    panic!("campaign {id} of customer {customer} does not exist")
                });
            change(&mut campaign);
            campaign.id = id;
            c.put_campaign(campaign);
            c.campaigns[&id].clone()
        })
    }

    /// One hour of serving: every ENABLED campaign of the customer gains impressions, clicks,
    /// cost and conversions for `date` `hour` (0–23). The amounts are a pure function of
    /// (campaign id, date, hour), with fewer at night, and a day's cost never exceeds the
    /// daily budget. Calling it twice for the same hour adds twice (within the budget).
    ///
    /// # Panics
    /// When the customer was never added or `hour > 23`.
    pub fn accrue_hour(&self, customer: &str, date: NaiveDate, hour: u32) {
        assert!(hour < 24, "hour must be 0–23, got {hour}");
        self.with_customer(customer, |c| {
            let enabled: Vec<(i64, i64)> = c
                .campaigns
                .values()
                .filter(|k| k.status == CampaignStatus::Enabled)
                .map(|k| (k.id, k.budget_amount_micros))
                .collect();
            for (id, budget) in enabled {
                let spent: i64 = c
                    .metrics
                    .range((id, date, 0)..=(id, date, 23))
                    .map(|(_, m)| m.cost_micros)
                    .sum();
                let m = hour_metrics(id, date, hour, budget - spent);
                if m.impressions > 0 {
                    c.metrics.entry((id, date, hour)).or_default().add(&m);
                }
            }
        });
    }

    /// Sets the metrics of one campaign for one hour exactly (replacing what was there).
    ///
    /// # Panics
    /// When the customer was never added.
    pub fn set_metrics(
        &self,
        customer: &str,
        campaign: i64,
        date: NaiveDate,
        hour: u32,
        metrics: HourMetrics,
    ) {
        self.with_customer(customer, |c| {
            c.metrics.insert((campaign, date, hour), metrics);
        });
    }

    /// Accepts `token` as a valid bearer token (used when started without an OAuth fake).
    pub fn accept_token(&self, token: &str) {
        self.state().accepted_tokens.insert(token.to_owned());
    }

    /// Rows per `search` page and per `searchStream` chunk (at least 1).
    pub fn set_page_size(&self, rows: usize) {
        self.state().page_size = rows.max(1);
    }

    /// Queues a fault for the next request on `route` ([`Route::Any`]: the next request at
    /// all). Faults are played in the order queued, each by exactly one request.
    pub fn push_fault(&self, route: Route, fault: Fault) {
        self.state().faults.push_back((route, fault));
    }

    /// The Cloud project's daily operations quota is spent, as Google counts it: from now on
    /// every request — search, searchStream, mutate, for any customer — answers 429
    /// `quotaError: RESOURCE_EXHAUSTED` (rate scope `DEVELOPER`, with `retryDelay` when
    /// `retry_delay_secs` is given: the time left until the reset), until
    /// [`FakeGoogleAds::reset_daily_quota`]. Queued faults wait meanwhile.
    pub fn exhaust_daily_quota(&self, retry_delay_secs: Option<u64>) {
        self.state().quota_exhausted = Some(retry_delay_secs);
    }

    /// The daily quota has `requests` operations left (each request the daemon sends is one
    /// operation): the requests after them are refused as
    /// [`FakeGoogleAds::exhaust_daily_quota`] says.
    pub fn exhaust_daily_quota_after(&self, requests: usize, retry_delay_secs: Option<u64>) {
        let mut st = self.state();
        if requests == 0 {
            st.quota_exhausted = Some(retry_delay_secs);
        } else {
            st.quota_left = Some((requests, retry_delay_secs));
        }
    }

    /// The daily quota is back (midnight Pacific time at Google).
    pub fn reset_daily_quota(&self) {
        let mut st = self.state();
        st.quota_exhausted = None;
        st.quota_left = None;
    }

    /// Whether the daily quota is spent ([`FakeGoogleAds::exhaust_daily_quota`]).
    pub fn daily_quota_exhausted(&self) -> bool {
        self.state().quota_exhausted.is_some()
    }

    /// How many requests were refused because the daily quota was spent.
    pub fn quota_refusals(&self) -> usize {
        self.state().quota_refusals
    }

    /// Faults queued and not yet played.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }

    /// Every HTTP request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The requests received after the first `n`, oldest first (empty when there are no
    /// more): what arrived since [`FakeGoogleAds::watch_requests`] said `n`.
    pub fn requests_after(&self, n: usize) -> Vec<RecordedRequest> {
        self.state().requests.get(n..).unwrap_or_default().to_vec()
    }

    /// The number of HTTP requests received so far, changing as each one arrives (it is
    /// recorded, with [`RecordedRequest::received_at`], before it is answered): wait on it
    /// instead of polling [`FakeGoogleAds::requests`].
    pub fn watch_requests(&self) -> tokio::sync::watch::Receiver<usize> {
        self.shared.received.subscribe()
    }

    /// How many mutate operations were applied (not validate-only, not failed).
    pub fn mutation_count(&self) -> usize {
        self.state().mutations.len()
    }

    /// The applied mutate operations for one customer, oldest first.
    pub fn mutations(&self, customer: &str) -> Vec<AppliedMutation> {
        self.state()
            .mutations
            .iter()
            .filter(|m| m.customer_id == customer)
            .cloned()
            .collect()
    }

    /// Every request body received and every JSON answer sent, as
    /// `{"rpc", "kind": "request"|"response"|"error", "body"}` records for
    /// `tests/conformance/google_ads.py` (HTML answers and dropped connections are not kept).
    pub fn captures(&self) -> Vec<Value> {
        self.state().captures.clone()
    }

    /// Writes [`FakeGoogleAds::captures`] as JSON Lines.
    pub fn write_captures_jsonl(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let captures = self.captures();
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for c in captures {
            writeln!(out, "{c}")?;
        }
        out.flush()
    }
}

/// SplitMix64 finalizer: the deterministic noise behind [`FakeGoogleAds::accrue_hour`].
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hour_metrics(campaign: i64, date: NaiveDate, hour: u32, budget_left: i64) -> HourMetrics {
    if budget_left <= 0 {
        return HourMetrics::default();
    }
    let seed = mix((campaign as u64)
        ^ mix(date.num_days_from_ce() as u64)
        ^ mix(u64::from(hour) << 40 | 0x5eed));
    let daytime = if (8..22).contains(&hour) { 100 } else { 30 };
    let mut impressions = (80 + (seed % 320) as i64) * daytime / 100;
    let ctr_pct = 2 + ((seed >> 12) % 7) as i64;
    let mut clicks = impressions * ctr_pct / 100;
    let cpc = 300_000 + ((seed >> 24) % 1_700_000) as i64;
    if clicks * cpc > budget_left {
        let affordable = budget_left / cpc;
        if clicks > 0 {
            impressions = impressions * affordable / clicks;
        }
        clicks = affordable;
    }
    let conversion_halves = clicks * ((seed >> 44) % 25) as i64 / 50;
    HourMetrics {
        impressions,
        clicks,
        cost_micros: clicks * cpc,
        conversions: conversion_halves as f64 / 2.0,
    }
}

/// Which API call a request is.
enum Call {
    List,
    Search(String),
    Stream(String),
    Mutate(Service, String),
}

fn route_of(method: &Method, path: &str) -> Option<Call> {
    let rest = path.strip_prefix("/v26/")?;
    if rest == "customers:listAccessibleCustomers" {
        return (method == Method::GET).then_some(Call::List);
    }
    if method != Method::POST {
        return None;
    }
    let rest = rest.strip_prefix("customers/")?;
    let (cid, action) = rest.split_once('/')?;
    let cid = cid.to_owned();
    Some(match action {
        "googleAds:search" => Call::Search(cid),
        "googleAds:searchStream" => Call::Stream(cid),
        "campaigns:mutate" => Call::Mutate(Service::Campaigns, cid),
        "campaignBudgets:mutate" => Call::Mutate(Service::Budgets, cid),
        "campaignCriteria:mutate" => Call::Mutate(Service::Criteria, cid),
        _ => return None,
    })
}

impl Call {
    fn route(&self) -> Route {
        match self {
            Call::List => Route::ListAccessibleCustomers,
            Call::Search(_) => Route::Search,
            Call::Stream(_) => Route::SearchStream,
            Call::Mutate(s, _) => s.route(),
        }
    }
}

fn err(http: StatusCode, family: &'static str, code: &'static str, msg: &str) -> ApiFailure {
    ApiFailure::one(http, AdsErr::new(family, code, msg))
}

fn fault_failure(fault: &Fault) -> Option<ApiFailure> {
    Some(match fault {
        Fault::RateLimited { retry_delay_secs } => ApiFailure::one(
            StatusCode::TOO_MANY_REQUESTS,
            AdsErr::new(
                "quotaError",
                "RESOURCE_TEMPORARILY_EXHAUSTED",
                format!("Too many requests. Retry in {retry_delay_secs} seconds."),
            )
            .with_details(json!({"quotaErrorDetails": {
                "rateScope": "ACCOUNT",
                "rateName": "Requests per customer per Cloud project",
                "retryDelay": format!("{retry_delay_secs}s"),
            }})),
        ),
        Fault::DailyQuotaExhausted => daily_quota(None),
        Fault::Internal => err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "INTERNAL_ERROR",
            "An internal error has occurred.",
        ),
        Fault::Transient => err(
            StatusCode::SERVICE_UNAVAILABLE,
            "internalError",
            "TRANSIENT_ERROR",
            "The service is temporarily unavailable. Retry the request.",
        ),
        Fault::TokenExpired => err(
            StatusCode::UNAUTHORIZED,
            "authenticationError",
            "OAUTH_TOKEN_EXPIRED",
            "Authentication token expired.",
        ),
        Fault::PermissionDenied => permission_denied(),
        Fault::CustomerNotEnabled => not_enabled(),
        Fault::Slow { .. } | Fault::DropConnection | Fault::HtmlBadGateway => return None,
    })
}

/// 429 `quotaError: RESOURCE_EXHAUSTED`, the daily operations quota, with the time left as
/// `retryDelay` when given.
fn daily_quota(retry_delay_secs: Option<u64>) -> ApiFailure {
    let mut details = json!({
        "rateScope": "DEVELOPER",
        "rateName": "Number of operations for explorer access",
    });
    let mut message = "The daily operations quota of this access level is exhausted.".to_owned();
    if let Some(secs) = retry_delay_secs {
        details["retryDelay"] = json!(format!("{secs}s"));
        message = format!("Too many requests. Retry in {secs} seconds.");
    }
    ApiFailure::one(
        StatusCode::TOO_MANY_REQUESTS,
        AdsErr::new("quotaError", "RESOURCE_EXHAUSTED", message)
            .with_details(json!({ "quotaErrorDetails": details })),
    )
}

fn permission_denied() -> ApiFailure {
    err(
        StatusCode::FORBIDDEN,
        "authorizationError",
        "USER_PERMISSION_DENIED",
        "User doesn't have permission to access customer. Note: If you're accessing a client \
         customer, the manager's customer id must be set in the 'login-customer-id' header.",
    )
}

fn not_enabled() -> ApiFailure {
    err(
        StatusCode::FORBIDDEN,
        "authorizationError",
        "CUSTOMER_NOT_ENABLED",
        "The customer account can't be accessed because it is not yet enabled or has been \
         deactivated.",
    )
}

fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

fn json_answer(status: StatusCode, body: &Value, request_id: &str) -> Response {
    with_request_id(
        (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
            body.to_string(),
        )
            .into_response(),
        request_id,
    )
}

fn capture(st: &mut AdsState, route: Route, kind: &str, body: Value) {
    st.captures
        .push(json!({"rpc": route.rpc_name(), "kind": kind, "body": body}));
}

/// Every request lands here; the path decides the RPC.
async fn handle(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<ConnControl>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = std::time::Instant::now();
    let request_id = random_token(22);
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let call = route_of(&method, uri.path());
    let fault = {
        let mut st = lock(&shared.state);
        st.requests.push(RecordedRequest {
            method: method.to_string(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    let v = if *k == header::AUTHORIZATION {
                        "[redacted]".to_owned()
                    } else {
                        String::from_utf8_lossy(v.as_bytes()).into_owned()
                    };
                    (k.as_str().to_owned(), v)
                })
                .collect(),
            body: parsed.clone(),
            received_at,
        });
        shared.received.send_replace(st.requests.len());
        let Some(call) = &call else {
            let page = "<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)</title>\
                        <p><b>404.</b> That’s an error.</p><p>The requested URL was not found \
                        on this server.</p></html>";
            return with_request_id(
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                    page,
                )
                    .into_response(),
                &request_id,
            );
        };
        let route = call.route();
        capture(&mut st, route, "request", parsed.clone());
        match st.quota_left {
            Some((0, delay)) => {
                st.quota_exhausted = Some(delay);
                st.quota_left = None;
            }
            Some((left, delay)) => st.quota_left = Some((left - 1, delay)),
            None => {}
        }
        if let Some(delay) = st.quota_exhausted {
            st.quota_refusals += 1;
            let body = daily_quota(delay).envelope(&request_id);
            capture(&mut st, route, "error", body.clone());
            return json_answer(StatusCode::TOO_MANY_REQUESTS, &body, &request_id);
        }
        let position = st
            .faults
            .iter()
            .position(|(r, _)| *r == Route::Any || *r == route);
        position.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
    };
    let call = call.expect("unknown paths answered above");
    let route = call.route();
    match &fault {
        Some(Fault::Slow { millis }) => tokio::time::sleep(Duration::from_millis(*millis)).await,
        Some(Fault::DropConnection) => conn.drop_connection().await,
        Some(Fault::HtmlBadGateway) => {
            let page = "<!DOCTYPE html><html lang=en><title>Error 502 (Server Error)!!1</title>\
                        <p><b>502.</b> That’s an error.</p><p>The server encountered a temporary \
                        error and could not complete your request.</p><p>Please try again in \
                        30 seconds.</p></html>";
            return with_request_id(
                (
                    StatusCode::BAD_GATEWAY,
                    [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                    page,
                )
                    .into_response(),
                &request_id,
            );
        }
        _ => {}
    }
    let outcome = match fault.as_ref().and_then(fault_failure) {
        Some(failure) => Err(failure),
        None => process(&shared, &call, &headers, &parsed, &request_id),
    };
    let mut st = lock(&shared.state);
    match outcome {
        Ok(body) => {
            capture(&mut st, route, "response", body.clone());
            json_answer(StatusCode::OK, &body, &request_id)
        }
        Err(failure) => {
            let body = failure.envelope(&request_id);
            capture(&mut st, route, "error", body.clone());
            json_answer(failure.http, &body, &request_id)
        }
    }
}

/// Authentication, authorization, then the call itself.
fn process(
    shared: &Shared,
    call: &Call,
    headers: &HeaderMap,
    body: &Value,
    request_id: &str,
) -> Result<Value, ApiFailure> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            "authenticationError",
            "OAUTH_TOKEN_HEADER_INVALID",
            "Oauth token HTTP header is malformed or missing: expected 'Authorization: Bearer <token>'.",
        ));
    };
    let check = match &shared.oauth {
        Some(oauth) => oauth.is_valid_access_token(token),
        None if lock(&shared.state).accepted_tokens.contains(token) => TokenCheck::Valid,
        None => TokenCheck::Unknown,
    };
    let unauthenticated =
        |code, msg: &str| err(StatusCode::UNAUTHORIZED, "authenticationError", code, msg);
    match check {
        TokenCheck::Valid => {}
        TokenCheck::Expired => {
            return Err(unauthenticated(
                "OAUTH_TOKEN_EXPIRED",
                "Authentication token expired.",
            ))
        }
        TokenCheck::Revoked => {
            return Err(unauthenticated(
                "OAUTH_TOKEN_REVOKED",
                "Authentication token was revoked.",
            ))
        }
        TokenCheck::Unknown => {
            return Err(unauthenticated(
                "OAUTH_TOKEN_INVALID",
                "Oauth token is invalid.",
            ))
        }
    }

    let mut st = lock(&shared.state);
    let cid = match call {
        Call::List => {
            let names: Vec<String> = st
                .customers
                .iter()
                .filter(|(_, c)| c.manager.is_none())
                .map(|(id, _)| format!("customers/{id}"))
                .collect();
            return Ok(json!({ "resourceNames": names }));
        }
        Call::Search(cid) | Call::Stream(cid) | Call::Mutate(_, cid) => cid.clone(),
    };
    if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "requestError",
            "INVALID_CUSTOMER_ID",
            "Invalid customer ID: the path takes the digits only, without dashes.",
        ));
    }
    let login = headers
        .get("login-customer-id")
        .map(|v| v.to_str().unwrap_or("").trim().to_owned());
    let Some(customer) = st.customers.get(&cid) else {
        return Err(permission_denied());
    };
    let allowed = match (&customer.manager, &login) {
        (Some(m), Some(l)) => l == m,
        (Some(_), None) => false,
        (None, Some(l)) => *l == cid,
        (None, None) => true,
    };
    if !allowed {
        return Err(permission_denied());
    }
    if !customer.enabled {
        return Err(not_enabled());
    }
    match call {
        Call::Search(_) => search(&mut st, &cid, body),
        Call::Stream(_) => search_stream(&st, &cid, body, request_id),
        Call::Mutate(service, _) => {
            let outcome = mutate::mutate(*service, &cid, &st.customers[&cid], body, request_id)?;
            if let Some(new_state) = outcome.new_state {
                st.customers.insert(cid.clone(), new_state);
            }
            st.mutations.extend(outcome.applied);
            Ok(outcome.response)
        }
        Call::List => unreachable!("answered above"),
    }
}

fn invalid(family: &'static str, code: &'static str, msg: impl Into<String>) -> ApiFailure {
    ApiFailure::invalid(vec![AdsErr::new(family, code, msg)])
}

/// Checks the keys of a search body and returns the query.
fn search_body<'a>(body: &'a Value, allowed: &[&str]) -> Result<&'a str, ApiFailure> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            "fieldError",
            "INVALID_VALUE",
            "The body must be a JSON object.",
        ));
    };
    for key in obj.keys() {
        match key.as_str() {
            "pageSize" | "page_size" => {
                return Err(ApiFailure::invalid(vec![AdsErr::new(
                    "requestError",
                    "PAGE_SIZE_NOT_SUPPORTED",
                    "Setting the page size is not supported. Search Responses will have fixed page size of '10000' rows.",
                )
                .at("page_size", None)]))
            }
            "customerId" | "customer_id" => {
                return Err(ApiFailure::invalid(vec![AdsErr::new(
                    "requestError",
                    "INVALID_CUSTOMER_ID",
                    format!("'{key}' must not be in the body: the customer id travels in the URL path only."),
                )
                .at(key, None)]))
            }
            k if allowed.contains(&k) => {}
            k => {
                return Err(ApiFailure::invalid(vec![AdsErr::new(
                    "fieldError",
                    "INVALID_VALUE",
                    format!("Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."),
                )
                .at(k, None)]))
            }
        }
    }
    match obj.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => Ok(q),
        _ => Err(ApiFailure::invalid(vec![AdsErr::new(
            "requestError",
            "REQUIRED_FIELD_MISSING",
            "The query is required.",
        )
        .at("query", None)])),
    }
}

fn search(st: &mut AdsState, cid: &str, body: &Value) -> Result<Value, ApiFailure> {
    let query = search_body(
        body,
        &["query", "pageToken", "validateOnly", "searchSettings"],
    )?;
    let flag = |v: Option<&Value>, name: &str| match v {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(invalid(
            "fieldError",
            "INVALID_VALUE",
            format!("Invalid value at '{name}' (TYPE_BOOL): {other}"),
        )),
    };
    let validate_only = flag(body.get("validateOnly"), "validate_only")?;
    let mut total = false;
    if let Some(settings) = body.get("searchSettings") {
        let Some(settings) = settings.as_object() else {
            return Err(invalid(
                "fieldError",
                "INVALID_VALUE",
                "searchSettings must be an object.",
            ));
        };
        for (k, v) in settings {
            match k.as_str() {
                "returnTotalResultsCount" => total = flag(Some(v), "search_settings.return_total_results_count")?,
                other => {
                    return Err(invalid(
                        "fieldError",
                        "INVALID_VALUE",
                        format!("searchSettings.{other} is not supported by the fake (only returnTotalResultsCount)."),
                    ))
                }
            }
        }
    }
    let token = match body.get("pageToken") {
        None => None,
        Some(Value::String(t)) if t.is_empty() => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(other) => {
            return Err(invalid(
                "fieldError",
                "INVALID_VALUE",
                format!("Invalid value at 'page_token' (TYPE_STRING): {other}"),
            ))
        }
    };
    if validate_only && token.is_some() {
        return Err(invalid(
            "requestError",
            "VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN",
            "A validate-only request cannot have a page token.",
        ));
    }
    let q = gaql::parse(query).map_err(|e| ApiFailure::invalid(vec![e]))?;
    let mask = gaql::field_mask(&q);
    if validate_only {
        return Ok(json!({ "fieldMask": mask }));
    }
    let offset = match &token {
        None => 0,
        Some(t) => match st.page_tokens.get(t) {
            Some(p) if p.customer == cid && p.query == query => p.offset,
            _ => {
                return Err(invalid(
                    "requestError",
                    "INVALID_PAGE_TOKEN",
                    "Page token is invalid or belongs to another query.",
                ))
            }
        },
    };
    let rows = gaql::run(&q, cid, &st.customers[cid]);
    let end = (offset + st.page_size).min(rows.len());
    let page: Vec<Value> = rows.get(offset..end).unwrap_or_default().to_vec();
    let mut out = serde_json::Map::new();
    if !page.is_empty() {
        out.insert("results".to_owned(), Value::Array(page));
    }
    if end < rows.len() {
        let next = random_token(32);
        st.page_tokens.insert(
            next.clone(),
            PageToken {
                customer: cid.to_owned(),
                query: query.to_owned(),
                offset: end,
            },
        );
        out.insert("nextPageToken".to_owned(), Value::String(next));
    }
    if total {
        out.insert(
            "totalResultsCount".to_owned(),
            Value::String(rows.len().to_string()),
        );
    }
    out.insert("fieldMask".to_owned(), Value::String(mask));
    Ok(Value::Object(out))
}

fn search_stream(
    st: &AdsState,
    cid: &str,
    body: &Value,
    request_id: &str,
) -> Result<Value, ApiFailure> {
    let query = search_body(body, &["query", "summaryRowSetting"])?;
    match body.get("summaryRowSetting") {
        None => {}
        Some(Value::String(s)) if s == "NO_SUMMARY_ROW" => {}
        Some(other) => {
            return Err(invalid(
                "requestError",
                "INVALID_ENUM_VALUE",
                format!(
                    "summaryRowSetting {other} is not supported by the fake (only NO_SUMMARY_ROW)."
                ),
            ))
        }
    }
    let q = gaql::parse(query).map_err(|e| ApiFailure::invalid(vec![e]))?;
    let mask = gaql::field_mask(&q);
    let rows = gaql::run(&q, cid, &st.customers[cid]);
    let chunk = |results: Option<&[Value]>| {
        let mut c = serde_json::Map::new();
        if let Some(r) = results {
            c.insert("results".to_owned(), Value::Array(r.to_vec()));
        }
        c.insert("fieldMask".to_owned(), Value::String(mask.clone()));
        c.insert("requestId".to_owned(), Value::String(request_id.to_owned()));
        Value::Object(c)
    };
    let chunks: Vec<Value> = if rows.is_empty() {
        vec![chunk(None)]
    } else {
        rows.chunks(st.page_size).map(|r| chunk(Some(r))).collect()
    };
    Ok(Value::Array(chunks))
}
