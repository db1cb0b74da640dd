//! The daemon's work, one step at a time: read new events into the facts view, read campaigns
//! back from the platform (drift), evaluate the rules that were triggered or are due, record
//! the evaluation and request accepted changes, then drain the outbox.
//!
//! [`Daemon::step`] is the whole cycle for a given "now"; the demo drives it minute by
//! simulated minute, and [`Daemon::run`] drives it from the wall clock and log notifications.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_domain::{Campaign, CampaignCommand};
use leadorch_evaluate::facts::{FactsScope, FactsView, TriggerKind};
use leadorch_evaluate::kept;
use leadorch_evaluate::tick::{self, LoadedRule, RuleSet};
use leadorch_evaluate::timeline::AccountKeys;
use leadorch_rules::{CompileError, Proposal, RuleHost, Schedule};
use leadorch_store::{CatchUp, Metadata, RecordedEvent, Reveal, WriteTx};
use serde::Serialize;
use tokio::sync::watch;

use crate::adapter::AdsAdapter;
use crate::executor::{ExecOutcome, Executor};
use crate::leader::Leadership;
use crate::Result;

/// The checkpoint of the default project's daemon: every trigger up to this position has been
/// evaluated (see [`checkpoint_name`]).
pub const CHECKPOINT: &str = "daemon";

/// The checkpoint of `project`'s daemon: [`CHECKPOINT`] for the default project,
/// `daemon:<project>` for another (each project's daemon evaluates its own triggers).
pub fn checkpoint_name(project: &str) -> String {
    if project == leadorch_domain::project::DEFAULT {
        CHECKPOINT.to_string()
    } else {
        format!("{CHECKPOINT}:{project}")
    }
}
/// Events read per page.
const PAGE: u64 = 5_000;
/// The failpoint right after an evaluation and its change requests are recorded, before
/// anything is applied (active only in builds with the `failpoints` feature, i.e. tests).
pub const AFTER_DECIDE: &str = "daemon::after_decide";

/// One evaluation, summarised for views and logs.
#[derive(Clone, Debug, Serialize)]
pub struct EvalSummary {
    /// Evaluation id.
    pub id: String,
    /// What triggered it.
    pub trigger: String,
    /// When (the time rules saw).
    pub at: DateTime<Utc>,
    /// Rules run.
    pub rules: Vec<String>,
    /// Accepted decisions.
    pub accepted: Vec<Proposal>,
    /// Suppressed proposals with the reason.
    pub suppressed: Vec<leadorch_rules::Suppressed>,
    /// Conflicts between rules.
    pub conflicts: Vec<leadorch_rules::Conflict>,
    /// Rule failures: `(rule, campaign or "", error)`.
    pub failures: Vec<(String, String, String)>,
    /// Evaluation time, µs.
    pub duration_us: u64,
    /// Rule runs for one campaign replayed from kept results (`[evaluation] reuse`).
    pub reused: usize,
    /// Rule runs for one campaign evaluated (with reuse; 0 without).
    pub evaluated: usize,
}

/// What one step did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepReport {
    /// The step's time (what rules saw as now).
    pub at: DateTime<Utc>,
    /// Evaluations made.
    pub evaluations: Vec<EvalSummary>,
    /// Changes handled by the executor.
    pub executed: Vec<ExecOutcome>,
    /// Campaigns found changed outside the engine.
    pub drift: Vec<String>,
    /// Rules whose source does not compile any more.
    pub broken_rules: Vec<String>,
    /// Why nothing was decided or applied in this step (e.g. the ads account needs consent
    /// again), when the platform cannot act.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}

