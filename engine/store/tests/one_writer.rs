//! ADR 0041 on SQLite and PostgreSQL: the API's access-log rows are written by the log's
//! writer, in its group commit (an append may carry only them), and a lead's point reads on
//! SQLite (its key, its team's stream, its fingerprints) run on the caller's thread, never
//! waiting for a pooled connection, and always see what was committed before them.

use leadorch_store::fingerprints::FingerprintKind;
use leadorch_store::{
    AccessQuery, AccessRow, ApiKeys, AtomicAppend, Db, Dialect, ExpectedVersion, KeyRow, MasterKey,
    Metadata, NewEvent, RetentionPolicy, SideRow, Store, StoreError, StreamPart,
};
use leadorch_test_support::{TestDb, BOTH};
use serde_json::json;

async fn open(t: &TestDb) -> Store {
    let db = Db::connect(&t.url).await.expect("connect");
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store")
}

fn access(at: i64) -> AccessRow {
    AccessRow {
        project: "default".into(),
        key_id: "key_a".into(),
        method: "POST".into(),
        route: "/v1/leads".into(),
        status: 201,
        ip: "127.0.0.1".into(),
        at,
        millis: 2,
    }
}

fn event(n: u32) -> NewEvent {
    NewEvent::new(
        "Noted",
        "1.0",
        serde_json::to_vec(&json!({"n": n})).unwrap(),
        &Metadata::actor("test"),
    )
}

async fn access_rows(store: &Store) -> Vec<i64> {
    let keys = ApiKeys::new(store.db().clone());
    let mut rows: Vec<i64> = keys
        .access_log(&AccessQuery {
            project: Some("default".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.at)
        .collect();
    rows.sort_unstable();
    rows
}

#[tokio::test]
async fn access_rows_commit_with_the_writers_groups_once_each() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let store = open(&t).await;
        store
            .log
            .append("note:a", ExpectedVersion::NoStream, vec![event(1)])
            .await
            .unwrap();
        // Access rows alone, and beside an append whose stale version sends its group down
        // the careful path (request by request): every row is written, once, and the
        // conflict is that append's alone.
        let stale = store.log.append_atomic(AtomicAppend {
            parts: vec![StreamPart {
                stream_id: "note:a".into(),
                expected: ExpectedVersion::NoStream,
                events: vec![event(2)],
            }],
            side: vec![SideRow::Access(access(1))],
        });
        let alone = store.log.log_access(vec![access(2), access(3)]);
        let fresh = store
            .log
            .append("note:b", ExpectedVersion::NoStream, vec![event(3)]);
        let (stale, alone, fresh) = tokio::join!(stale, alone, fresh);
        assert!(
            matches!(stale, Err(StoreError::Conflict { .. })),
            "{dialect:?}: {stale:?}"
        );
        alone.unwrap();
        fresh.unwrap();
        // The refused append's access row went with it; the others are there once.
        assert_eq!(access_rows(&store).await, [2, 3], "{dialect:?}");
        // Access rows add no event: the log holds the two notes and still verifies.
        assert_eq!(store.log.head().await.unwrap().position, 2, "{dialect:?}");

        // An append with neither events nor access rows is still refused before the writer.
        let empty = store
            .log
            .append_atomic(AtomicAppend {
                parts: Vec::new(),
                side: Vec::new(),
            })
            .await;
        assert!(
            matches!(empty, Err(StoreError::InvalidAppend(_))),
            "{dialect:?}: {empty:?}"
        );
    }
}

#[tokio::test]
async fn sqlite_point_reads_never_wait_for_a_pooled_connection_and_see_every_commit() {
    let t = TestDb::new(Dialect::Sqlite).await;
    let store = open(&t).await;
    let keys = ApiKeys::new(store.db().clone());
    keys.insert(&KeyRow {
        key_id: "key_a".into(),
        project: "default".into(),
        name: "hubspot".into(),
        hash: vec![7; 32],
        prefix: "lo_default_abcd".into(),
        scopes: vec!["ingest".into()],
        allow_ips: Vec::new(),
        created_at: 1,
        created_by: "test".into(),
        revoked_at: None,
    })
    .await
    .unwrap();
    store
        .log
        .append("team:sales-nl", ExpectedVersion::NoStream, vec![event(1)])
        .await
        .unwrap();

    // Every pooled connection is taken (held by other work): the point reads still answer.
    let Db::Sqlite { pool, .. } = store.db() else {
        unreachable!("an SQLite test database")
    };
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    let fp = [(FingerprintKind::Email, [9u8; 32])];
    let reads = async {
        let key = keys.by_hash(&[7; 32]).await.unwrap().expect("the key");
        let stream = store.log.read_stream("team:sales-nl").await.unwrap();
        let prints = store
            .fingerprints()
            .lookup("default", &fp, 0)
            .await
            .unwrap();
        (key, stream, prints)
    };
    // Generous: a read that waited for a pooled connection would wait for ever here.
    let (key, stream, prints) = tokio::time::timeout(std::time::Duration::from_secs(60), reads)
        .await
        .expect("point reads waited for a pooled connection");
    assert_eq!(key.key_id, "key_a");
    assert_eq!(stream.len(), 1);
    assert!(prints.is_empty());

    // What commits after a read is seen by the next one: no read keeps its snapshot.
    for n in 2..=4 {
        store
            .log
            .append(
                "team:sales-nl",
                ExpectedVersion::Exact(u64::from(n) - 1),
                vec![event(n)],
            )
            .await
            .unwrap();
        let stream = store.log.read_stream("team:sales-nl").await.unwrap();
        assert_eq!(stream.len(), n as usize);
    }
    drop(held);
    keys.revoke("default", "key_a", 5).await.unwrap().unwrap();
    assert_eq!(
        keys.by_hash(&[7; 32]).await.unwrap().unwrap().revoked_at,
        Some(5)
    );
}
