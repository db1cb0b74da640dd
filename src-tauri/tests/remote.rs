//! Remote mode without the window: the shell connected to a daemon's API over real HTTP on
//! loopback (a server over its own SQLite file), beside a local database of its own. The
//! window's requests go to the one in use; a wrong key or address is refused by name and
//! switches nothing; the choice and the key (in the keyring) survive a restart; the head
//! watch follows the daemon's log; cancelling works there too.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadorch_api::keys::{create, KeySpec, Scope};
use leadorch_api::listen::bind;
use leadorch_api::{check_listen, serve, Api};
use leadorch_core::Engine;
use leadorch_desktop::app::{ApiRequest, Desktop, OpenOptions};
use leadorch_desktop::master_key::SecretStore;
use leadorch_desktop::remote::{key_entry_user, ConnectionRequest, ConnectionState};
use leadorch_desktop::shell::{Secrets, Shell};
use leadorch_store::{Dialect, StoreConfig};
use leadorch_test_support::TestDb;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// Stands in for the OS keyring: entries by user name.
#[derive(Clone, Default)]
struct Keyring(Arc<Mutex<HashMap<String, String>>>);

struct Entry(Keyring, String);

impl SecretStore for Entry {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        Ok(self
            .0
             .0
            .lock()
            .unwrap()
            .get(&self.1)
            .cloned()
            .map(Zeroizing::new))
    }
    fn set(&self, secret: &str) -> Result<(), String> {
        self.0
             .0
            .lock()
            .unwrap()
            .insert(self.1.clone(), secret.to_string());
        Ok(())
    }
}

impl Keyring {
    fn secrets(&self) -> Secrets {
        let k = self.clone();
        Arc::new(move |user: &str| {
            Ok(Box::new(Entry(k.clone(), user.to_string())) as Box<dyn SecretStore + Send + Sync>)
        })
    }
}

/// A daemon's API on a free loopback port over a fresh SQLite file; its address and a key.
async fn daemon(dir: &Path) -> (String, String, TestDb) {
    let db = TestDb::new(Dialect::Sqlite).await;
    let mut config = StoreConfig::new(db.url.clone());
    config.master_key_file = Some(dir.join("daemon-master.key"));
    let engine = Engine::open(&config)
        .await
        .expect("open the daemon's store");
    let (api, _writer) = Api::with_settings(engine, Default::default());
    let spec = KeySpec {
        project: "default".into(),
        name: "desktop".into(),
        scopes: vec![
            Scope::Read,
            Scope::Rules,
            Scope::Admin,
            Scope::Ingest,
            Scope::Capacity,
        ],
        allow_ips: vec![],
    };
    let (key, _) = create(&api.keys, &spec, "test", 1)
        .await
        .expect("make a key");
    let (listener, bound) = bind(check_listen("127.0.0.1:0", false).unwrap())
        .await
        .unwrap();
    tokio::spawn(serve(
        listener,
        leadorch_api::router(api),
        std::future::pending(),
    ));
    (format!("http://{bound}"), key.text.to_string(), db)
}

/// Stands in for the OS keyring of the local database's master key.
#[derive(Default)]
struct Keyring1(std::cell::RefCell<Option<String>>);
impl SecretStore for Keyring1 {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        Ok(self.0.borrow().clone().map(Zeroizing::new))
    }
    fn set(&self, secret: &str) -> Result<(), String> {
        *self.0.borrow_mut() = Some(secret.to_string());
        Ok(())
    }
}

async fn local_desktop(db: &TestDb, dir: &Path) -> Desktop {
    let options = OpenOptions {
        database_url: db.url.clone(),
        key_file: Some(dir.join("no-such.key")),
        google: Default::default(),
        actor: "desktop:tester".into(),
        api: Default::default(),
    };
    Desktop::open(options, &Keyring1::default()).await.unwrap()
}

fn request(v: Value) -> ApiRequest {
    serde_json::from_value(v).expect("the front end's request reads")
}

