//! Retry policy (jittered exponential backoff) and the per-customer rate limiter.
//!
//! Both sleep with `tokio::time`, so tests can pause and advance the clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::error::AdsError;

/// How failed calls are retried.
///
/// A retryable failure ([`AdsError::is_retryable`]) is tried again after the server's
/// `retryDelay` when it sent one, else after `base * 2^(attempt-1)` capped at `cap`
/// (with jitter: a random duration between half and all of that). A server delay longer
/// than `cap` is not waited for: the error is returned so the caller can reschedule.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total tries of one call, the first included (default 5). `1` disables retries.
    pub max_attempts: u32,
    /// First backoff delay (default 1 s).
    pub base: Duration,
    /// Longest delay waited between two tries (default 60 s).
    pub cap: Duration,
    /// Randomise backoff delays (default `true`), so clients do not retry in lockstep.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all (one attempt).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Checks the policy is usable.
    pub fn validate(&self) -> Result<(), AdsError> {
        if self.max_attempts == 0 {
            return Err(AdsError::Invalid(
                "retry max_attempts must be at least 1".into(),
            ));
        }
        if self.base > self.cap {
            return Err(AdsError::Invalid("retry base must not exceed cap".into()));
        }
        Ok(())
    }

    /// The backoff before try number `attempt + 1`, after `attempt` (1-based) failed.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let full = self
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.cap)
            .min(self.cap);
        if self.jitter && !full.is_zero() {
            let half = full / 2;
            let extra = rand::thread_rng().gen_range(0..=(full - half).as_micros() as u64);
            half + Duration::from_micros(extra)
        } else {
            full
        }
    }

    /// The delay before retrying after `err` on try `attempt`, or `None` when the call
    /// must not be retried (not retryable, out of tries, or a server delay beyond `cap`).
    pub fn delay_for(&self, err: &AdsError, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts || !err.is_retryable() {
            return None;
        }
        match err.retry_delay() {
            Some(d) if d > self.cap => None,
            Some(d) => Some(d),
            None => Some(self.backoff(attempt)),
        }
    }
}

/// A token bucket per customer id (GCRA form): `per_second` requests per second with a
/// burst of `per_second`. Waiting callers reserve their slot, then sleep outside the lock.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: u32,
    next: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `key` may send one more request. Returns the time waited.
    pub(crate) async fn acquire(&self, key: &str) -> Duration {
        if self.per_second == 0 {
            return Duration::ZERO;
        }
        let interval = Duration::from_secs(1) / self.per_second;
        let tolerance = interval * (self.per_second - 1);
        let wait = {
            let mut map = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            // Theoretical arrival time of the next request.
            let tat = map.get(key).copied().unwrap_or(now).max(now);
            map.insert(key.to_owned(), tat + interval);
            match tat.checked_sub(tolerance) {
                Some(allowed_at) => allowed_at.saturating_duration_since(now),
                None => Duration::ZERO,
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy(false);
        let got: Vec<_> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff(200), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let p = policy(true);
        for attempt in 1..=6 {
            let full = policy(false).backoff(attempt);
            for _ in 0..50 {
                let d = p.backoff(attempt);
                assert!(
                    d >= full / 2 && d <= full,
                    "{d:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn delay_honours_server_delay_and_limits() {
        let p = policy(false);
        let rate = AdsError::Quota {
            daily: false,
            retry_delay: Some(Duration::from_millis(50)),
            request_id: None,
        };
        assert_eq!(p.delay_for(&rate, 1), Some(Duration::from_millis(50)));
        assert_eq!(p.delay_for(&rate, 5), None, "out of tries");
        let long = AdsError::Quota {
            daily: false,
            retry_delay: Some(Duration::from_secs(30)),
            request_id: None,
        };
        assert_eq!(p.delay_for(&long, 1), None, "beyond the cap");
        let daily = AdsError::Quota {
            daily: true,
            retry_delay: None,
            request_id: None,
        };
        assert_eq!(p.delay_for(&daily, 1), None);
        let transport = AdsError::Transport {
            message: "reset".into(),
            timed_out: false,
        };
        assert_eq!(p.delay_for(&transport, 2), Some(Duration::from_millis(200)));
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_allows_a_burst_then_spaces_requests_per_customer() {
        let limiter = RateLimiter::new(5);
        for _ in 0..5 {
            assert_eq!(limiter.acquire("1").await, Duration::ZERO);
        }
        // The sixth request waits one interval (200 ms); another customer does not.
        assert_eq!(limiter.acquire("1").await, Duration::from_millis(200));
        assert_eq!(limiter.acquire("2").await, Duration::ZERO);
        let start = Instant::now();
        limiter.acquire("1").await;
        assert_eq!(start.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_limiter_never_waits() {
        let limiter = RateLimiter::new(0);
        for _ in 0..100 {
            assert_eq!(limiter.acquire("1").await, Duration::ZERO);
        }
    }
}
