//! The action executor: drains the campaigns' outbox (changes requested, not yet applied).
//!
//! Before applying, it reads the campaigns it is about to change back from the platform (only
//! those, [`AdsAdapter::campaigns_of`]): a change already in effect
//! (applied by an earlier run that crashed before recording it, or made by someone else) is
//! recorded as applied without calling the platform again. So a crash anywhere between
//! deciding and recording the outcome neither loses an action (the request stays open) nor
//! repeats one.
//!
//! Of several open changes of one campaign's field, only the latest is applied; once it
//! closes (applied, already in effect, or failed for good) the older ones are recorded as
//! superseded by it and never sent (ADR 0054): a decision the rules have since reversed is
//! not applied late. One of them that the read-back shows in effect (an attempt that reached
//! Google before a crash or a timeout) is recorded as applied instead, before the latest.
//!
//! Once Google's quota refused a call ([`AdsAdapter::quota_refusal`]), every change still open
//! is recorded failed once, unsent, with the time the quota comes back (`quota_until`): the
//! rules decide again then ([`crate::quota`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use leadorch_core::Engine;
use leadorch_domain::campaign::{CampaignChange, ChangeRecord};
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_evaluate::facts::FactsView;
use leadorch_store::Metadata;
use serde::Serialize;

use crate::adapter::{AdsAdapter, ObservedCampaign};
use crate::Result;

/// How one change ended in this pass.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum ExecResult {
    /// The platform applied it.
    Applied,
    /// It was already in effect; the platform was not called.
    AlreadyInEffect,
    /// The platform refused or failed.
    Failed {
        /// What it said.
        error: String,
        /// Whether it stays open for another attempt.
        retryable: bool,
    },
    /// A later change of the same field closed first: this one is never sent.
    Superseded {
        /// The later change.
        by: String,
    },
}

impl ExecResult {
    /// Whether the change is closed by it (no longer open for another attempt).
    fn closes(&self) -> bool {
        !matches!(
            self,
            ExecResult::Failed {
                retryable: true,
                ..
            }
        )
    }
}

/// One change handled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecOutcome {
    /// Campaign id.
    pub campaign: String,
    /// Change id.
    pub change_id: String,
    /// The change.
    pub change: CampaignChange,
    /// The change's reason.
    pub reason: String,
    /// How it ended.
    pub result: ExecResult,
    /// Google's quota refused the call (or an earlier one): nothing is sent before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_until: Option<DateTime<Utc>>,
}

/// The executor, with its attempt counts.
#[derive(Debug, Default)]
pub struct Executor {
    attempts: HashMap<String, u32>,
    /// Attempts before a retryable failure becomes final.
    pub max_attempts: u32,
}

/// Whether `change` is already in effect on `observed`.
pub fn in_effect(observed: &ObservedCampaign, change: &CampaignChange) -> bool {
    let mut expected = observed.snapshot.clone();
    change.apply_to(&mut expected);
    observed.snapshot.changed_fields(&expected).is_empty()
}

impl Executor {
    /// A new executor.
    pub fn new(max_attempts: u32) -> Executor {
        Executor {
            attempts: HashMap::new(),
            max_attempts: max_attempts.max(1),
        }
    }

