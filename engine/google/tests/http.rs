//! End to end over real HTTP: a tiny axum server on 127.0.0.1:0 answers a scripted
//! sequence, and the tests count requests, refreshes and check headers and bodies.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::NaiveDate;
use leadorch_google::{
    memory_sink, AccessTokens, AdScheduleSlot, AdsError, BiddingStrategy, CampaignStatus, Capture,
    CustomerId, DayOfWeek, GoogleAdsClient, GoogleAdsConfig, RetryPolicy, TokenError,
};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use url::Url;

const FAILURE: &str = "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure";

// ------------------------------------------------------------------ scripted server

#[derive(Clone)]
enum Reply {
    Json(u16, Value),
    Html(u16, &'static str),
    Slow(Duration, u16, Value),
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct Server {
    url: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
    dropped: Arc<AtomicUsize>,
}

impl Server {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn handle(State(script): State<Script>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    script.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body,
    });
    let reply = script.replies.lock().unwrap().pop_front();
    let json = |status: u16, v: Value| {
        (
            StatusCode::from_u16(status).unwrap(),
            [
                ("content-type", "application/json"),
                ("request-id", "hdr-req"),
            ],
            v.to_string(),
        )
            .into_response()
    };
    match reply {
        Some(Reply::Json(status, v)) => json(status, v),
        Some(Reply::Html(status, html)) => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "text/html")],
            Body::from(html),
        )
            .into_response(),
        Some(Reply::Slow(delay, status, v)) => {
            tokio::time::sleep(delay).await;
            json(status, v)
        }
        None => json(
            500,
            json!({"error": {"code": 500, "message": "script exhausted", "status": "INTERNAL"}}),
        ),
    }
}

/// Starts the server; the first `drop_connections` connections are closed after reading
/// the request, without an answer.
async fn serve(replies: Vec<Reply>, drop_connections: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Script {
        replies: Arc::new(Mutex::new(replies.into())),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let seen = script.seen.clone();
    let dropped = Arc::new(AtomicUsize::new(0));
    let dropped2 = dropped.clone();
    tokio::spawn(async move {
        for _ in 0..drop_connections {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            dropped2.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
        let app = Router::new().fallback(handle).with_state(script);
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        url: Url::parse(&format!("http://{addr}/")).unwrap(),
        seen,
        dropped,
    }
}

// ------------------------------------------------------------------ tokens and client

struct Tokens {
    current: Mutex<String>,
    refreshes: AtomicUsize,
    fail: Option<TokenError>,
    /// Refreshes that fail (the token endpoint unavailable) before one succeeds.
    failing_refreshes: AtomicUsize,
}

impl Tokens {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new("tok-1".into()),
            refreshes: AtomicUsize::new(0),
            fail: None,
            failing_refreshes: AtomicUsize::new(0),
        })
    }
    fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl AccessTokens for Tokens {
    async fn access_token(&self) -> Result<String, TokenError> {
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(self.current.lock().unwrap().clone()),
        }
    }
    async fn refresh(&self) -> Result<String, TokenError> {
        if self
            .failing_refreshes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(TokenError::Unavailable {
                message: "token endpoint: HTTP 503".into(),
            });
        }
        let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        let t = format!("tok-{}", n + 1);
        *self.current.lock().unwrap() = t.clone();
        Ok(t)
    }
}

fn config(server: &Server) -> GoogleAdsConfig {
    GoogleAdsConfig {
        base_url: server.url.clone(),
        login_customer_id: Some("111-222-3333".into()),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(500),
            jitter: true,
        },
        ops_per_second_per_customer: 100,
        ..GoogleAdsConfig::default()
    }
}

fn client(server: &Server, tokens: Arc<Tokens>) -> GoogleAdsClient {
    GoogleAdsClient::new(config(server), tokens).unwrap()
}

fn customer() -> CustomerId {
    CustomerId::parse("1234567890").unwrap()
}

