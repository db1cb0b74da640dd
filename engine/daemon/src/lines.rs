//! What a running daemon says at the default log level, one line per thing that happened:
//! a decision, a conflict, a rule that failed, a change applied or failed, a campaign changed
//! outside the engine. Each line reads `HH:MM  campaign: what (rule: why)`, local time in the
//! daemon's time zone (`facts.timezone`), like the demo's live view; a step that changed
//! nothing says nothing.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use leadorch_domain::campaign::{Bidding, CampaignChange};

use crate::daemon::{Daemon, StepReport};
use crate::executor::ExecResult;

/// The time zone lines are printed in: `facts.timezone`, UTC when it is not a zone.
pub fn zone(daemon: &Daemon) -> Tz {
    daemon
        .config
        .facts
        .timezone
        .parse()
        .unwrap_or(chrono_tz::UTC)
}

/// `HH:MM` in `tz`.
pub fn clock(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%H:%M").to_string()
}

/// A campaign's name as last known, else its id.
pub fn campaign_name(daemon: &Daemon, id: &str) -> String {
    daemon
        .view
        .campaigns
        .get(id)
        .and_then(|c| c.state.snapshot())
        .map_or_else(|| id.to_string(), |s| s.name.clone())
}

/// A change in a few words: `pause`, `set_budget 42.50`, `set_bid_target target_cpa 25.00`.
pub fn describe(change: &CampaignChange) -> String {
    let units = |micros: i64| format!("{:.2}", micros as f64 / 1_000_000.0);
    match change {
        CampaignChange::Pause => "pause".into(),
        CampaignChange::Resume => "resume".into(),
        CampaignChange::SetBudget {
            daily_budget_micros,
        } => format!("set_budget {}", units(*daily_budget_micros)),
        CampaignChange::SetBidTarget { bidding } => match bidding {
            Bidding::ManualCpc => "set_bid_target manual_cpc".into(),
            Bidding::MaximizeConversions => "set_bid_target maximize_conversions".into(),
            Bidding::TargetCpa { target_cpa_micros } => {
                format!("set_bid_target target_cpa {}", units(*target_cpa_micros))
            }
            Bidding::TargetRoas { target_roas } => {
                format!("set_bid_target target_roas {target_roas}")
            }
            Bidding::Other(name) => format!("set_bid_target {name}"),
        },
        CampaignChange::SetAdSchedule { slots } => {
            format!("set_ad_schedule ({} slots)", slots.len())
        }
    }
}

/// The lines for one step, in the order things happened.
pub fn step_lines(daemon: &Daemon, report: &StepReport) -> Vec<String> {
    let tz = zone(daemon);
    let now = clock(report.at, tz);
    let mut lines = Vec::new();
    for id in &report.drift {
        let until = daemon
            .view
            .campaigns
            .get(id)
            .and_then(|c| c.state.manual_override_until())
            .map(|t| format!(" until {}", clock(t, tz)))
            .unwrap_or_default();
        lines.push(format!(
            "{now}  {}: changed outside the engine (respected{until}, not undone)",
            campaign_name(daemon, id)
        ));
    }
    for e in &report.evaluations {
        let at = clock(e.at, tz);
        for p in &e.accepted {
            lines.push(format!(
                "{at}  {}: {} ({}: {})",
                campaign_name(daemon, &p.campaign),
                p.decision.action.describe(),
                p.rule,
                p.decision.reason
            ));
        }
        for c in &e.conflicts {
            lines.push(format!(
                "{at}  {}: {} ({}) wins over {}",
                campaign_name(daemon, &c.campaign),
                c.winner,
                c.winner_action,
                c.losers
                    .iter()
                    .map(|(r, a)| format!("{r} ({a})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (rule, campaign, error) in &e.failures {
            let what = if campaign.is_empty() {
                "every campaign".to_string()
            } else {
                campaign_name(daemon, campaign)
            };
            lines.push(format!("{at}  {what}: rule {rule} failed ({error})"));
        }
    }
    for x in &report.executed {
        let change = describe(&x.change);
        let campaign = campaign_name(daemon, &x.campaign);
        if let Some(until) = x.quota_until {
            lines.push(format!(
                "{now}  {campaign}: {change} not applied (Google's quota is exhausted until {}); decided again then",
                clock(until, tz)
            ));
            continue;
        }
        lines.push(match &x.result {
            ExecResult::Applied => format!("{now}  {campaign}: {change} applied"),
            ExecResult::AlreadyInEffect => {
                format!("{now}  {campaign}: {change} already in effect, recorded as applied")
            }
            ExecResult::Failed { error, retryable } => format!(
                "{now}  {campaign}: {change} failed ({error}); {}",
                if *retryable {
                    "will try again"
                } else {
                    "gave up"
                }
            ),
            ExecResult::Superseded { .. } => format!(
                "{now}  {campaign}: {change} not sent: a later decision replaced it before it was applied"
            ),
        });
    }
    lines
}
