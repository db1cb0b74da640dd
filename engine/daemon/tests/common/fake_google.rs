//! The Google Ads client's settings for the fake server, shared by the test files that drive
//! the daemon against it (each declares this module itself).

use std::time::Duration;

use leadorch_fakes::FakeGoogleAds;
use leadorch_google::{GoogleAdsConfig, RetryPolicy};

/// The client's settings for the fake: quick retries, no rate limit.
pub fn ads_config(fake: &FakeGoogleAds) -> GoogleAdsConfig {
    GoogleAdsConfig {
        base_url: fake.base_url().parse().unwrap(),
        retry: RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
            jitter: true,
        },
        request_timeout: Duration::from_secs(2),
        // The per-customer limiter (5 requests/s by default) would only slow the test down.
        ops_per_second_per_customer: 1000,
        ..GoogleAdsConfig::default()
    }
}
