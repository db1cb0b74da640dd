//! The daemon against the fake Google Ads server over real HTTP: capacity fills up → the
//! campaign is paused at Google → capacity frees → resumed; every fault kind converges to the
//! intended state with no extra mutations; a change made in the Google Ads UI is recorded and
//! not undone; every body exchanged conforms to Google's schema.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use leadorch_core::Engine;
use leadorch_daemon::google::GoogleAdapter;
use leadorch_daemon::library::save_rule;
use leadorch_daemon::{Daemon, DaemonConfig};
use leadorch_domain::{CapacityCommand, CapacitySnapshot};
use leadorch_fakes::{CampaignStatus, FakeCampaign, FakeGoogleAds, FakeOAuth, Fault, Route};
use leadorch_google::{
    memory_sink, CaptureSink, GoogleAdsClient, GoogleAdsConfig, RetryPolicy, StaticToken,
};
use leadorch_store::testing::TestDb;
use leadorch_store::{EventFilter, Metadata};

mod common;
use common::{engine, host, repo, GATE};

const CUSTOMER: &str = "1234567890";
const NL: i64 = 111;
const BE: i64 = 222;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn config() -> DaemonConfig {
    let mut c = common::config();
    c.reconcile.every = "1m".into();
    c
}

struct World {
    _db: TestDb,
    e: Engine,
    fake: FakeGoogleAds,
    _oauth: FakeOAuth,
    d: Daemon,
    captured: Arc<std::sync::Mutex<Vec<leadorch_google::Capture>>>,
}

/// The fake OAuth and Google Ads servers with customer `CUSTOMER` (reached through
/// `manager` when given) and its campaign NL Generic of team sales-nl.
async fn fakes(manager: Option<&str>) -> (FakeOAuth, FakeGoogleAds) {
    let oauth = FakeOAuth::start().await;
    let fake = FakeGoogleAds::start(Some(oauth.clone())).await;
    if let Some(m) = manager {
        fake.add_customer(m, None);
    }
    fake.add_customer(CUSTOMER, manager);
    let mut nl = FakeCampaign::new(NL, "NL Generic");
    nl.labels = vec!["team:sales-nl".into()];
    fake.add_campaign(CUSTOMER, nl);
    (oauth, fake)
}

/// The client's settings for the fake: quick retries, no rate limit.
fn ads_config(fake: &FakeGoogleAds) -> GoogleAdsConfig {
    GoogleAdsConfig {
        base_url: fake.base_url().parse().unwrap(),
        retry: RetryPolicy {
            max_attempts: 5,
            base: StdDuration::from_millis(5),
            cap: StdDuration::from_millis(50),
            jitter: true,
        },
        request_timeout: StdDuration::from_secs(2),
        // The per-customer limiter (5 requests/s by default) would only slow the test down.
        ops_per_second_per_customer: 1000,
        ..GoogleAdsConfig::default()
    }
}

