//! Typed campaigns, metrics and ad schedules; validation of what we send.

use std::fmt;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{AdsError, OperationFailure};
use crate::wire::{int64, AdScheduleWire, TargetCpaWire, TargetRoasWire};

pub use crate::schedule::{
    minute_from_name, minute_name, validate_ad_schedule, AdScheduleCriterion, AdScheduleSlot,
    DayOfWeek, MAX_SLOTS_PER_DAY,
};

/// Campaign status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    /// `ENABLED`: serving.
    Enabled,
    /// `PAUSED`: not serving.
    Paused,
    /// `REMOVED`: deleted.
    Removed,
    /// Anything else Google answered (`UNKNOWN`, …); cannot be written.
    Other(String),
}

impl CampaignStatus {
    /// Google's enum name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Paused => "PAUSED",
            Self::Removed => "REMOVED",
            Self::Other(s) => s,
        }
    }

    /// Reads Google's enum name.
    pub fn from_api(s: &str) -> Self {
        match s {
            "ENABLED" => Self::Enabled,
            "PAUSED" => Self::Paused,
            "REMOVED" => Self::Removed,
            other => Self::Other(other.to_owned()),
        }
    }

    pub(crate) fn writable(&self) -> Result<&'static str, AdsError> {
        match self {
            Self::Enabled => Ok("ENABLED"),
            Self::Paused => Ok("PAUSED"),
            Self::Removed => Ok("REMOVED"),
            Self::Other(s) => Err(AdsError::Invalid(format!(
                "campaign status {s:?} cannot be set; use ENABLED, PAUSED or REMOVED"
            ))),
        }
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign's bidding strategy as read (`campaign.bidding_strategy_type` and its target).
#[derive(Debug, Clone, PartialEq)]
pub enum BiddingStrategy {
    /// `TARGET_CPA` with `campaign.target_cpa.target_cpa_micros`.
    TargetCpa {
        /// Target cost per acquisition in micros, when set.
        target_cpa_micros: Option<i64>,
    },
    /// `TARGET_ROAS` with `campaign.target_roas.target_roas`.
    TargetRoas {
        /// Target return on ad spend (a ratio), when set.
        target_roas: Option<f64>,
    },
    /// `MANUAL_CPC`.
    ManualCpc,
    /// `MAXIMIZE_CONVERSIONS`.
    MaximizeConversions,
    /// Any other type, by Google's name (`MAXIMIZE_CONVERSION_VALUE`, `TARGET_SPEND`, …).
    Other(String),
}

/// A bidding target to write (absolute value, so a retry is idempotent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BiddingTarget {
    /// `targetCpa.targetCpaMicros`.
    TargetCpa {
        /// Target CPA in micros (> 0).
        micros: i64,
    },
    /// `targetRoas.targetRoas`.
    TargetRoas {
        /// Target ROAS ratio (> 0, finite).
        ratio: f64,
    },
}

/// The campaign's budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetInfo {
    /// `customers/C/campaignBudgets/B`.
    pub resource_name: String,
    /// Daily amount in micros (`None` when Google sent none).
    pub amount_micros: Option<i64>,
}

/// A campaign with what the rules need about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    /// Campaign id.
    pub id: i64,
    /// `customers/C/campaigns/K`.
    pub resource_name: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: CampaignStatus,
    /// Label names (from `campaign_label`), sorted.
    pub labels: Vec<String>,
    /// The budget, when the campaign has one.
    pub budget: Option<BudgetInfo>,
    /// Bidding strategy and its target.
    pub bidding: BiddingStrategy,
    /// Enabled ad schedule criteria.
    pub ad_schedule: Vec<AdScheduleCriterion>,
}

/// Metrics of one campaign in one hour of one day.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRow {
    /// Campaign id.
    pub campaign_id: i64,
    /// `segments.date` (account time zone).
    pub date: NaiveDate,
    /// `segments.hour`, 0–23.
    pub hour: u8,
    /// Impressions.
    pub impressions: i64,
    /// Clicks.
    pub clicks: i64,
    /// Cost in micros.
    pub cost_micros: i64,
    /// Conversions (fractional with data-driven attribution).
    pub conversions: f64,
}

