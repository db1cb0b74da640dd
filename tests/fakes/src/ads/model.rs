//! The account state the Ads fake keeps, and the values tests use to set it up and inspect it.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde_json::Value;

/// `CampaignStatusEnum.CampaignStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    /// `ENABLED`: serving (and accruing metrics).
    Enabled,
    /// `PAUSED`.
    Paused,
    /// `REMOVED`.
    Removed,
}

impl CampaignStatus {
    /// The API enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Enabled => "ENABLED",
            CampaignStatus::Paused => "PAUSED",
            CampaignStatus::Removed => "REMOVED",
        }
    }

    /// Parses an API enum name.
    pub fn parse(s: &str) -> Option<CampaignStatus> {
        match s {
            "ENABLED" => Some(CampaignStatus::Enabled),
            "PAUSED" => Some(CampaignStatus::Paused),
            "REMOVED" => Some(CampaignStatus::Removed),
            _ => None,
        }
    }
}

/// The campaign's bidding strategy (the member of Campaign's bidding oneof that is set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bidding {
    /// `MANUAL_CPC`.
    ManualCpc,
    /// `MAXIMIZE_CONVERSIONS`.
    MaximizeConversions,
    /// `TARGET_CPA`, with its target in micros.
    TargetCpa {
        /// `targetCpa.targetCpaMicros`.
        target_cpa_micros: i64,
    },
    /// `TARGET_ROAS`, with its target as a ratio (3.5 = 350 %).
    TargetRoas {
        /// `targetRoas.targetRoas`.
        target_roas: f64,
    },
}

impl Bidding {
    /// The `BiddingStrategyType` enum name.
    pub fn strategy_type(self) -> &'static str {
        match self {
            Bidding::ManualCpc => "MANUAL_CPC",
            Bidding::MaximizeConversions => "MAXIMIZE_CONVERSIONS",
            Bidding::TargetCpa { .. } => "TARGET_CPA",
            Bidding::TargetRoas { .. } => "TARGET_ROAS",
        }
    }
}

/// `DayOfWeekEnum.DayOfWeek`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DayOfWeek {
    /// `MONDAY`.
    Monday,
    /// `TUESDAY`.
    Tuesday,
    /// `WEDNESDAY`.
    Wednesday,
    /// `THURSDAY`.
    Thursday,
    /// `FRIDAY`.
    Friday,
    /// `SATURDAY`.
    Saturday,
    /// `SUNDAY`.
    Sunday,
}

impl DayOfWeek {
    /// All days, Monday first.
    pub const ALL: [DayOfWeek; 7] = [
        DayOfWeek::Monday,
        DayOfWeek::Tuesday,
        DayOfWeek::Wednesday,
        DayOfWeek::Thursday,
        DayOfWeek::Friday,
        DayOfWeek::Saturday,
        DayOfWeek::Sunday,
    ];

    /// The API enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            DayOfWeek::Monday => "MONDAY",
            DayOfWeek::Tuesday => "TUESDAY",
            DayOfWeek::Wednesday => "WEDNESDAY",
            DayOfWeek::Thursday => "THURSDAY",
            DayOfWeek::Friday => "FRIDAY",
            DayOfWeek::Saturday => "SATURDAY",
            DayOfWeek::Sunday => "SUNDAY",
        }
    }

    /// Parses an API enum name.
    pub fn parse(s: &str) -> Option<DayOfWeek> {
        DayOfWeek::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The day of the week of a date.
    pub fn of(date: NaiveDate) -> DayOfWeek {
        DayOfWeek::ALL[date.weekday().num_days_from_monday() as usize]
    }
}

/// `MinuteOfHourEnum.MinuteOfHour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MinuteOfHour {
    /// `ZERO`.
    Zero,
    /// `FIFTEEN`.
    Fifteen,
    /// `THIRTY`.
    Thirty,
    /// `FORTY_FIVE`.
    FortyFive,
}

impl MinuteOfHour {
    /// The API enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            MinuteOfHour::Zero => "ZERO",
            MinuteOfHour::Fifteen => "FIFTEEN",
            MinuteOfHour::Thirty => "THIRTY",
            MinuteOfHour::FortyFive => "FORTY_FIVE",
        }
    }

    /// Parses an API enum name.
    pub fn parse(s: &str) -> Option<MinuteOfHour> {
        match s {
            "ZERO" => Some(MinuteOfHour::Zero),
            "FIFTEEN" => Some(MinuteOfHour::Fifteen),
            "THIRTY" => Some(MinuteOfHour::Thirty),
            "FORTY_FIVE" => Some(MinuteOfHour::FortyFive),
            _ => None,
        }
    }

    /// The minutes it stands for.
    pub fn minutes(self) -> u32 {
        match self {
            MinuteOfHour::Zero => 0,
            MinuteOfHour::Fifteen => 15,
            MinuteOfHour::Thirty => 30,
            MinuteOfHour::FortyFive => 45,
        }
    }
}

