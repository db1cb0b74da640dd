//! The campaign aggregate: its state, `decide` (one function per command) and `evolve`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{
    CampaignChange, CampaignCommand, CampaignError, CampaignEvent, CampaignSnapshot,
    CampaignStatus, ChangeRecord, ChangeState, HourMetrics,
};
use crate::is_blank;

/// A campaign as the engine knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    customer_id: Option<String>,
    campaign_id: Option<String>,
    known: Option<CampaignSnapshot>,
    last_observed_at: Option<DateTime<Utc>>,
    changes: BTreeMap<String, ChangeRecord>,
    manual_override_until: Option<DateTime<Utc>>,
}

impl Campaign {
    /// The aggregate id of a campaign: `"<customer_id>/<campaign_id>"`.
    pub fn aggregate_id(customer_id: &str, campaign_id: &str) -> String {
        format!("{customer_id}/{campaign_id}")
    }

    /// Google Ads customer id, once observed.
    pub fn customer_id(&self) -> Option<&str> {
        self.customer_id.as_deref()
    }

    /// Google Ads campaign id, once observed.
    pub fn campaign_id(&self) -> Option<&str> {
        self.campaign_id.as_deref()
    }

    /// What the engine believes the campaign looks like: the last observation with applied
    /// changes on top.
    pub fn snapshot(&self) -> Option<&CampaignSnapshot> {
        self.known.as_ref()
    }

    /// Current status, once observed.
    pub fn status(&self) -> Option<CampaignStatus> {
        self.known.as_ref().map(|k| k.status)
    }

    /// When the campaign was last observed.
    pub fn last_observed_at(&self) -> Option<DateTime<Utc>> {
        self.last_observed_at
    }

    /// Until when a manual change outside the engine is respected.
    pub fn manual_override_until(&self) -> Option<DateTime<Utc>> {
        self.manual_override_until
    }

    /// Whether a manual change outside the engine is still respected at `at`.
    pub fn is_manually_held(&self, at: DateTime<Utc>) -> bool {
        self.manual_override_until.is_some_and(|until| at < until)
    }

    /// One requested change, by id.
    pub fn change(&self, change_id: &str) -> Option<&ChangeRecord> {
        self.changes.get(change_id)
    }

    /// Every change the engine requested, by id.
    pub fn changes(&self) -> impl Iterator<Item = (&str, &ChangeRecord)> {
        self.changes.iter().map(|(id, c)| (id.as_str(), c))
    }

    /// Changes still waiting to be applied, by id.
    pub fn pending_changes(&self) -> impl Iterator<Item = (&str, &ChangeRecord)> {
        self.changes
            .iter()
            .filter(|(_, c)| c.is_open())
            .map(|(id, c)| (id.as_str(), c))
    }

    /// Whether `field_name` differs between `known` and `observed` only because an open
    /// change already took effect in Google Ads.
    fn explained_by_open_change(
        &self,
        known: &CampaignSnapshot,
        observed: &CampaignSnapshot,
        field_name: &str,
    ) -> bool {
        self.changes
            .values()
            .filter(|c| c.is_open() && c.change.field() == field_name)
            .any(|c| {
                let mut expected = known.clone();
                c.change.apply_to(&mut expected);
                expected.same_field(observed, field_name)
            })
    }