/// What a mutation did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MutateOutcome {
    /// Resource names, one per operation in order (empty for failed operations of a
    /// partial failure; none at all for `validate_only`).
    pub results: Vec<String>,
    /// Operations that failed when partial failure was enabled.
    pub partial_failures: Vec<OperationFailure>,
    /// Google's request id (`request-id` header or the failure's `requestId`).
    pub request_id: Option<String>,
}

/// An account's currency as Google reports it: `customer.currency_code` and that
/// currency's `currency_constant.billable_unit_micros`, the minimum unit every budget and
/// bid must be a whole multiple of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCurrency {
    /// ISO 4217 code (`EUR`, `JPY`).
    pub code: String,
    /// The minimum billable unit in micros (EUR: 10 000; JPY: 1 000 000); positive.
    pub billable_unit_micros: i64,
}

// ---------------------------------------------------------------- GAQL

/// The customer's currency code.
pub const GAQL_CUSTOMER_CURRENCY: &str = "SELECT customer.currency_code FROM customer";

/// The minimum billable unit of one currency (`code`: three upper-case letters, checked by
/// [`check_currency_code`] before it goes into the query).
pub fn gaql_currency_constant(code: &str) -> String {
    format!(
        "SELECT currency_constant.code, currency_constant.billable_unit_micros \
FROM currency_constant WHERE currency_constant.code = '{code}'"
    )
}

/// Checks a currency code as Google writes it (ISO 4217: three upper-case letters), so it
/// can go into a query.
pub fn check_currency_code(code: &str) -> Result<(), AdsError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(AdsError::Invalid(format!(
            "{code:?} is not a currency code (three upper-case letters)"
        )))
    }
}

/// Campaigns with budget and bidding (labels and schedules are separate queries).
pub const GAQL_CAMPAIGNS: &str = "SELECT campaign.id, campaign.name, campaign.status, \
campaign.campaign_budget, campaign_budget.amount_micros, campaign.bidding_strategy_type, \
campaign.target_cpa.target_cpa_micros, campaign.target_roas.target_roas \
FROM campaign ORDER BY campaign.id";

/// The three campaign queries ([`GAQL_CAMPAIGNS`], [`GAQL_CAMPAIGN_LABELS`],
/// [`GAQL_AD_SCHEDULES`]) narrowed to the campaigns `ids` (`campaign.id IN (…)`), in that
/// order. `ids` must not be empty.
pub fn gaql_campaigns_with_ids(ids: &[i64]) -> [String; 3] {
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let filter = format!("campaign.id IN ({list})");
    let campaigns = GAQL_CAMPAIGNS.replace(
        " FROM campaign ORDER BY",
        &format!(" FROM campaign WHERE {filter} ORDER BY"),
    );
    [
        campaigns,
        format!("{GAQL_CAMPAIGN_LABELS} WHERE {filter}"),
        format!("{GAQL_AD_SCHEDULES} AND {filter}"),
    ]
}

/// Label names of campaigns.
pub const GAQL_CAMPAIGN_LABELS: &str = "SELECT campaign.id, label.name FROM campaign_label";

/// Enabled ad schedule criteria of campaigns.
pub const GAQL_AD_SCHEDULES: &str = "SELECT campaign.id, campaign_criterion.resource_name, \
campaign_criterion.criterion_id, \
campaign_criterion.ad_schedule.day_of_week, campaign_criterion.ad_schedule.start_hour, \
campaign_criterion.ad_schedule.start_minute, campaign_criterion.ad_schedule.end_hour, \
campaign_criterion.ad_schedule.end_minute, campaign_criterion.bid_modifier \
FROM campaign_criterion WHERE campaign_criterion.type = 'AD_SCHEDULE' \
AND campaign_criterion.status != 'REMOVED'";

/// Hourly metrics per campaign between two dates (inclusive).
pub fn gaql_metrics(from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "SELECT campaign.id, segments.date, segments.hour, metrics.impressions, \
metrics.clicks, metrics.cost_micros, metrics.conversions FROM campaign \
WHERE segments.date BETWEEN '{}' AND '{}'",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    )
}

