//! Google Ads campaigns as the engine knows them: what was last observed, which changes the
//! engine asked for and how they ended, and whether someone changed the campaign outside the
//! engine (which the engine then respects for a while instead of undoing it).
//!
//! The aggregate id is `"<customer_id>/<campaign_id>"` ([`Campaign::aggregate_id`]).
//!
//! How outside changes are told apart from the engine's own: every change the engine
//! requests is tracked by `change_id`. When it is marked applied, the aggregate's known state
//! is updated, so the next observation matches. When an observation arrives *before* the
//! change is marked applied (the executor raced the poller), a difference that an open
//! change would produce is also not counted as an outside change.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

/// Event types of this aggregate with their current schema versions.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("CampaignObserved", "2.0"),
    ("ChangedOutsideEngine", "2.0"),
    ("ChangeRequested", "2.0"),
    ("ChangeApplied", "1.0"),
    ("ChangeFailed", "1.0"),
    ("MetricsRecorded", "2.0"),
];

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

    fn same_field(&self, other: &CampaignSnapshot, field_name: &str) -> bool {
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

/// Commands of a [`Campaign`].
#[derive(Clone, Debug, PartialEq)]
pub enum CampaignCommand {
    /// Record what the campaign looks like in Google Ads now.
    Observe {
        /// Google Ads customer id.
        customer_id: String,
        /// Google Ads campaign id.
        campaign_id: String,
        /// What was read.
        snapshot: CampaignSnapshot,
        /// How long a change made outside the engine is respected (not undone).
        manual_hold: Duration,
        /// The Google account it was read through (`None`: not read from Google).
        google_account: Option<String>,
        /// When it was read.
        at: DateTime<Utc>,
    },
    /// Ask for a change (the executor applies it later).
    RequestChange {
        /// Id of the change, unique per campaign.
        change_id: String,
        /// The change.
        change: CampaignChange,
        /// Why.
        reason: String,
        /// The decision that asked for it, if any.
        decision_ref: Option<String>,
        /// The Google account the campaign is read through, whose key seals `reason` (rules
        /// write it from the campaign's facts); `None` when not from Google.
        google_account: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that a requested change was applied in Google Ads.
    MarkApplied {
        /// The change.
        change_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record the campaign's metrics for one hour (a later report of the same hour
    /// supersedes an earlier one).
    RecordMetrics {
        /// Start of the hour (UTC, on the hour).
        hour_start: DateTime<Utc>,
        /// The figures.
        metrics: HourMetrics,
        /// The Google account they were read through (`None`: not read from Google).
        google_account: Option<String>,
        /// When they were read.
        at: DateTime<Utc>,
    },
    /// Record that applying a requested change failed.
    MarkFailed {
        /// The change.
        change_id: String,
        /// What went wrong.
        error: String,
        /// Whether another attempt may succeed.
        retryable: bool,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Events of a [`Campaign`].
///
/// What was read from Google (snapshots, metrics) is Google user data: when the event names
/// the `google_account` it was read through, those fields are sealed with that account's
/// [`KeyPurpose::GoogleAds`] key, and read as `None` once the account is forgotten (or by
/// readers that do not decrypt); so is the reason of a change requested for such a campaign
/// (a rule's text, which may quote them). Customer and campaign ids (the stream id), change
/// ids, the changes the engine requested and their outcomes stay in clear (ADR 0012).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CampaignEvent {
    /// The campaign was read from Google Ads and differed from what was known (or was new).
    CampaignObserved {
        /// Google Ads customer id.
        customer_id: String,
        /// Google Ads campaign id.
        campaign_id: String,
        /// What was read. Personal ([`KeyPurpose::GoogleAds`]) when read from Google.
        #[serde(default, deserialize_with = "crate::personal::sealed_or_none")]
        snapshot: Option<CampaignSnapshot>,
        /// The Google account it was read through, whose data key seals the Google data
        /// ([`KeyPurpose::GoogleAds`]); `None` when not read from Google (the simulator):
        /// then nothing is sealed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        google_account: Option<String>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// Someone changed watched fields outside the engine; the engine holds off until
    /// `hold_until`.
    ChangedOutsideEngine {
        /// Watched fields that changed ([`field::WATCHED`] names).
        changed_fields: Vec<String>,
        /// What the engine knew before. Personal ([`KeyPurpose::GoogleAds`]) when read from
        /// Google.
        #[serde(default, deserialize_with = "crate::personal::sealed_or_none")]
        before: Option<CampaignSnapshot>,
        /// What was observed. Personal ([`KeyPurpose::GoogleAds`]) when read from Google.
        #[serde(default, deserialize_with = "crate::personal::sealed_or_none")]
        after: Option<CampaignSnapshot>,
        /// The Google account it was read through, whose data key seals the Google data
        /// ([`KeyPurpose::GoogleAds`]); `None` when not read from Google (the simulator):
        /// then nothing is sealed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        google_account: Option<String>,
        /// Until when the manual change is respected.
        hold_until: DateTime<Utc>,
        /// When it was noticed.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The engine asked for a change.
    ChangeRequested {
        /// Id of the change.
        change_id: String,
        /// The change.
        change: CampaignChange,
        /// Why (a rule's text, which may quote the campaign's facts). Personal
        /// ([`KeyPurpose::GoogleAds`]) when the campaign is read from Google.
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        reason: Option<String>,
        /// The decision that asked for it, if any.
        decision_ref: Option<String>,
        /// The Google account whose key seals `reason` (`None`: not from Google).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        google_account: Option<String>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// A requested change was applied in Google Ads.
    ChangeApplied {
        /// Id of the change.
        change_id: String,
        /// The change (repeated so that readers need not look it up).
        change: CampaignChange,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// Metrics of one hour were read (a later report of the same hour supersedes an earlier
    /// one).
    MetricsRecorded {
        /// Start of the hour (UTC, on the hour).
        hour_start: DateTime<Utc>,
        /// The figures. Personal ([`KeyPurpose::GoogleAds`]) when read from Google.
        #[serde(default, deserialize_with = "crate::personal::sealed_or_none")]
        metrics: Option<HourMetrics>,
        /// The Google account they were read through, whose data key seals the Google data
        /// ([`KeyPurpose::GoogleAds`]); `None` when not read from Google (the simulator):
        /// then nothing is sealed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        google_account: Option<String>,
        /// When they were read.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// Applying a requested change failed.
    ChangeFailed {
        /// Id of the change.
        change_id: String,
        /// What went wrong.
        error: String,
        /// Whether another attempt may succeed (the change then stays open).
        retryable: bool,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`CampaignCommand`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CampaignError {
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// The observation is of another campaign than this aggregate's. HTTP 409.
    #[error("observation of {found:?} sent to campaign {expected:?}")]
    CampaignMismatch {
        /// This aggregate's `customer_id/campaign_id`.
        expected: String,
        /// The command's.
        found: String,
    },
    /// The manual hold is negative or too large to add to `at`. HTTP 422.
    #[error("manual hold must be a non-negative duration")]
    InvalidManualHold,
    /// The observation is older than the last one. HTTP 409.
    #[error("observation at {at} is older than the last one at {last}")]
    ObservationOutOfOrder {
        /// Time of the last observation.
        last: DateTime<Utc>,
        /// Time of this one.
        at: DateTime<Utc>,
    },
    /// The campaign was never observed, so nothing is known to change. HTTP 409.
    #[error("campaign was never observed")]
    NotObserved,
    /// The campaign is removed in Google Ads. HTTP 409.
    #[error("campaign is removed")]
    Removed,
    /// The change id was used before. HTTP 409.
    #[error("change {0:?} already requested")]
    ChangeIdReused(String),
    /// The daily budget is not positive. HTTP 422.
    #[error("daily budget must be positive, got {0} micros")]
    InvalidBudget(i64),
    /// The bid target is not positive (and finite). HTTP 422.
    #[error("bid target must be positive")]
    InvalidBidTarget,
    /// The engine cannot set this bidding strategy. HTTP 422.
    #[error("bidding strategy cannot be set by the engine")]
    UnsupportedBidding,
    /// A schedule minute is not 0, 15, 30 or 45. HTTP 422.
    #[error("schedule minutes must be 0, 15, 30 or 45")]
    InvalidScheduleMinute,
    /// A schedule hour is out of range (start 0–23, end 0–24, 24 only as 24:00). HTTP 422.
    #[error("schedule hours must be 0-23 (start) and 0-24 (end, 24:00 at most)")]
    InvalidScheduleHour,
    /// A slot does not start before it ends. HTTP 422.
    #[error("schedule slot must start before it ends")]
    SlotStartNotBeforeEnd,
    /// More than [`MAX_SLOTS_PER_DAY`] slots on one day. HTTP 422.
    #[error("more than 6 schedule slots on {0:?}")]
    TooManySlots(DayOfWeek),
    /// Two slots on one day overlap. HTTP 422.
    #[error("schedule slots overlap on {0:?}")]
    OverlappingSlots(DayOfWeek),
    /// A bid modifier is outside 0.1–10.0. HTTP 422.
    #[error("bid modifier must be between 0.1 and 10.0")]
    InvalidBidModifier,
    /// Metrics with a negative cost, negative or non-finite conversions, or an hour that does
    /// not start on the hour. HTTP 422.
    #[error("invalid metrics: {0}")]
    InvalidMetrics(&'static str),
    /// No change with that id was requested. HTTP 404.
    #[error("no change {0:?}")]
    UnknownChange(String),
    /// The change was already applied or failed for good. HTTP 409.
    #[error("change {0:?} already finished")]
    ChangeFinished(String),
}

/// A campaign as the engine knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    customer_id: Option<String>,
    campaign_id: Option<String>,
    known: Option<CampaignSnapshot>,
    last_observed_at: Option<DateTime<Utc>>,
    changes: BTreeMap<String, ChangeRecord>,
    manual_override_until: Option<DateTime<Utc>>,
}

impl Campaign {
    /// The aggregate id of a campaign: `"<customer_id>/<campaign_id>"`.
    pub fn aggregate_id(customer_id: &str, campaign_id: &str) -> String {
        format!("{customer_id}/{campaign_id}")
    }

    /// Google Ads customer id, once observed.
    pub fn customer_id(&self) -> Option<&str> {
        self.customer_id.as_deref()
    }

    /// Google Ads campaign id, once observed.
    pub fn campaign_id(&self) -> Option<&str> {
        self.campaign_id.as_deref()
    }

    /// What the engine believes the campaign looks like: the last observation with applied
    /// changes on top.
    pub fn snapshot(&self) -> Option<&CampaignSnapshot> {
        self.known.as_ref()
    }

    /// Current status, once observed.
    pub fn status(&self) -> Option<CampaignStatus> {
        self.known.as_ref().map(|k| k.status)
    }

    /// When the campaign was last observed.
    pub fn last_observed_at(&self) -> Option<DateTime<Utc>> {
        self.last_observed_at
    }

    /// Until when a manual change outside the engine is respected.
    pub fn manual_override_until(&self) -> Option<DateTime<Utc>> {
        self.manual_override_until
    }

    /// Whether a manual change outside the engine is still respected at `at`.
    pub fn is_manually_held(&self, at: DateTime<Utc>) -> bool {
        self.manual_override_until.is_some_and(|until| at < until)
    }

    /// One requested change, by id.
    pub fn change(&self, change_id: &str) -> Option<&ChangeRecord> {
        self.changes.get(change_id)
    }

    /// Changes still waiting to be applied, by id.
    pub fn pending_changes(&self) -> impl Iterator<Item = (&str, &ChangeRecord)> {
        self.changes
            .iter()
            .filter(|(_, c)| c.is_open())
            .map(|(id, c)| (id.as_str(), c))
    }

    /// Whether `field_name` differs between `known` and `observed` only because an open
    /// change already took effect in Google Ads.
    fn explained_by_open_change(
        &self,
        known: &CampaignSnapshot,
        observed: &CampaignSnapshot,
        field_name: &str,
    ) -> bool {
        self.changes
            .values()
            .filter(|c| c.is_open() && c.change.field() == field_name)
            .any(|c| {
                let mut expected = known.clone();
                c.change.apply_to(&mut expected);
                expected.same_field(observed, field_name)
            })
    }

    fn open_change(&self, change_id: &str) -> Result<&ChangeRecord, CampaignError> {
        let record = self
            .changes
            .get(change_id)
            .ok_or_else(|| CampaignError::UnknownChange(change_id.to_owned()))?;
        if !record.is_open() {
            return Err(CampaignError::ChangeFinished(change_id.to_owned()));
        }
        Ok(record)
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: CampaignCommand) -> Result<Vec<CampaignEvent>, CampaignError> {
        match command {
            CampaignCommand::Observe {
                customer_id,
                campaign_id,
                snapshot,
                manual_hold,
                google_account,
                at,
            } => {
                if is_blank(&customer_id) {
                    return Err(CampaignError::EmptyField("customer_id"));
                }
                if is_blank(&campaign_id) {
                    return Err(CampaignError::EmptyField("campaign_id"));
                }
                if let (Some(known_customer), Some(known_campaign)) =
                    (&self.customer_id, &self.campaign_id)
                {
                    if *known_customer != customer_id || *known_campaign != campaign_id {
                        return Err(CampaignError::CampaignMismatch {
                            expected: Campaign::aggregate_id(known_customer, known_campaign),
                            found: Campaign::aggregate_id(&customer_id, &campaign_id),
                        });
                    }
                }
                if manual_hold < Duration::zero() {
                    return Err(CampaignError::InvalidManualHold);
                }
                let hold_until = at
                    .checked_add_signed(manual_hold)
                    .ok_or(CampaignError::InvalidManualHold)?;
                if let Some(last) = self.last_observed_at {
                    if at < last {
                        return Err(CampaignError::ObservationOutOfOrder { last, at });
                    }
                }
                if google_account.as_deref().is_some_and(is_blank) {
                    return Err(CampaignError::EmptyField("google_account"));
                }
                // Nothing known (never observed, or its Google data was deleted): a first
                // observation.
                let Some(known) = &self.known else {
                    return Ok(vec![CampaignEvent::CampaignObserved {
                        customer_id,
                        campaign_id,
                        snapshot: Some(snapshot),
                        google_account,
                        at,
                    }]);
                };
                if *known == snapshot {
                    return Ok(vec![]);
                }
                let changed_fields: Vec<String> = known
                    .changed_fields(&snapshot)
                    .into_iter()
                    .filter(|f| !self.explained_by_open_change(known, &snapshot, f))
                    .map(str::to_owned)
                    .collect();
                let mut events = vec![CampaignEvent::CampaignObserved {
                    customer_id,
                    campaign_id,
                    snapshot: Some(snapshot.clone()),
                    google_account: google_account.clone(),
                    at,
                }];
                if !changed_fields.is_empty() {
                    events.push(CampaignEvent::ChangedOutsideEngine {
                        changed_fields,
                        before: Some(known.clone()),
                        after: Some(snapshot),
                        google_account,
                        hold_until,
                        at,
                    });
                }
                Ok(events)
            }
            CampaignCommand::RequestChange {
                change_id,
                change,
                reason,
                decision_ref,
                google_account,
                at,
            } => {
                let known = self.known.as_ref().ok_or(CampaignError::NotObserved)?;
                if known.status == CampaignStatus::Removed {
                    return Err(CampaignError::Removed);
                }
                if is_blank(&change_id) {
                    return Err(CampaignError::EmptyField("change_id"));
                }
                if self.changes.contains_key(&change_id) {
                    return Err(CampaignError::ChangeIdReused(change_id));
                }
                if is_blank(&reason) {
                    return Err(CampaignError::EmptyField("reason"));
                }
                if decision_ref.as_deref().is_some_and(is_blank) {
                    return Err(CampaignError::EmptyField("decision_ref"));
                }
                if google_account.as_deref().is_some_and(is_blank) {
                    return Err(CampaignError::EmptyField("google_account"));
                }
                change.validate()?;
                Ok(vec![CampaignEvent::ChangeRequested {
                    change_id,
                    change,
                    reason: Some(reason),
                    decision_ref,
                    google_account,
                    at,
                }])
            }
            CampaignCommand::MarkApplied { change_id, at } => {
                let record = self.open_change(&change_id)?;
                Ok(vec![CampaignEvent::ChangeApplied {
                    change: record.change.clone(),
                    change_id,
                    at,
                }])
            }
            CampaignCommand::RecordMetrics {
                hour_start,
                metrics,
                google_account,
                at,
            } => {
                if self.known.is_none() {
                    return Err(CampaignError::NotObserved);
                }
                if google_account.as_deref().is_some_and(is_blank) {
                    return Err(CampaignError::EmptyField("google_account"));
                }
                if metrics.cost_micros < 0 {
                    return Err(CampaignError::InvalidMetrics("cost_micros is negative"));
                }
                if !metrics.conversions.is_finite() || metrics.conversions < 0.0 {
                    return Err(CampaignError::InvalidMetrics(
                        "conversions must be a finite number >= 0",
                    ));
                }
                if hour_start.timestamp().rem_euclid(3600) != 0
                    || hour_start.timestamp_subsec_nanos() != 0
                {
                    return Err(CampaignError::InvalidMetrics(
                        "hour_start must be on the hour",
                    ));
                }
                Ok(vec![CampaignEvent::MetricsRecorded {
                    hour_start,
                    metrics: Some(metrics),
                    google_account,
                    at,
                }])
            }
            CampaignCommand::MarkFailed {
                change_id,
                error,
                retryable,
                at,
            } => {
                self.open_change(&change_id)?;
                if is_blank(&error) {
                    return Err(CampaignError::EmptyField("error"));
                }
                Ok(vec![CampaignEvent::ChangeFailed {
                    change_id,
                    error,
                    retryable,
                    at,
                }])
            }
        }
    }
}

impl Campaign {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: CampaignEvent) {
        match event {
            CampaignEvent::CampaignObserved {
                customer_id,
                campaign_id,
                snapshot,
                at,
                ..
            } => {
                self.customer_id = Some(customer_id);
                self.campaign_id = Some(campaign_id);
                // `None` once its Google data was deleted: then nothing is known of it.
                self.known = snapshot;
                self.last_observed_at = Some(at);
            }
            CampaignEvent::ChangedOutsideEngine { hold_until, .. } => {
                self.manual_override_until = Some(match self.manual_override_until {
                    Some(current) if current > hold_until => current,
                    _ => hold_until,
                });
            }
            CampaignEvent::ChangeRequested {
                change_id,
                change,
                reason,
                decision_ref,
                at,
                ..
            } => {
                self.changes.insert(
                    change_id,
                    ChangeRecord {
                        change,
                        // Empty once the campaign's Google account was forgotten.
                        reason: reason.unwrap_or_default(),
                        decision_ref,
                        requested_at: at,
                        state: ChangeState::Requested,
                    },
                );
            }
            CampaignEvent::ChangeApplied {
                change_id,
                change,
                at,
            } => {
                if let Some(known) = &mut self.known {
                    change.apply_to(known);
                }
                if let Some(record) = self.changes.get_mut(&change_id) {
                    record.state = ChangeState::Applied { at };
                }
            }
            // Metrics are facts for rules and backtests (folded by their views), not state
            // a command decides on.
            CampaignEvent::MetricsRecorded { .. } => {}
            CampaignEvent::ChangeFailed {
                change_id,
                error,
                retryable,
                at,
            } => {
                if let Some(record) = self.changes.get_mut(&change_id) {
                    record.state = ChangeState::Failed {
                        error,
                        retryable,
                        at,
                    };
                }
            }
        }
    }
}

impl DomainEvent for CampaignEvent {
    fn event_type(&self) -> String {
        match self {
            CampaignEvent::CampaignObserved { .. } => "CampaignObserved",
            CampaignEvent::ChangedOutsideEngine { .. } => "ChangedOutsideEngine",
            CampaignEvent::ChangeRequested { .. } => "ChangeRequested",
            CampaignEvent::ChangeApplied { .. } => "ChangeApplied",
            CampaignEvent::ChangeFailed { .. } => "ChangeFailed",
            CampaignEvent::MetricsRecorded { .. } => "MetricsRecorded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            CampaignEvent::CampaignObserved { .. }
            | CampaignEvent::ChangedOutsideEngine { .. }
            | CampaignEvent::ChangeRequested { .. }
            | CampaignEvent::MetricsRecorded { .. } => "2.0",
            CampaignEvent::ChangeApplied { .. } | CampaignEvent::ChangeFailed { .. } => "1.0",
        }
        .to_owned()
    }
}

const fn google_ads(pointer: &'static str) -> PersonalField {
    PersonalField {
        pointer,
        purpose: KeyPurpose::GoogleAds,
    }
}

const OBSERVED_FIELDS: &[PersonalField] = &[google_ads("/CampaignObserved/snapshot")];
const OUTSIDE_FIELDS: &[PersonalField] = &[
    google_ads("/ChangedOutsideEngine/before"),
    google_ads("/ChangedOutsideEngine/after"),
];
const METRICS_FIELDS: &[PersonalField] = &[google_ads("/MetricsRecorded/metrics")];
const REQUESTED_FIELDS: &[PersonalField] = &[google_ads("/ChangeRequested/reason")];

impl PersonalData for CampaignEvent {
    /// The Google account the data was read through (none for the engine's own events and
    /// for data not read from Google).
    fn data_subject(&self) -> Option<&str> {
        match self {
            CampaignEvent::CampaignObserved { google_account, .. }
            | CampaignEvent::ChangedOutsideEngine { google_account, .. }
            | CampaignEvent::ChangeRequested { google_account, .. }
            | CampaignEvent::MetricsRecorded { google_account, .. } => google_account.as_deref(),
            CampaignEvent::ChangeApplied { .. } | CampaignEvent::ChangeFailed { .. } => None,
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        if self.data_subject().is_none() {
            return &[];
        }
        match self {
            CampaignEvent::CampaignObserved { .. } => OBSERVED_FIELDS,
            CampaignEvent::ChangedOutsideEngine { .. } => OUTSIDE_FIELDS,
            CampaignEvent::MetricsRecorded { .. } => METRICS_FIELDS,
            CampaignEvent::ChangeRequested { .. } => REQUESTED_FIELDS,
            CampaignEvent::ChangeApplied { .. } | CampaignEvent::ChangeFailed { .. } => &[],
        }
    }
}

#[cfg(test)]
fn sample_snapshot() -> CampaignSnapshot {
    CampaignSnapshot {
        name: "Search NL".into(),
        labels: vec!["leadorch".into()],
        status: CampaignStatus::Enabled,
        daily_budget_micros: 50_000_000,
        bidding: Bidding::MaximizeConversions,
        ad_schedule: vec![AdScheduleSlot {
            day_of_week: DayOfWeek::Monday,
            start_hour: 8,
            start_minute: 0,
            end_hour: 18,
            end_minute: 30,
            bid_modifier: Some(1.2),
        }],
    }
}

/// One sample of every event variant.
#[cfg(test)]
pub(crate) fn samples() -> Vec<CampaignEvent> {
    use crate::testutil::t;
    let mut paused = sample_snapshot();
    paused.status = CampaignStatus::Paused;
    vec![
        CampaignEvent::CampaignObserved {
            customer_id: "1234567890".into(),
            campaign_id: "987".into(),
            snapshot: Some(sample_snapshot()),
            google_account: Some("ops".into()),
            at: t(0),
        },
        CampaignEvent::ChangedOutsideEngine {
            changed_fields: vec![field::STATUS.into()],
            before: Some(sample_snapshot()),
            after: Some(paused),
            google_account: Some("ops".into()),
            hold_until: t(120),
            at: t(1),
        },
        CampaignEvent::ChangeRequested {
            change_id: "chg-1".into(),
            change: CampaignChange::SetBidTarget {
                bidding: Bidding::TargetRoas { target_roas: 3.5 },
            },
            reason: Some("rule roas".into()),
            decision_ref: Some("dec-1".into()),
            google_account: Some("ops".into()),
            at: t(2),
        },
        CampaignEvent::ChangeApplied {
            change_id: "chg-1".into(),
            change: CampaignChange::SetBidTarget {
                bidding: Bidding::TargetRoas { target_roas: 3.5 },
            },
            at: t(3),
        },
        CampaignEvent::ChangeFailed {
            change_id: "chg-2".into(),
            error: "RESOURCE_EXHAUSTED".into(),
            retryable: true,
            at: t(4),
        },
        CampaignEvent::MetricsRecorded {
            hour_start: t(0),
            metrics: Some(HourMetrics {
                impressions: 1200,
                clicks: 60,
                cost_micros: 42_000_000,
                conversions: 3.0,
            }),
            google_account: Some("ops".into()),
            at: t(61),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<Campaign>;

    fn snap() -> CampaignSnapshot {
        sample_snapshot()
    }

    fn observed(snapshot: CampaignSnapshot, minute: i64) -> CampaignEvent {
        CampaignEvent::CampaignObserved {
            customer_id: "1234567890".into(),
            campaign_id: "987".into(),
            snapshot: Some(snapshot),
            google_account: None,
            at: t(minute),
        }
    }

    fn observe(snapshot: CampaignSnapshot, minute: i64) -> CampaignCommand {
        CampaignCommand::Observe {
            customer_id: "1234567890".into(),
            campaign_id: "987".into(),
            snapshot,
            manual_hold: Duration::hours(2),
            google_account: None,
            at: t(minute),
        }
    }

    fn request(change_id: &str, change: CampaignChange) -> CampaignCommand {
        CampaignCommand::RequestChange {
            change_id: change_id.into(),
            change,
            reason: "team at capacity".into(),
            decision_ref: Some("dec-1".into()),
            google_account: None,
            at: t(10),
        }
    }

    fn requested(change_id: &str, change: CampaignChange) -> CampaignEvent {
        CampaignEvent::ChangeRequested {
            change_id: change_id.into(),
            change,
            reason: Some("team at capacity".into()),
            decision_ref: Some("dec-1".into()),
            google_account: None,
            at: t(10),
        }
    }

    fn applied(change_id: &str, change: CampaignChange) -> CampaignEvent {
        CampaignEvent::ChangeApplied {
            change_id: change_id.into(),
            change,
            at: t(11),
        }
    }

    fn failed(change_id: &str, retryable: bool) -> CampaignEvent {
        CampaignEvent::ChangeFailed {
            change_id: change_id.into(),
            error: "QUOTA".into(),
            retryable,
            at: t(11),
        }
    }

    fn slot(day: DayOfWeek, start: (u8, u8), end: (u8, u8)) -> AdScheduleSlot {
        AdScheduleSlot {
            day_of_week: day,
            start_hour: start.0,
            start_minute: start.1,
            end_hour: end.0,
            end_minute: end.1,
            bid_modifier: None,
        }
    }

    fn schedule(slots: Vec<AdScheduleSlot>) -> CampaignChange {
        CampaignChange::SetAdSchedule { slots }
    }

    // --- Observe ---

    #[test]
    fn first_observation_is_recorded() {
        Fixture::with(())
            .given_no_previous_events()
            .when(observe(snap(), 0))
            .then_expect_events(vec![observed(snap(), 0)]);
    }

    #[test]
    fn unchanged_observation_records_nothing() {
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(observe(snap(), 5))
            .then_expect_events(vec![]);
    }

    #[test]
    fn schedule_order_alone_is_not_a_change_of_schedule() {
        let mut two = snap();
        two.ad_schedule
            .push(slot(DayOfWeek::Tuesday, (9, 0), (17, 0)));
        let mut reordered = two.clone();
        reordered.ad_schedule.reverse();
        reordered.name = "renamed".into();
        Fixture::with(())
            .given(vec![observed(two, 0)])
            .when(observe(reordered.clone(), 5))
            .then_expect_events(vec![observed(reordered, 5)]);
    }

    #[test]
    fn name_or_label_changes_are_observed_but_not_outside_changes() {
        let mut renamed = snap();
        renamed.name = "Search NL (new)".into();
        renamed.labels.push("q4".into());
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(observe(renamed.clone(), 5))
            .then_expect_events(vec![observed(renamed, 5)]);
    }

    #[test]
    fn manual_changes_are_reported_with_a_hold() {
        let mut changed = snap();
        changed.status = CampaignStatus::Paused;
        changed.daily_budget_micros = 10_000_000;
        changed.bidding = Bidding::Other("MAXIMIZE_CLICKS".into());
        changed.ad_schedule.clear();
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(observe(changed.clone(), 5))
            .then_expect_events(vec![
                observed(changed.clone(), 5),
                CampaignEvent::ChangedOutsideEngine {
                    changed_fields: vec![
                        "status".into(),
                        "daily_budget_micros".into(),
                        "bidding".into(),
                        "ad_schedule".into(),
                    ],
                    before: Some(snap()),
                    after: Some(changed),
                    google_account: None,
                    hold_until: t(5 + 120),
                    at: t(5),
                },
            ]);
    }

    #[test]
    fn an_applied_engine_change_is_not_an_outside_change() {
        let mut paused = snap();
        paused.status = CampaignStatus::Paused;
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
                applied("chg-1", CampaignChange::Pause),
            ])
            .when(observe(paused, 20))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_open_engine_change_seen_before_it_is_marked_applied_is_not_an_outside_change() {
        let mut budget = snap();
        budget.daily_budget_micros = 20_000_000;
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested(
                    "chg-1",
                    CampaignChange::SetBudget {
                        daily_budget_micros: 20_000_000,
                    },
                ),
            ])
            .when(observe(budget.clone(), 20))
            .then_expect_events(vec![observed(budget, 20)]);
    }

    #[test]
    fn a_manual_revert_of_an_engine_change_is_an_outside_change() {
        let mut paused = snap();
        paused.status = CampaignStatus::Paused;
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
                applied("chg-1", CampaignChange::Pause),
            ])
            .when(observe(snap(), 20))
            .then_expect_events(vec![
                observed(snap(), 20),
                CampaignEvent::ChangedOutsideEngine {
                    changed_fields: vec!["status".into()],
                    before: Some(paused),
                    after: Some(snap()),
                    google_account: None,
                    hold_until: t(140),
                    at: t(20),
                },
            ]);
    }

    #[test]
    fn a_failed_change_does_not_explain_a_difference() {
        let mut paused = snap();
        paused.status = CampaignStatus::Paused;
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
                failed("chg-1", false),
            ])
            .when(observe(paused.clone(), 20))
            .then_expect_events(vec![
                observed(paused.clone(), 20),
                CampaignEvent::ChangedOutsideEngine {
                    changed_fields: vec!["status".into()],
                    before: Some(snap()),
                    after: Some(paused),
                    google_account: None,
                    hold_until: t(140),
                    at: t(20),
                },
            ]);
    }

    #[test]
    fn observe_validates_its_input() {
        let mut command = observe(snap(), 0);
        if let CampaignCommand::Observe { customer_id, .. } = &mut command {
            customer_id.clear();
        }
        Fixture::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CampaignError::EmptyField("customer_id"));

        let mut command = observe(snap(), 0);
        if let CampaignCommand::Observe { campaign_id, .. } = &mut command {
            campaign_id.clear();
        }
        Fixture::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CampaignError::EmptyField("campaign_id"));

        for hold in [Duration::minutes(-1), Duration::MAX] {
            let mut command = observe(snap(), 0);
            if let CampaignCommand::Observe { manual_hold, .. } = &mut command {
                *manual_hold = hold;
            }
            Fixture::with(())
                .given_no_previous_events()
                .when(command)
                .then_expect_error(CampaignError::InvalidManualHold);
        }
    }

    #[test]
    fn observe_of_another_campaign_is_refused() {
        let mut command = observe(snap(), 5);
        if let CampaignCommand::Observe { campaign_id, .. } = &mut command {
            *campaign_id = "988".into();
        }
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(command)
            .then_expect_error(CampaignError::CampaignMismatch {
                expected: "1234567890/987".into(),
                found: "1234567890/988".into(),
            });
    }

    #[test]
    fn observations_out_of_order_are_refused() {
        Fixture::with(())
            .given(vec![observed(snap(), 10)])
            .when(observe(snap(), 5))
            .then_expect_error(CampaignError::ObservationOutOfOrder {
                last: t(10),
                at: t(5),
            });
    }

    // --- RequestChange ---

    #[test]
    fn every_kind_of_change_can_be_requested() {
        for change in [
            CampaignChange::Pause,
            CampaignChange::Resume,
            CampaignChange::SetBudget {
                daily_budget_micros: 1,
            },
            CampaignChange::SetBidTarget {
                bidding: Bidding::ManualCpc,
            },
            CampaignChange::SetBidTarget {
                bidding: Bidding::MaximizeConversions,
            },
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetCpa {
                    target_cpa_micros: 25_000_000,
                },
            },
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetRoas { target_roas: 4.0 },
            },
            schedule(vec![]),
            schedule(vec![
                slot(DayOfWeek::Monday, (0, 0), (6, 15)),
                slot(DayOfWeek::Monday, (6, 15), (12, 30)),
                slot(DayOfWeek::Monday, (13, 0), (14, 0)),
                slot(DayOfWeek::Monday, (14, 0), (15, 0)),
                slot(DayOfWeek::Monday, (15, 0), (16, 45)),
                slot(DayOfWeek::Monday, (17, 0), (24, 0)),
                slot(DayOfWeek::Sunday, (23, 45), (24, 0)),
            ]),
        ] {
            Fixture::with(())
                .given(vec![observed(snap(), 0)])
                .when(request("chg-1", change.clone()))
                .then_expect_events(vec![requested("chg-1", change)]);
        }
    }

    #[test]
    fn change_of_a_never_observed_campaign_is_refused() {
        Fixture::with(())
            .given_no_previous_events()
            .when(request("chg-1", CampaignChange::Pause))
            .then_expect_error(CampaignError::NotObserved);
    }

    #[test]
    fn change_of_a_removed_campaign_is_refused() {
        let mut removed = snap();
        removed.status = CampaignStatus::Removed;
        Fixture::with(())
            .given(vec![observed(removed, 0)])
            .when(request("chg-1", CampaignChange::Resume))
            .then_expect_error(CampaignError::Removed);
    }

    #[test]
    fn change_ids_cannot_be_reused_even_when_finished() {
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
                applied("chg-1", CampaignChange::Pause),
            ])
            .when(request("chg-1", CampaignChange::Resume))
            .then_expect_error(CampaignError::ChangeIdReused("chg-1".into()));
    }

    #[test]
    fn change_request_needs_ids_and_a_reason() {
        let cases = [
            ("change_id", request("", CampaignChange::Pause)),
            (
                "reason",
                CampaignCommand::RequestChange {
                    change_id: "chg-1".into(),
                    change: CampaignChange::Pause,
                    reason: " ".into(),
                    decision_ref: None,
                    google_account: None,
                    at: t(1),
                },
            ),
            (
                "decision_ref",
                CampaignCommand::RequestChange {
                    change_id: "chg-1".into(),
                    change: CampaignChange::Pause,
                    reason: "why".into(),
                    decision_ref: Some(String::new()),
                    google_account: None,
                    at: t(1),
                },
            ),
        ];
        for (field_name, command) in cases {
            Fixture::with(())
                .given(vec![observed(snap(), 0)])
                .when(command)
                .then_expect_error(CampaignError::EmptyField(field_name));
        }
    }

    #[test]
    fn invalid_changes_are_refused() {
        use DayOfWeek::*;
        let with_modifier = |m: f64| {
            let mut s = slot(Friday, (9, 0), (10, 0));
            s.bid_modifier = Some(m);
            schedule(vec![s])
        };
        let cases = vec![
            (
                CampaignChange::SetBudget {
                    daily_budget_micros: 0,
                },
                CampaignError::InvalidBudget(0),
            ),
            (
                CampaignChange::SetBudget {
                    daily_budget_micros: -5,
                },
                CampaignError::InvalidBudget(-5),
            ),
            (
                CampaignChange::SetBidTarget {
                    bidding: Bidding::TargetCpa {
                        target_cpa_micros: 0,
                    },
                },
                CampaignError::InvalidBidTarget,
            ),
            (
                CampaignChange::SetBidTarget {
                    bidding: Bidding::TargetRoas { target_roas: -1.0 },
                },
                CampaignError::InvalidBidTarget,
            ),
            (
                CampaignChange::SetBidTarget {
                    bidding: Bidding::TargetRoas {
                        target_roas: f64::NAN,
                    },
                },
                CampaignError::InvalidBidTarget,
            ),
            (
                CampaignChange::SetBidTarget {
                    bidding: Bidding::Other("MAXIMIZE_CLICKS".into()),
                },
                CampaignError::UnsupportedBidding,
            ),
            (
                schedule(vec![slot(Monday, (9, 10), (10, 0))]),
                CampaignError::InvalidScheduleMinute,
            ),
            (
                schedule(vec![slot(Monday, (9, 0), (10, 50))]),
                CampaignError::InvalidScheduleMinute,
            ),
            (
                schedule(vec![slot(Monday, (24, 0), (24, 0))]),
                CampaignError::InvalidScheduleHour,
            ),
            (
                schedule(vec![slot(Monday, (9, 0), (25, 0))]),
                CampaignError::InvalidScheduleHour,
            ),
            (
                schedule(vec![slot(Monday, (9, 0), (24, 15))]),
                CampaignError::InvalidScheduleHour,
            ),
            (
                schedule(vec![slot(Monday, (10, 0), (10, 0))]),
                CampaignError::SlotStartNotBeforeEnd,
            ),
            (
                schedule(vec![slot(Monday, (10, 30), (10, 15))]),
                CampaignError::SlotStartNotBeforeEnd,
            ),
            (
                schedule((0..7).map(|h| slot(Tuesday, (h, 0), (h, 30))).collect()),
                CampaignError::TooManySlots(Tuesday),
            ),
            (
                schedule(vec![
                    slot(Wednesday, (12, 0), (14, 0)),
                    slot(Wednesday, (9, 0), (12, 15)),
                ]),
                CampaignError::OverlappingSlots(Wednesday),
            ),
            (with_modifier(0.05), CampaignError::InvalidBidModifier),
            (with_modifier(10.5), CampaignError::InvalidBidModifier),
            (with_modifier(f64::NAN), CampaignError::InvalidBidModifier),
        ];
        for (change, error) in cases {
            Fixture::with(())
                .given(vec![observed(snap(), 0)])
                .when(request("chg-1", change))
                .then_expect_error(error);
        }
    }

    #[test]
    fn six_slots_on_each_of_two_days_are_fine() {
        let slots: Vec<AdScheduleSlot> = [DayOfWeek::Monday, DayOfWeek::Tuesday]
            .into_iter()
            .flat_map(|d| (0..6).map(move |h| slot(d, (h, 0), (h, 45))))
            .collect();
        assert_eq!(schedule(slots).validate(), Ok(()));
    }

    // --- MarkApplied / MarkFailed ---

    #[test]
    fn mark_applied_records_the_change_and_updates_known_state() {
        let change = CampaignChange::SetBudget {
            daily_budget_micros: 7_000_000,
        };
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", change.clone()),
            ])
            .when(CampaignCommand::MarkApplied {
                change_id: "chg-1".into(),
                at: t(11),
            })
            .then_expect_events(vec![applied("chg-1", change.clone())]);

        let mut campaign = Campaign::default();
        campaign.apply(observed(snap(), 0));
        campaign.apply(requested("chg-1", change.clone()));
        assert_eq!(campaign.pending_changes().count(), 1);
        campaign.apply(applied("chg-1", change));
        assert_eq!(
            campaign.snapshot().map(|s| s.daily_budget_micros),
            Some(7_000_000)
        );
        assert_eq!(campaign.pending_changes().count(), 0);
        assert_eq!(
            campaign.change("chg-1").map(|c| &c.state),
            Some(&ChangeState::Applied { at: t(11) })
        );
    }

    #[test]
    fn mark_failed_records_the_failure() {
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
            ])
            .when(CampaignCommand::MarkFailed {
                change_id: "chg-1".into(),
                error: "QUOTA".into(),
                retryable: true,
                at: t(11),
            })
            .then_expect_events(vec![failed("chg-1", true)]);
    }

    #[test]
    fn a_retryable_failure_keeps_the_change_open() {
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
                failed("chg-1", true),
            ])
            .when(CampaignCommand::MarkApplied {
                change_id: "chg-1".into(),
                at: t(11),
            })
            .then_expect_events(vec![applied("chg-1", CampaignChange::Pause)]);
    }

    #[test]
    fn finished_changes_cannot_be_marked_again() {
        for finish in [
            applied("chg-1", CampaignChange::Pause),
            failed("chg-1", false),
        ] {
            let given = vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
                finish,
            ];
            Fixture::with(())
                .given(given.clone())
                .when(CampaignCommand::MarkApplied {
                    change_id: "chg-1".into(),
                    at: t(12),
                })
                .then_expect_error(CampaignError::ChangeFinished("chg-1".into()));
            Fixture::with(())
                .given(given)
                .when(CampaignCommand::MarkFailed {
                    change_id: "chg-1".into(),
                    error: "x".into(),
                    retryable: true,
                    at: t(12),
                })
                .then_expect_error(CampaignError::ChangeFinished("chg-1".into()));
        }
    }

    #[test]
    fn unknown_changes_cannot_be_marked() {
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(CampaignCommand::MarkApplied {
                change_id: "nope".into(),
                at: t(12),
            })
            .then_expect_error(CampaignError::UnknownChange("nope".into()));
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(CampaignCommand::MarkFailed {
                change_id: "nope".into(),
                error: "x".into(),
                retryable: false,
                at: t(12),
            })
            .then_expect_error(CampaignError::UnknownChange("nope".into()));
    }

    #[test]
    fn a_failure_needs_an_error_message() {
        Fixture::with(())
            .given(vec![
                observed(snap(), 0),
                requested("chg-1", CampaignChange::Pause),
            ])
            .when(CampaignCommand::MarkFailed {
                change_id: "chg-1".into(),
                error: "".into(),
                retryable: false,
                at: t(12),
            })
            .then_expect_error(CampaignError::EmptyField("error"));
    }

    #[test]
    fn manual_hold_extends_but_never_shrinks() {
        let mut campaign = Campaign::default();
        campaign.apply(observed(snap(), 0));
        assert!(!campaign.is_manually_held(t(1)));
        let outside = |hold_until| CampaignEvent::ChangedOutsideEngine {
            changed_fields: vec!["status".into()],
            before: Some(snap()),
            after: Some(snap()),
            google_account: None,
            hold_until,
            at: t(1),
        };
        campaign.apply(outside(t(100)));
        campaign.apply(outside(t(50)));
        assert_eq!(campaign.manual_override_until(), Some(t(100)));
        assert!(campaign.is_manually_held(t(99)));
        assert!(!campaign.is_manually_held(t(100)));
        assert_eq!(Campaign::aggregate_id("123", "9"), "123/9");
        assert_eq!(campaign.customer_id(), Some("1234567890"));
        assert_eq!(campaign.campaign_id(), Some("987"));
        assert_eq!(campaign.status(), Some(CampaignStatus::Enabled));
        assert_eq!(campaign.last_observed_at(), Some(t(0)));
    }

    #[test]
    fn changes_serialize_in_snake_case() {
        let value = serde_json::to_value(CampaignChange::SetBudget {
            daily_budget_micros: 5,
        })
        .expect("serializes");
        assert_eq!(
            value,
            serde_json::json!({"set_budget": {"daily_budget_micros": 5}})
        );
        assert_eq!(
            serde_json::to_value(CampaignChange::Pause).expect("serializes"),
            "pause"
        );
    }
}

