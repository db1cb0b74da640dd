//! Turns the proposals of all rules into the decisions to act on: one winner per campaign
//! field, then guards against flapping, undoing manual changes and no-op changes.
//!
//! Pure and deterministic: the result does not depend on the order of the input.
//!
//! 1. Proposals are ordered by priority (highest first), rule name, campaign, action name
//!    (and, as a last tie-break, their full content). Amounts are then fitted to the
//!    campaign's currency when it is known: a budget rounded down to a multiple of the unit
//!    (never more than the rule asked), a target CPA to the nearest multiple; one that
//!    comes to nothing is [`SuppressReason::BelowCurrencyUnit`] and does not take part. So
//!    what is compared and requested is what Google accepts (ADR 0031).
//! 2. Per (campaign, field) the first proposal wins. A later proposal with the same action
//!    is a [`SuppressReason::Duplicate`]; a different one loses
//!    ([`SuppressReason::LostConflict`]) and the clash is recorded as a [`Conflict`].
//! 3. The winner is checked, in this order: campaign unknown, removed, manual hold,
//!    the same change already pending, no change (accepted instead when a change of the
//!    field is pending: it replaces that change before it is applied, ADR 0054), the same
//!    change refused for good within the field's dwell or cooldown, dwell (status) or
//!    cooldown (other fields). A different change than the one pending replaces it once
//!    accepted.
//!    Suppressed winners still win: a high-priority rule holding a campaign in its state
//!    keeps lower-priority rules from changing it.
//! 4. Notifications are always accepted, once per campaign and message.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use leadorch_domain::campaign::{AdScheduleSlot, CampaignChange, CampaignStatus, Currency};
use serde::{Deserialize, Serialize};

use crate::decision::{Action, Proposal};
use crate::facts::CampaignFacts;

/// Anti-flapping policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// After a status change, no other status change until this much time has passed.
    pub min_dwell: Duration,
    /// After a change of a field (budget, bidding, schedule), no other change of that field
    /// until this much time has passed.
    pub cooldown: Duration,
}

impl Default for Policy {
    /// 20 minutes dwell, 30 minutes cooldown.
    fn default() -> Self {
        Policy {
            min_dwell: Duration::minutes(20),
            cooldown: Duration::minutes(30),
        }
    }
}

/// What to act on, and why everything else is not acted on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// Decisions to act on, in resolution order.
    pub accepted: Vec<Proposal>,
    /// Proposals not acted on, with the reason.
    pub suppressed: Vec<Suppressed>,
    /// Clashes between rules over one field of one campaign.
    pub conflicts: Vec<Conflict>,
}

/// A proposal that is not acted on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    /// The proposal.
    pub proposal: Proposal,
    /// Why.
    pub why: SuppressReason,
}

/// Why a proposal is not acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum SuppressReason {
    /// The campaign is already in that state.
    NoChange,
    /// Someone changed the campaign outside the engine; it is left alone until then.
    ManualHold {
        /// End of the hold.
        until: DateTime<Utc>,
    },
    /// The status changed too recently.
    Dwell {
        /// When a status change is allowed again.
        until: DateTime<Utc>,
    },
    /// The field changed too recently.
    Cooldown {
        /// When a change of the field is allowed again.
        until: DateTime<Utc>,
    },
    /// A change to this field is still being applied.
    Pending {
        /// The field.
        field: String,
    },
    /// Another rule won the field with a different action.
    LostConflict {
        /// The winning rule.
        winner: String,
    },
    /// Another rule proposed the same action and was kept.
    Duplicate {
        /// The rule whose proposal was kept.
        kept: String,
    },
    /// The same change failed for good (Google refused it, or it was only validated)
    /// within the field's dwell or cooldown; another value is not held back.
    RecentlyRefused {
        /// When the same change may be asked for again.
        until: DateTime<Utc>,
    },
    /// The amount, fitted to the account currency, comes to less than one unit.
    BelowCurrencyUnit {
        /// The currency.
        currency: String,
        /// Its minimum unit in micros.
        unit_micros: i64,
    },
    /// The campaign is removed in Google Ads.
    Removed,
    /// No campaign with that id is known.
    UnknownCampaign,
}

impl SuppressReason {
    /// Stable kind name, as serialized in `why`.
    pub fn kind(&self) -> &'static str {
        match self {
            SuppressReason::NoChange => "no_change",
            SuppressReason::ManualHold { .. } => "manual_hold",
            SuppressReason::Dwell { .. } => "dwell",
            SuppressReason::Cooldown { .. } => "cooldown",
            SuppressReason::Pending { .. } => "pending",
            SuppressReason::LostConflict { .. } => "lost_conflict",
            SuppressReason::Duplicate { .. } => "duplicate",
            SuppressReason::RecentlyRefused { .. } => "recently_refused",
            SuppressReason::BelowCurrencyUnit { .. } => "below_currency_unit",
            SuppressReason::Removed => "removed",
            SuppressReason::UnknownCampaign => "unknown_campaign",
        }
    }
}

