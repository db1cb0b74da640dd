//! A server survives its database (issue 14, ADR 0028): the real `leadorch daemon --adapter
//! sim`, serving the HTTP API, on a PostgreSQL cluster of this test's own (initdb into a
//! temporary folder, a port of its own, run as the postgres user when the test runs as root —
//! never the shared server the other tests use), under load from a few clients while the
//! cluster restarts and, later, stays stopped for a while. Checked as Jepsen would: every request answered `2xx` is in the log
//! exactly once, no request is in it twice, every `503` carried `Retry-After`, and afterwards
//! the daemon is still running, leads again and answers `/readyz` with `200`. Nothing asserts
//! latency: every wait polls a condition against a generous deadline.
//!
//! Skipped, said on standard output, only where no `initdb` is installed
//! (`/usr/lib/postgresql/*/bin`); `tests/run` installs PostgreSQL, so CI runs it.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{repo, stderr, stdout};

/// Clients sending requests at once.
const CLIENTS: usize = 4;
/// Load before, between and after the two outages.
const LOAD: Duration = Duration::from_secs(3);
/// How long the cluster stays stopped the second time: longer than a request waits for a
/// pooled connection (10 s) and a command re-sends its events (5 s at most), so the API has
/// to answer `503` and the daemon to say the database is away.
const AWAY: Duration = Duration::from_secs(12);
/// The longest any one wait may take before the test fails (a busy machine may be slow).
const DEADLINE: Duration = Duration::from_secs(120);

/// The newest `initdb` installed, with the folder of its siblings (`pg_ctl`).
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn id(args: &[&str]) -> u32 {
    let o = Command::new("id").args(args).output().expect("run id");
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("id {args:?}: {}", String::from_utf8_lossy(&o.stderr)))
}

/// A PostgreSQL cluster of the test's own; stopped (immediately) and deleted when dropped,
/// whether the test passed or not.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Run its programs as the postgres user (the test runs as root, which PostgreSQL
    /// refuses to be).
    as_postgres: bool,
}

