//! Consent records: evidence of one prior express written consent (TCPA) / consent under
//! GDPR Art. 7(1), and its withdrawal.
//!
//! One aggregate per consent given: the exact text shown, where, when and the certificate
//! reference. A new consent after a withdrawal is a new aggregate with a new `consent_id`.
//! The IP address, user agent and certificate reference are personal
//! ([`KeyPurpose::Consent`]); the text and URL are not, so they stay provable after the
//! contact details expire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(ConsentEvent {
    ConsentGranted => "1.0",
    ConsentWithdrawn => "1.0",
});

/// Commands of a [`Consent`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConsentCommand {
    /// Record that the subject agreed to `text`.
    GrantConsent {
        /// Id of this consent (the aggregate id).
        consent_id: String,
        /// Data subject who consented.
        subject_id: String,
        /// The lead the consent came with, if any.
        lead_id: Option<String>,
        /// The exact consent text shown.
        text: String,
        /// The page or form where it was shown.
        source_url: String,
        /// Personal: IP address at consent.
        ip: Option<String>,
        /// Personal: user agent at consent.
        user_agent: Option<String>,
        /// Personal: TrustedForm certificate URL or Jornaya LeadiD token.
        certificate_ref: Option<String>,
        /// When consent was given.
        at: DateTime<Utc>,
    },
    /// Record that the subject withdrew this consent.
    WithdrawConsent {
        /// Why, if the subject said so.
        reason: Option<String>,
        /// When it was withdrawn.
        at: DateTime<Utc>,
    },
}

/// Events of a [`Consent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConsentEvent {
    /// The subject consented.
    ConsentGranted {
        /// Id of this consent.
        consent_id: String,
        /// Data subject who consented.
        subject_id: String,
        /// The lead the consent came with, if any.
        lead_id: Option<String>,
        /// The exact consent text shown.
        text: String,
        /// The page or form where it was shown.
        source_url: String,
        /// Personal ([`KeyPurpose::Consent`]).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        ip: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        user_agent: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        certificate_ref: Option<String>,
        /// When consent was given.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The subject withdrew the consent.
    ConsentWithdrawn {
        /// Id of this consent.
        consent_id: String,
        /// Data subject who withdrew.
        subject_id: String,
        /// Why, if the subject said so.
        reason: Option<String>,
        /// When it was withdrawn.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`ConsentCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// The consent text is empty: nothing to prove. HTTP 422.
    #[error("consent text must not be empty")]
    EmptyText,
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// This consent was already recorded. HTTP 409.
    #[error("consent already granted")]
    AlreadyGranted,
    /// No such consent. HTTP 404.
    #[error("consent not granted")]
    NotGranted,
    /// The consent was already withdrawn. HTTP 409.
    #[error("consent already withdrawn")]
    AlreadyWithdrawn,
}

/// One consent record (no personal data in state).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    consent_id: Option<String>,
    subject_id: Option<String>,
    lead_id: Option<String>,
    text: Option<String>,
    source_url: Option<String>,
    granted_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    withdrawal_reason: Option<String>,
}

impl Consent {
    /// The consent id, once granted.
    pub fn consent_id(&self) -> Option<&str> {
        self.consent_id.as_deref()
    }

    /// The data subject, once granted.
    pub fn subject_id(&self) -> Option<&str> {
        self.subject_id.as_deref()
    }

    /// The lead the consent came with, if any.
    pub fn lead_id(&self) -> Option<&str> {
        self.lead_id.as_deref()
    }

    /// The exact consent text shown.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Where it was shown.
    pub fn source_url(&self) -> Option<&str> {
        self.source_url.as_deref()
    }

    /// When consent was given.
    pub fn granted_at(&self) -> Option<DateTime<Utc>> {
        self.granted_at
    }