async fn teams(shell: &Shell) -> Vec<String> {
    let answer = shell
        .api_request(request(json!({"method": "GET", "path": "/v1/teams"})), None)
        .await
        .expect("answered");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_works_against_a_daemon_and_comes_back_as_it_was_left() {
    let dir = tempfile::tempdir().unwrap();
    let (url, key, _daemon_db) = daemon(dir.path()).await;
    let local_db = TestDb::new(Dialect::Sqlite).await;
    let keyring = Keyring::default();
    let remembered = dir.path().join("data/desktop-connection.json");
    let shell = Shell::open(
        Ok(local_desktop(&local_db, dir.path()).await),
        "sqlite://local.db".into(),
        remembered.clone(),
        keyring.secrets(),
    );
    assert_eq!(
        shell.state().await.unwrap(),
        ConnectionState::Local {
            database: "sqlite://local.db".into()
        }
    );
    let put = request(json!({"method": "PUT", "path": "/v1/teams/sales-nl",
        "body": {"max_open_leads": 15, "time_zone": "Europe/Amsterdam"}}));
    let made = shell.api_request(put.clone(), None).await.unwrap();
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(teams(&shell).await, vec!["sales-nl"]);

    // Refused by name, switching nothing.
    let wrong_key = ConnectionRequest::Remote {
        url: url.clone(),
        api_key: Some("lo_default_not-a-key".into()),
    };
    let e = shell.set(&wrong_key).await.unwrap_err();
    assert_eq!(e.code, "input");
    assert!(
        e.message.starts_with("api_key: the daemon at"),
        "{}",
        e.message
    );
    let e = shell
        .test(&ConnectionRequest::Remote {
            url: "http://10.1.2.3:8650".into(),
            api_key: Some(key.clone()),
        })
        .await
        .unwrap_err();
    assert!(e.message.starts_with("url: plain http"), "{}", e.message);
    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}")
    };
    let e = shell
        .test(&ConnectionRequest::Remote {
            url: nobody,
            api_key: Some(key.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, "unreachable", "{}", e.message);
    let e = shell
        .test(&ConnectionRequest::Remote {
            url: url.clone(),
            api_key: None,
        })
        .await
        .unwrap_err();
    assert!(e.message.contains("no key is kept"), "{}", e.message);
    assert!(matches!(
        shell.state().await.unwrap(),
        ConnectionState::Local { .. }
    ));
    assert!(!remembered.exists());

    // Switched: the daemon's teams, not the local ones; the key is in the keyring only.
    let state = shell
        .set(&ConnectionRequest::Remote {
            url: format!("{url}/"),
            api_key: Some(key.clone()),
        })
        .await
        .unwrap();
    assert_eq!(
        state,
        ConnectionState::Remote {
            url: url.clone(),
            key_name: None,
            reachable: true,
            error: None
        }
    );
    assert_eq!(
        keyring.0.lock().unwrap().get(&key_entry_user(&url)),
        Some(&key)
    );
    let file = std::fs::read_to_string(&remembered).unwrap();
    assert!(file.contains(&url) && !file.contains(&key), "{file}");
    assert!(teams(&shell).await.is_empty());
    let mut put_remote = put.clone();
    put_remote.path = "/v1/teams/support".into();
    assert_eq!(
        shell.api_request(put_remote, None).await.unwrap().status,
        201
    );
    assert_eq!(teams(&shell).await, vec!["support"]);
    // A refusal is an answer, as in process.
    let bad = shell
        .api_request(
            request(json!({"method": "PUT", "path": "/v1/teams/x",
            "body": {"time_zone": "Mars/Olympus"}})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 422, "{bad:?}");
    assert_eq!(bad.body["field"], "time_zone");
    let overview = shell.overview().await.unwrap();
    assert!(overview.database.starts_with(&url), "{}", overview.database);
    assert!(overview.accounts.is_empty());
    let e = shell.start_consent("main", |_| true).await.unwrap_err();
    assert!(
        e.message.contains("connect accounts there"),
        "{}",
        e.message
    );

    // The head watch follows the daemon's log.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    shell
        .watch_head(Duration::from_millis(500), move |h| {
            let _ = tx.send(h);
        })
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(first > 0);
    let mut put_more = put.clone();
    put_more.path = "/v1/teams/sales-be".into();
    assert_eq!(shell.api_request(put_more, None).await.unwrap().status, 201);
    let later = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(later > first, "{later} after {first}");

    // Cancelled before it arrived: never sent.
    shell.cancel_request("r1").unwrap();
    let e = shell
        .api_request(
            request(json!({"method": "GET", "path": "/v1/teams"})),
            Some("r1"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "cancelled");

    // A restart comes back to the daemon, with the key from the keyring.
    drop(shell);
    let again = Shell::open(
        Ok(local_desktop(&local_db, dir.path()).await),
        "sqlite://local.db".into(),
        remembered.clone(),
        keyring.secrets(),
    );
    assert!(matches!(
        again.state().await.unwrap(),
        ConnectionState::Remote {
            reachable: true,
            ..
        }
    ));
    assert_eq!(teams(&again).await, vec!["sales-be", "support"]);
    // And back to the local database, remembered too.
    again.set(&ConnectionRequest::Local).await.unwrap();
    assert_eq!(teams(&again).await, vec!["sales-nl"]);
    let third = Shell::open(
        Ok(local_desktop(&local_db, dir.path()).await),
        "sqlite://local.db".into(),
        remembered,
        keyring.secrets(),
    );
    assert!(matches!(
        third.state().await.unwrap(),
        ConnectionState::Local { .. }
    ));
}
