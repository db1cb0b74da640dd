//! The GDPR endpoints over real HTTP: a person is found by email in another letter case and by
//! phone written another way, their data exported, their consent withdrawn and they are
//! erased (the export then shows nothing of theirs, the log holds no email in clear, and the
//! same email is a new lead); scopes and other projects' subjects and leads.

mod common;

use common::{problem, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_api::Settings;
use leadorch_store::{Dialect, EventFilter, RecordedEvent};
use serde_json::{json, Value};

const EMAIL: &str = "ann@example.org";

fn settings() -> Settings {
    let mut s = Settings::default();
    s.intake.default_region = Some(leadorch_intake::Region::parse("NL").unwrap());
    s.default_team = Some("sales-nl".into());
    s
}

fn lead(id: &str, email: &str, phone: &str) -> Value {
    json!({
        "lead_id": id,
        "form_id": "contact",
        "name": "Ann Example",
        "email": email,
        "phone": phone,
        "consent": {
            "text": "I agree to be called about my request",
            "at": "2026-12-01T10:00:00Z",
            "url": "https://example.org/contact"
        }
    })
}

/// Every event in the log (or of one type).
async fn events(s: &Server, event_type: Option<&str>) -> Vec<RecordedEvent> {
    s.engine
        .store
        .log
        .list(&EventFilter {
            stream: None,
            event_type: event_type.map(str::to_string),
            after: 0,
            until: None,
            limit: None,
        })
        .await
        .unwrap()
}

fn metadata(e: &RecordedEvent) -> Value {
    serde_json::from_slice(&e.metadata).unwrap()
}

/// A client holding one key.
struct Client<'a> {
    s: &'a Server,
    key: String,
    key_id: String,
    http: reqwest::Client,
}

impl Client<'_> {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.s.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.s.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.s.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }

    async fn ok(&self, r: reqwest::Response) -> Value {
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{status}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn lead(&self, body: &Value) -> Value {
        let r = self.post("/v1/leads", body).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    async fn lookup(&self, body: Value) -> reqwest::Response {
        self.post("/v1/subjects/lookup", &body).await
    }
}

async fn client<'a>(s: &'a Server, project: &str, name: &str, scopes: &[Scope]) -> Client<'a> {
    let (key, key_id) = s.key_in(project, name, scopes, &[]).await;
    Client {
        s,
        key,
        key_id,
        http: reqwest::Client::new(),
    }
}

/// Whether `haystack` holds `needle`, in any letter case.
fn holds(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase().into_bytes();
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(&needle))
}

