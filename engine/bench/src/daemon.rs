//! `bench daemon`: a daemon's start on a large log and its memory over simulated operation.
//!
//! 1. **Start**, twice, each `leadorch daemon --adapter sim --once` as its own process on a copy
//!    of a seeded database (`leadorch seed`): first with no kept facts view (what every start
//!    did before ADR 0048, and what a start after an upgrade still does: the peer, "fold from
//!    the log"), then again, starting from the view the first run kept. For each: the whole
//!    command's wall time, the time the daemon says its facts view took, and the process's peak
//!    RSS (`VmHWM`, sampled from `/proc` while it runs).
//! 2. **Memory over simulated operation**: this binary again, as a child process, runs the
//!    daemon on the same database as `daemon --adapter sim` does (the simulated account
//!    continuing the recorded world, the database's rules), then `--minutes` simulated minutes:
//!    the world advances a minute, its events are recorded, the daemon steps. RSS after the
//!    start (the first step done) and at the end.
//!
//! Goals (issue 18): start in ≤ 2 s from the checkpoint on a 1,000,000-event log; RSS ≤ 256 MB
//! after start and ≤ 5 % growth over an hour of simulated operation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_daemon::adapter::SimAdapter;
use leadorch_daemon::{demo, world, Daemon};
use leadorch_rules::RuleHost;
use leadorch_sim::SimConfig;
use leadorch_store::{Db, MasterKey, Metadata, RetentionPolicy, Store, WriteTx};

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// A seeded SQLite database file to run on (copied first, with the master.key beside
    /// it); without it, a fresh database is seeded with --events by `leadorch seed`
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Events seeded when no --db is given
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Simulated minutes of operation after the start, for the memory figure
    #[arg(long, default_value_t = 60)]
    pub minutes: u64,
    /// (used by the benchmark itself) run the daemon in this process on this database for
    /// --minutes simulated minutes, printing its RSS
    #[arg(long, hide = true, value_name = "FILE")]
    pub child: Option<PathBuf>,
}

