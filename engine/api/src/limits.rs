//! Rate limits per API key (ADR 0022 decision 13): a GCRA limiter (governor) per server
//! process, keyed by the key's id, and the IETF `RateLimit` / `RateLimit-Policy` fields
//! (draft-ietf-httpapi-ratelimit-headers) on every answer to a key, so a client can slow down
//! before it is refused. Beyond the limit a request is answered `429` with `Retry-After` and
//! does nothing. Limits are per process: two servers behind one balancer allow twice the rate,
//! and the policy's name says so (`per-key-per-process`).

use std::num::NonZeroU32;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::Problem;

/// The policy's name in the fields.
const POLICY: &str = "per-key-per-process";

/// The `RateLimit-Policy` field.
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The `RateLimit` field.
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The limits of one server process: one quota every key gets, and the keys configured with
/// their own (`[api.key_limits]`).
#[derive(Debug)]
pub struct RateLimits {
    /// Every other key's quota (`None`: no limit).
    default: Option<Bucket>,
    /// Keys with their own quota (`None`: no limit for that key).
    keys: std::collections::HashMap<String, Option<Bucket>>,
}

/// One quota and the keys' states under it.
#[derive(Debug)]
struct Bucket {
    limiter: Limiter,
    /// The time one request's quota takes to come back.
    period: std::time::Duration,
    burst: u32,
}

/// What a request may do, and the fields its answer carries.
#[derive(Debug)]
pub enum Verdict {
    /// Go on; add these fields to the answer.
    Allowed(Vec<(HeaderName, HeaderValue)>),
    /// Refused: this `429`.
    Refused(Problem),
}

impl RateLimits {
    /// `per_second` on average with bursts of `burst` for every key; `None` when
    /// `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<RateLimits> {
        Some(RateLimits {
            default: Some(Bucket::new(per_second, burst)?),
            keys: Default::default(),
        })
    }

    /// One request per `period` on average, bursts of `burst`, for every key.
    pub fn with_period(period: std::time::Duration, burst: u32) -> Option<RateLimits> {
        Some(RateLimits {
            default: Some(Bucket::with_period(period, burst)?),
            keys: Default::default(),
        })
    }

    /// The limits `[api]` configures: `requests_per_second`/`burst` for every key, and
    /// `key_limits` for the keys named there (by key id; a rate of 0 lifts that key's limit).
    /// `None` when no key has a limit.
    pub fn from_settings(api: &leadorch_config::ApiSettings) -> Option<RateLimits> {
        let default = Bucket::new(api.requests_per_second, api.burst);
        let keys: std::collections::HashMap<String, Option<Bucket>> = api
            .key_limits
            .iter()
            .map(|(id, l)| (id.clone(), Bucket::new(l.requests_per_second, l.burst)))
            .collect();
        if default.is_none() && keys.values().all(Option::is_none) {
            return None;
        }
        Some(RateLimits { default, keys })
    }

    /// Takes one request of `key` from its quota.
    pub fn check(&self, key: &str) -> Verdict {
        match self.keys.get(key).unwrap_or(&self.default) {
            Some(bucket) => bucket.check(key),
            None => Verdict::Allowed(Vec::new()),
        }
    }

    /// Forgets keys whose quota is whole again (call now and then: the table grows with the
    /// number of keys seen).
    pub fn shrink(&self) {
        for bucket in self.keys.values().chain([&self.default]).flatten() {
            bucket.limiter.retain_recent();
        }
    }
}

impl Bucket {
    fn new(per_second: u32, burst: u32) -> Option<Bucket> {
        NonZeroU32::new(per_second)?;
        Bucket::with_period(std::time::Duration::from_secs(1) / per_second, burst)
    }

    fn with_period(period: std::time::Duration, burst: u32) -> Option<Bucket> {
        let burst_n = NonZeroU32::new(burst.max(1))?;
        let quota = Quota::with_period(period)?.allow_burst(burst_n);
        Some(Bucket {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            period,
            burst: burst.max(1),
        })
    }

    /// Whole seconds (rounded up) that `n` requests' quota takes to come back.
    fn seconds_for(&self, n: u32) -> u64 {
        let d = self.period * n;
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }

    /// Requests a second on average (for messages), at least "1".
    fn rate_text(&self) -> String {
        let per_second = 1.0 / self.period.as_secs_f64();
        if per_second >= 1.0 {
            format!("{per_second:.0} requests a second")
        } else {
            format!("one request every {} s", self.seconds_for(1))
        }
    }

