//! `leadorch bench replay`: a full read-model rebuild of a seeded log, against the cqrs-es
//! store replaying the same events.
//!
//! 1. A fresh database is seeded with [`leadorch_core::seed::seed`] (timed, not compared), then
//!    closed and opened again, as a separate `leadorch replay` would find it.
//! 2. `leadorch`: [`projection::rebuild`] — read every event in position order, decode
//!    (personal fields redacted), fold nine read models and save them with their checkpoint.
//!    Then, for the breakdown only, the same work in phases: reading alone, folding
//!    (reading + decoding + folding) and saving.
//! 3. The cqrs-es peer: the same events — same aggregate type, id and per-aggregate sequence,
//!    same event type and version, the payload as our rebuild sees it (the stored bytes, or
//!    the redacted JSON when the event has sealed personal fields), same metadata — are
//!    written into its `events` table with batched inserts (not timed), then replayed with
//!    its own API: `stream_all_events::<A>()` for each aggregate type, each event upcast with
//!    our upcasters and deserialized into `A::Event` by `ReplayStream::next`, and folded into
//!    in-memory views like ours: a default aggregate per id (`Aggregate::apply`), the
//!    data-subject index and an audit view (per actor and event type).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::TimeZone;
use cqrs_es::persist::PersistedEventRepository;
use cqrs_es::{Aggregate, DomainEvent};
use leadorch_core::projection::{self, Projections};
use leadorch_core::seed::{seed, SeedOptions};
use leadorch_core::Engine;
use leadorch_domain::{split_stream_id, PersonalData, AGGREGATE_TYPES};
use leadorch_store::codec::has_sealed_fields;
use leadorch_store::{Db, MasterKey, RetentionPolicy, Reveal, Store};
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;

use super::fresh::{self, with_pool, Databases, Fresh, Pool};
use super::{print_ratios, print_table, thousands, Backend, ReplayArgs, Row};

/// Events read from our log per page when loading the peer.
const PAGE: u64 = 20_000;
/// Rows per multi-row `INSERT` when loading the peer.
const LOAD_ROWS: usize = 1000;
/// RNG seed of the synthetic history.
const SEED: u64 = 42;

/// Runs `bench replay`.
pub async fn run(args: &ReplayArgs) -> Result<ExitCode> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let mut dbs = Databases::new(args.backend, &args.postgres_url).await?;
    let result = contenders(&mut dbs, args).await;
    dbs.cleanup().await;
    let (rows, seeded) = result?;
    println!(
        "leadorch bench replay --backend {}: full read-model rebuild of {} seeded events (seeding took {:.1} s, {:.0} events/s) vs {}'s replay of the same events",
        args.backend.name(),
        thousands(args.events),
        seeded.as_secs_f64(),
        args.events as f64 / seeded.as_secs_f64(),
        args.backend.peer(),
    );
    print_table(&rows);
    if args.backend == Backend::Sqlite {
        let ours = rows[0].events_per_sec();
        eprintln!(
            "goal leadorch >= 500000 events/s on SQLite: {} ({ours:.0} events/s)",
            if ours >= 500_000.0 { "met" } else { "missed" }
        );
    }
    print_ratios(&rows);
    Ok(ExitCode::SUCCESS)
}

async fn contenders(dbs: &mut Databases, args: &ReplayArgs) -> Result<(Vec<Row>, Duration)> {
    let ours = dbs.create("leadorch").await?;
    let result = with_log(dbs, &ours, args.events).await;
    dbs.drop_db(ours).await;
    result
}

