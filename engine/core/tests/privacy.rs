//! Personal data end to end: export, erasure by crypto-shredding, retention — on both
//! backends, with the chain still verifying afterwards.

use chrono::{Duration, TimeZone, Utc};
use leadorch_core::projection::catch_up;
use leadorch_core::{retention, subjects, Engine, Error};
use leadorch_domain::{Consent, ConsentCommand, KeyPurpose, Lead, LeadCommand, LeadStatus};
use leadorch_store::{Db, Metadata, Verification};
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{engine, receive_lead, EMAIL};

async fn lead_with_consent(e: &Engine, lead: &str, subject: &str, at: chrono::DateTime<Utc>) {
    receive_lead(e, lead, subject, at).await;
    let meta = Metadata::actor("test");
    e.execute::<Consent>(
        &format!("c-{lead}"),
        ConsentCommand::GrantConsent {
            consent_id: format!("c-{lead}"),
            subject_id: subject.into(),
            lead_id: Some(lead.into()),
            text: "I agree to be contacted.".into(),
            source_url: "https://www.example.com/quote".into(),
            page_url: Some("https://www.example.com/quote?gclid=abc".into()),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0".into()),
            trustedform_cert_url: Some("https://cert.trustedform.com/abc".into()),
            jornaya_token: None,
            at,
        },
        &meta,
    )
    .await
    .unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of the SQLite database: the file, and its WAL if any.
fn sqlite_bytes(t: &TestDb) -> Vec<u8> {
    let file = t.sqlite_file().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", file.display())) {
        bytes.extend(wal);
    }
    bytes
}

async fn wrapped_keys(db: &Db, subject: &str) -> Vec<Vec<u8>> {
    match db {
        Db::Sqlite { pool, .. } => {
            sqlx::query_scalar("SELECT wrapped_key FROM subject_keys WHERE subject_id = $1")
                .bind(subject)
                .fetch_all(pool)
                .await
                .unwrap()
        }
        Db::Postgres { pool, .. } => {
            sqlx::query_scalar("SELECT wrapped_key FROM subject_keys WHERE subject_id = $1")
                .bind(subject)
                .fetch_all(pool)
                .await
                .unwrap()
        }
    }
}

