//! Teams through the library the CLI and the HTTP API call, on both backends: defining and
//! changing a team records only what differs, members' names are sealed (never in a read
//! model, shredded by erasing the member, not in another member's export), and the
//! configuration's teams move over once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leadorch_config::Config;
use leadorch_core::projection::catch_up;
use leadorch_core::{subjects, Engine};
use leadorch_evaluate::facts::FactsView;
use leadorch_evaluate::teams::{self, MaxFrom, NewMember, TeamSettings};
use leadorch_evaluate::Error;
use leadorch_rules::Calendar;
use leadorch_store::{Db, MasterKey, RetentionPolicy, Store};
use leadorch_test_support::{TestDb, BOTH};

async fn engine(t: &TestDb) -> Engine {
    let db = Db::connect(&t.url).await.unwrap();
    Engine {
        store: Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
            .await
            .unwrap(),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn head(e: &Engine) -> u64 {
    e.store.log.head().await.unwrap().position
}

fn hours(lines: &[&str]) -> Option<Option<Vec<String>>> {
    Some(Some(lines.iter().map(|l| l.to_string()).collect()))
}

fn member(id: &str, name: Option<&str>, max: Option<i64>) -> NewMember {
    NewMember {
        id: id.into(),
        name: name.map(str::to_string),
        max_open_leads: max,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_team_is_defined_and_changed_recording_only_what_differs() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = at("2026-03-02T10:00:00Z");

        let saved = teams::set_team(&e, "sales-nl", &TeamSettings::default(), now, "test")
            .await
            .unwrap();
        assert!(saved.created);
        assert!(saved.changed.is_empty());
        assert_eq!(saved.team.capacity_source.to_string(), "pushed");
        assert_eq!(head(&e).await, 1, "{d:?}: one TeamDefined");

        let settings = TeamSettings {
            time_zone: Some("Europe/Amsterdam".into()),
            hours: hours(&["mon-fri 09:00-12:00,13:00-17:00", "sat 10:00-14:00"]),
            holidays: Some(vec!["2026-12-25".parse().unwrap()]),
            max_open_leads: Some(Some(40)),
            capacity_source: Some("connector:hubspot".into()),
        };
        let saved = teams::set_team(&e, "sales-nl", &settings, now, "test")
            .await
            .unwrap();
        assert!(!saved.created);
        assert_eq!(
            saved.changed,
            vec![
                "capacity_source",
                "time_zone",
                "hours",
                "holidays",
                "max_open_leads"
            ]
        );
        assert_eq!(
            saved.team.hours,
            vec!["mon-fri 09:00-12:00,13:00-17:00", "sat 10:00-14:00"]
        );
        assert_eq!(saved.team.max_open_leads, Some(40));
        assert_eq!(saved.team.max_open_leads_from, Some(MaxFrom::Team));
        let recorded = head(&e).await;
        assert_eq!(recorded, 6);

        // The same again records nothing at all.
        let saved = teams::set_team(&e, "sales-nl", &settings, now, "test")
            .await
            .unwrap();
        assert!(!saved.created && saved.changed.is_empty());
        assert_eq!(head(&e).await, recorded, "{d:?}: nothing recorded");

        // Removing hours and the team's own maximum.
        let saved = teams::set_team(
            &e,
            "sales-nl",
            &TeamSettings {
                hours: Some(None),
                max_open_leads: Some(None),
                ..TeamSettings::default()
            },
            now,
            "test",
        )
        .await
        .unwrap();
        assert_eq!(saved.changed, vec!["hours", "max_open_leads"]);
        assert!(saved.team.hours.is_empty());
        assert_eq!(saved.team.max_open_leads, None);

        let listed = teams::list_teams(&e).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0], saved.team);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_naming_what_and_where_and_records_nothing() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = at("2026-03-02T10:00:00Z");
        // The domain's refusals keep the domain's error (so the API can name the field);
        // a bad name is refused before the domain sees it.
        let input = |r: Result<teams::TeamSaved, Error>| match r {
            Err(e @ (Error::Input(_) | Error::Team { .. })) => e.to_string(),
            other => panic!("expected bad input, got {other:?}"),
        };
        let m = input(
            teams::set_team(
                &e,
                "sales-nl",
                &TeamSettings {
                    time_zone: Some("Europe/Amsterdam".into()),
                    hours: hours(&["mon-fry 09:00-17:00"]),
                    ..TeamSettings::default()
                },
                now,
                "test",
            )
            .await,
        );
        assert_eq!(
            m,
            "team sales-nl: hours \"mon-fry 09:00-17:00\": unknown day \"fry\" (use mon, tue, \
             wed, thu, fri, sat, sun)"
        );
        let m = input(
            teams::set_team(
                &e,
                "sales-nl",
                &TeamSettings {
                    hours: hours(&["mon-fri 09:00-17:00"]),
                    ..TeamSettings::default()
                },
                now,
                "test",
            )
            .await,
        );
        assert!(
            m.contains("business hours need the team's time zone"),
            "{m}"
        );
        let m = input(
            teams::set_team(
                &e,
                "sales-nl",
                &TeamSettings {
                    time_zone: Some("Europe/Amsterdm".into()),
                    ..TeamSettings::default()
                },
                now,
                "test",
            )
            .await,
        );
        assert!(m.contains("unknown time zone \"Europe/Amsterdm\""), "{m}");
        let m = input(
            teams::set_team(
                &e,
                "sales-nl",
                &TeamSettings {
                    max_open_leads: Some(Some(-1)),
                    ..TeamSettings::default()
                },
                now,
                "test",
            )
            .await,
        );
        assert_eq!(
            m,
            "team sales-nl: max_open_leads must not be negative (got -1)"
        );
        match teams::set_team(
            &e,
            "sales-nl",
            &TeamSettings {
                time_zone: Some("Mars/Olympus".into()),
                ..TeamSettings::default()
            },
            now,
            "test",
        )
        .await
        {
            Err(Error::Team { team, error }) => {
                assert_eq!(team, "sales-nl");
                assert_eq!(
                    error,
                    leadorch_domain::TeamError::UnknownTimeZone("Mars/Olympus".into())
                );
            }
            other => panic!("{other:?}"),
        }
        let m = input(
            teams::set_team(
                &e,
                "sales-nl",
                &TeamSettings {
                    capacity_source: Some("crm".into()),
                    ..TeamSettings::default()
                },
                now,
                "test",
            )
            .await,
        );
        assert!(m.contains("capacity source \"crm\" is not one of"), "{m}");
        let m = input(teams::set_team(&e, "sales nl", &TeamSettings::default(), now, "test").await);
        assert!(m.starts_with("team \"sales nl\" is not a valid id"), "{m}");
        assert_eq!(head(&e).await, 0, "{d:?}: nothing recorded");

        // Members of a team that does not exist, duplicates, unknown members.
        match teams::add_member(&e, "sales-nl", &member("o-1", None, None), now, "test").await {
            Err(Error::NotFound(m)) => assert!(m.starts_with("no team \"sales-nl\""), "{m}"),
            other => panic!("{other:?}"),
        }
        teams::set_team(&e, "sales-nl", &TeamSettings::default(), now, "test")
            .await
            .unwrap();
        teams::add_member(&e, "sales-nl", &member("o-1", None, None), now, "test")
            .await
            .unwrap();
        match teams::add_member(
            &e,
            "sales-nl",
            &member("o-1", Some("Ada"), None),
            now,
            "test",
        )
        .await
        {
            Err(Error::Conflict(m)) => {
                assert_eq!(m, "team sales-nl: member \"o-1\" is already in the team")
            }
            other => panic!("{other:?}"),
        }
        match teams::remove_member(&e, "sales-nl", "o-9", now, "test").await {
            Err(Error::NotFound(m)) => {
                assert_eq!(m, "team sales-nl: member \"o-9\" is not in the team")
            }
            other => panic!("{other:?}"),
        }
        match teams::show_team(&e, "sales-be").await {
            Err(Error::NotFound(m)) => assert!(m.starts_with("no team \"sales-be\""), "{m}"),
            other => panic!("{other:?}"),
        }
        t.cleanup().await;
    }
}

