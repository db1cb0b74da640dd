//! The daemon end to end on real databases: the demo's story, determinism, a crash between
//! deciding and applying, manual changes respected, hostile rules contained, explain and
//! backtest, and two daemons on one PostgreSQL database acting once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdapterError, AdsAdapter, ObservedCampaign, SimAdapter};
use leadorch_daemon::daemon::Fault;
use leadorch_daemon::demo::{self, DemoOptions};
use leadorch_daemon::library::save_rule;
use leadorch_daemon::{backtest, explain, tick, Daemon, DaemonConfig};
use leadorch_domain::campaign::{CampaignChange, CampaignStatus};
use leadorch_domain::{CapacityCommand, CapacitySnapshot, EvaluationEvent};
use leadorch_rules::{Limits, RuleHost};
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::testing::TestDb;
use leadorch_store::{EventFilter, Metadata, Reveal};

mod common;

use common::{config, engine, host, repo, GATE};

fn start() -> DateTime<Utc> {
    // Monday 2 March 2026, 07:00 in Amsterdam.
    DateTime::parse_from_rfc3339("2026-03-02T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn demo_options(minutes: u64) -> DemoOptions {
    DemoOptions {
        minutes,
        start: start(),
        seed: 7,
        rules_dir: repo().join("rules"),
        lib_dir: repo().join("rules/lib"),
        view_every: 0,
        pace: StdDuration::ZERO,
        // A wall-clock budget no rule run reaches, however busy the machine: a timeout would
        // change the decisions these tests check.
        config: {
            let mut c = DaemonConfig::default();
            c.limits.wall_clock_ms = 60_000;
            c
        },
        stop: Arc::default(),
    }
}

/// Every evaluation's decisions and rule runs, as stored (durations excluded).
async fn decisions(e: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    let mut decoder = e.store.codec.decoder(Reveal::Redact);
    let recs = e
        .store
        .log
        .list(&EventFilter {
            stream: None,
            event_type: Some("EvaluationRecorded".into()),
            after: 0,
            until: None,
            limit: None,
        })
        .await
        .unwrap();
    for rec in recs {
        let any = leadorch_core::projection::decode(&mut decoder, &rec)
            .await
            .unwrap();
        let leadorch_domain::AnyEvent::Evaluation(EvaluationEvent::EvaluationRecorded(r)) = any
        else {
            panic!("not an evaluation")
        };
        let runs: Vec<_> = r
            .rules
            .iter()
            .map(|x| {
                (
                    x.rule_id.clone(),
                    x.rule_version,
                    x.source_digest.clone(),
                    x.run.clone(),
                )
            })
            .collect();
        out.push(
            serde_json::to_string(&(
                &rec.stream_id,
                &r.trigger,
                &r.facts_digest,
                &r.resolution,
                &runs,
                &r.changes,
            ))
            .unwrap(),
        );
    }
    out
}

#[tokio::test]
async fn demo_pauses_when_teams_fill_up_and_beats_no_rules() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let mut lines = Vec::new();
    let summary = demo::run(&e, &demo_options(300), &mut |l| lines.push(l))
        .await
        .unwrap();
    assert!(summary.evaluations > 0, "{summary:?}");
    assert!(
        summary.changes_applied > 0,
        "rules never acted: {summary:?}"
    );
    assert!(summary.with_rules.status_flips > 0);
    assert_eq!(summary.without_rules.status_flips, 0);
    assert!(
        summary.with_rules.leads_expired < summary.without_rules.leads_expired,
        "rules should cut leads the team cannot work: {:?} vs {:?}",
        summary.with_rules,
        summary.without_rules
    );
    assert!(
        summary.with_rules.spend_on_expired_micros < summary.without_rules.spend_on_expired_micros
    );
    assert_eq!(summary.rule_failures, 0, "example rules failed: {lines:?}");
    let v = e.store.log.verify(|_| {}).await.unwrap();
    assert!(
        matches!(v, leadorch_store::Verification::Intact { .. }),
        "chain broken: {v:?}"
    );
}

#[tokio::test]
async fn same_history_and_rules_give_the_same_decisions_byte_for_byte() {
    let a = TestDb::sqlite();
    let b = TestDb::sqlite();
    let ea = engine(&a).await;
    let eb = engine(&b).await;
    demo::run(&ea, &demo_options(180), &mut |_| {})
        .await
        .unwrap();
    demo::run(&eb, &demo_options(180), &mut |_| {})
        .await
        .unwrap();
    let da = decisions(&ea).await;
    let db = decisions(&eb).await;
    assert!(!da.is_empty());
    assert_eq!(da, db);
}

