//! Time travel: which events a view "as of" some point includes (docs/time-travel.md).
//!
//! The log has two clocks. **Event time** is when something happened, the `at` every event
//! carries ([`AnyEvent::at`]); **recorded time** is when the event was written to the log, its
//! `recorded_at`, which never decreases with position. Every command that looks back takes the
//! same two arguments, read by the same parser:
//!
//! - `--as-of TIME` (and `--at` where a command had it): event time, the world as it was at
//!   TIME: only events that happened by then, wherever they are in the log.
//! - `--as-of POSITION` (digits): the log up to that position, whatever its times.
//! - `--known-at TIME`: recorded time, what the log held at TIME: only events written by
//!   then (a position, since recorded time never decreases).
//!
//! Both together are the bitemporal question "what did we know at K about the world at T":
//! events that happened by T and were recorded by K.

use chrono::{DateTime, NaiveDate, Utc};
use leadorch_domain::AnyEvent;
use leadorch_store::EventLog;

use crate::Result;

/// What `--as-of` names: a log position or an event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A log position (digits).
    Position(u64),
    /// An event time.
    Time(DateTime<Utc>),
}

const TIME_EXAMPLES: &str =
    "a date (2026-03-02, midnight UTC) or an RFC 3339 time (2026-03-02T09:30:00Z)";

impl Point {
    /// Reads the argument of `flag` (for the message): digits are a position, anything else
    /// must be a time ([`parse_time`]).
    pub fn parse(flag: &str, s: &str) -> std::result::Result<Point, String> {
        if let Ok(p) = s.trim().parse::<u64>() {
            return Ok(Point::Position(p));
        }
        time(s).map(Point::Time).ok_or_else(|| {
            format!(
                "{flag} {s:?} is neither a position nor a time: give a log position (e.g. 2500), {TIME_EXAMPLES}"
            )
        })
    }
}

/// Reads a time argument of `flag` (one that takes no position: `--known-at`, a backtest's
/// window): RFC 3339 with any offset, or a date (midnight UTC).
pub fn parse_time(flag: &str, s: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Some(t) = time(s) {
        return Ok(t);
    }
    if s.trim().parse::<u64>().is_ok() {
        return Err(format!(
            "{flag} takes a time, not a log position ({s:?}): give {TIME_EXAMPLES}"
        ));
    }
    Err(format!("{flag} {s:?} is not a time: give {TIME_EXAMPLES}"))
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Which events a view includes: those that happened by `happened_by` (event time) and are
/// at or before `until` (a position: the one asked for, or the last one recorded by
/// `known_at`). The default includes everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsOf {
    /// Only events whose `at` is at or before this (`--as-of TIME`).
    pub happened_by: Option<DateTime<Utc>>,
    /// Only events at or before this position (`--as-of POSITION`, or `--known-at`).
    pub until: Option<u64>,
    /// The recorded time asked for (`--known-at`), which `until` was found from.
    pub known_at: Option<DateTime<Utc>>,
    /// The position asked for (`--as-of POSITION`), capped at the head.
    pub position: Option<u64>,
}

