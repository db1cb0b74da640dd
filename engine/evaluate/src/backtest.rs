//! `leadorch rules backtest RULE --from T --to T`: the recorded history through one rule
//! version, compared with what actually happened.
//!
//! The log is folded into the facts view event by event (domain time). From `from` on, the
//! rule is evaluated when one of its triggers fires and when its schedule comes due, over the
//! actual facts but with the campaigns' status as the *rule* would have left it (a virtual
//! overlay), resolved with the same arbiter and policy as the daemon. Between two moments,
//! every campaign's virtual and actual status are compared with its team's utilisation:
//!
//! - **spend avoided**: the rule would have had the campaign paused while it actually ran and
//!   its team was full (utilisation ≥ 100 %); the spend is the campaign's recorded hourly cost,
//!   pro rata.
//! - **leads lost**: the rule would have had the campaign paused while it actually ran and the
//!   team had room; the leads that actually arrived from it then would not have come.
//! - **spend added**: the opposite: the rule would have kept running a campaign that was
//!   actually paused *by this rule's recorded decisions*; the spend is the campaign's average
//!   hourly cost, pro rata.
//!
//! Everything else that changed a campaign's status — other rules, manual changes in Google
//! Ads — happens in the backtest as it happened in history: the backtest replaces only the
//! decisions of the rule under test (its recorded changes are recognised by the evaluation
//! that requested them). So a rule that only ever pauses never "adds" spend by failing to
//! resume what another rule or a person paused.
//!
//! Hourly metrics and lead arrivals are read with hindsight (a first pass), which is what an
//! estimate of "what would have happened" needs; the rule itself only ever sees what was known
//! at each moment.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use leadorch_core::projection::decode;
use leadorch_core::Engine;
use leadorch_domain::campaign::{CampaignStatus, HourMetrics};
use leadorch_domain::lead::{LeadArrival, LeadEvent};
use leadorch_domain::{
    split_stream_id, AnyEvent, Campaign, CampaignEvent, EvaluationEvent, AGGREGATE_TYPES,
};
use leadorch_rules::{Action, Policy, Reuse, RuleHost, Schedule};
use leadorch_store::Reveal;
use serde::Serialize;

use crate::facts::{FactsScope, FactsView};
use crate::tick::{self, LoadedRule};
use crate::Result;
use leadorch_config::FactSettings;

/// Events read per page.
const PAGE: u64 = 5_000;

/// One action the rule would have taken.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Campaign id.
    pub campaign: String,
    /// Campaign name (as last recorded; empty when unknown or forgotten).
    pub campaign_name: String,
    /// Action name.
    pub action: String,
    /// The rule's reason.
    pub reason: String,
}

/// Figures per campaign.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CampaignFigures {
    /// Campaign name (as last recorded; empty for the totals, or when unknown or forgotten).
    pub name: String,
    /// Status flips the rule would have made.
    pub flips_backtest: u64,
    /// Status flips that actually happened.
    pub flips_actual: u64,
    /// Minutes the rule would have had it paused.
    pub minutes_paused_backtest: f64,
    /// Minutes it actually was paused.
    pub minutes_paused_actual: f64,
    /// Spend avoided while the team was full, micros.
    pub spend_avoided_micros: i64,
    /// Leads that would have been lost while the team had room.
    pub leads_lost: u64,
    /// Spend the rule would have added: it keeps running what its recorded decisions actually
    /// paused, micros.
    pub spend_added_micros: i64,
    /// Leads actually received from this campaign in the window.
    pub leads_actual: u64,
    /// Spend actually recorded in the window, micros.
    pub spend_actual_micros: i64,
}

/// The backtest's report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BacktestReport {
    /// The rule id.
    pub rule: String,
    /// SHA-256 of its source.
    pub source_digest: String,
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end.
    pub to: DateTime<Utc>,
    /// Evaluations made.
    pub evaluations: u64,
    /// Evaluations in which the rule failed for a campaign or was stopped.
    pub failures: u64,
    /// Events read.
    pub events: u64,
    /// What the rule would have done, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Figures per campaign.
    pub campaigns: BTreeMap<String, CampaignFigures>,
    /// Totals over campaigns.
    pub totals: CampaignFigures,
}

