//! The facts view: what rules see, folded from the log.
//!
//! Campaigns are folded with the `Campaign` aggregate's own `apply` (so the view agrees with
//! what a command would decide on), plus what rules need beyond it: hourly metrics, lead
//! arrivals per campaign and team, and when the engine last changed each field. Capacity per
//! team, teams' definitions and the rules themselves (enabled or not, current version) come
//! from their aggregates. [`FactsView::facts_in`] turns the view into one project's [`Facts`] at
//! a given time.
//!
//! Projects (ADR 0030): teams and their definitions are stored as `<project>/<team>` outside
//! the `default` project; a campaign belongs to the project of the Google account it was last
//! read through ([`CampaignEntry::project`]). Rules see one project's campaigns and teams,
//! with the teams' names bare, so a rule written for `sales-nl` works in every project.
//!
//! A team's definition (`Team` events) is the source of its calendar and its maximum of open
//! leads; the configuration is the fallback for a team whose events do not say:
//!
//! - **Calendar**: a team with business hours gets the calendar named after it (`now.open`),
//!   in its own time zone, with its holidays, in place of a configured calendar of that name.
//!   A team without hours keeps the configured one, if any.
//! - **Maximum of open leads**: a team's own maximum, else the sum of its members', replaces
//!   the maximum of its capacity readings. It applies to teams with a reading only: open
//!   leads and agents come from readings, and a team without one stays as before (unknown to
//!   rules, or full when only leads are known).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::Aggregate;
use leadorch_domain::campaign::{CampaignChange, ChangeRecord, HourMetrics};
use leadorch_domain::lead::{LeadArrival, LeadEvent};
use leadorch_domain::{
    project, split_stream_id, AnyEvent, Campaign, CampaignEvent, CapacityEvent, CapacitySnapshot,
    Rule, Team,
};
use leadorch_rules::{Calendar, CampaignFacts, Facts, Metrics, TeamFacts};
use serde::{Deserialize, Serialize};

use leadorch_config::FactSettings;
use leadorch_core::time_travel::AsOf;

/// How far back lead arrivals and metrics are kept (a local day plus the longest window).
const KEEP: Duration = Duration::hours(50);

/// What woke an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A capacity reading was recorded.
    CapacityChanged,
    /// A lead arrived.
    LeadReceived,
    /// Campaign metrics were recorded.
    MetricsRefreshed,
    /// A rule's schedule came due.
    Schedule,
}

impl TriggerKind {
    /// The name used in evaluation records and rule headers.
    pub fn name(self) -> &'static str {
        match self {
            TriggerKind::CapacityChanged => "capacity_changed",
            TriggerKind::LeadReceived => "lead_received",
            TriggerKind::MetricsRefreshed => "metrics_refreshed",
            TriggerKind::Schedule => "schedule",
        }
    }

    /// The rule-header trigger this corresponds to (none for schedules).
    pub fn rule_trigger(self) -> Option<leadorch_rules::Trigger> {
        match self {
            TriggerKind::CapacityChanged => Some(leadorch_rules::Trigger::CapacityChanged),
            TriggerKind::LeadReceived => Some(leadorch_rules::Trigger::LeadReceived),
            TriggerKind::MetricsRefreshed => Some(leadorch_rules::Trigger::MetricsRefreshed),
            TriggerKind::Schedule => None,
        }
    }
}

/// One campaign as the view knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignEntry {
    /// The aggregate, folded with its own `apply`.
    pub state: Campaign,
    /// Hourly metrics by hour start.
    pub metrics: BTreeMap<DateTime<Utc>, HourMetrics>,
    /// Lead arrival times, oldest first, by the project of the lead: a campaign counts the
    /// arrivals of its own project's leads only (see [`CampaignEntry::project`]).
    pub leads: BTreeMap<String, VecDeque<DateTime<Utc>>>,
    /// When the engine last requested a change of each field, of the changes that did not
    /// fail for good: a change Google refused starts no cooldown (ADR 0031).
    pub last_change_at: BTreeMap<String, DateTime<Utc>>,
    /// Per field, the latest request time among its changes that can no longer fail for
    /// good (applied ones), and the open ones by change id; `last_change_at` is the later.
    pub changes_by_field: BTreeMap<String, FieldChanges>,
    /// Per field, the last change of it that failed for good, and when.
    pub refused: BTreeMap<String, leadorch_rules::RefusedChange>,
    /// The Google account it was last read through (`None`: not from Google).
    pub google_account: Option<String>,
}

/// The changes of one campaign field that count for its cooldown (see
/// [`CampaignEntry::last_change_at`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldChanges {
    /// The latest request time of an applied change of the field.
    pub settled: Option<DateTime<Utc>>,
    /// Changes requested and not finished yet (open, or failed in a retryable way), by id,
    /// with their request times.
    pub open: BTreeMap<String, DateTime<Utc>>,
}

impl FieldChanges {
    /// When the cooldown of the field counts from: the latest request time among the
    /// applied and open changes.
    pub fn last(&self) -> Option<DateTime<Utc>> {
        self.open.values().copied().max().max(self.settled)
    }
}

impl CampaignEntry {
    /// Folds a change's request, application or final failure into `last_change_at` and
    /// `refused`. A change that fails for good no longer counts: the field's cooldown counts
    /// from the latest of its other changes, or from none.
    fn track_change(&mut self, event: &CampaignEvent) {
        let field = match event {
            CampaignEvent::ChangeRequested {
                change_id,
                change,
                at,
                ..
            } => {
                let field = change.field();
                self.changes_by_field
                    .entry(field.to_string())
                    .or_default()
                    .open
                    .insert(change_id.clone(), *at);
                field
            }
            CampaignEvent::ChangeApplied { change_id, .. } => {
                let Some(record) = self.state.change(change_id) else {
                    return;
                };
                let field = record.change.field();
                let entry = self.changes_by_field.entry(field.to_string()).or_default();
                if let Some(requested) = entry.open.remove(change_id) {
                    entry.settled = entry.settled.max(Some(requested));
                }
                field
            }
            CampaignEvent::ChangeFailed {
                change_id,
                retryable: false,
                quota_until,
                at,
                ..
            } => {
                let Some(record) = self.state.change(change_id) else {
                    return;
                };
                let field = record.change.field();
                if let Some(entry) = self.changes_by_field.get_mut(field) {
                    entry.open.remove(change_id);
                }
                if quota_until.is_some() {
                    // Google's daily quota refused the call, not the change: decided again
                    // after the reset without being held back as a refusal.
                    return self.settle_field(field);
                }
                self.refused.insert(
                    field.to_string(),
                    leadorch_rules::RefusedChange {
                        change: record.change.clone(),
                        at: *at,
                    },
                );
                field
            }
            // Replaced before it was applied: it never took effect, so it starts no dwell or
            // cooldown (the change that replaced it does, once it is applied).
            CampaignEvent::ChangeSuperseded { change_id, .. } => {
                let Some(record) = self.state.change(change_id) else {
                    return;
                };
                let field = record.change.field();
                if let Some(entry) = self.changes_by_field.get_mut(field) {
                    entry.open.remove(change_id);
                }
                field
            }
            _ => return,
        };
        self.settle_field(field);
    }

