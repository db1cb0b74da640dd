//! Synthetic history for demos, trying things out and benchmarks.
//!
//! A deterministic simulation (same `seed` → same events) on a 15-minute tick: three sales
//! teams with day shifts, six campaigns of one Google Ads account routed to them, leads that
//! arrive by hour of day while their campaign runs (each with a TCPA consent record, some
//! duplicates), agents working leads through the funnel, a capacity snapshot per team per
//! tick, a capacity gate that pauses a team's campaigns at 90 % utilisation and resumes them
//! at 70 %, now and then an operator's manual change in the Google Ads UI, and data subjects
//! who ask to be erased. Every event goes through its aggregate's command handler, so the
//! history obeys the same rules as live traffic.

//!
//! The steps: [`seed`] picks where the history starts and sets up the world (the capacity-gate
//! rule, the campaigns, the teams' capacity, open leads: new, or carried over from a history
//! already in the log), then runs ticks until the log holds `events` more; each tick runs the
//! steps of `tick` in order. `writer` queues every command's events and appends them.

mod tick;
mod writer;

use chrono::{DateTime, Duration, Timelike, Utc};
use cqrs_es::Aggregate;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::world::SIMULATED;
use leadorch_domain::{
    stream_id, Campaign, CampaignCommand, CapacitySnapshot, Lead, Rule, RuleCommand, WorldCommand,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::projection::Projections;
use crate::Engine;
use tick::{OpenLead, SeedCampaign, World};
use writer::Sim;

const TICK_MINUTES: i64 = 15;
/// Rough events per simulated day (about 800 over a week), for the first guess of where a
/// new history starts; a dry run then finds where it really ends.
const EVENTS_PER_DAY: u64 = 800;
const CUSTOMER: &str = "1234567890";
const TEAMS: [&str; 3] = ["north", "south", "west"];
const CAMPAIGNS: [(&str, &str, &str, i64); 6] = [
    ("1001", "Brand - Search", "north", 150),
    ("1002", "Generic - Search", "north", 220),
    ("1003", "Competitors", "south", 120),
    ("1004", "Remarketing", "south", 90),
    ("1005", "Local - Maps", "west", 80),
    ("1006", "Performance Max", "west", 200),
];
const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Leslie",
    "Margaret", "Tim",
];
const LAST: [&str; 12] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Lamport",
    "Hamilton",
    "Berners-Lee",
];
const CONSENT_TEXT: &str = "By clicking Submit, I agree to be contacted by phone, text or email \
about my enquiry, including by automated means. Consent is not a condition of purchase.";
const CAPACITY_GATE: &str = r#"//! Pause a campaign when its sales team is nearly full; resume it when the team has room
//! again. Between 70 % and 90 % nothing changes (hysteresis).
//! priority: 10
if team == () { return; }
let u = team.utilisation;
if !campaign.paused && u >= 0.9 { return pause(`team ${team.name} is at ${u} of capacity`); }
if campaign.paused && u <= 0.7 { return resume(`team ${team.name} has room again`); }
"#;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// How many events to write (exactly).
    pub events: u64,
    /// RNG seed: the same seed gives the same history.
    pub seed: u64,
    /// "Now": no event is dated after it. A new history ends in the week before it (it
    /// starts as many whole weeks earlier as `events` needs); continuing a history that
    /// would run past it is refused.
    pub end: DateTime<Utc>,
}

/// What was generated.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SeedReport {
    /// Events written.
    pub events: u64,
    /// Leads received (not counting duplicates).
    pub leads: u64,
    /// Duplicate leads.
    pub duplicates: u64,
    /// Consents recorded.
    pub consents: u64,
    /// Capacity snapshots.
    pub capacity_snapshots: u64,
    /// Campaign changes applied by the capacity gate.
    pub campaign_changes: u64,
    /// Changes made outside the engine.
    pub manual_changes: u64,
    /// Subjects erased.
    pub erasures: u64,
    /// First simulated instant.
    pub from: String,
    /// Last simulated instant.
    pub to: String,
    /// Position of the last event.
    pub head: u64,
    /// Events already in the log when this run started (0: a new history).
    pub continued_from: u64,
}