    /// Applies every open change of `view` to the campaigns read through `adapter`'s Google
    /// account (another account's changes are its own daemon's to apply) and records each
    /// outcome.
    pub async fn run(
        &mut self,
        engine: &Engine,
        view: &FactsView,
        adapter: &dyn AdsAdapter,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Vec<ExecOutcome>> {
        let pending = view.pending_changes_via(adapter.google_account());
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let metadata = Metadata::actor(actor);
        // The latest open change of each campaign's field is applied (the list is in the
        // order they were requested); the others wait for it to close.
        let mut older: HashMap<(String, &'static str), Vec<(String, ChangeRecord)>> =
            HashMap::new();
        let mut latest: HashMap<(String, &'static str), (String, ChangeRecord)> = HashMap::new();
        for (campaign, change_id, record) in pending {
            let key = (campaign, record.change.field());
            if let Some(earlier) = latest.insert(key.clone(), (change_id, record)) {
                older.entry(key).or_default().push(earlier);
            }
        }
        let mut pending: Vec<(String, String, ChangeRecord)> = latest
            .into_iter()
            .map(|((campaign, _), (change_id, record))| (campaign, change_id, record))
            .collect();
        pending.sort_by(|a, b| (a.2.requested_at, &a.1).cmp(&(b.2.requested_at, &b.1)));
        // Only the campaigns about to change are read back.
        let wanted: Vec<(String, String)> = pending
            .iter()
            .filter_map(|(campaign, _, _)| {
                let state = &view.campaigns.get(campaign)?.state;
                Some((
                    state.customer_id()?.to_string(),
                    state.campaign_id()?.to_string(),
                ))
            })
            .collect();
        let observed: HashMap<String, ObservedCampaign> = match adapter.campaigns_of(&wanted).await
        {
            Ok(list) => list
                .into_iter()
                .map(|c| (Campaign::aggregate_id(&c.customer_id, &c.campaign_id), c))
                .collect(),
            // Without a read-back, apply blindly: changes carry absolute values.
            Err(_) => HashMap::new(),
        };
        let mut out = Vec::new();
        for (campaign, change_id, record) in pending {
            let Some(entry) = view.campaigns.get(&campaign) else {
                continue;
            };
            let (Some(customer_id), Some(campaign_id)) =
                (entry.state.customer_id(), entry.state.campaign_id())
            else {
                continue;
            };
            let held = |adapter: &dyn AdsAdapter| {
                adapter
                    .quota_refusal()
                    .map(|r| crate::quota::hold_until(&r, now))
            };
            let mut quota_until = held(adapter);
            // An older open change of the field that the read-back shows in effect (an attempt
            // that reached Google before a crash or a timeout) took effect: recorded as
            // applied, not as superseded, before the latest is applied on top.
            if let (None, Some(o), Some(list)) = (
                quota_until,
                observed.get(&campaign),
                older.get_mut(&(campaign.clone(), record.change.field())),
            ) {
                if !in_effect(o, &record.change) {
                    if let Some(i) = list.iter().rposition(|(_, r)| in_effect(o, &r.change)) {
                        let (old_id, old) = list.remove(i);
                        self.attempts.remove(&old_id);
                        let command = CampaignCommand::MarkApplied {
                            change_id: old_id.clone(),
                            at: now,
                        };
                        let result = ExecResult::AlreadyInEffect;
                        out.push(
                            close(engine, &metadata, &campaign, (old_id, old), command, result)
                                .await?,
                        );
                    }
                }
            }
            let result = if let Some(until) = quota_until {
                ExecResult::Failed {
                    error: format!(
                        "not sent: Google's quota is exhausted until {}; the rules decide again then",
                        until.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    retryable: false,
                }
            } else if observed
                .get(&campaign)
                .is_some_and(|o| in_effect(o, &record.change))
            {
                ExecResult::AlreadyInEffect
            } else {
                match adapter
                    .apply(customer_id, campaign_id, &record.change)
                    .await
                {
                    Ok(()) => ExecResult::Applied,
                    Err(e) => {
                        quota_until = held(adapter);
                        let n = self.attempts.entry(change_id.clone()).or_insert(0);
                        *n += 1;
                        ExecResult::Failed {
                            error: e.message,
                            retryable: quota_until.is_none()
                                && e.retryable
                                && *n < self.max_attempts,
                        }
                    }
                }
            };
            if quota_until.is_some() {
                self.attempts.remove(&change_id);
            }
            let command = match &result {
                ExecResult::Applied | ExecResult::AlreadyInEffect => {
                    self.attempts.remove(&change_id);
                    CampaignCommand::MarkApplied {
                        change_id: change_id.clone(),
                        at: now,
                    }
                }
                ExecResult::Failed { error, retryable } => CampaignCommand::MarkFailed {
                    change_id: change_id.clone(),
                    error: error.clone(),
                    retryable: *retryable,
                    quota_until,
                    at: now,
                },
                ExecResult::Superseded { by } => CampaignCommand::Supersede {
                    change_id: change_id.clone(),
                    by: by.clone(),
                    at: now,
                },
            };
            engine
                .execute::<Campaign>(&campaign, command, &metadata)
                .await?;
            let closed = result.closes();
            let field = record.change.field();
            out.push(ExecOutcome {
                campaign: campaign.clone(),
                change_id: change_id.clone(),
                change: record.change,
                reason: record.reason,
                result,
                quota_until,
            });
            if !closed {
                continue;
            }
            for (old_id, old) in older.remove(&(campaign.clone(), field)).unwrap_or_default() {
                self.attempts.remove(&old_id);
                let command = CampaignCommand::Supersede {
                    change_id: old_id.clone(),
                    by: change_id.clone(),
                    at: now,
                };
                let result = ExecResult::Superseded {
                    by: change_id.clone(),
                };
                out.push(
                    close(engine, &metadata, &campaign, (old_id, old), command, result).await?,
                );
            }
        }
        Ok(out)
    }
}

/// Records how an older open change of a field closed (`command`), unsent: its outcome.
async fn close(
    engine: &Engine,
    metadata: &Metadata,
    campaign: &str,
    (change_id, record): (String, ChangeRecord),
    command: CampaignCommand,
    result: ExecResult,
) -> Result<ExecOutcome> {
    engine
        .execute::<Campaign>(campaign, command, metadata)
        .await?;
    Ok(ExecOutcome {
        campaign: campaign.to_string(),
        change_id,
        change: record.change,
        reason: record.reason,
        result,
        quota_until: None,
    })
}