#[tokio::test]
async fn a_person_is_found_exported_withdrawn_and_erased_on_both_backends() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let s = start_with(dialect, settings()).await;
        let website = client(&s, "default", "website", &[Scope::Ingest]).await;
        let admin = client(&s, "default", "dpo", &[Scope::Admin]).await;
        let reader = client(&s, "default", "dashboard", &[Scope::Read]).await;

        let first = website.lead(&lead("f-1", EMAIL, "+31 20 123 4567")).await;
        assert_eq!(first["outcome"], "accepted", "{dialect:?}: {first}");
        let again = website
            .lead(&lead("f-2", "Ann@Example.org", "+31 6 1234 5678"))
            .await;
        assert_eq!(again["outcome"], "duplicate", "{again}");
        let other = website
            .lead(&lead("f-3", "bob@example.org", "+31 6 8765 4321"))
            .await;
        assert_eq!(other["outcome"], "accepted");

        // Found by email in another letter case, by phone written the national way, by both.
        let found = admin
            .ok(admin.lookup(json!({"email": "ANN@EXAMPLE.ORG"})).await)
            .await;
        let subjects = found["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 1, "{dialect:?}: {found}");
        assert_eq!(subjects[0]["lead_id"], "f-1");
        assert_eq!(subjects[0]["matched"], json!(["email"]));
        let subject = subjects[0]["subject_id"].as_str().unwrap().to_string();
        let by_phone = admin
            .ok(admin.lookup(json!({"phone": "020-123 45 67"})).await)
            .await;
        assert_eq!(by_phone["subjects"][0]["subject_id"], subject.as_str());
        assert_eq!(by_phone["subjects"][0]["matched"], json!(["phone"]));
        let by_both = admin
            .ok(admin
                .lookup(json!({"email": EMAIL, "phone": "+31201234567"}))
                .await)
            .await;
        assert_eq!(by_both["subjects"].as_array().unwrap().len(), 1);
        assert_eq!(by_both["subjects"][0]["matched"], json!(["email", "phone"]));

        // A lead shows its subject, never its personal fields.
        let r = reader.get("/v1/leads/f-2").await;
        let text = r.text().await.unwrap();
        assert!(!holds(text.as_bytes(), EMAIL), "{text}");
        assert!(!text.contains("Ann Example"), "{text}");
        let view: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(view["lead_id"], "f-2");
        assert_eq!(view["outcome"], "duplicate");
        assert_eq!(view["duplicate_of"], "f-1");
        assert_eq!(view["subject_id"], subject.as_str());
        assert_eq!(view["team"], "sales-nl");
        assert_eq!(view["form_id"], "contact");
        assert!(view["consent_id"].is_string());
        let first_view = reader.ok(reader.get("/v1/leads/f-1").await).await;
        assert_eq!(first_view["outcome"], "accepted");
        assert_eq!(first_view["status"], "new");
        assert_eq!(first_view["reason"], Value::Null);

        // The export: their data, opened, as an attachment.
        let r = admin.get(&format!("/v1/subjects/{subject}/export")).await;
        assert_eq!(r.status(), 200);
        let disposition = r.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let export: Value = r.json().await.unwrap();
        assert_eq!(export["format"], "leadorch.subject-export.v1");
        assert_eq!(export["erased"], false);
        let text = export.to_string();
        assert!(
            text.contains(EMAIL),
            "{dialect:?}: the email is in the export"
        );
        assert!(text.contains("Ann@example.org"), "and the duplicate's");
        let types: Vec<&str> = export["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        for t in ["ConsentGranted", "LeadReceived", "LeadDeduplicated"] {
            assert!(types.contains(&t), "{t} in {types:?}");
        }
        assert!(!text.contains("bob@example.org"), "nobody else's");
        let requested = events(&s, Some("ExportRequested")).await;
        assert_eq!(requested.len(), 1);
        assert_eq!(
            metadata(&requested[0])["actor"],
            format!("api-key:{}", admin.key_id)
        );
        assert_eq!(metadata(&requested[0])["trace_id"], export["trace_id"]);

        // Consent withdrawn: both leads' consents, by a key that sends leads.
        let r = website
            .post(
                &format!("/v1/subjects/{subject}/consent/withdraw"),
                &json!({"reason": "unsubscribed by email"}),
            )
            .await;
        let w = website.ok(r).await;
        assert_eq!(w["withdrawn"].as_array().unwrap().len(), 2, "{w}");
        assert!(w["withdrawn"]
            .as_array()
            .unwrap()
            .contains(&first_view["consent_id"]));
        assert_eq!(w["already_withdrawn"], json!([]));
        let withdrawn = events(&s, Some("ConsentWithdrawn")).await;
        assert_eq!(withdrawn.len(), 2, "{dialect:?}");
        for e in &withdrawn {
            assert_eq!(metadata(e)["actor"], format!("api-key:{}", website.key_id));
            assert_eq!(metadata(e)["trace_id"], w["trace_id"]);
        }
        // Again, with no body: nothing more to withdraw.
        let r = website
            .http
            .post(s.url(&format!("/v1/subjects/{subject}/consent/withdraw")))
            .bearer_auth(&website.key)
            .send()
            .await
            .unwrap();
        let w2 = website.ok(r).await;
        assert_eq!(w2["withdrawn"], json!([]));
        assert_eq!(w2["already_withdrawn"].as_array().unwrap().len(), 2);
        assert_eq!(events(&s, Some("ConsentWithdrawn")).await.len(), 2);
        // A JSON null body is no body (the description says the body is nullable).
        let r = website
            .post(
                &format!("/v1/subjects/{subject}/consent/withdraw"),
                &json!(null),
            )
            .await;
        let w3 = website.ok(r).await;
        assert_eq!(w3["withdrawn"], json!([]));

        // Erased.
        let r = admin.delete(&format!("/v1/subjects/{subject}")).await;
        let erased = admin.ok(r).await;
        assert_eq!(erased["already_erased"], false, "{erased}");
        assert!(!erased["keys_destroyed"].as_array().unwrap().is_empty());
        assert_eq!(erased["fingerprints_deleted"], 2, "email and phone of f-1");
        assert!(erased["events_affected"].as_u64().unwrap() >= 2);
        let recorded = events(&s, Some("SubjectErased")).await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(metadata(&recorded[0])["trace_id"], erased["trace_id"]);
        // Again: 200, nothing more recorded.
        let r = admin.delete(&format!("/v1/subjects/{subject}")).await;
        let twice = admin.ok(r).await;
        assert_eq!(twice["already_erased"], true);
        assert_eq!(twice["fingerprints_deleted"], 0);
        assert_eq!(events(&s, Some("SubjectErased")).await.len(), 1);

        // The export now shows an erased subject and nothing of theirs.
        let after = admin
            .ok(admin.get(&format!("/v1/subjects/{subject}/export")).await)
            .await;
        assert_eq!(after["erased"], true);
        let text = after.to_string();
        assert!(!holds(text.as_bytes(), EMAIL), "{dialect:?}: {text}");
        assert!(!text.contains("Ann Example"));

        // The log never held the email in clear (SQLite: nor does any byte of the files).
        for e in events(&s, None).await {
            assert!(
                !holds(&e.payload, EMAIL),
                "{} at {}",
                e.event_type,
                e.position
            );
            assert!(!holds(&e.payload, "31201234567"));
            assert!(!holds(&e.metadata, EMAIL));
        }
        if let Some(file) = s.db.sqlite_file() {
            let bytes = std::fs::read(&file).unwrap();
            assert!(bytes.len() > 4096, "the database file is read");
            assert!(!holds(&bytes, EMAIL), "{} holds the email", file.display());
            if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
                assert!(!holds(&wal, EMAIL), "the WAL holds the email");
            }
        }

        // Not found by email any more; the same email is a new person's lead.
        let p = problem(admin.lookup(json!({"email": EMAIL})).await, 404).await;
        assert!(!holds(p.to_string().as_bytes(), EMAIL), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("90 days"), "{p}");
        let back = website.lead(&lead("f-4", EMAIL, "+31 20 123 4567")).await;
        assert_eq!(back["outcome"], "accepted", "{dialect:?}: {back}");
        let found = admin.ok(admin.lookup(json!({"email": EMAIL})).await).await;
        assert_eq!(found["subjects"][0]["lead_id"], "f-4");
        assert_ne!(found["subjects"][0]["subject_id"], subject.as_str());

        let Server { db, .. } = s;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn scopes_and_projects_keep_subjects_apart() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let website = client(&s, "default", "website", &[Scope::Ingest]).await;
    let admin = client(&s, "default", "dpo", &[Scope::Admin]).await;
    let reader = client(&s, "default", "dashboard", &[Scope::Read]).await;
    let acme_site = client(&s, "acme", "website", &[Scope::Ingest]).await;
    let acme = client(&s, "acme", "dpo", &[Scope::Admin]).await;

    website.lead(&lead("f-1", EMAIL, "+31 20 123 4567")).await;
    acme_site.lead(&lead("f-1", EMAIL, "+31 20 123 4567")).await;
    let mine = admin.ok(admin.lookup(json!({"email": EMAIL})).await).await["subjects"][0]
        ["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = acme.ok(acme.lookup(json!({"email": EMAIL})).await).await["subjects"][0]
        ["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(mine, theirs, "projects dedup apart");
    let before = s.engine.store.log.head().await.unwrap().position;

    // Without the scope: 403.
    problem(website.lookup(json!({"email": EMAIL})).await, 403).await;
    problem(reader.lookup(json!({"email": EMAIL})).await, 403).await;
    problem(
        website.get(&format!("/v1/subjects/{mine}/export")).await,
        403,
    )
    .await;
    problem(
        reader.get(&format!("/v1/subjects/{mine}/export")).await,
        403,
    )
    .await;
    problem(website.delete(&format!("/v1/subjects/{mine}")).await, 403).await;
    problem(
        reader
            .post(&format!("/v1/subjects/{mine}/consent/withdraw"), &json!({}))
            .await,
        403,
    )
    .await;
    problem(website.get("/v1/leads/f-1").await, 403).await;

    // Another project's subject and lead: 404, as for ones that do not exist.
    for path in [
        format!("/v1/subjects/{mine}/export"),
        "/v1/subjects/no-such-subject/export".to_string(),
    ] {
        let p = problem(acme.get(&path).await, 404).await;
        assert!(!holds(p.to_string().as_bytes(), EMAIL));
    }
    problem(acme.delete(&format!("/v1/subjects/{mine}")).await, 404).await;
    problem(
        acme.post(&format!("/v1/subjects/{mine}/consent/withdraw"), &json!({}))
            .await,
        404,
    )
    .await;
    problem(
        admin.get(&format!("/v1/subjects/{theirs}/export")).await,
        404,
    )
    .await;
    let acme_reader = client(&s, "acme", "dashboard", &[Scope::Read]).await;
    let own = acme_reader.ok(acme_reader.get("/v1/leads/f-1").await).await;
    assert_eq!(own["subject_id"], theirs.as_str(), "acme's own f-1");
    problem(acme_reader.get("/v1/leads/f-2").await, 404).await;
    problem(reader.get("/v1/leads/nope").await, 404).await;
    assert_eq!(
        s.engine.store.log.head().await.unwrap().position,
        before,
        "nothing recorded for refused requests"
    );

    // Lookups are checked field by field and never quote a value.
    let p = problem(admin.lookup(json!({})).await, 422).await;
    assert_eq!(p["field"], "email");
    let p = problem(admin.lookup(json!({"email": "", "phone": null})).await, 422).await;
    assert_eq!(p["field"], "email");
    let p = problem(
        admin
            .lookup(json!({"email": "ann.example.org", "phone": "12"}))
            .await,
        422,
    )
    .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "phone"], "{p}");
    assert!(!p.to_string().contains("ann.example.org"), "{p}");
    let p = problem(admin.lookup(json!({"phone": 31201234567u64})).await, 422).await;
    assert_eq!(p["field"], "phone");
    assert!(!p.to_string().contains("31201234567"), "{p}");
    let p = problem(admin.lookup(json!({"emial": EMAIL})).await, 422).await;
    assert_eq!(p["field"], "emial");
    assert!(!holds(p.to_string().as_bytes(), EMAIL), "{p}");
    let p = problem(admin.lookup(json!({"email": "zed@example.org"})).await, 404).await;
    assert!(!p.to_string().contains("zed@"), "{p}");

    // A withdrawal's reason is checked; a subject id must look like one.
    let p = problem(
        admin
            .post(
                &format!("/v1/subjects/{mine}/consent/withdraw"),
                &json!({"reason": "x".repeat(501)}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(p["field"], "reason");
    let p = problem(
        admin
            .post(
                &format!("/v1/subjects/{mine}/consent/withdraw"),
                &json!({"because": "no"}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(p["field"], "because");
    let p = problem(admin.get("/v1/subjects/a%20b/export").await, 422).await;
    assert_eq!(p["field"], "subject_id");
}

#[tokio::test]
async fn a_blocked_lead_shows_why_and_its_subject_can_be_erased() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let website = client(&s, "default", "website", &[Scope::Ingest]).await;
    let admin = client(&s, "default", "dpo", &[Scope::Admin]).await;
    let r = website
        .lead(&lead("b-1", "someone@mailinator.com", "+31 6 1111 1111"))
        .await;
    assert_eq!(r["outcome"], "blocked");

    // A blocked lead claims no fingerprints, so only its id finds its subject.
    problem(
        admin
            .lookup(json!({"email": "someone@mailinator.com"}))
            .await,
        404,
    )
    .await;
    let view = admin.ok(admin.get("/v1/leads/b-1").await).await;
    assert_eq!(view["outcome"], "blocked");
    assert_eq!(view["blocked"], "disposable_email");
    assert!(view["reason"]
        .as_str()
        .unwrap()
        .contains("disposable-domain list"));
    assert_eq!(view["status"], Value::Null);
    let subject = view["subject_id"].as_str().unwrap();
    let erased = admin
        .ok(admin.delete(&format!("/v1/subjects/{subject}")).await)
        .await;
    assert_eq!(erased["already_erased"], false);
    let export = admin
        .ok(admin.get(&format!("/v1/subjects/{subject}/export")).await)
        .await;
    assert_eq!(export["erased"], true);
    assert!(!export.to_string().contains("someone@"), "{export}");
}

#[tokio::test]
async fn openapi_lists_the_subject_endpoints() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let reader = client(&s, "default", "dashboard", &[Scope::Read]).await;
    let doc = reader.ok(reader.get("/openapi.json").await).await;
    for (path, method) in [
        ("/v1/subjects/lookup", "post"),
        ("/v1/leads/{id}", "get"),
        ("/v1/subjects/{subject_id}/export", "get"),
        ("/v1/subjects/{subject_id}", "delete"),
        ("/v1/subjects/{subject_id}/consent/withdraw", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert!(doc["paths"]["/v1/subjects/lookup"]["post"]["responses"]["404"].is_object());
    assert!(doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "subjects"));
}

#[tokio::test]
async fn another_projects_subjects_are_named_bare_and_served_to_it() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let site = client(&s, "acme", "website", &[Scope::Ingest]).await;
    let admin = client(&s, "acme", "privacy", &[Scope::Admin]).await;
    let r = site
        .post(
            "/v1/leads",
            &lead("a-1", "ann@example.org", "+31 20 123 4567"),
        )
        .await;
    site.ok(r).await;
    let found = admin
        .ok(admin
            .post("/v1/subjects/lookup", &json!({"email": "ANN@example.org"}))
            .await)
        .await;
    let subject = found["subjects"][0]["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!subject.contains('/'), "named bare: {subject}");
    assert_eq!(found["subjects"][0]["lead_id"], "a-1");
    let view = admin.ok(admin.get("/v1/leads/a-1").await).await;
    assert_eq!(view["subject_id"], subject.as_str());
    let export = admin
        .ok(admin.get(&format!("/v1/subjects/{subject}/export")).await)
        .await;
    assert_eq!(export["subject_id"], subject.as_str());
    assert!(export.to_string().contains("ann@example.org"));
    let erased = admin
        .ok(admin.delete(&format!("/v1/subjects/{subject}")).await)
        .await;
    assert_eq!(erased["already_erased"], false);
    // The default project does not see it.
    let other = client(&s, "default", "privacy", &[Scope::Admin]).await;
    problem(
        other.get(&format!("/v1/subjects/{subject}/export")).await,
        404,
    )
    .await;
}
