//! The leading daemon's task per source: which teams it feeds, the poll, recording readings
//! through the domain, waiting (a rate limit's `Retry-After` wins over the interval), and the
//! source's health.
//!
//! **Teams.** A source feeds the project's teams whose capacity source is `connector:<name>`
//! (`leadorch teams set T --capacity-source connector:<name>`), plus the teams its `teams`
//! table names that are not defined as teams at all. A listed team defined with another
//! source keeps that source (one source of truth per team) and is skipped.
//!
//! **Readings** are recorded as `CapacityRecorded` with `source = "connector:<name>"` and the
//! source's `max_age`, when the figures changed, or as a heartbeat once the last reading is
//! [`heartbeat_after`] old, so a steady team never looks stale while its source answers.
//!
//! **Health.** Every poll upserts the source's `capacity_sources` row. The log gets
//! `SourceFailing` when a failure needs a person (a refused credential, a configuration that
//! cannot work) or after [`FAILING_AFTER`] failed polls in a row, and `SourceRecovered` at the
//! next good poll: transitions only, each once (what the webhooks will send).

use std::time::Duration;

use chrono::{DateTime, Utc};
use leadorch_core::Engine;
use leadorch_domain::team::CapacitySource as TeamSource;
use leadorch_domain::{
    project, AnyEvent, CapacityCommand, CapacitySnapshot, CapacitySourceCommand,
    CapacitySourceHealth,
};
use leadorch_store::{CapacitySources, Metadata, SourceHealthRow};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::registry::Configured;
use crate::source::{Figures, SourceError, TeamTarget};

/// Failed polls in a row after which a source is reported failing (at once for a refused
/// credential or a configuration that cannot work).
pub const FAILING_AFTER: i64 = 3;

/// An unchanged reading is recorded again once the last is this old: `max(interval,
/// min(15m, max_age - interval))`, so it is renewed at least one interval before it would go
/// stale, and at most every 15 minutes otherwise (like pushed readings' heartbeat).
pub fn heartbeat_after(interval: chrono::Duration, max_age: chrono::Duration) -> chrono::Duration {
    interval.max(chrono::Duration::minutes(15).min(max_age - interval))
}

/// What one poll did.
#[derive(Clone, Debug, PartialEq)]
pub struct PollOutcome {
    /// Teams asked for.
    pub teams: usize,
    /// Readings recorded (changes and heartbeats).
    pub recorded: usize,
    /// Readings the source gave that said nothing new (not recorded).
    pub unchanged: usize,
    /// Why the poll failed, if it did.
    pub error: Option<SourceError>,
    /// Teams it could not answer for, with why, while it answered for others.
    pub team_errors: Vec<(String, String)>,
    /// How long to wait before the next poll.
    pub wait: Duration,
}

/// The task of one source.
#[derive(Clone, Debug)]
pub struct Poller {
    engine: Engine,
    project: String,
    configured: Configured,
    health: CapacitySources,
    metadata: Metadata,
    /// Teams a rate limit left unread at the last poll: asked for first at the next, so no
    /// team starves behind the others.
    behind: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

impl Poller {
    /// The poller of `configured` for `project`'s daemon, recording as `actor`.
    pub fn new(engine: &Engine, project: &str, configured: Configured, actor: &str) -> Poller {
        Poller {
            health: CapacitySources::new(engine.store.db().clone()),
            engine: engine.clone(),
            project: project.to_string(),
            configured,
            metadata: Metadata::actor(actor),
            behind: Default::default(),
        }
    }

    fn name(&self) -> &str {
        self.configured.name()
    }

    fn interval(&self) -> chrono::Duration {
        self.configured.settings.interval()
    }

    fn max_age(&self) -> chrono::Duration {
        self.configured.settings.max_age()
    }

