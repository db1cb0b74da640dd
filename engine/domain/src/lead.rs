//! Leads: one enquiry (form submission, landing page, call) that a campaign produced, and its
//! way through the sales funnel.
//!
//! The caller normalises the contact details, computes the fingerprint and looks it up in the
//! dedup index *before* sending [`LeadCommand::ReceiveLead`]; the aggregate only decides.
//! A duplicate is still recorded ([`LeadEvent::LeadDeduplicated`]) so that who sent what stays
//! auditable, but it never enters the funnel.
//!
//! The aggregate's state holds no personal data, so snapshots of it never need encrypting.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(LeadEvent {
    LeadReceived => "1.0",
    LeadDeduplicated => "1.0",
    LeadStatusChanged => "1.0",
});

/// Where a lead stands in the sales funnel. Stages only move forward; `Won` and `Lost` are
/// terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Received, nobody has reached out yet.
    New,
    /// A sales agent has contacted the lead.
    Contacted,
    /// The lead is a real sales opportunity.
    Qualified,
    /// Closed: became a customer.
    Won,
    /// Closed: not a customer.
    Lost,
}

impl LeadStatus {
    /// `Won` or `Lost`: no further change is possible.
    pub fn is_closed(self) -> bool {
        matches!(self, LeadStatus::Won | LeadStatus::Lost)
    }

    /// Whether a lead may move from `self` to `to`: forward only, never out of a closed
    /// status, never to the same status.
    pub fn can_move_to(self, to: LeadStatus) -> bool {
        !self.is_closed() && to.stage() > self.stage()
    }

    /// Open statuses count towards a team's open leads.
    pub fn is_open(self) -> bool {
        !self.is_closed()
    }

    fn stage(self) -> u8 {
        match self {
            LeadStatus::New => 0,
            LeadStatus::Contacted => 1,
            LeadStatus::Qualified => 2,
            LeadStatus::Won | LeadStatus::Lost => 3,
        }
    }
}

/// Commands of a [`Lead`].
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // commands are built once and consumed at once
pub enum LeadCommand {
    /// Record an incoming lead, or a duplicate of one if `duplicate_of` is set.
    ReceiveLead {
        /// Id of this lead (the aggregate id).
        lead_id: String,
        /// Data subject whose keys protect the personal fields.
        subject_id: String,
        /// Sales team the lead is routed to.
        team: String,
        /// Google Ads campaign id that produced the lead, if known.
        campaign_id: Option<String>,
        /// Google Ads customer id of that campaign, if known.
        customer_id: Option<String>,
        /// Form or landing page id.
        source: String,
        /// Hex SHA-256 of the normalised email/phone, computed by the caller (64 hex digits;
        /// stored lower-case).
        fingerprint: String,
        /// Lead id the caller found in the dedup index for this fingerprint.
        duplicate_of: Option<String>,
        /// Personal: name.
        name: Option<String>,
        /// Personal: email address.
        email: Option<String>,
        /// Personal: phone number.
        phone: Option<String>,
        /// Personal: IP address of the submission.
        ip: Option<String>,
        /// Personal: free-text message.
        message: Option<String>,
        /// When the lead arrived.
        at: DateTime<Utc>,
    },
    /// Move the lead to another funnel status.
    ChangeStatus {
        /// The new status.
        status: LeadStatus,
        /// When it changed.
        at: DateTime<Utc>,
    },
}

