//! Google Ads as an ads platform: [`GoogleAdapter`] implements [`AdsAdapter`] over the REST
//! client of `leadorch-google` for the customers in the `[google]` configuration.
//!
//! Reads map Google's campaigns onto [`CampaignSnapshot`]s (the reconcile loop compares them
//! with what the engine expects, which is how changes made in the Google Ads UI are found).
//! Changes carry absolute values, so a retried mutation has the effect of one. A budget or
//! ad-schedule change needs the campaign's budget resource or current schedule criteria: they
//! come from the last read, or are read first.
//!
//! Each customer's currency (`customer.currency_code` and its `billable_unit_micros`) is read
//! once and kept: Google never changes an account's currency. Snapshots carry it, so the
//! arbiter fits budgets and targets to its unit before a change is requested; a change whose
//! amount is still off the unit is refused here, not sent, and never silently altered
//! (ADR 0031).
//!
//! A call Google refuses for its quota — the daily operations quota, or a rate limit asking
//! to wait longer than the client retries — stops the adapter: from then on every call fails
//! at once without reaching Google ([`AdsAdapter::quota_refusal`]) until the daemon releases
//! it at the quota's reset ([`crate::quota`]). Reads count against the daily quota as much as
//! mutations do, so none is sent either.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use leadorch_domain::campaign::{
    AdScheduleSlot, Bidding, CampaignChange, CampaignSnapshot, CampaignStatus, Currency, DayOfWeek,
    HourMetrics,
};
use leadorch_google::{
    AdsError, BiddingStrategy, BiddingTarget, CampaignRow, CustomerId, GoogleAdsClient, TokenError,
};

use crate::adapter::{AdapterError, AdsAdapter, ObservedCampaign, ObservedMetrics, QuotaRefusal};

/// Google Ads, for a fixed set of customers reached through one Google account.
pub struct GoogleAdapter {
    client: GoogleAdsClient,
    /// The connected account (`leadorch google connect --account NAME`) the client's tokens
    /// come from: its data key seals what is read.
    account: String,
    customers: Vec<CustomerId>,
    validate_only: bool,
    /// The accounts' time zone: Google reports metrics by date and hour in it.
    timezone: chrono_tz::Tz,
    /// The grant's tokens, to know when consent is needed again.
    grant: Option<leadorch_accounts::AccountTokens>,
    /// The last campaigns read, by (customer, campaign id).
    last: Mutex<HashMap<(String, String), CampaignRow>>,
    /// Each customer's currency, read once (an account's currency never changes).
    currencies: Mutex<HashMap<String, Currency>>,
    /// The quota refusal that stopped every call, until released.
    quota: Mutex<Option<QuotaRefusal>>,
}

impl std::fmt::Debug for GoogleAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAdapter")
            .field("account", &self.account)
            .field("customers", &self.customers)
            .field("validate_only", &self.validate_only)
            .finish_non_exhaustive()
    }
}

impl GoogleAdapter {
    /// An adapter over `client`, whose tokens are Google account `account`'s, for
    /// `customers` (ids as `123-456-7890` or digits). With
    /// `validate_only`, every mutation is checked by Google and nothing changes: each change
    /// is reported as not applied ("validated by Google"), so it is recorded as failed and
    /// the engine keeps believing what Google reports.
    pub fn new(
        client: GoogleAdsClient,
        account: &str,
        customers: &[String],
        validate_only: bool,
    ) -> Result<GoogleAdapter, AdapterError> {
        if account.trim().is_empty() {
            return Err(AdapterError {
                message: "no Google account named ([google] account)".into(),
                retryable: false,
            });
        }
        let customers = customers
            .iter()
            .map(|c| CustomerId::parse(c).map_err(fatal))
            .collect::<Result<Vec<_>, _>>()?;
        if customers.is_empty() {
            return Err(AdapterError {
                message: "no Google Ads customers configured ([google] customers)".into(),
                retryable: false,
            });
        }
        Ok(GoogleAdapter {
            client,
            account: account.to_string(),
            customers,
            validate_only,
            timezone: chrono_tz::UTC,
            grant: None,
            last: Mutex::new(HashMap::new()),
            currencies: Mutex::new(HashMap::new()),
            quota: Mutex::new(None),
        })
    }

