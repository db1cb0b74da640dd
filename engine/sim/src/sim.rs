//! The simulator: one account, its teams and a clock that only moves when told to. The
//! account's campaigns live in [`account`], the sales teams in [`team`]; this file holds the
//! clock and the order of each minute.

mod account;
mod resume;
mod team;

pub use resume::{RecordedCampaign, RecordedLead, RecordedWorld};

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use leadorch_domain::campaign::{CampaignChange, DayOfWeek};

use crate::config::SimConfig;
use crate::error::{Result, SimError};
use crate::model;
use crate::report::{SimCampaignState, SimEvent, SimSummary, TeamCapacity};
use account::{validate_campaign, CampaignRun};
use team::{agents_on_shift, team_numbers, validate_team, TeamRun};

/// A deterministic simulated Google Ads account and its sales teams. See the crate docs for
/// the model.
#[derive(Clone, Debug)]
pub struct Simulator {
    config: SimConfig,
    tz: Tz,
    now: DateTime<Utc>,
    campaigns: Vec<CampaignRun>,
    by_id: BTreeMap<String, usize>,
    teams: Vec<TeamRun>,
    next_lead: u64,
    minutes: u64,
    leads_worked: u64,
    leads_expired: u64,
    spend_on_worked_micros: i64,
    spend_on_expired_micros: i64,
    status_flips: u64,
    manual_changes: u64,
}

/// Local day of the week, hour and minute of day.
#[derive(Clone, Copy, Debug)]
struct LocalTime {
    date: NaiveDate,
    day: DayOfWeek,
    hour: u32,
    minute_of_day: u32,
}

impl LocalTime {
    fn of(at: DateTime<Utc>, tz: Tz) -> LocalTime {
        let local = at.with_timezone(&tz);
        LocalTime {
            date: local.date_naive(),
            day: model::day_of_week(local.weekday()),
            hour: local.hour(),
            minute_of_day: local.hour() * 60 + local.minute(),
        }
    }
}