    /// When it was withdrawn, if it was.
    pub fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        self.withdrawn_at
    }

    /// The reason given for withdrawal, if any.
    pub fn withdrawal_reason(&self) -> Option<&str> {
        self.withdrawal_reason.as_deref()
    }

    /// Granted and not withdrawn.
    pub fn is_active(&self) -> bool {
        self.granted_at.is_some() && self.withdrawn_at.is_none()
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: ConsentCommand) -> Result<Vec<ConsentEvent>, ConsentError> {
        match command {
            ConsentCommand::GrantConsent {
                consent_id,
                subject_id,
                lead_id,
                text,
                source_url,
                ip,
                user_agent,
                certificate_ref,
                at,
            } => {
                if self.granted_at.is_some() {
                    return Err(ConsentError::AlreadyGranted);
                }
                if is_blank(&consent_id) {
                    return Err(ConsentError::EmptyField("consent_id"));
                }
                if is_blank(&subject_id) {
                    return Err(ConsentError::EmptyField("subject_id"));
                }
                if lead_id.as_deref().is_some_and(is_blank) {
                    return Err(ConsentError::EmptyField("lead_id"));
                }
                if is_blank(&text) {
                    return Err(ConsentError::EmptyText);
                }
                if is_blank(&source_url) {
                    return Err(ConsentError::EmptyField("source_url"));
                }
                Ok(vec![ConsentEvent::ConsentGranted {
                    consent_id,
                    subject_id,
                    lead_id,
                    text,
                    source_url,
                    ip,
                    user_agent,
                    certificate_ref,
                    at,
                }])
            }
            ConsentCommand::WithdrawConsent { reason, at } => {
                let (Some(consent_id), Some(subject_id)) = (&self.consent_id, &self.subject_id)
                else {
                    return Err(ConsentError::NotGranted);
                };
                if self.withdrawn_at.is_some() {
                    return Err(ConsentError::AlreadyWithdrawn);
                }
                Ok(vec![ConsentEvent::ConsentWithdrawn {
                    consent_id: consent_id.clone(),
                    subject_id: subject_id.clone(),
                    reason: reason.filter(|r| !is_blank(r)),
                    at,
                }])
            }
        }
    }
}

impl Consent {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: ConsentEvent) {
        match event {
            ConsentEvent::ConsentGranted {
                consent_id,
                subject_id,
                lead_id,
                text,
                source_url,
                at,
                ..
            } => {
                self.consent_id = Some(consent_id);
                self.subject_id = Some(subject_id);
                self.lead_id = lead_id;
                self.text = Some(text);
                self.source_url = Some(source_url);
                self.granted_at = Some(at);
            }
            ConsentEvent::ConsentWithdrawn { reason, at, .. } => {
                self.withdrawn_at = Some(at);
                self.withdrawal_reason = reason;
            }
        }
    }
}

const GRANTED_FIELDS: &[PersonalField] = &[
    PersonalField {
        pointer: "/ConsentGranted/ip",
        purpose: KeyPurpose::Consent,
    },
    PersonalField {
        pointer: "/ConsentGranted/user_agent",
        purpose: KeyPurpose::Consent,
    },
    PersonalField {
        pointer: "/ConsentGranted/certificate_ref",
        purpose: KeyPurpose::Consent,
    },
];

impl PersonalData for ConsentEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            ConsentEvent::ConsentGranted { subject_id, .. }
            | ConsentEvent::ConsentWithdrawn { subject_id, .. } => Some(subject_id),
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        match self {
            ConsentEvent::ConsentGranted { .. } => GRANTED_FIELDS,
            ConsentEvent::ConsentWithdrawn { .. } => &[],
        }
    }
}

