use super::*;
use crate::testutil::t;
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

type Fixture = TestFramework<Team>;

fn defined() -> TeamEvent {
    TeamEvent::TeamDefined {
        team: "sales-nl".into(),
        capacity_source: CapacitySource::Pushed,
        at: t(0),
    }
}

fn set(changes: TeamChanges, minute: i64) -> TeamCommand {
    TeamCommand::Set {
        team: "sales-nl".into(),
        changes,
        at: t(minute),
    }
}

fn hours(lines: &[&str]) -> WeeklyHours {
    WeeklyHours::parse(lines).expect("valid hours")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("valid date")
}

fn add(id: &str, name: Option<&str>, max: Option<i64>) -> TeamCommand {
    TeamCommand::AddMember {
        member_id: id.into(),
        name: name.map(str::to_string),
        max_open_leads: max,
        at: t(5),
    }
}

fn added(id: &str, name: Option<&str>, max: Option<u32>) -> TeamEvent {
    TeamEvent::MemberAdded {
        member_id: id.into(),
        subject: member_subject(id),
        name: name.map(str::to_string),
        max_open_leads: max,
        at: t(5),
    }
}

#[test]
fn a_new_team_is_defined_with_what_it_is_given() {
    Fixture::with(())
        .given_no_previous_events()
        .when(set(TeamChanges::default(), 0))
        .then_expect_events(vec![defined()]);
    Fixture::with(())
        .given_no_previous_events()
        .when(set(
            TeamChanges {
                time_zone: Some("Europe/Amsterdam".into()),
                hours: Some(Some(hours(&["mon-fri 09:00-17:00"]))),
                holidays: Some(vec![
                    date("2026-12-26"),
                    date("2026-12-25"),
                    date("2026-12-25"),
                ]),
                max_open_leads: Some(Some(40)),
                capacity_source: Some(CapacitySource::Leads),
            },
            0,
        ))
        .then_expect_events(vec![
            TeamEvent::TeamDefined {
                team: "sales-nl".into(),
                capacity_source: CapacitySource::Leads,
                at: t(0),
            },
            TeamEvent::TimeZoneSet {
                time_zone: "Europe/Amsterdam".into(),
                at: t(0),
            },
            TeamEvent::BusinessHoursSet {
                hours: Some(hours(&["mon-fri 09:00-17:00"])),
                at: t(0),
            },
            TeamEvent::HolidaysSet {
                holidays: vec![date("2026-12-25"), date("2026-12-26")],
                at: t(0),
            },
            TeamEvent::MaxOpenLeadsSet {
                max_open_leads: Some(40),
                at: t(0),
            },
        ]);
}

#[test]
fn setting_what_the_team_already_has_records_nothing() {
    let given = vec![
        defined(),
        TeamEvent::TimeZoneSet {
            time_zone: "Europe/Amsterdam".into(),
            at: t(1),
        },
        TeamEvent::BusinessHoursSet {
            hours: Some(hours(&["mon-fri 09:00-17:00"])),
            at: t(1),
        },
        TeamEvent::MaxOpenLeadsSet {
            max_open_leads: Some(40),
            at: t(1),
        },
    ];
    Fixture::with(())
        .given(given.clone())
        .when(set(
            TeamChanges {
                time_zone: Some("Europe/Amsterdam".into()),
                hours: Some(Some(hours(&["mon-fri 09:00-17:00"]))),
                holidays: Some(vec![]),
                max_open_leads: Some(Some(40)),
                capacity_source: Some(CapacitySource::Pushed),
            },
            2,
        ))
        .then_expect_events(vec![]);
    // Only what differs is recorded.
    Fixture::with(())
        .given(given.clone())
        .when(set(
            TeamChanges {
                time_zone: Some("Europe/Amsterdam".into()),
                hours: Some(None),
                max_open_leads: Some(None),
                capacity_source: Some(CapacitySource::Connector("hubspot".into())),
                ..TeamChanges::default()
            },
            2,
        ))
        .then_expect_events(vec![
            TeamEvent::CapacitySourceSet {
                capacity_source: CapacitySource::Connector("hubspot".into()),
                at: t(2),
            },
            TeamEvent::BusinessHoursSet {
                hours: None,
                at: t(2),
            },
            TeamEvent::MaxOpenLeadsSet {
                max_open_leads: None,
                at: t(2),
            },
        ]);
}

