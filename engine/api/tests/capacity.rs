//! `POST /v1/capacity` over real HTTP: a reading is recorded when it changes the team's
//! capacity, not when it repeats the last one; an older reading is refused naming `at`;
//! malformed readings store nothing; another project's team is a different stream.

mod common;

use common::{problem, start};
use leadorch_api::keys::Scope;
use leadorch_store::EventFilter;
use serde_json::{json, Value};

async fn recorded(s: &common::Server) -> Vec<(String, Value, String)> {
    let recs = s
        .engine
        .store
        .log
        .list(&EventFilter {
            stream: None,
            event_type: Some("CapacityRecorded".into()),
            after: 0,
            until: None,
            limit: None,
        })
        .await
        .unwrap();
    recs.into_iter()
        .map(|r| {
            let stored: Value = serde_json::from_slice(&r.payload).unwrap();
            let payload = stored.get("CapacityRecorded").cloned().unwrap_or(stored);
            let meta: Value = serde_json::from_slice(&r.metadata).unwrap();
            (
                r.stream_id.clone(),
                payload,
                meta["actor"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn readings_are_recorded_when_capacity_changes() {
    let s = start().await;
    let c = reqwest::Client::new();
    let (key, key_id) = s.key_in("default", "crm", &[Scope::Capacity], &[]).await;
    let push = |body: Value| {
        c.post(s.url("/v1/capacity"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    let first = json!({"team": "sales-nl", "agents_available": 3, "open_leads": 12, "max_open_leads": 15, "at": "2026-12-04T09:30:00Z"});
    let r = push(first.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["recorded"], true);
    assert_eq!(v["team"], "sales-nl");
    assert_eq!(v["utilisation"], 0.8);
    assert!(v["trace_id"].as_str().unwrap().len() >= 32);

    // The same reading a minute later: nothing new to record.
    let again = json!({"team": "sales-nl", "agents_available": 3, "open_leads": 12, "max_open_leads": 15, "at": "2026-12-04T09:31:00Z"});
    let r = push(again).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["recorded"], false);

    // A change is recorded.
    let full = json!({"team": "sales-nl", "agents_available": 3, "open_leads": 15, "max_open_leads": 15, "at": "2026-12-04T09:32:00Z"});
    assert_eq!(push(full).await.unwrap().status(), 201);
    // The same as the last, but the last is older than the heartbeat: recorded, so the team's
    // reading stays fresh.
    let later = json!({"team": "sales-nl", "agents_available": 3, "open_leads": 15, "max_open_leads": 15, "at": "2026-12-04T10:00:00Z"});
    assert_eq!(push(later).await.unwrap().status(), 201);

    // Older than the last reading: 409 naming at.
    let old = json!({"team": "sales-nl", "agents_available": 1, "open_leads": 1, "max_open_leads": 15, "at": "2026-12-04T09:00:00Z"});
    let p = problem(push(old).await.unwrap(), 409).await;
    assert_eq!(p["field"], "at");

    // Malformed readings, each naming its field; none stored.
    for (body, status, field) in [
        (
            json!({"team": "sales nl", "agents_available": 1, "open_leads": 0, "max_open_leads": 5}),
            422,
            "team",
        ),
        (
            json!({"team": "x", "agents_available": -1, "open_leads": 0, "max_open_leads": 5}),
            422,
            "agents_available",
        ),
        (
            json!({"team": "x", "agents_available": 1, "open_leads": "many", "max_open_leads": 5}),
            422,
            "open_leads",
        ),
        (
            json!({"team": "x", "agents_available": 2, "open_leads": 0, "max_open_leads": 0}),
            422,
            "max_open_leads",
        ),
        (
            json!({"team": "x", "agents_available": 1, "open_leads": 0, "max_open_leads": 5, "at": "yesterday"}),
            422,
            "at",
        ),
        (
            json!({"team": "x", "agents_available": 1, "open_leads": 0, "max_open_leads": 5, "at": "2099-01-01T00:00:00Z"}),
            422,
            "at",
        ),
        (
            json!({"team": "x", "agents_available": 1, "open_leads": 0, "max_open_leads": 5, "mood": "good"}),
            422,
            "mood",
        ),
        (
            json!({"team": "x", "agents_available": 1, "open_leads": 0}),
            422,
            "max_open_leads",
        ),
    ] {
        let p = problem(push(body.clone()).await.unwrap(), status).await;
        if !field.is_empty() {
            assert_eq!(p["field"], field, "{body} → {p}");
        }
    }
    let r = c
        .post(s.url("/v1/capacity"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"team\":\"x\",")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;

    let rows = recorded(&s).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (stream, payload, actor) in &rows {
        assert_eq!(stream, "capacity:sales-nl");
        assert_eq!(
            payload["source"], "crm",
            "the key's name is the default source"
        );
        assert_eq!(actor, &format!("api-key:{key_id}"));
    }

    // A key without the capacity scope may not push.
    let reader = s.key("reader", &[Scope::Read]).await;
    let r = c
        .post(s.url("/v1/capacity"))
        .bearer_auth(&reader)
        .json(&first)
        .send()
        .await
        .unwrap();
    problem(r, 403).await;

    // Another project's team of the same name is its own stream.
    let (acme, _) = s.key_in("acme", "crm", &[Scope::Capacity], &[]).await;
    let r = c.post(s.url("/v1/capacity")).bearer_auth(&acme).json(&json!({"team": "sales-nl", "agents_available": 1, "open_leads": 0, "max_open_leads": 4, "at": "2026-12-04T08:00:00Z", "source": "hubspot"})).send().await.unwrap();
    assert_eq!(
        r.status(),
        201,
        "an earlier time than default's last reading: a different team"
    );
    let rows = recorded(&s).await;
    assert_eq!(rows.last().unwrap().0, "capacity:acme/sales-nl");
    assert_eq!(rows.last().unwrap().1["source"], "hubspot");
}

#[tokio::test]
async fn a_team_that_takes_capacity_from_elsewhere_refuses_pushes() {
    let s = start().await;
    let c = reqwest::Client::new();
    let key = s.key("crm", &[Scope::Capacity]).await;
    let settings: leadorch_evaluate::teams::TeamSettings =
        serde_json::from_value(json!({"capacity_source": "leads"})).unwrap();
    leadorch_evaluate::teams::set_team(
        &s.engine,
        "sales-be",
        &settings,
        chrono::Utc::now(),
        "test",
    )
    .await
    .unwrap();
    let reading =
        json!({"team": "sales-be", "agents_available": 1, "open_leads": 0, "max_open_leads": 4});
    let r = c
        .post(s.url("/v1/capacity"))
        .bearer_auth(&key)
        .json(&reading)
        .send()
        .await
        .unwrap();
    let p = problem(r, 409).await;
    assert_eq!(p["field"], "team");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("takes its capacity from leads"),
        "{p}"
    );
    assert!(recorded(&s).await.is_empty());
    // Switched to pushed readings, it takes them.
    let settings: leadorch_evaluate::teams::TeamSettings =
        serde_json::from_value(json!({"capacity_source": "pushed"})).unwrap();
    leadorch_evaluate::teams::set_team(
        &s.engine,
        "sales-be",
        &settings,
        chrono::Utc::now(),
        "test",
    )
    .await
    .unwrap();
    let r = c
        .post(s.url("/v1/capacity"))
        .bearer_auth(&key)
        .json(&reading)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}
