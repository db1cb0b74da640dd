//! `leadorch bench ingest`: durable `POST /v1/leads` over loopback from C keep-alive
//! connections, beside the store's own writes of the same leads and a straightforward peer.
//!
//! Sides, each on its own fresh database, in this order:
//! - `leadorch`: the real API router (`leadorch_api::router`, rate limits off) served on
//!   127.0.0.1 in this process; C client tasks, each with its own keep-alive HTTP/1.1
//!   connection, POST distinct valid leads (a team, consent evidence) one at a time. Every
//!   answer must be a `201` with `"outcome":"accepted"`, and the log must hold exactly N
//!   `LeadReceived` and N `ConsentGranted` events afterwards.
//! - `ceiling`: what one lead writes, through the store's own calls, from C tasks, with no
//!   HTTP, no validation and no reads: the `ConsentGranted` and `LeadReceived` events (made by
//!   the aggregates from the lead path's commands, before the clock starts) sealed by
//!   `Codec::encode_atomic` (a new subject: its keys made in memory), then one
//!   `EventLog::append_atomic` of both with the fingerprint claim (two rows) and the key rows
//!   (ADR 0029). These are the same rows, in the same transaction, as the lead path writes
//!   for a lead without an `Idempotency-Key`; the time of each step is printed.
//! - `peer`: a plain axum handler over a sqlx pool of C connections that parses the same JSON
//!   and inserts each lead as one row (its fields and the body as JSON text) in its own
//!   transaction, served the plain axum way (`axum::serve`, `TCP_NODELAY`), no key checked.
//! - `events-only` (informative, no ratio line): the lead's two events alone, encoded before
//!   the clock starts (keys made then), enqueued together and awaited — one group commit, no
//!   side rows: what the side rows of a lead's atomic append cost, against the ceiling.
//! - `floor` (informative): the same clients, bodies and headers against a plain axum handler
//!   that parses each lead and answers `201` without any database — the HTTP exchange alone,
//!   which bounds every side that stores leads over HTTP in this process.
//!
//! Durability as in `bench append`: SQLite WAL, `synchronous=FULL`, busy timeout 30 s;
//! PostgreSQL `synchronous_commit=on`, for every side. Client and server share this process's
//! tokio runtime (two worker threads on this machine).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use clap::Args;
use cqrs_es::Aggregate;
use futures::future::BoxFuture;
use leadorch_api::keys::Scope;
use leadorch_core::Engine;
use leadorch_domain::lead::{Attribution, LeadArrival, LeadOutcome};
use leadorch_domain::{
    stream_id, Consent, ConsentCommand, ConsentEvent, Lead, LeadCommand, LeadEvent,
};
use leadorch_store::atomic::OwnedClaim;
use leadorch_store::codec::Pending;
use leadorch_store::fingerprints::FingerprintKind;
use leadorch_store::{
    AtomicAppend, Db, ExpectedVersion, MasterKey, Metadata, NewEvent, RetentionPolicy, SideRow,
    Store, StreamPart,
};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::append::{drive, Measured, Op};
use super::fresh::{is_sqlite_busy, with_pool, Databases, Fresh, Pool};
use super::served::Served;
use super::{print_table_named, thousands, Backend, Row};

/// The project the bench's key belongs to (stored ids carry it as a prefix).
const PROJECT: &str = "default";
/// The team named in every lead.
const TEAM: &str = "sales-nl";
const CONSENT_TEXT: &str = "I agree to be called about my request";
const CONSENT_AT: &str = "2026-12-01T10:00:00Z";
const CONSENT_URL: &str = "https://example.org/contact";
/// Give up on a peer insert that keeps hitting "database is locked".
const MAX_BUSY_RETRIES: u64 = 1000;
/// Distinct phone numbers the generator makes (`+31 6 2xxxxxxx`).
const MAX_LEADS: u64 = 10_000_000;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Database to run on
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Leads each side records
    #[arg(long, default_value_t = 20_000)]
    pub leads: u64,
    /// Concurrent clients: keep-alive HTTP connections (leadorch, peer) or tasks (ceiling)
    #[arg(long, default_value_t = 64)]
    pub connections: u64,
    /// Sides to measure, comma-separated: leadorch, ceiling, peer, events-only, floor;
    /// leadorch always runs first (`--sides leadorch` measures it alone, for profiling)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "leadorch,ceiling,peer,events-only,floor"
    )]
    pub sides: Vec<String>,
    /// Server for --backend postgres (a database is created and dropped per side)
    #[arg(
        long,
        env = "LEADORCH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

