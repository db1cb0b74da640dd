//! The events of a lead, what an arrival carries, and which of it is personal.
//!
//! Schema history (upcasters in [`crate::upcast`]):
//!
//! - `LeadReceived`/`LeadDeduplicated` 1.1: `form_id`, `user_agent`, `attribution`, `metadata`
//!   and `consent_id` added; the fingerprint is no longer always there (leads from the HTTP
//!   API keep theirs in the fingerprint table beside the log, ADR 0022). A 1.0 payload is a
//!   valid 1.1 payload.
//! - `LeadBlocked` 1.0: new.
//! - `LeadStatusChanged` 1.1: `subject_id` and `owner` added (a 1.0 change names neither).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::values::{Attribution, BlockReason, LeadStatus};
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(LeadEvent {
    LeadReceived => "1.1",
    LeadDeduplicated => "1.1",
    LeadBlocked => "1.0",
    LeadStatusChanged => "1.1",
});

/// Events of a [`super::Lead`]. Personal fields are `None` when not given or crypto-shredded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // events are short-lived values; boxing buys nothing
pub enum LeadEvent {
    /// A new lead entered the funnel with status `New`.
    LeadReceived(LeadArrival),
    /// A lead arrived that duplicates an earlier one; it is recorded but not in the funnel.
    /// `duplicate_of` names the earlier lead.
    LeadDeduplicated(LeadArrival<String>),
    /// A lead arrived that was refused into the funnel; it is recorded, with why, but not in
    /// the funnel.
    LeadBlocked(BlockedLead),
    /// The lead moved to another funnel status.
    LeadStatusChanged {
        /// Status before.
        from: LeadStatus,
        /// Status after.
        to: LeadStatus,
        /// The lead's data subject, whose key seals `owner` (since 1.1; `None` in a 1.0
        /// change, which has no owner).
        #[serde(default)]
        subject_id: Option<String>,
        /// Personal ([`KeyPurpose::Contact`] of the lead's subject): the CRM id of the agent
        /// who owns the lead, if the caller named one.
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        owner: Option<String>,
        /// When it changed.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// What a lead brought when it arrived: the payload of [`LeadEvent::LeadReceived`]
/// (`LeadArrival<NotDuplicate>`), of [`LeadEvent::LeadDeduplicated`] (`LeadArrival<String>`,
/// naming the earlier lead) and, inside a [`BlockedLead`], of [`LeadEvent::LeadBlocked`]; also
/// what [`super::LeadCommand::ReceiveLead`] is given.
///
/// Serialized with its fields in this order, `duplicate_of` left out when it is
/// [`NotDuplicate`], so that 1.0 events keep the JSON they were stored with
/// (`{"LeadReceived":{"lead_id":…}}`, `{"LeadDeduplicated":{"lead_id":…,"duplicate_of":…}}`).
/// Personal fields are always written (`null` when absent: the store seals them by their
/// pointer, which must resolve); the clear fields added in 1.1 are left out when absent.
/// Personal fields are `None` when not given or crypto-shredded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadArrival<D: DuplicateOf = NotDuplicate> {
    /// Id of this lead.
    pub lead_id: String,
    /// Data subject whose keys protect the personal fields.
    pub subject_id: String,
    /// The earlier lead this one duplicates, or [`NotDuplicate`] (not stored).
    #[serde(skip_serializing_if = "DuplicateOf::is_none")]
    pub duplicate_of: D,
    /// Sales team the lead is (or, for a duplicate or a blocked lead, would have been) routed
    /// to.
    pub team: String,
    /// Google Ads campaign id, if known.
    pub campaign_id: Option<String>,
    /// Google Ads customer id, if known.
    pub customer_id: Option<String>,
    /// Where the lead came in: a landing page or channel id (`lp-1001`, `api`).
    pub source: String,
    /// The client's form id, if the lead came through a form (since 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// Personal ([`KeyPurpose::Fingerprint`]): lower-case hex SHA-256 of the normalised email
    /// and phone. Leads from the HTTP API carry none (their keyed fingerprints live in a table
    /// beside the log); older leads keep theirs.
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub fingerprint: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub name: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub email: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub phone: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]): IP address of the submission.
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub ip: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]): user agent of the submission (since 1.1).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub user_agent: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]): free-text message.
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub message: Option<String>,
    /// Click ids (personal) and UTM parameters (since 1.1; empty in a 1.0 event).
    #[serde(default)]
    pub attribution: Attribution,
    /// Personal ([`KeyPurpose::Contact`]), sealed as a whole: the client's free metadata, a
    /// JSON object (since 1.1). May not have a top-level `"$enc"` key, which marks a sealed
    /// value.
    #[serde(default, deserialize_with = "crate::personal::sealed_or_none")]
    pub metadata: Option<Map<String, Value>>,
    /// The consent recorded with this lead (in the same append), if any (since 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    /// When the lead arrived.
    #[serde(deserialize_with = "crate::time::utc")]
    pub at: DateTime<Utc>,
}

