//! Replays from kept views (`Timeline`, ADR 0043) give exactly what a fold from the first
//! event gives (`FactsView::load_as_of`), on SQLite and PostgreSQL: at every moment of a log
//! whose event times run out of order, with position limits, across marks thinned past their
//! most, and after events appended since the last replay. Once an account is forgotten its
//! Google data is no longer shown, though marks were made while it could be read.

use chrono::Duration;
use leadorch_core::time_travel::{AsOf, Point};
use leadorch_core::Engine;
use leadorch_evaluate::facts::FactsView;
use leadorch_evaluate::timeline::{Timeline, MAX_MARKS};
use leadorch_store::{Dialect, ExpectedVersion, Metadata, NewEvent};
use leadorch_test_support::TestDb;

mod common;
use common::{observe, open, t0};

async fn filler(engine: &Engine, n: u32) {
    if n == 0 {
        return;
    }
    let events = (0..n)
        .map(|i| {
            NewEvent::new(
                "Noted",
                "1.0",
                format!("{{\"i\":{i}}}").into_bytes(),
                &Metadata::actor("test"),
            )
        })
        .collect();
    engine
        .store
        .log
        .append("other:filler", ExpectedVersion::Any, events)
        .await
        .unwrap();
}

async fn at(engine: &Engine, point: Point) -> AsOf {
    AsOf::resolve(&engine.store.log, Some(point), None)
        .await
        .unwrap()
}

/// The view through the timeline and from the first event, as comparable text, and the
/// progress the timeline reported.
async fn both(
    engine: &Engine,
    timeline: &mut Timeline,
    as_of: &AsOf,
) -> (String, String, Vec<(u64, u64)>) {
    let mut reported = Vec::new();
    let kept = timeline
        .view_as_of(engine, as_of, &mut |done, total| {
            reported.push((done, total))
        })
        .await
        .unwrap();
    let (full, _) = FactsView::load_as_of(engine, as_of).await.unwrap();
    (format!("{kept:?}"), format!("{full:?}"), reported)
}

#[tokio::test]
async fn a_timeline_answers_as_the_full_fold_at_every_moment() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let db = TestDb::new(dialect).await;
        let keys = tempfile::tempdir().unwrap();
        let engine = open(&db, &keys).await;
        // Event times mostly in order, with some recorded late (an earlier time after later
        // ones), between other streams' events.
        let mut minutes = Vec::new();
        for i in 0..60i64 {
            // A campaign's own observations are in time order; a late one is another's.
            let (campaign, minute) = if i % 7 == 3 {
                (100 + i as u32, i * 10 - 95)
            } else {
                ((i % 4) as u32 + 1, i * 10)
            };
            minutes.push(minute);
            observe(&engine, campaign, &format!("C{i}"), minute, None).await;
            filler(&engine, (i % 3) as u32).await;
        }
        let head = engine.store.log.head().await.unwrap().position;
        // Marks every 2 positions at first: past MAX_MARKS, so they are thinned on the way.
        let mut timeline = Timeline::with_spacing(2);
        let mut moments: Vec<Point> = minutes
            .iter()
            .flat_map(|m| [m - 1, *m, m + 1])
            .map(|m| Point::Time(t0() + Duration::minutes(m)))
            .collect();
        moments.extend([1, 2, 17, head / 2, head - 1, head].map(Point::Position));
        moments.push(Point::Time(t0() - Duration::days(1)));
        moments.push(Point::Time(t0() + Duration::days(1)));
        for point in moments {
            let as_of = at(&engine, point).await;
            let (kept, full, reported) = both(&engine, &mut timeline, &as_of).await;
            assert_eq!(kept, full, "{dialect:?} {}", as_of.describe());
            let (done, total) = *reported.last().unwrap();
            assert_eq!(done, total, "{dialect:?}: {reported:?}");
        }
        assert!(
            (2..=MAX_MARKS).contains(&timeline.marks()),
            "{dialect:?}: {} marks",
            timeline.marks()
        );
        assert_eq!(timeline.built_to(), head);

        // The first replay read the whole log; a later one at an early moment reads less.
        let mut fresh = Timeline::with_spacing(4);
        let early = at(&engine, Point::Time(t0() + Duration::minutes(15))).await;
        let (_, _, first) = both(&engine, &mut fresh, &early).await;
        assert!(first.last().unwrap().1 >= head, "{dialect:?}: {first:?}");
        // The first report counts the log once: the catch-up, no stretch twice.
        assert_eq!(first[0], (0, head), "{dialect:?}: {first:?}");
        let (_, _, again) = both(&engine, &mut fresh, &early).await;
        assert!(
            again.last().unwrap().1 < head / 4,
            "{dialect:?}: read {again:?} of {head}"
        );

        // Appended since: caught up, and still the same answers.
        for i in 60..70i64 {
            observe(&engine, 5, &format!("C{i}"), i * 10 - 300, None).await;
        }
        for point in [
            Point::Time(t0() + Duration::minutes(100)),
            Point::Time(t0() + Duration::days(1)),
            Point::Position(head + 3),
        ] {
            let as_of = at(&engine, point).await;
            let (kept, full, _) = both(&engine, &mut timeline, &as_of).await;
            assert_eq!(kept, full, "{dialect:?} {}", as_of.describe());
        }
    }
}

#[tokio::test]
async fn a_forgotten_accounts_data_is_not_shown_from_marks_made_before() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let db = TestDb::new(dialect).await;
        let keys = tempfile::tempdir().unwrap();
        let engine = open(&db, &keys).await;
        for i in 0..12i64 {
            observe(&engine, 1, &format!("Brand {i}"), i * 10, Some("ops")).await;
            observe(&engine, 2, &format!("Local {i}"), i * 10, None).await;
        }
        let mut timeline = Timeline::with_spacing(3);
        let moment = at(&engine, Point::Time(t0() + Duration::minutes(55))).await;
        let (kept, full, _) = both(&engine, &mut timeline, &moment).await;
        assert_eq!(kept, full);
        assert!(kept.contains("Brand 5"), "{dialect:?}: {kept}");

        // The account is forgotten: its key destroyed, no event recorded (as any process
        // might).
        let destroyed = engine
            .store
            .codec
            .keys()
            .destroy("ops", None)
            .await
            .unwrap();
        assert!(!destroyed.is_empty(), "{dialect:?}: ops had a key");
        let (kept, full, reported) = both(&engine, &mut timeline, &moment).await;
        assert_eq!(kept, full, "{dialect:?}");
        assert!(!kept.contains("Brand"), "{dialect:?}: {kept}");
        assert!(kept.contains("Local 5"), "{dialect:?}: {kept}");
        // Built again from the first event.
        let head = engine.store.log.head().await.unwrap().position;
        assert!(
            reported.last().unwrap().1 >= head,
            "{dialect:?}: {reported:?}"
        );
    }
}
