//! A campaign's value types: snapshots, ad schedules, the changes the engine can make and
//! how they ended, hourly metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CampaignError;

/// Most ad schedule slots Google Ads allows per campaign and day.
pub const MAX_SLOTS_PER_DAY: usize = 6;

/// Serving status of a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Serving (subject to budget and schedule).
    Enabled,
    /// Not serving.
    Paused,
    /// Deleted in Google Ads; cannot be changed any more.
    Removed,
}

/// Bidding strategy of a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bidding {
    /// Manual cost per click.
    ManualCpc,
    /// Maximize conversions without a target.
    MaximizeConversions,
    /// Target cost per acquisition.
    TargetCpa {
        /// Target CPA in micros of the account currency.
        target_cpa_micros: i64,
    },
    /// Target return on ad spend.
    TargetRoas {
        /// Target ROAS as a ratio (e.g. 3.5 = 350 %).
        target_roas: f64,
    },
    /// Any other strategy, by its Google Ads name. Observed only; the engine never sets it.
    Other(String),
}

/// Day of the week of an ad schedule slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// One ad schedule slot: when ads may serve on a day, with an optional bid modifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdScheduleSlot {
    /// Day of the week.
    pub day_of_week: DayOfWeek,
    /// Start hour, 0–23.
    pub start_hour: u8,
    /// Start minute: 0, 15, 30 or 45.
    pub start_minute: u8,
    /// End hour, 0–24 (24 only with minute 0).
    pub end_hour: u8,
    /// End minute: 0, 15, 30 or 45.
    pub end_minute: u8,
    /// Bid modifier, 0.1–10.0, if any.
    pub bid_modifier: Option<f64>,
}

impl AdScheduleSlot {
    /// Minutes since midnight of the start.
    pub fn start(&self) -> u32 {
        u32::from(self.start_hour) * 60 + u32::from(self.start_minute)
    }

    /// Minutes since midnight of the end.
    pub fn end(&self) -> u32 {
        u32::from(self.end_hour) * 60 + u32::from(self.end_minute)
    }
}

/// What a campaign looks like at one moment (as observed, or as known after applied changes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignSnapshot {
    /// Campaign name.
    pub name: String,
    /// Labels attached to the campaign.
    pub labels: Vec<String>,
    /// Serving status.
    pub status: CampaignStatus,
    /// Daily budget in micros of the account currency.
    pub daily_budget_micros: i64,
    /// Bidding strategy.
    pub bidding: Bidding,
    /// Ad schedule; empty means "all day, every day".
    pub ad_schedule: Vec<AdScheduleSlot>,
}

/// A change field's name, as reported in [`CampaignEvent::ChangedOutsideEngine`].
pub mod field {
    /// [`super::CampaignSnapshot::status`].
    pub const STATUS: &str = "status";
    /// [`super::CampaignSnapshot::daily_budget_micros`].
    pub const DAILY_BUDGET_MICROS: &str = "daily_budget_micros";
    /// [`super::CampaignSnapshot::bidding`].
    pub const BIDDING: &str = "bidding";
    /// [`super::CampaignSnapshot::ad_schedule`].
    pub const AD_SCHEDULE: &str = "ad_schedule";
    /// All fields watched for outside changes, in reporting order.
    pub const WATCHED: [&str; 4] = [STATUS, DAILY_BUDGET_MICROS, BIDDING, AD_SCHEDULE];
}

impl CampaignSnapshot {
    /// The watched fields ([`field::WATCHED`]) in which `other` differs from `self`.
    /// Schedules are compared regardless of slot order.
    pub fn changed_fields(&self, other: &CampaignSnapshot) -> Vec<&'static str> {
        field::WATCHED
            .into_iter()
            .filter(|f| !self.same_field(other, f))
            .collect()
    }

    pub(super) fn same_field(&self, other: &CampaignSnapshot, field_name: &str) -> bool {
        match field_name {
            field::STATUS => self.status == other.status,
            field::DAILY_BUDGET_MICROS => self.daily_budget_micros == other.daily_budget_micros,
            field::BIDDING => self.bidding == other.bidding,
            field::AD_SCHEDULE => {
                sorted_schedule(&self.ad_schedule) == sorted_schedule(&other.ad_schedule)
            }
            _ => true,
        }
    }
}

fn sorted_schedule(slots: &[AdScheduleSlot]) -> Vec<&AdScheduleSlot> {
    let mut sorted: Vec<&AdScheduleSlot> = slots.iter().collect();
    sorted.sort_by_key(|s| (s.day_of_week, s.start(), s.end()));
    sorted
}

/// A change the engine can make to a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignChange {
    /// Set the status to paused.
    Pause,
    /// Set the status to enabled.
    Resume,
    /// Set the daily budget.
    SetBudget {
        /// New daily budget in micros; must be positive.
        daily_budget_micros: i64,
    },
    /// Set the bidding strategy or its target.
    SetBidTarget {
        /// New bidding; never [`Bidding::Other`].
        bidding: Bidding,
    },
    /// Replace the ad schedule.
    SetAdSchedule {
        /// New slots; empty means "all day, every day".
        slots: Vec<AdScheduleSlot>,
    },
}

