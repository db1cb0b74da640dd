//! Amounts Google accepts, through the daemon at the fake Google Ads server (ADR 0031): the
//! customer's currency is read from Google, a rule's budget is rounded down to the
//! currency's unit and its target CPA to the nearest unit before the change is requested, so
//! what is recorded is what is sent; an amount still off the unit is refused unsent; and a
//! change Google refuses starts no cooldown.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_daemon::adapter::AdsAdapter;
use leadorch_daemon::google::GoogleAdapter;
use leadorch_daemon::Daemon;
use leadorch_domain::campaign::{Bidding, CampaignChange, ChangeState, Currency};
use leadorch_domain::{CapacityCommand, CapacitySnapshot};
use leadorch_evaluate::facts::FactsView;
use leadorch_evaluate::library::save_rule;
use leadorch_fakes::{Bidding as FakeBidding, FakeCampaign, FakeGoogleAds, FakeOAuth};
use leadorch_google::{CustomerId, GoogleAdsClient, StaticToken};
use leadorch_store::Metadata;
use leadorch_test_support::TestDb;

mod common;
use common::{engine, host};
#[path = "common/fake_google.rs"]
mod fake_google;
use fake_google::ads_config;

/// An account in euros (unit 0.01) and one in yen (unit 1).
const EUR_CUSTOMER: &str = "1234567890";
const JPY_CUSTOMER: &str = "2345678901";
const NL: i64 = 111;
const JP: i64 = 333;

/// Budgets and targets no currency takes as they are: 33.333333 EUR and 1234.5 JPY.
const AMOUNTS: &str = r#"//! budgets and targets with more digits than the currencies have
//! on: capacity_changed
//! priority: 5
if campaign.name == "NL Generic" { return set_budget(33.333333, "pacing NL"); }
if campaign.name == "JP Generic" { return set_budget(1234.5, "pacing JP"); }
if campaign.name == "JP CPA" { return set_target_cpa(1234.5, "target JP"); }
"#;

/// A target ROAS Google refuses (above 1000) while the team is swamped, usable ones
/// otherwise.
const ROAS: &str = r#"//! target ROAS by load
//! on: capacity_changed
//! priority: 5
if team == () { return; }
if team.open_leads > 30 { return set_target_roas(2000.0, "swamped: demand much more return"); }
if team.open_leads > 20 { return set_target_roas(5.0, "busy: demand more return"); }
return set_target_roas(4.0, "room: usual return");
"#;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn config() -> Config {
    let mut c = common::config();
    c.reconcile.every = "1m".into();
    c.policy.cooldown = "30m".into();
    c
}

struct World {
    _db: TestDb,
    _oauth: FakeOAuth,
    e: Engine,
    fake: FakeGoogleAds,
    d: Daemon,
    adapter: Arc<GoogleAdapter>,
}

/// The fakes with the EUR and JPY customers, the daemon over both with `rule`, one step.
async fn world(rule: &str, campaigns: &[(&str, FakeCampaign)]) -> World {
    let oauth = FakeOAuth::start().await;
    let fake = FakeGoogleAds::start(Some(oauth.clone())).await;
    fake.add_customer(EUR_CUSTOMER, None);
    fake.add_customer(JPY_CUSTOMER, None);
    fake.set_currency(JPY_CUSTOMER, "JPY");
    for (customer, c) in campaigns {
        fake.add_campaign(customer, c.clone());
    }
    let client = GoogleAdsClient::new(
        ads_config(&fake),
        Arc::new(StaticToken(oauth.issue_tokens().access_token)),
    )
    .unwrap();
    let customers = [EUR_CUSTOMER.to_string(), JPY_CUSTOMER.to_string()];
    let adapter = Arc::new(GoogleAdapter::new(client, "ops", &customers, false).unwrap());
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let host = host();
    save_rule(&e, &host, "rule", rule, true, start(), "test")
        .await
        .unwrap();
    let mut d = Daemon::start(e.clone(), host, adapter.clone(), config())
        .await
        .unwrap();
    d.step(start()).await.unwrap();
    World {
        _db: db,
        _oauth: oauth,
        e,
        fake,
        d,
        adapter,
    }
}

fn campaign(id: i64, name: &str) -> FakeCampaign {
    let mut c = FakeCampaign::new(id, name);
    c.labels = vec!["team:sales-nl".into()];
    c
}