#[test]
fn bad_settings_are_refused_with_what_is_wrong() {
    Fixture::with(())
        .given_no_previous_events()
        .when(set(
            TeamChanges {
                time_zone: Some("Mars/Olympus".into()),
                ..TeamChanges::default()
            },
            0,
        ))
        .then_expect_error(TeamError::UnknownTimeZone("Mars/Olympus".into()));
    Fixture::with(())
        .given_no_previous_events()
        .when(set(
            TeamChanges {
                hours: Some(Some(hours(&["mon 09:00-17:00"]))),
                ..TeamChanges::default()
            },
            0,
        ))
        .then_expect_error(TeamError::HoursWithoutTimeZone);
    Fixture::with(())
        .given(vec![defined()])
        .when(set(
            TeamChanges {
                time_zone: Some("UTC".into()),
                hours: Some(Some(WeeklyHours::default())),
                ..TeamChanges::default()
            },
            0,
        ))
        .then_expect_error(TeamError::EmptyField("hours"));
    Fixture::with(())
        .given(vec![defined()])
        .when(set(
            TeamChanges {
                max_open_leads: Some(Some(-3)),
                ..TeamChanges::default()
            },
            1,
        ))
        .then_expect_error(TeamError::Negative {
            field: "max_open_leads",
            value: -3,
        });
    Fixture::with(())
        .given(vec![defined()])
        .when(set(
            TeamChanges {
                max_open_leads: Some(Some(1 << 40)),
                ..TeamChanges::default()
            },
            1,
        ))
        .then_expect_error(TeamError::TooLarge {
            field: "max_open_leads",
            value: 1 << 40,
        });
    Fixture::with(())
        .given_no_previous_events()
        .when(TeamCommand::Set {
            team: "sales nl".into(),
            changes: TeamChanges::default(),
            at: t(0),
        })
        .then_expect_error(TeamError::InvalidId {
            field: "team",
            value: "sales nl".into(),
        });
    Fixture::with(())
        .given(vec![defined()])
        .when(TeamCommand::Set {
            team: "sales-be".into(),
            changes: TeamChanges::default(),
            at: t(0),
        })
        .then_expect_error(TeamError::TeamMismatch {
            expected: "sales-nl".into(),
            found: "sales-be".into(),
        });
}

#[test]
fn a_zone_is_stored_by_its_canonical_name_and_hours_may_follow_it() {
    Fixture::with(())
        .given(vec![
            defined(),
            TeamEvent::TimeZoneSet {
                time_zone: "Europe/Brussels".into(),
                at: t(1),
            },
        ])
        .when(set(
            TeamChanges {
                time_zone: Some(" Europe/Brussels ".into()),
                hours: Some(Some(hours(&["sat 10:00-14:00"]))),
                ..TeamChanges::default()
            },
            2,
        ))
        .then_expect_events(vec![TeamEvent::BusinessHoursSet {
            hours: Some(hours(&["sat 10:00-14:00"])),
            at: t(2),
        }]);
}

#[test]
fn members_join_and_leave() {
    Fixture::with(())
        .given(vec![defined()])
        .when(add("owner-17", Some("  Ada Lovelace "), Some(12)))
        .then_expect_events(vec![added("owner-17", Some("Ada Lovelace"), Some(12))]);
    Fixture::with(())
        .given(vec![defined()])
        .when(add("owner-17", None, None))
        .then_expect_events(vec![added("owner-17", None, None)]);
    Fixture::with(())
        .given(vec![defined(), added("owner-17", None, None)])
        .when(TeamCommand::RemoveMember {
            member_id: "owner-17".into(),
            at: t(6),
        })
        .then_expect_events(vec![TeamEvent::MemberRemoved {
            member_id: "owner-17".into(),
            subject: member_subject("owner-17"),
            at: t(6),
        }]);
}

fn update(id: &str, name: Option<&str>, max: Option<i64>) -> TeamCommand {
    TeamCommand::UpdateMember {
        member_id: id.into(),
        name: name.map(str::to_string),
        max_open_leads: max,
        at: t(7),
    }
}

