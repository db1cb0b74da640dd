//! `leadorch bench append`: N durable single-event appends from W concurrent writers.
//!
//! Contenders, each on its own fresh database, in this order:
//! - `leadorch`: [`EventLog::append`] (group commit, expected-version check, hash chain);
//! - the cqrs-es store (`sqlite-es` / `postgres-es`): `PersistedEventRepository::persist` of
//!   one `SerializedEvent`, each writer on its own aggregate with increasing sequence;
//! - `raw-insert`: one sqlx `INSERT` per transaction into a table shaped like ours;
//! - `raw-batch`: the ceiling for W writers that each wait for their acknowledgement — the
//!   same N rows from one writer as W-row `INSERT`s, one transaction each (a group commit can
//!   never hold more than W events; ADR 0009);
//! - `raw-batch-1000`: the database's bulk ceiling — 1000-row `INSERT`s, one transaction each.
//!
//! Every append is awaited before its writer starts the next one; p50/p99 are per append.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::Aggregate;
use futures::future::BoxFuture;
use leadorch_domain::Campaign;
use leadorch_store::{Db, ExpectedVersion, MasterKey, Metadata, NewEvent, RetentionPolicy, Store};
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::fresh::{self, is_peer_busy, is_sqlite_busy, with_pool, Databases, Fresh, Pool};
use super::{print_ratios, print_table, thousands, AppendArgs, Backend, Latencies, Row};

/// Rows per multi-row `INSERT` (and per transaction) of the raw-batch ceiling.
const BATCH_ROWS: usize = 1000;
/// Give up on an append that keeps hitting "database is locked" (each try already waited
/// up to the busy timeout).
const MAX_BUSY_RETRIES: u64 = 1000;
const EVENT_TYPE: &str = "CampaignObserved";

/// What every contender writes.
struct Workload {
    events: u64,
    writers: u64,
    /// Events per writer.
    shares: Vec<u64>,
    /// ~300 bytes of JSON, the same for every event.
    payload: Arc<Vec<u8>>,
    metadata: Arc<Vec<u8>>,
    schema_version: &'static str,
}

impl Workload {
    fn new(events: u64, writers: u64) -> Workload {
        let payload = serde_json::json!({
            EVENT_TYPE: {
                "at": "2026-11-15T09:14:00Z",
                "campaign_id": "1002",
                "customer_id": "1234567890",
                "snapshot": {
                    "ad_schedule": [],
                    "bidding": "maximize_conversions",
                    "daily_budget_micros": 220_000_000,
                    "labels": ["team:north", "region:us-east"],
                    "name": "Generic - Search (exact + phrase)",
                    "status": "enabled"
                }
            }
        });
        let shares = (0..writers)
            .map(|w| events / writers + u64::from(w < events % writers))
            .collect();
        Workload {
            events,
            writers,
            shares,
            payload: Arc::new(serde_json::to_vec(&payload).unwrap_or_default()),
            metadata: Arc::new(Metadata::actor("bench").to_bytes()),
            schema_version: leadorch_domain::current_version(Campaign::TYPE, EVENT_TYPE)
                .unwrap_or("1.0"),
        }
    }

    /// The stream (aggregate id) of writer `w`.
    fn aggregate_id(w: usize) -> String {
        format!("bench/{w}")
    }
}

/// One append: returns how many times it was retried.
pub(crate) type Op = Arc<dyn Fn(usize, u64) -> BoxFuture<'static, Result<u64>> + Send + Sync>;

pub(crate) struct Measured {
    pub elapsed: Duration,
    pub latencies: Latencies,
    pub retries: u64,
}

