//! Why a [`super::LeadCommand`] was refused.

use super::values::{BlockReason, LeadStatus};

/// Why a [`super::LeadCommand`] was refused.
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
    /// A blocked lead is not in the funnel. HTTP 409.
    #[error("lead was blocked ({0}) and has no status")]
    BlockedHasNoStatus(BlockReason),
    /// The lead already has that status. HTTP 409.
    #[error("lead is already {0}")]
    StatusUnchanged(LeadStatus),
    /// Statuses only move forward and closed ones are final. HTTP 409.
    #[error("lead cannot go from {from} to {to}")]
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
    /// The duplicate names the lead itself. HTTP 422.
    #[error("a lead cannot duplicate itself")]
    DuplicateOfItself,
    /// The metadata has a top-level `"$enc"` key, which marks a sealed value in stored events
    /// (the metadata would read back as absent). HTTP 422.
    #[error("metadata must not have a top-level \"$enc\" key (it marks sealed values)")]
    ReservedMetadataKey,
    /// A blocked lead's detail quotes one of its personal fields, which would then be stored
    /// in clear, beyond erasure. HTTP 422 (a caller's bug, not the client's).
    #[error("the detail of a blocked lead must not quote its {0}: it is stored in clear")]
    PersonalDataInDetail(&'static str),
}
