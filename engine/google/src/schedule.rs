//! Ad schedules: days, quarter-hour minutes, slots, and the checks a whole schedule must pass
//! before it is sent.

use std::fmt;

use crate::error::AdsError;
use crate::wire::AdScheduleWire;

/// Day of the week of an ad schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum DayOfWeek {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl DayOfWeek {
    /// All days, Monday first.
    pub const ALL: [DayOfWeek; 7] = [
        Self::Monday,
        Self::Tuesday,
        Self::Wednesday,
        Self::Thursday,
        Self::Friday,
        Self::Saturday,
        Self::Sunday,
    ];

    /// Google's enum name (`MONDAY`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monday => "MONDAY",
            Self::Tuesday => "TUESDAY",
            Self::Wednesday => "WEDNESDAY",
            Self::Thursday => "THURSDAY",
            Self::Friday => "FRIDAY",
            Self::Saturday => "SATURDAY",
            Self::Sunday => "SUNDAY",
        }
    }

    /// Reads Google's enum name.
    pub fn from_api(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for DayOfWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Google's `MinuteOfHour` name of 0, 15, 30 or 45.
pub fn minute_name(minute: u8) -> Option<&'static str> {
    match minute {
        0 => Some("ZERO"),
        15 => Some("FIFTEEN"),
        30 => Some("THIRTY"),
        45 => Some("FORTY_FIVE"),
        _ => None,
    }
}

/// The minute of a `MinuteOfHour` name.
pub fn minute_from_name(name: &str) -> Option<u8> {
    match name {
        "ZERO" => Some(0),
        "FIFTEEN" => Some(15),
        "THIRTY" => Some(30),
        "FORTY_FIVE" => Some(45),
        _ => None,
    }
}

/// One ad schedule slot: `day start_hour:start_minute – end_hour:end_minute`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdScheduleSlot {
    /// The day.
    pub day: DayOfWeek,
    /// 0–23.
    pub start_hour: u8,
    /// 0, 15, 30 or 45.
    pub start_minute: u8,
    /// 0–24 (24 only with minute 0).
    pub end_hour: u8,
    /// 0, 15, 30 or 45.
    pub end_minute: u8,
    /// Bid modifier 0.1–10.0 (1.0 = unchanged); `None` leaves bids as they are.
    pub bid_modifier: Option<f64>,
}

impl fmt::Display for AdScheduleSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}-{:02}:{:02}",
            self.day, self.start_hour, self.start_minute, self.end_hour, self.end_minute
        )
    }
}

/// Most ad schedules Google allows per day of week.
pub const MAX_SLOTS_PER_DAY: usize = 6;

impl AdScheduleSlot {
    fn start(&self) -> u32 {
        u32::from(self.start_hour) * 60 + u32::from(self.start_minute)
    }

    fn end(&self) -> u32 {
        u32::from(self.end_hour) * 60 + u32::from(self.end_minute)
    }

    /// Checks one slot on its own.
    pub fn validate(&self) -> Result<(), String> {
        for (what, m) in [("start", self.start_minute), ("end", self.end_minute)] {
            if minute_name(m).is_none() {
                return Err(format!("{what} minute {m} is not one of 0, 15, 30, 45"));
            }
        }
        if self.start_hour > 23 {
            return Err(format!("start hour {} is not 0-23", self.start_hour));
        }
        if self.end_hour > 24 || (self.end_hour == 24 && self.end_minute != 0) {
            return Err(format!(
                "end {:02}:{:02} is not between 00:00 and 24:00",
                self.end_hour, self.end_minute
            ));
        }
        if self.start() >= self.end() {
            return Err("start is not before end".into());
        }
        if let Some(b) = self.bid_modifier {
            if !(0.1..=10.0).contains(&b) {
                return Err(format!("bid modifier {b} is not within 0.1-10.0"));
            }
        }
        Ok(())
    }

    pub(crate) fn to_wire(self) -> AdScheduleWire {
        AdScheduleWire {
            day_of_week: self.day.as_str().to_owned(),
            start_hour: self.start_hour,
            start_minute: minute_name(self.start_minute).unwrap_or("ZERO").to_owned(),
            end_hour: self.end_hour,
            end_minute: minute_name(self.end_minute).unwrap_or("ZERO").to_owned(),
        }
    }
}

/// Checks a whole schedule: every slot valid, at most [`MAX_SLOTS_PER_DAY`] per day, no
/// overlapping slots on a day. The error names the slot (index and time).
pub fn validate_ad_schedule(slots: &[AdScheduleSlot]) -> Result<(), AdsError> {
    let bad = |i: usize, s: &AdScheduleSlot, why: String| {
        AdsError::Invalid(format!("ad schedule slot {i} ({s}): {why}"))
    };
    for (i, s) in slots.iter().enumerate() {
        s.validate().map_err(|why| bad(i, s, why))?;
    }
    for day in DayOfWeek::ALL {
        let on_day: Vec<(usize, &AdScheduleSlot)> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.day == day)
            .collect();
        if on_day.len() > MAX_SLOTS_PER_DAY {
            let (i, s) = on_day[MAX_SLOTS_PER_DAY];
            return Err(bad(
                i,
                s,
                format!(
                    "{} slots on {day}, at most {MAX_SLOTS_PER_DAY} are allowed",
                    on_day.len()
                ),
            ));
        }
        for (n, (i, a)) in on_day.iter().enumerate() {
            for (j, b) in &on_day[n + 1..] {
                if a.start() < b.end() && b.start() < a.end() {
                    return Err(bad(*j, b, format!("overlaps slot {i} ({a})")));
                }
            }
        }
    }
    Ok(())
}

/// An existing ad schedule criterion of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct AdScheduleCriterion {
    /// `customers/C/campaignCriteria/K~ID` (what [`crate::GoogleAdsClient::replace_ad_schedule`] removes).
    pub resource_name: String,
    /// The criterion id.
    pub criterion_id: i64,
    /// The slot and its bid modifier.
    pub slot: AdScheduleSlot,
}