fn ads_error(status: u16, rpc_status: &str, family: &str, code: &str, details: Value) -> Value {
    let mut err = json!({"errorCode": {family: code}, "message": "scripted"});
    if !details.is_null() {
        err["details"] = details;
    }
    json!({"error": {"code": status, "message": "scripted", "status": rpc_status,
        "details": [{"@type": FAILURE, "errors": [err], "requestId": "body-req"}]}})
}

fn ok_mutate(name: &str) -> Value {
    json!({"results": [{"resourceName": name}]})
}

fn search_page(rows: Value, next: Option<&str>) -> Value {
    let mut v = json!({"results": rows, "fieldMask": "campaign.id"});
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v
}

fn header<'a>(s: &'a Seen, name: &str) -> Option<&'a str> {
    s.headers.get(name).map(|v| v.to_str().unwrap())
}

// ------------------------------------------------------------------ retries

#[tokio::test]
async fn rate_quota_honours_retry_delay_then_succeeds() {
    let server = serve(
        vec![
            Reply::Json(
                429,
                ads_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "quotaError",
                    "RESOURCE_TEMPORARILY_EXHAUSTED",
                    json!({"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "r", "retryDelay": "0.05s"}}),
                ),
            ),
            Reply::Json(200, search_page(json!([{"campaign": {"id": "1"}}]), None)),
        ],
        0,
    )
    .await;
    let tokens = Tokens::new();
    let c = client(&server, tokens.clone());
    let started = Instant::now();
    let rows = c
        .search(&customer(), "SELECT campaign.id FROM campaign")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "retryDelay not honoured"
    );
    assert_eq!(rows, vec![json!({"campaign": {"id": "1"}})]);

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.path, "/v26/customers/1234567890/googleAds:search");
        assert_eq!(header(s, "authorization"), Some("Bearer tok-1"));
        assert_eq!(header(s, "login-customer-id"), Some("1112223333"));
        assert_eq!(header(s, "developer-token"), None);
        assert_eq!(s.body, json!({"query": "SELECT campaign.id FROM campaign"}));
    }
    assert_eq!(tokens.refreshes(), 0);
}

#[tokio::test]
async fn expired_token_is_refreshed_exactly_once() {
    let server = serve(
        vec![
            Reply::Json(
                401,
                ads_error(
                    401,
                    "UNAUTHENTICATED",
                    "authenticationError",
                    "OAUTH_TOKEN_EXPIRED",
                    Value::Null,
                ),
            ),
            Reply::Json(200, ok_mutate("customers/1234567890/campaigns/111")),
        ],
        0,
    )
    .await;
    let tokens = Tokens::new();
    let mut cfg = config(&server);
    cfg.developer_token = Some("dev-tok".into());
    cfg.login_customer_id = None;
    let c = GoogleAdsClient::new(cfg, tokens.clone()).unwrap();
    let out = c
        .set_campaign_status(&customer(), 111, CampaignStatus::Paused, false)
        .await
        .unwrap();
    assert_eq!(out.results, vec!["customers/1234567890/campaigns/111"]);
    assert!(out.partial_failures.is_empty());
    assert_eq!(out.request_id.as_deref(), Some("hdr-req"));
    assert_eq!(tokens.refreshes(), 1);

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(header(&seen[0], "authorization"), Some("Bearer tok-1"));
    assert_eq!(header(&seen[1], "authorization"), Some("Bearer tok-2"));
    assert_eq!(seen[1].path, "/v26/customers/1234567890/campaigns:mutate");
    assert_eq!(header(&seen[1], "developer-token"), Some("dev-tok"));
    assert_eq!(header(&seen[1], "login-customer-id"), None);
    assert_eq!(
        seen[1].body,
        json!({"operations":[{"updateMask":"status","update":{"resourceName":"customers/1234567890/campaigns/111","status":"PAUSED"}}],"partialFailure":false,"validateOnly":false,"responseContentType":"MUTABLE_RESOURCE"})
    );
}

