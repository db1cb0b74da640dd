//! Helpers shared by the engine's integration tests.

use chrono::{DateTime, Utc};
use leadorch_core::Engine;
use leadorch_domain::lead::LeadArrival;
use leadorch_domain::{Lead, LeadCommand, LeadOutcome};
use leadorch_store::{Db, MasterKey, Metadata, RetentionPolicy, Store};
use leadorch_test_support::TestDb;

/// The email every test lead carries.
pub const EMAIL: &str = "ada.lovelace@example.com";

/// An engine on a fresh test database with a random master key.
pub async fn engine(t: &TestDb) -> Engine {
    let db = Db::connect(&t.url).await.unwrap();
    Engine {
        store: Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
            .await
            .unwrap(),
    }
}

/// Receives a lead with full contact details (sealed by the store).
pub async fn receive_lead(e: &Engine, lead: &str, subject: &str, at: DateTime<Utc>) {
    e.execute::<Lead>(
        lead,
        LeadCommand::ReceiveLead {
            arrival: LeadArrival {
                lead_id: lead.into(),
                subject_id: subject.into(),
                team: "north".into(),
                campaign_id: Some("1001".into()),
                customer_id: Some("1234567890".into()),
                source: "lp-1001".into(),
                fingerprint: Some("a".repeat(64)),
                name: Some("Ada Lovelace".into()),
                email: Some(EMAIL.into()),
                phone: Some("+15550001111".into()),
                ip: Some("203.0.113.7".into()),
                message: Some("call me after 5pm".into()),
                at,
                ..LeadArrival::default()
            },
            outcome: LeadOutcome::Accepted,
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
}
