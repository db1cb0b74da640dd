//! Continuing a recorded world (`leadorch daemon --adapter sim` on a database that `demo`,
//! `seed` or an earlier daemon simulated): the account's campaigns as the log last recorded
//! them, the leads still waiting for an agent, and lead numbers after the last one used, so
//! the first reading of the account matches what the log knows and nothing looks changed
//! that nobody changed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use leadorch_domain::campaign::CampaignSnapshot;

use super::team::WaitingLead;
use super::{epoch_minute, Simulator};
use crate::config::{Shift, SimCampaign, SimConfig, SimTeam};
use crate::error::Result;

/// What a log records of a simulated world.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedWorld {
    /// Campaigns as last recorded.
    pub campaigns: Vec<RecordedCampaign>,
    /// Teams with a capacity reading.
    pub teams: Vec<String>,
    /// Leads no one has worked yet (status `new`).
    pub waiting: Vec<RecordedLead>,
    /// The highest `N` of the simulator's lead ids (`sim-N`) in the log; 0 when none.
    pub last_lead_number: u64,
}

/// A campaign as the log last recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCampaign {
    /// Customer id.
    pub customer_id: String,
    /// Campaign id.
    pub campaign_id: String,
    /// Its last recorded state.
    pub snapshot: CampaignSnapshot,
}

/// A lead waiting for an agent.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedLead {
    /// Lead id.
    pub lead_id: String,
    /// Its team.
    pub team: String,
    /// When it arrived.
    pub arrived: DateTime<Utc>,
}

/// How a campaign the demo world does not know performs: €1.50 a click, 60 clicks an hour at
/// the peak, 8 % of clicks become leads.
const DEFAULT_CPC_MICROS: i64 = 1_500_000;
const DEFAULT_PEAK_CLICKS: f64 = 60.0;
const DEFAULT_LEAD_RATE: f64 = 0.08;

/// A team the demo world does not know: three agents 09–17 on weekdays.
fn default_team(name: &str) -> SimTeam {
    SimTeam {
        name: name.to_owned(),
        shifts: vec![Shift::mon_fri(9, 17); 3],
        leads_per_agent_hour: 4.0,
        max_open_per_agent: 5,
        lead_expiry_minutes: 90,
    }
}

impl SimConfig {
    /// The world to simulate from `start` on, continuing `recorded`: the recorded account's
    /// campaigns (names, labels, status, budget, bidding as recorded) and teams, performing
    /// as in [`SimConfig::demo`] where the demo world has the same campaign or team, and by
    /// the defaults above otherwise. A team is a campaign's `team:NAME` label. With nothing
    /// recorded, the demo world itself. When the log holds campaigns of several customers,
    /// the one with the most campaigns is simulated.
    pub fn continuing(recorded: &RecordedWorld, start: DateTime<Utc>, seed: u64) -> SimConfig {
        let model = SimConfig::demo(start, seed);
        let mut per_customer: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &recorded.campaigns {
            *per_customer.entry(c.customer_id.as_str()).or_default() += 1;
        }
        let Some(customer) = per_customer
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(c, _)| (*c).to_owned())
        else {
            return model;
        };
        let label_team = |snapshot: &CampaignSnapshot| {
            snapshot
                .labels
                .iter()
                .find_map(|l| l.strip_prefix("team:").map(str::to_owned))
        };
        let same_account = customer == model.customer_id;
        let modelled = |id: &str| {
            same_account
                .then(|| model.campaigns.iter().find(|c| c.campaign_id == id))
                .flatten()
        };
        let mine: Vec<&RecordedCampaign> = recorded
            .campaigns
            .iter()
            .filter(|c| c.customer_id == customer)
            .collect();
        // Teams: those with readings, those campaigns name, those with waiting leads.
        let mut names: BTreeSet<String> = recorded.teams.iter().cloned().collect();
        names.extend(recorded.waiting.iter().map(|l| l.team.clone()));
        for c in &mine {
            names.extend(label_team(&c.snapshot));
            names.extend(modelled(&c.campaign_id).map(|m| m.team.clone()));
        }
        if names.is_empty() {
            names.insert("sales".to_owned());
        }
        let teams: Vec<SimTeam> = names
            .iter()
            .map(|n| {
                model
                    .teams
                    .iter()
                    .find(|t| &t.name == n)
                    .cloned()
                    .unwrap_or_else(|| default_team(n))
            })
            .collect();
        let first_team = teams[0].name.clone();
        let campaigns = mine
            .iter()
            .map(|c| {
                let s = &c.snapshot;
                let m = modelled(&c.campaign_id);
                SimCampaign {
                    campaign_id: c.campaign_id.clone(),
                    name: s.name.clone(),
                    labels: s.labels.clone(),
                    team: label_team(s)
                        .or_else(|| m.map(|m| m.team.clone()))
                        .unwrap_or_else(|| first_team.clone()),
                    status: s.status,
                    daily_budget_micros: s.daily_budget_micros,
                    bidding: s.bidding.clone(),
                    cpc_micros: m.map_or(DEFAULT_CPC_MICROS, |m| m.cpc_micros),
                    peak_clicks_per_hour: m.map_or(DEFAULT_PEAK_CLICKS, |m| m.peak_clicks_per_hour),
                    lead_rate: m.map_or(DEFAULT_LEAD_RATE, |m| m.lead_rate),
                }
            })
            .collect();
        SimConfig {
            seed,
            start,
            timezone: model.timezone,
            customer_id: customer,
            campaigns,
            teams,
        }
    }
}

