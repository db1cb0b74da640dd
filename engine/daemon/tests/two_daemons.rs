//! Two daemons on one PostgreSQL database (issue 18): over a scripted world on a simulated
//! clock, the leading daemon is killed at random — after a whole step, right after deciding,
//! just before the platform applies a change, just after it applied one but before that was
//! recorded — and restarted some ticks later as a new process, the other daemon taking over
//! (at once after a kill mid-step, finishing that tick's work; otherwise at the next tick,
//! its readings having come while no daemon led). The pair makes exactly the decisions, and
//! the platform exactly the mutations, of one daemon alone on its own database over the same
//! script: none missed, none made twice.
//!
//! The script: three teams whose capacity readings wander (seeded) across the capacity gate's
//! band, so the gate pauses and resumes their six campaigns many times; one tick is one
//! simulated minute. A third "process", the world, records the readings; the two daemon
//! processes act through one simulated ads account (one platform, as in production).
//!
//! What models a `kill -9`: each daemon process has its own [`Engine`] (its connection pool,
//! log writer thread and LISTEN connection), its own [`Leadership`] (the lease: a session
//! advisory lock on a connection of its own, `leadorch_store::lease`) and its own [`Daemon`].
//! A kill drops all three as they stand — in the middle of a step when the kill comes while
//! the executor waits on the platform (the step's future is dropped at that await), or after
//! the step returned the failpoint's error right after deciding (`daemon::after_decide`) —
//! with no graceful stop: no `keep_facts`, no `pg_advisory_unlock`, no `Terminate` message on
//! the lease's connection. Its sockets close, and the server ends the session and lets go of
//! the lock when it sees that, as it does when the operating system closes a killed process's
//! sockets. The new leader takes the lease as soon as the server has let go (it tries until
//! it can: a standby retries every second, well within a simulated minute) and starts a new
//! [`Daemon`] from the store, as [`Daemon::lead`] does. While the leader lives, the other
//! process's attempt to take the lease is refused at every tick.
//!
//! `LEADORCH_TWO_DAEMON_TICKS` (default 120; `tests/proof/run two-daemons` runs 1,000) and
//! `LEADORCH_TWO_DAEMON_SEED` (default a fixed one, so the test command plays the same script
//! every time). The summary line (`--nocapture`) is what docs/RELIABILITY.md quotes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use fail::FailScenario;
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdapterError, AdsAdapter, ObservedCampaign, SimAdapter};
use leadorch_daemon::daemon::AFTER_DECIDE;
use leadorch_daemon::leader::Leadership;
use leadorch_daemon::Daemon;
use leadorch_domain::campaign::CampaignChange;
use leadorch_domain::{AnyEvent, CampaignEvent};
use leadorch_evaluate::library::save_rule;
use leadorch_rules::{Limits, RuleHost};
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::{Db, EventFilter, MasterKey, RetentionPolicy, Reveal, Store, Verification};
use leadorch_test_support::TestDb;
use tokio::sync::Notify;

mod common;

use common::gated::{capacity, start};
use common::{config, GATE};

/// The teams whose readings the script records, and their maximum of open leads (the gate
/// pauses at 36 and more, resumes below 28).
const TEAMS: [&str; 3] = ["sales-nl", "sales-be", "sales-de"];
const MAX_OPEN: u32 = 40;

/// Where the leader is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kill {
    /// After a whole step.
    BetweenTicks,
    /// Right after an evaluation and its change requests are recorded, before the checkpoint
    /// moves and before anything is applied (the `daemon::after_decide` failpoint).
    AfterDeciding,
    /// While the executor asks the platform to apply a change, before the platform does.
    BeforeApplying,
    /// Right after the platform applied a change, before the daemon recorded it applied.
    AfterApplying,
}

const KILLS: [Kill; 4] = [
    Kill::BetweenTicks,
    Kill::AfterDeciding,
    Kill::BeforeApplying,
    Kill::AfterApplying,
];