async fn world() -> World {
    let (oauth, fake) = fakes(None).await;
    let mut be = FakeCampaign::new(BE, "BE Generic");
    be.labels = vec!["team:sales-be".into()];
    fake.add_campaign(CUSTOMER, be);

    let tokens = oauth.issue_tokens();
    let (sink, captured): (CaptureSink, _) = memory_sink();
    let client = GoogleAdsClient::new(
        ads_config(&fake),
        Arc::new(StaticToken(tokens.access_token)),
    )
    .unwrap()
    .with_capture(sink);
    let adapter = GoogleAdapter::new(client, &["123-456-7890".to_string()], false).unwrap();

    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let host = host();
    save_rule(&e, &host, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let mut d = Daemon::start(e.clone(), host, Arc::new(adapter), config())
        .await
        .unwrap();
    d.step(start()).await.unwrap();
    World {
        _db: db,
        e,
        fake,
        _oauth: oauth,
        d,
        captured,
    }
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
            at,
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
}

fn status(w: &World, id: i64) -> CampaignStatus {
    w.fake.campaign(CUSTOMER, id).expect("campaign").status
}

async fn count_events(e: &Engine, event_type: &str) -> usize {
    e.store
        .log
        .list(&EventFilter {
            event_type: Some(event_type.into()),
            limit: Some(10_000),
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn capacity_pauses_and_resumes_the_campaign_at_google() {
    let mut w = world().await;
    assert_eq!(w.fake.mutation_count(), 0, "observing changes nothing");

    let t1 = start() + Duration::minutes(1);
    capacity(&w.e, "sales-nl", 38, t1).await;
    w.d.step(t1).await.unwrap();
    assert_eq!(status(&w, NL), CampaignStatus::Paused);
    assert_eq!(
        status(&w, BE),
        CampaignStatus::Enabled,
        "other team untouched"
    );
    assert_eq!(w.fake.mutation_count(), 1);

    let t2 = start() + Duration::minutes(2);
    capacity(&w.e, "sales-nl", 10, t2).await;
    w.d.step(t2).await.unwrap();
    assert_eq!(status(&w, NL), CampaignStatus::Enabled);
    assert_eq!(w.fake.mutation_count(), 2);
    assert_eq!(count_events(&w.e, "ChangeApplied").await, 2);

    // Nothing changes on further steps: no flapping, no extra mutations.
    for m in 3..6 {
        w.d.step(start() + Duration::minutes(m)).await.unwrap();
    }
    assert_eq!(w.fake.mutation_count(), 2);
    conforms(&w);
}

#[tokio::test]
async fn every_fault_kind_converges_without_extra_mutations() {
    let mut w = world().await;
    let retried = [
        Fault::RateLimited {
            retry_delay_secs: 0,
        },
        Fault::Internal,
        Fault::Transient,
        Fault::TokenExpired,
        Fault::Slow { millis: 50 },
        Fault::DropConnection,
        Fault::HtmlBadGateway,
    ];
    let refused = [
        Fault::DailyQuotaExhausted,
        Fault::PermissionDenied,
        Fault::CustomerNotEnabled,
    ];
    let mut minute = 0;
    let mut expected_mutations = 0;
    let mut full = false;
    for fault in retried.iter().chain(refused.iter()) {
        full = !full;
        let (open, want) = if full {
            (38, CampaignStatus::Paused)
        } else {
            (10, CampaignStatus::Enabled)
        };
        w.fake.push_fault(Route::MutateCampaigns, fault.clone());
        minute += 1;
        let at = start() + Duration::minutes(minute);
        capacity(&w.e, "sales-nl", open, at).await;
        w.d.step(at).await.unwrap();
        if refused.contains(fault) {
            // Google refused for good: recorded as failed, the campaign is unchanged …
            assert_ne!(status(&w, NL), want, "{fault:?}");
            // … and the next reading of the same capacity decides again and succeeds.
            minute += 1;
            let at = start() + Duration::minutes(minute);
            capacity(&w.e, "sales-nl", open, at).await;
            w.d.step(at).await.unwrap();
        }
        expected_mutations += 1;
        assert_eq!(status(&w, NL), want, "after {fault:?}");
        assert_eq!(
            w.fake.mutation_count(),
            expected_mutations,
            "one mutation per intended change, after {fault:?}"
        );
        assert_eq!(w.fake.pending_faults(), 0, "{fault:?} was played");
    }
    assert_eq!(count_events(&w.e, "ChangeFailed").await, refused.len());
    conforms(&w);
}

#[tokio::test]
async fn a_change_in_the_google_ads_ui_is_recorded_and_not_undone() {
    let mut w = world().await;
    // The team has room, so the gate would resume a paused campaign …
    let t1 = start() + Duration::minutes(1);
    capacity(&w.e, "sales-be", 5, t1).await;
    w.d.step(t1).await.unwrap();
    // … but an operator pauses BE Generic in the Google Ads UI.
    w.fake
        .change_in_ui(CUSTOMER, BE, |c| c.status = CampaignStatus::Paused);
    let t2 = start() + Duration::minutes(3);
    w.d.step(t2).await.unwrap();
    assert_eq!(count_events(&w.e, "ChangedOutsideEngine").await, 1);
    let t3 = start() + Duration::minutes(4);
    capacity(&w.e, "sales-be", 4, t3).await;
    w.d.step(t3).await.unwrap();
    assert_eq!(
        status(&w, BE),
        CampaignStatus::Paused,
        "manual pause respected"
    );
    assert_eq!(w.fake.mutation_count(), 0);
}

/// Every body the client sent and received, and every answer of the fake, against the
/// google-ads v26 protos (when `tests/run` has set up the checker).
fn conforms(w: &World) {
    let Ok(python) = std::env::var("LEADORCH_CONFORMANCE_PYTHON") else {
        eprintln!("LEADORCH_CONFORMANCE_PYTHON not set: schema check skipped (tests/run sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("captures.jsonl");
    w.fake.write_captures_jsonl(&path).unwrap();
    let mut lines = std::fs::read_to_string(&path).unwrap();
    for c in w.captured.lock().unwrap().iter() {
        lines.push_str(&c.to_json_line());
        lines.push('\n');
    }
    std::fs::write(&path, lines).unwrap();
    let out = std::process::Command::new(python)
        .arg(repo().join("tests/conformance/google_ads.py"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "schema check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_revoked_grant_is_recorded_as_reconsent_needed_within_seconds_without_hanging() {
    use leadorch_daemon::accounts::{self, AccountTokens};
    use leadorch_daemon::adapter::AdsAdapter;
    use leadorch_oauth::{OAuthConfig, Secret, TokenSet};
    use std::sync::atomic::{AtomicBool, Ordering};

    let (oauth, fake) = fakes(None).await;
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let ads = || ads_config(&fake);
    // A completed consent, as `leadorch google connect` records it.
    let issued = oauth.issue_tokens();
    let granted = TokenSet {
        access_token: Secret::new(issued.access_token.clone()),
        refresh_token: Some(Secret::new(issued.refresh_token.clone())),
        expires_at: Utc::now() + Duration::hours(1),
        scopes: vec![leadorch_oauth::ADWORDS_SCOPE.to_string()],
    };
    let connected = accounts::record_consent(&e, "ops", &granted, ads(), "test", Utc::now())
        .await
        .unwrap();
    assert_eq!(connected.customers, vec![CUSTOMER.to_string()]);

    let mut client_config = OAuthConfig::new(oauth.client_id());
    client_config.client_secret = Some(Secret::new(oauth.client_secret()));
    client_config.token_url = oauth.token_url().parse().unwrap();
    client_config.revoke_url = oauth.revoke_url().parse().unwrap();
    client_config.http_timeout = StdDuration::from_secs(2);
    let notified = Arc::new(AtomicBool::new(false));
    let flag = notified.clone();
    let tokens = AccountTokens::load(
        &e,
        client_config,
        "ops",
        Arc::new(move |_, _| flag.store(true, Ordering::SeqCst)),
    )
    .await
    .unwrap();
    let client = GoogleAdsClient::new(ads(), Arc::new(tokens.clone())).unwrap();
    let adapter = GoogleAdapter::new(client, &[CUSTOMER.to_string()], false)
        .unwrap()
        .with_grant(tokens);
    assert_eq!(adapter.cannot_act().await, None);
    assert_eq!(
        adapter.campaigns().await.unwrap().len(),
        1,
        "the grant works"
    );
    let refreshes = oauth.refresh_count();

    // The operator revokes the app in their Google account; the access token dies too.
    oauth.revoke_all();
    let began = std::time::Instant::now();
    let err = adapter.campaigns().await.expect_err("the grant is gone");
    assert!(!err.retryable, "{err:?}");
    let deadline = began + StdDuration::from_secs(10);
    while count_events(&e, "ReconsentNeeded").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no ReconsentNeeded event within 10 s"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(notified.load(Ordering::SeqCst), "the operator was notified");
    let state = accounts::load_account(&e, "ops").await.unwrap();
    assert_eq!(
        state.status(),
        leadorch_domain::google_account::AccountStatus::ReconsentNeeded
    );
    // From now on nothing calls Google's token endpoint again, and nothing waits.
    let asked = oauth.token_requests().len();
    let again = std::time::Instant::now();
    adapter.campaigns().await.expect_err("still no grant");
    assert!(again.elapsed() < StdDuration::from_secs(2));
    assert_eq!(oauth.token_requests().len(), asked, "no further refresh");
    assert_eq!(oauth.refresh_count(), refreshes, "no refresh succeeded");
    assert_eq!(count_events(&e, "ReconsentNeeded").await, 1);

    // The daemon's rules pause: a full team decides and requests nothing.
    let reason = adapter.cannot_act().await.expect("cannot act");
    assert!(reason.contains("leadorch google connect"), "{reason}");
    let host = host();
    save_rule(&e, &host, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let mut d = Daemon::start(e.clone(), host, Arc::new(adapter), config())
        .await
        .unwrap();
    capacity(&e, "sales-nl", 39, Utc::now()).await;
    let report = d.step(Utc::now()).await.unwrap();
    assert_eq!(report.paused.as_deref(), Some(reason.as_str()));
    assert!(report.evaluations.is_empty());
    assert_eq!(count_events(&e, "EvaluationRecorded").await, 0);
    assert_eq!(count_events(&e, "ChangeRequested").await, 0);
}

#[tokio::test]
async fn hourly_metrics_are_recorded_once_and_again_when_they_grow() {
    let mut w = world().await;
    let day = start().date_naive();
    w.fake.accrue_hour(CUSTOMER, day, 6);
    w.fake.accrue_hour(CUSTOMER, day, 7);
    w.d.step(start() + Duration::minutes(1)).await.unwrap();
    // Two hours of two enabled campaigns.
    assert_eq!(count_events(&w.e, "MetricsRecorded").await, 4);
    w.d.step(start() + Duration::minutes(2)).await.unwrap();
    assert_eq!(
        count_events(&w.e, "MetricsRecorded").await,
        4,
        "unchanged hours"
    );
    // The 07:00 hour grows (Google's figures for an hour keep coming in).
    w.fake.accrue_hour(CUSTOMER, day, 7);
    w.d.step(start() + Duration::minutes(3)).await.unwrap();
    assert_eq!(count_events(&w.e, "MetricsRecorded").await, 6);
    let nl = &w.d.view.campaigns[&format!("{CUSTOMER}/{NL}")];
    let seven = start().date_naive().and_hms_opt(7, 0, 0).unwrap().and_utc();
    assert!(nl.metrics[&seven].clicks > 0, "{:?}", nl.metrics);
}

#[tokio::test]
async fn validate_only_checks_changes_at_google_and_changes_nothing() {
    // Reached through a manager account: login-customer-id is required.
    let (oauth, fake) = fakes(Some("9999999999")).await;
    let ads = GoogleAdsConfig {
        login_customer_id: Some("999-999-9999".into()),
        ..ads_config(&fake)
    };
    let client = GoogleAdsClient::new(
        ads,
        Arc::new(StaticToken(oauth.issue_tokens().access_token)),
    )
    .unwrap();
    let adapter = GoogleAdapter::new(client, &[CUSTOMER.to_string()], true).unwrap();
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let host = host();
    save_rule(&e, &host, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let mut d = Daemon::start(e.clone(), host, Arc::new(adapter), config())
        .await
        .unwrap();
    d.step(start()).await.unwrap();
    let t1 = start() + Duration::minutes(1);
    capacity(&e, "sales-nl", 38, t1).await;
    d.step(t1).await.unwrap();
    d.step(t1 + Duration::minutes(1)).await.unwrap();
    let mutate = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("campaigns:mutate"))
        .collect::<Vec<_>>();
    assert_eq!(mutate.len(), 1, "one check at Google");
    assert_eq!(mutate[0].body["validateOnly"], serde_json::json!(true));
    assert_eq!(mutate[0].header("login-customer-id"), Some("9999999999"));
    assert_eq!(fake.mutation_count(), 0, "nothing changed");
    assert_eq!(
        fake.campaign(CUSTOMER, NL).unwrap().status,
        CampaignStatus::Enabled
    );
    assert_eq!(count_events(&e, "ChangeFailed").await, 1);
    assert_eq!(
        count_events(&e, "ChangedOutsideEngine").await,
        0,
        "Google's unchanged state is not taken for a manual change"
    );
}

#[tokio::test]
async fn metrics_hours_are_read_in_the_accounts_time_zone() {
    use leadorch_daemon::adapter::AdsAdapter;
    let (oauth, fake) = fakes(None).await;
    let day = start().date_naive();
    fake.accrue_hour(CUSTOMER, day, 7);
    let client = GoogleAdsClient::new(
        ads_config(&fake),
        Arc::new(StaticToken(oauth.issue_tokens().access_token)),
    )
    .unwrap();
    let adapter = GoogleAdapter::new(client, &[CUSTOMER.to_string()], false)
        .unwrap()
        .with_timezone(chrono_tz::Europe::Amsterdam);
    let got = adapter
        .metrics(start() - Duration::hours(24), start())
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    // 07:00 in Amsterdam on 2 March (CET, UTC+1) is 06:00 UTC.
    assert_eq!(
        got[0].hour_start,
        day.and_hms_opt(6, 0, 0).unwrap().and_utc()
    );
    assert!(got[0].metrics.impressions > 0);
}
