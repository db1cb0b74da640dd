//! What the simulator reports: events as they happen, the state now, and totals.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leadorch_domain::campaign::CampaignSnapshot;
use leadorch_domain::LeadStatus;
use serde::{Deserialize, Serialize};

/// Something that happened during a simulated minute. Every event of a minute carries the
/// minute's end as `at` (which is [`crate::Simulator::now`] after that minute).
///
/// Serialized internally tagged: `{"type": "lead_arrived", "lead_id": …, "at": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SimEvent {
    /// A click became a lead, routed to the campaign's team.
    LeadArrived {
        /// `sim-000001`, `sim-000002`, … in arrival order.
        lead_id: String,
        /// The team it is routed to.
        team: String,
        /// The account.
        customer_id: String,
        /// The campaign whose click produced it.
        campaign_id: String,
        /// Fake name.
        name: String,
        /// Fake address at `example.com`.
        email: String,
        /// Fake phone number, `+31 6 55xx xxxx`.
        phone: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// An agent finished working a lead.
    LeadWorked {
        /// The lead.
        lead_id: String,
        /// The team.
        team: String,
        /// Always [`LeadStatus::Contacted`].
        status: LeadStatus,
        /// When.
        at: DateTime<Utc>,
    },
    /// Nobody picked the lead up within the team's expiry: it is lost.
    LeadExpired {
        /// The lead.
        lead_id: String,
        /// The team.
        team: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A team's capacity differs from what it was at the end of the previous minute (or at
    /// the start). Same numbers as [`crate::Simulator::capacity`] returns at `at`.
    CapacityChanged {
        /// The team.
        team: String,
        /// Agents on shift.
        agents_available: u32,
        /// Leads waiting or being worked.
        open_leads: u32,
        /// Open leads the team can handle.
        max_open_leads: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Performance of one campaign in one UTC hour, emitted when the hour completes (for
    /// every campaign, also when all numbers are zero).
    MetricsHour {
        /// The account.
        customer_id: String,
        /// The campaign.
        campaign_id: String,
        /// Start of the hour; the first hour of a run may have started before
        /// [`crate::SimConfig::start`] and then covers only the simulated part.
        hour_start: DateTime<Utc>,
        /// Impressions.
        impressions: u64,
        /// Clicks.
        clicks: u64,
        /// Cost in micros.
        cost_micros: i64,
        /// Conversions (= leads).
        conversions: f64,
        /// When (the end of the hour).
        at: DateTime<Utc>,
    },
}

impl SimEvent {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            SimEvent::LeadArrived { at, .. }
            | SimEvent::LeadWorked { at, .. }
            | SimEvent::LeadExpired { at, .. }
            | SimEvent::CapacityChanged { at, .. }
            | SimEvent::MetricsHour { at, .. } => *at,
        }
    }
}

/// A campaign as the Google Ads API would report it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimCampaignState {
    /// The account.
    pub customer_id: String,
    /// The campaign.
    pub campaign_id: String,
    /// Its current settings.
    pub snapshot: CampaignSnapshot,
}

/// A team's capacity at one moment.
///
/// `max_open_leads` is `agents_available × max_open_per_agent`. With nobody on shift that
/// is 0, except while leads are still open: then it is 1, so that the utilisation
/// `open_leads / max_open_leads` stays defined and reads as full (≥ 1). A team with no
/// agents and no open leads reports `0 / 0`, which the domain also treats as full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamCapacity {
    /// The team.
    pub team: String,
    /// Agents on shift.
    pub agents_available: u32,
    /// Leads waiting or being worked.
    pub open_leads: u32,
    /// Open leads the team can handle.
    pub max_open_leads: u32,
}

/// One campaign's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignTotals {
    /// Spend in micros.
    pub spend_micros: i64,
    /// Clicks.
    pub clicks: u64,
    /// Leads.
    pub leads: u64,
}

/// Totals since the start.
///
/// Every lead and every unit of spend is accounted for exactly once:
/// `leads = leads_worked + leads_open + leads_expired` and `spend_micros =
/// spend_on_worked_micros + spend_on_open_micros + spend_on_expired_micros +
/// spend_without_lead_micros` (a lead's share of spend is the cost of the click that
/// produced it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSummary {
    /// Simulated minutes.
    pub minutes: u64,
    /// Spend in micros.
    pub spend_micros: i64,
    /// Cost of the clicks that produced the leads an agent finished working.
    pub spend_on_worked_micros: i64,
    /// Cost of the clicks that produced the leads still open.
    pub spend_on_open_micros: i64,
    /// Cost of the clicks that brought no lead.
    pub spend_without_lead_micros: i64,
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Leads that arrived.
    pub leads: u64,
    /// Leads an agent finished working.
    pub leads_worked: u64,
    /// Leads the team could not work (not picked up in time).
    pub leads_expired: u64,
    /// Leads open now (waiting or being worked).
    pub leads_open: u64,
    /// Cost of the clicks that produced the expired leads (the leads the team could not
    /// work): wasted money.
    pub spend_on_expired_micros: i64,
    /// Status changes made through [`crate::Simulator::apply`] (no-ops not counted).
    pub status_flips: u64,
    /// Changes made through [`crate::Simulator::manual_change`] (no-ops not counted).
    pub manual_changes: u64,
    /// Team → minutes that ended with leads open and `open_leads >= max_open_leads`.
    pub minutes_over_capacity: BTreeMap<String, u64>,
    /// Campaign id → minutes the campaign was paused.
    pub minutes_paused: BTreeMap<String, u64>,
    /// Campaign id → its totals.
    pub per_campaign: BTreeMap<String, CampaignTotals>,
}
