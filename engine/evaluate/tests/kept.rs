//! The kept facts view (ADR 0048), on SQLite and PostgreSQL: a kept view plus the events after
//! it is exactly the view folded from the first event (a seeded history with leads, consents,
//! erasures and capacity, and campaigns with Google data and fractional conversions); a
//! forgotten account takes the copy with it, and a copy is never written over a key that
//! changed; a copy from another build, another log or with broken bytes is set aside.

use chrono::Duration;
use leadorch_core::seed::{seed, SeedOptions};
use leadorch_core::Engine;
use leadorch_domain::campaign::HourMetrics;
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_evaluate::facts::FactsView;
use leadorch_evaluate::kept::{self, Unused};
use leadorch_evaluate::timeline::AccountKeys;
use leadorch_store::{Dialect, Metadata};
use leadorch_test_support::TestDb;

mod common;
use common::{observe, open, t0};

/// Campaign `1234567890/<campaign>` observed `minute`s after `t0()` through `account`, with
/// that hour's metrics (conversions that are no short decimal).
async fn google_data(engine: &Engine, campaign: u32, minute: i64, account: Option<&str>) {
    let id = Campaign::aggregate_id("1234567890", &campaign.to_string());
    let at = t0() + Duration::minutes(minute);
    let name = format!("Brand {campaign} at {minute}");
    observe(engine, campaign, &name, minute, account).await;
    engine
        .execute::<Campaign>(
            &id,
            CampaignCommand::RecordMetrics {
                hour_start: t0() + Duration::hours(minute / 60),
                metrics: HourMetrics {
                    impressions: 1_000 + minute as u64,
                    clicks: 37,
                    cost_micros: 12_345_678,
                    conversions: 0.1 + 0.2 + minute as f64 / 3.0,
                },
                google_account: account.map(str::to_string),
                at,
            },
            &Metadata::actor("test"),
        )
        .await
        .expect("metrics");
}

/// The view folded from the first event, as nothing kept could shape it.
async fn folded(engine: &Engine) -> FactsView {
    let mut view = FactsView::default();
    let mut keys = AccountKeys::default();
    kept::catch_up(engine, &mut view, &mut keys).await.unwrap();
    view
}

/// A seeded history (leads, consents, capacity, changes, erasures) and Google data through
/// the account `ops` and from no account.
async fn history(engine: &Engine) {
    seed(
        engine,
        &SeedOptions {
            events: 1_500,
            seed: 7,
            end: t0(),
        },
    )
    .await
    .expect("seed");
    for i in 0..6 {
        google_data(engine, 1, i * 25, Some("ops")).await;
        google_data(engine, 2, i * 25, None).await;
    }
}

#[tokio::test]
async fn a_kept_view_and_the_events_after_it_are_the_whole_fold() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let db = TestDb::new(dialect).await;
        let keys = tempfile::tempdir().unwrap();
        let engine = open(&db, &keys).await;
        history(&engine).await;
        // Nothing kept yet: the view is folded from the first event.
        assert_eq!(kept::load(&engine).await.unwrap().err(), Some(Unused::None));
        let (view, noted) = kept::load_or_fold(&engine).await.unwrap();
        assert_eq!(view, folded(&engine).await, "{dialect:?}");
        assert!(
            format!("{view:?}").contains("Brand 1 at 125"),
            "{dialect:?}: the Google data is opened"
        );
        assert!(kept::save(&engine, &view, &noted, t0()).await.unwrap());
        let copy = kept::load(&engine).await.unwrap().expect("a usable copy");
        assert_eq!(copy.view, view, "{dialect:?}: read back as written");
        assert_eq!(
            copy.keys.ids().collect::<Vec<_>>(),
            noted.ids().collect::<Vec<_>>()
        );

        // More of everything after the copy: the copy and the events after it are the fold.
        seed(
            &engine,
            &SeedOptions {
                events: 500,
                seed: 7,
                end: t0() + Duration::days(14),
            },
        )
        .await
        .expect("seed on");
        for i in 6..9 {
            google_data(&engine, 1, i * 25, Some("ops")).await;
            google_data(&engine, 3, i * 25, Some("ops")).await;
        }
        let head = engine.store.log.head().await.unwrap().position;
        let (resumed, _) = kept::load_or_fold(&engine).await.unwrap();
        assert_eq!(resumed.position, head);
        assert_eq!(resumed, folded(&engine).await, "{dialect:?}");
        // `FactsView::load` (explain, dry runs, status) starts from it too.
        assert_eq!(FactsView::load(&engine).await.unwrap(), resumed);
        assert_eq!(
            kept::load(&engine).await.unwrap().unwrap().view.position,
            view.position,
            "{dialect:?}: the copy is still the one written"
        );
    }
}

