//! Events of a [`Campaign`](super::Campaign), their schema versions and personal-data
//! pointers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::{field, AdScheduleSlot, Bidding, CampaignStatus, DayOfWeek};
use super::{CampaignChange, CampaignSnapshot, HourMetrics};
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(CampaignEvent {
    CampaignObserved => "2.1",
    ChangedOutsideEngine => "2.1",
    ChangeRequested => "2.0",
    ChangeApplied => "1.0",
    ChangeFailed => "1.1",
    ChangeSuperseded => "1.0",
    MetricsRecorded => "2.0",
});

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
        /// Set when Google's daily quota refused the call, not the change: nothing is sent to
        /// Google through the account before this time, when the rules decide again. Such a
        /// failure is no refusal of the change (it holds back no later request of it).
        /// Absent (and before 1.1): the change itself failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quota_until: Option<DateTime<Utc>>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// A change still open was replaced by a later change of the same field, which closed
    /// (applied, already in effect, or failed for good): it is never sent (ADR 0054).
    ChangeSuperseded {
        /// Id of the change replaced.
        change_id: String,
        /// Id of the later change of the same field that replaced it.
        by: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
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
            CampaignEvent::ChangeApplied { .. }
            | CampaignEvent::ChangeFailed { .. }
            | CampaignEvent::ChangeSuperseded { .. } => None,
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
            CampaignEvent::ChangeApplied { .. }
            | CampaignEvent::ChangeFailed { .. }
            | CampaignEvent::ChangeSuperseded { .. } => &[],
        }
    }
}

/// A snapshot with every field set.
#[cfg(test)]
pub(crate) fn sample_snapshot() -> CampaignSnapshot {
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
        currency: Some(super::Currency {
            code: "EUR".into(),
            unit_micros: 10_000,
        }),
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
            retryable: false,
            quota_until: Some(t(600)),
            at: t(4),
        },
        CampaignEvent::ChangeSuperseded {
            change_id: "chg-3".into(),
            by: "chg-4".into(),
            at: t(5),
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