pub async fn run(args: &DaemonArgs) -> Result<ExitCode> {
    if let Some(db) = &args.child {
        return child(db, args.minutes).await;
    }
    let leadorch = beside_this_binary("leadorch")?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("leadorch.db");
    match &args.db {
        Some(from) => copy_database(from, &db)?,
        None => {
            eprintln!(
                "seeding {} events (leadorch seed) …",
                crate::thousands(args.events)
            );
            let started = Instant::now();
            let status = Command::new(&leadorch)
                .args(["seed", "--events", &args.events.to_string()])
                .envs(env_for(&db))
                .stdout(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("leadorch seed failed ({status})");
            }
            eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
        }
    }
    let events = events_in(&db).await?;
    // The peer: no kept view to start from.
    drop_kept_view(&db).await?;
    eprintln!("start without a kept view (leadorch daemon --adapter sim --once) …");
    let folded = once(&leadorch, &db)?;
    if !folded.facts_line.contains("folded from the log") {
        bail!(
            "the first start did not fold the log: {:?}",
            folded.facts_line
        );
    }
    eprintln!("start from the kept view (the same command again) …");
    let kept = once(&leadorch, &db)?;
    if !kept.facts_line.contains("from the kept view") {
        bail!(
            "the second start did not use the kept view: {:?}",
            kept.facts_line
        );
    }
    eprintln!(
        "{} simulated minutes of operation (this binary, as the daemon) …",
        args.minutes
    );
    let memory = operate(&db, args.minutes)?;

    println!(
        "database: SQLite (WAL, synchronous=FULL), {} events seeded by `leadorch seed`; \
         each start is its own process, one --once cycle",
        crate::thousands(events)
    );
    let header = [
        "start",
        "whole command s",
        "facts view ms",
        "peak RSS MB",
        "the daemon said",
    ];
    println!("{}", header.join("  |  "));
    for (name, r) in [("fold from the log (peer)", &folded), ("leadorch", &kept)] {
        println!(
            "{name}  |  {:.2}  |  {}  |  {:.0}  |  {}",
            r.wall.as_secs_f64(),
            r.facts_ms.map_or("-".into(), |ms| ms.to_string()),
            r.peak_kb as f64 / 1024.0,
            r.facts_line
        );
    }
    let growth = (memory.end_kb as f64 / memory.start_kb as f64 - 1.0) * 100.0;
    println!(
        "memory over {} simulated minutes (steps {}, events recorded {}): RSS after start {:.0} MB, at the end {:.0} MB ({growth:+.1} %), peak {:.0} MB",
        args.minutes,
        memory.steps,
        memory.recorded,
        memory.start_kb as f64 / 1024.0,
        memory.end_kb as f64 / 1024.0,
        memory.peak_kb as f64 / 1024.0,
    );
    println!(
        "goals: start <= 2 s: {}; RSS after start <= 256 MB: {}; growth <= 5 %: {}",
        verdict(kept.wall <= Duration::from_secs(2)),
        verdict(memory.start_kb <= 256 * 1024),
        verdict(growth <= 5.0)
    );
    println!(
        "ratio leadorch/fold-from-the-log = {:.2}",
        folded.wall.as_secs_f64() / kept.wall.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// The `leadorch` binary built beside this one.
fn beside_this_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
        .with_context(|| {
            format!(
                "no `{name}` binary beside {}: build it first (cargo build --release)",
                exe.display()
            )
        })?;
    Ok(path)
}

/// What a `leadorch` child process needs to find the database and its master key.
fn env_for(db: &Path) -> Vec<(&'static str, String)> {
    let home = db.parent().unwrap_or(Path::new(".")).display().to_string();
    vec![
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("LEADORCH_HOME", home),
        ("LEADORCH_LOG", "warn".into()),
    ]
}

/// Copies a database file, its WAL when there is one, and the master key beside it.
fn copy_database(from: &Path, to: &Path) -> Result<()> {
    if !from.is_file() {
        bail!("--db {}: no such file", from.display());
    }
    std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    let wal = PathBuf::from(format!("{}-wal", from.display()));
    if wal.is_file() {
        std::fs::copy(&wal, format!("{}-wal", to.display()))?;
    }
    let key = from.with_file_name("master.key");
    if !key.is_file() {
        bail!(
            "--db {}: no master.key beside it (the seeded data's keys are sealed with it)",
            from.display()
        );
    }
    std::fs::copy(&key, to.with_file_name("master.key"))?;
    Ok(())
}

async fn events_in(db: &Path) -> Result<u64> {
    let d = Db::connect(&format!("sqlite://{}", db.display())).await?;
    let master = MasterKey::load_existing(&db.with_file_name("master.key"))?;
    let store = Store::with_master_key(d.clone(), master, RetentionPolicy::default()).await?;
    let head = store.log.head().await?.position;
    d.close().await;
    Ok(head)
}

async fn drop_kept_view(db: &Path) -> Result<()> {
    let d = Db::connect(&format!("sqlite://{}", db.display())).await?;
    let mut tx = WriteTx::begin(&d).await?;
    tx.drop_kept_facts().await?;
    tx.commit().await?;
    d.close().await;
    Ok(())
}

/// One `leadorch daemon --adapter sim --once`, measured.
struct Start {
    wall: Duration,
    peak_kb: u64,
    facts_line: String,
    facts_ms: Option<u64>,
}

fn once(leadorch: &Path, db: &Path) -> Result<Start> {
    let started = Instant::now();
    let mut child = Command::new(leadorch)
        .args(["daemon", "--adapter", "sim", "--once"])
        .envs(env_for(db))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("no stderr")?;
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let pid = child.id();
    let mut peak_kb = 0;
    let status = loop {
        if let Some(kb) = proc_status_kb(pid, "VmHWM:") {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let lines = lines.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "leadorch daemon --once failed ({status}):\n{}",
            lines.join("\n")
        );
    }
    let facts_line = lines
        .iter()
        .find(|l| l.starts_with("leadorch daemon: facts"))
        .cloned()
        .with_context(|| {
            format!(
                "the daemon did not say how it started:\n{}",
                lines.join("\n")
            )
        })?;
    // "… in T ms"
    let facts_ms = facts_line
        .rsplit_once(" in ")
        .and_then(|(_, t)| t.strip_suffix(" ms"))
        .and_then(|t| t.parse().ok());
    Ok(Start {
        wall,
        peak_kb,
        facts_line,
        facts_ms,
    })
}

/// A field of `/proc/PID/status` in kB (`VmRSS:`, `VmHWM:`); `None` once the process is gone.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// What the child process reports.
struct Memory {
    start_kb: u64,
    end_kb: u64,
    peak_kb: u64,
    steps: u64,
    recorded: u64,
}

/// Runs this binary as the daemon for `minutes` simulated minutes and reads its report.
fn operate(db: &Path, minutes: u64) -> Result<Memory> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["daemon", "--minutes", &minutes.to_string(), "--child"])
        .arg(db)
        .envs(env_for(db))
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("the daemon's run failed ({}): {text}", out.status);
    }
    let field = |name: &str| -> Result<u64> {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in the daemon's report: {text}"))
    };
    Ok(Memory {
        start_kb: field("start_kb")?,
        end_kb: field("end_kb")?,
        peak_kb: field("peak_kb")?,
        steps: field("steps")?,
        recorded: field("recorded")?,
    })
}