    /// The grant the client's tokens come from: while Google refuses it, the adapter reports
    /// that it cannot act, so the daemon's rules pause until the account is connected again.
    pub fn with_grant(mut self, grant: leadorch_accounts::AccountTokens) -> GoogleAdapter {
        self.grant = Some(grant);
        self
    }

    /// The time zone of the customers' accounts (Google reports `segments.date` and
    /// `segments.hour` in it); UTC unless set.
    pub fn with_timezone(mut self, timezone: chrono_tz::Tz) -> GoogleAdapter {
        self.timezone = timezone;
        self
    }

    /// The UTC start of an account-local date and hour (the first of two on a repeated hour,
    /// none on a skipped one).
    fn hour_start(&self, date: NaiveDate, hour: u8) -> Option<DateTime<Utc>> {
        let local = date.and_hms_opt(u32::from(hour), 0, 0)?;
        self.timezone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Fails at once, unsent, while a quota refusal holds the adapter.
    fn held(&self) -> Result<(), AdapterError> {
        match self.quota.lock().ok().and_then(|q| q.clone()) {
            Some(refusal) => Err(AdapterError {
                message: format!(
                    "not sent: Google's quota refused an earlier call ({})",
                    refusal.detail
                ),
                retryable: false,
            }),
            None => Ok(()),
        }
    }

    /// An [`AdsError`] as the executor sees it; a quota refusal also stops every later call
    /// until released.
    fn note(&self, e: AdsError) -> AdapterError {
        if let Some(refusal) = quota_refusal(&e) {
            if let Ok(mut q) = self.quota.lock() {
                if q.is_none() {
                    tracing::warn!(error = %e, "Google refused a call for its quota; sending nothing more");
                    *q = Some(refusal);
                }
            }
        }
        adapter_error(e)
    }

    fn customer(&self, id: &str) -> Result<&CustomerId, AdapterError> {
        let wanted = CustomerId::parse(id).map_err(fatal)?;
        self.customers
            .iter()
            .find(|c| c.as_str() == wanted.as_str())
            .ok_or_else(|| AdapterError {
                message: format!("customer {id} is not in [google] customers"),
                retryable: false,
            })
    }

    /// The campaign as last read, reading the customer's campaigns when it is not known.
    async fn row(
        &self,
        customer: &CustomerId,
        campaign_id: &str,
    ) -> Result<CampaignRow, AdapterError> {
        let key = (customer.as_str().to_string(), campaign_id.to_string());
        if let Some(row) = self.remembered(&key) {
            return Ok(row);
        }
        self.read(customer, None).await?;
        self.remembered(&key).ok_or_else(|| AdapterError {
            message: format!("campaign {campaign_id} not found in customer {customer}"),
            retryable: false,
        })
    }

    fn remembered(&self, key: &(String, String)) -> Option<CampaignRow> {
        self.last.lock().ok().and_then(|m| m.get(key).cloned())
    }

    /// The customer's campaigns (`ids` only, when given), kept as the last read of them.
    async fn read(
        &self,
        customer: &CustomerId,
        ids: Option<&[i64]>,
    ) -> Result<Vec<CampaignRow>, AdapterError> {
        self.held()?;
        let rows = match ids {
            None => self.client.campaigns(customer).await,
            Some(ids) => self.client.campaigns_with_ids(customer, ids).await,
        }
        .map_err(|e| self.note(e))?;
        if let Ok(mut last) = self.last.lock() {
            let c = customer.as_str();
            match ids {
                None => last.retain(|(k, _), _| k != c),
                Some(ids) => {
                    for id in ids {
                        last.remove(&(c.to_string(), id.to_string()));
                    }
                }
            }
            for r in &rows {
                last.insert((c.to_string(), r.id.to_string()), r.clone());
            }
        }
        Ok(rows)
    }

    /// The customer's campaigns (`ids` only, when given) as observed, with its currency.
    async fn observe(
        &self,
        customer: &CustomerId,
        ids: Option<&[i64]>,
    ) -> Result<Vec<ObservedCampaign>, AdapterError> {
        let currency = self.currency(customer).await?;
        Ok(self
            .read(customer, ids)
            .await?
            .iter()
            .filter_map(|row| {
                let mut snapshot = snapshot_of(row)?;
                snapshot.currency = Some(currency.clone());
                Some(ObservedCampaign {
                    customer_id: customer.as_str().to_string(),
                    campaign_id: row.id.to_string(),
                    snapshot,
                })
            })
            .collect())
    }

    /// The customer's currency: kept from an earlier read, else read from Google (two
    /// searches) and kept.
    pub async fn currency(&self, customer: &CustomerId) -> Result<Currency, AdapterError> {
        let kept = self
            .currencies
            .lock()
            .ok()
            .and_then(|m| m.get(customer.as_str()).cloned());
        if let Some(currency) = kept {
            return Ok(currency);
        }
        self.held()?;
        let read = self
            .client
            .currency(customer)
            .await
            .map_err(|e| self.note(e))?;
        let currency =
            Currency::new(&read.code, read.billable_unit_micros).map_err(|e| AdapterError {
                message: format!("customer {customer}: Google reported {e}"),
                retryable: false,
            })?;
        if let Ok(mut m) = self.currencies.lock() {
            m.insert(customer.as_str().to_string(), currency.clone());
        }
        Ok(currency)
    }

    /// Refuses a change whose budget or target CPA is not a whole multiple of the
    /// customer's currency unit: Google would refuse it, and changing the amount here would
    /// send something other than what was requested and recorded.
    async fn check_amount(
        &self,
        customer: &CustomerId,
        change: &CampaignChange,
    ) -> Result<(), AdapterError> {
        let has_amount = matches!(
            change,
            CampaignChange::SetBudget { .. }
                | CampaignChange::SetBidTarget {
                    bidding: Bidding::TargetCpa { .. }
                }
        );
        if !has_amount {
            return Ok(());
        }
        let currency = self.currency(customer).await?;
        change
            .check_currency(&currency)
            .map_err(|e| AdapterError {
                message: format!(
                    "{e}: not sent to Google, which refuses such amounts (NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT, BID_TOO_MANY_FRACTIONAL_DIGITS)"
                ),
                retryable: false,
            })
    }

    fn forget(&self, customer: &CustomerId, campaign_id: &str) {
        if let Ok(mut last) = self.last.lock() {
            last.remove(&(customer.as_str().to_string(), campaign_id.to_string()));
        }
    }
}

#[async_trait]
impl AdsAdapter for GoogleAdapter {
    fn name(&self) -> &str {
        "google-ads"
    }