/// Options of a backtest.
#[derive(Clone)]
pub struct BacktestOptions<'a> {
    /// The rule version to run (named bare, as its project's rules are).
    pub rule: Arc<LoadedRule>,
    /// The project whose campaigns and teams the rule sees (ADR 0030).
    pub project: &'a str,
    /// Window.
    pub from: DateTime<Utc>,
    /// Window end.
    pub to: DateTime<Utc>,
    /// What rules see.
    pub facts: &'a FactSettings,
    /// Arbiter policy.
    pub policy: Policy,
    /// Schedule for a rule without one and without triggers.
    pub default_every: Duration,
    /// Only events at or before this position (`--known-at`: what the log held then).
    pub until: Option<u64>,
    /// Replay the rule's result for a campaign while nothing it reads changed (ADR 0050),
    /// as the daemon does; the report is the same either way.
    pub reuse: bool,
}

/// The next page of the log after `cursor`, without the events past `until`.
async fn page_after(
    engine: &Engine,
    cursor: u64,
    until: Option<u64>,
) -> Result<Vec<leadorch_store::RecordedEvent>> {
    let mut page = engine.store.log.read_after(cursor, PAGE).await?;
    if let Some(u) = until {
        page.retain(|r| r.position <= u);
    }
    Ok(page)
}

fn event_time(event: &AnyEvent) -> Option<DateTime<Utc>> {
    Some(match event {
        AnyEvent::Campaign(e) => match e {
            CampaignEvent::CampaignObserved { at, .. }
            | CampaignEvent::ChangedOutsideEngine { at, .. }
            | CampaignEvent::ChangeRequested { at, .. }
            | CampaignEvent::ChangeApplied { at, .. }
            | CampaignEvent::MetricsRecorded { at, .. }
            | CampaignEvent::ChangeFailed { at, .. }
            | CampaignEvent::ChangeSuperseded { at, .. } => *at,
        },
        AnyEvent::Capacity(leadorch_domain::CapacityEvent::CapacityRecorded { at, .. }) => *at,
        AnyEvent::Lead(LeadEvent::LeadReceived(arrival)) => arrival.at,
        _ => return None,
    })
}

/// Hindsight: hourly cost and lead arrivals per campaign.
#[derive(Default)]
struct Hindsight {
    cost: BTreeMap<String, BTreeMap<DateTime<Utc>, HourMetrics>>,
}

impl Hindsight {
    /// Cost of `campaign` per minute at `t`, micros.
    fn cost_per_minute(&self, campaign: &str, t: DateTime<Utc>) -> f64 {
        let hour = DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(3600), 0)
            .unwrap_or(t);
        self.cost
            .get(campaign)
            .and_then(|m| m.get(&hour))
            .map_or(0.0, |h| h.cost_micros as f64 / 60.0)
    }
}

impl Hindsight {
    /// Average cost per minute of `campaign` over the hours with recorded spend, micros.
    fn average_per_minute(&self, campaign: &str) -> f64 {
        let Some(m) = self.cost.get(campaign) else {
            return 0.0;
        };
        let spent: Vec<i64> = m
            .values()
            .map(|h| h.cost_micros)
            .filter(|c| *c > 0)
            .collect();
        if spent.is_empty() {
            return 0.0;
        }
        spent.iter().sum::<i64>() as f64 / spent.len() as f64 / 60.0
    }
}