/// Which sides run beside leadorch.
#[derive(Clone, Copy, Debug)]
struct Sides {
    ceiling: bool,
    peer: bool,
    events_only: bool,
    floor: bool,
}

impl Sides {
    fn parse(names: &[String]) -> Result<Sides> {
        let mut s = Sides {
            ceiling: false,
            peer: false,
            events_only: false,
            floor: false,
        };
        for name in names.iter().map(|n| n.trim()) {
            match name {
                "leadorch" | "" => {}
                "ceiling" => s.ceiling = true,
                "peer" => s.peer = true,
                "events-only" => s.events_only = true,
                "floor" => s.floor = true,
                other => bail!(
                    "--sides: unknown side {other:?}; use leadorch, ceiling, peer, events-only, floor"
                ),
            }
        }
        Ok(s)
    }
}

/// The leads every side records: lead `i` has id `bench-i`, email `leadi@example.org` and
/// phone `+31 6 <20000000 + i>`, so all are distinct and every one is accepted.
struct Workload {
    leads: u64,
    connections: u64,
    /// Leads per connection.
    shares: Vec<u64>,
    /// The first lead of each connection.
    offsets: Vec<u64>,
    /// The request bodies.
    bodies: Arc<Vec<Bytes>>,
}

impl Workload {
    fn new(leads: u64, connections: u64) -> Workload {
        let shares: Vec<u64> = (0..connections)
            .map(|c| leads / connections + u64::from(c < leads % connections))
            .collect();
        let offsets = shares
            .iter()
            .scan(0, |next, n| {
                let first = *next;
                *next += n;
                Some(first)
            })
            .collect();
        let bodies = (0..leads).map(|i| Bytes::from(body(i))).collect();
        Workload {
            leads,
            connections,
            shares,
            offsets,
            bodies: Arc::new(bodies),
        }
    }

    fn mean_body_bytes(&self) -> usize {
        self.bodies.iter().map(Bytes::len).sum::<usize>() / self.bodies.len().max(1)
    }
}

fn email(i: u64) -> String {
    format!("lead{i}@example.org")
}

/// The phone number as sent (`+31 6 2xxxxxxx`); E.164 is the same without spaces.
fn phone(i: u64) -> String {
    format!("+31 6 {}", 20_000_000 + i)
}

fn e164(i: u64) -> String {
    format!("+316{}", 20_000_000 + i)
}

/// One lead as a web form's backend would send it (about 345 bytes).
fn body(i: u64) -> String {
    serde_json::json!({
        "lead_id": format!("bench-{i}"),
        "form_id": "contact",
        "team": TEAM,
        "name": "Ann de Vries",
        "email": email(i),
        "phone": phone(i),
        "attribution": {"gclid": "Cj0KCQiA-bench", "utm_source": "google", "utm_medium": "cpc"},
        "consent": {"text": CONSENT_TEXT, "at": CONSENT_AT, "url": CONSENT_URL},
    })
    .to_string()
}

/// Process CPU time (user + system) so far, from `/proc/self/stat` (Linux; 100 ticks/s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// "CPU x.x s of this process (y % of 2 cores)" for a phase that ran `elapsed`.
fn cpu_note(before: Option<f64>, elapsed: Duration) -> String {
    match (before, cpu_seconds()) {
        (Some(a), Some(b)) => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            format!(
                "CPU {:.1} s in this process ({:.0} % of {cores} cores)",
                b - a,
                100.0 * (b - a) / elapsed.as_secs_f64().max(1e-9) / cores as f64
            )
        }
        _ => "CPU not measured".into(),
    }
}

