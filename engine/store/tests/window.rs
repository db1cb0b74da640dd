//! Windows over the log and counts (`window.rs`) on both backends: forwards and backwards,
//! every filter, visibility by stream; and a verification stopped by its control.

use leadorch_store::{
    Db, ExpectedVersion, MasterKey, Match, Metadata, NewEvent, RetentionPolicy, Store,
    Verification, VerifyControl, Visibility, Window,
};
use leadorch_test_support::{TestDb, BOTH};

async fn open(t: &TestDb) -> Store {
    let db = Db::connect(&t.url).await.expect("connect");
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store")
}

fn ev(event_type: &str, actor: &str, n: u32) -> NewEvent {
    let mut meta = Metadata::actor(actor);
    if n.is_multiple_of(2) {
        // Half with more fields after the actor, half without.
        meta.trace_id = Some(format!("t-{n}"));
    }
    NewEvent::new(
        event_type,
        "1.0",
        format!("{{\"n\":{n}}}").into_bytes(),
        &meta,
    )
}

fn positions(events: &[leadorch_store::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

fn window(after: u64, before: Option<u64>, newest_first: bool, limit: u64, m: &Match) -> Window {
    Window {
        after,
        before,
        newest_first,
        limit,
        filter: m.clone(),
    }
}

#[tokio::test]
async fn windows_and_counts_take_exactly_what_their_filter_says() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let s = open(&t).await;
        // 1 lead:a A alice, 2 lead:acme/b B bob, 3 team:x A alice, 4 lead:a B "bob, jr",
        // 5 data_subject:acme/s A alice, 6 campaign:1/2 B bob, 7 world:sim A alice.
        let rows = [
            ("lead:a", "A", "alice"),
            ("lead:acme/b", "B", "bob"),
            ("team:x", "A", "alice"),
            ("lead:a", "B", "bob, \"jr\""),
            ("data_subject:acme/s", "A", "alice"),
            ("campaign:1/2", "B", "bob"),
            ("world:sim", "A", "alice"),
        ];
        for (i, (stream, ty, actor)) in rows.iter().enumerate() {
            s.log
                .append(stream, ExpectedVersion::Any, vec![ev(ty, actor, i as u32)])
                .await
                .unwrap();
        }
        let all = Match::default();
        let w = |after, before, newest, limit, m: &Match| window(after, before, newest, limit, m);
        assert_eq!(
            positions(&s.log.window(&w(0, None, false, 3, &all)).await.unwrap()),
            [1, 2, 3]
        );
        assert_eq!(
            positions(&s.log.window(&w(0, Some(8), true, 3, &all)).await.unwrap()),
            [7, 6, 5],
            "{d:?}: newest first"
        );
        assert_eq!(
            positions(&s.log.window(&w(2, Some(6), true, 10, &all)).await.unwrap()),
            [5, 4, 3]
        );
        let ty = Match {
            event_type: Some("B".into()),
            ..Default::default()
        };
        assert_eq!(
            positions(&s.log.window(&w(0, None, true, 10, &ty)).await.unwrap()),
            [6, 4, 2]
        );
        let stream = Match {
            stream: Some("lead:a".into()),
            ..Default::default()
        };
        assert_eq!(
            positions(
                &s.log
                    .window(&w(0, Some(5), true, 10, &stream))
                    .await
                    .unwrap()
            ),
            [4, 1]
        );
        let bob = Match {
            actor: Some("bob".into()),
            ..Default::default()
        };
        assert_eq!(
            positions(&s.log.window(&w(0, None, false, 10, &bob)).await.unwrap()),
            [2, 6],
            "{d:?}: an actor whole, not a prefix of another (\"bob, jr\")"
        );
        let jr = Match {
            actor: Some("bob, \"jr\"".into()),
            ..Default::default()
        };
        assert_eq!(
            positions(&s.log.window(&w(0, None, false, 10, &jr)).await.unwrap()),
            [4]
        );
        assert_eq!(s.log.count(&bob, 0, 7).await.unwrap(), 2);

        // Recorded time: from is inclusive, to exclusive.
        let every = s.log.window(&w(0, None, false, 10, &all)).await.unwrap();
        let (from, to) = (every[2].recorded_at, every[4].recorded_at);
        let span = Match {
            recorded_from: Some(from),
            recorded_to: Some(to),
            ..Default::default()
        };
        let want: Vec<u64> = every
            .iter()
            .filter(|e| e.recorded_at >= from && e.recorded_at < to)
            .map(|e| e.position)
            .collect();
        assert!(want.contains(&3), "{d:?}");
        let got = positions(&s.log.window(&w(0, None, false, 10, &span)).await.unwrap());
        assert_eq!(got, want, "{d:?}");
        let got = positions(&s.log.window(&w(0, None, true, 10, &span)).await.unwrap());
        assert_eq!(got, want.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(s.log.count(&span, 0, 7).await.unwrap(), want.len() as u64);
        let later = Match {
            recorded_from: Some(every[6].recorded_at + 1),
            ..Default::default()
        };
        assert!(s
            .log
            .window(&w(0, None, false, 10, &later))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.log.count(&later, 0, 7).await.unwrap(), 0);

        // Visibility: a project's prefixes and campaigns, or everything but other projects'.
        let acme = Match {
            visibility: Visibility::Only {
                prefixes: vec!["lead:acme/".into(), "data_subject:acme/".into()],
                streams: vec!["campaign:1/2".into()],
            },
            ..Default::default()
        };
        assert_eq!(
            positions(&s.log.window(&w(0, None, false, 10, &acme)).await.unwrap()),
            [2, 5, 6]
        );
        assert_eq!(s.log.count(&acme, 0, 7).await.unwrap(), 3);
        let default = Match {
            visibility: Visibility::Except {
                kinds: vec!["lead".into(), "data_subject".into(), "team".into()],
                streams: vec!["campaign:1/2".into()],
            },
            ..Default::default()
        };
        assert_eq!(
            positions(
                &s.log
                    .window(&w(0, None, false, 10, &default))
                    .await
                    .unwrap()
            ),
            [1, 3, 4, 7]
        );
        assert_eq!(s.log.count(&default, 0, 7).await.unwrap(), 4);
        assert_eq!(s.log.count(&default, 3, 7).await.unwrap(), 2, "a range");
        assert_eq!(s.log.count(&all, 7, 7).await.unwrap(), 0);
        let none = Match {
            visibility: Visibility::Only {
                prefixes: vec![],
                streams: vec![],
            },
            ..Default::default()
        };
        assert_eq!(s.log.count(&none, 0, 7).await.unwrap(), 0);

        assert_eq!(
            s.log
                .event_at(2, &Visibility::All)
                .await
                .unwrap()
                .map(|e| e.stream_id),
            Some("lead:acme/b".to_string())
        );
        assert!(s
            .log
            .event_at(2, &default.visibility)
            .await
            .unwrap()
            .is_none());
        assert!(s.log.event_at(8, &Visibility::All).await.unwrap().is_none());
        s.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_cancelled_verification_stops_after_a_page_and_says_how_far_it_got() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let s = open(&t).await;
        // Two pages and a bit (a page is 10,000 events).
        for chunk in 0..11u32 {
            let events = (0..2_000)
                .map(|i| ev("A", "seed", chunk * 2_000 + i))
                .collect();
            s.log
                .append(&format!("lead:{chunk}"), ExpectedVersion::Any, events)
                .await
                .unwrap();
        }
        let control = VerifyControl::new();
        control.cancel();
        assert_eq!(s.log.verify_controlled(&control).await.unwrap(), None);
        assert_eq!(control.checked(), 10_000, "{d:?}: one page, then the check");

        let control = VerifyControl::new();
        match s.log.verify_controlled(&control).await.unwrap() {
            Some(Verification::Intact { count, .. }) => assert_eq!(count, 22_000),
            other => panic!("{d:?}: {other:?}"),
        }
        assert_eq!(control.checked(), 22_000);
        s.db().close().await;
        t.cleanup().await;
    }
}

/// An event of type `ty` whose payload is `payload` as written.
fn raw(ty: &str, payload: &[u8]) -> NewEvent {
    NewEvent::new(ty, "1.0", payload.to_vec(), &Metadata::actor("sim"))
}

/// `2020-12-01T<hh:mm:ss>Z` in µs since the epoch.
fn utc(hms: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!("2020-12-01T{hms}Z"))
        .unwrap()
        .timestamp_micros()
}

