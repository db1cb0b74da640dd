//! `leadorch webhooks …` through the binary: add (secret shown once) → list → deliveries →
//! rotate-secret → enable → remove; a loopback URL refused unless `[webhooks]` allows it, an
//! unknown event type refused naming the known ones, another project's endpoint answered as
//! unknown; and the running daemon delivering a signed webhook to a loopback receiver that
//! verifies it (signed with both secrets after a rotation).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use leadorch_fakes::webhook_receiver::WebhookReceiver;
use leadorch_fakes::FakeCapacityHttp;
use serde_json::Value;

/// Runs `leadorch ARGS` off the runtime (the fakes answer on it meanwhile).
async fn run(home: &Path, args: &[&str]) -> Output {
    common::leadorch_off_runtime(home, args, &[]).await
}

async fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args).await;
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

async fn fails(home: &Path, args: &[&str]) -> String {
    let out = run(home, args).await;
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    stderr(&out)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_added_listed_rotated_and_removed_per_project() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(h, &["init"]).await;
    let open = write(h, "open.toml", "[webhooks]\nallow_private = true\n");
    let open = open.to_str().unwrap();

    // Refused: a loopback URL without the setting, plain http to the Internet, an unknown type.
    let e = fails(
        h,
        &[
            "webhooks",
            "add",
            "http://127.0.0.1:9/x",
            "--events",
            "change.applied",
        ],
    )
    .await;
    assert!(
        e.starts_with("error: URL: ") && e.contains("loopback") && e.contains("allow_private"),
        "{e}"
    );
    let e = fails(
        h,
        &[
            "webhooks",
            "add",
            "http://hooks.example.com/x",
            "--events",
            "change.applied",
        ],
    )
    .await;
    assert!(e.contains("must use https"), "{e}");
    let e = fails(
        h,
        &[
            "webhooks",
            "add",
            "https://hooks.example.com/x",
            "--events",
            "change.applied,change.done",
        ],
    )
    .await;
    assert!(
        e.starts_with("error: --events: unknown event type \"change.done\"")
            && e.contains("campaign.paused")
            && e.contains("rule.notify"),
        "{e}"
    );
    assert!(
        stderr(&run(h, &["webhooks", "list"]).await).contains("no webhook endpoints"),
        "nothing was stored"
    );

    // Added: the secret on standard output, once; the id and what it sends on standard error.
    let out = run(
        h,
        &[
            "webhooks",
            "add",
            "https://hooks.example.com/lo",
            "--events",
            "campaign.paused,change.applied",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = stdout(&out).trim().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    leadorch_webhooks::sign::Secret::parse(&secret).unwrap();
    let said = stderr(&out);
    assert!(said.contains("shown only this once"), "{said}");
    let id = said
        .split_whitespace()
        .find(|w| w.starts_with("we_"))
        .unwrap()
        .to_string();
    // With the setting, a loopback receiver is accepted; `all` is every type.
    let added: Value = serde_json::from_str(
        &ok(
            h,
            &[
                "webhooks",
                "add",
                "http://127.0.0.1:9/in",
                "--events",
                "all",
                "--config",
                open,
                "--json",
            ],
        )
        .await,
    )
    .unwrap();
    assert!(added["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(added["events"].as_array().unwrap().len(), 10);
    let local = added["endpoint_id"].as_str().unwrap().to_string();

    // Listed, never with a secret.
    let listed = ok(h, &["webhooks", "list", "--json"]).await;
    assert!(!listed.contains("whsec_"), "{listed}");
    let rows = json_lines(&listed);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["endpoint_id"], id.as_str());
    assert_eq!(rows[0]["url"], "https://hooks.example.com/lo");
    assert_eq!(
        rows[0]["events"],
        serde_json::json!(["change.applied", "campaign.paused"])
    );
    assert_eq!(rows[0]["enabled"], true);
    let table = ok(h, &["webhooks", "list"]).await;
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id) && table.contains("enabled"), "{table}");
    assert!(!table.contains("whsec_"), "{table}");

    // No deliveries yet.
    assert!(ok(h, &["webhooks", "deliveries", &id, "--json"])
        .await
        .is_empty());

    // Rotation prints a new secret once.
    let rotated = ok(h, &["webhooks", "rotate-secret", &id]).await;
    let rotated = rotated.trim();
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    assert!(!ok(h, &["webhooks", "list"]).await.contains("whsec_"));

    // Another project sees none of them, and its ids answer as unknown ones do.
    let other = ok(h, &["webhooks", "list", "--project", "acme", "--json"]).await;
    assert!(other.is_empty(), "{other}");
    for args in [
        vec!["webhooks", "remove", id.as_str(), "--project", "acme"],
        vec!["webhooks", "deliveries", id.as_str(), "--project", "acme"],
        vec![
            "webhooks",
            "rotate-secret",
            id.as_str(),
            "--project",
            "acme",
        ],
        vec!["webhooks", "enable", id.as_str(), "--project", "acme"],
    ] {
        let e = fails(h, &args).await;
        assert!(
            e.contains(&format!("project acme has no webhook endpoint \"{id}\"")),
            "{args:?}: {e}"
        );
    }
    let e = fails(h, &["webhooks", "remove", "we_nothing"]).await;
    assert!(
        e.contains("project default has no webhook endpoint \"we_nothing\""),
        "{e}"
    );

    // Enabling an enabled endpoint says so; removing ends it.
    let out = run(h, &["webhooks", "enable", &id]).await;
    assert!(stderr(&out).contains("enabled already"), "{}", stderr(&out));
    let out = run(h, &["webhooks", "remove", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("removed {id}")));
    let rows = json_lines(&ok(h, &["webhooks", "list", "--json"]).await);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["endpoint_id"], local.as_str());
    fails(h, &["webhooks", "remove", &id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_delivers_a_signed_webhook_when_a_capacity_source_fails() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let receiver = WebhookReceiver::start().await;
    let crm = FakeCapacityHttp::start().await;
    crm.refuse_with(Some(401));
    let cfg = write(
        h,
        "leadorch.toml",
        &format!(
            r#"
[webhooks]
allow_private = true
retry_schedule = ["0s", "1s", "1s"]

[capacity.sources.crm]
kind = "http_poll"
interval = "1s"
url = "{}/capacity/{{team}}"
auth_value_env = "LEADORCH_TEST_WEBHOOK_CRM_AUTH"
agents_available = "/agents/available"
open_leads = "/leads/open"
max_open_leads = "/leads/max"
[capacity.sources.crm.teams]
sales-nl = "nl"
"#,
            crm.base_url()
        ),
    );
    let cfg = cfg.to_str().unwrap();
    ok(h, &["init"]).await;
    let added: Value = serde_json::from_str(
        &ok(
            h,
            &[
                "webhooks",
                "add",
                &receiver.url("hook"),
                "--events",
                "capacity_source.failing",
                "--config",
                cfg,
                "--json",
            ],
        )
        .await,
    )
    .unwrap();
    let id = added["endpoint_id"].as_str().unwrap().to_string();
    // Rotated before anything is sent: the receiver knows only the new secret, and each
    // webhook carries two signatures (the previous secret still signs).
    let secret = ok(h, &["webhooks", "rotate-secret", &id]).await;
    receiver.set_secret("hook", secret.trim());

    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["daemon", "--adapter", "sim", "--no-listen", "--config", cfg])
        .current_dir(common::repo())
        .env("LEADORCH_HOME", h)
        .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
        .env("LEADORCH_TEST_WEBHOOK_CRM_AUTH", "Bearer wrong")
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_CONFIG")
        .env_remove("LEADORCH_MASTER_KEY")
        .env_remove("LEADORCH_MASTER_KEY_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // A generous wait: the machine may be busy.
    let delivered = receiver
        .wait_for(Duration::from_secs(120), |got| {
            got.iter()
                .any(|r| r.acked && r.body["type"] == "capacity_source.failing")
        })
        .await;
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().unwrap();
    let said: Vec<String> = rx.try_iter().collect();
    assert!(delivered, "no webhook arrived: {said:#?}");
    assert!(status.success(), "{said:#?}");
    assert_eq!(receiver.unverified(), 0);
    let got = receiver.received();
    let first = got
        .iter()
        .find(|r| r.body["type"] == "capacity_source.failing")
        .unwrap();
    assert_eq!(first.path, "hook");
    assert_eq!(
        first.signatures, 2,
        "signed with the new and the previous secret"
    );
    assert_eq!(first.body["data"]["source"], "crm", "{}", first.body);
    assert!(first.id.starts_with("msg_"));

    // The delivery as the operator sees it.
    let rows = json_lines(&ok(h, &["webhooks", "deliveries", &id, "--json"]).await);
    let d = rows
        .iter()
        .find(|d| d["delivery_id"] == first.id.as_str())
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(d["event_type"], "capacity_source.failing");
    assert_eq!(d["state"], "delivered");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status"], 204);
    assert!(d["finished_at"].as_str().is_some());
    let table = ok(h, &["webhooks", "deliveries", &id]).await;
    assert!(
        table.starts_with("DELIVERY") && table.contains("delivered") && table.contains("204"),
        "{table}"
    );
}