/// One ad schedule criterion of a campaign (`campaign_criterion` of type `AD_SCHEDULE`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdScheduleSlot {
    /// The criterion id; 0 in a [`FakeCampaign`] handed to the fake means "assign one".
    pub criterion_id: i64,
    /// Day of the week.
    pub day: DayOfWeek,
    /// 0–23.
    pub start_hour: u32,
    /// Start minute.
    pub start_minute: MinuteOfHour,
    /// 0–24.
    pub end_hour: u32,
    /// End minute.
    pub end_minute: MinuteOfHour,
    /// Bid modifier (0.1–10), if set.
    pub bid_modifier: Option<f64>,
}

impl AdScheduleSlot {
    /// A slot with no bid modifier and an id the fake assigns.
    pub fn new(day: DayOfWeek, start_hour: u32, end_hour: u32) -> AdScheduleSlot {
        AdScheduleSlot {
            criterion_id: 0,
            day,
            start_hour,
            start_minute: MinuteOfHour::Zero,
            end_hour,
            end_minute: MinuteOfHour::Zero,
            bid_modifier: None,
        }
    }

    /// Start as minutes since midnight.
    pub fn start(&self) -> u32 {
        self.start_hour * 60 + self.start_minute.minutes()
    }

    /// End as minutes since midnight.
    pub fn end(&self) -> u32 {
        self.end_hour * 60 + self.end_minute.minutes()
    }
}

/// A campaign as the fake stores it (with its budget, labels and ad schedule).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCampaign {
    /// Campaign id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: CampaignStatus,
    /// Label names (the fake gives each distinct name a label id).
    pub labels: Vec<String>,
    /// Id of its campaign budget (campaigns sharing a budget id share the amount).
    pub budget_id: i64,
    /// Daily budget in micros.
    pub budget_amount_micros: i64,
    /// Bidding strategy.
    pub bidding: Bidding,
    /// Ad schedule criteria.
    pub ad_schedule: Vec<AdScheduleSlot>,
}

impl FakeCampaign {
    /// An ENABLED manual-CPC campaign with a 50-unit daily budget whose id is `id * 10`.
    pub fn new(id: i64, name: &str) -> FakeCampaign {
        FakeCampaign {
            id,
            name: name.to_owned(),
            status: CampaignStatus::Enabled,
            labels: Vec::new(),
            budget_id: id * 10,
            budget_amount_micros: 50_000_000,
            bidding: Bidding::ManualCpc,
            ad_schedule: Vec::new(),
        }
    }

    /// `customers/{customer}/campaigns/{id}`.
    pub fn resource_name(&self, customer: &str) -> String {
        format!("customers/{customer}/campaigns/{}", self.id)
    }

    /// `customers/{customer}/campaignBudgets/{budget_id}`.
    pub fn budget_resource_name(&self, customer: &str) -> String {
        format!("customers/{customer}/campaignBudgets/{}", self.budget_id)
    }
}

/// Metrics of one campaign for one hour.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HourMetrics {
    /// `metrics.impressions`.
    pub impressions: i64,
    /// `metrics.clicks`.
    pub clicks: i64,
    /// `metrics.cost_micros`.
    pub cost_micros: i64,
    /// `metrics.conversions`.
    pub conversions: f64,
}

impl HourMetrics {
    pub(crate) fn add(&mut self, other: &HourMetrics) {
        self.impressions += other.impressions;
        self.clicks += other.clicks;
        self.cost_micros += other.cost_micros;
        self.conversions += other.conversions;
    }
}

/// A group of API routes, for [`crate::FakeGoogleAds::push_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /v26/customers:listAccessibleCustomers`.
    ListAccessibleCustomers,
    /// `googleAds:search`.
    Search,
    /// `googleAds:searchStream`.
    SearchStream,
    /// `campaigns:mutate`.
    MutateCampaigns,
    /// `campaignBudgets:mutate`.
    MutateCampaignBudgets,
    /// `campaignCriteria:mutate`.
    MutateCampaignCriteria,
    /// Whichever of the above comes next.
    Any,
}

impl Route {
    /// The RPC name used in captures (`"MutateCampaigns"`, …); `"Any"` for [`Route::Any`].
    pub fn rpc_name(self) -> &'static str {
        match self {
            Route::ListAccessibleCustomers => "ListAccessibleCustomers",
            Route::Search => "Search",
            Route::SearchStream => "SearchStream",
            Route::MutateCampaigns => "MutateCampaigns",
            Route::MutateCampaignBudgets => "MutateCampaignBudgets",
            Route::MutateCampaignCriteria => "MutateCampaignCriteria",
            Route::Any => "Any",
        }
    }
}

/// A failure the Ads fake plays once, for the next request on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `quotaError: RESOURCE_TEMPORARILY_EXHAUSTED` with `quotaErrorDetails.retryDelay`.
    RateLimited {
        /// The `retryDelay` Google asks for, in seconds.
        retry_delay_secs: u64,
    },
    /// 429 `quotaError: RESOURCE_EXHAUSTED` (the daily operations quota).
    DailyQuotaExhausted,
    /// 500 `internalError: INTERNAL_ERROR`.
    Internal,
    /// 503 `internalError: TRANSIENT_ERROR`.
    Transient,
    /// 401 `authenticationError: OAUTH_TOKEN_EXPIRED`, whatever the token.
    TokenExpired,
    /// 403 `authorizationError: USER_PERMISSION_DENIED`.
    PermissionDenied,
    /// 403 `authorizationError: CUSTOMER_NOT_ENABLED`.
    CustomerNotEnabled,
    /// Waits this long, then answers normally.
    Slow {
        /// Delay in milliseconds.
        millis: u64,
    },
    /// Closes the connection without an HTTP response.
    DropConnection,
    /// 502 with an HTML body, as a Google front end does when the backend is unreachable.
    HtmlBadGateway,
}

