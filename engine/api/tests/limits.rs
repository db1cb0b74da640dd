//! Rate limits over real HTTP: every answer to a key carries `RateLimit` and
//! `RateLimit-Policy`; beyond its burst a key gets `429` with `Retry-After` and nothing is
//! done; another key is not slowed down; refused requests are in the access log.

mod common;

use std::time::Duration;

use common::{problem, start_limited};
use leadorch_api::keys::Scope;
use leadorch_api::limits::RateLimits;
use leadorch_api::Settings;
use leadorch_store::{AccessQuery, Dialect};
use serde_json::json;

#[tokio::test]
async fn a_key_beyond_its_burst_is_told_when_to_come_back() {
    // One request an hour with bursts of 3: nothing refills while the test runs.
    let limits = RateLimits::with_period(Duration::from_secs(3600), 3);
    let s = start_limited(Dialect::Sqlite, Settings::default(), Some(limits)).await;
    let (crm, crm_id) = s.key_in("default", "crm", &[Scope::Capacity], &[]).await;
    let other = s.key("dash", &[Scope::Read]).await;
    let http = reqwest::Client::new();
    let push = |open: u32| {
        http.post(s.url("/v1/capacity"))
            .bearer_auth(&crm)
            .json(&json!({"team": "sales-nl", "agents_available": 2, "open_leads": open, "max_open_leads": 10}))
            .send()
    };
    for (open, left) in [(1, 2), (2, 1), (3, 0)] {
        let r = push(open).await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(
            r.headers()["ratelimit-policy"],
            "\"per-key-per-process\";q=3;w=10800"
        );
        let field = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(
            field.starts_with(&format!("\"per-key-per-process\";r={left};t=")),
            "{field}"
        );
    }
    let head = s.engine.store.log.head().await.unwrap().position;
    let r = push(4).await.unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&retry), "{retry}");
    assert!(r.headers()["ratelimit"].to_str().unwrap().contains(";r=0;"));
    let p = problem(r, 429).await;
    assert_eq!(p["type"], "https://leadorch.dev/problems/rate-limited");
    assert_eq!(
        s.engine.store.log.head().await.unwrap().position,
        head,
        "a refused request does nothing"
    );

    // Another key has its own quota.
    let r = http
        .get(s.url("/v1/events"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["ratelimit"].to_str().unwrap().contains(";r=2;"));

    // The refusal is attributed in the access log (written in batches: wait for the row).
    let mut seen = false;
    for _ in 0..600 {
        let rows = s
            .keys
            .access_log(&AccessQuery {
                project: Some("default".into()),
                key_id: Some(crm_id.clone()),
                since: None,
                before_id: None,
                limit: 100,
            })
            .await
            .unwrap();
        if rows.iter().any(|(_, r)| r.status == 429) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "a 429 row in the access log");
}
