//! `GET /metrics` over real HTTP: it needs a key with scope `read`; its counters move with
//! the requests, leads, capacity readings and rate-limit refusals this server answered; every
//! line is the Prometheus text exposition format; and no personal datum, key or raw path
//! appears in it, only route templates.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{problem, start_limited, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_api::limits::RateLimits;
use leadorch_api::Settings;
use leadorch_store::Dialect;
use serde_json::json;

const LEAD: &str = r#"{"lead_id":"m-1","form_id":"contact","email":"ann.metrics@example.org","phone":"+31 20 123 4567",
 "consent":{"text":"I agree to be called about my request","at":"2026-12-01T10:00:00Z",
            "url":"https://example.org/contact"}}"#;

/// The exposition text, checked line by line, as sample name{labels} → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut typed = std::collections::HashSet::new();
    assert!(text.ends_with('\n'), "the text ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("# HELP name text");
            assert!(valid_name(name), "{line}");
            assert!(!help.is_empty() && !help.ends_with(".."), "{line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(valid_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                typed.insert(name.to_string()),
                "one TYPE per family: {line}"
            );
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect("name{labels} value");
            let name = series.split('{').next().unwrap();
            assert!(valid_name(name), "{line}");
            assert!(
                typed.iter().any(|t| name.starts_with(t.as_str())),
                "a sample of a declared family: {line}"
            );
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                    for pair in labels[1..labels.len() - 1].split("\",") {
                        let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                        assert!(valid_name(k), "{line}");
                        assert!(!v.contains('\n'), "{line}");
                    }
                }
            }
            let v = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number: {line}")),
            };
            samples.insert(series.to_string(), v);
        }
    }
    samples
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

