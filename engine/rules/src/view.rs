//! Facts as Rhai values: the `campaign`, `team`, `teams` and `now` constants rules read.
//!
//! Built once per tick by [`crate::RuleHost::prepare`]; nothing here runs per rule.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc, Weekday};
use leadorch_domain::campaign::{AdScheduleSlot, Bidding, CampaignStatus, DayOfWeek};
use std::collections::HashMap;
use std::sync::LazyLock;

use rhai::{Array, Dynamic, ImmutableString, Map, FLOAT, INT};

use crate::facts::{Calendar, CampaignFacts, Metrics, TeamFacts};

/// Shares one copy of strings that repeat across campaigns (labels, team names, statuses…).
#[derive(Default)]
pub(crate) struct Interner(HashMap<String, ImmutableString>);

impl Interner {
    pub(crate) fn get(&mut self, s: &str) -> ImmutableString {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: ImmutableString = s.into();
        self.0.insert(s.to_string(), v.clone());
        v
    }

    fn dynamic(&mut self, s: &str) -> Dynamic {
        self.get(s).into()
    }
}

/// A copy of `value` that shares no strings with it (maps and arrays copied all the way
/// down), so that two threads reading the two copies never write to the same reference
/// count.
pub(crate) fn deep_copy(value: &Dynamic) -> Dynamic {
    if value.is_map() {
        let map = value.read_lock::<Map>();
        let copy: Option<Map> =
            map.map(|m| m.iter().map(|(k, v)| (k.clone(), deep_copy(v))).collect());
        if let Some(copy) = copy {
            return Dynamic::from_map(copy);
        }
    } else if value.is_array() {
        let array = value.read_lock::<Array>();
        let copy: Option<Array> = array.map(|a| a.iter().map(deep_copy).collect());
        if let Some(copy) = copy {
            return Dynamic::from_array(copy);
        }
    } else if value.is_string() {
        if let Some(s) = value.read_lock::<ImmutableString>() {
            return Dynamic::from(ImmutableString::from(s.as_str()));
        }
    }
    value.clone()
}

/// The keys of a map built many times. Cloning a template and filling its values in key
/// order is about twice as fast as building a `BTreeMap` from entries.
struct Shape<const N: usize> {
    template: Map,
}

impl<const N: usize> Shape<N> {
    /// `keys` must be sorted (as `BTreeMap` orders them) and distinct.
    fn new(keys: [&str; N]) -> Self {
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "shape keys must be sorted: {keys:?}"
        );
        Shape {
            template: keys.iter().map(|k| ((*k).into(), Dynamic::UNIT)).collect(),
        }
    }

    /// A map with the values in key order.
    fn make(&self, values: [Dynamic; N]) -> Map {
        let mut map = self.template.clone();
        for (slot, value) in map.values_mut().zip(values) {
            *slot = value;
        }
        map
    }
}

struct Shapes {
    campaign: Shape<20>,
    metrics: Shape<5>,
    recent: Shape<6>,
    bidding: Shape<3>,
    since: Shape<4>,
    slot: Shape<4>,
    team: Shape<10>,
}

static SHAPES: LazyLock<Shapes> = LazyLock::new(|| Shapes {
    campaign: Shape::new([
        "ad_schedule",
        "bidding",
        "budget",
        "budget_micros",
        "campaign_id",
        "customer_id",
        "id",
        "labels",
        "leads_recent",
        "leads_today",
        "manual_override",
        "manual_override_until",
        "minutes_since_change",
        "name",
        "paused",
        "pending",
        "recent",
        "status",
        "team",
        "today",
    ]),
    metrics: Shape::new([
        "clicks",
        "conversions",
        "cost",
        "cost_micros",
        "impressions",
    ]),
    recent: Shape::new([
        "clicks",
        "conversions",
        "cost",
        "cost_micros",
        "impressions",
        "minutes",
    ]),
    bidding: Shape::new(["strategy", "target_cpa", "target_roas"]),
    since: Shape::new(WATCHED_SORTED),
    slot: Shape::new(["bid_modifier", "day", "end", "start"]),
    team: Shape::new([
        "age_minutes",
        "agents_available",
        "free_slots",
        "leads_recent",
        "max_open_leads",
        "minutes_since_update",
        "name",
        "open_leads",
        "stale",
        "utilisation",
    ]),
});

/// The watched fields (always present in `campaign.minutes_since_change`), in key order.
const WATCHED_SORTED: [&str; 4] = ["ad_schedule", "bidding", "daily_budget_micros", "status"];

