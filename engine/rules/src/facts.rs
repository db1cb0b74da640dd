//! What a rule sees: plain data the daemon (or a fixture) assembles for one moment.
//!
//! These types are serializable so a tick's facts can be stored with its decisions and
//! replayed. The host turns them into Rhai values once per tick ([`crate::RuleHost::prepare`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use leadorch_domain::campaign::{
    AdScheduleSlot, Bidding, CampaignChange, CampaignStatus, Currency,
};
use serde::{Deserialize, Serialize};

/// Everything the rules may look at for one evaluation moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The moment being evaluated (never the wall clock: replay passes the recorded time).
    pub at: DateTime<Utc>,
    /// IANA time zone (e.g. `"Europe/Amsterdam"`) for `now`, calendars and cron schedules.
    /// An unknown zone makes every evaluation over these facts fail with
    /// [`crate::EvalError::BadFacts`].
    pub timezone: String,
    /// Business-hours calendars by name; `"default"` drives `now.business_hours`.
    pub calendars: BTreeMap<String, Calendar>,
    /// Length in minutes of the "recent" window used for `metrics_window` and `leads_window`.
    pub window_minutes: u32,
    /// Sales teams by name.
    pub teams: BTreeMap<String, TeamFacts>,
    /// Campaigns, in a stable order (proposals follow this order).
    pub campaigns: Vec<CampaignFacts>,
}

/// A weekly business-hours calendar in local time, with closed days.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// `"mon"`..`"sun"` → opening intervals `[["09:00", "17:30"], …]` (local time, end
    /// exclusive, `"24:00"` allowed as an end). A missing day is closed.
    pub weekly: BTreeMap<String, Vec<[String; 2]>>,
    /// Local dates on which the calendar is closed all day.
    pub holidays: Vec<NaiveDate>,
    /// IANA time zone of its local time (a team's own zone); `None`: the facts' time zone
    /// ([`Facts::timezone`]). An unknown zone makes every evaluation over these facts fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl Calendar {
    /// Whether the calendar is open at a local date and minute of the day (0–1439), as
    /// rules see it in `now.open`. Fails on an unknown day or a bad interval; `name` names
    /// the calendar in the message.
    pub fn is_open(&self, name: &str, date: NaiveDate, minute_of_day: u32) -> Result<bool, String> {
        let parsed = crate::view::ParsedCalendar::parse(name, self)?;
        Ok(parsed.is_open(date, date.weekday(), minute_of_day))
    }

    /// Whether the calendar is open at `at`, read in its own time zone, else in
    /// `default_zone` (the facts' zone, already known to be valid). Fails on an unknown
    /// zone, day or bad interval; `name` names the calendar in the message.
    pub fn is_open_at(
        &self,
        name: &str,
        at: DateTime<Utc>,
        default_zone: chrono_tz::Tz,
    ) -> Result<bool, String> {
        let parsed = crate::view::ParsedCalendar::parse(name, self)?;
        let local = at.with_timezone(&parsed.zone().unwrap_or(default_zone));
        Ok(parsed.is_open(
            local.date_naive(),
            local.weekday(),
            local.hour() * 60 + local.minute(),
        ))
    }
}

/// Capacity of one sales team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamFacts {
    /// Team name.
    pub team: String,
    /// Agents available to take leads now.
    pub agents_available: u32,
    /// Leads assigned and not yet worked.
    pub open_leads: u32,
    /// How many open leads the team can carry.
    pub max_open_leads: u32,
    /// When this capacity snapshot was taken, if known.
    pub updated_at: Option<DateTime<Utc>>,
    /// Leads received by the team in the recent window ([`Facts::window_minutes`]).
    pub leads_window: u64,
    /// How long the snapshot counts as current, seconds (a polled source's `max_age`, carried
    /// by the reading); `None`: it never goes stale (pushed readings, readings from leads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_secs: Option<i64>,
}

impl TeamFacts {
    /// Share of the team's capacity in use: `open_leads / max_open_leads` (may exceed 1).
    ///
    /// With no configured maximum (`max_open_leads == 0`) the team counts as **full** (1.0)
    /// when leads are waiting or nobody is available, and as idle (0.0) otherwise: a team
    /// that cannot say how much it can carry must not attract more leads while it has some
    /// or nobody to work them.
    pub fn utilisation(&self) -> f64 {
        if self.max_open_leads == 0 {
            if self.open_leads > 0 || self.agents_available == 0 {
                1.0
            } else {
                0.0
            }
        } else {
            f64::from(self.open_leads) / f64::from(self.max_open_leads)
        }
    }

    /// Whether the snapshot is older than its `max_age` at `at` (`team.stale`): never without
    /// a snapshot time or a `max_age`.
    pub fn is_stale(&self, at: DateTime<Utc>) -> bool {
        match (self.updated_at, self.max_age_secs) {
            (Some(updated), Some(max)) => (at - updated).num_seconds() > max,
            _ => false,
        }
    }

    /// Open-lead slots left before the maximum is reached (never negative).
    pub fn free_slots(&self) -> u32 {
        self.max_open_leads.saturating_sub(self.open_leads)
    }
}

/// Delivery metrics of a campaign over some period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Cost in micros of the account currency.
    pub cost_micros: i64,
    /// Conversions (fractional with data-driven attribution).
    pub conversions: f64,
}