/// Events of a [`Lead`]. Personal fields are `None` when not given or crypto-shredded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // events are short-lived values; boxing buys nothing
pub enum LeadEvent {
    /// A new lead entered the funnel with status `New`.
    LeadReceived(LeadArrival),
    /// A lead arrived that duplicates an earlier one; it is recorded but not in the funnel.
    /// `duplicate_of` names the earlier lead.
    LeadDeduplicated(LeadArrival<String>),
    /// The lead moved to another funnel status.
    LeadStatusChanged {
        /// Status before.
        from: LeadStatus,
        /// Status after.
        to: LeadStatus,
        /// When it changed.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// What a lead brought when it arrived: the payload of [`LeadEvent::LeadReceived`]
/// (`LeadArrival<NotDuplicate>`) and of [`LeadEvent::LeadDeduplicated`] (`LeadArrival<String>`,
/// naming the earlier lead).
///
/// Serialized with its fields in this order, `duplicate_of` left out when it is
/// [`NotDuplicate`], so that both events keep the JSON they have always been stored with
/// (`{"LeadReceived":{"lead_id":…}}`, `{"LeadDeduplicated":{"lead_id":…,"duplicate_of":…}}`).
/// Personal fields are `None` when not given or crypto-shredded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadArrival<D: DuplicateOf = NotDuplicate> {
    /// Id of this lead.
    pub lead_id: String,
    /// Data subject whose keys protect the personal fields.
    pub subject_id: String,
    /// The earlier lead this one duplicates, or [`NotDuplicate`] (not stored).
    #[serde(skip_serializing_if = "DuplicateOf::is_none")]
    pub duplicate_of: D,
    /// Sales team the lead is (or, for a duplicate, would have been) routed to.
    pub team: String,
    /// Google Ads campaign id, if known.
    pub campaign_id: Option<String>,
    /// Google Ads customer id, if known.
    pub customer_id: Option<String>,
    /// Form or landing page id.
    pub source: String,
    /// Personal ([`KeyPurpose::Fingerprint`]): lower-case hex SHA-256.
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
    /// Personal ([`KeyPurpose::Contact`]).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub ip: Option<String>,
    /// Personal ([`KeyPurpose::Contact`]).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub message: Option<String>,
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
            fingerprint: self.fingerprint,
            name: self.name,
            email: self.email,
            phone: self.phone,
            ip: self.ip,
            message: self.message,
            at: self.at,
        }
    }
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

/// Why a [`LeadCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeadError {
    /// The lead id was already used. HTTP 409.
    #[error("lead already received")]
    AlreadyReceived,
    /// The lead does not exist. HTTP 404.
    #[error("lead not received")]
    NotReceived,
    /// A duplicate lead is not in the funnel. HTTP 409.
    #[error("lead is a duplicate of {0} and has no status")]
    DuplicateHasNoStatus(String),
    /// The lead already has that status. HTTP 409.
    #[error("lead is already {0:?}")]
    StatusUnchanged(LeadStatus),
    /// Statuses only move forward and closed ones are final. HTTP 409.
    #[error("lead cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// Current status.
        from: LeadStatus,
        /// Requested status.
        to: LeadStatus,
    },
    /// A required field is empty (or an optional one is given but empty). HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// The fingerprint is not 64 hex digits. HTTP 422.
    #[error("fingerprint must be 64 hex digits (SHA-256)")]
    InvalidFingerprint,
    /// `duplicate_of` names the lead itself. HTTP 422.
    #[error("a lead cannot duplicate itself")]
    DuplicateOfItself,
}

