//! `leadorch daemon` as a user runs it (ADR 0018): the simulator only by name and only on a
//! simulated database, continuing the world the log records; what the daemon says; a second
//! daemon on the same database.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

mod common;
use common::{leadorch, leadorch_with, ok, repo, stderr, stdout};

/// The events of one type, as JSON lines.
fn events_of(home: &Path, url: &str, event_type: &str) -> Vec<serde_json::Value> {
    ok(
        home,
        &[
            "--database-url",
            url,
            "events",
            "list",
            "--type",
            event_type,
            "--json",
        ],
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

#[test]
fn the_daemon_needs_an_adapter_named_or_google_configured() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let o = leadorch(home, &["daemon", "--once"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    for what in [
        "--adapter sim",
        "[google] account",
        "LEADORCH__GOOGLE__ACCOUNT",
        "leadorch google connect",
    ] {
        assert!(err.contains(what), "{what} missing: {err}");
    }
    // Nothing was created, let alone simulated.
    assert!(!home.join("leadorch.db").exists());

    // A daemon acts for one project; the simulated world is the default project's, and a
    // project is named as keys name it.
    let o = leadorch(
        home,
        &["daemon", "--project", "acme", "--adapter", "sim", "--once"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--adapter sim acts for the default project only")
            && err.contains("--project acme"),
        "{err}"
    );
    let o = leadorch(
        home,
        &["daemon", "--project", "Acme", "--adapter", "sim", "--once"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--project: project \"Acme\" is not a project name"),
        "{}",
        stderr(&o)
    );
    assert!(
        !home.join("leadorch.db").exists(),
        "nothing made for a refused project"
    );

    // A configured Google account is what the daemon acts on without --adapter: here it has
    // no grant, so it says to connect one (the simulator is never the fallback).
    let o = leadorch_with(
        home,
        &["daemon", "--once"],
        &[
            ("LEADORCH__GOOGLE__ACCOUNT", "ops"),
            (
                "LEADORCH_GOOGLE_CLIENT_ID",
                "client.apps.googleusercontent.com",
            ),
            ("LEADORCH_GOOGLE_CLIENT_SECRET", "secret"),
        ],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("leadorch google connect --account ops"),
        "{err}"
    );
    let head = ok(home, &["events", "list"]);
    assert!(!head.contains("CampaignObserved"), "{head}");

    let o = leadorch(home, &["daemon", "--adapter", "simulator", "--once"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("possible values: google, sim"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_simulated_account_continues_the_demo_world() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let url = format!("sqlite://{}", db.display());
    ok(
        home,
        &[
            "demo",
            "--minutes",
            "240",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    // The demo marked its database simulated, first.
    let marker = events_of(home, &url, "WorldSimulated");
    assert_eq!(marker.len(), 1, "{marker:?}");
    assert_eq!(marker[0]["position"], 1, "{marker:?}");
    assert_eq!(marker[0]["payload"]["WorldSimulated"]["by"], "demo");
    // The demo left campaigns in states a new simulated account would not start in.
    let applied = events_of(home, &url, "ChangeApplied");
    assert!(!applied.is_empty());
    let paused = ["NL Generic", "NL Competitors", "NL Brand", "BE Generic"]
        .iter()
        .filter(|c| ok(home, &["--database-url", &url, "explain", c]).contains(") is paused at"))
        .count();
    assert!(paused > 0, "the demo paused something");
    let observed = events_of(home, &url, "CampaignObserved").len();
    assert!(events_of(home, &url, "ChangedOutsideEngine").is_empty());

    let o = leadorch(
        home,
        &[
            "--database-url",
            &url,
            "daemon",
            "--adapter",
            "sim",
            "--once",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["drift"], serde_json::json!([]), "{report}");
    // Nothing was recorded as changed, let alone changed outside the engine.
    assert_eq!(events_of(home, &url, "CampaignObserved").len(), observed);
    assert!(events_of(home, &url, "ChangedOutsideEngine").is_empty());
    assert_eq!(events_of(home, &url, "WorldSimulated").len(), 1);
    for campaign in ["NL Generic", "NL Competitors", "NL Brand", "BE Generic"] {
        let x = ok(home, &["--database-url", &url, "explain", campaign]);
        assert!(!x.contains("outside the engine"), "{x}");
        assert!(!x.contains("manual hold"), "{x}");
    }
}

#[test]
fn the_first_simulated_daemon_marks_a_new_database_and_the_next_one_continues() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let url = format!("sqlite://{}", home.join("leadorch.db").display());
    let first = leadorch(home, &["daemon", "--adapter", "sim", "--once"]);
    assert!(first.status.success(), "{}", stderr(&first));
    // It says at start what can never act: here, that no rule is saved.
    let err = stderr(&first);
    assert!(
        err.lines()
            .any(|l| l.starts_with("leadorch daemon: warning: no rules saved")),
        "{err}"
    );
    assert!(!err.contains("no campaigns recorded"), "{err}");
    let marker = events_of(home, &url, "WorldSimulated");
    assert_eq!(marker.len(), 1);
    assert_eq!(marker[0]["position"], 1, "{marker:?}");
    assert_eq!(marker[0]["payload"]["WorldSimulated"]["by"], "daemon");
    let observed = events_of(home, &url, "CampaignObserved").len();
    assert_eq!(observed, 4);
    let again = leadorch(home, &["daemon", "--adapter", "sim", "--once"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(events_of(home, &url, "CampaignObserved").len(), observed);
    assert!(events_of(home, &url, "ChangedOutsideEngine").is_empty());
    assert_eq!(events_of(home, &url, "WorldSimulated").len(), 1);
}

#[test]
fn the_seed_marks_its_history_simulated_within_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let url = format!("sqlite://{}", home.join("leadorch.db").display());
    let out = ok(home, &["seed", "--events", "50"]);
    assert!(out.starts_with("seeded 50 events"), "{out}");
    let marker = events_of(home, &url, "WorldSimulated");
    assert_eq!(marker.len(), 1);
    assert_eq!(marker[0]["position"], 1, "{marker:?}");
    assert_eq!(marker[0]["payload"]["WorldSimulated"]["by"], "seed");
    assert_eq!(marker[0]["payload"]["WorldSimulated"]["seed"], 42);
    // The daemon may simulate on it: the seed's world is synthetic.
    let o = leadorch(home, &["daemon", "--adapter", "sim", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(events_of(home, &url, "ChangedOutsideEngine").is_empty());
}

/// The daemon's line saying how its facts view was made (ADR 0048).
fn started(err: &str) -> &str {
    err.lines()
        .find(|l| l.starts_with("leadorch daemon: facts "))
        .unwrap_or_else(|| panic!("no start line: {err}"))
}

#[test]
fn a_daemon_starts_from_the_view_the_last_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let out = ok(home, &["seed", "--events", "3000"]);
    assert!(out.starts_with("seeded 3000 events"), "{out}");
    // No copy yet: the first daemon folds the log, and keeps its view when it is done.
    let first = leadorch(home, &["daemon", "--adapter", "sim", "--once"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(
        started(&err).starts_with("leadorch daemon: facts folded from the log's 3000 events in "),
        "{err}"
    );
    let head = |home: &Path| -> u64 {
        let status: serde_json::Value =
            serde_json::from_str(&ok(home, &["status", "--json"])).unwrap();
        status["database"]["events"].as_u64().unwrap()
    };
    let kept_at = head(home);
    // The next one starts from that copy; it reads only what came after it (nothing).
    let again = leadorch(home, &["daemon", "--adapter", "sim", "--once"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let err = stderr(&again);
    assert!(
        started(&err).starts_with(&format!(
            "leadorch daemon: facts from the kept view at position {kept_at}, 0 events read after it, in "
        )),
        "{err}"
    );
}

/// A daemon child with its stderr lines on a channel.
fn spawn_daemon(home: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["daemon", "--adapter", "sim"])
        .current_dir(repo())
        .env("LEADORCH_LISTEN", "127.0.0.1:0")
        .env("LEADORCH_HOME", home)
        .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_CONFIG")
        .env_remove("LEADORCH_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Waits (up to a minute) for a line containing `what`; returns every line seen so far.
fn wait_for_line(rx: &Receiver<String>, what: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|l| l.contains(what)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {what:?} within a minute; saw: {seen:#?}"),
        }
    }
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait();
}

#[test]
fn a_second_daemon_says_at_once_that_it_waits_for_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let (first, first_err) = spawn_daemon(home);
    let mut seen = Vec::new();
    wait_for_line(&first_err, "leadorch daemon: leading", &mut seen);
    assert!(
        seen.iter()
            .any(|l| l.contains("with the simulated account")
                && l.contains("times in Europe/Amsterdam")),
        "{seen:#?}"
    );
    let (second, second_err) = spawn_daemon(home);
    let mut seen2 = Vec::new();
    wait_for_line(
        &second_err,
        "leadorch daemon: another daemon leads this database; waiting to take over",
        &mut seen2,
    );
    assert!(
        !seen2.iter().any(|l| l.contains("leadorch daemon: leading")),
        "{seen2:#?}"
    );
    // Both serve the HTTP API, the waiting one too: any number of processes serve it while
    // one leads.
    for lines in [&seen, &seen2] {
        let addr = api_address(lines);
        let mut stream = std::net::TcpStream::connect(&addr).expect("connect to the API");
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    stop(second);
    stop(first);
}

/// The address of `leadorch daemon: HTTP API on http://ADDR (…)`.
fn api_address(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("leadorch daemon: HTTP API on http://"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no API line in {lines:#?}"))
        .to_string()
}

#[test]
fn the_daemon_says_what_it_decided_and_applied_at_the_default_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let rule = home.join("close_nl.rhai");
    std::fs::write(
        &rule,
        "//! Pause the Dutch campaigns.\n\
         if campaign.name.starts_with(\"NL\") && !campaign.paused {\n\
         \x20   return pause(\"closed for the test\");\n\
         }\n",
    )
    .unwrap();
    ok(home, &["rules", "save", rule.to_str().unwrap(), "--enable"]);
    // LEADORCH_LOG is unset (warn): these lines are the daemon's output, not diagnostics.
    let o = leadorch(home, &["daemon", "--adapter", "sim", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    for campaign in ["NL Generic", "NL Competitors", "NL Brand"] {
        for what in [
            format!("{campaign}: pause (close_nl: closed for the test)"),
            format!("{campaign}: pause applied"),
        ] {
            let line = lines
                .iter()
                .find(|l| l.ends_with(&what))
                .unwrap_or_else(|| panic!("no line ending {what:?}: {err}"));
            // Local time first: `HH:MM  `.
            let (time, _) = line.split_once("  ").unwrap();
            assert!(time.len() == 5 && time.as_bytes()[2] == b':', "{line}");
        }
    }
    assert!(!err.contains("BE Generic"), "{err}");
}
