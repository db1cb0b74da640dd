//! The daemon end to end on real databases: the demo's story, determinism, manual changes
//! respected, hostile rules contained, explain and backtest, and two daemons on one
//! PostgreSQL database acting once. (A crash between deciding and applying: `crash.rs`.)

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use leadorch_config::Config;
use leadorch_daemon::adapter::{AdsAdapter, ObservedCampaign};
use leadorch_daemon::demo::{self, DemoOptions};
use leadorch_daemon::Daemon;
use leadorch_domain::campaign::{CampaignChange, CampaignStatus};
use leadorch_evaluate::library::save_rule;
use leadorch_evaluate::{backtest, explain, tick};
use leadorch_rules::{Limits, RuleHost};
use leadorch_test_support::TestDb;

mod common;

use common::gated::{capacity, counting, decisions, gated, gated_in, start, Gated};
use common::{config, engine, host, repo, GATE};

fn demo_options(minutes: u64) -> DemoOptions {
    DemoOptions {
        minutes,
        start: start(),
        seed: 7,
        rules_dir: repo().join("rules"),
        lib_dir: Some(repo().join("rules/lib")),
        view_every: 0,
        pace: StdDuration::ZERO,
        // A wall-clock budget no rule run reaches, however busy the machine: a timeout would
        // change the decisions these tests check.
        config: {
            let mut c = Config::default();
            c.limits.wall_clock_ms = 60_000;
            c
        },
        actor: "demo".into(),
        stop: Arc::default(),
    }
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
    // Every example rule acts on the demo's campaigns.
    assert_eq!(summary.accepted_by_rule.len(), 4, "{summary:?}");
    for (rule, accepted) in &summary.accepted_by_rule {
        assert!(*accepted > 0, "{rule} never acted: {summary:?}");
    }
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

/// Rule results replayed while nothing a rule reads changed (ADR 0050) make the very
/// decisions, runs and resolutions of evaluating every rule on every campaign: the demo's
/// three hours, with the example rules (schedules and triggers), byte for byte.
#[tokio::test]
async fn reused_rule_results_give_the_same_decisions_byte_for_byte() {
    let a = TestDb::sqlite();
    let b = TestDb::sqlite();
    let ea = engine(&a).await;
    let eb = engine(&b).await;
    let reusing = demo::run(&ea, &demo_options(180), &mut |_| {})
        .await
        .unwrap();
    let mut every_run = demo_options(180);
    every_run.config.evaluation.reuse = false;
    let full = demo::run(&eb, &every_run, &mut |_| {}).await.unwrap();
    let da = decisions(&ea).await;
    let db = decisions(&eb).await;
    assert!(!da.is_empty());
    assert_eq!(da, db);
    // The demo's evaluations are nearly all woken by a change (a reading, a lead), and
    // `business_hours` reads the time and `team_routing` all teams: about a quarter of the
    // runs are replayed here. What matters is that some are, and the decisions above.
    assert!(reusing.runs_reused > 0, "{reusing:?}");
    assert!(reusing.runs_evaluated > 0, "{reusing:?}");
    assert_eq!((full.runs_reused, full.runs_evaluated), (0, 0));
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
    let mut facts = Config::default().facts;
    facts.timezone = "Europe/Amsterdam".into();
    let opts = backtest::BacktestOptions {
        until: None,
        project: "default",
        rule,
        from: start(),
        to: start() + Duration::minutes(300),
        facts: &facts,
        policy: Config::default().policy(),
        default_every: Duration::minutes(5),
        reuse: true,
    };
    let a = backtest::run(&e, &h, &opts, &mut |_| {}).await.unwrap();
    let b = backtest::run(&e, &h, &opts, &mut |_| {}).await.unwrap();
    assert_eq!(a, b, "a backtest is deterministic");
    let every_run = backtest::BacktestOptions {
        reuse: false,
        ..opts.clone()
    };
    let c = backtest::run(&e, &h, &every_run, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&c).unwrap(),
        "reused rule results give the report of running every campaign, byte for byte"
    );
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

#[tokio::test]
async fn a_daemon_whose_connections_the_server_closed_leads_again_and_acts() {
    let t = TestDb::postgres().await;
    let e = engine(&t).await;
    let h = host();
    save_rule(&e, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let adapter = counting();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let said = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let run = {
        let (e, h, a, said) = (e.clone(), h.clone(), adapter.clone(), said.clone());
        tokio::spawn(async move {
            let mut notify = |n: leadorch_daemon::Notice<'_>| {
                let line = match n {
                    leadorch_daemon::Notice::Waiting => "waiting".to_string(),
                    leadorch_daemon::Notice::Leading => "leading".to_string(),
                    leadorch_daemon::Notice::Away(why) => format!("away: {why}"),
                    leadorch_daemon::Notice::Back => "back".to_string(),
                    leadorch_daemon::Notice::LostLeadership => "lost".to_string(),
                    leadorch_daemon::Notice::Step(..) | leadorch_daemon::Notice::Started { .. } => {
                        return
                    }
                };
                said.lock().unwrap().push(line);
            };
            Daemon::run(e, h, a, config(), rx, &mut notify).await
        })
    };
    let count = |what: &str| said.lock().unwrap().iter().filter(|l| *l == what).count();
    wait_for(|| count("leading") == 1).await;
    // Every connection to this test's database goes — the lease's, the pool's, the
    // writer's — as when the server restarts.
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(ended.len() >= 2, "{ended:?}");
    admin.close().await.unwrap();
    // It says so, takes the leadership again, and acts on the next change.
    wait_for(|| count("lost") >= 1 && count("leading") == 2).await;
    assert!(
        !run.is_finished(),
        "the daemon ended: {:?}",
        said.lock().unwrap()
    );
    let nl = gated_in(&adapter, "sales-nl") as u64;
    capacity(&e, "sales-nl", 40, 40, Utc::now()).await;
    wait_for(|| adapter.applied.load(Ordering::SeqCst) >= nl).await;
    stop.send(true).unwrap();
    run.await.unwrap().unwrap();
    t.cleanup().await;
}

/// The facts view folded from the first event, as a restarted daemon without a kept view
/// would hold it.
async fn folded(e: &leadorch_core::Engine) -> leadorch_evaluate::facts::FactsView {
    let mut view = leadorch_evaluate::facts::FactsView::default();
    let mut keys = leadorch_evaluate::timeline::AccountKeys::default();
    leadorch_evaluate::kept::catch_up(e, &mut view, &mut keys)
        .await
        .unwrap();
    view
}

#[tokio::test]
async fn a_restarted_daemon_starts_from_the_kept_view_and_misses_no_trigger() {
    let now = start();
    let Gated {
        _db,
        e,
        h,
        adapter,
        mut d,
    } = gated(config()).await;
    assert_eq!(d.started_from_kept(), None, "nothing kept on a new log");
    // The team fills up: the gate pauses. A quiet step then puts the view at the checkpoint,
    // and a stopping daemon keeps it.
    capacity(&e, "sales-nl", 38, 40, now + Duration::minutes(1)).await;
    d.step(now + Duration::minutes(1)).await.unwrap();
    d.step(now + Duration::minutes(2)).await.unwrap();
    d.keep_facts(true).await;
    let kept = leadorch_evaluate::kept::load(&e)
        .await
        .unwrap()
        .expect("a kept view");
    assert_eq!(kept.view, d.view, "the view as the daemon held it");
    let paused = adapter.applied.load(Ordering::SeqCst);
    assert!(paused > 0, "the gate paused");
    let before = decisions(&e).await.len();
    drop(d);

    // While no daemon runs, the team has room again: the restarted daemon starts from the
    // kept view, folds the reading after it, and the gate resumes.
    capacity(&e, "sales-nl", 10, 40, now + Duration::minutes(3)).await;
    let mut d = Daemon::start(e.clone(), h.clone(), adapter.clone(), config())
        .await
        .unwrap();
    assert_eq!(d.started_from_kept(), Some(kept.view.position));
    assert_eq!(
        d.view,
        folded(&e).await,
        "kept view + the rest = the whole fold"
    );
    let report = d.step(now + Duration::minutes(3)).await.unwrap();
    assert_eq!(
        report.evaluations.len(),
        1,
        "the reading after the copy triggered"
    );
    assert!(
        report.evaluations[0]
            .accepted
            .iter()
            .all(|p| p.rule == "gate"),
        "{report:?}"
    );
    assert!(adapter.applied.load(Ordering::SeqCst) > paused, "resumed");
    assert_eq!(decisions(&e).await.len(), before + 1);

    // A copy past this daemon's checkpoint would hide the triggers between the two: such a
    // copy is not started from, and the trigger is not lost.
    capacity(&e, "sales-nl", 39, 40, now + Duration::minutes(4)).await;
    let (view, keys) = leadorch_evaluate::kept::load_or_fold(&e).await.unwrap();
    assert!(leadorch_evaluate::kept::save(&e, &view, &keys, now)
        .await
        .unwrap());
    drop(d);
    let mut d = Daemon::start(e.clone(), h, adapter.clone(), config())
        .await
        .unwrap();
    assert_eq!(d.started_from_kept(), None);
    let report = d.step(now + Duration::minutes(4)).await.unwrap();
    assert_eq!(report.evaluations.len(), 1, "{report:?}");
    assert_eq!(decisions(&e).await.len(), before + 2);
}