/// A lead: the funnel-relevant facts, no personal data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    lead_id: Option<String>,
    subject_id: Option<String>,
    team: Option<String>,
    campaign_id: Option<String>,
    customer_id: Option<String>,
    source: Option<String>,
    duplicate_of: Option<String>,
    status: Option<LeadStatus>,
    received_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Lead {
    /// Whether the lead (or a duplicate) has been recorded.
    pub fn is_received(&self) -> bool {
        self.lead_id.is_some()
    }

    /// The lead id, once received.
    pub fn lead_id(&self) -> Option<&str> {
        self.lead_id.as_deref()
    }

    /// The data subject, once received.
    pub fn subject_id(&self) -> Option<&str> {
        self.subject_id.as_deref()
    }

    /// The sales team, once received.
    pub fn team(&self) -> Option<&str> {
        self.team.as_deref()
    }

    /// The Google Ads campaign id, if known.
    pub fn campaign_id(&self) -> Option<&str> {
        self.campaign_id.as_deref()
    }

    /// The Google Ads customer id, if known.
    pub fn customer_id(&self) -> Option<&str> {
        self.customer_id.as_deref()
    }

    /// The form or landing page id, once received.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The lead this one duplicates, if it is a duplicate.
    pub fn duplicate_of(&self) -> Option<&str> {
        self.duplicate_of.as_deref()
    }

    /// The funnel status; `None` before receipt and for duplicates.
    pub fn status(&self) -> Option<LeadStatus> {
        self.status
    }

    /// When the lead arrived.
    pub fn received_at(&self) -> Option<DateTime<Utc>> {
        self.received_at
    }

    /// When the lead last changed (arrival or status change).
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: LeadCommand) -> Result<Vec<LeadEvent>, LeadError> {
        match command {
            LeadCommand::ReceiveLead {
                lead_id,
                subject_id,
                team,
                campaign_id,
                customer_id,
                source,
                fingerprint,
                duplicate_of,
                name,
                email,
                phone,
                ip,
                message,
                at,
            } => {
                if self.is_received() {
                    return Err(LeadError::AlreadyReceived);
                }
                for (field, value) in [
                    ("lead_id", Some(&lead_id)),
                    ("subject_id", Some(&subject_id)),
                    ("team", Some(&team)),
                    ("source", Some(&source)),
                    ("campaign_id", campaign_id.as_ref()),
                    ("customer_id", customer_id.as_ref()),
                    ("duplicate_of", duplicate_of.as_ref()),
                ] {
                    if value.is_some_and(|v| is_blank(v)) {
                        return Err(LeadError::EmptyField(field));
                    }
                }
                if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(LeadError::InvalidFingerprint);
                }
                let fingerprint = Some(fingerprint.to_ascii_lowercase());
                let arrival = LeadArrival {
                    lead_id,
                    subject_id,
                    duplicate_of: NotDuplicate,
                    team,
                    campaign_id,
                    customer_id,
                    source,
                    fingerprint,
                    name,
                    email,
                    phone,
                    ip,
                    message,
                    at,
                };
                let event = match duplicate_of {
                    None => LeadEvent::LeadReceived(arrival),
                    Some(duplicate_of) if duplicate_of == arrival.lead_id => {
                        return Err(LeadError::DuplicateOfItself)
                    }
                    Some(duplicate_of) => {
                        LeadEvent::LeadDeduplicated(arrival.into_duplicate_of(duplicate_of))
                    }
                };
                Ok(vec![event])
            }
            LeadCommand::ChangeStatus { status, at } => {
                if !self.is_received() {
                    return Err(LeadError::NotReceived);
                }
                let from = match (self.status, &self.duplicate_of) {
                    (Some(from), _) => from,
                    (None, Some(original)) => {
                        return Err(LeadError::DuplicateHasNoStatus(original.clone()))
                    }
                    (None, None) => return Err(LeadError::NotReceived),
                };
                if from == status {
                    return Err(LeadError::StatusUnchanged(status));
                }
                if !from.can_move_to(status) {
                    return Err(LeadError::InvalidTransition { from, to: status });
                }
                Ok(vec![LeadEvent::LeadStatusChanged {
                    from,
                    to: status,
                    at,
                }])
            }
        }
    }
}

impl Lead {
    /// The state right after an arrival (the personal fields are not kept).
    fn arrived<D: DuplicateOf>(
        arrival: LeadArrival<D>,
        duplicate_of: Option<String>,
        status: Option<LeadStatus>,
    ) -> Lead {
        Lead {
            lead_id: Some(arrival.lead_id),
            subject_id: Some(arrival.subject_id),
            team: Some(arrival.team),
            campaign_id: arrival.campaign_id,
            customer_id: arrival.customer_id,
            source: Some(arrival.source),
            duplicate_of,
            status,
            received_at: Some(arrival.at),
            updated_at: Some(arrival.at),
        }
    }

    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: LeadEvent) {
        match event {
            LeadEvent::LeadReceived(arrival) => {
                *self = Lead::arrived(arrival, None, Some(LeadStatus::New));
            }
            LeadEvent::LeadDeduplicated(arrival) => {
                let original = arrival.duplicate_of.clone();
                *self = Lead::arrived(arrival, Some(original), None);
            }
            LeadEvent::LeadStatusChanged { to, at, .. } => {
                self.status = Some(to);
                self.updated_at = Some(at);
            }
        }
    }
}