pub(crate) fn int_u64(v: u64) -> Dynamic {
    Dynamic::from_int(INT::try_from(v).unwrap_or(INT::MAX))
}

fn units(micros: i64) -> Dynamic {
    Dynamic::from_float(micros as FLOAT / 1_000_000.0)
}

fn opt<T: Into<Dynamic>>(v: Option<T>) -> Dynamic {
    v.map_or(Dynamic::UNIT, Into::into)
}

fn minutes_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Dynamic {
    Dynamic::from_int((to - from).num_minutes())
}

/// RFC 3339 in UTC with a `Z` suffix, whole seconds.
pub(crate) fn iso_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn status_name(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Enabled => "enabled",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Removed => "removed",
    }
}

pub(crate) fn day_name(d: DayOfWeek) -> &'static str {
    match d {
        DayOfWeek::Monday => "monday",
        DayOfWeek::Tuesday => "tuesday",
        DayOfWeek::Wednesday => "wednesday",
        DayOfWeek::Thursday => "thursday",
        DayOfWeek::Friday => "friday",
        DayOfWeek::Saturday => "saturday",
        DayOfWeek::Sunday => "sunday",
    }
}

/// Accepts `monday` or `mon` (any case).
pub(crate) fn parse_day(s: &str) -> Option<DayOfWeek> {
    Some(match s.to_ascii_lowercase().as_str() {
        "monday" | "mon" => DayOfWeek::Monday,
        "tuesday" | "tue" => DayOfWeek::Tuesday,
        "wednesday" | "wed" => DayOfWeek::Wednesday,
        "thursday" | "thu" => DayOfWeek::Thursday,
        "friday" | "fri" => DayOfWeek::Friday,
        "saturday" | "sat" => DayOfWeek::Saturday,
        "sunday" | "sun" => DayOfWeek::Sunday,
        _ => return None,
    })
}

