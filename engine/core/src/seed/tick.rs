//! One tick of the seed's simulation, in order: leads arrive on running campaigns, agents
//! work leads, each team's capacity is recorded and the capacity gate acts on it, now and
//! then an operator changes a campaign, the day's events are appended, and now and then a
//! data subject asks to be erased.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use leadorch_domain::campaign::{CampaignChange, CampaignSnapshot, CampaignStatus};
use leadorch_domain::lead::LeadArrival;
use leadorch_domain::subject::ErasureReason;
use leadorch_domain::{
    Campaign, CampaignCommand, CapacityCommand, CapacitySnapshot, Consent, ConsentCommand,
    DataSubject, Lead, LeadCommand, LeadOutcome, LeadStatus, SubjectCommand,
};
use rand::Rng;

use super::writer::Sim;
use super::{tweak_budget, CAMPAIGNS, CONSENT_TEXT, CUSTOMER, FIRST, LAST, TEAMS, TICK_MINUTES};
use crate::error::Result;

/// One of the seeded account's campaigns.
pub(super) struct SeedCampaign {
    /// Its aggregate id, `"<customer>/<campaign>"`.
    pub(super) id: String,
    pub(super) agg: Campaign,
    /// What it looks like now.
    pub(super) snapshot: CampaignSnapshot,
    /// Index into `TEAMS`.
    pub(super) team: usize,
}

/// A lead still in the funnel.
pub(super) struct OpenLead {
    pub(super) lead: Lead,
    pub(super) team: usize,
    pub(super) status: LeadStatus,
}

/// A lead that arrived in the last 90 days, which a duplicate may repeat.
struct Recent {
    email: String,
    phone: String,
    lead_id: String,
    subject: String,
    at: DateTime<Utc>,
}

/// Everything the simulation carries from tick to tick.
pub(super) struct World {
    pub(super) rule_id: String,
    pub(super) campaigns: Vec<SeedCampaign>,
    /// Each team's capacity aggregate, by index into `TEAMS`.
    pub(super) capacity: Vec<CapacitySnapshot>,
    pub(super) open: Vec<OpenLead>,
    /// Data subjects who may ask to be erased.
    pub(super) subjects: Vec<String>,
    recent: Vec<Recent>,
}

impl World {
    /// The world before the first tick.
    pub(super) fn new(
        rule_id: String,
        campaigns: Vec<SeedCampaign>,
        capacity: Vec<CapacitySnapshot>,
    ) -> Self {
        World {
            rule_id,
            campaigns,
            capacity,
            open: Vec::new(),
            subjects: Vec::new(),
            recent: Vec::new(),
        }
    }
}

/// The tick that starts at `t`.
pub(super) async fn run(sim: &mut Sim<'_>, world: &mut World, t: DateTime<Utc>) -> Result<()> {
    let hour = t.hour();
    let weekday = t.weekday().number_from_monday() <= 5;
    leads_arrive(sim, world, t, hour, weekday).await?;
    agents_work(sim, world, t, hour, weekday).await?;
    capacity_and_gate(sim, world, t, hour, weekday).await?;
    operator_changes_a_campaign(sim, world, t).await?;
    // One durable append round per simulated day (or sooner when the batch is big).
    if sim.queued() >= 20_000 || (t + Duration::minutes(TICK_MINUTES)).hour() == 0 {
        sim.flush().await?;
    }
    subject_asks_to_be_erased(sim, world, t).await
}

/// Leads arrive on running campaigns.
async fn leads_arrive(
    sim: &mut Sim<'_>,
    world: &mut World,
    t: DateTime<Utc>,
    hour: u32,
    weekday: bool,
) -> Result<()> {
    let World {
        campaigns,
        open,
        subjects,
        recent,
        ..
    } = world;
    for c in campaigns.iter() {
        if c.snapshot.status != CampaignStatus::Enabled {
            continue;
        }
        let rate = arrival_rate(hour, weekday, c.snapshot.daily_budget_micros / 1_000_000);
        let n = (rate + sim.rng.gen::<f64>()).floor() as u32;
        let campaign_id = c.id.split_once('/').map(|(_, c)| c.to_string());
        for _ in 0..n {
            let at = t + Duration::seconds(sim.rng.gen_range(0..TICK_MINUTES * 60));
            match lead_arrives(sim, recent, c.team, campaign_id.as_deref(), at).await? {
                Arrival::HistoryFull => break,
                Arrival::Duplicate => {}
                Arrival::New { subject, lead } => {
                    subjects.push(subject);
                    open.push(lead);
                }
            }
        }
    }
    recent.retain(|r| t - r.at < Duration::days(90));
    Ok(())
}

