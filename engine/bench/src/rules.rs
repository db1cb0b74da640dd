//! `leadorch bench rules`: one evaluation tick of many rules over many campaigns, and the
//! reaction latency from an acknowledged capacity event to the decision reaching the ads
//! adapter.
//!
//! Tick: N campaigns in T teams, R rules (the example rules from `rules/`, repeated with
//! varied thresholds) — leadorch's host (facts prepared once per tick, ASTs compiled once),
//! as the daemon runs it on both cores and again confined to one core, against the
//! straightforward use of Rhai (`rhai-serde`, [`naive_tick`], one thread): the same ASTs,
//! evaluated per rule and campaign with the facts converted by `rhai::serde::to_dynamic` on
//! every call, in a stock `Engine::new_raw()` with the same packages. All make the same
//! decisions (checked).
//!
//! Latency: a real daemon (`Daemon::run`) on a fresh SQLite file; a capacity reading that
//! crosses the gate is appended through the engine, and the time from the append's
//! acknowledgement to the adapter's `apply` call is measured, alternating full and free.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use clap::Args;
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdapterError, AdsAdapter, ObservedCampaign, SimAdapter};
use leadorch_daemon::Daemon;
use leadorch_domain::campaign::{Bidding, CampaignChange, CampaignStatus};
use leadorch_domain::{CapacityCommand, CapacitySnapshot};
use leadorch_evaluate::library::save_rule;
use leadorch_evaluate::tick::{self, LoadedRule};
use leadorch_rules::{CampaignFacts, Facts, Limits, Metrics, Policy, Reuse, RuleHost, TeamFacts};
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::{Metadata, StoreConfig};
use tokio::sync::mpsc;

use crate::naive::naive_tick;
use crate::Latencies;

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Campaigns in the tick
    #[arg(long, default_value_t = 1000)]
    pub campaigns: usize,
    /// Rules in the tick
    #[arg(long, default_value_t = 20)]
    pub rules: usize,
    /// Ticks measured (after 3 warm-up ticks)
    #[arg(long, default_value_t = 30)]
    pub ticks: usize,
    /// Capacity events for the latency measurement
    #[arg(long, default_value_t = 200)]
    pub events: usize,
    /// Folder of the example rules
    #[arg(long, default_value = "rules")]
    pub rules_dir: PathBuf,
    /// Campaigns whose facts change between two incremental ticks, in percent
    #[arg(long, default_value_t = 5)]
    pub changed_percent: usize,
    /// Campaigns of the large full tick (0: not measured)
    #[arg(long, default_value_t = 10_000)]
    pub large_campaigns: usize,
}

fn facts(n: usize, teams: usize) -> Facts {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut t = BTreeMap::new();
    for i in 0..teams {
        let name = format!("team-{i}");
        let max = 40;
        // Utilisation spread over 30–110 %, so rules take every branch.
        let open = (12 + (i * 31) % 33) as u32;
        t.insert(
            name.clone(),
            TeamFacts {
                team: name,
                agents_available: 4,
                open_leads: open,
                max_open_leads: max,
                updated_at: Some(at),
                leads_window: (i % 7) as u64,
                max_age_secs: None,
            },
        );
    }
    let campaigns = (0..n)
        .map(|i| {
            let team = format!("team-{}", i % teams);
            CampaignFacts {
                id: format!("123-456-7890/{}", 10_000 + i),
                customer_id: "123-456-7890".into(),
                campaign_id: (10_000 + i).to_string(),
                name: format!("Campaign {i}"),
                labels: vec![
                    "capacity-gated".into(),
                    format!("team:{team}"),
                    if i % 5 == 0 {
                        "brand".into()
                    } else {
                        "generic".into()
                    },
                ],
                team: Some(team),
                status: if i % 3 == 0 {
                    CampaignStatus::Paused
                } else {
                    CampaignStatus::Enabled
                },
                daily_budget_micros: 50_000_000 + (i as i64 % 10) * 5_000_000,
                bidding: Bidding::MaximizeConversions,
                ad_schedule: vec![],
                manual_override_until: None,
                last_change_at: BTreeMap::new(),
                pending_fields: vec![],
                pending_changes: Default::default(),
                metrics_today: Metrics {
                    impressions: 1000 + i as u64,
                    clicks: 50,
                    cost_micros: 40_000_000,
                    conversions: 3.0,
                },
                metrics_window: Metrics {
                    impressions: 200,
                    clicks: 10,
                    cost_micros: 8_000_000,
                    conversions: 1.0,
                },
                leads_today: 4,
                leads_window: 1,
                currency: None,
                refused: BTreeMap::new(),
            }
        })
        .collect();
    Facts {
        at,
        timezone: "Europe/Amsterdam".into(),
        calendars: BTreeMap::new(),
        window_minutes: 60,
        teams: t,
        campaigns,
    }
}