#[tokio::test]
async fn members_names_are_sealed_per_member_and_shredded_by_erasing_the_member() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = at("2026-03-02T10:00:00Z");
        teams::set_team(&e, "sales-nl", &TeamSettings::default(), now, "test")
            .await
            .unwrap();
        teams::add_member(
            &e,
            "sales-nl",
            &member("o-1", Some("Ada Lovelace"), Some(10)),
            now,
            "t",
        )
        .await
        .unwrap();
        teams::add_member(
            &e,
            "sales-nl",
            &member("o-2", Some("Grace Hopper"), Some(15)),
            now,
            "t",
        )
        .await
        .unwrap();
        let view = teams::add_member(&e, "sales-nl", &member("o-3", None, None), now, "t")
            .await
            .unwrap();
        let names: Vec<Option<&str>> = view.members.iter().map(|m| m.name.as_deref()).collect();
        assert_eq!(
            names,
            vec![Some("Ada Lovelace"), Some("Grace Hopper"), None]
        );
        assert_eq!(view.max_open_leads, Some(25));
        assert_eq!(view.max_open_leads_from, Some(MaxFrom::Members));

        // Stored sealed; the read model holds no name.
        for rec in e.store.log.read_stream("team:sales-nl").await.unwrap() {
            assert!(!contains(&rec.payload, "Ada"), "{d:?}: sealed");
            assert!(!contains(&rec.payload, "Grace"), "{d:?}: sealed");
        }
        catch_up(&e.store).await.unwrap();
        for (_, doc) in e.store.db().docs("teams").await.unwrap() {
            assert!(!contains(&doc, "Ada") && !contains(&doc, "Grace"), "{d:?}");
        }

        // Exporting one member shows their name, not a teammate's.
        let export = subjects::export(&e, "member:o-1", "test", now)
            .await
            .unwrap();
        let text = serde_json::to_string(&export).unwrap();
        assert!(text.contains("Ada Lovelace"), "{text}");
        assert!(!text.contains("Grace Hopper"), "{d:?}: {text}");
        assert!(
            !text.contains("\"o-2\""),
            "{d:?}: no teammate's events: {text}"
        );
        assert!(
            text.contains("TeamDefined"),
            "{d:?}: the team it is in: {text}"
        );

        // Erasing the member shreds the name; the member and the figures stay.
        let report = subjects::erase(&e, "member:o-1", "test", now)
            .await
            .unwrap();
        assert_eq!(
            report.events_affected, 1,
            "{d:?}: only the member's own event"
        );
        let view = teams::show_team(&e, "sales-nl").await.unwrap();
        let names: Vec<Option<&str>> = view.members.iter().map(|m| m.name.as_deref()).collect();
        assert_eq!(names, vec![None, Some("Grace Hopper"), None]);
        assert_eq!(view.max_open_leads, Some(25));

        let view = teams::remove_member(&e, "sales-nl", "o-2", now, "t")
            .await
            .unwrap();
        assert_eq!(view.members.len(), 2);
        assert_eq!(view.max_open_leads, Some(10));
        t.cleanup().await;
    }
}

