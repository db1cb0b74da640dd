//! A team's business hours: opening intervals per weekday in the team's local time, written
//! by people as lines like `mon-fri 09:00-17:00` and stored in the shape of a configuration
//! calendar's `weekly` (`{"mon": [["09:00", "17:00"]], …}`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::TeamError;

/// A day of the week, stored as `mon` … `sun` (a calendar's day names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Day {
    /// Monday to Sunday.
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    /// `mon` … `sun`.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    /// `mon` or `monday` (any case).
    pub fn parse(s: &str) -> Option<Day> {
        let s = s.trim().to_ascii_lowercase();
        Day::ALL
            .into_iter()
            .find(|d| s == d.as_str() || s == d.long_name())
    }

    fn long_name(self) -> &'static str {
        match self {
            Day::Mon => "monday",
            Day::Tue => "tuesday",
            Day::Wed => "wednesday",
            Day::Thu => "thursday",
            Day::Fri => "friday",
            Day::Sat => "saturday",
            Day::Sun => "sunday",
        }
    }

    /// 0 for Monday … 6 for Sunday.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Minutes in a day: the latest end of an interval (`24:00`).
const DAY_MINUTES: u16 = 24 * 60;

/// One opening interval on a day, local time: from `start` (included) to `end` (excluded),
/// in minutes since midnight. Stored as `["09:00", "17:30"]`; an end of `"24:00"` is the end
/// of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    start: u16,
    end: u16,
}

impl Interval {
    /// The interval from `start` to `end` minutes since midnight; `None` unless
    /// `start < end <= 1440`.
    pub fn new(start: u16, end: u16) -> Option<Interval> {
        (start < end && end <= DAY_MINUTES).then_some(Interval { start, end })
    }

    /// Minutes since midnight at which it opens.
    pub fn start(self) -> u16 {
        self.start
    }

    /// Minutes since midnight at which it closes (not included; 1440 = midnight).
    pub fn end(self) -> u16 {
        self.end
    }

    /// `[start, end]` as `"HH:MM"`, the shape of a calendar's interval.
    pub fn to_pair(self) -> [String; 2] {
        [hhmm(self.start), hhmm(self.end)]
    }

    /// Reads `HH:MM-HH:MM` (hours may have one digit). The error says what is wrong.
    fn parse(s: &str) -> Result<Interval, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not a time range (like 09:00-17:00)"))?;
        let start = parse_hhmm(a).filter(|m| *m < DAY_MINUTES).ok_or_else(|| {
            format!(
                "{:?} is not a time of day (HH:MM, 00:00 to 23:59)",
                a.trim()
            )
        })?;
        let end = parse_hhmm(b).ok_or_else(|| {
            format!(
                "{:?} is not a time of day (HH:MM, 00:00 to 24:00)",
                b.trim()
            )
        })?;
        Interval::new(start, end).ok_or_else(|| {
            format!(
                "{} ends before it starts (split a shift past midnight into two days, \
                 e.g. \"mon 22:00-24:00\" and \"tue 00:00-06:00\")",
                s.trim()
            )
        })
    }

    fn from_pair(pair: &[String; 2]) -> Result<Interval, String> {
        Interval::parse(&format!("{}-{}", pair[0], pair[1]))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", hhmm(self.start), hhmm(self.end))
    }
}

impl Serialize for Interval {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_pair().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pair = <[String; 2]>::deserialize(d)?;
        Interval::from_pair(&pair).map_err(serde::de::Error::custom)
    }
}

/// `"HH:MM"` for minutes since midnight.
fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Minutes since midnight of `H:MM` or `HH:MM`; `24:00` is allowed (the end of the day).
fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Opening hours per weekday, in the team's local time; a day that is not listed is closed.
/// Intervals of a day are sorted and never overlap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<Day, Vec<Interval>>",
    into = "BTreeMap<Day, Vec<Interval>>"
)]
pub struct WeeklyHours {
    days: BTreeMap<Day, Vec<Interval>>,
}

impl TryFrom<BTreeMap<Day, Vec<Interval>>> for WeeklyHours {
    type Error = String;

    fn try_from(days: BTreeMap<Day, Vec<Interval>>) -> Result<Self, String> {
        let mut hours = WeeklyHours::default();
        for (day, intervals) in days {
            for interval in intervals {
                hours.add(day, interval)?;
            }
        }
        Ok(hours)
    }
}

impl From<WeeklyHours> for BTreeMap<Day, Vec<Interval>> {
    fn from(hours: WeeklyHours) -> Self {
        hours.days
    }
}