/// The example rules, repeated up to `n` with their thresholds and ids varied.
fn rule_sources(dir: &PathBuf, n: usize) -> Result<Vec<(String, String)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("rules folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *.rhai rules in {}", dir.display());
    }
    let mut out = Vec::new();
    for i in 0..n {
        let f = &files[i % files.len()];
        let src = std::fs::read_to_string(f)?;
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("rule");
        // Vary the thresholds a little so that copies are not identical.
        let varied = src
            .replace("0.9", &format!("0.{}", 85 + i % 10))
            .replace("0.7", &format!("0.{}", 65 + i % 10));
        out.push((format!("{stem}-{i}"), varied));
    }
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Counts nothing; reports the moment each change reaches it.
struct Probe {
    inner: SimAdapter,
    tx: mpsc::UnboundedSender<Instant>,
}

#[async_trait]
impl AdsAdapter for Probe {
    fn name(&self) -> &str {
        "probe"
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
        let _ = self.tx.send(Instant::now());
        self.inner.apply(customer_id, campaign_id, change).await
    }
}

const GATE: &str = r#"//! on: capacity_changed
//! scope: teams=sales-be
if team == () { return; }
if team.utilisation >= 0.9 && !campaign.paused { return pause("full"); }
if team.utilisation < 0.7 && campaign.paused { return resume("room"); }
"#;

/// `ticks` measured ticks of the daemon's `tick::evaluate` after 3 warm-up ticks: their
/// times in milliseconds and the proposals of a tick.
fn ticks(
    host: &RuleHost,
    rules: &[Arc<LoadedRule>],
    facts: &Facts,
    policy: &Policy,
    ticks: usize,
) -> (Vec<f64>, usize) {
    let mut times = Vec::new();
    let mut decisions = 0;
    for i in 0..ticks + 3 {
        let started = Instant::now();
        let outcome = tick::evaluate(host, rules, facts.clone(), policy);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if i >= 3 {
            times.push(ms);
        }
        decisions = outcome
            .runs
            .iter()
            .map(|(_, r)| r.proposals.len())
            .sum::<usize>();
    }
    (times, decisions)
}

/// The facts of `ticks` consecutive incremental ticks after `base`: each changes `percent` %
/// of the campaigns from the one before (the next slice of them: status flipped, a lead
/// more), as a daemon sees between two evaluations when a few campaigns moved.
fn changing(base: &Facts, ticks: usize, percent: usize) -> Vec<Facts> {
    let n = base.campaigns.len();
    let k = (n * percent / 100).clamp(1, n.max(1));
    let mut out = Vec::with_capacity(ticks);
    let mut f = base.clone();
    for tick in 0..ticks {
        for j in 0..k {
            let c = &mut f.campaigns[(tick * k + j) % n];
            c.status = if c.status == CampaignStatus::Paused {
                CampaignStatus::Enabled
            } else {
                CampaignStatus::Paused
            };
            c.leads_today += 1;
        }
        out.push(f.clone());
    }
    out
}

/// Incremental ticks: `tick::evaluate_reusing` over each of `facts` in turn (the first one
/// fills the kept results and is not timed). Times in ms, and the mean share of rule runs
/// replayed per timed tick.
fn incremental_ticks(
    host: &RuleHost,
    rules: &[Arc<LoadedRule>],
    base: &Facts,
    facts: Vec<Facts>,
    policy: &Policy,
) -> (Vec<f64>, f64) {
    let mut reuse = Reuse::new();
    tick::evaluate_reusing(host, rules, base.clone(), policy, &mut reuse);
    let mut times = Vec::new();
    let (mut reused, mut all) = (0usize, 0usize);
    for f in facts {
        let started = Instant::now();
        let outcome = tick::evaluate_reusing(host, rules, f, policy, &mut reuse);
        times.push(started.elapsed().as_secs_f64() * 1e3);
        reused += outcome.reuse.reused;
        all += outcome.reuse.reused + outcome.reuse.evaluated;
    }
    (times, reused as f64 / all.max(1) as f64)
}

