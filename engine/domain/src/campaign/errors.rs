//! Why a campaign command was refused.

use chrono::{DateTime, Utc};

use super::DayOfWeek;

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
    /// A currency code that is not three upper-case letters, or a unit that is not
    /// positive. HTTP 422.
    #[error("invalid currency {code:?} with a minimum unit of {unit_micros} micros")]
    InvalidCurrency {
        /// The code given.
        code: String,
        /// The unit given.
        unit_micros: i64,
    },
    /// An amount that is not a whole multiple of the account currency's minimum unit, which
    /// Google refuses. HTTP 422.
    #[error("{micros} micros is not a multiple of the {code} minimum unit ({unit_micros} micros)")]
    NotAMultipleOfCurrencyUnit {
        /// The amount.
        micros: i64,
        /// The currency.
        code: String,
        /// Its minimum unit.
        unit_micros: i64,
    },
    /// No change with that id was requested. HTTP 404.
    #[error("no change {0:?}")]
    UnknownChange(String),
    /// The change was already applied or failed for good. HTTP 409.
    #[error("change {0:?} already finished")]
    ChangeFinished(String),
    /// A change named as replacing another is not a later change of the same field that
    /// closed. HTTP 409.
    #[error("change {by:?} does not replace change {change_id:?}: {why}")]
    NotSuperseding {
        /// The change to be replaced.
        change_id: String,
        /// The change named as replacing it.
        by: String,
        /// What is wrong.
        why: &'static str,
    },
}
