//! The webhook tables on both backends: sealed secrets, deliveries and attempts.

use leadorch_store::{
    AfterAttempt, AttemptRow, Db, DeliveryState, Endpoint, Keyring, MasterKey, NewDelivery,
    Recorded, Webhooks,
};
use leadorch_test_support::{TestDb, BOTH};

fn endpoint(id: &str, project: &str) -> Endpoint {
    Endpoint {
        endpoint_id: id.into(),
        project: project.into(),
        url: "https://hooks.example.com/leadorch".into(),
        events: vec!["change.applied".into(), "rule.notify".into()],
        created_at: 1_000,
        created_by: "test".into(),
        disabled_at: None,
        disabled_reason: None,
    }
}

fn delivery(id: &str, endpoint: &str, event: &str, position: i64) -> NewDelivery {
    NewDelivery {
        delivery_id: id.into(),
        endpoint_id: endpoint.into(),
        project: "default".into(),
        event_type: "change.applied".into(),
        position,
        event_id: event.into(),
        part: 0,
        due_at: 2_000,
    }
}

fn attempt(delivery: &str, n: u32, at: i64, status: Option<u16>) -> AttemptRow {
    AttemptRow {
        delivery_id: delivery.into(),
        n,
        at,
        status,
        error: status.filter(|s| *s >= 300).map(|s| format!("HTTP {s}")),
        millis: 4,
    }
}

async fn open(t: &TestDb) -> (Db, Webhooks) {
    let db = Db::connect(&t.url).await.unwrap();
    let hooks = Webhooks::new(Keyring::new(db.clone(), MasterKey::random()));
    (db, hooks)
}

#[tokio::test]
async fn secrets_are_sealed_rotated_and_destroyed_with_the_endpoint() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let (db, hooks) = open(&t).await;
        hooks
            .add(&endpoint("we_a", "default"), "whsec_first")
            .await
            .unwrap();
        hooks
            .add(&endpoint("we_b", "acme"), "whsec_other")
            .await
            .unwrap();

        let s = hooks.secrets("we_a").await.unwrap().unwrap();
        assert_eq!(
            s.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["whsec_first"]
        );
        // Not in the clear in the table.
        let raw: Vec<u8> = leadorch_store::on_pool!(&db, p => sqlx::query_scalar(
            "SELECT secrets FROM webhook_endpoints WHERE endpoint_id = 'we_a'")
            .fetch_one(p).await)
        .unwrap();
        assert!(!raw.windows(11).any(|w| w == b"whsec_first"));

        assert!(hooks.rotate("we_a", "whsec_second", 2_000).await.unwrap());
        assert!(hooks.rotate("we_a", "whsec_third", 3_000).await.unwrap());
        let s = hooks.secrets("we_a").await.unwrap().unwrap();
        assert_eq!(
            s.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["whsec_third", "whsec_second"]
        );
        assert!(!hooks.rotate("we_nope", "whsec_x", 3_000).await.unwrap());

        let listed = hooks.list(Some("default")).await.unwrap();
        assert_eq!(listed, vec![endpoint("we_a", "default")]);
        assert_eq!(hooks.list(None).await.unwrap().len(), 2);

        assert!(hooks.remove("we_a", 4_000).await.unwrap());
        assert!(!hooks.remove("we_a", 4_000).await.unwrap());
        assert_eq!(hooks.endpoint("we_a").await.unwrap(), None);
        assert!(hooks.secrets("we_a").await.unwrap().is_none());
        let keys: i64 = leadorch_store::on_pool!(&db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM subject_keys WHERE subject_id = 'webhook:we_a'")
            .fetch_one(p).await)
        .unwrap();
        assert_eq!(keys, 0, "the endpoint's key is destroyed");
        assert!(hooks.secrets("we_b").await.unwrap().is_some());

        let mut none = endpoint("we_c", "default");
        none.events.clear();
        let e = hooks.add(&none, "whsec_x").await.unwrap_err();
        assert!(e.to_string().contains("at least one event type"), "{e}");
    }
}