/// `n` runs of the peer's tick (after one untimed), in ms, and its proposals.
fn peer_ticks(
    host: &RuleHost,
    rules: &[Arc<LoadedRule>],
    facts: &Facts,
    n: usize,
) -> Result<(Vec<f64>, usize)> {
    let compiled: Vec<_> = rules.iter().map(|r| r.compiled.clone()).collect();
    let mut times = Vec::new();
    let mut decisions = 0;
    for i in 0..n + 1 {
        let started = Instant::now();
        decisions = naive_tick(host, &compiled, facts)?;
        if i >= 1 {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times, decisions))
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Runs `f` on a thread of its own confined to one CPU; the threads it starts (the tick's
/// workers and fact builders) inherit that, so all of `f` shares one core. `None` where
/// that cannot be done (not Linux).
fn on_one_core<T: Send>(f: impl FnOnce() -> T + Send) -> Result<Option<T>> {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .name("leadorch-one-core".to_string())
            .spawn_scoped(s, || -> Result<Option<T>> {
                if !confine_to_one_cpu()? {
                    return Ok(None);
                }
                Ok(Some(f()))
            })?;
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("the one-core tick panicked"))?
    })
}

/// Confines the calling thread to the first CPU it may run on. `false` where not supported.
#[cfg(target_os = "linux")]
fn confine_to_one_cpu() -> Result<bool> {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let allowed = sched_getaffinity(None).context("reading the CPU affinity")?;
    let cpu = (0..CpuSet::MAX_CPU)
        .find(|&i| allowed.is_set(i))
        .context("no CPU to run on")?;
    let mut one = CpuSet::new();
    one.set(cpu);
    sched_setaffinity(None, &one).context("confining the one-core tick to one CPU")?;
    Ok(true)
}

/// Confines the calling thread to the first CPU it may run on. `false` where not supported.
#[cfg(not(target_os = "linux"))]
fn confine_to_one_cpu() -> Result<bool> {
    Ok(false)
}

