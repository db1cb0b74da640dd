//! The capacity sources' health table on both backends.

use leadorch_store::{CapacitySources, Db, SourceHealthRow};
use leadorch_test_support::{TestDb, BOTH};

fn row(project: &str, name: &str, state: &str, failures: i64) -> SourceHealthRow {
    SourceHealthRow {
        project: project.into(),
        name: name.into(),
        kind: "http_poll".into(),
        state: state.into(),
        teams: 2,
        last_poll_at: Some(2_000),
        last_success_at: (failures == 0).then_some(2_000),
        last_error_at: (failures > 0).then_some(2_000),
        last_error: (failures > 0).then(|| "401 Unauthorized: the credential was refused".into()),
        error_kind: (failures > 0).then(|| "auth".into()),
        consecutive_failures: failures,
        limit_info: Some("api-usage=18/15000".into()),
        next_poll_at: Some(62_000),
        updated_at: 2_000,
    }
}

#[tokio::test]
async fn a_source_s_row_is_upserted_listed_per_project_and_dropped_when_unconfigured() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let db = Db::connect(&t.url).await.unwrap();
        let sources = CapacitySources::new(db.clone());
        assert!(sources.list(None).await.unwrap().is_empty());
        sources
            .upsert(&row("default", "crm", "ok", 0))
            .await
            .unwrap();
        sources
            .upsert(&row("default", "hubspot", "starting", 0))
            .await
            .unwrap();
        sources.upsert(&row("acme", "crm", "ok", 0)).await.unwrap();
        // The same source again: replaced, not added.
        let failing = row("default", "crm", "failing", 3);
        sources.upsert(&failing).await.unwrap();
        assert_eq!(
            sources.get("default", "crm").await.unwrap(),
            Some(failing.clone()),
            "{dialect:?}"
        );
        let listed = sources.list(Some("default")).await.unwrap();
        assert_eq!(
            listed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["crm", "hubspot"]
        );
        assert_eq!(sources.list(None).await.unwrap().len(), 3);
        assert_eq!(
            sources
                .retain("default", &["crm".to_string()])
                .await
                .unwrap(),
            1
        );
        assert_eq!(sources.list(Some("default")).await.unwrap(), vec![failing]);
        assert_eq!(
            sources.list(Some("acme")).await.unwrap().len(),
            1,
            "other projects' stay"
        );
        db.close().await;
        t.cleanup().await;
    }
}