    /// `last_change_at` of `field` from its changes that count.
    fn settle_field(&mut self, field: &str) {
        match self
            .changes_by_field
            .get(field)
            .and_then(FieldChanges::last)
        {
            Some(last) => self.last_change_at.insert(field.to_string(), last),
            None => self.last_change_at.remove(field),
        };
    }

    /// The project the campaign belongs to: that of the Google account it was last read
    /// through (`acme/ops` → `acme`), else `default` (bare accounts, the simulator).
    pub fn project(&self) -> &str {
        self.google_account
            .as_deref()
            .map_or(project::DEFAULT, project::of)
    }

    /// Lead arrival times of its own project's leads, oldest first.
    pub fn arrivals(&self) -> Option<&VecDeque<DateTime<Utc>>> {
        self.leads.get(self.project())
    }
}

/// Aggregates whose personal fields no fact reads: a lead's arrival counts by its team,
/// campaign and time, none of them sealed.
const SEALED_UNREAD: [&str; 4] = ["lead", "consent", "data_subject", "evaluation"];

/// Decodes `rec` for the facts: Google's data (campaign streams) opened by `decoder`, which
/// decrypts; the events of [`SEALED_UNREAD`] with their personal fields left sealed (read as
/// absent), without a data-key lookup for every lead of the log.
pub(crate) async fn decode_for_facts(
    decoder: &mut leadorch_store::codec::Decoder<'_>,
    rec: &leadorch_store::RecordedEvent,
) -> crate::Result<AnyEvent> {
    let unread = split_stream_id(&rec.stream_id).is_some_and(|(t, _)| SEALED_UNREAD.contains(&t));
    if unread {
        if let Some(event) = leadorch_core::projection::decode_current(rec) {
            return Ok(event);
        }
    }
    Ok(leadorch_core::projection::decode(decoder, rec).await?)
}

/// Which part of the view one set of facts covers: a project's campaigns and teams, and of
/// the campaigns, optionally only those read through one Google account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FactsScope<'a> {
    /// The project (`default` keeps bare ids).
    pub project: &'a str,
    /// `Some(account)`: only the campaigns read through that account (`Some(None)`: those
    /// not read from Google); `None`: every campaign of the project.
    pub account: Option<Option<&'a str>>,
}

impl<'a> FactsScope<'a> {
    /// Every campaign and team of `project`.
    pub fn project(project: &'a str) -> Self {
        FactsScope {
            project,
            account: None,
        }
    }

    /// What a daemon of `project` acting through `account` evaluates: the project's teams,
    /// and the campaigns read through that account (`None`: those not from Google). Its
    /// rules' output, sealed with that account's key, then never quotes another account's
    /// campaigns, which forgetting that other account could not shred.
    pub fn account(project: &'a str, account: Option<&'a str>) -> Self {
        FactsScope {
            project,
            account: Some(account),
        }
    }

    /// Whether the scope holds `campaign`.
    pub fn holds(&self, campaign: &CampaignEntry) -> bool {
        campaign.project() == self.project
            && self
                .account
                .is_none_or(|a| campaign.google_account.as_deref() == a)
    }
}

/// One team as the view knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamEntry {
    /// The latest capacity reading.
    pub capacity: CapacitySnapshot,
    /// Lead arrival times, oldest first.
    pub leads: VecDeque<DateTime<Utc>>,
}

/// A rule as the view knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleEntry {
    /// The aggregate.
    pub state: Rule,
}

/// The facts view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FactsView {
    /// Campaigns by aggregate id (`<customer>/<campaign>`).
    pub campaigns: BTreeMap<String, CampaignEntry>,
    /// Teams by name.
    pub teams: BTreeMap<String, TeamEntry>,
    /// Rules by id.
    pub rules: BTreeMap<String, RuleEntry>,
    /// Teams' definitions by name (their `Team` events; members' names are not in them).
    pub definitions: BTreeMap<String, Team>,
    /// What the log holds of the engine's work, counted as folded (for `/metrics`).
    pub counts: LogCounts,
    /// Last position folded in.
    pub position: u64,
}

/// Counts of the engine's work in the log, folded with the view: the same in every process
/// that reads the log, whichever process did the work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCounts {
    /// Rule evaluations recorded.
    pub evaluations: u64,
    /// Campaign changes requested (by rules or operators).
    pub changes_requested: u64,
    /// Changes the ads platform applied.
    pub changes_applied: u64,
    /// Changes that failed.
    pub changes_failed: u64,
}