impl std::fmt::Display for SuppressReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let iso = |t: &DateTime<Utc>| crate::view::iso_utc(*t);
        match self {
            SuppressReason::NoChange => f.write_str("no change"),
            SuppressReason::ManualHold { until } => write!(f, "manual hold until {}", iso(until)),
            SuppressReason::Dwell { until } => write!(f, "dwell until {}", iso(until)),
            SuppressReason::Cooldown { until } => write!(f, "cooldown until {}", iso(until)),
            SuppressReason::Pending { field } => write!(f, "pending change of {field}"),
            SuppressReason::LostConflict { winner } => write!(f, "lost conflict to {winner}"),
            SuppressReason::Duplicate { kept } => write!(f, "duplicate of {kept}"),
            SuppressReason::RecentlyRefused { until } => {
                write!(f, "the same change was refused; again after {}", iso(until))
            }
            SuppressReason::BelowCurrencyUnit {
                currency,
                unit_micros,
            } => write!(
                f,
                "below the {currency} minimum unit ({unit_micros} micros)"
            ),
            SuppressReason::Removed => f.write_str("campaign removed"),
            SuppressReason::UnknownCampaign => f.write_str("unknown campaign"),
        }
    }
}

/// Rules that disagreed about one field of one campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Campaign id.
    pub campaign: String,
    /// The field.
    pub field: String,
    /// The winning rule.
    pub winner: String,
    /// The winning action's name.
    pub winner_action: String,
    /// The losing rules with their action names.
    pub losers: Vec<(String, String)>,
}

fn order(a: &Proposal, b: &Proposal) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.campaign.cmp(&b.campaign))
        .then_with(|| a.decision.action.name().cmp(b.decision.action.name()))
        .then_with(|| content_key(a).cmp(&content_key(b)))
}

fn content_key(p: &Proposal) -> String {
    serde_json::to_string(&p.decision).unwrap_or_default()
}

fn sorted_slots(slots: &[AdScheduleSlot]) -> Vec<AdScheduleSlot> {
    let mut sorted = slots.to_vec();
    sorted.sort_by(|a, b| {
        (a.day_of_week, a.start(), a.end())
            .cmp(&(b.day_of_week, b.start(), b.end()))
            .then_with(|| {
                a.bid_modifier
                    .partial_cmp(&b.bid_modifier)
                    .unwrap_or(Ordering::Equal)
            })
    });
    sorted
}

/// The action with its amount fitted to `currency` ([`CampaignChange::fitted_to`]: budgets
/// rounded down, target CPAs to the nearest unit, everything else as it is); `None` when
/// the amount comes to less than one unit.
pub fn fit_to_currency(action: &Action, currency: &Currency) -> Option<Action> {
    let Some(change) = action.to_change() else {
        return Some(action.clone());
    };
    Some(match change.fitted_to(currency)? {
        CampaignChange::SetBudget {
            daily_budget_micros,
        } => Action::SetBudget {
            daily_budget_micros,
        },
        CampaignChange::SetBidTarget { bidding } => Action::SetBidTarget { bidding },
        _ => action.clone(),
    })
}

/// Whether the campaign is already as the action would make it.
pub fn is_no_change(action: &Action, c: &CampaignFacts) -> bool {
    match action {
        Action::Pause => c.status == CampaignStatus::Paused,
        Action::Resume => c.status == CampaignStatus::Enabled,
        Action::SetBudget {
            daily_budget_micros,
        } => c.daily_budget_micros == *daily_budget_micros,
        Action::SetBidTarget { bidding } => c.bidding == *bidding,
        Action::SetAdSchedule { slots } => sorted_slots(slots) == sorted_slots(&c.ad_schedule),
        Action::Notify { .. } => false,
    }
}