#[tokio::test]
async fn members_are_added_changed_and_kept_apart_by_project() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = at("2026-03-02T10:00:00Z");
        let meta = leadorch_store::Metadata {
            actor: "api-key:key_1".into(),
            trace_id: Some("trace-1".into()),
            ..Default::default()
        };
        let put = |name: Option<Option<&str>>, max: Option<Option<i64>>| teams::MemberSettings {
            name: name.map(|n| n.map(str::to_string)),
            max_open_leads: max,
        };
        match teams::put_member(&e, "sales-nl", "o-1", &put(None, None), now, &meta).await {
            Err(Error::NotFound(m)) => assert!(m.starts_with("no team \"sales-nl\""), "{m}"),
            other => panic!("{other:?}"),
        }
        teams::set_team_with(&e, "sales-nl", &TeamSettings::default(), now, &meta)
            .await
            .unwrap();
        let saved = teams::put_member(
            &e,
            "sales-nl",
            "o-1",
            &put(Some(Some("Ada")), Some(Some(10))),
            now,
            &meta,
        )
        .await
        .unwrap();
        assert!(saved.created && saved.changed);
        let m = &saved.team.members[0];
        assert_eq!(
            (m.name.as_deref(), m.max_open_leads),
            (Some("Ada"), Some(10))
        );

        // What is left out stays: the name is read back from the log.
        let before = head(&e).await;
        let saved = teams::put_member(
            &e,
            "sales-nl",
            "o-1",
            &put(None, Some(Some(12))),
            now,
            &meta,
        )
        .await
        .unwrap();
        assert!(!saved.created && saved.changed);
        let m = &saved.team.members[0];
        assert_eq!(
            (m.name.as_deref(), m.max_open_leads),
            (Some("Ada"), Some(12))
        );
        assert_eq!(m.added_at, now);
        assert_eq!(head(&e).await, before + 1);
        // The same again records nothing.
        let saved = teams::put_member(
            &e,
            "sales-nl",
            "o-1",
            &put(Some(Some(" Ada ")), None),
            now,
            &meta,
        )
        .await
        .unwrap();
        assert!(!saved.changed);
        assert_eq!(head(&e).await, before + 1, "{d:?}");
        // null removes; a new name is sealed like the first.
        let saved = teams::put_member(
            &e,
            "sales-nl",
            "o-1",
            &put(Some(None), Some(None)),
            now,
            &meta,
        )
        .await
        .unwrap();
        let m = &saved.team.members[0];
        assert_eq!((m.name.as_deref(), m.max_open_leads), (None, None));
        let saved = teams::put_member(
            &e,
            "sales-nl",
            "o-1",
            &put(Some(Some("Ada King")), None),
            now,
            &meta,
        )
        .await
        .unwrap();
        assert_eq!(saved.team.members[0].name.as_deref(), Some("Ada King"));
        let records = e.store.log.read_stream("team:sales-nl").await.unwrap();
        for rec in &records {
            assert!(!contains(&rec.payload, "Ada"), "{d:?}: sealed");
            assert_eq!(rec.metadata().trace_id.as_deref(), Some("trace-1"));
            assert_eq!(rec.metadata().actor, "api-key:key_1");
        }
        match teams::put_member(
            &e,
            "sales-nl",
            "o-1",
            &put(None, Some(Some(-1))),
            now,
            &meta,
        )
        .await
        {
            Err(Error::Team { error, .. }) => assert_eq!(
                error,
                leadorch_domain::TeamError::Negative {
                    field: "max_open_leads",
                    value: -1
                }
            ),
            other => panic!("{other:?}"),
        }
        // Erasing the member shreds every name it was given.
        let report = subjects::erase(&e, "member:o-1", "test", now)
            .await
            .unwrap();
        assert_eq!(
            report.events_affected, 3,
            "{d:?}: the three events that sealed a name (not the one that removed it)"
        );
        let view = teams::show_team(&e, "sales-nl").await.unwrap();
        assert_eq!(view.members[0].name, None);

        // Another project's team and members carry its prefix: a team of their own.
        teams::set_team_with(&e, "acme/sales-nl", &TeamSettings::default(), now, &meta)
            .await
            .unwrap();
        let saved = teams::put_member(
            &e,
            "acme/sales-nl",
            "acme/o-1",
            &put(Some(Some("Wile")), None),
            now,
            &meta,
        )
        .await
        .unwrap();
        assert_eq!(saved.team.name, "acme/sales-nl");
        assert_eq!(saved.team.members[0].id, "acme/o-1");
        assert_eq!(
            teams::team_names(&e).await.unwrap(),
            vec!["acme/sales-nl".to_string(), "sales-nl".to_string()]
        );
        let view = teams::remove_member_with(&e, "acme/sales-nl", "acme/o-1", now, &meta)
            .await
            .unwrap();
        assert!(view.members.is_empty());
        assert_eq!(
            teams::show_team(&e, "sales-nl")
                .await
                .unwrap()
                .members
                .len(),
            1
        );
        t.cleanup().await;
    }
}