impl WeeklyHours {
    /// Reads lines like `mon-fri 09:00-17:00`, `sat 10:00-14:00` or
    /// `mon,wed 09:00-12:00,13:00-17:00`: days (`mon` or `monday`, ranges `mon-fri`, lists
    /// separated by commas), then time ranges (`HH:MM-HH:MM`, end `24:00` allowed, lists
    /// separated by commas). Several lines add up; intervals of one day must not overlap.
    /// Refused, naming the line and what is wrong: no line at all, an unknown day, a day
    /// range that runs backwards, a time that is not one, an end before its start, overlaps.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<WeeklyHours, TeamError> {
        if lines.is_empty() {
            return Err(TeamError::EmptyField("hours"));
        }
        let mut hours = WeeklyHours::default();
        for line in lines {
            let line = line.as_ref();
            let bad = |reason: String| TeamError::BadHours {
                line: line.trim().to_string(),
                reason,
            };
            let (days, intervals) = parse_line(line).map_err(bad)?;
            for day in days {
                for interval in &intervals {
                    hours.add(day, *interval).map_err(bad)?;
                }
            }
        }
        Ok(hours)
    }

    /// Adds one interval to a day, keeping the day's intervals sorted; refused when it
    /// overlaps one the day has.
    fn add(&mut self, day: Day, interval: Interval) -> Result<(), String> {
        let intervals = self.days.entry(day).or_default();
        if let Some(other) = intervals
            .iter()
            .find(|o| o.start < interval.end && interval.start < o.end)
        {
            return Err(format!("{other} and {interval} overlap on {day}"));
        }
        let at = intervals.partition_point(|o| *o < interval);
        intervals.insert(at, interval);
        Ok(())
    }

    /// Whether no day has opening hours (closed all week).
    pub fn is_empty(&self) -> bool {
        self.days.values().all(Vec::is_empty)
    }

    /// The open days with their intervals, Monday first.
    pub fn days(&self) -> impl Iterator<Item = (Day, &[Interval])> {
        self.days
            .iter()
            .filter(|(_, i)| !i.is_empty())
            .map(|(d, i)| (*d, i.as_slice()))
    }

    /// The intervals of one day (empty: closed).
    pub fn on(&self, day: Day) -> &[Interval] {
        self.days.get(&day).map_or(&[], Vec::as_slice)
    }

    /// The hours as lines [`WeeklyHours::parse`] reads back to the same hours: days with the
    /// same intervals on one line, runs of days as ranges (`mon-fri 09:00-17:00`,
    /// `sat 10:00-14:00`), ordered by their first day.
    pub fn lines(&self) -> Vec<String> {
        let mut groups: Vec<(&[Interval], BTreeSet<Day>)> = Vec::new();
        for (day, intervals) in self.days() {
            match groups.iter_mut().find(|(i, _)| *i == intervals) {
                Some((_, days)) => {
                    days.insert(day);
                }
                None => groups.push((intervals, BTreeSet::from([day]))),
            }
        }
        groups
            .into_iter()
            .map(|(intervals, days)| {
                let times: Vec<String> = intervals.iter().map(Interval::to_string).collect();
                format!("{} {}", day_runs(&days), times.join(","))
            })
            .collect()
    }
}

/// `mon-fri,sun` for a set of days: runs of three or more consecutive days as ranges.
fn day_runs(days: &BTreeSet<Day>) -> String {
    let mut runs: Vec<(Day, Day)> = Vec::new();
    for day in days {
        match runs.last_mut() {
            Some((_, last)) if last.index() + 1 == day.index() => *last = *day,
            _ => runs.push((*day, *day)),
        }
    }
    let mut parts = Vec::new();
    for (first, last) in runs {
        match last.index() - first.index() {
            0 => parts.push(first.to_string()),
            1 => {
                parts.push(first.to_string());
                parts.push(last.to_string());
            }
            _ => parts.push(format!("{first}-{last}")),
        }
    }
    parts.join(",")
}

