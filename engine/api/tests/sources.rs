//! `GET /v1/capacity/sources` and the capacity sources' gauges of `/metrics`, over real HTTP on
//! both backends: each key sees its own project's sources, with the health the daemon wrote.

mod common;

use common::{problem, start_on};
use leadorch_api::keys::Scope;
use leadorch_store::{CapacitySources, SourceHealthRow};
use leadorch_test_support::BOTH;

fn row(project: &str, name: &str, failing: bool) -> SourceHealthRow {
    SourceHealthRow {
        project: project.into(),
        name: name.into(),
        kind: "http_poll".into(),
        state: if failing { "failing" } else { "ok" }.into(),
        teams: 2,
        last_poll_at: Some(1_772_445_600_000_000),
        last_success_at: (!failing).then_some(1_772_445_600_000_000),
        last_error_at: failing.then_some(1_772_445_600_000_000),
        last_error: failing.then(|| {
            "credential refused: 401 Unauthorized: the source refused the credential".into()
        }),
        error_kind: failing.then(|| "auth".into()),
        consecutive_failures: i64::from(failing) * 3,
        limit_info: None,
        next_poll_at: Some(1_772_445_660_000_000),
        updated_at: 1_772_445_600_000_000,
    }
}

#[tokio::test]
async fn each_project_sees_its_own_sources_health() {
    for dialect in BOTH {
        let s = start_on(dialect).await;
        let table = CapacitySources::new(s.engine.store.db().clone());
        table.upsert(&row("default", "crm", true)).await.unwrap();
        table.upsert(&row("default", "erp", false)).await.unwrap();
        table.upsert(&row("acme", "crm", false)).await.unwrap();
        let http = reqwest::Client::new();
        let read = s.key("reader", &[Scope::Read]).await;
        let body: serde_json::Value = http
            .get(s.url("/v1/capacity/sources"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sources = body["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2, "{dialect:?}: {body}");
        assert_eq!(sources[0]["name"], "crm");
        assert_eq!(sources[0]["state"], "failing");
        assert_eq!(sources[0]["error_kind"], "auth");
        assert_eq!(sources[0]["consecutive_failures"], 3);
        assert_eq!(sources[0]["last_error_at"], "2026-03-02T10:00:00Z");
        assert_eq!(sources[0]["last_success_at"], serde_json::Value::Null);
        assert_eq!(sources[1]["name"], "erp");
        assert_eq!(sources[1]["state"], "ok");

        let (acme, _) = s.key_in("acme", "acme-reader", &[Scope::Read], &[]).await;
        let body: serde_json::Value = http
            .get(s.url("/v1/capacity/sources"))
            .bearer_auth(&acme)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["sources"].as_array().unwrap().len(), 1);
        assert_eq!(body["sources"][0]["state"], "ok");

        let ingest = s.key("ingest", &[Scope::Ingest]).await;
        problem(
            http.get(s.url("/v1/capacity/sources"))
                .bearer_auth(&ingest)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;

        let text = http
            .get(s.url("/metrics"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            r#"leadorch_capacity_source_failing{project="default",source="crm",kind="http_poll"} 1"#,
            r#"leadorch_capacity_source_failing{project="default",source="erp",kind="http_poll"} 0"#,
            r#"leadorch_capacity_source_consecutive_failures{project="default",source="crm",kind="http_poll"} 3"#,
            r#"leadorch_capacity_source_last_success_timestamp_seconds{project="acme",source="crm",kind="http_poll"} 1772445600"#,
            r#"leadorch_capacity_source_polled_teams{project="default",source="erp",kind="http_poll"} 2"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{dialect:?}: {line} not in\n{text}"
            );
        }
        let doc: serde_json::Value = http
            .get(s.url("/openapi.json"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["paths"]["/v1/capacity/sources"]["get"].is_object());
    }
}