#[tokio::test]
async fn a_delivery_is_stored_once_attempted_and_finished() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let (_db, hooks) = open(&t).await;
        hooks
            .add(&endpoint("we_a", "default"), "whsec_a")
            .await
            .unwrap();
        let new = [
            delivery("msg_1", "we_a", "ev1", 10),
            delivery("msg_2", "we_a", "ev2", 11),
        ];
        assert_eq!(hooks.enqueue(&new, 1_500).await.unwrap(), 2);
        // Another part of the same event and type is another delivery.
        let mut second = delivery("msg_0", "we_a", "ev1", 10);
        second.part = 1;
        second.due_at = 99_000;
        assert_eq!(hooks.enqueue(&[second], 1_500).await.unwrap(), 1);
        // The same events again (a dispatcher that read them twice): nothing new.
        let again = [delivery("msg_9", "we_a", "ev1", 10)];
        assert_eq!(hooks.enqueue(&again, 1_600).await.unwrap(), 0);

        assert!(hooks.due(None, 1_999, 10).await.unwrap().is_empty());
        let due = hooks.due(None, 2_000, 10).await.unwrap();
        assert_eq!(
            due.iter()
                .map(|d| d.delivery_id.as_str())
                .collect::<Vec<_>>(),
            ["msg_1", "msg_2"]
        );
        assert_eq!(hooks.next_due(None).await.unwrap(), Some(2_000));
        assert_eq!(hooks.next_due(Some("acme")).await.unwrap(), None);
        assert!(hooks.due(Some("acme"), 2_000, 10).await.unwrap().is_empty());
        assert_eq!(
            hooks.due(Some("default"), 2_000, 10).await.unwrap().len(),
            2
        );

        // msg_1: a 503, then a 2xx.
        let r = hooks
            .record(
                &attempt("msg_1", 1, 2_000, Some(503)),
                &AfterAttempt::RetryAt(7_000),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded::Stored {
                moved: true,
                disabled_endpoint: false
            }
        );
        assert_eq!(
            hooks
                .due(None, 5_000, 10)
                .await
                .unwrap()
                .iter()
                .map(|d| &d.delivery_id)
                .collect::<Vec<_>>(),
            ["msg_2"]
        );
        let r = hooks
            .record(
                &attempt("msg_1", 2, 7_000, Some(200)),
                &AfterAttempt::Delivered,
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded::Stored {
                moved: true,
                disabled_endpoint: false
            }
        );
        // A second result for the same attempt, or any later one, changes nothing.
        for late in [
            attempt("msg_1", 2, 7_001, Some(200)),
            attempt("msg_1", 3, 7_002, Some(500)),
        ] {
            let r = hooks
                .record(&late, &AfterAttempt::RetryAt(9_000))
                .await
                .unwrap();
            assert_eq!(r, Recorded::Stale);
        }
        let ds = hooks.deliveries("we_a", 10).await.unwrap();
        let d1 = ds.iter().find(|d| d.delivery_id == "msg_1").unwrap();
        assert_eq!(
            (d1.state, d1.attempts, d1.next_at, d1.finished_at),
            (DeliveryState::Delivered, 2, None, Some(7_000))
        );
        let tries = hooks.attempts("msg_1").await.unwrap();
        assert_eq!(
            tries.iter().map(|a| a.status).collect::<Vec<_>>(),
            [Some(503), Some(200)]
        );
        assert_eq!(tries[0].error.as_deref(), Some("HTTP 503"));

        // msg_2: the schedule runs out; the endpoint is disabled and reported once.
        let r = hooks
            .record(
                &attempt("msg_2", 1, 2_000, None),
                &AfterAttempt::GiveUp("every attempt failed".into()),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded::Stored {
                moved: true,
                disabled_endpoint: true
            }
        );
        let e = hooks.endpoint("we_a").await.unwrap().unwrap();
        assert_eq!(
            (e.disabled_at, e.disabled_reason.as_deref()),
            (Some(2_000), Some("every attempt failed"))
        );
        let d2 = hooks
            .deliveries("we_a", 10)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.delivery_id == "msg_2")
            .unwrap();
        assert_eq!(d2.state, DeliveryState::GivenUp);

        // Disabled: new deliveries are stored but not due; enabled again, they are.
        hooks
            .enqueue(&[delivery("msg_3", "we_a", "ev3", 12)], 8_000)
            .await
            .unwrap();
        assert!(hooks.due(None, 10_000, 10).await.unwrap().is_empty());
        assert!(hooks.enable("we_a").await.unwrap());
        assert!(!hooks.enable("we_a").await.unwrap());
        assert_eq!(hooks.due(None, 10_000, 10).await.unwrap().len(), 1);

        // Purge takes finished deliveries and their attempts, never pending ones.
        assert_eq!(hooks.purge(7_500).await.unwrap(), 3);
        assert!(hooks.attempts("msg_1").await.unwrap().is_empty());
        let left = hooks.deliveries("we_a", 10).await.unwrap();
        assert_eq!(
            left.iter()
                .map(|d| d.delivery_id.as_str())
                .collect::<Vec<_>>(),
            ["msg_3"]
        );
    }
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_ends_its_pending_deliveries() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let (_db, hooks) = open(&t).await;
        hooks
            .add(&endpoint("we_a", "default"), "whsec_a")
            .await
            .unwrap();
        hooks
            .add(&endpoint("we_b", "default"), "whsec_b")
            .await
            .unwrap();
        hooks
            .enqueue(
                &[
                    delivery("msg_1", "we_a", "ev1", 1),
                    delivery("msg_2", "we_a", "ev2", 2),
                    delivery("msg_3", "we_b", "ev1", 1),
                ],
                1_000,
            )
            .await
            .unwrap();
        let r = hooks
            .record(
                &attempt("msg_1", 1, 2_000, Some(410)),
                &AfterAttempt::Gone("the receiver answered 410 Gone".into()),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded::Stored {
                moved: true,
                disabled_endpoint: true
            }
        );
        let states: Vec<_> = hooks
            .deliveries("we_a", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.delivery_id, d.state))
            .collect();
        assert!(states.contains(&("msg_1".into(), DeliveryState::Disabled)));
        assert!(states.contains(&("msg_2".into(), DeliveryState::Disabled)));
        // msg_2's attempt was under way: it is recorded, the delivery stays disabled...
        let r = hooks
            .record(
                &attempt("msg_2", 1, 2_001, Some(500)),
                &AfterAttempt::RetryAt(9_000),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded::Stored {
                moved: false,
                disabled_endpoint: false
            }
        );
        assert_eq!(hooks.attempts("msg_2").await.unwrap().len(), 1);
        // ...unless it was a 2xx: then the receiver has it, and it is delivered.
        hooks
            .enqueue(&[delivery("msg_4", "we_a", "ev4", 4)], 1_000)
            .await
            .unwrap();
        hooks.disable("we_a", "test", 2_500).await.unwrap();
        let r = hooks
            .record(
                &attempt("msg_4", 1, 2_600, Some(200)),
                &AfterAttempt::Delivered,
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded::Stored {
                moved: true,
                disabled_endpoint: false
            }
        );
        // The other endpoint is untouched.
        assert_eq!(
            hooks
                .due(None, 2_000, 10)
                .await
                .unwrap()
                .iter()
                .map(|d| d.delivery_id.as_str())
                .collect::<Vec<_>>(),
            ["msg_3"]
        );
        // Removing an endpoint ends its pending deliveries too.
        hooks.remove("we_b", 3_000).await.unwrap();
        let d = hooks.deliveries("we_b", 10).await.unwrap();
        assert_eq!(d[0].state, DeliveryState::Disabled);
    }
}
