//! The audit log's API over real HTTP, on SQLite and PostgreSQL: windows of `GET /v1/events`
//! forwards and backwards with filters, `GET /v1/events/count`, the head; one event with its
//! personal fields revealed to `admin` keys only, and marked erased after the subject's
//! erasure; `/v1/audit/verify` in the background — passing, finding the first changed row,
//! one at a time, and cancelled.

mod common;

use std::time::Duration;

use common::{problem, start_on, Server};
use leadorch_api::keys::Scope;
use leadorch_store::{Db, Dialect};
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

async fn call(s: &Server, method: reqwest::Method, key: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, s.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn get(s: &Server, key: &str, path: &str) -> reqwest::Response {
    call(s, reqwest::Method::GET, key, path).await
}

async fn ok(s: &Server, key: &str, path: &str) -> Value {
    let r = get(s, key, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

fn positions(v: &Value) -> Vec<u64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect()
}

/// Follows `next` from `base` (a path with a query), the cursor passed as `cursor`, starting
/// at `start`.
async fn walk(s: &Server, key: &str, base: &str, cursor: &str, start: Option<u64>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = start.map(|p| p.to_string());
    for _ in 0..1000 {
        let path = match &at {
            Some(p) => format!("{base}&{cursor}={p}"),
            None => base.to_string(),
        };
        let page = ok(s, key, &path).await;
        out.extend(positions(&page));
        match page["next"].as_str() {
            Some(next) => at = Some(next.to_string()),
            None => return out,
        }
    }
    panic!("no end to {base}");
}

#[tokio::test]
async fn windows_go_both_ways_with_filters_and_are_counted() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let (ingest, ingest_id) = s.key_in("default", "site", &[Scope::Ingest], &[]).await;
        let (acme_ingest, _) = s.key_in("acme", "site", &[Scope::Ingest], &[]).await;
        let read = s.key("dash", &[Scope::Read]).await;
        let (acme_read, _) = s.key_in("acme", "dash", &[Scope::Read], &[]).await;
        for i in 0..4 {
            post_lead(&s, &ingest, &format!("d-{i}"), &format!("d{i}@example.org")).await;
            if i < 2 {
                post_lead(
                    &s,
                    &acme_ingest,
                    &format!("a-{i}"),
                    &format!("a{i}@example.org"),
                )
                .await;
            }
        }
        let head = s.engine.store.log.head().await.unwrap().position;

        // Forwards: everything the default project sees, oldest first, at the head.
        let all = ok(&s, &read, "/v1/events?limit=1000").await;
        assert_eq!(all["head"], head, "{dialect:?}");
        assert_eq!(all["order"], "oldest_first");
        assert_eq!(all["next"], Value::Null);
        let mine = positions(&all);
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        assert!(
            !all.to_string().contains("acme") && !all.to_string().contains("lead:a-"),
            "{dialect:?}: another project's events are not in the window"
        );
        let theirs = positions(&ok(&s, &acme_read, "/v1/events?limit=1000").await);
        assert!(!theirs.is_empty());
        assert!(theirs.iter().all(|p| !mine.contains(p)), "{theirs:?}");
        assert_eq!(mine.len() + theirs.len(), head as usize, "{dialect:?}");

        // Backwards from the end in one request, then on with `next`: the same events.
        let last = ok(
            &s,
            &read,
            &format!("/v1/events?before={}&limit=3", head + 1),
        )
        .await;
        assert_eq!(last["order"], "newest_first");
        let newest: Vec<u64> = mine.iter().rev().take(3).copied().collect();
        assert_eq!(positions(&last), newest, "{dialect:?}");
        let back = walk(&s, &read, "/v1/events?limit=2", "before", Some(head + 1)).await;
        assert_eq!(back, mine.iter().rev().copied().collect::<Vec<_>>());
        let fwd = walk(&s, &read, "/v1/events?limit=2", "after", None).await;
        assert_eq!(fwd, mine);
        // Both bounds: the newest between them.
        let (a, b) = (mine[1], mine[5]);
        let between = positions(&ok(&s, &read, &format!("/v1/events?after={a}&before={b}")).await);
        let want: Vec<u64> = mine
            .iter()
            .rev()
            .filter(|p| **p > a && **p < b)
            .copied()
            .collect();
        assert_eq!(between, want);

        // Filters, both ways, and their counts.
        let received = positions(&ok(&s, &read, "/v1/events?type=LeadReceived").await);
        assert_eq!(received.len(), 4, "{dialect:?}");
        let received_back = positions(
            &ok(
                &s,
                &read,
                &format!("/v1/events?type=LeadReceived&before={}&limit=3", head + 1),
            )
            .await,
        );
        assert_eq!(
            received_back,
            received.iter().rev().take(3).copied().collect::<Vec<_>>()
        );
        let count = ok(&s, &read, "/v1/events/count?type=LeadReceived").await;
        assert_eq!(count["count"], 4);
        assert_eq!(count["exact"], true);
        assert_eq!(count["head"], head);
        assert_eq!(
            ok(&s, &acme_read, "/v1/events/count?type=LeadReceived").await["count"],
            2
        );
        let everything = ok(&s, &read, "/v1/events/count").await;
        assert_eq!(
            everything["count"],
            mine.len(),
            "{dialect:?}: only what the project sees"
        );
        assert_eq!(
            ok(&s, &acme_read, "/v1/events/count").await["count"],
            theirs.len()
        );
        let stream = positions(&ok(&s, &read, "/v1/events?stream=lead:d-2&before=999999").await);
        assert_eq!(stream.len(), 1);
        assert_eq!(
            ok(&s, &read, "/v1/events/count?stream=lead:d-2").await["count"],
            1
        );

        let actor = format!("api-key:{ingest_id}");
        let by_actor = ok(&s, &read, &format!("/v1/events?actor={actor}&limit=1000")).await;
        let by_actor_items = by_actor["items"].as_array().unwrap();
        assert!(!by_actor_items.is_empty(), "{dialect:?}");
        assert!(by_actor_items.iter().all(|e| e["actor"] == actor.as_str()));
        let actors_all = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"] == actor.as_str())
            .count();
        assert_eq!(by_actor_items.len(), actors_all);
        assert_eq!(
            ok(&s, &read, &format!("/v1/events/count?actor={actor}")).await["count"],
            actors_all
        );
        assert_eq!(
            ok(&s, &read, "/v1/events/count?actor=nobody").await["count"],
            0
        );

        // Recorded time: from inclusive, to exclusive.
        let items = all["items"].as_array().unwrap();
        let from = items[2]["recorded_at"].as_str().unwrap();
        let to = items[6]["recorded_at"].as_str().unwrap();
        let want: Vec<u64> = items
            .iter()
            .filter(|e| {
                let t = e["recorded_at"].as_str().unwrap();
                t >= from && t < to
            })
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        let q = format!(
            "from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        );
        assert_eq!(
            positions(&ok(&s, &read, &format!("/v1/events?{q}")).await),
            want
        );
        assert_eq!(
            ok(&s, &read, &format!("/v1/events/count?{q}")).await["count"],
            want.len()
        );

        // Wrong parameters name their field.
        for (query, field) in [
            ("/v1/events?before=x", "before"),
            ("/v1/events?before=9223372036854775808", "before"),
            ("/v1/events?from=yesterday", "from"),
            ("/v1/events?to=2026-13-01T00:00:00Z", "to"),
            ("/v1/events/count?type=nope", "type"),
            ("/v1/events/count?after=-1", "after"),
            ("/v1/events/1?reveal=maybe", "reveal"),
            ("/v1/events/0", "position"),
            ("/v1/events/x", "position"),
        ] {
            let p = problem(get(&s, &read, query).await, 422).await;
            assert_eq!(p["field"], field, "{query}: {p}");
        }
        problem(get(&s, &read, "/v1/events/count?limit=5").await, 422).await;
        problem(get(&s, &ingest, "/v1/events/count").await, 403).await;
    }
}

/// An event's own time as its view shows it (`data.<type>.at`), in µs.
fn event_time(e: &Value) -> Option<i64> {
    let ty = e["type"].as_str().unwrap();
    let at = e["data"][ty]["at"].as_str()?;
    Some(
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .timestamp_micros(),
    )
}

fn micros(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

#[tokio::test]
async fn windows_and_counts_filter_by_event_time() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let ingest = s.key("site", &[Scope::Ingest]).await;
        let read = s.key("dash", &[Scope::Read]).await;
        for i in 0..3 {
            post_lead(&s, &ingest, &format!("e-{i}"), &format!("e{i}@example.org")).await;
        }
        // (Events without an `at` are the store's tests': the facts the API folds refuse an
        // event type they do not know, and every event the engine writes carries one.)
        let all = ok(&s, &read, "/v1/events?limit=1000&type=LeadReceived").await;
        let received = all["items"].as_array().unwrap().clone();

        // The consents were given at 10:00 on 1 December (the posted `at`) and recorded now.
        let all_events: Vec<Value> = {
            let v = ok(&s, &read, "/v1/events?limit=1000").await;
            v["items"].as_array().unwrap().clone()
        };
        let in_range = |from: i64, to: i64| -> Vec<u64> {
            all_events
                .iter()
                .filter(|e| event_time(e).is_some_and(|t| t >= from && t < to))
                .map(|e| e["position"].as_u64().unwrap())
                .collect()
        };
        let (from, to) = ("2026-12-01T10:00:00Z", "2026-12-01T10:00:01Z");
        let early = in_range(micros(from), micros(to));
        assert!(!early.is_empty(), "{dialect:?}: {all_events:?}");
        for p in &early {
            let e = all_events.iter().find(|e| e["position"] == *p).unwrap();
            let recorded = micros(e["recorded_at"].as_str().unwrap());
            assert!(
                recorded > micros(to),
                "{dialect:?}: recorded after it happened: {e}"
            );
        }
        let q = format!("event_from={from}&event_to={to}");
        let got = ok(&s, &read, &format!("/v1/events?{q}")).await;
        assert_eq!(positions(&got), early, "{dialect:?}");
        assert_eq!(
            ok(&s, &read, &format!("/v1/events/count?{q}")).await["count"],
            early.len()
        );
        // Newest first, the same events.
        let back = ok(&s, &read, &format!("/v1/events?{q}&before=999999")).await;
        assert_eq!(
            positions(&back),
            early.iter().rev().copied().collect::<Vec<_>>()
        );

        // Dates are midnight UTC; from inclusive, to exclusive.
        let timed = in_range(micros("2026-12-01T00:00:00Z"), i64::MAX);
        assert!(timed.len() > early.len(), "{dialect:?}");
        let q = "event_from=2026-12-01&event_to=9999-12-31";
        assert_eq!(
            positions(&ok(&s, &read, &format!("/v1/events?{q}&limit=1000")).await),
            timed
        );
        assert_eq!(
            ok(&s, &read, &format!("/v1/events/count?{q}")).await["count"],
            timed.len()
        );
        assert_eq!(
            ok(&s, &read, "/v1/events/count?event_to=2026-12-01").await["count"],
            in_range(i64::MIN, micros("2026-12-01T00:00:00Z")).len()
        );

        // With a type: each lead's LeadReceived, by its own time.
        let lead_times: Vec<i64> = received.iter().filter_map(event_time).collect();
        assert_eq!(
            lead_times.len(),
            received.len(),
            "{dialect:?}: leads have an at"
        );
        let first = *lead_times.iter().min().unwrap();
        let q = format!(
            "type=LeadReceived&event_from={}",
            chrono::DateTime::from_timestamp_micros(first + 1)
                .unwrap()
                .to_rfc3339()
                .replace('+', "%2B")
        );
        let want: Vec<u64> = received
            .iter()
            .filter(|e| event_time(e).unwrap() > first)
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        assert_eq!(
            positions(&ok(&s, &read, &format!("/v1/events?{q}")).await),
            want
        );
        assert_eq!(
            ok(&s, &read, &format!("/v1/events/count?{q}")).await["count"],
            want.len()
        );

        // Wrong bounds name their field.
        for (query, field) in [
            ("/v1/events?event_from=yesterday", "event_from"),
            ("/v1/events?event_to=2026-13-01", "event_to"),
            ("/v1/events/count?event_from=2026-12-01T10:00", "event_from"),
            ("/v1/events/count?event_to=", "event_to"),
        ] {
            let p = problem(get(&s, &read, query).await, 422).await;
            assert_eq!(p["field"], field, "{query}: {p}");
        }
    }
}