/// One sample of every event variant, with every personal field filled.
#[cfg(test)]
pub(crate) fn samples() -> Vec<ConsentEvent> {
    use crate::testutil::t;
    vec![
        ConsentEvent::ConsentGranted {
            consent_id: "consent-1".into(),
            subject_id: "subj-1".into(),
            lead_id: Some("lead-1".into()),
            text: "I agree to be called.".into(),
            source_url: "https://example.com/form".into(),
            ip: Some("192.0.2.1".into()),
            user_agent: Some("Mozilla/5.0".into()),
            certificate_ref: Some("https://cert.trustedform.com/abc".into()),
            at: t(0),
        },
        ConsentEvent::ConsentWithdrawn {
            consent_id: "consent-1".into(),
            subject_id: "subj-1".into(),
            reason: Some("no longer interested".into()),
            at: t(1),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<Consent>;

    fn grant() -> ConsentCommand {
        ConsentCommand::GrantConsent {
            consent_id: "consent-1".into(),
            subject_id: "subj-1".into(),
            lead_id: Some("lead-1".into()),
            text: "I agree to be called.".into(),
            source_url: "https://example.com/form".into(),
            ip: Some("192.0.2.1".into()),
            user_agent: None,
            certificate_ref: Some("https://cert.trustedform.com/abc".into()),
            at: t(0),
        }
    }

    fn granted() -> ConsentEvent {
        ConsentEvent::ConsentGranted {
            consent_id: "consent-1".into(),
            subject_id: "subj-1".into(),
            lead_id: Some("lead-1".into()),
            text: "I agree to be called.".into(),
            source_url: "https://example.com/form".into(),
            ip: Some("192.0.2.1".into()),
            user_agent: None,
            certificate_ref: Some("https://cert.trustedform.com/abc".into()),
            at: t(0),
        }
    }

    fn withdrawn() -> ConsentEvent {
        ConsentEvent::ConsentWithdrawn {
            consent_id: "consent-1".into(),
            subject_id: "subj-1".into(),
            reason: None,
            at: t(5),
        }
    }

    fn grant_with(edit: impl FnOnce(&mut ConsentCommand)) -> ConsentCommand {
        let mut command = grant();
        edit(&mut command);
        command
    }

    #[test]
    fn grant_records_the_evidence() {
        Fixture::with(())
            .given_no_previous_events()
            .when(grant())
            .then_expect_events(vec![granted()]);
    }

    #[test]
    fn grant_twice_is_refused_even_after_withdrawal() {
        Fixture::with(())
            .given(vec![granted()])
            .when(grant())
            .then_expect_error(ConsentError::AlreadyGranted);
        Fixture::with(())
            .given(vec![granted(), withdrawn()])
            .when(grant())
            .then_expect_error(ConsentError::AlreadyGranted);
    }

    #[test]
    fn grant_needs_the_text() {
        for text in ["", " \n"] {
            Fixture::with(())
                .given_no_previous_events()
                .when(grant_with(|c| {
                    if let ConsentCommand::GrantConsent { text: t, .. } = c {
                        *t = text.into();
                    }
                }))
                .then_expect_error(ConsentError::EmptyText);
        }
    }

    #[test]
    fn grant_needs_ids_and_source_url() {
        let cases: Vec<(&str, ConsentCommand)> = vec![
            (
                "consent_id",
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent { consent_id, .. } = c {
                        consent_id.clear();
                    }
                }),
            ),
            (
                "subject_id",
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent { subject_id, .. } = c {
                        subject_id.clear();
                    }
                }),
            ),
            (
                "lead_id",
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent { lead_id, .. } = c {
                        *lead_id = Some(" ".into());
                    }
                }),
            ),
            (
                "source_url",
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent { source_url, .. } = c {
                        source_url.clear();
                    }
                }),
            ),
        ];
        for (field, command) in cases {
            Fixture::with(())
                .given_no_previous_events()
                .when(command)
                .then_expect_error(ConsentError::EmptyField(field));
        }
    }

    #[test]
    fn withdraw_records_who_and_why() {
        Fixture::with(())
            .given(vec![granted()])
            .when(ConsentCommand::WithdrawConsent {
                reason: Some("moved".into()),
                at: t(5),
            })
            .then_expect_events(vec![ConsentEvent::ConsentWithdrawn {
                consent_id: "consent-1".into(),
                subject_id: "subj-1".into(),
                reason: Some("moved".into()),
                at: t(5),
            }]);
        Fixture::with(())
            .given(vec![granted()])
            .when(ConsentCommand::WithdrawConsent {
                reason: Some("  ".into()),
                at: t(5),
            })
            .then_expect_events(vec![withdrawn()]);
    }

    #[test]
    fn withdraw_needs_a_grant() {
        Fixture::with(())
            .given_no_previous_events()
            .when(ConsentCommand::WithdrawConsent {
                reason: None,
                at: t(5),
            })
            .then_expect_error(ConsentError::NotGranted);
    }

    #[test]
    fn withdraw_twice_is_refused() {
        Fixture::with(())
            .given(vec![granted(), withdrawn()])
            .when(ConsentCommand::WithdrawConsent {
                reason: None,
                at: t(6),
            })
            .then_expect_error(ConsentError::AlreadyWithdrawn);
    }

    #[test]
    fn state_tracks_the_proof_without_personal_data() {
        let mut consent = Consent::default();
        consent.apply(granted());
        assert!(consent.is_active());
        assert_eq!(consent.consent_id(), Some("consent-1"));
        assert_eq!(consent.subject_id(), Some("subj-1"));
        assert_eq!(consent.lead_id(), Some("lead-1"));
        assert_eq!(consent.text(), Some("I agree to be called."));
        assert_eq!(consent.source_url(), Some("https://example.com/form"));
        assert_eq!(consent.granted_at(), Some(t(0)));
        let snapshot = serde_json::to_string(&consent).expect("serializes");
        assert!(!snapshot.contains("192.0.2.1"));
        assert!(!snapshot.contains("trustedform"));
        consent.apply(ConsentEvent::ConsentWithdrawn {
            consent_id: "consent-1".into(),
            subject_id: "subj-1".into(),
            reason: Some("moved".into()),
            at: t(5),
        });
        assert!(!consent.is_active());
        assert_eq!(consent.withdrawn_at(), Some(t(5)));
        assert_eq!(consent.withdrawal_reason(), Some("moved"));
    }
}