async fn with_log(dbs: &mut Databases, ours: &Fresh, events: u64) -> Result<(Vec<Row>, Duration)> {
    let db = Db::connect(&ours.url)
        .await
        .with_context(|| format!("opening {}", ours.url))?;
    let master = MasterKey::random();
    let store =
        Store::with_master_key(db.clone(), master.clone(), RetentionPolicy::default()).await?;

    eprintln!("seeding {} events …", thousands(events));
    let end = chrono::Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .context("seed end date")?;
    let t = Instant::now();
    let report = seed(
        &Engine {
            store: store.clone(),
        },
        &SeedOptions {
            events,
            seed: SEED,
            end,
        },
    )
    .await
    .context("seeding")?;
    let seeded = t.elapsed();
    eprintln!(
        "  seeded {} events in {:.1} s ({:.0} events/s): {} leads, {} consents, {} capacity snapshots, {} erasures",
        thousands(report.events),
        seeded.as_secs_f64(),
        report.events as f64 / seeded.as_secs_f64(),
        report.leads,
        report.consents,
        report.capacity_snapshots,
        report.erasures
    );
    let head = store.log.head().await?.position;
    if head != events {
        bail!("the seeded log holds {head} events, expected {events}");
    }
    // The rebuild runs on the database at rest, as `leadorch seed` then `leadorch replay`
    // would find it: the seeding connections closed (on SQLite that checkpoints the WAL), a
    // new store opened.
    drop(store);
    db.close().await;
    let db = Db::connect(&ours.url)
        .await
        .with_context(|| format!("opening {}", ours.url))?;
    let store = Store::with_master_key(db.clone(), master, RetentionPolicy::default()).await?;

    eprintln!("leadorch: projection::rebuild …");
    let t = Instant::now();
    let (views, times) = projection::rebuild_timed(&store, &mut |_| {}).await?;
    let rebuilt = t.elapsed();
    if views.applied != events {
        bail!("rebuild folded {} events, expected {events}", views.applied);
    }
    let rows_saved = views.rows() as u64;
    drop(views);
    eprintln!(
        "  {:.3} s, {:.0} events/s, {} read-model rows (read + decode + fold {:.3} s, save {:.3} s)",
        rebuilt.as_secs_f64(),
        events as f64 / rebuilt.as_secs_f64(),
        thousands(rows_saved),
        times.fold.as_secs_f64(),
        times.save.as_secs_f64()
    );

    // Breakdown, for whoever optimises the store (not part of the compared figure).
    eprintln!("leadorch: phases …");
    let t = Instant::now();
    let mut read = 0u64;
    let mut pages = store.log.stream_pages(0, None, PAGE as usize);
    while let Some(page) = pages.recv().await {
        read += page?.len() as u64;
    }
    let read_time = t.elapsed();
    let t = Instant::now();
    let mut p = Projections::default();
    p.fold_until(&store, None, &mut |_| {}).await?;
    let fold_time = t.elapsed();
    let t = Instant::now();
    p.save(store.db(), true).await?;
    let save_time = t.elapsed();
    drop(p);
    eprintln!(
        "  reading alone (EventLog::stream_pages, what rebuild reads with): {:.3} s ({:.0} events/s, {} events); fold_until (read + decode + fold): {:.3} s; save (replacing the rows the rebuild saved): {:.3} s",
        read_time.as_secs_f64(),
        read as f64 / read_time.as_secs_f64(),
        thousands(read),
        fold_time.as_secs_f64(),
        save_time.as_secs_f64()
    );

    let peer_name = dbs.backend.peer();
    let peer_db = dbs.create(peer_name).await?;
    let peer = peer_replay(dbs, &peer_db, &store, events).await;
    dbs.drop_db(peer_db).await;
    let peer = peer.with_context(|| format!("contender {peer_name}"))?;
    drop(store);
    db.close().await;

    let ours = Row {
        contender: "leadorch".into(),
        events,
        writers: 1,
        elapsed: rebuilt,
        latencies: None,
        notes: format!(
            "projection::rebuild: 9 read models, {} rows saved; again by phase: read {:.2} s, read+decode+fold {:.2} s, save over the rebuilt rows {:.2} s",
            thousands(rows_saved),
            read_time.as_secs_f64(),
            fold_time.as_secs_f64(),
            save_time.as_secs_f64()
        ),
    };
    Ok((vec![ours, peer], seeded))
}

