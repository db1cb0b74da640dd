//! Retention purges webhook deliveries (and their attempts) that finished more than 30 days
//! ago, on both backends; pending ones and newer ones stay.

use chrono::{Duration, TimeZone, Utc};
use leadorch_core::retention;
use leadorch_store::{AfterAttempt, AttemptRow, DeliveryState, Endpoint, NewDelivery, Webhooks};
use leadorch_test_support::{TestDb, BOTH};

#[allow(dead_code)] // the leads helpers serve the other tests
mod common;
use common::engine;

#[tokio::test]
async fn finished_deliveries_older_than_30_days_are_purged_with_their_attempts() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let hooks = Webhooks::new(e.store.codec.keys().clone());
        let day0 = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
        let us = |t: chrono::DateTime<Utc>| t.timestamp_micros();
        hooks
            .add(
                &Endpoint {
                    endpoint_id: "we_1".into(),
                    project: "default".into(),
                    url: "https://hooks.example.com/x".into(),
                    events: vec!["change.applied".into()],
                    created_at: us(day0),
                    created_by: "test".into(),
                    disabled_at: None,
                    disabled_reason: None,
                },
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            )
            .await
            .unwrap();
        // "old" finishes on day 0, "new" on day 10, "open" stays pending.
        for (id, n) in [("msg_old", 1u32), ("msg_new", 2), ("msg_open", 3)] {
            hooks
                .enqueue(
                    &[NewDelivery {
                        delivery_id: id.into(),
                        endpoint_id: "we_1".into(),
                        project: "default".into(),
                        event_type: "change.applied".into(),
                        position: i64::from(n),
                        event_id: format!("ev-{n}"),
                        part: 0,
                        due_at: us(day0),
                    }],
                    us(day0),
                )
                .await
                .unwrap();
        }
        for (id, at, after) in [
            ("msg_old", day0, AfterAttempt::Delivered),
            (
                "msg_new",
                day0 + Duration::days(10),
                AfterAttempt::Delivered,
            ),
            (
                "msg_open",
                day0,
                AfterAttempt::RetryAt(us(day0 + Duration::days(90))),
            ),
        ] {
            let row = AttemptRow {
                delivery_id: id.into(),
                n: 1,
                at: us(at),
                status: Some(if id == "msg_open" { 500 } else { 204 }),
                error: None,
                millis: 3,
            };
            hooks.record(&row, &after).await.unwrap();
        }
        let kept = retention::IDEMPOTENCY_KEPT;

        // On day 30 nothing finished more than 30 days ago.
        let day30 = day0 + Duration::days(30);
        assert_eq!(
            retention::purge(&e, day30, kept)
                .await
                .unwrap()
                .webhook_deliveries,
            0,
            "{d:?}"
        );
        // On day 31 the one finished on day 0 goes, with its attempt; a dry run counts it.
        let day31 = day0 + Duration::days(31);
        assert_eq!(
            retention::purge_due(&e, day31, kept)
                .await
                .unwrap()
                .webhook_deliveries,
            1,
            "{d:?}"
        );
        assert_eq!(
            retention::purge(&e, day31, kept)
                .await
                .unwrap()
                .webhook_deliveries,
            1,
            "{d:?}"
        );
        assert!(hooks.attempts("msg_old").await.unwrap().is_empty(), "{d:?}");
        let left: Vec<(String, DeliveryState)> = hooks
            .deliveries("we_1", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|x| (x.delivery_id, x.state))
            .collect();
        assert_eq!(left.len(), 2, "{d:?}: {left:?}");
        assert!(!left.iter().any(|(id, _)| id == "msg_old"), "{d:?}");
        assert_eq!(hooks.attempts("msg_new").await.unwrap().len(), 1, "{d:?}");

        // Much later the other finished one goes; the pending one never does.
        let later = day0 + Duration::days(400);
        assert_eq!(
            retention::purge(&e, later, kept)
                .await
                .unwrap()
                .webhook_deliveries,
            1,
            "{d:?}"
        );
        let left = hooks.deliveries("we_1", 10).await.unwrap();
        assert_eq!(left.len(), 1, "{d:?}");
        assert_eq!(left[0].delivery_id, "msg_open", "{d:?}");
        assert_eq!(left[0].state, DeliveryState::Pending, "{d:?}");
        e.store.db().close().await;
        t.cleanup().await;
    }
}
