//! Commands of a [`Campaign`](super::Campaign).

use chrono::{DateTime, Duration, Utc};

use super::{CampaignChange, CampaignSnapshot, HourMetrics};

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
        /// Google's daily quota refused the call (not the change) until then.
        quota_until: Option<DateTime<Utc>>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that an open change was replaced by a later change of the same field, which
    /// closed (ADR 0054).
    Supersede {
        /// The change replaced.
        change_id: String,
        /// The later change.
        by: String,
        /// When.
        at: DateTime<Utc>,
    },
}
