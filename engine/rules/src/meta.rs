//! Rule metadata, read from a header of `//!` lines at the top of the rule source, so that it
//! is versioned together with the code:
//!
//! ```text
//! //! Pause capacity-gated campaigns when their team is nearly full.
//! //! priority: 100
//! //! scope: labels=capacity-gated,brand; ids=123/456; names=Brand*,*NL; teams=sales-nl
//! //! every: 5m
//! //! on: capacity_changed, lead_received
//! //! dwell: 20m
//! //! cooldown: 30m
//! ```
//!
//! A header line is a key line when it starts with a lowercase word directly followed by
//! `:`. The lines before the first key form the description (joined into one paragraph);
//! after the first key only key lines may follow. Unknown keys, repeated keys and bad values
//! are refused with the line number.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

use crate::facts::CampaignFacts;

/// Header keys a rule may use.
pub const KEYS: [&str; 7] = [
    "priority", "scope", "every", "cron", "on", "dwell", "cooldown",
];

/// Metadata of one rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleMeta {
    /// Evaluation order and conflict precedence: higher wins. Default 0.
    pub priority: i32,
    /// Which campaigns the rule is evaluated for. Empty: all.
    pub scope: Scope,
    /// Timer of the rule (`every:` or `cron:`), if any.
    pub schedule: Option<Schedule>,
    /// Events that make the rule run (`on:`).
    pub triggers: Vec<Trigger>,
    /// Per-rule override of the policy's minimum dwell time between status changes.
    pub dwell: Option<Duration>,
    /// Per-rule override of the policy's cooldown between changes of the same field.
    pub cooldown: Option<Duration>,
    /// The header's prose before the first key, joined into one paragraph.
    pub description: Option<String>,
}

/// Which campaigns a rule applies to. A campaign is in scope when the scope is empty or the
/// campaign matches **any** listed id, label, name pattern or team.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Campaign ids, `"<customer_id>/<campaign_id>"`; an id without `/` matches the
    /// campaign id alone.
    pub ids: Vec<String>,
    /// Labels; `*` matches any run of characters (e.g. `team:*`).
    pub labels: Vec<String>,
    /// Campaign name patterns; `*` matches any run of characters (e.g. `Brand*`).
    pub names: Vec<String>,
    /// Team names.
    pub teams: Vec<String>,
}

/// As the `//! scope:` header writes it (`labels=capacity-gated; teams=sales-nl`), "all
/// campaigns" when it lists nothing.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = [
            ("ids", &self.ids),
            ("labels", &self.labels),
            ("names", &self.names),
            ("teams", &self.teams),
        ]
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .peekable();
        if parts.peek().is_none() {
            return f.write_str("all campaigns");
        }
        for (i, (kind, values)) in parts.enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{kind}={}", values.join(","))?;
        }
        Ok(())
    }
}

impl Scope {
    /// Whether the scope lists nothing (and so covers every campaign).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.labels.is_empty()
            && self.names.is_empty()
            && self.teams.is_empty()
    }

    /// Whether the campaign is in scope.
    pub fn matches(&self, c: &CampaignFacts) -> bool {
        self.matches_parts(&c.id, &c.campaign_id, &c.name, &c.labels, c.team.as_deref())
    }

    pub(crate) fn matches_parts<L: AsRef<str>>(
        &self,
        id: &str,
        campaign_id: &str,
        name: &str,
        labels: &[L],
        team: Option<&str>,
    ) -> bool {
        if self.is_empty() {
            return true;
        }
        self.ids.iter().any(|want| {
            if want.contains('/') {
                want == id
            } else {
                want == campaign_id
            }
        }) || self
            .labels
            .iter()
            .any(|pattern| labels.iter().any(|l| glob(pattern, l.as_ref())))
            || self.names.iter().any(|pattern| glob(pattern, name))
            || team.is_some_and(|t| self.teams.iter().any(|want| want == t))
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    // Runs for every rule and campaign label on every tick: no allocation.
    let Some((first, after_first)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let last = match after_first.rsplit_once('*') {
        Some((middle, last)) => {
            for part in middle.split('*') {
                match remaining.find(part) {
                    Some(at) => remaining = &remaining[at + part.len()..],
                    None => return false,
                }
            }
            last
        }
        None => after_first,
    };
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// When a rule runs on a timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every period, aligned to multiples of the period since the Unix epoch.
    Every(Duration),
    /// A 5-field cron pattern (minute hour day-of-month month day-of-week), in the facts'
    /// time zone.
    Cron(String),
}

impl Schedule {
    /// The first run time strictly after `t`. `tz` is the IANA zone cron patterns are read
    /// in. `None` when the zone is unknown, the pattern is invalid, or no run exists.
    pub fn next_after(&self, t: DateTime<Utc>, tz: &str) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(period) => {
                let secs = period.num_seconds();
                if secs <= 0 {
                    return None;
                }
                let next = t
                    .timestamp()
                    .div_euclid(secs)
                    .checked_add(1)?
                    .checked_mul(secs)?;
                DateTime::from_timestamp(next, 0)
            }
            Schedule::Cron(pattern) => {
                let zone: chrono_tz::Tz = tz.parse().ok()?;
                let cron = parse_cron(pattern).ok()?;
                let local = t.with_timezone(&zone);
                cron.find_next_occurrence(&local, false)
                    .ok()
                    .map(|next| next.with_timezone(&Utc))
            }
        }
    }
}

fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    let trimmed = pattern.trim();
    if !trimmed.starts_with('@') && trimmed.split_whitespace().count() != 5 {
        return Err(format!(
            "cron pattern {trimmed:?} must have 5 fields (minute hour day-of-month month day-of-week)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(trimmed)
        .map_err(|e| format!("bad cron pattern {trimmed:?}: {e}"))
}

/// Parses a `cron:` pattern and checks that it matches some time: a pattern croner parses can
/// still match none (`0 0 30 2 *`, the 30th of February; `0 0 3 2 +`, a `+` with no weekday
/// after it), and such a rule would be saved and never run on its schedule. Searching from
/// 2000-01-01 finds any time that exists (the 29th of February in 2000); a pattern with none
/// costs one search to croner's year limit (tens of milliseconds), once, when the header is
/// read. Found by fuzzing the headers (`fuzz/`, target `rule_header`).
fn check_cron_fires(pattern: &str) -> Result<(), String> {
    let cron = parse_cron(pattern)?;
    let start = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
    match cron.find_next_occurrence(&start, true) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "cron pattern {:?} matches no time (a day that does not exist, or a `+` with no \
             weekday after it), so the rule would never run on its schedule",
            pattern.trim()
        )),
    }
}

/// Events that make a rule run outside its timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A team's capacity snapshot changed.
    CapacityChanged,
    /// A lead arrived.
    LeadReceived,
    /// Campaign metrics were refreshed.
    MetricsRefreshed,
}

impl Trigger {
    /// The name used in headers and events.
    pub fn as_str(&self) -> &'static str {
        match self {
            Trigger::CapacityChanged => "capacity_changed",
            Trigger::LeadReceived => "lead_received",
            Trigger::MetricsRefreshed => "metrics_refreshed",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "capacity_changed" => Ok(Trigger::CapacityChanged),
            "lead_received" => Ok(Trigger::LeadReceived),
            "metrics_refreshed" => Ok(Trigger::MetricsRefreshed),
            other => Err(format!(
                "unknown trigger {other:?} (expected capacity_changed, lead_received or metrics_refreshed)"
            )),
        }
    }
}

/// A header line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct MetaError {
    /// 1-based line number in the rule source.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads the `//!` header of a rule source. Lines before the first non-`//!` line (blank
