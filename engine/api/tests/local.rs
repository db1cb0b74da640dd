//! The API in process (`Local`, ADR 0039), as the desktop calls it: on SQLite and on
//! PostgreSQL, an operator of `default` saves a rule, lists it and reads it back through the
//! same routes the daemon serves; what it records names the operator's actor; another
//! project's operator sees none of it; an unknown path is a `404` problem, a wrong field a
//! `422` naming it; input HTTP could never carry (an unknown method, a path outside `/v1/`, a
//! missing body, the endless event stream) is a clear problem; no call is rate limited or
//! written to the access log.

use leadorch_api::{Api, Local, LocalResponse, Settings};
use leadorch_core::Engine;
use leadorch_store::{AccessQuery, Dialect, StoreConfig};
use leadorch_test_support::TestDb;
use serde_json::{json, Value};

const ACTOR: &str = "desktop:tester";

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(repo().join("rules").join(name)).expect("an example rule")
}

/// Asserts `r` is a problem with `status` and returns it.
fn problem(r: &LocalResponse, status: u16) -> &Value {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.body["status"], status, "{r:?}");
    assert!(
        r.body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://leadorch.dev/problems/")),
        "{r:?}"
    );
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{r:?}"
    );
    &r.body
}

async fn flow(dialect: Dialect) {
    let db = TestDb::new(dialect).await;
    let keys = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(db.url.clone());
    config.master_key_file = Some(keys.path().join("master.key"));
    let engine = Engine::open(&config).await.expect("open the store");
    let settings = Settings {
        rules_lib: Some(repo().join("rules/lib")),
        // One request a second: a key would be refused long before the calls below end.
        api: leadorch_config::ApiSettings {
            requests_per_second: 1,
            burst: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let (api, writer) = Api::with_settings(engine.clone(), settings);
    let ops = Local::new(api.clone(), "default", ACTOR).unwrap();
    let acme = Local::new(api.clone(), "acme", "desktop:other").unwrap();
    assert_eq!((ops.project(), ops.actor()), ("default", ACTOR));

    // Saved through PUT /v1/rules/{id}, as over HTTP: 201, version 1.
    let gate = example("capacity_gate.rhai");
    let saved = ops
        .call(
            "PUT",
            "/v1/rules/capacity_gate",
            Some(json!({"source": gate})),
        )
        .await;
    assert_eq!(saved.status, 201, "{dialect:?}: {saved:?}");
    assert_eq!(saved.body["id"], "capacity_gate");
    assert_eq!(saved.body["outcome"], "created");
    assert_eq!(saved.body["version"], 1);

    // Listed and read back.
    let list = ops.call("GET", "/v1/rules", None).await;
    assert_eq!(list.status, 200, "{list:?}");
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["capacity_gate"], "{list:?}");
    let shown = ops
        .call("GET", "/v1/rules/capacity_gate?version=1", None)
        .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["source"], gate.as_str());
    assert_eq!(shown.body["version"], 1);

    // Recorded as the operator, with the answer's trace id, not as an API key.
    let recorded = engine
        .store
        .log
        .read_stream("rule:capacity_gate")
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    let meta = recorded[0].metadata();
    assert_eq!(meta.actor, ACTOR);
    assert_eq!(
        meta.trace_id.as_deref(),
        saved.body["trace_id"].as_str(),
        "{meta:?}"
    );
    // The history says so too.
    let history = ops
        .call("GET", "/v1/rules/capacity_gate/history", None)
        .await;
    assert_eq!(history.status, 200, "{history:?}");
    assert_eq!(history.body["items"][0]["actor"], ACTOR, "{history:?}");

    // Every scope: an admin-only endpoint answers.
    let keys_list = ops.call("GET", "/v1/keys", None).await;
    assert_eq!(keys_list.status, 200, "{keys_list:?}");

    // Another project's operator sees none of it, and its rule is a 404 as over HTTP.
    let theirs = acme.call("GET", "/v1/rules", None).await;
    assert_eq!(theirs.status, 200, "{theirs:?}");
    assert_eq!(theirs.body["items"], json!([]), "{theirs:?}");
    let p = problem(
        &acme.call("GET", "/v1/rules/capacity_gate", None).await,
        404,
    )
    .clone();
    assert_eq!(p["field"], "id", "{p}");
    // Its own rule of the same id is its own.
    let own = acme
        .call(
            "PUT",
            "/v1/rules/capacity_gate",
            Some(json!({"source": gate, "enable": true})),
        )
        .await;
    assert_eq!(own.status, 201, "{own:?}");
    let mine = ops.call("GET", "/v1/rules/capacity_gate", None).await;
    assert_eq!(mine.body["enabled"], false, "{mine:?}");

    // An unknown path is the router's 404 problem.
    let p = problem(&ops.call("GET", "/v1/nothing-here", None).await, 404).clone();
    assert!(
        p["detail"].as_str().unwrap().contains("/v1/nothing-here"),
        "{p}"
    );
    // A wrong field is a 422 naming it; an unknown one too.
    let p = problem(
        &ops.call("PUT", "/v1/rules/other", Some(json!({"source": 5})))
            .await,
        422,
    )
    .clone();
    assert_eq!(p["field"], "source", "{p}");
    let p = problem(
        &ops.call(
            "PUT",
            "/v1/rules/other",
            Some(json!({"source": gate, "enabled": true})),
        )
        .await,
        422,
    )
    .clone();
    assert_eq!(p["field"], "enabled", "{p}");
    // A source that does not compile: checked (200), with its line.
    let checked = ops
        .call(
            "POST",
            "/v1/rules/check",
            Some(json!({"source": "//! priority: 10\nlet x = ;\n"})),
        )
        .await;
    assert_eq!(checked.status, 200, "{checked:?}");
    assert_eq!(checked.body["ok"], false, "{checked:?}");
    assert_eq!(
        checked.body["rules"][0]["diagnostics"][0]["line"], 2,
        "{checked:?}"
    );

    // What HTTP cannot send is refused clearly.
    let p = problem(&ops.call("FETCH", "/v1/rules", None).await, 400).clone();
    assert_eq!(p["field"], "method", "{p}");
    let p = problem(&ops.call("get", "/v1/rules", None).await, 400).clone();
    assert!(p["detail"].as_str().unwrap().contains("GET"), "{p}");
    for path in [
        "/metrics",
        "/healthz",
        "rules",
        "",
        "http://example.com/v1/rules",
    ] {
        let p = problem(&ops.call("GET", path, None).await, 400).clone();
        assert_eq!(p["field"], "path", "{path}: {p}");
    }
    let p = problem(&ops.call("GET", "/v1/rules/a b", None).await, 400).clone();
    assert_eq!(p["field"], "path", "{p}");
    // A route that reads a body, given none.
    let p = problem(&ops.call("POST", "/v1/rules/check", None).await, 400).clone();
    assert!(
        p["type"].as_str().unwrap().ends_with("/missing-body"),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("POST /v1/rules/check"),
        "{p}"
    );
    // A body that is JSON but not an object.
    let p = problem(
        &ops.call("POST", "/v1/rules/check", Some(json!("//! x")))
            .await,
        422,
    )
    .clone();
    assert!(p["detail"].as_str().unwrap().contains("object"), "{p}");
    // The event stream never ends: refused, pointing at the paged log.
    for path in ["/v1/events/stream", "/v1/events/stream?after=0"] {
        let p = problem(&ops.call("GET", path, None).await, 501).clone();
        assert!(p["detail"].as_str().unwrap().contains("/v1/events"), "{p}");
    }
    // The paged log answers, and shows the operator as the actor.
    let page = ops.call("GET", "/v1/events?limit=10", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.to_string().contains(ACTOR),
        "the operator is the recorded actor: {page:?}"
    );

    // More calls than the rate limit would let a key make, none refused (checked above), and
    // no access-log row for any of them.
    drop((ops, acme, api));
    tokio::time::timeout(std::time::Duration::from_secs(60), writer.finish())
        .await
        .expect("the access-log writer ends once every Api is dropped");
    let rows = leadorch_store::ApiKeys::new(engine.store.db().clone())
        .access_log(&AccessQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    drop(engine);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_calls_the_api_in_process_on_sqlite() {
    flow(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_calls_the_api_in_process_on_postgres() {
    flow(Dialect::Postgres).await;
}

#[tokio::test]
async fn an_operator_needs_a_project_and_an_actor_of_its_own() {
    let db = TestDb::sqlite();
    let keys = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(db.url.clone());
    config.master_key_file = Some(keys.path().join("master.key"));
    let engine = Engine::open(&config).await.unwrap();
    let (api, _writer) = Api::new(engine);
    for project in ["", "Acme", "a_b", "acme/ops"] {
        let e = Local::new(api.clone(), project, ACTOR).unwrap_err();
        assert!(e.to_string().contains("project"), "{project}: {e}");
    }
    for actor in ["", "  ", "api-key:key_abc"] {
        let e = Local::new(api.clone(), "default", actor).unwrap_err();
        assert!(e.to_string().contains("desktop:<user>"), "{actor:?}: {e}");
    }
}
