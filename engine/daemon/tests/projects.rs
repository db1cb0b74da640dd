//! Two projects on one database (SQLite and PostgreSQL), each with its own daemon, Google account and rules, against
//! the fake Google Ads server over real HTTP (ADR 0030): filling one project's team pauses
//! only that project's campaign; each daemon applies only its own account's changes; a
//! customer both projects' accounts reach stays with the project that read it first.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_daemon::google::GoogleAdapter;
use leadorch_daemon::Daemon;
use leadorch_domain::campaign::CampaignChange;
use leadorch_domain::{Campaign, CampaignCommand, CapacityCommand, CapacitySnapshot};
use leadorch_evaluate::library::save_rule;
use leadorch_fakes::{CampaignStatus, FakeCampaign, FakeGoogleAds, FakeOAuth};
use leadorch_google::{GoogleAdsClient, StaticToken};
use leadorch_store::Dialect;
use leadorch_store::{EventFilter, Metadata};
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{engine, host, GATE};
#[path = "common/fake_google.rs"]
mod fake_google;
use fake_google::ads_config;

/// Default's customer and campaign.
const OURS: &str = "1234567890";
const OURS_ID: &str = "123-456-7890";
/// Acme's customer and campaign.
const ACME: &str = "5550001111";
const ACME_ID: &str = "555-000-1111";
const CAMPAIGN: i64 = 111;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn config(project: &str) -> Config {
    let mut c = common::config();
    c.reconcile.every = "1m".into();
    c.project = project.into();
    c
}

fn adapter(
    fake: &FakeGoogleAds,
    oauth: &FakeOAuth,
    account: &str,
    customers: &[&str],
) -> GoogleAdapter {
    let config = ads_config(fake);
    let token = oauth.issue_tokens().access_token;
    let client = GoogleAdsClient::new(config, Arc::new(StaticToken(token))).unwrap();
    let customers: Vec<String> = customers.iter().map(|c| c.to_string()).collect();
    GoogleAdapter::new(client, account, &customers, false).unwrap()
}