/// Writes a synthetic history of exactly `opts.events` events, none dated after `opts.end`.
/// On a log that already holds a seeded history, the simulation continues where that one
/// stopped (same campaigns, teams, open leads and rule), so running `seed` again grows the
/// history instead of clashing.
///
/// Where a new history starts is found by running it dry first (deciding every command,
/// storing nothing): the simulation depends only on the hour of day and the day of the
/// week, so starting whole weeks earlier or later writes the same history shifted by as
/// much, and the start is moved so that it ends within the week before `opts.end`.
pub async fn seed(engine: &Engine, opts: &SeedOptions) -> Result<SeedReport> {
    let head = engine.store.log.head().await?.position;
    let prior = || async {
        Ok::<_, Error>(if head > 0 {
            Some(crate::projection::catch_up(&engine.store).await?)
        } else {
            None
        })
    };
    if let Some(views) = prior().await?.as_ref() {
        // Only a simulated history is continued (ADR 0018).
        crate::synthetic::check(engine, views).await?;
    }
    let guess = start_at(prior().await?.as_ref(), head, opts)?;
    let dry = run(
        Sim::dry(engine, StdRng::seed_from_u64(opts.seed ^ head), opts.events),
        prior().await?,
        guess,
        opts.end,
        head > 0,
        opts.seed,
    )
    .await?;
    let start = if head == 0 {
        let week = Duration::weeks(1);
        let weeks = (opts.end - dry.to)
            .num_seconds()
            .div_euclid(week.num_seconds());
        guess + week * i32::try_from(weeks).unwrap_or(i32::MIN)
    } else if dry.to > opts.end {
        return Err(Error::Invalid(format!(
            "continuing the seeded history (it ends at {}) with {} events would run to {}, \
             after now ({}): at most {} more fit before now; seed fewer events or into a new \
             database",
            guess.to_rfc3339(),
            opts.events,
            dry.to.to_rfc3339(),
            opts.end.to_rfc3339(),
            dry.fit
        )));
    } else {
        guess
    };
    let sim = Sim::new(
        engine,
        StdRng::seed_from_u64(opts.seed ^ head),
        opts.events,
        SeedReport {
            from: start.to_rfc3339(),
            head,
            continued_from: head,
            ..Default::default()
        },
    );
    let done = run(sim, prior().await?, start, opts.end, false, opts.seed).await?;
    Ok(done.report)
}

/// How a run of the simulation went.
struct Ran {
    report: SeedReport,
    /// The end of the last tick: every event is dated before it.
    to: DateTime<Utc>,
    /// Events of the ticks that ended by `end`.
    fit: u64,
}

/// Sets up the world at `start` (continuing `prior`; a new one is marked simulated first,
/// with `seed`) and runs ticks until `sim` holds all its events (or, with `stop_past_end`,
/// until a tick ends after `end`).
async fn run(
    mut sim: Sim<'_>,
    mut prior: Option<Projections>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    stop_past_end: bool,
    seed: u64,
) -> Result<Ran> {
    let engine = sim.engine;
    // A new history is marked simulated first (ADR 0018).
    if prior.is_none() {
        mark_simulated(&mut sim, seed, start).await?;
    }
    let rule_id = capacity_gate(&mut sim, prior.as_ref(), start).await?;
    let campaigns = campaigns(&mut sim, prior.as_mut(), start).await?;
    sim.flush().await?;
    let capacity = capacity(&mut sim, prior.as_mut());
    let mut world = World::new(rule_id, campaigns, capacity);
    if let Some(views) = prior.take() {
        carry_over_leads(&mut sim, &mut world, views);
    }
    let mut t = start;
    let mut fit = 0;
    while sim.has_room() {
        tick::run(&mut sim, &mut world, t).await?;
        t += Duration::minutes(TICK_MINUTES);
        if t <= end {
            fit = sim.written + sim.queued();
        } else if stop_past_end {
            break;
        }
    }
    sim.flush().await?;
    // Erased subjects' key bytes leave the files once, at the end.
    if sim.report.erasures > 0 && !sim.dry {
        engine.store.codec.keys().scrub().await?;
    }
    sim.report.events = sim.written;
    sim.report.to = t.to_rfc3339();
    Ok(Ran {
        report: sim.report,
        to: t,
        fit,
    })
}

