//! The simulated Google Ads account: campaigns serving clicks and leads within their budget
//! and ad schedule, and the changes the API (or a person in the UI) makes to them.

use chrono::{DateTime, NaiveDate, Utc};
use leadorch_domain::campaign::{Bidding, CampaignChange, CampaignSnapshot, CampaignStatus};

use super::team::WaitingLead;
use super::{LocalTime, Simulator};
use crate::config::SimCampaign;
use crate::error::{Result, SimError};
use crate::model::{self, Rng};
use crate::report::{CampaignTotals, SimEvent};

/// One hundredth of a currency unit, in micros.
const CENT: i64 = 10_000;

/// A campaign's state during the run.
#[derive(Clone, Debug)]
pub(super) struct CampaignRun {
    pub(super) snapshot: CampaignSnapshot,
    team: usize,
    /// Random stream of the campaign (a hash of its id).
    stream: u64,
    ctr: f64,
    /// Local day `spent_today` belongs to.
    budget_day: Option<NaiveDate>,
    spent_today: i64,
    /// Fractional impressions carried to the next minute.
    impression_carry: f64,
    pub(super) hour: HourTotals,
    pub(super) totals: CampaignTotals,
    pub(super) impressions: u64,
    pub(super) minutes_paused: u64,
    /// Spend on clicks that brought no lead.
    pub(super) spend_without_lead_micros: i64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct HourTotals {
    pub(super) impressions: u64,
    pub(super) clicks: u64,
    pub(super) cost_micros: i64,
    pub(super) leads: u64,
}

impl CampaignRun {
    /// A campaign as configured, routed to team `team`, before its first minute.
    pub(super) fn new(campaign: &SimCampaign, team: usize) -> CampaignRun {
        CampaignRun {
            snapshot: CampaignSnapshot {
                name: campaign.name.clone(),
                labels: campaign.labels.clone(),
                status: campaign.status,
                daily_budget_micros: campaign.daily_budget_micros,
                bidding: campaign.bidding.clone(),
                ad_schedule: Vec::new(),
                currency: None,
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
            spend_without_lead_micros: 0,
        }
    }
}

/// What a change did.
pub(super) struct ChangeOutcome {
    pub(super) changed: bool,
    pub(super) status_changed: bool,
}

impl Simulator {
    /// Applies a change to a campaign of the account, with the checks the Google Ads API makes.
    pub(super) fn change(
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

    /// Serves one campaign for the minute starting at `start_minute`.
    pub(super) fn serve(
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
            // In whole cents, as an account is billed: the summary's parts then add up
            // to its totals to the cent.
            let cost = (config.cpc_micros as f64 * (0.8 + 0.4 * rng.next_f64()) / CENT as f64)
                .round() as i64
                * CENT;
            let is_lead = rng.next_f64() < config.lead_rate;
            if run.spent_today + cost > budget {
                // Out of budget for today: this click and the rest of the minute's are not served.
                break;
            }
            clicks += 1;
            run.spent_today += cost;
            run.totals.spend_micros += cost;
            run.hour.cost_micros += cost;
            if !is_lead {
                run.spend_without_lead_micros += cost;
            } else {
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

/// `Some(bid modifier)` when the ad schedule lets the campaign serve now (1.0 without a
/// modifier or without a schedule), `None` outside it.
pub(super) fn schedule_modifier(snapshot: &CampaignSnapshot, local: LocalTime) -> Option<f64> {
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

/// Checks a configured campaign.
pub(super) fn validate_campaign(campaign: &SimCampaign) -> Result<()> {
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