/// One row of the peer's `events` table.
struct PeerRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
}

/// Copies our log into the peer's table, then times the peer's replay.
async fn peer_replay(dbs: &Databases, fresh: &Fresh, store: &Store, events: u64) -> Result<Row> {
    let name = dbs.backend.peer();
    let pool = dbs.pool(fresh, 4).await?;
    pool.execute_script(fresh::peer_schema(dbs.backend)).await?;

    eprintln!("{name}: loading the same events …");
    let t = Instant::now();
    let loaded = load_peer(dbs.backend, &pool, store).await?;
    if loaded != events {
        bail!("loaded {loaded} events into {name}, expected {events}");
    }
    eprintln!("  {:.1} s", t.elapsed().as_secs_f64());
    pool.warm(4).await?;

    eprintln!("{name}: stream_all_events + fold …");
    let t = Instant::now();
    let views = match &pool {
        Pool::Sqlite(p) => PeerViews::replay(&SqliteEventRepository::new(p.clone())).await?,
        Pool::Postgres(p) => PeerViews::replay(&PostgresEventRepository::new(p.clone())).await?,
    };
    let elapsed = t.elapsed();
    let rows = views.rows();
    let folded = views.events;
    drop(views);
    pool.close().await;
    eprintln!(
        "  {:.3} s, {:.0} events/s",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );
    if folded != events {
        bail!("{name} replayed {folded} events, expected {events}");
    }
    Ok(Row {
        contender: name.into(),
        events,
        writers: 1,
        elapsed,
        latencies: None,
        notes: format!(
            "stream_all_events per aggregate type, upcast + deserialize + apply; same views in memory ({} rows), not saved",
            thousands(rows)
        ),
    })
}

/// Reads our whole log and writes it into the peer's `events` table; returns the count.
async fn load_peer(backend: Backend, pool: &Pool, store: &Store) -> Result<u64> {
    let json_cast = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "::json",
    };
    let mut decoder = store.codec.decoder(Reveal::Redact);
    let mut after = 0;
    let mut loaded = 0u64;
    loop {
        let page = store.log.read_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        let mut rows = Vec::with_capacity(page.len());
        for rec in &page {
            let Some((aggregate_type, aggregate_id)) =
                split_stream_id(&rec.stream_id).filter(|(t, _)| AGGREGATE_TYPES.contains(t))
            else {
                bail!(
                    "position {}: stream {:?} is not a domain stream",
                    rec.position,
                    rec.stream_id
                );
            };
            let payload = if has_sealed_fields(&rec.payload) {
                serde_json::to_string(&decoder.payload(rec).await?)?
            } else {
                String::from_utf8(rec.payload.clone())
                    .map_err(|_| anyhow!("position {}: payload is not UTF-8", rec.position))?
            };
            rows.push(PeerRow {
                aggregate_type: aggregate_type.to_string(),
                aggregate_id: aggregate_id.to_string(),
                sequence: rec.stream_version as i64,
                event_type: rec.event_type.clone(),
                event_version: rec.schema_version.clone(),
                payload,
                metadata: String::from_utf8(rec.metadata.clone())
                    .map_err(|_| anyhow!("position {}: metadata is not UTF-8", rec.position))?,
            });
        }
        with_pool!(pool, p => {
            let mut tx = p.begin().await?;
            for chunk in rows.chunks(LOAD_ROWS) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                     event_version, payload, metadata) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.aggregate_type.as_str())
                        .push_bind(r.aggregate_id.as_str())
                        .push_bind(r.sequence)
                        .push_bind(r.event_type.as_str())
                        .push_bind(r.event_version.as_str())
                        .push_bind(r.payload.as_str())
                        .push_unseparated(json_cast)
                        .push_bind(r.metadata.as_str())
                        .push_unseparated(json_cast);
                });
                qb.build().execute(&mut *tx).await.context("loading the peer")?;
            }
            tx.commit().await?;
        });
        loaded += rows.len() as u64;
    }
    Ok(loaded)
}