impl FactsView {
    /// Folds one decoded event in; returns what it should wake, if anything.
    pub fn apply(
        &mut self,
        position: u64,
        stream_id: &str,
        event: &AnyEvent,
    ) -> Option<TriggerKind> {
        self.position = position;
        let id = split_stream_id(stream_id).map_or(stream_id, |(_, id)| id);
        match event {
            AnyEvent::Campaign(e) => {
                let entry = self.campaigns.entry(id.to_string()).or_default();
                let trigger = match e {
                    CampaignEvent::MetricsRecorded {
                        hour_start,
                        metrics,
                        at,
                        ..
                    } => {
                        // Absent once the account it was read through is forgotten.
                        match metrics {
                            Some(m) => entry.metrics.insert(*hour_start, m.clone()),
                            None => entry.metrics.remove(hour_start),
                        };
                        prune_map(&mut entry.metrics, *at);
                        Some(TriggerKind::MetricsRefreshed)
                    }
                    CampaignEvent::ChangeRequested { .. } => {
                        self.counts.changes_requested += 1;
                        None
                    }
                    CampaignEvent::ChangeApplied { .. } => {
                        self.counts.changes_applied += 1;
                        None
                    }
                    CampaignEvent::ChangeFailed { .. } => {
                        self.counts.changes_failed += 1;
                        None
                    }
                    CampaignEvent::CampaignObserved { google_account, .. } => {
                        entry.google_account.clone_from(google_account);
                        None
                    }
                    _ => None,
                };
                entry.state.apply(e.clone());
                // After the aggregate: a failure or application names its change by id.
                entry.track_change(e);
                trigger
            }
            AnyEvent::Capacity(e) => {
                let entry = self.teams.entry(id.to_string()).or_default();
                // A polled source's heartbeat (the same figures again, so the reading does not
                // go stale) changes nothing a rule sees, unless the team was stale until now.
                let CapacityEvent::CapacityRecorded {
                    agents_available,
                    open_leads,
                    max_open_leads,
                    at,
                    ..
                } = e;
                let heartbeat = entry.capacity.max_age_secs().is_some()
                    && entry
                        .capacity
                        .same_figures(*agents_available, *open_leads, *max_open_leads)
                    && !entry.capacity.is_stale(*at);
                entry.capacity.apply(e.clone());
                (!heartbeat).then_some(TriggerKind::CapacityChanged)
            }
            AnyEvent::Lead(LeadEvent::LeadReceived(LeadArrival {
                team,
                campaign_id,
                customer_id,
                at,
                ..
            })) => {
                let team_entry = self.teams.entry(team.clone()).or_default();
                push_time(&mut team_entry.leads, *at);
                // Kept by the lead's project (`lead:<project>/<id>`): a campaign counts only
                // its own project's leads, whichever project names it.
                if let (Some(customer), Some(campaign)) = (customer_id, campaign_id) {
                    let key = Campaign::aggregate_id(customer, campaign);
                    let entry = self.campaigns.entry(key).or_default();
                    let lead_project = project::of(id);
                    match entry.leads.get_mut(lead_project) {
                        Some(times) => push_time(times, *at),
                        None => {
                            let mut times = VecDeque::new();
                            push_time(&mut times, *at);
                            entry.leads.insert(lead_project.to_string(), times);
                        }
                    }
                }
                Some(TriggerKind::LeadReceived)
            }
            AnyEvent::Evaluation(_) => {
                self.counts.evaluations += 1;
                None
            }
            AnyEvent::Rule(e) => {
                let entry = self.rules.entry(id.to_string()).or_default();
                entry.state.apply(e.clone());
                // A rule edit is not a trigger: it takes effect at the next evaluation.
                None
            }
            AnyEvent::Team(e) => {
                let entry = self.definitions.entry(id.to_string()).or_default();
                entry.apply(e.clone());
                // Like a rule edit, a team's new definition takes effect at the next
                // evaluation; capacity changes are recorded as readings, which trigger.
                None
            }
            _ => None,
        }
    }

    /// The view of the whole log (for one-off reads: dry runs, explain), with Google data
    /// decrypted (rules need it; what a forgotten account's key sealed reads as absent):
    /// the kept view and the events after it ([`crate::kept::load_or_fold`]).
    pub async fn load(engine: &leadorch_core::Engine) -> crate::Result<FactsView> {
        // From the kept view when there is a usable one (ADR 0048).
        Ok(crate::kept::load_or_fold(engine).await?.0)
    }

    /// The view of the events `as_of` includes (up to its position, and only those that
    /// happened by its event time: no later state mixed in), with Google data decrypted, and
    /// the latest event time among them (`None`: no event).
    pub async fn load_as_of(
        engine: &leadorch_core::Engine,
        as_of: &AsOf,
    ) -> crate::Result<(FactsView, Option<DateTime<Utc>>)> {
        let mut view = FactsView::default();
        let mut latest: Option<DateTime<Utc>> = None;
        let mut decoder = engine.store.codec.decoder(leadorch_store::Reveal::Decrypt);
        let mut cursor = 0;
        loop {
            let page = engine.store.log.read_after(cursor, 5_000).await?;
            let Some(last) = page.last().map(|r| r.position) else {
                break;
            };
            for rec in page.iter().filter(|r| as_of.holds_position(r.position)) {
                let known = split_stream_id(&rec.stream_id)
                    .is_some_and(|(t, _)| leadorch_domain::AGGREGATE_TYPES.contains(&t));
                if !known {
                    continue;
                }
                let event = decode_for_facts(&mut decoder, rec).await?;
                let at = event.at();
                if !as_of.happened(at) {
                    continue;
                }
                latest = latest.max(Some(at));
                view.apply(rec.position, &rec.stream_id, &event);
            }
            if !as_of.holds_position(last) {
                break;
            }
            cursor = last;
        }
        Ok((view, latest))
    }

    /// Folds a page of stored events (those at or before the view's position are skipped;
    /// streams outside the domain only advance the position). Returns what each event
    /// should wake, with its position.
    pub async fn fold_page(
        &mut self,
        decoder: &mut leadorch_store::codec::Decoder<'_>,
        page: &[leadorch_store::RecordedEvent],
    ) -> crate::Result<Vec<(u64, TriggerKind)>> {
        let mut triggers = Vec::new();
        for rec in page {
            if rec.position <= self.position {
                continue;
            }
            let known = split_stream_id(&rec.stream_id)
                .is_some_and(|(t, _)| leadorch_domain::AGGREGATE_TYPES.contains(&t));
            if !known {
                self.position = rec.position;
                continue;
            }
            // A decrypting decoder opens the Google data rules need.
            let event = decode_for_facts(decoder, rec).await?;
            if let Some(t) = self.apply(rec.position, &rec.stream_id, &event) {
                triggers.push((rec.position, t));
            }
        }
        Ok(triggers)
    }

    /// Changes the engine requested that are not applied yet, oldest first:
    /// `(campaign id, change id, record)`.
    pub fn pending_changes(&self) -> Vec<(String, String, ChangeRecord)> {
        self.pending_changes_of(|_| true)
    }

    /// [`FactsView::pending_changes`] of the campaigns read through `google_account` (`None`:
    /// those not read from Google): what an executor acting through that account applies.
    pub fn pending_changes_via(
        &self,
        google_account: Option<&str>,
    ) -> Vec<(String, String, ChangeRecord)> {
        self.pending_changes_of(|c| c.google_account.as_deref() == google_account)
    }