/// Where simulated time starts: the tick after the last capacity snapshot of a history
/// already in the log, or midnight as many days before `opts.end` as the events need.
fn start_at(prior: Option<&Projections>, head: u64, opts: &SeedOptions) -> Result<DateTime<Utc>> {
    let days = (opts.events / EVENTS_PER_DAY + 1) as i64;
    Ok(match prior {
        // The tick after the last capacity snapshot of the earlier run.
        Some(views) => {
            let last = views
                .capacity
                .iter()
                .filter_map(|(_, d)| d.state.recorded_at())
                .max()
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "the log holds {head} events but no seeded history to continue: seed into an empty database (point --database-url at a new file)"
                    ))
                })?;
            let tick = TICK_MINUTES * 60;
            let secs = last.timestamp().div_euclid(tick) * tick + tick;
            DateTime::from_timestamp(secs, 0).unwrap_or(last)
        }
        None => (opts.end - Duration::days(days))
            .with_hour(0)
            .and_then(|t| t.with_minute(0))
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(opts.end),
    })
}

/// The marker of a simulated world ([`crate::synthetic`]), the history's first event.
async fn mark_simulated(sim: &mut Sim<'_>, seed: u64, start: DateTime<Utc>) -> Result<()> {
    let command = WorldCommand::MarkSimulated {
        by: "seed".into(),
        seed,
        at: start,
    };
    sim.run(
        &mut leadorch_domain::World::default(),
        SIMULATED,
        command,
        start,
    )
    .await?;
    Ok(())
}

/// The capacity-gate rule: the earlier run's, or a new one created at `start`.
async fn capacity_gate(
    sim: &mut Sim<'_>,
    prior: Option<&Projections>,
    start: DateTime<Utc>,
) -> Result<String> {
    let existing_rule = prior.and_then(|v| {
        v.rules
            .iter()
            .find(|(id, _)| id.starts_with("capacity-gate-"))
            .map(|(id, _)| id.clone())
    });
    if let Some(id) = existing_rule {
        return Ok(id);
    }
    let run_tag: u32 = sim.rng.gen();
    let rule_id = format!("capacity-gate-{run_tag:08x}");
    let mut rule = Rule::default();
    sim.run(
        &mut rule,
        &rule_id,
        RuleCommand::Create {
            name: rule_id.clone(),
            source: CAPACITY_GATE.to_string(),
            priority: 10,
            at: start,
        },
        start,
    )
    .await?;
    Ok(rule_id)
}

