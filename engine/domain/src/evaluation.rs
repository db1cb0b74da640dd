//! Evaluations: one record per evaluation of the rules (a scheduled tick, a capacity change, a
//! lead, a metrics refresh), with everything needed to explain and reproduce it.
//!
//! An evaluation names the log position its facts were built from, the digest of those facts,
//! the facts of every campaign something was proposed for, each rule's run (id, version,
//! source digest, proposals, failures, captured `print` output), how proposals were resolved
//! (accepted, suppressed and why, conflicts), the change ids it requested, and the engine and
//! Rhai versions. The rules host's own types are stored as JSON values here, so that the
//! domain does not depend on the host. One stream per evaluation; it is written once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(EvaluationEvent {
    EvaluationRecorded => "1.1",
});

/// One rule's run within an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct RuleRunRecord {
    /// Rule id.
    pub rule_id: String,
    /// Rule version that ran.
    pub rule_version: u32,
    /// SHA-256 (hex) of the source that ran.
    pub source_digest: String,
    /// Campaigns in the rule's scope.
    pub evaluated: u64,
    /// The host's run record (`leadorch_rules::RuleRun` as JSON, duration excluded): its
    /// proposals, failures and `print` output. Personal like the record's `facts` (rules
    /// write them from the facts).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_null")]
    pub run: Value,
    /// How long the run took, µs (not part of what must replay identically).
    pub duration_us: u64,
}

/// A change an evaluation requested from a campaign's outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct RequestedChange {
    /// Campaign aggregate id, `<customer>/<campaign>`.
    pub campaign: String,
    /// The change id in the campaign's stream.
    pub change_id: String,
    /// The rule whose proposal was accepted.
    pub rule_id: String,
    /// The action's name (`pause`, `resume`, `set_budget`, …).
    pub action: String,
}

/// Everything about one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct EvaluationRecord {
    /// What started it: `schedule`, `capacity_changed`, `lead_received`,
    /// `metrics_refreshed`, `manual`.
    pub trigger: String,
    /// The facts were built from the log up to and including this position.
    pub log_position: u64,
    /// SHA-256 (hex) of the canonical JSON of all facts the rules saw.
    pub facts_digest: String,
    /// Facts of the campaigns something was proposed for, and of their teams. Personal
    /// ([`KeyPurpose::GoogleAds`]) when `google_account` is set: `null` once it is forgotten.
    #[serde(default, deserialize_with = "crate::personal::sealed_as_null")]
    pub facts: Value,
    /// Each rule's run, in evaluation order.
    pub rules: Vec<RuleRunRecord>,
    /// How proposals were resolved (`leadorch_rules::Resolution` as JSON). Personal like
    /// `facts` (rules' reasons may quote campaign names and figures).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_null")]
    pub resolution: Value,
    /// Changes requested as a result.
    pub changes: Vec<RequestedChange>,
    /// Version of the engine that evaluated.
    pub engine_version: String,
    /// Version of the Rhai interpreter.
    pub rhai_version: String,
    /// SHA-256 (hex) of the rules library the rules could import.
    pub lib_digest: String,
    /// Time of the whole evaluation, µs.
    pub duration_us: u64,
    /// The evaluation's time (the time the rules saw).
    pub at: DateTime<Utc>,
    /// The Google account the campaigns' facts were read through, whose data key seals
    /// `facts`, `resolution` and each rule's `run` (`None`: not from Google, e.g. the
    /// simulator; stored in clear). Added in 1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub google_account: Option<String>,
}

