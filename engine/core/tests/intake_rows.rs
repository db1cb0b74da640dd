//! The rows beside the log that lead intake writes go with the subject's erasure and with
//! retention, on both backends: fingerprints (erased with their subject, purged after their
//! dedup window) and idempotency records (purged after the window kept).

use chrono::{Duration, TimeZone, Utc};
use leadorch_core::{retention, subjects};
use leadorch_store::{
    ClaimOutcome, FingerprintClaim, FingerprintKind, IdempotencyKey, IdempotencyRecord,
};
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{engine, receive_lead};

#[tokio::test]
async fn erasing_a_subject_deletes_its_fingerprints_and_only_its() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = Utc::now();
        receive_lead(&e, "lead-1", "subj-1", now).await;
        receive_lead(&e, "lead-2", "subj-2", now).await;
        let fp = e.store.fingerprints();
        let until = (now + Duration::days(90)).timestamp_micros();
        for (lead, subject, byte) in [("lead-1", "subj-1", 1u8), ("lead-2", "subj-2", 2u8)] {
            let fps = [
                (FingerprintKind::Email, [byte; 32]),
                (FingerprintKind::Phone, [byte + 10; 32]),
            ];
            let claim = FingerprintClaim {
                project: "default",
                fingerprints: &fps,
                lead_id: lead,
                subject_id: subject,
                expires_at: until,
                now: now.timestamp_micros(),
            };
            assert_eq!(fp.claim(&claim).await.unwrap(), ClaimOutcome::Claimed);
        }

        let report = subjects::erase(&e, "subj-1", "test", now).await.unwrap();
        assert_eq!(report.fingerprints_deleted, 2, "{d:?}");
        let at = now.timestamp_micros();
        let gone = [
            (FingerprintKind::Email, [1u8; 32]),
            (FingerprintKind::Phone, [11u8; 32]),
        ];
        assert!(
            fp.lookup("default", &gone, at).await.unwrap().is_empty(),
            "{d:?}"
        );
        let kept = [(FingerprintKind::Email, [2u8; 32])];
        assert_eq!(
            fp.lookup("default", &kept, at).await.unwrap().len(),
            1,
            "{d:?}"
        );

        // A second erasure finds none left, and still reports what it did.
        let again = subjects::erase(&e, "subj-1", "test", now).await.unwrap();
        assert!(again.already_erased, "{d:?}");
        assert_eq!(again.fingerprints_deleted, 0, "{d:?}");
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn retention_purges_expired_fingerprints_and_old_idempotency_records() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let day0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let fp = e.store.fingerprints();
        for (lead, byte, window) in [("lead-1", 1u8, 90), ("lead-2", 2u8, 30)] {
            let fps = [(FingerprintKind::Email, [byte; 32])];
            let claim = FingerprintClaim {
                project: "default",
                fingerprints: &fps,
                lead_id: lead,
                subject_id: "subj",
                expires_at: (day0 + Duration::days(window)).timestamp_micros(),
                now: day0.timestamp_micros(),
            };
            assert_eq!(fp.claim(&claim).await.unwrap(), ClaimOutcome::Claimed);
        }
        let idem = e.store.idempotency();
        for (key, at) in [("old", day0), ("new", day0 + Duration::days(30))] {
            let k = IdempotencyKey {
                project: "default",
                api_key_id: "key-1",
                key,
            };
            let r = IdempotencyRecord {
                request_hash: vec![0; 32],
                status: 201,
                body: "{}".into(),
                created_at: at.timestamp_micros(),
            };
            assert_eq!(idem.put(&k, &r).await.unwrap(), None);
        }

        let kept = retention::IDEMPOTENCY_KEPT;
        let day30 = day0 + Duration::days(30);
        let due = retention::purge_due(&e, day30, kept).await.unwrap();
        assert_eq!(
            due,
            retention::SideRows {
                fingerprints: 1,
                idempotency_keys: 1,
                webhook_deliveries: 0,
            },
            "{d:?}: lead-2's window ended on day 30; the first record is 30 days old"
        );
        assert_eq!(
            retention::purge_due(&e, day30, kept).await.unwrap(),
            due,
            "{d:?}: counting changes nothing"
        );
        assert_eq!(
            retention::purge(&e, day30, kept).await.unwrap(),
            due,
            "{d:?}"
        );
        assert_eq!(
            retention::purge(&e, day30, kept).await.unwrap(),
            retention::SideRows::default(),
            "{d:?}: nothing twice"
        );
        let old = IdempotencyKey {
            project: "default",
            api_key_id: "key-1",
            key: "old",
        };
        assert_eq!(idem.get(&old).await.unwrap(), None, "{d:?}");
        let live = [(FingerprintKind::Email, [1u8; 32])];
        assert_eq!(
            fp.lookup("default", &live, day30.timestamp_micros())
                .await
                .unwrap()
                .len(),
            1,
            "{d:?}: lead-1's window runs to day 90"
        );

        // A day after the newer record, it goes too; lead-1's row goes on day 90.
        let day91 = day0 + Duration::days(91);
        assert_eq!(
            retention::purge(&e, day91, kept).await.unwrap(),
            retention::SideRows {
                fingerprints: 1,
                idempotency_keys: 1,
                webhook_deliveries: 0,
            },
            "{d:?}"
        );
        e.store.db().close().await;
        t.cleanup().await;
    }
}