fn short_weekday(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// `"HH:MM"` for minutes since midnight.
pub(crate) fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Minutes since midnight of `"HH:MM"`; `"24:00"` is allowed (end of day).
pub(crate) fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

fn metrics_map(m: &Metrics) -> Map {
    SHAPES.metrics.make([
        int_u64(m.clicks),
        Dynamic::from_float(m.conversions),
        units(m.cost_micros),
        Dynamic::from_int(m.cost_micros),
        int_u64(m.impressions),
    ])
}

fn recent_map(m: &Metrics, minutes: u32) -> Map {
    SHAPES.recent.make([
        int_u64(m.clicks),
        Dynamic::from_float(m.conversions),
        units(m.cost_micros),
        Dynamic::from_int(m.cost_micros),
        int_u64(m.impressions),
        Dynamic::from_int(INT::from(minutes)),
    ])
}

fn bidding_map(b: &Bidding, strings: &mut Interner) -> Map {
    let (strategy, cpa, roas): (&str, Dynamic, Dynamic) = match b {
        Bidding::ManualCpc => ("manual_cpc", Dynamic::UNIT, Dynamic::UNIT),
        Bidding::MaximizeConversions => ("maximize_conversions", Dynamic::UNIT, Dynamic::UNIT),
        Bidding::TargetCpa { target_cpa_micros } => {
            ("target_cpa", units(*target_cpa_micros), Dynamic::UNIT)
        }
        Bidding::TargetRoas { target_roas } => (
            "target_roas",
            Dynamic::UNIT,
            Dynamic::from_float(*target_roas),
        ),
        Bidding::Other(name) => (name.as_str(), Dynamic::UNIT, Dynamic::UNIT),
    };
    SHAPES.bidding.make([strings.dynamic(strategy), cpa, roas])
}

fn slot_map(s: &AdScheduleSlot, strings: &mut Interner) -> Dynamic {
    Dynamic::from_map(SHAPES.slot.make([
        opt(s.bid_modifier.map(Dynamic::from_float)),
        strings.dynamic(day_name(s.day_of_week)),
        strings.dynamic(&hhmm(s.end())),
        strings.dynamic(&hhmm(s.start())),
    ]))
}

/// The `campaign` constant, and the campaign's id, campaign id, name and labels as shared
/// strings (for scope matching without copying). Its status, budget, bidding and schedule are
/// as the engine has asked for them: with the changes still open on top
/// ([`CampaignFacts::intended`], ADR 0054).
pub(crate) fn campaign_map(
    c: &CampaignFacts,
    at: DateTime<Utc>,
    window_minutes: u32,
    strings: &mut Interner,
) -> (Dynamic, [ImmutableString; 3], Vec<ImmutableString>) {
    let intended;
    let c = if c.pending_changes.is_empty() {
        c
    } else {
        intended = c.intended();
        &intended
    };
    let id: ImmutableString = c.id.as_str().into();
    let campaign_id: ImmutableString = c.campaign_id.as_str().into();
    let name: ImmutableString = c.name.as_str().into();
    let labels: Vec<ImmutableString> = c.labels.iter().map(|l| strings.get(l)).collect();
    let label_values: Array = labels.iter().cloned().map(Dynamic::from).collect();
    let mut since = SHAPES.since.make([(); 4].map(|_| Dynamic::UNIT));
    for (field, when) in &c.last_change_at {
        since.insert(field.as_str().into(), minutes_between(*when, at));
    }
    let schedule: Array = c.ad_schedule.iter().map(|s| slot_map(s, strings)).collect();
    let pending: Array = c
        .pending_fields
        .iter()
        .map(|f| strings.dynamic(f))
        .collect();
    let map = SHAPES.campaign.make([
        Dynamic::from_array(schedule),
        Dynamic::from_map(bidding_map(&c.bidding, strings)),
        units(c.daily_budget_micros),
        Dynamic::from_int(c.daily_budget_micros),
        campaign_id.clone().into(),
        strings.dynamic(&c.customer_id),
        id.clone().into(),
        Dynamic::from_array(label_values),
        int_u64(c.leads_window),
        int_u64(c.leads_today),
        c.manual_override_until.is_some_and(|u| u > at).into(),
        opt(c.manual_override_until.map(iso_utc)),
        Dynamic::from_map(since),
        name.clone().into(),
        (c.status == CampaignStatus::Paused).into(),
        Dynamic::from_array(pending),
        Dynamic::from_map(recent_map(&c.metrics_window, window_minutes)),
        strings.dynamic(status_name(c.status)),
        opt(c.team.as_deref().map(|t| strings.get(t))),
        Dynamic::from_map(metrics_map(&c.metrics_today)),
    ]);
    (Dynamic::from_map(map), [id, campaign_id, name], labels)
}

/// A `team` value (also the values of `teams`).
pub(crate) fn team_map(name: &str, t: &TeamFacts, at: DateTime<Utc>) -> Dynamic {
    let name = if t.team.is_empty() { name } else { &t.team };
    // `age_minutes` and `minutes_since_update` are one fact under two names (the second is
    // the older one, kept for the rules that use it).
    let age = opt(t.updated_at.map(|u| minutes_between(u, at)));
    Dynamic::from_map(SHAPES.team.make([
        age.clone(),
        Dynamic::from_int(INT::from(t.agents_available)),
        Dynamic::from_int(INT::from(t.free_slots())),
        int_u64(t.leads_window),
        Dynamic::from_int(INT::from(t.max_open_leads)),
        age,
        name.into(),
        Dynamic::from_int(INT::from(t.open_leads)),
        Dynamic::from_bool(t.is_stale(at)),
        Dynamic::from_float(t.utilisation()),
    ]))
}

/// The names of the facts rules see, read off the maps this module builds: the keys of
/// `campaign`, `team` (and every `teams[…]`), `now`, and of the fixed-shape maps inside
/// `campaign` (`today`, `recent`, `bidding`). A map whose keys depend on the configuration
/// or the history (`now.open`, `campaign.minutes_since_change`) is not listed.
pub(crate) fn fact_names() -> BTreeMap<&'static str, Vec<String>> {
    fn keys(map: &Map) -> Vec<String> {
        map.keys().map(|k| k.to_string()).collect()
    }
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let now = now_map(at, "UTC", &BTreeMap::new())
        .ok()
        .and_then(|now| now.try_cast::<Map>())
        .map(|now| keys(&now))
        .unwrap_or_default();
    BTreeMap::from([
        ("campaign", keys(&SHAPES.campaign.template)),
        ("campaign.today", keys(&SHAPES.metrics.template)),
        ("campaign.recent", keys(&SHAPES.recent.template)),
        ("campaign.bidding", keys(&SHAPES.bidding.template)),
        ("team", keys(&SHAPES.team.template)),
        ("now", now),
    ])
}

/// A calendar with its intervals parsed: day (0 = Monday) → [(start, end)] in minutes, and
/// its own time zone, if it has one.
#[derive(Debug)]
pub(crate) struct ParsedCalendar {
    days: [Vec<(u32, u32)>; 7],
    holidays: Vec<NaiveDate>,
    zone: Option<chrono_tz::Tz>,
}