/// One line: its days (each once) and its intervals.
fn parse_line(line: &str) -> Result<(BTreeSet<Day>, Vec<Interval>), String> {
    let shape = || "expected days, then times, like \"mon-fri 09:00-17:00\"".to_string();
    let split = line.find(|c: char| c.is_ascii_digit()).ok_or_else(shape)?;
    let (day_part, time_part) = line.split_at(split);
    if day_part.trim().is_empty() {
        return Err(shape());
    }
    let mut days = BTreeSet::new();
    for item in day_part.split(',') {
        let item = item.trim();
        let day = |s: &str| {
            Day::parse(s).ok_or_else(|| {
                format!(
                    "unknown day {:?} (use mon, tue, wed, thu, fri, sat, sun)",
                    s.trim()
                )
            })
        };
        match item.split_once('-') {
            Some((a, b)) => {
                let (first, last) = (day(a)?, day(b)?);
                if first > last {
                    let tail = match last {
                        Day::Mon => "mon".to_string(),
                        _ => format!("mon-{last}"),
                    };
                    return Err(format!(
                        "day range {item:?} runs backwards (weeks run mon to sun: write \
                         \"{first}-sun,{tail}\")"
                    ));
                }
                days.extend(Day::ALL[first.index()..=last.index()].iter().copied());
            }
            None => {
                days.insert(day(item)?);
            }
        }
    }
    let mut intervals = Vec::new();
    for item in time_part.split(',') {
        intervals.push(Interval::parse(item)?);
    }
    Ok((days, intervals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(lines: &[&str]) -> String {
        match WeeklyHours::parse(lines) {
            Err(TeamError::BadHours { reason, .. }) => reason,
            other => panic!("{lines:?} should be refused for its hours, got {other:?}"),
        }
    }

    #[test]
    fn lines_are_read_into_days_and_intervals() {
        let h = WeeklyHours::parse(&["mon-fri 09:00-12:00,13:00-17:30", "Saturday 10:00-14:00"])
            .expect("valid");
        assert_eq!(h.on(Day::Mon).len(), 2);
        assert_eq!(
            h.on(Day::Fri)[1],
            Interval::new(13 * 60, 17 * 60 + 30).unwrap()
        );
        assert_eq!(h.on(Day::Sat), &[Interval::new(600, 840).unwrap()]);
        assert!(h.on(Day::Sun).is_empty());
        let h = WeeklyHours::parse(&["mon, wed ,fri 9:00-24:00"]).expect("valid");
        assert_eq!(
            h.days().map(|(d, _)| d).collect::<Vec<_>>(),
            vec![Day::Mon, Day::Wed, Day::Fri]
        );
        assert_eq!(h.on(Day::Wed)[0].end(), 1440);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(
            reason(&["mon-fry 09:00-17:00"]),
            "unknown day \"fry\" (use mon, tue, wed, thu, fri, sat, sun)"
        );
        assert!(reason(&["fri-mon 09:00-17:00"]).contains("runs backwards"));
        assert!(reason(&["mon 17:00-09:00"]).contains("17:00-09:00 ends before it starts"));
        assert!(reason(&["mon 09:00-09:00"]).contains("ends before it starts"));
        assert!(reason(&["mon 25:00-26:00"]).contains("\"25:00\" is not a time of day"));
        assert!(reason(&["mon 24:00-24:00"]).contains("\"24:00\" is not a time of day"));
        assert!(reason(&["mon 09:60-10:00"]).contains("not a time of day"));
        assert!(reason(&["mon 0900-1700"]).contains("not a time of day"));
        assert!(reason(&["mon 09:00"]).contains("is not a time range"));
        assert!(reason(&["09:00-17:00"]).contains("expected days, then times"));
        assert!(reason(&["weekdays"]).contains("expected days, then times"));
        assert_eq!(
            reason(&["mon-fri 09:00-12:00", "mon 11:00-13:00"]),
            "09:00-12:00 and 11:00-13:00 overlap on mon"
        );
        assert_eq!(
            WeeklyHours::parse::<&str>(&[]),
            Err(TeamError::EmptyField("hours"))
        );
        let e = WeeklyHours::parse(&["mon 8-9"]).unwrap_err();
        assert!(e.to_string().starts_with("hours \"mon 8-9\": "), "{e}");
    }

    #[test]
    fn lines_read_back_to_the_same_hours() {
        for given in [
            vec!["mon-fri 09:00-17:00"],
            vec!["mon-fri 09:00-12:00,13:00-17:00", "sat 10:00-14:00"],
            vec!["mon,wed,fri 08:00-16:00", "tue,thu 10:00-18:00"],
            vec!["sat,sun 00:00-24:00", "mon-tue 09:00-12:00,12:00-13:00"],
        ] {
            let hours = WeeklyHours::parse(&given).expect("valid");
            let lines = hours.lines();
            assert_eq!(
                WeeklyHours::parse(&lines).expect("reads back"),
                hours,
                "{lines:?}"
            );
        }
        let hours =
            WeeklyHours::parse(&["mon-fri 09:00-17:00", "sat 10:00-14:00", "sun 09:00-17:00"])
                .expect("valid");
        assert_eq!(
            hours.lines(),
            vec!["mon-fri,sun 09:00-17:00", "sat 10:00-14:00"]
        );
        let hours = WeeklyHours::parse(&["mon,tue 09:00-17:00"]).expect("valid");
        assert_eq!(hours.lines(), vec!["mon,tue 09:00-17:00"]);
    }

    #[test]
    fn hours_are_stored_as_a_calendar_s_weekly_map() {
        let hours = WeeklyHours::parse(&["mon,tue 09:00-17:30"]).expect("valid");
        let json = serde_json::to_value(&hours).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"mon": [["09:00", "17:30"]], "tue": [["09:00", "17:30"]]})
        );
        let back: WeeklyHours = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, hours);
        let overlapping = serde_json::json!({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]});
        assert!(serde_json::from_value::<WeeklyHours>(overlapping).is_err());
        let backwards = serde_json::json!({"mon": [["12:00", "09:00"]]});
        assert!(serde_json::from_value::<WeeklyHours>(backwards).is_err());
        let unknown = serde_json::json!({"someday": [["09:00", "12:00"]]});
        assert!(serde_json::from_value::<WeeklyHours>(unknown).is_err());
    }
}
