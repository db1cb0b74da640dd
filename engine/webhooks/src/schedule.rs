//! When to try again, and what an answer means.
//!
//! The Standard Webhooks schedule: an attempt at once, then after 5 s, 5 min, 30 min, 2 h,
//! 5 h, 10 h, 14 h, 20 h and 24 h (about three days in all), each delay varied by a jitter so
//! that endpoints failing together are not retried together. A `Retry-After` later than the
//! scheduled delay wins. Only a 2xx answer delivers; a `410 Gone` disables the endpoint; any
//! other answer, a timeout or a refused connection is retried; the schedule running out gives
//! the delivery up (and disables the endpoint). The schedule is a value, so tests run a short
//! one and never wait hours.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// The delays of the Standard Webhooks schedule, the first attempt's (zero) included.
pub const STANDARD_DELAYS: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The longest `Retry-After` honoured (a day): a receiver cannot park a delivery for ever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A retry schedule: the delay before each attempt and the jitter applied to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    delays: Vec<Duration>,
    jitter: f64,
}

/// A schedule that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    /// No delays at all.
    #[error("a retry schedule needs at least one attempt")]
    Empty,
    /// The jitter is not a fraction in [0, 1).
    #[error("the retry jitter must be at least 0 and below 1, not {0}")]
    Jitter(String),
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule::standard()
    }
}

impl Schedule {
    /// The Standard Webhooks schedule with ±10 % jitter.
    pub fn standard() -> Schedule {
        Schedule {
            delays: STANDARD_DELAYS.to_vec(),
            jitter: 0.1,
        }
    }

    /// A schedule of `delays` (the first is the first attempt's, usually zero) with a jitter of
    /// ±`jitter` of each delay.
    pub fn new(delays: Vec<Duration>, jitter: f64) -> Result<Schedule, ScheduleError> {
        if delays.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if !(0.0..1.0).contains(&jitter) {
            return Err(ScheduleError::Jitter(jitter.to_string()));
        }
        Ok(Schedule { delays, jitter })
    }

    /// How many attempts a delivery gets.
    pub fn attempts(&self) -> usize {
        self.delays.len()
    }

    /// The delay before the next attempt once `made` attempts have failed, `None` when the
    /// schedule is used up (the delivery is given up). `retry_after` is the last answer's, and
    /// wins when later than the jittered delay (capped at [`MAX_RETRY_AFTER`]).
    pub fn next_delay(
        &self,
        made: usize,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        let base = *self.delays.get(made)?;
        let delay = if self.jitter > 0.0 && !base.is_zero() {
            let factor = 1.0 + rng.gen_range(-self.jitter..=self.jitter);
            base.mul_f64(factor)
        } else {
            base
        };
        Some(match retry_after {
            Some(ra) if ra > delay => ra.min(MAX_RETRY_AFTER).max(delay),
            _ => delay,
        })
    }
}

/// What an attempt's answer means for its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx: delivered, never sent again.
    Delivered,
    /// A 410: the receiver says the endpoint is gone; it is disabled.
    Gone,
    /// Anything else (other statuses, timeouts, refused connections): try again later.
    Retry,
}

/// The verdict of an HTTP status.
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        _ => Verdict::Retry,
    }
}

/// Reads `Retry-After`: delay-seconds, or an HTTP date taken relative to `now`. A date in
/// the past is no delay; anything unreadable is ignored.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn the_standard_schedule_without_jitter_is_the_specs() {
        let s = Schedule::new(STANDARD_DELAYS.to_vec(), 0.0).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let all: Vec<u64> = (0..s.attempts())
            .map(|n| s.next_delay(n, None, &mut rng).unwrap().as_secs())
            .collect();
        assert_eq!(
            all,
            [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
        );
        assert_eq!(s.next_delay(10, None, &mut rng), None);
        let total: u64 = all.iter().sum();
        assert!(
            (2..4).contains(&(total / 86400)),
            "about three days: {total}"
        );
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_varies() {
        let s = Schedule::standard();
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = s.next_delay(3, None, &mut rng).unwrap();
            assert!(
                d >= Duration::from_secs(1620) && d <= Duration::from_secs(1980),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 1);
        assert_eq!(s.next_delay(0, None, &mut rng), Some(Duration::ZERO));
    }

    #[test]
    fn a_later_retry_after_wins_and_an_earlier_one_does_not() {
        let s = Schedule::new(STANDARD_DELAYS.to_vec(), 0.0).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let later = Some(Duration::from_secs(60));
        assert_eq!(
            s.next_delay(1, later, &mut rng),
            Some(Duration::from_secs(60))
        );
        let earlier = Some(Duration::from_secs(1));
        assert_eq!(
            s.next_delay(1, earlier, &mut rng),
            Some(Duration::from_secs(5))
        );
        let huge = Some(Duration::from_secs(10 * 86400));
        assert_eq!(s.next_delay(1, huge, &mut rng), Some(MAX_RETRY_AFTER));
        // A Retry-After never extends a used-up schedule.
        assert_eq!(s.next_delay(10, later, &mut rng), None);
    }

    #[test]
    fn answers_have_verdicts() {
        assert_eq!(verdict(200), Verdict::Delivered);
        assert_eq!(verdict(204), Verdict::Delivered);
        assert_eq!(verdict(299), Verdict::Delivered);
        assert_eq!(verdict(410), Verdict::Gone);
        for s in [100, 301, 302, 400, 404, 429, 500, 502, 503, 504] {
            assert_eq!(verdict(s), Verdict::Retry, "{s}");
        }
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn bad_schedules_are_named() {
        assert_eq!(Schedule::new(vec![], 0.1), Err(ScheduleError::Empty));
        assert_eq!(
            Schedule::new(vec![Duration::ZERO], 1.5),
            Err(ScheduleError::Jitter("1.5".into()))
        );
    }
}