    /// The teams this source feeds now, by name.
    pub async fn targets(&self) -> Result<Vec<TeamTarget>, String> {
        let binding = TeamSource::Connector(self.name().to_string());
        let stored_names = leadorch_evaluate::teams::team_names(&self.engine)
            .await
            .map_err(|e| e.to_string())?;
        let listed = &self.configured.settings.teams;
        let mut targets = Vec::new();
        for stored in &stored_names {
            let Some(bare) = project::unscoped(&self.project, stored) else {
                continue;
            };
            let team = leadorch_evaluate::teams::load_team(&self.engine, stored)
                .await
                .map_err(|e| e.to_string())?;
            if !team.is_defined() {
                continue;
            }
            if *team.capacity_source() != binding {
                if listed.contains_key(bare) {
                    tracing::warn!(
                        source = self.name(),
                        team = bare,
                        "team {bare} is listed in [capacity.sources.{}.teams] but takes its capacity from {}: skipped (`leadorch teams set {bare} --capacity-source connector:{}` to switch)",
                        self.name(),
                        team.capacity_source(),
                        self.name()
                    );
                }
                continue;
            }
            targets.push(TeamTarget {
                team: bare.to_string(),
                crm_team: listed
                    .get(bare)
                    .cloned()
                    .unwrap_or_else(|| bare.to_string()),
                members: team
                    .members()
                    .iter()
                    .map(|m| project::bare(&self.project, &m.id))
                    .collect(),
                max_open_leads: team.max_open_leads(),
            });
        }
        for (bare, id) in listed {
            let stored = project::scoped(&self.project, bare);
            if !stored_names.contains(&stored) {
                targets.push(TeamTarget {
                    team: bare.clone(),
                    crm_team: id.clone(),
                    members: vec![],
                    max_open_leads: None,
                });
            }
        }
        targets.sort_by(|a, b| a.team.cmp(&b.team));
        Ok(targets)
    }

    /// Writes the `starting` row of a source about to be polled (keeping what the last run
    /// learnt: last success, last error).
    pub async fn announce(&self, now: DateTime<Utc>) {
        let previous = self
            .health
            .get(&self.project, self.name())
            .await
            .ok()
            .flatten();
        let row = SourceHealthRow {
            project: self.project.clone(),
            name: self.name().to_string(),
            kind: self.configured.source.kind().to_string(),
            state: "starting".into(),
            teams: previous.as_ref().map_or(0, |p| p.teams),
            last_poll_at: previous.as_ref().and_then(|p| p.last_poll_at),
            last_success_at: previous.as_ref().and_then(|p| p.last_success_at),
            last_error_at: previous.as_ref().and_then(|p| p.last_error_at),
            last_error: previous.as_ref().and_then(|p| p.last_error.clone()),
            error_kind: previous.as_ref().and_then(|p| p.error_kind.clone()),
            consecutive_failures: previous.as_ref().map_or(0, |p| p.consecutive_failures),
            limit_info: previous.as_ref().and_then(|p| p.limit_info.clone()),
            next_poll_at: Some(micros(now)),
            updated_at: micros(now),
        };
        if let Err(e) = self.health.upsert(&row).await {
            tracing::warn!(source = self.name(), "writing the source's health: {e}");
        }
    }

