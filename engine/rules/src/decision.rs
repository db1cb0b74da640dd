//! What rules propose: actions with a reason, attributed to a rule and a campaign.

use leadorch_domain::campaign::{AdScheduleSlot, Bidding, CampaignChange};
use serde::{Deserialize, Serialize};

/// One thing a rule wants done to a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Set the status to paused.
    Pause,
    /// Set the status to enabled.
    Resume,
    /// Set the daily budget.
    SetBudget {
        /// New daily budget in micros.
        daily_budget_micros: i64,
    },
    /// Set the bidding strategy or its target.
    SetBidTarget {
        /// New bidding.
        bidding: Bidding,
    },
    /// Replace the ad schedule.
    SetAdSchedule {
        /// New slots; empty means all day, every day.
        slots: Vec<AdScheduleSlot>,
    },
    /// Tell the operators something; changes nothing.
    Notify {
        /// The message.
        message: String,
    },
}

impl Action {
    /// Stable name: `"pause"`, `"resume"`, `"set_budget"`, `"set_bid_target"`,
    /// `"set_ad_schedule"` or `"notify"`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::SetBudget { .. } => "set_budget",
            Action::SetBidTarget { .. } => "set_bid_target",
            Action::SetAdSchedule { .. } => "set_ad_schedule",
            Action::Notify { .. } => "notify",
        }
    }

    /// The campaign change this action asks for; `None` for [`Action::Notify`].
    pub fn to_change(&self) -> Option<CampaignChange> {
        match self {
            Action::Pause => Some(CampaignChange::Pause),
            Action::Resume => Some(CampaignChange::Resume),
            Action::SetBudget {
                daily_budget_micros,
            } => Some(CampaignChange::SetBudget {
                daily_budget_micros: *daily_budget_micros,
            }),
            Action::SetBidTarget { bidding } => Some(CampaignChange::SetBidTarget {
                bidding: bidding.clone(),
            }),
            Action::SetAdSchedule { slots } => Some(CampaignChange::SetAdSchedule {
                slots: slots.clone(),
            }),
            Action::Notify { .. } => None,
        }
    }

    /// The campaign field the action changes (`CampaignChange::field()`); `None` for
    /// [`Action::Notify`].
    pub fn field(&self) -> Option<&'static str> {
        self.to_change().map(|c| c.field())
    }

    /// Short human form used in reports: `"pause"`, `"set_budget 42.50"`,
    /// `"set_bid_target target_cpa 25.00"`, `"notify \"…\""`.
    pub fn describe(&self) -> String {
        match self {
            Action::Pause | Action::Resume => self.name().to_string(),
            Action::SetBudget {
                daily_budget_micros,
            } => format!("set_budget {}", units(*daily_budget_micros)),
            Action::SetBidTarget { bidding } => match bidding {
                Bidding::ManualCpc => "set_bid_target manual_cpc".to_string(),
                Bidding::MaximizeConversions => "set_bid_target maximize_conversions".to_string(),
                Bidding::TargetCpa { target_cpa_micros } => {
                    format!("set_bid_target target_cpa {}", units(*target_cpa_micros))
                }
                Bidding::TargetRoas { target_roas } => {
                    format!("set_bid_target target_roas {target_roas}")
                }
                Bidding::Other(name) => format!("set_bid_target {name}"),
            },
            Action::SetAdSchedule { slots } => format!("set_ad_schedule ({} slots)", slots.len()),
            Action::Notify { message } => format!("notify {message:?}"),
        }
    }
}

fn units(micros: i64) -> String {
    format!("{:.2}", micros as f64 / 1_000_000.0)
}

/// An action with the rule's explanation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why, in the rule's words (never empty).
    pub reason: String,
}

/// A decision one rule made for one campaign, before arbitration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Name of the rule.
    pub rule: String,
    /// The rule's priority (higher wins conflicts).
    pub priority: i32,
    /// Campaign id, `"<customer_id>/<campaign_id>"`.
    pub campaign: String,
    /// The decision.
    pub decision: Decision,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialize_with_an_action_tag() {
        let json = serde_json::to_value(Action::SetBudget {
            daily_budget_micros: 5,
        })
        .expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"action": "set_budget", "daily_budget_micros": 5})
        );
        let back: Action = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back.name(), "set_budget");
        assert_eq!(
            serde_json::to_value(Action::Pause).expect("serializes"),
            serde_json::json!({"action": "pause"})
        );
    }

    #[test]
    fn fields_follow_the_domain() {
        assert_eq!(Action::Pause.field(), Some("status"));
        assert_eq!(Action::Resume.field(), Some("status"));
        assert_eq!(
            Action::SetBudget {
                daily_budget_micros: 1
            }
            .field(),
            Some("daily_budget_micros")
        );
        assert_eq!(
            Action::SetBidTarget {
                bidding: Bidding::ManualCpc
            }
            .field(),
            Some("bidding")
        );
        assert_eq!(
            Action::SetAdSchedule { slots: vec![] }.field(),
            Some("ad_schedule")
        );
        assert_eq!(
            Action::Notify {
                message: "x".into()
            }
            .field(),
            None
        );
    }
}