/// Runs the backtest; `progress` gets each position read.
pub async fn run(
    engine: &Engine,
    host: &RuleHost,
    opts: &BacktestOptions<'_>,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<BacktestReport> {
    let mut decoder = engine.store.codec.decoder(Reveal::Decrypt);
    // Pass 1: hindsight (metrics within the window).
    let mut hind = Hindsight::default();
    let mut cursor = 0;
    loop {
        let page = page_after(engine, cursor, opts.until).await?;
        let Some(last) = page.last() else { break };
        cursor = last.position;
        for rec in &page {
            if rec.event_type != "MetricsRecorded" {
                continue;
            }
            // Metrics whose account was forgotten read as absent: no hindsight for them.
            if let AnyEvent::Campaign(CampaignEvent::MetricsRecorded {
                hour_start,
                metrics: Some(metrics),
                ..
            }) = decode(&mut decoder, rec).await?
            {
                let id = split_stream_id(&rec.stream_id).map_or("", |(_, id)| id);
                hind.cost
                    .entry(id.to_string())
                    .or_default()
                    .insert(hour_start, metrics);
            }
        }
    }
    // Pass 2: fold and evaluate.
    let rule = &opts.rule;
    let meta = &rule.compiled.meta;
    let schedule = match (&meta.schedule, meta.triggers.is_empty()) {
        (Some(s), _) => Some(s.clone()),
        (None, true) => Some(Schedule::Every(opts.default_every)),
        (None, false) => None,
    };
    let mut next_due = schedule
        .as_ref()
        .and_then(|s| s.next_after(opts.from - Duration::seconds(1), &opts.facts.timezone));
    let mut view = FactsView::default();
    let mut virt: BTreeMap<String, (CampaignStatus, BTreeMap<String, DateTime<Utc>>)> =
        BTreeMap::new();
    let mut report = BacktestReport {
        rule: rule.id.clone(),
        source_digest: rule.compiled.source_digest.clone(),
        from: opts.from,
        to: opts.to,
        evaluations: 0,
        failures: 0,
        events: 0,
        timeline: Vec::new(),
        campaigns: BTreeMap::new(),
        totals: CampaignFigures::default(),
    };
    let mut clock = opts.from;
    let mut reuse = opts.reuse.then(Reuse::new);
    let mut started = false;
    let mut cursor = 0;
    let mut actual_status: BTreeMap<String, CampaignStatus> = BTreeMap::new();
    // Change id -> the rule whose decision requested it.
    let mut rule_of_change: BTreeMap<String, String> = BTreeMap::new();
    'read: loop {
        let page = page_after(engine, cursor, opts.until).await?;
        let Some(last) = page.last() else { break };
        cursor = last.position;
        for rec in &page {
            let known =
                split_stream_id(&rec.stream_id).is_some_and(|(t, _)| AGGREGATE_TYPES.contains(&t));
            if !known {
                continue;
            }
            let event = decode(&mut decoder, rec).await?;
            let t = event_time(&event);
            if let Some(t) = t {
                if t > opts.to {
                    break 'read;
                }
                if t >= opts.from {
                    if !started {
                        start_overlay(&view, &mut virt, &mut actual_status, opts.project);
                        started = true;
                    }
                    // Scheduled evaluations due before this event.
                    // Due strictly before this event: what happened at the due time itself is
                    // folded first, as the daemon sees it when it evaluates at that time.
                    while let Some(due) = next_due.filter(|d| *d < t) {
                        account(&view, &virt, &hind, &mut report, clock, due, opts);
                        clock = due;
                        evaluate_at(
                            host,
                            rule,
                            &view,
                            &mut virt,
                            due,
                            opts,
                            &mut report,
                            reuse.as_mut(),
                        );
                        next_due = schedule
                            .as_ref()
                            .and_then(|s| s.next_after(due, &opts.facts.timezone));
                    }
                    account(&view, &virt, &hind, &mut report, clock, t, opts);
                    clock = t;
                }
            }
            report.events += 1;
            let by_this_rule =
                note_change_rule(&event, &mut rule_of_change).is_some_and(|r| *r == rule.id);
            let trigger = view.apply(rec.position, &rec.stream_id, &event);
            if started {
                track_actual(
                    &view,
                    &mut actual_status,
                    &mut report,
                    &mut virt,
                    !by_this_rule,
                    opts.project,
                );
                if let AnyEvent::Lead(LeadEvent::LeadReceived(LeadArrival {
                    customer_id: Some(customer),
                    campaign_id: Some(campaign),
                    ..
                })) = &event
                {
                    let id = Campaign::aggregate_id(customer, campaign);
                    // The project's own leads on its own campaigns (those in the overlay).
                    let lead_project = split_stream_id(&rec.stream_id)
                        .map_or(leadorch_domain::project::DEFAULT, |(_, lead)| {
                            leadorch_domain::project::of(lead)
                        });
                    if lead_project == opts.project && virt.contains_key(&id) {
                        report.campaigns.entry(id).or_default().leads_actual += 1;
                        lead_lost_check(&view, &virt, &mut report, customer, campaign, opts);
                    }
                }
                let fired = trigger
                    .and_then(|k| k.rule_trigger())
                    .is_some_and(|rt| meta.triggers.contains(&rt));
                if fired {
                    evaluate_at(
                        host,
                        rule,
                        &view,
                        &mut virt,
                        clock,
                        opts,
                        &mut report,
                        reuse.as_mut(),
                    );
                }
            }
        }
        progress(cursor);
    }
    if !started {
        start_overlay(&view, &mut virt, &mut actual_status, opts.project);
    }
    while let Some(due) = next_due.filter(|d| *d <= opts.to) {
        account(&view, &virt, &hind, &mut report, clock, due, opts);
        clock = due;
        evaluate_at(
            host,
            rule,
            &view,
            &mut virt,
            due,
            opts,
            &mut report,
            reuse.as_mut(),
        );
        next_due = schedule
            .as_ref()
            .and_then(|s| s.next_after(due, &opts.facts.timezone));
    }
    account(&view, &virt, &hind, &mut report, clock, opts.to, opts);
    for (id, f) in report.campaigns.iter_mut() {
        f.spend_actual_micros = hind
            .cost
            .get(id)
            .map(|m| {
                m.range(opts.from..opts.to)
                    .map(|(_, h)| h.cost_micros)
                    .sum()
            })
            .unwrap_or(0);
    }
    let mut totals = CampaignFigures::default();
    for f in report.campaigns.values() {
        totals.flips_backtest += f.flips_backtest;
        totals.flips_actual += f.flips_actual;
        totals.minutes_paused_backtest += f.minutes_paused_backtest;
        totals.minutes_paused_actual += f.minutes_paused_actual;
        totals.spend_avoided_micros += f.spend_avoided_micros;
        totals.leads_lost += f.leads_lost;
        totals.spend_added_micros += f.spend_added_micros;
        totals.leads_actual += f.leads_actual;
        totals.spend_actual_micros += f.spend_actual_micros;
    }
    report.totals = totals;
    let name_of = |id: &str| {
        view.campaigns
            .get(id)
            .and_then(|c| c.state.snapshot())
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    for (id, f) in report.campaigns.iter_mut() {
        f.name = name_of(id);
    }
    for t in report.timeline.iter_mut() {
        t.campaign_name = name_of(&t.campaign);
    }
    Ok(report)
}