    /// Records one team's figures unless they say nothing new; `Ok(true)` when recorded.
    async fn record(&self, team: &str, f: Figures, now: DateTime<Utc>) -> Result<bool, String> {
        let stored = project::scoped(&self.project, team);
        let last: CapacitySnapshot = self
            .engine
            .load_state(&stored, |e| match e {
                AnyEvent::Capacity(e) => Some(e),
                _ => None,
            })
            .await
            .map_err(|e| e.to_string())?;
        let fresh = last
            .recorded_at()
            .is_some_and(|t| now - t < heartbeat_after(self.interval(), self.max_age()));
        if fresh
            && last.same_figures(f.agents_available, f.open_leads, f.max_open_leads)
            && last.max_age_secs() == Some(self.max_age_secs())
        {
            return Ok(false);
        }
        // Never before the last reading (a pushed one from a clock ahead): then at its time.
        let at = last.recorded_at().map_or(now, |t| t.max(now));
        self.engine
            .execute::<CapacitySnapshot>(
                &stored,
                CapacityCommand::Record {
                    team: stored.clone(),
                    agents_available: f.agents_available,
                    open_leads: f.open_leads,
                    max_open_leads: f.max_open_leads,
                    source: format!("connector:{}", self.name()),
                    max_age_secs: Some(self.max_age_secs()),
                    at,
                },
                &self.metadata,
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    fn max_age_secs(&self) -> u64 {
        u64::try_from(self.max_age().num_seconds()).unwrap_or(0)
    }

    /// Polls once at `now`: the teams, the source, the readings, the health.
    pub async fn poll_once(&self, now: DateTime<Utc>) -> PollOutcome {
        let interval = self.interval().to_std().unwrap_or(Duration::from_secs(60));
        let mut outcome = PollOutcome {
            teams: 0,
            recorded: 0,
            unchanged: 0,
            error: None,
            team_errors: vec![],
            wait: interval,
        };
        let targets = match self.targets().await {
            Ok(mut t) => {
                let behind = self.behind.lock().map(|b| b.clone()).unwrap_or_default();
                t.sort_by_key(|target| !behind.contains(&target.team));
                t
            }
            Err(e) => {
                // The database is away: nothing to say about the source itself.
                tracing::warn!(source = self.name(), "reading the source's teams: {e}");
                return outcome;
            }
        };
        outcome.teams = targets.len();
        let previous = self
            .health
            .get(&self.project, self.name())
            .await
            .ok()
            .flatten();
        let mut row = previous.clone().unwrap_or_else(|| SourceHealthRow {
            project: self.project.clone(),
            name: self.name().to_string(),
            kind: self.configured.source.kind().to_string(),
            state: "starting".into(),
            teams: 0,
            last_poll_at: None,
            last_success_at: None,
            last_error_at: None,
            last_error: None,
            error_kind: None,
            consecutive_failures: 0,
            limit_info: None,
            next_poll_at: None,
            updated_at: micros(now),
        });
        row.kind = self.configured.source.kind().to_string();
        row.teams = i64::try_from(targets.len()).unwrap_or(i64::MAX);
        row.updated_at = micros(now);
        if targets.is_empty() {
            row.state = "idle".into();
            row.next_poll_at = Some(micros(now + self.interval()));
            self.write(&row).await;
            return outcome;
        }
        row.last_poll_at = Some(micros(now));
        match self.configured.source.poll(&targets).await {
            Ok(poll) => {
                for (team, figures) in &poll.readings {
                    match self.record(team, *figures, now).await {
                        Ok(true) => outcome.recorded += 1,
                        Ok(false) => outcome.unchanged += 1,
                        Err(e) => outcome.team_errors.push((team.clone(), e)),
                    }
                }
                outcome.team_errors.extend(
                    poll.team_errors
                        .iter()
                        .map(|(team, e)| (team.clone(), e.to_string())),
                );
                if let Ok(mut behind) = self.behind.lock() {
                    *behind = poll
                        .team_errors
                        .iter()
                        .filter(|(_, e)| matches!(e, SourceError::RateLimited { .. }))
                        .map(|(team, _)| team.clone())
                        .collect();
                }
                row.limit_info = poll.limit_info.or(row.limit_info);
                if let Some(after) = poll.retry_after {
                    // Told when to come back: not before (a little after, for clocks).
                    outcome.wait = outcome.wait.max(after + Duration::from_millis(100));
                }
                row.last_success_at = Some(micros(now));
                row.consecutive_failures = 0;
                match outcome.team_errors.first() {
                    Some((team, e)) => {
                        // Some teams answered, some did not: theirs go stale.
                        row.state = "degraded".into();
                        row.last_error = Some(format!("team {team}: {e}"));
                        row.error_kind = Some("team".into());
                        row.last_error_at = Some(micros(now));
                    }
                    None => row.state = "ok".into(),
                }
                let was_failing = previous
                    .as_ref()
                    .is_none_or(|p| p.consecutive_failures > 0 || p.state != "ok");
                if was_failing {
                    self.transition(CapacitySourceCommand::Recover { at: now })
                        .await;
                }
            }
            Err(e) => {
                row.state = "failing".into();
                row.consecutive_failures += 1;
                row.last_error = Some(e.to_string());
                row.error_kind = Some(e.kind().to_string());
                row.last_error_at = Some(micros(now));
                if let SourceError::RateLimited {
                    retry_after: Some(after),
                    ..
                } = &e
                {
                    // Told when to come back: not before (a little after, for clocks).
                    outcome.wait = outcome.wait.max(*after + Duration::from_millis(100));
                }
                if e.needs_a_person() || row.consecutive_failures >= FAILING_AFTER {
                    self.transition(CapacitySourceCommand::Fail {
                        kind: self.configured.source.kind().to_string(),
                        error_kind: e.kind().to_string(),
                        error: e.to_string(),
                        at: now,
                    })
                    .await;
                }
                tracing::warn!(source = self.name(), kind = e.kind(), "polling failed: {e}");
                outcome.error = Some(e);
            }
        }
        row.next_poll_at = Some(micros(
            now + chrono::Duration::from_std(outcome.wait).unwrap_or(self.interval()),
        ));
        self.write(&row).await;
        outcome
    }

    async fn write(&self, row: &SourceHealthRow) {
        if let Err(e) = self.health.upsert(row).await {
            tracing::warn!(source = self.name(), "writing the source's health: {e}");
        }
    }

    /// Records a failing/recovered transition (nothing when it is none).
    async fn transition(&self, command: CapacitySourceCommand) {
        let id = project::scoped(&self.project, self.name());
        if let Err(e) = self
            .engine
            .execute::<CapacitySourceHealth>(&id, command, &self.metadata)
            .await
        {
            tracing::warn!(source = self.name(), "recording the source's health: {e}");
        }
    }

    /// Polls every interval (or later, when a rate limit says so) until `stop` fires.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        self.announce(Utc::now()).await;
        loop {
            if *stop.borrow() {
                return;
            }
            let outcome = self.poll_once(Utc::now()).await;
            tokio::select! {
                _ = tokio::time::sleep(outcome.wait) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Runs a poller per source for `project`'s leading daemon until `stop` fires (the rows of
/// sources no longer configured are dropped first). Aborting the handle stops them too.
pub fn spawn(
    engine: &Engine,
    project: &str,
    sources: Vec<Configured>,
    actor: &str,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let pollers: Vec<Poller> = sources
        .into_iter()
        .map(|c| Poller::new(engine, project, c, actor))
        .collect();
    let health = CapacitySources::new(engine.store.db().clone());
    let project = project.to_string();
    tokio::spawn(async move {
        let names: Vec<String> = pollers.iter().map(|p| p.name().to_string()).collect();
        if let Err(e) = health.retain(&project, &names).await {
            tracing::warn!("dropping the health of sources no longer configured: {e}");
        }
        // A set: aborting this task aborts the pollers with it.
        let mut tasks = tokio::task::JoinSet::new();
        for p in pollers {
            tasks.spawn(p.run(stop.clone()));
        }
        while tasks.join_next().await.is_some() {}
    })
}

/// Polls every source once (`leadorch daemon --once`), in order.
pub async fn poll_all_once(
    engine: &Engine,
    project: &str,
    sources: &[Configured],
    actor: &str,
) -> Vec<(String, PollOutcome)> {
    let mut out = Vec::new();
    for c in sources {
        let poller = Poller::new(engine, project, c.clone(), actor);
        out.push((c.name().to_string(), poller.poll_once(Utc::now()).await));
    }
    out
}