fn calendar(weekly: &[(&str, &str, &str)], holidays: &[&str]) -> Calendar {
    let mut c = Calendar::default();
    for (day, start, end) in weekly {
        c.weekly
            .entry(day.to_string())
            .or_default()
            .push([start.to_string(), end.to_string()]);
    }
    c.holidays = holidays.iter().map(|d| d.parse().unwrap()).collect();
    c
}

#[tokio::test]
async fn the_configuration_s_teams_move_over_once() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = at("2026-03-02T10:00:00Z");
        let mut config = Config::default();
        config.facts.timezone = "Europe/Amsterdam".into();
        config.facts.default_team = Some("sales-nl".into());
        config.facts.campaign_teams = BTreeMap::from([
            ("1-2-3/1004".to_string(), "sales-be".to_string()),
            ("1-2-3/1005".to_string(), "sales-ny".to_string()),
        ]);
        config.facts.calendars = BTreeMap::from([
            (
                "default".to_string(),
                calendar(&[("mon", "08:00", "18:00")], &[]),
            ),
            (
                "sales-nl".to_string(),
                calendar(
                    &[("mon", "09:00", "17:00"), ("tue", "09:00", "17:00")],
                    &["2026-12-25"],
                ),
            ),
            ("sales-ny".to_string(), {
                let mut c = calendar(&[("mon", "09:00", "17:00")], &[]);
                c.timezone = Some("America/New_York".into());
                c
            }),
        ]);
        // sales-be already has hours of its own: they stay.
        teams::set_team(
            &e,
            "sales-be",
            &TeamSettings {
                time_zone: Some("Europe/Brussels".into()),
                hours: hours(&["mon-fri 08:00-16:00"]),
                ..TeamSettings::default()
            },
            now,
            "test",
        )
        .await
        .unwrap();
        config.facts.calendars.insert(
            "sales-be".to_string(),
            calendar(&[("sat", "10:00", "12:00")], &[]),
        );

        let report = teams::import_config(&e, &config, now, "test")
            .await
            .unwrap();
        let summary: Vec<(&str, bool, Vec<&str>, bool)> = report
            .teams
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.created,
                    t.changed.clone(),
                    t.note.is_some(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("sales-be", false, vec![], true),
                (
                    "sales-nl",
                    true,
                    vec!["time_zone", "hours", "holidays"],
                    false
                ),
                ("sales-ny", true, vec!["time_zone", "hours"], false),
            ]
        );
        assert_eq!(report.calendars_left, vec!["default"]);
        let nl = teams::show_team(&e, "sales-nl").await.unwrap();
        assert_eq!(nl.time_zone.as_deref(), Some("Europe/Amsterdam"));
        assert_eq!(nl.hours, vec!["mon,tue 09:00-17:00"]);
        assert_eq!(nl.holidays, vec!["2026-12-25".parse().unwrap()]);
        let ny = teams::show_team(&e, "sales-ny").await.unwrap();
        assert_eq!(ny.time_zone.as_deref(), Some("America/New_York"));
        let be = teams::show_team(&e, "sales-be").await.unwrap();
        assert_eq!(be.hours, vec!["mon-fri 08:00-16:00"]);

        // A second run records nothing.
        let before = head(&e).await;
        let again = teams::import_config(&e, &config, now, "test")
            .await
            .unwrap();
        assert!(again
            .teams
            .iter()
            .all(|t| !t.created && t.changed.is_empty()));
        let notes: Vec<bool> = again.teams.iter().map(|t| t.note.is_some()).collect();
        assert_eq!(
            notes,
            vec![true, false, false],
            "only sales-be's own hours differ"
        );
        assert_eq!(head(&e).await, before, "{d:?}: nothing recorded");

        // The facts see the teams' calendars from their events, the default from the
        // configuration.
        let view = FactsView::load(&e).await.unwrap();
        let calendars = view.calendars(&config.facts, "default");
        assert_eq!(
            calendars["sales-ny"].timezone.as_deref(),
            Some("America/New_York")
        );
        assert_eq!(calendars["sales-be"].weekly.keys().count(), 5);
        assert_eq!(calendars["default"], config.facts.calendars["default"]);

        // A team name the configuration gives that can be no team's: nothing recorded.
        config.facts.default_team = Some("sales nl".into());
        let m = teams::import_config(&e, &config, now, "test")
            .await
            .unwrap_err()
            .to_string();
        assert!(m.contains("team \"sales nl\""), "{m}");
        assert_eq!(head(&e).await, before);
        t.cleanup().await;
    }
}
