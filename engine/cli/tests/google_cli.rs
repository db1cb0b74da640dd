//! `leadorch google connect|list|revoke|forget` and `daemon --adapter google --once` as a
//! user runs them, against the fake Google OAuth and Google Ads servers over real HTTP; the
//! test plays the browser. The fakes run on the test's runtime, so the tests use two worker
//! threads: one may wait for a `leadorch` child while the other serves its requests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
// The Google set-up is its own module, so only the tests that use it link the fakes.
#[path = "common/google.rs"]
mod google;

use google::{Setup, CUSTOMER};
use leadorch_fakes::{CampaignStatus, FakeCampaign};

fn file_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    for ext in ["db-wal", "db-shm"] {
        if let Ok(b) = std::fs::read(db.with_extension(ext)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_act_revoke_and_forget_a_google_account() {
    let s = Setup::new().await;
    // A name that cannot be used is refused before any browser is sent anywhere.
    let (ok, _, err) = s.run(&[
        "google",
        "connect",
        "--account",
        "bad name",
        "--no-browser",
        "--timeout-secs",
        "5",
    ]);
    assert!(!ok);
    assert!(err.contains("account name \"bad name\""), "{err}");
    assert!(!err.contains("consent page"), "{err}");
    let stdout = s.connect("ops").await;
    assert_eq!(
        stdout.trim(),
        format!("connected ops: 1 customer(s) {CUSTOMER}")
    );
    // The fake's refresh tokens start with "1//fake-": none is in the database in clear.
    assert!(
        !contains(&file_bytes(&s.db()), b"1//fake-"),
        "token in clear"
    );

    let (ok, list, err) = s.run(&["google", "list", "--json"]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(row["account"], "ops");
    assert_eq!(row["status"], "connected");
    assert_eq!(row["customers"], serde_json::json!([CUSTOMER]));

    // The daemon acts on Google with the stored grant.
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!("[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n"),
    )
    .unwrap();
    let (ok, report, err) = s.run(&[
        "daemon",
        "--adapter",
        "google",
        "--once",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // With a real account and nothing to decide with, it says so at start.
    assert!(
        err.contains("leadorch daemon: warning: no rules saved"),
        "{err}"
    );
    let observed = || {
        s.run(&[
            "events",
            "list",
            "--type",
            "CampaignObserved",
            "--json",
            "--reveal",
        ])
    };
    let (ok, events, err2) = observed();
    assert!(ok, "{err2}");
    assert_eq!(
        events.lines().count(),
        1,
        "events: {events}\ndaemon: {report}\n{err}"
    );
    // What Google reported is readable with the keys, and stored only sealed.
    assert!(events.contains("NL Generic"), "{events}");
    assert!(
        !contains(&file_bytes(&s.db()), b"NL Generic"),
        "campaign name in clear"
    );
    let (ok, redacted, err2) = s.run(&["events", "list", "--type", "CampaignObserved", "--json"]);
    assert!(ok, "{err2}");
    assert!(!redacted.contains("NL Generic"), "{redacted}");
    let (ok, explained, err2) = s.run(&["explain", "NL Generic"]);
    assert!(ok, "{err2}");
    assert!(explained.contains("NL Generic"), "{explained}");
    assert_eq!(
        s.ads.campaign(CUSTOMER, 111).unwrap().status,
        CampaignStatus::Enabled
    );

    let (ok, out, err) = s.run(&["google", "revoke", "ops"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "revoked ops: revoked at Google; stored tokens deleted"
    );
    // The daemon refuses to start on a revoked account, with what to do.
    let (ok, _, err) = s.run(&[
        "daemon",
        "--adapter",
        "google",
        "--once",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("leadorch google connect --account ops"),
        "{err}"
    );

    let (ok, out, err) = s.run(&["google", "forget", "ops"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("forgot ops"), "{out}");
    let (_, list, _) = s.run(&["google", "list", "--json"]);
    let row: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(row["status"], "revoked");
    assert!(row["data_deleted_at"].is_string(), "{row}");
    // The campaign data read through the account is gone, even with the keys …
    let (ok, events, err) = observed();
    assert!(ok, "{err}");
    assert_eq!(events.lines().count(), 1, "the event stays: {events}");
    assert!(!events.contains("NL Generic"), "{events}");
    let (ok, _, err) = s.run(&["explain", "NL Generic"]);
    assert!(!ok, "found by a forgotten name");
    assert!(err.contains("no campaign"), "{err}");
    let (ok, _, err) = s.run(&["explain", &format!("{CUSTOMER}/111")]);
    assert!(!ok);
    assert!(err.contains("holds no Google data"), "{err}");
    // … and the log still verifies.
    let (ok, _, err) = s.run(&["audit", "verify"]);
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_s_account_is_its_own() {
    let s = Setup::new().await;
    // The project and the name are checked before any browser is sent anywhere.
    let (ok, _, err) = s.run(&["google", "--project", "Acme", "list"]);
    assert!(!ok);
    assert!(err.contains("--project: project \"Acme\""), "{err}");
    let (ok, _, err) = s.run(&[
        "google",
        "connect",
        "--account",
        "acme/ops",
        "--no-browser",
        "--timeout-secs",
        "5",
    ]);
    assert!(!ok);
    assert!(err.contains("--project acme --account ops"), "{err}");
    assert!(!err.contains("consent page"), "{err}");

    let stdout = s.connect_with(&["--project", "acme"], "ops").await;
    assert_eq!(
        stdout.trim(),
        format!("connected ops: 1 customer(s) {CUSTOMER}")
    );
    // Recorded on acme's stream, not the default project's.
    let stream = |id: &str| {
        let (ok, out, err) = s.run(&["events", "list", "--stream", id, "--json"]);
        assert!(ok, "{err}");
        out
    };
    let granted = stream("google_account:acme/ops");
    assert_eq!(granted.lines().count(), 1, "{granted}");
    assert!(granted.contains("ConsentGranted"), "{granted}");
    assert_eq!(stream("google_account:ops"), "");

    // acme lists it, bare; the default project does not.
    let (ok, list, err) = s.run(&["google", "list", "--project", "acme", "--json"]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(row["account"], "ops");
    assert_eq!(row["status"], "connected");
    let (ok, list, err) = s.run(&["google", "--project", "acme", "list"]);
    assert!(ok, "{err}");
    assert!(list.starts_with("ops "), "{list}");
    assert!(!list.contains("acme"), "{list}");
    let (ok, list, err) = s.run(&["google", "list"]);
    assert!(ok, "{err}");
    assert_eq!(list, "", "the default project has no account");
    let (ok, _, err) = s.run(&["google", "revoke", "ops"]);
    assert!(!ok);
    assert!(
        err.contains("no Google account named \"ops\" is connected"),
        "{err}"
    );

    // Acme's daemon acts through acme's account, and what it reads is acme's.
    let config = s.dir.path().join("acme.toml");
    std::fs::write(
        &config,
        format!("[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (ok, _, err) = s.run(&[
        "daemon",
        "--adapter",
        "google",
        "--once",
        "--config",
        config,
    ]);
    assert!(!ok, "the default project has no account ops");
    assert!(
        err.contains("leadorch google connect --account ops"),
        "{err}"
    );
    let (ok, _, err) = s.run(&[
        "daemon",
        "--project",
        "acme",
        "--adapter",
        "google",
        "--once",
        "--config",
        config,
    ]);
    assert!(ok, "{err}");
    // It speaks of acme's rules: none saved there yet.
    assert!(
        err.contains("save one with `leadorch rules --project acme save"),
        "{err}"
    );
    let (ok, events, err) = s.run(&["events", "list", "--type", "CampaignObserved", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(events.lines().count(), 1, "{events}");
    assert!(
        events.contains("\"google_account\":\"acme/ops\""),
        "{events}"
    );
    let status = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["status", "--json", "--config", config];
        all.extend_from_slice(args);
        let (ok, out, err) = s.run(&all);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let acme = status(&["--project", "acme"]);
    assert_eq!(acme["accounts"][0]["account"], "ops", "{acme}");
    assert_eq!(acme["accounts"][0]["campaigns"], 1, "{acme}");
    assert_eq!(acme["campaigns"].as_array().unwrap().len(), 1, "{acme}");
    let default = status(&[]);
    assert_eq!(default["accounts"], serde_json::json!([]), "{default}");
    assert_eq!(default["campaigns"], serde_json::json!([]), "{default}");

    // Revoked in its project, by its bare name.
    let (ok, out, err) = s.run(&["google", "revoke", "--project", "acme", "ops"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "revoked ops: revoked at Google; stored tokens deleted"
    );
    let (ok, list, err) = s.run(&["google", "list", "--project", "acme", "--json"]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(row["status"], "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_consent_records_nothing() {
    let s = Setup::new().await;
    s.oauth.deny_next_consent();
    let mut child = s
        .cmd(&[
            "google",
            "connect",
            "--account",
            "ops",
            "--no-browser",
            "--timeout-secs",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("consent page line").unwrap();
        if let Some(u) = line.strip_prefix("consent page: ") {
            break u.to_string();
        }
    };
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = browser.get(&url).send().await.unwrap();
    let back = consent.headers()["location"].to_str().unwrap().to_string();
    assert!(back.contains("error=access_denied"), "{back}");
    let _ = browser.get(&back).send().await.unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    let (ok, list, err) = s.run(&["google", "list", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(list.trim(), "", "no account recorded");
}

/// The number of events in the log (`audit verify --json`).
fn event_count(s: &Setup) -> u64 {
    let (ok, out, err) = s.run(&["audit", "verify", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["events"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_adapter_the_daemon_acts_on_the_configured_google_account_and_never_simulates_on_it(
) {
    let s = Setup::new().await;
    s.connect("ops").await;
    // No --adapter: the configured Google account.
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!("[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n"),
    )
    .unwrap();
    let mut cmd = s.cmd(&["daemon", "--once", "--config", config.to_str().unwrap()]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, events, err) = s.run(&["events", "list", "--type", "CampaignObserved", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(events.lines().count(), 1, "{events}");
    assert!(events.contains("1234567890/111"), "{events}");

    // The simulator refuses this database: it is not marked simulated (and holds a grant).
    let before = event_count(&s);
    let (ok, _, err) = s.run(&["daemon", "--adapter", "sim", "--once"]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--adapter sim on sqlite://"), "{err}");
    assert!(err.contains("not marked simulated"), "{err}");
    assert!(err.contains("leadorch demo --db"), "{err}");
    assert_eq!(event_count(&s), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_a_simulated_database_once_a_google_account_is_connected() {
    let s = Setup::new().await;
    let (ok, _, err) = s.run(&[
        "demo",
        "--minutes",
        "5",
        "--json",
        "--rules",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules"),
    ]);
    assert!(ok, "{err}");
    s.connect("ops").await;
    let before = event_count(&s);
    let (ok, _, err) = s.run(&["daemon", "--adapter", "sim", "--once"]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("holds Google account \"ops\""), "{err}");
    assert!(err.contains("--adapter google"), "{err}");
    assert_eq!(event_count(&s), before, "nothing written");
    // So does the seed, asked to continue it.
    let (ok, _, err) = s.run(&["seed", "--events", "10"]);
    assert!(!ok);
    assert!(err.contains("holds Google account \"ops\""), "{err}");
    assert_eq!(event_count(&s), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_says_at_once_when_an_account_needs_consent_again() {
    let s = Setup::new().await;
    s.connect("ops").await;
    // Google ends the grant behind our back (the user revoked it in their Google account).
    s.oauth.revoke_all();
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!("[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n"),
    )
    .unwrap();
    let mut cmd = s.cmd(&[
        "daemon",
        "--adapter",
        "google",
        "--once",
        "--config",
        config.to_str().unwrap(),
    ]);
    // The default log level: the line is the daemon's output, not a diagnostic.
    cmd.env_remove("LEADORCH_LOG");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = err
        .lines()
        .find(|l| l.contains("Google account ops needs consent again"))
        .unwrap_or_else(|| panic!("no re-consent line: {err}"));
    assert!(
        line.ends_with("run `leadorch google connect --account ops`"),
        "{line}"
    );
    let (time, _) = line.split_once("  ").unwrap();
    assert!(time.len() == 5 && time.as_bytes()[2] == b':', "{line}");
    // And it is on record before the one step ends (nothing lost when --once exits).
    let (ok, list, err) = s.run(&["google", "list", "--json"]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(row["status"], "reconsent_needed", "{row}");
}

/// The loop a real team runs: its CRM pushes capacity to the daemon's HTTP API, and the
/// daemon pauses the capacity-gated campaign on Google Ads once the team is full. (How fast
/// is `leadorch bench`'s business; the wait here is only bounded.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_pushed_over_http_pauses_a_gated_campaign_on_google() {
    let s = Setup::new().await;
    let mut gated = FakeCampaign::new(222, "NL Gated");
    gated.labels = vec!["capacity-gated".into(), "team:sales-nl".into()];
    s.ads.add_campaign(CUSTOMER, gated);
    s.connect("ops").await;
    let rule = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/capacity_gate.rhai");
    let (ok, _, err) = s.run(&["rules", "save", rule.to_str().unwrap(), "--enable"]);
    assert!(ok, "{err}");
    let (ok, key, err) = s.run(&["keys", "create", "--name", "crm", "--scopes", "capacity"]);
    assert!(ok, "{err}");
    let key = key.trim().to_string();
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!("[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n"),
    )
    .unwrap();

    let mut child = s
        .cmd(&[
            "daemon",
            "--adapter",
            "google",
            "--config",
            config.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |what: &str| loop {
        if let Some(line) = seen.iter().find(|l: &&String| l.contains(what)) {
            return line.clone();
        }
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {what:?}; saw {seen:#?}"),
        }
    };
    let api_line = wait_for("HTTP API on http://");
    wait_for("leadorch daemon: leading");
    let addr = api_line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(
        s.ads.campaign(CUSTOMER, 222).unwrap().status,
        CampaignStatus::Enabled
    );

    // The team is full: 15 open leads of 15.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/v1/capacity"))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "team": "sales-nl", "agents_available": 3, "open_leads": 15, "max_open_leads": 15
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let mut paused = false;
    for _ in 0..1200 {
        if s.ads.campaign(CUSTOMER, 222).unwrap().status == CampaignStatus::Paused {
            paused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        paused,
        "the gated campaign was not paused; daemon said {seen:#?} {rest:#?}"
    );
    // The ungated one is left alone.
    assert_eq!(
        s.ads.campaign(CUSTOMER, 111).unwrap().status,
        CampaignStatus::Enabled
    );
    let pause_line = seen
        .iter()
        .chain(&rest)
        .any(|l| l.contains("NL Gated: pause (capacity_gate"));
    assert!(pause_line, "{seen:#?} {rest:#?}");
}

/// Leads over HTTP fill a team whose capacity comes from its leads; the daemon (the same
/// process serving the API) pauses the team's capacity-gated campaign on the fake Google Ads.
#[tokio::test]
async fn leads_over_http_fill_a_team_and_the_daemon_pauses_its_gated_campaign() {
    let s = Setup::new().await;
    let mut gated = FakeCampaign::new(222, "NL Gated");
    gated.labels = vec!["capacity-gated".into(), "team:sales-nl".into()];
    s.ads.add_campaign(CUSTOMER, gated);
    s.connect("ops").await;
    let rule = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/capacity_gate.rhai");
    let (ok, _, err) = s.run(&["rules", "save", rule.to_str().unwrap(), "--enable"]);
    assert!(ok, "{err}");
    let (ok, _, err) = s.run(&[
        "teams",
        "set",
        "sales-nl",
        "--capacity-source",
        "leads",
        "--max-open-leads",
        "3",
    ]);
    assert!(ok, "{err}");
    let (ok, key, err) = s.run(&["keys", "create", "--name", "website", "--scopes", "ingest"]);
    assert!(ok, "{err}");
    let key = key.trim().to_string();
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!("[google]\naccount = \"ops\"\ncustomers = [\"{CUSTOMER}\"]\n[intake]\ndefault_region = \"NL\"\n"),
    )
    .unwrap();

    let mut child = s
        .cmd(&[
            "daemon",
            "--adapter",
            "google",
            "--config",
            config.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |what: &str| loop {
        if let Some(line) = seen.iter().find(|l: &&String| l.contains(what)) {
            return line.clone();
        }
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {what:?}; saw {seen:#?}"),
        }
    };
    let api_line = wait_for("HTTP API on http://");
    wait_for("leadorch daemon: leading");
    let addr = api_line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();

    // Three people ask to be called: the team of three is full.
    for n in 1..=3 {
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/v1/leads"))
            .bearer_auth(&key)
            .json(&serde_json::json!({
                "lead_id": format!("f-{n}"), "form_id": "contact", "team": "sales-nl",
                "email": format!("person{n}@example.org"), "phone": format!("06 1234 000{n}"),
                "consent": {"text": "I agree to be called", "at": "2026-12-01T10:00:00Z",
                            "url": "https://example.org/contact"}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["outcome"], "accepted", "{v}");
    }

    let mut paused = false;
    for _ in 0..1200 {
        if s.ads.campaign(CUSTOMER, 222).unwrap().status == CampaignStatus::Paused {
            paused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        paused,
        "the gated campaign was not paused; daemon said {seen:#?} {rest:#?}"
    );
    assert_eq!(
        s.ads.campaign(CUSTOMER, 111).unwrap().status,
        CampaignStatus::Enabled
    );
    // The reading that did it was counted from the leads.
    let (ok, out, err) = s.run(&["events", "list", "--type", "CapacityRecorded", "--json"]);
    assert!(ok, "{err}");
    assert!(out.contains(r#""source":"leads""#), "{out}");
}