/// Runs `bench ingest`.
pub async fn run(args: &IngestArgs) -> Result<ExitCode> {
    if args.leads == 0 || args.connections == 0 {
        bail!("--leads and --connections must be at least 1");
    }
    if args.connections > 1024 {
        bail!("--connections is at most 1024");
    }
    if args.leads > MAX_LEADS {
        bail!("--leads is at most {}", thousands(MAX_LEADS));
    }
    let sides = Sides::parse(&args.sides)?;
    eprintln!("making {} lead bodies …", thousands(args.leads));
    let w = Workload::new(args.leads, args.connections);
    let mut dbs = Databases::new(args.backend, &args.postgres_url).await?;
    let result = measure(&mut dbs, &w, sides).await;
    dbs.cleanup().await;
    let (rows, parts) = result?;

    let durability = match args.backend {
        Backend::Sqlite => "SQLite WAL, synchronous=FULL, busy_timeout=30 s",
        Backend::Postgres => "PostgreSQL synchronous_commit=on",
    };
    println!(
        "leadorch bench ingest --backend {}: {} distinct valid leads ({}-byte JSON, a team and consent evidence) per side from {} concurrent clients, each waiting for its answer; a fresh database each ({durability})",
        args.backend.name(),
        thousands(w.leads),
        w.mean_body_bytes(),
        w.connections,
    );
    print_table_named(&rows, ["leads", "clients", "leads/s"]);
    if let Some(p) = parts {
        println!("{p}");
    }
    let ours = &rows[0];
    let goal = |what: &str, met: bool, figure: String| {
        eprintln!(
            "goal {what}: {} ({figure})",
            if met { "met" } else { "missed" }
        );
    };
    if args.backend == Backend::Sqlite {
        let p99 = ours
            .latencies
            .as_ref()
            .and_then(|l| l.percentile_ms(99.0))
            .unwrap_or(f64::INFINITY);
        goal(
            "leadorch >= 10,000 leads/s with p99 <= 50 ms",
            ours.events_per_sec() >= 10_000.0 && p99 <= 50.0,
            format!("{:.0} leads/s, p99 {p99:.1} ms", ours.events_per_sec()),
        );
    }
    for (name, factor) in [("ceiling", 0.5), ("peer", 5.0)] {
        if let Some(p) = rows.iter().find(|r| r.contender == name) {
            let ratio = ours.events_per_sec() / p.events_per_sec();
            goal(
                &format!("leadorch >= {factor}x {name}"),
                ratio >= factor,
                format!("{ratio:.2}x"),
            );
        }
    }
    // The ratio lines end the output, as they always did (floor and events-only are
    // informative: no ratio line).
    for name in ["ceiling", "peer"] {
        if let Some(p) = rows.iter().find(|r| r.contender == name) {
            println!(
                "ratio leadorch/{name} = {:.2}",
                ours.events_per_sec() / p.events_per_sec()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one side on a fresh database labelled `label`, then drops the database whatever
/// happened.
macro_rules! on_fresh {
    ($dbs:expr, $label:expr, $f:ident($($arg:expr),*)) => {{
        let label: &str = $label;
        let fresh = $dbs.create(label).await?;
        let result = $f(&*$dbs, &fresh, $($arg),*).await;
        $dbs.drop_db(fresh).await;
        result.with_context(|| format!("side {label}"))
    }};
}

async fn measure(
    dbs: &mut Databases,
    w: &Workload,
    sides: Sides,
) -> Result<(Vec<Row>, Option<String>)> {
    let mut rows = Vec::new();
    let mut parts = None;
    eprintln!("leadorch (POST /v1/leads over loopback) …");
    rows.push(report(on_fresh!(dbs, "leadorch", leadorch_on(w))?));
    if sides.ceiling {
        eprintln!("ceiling (the store's own writes of each lead) …");
        let (row, p) = on_fresh!(dbs, "ceiling", ceiling_on(w))?;
        rows.push(report(row));
        parts = Some(p);
    }
    if sides.peer {
        eprintln!("peer (axum + sqlx, one transaction per lead) …");
        rows.push(report(on_fresh!(dbs, "peer", peer_on(w))?));
    }
    if sides.events_only {
        eprintln!("events-only (each lead's two events, enqueued together, no side rows) …");
        rows.push(report(on_fresh!(dbs, "events-only", events_only_on(w))?));
    }
    if sides.floor {
        eprintln!("floor (the same HTTP exchange against a handler that stores nothing) …");
        rows.push(report(floor_on(w).await.context("side floor")?));
    }
    Ok((rows, parts))
}

fn report(r: Row) -> Row {
    eprintln!(
        "  {}: {:.3} s, {:.0} leads/s",
        r.contender,
        r.elapsed.as_secs_f64(),
        r.events_per_sec()
    );
    r
}

/// One keep-alive HTTP/1.1 client per connection (each holds at most one idle connection and
/// is used by one task at a time, so it keeps exactly one open).
fn clients(n: u64) -> Result<Arc<Vec<reqwest::Client>>> {
    let clients = (0..n)
        .map(|_| {
            reqwest::Client::builder()
                .http1_only()
                .no_proxy()
                .tcp_nodelay(true)
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(None)
                .timeout(Duration::from_secs(120))
                .build()
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .context("making the HTTP clients")?;
    Ok(Arc::new(clients))
}

/// Opens every client's connection (a `GET` of `url`), so that connecting is not measured.
async fn warm(clients: &[reqwest::Client], url: &str) -> Result<()> {
    futures::future::try_join_all(clients.iter().map(|c| async move {
        let r = c.get(url).send().await?;
        if !r.status().is_success() {
            bail!("GET {url}: {}", r.status());
        }
        r.bytes().await?;
        anyhow::Ok(())
    }))
    .await?;
    Ok(())
}

/// `POST url` of connection `c`'s `k`-th lead; anything but a `201` that accepted the lead
/// fails the bench.
fn http_op(clients: Arc<Vec<reqwest::Client>>, url: String, key: String, w: &Workload) -> Op {
    let bodies = w.bodies.clone();
    let offsets = Arc::new(w.offsets.clone());
    let (url, key): (Arc<str>, Arc<str>) = (url.into(), key.into());
    Arc::new(move |c: usize, k: u64| -> BoxFuture<'static, Result<u64>> {
        let body = bodies[(offsets[c] + k) as usize].clone();
        let request = clients[c]
            .post(&*url)
            .bearer_auth(&key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        Box::pin(async move {
            let response = request.send().await.context("POST /v1/leads")?;
            let status = response.status();
            let answer = response.bytes().await.context("reading an answer")?;
            let accepted = answer
                .windows(ACCEPTED.len())
                .any(|w| w == ACCEPTED.as_bytes());
            if status != reqwest::StatusCode::CREATED || !accepted {
                bail!(
                    "POST /v1/leads answered {status}: {}",
                    String::from_utf8_lossy(&answer)
                );
            }
            Ok(0)
        })
    })
}

const ACCEPTED: &str = r#""outcome":"accepted""#;

async fn count_events(store: &Store, event_type: &str) -> Result<u64> {
    let n: i64 = leadorch_store::on_pool!(store.db(), p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(p)
        .await)?;
    Ok(n as u64)
}

/// Group commits of the log (every group stamps its events with one `recorded_at`).
async fn group_commits(store: &Store) -> Result<u64> {
    let n: i64 = leadorch_store::on_pool!(store.db(), p => sqlx::query_scalar(
            "SELECT COUNT(DISTINCT recorded_at) FROM events")
        .fetch_one(p)
        .await)?;
    Ok(n as u64)
}

/// Fails unless the log holds exactly one `ConsentGranted` and one `LeadReceived` per lead.
async fn check_log(store: &Store, leads: u64) -> Result<()> {
    for event_type in ["LeadReceived", "ConsentGranted"] {
        let n = count_events(store, event_type).await?;
        if n != leads {
            bail!("the log holds {n} {event_type} events, expected {leads}");
        }
    }
    Ok(())
}

async fn open_store(fresh: &Fresh) -> Result<(Db, Store)> {
    let db = Db::connect(&fresh.url).await?;
    let store =
        Store::with_master_key(db.clone(), MasterKey::random(), RetentionPolicy::default()).await?;
    Ok((db, store))
}

async fn leadorch_on(_dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<Row> {
    let (db, store) = open_store(fresh).await?;
    let mut settings = leadorch_api::Settings::default();
    settings.api.requests_per_second = 0;
    let (api, access) = leadorch_api::Api::with_settings(
        Engine {
            store: store.clone(),
        },
        settings,
    );
    let served = Served::start(api, access, PROJECT, "bench", vec![Scope::Ingest]).await?;
    let base = served.base.clone();
    let clients = clients(w.connections)?;
    let measured = async {
        warm(&clients, &format!("{base}/healthz")).await?;
        let cpu = cpu_seconds();
        let op = http_op(
            clients.clone(),
            format!("{base}/v1/leads"),
            served.key.clone(),
            w,
        );
        let m = drive(&w.shares, op).await?;
        anyhow::Ok((cpu_note(cpu, m.elapsed), m))
    }
    .await;
    drop(clients);
    served.stop().await?;
    let (cpu, m) = measured?;
    check_log(&store, w.leads).await?;
    let commits = group_commits(&store).await?;
    drop(store);
    db.close().await;
    Ok(Row {
        contender: "leadorch".into(),
        events: w.leads,
        writers: w.connections,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes: format!(
            "the API router (key auth, rate limits off), 1 keep-alive HTTP/1.1 connection per client; per lead one atomic append (consent, lead, fingerprint claim, key rows); {} events in ~{} group commits; {cpu}",
            thousands(2 * w.leads),
            thousands(commits),
        ),
    })
}

/// What the lead path writes for one lead, made before the clock starts.
struct Prepared {
    lead_key: String,
    subject_id: String,
    fingerprints: [(FingerprintKind, [u8; 32]); 2],
    consent_stream: String,
    consent: ConsentEvent,
    lead_stream: String,
    lead: LeadEvent,
    metadata: Metadata,
}

/// The events the lead path's commands make for lead `i`, by the aggregates themselves.
fn prepare(i: u64, key_id: &str) -> Result<Prepared> {
    let lead_key = leadorch_api::ids::scoped(PROJECT, &format!("bench-{i}"));
    // Time-ordered, as the lead path makes them.
    let subject_id = leadorch_api::ids::scoped(PROJECT, &Uuid::now_v7().to_string());
    let consent_id = leadorch_api::ids::scoped(PROJECT, &Uuid::now_v7().to_string());
    let at = chrono::DateTime::parse_from_rfc3339(CONSENT_AT)?.with_timezone(&Utc);
    let consent = Consent::default()
        .decide(ConsentCommand::GrantConsent {
            consent_id: consent_id.clone(),
            subject_id: subject_id.clone(),
            lead_id: Some(lead_key.clone()),
            text: CONSENT_TEXT.into(),
            source_url: CONSENT_URL.into(),
            page_url: Some(CONSENT_URL.into()),
            ip: None,
            user_agent: None,
            trustedform_cert_url: None,
            jornaya_token: None,
            at,
        })
        .map_err(|e| anyhow!("consent: {e}"))?
        .pop()
        .context("no consent event")?;
    let mut metadata = serde_json::Map::new();
    metadata.insert("utm_medium".into(), "cpc".into());
    let arrival = LeadArrival {
        lead_id: lead_key.clone(),
        subject_id: subject_id.clone(),
        team: leadorch_api::ids::scoped(PROJECT, TEAM),
        source: "api".into(),
        form_id: Some("contact".into()),
        name: Some("Ann de Vries".into()),
        email: Some(email(i)),
        phone: Some(e164(i)),
        attribution: Attribution {
            gclid: Some("Cj0KCQiA-bench".into()),
            utm_source: Some("google".into()),
            utm_medium: Some("cpc".into()),
            ..Attribution::default()
        },
        consent_id: Some(consent_id.clone()),
        at: Utc::now(),
        ..LeadArrival::default()
    };
    let lead = Lead::default()
        .decide(LeadCommand::ReceiveLead {
            arrival,
            outcome: LeadOutcome::Accepted,
        })
        .map_err(|e| anyhow!("lead: {e}"))?
        .pop()
        .context("no lead event")?;
    let random = || {
        let mut fp = [0u8; 32];
        fp[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        fp[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        fp
    };
    Ok(Prepared {
        consent_stream: stream_id(Consent::TYPE, &consent_id),
        lead_stream: stream_id(Lead::TYPE, &lead_key),
        lead_key,
        subject_id,
        fingerprints: [
            (FingerprintKind::Email, random()),
            (FingerprintKind::Phone, random()),
        ],
        consent,
        lead,
        metadata: Metadata {
            actor: format!("api-key:{key_id}"),
            trace_id: Some(Uuid::now_v7().to_string()),
            ..Default::default()
        },
    })
}

fn prepare_all(w: &Workload) -> Result<Arc<Vec<Prepared>>> {
    let key_id = "key_benchbench";
    Ok(Arc::new(
        (0..w.leads)
            .map(|i| prepare(i, key_id))
            .collect::<Result<Vec<_>>>()?,
    ))
}

/// Summed time of each step of the ceiling, µs.
#[derive(Default)]
struct Steps([AtomicU64; 2]);

const STEPS: [&str; 2] = ["keys + seal", "atomic append"];

impl Steps {
    fn add(&self, marks: [Instant; 3]) {
        for (i, slot) in self.0.iter().enumerate() {
            let us = marks[i + 1].duration_since(marks[i]).as_micros();
            slot.fetch_add(u64::try_from(us).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    fn line(&self, leads: u64) -> String {
        let means: Vec<f64> = self
            .0
            .iter()
            .map(|s| s.load(Ordering::Relaxed) as f64 / 1000.0 / leads.max(1) as f64)
            .collect();
        let total: f64 = means.iter().sum();
        let parts: Vec<String> = STEPS
            .iter()
            .zip(&means)
            .map(|(name, ms)| format!("{name} {ms:.2} ms ({:.0} %)", 100.0 * ms / total.max(1e-9)))
            .collect();
        format!(
            "ceiling, mean time per lead in each step (waits included): {}; sum {total:.2} ms",
            parts.join(", ")
        )
    }
}

async fn ceiling_on(_dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<(Row, String)> {
    let (db, store) = open_store(fresh).await?;
    let prepared = prepare_all(w)?;
    let offsets = Arc::new(w.offsets.clone());
    let steps = Arc::new(Steps::default());
    let expires_at = Utc::now() + chrono::Duration::days(90);
    let op_store = store.clone();
    let op_steps = steps.clone();
    let op: Op = Arc::new(move |c: usize, k: u64| -> BoxFuture<'static, Result<u64>> {
        let store = op_store.clone();
        let prepared = prepared.clone();
        let steps = op_steps.clone();
        let i = (offsets[c] + k) as usize;
        Box::pin(async move {
            let p = &prepared[i];
            let now = Utc::now();
            let t0 = Instant::now();
            let pending = vec![Pending::of(&p.consent, now)?, Pending::of(&p.lead, now)?];
            let (mut events, keys) = store
                .codec
                .encode_atomic(pending, &p.metadata, &[p.subject_id.as_str()])
                .await?;
            let t1 = Instant::now();
            let lead = events.pop().context("an event short")?;
            let consent = events.pop().context("an event short")?;
            let mut side = vec![SideRow::Claim(OwnedClaim {
                project: PROJECT.into(),
                fingerprints: p.fingerprints.to_vec(),
                lead_id: p.lead_key.clone(),
                subject_id: p.subject_id.clone(),
                expires_at: expires_at.timestamp_micros(),
                now: now.timestamp_micros(),
            })];
            side.extend(keys);
            store
                .log
                .append_atomic(AtomicAppend {
                    parts: vec![
                        StreamPart {
                            stream_id: p.consent_stream.clone(),
                            expected: ExpectedVersion::NoStream,
                            events: vec![consent],
                        },
                        StreamPart {
                            stream_id: p.lead_stream.clone(),
                            expected: ExpectedVersion::NoStream,
                            events: vec![lead],
                        },
                    ],
                    side,
                })
                .await?;
            steps.add([t0, t1, Instant::now()]);
            Ok(0)
        })
    });
    let cpu = cpu_seconds();
    let m = drive(&w.shares, op).await?;
    let cpu = cpu_note(cpu, m.elapsed);
    check_log(&store, w.leads).await?;
    let commits = group_commits(&store).await?;
    drop(store);
    db.close().await;
    let row = Row {
        contender: "ceiling".into(),
        events: w.leads,
        writers: w.connections,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes: format!(
            "the store's calls of the lead path, nothing else (no HTTP, validation or reads): Codec::encode_atomic of ConsentGranted and LeadReceived (a new subject: keys made in memory), EventLog::append_atomic of both with the fingerprint claim and the key rows; ~{} group commits; {cpu}",
            thousands(commits),
        ),
    };
    Ok((row, steps.line(w.leads)))
}

/// A lead's consent stream and event, lead stream and event, taken by the task that appends
/// them.
type Slot = std::sync::Mutex<Option<(String, NewEvent, String, NewEvent)>>;

async fn events_only_on(_dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<Row> {
    let (db, store) = open_store(fresh).await?;
    let prepared = prepare_all(w)?;
    // Encoded (keys made, fields sealed) in batches before the clock starts.
    let mut encoded = Vec::with_capacity(prepared.len());
    let now = Utc::now();
    for chunk in prepared.chunks(500) {
        let mut pending = Vec::with_capacity(2 * chunk.len());
        for p in chunk {
            pending.push(Pending::of(&p.consent, now)?);
            pending.push(Pending::of(&p.lead, now)?);
        }
        let mut events = store
            .codec
            .encode_many(pending, &chunk[0].metadata)
            .await?
            .into_iter();
        for p in chunk {
            let consent = events.next().context("an event short")?;
            let lead = events.next().context("an event short")?;
            encoded.push(std::sync::Mutex::new(Some((
                p.consent_stream.clone(),
                consent,
                p.lead_stream.clone(),
                lead,
            ))));
        }
    }
    drop(prepared);
    let encoded: Arc<Vec<Slot>> = Arc::new(encoded);
    let offsets = Arc::new(w.offsets.clone());
    let log = store.log.clone();
    let op: Op = Arc::new(move |c: usize, k: u64| -> BoxFuture<'static, Result<u64>> {
        let log = log.clone();
        let taken = encoded[(offsets[c] + k) as usize]
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        Box::pin(async move {
            let (cs, consent, ls, lead) = taken.context("a lead appended twice")?;
            let first = log
                .enqueue(&cs, ExpectedVersion::Exact(0), vec![consent])
                .await?;
            let second = log
                .enqueue(&ls, ExpectedVersion::Exact(0), vec![lead])
                .await?;
            first.outcome().await?;
            second.outcome().await?;
            Ok(0)
        })
    });
    let cpu = cpu_seconds();
    let m = drive(&w.shares, op).await?;
    let cpu = cpu_note(cpu, m.elapsed);
    check_log(&store, w.leads).await?;
    let commits = group_commits(&store).await?;
    drop(store);
    db.close().await;
    Ok(Row {
        contender: "events-only".into(),
        events: w.leads,
        writers: w.connections,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes: format!(
            "each lead's 2 events sealed before the clock, enqueued together then awaited: no claim, no key writes; ~{} group commits; {cpu}",
            thousands(commits),
        ),
    })
}

/// A lead as the peer reads it: the same JSON, into a plain struct.
#[derive(Debug, Deserialize)]
struct PeerLead {
    lead_id: String,
    form_id: String,
    team: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    consent: Option<PeerConsent>,
}

#[derive(Debug, Deserialize)]
struct PeerConsent {
    text: String,
    at: String,
    url: String,
}

#[derive(Clone)]
struct PeerState {
    pool: Pool,
    busy_retries: Arc<AtomicU64>,
}

const PEER_INSERT: &str = "INSERT INTO leads (lead_id, form_id, team, name, email, phone, \
     consent_text, consent_at, consent_url, body, received_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// The peer's table: one row per lead, its fields and the body as JSON text.
fn peer_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TABLE leads (
               id           INTEGER PRIMARY KEY,
               lead_id      TEXT    NOT NULL UNIQUE,
               form_id      TEXT    NOT NULL,
               team         TEXT,
               name         TEXT,
               email        TEXT,
               phone        TEXT,
               consent_text TEXT,
               consent_at   TEXT,
               consent_url  TEXT,
               body         TEXT    NOT NULL,
               received_at  INTEGER NOT NULL
             )"
        }
        Backend::Postgres => {
            "CREATE TABLE leads (
               id           BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
               lead_id      TEXT    NOT NULL UNIQUE,
               form_id      TEXT    NOT NULL,
               team         TEXT,
               name         TEXT,
               email        TEXT,
               phone        TEXT,
               consent_text TEXT,
               consent_at   TEXT,
               consent_url  TEXT,
               body         TEXT    NOT NULL,
               received_at  BIGINT  NOT NULL
             )"
        }
    }
}

/// The peer's `POST /v1/leads`: parse, `BEGIN; INSERT; COMMIT`, answer `201`.
async fn peer_receive(State(s): State<PeerState>, body: Bytes) -> axum::response::Response {
    let lead: PeerLead = match serde_json::from_slice(&body) {
        Ok(l) => l,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let text = String::from_utf8_lossy(&body);
    let (consent_text, consent_at, consent_url) = match &lead.consent {
        Some(c) => (Some(&c.text), Some(&c.at), Some(&c.url)),
        None => (None, None, None),
    };
    let retry_busy = matches!(s.pool, Pool::Sqlite(_));
    let mut retries = 0;
    loop {
        let attempt: std::result::Result<(), sqlx::Error> = with_pool!(&s.pool, p => async {
            let mut tx = p.begin().await?;
            sqlx::query(PEER_INSERT)
                .bind(&lead.lead_id)
                .bind(&lead.form_id)
                .bind(&lead.team)
                .bind(&lead.name)
                .bind(&lead.email)
                .bind(&lead.phone)
                .bind(consent_text)
                .bind(consent_at)
                .bind(consent_url)
                .bind(&*text)
                .bind(Utc::now().timestamp_micros())
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await);
        match attempt {
            Ok(()) => break,
            Err(e) if retry_busy && retries < MAX_BUSY_RETRIES && is_sqlite_busy(&e) => {
                retries += 1;
                s.busy_retries.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }
    let answer = serde_json::json!({"lead_id": lead.lead_id, "outcome": "accepted"});
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// Serves `app` (plus `GET /healthz`) the plain axum way (`axum::serve`, `TCP_NODELAY`) on
/// 127.0.0.1:0 and measures the workload's `POST /v1/leads` against it from the bench's
/// clients, with the same headers as leadorch gets (a key nobody looks at). Returns the CPU
/// note of the measured phase and the measurement.
async fn measure_plain(app: axum::Router, w: &Workload) -> Result<(String, Measured)> {
    let app = app.route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let bound = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let base = format!("http://{bound}");
    let clients = clients(w.connections)?;
    let key = leadorch_api::keys::generate(PROJECT).text.to_string();
    let measured = async {
        warm(&clients, &format!("{base}/healthz")).await?;
        let cpu = cpu_seconds();
        let op = http_op(clients.clone(), format!("{base}/v1/leads"), key, w);
        let m = drive(&w.shares, op).await?;
        anyhow::Ok((cpu_note(cpu, m.elapsed), m))
    }
    .await;
    drop(clients);
    let _ = stop.send(());
    server
        .await
        .context("the plain server task failed")?
        .context("the plain server")?;
    measured
}

/// The floor's `POST /v1/leads`: parse the lead as the peer does, store nothing, answer
/// `201` as the peer does.
async fn floor_receive(body: Bytes) -> axum::response::Response {
    let lead: PeerLead = match serde_json::from_slice(&body) {
        Ok(l) => l,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let answer = serde_json::json!({"lead_id": lead.lead_id, "outcome": "accepted"});
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// `floor`: the HTTP exchange alone, with no database. The same clients, bodies and headers
/// against a plain axum handler that parses each lead and answers `201` without storing it.
/// No side that stores leads over this HTTP can be faster; its CPU per lead is what HTTP
/// costs in this process before any work is done.
async fn floor_on(w: &Workload) -> Result<Row> {
    let app = axum::Router::new().route("/v1/leads", axum::routing::post(floor_receive));
    let (cpu, m) = measure_plain(app, w).await?;
    Ok(Row {
        contender: "floor".into(),
        events: w.leads,
        writers: w.connections,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes: format!(
            "axum::serve, a handler that parses each lead and answers 201, storing nothing (no database): the HTTP exchange alone; {cpu}"
        ),
    })
}

async fn peer_on(dbs: &Databases, fresh: &Fresh, w: &Workload) -> Result<Row> {
    let connections = u32::try_from(w.connections).unwrap_or(u32::MAX);
    let pool = dbs.pool(fresh, connections).await?;
    pool.execute_script(peer_schema(dbs.backend)).await?;
    pool.warm(connections).await?;
    let state = PeerState {
        pool: pool.clone(),
        busy_retries: Arc::new(AtomicU64::new(0)),
    };
    let app = axum::Router::new()
        .route("/v1/leads", axum::routing::post(peer_receive))
        .with_state(state.clone());
    let (cpu, m) = measure_plain(app, w).await?;
    let stored = pool.count("leads").await?;
    pool.close().await;
    if stored != w.leads {
        bail!(
            "the peer's table holds {stored} leads, expected {}",
            w.leads
        );
    }
    let mut notes = format!(
        "axum::serve, a plain handler: serde parse, BEGIN; INSERT 1 row (fields + body as JSON text); COMMIT on a sqlx pool of {connections}; no key check, validation or dedup"
    );
    if dbs.backend == Backend::Sqlite {
        notes.push_str(&format!(
            "; {} 'database is locked' retries",
            state.busy_retries.load(Ordering::Relaxed)
        ));
    }
    notes.push_str(&format!("; {cpu}"));
    Ok(Row {
        contender: "peer".into(),
        events: w.leads,
        writers: w.connections,
        elapsed: m.elapsed,
        latencies: Some(m.latencies),
        notes,
    })
}
