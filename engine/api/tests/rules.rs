//! `/v1/rules` over real HTTP: an example rule from `rules/` is saved, listed and read back;
//! a changed version is saved and enabled; the history shows both, a diff compares them, a
//! rollback restores the first; enable and disable say whether they changed anything; a dry
//! run says what the rule would do to a campaign and records nothing; a source that does not
//! compile is refused with its line and column; scopes are enforced; unknown rules and versions
//! are `404`; each project has its own rules (`acme`'s `capacity_gate` is stored as
//! `acme/capacity_gate` and shown bare), and another project's rule is `404`. The main flow
//! runs on SQLite and on PostgreSQL.

mod common;

use chrono::{Duration, Utc};
use common::{problem, start_on, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_store::{Dialect, Metadata};
use serde_json::{json, Value};

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(repo().join("rules").join(name)).expect("an example rule")
}

/// The settings of a server whose rules library is the repository's `rules/lib`.
fn with_library() -> leadorch_api::Settings {
    leadorch_api::Settings {
        rules_lib: Some(repo().join("rules/lib")),
        ..Default::default()
    }
}

async fn start_with_library(dialect: Dialect) -> Server {
    start_with(dialect, with_library()).await
}

async fn json_of(r: reqwest::Response, status: u16) -> Value {
    let url = r.url().to_string();
    assert_eq!(r.status(), status, "status of {url}");
    r.json().await.unwrap()
}

async fn head(s: &Server) -> u64 {
    s.engine.store.log.head().await.unwrap().position
}

/// The events of a rule's stream: (type, actor, trace id).
async fn rule_events(s: &Server, id: &str) -> Vec<(String, String, Option<String>)> {
    s.engine
        .store
        .log
        .read_stream(&format!("rule:{id}"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let meta = r.metadata();
            (r.event_type.clone(), meta.actor, meta.trace_id)
        })
        .collect()
}

/// A capacity-gated campaign of team sales-nl, last read from Google an hour ago, enabled.
async fn gated_campaign(s: &Server) {
    s.engine
        .execute::<Campaign>(
            "1234567890/1001",
            CampaignCommand::Observe {
                customer_id: "1234567890".into(),
                campaign_id: "1001".into(),
                snapshot: CampaignSnapshot {
                    name: "Brand NL".into(),
                    labels: vec!["capacity-gated".into(), "team:sales-nl".into()],
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: 50_000_000,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: None,
                },
                manual_hold: Duration::hours(4),
                google_account: None,
                at: Utc::now() - Duration::hours(1),
            },
            &Metadata::actor("test"),
        )
        .await
        .unwrap();
}

