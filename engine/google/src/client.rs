//! The HTTP client: headers, rate limit, retries, capture, and the operations.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};
use url::Url;

use crate::bodies::{self, MutateFlags};
use crate::capture::{rpc, Capture, CaptureSink};
use crate::config::{CustomerId, GoogleAdsConfig};
use crate::error::{error_status_in, operation_failures, AdsError, Result};
use crate::model::{
    gaql_campaigns_with_ids, gaql_currency_constant, gaql_metrics, parse_campaign_row,
    parse_currency_constant, parse_customer_currency, parse_label_row, parse_metrics_row,
    parse_schedule_row, AccountCurrency, AdScheduleSlot, BiddingTarget, CampaignRow,
    CampaignStatus, MetricsRow, MutateOutcome, GAQL_AD_SCHEDULES, GAQL_CAMPAIGNS,
    GAQL_CAMPAIGN_LABELS, GAQL_CUSTOMER_CURRENCY,
};
use crate::retry::RateLimiter;
use crate::tokens::AccessTokens;
use crate::wire::{
    ListAccessibleCustomersResponse, MutateResponse, SearchRequest, SearchResponse,
    SearchStreamChunk,
};

/// Rate-limiter key of calls that are not about one customer.
const NO_CUSTOMER: &str = "-";
/// Guard against a server that never stops paging.
const MAX_PAGES: usize = 10_000;

/// Google Ads REST client. Cheap to clone (shares the connection pool, limiter and sink).
#[derive(Clone)]
pub struct GoogleAdsClient {
    http: reqwest::Client,
    config: GoogleAdsConfig,
    login_customer_id: Option<CustomerId>,
    tokens: Arc<dyn AccessTokens>,
    limiter: Arc<RateLimiter>,
    capture: Option<CaptureSink>,
}

