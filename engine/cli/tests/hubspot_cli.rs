//! The HubSpot capacity source through the binary, against the fake HubSpot over loopback
//! HTTP, as `docs/capacity-sources.md` walks a newcomer through it: `daemon --once` records
//! the team's capacity from HubSpot's owners and searches, a lead's status changed at HubSpot
//! shows in what is recorded, and an expired token shows as the source's health in `leadorch
//! capacity sources` (the daemon does not fail). The token never appears in any output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use leadorch_fakes::{FakeHubSpot, FakeOwner, HubSpotTokenState};

const TOKEN_VAR: &str = "LEADORCH_TEST_HUBSPOT_TOKEN";

/// Runs `leadorch ARGS` off the runtime (the fake answers on it meanwhile).
async fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::leadorch_off_runtime(home, args, env).await
}

fn config(dir: &Path, fake: &FakeHubSpot) -> PathBuf {
    let path = dir.join("leadorch.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[capacity.sources.hubspot]
kind = "hubspot"
base_url = "{}"
token_env = "{TOKEN_VAR}"
max_open_leads_per_owner = 10
[capacity.sources.hubspot.teams]
sales-nl = "178588"
"#,
            fake.base_url()
        ),
    )
    .unwrap();
    path
}

/// The last `CapacityRecorded`'s (agents available, open leads, maximum).
async fn last_reading(home: &Path) -> (u64, u64, u64) {
    let out = run(
        home,
        &["events", "list", "--type", "CapacityRecorded", "--json"],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let r = &last["payload"]["CapacityRecorded"];
    assert_eq!(r["team"], "sales-nl");
    assert_eq!(r["source"], "connector:hubspot");
    (
        r["agents_available"].as_u64().unwrap(),
        r["open_leads"].as_u64().unwrap(),
        r["max_open_leads"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_capacity_through_the_daemon_and_its_health() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeHubSpot::start().await;
    fake.put_owner(FakeOwner::new("101", &[("178588", "Sales NL")]));
    fake.put_owner(FakeOwner::new("102", &[("178588", "Sales NL")]));
    fake.add_contacts(6, "101", "NEW");
    fake.add_contacts(4, "102", "OPEN");
    fake.add_contacts(5, "102", "CONNECTED");
    let cfg = config(home.path(), &fake);
    let cfg = cfg.to_str().unwrap();
    let token = fake.token();
    let env = [(TOKEN_VAR, token.as_str())];
    let once = [
        "daemon",
        "--once",
        "--adapter",
        "sim",
        "--no-listen",
        "--config",
        cfg,
    ];

    let out = run(home.path(), &["init"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(home.path(), &once, &env).await;
    assert!(!stderr(&out).contains(&token) && !stdout(&out).contains(&token));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("capacity source hubspot: 1 teams, 1 readings recorded"),
        "{}",
        stderr(&out)
    );
    // 101: 6 open, 102: 4 open; both below 10, so both available; 2 x 10.
    assert_eq!(last_reading(home.path()).await, (2, 10, 20));

    let out = run(home.path(), &["capacity", "sources", "--config", cfg], &env).await;
    let table = stdout(&out);
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("hubspot") && row.contains(" ok "),
        "{table}"
    );

    // A rep qualifies two of 101's leads in HubSpot: a poll records it. (A new database each
    // time: the simulated account never acts on one that holds real readings.)
    for id in fake.contacts_of("101", "NEW").into_iter().take(2) {
        assert!(fake.set_contact_status(id, Some("CONNECTED")));
    }
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &once, &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(last_reading(home.path()).await, (2, 8, 20));

    // The token expires: the daemon still does its step, the health says why.
    let home = tempfile::tempdir().unwrap();
    fake.set_token_state(HubSpotTokenState::Expired);
    let out = run(home.path(), &once, &env).await;
    assert!(!stderr(&out).contains(&token) && !stdout(&out).contains(&token));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(home.path(), &["capacity", "sources", "--config", cfg], &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(!table.contains(&token));
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("hubspot")
            && row.contains("failing")
            && row.contains("EXPIRED_AUTHENTICATION"),
        "{table}"
    );
    let out = run(home.path(), &["capacity", "sources", "--json"], &[]).await;
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["error_kind"], "auth");
    assert_eq!(line["kind"], "hubspot");
    let out = run(
        home.path(),
        &["events", "list", "--type", "SourceFailing", "--json"],
        &[],
    )
    .await;
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert!(!stdout(&out).contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_stops_the_daemon_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeHubSpot::start().await;
    let cfg = config(home.path(), &fake);
    let out = run(home.path(), &["init"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
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
        stderr(&out).contains(&format!(
            "capacity.sources.hubspot: misconfigured: the environment variable {TOKEN_VAR} (token_env) is not set"
        )),
        "{}",
        stderr(&out)
    );
}