#[test]
fn a_member_s_name_and_maximum_change_together() {
    let updated = |name: Option<&str>, max: Option<u32>| TeamEvent::MemberUpdated {
        member_id: "owner-17".into(),
        subject: member_subject("owner-17"),
        name: name.map(str::to_string),
        max_open_leads: max,
        at: t(7),
    };
    Fixture::with(())
        .given(vec![defined(), added("owner-17", Some("Ada"), Some(12))])
        .when(update("owner-17", Some(" Ada King "), Some(8)))
        .then_expect_events(vec![updated(Some("Ada King"), Some(8))]);
    Fixture::with(())
        .given(vec![defined(), added("owner-17", Some("Ada"), Some(12))])
        .when(update("owner-17", None, None))
        .then_expect_events(vec![updated(None, None)]);
    let mut team = Team::default();
    for e in [
        defined(),
        added("owner-17", Some("Ada"), Some(12)),
        added("owner-18", None, Some(5)),
        updated(None, Some(8)),
    ] {
        team.apply(e);
    }
    assert_eq!(
        team.member("owner-17").and_then(|m| m.max_open_leads),
        Some(8)
    );
    assert_eq!(team.member("owner-17").map(|m| m.added_at), Some(t(5)));
    assert_eq!(team.max_open_leads(), Some(13));
    assert_eq!(team.updated_at(), Some(t(7)));
    Fixture::with(())
        .given(vec![defined()])
        .when(update("owner-17", None, None))
        .then_expect_error(TeamError::NoSuchMember("owner-17".into()));
    Fixture::with(())
        .given_no_previous_events()
        .when(update("owner-17", None, None))
        .then_expect_error(TeamError::NotDefined);
    Fixture::with(())
        .given(vec![defined(), added("owner-17", None, None)])
        .when(update("owner-17", Some(""), None))
        .then_expect_error(TeamError::EmptyField("name"));
    Fixture::with(())
        .given(vec![defined(), added("owner-17", None, None)])
        .when(update("owner-17", None, Some(-2)))
        .then_expect_error(TeamError::Negative {
            field: "max_open_leads",
            value: -2,
        });
}

#[test]
fn another_project_s_team_and_members_carry_its_prefix() {
    Fixture::with(())
        .given_no_previous_events()
        .when(TeamCommand::Set {
            team: "acme/sales-nl".into(),
            changes: TeamChanges::default(),
            at: t(0),
        })
        .then_expect_events(vec![TeamEvent::TeamDefined {
            team: "acme/sales-nl".into(),
            capacity_source: CapacitySource::Pushed,
            at: t(0),
        }]);
    Fixture::with(())
        .given(vec![defined()])
        .when(add("acme/owner-17", None, None))
        .then_expect_events(vec![added("acme/owner-17", None, None)]);
    assert_eq!(member_subject("acme/owner-17"), "member:acme/owner-17");
    Fixture::with(())
        .given_no_previous_events()
        .when(TeamCommand::Set {
            team: "Acme/sales-nl".into(),
            changes: TeamChanges::default(),
            at: t(0),
        })
        .then_expect_error(TeamError::InvalidId {
            field: "team",
            value: "Acme/sales-nl".into(),
        });
}

#[test]
fn bad_members_are_refused() {
    Fixture::with(())
        .given_no_previous_events()
        .when(add("owner-17", None, None))
        .then_expect_error(TeamError::NotDefined);
    Fixture::with(())
        .given(vec![defined(), added("owner-17", None, None)])
        .when(add("owner-17", Some("Ada"), None))
        .then_expect_error(TeamError::DuplicateMember("owner-17".into()));
    Fixture::with(())
        .given(vec![defined()])
        .when(add("owner 17", None, None))
        .then_expect_error(TeamError::InvalidId {
            field: "member id",
            value: "owner 17".into(),
        });
    Fixture::with(())
        .given(vec![defined()])
        .when(add("owner-17", Some(" "), None))
        .then_expect_error(TeamError::EmptyField("name"));
    Fixture::with(())
        .given(vec![defined()])
        .when(add("owner-17", Some(&"x".repeat(MAX_NAME_CHARS + 1)), None))
        .then_expect_error(TeamError::TooLong {
            field: "name",
            max: MAX_NAME_CHARS,
        });
    Fixture::with(())
        .given(vec![defined()])
        .when(add("owner-17", None, Some(-1)))
        .then_expect_error(TeamError::Negative {
            field: "max_open_leads",
            value: -1,
        });
    Fixture::with(())
        .given(vec![defined()])
        .when(TeamCommand::RemoveMember {
            member_id: "owner-9".into(),
            at: t(6),
        })
        .then_expect_error(TeamError::NoSuchMember("owner-9".into()));
    Fixture::with(())
        .given_no_previous_events()
        .when(TeamCommand::RemoveMember {
            member_id: "owner-9".into(),
            at: t(6),
        })
        .then_expect_error(TeamError::NotDefined);
}

