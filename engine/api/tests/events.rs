//! `GET /v1/events` and `GET /v1/events/stream` over real HTTP: pages in log order with a
//! cursor, filters, personal fields never shown, each project its own streams, and the stream
//! delivering events committed after it opened (and resuming after `Last-Event-ID`).

mod common;

use common::{problem, start_on, Server};
use leadorch_api::keys::Scope;
use leadorch_store::Dialect;
use serde_json::{json, Value};

async fn post_lead(s: &Server, key: &str, id: &str, email: &str) {
    let r = reqwest::Client::new()
        .post(s.url("/v1/leads"))
        .bearer_auth(key)
        .json(&json!({"lead_id": id, "form_id": "contact", "team": "sales-nl", "email": email,
            "consent": {"text": "I agree", "at": "2026-12-01T10:00:00Z", "url": "https://example.org/c"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn get(s: &Server, key: &str, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url(&format!("/v1/events{query}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn page(s: &Server, key: &str, query: &str) -> Value {
    let r = get(s, key, query).await;
    assert_eq!(r.status(), 200, "{query}");
    r.json().await.unwrap()
}

fn streams(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pages_of_the_log_are_the_projects_own_without_personal_fields() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let ingest = s.key("site", &[Scope::Ingest]).await;
        let (acme_ingest, _) = s.key_in("acme", "site", &[Scope::Ingest], &[]).await;
        let read = s.key("dash", &[Scope::Read]).await;
        let (acme_read, _) = s.key_in("acme", "dash", &[Scope::Read], &[]).await;
        post_lead(&s, &ingest, "d-1", "d1@example.org").await;
        post_lead(&s, &acme_ingest, "a-1", "a1@example.org").await;
        post_lead(&s, &ingest, "d-2", "d2@example.org").await;

        let all = page(&s, &read, "").await;
        assert_eq!(all["next"], Value::Null, "{dialect:?}: at the head");
        let mine = streams(&all);
        assert!(mine.contains(&"lead:d-1".to_string()), "{mine:?}");
        assert!(mine.contains(&"lead:d-2".to_string()));
        // (Ids are compared whole: a random consent id may hold "a-1".)
        assert!(
            !mine.iter().any(|s| s == "lead:a-1" || s.contains("acme")),
            "{dialect:?}: {mine:?}"
        );
        let text = all.to_string();
        assert!(!text.contains("d1@example.org"), "personal fields null");
        let first = &all["items"][0];
        assert!(first["actor"].as_str().unwrap().starts_with("api-key:"));
        assert!(first["trace_id"].as_str().is_some());
        assert_eq!(first["hash"].as_str().unwrap().len(), 64);

        let theirs = streams(&page(&s, &acme_read, "").await);
        assert!(
            theirs.contains(&"lead:a-1".to_string()),
            "{dialect:?}: {theirs:?}"
        );
        assert!(!theirs.iter().any(|s| s == "lead:d-1"));
        assert!(
            theirs.iter().all(|s| !s.contains("acme")),
            "shown bare: {theirs:?}"
        );

        // One at a time, following the cursor, gives the same events.
        let mut cursor = String::new();
        let mut walked = Vec::new();
        loop {
            let p = page(&s, &read, &format!("?limit=1{cursor}")).await;
            walked.extend(streams(&p));
            match p["next"].as_str() {
                Some(next) => cursor = format!("&after={next}"),
                None => break,
            }
        }
        assert_eq!(walked, mine, "{dialect:?}");

        let received = page(&s, &read, "?type=LeadReceived").await;
        assert_eq!(streams(&received), ["lead:d-1", "lead:d-2"]);
        let one = page(&s, &read, "?stream=lead:d-2").await;
        assert_eq!(streams(&one), ["lead:d-2"]);
        let theirs = page(&s, &acme_read, "?stream=lead:a-1").await;
        assert_eq!(
            streams(&theirs),
            ["lead:a-1"],
            "named as the project names it"
        );
    }
}

#[tokio::test]
async fn wrong_parameters_and_scopes_are_refused() {
    let s = start_on(Dialect::Sqlite).await;
    let read = s.key("dash", &[Scope::Read]).await;
    let ingest = s.key("site", &[Scope::Ingest]).await;
    assert_eq!(
        problem(get(&s, &read, "?limit=0").await, 422).await["field"],
        "limit"
    );
    assert_eq!(
        problem(get(&s, &read, "?limit=5000").await, 422).await["field"],
        "limit"
    );
    let p = problem(get(&s, &read, "?type=leadreceived").await, 422).await;
    assert_eq!(p["field"], "type");
    assert_eq!(
        problem(get(&s, &read, "?after=x").await, 422).await["field"],
        "after"
    );
    problem(get(&s, &read, "?colour=red").await, 422).await;
    problem(get(&s, &ingest, "").await, 403).await;

    // A position past what the log can hold was read as negative ("before everything") and
    // answered with the whole log (found by schemathesis).
    post_lead(&s, &ingest, "p-1", "pos@example.org").await;
    assert_eq!(
        page(&s, &read, "?after=9223372036854775807").await["items"],
        json!([])
    );
    for after in ["9223372036854775808", "18446744073709551615"] {
        let p = problem(get(&s, &read, &format!("?after={after}")).await, 422).await;
        assert_eq!(p["field"], "after", "{p}");
    }
    let r = reqwest::Client::new()
        .get(s.url("/v1/events/stream"))
        .bearer_auth(&read)
        .header("last-event-id", "9223372036854775808")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 422).await["field"], "Last-Event-ID");
}

/// Reads the event stream until `want` events arrived; returns their `id` and `event` lines.
async fn next_events(
    body: &mut reqwest::Response,
    buffer: &mut String,
    want: usize,
) -> Vec<(String, String)> {
    let mut got = Vec::new();
    // Generous: only a stream that never delivers fails this.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while got.len() < want {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim().to_string())
            };
            if let (Some(id), Some(event)) = (field("id"), field("event")) {
                got.push((id, event));
            }
        }
        if got.len() >= want {
            break;
        }
        let chunk = tokio::time::timeout_at(deadline, body.chunk())
            .await
            .expect("events arrive")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    got
}

#[tokio::test]
async fn the_stream_delivers_new_events_and_resumes_after_the_last_id() {
    let s = start_on(Dialect::Sqlite).await;
    let read = s.key("dash", &[Scope::Read]).await;
    let ingest = s.key("site", &[Scope::Ingest]).await;
    let capacity = s.key("crm", &[Scope::Capacity]).await;
    post_lead(&s, &ingest, "e-1", "e1@example.org").await;
    let head = s.engine.store.log.head().await.unwrap().position;

    let r = reqwest::Client::new()
        .get(s.url(&format!("/v1/events/stream?after={head}")))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = r;
    let mut buffer = String::new();

    let push = reqwest::Client::new()
        .post(s.url("/v1/capacity"))
        .bearer_auth(&capacity)
        .json(&json!({"team": "sales-nl", "agents_available": 2, "open_leads": 3, "max_open_leads": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), 201);
    let got = next_events(&mut body, &mut buffer, 1).await;
    assert_eq!(got[0].1, "CapacityRecorded");
    assert_eq!(got[0].0, (head + 1).to_string());

    post_lead(&s, &ingest, "e-2", "e2@example.org").await;
    let got = next_events(&mut body, &mut buffer, 2).await;
    assert_eq!(got[0].1, "ConsentGranted");
    assert_eq!(got[1].1, "LeadReceived");
    drop(body);

    // A client that reconnects with the last id it saw gets what came after it.
    let r = reqwest::Client::new()
        .get(s.url("/v1/events/stream"))
        .bearer_auth(&read)
        .header("last-event-id", head.to_string())
        .send()
        .await
        .unwrap();
    let mut body = r;
    let mut buffer = String::new();
    let got = next_events(&mut body, &mut buffer, 3).await;
    let types: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(
        types,
        ["CapacityRecorded", "ConsentGranted", "LeadReceived"]
    );
}
