//! Lead intake, before anything is stored: the request a client sends (`POST /v1/leads`),
//! its field-by-field check, the normal forms of email addresses and phone numbers, the
//! disposable-domain list, and keyed fingerprints for dedup (ADR 0022, decisions 3 and 4).
//!
//! Pure: no database, no clock, no network. The only I/O is reading the configured
//! disposable-domains file when [`IntakeConfig::from_settings`] resolves `[intake]`.
//!
//! - [`request`]: [`LeadRequest`] (`from_json`, `validate` → [`ValidLead`] or every
//!   [`FieldError`]);
//! - [`email`]: [`Email`], an RFC 5322-ish `addr-spec` and its normal forms;
//! - [`phone`]: [`E164`] and [`Region`], numbers checked against their numbering plan;
//! - [`disposable`]: the [`DisposableDomains`] list;
//! - [`fingerprint`]: [`Fingerprinter`] (HMAC-SHA256 under the project's secret) and
//!   [`Fingerprint`];
//! - [`config`]: [`IntakeConfig`], resolved from `[intake]`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod disposable;
pub mod email;
pub mod fingerprint;
pub mod phone;
pub mod request;

pub use config::{IntakeConfig, IntakeConfigError};
pub use disposable::DisposableDomains;
pub use email::Email;
pub use fingerprint::{Fingerprint, Fingerprinter};
pub use phone::{Region, E164};
pub use request::{
    Attribution, BlockReason, ConsentEvidence, ConsentRequest, FieldError, LeadRequest, ValidLead,
};

/// A lead's fingerprints: one per identifier it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadFingerprints {
    /// Of the email, when the lead has one.
    pub email: Option<Fingerprint>,
    /// Of the phone number, when the lead has one.
    pub phone: Option<Fingerprint>,
}

impl ValidLead {
    /// The lead's fingerprints under `fingerprinter` (the project's).
    pub fn fingerprints(&self, fingerprinter: &Fingerprinter) -> LeadFingerprints {
        LeadFingerprints {
            email: self.email.as_ref().map(|e| fingerprinter.email(e)),
            phone: self.phone.as_ref().map(|p| fingerprinter.phone(p)),
        }
    }
}
