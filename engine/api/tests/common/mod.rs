//! A server on a free loopback port over a fresh database, and keys made the way
//! `leadorch keys create` makes them.

#![allow(dead_code)]

use leadorch_api::keys::{create, KeySpec, Scope};
use leadorch_api::listen::bind;
use leadorch_api::{check_listen, serve, Api};
use leadorch_core::Engine;
use leadorch_store::{ApiKeys, Dialect, StoreConfig};
use leadorch_test_support::TestDb;

/// A running server and what it runs over.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The engine under it.
    pub engine: Engine,
    /// Its key tables.
    pub keys: ApiKeys,
    /// The database (dropped last).
    pub db: TestDb,
    _key_dir: tempfile::TempDir,
}

/// Serves the API over a fresh database of `dialect`.
pub async fn start_on(dialect: Dialect) -> Server {
    start_with(dialect, leadorch_api::Settings::default()).await
}

/// Serves the API with `settings` over a fresh database of `dialect`.
pub async fn start_with(dialect: Dialect, settings: leadorch_api::Settings) -> Server {
    start_limited(dialect, settings, None).await
}

/// [`start_with`], with these rate limits instead of the settings'.
pub async fn start_limited(
    dialect: Dialect,
    settings: leadorch_api::Settings,
    limits: Option<Option<leadorch_api::limits::RateLimits>>,
) -> Server {
    let db = TestDb::new(dialect).await;
    let key_dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(db.url.clone());
    config.master_key_file = Some(key_dir.path().join("master.key"));
    let engine = Engine::open(&config).await.expect("open the store");
    let (api, _writer) = Api::with_settings(engine.clone(), settings);
    let api = match limits {
        Some(l) => api.with_rate_limits(l),
        None => api,
    };
    let keys = api.keys.clone();
    let addr = check_listen("127.0.0.1:0", false).unwrap();
    let (listener, bound) = bind(addr).await.unwrap();
    tokio::spawn(serve(
        listener,
        leadorch_api::router(api),
        std::future::pending(),
    ));
    Server {
        base: format!("http://{bound}"),
        engine,
        keys,
        db,
        _key_dir: key_dir,
    }
}

/// Serves the API over a fresh SQLite file.
pub async fn start() -> Server {
    start_on(Dialect::Sqlite).await
}

impl Server {
    /// Makes a key in `project` with `scopes` (and an allowlist); returns its text and id.
    pub async fn key_in(
        &self,
        project: &str,
        name: &str,
        scopes: &[Scope],
        allow: &[&str],
    ) -> (String, String) {
        let spec = KeySpec {
            project: project.to_string(),
            name: name.to_string(),
            scopes: scopes.to_vec(),
            allow_ips: allow.iter().map(|s| s.to_string()).collect(),
        };
        let (key, row) = create(&self.keys, &spec, "test", 1)
            .await
            .expect("make a key");
        (key.text.to_string(), row.key_id)
    }

    /// A key of the default project.
    pub async fn key(&self, name: &str, scopes: &[Scope]) -> String {
        self.key_in("default", name, scopes, &[]).await.0
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Asserts a problem answer: status, content type, and returns the body.
pub async fn problem(r: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status(), status, "status of {}", r.url());
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "{:?}",
        r.headers()
    );
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["status"], status);
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
    p
}