fn epoch_minute(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

impl Simulator {
    /// Checks the configuration and starts the clock at `config.start` (rounded down to the
    /// whole minute).
    pub fn new(config: SimConfig) -> Result<Simulator> {
        let tz: Tz = config
            .timezone
            .parse()
            .map_err(|_| SimError::InvalidTimezone {
                timezone: config.timezone.clone(),
            })?;
        if config.customer_id.trim().is_empty() {
            return Err(SimError::BlankCustomerId);
        }
        let mut team_index = BTreeMap::new();
        for (i, team) in config.teams.iter().enumerate() {
            validate_team(team)?;
            if team_index.insert(team.name.clone(), i).is_some() {
                return Err(SimError::DuplicateTeam {
                    team: team.name.clone(),
                });
            }
        }
        let mut by_id = BTreeMap::new();
        let mut campaigns = Vec::with_capacity(config.campaigns.len());
        for (i, campaign) in config.campaigns.iter().enumerate() {
            validate_campaign(campaign)?;
            if by_id.insert(campaign.campaign_id.clone(), i).is_some() {
                return Err(SimError::DuplicateCampaign {
                    campaign_id: campaign.campaign_id.clone(),
                });
            }
            let team = *team_index
                .get(&campaign.team)
                .ok_or_else(|| SimError::UnknownTeam {
                    campaign_id: campaign.campaign_id.clone(),
                    team: campaign.team.clone(),
                })?;
            campaigns.push(CampaignRun::new(campaign, team));
        }
        let start =
            DateTime::from_timestamp(epoch_minute(config.start) * 60, 0).unwrap_or(config.start);
        let local = LocalTime::of(start, tz);
        let teams = config
            .teams
            .iter()
            .map(|team| TeamRun::new(team, local))
            .collect();
        Ok(Simulator {
            config,
            tz,
            now: start,
            campaigns,
            by_id,
            teams,
            next_lead: 1,
            minutes: 0,
            leads_worked: 0,
            leads_expired: 0,
            spend_on_worked_micros: 0,
            spend_on_expired_micros: 0,
            status_flips: 0,
            manual_changes: 0,
        })
    }

    /// Simulated time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The configuration it was started with (campaign settings there are the initial ones;
    /// [`Simulator::campaigns`] has the current ones).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Advances one simulated minute at a time for `minutes` minutes; returns what happened,
    /// in time order.
    pub fn advance(&mut self, minutes: u32) -> Vec<SimEvent> {
        let mut events = Vec::new();
        for _ in 0..minutes {
            self.step(&mut events);
        }
        events
    }

    /// Campaigns as Google Ads would report them now, in configuration order.
    pub fn campaigns(&self) -> Vec<SimCampaignState> {
        self.config
            .campaigns
            .iter()
            .zip(&self.campaigns)
            .map(|(config, run)| SimCampaignState {
                customer_id: self.config.customer_id.clone(),
                campaign_id: config.campaign_id.clone(),
                snapshot: run.snapshot.clone(),
            })
            .collect()
    }

    /// Capacity per team now, in configuration order.
    pub fn capacity(&self) -> Vec<TeamCapacity> {
        self.config
            .teams
            .iter()
            .zip(&self.teams)
            .map(|(team, run)| TeamCapacity {
                team: team.name.clone(),
                agents_available: run.reported.agents,
                open_leads: run.reported.open,
                max_open_leads: run.reported.max,
            })
            .collect()
    }

    /// Applies a change as the Google Ads API would. Idempotent: pausing a paused campaign
    /// is `Ok` and changes nothing. Refuses an unknown customer or campaign, a removed
    /// campaign, a budget ≤ 0, [`Bidding::Other`] and whatever else
    /// [`CampaignChange::validate`] refuses.
    pub fn apply(
        &mut self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<()> {
        let outcome = self.change(customer_id, campaign_id, change)?;
        if outcome.status_changed {
            self.status_flips += 1;
        }
        Ok(())
    }

    /// A change made by a person in the Google Ads UI (for drift and manual-override
    /// demos): same checks and effect as [`Simulator::apply`], but counted in
    /// [`SimSummary::manual_changes`] (when it changed something) instead of
    /// [`SimSummary::status_flips`].
    pub fn manual_change(
        &mut self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<()> {
        let outcome = self.change(customer_id, campaign_id, change)?;
        if outcome.changed {
            self.manual_changes += 1;
        }
        Ok(())
    }

    /// Totals so far.
    pub fn summary(&self) -> SimSummary {
        let mut summary = SimSummary {
            minutes: self.minutes,
            leads_worked: self.leads_worked,
            leads_expired: self.leads_expired,
            spend_on_worked_micros: self.spend_on_worked_micros,
            spend_on_expired_micros: self.spend_on_expired_micros,
            status_flips: self.status_flips,
            manual_changes: self.manual_changes,
            ..SimSummary::default()
        };
        for (config, run) in self.config.campaigns.iter().zip(&self.campaigns) {
            summary.spend_micros += run.totals.spend_micros;
            summary.impressions += run.impressions;
            summary.clicks += run.totals.clicks;
            summary.leads += run.totals.leads;
            summary.spend_without_lead_micros += run.spend_without_lead_micros;
            summary
                .minutes_paused
                .insert(config.campaign_id.clone(), run.minutes_paused);
            summary
                .per_campaign
                .insert(config.campaign_id.clone(), run.totals.clone());
        }
        for (config, run) in self.config.teams.iter().zip(&self.teams) {
            let (open, spend_on_open) = run.open();
            summary.leads_open += open;
            summary.spend_on_open_micros += spend_on_open;
            summary
                .minutes_over_capacity
                .insert(config.name.clone(), run.minutes_over_capacity);
        }
        summary
    }

    /// Simulates the minute starting at `now`.
    fn step(&mut self, events: &mut Vec<SimEvent>) {
        let start = self.now;
        let end = start + Duration::minutes(1);
        let local = LocalTime::of(start, self.tz);
        let start_minute = epoch_minute(start);
        let end_minute = start_minute + 1;

        for index in 0..self.campaigns.len() {
            self.serve(index, local, start_minute, end, events);
        }

        for (team, run) in self.config.teams.iter().zip(self.teams.iter_mut()) {
            let agents = agents_on_shift(team, local);
            let outcome = run.work(team, agents, end_minute, end, events);
            self.leads_worked += outcome.worked;
            self.leads_expired += outcome.expired;
            self.spend_on_worked_micros += outcome.spend_on_worked_micros;
            self.spend_on_expired_micros += outcome.spend_on_expired_micros;
        }

        self.now = end;
        self.minutes += 1;

        let local_end = LocalTime::of(end, self.tz);
        for (team, run) in self.config.teams.iter().zip(self.teams.iter_mut()) {
            let open = u32::try_from(run.waiting.len() + run.in_progress.len()).unwrap_or(u32::MAX);
            let numbers = team_numbers(team, agents_on_shift(team, local_end), open);
            if numbers.open > 0 && numbers.open >= numbers.max {
                run.minutes_over_capacity += 1;
            }
            if numbers != run.reported {
                run.reported = numbers;
                events.push(SimEvent::CapacityChanged {
                    team: team.name.clone(),
                    agents_available: numbers.agents,
                    open_leads: numbers.open,
                    max_open_leads: numbers.max,
                    at: end,
                });
            }
        }

        if end.timestamp().rem_euclid(3600) == 0 {
            let hour_start = end - Duration::hours(1);
            for (config, run) in self.config.campaigns.iter().zip(self.campaigns.iter_mut()) {
                let hour = std::mem::take(&mut run.hour);
                events.push(SimEvent::MetricsHour {
                    customer_id: self.config.customer_id.clone(),
                    campaign_id: config.campaign_id.clone(),
                    hour_start,
                    impressions: hour.impressions,
                    clicks: hour.clicks,
                    cost_micros: hour.cost_micros,
                    conversions: hour.leads as f64,
                    at: end,
                });
            }
        }
    }
}