/// Resolves the proposals of one tick at `at`. `rule_overrides` maps a rule name to its
/// own (dwell, cooldown) from its header; `None` falls back to the policy.
pub fn resolve(
    at: DateTime<Utc>,
    proposals: Vec<Proposal>,
    campaigns: &[CampaignFacts],
    policy: &Policy,
    rule_overrides: &BTreeMap<String, (Option<Duration>, Option<Duration>)>,
) -> Resolution {
    // Lookups only (nothing is iterated), so hash maps keep the result deterministic. With
    // a repeated id the last campaign counts.
    let by_id: HashMap<&str, usize> = campaigns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut proposals = proposals;
    proposals.sort_by(order);

    let mut resolution = Resolution::default();
    // (campaign index, field) → index into `winners`.
    let mut fields: HashMap<(usize, &'static str), usize> = HashMap::new();
    let mut winners: Vec<(usize, Proposal)> = Vec::new();
    let mut conflicts: BTreeMap<(String, &'static str), Conflict> = BTreeMap::new();
    let mut notified: HashMap<(usize, String), String> = HashMap::new();
    let mut accepted_or_winner_order: Vec<Result<usize, Proposal>> = Vec::new();

    for mut proposal in proposals {
        let Some(&index) = by_id.get(proposal.campaign.as_str()) else {
            resolution.suppressed.push(Suppressed {
                proposal,
                why: SuppressReason::UnknownCampaign,
            });
            continue;
        };
        if let Some(currency) = &campaigns[index].currency {
            match fit_to_currency(&proposal.decision.action, currency) {
                Some(fitted) => proposal.decision.action = fitted,
                None => {
                    resolution.suppressed.push(Suppressed {
                        proposal,
                        why: SuppressReason::BelowCurrencyUnit {
                            currency: currency.code.clone(),
                            unit_micros: currency.unit_micros,
                        },
                    });
                    continue;
                }
            }
        }
        let Some(field) = proposal.decision.action.field() else {
            // Notify.
            let message = match &proposal.decision.action {
                Action::Notify { message } => message.clone(),
                _ => String::new(),
            };
            let key = (index, message);
            if let Some(kept) = notified.get(&key) {
                resolution.suppressed.push(Suppressed {
                    why: SuppressReason::Duplicate { kept: kept.clone() },
                    proposal,
                });
            } else {
                notified.insert(key, proposal.rule.clone());
                accepted_or_winner_order.push(Err(proposal));
            }
            continue;
        };
        match fields.get(&(index, field)) {
            None => {
                fields.insert((index, field), winners.len());
                accepted_or_winner_order.push(Ok(winners.len()));
                winners.push((index, proposal));
            }
            Some(&w) => {
                let winner = &winners[w].1;
                if winner.decision.action == proposal.decision.action {
                    resolution.suppressed.push(Suppressed {
                        why: SuppressReason::Duplicate {
                            kept: winner.rule.clone(),
                        },
                        proposal,
                    });
                } else {
                    conflicts
                        .entry((proposal.campaign.clone(), field))
                        .or_insert_with(|| Conflict {
                            campaign: winner.campaign.clone(),
                            field: field.to_string(),
                            winner: winner.rule.clone(),
                            winner_action: winner.decision.action.name().to_string(),
                            losers: Vec::new(),
                        })
                        .losers
                        .push((
                            proposal.rule.clone(),
                            proposal.decision.action.name().to_string(),
                        ));
                    resolution.suppressed.push(Suppressed {
                        why: SuppressReason::LostConflict {
                            winner: winner.rule.clone(),
                        },
                        proposal,
                    });
                }
            }
        }
    }

    let mut winners: Vec<Option<(usize, Proposal)>> = winners.into_iter().map(Some).collect();
    for entry in accepted_or_winner_order {
        let (index, proposal) = match entry {
            Err(notify) => {
                resolution.accepted.push(notify);
                continue;
            }
            Ok(w) => match winners[w].take() {
                Some(p) => p,
                None => continue,
            },
        };
        let campaign = &campaigns[index];
        match check(at, &proposal, campaign, policy, rule_overrides) {
            None => resolution.accepted.push(proposal),
            Some(why) => resolution.suppressed.push(Suppressed { proposal, why }),
        }
    }
    resolution.conflicts = conflicts.into_values().collect();
    resolution
}

fn check(
    at: DateTime<Utc>,
    proposal: &Proposal,
    c: &CampaignFacts,
    policy: &Policy,
    rule_overrides: &BTreeMap<String, (Option<Duration>, Option<Duration>)>,
) -> Option<SuppressReason> {
    let action = &proposal.decision.action;
    let field = action.field()?;
    if c.status == CampaignStatus::Removed {
        return Some(SuppressReason::Removed);
    }
    if let Some(until) = c.manual_override_until.filter(|u| *u > at) {
        return Some(SuppressReason::ManualHold { until });
    }
    let no_change = is_no_change(action, c);
    match c.pending_changes.get(field) {
        // The change already asked for, not yet applied: asked for once.
        Some(pending) if action.to_change().as_ref() == Some(pending) => {
            return Some(SuppressReason::Pending {
                field: field.to_string(),
            });
        }
        // Back to what the campaign is: the open change is replaced before it is applied,
        // which changes nothing on the platform, so no dwell or cooldown holds it back
        // (ADR 0054).
        Some(_) if no_change => return None,
        // Another change: it replaces the open one, checked as any change is.
        Some(_) => {}
        None if no_change => return Some(SuppressReason::NoChange),
        // A decision recorded before open changes were listed (only their fields were).
        None if c.pending_fields.iter().any(|f| f == field) => {
            return Some(SuppressReason::Pending {
                field: field.to_string(),
            });
        }
        None => {}
    }
    let (dwell, cooldown) = rule_overrides
        .get(&proposal.rule)
        .copied()
        .unwrap_or((None, None));
    let hold = if field == "status" {
        dwell.unwrap_or(policy.min_dwell)
    } else {
        cooldown.unwrap_or(policy.cooldown)
    };
    if let Some(refused) = c.refused.get(field) {
        let until = refused.at + hold;
        if until > at && action.to_change().as_ref() == Some(&refused.change) {
            return Some(SuppressReason::RecentlyRefused { until });
        }
    }
    let until = *c.last_change_at.get(field)? + hold;
    if until <= at {
        None
    } else if field == "status" {
        Some(SuppressReason::Dwell { until })
    } else {
        Some(SuppressReason::Cooldown { until })
    }
}