/// Activity per actor and event type, like our `audit` read model (which also splits by
/// day: cqrs-es envelopes carry no timestamp). Written, as ours is; never read here.
#[allow(dead_code)]
#[derive(Default)]
struct PeerAudit {
    events: u64,
    by_type: BTreeMap<String, u64>,
    last_sequence: usize,
}

/// The states of one aggregate type, by aggregate id (type-erased, so that one list of
/// aggregates, the domain's, names them all).
trait States {
    fn len(&self) -> usize;
}

impl<A> States for HashMap<String, A> {
    fn len(&self) -> usize {
        HashMap::len(self)
    }
}

/// Replays every aggregate type of the domain ([`leadorch_domain::for_each_aggregate!`]), in
/// its order, into the views.
macro_rules! replay_every_aggregate {
    ($({ variant: $variant:ident, aggregate: $aggregate:ty, $($rest:tt)* })*) => {
        async fn replay_every_aggregate<R: PersistedEventRepository>(
            v: &mut PeerViews,
            repo: &R,
        ) -> Result<()> {
            $(v.fold::<$aggregate, R>(repo).await?;)*
            Ok(())
        }
    };
}

leadorch_domain::for_each_aggregate!(replay_every_aggregate);

/// The peer's views: a default aggregate per id for each aggregate type, plus audit and
/// subject index.
#[derive(Default)]
struct PeerViews {
    states: Vec<Box<dyn States>>,
    audit: HashMap<String, PeerAudit>,
    subject_index: HashMap<String, BTreeSet<String>>,
    events: u64,
}

impl PeerViews {
    async fn replay<R: PersistedEventRepository>(repo: &R) -> Result<PeerViews> {
        let mut v = PeerViews::default();
        replay_every_aggregate(&mut v, repo).await?;
        Ok(v)
    }

    /// Replays every event of aggregate type `A` into its states, audit and subject index.
    async fn fold<A, R>(&mut self, repo: &R) -> Result<()>
    where
        A: Aggregate + Default + 'static,
        A::Event: PersonalData,
        R: PersistedEventRepository,
    {
        let upcasters = leadorch_domain::upcast::upcasters_for(A::TYPE);
        let mut states: HashMap<String, A> = HashMap::new();
        let mut stream = repo
            .stream_all_events::<A>()
            .await
            .map_err(|e| anyhow!("stream_all_events::<{}>: {e}", A::TYPE))?;
        while let Some(item) = stream.next::<A>(&upcasters).await {
            let env = item.map_err(|e| anyhow!("replaying {}: {e}", A::TYPE))?;
            if let Some(subject) = env.payload.data_subject() {
                let stream_id = leadorch_domain::stream_id(A::TYPE, &env.aggregate_id);
                let streams = self.subject_index.entry(subject.to_string()).or_default();
                if !streams.contains(&stream_id) {
                    streams.insert(stream_id);
                }
            }
            let actor = env.metadata.get("actor").map_or("", String::as_str);
            let audit = self.audit.entry(actor.to_string()).or_default();
            audit.events += 1;
            audit.last_sequence = env.sequence;
            let event_type = env.payload.event_type();
            match audit.by_type.get_mut(&event_type) {
                Some(n) => *n += 1,
                None => {
                    audit.by_type.insert(event_type, 1);
                }
            }
            match states.get_mut(&env.aggregate_id) {
                Some(state) => state.apply(env.payload),
                None => {
                    let mut state = A::default();
                    state.apply(env.payload);
                    states.insert(env.aggregate_id, state);
                }
            }
            self.events += 1;
        }
        self.states.push(Box::new(states));
        Ok(())
    }

    fn rows(&self) -> u64 {
        (self.states.iter().map(|s| s.len()).sum::<usize>()
            + self.audit.len()
            + self.subject_index.len()) as u64
    }
}