impl LeadArrival {
    /// The same arrival, as a duplicate of `original`.
    pub fn into_duplicate_of(self, original: String) -> LeadArrival<String> {
        LeadArrival {
            lead_id: self.lead_id,
            subject_id: self.subject_id,
            duplicate_of: original,
            team: self.team,
            campaign_id: self.campaign_id,
            customer_id: self.customer_id,
            source: self.source,
            form_id: self.form_id,
            fingerprint: self.fingerprint,
            name: self.name,
            email: self.email,
            phone: self.phone,
            ip: self.ip,
            user_agent: self.user_agent,
            message: self.message,
            attribution: self.attribution,
            metadata: self.metadata,
            consent_id: self.consent_id,
            at: self.at,
        }
    }
}

/// The payload of [`LeadEvent::LeadBlocked`]: why, then the arrival's own fields (flattened:
/// `{"LeadBlocked":{"reason":…,"detail":…,"lead_id":…}}`), its personal fields sealed as in
/// a [`LeadEvent::LeadReceived`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockedLead {
    /// Why the lead was refused.
    pub reason: BlockReason,
    /// What a person reads about it; in clear, never quoting personal fields.
    pub detail: String,
    /// What arrived.
    #[serde(flatten)]
    pub arrival: LeadArrival,
}

/// What a [`LeadArrival`] says about an earlier lead: `String` (its id) or [`NotDuplicate`].
pub trait DuplicateOf {
    /// True when there is no earlier lead (the field is then not serialized).
    fn is_none(&self) -> bool;
}

impl DuplicateOf for String {
    fn is_none(&self) -> bool {
        false
    }
}

/// The `duplicate_of` of a [`LeadEvent::LeadReceived`]: there is none. Never serialized;
/// deserializes from a missing field (or, ignored, from any value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotDuplicate;

impl DuplicateOf for NotDuplicate {
    fn is_none(&self) -> bool {
        true
    }
}

impl Serialize for NotDuplicate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }
}

impl<'de> Deserialize<'de> for NotDuplicate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = NotDuplicate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("anything (ignored)")
            }
            fn visit_none<E>(self) -> Result<NotDuplicate, E> {
                Ok(NotDuplicate)
            }
            fn visit_unit<E>(self) -> Result<NotDuplicate, E> {
                Ok(NotDuplicate)
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<NotDuplicate, D::Error> {
                serde::de::IgnoredAny::deserialize(deserializer).map(|_| NotDuplicate)
            }
        }
        // A missing field arrives as `none` (what serde does for `Option`).
        deserializer.deserialize_option(Visitor)
    }
}

const fn contact(pointer: &'static str) -> PersonalField {
    PersonalField {
        pointer,
        purpose: KeyPurpose::Contact,
    }
}