/// A small deterministic generator (splitmix64 to spread the seed, then xorshift64*): the same
/// seed plays the same script and the same kills.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)).max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The readings of each tick (team, open leads); tick 0 has none. Each team is full (36-44
/// open leads of 40: the gate pauses), has room (5-24: it resumes) or is in between (28-35:
/// it holds), changing one tick in six; about half the teams report each tick.
fn script(ticks: usize, rng: &mut Rng) -> Vec<Vec<(&'static str, u32)>> {
    let mut phase = [0u64; 3];
    let mut script = vec![Vec::new()];
    for _ in 1..=ticks {
        let mut readings = Vec::new();
        for (team, phase) in TEAMS.iter().zip(phase.iter_mut()) {
            if rng.below(6) == 0 {
                *phase = rng.below(3);
            }
            if rng.below(2) == 0 {
                continue;
            }
            let open = match *phase {
                0 => 5 + rng.below(20),
                1 => 28 + rng.below(8),
                _ => 36 + rng.below(9),
            };
            readings.push((*team, open as u32));
        }
        script.push(readings);
    }
    script
}

/// One mutation the platform applied: the tick, the campaign, the change.
type Mutation = (usize, String, String);

/// The ads platform both daemon processes act through (one account): the simulated account
/// with six campaigns in three teams, every mutation it applied, and a kill armed for the
/// next apply (the daemon is killed while it waits on the platform).
struct Platform {
    inner: SimAdapter,
    tick: AtomicUsize,
    applied: Mutex<Vec<Mutation>>,
    armed: Mutex<Option<Kill>>,
    killed: Notify,
}

fn platform() -> Arc<Platform> {
    let mut sim = SimConfig::demo(start(), 7);
    // 1001-1003 are sales-nl's; 1004 becomes sales-be's, and two copies of it sales-de's.
    let be = sim
        .campaigns
        .iter_mut()
        .find(|c| c.campaign_id == "1004")
        .expect("the demo's BE campaign");
    be.labels.push("team:sales-be".into());
    let mut de = be.clone();
    de.labels = vec!["capacity-gated".into(), "team:sales-de".into()];
    for id in ["1005", "1006"] {
        let mut c = de.clone();
        c.campaign_id = id.into();
        c.name = format!("DE Generic {id}");
        sim.campaigns.push(c);
    }
    let sim = Simulator::new(sim).expect("the simulated account");
    Arc::new(Platform {
        inner: SimAdapter::new(Arc::new(Mutex::new(sim))),
        tick: AtomicUsize::new(0),
        applied: Mutex::default(),
        armed: Mutex::default(),
        killed: Notify::new(),
    })
}

#[async_trait]
impl AdsAdapter for Platform {
    fn name(&self) -> &str {
        "two-daemons-sim"
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
        let armed = self.armed.lock().unwrap().take();
        if armed == Some(Kill::BeforeApplying) {
            self.killed.notify_one();
            return std::future::pending().await;
        }
        self.inner.apply(customer_id, campaign_id, change).await?;
        self.applied.lock().unwrap().push((
            self.tick.load(Ordering::SeqCst),
            format!("{customer_id}/{campaign_id}"),
            serde_json::to_string(change).unwrap(),
        ));
        if armed == Some(Kill::AfterApplying) {
            self.killed.notify_one();
            return std::future::pending().await;
        }
        Ok(())
    }
}

impl Platform {
    fn mutations(&self) -> Vec<Mutation> {
        let mut m = self.applied.lock().unwrap().clone();
        m.sort();
        m
    }

    /// Each campaign's status on the platform.
    async fn statuses(&self) -> Vec<(String, String)> {
        let mut s: Vec<_> = self
            .inner
            .campaigns()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.campaign_id, format!("{:?}", c.snapshot.status)))
            .collect();
        s.sort();
        s
    }
}

/// The rules host both processes load (the gate imports nothing), with a wall-clock budget
/// no run reaches on a busy machine.
fn host() -> Arc<RuleHost> {
    let limits = Limits {
        wall_clock: StdDuration::from_secs(60),
        ..Limits::default()
    };
    Arc::new(RuleHost::new(None, limits).unwrap())
}