/// Runs `op(writer, k)` for k in 0..share from one tokio task per writer, all released
/// together; the clock runs from the release to the last acknowledgement.
pub(crate) async fn drive(shares: &[u64], op: Op) -> Result<Measured> {
    let barrier = Arc::new(Barrier::new(shares.len() + 1));
    let mut tasks = JoinSet::new();
    for (w, &n) in shares.iter().enumerate() {
        let op = op.clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(n as usize);
            let mut retries = 0;
            barrier.wait().await;
            for k in 0..n {
                let t = Instant::now();
                retries += op(w, k).await?;
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            anyhow::Ok((lat, retries))
        });
    }
    drop(op);
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    let mut retries = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((lat, r))) => {
                all.extend(lat);
                retries += r;
            }
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e);
            }
            Err(e) => {
                tasks.abort_all();
                bail!("a writer task failed: {e}");
            }
        }
    }
    Ok(Measured {
        elapsed: start.elapsed(),
        latencies: Latencies::new(all),
        retries,
    })
}

/// Runs `bench append`.
pub async fn run(args: &AppendArgs) -> Result<ExitCode> {
    if args.events == 0 || args.writers == 0 {
        bail!("--events and --writers must be at least 1");
    }
    if args.writers > 4096 {
        bail!("--writers is at most 4096");
    }
    let peers = Peers::parse(&args.peers, args.backend)?;
    let w = Workload::new(args.events, args.writers);
    let mut dbs = Databases::new(args.backend, &args.postgres_url).await?;
    let result = contenders(&mut dbs, &w, peers).await;
    dbs.cleanup().await;
    let rows = result?;

    let durability = match args.backend {
        Backend::Sqlite => "SQLite WAL, synchronous=FULL, busy_timeout=30 s",
        Backend::Postgres => "PostgreSQL synchronous_commit=on",
    };
    println!(
        "leadorch bench append --backend {}: {} durable single-event appends per contender from {} concurrent writers, {}-byte JSON payload; a fresh database each ({durability})",
        args.backend.name(),
        thousands(w.events),
        w.writers,
        w.payload.len(),
    );
    print_table(&rows);
    let ours = rows[0].events_per_sec();
    let goal = |name: &str, factor: f64| {
        if let Some(p) = rows.iter().find(|r| r.contender == name) {
            let ratio = ours / p.events_per_sec();
            eprintln!(
                "goal leadorch >= {factor}x {name}: {} ({ratio:.2}x)",
                if ratio >= factor { "met" } else { "missed" }
            );
        }
    };
    goal(args.backend.peer(), 5.0);
    goal("raw-batch", 0.5);
    print_ratios(&rows);
    Ok(ExitCode::SUCCESS)
}

/// Which peers run beside leadorch (`--peers`).
#[derive(Clone, Copy)]
struct Peers {
    store: bool,
    raw_insert: bool,
    raw_batch: bool,
}

impl Peers {
    fn parse(names: &[String], backend: Backend) -> Result<Peers> {
        let mut p = Peers {
            store: false,
            raw_insert: false,
            raw_batch: false,
        };
        for name in names.iter().map(|n| n.trim()) {
            match name {
                "none" | "" => {}
                "peer" => p.store = true,
                n if n == backend.peer() => p.store = true,
                "raw-insert" => p.raw_insert = true,
                "raw-batch" => p.raw_batch = true,
                other => bail!(
                    "--peers: unknown peer {other:?}; use peer ({}), raw-insert, raw-batch or none",
                    backend.peer()
                ),
            }
        }
        Ok(p)
    }
}

async fn contenders(dbs: &mut Databases, w: &Workload, peers: Peers) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    eprintln!("leadorch …");
    rows.push(report(leadorch(dbs, w).await?));
    if peers.store {
        eprintln!("{} …", dbs.backend.peer());
        rows.push(report(peer(dbs, w).await?));
    }
    if peers.raw_insert {
        eprintln!("raw-insert …");
        rows.push(report(raw_insert(dbs, w).await?));
    }
    if peers.raw_batch {
        eprintln!("raw-batch …");
        rows.push(report(
            raw_batch(dbs, w, w.writers as usize, "raw-batch").await?,
        ));
        eprintln!("raw-batch-1000 …");
        rows.push(report(
            raw_batch(dbs, w, BATCH_ROWS, "raw-batch-1000").await?,
        ));
    }
    Ok(rows)
}

