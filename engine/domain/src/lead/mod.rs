//! Leads: one enquiry (form submission, landing page, call) that a campaign produced, and its
//! way through the sales funnel.
//!
//! The caller normalises the contact details, looks the lead's fingerprints up and checks it
//! *before* sending [`LeadCommand::ReceiveLead`] with its [`LeadOutcome`]; the aggregate only
//! validates and records. A duplicate ([`LeadEvent::LeadDeduplicated`]) or a blocked lead
//! ([`LeadEvent::LeadBlocked`]) is still recorded, personal fields sealed, so that who sent
//! what and why it was answered as it was stays auditable; neither ever enters the funnel.
//!
//! The aggregate's state holds no personal data, so snapshots of it never need encrypting.
//!
//! One file per part: [`values`] (statuses, block reasons, outcomes, attribution),
//! [`commands`], [`events`] (with their personal-data pointers), [`errors`] and
//! [`aggregate`] (the state, `decide`, `evolve`).

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod events;
pub mod values;

pub use aggregate::Lead;
pub use commands::LeadCommand;
pub use errors::LeadError;
#[cfg(test)]
pub(crate) use events::samples;
pub use events::{BlockedLead, DuplicateOf, LeadArrival, LeadEvent, NotDuplicate, EVENT_TYPES};
pub use values::{Attribution, BlockReason, LeadOutcome, LeadStatus, UnknownStatus};

#[cfg(test)]
mod tests;