#[tokio::test]
async fn a_forgotten_account_takes_the_kept_view_with_it() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let db = TestDb::new(dialect).await;
        let keys = tempfile::tempdir().unwrap();
        let engine = open(&db, &keys).await;
        for i in 0..4 {
            google_data(&engine, 1, i * 25, Some("ops")).await;
            google_data(&engine, 2, i * 25, None).await;
        }
        let (view, noted) = kept::load_or_fold(&engine).await.unwrap();
        assert!(kept::save(&engine, &view, &noted, t0()).await.unwrap());
        let keyring = engine.store.codec.keys();
        assert!(keyring.kept_facts().await.unwrap().is_some());

        keyring.destroy("ops", None).await.unwrap();
        // The copy and its key went in the same transaction as the account's key.
        let db_ = engine.store.db();
        for key in ["head", "sealed"] {
            assert_eq!(
                db_.doc(leadorch_store::kept::PROJECTION, key)
                    .await
                    .unwrap(),
                None,
                "{dialect:?}: {key}"
            );
        }
        assert!(keyring
            .key(
                leadorch_store::kept::SUBJECT,
                leadorch_domain::KeyPurpose::GoogleAds
            )
            .await
            .unwrap()
            .is_none());
        assert_eq!(kept::load(&engine).await.unwrap().err(), Some(Unused::None));
        let (after, _) = kept::load_or_fold(&engine).await.unwrap();
        assert_eq!(after, folded(&engine).await);
        let text = format!("{after:?}");
        assert!(!text.contains("Brand 1"), "{dialect:?}: {text}");
        assert!(text.contains("Brand 2 at 75"), "{dialect:?}: {text}");

        // A copy folded with the forgotten key is not written.
        assert!(!kept::save(&engine, &view, &noted, t0()).await.unwrap());
        assert!(keyring.kept_facts().await.unwrap().is_none(), "{dialect:?}");
        // The fresh fold (no `ops` key to note) is.
        let (view, noted) = kept::load_or_fold(&engine).await.unwrap();
        assert!(kept::save(&engine, &view, &noted, t0()).await.unwrap());
        assert!(kept::load(&engine).await.unwrap().is_ok(), "{dialect:?}");
    }
}

#[tokio::test]
async fn a_copy_from_another_build_or_log_or_with_broken_bytes_is_set_aside() {
    let db = TestDb::sqlite();
    let keys = tempfile::tempdir().unwrap();
    let engine = open(&db, &keys).await;
    for i in 0..3 {
        google_data(&engine, 1, i * 25, Some("ops")).await;
    }
    let (view, noted) = kept::load_or_fold(&engine).await.unwrap();
    let keyring = engine.store.codec.keys();
    let accounts: Vec<(String, Option<String>)> =
        noted.ids().map(|(a, k)| (a.clone(), k.clone())).collect();
    let hash = {
        let page = engine
            .store
            .log
            .read_after(view.position - 1, 1)
            .await
            .unwrap();
        hex::encode(page[0].hash)
    };
    let mut data = Vec::new();
    ciborium::into_writer(&view, &mut data).unwrap();
    let head = |format: &str, hash: &str| {
        serde_json::json!({
            "format": format, "position": view.position, "hash": hash,
            "keys": accounts, "written_at": t0(),
        })
        .to_string()
        .into_bytes()
    };
    let cases: [(Vec<u8>, Vec<u8>, Option<Unused>); 4] = [
        (head(kept::format(), &hash), data.clone(), None),
        (
            head("cbor-1/0000000000000000", &hash),
            data.clone(),
            Some(Unused::Format),
        ),
        (
            head(kept::format(), &"00".repeat(32)),
            data.clone(),
            Some(Unused::Log),
        ),
        (
            head(kept::format(), &hash),
            data[..data.len() / 2].to_vec(),
            Some(Unused::Corrupt),
        ),
    ];
    for (head, data, expected) in cases {
        keyring
            .keep_facts(&head, &data, &accounts, 0)
            .await
            .unwrap()
            .unwrap();
        let got = kept::load(&engine).await.unwrap();
        assert_eq!(got.as_ref().err(), expected.as_ref());
        // Whatever the copy, the view is the fold.
        assert_eq!(kept::load_or_fold(&engine).await.unwrap().0, view);
    }
}
