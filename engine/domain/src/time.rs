//! Reading event timestamps quickly.
//!
//! Every event carries an `at`, written by chrono as RFC 3339 in UTC
//! (`2026-01-02T00:14:32Z`, with a fraction when there is one). chrono's general parser took
//! about a tenth of a replay's instructions; [`utc`] reads that one shape directly and hands
//! anything else (offsets, lowercase separators, leap seconds, …) to chrono, so what it
//! accepts, and the instant it yields, is exactly what chrono's own `Deserialize` gives.

use chrono::{DateTime, NaiveDate, Utc};

/// `deserialize_with` for a `DateTime<Utc>` field: the same result as chrono's own
/// `Deserialize`, faster for the `YYYY-MM-DDTHH:MM:SS[.fraction]Z` that chrono writes.
pub fn utc<'de, D>(d: D) -> Result<DateTime<Utc>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 date and time")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match parse_zulu(v) {
                Some(t) => Ok(t),
                None => v
                    .parse::<DateTime<chrono::FixedOffset>>()
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(E::custom),
            }
        }
    }
    d.deserialize_str(V)
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, or `None` for anything else (including invalid dates and
/// second 60, which chrono then judges).
pub fn parse_zulu(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if second >= 60 {
        return None;
    }
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20..20 + digits.len())?;
            n * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year as i32, month, day)?
        .and_hms_nano_opt(hour, minute, second, nanos)
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_parse(s: &str) -> Option<DateTime<Utc>> {
        s.parse::<DateTime<chrono::FixedOffset>>()
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    fn via_serde(s: &str) -> Result<DateTime<Utc>, String> {
        #[derive(serde::Deserialize)]
        struct W {
            #[serde(deserialize_with = "utc")]
            at: DateTime<Utc>,
        }
        let json = serde_json::json!({ "at": s });
        serde_json::from_value::<W>(json)
            .map(|w| w.at)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn what_chrono_writes_reads_back_the_same_instant() {
        // A deterministic walk over instants from 1970 to ~2100, whole seconds and fractions.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 4_102_444_800) as i64;
            let nanos = match i % 4 {
                0 => 0,
                1 => (x >> 32) as u32 % 1_000 * 1_000_000,
                2 => (x >> 32) as u32 % 1_000_000 * 1_000,
                _ => (x >> 32) as u32 % 1_000_000_000,
            };
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let written = serde_json::to_value(t).unwrap();
            let s = written.as_str().unwrap();
            assert_eq!(parse_zulu(s), Some(t), "{s}");
            assert_eq!(via_serde(s), Ok(t), "{s}");
        }
    }

    #[test]
    fn anything_else_is_left_to_chrono_with_the_same_outcome() {
        for s in [
            "2026-01-02T00:14:32+02:00",
            "2026-01-02t00:14:32z",
            "2026-01-02 00:14:32Z",
            "2016-12-31T23:59:60Z",
            "2026-02-29T00:00:00Z",
            "2028-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-02T24:00:00Z",
            "2026-01-02T00:14:32.1234567891Z",
            "2026-01-02T00:14:32.Z",
            "2026-01-02T00:14:32",
            "2026-1-02T00:14:32Z",
            "+2026-01-02T00:14:32Z",
            "not a time",
            "",
        ] {
            assert_eq!(via_serde(s).ok(), chrono_parse(s), "{s:?}");
            if let Some(t) = parse_zulu(s) {
                assert_eq!(Some(t), chrono_parse(s), "{s:?}");
            }
        }
        assert!(parse_zulu("2026-01-02T00:14:32+02:00").is_none());
        assert!(parse_zulu("2016-12-31T23:59:60Z").is_none());
        assert!(parse_zulu("2026-02-29T00:00:00Z").is_none());
        assert!(via_serde("not a time").is_err());
    }
}
