//! `api_request` as the window calls it, without the window: the HTTP API's routes in
//! process over the desktop's own database (SQLite and PostgreSQL), as the operator of the
//! default project recorded as the app's actor; every answer of the API, refusals too, is a
//! normal `{status, body}`; the request and answer read and write the JSON the front end
//! sends and gets.

use std::cell::RefCell;
use std::path::Path;

use leadorch_desktop::app::{ApiRequest, ApiResponse, Desktop, OpenOptions};
use leadorch_desktop::master_key::SecretStore;
use leadorch_store::Dialect;
use leadorch_test_support::TestDb;
use serde_json::{json, Value};
use zeroize::Zeroizing;

const ACTOR: &str = "desktop:tester";

/// Stands in for the OS keyring.
#[derive(Default)]
struct Keyring(RefCell<Option<String>>);

impl SecretStore for Keyring {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        Ok(self.0.borrow().clone().map(Zeroizing::new))
    }
    fn set(&self, secret: &str) -> Result<(), String> {
        *self.0.borrow_mut() = Some(secret.to_string());
        Ok(())
    }
}

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn open(db: &TestDb, dir: &Path) -> Desktop {
    open_with(db, dir, &Keyring::default()).await
}

async fn open_with(db: &TestDb, dir: &Path, keyring: &Keyring) -> Desktop {
    let options = OpenOptions {
        database_url: db.url.clone(),
        // No CLI key file to import: the keyring's new key.
        key_file: Some(dir.join("no-such.key")),
        google: Default::default(),
        actor: ACTOR.into(),
        api: leadorch_api::Settings {
            rules_lib: Some(repo().join("rules/lib")),
            ..Default::default()
        },
    };
    Desktop::open(options, keyring).await.unwrap()
}

/// The request as the front end sends it (`invoke('api_request', { request })`).
fn request(v: Value) -> ApiRequest {
    serde_json::from_value(v).expect("the front end's request reads")
}

async fn call(app: &Desktop, v: Value) -> ApiResponse {
    app.api_request(request(v))
        .await
        .expect("a call is answered")
}

