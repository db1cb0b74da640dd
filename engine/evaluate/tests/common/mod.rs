//! What the evaluate crate's test files share: the start of their day, a store on a test
//! database, and a campaign observed through a Google account (or none).
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadorch_core::Engine;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_store::{Metadata, StoreConfig};
use leadorch_test_support::TestDb;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

/// Observes campaign `1234567890/<campaign>` named `name`, `minute`s after 09:00, read
/// through `account`.
pub async fn observe(
    engine: &Engine,
    campaign: u32,
    name: &str,
    minute: i64,
    account: Option<&str>,
) {
    engine
        .execute::<Campaign>(
            &Campaign::aggregate_id("1234567890", &campaign.to_string()),
            CampaignCommand::Observe {
                customer_id: "1234567890".into(),
                campaign_id: campaign.to_string(),
                snapshot: CampaignSnapshot {
                    name: name.into(),
                    labels: vec!["team:sales-nl".into()],
                    status: if minute % 3 == 0 {
                        CampaignStatus::Paused
                    } else {
                        CampaignStatus::Enabled
                    },
                    daily_budget_micros: 50_000_000 + minute,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: None,
                },
                manual_hold: Duration::hours(4),
                google_account: account.map(str::to_string),
                at: t0() + Duration::minutes(minute),
            },
            &Metadata::actor("test"),
        )
        .await
        .expect("observe a campaign");
}

/// A store on `db`, its master key in `keys`.
pub async fn open(db: &TestDb, keys: &tempfile::TempDir) -> Engine {
    let mut config = StoreConfig::new(db.url.clone());
    config.master_key_file = Some(keys.path().join("master.key"));
    Engine::open(&config).await.expect("open the store")
}