#[tokio::test]
async fn event_time_is_each_payloads_own_at_and_events_without_one_never_match() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let s = open(&t).await;
        // Recorded now, all of them: their event times are years in the past, and
        // out of log order.
        let rows: [(&str, &[u8]); 12] = [
            // 1: inside [10:00, 11:00)
            ("A", br#"{"A":{"at":"2020-12-01T10:00:00Z","n":1}}"#),
            // 2: before
            ("A", br#"{"A":{"at":"2020-12-01T09:59:59.999999Z"}}"#),
            // 3: inside, written in another offset (10:30 UTC)
            ("B", br#"{"B":{"n":3,"at":"2020-12-01T12:30:00+02:00"}}"#),
            // 4: the end is exclusive, also for a fraction finer than µs
            ("A", br#"{"A":{"at":"2020-12-01T11:00:00.0000001Z"}}"#),
            // 5: just inside, a fraction finer than µs is cut, not rounded up to 11:00
            ("B", br#"{"B":{"at":"2020-12-01T10:59:59.9999999Z"}}"#),
            // 6: no `at`
            ("A", br#"{"A":{"n":6}}"#),
            // 7: an `at` not under the event's type
            ("A", br#"{"B":{"at":"2020-12-01T10:10:00Z"}}"#),
            // 8: not JSON (a tampered row): no event time, and no failed statement
            ("A", b"X"),
            // 9: not a time
            ("A", br#"{"A":{"at":"2026-02-30T10:00:00Z"}}"#),
            // 10: not UTF-8
            ("A", b"\xff\xfe{}"),
            // 11: inside, offset west of UTC (10:45 UTC)
            ("A", br#"{"A":{"at":"2020-12-01T09:15:00.250-01:30"}}"#),
            // 12: a number, not a time
            ("A", br#"{"A":{"at":1606816800}}"#),
        ];
        for (i, (ty, payload)) in rows.iter().enumerate() {
            s.log
                .append(
                    &format!("world:{i}"),
                    ExpectedVersion::Any,
                    vec![raw(ty, payload)],
                )
                .await
                .unwrap();
        }
        let hour = Match {
            event_from: Some(utc("10:00:00")),
            event_to: Some(utc("11:00:00")),
            ..Default::default()
        };
        let inside = [1, 3, 5, 11];
        let w = |newest, limit, m: &Match| window(0, None, newest, limit, m);
        assert_eq!(
            positions(&s.log.window(&w(false, 10, &hour)).await.unwrap()),
            inside,
            "{d:?}"
        );
        assert_eq!(
            positions(&s.log.window(&w(true, 2, &hour)).await.unwrap()),
            [11, 5],
            "{d:?}: newest first"
        );
        assert_eq!(s.log.count(&hour, 0, 12).await.unwrap(), 4, "{d:?}");
        assert_eq!(
            s.log.count(&hour, 3, 12).await.unwrap(),
            2,
            "{d:?}: a range"
        );

        // Either end alone.
        let from = Match {
            event_from: Some(utc("10:00:00")),
            ..Default::default()
        };
        assert_eq!(
            positions(&s.log.window(&w(false, 20, &from)).await.unwrap()),
            [1, 3, 4, 5, 11],
            "{d:?}"
        );
        let to = Match {
            event_to: Some(utc("10:00:00")),
            ..Default::default()
        };
        assert_eq!(
            positions(&s.log.window(&w(false, 20, &to)).await.unwrap()),
            [2],
            "{d:?}"
        );
        assert_eq!(s.log.count(&to, 0, 12).await.unwrap(), 1);

        // With the type's index, and with recorded time (all recorded after the events).
        let b_hour = Match {
            event_type: Some("B".into()),
            ..hour.clone()
        };
        assert_eq!(
            positions(&s.log.window(&w(false, 10, &b_hour)).await.unwrap()),
            [3, 5],
            "{d:?}"
        );
        assert_eq!(s.log.count(&b_hour, 0, 12).await.unwrap(), 2);
        let every = s
            .log
            .window(&w(false, 20, &Match::default()))
            .await
            .unwrap();
        let recorded = Match {
            recorded_from: Some(every[0].recorded_at),
            ..hour.clone()
        };
        assert_eq!(
            positions(&s.log.window(&w(false, 10, &recorded)).await.unwrap()),
            inside
        );
        assert!(every.iter().all(|e| e.recorded_at > utc("11:00:00")));

        // An empty range, and one ending where it starts.
        let empty = Match {
            event_from: Some(utc("10:00:00")),
            event_to: Some(utc("10:00:00")),
            ..Default::default()
        };
        assert_eq!(s.log.count(&empty, 0, 12).await.unwrap(), 0);
        let reversed = Match {
            event_from: Some(utc("11:00:00")),
            event_to: Some(utc("10:00:00")),
            ..Default::default()
        };
        assert!(s
            .log
            .window(&w(false, 10, &reversed))
            .await
            .unwrap()
            .is_empty());
        s.db().close().await;
        t.cleanup().await;
    }
}
