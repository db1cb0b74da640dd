//! What the connectors' tests share: an engine on a test database, times, a secret in a file
//! of the test's own, and reading back what the poller recorded.
#![allow(dead_code)] // each test binary uses its own part of it

use chrono::{DateTime, Utc};
use leadorch_core::Engine;
use leadorch_domain::{AnyEvent, CapacitySnapshot};
use leadorch_store::{Db, EventFilter, MasterKey, RetentionPolicy, Store};
use leadorch_test_support::TestDb;

pub async fn engine(t: &TestDb) -> Engine {
    let db = Db::connect(&t.url).await.unwrap();
    Engine {
        store: Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
            .await
            .unwrap(),
    }
}

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// `text` and a newline in a file of the test's own, as a source's `…_file` setting reads it.
pub fn secret_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{text}\n")).unwrap();
    file
}

/// A team's capacity as recorded.
pub async fn capacity(e: &Engine, team: &str) -> CapacitySnapshot {
    e.load_state(team, |ev| match ev {
        AnyEvent::Capacity(c) => Some(c),
        _ => None,
    })
    .await
    .unwrap()
}

/// Every stored event's stream, type and JSON, in log order.
pub async fn events(e: &Engine) -> Vec<(String, String, String)> {
    e.store
        .log
        .list(&EventFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.stream_id.clone(),
                r.event_type.clone(),
                String::from_utf8_lossy(&r.payload).to_string(),
            )
        })
        .collect()
}