/// The token endpoint fails the refresh a 401 asked for: the call is retried with backoff
/// (and a refresh again on the next 401), not returned at once.
#[tokio::test]
async fn a_refresh_the_token_endpoint_fails_is_retried() {
    let expired = ads_error(
        401,
        "UNAUTHENTICATED",
        "authenticationError",
        "OAUTH_TOKEN_EXPIRED",
        Value::Null,
    );
    let server = serve(
        vec![
            Reply::Json(401, expired.clone()),
            Reply::Json(401, expired),
            Reply::Json(200, ok_mutate("customers/1234567890/campaigns/111")),
        ],
        0,
    )
    .await;
    let tokens = Tokens::new();
    tokens.failing_refreshes.store(1, Ordering::SeqCst);
    let out = client(&server, tokens.clone())
        .set_campaign_status(&customer(), 111, CampaignStatus::Paused, false)
        .await
        .unwrap();
    assert_eq!(out.results, vec!["customers/1234567890/campaigns/111"]);
    assert_eq!(
        tokens.refreshes(),
        1,
        "one refresh failed, the next one worked"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(header(&seen[1], "authorization"), Some("Bearer tok-1"));
    assert_eq!(header(&seen[2], "authorization"), Some("Bearer tok-2"));
}

#[tokio::test]
async fn a_second_expired_answer_is_returned_not_refreshed_again() {
    let expired = ads_error(
        401,
        "UNAUTHENTICATED",
        "authenticationError",
        "OAUTH_TOKEN_EXPIRED",
        Value::Null,
    );
    let server = serve(
        vec![Reply::Json(401, expired.clone()), Reply::Json(401, expired)],
        0,
    )
    .await;
    let tokens = Tokens::new();
    let err = client(&server, tokens.clone())
        .list_accessible_customers()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdsError::Authentication { code, .. } if code == "OAUTH_TOKEN_EXPIRED"),
        "{err:?}"
    );
    assert_eq!(err.request_id(), Some("body-req"));
    assert_eq!(tokens.refreshes(), 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn permission_denied_is_not_retried() {
    let server = serve(
        vec![Reply::Json(
            403,
            ads_error(
                403,
                "PERMISSION_DENIED",
                "authorizationError",
                "USER_PERMISSION_DENIED",
                Value::Null,
            ),
        )],
        0,
    )
    .await;
    let tokens = Tokens::new();
    let err = client(&server, tokens.clone())
        .set_budget_amount(
            &customer(),
            "customers/1234567890/campaignBudgets/9",
            5_000_000,
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdsError::Authorization {
            code: "USER_PERMISSION_DENIED".into(),
            request_id: Some("body-req".into())
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(server.requests().len(), 1);
    assert_eq!(tokens.refreshes(), 0);
    assert_eq!(server.requests()[0].body["validateOnly"], json!(true));
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_daily_quota_is_not_retried() {
    let revoked_reply = || {
        Reply::Json(
            401,
            ads_error(
                401,
                "UNAUTHENTICATED",
                "authenticationError",
                "OAUTH_TOKEN_REVOKED",
                Value::Null,
            ),
        )
    };
    let server = serve(
        vec![
            revoked_reply(),
            Reply::Json(
                401,
                ads_error(
                    401,
                    "UNAUTHENTICATED",
                    "authenticationError",
                    "OAUTH_TOKEN_REVOKED",
                    Value::Null,
                ),
            ),
            Reply::Json(
                429,
                ads_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "quotaError",
                    "RESOURCE_EXHAUSTED",
                    Value::Null,
                ),
            ),
        ],
        0,
    )
    .await;
    let tokens = Tokens::new();
    let c = client(&server, tokens.clone());
    let revoked = c.list_accessible_customers().await.unwrap_err();
    assert!(
        matches!(&revoked, AdsError::Authentication { code, .. } if code == "OAUTH_TOKEN_REVOKED")
    );
    // One refresh to tell a revoked access token from an ended grant, then no more.
    assert_eq!(server.requests().len(), 2);
    assert_eq!(tokens.refreshes(), 1);

    let daily = c
        .search(&customer(), "SELECT campaign.id FROM campaign")
        .await
        .unwrap_err();
    assert!(
        matches!(daily, AdsError::Quota { daily: true, .. }),
        "{daily:?}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn html_5xx_and_transient_errors_are_retried() {
    let server = serve(
        vec![
            Reply::Html(
                503,
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
            ),
            Reply::Json(
                500,
                ads_error(
                    500,
                    "INTERNAL",
                    "internalError",
                    "TRANSIENT_ERROR",
                    Value::Null,
                ),
            ),
            Reply::Json(
                200,
                json!({"resourceNames": ["customers/1234567890", "customers/1112223333"]}),
            ),
        ],
        0,
    )
    .await;
    let ids = client(&server, Tokens::new())
        .list_accessible_customers()
        .await
        .unwrap();
    assert_eq!(ids, vec!["1234567890", "1112223333"]);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|s| s.method == "GET" && s.path == "/v26/customers:listAccessibleCustomers"));
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let page = "<html><head><title>502 Bad Gateway</title></head></html>";
    let server = serve(vec![Reply::Html(502, page); 6], 0).await;
    let mut cfg = config(&server);
    cfg.retry.max_attempts = 3;
    let err = GoogleAdsClient::new(cfg, Tokens::new())
        .unwrap()
        .list_accessible_customers()
        .await
        .unwrap_err();
    match &err {
        AdsError::Http {
            status,
            body_excerpt,
            ..
        } => {
            assert_eq!(*status, 502);
            assert!(body_excerpt.contains("502 Bad Gateway"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn closed_connection_is_retried() {
    let server = serve(
        vec![Reply::Json(
            200,
            json!({"resourceNames": ["customers/1234567890"]}),
        )],
        1,
    )
    .await;
    let ids = client(&server, Tokens::new())
        .list_accessible_customers()
        .await
        .unwrap();
    assert_eq!(ids, vec!["1234567890"]);
    assert_eq!(server.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn slow_answer_times_out_as_transport_error() {
    let slow = Reply::Slow(
        Duration::from_millis(1500),
        200,
        json!({"resourceNames": []}),
    );
    let server = serve(vec![slow.clone()], 0).await;
    let mut cfg = config(&server);
    cfg.request_timeout = Duration::from_millis(500);
    cfg.retry = RetryPolicy::none();
    let err = GoogleAdsClient::new(cfg.clone(), Tokens::new())
        .unwrap()
        .list_accessible_customers()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdsError::Transport {
                timed_out: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // With retries, a timeout followed by a quick answer succeeds.
    let server = serve(
        vec![
            slow,
            Reply::Json(200, json!({"resourceNames": ["customers/1234567890"]})),
        ],
        0,
    )
    .await;
    cfg.base_url = server.url.clone();
    cfg.retry = config(&server).retry;
    let ids = GoogleAdsClient::new(cfg, Tokens::new())
        .unwrap()
        .list_accessible_customers()
        .await
        .unwrap();
    assert_eq!(ids, vec!["1234567890"]);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn reconsent_needed_sends_nothing() {
    let server = serve(vec![], 0).await;
    let tokens = Arc::new(Tokens {
        current: Mutex::new(String::new()),
        refreshes: AtomicUsize::new(0),
        fail: Some(TokenError::ReconsentNeeded {
            reason: "invalid_grant".into(),
        }),
        failing_refreshes: AtomicUsize::new(0),
    });
    let err = client(&server, tokens)
        .list_accessible_customers()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AdsError::Token(TokenError::ReconsentNeeded { .. })
    ));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let server = serve(vec![], 0).await;
    let c = client(&server, Tokens::new());
    let bad = AdScheduleSlot {
        day: DayOfWeek::Monday,
        start_hour: 9,
        start_minute: 10,
        end_hour: 17,
        end_minute: 0,
        bid_modifier: None,
    };
    let err = c
        .replace_ad_schedule(&customer(), 111, &[], &[bad], false)
        .await
        .unwrap_err();
    assert!(matches!(err, AdsError::Invalid(_)));
    let err = c
        .set_budget_amount(
            &customer(),
            "customers/1234567890/campaignBudgets/9",
            0,
            false,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdsError::Invalid(_)));
    let from = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    assert!(matches!(
        c.metrics(&customer(), from, to).await,
        Err(AdsError::Invalid(_))
    ));
    assert!(server.requests().is_empty());
}

// ------------------------------------------------------------------ reads

#[tokio::test]
async fn search_follows_page_tokens() {
    let server = serve(
        vec![
            Reply::Json(
                200,
                search_page(json!([{"campaign": {"id": "1"}}]), Some("p2")),
            ),
            Reply::Json(200, search_page(json!([{"campaign": {"id": "2"}}]), None)),
        ],
        0,
    )
    .await;
    let rows = client(&server, Tokens::new())
        .search(&customer(), "SELECT campaign.id FROM campaign")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let seen = server.requests();
    assert_eq!(
        seen[0].body,
        json!({"query": "SELECT campaign.id FROM campaign"})
    );
    assert_eq!(
        seen[1].body,
        json!({"query": "SELECT campaign.id FROM campaign", "pageToken": "p2"})
    );
}

#[tokio::test]
async fn campaigns_merge_labels_and_schedules() {
    let campaigns = json!([
        {"campaign": {"resourceName": "customers/1234567890/campaigns/111", "id": "111", "name": "Brand",
            "status": "ENABLED", "campaignBudget": "customers/1234567890/campaignBudgets/9",
            "biddingStrategyType": "TARGET_CPA", "targetCpa": {"targetCpaMicros": "1500000"}},
         "campaignBudget": {"resourceName": "customers/1234567890/campaignBudgets/9", "amountMicros": "50000000"}},
        {"campaign": {"resourceName": "customers/1234567890/campaigns/222", "id": "222", "name": "Generic",
            "status": "PAUSED", "biddingStrategyType": "MANUAL_CPC"}}
    ]);
    let labels = json!([
        {"campaign": {"id": "111"}, "label": {"name": "leadorch"}},
        {"campaign": {"id": "111"}, "label": {"name": "brand"}}
    ]);
    let schedules = json!([
        {"campaign": {"id": "111"}, "campaignCriterion": {"resourceName": "customers/1234567890/campaignCriteria/111~77",
          "criterionId": "77", "adSchedule": {"dayOfWeek": "TUESDAY", "startHour": 9, "startMinute": "ZERO",
          "endHour": 17, "endMinute": "THIRTY"}, "bidModifier": 1.2}}
    ]);
    let server = serve(
        vec![
            Reply::Json(200, search_page(campaigns, None)),
            Reply::Json(200, search_page(labels, None)),
            Reply::Json(200, search_page(schedules, None)),
        ],
        0,
    )
    .await;
    let rows = client(&server, Tokens::new())
        .campaigns(&customer())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let brand = &rows[0];
    assert_eq!(brand.labels, vec!["brand", "leadorch"]);
    assert_eq!(
        brand.budget.as_ref().unwrap().amount_micros,
        Some(50_000_000)
    );
    assert_eq!(
        brand.bidding,
        BiddingStrategy::TargetCpa {
            target_cpa_micros: Some(1_500_000)
        }
    );
    assert_eq!(brand.ad_schedule.len(), 1);
    assert_eq!(
        brand.ad_schedule[0].resource_name,
        "customers/1234567890/campaignCriteria/111~77"
    );
    assert_eq!(brand.ad_schedule[0].slot.end_minute, 30);
    assert_eq!(rows[1].status, CampaignStatus::Paused);
    assert_eq!(rows[1].bidding, BiddingStrategy::ManualCpc);
    assert!(rows[1].labels.is_empty() && rows[1].budget.is_none());

    let queries: Vec<String> = server
        .requests()
        .iter()
        .map(|s| s.body["query"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        queries[0].contains("campaign_budget.amount_micros")
            && queries[0].contains("FROM campaign ")
    );
    assert!(queries[1].contains("label.name") && queries[1].ends_with("FROM campaign_label"));
    assert!(queries[2].contains("campaign_criterion.type = 'AD_SCHEDULE'"));
}

#[tokio::test]
async fn metrics_read_the_search_stream_array() {
    let stream = json!([
        {"results": [{"campaign": {"id": "111"}, "segments": {"date": "2026-03-01", "hour": 9},
            "metrics": {"impressions": "340", "clicks": "12", "costMicros": "3450000", "conversions": 1.5}}],
         "fieldMask": "campaign.id,segments.date", "requestId": "s1"},
        {"results": [{"campaign": {"id": "111"}, "segments": {"date": "2026-03-02"}, "metrics": {}}],
         "fieldMask": "campaign.id,segments.date", "requestId": "s1"}
    ]);
    let server = serve(vec![Reply::Json(200, stream)], 0).await;
    let from = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let rows = client(&server, Tokens::new())
        .metrics(&customer(), from, to)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].hour,
            rows[0].clicks,
            rows[0].cost_micros,
            rows[0].conversions
        ),
        (9, 12, 3_450_000, 1.5)
    );
    assert_eq!(
        (rows[1].date, rows[1].hour, rows[1].impressions),
        (to, 0, 0)
    );
    let seen = server.requests();
    assert_eq!(
        seen[0].path,
        "/v26/customers/1234567890/googleAds:searchStream"
    );
    assert!(seen[0].body["query"]
        .as_str()
        .unwrap()
        .contains("BETWEEN '2026-03-01' AND '2026-03-02'"));
}

// ------------------------------------------------------------------ partial failure and capture

#[tokio::test]
async fn partial_failures_are_reported_per_operation() {
    let answer = json!({
        "results": [{}, {"resourceName": "customers/1234567890/campaignCriteria/111~88"}],
        "partialFailureError": {"code": 3, "message": "Multiple errors in 'details'.", "details": [
            {"@type": FAILURE, "errors": [{"errorCode": {"mutateError": "RESOURCE_NOT_FOUND"},
              "message": "Resource was not found.",
              "location": {"fieldPathElements": [{"fieldName": "operations", "index": 0}]}}],
             "requestId": "pf-req"}]}
    });
    let server = serve(vec![Reply::Json(200, answer)], 0).await;
    let (sink, captured) = memory_sink();
    let c = client(&server, Tokens::new())
        .with_partial_failure(true)
        .with_capture(sink);
    let slot = AdScheduleSlot {
        day: DayOfWeek::Friday,
        start_hour: 8,
        start_minute: 15,
        end_hour: 12,
        end_minute: 45,
        bid_modifier: Some(0.8),
    };
    let out = c
        .replace_ad_schedule(
            &customer(),
            111,
            &["customers/1234567890/campaignCriteria/111~77".into()],
            &[slot],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        out.results,
        vec![
            "".to_owned(),
            "customers/1234567890/campaignCriteria/111~88".into()
        ]
    );
    assert_eq!(out.partial_failures.len(), 1);
    assert_eq!(out.partial_failures[0].operation_index, 0);
    assert_eq!(out.partial_failures[0].error.code, "RESOURCE_NOT_FOUND");
    assert_eq!(out.request_id.as_deref(), Some("hdr-req"));

    let seen = server.requests();
    assert_eq!(
        seen[0].path,
        "/v26/customers/1234567890/campaignCriteria:mutate"
    );
    assert_eq!(seen[0].body["partialFailure"], json!(true));
    assert_eq!(
        seen[0].body["operations"],
        json!([{"remove": "customers/1234567890/campaignCriteria/111~77"},
               {"create": {"campaign": "customers/1234567890/campaigns/111", "adSchedule": {"dayOfWeek": "FRIDAY",
                 "startHour": 8, "startMinute": "FIFTEEN", "endHour": 12, "endMinute": "FORTY_FIVE"}, "bidModifier": 0.8}}])
    );
    let captured = captured.lock().unwrap().clone();
    let kinds: Vec<(&str, &str)> = captured.iter().map(|c| (c.rpc, c.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            ("MutateCampaignCriteria", "request"),
            ("MutateCampaignCriteria", "response")
        ]
    );
    assert_eq!(captured[0].body, seen[0].body);
}

/// Every rpc's request, response and error bodies are captured; when the conformance
/// venv is configured (`LEADORCH_CONFORMANCE_PYTHON`, set by `tests/run`), the captures
/// are checked against Google's protos.
#[tokio::test]
async fn captures_cover_every_rpc_and_conform() {
    let server = serve(
        vec![
            Reply::Json(200, json!({"resourceNames": ["customers/1234567890"]})),
            Reply::Json(
                429,
                ads_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "quotaError",
                    "RESOURCE_TEMPORARILY_EXHAUSTED",
                    json!({"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "r", "retryDelay": "0.01s"}}),
                ),
            ),
            Reply::Json(200, search_page(json!([{"campaign": {"resourceName": "customers/1234567890/campaigns/1", "id": "1"}}]), None)),
            Reply::Json(200, json!([{"results": [], "fieldMask": "campaign.id", "requestId": "s"}])),
            Reply::Json(200, ok_mutate("customers/1234567890/campaigns/111")),
            Reply::Json(200, ok_mutate("customers/1234567890/campaigns/111")),
            Reply::Json(200, ok_mutate("customers/1234567890/campaignBudgets/9")),
            Reply::Json(200, json!({"results": [{}, {"resourceName": "customers/1234567890/campaignCriteria/111~88"}]})),
        ],
        0,
    )
    .await;
    let (sink, captured) = memory_sink();
    let c = client(&server, Tokens::new()).with_capture(sink);
    let cu = customer();
    c.list_accessible_customers().await.unwrap();
    c.search(&cu, "SELECT campaign.id FROM campaign")
        .await
        .unwrap();
    c.search_stream(&cu, "SELECT campaign.id FROM campaign")
        .await
        .unwrap();
    c.set_campaign_status(&cu, 111, CampaignStatus::Enabled, true)
        .await
        .unwrap();
    c.set_bidding_target(
        &cu,
        111,
        leadorch_google::BiddingTarget::TargetRoas { ratio: 4.0 },
        false,
    )
    .await
    .unwrap();
    c.set_budget_amount(
        &cu,
        "customers/1234567890/campaignBudgets/9",
        50_000_000,
        false,
    )
    .await
    .unwrap();
    let slot = AdScheduleSlot {
        day: DayOfWeek::Monday,
        start_hour: 0,
        start_minute: 0,
        end_hour: 24,
        end_minute: 0,
        bid_modifier: Some(1.0),
    };
    c.replace_ad_schedule(
        &cu,
        111,
        &["customers/1234567890/campaignCriteria/111~77".into()],
        &[slot],
        false,
    )
    .await
    .unwrap();

    let captured: Vec<Capture> = captured.lock().unwrap().clone();
    let kinds: Vec<(&str, &str)> = captured.iter().map(|c| (c.rpc, c.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            ("ListAccessibleCustomers", "request"),
            ("ListAccessibleCustomers", "response"),
            ("Search", "request"),
            ("Search", "error"),
            ("Search", "request"),
            ("Search", "response"),
            ("SearchStream", "request"),
            ("SearchStream", "response"),
            ("MutateCampaigns", "request"),
            ("MutateCampaigns", "response"),
            ("MutateCampaigns", "request"),
            ("MutateCampaigns", "response"),
            ("MutateCampaignBudgets", "request"),
            ("MutateCampaignBudgets", "response"),
            ("MutateCampaignCriteria", "request"),
            ("MutateCampaignCriteria", "response"),
        ]
    );
    assert_eq!(captured[0].body, json!({}));
    let lines: String = captured.iter().map(|c| c.to_json_line() + "\n").collect();
    assert!(
        !lines.contains("tok-1"),
        "the access token must never be captured"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("captures.jsonl");
    std::fs::write(&path, lines).unwrap();
    leadorch_fakes::conformance::check_captures(&path);
}