    fn pending_changes_of(
        &self,
        keep: impl Fn(&CampaignEntry) -> bool,
    ) -> Vec<(String, String, ChangeRecord)> {
        let mut out: Vec<(String, String, ChangeRecord)> = self
            .campaigns
            .iter()
            .filter(|(_, c)| keep(c))
            .flat_map(|(cid, c)| {
                c.state
                    .pending_changes()
                    .map(move |(id, r)| (cid.clone(), id.to_string(), r.clone()))
            })
            .collect();
        out.sort_by(|a, b| (a.2.requested_at, &a.1).cmp(&(b.2.requested_at, &b.1)));
        out
    }

    /// The facts at `at` of what `scope` covers: its project's observed, not removed
    /// campaigns (read through its account, when it names one) and its project's teams and
    /// calendars, with the teams' names bare.
    pub fn facts_in(
        &self,
        at: DateTime<Utc>,
        settings: &FactSettings,
        scope: &FactsScope<'_>,
    ) -> Facts {
        let tz: chrono_tz::Tz = settings.timezone.parse().unwrap_or(chrono_tz::UTC);
        let local = at.with_timezone(&tz);
        let midnight = tz
            .from_local_datetime(&local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(at - Duration::hours(24), |t| t.with_timezone(&Utc));
        let window_start = at - Duration::minutes(i64::from(settings.window_minutes));
        let mut teams = BTreeMap::new();
        // The project's teams only, named bare (stored as `<project>/<team>`).
        for (stored, t) in &self.teams {
            let Some(name) = project::unscoped(scope.project, stored) else {
                continue;
            };
            // The definition's maximum replaces the reading's, for a team with a reading.
            let defined_max = t
                .capacity
                .recorded_at()
                .and(self.definitions.get(stored))
                .and_then(Team::max_open_leads);
            teams.insert(
                name.to_string(),
                TeamFacts {
                    team: name.to_string(),
                    agents_available: t.capacity.agents_available(),
                    open_leads: t.capacity.open_leads(),
                    max_open_leads: defined_max.unwrap_or(t.capacity.max_open_leads()),
                    updated_at: t.capacity.recorded_at(),
                    leads_window: count_between(&t.leads, window_start, at),
                    max_age_secs: t
                        .capacity
                        .max_age_secs()
                        .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                },
            );
        }
        let mut campaigns = Vec::new();
        for (id, c) in self.campaigns.iter().filter(|(_, c)| scope.holds(c)) {
            let Some(snapshot) = c.state.snapshot() else {
                continue;
            };
            let team = team_of(&snapshot.labels, id, settings);
            let mut pending: Vec<_> = c.state.pending_changes().collect();
            // The latest of each field last (the executor's order).
            pending.sort_by(|a, b| (a.1.requested_at, a.0).cmp(&(b.1.requested_at, b.0)));
            let pending_changes: BTreeMap<String, CampaignChange> = pending
                .iter()
                .map(|(_, r)| (r.change.field().to_string(), r.change.clone()))
                .collect();
            let pending_fields: Vec<String> = pending_changes.keys().cloned().collect();
            campaigns.push(CampaignFacts {
                id: id.clone(),
                customer_id: c.state.customer_id().unwrap_or_default().to_string(),
                campaign_id: c.state.campaign_id().unwrap_or_default().to_string(),
                name: snapshot.name.clone(),
                labels: snapshot.labels.clone(),
                team,
                status: snapshot.status,
                daily_budget_micros: snapshot.daily_budget_micros,
                bidding: snapshot.bidding.clone(),
                ad_schedule: snapshot.ad_schedule.clone(),
                manual_override_until: c.state.manual_override_until().filter(|u| *u > at),
                last_change_at: c.last_change_at.clone(),
                pending_fields,
                pending_changes,
                metrics_today: sum_metrics(&c.metrics, midnight, at),
                metrics_window: sum_metrics(&c.metrics, window_start, at),
                leads_today: c.arrivals().map_or(0, |l| count_between(l, midnight, at)),
                leads_window: c
                    .arrivals()
                    .map_or(0, |l| count_between(l, window_start, at)),
                currency: snapshot.currency.clone(),
                refused: c.refused.clone(),
            });
        }
        Facts {
            at,
            timezone: settings.timezone.clone(),
            calendars: self.calendars(settings, scope.project),
            window_minutes: settings.window_minutes,
            teams,
            campaigns,
        }
    }
}

impl FactsView {
    /// The calendars `project`'s rules see: the configured ones, with each of the project's
    /// teams that has business hours in its events giving the calendar of its (bare) name
    /// instead ([`team_calendar`]).
    pub fn calendars(&self, settings: &FactSettings, project: &str) -> BTreeMap<String, Calendar> {
        let mut calendars = settings.calendars.clone();
        for (stored, team) in &self.definitions {
            let Some(name) = project::unscoped(project, stored) else {
                continue;
            };
            if let Some(calendar) = team_calendar(team) {
                calendars.insert(name.to_string(), calendar);
            }
        }
        calendars
    }
}

/// What of a team only the configuration file says, its `Team` events not: see
/// [`FactsView::config_only_teams`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigOnlyTeam {
    /// The team.
    pub team: String,
    /// Campaigns reach it through `facts.campaign_teams` or `facts.default_team`, and no
    /// `Team` events define it.
    pub mapping: bool,
    /// Its calendar is the configured one of its name: its events give it no hours (or there
    /// are none).
    pub calendar: bool,
}

impl FactsView {
    /// The teams the configuration names ([`configured_teams`]) for which the configuration
    /// file is the only source: those no `Team` events define, and those whose calendar is
    /// the configured one of their name because their events give them no hours (the
    /// fallback [`FactsView::calendars`] takes). What `leadorch teams import-config` moves
    /// over. By name.
    pub fn config_only_teams(&self, settings: &FactSettings) -> Vec<ConfigOnlyTeam> {
        configured_teams(settings)
            .into_iter()
            .filter_map(|name| {
                let definition = self.definitions.get(name).filter(|t| t.is_defined());
                let mapping = definition.is_none();
                let calendar = settings.calendars.contains_key(name)
                    && definition.and_then(team_calendar).is_none();
                (mapping || calendar).then(|| ConfigOnlyTeam {
                    team: name.to_string(),
                    mapping,
                    calendar,
                })
            })
            .collect()
    }
}

