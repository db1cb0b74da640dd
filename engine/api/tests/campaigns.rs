//! Reads over real HTTP: campaigns (list, one, explain now and as of an earlier position),
//! a team's capacity over time, and the hash chain's check.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{problem, start_on, Server};
use leadorch_api::keys::Scope;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_store::{Dialect, Metadata};
use serde_json::{json, Value};

async fn observe(s: &Server, status: CampaignStatus, minute: i64) {
    observe_via(s, status, minute, None).await
}

/// Observes the campaign as read through `google_account` (its data then sealed with the
/// account's key, as the daemon records campaigns read from Google).
async fn observe_via(
    s: &Server,
    status: CampaignStatus,
    minute: i64,
    google_account: Option<&str>,
) {
    let snapshot = CampaignSnapshot {
        name: "Brand NL".into(),
        labels: vec!["team:sales-nl".into()],
        status,
        daily_budget_micros: 50_000_000,
        bidding: Bidding::ManualCpc,
        ad_schedule: vec![],
        currency: None,
    };
    record(s, "1234567890", "1001", snapshot, minute, google_account).await
}

/// Records campaign `customer/campaign` observed as `snapshot`, `minute`s after 09:00 on
/// 2026-12-01, read through `google_account`.
async fn record(
    s: &Server,
    customer: &str,
    campaign: &str,
    snapshot: CampaignSnapshot,
    minute: i64,
    google_account: Option<&str>,
) {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + Duration::minutes(minute);
    s.engine
        .execute::<Campaign>(
            &Campaign::aggregate_id(customer, campaign),
            CampaignCommand::Observe {
                customer_id: customer.into(),
                campaign_id: campaign.into(),
                snapshot,
                manual_hold: Duration::hours(4),
                google_account: google_account.map(str::to_string),
                at,
            },
            &Metadata::actor("test"),
        )
        .await
        .unwrap();
}