/// Notes which rule requested a change (from evaluations, and from the seed's changes whose
/// decision reference is the rule itself); for a status change applied, returns the rule that
/// requested it (`None`: not requested by a rule, or not a change applied).
fn note_change_rule<'a>(
    event: &AnyEvent,
    rule_of_change: &'a mut BTreeMap<String, String>,
) -> Option<&'a String> {
    match event {
        AnyEvent::Evaluation(EvaluationEvent::EvaluationRecorded(r)) => {
            for c in &r.changes {
                rule_of_change.insert(c.change_id.clone(), c.rule_id.clone());
            }
            None
        }
        AnyEvent::Campaign(CampaignEvent::ChangeRequested {
            change_id,
            decision_ref: Some(d),
            ..
        }) if !d.starts_with("evaluation:") => {
            rule_of_change
                .entry(change_id.clone())
                .or_insert_with(|| d.clone());
            None
        }
        AnyEvent::Campaign(CampaignEvent::ChangeApplied { change_id, .. }) => {
            rule_of_change.get(change_id)
        }
        _ => None,
    }
}

type Overlay = BTreeMap<String, (CampaignStatus, BTreeMap<String, DateTime<Utc>>)>;

fn start_overlay(
    view: &FactsView,
    virt: &mut Overlay,
    actual: &mut BTreeMap<String, CampaignStatus>,
    project: &str,
) {
    for (id, c) in view
        .campaigns
        .iter()
        .filter(|(_, c)| c.project() == project)
    {
        if let Some(s) = c.state.snapshot() {
            virt.insert(id.clone(), (s.status, BTreeMap::new()));
            actual.insert(id.clone(), s.status);
        }
    }
}

/// Counts actual status flips and adds campaigns first seen after the window opened. A flip
/// not made by the rule under test (`others`: another rule, a person) happens in the backtest
/// too.
fn track_actual(
    view: &FactsView,
    actual: &mut BTreeMap<String, CampaignStatus>,
    report: &mut BacktestReport,
    virt: &mut Overlay,
    others: bool,
    project: &str,
) {
    for (id, c) in view
        .campaigns
        .iter()
        .filter(|(_, c)| c.project() == project)
    {
        let Some(s) = c.state.snapshot() else {
            continue;
        };
        match actual.get(id) {
            Some(prev) if *prev != s.status => {
                report.campaigns.entry(id.clone()).or_default().flips_actual += 1;
                actual.insert(id.clone(), s.status);
                if others {
                    if let Some((v, _)) = virt.get_mut(id) {
                        *v = s.status;
                    }
                }
            }
            Some(_) => {}
            None => {
                actual.insert(id.clone(), s.status);
                virt.insert(id.clone(), (s.status, BTreeMap::new()));
            }
        }
    }
}

fn utilisation(view: &FactsView, campaign: &str, opts: &BacktestOptions<'_>) -> Option<f64> {
    let c = view.campaigns.get(campaign)?;
    let labels = c
        .state
        .snapshot()
        .map(|s| s.labels.clone())
        .unwrap_or_default();
    let team = crate::facts::team_of(&labels, campaign, opts.facts)?;
    let t = view
        .teams
        .get(&leadorch_domain::project::scoped(opts.project, &team))?;
    // The same utilisation rules see.
    let facts = leadorch_rules::TeamFacts {
        team,
        agents_available: t.capacity.agents_available(),
        open_leads: t.capacity.open_leads(),
        max_open_leads: t.capacity.max_open_leads(),
        updated_at: None,
        leads_window: 0,
        max_age_secs: None,
    };
    Some(facts.utilisation())
}

