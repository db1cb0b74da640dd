//! The HTTP client every connector builds from its `timeout` setting, alike for all: the
//! timeout (10 s unless set), and leadorch's `User-Agent`.

use std::time::Duration;

/// The `timeout` of settings `key` (`capacity.sources.<name>`): a duration above 0 (`10s`),
/// 10 seconds when left out.
pub(crate) fn timeout(key: &str, setting: Option<&str>) -> Result<Duration, String> {
    match setting {
        Some(t) => leadorch_config::parse_duration(t)
            .ok()
            .and_then(|d| d.to_std().ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{key}.timeout: {t:?} is not a duration above 0 (like 10s)")),
        None => Ok(Duration::from_secs(10)),
    }
}

/// A client builder with `timeout` and leadorch's `User-Agent`.
pub(crate) fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("leadorch/", env!("CARGO_PKG_VERSION")))
}
