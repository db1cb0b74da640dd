//! `leadorch bench scrub`: the replay view's scrubber over a seeded log — the state at one
//! moment after another, as `GET /v1/replay?at=<event time>` computes it — from kept views
//! of the log (`leadorch_evaluate::timeline`, ADR 0043) against a fold from the log's first
//! event for every moment (`FactsView::load_as_of`, what every replay did before).
//!
//! 1. A fresh database is seeded with [`leadorch_core::seed::seed`] (timed, not compared),
//!    then opened again as a server would find it.
//! 2. The moments: the event times of `--moments` events spread evenly over the log's
//!    positions, visited in a scrubber's order (from the end backwards, then forwards again
//!    over every other one).
//! 3. `leadorch`: one [`Timeline`] for all moments, as one server keeps it: the first moment
//!    pays for folding the whole log. The peer folds from the first event at each moment.
//!    Both decrypt Google data the same way; neither caches anything else; one task, the
//!    log's durability settings as stored. Each answer of ours is checked against the peer's
//!    (the same view), so a fast wrong answer fails the run. Printed last: `ratio
//!    leadorch/full-fold`, the median time of a visit after the first, peer over ours.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::TimeZone;
use leadorch_core::seed::{seed, SeedOptions};
use leadorch_core::time_travel::AsOf;
use leadorch_core::Engine;
use leadorch_evaluate::facts::FactsView;
use leadorch_evaluate::timeline::Timeline;
use leadorch_store::{Db, MasterKey, RetentionPolicy, Reveal, Store};

use super::fresh::Databases;
use super::{thousands, ScrubArgs};

const SEED: u64 = 42;

pub async fn run(args: &ScrubArgs) -> Result<ExitCode> {
    if args.events == 0 || args.moments < 2 {
        bail!("--events must be at least 1 and --moments at least 2");
    }
    let mut dbs = Databases::new(args.backend, &args.postgres_url).await?;
    let ours = dbs.create("scrub").await?;
    let result = measure(&ours.url, args).await;
    dbs.drop_db(ours).await;
    dbs.cleanup().await;
    let (timeline, peer) = result?;
    println!(
        "leadorch bench scrub --backend {}: the state at {} moments (event time) of {} seeded events, one after another as a scrubber asks; leadorch: kept views (ADR 0043), peer: a fold from the first event per moment",
        args.backend.name(),
        args.moments,
        thousands(args.events),
    );
    println!(
        "{:<28} {:>12} {:>22} {:>12}",
        "contender", "first s", "each after, median ms", "all s"
    );
    for (name, times) in [
        ("leadorch (kept views)", &timeline),
        ("full-fold (peer)", &peer),
    ] {
        println!(
            "{name:<28} {:>12.3} {:>22.1} {:>12.3}",
            times[0].as_secs_f64(),
            median_ms(&times[1..]),
            times.iter().sum::<Duration>().as_secs_f64(),
        );
    }
    println!(
        "speed-up over all {} visits, the first one's whole fold included = {:.2}",
        timeline.len(),
        peer.iter().sum::<Duration>().as_secs_f64()
            / timeline.iter().sum::<Duration>().as_secs_f64()
    );
    println!(
        "ratio leadorch/full-fold = {:.2}",
        median_ms(&peer[1..]) / median_ms(&timeline[1..]).max(0.001)
    );
    Ok(ExitCode::SUCCESS)
}

fn median_ms(times: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    ms.get(ms.len() / 2).copied().unwrap_or(0.0)
}

/// The two contenders' times, moment by moment.
async fn measure(url: &str, args: &ScrubArgs) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let db = Db::connect(url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let master = MasterKey::random();
    let store =
        Store::with_master_key(db.clone(), master.clone(), RetentionPolicy::default()).await?;
    eprintln!("seeding {} events …", thousands(args.events));
    let end = chrono::Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .context("seed end date")?;
    let t = Instant::now();
    seed(
        &Engine {
            store: store.clone(),
        },
        &SeedOptions {
            events: args.events,
            seed: SEED,
            end,
        },
    )
    .await
    .context("seeding")?;
    eprintln!("  seeded in {:.1} s", t.elapsed().as_secs_f64());
    drop(store);
    db.close().await;
    let db = Db::connect(url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let engine = Engine {
        store: Store::with_master_key(db, master, RetentionPolicy::default()).await?,
    };

    let head = engine.store.log.head().await?.position;
    let mut decoder = engine.store.codec.decoder(Reveal::Redact);
    let mut points = Vec::new();
    for i in 1..=args.moments {
        let position = (head * i / args.moments).max(1);
        let rec = engine
            .store
            .log
            .read_after(position - 1, 1)
            .await?
            .pop()
            .context("a seeded event")?;
        let at = match leadorch_core::projection::decode(&mut decoder, &rec).await {
            Ok(event) => event.at(),
            // Outside the domain: its recorded time stands in, as the replay view does.
            Err(_) => chrono::DateTime::from_timestamp_micros(rec.recorded_at)
                .context("a recorded time")?,
        };
        points.push(at);
    }
    // A scrubber's order: from the end backwards, then forwards over every other moment.
    let mut order: Vec<_> = points.iter().rev().copied().collect();
    order.extend(points.iter().step_by(2).copied());

    let mut timeline = Timeline::default();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for (i, at) in order.iter().enumerate() {
        let as_of = AsOf {
            happened_by: Some(*at),
            ..AsOf::default()
        };
        let t = Instant::now();
        let kept = timeline.view_as_of(&engine, &as_of, &mut |_, _| {}).await?;
        ours.push(t.elapsed());
        let t = Instant::now();
        let (full, _) = FactsView::load_as_of(&engine, &as_of).await?;
        theirs.push(t.elapsed());
        if format!("{kept:?}") != format!("{full:?}") {
            bail!("moment {i} ({at}): the timeline's view differs from the full fold's");
        }
        eprintln!(
            "  moment {:>2} {}: leadorch {:>8.1} ms, peer {:>8.1} ms",
            i + 1,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ours[i].as_secs_f64() * 1e3,
            theirs[i].as_secs_f64() * 1e3
        );
    }
    eprintln!("  the timeline keeps {} marks", timeline.marks());
    Ok((ours, theirs))
}
