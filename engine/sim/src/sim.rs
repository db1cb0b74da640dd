//! The simulator: one account, its teams and a clock that only moves when told to.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use leadorch_domain::campaign::{
    Bidding, CampaignChange, CampaignSnapshot, CampaignStatus, DayOfWeek,
};
use leadorch_domain::LeadStatus;

use crate::config::{SimCampaign, SimConfig, SimTeam};
use crate::error::{Result, SimError};
use crate::model::{self, Rng};
use crate::report::{CampaignTotals, SimCampaignState, SimEvent, SimSummary, TeamCapacity};

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
    spend_on_expired_micros: i64,
    status_flips: u64,
    manual_changes: u64,
}

/// A campaign's state during the run.
#[derive(Clone, Debug)]
struct CampaignRun {
    snapshot: CampaignSnapshot,
    team: usize,
    /// Random stream of the campaign (a hash of its id).
    stream: u64,
    ctr: f64,
    /// Local day `spent_today` belongs to.
    budget_day: Option<NaiveDate>,
    spent_today: i64,
    /// Fractional impressions carried to the next minute.
    impression_carry: f64,
    hour: HourTotals,
    totals: CampaignTotals,
    impressions: u64,
    minutes_paused: u64,
}

#[derive(Clone, Debug, Default)]
struct HourTotals {
    impressions: u64,
    clicks: u64,
    cost_micros: i64,
    leads: u64,
}

/// A team's state during the run.
#[derive(Clone, Debug)]
struct TeamRun {
    /// Leads nobody picked up yet, oldest first.
    waiting: VecDeque<WaitingLead>,
    /// Leads being worked, by finishing time.
    in_progress: VecDeque<(String, i64)>,
    /// Work available and not used yet, in leads (below 1 except when nobody waits).
    credit: f64,
    /// Minutes an agent spends on a lead.
    handle_minutes: i64,
    reported: TeamNumbers,
    minutes_over_capacity: u64,
}