impl AsOf {
    /// Resolves `--as-of` and `--known-at` against `log`: a recorded time becomes the last
    /// position recorded by then; a position is capped at the head; with both a position and a
    /// recorded time, the earlier position wins (both are prefixes of the log).
    pub async fn resolve(
        log: &EventLog,
        as_of: Option<Point>,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<AsOf> {
        let mut v = AsOf {
            known_at,
            ..AsOf::default()
        };
        if as_of.is_none() && known_at.is_none() {
            return Ok(v);
        }
        let head = log.head().await?.position;
        match as_of {
            Some(Point::Position(p)) => v.position = Some(p.min(head)),
            Some(Point::Time(t)) => v.happened_by = Some(t),
            None => {}
        }
        let known = match known_at {
            Some(k) => Some(log.position_at_time(k.timestamp_micros()).await?),
            None => None,
        };
        v.until = match (v.position, known) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(v)
    }

    /// Whether nothing is filtered out (the present, the whole log).
    pub fn is_everything(&self) -> bool {
        self.happened_by.is_none() && self.until.is_none()
    }

    /// Whether a position is within [`AsOf::until`].
    pub fn holds_position(&self, position: u64) -> bool {
        self.until.is_none_or(|u| position <= u)
    }

    /// Whether an event that happened at `at` is within [`AsOf::happened_by`].
    pub fn happened(&self, at: DateTime<Utc>) -> bool {
        self.happened_by.is_none_or(|t| at <= t)
    }

    /// Whether the view includes a domain event at `position`.
    pub fn includes(&self, position: u64, event: &AnyEvent) -> bool {
        self.holds_position(position) && self.happened(event.at())
    }

    /// Whether the view includes an event outside the domain (no `at`: its recorded time,
    /// µs, stands in for when it happened).
    pub fn includes_foreign(&self, position: u64, recorded_at: i64) -> bool {
        self.holds_position(position)
            && self
                .happened_by
                .is_none_or(|t| recorded_at <= t.timestamp_micros())
    }

    /// The same view with event time limited to `t` as well (the earlier of the two).
    pub fn happened_by_at_most(mut self, t: DateTime<Utc>) -> AsOf {
        self.happened_by = Some(self.happened_by.map_or(t, |h| h.min(t)));
        self
    }

    /// Says what the view is, for people: "as of 2026-03-02T09:30:00Z (event time)",
    /// "as known at … (recorded time; up to position 120)", "as of position 2500", both, or
    /// "now" for everything.
    pub fn describe(&self) -> String {
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut parts = Vec::new();
        if let Some(t) = self.happened_by {
            parts.push(format!("as of {} (event time)", fmt(t)));
        }
        if let Some(p) = self.position {
            parts.push(format!("as of position {p}"));
        }
        if let Some(k) = self.known_at {
            parts.push(format!(
                "as known at {} (recorded time: up to position {})",
                fmt(k),
                self.until.unwrap_or(0)
            ));
        }
        if parts.is_empty() {
            return "now".into();
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_positions_and_anything_else_a_time() {
        assert_eq!(Point::parse("--as-of", "2500"), Ok(Point::Position(2500)));
        assert_eq!(
            Point::parse("--as-of", "2026-03-02T10:30:00+01:00"),
            Ok(Point::Time("2026-03-02T09:30:00Z".parse().unwrap()))
        );
        assert_eq!(
            Point::parse("--as-of", "2026-03-02"),
            Ok(Point::Time("2026-03-02T00:00:00Z".parse().unwrap()))
        );
        let e = Point::parse("--as-of", "soon").unwrap_err();
        assert!(
            e.starts_with("--as-of \"soon\" is neither a position nor a time"),
            "{e}"
        );
        let e = parse_time("--known-at", "12").unwrap_err();
        assert!(e.contains("takes a time, not a log position"), "{e}");
    }

    #[test]
    fn a_view_filters_by_both_clocks() {
        let t: DateTime<Utc> = "2026-03-02T09:30:00Z".parse().unwrap();
        let v = AsOf {
            happened_by: Some(t),
            until: Some(10),
            ..AsOf::default()
        };
        assert!(v.happened(t));
        assert!(!v.happened(t + chrono::Duration::seconds(1)));
        assert!(v.holds_position(10) && !v.holds_position(11));
        assert!(v.includes_foreign(3, t.timestamp_micros()));
        assert!(!v.includes_foreign(3, t.timestamp_micros() + 1));
        assert!(AsOf::default().is_everything());
        let earlier = t - chrono::Duration::hours(1);
        assert_eq!(v.happened_by_at_most(earlier).happened_by, Some(earlier));
        assert_eq!(
            v.happened_by_at_most(t + chrono::Duration::hours(1))
                .happened_by,
            Some(t)
        );
    }
}
