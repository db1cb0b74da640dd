//! Crash under ingest load, counted as Jepsen's set checker counts: a load generator posts leads
//! over HTTP with `Idempotency-Key`s, and capacity readings that take four teams from full to
//! empty and back, to `leadorch daemon --adapter google`, which serves the API and acts on the
//! fake Google Ads (the example `capacity_gate` pauses and resumes each team's gated campaign;
//! `min_dwell` is 0 so that every flip may act). The daemon is killed with `kill -9` at a random
//! moment under load (after a random number of answers, with requests in flight and changes
//! being decided and applied), then started again; whatever was not answered is sent again, same
//! key and body, until it is. After every cycle (with the daemon down) `leadorch audit verify`
//! passes.
//!
//! At the end, reading the log: every acknowledged lead is stored (0 lost), nothing was stored
//! that was not sent (0 unexpected), and no lead is stored twice (0 duplicated), although some
//! requests reached the database and lost their answer. And counting the fake's applied
//! mutates: none sets a status the campaign already had (what applying a change twice does),
//! each is a change the log records as applied, in the log's order, no change is left open, and
//! every gated campaign ends in the state its team's last reading asks for.
//!
//! Cycles: `LEADORCH_CRASH_CYCLES` (default 5 per backend in the test command; the figures in
//! docs/RELIABILITY.md are from 50).

mod common;
// The Google set-up is its own module, so only the tests that use it link the fakes.
#[path = "common/google.rs"]
mod google;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use google::{Setup, CUSTOMER};
use leadorch_fakes::{CampaignStatus, FakeCampaign, Route};
use leadorch_store::{Db, Dialect, MasterKey, RetentionPolicy, Store};
use leadorch_test_support::TestDb;
use rand::Rng;
use serde_json::json;

/// Concurrent lead clients of the generator (capacity readings have a client of their own).
const CLIENTS: usize = 4;

/// Teams `t0`…: each has one capacity-gated campaign, [`gated`].
const TEAMS: usize = 4;

/// Readings in a row that leave a team as it is, so the daemon has time to act on each state.
const HOLD: usize = 5;

/// Team `n`'s capacity-gated campaign.
fn gated(team: usize) -> i64 {
    300 + team as i64
}

