//! The Google Ads fake over real HTTP: search and its pages, searchStream, every mutate method
//! with its strict checks, faults, headers, tokens and drift.

use chrono::NaiveDate;
use leadorch_fakes::{
    AdScheduleSlot, Bidding, CampaignStatus, DayOfWeek, FakeCampaign, FakeGoogleAds, FakeOAuth,
    Fault, HourMetrics, MinuteOfHour, Route, CURRENCIES, DEFAULT_CURRENCY,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const CID: &str = "1234567890";

/// An error family and code, when an error is expected.
type ExpectedCode = Option<(&'static str, &'static str)>;

struct Env {
    oauth: FakeOAuth,
    ads: FakeGoogleAds,
    token: String,
    http: Client,
}

async fn env() -> Env {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer(CID, None);
    let mut brand = FakeCampaign::new(111, "Brand");
    brand.bidding = Bidding::TargetCpa {
        target_cpa_micros: 1_500_000,
    };
    brand.labels = vec!["autopilot".into(), "brand".into()];
    brand.ad_schedule = vec![AdScheduleSlot::new(DayOfWeek::Monday, 9, 17)];
    let mut generic = FakeCampaign::new(222, "Generic");
    generic.status = CampaignStatus::Paused;
    let mut shopping = FakeCampaign::new(333, "Shopping");
    shopping.bidding = Bidding::TargetRoas { target_roas: 3.5 };
    shopping.labels = vec!["autopilot".into()];
    for c in [brand, generic, shopping] {
        ads.add_campaign(CID, c);
    }
    let token = oauth.issue_tokens().access_token;
    Env {
        oauth,
        ads,
        token,
        http: Client::new(),
    }
}

impl Env {
    fn url(&self, method: &str) -> String {
        format!("{}/v26/customers/{CID}/{method}", self.ads.base_url())
    }

    async fn post(&self, method: &str, body: Value) -> (StatusCode, Value) {
        self.post_with(method, body, &[]).await
    }

    async fn post_with(
        &self,
        method: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url(method))
            .bearer_auth(&self.token)
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        assert!(
            resp.headers().get("request-id").is_some(),
            "request-id header on every answer"
        );
        let status = resp.status();
        (status, resp.json().await.expect("JSON answer"))
    }

    async fn search(&self, query: &str) -> Vec<Value> {
        let (status, body) = self
            .post("googleAds:search", json!({ "query": query }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["results"].as_array().cloned().unwrap_or_default()
    }
}

/// The single GoogleAdsError of an error envelope.
fn error_code(body: &Value) -> (&str, &str) {
    let e = &body["error"]["details"][0]["errors"][0]["errorCode"];
    let (family, code) = e
        .as_object()
        .expect("errorCode")
        .iter()
        .next()
        .expect("one entry");
    (family.as_str(), code.as_str().unwrap())
}

fn status_op(resource: &str, status: &str) -> Value {
    json!({"updateMask": "status", "update": {"resourceName": resource, "status": status}})
}

fn schedule_create(campaign: i64, day: &str, start: i64, end: i64) -> Value {
    json!({"create": {
        "campaign": format!("customers/{CID}/campaigns/{campaign}"),
        "adSchedule": {"dayOfWeek": day, "startHour": start, "startMinute": "ZERO",
                       "endHour": end, "endMinute": "ZERO"},
        "bidModifier": 1.2,
    }})
}

#[tokio::test]
async fn list_accessible_customers_lists_direct_accounts() {
    let e = env().await;
    e.ads.add_customer("5555555555", Some("9999999999"));
    let resp = e
        .http
        .get(format!(
            "{}/v26/customers:listAccessibleCustomers",
            e.ads.base_url()
        ))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"resourceNames": [format!("customers/{CID}"), "customers/9999999999"]})
    );
}

#[tokio::test]
async fn search_returns_selected_fields_nested_with_int64_strings() {
    let e = env().await;
    let rows = e
        .search(
            "SELECT campaign.id, campaign.name, campaign.status, campaign.bidding_strategy_type, \
             campaign.target_cpa.target_cpa_micros, campaign.target_roas.target_roas, \
             campaign_budget.resource_name, campaign_budget.amount_micros FROM campaign \
             WHERE campaign.status IN ('ENABLED', 'PAUSED') ORDER BY campaign.id",
        )
        .await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        json!({
            "campaign": {"resourceName": format!("customers/{CID}/campaigns/111"), "id": "111",
                         "name": "Brand", "status": "ENABLED", "biddingStrategyType": "TARGET_CPA",
                         "targetCpa": {"targetCpaMicros": "1500000"}},
            "campaignBudget": {"resourceName": format!("customers/{CID}/campaignBudgets/1110"),
                               "amountMicros": "50000000"},
        })
    );
    assert_eq!(rows[2]["campaign"]["targetRoas"]["targetRoas"], 3.5);
    assert!(rows[1]["campaign"].get("targetCpa").is_none());

    let only_enabled = e
        .search("SELECT campaign.name FROM campaign WHERE campaign.status = ENABLED")
        .await;
    assert_eq!(only_enabled.len(), 2);
    assert_eq!(
        only_enabled[0],
        json!({"campaign": {"resourceName": format!("customers/{CID}/campaigns/111"), "name": "Brand"}})
    );
}

