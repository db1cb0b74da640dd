//! `/v1/rules/check`, `/v1/rules/{id}/backtest` and `/v1/rules/test` over real HTTP: a broken
//! source is answered with its line and column; a backtest over a small recorded history
//! (a gated campaign, then its team filling up) pauses the campaign when the team fills, and
//! records nothing (on SQLite and PostgreSQL); a fixture from `rules/fixtures` passes, and an
//! altered one names the step that differs. Refusals name their field. Checks and fixtures
//! work for every project; a project backtests and dry-runs its own rule over its own
//! campaigns and teams, named bare, and another project's rule is `404`. Every time involved
//! is fixed: nothing depends on the clock.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{problem, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand, CapacityCommand, CapacitySnapshot};
use leadorch_store::{Dialect, Metadata};
use serde_json::{json, Value};

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).expect("a file of the repository")
}

async fn start(dialect: Dialect) -> Server {
    start_with(
        dialect,
        leadorch_api::Settings {
            rules_lib: Some(repo().join("rules/lib")),
            ..Default::default()
        },
    )
    .await
}

async fn json_of(r: reqwest::Response, status: u16) -> Value {
    let url = r.url().to_string();
    assert_eq!(r.status(), status, "status of {url}");
    r.json().await.unwrap()
}

async fn head(s: &Server) -> u64 {
    s.engine.store.log.head().await.unwrap().position
}

