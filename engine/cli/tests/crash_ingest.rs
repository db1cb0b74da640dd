//! Crash under ingest load, counted as Jepsen's set checker counts: a load generator posts leads
//! over HTTP with `Idempotency-Key`s to `leadorch serve` (the API every daemon serves), which is
//! killed with `kill -9` at a random moment under load (after a random number of answers, with
//! requests in flight), then started again; whatever
//! was not answered is sent again, same key and body, until it is. After every cycle (with the
//! server down) `leadorch audit verify` passes. At the end, reading the log: every
//! acknowledged lead is stored (0 lost), nothing was stored that was not sent (0 unexpected),
//! and no lead is stored twice (0 duplicated), although some requests reached the database and
//! lost their answer.
//!
//! Cycles: `LEADORCH_CRASH_CYCLES` (default 5 per backend in the test command; the figures in
//! docs/RELIABILITY.md are from 50).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{leadorch_with, repo, stderr, stdout};
use leadorch_store::{Db, Dialect, MasterKey, RetentionPolicy, Store};
use leadorch_test_support::TestDb;
use rand::Rng;
use serde_json::json;

/// Concurrent clients of the generator.
const CLIENTS: usize = 4;

fn cycles() -> usize {
    std::env::var("LEADORCH_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// `leadorch serve` on a free port: the child and its address.
fn serve(home: &std::path::Path, url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(repo())
        .env("LEADORCH_HOME", home)
        .env("DATABASE_URL", url)
        .env("LEADORCH_LOG", "warn")
        // The generator is the only client: no rate limit between it and the server.
        .env("LEADORCH__API__REQUESTS_PER_SECOND", "0")
        .env_remove("LEADORCH_MASTER_KEY")
        .env_remove("LEADORCH_MASTER_KEY_FILE")
        .env_remove("LEADORCH_CONFIG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start leadorch serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("leadorch serve printed its address")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep reading its standard error so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, addr)
}

/// One lead of the generator: its id (also its idempotency key) and body.
fn lead(n: usize) -> (String, serde_json::Value) {
    let id = format!("crash-{n}");
    let body = json!({
        "lead_id": id, "form_id": "contact",
        "email": format!("person{n}@example.org"),
        "consent": {"text": "I agree to be called about my request",
                    "at": "2026-12-01T10:00:00Z", "url": "https://example.org/contact"}
    });
    (id, body)
}

#[derive(Default)]
struct Counts {
    attempts: BTreeSet<String>,
    acknowledged: BTreeSet<String>,
    /// Sent and not answered yet (the server died first): sent again after the restart.
    pending: BTreeSet<usize>,
    /// Leads sent to a server that was killed before it answered, and sent again.
    retried: BTreeSet<usize>,
    /// HTTP requests sent.
    requests: usize,
}

/// Sends `todo` (lead numbers) from [`CLIENTS`] clients until the server stops answering or
/// `todo` is done; what got no answer goes back to `counts.pending`.
async fn send(
    addr: &str,
    key: &str,
    todo: Vec<usize>,
    counts: &mut Counts,
    acks: &Arc<AtomicUsize>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let queue = Arc::new(std::sync::Mutex::new(todo));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let queue = queue.clone();
        let acks = acks.clone();
        let client = client.clone();
        let url = format!("http://{addr}/v1/leads");
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            let mut unanswered = Vec::new();
            let mut sent = 0;
            let mut in_flight = Vec::new();
            let mut down = false;
            loop {
                let Some(n) = queue.lock().unwrap().pop() else {
                    break;
                };
                if down {
                    unanswered.push(n);
                    continue;
                }
                let (id, body) = lead(n);
                sent += 1;
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("idempotency-key", &id)
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        acks.fetch_add(1, Ordering::SeqCst);
                        answered.push((n, id));
                    }
                    Ok(r) => panic!("lead {id}: {} {}", r.status(), r.text().await.unwrap()),
                    // Refused, reset, or cut off by the kill: not answered.
                    Err(_) => {
                        in_flight.push(n);
                        unanswered.push(n);
                        down = true;
                    }
                }
            }
            (answered, unanswered, sent, in_flight)
        }));
    }
    for t in tasks {
        let (answered, unanswered, sent, in_flight) = t.await.unwrap();
        counts.requests += sent;
        counts.retried.extend(in_flight);
        for (n, id) in answered {
            counts.pending.remove(&n);
            counts.acknowledged.insert(id);
        }
        counts.pending.extend(unanswered);
    }
}

