//! Google Ads REST client (API v26 by default): reads with GAQL, mutations, typed errors,
//! retries that follow Google's guidance and a per-customer rate limiter.
//!
//! The contract it follows is `shared/reference/google-ads-and-oauth.md`: the customer id
//! travels in the URL path only, bodies use lowerCamelCase keys, int64 values are JSON
//! strings, mutations send absolute values (so a retry is idempotent) with `partialFailure`,
//! `validateOnly` and `responseContentType` spelled out.
//!
//! ```no_run
//! # async fn demo() -> Result<(), leadorch_google::AdsError> {
//! use std::sync::Arc;
//! use leadorch_google::{CampaignStatus, CustomerId, GoogleAdsClient, GoogleAdsConfig, StaticToken};
//!
//! let config = GoogleAdsConfig::default().from_env_overrides()?;
//! let client = GoogleAdsClient::new(config, Arc::new(StaticToken("ya29…".into())))?;
//! let customer = CustomerId::parse("123-456-7890")?;
//! for c in client.campaigns(&customer).await? {
//!     println!("{} {} {}", c.id, c.name, c.status);
//! }
//! let dry_run = client.set_campaign_status(&customer, 111, CampaignStatus::Paused, true).await?;
//! # let _ = dry_run; Ok(()) }
//! ```
//!
//! # Module map
//! - [`config`]: [`GoogleAdsConfig`] (defaults, env overrides) and [`CustomerId`].
//! - [`tokens`]: the [`AccessTokens`] trait the OAuth crate implements; [`StaticToken`].
//! - [`client`]: [`GoogleAdsClient`] — headers, rate limit, retries, capture, operations.
//! - [`bodies`]: pure builders of the mutate bodies, validated before sending.
//! - [`model`]: typed rows ([`CampaignRow`], [`MetricsRow`], [`AccountCurrency`]), the GAQL
//!   queries,
//!   [`MutateOutcome`] (ad schedules re-exported from [`schedule`]).
//! - [`schedule`]: ad schedule slots and their validation.
//! - [`wire`]: the JSON shapes of requests, responses and Google's error envelope.
//! - [`error`]: [`AdsError`] (one variant per failure family), [`TokenError`].
//! - [`retry`]: [`RetryPolicy`] and the per-customer token bucket.
//! - [`capture`]: bodies sent and received, as JSON lines for the conformance checker.
//!
//! # Retries
//! Rate-limit quota errors, internal errors, 5xx and transport failures are retried with
//! the server's `retryDelay` or jittered exponential backoff ([`RetryPolicy`]). A 401
//! `OAUTH_TOKEN_EXPIRED` (or a 401 without detail) refreshes the token once and tries
//! again. Other 400/401/403 answers, the daily quota and [`TokenError::ReconsentNeeded`]
//! are returned at once. Access tokens and the `Authorization` header are never logged.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bodies;
pub mod capture;
pub mod client;
pub mod config;
pub mod error;
pub mod model;
pub mod retry;
pub mod schedule;
pub mod tokens;
pub mod wire;

pub use capture::{jsonl_file_sink, memory_sink, Capture, CaptureSink};
pub use client::GoogleAdsClient;
pub use config::{CustomerId, GoogleAdsConfig};
pub use error::{AdsError, AdsFailureDetail, OperationFailure, Result, TokenError};
pub use model::{
    validate_ad_schedule, AccountCurrency, AdScheduleCriterion, AdScheduleSlot, BiddingStrategy,
    BiddingTarget, BudgetInfo, CampaignRow, CampaignStatus, DayOfWeek, MetricsRow, MutateOutcome,
};
pub use retry::RetryPolicy;
pub use tokens::{AccessTokens, StaticToken};
