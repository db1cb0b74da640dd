//! `POST /v1/leads` and `POST /v1/leads/{id}/status` over real HTTP: the issue's smallest
//! request is accepted; the same person written differently is a duplicate naming the first
//! lead; disposable domains, missing consent and a team that takes no leads are blocked but
//! recorded; wrong fields are all named and store nothing; `Idempotency-Key` replays the first
//! answer and refuses another body; status changes move the backlog of a team whose capacity
//! comes from its leads.

mod common;

use common::{problem, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_api::Settings;
use leadorch_store::{Dialect, EventFilter};
use serde_json::{json, Value};

const SMALLEST: &str = r#"{"lead_id":"f-1029","form_id":"contact","email":"ann@example.org","phone":"+31 20 123 4567",
 "consent":{"text":"I agree to be called about my request","at":"2026-12-01T10:00:00Z",
            "url":"https://example.org/contact"}}"#;

fn settings() -> Settings {
    let mut s = Settings::default();
    s.intake.default_region = Some(leadorch_intake::Region::parse("NL").unwrap());
    s.intake
        .form_teams
        .insert("callback".into(), "sales-callback".into());
    s.default_team = Some("sales-nl".into());
    s
}

fn lead(id: &str, email: &str, phone: &str) -> Value {
    let mut v: Value = serde_json::from_str(SMALLEST).unwrap();
    v["lead_id"] = json!(id);
    v["email"] = json!(email);
    v["phone"] = json!(phone);
    v
}

/// Every event of type `event_type`: stream, stored payload (as text), metadata.
async fn events(s: &Server, event_type: &str) -> Vec<(String, String, Value)> {
    s.engine
        .store
        .log
        .list(&EventFilter {
            stream: None,
            event_type: Some(event_type.into()),
            after: 0,
            until: None,
            limit: None,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.stream_id.clone(),
                String::from_utf8_lossy(&r.payload).into_owned(),
                serde_json::from_slice(&r.metadata).unwrap(),
            )
        })
        .collect()
}

async fn head(s: &Server) -> u64 {
    s.engine.store.log.head().await.unwrap().position
}

struct Client<'a> {
    s: &'a Server,
    key: String,
    http: reqwest::Client,
}