/// Adds the interval `(from, to]` to the figures.
fn account(
    view: &FactsView,
    virt: &Overlay,
    hind: &Hindsight,
    report: &mut BacktestReport,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    opts: &BacktestOptions<'_>,
) {
    if to <= from {
        return;
    }
    let minutes = (to - from).num_seconds() as f64 / 60.0;
    for (id, (v, _)) in virt {
        let Some(actual) = view
            .campaigns
            .get(id)
            .and_then(|c| c.state.snapshot())
            .map(|s| s.status)
        else {
            continue;
        };
        let f = report.campaigns.entry(id.clone()).or_default();
        if *v == CampaignStatus::Paused {
            f.minutes_paused_backtest += minutes;
        }
        if actual == CampaignStatus::Paused {
            f.minutes_paused_actual += minutes;
        }
        let full = utilisation(view, id, opts).is_some_and(|u| u >= 1.0);
        let cost = hind.cost_per_minute(id, from) * minutes;
        if *v == CampaignStatus::Paused && actual == CampaignStatus::Enabled && full {
            f.spend_avoided_micros += cost.round() as i64;
        }
        if *v == CampaignStatus::Enabled && actual == CampaignStatus::Paused {
            // A paused campaign records no cost; estimate with its average rate over the
            // hours it did spend.
            f.spend_added_micros += (hind.average_per_minute(id) * minutes).round() as i64;
        }
    }
}

fn lead_lost_check(
    view: &FactsView,
    virt: &Overlay,
    report: &mut BacktestReport,
    customer: &str,
    campaign: &str,
    opts: &BacktestOptions<'_>,
) {
    let id = Campaign::aggregate_id(customer, campaign);
    let Some((v, _)) = virt.get(&id) else { return };
    let room = utilisation(view, &id, opts).is_some_and(|u| u < 1.0);
    if *v == CampaignStatus::Paused && room {
        report.campaigns.entry(id).or_default().leads_lost += 1;
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate_at(
    host: &RuleHost,
    rule: &Arc<LoadedRule>,
    view: &FactsView,
    virt: &mut Overlay,
    at: DateTime<Utc>,
    opts: &BacktestOptions<'_>,
    report: &mut BacktestReport,
    reuse: Option<&mut Reuse>,
) {
    let mut facts = view.facts_in(at, opts.facts, &FactsScope::project(opts.project));
    for c in &mut facts.campaigns {
        if let Some((status, changed)) = virt.get(&c.id) {
            c.status = *status;
            c.last_change_at = changed.clone();
            c.pending_fields.clear();
            c.pending_changes.clear();
        }
    }
    let rules = std::slice::from_ref(rule);
    let outcome = match reuse {
        Some(reuse) => tick::evaluate_reusing(host, rules, facts, &opts.policy, reuse),
        None => tick::evaluate(host, rules, facts, &opts.policy),
    };
    report.evaluations += 1;
    if outcome
        .runs
        .iter()
        .any(|(_, r)| r.aborted.is_some() || !r.failures.is_empty())
    {
        report.failures += 1;
    }
    for p in &outcome.resolution.accepted {
        let Some(field) = p.decision.action.field() else {
            continue;
        };
        let entry = virt
            .entry(p.campaign.clone())
            .or_insert((CampaignStatus::Enabled, BTreeMap::new()));
        match p.decision.action {
            Action::Pause if entry.0 != CampaignStatus::Paused => {
                entry.0 = CampaignStatus::Paused;
                report
                    .campaigns
                    .entry(p.campaign.clone())
                    .or_default()
                    .flips_backtest += 1;
            }
            Action::Resume if entry.0 != CampaignStatus::Enabled => {
                entry.0 = CampaignStatus::Enabled;
                report
                    .campaigns
                    .entry(p.campaign.clone())
                    .or_default()
                    .flips_backtest += 1;
            }
            _ => {}
        }
        entry.1.insert(field.to_string(), at);
        report.timeline.push(TimelineEntry {
            at,
            campaign: p.campaign.clone(),
            campaign_name: String::new(),
            action: p.decision.action.name().to_string(),
            reason: p.decision.reason.clone(),
        });
    }
}
