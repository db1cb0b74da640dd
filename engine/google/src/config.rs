//! Client configuration and customer ids.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::AdsError;
use crate::retry::RetryPolicy;

/// Environment variable that overrides [`GoogleAdsConfig::base_url`].
pub const ENV_BASE_URL: &str = "LEADORCH_GOOGLE_ADS_BASE_URL";
/// Environment variable that overrides [`GoogleAdsConfig::api_version`].
pub const ENV_API_VERSION: &str = "LEADORCH_GOOGLE_ADS_API_VERSION";

/// Where and how the client talks to Google Ads.
#[derive(Debug, Clone)]
pub struct GoogleAdsConfig {
    /// Root of the REST API (default `https://googleads.googleapis.com`); a local fake in tests.
    pub base_url: Url,
    /// API version path segment, `v` followed by digits (default `v26`).
    pub api_version: String,
    /// Sent as the `developer-token` header only when set (Google made it optional).
    pub developer_token: Option<String>,
    /// Manager (MCC) account the calls go through, sent as `login-customer-id`.
    /// Accepts `123-456-7890` or `1234567890`; normalised to digits by the client.
    pub login_customer_id: Option<String>,
    /// Timeout of one HTTP request (connect to last byte), default 30 s.
    pub request_timeout: Duration,
    /// When and how failed calls are retried.
    pub retry: RetryPolicy,
    /// Requests per second allowed per customer id (token bucket, burst of the same size);
    /// `0` disables the limiter. Default 5.
    pub ops_per_second_per_customer: u32,
    /// Send `partialFailure: true` with mutations, so valid operations succeed and failures
    /// come back in [`crate::MutateOutcome::partial_failures`]. Default `false` (atomic).
    pub partial_failure: bool,
}

impl Default for GoogleAdsConfig {
    fn default() -> Self {
        Self {
            base_url: Url::parse("https://googleads.googleapis.com").expect("static URL parses"),
            api_version: "v26".to_owned(),
            developer_token: None,
            login_customer_id: None,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            ops_per_second_per_customer: 5,
            partial_failure: false,
        }
    }
}

impl GoogleAdsConfig {
    /// Applies `LEADORCH_GOOGLE_ADS_BASE_URL` and `LEADORCH_GOOGLE_ADS_API_VERSION` when set.
    pub fn from_env_overrides(self) -> Result<Self, AdsError> {
        self.with_overrides_from(|name| std::env::var(name).ok())
    }

    /// Same as [`Self::from_env_overrides`] with an explicit lookup (for tests and tools).
    pub fn with_overrides_from(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, AdsError> {
        if let Some(raw) = lookup(ENV_BASE_URL).filter(|v| !v.trim().is_empty()) {
            self.base_url = Url::parse(raw.trim())
                .map_err(|e| AdsError::Invalid(format!("{ENV_BASE_URL} is not a URL: {e}")))?;
        }
        if let Some(raw) = lookup(ENV_API_VERSION).filter(|v| !v.trim().is_empty()) {
            self.api_version = raw.trim().to_owned();
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks the fields a request depends on.
    pub fn validate(&self) -> Result<(), AdsError> {
        if !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(AdsError::Invalid(format!(
                "base URL must be http or https, found scheme {:?}",
                self.base_url.scheme()
            )));
        }
        let v = &self.api_version;
        if v.len() < 2 || !v.starts_with('v') || !v[1..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(AdsError::Invalid(format!(
                "API version must look like v26, found {v:?}"
            )));
        }
        if let Some(id) = &self.login_customer_id {
            CustomerId::parse(id)?;
        }
        if self.request_timeout.is_zero() {
            return Err(AdsError::Invalid("request timeout must be positive".into()));
        }
        self.retry.validate()
    }
}

/// A Google Ads customer id: ten digits, without dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(String);

impl CustomerId {
    /// Accepts `123-456-7890` or `1234567890` (surrounding spaces ignored); anything else
    /// (other lengths, letters, misplaced dashes) is [`AdsError::Invalid`].
    pub fn parse(raw: &str) -> Result<Self, AdsError> {
        let s = raw.trim();
        let b = s.as_bytes();
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        let ok = (b.len() == 10 && digits(b))
            || (b.len() == 12
                && b[3] == b'-'
                && b[7] == b'-'
                && digits(&b[..3])
                && digits(&b[4..7])
                && digits(&b[8..]));
        if !ok {
            return Err(AdsError::Invalid(format!(
                "customer id must be 10 digits, as 1234567890 or 123-456-7890; found {s:?}"
            )));
        }
        Ok(Self(s.replace('-', "")))
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `customers/{id}`.
    pub fn resource_name(&self) -> String {
        format!("customers/{}", self.0)
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CustomerId {
    type Err = AdsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for CustomerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_normalised_to_digits() {
        assert_eq!(
            CustomerId::parse("123-456-7890").unwrap().as_str(),
            "1234567890"
        );
        assert_eq!(
            CustomerId::parse(" 1234567890 ").unwrap().as_str(),
            "1234567890"
        );
        for bad in [
            "",
            "123456789",
            "12345678901",
            "123-4567-890",
            "12a4567890",
            "customers/1234567890",
            "123 456 7890",
            "-1234567890",
        ] {
            let err = CustomerId::parse(bad).unwrap_err();
            assert!(matches!(err, AdsError::Invalid(_)), "{bad:?} accepted");
        }
    }

    #[test]
    fn overrides_apply_and_are_validated() {
        let cfg = GoogleAdsConfig::default()
            .with_overrides_from(|k| match k {
                ENV_BASE_URL => Some("http://127.0.0.1:9999/".into()),
                ENV_API_VERSION => Some("v23".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(cfg.base_url.as_str(), "http://127.0.0.1:9999/");
        assert_eq!(cfg.api_version, "v23");

        let untouched = GoogleAdsConfig::default()
            .with_overrides_from(|_| None)
            .unwrap();
        assert_eq!(
            untouched.base_url.as_str(),
            "https://googleads.googleapis.com/"
        );
        assert_eq!(untouched.api_version, "v26");

        let bad = GoogleAdsConfig::default()
            .with_overrides_from(|k| (k == ENV_API_VERSION).then(|| "26".to_owned()));
        assert!(matches!(bad, Err(AdsError::Invalid(_))));
        let bad_url = GoogleAdsConfig::default()
            .with_overrides_from(|k| (k == ENV_BASE_URL).then(|| "not a url".to_owned()));
        assert!(matches!(bad_url, Err(AdsError::Invalid(_))));
    }

    #[test]
    fn login_customer_id_is_validated() {
        let cfg = GoogleAdsConfig {
            login_customer_id: Some("12-34".into()),
            ..GoogleAdsConfig::default()
        };
        assert!(cfg.validate().is_err());
    }
}