#[tokio::test]
async fn an_event_reveals_personal_fields_to_admin_keys_and_marks_them_erased() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let ingest = s.key("site", &[Scope::Ingest]).await;
        let read = s.key("dash", &[Scope::Read]).await;
        let admin = s.key("dpo", &[Scope::Admin]).await;
        let (acme_admin, _) = s.key_in("acme", "dpo", &[Scope::Admin], &[]).await;
        post_lead(&s, &ingest, "r-1", "reveal.me@example.org").await;
        let received = ok(&s, &read, "/v1/events?type=LeadReceived").await;
        let position = received["items"][0]["position"].as_u64().unwrap();
        let path = format!("/v1/events/{position}");

        let plain = ok(&s, &read, &path).await;
        assert_eq!(plain["position"], position);
        assert_eq!(plain["type"], "LeadReceived");
        assert_eq!(plain["stream"], "lead:r-1");
        assert_eq!(plain["revealed"], false);
        assert_eq!(plain["erased"], false);
        assert!(!plain.to_string().contains("reveal.me"), "{dialect:?}");
        let fields = plain["personal"].as_array().unwrap().clone();
        assert!(!fields.is_empty(), "{plain}");
        assert!(fields.iter().all(|f| f["state"] == "hidden"), "{plain}");
        for f in &fields {
            assert_eq!(
                plain["data"].pointer(f["field"].as_str().unwrap()),
                Some(&Value::Null)
            );
        }
        // As the list shows it.
        let listed = &received["items"][0];
        for k in ["stream", "event_id", "hash", "actor", "recorded_at", "data"] {
            assert_eq!(plain[k], listed[k], "{k}");
        }

        let p = problem(get(&s, &read, &format!("{path}?reveal=true")).await, 403).await;
        assert!(p["detail"].as_str().unwrap().contains("admin"), "{p}");

        let open = ok(&s, &admin, &format!("{path}?reveal=true")).await;
        assert_eq!(open["revealed"], true);
        assert_eq!(open["erased"], false);
        assert!(
            open.to_string().contains("reveal.me@example.org"),
            "{dialect:?}: {open}"
        );
        let email = open["personal"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                open["data"].pointer(f["field"].as_str().unwrap())
                    == Some(&json!("reveal.me@example.org"))
            })
            .expect("the email is one of the personal fields")
            .clone();
        assert_eq!(email["state"], "revealed");
        let subject = email["subject_id"].as_str().unwrap().to_string();
        assert!(!subject.is_empty());
        assert!(!open.to_string().contains("$enc"), "never the ciphertext");

        // Another project's event is not found, revealed or not.
        problem(get(&s, &acme_admin, &path).await, 404).await;
        problem(
            get(&s, &acme_admin, &format!("{path}?reveal=true")).await,
            404,
        )
        .await;
        problem(get(&s, &read, "/v1/events/999999").await, 404).await;

        // Erased through the API: the fields stay null, marked erased; no error, no ciphertext.
        let r = call(
            &s,
            reqwest::Method::DELETE,
            &admin,
            &format!("/v1/subjects/{subject}"),
        )
        .await;
        assert_eq!(r.status(), 200, "{dialect:?}");
        let gone = ok(&s, &admin, &format!("{path}?reveal=true")).await;
        assert_eq!(gone["erased"], true, "{dialect:?}: {gone}");
        assert!(!gone.to_string().contains("reveal.me"), "{gone}");
        assert!(!gone.to_string().contains("$enc"), "{gone}");
        let field = email["field"].as_str().unwrap();
        assert_eq!(gone["data"].pointer(field), Some(&Value::Null));
        let after = gone["personal"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == email["field"])
            .unwrap()
            .clone();
        assert_eq!(after["state"], "erased");
        // The chain still holds after the erasure: checked below through the verification.
    }
}