#[test]
fn the_maximum_is_the_team_s_own_else_the_sum_of_the_members() {
    let mut team = Team::default();
    team.apply(defined());
    assert_eq!(team.max_open_leads(), None);
    team.apply(added("a", None, Some(10)));
    team.apply(added("b", None, None));
    team.apply(added("c", None, Some(15)));
    assert_eq!(team.max_open_leads(), Some(25));
    team.apply(TeamEvent::MaxOpenLeadsSet {
        max_open_leads: Some(40),
        at: t(6),
    });
    assert_eq!(team.max_open_leads(), Some(40));
    assert_eq!(team.own_max_open_leads(), Some(40));
    team.apply(TeamEvent::MaxOpenLeadsSet {
        max_open_leads: None,
        at: t(7),
    });
    team.apply(TeamEvent::MemberRemoved {
        member_id: "c".into(),
        subject: member_subject("c"),
        at: t(8),
    });
    assert_eq!(team.max_open_leads(), Some(10));
    assert_eq!(
        team.members()
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert_eq!(team.updated_at(), Some(t(8)));
    assert_eq!(team.defined_at(), Some(t(0)));
}

#[test]
fn the_state_follows_every_event() {
    let mut team = Team::default();
    assert!(!team.is_defined());
    for e in samples() {
        team.apply(e);
    }
    assert_eq!(team.name(), Some("sales-nl"));
    assert_eq!(team.time_zone(), Some("Europe/Amsterdam"));
    assert_eq!(
        team.hours().map(WeeklyHours::lines),
        Some(vec!["mon-fri 09:00-17:00".to_string()])
    );
    assert_eq!(team.holidays(), &[date("2026-12-25")]);
    assert_eq!(
        team.capacity_source(),
        &CapacitySource::Connector("hubspot".into())
    );
    assert!(team.members().is_empty(), "the sample member was removed");
    assert_eq!(team.max_open_leads(), Some(40));
}

#[test]
fn capacity_sources_read_and_write_as_text() {
    for (text, source) in [
        ("pushed", CapacitySource::Pushed),
        ("leads", CapacitySource::Leads),
        (
            "connector:hubspot",
            CapacitySource::Connector("hubspot".into()),
        ),
    ] {
        assert_eq!(text.parse::<CapacitySource>(), Ok(source.clone()));
        assert_eq!(source.to_string(), text);
        assert_eq!(
            serde_json::to_value(&source).unwrap(),
            serde_json::json!(text)
        );
    }
    assert_eq!(
        "crm".parse::<CapacitySource>(),
        Err(TeamError::UnknownCapacitySource("crm".into()))
    );
    assert_eq!(
        "connector:".parse::<CapacitySource>(),
        Err(TeamError::InvalidId {
            field: "connector name",
            value: String::new(),
        })
    );
    let e = serde_json::from_value::<CapacitySource>(serde_json::json!("crm")).unwrap_err();
    assert!(
        e.to_string().contains("pushed, leads, connector:NAME"),
        "{e}"
    );
}

#[test]
fn a_member_s_name_is_personal_data_of_the_member() {
    let e = added("owner-17", Some("Ada"), None);
    assert_eq!(e.data_subject(), Some("member:owner-17"));
    assert_eq!(e.personal_fields()[0].purpose, KeyPurpose::Staff);
    let sealed = serde_json::json!({"MemberAdded": {
        "member_id": "owner-17", "subject": "member:owner-17",
        "name": {"$enc": "AAAA", "s": "member:owner-17", "p": "staff"},
        "max_open_leads": null, "at": t(5),
    }});
    let read: TeamEvent = serde_json::from_value(sealed).expect("reads sealed");
    assert_eq!(read, added("owner-17", None, None));
    let removed = TeamEvent::MemberRemoved {
        member_id: "owner-17".into(),
        subject: member_subject("owner-17"),
        at: t(6),
    };
    assert_eq!(removed.data_subject(), Some("member:owner-17"));
    assert!(removed.personal_fields().is_empty());
    let updated = samples()
        .into_iter()
        .find(|e| matches!(e, TeamEvent::MemberUpdated { .. }))
        .expect("a sample");
    assert_eq!(updated.data_subject(), Some("member:owner-17"));
    assert_eq!(updated.personal_fields()[0].pointer, "/MemberUpdated/name");
    assert_eq!(updated.personal_fields()[0].purpose, KeyPurpose::Staff);
    for e in samples().into_iter().filter(|e| {
        !matches!(
            e,
            TeamEvent::MemberAdded { .. }
                | TeamEvent::MemberRemoved { .. }
                | TeamEvent::MemberUpdated { .. }
        )
    }) {
        assert_eq!(e.data_subject(), None);
        assert!(e.personal_fields().is_empty());
    }
}
