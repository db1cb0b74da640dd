//! The dispatcher and the delivery worker the leading daemon runs (ADR 0033).
//!
//! [`Worker::dispatch`] reads the log from its checkpoint (`webhooks`), turns the events
//! webhooks report into deliveries ([`crate::events::outgoing`]) for every endpoint of the
//! event's project that asked for the type and existed when the event was recorded, and
//! moves the checkpoint. A delivery is stored once per endpoint, event, type and part, so
//! reading an event again after a crash adds nothing. [`Worker::deliver_due`] makes every due
//! attempt: it rebuilds the body from the event (decrypted now, so a forgotten Google account
//! reads as `null`), signs it with the endpoint's live secrets under the delivery's
//! `webhook-id`, and records the attempt and what follows in one transaction: delivered
//! (never sent again), a retry at the schedule's next time, given up (the endpoint is then
//! disabled), or disabled after a `410`. Time comes from a [`Clock`], the schedule from the
//! settings, so tests run the whole schedule in milliseconds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leadorch_store::{
    AfterAttempt, AttemptRow, Delivery, NewDelivery, Recorded, RecordedEvent, Reveal, Store,
    StoreError, Webhooks, WriteTx,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use tokio::sync::watch;
use url::Url;

use crate::events::{envelope, outgoing, project_of_id, DEFAULT_PROJECT};
use crate::schedule::{Schedule, Verdict};
use crate::send::{Sender, TIMEOUT};
use crate::sign::{message_id, Secret};
use crate::ssrf::Reach;

/// The checkpoint of the dispatcher (`webhooks:<project>` for one project's).
pub const CHECKPOINT: &str = "webhooks";

/// How often [`Worker::run`] purges finished deliveries past their retention.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Where time comes from.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// How the worker delivers.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The retry schedule.
    pub schedule: Schedule,
    /// Where webhooks may go.
    pub reach: Reach,
    /// One attempt's timeout.
    pub timeout: Duration,
    /// How often [`Worker::run`] looks for new events and due attempts at most.
    pub poll: Duration,
    /// Attempts made concurrently at most.
    pub concurrency: usize,
    /// Only this project's endpoints (the daemon of a project delivers its own, under its
    /// checkpoint `webhooks:<project>`); `None`: every project's, checkpoint `webhooks`.
    pub project: Option<String>,
}

impl Settings {
    /// The settings `[webhooks]` asks for (the rest as by default).
    pub fn from_config(c: &leadorch_config::WebhookSettings) -> Result<Settings, String> {
        let reach = Reach::new(c.allow_private, &c.allow_hosts).map_err(|e| e.to_string())?;
        let delays = c.retry_delays()?;
        let schedule = if delays.is_empty() {
            Schedule::standard()
        } else {
            Schedule::new(delays, 0.1).map_err(|e| format!("webhooks.retry_schedule: {e}"))?
        };
        Ok(Settings {
            schedule,
            reach,
            ..Settings::default()
        })
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            schedule: Schedule::standard(),
            reach: Reach::public_only(),
            timeout: TIMEOUT,
            poll: Duration::from_secs(1),
            concurrency: 8,
            project: None,
        }
    }
}

/// Why the worker stopped or a step failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Sender(#[from] crate::send::SenderError),
}

/// What one [`Worker::deliver_due`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Attempts made.
    pub attempts: usize,
    /// Deliveries delivered.
    pub delivered: usize,
    /// Deliveries given up.
    pub given_up: usize,
    /// Endpoints disabled, with the reason (a `410`, or a schedule that failed).
    pub disabled: Vec<(String, String)>,
}

/// The dispatcher and delivery worker of one database.
pub struct Worker {
    store: Store,
    hooks: Webhooks,
    sender: Sender,
    settings: Settings,
    clock: Arc<dyn Clock>,
    position: u64,
    owners: HashMap<String, String>,
    failing: HashSet<(String, String)>,
    rng: StdRng,
}