    /// `RateLimit-Policy: "per-key-per-process";q=BURST;w=SECONDS`: the quota is the burst,
    /// refilled over the time the rate takes to earn it.
    fn policy(&self) -> HeaderValue {
        let window = self.seconds_for(self.burst).max(1);
        HeaderValue::from_str(&format!("\"{POLICY}\";q={};w={window}", self.burst))
            .unwrap_or(HeaderValue::from_static("\"per-key-per-process\""))
    }

    /// Takes one request of `key` from its quota.
    fn check(&self, key: &str) -> Verdict {
        match self.limiter.check_key(&key.to_string()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let used = self.burst.saturating_sub(remaining);
                // Seconds until the quota is whole again.
                let reset = self.seconds_for(used);
                let field = format!("\"{POLICY}\";r={remaining};t={reset}");
                Verdict::Allowed(vec![
                    (RATELIMIT_POLICY.clone(), self.policy()),
                    (
                        RATELIMIT.clone(),
                        HeaderValue::from_str(&field).unwrap_or(HeaderValue::from_static("")),
                    ),
                ])
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let seconds = seconds.max(1);
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    format!(
                        "this key made more than {} (bursts of {}) to this server; nothing was done; retry after {seconds} s",
                        self.rate_text(), self.burst
                    ),
                );
                let retry = HeaderValue::from(seconds);
                p.headers.push((header::RETRY_AFTER, retry));
                p.headers.push((RATELIMIT_POLICY.clone(), self.policy()));
                if let Ok(v) = HeaderValue::from_str(&format!("\"{POLICY}\";r=0;t={seconds}")) {
                    p.headers.push((RATELIMIT.clone(), v));
                }
                Verdict::Refused(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_a_429_while_another_key_is_untouched() {
        // One request an hour: nothing refills while the test runs, however slow the machine.
        let limits = RateLimits::with_period(std::time::Duration::from_secs(3600), 3).unwrap();
        for left in [2, 1, 0] {
            match limits.check("a") {
                Verdict::Allowed(fields) => {
                    let rl = fields
                        .iter()
                        .find(|(n, _)| n == RATELIMIT)
                        .map(|(_, v)| v.to_str().unwrap().to_string())
                        .unwrap();
                    assert!(rl.contains(&format!("r={left};")), "{rl}");
                    let policy = fields.iter().find(|(n, _)| n == RATELIMIT_POLICY).unwrap();
                    assert_eq!(policy.1, "\"per-key-per-process\";q=3;w=10800");
                }
                Verdict::Refused(p) => panic!("refused early: {p:?}"),
            }
        }
        match limits.check("a") {
            Verdict::Refused(p) => {
                assert_eq!(p.status, 429);
                let retry = p
                    .headers
                    .iter()
                    .find(|(n, _)| n == header::RETRY_AFTER)
                    .unwrap();
                let seconds: u64 = retry.1.to_str().unwrap().parse().unwrap();
                assert!((3500..=3600).contains(&seconds), "{seconds}");
            }
            Verdict::Allowed(_) => panic!("the fourth request at once was allowed"),
        }
        assert!(matches!(limits.check("b"), Verdict::Allowed(_)));
        assert!(RateLimits::new(0, 10).is_none(), "0: no limit");
        let fast = Bucket::new(100, 200).unwrap();
        assert_eq!(fast.policy(), "\"per-key-per-process\";q=200;w=2");
    }

    #[test]
    fn a_key_configured_with_its_own_limit_gets_it_and_the_others_the_default() {
        let mut api = leadorch_config::ApiSettings {
            requests_per_second: 1,
            burst: 1,
            ..Default::default()
        };
        api.key_limits.insert(
            "key_big".into(),
            leadorch_config::KeyLimit {
                requests_per_second: 1,
                burst: 5,
            },
        );
        api.key_limits.insert(
            "key_free".into(),
            leadorch_config::KeyLimit {
                requests_per_second: 0,
                burst: 0,
            },
        );
        let limits = RateLimits::from_settings(&api).unwrap();
        let allowed = |key: &str| {
            (0..10)
                .take_while(|_| matches!(limits.check(key), Verdict::Allowed(_)))
                .count()
        };
        assert_eq!(allowed("key_other"), 1, "the default burst");
        assert_eq!(allowed("key_big"), 5, "its own burst");
        assert_eq!(allowed("key_free"), 10, "no limit for it");
        match limits.check("key_free") {
            Verdict::Allowed(fields) => assert!(fields.is_empty(), "no limit, no fields"),
            Verdict::Refused(_) => panic!("refused"),
        }
        // No limit anywhere: nothing to check.
        let none = leadorch_config::ApiSettings {
            requests_per_second: 0,
            ..Default::default()
        };
        assert!(RateLimits::from_settings(&none).is_none());
    }
}
