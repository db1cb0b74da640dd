//! Local fakes of Google's servers for end-to-end tests over real HTTP on `127.0.0.1`: the
//! Google Ads REST API (v26) and Google OAuth 2.0, keeping the contract written down in
//! `shared/reference/google-ads-and-oauth.md`.
//!
//! * [`FakeOAuth`] — `GET /o/oauth2/v2/auth` (loopback redirect, PKCE S256, `state`; the fake
//!   user consents at once, or refuses after [`FakeOAuth::deny_next_consent`]), `POST /token`
//!   (`authorization_code`, `refresh_token`; client auth by form fields or HTTP Basic) and
//!   `POST /revoke`, with Google's error bodies (`invalid_grant`, `invalid_client`, …).
//! * [`FakeGoogleAds`] — `customers:listAccessibleCustomers`, `googleAds:search` (paged with
//!   `nextPageToken`), `googleAds:searchStream` (a JSON array of chunks) and the
//!   `campaigns`, `campaignBudgets`, `campaignCriteria` `:mutate` methods, with strict checks
//!   of request bodies (lowerCamelCase keys, int64 as strings, enum names, update masks, no
//!   `customerId`/`pageSize`), validate-only, partial failure, Google's error envelope and a
//!   `request-id` header on every answer. Bearer tokens are checked against a [`FakeOAuth`].
//!
//! * [`FakeCapacityHttp`] — a CRM's capacity endpoint for the generic HTTP poll source
//!   (`GET /capacity/{team}`, `GET /capacity`, bearer token, 401/403, 503, a rate limit
//!   answering `429` with `Retry-After` that counts requests sent while told to wait).
//! * [`FakeHubSpot`] — HubSpot CRM v3 owners (paged), object search (`filterGroups`, `total`,
//!   paging) and updates, private-app token (expired/revoked/missing scopes), the search rate
//!   limit with HubSpot's `429` body and headers.
//!
//! * [`FakeSalesforce`] — a Salesforce org for the Salesforce capacity source: the OAuth
//!   client-credentials token endpoint and the REST query API (three SOQL shapes, paged by
//!   `nextRecordsUrl`, `Sforce-Limit-Info`, `REQUEST_LIMIT_EXCEEDED`, `INVALID_SESSION_ID`).
//!
//! * [`webhook_receiver::WebhookReceiver`] — a webhook receiver that verifies every Standard
//!   Webhooks signature and answers as scripted per path and attempt.
//!
//! They are driven from tests: state set-up and inspection, fault queues (rate limits, 5xx,
//! slow answers, dropped connections, HTML gateways), a spent daily quota that refuses every
//! Ads request until reset ([`FakeGoogleAds::exhaust_daily_quota`]), and captures of every body for the
//! conformance checker `tests/conformance/google_ads.py`. The Ads fake keeps every request with
//! the moment it arrived and lets a caller wait for the next one
//! ([`FakeGoogleAds::watch_requests`]), which `leadorch bench react` times.
//!
//! ## GAQL subset
//! `SELECT <fields> FROM campaign | campaign_label | campaign_criterion | campaign_budget |
//! customer | currency_constant [WHERE <field> (= | != | < | <= | > | >=) <literal> | IN (…) | NOT IN (…) | BETWEEN a AND b
//! [AND …]] [ORDER BY <field> [ASC|DESC], …] [LIMIT n]`. Fields: `campaign.{resource_name, id,
//! name, status, bidding_strategy_type, campaign_budget, target_cpa.target_cpa_micros,
//! target_roas.target_roas}`, `campaign_budget.{resource_name, id, amount_micros}`,
//! `campaign_label.{resource_name, campaign, label}`, `label.{resource_name, id, name}`,
//! `campaign_criterion.{resource_name, campaign, criterion_id, type, bid_modifier,
//! ad_schedule.day_of_week, ad_schedule.start_hour, ad_schedule.start_minute,
//! ad_schedule.end_hour, ad_schedule.end_minute}`, `metrics.{impressions, clicks, cost_micros,
//! conversions}`, `segments.{date, hour}`, `customer.{resource_name, id, currency_code}`
//! (FROM customer only), `currency_constant.{resource_name, code, name, symbol,
//! billable_unit_micros}` (FROM currency_constant only, the [`CURRENCIES`] table). Anything
//! else answers 400 with a `queryError`.
//!
//! ## Amounts
//! Each customer has a currency ([`FakeGoogleAds::set_currency`], [`DEFAULT_CURRENCY`]
//! unless set). As Google does, a budget that is not a multiple of the currency's
//! `billable_unit_micros` is refused with `campaignBudgetError:
//! NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT` (one below the unit with
//! `MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC`), and a target CPA that is not with
//! `biddingError: BID_TOO_MANY_FRACTIONAL_DIGITS`.
//!
//! ```no_run
//! # async fn demo() {
//! use leadorch_fakes::{FakeCampaign, FakeGoogleAds, FakeOAuth};
//! let oauth = FakeOAuth::start().await;
//! let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
//! ads.add_customer("1234567890", None);
//! ads.add_campaign("1234567890", FakeCampaign::new(111, "Brand"));
//! let tokens = oauth.issue_tokens();
//! // point the client at ads.base_url() and oauth.token_url(), with tokens.access_token
//! # let _ = tokens;
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ads;
mod capacity_http;
pub mod conformance;
mod hubspot;
mod oauth;
mod salesforce;
mod server;
pub mod webhook_receiver;

pub use ads::{
    find_currency, AdScheduleSlot, AppliedMutation, Bidding, CampaignStatus, DayOfWeek,
    FakeCampaign, FakeCurrency, FakeGoogleAds, Fault, HourMetrics, MinuteOfHour, RecordedRequest,
    Route, API_VERSION, CURRENCIES, DEFAULT_CURRENCY, DEFAULT_PAGE_SIZE, MAX_SCHEDULES_PER_DAY,
};
pub use capacity_http::{Counts, FakeCapacityHttp, RateLimit, TeamCapacity};
pub use hubspot::{
    FakeHubSpot, FakeOwner, FakeOwnerTeam, HubSpotCounts, HubSpotTokenState,
    HUBSPOT_SEARCH_MAX_RESULTS, HUBSPOT_SEARCH_PER_SECOND,
};
pub use oauth::{
    FakeOAuth, IssuedTokens, OAuthFault, TokenCheck, TokenRequest, ADWORDS_SCOPE,
    DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
};
pub use salesforce::{
    fake_user_id, FakeAgentWork, FakeLead, FakeSalesforce, SalesforceCounts,
    DEFAULT_DAILY_ALLOWANCE, SALESFORCE_BATCH_SIZE,
};