/// Counts the changes that reach the platform.
struct Counting {
    inner: SimAdapter,
    applied: AtomicU64,
}

#[async_trait]
impl AdsAdapter for Counting {
    fn name(&self) -> &str {
        "counting-sim"
    }
    async fn campaigns(&self) -> Result<Vec<ObservedCampaign>, AdapterError> {
        self.inner.campaigns().await
    }
    async fn apply(
        &self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<(), AdapterError> {
        self.applied.fetch_add(1, Ordering::SeqCst);
        self.inner.apply(customer_id, campaign_id, change).await
    }
}

fn counting() -> Arc<Counting> {
    let sim = Simulator::new(SimConfig::demo(start(), 7)).unwrap();
    Arc::new(Counting {
        inner: SimAdapter::new(Arc::new(Mutex::new(sim))),
        applied: AtomicU64::new(0),
    })
}

async fn capacity(e: &Engine, team: &str, open: u32, max: u32, at: DateTime<Utc>) {
    e.execute::<CapacitySnapshot>(
        team,
        CapacityCommand::Record {
            team: team.into(),
            agents_available: 3,
            open_leads: open,
            max_open_leads: max,
            source: "test".into(),
            at,
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
}

fn gated_in(sim: &Arc<Counting>, team: &str) -> usize {
    let s = sim.inner.sim().lock().unwrap();
    s.campaigns()
        .iter()
        .filter(|c| {
            c.snapshot
                .labels
                .iter()
                .any(|l| l == &format!("team:{team}"))
        })
        .count()
}

/// A daemon with the gate rule saved, the simulated campaigns observed (one step at
/// `start()`), and a counting adapter.
struct Gated {
    _db: TestDb,
    e: Engine,
    h: Arc<RuleHost>,
    adapter: Arc<Counting>,
    d: Daemon,
}

async fn gated(config: DaemonConfig) -> Gated {
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let h = host();
    save_rule(&e, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let adapter = counting();
    let mut d = Daemon::start(e.clone(), h.clone(), adapter.clone(), config)
        .await
        .unwrap();
    d.step(start()).await.unwrap();
    Gated {
        _db: db,
        e,
        h,
        adapter,
        d,
    }
}

/// Records a full team a minute later and lets the daemon decide, then "crash" before
/// applying.
async fn crash_after_deciding(g: &mut Gated, open: u32) {
    let at = start() + Duration::minutes(1);
    capacity(&g.e, "sales-nl", open, 40, at).await;
    g.d.fault = Some(Fault::AfterDecide);
    g.d.step(at).await.expect_err("injected fault");
}

#[tokio::test]
async fn a_crash_between_deciding_and_applying_neither_loses_nor_repeats() {
    let now = start();
    // First daemon: observes campaigns, then decides to pause and "crashes" before applying.
    let mut g = gated(config()).await;
    crash_after_deciding(&mut g, 38).await;
    let Gated {
        e, h, adapter, d, ..
    } = &g;
    assert_eq!(
        adapter.applied.load(Ordering::SeqCst),
        0,
        "nothing applied yet"
    );
    let pending = d.view.pending_changes().len();
    // Second daemon: resumes from the checkpoint and the outbox.
    let mut d = Daemon::start(e.clone(), h.clone(), adapter.clone(), config())
        .await
        .unwrap();
    assert!(d.view.pending_changes().len() >= pending);
    d.step(now + Duration::minutes(2)).await.unwrap();
    let nl = gated_in(adapter, "sales-nl");
    assert!(nl > 0);
    assert_eq!(
        adapter.applied.load(Ordering::SeqCst),
        nl as u64,
        "one apply per campaign"
    );
    assert!(d.view.pending_changes().is_empty());
    // More steps: nothing is applied again, and the same evaluation is not recorded twice.
    d.step(now + Duration::minutes(3)).await.unwrap();
    assert_eq!(adapter.applied.load(Ordering::SeqCst), nl as u64);
    let evals = decisions(e).await;
    let mut ids: Vec<_> = evals
        .iter()
        .map(|s| s.split(',').next().unwrap().to_string())
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[tokio::test]
async fn a_change_applied_before_the_crash_is_recorded_not_repeated() {
    let now = start();
    let mut g = gated(config()).await;
    crash_after_deciding(&mut g, 40).await;
    let Gated {
        _db,
        e,
        h,
        adapter,
        mut d,
    } = g;
    // The platform got the change, but the crash came before it was recorded.
    d.read_new().await.unwrap();
    assert!(!d.view.pending_changes().is_empty());
    for (campaign, _, record) in d.view.pending_changes() {
        let (customer, id) = campaign.split_once('/').unwrap();
        adapter
            .inner
            .apply(customer, id, &record.change)
            .await
            .unwrap();
    }
    drop(d);
    let mut d = Daemon::start(e.clone(), h, adapter.clone(), config())
        .await
        .unwrap();
    let report = d.step(now + Duration::minutes(2)).await.unwrap();
    assert!(!report.executed.is_empty());
    assert!(
        report
            .executed
            .iter()
            .all(|x| x.result == leadorch_daemon::executor::ExecResult::AlreadyInEffect),
        "{:?}",
        report.executed
    );
    assert_eq!(
        adapter.applied.load(Ordering::SeqCst),
        0,
        "not applied a second time"
    );
}

#[tokio::test]
async fn a_manual_change_is_respected_for_the_hold_time() {
    let now = start();
    let mut c = config();
    c.reconcile.every = "1m".into();
    let Gated {
        _db,
        e,
        adapter,
        mut d,
        ..
    } = gated(c).await;
    capacity(&e, "sales-nl", 40, 40, now + Duration::minutes(1)).await;
    d.step(now + Duration::minutes(1)).await.unwrap();
    let paused: Vec<ObservedCampaign> = adapter
        .campaigns()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.snapshot.status == CampaignStatus::Paused)
        .collect();
    assert!(!paused.is_empty());
    // An operator resumes one in the Google Ads UI.
    let target = &paused[0];
    adapter
        .inner
        .sim()
        .lock()
        .unwrap()
        .manual_change(
            &target.customer_id,
            &target.campaign_id,
            &CampaignChange::Resume,
        )
        .unwrap();
    let report = d.step(now + Duration::minutes(3)).await.unwrap();
    let id = format!("{}/{}", target.customer_id, target.campaign_id);
    assert_eq!(report.drift, vec![id.clone()]);
    // Still full: the rule wants it paused, but the hold wins.
    capacity(&e, "sales-nl", 41, 40, now + Duration::minutes(4)).await;
    let report = d.step(now + Duration::minutes(4)).await.unwrap();
    let held = report
        .evaluations
        .iter()
        .flat_map(|x| &x.suppressed)
        .any(|s| {
            s.proposal.campaign == id
                && matches!(s.why, leadorch_rules::SuppressReason::ManualHold { .. })
        });
    assert!(held, "{report:?}");
    let status = adapter
        .campaigns()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.campaign_id == target.campaign_id)
        .unwrap()
        .snapshot
        .status;
    assert_eq!(
        status,
        CampaignStatus::Enabled,
        "the manual resume was not undone"
    );
    let x = explain::explain(&e, &id, None).await.unwrap();
    assert!(matches!(x.cause, explain::Cause::Outside { .. }), "{x:?}");
}

#[tokio::test]
async fn a_hostile_rule_fails_alone_and_the_daemon_carries_on() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let h = Arc::new(
        RuleHost::new(
            Some(&repo().join("rules/lib")),
            Limits {
                // The gate must not be stopped by a busy machine; `spin` is stopped by the
                // operations limit.
                wall_clock: StdDuration::from_secs(60),
                ..Limits::default()
            },
        )
        .unwrap(),
    );
    save_rule(&e, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    save_rule(
        &e,
        &h,
        "spin",
        "//! on: capacity_changed\nloop { }",
        true,
        start(),
        "test",
    )
    .await
    .unwrap();
    save_rule(
        &e,
        &h,
        "bomb",
        "//! on: capacity_changed\nlet s = \"xx\"; loop { s += s; }",
        true,
        start(),
        "test",
    )
    .await
    .unwrap();
    let adapter = counting();
    let now = start();
    let mut d = Daemon::start(e.clone(), h, adapter.clone(), config())
        .await
        .unwrap();
    d.step(now).await.unwrap();
    capacity(&e, "sales-nl", 40, 40, now + Duration::minutes(1)).await;
    let report = d.step(now + Duration::minutes(1)).await.unwrap();
    let eval = &report.evaluations[0];
    let failed: Vec<&str> = eval.failures.iter().map(|f| f.0.as_str()).collect();
    assert!(
        failed.contains(&"spin") && failed.contains(&"bomb"),
        "{failed:?}"
    );
    assert!(eval.accepted.iter().all(|p| p.rule == "gate"));
    assert!(!eval.accepted.is_empty());
    assert!(adapter.applied.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn explain_and_backtest_read_the_demo_history() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    demo::run(&e, &demo_options(300), &mut |_| {})
        .await
        .unwrap();
    // A campaign the engine paused at some point: explain it as of that moment.
    let p = leadorch_core::projection::catch_up(&e.store).await.unwrap();
    let mut found = None;
    for (id, doc) in p.campaigns.iter() {
        for (_, change) in doc.state.pending_changes() {
            let _ = change;
        }
        let _ = doc;
        let x = explain::explain(&e, id, None).await.unwrap();
        if let explain::Cause::Engine {
            evaluation: Some(ev),
            action,
            ..
        } = &x.cause
        {
            found = Some((id.clone(), ev.clone(), action.clone()));
            break;
        }
    }
    let (id, ev, action) = found.expect("some campaign was changed by the engine");
    assert!(action == "pause" || action == "resume");
    assert!(!ev.rules.is_empty());
    assert!(!ev.campaign_facts.is_null(), "facts of {id} recorded");
    // Backtest the capacity gate over the same window.
    let h = host();
    let source = std::fs::read_to_string(repo().join("rules/capacity_gate.rhai")).unwrap();
    let rule = Arc::new(tick::LoadedRule {
        id: "capacity_gate".into(),
        version: 0,
        compiled: h.compile("capacity_gate", &source).unwrap(),
    });
    let mut facts = DaemonConfig::default().facts;
    facts.timezone = "Europe/Amsterdam".into();
    let opts = backtest::BacktestOptions {
        rule,
        from: start(),
        to: start() + Duration::minutes(300),
        facts: &facts,
        policy: DaemonConfig::default().policy(),
        default_every: Duration::minutes(5),
    };
    let a = backtest::run(&e, &h, &opts, &mut |_| {}).await.unwrap();
    let b = backtest::run(&e, &h, &opts, &mut |_| {}).await.unwrap();
    assert_eq!(a, b, "a backtest is deterministic");
    assert!(a.evaluations > 0);
    assert!(!a.timeline.is_empty(), "{a:?}");
    assert!(a.totals.flips_actual > 0);
    assert!(a.totals.minutes_paused_backtest > 0.0);
}

#[tokio::test]
async fn two_daemons_on_postgres_act_once_and_hand_over() {
    let t = TestDb::postgres().await;
    let e1 = engine(&t).await;
    let h = host();
    save_rule(&e1, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let adapter = counting();
    let (stop1, rx1) = tokio::sync::watch::channel(false);
    let (stop2, rx2) = tokio::sync::watch::channel(false);
    let e2 = engine(&t).await;
    let a1 = {
        let (e, h, a) = (e1.clone(), h.clone(), adapter.clone());
        tokio::spawn(async move { Daemon::run(e, h, a, config(), rx1, &mut |_| {}).await })
    };
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let a2 = {
        let (e, h, a) = (e2.clone(), h.clone(), adapter.clone());
        tokio::spawn(async move { Daemon::run(e, h, a, config(), rx2, &mut |_| {}).await })
    };
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let nl = gated_in(&adapter, "sales-nl") as u64;
    let now = Utc::now();
    capacity(&e1, "sales-nl", 40, 40, now).await;
    wait_for(|| adapter.applied.load(Ordering::SeqCst) >= nl).await;
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(adapter.applied.load(Ordering::SeqCst), nl, "acted once");
    // The leader dies mid-run (its task and connections dropped, as in a crash); the other
    // takes over from the checkpoint and acts on the next change.
    a1.abort();
    let _ = a1.await;
    drop(stop1);
    capacity(&e2, "sales-nl", 5, 40, Utc::now()).await;
    wait_for(|| adapter.applied.load(Ordering::SeqCst) >= 2 * nl).await;
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(
        adapter.applied.load(Ordering::SeqCst),
        2 * nl,
        "resumed once"
    );
    stop2.send(true).unwrap();
    a2.await.unwrap().unwrap();
    t.cleanup().await;
}

/// Waits for `cond`; the 60 s limit only ends a hung test (a busy machine may need seconds).
async fn wait_for(cond: impl Fn() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("condition not met within 60 s");
}
