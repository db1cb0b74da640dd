//! A crash between deciding and applying (the daemon's `daemon::after_decide` failpoint)
//! neither loses nor repeats an action. A test binary of its own: failpoints are global to the
//! process, and `FailScenario` keeps these tests from running at the same time.

use std::sync::atomic::Ordering;

use chrono::Duration;
use fail::FailScenario;
use leadorch_daemon::adapter::AdsAdapter;
use leadorch_daemon::daemon::AFTER_DECIDE;
use leadorch_daemon::Daemon;

mod common;

use common::config;
use common::gated::{capacity, decisions, gated, gated_in, start, Gated};

/// Records a full team a minute later and lets the daemon decide, then "crash" before
/// applying.
async fn crash_after_deciding(g: &mut Gated, open: u32) {
    let at = start() + Duration::minutes(1);
    capacity(&g.e, "sales-nl", open, 40, at).await;
    fail::cfg(AFTER_DECIDE, "return").unwrap();
    let stopped = g.d.step(at).await;
    fail::remove(AFTER_DECIDE);
    let e = stopped.expect_err("stopped at the failpoint");
    assert!(e.to_string().contains("stopped after deciding"), "{e}");
}

#[tokio::test]
async fn a_crash_between_deciding_and_applying_neither_loses_nor_repeats() {
    let scenario = FailScenario::setup();
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
    scenario.teardown();
}

#[tokio::test]
async fn a_change_applied_before_the_crash_is_recorded_not_repeated() {
    let scenario = FailScenario::setup();
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
    scenario.teardown();
}
