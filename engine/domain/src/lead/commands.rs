//! Commands of a [`super::Lead`].

use chrono::{DateTime, Utc};

use super::events::LeadArrival;
use super::values::{LeadOutcome, LeadStatus};

/// Commands of a [`super::Lead`].
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // commands are built once and consumed at once
pub enum LeadCommand {
    /// Record an arriving lead as `outcome` says: into the funnel, as a duplicate, or blocked.
    ///
    /// The caller normalises the contact details, looks the lead's fingerprints up and
    /// checks it (disposable domains, consent, the team) *before* sending this; the aggregate
    /// validates the ids and records the decision. `arrival.fingerprint`, when given, is 64
    /// hex digits (stored lower-case); `arrival.duplicate_of` is always
    /// [`super::NotDuplicate`] here — a duplicate is named by `outcome`.
    ReceiveLead {
        /// What arrived.
        arrival: LeadArrival,
        /// What the caller decided about it.
        outcome: LeadOutcome,
    },
    /// Move the lead to another funnel status.
    ChangeStatus {
        /// The new status.
        status: LeadStatus,
        /// Personal: the CRM id of the agent who owns the lead now, if the caller knows it.
        owner: Option<String>,
        /// When it changed.
        at: DateTime<Utc>,
    },
}