/// lines at the very top are skipped) form the header; the rest of the source is ignored.
pub fn parse_meta(source: &str) -> Result<RuleMeta, MetaError> {
    let mut meta = RuleMeta::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut started = false;
    for (index, raw) in source.lines().enumerate() {
        let line_no = index + 1;
        let trimmed = raw.trim();
        let Some(text) = trimmed.strip_prefix("//!") else {
            if trimmed.is_empty() && !started {
                continue;
            }
            break;
        };
        started = true;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let err = |message: String| MetaError {
            line: line_no,
            message,
        };
        let Some((key, value)) = key_line(text) else {
            if seen.is_empty() {
                // Prose before the first key: the description (one paragraph).
                let description = meta.description.get_or_insert_with(String::new);
                if !description.is_empty() {
                    description.push(' ');
                }
                description.push_str(text);
                continue;
            }
            return Err(err(format!(
                "expected `key: value` after the first header key, got {text:?} \
                 (put the description before the keys)"
            )));
        };
        if !KEYS.contains(&key) {
            return Err(err(format!(
                "unknown header key {key:?} (known: {}); a header line starting with a \
                 lowercase word and a colon is read as a key",
                KEYS.join(", ")
            )));
        }
        if seen.contains(&key) {
            return Err(err(format!("header key {key:?} given twice")));
        }
        seen.push(key);
        if value.is_empty() && key != "scope" {
            return Err(err(format!("header key {key:?} needs a value")));
        }
        match key {
            "priority" => {
                meta.priority = value
                    .parse()
                    .map_err(|_| err(format!("priority must be a whole number, got {value:?}")))?;
            }
            "scope" => meta.scope = parse_scope(value).map_err(err)?,
            "every" | "cron" => {
                if meta.schedule.is_some() {
                    return Err(err("use either `every:` or `cron:`, not both".to_string()));
                }
                meta.schedule = Some(if key == "every" {
                    let period = parse_duration(value).map_err(err)?;
                    if period <= Duration::zero() {
                        return Err(err("every: needs a period above zero".to_string()));
                    }
                    Schedule::Every(period)
                } else {
                    check_cron_fires(value).map_err(err)?;
                    Schedule::Cron(value.to_string())
                });
            }
            "on" => {
                for part in value.split(',') {
                    let trigger: Trigger = part.parse().map_err(err)?;
                    if !meta.triggers.contains(&trigger) {
                        meta.triggers.push(trigger);
                    }
                }
            }
            "dwell" => meta.dwell = Some(parse_duration(value).map_err(err)?),
            "cooldown" => meta.cooldown = Some(parse_duration(value).map_err(err)?),
            _ => unreachable!("key checked against KEYS"),
        }
    }
    Ok(meta)
}

/// `key: value` when the text starts with a lowercase word (letters, digits, `_`)
/// directly followed by `:`.
fn key_line(text: &str) -> Option<(&str, &str)> {
    let (key, value) = text.split_once(':')?;
    let is_key = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    is_key.then(|| (key, value.trim()))
}

fn parse_scope(value: &str) -> Result<Scope, String> {
    let mut scope = Scope::default();
    if value.is_empty() || value == "*" || value == "all" {
        return Ok(scope);
    }
    for part in value.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((kind, list)) = part.split_once('=') else {
            return Err(format!(
                "scope part {part:?} must look like kind=a,b (kinds: ids, labels, names, teams)"
            ));
        };
        let items: Vec<String> = list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Err(format!("scope part {part:?} lists nothing"));
        }
        let target = match kind.trim() {
            "ids" | "id" => &mut scope.ids,
            "labels" | "label" => &mut scope.labels,
            "names" | "name" => &mut scope.names,
            "teams" | "team" => &mut scope.teams,
            other => {
                return Err(format!(
                    "unknown scope kind {other:?} (expected ids, labels, names or teams)"
                ))
            }
        };
        target.extend(items);
    }
    Ok(scope)
}

/// Parses `30s`, `5m`, `2h`, `1d` and combinations such as `1h30m`; `0` is zero.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let text = value.trim();
    if text == "0" {
        return Ok(Duration::zero());
    }
    let bad = || format!("bad duration {text:?} (use e.g. 30s, 5m, 2h, 1d or 1h30m)");
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut any_unit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .filter(|t| *t <= 366 * 86_400)
            .ok_or_else(|| format!("duration {text:?} is longer than a year"))?;
        number.clear();
        any_unit = true;
    }
    if !number.is_empty() || !any_unit {
        return Err(bad());
    }
    Ok(Duration::seconds(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars() {
        assert!(glob("Brand*", "Brand NL"));
        assert!(glob("*NL", "Brand NL"));
        assert!(glob("*an*N*", "Brand NL"));
        assert!(glob("*", ""));
        assert!(!glob("Brand*", "Generic NL"));
        assert!(!glob("*NL", "NL Brand"));
        assert!(!glob("a*a", "a"));
        assert!(glob("exact", "exact"));
        assert!(glob("team:*", "team:sales-nl"));
        assert!(glob("a**b", "ab"));
        assert!(glob("*a*", "a"));
        assert!(glob("a*b*c", "abbc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::minutes(5)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::zero()));
        assert_eq!(parse_duration("45s"), Ok(Duration::seconds(45)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5 m").is_err());
        assert!(parse_duration("400d").is_err());
    }
}