impl EvaluationRecord {
    /// Whether `other` is this evaluation again — the same trigger, log position, facts
    /// digest, rules (id, version, source digest, campaigns evaluated), requested changes,
    /// engine, Rhai and library versions, time and Google account. Left out: how long it took
    /// (never the same twice), and the personal fields (`facts`, `resolution`, each rule's
    /// `run`), which follow from the facts digest and the rules' digests, come back `null`
    /// once their account is forgotten, and hold floats that JSON need not return bit for bit.
    pub fn same_evaluation(&self, other: &EvaluationRecord) -> bool {
        self.trigger == other.trigger
            && self.log_position == other.log_position
            && self.facts_digest == other.facts_digest
            && self.rules.len() == other.rules.len()
            && self.rules.iter().zip(&other.rules).all(|(a, b)| {
                a.rule_id == b.rule_id
                    && a.rule_version == b.rule_version
                    && a.source_digest == b.source_digest
                    && a.evaluated == b.evaluated
            })
            && self.changes == other.changes
            && self.engine_version == other.engine_version
            && self.rhai_version == other.rhai_version
            && self.lib_digest == other.lib_digest
            && self.at == other.at
            && self.google_account == other.google_account
    }
}

/// Commands of an [`Evaluation`].
#[derive(Clone, Debug, PartialEq)]
pub enum EvaluationCommand {
    /// Record an evaluation.
    Record(Box<EvaluationRecord>),
}

/// Events of an [`Evaluation`]. Facts hold counts and campaign settings, never lead data;
/// when the campaigns come from Google, the facts and the resolution are Google user data,
/// sealed with the account's [`KeyPurpose::GoogleAds`] key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EvaluationEvent {
    /// An evaluation happened.
    EvaluationRecorded(Box<EvaluationRecord>),
}

/// Why an [`EvaluationCommand`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    /// Another evaluation was already recorded under this id (ids are unique; the same
    /// evaluation again is no error, see [`Evaluation::decide`]). HTTP 409.
    #[error("evaluation already recorded")]
    AlreadyRecorded,
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
}

/// One recorded evaluation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    record: Option<EvaluationRecord>,
}

impl Evaluation {
    /// The record, once written.
    pub fn record(&self) -> Option<&EvaluationRecord> {
        self.record.as_ref()
    }

    /// Decides which events a command produces, without applying them. Recording the same
    /// evaluation again ([`EvaluationRecord::same_evaluation`]: a retry whose first attempt
    /// was recorded) produces nothing and succeeds; another evaluation under a recorded id is
    /// [`EvaluationError::AlreadyRecorded`].
    pub fn decide(
        &self,
        command: EvaluationCommand,
    ) -> Result<Vec<EvaluationEvent>, EvaluationError> {
        match command {
            EvaluationCommand::Record(record) => {
                if let Some(recorded) = &self.record {
                    if recorded.same_evaluation(&record) {
                        return Ok(Vec::new());
                    }
                    return Err(EvaluationError::AlreadyRecorded);
                }
                if is_blank(&record.trigger) {
                    return Err(EvaluationError::EmptyField("trigger"));
                }
                if is_blank(&record.facts_digest) {
                    return Err(EvaluationError::EmptyField("facts_digest"));
                }
                Ok(vec![EvaluationEvent::EvaluationRecorded(record)])
            }
        }
    }
}

impl Evaluation {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: EvaluationEvent) {
        match event {
            EvaluationEvent::EvaluationRecorded(record) => self.record = Some(*record),
        }
    }
}

const RECORDED_FIELDS: &[PersonalField] = &[
    PersonalField {
        pointer: "/EvaluationRecorded/facts",
        purpose: KeyPurpose::GoogleAds,
    },
    PersonalField {
        pointer: "/EvaluationRecorded/resolution",
        purpose: KeyPurpose::GoogleAds,
    },
    PersonalField {
        pointer: "/EvaluationRecorded/rules/*/run",
        purpose: KeyPurpose::GoogleAds,
    },
];

impl PersonalData for EvaluationEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            EvaluationEvent::EvaluationRecorded(r) => r.google_account.as_deref(),
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        if self.data_subject().is_none() {
            return &[];
        }
        RECORDED_FIELDS
    }
}

/// One sample of every event variant.
#[cfg(test)]
pub(crate) fn samples() -> Vec<EvaluationEvent> {
    vec![EvaluationEvent::EvaluationRecorded(Box::new(
        sample_record(),
    ))]
}