async fn post(s: &Server, key: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn check_answers_each_diagnostic_with_line_and_column() {
    let s = start(Dialect::Sqlite).await;
    let key = s.key("ci", &[Scope::Read]).await;
    let before = head(&s).await;

    let broken = "//! priority: 10\nlet x = 1;\nlet y = ;\n";
    let a = json_of(
        post(&s, &key, "/v1/rules/check", json!({"source": broken})).await,
        200,
    )
    .await;
    assert_eq!(a["ok"], false, "{a}");
    let rule = &a["rules"][0];
    assert_eq!(rule["id"], "rule");
    assert_eq!(rule["ok"], false);
    let d = &rule["diagnostics"][0];
    assert_eq!(d["severity"], "error", "{a}");
    assert_eq!(d["line"], 3, "{a}");
    assert!(d["column"].as_u64().is_some_and(|c| c >= 1), "{a}");
    assert!(!d["message"].as_str().unwrap().is_empty());

    // Several by id: one fine, one reading a fact rules do not see (a warning with its
    // place), one importing a module the library lacks (an error saying what it has).
    let a = json_of(
        post(
            &s,
            &key,
            "/v1/rules/check",
            json!({"sources": {
                "capacity_gate": read("rules/capacity_gate.rhai"),
                "typo": "//! priority: 1\nif campaign.does_not_exist > 1 { pause(\"x\") }\n",
                "nolib": "import \"nowhere\" as n;\n1\n",
            }}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["ok"], false, "{a}");
    let by_id = |id: &str| {
        a["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap()
    };
    let gate = by_id("capacity_gate");
    assert_eq!(gate["ok"], true, "{a}");
    assert_eq!(gate["priority"], 100);
    assert_eq!(
        gate["triggers"],
        json!(["capacity_changed", "lead_received"])
    );
    assert_eq!(gate["diagnostics"], json!([]));
    let typo = by_id("typo");
    assert_eq!(typo["ok"], true, "{a}");
    assert_eq!(typo["diagnostics"][0]["severity"], "warning");
    assert_eq!(typo["diagnostics"][0]["line"], 2);
    assert_eq!(typo["diagnostics"][0]["column"], 13, "{a}");
    let nolib = by_id("nolib");
    assert_eq!(nolib["ok"], false);
    assert!(
        nolib["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("available: calendar, hysteresis, pacing"),
        "{a}"
    );
    assert_eq!(head(&s).await, before, "a check records nothing");

    // Refusals name their field.
    for (body, field) in [
        (json!({}), "source"),
        (json!({"source": "1", "sources": {"a": "1"}}), "source"),
        (json!({"sources": {}}), "sources"),
        (json!({"source": "  "}), "source"),
        (json!({"sources": {"a": ""}}), "sources.a"),
        (json!({"source": "1", "colour": "blue"}), "colour"),
    ] {
        let p = problem(post(&s, &key, "/v1/rules/check", body.clone()).await, 422).await;
        assert_eq!(p["field"], field, "{body}: {p}");
    }
    // The fixed path is not a rule's: GET is not allowed there (documented).
    let r = reqwest::Client::new()
        .get(s.url("/v1/rules/check"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // Another project's key checks too (one rules library for every project); no read
    // scope: 403.
    let other = s.key_in("acme", "ci", &[Scope::Read], &[]).await.0;
    let a = json_of(
        post(
            &s,
            &other,
            "/v1/rules/check",
            json!({"sources": {"gate": read("rules/capacity_gate.rhai"), "bad": "let x = ;"}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["ok"], false, "{a}");
    let ids: Vec<(&str, bool)> = a["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids, [("bad", false), ("gate", true)], "{a}");
    let crm = s.key("crm", &[Scope::Capacity]).await;
    problem(
        post(&s, &crm, "/v1/rules/check", json!({"source": "1"})).await,
        403,
    )
    .await;
}

/// A capacity-gated campaign of team sales-nl observed enabled at 09:00, its team at 50 % at
/// 09:01 and at 96 % at 09:12 (2026-03-02).
async fn recorded_history(s: &Server) {
    gated_history(
        s,
        ("1234567890", "1001", "Brand NL"),
        None,
        "sales-nl",
        "09:12",
    )
    .await;
}

/// A capacity-gated campaign (customer, id, name) of team sales-nl read through
/// `google_account` (`acme/ops` makes it project acme's), observed enabled at 09:00; the
/// team, stored as `team` (`acme/sales-nl` for acme's), at 50 % at 09:01 and at 96 % at
/// `full` (2026-03-02).
async fn gated_history(
    s: &Server,
    (customer, campaign, name): (&str, &str, &str),
    google_account: Option<&str>,
    team: &str,
    full: &str,
) {
    let m = Metadata::actor("test");
    s.engine
        .execute::<Campaign>(
            &format!("{customer}/{campaign}"),
            CampaignCommand::Observe {
                customer_id: customer.into(),
                campaign_id: campaign.into(),
                snapshot: CampaignSnapshot {
                    name: name.into(),
                    labels: vec!["capacity-gated".into(), "team:sales-nl".into()],
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: 50_000_000,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: None,
                },
                manual_hold: Duration::hours(4),
                google_account: google_account.map(str::to_string),
                at: t("2026-03-02T09:00:00Z"),
            },
            &m,
        )
        .await
        .unwrap();
    for (open, at) in [(25, "09:01"), (48, full)] {
        s.engine
            .execute::<CapacitySnapshot>(
                team,
                CapacityCommand::Record {
                    team: team.into(),
                    agents_available: 3,
                    open_leads: open,
                    max_open_leads: 50,
                    source: "test".into(),
                    max_age_secs: None,
                    at: t(&format!("2026-03-02T{at}:00Z")),
                },
                &m,
            )
            .await
            .unwrap();
    }
}

async fn backtest_pauses_when_the_team_fills(dialect: Dialect) {
    let s = start(dialect).await;
    let editor = s.key("editor", &[Scope::Read, Scope::Rules]).await;
    let reader = s.key("dashboard", &[Scope::Read]).await;
    let gate = read("rules/capacity_gate.rhai");
    let r = reqwest::Client::new()
        .put(s.url("/v1/rules/capacity_gate"))
        .bearer_auth(&editor)
        .json(&json!({"source": gate}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    recorded_history(&s).await;
    let before = head(&s).await;

    let window = json!({"from": "2026-03-02T08:30:00Z", "to": "2026-03-02T10:00:00Z"});
    let a = json_of(
        post(
            &s,
            &reader,
            "/v1/rules/capacity_gate/backtest",
            window.clone(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["id"], "capacity_gate");
    assert_eq!(a["version"], 1, "{dialect:?}: {a}");
    assert_eq!(a["from"], "2026-03-02T08:30:00Z");
    let decisions = a["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{dialect:?}: {a}");
    assert_eq!(decisions[0]["campaign"], "1234567890/1001");
    assert_eq!(decisions[0]["campaign_name"], "Brand NL");
    assert_eq!(decisions[0]["action"], "pause");
    assert_eq!(decisions[0]["at"], "2026-03-02T09:12:00Z", "{a}");
    assert!(a["evaluations"].as_u64().unwrap() >= 1);
    assert_eq!(a["failures"], 0);
    let campaign = &a["campaigns"][0];
    assert_eq!(campaign["campaign"], "1234567890/1001", "{a}");
    assert_eq!(campaign["flips_rule"], 1);
    assert_eq!(campaign["flips_actual"], 0);
    // Paused from 09:12 to the window's end at 10:00.
    assert_eq!(campaign["minutes_paused_rule"], 48.0, "{a}");
    assert_eq!(a["totals"]["campaign"], Value::Null);
    assert_eq!(a["totals"]["flips_rule"], 1);
    assert_eq!(
        head(&s).await,
        before,
        "{dialect:?}: a backtest records nothing"
    );

    // A source sent instead: a rule that never pauses decides nothing.
    let a = json_of(
        post(
            &s,
            &reader,
            "/v1/rules/capacity_gate/backtest",
            json!({"from": "2026-03-02T08:30:00Z", "to": "2026-03-02T10:00:00Z",
                   "source": "//! scope: labels=capacity-gated\n//! on: capacity_changed\n1\n"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["version"], Value::Null, "{a}");
    assert_eq!(a["decisions"], json!([]));
    assert_eq!(head(&s).await, before);
}

#[tokio::test]
async fn a_backtest_pauses_when_the_team_fills_on_sqlite() {
    backtest_pauses_when_the_team_fills(Dialect::Sqlite).await;
}

#[tokio::test]
async fn a_backtest_pauses_when_the_team_fills_on_postgres() {
    backtest_pauses_when_the_team_fills(Dialect::Postgres).await;
}

#[tokio::test]
async fn backtest_refusals_name_their_field() {
    let s = start(Dialect::Sqlite).await;
    let editor = s.key("editor", &[Scope::Read, Scope::Rules]).await;
    let r = reqwest::Client::new()
        .put(s.url("/v1/rules/capacity_gate"))
        .bearer_auth(&editor)
        .json(&json!({"source": read("rules/capacity_gate.rhai")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let path = "/v1/rules/capacity_gate/backtest";
    for (body, status, field) in [
        (json!({"from": "soon", "to": "2026-03-02"}), 422, "from"),
        (json!({"from": "2026-03-02", "to": "later"}), 422, "to"),
        (json!({"from": "2026-03-02", "to": "2026-03-01"}), 422, "to"),
        (json!({"from": "2026-01-01", "to": "2026-03-01"}), 422, "to"),
        (
            json!({"from": "2026-03-01", "to": "2026-03-02", "version": 1, "source": "1"}),
            422,
            "source",
        ),
        (
            json!({"from": "2026-03-01", "to": "2026-03-02", "source": "let x = ;"}),
            422,
            "source",
        ),
        (
            json!({"from": "2026-03-01", "to": "2026-03-02", "version": 7}),
            404,
            "version",
        ),
        (json!({"from": "2026-03-01"}), 422, "to"),
        (
            json!({"from": "2026-03-01", "to": "2026-03-02", "speed": 2}),
            422,
            "speed",
        ),
    ] {
        let p = problem(post(&s, &editor, path, body.clone()).await, status).await;
        assert_eq!(p["field"], field, "{body}: {p}");
    }
    let p = problem(
        post(
            &s,
            &editor,
            "/v1/rules/capacity_gate/backtest",
            json!({"from": "2026-03-01", "to": "2026-03-02", "source": "let x = ;"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["line"], 1, "{p}");
    let window = json!({"from": "2026-03-01", "to": "2026-03-02"});
    let p = problem(
        post(&s, &editor, "/v1/rules/nope/backtest", window.clone()).await,
        404,
    )
    .await;
    assert_eq!(p["field"], "id");
    // Another project has no rule capacity_gate: 404, as for a missing one.
    let other = s.key_in("acme", "ci", &[Scope::Read], &[]).await.0;
    let p = problem(post(&s, &other, path, window).await, 404).await;
    assert_eq!(p["field"], "id");
    assert!(
        !p["detail"].as_str().unwrap().contains("default project"),
        "{p}"
    );
}

#[tokio::test]
async fn a_fixture_passes_and_an_altered_one_names_the_step_that_differs() {
    let s = start(Dialect::Sqlite).await;
    let key = s.key("ci", &[Scope::Read, Scope::Rules]).await;
    let fixture = read("rules/fixtures/capacity_gate_hysteresis.toml");
    let gate = read("rules/capacity_gate.rhai");
    let before = head(&s).await;

    // With the rule's source sent.
    let a = json_of(
        post(
            &s,
            &key,
            "/v1/rules/test",
            json!({"fixture": fixture, "sources": {"capacity_gate": gate}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["passed"], true, "{a}");
    assert_eq!(
        a["rules"],
        json!([{"id": "capacity_gate", "from": "sources", "version": null}])
    );
    let steps = a["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6);
    assert!(steps.iter().all(|s| s["matched"] == true), "{a}");
    assert_eq!(steps[1]["number"], 2);
    assert_eq!(steps[1]["at"], "2026-03-02T09:05:00Z");
    assert_eq!(
        steps[1]["actual"],
        json!(["pause 111-222-3333/1001 by capacity_gate"])
    );
    assert_eq!(steps[1]["expected"], json!(["pause 111-222-3333/1001"]));
    assert_eq!(head(&s).await, before, "a fixture records nothing");

    // Altered: step 2 expects nothing, but the rule pauses.
    let altered = fixture.replacen(
        "expect = [{ campaign = \"111-222-3333/1001\", action = \"pause\" }]",
        "expect = []",
        1,
    );
    assert_ne!(altered, fixture);
    let a = json_of(
        post(
            &s,
            &key,
            "/v1/rules/test",
            json!({"fixture": altered, "sources": {"capacity_gate": gate}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["passed"], false, "{a}");
    let differing: Vec<&Value> = a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["matched"] == false)
        .collect();
    assert_eq!(differing.len(), 1, "{a}");
    assert_eq!(differing[0]["number"], 2);
    assert_eq!(differing[0]["expected"], json!([]));
    assert_eq!(
        differing[0]["actual"],
        json!(["pause 111-222-3333/1001 by capacity_gate"])
    );
    assert!(differing[0]["problems"][0]
        .as_str()
        .unwrap()
        .contains("expected [], got [pause 111-222-3333/1001 by capacity_gate]"));

    // Without sources: the saved rule (once saved).
    let p = problem(
        post(&s, &key, "/v1/rules/test", json!({"fixture": fixture})).await,
        422,
    )
    .await;
    assert_eq!(p["field"], "sources", "{p}");
    let r = reqwest::Client::new()
        .put(s.url("/v1/rules/capacity_gate"))
        .bearer_auth(&key)
        .json(&json!({"source": gate}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a = json_of(
        post(&s, &key, "/v1/rules/test", json!({"fixture": fixture})).await,
        200,
    )
    .await;
    assert_eq!(a["passed"], true, "{a}");
    assert_eq!(
        a["rules"],
        json!([{"id": "capacity_gate", "from": "saved", "version": 1}])
    );

    // Refusals name their field.
    for (body, field, line) in [
        (json!({"fixture": "rule = "}), "fixture", None),
        (json!({"fixture": "steps = []"}), "fixture", None),
        (
            json!({"fixture": fixture, "sources": {"capacity_gate": gate, "other": "1"}}),
            "sources.other",
            None,
        ),
        (
            json!({"fixture": fixture, "sources": {"capacity_gate": "1\nlet x = ;\n"}}),
            "sources.capacity_gate",
            Some(2),
        ),
        (json!({"fixture": fixture, "colour": 1}), "colour", None),
    ] {
        let p = problem(post(&s, &key, "/v1/rules/test", body.clone()).await, 422).await;
        assert_eq!(p["field"], field, "{body}: {p}");
        if let Some(line) = line {
            assert_eq!(p["line"], line, "{p}");
        }
    }

    // Another project runs fixtures too, with its own saved rules: default's capacity_gate is
    // not acme's.
    let other = s
        .key_in("acme", "ci", &[Scope::Read, Scope::Rules], &[])
        .await
        .0;
    let a = json_of(
        post(
            &s,
            &other,
            "/v1/rules/test",
            json!({"fixture": fixture, "sources": {"capacity_gate": gate}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["passed"], true, "{a}");
    let p = problem(
        post(&s, &other, "/v1/rules/test", json!({"fixture": fixture})).await,
        422,
    )
    .await;
    assert_eq!(p["field"], "sources", "{p}");
    // Acme's own saved rule, at a version of its own (a source that never pauses).
    let never = "//! scope: labels=capacity-gated\n1\n";
    let r = reqwest::Client::new()
        .put(s.url("/v1/rules/capacity_gate"))
        .bearer_auth(&other)
        .json(&json!({"source": never}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a = json_of(
        post(&s, &other, "/v1/rules/test", json!({"fixture": fixture})).await,
        200,
    )
    .await;
    assert_eq!(
        a["rules"],
        json!([{"id": "capacity_gate", "from": "saved", "version": 1}])
    );
    assert_eq!(a["passed"], false, "acme's rule never pauses: {a}");
    let a = json_of(
        post(&s, &key, "/v1/rules/test", json!({"fixture": fixture})).await,
        200,
    )
    .await;
    assert_eq!(a["passed"], true, "default's rule is its own: {a}");
}

/// Acme's own rule, backtested and dry-run over acme's campaign and team: named bare, and
/// blind to the default project's campaign and team (which fill up at another time).
#[tokio::test]
async fn a_project_backtests_and_dry_runs_its_own_rule_named_bare() {
    let s = start(Dialect::Sqlite).await;
    let (acme, _) = s
        .key_in("acme", "editor", &[Scope::Read, Scope::Rules], &[])
        .await;
    let default = s.key("editor", &[Scope::Read, Scope::Rules]).await;
    let gate = read("rules/capacity_gate.rhai");
    for key in [&acme, &default] {
        let r = reqwest::Client::new()
            .put(s.url("/v1/rules/capacity_gate"))
            .bearer_auth(key)
            .json(&json!({"source": gate}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    recorded_history(&s).await;
    gated_history(
        &s,
        ("5555555555", "2002", "Acme NL"),
        Some("acme/ops"),
        "acme/sales-nl",
        "09:30",
    )
    .await;
    let before = head(&s).await;

    let window = json!({"from": "2026-03-02T08:30:00Z", "to": "2026-03-02T10:00:00Z"});
    let path = "/v1/rules/capacity_gate/backtest";
    let a = json_of(post(&s, &acme, path, window.clone()).await, 200).await;
    assert_eq!(a["id"], "capacity_gate", "{a}");
    assert_eq!(a["version"], 1);
    let decisions: Vec<(&str, &str, &str)> = a["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["campaign"].as_str().unwrap(),
                d["action"].as_str().unwrap(),
                d["at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [("5555555555/2002", "pause", "2026-03-02T09:30:00Z")],
        "{a}"
    );
    let a = json_of(post(&s, &default, path, window.clone()).await, 200).await;
    let decisions: Vec<&str> = a["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["campaign"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["1234567890/1001"], "{a}");
    // A source sent instead is acme's to try too, over acme's campaigns.
    let mut with_source = window.clone();
    with_source["source"] = json!(gate);
    let a = json_of(
        post(&s, &acme, "/v1/rules/draft_gate/backtest", with_source).await,
        200,
    )
    .await;
    assert_eq!(a["id"], "draft_gate", "{a}");
    assert_eq!(a["version"], Value::Null);
    assert_eq!(a["decisions"][0]["campaign"], "5555555555/2002", "{a}");

    // The dry run after the team filled: acme's campaign only, its rule named bare.
    let a = json_of(
        post(
            &s,
            &acme,
            "/v1/rules/capacity_gate/dry-run",
            json!({"as_of": "2026-03-02T09:40:00Z"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["id"], "capacity_gate", "{a}");
    assert_eq!(a["campaigns_in_scope"], 1, "{a}");
    assert_eq!(a["decisions"][0]["campaign"], "5555555555/2002", "{a}");
    assert_eq!(a["decisions"][0]["action"], "pause", "{a}");
    assert_eq!(head(&s).await, before, "nothing recorded");
}

#[tokio::test]
async fn the_api_description_lists_the_new_rules_endpoints() {
    let s = start(Dialect::Sqlite).await;
    let key = s.key("dash", &[Scope::Read]).await;
    let doc = json_of(
        reqwest::Client::new()
            .get(s.url("/openapi.json"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    for (path, not_found) in [
        ("/v1/rules/check", false),
        ("/v1/rules/{id}/backtest", true),
        ("/v1/rules/test", false),
    ] {
        let op = &doc["paths"][path]["post"];
        assert_eq!(op["tags"], json!(["rules"]), "{path}: {op}");
        assert!(op["responses"]["422"].is_object(), "{path}");
        // Checks and fixtures are every project's: only a backtest names a rule to miss.
        assert_eq!(
            op["responses"]["404"].is_object(),
            not_found,
            "{path}: {op}"
        );
    }
    let schemas = &doc["components"]["schemas"];
    for body in ["CheckRequest", "BacktestRequest", "FixtureRequest"] {
        assert_eq!(schemas[body]["additionalProperties"], false, "{body}");
    }
}