pub async fn run(args: &RulesArgs) -> Result<ExitCode> {
    // A wall-clock budget no run reaches: on a busy machine (or confined to one core) a rule
    // run can pass the daemon's 50 ms and be stopped, which would change the work compared.
    // Speed per campaign is the same under any budget.
    let limits = Limits {
        wall_clock: Duration::from_secs(60),
        ..Limits::default()
    };
    let host = RuleHost::new(Some(&args.rules_dir.join("lib")), limits.clone())
        .with_context(|| "loading the rules library")?;
    let sources = rule_sources(&args.rules_dir, args.rules)?;
    let mut rules = Vec::new();
    for (id, src) in &sources {
        rules.push(Arc::new(LoadedRule {
            id: id.clone(),
            version: 1,
            compiled: host.compile(id, src)?,
        }));
    }
    let facts = facts(args.campaigns, (args.campaigns / 50).max(1));
    let policy = Config::default().policy();
    eprintln!(
        "tick: {} campaigns x {} rules …",
        args.campaigns, args.rules
    );
    let (mut ours, decisions) = ticks(&host, &rules, &facts, &policy, args.ticks);
    eprintln!("tick: leadorch on one core …");
    let mut one_core = on_one_core(|| ticks(&host, &rules, &facts, &policy, args.ticks))?;
    eprintln!("tick: rhai-serde …");
    let (peer, peer_decisions) = peer_ticks(&host, &rules, &facts, (args.ticks / 3).max(3))?;
    if peer_decisions != decisions {
        bail!("the peer made {peer_decisions} proposals, leadorch {decisions}: not the same work");
    }
    if let Some((_, one_core_decisions)) = &one_core {
        if *one_core_decisions != decisions {
            bail!("leadorch made {one_core_decisions} proposals on one core, {decisions} on all");
        }
    }
    ours.sort_by(f64::total_cmp);
    if let Some((times, _)) = &mut one_core {
        times.sort_by(f64::total_cmp);
    }

    eprintln!(
        "incremental tick: {} % of campaigns changed per tick …",
        args.changed_percent
    );
    let variants = changing(&facts, args.ticks, args.changed_percent);
    let (incremental, reused_share) =
        incremental_ticks(&host, &rules, &facts, variants.clone(), &policy);
    let incremental = sorted(incremental);
    // Two parts of every tick that cover every campaign, reused or not: the digest of the
    // facts recorded with the evaluation, and the facts turned into Rhai maps.
    let part = |f: &dyn Fn()| {
        let mut times: Vec<f64> = (0..11)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let digest_ms = part(&|| {
        std::hint::black_box(tick::digest(&facts));
    });
    let prepare_ms = part(&|| {
        std::hint::black_box(host.prepare(&facts));
    });
    let incremental_one =
        on_one_core(|| incremental_ticks(&host, &rules, &facts, variants, &policy))?
            .map(|(t, _)| sorted(t));

    let large = if args.large_campaigns > 0 {
        eprintln!(
            "tick: {} campaigns x {} rules …",
            args.large_campaigns, args.rules
        );
        let big = self::facts(args.large_campaigns, (args.large_campaigns / 50).max(1));
        let few = (args.ticks / 3).max(3);
        let (times, big_decisions) = ticks(&host, &rules, &big, &policy, few);
        let one = on_one_core(|| ticks(&host, &rules, &big, &policy, few))?.map(|(t, _)| sorted(t));
        eprintln!("tick: rhai-serde, {} campaigns …", args.large_campaigns);
        let (peer_big, peer_big_decisions) = peer_ticks(&host, &rules, &big, 2)?;
        if peer_big_decisions != big_decisions {
            bail!(
                "the peer made {peer_big_decisions} proposals over {} campaigns, leadorch {big_decisions}",
                args.large_campaigns
            );
        }
        Some((sorted(times), one, peer_big))
    } else {
        None
    };

    eprintln!(
        "latency: {} capacity events through a running daemon …",
        args.events
    );
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let engine = Engine::open(&StoreConfig::new(url)).await?;
    save_rule(&engine, &host, "gate", GATE, true, Utc::now(), "bench").await?;
    let world = SimConfig::demo(Utc::now(), 7);
    let sim = Simulator::new(world.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let adapter = Arc::new(Probe {
        inner: SimAdapter::new(Arc::new(Mutex::new(sim))),
        tx,
    });
    let mut config = Config::default();
    config.policy.min_dwell = "0m".into();
    // The simulated world's campaign -> team mapping, as `daemon --adapter sim` has it (BE
    // Generic's team comes from it, not from a label).
    leadorch_daemon::demo::sim_facts(&mut config.facts, &world);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let daemon = {
        let (e, a) = (engine.clone(), adapter.clone());
        let h = Arc::new(RuleHost::new(
            Some(&args.rules_dir.join("lib")),
            Limits::default(),
        )?);
        tokio::spawn(async move { Daemon::run(e, h, a, config, stop_rx, &mut |_| {}).await })
    };
    // Let it take the lead and observe the campaigns.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let meta = Metadata::actor("bench");
    let mut micros = Vec::new();
    for i in 0..args.events {
        let open = if i % 2 == 0 { 40 } else { 4 };
        engine
            .execute::<CapacitySnapshot>(
                "sales-be",
                CapacityCommand::Record {
                    team: "sales-be".into(),
                    agents_available: 4,
                    open_leads: open,
                    max_open_leads: 40,
                    source: "bench".into(),
                    max_age_secs: None,
                    at: Utc::now(),
                },
                &meta,
            )
            .await?;
        let acked = Instant::now();
        let applied = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .context("the daemon did not act within 10 s")?
            .context("the daemon stopped")?;
        micros.push(applied.saturating_duration_since(acked).as_micros() as u32);
    }
    stop_tx.send(true).ok();
    daemon.await??;
    let lat = Latencies::new(micros);

    let p50 = percentile(&ours, 50.0);
    let p99 = percentile(&ours, 99.0);
    let peer50 = percentile(&peer, 50.0);
    println!(
        "leadorch bench rules: one tick of {} campaigns x {} rules ({} proposals), {} ticks; reaction latency over {} capacity events",
        args.campaigns, args.rules, decisions, args.ticks, args.events
    );
    println!("{:<28} {:>10} {:>10}", "contender", "tick p50", "tick p99");
    println!("{:<28} {:>8.1} ms {:>7.1} ms", "leadorch", p50, p99);
    println!(
        "{:<28} {:>8.1} ms {:>7.1} ms",
        "rhai-serde",
        peer50,
        percentile(&peer, 99.0)
    );
    let inc50 = percentile(&incremental, 50.0);
    println!(
        "incremental tick, {} % of campaigns changed (kept results reused, 2 threads): p50 {:.2} ms, p99 {:.2} ms; {:.1} % of rule runs replayed; leadorch/rhai-serde = {:.1}",
        args.changed_percent,
        inc50,
        percentile(&incremental, 99.0),
        reused_share * 100.0,
        peer50 / inc50.max(1e-9)
    );
    println!(
        "of every tick (full or incremental), over all {} campaigns: facts digest {:.2} ms, facts prepared as Rhai maps {:.2} ms (median of 11)",
        args.campaigns, digest_ms, prepare_ms
    );
    match &incremental_one {
        Some(times) => println!(
            "incremental tick, one core: p50 {:.2} ms, p99 {:.2} ms; leadorch/rhai-serde = {:.1}",
            percentile(times, 50.0),
            percentile(times, 99.0),
            peer50 / percentile(times, 50.0).max(1e-9)
        ),
        None => println!("incremental tick, one core: not measured (needs Linux)"),
    }
    if let Some((times, one, peer_big)) = &large {
        let big50 = percentile(times, 50.0);
        let peer_big50 = percentile(peer_big, 50.0);
        println!(
            "full tick, {} campaigns x {} rules: leadorch p50 {:.1} ms, p99 {:.1} ms (2 threads); one core p50 {}; rhai-serde p50 {:.0} ms; leadorch/rhai-serde = {:.2}",
            args.large_campaigns,
            args.rules,
            big50,
            percentile(times, 99.0),
            one.as_ref()
                .map_or("not measured".to_string(), |t| format!("{:.1} ms", percentile(t, 50.0))),
            peer_big50,
            peer_big50 / big50.max(1e-9)
        );
        eprintln!(
            "goal full tick {} x {} <= 200 ms: {} ({big50:.1} ms p50)",
            args.large_campaigns,
            args.rules,
            if big50 <= 200.0 { "met" } else { "missed" }
        );
    }
    eprintln!(
        "goal incremental tick ({} % changed) <= 3 ms: {} ({inc50:.2} ms p50)",
        args.changed_percent,
        if inc50 <= 3.0 { "met" } else { "missed" }
    );
    println!(
        "reaction latency (append acknowledged -> adapter apply): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.percentile_ms(50.0).unwrap_or(0.0),
        lat.percentile_ms(99.0).unwrap_or(0.0),
        lat.percentile_ms(100.0).unwrap_or(0.0)
    );
    eprintln!(
        "goal tick <= 20 ms: {} ({p50:.1} ms p50); goal latency p99 <= 250 ms: {}",
        if p50 <= 20.0 { "met" } else { "missed" },
        if lat.percentile_ms(99.0).unwrap_or(f64::MAX) <= 250.0 {
            "met"
        } else {
            "missed"
        }
    );
    match &one_core {
        Some((times, _)) => {
            let one50 = percentile(times, 50.0);
            println!(
                "one core each (leadorch's threads confined to one CPU; rhai-serde is one thread): leadorch tick p50 {:.1} ms, p99 {:.1} ms; leadorch/rhai-serde = {:.2}",
                one50,
                percentile(times, 99.0),
                peer50 / one50.max(1e-9)
            );
        }
        None => println!("one core each: not measured (confining leadorch to one CPU needs Linux)"),
    }
    println!("ratio leadorch/rhai-serde = {:.2}", peer50 / p50.max(1e-9));
    Ok(ExitCode::SUCCESS)
}
