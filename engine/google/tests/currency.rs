//! The account's currency read from the fake Google Ads server over real HTTP
//! (`customer.currency_code`, then that currency's `currency_constant.billable_unit_micros`),
//! and the amounts Google refuses in it, as the client reports them.

use std::sync::Arc;
use std::time::Duration;

use leadorch_fakes::{Bidding, FakeCampaign, FakeGoogleAds, FakeOAuth};
use leadorch_google::{
    memory_sink, AccountCurrency, AdsError, BiddingTarget, CustomerId, GoogleAdsClient,
    GoogleAdsConfig, RetryPolicy, StaticToken,
};

const CID: &str = "1234567890";

async fn fake() -> (FakeOAuth, FakeGoogleAds, GoogleAdsClient) {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer(CID, None);
    let mut brand = FakeCampaign::new(111, "Brand");
    brand.bidding = Bidding::TargetCpa {
        target_cpa_micros: 2_000_000,
    };
    ads.add_campaign(CID, brand);
    let config = GoogleAdsConfig {
        base_url: ads.base_url().parse().unwrap(),
        retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(10),
            jitter: false,
        },
        ops_per_second_per_customer: 1000,
        ..GoogleAdsConfig::default()
    };
    let client = GoogleAdsClient::new(
        config,
        Arc::new(StaticToken(oauth.issue_tokens().access_token)),
    )
    .unwrap();
    (oauth, ads, client)
}

fn customer() -> CustomerId {
    CustomerId::parse(CID).unwrap()
}

/// The one error detail of a refused request: (family, code, field path).
fn refusal(e: AdsError) -> (String, String, Option<String>) {
    match e {
        AdsError::Request { mut errors, .. } if errors.len() == 1 => {
            let d = errors.remove(0);
            (d.family, d.code, d.field_path)
        }
        other => panic!("expected one request error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_currency_and_its_unit_are_read_from_google() {
    let (_oauth, ads, client) = fake().await;
    let (sink, captured) = memory_sink();
    let client = client.with_capture(sink);
    assert_eq!(
        client.currency(&customer()).await.unwrap(),
        AccountCurrency {
            code: "EUR".into(),
            billable_unit_micros: 10_000
        }
    );
    ads.set_currency(CID, "JPY");
    assert_eq!(
        client.currency(&customer()).await.unwrap(),
        AccountCurrency {
            code: "JPY".into(),
            billable_unit_micros: 1_000_000
        }
    );
    let queries: Vec<String> = ads
        .requests()
        .iter()
        .filter_map(|r| r.body["query"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        queries[..2],
        [
            "SELECT customer.currency_code FROM customer".to_owned(),
            "SELECT currency_constant.code, currency_constant.billable_unit_micros \
             FROM currency_constant WHERE currency_constant.code = 'EUR'"
                .to_owned()
        ]
    );
    // Every body exchanged conforms to Google's schema (when the checker is installed).
    let lines: String = captured
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.to_json_line() + "\n")
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("captures.jsonl");
    std::fs::write(&path, lines).unwrap();
    leadorch_fakes::conformance::check_captures(&path);
}

#[tokio::test]
async fn amounts_off_the_unit_come_back_as_googles_refusals() {
    let (_oauth, ads, client) = fake().await;
    let budget = format!("customers/{CID}/campaignBudgets/1110");
    let c = customer();

    let e = client
        .set_budget_amount(&c, &budget, 33_333_333, false)
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "a refusal is final: {e}");
    assert_eq!(
        refusal(e),
        (
            "campaignBudgetError".into(),
            "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT".into(),
            Some("operations[0].update.amount_micros".into())
        )
    );
    let e = client
        .set_bidding_target(
            &c,
            111,
            BiddingTarget::TargetCpa { micros: 1_234_567 },
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(
        refusal(e),
        (
            "biddingError".into(),
            "BID_TOO_MANY_FRACTIONAL_DIGITS".into(),
            Some("operations[0].update.target_cpa.target_cpa_micros".into())
        )
    );
    // Validate-only is checked the same way.
    let e = client
        .set_budget_amount(&c, &budget, 33_333_333, true)
        .await
        .unwrap_err();
    assert_eq!(refusal(e).1, "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT");
    assert_eq!(ads.mutation_count(), 0);

    // 1234.5 yen is refused in JPY; 1234 is taken.
    ads.set_currency(CID, "JPY");
    let e = client
        .set_budget_amount(&c, &budget, 1_234_500_000, false)
        .await
        .unwrap_err();
    assert_eq!(refusal(e).1, "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT");
    client
        .set_budget_amount(&c, &budget, 1_234_000_000, false)
        .await
        .unwrap();
    assert_eq!(
        ads.campaign(CID, 111).unwrap().budget_amount_micros,
        1_234_000_000
    );
    assert_eq!(ads.mutation_count(), 1);
}

#[tokio::test]
async fn a_currency_code_is_checked_before_it_goes_into_a_query() {
    assert!(leadorch_google::model::check_currency_code("EUR").is_ok());
    for bad in ["eur", "EU", "EURO", "E'R", ""] {
        assert!(
            matches!(
                leadorch_google::model::check_currency_code(bad),
                Err(AdsError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
}