/// What [`Daemon::run`] tells its caller as it goes.
pub enum Notice<'a> {
    /// Another daemon leads this database: this one waits to take over (said once, when it
    /// starts waiting).
    Waiting,
    /// This daemon leads now.
    Leading,
    /// The daemon's facts view is ready, before its first step: from the kept view at that
    /// position (`None`: folded from the first event), up to the log's head, in how long.
    Started {
        /// The kept view's position it started from.
        kept: Option<u64>,
        /// The view's position now.
        position: u64,
        /// How long it took.
        took: StdDuration,
    },
    /// A step ran (the daemon, for campaign names and settings).
    Step(&'a Daemon, &'a StepReport),
    /// The database went away (why): the daemon acts on nothing and waits for it, with
    /// backoff. Said once per outage.
    Away(&'a str),
    /// The database answers again, after [`Notice::Away`].
    Back,
    /// The leadership was lost (on PostgreSQL its connection closed, as it does when the
    /// server restarts): the daemon acts on nothing until it leads again, which
    /// [`Notice::Leading`] says (or [`Notice::Waiting`], when another daemon took over).
    LostLeadership,
}

/// The daemon's state.
pub struct Daemon {
    /// The engine.
    pub engine: Engine,
    /// The rules host.
    pub host: Arc<RuleHost>,
    /// The ads platform.
    pub adapter: Arc<dyn AdsAdapter>,
    /// Configuration.
    pub config: Config,
    /// What rules see.
    pub view: FactsView,
    /// The keys the Google data in [`Daemon::view`] was opened with: when one changes (an
    /// account forgotten, by any process), the view is folded again, so no rule reads, and no
    /// evaluation quotes, what the forgotten key sealed (ADR 0043).
    keys: AccountKeys,
    rules: RuleSet,
    /// Rule results kept across evaluations (`[evaluation] reuse`, ADR 0050).
    reuse: leadorch_rules::Reuse,
    executor: Executor,
    next_due: BTreeMap<String, DateTime<Utc>>,
    triggers: BTreeSet<TriggerKind>,
    /// Position up to which triggers have been taken for evaluation.
    handled: u64,
    last_reconcile: Option<DateTime<Utc>>,
    /// The kept facts view this daemon started from or wrote last (ADR 0048).
    kept: KeptMark,
    /// Google's quota holding every call, until it resets ([`crate::quota`]).
    pub(crate) quota: crate::quota::Quota,
}

/// Where the kept facts view stands for a daemon: the position of the copy it started from or
/// wrote last, and when it last tried to write one.
#[derive(Clone, Copy, Debug, Default)]
struct KeptMark {
    position: u64,
    started_from: Option<u64>,
    tried: Option<std::time::Instant>,
}

/// A copy of the facts view is written once the view has moved this many events past the
/// last one…
const KEEP_EVERY_EVENTS: u64 = 10_000;
/// …and at most this often (and when the daemon stops).
const KEEP_AT_MOST_EVERY: StdDuration = StdDuration::from_secs(300);

impl Daemon {
    /// Folds the log up to the daemon's checkpoint (those triggers were handled by an
    /// earlier run), then everything after it with triggers collected for the first step.
    pub async fn start(
        engine: Engine,
        host: Arc<RuleHost>,
        adapter: Arc<dyn AdsAdapter>,
        config: Config,
    ) -> Result<Daemon> {
        leadorch_domain::project::check_name(&config.project)
            .map_err(|e| crate::Error::Input(format!("project: {e}")))?;
        let checkpoint = engine
            .store
            .db()
            .checkpoint(&checkpoint_name(&config.project))
            .await?;
        // The kept view, when it is at or before the checkpoint: the triggers of the events
        // after the checkpoint are then all folded again (ADR 0048).
        let (view, keys, started_from) = match kept::load(&engine).await? {
            Ok(k) if k.view.position <= checkpoint => {
                let position = k.view.position;
                (k.view, k.keys, Some(position))
            }
            Ok(k) => {
                tracing::info!(
                    kept = k.view.position,
                    checkpoint,
                    "the kept facts are past this daemon's checkpoint; folding the log"
                );
                (FactsView::default(), AccountKeys::default(), None)
            }
            Err(why) => {
                tracing::info!(?why, "no kept facts to start from; folding the log");
                (FactsView::default(), AccountKeys::default(), None)
            }
        };
        let executor = Executor::new(config.executor.max_attempts);
        let mut d = Daemon {
            engine,
            host,
            adapter,
            config,
            view,
            keys,
            rules: RuleSet::default(),
            reuse: leadorch_rules::Reuse::new(),
            executor,
            next_due: BTreeMap::new(),
            triggers: BTreeSet::new(),
            handled: checkpoint,
            last_reconcile: None,
            kept: KeptMark {
                position: started_from.unwrap_or(0),
                started_from,
                tried: None,
            },
            quota: crate::quota::Quota::default(),
        };
        d.read_new().await?;
        Ok(d)
    }

