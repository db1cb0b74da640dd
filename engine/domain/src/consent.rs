//! Consent records: evidence of one prior express written consent (TCPA) / consent under
//! GDPR Art. 7(1), and its withdrawal.
//!
//! One aggregate per consent given: the exact text shown, where, when and the certificate
//! references. A new consent after a withdrawal is a new aggregate with a new `consent_id`.
//!
//! The page's full address, the IP address, the user agent and the certificate references
//! (a TrustedForm certificate URL names the person's session on the form; a Jornaya LeadiD
//! token likewise) are personal ([`KeyPurpose::Consent`], kept for the consent retention
//! window, erased with the subject). The text and `source_url` (the page without query
//! string or fragment, which may carry click ids or contact details) are not, so they stay
//! in clear.
//!
//! Schema history: `ConsentGranted` 1.1 added `page_url`, `trustedform_cert_url` and
//! `jornaya_token`; 1.0 held one `certificate_ref` (either kind), still read from 1.0 events
//! and never written since.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(ConsentEvent {
    ConsentGranted => "1.1",
    ConsentWithdrawn => "1.0",
});

/// Commands of a [`Consent`].
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // commands are built once and consumed at once
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
        /// The page or form where it was shown, without query string or fragment (those go
        /// in `page_url`).
        source_url: String,
        /// Personal: the page's full address as the browser had it.
        page_url: Option<String>,
        /// Personal: IP address at consent.
        ip: Option<String>,
        /// Personal: user agent at consent.
        user_agent: Option<String>,
        /// Personal: the TrustedForm certificate URL (`https://…`).
        trustedform_cert_url: Option<String>,
        /// Personal: the Jornaya LeadiD token.
        jornaya_token: Option<String>,
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
        /// The page or form where it was shown (since 1.1 without query string or fragment).
        source_url: String,
        /// Personal ([`KeyPurpose::Consent`]).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        ip: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        user_agent: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]): a 1.0 event's certificate reference, a
        /// TrustedForm certificate URL or a Jornaya LeadiD token. Never written since 1.1
        /// (left out of the stored JSON), which has a field for each.
        #[serde(
            default,
            deserialize_with = "crate::personal::sealed_as_none",
            skip_serializing_if = "Option::is_none"
        )]
        certificate_ref: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]): the page's full address (since 1.1).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        page_url: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]): the TrustedForm certificate URL (since 1.1).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        trustedform_cert_url: Option<String>,
        /// Personal ([`KeyPurpose::Consent`]): the Jornaya LeadiD token (since 1.1).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        jornaya_token: Option<String>,
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
    /// A required field is empty (or an optional one is given but empty). HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// `source_url` has a query string or fragment, which may carry personal data and would be
    /// stored in clear. HTTP 422.
    #[error(
        "source_url must not have a query string or fragment (they may carry personal data): \
         give the page without them, and its full address as page_url"
    )]
    SourceUrlWithQuery,
    /// The TrustedForm certificate URL is not an `https://` address. HTTP 422.
    #[error("trustedform_cert_url must be an https:// address")]
    InvalidCertificateUrl,
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
                page_url,
                ip,
                user_agent,
                trustedform_cert_url,
                jornaya_token,
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
                if source_url.contains(['?', '#']) {
                    return Err(ConsentError::SourceUrlWithQuery);
                }
                for (field, value) in [
                    ("page_url", &page_url),
                    ("trustedform_cert_url", &trustedform_cert_url),
                    ("jornaya_token", &jornaya_token),
                ] {
                    if value.as_deref().is_some_and(is_blank) {
                        return Err(ConsentError::EmptyField(field));
                    }
                }
                if trustedform_cert_url
                    .as_deref()
                    .is_some_and(|url| !url.trim_start().starts_with("https://"))
                {
                    return Err(ConsentError::InvalidCertificateUrl);
                }
                Ok(vec![ConsentEvent::ConsentGranted {
                    consent_id,
                    subject_id,
                    lead_id,
                    text,
                    source_url,
                    ip,
                    user_agent,
                    certificate_ref: None,
                    page_url,
                    trustedform_cert_url,
                    jornaya_token,
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

const fn evidence(pointer: &'static str) -> PersonalField {
    PersonalField {
        pointer,
        purpose: KeyPurpose::Consent,
    }
}

const GRANTED_FIELDS: &[PersonalField] = &[
    evidence("/ConsentGranted/ip"),
    evidence("/ConsentGranted/user_agent"),
    evidence("/ConsentGranted/page_url"),
    evidence("/ConsentGranted/trustedform_cert_url"),
    evidence("/ConsentGranted/jornaya_token"),
];

/// A 1.0 grant read back with its certificate reference (what re-encoding it seals).
const GRANTED_1_0_FIELDS: &[PersonalField] = &[
    evidence("/ConsentGranted/ip"),
    evidence("/ConsentGranted/user_agent"),
    evidence("/ConsentGranted/certificate_ref"),
    evidence("/ConsentGranted/page_url"),
    evidence("/ConsentGranted/trustedform_cert_url"),
    evidence("/ConsentGranted/jornaya_token"),
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
            ConsentEvent::ConsentGranted {
                certificate_ref: Some(_),
                ..
            } => GRANTED_1_0_FIELDS,
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
            certificate_ref: None,
            page_url: Some("https://example.com/form?gclid=EAIaIQobChMI".into()),
            trustedform_cert_url: Some("https://cert.trustedform.com/abc".into()),
            jornaya_token: Some("LEADID-1234".into()),
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
            page_url: Some("https://example.com/form?utm_source=google".into()),
            ip: Some("192.0.2.1".into()),
            user_agent: None,
            trustedform_cert_url: Some("https://cert.trustedform.com/abc".into()),
            jornaya_token: None,
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
            certificate_ref: None,
            page_url: Some("https://example.com/form?utm_source=google".into()),
            trustedform_cert_url: Some("https://cert.trustedform.com/abc".into()),
            jornaya_token: None,
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

    #[test]
    fn grant_keeps_query_strings_out_of_the_clear_source_url() {
        for url in [
            "https://example.com/form?email=a@b.c",
            "https://example.com/form#x",
        ] {
            Fixture::with(())
                .given_no_previous_events()
                .when(grant_with(|c| {
                    if let ConsentCommand::GrantConsent { source_url, .. } = c {
                        *source_url = url.into();
                    }
                }))
                .then_expect_error(ConsentError::SourceUrlWithQuery);
        }
    }

    #[test]
    fn grant_checks_the_evidence_it_is_given() {
        let cases: Vec<(ConsentError, ConsentCommand)> = vec![
            (
                ConsentError::EmptyField("page_url"),
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent { page_url, .. } = c {
                        *page_url = Some(" ".into());
                    }
                }),
            ),
            (
                ConsentError::EmptyField("trustedform_cert_url"),
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent {
                        trustedform_cert_url,
                        ..
                    } = c
                    {
                        *trustedform_cert_url = Some(String::new());
                    }
                }),
            ),
            (
                ConsentError::EmptyField("jornaya_token"),
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent { jornaya_token, .. } = c {
                        *jornaya_token = Some("\t".into());
                    }
                }),
            ),
            (
                ConsentError::InvalidCertificateUrl,
                grant_with(|c| {
                    if let ConsentCommand::GrantConsent {
                        trustedform_cert_url,
                        ..
                    } = c
                    {
                        *trustedform_cert_url = Some("http://cert.trustedform.com/abc".into());
                    }
                }),
            ),
        ];
        for (error, command) in cases {
            Fixture::with(())
                .given_no_previous_events()
                .when(command)
                .then_expect_error(error);
        }
        // Only the text, the page and the time are required.
        Fixture::with(())
            .given_no_previous_events()
            .when(grant_with(|c| {
                if let ConsentCommand::GrantConsent {
                    page_url,
                    ip,
                    trustedform_cert_url,
                    ..
                } = c
                {
                    *page_url = None;
                    *ip = None;
                    *trustedform_cert_url = None;
                }
            }))
            .then_expect_events(vec![ConsentEvent::ConsentGranted {
                consent_id: "consent-1".into(),
                subject_id: "subj-1".into(),
                lead_id: Some("lead-1".into()),
                text: "I agree to be called.".into(),
                source_url: "https://example.com/form".into(),
                ip: None,
                user_agent: None,
                certificate_ref: None,
                page_url: None,
                trustedform_cert_url: None,
                jornaya_token: None,
                at: t(0),
            }]);
    }

    /// What 1.1 stores, byte for byte: no `certificate_ref`, every other personal field there
    /// (`null` when absent) for the store to seal by its pointer.
    #[test]
    fn stored_json_of_a_1_1_grant_is_pinned() {
        assert_eq!(
            serde_json::to_string(&granted()).expect("serializes"),
            concat!(
                r#"{"ConsentGranted":{"consent_id":"consent-1","subject_id":"subj-1","#,
                r#""lead_id":"lead-1","text":"I agree to be called.","#,
                r#""source_url":"https://example.com/form","ip":"192.0.2.1","#,
                r#""user_agent":null,"#,
                r#""page_url":"https://example.com/form?utm_source=google","#,
                r#""trustedform_cert_url":"https://cert.trustedform.com/abc","#,
                r#""jornaya_token":null,"at":"2025-10-09T08:53:20Z"}}"#
            )
        );
        assert_eq!(granted().personal_fields(), GRANTED_FIELDS);
    }

    /// A grant stored at 1.0 (one `certificate_ref`, the full page address in `source_url`)
    /// still decodes, and its certificate reference stays declared personal.
    #[test]
    fn a_grant_stored_at_1_0_still_decodes() {
        let stored = serde_json::json!({"ConsentGranted": {
            "consent_id": "consent-1", "subject_id": "subj-1", "lead_id": "lead-1",
            "text": "I agree to be called.", "source_url": "https://example.com/form?c=987",
            "ip": "192.0.2.1", "user_agent": null,
            "certificate_ref": "https://cert.trustedform.com/abc",
            "at": "2025-10-09T08:53:20Z",
        }});
        let Ok(crate::AnyEvent::Consent(event)) =
            crate::AnyEvent::decode("consent", "ConsentGranted", "1.0", &stored)
        else {
            panic!("a 1.0 grant decodes");
        };
        let ConsentEvent::ConsentGranted {
            source_url,
            certificate_ref,
            page_url,
            trustedform_cert_url,
            jornaya_token,
            ..
        } = &event
        else {
            panic!("not ConsentGranted");
        };
        assert_eq!(source_url, "https://example.com/form?c=987");
        assert_eq!(
            certificate_ref.as_deref(),
            Some("https://cert.trustedform.com/abc")
        );
        assert_eq!(
            (page_url, trustedform_cert_url, jornaya_token),
            (&None, &None, &None)
        );
        assert_eq!(event.personal_fields(), GRANTED_1_0_FIELDS);
        assert_eq!(
            crate::upcast::upcast("consent", "ConsentGranted", "1.0", stored.clone()),
            ("1.1".to_owned(), stored)
        );
    }
}