async fn scrape(s: &Server, key: &str) -> (String, BTreeMap<String, f64>) {
    let r = reqwest::Client::new()
        .get(s.url("/metrics"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_with_requests_and_name_no_person_nor_path() {
    let settings = Settings {
        default_team: Some("sales-nl".into()),
        ..Settings::default()
    };
    let s = start_with(Dialect::Sqlite, settings).await;
    let (reader, reader_id) = s.key_in("default", "prometheus", &[Scope::Read], &[]).await;
    let ingest = s.key("crm", &[Scope::Ingest, Scope::Capacity]).await;
    let http = reqwest::Client::new();

    // No key, or a key without read: refused.
    problem(http.get(s.url("/metrics")).send().await.unwrap(), 401).await;
    problem(
        http.get(s.url("/metrics"))
            .bearer_auth(&ingest)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    let (_, before) = scrape(&s, &reader).await;
    assert_eq!(
        get(&before, "leadorch_leads_total{outcome=\"accepted\"}"),
        0.0
    );
    assert!(before.contains_key("leadorch_log_head_position"));
    assert!(before.contains_key("leadorch_events_appended_total"));

    // A lead accepted, the same person again (a duplicate), one without consent (blocked).
    let lead: serde_json::Value = serde_json::from_str(LEAD).unwrap();
    let mut dup = lead.clone();
    dup["lead_id"] = json!("m-2");
    let mut blocked = lead.clone();
    blocked["lead_id"] = json!("m-3");
    blocked["email"] = json!("bo.metrics@example.org");
    blocked["phone"] = json!("+31 20 765 4321");
    blocked.as_object_mut().unwrap().remove("consent");
    for (body, outcome) in [
        (&lead, "accepted"),
        (&dup, "duplicate"),
        (&blocked, "blocked"),
    ] {
        let r = http
            .post(s.url("/v1/leads"))
            .bearer_auth(&ingest)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["outcome"], outcome, "{answer}");
    }
    // A capacity reading, a lead with a personal id in its path, a path no route takes.
    let r = http
        .post(s.url("/v1/capacity"))
        .bearer_auth(&ingest)
        .json(&json!({"team": "sales-nl", "agents_available": 2, "open_leads": 1, "max_open_leads": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .get(s.url("/v1/leads/ann.metrics@example.org"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let r = http
        .get(s.url("/v1/person/ann.metrics@example.org/secret-path"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let (text, after) = scrape(&s, &reader).await;
    // From the log: one team fed by pushed readings (a fresh one), nothing evaluated yet.
    assert_eq!(
        get(&after, "leadorch_capacity_source_teams{source=\"pushed\"}"),
        1.0
    );
    assert!(
        get(
            &after,
            "leadorch_capacity_source_oldest_reading_age_seconds{source=\"pushed\"}"
        ) < 3600.0
    );
    assert!(!before.contains_key("leadorch_capacity_source_teams{source=\"pushed\"}"));
    for series in [
        "leadorch_evaluations_recorded_total",
        "leadorch_changes_requested_total",
        "leadorch_changes_applied_total",
        "leadorch_changes_failed_total",
    ] {
        assert_eq!(after.get(series), Some(&0.0), "{series}");
    }
    for outcome in ["accepted", "duplicate", "blocked"] {
        assert_eq!(
            get(
                &after,
                &format!("leadorch_leads_total{{outcome=\"{outcome}\"}}")
            ),
            1.0,
            "{outcome}"
        );
    }
    assert_eq!(
        get(
            &after,
            "leadorch_http_requests_total{route=\"/v1/leads\",method=\"POST\",status=\"201\"}"
        ),
        3.0
    );
    assert_eq!(
        get(
            &after,
            "leadorch_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &after,
            "leadorch_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ),
        1.0
    );
    assert!(
        after
            .keys()
            .any(|k| k.starts_with("leadorch_http_requests_total{route=\"/v1/leads/{id}\"")),
        "the lead's path is counted by its template"
    );
    assert_eq!(
        get(
            &after,
            "leadorch_capacity_readings_recorded_total{source=\"pushed\"}"
        ),
        1.0
    );
    assert!(
        get(
            &after,
            "leadorch_http_request_duration_seconds_count{route=\"/v1/leads\",method=\"POST\"}"
        ) >= 3.0
    );
    assert_eq!(
        get(
            &after,
            "leadorch_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/v1/leads\",method=\"POST\"}"
        )
        .max(get(
            &after,
            "leadorch_http_request_duration_seconds_bucket{route=\"/v1/leads\",method=\"POST\",le=\"+Inf\"}"
        )),
        3.0
    );
    // The log moved: the leads, their consents, the reading.
    let head = s.engine.store.log.head().await.unwrap().position;
    assert!(head >= 4);
    assert_eq!(get(&after, "leadorch_log_head_position"), head as f64);
    assert_eq!(get(&after, "leadorch_events_appended_total"), head as f64);
    assert!(
        get(&after, "leadorch_events_appended_total")
            > get(&before, "leadorch_events_appended_total")
    );

    // Nothing personal, no key, no raw path.
    for secret in [
        "ann.metrics",
        "bo.metrics",
        "example.org",
        "+31",
        "20 123",
        "m-1",
        "secret-path",
        "/v1/person",
        reader.as_str(),
        reader_id.as_str(),
        "prometheus",
        "crm",
        "sales-nl",
        "127.0.0.1",
    ] {
        assert!(!text.contains(secret), "{secret:?} in:\n{text}");
    }
}

#[tokio::test]
async fn rate_limited_requests_are_counted() {
    // One request an hour with bursts of 2: nothing refills while the test runs.
    let limits = RateLimits::with_period(Duration::from_secs(3600), 2);
    let s = start_limited(Dialect::Sqlite, Settings::default(), Some(limits)).await;
    let busy = s.key("busy", &[Scope::Read]).await;
    let reader = s.key("prometheus", &[Scope::Read]).await;
    let http = reqwest::Client::new();
    for status in [200, 200, 429, 429] {
        let r = http
            .get(s.url("/v1/events"))
            .bearer_auth(&busy)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
    let (_, samples) = scrape(&s, &reader).await;
    assert_eq!(get(&samples, "leadorch_http_rate_limited_total"), 2.0);
    assert_eq!(
        get(
            &samples,
            "leadorch_http_requests_total{route=\"/v1/events\",method=\"GET\",status=\"429\"}"
        ),
        2.0
    );
}