/// The personal fields of an arrival stored under the event tag `$tag`.
macro_rules! arrival_fields {
    ($tag:literal) => {
        &[
            PersonalField {
                pointer: concat!("/", $tag, "/fingerprint"),
                purpose: KeyPurpose::Fingerprint,
            },
            contact(concat!("/", $tag, "/name")),
            contact(concat!("/", $tag, "/email")),
            contact(concat!("/", $tag, "/phone")),
            contact(concat!("/", $tag, "/ip")),
            contact(concat!("/", $tag, "/user_agent")),
            contact(concat!("/", $tag, "/message")),
            contact(concat!("/", $tag, "/attribution/gclid")),
            contact(concat!("/", $tag, "/attribution/gbraid")),
            contact(concat!("/", $tag, "/attribution/wbraid")),
            contact(concat!("/", $tag, "/metadata")),
        ]
    };
}

const RECEIVED_FIELDS: &[PersonalField] = arrival_fields!("LeadReceived");
const DEDUPLICATED_FIELDS: &[PersonalField] = arrival_fields!("LeadDeduplicated");
const BLOCKED_FIELDS: &[PersonalField] = arrival_fields!("LeadBlocked");
const STATUS_FIELDS: &[PersonalField] = &[contact("/LeadStatusChanged/owner")];

impl PersonalData for LeadEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            LeadEvent::LeadReceived(arrival) => Some(&arrival.subject_id),
            LeadEvent::LeadDeduplicated(arrival) => Some(&arrival.subject_id),
            LeadEvent::LeadBlocked(blocked) => Some(&blocked.arrival.subject_id),
            LeadEvent::LeadStatusChanged { subject_id, .. } => subject_id.as_deref(),
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        match self {
            LeadEvent::LeadReceived(_) => RECEIVED_FIELDS,
            LeadEvent::LeadDeduplicated(_) => DEDUPLICATED_FIELDS,
            LeadEvent::LeadBlocked(_) => BLOCKED_FIELDS,
            // A 1.0 change names no subject and has no owner.
            LeadEvent::LeadStatusChanged {
                subject_id: Some(_),
                ..
            } => STATUS_FIELDS,
            LeadEvent::LeadStatusChanged { .. } => &[],
        }
    }
}

/// An arrival with every field filled, personal ones included (the click ids, the metadata).
#[cfg(test)]
pub(crate) fn sample_arrival(lead_id: &str, minute: i64) -> LeadArrival {
    LeadArrival {
        lead_id: lead_id.into(),
        subject_id: "subj-1".into(),
        duplicate_of: NotDuplicate,
        team: "sales-nl".into(),
        campaign_id: Some("987".into()),
        customer_id: Some("1234567890".into()),
        source: "api".into(),
        form_id: Some("form-1".into()),
        fingerprint: Some("ab".repeat(32)),
        name: Some("Ada".into()),
        email: Some("ada@example.com".into()),
        phone: Some("+31600000000".into()),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("Mozilla/5.0".into()),
        message: Some("Call me".into()),
        attribution: Attribution {
            gclid: Some("EAIaIQobChMI".into()),
            gbraid: Some("0AAAAAoXyz".into()),
            wbraid: Some("CjkKEQiA".into()),
            utm_source: Some("google".into()),
            utm_medium: Some("cpc".into()),
            utm_campaign: Some("search-nl".into()),
            utm_term: Some("solar panels".into()),
            utm_content: Some("ad-2".into()),
        },
        metadata: Some(
            serde_json::json!({"crm_ref": "A-17", "score": 3})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        consent_id: Some("consent-1".into()),
        at: crate::testutil::t(minute),
    }
}

/// One sample of every event variant, with every personal field filled.
#[cfg(test)]
pub(crate) fn samples() -> Vec<LeadEvent> {
    use crate::testutil::t;
    vec![
        LeadEvent::LeadReceived(sample_arrival("lead-1", 0)),
        LeadEvent::LeadDeduplicated(sample_arrival("lead-2", 1).into_duplicate_of("lead-1".into())),
        LeadEvent::LeadBlocked(BlockedLead {
            reason: BlockReason::DisposableEmail,
            detail: "mailinator.com is on the disposable-domain list".into(),
            arrival: sample_arrival("lead-3", 2),
        }),
        LeadEvent::LeadStatusChanged {
            from: LeadStatus::New,
            to: LeadStatus::Contacted,
            subject_id: Some("subj-1".into()),
            owner: Some("crm-user-7".into()),
            at: t(3),
        },
    ]
}