fn report(r: Row) -> Row {
    eprintln!(
        "  {}: {:.3} s, {:.0} events/s",
        r.contender,
        r.elapsed.as_secs_f64(),
        r.events_per_sec()
    );
    r
}

/// Runs one contender on a fresh database labelled `label`, then drops the database
/// whatever happened.
macro_rules! on_fresh {
    ($dbs:expr, $label:expr, $f:ident($($arg:expr),*)) => {{
        let label: &str = $label;
        let fresh = $dbs.create(label).await?;
        let result = $f(&*$dbs, &fresh, $($arg),*).await;
        $dbs.drop_db(fresh).await;
        result.with_context(|| format!("contender {label}"))
    }};
}

async fn leadorch(dbs: &mut Databases, w: &Workload) -> Result<Row> {
    on_fresh!(dbs, "leadorch", leadorch_on(w))
}

async fn leadorch_on(_dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<Row> {
    let db = Db::connect(&fresh.url).await?;
    let store =
        Store::with_master_key(db.clone(), MasterKey::random(), RetentionPolicy::default()).await?;
    let streams: Arc<Vec<String>> = Arc::new(
        (0..w.shares.len())
            .map(|i| leadorch_domain::stream_id(Campaign::TYPE, &Workload::aggregate_id(i)))
            .collect(),
    );
    let log = store.log.clone();
    let (payload, metadata, version) = (w.payload.clone(), w.metadata.clone(), w.schema_version);
    let op: Op = Arc::new(
        move |wr: usize, k: u64| -> BoxFuture<'static, Result<u64>> {
            let log = log.clone();
            let streams = streams.clone();
            let event = NewEvent {
                event_id: Uuid::now_v7(),
                event_type: EVENT_TYPE.to_string(),
                schema_version: version.to_string(),
                payload: payload.to_vec(),
                metadata: metadata.to_vec(),
            };
            Box::pin(async move {
                log.append(&streams[wr], ExpectedVersion::Exact(k), vec![event])
                    .await?;
                Ok(0)
            })
        },
    );
    let m = drive(&w.shares, op).await?;
    let head = store.log.head().await?.position;
    if head != w.events {
        bail!("the log holds {head} events, expected {}", w.events);
    }
    // Every group commit stamps its events with one recorded_at.
    let commits: i64 = leadorch_store::on_pool!(store.db(), p => sqlx::query_scalar(
            "SELECT COUNT(DISTINCT recorded_at) FROM events").fetch_one(p).await)?;
    drop(store);
    db.close().await;
    let row = Row {
            contender: "leadorch".into(),
            events: w.events,
            writers: w.writers,
            elapsed: m.elapsed,
            latencies: Some(m.latencies),
            notes: format!(
                "EventLog::append, expected version + hash chain; ~{} group commits ({:.1} events each)",
                thousands(commits as u64),
                w.events as f64 / commits.max(1) as f64
            ),
        };
    Ok(row)
}

fn serialized(w: &Workload) -> Result<(serde_json::Value, serde_json::Value)> {
    Ok((
        serde_json::from_slice(&w.payload)?,
        serde_json::from_slice(&w.metadata)?,
    ))
}