impl std::fmt::Debug for GoogleAdsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAdsClient")
            .field("base_url", &self.config.base_url.as_str())
            .field("api_version", &self.config.api_version)
            .field("login_customer_id", &self.login_customer_id)
            .field(
                "developer_token",
                &self.config.developer_token.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

enum Method {
    Get,
    Post(Value),
}

struct Answer {
    body: Value,
    request_id: Option<String>,
}

impl GoogleAdsClient {
    /// A client with its own HTTP connection pool and `config.request_timeout`.
    /// Fails with [`AdsError::Invalid`] when the configuration is not usable.
    pub fn new(config: GoogleAdsConfig, tokens: Arc<dyn AccessTokens>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| AdsError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Self::with_http_client(config, tokens, http)
    }

    /// A client over a caller-supplied `reqwest::Client` (its timeout applies).
    pub fn with_http_client(
        config: GoogleAdsConfig,
        tokens: Arc<dyn AccessTokens>,
        http: reqwest::Client,
    ) -> Result<Self> {
        config.validate()?;
        let login_customer_id = config
            .login_customer_id
            .as_deref()
            .map(CustomerId::parse)
            .transpose()?;
        Ok(Self {
            http,
            limiter: Arc::new(RateLimiter::new(config.ops_per_second_per_customer)),
            login_customer_id,
            config,
            tokens,
            capture: None,
        })
    }

    /// Sends every request, response and error body to `sink` (see [`crate::capture`]).
    pub fn with_capture(mut self, sink: CaptureSink) -> Self {
        self.capture = Some(sink);
        self
    }

    /// Sets `partialFailure` for mutations (see [`GoogleAdsConfig::partial_failure`]).
    pub fn with_partial_failure(mut self, partial_failure: bool) -> Self {
        self.config.partial_failure = partial_failure;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &GoogleAdsConfig {
        &self.config
    }

    // ------------------------------------------------------------ reads

    /// Customers the OAuth user can reach directly (`customers:listAccessibleCustomers`).
    pub async fn list_accessible_customers(&self) -> Result<Vec<String>> {
        let r = rpc::LIST_ACCESSIBLE_CUSTOMERS;
        let url = self.url("customers:listAccessibleCustomers")?;
        let answer = self.call(r, Method::Get, url, NO_CUSTOMER).await?;
        let list: ListAccessibleCustomersResponse = decode(r, answer.body)?;
        list.resource_names
            .iter()
            .map(|name| {
                name.strip_prefix("customers/")
                    .and_then(|id| CustomerId::parse(id).ok())
                    .map(|id| id.as_str().to_owned())
                    .ok_or_else(|| AdsError::Decode {
                        rpc: r,
                        message: format!("not a customer resource name: {name:?}"),
                    })
            })
            .collect()
    }

    /// All rows of a GAQL query (`googleAds:search`), following `nextPageToken`.
    pub async fn search(&self, customer: &CustomerId, gaql: &str) -> Result<Vec<Value>> {
        let r = rpc::SEARCH;
        check_query(gaql)?;
        let url = self.customer_url(customer, "googleAds:search")?;
        let mut rows = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let body = to_json(&SearchRequest {
                query: gaql.to_owned(),
                page_token: page_token.clone(),
            })?;
            let answer = self
                .call(r, Method::Post(body), url.clone(), customer.as_str())
                .await?;
            let page: SearchResponse = decode(r, answer.body)?;
            rows.extend(page.results);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                None => return Ok(rows),
                Some(next) if page_token.as_deref() == Some(next.as_str()) => {
                    return Err(AdsError::Decode {
                        rpc: r,
                        message: "the same nextPageToken came back twice".into(),
                    })
                }
                Some(next) => page_token = Some(next),
            }
        }
        Err(AdsError::Decode {
            rpc: r,
            message: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// All rows of a GAQL query in one `googleAds:searchStream` call (a JSON array of chunks).
    pub async fn search_stream(&self, customer: &CustomerId, gaql: &str) -> Result<Vec<Value>> {
        let r = rpc::SEARCH_STREAM;
        check_query(gaql)?;
        let url = self.customer_url(customer, "googleAds:searchStream")?;
        let body = to_json(&SearchRequest {
            query: gaql.to_owned(),
            page_token: None,
        })?;
        let answer = self
            .call(r, Method::Post(body), url, customer.as_str())
            .await?;
        let chunks: Vec<SearchStreamChunk> = decode(r, answer.body)?;
        Ok(chunks.into_iter().flat_map(|c| c.results).collect())
    }

    /// Every campaign of `customer` (removed ones included) with budget, bidding, label
    /// names and enabled ad schedule criteria. Three `search` calls: campaigns,
    /// `campaign_label`, `campaign_criterion` of type `AD_SCHEDULE`.
    pub async fn campaigns(&self, customer: &CustomerId) -> Result<Vec<CampaignRow>> {
        self.campaign_rows(
            customer,
            [GAQL_CAMPAIGNS, GAQL_CAMPAIGN_LABELS, GAQL_AD_SCHEDULES],
        )
        .await
    }

    /// The campaigns `ids` of `customer`, as [`GoogleAdsClient::campaigns`] reads them (ids
    /// Google does not know are left out): the same three `search` calls narrowed with
    /// `campaign.id IN (…)`, per 1,000 ids. No call for no ids.
    pub async fn campaigns_with_ids(
        &self,
        customer: &CustomerId,
        ids: &[i64],
    ) -> Result<Vec<CampaignRow>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1_000) {
            let [campaigns, labels, schedules] = gaql_campaigns_with_ids(chunk);
            out.extend(
                self.campaign_rows(customer, [&campaigns, &labels, &schedules])
                    .await?,
            );
        }
        Ok(out)
    }

    async fn campaign_rows(
        &self,
        customer: &CustomerId,
        [campaigns_query, labels_query, schedules_query]: [&str; 3],
    ) -> Result<Vec<CampaignRow>> {
        let r = rpc::SEARCH;
        let mut campaigns = self
            .search(customer, campaigns_query)
            .await?
            .iter()
            .map(|v| parse_campaign_row(r, v))
            .collect::<Result<Vec<_>>>()?;
        let index: HashMap<i64, usize> = campaigns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        for v in self.search(customer, labels_query).await? {
            let (id, label) = parse_label_row(r, &v)?;
            if let Some(&i) = index.get(&id) {
                campaigns[i].labels.push(label);
            }
        }
        for v in self.search(customer, schedules_query).await? {
            let (id, criterion) = parse_schedule_row(r, &v)?;
            if let Some(&i) = index.get(&id) {
                campaigns[i].ad_schedule.push(criterion);
            }
        }
        for c in &mut campaigns {
            c.labels.sort();
            c.labels.dedup();
            c.ad_schedule.sort_by_key(|a| {
                (
                    a.slot.day,
                    a.slot.start_hour,
                    a.slot.start_minute,
                    a.criterion_id,
                )
            });
        }
        Ok(campaigns)
    }

    /// The customer's currency and its minimum billable unit: two `search` calls,
    /// `customer.currency_code` and then that currency's
    /// `currency_constant.billable_unit_micros`. An account's currency never changes, so a
    /// caller may keep the answer.
    pub async fn currency(&self, customer: &CustomerId) -> Result<AccountCurrency> {
        let r = rpc::SEARCH;
        let code =
            parse_customer_currency(r, &self.search(customer, GAQL_CUSTOMER_CURRENCY).await?)?;
        let rows = self
            .search(customer, &gaql_currency_constant(&code))
            .await?;
        parse_currency_constant(r, &code, &rows)
    }

    /// Hourly metrics per campaign from `from` to `to` (inclusive, account time zone),
    /// read with one `searchStream`.
    pub async fn metrics(
        &self,
        customer: &CustomerId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetricsRow>> {
        if from > to {
            return Err(AdsError::Invalid(format!(
                "metrics range starts {from} after it ends {to}"
            )));
        }
        self.search_stream(customer, &gaql_metrics(from, to))
            .await?
            .iter()
            .map(|v| parse_metrics_row(rpc::SEARCH_STREAM, v))
            .collect()
    }

    // ------------------------------------------------------------ mutations

    /// Sets a campaign's status (`campaigns:mutate`, updateMask `status`).
    pub async fn set_campaign_status(
        &self,
        customer: &CustomerId,
        campaign_id: i64,
        status: CampaignStatus,
        validate_only: bool,
    ) -> Result<MutateOutcome> {
        let body =
            bodies::campaign_status(customer, campaign_id, &status, self.flags(validate_only))?;
        self.mutate(rpc::MUTATE_CAMPAIGNS, customer, "campaigns:mutate", &body)
            .await
    }

    /// Sets a budget's daily amount (`campaignBudgets:mutate`, updateMask `amountMicros`).
    /// `budget_resource_name` is `customers/{customer}/campaignBudgets/{id}`; the amount
    /// must be positive.
    pub async fn set_budget_amount(
        &self,
        customer: &CustomerId,
        budget_resource_name: &str,
        amount_micros: i64,
        validate_only: bool,
    ) -> Result<MutateOutcome> {
        let body = bodies::budget_amount(
            customer,
            budget_resource_name,
            amount_micros,
            self.flags(validate_only),
        )?;
        self.mutate(
            rpc::MUTATE_CAMPAIGN_BUDGETS,
            customer,
            "campaignBudgets:mutate",
            &body,
        )
        .await
    }

    /// Sets a campaign's target CPA or target ROAS (`campaigns:mutate`).
    pub async fn set_bidding_target(
        &self,
        customer: &CustomerId,
        campaign_id: i64,
        target: BiddingTarget,
        validate_only: bool,
    ) -> Result<MutateOutcome> {
        let body =
            bodies::bidding_target(customer, campaign_id, target, self.flags(validate_only))?;
        self.mutate(rpc::MUTATE_CAMPAIGNS, customer, "campaigns:mutate", &body)
            .await
    }

    /// Replaces a campaign's ad schedule in one `campaignCriteria:mutate`: removes
    /// `existing` (`customers/C/campaignCriteria/K~ID` names, e.g. from
    /// [`crate::AdScheduleCriterion::resource_name`]) and creates `new_slots`, validated
    /// first ([`crate::validate_ad_schedule`]).
    pub async fn replace_ad_schedule(
        &self,
        customer: &CustomerId,
        campaign_id: i64,
        existing: &[String],
        new_slots: &[AdScheduleSlot],
        validate_only: bool,
    ) -> Result<MutateOutcome> {
        let body = bodies::replace_ad_schedule(
            customer,
            campaign_id,
            existing,
            new_slots,
            self.flags(validate_only),
        )?;
        self.mutate(
            rpc::MUTATE_CAMPAIGN_CRITERIA,
            customer,
            "campaignCriteria:mutate",
            &body,
        )
        .await
    }

    fn flags(&self, validate_only: bool) -> MutateFlags {
        MutateFlags {
            partial_failure: self.config.partial_failure,
            validate_only,
        }
    }

    async fn mutate<B: Serialize>(
        &self,
        r: &'static str,
        customer: &CustomerId,
        tail: &str,
        body: &B,
    ) -> Result<MutateOutcome> {
        let url = self.customer_url(customer, tail)?;
        let answer = self
            .call(r, Method::Post(to_json(body)?), url, customer.as_str())
            .await?;
        let header_request_id = answer.request_id;
        let resp: MutateResponse = decode(r, answer.body)?;
        let (partial_failures, failure_request_id) = match &resp.partial_failure_error {
            Some(st) => (
                operation_failures(st),
                st.ads_failure().and_then(|f| f.request_id),
            ),
            None => (Vec::new(), None),
        };
        Ok(MutateOutcome {
            results: resp.results.into_iter().map(|r| r.resource_name).collect(),
            partial_failures,
            request_id: header_request_id.or(failure_request_id),
        })
    }

    // ------------------------------------------------------------ transport

    fn url(&self, tail: &str) -> Result<Url> {
        let base = self.config.base_url.as_str().trim_end_matches('/');
        let raw = format!("{base}/{}/{tail}", self.config.api_version);
        Url::parse(&raw).map_err(|e| AdsError::Invalid(format!("bad request URL: {e}")))
    }

    fn customer_url(&self, customer: &CustomerId, tail: &str) -> Result<Url> {
        self.url(&format!("customers/{customer}/{tail}"))
    }

    fn capture(&self, rpc: &'static str, kind: &'static str, body: Value) {
        if let Some(sink) = &self.capture {
            sink(Capture { rpc, kind, body });
        }
    }

    /// One call with rate limiting, the token refresh on 401 and retries.
    async fn call(&self, r: &'static str, method: Method, url: Url, key: &str) -> Result<Answer> {
        let policy = &self.config.retry;
        let mut token: Option<String> = None;
        let mut refreshed = false;
        let mut attempt: u32 = 1;
        loop {
            let err = match self.try_once(r, &method, &url, key, &mut token).await {
                Ok(answer) => return Ok(answer),
                Err(err) => err,
            };
            let err = if err.wants_token_refresh() && !refreshed {
                refreshed = true;
                tracing::info!(rpc = r, "access token rejected as expired; refreshing once");
                match self.tokens.refresh().await {
                    Ok(fresh) => {
                        token = Some(fresh);
                        continue;
                    }
                    // The token endpoint could not answer now: retried like any call, with
                    // a refresh again on the next 401; a refused grant is not retried.
                    Err(e) => {
                        refreshed = false;
                        AdsError::Token(e)
                    }
                }
            } else {
                err
            };
            let Some(delay) = policy.delay_for(&err, attempt) else {
                tracing::debug!(rpc = r, attempt, error = %err, "Google Ads call failed");
                return Err(err);
            };
            tracing::warn!(
                rpc = r,
                attempt,
                delay_ms = delay.as_millis() as u64,
                request_id = err.request_id().unwrap_or(""),
                error = %err,
                "Google Ads call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
            if !refreshed {
                // Ask the source again: it may hold a newer token by now.
                token = None;
            }
        }
    }

    async fn try_once(
        &self,
        r: &'static str,
        method: &Method,
        url: &Url,
        key: &str,
        token: &mut Option<String>,
    ) -> Result<Answer> {
        self.limiter.acquire(key).await;
        let bearer = match token {
            Some(t) => t.clone(),
            None => {
                let t = self.tokens.access_token().await?;
                *token = Some(t.clone());
                t
            }
        };
        let mut req = match method {
            Method::Get => {
                self.capture(r, "request", json!({}));
                self.http.get(url.clone())
            }
            Method::Post(body) => {
                self.capture(r, "request", body.clone());
                self.http.post(url.clone()).json(body)
            }
        };
        req = req.bearer_auth(bearer);
        if let Some(dev) = &self.config.developer_token {
            req = req.header("developer-token", dev);
        }
        if let Some(login) = &self.login_customer_id {
            req = req.header("login-customer-id", login.as_str());
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.text().await.map_err(transport)?;
        let parsed = serde_json::from_str::<Value>(&text).ok();
        if !(200..300).contains(&status) {
            if let Some(v) = &parsed {
                self.capture(r, "error", error_element(v).clone());
            }
            return Err(AdsError::from_response(
                status,
                request_id.as_deref(),
                &text,
            ));
        }
        let Some(body) = parsed else {
            return Err(AdsError::Decode {
                rpc: r,
                message: format!("HTTP {status} answer is not JSON"),
            });
        };
        // searchStream may end its array with an error after a 200 status.
        if let Some(st) = error_status_in(&body) {
            self.capture(r, "error", error_element(&body).clone());
            let code = u16::try_from(st.code)
                .ok()
                .filter(|c| *c >= 400)
                .unwrap_or(500);
            return Err(AdsError::from_status(code, request_id.as_deref(), &st));
        }
        self.capture(r, "response", body.clone());
        Ok(Answer { body, request_id })
    }
}

/// The `{"error": …}` object of a body (the element of a searchStream array).
fn error_element(v: &Value) -> &Value {
    match v {
        Value::Array(items) => items.iter().find(|i| i.get("error").is_some()).unwrap_or(v),
        _ => v,
    }
}

fn transport(e: reqwest::Error) -> AdsError {
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    AdsError::Transport { message, timed_out }
}

fn check_query(gaql: &str) -> Result<()> {
    if gaql.trim().is_empty() {
        return Err(AdsError::Invalid("empty GAQL query".into()));
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| AdsError::Invalid(format!("cannot encode the body: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(r: &'static str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| AdsError::Decode {
        rpc: r,
        message: e.to_string(),
    })
}