impl CampaignChange {
    /// The snapshot field this change touches (one of [`field::WATCHED`]).
    pub fn field(&self) -> &'static str {
        match self {
            CampaignChange::Pause | CampaignChange::Resume => field::STATUS,
            CampaignChange::SetBudget { .. } => field::DAILY_BUDGET_MICROS,
            CampaignChange::SetBidTarget { .. } => field::BIDDING,
            CampaignChange::SetAdSchedule { .. } => field::AD_SCHEDULE,
        }
    }

    /// Writes the change into a snapshot.
    pub fn apply_to(&self, snapshot: &mut CampaignSnapshot) {
        match self {
            CampaignChange::Pause => snapshot.status = CampaignStatus::Paused,
            CampaignChange::Resume => snapshot.status = CampaignStatus::Enabled,
            CampaignChange::SetBudget {
                daily_budget_micros,
            } => snapshot.daily_budget_micros = *daily_budget_micros,
            CampaignChange::SetBidTarget { bidding } => snapshot.bidding = bidding.clone(),
            CampaignChange::SetAdSchedule { slots } => snapshot.ad_schedule = slots.clone(),
        }
    }

    /// Checks the change against Google Ads' limits.
    pub fn validate(&self) -> Result<(), CampaignError> {
        match self {
            CampaignChange::Pause | CampaignChange::Resume => Ok(()),
            CampaignChange::SetBudget {
                daily_budget_micros,
            } => {
                if *daily_budget_micros <= 0 {
                    return Err(CampaignError::InvalidBudget(*daily_budget_micros));
                }
                Ok(())
            }
            CampaignChange::SetBidTarget { bidding } => match bidding {
                Bidding::ManualCpc | Bidding::MaximizeConversions => Ok(()),
                Bidding::TargetCpa { target_cpa_micros } if *target_cpa_micros > 0 => Ok(()),
                Bidding::TargetCpa { .. } => Err(CampaignError::InvalidBidTarget),
                Bidding::TargetRoas { target_roas }
                    if target_roas.is_finite() && *target_roas > 0.0 =>
                {
                    Ok(())
                }
                Bidding::TargetRoas { .. } => Err(CampaignError::InvalidBidTarget),
                Bidding::Other(_) => Err(CampaignError::UnsupportedBidding),
            },
            CampaignChange::SetAdSchedule { slots } => validate_schedule(slots),
        }
    }
}

fn validate_schedule(slots: &[AdScheduleSlot]) -> Result<(), CampaignError> {
    for slot in slots {
        let minutes_ok = [slot.start_minute, slot.end_minute]
            .iter()
            .all(|m| matches!(m, 0 | 15 | 30 | 45));
        if !minutes_ok {
            return Err(CampaignError::InvalidScheduleMinute);
        }
        if slot.start_hour > 23
            || slot.end_hour > 24
            || (slot.end_hour == 24 && slot.end_minute != 0)
        {
            return Err(CampaignError::InvalidScheduleHour);
        }
        if slot.start() >= slot.end() {
            return Err(CampaignError::SlotStartNotBeforeEnd);
        }
        if let Some(modifier) = slot.bid_modifier {
            if !(0.1..=10.0).contains(&modifier) {
                return Err(CampaignError::InvalidBidModifier);
            }
        }
    }
    let mut by_day: BTreeMap<DayOfWeek, Vec<&AdScheduleSlot>> = BTreeMap::new();
    for slot in slots {
        by_day.entry(slot.day_of_week).or_default().push(slot);
    }
    for (day, mut day_slots) in by_day {
        if day_slots.len() > MAX_SLOTS_PER_DAY {
            return Err(CampaignError::TooManySlots(day));
        }
        day_slots.sort_by_key(|s| s.start());
        if day_slots.windows(2).any(|w| w[1].start() < w[0].end()) {
            return Err(CampaignError::OverlappingSlots(day));
        }
    }
    Ok(())
}

/// How a requested change ended (so far).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    /// Requested, not yet applied.
    Requested,
    /// Applied in Google Ads.
    Applied {
        /// When.
        at: DateTime<Utc>,
    },
    /// The last attempt failed.
    Failed {
        /// What Google Ads or the executor reported.
        error: String,
        /// Whether another attempt may succeed; a retryable failure keeps the change open.
        retryable: bool,
        /// When.
        at: DateTime<Utc>,
    },
}

/// One change the engine requested.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The change.
    pub change: CampaignChange,
    /// Why it was requested (empty once its Google account was forgotten).
    pub reason: String,
    /// The decision that asked for it, if any.
    pub decision_ref: Option<String>,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// How it ended so far.
    pub state: ChangeState,
}

impl ChangeRecord {
    /// Still waiting to be applied: requested, or failed in a retryable way.
    pub fn is_open(&self) -> bool {
        match self.state {
            ChangeState::Requested => true,
            ChangeState::Applied { .. } => false,
            ChangeState::Failed { retryable, .. } => retryable,
        }
    }
}

/// Performance of a campaign over one hour, as reported by Google Ads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HourMetrics {
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Cost in micros of the account currency.
    pub cost_micros: i64,
    /// Conversions (fractional with data-driven attribution).
    pub conversions: f64,
}
