//! The simulated account of `leadorch daemon --adapter sim` (ADR 0018): only on a database
//! marked simulated (marked here when it holds no world yet), continuing the world its log
//! records — the campaigns in their recorded states, the leads still waiting, the lead ids
//! after the last one — so the daemon's first reading records nothing as changed outside the
//! engine that nobody changed.

use chrono::{DateTime, Utc};
use leadorch_core::projection::{self, Projections};
use leadorch_core::synthetic::{self, Simulated};
use leadorch_core::Engine;
use leadorch_domain::LeadStatus;
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
    // What `recorded_world` reads.
    let views = projection::current(&engine.store, &["campaigns", "capacity", "leads"]).await?;
    let recorded = recorded_world(&views);
    let config = SimConfig::continuing(&recorded, now, marker.seed);
    let sim = Simulator::resume(config, &recorded).map_err(|e| Error::Sim(e.to_string()))?;
    Ok((sim, marker))
}

/// What the read models record of the simulated world.
pub fn recorded_world(views: &Projections) -> RecordedWorld {
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
    let mut waiting = Vec::new();
    let mut last_lead_number = 0;
    for (_, doc) in views.leads.iter() {
        let lead = &doc.state;
        let Some(id) = lead.lead_id() else { continue };
        if let Some(n) = id.strip_prefix("sim-").and_then(|n| n.parse::<u64>().ok()) {
            last_lead_number = last_lead_number.max(n);
        }
        if let (Some(LeadStatus::New), Some(team), Some(arrived)) =
            (lead.status(), lead.team(), lead.received_at())
        {
            waiting.push(RecordedLead {
                lead_id: id.to_owned(),
                team: team.to_owned(),
                arrived,
            });
        }
    }
    RecordedWorld {
        campaigns,
        teams,
        waiting,
        last_lead_number,
    }
}