    fn open_change(&self, change_id: &str) -> Result<&ChangeRecord, CampaignError> {
        let record = self
            .changes
            .get(change_id)
            .ok_or_else(|| CampaignError::UnknownChange(change_id.to_owned()))?;
        if !record.is_open() {
            return Err(CampaignError::ChangeFinished(change_id.to_owned()));
        }
        Ok(record)
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(&self, command: CampaignCommand) -> Result<Vec<CampaignEvent>, CampaignError> {
        match command {
            CampaignCommand::Observe {
                customer_id,
                campaign_id,
                snapshot,
                manual_hold,
                google_account,
                at,
            } => self.observe(
                customer_id,
                campaign_id,
                snapshot,
                manual_hold,
                google_account,
                at,
            ),
            CampaignCommand::RequestChange {
                change_id,
                change,
                reason,
                decision_ref,
                google_account,
                at,
            } => self.request_change(change_id, change, reason, decision_ref, google_account, at),
            CampaignCommand::MarkApplied { change_id, at } => self.mark_applied(change_id, at),
            CampaignCommand::RecordMetrics {
                hour_start,
                metrics,
                google_account,
                at,
            } => self.record_metrics(hour_start, metrics, google_account, at),
            CampaignCommand::MarkFailed {
                change_id,
                error,
                retryable,
                quota_until,
                at,
            } => self.mark_failed(change_id, error, retryable, quota_until, at),
            CampaignCommand::Supersede { change_id, by, at } => self.supersede(change_id, by, at),
        }
    }

    /// [`CampaignCommand::Observe`]: a first observation, nothing when nothing changed, or the
    /// observation with the changes made outside the engine.
    fn observe(
        &self,
        customer_id: String,
        campaign_id: String,
        snapshot: CampaignSnapshot,
        manual_hold: Duration,
        google_account: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        let hold_until = self.check_observation(
            &customer_id,
            &campaign_id,
            manual_hold,
            google_account.as_deref(),
            at,
        )?;
        // Nothing known (never observed, or its Google data was deleted): a first
        // observation.
        let Some(known) = &self.known else {
            return Ok(vec![CampaignEvent::CampaignObserved {
                customer_id,
                campaign_id,
                snapshot: Some(snapshot),
                google_account,
                at,
            }]);
        };
        if *known == snapshot {
            return Ok(vec![]);
        }
        let changed_fields: Vec<String> = known
            .changed_fields(&snapshot)
            .into_iter()
            .filter(|f| !self.explained_by_open_change(known, &snapshot, f))
            .map(str::to_owned)
            .collect();
        let mut events = vec![CampaignEvent::CampaignObserved {
            customer_id,
            campaign_id,
            snapshot: Some(snapshot.clone()),
            google_account: google_account.clone(),
            at,
        }];
        if !changed_fields.is_empty() {
            events.push(CampaignEvent::ChangedOutsideEngine {
                changed_fields,
                before: Some(known.clone()),
                after: Some(snapshot),
                google_account,
                hold_until,
                at,
            });
        }
        Ok(events)
    }

    /// Checks an observation's ids, hold, order and account; returns until when a change
    /// made outside the engine would be respected.
    fn check_observation(
        &self,
        customer_id: &str,
        campaign_id: &str,
        manual_hold: Duration,
        google_account: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CampaignError> {
        if is_blank(customer_id) {
            return Err(CampaignError::EmptyField("customer_id"));
        }
        if is_blank(campaign_id) {
            return Err(CampaignError::EmptyField("campaign_id"));
        }
        if let (Some(known_customer), Some(known_campaign)) = (&self.customer_id, &self.campaign_id)
        {
            if known_customer != customer_id || known_campaign != campaign_id {
                return Err(CampaignError::CampaignMismatch {
                    expected: Campaign::aggregate_id(known_customer, known_campaign),
                    found: Campaign::aggregate_id(customer_id, campaign_id),
                });
            }
        }
        if manual_hold < Duration::zero() {
            return Err(CampaignError::InvalidManualHold);
        }
        let hold_until = at
            .checked_add_signed(manual_hold)
            .ok_or(CampaignError::InvalidManualHold)?;
        if let Some(last) = self.last_observed_at {
            if at < last {
                return Err(CampaignError::ObservationOutOfOrder { last, at });
            }
        }
        if google_account.is_some_and(is_blank) {
            return Err(CampaignError::EmptyField("google_account"));
        }
        Ok(hold_until)
    }

    /// [`CampaignCommand::RequestChange`].
    fn request_change(
        &self,
        change_id: String,
        change: CampaignChange,
        reason: String,
        decision_ref: Option<String>,
        google_account: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        let known = self.known.as_ref().ok_or(CampaignError::NotObserved)?;
        if known.status == CampaignStatus::Removed {
            return Err(CampaignError::Removed);
        }
        if is_blank(&change_id) {
            return Err(CampaignError::EmptyField("change_id"));
        }
        if self.changes.contains_key(&change_id) {
            return Err(CampaignError::ChangeIdReused(change_id));
        }
        if is_blank(&reason) {
            return Err(CampaignError::EmptyField("reason"));
        }
        if decision_ref.as_deref().is_some_and(is_blank) {
            return Err(CampaignError::EmptyField("decision_ref"));
        }
        if google_account.as_deref().is_some_and(is_blank) {
            return Err(CampaignError::EmptyField("google_account"));
        }
        change.validate()?;
        Ok(vec![CampaignEvent::ChangeRequested {
            change_id,
            change,
            reason: Some(reason),
            decision_ref,
            google_account,
            at,
        }])
    }

    /// [`CampaignCommand::MarkApplied`].
    fn mark_applied(
        &self,
        change_id: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        let record = self.open_change(&change_id)?;
        Ok(vec![CampaignEvent::ChangeApplied {
            change: record.change.clone(),
            change_id,
            at,
        }])
    }

    /// [`CampaignCommand::RecordMetrics`].
    fn record_metrics(
        &self,
        hour_start: DateTime<Utc>,
        metrics: HourMetrics,
        google_account: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        if self.known.is_none() {
            return Err(CampaignError::NotObserved);
        }
        if google_account.as_deref().is_some_and(is_blank) {
            return Err(CampaignError::EmptyField("google_account"));
        }
        if metrics.cost_micros < 0 {
            return Err(CampaignError::InvalidMetrics("cost_micros is negative"));
        }
        if !metrics.conversions.is_finite() || metrics.conversions < 0.0 {
            return Err(CampaignError::InvalidMetrics(
                "conversions must be a finite number >= 0",
            ));
        }
        if hour_start.timestamp().rem_euclid(3600) != 0 || hour_start.timestamp_subsec_nanos() != 0
        {
            return Err(CampaignError::InvalidMetrics(
                "hour_start must be on the hour",
            ));
        }
        Ok(vec![CampaignEvent::MetricsRecorded {
            hour_start,
            metrics: Some(metrics),
            google_account,
            at,
        }])
    }

    /// [`CampaignCommand::MarkFailed`].
    fn mark_failed(
        &self,
        change_id: String,
        error: String,
        retryable: bool,
        quota_until: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        self.open_change(&change_id)?;
        if is_blank(&error) {
            return Err(CampaignError::EmptyField("error"));
        }
        Ok(vec![CampaignEvent::ChangeFailed {
            change_id,
            error,
            retryable,
            quota_until,
            at,
        }])
    }

    /// [`CampaignCommand::Supersede`]: only an open change, by a later change of the same
    /// field that is no longer open.
    fn supersede(
        &self,
        change_id: String,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        let record = self.open_change(&change_id)?;
        let later = self
            .changes
            .get(&by)
            .ok_or_else(|| CampaignError::UnknownChange(by.clone()))?;
        let why = if by == change_id {
            Some("a change cannot replace itself")
        } else if later.change.field() != record.change.field() {
            Some("it changes another field")
        } else if later.requested_at < record.requested_at {
            Some("it was requested before it")
        } else if later.is_open() {
            Some("it is still open")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(CampaignError::NotSuperseding { change_id, by, why });
        }
        Ok(vec![CampaignEvent::ChangeSuperseded { change_id, by, at }])
    }
}

impl Campaign {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: CampaignEvent) {
        match event {
            CampaignEvent::CampaignObserved {
                customer_id,
                campaign_id,
                snapshot,
                at,
                ..
            } => {
                self.customer_id = Some(customer_id);
                self.campaign_id = Some(campaign_id);
                // `None` once its Google data was deleted: then nothing is known of it.
                self.known = snapshot;
                self.last_observed_at = Some(at);
            }
            CampaignEvent::ChangedOutsideEngine { hold_until, .. } => {
                self.manual_override_until = Some(match self.manual_override_until {
                    Some(current) if current > hold_until => current,
                    _ => hold_until,
                });
            }
            CampaignEvent::ChangeRequested {
                change_id,
                change,
                reason,
                decision_ref,
                at,
                ..
            } => {
                self.changes.insert(
                    change_id,
                    ChangeRecord {
                        change,
                        // Empty once the campaign's Google account was forgotten.
                        reason: reason.unwrap_or_default(),
                        decision_ref,
                        requested_at: at,
                        state: ChangeState::Requested,
                    },
                );
            }
            CampaignEvent::ChangeApplied {
                change_id,
                change,
                at,
            } => {
                if let Some(known) = &mut self.known {
                    change.apply_to(known);
                }
                if let Some(record) = self.changes.get_mut(&change_id) {
                    record.state = ChangeState::Applied { at };
                }
            }
            CampaignEvent::ChangeSuperseded { change_id, by, at } => {
                if let Some(record) = self.changes.get_mut(&change_id) {
                    record.state = ChangeState::Superseded { by, at };
                }
            }
            // Metrics are facts for rules and backtests (folded by their views), not state
            // a command decides on.
            CampaignEvent::MetricsRecorded { .. } => {}
            CampaignEvent::ChangeFailed {
                change_id,
                error,
                retryable,
                at,
                ..
            } => {
                if let Some(record) = self.changes.get_mut(&change_id) {
                    record.state = ChangeState::Failed {
                        error,
                        retryable,
                        at,
                    };
                }
            }
        }
    }
}