#[tokio::test]
async fn export_then_erase_leaves_nothing_readable_and_the_chain_intact() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = Utc::now();
        lead_with_consent(&e, "lead-1", "subj-1", now).await;
        lead_with_consent(&e, "lead-2", "subj-2", now).await;

        let export = subjects::export(&e, "subj-1", "test", now).await.unwrap();
        let text = serde_json::to_string(&export).unwrap();
        assert!(text.contains(EMAIL), "{text}");
        assert!(text.contains("call me after 5pm"));
        assert!(text.contains("https://cert.trustedform.com/abc"));
        assert!(
            text.contains("quote?gclid=abc"),
            "the consent's page address"
        );
        assert!(!export.erased);
        assert_eq!(export.events.len(), 2, "lead + consent");

        let keys_before = wrapped_keys(e.store.db(), "subj-1").await;
        assert_eq!(keys_before.len(), 3, "contact, fingerprint, consent");
        if d == leadorch_store::Dialect::Sqlite {
            // Never stored in plaintext, even before erasure.
            assert!(!contains(&sqlite_bytes(&t), EMAIL.as_bytes()));
        }

        let report = subjects::erase(&e, "subj-1", "test", now).await.unwrap();
        assert!(!report.already_erased);
        assert_eq!(report.keys_destroyed.len(), 3);
        assert_eq!(report.events_affected, 2);

        let after = subjects::export(&e, "subj-1", "test", now).await.unwrap();
        let text = serde_json::to_string(&after).unwrap();
        assert!(after.erased);
        assert!(!text.contains(EMAIL), "{text}");
        assert!(!text.contains("call me after 5pm"));
        assert!(!text.contains("cert.trustedform.com"));
        assert!(!text.contains("gclid=abc"));
        assert!(after.readable_purposes.is_empty());
        // Non-personal facts stay: the lead's team and the consent text.
        assert!(text.contains("north") && text.contains("I agree to be contacted."));

        // The other subject is untouched.
        let other = subjects::export(&e, "subj-2", "test", now).await.unwrap();
        assert!(serde_json::to_string(&other).unwrap().contains(EMAIL));

        if d == leadorch_store::Dialect::Sqlite {
            let bytes = sqlite_bytes(&t);
            assert!(!contains(&bytes, EMAIL.as_bytes()));
            for k in &keys_before {
                assert!(!contains(&bytes, k), "a destroyed key is still in the file");
            }
        }
        assert!(matches!(
            e.store.log.verify(|_| {}).await.unwrap(),
            Verification::Intact { .. }
        ));
        let views = catch_up(&e.store).await.unwrap();
        assert!(views.subject_index.get("subj-1").unwrap().erased);

        // Erasing twice is harmless and says so.
        let again = subjects::erase(&e, "subj-1", "test", now).await.unwrap();
        assert!(again.already_erased && again.keys_destroyed.is_empty());
        // Unknown subjects are a clear error.
        match subjects::erase(&e, "nobody", "test", now).await {
            Err(Error::NotFound(m)) => assert!(m.contains("nobody")),
            other => panic!("{other:?}"),
        }
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn retention_shreds_each_purpose_when_its_window_ends() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let day0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        lead_with_consent(&e, "lead-1", "subj-1", day0).await;
        // A second lead 20 days later keeps the subject's contact details 30 more days.
        lead_with_consent(&e, "lead-2", "subj-2", day0).await;
        lead_with_consent(&e, "lead-3", "subj-2", day0 + Duration::days(20)).await;

        let none = retention::enforce(&e, day0 + Duration::days(29), "test")
            .await
            .unwrap();
        assert!(none.is_empty());
        let day31 = retention::enforce(&e, day0 + Duration::days(31), "test")
            .await
            .unwrap();
        assert_eq!(
            day31
                .iter()
                .map(|x| (x.subject_id.as_str(), x.purpose))
                .collect::<Vec<_>>(),
            vec![("subj-1", KeyPurpose::Contact)]
        );
        let export = subjects::export(&e, "subj-1", "test", day0).await.unwrap();
        let text = serde_json::to_string(&export).unwrap();
        assert!(!text.contains(EMAIL));
        // Consent evidence has a longer window and is still there.
        assert!(text.contains("trustedform"), "{text}");
        assert!(export.readable_purposes.contains(&KeyPurpose::Consent));
        let subj2 = subjects::export(&e, "subj-2", "test", day0).await.unwrap();
        assert!(serde_json::to_string(&subj2).unwrap().contains(EMAIL));

        // subj-2's fingerprint window runs from day 20: it stays until day 110.
        let day91 = retention::enforce(&e, day0 + Duration::days(91), "test")
            .await
            .unwrap();
        let mut got: Vec<(&str, KeyPurpose)> = day91
            .iter()
            .map(|x| (x.subject_id.as_str(), x.purpose))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("subj-1", KeyPurpose::Fingerprint),
                ("subj-2", KeyPurpose::Contact)
            ]
        );
        let expired = e
            .store
            .log
            .list(&leadorch_store::EventFilter {
                event_type: Some("RetentionExpired".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(expired.len(), 3);
        assert!(matches!(
            e.store.log.verify(|_| {}).await.unwrap(),
            Verification::Intact { .. }
        ));
        e.store.db().close().await;
        t.cleanup().await;
    }
}

/// A status change's owner (an agent's CRM id) is sealed with the lead's subject key for
/// contact details: readable in an export, gone after the subject's erasure, never in a read
/// model; the status itself stays.
#[tokio::test]
async fn a_status_owner_is_sealed_with_the_lead_s_subject() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let now = Utc::now();
        let meta = Metadata::actor("test");
        receive_lead(&e, "lead-1", "subj-1", now).await;
        e.execute::<Lead>(
            "lead-1",
            LeadCommand::ChangeStatus {
                status: LeadStatus::Contacted,
                owner: Some("crm-agent-42".into()),
                at: now,
            },
            &meta,
        )
        .await
        .unwrap();
        let stored = e.store.log.read_stream("lead:lead-1").await.unwrap();
        let change = stored.last().unwrap();
        assert_eq!(
            (change.event_type.as_str(), change.schema_version.as_str()),
            ("LeadStatusChanged", "1.1")
        );
        assert!(!contains(&change.payload, b"crm-agent-42"));
        let export = subjects::export(&e, "subj-1", "test", now).await.unwrap();
        assert_eq!(export.events.len(), 2, "arrival + status change");
        assert!(serde_json::to_string(&export)
            .unwrap()
            .contains("crm-agent-42"));
        let views = catch_up(&e.store).await.unwrap();
        let row = serde_json::to_string(&views.leads.get("lead-1").unwrap().state).unwrap();
        assert!(!row.contains("crm-agent-42"), "{row}");

        subjects::erase(&e, "subj-1", "test", now).await.unwrap();
        let after =
            serde_json::to_string(&subjects::export(&e, "subj-1", "test", now).await.unwrap())
                .unwrap();
        assert!(!after.contains("crm-agent-42"), "{after}");
        assert!(after.contains("contacted"), "{after}");
        e.store.db().close().await;
        t.cleanup().await;
    }
}
