//! A long request's progress over real HTTP (`Progress-Token`, `GET /v1/progress/{token}`,
//! ADR 0043): followed while the request runs, for its key only, gone once it answers; a
//! malformed token is refused before any work.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{problem, start_on, Server};
use leadorch_api::keys::Scope;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_store::{Dialect, Metadata};
use serde_json::Value;
use sqlx::Connection;

/// Observes campaign `1234567890/<n>` at 09:00 + `n` minutes on 2026-12-01.
async fn observe(s: &Server, n: u32) {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + Duration::minutes(n.into());
    let campaign = n.to_string();
    s.engine
        .execute::<Campaign>(
            &Campaign::aggregate_id("1234567890", &campaign),
            CampaignCommand::Observe {
                customer_id: "1234567890".into(),
                campaign_id: campaign.clone(),
                snapshot: CampaignSnapshot {
                    name: format!("Campaign {n}"),
                    labels: vec!["team:sales-nl".into()],
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: 50_000_000,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: None,
                },
                manual_hold: Duration::hours(4),
                google_account: None,
                at,
            },
            &Metadata::actor("test"),
        )
        .await
        .expect("observe a campaign");
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn progress(s: &Server, key: &str, token: &str) -> reqwest::Response {
    client()
        .get(s.url(&format!("/v1/progress/{token}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_replay_is_followed_while_it_runs_and_only_by_its_key() {
    let s = start_on(Dialect::Postgres).await;
    let read = s.key("desk", &[Scope::Read]).await;
    let other = s.key("other", &[Scope::Read]).await;
    for n in 1..=3 {
        observe(&s, n).await;
    }
    let head = s.engine.store.log.head().await.unwrap().position;

    // The replay's first read of the log waits behind this lock, so the request is running
    // (and followed) for as long as the test holds it.
    let mut lock = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();

    let replay = tokio::spawn({
        let url = s.url("/v1/replay?at=2100-01-01");
        let key = read.clone();
        async move {
            client()
                .get(url)
                .bearer_auth(key)
                .header("Progress-Token", "replay-1")
                .send()
                .await
                .unwrap()
        }
    });
    // Until the request has arrived the token is unknown (404); then it is followed.
    let seen: Value = loop {
        let r = progress(&s, &read, "replay-1").await;
        match r.status().as_u16() {
            200 => break r.json().await.unwrap(),
            404 => tokio::task::yield_now().await,
            other => panic!("progress answered {other}"),
        }
        assert!(!replay.is_finished(), "the replay answered under the lock");
    };
    assert_eq!(seen["token"], "replay-1");
    assert_eq!(seen["unit"], "events");
    assert_eq!(seen["done"], 0, "nothing read yet: {seen}");
    // Another key's request with the same token is not this key's to see.
    problem(progress(&s, &other, "replay-1").await, 404).await;

    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    let answer = replay.await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["position"], head);
    assert_eq!(body["campaigns"].as_array().unwrap().len(), 3);
    // Answered: no longer followed.
    let gone = problem(progress(&s, &read, "replay-1").await, 404).await;
    assert!(
        gone["detail"].as_str().unwrap().contains("replay-1"),
        "{gone}"
    );
}

#[tokio::test]
async fn a_malformed_token_is_refused_before_any_work() {
    let s = start_on(Dialect::Sqlite).await;
    let read = s.key("desk", &[Scope::Read]).await;
    for bad in ["has space", "a/b", &"x".repeat(65)] {
        let r = client()
            .get(s.url("/v1/replay?at=2100-01-01"))
            .bearer_auth(&read)
            .header("Progress-Token", bad)
            .send()
            .await
            .unwrap();
        let p = problem(r, 422).await;
        assert_eq!(p["field"], "Progress-Token", "{bad:?}: {p}");
    }
    let p = problem(progress(&s, &read, "no%20such").await, 422).await;
    assert_eq!(p["field"], "token");
    // No key, no progress.
    let r = client()
        .get(s.url("/v1/progress/abc"))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    // A good token of a request that never ran: 404.
    problem(progress(&s, &read, "never-sent").await, 404).await;
    // A good one on a replay: answered as without it.
    let r = client()
        .get(s.url("/v1/replay?at=2100-01-01"))
        .bearer_auth(&read)
        .header("Progress-Token", "ok_token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
