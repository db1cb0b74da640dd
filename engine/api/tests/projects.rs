//! Projects over real HTTP (ADR 0030): two projects hold the same names (team `sales-nl`,
//! rule `capacity_gate`, lead `f-1`) and each sees only its own; every id that only the other
//! project has is a `404` for a key with every scope — never a `403`, and the same answer as
//! an id that does not exist; no list holds the other project's ids; nothing is written by a
//! refusal.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{start, Server};
use leadorch_api::keys::Scope;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_store::Metadata;
use serde_json::{json, Value};

const GATE: &str = "//! on: capacity_changed\n//! scope: labels=capacity-gated\nif team == () { return; }\nif team.utilisation >= 0.9 && !campaign.paused { return pause(\"full\"); }\n";

struct Call<'a> {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    key: &'a str,
}

async fn send(s: &Server, call: &Call<'_>) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .request(call.method.clone(), s.url(&call.path))
        .bearer_auth(call.key);
    if let Some(b) = &call.body {
        r = r.json(b);
    }
    r.send().await.unwrap()
}

async fn ok(
    s: &Server,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let call = Call {
        method,
        path: path.to_string(),
        body,
        key,
    };
    let r = send(s, &call).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(
        status.is_success(),
        "{} {path}: {status} {text}",
        call.method
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn lead(id: &str, email: &str) -> Value {
    json!({"lead_id": id, "form_id": "contact", "email": email, "phone": "+31 20 123 4567",
        "team": "sales-nl",
        "consent": {"text": "I agree to be called about my request",
            "at": "2026-12-01T10:00:00Z", "url": "https://example.org/contact"}})
}

async fn observe(s: &Server, customer: &str, account: &str) {
    observe_with(s, customer, account, 10_000_000).await;
}

/// An observation with this daily budget (a changed snapshot records a new observation).
async fn observe_with(s: &Server, customer: &str, account: &str, budget_micros: i64) {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    s.engine
        .execute::<Campaign>(
            &Campaign::aggregate_id(customer, "1"),
            CampaignCommand::Observe {
                customer_id: customer.into(),
                campaign_id: "1".into(),
                snapshot: CampaignSnapshot {
                    name: "Generic".into(),
                    labels: vec!["team:sales-nl".into(), "capacity-gated".into()],
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: budget_micros,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: None,
                },
                manual_hold: Duration::hours(4),
                google_account: Some(account.into()),
                at,
            },
            &Metadata::actor("test"),
        )
        .await
        .unwrap();
}

/// What each project holds: the shared names, and `only` (a team, a rule, a lead) that only
/// it has; returns the subject id of its `only` lead.
async fn fill(s: &Server, key: &str, project: &str, only: &str, customer: &str) -> String {
    use reqwest::Method;
    let team = json!({"time_zone": "Europe/Amsterdam", "max_open_leads": 40});
    for t in ["sales-nl", only] {
        ok(
            s,
            key,
            Method::PUT,
            &format!("/v1/teams/{t}"),
            Some(team.clone()),
        )
        .await;
    }
    for r in ["capacity_gate", only] {
        ok(
            s,
            key,
            Method::PUT,
            &format!("/v1/rules/{r}"),
            Some(json!({"source": GATE, "enable": true})),
        )
        .await;
    }
    ok(
        s,
        key,
        Method::POST,
        "/v1/leads",
        Some(lead("f-1", &format!("ann@{project}.example.org"))),
    )
    .await;
    let only_lead = ok(
        s,
        key,
        Method::POST,
        "/v1/leads",
        Some(lead(only, &format!("bob@{project}.example.org"))),
    )
    .await;
    let account = leadorch_domain::project::scoped(project, "ops");
    observe(s, customer, &account).await;
    let read = ok(
        s,
        key,
        Method::GET,
        &format!("/v1/leads/{}", only_lead["lead_id"].as_str().unwrap()),
        None,
    )
    .await;
    read["subject_id"].as_str().expect("subject id").to_string()
}

#[tokio::test]
async fn cross_project_ids_answer_404_and_lists_hold_only_ones_own() {
    use reqwest::Method;
    let s = start().await;
    let ours = s.key("all", &Scope::ALL).await;
    let (acme, _) = s.key_in("acme", "all", &Scope::ALL, &[]).await;
    let our_subject = fill(&s, &ours, "default", "ours-only", "1111111111").await;
    let acme_subject = fill(&s, &acme, "acme", "acme-only", "2222222222").await;

    // Each project's own names read back as its own.
    for (key, customer) in [(&ours, "1111111111"), (&acme, "2222222222")] {
        let campaigns = ok(&s, key, Method::GET, "/v1/campaigns", None).await;
        assert_eq!(campaigns.as_array().unwrap().len(), 1, "{campaigns}");
        assert_eq!(campaigns[0]["id"], format!("{customer}/1"));
        let team = ok(&s, key, Method::GET, "/v1/teams/sales-nl", None).await;
        assert_eq!(team["name"], "sales-nl", "{team}");
        let rule = ok(&s, key, Method::GET, "/v1/rules/capacity_gate", None).await;
        assert_eq!(rule["id"], "capacity_gate", "{rule}");
        ok(&s, key, Method::GET, "/v1/leads/f-1", None).await;
        ok(
            &s,
            key,
            Method::POST,
            "/v1/rules/capacity_gate/dry-run",
            Some(json!({})),
        )
        .await;
    }

    // Ids only the other project has, for a key with every scope.
    let theirs =
        |only: &str, subject: &str, customer: &str| -> Vec<(Method, String, Option<Value>)> {
            vec![
                (Method::GET, format!("/v1/teams/{only}"), None),
                (
                    Method::DELETE,
                    format!("/v1/teams/{only}/members/m-1"),
                    None,
                ),
                (Method::GET, format!("/v1/leads/{only}"), None),
                (
                    Method::POST,
                    format!("/v1/leads/{only}/status"),
                    Some(json!({"status": "won"})),
                ),
                (Method::GET, format!("/v1/subjects/{subject}/export"), None),
                (
                    Method::POST,
                    format!("/v1/subjects/{subject}/consent/withdraw"),
                    Some(json!({})),
                ),
                (Method::DELETE, format!("/v1/subjects/{subject}"), None),
                (Method::GET, format!("/v1/rules/{only}"), None),
                (Method::GET, format!("/v1/rules/{only}/history"), None),
                (
                    Method::GET,
                    format!("/v1/rules/{only}/diff?from=1&to=1"),
                    None,
                ),
                (Method::POST, format!("/v1/rules/{only}/enable"), None),
                (Method::POST, format!("/v1/rules/{only}/disable"), None),
                (
                    Method::POST,
                    format!("/v1/rules/{only}/rollback"),
                    Some(json!({"version": 1})),
                ),
                (
                    Method::POST,
                    format!("/v1/rules/{only}/dry-run"),
                    Some(json!({})),
                ),
                (
                    Method::POST,
                    format!("/v1/rules/{only}/backtest"),
                    Some(json!({"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"})),
                ),
                (Method::GET, format!("/v1/campaigns/{customer}/1"), None),
                (
                    Method::GET,
                    format!("/v1/campaigns/{customer}/1/explain"),
                    None,
                ),
                (
                    Method::GET,
                    format!("/v1/events?stream=campaign:{customer}/1"),
                    None,
                ),
                (
                    Method::POST,
                    "/v1/google/accounts/nobody/revoke".to_string(),
                    None,
                ),
            ]
        };
    let cases = [
        (&acme, theirs("ours-only", &our_subject, "1111111111")),
        (&ours, theirs("acme-only", &acme_subject, "2222222222")),
    ];
    for (key, calls) in cases {
        for (method, path, body) in calls {
            let head = s.engine.store.log.head().await.unwrap().position;
            let call = Call {
                method: method.clone(),
                path: path.clone(),
                body,
                key,
            };
            let r = send(&s, &call).await;
            assert_eq!(
                r.status(),
                404,
                "{method} {path}: {}",
                r.text().await.unwrap()
            );
            assert_eq!(
                s.engine.store.log.head().await.unwrap().position,
                head,
                "{method} {path} wrote nothing"
            );
        }
    }

    // Lists: none holds the other project's ids.
    let lists = [
        "/v1/rules",
        "/v1/teams",
        "/v1/campaigns",
        "/v1/evaluations",
        "/v1/google/accounts",
        "/v1/events?limit=1000",
        "/v1/replay?at=2026-12-31T00:00:00Z",
        "/v1/access-log",
        "/v1/keys",
    ];
    for path in lists {
        let mine = ok(&s, &acme, Method::GET, path, None).await.to_string();
        for foreign in ["ours-only", "1111111111", &our_subject] {
            assert!(
                !mine.contains(foreign),
                "acme's {path} holds {foreign}: {mine}"
            );
        }
        let default = ok(&s, &ours, Method::GET, path, None).await.to_string();
        for foreign in ["acme", "2222222222", &acme_subject] {
            assert!(
                !default.contains(foreign),
                "default's {path} holds {foreign}: {default}"
            );
        }
    }
}

/// A campaign's stream is the project's of the account it was last read through: read
/// through `acme/ops`, then (changed) through `ops`, it moves from `acme` to the default project, and
/// the events endpoint follows it at once (its owners catch up from `CampaignObserved`
/// events alone, so reading the log never waits for the facts view).
#[tokio::test]
async fn a_campaign_s_stream_follows_the_account_it_was_last_read_through() {
    use reqwest::Method;
    let s = start().await;
    let ours = s.key("all", &Scope::ALL).await;
    let (acme, _) = s.key_in("acme", "all", &Scope::ALL, &[]).await;
    let stream = "/v1/events?stream=campaign:3333333333/1";
    let status = |key: String| {
        let s = &s;
        async move {
            send(
                s,
                &Call {
                    method: Method::GET,
                    path: stream.to_string(),
                    body: None,
                    key: &key,
                },
            )
            .await
            .status()
        }
    };
    // Not yet read from Google: the default project's, as a simulated campaign is.
    assert_eq!(status(ours.clone()).await, 200);
    assert_eq!(status(acme.clone()).await, 404);
    observe(&s, "3333333333", "acme/ops").await;
    assert_eq!(status(acme.clone()).await, 200);
    assert_eq!(status(ours.clone()).await, 404);
    observe_with(&s, "3333333333", "ops", 20_000_000).await;
    assert_eq!(status(ours.clone()).await, 200);
    assert_eq!(status(acme.clone()).await, 404);
    let events = ok(&s, &ours, Method::GET, stream, None).await;
    // The two observations, and the budget change the second one found.
    assert_eq!(
        events["items"].as_array().map(Vec::len),
        Some(3),
        "{events}"
    );
}