/// One HTTP request the Ads fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/v26/customers/1234567890/googleAds:search`.
    pub path: String,
    /// Headers (lowercase names); the value of `authorization` is replaced by `[redacted]`.
    pub headers: Vec<(String, String)>,
    /// The body: parsed JSON, a JSON string when it was not JSON, `Null` when empty.
    pub body: Value,
    /// When the fake had the whole request (headers and body read), on this process's
    /// monotonic clock: what a latency measurement in the same process compares with its own
    /// `Instant`s (`leadorch bench react`).
    pub received_at: std::time::Instant,
}

impl RecordedRequest {
    /// The value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One mutate operation the fake applied (validate-only and failed operations are not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedMutation {
    /// Which service: [`Route::MutateCampaigns`], [`Route::MutateCampaignBudgets`] or
    /// [`Route::MutateCampaignCriteria`].
    pub route: Route,
    /// Customer id from the path.
    pub customer_id: String,
    /// `"create"`, `"update"` or `"remove"`.
    pub operation: String,
    /// The resource created, updated or removed.
    pub resource_name: String,
    /// The operation's `updateMask`, for updates.
    pub update_mask: Option<String>,
    /// The operation as sent.
    pub body: Value,
}

/// A `CurrencyConstant` the fake serves (`currencyConstants/{code}`): the minimum billable
/// unit is what every budget and bid of an account in that currency must be a multiple of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeCurrency {
    /// ISO 4217 code.
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Symbol.
    pub symbol: &'static str,
    /// `billable_unit_micros`.
    pub billable_unit_micros: i64,
}

const fn currency(
    code: &'static str,
    name: &'static str,
    symbol: &'static str,
    billable_unit_micros: i64,
) -> FakeCurrency {
    FakeCurrency {
        code,
        name,
        symbol,
        billable_unit_micros,
    }
}

/// The currencies the fake knows, as Google publishes them (its currency codes table and the
/// `currency_constant` resource): cents for most, whole yen for JPY.
pub const CURRENCIES: &[FakeCurrency] = &[
    currency("AUD", "Australian Dollar", "$", 10_000),
    currency("CAD", "Canadian Dollar", "$", 10_000),
    currency("CHF", "Swiss Franc", "CHF", 10_000),
    currency("EUR", "Euro", "€", 10_000),
    currency("GBP", "British Pound Sterling", "£", 10_000),
    currency("JPY", "Japanese Yen", "¥", 1_000_000),
    currency("USD", "US Dollar", "$", 10_000),
];

/// A known currency by code.
pub fn find_currency(code: &str) -> Option<&'static FakeCurrency> {
    CURRENCIES.iter().find(|c| c.code == code)
}

/// The currency of a customer added without one.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// One customer account.
#[derive(Debug, Clone, Default)]
pub(crate) struct Customer {
    pub(crate) manager: Option<String>,
    pub(crate) enabled: bool,
    /// `customer.currency_code` (one of [`CURRENCIES`]).
    pub(crate) currency: &'static str,
    pub(crate) campaigns: BTreeMap<i64, FakeCampaign>,
    pub(crate) labels: BTreeMap<String, i64>,
    pub(crate) metrics: BTreeMap<(i64, NaiveDate, u32), HourMetrics>,
    pub(crate) next_id: i64,
}

impl Customer {
    pub(crate) fn new(manager: Option<String>) -> Customer {
        Customer {
            manager,
            enabled: true,
            currency: DEFAULT_CURRENCY,
            next_id: 1_000,
            ..Customer::default()
        }
    }

    /// Stores a campaign: assigns criterion ids, registers labels, keeps shared budgets equal.
    pub(crate) fn put_campaign(&mut self, mut campaign: FakeCampaign) {
        for slot in &mut campaign.ad_schedule {
            if slot.criterion_id == 0 {
                slot.criterion_id = self.allocate_id();
            }
        }
        for label in &campaign.labels {
            if !self.labels.contains_key(label) {
                let id = self.allocate_id();
                self.labels.insert(label.clone(), id);
            }
        }
        for other in self.campaigns.values_mut() {
            if other.budget_id == campaign.budget_id {
                other.budget_amount_micros = campaign.budget_amount_micros;
            }
        }
        self.campaigns.insert(campaign.id, campaign);
    }

    /// The customer's minimum billable unit in micros.
    pub(crate) fn unit_micros(&self) -> i64 {
        find_currency(self.currency).map_or(10_000, |c| c.billable_unit_micros)
    }

    pub(crate) fn allocate_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}