/// The six campaigns: the earlier run's as they stand, or observed for the first time at
/// `start`.
async fn campaigns(
    sim: &mut Sim<'_>,
    mut prior: Option<&mut Projections>,
    start: DateTime<Utc>,
) -> Result<Vec<SeedCampaign>> {
    let mut campaigns = Vec::new();
    for (id, name, team, budget) in CAMPAIGNS {
        let team = TEAMS.iter().position(|t| *t == team).unwrap_or(0);
        let agg_id = format!("{CUSTOMER}/{id}");
        if let Some(doc) = prior
            .as_deref_mut()
            .and_then(|v| v.campaigns.remove(&agg_id))
        {
            if let Some(snapshot) = doc.state.snapshot().cloned() {
                sim.versions
                    .insert(stream_id(Campaign::TYPE, &agg_id), doc.version);
                campaigns.push(SeedCampaign {
                    id: agg_id,
                    agg: doc.state,
                    snapshot,
                    team,
                });
                continue;
            }
        }
        let snapshot = CampaignSnapshot {
            name: name.to_string(),
            labels: vec![format!("team:{}", TEAMS[team])],
            status: CampaignStatus::Enabled,
            daily_budget_micros: budget * 1_000_000,
            bidding: Bidding::MaximizeConversions,
            ad_schedule: Vec::new(),
            currency: None,
        };
        let mut agg = Campaign::default();
        sim.run(
            &mut agg,
            &agg_id,
            CampaignCommand::Observe {
                customer_id: CUSTOMER.to_string(),
                campaign_id: id.to_string(),
                snapshot: snapshot.clone(),
                manual_hold: Duration::hours(4),
                google_account: None,
                at: start,
            },
            start,
        )
        .await?;
        campaigns.push(SeedCampaign {
            id: agg_id,
            agg,
            snapshot,
            team,
        });
    }
    Ok(campaigns)
}

/// Each team's capacity: the earlier run's last snapshot, or none yet.
fn capacity(sim: &mut Sim<'_>, mut prior: Option<&mut Projections>) -> Vec<CapacitySnapshot> {
    let mut capacity = Vec::new();
    for team in TEAMS {
        match prior.as_deref_mut().and_then(|v| v.capacity.remove(team)) {
            Some(doc) => {
                sim.versions
                    .insert(stream_id(CapacitySnapshot::TYPE, team), doc.version);
                capacity.push(doc.state);
            }
            None => capacity.push(CapacitySnapshot::default()),
        }
    }
    capacity
}

/// The earlier run's open leads, and their subjects (those with requests on record keep
/// their stream as it is), in a deterministic order whatever the read model's.
fn carry_over_leads(sim: &mut Sim<'_>, world: &mut World, views: Projections) {
    // Subjects with requests on record keep their stream as it is.
    let with_requests: std::collections::HashSet<String> =
        views.data_subjects.iter().map(|(k, _)| k.clone()).collect();
    for (id, doc) in views.leads.into_rows() {
        let Some(status) = doc.state.status().filter(|s| s.is_open()) else {
            continue;
        };
        let Some(team) = doc
            .state
            .team()
            .and_then(|t| TEAMS.iter().position(|x| *x == t))
        else {
            continue;
        };
        if let Some(subject) = doc
            .state
            .subject_id()
            .filter(|s| !with_requests.contains(*s))
        {
            world.subjects.push(subject.to_string());
        }
        sim.versions.insert(stream_id(Lead::TYPE, &id), doc.version);
        world.open.push(OpenLead {
            lead: doc.state,
            team,
            status,
        });
    }
    // Deterministic order whatever the read model's.
    world
        .open
        .sort_by(|a, b| a.lead.lead_id().cmp(&b.lead.lead_id()));
    world.subjects.sort();
    world.subjects.dedup();
}

/// An operator's budget tweak: 20 % up or down, kept within half to twice `base` (and at
/// least one currency unit), so years of tweaks never compound.
fn tweak_budget(current: i64, base: i64, up: bool) -> i64 {
    let factor = if up { 12 } else { 8 };
    (current * factor / 10)
        .clamp(base / 2, base * 2)
        .max(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::tweak_budget;

    #[test]
    fn budget_tweaks_stay_within_half_to_twice_the_original() {
        let base = 100_000_000;
        let mut b = base;
        for _ in 0..50 {
            b = tweak_budget(b, base, true);
        }
        assert_eq!(b, 2 * base);
        for _ in 0..50 {
            b = tweak_budget(b, base, false);
        }
        assert_eq!(b, base / 2);
        assert_eq!(tweak_budget(base, base, true), 120_000_000);
        assert_eq!(tweak_budget(base, base, false), 80_000_000);
        assert_eq!(tweak_budget(500_000, 1_000_000, false), 1_000_000);
    }
}