fn checkpoint(settings: &Settings) -> String {
    match &settings.project {
        Some(p) => format!("{CHECKPOINT}:{p}"),
        None => CHECKPOINT.to_string(),
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn wanted(event: &RecordedEvent) -> bool {
    matches!(
        event.event_type.as_str(),
        "ChangeApplied"
            | "ChangeFailed"
            | "ReconsentNeeded"
            | "QuotaExhausted"
            | "EvaluationRecorded"
    ) || event.stream_id.starts_with("capacity_source:")
}

impl Worker {
    /// A worker from the dispatcher's checkpoint on. The campaigns' projects (the project of
    /// the Google account each was last read through) are read from the log first.
    pub async fn new(
        store: Store,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Worker, WorkerError> {
        let sender = Sender::new(settings.reach.clone(), settings.timeout)?;
        let hooks = Webhooks::new(store.codec.keys().clone());
        let position = store.log.db().checkpoint(&checkpoint(&settings)).await?;
        let mut w = Worker {
            store,
            hooks,
            sender,
            settings,
            clock,
            position,
            owners: HashMap::new(),
            failing: HashSet::new(),
            rng: StdRng::from_entropy(),
        };
        let mut at = 0;
        while at < position {
            let page = w.store.log.read_after(at, 1000).await?;
            let Some(last) = page.last() else { break };
            at = last.position;
            for e in page.iter().filter(|e| e.position <= position) {
                w.note_owner(e);
            }
        }
        Ok(w)
    }

    /// The webhook tables.
    pub fn hooks(&self) -> &Webhooks {
        &self.hooks
    }

    /// How far the dispatcher has read.
    pub fn position(&self) -> u64 {
        self.position
    }

    fn note_owner(&mut self, e: &RecordedEvent) {
        if e.event_type != "CampaignObserved" {
            return;
        }
        let Some(campaign) = e.stream_id.strip_prefix("campaign:") else {
            return;
        };
        let account: Option<String> =
            serde_json::from_slice::<Value>(&e.payload)
                .ok()
                .and_then(|v| {
                    v.pointer("/CampaignObserved/google_account")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
        let project = account
            .as_deref()
            .map_or(DEFAULT_PROJECT, project_of_id)
            .to_string();
        self.owners.insert(campaign.to_string(), project);
    }

    fn project_of(&self, stream_id: &str) -> String {
        let (kind, id) = stream_id.split_once(':').unwrap_or(("", stream_id));
        if kind == "campaign" {
            return self
                .owners
                .get(id)
                .cloned()
                .unwrap_or_else(|| DEFAULT_PROJECT.to_string());
        }
        project_of_id(id).to_string()
    }

    /// Reads the new events and stores their deliveries; returns how many were stored.
    pub async fn dispatch(&mut self) -> Result<u64, WorkerError> {
        let mut stored = 0;
        loop {
            let page = self.store.log.read_after(self.position, 500).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                return Ok(stored);
            };
            let endpoints = self.hooks.list(self.settings.project.as_deref()).await?;
            let now = micros(self.clock.now());
            let mut rows = Vec::new();
            let codec = self.store.codec.clone();
            let mut decoder = codec.decoder(Reveal::Decrypt);
            // The projects some endpoint may receive events of: an event of another project
            // is never decrypted (ADR 0033, addendum).
            let projects: HashSet<&str> = endpoints.iter().map(|e| e.project.as_str()).collect();
            for e in &page {
                self.note_owner(e);
                if !wanted(e) {
                    continue;
                }
                let project = self.project_of(&e.stream_id);
                if !projects.contains(project.as_str()) {
                    // Nothing to deliver to, and the project's rule states are forgotten: a
                    // rule still failing when an endpoint appears is reported at its next
                    // failure, as after a restart.
                    self.failing.retain(|(p, _)| *p != project);
                    continue;
                }
                let payload = decoder.payload(e).await?;
                for out in outgoing(&e.stream_id, &e.event_type, &payload) {
                    if let Some(rule) = &out.rule {
                        let key = (project.clone(), rule.clone());
                        match out.event_type {
                            "rule.failing" if !self.failing.insert(key.clone()) => continue,
                            "rule.ok" => {
                                if out.data["known"] == Value::Bool(true) {
                                    self.failing.remove(&key);
                                }
                                continue;
                            }
                            _ => {}
                        }
                    }
                    for ep in &endpoints {
                        if ep.project == project
                            && ep.created_at <= e.recorded_at
                            && ep.events.iter().any(|t| t == out.event_type)
                        {
                            rows.push(NewDelivery {
                                delivery_id: message_id(),
                                endpoint_id: ep.endpoint_id.clone(),
                                project: project.clone(),
                                event_type: out.event_type.to_string(),
                                position: e.position as i64,
                                event_id: e.event_id.to_string(),
                                part: out.part,
                                due_at: now,
                            });
                        }
                    }
                }
            }
            drop(decoder);
            stored += self.hooks.enqueue(&rows, now).await?;
            let mut tx = WriteTx::begin(self.store.log.db()).await?;
            tx.set_checkpoint(&checkpoint(&self.settings), last).await?;
            tx.commit().await?;
            self.position = last;
        }
    }

    /// The body of a delivery, rebuilt from its event.
    async fn body(&self, d: &Delivery) -> Result<(Vec<u8>, DateTime<Utc>), WorkerError> {
        let position = u64::try_from(d.position).unwrap_or(0);
        let found = self
            .store
            .log
            .read_after(position.saturating_sub(1), 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.event_id.to_string() == d.event_id);
        let Some(e) = found else {
            return Ok((envelope(&d.event_type, "", &Value::Null), self.clock.now()));
        };
        let at = DateTime::from_timestamp_micros(e.recorded_at).unwrap_or_else(Utc::now);
        let payload = self
            .store
            .codec
            .decoder(Reveal::Decrypt)
            .payload(&e)
            .await?;
        let data = outgoing(&e.stream_id, &e.event_type, &payload)
            .into_iter()
            .find(|o| o.event_type == d.event_type && o.part == d.part)
            .map_or(Value::Null, |o| o.data);
        let ts = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Ok((envelope(&d.event_type, &ts, &data), at))
    }

    /// Makes the due attempts (a batch, up to the concurrency), records each.
    pub async fn deliver_due(&mut self) -> Result<Report, WorkerError> {
        let now = self.clock.now();
        let limit = u32::try_from(self.settings.concurrency.max(1)).unwrap_or(8);
        let due = self
            .hooks
            .due(self.settings.project.as_deref(), micros(now), limit)
            .await?;
        let mut report = Report::default();
        let mut tasks = tokio::task::JoinSet::new();
        for d in due {
            let Some(endpoint) = self.hooks.endpoint(&d.endpoint_id).await? else {
                continue;
            };
            let secrets: Vec<Secret> = self
                .hooks
                .secrets(&d.endpoint_id)
                .await?
                .unwrap_or_default()
                .iter()
                .filter_map(|s| Secret::parse(s).ok())
                .collect();
            let (body, _) = self.body(&d).await?;
            let sender = self.sender.clone();
            let clock = self.clock.clone();
            tasks.spawn(async move {
                let started = Instant::now();
                let at = clock.now();
                let attempt = match Url::parse(&endpoint.url) {
                    Ok(url) if !secrets.is_empty() => {
                        sender.send(&url, &secrets, &d.delivery_id, at, &body).await
                    }
                    Ok(_) => crate::send::Attempt {
                        status: None,
                        retry_after: None,
                        error: Some("the endpoint's secret is gone".into()),
                        verdict: Verdict::Retry,
                    },
                    Err(e) => crate::send::Attempt {
                        status: None,
                        retry_after: None,
                        error: Some(format!("the endpoint's URL does not parse: {e}")),
                        verdict: Verdict::Retry,
                    },
                };
                (d, at, attempt, started.elapsed())
            });
        }
        while let Some(done) = tasks.join_next().await {
            let Ok((d, at, attempt, took)) = done else {
                continue;
            };
            report.attempts += 1;
            let n = d.attempts + 1;
            let after = match attempt.verdict {
                Verdict::Delivered => AfterAttempt::Delivered,
                Verdict::Gone => AfterAttempt::Gone("the receiver answered 410 Gone".into()),
                Verdict::Retry => {
                    match self.settings.schedule.next_delay(
                        n as usize,
                        attempt.retry_after,
                        &mut self.rng,
                    ) {
                        Some(delay) => AfterAttempt::RetryAt(
                            micros(at) + i64::try_from(delay.as_micros()).unwrap_or(i64::MAX / 2),
                        ),
                        None => AfterAttempt::GiveUp(format!(
                            "all {} attempts of a delivery failed (last: {})",
                            n,
                            attempt.error.as_deref().unwrap_or("no answer")
                        )),
                    }
                }
            };
            let row = AttemptRow {
                delivery_id: d.delivery_id.clone(),
                n,
                at: micros(at),
                status: attempt.status,
                error: attempt.error.clone(),
                millis: i64::try_from(took.as_millis()).unwrap_or(i64::MAX),
            };
            let Recorded::Stored {
                moved,
                disabled_endpoint,
            } = self.hooks.record(&row, &after).await?
            else {
                continue;
            };
            match (&after, moved) {
                (AfterAttempt::Delivered, true) => report.delivered += 1,
                (AfterAttempt::GiveUp(_), true) => report.given_up += 1,
                _ => {}
            }
            if let (true, AfterAttempt::GiveUp(reason) | AfterAttempt::Gone(reason)) =
                (disabled_endpoint, &after)
            {
                report
                    .disabled
                    .push((d.endpoint_id.clone(), reason.clone()));
            }
        }
        Ok(report)
    }

    /// Deletes the deliveries (and their attempts) that finished more than
    /// [`Webhooks::KEPT_DAYS`] ago; [`Worker::run`] does it hourly. Returns how many went.
    pub async fn purge(&self) -> Result<u64, WorkerError> {
        let before = micros(self.clock.now()) - Webhooks::KEPT_DAYS * 86_400 * 1_000_000;
        Ok(self.hooks.purge(before).await?)
    }

    /// Dispatches and delivers until `stop` turns true; disabled endpoints are reported on
    /// stderr (their id and why, never the URL's query or a secret). Store errors are
    /// reported and retried at the next poll.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut purged_at: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            if purged_at.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                match self.purge().await {
                    Ok(_) => purged_at = Some(Instant::now()),
                    Err(e) => eprintln!("webhooks: purging old deliveries: {e} (trying again)"),
                }
            }
            let step = async {
                self.dispatch().await?;
                loop {
                    let r = self.deliver_due().await?;
                    for (id, why) in &r.disabled {
                        eprintln!("webhooks: endpoint {id} disabled: {why}");
                    }
                    // Stopping: the attempts made are recorded; the rest wait for the next start.
                    if r.attempts == 0 || *stop.borrow() {
                        return Ok::<(), WorkerError>(());
                    }
                }
            };
            if let Err(e) = step.await {
                eprintln!("webhooks: {e} (trying again)");
            }
            let wait = match self.hooks.next_due(self.settings.project.as_deref()).await {
                Ok(Some(at)) => {
                    let left = at - micros(self.clock.now());
                    Duration::from_micros(u64::try_from(left).unwrap_or(0)).min(self.settings.poll)
                }
                _ => self.settings.poll,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Starts a [`Worker`] on its own task (the leading daemon calls this once it leads).
pub async fn spawn(
    store: Store,
    settings: Settings,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, WorkerError> {
    let worker = Worker::new(store, settings, Arc::new(SystemClock)).await?;
    Ok(tokio::spawn(worker.run(stop)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_configuration() {
        let mut c = leadorch_config::WebhookSettings::default();
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(s.schedule, Schedule::standard());
        assert_eq!(s.reach, Reach::public_only());
        c.allow_private = true;
        c.retry_schedule = vec!["0s".into(), "1s".into()];
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(s.reach, Reach::any());
        assert_eq!(s.schedule.attempts(), 2);
        c.allow_hosts = vec!["bad host".into()];
        let e = Settings::from_config(&c).unwrap_err();
        assert!(e.contains("'bad host'"), "{e}");
    }
}