impl ParsedCalendar {
    pub(crate) fn parse(name: &str, c: &Calendar) -> Result<ParsedCalendar, String> {
        let zone = match &c.timezone {
            Some(z) => Some(z.parse::<chrono_tz::Tz>().map_err(|_| {
                format!(
                    "calendar {name:?}: unknown time zone {z:?} (use an IANA name such as \
                     Europe/Amsterdam)"
                )
            })?),
            None => None,
        };
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, intervals) in &c.weekly {
            let d = parse_day(day).ok_or_else(|| {
                format!("calendar {name:?}: unknown day {day:?} (use mon, tue, … sun)")
            })?;
            for [start, end] in intervals {
                let s = parse_hhmm(start).filter(|s| *s < 24 * 60);
                let e = parse_hhmm(end);
                match (s, e) {
                    (Some(s), Some(e)) if s < e => days[d as usize].push((s, e)),
                    _ => {
                        return Err(format!(
                            "calendar {name:?}: bad interval [{start:?}, {end:?}] on {day} \
                             (use [\"09:00\", \"17:30\"], start before end)"
                        ))
                    }
                }
            }
        }
        Ok(ParsedCalendar {
            days,
            holidays: c.holidays.clone(),
            zone,
        })
    }

    /// The calendar's own time zone (`None`: the facts' zone).
    pub(crate) fn zone(&self) -> Option<chrono_tz::Tz> {
        self.zone
    }

    pub(crate) fn is_open(&self, date: NaiveDate, weekday: Weekday, minute_of_day: u32) -> bool {
        if self.holidays.contains(&date) {
            return false;
        }
        self.days[weekday.num_days_from_monday() as usize]
            .iter()
            .any(|(s, e)| *s <= minute_of_day && minute_of_day < *e)
    }
}