    fn google_account(&self) -> Option<&str> {
        Some(&self.account)
    }

    async fn campaigns(&self) -> Result<Vec<ObservedCampaign>, AdapterError> {
        let mut out = Vec::new();
        for customer in &self.customers {
            out.extend(self.observe(customer, None).await?);
        }
        Ok(out)
    }

    async fn campaigns_of(
        &self,
        wanted: &[(String, String)],
    ) -> Result<Vec<ObservedCampaign>, AdapterError> {
        let mut by_customer: Vec<(&CustomerId, Vec<i64>)> = Vec::new();
        for (customer, campaign) in wanted {
            let (Ok(customer), Ok(id)) = (self.customer(customer), campaign.parse::<i64>()) else {
                continue;
            };
            match by_customer
                .iter_mut()
                .find(|(c, _)| c.as_str() == customer.as_str())
            {
                Some((_, ids)) => ids.push(id),
                None => by_customer.push((customer, vec![id])),
            }
        }
        let mut out = Vec::new();
        for (customer, ids) in by_customer {
            out.extend(self.observe(customer, Some(&ids)).await?);
        }
        Ok(out)
    }

    async fn settle(&self) {
        if let Some(grant) = &self.grant {
            grant.settle().await;
        }
    }

    fn quota_refusal(&self) -> Option<QuotaRefusal> {
        self.quota.lock().ok().and_then(|q| q.clone())
    }

    fn release_quota(&self) {
        if let Ok(mut q) = self.quota.lock() {
            *q = None;
        }
    }

    async fn cannot_act(&self) -> Option<String> {
        let reason = self.grant.as_ref()?.manager().reconsent_reason().await?;
        Some(format!(
            "the Google account needs consent again ({reason}): run `leadorch google connect`"
        ))
    }