/// The child: the daemon as `leadorch daemon --adapter sim` builds it, stepped on a simulated
/// clock.
async fn child(db: &Path, minutes: u64) -> Result<ExitCode> {
    let own = |what: &str| proc_status_kb(std::process::id(), what).unwrap_or(0);
    let d = Db::connect(&format!("sqlite://{}", db.display())).await?;
    let master = MasterKey::load_existing(&db.with_file_name("master.key"))?;
    let store = Store::with_master_key(d.clone(), master, RetentionPolicy::default()).await?;
    let engine = Engine { store };
    let now = Utc::now();
    // The configuration `daemon --adapter sim` uses on a simulated database with no config
    // file: the demo world's teams and calendars, its time zone.
    let mut config = Config {
        actor: "daemon".into(),
        ..Config::default()
    };
    let demo_world = SimConfig::demo(now, 0);
    config.facts.timezone = demo_world.timezone.clone();
    demo::sim_facts(&mut config.facts, &demo_world);
    let lib = Path::new("rules/lib");
    let host = Arc::new(
        RuleHost::new_or_built_in(lib.is_dir().then_some(lib), config.limits())
            .map_err(|e| anyhow::anyhow!("rules host: {e}"))?,
    );
    let (simulator, _) = world::simulated_account(&engine, now).await?;
    let sim = Arc::new(Mutex::new(simulator));
    let adapter = Arc::new(SimAdapter::new(sim.clone()));
    let mut daemon = Daemon::start(engine.clone(), host, adapter, config).await?;
    let now = sim
        .lock()
        .map_err(|_| anyhow::anyhow!("simulator poisoned"))?
        .now();
    daemon.step(now).await?;
    let start_kb = own("VmRSS:");
    let ingest = Metadata::actor("sim");
    let mut recorded = 0u64;
    for _ in 0..minutes {
        let (events, now) = {
            let mut s = sim
                .lock()
                .map_err(|_| anyhow::anyhow!("simulator poisoned"))?;
            let events = s.advance(1);
            (events, s.now())
        };
        for e in events {
            demo::ingest_event(&engine, &ingest, e).await?;
            recorded += 1;
        }
        daemon.step(now).await?;
    }
    let end_kb = own("VmRSS:");
    println!(
        "start_kb={start_kb} end_kb={end_kb} peak_kb={} steps={} recorded={recorded}",
        own("VmHWM:"),
        minutes + 1
    );
    d.close().await;
    Ok(ExitCode::SUCCESS)
}
