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

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use leadorch_domain::campaign::{Bidding, CampaignChange, CampaignSnapshot, CampaignStatus};
use leadorch_domain::subject::ErasureReason;
use leadorch_domain::{
    stream_id, Campaign, CampaignCommand, CapacityCommand, CapacitySnapshot, Consent,
    ConsentCommand, DataSubject, Lead, LeadCommand, LeadStatus, PersonalData, Rule, RuleCommand,
    SubjectCommand,
};
use leadorch_store::codec::Pending;
use leadorch_store::{ExpectedVersion, Metadata, NewEvent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::Engine;

const TICK_MINUTES: i64 = 15;
/// Rough events per simulated day, used to choose how many days to simulate.
const EVENTS_PER_DAY: u64 = 3_000;
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
const CAPACITY_GATE: &str = r#"// Pause above 90 % utilisation, resume below 70 % (hysteresis).
let u = capacity.utilisation;
if campaign.status == "ENABLED" && u >= 0.9 { pause("team at " + u + " of capacity") }
else if campaign.status == "PAUSED" && u <= 0.7 { resume("team has room again") }
"#;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// How many events to write (exactly).
    pub events: u64,
    /// RNG seed: the same seed gives the same history.
    pub seed: u64,
    /// Simulated time ends here (it starts as many days earlier as `events` needs).
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

/// One tick's events, grouped by stream (a stream appears once, in command order).
#[derive(Default)]
struct Batch {
    order: Vec<String>,
    by_stream: HashMap<String, Vec<Pending>>,
    count: u64,
}

struct Sim<'a> {
    engine: &'a Engine,
    rng: StdRng,
    batch: Batch,
    versions: HashMap<String, u64>,
    meta: Metadata,
    limit: u64,
    written: u64,
    report: SeedReport,
}

struct OpenLead {
    lead: Lead,
    team: usize,
    status: LeadStatus,
}

impl<'a> Sim<'a> {
    /// Runs a command on an in-memory aggregate and queues its events.
    async fn run<A>(
        &mut self,
        agg: &mut A,
        id: &str,
        cmd: A::Command,
        at: DateTime<Utc>,
    ) -> Result<bool>
    where
        A: Aggregate<Services = ()>,
        A::Event: PersonalData,
    {
        if self.written + self.batch.count >= self.limit {
            return Ok(false);
        }
        let sink = EventSink::default();
        agg.handle(cmd, &(), &sink)
            .await
            .map_err(|e| Error::Rejected {
                aggregate: A::TYPE,
                id: id.to_string(),
                message: e.to_string(),
            })?;
        let events = sink.collect().await;
        let stream = stream_id(A::TYPE, id);
        for e in &events {
            if self.written + self.batch.count >= self.limit {
                break;
            }
            let stored = Pending::of(e, at)?;
            let entry = self
                .batch
                .by_stream
                .entry(stream.clone())
                .or_insert_with(|| {
                    self.batch.order.push(stream.clone());
                    Vec::new()
                });
            entry.push(stored);
            self.batch.count += 1;
        }
        Ok(!events.is_empty())
    }

    /// Appends the tick's events, streams in parallel (one group commit takes many).
    async fn flush(&mut self) -> Result<()> {
        let mut batch = std::mem::take(&mut self.batch);
        // Seal every event of the batch with one key transaction.
        let mut flat = Vec::with_capacity(batch.count as usize);
        let mut sizes = Vec::with_capacity(batch.order.len());
        for stream in &batch.order {
            let events = batch.by_stream.remove(stream).unwrap_or_default();
            sizes.push(events.len());
            flat.extend(events);
        }
        let mut sealed = self
            .engine
            .store
            .codec
            .encode_many(flat, &self.meta)
            .await?
            .into_iter();
        let mut per_stream: Vec<(String, Vec<NewEvent>)> = Vec::with_capacity(sizes.len());
        for (stream, n) in batch.order.into_iter().zip(sizes) {
            per_stream.push((stream, sealed.by_ref().take(n).collect()));
        }
        // Streams go to the writer one after another, so they take positions in command
        // order and the same seed writes the same log; the writer still commits many at once.
        let log = &self.engine.store.log;
        let mut queued = Vec::with_capacity(per_stream.len());
        for (stream, events) in per_stream {
            let expected = ExpectedVersion::Exact(self.versions.get(&stream).copied().unwrap_or(0));
            let q = log.enqueue(&stream, expected, events).await?;
            queued.push((stream, q));
        }
        for (stream, q) in queued {
            let appended = q.outcome().await?;
            self.report.head = self.report.head.max(appended.last_position);
            self.versions.insert(stream, appended.stream_version);
        }
        self.written += batch.count;
        Ok(())
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.gen())
            .into_uuid()
            .to_string()
    }
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