async fn get(s: &Server, key: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn json(s: &Server, key: &str, path: &str) -> Value {
    let r = get(s, key, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn campaigns_are_listed_read_and_explained() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let read = s.key("dash", &[Scope::Read]).await;
        let (acme, _) = s.key_in("acme", "dash", &[Scope::Read], &[]).await;
        observe(&s, CampaignStatus::Enabled, 0).await;
        let enabled_at = s.engine.store.log.head().await.unwrap().position;

        let list = json(&s, &read, "/v1/campaigns").await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{dialect:?}");
        assert_eq!(list[0]["id"], "1234567890/1001");
        assert_eq!(list[0]["status"], "enabled");
        assert_eq!(list[0]["team"], "sales-nl");
        assert_eq!(list[0]["daily_budget_micros"], 50_000_000);

        // Paused outside the engine, read from Google (its data sealed with the account's
        // key, as the daemon records it): the list follows the log and opens it.
        observe_via(&s, CampaignStatus::Paused, 30, Some("ops")).await;
        let one = json(&s, &read, "/v1/campaigns/1234567890/1001").await;
        assert_eq!(one["status"], "paused", "{dialect:?}: {one}");
        assert_eq!(one["name"], "Brand NL");
        assert_eq!(one["team"], "sales-nl");

        let now = json(&s, &read, "/v1/campaigns/1234567890/1001/explain").await;
        assert_eq!(now["campaign"], "1234567890/1001");
        let then = json(
            &s,
            &read,
            &format!("/v1/campaigns/1234567890/1001/explain?as_of={enabled_at}"),
        )
        .await;
        assert_ne!(now, then, "{dialect:?}: the past is explained as it was");
        let at = json(
            &s,
            &read,
            &format!("/v1/campaigns/1234567890/1001/explain?at={enabled_at}"),
        )
        .await;
        assert_eq!(at, then, "at is as_of");
        assert!(then.to_string().contains("nabled"), "{then}");

        problem(get(&s, &read, "/v1/campaigns/1234567890/9").await, 404).await;
        problem(
            get(&s, &read, "/v1/campaigns/1234567890/9/explain").await,
            404,
        )
        .await;
        let p = problem(
            get(
                &s,
                &read,
                "/v1/campaigns/1234567890/1001/explain?as_of=soon",
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["field"], "as_of");
        // A campaign is its Google account's project's: default's is not acme's.
        assert_eq!(json(&s, &acme, "/v1/campaigns").await, json!([]));
        problem(get(&s, &acme, "/v1/campaigns/1234567890/1001").await, 404).await;
        problem(
            get(&s, &acme, "/v1/campaigns/1234567890/1001/explain").await,
            404,
        )
        .await;
        // Acme's campaign, read through acme's account `ops` (stored `acme/ops`).
        observe_campaign(&s, "5550001111", "7", Some("acme/ops")).await;
        let mine = json(&s, &acme, "/v1/campaigns").await;
        assert_eq!(mine.as_array().unwrap().len(), 1, "{dialect:?}: {mine}");
        assert_eq!(mine[0]["id"], "5550001111/7");
        assert_eq!(mine[0]["team"], "sales-nl", "named bare");
        let one = json(&s, &acme, "/v1/campaigns/5550001111/7").await;
        assert_eq!(one["name"], "Acme Generic");
        json(&s, &acme, "/v1/campaigns/5550001111/7/explain").await;
        let theirs = json(&s, &read, "/v1/campaigns").await;
        assert_eq!(theirs.as_array().unwrap().len(), 1, "{dialect:?}: {theirs}");
        assert!(!theirs.to_string().contains("5550001111"));
        problem(get(&s, &read, "/v1/campaigns/5550001111/7").await, 404).await;
        problem(
            get(&s, &read, "/v1/campaigns/5550001111/7/explain").await,
            404,
        )
        .await;
        // Its stream is acme's to read, and not default's.
        let events = json(&s, &acme, "/v1/events?stream=campaign:5550001111/7").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1);
        problem(
            get(&s, &acme, "/v1/events?stream=campaign:1234567890/1001").await,
            404,
        )
        .await;
        problem(
            get(&s, &read, "/v1/events?stream=campaign:5550001111/7").await,
            404,
        )
        .await;
        let all = json(&s, &read, "/v1/events?limit=1000").await;
        assert!(!all.to_string().contains("5550001111"), "{dialect:?}");
        let replay = json(&s, &acme, "/v1/replay?at=2026-12-02T00:00:00Z").await;
        assert_eq!(replay["campaigns"].as_array().unwrap().len(), 1, "{replay}");
        assert_eq!(replay["campaigns"][0]["id"], "5550001111/7");
    }
}

/// Observes campaign `customer/campaign` ("Acme Generic", team sales-nl) as read through
/// `google_account`.
async fn observe_campaign(
    s: &Server,
    customer: &str,
    campaign: &str,
    google_account: Option<&str>,
) {
    let snapshot = CampaignSnapshot {
        name: "Acme Generic".into(),
        labels: vec!["team:sales-nl".into()],
        status: CampaignStatus::Enabled,
        daily_budget_micros: 10_000_000,
        bidding: Bidding::ManualCpc,
        ad_schedule: vec![],
        currency: None,
    };
    record(s, customer, campaign, snapshot, 0, google_account).await
}

#[tokio::test]
async fn a_teams_capacity_over_time_and_the_chain_check() {
    let s = start_on(Dialect::Sqlite).await;
    let read = s.key("dash", &[Scope::Read]).await;
    let crm = s.key("crm", &[Scope::Capacity]).await;
    for (minute, open) in [(0, 3), (10, 6), (20, 9)] {
        let r = reqwest::Client::new()
            .post(s.url("/v1/capacity"))
            .bearer_auth(&crm)
            .json(
                &json!({"team": "sales-nl", "agents_available": 2, "open_leads": open,
                "max_open_leads": 10, "at": format!("2026-12-01T09:{minute:02}:00Z")}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let all = json(&s, &read, "/v1/teams/sales-nl/capacity").await;
    let open: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["open_leads"].as_i64().unwrap())
        .collect();
    assert_eq!(open, [3, 6, 9]);
    assert_eq!(all[0]["source"], "crm");
    assert_eq!(all[2]["utilisation"], 0.9);
    let window = json(
        &s,
        &read,
        "/v1/teams/sales-nl/capacity?from=2026-12-01T09:05:00Z&to=2026-12-01T09:20:00Z",
    )
    .await;
    assert_eq!(window.as_array().unwrap().len(), 1);
    assert_eq!(window[0]["open_leads"], 6);
    let newest = json(&s, &read, "/v1/teams/sales-nl/capacity?limit=1").await;
    assert_eq!(newest[0]["open_leads"], 9, "the newest");
    assert_eq!(
        json(&s, &read, "/v1/teams/nobody/capacity").await,
        json!([])
    );
    problem(
        get(&s, &read, "/v1/teams/sales-nl/capacity?limit=0").await,
        422,
    )
    .await;
    // The chain's verification: tests/audit_log.rs.
}

#[tokio::test]
async fn evaluations_last_changes_and_the_past_are_read_back() {
    use leadorch_domain::campaign::CampaignChange;
    use leadorch_domain::evaluation::{EvaluationRecord, RequestedChange};
    use leadorch_domain::{Evaluation, EvaluationCommand};

    let s = start_on(Dialect::Sqlite).await;
    let read = s.key("dash", &[Scope::Read]).await;
    observe(&s, CampaignStatus::Enabled, 0).await;
    let before = s.engine.store.log.head().await.unwrap().position;
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 10, 0).unwrap();
    let record = EvaluationRecord {
        trigger: "capacity_changed".into(),
        log_position: before,
        facts_digest: "0".repeat(64),
        facts: json!({"campaigns": {"1234567890/1001": {"status": "enabled"}}}),
        rules: vec![],
        resolution: json!({}),
        changes: vec![RequestedChange {
            campaign: "1234567890/1001".into(),
            change_id: "c-1".into(),
            rule_id: "capacity_gate".into(),
            action: "pause".into(),
        }],
        engine_version: "test".into(),
        rhai_version: "test".into(),
        lib_digest: "0".repeat(64),
        duration_us: 1,
        at,
        google_account: None,
    };
    s.engine
        .execute::<Evaluation>(
            "ev-1",
            EvaluationCommand::Record(Box::new(record)),
            &Metadata::actor("daemon"),
        )
        .await
        .unwrap();
    s.engine
        .execute::<Campaign>(
            "1234567890/1001",
            CampaignCommand::RequestChange {
                change_id: "c-1".into(),
                change: CampaignChange::Pause,
                reason: "team sales-nl is full".into(),
                decision_ref: Some("ev-1".into()),
                google_account: None,
                at,
            },
            &Metadata::actor("daemon"),
        )
        .await
        .unwrap();

    let one = json(&s, &read, "/v1/campaigns/1234567890/1001").await;
    let change = &one["last_change"];
    assert_eq!(change["change_id"], "c-1", "{one}");
    assert_eq!(change["reason"], "team sales-nl is full");
    assert_eq!(change["decision_ref"], "ev-1");
    assert_eq!(change["state"], "requested");
    assert_eq!(one["pending_changes"], 1);

    let evs = json(&s, &read, "/v1/evaluations").await;
    assert_eq!(evs["items"].as_array().unwrap().len(), 1, "{evs}");
    assert_eq!(evs["items"][0]["id"], "ev-1");
    assert_eq!(evs["items"][0]["evaluation"]["trigger"], "capacity_changed");
    assert_eq!(
        evs["items"][0]["evaluation"]["changes"][0]["rule_id"],
        "capacity_gate"
    );
    let named = json(&s, &read, "/v1/evaluations?campaign=1234567890/1001").await;
    assert_eq!(named["items"].as_array().unwrap().len(), 1);
    let other = json(&s, &read, "/v1/evaluations?campaign=1234567890/9").await;
    assert_eq!(other["items"], json!([]));

    // As it was before the change was asked for: no change then.
    let then = json(&s, &read, &format!("/v1/replay?at={before}")).await;
    assert_eq!(then["position"], before);
    assert_eq!(then["campaigns"][0]["id"], "1234567890/1001");
    assert_eq!(then["campaigns"][0]["last_change"], Value::Null, "{then}");
    let now = json(&s, &read, "/v1/replay?at=2100-01-01").await;
    assert_eq!(now["campaigns"][0]["last_change"]["change_id"], "c-1");
    let p = problem(get(&s, &read, "/v1/replay").await, 422).await;
    assert_eq!(p["field"], "at");
}

/// The evaluation ids of a page of `GET /v1/evaluations`, in its order.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn evaluations_page_newest_first_before_a_position() {
    use leadorch_domain::evaluation::EvaluationRecord;
    use leadorch_domain::{Evaluation, EvaluationCommand};

    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let read = s.key("dash", &[Scope::Read]).await;
        observe(&s, CampaignStatus::Enabled, 0).await;
        let mut positions = Vec::new();
        for i in 1..=5 {
            let record = EvaluationRecord {
                trigger: "schedule".into(),
                log_position: i,
                facts_digest: "0".repeat(64),
                facts: json!({}),
                rules: vec![],
                resolution: json!({}),
                changes: vec![],
                engine_version: "test".into(),
                rhai_version: "test".into(),
                lib_digest: "0".repeat(64),
                duration_us: 1,
                at: Utc.with_ymd_and_hms(2026, 12, 1, 9, i as u32, 0).unwrap(),
                google_account: None,
            };
            s.engine
                .execute::<Evaluation>(
                    &format!("ev-{i}"),
                    EvaluationCommand::Record(Box::new(record)),
                    &Metadata::actor("daemon"),
                )
                .await
                .unwrap();
            positions.push(s.engine.store.log.head().await.unwrap().position);
            // Something else between evaluations, so positions are not consecutive.
            observe(&s, CampaignStatus::Enabled, i as i64).await;
        }
        let head = s.engine.store.log.head().await.unwrap().position;
        let all: Vec<String> = (1..=5).map(|i| format!("ev-{i}")).collect();
        let newest: Vec<String> = all.iter().rev().cloned().collect();

        let page = json(&s, &read, "/v1/evaluations").await;
        assert_eq!(ids(&page), all, "{dialect:?}: oldest first by default");
        assert_eq!(page["next"], Value::Null);

        // Newest first from the end, page by page, `next` passed as `before`.
        let page = json(&s, &read, "/v1/evaluations?order=newest&limit=2").await;
        assert_eq!(ids(&page), newest[..2], "{dialect:?}");
        assert_eq!(page["next"], positions[3].to_string());
        let page = json(
            &s,
            &read,
            &format!(
                "/v1/evaluations?order=newest&limit=2&before={}",
                positions[3]
            ),
        )
        .await;
        assert_eq!(ids(&page), newest[2..4]);
        let page = json(
            &s,
            &read,
            &format!("/v1/evaluations?limit=2&before={}", positions[1]),
        )
        .await;
        assert_eq!(ids(&page), newest[4..], "before alone: newest first");
        assert_eq!(page["next"], Value::Null);

        // `before` = head + 1 is the end; both bounds; oldest first within them.
        let page = json(&s, &read, &format!("/v1/evaluations?before={}", head + 1)).await;
        assert_eq!(ids(&page), newest);
        let range = format!("after={}&before={}", positions[0], positions[4]);
        let page = json(&s, &read, &format!("/v1/evaluations?{range}")).await;
        assert_eq!(ids(&page), ["ev-4", "ev-3", "ev-2"]);
        let page = json(&s, &read, &format!("/v1/evaluations?{range}&order=oldest")).await;
        assert_eq!(ids(&page), ["ev-2", "ev-3", "ev-4"]);
        let page = json(
            &s,
            &read,
            &format!("/v1/evaluations?{range}&order=oldest&limit=2"),
        )
        .await;
        assert_eq!(ids(&page), ["ev-2", "ev-3"]);
        assert_eq!(page["next"], positions[2].to_string());

        for (query, field) in [
            ("/v1/evaluations?order=sideways", "order"),
            ("/v1/evaluations?before=x", "before"),
            ("/v1/evaluations?before=9223372036854775808", "before"),
        ] {
            let p = problem(get(&s, &read, query).await, 422).await;
            assert_eq!(p["field"], field, "{query}: {p}");
        }
    }
}

