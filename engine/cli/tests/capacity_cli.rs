//! `leadorch capacity sources` and the daemon's capacity sources, through the binary, against
//! the fake capacity endpoint over loopback HTTP: `daemon --once` polls a configured source
//! and records the fake's figures, a refused credential shows as the source's health (the
//! daemon does not fail), and a source that cannot work stops the daemon at start, naming the
//! key. The credential never appears in any output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use leadorch_fakes::{FakeCapacityHttp, TeamCapacity};

/// Runs `leadorch ARGS` off the runtime (the fake answers on it meanwhile).
async fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::leadorch_off_runtime(home, args, env).await
}

fn config(dir: &Path, fake: &FakeCapacityHttp, env_var: &str) -> PathBuf {
    let path = dir.join("leadorch.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[capacity.sources.crm]
kind = "http_poll"
interval = "30s"
url = "{}/capacity/{{team}}"
auth_value_env = "{env_var}"
agents_available = "/agents/available"
open_leads = "/leads/open"
max_open_leads = "/leads/max"
[capacity.sources.crm.teams]
sales-nl = "nl"
"#,
            fake.base_url()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_source_is_polled_by_the_daemon_and_its_health_shown() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeCapacityHttp::start().await;
    fake.set_team(
        "nl",
        TeamCapacity {
            available: 4,
            open: 9,
            max: 30,
        },
    );
    let cfg = config(home.path(), &fake, "LEADORCH_TEST_CRM_AUTH");
    let cfg = cfg.to_str().unwrap();
    let secret = format!("Bearer {}", fake.token());
    let env = [("LEADORCH_TEST_CRM_AUTH", secret.as_str())];

    // Before any daemon: the configured source, not polled yet.
    let out = run(home.path(), &["init"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(
        home.path(),
        &["capacity", "sources", "--config", cfg, "--json"],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["name"], "crm");
    assert_eq!(line["state"], "not polled");
    assert_eq!(line["interval"], "30s");
    assert_eq!(line["max_age"], "90s");

    let out = run(
        home.path(),
        &[
            "daemon",
            "--once",
            "--adapter",
            "sim",
            "--no-listen",
            "--config",
            cfg,
        ],
        &env,
    )
    .await;
    assert!(!stderr(&out).contains(&fake.token()) && !stdout(&out).contains(&fake.token()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("capacity source crm: 1 teams, 1 readings recorded"),
        "{}",
        stderr(&out)
    );
    let out = run(
        home.path(),
        &["events", "list", "--type", "CapacityRecorded", "--json"],
        &[],
    )
    .await;
    let reading: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let r = &reading["payload"]["CapacityRecorded"];
    assert_eq!(
        (
            r["team"].as_str(),
            r["agents_available"].as_u64(),
            r["open_leads"].as_u64(),
            r["max_open_leads"].as_u64()
        ),
        (Some("sales-nl"), Some(4), Some(9), Some(30))
    );
    assert_eq!(r["max_age_secs"], 90);
    assert_eq!(r["source"], "connector:crm");

    // The credential is refused: the daemon still does its step, the health says why. (A
    // new database: the simulated account never acts on one that holds real readings.)
    let home = tempfile::tempdir().unwrap();
    fake.refuse_with(Some(401));
    let out = run(
        home.path(),
        &[
            "daemon",
            "--once",
            "--adapter",
            "sim",
            "--no-listen",
            "--config",
            cfg,
        ],
        &env,
    )
    .await;
    assert!(!stderr(&out).contains(&fake.token()) && !stdout(&out).contains(&fake.token()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("capacity source crm: failed (credential refused: 401"),
        "{}",
        stderr(&out)
    );
    let out = run(home.path(), &["capacity", "sources", "--config", cfg], &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("SOURCE"), "{table}");
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("crm"), "{table}");
    assert!(row.contains("failing") && row.contains("401"), "{table}");
    let out = run(home.path(), &["capacity", "sources", "--json"], &[]).await;
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        (
            line["state"].as_str(),
            line["consecutive_failures"].as_i64()
        ),
        (Some("failing"), Some(1))
    );
    assert_eq!(line["error_kind"], "auth");
    assert_eq!(line["configured"], false, "no config file given this time");
    let out = run(
        home.path(),
        &["events", "list", "--type", "SourceFailing", "--json"],
        &[],
    )
    .await;
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    let out = run(
        home.path(),
        &["capacity", "sources", "--project", "acme"],
        &[],
    )
    .await;
    assert!(out.status.success());
    assert!(stdout(&out).is_empty(), "another project's sources: none");
    assert!(
        stderr(&out).contains("no capacity source --project acme"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_cannot_work_stops_the_daemon_naming_the_key() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeCapacityHttp::start().await;
    let cfg = config(home.path(), &fake, "LEADORCH_TEST_CRM_AUTH_UNSET");
    let out = run(
        home.path(),
        &[
            "daemon",
            "--once",
            "--adapter",
            "sim",
            "--no-listen",
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "capacity.sources.crm: misconfigured: the environment variable LEADORCH_TEST_CRM_AUTH_UNSET (auth_value_env) is not set"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(fake.counts().requests, 0);
}

/// The running daemon (not `--once`): once it leads, it polls the source on its interval, so
/// a change at the fake becomes a new reading without anyone pushing; SIGTERM stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leading_daemon_polls_its_sources_until_stopped() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let home = tempfile::tempdir().unwrap();
    let fake = FakeCapacityHttp::start().await;
    fake.set_team(
        "nl",
        TeamCapacity {
            available: 4,
            open: 9,
            max: 30,
        },
    );
    let cfg = config(home.path(), &fake, "LEADORCH_TEST_CRM_AUTH");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("interval = \"30s\"", "interval = \"1s\"");
    std::fs::write(&cfg, text).unwrap();
    let secret = format!("Bearer {}", fake.token());
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args([
            "daemon",
            "--adapter",
            "sim",
            "--no-listen",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .current_dir(common::repo())
        .env("LEADORCH_HOME", home.path())
        .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
        .env("LEADORCH_TEST_CRM_AUTH", &secret)
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_CONFIG")
        .env_remove("LEADORCH_MASTER_KEY")
        .env_remove("LEADORCH_MASTER_KEY_FILE")
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
    // Until the fake has answered twice, then once more after a change (generous waits: the
    // machine may be busy).
    let answered = |n: u64| {
        let fake = fake.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(120), async {
                while fake.counts().answered < n {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .is_ok()
        }
    };
    let first = answered(2).await;
    fake.set_team(
        "nl",
        TeamCapacity {
            available: 4,
            open: 29,
            max: 30,
        },
    );
    let after = fake.counts().answered;
    let second = answered(after + 2).await;
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().unwrap();
    let said: Vec<String> = rx.try_iter().collect();
    assert!(first && second, "the daemon did not poll: {said:#?}");
    assert!(status.success(), "{said:#?}");
    assert!(
        said.iter()
            .any(|l| l.contains("polling capacity source crm (http_poll) every 1s")),
        "{said:#?}"
    );
    assert!(said.iter().all(|l| !l.contains(&fake.token())));
    let out = run(
        home.path(),
        &["events", "list", "--type", "CapacityRecorded", "--json"],
        &[],
    )
    .await;
    let open: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["payload"]["CapacityRecorded"]["open_leads"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(open.first(), Some(&9), "{open:?}");
    assert_eq!(
        open.last(),
        Some(&29),
        "the change at the fake was polled: {open:?}"
    );
}
