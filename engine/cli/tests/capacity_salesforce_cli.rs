//! The Salesforce capacity source through the binary, against the fake Salesforce org over
//! loopback HTTP: `daemon --once` polls it and records the members' open leads; a revoked
//! client shows as the source's health in `leadorch capacity sources` (the daemon does not
//! fail) and as one `SourceFailing`. The client secret never appears in any output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use leadorch_fakes::{fake_user_id, FakeSalesforce};

/// Runs `leadorch ARGS` off the runtime (the fake answers on it meanwhile).
async fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::leadorch_off_runtime(home, args, env).await
}

const SECRET_VAR: &str = "LEADORCH_TEST_SALESFORCE_SECRET";

fn config(dir: &Path, fake: &FakeSalesforce) -> PathBuf {
    let path = dir.join("leadorch.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[capacity.sources.sf]
kind = "salesforce"
interval = "30s"
login_url = "{}"
client_id = "{}"
client_secret_env = "{SECRET_VAR}"
open_statuses = ["Open - Not Contacted", "Working - Contacted"]
"#,
            fake.base_url(),
            fake.client_id()
        ),
    )
    .unwrap();
    path
}

/// A fresh home with team sales-nl bound to the source, members `members`. (A first
/// `daemon --once` marks the database simulated, before the team is defined: the simulator
/// never writes into a database that may hold real data.)
async fn home_with_team(members: &[&str], cfg: &str, env: &[(&str, &str)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["init"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = daemon_once(home.path(), cfg, env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(
        home.path(),
        &[
            "teams",
            "set",
            "sales-nl",
            "--capacity-source",
            "connector:sf",
            "--max-open-leads",
            "20",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    for id in members {
        let out = run(
            home.path(),
            &["teams", "member", "add", "sales-nl", "--id", id],
            &[],
        )
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    home
}

async fn daemon_once(home: &Path, cfg: &str, env: &[(&str, &str)]) -> Output {
    run(
        home,
        &[
            "daemon",
            "--once",
            "--adapter",
            "sim",
            "--no-listen",
            "--config",
            cfg,
        ],
        env,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_polls_salesforce_and_a_revoked_client_is_its_health() {
    let fake = FakeSalesforce::start().await;
    let [u1, u2, u3] = [1, 2, 3].map(fake_user_id);
    fake.add_lead(&u1, "Open - Not Contacted");
    fake.add_lead(&u1, "Working - Contacted");
    fake.add_lead(&u2, "Working - Contacted");
    fake.add_lead(&u2, "Closed - Converted");
    fake.add_lead(&u3, "Open - Not Contacted"); // in no team
    let secret = fake.client_secret();
    let env = [(SECRET_VAR, secret.as_str())];
    let no_secret = |out: &Output| {
        assert!(
            !stdout(out).contains(&secret) && !stderr(out).contains(&secret),
            "the secret was printed"
        );
    };

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake);
    let cfg = cfg.to_str().unwrap();
    let home = home_with_team(&[&u1, &u2], cfg, &env).await;
    let out = daemon_once(home.path(), cfg, &env).await;
    no_secret(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("capacity source sf: 1 teams, 1 readings recorded"),
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
            r["agents_available"].as_u64(),
            r["open_leads"].as_u64(),
            r["max_open_leads"].as_u64()
        ),
        (Some(2), Some(3), Some(20))
    );
    assert_eq!(r["source"], "connector:sf");
    let out = run(
        home.path(),
        &["capacity", "sources", "--config", cfg, "--json"],
        &env,
    )
    .await;
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        (line["kind"].as_str(), line["state"].as_str()),
        (Some("salesforce"), Some("ok"))
    );
    assert_eq!(line["limit_info"], "api-usage=1/15000");

    // The app is revoked: the daemon still does its step; the health says why. (A new
    // database: the simulated account never acts on one that holds real readings.)
    fake.revoke_client(true);
    let home = home_with_team(&[&u1, &u2], cfg, &env).await;
    let out = daemon_once(home.path(), cfg, &env).await;
    no_secret(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("capacity source sf: failed (credential refused: token endpoint"),
        "{}",
        stderr(&out)
    );
    let out = run(home.path(), &["capacity", "sources", "--config", cfg], &env).await;
    no_secret(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("sf"), "{table}");
    assert!(
        row.contains("salesforce") && row.contains("failing") && row.contains("invalid_client"),
        "{table}"
    );
    let out = run(
        home.path(),
        &["events", "list", "--type", "SourceFailing", "--json"],
        &[],
    )
    .await;
    no_secret(&out);
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("invalid_client"), "{}", stdout(&out));
}
