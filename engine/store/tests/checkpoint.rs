//! SQLite's write-ahead log is copied back into the database file by the store's checkpoint
//! task, not by the writer inside its commits (the writer's connection has
//! `wal_autocheckpoint = 0`): without that task the file would keep only the schema while the
//! log grew for as long as the store was open.

use std::time::Duration;

use leadorch_store::{
    Db, ExpectedVersion, MasterKey, Metadata, NewEvent, RetentionPolicy, Store, Verification,
};
use leadorch_test_support::TestDb;

#[tokio::test]
async fn the_log_is_checkpointed_into_the_database_file_while_the_store_is_open() {
    let t = TestDb::sqlite();
    let file = t.sqlite_file().expect("an SQLite file");
    let db = Db::connect(&t.url).await.expect("connect");
    let store = Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store");
    let before = std::fs::metadata(&file).unwrap().len();
    // About 3 MB of events in 40 appends: thousands of log pages, none copied back by the
    // writer itself.
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(4000));
    for n in 0..40 {
        let events = (0..20)
            .map(|_| {
                NewEvent::new(
                    "Padded",
                    "1.0",
                    body.clone().into_bytes(),
                    &Metadata::actor("test"),
                )
            })
            .collect();
        store
            .log
            .append(&format!("pad:{n}"), ExpectedVersion::NoStream, events)
            .await
            .unwrap();
    }
    // Waits for the outcome, not for a time: generous for a busy machine.
    let mut grown = 0;
    for _ in 0..600 {
        grown = std::fs::metadata(&file).unwrap().len();
        if grown > before + 2_000_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        grown > before + 2_000_000,
        "the database file stayed at {grown} bytes (was {before}): the log was never checkpointed"
    );
    assert!(matches!(
        store.log.verify(|_| {}).await.unwrap(),
        Verification::Intact { count: 800, .. }
    ));
    t.cleanup().await;
}