/// The teams the configuration names: every team `facts.campaign_teams` maps a campaign to,
/// and `facts.default_team`. A configured calendar of another name (such as `default`) names
/// no team.
pub fn configured_teams(settings: &FactSettings) -> BTreeSet<&str> {
    let mut names: BTreeSet<&str> = settings
        .campaign_teams
        .values()
        .map(String::as_str)
        .collect();
    names.extend(settings.default_team.as_deref());
    names
}

/// A team's calendar from its definition: its hours in its time zone, with its holidays;
/// `None` for a team without hours (the configuration's calendar of its name, if any,
/// applies then).
pub fn team_calendar(team: &Team) -> Option<Calendar> {
    let hours = team.hours()?;
    Some(Calendar {
        weekly: hours
            .days()
            .map(|(day, intervals)| {
                (
                    day.as_str().to_string(),
                    intervals.iter().map(|i| i.to_pair()).collect(),
                )
            })
            .collect(),
        holidays: team.holidays().to_vec(),
        timezone: team.time_zone().map(str::to_string),
    })
}

/// The team of a campaign: a `team:<name>` label, else the configured mapping.
pub fn team_of(labels: &[String], id: &str, settings: &FactSettings) -> Option<String> {
    labels
        .iter()
        .find_map(|l| l.strip_prefix("team:").map(str::to_string))
        .or_else(|| settings.campaign_teams.get(id).cloned())
        .or_else(|| settings.default_team.clone())
}

fn push_time(times: &mut VecDeque<DateTime<Utc>>, at: DateTime<Utc>) {
    times.push_back(at);
    while times.front().is_some_and(|t| *t < at - KEEP) {
        times.pop_front();
    }
}

fn prune_map(map: &mut BTreeMap<DateTime<Utc>, HourMetrics>, at: DateTime<Utc>) {
    while map.first_key_value().is_some_and(|(t, _)| *t < at - KEEP) {
        map.pop_first();
    }
}

fn count_between(times: &VecDeque<DateTime<Utc>>, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    times.iter().filter(|t| **t > from && **t <= to).count() as u64
}