#[derive(Clone, Debug)]
struct WaitingLead {
    lead_id: String,
    /// Epoch minute it arrived.
    arrived: i64,
    /// Cost of the click that produced it.
    cost_micros: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TeamNumbers {
    agents: u32,
    open: u32,
    max: u32,
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
            campaigns.push(CampaignRun {
                snapshot: CampaignSnapshot {
                    name: campaign.name.clone(),
                    labels: campaign.labels.clone(),
                    status: campaign.status,
                    daily_budget_micros: campaign.daily_budget_micros,
                    bidding: campaign.bidding.clone(),
                    ad_schedule: Vec::new(),
                },
                team,
                stream: model::stable_hash(&campaign.campaign_id),
                ctr: model::click_through_rate(&campaign.campaign_id),
                budget_day: None,
                spent_today: 0,
                impression_carry: 0.0,
                hour: HourTotals::default(),
                totals: CampaignTotals::default(),
                impressions: 0,
                minutes_paused: 0,
            });
        }
        let start =
            DateTime::from_timestamp(epoch_minute(config.start) * 60, 0).unwrap_or(config.start);
        let local = LocalTime::of(start, tz);
        let teams = config
            .teams
            .iter()
            .map(|team| {
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
            })
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
            summary
                .minutes_paused
                .insert(config.campaign_id.clone(), run.minutes_paused);
            summary
                .per_campaign
                .insert(config.campaign_id.clone(), run.totals.clone());
        }
        for (config, run) in self.config.teams.iter().zip(&self.teams) {
            summary.leads_open += (run.waiting.len() + run.in_progress.len()) as u64;
            summary
                .minutes_over_capacity
                .insert(config.name.clone(), run.minutes_over_capacity);
        }
        summary
    }

    fn change(
        &mut self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<ChangeOutcome> {
        if customer_id != self.config.customer_id {
            return Err(SimError::UnknownCustomer {
                customer_id: customer_id.to_owned(),
                expected: self.config.customer_id.clone(),
            });
        }
        let index = *self
            .by_id
            .get(campaign_id)
            .ok_or_else(|| SimError::UnknownCampaign {
                customer_id: customer_id.to_owned(),
                campaign_id: campaign_id.to_owned(),
            })?;
        let snapshot = &mut self.campaigns[index].snapshot;
        if snapshot.status == CampaignStatus::Removed {
            return Err(SimError::CampaignRemoved {
                campaign_id: campaign_id.to_owned(),
            });
        }
        match change {
            CampaignChange::SetBudget {
                daily_budget_micros,
            } if *daily_budget_micros <= 0 => {
                return Err(SimError::InvalidBudget {
                    campaign_id: campaign_id.to_owned(),
                    daily_budget_micros: *daily_budget_micros,
                });
            }
            CampaignChange::SetBidTarget {
                bidding: Bidding::Other(strategy),
            } => {
                return Err(SimError::UnsupportedBidding {
                    campaign_id: campaign_id.to_owned(),
                    strategy: strategy.clone(),
                });
            }
            _ => change
                .validate()
                .map_err(|source| SimError::InvalidChange {
                    campaign_id: campaign_id.to_owned(),
                    source,
                })?,
        }
        let before = snapshot.clone();
        change.apply_to(snapshot);
        Ok(ChangeOutcome {
            changed: !before.changed_fields(snapshot).is_empty(),
            status_changed: before.status != snapshot.status,
        })
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

    /// Serves one campaign for the minute starting at `start_minute`.
    fn serve(
        &mut self,
        index: usize,
        local: LocalTime,
        start_minute: i64,
        end: DateTime<Utc>,
        events: &mut Vec<SimEvent>,
    ) {
        let config = &self.config.campaigns[index];
        let run = &mut self.campaigns[index];
        match run.snapshot.status {
            CampaignStatus::Enabled => {}
            CampaignStatus::Paused => {
                run.minutes_paused += 1;
                return;
            }
            CampaignStatus::Removed => return,
        }
        if run.budget_day != Some(local.date) {
            run.budget_day = Some(local.date);
            run.spent_today = 0;
        }
        let Some(bid_modifier) = schedule_modifier(&run.snapshot, local) else {
            return;
        };
        let budget = run.snapshot.daily_budget_micros;
        if run.spent_today >= budget {
            return;
        }
        let lambda = config.peak_clicks_per_hour / 60.0
            * model::hour_curve(local.hour)
            * model::weekday_factor(local.day)
            * bid_modifier;
        let mut rng = Rng::for_minute(self.config.seed, run.stream, start_minute);
        let drawn = rng.poisson(lambda);
        let mut clicks = 0;
        for _ in 0..drawn {
            let cost = (config.cpc_micros as f64 * (0.8 + 0.4 * rng.next_f64())).round() as i64;
            let is_lead = rng.next_f64() < config.lead_rate;
            if run.spent_today + cost > budget {
                // Out of budget for today: this click and the rest of the minute's are not served.
                break;
            }
            clicks += 1;
            run.spent_today += cost;
            run.totals.spend_micros += cost;
            run.hour.cost_micros += cost;
            if is_lead {
                run.totals.leads += 1;
                run.hour.leads += 1;
                let number = self.next_lead;
                self.next_lead += 1;
                let lead_id = format!("sim-{number:06}");
                let team = &self.config.teams[run.team];
                let (name, email, phone) = model::fake_contact(self.config.seed, number);
                self.teams[run.team].waiting.push_back(WaitingLead {
                    lead_id: lead_id.clone(),
                    arrived: start_minute + 1,
                    cost_micros: cost,
                });
                events.push(SimEvent::LeadArrived {
                    lead_id,
                    team: team.name.clone(),
                    customer_id: self.config.customer_id.clone(),
                    campaign_id: config.campaign_id.clone(),
                    name,
                    email,
                    phone,
                    at: end,
                });
            }
        }
        run.totals.clicks += clicks;
        run.hour.clicks += clicks;
        run.impression_carry += clicks as f64 / run.ctr;
        let impressions = run.impression_carry.floor();
        run.impression_carry -= impressions;
        run.impressions += impressions as u64;
        run.hour.impressions += impressions as u64;
    }
}

struct ChangeOutcome {
    changed: bool,
    status_changed: bool,
}

#[derive(Default)]
struct WorkOutcome {
    worked: u64,
    expired: u64,
    spend_on_expired_micros: i64,
}

impl TeamRun {
    /// One minute of work ending at `end_minute`: finish leads, pick up the oldest waiting
    /// ones as far as the agents' pace allows, then expire leads that waited too long.
    fn work(
        &mut self,
        team: &SimTeam,
        agents: u32,
        end_minute: i64,
        end: DateTime<Utc>,
        events: &mut Vec<SimEvent>,
    ) -> WorkOutcome {
        let mut outcome = WorkOutcome::default();
        while let Some((_, done)) = self.in_progress.front() {
            if *done > end_minute {
                break;
            }
            if let Some((lead_id, _)) = self.in_progress.pop_front() {
                outcome.worked += 1;
                events.push(SimEvent::LeadWorked {
                    lead_id,
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
                self.in_progress
                    .push_back((lead.lead_id, end_minute + self.handle_minutes));
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

fn agents_on_shift(team: &SimTeam, local: LocalTime) -> u32 {
    let active = team
        .shifts
        .iter()
        .filter(|shift| shift.is_active(local.day, local.hour))
        .count();
    u32::try_from(active).unwrap_or(u32::MAX)
}

fn team_numbers(team: &SimTeam, agents: u32, open: u32) -> TeamNumbers {
    let max = agents.saturating_mul(team.max_open_per_agent);
    TeamNumbers {
        agents,
        open,
        max: if max == 0 && open > 0 { 1 } else { max },
    }
}

/// `Some(bid modifier)` when the ad schedule lets the campaign serve now (1.0 without a
/// modifier or without a schedule), `None` outside it.
fn schedule_modifier(snapshot: &CampaignSnapshot, local: LocalTime) -> Option<f64> {
    if snapshot.ad_schedule.is_empty() {
        return Some(1.0);
    }
    snapshot
        .ad_schedule
        .iter()
        .find(|slot| {
            slot.day_of_week == local.day
                && slot.start() <= local.minute_of_day
                && local.minute_of_day < slot.end()
        })
        .map(|slot| slot.bid_modifier.unwrap_or(1.0))
}

fn validate_campaign(campaign: &SimCampaign) -> Result<()> {
    let invalid = |reason: String| SimError::InvalidCampaign {
        campaign_id: campaign.campaign_id.clone(),
        reason,
    };
    if campaign.campaign_id.trim().is_empty() {
        return Err(invalid("campaign_id must not be empty".to_owned()));
    }
    if campaign.name.trim().is_empty() {
        return Err(invalid("name must not be empty".to_owned()));
    }
    if campaign.daily_budget_micros <= 0 {
        return Err(invalid(format!(
            "daily_budget_micros must be positive, got {}",
            campaign.daily_budget_micros
        )));
    }
    if campaign.cpc_micros <= 0 {
        return Err(invalid(format!(
            "cpc_micros must be positive, got {}",
            campaign.cpc_micros
        )));
    }
    if !campaign.peak_clicks_per_hour.is_finite() || campaign.peak_clicks_per_hour < 0.0 {
        return Err(invalid(format!(
            "peak_clicks_per_hour must be a finite number ≥ 0, got {}",
            campaign.peak_clicks_per_hour
        )));
    }
    if !(0.0..=1.0).contains(&campaign.lead_rate) {
        return Err(invalid(format!(
            "lead_rate must be between 0 and 1, got {}",
            campaign.lead_rate
        )));
    }
    Ok(())
}

fn validate_team(team: &SimTeam) -> Result<()> {
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