const fn contact(pointer: &'static str) -> PersonalField {
    PersonalField {
        pointer,
        purpose: KeyPurpose::Contact,
    }
}

const RECEIVED_FIELDS: &[PersonalField] = &[
    PersonalField {
        pointer: "/LeadReceived/fingerprint",
        purpose: KeyPurpose::Fingerprint,
    },
    contact("/LeadReceived/name"),
    contact("/LeadReceived/email"),
    contact("/LeadReceived/phone"),
    contact("/LeadReceived/ip"),
    contact("/LeadReceived/message"),
];

const DEDUPLICATED_FIELDS: &[PersonalField] = &[
    PersonalField {
        pointer: "/LeadDeduplicated/fingerprint",
        purpose: KeyPurpose::Fingerprint,
    },
    contact("/LeadDeduplicated/name"),
    contact("/LeadDeduplicated/email"),
    contact("/LeadDeduplicated/phone"),
    contact("/LeadDeduplicated/ip"),
    contact("/LeadDeduplicated/message"),
];

impl PersonalData for LeadEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            LeadEvent::LeadReceived(arrival) => Some(&arrival.subject_id),
            LeadEvent::LeadDeduplicated(arrival) => Some(&arrival.subject_id),
            LeadEvent::LeadStatusChanged { .. } => None,
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        match self {
            LeadEvent::LeadReceived(_) => RECEIVED_FIELDS,
            LeadEvent::LeadDeduplicated(_) => DEDUPLICATED_FIELDS,
            LeadEvent::LeadStatusChanged { .. } => &[],
        }
    }
}