/// Writes a synthetic history of exactly `opts.events` events. On a log that already holds
/// a seeded history, the simulation continues where that one stopped (same campaigns, teams,
/// open leads and rule), so running `seed` again grows the history instead of clashing.
pub async fn seed(engine: &Engine, opts: &SeedOptions) -> Result<SeedReport> {
    let head = engine.store.log.head().await?.position;
    let mut prior = if head > 0 {
        Some(crate::projection::catch_up(&engine.store).await?)
    } else {
        None
    };
    let days = (opts.events / EVENTS_PER_DAY + 1) as i64;
    let start = match &prior {
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
    };
    let mut sim = Sim {
        engine,
        rng: StdRng::seed_from_u64(opts.seed ^ head),
        batch: Batch::default(),
        versions: HashMap::new(),
        meta: Metadata::actor("seed"),
        limit: opts.events,
        written: 0,
        report: SeedReport {
            from: start.to_rfc3339(),
            head,
            continued_from: head,
            ..Default::default()
        },
    };

    let existing_rule = prior.as_ref().and_then(|v| {
        v.rules
            .iter()
            .find(|(id, _)| id.starts_with("capacity-gate-"))
            .map(|(id, _)| id.clone())
    });
    let rule_id = match existing_rule {
        Some(id) => id,
        None => {
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
            rule_id
        }
    };

    let mut campaigns: Vec<(String, Campaign, CampaignSnapshot, usize)> = Vec::new();
    for (id, name, team, budget) in CAMPAIGNS {
        let team = TEAMS.iter().position(|t| *t == team).unwrap_or(0);
        let agg_id = format!("{CUSTOMER}/{id}");
        if let Some(doc) = prior.as_mut().and_then(|v| v.campaigns.remove(&agg_id)) {
            if let Some(snapshot) = doc.state.snapshot().cloned() {
                sim.versions
                    .insert(stream_id(Campaign::TYPE, &agg_id), doc.version);
                campaigns.push((agg_id, doc.state, snapshot, team));
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
        campaigns.push((agg_id, agg, snapshot, team));
    }
    sim.flush().await?;

    let mut capacity: Vec<CapacitySnapshot> = Vec::new();
    for team in TEAMS {
        match prior.as_mut().and_then(|v| v.capacity.remove(team)) {
            Some(doc) => {
                sim.versions
                    .insert(stream_id(CapacitySnapshot::TYPE, team), doc.version);
                capacity.push(doc.state);
            }
            None => capacity.push(CapacitySnapshot::default()),
        }
    }
    let mut open: Vec<OpenLead> = Vec::new();
    let mut subjects: Vec<String> = Vec::new();
    if let Some(views) = prior.take() {
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
                subjects.push(subject.to_string());
            }
            sim.versions.insert(stream_id(Lead::TYPE, &id), doc.version);
            open.push(OpenLead {
                lead: doc.state,
                team,
                status,
            });
        }
        // Deterministic order whatever the read model's.
        open.sort_by(|a, b| a.lead.lead_id().cmp(&b.lead.lead_id()));
        subjects.sort();
        subjects.dedup();
    }
    let mut recent: Vec<(String, String, String, String, DateTime<Utc>)> = Vec::new(); // email, phone, lead, subject, at
    let mut t = start;
    while sim.written + sim.batch.count < sim.limit {
        let hour = t.hour();
        let weekday = t.weekday().number_from_monday() <= 5;
        // Leads arrive on running campaigns.
        for (agg_id, _, snapshot, team) in &campaigns {
            let team = *team;
            if snapshot.status != CampaignStatus::Enabled {
                continue;
            }
            let rate = arrival_rate(hour, weekday, snapshot.daily_budget_micros / 1_000_000);
            let n = (rate + sim.rng.gen::<f64>()).floor() as u32;
            let campaign_id = agg_id.split_once('/').map(|(_, c)| c.to_string());
            for _ in 0..n {
                let at = t + Duration::seconds(sim.rng.gen_range(0..TICK_MINUTES * 60));
                let lead_id = sim.uuid();
                let dup = if !recent.is_empty() && sim.rng.gen_bool(0.05) {
                    let i = sim.rng.gen_range(0..recent.len());
                    Some(recent[i].clone())
                } else {
                    None
                };
                let (email, phone, subject, duplicate_of) = match &dup {
                    Some((e, p, l, s, _)) => (e.clone(), p.clone(), s.clone(), Some(l.clone())),
                    None => {
                        let f = FIRST[sim.rng.gen_range(0..FIRST.len())];
                        let l = LAST[sim.rng.gen_range(0..LAST.len())];
                        let n: u32 = sim.rng.gen_range(1..100_000);
                        let email =
                            format!("{}.{}{n}@example.com", f.to_lowercase(), l.to_lowercase());
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
                            lead_id: lead_id.clone(),
                            subject_id: subject.clone(),
                            team: TEAMS[team].to_string(),
                            campaign_id: campaign_id.clone(),
                            customer_id: Some(CUSTOMER.to_string()),
                            source: format!("lp-{}", campaign_id.as_deref().unwrap_or("x")),
                            fingerprint: crate::fingerprint(&email, &phone),
                            duplicate_of: duplicate_of.clone(),
                            name: Some(name),
                            email: Some(email.clone()),
                            phone: Some(phone.clone()),
                            ip: Some(ip.clone()),
                            message: Some("Please call me back about pricing.".into()),
                            at,
                        },
                        at,
                    )
                    .await?;
                if !received {
                    break;
                }
                if duplicate_of.is_some() {
                    sim.report.duplicates += 1;
                    continue;
                }
                sim.report.leads += 1;
                recent.push((email, phone, lead_id.clone(), subject.clone(), at));
                subjects.push(subject.clone());
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
                            lead_id: Some(lead_id.clone()),
                            text: CONSENT_TEXT.to_string(),
                            source_url: format!(
                                "https://www.example.com/quote?c={}",
                                campaign_id.as_deref().unwrap_or("")
                            ),
                            ip: Some(ip),
                            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
                            certificate_ref: Some(format!("https://cert.trustedform.com/{cert}")),
                            at,
                        },
                        at,
                    )
                    .await?
                {
                    sim.report.consents += 1;
                }
                open.push(OpenLead {
                    lead,
                    team,
                    status: LeadStatus::New,
                });
            }
        }
        recent.retain(|r| t - r.4 < Duration::days(90));

        // Agents work leads: each agent moves about one lead per tick.
        for (team, _) in TEAMS.iter().enumerate() {
            let mut budget = agents_on_shift(team, hour, weekday);
            for l in open
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
                        LeadCommand::ChangeStatus { status: next, at },
                        at,
                    )
                    .await?
                {
                    l.status = next;
                }
            }
        }
        open.retain(|l| l.status.is_open());

        // Capacity snapshots, and the capacity gate acting on them.
        let snap_at = t + Duration::minutes(TICK_MINUTES - 1);
        for (team, name) in TEAMS.iter().enumerate() {
            let agents = agents_on_shift(team, hour, weekday);
            let open_leads = open.iter().filter(|l| l.team == team).count() as u32;
            let max_open = agents * 6;
            if sim
                .run(
                    &mut capacity[team],
                    name,
                    CapacityCommand::Record {
                        team: name.to_string(),
                        agents_available: agents,
                        open_leads,
                        max_open_leads: max_open,
                        source: "crm-push".into(),
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
            for (agg_id, agg, snapshot, cteam) in campaigns.iter_mut() {
                if *cteam != team || agg.is_manually_held(snap_at) {
                    continue;
                }
                let change = match snapshot.status {
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
                        agg,
                        agg_id,
                        CampaignCommand::RequestChange {
                            change_id: change_id.clone(),
                            change: change.clone(),
                            reason,
                            decision_ref: Some(rule_id.clone()),
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
                            agg,
                            agg_id,
                            CampaignCommand::MarkApplied {
                                change_id,
                                at: applied_at,
                            },
                            applied_at,
                        )
                        .await?
                {
                    snapshot.status = match change {
                        CampaignChange::Pause => CampaignStatus::Paused,
                        _ => CampaignStatus::Enabled,
                    };
                    sim.report.campaign_changes += 1;
                }
            }
        }

        // Now and then an operator changes a campaign in the Google Ads UI.
        if sim.rng.gen_bool(0.004) {
            let ci = sim.rng.gen_range(0..campaigns.len());
            let (agg_id, agg, snapshot, _) = &mut campaigns[ci];
            let mut after = snapshot.clone();
            // A budget tweak of 20 % up or down, kept within half to twice the campaign's
            // original budget (operators adjust; they do not compound for years).
            let base = CAMPAIGNS
                .iter()
                .find(|c| agg_id.ends_with(&format!("/{}", c.0)))
                .map_or(after.daily_budget_micros, |c| c.3 * 1_000_000);
            after.daily_budget_micros =
                tweak_budget(after.daily_budget_micros, base, sim.rng.gen_bool(0.5));
            let (customer_id, campaign_id) = agg_id.split_once('/').unwrap_or((CUSTOMER, agg_id));
            let at = t + Duration::minutes(7);
            if sim
                .run(
                    agg,
                    agg_id,
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
                *snapshot = after;
                sim.report.manual_changes += 1;
            }
        }
        // One durable append round per simulated day (or sooner when the batch is big).
        if sim.batch.count >= 20_000 || (t + Duration::minutes(TICK_MINUTES)).hour() == 0 {
            sim.flush().await?;
        }

        // Some data subjects ask to be erased.
        if !subjects.is_empty()
            && sim.rng.gen_bool(0.03)
            && sim.written + sim.batch.count < sim.limit
        {
            let i = sim.rng.gen_range(0..subjects.len());
            let subject = subjects.swap_remove(i);
            // Their events must be stored (and their keys exist) before the keys are destroyed.
            sim.flush().await?;
            recent.retain(|r| r.3 != subject);
            let destroyed = engine.store.codec.keys().forget(&subject, None).await?;
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
            sim.flush().await?;
        }
        t += Duration::minutes(TICK_MINUTES);
    }
    sim.flush().await?;
    // Erased subjects' key bytes leave the files once, at the end.
    if sim.report.erasures > 0 {
        engine.store.codec.keys().scrub().await?;
    }
    sim.report.events = sim.written;
    sim.report.to = t.to_rfc3339();
    Ok(sim.report)
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
