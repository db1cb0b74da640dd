//! The simulated sales teams: agents on shift working the leads the campaigns bring in, and
//! the capacity they report.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use leadorch_domain::campaign::DayOfWeek;
use leadorch_domain::LeadStatus;

use super::LocalTime;
use crate::config::SimTeam;
use crate::error::{Result, SimError};
use crate::report::SimEvent;

/// A team's state during the run.
#[derive(Clone, Debug)]
pub(super) struct TeamRun {
    /// Leads nobody picked up yet, oldest first.
    pub(super) waiting: VecDeque<WaitingLead>,
    /// Leads being worked, by finishing time.
    pub(super) in_progress: VecDeque<InProgress>,
    /// Work available and not used yet, in leads (below 1 except when nobody waits).
    credit: f64,
    /// Minutes an agent spends on a lead.
    handle_minutes: i64,
    pub(super) reported: TeamNumbers,
    pub(super) minutes_over_capacity: u64,
}

/// A lead waiting for an agent.
#[derive(Clone, Debug)]
pub(super) struct WaitingLead {
    pub(super) lead_id: String,
    /// Epoch minute it arrived.
    pub(super) arrived: i64,
    /// Cost of the click that produced it.
    pub(super) cost_micros: i64,
}

/// A lead an agent is working.
#[derive(Clone, Debug)]
pub(super) struct InProgress {
    pub(super) lead_id: String,
    /// Epoch minute the agent finishes it.
    pub(super) done: i64,
    /// Cost of the click that produced it.
    pub(super) cost_micros: i64,
}

/// What a team reports: agents on shift, open leads, most open leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TeamNumbers {
    pub(super) agents: u32,
    pub(super) open: u32,
    pub(super) max: u32,
}

/// What a minute of work did.
#[derive(Default)]
pub(super) struct WorkOutcome {
    pub(super) worked: u64,
    pub(super) spend_on_worked_micros: i64,
    pub(super) expired: u64,
    pub(super) spend_on_expired_micros: i64,
}

impl TeamRun {
    /// A team as configured, before its first minute (at local time `local`).
    pub(super) fn new(team: &SimTeam, local: LocalTime) -> TeamRun {
        let agents = agents_on_shift(team, local);
        TeamRun {
            waiting: VecDeque::new(),
            in_progress: VecDeque::new(),
            credit: 0.0,
            // Validated positive and finite; at least one minute per lead.
            handle_minutes: ((60.0 / team.leads_per_agent_hour).round() as i64).max(1),
            reported: team_numbers(team, agents, 0),
            minutes_over_capacity: 0,
        }
    }

    /// Leads open now (waiting or being worked) and the cost of the clicks that produced
    /// them.
    pub(super) fn open(&self) -> (u64, i64) {
        let waiting = self.waiting.iter().map(|l| l.cost_micros);
        let working = self.in_progress.iter().map(|l| l.cost_micros);
        (
            (self.waiting.len() + self.in_progress.len()) as u64,
            waiting.chain(working).sum(),
        )
    }

    /// One minute of work ending at `end_minute`: finish leads, pick up the oldest waiting
    /// ones as far as the agents' pace allows, then expire leads that waited too long.
    pub(super) fn work(
        &mut self,
        team: &SimTeam,
        agents: u32,
        end_minute: i64,
        end: DateTime<Utc>,
        events: &mut Vec<SimEvent>,
    ) -> WorkOutcome {
        let mut outcome = WorkOutcome::default();
        while let Some(lead) = self.in_progress.front() {
            if lead.done > end_minute {
                break;
            }
            if let Some(lead) = self.in_progress.pop_front() {
                outcome.worked += 1;
                outcome.spend_on_worked_micros += lead.cost_micros;
                events.push(SimEvent::LeadWorked {
                    lead_id: lead.lead_id,
                    team: team.name.clone(),
                    status: LeadStatus::Contacted,
                    at: end,
                });
            }
        }

        if agents == 0 {
            self.credit = 0.0;
        } else {
            self.credit += f64::from(agents) * team.leads_per_agent_hour / 60.0;
            while self.credit >= 1.0 {
                let Some(lead) = self.waiting.pop_front() else {
                    // Idle agents take the next lead at once, but cannot bank more work.
                    self.credit = 1.0;
                    break;
                };
                self.credit -= 1.0;
                self.in_progress.push_back(InProgress {
                    lead_id: lead.lead_id,
                    done: end_minute + self.handle_minutes,
                    cost_micros: lead.cost_micros,
                });
            }
        }

        let expiry = i64::from(team.lead_expiry_minutes);
        while let Some(lead) = self.waiting.front() {
            if end_minute - lead.arrived < expiry {
                break;
            }
            if let Some(lead) = self.waiting.pop_front() {
                outcome.expired += 1;
                outcome.spend_on_expired_micros += lead.cost_micros;
                events.push(SimEvent::LeadExpired {
                    lead_id: lead.lead_id,
                    team: team.name.clone(),
                    at: end,
                });
            }
        }
        outcome
    }
}

/// Agents on shift at local time `local`.
pub(super) fn agents_on_shift(team: &SimTeam, local: LocalTime) -> u32 {
    let active = team
        .shifts
        .iter()
        .filter(|shift| shift.is_active(local.day, local.hour))
        .count();
    u32::try_from(active).unwrap_or(u32::MAX)
}

/// The numbers a team reports: `max` is 1 instead of 0 while leads are open and nobody is on
/// shift.
pub(super) fn team_numbers(team: &SimTeam, agents: u32, open: u32) -> TeamNumbers {
    let max = agents.saturating_mul(team.max_open_per_agent);
    TeamNumbers {
        agents,
        open,
        max: if max == 0 && open > 0 { 1 } else { max },
    }
}

/// Checks a configured team.
pub(super) fn validate_team(team: &SimTeam) -> Result<()> {
    let invalid = |reason: String| SimError::InvalidTeam {
        team: team.name.clone(),
        reason,
    };
    if team.name.trim().is_empty() {
        return Err(invalid("name must not be empty".to_owned()));
    }
    if !team.leads_per_agent_hour.is_finite() || team.leads_per_agent_hour <= 0.0 {
        return Err(invalid(format!(
            "leads_per_agent_hour must be a positive number, got {}",
            team.leads_per_agent_hour
        )));
    }
    if team.max_open_per_agent == 0 {
        return Err(invalid("max_open_per_agent must be positive".to_owned()));
    }
    if team.lead_expiry_minutes == 0 {
        return Err(invalid("lead_expiry_minutes must be positive".to_owned()));
    }
    for (i, shift) in team.shifts.iter().enumerate() {
        if shift.weekdays.is_empty() {
            return Err(invalid(format!("shift {i} has no weekdays")));
        }
        let unique: BTreeSet<DayOfWeek> = shift.weekdays.iter().copied().collect();
        if unique.len() != shift.weekdays.len() {
            return Err(invalid(format!("shift {i} names a weekday twice")));
        }
        if shift.start_hour >= shift.end_hour || shift.end_hour > 24 {
            return Err(invalid(format!(
                "shift {i} must satisfy start_hour < end_hour ≤ 24, got {}–{}",
                shift.start_hour, shift.end_hour
            )));
        }
    }
    Ok(())
}
