//! Aggregate states kept between commands (`leadorch_store::states`): a command on a long
//! stream reads only the events since the last one, the state it decides on is the stream's
//! whatever other processes appended, and no stream with personal data is kept.

use chrono::{TimeZone, Utc};
use leadorch_core::Engine;
use leadorch_domain::team::TeamChanges;
use leadorch_domain::{CapacityCommand, CapacitySnapshot, Team, TeamCommand};
use leadorch_store::Metadata;
use leadorch_test_support::{TestDb, BOTH};

#[allow(dead_code)] // this test uses only part of the shared helpers
mod common;
use common::engine;

fn at(minute: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

async fn reading(e: &Engine, open_leads: u32, minute: i64) {
    e.execute::<CapacitySnapshot>(
        "north",
        CapacityCommand::Record {
            team: "north".into(),
            agents_available: 2,
            open_leads,
            max_open_leads: 100,
            source: "pushed".into(),
            max_age_secs: None,
            at: at(minute),
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_capacity_stream_is_kept_and_stays_true_while_another_process_appends() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let ours = engine(&t).await;
        // Another process on the same database: its own store, its own kept states.
        let theirs = engine(&t).await;
        for i in 0..5 {
            reading(&ours, i, i64::from(i)).await;
        }
        // The fifth command decided on the state folded to version 4, then appended the
        // fifth reading; the next command reads from there.
        assert_eq!(
            ours.store.states.kept_version("capacity:north"),
            Some(4),
            "{dialect:?}"
        );
        // Readings the other process records are not in our kept state, yet a command of
        // ours decides on them: 7 open leads again is a change only against the other
        // process's 9, not against our own last 4.
        reading(&theirs, 8, 10).await;
        reading(&theirs, 9, 11).await;
        let now: CapacitySnapshot = ours.current("north").await.unwrap();
        assert_eq!(now.open_leads(), 9, "{dialect:?}");
        assert_eq!(
            ours.store.states.kept_version("capacity:north"),
            Some(7),
            "{dialect:?}"
        );
        reading(&ours, 7, 12).await;
        let events = ours.store.log.read_stream("capacity:north").await.unwrap();
        assert_eq!(events.len(), 8, "{dialect:?}");
        assert_eq!(events.last().unwrap().stream_version, 8, "{dialect:?}");
        // Kept or read whole, a state is the same.
        let kept: CapacitySnapshot = ours.current("north").await.unwrap();
        let fresh: CapacitySnapshot = engine(&t).await.current("north").await.unwrap();
        assert_eq!(kept, fresh, "{dialect:?}");
        assert_eq!(kept.open_leads(), 7, "{dialect:?}");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_stream_with_personal_data_is_never_kept() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let set = |minute| TeamCommand::Set {
        team: "north".into(),
        changes: TeamChanges {
            time_zone: Some("Europe/Amsterdam".into()),
            max_open_leads: Some(Some(10 + minute)),
            ..Default::default()
        },
        at: at(minute),
    };
    e.execute::<Team>("north", set(0), &Metadata::actor("test"))
        .await
        .unwrap();
    e.execute::<Team>("north", set(1), &Metadata::actor("test"))
        .await
        .unwrap();
    // No personal data yet: kept (as folded before the second command's events).
    assert!(e.store.states.kept_version("team:north").is_some());
    // A member's name is personal (sealed with the member's keys).
    e.execute::<Team>(
        "north",
        TeamCommand::AddMember {
            member_id: "owner-1".into(),
            name: Some("Ann de Vries".into()),
            max_open_leads: Some(5),
            at: at(2),
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
    e.execute::<Team>("north", set(3), &Metadata::actor("test"))
        .await
        .unwrap();
    assert_eq!(e.store.states.kept_version("team:north"), None);
    let team: Team = e.current("north").await.unwrap();
    assert_eq!(team.members().len(), 1);
    assert_eq!(e.store.states.kept_version("team:north"), None);
    t.cleanup().await;
}