async fn wait_until_done(s: &Server, key: &str) -> Value {
    // Generous: a CI machine may be slow; the state, not the time, is what is asserted.
    for _ in 0..1200 {
        let v = ok(s, key, "/v1/audit/verify").await;
        if v["state"] != "running" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the verification did not end within a minute");
}

#[tokio::test]
async fn verification_passes_finds_the_first_changed_row_and_is_cancelled() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let ingest = s.key("site", &[Scope::Ingest]).await;
        let read = s.key("dash", &[Scope::Read]).await;
        let (acme_read, _) = s.key_in("acme", "dash", &[Scope::Read], &[]).await;
        let idle = ok(&s, &read, "/v1/audit/verify").await;
        assert_eq!(idle["state"], "idle");
        assert_eq!(idle["run"], 0);
        for i in 0..3 {
            post_lead(&s, &ingest, &format!("v-{i}"), &format!("v{i}@example.org")).await;
        }
        let head = s.engine.store.log.head().await.unwrap().position;

        let r = call(&s, reqwest::Method::POST, &read, "/v1/audit/verify").await;
        assert!(r.status() == 202, "{dialect:?}: {}", r.status());
        let started: Value = r.json().await.unwrap();
        assert_eq!(started["run"], 1);
        assert_eq!(started["head"], head);
        let done = wait_until_done(&s, &read).await;
        assert_eq!(done["state"], "passed", "{dialect:?}: {done}");
        assert_eq!(done["checked"], head);
        assert_eq!(done["head_hash"].as_str().unwrap().len(), 64);
        assert!(done["finished_at"].as_str().is_some());
        // The installation's chain: another project's key sees the same.
        assert_eq!(ok(&s, &acme_read, "/v1/audit/verify").await["run"], 1);
        problem(get(&s, &ingest, "/v1/audit/verify").await, 403).await;
        problem(
            call(&s, reqwest::Method::POST, &ingest, "/v1/audit/verify").await,
            403,
        )
        .await;
        // Cancelling a finished one leaves it as it is.
        let r = call(&s, reqwest::Method::DELETE, &read, "/v1/audit/verify").await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["state"], "passed");
        assert_eq!(v["cancel_requested"], false);

        if dialect == Dialect::Postgres {
            // Held at its first read by a lock on the log, a verification is running for
            // sure: a second start answers with it, and a cancel stops it once it goes on.
            let Db::Postgres { pool, .. } = s.engine.store.db() else {
                unreachable!()
            };
            let mut lock = pool.begin().await.unwrap();
            sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *lock)
                .await
                .unwrap();
            let r = call(&s, reqwest::Method::POST, &read, "/v1/audit/verify").await;
            assert_eq!(r.status(), 202);
            let again = call(&s, reqwest::Method::POST, &acme_read, "/v1/audit/verify").await;
            assert_eq!(again.status(), 200, "one at a time");
            let again: Value = again.json().await.unwrap();
            assert_eq!(again["run"], 2);
            assert_eq!(again["state"], "running");
            let r = call(&s, reqwest::Method::DELETE, &read, "/v1/audit/verify").await;
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["state"], "running");
            assert_eq!(v["cancel_requested"], true);
            lock.rollback().await.unwrap();
            let v = wait_until_done(&s, &read).await;
            assert_eq!(v["state"], "cancelled", "{v}");
            assert_eq!(v["run"], 2);
        }

        // A changed row: reported at its position.
        let bad = head - 1;
        let sql = format!("UPDATE events SET event_type = 'Forged' WHERE position = {bad}");
        match s.engine.store.db() {
            Db::Sqlite { pool, .. } => {
                sqlx::query(&sql).execute(pool).await.unwrap();
            }
            Db::Postgres { pool, .. } => {
                sqlx::query(&sql).execute(pool).await.unwrap();
            }
        }
        let r = call(&s, reqwest::Method::POST, &read, "/v1/audit/verify").await;
        assert_eq!(r.status(), 202);
        let v = wait_until_done(&s, &read).await;
        assert_eq!(v["state"], "failed", "{dialect:?}: {v}");
        assert_eq!(v["first_bad_position"], bad);
        assert!(
            v["detail"].as_str().unwrap().contains(&bad.to_string()),
            "{v}"
        );
    }
}