impl Simulator {
    /// A simulator of `config` (see [`SimConfig::continuing`]) that continues `recorded`:
    /// campaigns exactly as recorded (ad schedules too), the waiting leads queued for their
    /// teams (a lead that has waited past its team's patience is lost in the first minute, as
    /// it would have been), and lead ids after the last one used.
    pub fn resume(config: SimConfig, recorded: &RecordedWorld) -> Result<Simulator> {
        let mut sim = Simulator::new(config)?;
        for c in &recorded.campaigns {
            if c.customer_id != sim.config.customer_id {
                continue;
            }
            if let Some(&i) = sim.by_id.get(&c.campaign_id) {
                sim.campaigns[i].snapshot = c.snapshot.clone();
            }
        }
        sim.next_lead = recorded.last_lead_number + 1;
        let mut waiting: Vec<&RecordedLead> = recorded.waiting.iter().collect();
        waiting.sort_by(|a, b| (a.arrived, &a.lead_id).cmp(&(b.arrived, &b.lead_id)));
        for lead in waiting {
            let Some(t) = sim.config.teams.iter().position(|t| t.name == lead.team) else {
                continue;
            };
            sim.teams[t].waiting.push_back(WaitingLead {
                lead_id: lead.lead_id.clone(),
                arrived: epoch_minute(lead.arrived),
                // What its click cost is not recorded with the lead.
                cost_micros: 0,
            });
        }
        Ok(sim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadorch_domain::campaign::CampaignStatus;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_recorded_is_the_demo_world() {
        let start = at("2026-12-04T10:00:00Z");
        assert_eq!(
            SimConfig::continuing(&RecordedWorld::default(), start, 7),
            SimConfig::demo(start, 7)
        );
    }

    #[test]
    fn the_recorded_campaigns_continue_as_recorded() {
        let start = at("2026-12-04T10:00:00Z");
        let demo = Simulator::new(SimConfig::demo(at("2026-03-02T06:00:00Z"), 7)).unwrap();
        let mut campaigns: Vec<RecordedCampaign> = demo
            .campaigns()
            .into_iter()
            .map(|c| RecordedCampaign {
                customer_id: c.customer_id,
                campaign_id: c.campaign_id,
                snapshot: c.snapshot,
            })
            .collect();
        campaigns[0].snapshot.status = CampaignStatus::Paused;
        campaigns[1].snapshot.daily_budget_micros = 123_000_000;
        // A campaign of the demo world's account that the demo world does not have.
        let mut other = campaigns[2].snapshot.clone();
        other.name = "Extra".into();
        other.labels = vec!["team:night".into()];
        campaigns.push(RecordedCampaign {
            customer_id: "123-456-7890".into(),
            campaign_id: "2001".into(),
            snapshot: other,
        });
        let recorded = RecordedWorld {
            campaigns: campaigns.clone(),
            teams: vec!["sales-nl".into(), "sales-be".into()],
            waiting: vec![RecordedLead {
                lead_id: "sim-000041".into(),
                team: "sales-be".into(),
                arrived: at("2026-03-02T09:59:00Z"),
            }],
            last_lead_number: 41,
        };
        let sim = Simulator::resume(SimConfig::continuing(&recorded, start, 7), &recorded).unwrap();
        let now: Vec<RecordedCampaign> = sim
            .campaigns()
            .into_iter()
            .map(|c| RecordedCampaign {
                customer_id: c.customer_id,
                campaign_id: c.campaign_id,
                snapshot: c.snapshot,
            })
            .collect();
        assert_eq!(now, campaigns);
        assert!(sim.config().teams.iter().any(|t| t.name == "night"));
        assert_eq!(sim.summary().leads_open, 1);
        // The next lead is numbered after the last one recorded; the old lead, waiting for
        // months, is lost in the first minute.
        let mut sim = sim;
        let events = sim.advance(600);
        let first_new = events.iter().find_map(|e| match e {
            crate::SimEvent::LeadArrived { lead_id, .. } => Some(lead_id.clone()),
            _ => None,
        });
        assert_eq!(first_new.as_deref(), Some("sim-000042"));
        assert!(events.iter().any(|e| matches!(
            e,
            crate::SimEvent::LeadExpired { lead_id, .. } if lead_id == "sim-000041"
        )));
    }
}