async fn main_flow(dialect: Dialect) {
    let s = start_with_library(dialect).await;
    let c = reqwest::Client::new();
    let (editor, editor_id) = s
        .key_in("default", "rules-ci", &[Scope::Read, Scope::Rules], &[])
        .await;
    let reader = s.key("dashboard", &[Scope::Read]).await;
    let crm = s.key("crm", &[Scope::Capacity]).await;
    let url = |path: &str| s.url(path);
    let gate = example("capacity_gate.rhai");
    let put = |key: &str, id: &str, body: Value| {
        c.put(url(&format!("/v1/rules/{id}")))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let post = |key: &str, path: &str, body: Option<Value>| {
        let r = c.post(url(path)).bearer_auth(key);
        match body {
            Some(b) => r.json(&b),
            None => r,
        }
        .send()
    };
    let get = |key: &str, path: &str| c.get(url(path)).bearer_auth(key).send();

    // Saved: 201, version 1, disabled, where to read it.
    let r = put(&editor, "capacity_gate", json!({"source": gate}))
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "/v1/rules/capacity_gate?version=1",
        "{dialect:?}"
    );
    let saved = json_of(r, 201).await;
    assert_eq!(saved["id"], "capacity_gate");
    assert_eq!(saved["outcome"], "created");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["enabled"], false);
    assert_eq!(saved["changed"], true);
    let events = rule_events(&s, "capacity_gate").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "RuleCreated");
    assert_eq!(events[0].1, format!("api-key:{editor_id}"));
    assert_eq!(events[0].2.as_deref(), saved["trace_id"].as_str());

    // The same source again: 200, nothing recorded.
    let before = head(&s).await;
    let r = put(&editor, "capacity_gate", json!({"source": gate}))
        .await
        .unwrap();
    let again = json_of(r, 200).await;
    assert_eq!(again["outcome"], "unchanged");
    assert_eq!(again["changed"], false);
    assert_eq!(again["version"], 1);
    assert_eq!(head(&s).await, before, "{dialect:?}: nothing recorded");

    // Listed with its header's facts.
    let list = json_of(get(&reader, "/v1/rules").await.unwrap(), 200).await;
    assert_eq!(
        list["items"],
        json!([{
            "id": "capacity_gate",
            "version": 1,
            "enabled": false,
            "priority": 100,
            "scope": {"ids": [], "labels": ["capacity-gated"], "names": [], "teams": []},
            "schedule": {"every": "5m", "cron": null},
            "triggers": ["capacity_changed", "lead_received"],
            "header_error": null
        }]),
        "{dialect:?}"
    );

    // Read back: the source exactly, the header, the versions.
    let one = json_of(get(&reader, "/v1/rules/capacity_gate").await.unwrap(), 200).await;
    assert_eq!(one["source"], gate.as_str());
    assert_eq!(one["version"], 1);
    assert_eq!(one["current_version"], 1);
    assert_eq!(one["header"]["priority"], 100);
    assert_eq!(one["header"]["schedule"]["every"], "5m");
    assert!(one["header"]["description"]
        .as_str()
        .unwrap()
        .starts_with("Pause capacity-gated campaigns"));
    assert_eq!(one["versions"].as_array().unwrap().len(), 1);

    // A changed version, enabled at once: 200, version 2.
    let changed = gate.replace("const HIGH = 0.90;", "const HIGH = 0.95;");
    assert_ne!(changed, gate);
    let r = put(
        &editor,
        "capacity_gate",
        json!({"source": changed, "enable": true}),
    )
    .await
    .unwrap();
    assert_eq!(r.headers()["location"], "/v1/rules/capacity_gate?version=2");
    let v2 = json_of(r, 200).await;
    assert_eq!(v2["outcome"], "new_version");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["enabled"], true);
    assert_eq!(v2["changed"], true);
    let old = json_of(
        get(&reader, "/v1/rules/capacity_gate?version=1")
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(old["source"], gate.as_str());
    assert_eq!(
        (old["version"].clone(), old["current_version"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(old["enabled"], true);
    assert_eq!(old["versions"].as_array().unwrap().len(), 2);

    // The history shows both versions and the enabling, by this key.
    let history = json_of(
        get(&reader, "/v1/rules/capacity_gate/history")
            .await
            .unwrap(),
        200,
    )
    .await;
    let items = history["items"].as_array().unwrap();
    let what: Vec<(&str, u64)> = items
        .iter()
        .map(|e| (e["what"].as_str().unwrap(), e["version"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        what,
        [("created", 1), ("new_version", 2), ("enabled", 2)],
        "{dialect:?}"
    );
    assert!(items
        .iter()
        .all(|e| e["actor"] == format!("api-key:{editor_id}")));
    assert_ne!(items[0]["source_digest"], items[1]["source_digest"]);
    assert_eq!(items[1]["source_digest"], items[2]["source_digest"]);

    // The diff of the two.
    let d = json_of(
        get(&reader, "/v1/rules/capacity_gate/diff?from=1&to=2")
            .await
            .unwrap(),
        200,
    )
    .await;
    let text = d["diff"].as_str().unwrap();
    assert!(
        text.starts_with("--- capacity_gate v1\n+++ capacity_gate v2\n@@ "),
        "{text}"
    );
    assert!(text.contains("\n-const HIGH = 0.90;"), "{text}");
    assert!(text.contains("\n+const HIGH = 0.95;"), "{text}");
    assert_eq!((d["from"].clone(), d["to"].clone()), (json!(1), json!(2)));

    // Rolled back to version 1: a version 3 with its source, still enabled.
    let rb = json_of(
        post(
            &editor,
            "/v1/rules/capacity_gate/rollback",
            Some(json!({"version": 1})),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(rb["rolled_back_to"], 1);
    assert_eq!(rb["version"], 3);
    assert_eq!(rb["enabled"], true);
    let now = json_of(get(&reader, "/v1/rules/capacity_gate").await.unwrap(), 200).await;
    assert_eq!(now["source"], gate.as_str());
    assert_eq!(now["version"], 3);
    let history = json_of(
        get(&reader, "/v1/rules/capacity_gate/history")
            .await
            .unwrap(),
        200,
    )
    .await;
    let last = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["what"], "rolled_back");
    assert_eq!(last["rolled_back_to"], 1);
    assert_eq!(last["source_digest"], history["items"][0]["source_digest"]);
    // Again: version 1's source is current already.
    let before = head(&s).await;
    let p = problem(
        post(
            &editor,
            "/v1/rules/capacity_gate/rollback",
            Some(json!({"version": 1})),
        )
        .await
        .unwrap(),
        409,
    )
    .await;
    assert_eq!(p["field"], "version");
    assert!(
        p["detail"].as_str().unwrap().contains("already current"),
        "{p}"
    );
    assert_eq!(head(&s).await, before);

    // Disable, disable again (nothing recorded), enable.
    let toggled = json_of(
        post(&editor, "/v1/rules/capacity_gate/disable", None)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        (toggled["enabled"].clone(), toggled["changed"].clone()),
        (json!(false), json!(true))
    );
    let before = head(&s).await;
    let toggled = json_of(
        post(&editor, "/v1/rules/capacity_gate/disable", None)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        (toggled["enabled"].clone(), toggled["changed"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(head(&s).await, before, "nothing recorded");
    let toggled = json_of(
        post(&editor, "/v1/rules/capacity_gate/enable", None)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        (toggled["enabled"].clone(), toggled["changed"].clone()),
        (json!(true), json!(true))
    );
    let list = json_of(get(&reader, "/v1/rules").await.unwrap(), 200).await;
    assert_eq!(list["items"][0]["enabled"], true);
    assert_eq!(list["items"][0]["version"], 3);
    let types: Vec<String> = rule_events(&s, "capacity_gate")
        .await
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(
        types,
        [
            "RuleCreated",
            "RuleVersionAdded",
            "RuleEnabled",
            "RuleVersionAdded",
            "RuleDisabled",
            "RuleEnabled"
        ]
    );

    // A dry run: a full team's gated campaign would be paused; nothing is recorded.
    gated_campaign(&s).await;
    let r = post(
        &crm,
        "/v1/capacity",
        Some(json!({"team": "sales-nl", "agents_available": 1, "open_leads": 48, "max_open_leads": 50})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let before = head(&s).await;
    let dry = json_of(
        post(&reader, "/v1/rules/capacity_gate/dry-run", None)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(dry["id"], "capacity_gate");
    assert_eq!(dry["version"], 3);
    assert_eq!(dry["campaigns_in_scope"], 1, "{dry}");
    let decisions = dry["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{dialect:?}: {dry}");
    assert_eq!(decisions[0]["campaign"], "1234567890/1001");
    assert_eq!(decisions[0]["action"], "pause");
    assert_eq!(decisions[0]["outcome"], "would_apply");
    assert_eq!(decisions[0]["held"], Value::Null);
    assert!(decisions[0]["reason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert_eq!(dry["failures"], json!([]));
    assert_eq!(dry["aborted"], Value::Null);
    // An earlier version too, as JSON with a version.
    let dry = json_of(
        post(
            &reader,
            "/v1/rules/capacity_gate/dry-run",
            Some(json!({"version": 2})),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(dry["version"], 2);
    assert_eq!(dry["decisions"][0]["action"], "pause", "96 % is above 95 %");
    assert_eq!(
        head(&s).await,
        before,
        "{dialect:?}: a dry run records nothing"
    );

    // A source that does not compile: 422 naming the source, its line and column.
    let r = put(
        &editor,
        "broken",
        json!({"source": "//! priority: 1\nlet x = 1;\nlet y = ;\n"}),
    )
    .await
    .unwrap();
    let p = problem(r, 422).await;
    assert_eq!(p["field"], "source");
    assert_eq!(p["line"], 3, "{p}");
    assert!(p["column"].as_u64().is_some_and(|c| c >= 1), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("line 3"), "{p}");
    assert_eq!(head(&s).await, before, "nothing recorded");
    let p = problem(get(&reader, "/v1/rules/broken").await.unwrap(), 404).await;
    assert_eq!(p["field"], "id");

    // Scopes: a read key may not save, enable or roll back; a capacity key may not read.
    let source = json!({"source": gate});
    let version = json!({"version": 1});
    for (key, method, path, body) in [
        (&reader, "PUT", "/v1/rules/capacity_gate", Some(&source)),
        (&reader, "POST", "/v1/rules/capacity_gate/disable", None),
        (&reader, "POST", "/v1/rules/capacity_gate/enable", None),
        (
            &reader,
            "POST",
            "/v1/rules/capacity_gate/rollback",
            Some(&version),
        ),
        (&crm, "GET", "/v1/rules", None),
        (&crm, "GET", "/v1/rules/capacity_gate", None),
        (&crm, "GET", "/v1/rules/capacity_gate/history", None),
        (&crm, "POST", "/v1/rules/capacity_gate/dry-run", None),
    ] {
        let mut r = c
            .request(method.parse().unwrap(), url(path))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(b);
        }
        let p = problem(r.send().await.unwrap(), 403).await;
        assert!(
            p["detail"].as_str().unwrap().contains("scope"),
            "{method} {path}: {p}"
        );
    }
    assert_eq!(head(&s).await, before, "nothing recorded");

    let Server { db, .. } = s;
    db.cleanup().await;
}

#[tokio::test]
async fn rules_are_saved_read_diffed_rolled_back_and_dry_run_on_sqlite() {
    main_flow(Dialect::Sqlite).await;
}

#[tokio::test]
async fn rules_are_saved_read_diffed_rolled_back_and_dry_run_on_postgres() {
    main_flow(Dialect::Postgres).await;
}

#[tokio::test]
async fn unknown_rules_and_versions_are_404_naming_the_field() {
    let s = start_with_library(Dialect::Sqlite).await;
    let c = reqwest::Client::new();
    let editor = s.key("rules-ci", &[Scope::Rules, Scope::Read]).await;
    let r = c
        .put(s.url("/v1/rules/capacity_gate"))
        .bearer_auth(&editor)
        .json(&json!({"source": example("capacity_gate.rhai")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let before = head(&s).await;
    for (method, path, body, field) in [
        ("GET", "/v1/rules/nope", None, "id"),
        ("GET", "/v1/rules/nope/history", None, "id"),
        ("GET", "/v1/rules/nope/diff?from=1&to=2", None, "id"),
        ("POST", "/v1/rules/nope/enable", None, "id"),
        ("POST", "/v1/rules/nope/disable", None, "id"),
        (
            "POST",
            "/v1/rules/nope/rollback",
            Some(json!({"version": 1})),
            "id",
        ),
        ("POST", "/v1/rules/nope/dry-run", None, "id"),
        ("GET", "/v1/rules/capacity_gate?version=9", None, "version"),
        (
            "GET",
            "/v1/rules/capacity_gate/diff?from=1&to=9",
            None,
            "to",
        ),
        (
            "GET",
            "/v1/rules/capacity_gate/diff?from=0&to=1",
            None,
            "from",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/rollback",
            Some(json!({"version": 9})),
            "version",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/dry-run",
            Some(json!({"version": 9})),
            "version",
        ),
    ] {
        let mut r = c
            .request(method.parse().unwrap(), s.url(path))
            .bearer_auth(&editor);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let p = problem(r.send().await.unwrap(), 404).await;
        assert_eq!(p["field"], field, "{method} {path}: {p}");
    }
    let p = problem(
        c.get(s.url("/v1/rules/capacity_gate?version=9"))
            .bearer_auth(&editor)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("it has version 1"),
        "{p}"
    );
    assert_eq!(head(&s).await, before, "nothing recorded");
}

/// The types of a rule's stream's events.
async fn rule_event_types(s: &Server, stored: &str) -> Vec<String> {
    rule_events(s, stored)
        .await
        .into_iter()
        .map(|(t, _, _)| t)
        .collect()
}

/// The ids a key's `GET /v1/rules` lists, and the whole body.
async fn listed(s: &Server, key: &str) -> (Vec<String>, String) {
    let r = reqwest::Client::new()
        .get(s.url("/v1/rules"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    (ids, body)
}

#[tokio::test]
async fn each_project_has_its_own_rules_and_another_s_are_404() {
    let s = start_with_library(Dialect::Sqlite).await;
    let c = reqwest::Client::new();
    let editor = s.key("rules-ci", &[Scope::Rules, Scope::Read]).await;
    let (acme, _) = s
        .key_in("acme", "rules-ci", &[Scope::Rules, Scope::Read], &[])
        .await;
    let gate = example("capacity_gate.rhai");
    let changed = gate.replacen("priority: 100", "priority: 90", 1);
    assert_ne!(changed, gate);
    let put = |key: &str, id: &str, source: &str| {
        c.put(s.url(&format!("/v1/rules/{id}")))
            .bearer_auth(key)
            .json(&json!({"source": source}))
            .send()
    };

    // Default: capacity_gate at version 2, and a rule acme does not have.
    assert_eq!(
        put(&editor, "capacity_gate", &gate).await.unwrap().status(),
        201
    );
    assert_eq!(
        put(&editor, "capacity_gate", &changed)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        put(&editor, "night_gate", &gate).await.unwrap().status(),
        201
    );

    // Acme saves its own capacity_gate: a new rule (201, version 1), named bare, stored
    // under its prefix.
    let r = put(&acme, "capacity_gate", &gate).await.unwrap();
    assert_eq!(r.headers()["location"], "/v1/rules/capacity_gate?version=1");
    let saved = json_of(r, 201).await;
    assert_eq!(saved["id"], "capacity_gate", "{saved}");
    assert_eq!(saved["outcome"], "created");
    assert_eq!(saved["version"], 1);
    assert_eq!(
        rule_event_types(&s, "acme/capacity_gate").await,
        ["RuleCreated"]
    );
    assert_eq!(
        rule_event_types(&s, "capacity_gate").await,
        ["RuleCreated", "RuleVersionAdded"],
        "default's rule is untouched"
    );
    assert_eq!(put(&acme, "lead_gate", &gate).await.unwrap().status(), 201);
    assert_eq!(
        rule_event_types(&s, "acme/lead_gate").await,
        ["RuleCreated"]
    );
    assert!(rule_events(&s, "lead_gate").await.is_empty());

    // Each reads its own version.
    let get = |key: &str, path: &str| c.get(s.url(path)).bearer_auth(key).send();
    let mine = json_of(get(&acme, "/v1/rules/capacity_gate").await.unwrap(), 200).await;
    assert_eq!(mine["id"], "capacity_gate");
    assert_eq!(mine["current_version"], 1, "{mine}");
    assert_eq!(mine["source"], gate.as_str());
    let theirs = json_of(get(&editor, "/v1/rules/capacity_gate").await.unwrap(), 200).await;
    assert_eq!(theirs["current_version"], 2, "{theirs}");
    assert_eq!(theirs["source"], changed.as_str());

    // Lists: bare ids, each project's own.
    let (ids, body) = listed(&s, &acme).await;
    assert_eq!(ids, ["capacity_gate", "lead_gate"], "{body}");
    assert!(!body.contains("night_gate"), "{body}");
    let (ids, body) = listed(&s, &editor).await;
    assert_eq!(ids, ["capacity_gate", "night_gate"], "{body}");
    assert!(!body.contains("acme"), "{body}");
    assert!(!body.contains("lead_gate"), "{body}");

    // Enabling acme's rule leaves default's disabled; histories are each their own.
    let post = |key: &str, path: &str, body: Option<Value>| {
        let r = c.post(s.url(path)).bearer_auth(key);
        match body {
            Some(b) => r.json(&b),
            None => r,
        }
        .send()
    };
    let on = json_of(
        post(&acme, "/v1/rules/capacity_gate/enable", None)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        (&on["id"], &on["changed"]),
        (&json!("capacity_gate"), &json!(true))
    );
    assert_eq!(
        rule_event_types(&s, "acme/capacity_gate").await,
        ["RuleCreated", "RuleEnabled"]
    );
    let theirs = json_of(get(&editor, "/v1/rules/capacity_gate").await.unwrap(), 200).await;
    assert_eq!(theirs["enabled"], false, "{theirs}");
    let h = json_of(
        get(&acme, "/v1/rules/capacity_gate/history").await.unwrap(),
        200,
    )
    .await;
    let what: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["created", "enabled"], "{h}");
    let h = json_of(
        get(&editor, "/v1/rules/capacity_gate/history")
            .await
            .unwrap(),
        200,
    )
    .await;
    let what: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["created", "new_version"], "{h}");
    let off = json_of(
        post(&acme, "/v1/rules/capacity_gate/disable", None)
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(off["changed"], true, "{off}");

    // The other project's rule ids: 404 naming the id, never 403, nothing recorded.
    let window = json!({"from": "2026-03-01", "to": "2026-03-02"});
    for (key, whose, other) in [
        (&acme, "acme", "night_gate"),
        (&editor, "default", "lead_gate"),
    ] {
        for (method, path, body) in [
            ("GET", format!("/v1/rules/{other}"), None),
            ("GET", format!("/v1/rules/{other}/history"), None),
            ("GET", format!("/v1/rules/{other}/diff?from=1&to=1"), None),
            ("POST", format!("/v1/rules/{other}/enable"), None),
            ("POST", format!("/v1/rules/{other}/disable"), None),
            (
                "POST",
                format!("/v1/rules/{other}/rollback"),
                Some(json!({"version": 1})),
            ),
            ("POST", format!("/v1/rules/{other}/dry-run"), None),
            (
                "POST",
                format!("/v1/rules/{other}/backtest"),
                Some(window.clone()),
            ),
        ] {
            let before = head(&s).await;
            let mut r = c
                .request(method.parse().unwrap(), s.url(&path))
                .bearer_auth(key);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let p = problem(r.send().await.unwrap(), 404).await;
            assert_eq!(p["field"], "id", "{whose}: {method} {path}: {p}");
            let detail = p["detail"].as_str().unwrap();
            assert!(
                !detail.contains("default project") && !detail.contains("acme"),
                "{whose}: {method} {path}: {p}"
            );
            assert_eq!(
                head(&s).await,
                before,
                "{whose}: {method} {path} recorded something"
            );
        }
    }
    assert_eq!(rule_event_types(&s, "night_gate").await, ["RuleCreated"]);
    assert_eq!(
        rule_event_types(&s, "acme/lead_gate").await,
        ["RuleCreated"]
    );
}

#[tokio::test]
async fn refusals_name_their_field_and_record_nothing() {
    let s = start_with_library(Dialect::Sqlite).await;
    let c = reqwest::Client::new();
    let editor = s.key("rules-ci", &[Scope::Rules, Scope::Read]).await;
    let gate = example("capacity_gate.rhai");
    let r = c
        .put(s.url("/v1/rules/capacity_gate"))
        .bearer_auth(&editor)
        .json(&json!({"source": gate}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let before = head(&s).await;
    for (method, path, body, field, says) in [
        (
            "PUT",
            "/v1/rules/capacity_gate",
            json!({"source": gate, "colour": "blue"}),
            "colour",
            "unknown field",
        ),
        (
            "PUT",
            "/v1/rules/capacity_gate",
            json!({"enable": true}),
            "source",
            "missing field",
        ),
        (
            "PUT",
            "/v1/rules/capacity_gate",
            json!({"source": "  \n"}),
            "source",
            "must not be empty",
        ),
        (
            "PUT",
            "/v1/rules/capacity_gate",
            json!({"source": gate, "enable": "yes"}),
            "enable",
            "invalid type",
        ),
        (
            "PUT",
            "/v1/rules/capacity%20gate",
            json!({"source": gate}),
            "id",
            "is not an id",
        ),
        (
            "PUT",
            "/v1/rules/capacity_gate",
            json!({"source": "//! priority: high\n1\n"}),
            "source",
            "line 1",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/rollback",
            json!({"version": 1, "to": 2}),
            "to",
            "unknown field",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/rollback",
            json!({}),
            "version",
            "missing field",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/dry-run",
            json!({"as_of": "last tuesday"}),
            "as_of",
            "neither a position nor a time",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/dry-run",
            json!({"known_at": "12"}),
            "known_at",
            "not a log position",
        ),
        (
            "POST",
            "/v1/rules/capacity_gate/dry-run",
            json!({"campaign": "x"}),
            "campaign",
            "unknown field",
        ),
        (
            "GET",
            "/v1/rules/capacity_gate/diff?from=1",
            Value::Null,
            "to",
            "compare to",
        ),
        (
            "GET",
            "/v1/rules/capacity_gate/diff?from=one&to=1",
            Value::Null,
            "from",
            "",
        ),
        (
            "GET",
            "/v1/rules/capacity_gate?version=1&format=text",
            Value::Null,
            "",
            "unknown field",
        ),
    ] {
        let mut r = c
            .request(method.parse().unwrap(), s.url(path))
            .bearer_auth(&editor);
        if !body.is_null() {
            r = r.json(&body);
        }
        let p = problem(r.send().await.unwrap(), 422).await;
        if !field.is_empty() {
            assert_eq!(p["field"], field, "{method} {path} {body} → {p}");
        }
        assert!(
            p["detail"].as_str().unwrap().contains(says),
            "{method} {path} {body} → {p}"
        );
    }
    assert_eq!(head(&s).await, before, "nothing recorded");
}

/// `PUT /v1/rules/budget_pacing` with `source` by a fresh `rules` key of `s`.
async fn save_pacing(s: &Server, source: &str, enable: bool) -> reqwest::Response {
    let editor = s.key("rules-ci", &[Scope::Rules]).await;
    reqwest::Client::new()
        .put(s.url("/v1/rules/budget_pacing"))
        .bearer_auth(&editor)
        .json(&json!({"source": source, "enable": enable}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn rules_import_the_configured_library_else_the_built_in_one() {
    // budget_pacing imports "pacing" from rules/lib.
    let pacing = example("budget_pacing.rhai");

    // No library configured: the one built into leadorch (rules/lib of this version).
    let s = start_on(Dialect::Sqlite).await;
    let r = save_pacing(&s, &pacing, true).await;
    let saved = json_of(r, 201).await;
    assert_eq!(saved["enabled"], true);

    // A configured folder is the whole library: one without "pacing" refuses the rule,
    // naming what it has, and records nothing.
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(lib.path().join("crm.rhai"), "fn owner(x) { x }\n").unwrap();
    let s = start_with(
        Dialect::Sqlite,
        leadorch_api::Settings {
            rules_lib: Some(lib.path().to_path_buf()),
            ..Default::default()
        },
    )
    .await;
    let r = save_pacing(&s, &pacing, false).await;
    let p = problem(r, 422).await;
    assert_eq!(p["field"], "source");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("unknown module \"pacing\""), "{p}");
    assert!(detail.contains("(available: crm)"), "{p}");
    assert!(p["line"].is_u64(), "{p}");
    assert_eq!(head(&s).await, 0, "nothing recorded");

    // A folder with no modules: the refusal says so and how to fix it.
    let empty = tempfile::tempdir().unwrap();
    let s = start_with(
        Dialect::Sqlite,
        leadorch_api::Settings {
            rules_lib: Some(empty.path().to_path_buf()),
            ..Default::default()
        },
    )
    .await;
    let r = save_pacing(&s, &pacing, false).await;
    let p = problem(r, 422).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("rules library folder has no modules"),
        "{p}"
    );
    assert_eq!(head(&s).await, 0, "nothing recorded");

    let s = start_with_library(Dialect::Sqlite).await;
    let r = save_pacing(&s, &pacing, true).await;
    let saved = json_of(r, 201).await;
    assert_eq!(saved["enabled"], true);
}

#[tokio::test]
async fn the_api_description_lists_the_rules_endpoints() {
    let s = start_with_library(Dialect::Sqlite).await;
    let c = reqwest::Client::new();
    let key = s.key("dash", &[Scope::Read]).await;
    let r = c
        .get(s.url("/openapi.json"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let doc = json_of(r, 200).await;
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/v1/rules", &["get"][..]),
        ("/v1/rules/{id}", &["get", "put"][..]),
        ("/v1/rules/{id}/enable", &["post"][..]),
        ("/v1/rules/{id}/disable", &["post"][..]),
        ("/v1/rules/{id}/history", &["get"][..]),
        ("/v1/rules/{id}/diff", &["get"][..]),
        ("/v1/rules/{id}/rollback", &["post"][..]),
        ("/v1/rules/{id}/dry-run", &["post"][..]),
    ] {
        for m in methods {
            let op = &paths[path][*m];
            assert_eq!(op["tags"], json!(["rules"]), "{m} {path}: {op}");
            assert!(op["responses"]["401"].is_object(), "{m} {path}");
            assert!(op["responses"]["403"].is_object(), "{m} {path}");
        }
    }
    let tag = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "rules")
        .expect("a rules tag");
    let text = tag["description"].as_str().unwrap();
    assert!(text.contains("its project's"), "{text}");
    assert!(!text.contains("default project"), "{text}");
    let save_403 = paths["/v1/rules/{id}"]["put"]["responses"]["403"]["description"]
        .as_str()
        .unwrap();
    assert!(!save_403.contains("project"), "{save_403}");
    let schemas = &doc["components"]["schemas"];
    for body in ["SaveRequest", "RollbackRequest", "DryRunRequest"] {
        assert_eq!(schemas[body]["additionalProperties"], false, "{body}");
    }
    assert!(schemas["Problem"]["properties"]["line"].is_object());
    assert!(schemas["Problem"]["properties"]["column"].is_object());
}