/// A process's engine: its own pool, writer and listener on the database at `url`, with the
/// master key every process of the deployment reads.
async fn engine(url: &str, key: &MasterKey) -> Engine {
    let db = Db::connect(url).await.unwrap();
    Engine {
        store: Store::with_master_key(db, key.clone(), RetentionPolicy::default())
            .await
            .unwrap(),
    }
}

/// The time of tick `t`.
fn at(t: usize) -> DateTime<Utc> {
    start() + Duration::minutes(t as i64)
}

/// One decision as stored: the `ChangeRequested`'s time, campaign, change and reason.
type Decision = (DateTime<Utc>, String, String, String);

/// Every `ChangeRequested` (decisions) and every `ChangeApplied` (time, campaign, change) in
/// the log, sorted; and the number of `ChangeFailed`.
async fn recorded(e: &Engine) -> (Vec<Decision>, Vec<(DateTime<Utc>, String, String)>, usize) {
    let mut decoder = e.store.codec.decoder(Reveal::Redact);
    let (mut decided, mut applied, mut failed) = (Vec::new(), Vec::new(), 0);
    for kind in ["ChangeRequested", "ChangeApplied", "ChangeFailed"] {
        let recs = e
            .store
            .log
            .list(&EventFilter {
                stream: None,
                event_type: Some(kind.into()),
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
            let campaign = rec.stream_id.clone();
            match any {
                AnyEvent::Campaign(CampaignEvent::ChangeRequested {
                    change, reason, at, ..
                }) => decided.push((
                    at,
                    campaign,
                    serde_json::to_string(&change).unwrap(),
                    reason.unwrap_or_default(),
                )),
                AnyEvent::Campaign(CampaignEvent::ChangeApplied { change, at, .. }) => {
                    applied.push((at, campaign, serde_json::to_string(&change).unwrap()))
                }
                AnyEvent::Campaign(CampaignEvent::ChangeFailed { .. }) => failed += 1,
                other => panic!("not a change: {other:?}"),
            }
        }
    }
    decided.sort();
    applied.sort();
    (decided, applied, failed)
}

/// What is in `a` and not in `b`, counted with repeats (both sorted).
fn minus<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut rest = b.to_vec();
    let mut out = Vec::new();
    for x in a {
        match rest.binary_search(x) {
            Ok(i) => {
                rest.remove(i);
            }
            Err(_) => out.push(x.clone()),
        }
    }
    out
}

/// What a run left: its decisions, recorded outcomes, the platform's mutations and final
/// statuses.
struct Outcome {
    decided: Vec<Decision>,
    applied: Vec<(DateTime<Utc>, String, String)>,
    failed: usize,
    mutations: Vec<Mutation>,
    statuses: Vec<(String, String)>,
}

async fn outcome(e: &Engine, platform: &Platform) -> Outcome {
    let v = e.store.log.verify(|_| {}).await.unwrap();
    assert!(
        matches!(v, Verification::Intact { .. }),
        "chain broken: {v:?}"
    );
    let (decided, applied, failed) = recorded(e).await;
    Outcome {
        decided,
        applied,
        failed,
        mutations: platform.mutations(),
        statuses: platform.statuses().await,
    }
}