impl Client<'_> {
    async fn post(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.s.url("/v1/leads"))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn accepted(&self, body: &Value) -> Value {
        let r = self.post(body).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    async fn status(&self, id: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.s.url(&format!("/v1/leads/{id}/status")))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

async fn client<'a>(s: &'a Server, project: &str) -> Client<'a> {
    let (key, _) = s.key_in(project, "website", &[Scope::Ingest], &[]).await;
    Client {
        s,
        key,
        http: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn a_lead_is_accepted_then_the_same_person_is_a_duplicate_on_both_backends() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_with(dialect, settings()).await;
        let c = client(&s, "default").await;

        let body: Value = serde_json::from_str(SMALLEST).unwrap();
        let first = c.accepted(&body).await;
        assert_eq!(first["lead_id"], "f-1029", "{dialect:?}");
        assert_eq!(first["outcome"], "accepted");
        assert_eq!(first["reason"], Value::Null);
        assert_eq!(first["team"], "sales-nl", "the default team routes it");
        assert!(first["trace_id"].as_str().unwrap().len() >= 32);

        // Recorded: the consent, then the lead, personal fields sealed.
        let received = events(&s, "LeadReceived").await;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].0, "lead:f-1029");
        assert!(!received[0].1.contains("ann@example.org"), "email sealed");
        assert!(!received[0].1.contains("31201234567"), "phone sealed");
        assert_eq!(received[0].2["trace_id"], first["trace_id"]);
        assert!(received[0].2["actor"]
            .as_str()
            .unwrap()
            .starts_with("api-key:"));
        let consents = events(&s, "ConsentGranted").await;
        assert_eq!(consents.len(), 1);
        assert!(
            consents[0].1.contains("I agree to be called"),
            "text in clear"
        );

        // The same email in other letter case, another phone: a duplicate naming f-1029.
        let r = c
            .accepted(&lead("f-1030", "ANN@Example.ORG", "+31 6 1234 5678"))
            .await;
        assert_eq!(r["outcome"], "duplicate", "{dialect:?}: {r}");
        assert!(r["reason"].as_str().unwrap().contains("f-1029"), "{r}");
        assert_eq!(r["duplicate_of"], "f-1029");
        // The same phone written the national way, another email.
        let r = c
            .accepted(&lead("f-1031", "bob@example.org", "020-123 45 67"))
            .await;
        assert_eq!(r["outcome"], "duplicate", "{r}");
        assert_eq!(r["duplicate_of"], "f-1029");
        // Someone else.
        let r = c
            .accepted(&lead("f-1032", "carl@example.org", "+31 6 8765 4321"))
            .await;
        assert_eq!(r["outcome"], "accepted", "{r}");
        assert_eq!(events(&s, "LeadDeduplicated").await.len(), 2);

        // A duplicate joins the first lead's subject, so erasing the person covers both.
        let subject = |payload: &str| -> String {
            let v: Value = serde_json::from_str(payload).unwrap();
            let inner = v.as_object().unwrap().values().next().unwrap().clone();
            inner["subject_id"].as_str().unwrap().to_string()
        };
        let dups = events(&s, "LeadDeduplicated").await;
        assert_eq!(subject(&dups[0].1), subject(&received[0].1));

        // Another project's lead with the same id and email is its own, accepted.
        let other = client(&s, "acme").await;
        let r = other.accepted(&body).await;
        assert_eq!(
            r["outcome"], "accepted",
            "{dialect:?}: projects dedup apart"
        );
        assert_eq!(r["lead_id"], "f-1029");
        let acme = events(&s, "LeadReceived").await;
        let acme = acme.iter().find(|e| e.0 == "lead:acme/f-1029").unwrap();
        assert!(
            subject(&acme.1).starts_with("acme/"),
            "{dialect:?}: scoped subject"
        );
        assert!(events(&s, "ConsentGranted")
            .await
            .iter()
            .any(|e| e.0.starts_with("consent:acme/")));
    }
}

#[tokio::test]
async fn blocked_leads_are_recorded_with_their_reason() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let c = client(&s, "default").await;

    let r = c
        .accepted(&lead("b-1", "someone@mailinator.com", "+31 6 1111 1111"))
        .await;
    assert_eq!(r["outcome"], "blocked", "{r}");
    assert_eq!(r["blocked"], "disposable_email");
    assert!(r["reason"].as_str().unwrap().contains("mailinator.com"));

    let mut no_consent = lead("b-2", "dora@example.org", "+31 6 2222 2222");
    no_consent.as_object_mut().unwrap().remove("consent");
    let r = c.accepted(&no_consent).await;
    assert_eq!(r["outcome"], "blocked");
    assert_eq!(r["blocked"], "consent_missing");

    // A team whose maximum of open leads is 0 takes none.
    leadorch_evaluate::teams::set_team(
        &s.engine,
        "closed-team",
        &serde_json::from_value(json!({"max_open_leads": 0})).unwrap(),
        chrono::Utc::now(),
        "test",
    )
    .await
    .unwrap();
    let mut to_closed = lead("b-3", "erik@example.org", "+31 6 3333 3333");
    to_closed["team"] = json!("closed-team");
    let r = c.accepted(&to_closed).await;
    assert_eq!(r["outcome"], "blocked", "{r}");
    assert_eq!(r["blocked"], "team_not_accepting");
    assert_eq!(r["team"], "closed-team");

    let blocked = events(&s, "LeadBlocked").await;
    assert_eq!(blocked.len(), 3);
    assert!(blocked.iter().all(|e| !e.1.contains("example.org")));
    // A blocked lead claims nothing: the same person with consent is accepted.
    let r = c
        .accepted(&lead("b-4", "dora@example.org", "+31 6 2222 2222"))
        .await;
    assert_eq!(r["outcome"], "accepted", "{r}");
}

