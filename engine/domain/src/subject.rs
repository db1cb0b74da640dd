//! Data subjects: the person behind leads and consents, and the record of their GDPR requests
//! (Art. 15/20 export, Art. 17 erasure) and of retention expiries.
//!
//! Erasure itself is crypto-shredding: the store destroys the subject's keys and then records
//! which ones through [`SubjectCommand::Erase`]. This aggregate keeps the proof that it
//! happened and when. Its events hold no personal data; each carries `subject_id`, which is
//! also the aggregate id.
//!
//! Unlike the command sketch in the design notes, both commands carry `subject_id`: cqrs-es
//! does not hand the aggregate id to `handle`, and every event must name its subject.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(SubjectEvent {
    ExportRequested => "1.0",
    SubjectErased => "1.0",
    RetentionExpired => "1.0",
});

/// Why keys of a subject were destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReason {
    /// The subject asked to be erased (GDPR Art. 17).
    Request,
    /// The retention window of one purpose ran out.
    RetentionExpired {
        /// The purpose whose key expired.
        purpose: KeyPurpose,
    },
}

/// Commands of a [`DataSubject`].
#[derive(Clone, Debug, PartialEq)]
pub enum SubjectCommand {
    /// Record an export (access/portability) request.
    RequestExport {
        /// The subject (the aggregate id).
        subject_id: String,
        /// Id of the request, unique per subject.
        request_id: String,
        /// When it was requested.
        at: DateTime<Utc>,
    },
    /// Record that keys of the subject were destroyed.
    Erase {
        /// The subject (the aggregate id).
        subject_id: String,
        /// Id of the request or retention job run, unique per subject.
        request_id: String,
        /// Why.
        reason: ErasureReason,
        /// Which keys were destroyed. For a retention expiry, at most that purpose.
        purposes: Vec<KeyPurpose>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Events of a [`DataSubject`]. None has personal fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SubjectEvent {
    /// The subject asked for their data.
    ExportRequested {
        /// The subject.
        subject_id: String,
        /// Id of the request.
        request_id: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The subject was erased on request: the listed keys are gone.
    SubjectErased {
        /// The subject.
        subject_id: String,
        /// Id of the request.
        request_id: String,
        /// Keys destroyed (sorted, no duplicates).
        purposes: Vec<KeyPurpose>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The key of one purpose reached the end of its retention window and was destroyed.
    RetentionExpired {
        /// The subject.
        subject_id: String,
        /// Id of the retention job run.
        request_id: String,
        /// The purpose whose key was destroyed.
        purpose: KeyPurpose,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`SubjectCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// The command names another subject than this aggregate's. HTTP 409.
    #[error("command for subject {found:?} sent to subject {expected:?}")]
    SubjectMismatch {
        /// This aggregate's subject.
        expected: String,
        /// The subject in the command.
        found: String,
    },
    /// The request id was used before for this subject. HTTP 409.
    #[error("request {0:?} already recorded")]
    RequestIdReused(String),
    /// The subject was already erased on request. HTTP 409.
    #[error("subject already erased")]
    AlreadyErased,
    /// A retention expiry listed keys of other purposes than the one that expired. HTTP 422.
    #[error("retention expiry of {expired:?} cannot destroy {other:?}")]
    PurposeMismatch {
        /// The purpose that expired.
        expired: KeyPurpose,
        /// Another purpose listed.
        other: KeyPurpose,
    },
}

/// One data subject's request history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSubject {
    subject_id: Option<String>,
    request_ids: BTreeSet<String>,
    exports: Vec<DateTime<Utc>>,
    erased_at: Option<DateTime<Utc>>,
    destroyed: BTreeSet<KeyPurpose>,
    expiries: Vec<(KeyPurpose, DateTime<Utc>)>,
}

impl DataSubject {
    /// The subject id, once anything was recorded.
    pub fn subject_id(&self) -> Option<&str> {
        self.subject_id.as_deref()
    }

    /// When the subject was erased on request.
    pub fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.erased_at
    }

    /// Whether the subject was erased on request.
    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    /// When exports were requested, oldest first.
    pub fn exports(&self) -> &[DateTime<Utc>] {
        &self.exports
    }

    /// Retention expiries, oldest first.
    pub fn expiries(&self) -> &[(KeyPurpose, DateTime<Utc>)] {
        &self.expiries
    }

    /// Purposes whose keys were destroyed on request.
    pub fn destroyed_purposes(&self) -> impl Iterator<Item = KeyPurpose> + '_ {
        self.destroyed.iter().copied()
    }

    fn check_request(&self, subject_id: &str, request_id: &str) -> Result<(), SubjectError> {
        if is_blank(subject_id) {
            return Err(SubjectError::EmptyField("subject_id"));
        }
        if is_blank(request_id) {
            return Err(SubjectError::EmptyField("request_id"));
        }
        if let Some(expected) = &self.subject_id {
            if expected != subject_id {
                return Err(SubjectError::SubjectMismatch {
                    expected: expected.clone(),
                    found: subject_id.to_owned(),
                });
            }
        }
        if self.request_ids.contains(request_id) {
            return Err(SubjectError::RequestIdReused(request_id.to_owned()));
        }
        Ok(())
    }

    /// Decides which events a command produces, without applying them.
    ///
    /// A retention expiry after an erasure on request records nothing: the keys are
    /// already gone.
    pub fn decide(&self, command: SubjectCommand) -> Result<Vec<SubjectEvent>, SubjectError> {
        match command {
            SubjectCommand::RequestExport {
                subject_id,
                request_id,
                at,
            } => {
                self.check_request(&subject_id, &request_id)?;
                Ok(vec![SubjectEvent::ExportRequested {
                    subject_id,
                    request_id,
                    at,
                }])
            }
            SubjectCommand::Erase {
                subject_id,
                request_id,
                reason,
                purposes,
                at,
            } => {
                self.check_request(&subject_id, &request_id)?;
                match reason {
                    ErasureReason::Request => {
                        if self.is_erased() {
                            return Err(SubjectError::AlreadyErased);
                        }
                        let purposes: BTreeSet<KeyPurpose> = purposes.into_iter().collect();
                        Ok(vec![SubjectEvent::SubjectErased {
                            subject_id,
                            request_id,
                            purposes: purposes.into_iter().collect(),
                            at,
                        }])
                    }
                    ErasureReason::RetentionExpired { purpose } => {
                        if let Some(other) = purposes.into_iter().find(|p| *p != purpose) {
                            return Err(SubjectError::PurposeMismatch {
                                expired: purpose,
                                other,
                            });
                        }
                        if self.is_erased() {
                            return Ok(vec![]);
                        }
                        Ok(vec![SubjectEvent::RetentionExpired {
                            subject_id,
                            request_id,
                            purpose,
                            at,
                        }])
                    }
                }
            }
        }
    }
}

impl DataSubject {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: SubjectEvent) {
        match event {
            SubjectEvent::ExportRequested {
                subject_id,
                request_id,
                at,
            } => {
                self.subject_id = Some(subject_id);
                self.request_ids.insert(request_id);
                self.exports.push(at);
            }
            SubjectEvent::SubjectErased {
                subject_id,
                request_id,
                purposes,
                at,
            } => {
                self.subject_id = Some(subject_id);
                self.request_ids.insert(request_id);
                self.erased_at = Some(at);
                self.destroyed.extend(purposes);
            }
            SubjectEvent::RetentionExpired {
                subject_id,
                request_id,
                purpose,
                at,
            } => {
                self.subject_id = Some(subject_id);
                self.request_ids.insert(request_id);
                self.expiries.push((purpose, at));
            }
        }
    }
}

impl PersonalData for SubjectEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            SubjectEvent::ExportRequested { subject_id, .. }
            | SubjectEvent::SubjectErased { subject_id, .. }
            | SubjectEvent::RetentionExpired { subject_id, .. } => Some(subject_id),
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        &[]
    }
}

/// One sample of every event variant.
#[cfg(test)]
pub(crate) fn samples() -> Vec<SubjectEvent> {
    use crate::testutil::t;
    vec![
        SubjectEvent::ExportRequested {
            subject_id: "subj-1".into(),
            request_id: "req-1".into(),
            at: t(0),
        },
        SubjectEvent::RetentionExpired {
            subject_id: "subj-1".into(),
            request_id: "job-1".into(),
            purpose: KeyPurpose::Contact,
            at: t(1),
        },
        SubjectEvent::SubjectErased {
            subject_id: "subj-1".into(),
            request_id: "req-2".into(),
            purposes: KeyPurpose::ALL.to_vec(),
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

    type Fixture = TestFramework<DataSubject>;

    fn export(request_id: &str) -> SubjectCommand {
        SubjectCommand::RequestExport {
            subject_id: "subj-1".into(),
            request_id: request_id.into(),
            at: t(10),
        }
    }

    fn exported(request_id: &str, minute: i64) -> SubjectEvent {
        SubjectEvent::ExportRequested {
            subject_id: "subj-1".into(),
            request_id: request_id.into(),
            at: t(minute),
        }
    }

    fn erase(request_id: &str, purposes: Vec<KeyPurpose>) -> SubjectCommand {
        SubjectCommand::Erase {
            subject_id: "subj-1".into(),
            request_id: request_id.into(),
            reason: ErasureReason::Request,
            purposes,
            at: t(10),
        }
    }

    fn erased(request_id: &str, purposes: Vec<KeyPurpose>) -> SubjectEvent {
        SubjectEvent::SubjectErased {
            subject_id: "subj-1".into(),
            request_id: request_id.into(),
            purposes,
            at: t(10),
        }
    }

    fn expire(request_id: &str, purpose: KeyPurpose, purposes: Vec<KeyPurpose>) -> SubjectCommand {
        SubjectCommand::Erase {
            subject_id: "subj-1".into(),
            request_id: request_id.into(),
            reason: ErasureReason::RetentionExpired { purpose },
            purposes,
            at: t(10),
        }
    }

    #[test]
    fn export_is_recorded() {
        Fixture::with(())
            .given_no_previous_events()
            .when(export("req-1"))
            .then_expect_events(vec![exported("req-1", 10)]);
    }

    #[test]
    fn export_is_still_recorded_after_erasure() {
        Fixture::with(())
            .given(vec![erased("req-1", vec![KeyPurpose::Contact])])
            .when(export("req-2"))
            .then_expect_events(vec![exported("req-2", 10)]);
    }

    #[test]
    fn erase_on_request_records_sorted_unique_purposes() {
        Fixture::with(())
            .given(vec![exported("req-1", 0)])
            .when(erase(
                "req-2",
                vec![
                    KeyPurpose::Fingerprint,
                    KeyPurpose::Contact,
                    KeyPurpose::Fingerprint,
                ],
            ))
            .then_expect_events(vec![erased(
                "req-2",
                vec![KeyPurpose::Contact, KeyPurpose::Fingerprint],
            )]);
    }

    #[test]
    fn erase_on_request_twice_is_refused() {
        Fixture::with(())
            .given(vec![erased("req-1", vec![KeyPurpose::Contact])])
            .when(erase("req-2", vec![]))
            .then_expect_error(SubjectError::AlreadyErased);
    }

    #[test]
    fn retention_expiry_is_recorded_repeatedly() {
        Fixture::with(())
            .given(vec![SubjectEvent::RetentionExpired {
                subject_id: "subj-1".into(),
                request_id: "job-1".into(),
                purpose: KeyPurpose::Contact,
                at: t(0),
            }])
            .when(expire(
                "job-2",
                KeyPurpose::Contact,
                vec![KeyPurpose::Contact],
            ))
            .then_expect_events(vec![SubjectEvent::RetentionExpired {
                subject_id: "subj-1".into(),
                request_id: "job-2".into(),
                purpose: KeyPurpose::Contact,
                at: t(10),
            }]);
    }

    #[test]
    fn retention_expiry_after_erasure_records_nothing() {
        Fixture::with(())
            .given(vec![erased("req-1", KeyPurpose::ALL.to_vec())])
            .when(expire("job-1", KeyPurpose::Fingerprint, vec![]))
            .then_expect_events(vec![]);
    }

    #[test]
    fn retention_expiry_cannot_destroy_other_purposes() {
        Fixture::with(())
            .given_no_previous_events()
            .when(expire(
                "job-1",
                KeyPurpose::Contact,
                vec![KeyPurpose::Contact, KeyPurpose::Consent],
            ))
            .then_expect_error(SubjectError::PurposeMismatch {
                expired: KeyPurpose::Contact,
                other: KeyPurpose::Consent,
            });
    }

    #[test]
    fn request_ids_are_unique_across_kinds() {
        Fixture::with(())
            .given(vec![exported("req-1", 0)])
            .when(export("req-1"))
            .then_expect_error(SubjectError::RequestIdReused("req-1".into()));
        Fixture::with(())
            .given(vec![exported("req-1", 0)])
            .when(erase("req-1", vec![]))
            .then_expect_error(SubjectError::RequestIdReused("req-1".into()));
    }

    #[test]
    fn commands_must_name_this_subject() {
        Fixture::with(())
            .given(vec![exported("req-1", 0)])
            .when(SubjectCommand::RequestExport {
                subject_id: "subj-2".into(),
                request_id: "req-2".into(),
                at: t(1),
            })
            .then_expect_error(SubjectError::SubjectMismatch {
                expected: "subj-1".into(),
                found: "subj-2".into(),
            });
    }

    #[test]
    fn ids_must_not_be_empty() {
        Fixture::with(())
            .given_no_previous_events()
            .when(SubjectCommand::RequestExport {
                subject_id: "".into(),
                request_id: "req-1".into(),
                at: t(1),
            })
            .then_expect_error(SubjectError::EmptyField("subject_id"));
        Fixture::with(())
            .given_no_previous_events()
            .when(erase(" ", vec![]))
            .then_expect_error(SubjectError::EmptyField("request_id"));
    }

    #[test]
    fn state_keeps_the_history() {
        let mut subject = DataSubject::default();
        for event in samples() {
            subject.apply(event);
        }
        assert_eq!(subject.subject_id(), Some("subj-1"));
        assert_eq!(subject.exports(), &[t(0)]);
        assert_eq!(subject.expiries(), &[(KeyPurpose::Contact, t(1))]);
        assert_eq!(subject.erased_at(), Some(t(2)));
        assert!(subject.is_erased());
        assert_eq!(
            subject.destroyed_purposes().collect::<Vec<_>>(),
            KeyPurpose::ALL.to_vec()
        );
    }
}
