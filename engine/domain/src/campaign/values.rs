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
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
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
    /// The account's currency, as Google reports it (`customer.currency_code` and the
    /// currency's `billable_unit_micros`); `None` when not known (the simulator, snapshots
    /// recorded before 2.1). Not a watched field: Google never changes an account's
    /// currency, and a first reading of it is no change made outside the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
}

/// An account currency and its minimum billable unit: every budget and bid Google accepts
/// is a whole multiple of it (Google refuses others with
/// `NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT` or `BID_TOO_MANY_FRACTIONAL_DIGITS`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Currency {
    /// ISO 4217 code (`EUR`, `JPY`).
    pub code: String,
    /// The minimum unit in micros (EUR: 10 000 = 0.01; JPY: 1 000 000 = 1); positive.
    pub unit_micros: i64,
}

impl Currency {
    /// A currency, checked: a three-letter upper-case code and a positive unit.
    pub fn new(code: &str, unit_micros: i64) -> Result<Currency, CampaignError> {
        let code_ok = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !code_ok || unit_micros <= 0 {
            return Err(CampaignError::InvalidCurrency {
                code: code.to_owned(),
                unit_micros,
            });
        }
        Ok(Currency {
            code: code.to_owned(),
            unit_micros,
        })
    }

    /// Whether `micros` is a whole multiple of the unit (Google accepts it as a budget or
    /// bid). A unit that is not positive (never from [`Currency::new`]) accepts nothing.
    pub fn is_multiple(&self, micros: i64) -> bool {
        self.unit_micros > 0 && micros % self.unit_micros == 0
    }

    /// `micros` rounded down (towards minus infinity) to a multiple of the unit: what a budget
    /// becomes, so the engine never spends more than a rule asked for. A unit that is not
    /// positive leaves `micros` as it is.
    pub fn round_down(&self, micros: i64) -> i64 {
        if self.unit_micros <= 0 {
            return micros;
        }
        // Cannot overflow: the result is between `micros - unit + 1` and `micros`, and a
        // value below `i64::MIN + unit` has no multiple under it that fits, so it saturates
        // at the lowest multiple that does.
        let rem = micros.rem_euclid(self.unit_micros);
        micros
            .checked_sub(rem)
            .unwrap_or_else(|| micros + (self.unit_micros - rem))
    }

    /// `micros` rounded to the nearest multiple of the unit, halves away from zero: what a
    /// bid target (target CPA) becomes. When the multiple above does not fit in an `i64`,
    /// the one below is taken. A unit that is not positive leaves `micros` as it is.
    pub fn round_nearest(&self, micros: i64) -> i64 {
        if self.unit_micros <= 0 {
            return micros;
        }
        let down = self.round_down(micros);
        let rem = micros - down;
        // Half away from zero: up at exactly half for positive values, down for negative.
        let up_wins = if micros >= 0 {
            rem.saturating_mul(2) >= self.unit_micros
        } else {
            rem.saturating_mul(2) > self.unit_micros
        };
        match down.checked_add(self.unit_micros) {
            Some(up) if up_wins => up,
            _ => down,
        }
    }

    /// `micros` in the currency's units for people, with the digits its unit has:
    /// `33.33 EUR`, `1234 JPY` (digits beyond the unit are cut, not rounded).
    pub fn format(&self, micros: i64) -> String {
        let decimals = decimals_of(self.unit_micros);
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs();
        let (whole, fraction) = (abs / 1_000_000, abs % 1_000_000);
        if decimals == 0 {
            return format!("{sign}{whole} {}", self.code);
        }
        // `decimals` is 1..=6, so the power is 10^0..10^5.
        let fraction = fraction / 10u64.pow(6 - decimals as u32);
        format!("{sign}{whole}.{fraction:0decimals$} {}", self.code)
    }
}

/// Digits after the decimal point that a unit needs (10 000 micros: 2; 1 000 000: 0).
fn decimals_of(unit_micros: i64) -> usize {
    let mut unit = unit_micros.max(1);
    let mut decimals = 6;
    while decimals > 0 && unit % 10 == 0 {
        unit /= 10;
        decimals -= 1;
    }
    decimals
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

    /// The change as Google accepts it in `currency`: a budget rounded down to the unit
    /// (never more than asked), a target CPA to the nearest unit; other changes (a target
    /// ROAS is a ratio) unchanged. `None` when nothing of the value is left: a budget or
    /// target below one unit.
    pub fn fitted_to(&self, currency: &Currency) -> Option<CampaignChange> {
        match self {
            CampaignChange::SetBudget {
                daily_budget_micros,
            } => {
                let daily_budget_micros = currency.round_down(*daily_budget_micros);
                (daily_budget_micros > 0).then_some(CampaignChange::SetBudget {
                    daily_budget_micros,
                })
            }
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetCpa { target_cpa_micros },
            } => {
                let target_cpa_micros = currency.round_nearest(*target_cpa_micros);
                (target_cpa_micros > 0).then_some(CampaignChange::SetBidTarget {
                    bidding: Bidding::TargetCpa { target_cpa_micros },
                })
            }
            other => Some(other.clone()),
        }
    }

    /// Checks that the amounts of the change are whole multiples of `currency`'s unit, as
    /// Google requires; the error names the amount and the unit.
    pub fn check_currency(&self, currency: &Currency) -> Result<(), CampaignError> {
        let amount = match self {
            CampaignChange::SetBudget {
                daily_budget_micros,
            } => *daily_budget_micros,
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetCpa { target_cpa_micros },
            } => *target_cpa_micros,
            _ => return Ok(()),
        };
        if currency.is_multiple(amount) {
            return Ok(());
        }
        Err(CampaignError::NotAMultipleOfCurrencyUnit {
            micros: amount,
            code: currency.code.clone(),
            unit_micros: currency.unit_micros,
        })
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
    /// Replaced, before it was applied, by a later change of the same field (`by`), which
    /// closed: never sent (ADR 0054).
    Superseded {
        /// The later change.
        by: String,
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
            ChangeState::Applied { .. } | ChangeState::Superseded { .. } => false,
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
