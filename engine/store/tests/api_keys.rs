//! The API keys and access-log tables on both backends.

use leadorch_store::{AccessQuery, AccessRow, ApiKeys, Db, EventLog, KeyRow};
use leadorch_test_support::{TestDb, BOTH};

fn row(id: &str, project: &str, name: &str, hash: u8) -> KeyRow {
    KeyRow {
        key_id: id.into(),
        project: project.into(),
        name: name.into(),
        hash: vec![hash; 32],
        prefix: format!("lo_{project}_abcd"),
        scopes: vec!["ingest".into(), "read".into()],
        allow_ips: vec!["10.0.0.0/8".into()],
        created_at: 1_000,
        created_by: "test".into(),
        revoked_at: None,
    }
}

fn access(project: &str, key: &str, at: i64) -> AccessRow {
    AccessRow {
        project: project.into(),
        key_id: key.into(),
        method: "GET".into(),
        route: "/readyz".into(),
        status: 200,
        ip: "127.0.0.1".into(),
        at,
        millis: 3,
    }
}

#[tokio::test]
async fn keys_are_found_by_hash_listed_per_project_and_revoked() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let db = Db::connect(&t.url).await.unwrap();
        let keys = ApiKeys::new(db.clone());
        keys.insert(&row("key_a", "default", "hubspot", 1))
            .await
            .unwrap();
        keys.insert(&row("key_b", "acme", "hubspot", 2))
            .await
            .unwrap();
        let e = keys
            .insert(&row("key_c", "default", "hubspot", 3))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("already has a working key named \"hubspot\""),
            "{e}"
        );

        let found = keys.by_hash(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(found, row("key_a", "default", "hubspot", 1));
        assert!(keys.by_hash(&[9; 32]).await.unwrap().is_none());
        assert_eq!(keys.list("acme", false).await.unwrap().len(), 1);

        // Another project cannot revoke it; its own can, by name; the name is free again.
        assert!(keys.revoke("acme", "key_a", 5).await.unwrap().is_none());
        let revoked = keys.revoke("default", "hubspot", 5).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(5));
        assert_eq!(
            keys.by_hash(&[1; 32]).await.unwrap().unwrap().revoked_at,
            Some(5)
        );
        assert!(keys.list("default", false).await.unwrap().is_empty());
        assert_eq!(keys.list("default", true).await.unwrap().len(), 1);
        keys.insert(&row("key_c", "default", "hubspot", 3))
            .await
            .unwrap();

        // Written by the log's writer, with its group commit (ADR 0041).
        let log = EventLog::open(db.clone()).await.unwrap();
        log.log_access(vec![
            access("default", "key_a", 10),
            access("acme", "key_b", 20),
            access("default", "key_c", 30),
        ])
        .await
        .unwrap();
        let q = |project: &str| AccessQuery {
            project: Some(project.into()),
            limit: 10,
            ..Default::default()
        };
        let got = keys.access_log(&q("default")).await.unwrap();
        assert_eq!(got.iter().map(|(_, r)| r.at).collect::<Vec<_>>(), [30, 10]);
        let older = keys
            .access_log(&AccessQuery {
                before_id: Some(got[0].0),
                ..q("default")
            })
            .await
            .unwrap();
        assert_eq!(older.len(), 1);
        let by_key = keys
            .access_log(&AccessQuery {
                key_id: Some("key_c".into()),
                ..q("default")
            })
            .await
            .unwrap();
        assert_eq!(by_key.len(), 1);
        let since = keys
            .access_log(&AccessQuery {
                since: Some(15),
                ..q("default")
            })
            .await
            .unwrap();
        assert_eq!(since.len(), 1);
        assert_eq!(keys.purge_access_log(25).await.unwrap(), 2);
        assert_eq!(
            keys.access_log(&AccessQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
            1
        );
        db.close().await;
        t.cleanup().await;
    }
}