impl Cluster {
    /// initdb, then start on a free port; `None` when no PostgreSQL is installed.
    fn start() -> Option<Cluster> {
        let bin = postgres_bin()?;
        let as_postgres = id(&["-u"]) == 0;
        let dir = tempfile::Builder::new()
            .prefix("leadorch-pg-")
            .tempdir()
            .expect("temporary folder");
        if as_postgres {
            std::os::unix::fs::chown(
                dir.path(),
                Some(id(&["-u", "postgres"])),
                Some(id(&["-g", "postgres"])),
            )
            .expect("give the cluster's folder to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let started = cluster.pg_ctl("start").output().expect("pg_ctl start");
        assert!(
            started.status.success(),
            "pg_ctl start: {}",
            stderr(&started)
        );
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the cluster's programs (as postgres when root); panics when it fails.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let o = self
            .command(program, args)
            .output()
            .expect("run a PostgreSQL program");
        assert!(
            o.status.success(),
            "{program} {args:?} failed: {}{}",
            stdout(&o),
            stderr(&o)
        );
        o
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `pg_ctl -D DATA -l LOG -w -t 60 ACTION` (`start` on its own port, loopback only, its
    /// socket in its folder; `stop`, `restart` with `-m fast`).
    fn pg_ctl(&self, action: &str) -> Command {
        let data = self.data();
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let mut args = vec![
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "-o",
            &options,
        ];
        if action != "start" {
            args.extend(["-m", "fast"]);
        }
        args.push(action);
        self.command("pg_ctl", &args)
    }

    /// Runs `pg_ctl ACTION` off the runtime's threads (the load goes on meanwhile).
    async fn ctl(&self, action: &str) {
        let mut cmd = self.pg_ctl(action);
        let o = tokio::task::spawn_blocking(move || cmd.output().expect("run pg_ctl"))
            .await
            .unwrap();
        assert!(
            o.status.success(),
            "pg_ctl {action}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            )
            .output();
    }
}

/// The daemon, killed when dropped (a failing test leaves nothing running); its standard
/// error lines as they come.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn spawn(home: &Path, url: &str) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
            .args(["--database-url", url, "daemon", "--adapter", "sim"])
            .current_dir(repo())
            .env("LEADORCH_HOME", home)
            .env("LEADORCH_LISTEN", "127.0.0.1:0")
            .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
            // The load is the test's: no rate limit of the key's.
            .env("LEADORCH__API__REQUESTS_PER_SECOND", "0")
            .env_remove("DATABASE_URL")
            .env_remove("LEADORCH_CONFIG")
            .env_remove("LEADORCH_LOG")
            .env_remove("LEADORCH_MASTER_KEY")
            .env_remove("LEADORCH_MASTER_KEY_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start leadorch daemon");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Daemon { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn count(&self, what: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(what)).count()
    }

    /// Waits until at least `n` lines contain `what`.
    async fn wait_for(&self, what: &str, n: usize) {
        let deadline = Instant::now() + DEADLINE;
        while self.count(what) < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} lines with {what:?}; the daemon said {:#?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn address(&self) -> String {
        self.lines()
            .iter()
            .find_map(|l| l.strip_prefix("leadorch daemon: HTTP API on http://"))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .expect("the API's address")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `leadorch --database-url URL ARGS` as a user runs it; panics when it fails.
fn leadorch(home: &Path, url: &str, args: &[&str]) -> String {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    let o = common::leadorch(home, &all);
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Lead,
    Capacity,
}

/// One request and what came of it.
#[derive(Debug)]
struct Sent {
    kind: Kind,
    id: String,
    /// The status, `None` when no answer came (the outcome is unknown).
    status: Option<u16>,
    retry_after: bool,
    body: String,
    at: Instant,
}

/// One client: a lead, then a capacity reading of its own team, until `until`; each request
/// names itself (`lead_id`, the reading's `source`) so the log can be counted by it.
async fn client(
    addr: String,
    key: String,
    n: usize,
    until: Arc<Mutex<Option<Instant>>>,
) -> Vec<Sent> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut sent = Vec::new();
    for i in 0usize.. {
        if until.lock().unwrap().is_some_and(|t| Instant::now() >= t) {
            break;
        }
        let (kind, id, path, body) = if i % 2 == 0 {
            let id = format!("c{n}-{i}");
            let body = serde_json::json!({
                "lead_id": id, "form_id": "contact", "team": format!("load-{n}"),
                "email": format!("{id}@example.org"),
                "consent": {"text": "I agree to be called", "at": "2026-12-01T10:00:00Z",
                            "url": "https://example.org/contact"}
            });
            (Kind::Lead, id, "/v1/leads", body)
        } else {
            let id = format!("c{n}-{i}");
            // Never the same as an earlier reading, so every one is recorded (201).
            let body = serde_json::json!({
                "team": format!("load-{n}"), "agents_available": (i / 97) % 50,
                "open_leads": i % 97, "max_open_leads": 100, "source": id
            });
            (Kind::Capacity, id, "/v1/capacity", body)
        };
        let at = Instant::now();
        let answer = http
            .post(format!("http://{addr}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await;
        let (status, retry_after, body) = match answer {
            Ok(r) => {
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                (
                    Some(status),
                    retry_after,
                    r.text().await.unwrap_or_default(),
                )
            }
            Err(e) => (None, false, e.to_string()),
        };
        sent.push(Sent {
            kind,
            id,
            status,
            retry_after,
            body,
            at,
        });
    }
    sent
}

/// How many times each request id is in the log: leads by `lead_id`, readings by `source`.
fn recorded(home: &Path, url: &str) -> HashMap<(Kind, String), usize> {
    let mut counts = HashMap::new();
    for (kind, event_type, field) in [
        (Kind::Lead, "LeadReceived", "lead_id"),
        (Kind::Capacity, "CapacityRecorded", "source"),
    ] {
        let out = leadorch(
            home,
            url,
            &["events", "list", "--type", event_type, "--json"],
        );
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["payload"][event_type][field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {line}"))
                .to_string();
            *counts.entry((kind, id)).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daemon_and_its_api_survive_a_postgres_restart_under_load() {
    let started = Instant::now();
    let Some(cluster) = Cluster::start() else {
        println!(
            "SKIPPED the_daemon_and_its_api_survive_a_postgres_restart_under_load: no initdb in /usr/lib/postgresql/*/bin (install PostgreSQL; tests/run does)"
        );
        return;
    };
    {
        use sqlx::{Connection, Executor};
        let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
            .await
            .expect("connect to the test's own cluster");
        admin.execute("CREATE DATABASE leadorch").await.unwrap();
    }
    let url = cluster.url("leadorch");
    let home = tempfile::tempdir().unwrap();
    let daemon = Daemon::spawn(home.path(), &url);
    daemon.wait_for("leadorch daemon: leading", 1).await;
    let addr = daemon.address();
    // Keys, and a rule that evaluates on every lead and reading: the daemon records
    // evaluations all through the restart.
    let key = leadorch(
        home.path(),
        &url,
        &[
            "keys",
            "create",
            "--name",
            "load",
            "--scopes",
            "ingest,capacity,read",
        ],
    )
    .trim()
    .to_string();
    let rule = repo().join("rules/capacity_gate.rhai");
    leadorch(
        home.path(),
        &url,
        &["rules", "save", rule.to_str().unwrap(), "--enable"],
    );

    let until = Arc::new(Mutex::new(None::<Instant>));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(addr.clone(), key.clone(), n, until.clone())))
        .collect();
    tokio::time::sleep(LOAD).await;
    // A restart in the middle of the load, then, after more load, the database away for
    // longer than a request waits for it: stopped, and started again 12 s later.
    let restart_began = Instant::now();
    cluster.ctl("restart").await;
    let restart_took = restart_began.elapsed();
    tokio::time::sleep(LOAD).await;
    let stop_began = Instant::now();
    cluster.ctl("stop").await;
    tokio::time::sleep(AWAY).await;
    cluster.ctl("start").await;
    let away_for = stop_began.elapsed();
    let restart_ended = Instant::now();
    *until.lock().unwrap() = Some(restart_ended + LOAD);
    let mut sent = Vec::new();
    for c in clients {
        sent.extend(c.await.unwrap());
    }

    // The daemon is still there, took the leadership again, and is ready.
    daemon.wait_for("leadorch daemon: leading", 3).await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let ready = http
            .get(format!("http://{addr}/readyz"))
            .bearer_auth(&key)
            .send()
            .await
            .map(|r| r.status().as_u16());
        if ready.as_ref().is_ok_and(|s| *s == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never 200: {ready:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut daemon = daemon;
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon exited: {:#?}",
        daemon.lines()
    );
    let lines = daemon.lines();
    // The long outage said once (the restart may be over before the daemon needed the
    // database: its requests wait for a pooled connection), and that it is over; the
    // leadership lost with its connection each time, and taken again.
    let away = daemon.count("leadorch daemon: the database is away");
    assert!((1..=2).contains(&away), "{lines:#?}");
    assert_eq!(
        daemon.count("leadorch daemon: the database answers again"),
        away,
        "{lines:#?}"
    );
    assert!(daemon.count("lost the leadership") >= 2, "{lines:#?}");

    // What every request got: 2xx or 503 with Retry-After, nothing else.
    let acked: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.status.is_some_and(|c| (200..300).contains(&c)))
        .collect();
    let unavailable: Vec<&Sent> = sent.iter().filter(|s| s.status == Some(503)).collect();
    let unanswered = sent.iter().filter(|s| s.status.is_none()).count();
    for s in &sent {
        assert!(
            matches!(s.status, Some(201) | Some(503)),
            "{:?} {} answered {:?}: {}",
            s.kind,
            s.id,
            s.status,
            s.body
        );
    }
    for s in &unavailable {
        assert!(s.retry_after, "a 503 without Retry-After: {s:?}");
    }
    let after_restart = acked.iter().filter(|s| s.at >= restart_ended).count();
    assert!(
        after_restart > 0,
        "nothing was acknowledged after the restart"
    );

    // Every acknowledged request is in the log exactly once; none is in it twice.
    let counts = recorded(home.path(), &url);
    for s in &acked {
        let n = counts.get(&(s.kind, s.id.clone())).copied().unwrap_or(0);
        assert_eq!(
            n, 1,
            "{:?} {} was acknowledged and is in the log {n} times",
            s.kind, s.id
        );
    }
    for ((kind, id), n) in &counts {
        assert_eq!(*n, 1, "{kind:?} {id} is in the log {n} times");
    }
    // And the log's chain holds.
    let verified = leadorch(home.path(), &url, &["audit", "verify"]);
    assert!(!verified.is_empty());

    // It stops as asked, even now.
    let pid = daemon.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}: {:#?}", daemon.lines());
    let stored_unacked = sent
        .iter()
        .filter(|s| !s.status.is_some_and(|c| (200..300).contains(&c)))
        .filter(|s| counts.contains_key(&(s.kind, s.id.clone())))
        .count();
    println!(
        "pg restart under load: {} requests, {} acknowledged ({} after the database was back), {} answered 503 (all with Retry-After), {} unanswered, {} not acknowledged but stored; the restart took {:.1} s, the stop and start {:.1} s; daemon said: {:?}; test took {:.1} s",
        sent.len(),
        acked.len(),
        after_restart,
        unavailable.len(),
        unanswered,
        stored_unacked,
        restart_took.as_secs_f64(),
        away_for.as_secs_f64(),
        lines
            .iter()
            .filter(|l| l.contains("database") || l.contains("leadership") || l.contains("leading"))
            .collect::<Vec<_>>(),
        started.elapsed().as_secs_f64()
    );
}