#[tokio::test]
async fn teams_are_routed_by_request_form_default_or_unassigned() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let c = client(&s, "default").await;
    let mut named = lead("r-1", "r1@example.org", "+31 6 4000 0001");
    named["team"] = json!("sales-be");
    assert_eq!(c.accepted(&named).await["team"], "sales-be");
    let mut form = lead("r-2", "r2@example.org", "+31 6 4000 0002");
    form["form_id"] = json!("callback");
    assert_eq!(c.accepted(&form).await["team"], "sales-callback");
    assert_eq!(
        c.accepted(&lead("r-3", "r3@example.org", "+31 6 4000 0003"))
            .await["team"],
        "sales-nl"
    );

    // A campaign's team routes the default project's leads; another project's lead naming
    // that campaign is not routed by it (campaigns are the default project's, ADR 0030).
    let mut settings = settings();
    settings
        .campaign_teams
        .insert("1234567890/555".into(), "sales-campaign".into());
    let s = start_with(Dialect::Sqlite, settings).await;
    let mut by_campaign = lead("r-5", "r5@example.org", "+31 6 4000 0005");
    by_campaign["campaign_id"] = json!("555");
    let c = client(&s, "default").await;
    assert_eq!(c.accepted(&by_campaign).await["team"], "sales-campaign");
    let acme = client(&s, "acme").await;
    assert_eq!(acme.accepted(&by_campaign).await["team"], "sales-nl");

    // With nothing to route it, the lead is still recorded, as unassigned.
    let bare = start_with(Dialect::Sqlite, Settings::default()).await;
    let c = client(&bare, "default").await;
    let r = c
        .accepted(&lead("r-4", "r4@example.org", "+31612345678"))
        .await;
    assert_eq!(r["outcome"], "accepted");
    assert_eq!(r["team"], "unassigned");
}

#[tokio::test]
async fn wrong_fields_are_all_named_and_store_nothing() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let c = client(&s, "default").await;
    let before = head(&s).await;

    let mut bad = lead("x 1", "not-an-email", "12");
    bad["consent"]["at"] = json!("yesterday");
    let p = problem(c.post(&bad).await, 422).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["lead_id", "email", "phone", "consent.at"], "{p}");
    assert_eq!(p["field"], "lead_id");
    assert!(
        !p.to_string().contains("not-an-email"),
        "no personal value quoted: {p}"
    );

    let mut unknown = lead("x-2", "a@example.org", "+31612345678");
    unknown["emial"] = json!("a@example.org");
    let p = problem(c.post(&unknown).await, 422).await;
    assert_eq!(p["field"], "emial");

    let r = c
        .http
        .post(s.url("/v1/leads"))
        .bearer_auth(&c.key)
        .header("content-type", "application/json")
        .body("{\"lead_id\": ")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;

    // Too large, and not JSON: problems too.
    let big = lead("x-big", "a@example.org", "+31612345678");
    let mut big = big.clone();
    big["metadata"] = json!({"note": "y".repeat(300 * 1024)});
    let r = c.post(&big).await;
    problem(r, 413).await;
    let r = c
        .http
        .post(s.url("/v1/leads"))
        .bearer_auth(&c.key)
        .header("content-type", "text/plain")
        .body(SMALLEST)
        .send()
        .await
        .unwrap();
    problem(r, 415).await;

    // A key without the ingest scope.
    let (capacity_only, _) = s.key_in("default", "crm", &[Scope::Capacity], &[]).await;
    let r = c
        .http
        .post(s.url("/v1/leads"))
        .bearer_auth(capacity_only)
        .json(&lead("x-3", "a@example.org", "+31612345678"))
        .send()
        .await
        .unwrap();
    problem(r, 403).await;

    assert_eq!(head(&s).await, before, "nothing stored");
    // Nor claimed: the person the refused requests named is new when a valid lead comes.
    let r = c
        .accepted(&lead("x-4", "a@example.org", "+31612345678"))
        .await;
    assert_eq!(r["outcome"], "accepted", "{r}");
}

