//! When an event happened: its **event time**, the `at` every event carries (set by the
//! command that caused it, never by the store). The store's `recorded_at` is the other clock,
//! **recorded time**: when the event was written to the log. `leadorch … --as-of TIME` reads
//! the first, `--known-at TIME` the second (docs/time-travel.md).

use chrono::{DateTime, Utc};

use crate::{
    AnyEvent, CampaignEvent, CapacityEvent, ConsentEvent, EvaluationEvent, GoogleAccountEvent,
    LeadEvent, RuleEvent, SubjectEvent, TeamEvent, WorldEvent,
};

impl AnyEvent {
    /// When the event happened (its `at`): event time.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            AnyEvent::Lead(e) => match e {
                LeadEvent::LeadReceived(a) => a.at,
                LeadEvent::LeadDeduplicated(a) => a.at,
                LeadEvent::LeadBlocked(b) => b.arrival.at,
                LeadEvent::LeadStatusChanged { at, .. } => *at,
            },
            AnyEvent::Consent(
                ConsentEvent::ConsentGranted { at, .. } | ConsentEvent::ConsentWithdrawn { at, .. },
            ) => *at,
            AnyEvent::DataSubject(
                SubjectEvent::ExportRequested { at, .. }
                | SubjectEvent::SubjectErased { at, .. }
                | SubjectEvent::RetentionExpired { at, .. },
            ) => *at,
            AnyEvent::Campaign(
                CampaignEvent::CampaignObserved { at, .. }
                | CampaignEvent::ChangedOutsideEngine { at, .. }
                | CampaignEvent::ChangeRequested { at, .. }
                | CampaignEvent::ChangeApplied { at, .. }
                | CampaignEvent::MetricsRecorded { at, .. }
                | CampaignEvent::ChangeFailed { at, .. }
                | CampaignEvent::ChangeSuperseded { at, .. },
            ) => *at,
            AnyEvent::Capacity(CapacityEvent::CapacityRecorded { at, .. }) => *at,
            AnyEvent::Rule(
                RuleEvent::RuleCreated { at, .. }
                | RuleEvent::RuleVersionAdded { at, .. }
                | RuleEvent::RuleEnabled { at }
                | RuleEvent::RuleDisabled { at }
                | RuleEvent::RuleDeleted { at },
            ) => *at,
            AnyEvent::GoogleAccount(
                GoogleAccountEvent::ConsentGranted { at, .. }
                | GoogleAccountEvent::TokenRefreshed { at, .. }
                | GoogleAccountEvent::ReconsentNeeded { at, .. }
                | GoogleAccountEvent::Revoked { at, .. }
                | GoogleAccountEvent::DataDeleted { at, .. }
                | GoogleAccountEvent::QuotaExhausted { at, .. },
            ) => *at,
            AnyEvent::Evaluation(EvaluationEvent::EvaluationRecorded(r)) => r.at,
            AnyEvent::World(WorldEvent::WorldSimulated { at, .. }) => *at,
            AnyEvent::Team(e) => *TeamEvent::at(e),
            AnyEvent::CapacitySource(e) => *e.at(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_s_time_is_the_at_it_stores() {
        for event in crate::all_samples() {
            let payload = event.to_payload().unwrap();
            let stored = payload
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|inner| inner.get("at"))
                .and_then(|at| at.as_str())
                .unwrap_or_else(|| panic!("{} stores no at: {payload}", event.event_type()));
            let stored: DateTime<Utc> = stored.parse().unwrap();
            assert_eq!(event.at(), stored, "{}", event.event_type());
        }
    }
}
