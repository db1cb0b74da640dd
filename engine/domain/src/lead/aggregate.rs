//! The [`Lead`] aggregate: its state, `decide` and `evolve`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::commands::LeadCommand;
use super::errors::LeadError;
use super::events::{BlockedLead, DuplicateOf, LeadArrival, LeadEvent};
use super::values::{BlockReason, LeadOutcome, LeadStatus};
use crate::is_blank;

/// A lead: the funnel-relevant facts, no personal data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    lead_id: Option<String>,
    subject_id: Option<String>,
    team: Option<String>,
    campaign_id: Option<String>,
    customer_id: Option<String>,
    source: Option<String>,
    // Added with schema 1.1 of the arrival events: left out of stored read models when
    // absent, so rows written before read the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    form_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consent_id: Option<String>,
    duplicate_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blocked: Option<BlockReason>,
    status: Option<LeadStatus>,
    received_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Lead {
    /// Whether the lead (or a duplicate, or a blocked lead) has been recorded.
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

    /// Where the lead came in (landing page or channel id), once received.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The client's form id, if the lead came through one.
    pub fn form_id(&self) -> Option<&str> {
        self.form_id.as_deref()
    }

    /// The consent recorded with the lead, if any.
    pub fn consent_id(&self) -> Option<&str> {
        self.consent_id.as_deref()
    }

    /// The lead this one duplicates, if it is a duplicate.
    pub fn duplicate_of(&self) -> Option<&str> {
        self.duplicate_of.as_deref()
    }

    /// Why the lead was refused into the funnel, if it was blocked.
    pub fn blocked(&self) -> Option<BlockReason> {
        self.blocked
    }

    /// The funnel status; `None` before receipt, for duplicates and for blocked leads.
    pub fn status(&self) -> Option<LeadStatus> {
        self.status
    }

    /// Whether the lead counts towards its team's open leads: in the funnel with an open
    /// status (duplicates and blocked leads never count).
    pub fn is_open(&self) -> bool {
        self.status.is_some_and(LeadStatus::is_open)
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
            LeadCommand::ReceiveLead { arrival, outcome } => self.receive(arrival, outcome),
            LeadCommand::ChangeStatus { status, owner, at } => {
                self.change_status(status, owner, at)
            }
        }
    }

    fn receive(
        &self,
        mut arrival: LeadArrival,
        outcome: LeadOutcome,
    ) -> Result<Vec<LeadEvent>, LeadError> {
        if self.is_received() {
            return Err(LeadError::AlreadyReceived);
        }
        let original = match &outcome {
            LeadOutcome::Duplicate { of } => Some(of),
            _ => None,
        };
        for (field, value) in [
            ("lead_id", Some(&arrival.lead_id)),
            ("subject_id", Some(&arrival.subject_id)),
            ("team", Some(&arrival.team)),
            ("source", Some(&arrival.source)),
            ("campaign_id", arrival.campaign_id.as_ref()),
            ("customer_id", arrival.customer_id.as_ref()),
            ("form_id", arrival.form_id.as_ref()),
            ("consent_id", arrival.consent_id.as_ref()),
            ("duplicate_of", original),
        ] {
            if value.is_some_and(|v| is_blank(v)) {
                return Err(LeadError::EmptyField(field));
            }
        }
        if let Some(fingerprint) = &mut arrival.fingerprint {
            if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(LeadError::InvalidFingerprint);
            }
            fingerprint.make_ascii_lowercase();
        }
        if arrival
            .metadata
            .as_ref()
            .is_some_and(|m| m.contains_key("$enc"))
        {
            return Err(LeadError::ReservedMetadataKey);
        }
        let event = match outcome {
            LeadOutcome::Accepted => LeadEvent::LeadReceived(arrival),
            LeadOutcome::Duplicate { of } if of == arrival.lead_id => {
                return Err(LeadError::DuplicateOfItself)
            }
            LeadOutcome::Duplicate { of } => {
                LeadEvent::LeadDeduplicated(arrival.into_duplicate_of(of))
            }
            LeadOutcome::Blocked { reason, detail } => {
                if is_blank(&detail) {
                    return Err(LeadError::EmptyField("detail"));
                }
                if let Some(field) = quoted_personal_field(&detail, &arrival) {
                    return Err(LeadError::PersonalDataInDetail(field));
                }
                LeadEvent::LeadBlocked(BlockedLead {
                    reason,
                    detail,
                    arrival,
                })
            }
        };
        Ok(vec![event])
    }

    fn change_status(
        &self,
        status: LeadStatus,
        owner: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<LeadEvent>, LeadError> {
        if !self.is_received() {
            return Err(LeadError::NotReceived);
        }
        let from = match (self.status, &self.duplicate_of, self.blocked) {
            (Some(from), _, _) => from,
            (None, Some(original), _) => {
                return Err(LeadError::DuplicateHasNoStatus(original.clone()))
            }
            (None, None, Some(reason)) => return Err(LeadError::BlockedHasNoStatus(reason)),
            (None, None, None) => return Err(LeadError::NotReceived),
        };
        if owner.as_deref().is_some_and(is_blank) {
            return Err(LeadError::EmptyField("owner"));
        }
        if from == status {
            return Err(LeadError::StatusUnchanged(status));
        }
        if !from.can_move_to(status) {
            return Err(LeadError::InvalidTransition { from, to: status });
        }
        Ok(vec![LeadEvent::LeadStatusChanged {
            from,
            to: status,
            subject_id: self.subject_id.clone(),
            owner,
            at,
        }])
    }
}

/// The first of the identifying personal fields (email, phone, IP address) that `detail`
/// quotes, ignoring case.
fn quoted_personal_field(detail: &str, arrival: &LeadArrival) -> Option<&'static str> {
    let detail = detail.to_lowercase();
    [
        ("email", &arrival.email),
        ("phone", &arrival.phone),
        ("ip", &arrival.ip),
    ]
    .into_iter()
    .find(|(_, value)| {
        value
            .as_deref()
            .map(str::trim)
            .is_some_and(|v| !v.is_empty() && detail.contains(&v.to_lowercase()))
    })
    .map(|(field, _)| field)
}

impl Lead {
    /// The state right after an arrival (the personal fields are not kept).
    fn arrived<D: DuplicateOf>(arrival: LeadArrival<D>) -> Lead {
        Lead {
            lead_id: Some(arrival.lead_id),
            subject_id: Some(arrival.subject_id),
            team: Some(arrival.team),
            campaign_id: arrival.campaign_id,
            customer_id: arrival.customer_id,
            source: Some(arrival.source),
            form_id: arrival.form_id,
            consent_id: arrival.consent_id,
            duplicate_of: None,
            blocked: None,
            status: None,
            received_at: Some(arrival.at),
            updated_at: Some(arrival.at),
        }
    }

    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: LeadEvent) {
        match event {
            LeadEvent::LeadReceived(arrival) => {
                *self = Lead {
                    status: Some(LeadStatus::New),
                    ..Lead::arrived(arrival)
                };
            }
            LeadEvent::LeadDeduplicated(arrival) => {
                let original = arrival.duplicate_of.clone();
                *self = Lead {
                    duplicate_of: Some(original),
                    ..Lead::arrived(arrival)
                };
            }
            LeadEvent::LeadBlocked(BlockedLead {
                reason, arrival, ..
            }) => {
                *self = Lead {
                    blocked: Some(reason),
                    ..Lead::arrived(arrival)
                };
            }
            LeadEvent::LeadStatusChanged { to, at, .. } => {
                self.status = Some(to);
                self.updated_at = Some(at);
            }
        }
    }
}