/// One campaign as the rules see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignFacts {
    /// `"<customer_id>/<campaign_id>"`.
    pub id: String,
    /// Google Ads customer id.
    pub customer_id: String,
    /// Google Ads campaign id.
    pub campaign_id: String,
    /// Campaign name.
    pub name: String,
    /// Labels attached to the campaign.
    pub labels: Vec<String>,
    /// The sales team whose capacity this campaign feeds, if any.
    pub team: Option<String>,
    /// Serving status.
    pub status: CampaignStatus,
    /// Daily budget in micros.
    pub daily_budget_micros: i64,
    /// Bidding strategy.
    pub bidding: Bidding,
    /// Ad schedule; empty means all day, every day.
    pub ad_schedule: Vec<AdScheduleSlot>,
    /// A change made outside the engine is respected until then.
    pub manual_override_until: Option<DateTime<Utc>>,
    /// Field name (`CampaignChange::field()`) → when the engine last requested a change of it
    /// that did not fail for good (a change Google refused starts no cooldown, ADR 0031).
    pub last_change_at: BTreeMap<String, DateTime<Utc>>,
    /// Fields with an engine change requested but not yet applied.
    pub pending_fields: Vec<String>,
    /// Field name → the latest change of it requested and not yet applied: a different
    /// decision replaces it rather than waiting for it (ADR 0054). Empty in decisions recorded
    /// before it existed, which then see only [`CampaignFacts::pending_fields`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_changes: BTreeMap<String, CampaignChange>,
    /// Metrics since local midnight.
    pub metrics_today: Metrics,
    /// Metrics over the recent window.
    pub metrics_window: Metrics,
    /// Leads attributed to this campaign today.
    pub leads_today: u64,
    /// Leads attributed to this campaign in the recent window.
    pub leads_window: u64,
    /// The account's currency, when Google reported it: accepted budgets are rounded down
    /// and target CPAs to the nearest multiple of its unit before anything is requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Field name → the last change of it that failed for good (Google refused it, or it
    /// was only validated): the same change is not asked for again within the field's
    /// dwell or cooldown from then; another value is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, RefusedChange>,
}

/// A change that failed for good ([`CampaignFacts::refused`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusedChange {
    /// The change.
    pub change: CampaignChange,
    /// When it failed.
    pub at: DateTime<Utc>,
}

impl CampaignFacts {
    /// The campaign as the engine has asked for it: each field with its open change
    /// ([`CampaignFacts::pending_changes`]) on top. What rules see, so a rule that only resumes
    /// a paused campaign still sees the pause it asked for before Google applied it, and can
    /// reverse it (ADR 0054).
    pub fn intended(&self) -> CampaignFacts {
        let mut c = self.clone();
        for change in self.pending_changes.values() {
            c.apply(change);
        }
        c
    }

    /// Sets the field `change` changes to its value.
    pub fn apply(&mut self, change: &CampaignChange) {
        match change {
            CampaignChange::Pause => self.status = CampaignStatus::Paused,
            CampaignChange::Resume => self.status = CampaignStatus::Enabled,
            CampaignChange::SetBudget {
                daily_budget_micros,
            } => self.daily_budget_micros = *daily_budget_micros,
            CampaignChange::SetBidTarget { bidding } => self.bidding = bidding.clone(),
            CampaignChange::SetAdSchedule { slots } => self.ad_schedule = slots.clone(),
        }
    }

    /// A campaign with the given id (`"<customer>/<campaign>"`), enabled, no budget, manual
    /// CPC and everything else empty: a starting point for tests and fixtures.
    pub fn new(id: &str, name: &str) -> CampaignFacts {
        let (customer_id, campaign_id) = id.split_once('/').unwrap_or(("", id));
        CampaignFacts {
            id: id.to_string(),
            customer_id: customer_id.to_string(),
            campaign_id: campaign_id.to_string(),
            name: name.to_string(),
            labels: Vec::new(),
            team: None,
            status: CampaignStatus::Enabled,
            daily_budget_micros: 0,
            bidding: Bidding::ManualCpc,
            ad_schedule: Vec::new(),
            manual_override_until: None,
            last_change_at: BTreeMap::new(),
            pending_fields: Vec::new(),
            pending_changes: BTreeMap::new(),
            metrics_today: Metrics::default(),
            metrics_window: Metrics::default(),
            leads_today: 0,
            leads_window: 0,
            currency: None,
            refused: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_is_open_in_its_intervals_except_on_holidays() {
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid");
        let next_monday = NaiveDate::from_ymd_opt(2026, 3, 9).expect("valid");
        let mut c = Calendar::default();
        c.weekly
            .insert("mon".into(), vec![["09:00".into(), "17:30".into()]]);
        c.holidays.push(next_monday);
        assert_eq!(c.is_open("office", monday, 9 * 60), Ok(true));
        assert_eq!(c.is_open("office", monday, 17 * 60 + 30), Ok(false));
        assert_eq!(
            c.is_open("office", monday.succ_opt().unwrap(), 600),
            Ok(false)
        );
        assert_eq!(c.is_open("office", next_monday, 600), Ok(false));
        c.weekly.insert("someday".into(), vec![]);
        let err = c.is_open("office", monday, 600).unwrap_err();
        assert!(
            err.contains("calendar \"office\": unknown day \"someday\""),
            "{err}"
        );
    }
}