fn cycles() -> usize {
    std::env::var("LEADORCH_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// `leadorch daemon --adapter google` serving the API on a free port: the child and the
/// address. Its standard error lines go to `said`.
fn daemon(s: &Setup, config: &Path, said: &Arc<Mutex<Vec<String>>>) -> (Child, String) {
    let mut child = s
        .cmd(&[
            "daemon",
            "--adapter",
            "google",
            "--config",
            config.to_str().unwrap(),
        ])
        .env("LEADORCH_LOG", "warn")
        // The generator is the only client: no rate limit between it and the daemon.
        .env("LEADORCH__API__REQUESTS_PER_SECOND", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start leadorch daemon");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let lines = said.clone();
    // Keep reading its standard error so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("HTTP API on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(300))
        .unwrap_or_else(|_| {
            panic!(
                "no HTTP API line; the daemons said {:#?}",
                said.lock().unwrap()
            )
        });
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

/// One capacity reading of the generator: team `t{team}` full (15 open leads of 15) or empty,
/// taken at `at`. Sent again unchanged when unanswered: the same reading is not recorded twice.
#[derive(Clone, Debug)]
struct Reading {
    team: usize,
    full: bool,
    at: String,
}

impl Reading {
    fn body(&self) -> serde_json::Value {
        json!({
            "team": format!("t{}", self.team), "agents_available": 3,
            "open_leads": if self.full { 15 } else { 0 }, "max_open_leads": 15, "at": self.at
        })
    }
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
    /// Capacity readings made.
    readings: usize,
    /// The reading the last daemon did not answer: sent again first.
    reading_pending: Option<Reading>,
    /// Each team's last reading: full or not.
    last_full: BTreeMap<usize, bool>,
}

/// Sends the capacity reading left unanswered, then new ones until `stop` is set (none when
/// it is set already), one at a time so a team's readings arrive in the order they were taken,
/// until the server stops answering. Returns the requests sent.
async fn send_readings(
    url: String,
    key: String,
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<Counts>>,
) -> usize {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut sent = 0;
    loop {
        let reading = {
            let mut c = counts.lock().unwrap();
            match c.reading_pending.take() {
                Some(r) => r,
                None if !stop.load(Ordering::SeqCst) => {
                    let k = c.readings;
                    let r = Reading {
                        team: k % TEAMS,
                        full: (k / (TEAMS * HOLD)).is_multiple_of(2),
                        at: chrono::Utc::now().to_rfc3339(),
                    };
                    c.readings += 1;
                    c.last_full.insert(r.team, r.full);
                    r
                }
                None => return sent,
            }
        };
        sent += 1;
        match client
            .post(&url)
            .bearer_auth(&key)
            .json(&reading.body())
            .send()
            .await
        {
            // 200: the same reading was recorded before the daemon was killed.
            Ok(r) if r.status() == 201 || r.status() == 200 => {}
            Ok(r) => panic!(
                "reading {reading:?}: {} {}",
                r.status(),
                r.text().await.unwrap()
            ),
            Err(_) => {
                counts.lock().unwrap().reading_pending = Some(reading);
                return sent;
            }
        }
        // Readings a little apart, so the daemon acts on many of them.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends `todo` (lead numbers) from [`CLIENTS`] clients, and capacity readings
/// ([`send_readings`]: new ones while the leads are being sent, if `readings`), until the
/// server stops answering or all is sent; what got no answer goes back to `counts.pending` /
/// `counts.reading_pending`.
async fn send(
    addr: &str,
    key: &str,
    todo: Vec<usize>,
    readings: bool,
    counts: &Arc<Mutex<Counts>>,
    acks: &Arc<AtomicUsize>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // In a cycle, readings go on until the daemon is killed; at the end, none but the last
    // unanswered one.
    let stop = Arc::new(AtomicBool::new(!readings));
    let capacity = tokio::spawn(send_readings(
        format!("http://{addr}/v1/capacity"),
        key.to_string(),
        stop.clone(),
        counts.clone(),
    ));
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
        let mut counts = counts.lock().unwrap();
        counts.requests += sent;
        counts.retried.extend(in_flight);
        for (n, id) in answered {
            counts.pending.remove(&n);
            counts.acknowledged.insert(id);
        }
        counts.pending.extend(unanswered);
    }
    let sent = capacity.await.unwrap();
    counts.lock().unwrap().requests += sent;
}

/// What the log holds: each `LeadReceived` event's `lead_id` with how many events carry it, and
/// the status changes of campaigns.
#[derive(Default)]
struct Logged {
    leads: BTreeMap<String, usize>,
    /// Campaign id → the statuses its applied changes set, in log order.
    applied: BTreeMap<i64, Vec<CampaignStatus>>,
    requested: usize,
    /// Changes replaced before they were applied (ADR 0054).
    superseded: usize,
    /// Changes requested and neither applied, failed for good nor replaced.
    open: BTreeSet<String>,
}

async fn logged(url: &str) -> Logged {
    let store = Store::with_master_key(
        Db::connect(url).await.unwrap(),
        MasterKey::random(),
        RetentionPolicy::default(),
    )
    .await
    .unwrap();
    let mut found = Logged::default();
    let mut after = 0;
    loop {
        let page = store.log.read_after(after, 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in &page {
            let ty = e.event_type.as_str();
            if !matches!(
                ty,
                "LeadReceived"
                    | "ChangeRequested"
                    | "ChangeApplied"
                    | "ChangeFailed"
                    | "ChangeSuperseded"
            ) {
                continue;
            }
            // Stored as `{"LeadReceived": {"lead_id": …, …}}` (personal fields sealed).
            let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            let v = &v[ty];
            let field = |name: &str| {
                v[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {name} at position {}: {v}", e.position))
                    .to_string()
            };
            match ty {
                "LeadReceived" => *found.leads.entry(field("lead_id")).or_default() += 1,
                "ChangeRequested" => {
                    found.requested += 1;
                    found.open.insert(field("change_id"));
                }
                "ChangeApplied" => {
                    found.open.remove(&field("change_id"));
                    // `campaign:{customer}/{id}`
                    let id: i64 = e.stream_id.rsplit('/').next().unwrap().parse().unwrap();
                    let status = match v["change"].as_str() {
                        Some("pause") => CampaignStatus::Paused,
                        Some("resume") => CampaignStatus::Enabled,
                        other => panic!("a change the test does not make: {other:?}"),
                    };
                    found.applied.entry(id).or_default().push(status);
                }
                // Replaced by a later change of its field before it was applied: never sent.
                "ChangeSuperseded" => {
                    found.superseded += 1;
                    found.open.remove(&field("change_id"));
                }
                _ => {
                    if v["retryable"] == json!(false) {
                        found.open.remove(&field("change_id"));
                    }
                }
            }
        }
    }
    store.db().close().await;
    found
}

async fn run(dialect: Dialect) {
    let t = TestDb::new(dialect).await;
    let s = Setup::on(&t.url).await;
    for team in 0..TEAMS {
        let mut c = FakeCampaign::new(gated(team), &format!("Gated t{team}"));
        c.labels = vec!["capacity-gated".into(), format!("team:t{team}")];
        s.ads.add_campaign(CUSTOMER, c);
    }
    s.connect("ops").await;
    let rule = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/capacity_gate.rhai");
    let (ok, _, err) = s.run(&["rules", "save", rule.to_str().unwrap(), "--enable"]);
    assert!(ok, "{err}");
    let (ok, key, err) = s.run(&[
        "keys",
        "create",
        "--name",
        "load",
        "--scopes",
        "ingest,capacity",
    ]);
    assert!(ok, "{err}");
    let key = key.trim().to_string();
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!(
            "[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n[policy]\nmin_dwell = \"0s\"\n"
        ),
    )
    .unwrap();
    let said = Arc::new(Mutex::new(Vec::new()));
    let counts = Arc::new(Mutex::new(Counts::default()));
    let mut next = 0;
    let mut rng = rand::thread_rng();
    let rounds = cycles();
    for cycle in 0..rounds {
        let (mut child, addr) = daemon(&s, &config, &said);
        // What the last daemon left unanswered first, then new leads.
        let mut todo: Vec<usize> = counts.lock().unwrap().pending.iter().copied().collect();
        let fresh = 400;
        for n in next..next + fresh {
            counts.lock().unwrap().attempts.insert(lead(n).0);
            todo.push(n);
        }
        next += fresh;
        todo.reverse();
        // Killed at a random moment under load: once the daemon has answered a random number
        // of this cycle's leads and applied a random number (0 to 2) of changes on Google
        // (progress, not a time: a busy machine is slow), then after a random few
        // milliseconds more, with requests in flight and changes being decided and applied.
        // Should the daemon not act, the readings' count ends the wait.
        let pid = child.id();
        let after = rng.gen_range(1..=300);
        let mutates = s.ads.mutation_count() + rng.gen_range(0..=2);
        let readings = counts.lock().unwrap().readings + 2_000;
        let extra = rng.gen_range(0..30);
        let acks = Arc::new(AtomicUsize::new(0));
        let kill = tokio::spawn({
            let acks = acks.clone();
            let ads = s.ads.clone();
            let counts = counts.clone();
            async move {
                while (acks.load(Ordering::SeqCst) < after || ads.mutation_count() < mutates)
                    && counts.lock().unwrap().readings < readings
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(extra)).await;
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
        send(&addr, &key, todo, true, &counts, &acks).await;
        kill.await.unwrap();
        let _ = child.kill();
        child.wait().unwrap();
        // The log verifies after every kill.
        let (ok, out, err) = s.run(&["audit", "verify"]);
        assert!(ok, "cycle {cycle}: audit verify: {out}{err}");
    }
    // A last daemon answers everything still pending, and acts on the last readings.
    let (mut child, addr) = daemon(&s, &config, &said);
    let todo: Vec<usize> = counts.lock().unwrap().pending.iter().copied().collect();
    send(&addr, &key, todo, false, &counts, &Arc::default()).await;
    let counts = Arc::try_unwrap(counts).ok().unwrap().into_inner().unwrap();
    assert!(counts.pending.is_empty(), "{:?}", counts.pending);
    assert!(counts.reading_pending.is_none());
    // Each gated campaign as its team's last reading asks (full: paused), with no change open.
    let wanted: BTreeMap<i64, CampaignStatus> = (0..TEAMS)
        .map(|team| {
            let full = counts.last_full.get(&team).copied().unwrap_or(false);
            let status = if full {
                CampaignStatus::Paused
            } else {
                CampaignStatus::Enabled
            };
            (gated(team), status)
        })
        .collect();
    let on_google = || -> BTreeMap<i64, CampaignStatus> {
        wanted
            .keys()
            .map(|id| (*id, s.ads.campaign(CUSTOMER, *id).unwrap().status))
            .collect()
    };
    let mut settled = false;
    for _ in 0..600 {
        if on_google() == wanted && logged(&t.url).await.open.is_empty() {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    let log = logged(&t.url).await;
    assert!(
        settled,
        "not settled: Google has {:?}, the last readings want {wanted:?}, open changes {:?}; the daemons said {:#?}",
        on_google(),
        log.open,
        said.lock().unwrap()
    );
    let (ok, out, err) = s.run(&["audit", "verify"]);
    assert!(ok, "audit verify: {out}{err}");

    // The leads.
    let ids: BTreeSet<String> = log.leads.keys().cloned().collect();
    let lost: Vec<&String> = counts.acknowledged.difference(&ids).collect();
    let unexpected: Vec<&String> = ids.difference(&counts.attempts).collect();
    let duplicated: Vec<(&String, &usize)> = log.leads.iter().filter(|(_, n)| **n > 1).collect();

    // The fake's mutates, campaign by campaign: each must set another status than the
    // campaign had (else a change was applied twice) and be the next change the log records as
    // applied for it (else Google was changed without the log knowing).
    let mut mutated: BTreeMap<i64, Vec<CampaignStatus>> = BTreeMap::new();
    for m in s.ads.mutations(CUSTOMER) {
        assert_eq!(m.route, Route::MutateCampaigns, "{m:?}");
        let id: i64 = m.resource_name.rsplit('/').next().unwrap().parse().unwrap();
        let status = m.body["update"]["status"]
            .as_str()
            .and_then(CampaignStatus::parse)
            .unwrap_or_else(|| panic!("not a status change: {m:?}"));
        mutated.entry(id).or_default().push(status);
    }
    let mutates: usize = mutated.values().map(Vec::len).sum();
    let applied: usize = log.applied.values().map(Vec::len).sum();
    let mut twice = Vec::new();
    let mut unexplained = Vec::new();
    for (id, statuses) in &mutated {
        let mut had = CampaignStatus::Enabled;
        let mut recorded = log.applied.get(id).map(Vec::as_slice).unwrap_or(&[]).iter();
        for status in statuses {
            if *status == had {
                twice.push(format!("{id} set {status:?} again"));
            }
            had = *status;
            if !recorded.by_ref().any(|r| r == status) {
                unexplained.push(format!("{id} set {status:?}"));
            }
        }
    }
    let in_effect = said
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("already in effect, recorded as applied"))
        .count();
    eprintln!(
        "{dialect:?}: {rounds} kill -9 cycles, {} requests, {} leads attempted, {} acknowledged ({} of them in flight at a kill, answered when sent again), {} stored; lost {}, unexpected {}, duplicated {}; {} capacity readings, {} changes requested, {} applied ({} found already in effect), {} superseded, {} Google Ads mutates: applied twice {}, not recorded as applied {}, open at the end {}",
        counts.requests,
        counts.attempts.len(),
        counts.acknowledged.len(),
        counts.retried.len(),
        ids.len(),
        lost.len(),
        unexpected.len(),
        duplicated.len(),
        counts.readings,
        log.requested,
        applied,
        in_effect,
        log.superseded,
        mutates,
        twice.len(),
        unexplained.len(),
        log.open.len(),
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
    assert!(twice.is_empty(), "applied twice: {}", some(twice));
    assert!(
        unexplained.is_empty(),
        "Google changed, not recorded as applied: {}",
        some(unexplained)
    );
    // The gate acted: with no mutate at all, nothing above was tested.
    assert!(mutates > 0, "no campaign was paused or resumed");
    // The ungated campaign is left alone.
    assert_eq!(
        s.ads.campaign(CUSTOMER, 111).unwrap().status,
        CampaignStatus::Enabled
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_and_google_changes_survive_kill_9_under_load_on_sqlite() {
    run(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_and_google_changes_survive_kill_9_under_load_on_postgres() {
    run(Dialect::Postgres).await;
}