#[tokio::test]
async fn leads_of_one_person_at_once_have_one_first_and_each_is_written_in_one_commit() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_with(dialect, settings()).await;
        let c = client(&s, "default").await;
        // Twelve leads of one person, sent at once: one is the first, eleven its duplicates
        // (none is lost, none answers 503, no claim is left without its lead).
        let bodies: Vec<Value> = (0..12)
            .map(|i| {
                lead(
                    &format!("r-{i}"),
                    "ann@example.org",
                    &format!("+31 6 1000 00{i:02}"),
                )
            })
            .collect();
        let answers = futures::future::join_all(bodies.iter().map(|b| c.accepted(b))).await;
        let firsts: Vec<&Value> = answers
            .iter()
            .filter(|a| a["outcome"] == "accepted")
            .collect();
        assert_eq!(firsts.len(), 1, "{dialect:?}: {answers:?}");
        let first = firsts[0]["lead_id"].as_str().unwrap();
        for a in &answers {
            if a["outcome"] == "duplicate" {
                assert_eq!(a["duplicate_of"], first, "{dialect:?}: {a}");
            }
        }

        // Each lead's consent and the lead itself: one commit (adjacent positions, one
        // recorded time), the consent first.
        let all = s
            .engine
            .store
            .log
            .list(&EventFilter {
                stream: None,
                event_type: None,
                after: 0,
                until: None,
                limit: None,
            })
            .await
            .unwrap();
        let leads: Vec<_> = all
            .iter()
            .filter(|e| e.stream_id.starts_with("lead:"))
            .collect();
        assert_eq!(leads.len(), 12, "{dialect:?}");
        for l in leads {
            let consent = all
                .iter()
                .find(|e| e.position + 1 == l.position)
                .expect("an event before the lead");
            assert_eq!(consent.event_type, "ConsentGranted", "{dialect:?}");
            assert_eq!(
                consent.recorded_at, l.recorded_at,
                "{dialect:?}: one commit"
            );
        }

        // The same request sent eight times at once with one Idempotency-Key: one lead,
        // eight identical answers.
        let body = lead("k-race", "zoe@example.org", "+31 6 2000 0000").to_string();
        let sends = (0..8).map(|_| {
            c.http
                .post(s.url("/v1/leads"))
                .bearer_auth(&c.key)
                .header("idempotency-key", "race-1")
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        });
        let mut seen = Vec::new();
        for r in futures::future::join_all(sends).await {
            let r = r.unwrap();
            assert_eq!(r.status(), 201, "{dialect:?}");
            seen.push(r.json::<Value>().await.unwrap());
        }
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "{dialect:?}: {seen:?}"
        );
        let received = events(&s, "LeadReceived").await;
        assert_eq!(
            received.iter().filter(|e| e.0 == "lead:k-race").count(),
            1,
            "{dialect:?}"
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let c = client(&s, "default").await;
    let send = |body: String, key: &'static str| {
        c.http
            .post(s.url("/v1/leads"))
            .bearer_auth(&c.key)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let first = send(SMALLEST.to_string(), "k-1").await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let after_first = head(&s).await;

    // The same lead, keys in another order and other spacing: the same request.
    let mut reordered = serde_json::Map::new();
    let v: Value = serde_json::from_str(SMALLEST).unwrap();
    for (k, val) in v.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), val.clone());
    }
    let again = send(serde_json::to_string_pretty(&reordered).unwrap(), "k-1")
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the first answer, trace id and all");
    assert_eq!(head(&s).await, after_first, "nothing recorded twice");

    let other = lead("f-2000", "zed@example.org", "+31 6 9999 0000").to_string();
    let p = problem(send(other, "k-1").await.unwrap(), 422).await;
    assert_eq!(p["field"], "Idempotency-Key");

    // The same lead id again without a key: already recorded.
    let p = problem(c.post(&serde_json::from_str(SMALLEST).unwrap()).await, 409).await;
    assert_eq!(p["field"], "lead_id");
    assert_eq!(head(&s).await, after_first);
}