/// Metrics of the hours overlapping `(from, to]`, each hour weighted by its overlap (an hour
/// is reported once complete, so partial hours count pro rata).
fn sum_metrics(
    map: &BTreeMap<DateTime<Utc>, HourMetrics>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Metrics {
    let mut m = Metrics::default();
    let mut cost = 0.0f64;
    let mut impressions = 0.0f64;
    let mut clicks = 0.0f64;
    for (start, h) in map.range(from - Duration::hours(1)..=to) {
        let end = *start + Duration::hours(1);
        let overlap = (end.min(to) - (*start).max(from)).num_seconds();
        if overlap <= 0 {
            continue;
        }
        let share = overlap as f64 / 3600.0;
        impressions += h.impressions as f64 * share;
        clicks += h.clicks as f64 * share;
        cost += h.cost_micros as f64 * share;
        m.conversions += h.conversions * share;
    }
    m.impressions = impressions.round() as u64;
    m.clicks = clicks.round() as u64;
    m.cost_micros = cost.round() as i64;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadorch_domain::team::{TeamChanges, TeamCommand, WeeklyHours};
    use leadorch_domain::{CapacityEvent, TeamEvent};
    use leadorch_rules::{Action, Limits, RuleHost};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("valid time")
    }

    /// The events that define a team, as its aggregate decides them.
    fn team_events(name: &str, changes: TeamChanges) -> Vec<TeamEvent> {
        Team::default()
            .decide(TeamCommand::Set {
                team: name.to_string(),
                changes,
                at: at("2026-03-01T00:00:00Z"),
            })
            .expect("valid team")
    }

    fn view_of(events: Vec<(&str, AnyEvent)>) -> FactsView {
        let mut view = FactsView::default();
        for (i, (stream, event)) in events.into_iter().enumerate() {
            view.apply(i as u64 + 1, stream, &event);
        }
        view
    }

    fn reading(team: &str, open: u32, max: u32) -> AnyEvent {
        AnyEvent::Capacity(CapacityEvent::CapacityRecorded {
            team: team.to_string(),
            agents_available: 2,
            open_leads: open,
            max_open_leads: max,
            source: "push".into(),
            max_age_secs: None,
            at: at("2026-03-02T00:00:00Z"),
        })
    }

    /// Settings whose calendar for `sales-ny` is open all Monday in Amsterdam time.
    fn polled(open: u32, max_age: u64, when: &str) -> AnyEvent {
        AnyEvent::Capacity(CapacityEvent::CapacityRecorded {
            team: "sales-nl".into(),
            agents_available: 2,
            open_leads: open,
            max_open_leads: 10,
            source: "connector:crm".into(),
            max_age_secs: Some(max_age),
            at: at(when),
        })
    }

    #[test]
    fn a_polled_reading_carries_its_max_age_and_a_heartbeat_triggers_nothing_unless_stale() {
        let mut view = FactsView::default();
        let stream = "capacity:sales-nl";
        assert_eq!(
            view.apply(1, stream, &polled(3, 180, "2026-03-02T10:00:00Z")),
            Some(TriggerKind::CapacityChanged)
        );
        assert_eq!(
            view.apply(2, stream, &polled(3, 180, "2026-03-02T10:02:00Z")),
            None,
            "the same figures within max_age: a heartbeat"
        );
        assert_eq!(
            view.apply(3, stream, &polled(4, 180, "2026-03-02T10:03:00Z")),
            Some(TriggerKind::CapacityChanged)
        );
        assert_eq!(
            view.apply(4, stream, &polled(4, 180, "2026-03-02T10:10:00Z")),
            Some(TriggerKind::CapacityChanged),
            "the team was stale: the same figures make it current again, which rules see"
        );
        let settings = settings();
        let scope = FactsScope::project("default");
        let fresh = view.facts_in(at("2026-03-02T10:13:00Z"), &settings, &scope);
        let team = &fresh.teams["sales-nl"];
        assert_eq!(team.max_age_secs, Some(180));
        assert!(!team.is_stale(at("2026-03-02T10:13:00Z")));
        assert!(team.is_stale(at("2026-03-02T10:13:01Z")));
    }

    fn settings() -> FactSettings {
        let mut settings = FactSettings {
            timezone: "Europe/Amsterdam".into(),
            ..FactSettings::default()
        };
        let mut configured = Calendar::default();
        configured
            .weekly
            .insert("mon".into(), vec![["00:00".into(), "24:00".into()]]);
        settings
            .calendars
            .insert("sales-ny".into(), configured.clone());
        settings.calendars.insert("default".into(), configured);
        settings
    }

    /// What `rules/business_hours.rhai` decides for a `business-hours` campaign of `team`.
    fn business_hours(facts: &mut Facts, team: &str, paused: bool) -> Vec<Action> {
        let mut campaign = CampaignFacts::new("1/1", "Brand");
        campaign.labels = vec!["business-hours".into()];
        campaign.team = Some(team.to_string());
        if paused {
            campaign.status = leadorch_domain::campaign::CampaignStatus::Paused;
        }
        facts.campaigns = vec![campaign];
        let host = RuleHost::new(None, Limits::default()).expect("host");
        let rule = host
            .compile(
                "business_hours",
                include_str!("../../../rules/business_hours.rhai"),
            )
            .expect("compiles");
        let run = host.evaluate(&rule, &host.prepare(facts));
        assert!(run.aborted.is_none(), "{:?}", run.aborted);
        run.proposals
            .into_iter()
            .map(|p| p.decision.action)
            .collect()
    }

    #[test]
    fn a_team_defined_by_events_drives_business_hours_in_its_own_zone() {
        let events = team_events(
            "sales-ny",
            TeamChanges {
                time_zone: Some("America/New_York".into()),
                hours: Some(Some(
                    WeeklyHours::parse(&["mon-fri 09:00-17:00"]).expect("valid"),
                )),
                holidays: Some(vec!["2026-03-03".parse().expect("date")]),
                ..TeamChanges::default()
            },
        );
        let view = view_of(
            events
                .into_iter()
                .map(|e| ("team:sales-ny", AnyEvent::Team(e)))
                .collect(),
        );
        let settings = settings();

        // Monday 13:00 UTC: 14:00 in Amsterdam (the configured calendar would be open),
        // 08:00 in New York: the team's own calendar is closed, so the rule pauses.
        let mut facts = view.facts_in(
            at("2026-03-02T13:00:00Z"),
            &settings,
            &FactsScope::project("default"),
        );
        let calendar = &facts.calendars["sales-ny"];
        assert_eq!(calendar.timezone.as_deref(), Some("America/New_York"));
        assert_eq!(calendar.weekly.len(), 5);
        assert!(matches!(
            business_hours(&mut facts, "sales-ny", false).as_slice(),
            [Action::Pause]
        ));
        // 15:00 UTC is 10:00 in New York: open, and the rule resumes the paused campaign.
        let mut facts = view.facts_in(
            at("2026-03-02T15:00:00Z"),
            &settings,
            &FactsScope::project("default"),
        );
        assert!(matches!(
            business_hours(&mut facts, "sales-ny", true).as_slice(),
            [Action::Resume]
        ));
        // Tuesday is the team's holiday: closed all day.
        let mut facts = view.facts_in(
            at("2026-03-03T15:00:00Z"),
            &settings,
            &FactsScope::project("default"),
        );
        assert!(matches!(
            business_hours(&mut facts, "sales-ny", false).as_slice(),
            [Action::Pause]
        ));
        // The configured default calendar is left as it is.
        assert_eq!(facts.calendars["default"], settings.calendars["default"]);
    }

    #[test]
    fn each_project_s_facts_hold_its_own_teams_calendars_campaigns_and_arrivals() {
        use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
        let observed = |campaign: &str, account: Option<&str>| {
            AnyEvent::Campaign(CampaignEvent::CampaignObserved {
                customer_id: "123".into(),
                campaign_id: campaign.into(),
                snapshot: Some(CampaignSnapshot {
                    name: format!("Campaign {campaign}"),
                    labels: vec!["team:sales-nl".into()],
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: 1_000_000,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: Vec::new(),
                    currency: None,
                }),
                google_account: account.map(str::to_string),
                at: at("2026-03-02T08:00:00Z"),
            })
        };
        let mut events: Vec<(&str, AnyEvent)> = vec![
            ("capacity:sales-nl", reading("sales-nl", 1, 10)),
            ("capacity:acme/sales-nl", reading("acme/sales-nl", 9, 10)),
            ("campaign:123/9", observed("9", Some("ops"))),
            ("campaign:123/7", observed("7", Some("acme/ops"))),
        ];
        let hours = TeamChanges {
            time_zone: Some("America/New_York".into()),
            hours: Some(Some(
                WeeklyHours::parse(&["mon 09:00-17:00"]).expect("valid"),
            )),
            ..TeamChanges::default()
        };
        for e in team_events("acme/sales-ny", hours) {
            events.push(("team:acme/sales-ny", AnyEvent::Team(e)));
        }
        let arrival = |lead: &str, team: &str, campaign: &str| {
            AnyEvent::Lead(LeadEvent::LeadReceived(LeadArrival {
                lead_id: lead.into(),
                subject_id: "s".into(),
                team: team.into(),
                customer_id: Some("123".into()),
                campaign_id: Some(campaign.into()),
                at: at("2026-03-02T12:00:00Z"),
                ..LeadArrival::default()
            }))
        };
        // Default's lead on default's campaign; acme's leads name default's campaign too
        // (which is not acme's to count) and acme's own.
        events.push(("lead:f-1", arrival("f-1", "sales-nl", "9")));
        events.push(("lead:acme/f-2", arrival("acme/f-2", "acme/sales-nl", "9")));
        events.push(("lead:acme/f-3", arrival("acme/f-3", "acme/sales-nl", "7")));
        let view = view_of(events);
        let now = at("2026-03-02T12:30:00Z");
        let settings = FactSettings::default();

        let default = view.facts_in(now, &settings, &FactsScope::project("default"));
        assert_eq!(default.teams.keys().collect::<Vec<_>>(), vec!["sales-nl"]);
        assert_eq!(default.teams["sales-nl"].open_leads, 1);
        assert_eq!(default.teams["sales-nl"].leads_window, 1);
        assert!(!default.calendars.contains_key("sales-ny"));
        assert!(!default.calendars.keys().any(|k| k.contains('/')));
        let ids: Vec<&str> = default.campaigns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["123/9"], "acme's campaign is not default's");
        assert_eq!(
            default.campaigns[0].leads_today, 1,
            "acme's lead naming default's campaign is not the campaign's arrival"
        );

        let acme = view.facts_in(now, &settings, &FactsScope::project("acme"));
        assert_eq!(acme.teams.keys().collect::<Vec<_>>(), vec!["sales-nl"]);
        assert_eq!(acme.teams["sales-nl"].team, "sales-nl", "named bare");
        assert_eq!(acme.teams["sales-nl"].open_leads, 9, "acme's own reading");
        assert_eq!(acme.teams["sales-nl"].leads_window, 2);
        assert!(
            acme.calendars.contains_key("sales-ny"),
            "acme's team calendar, bare"
        );
        let ids: Vec<&str> = acme.campaigns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["123/7"]);
        assert_eq!(acme.campaigns[0].team.as_deref(), Some("sales-nl"));
        assert_eq!(acme.campaigns[0].leads_today, 1);

        // A daemon's scope: one account's campaigns of its project.
        let via = |project, account| {
            view.facts_in(now, &settings, &FactsScope::account(project, account))
                .campaigns
                .len()
        };
        assert_eq!(via("acme", Some("acme/ops")), 1);
        assert_eq!(
            via("acme", Some("ops")),
            0,
            "default's account is not acme's"
        );
        assert_eq!(via("default", Some("acme/ops")), 0);
        assert_eq!(view.pending_changes_via(Some("acme/ops")).len(), 0);
        assert_eq!(
            view.facts_in(now, &settings, &FactsScope::project("other"))
                .teams
                .len(),
            0
        );
    }

    #[test]
    fn the_configuration_stays_the_fallback_for_what_events_do_not_say() {
        let settings = settings();
        // No events for the team: its configured calendar (open all Monday) applies.
        let view = FactsView::default();
        let mut facts = view.facts_in(
            at("2026-03-02T13:00:00Z"),
            &settings,
            &FactsScope::project("default"),
        );
        assert_eq!(facts.calendars, settings.calendars);
        assert!(business_hours(&mut facts, "sales-ny", false).is_empty());
        // Events without hours (a time zone, a maximum) leave the configured calendar too.
        let events = team_events(
            "sales-ny",
            TeamChanges {
                time_zone: Some("America/New_York".into()),
                max_open_leads: Some(Some(30)),
                ..TeamChanges::default()
            },
        );
        let view = view_of(
            events
                .into_iter()
                .map(|e| ("team:sales-ny", AnyEvent::Team(e)))
                .collect(),
        );
        let facts = view.facts_in(
            at("2026-03-02T13:00:00Z"),
            &settings,
            &FactsScope::project("default"),
        );
        assert_eq!(facts.calendars, settings.calendars);
    }

    #[test]
    fn teams_only_the_configuration_gives_a_calendar_or_campaigns_are_found() {
        let mut settings = settings();
        settings
            .campaign_teams
            .insert("1/1".into(), "sales-ny".into());
        settings
            .campaign_teams
            .insert("1/2".into(), "sales-be".into());
        settings.default_team = Some("sales-nl".into());
        let only = |view: &FactsView| -> Vec<(String, bool, bool)> {
            view.config_only_teams(&settings)
                .into_iter()
                .map(|t| (t.team, t.mapping, t.calendar))
                .collect()
        };
        // No events: every named team; sales-ny's calendar too; `default` names no team.
        assert_eq!(
            only(&FactsView::default()),
            vec![
                ("sales-be".to_string(), true, false),
                ("sales-nl".to_string(), true, false),
                ("sales-ny".to_string(), true, true),
            ]
        );
        // Defined without hours: the configured calendar is still the one rules see.
        let mut events: Vec<(&str, AnyEvent)> = team_events(
            "sales-ny",
            TeamChanges {
                time_zone: Some("America/New_York".into()),
                ..TeamChanges::default()
            },
        )
        .into_iter()
        .map(|e| ("team:sales-ny", AnyEvent::Team(e)))
        .collect();
        events.extend(
            team_events("sales-be", TeamChanges::default())
                .into_iter()
                .map(|e| ("team:sales-be", AnyEvent::Team(e))),
        );
        let view = view_of(events.clone());
        assert_eq!(
            only(&view),
            vec![
                ("sales-nl".to_string(), true, false),
                ("sales-ny".to_string(), false, true),
            ]
        );
        // With hours of its own, and sales-nl defined: nothing is the configuration's alone.
        events.extend(
            team_events(
                "sales-ny",
                TeamChanges {
                    time_zone: Some("America/New_York".into()),
                    hours: Some(Some(
                        WeeklyHours::parse(&["mon-fri 09:00-17:00"]).expect("valid"),
                    )),
                    ..TeamChanges::default()
                },
            )
            .into_iter()
            .filter(|e| !matches!(e, TeamEvent::TeamDefined { .. }))
            .map(|e| ("team:sales-ny", AnyEvent::Team(e))),
        );
        events.extend(
            team_events("sales-nl", TeamChanges::default())
                .into_iter()
                .map(|e| ("team:sales-nl", AnyEvent::Team(e))),
        );
        assert_eq!(only(&view_of(events)), vec![]);
    }

    #[test]
    fn a_team_s_maximum_replaces_its_readings_where_it_has_readings() {
        let mut events: Vec<(&str, AnyEvent)> = team_events(
            "sales-nl",
            TeamChanges {
                max_open_leads: Some(Some(40)),
                ..TeamChanges::default()
            },
        )
        .into_iter()
        .map(|e| ("team:sales-nl", AnyEvent::Team(e)))
        .collect();
        events.extend(
            team_events("sales-be", TeamChanges::default())
                .into_iter()
                .map(|e| ("team:sales-be", AnyEvent::Team(e))),
        );
        events.push(("capacity:sales-nl", reading("sales-nl", 30, 100)));
        events.push(("capacity:sales-de", reading("sales-de", 30, 100)));
        let view = view_of(events);
        let facts = view.facts_in(
            at("2026-03-02T13:00:00Z"),
            &settings(),
            &FactsScope::project("default"),
        );
        assert_eq!(facts.teams["sales-nl"].max_open_leads, 40);
        assert_eq!(facts.teams["sales-nl"].utilisation(), 0.75);
        // A team without events keeps its reading's maximum.
        assert_eq!(facts.teams["sales-de"].max_open_leads, 100);
        // A defined team without any reading is not made up: rules see no such team.
        assert!(!facts.teams.contains_key("sales-be"));
    }
}