#[tokio::test]
async fn search_pages_with_next_page_token() {
    let e = env().await;
    e.ads.set_page_size(2);
    let q = "SELECT campaign.id FROM campaign";
    let (_, first) = e.post("googleAds:search", json!({"query": q})).await;
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert_eq!(first["fieldMask"], "campaign.id");
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = e
        .post("googleAds:search", json!({"query": q, "pageToken": token}))
        .await;
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["results"][0]["campaign"]["id"], "333");
    assert!(second.get("nextPageToken").is_none());

    let (status, body) = e
        .post(
            "googleAds:search",
            json!({"query": "SELECT campaign.name FROM campaign", "pageToken": token}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), ("requestError", "INVALID_PAGE_TOKEN"));

    let (status, body) = e
        .post("googleAds:search", json!({"query": q, "pageSize": 2}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        error_code(&body),
        ("requestError", "PAGE_SIZE_NOT_SUPPORTED")
    );
    let detail = &body["error"]["details"][0];
    assert_eq!(
        detail["@type"],
        "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
    );
    assert!(detail["requestId"].is_string());
}

#[tokio::test]
async fn bad_queries_answer_query_errors() {
    let e = env().await;
    for (query, code) in [
        ("SELECT campaign.colour FROM campaign", "UNRECOGNIZED_FIELD"),
        (
            "SELECT campaign.id FROM spaceship",
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
        ),
        (
            "SELECT metrics.clicks FROM campaign_label",
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id, segments.date FROM campaign",
            "EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.status = 'RUNNING'",
            "BAD_ENUM_CONSTANT",
        ),
        ("campaign.id FROM campaign", "EXPECTED_SELECT"),
    ] {
        let (status, body) = e.post("googleAds:search", json!({"query": query})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error_code(&body), ("queryError", code), "{query}");
    }
}

