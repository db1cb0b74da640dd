//! The simulated account of `leadorch daemon --adapter sim` (ADR 0018): only on a database
//! marked simulated (marked here when it holds no world yet), continuing the world its log
//! records — the campaigns in their recorded states, the leads still waiting, the lead ids
//! after the last one — so the daemon's first reading records nothing as changed outside the
//! engine that nobody changed.

use chrono::{DateTime, Utc};
use leadorch_core::projection::{self, Projections};
use leadorch_core::synthetic::{self, Simulated};
use leadorch_core::Engine;
use leadorch_domain::{Lead, LeadStatus};
use leadorch_sim::{RecordedCampaign, RecordedLead, RecordedWorld, SimConfig, Simulator};

use crate::{Error, Result};

/// The seed of a world the daemon starts itself (the demo's default).
pub const DEFAULT_SEED: u64 = 7;

/// The simulator for `daemon --adapter sim` at `now`, and the database's marker: a database
/// that holds no world yet is marked (by `daemon`); any other must carry the marker and only
/// simulated data, or this fails with why and what to do.
pub async fn simulated_account(
    engine: &Engine,
    now: DateTime<Utc>,
) -> Result<(Simulator, Simulated)> {
    let marker = synthetic::mark_or_check(engine, "daemon", DEFAULT_SEED, now)
        .await
        .map_err(|e| match e {
            leadorch_core::Error::Invalid(why) => Error::Input(why),
            other => Error::Engine(other),
        })?;
    // What `recorded_world` reads: the campaigns and teams whole; of the leads, only those
    // still waiting (the others are read one at a time and dropped) and the last lead number.
    let views = projection::current(&engine.store, &["campaigns", "capacity"]).await?;
    let mut last_lead_number = 0;
    let leads = projection::leads_where(&engine.store, &mut |_, doc| {
        if let Some(n) = sim_number(&doc.state) {
            last_lead_number = last_lead_number.max(n);
        }
        waiting(&doc.state).is_some()
    })
    .await?;
    let recorded = recorded_world(
        &views,
        leads.iter().map(|(_, doc)| &doc.state),
        last_lead_number,
    );
    let config = SimConfig::continuing(&recorded, now, marker.seed);
    let sim = Simulator::resume(config, &recorded).map_err(|e| Error::Sim(e.to_string()))?;
    Ok((sim, marker))
}

/// The number of a simulated lead (`sim-<n>`).
fn sim_number(lead: &Lead) -> Option<u64> {
    lead.lead_id()?.strip_prefix("sim-")?.parse().ok()
}

/// A lead still waiting for its team (new, with a team and its arrival), as the simulator
/// resumes it.
fn waiting(lead: &Lead) -> Option<RecordedLead> {
    match (
        lead.lead_id(),
        lead.status(),
        lead.team(),
        lead.received_at(),
    ) {
        (Some(id), Some(LeadStatus::New), Some(team), Some(arrived)) => Some(RecordedLead {
            lead_id: id.to_owned(),
            team: team.to_owned(),
            arrived,
        }),
        _ => None,
    }
}

/// What the read models record of the simulated world: the campaigns and teams of `views`,
/// the waiting ones of `leads`, and the last lead number used (at least `last_lead_number`).
pub fn recorded_world<'a>(
    views: &Projections,
    leads: impl Iterator<Item = &'a Lead>,
    last_lead_number: u64,
) -> RecordedWorld {
    let campaigns = views
        .campaigns
        .iter()
        .filter_map(|(_, doc)| {
            let s = &doc.state;
            Some(RecordedCampaign {
                customer_id: s.customer_id()?.to_owned(),
                campaign_id: s.campaign_id()?.to_owned(),
                snapshot: s.snapshot()?.clone(),
            })
        })
        .collect();
    let teams = views
        .capacity
        .iter()
        .filter_map(|(_, doc)| doc.state.team().map(str::to_owned))
        .collect();
    let mut last = last_lead_number;
    let mut waiting_leads = Vec::new();
    for lead in leads {
        if let Some(n) = sim_number(lead) {
            last = last.max(n);
        }
        waiting_leads.extend(waiting(lead));
    }
    RecordedWorld {
        campaigns,
        teams,
        waiting: waiting_leads,
        last_lead_number: last,
    }
}