#[cfg(test)]
mod count_tests {
    use super::*;

    #[test]
    fn changes_applied_and_failed_are_counted_as_folded() {
        let at: DateTime<Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
        let mut view = FactsView::default();
        let events = [
            CampaignEvent::ChangeApplied {
                change_id: "c1".into(),
                change: leadorch_domain::campaign::CampaignChange::Pause,
                at,
            },
            CampaignEvent::ChangeApplied {
                change_id: "c2".into(),
                change: leadorch_domain::campaign::CampaignChange::Resume,
                at,
            },
            CampaignEvent::ChangeFailed {
                change_id: "c3".into(),
                error: "RESOURCE_EXHAUSTED".into(),
                retryable: true,
                quota_until: None,
                at,
            },
        ];
        for (i, e) in events.into_iter().enumerate() {
            view.apply(i as u64 + 1, "campaign:1/2", &AnyEvent::Campaign(e));
        }
        assert_eq!(
            view.counts,
            LogCounts {
                evaluations: 0,
                changes_requested: 0,
                changes_applied: 2,
                changes_failed: 1,
            }
        );
        assert_eq!(view.position, 3);
    }
}

#[cfg(test)]
mod cooldown_tests {
    use super::*;
    use leadorch_domain::campaign::{CampaignChange, CampaignSnapshot, CampaignStatus, Currency};