/// `persist` of one event per call, retrying (and counting) SQLite "database is locked".
fn peer_op<R: PersistedEventRepository + 'static>(
    repo: Arc<R>,
    w: &Workload,
    retry_busy: bool,
) -> Result<Op> {
    let (payload, metadata) = serialized(w)?;
    let version = w.schema_version;
    Ok(Arc::new(
        move |wr: usize, k: u64| -> BoxFuture<'static, Result<u64>> {
            let repo = repo.clone();
            let event = SerializedEvent::new(
                Workload::aggregate_id(wr),
                k as usize + 1,
                Campaign::TYPE.to_string(),
                EVENT_TYPE.to_string(),
                version.to_string(),
                payload.clone(),
                metadata.clone(),
            );
            Box::pin(async move {
                let mut retries = 0;
                loop {
                    match repo
                        .persist::<Campaign>(std::slice::from_ref(&event), None)
                        .await
                    {
                        Ok(()) => return Ok(retries),
                        Err(e) if retry_busy && retries < MAX_BUSY_RETRIES && is_peer_busy(&e) => {
                            retries += 1;
                        }
                        Err(e) => return Err(anyhow!("persist: {e}")),
                    }
                }
            })
        },
    ))
}

async fn peer(dbs: &mut Databases, w: &Workload) -> Result<Row> {
    let name = dbs.backend.peer();
    on_fresh!(dbs, name, peer_on(w))
}