#[cfg(test)]
fn sample_record() -> EvaluationRecord {
    use crate::testutil::t;
    EvaluationRecord {
        trigger: "capacity_changed".into(),
        log_position: 42,
        facts_digest: "ab".repeat(32),
        facts: serde_json::json!({"teams": {"sales-nl": {"open_leads": 38}}}),
        rules: vec![RuleRunRecord {
            rule_id: "capacity-gate".into(),
            rule_version: 2,
            source_digest: "cd".repeat(32),
            evaluated: 3,
            run: serde_json::json!({"proposals": []}),
            duration_us: 120,
        }],
        resolution: serde_json::json!({"accepted": [], "suppressed": [], "conflicts": []}),
        changes: vec![RequestedChange {
            campaign: "123/1".into(),
            change_id: "ev-1/0".into(),
            rule_id: "capacity-gate".into(),
            action: "pause".into(),
        }],
        engine_version: "0.1.0".into(),
        rhai_version: "1.27.0".into(),
        lib_digest: "ef".repeat(32),
        duration_us: 300,
        at: t(5),
        google_account: Some("ops".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<Evaluation>;

    #[test]
    fn records_an_evaluation_once() {
        let record = sample_record();
        Fixture::with(())
            .given_no_previous_events()
            .when(EvaluationCommand::Record(Box::new(record.clone())))
            .then_expect_events(vec![EvaluationEvent::EvaluationRecorded(Box::new(
                record.clone(),
            ))]);
        // Another evaluation under the same id is refused.
        let mut other = record.clone();
        other.facts_digest = "00".repeat(32);
        Fixture::with(())
            .given(vec![EvaluationEvent::EvaluationRecorded(Box::new(
                record.clone(),
            ))])
            .when(EvaluationCommand::Record(Box::new(other)))
            .then_expect_error(EvaluationError::AlreadyRecorded);
    }

    #[test]
    fn recording_the_same_evaluation_again_is_success_with_nothing_new() {
        let record = sample_record();
        // A retry: it took another time, and its personal fields were read back as `null`
        // (a forgotten account), or with floats a hair apart.
        let mut again = record.clone();
        again.duration_us += 1;
        again.rules[0].duration_us += 1;
        again.facts = Value::Null;
        again.resolution = Value::Null;
        again.rules[0].run = Value::Null;
        Fixture::with(())
            .given(vec![EvaluationEvent::EvaluationRecorded(Box::new(
                record.clone(),
            ))])
            .when(EvaluationCommand::Record(Box::new(again)))
            .then_expect_events(vec![]);
        assert!(record.same_evaluation(&record));
        for change in [
            |r: &mut EvaluationRecord| r.trigger = "schedule".into(),
            |r: &mut EvaluationRecord| r.log_position += 1,
            |r: &mut EvaluationRecord| r.rules[0].rule_version += 1,
            |r: &mut EvaluationRecord| r.rules[0].source_digest = "00".repeat(32),
            |r: &mut EvaluationRecord| r.changes.clear(),
            |r: &mut EvaluationRecord| r.lib_digest = "00".repeat(32),
            |r: &mut EvaluationRecord| r.at += chrono::Duration::seconds(1),
            |r: &mut EvaluationRecord| r.google_account = None,
        ] {
            let mut other = record.clone();
            change(&mut other);
            assert!(!record.same_evaluation(&other), "{other:?}");
        }
    }

    #[test]
    fn refuses_blank_trigger_and_digest() {
        let mut record = sample_record();
        record.trigger = " ".into();
        Fixture::with(())
            .given_no_previous_events()
            .when(EvaluationCommand::Record(Box::new(record)))
            .then_expect_error(EvaluationError::EmptyField("trigger"));
        let mut record = sample_record();
        record.facts_digest = String::new();
        Fixture::with(())
            .given_no_previous_events()
            .when(EvaluationCommand::Record(Box::new(record)))
            .then_expect_error(EvaluationError::EmptyField("facts_digest"));
    }

    #[test]
    fn apply_keeps_the_record() {
        let mut e = Evaluation::default();
        e.apply(samples().remove(0));
        assert_eq!(e.record(), Some(&sample_record()));
    }
}