async fn capacity(e: &Engine, open: u32, at: DateTime<Utc>) {
    e.execute::<CapacitySnapshot>(
        "sales-nl",
        CapacityCommand::Record {
            team: "sales-nl".into(),
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

/// Every change recorded for a campaign, oldest first: (change, how it ended).
async fn changes(e: &Engine, customer: &str, id: i64) -> Vec<(CampaignChange, ChangeState)> {
    let view = FactsView::load(e).await.unwrap();
    let Some(entry) = view.campaigns.get(&format!("{customer}/{id}")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entry
        .state
        .changes()
        .map(|(_, r)| (r.requested_at, r.change.clone(), r.state.clone()))
        .collect();
    out.sort_by_key(|(at, _, _)| *at);
    out.into_iter().map(|(_, c, s)| (c, s)).collect()
}

/// The `amountMicros` / `targetCpaMicros` values the fake was sent, in order.
fn amounts_sent(fake: &FakeGoogleAds) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with(":mutate"))
        .filter_map(|r| {
            let update = &r.body["operations"][0]["update"];
            update["amountMicros"]
                .as_str()
                .or(update["targetCpa"]["targetCpaMicros"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

fn budget(micros: i64) -> CampaignChange {
    CampaignChange::SetBudget {
        daily_budget_micros: micros,
    }
}

fn is_applied(state: &ChangeState) -> bool {
    matches!(state, ChangeState::Applied { .. })
}

#[tokio::test]
async fn budgets_of_33_333333_eur_and_1234_5_jpy_are_sent_as_33_33_and_1234() {
    let mut cpa = campaign(JP + 1, "JP CPA");
    cpa.bidding = FakeBidding::TargetCpa {
        target_cpa_micros: 2_000_000_000,
    };
    let mut w = world(
        AMOUNTS,
        &[
            (EUR_CUSTOMER, campaign(NL, "NL Generic")),
            (JPY_CUSTOMER, campaign(JP, "JP Generic")),
            (JPY_CUSTOMER, cpa),
        ],
    )
    .await;
    let t1 = start() + Duration::minutes(1);
    capacity(&w.e, 10, t1).await;
    w.d.step(t1).await.unwrap();

    // Google took them: every amount is a multiple of its currency's unit.
    let mut sent = amounts_sent(&w.fake);
    sent.sort();
    assert_eq!(sent, vec!["1234000000", "1235000000", "33330000"]);
    let nl = w.fake.campaign(EUR_CUSTOMER, NL).unwrap();
    assert_eq!(nl.budget_amount_micros, 33_330_000, "33.33 EUR, not more");
    let jp = w.fake.campaign(JPY_CUSTOMER, JP).unwrap();
    assert_eq!(jp.budget_amount_micros, 1_234_000_000, "1234 JPY, not more");
    assert_eq!(
        w.fake.campaign(JPY_CUSTOMER, JP + 1).unwrap().bidding,
        FakeBidding::TargetCpa {
            target_cpa_micros: 1_235_000_000
        },
        "a target goes to the nearest yen"
    );

    // The recorded requests hold the values sent, and were applied.
    let nl_changes = changes(&w.e, EUR_CUSTOMER, NL).await;
    assert_eq!(nl_changes.len(), 1, "{nl_changes:?}");
    assert_eq!(nl_changes[0].0, budget(33_330_000));
    assert!(is_applied(&nl_changes[0].1), "{nl_changes:?}");
    let jp_changes = changes(&w.e, JPY_CUSTOMER, JP).await;
    assert_eq!(jp_changes.len(), 1, "{jp_changes:?}");
    assert_eq!(jp_changes[0].0, budget(1_234_000_000));
    assert!(is_applied(&jp_changes[0].1));
    let cpa_changes = changes(&w.e, JPY_CUSTOMER, JP + 1).await;
    assert_eq!(
        cpa_changes[0].0,
        CampaignChange::SetBidTarget {
            bidding: Bidding::TargetCpa {
                target_cpa_micros: 1_235_000_000
            }
        }
    );

    // The rule keeps asking for 33.333333: fitted, that is the budget already set, so
    // nothing more is requested or sent, long after the cooldown.
    for m in [2, 45, 90] {
        let t = start() + Duration::minutes(m);
        capacity(&w.e, 10 + m as u32, t).await;
        w.d.step(t).await.unwrap();
    }
    assert_eq!(w.fake.mutation_count(), 3);
    assert_eq!(changes(&w.e, EUR_CUSTOMER, NL).await.len(), 1);
    assert_eq!(changes(&w.e, JPY_CUSTOMER, JP).await.len(), 1);

    // The snapshots the daemon recorded carry each customer's currency.
    let view = FactsView::load(&w.e).await.unwrap();
    let currency = |customer: &str, id: i64| {
        view.campaigns[&format!("{customer}/{id}")]
            .state
            .snapshot()
            .and_then(|s| s.currency.clone())
    };
    assert_eq!(
        currency(EUR_CUSTOMER, NL),
        Some(Currency::new("EUR", 10_000).unwrap())
    );
    assert_eq!(
        currency(JPY_CUSTOMER, JP),
        Some(Currency::new("JPY", 1_000_000).unwrap())
    );
    // Read once per customer: two searches each, however many steps.
    let currency_reads = w
        .fake
        .requests()
        .iter()
        .filter(|r| {
            r.body["query"]
                .as_str()
                .is_some_and(|q| q.contains("currency"))
        })
        .count();
    assert_eq!(currency_reads, 4);
    conforms(&w.fake);
}

#[tokio::test]
async fn an_amount_off_the_unit_is_refused_unsent() {
    let w = world(AMOUNTS, &[(JPY_CUSTOMER, campaign(JP, "JP Generic"))]).await;
    let before = w.fake.requests().len();
    let err = w
        .adapter
        .apply(JPY_CUSTOMER, &JP.to_string(), &budget(1_234_500_000))
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message.contains(
            "1234500000 micros is not a multiple of the JPY minimum unit (1000000 micros)"
        ),
        "{}",
        err.message
    );
    let err = w
        .adapter
        .apply(
            JPY_CUSTOMER,
            &JP.to_string(),
            &CampaignChange::SetBidTarget {
                bidding: Bidding::TargetCpa {
                    target_cpa_micros: 1_500_000,
                },
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.message.contains("not sent to Google"),
        "{}",
        err.message
    );
    assert!(
        w.fake.requests()[before..]
            .iter()
            .all(|r| !r.path.ends_with(":mutate")),
        "nothing was sent"
    );
    // A multiple goes through.
    w.adapter
        .apply(JPY_CUSTOMER, &JP.to_string(), &budget(1_234_000_000))
        .await
        .unwrap();
    assert_eq!(
        w.fake
            .campaign(JPY_CUSTOMER, JP)
            .unwrap()
            .budget_amount_micros,
        1_234_000_000
    );
    let customer = CustomerId::parse(JPY_CUSTOMER).unwrap();
    assert_eq!(
        w.adapter.currency(&customer).await.unwrap(),
        Currency::new("JPY", 1_000_000).unwrap()
    );
}

#[tokio::test]
async fn a_change_google_refuses_leaves_the_cooldown_untouched() {
    let mut nl = campaign(NL, "NL Generic");
    nl.bidding = FakeBidding::TargetRoas { target_roas: 3.5 };
    let mut w = world(ROAS, &[(EUR_CUSTOMER, nl)]).await;
    let roas_sent = |fake: &FakeGoogleAds| -> Vec<f64> {
        fake.requests()
            .iter()
            .filter(|r| r.path.ends_with("campaigns:mutate"))
            .filter_map(|r| r.body["operations"][0]["update"]["targetRoas"]["targetRoas"].as_f64())
            .collect()
    };

    // Swamped: the rule asks for a target ROAS of 2000, which Google refuses (above 1000).
    let t1 = start() + Duration::minutes(1);
    capacity(&w.e, 35, t1).await;
    w.d.step(t1).await.unwrap();
    assert_eq!(roas_sent(&w.fake), vec![2000.0]);
    assert_eq!(w.fake.mutation_count(), 0);
    let recorded = changes(&w.e, EUR_CUSTOMER, NL).await;
    assert!(
        matches!(&recorded[0].1, ChangeState::Failed { retryable: false, error, .. } if error.contains("TOO_HIGH")),
        "{recorded:?}"
    );

    // Still swamped a minute later: the same refused change is not sent again.
    let t2 = start() + Duration::minutes(2);
    capacity(&w.e, 36, t2).await;
    w.d.step(t2).await.unwrap();
    assert_eq!(roas_sent(&w.fake), vec![2000.0], "no hammering");

    // Room again, well within the 30-minute cooldown of the refused request: the refusal
    // started no cooldown, so the new target goes at once.
    let t3 = start() + Duration::minutes(3);
    capacity(&w.e, 5, t3).await;
    w.d.step(t3).await.unwrap();
    assert_eq!(roas_sent(&w.fake), vec![2000.0, 4.0]);
    assert_eq!(
        w.fake.campaign(EUR_CUSTOMER, NL).unwrap().bidding,
        FakeBidding::TargetRoas { target_roas: 4.0 }
    );

    // An applied change does start the cooldown: busy, the next target waits for its end.
    let t4 = start() + Duration::minutes(4);
    capacity(&w.e, 25, t4).await;
    w.d.step(t4).await.unwrap();
    assert_eq!(roas_sent(&w.fake), vec![2000.0, 4.0], "cooling down");
    let t5 = start() + Duration::minutes(34);
    capacity(&w.e, 26, t5).await;
    w.d.step(t5).await.unwrap();
    assert_eq!(roas_sent(&w.fake), vec![2000.0, 4.0, 5.0]);
    let recorded = changes(&w.e, EUR_CUSTOMER, NL).await;
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    assert!(is_applied(&recorded[1].1) && is_applied(&recorded[2].1));
    conforms(&w.fake);
}

/// Every answer of the fake (search rows of customers and currencies, refusals) against the
/// google-ads v26 protos, when `tests/run` has set up the checker.
fn conforms(fake: &FakeGoogleAds) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("captures.jsonl");
    fake.write_captures_jsonl(&path).unwrap();
    leadorch_fakes::conformance::check_captures(&path);
}