    fn t(minute: i64) -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minute)
    }

    fn budget(micros: i64) -> CampaignChange {
        CampaignChange::SetBudget {
            daily_budget_micros: micros,
        }
    }

    struct Log {
        view: FactsView,
        position: u64,
    }

    impl Log {
        fn new() -> Log {
            let mut log = Log {
                view: FactsView::default(),
                position: 0,
            };
            log.fold(CampaignEvent::CampaignObserved {
                customer_id: "1".into(),
                campaign_id: "2".into(),
                snapshot: Some(CampaignSnapshot {
                    name: "NL".into(),
                    labels: vec![],
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: 50_000_000,
                    bidding: leadorch_domain::campaign::Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: Some(Currency::new("EUR", 10_000).unwrap()),
                }),
                google_account: None,
                at: t(0),
            });
            log
        }

        fn fold(&mut self, e: CampaignEvent) {
            self.position += 1;
            self.view
                .apply(self.position, "campaign:1/2", &AnyEvent::Campaign(e));
        }

        fn request(&mut self, id: &str, change: CampaignChange, minute: i64) {
            self.fold(CampaignEvent::ChangeRequested {
                change_id: id.into(),
                change,
                reason: Some("rule".into()),
                decision_ref: None,
                google_account: None,
                at: t(minute),
            });
        }

        fn applied(&mut self, id: &str, change: CampaignChange, minute: i64) {
            self.fold(CampaignEvent::ChangeApplied {
                change_id: id.into(),
                change,
                at: t(minute),
            });
        }

        fn failed(&mut self, id: &str, retryable: bool, minute: i64) {
            self.fold(CampaignEvent::ChangeFailed {
                change_id: id.into(),
                error: "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT".into(),
                retryable,
                quota_until: None,
                at: t(minute),
            });
        }

        fn quota_failed(&mut self, id: &str, minute: i64) {
            self.fold(CampaignEvent::ChangeFailed {
                change_id: id.into(),
                error: "quota exhausted (daily)".into(),
                retryable: false,
                quota_until: Some(t(minute + 60)),
                at: t(minute),
            });
        }

        fn facts(&self, minute: i64) -> CampaignFacts {
            let settings = FactSettings::default();
            let mut facts =
                self.view
                    .facts_in(t(minute), &settings, &FactsScope::project("default"));
            facts.campaigns.remove(0)
        }
    }

    const FIELD: &str = "daily_budget_micros";

    #[test]
    fn a_change_refused_for_good_starts_no_cooldown() {
        let mut log = Log::new();
        log.request("a", budget(40_000_000), 1);
        assert_eq!(log.facts(2).last_change_at.get(FIELD), Some(&t(1)));
        // A retryable failure keeps the change open: it still counts.
        log.failed("a", true, 2);
        assert_eq!(log.facts(3).last_change_at.get(FIELD), Some(&t(1)));
        // Refused for good: as if it had never been asked for; the refusal is remembered.
        log.failed("a", false, 3);
        let facts = log.facts(4);
        assert_eq!(facts.last_change_at.get(FIELD), None);
        assert_eq!(
            facts.refused.get(FIELD),
            Some(&leadorch_rules::RefusedChange {
                change: budget(40_000_000),
                at: t(3)
            })
        );
        assert_eq!(facts.currency, Some(Currency::new("EUR", 10_000).unwrap()));

        // An applied change counts; a later refused one leaves the cooldown where it was.
        log.request("b", budget(41_000_000), 5);
        log.applied("b", budget(41_000_000), 6);
        log.request("c", budget(42_000_000), 10);
        assert_eq!(log.facts(11).last_change_at.get(FIELD), Some(&t(10)));
        log.failed("c", false, 11);
        assert_eq!(log.facts(12).last_change_at.get(FIELD), Some(&t(5)));
        assert_eq!(log.facts(12).refused[FIELD].change, budget(42_000_000));

        // Two open changes: the earlier one refused, the later one still counts.
        log.request("d", budget(43_000_000), 20);
        log.request("e", budget(44_000_000), 21);
        log.failed("d", false, 22);
        assert_eq!(log.facts(23).last_change_at.get(FIELD), Some(&t(21)));
        // Other fields are not touched.
        log.request("p", CampaignChange::Pause, 30);
        log.failed("p", false, 31);
        let facts = log.facts(32);
        assert_eq!(facts.last_change_at.get("status"), None);
        assert_eq!(facts.last_change_at.get(FIELD), Some(&t(21)));
    }

    #[test]
    fn a_change_the_daily_quota_refused_is_no_refusal_and_starts_no_cooldown() {
        let mut log = Log::new();
        log.request("a", budget(40_000_000), 1);
        log.quota_failed("a", 2);
        let facts = log.facts(3);
        assert_eq!(facts.last_change_at.get(FIELD), None);
        assert_eq!(
            facts.refused.get(FIELD),
            None,
            "decided again after the reset, not held back as refused"
        );
        assert!(facts.pending_fields.is_empty());
    }
}