/// How one lead's arrival went.
#[allow(clippy::large_enum_variant)] // one value per lead, consumed at once
enum Arrival {
    /// The history holds as many events as asked for: no more leads this tick.
    HistoryFull,
    /// A duplicate of a recent lead: recorded, not in the funnel.
    Duplicate,
    /// A new lead entered the funnel (its consent recorded), from this data subject.
    New { subject: String, lead: OpenLead },
}

/// One lead arrives (now and then a duplicate of a recent one), with its consent record.
async fn lead_arrives(
    sim: &mut Sim<'_>,
    recent: &mut Vec<Recent>,
    team: usize,
    campaign_id: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Arrival> {
    let lead_id = sim.uuid();
    let dup = if !recent.is_empty() && sim.rng.gen_bool(0.05) {
        let i = sim.rng.gen_range(0..recent.len());
        Some(&recent[i])
    } else {
        None
    };
    let (email, phone, subject, duplicate_of) = match dup {
        Some(r) => (
            r.email.clone(),
            r.phone.clone(),
            r.subject.clone(),
            Some(r.lead_id.clone()),
        ),
        None => {
            let f = FIRST[sim.rng.gen_range(0..FIRST.len())];
            let l = LAST[sim.rng.gen_range(0..LAST.len())];
            let n: u32 = sim.rng.gen_range(1..100_000);
            let email = format!("{}.{}{n}@example.com", f.to_lowercase(), l.to_lowercase());
            let phone = format!("+1555{:07}", sim.rng.gen_range(0..10_000_000));
            (email, phone, sim.uuid(), None)
        }
    };
    let name = email.split('@').next().unwrap_or("").replace('.', " ");
    let ip = format!("203.0.113.{}", sim.rng.gen_range(1..255));
    let mut lead = Lead::default();
    let received = sim
        .run(
            &mut lead,
            &lead_id,
            LeadCommand::ReceiveLead {
                arrival: LeadArrival {
                    lead_id: lead_id.clone(),
                    subject_id: subject.clone(),
                    team: TEAMS[team].to_string(),
                    campaign_id: campaign_id.map(str::to_string),
                    customer_id: Some(CUSTOMER.to_string()),
                    source: format!("lp-{}", campaign_id.unwrap_or("x")),
                    fingerprint: Some(crate::fingerprint(&email, &phone)),
                    name: Some(name),
                    email: Some(email.clone()),
                    phone: Some(phone.clone()),
                    ip: Some(ip.clone()),
                    message: Some("Please call me back about pricing.".into()),
                    at,
                    ..LeadArrival::default()
                },
                outcome: match &duplicate_of {
                    Some(original) => LeadOutcome::Duplicate {
                        of: original.clone(),
                    },
                    None => LeadOutcome::Accepted,
                },
            },
            at,
        )
        .await?;
    if !received {
        return Ok(Arrival::HistoryFull);
    }
    if duplicate_of.is_some() {
        sim.report.duplicates += 1;
        return Ok(Arrival::Duplicate);
    }
    sim.report.leads += 1;
    recent.push(Recent {
        email,
        phone,
        lead_id: lead_id.clone(),
        subject: subject.clone(),
        at,
    });
    let consent_id = sim.uuid();
    let mut consent = Consent::default();
    let cert = sim.uuid().replace('-', "");
    if sim
        .run(
            &mut consent,
            &consent_id,
            ConsentCommand::GrantConsent {
                consent_id: consent_id.clone(),
                subject_id: subject.clone(),
                lead_id: Some(lead_id),
                text: CONSENT_TEXT.to_string(),
                source_url: "https://www.example.com/quote".into(),
                page_url: Some(format!(
                    "https://www.example.com/quote?c={}",
                    campaign_id.unwrap_or("")
                )),
                ip: Some(ip),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
                trustedform_cert_url: Some(format!("https://cert.trustedform.com/{cert}")),
                jornaya_token: None,
                at,
            },
            at,
        )
        .await?
    {
        sim.report.consents += 1;
    }
    Ok(Arrival::New {
        subject,
        lead: OpenLead {
            lead,
            team,
            status: LeadStatus::New,
        },
    })
}

/// Agents work leads: each agent moves about one lead per tick.
async fn agents_work(
    sim: &mut Sim<'_>,
    world: &mut World,
    t: DateTime<Utc>,
    hour: u32,
    weekday: bool,
) -> Result<()> {
    for (team, _) in TEAMS.iter().enumerate() {
        let mut budget = agents_on_shift(team, hour, weekday);
        for l in world
            .open
            .iter_mut()
            .filter(|l| l.team == team && l.status.is_open())
        {
            if budget == 0 {
                break;
            }
            let next = match l.status {
                LeadStatus::New => LeadStatus::Contacted,
                LeadStatus::Contacted if sim.rng.gen_bool(0.45) => LeadStatus::Qualified,
                LeadStatus::Contacted => LeadStatus::Lost,
                LeadStatus::Qualified if sim.rng.gen_bool(0.5) => LeadStatus::Won,
                _ => LeadStatus::Lost,
            };
            if !sim.rng.gen_bool(0.6) {
                continue;
            }
            budget -= 1;
            let id = l.lead.lead_id().unwrap_or_default().to_string();
            let at = t + Duration::minutes(sim.rng.gen_range(0..TICK_MINUTES));
            if sim
                .run(
                    &mut l.lead,
                    &id,
                    LeadCommand::ChangeStatus {
                        status: next,
                        owner: None,
                        at,
                    },
                    at,
                )
                .await?
            {
                l.status = next;
            }
        }
    }
    world.open.retain(|l| l.status.is_open());
    Ok(())
}

/// Capacity snapshots, and the capacity gate acting on them.
async fn capacity_and_gate(
    sim: &mut Sim<'_>,
    world: &mut World,
    t: DateTime<Utc>,
    hour: u32,
    weekday: bool,
) -> Result<()> {
    let snap_at = t + Duration::minutes(TICK_MINUTES - 1);
    for (team, name) in TEAMS.iter().enumerate() {
        let agents = agents_on_shift(team, hour, weekday);
        let open_leads = world.open.iter().filter(|l| l.team == team).count() as u32;
        let max_open = agents * 6;
        if sim
            .run(
                &mut world.capacity[team],
                name,
                CapacityCommand::Record {
                    team: name.to_string(),
                    agents_available: agents,
                    open_leads,
                    max_open_leads: max_open,
                    source: "crm-push".into(),
                    max_age_secs: None,
                    at: snap_at,
                },
                snap_at,
            )
            .await?
        {
            sim.report.capacity_snapshots += 1;
        }
        let utilisation = if max_open == 0 {
            f64::INFINITY
        } else {
            f64::from(open_leads) / f64::from(max_open)
        };
        for c in world.campaigns.iter_mut() {
            if c.team != team || c.agg.is_manually_held(snap_at) {
                continue;
            }
            let change = match c.snapshot.status {
                CampaignStatus::Enabled if utilisation >= 0.9 => CampaignChange::Pause,
                CampaignStatus::Paused if utilisation <= 0.7 => CampaignChange::Resume,
                _ => continue,
            };
            let change_id = sim.uuid();
            let reason = format!(
                "{name} at {:.0} % of capacity",
                utilisation.min(9.99) * 100.0
            );
            let requested = sim
                .run(
                    &mut c.agg,
                    &c.id,
                    CampaignCommand::RequestChange {
                        change_id: change_id.clone(),
                        change: change.clone(),
                        reason,
                        decision_ref: Some(world.rule_id.clone()),
                        google_account: None,
                        at: snap_at,
                    },
                    snap_at,
                )
                .await?;
            let applied_at = snap_at + Duration::seconds(2);
            if requested
                && sim
                    .run(
                        &mut c.agg,
                        &c.id,
                        CampaignCommand::MarkApplied {
                            change_id,
                            at: applied_at,
                        },
                        applied_at,
                    )
                    .await?
            {
                c.snapshot.status = match change {
                    CampaignChange::Pause => CampaignStatus::Paused,
                    _ => CampaignStatus::Enabled,
                };
                sim.report.campaign_changes += 1;
            }
        }
    }
    Ok(())
}

/// Now and then an operator changes a campaign in the Google Ads UI.
async fn operator_changes_a_campaign(
    sim: &mut Sim<'_>,
    world: &mut World,
    t: DateTime<Utc>,
) -> Result<()> {
    if !sim.rng.gen_bool(0.004) {
        return Ok(());
    }
    let ci = sim.rng.gen_range(0..world.campaigns.len());
    let c = &mut world.campaigns[ci];
    let mut after = c.snapshot.clone();
    // A budget tweak of 20 % up or down, kept within half to twice the campaign's
    // original budget (operators adjust; they do not compound for years).
    let base = CAMPAIGNS
        .iter()
        .find(|x| c.id.ends_with(&format!("/{}", x.0)))
        .map_or(after.daily_budget_micros, |x| x.3 * 1_000_000);
    after.daily_budget_micros =
        tweak_budget(after.daily_budget_micros, base, sim.rng.gen_bool(0.5));
    let (customer_id, campaign_id) = c.id.split_once('/').unwrap_or((CUSTOMER, &c.id));
    let at = t + Duration::minutes(7);
    if sim
        .run(
            &mut c.agg,
            &c.id,
            CampaignCommand::Observe {
                customer_id: customer_id.to_string(),
                campaign_id: campaign_id.to_string(),
                snapshot: after.clone(),
                manual_hold: Duration::hours(4),
                google_account: None,
                at,
            },
            at,
        )
        .await?
    {
        c.snapshot = after;
        sim.report.manual_changes += 1;
    }
    Ok(())
}

/// Some data subjects ask to be erased: their keys are destroyed, then the erasure recorded.
async fn subject_asks_to_be_erased(
    sim: &mut Sim<'_>,
    world: &mut World,
    t: DateTime<Utc>,
) -> Result<()> {
    if world.subjects.is_empty() || !sim.rng.gen_bool(0.03) || !sim.has_room() {
        return Ok(());
    }
    let i = sim.rng.gen_range(0..world.subjects.len());
    let subject = world.subjects.swap_remove(i);
    // Their events must be stored (and their keys exist) before the keys are destroyed.
    sim.flush().await?;
    world.recent.retain(|r| r.subject != subject);
    let destroyed = if sim.dry {
        Vec::new()
    } else {
        sim.engine.store.codec.keys().forget(&subject, None).await?
    };
    let at = t + Duration::minutes(11);
    let mut ds = DataSubject::default();
    let request_id = sim.uuid();
    if sim
        .run(
            &mut ds,
            &subject,
            SubjectCommand::Erase {
                subject_id: subject.clone(),
                request_id,
                reason: ErasureReason::Request,
                purposes: destroyed,
                at,
            },
            at,
        )
        .await?
    {
        sim.report.erasures += 1;
    }
    sim.flush().await
}

/// How many leads a campaign brings in per tick at this hour (a daytime curve).
fn arrival_rate(hour: u32, weekday: bool, daily_budget: i64) -> f64 {
    let curve = match hour {
        0..=6 => 0.05,
        7..=8 => 0.4,
        9..=12 => 1.0,
        13..=17 => 0.85,
        18..=21 => 0.5,
        _ => 0.15,
    };
    let day = if weekday { 1.0 } else { 0.45 };
    curve * day * (daily_budget as f64 / 150.0) * 0.9
}

/// Agents on shift for a team at this hour.
fn agents_on_shift(team: usize, hour: u32, weekday: bool) -> u32 {
    let base = [6, 4, 3][team];
    match (weekday, hour) {
        (true, 8..=17) => base,
        (true, 18..=20) => base / 2,
        (false, 10..=15) => base / 3,
        _ => 0,
    }
}