/// The leads stored: each `LeadReceived` event's `lead_id`, with how many events carry it.
async fn stored(url: &str) -> BTreeMap<String, usize> {
    let store = Store::with_master_key(
        Db::connect(url).await.unwrap(),
        MasterKey::random(),
        RetentionPolicy::default(),
    )
    .await
    .unwrap();
    let mut found = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.log.read_after(after, 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in &page {
            if e.event_type == "LeadReceived" {
                let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
                // Stored as `{"LeadReceived": {"lead_id": …, …}}`.
                let id = v["LeadReceived"]["lead_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no lead_id at position {}", e.position))
                    .to_string();
                *found.entry(id).or_default() += 1;
            }
        }
    }
    store.db().close().await;
    found
}

async fn run(dialect: Dialect) {
    let t = TestDb::new(dialect).await;
    let home = tempfile::tempdir().unwrap();
    let url = t.url.clone();
    let env = [("DATABASE_URL", url.as_str())];
    let made = leadorch_with(
        home.path(),
        &["keys", "create", "--name", "load", "--scopes", "ingest"],
        &env,
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let key = stdout(&made).trim().to_string();
    let mut counts = Counts::default();
    let mut next = 0;
    let mut rng = rand::thread_rng();
    let rounds = cycles();
    for cycle in 0..rounds {
        let (mut child, addr) = serve(home.path(), &url);
        // What the last server left unanswered first, then new leads.
        let mut todo: Vec<usize> = counts.pending.iter().copied().collect();
        let fresh = 400;
        for n in next..next + fresh {
            counts.attempts.insert(lead(n).0);
            todo.push(n);
        }
        next += fresh;
        todo.reverse();
        // Killed at a random moment under load: once the server has answered a random number
        // of this cycle's leads (progress, not a time: a busy machine is slow), then after a
        // random few milliseconds more, with requests in flight.
        let pid = child.id();
        let after = rng.gen_range(1..=300);
        let extra = rng.gen_range(0..20);
        let acks = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let kill = tokio::spawn({
            let acks = acks.clone();
            let done = done.clone();
            async move {
                while acks.load(Ordering::SeqCst) < after && !done.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(extra)).await;
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
        send(&addr, &key, todo, &mut counts, &acks).await;
        done.store(true, Ordering::SeqCst);
        kill.await.unwrap();
        let _ = child.kill();
        child.wait().unwrap();
        // The log verifies after every kill.
        let verified = leadorch_with(home.path(), &["audit", "verify"], &env);
        assert!(
            verified.status.success(),
            "cycle {cycle}: audit verify: {}{}",
            stdout(&verified),
            stderr(&verified)
        );
    }
    // A last server answers everything still pending.
    let (mut child, addr) = serve(home.path(), &url);
    let todo: Vec<usize> = counts.pending.iter().copied().collect();
    send(&addr, &key, todo, &mut counts, &Arc::default()).await;
    assert!(counts.pending.is_empty(), "{:?}", counts.pending);
    let _ = child.kill();
    child.wait().unwrap();

    let stored = stored(&url).await;
    let ids: BTreeSet<String> = stored.keys().cloned().collect();
    let lost: Vec<&String> = counts.acknowledged.difference(&ids).collect();
    let unexpected: Vec<&String> = ids.difference(&counts.attempts).collect();
    let duplicated: Vec<(&String, &usize)> = stored.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{dialect:?}: {rounds} kill -9 cycles, {} requests, {} leads attempted, {} acknowledged ({} of them in flight at a kill, answered when sent again), {} stored; lost {}, unexpected {}, duplicated {}",
        counts.requests,
        counts.attempts.len(),
        counts.acknowledged.len(),
        counts.retried.len(),
        ids.len(),
        lost.len(),
        unexpected.len(),
        duplicated.len()
    );
    let some = |v: Vec<String>| v.into_iter().take(10).collect::<Vec<_>>().join(", ");
    assert!(
        lost.is_empty(),
        "lost, among them: {}",
        some(lost.iter().map(|s| s.to_string()).collect())
    );
    assert!(
        unexpected.is_empty(),
        "unexpected, among them: {}",
        some(unexpected.iter().map(|s| s.to_string()).collect())
    );
    assert!(
        duplicated.is_empty(),
        "duplicated, among them: {}",
        some(
            duplicated
                .iter()
                .map(|(s, n)| format!("{s} x{n}"))
                .collect()
        )
    );
    // Every attempt was answered in the end: all of them are stored.
    assert_eq!(counts.acknowledged, counts.attempts);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_survive_kill_9_under_load_on_sqlite() {
    run(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_survive_kill_9_under_load_on_postgres() {
    run(Dialect::Postgres).await;
}