    /// The position of the kept facts view this daemon started from (`None`: it folded the
    /// log from the first event).
    pub fn started_from_kept(&self) -> Option<u64> {
        self.kept.started_from
    }

    /// Writes the kept facts view once it has moved on [`KEEP_EVERY_EVENTS`] since the last
    /// copy, at most every [`KEEP_AT_MOST_EVERY`] (`now`: whenever it moved at all, as a
    /// daemon stops or `--once` ends). The copy is written at the checkpoint only, so that a
    /// daemon starting from it misses no trigger: when nothing folded since the checkpoint
    /// wakes a rule, the checkpoint first moves up to the view; otherwise the copy waits for
    /// the next step. A failure is said and otherwise ignored: the copy is only a shortcut.
    pub async fn keep_facts(&mut self, now: bool) {
        let position = self.view.position;
        if position <= self.kept.position {
            return;
        }
        let due = now
            || (position - self.kept.position >= KEEP_EVERY_EVENTS
                && self
                    .kept
                    .tried
                    .is_none_or(|t| t.elapsed() >= KEEP_AT_MOST_EVERY));
        if !due {
            return;
        }
        if position != self.handled {
            if !self.triggers.is_empty() {
                return;
            }
            if let Err(e) = self.set_checkpoint(position).await {
                tracing::warn!("the facts view could not be kept: {e}");
                return;
            }
        }
        self.kept.tried = Some(std::time::Instant::now());
        match kept::save(&self.engine, &self.view, &self.keys, Utc::now()).await {
            Ok(true) => self.kept.position = position,
            Ok(false) => tracing::info!("the facts view was not kept: an account's key changed"),
            Err(e) => tracing::warn!("the facts view could not be kept: {e}"),
        }
    }

    /// Reads every event after the view's position into it.
    pub async fn read_new(&mut self) -> Result<()> {
        self.forget_stale_keys().await?;
        self.read_rest().await
    }

    async fn read_rest(&mut self) -> Result<()> {
        loop {
            let page = self
                .engine
                .store
                .log
                .read_after(self.view.position, PAGE)
                .await?;
            if page.is_empty() {
                return Ok(());
            }
            self.fold_unchecked(&page).await?;
        }
    }

    /// Folds a page of events (those at or before the view's position are skipped).
    pub async fn fold(&mut self, page: &[RecordedEvent]) -> Result<()> {
        if self.forget_stale_keys().await? {
            self.read_rest().await?;
        }
        self.fold_unchecked(page).await
    }

    /// Starts the view afresh when an account's key is not the one its data was opened with;
    /// says whether it did. Triggers up to [`Daemon::handled`] are not taken again.
    async fn forget_stale_keys(&mut self) -> Result<bool> {
        if self.keys.unchanged(&self.engine).await? {
            return Ok(false);
        }
        tracing::info!("an account's key changed (forgotten): folding the facts view again");
        self.view = FactsView::default();
        self.keys = AccountKeys::default();
        Ok(true)
    }

    async fn fold_unchecked(&mut self, page: &[RecordedEvent]) -> Result<()> {
        self.keys.note_page(&self.engine, page).await?;
        // Rules need the Google data: decrypted here, never written to a read model.
        let mut decoder = self.engine.store.codec.decoder(Reveal::Decrypt);
        for (position, t) in self.view.fold_page(&mut decoder, page).await? {
            if position > self.handled {
                self.triggers.insert(t);
            }
        }
        Ok(())
    }