async fn peer_on(dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<Row> {
    let name = dbs.backend.peer();
    let connections = u32::try_from(w.writers).unwrap_or(u32::MAX);
    let pool = dbs.pool(fresh, connections).await?;
    pool.execute_script(fresh::peer_schema(dbs.backend)).await?;
    pool.warm(connections).await?;
    let op = match &pool {
        Pool::Sqlite(p) => peer_op(Arc::new(SqliteEventRepository::new(p.clone())), w, true)?,
        Pool::Postgres(p) => peer_op(Arc::new(PostgresEventRepository::new(p.clone())), w, false)?,
    };
    let m = drive(&w.shares, op).await?;
    let stored = pool.count("events").await?;
    pool.close().await;
    if stored != w.events {
        bail!("{name} holds {stored} events, expected {}", w.events);
    }
    let mut notes =
        format!("PersistedEventRepository::persist, 1 event per call, pool of {connections}");
    if dbs.backend == Backend::Sqlite {
        notes.push_str(&format!("; {} 'database is locked' retries", m.retries));
    }
    let row = Row {
        contender: name.into(),
        events: w.events,
        writers: w.writers,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes,
    };
    Ok(row)
}

const RAW_INSERT: &str = "INSERT INTO raw_events (stream_id, stream_version, event_id, \
     event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const RAW_COLUMNS: &str = "INSERT INTO raw_events (stream_id, stream_version, event_id, \
     event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash) ";
const FAKE_HASH: [u8; 32] = [7; 32];

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn raw_insert(dbs: &mut Databases, w: &Workload) -> Result<Row> {
    on_fresh!(dbs, "raw-insert", raw_insert_on(w))
}

async fn raw_insert_on(dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<Row> {
    let connections = u32::try_from(w.writers).unwrap_or(u32::MAX);
    let pool = dbs.pool(fresh, connections).await?;
    pool.execute_script(fresh::raw_schema(dbs.backend)).await?;
    pool.warm(connections).await?;
    let retry_busy = dbs.backend == Backend::Sqlite;
    let streams: Arc<Vec<String>> = Arc::new(
        (0..w.shares.len())
            .map(|i| leadorch_domain::stream_id(Campaign::TYPE, &Workload::aggregate_id(i)))
            .collect(),
    );
    let (payload, metadata, version) = (w.payload.clone(), w.metadata.clone(), w.schema_version);
    let op_pool = pool.clone();
    let op: Op = Arc::new(
        move |wr: usize, k: u64| -> BoxFuture<'static, Result<u64>> {
            let pool = op_pool.clone();
            let stream = streams[wr].clone();
            let (payload, metadata) = (payload.clone(), metadata.clone());
            let event_id = Uuid::now_v7();
            Box::pin(async move {
                let mut retries = 0;
                loop {
                    let attempt: std::result::Result<(), sqlx::Error> = with_pool!(&pool, p => async {
                        let mut tx = p.begin().await?;
                        sqlx::query(RAW_INSERT)
                            .bind(stream.as_str())
                            .bind(k as i64 + 1)
                            .bind(event_id.as_bytes().as_slice())
                            .bind(EVENT_TYPE)
                            .bind(version)
                            .bind(payload.as_slice())
                            .bind(metadata.as_slice())
                            .bind(now_micros())
                            .bind(FAKE_HASH.as_slice())
                            .bind(FAKE_HASH.as_slice())
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await
                    }
                    .await);
                    match attempt {
                        Ok(()) => return Ok(retries),
                        Err(e)
                            if retry_busy && retries < MAX_BUSY_RETRIES && is_sqlite_busy(&e) =>
                        {
                            retries += 1;
                        }
                        Err(e) => return Err(anyhow!("insert: {e}")),
                    }
                }
            })
        },
    );
    let m = drive(&w.shares, op).await?;
    let stored = pool.count("raw_events").await?;
    pool.close().await;
    if stored != w.events {
        bail!("raw_events holds {stored} rows, expected {}", w.events);
    }
    let mut notes = "BEGIN; INSERT 1 row; COMMIT (no version check, no hash chain)".to_string();
    if retry_busy {
        notes.push_str(&format!("; {} 'database is locked' retries", m.retries));
    }
    let row = Row {
        contender: "raw-insert".into(),
        events: w.events,
        writers: w.writers,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes,
    };
    Ok(row)
}

/// `label`: `raw-batch` (W rows per transaction, the ceiling for W waiting writers) or
/// `raw-batch-1000` (the database's bulk-insert ceiling).
async fn raw_batch(dbs: &mut Databases, w: &Workload, batch: usize, label: &str) -> Result<Row> {
    on_fresh!(dbs, label, raw_batch_on(w, batch, label))
}

async fn raw_batch_on(
    dbs: &Databases,
    fresh: &Fresh,
    w: &Workload,
    batch: usize,
    label: &str,
) -> Result<Row> {
    let pool = dbs.pool(fresh, 1).await?;
    pool.execute_script(fresh::raw_schema(dbs.backend)).await?;
    pool.warm(1).await?;
    // The same rows as the writers produce: writer j % W, its (j / W + 1)-th event.
    let streams: Vec<String> = (0..w.shares.len())
        .map(|i| leadorch_domain::stream_id(Campaign::TYPE, &Workload::aggregate_id(i)))
        .collect();
    let rows: Vec<(usize, i64, Uuid)> = (0..w.events)
        .map(|j| {
            (
                (j % w.writers) as usize,
                (j / w.writers) as i64 + 1,
                Uuid::now_v7(),
            )
        })
        .collect();
    let start = Instant::now();
    for chunk in rows.chunks(batch) {
        let recorded_at = now_micros();
        with_pool!(&pool, p => {
            let mut tx = p.begin().await?;
            let mut qb = sqlx::QueryBuilder::new(RAW_COLUMNS);
            qb.push_values(chunk, |mut b, (s, v, id)| {
                b.push_bind(streams[*s].as_str())
                    .push_bind(*v)
                    .push_bind(id.as_bytes().as_slice())
                    .push_bind(EVENT_TYPE)
                    .push_bind(w.schema_version)
                    .push_bind(w.payload.as_slice())
                    .push_bind(w.metadata.as_slice())
                    .push_bind(recorded_at)
                    .push_bind(FAKE_HASH.as_slice())
                    .push_bind(FAKE_HASH.as_slice());
            });
            qb.build().execute(&mut *tx).await.context("batch insert")?;
            tx.commit().await?;
        });
    }
    let elapsed = start.elapsed();
    let stored = pool.count("raw_events").await?;
    pool.close().await;
    if stored != w.events {
        bail!("raw_events holds {stored} rows, expected {}", w.events);
    }
    let row = Row {
        contender: label.to_string(),
        events: w.events,
        writers: 1,
        elapsed,
        latencies: None,
        notes: format!("{batch}-row INSERT per transaction, 1 writer"),
    };
    Ok(row)
}
