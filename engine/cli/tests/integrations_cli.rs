//! Issue 15's end-to-end path through the binary, every outside system a fake over loopback
//! HTTP: a lead's status changes in HubSpot, the daemon's next poll records the team's new
//! capacity, `capacity_gate` pauses the team's gated campaign at Google Ads, and the
//! operator's receiver gets a `campaign.paused` webhook whose Standard Webhooks signature it
//! verifies with the secret `leadorch webhooks add` printed.

mod common;
// The Google set-up is its own module, so only the tests that use it link the fakes.
#[path = "common/google.rs"]
mod google;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use google::{Setup, CUSTOMER};
use leadorch_fakes::webhook_receiver::WebhookReceiver;
use leadorch_fakes::{CampaignStatus, FakeCampaign, FakeHubSpot, FakeOwner};

const TOKEN_VAR: &str = "LEADORCH_TEST_E2E_HUBSPOT_TOKEN";

/// `leadorch ARGS` of `s`, which must succeed (for commands that need no fake); its stdout.
fn ok(s: &Setup, args: &[&str]) -> String {
    let out = s.cmd(args).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "leadorch {args:?}: {said}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hubspot_status_change_pauses_the_campaign_at_google_and_a_signed_webhook_says_so() {
    // Google: the team's capacity-gated campaign, running; an account connected to it.
    let s = Setup::new().await;
    let mut gated = FakeCampaign::new(222, "NL Gated");
    gated.labels = vec!["capacity-gated".into(), "team:sales-nl".into()];
    s.ads.add_campaign(CUSTOMER, gated);
    s.connect("ops").await;
    let rule = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/capacity_gate.rhai");
    ok(&s, &["rules", "save", rule.to_str().unwrap(), "--enable"]);

    // HubSpot: team 178588 with two owners, at most 2 open leads each. One lead is open,
    // three are being worked on in a status the source does not count as open.
    let hubspot = FakeHubSpot::start().await;
    hubspot.put_owner(FakeOwner::new("101", &[("178588", "Sales NL")]));
    hubspot.put_owner(FakeOwner::new("102", &[("178588", "Sales NL")]));
    hubspot.add_contacts(1, "101", "NEW");
    hubspot.add_contacts(1, "101", "CONNECTED");
    hubspot.add_contacts(2, "102", "CONNECTED");

    let receiver = WebhookReceiver::start().await;
    let config = s.dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[google]
account = "ops"
customers = ["{CUSTOMER}"]

[webhooks]
allow_private = true

[capacity.sources.hubspot]
kind = "hubspot"
interval = "1s"
base_url = "{}"
token_env = "{TOKEN_VAR}"
max_open_leads_per_owner = 2
[capacity.sources.hubspot.teams]
sales-nl = "178588"
"#,
            hubspot.base_url()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let secret = ok(
        &s,
        &[
            "webhooks",
            "add",
            &receiver.url("ops"),
            "--events",
            "campaign.paused,change.applied",
            "--config",
            config,
        ],
    );
    assert!(secret.trim().starts_with("whsec_"), "{secret}");
    receiver.set_secret("ops", secret.trim());

    let token = hubspot.token();
    let mut child = s
        .cmd(&["daemon", "--adapter", "google", "--config", config])
        .env(TOKEN_VAR, &token)
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
    let mut seen: Vec<String> = Vec::new();
    let mut wait_for = |what: &str| loop {
        if seen.iter().any(|l| l.contains(what)) {
            return;
        }
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {what:?}; saw {seen:#?}"),
        }
    };
    wait_for("leadorch daemon: leading");

    // The source has answered once (1 open lead of 4): the campaign keeps running.
    let mut polled = false;
    for _ in 0..1200 {
        if hubspot.counts().searches >= 2 {
            polled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(polled, "the daemon never searched HubSpot");
    assert_eq!(
        s.ads.campaign(CUSTOMER, 222).unwrap().status,
        CampaignStatus::Enabled
    );
    assert!(receiver.received().is_empty(), "nothing to say yet");

    // A rep reopens the three leads in HubSpot: 4 open of 4, the team is full.
    for owner in ["101", "102"] {
        for id in hubspot.contacts_of(owner, "CONNECTED") {
            assert!(hubspot.set_contact_status(id, Some("OPEN")));
        }
    }
    let mut paused = false;
    for _ in 0..1200 {
        if s.ads.campaign(CUSTOMER, 222).unwrap().status == CampaignStatus::Paused {
            paused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = paused
        && receiver
            .wait_for(Duration::from_secs(120), |got| {
                got.iter()
                    .any(|r| r.acked && r.body["type"] == "campaign.paused")
            })
            .await;
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        paused,
        "not paused at Google; daemon said {seen:#?} {rest:#?}"
    );
    assert!(
        delivered,
        "no campaign.paused webhook; daemon said {seen:#?} {rest:#?}"
    );
    assert!(status.success(), "{seen:#?} {rest:#?}");
    for line in seen.iter().chain(&rest) {
        assert!(
            !line.contains(&token),
            "the HubSpot token was printed: {line}"
        );
    }

    // Every webhook that arrived carried a signature the receiver verified with the secret.
    assert_eq!(receiver.unverified(), 0);
    let got = receiver.received();
    let hook = got
        .iter()
        .find(|r| r.body["type"] == "campaign.paused")
        .unwrap();
    assert_eq!(hook.signatures, 1);
    assert!(hook.id.starts_with("msg_"), "{}", hook.id);
    let data = &hook.body["data"];
    assert!(
        data["campaign"]
            .as_str()
            .unwrap_or_default()
            .ends_with("222"),
        "{}",
        hook.body
    );
    assert!(
        got.iter().any(|r| r.body["type"] == "change.applied"
            && r.body["data"]["change_id"] == data["change_id"]),
        "the pause also arrives as change.applied: {got:#?}"
    );
    // The reading that made the rule act came from HubSpot.
    let readings = ok(
        &s,
        &["events", "list", "--type", "CapacityRecorded", "--json"],
    );
    let last: serde_json::Value =
        serde_json::from_str(readings.lines().last().unwrap_or("null")).unwrap();
    let r = &last["payload"]["CapacityRecorded"];
    assert_eq!(r["source"], "connector:hubspot", "{last}");
    assert_eq!(
        (r["open_leads"].as_u64(), r["max_open_leads"].as_u64()),
        (Some(4), Some(4))
    );
}