#[cfg(test)]
mod metrics_tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;

    type Fixture = TestFramework<Campaign>;

    fn hour() -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_400, 0).expect("on the hour")
    }

    fn observed() -> CampaignEvent {
        samples().remove(0)
    }

    fn record(metrics: HourMetrics, hour_start: DateTime<Utc>) -> CampaignCommand {
        CampaignCommand::RecordMetrics {
            hour_start,
            metrics,
            google_account: None,
            at: t(90),
        }
    }

    fn figures() -> HourMetrics {
        HourMetrics {
            impressions: 900,
            clicks: 40,
            cost_micros: 31_000_000,
            conversions: 2.5,
        }
    }

    #[test]
    fn records_metrics_of_an_observed_campaign() {
        Fixture::with(())
            .given(vec![observed()])
            .when(record(figures(), hour()))
            .then_expect_events(vec![CampaignEvent::MetricsRecorded {
                hour_start: hour(),
                metrics: Some(figures()),
                google_account: None,
                at: t(90),
            }]);
    }

    #[test]
    fn refuses_bad_metrics() {
        Fixture::with(())
            .given_no_previous_events()
            .when(record(figures(), hour()))
            .then_expect_error(CampaignError::NotObserved);
        let mut negative = figures();
        negative.cost_micros = -1;
        Fixture::with(())
            .given(vec![observed()])
            .when(record(negative, hour()))
            .then_expect_error(CampaignError::InvalidMetrics("cost_micros is negative"));
        let mut nan = figures();
        nan.conversions = f64::NAN;
        Fixture::with(())
            .given(vec![observed()])
            .when(record(nan, hour()))
            .then_expect_error(CampaignError::InvalidMetrics(
                "conversions must be a finite number >= 0",
            ));
        Fixture::with(())
            .given(vec![observed()])
            .when(record(figures(), hour() + Duration::minutes(5)))
            .then_expect_error(CampaignError::InvalidMetrics(
                "hour_start must be on the hour",
            ));
    }
}