// ---------------------------------------------------------------- row parsing

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowCustomer {
    #[serde(default)]
    currency_code: Option<String>,
}

#[derive(Deserialize)]
struct CustomerRowWire {
    customer: RowCustomer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowCurrencyConstant {
    #[serde(default)]
    code: Option<String>,
    #[serde(with = "int64::option", default)]
    billable_unit_micros: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurrencyConstantRowWire {
    currency_constant: RowCurrencyConstant,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowCampaign {
    #[serde(default)]
    resource_name: String,
    #[serde(with = "int64")]
    id: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    campaign_budget: Option<String>,
    #[serde(default)]
    bidding_strategy_type: Option<String>,
    #[serde(default)]
    target_cpa: Option<TargetCpaWire>,
    #[serde(default)]
    target_roas: Option<TargetRoasWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowBudget {
    #[serde(default)]
    resource_name: String,
    #[serde(with = "int64::option", default)]
    amount_micros: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CampaignRowWire {
    campaign: RowCampaign,
    #[serde(default)]
    campaign_budget: Option<RowBudget>,
}

#[derive(Deserialize)]
struct RowId {
    #[serde(with = "int64")]
    id: i64,
}

#[derive(Deserialize)]
struct RowLabel {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct LabelRowWire {
    campaign: RowId,
    label: RowLabel,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowCriterion {
    #[serde(default)]
    resource_name: String,
    #[serde(with = "int64")]
    criterion_id: i64,
    #[serde(default)]
    ad_schedule: AdScheduleWire,
    #[serde(default)]
    bid_modifier: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleRowWire {
    campaign: RowId,
    campaign_criterion: RowCriterion,
}

#[derive(Deserialize, Default)]
struct RowSegments {
    #[serde(default)]
    date: Option<NaiveDate>,
    #[serde(default)]
    hour: u8,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RowMetrics {
    #[serde(with = "int64::option", default)]
    impressions: Option<i64>,
    #[serde(with = "int64::option", default)]
    clicks: Option<i64>,
    #[serde(with = "int64::option", default)]
    cost_micros: Option<i64>,
    #[serde(default)]
    conversions: f64,
}

#[derive(Deserialize)]
struct MetricsRowWire {
    campaign: RowId,
    #[serde(default)]
    segments: RowSegments,
    #[serde(default)]
    metrics: RowMetrics,
}

fn row<T: serde::de::DeserializeOwned>(
    rpc: &'static str,
    what: &str,
    v: &Value,
) -> Result<T, AdsError> {
    serde_json::from_value(v.clone()).map_err(|e| AdsError::Decode {
        rpc,
        message: format!("{what} row: {e}"),
    })
}

pub(crate) fn parse_campaign_row(rpc: &'static str, v: &Value) -> Result<CampaignRow, AdsError> {
    let w: CampaignRowWire = row(rpc, "campaign", v)?;
    let c = w.campaign;
    let bidding = match c.bidding_strategy_type.as_deref().unwrap_or("UNSPECIFIED") {
        "TARGET_CPA" => BiddingStrategy::TargetCpa {
            target_cpa_micros: c.target_cpa.and_then(|t| t.target_cpa_micros),
        },
        "TARGET_ROAS" => BiddingStrategy::TargetRoas {
            target_roas: c.target_roas.and_then(|t| t.target_roas),
        },
        "MANUAL_CPC" => BiddingStrategy::ManualCpc,
        "MAXIMIZE_CONVERSIONS" => BiddingStrategy::MaximizeConversions,
        other => BiddingStrategy::Other(other.to_owned()),
    };
    let budget = match (c.campaign_budget, w.campaign_budget) {
        (None, None) => None,
        (name, b) => {
            let (b_name, amount) = b
                .map(|b| (b.resource_name, b.amount_micros))
                .unwrap_or_default();
            Some(BudgetInfo {
                resource_name: name.filter(|n| !n.is_empty()).unwrap_or(b_name),
                amount_micros: amount,
            })
        }
    };
    Ok(CampaignRow {
        id: c.id,
        resource_name: c.resource_name,
        name: c.name,
        status: CampaignStatus::from_api(c.status.as_deref().unwrap_or("UNSPECIFIED")),
        labels: Vec::new(),
        budget,
        bidding,
        ad_schedule: Vec::new(),
    })
}

/// The currency code of a `SELECT customer.currency_code FROM customer` answer (one row).
pub(crate) fn parse_customer_currency(
    rpc: &'static str,
    rows: &[Value],
) -> Result<String, AdsError> {
    let decode = |message: String| AdsError::Decode { rpc, message };
    let [v] = rows else {
        return Err(decode(format!(
            "expected one customer row, found {}",
            rows.len()
        )));
    };
    let w: CustomerRowWire = row(rpc, "customer", v)?;
    let code = w
        .customer
        .currency_code
        .ok_or_else(|| decode("customer row without currencyCode".into()))?;
    check_currency_code(&code).map_err(|_| decode(format!("unknown currency code {code:?}")))?;
    Ok(code)
}

/// The currency of a `currency_constant` answer for `code` (one row with that code and a
/// positive unit).
pub(crate) fn parse_currency_constant(
    rpc: &'static str,
    code: &str,
    rows: &[Value],
) -> Result<AccountCurrency, AdsError> {
    let decode = |message: String| AdsError::Decode { rpc, message };
    let [v] = rows else {
        return Err(decode(format!(
            "expected one currency_constant row for {code}, found {}",
            rows.len()
        )));
    };
    let w: CurrencyConstantRowWire = row(rpc, "currency_constant", v)?;
    let c = w.currency_constant;
    if c.code.as_deref() != Some(code) {
        return Err(decode(format!(
            "currency_constant row of {:?} for {code}",
            c.code
        )));
    }
    match c.billable_unit_micros {
        Some(unit) if unit > 0 => Ok(AccountCurrency {
            code: code.to_owned(),
            billable_unit_micros: unit,
        }),
        other => Err(decode(format!(
            "currency {code} has no positive billableUnitMicros ({other:?})"
        ))),
    }
}

pub(crate) fn parse_label_row(rpc: &'static str, v: &Value) -> Result<(i64, String), AdsError> {
    let w: LabelRowWire = row(rpc, "campaign_label", v)?;
    Ok((w.campaign.id, w.label.name))
}

pub(crate) fn parse_schedule_row(
    rpc: &'static str,
    v: &Value,
) -> Result<(i64, AdScheduleCriterion), AdsError> {
    let w: ScheduleRowWire = row(rpc, "campaign_criterion", v)?;
    let c = w.campaign_criterion;
    let a = &c.ad_schedule;
    let decode = |message: String| AdsError::Decode { rpc, message };
    let day = DayOfWeek::from_api(&a.day_of_week)
        .ok_or_else(|| decode(format!("unknown day of week {:?}", a.day_of_week)))?;
    let minute = |name: &str| {
        minute_from_name(name).ok_or_else(|| decode(format!("unknown minute of hour {name:?}")))
    };
    let slot = AdScheduleSlot {
        day,
        start_hour: a.start_hour,
        start_minute: minute(&a.start_minute)?,
        end_hour: a.end_hour,
        end_minute: minute(&a.end_minute)?,
        bid_modifier: c.bid_modifier,
    };
    Ok((
        w.campaign.id,
        AdScheduleCriterion {
            resource_name: c.resource_name,
            criterion_id: c.criterion_id,
            slot,
        },
    ))
}

pub(crate) fn parse_metrics_row(rpc: &'static str, v: &Value) -> Result<MetricsRow, AdsError> {
    let w: MetricsRowWire = row(rpc, "metrics", v)?;
    let date = w.segments.date.ok_or_else(|| AdsError::Decode {
        rpc,
        message: "metrics row without segments.date".into(),
    })?;
    Ok(MetricsRow {
        campaign_id: w.campaign.id,
        date,
        hour: w.segments.hour,
        impressions: w.metrics.impressions.unwrap_or(0),
        clicks: w.metrics.clicks.unwrap_or(0),
        cost_micros: w.metrics.cost_micros.unwrap_or(0),
        conversions: w.metrics.conversions,
    })
}

// ---------------------------------------------------------------- resource names

/// `customers/C/campaigns/K`.
pub fn campaign_resource_name(customer: &crate::CustomerId, campaign_id: i64) -> String {
    format!("customers/{customer}/campaigns/{campaign_id}")
}

fn positive_id(id: &str) -> bool {
    id.bytes().all(|b| b.is_ascii_digit()) && id.parse::<i64>().is_ok_and(|n| n > 0)
}

/// Checks `customers/{customer}/campaignBudgets/{id}`.
pub(crate) fn check_budget_name(customer: &crate::CustomerId, name: &str) -> Result<(), AdsError> {
    let prefix = format!("customers/{customer}/campaignBudgets/");
    match name.strip_prefix(&prefix) {
        Some(id) if positive_id(id) => Ok(()),
        _ => Err(AdsError::Invalid(format!(
            "budget resource name must be {prefix}<id>, found {name:?}"
        ))),
    }
}

/// Checks `customers/{customer}/campaignCriteria/{campaign}~{id}`.
pub(crate) fn check_criterion_name(
    customer: &crate::CustomerId,
    campaign_id: i64,
    name: &str,
) -> Result<(), AdsError> {
    let prefix = format!("customers/{customer}/campaignCriteria/{campaign_id}~");
    match name.strip_prefix(&prefix) {
        Some(id) if positive_id(id) => Ok(()),
        _ => Err(AdsError::Invalid(format!(
            "criterion resource name must be {prefix}<id>, found {name:?}"
        ))),
    }
}

pub(crate) fn check_campaign_id(campaign_id: i64) -> Result<(), AdsError> {
    if campaign_id <= 0 {
        return Err(AdsError::Invalid(format!(
            "campaign id must be positive, found {campaign_id}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slot(day: DayOfWeek, sh: u8, sm: u8, eh: u8, em: u8) -> AdScheduleSlot {
        AdScheduleSlot {
            day,
            start_hour: sh,
            start_minute: sm,
            end_hour: eh,
            end_minute: em,
            bid_modifier: None,
        }
    }

    fn invalid(slots: &[AdScheduleSlot]) -> String {
        match validate_ad_schedule(slots) {
            Err(AdsError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn valid_schedules_pass() {
        let mut day = vec![];
        for h in 0..6 {
            day.push(slot(DayOfWeek::Monday, h * 4, 0, h * 4 + 4, 0));
        }
        day.push(slot(DayOfWeek::Tuesday, 9, 45, 24, 0));
        day.push(AdScheduleSlot {
            bid_modifier: Some(0.1),
            ..slot(DayOfWeek::Sunday, 0, 15, 0, 30)
        });
        day.push(AdScheduleSlot {
            bid_modifier: Some(10.0),
            ..slot(DayOfWeek::Saturday, 23, 45, 24, 0)
        });
        validate_ad_schedule(&day).unwrap();
    }

    #[test]
    fn bad_minute_is_named() {
        let m = invalid(&[
            slot(DayOfWeek::Monday, 9, 0, 12, 0),
            slot(DayOfWeek::Monday, 13, 10, 17, 0),
        ]);
        assert!(m.contains("slot 1 (MONDAY 13:10-17:00)"), "{m}");
        assert!(m.contains("start minute 10"), "{m}");
        assert!(invalid(&[slot(DayOfWeek::Friday, 9, 0, 17, 50)]).contains("end minute 50"));
    }

    #[test]
    fn hours_and_order() {
        assert!(invalid(&[slot(DayOfWeek::Monday, 24, 0, 24, 0)]).contains("start hour 24"));
        assert!(invalid(&[slot(DayOfWeek::Monday, 9, 0, 24, 15)]).contains("end 24:15"));
        assert!(invalid(&[slot(DayOfWeek::Monday, 9, 0, 25, 0)]).contains("end 25:00"));
        assert!(invalid(&[slot(DayOfWeek::Monday, 9, 0, 9, 0)]).contains("start is not before end"));
        assert!(invalid(&[slot(DayOfWeek::Monday, 17, 0, 9, 0)])
            .contains("slot 0 (MONDAY 17:00-09:00)"));
    }

    #[test]
    fn more_than_six_per_day() {
        let mut s: Vec<_> = (0..7)
            .map(|h| slot(DayOfWeek::Wednesday, h * 2, 0, h * 2 + 1, 0))
            .collect();
        s.insert(0, slot(DayOfWeek::Monday, 1, 0, 2, 0));
        let m = invalid(&s);
        assert!(m.contains("slot 7 (WEDNESDAY 12:00-13:00)"), "{m}");
        assert!(m.contains("7 slots on WEDNESDAY"), "{m}");
    }

    #[test]
    fn modifier_range_and_overlap() {
        for b in [0.0, 0.09, 10.01, f64::NAN] {
            let m = invalid(&[AdScheduleSlot {
                bid_modifier: Some(b),
                ..slot(DayOfWeek::Thursday, 9, 0, 10, 0)
            }]);
            assert!(m.contains("bid modifier"), "{m}");
        }
        let m = invalid(&[
            slot(DayOfWeek::Monday, 9, 0, 12, 0),
            slot(DayOfWeek::Monday, 11, 45, 13, 0),
        ]);
        assert!(m.contains("slot 1") && m.contains("overlaps slot 0"), "{m}");
    }

    #[test]
    fn campaign_rows_parse() {
        let v = json!({
            "campaign": {"resourceName": "customers/1234567890/campaigns/111", "id": "111",
                "name": "Brand", "status": "PAUSED",
                "campaignBudget": "customers/1234567890/campaignBudgets/9",
                "biddingStrategyType": "TARGET_CPA", "targetCpa": {"targetCpaMicros": "1500000"}},
            "campaignBudget": {"resourceName": "customers/1234567890/campaignBudgets/9", "amountMicros": "50000000"}
        });
        let r = parse_campaign_row("Search", &v).unwrap();
        assert_eq!(r.id, 111);
        assert_eq!(r.status, CampaignStatus::Paused);
        assert_eq!(
            r.budget,
            Some(BudgetInfo {
                resource_name: "customers/1234567890/campaignBudgets/9".into(),
                amount_micros: Some(50_000_000)
            })
        );
        assert_eq!(
            r.bidding,
            BiddingStrategy::TargetCpa {
                target_cpa_micros: Some(1_500_000)
            }
        );

        let roas = json!({"campaign": {"id": "5", "biddingStrategyType": "TARGET_ROAS",
            "targetRoas": {"targetRoas": 3.5}, "status": "ENABLED"}});
        let r = parse_campaign_row("Search", &roas).unwrap();
        assert_eq!(
            r.bidding,
            BiddingStrategy::TargetRoas {
                target_roas: Some(3.5)
            }
        );
        assert_eq!(r.budget, None);
        let other = json!({"campaign": {"id": "6", "biddingStrategyType": "TARGET_SPEND"}});
        assert_eq!(
            parse_campaign_row("Search", &other).unwrap().bidding,
            BiddingStrategy::Other("TARGET_SPEND".into())
        );
        assert!(matches!(
            parse_campaign_row("Search", &json!({"campaign": {"name": "no id"}})),
            Err(AdsError::Decode { .. })
        ));
    }

    #[test]
    fn schedule_and_metrics_rows_parse() {
        let v = json!({"campaign": {"id": "111"}, "campaignCriterion": {
            "resourceName": "customers/1/campaignCriteria/111~77", "criterionId": "77",
            "adSchedule": {"dayOfWeek": "MONDAY", "startMinute": "ZERO", "endHour": 17, "endMinute": "FORTY_FIVE"},
            "bidModifier": 1.2}});
        let (campaign, c) = parse_schedule_row("Search", &v).unwrap();
        assert_eq!(campaign, 111);
        assert_eq!(c.criterion_id, 77);
        assert_eq!(
            c.slot,
            AdScheduleSlot {
                day: DayOfWeek::Monday,
                start_hour: 0,
                start_minute: 0,
                end_hour: 17,
                end_minute: 45,
                bid_modifier: Some(1.2)
            }
        );
        let m = json!({"campaign": {"resourceName": "customers/1/campaigns/111", "id": "111"},
            "segments": {"date": "2026-03-02", "hour": 13},
            "metrics": {"impressions": "340", "clicks": "12", "costMicros": "3450000", "conversions": 1.5}});
        let r = parse_metrics_row("SearchStream", &m).unwrap();
        assert_eq!(
            r,
            MetricsRow {
                campaign_id: 111,
                date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                hour: 13,
                impressions: 340,
                clicks: 12,
                cost_micros: 3_450_000,
                conversions: 1.5
            }
        );
        // Zero values are omitted by Google.
        let zero =
            json!({"campaign": {"id": "1"}, "segments": {"date": "2026-03-02"}, "metrics": {}});
        let r = parse_metrics_row("SearchStream", &zero).unwrap();
        assert_eq!(
            (r.hour, r.impressions, r.cost_micros, r.conversions),
            (0, 0, 0, 0.0)
        );
    }

    #[test]
    fn gaql_is_snake_case() {
        let q = gaql_metrics(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 7).unwrap(),
        );
        assert!(
            q.contains("metrics.cost_micros")
                && q.contains("BETWEEN '2026-01-01' AND '2026-01-07'")
        );
        let narrowed = gaql_campaigns_with_ids(&[7, 42]);
        assert_eq!(
            narrowed[0],
            "SELECT campaign.id, campaign.name, campaign.status, campaign.campaign_budget, \
campaign_budget.amount_micros, campaign.bidding_strategy_type, \
campaign.target_cpa.target_cpa_micros, campaign.target_roas.target_roas FROM campaign \
WHERE campaign.id IN (7, 42) ORDER BY campaign.id"
        );
        assert!(narrowed[1].ends_with("FROM campaign_label WHERE campaign.id IN (7, 42)"));
        assert!(narrowed[2].ends_with("!= 'REMOVED' AND campaign.id IN (7, 42)"));
        for q in [
            GAQL_CAMPAIGNS,
            GAQL_CAMPAIGN_LABELS,
            GAQL_AD_SCHEDULES,
            q.as_str(),
            &narrowed[0],
            &narrowed[1],
            &narrowed[2],
        ] {
            for field in q.split([' ', ',']).filter(|w| w.contains('.')) {
                assert_eq!(
                    field,
                    field.to_lowercase(),
                    "GAQL field {field} is not snake_case"
                );
            }
            assert!(q.starts_with("SELECT ") && q.contains(" FROM "));
        }
    }

    #[test]
    fn currency_answers_that_make_no_sense_are_decode_errors() {
        use serde_json::json;
        let r = "Search";
        assert_eq!(
            parse_customer_currency(r, &[json!({"customer": {"currencyCode": "EUR"}})]).unwrap(),
            "EUR"
        );
        for rows in [
            vec![],
            vec![json!({"customer": {}})],
            vec![json!({"customer": {"currencyCode": "euro"}})],
            vec![
                json!({"customer": {"currencyCode": "EUR"}}),
                json!({"customer": {"currencyCode": "USD"}}),
            ],
        ] {
            assert!(
                matches!(
                    parse_customer_currency(r, &rows),
                    Err(AdsError::Decode { .. })
                ),
                "{rows:?}"
            );
        }
        let row = |code: &str, unit: &str| json!({"currencyConstant": {"code": code, "billableUnitMicros": unit}});
        assert_eq!(
            parse_currency_constant(r, "JPY", &[row("JPY", "1000000")]).unwrap(),
            AccountCurrency {
                code: "JPY".into(),
                billable_unit_micros: 1_000_000
            }
        );
        for rows in [
            vec![],
            vec![row("USD", "10000")],
            vec![row("JPY", "0")],
            vec![row("JPY", "-1")],
            vec![json!({"currencyConstant": {"code": "JPY"}})],
        ] {
            assert!(
                matches!(
                    parse_currency_constant(r, "JPY", &rows),
                    Err(AdsError::Decode { .. })
                ),
                "{rows:?}"
            );
        }
        assert_eq!(
            gaql_currency_constant("EUR"),
            "SELECT currency_constant.code, currency_constant.billable_unit_micros \
FROM currency_constant WHERE currency_constant.code = 'EUR'"
        );
    }
}
