//! What each command does: parse, call the engine, print.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use leadorch_core::projection::{self, Projections};
use leadorch_core::seed::{seed, SeedOptions};
use leadorch_core::{retention, subjects, Engine};
use leadorch_store::{
    db, EventFilter, ExpectedVersion, Metadata, NewEvent, Reveal, StoreConfig, Verification,
};
use serde_json::json;

use crate::{
    AuditCommand, Cli, Command, EventsCommand, Global, ListArgs, ReplayArgs, RetentionCommand,
    SeedArgs, SubjectsCommand, EXIT_FINDING,
};

/// The store configuration the global options describe.
pub fn store_config(global: &Global) -> StoreConfig {
    let url = global
        .database_url
        .clone()
        .unwrap_or_else(db::default_database_url);
    let mut config = StoreConfig::new(url);
    config.master_key_file = global.master_key_file.clone();
    config
}

pub fn actor(global: &Global) -> String {
    global.actor.clone().unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    })
}

pub async fn open(global: &Global) -> Result<Engine> {
    let config = store_config(global);
    Engine::open(&config).await.with_context(|| {
        format!(
            "opening the database {}",
            db::redact_url(&config.database_url)
        )
    })
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Events(EventsCommand::List(args)) => list(g, args).await,
        Command::Demo(args) => crate::operate::demo(g, args).await,
        Command::Daemon(args) => crate::operate::daemon(g, args).await,
        Command::Rules(cmd) => crate::operate::rules(g, cmd).await,
        Command::Explain(args) => crate::operate::explain(g, args).await,
        Command::Google(cmd) => crate::google::run(g, cmd).await,
        Command::Audit(AuditCommand::Verify) => verify(g).await,
        Command::Replay(args) => replay(g, args).await,
        Command::Subjects(SubjectsCommand::Export { id, output }) => {
            let engine = open(g).await?;
            let export = subjects::export(&engine, &id, &actor(g), Utc::now()).await?;
            let text = serde_json::to_string_pretty(&export)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "exported {} events of subject {id} to {}",
                        export.events.len(),
                        path.display()
                    );
                }
                None => outln!("{text}")?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Subjects(SubjectsCommand::Erase { id }) => {
            let engine = open(g).await?;
            let r = subjects::erase(&engine, &id, &actor(g), Utc::now()).await?;
            let purposes: Vec<&str> = r.keys_destroyed.iter().map(|p| p.as_str()).collect();
            if r.already_erased {
                outln!(
                    "subject {id} was already erased; keys destroyed now: {}",
                    if purposes.is_empty() {
                        "none".to_string()
                    } else {
                        purposes.join(", ")
                    }
                )?;
            } else {
                outln!(
                    "erased subject {id}: destroyed {} key(s) ({}); personal fields of {} event(s) are now unreadable; the chain is unchanged",
                    purposes.len(),
                    purposes.join(", "),
                    r.events_affected
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Retention(RetentionCommand::Enforce { now }) => {
            let engine = open(g).await?;
            let now = match now {
                Some(t) => parse_time(&t)?,
                None => Utc::now(),
            };
            let done = retention::enforce(&engine, now, &actor(g)).await?;
            outln!(
                "retention: {} key(s) past their window destroyed",
                done.len()
            )?;
            for e in done {
                outln!("  {} {}", e.subject_id, e.purpose.as_str())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed(args) => seed_cmd(g, args).await,
        Command::Bench(cmd) => crate::bench::run(g, cmd).await,
        Command::DebugAppendLoop { stream } => append_loop(g, &stream).await,
    }
}

async fn list(g: &Global, args: ListArgs) -> Result<ExitCode> {
    let engine = open(g).await?;
    let filter = EventFilter {
        stream: args.stream,
        event_type: args.event_type,
        after: args.after,
        until: None,
        limit: args.limit,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut decoder = engine.store.codec.decoder(if args.reveal {
        Reveal::Decrypt
    } else {
        Reveal::Redact
    });
    if !args.json {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<48}  {:>4}  {:<22}  ACTOR",
            "POSITION", "RECORDED_AT", "STREAM", "VER", "TYPE"
        )?;
    }
    // Page through the log so a long listing never sits in memory.
    let mut page = filter.clone();
    let mut left = filter.limit;
    loop {
        page.limit = Some(left.unwrap_or(u64::MAX).min(10_000));
        let events = engine.store.log.list(&page).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        for e in &events {
            if args.json {
                let payload = decoder.payload(e).await?;
                let meta: serde_json::Value =
                    serde_json::from_slice(&e.metadata).unwrap_or(serde_json::Value::Null);
                let line = json!({
                    "position": e.position,
                    "stream": e.stream_id,
                    "stream_version": e.stream_version,
                    "event_id": e.event_id,
                    "type": e.event_type,
                    "schema_version": e.schema_version,
                    "recorded_at": e.recorded_at_utc().to_rfc3339_opts(SecondsFormat::Micros, true),
                    "metadata": meta,
                    "payload": payload,
                    "hash": hex(&e.hash),
                });
                writeln!(out, "{line}")?;
            } else {
                writeln!(
                    out,
                    "{:>8}  {:<27}  {:<48}  {:>4}  {:<22}  {}",
                    e.position,
                    e.recorded_at_utc()
                        .to_rfc3339_opts(SecondsFormat::Micros, true),
                    e.stream_id,
                    e.stream_version,
                    e.event_type,
                    e.metadata().actor
                )?;
            }
        }
        page.after = last;
        if let Some(l) = left.as_mut() {
            *l -= events.len() as u64;
            if *l == 0 {
                break;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bar:40.cyan/blue} {pos}/{len} events ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

async fn verify(g: &Global) -> Result<ExitCode> {
    let engine = open(g).await?;
    let head = engine.store.log.head().await?;
    let bar = progress_bar(head.position, "verifying");
    let started = Instant::now();
    let outcome = engine.store.log.verify(|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    match outcome {
        Verification::Intact { count, head } => {
            outln!(
                "chain intact: {count} events, head {} ({:.2} s)",
                hex(&head),
                started.elapsed().as_secs_f64()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Verification::Broken { position, reason } => {
            outln!("chain broken at position {position}: {reason}")?;
            Ok(ExitCode::from(EXIT_FINDING))
        }
    }
}

/// A position (digits) or a time (RFC 3339 or a date, UTC).
enum AsOf {
    Position(u64),
    Time(DateTime<Utc>),
}

fn parse_as_of(s: &str) -> Result<AsOf> {
    if let Ok(p) = s.parse::<u64>() {
        return Ok(AsOf::Position(p));
    }
    Ok(AsOf::Time(parse_time(s)?))
}

pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    bail!(
        "{s:?} is neither a position nor a time: use e.g. 1200, 2026-11-01 or 2026-11-01T12:00:00Z"
    )
}

async fn replay(g: &Global, args: ReplayArgs) -> Result<ExitCode> {
    let engine = open(g).await?;
    let head = engine.store.log.head().await?;
    let started = Instant::now();
    let mut times = None;
    let (views, target) = match args.as_of {
        None => {
            let bar = progress_bar(head.position, "replaying");
            let (views, t) =
                projection::rebuild_timed(&engine.store, &mut |p| bar.set_position(p)).await?;
            bar.finish_and_clear();
            times = Some(t);
            (views, None)
        }
        Some(s) => {
            let position = match parse_as_of(&s)? {
                AsOf::Position(p) => p.min(head.position),
                AsOf::Time(t) => {
                    engine
                        .store
                        .log
                        .position_at_time(t.timestamp_micros())
                        .await?
                }
            };
            let bar = progress_bar(position, "replaying");
            let views =
                projection::as_of(&engine.store, position, &mut |p| bar.set_position(p)).await?;
            bar.finish_and_clear();
            (views, Some(position))
        }
    };
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&summary_json(&views, target))?
        )?;
        std::mem::forget(views);
        return Ok(ExitCode::SUCCESS);
    }
    let rate = views.applied as f64 / secs.max(1e-9);
    match target {
        None => {
            outln!(
                "rebuilt read models from {} events in {secs:.2} s ({rate:.0} events/s)",
                views.applied
            )?;
            if let Some(t) = times {
                outln!(
                    "  read, decoded and folded in {:.2} s; saved {} rows in {:.2} s",
                    t.fold.as_secs_f64(),
                    views.rows(),
                    t.save.as_secs_f64()
                )?;
            }
        }
        Some(p) => outln!(
            "read models as of position {p} ({}), computed in memory from {} events in {secs:.2} s; nothing stored was changed",
            at_string(views.recorded_at),
            views.applied
        )?,
    }
    print_views(&views)?;
    // The process ends here: freeing half a million rows one by one took a quarter of a
    // second after a 1M-event replay, for memory the exit returns anyway.
    std::mem::forget(views);
    Ok(ExitCode::SUCCESS)
}

fn at_string(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "the beginning".into())
}

fn print_views(v: &Projections) -> std::io::Result<()> {
    outln!(
        "campaigns {}, teams {}, leads {}, consents {}, data subjects {}, rules {}, google accounts {}, audited streams {}",
        v.campaigns.len(),
        v.capacity.len(),
        v.leads.len(),
        v.consents.len(),
        v.subject_index.len(),
        v.rules.len(),
        v.google_accounts.len(),
        v.audit.len()
    )?;
    if !v.campaigns.is_empty() {
        outln!(
            "\n{:<24} {:<22} {:<9} {:>12}  MANUAL HOLD UNTIL",
            "CAMPAIGN",
            "NAME",
            "STATUS",
            "BUDGET/DAY"
        )?;
        for (id, doc) in v.campaigns.iter() {
            let s = &doc.state;
            let snap = s.snapshot();
            outln!(
                "{:<24} {:<22} {:<9} {:>12}  {}",
                id,
                snap.map(|x| x.name.as_str()).unwrap_or("?"),
                s.status()
                    .map(|x| format!("{x:?}"))
                    .unwrap_or_else(|| "?".into()),
                snap.map(|x| format!("{:.2}", x.daily_budget_micros as f64 / 1e6))
                    .unwrap_or_default(),
                s.manual_override_until()
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "-".into())
            )?;
        }
    }
    if !v.capacity.is_empty() {
        outln!(
            "\n{:<12} {:>7} {:>6} {:>6} {:>8}  AT",
            "TEAM",
            "AGENTS",
            "OPEN",
            "MAX",
            "UTIL"
        )?;
        for (team, doc) in v.capacity.iter() {
            let s = &doc.state;
            outln!(
                "{:<12} {:>7} {:>6} {:>6} {:>8}  {}",
                team,
                s.agents_available(),
                s.open_leads(),
                s.max_open_leads(),
                s.utilisation()
                    .map(|u| format!("{:.0} %", u * 100.0))
                    .unwrap_or_else(|| "full".into()),
                s.recorded_at()
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

fn table_json<D: serde::Serialize>(t: &leadorch_core::projection::Table<D>) -> serde_json::Value {
    t.iter()
        .map(|(k, d)| (k.clone(), serde_json::to_value(d).unwrap_or_default()))
        .collect::<serde_json::Map<String, serde_json::Value>>()
        .into()
}

fn summary_json(v: &Projections, as_of: Option<u64>) -> serde_json::Value {
    let campaigns = table_json(&v.campaigns);
    let capacity = table_json(&v.capacity);
    json!({
        "as_of_position": as_of,
        "position": v.position,
        "recorded_at": at_string(v.recorded_at),
        "events_applied": v.applied,
        "counts": {
            "campaigns": v.campaigns.len(),
            "teams": v.capacity.len(),
            "leads": v.leads.len(),
            "consents": v.consents.len(),
            "data_subjects": v.subject_index.len(),
            "rules": v.rules.len(),
            "google_accounts": v.google_accounts.len(),
            "audited_streams": v.audit.len(),
        },
        "campaigns": campaigns,
        "capacity": capacity,
    })
}

async fn seed_cmd(g: &Global, args: SeedArgs) -> Result<ExitCode> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let engine = open(g).await?;
    let started = Instant::now();
    let report = seed(
        &engine,
        &SeedOptions {
            events: args.events,
            seed: args.seed,
            end: Utc::now(),
        },
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    if report.continued_from > 0 {
        outln!(
            "continuing the seeded history after position {}",
            report.continued_from
        )?;
    }
    outln!(
        "seeded {} events in {secs:.1} s ({:.0} events/s): {} leads (+{} duplicates), {} consents, {} capacity snapshots, {} campaign changes, {} manual changes, {} erasures; simulated {} to {}",
        report.events,
        report.events as f64 / secs.max(1e-9),
        report.leads,
        report.duplicates,
        report.consents,
        report.capacity_snapshots,
        report.campaign_changes,
        report.manual_changes,
        report.erasures,
        report.from,
        report.to
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Appends forever; each line on stdout is an event id whose append was acknowledged.
async fn append_loop(g: &Global, stream: &str) -> Result<ExitCode> {
    let engine = open(g).await?;
    let stdout = std::io::stdout();
    let meta = Metadata::actor("crash-test");
    let mut n: u64 = 0;
    loop {
        n += 1;
        let e = NewEvent::new(
            "CrashProbe",
            "1.0",
            format!("{{\"n\":{n}}}").into_bytes(),
            &meta,
        );
        let id = e.event_id;
        engine
            .store
            .log
            .append(stream, ExpectedVersion::Any, vec![e])
            .await?;
        let mut out = stdout.lock();
        writeln!(out, "{id}")?;
        out.flush()?;
    }
}