    /// Reads campaigns back from the platform and records what changed (outside changes
    /// become `ChangedOutsideEngine`, respected for the configured hold).
    pub async fn reconcile(&mut self, now: DateTime<Utc>) -> Result<Vec<String>> {
        let observed = match self.adapter.campaigns().await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(adapter = self.adapter.name(), error = %e, "reading campaigns failed");
                return Ok(Vec::new());
            }
        };
        let metadata = Metadata::actor(self.config.actor.clone());
        let google_account = self.adapter.google_account().map(str::to_string);
        let project = self.config.project.clone();
        let hold_of = |view: &FactsView, id: &str| {
            view.campaigns
                .get(id)
                .and_then(|c| c.state.manual_override_until())
        };
        // Observed campaigns that differ from what is known, with their hold before.
        let mut changed = Vec::new();
        for o in observed {
            let id = Campaign::aggregate_id(&o.customer_id, &o.campaign_id);
            if let Some(other) = self.foreign_project(&id) {
                // Reachable through another project's account too (an agency's customer):
                // it stays that project's, not flipped to this one on each reading.
                tracing::warn!(campaign = %id, project = %project, owner = %other,
                    "campaign belongs to another project; not observed by this daemon");
                continue;
            }
            let known = self
                .view
                .campaigns
                .get(&id)
                .and_then(|c| c.state.snapshot());
            if known == Some(&o.snapshot) {
                continue;
            }
            let before = hold_of(&self.view, &id);
            self.engine
                .execute::<Campaign>(
                    &id,
                    CampaignCommand::Observe {
                        customer_id: o.customer_id,
                        campaign_id: o.campaign_id,
                        snapshot: o.snapshot,
                        manual_hold: self.config.manual_hold(),
                        google_account: google_account.clone(),
                        at: now,
                    },
                    &metadata,
                )
                .await?;
            changed.push((id, before));
        }
        // One read for all of them; a new hold means a change outside the engine.
        self.read_new().await?;
        let drift = changed
            .into_iter()
            .filter(|(id, before)| hold_of(&self.view, id) != *before)
            .map(|(id, _)| id)
            .collect();
        self.record_metrics(now, &metadata).await?;
        self.last_reconcile = Some(now);
        Ok(drift)
    }

    /// Records the platform's hourly metrics of the last day that are new or changed since
    /// they were last recorded, so rules and backtests see what was known at the time.
    async fn record_metrics(&mut self, now: DateTime<Utc>, metadata: &Metadata) -> Result<()> {
        let from = now - chrono::Duration::hours(26);
        let observed = match self.adapter.metrics(from, now).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(adapter = self.adapter.name(), error = %e, "reading metrics failed");
                return Ok(());
            }
        };
        let mut recorded = false;
        for m in observed {
            let id = Campaign::aggregate_id(&m.customer_id, &m.campaign_id);
            let Some(entry) = self.view.campaigns.get(&id) else {
                continue; // not observed yet: its metrics come with the next reading
            };
            if entry.project() != self.config.project
                || entry.state.snapshot().is_none()
                || entry.metrics.get(&m.hour_start) == Some(&m.metrics)
            {
                continue;
            }
            let command = CampaignCommand::RecordMetrics {
                hour_start: m.hour_start,
                metrics: m.metrics,
                google_account: self.adapter.google_account().map(str::to_string),
                at: now,
            };
            match self
                .engine
                .execute::<Campaign>(&id, command, metadata)
                .await
            {
                Ok(()) => recorded = true,
                // Figures the platform should not have sent (negative cost, …) are skipped.
                Err(leadorch_core::Error::Rejected { message, .. }) => {
                    tracing::warn!(campaign = %id, %message, "metrics refused");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if recorded {
            self.read_new().await?;
        }
        Ok(())
    }

    fn schedule_of(&self, rule: &LoadedRule) -> Option<Schedule> {
        let meta = &rule.compiled.meta;
        match (&meta.schedule, meta.triggers.is_empty()) {
            (Some(s), _) => Some(s.clone()),
            (None, true) => Some(Schedule::Every(self.config.default_every())),
            (None, false) => None,
        }
    }

    /// The enabled rules of the daemon's project, compiled.
    pub fn enabled_rules(&mut self) -> (Vec<Arc<LoadedRule>>, Vec<CompileError>) {
        self.rules
            .enabled(&self.host, &self.view, &self.config.project)
    }

    /// The project that owns campaign `id`, when it was observed and is not this daemon's.
    fn foreign_project(&self, id: &str) -> Option<String> {
        self.view
            .campaigns
            .get(id)
            .filter(|c| c.state.snapshot().is_some() && c.project() != self.config.project)
            .map(|c| c.project().to_string())
    }

    /// One cycle at `now`.
    pub async fn step(&mut self, now: DateTime<Utc>) -> Result<StepReport> {
        let mut report = StepReport {
            at: now,
            ..StepReport::default()
        };
        self.read_new().await?;
        let reconcile_due = self
            .last_reconcile
            .is_none_or(|last| now - last >= self.config.reconcile_every());
        if let Some(reason) = self.adapter.cannot_act().await {
            // Rules pause while the platform cannot act (e.g. the grant was refused): deciding
            // now would only pile up changes that cannot be applied.
            report.paused = Some(reason);
            self.read_new().await?;
            return Ok(report);
        }
        let adapter = self.adapter.clone();
        // While Google's quota is exhausted nothing is read, decided or applied.
        if let Some(reason) = self.quota.held(&self.engine, adapter.as_ref(), now).await? {
            report.paused = Some(reason);
            self.read_new().await?;
            return Ok(report);
        }
        if reconcile_due {
            report.drift = self.reconcile(now).await?;
        }
        let actor = self.config.actor.clone();
        let held = self
            .quota
            .begin(&self.engine, adapter.as_ref(), now, &actor)
            .await?;
        if held.is_none() {
            if let Some(summary) = self.evaluate_due(now, &mut report).await? {
                report.evaluations.push(summary);
            }
        }
        self.read_new().await?;
        report.executed = self
            .executor
            .run(
                &self.engine,
                &self.view,
                adapter.as_ref(),
                now,
                &self.config.actor,
            )
            .await?;
        // A call refused for the quota (in this step's reads or changes) holds every call.
        report.paused = self
            .quota
            .begin(&self.engine, adapter.as_ref(), now, &actor)
            .await?;
        // What the platform recorded on its own during the step (a refused grant) is in
        // the log, and said, before the step ends.
        self.adapter.settle().await;
        self.read_new().await?;
        self.keep_facts(false).await;
        Ok(report)
    }

    async fn evaluate_due(
        &mut self,
        now: DateTime<Utc>,
        report: &mut StepReport,
    ) -> Result<Option<EvalSummary>> {
        let (rules, broken) = self.enabled_rules();
        report.broken_rules = broken.iter().map(ToString::to_string).collect();
        let triggers = std::mem::take(&mut self.triggers);
        // The first step after Google's quota came back decides everything again.
        let reset = self.quota.take_reevaluate();
        let position = self.view.position;
        let tz = self.config.facts.timezone.clone();
        let mut chosen = Vec::new();
        let mut kinds: BTreeSet<&'static str> = BTreeSet::new();
        for rule in &rules {
            let by_trigger: Vec<&'static str> = triggers
                .iter()
                .filter(|t| {
                    t.rule_trigger()
                        .is_some_and(|rt| rule.compiled.meta.triggers.contains(&rt))
                })
                .map(|t| t.name())
                .collect();
            let mut due = false;
            if let Some(schedule) = self.schedule_of(rule) {
                let key = format!("{}@{}", rule.id, rule.version);
                let next = *self.next_due.entry(key.clone()).or_insert(now);
                if next <= now {
                    due = true;
                    let following = schedule
                        .next_after(now, &tz)
                        .unwrap_or(now + chrono::Duration::days(3650));
                    self.next_due.insert(key, following);
                }
            }
            if due {
                kinds.insert(TriggerKind::Schedule.name());
            }
            if reset {
                kinds.insert(crate::quota::QUOTA_RESET_TRIGGER);
            }
            if due || reset || !by_trigger.is_empty() {
                kinds.extend(by_trigger);
                chosen.push(rule.clone());
            }
        }
        if chosen.is_empty() {
            self.advance_checkpoint(position).await?;
            return Ok(None);
        }
        let trigger = kinds.into_iter().collect::<Vec<_>>().join("+");
        // The project's teams, and only the campaigns of the platform (and Google account)
        // this daemon acts through.
        let scope = FactsScope::account(&self.config.project, self.adapter.google_account());
        let facts = self.view.facts_in(now, &self.config.facts, &scope);
        let policy = self.config.policy();
        let outcome = if self.config.evaluation.reuse {
            tick::evaluate_reusing(&self.host, &chosen, facts, &policy, &mut self.reuse)
        } else {
            tick::evaluate(&self.host, &chosen, facts, &policy)
        };
        let recorded = tick::record(
            &self.engine,
            &self.view,
            &self.host,
            &outcome,
            &trigger,
            position,
            &self.config.actor,
            &self.config.project,
        )
        .await?;
        // Tests stop here to check what a crash between deciding and applying leaves behind
        // (`fail::cfg(AFTER_DECIDE, "return")`); nothing unless built with `failpoints`.
        fail::fail_point!(AFTER_DECIDE, |_| Err(crate::Error::Engine(
            leadorch_core::Error::Internal("stopped after deciding (failpoint)".into())
        )));
        self.advance_checkpoint(position).await?;
        let failures = outcome
            .runs
            .iter()
            .flat_map(|(r, run)| {
                let aborted = run
                    .aborted
                    .iter()
                    .map(|e| (r.id.clone(), String::new(), e.to_string()));
                let per = run
                    .failures
                    .iter()
                    .map(|f| (r.id.clone(), f.campaign.clone(), f.error.to_string()));
                aborted.chain(per).collect::<Vec<_>>()
            })
            .collect();
        Ok(Some(EvalSummary {
            id: recorded.id,
            trigger,
            at: now,
            rules: chosen.iter().map(|r| r.id.clone()).collect(),
            accepted: outcome.resolution.accepted.clone(),
            suppressed: outcome.resolution.suppressed.clone(),
            conflicts: outcome.resolution.conflicts.clone(),
            failures,
            duration_us: outcome.duration_us,
            reused: outcome.reuse.reused,
            evaluated: outcome.reuse.evaluated,
        }))
    }

    async fn advance_checkpoint(&mut self, position: u64) -> Result<()> {
        self.set_checkpoint(position).await
    }

    async fn set_checkpoint(&mut self, position: u64) -> Result<()> {
        if position <= self.handled {
            return Ok(());
        }
        let mut tx = WriteTx::begin(self.engine.store.db()).await?;
        tx.set_checkpoint(&checkpoint_name(&self.config.project), position)
            .await?;
        tx.commit().await?;
        self.handled = position;
        Ok(())
    }

    /// Runs until `stop` turns true: acquires leadership (waiting while another daemon
    /// leads), then steps on every new event (in-process notification, LISTEN/NOTIFY on
    /// PostgreSQL, polling otherwise), on due schedules and on reconcile time. A step in
    /// progress when `stop` fires is finished first. The database going away ends nothing:
    /// see [`Daemon::lead`].
    pub async fn run(
        engine: Engine,
        host: Arc<RuleHost>,
        adapter: Arc<dyn AdsAdapter>,
        config: Config,
        mut stop: watch::Receiver<bool>,
        notify: &mut (dyn FnMut(Notice<'_>) + Send),
    ) -> Result<()> {
        let Some(leadership) =
            Daemon::wait_to_lead(&engine, &config.project, &mut stop, notify).await?
        else {
            return Ok(());
        };
        Daemon::lead(leadership, engine, host, adapter, config, stop, notify).await
    }

    /// Takes the leadership of `project` in `engine`'s database, waiting while another daemon
    /// holds it ([`Notice::Waiting`] once, at once; [`Notice::Leading`] when taken), and while
    /// the database is away ([`Notice::Away`] once, then backoff); `None` when `stop` fired
    /// first.
    pub async fn wait_to_lead(
        engine: &Engine,
        project: &str,
        stop: &mut watch::Receiver<bool>,
        notify: &mut (dyn FnMut(Notice<'_>) + Send),
    ) -> Result<Option<Leadership>> {
        Daemon::take_leadership(engine, project, stop, notify, &mut Outage::default()).await
    }

    async fn take_leadership(
        engine: &Engine,
        project: &str,
        stop: &mut watch::Receiver<bool>,
        notify: &mut (dyn FnMut(Notice<'_>) + Send),
        outage: &mut Outage,
    ) -> Result<Option<Leadership>> {
        let mut waiting = false;
        let leadership = loop {
            if *stop.borrow() {
                return Ok(None);
            }
            match Leadership::try_acquire(engine.store.db(), project).await {
                Ok(Some(l)) => break l,
                Ok(None) => {}
                Err(e) if e.is_unavailable() => {
                    if !outage.wait(&e, stop, notify).await {
                        return Ok(None);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            outage.over(notify);
            if !waiting {
                waiting = true;
                tracing::info!("another daemon leads; waiting");
                notify(Notice::Waiting);
            }
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        return Ok(None);
                    }
                }
            }
        };
        outage.over(notify);
        tracing::info!("leading");
        notify(Notice::Leading);
        Ok(Some(leadership))
    }

    /// [`Daemon::run`] once the leadership is held: steps until `stop` turns true.
    ///
    /// The database going away (an error for which [`crate::Error::is_unavailable`] holds)
    /// is said once ([`Notice::Away`]) and waited out with backoff, acting on nothing
    /// meanwhile; then the daemon starts again from the log and its checkpoint, as a restarted
    /// one would. When the leadership did not survive (on PostgreSQL it is the connection
    /// that holds the lock), it is said ([`Notice::LostLeadership`]) and taken again
    /// first — or waited for, while another daemon took it. Any other error ends the daemon
    /// (ADR 0028).
    pub async fn lead(
        leadership: Leadership,
        engine: Engine,
        host: Arc<RuleHost>,
        adapter: Arc<dyn AdsAdapter>,
        config: Config,
        mut stop: watch::Receiver<bool>,
        notify: &mut (dyn FnMut(Notice<'_>) + Send),
    ) -> Result<()> {
        let mut held = Some(leadership);
        let mut outage = Outage::default();
        loop {
            let leadership = match held.take() {
                Some(l) => l,
                None => {
                    match Daemon::take_leadership(
                        &engine,
                        &config.project,
                        &mut stop,
                        notify,
                        &mut outage,
                    )
                    .await?
                    {
                        Some(l) => l,
                        None => return Ok(()),
                    }
                }
            };
            let ended = Daemon::lead_while_held(
                leadership,
                Parts {
                    engine: &engine,
                    host: &host,
                    adapter: &adapter,
                    config: &config,
                },
                &mut stop,
                notify,
                &mut outage,
            )
            .await?;
            match ended {
                Ended::Stopped => return Ok(()),
                Ended::Away(mut leadership, e) => {
                    if !outage.wait(&e, &mut stop, notify).await {
                        return Ok(());
                    }
                    if leadership.check().await {
                        held = Some(leadership);
                    } else {
                        drop(leadership);
                        tracing::info!("lost the leadership while the database was away");
                        notify(Notice::LostLeadership);
                    }
                }
                Ended::LostLeadership => {
                    tracing::info!("lost the leadership connection");
                    notify(Notice::LostLeadership);
                }
            }
        }
    }

    /// Leads while `leadership` holds: starts from the log and the checkpoint, then steps.
    async fn lead_while_held(
        mut leadership: Leadership,
        parts: Parts<'_>,
        stop: &mut watch::Receiver<bool>,
        notify: &mut (dyn FnMut(Notice<'_>) + Send),
        outage: &mut Outage,
    ) -> Result<Ended> {
        // The database being away hands the leadership back with the error; anything else
        // ends the daemon.
        macro_rules! or_away {
            ($result:expr) => {
                match $result {
                    Ok(v) => v,
                    Err(e) => {
                        let e = crate::Error::from(e);
                        return if e.is_unavailable() {
                            Ok(Ended::Away(leadership, e))
                        } else {
                            Err(e)
                        };
                    }
                }
            };
        }
        let started = std::time::Instant::now();
        let mut daemon = or_away!(
            Daemon::start(
                parts.engine.clone(),
                parts.host.clone(),
                parts.adapter.clone(),
                parts.config.clone(),
            )
            .await
        );
        notify(Notice::Started {
            kept: daemon.started_from_kept(),
            position: daemon.view.position,
            took: started.elapsed(),
        });
        let mut sub = CatchUp::new(&daemon.engine.store.log, daemon.view.position, PAGE)
            .poll_every(StdDuration::from_millis(200));
        loop {
            // Right before acting: a daemon whose lease went (with its connection) acts on
            // nothing until it holds one again.
            if !leadership.check().await {
                return Ok(Ended::LostLeadership);
            }
            let report = or_away!(daemon.step(Utc::now()).await);
            outage.over(notify);
            notify(Notice::Step(&daemon, &report));
            if *stop.borrow() {
                daemon.keep_facts(true).await;
                return Ok(Ended::Stopped);
            }
            let next = daemon
                .next_due
                .values()
                .min()
                .copied()
                .unwrap_or_else(|| Utc::now() + chrono::Duration::seconds(1));
            let wait = (next - Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(StdDuration::from_secs(1));
            tokio::select! {
                page = sub.next() => {
                    let page = or_away!(page);
                    or_away!(daemon.fold(&page).await);
                }
                _ = tokio::time::sleep(wait) => {}
                changed = stop.changed() => {
                    // A dropped sender can never say stop: treat it as stop.
                    if changed.is_err() {
                        daemon.keep_facts(true).await;
                        return Ok(Ended::Stopped);
                    }
                }
            }
        }
    }
}

/// What a leading daemon is made from (borrowed: it is made again after the database was
/// away).
struct Parts<'a> {
    engine: &'a Engine,
    host: &'a Arc<RuleHost>,
    adapter: &'a Arc<dyn AdsAdapter>,
    config: &'a Config,
}

/// How leading ended, short of an error that ends the daemon.
enum Ended {
    /// `stop` fired.
    Stopped,
    /// The database went away: the leadership (perhaps lost with it), and the error.
    Away(Leadership, crate::Error),
    /// The leadership's connection is gone.
    LostLeadership,
}

/// The database being away, from the first failure until it answers again: said once, and
/// waited out with backoff (250 ms doubling to 5 s, each wait lengthened by up to as much
/// again at random, for as long as it takes).
#[derive(Default)]
struct Outage {
    waits: Option<backon::ExponentialBackoff>,
}

impl Outage {
    /// Says the database is away ([`Notice::Away`], the first time of an outage) and waits
    /// the next backoff; `false` when `stop` fired instead.
    async fn wait(
        &mut self,
        e: &crate::Error,
        stop: &mut watch::Receiver<bool>,
        notify: &mut (dyn FnMut(Notice<'_>) + Send),
    ) -> bool {
        use backon::BackoffBuilder;
        let waits = match &mut self.waits {
            Some(waits) => waits,
            None => {
                let why = e.to_string();
                tracing::info!(error = %why, "the database is away; waiting for it");
                notify(Notice::Away(&why));
                self.waits.insert(
                    backon::ExponentialBuilder::default()
                        .with_min_delay(StdDuration::from_millis(250))
                        .with_max_delay(StdDuration::from_secs(5))
                        .with_jitter()
                        .without_max_times()
                        .build(),
                )
            }
        };
        let wait = waits.next().unwrap_or(StdDuration::from_secs(5));
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => !*stop.borrow(),
            changed = stop.changed() => changed.is_ok() && !*stop.borrow(),
        }
    }

    /// The database answered: says so ([`Notice::Back`]) when it was away.
    fn over(&mut self, notify: &mut (dyn FnMut(Notice<'_>) + Send)) {
        if self.waits.take().is_some() {
            tracing::info!("the database answers again");
            notify(Notice::Back);
        }
    }
}
