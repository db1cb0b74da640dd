//! Synthetic databases (ADR 0018): what may be marked simulated, and what the simulator
//! refuses to write into.

use chrono::{TimeZone, Utc};
use leadorch_core::synthetic::{self, mark, mark_or_check};
use leadorch_core::{projection, Engine};
use leadorch_domain::{CapacityCommand, CapacitySnapshot, Rule, RuleCommand};
use leadorch_store::Metadata;
use leadorch_test_support::TestDb;

#[allow(dead_code)] // this test uses only part of the shared helpers
mod common;
use common::{engine, receive_lead};

fn at(minute: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

async fn capacity(e: &Engine, actor: &str, minute: i64) {
    e.execute::<CapacitySnapshot>(
        "north",
        CapacityCommand::Record {
            team: "north".into(),
            agents_available: 2,
            open_leads: 1,
            max_open_leads: 10,
            source: "sim".into(),
            max_age_secs: None,
            at: at(minute),
        },
        &Metadata::actor(actor),
    )
    .await
    .unwrap();
}

async fn why_not(e: &Engine) -> String {
    match mark_or_check(e, "daemon", 7, at(100)).await {
        Ok(m) => panic!("accepted: {m:?}"),
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn a_database_with_only_rules_is_marked_and_then_only_simulators_may_write_its_world() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    e.execute::<Rule>(
        "gate",
        RuleCommand::Create {
            name: "gate".into(),
            source: "return;".into(),
            priority: 10,
            at: at(0),
        },
        &Metadata::actor("cli:alice"),
    )
    .await
    .unwrap();
    let marker = mark_or_check(&e, "daemon", 7, at(1)).await.unwrap();
    assert_eq!(
        (marker.by.as_str(), marker.seed, marker.position),
        ("daemon", 7, 2)
    );
    // Marked once: a second mark is refused, a check finds the first.
    assert!(mark(&e, "demo", 1, at(2)).await.is_err());
    assert_eq!(mark_or_check(&e, "seed", 1, at(2)).await.unwrap(), marker);
    // The simulator's readings keep it simulated …
    capacity(&e, "sim", 3).await;
    let views = projection::catch_up(&e.store).await.unwrap();
    assert!(synthetic::check(&e, &views).await.is_ok());
    // … a lead from anyone else does not.
    receive_lead(&e, "lead-1", "subject-1", at(4)).await;
    let why = why_not(&e).await;
    assert!(why.contains("holds leads recorded by \"test\""), "{why}");
    assert!(why.contains("leadorch demo --db"), "{why}");
    t.cleanup().await;
}

#[tokio::test]
async fn a_database_that_records_a_real_world_is_never_marked() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    capacity(&e, "api:crm", 0).await;
    let err = mark(&e, "demo", 7, at(1)).await.unwrap_err().to_string();
    assert!(err.contains("already records a world"), "{err}");
    let why = why_not(&e).await;
    assert!(why.contains("not marked simulated"), "{why}");
    assert!(synthetic::marker(&e).await.unwrap().is_none());
    t.cleanup().await;
}