async fn capacity(e: &Engine, team: &str, open: u32, at: DateTime<Utc>) {
    e.execute::<CapacitySnapshot>(
        team,
        CapacityCommand::Record {
            team: team.into(),
            agents_available: 3,
            open_leads: open,
            max_open_leads: 40,
            source: "test".into(),
            max_age_secs: None,
            at,
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
}

async fn streams_of(e: &Engine, event_type: &str) -> Vec<String> {
    e.store
        .log
        .list(&EventFilter {
            event_type: Some(event_type.into()),
            limit: Some(10_000),
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.stream_id)
        .collect()
}

struct Two {
    db: TestDb,
    e: Engine,
    fake: FakeGoogleAds,
    _oauth: FakeOAuth,
    ours: Daemon,
    acme: Daemon,
}

/// Two customers with one campaign each, both labelled `team:sales-nl`; default's daemon
/// acts through account `ops` on `OURS` (and on `also`), acme's through `acme/ops` on `ACME`;
/// each project has the gate rule, stored as `gate` and `acme/gate`.
async fn two(dialect: Dialect, also: &[&str]) -> Two {
    let oauth = FakeOAuth::start().await;
    let fake = FakeGoogleAds::start(Some(oauth.clone())).await;
    for customer in [OURS, ACME] {
        fake.add_customer(customer, None);
        let mut c = FakeCampaign::new(CAMPAIGN, "Generic");
        c.labels = vec!["team:sales-nl".into()];
        fake.add_campaign(customer, c);
    }
    let db = TestDb::new(dialect).await;
    let e = engine(&db).await;
    let host = host();
    for id in ["gate", "acme/gate"] {
        save_rule(&e, &host, id, GATE, true, start(), "test")
            .await
            .unwrap();
    }
    let mut ours_customers = vec![OURS_ID];
    ours_customers.extend_from_slice(also);
    let acme = Daemon::start(
        e.clone(),
        host.clone(),
        Arc::new(adapter(&fake, &oauth, "acme/ops", &[ACME_ID])),
        config("acme"),
    )
    .await
    .unwrap();
    let ours = Daemon::start(
        e.clone(),
        host,
        Arc::new(adapter(&fake, &oauth, "ops", &ours_customers)),
        config("default"),
    )
    .await
    .unwrap();
    let mut t = Two {
        db,
        e,
        fake,
        _oauth: oauth,
        ours,
        acme,
    };
    // Acme reads its campaign first, then default.
    t.acme.step(start()).await.unwrap();
    t.ours.step(start()).await.unwrap();
    t
}

impl Two {
    async fn done(self) {
        self.db.cleanup().await;
    }

    async fn step_both(&mut self, at: DateTime<Utc>) {
        self.acme.step(at).await.unwrap();
        self.ours.step(at).await.unwrap();
    }

    fn status(&self, customer: &str) -> CampaignStatus {
        self.fake
            .campaign(customer, CAMPAIGN)
            .expect("campaign")
            .status
    }
}

#[tokio::test]
async fn each_project_s_daemon_acts_on_its_own_campaigns_with_its_own_rules_and_capacity() {
    for dialect in BOTH {
        own_campaigns_rules_and_capacity(dialect).await;
    }
}

async fn own_campaigns_rules_and_capacity(dialect: Dialect) {
    let mut t = two(dialect, &[]).await;
    let ours = Campaign::aggregate_id(OURS, &CAMPAIGN.to_string());
    let acme = Campaign::aggregate_id(ACME, &CAMPAIGN.to_string());
    assert_eq!(t.ours.view.campaigns[&ours].project(), "default");
    assert_eq!(t.ours.view.campaigns[&acme].project(), "acme");

    // Acme's team fills: only acme's campaign is paused, by acme's rule.
    let t1 = start() + Duration::minutes(1);
    capacity(&t.e, "acme/sales-nl", 38, t1).await;
    t.step_both(t1).await;
    assert_eq!(t.status(ACME), CampaignStatus::Paused);
    assert_eq!(
        t.status(OURS),
        CampaignStatus::Enabled,
        "default's team has room"
    );
    assert_eq!(t.fake.mutation_count(), 1);
    let evaluations = streams_of(&t.e, "EvaluationRecorded").await;
    assert!(
        evaluations
            .iter()
            .any(|s| s.starts_with("evaluation:acme/")),
        "acme's evaluation is acme's: {evaluations:?}"
    );
    let requested = streams_of(&t.e, "ChangeRequested").await;
    assert_eq!(requested, vec![format!("campaign:{acme}")]);

    // Default's team fills: default's campaign is paused; acme's stays as it is.
    let t2 = start() + Duration::minutes(2);
    capacity(&t.e, "sales-nl", 39, t2).await;
    t.step_both(t2).await;
    assert_eq!(t.status(OURS), CampaignStatus::Paused);
    assert_eq!(t.fake.mutation_count(), 2);

    // Acme's room again resumes only acme's.
    let t3 = start() + Duration::minutes(3);
    capacity(&t.e, "acme/sales-nl", 5, t3).await;
    t.step_both(t3).await;
    assert_eq!(t.status(ACME), CampaignStatus::Enabled);
    assert_eq!(t.status(OURS), CampaignStatus::Paused);
    assert_eq!(t.fake.mutation_count(), 3, "{dialect:?}");
    t.done().await;
}

#[tokio::test]
async fn a_daemon_applies_only_its_own_account_s_changes() {
    for dialect in BOTH {
        only_its_own_account_s_changes(dialect).await;
    }
}

async fn only_its_own_account_s_changes(dialect: Dialect) {
    let mut t = two(dialect, &[]).await;
    let acme = Campaign::aggregate_id(ACME, &CAMPAIGN.to_string());
    // An operator's change for acme's campaign, pending.
    t.e.execute::<Campaign>(
        &acme,
        CampaignCommand::RequestChange {
            change_id: "op-1".into(),
            change: CampaignChange::Pause,
            reason: "operator".into(),
            decision_ref: None,
            google_account: Some("acme/ops".into()),
            at: start() + Duration::minutes(1),
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
    let t1 = start() + Duration::minutes(1);
    t.ours.step(t1).await.unwrap();
    assert_eq!(
        t.fake.mutation_count(),
        0,
        "default's daemon leaves acme's change alone"
    );
    assert!(streams_of(&t.e, "ChangeFailed").await.is_empty());
    assert_eq!(t.ours.view.pending_changes().len(), 1, "still pending");
    t.acme.step(t1).await.unwrap();
    assert_eq!(t.status(ACME), CampaignStatus::Paused);
    assert_eq!(t.fake.mutation_count(), 1, "{dialect:?}");
    t.done().await;
}

#[tokio::test]
async fn a_customer_both_projects_reach_stays_with_the_project_that_read_it_first() {
    // Default's account reaches acme's customer too (an agency's manager account).
    let mut t = two(Dialect::Sqlite, &[ACME_ID]).await;
    let acme = Campaign::aggregate_id(ACME, &CAMPAIGN.to_string());
    let observed_by = |t: &Two| t.ours.view.campaigns[&acme].google_account.clone();
    assert_eq!(observed_by(&t).as_deref(), Some("acme/ops"));
    // Default's full team never pauses acme's campaign, however often default reads it.
    let t1 = start() + Duration::minutes(1);
    capacity(&t.e, "sales-nl", 39, t1).await;
    t.step_both(t1).await;
    let t2 = start() + Duration::minutes(5);
    t.step_both(t2).await;
    assert_eq!(observed_by(&t).as_deref(), Some("acme/ops"));
    assert_eq!(t.status(OURS), CampaignStatus::Paused);
    assert_eq!(t.status(ACME), CampaignStatus::Enabled);
    assert_eq!(t.fake.mutation_count(), 1);
    t.done().await;
}