/// The `now` constant. Fails on an unknown time zone or a bad calendar.
pub(crate) fn now_map(
    at: DateTime<Utc>,
    timezone: &str,
    calendars: &BTreeMap<String, Calendar>,
) -> Result<Dynamic, String> {
    let tz: chrono_tz::Tz = timezone.parse().map_err(|_| {
        format!("unknown time zone {timezone:?} (use an IANA name such as Europe/Amsterdam)")
    })?;
    let local = at.with_timezone(&tz);
    let date = local.date_naive();
    let minute_of_day = local.hour() * 60 + local.minute();
    let mut open = Map::new();
    let mut business_hours = false;
    for (name, calendar) in calendars {
        let parsed = ParsedCalendar::parse(name, calendar)?;
        // A calendar with a zone of its own (a team's) is read in its local time.
        let is_open = match parsed.zone() {
            Some(zone) if zone != tz => {
                let there = at.with_timezone(&zone);
                parsed.is_open(
                    there.date_naive(),
                    there.weekday(),
                    there.hour() * 60 + there.minute(),
                )
            }
            _ => parsed.is_open(date, local.weekday(), minute_of_day),
        };
        if name == "default" {
            business_hours = is_open;
        }
        open.insert(name.as_str().into(), is_open.into());
    }
    let mut m = Map::new();
    m.insert(
        "iso".into(),
        local.to_rfc3339_opts(SecondsFormat::Secs, false).into(),
    );
    m.insert("utc".into(), iso_utc(at).into());
    m.insert("date".into(), date.format("%Y-%m-%d").to_string().into());
    m.insert("year".into(), Dynamic::from_int(INT::from(local.year())));
    m.insert("month".into(), Dynamic::from_int(INT::from(local.month())));
    m.insert("day".into(), Dynamic::from_int(INT::from(local.day())));
    m.insert("hour".into(), Dynamic::from_int(INT::from(local.hour())));
    m.insert(
        "minute".into(),
        Dynamic::from_int(INT::from(local.minute())),
    );
    m.insert("weekday".into(), short_weekday(local.weekday()).into());
    m.insert(
        "minute_of_day".into(),
        Dynamic::from_int(INT::from(minute_of_day)),
    );
    m.insert("timezone".into(), timezone.into());
    m.insert("business_hours".into(), business_hours.into());
    m.insert("open".into(), Dynamic::from_map(open));
    Ok(Dynamic::from_map(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadorch_domain::campaign::CampaignChange;

    #[test]
    fn shapes_are_sorted() {
        // Building the shapes asserts that their keys are sorted.
        assert_eq!(SHAPES.campaign.template.len(), 20);
        let c = CampaignFacts::new("1/2", "n");
        let at: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().expect("valid time");
        let (value, ..) = campaign_map(&c, at, 60, &mut Interner::default());
        let map = value.cast::<Map>();
        assert_eq!(map["id"].to_string(), "1/2");
        assert_eq!(map["status"].to_string(), "enabled");
        assert_eq!(map["leads_recent"].as_int(), Ok(0));
        assert_eq!(
            map["recent"].clone().cast::<Map>()["minutes"].as_int(),
            Ok(60)
        );
    }

    /// Rules see the campaign as the engine asked for it: an open pause makes it `paused`
    /// (ADR 0054), so a rule that resumes only paused campaigns can reverse it.
    #[test]
    fn open_changes_are_on_top_of_what_rules_see() {
        let mut c = CampaignFacts::new("1/2", "n");
        c.daily_budget_micros = 5_000_000;
        c.pending_changes
            .insert("status".into(), CampaignChange::Pause);
        c.pending_changes.insert(
            "daily_budget_micros".into(),
            CampaignChange::SetBudget {
                daily_budget_micros: 7_000_000,
            },
        );
        c.pending_fields = vec!["daily_budget_micros".into(), "status".into()];
        let at: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().expect("valid time");
        let (value, ..) = campaign_map(&c, at, 60, &mut Interner::default());
        let map = value.cast::<Map>();
        assert_eq!(map["status"].to_string(), "paused");
        assert_eq!(map["paused"].as_bool(), Ok(true));
        assert_eq!(map["budget_micros"].as_int(), Ok(7_000_000));
        assert_eq!(map["pending"].clone().into_array().map(|a| a.len()), Ok(2));
        // The facts themselves keep what is known at Google.
        assert_eq!(c.status, CampaignStatus::Enabled);
    }

    #[test]
    fn hhmm_round_trips() {
        assert_eq!(parse_hhmm("09:30"), Some(570));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:15"), None);
        assert_eq!(parse_hhmm("9:5"), None);
        assert_eq!(parse_hhmm("x"), None);
        assert_eq!(hhmm(570), "09:30");
    }

    #[test]
    fn now_in_amsterdam_in_winter() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T08:30:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let mut calendars = BTreeMap::new();
        let mut weekly = BTreeMap::new();
        weekly.insert(
            "mon".to_string(),
            vec![["09:00".to_string(), "17:30".to_string()]],
        );
        calendars.insert(
            "default".to_string(),
            Calendar {
                weekly,
                holidays: vec![],
                timezone: None,
            },
        );
        calendars.insert(
            "sales-ny".to_string(),
            Calendar {
                weekly: calendars["default"].weekly.clone(),
                holidays: vec![],
                timezone: Some("America/New_York".to_string()),
            },
        );
        let now = now_map(at, "Europe/Amsterdam", &calendars).expect("valid");
        let map = now.cast::<Map>();
        // 09:30 in Amsterdam is 03:30 in New York: the team there is closed.
        let open = map["open"].clone().cast::<Map>();
        assert_eq!(open["default"].as_bool(), Ok(true));
        assert_eq!(open["sales-ny"].as_bool(), Ok(false));
        let later = at + chrono::Duration::hours(6);
        let now_later = now_map(later, "Europe/Amsterdam", &calendars).expect("valid");
        let open = now_later.cast::<Map>()["open"].clone().cast::<Map>();
        assert_eq!(open["sales-ny"].as_bool(), Ok(true));
        assert_eq!(
            calendars["sales-ny"].is_open_at("sales-ny", later, chrono_tz::Europe::Amsterdam),
            Ok(true)
        );
        let mut bad = calendars.clone();
        if let Some(c) = bad.get_mut("sales-ny") {
            c.timezone = Some("Mars/Olympus".to_string());
        }
        let err = now_map(at, "Europe/Amsterdam", &bad).unwrap_err();
        assert!(
            err.starts_with("calendar \"sales-ny\": unknown time zone \"Mars/Olympus\""),
            "{err}"
        );
        assert_eq!(map["iso"].to_string(), "2026-03-02T09:30:00+01:00");
        assert_eq!(map["utc"].to_string(), "2026-03-02T08:30:00Z");
        assert_eq!(map["weekday"].to_string(), "mon");
        assert_eq!(map["minute_of_day"].as_int(), Ok(570));
        assert_eq!(map["business_hours"].as_bool(), Ok(true));
        assert!(now_map(at, "Mars/Olympus", &calendars).is_err());
    }
}