#[tokio::test]
async fn status_changes_name_their_owner_and_move_a_leads_teams_capacity() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let c = client(&s, "default").await;
    leadorch_evaluate::teams::set_team(
        &s.engine,
        "sales-nl",
        &serde_json::from_value(json!({"max_open_leads": 10, "capacity_source": "leads"})).unwrap(),
        chrono::Utc::now(),
        "test",
    )
    .await
    .unwrap();

    c.accepted(&lead("s-1", "s1@example.org", "+31 6 5000 0001"))
        .await;
    c.accepted(&lead("s-2", "s2@example.org", "+31 6 5000 0002"))
        .await;
    let capacity = |s: &'_ Server| {
        let engine = s.engine.clone();
        async move {
            let snap: leadorch_domain::capacity::CapacitySnapshot = engine
                .load_state("sales-nl", |e| match e {
                    leadorch_domain::AnyEvent::Capacity(e) => Some(e),
                    _ => None,
                })
                .await
                .unwrap();
            (snap.open_leads(), snap.max_open_leads())
        }
    };
    assert_eq!(capacity(&s).await, (2, 10), "two open leads counted");

    let r = c
        .status(
            "s-1",
            json!({"status": "contacted", "owner": "005Hx000001"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "contacted");
    assert_eq!(v["changed"], true);
    let changed = events(&s, "LeadStatusChanged").await;
    assert_eq!(changed.len(), 1);
    assert!(!changed[0].1.contains("005Hx000001"), "owner sealed");
    assert_eq!(capacity(&s).await, (2, 10), "contacted is still open");

    let r = c.status("s-1", json!({"status": "won"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(capacity(&s).await, (1, 10), "won closes it");

    let p = problem(c.status("s-2", json!({"status": "called"})).await, 422).await;
    assert_eq!(p["field"], "status");
    assert!(p["detail"]
        .as_str()
        .unwrap()
        .contains("new, contacted, qualified, won, lost"));
    let p = problem(c.status("s-1", json!({"status": "contacted"})).await, 409).await;
    assert_eq!(p["field"], "status", "a won lead stays won: {p}");
    problem(c.status("nope", json!({"status": "won"})).await, 404).await;
    let acme = client(&s, "acme").await;
    problem(acme.status("s-2", json!({"status": "won"})).await, 404).await;

    // A duplicate has no status of its own.
    c.accepted(&lead("s-3", "S1@example.org", "+31 6 5000 0009"))
        .await;
    problem(c.status("s-3", json!({"status": "contacted"})).await, 409).await;
}

/// The README's lead example, as a newcomer copies it, is accepted (a `…` in it once made it a
/// `422`).
#[tokio::test]
async fn the_readmes_lead_example_is_accepted() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("/v1/leads -d '")
        .expect("the README has a lead example")
        + "/v1/leads -d '".len();
    let body = &readme[start..];
    let body = &body[..body.find('\'').expect("the example's body ends")];
    let lead: Value = serde_json::from_str(body).expect("the example is JSON");
    let s = start_with(Dialect::Sqlite, settings()).await;
    let c = client(&s, "default").await;
    let answer = c.accepted(&lead).await;
    assert_eq!(answer["outcome"], "accepted", "{answer}");
    assert_eq!(answer["team"], "sales-nl");
}