/// One sample of every event variant, with every personal field filled.
#[cfg(test)]
pub(crate) fn samples() -> Vec<LeadEvent> {
    use crate::testutil::t;
    let fingerprint = Some("ab".repeat(32));
    vec![
        LeadEvent::LeadReceived(LeadArrival {
            lead_id: "lead-1".into(),
            subject_id: "subj-1".into(),
            duplicate_of: NotDuplicate,
            team: "sales-nl".into(),
            campaign_id: Some("987".into()),
            customer_id: Some("1234567890".into()),
            source: "form-1".into(),
            fingerprint: fingerprint.clone(),
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            phone: Some("+31600000000".into()),
            ip: Some("192.0.2.1".into()),
            message: Some("Call me".into()),
            at: t(0),
        }),
        LeadEvent::LeadDeduplicated(LeadArrival {
            lead_id: "lead-2".into(),
            subject_id: "subj-1".into(),
            duplicate_of: "lead-1".into(),
            team: "sales-nl".into(),
            campaign_id: None,
            customer_id: None,
            source: "form-1".into(),
            fingerprint,
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            phone: Some("+31600000000".into()),
            ip: Some("192.0.2.1".into()),
            message: Some("Again".into()),
            at: t(1),
        }),
        LeadEvent::LeadStatusChanged {
            from: LeadStatus::New,
            to: LeadStatus::Contacted,
            at: t(2),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<Lead>;

    /// The stored JSON of a received and a deduplicated lead, byte for byte (field order
    /// included): the log holds these bytes, and personal-field pointers point into them.
    const RECEIVED_JSON: &str = concat!(
        r#"{"LeadReceived":{"lead_id":"lead-1","subject_id":"subj-1","team":"sales-nl","#,
        r#""campaign_id":"987","customer_id":"1234567890","source":"form-1","#,
        r#""fingerprint":"abababababababababababababababababababababababababababababababab","#,
        r#""name":"Ada","email":"ada@example.com","phone":"+31600000000","ip":"192.0.2.1","#,
        r#""message":"Call me","at":"2025-10-09T08:53:20Z"}}"#,
    );
    const DEDUPLICATED_JSON: &str = concat!(
        r#"{"LeadDeduplicated":{"lead_id":"lead-2","subject_id":"subj-1","#,
        r#""duplicate_of":"lead-1","team":"sales-nl","campaign_id":null,"customer_id":null,"#,
        r#""source":"form-1","#,
        r#""fingerprint":"abababababababababababababababababababababababababababababababab","#,
        r#""name":"Ada","email":"ada@example.com","phone":"+31600000000","ip":"192.0.2.1","#,
        r#""message":"Again","at":"2025-10-09T08:54:20Z"}}"#,
    );

    #[test]
    fn stored_json_of_received_and_deduplicated_leads_is_pinned() {
        let samples = samples();
        assert_eq!(
            serde_json::to_string(&samples[0]).expect("serializes"),
            RECEIVED_JSON
        );
        assert_eq!(
            serde_json::to_string(&samples[1]).expect("serializes"),
            DEDUPLICATED_JSON
        );
        assert_eq!(
            serde_json::from_str::<LeadEvent>(RECEIVED_JSON).expect("decodes"),
            samples[0]
        );
        assert_eq!(
            serde_json::from_str::<LeadEvent>(DEDUPLICATED_JSON).expect("decodes"),
            samples[1]
        );
        // Decoding: personal fields may be absent or null, unknown fields are ignored, and a
        // duplicate must name its original.
        let minimal = r#"{"LeadReceived":{"lead_id":"l","subject_id":"s","team":"t","source":"f","at":"2025-10-09T08:53:20Z","duplicate_of":"x"}}"#;
        let LeadEvent::LeadReceived(LeadArrival {
            fingerprint,
            campaign_id,
            ..
        }) = serde_json::from_str::<LeadEvent>(minimal).expect("decodes")
        else {
            panic!("not LeadReceived");
        };
        assert_eq!((fingerprint, campaign_id), (None, None));
        let no_original = r#"{"LeadDeduplicated":{"lead_id":"l","subject_id":"s","team":"t","source":"f","at":"2025-10-09T08:53:20Z"}}"#;
        let err = serde_json::from_str::<LeadEvent>(no_original).expect_err("needs duplicate_of");
        assert!(
            err.to_string().contains("missing field `duplicate_of`"),
            "{err}"
        );
    }

    const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn receive(duplicate_of: Option<&str>) -> LeadCommand {
        LeadCommand::ReceiveLead {
            lead_id: "lead-2".into(),
            subject_id: "subj-1".into(),
            team: "sales-nl".into(),
            campaign_id: Some("987".into()),
            customer_id: Some("1234567890".into()),
            source: "form-1".into(),
            fingerprint: FP.to_ascii_uppercase(),
            duplicate_of: duplicate_of.map(Into::into),
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            phone: None,
            ip: Some("192.0.2.1".into()),
            message: None,
            at: t(0),
        }
    }

    fn received() -> LeadEvent {
        LeadEvent::LeadReceived(LeadArrival {
            lead_id: "lead-2".into(),
            subject_id: "subj-1".into(),
            duplicate_of: NotDuplicate,
            team: "sales-nl".into(),
            campaign_id: Some("987".into()),
            customer_id: Some("1234567890".into()),
            source: "form-1".into(),
            fingerprint: Some(FP.into()),
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            phone: None,
            ip: Some("192.0.2.1".into()),
            message: None,
            at: t(0),
        })
    }

    fn deduplicated() -> LeadEvent {
        LeadEvent::LeadDeduplicated(LeadArrival {
            lead_id: "lead-2".into(),
            subject_id: "subj-1".into(),
            duplicate_of: "lead-1".into(),
            team: "sales-nl".into(),
            campaign_id: Some("987".into()),
            customer_id: Some("1234567890".into()),
            source: "form-1".into(),
            fingerprint: Some(FP.into()),
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            phone: None,
            ip: Some("192.0.2.1".into()),
            message: None,
            at: t(0),
        })
    }

    fn changed(from: LeadStatus, to: LeadStatus, minute: i64) -> LeadEvent {
        LeadEvent::LeadStatusChanged {
            from,
            to,
            at: t(minute),
        }
    }

    fn change(status: LeadStatus) -> LeadCommand {
        LeadCommand::ChangeStatus { status, at: t(10) }
    }

    fn with_receive(edit: impl FnOnce(&mut LeadCommand)) -> LeadCommand {
        let mut command = receive(None);
        edit(&mut command);
        command
    }

    #[test]
    fn receive_records_a_new_lead_with_lowercase_fingerprint() {
        Fixture::with(())
            .given_no_previous_events()
            .when(receive(None))
            .then_expect_events(vec![received()]);
    }

    #[test]
    fn receive_with_a_dedup_hit_records_a_duplicate() {
        Fixture::with(())
            .given_no_previous_events()
            .when(receive(Some("lead-1")))
            .then_expect_events(vec![deduplicated()]);
    }

    #[test]
    fn receive_twice_is_refused() {
        Fixture::with(())
            .given(vec![received()])
            .when(receive(None))
            .then_expect_error(LeadError::AlreadyReceived);
        Fixture::with(())
            .given(vec![deduplicated()])
            .when(receive(None))
            .then_expect_error(LeadError::AlreadyReceived);
    }

    #[test]
    fn receive_validates_ids() {
        let cases: Vec<(&str, LeadCommand)> = vec![
            (
                "lead_id",
                with_receive(|c| {
                    if let LeadCommand::ReceiveLead { lead_id, .. } = c {
                        lead_id.clear();
                    }
                }),
            ),
            (
                "subject_id",
                with_receive(|c| {
                    if let LeadCommand::ReceiveLead { subject_id, .. } = c {
                        *subject_id = "  ".into();
                    }
                }),
            ),
            (
                "team",
                with_receive(|c| {
                    if let LeadCommand::ReceiveLead { team, .. } = c {
                        team.clear();
                    }
                }),
            ),
            (
                "source",
                with_receive(|c| {
                    if let LeadCommand::ReceiveLead { source, .. } = c {
                        source.clear();
                    }
                }),
            ),
            (
                "campaign_id",
                with_receive(|c| {
                    if let LeadCommand::ReceiveLead { campaign_id, .. } = c {
                        *campaign_id = Some(String::new());
                    }
                }),
            ),
            (
                "customer_id",
                with_receive(|c| {
                    if let LeadCommand::ReceiveLead { customer_id, .. } = c {
                        *customer_id = Some(String::new());
                    }
                }),
            ),
            ("duplicate_of", receive(Some(""))),
        ];
        for (field, command) in cases {
            Fixture::with(())
                .given_no_previous_events()
                .when(command)
                .then_expect_error(LeadError::EmptyField(field));
        }
    }

    #[test]
    fn receive_validates_the_fingerprint() {
        for bad in [
            String::new(),
            "abc".into(),
            FP[..63].to_owned(),
            format!("{FP}0"),
            format!("{}g", &FP[..63]),
            format!("{}é", &FP[..62]),
        ] {
            Fixture::with(())
                .given_no_previous_events()
                .when(with_receive(|c| {
                    if let LeadCommand::ReceiveLead { fingerprint, .. } = c {
                        *fingerprint = bad;
                    }
                }))
                .then_expect_error(LeadError::InvalidFingerprint);
        }
    }

    #[test]
    fn a_lead_cannot_duplicate_itself() {
        Fixture::with(())
            .given_no_previous_events()
            .when(receive(Some("lead-2")))
            .then_expect_error(LeadError::DuplicateOfItself);
    }

    #[test]
    fn status_moves_forward() {
        use LeadStatus::*;
        for (history, from, to) in [
            (vec![], New, Contacted),
            (vec![], New, Won),
            (vec![], New, Lost),
            (vec![changed(New, Contacted, 1)], Contacted, Qualified),
            (vec![changed(New, Contacted, 1)], Contacted, Lost),
            (vec![changed(New, Qualified, 1)], Qualified, Won),
        ] {
            let mut given = vec![received()];
            given.extend(history);
            Fixture::with(())
                .given(given)
                .when(change(to))
                .then_expect_events(vec![changed(from, to, 10)]);
        }
    }

    #[test]
    fn status_cannot_go_back_or_leave_a_closed_state() {
        use LeadStatus::*;
        for (history, from, to) in [
            (vec![changed(New, Contacted, 1)], Contacted, New),
            (vec![changed(New, Qualified, 1)], Qualified, Contacted),
            (vec![changed(New, Won, 1)], Won, Lost),
            (vec![changed(New, Lost, 1)], Lost, Qualified),
            (vec![changed(New, Lost, 1)], Lost, New),
        ] {
            let mut given = vec![received()];
            given.extend(history);
            Fixture::with(())
                .given(given)
                .when(change(to))
                .then_expect_error(LeadError::InvalidTransition { from, to });
        }
    }

    #[test]
    fn same_status_twice_is_refused() {
        Fixture::with(())
            .given(vec![received()])
            .when(change(LeadStatus::New))
            .then_expect_error(LeadError::StatusUnchanged(LeadStatus::New));
        Fixture::with(())
            .given(vec![
                received(),
                changed(LeadStatus::New, LeadStatus::Contacted, 1),
            ])
            .when(change(LeadStatus::Contacted))
            .then_expect_error(LeadError::StatusUnchanged(LeadStatus::Contacted));
    }

    #[test]
    fn status_of_an_unknown_lead_is_refused() {
        Fixture::with(())
            .given_no_previous_events()
            .when(change(LeadStatus::Contacted))
            .then_expect_error(LeadError::NotReceived);
    }

    #[test]
    fn a_duplicate_has_no_status_to_change() {
        Fixture::with(())
            .given(vec![deduplicated()])
            .when(change(LeadStatus::Contacted))
            .then_expect_error(LeadError::DuplicateHasNoStatus("lead-1".into()));
    }

    #[test]
    fn state_holds_funnel_facts_but_no_personal_data() {
        let mut lead = Lead::default();
        lead.apply(received());
        lead.apply(changed(LeadStatus::New, LeadStatus::Contacted, 5));
        assert_eq!(lead.lead_id(), Some("lead-2"));
        assert_eq!(lead.subject_id(), Some("subj-1"));
        assert_eq!(lead.team(), Some("sales-nl"));
        assert_eq!(lead.campaign_id(), Some("987"));
        assert_eq!(lead.customer_id(), Some("1234567890"));
        assert_eq!(lead.source(), Some("form-1"));
        assert_eq!(lead.status(), Some(LeadStatus::Contacted));
        assert_eq!(lead.received_at(), Some(t(0)));
        assert_eq!(lead.updated_at(), Some(t(5)));
        let snapshot = serde_json::to_string(&lead).expect("serializes");
        for personal in ["Ada", "ada@example.com", "192.0.2.1", FP] {
            assert!(!snapshot.contains(personal), "snapshot leaks {personal}");
        }

        let mut duplicate = Lead::default();
        duplicate.apply(deduplicated());
        assert_eq!(duplicate.duplicate_of(), Some("lead-1"));
        assert_eq!(duplicate.status(), None);
        assert!(duplicate.is_received());
    }

    #[test]
    fn shredded_events_still_apply() {
        let mut shredded = received();
        if let LeadEvent::LeadReceived(LeadArrival {
            fingerprint,
            name,
            email,
            ..
        }) = &mut shredded
        {
            *fingerprint = None;
            *name = None;
            *email = None;
        }
        let mut lead = Lead::default();
        lead.apply(shredded);
        assert_eq!(lead.status(), Some(LeadStatus::New));
    }

    #[test]
    fn status_rules() {
        assert!(LeadStatus::Won.is_closed() && LeadStatus::Lost.is_closed());
        assert!(LeadStatus::Qualified.is_open());
        assert!(!LeadStatus::New.can_move_to(LeadStatus::New));
        assert_eq!(
            serde_json::to_value(LeadStatus::Qualified).expect("serializes"),
            "qualified"
        );
    }
}