/// The single daemon on a database of its own, over the same script.
async fn reference(script: &[Vec<(&'static str, u32)>], key: &MasterKey) -> Outcome {
    let t = TestDb::postgres().await;
    let e = engine(&t.url, key).await;
    let h = host();
    save_rule(&e, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let platform = platform();
    let mut d = Daemon::start(e.clone(), h, platform.clone(), config())
        .await
        .unwrap();
    for (tick, readings) in script.iter().enumerate() {
        platform.tick.store(tick, Ordering::SeqCst);
        for (team, open) in readings {
            capacity(&e, team, *open, MAX_OPEN, at(tick)).await;
        }
        d.step(at(tick)).await.unwrap();
    }
    let out = outcome(&e, &platform).await;
    drop(d);
    drop(e);
    t.cleanup().await;
    out
}

/// A daemon process: up (its engine, and the lease and daemon while it leads) or down until
/// a tick.
struct Process {
    up: Option<Up>,
    down_until: usize,
}

struct Up {
    engine: Engine,
    leading: Option<Leading>,
}

struct Leading {
    leadership: Leadership,
    daemon: Daemon,
}

/// Takes the lease, waiting for the server to let go of a killed holder's (it does once it
/// sees the connection closed); the limit only ends a hung test.
async fn take_lease(e: &Engine) -> Leadership {
    for _ in 0..3000 {
        if let Some(l) = Leadership::try_acquire(e.store.db(), leadorch_domain::project::DEFAULT)
            .await
            .unwrap()
        {
            return l;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    panic!("the lease was not free 60 s after its holder was killed");
}

/// Takes the lease for `up` and starts a daemon from the store, as [`Daemon::lead`] does.
async fn lead(up: &mut Up, h: &Arc<RuleHost>, platform: &Arc<Platform>) {
    let leadership = take_lease(&up.engine).await;
    let daemon = Daemon::start(up.engine.clone(), h.clone(), platform.clone(), config())
        .await
        .unwrap();
    up.leading = Some(Leading { leadership, daemon });
}

/// The leader's step at tick `t`, with `kill` armed; which kill interrupted it mid-step, if
/// one did (an armed kill that found no decision or apply to interrupt does not).
async fn step(up: &mut Up, t: usize, kill: Option<Kill>, platform: &Platform) -> Option<Kill> {
    let leading = up.leading.as_mut().expect("the leader");
    assert!(leading.leadership.check().await, "tick {t}: the lease went");
    match kill {
        Some(Kill::AfterDeciding) => fail::cfg(AFTER_DECIDE, "return").unwrap(),
        Some(k @ (Kill::BeforeApplying | Kill::AfterApplying)) => {
            *platform.armed.lock().unwrap() = Some(k);
        }
        _ => {}
    }
    let result = tokio::select! {
        r = leading.daemon.step(at(t)) => Some(r),
        _ = platform.killed.notified() => None,
    };
    fail::remove(AFTER_DECIDE);
    platform.armed.lock().unwrap().take();
    match result {
        None => kill,
        Some(Ok(_)) => None,
        Some(Err(e)) if kill == Some(Kill::AfterDeciding) => {
            assert!(
                e.to_string().contains("stopped after deciding"),
                "tick {t}: {e}"
            );
            kill
        }
        Some(Err(e)) => panic!("tick {t}: {e}"),
    }
}

#[tokio::test]
async fn two_daemons_with_the_leader_killed_at_random_act_as_one() {
    let scenario = FailScenario::setup();
    let ticks: usize = std::env::var("LEADORCH_TWO_DAEMON_TICKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let seed: u64 = std::env::var("LEADORCH_TWO_DAEMON_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let mut rng = Rng::new(seed);
    let script = script(ticks, &mut rng);
    let key = MasterKey::random();
    let began = std::time::Instant::now();
    let expected = reference(&script, &key).await;
    assert!(
        expected.decided.len() >= ticks / 20,
        "the script should keep the gate busy: {} decisions",
        expected.decided.len()
    );
    // Kills are aimed at the ticks where the reference changed something (one in three),
    // and otherwise come one tick in twenty.
    let busy: Vec<bool> = (0..=ticks)
        .map(|t| expected.mutations.iter().any(|m| m.0 == t))
        .collect();

    let t = TestDb::postgres().await;
    let world = engine(&t.url, &key).await;
    let h = host();
    save_rule(&world, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let platform = platform();
    let mut procs = Vec::new();
    for _ in 0..2 {
        procs.push(Process {
            up: Some(Up {
                engine: engine(&t.url, &key).await,
                leading: None,
            }),
            down_until: 0,
        });
    }
    let (mut kills, mut takeovers, mut restarts) = (BTreeMap::new(), 0, 0);
    for (tick, readings) in script.iter().enumerate() {
        platform.tick.store(tick, Ordering::SeqCst);
        for p in procs.iter_mut() {
            if p.up.is_none() && p.down_until <= tick {
                p.up = Some(Up {
                    engine: engine(&t.url, &key).await,
                    leading: None,
                });
                restarts += 1;
            }
        }
        for (team, open) in readings {
            capacity(&world, team, *open, MAX_OPEN, at(tick)).await;
        }
        // No leader (at the start, or the leader was killed after its last step and these
        // readings came while none led): the processes that are up race for the lease, in a
        // random order; the first takes it once the server has let go of the dead one's.
        let leads = |p: &Process| p.up.as_ref().is_some_and(|u| u.leading.is_some());
        if !procs.iter().any(leads) {
            let mut order: Vec<usize> = (0..procs.len())
                .filter(|i| procs[*i].up.is_some())
                .collect();
            if order.len() == 2 && rng.below(2) == 1 {
                order.swap(0, 1);
            }
            lead(procs[order[0]].up.as_mut().unwrap(), &h, &platform).await;
            if tick > 0 {
                takeovers += 1;
            }
        }
        let l = procs.iter().position(leads).expect("a leader");
        let s = 1 - l;
        // While the leader lives, the other cannot take the lease.
        if let Some(standby) = &procs[s].up {
            let got = Leadership::try_acquire(
                standby.engine.store.db(),
                leadorch_domain::project::DEFAULT,
            )
            .await
            .unwrap();
            assert!(
                got.is_none(),
                "tick {tick}: a second daemon took the held lease"
            );
        }
        // Only while the other process is up (it takes over), and not at the last tick.
        let kill = (tick > 0
            && tick < ticks
            && procs[s].up.is_some()
            && rng.below(if busy[tick] { 3 } else { 20 }) == 0)
            .then(|| KILLS[rng.below(4) as usize]);
        let mid_step = step(procs[l].up.as_mut().unwrap(), tick, kill, &platform).await;
        if kill.is_none() {
            continue;
        }
        *kills
            .entry(mid_step.unwrap_or(Kill::BetweenTicks))
            .or_insert(0) += 1;
        // The kill: the process's daemon, lease and engine go as they stand.
        procs[l].up = None;
        procs[l].down_until = tick + 1 + rng.below(8) as usize;
        if mid_step.is_some() {
            // Killed mid-step: the standby takes over at once and finishes the tick's work.
            // (After a whole step, the next tick's readings come while no daemon leads, and
            // the standby takes over then.)
            let standby = procs[s].up.as_mut().unwrap();
            lead(standby, &h, &platform).await;
            takeovers += 1;
            assert_eq!(step(standby, tick, None, &platform).await, None);
        }
    }
    let got = outcome(&world, &platform).await;
    drop(procs);
    drop(world);
    t.cleanup().await;
    scenario.teardown();

    let missed = minus(&expected.decided, &got.decided);
    let unexpected = minus(&got.decided, &expected.decided);
    let double = minus(&got.mutations, &expected.mutations);
    let unapplied = minus(&expected.mutations, &got.mutations);
    let killed: usize = kills.values().sum();
    let per_kind = KILLS
        .iter()
        .map(|k| format!("{k:?} {}", kills.get(k).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "two daemons: {ticks} ticks (seed {seed}), {killed} kills ({per_kind}), {takeovers} takeovers, \
         {restarts} restarts; {} decisions, {} mutations; double actions {}, missed {} ({:.0} s, both runs)",
        got.decided.len(),
        got.mutations.len(),
        double.len(),
        missed.len() + unapplied.len(),
        began.elapsed().as_secs_f64(),
    );
    assert!(missed.is_empty(), "decisions missed: {missed:?}");
    assert!(
        unexpected.is_empty(),
        "decisions not made alone: {unexpected:?}"
    );
    assert!(double.is_empty(), "mutations applied twice: {double:?}");
    assert!(unapplied.is_empty(), "mutations not applied: {unapplied:?}");
    assert_eq!(got.applied, expected.applied, "changes recorded applied");
    assert_eq!(
        got.applied.len(),
        got.decided.len(),
        "every decision applied"
    );
    assert_eq!((got.failed, expected.failed), (0, 0));
    assert_eq!(
        got.statuses, expected.statuses,
        "the platform ends the same"
    );
    assert!(killed > 0 && takeovers == killed, "{kills:?}");
}
