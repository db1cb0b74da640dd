//! The seed is a fixed function of its options: a pinned fingerprint of the history that
//! seed 42 writes (and of the history a second run continues it with), so that reworking
//! the seed's code cannot change what it writes unnoticed.
//!
//! Last re-pinned for the lead and consent schemas 1.1: every event the same as before but
//! for the 1.1 fields (absent, `null`) and the consent's page address, now sealed in
//! `page_url` beside a clear `source_url` without query string (so erased with its subject).
//! Re-pinned again for `CapacityRecorded` 1.2: the same payloads (a seeded reading has no
//! `max_age_secs`, which is then left out), only their schema version moved from 1.1 to 1.2;
//! and with it for `CampaignObserved` and `ChangedOutsideEngine` 2.1 (a seeded snapshot has
//! no `currency`, which is then left out: only the schema version moved from 2.0 to 2.1).

use chrono::{TimeZone, Utc};
use leadorch_core::seed::{seed, SeedOptions};
use leadorch_store::Reveal;
use leadorch_test_support::TestDb;
use sha2::{Digest, Sha256};

#[allow(dead_code)] // this test uses only `engine` of the shared helpers
mod common;
use common::engine;

/// SHA-256 over every event's position, stream, stream version, type, schema version and
/// plaintext payload (event ids, nonces and recorded-at differ between runs; these do not).
async fn fingerprint(e: &leadorch_core::Engine) -> String {
    let events = e.store.log.read_after(0, 100_000).await.unwrap();
    let mut decoder = e.store.codec.decoder(Reveal::Decrypt);
    let mut hash = Sha256::new();
    for ev in &events {
        let payload = decoder.payload(ev).await.unwrap();
        let line = serde_json::json!([
            ev.position,
            ev.stream_id,
            ev.stream_version,
            ev.event_type,
            ev.schema_version,
            payload
        ]);
        hash.update(line.to_string().as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

#[tokio::test]
async fn seed_42_writes_the_pinned_history() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let end = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let first = seed(
        &e,
        &SeedOptions {
            events: 3000,
            seed: 42,
            end,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        concat!(
            r#"{"events":3000,"leads":426,"duplicates":18,"consents":426,"#,
            r#""capacity_snapshots":984,"campaign_changes":54,"manual_changes":0,"#,
            r#""erasures":11,"from":"2026-05-28T00:00:00+00:00","#,
            r#""to":"2026-05-31T10:15:00+00:00","head":3000,"continued_from":0}"#
        )
    );
    assert_eq!(
        fingerprint(&e).await,
        "36f006d661875acebbacaf99c049cb6f110e9bbe0aa8ae327169ce5c3e39027a"
    );
    // A second run, a week later, continues the history (the path that starts from the
    // read models).
    let more = seed(
        &e,
        &SeedOptions {
            events: 1000,
            seed: 43,
            end: end + chrono::Duration::weeks(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_string(&more).unwrap(),
        concat!(
            r#"{"events":1000,"leads":135,"duplicates":5,"consents":135,"#,
            r#""capacity_snapshots":333,"campaign_changes":26,"manual_changes":0,"#,
            r#""erasures":1,"from":"2026-05-31T10:00:00+00:00","#,
            r#""to":"2026-06-01T13:45:00+00:00","head":4000,"continued_from":3000}"#
        )
    );
    assert_eq!(
        fingerprint(&e).await,
        "071e5a9e69bdc7cdb43095ba4fe0573180a2498fd71465e9ea766259d319e4a3"
    );
    e.store.db().close().await;
    t.cleanup().await;
}