#[tokio::test]
async fn search_stream_answers_an_array_of_chunks() {
    let e = env().await;
    e.ads.set_page_size(2);
    let (status, body) = e
        .post(
            "googleAds:searchStream",
            json!({"query": "SELECT campaign.id, campaign.name FROM campaign"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let chunks = body.as_array().expect("a JSON array");
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0]["results"].as_array().unwrap().len(), 2);
    assert_eq!(chunks[0]["fieldMask"], "campaign.id,campaign.name");
    assert!(chunks[1]["requestId"].is_string());

    let (_, empty) = e
        .post(
            "googleAds:searchStream",
            json!({"query": "SELECT campaign.id FROM campaign WHERE campaign.id = 4"}),
        )
        .await;
    assert_eq!(empty.as_array().unwrap().len(), 1);
    assert!(empty[0].get("results").is_none());
}

#[tokio::test]
async fn metrics_accrue_for_enabled_campaigns_only() {
    let e = env().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    e.ads.accrue_hour(CID, day, 9);
    e.ads.accrue_hour(CID, day, 10);
    e.ads.set_metrics(
        CID,
        111,
        day.pred_opt().unwrap(),
        23,
        HourMetrics {
            impressions: 340,
            clicks: 12,
            cost_micros: 3_450_000,
            conversions: 1.5,
        },
    );
    let q =
        "SELECT campaign.id, segments.date, segments.hour, metrics.impressions, metrics.clicks, \
             metrics.cost_micros, metrics.conversions FROM campaign \
             WHERE segments.date BETWEEN '2026-11-19' AND '2026-11-20'";
    let rows = e.search(q).await;
    assert_eq!(
        rows.len(),
        5,
        "campaigns 111 and 333 for two hours, plus the set hour: {rows:?}"
    );
    assert!(
        rows.iter().all(|r| r["campaign"]["id"] != "222"),
        "paused campaigns do not serve"
    );
    let set = &rows[0];
    assert_eq!(set["segments"], json!({"date": "2026-11-19", "hour": 23}));
    assert_eq!(
        set["metrics"],
        json!({"impressions": "340", "clicks": "12", "costMicros": "3450000", "conversions": 1.5})
    );
    assert!(
        rows[1]["metrics"]["impressions"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    // Deterministic: the same hour on a fresh fake gives the same numbers.
    let again = env().await;
    again.ads.accrue_hour(CID, day, 9);
    let other = again.search(q).await;
    assert_eq!(other[0]["metrics"], rows[1]["metrics"]);

    let daily = e
        .search(
            "SELECT campaign.id, metrics.clicks FROM campaign WHERE segments.date = '2026-11-20' \
             AND campaign.id = 111",
        )
        .await;
    assert_eq!(daily.len(), 1);
    let hourly: i64 = rows[1..3]
        .iter()
        .filter(|r| r["campaign"]["id"] == "111")
        .map(|r| {
            r["metrics"]["clicks"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(daily[0]["metrics"]["clicks"], hourly.to_string());
}

#[tokio::test]
async fn labels_and_ad_schedules_are_queryable() {
    let e = env().await;
    let labels = e
        .search("SELECT campaign.id, label.name FROM campaign_label")
        .await;
    let pairs: Vec<(String, String)> = labels
        .iter()
        .map(|r| {
            (
                r["campaign"]["id"].as_str().unwrap().into(),
                r["label"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("111".into(), "autopilot".into()),
            ("111".into(), "brand".into()),
            ("333".into(), "autopilot".into())
        ]
    );
    assert!(labels[0]["campaignLabel"]["resourceName"]
        .as_str()
        .unwrap()
        .starts_with(&format!("customers/{CID}/campaignLabels/111~")));
    assert!(labels[0]["label"]["resourceName"].is_string());

    let rows = e
        .search(
            "SELECT campaign.id, campaign_criterion.resource_name, campaign_criterion.criterion_id, \
             campaign_criterion.ad_schedule.day_of_week, campaign_criterion.ad_schedule.start_hour, \
             campaign_criterion.ad_schedule.start_minute, campaign_criterion.ad_schedule.end_hour, \
             campaign_criterion.ad_schedule.end_minute, campaign_criterion.bid_modifier \
             FROM campaign_criterion WHERE campaign_criterion.type = 'AD_SCHEDULE'",
        )
        .await;
    assert_eq!(rows.len(), 1);
    let c = &rows[0]["campaignCriterion"];
    let id = c["criterionId"].as_str().unwrap();
    assert_eq!(
        c["resourceName"],
        format!("customers/{CID}/campaignCriteria/111~{id}")
    );
    assert_eq!(
        c["adSchedule"],
        json!({"dayOfWeek": "MONDAY", "startHour": 9, "startMinute": "ZERO", "endHour": 17, "endMinute": "ZERO"})
    );
    assert!(c.get("bidModifier").is_none());
}

#[tokio::test]
async fn mutates_change_state_and_answer_mutable_resources() {
    let e = env().await;
    let (status, body) = e
        .post(
            "campaigns:mutate",
            json!({"operations": [status_op(&format!("customers/{CID}/campaigns/111"), "PAUSED")],
                   "partialFailure": false, "validateOnly": false,
                   "responseContentType": "MUTABLE_RESOURCE"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0]["resourceName"],
        format!("customers/{CID}/campaigns/111")
    );
    assert_eq!(body["results"][0]["campaign"]["status"], "PAUSED");
    assert_eq!(body["results"][0]["campaign"]["id"], "111");
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().status,
        CampaignStatus::Paused
    );

    let (status, body) = e
        .post(
            "campaigns:mutate",
            json!({"operations": [{"updateMask": "targetCpa.targetCpaMicros", "update": {
                "resourceName": format!("customers/{CID}/campaigns/222"),
                "targetCpa": {"targetCpaMicros": "2500000"}}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"results": [{"resourceName": format!("customers/{CID}/campaigns/222")}]})
    );
    assert_eq!(
        e.ads.campaign(CID, 222).unwrap().bidding,
        Bidding::TargetCpa {
            target_cpa_micros: 2_500_000
        }
    );

    let (status, body) = e
        .post(
            "campaigns:mutate",
            json!({"operations": [{"updateMask": "targetRoas.targetRoas", "update": {
                "resourceName": format!("customers/{CID}/campaigns/333"), "targetRoas": {"targetRoas": 4.25}}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        e.ads.campaign(CID, 333).unwrap().bidding,
        Bidding::TargetRoas { target_roas: 4.25 }
    );

    let (status, body) = e
        .post(
            "campaignBudgets:mutate",
            json!({"operations": [{"updateMask": "amountMicros", "update": {
                "resourceName": format!("customers/{CID}/campaignBudgets/1110"), "amountMicros": "75000000"}}],
                "responseContentType": "MUTABLE_RESOURCE"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0]["campaignBudget"]["amountMicros"],
        "75000000"
    );
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().budget_amount_micros,
        75_000_000
    );

    // Moving Monday 9–17 to 10–18: remove + create in one request.
    let old = e.ads.campaign(CID, 111).unwrap().ad_schedule[0].criterion_id;
    let (status, body) = e
        .post(
            "campaignCriteria:mutate",
            json!({"operations": [
                {"remove": format!("customers/{CID}/campaignCriteria/111~{old}")},
                schedule_create(111, "MONDAY", 10, 18),
            ], "responseContentType": "MUTABLE_RESOURCE"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0]["resourceName"],
        format!("customers/{CID}/campaignCriteria/111~{old}")
    );
    assert_eq!(
        body["results"][1]["campaignCriterion"]["adSchedule"]["startHour"],
        10
    );
    let schedule = e.ads.campaign(CID, 111).unwrap().ad_schedule;
    assert_eq!(schedule.len(), 1);
    assert_eq!(
        (
            schedule[0].start_hour,
            schedule[0].end_hour,
            schedule[0].bid_modifier
        ),
        (10, 18, Some(1.2))
    );

    let new = schedule[0].criterion_id;
    let (status, body) = e
        .post(
            "campaignCriteria:mutate",
            json!({"operations": [{"updateMask": "bidModifier", "update": {
                "resourceName": format!("customers/{CID}/campaignCriteria/111~{new}"), "bidModifier": 0.5}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().ad_schedule[0].bid_modifier,
        Some(0.5)
    );

    assert_eq!(e.ads.mutation_count(), 7);
    let applied = e.ads.mutations(CID);
    assert_eq!(applied[0].operation, "update");
    assert_eq!(applied[0].update_mask.as_deref(), Some("status"));
    assert_eq!(applied[4].operation, "remove");
    assert_eq!(applied[5].operation, "create");
}

#[tokio::test]
async fn validate_only_changes_nothing() {
    let e = env().await;
    let (status, body) = e
        .post(
            "campaigns:mutate",
            json!({"operations": [status_op(&format!("customers/{CID}/campaigns/111"), "PAUSED")],
                   "validateOnly": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({}));
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().status,
        CampaignStatus::Enabled
    );
    assert_eq!(e.ads.mutation_count(), 0);

    // Still validated.
    let (status, body) = e
        .post(
            "campaigns:mutate",
            json!({"operations": [status_op(&format!("customers/{CID}/campaigns/111"), "STOPPED")],
                   "validateOnly": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), ("requestError", "INVALID_ENUM_VALUE"));
}

#[tokio::test]
async fn partial_failure_applies_valid_operations_and_names_the_bad_one() {
    let e = env().await;
    let ops = json!([
        status_op(&format!("customers/{CID}/campaigns/111"), "PAUSED"),
        status_op(&format!("customers/{CID}/campaigns/999"), "PAUSED"),
        status_op(&format!("customers/{CID}/campaigns/333"), "PAUSED"),
    ]);
    let (status, body) = e
        .post(
            "campaigns:mutate",
            json!({"operations": ops, "partialFailure": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][1], json!({}));
    assert_eq!(
        body["results"][2]["resourceName"],
        format!("customers/{CID}/campaigns/333")
    );
    let failure = &body["partialFailureError"];
    assert_eq!(failure["code"], 3);
    let err = &failure["details"][0]["errors"][0];
    assert_eq!(
        err["errorCode"],
        json!({"mutateError": "RESOURCE_NOT_FOUND"})
    );
    assert_eq!(
        err["location"]["fieldPathElements"][0],
        json!({"fieldName": "operations", "index": 1})
    );
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().status,
        CampaignStatus::Paused
    );
    assert_eq!(
        e.ads.campaign(CID, 333).unwrap().status,
        CampaignStatus::Paused
    );
    assert_eq!(e.ads.mutation_count(), 2);

    // Without partialFailure the whole request fails and nothing changes.
    let ops = json!([
        status_op(&format!("customers/{CID}/campaigns/222"), "ENABLED"),
        status_op(&format!("customers/{CID}/campaigns/999"), "ENABLED"),
    ]);
    let (status, body) = e.post("campaigns:mutate", json!({"operations": ops})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["details"][0]["errors"][0]["location"]["fieldPathElements"][0]["index"],
        1
    );
    assert_eq!(
        e.ads.campaign(CID, 222).unwrap().status,
        CampaignStatus::Paused
    );
    assert_eq!(e.ads.mutation_count(), 2);
}

#[tokio::test]
async fn strict_validation_rejects_what_google_would_not_take() {
    let e = env().await;
    let rn = format!("customers/{CID}/campaigns/111");
    let budget = format!("customers/{CID}/campaignBudgets/1110");
    let cases: Vec<(&str, &str, Value, (&str, &str))> = vec![
        (
            "snake_case key",
            "campaigns:mutate",
            json!({"operations": [{"update_mask": "status", "update": {"resourceName": rn, "status": "PAUSED"}}]}),
            ("fieldError", "INVALID_VALUE"),
        ),
        (
            "snake_case nested",
            "campaigns:mutate",
            json!({"operations": [{"updateMask": "status", "update": {"resource_name": rn, "status": "PAUSED"}}]}),
            ("fieldError", "INVALID_VALUE"),
        ),
        (
            "customerId in body",
            "campaigns:mutate",
            json!({"customerId": CID, "operations": [status_op(&rn, "PAUSED")]}),
            ("requestError", "INVALID_CUSTOMER_ID"),
        ),
        (
            "pageSize in a mutate",
            "campaigns:mutate",
            json!({"pageSize": 10, "operations": [status_op(&rn, "PAUSED")]}),
            ("fieldError", "INVALID_VALUE"),
        ),
        (
            "bad enum",
            "campaigns:mutate",
            json!({"operations": [status_op(&rn, "PAUSE")]}),
            ("requestError", "INVALID_ENUM_VALUE"),
        ),
        (
            "int64 as number",
            "campaignBudgets:mutate",
            json!({"operations": [{"updateMask": "amountMicros", "update": {"resourceName": budget, "amountMicros": 50000000}}]}),
            ("fieldError", "INVALID_VALUE"),
        ),
        (
            "mask path not on the resource",
            "campaigns:mutate",
            json!({"operations": [{"updateMask": "dailyBudget", "update": {"resourceName": rn}}]}),
            ("fieldMaskError", "FIELD_NOT_FOUND"),
        ),
        (
            "mask path not set in update",
            "campaigns:mutate",
            json!({"operations": [{"updateMask": "status,name", "update": {"resourceName": rn, "status": "PAUSED"}}]}),
            ("fieldError", "REQUIRED"),
        ),
        (
            "missing mask",
            "campaigns:mutate",
            json!({"operations": [{"update": {"resourceName": rn, "status": "PAUSED"}}]}),
            ("fieldMaskError", "FIELD_MASK_MISSING"),
        ),
        (
            "other customer's resource",
            "campaigns:mutate",
            json!({"operations": [status_op("customers/42/campaigns/111", "PAUSED")]}),
            ("requestError", "INVALID_CUSTOMER_ID"),
        ),
        (
            "bad minute",
            "campaignCriteria:mutate",
            json!({"operations": [{"create": {"campaign": rn, "adSchedule": {"dayOfWeek": "MONDAY", "startHour": 9,
             "startMinute": "TEN", "endHour": 10, "endMinute": "ZERO"}}}]}),
            ("requestError", "INVALID_ENUM_VALUE"),
        ),
        (
            "start after end",
            "campaignCriteria:mutate",
            json!({"operations": [schedule_create(111, "TUESDAY", 18, 9)]}),
            ("criterionError", "AD_SCHEDULE_INVALID_TIME_INTERVAL"),
        ),
        (
            "bid modifier too high",
            "campaignCriteria:mutate",
            json!({"operations": [{"create": {"campaign": rn, "bidModifier": 11.0, "adSchedule": {"dayOfWeek": "MONDAY",
             "startHour": 20, "startMinute": "ZERO", "endHour": 21, "endMinute": "ZERO"}}}]}),
            ("rangeError", "TOO_HIGH"),
        ),
        (
            "day immutable",
            "campaignCriteria:mutate",
            json!({"operations": [{"updateMask": "adSchedule.dayOfWeek", "update": {
             "resourceName": format!("customers/{CID}/campaignCriteria/111~1"), "adSchedule": {"dayOfWeek": "FRIDAY"}}}]}),
            ("fieldError", "IMMUTABLE_FIELD"),
        ),
    ];
    for (name, method, body, expected) in cases {
        let (status, answer) = e.post(method, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        assert_eq!(error_code(&answer), expected, "{name}: {answer}");
    }
    let (status, body) = e
        .post(
            "googleAds:search",
            json!({"customerId": CID, "query": "SELECT campaign.id FROM campaign"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), ("requestError", "INVALID_CUSTOMER_ID"));
    assert_eq!(e.ads.mutation_count(), 0);
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().status,
        CampaignStatus::Enabled
    );
}

#[tokio::test]
async fn a_seventh_slot_in_a_day_is_refused_but_remove_and_create_fits() {
    let e = env().await;
    // Monday already has 9–17; add five more (0–1, 2–3, …) for six.
    let ops: Vec<Value> = (0..5)
        .map(|i| schedule_create(111, "MONDAY", i * 2, i * 2 + 1))
        .collect();
    let (status, body) = e
        .post("campaignCriteria:mutate", json!({"operations": ops}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(e.ads.campaign(CID, 111).unwrap().ad_schedule.len(), 6);

    let (status, body) = e
        .post(
            "campaignCriteria:mutate",
            json!({"operations": [schedule_create(111, "MONDAY", 20, 21)]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&body),
        (
            "criterionError",
            "AD_SCHEDULE_EXCEEDED_INTERVALS_PER_DAY_LIMIT"
        )
    );

    // Overlapping intervals are refused too.
    let (status, body) = e
        .post("campaignCriteria:mutate", json!({"operations": [schedule_create(111, "TUESDAY", 9, 12), schedule_create(111, "TUESDAY", 11, 13)]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&body),
        ("criterionError", "AD_SCHEDULE_TIME_INTERVALS_OVERLAP")
    );

    // Remove one and create one in the same request: six after the mutation, accepted.
    let first = e.ads.campaign(CID, 111).unwrap().ad_schedule[0].criterion_id;
    let (status, body) = e
        .post(
            "campaignCriteria:mutate",
            json!({"operations": [schedule_create(111, "MONDAY", 20, 21),
                                  {"remove": format!("customers/{CID}/campaignCriteria/111~{first}")}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let monday = e.ads.campaign(CID, 111).unwrap().ad_schedule;
    assert_eq!(monday.len(), 6);
    assert!(monday
        .iter()
        .any(|s| s.start_hour == 20 && s.end_minute == MinuteOfHour::Zero));
    assert!(monday.iter().all(|s| s.criterion_id != first));
}

#[tokio::test]
async fn each_fault_plays_once_then_normal_behaviour_resumes() {
    let e = env().await;
    let q = json!({"query": "SELECT campaign.id FROM campaign"});
    let expectations: Vec<(Fault, StatusCode, ExpectedCode)> = vec![
        (
            Fault::RateLimited {
                retry_delay_secs: 30,
            },
            StatusCode::TOO_MANY_REQUESTS,
            Some(("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED")),
        ),
        (
            Fault::DailyQuotaExhausted,
            StatusCode::TOO_MANY_REQUESTS,
            Some(("quotaError", "RESOURCE_EXHAUSTED")),
        ),
        (
            Fault::Internal,
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(("internalError", "INTERNAL_ERROR")),
        ),
        (
            Fault::Transient,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(("internalError", "TRANSIENT_ERROR")),
        ),
        (
            Fault::TokenExpired,
            StatusCode::UNAUTHORIZED,
            Some(("authenticationError", "OAUTH_TOKEN_EXPIRED")),
        ),
        (
            Fault::PermissionDenied,
            StatusCode::FORBIDDEN,
            Some(("authorizationError", "USER_PERMISSION_DENIED")),
        ),
        (
            Fault::CustomerNotEnabled,
            StatusCode::FORBIDDEN,
            Some(("authorizationError", "CUSTOMER_NOT_ENABLED")),
        ),
        (Fault::Slow { millis: 30 }, StatusCode::OK, None),
    ];
    for (fault, status, code) in expectations {
        e.ads.push_fault(Route::Search, fault.clone());
        let (got, body) = e.post("googleAds:search", q.clone()).await;
        assert_eq!(got, status, "{fault:?}: {body}");
        if let Some(code) = code {
            assert_eq!(error_code(&body), code, "{fault:?}");
        }
        if let Fault::RateLimited { .. } = fault {
            let details = &body["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"];
            assert_eq!(details["retryDelay"], "30s");
            assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        }
        let (after, _) = e.post("googleAds:search", q.clone()).await;
        assert_eq!(after, StatusCode::OK, "after {fault:?}");
    }

    e.ads.push_fault(Route::Any, Fault::HtmlBadGateway);
    let resp = e
        .http
        .post(e.url("googleAds:search"))
        .bearer_auth(&e.token)
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    e.ads
        .push_fault(Route::MutateCampaigns, Fault::DropConnection);
    // Faults for another route wait for it.
    assert_eq!(
        e.post("googleAds:search", q.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(e.ads.pending_faults(), 1);
    let dropped = e
        .http
        .post(e.url("campaigns:mutate"))
        .bearer_auth(&e.token)
        .json(&json!({"operations": [status_op(&format!("customers/{CID}/campaigns/111"), "PAUSED")]}))
        .send()
        .await;
    assert!(dropped.is_err(), "no HTTP answer");
    assert_eq!(e.ads.mutation_count(), 0);
    assert_eq!(e.ads.pending_faults(), 0);
    assert_eq!(e.post("googleAds:search", q).await.0, StatusCode::OK);
}

#[tokio::test]
async fn login_customer_id_is_required_through_a_manager() {
    let e = env().await;
    e.ads.add_customer("7777777777", Some("9999999999"));
    e.ads
        .add_campaign("7777777777", FakeCampaign::new(1, "Client"));
    let url = format!(
        "{}/v26/customers/7777777777/googleAds:search",
        e.ads.base_url()
    );
    let q = json!({"query": "SELECT campaign.id FROM campaign"});
    for login in [None, Some("1234567890"), Some("999-999-9999")] {
        let mut req = e.http.post(&url).bearer_auth(&e.token).json(&q);
        if let Some(l) = login {
            req = req.header("login-customer-id", l);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{login:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            error_code(&body),
            ("authorizationError", "USER_PERMISSION_DENIED")
        );
    }
    let resp = e
        .http
        .post(&url)
        .bearer_auth(&e.token)
        .header("login-customer-id", "9999999999")
        .header("developer-token", "ignored")
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let recorded = e.ads.requests().pop().unwrap();
    assert_eq!(recorded.header("login-customer-id"), Some("9999999999"));
    assert_eq!(recorded.header("authorization"), Some("[redacted]"));

    e.ads.set_customer_enabled(CID, false);
    let (status, body) = e.post("googleAds:search", q).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error_code(&body),
        ("authorizationError", "CUSTOMER_NOT_ENABLED")
    );
}

#[tokio::test]
async fn expired_revoked_and_unknown_tokens_are_refused() {
    let mut e = env().await;
    let q = json!({"query": "SELECT campaign.id FROM campaign"});
    e.oauth.expire_access_tokens();
    let (status, body) = e.post("googleAds:search", q.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(
        error_code(&body),
        ("authenticationError", "OAUTH_TOKEN_EXPIRED")
    );

    let fresh = e.oauth.issue_tokens();
    e.token = fresh.access_token.clone();
    assert_eq!(
        e.post("googleAds:search", q.clone()).await.0,
        StatusCode::OK
    );
    e.oauth.revoke(&fresh.refresh_token);
    let (status, body) = e.post("googleAds:search", q.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_code(&body),
        ("authenticationError", "OAUTH_TOKEN_REVOKED")
    );

    e.token = "ya29.made-up".into();
    let (status, body) = e.post("googleAds:search", q.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_code(&body),
        ("authenticationError", "OAUTH_TOKEN_INVALID")
    );

    // Without an OAuth fake, only accepted tokens pass.
    let ads = FakeGoogleAds::start(None).await;
    ads.add_customer(CID, None);
    ads.accept_token("let-me-in");
    let url = format!("{}/v26/customers/{CID}/googleAds:search", ads.base_url());
    for (token, status) in [
        ("let-me-in", StatusCode::OK),
        ("other", StatusCode::UNAUTHORIZED),
    ] {
        let resp = e
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{token}");
    }
    let resp = e.http.post(&url).json(&q).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn changes_made_in_the_ui_show_in_search() {
    let e = env().await;
    let after = e.ads.change_in_ui(CID, 111, |c| {
        c.status = CampaignStatus::Paused;
        c.budget_amount_micros = 20_000_000;
        c.ad_schedule
            .push(AdScheduleSlot::new(DayOfWeek::Sunday, 10, 12));
    });
    assert_ne!(after.ad_schedule[1].criterion_id, 0);
    let rows = e
        .search("SELECT campaign.status, campaign_budget.amount_micros FROM campaign WHERE campaign.id = 111")
        .await;
    assert_eq!(rows[0]["campaign"]["status"], "PAUSED");
    assert_eq!(rows[0]["campaignBudget"]["amountMicros"], "20000000");
    let slots = e
        .search("SELECT campaign_criterion.ad_schedule.day_of_week FROM campaign_criterion WHERE campaign.id = 111")
        .await;
    assert_eq!(slots.len(), 2);
    assert_eq!(
        e.ads.mutation_count(),
        0,
        "UI changes are not API mutations"
    );
}

#[tokio::test]
async fn captures_record_every_body_in_and_out() {
    let e = env().await;
    e.search("SELECT campaign.id FROM campaign").await;
    e.post(
        "campaigns:mutate",
        json!({"operations": [status_op("bad", "PAUSED")]}),
    )
    .await;
    let captures = e.ads.captures();
    let kinds: Vec<(&str, &str)> = captures
        .iter()
        .map(|c| (c["rpc"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Search", "request"),
            ("Search", "response"),
            ("MutateCampaigns", "request"),
            ("MutateCampaigns", "error")
        ]
    );
    let path = std::env::temp_dir().join(format!(
        "leadorch-fakes-captures-{}.jsonl",
        std::process::id()
    ));
    e.ads.write_captures_jsonl(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    std::fs::remove_file(&path).unwrap();
}

/// Every kind of answer the fake gives, checked by `tests/conformance/google_ads.py` against
/// Google's protos when `LEADORCH_CONFORMANCE_PYTHON` names a Python with `google-ads`
/// installed (otherwise the captures are only written).
#[tokio::test]
async fn fake_answers_conform_to_google_schema() {
    let e = env().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    e.ads.accrue_hour(CID, day, 9);
    e.ads.set_page_size(2);
    let resp = e
        .http
        .get(format!(
            "{}/v26/customers:listAccessibleCustomers",
            e.ads.base_url()
        ))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let queries = [
        "SELECT campaign.id, campaign.name, campaign.status, campaign.bidding_strategy_type, \
         campaign.target_cpa.target_cpa_micros, campaign.target_roas.target_roas, \
         campaign_budget.resource_name, campaign_budget.amount_micros FROM campaign",
        "SELECT campaign.id, label.name FROM campaign_label",
        "SELECT campaign.id, campaign_criterion.resource_name, campaign_criterion.criterion_id, \
         campaign_criterion.ad_schedule.day_of_week, campaign_criterion.ad_schedule.start_hour, \
         campaign_criterion.ad_schedule.start_minute, campaign_criterion.ad_schedule.end_hour, \
         campaign_criterion.ad_schedule.end_minute, campaign_criterion.bid_modifier \
         FROM campaign_criterion WHERE campaign_criterion.type = 'AD_SCHEDULE'",
        "SELECT campaign.id, segments.date, segments.hour, metrics.impressions, metrics.clicks, \
         metrics.cost_micros, metrics.conversions FROM campaign \
         WHERE segments.date BETWEEN '2026-11-20' AND '2026-11-20'",
        "SELECT campaign.id FROM campaign WHERE campaign.id = 5",
        "SELECT customer.resource_name, customer.id, customer.currency_code FROM customer",
        "SELECT currency_constant.resource_name, currency_constant.code, currency_constant.name, \
         currency_constant.symbol, currency_constant.billable_unit_micros FROM currency_constant \
         WHERE currency_constant.code IN ('EUR', 'JPY')",
    ];
    for q in queries {
        let (status, body) = e.post("googleAds:search", json!({"query": q})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(token) = body["nextPageToken"].as_str() {
            e.post("googleAds:search", json!({"query": q, "pageToken": token}))
                .await;
        }
        e.post("googleAds:searchStream", json!({"query": q})).await;
    }
    e.post(
        "googleAds:search",
        json!({"query": "SELECT campaign.nope FROM campaign"}),
    )
    .await;
    let rn = format!("customers/{CID}/campaigns/111");
    for content in ["MUTABLE_RESOURCE", "RESOURCE_NAME_ONLY"] {
        e.post(
            "campaigns:mutate",
            json!({"operations": [status_op(&rn, "PAUSED")], "responseContentType": content}),
        )
        .await;
    }
    e.post(
        "campaigns:mutate",
        json!({"operations": [status_op(&rn, "ENABLED")], "validateOnly": true}),
    )
    .await;
    e.post(
        "campaigns:mutate",
        json!({"operations": [status_op(&rn, "ENABLED"), status_op(&format!("customers/{CID}/campaigns/9"), "ENABLED")],
               "partialFailure": true, "responseContentType": "MUTABLE_RESOURCE"}),
    )
    .await;
    e.post(
        "campaigns:mutate",
        json!({"operations": [{"updateMask": "targetCpa.targetCpaMicros", "update": {"resourceName": rn,
               "targetCpa": {"targetCpaMicros": "1500000"}}}], "responseContentType": "MUTABLE_RESOURCE"}),
    )
    .await;
    e.post(
        "campaignBudgets:mutate",
        json!({"operations": [{"updateMask": "amountMicros", "update": {
            "resourceName": format!("customers/{CID}/campaignBudgets/1110"), "amountMicros": "50000000"}}],
            "responseContentType": "MUTABLE_RESOURCE"}),
    )
    .await;
    // What Google refuses in a currency: a budget off the unit, a target with too many digits.
    e.post(
        "campaignBudgets:mutate",
        json!({"operations": [{"updateMask": "amountMicros", "update": {
            "resourceName": format!("customers/{CID}/campaignBudgets/1110"), "amountMicros": "33333333"}}]}),
    )
    .await;
    e.post(
        "campaigns:mutate",
        json!({"operations": [{"updateMask": "targetCpa.targetCpaMicros", "update": {"resourceName": rn,
               "targetCpa": {"targetCpaMicros": "1234567"}}}]}),
    )
    .await;
    e.post("campaignCriteria:mutate", json!({"operations": [schedule_create(111, "FRIDAY", 9, 17)], "responseContentType": "MUTABLE_RESOURCE"})).await;
    e.post(
        "campaignCriteria:mutate",
        json!({"operations": [schedule_create(111, "FRIDAY", 10, 11)]}),
    )
    .await;
    for fault in [
        Fault::RateLimited {
            retry_delay_secs: 7,
        },
        Fault::DailyQuotaExhausted,
        Fault::Internal,
        Fault::Transient,
        Fault::TokenExpired,
        Fault::PermissionDenied,
        Fault::CustomerNotEnabled,
    ] {
        e.ads.push_fault(Route::Any, fault);
        e.post("googleAds:searchStream", json!({"query": queries[1]}))
            .await;
    }

    let path = std::env::temp_dir().join(format!(
        "leadorch-fakes-conformance-{}.jsonl",
        std::process::id()
    ));
    e.ads.write_captures_jsonl(&path).unwrap();
    leadorch_fakes::conformance::check_captures(&path);
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn customers_and_currency_constants_are_queryable() {
    let e = env().await;
    let rows = e
        .search("SELECT customer.currency_code FROM customer")
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"customer": {"resourceName": format!("customers/{CID}"), "currencyCode": "EUR"}})
        ],
        "a customer added without a currency is in {DEFAULT_CURRENCY}"
    );
    e.ads.set_currency(CID, "JPY");
    let rows = e
        .search("SELECT customer.id, customer.currency_code FROM customer")
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"customer": {"resourceName": format!("customers/{CID}"), "id": CID, "currencyCode": "JPY"}})
        ]
    );
    let rows = e
        .search(
            "SELECT currency_constant.code, currency_constant.billable_unit_micros \
             FROM currency_constant WHERE currency_constant.code = 'JPY'",
        )
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"currencyConstant": {"resourceName": "currencyConstants/JPY", "code": "JPY",
                    "billableUnitMicros": "1000000"}})
        ]
    );
    let all = e
        .search(
            "SELECT currency_constant.code FROM currency_constant ORDER BY currency_constant.code",
        )
        .await;
    assert_eq!(all.len(), CURRENCIES.len());
    assert_eq!(all[0]["currencyConstant"]["code"], json!("AUD"));
    // Each resource stands alone, as in Google's GAQL.
    for q in [
        "SELECT customer.currency_code, campaign.id FROM customer",
        "SELECT currency_constant.code FROM campaign",
    ] {
        let (status, body) = e.post("googleAds:search", json!({ "query": q })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(
            error_code(&body),
            ("queryError", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
            "{q}"
        );
    }
}

#[tokio::test]
async fn amounts_off_the_currency_unit_are_refused_as_google_refuses_them() {
    let e = env().await;
    let rn = format!("customers/{CID}/campaigns/111");
    let budget = |micros: &str| {
        json!({"operations": [{"updateMask": "amountMicros", "update": {
            "resourceName": format!("customers/{CID}/campaignBudgets/1110"), "amountMicros": micros}}]})
    };
    let cpa = |micros: &str| {
        json!({"operations": [{"updateMask": "targetCpa.targetCpaMicros", "update": {"resourceName": rn,
               "targetCpa": {"targetCpaMicros": micros}}}]})
    };
    let refused =
        |currency: &'static str,
         method: &'static str,
         body: Value,
         code: (&'static str, &'static str)| { (currency, method, body, code) };
    let cases = [
        refused(
            "EUR",
            "campaignBudgets:mutate",
            budget("33333333"),
            (
                "campaignBudgetError",
                "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
            ),
        ),
        refused(
            "EUR",
            "campaignBudgets:mutate",
            budget("9999"),
            (
                "campaignBudgetError",
                "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC",
            ),
        ),
        refused(
            "EUR",
            "campaigns:mutate",
            cpa("1234567"),
            ("biddingError", "BID_TOO_MANY_FRACTIONAL_DIGITS"),
        ),
        refused(
            "JPY",
            "campaignBudgets:mutate",
            budget("1234500000"),
            (
                "campaignBudgetError",
                "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
            ),
        ),
        refused(
            "JPY",
            "campaignBudgets:mutate",
            budget("33330000"),
            (
                "campaignBudgetError",
                "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
            ),
        ),
        refused(
            "JPY",
            "campaignBudgets:mutate",
            budget("990000"),
            (
                "campaignBudgetError",
                "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC",
            ),
        ),
        refused(
            "JPY",
            "campaigns:mutate",
            cpa("1500000"),
            ("biddingError", "BID_TOO_MANY_FRACTIONAL_DIGITS"),
        ),
    ];
    for (currency, method, body, expected) in cases {
        e.ads.set_currency(CID, currency);
        let (status, answer) = e.post(method, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{currency} {body}: {answer}"
        );
        assert_eq!(error_code(&answer), expected, "{currency} {body}: {answer}");
        let field_path: Vec<&str> = answer["error"]["details"][0]["errors"][0]["location"]
            ["fieldPathElements"]
            .as_array()
            .expect("a location")
            .iter()
            .map(|p| p["fieldName"].as_str().unwrap())
            .collect();
        assert_eq!(field_path[0], "operations", "{answer}");
        assert_eq!(field_path[1], "update", "{answer}");
    }
    assert_eq!(e.ads.mutation_count(), 0, "nothing refused was applied");
    let before = e.ads.campaign(CID, 111).unwrap();
    assert_eq!(
        before.budget_amount_micros,
        FakeCampaign::new(111, "x").budget_amount_micros
    );

    // Multiples of the unit pass: 33.33 EUR, 1234 JPY and a target of 2 JPY.
    e.ads.set_currency(CID, "EUR");
    let (status, answer) = e.post("campaignBudgets:mutate", budget("33330000")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        e.ads.campaign(CID, 111).unwrap().budget_amount_micros,
        33_330_000
    );
    e.ads.set_currency(CID, "JPY");
    let (status, answer) = e.post("campaignBudgets:mutate", budget("1234000000")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = e.post("campaigns:mutate", cpa("2000000")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let after = e.ads.campaign(CID, 111).unwrap();
    assert_eq!(after.budget_amount_micros, 1_234_000_000);
    assert_eq!(
        after.bidding,
        Bidding::TargetCpa {
            target_cpa_micros: 2_000_000
        }
    );
}

#[test]
// XTS is ISO 4217's code reserved for testing: a well-formed code no Google Ads account bills in.
#[should_panic(expected = "currency XTS is not one the fake knows")]
fn an_unknown_currency_is_refused_at_set_up() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ads = FakeGoogleAds::start(None).await;
        ads.add_customer(CID, None);
        ads.set_currency(CID, "XTS");
    });
}
