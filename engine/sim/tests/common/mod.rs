//! The tiny capacity controller the demo-day test and example share.

use leadorch_domain::campaign::{CampaignChange, CampaignStatus};
use leadorch_sim::Simulator;

/// A tiny capacity controller: per team, pause its `capacity-gated` campaigns at utilisation
/// ≥ 0.9 (no capacity at all counts as full) and resume them below 0.7.
pub fn control(sim: &mut Simulator) {
    for team in sim.capacity() {
        let utilisation = if team.max_open_leads == 0 {
            f64::INFINITY
        } else {
            f64::from(team.open_leads) / f64::from(team.max_open_leads)
        };
        let change = if utilisation >= 0.9 {
            CampaignChange::Pause
        } else if utilisation < 0.7 {
            CampaignChange::Resume
        } else {
            continue;
        };
        for campaign in sim.campaigns() {
            // The campaign's team as configured (BE Generic carries no team label).
            let of_team = sim
                .config()
                .campaigns
                .iter()
                .any(|c| c.campaign_id == campaign.campaign_id && c.team == team.team);
            let gated = of_team
                && campaign
                    .snapshot
                    .labels
                    .iter()
                    .any(|l| l == "capacity-gated");
            if gated && campaign.snapshot.status != CampaignStatus::Removed {
                sim.apply(&campaign.customer_id, &campaign.campaign_id, &change)
                    .expect("the demo campaigns accept status changes");
            }
        }
    }
}