    async fn metrics(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ObservedMetrics>, AdapterError> {
        let first = from.with_timezone(&self.timezone).date_naive();
        let last = to.with_timezone(&self.timezone).date_naive();
        let mut out = Vec::new();
        for customer in &self.customers {
            self.held()?;
            let rows = self
                .client
                .metrics(customer, first, last)
                .await
                .map_err(|e| self.note(e))?;
            for r in rows {
                let Some(hour_start) = self.hour_start(r.date, r.hour) else {
                    continue;
                };
                if hour_start < from || hour_start >= to {
                    continue;
                }
                out.push(ObservedMetrics {
                    customer_id: customer.as_str().to_string(),
                    campaign_id: r.campaign_id.to_string(),
                    hour_start,
                    metrics: HourMetrics {
                        impressions: r.impressions.max(0) as u64,
                        clicks: r.clicks.max(0) as u64,
                        cost_micros: r.cost_micros,
                        conversions: r.conversions,
                    },
                });
            }
        }
        Ok(out)
    }

    async fn apply(
        &self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<(), AdapterError> {
        let customer = self.customer(customer_id)?;
        self.held()?;
        let id: i64 = campaign_id.parse().map_err(|_| AdapterError {
            message: format!("campaign id {campaign_id:?} is not a Google Ads campaign id"),
            retryable: false,
        })?;
        let v = self.validate_only;
        self.check_amount(customer, change).await?;
        let outcome = match change {
            CampaignChange::Pause => {
                self.client
                    .set_campaign_status(customer, id, leadorch_google::CampaignStatus::Paused, v)
                    .await
            }
            CampaignChange::Resume => {
                self.client
                    .set_campaign_status(customer, id, leadorch_google::CampaignStatus::Enabled, v)
                    .await
            }
            CampaignChange::SetBudget {
                daily_budget_micros,
            } => {
                let row = self.row(customer, campaign_id).await?;
                let budget = row.budget.ok_or_else(|| AdapterError {
                    message: format!("campaign {campaign_id} has no budget to change"),
                    retryable: false,
                })?;
                self.client
                    .set_budget_amount(customer, &budget.resource_name, *daily_budget_micros, v)
                    .await
            }
            CampaignChange::SetBidTarget { bidding } => {
                let target = match bidding {
                    Bidding::TargetCpa { target_cpa_micros } => BiddingTarget::TargetCpa {
                        micros: *target_cpa_micros,
                    },
                    Bidding::TargetRoas { target_roas } => BiddingTarget::TargetRoas {
                        ratio: *target_roas,
                    },
                    other => {
                        return Err(AdapterError {
                            message: format!(
                                "switching a campaign to {other:?} bidding is not supported; only target CPA and target ROAS values are set"
                            ),
                            retryable: false,
                        })
                    }
                };
                self.client.set_bidding_target(customer, id, target, v).await
            }
            CampaignChange::SetAdSchedule { slots } => {
                // Always from a fresh read: the criteria to remove must be the current ones.
                self.forget(customer, campaign_id);
                let row = self.row(customer, campaign_id).await?;
                let existing: Vec<String> = row
                    .ad_schedule
                    .iter()
                    .map(|c| c.resource_name.clone())
                    .collect();
                let new: Vec<leadorch_google::AdScheduleSlot> = slots.iter().map(to_google_slot).collect();
                self.client
                    .replace_ad_schedule(customer, id, &existing, &new, v)
                    .await
            }
        }
        .map_err(|e| self.note(e))?;
        if let Some(failure) = outcome.partial_failures.first() {
            return Err(AdapterError {
                message: format!(
                    "Google Ads refused operation {}: {} ({}){}",
                    failure.operation_index,
                    failure.error.message,
                    failure.error.code,
                    outcome
                        .request_id
                        .as_deref()
                        .map(|r| format!(", request id {r}"))
                        .unwrap_or_default()
                ),
                retryable: false,
            });
        }
        if v {
            // Google checked the change and changed nothing: recorded as not applied, so the
            // engine's view of the campaign stays what Google reports.
            return Err(AdapterError {
                message: format!(
                    "validated by Google, not applied (validate_only){}",
                    outcome
                        .request_id
                        .as_deref()
                        .map(|r| format!(", request id {r}"))
                        .unwrap_or_default()
                ),
                retryable: false,
            });
        }
        // What was read before no longer describes the campaign.
        self.forget(customer, campaign_id);
        Ok(())
    }
}

fn fatal(e: AdsError) -> AdapterError {
    AdapterError {
        message: e.to_string(),
        retryable: false,
    }
}

/// An [`AdsError`] as the executor sees it: retryable or not, with Google's request id.
pub fn adapter_error(e: AdsError) -> AdapterError {
    let retryable =
        e.is_retryable() && !matches!(e, AdsError::Token(TokenError::ReconsentNeeded { .. }));
    let message = match e.request_id() {
        Some(id) if !e.to_string().contains(id) => format!("{e} (request id {id})"),
        _ => e.to_string(),
    };
    AdapterError { message, retryable }
}

/// The quota refusal an error is, if it is one that no retry soon can get past: the daily
/// operations quota, or a rate limit whose `retryDelay` the client did not wait out (longer
/// than its retry cap).
pub fn quota_refusal(e: &AdsError) -> Option<QuotaRefusal> {
    match e {
        AdsError::Quota {
            daily, retry_delay, ..
        } if *daily || retry_delay.is_some() => Some(QuotaRefusal {
            daily: *daily,
            retry_delay: *retry_delay,
            detail: adapter_error(e.clone()).message,
        }),
        _ => None,
    }
}

/// A Google campaign as the engine models it, without its currency (the customer's, which
/// [`GoogleAdapter::currency`] reads); `None` for statuses the engine does not model.
pub fn snapshot_of(row: &CampaignRow) -> Option<CampaignSnapshot> {
    let status = match &row.status {
        leadorch_google::CampaignStatus::Enabled => CampaignStatus::Enabled,
        leadorch_google::CampaignStatus::Paused => CampaignStatus::Paused,
        leadorch_google::CampaignStatus::Removed => CampaignStatus::Removed,
        leadorch_google::CampaignStatus::Other(_) => return None,
    };
    let bidding = match &row.bidding {
        BiddingStrategy::ManualCpc => Bidding::ManualCpc,
        BiddingStrategy::MaximizeConversions => Bidding::MaximizeConversions,
        BiddingStrategy::TargetCpa {
            target_cpa_micros: Some(m),
        } => Bidding::TargetCpa {
            target_cpa_micros: *m,
        },
        BiddingStrategy::TargetRoas {
            target_roas: Some(r),
        } => Bidding::TargetRoas { target_roas: *r },
        BiddingStrategy::TargetCpa { .. } => Bidding::Other("TARGET_CPA".into()),
        BiddingStrategy::TargetRoas { .. } => Bidding::Other("TARGET_ROAS".into()),
        BiddingStrategy::Other(name) => Bidding::Other(name.clone()),
    };
    Some(CampaignSnapshot {
        name: row.name.clone(),
        labels: row.labels.clone(),
        status,
        daily_budget_micros: row
            .budget
            .as_ref()
            .and_then(|b| b.amount_micros)
            .unwrap_or(0),
        bidding,
        ad_schedule: row
            .ad_schedule
            .iter()
            .map(|c| from_google_slot(&c.slot))
            .collect(),
        currency: None,
    })
}

fn day_to_google(d: DayOfWeek) -> leadorch_google::DayOfWeek {
    use leadorch_google::DayOfWeek as G;
    match d {
        DayOfWeek::Monday => G::Monday,
        DayOfWeek::Tuesday => G::Tuesday,
        DayOfWeek::Wednesday => G::Wednesday,
        DayOfWeek::Thursday => G::Thursday,
        DayOfWeek::Friday => G::Friday,
        DayOfWeek::Saturday => G::Saturday,
        DayOfWeek::Sunday => G::Sunday,
    }
}

fn day_from_google(d: leadorch_google::DayOfWeek) -> DayOfWeek {
    use leadorch_google::DayOfWeek as G;
    match d {
        G::Monday => DayOfWeek::Monday,
        G::Tuesday => DayOfWeek::Tuesday,
        G::Wednesday => DayOfWeek::Wednesday,
        G::Thursday => DayOfWeek::Thursday,
        G::Friday => DayOfWeek::Friday,
        G::Saturday => DayOfWeek::Saturday,
        G::Sunday => DayOfWeek::Sunday,
    }
}

fn to_google_slot(s: &AdScheduleSlot) -> leadorch_google::AdScheduleSlot {
    leadorch_google::AdScheduleSlot {
        day: day_to_google(s.day_of_week),
        start_hour: s.start_hour,
        start_minute: s.start_minute,
        end_hour: s.end_hour,
        end_minute: s.end_minute,
        bid_modifier: s.bid_modifier,
    }
}

fn from_google_slot(s: &leadorch_google::AdScheduleSlot) -> AdScheduleSlot {
    AdScheduleSlot {
        day_of_week: day_from_google(s.day),
        start_hour: s.start_hour,
        start_minute: s.start_minute,
        end_hour: s.end_hour,
        end_minute: s.end_minute,
        bid_modifier: s.bid_modifier,
    }
}