async fn flow(dialect: Dialect) {
    let db = TestDb::new(dialect).await;
    let dir = tempfile::tempdir().unwrap();
    let app = open(&db, dir.path()).await;
    let gate = std::fs::read_to_string(repo().join("rules/capacity_gate.rhai")).unwrap();

    let saved = call(
        &app,
        json!({"method": "PUT", "path": "/v1/rules/capacity_gate", "body": {"source": gate}}),
    )
    .await;
    assert_eq!(saved.status, 201, "{dialect:?}: {saved:?}");
    assert_eq!(saved.body["version"], 1);

    // Read back; no body given as `null` or left out alike.
    let list = call(
        &app,
        json!({"method": "GET", "path": "/v1/rules", "body": null}),
    )
    .await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["items"][0]["id"], "capacity_gate", "{list:?}");
    let history = call(
        &app,
        json!({"method": "GET", "path": "/v1/rules/capacity_gate/history"}),
    )
    .await;
    assert_eq!(history.body["items"][0]["actor"], ACTOR, "{history:?}");
    let events = app
        .engine()
        .store
        .log
        .read_stream("rule:capacity_gate")
        .await
        .unwrap();
    assert_eq!(events[0].metadata().actor, ACTOR);

    // Refusals are answers: the problem, with its status.
    let missing = call(&app, json!({"method": "GET", "path": "/v1/rules/nope"})).await;
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(missing.body["field"], "id", "{missing:?}");
    let wrong = call(
        &app,
        json!({"method": "PUT", "path": "/v1/rules/x", "body": {"source": gate, "priority": 3}}),
    )
    .await;
    assert_eq!(wrong.status, 422, "{wrong:?}");
    assert_eq!(wrong.body["field"], "priority", "{wrong:?}");
    let bad = call(&app, json!({"method": "BREW", "path": "/v1/rules"})).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.body["field"], "method", "{bad:?}");
    let outside = call(&app, json!({"method": "GET", "path": "/openapi.json"})).await;
    assert_eq!(outside.status, 400, "{outside:?}");
    assert_eq!(outside.body["field"], "path", "{outside:?}");
    let stream = call(&app, json!({"method": "GET", "path": "/v1/events/stream"})).await;
    assert_eq!(stream.status, 501, "{stream:?}");

    // The answer as the front end gets it.
    assert_eq!(
        serde_json::to_value(&missing).unwrap(),
        json!({"status": 404, "body": missing.body}),
    );
    drop(app);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_calls_the_api_in_process_on_sqlite() {
    flow(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_calls_the_api_in_process_on_postgres() {
    flow(Dialect::Postgres).await;
}

#[test]
fn a_request_needs_a_method_and_a_path() {
    let e = serde_json::from_value::<ApiRequest>(json!({"path": "/v1/rules"})).unwrap_err();
    assert!(e.to_string().contains("method"), "{e}");
    let r = request(json!({"method": "POST", "path": "/v1/rules/check", "body": {"source": "1"}}));
    assert_eq!(r.body, Some(json!({"source": "1"})));
}

/// The window hears of its own commits and of another process's on the same database (a
/// daemon): PostgreSQL's `LISTEN`, or a look at the SQLite file every `poll`.
async fn head_watch(dialect: Dialect) {
    let db = TestDb::new(dialect).await;
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::default();
    let app = open_with(&db, dir.path(), &keyring).await;
    // Its own pools and writer, as a daemon in another process has.
    let other = open_with(&db, dir.path(), &keyring).await;
    let (tx, mut heads) = tokio::sync::mpsc::unbounded_channel();
    let poll = std::time::Duration::from_millis(100);
    assert!(app
        .watch_head(poll, move |h| {
            let _ = tx.send(h);
        })
        .unwrap());
    assert!(!app.watch_head(poll, |_| {}).unwrap(), "started once");
    // Waits (generously: no test may depend on timing) until the watch tells `at_least`.
    async fn told(heads: &mut tokio::sync::mpsc::UnboundedReceiver<u64>, at_least: u64) {
        let wait = async {
            loop {
                let h = heads.recv().await.expect("the watch runs");
                if h >= at_least {
                    return h;
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(120), wait)
            .await
            .unwrap_or_else(|_| panic!("the watch never told head {at_least}"));
    }
    let start = app.engine().store.log.head().await.unwrap().position;
    told(&mut heads, start).await;
    let team = json!({"time_zone": "Europe/Amsterdam", "max_open_leads": 40});
    for (who, name) in [(&app, "sales-nl"), (&other, "sales-de")] {
        let put = call(
            who,
            json!({"method": "PUT", "path": format!("/v1/teams/{name}"), "body": team}),
        )
        .await;
        assert!(put.status < 300, "{dialect:?}: {put:?}");
        let head = who.engine().store.log.head().await.unwrap().position;
        assert!(head > start, "{dialect:?}: the PUT wrote");
        told(&mut heads, head).await;
    }
    drop((app, other));
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_hears_of_new_events_on_sqlite() {
    head_watch(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_hears_of_new_events_on_postgres() {
    head_watch(Dialect::Postgres).await;
}

/// A request sent with an id answers as without one; its id, cancelled after it answered,
/// cancels nothing else.
#[tokio::test]
async fn a_request_with_an_id_answers_as_without_one() {
    let db = TestDb::new(Dialect::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let app = open(&db, dir.path()).await;
    let plain = call(&app, json!({"method": "GET", "path": "/v1/rules"})).await;
    let with_id = app
        .api_request_cancellable(request(json!({"method": "GET", "path": "/v1/rules"})), "r1")
        .await
        .unwrap();
    assert_eq!(plain, with_id);
    app.cancel_request("r1").unwrap();
    let again = app
        .api_request_cancellable(request(json!({"method": "GET", "path": "/v1/rules"})), "r2")
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    drop(app);
    db.cleanup().await;
}