/// What the server keeps in memory (its facts view, its replays' kept views) shows a Google
/// account's data only while the account's key exists: forgotten (its key destroyed, here
/// with no event, as any process might), the next answer no longer has it (ADR 0043).
#[tokio::test]
async fn a_forgotten_accounts_data_leaves_what_the_server_keeps() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_on(dialect).await;
        let read = s.key("dash", &[Scope::Read]).await;
        observe_via(&s, CampaignStatus::Enabled, 0, Some("ops")).await;
        observe_via(&s, CampaignStatus::Paused, 30, Some("ops")).await;
        let reads = [
            "/v1/campaigns",
            "/v1/campaigns/1234567890/1001",
            "/v1/replay?at=2026-12-01T09:10:00Z",
            "/v1/replay?at=2100-01-01",
        ];
        for path in reads {
            let body = json(&s, &read, path).await.to_string();
            assert!(body.contains("Brand NL"), "{dialect:?} {path}: {body}");
        }
        let destroyed = s.engine.store.codec.keys().destroy("ops", None).await;
        assert!(!destroyed.unwrap().is_empty(), "{dialect:?}: ops had a key");
        // Without its Google data the campaign is not listed (nor found), and the replays
        // answer without it.
        for path in reads {
            let r = get(&s, &read, path).await;
            let status = r.status();
            let body = r.text().await.unwrap();
            assert!(!body.contains("Brand NL"), "{dialect:?} {path}: {body}");
            let expected = if path.contains("/1001") { 404 } else { 200 };
            assert_eq!(status, expected, "{dialect:?} {path}: {body}");
        }
    }
}
