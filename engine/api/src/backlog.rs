//! Capacity from lead statuses: a team whose capacity source is `leads` (`leadorch teams set
//! TEAM --capacity-source leads`) gets its capacity readings from its own leads, not from a
//! CRM's push. After a lead of such a team is accepted or changes status, its open leads are
//! counted ([`leadorch_core::projection::Backlog`], caught up from the log) and a reading is
//! recorded when it differs from the team's last: open leads, the team's maximum, and its
//! members as the agents available. Rules then see it as any other reading (source `leads`).
//!
//! The backlog is kept in memory and caught up from the log on use, so every process serving
//! the API counts the same leads, whoever recorded them.

use chrono::Utc;
use leadorch_core::projection::{decode, Backlog};
use leadorch_domain::capacity::{CapacityCommand, CapacitySnapshot};
use leadorch_domain::team::CapacitySource;
use leadorch_domain::Team;
use leadorch_store::{Metadata, Reveal};

use crate::Api;

/// The source recorded on readings counted from leads.
pub const SOURCE: &str = "leads";

/// Events read from the log per page while catching up.
const PAGE: u64 = 2000;

/// The backlog and the log position it has folded in.
#[derive(Debug, Default)]
pub struct Counted {
    backlog: Backlog,
    position: u64,
}

/// After a lead of `team` (stored name) was accepted or changed status: records the team's
/// capacity when its source is `leads` and the count changed. Never fails the request that
/// caused it (the lead is recorded): a failure is logged, and the next change counts again.
pub async fn lead_changed(api: &Api, team: &str) {
    match leadorch_evaluate::teams::load_team(&api.engine, team).await {
        Ok(defined) => lead_changed_in(api, team, &defined).await,
        Err(e) => tracing::warn!("counting the open leads of team {team}: {e}"),
    }
}

/// [`lead_changed`] for a team already loaded (`defined`, as it is now).
pub async fn lead_changed_in(api: &Api, team: &str, defined: &Team) {
    if let Err(e) = update(api, team, defined).await {
        tracing::warn!("counting the open leads of team {team}: {e}");
    }
}

async fn update(api: &Api, team: &str, defined: &Team) -> Result<(), String> {
    if !defined.is_defined() || *defined.capacity_source() != CapacitySource::Leads {
        return Ok(());
    }
    let Some(max) = defined.max_open_leads() else {
        tracing::warn!(
            "team {team} takes its capacity from its leads but has no maximum of open leads: set one with `leadorch teams set {team} --max-open-leads N`"
        );
        return Ok(());
    };
    let agents = if max == 0 {
        0
    } else {
        u32::try_from(defined.members().len()).unwrap_or(u32::MAX)
    };
    // One count and one reading at a time in this process: readings are recorded in order.
    let mut counted = api.backlog.lock().await;
    catch_up(api, &mut counted).await?;
    let open = counted.backlog.open_leads(team);
    let last: CapacitySnapshot = api
        .engine
        .current::<CapacitySnapshot>(team)
        .await
        .map_err(|e| e.to_string())?;
    if last.recorded_at().is_some()
        && last.open_leads() == open
        && last.max_open_leads() == max
        && last.agents_available() == agents
    {
        return Ok(());
    }
    let at = Utc::now().max(last.recorded_at().unwrap_or_default());
    let command = CapacityCommand::Record {
        team: team.to_string(),
        agents_available: agents,
        open_leads: open,
        max_open_leads: max,
        source: SOURCE.into(),
        max_age_secs: None,
        at,
    };
    api.engine
        .execute::<CapacitySnapshot>(team, command, &Metadata::actor("api:leads"))
        .await
        .map_err(|e| e.to_string())?;
    api.metrics.reading(crate::metrics::ReadingSource::Leads);
    Ok(())
}

/// Folds every lead event after the backlog's position into it.
async fn catch_up(api: &Api, counted: &mut Counted) -> Result<(), String> {
    let store = &api.engine.store;
    let mut decoder = store.codec.decoder(Reveal::Redact);
    loop {
        let page = store
            .log
            .read_after(counted.position, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last().map(|r| r.position) else {
            return Ok(());
        };
        for rec in &page {
            if rec.stream_id.starts_with("lead:") {
                let event = decode(&mut decoder, rec).await.map_err(|e| e.to_string())?;
                counted.backlog.apply_any(&rec.stream_id, &event);
            }
        }
        counted.position = last;
    }
}
