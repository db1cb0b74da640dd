//! `leadorch status` through the binary: campaigns with their teams (label, configured
//! mapping) and covering rules, teams with the age of their capacity readings, a warning
//! for every rule or campaign that can never act, one for the teams only the configuration
//! file defines, and one for Google's daily quota hold while it is in force.

mod common;

use std::path::Path;

use chrono::{Duration, Utc};
use common::{leadorch_with, ok, stderr, stdout};
use leadorch_core::Engine;
use leadorch_domain::campaign::{Bidding, CampaignSnapshot, CampaignStatus};
use leadorch_domain::google_account::ADWORDS_SCOPE;
use leadorch_domain::{
    Campaign, CampaignCommand, CapacityCommand, CapacitySnapshot, GoogleAccount,
    GoogleAccountCommand,
};
use leadorch_store::{Metadata, Open, StoreConfig};

fn url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("ops.db").display())
}

/// `leadorch status …` on the database in `dir` with `config` as the configuration file.
fn status(dir: &Path, config: &Path, extra: &[&str]) -> std::process::Output {
    let url = url(dir);
    let mut args = vec!["--database-url", url.as_str(), "status", "--config"];
    let config = config.to_str().unwrap();
    args.push(config);
    args.extend_from_slice(extra);
    leadorch_with(dir, &args, &[])
}

async fn observe(engine: &Engine, id: &str, name: &str, labels: &[&str]) {
    observe_via(engine, id, name, labels, None).await
}

async fn observe_via(
    engine: &Engine,
    id: &str,
    name: &str,
    labels: &[&str],
    google_account: Option<&str>,
) {
    let at = Utc::now() - Duration::minutes(5);
    engine
        .execute::<Campaign>(
            &Campaign::aggregate_id("111-222-3333", id),
            CampaignCommand::Observe {
                customer_id: "111-222-3333".into(),
                campaign_id: id.into(),
                snapshot: CampaignSnapshot {
                    name: name.into(),
                    labels: labels.iter().map(|l| l.to_string()).collect(),
                    status: CampaignStatus::Enabled,
                    daily_budget_micros: 50_000_000,
                    bidding: Bidding::ManualCpc,
                    ad_schedule: vec![],
                    currency: None,
                },
                manual_hold: Duration::hours(4),
                google_account: google_account.map(str::to_string),
                at,
            },
            &Metadata::actor("test"),
        )
        .await
        .expect("observe");
}

/// Four campaigns: gated with a team label; gated without any team; gated with a team that
/// has no reading; unlabelled but mapped to a team by the configuration. One team reading,
/// three hours old.
async fn world(dir: &Path) {
    let mut config = StoreConfig::new(url(dir));
    config.open = Open::Existing;
    let engine = Engine::open(&config).await.expect("open");
    observe(&engine, "1", "Gated NL", &["capacity-gated", "team:sales"]).await;
    observe(&engine, "2", "Gated Orphan", &["capacity-gated"]).await;
    observe(
        &engine,
        "3",
        "Gated Ghost",
        &["capacity-gated", "team:ghost"],
    )
    .await;
    observe(&engine, "4", "Plain Mapped", &[]).await;
    engine
        .execute::<CapacitySnapshot>(
            "sales",
            CapacityCommand::Record {
                team: "sales".into(),
                agents_available: 3,
                open_leads: 9,
                max_open_leads: 12,
                source: "test".into(),
                max_age_secs: None,
                at: Utc::now() - Duration::hours(3),
            },
            &Metadata::actor("test"),
        )
        .await
        .expect("capacity");
    engine.store.log.db().close().await;
}

#[test]
fn status_shows_coverage_teams_and_warns_about_what_can_never_act() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path());
    ok(dir.path(), &["--database-url", &db, "init"]);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(world(dir.path()));
    let config = dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        "[facts]\ntimezone = \"Europe/Amsterdam\"\n[facts.campaign_teams]\n\"111-222-3333/4\" = \"sales\"\n",
    )
    .unwrap();
    // The example capacity gate, and a rule whose scope names a label no campaign carries.
    let orphan = dir.path().join("orphan.rhai");
    std::fs::write(
        &orphan,
        "//! scope: labels=nothing-has-this\nif campaign.status == \"enabled\" { pause(\"x\"); }\n",
    )
    .unwrap();
    ok(
        dir.path(),
        &[
            "--database-url",
            &db,
            "rules",
            "save",
            "rules/capacity_gate.rhai",
            orphan.to_str().unwrap(),
            "--enable",
        ],
    );

    let o = status(dir.path(), &config, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    // The campaign table: names with ids, teams with where they come from, covering rules.
    let row = |needle: &str| {
        out.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no row {needle:?} in:\n{out}"))
            .to_string()
    };
    let nl = row("Gated NL (111-222-3333/1)");
    assert!(
        nl.contains("sales (label)") && nl.contains("capacity_gate"),
        "{nl}"
    );
    let mapped = row("Plain Mapped (111-222-3333/4)");
    assert!(mapped.contains("sales (mapping)"), "{mapped}");
    assert!(row("daemon").contains("not running"), "{out}");
    // One warning per thing that can never act, each saying what to do.
    let warnings: Vec<&str> = out.lines().filter(|l| l.starts_with("warning: ")).collect();
    let has = |needle: &str| {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "no warning with {needle:?} in:\n{out}"
        )
    };
    has("rule orphan can never act: its scope (labels=nothing-has-this) covers no campaign; add the label `nothing-has-this`");
    has("campaign Gated Orphan (111-222-3333/2) has no team");
    has("[facts.campaign_teams] \"111-222-3333/2\" = \"<team>\"");
    has("team ghost has no capacity reading");
    has("campaign Plain Mapped (111-222-3333/4) is covered by no enabled rule");
    has("team sales's last capacity reading is 3 h old");
    has("no Google account configured");
    // The configuration maps a campaign to sales, which no Team events define.
    has("comes only from the configuration file");
    has(": sales (campaign mapping); run `leadorch teams import-config`");
    assert!(
        !warnings.iter().any(|w| w.contains("Gated NL")),
        "a campaign that can act is not warned about:\n{out}"
    );
    // Those seven, nothing else.
    assert_eq!(warnings.len(), 7, "{out}");

    // --json: the same content as one object.
    let o = status(dir.path(), &config, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    let campaigns = v["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 4);
    let mapped = campaigns
        .iter()
        .find(|c| c["id"] == "111-222-3333/4")
        .unwrap();
    assert_eq!(mapped["team"], "sales");
    assert_eq!(mapped["team_from"], "mapping");
    assert_eq!(mapped["rules"].as_array().unwrap().len(), 0);
    let gated = campaigns
        .iter()
        .find(|c| c["id"] == "111-222-3333/1")
        .unwrap();
    assert_eq!(gated["rules"], serde_json::json!(["capacity_gate"]));
    let sales = v["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "sales")
        .unwrap();
    assert_eq!(sales["utilisation"], 0.75);
    assert!(sales["age_minutes"].as_i64().unwrap() >= 180);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 7);
    assert_eq!(v["daemon"]["leader_running"], false);
}

#[test]
fn status_says_once_which_teams_only_the_configuration_file_defines() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path());
    ok(dir.path(), &["--database-url", &db, "init"]);
    let config = dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        r#"[facts]
timezone = "Europe/Amsterdam"
default_team = "sales-nl"
[facts.campaign_teams]
"111-222-3333/1" = "sales-be"
"111-222-3333/2" = "sales-ny"
[facts.calendars.default]
weekly = { mon = [["08:00", "18:00"]] }
holidays = []
[facts.calendars.sales-ny]
weekly = { mon = [["09:00", "17:00"]] }
holidays = []
timezone = "America/New_York"
"#,
    )
    .unwrap();
    // sales-be is defined by events; sales-ny too, but without hours: its calendar is still
    // the configuration's. sales-nl (the default team) has no events at all.
    ok(
        dir.path(),
        &["--database-url", &db, "teams", "set", "sales-be"],
    );
    ok(
        dir.path(),
        &[
            "--database-url",
            &db,
            "teams",
            "set",
            "sales-ny",
            "--time-zone",
            "America/New_York",
        ],
    );
    let about_teams = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("warning: teams whose"))
            .map(str::to_string)
            .collect()
    };
    let o = status(dir.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines = about_teams(&out);
    assert_eq!(lines.len(), 1, "one line for all of them:\n{out}");
    assert_eq!(
        lines[0],
        "warning: teams whose campaign mapping or calendar comes only from the configuration \
         file (facts.campaign_teams, facts.default_team, facts.calendars; no Team events say \
         it): sales-nl (campaign mapping), sales-ny (calendar); run `leadorch teams \
         import-config` to record them as events, then change them with `leadorch teams` or \
         the HTTP API"
    );
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&status(dir.path(), &config, &["--json"]))).unwrap();
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| format!("warning: {}", w.as_str().unwrap()) == lines[0]),
        "{v}"
    );

    // Moved over, the configuration is no team's only source any more.
    ok(
        dir.path(),
        &[
            "--database-url",
            &db,
            "teams",
            "import-config",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let out = stdout(&status(dir.path(), &config, &[]));
    assert!(about_teams(&out).is_empty(), "{out}");
}

#[test]
fn status_on_an_empty_database_says_what_is_missing_and_never_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path());
    // A database that does not exist is an error, not a new one.
    let o = leadorch_with(dir.path(), &["--database-url", &db, "status"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("leadorch init"), "{}", stderr(&o));
    assert!(!dir.path().join("ops.db").exists());

    ok(dir.path(), &["--database-url", &db, "init"]);
    let out = ok(dir.path(), &["--database-url", &db, "status"]);
    assert!(out.contains("warning: no rules saved"), "{out}");
    assert!(out.contains("warning: no campaigns recorded"), "{out}");
    assert!(out.contains("accounts   none connected"), "{out}");
}

#[test]
fn on_the_demo_database_every_example_rule_covers_a_campaign_and_the_adapter_is_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    ok(
        dir.path(),
        &[
            "demo",
            "--minutes",
            "30",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    let url = format!("sqlite://{}", db.display());
    let v: serde_json::Value = serde_json::from_str(&ok(
        dir.path(),
        &["--database-url", &url, "status", "--json"],
    ))
    .unwrap();
    assert_eq!(v["adapter"]["kind"], "sim", "{v}");
    // The demo's evaluations: the newest one, found through the type index (ADR 0048).
    assert!(v["daemon"]["last_evaluation_at"].is_string(), "{v}");
    assert!(v["daemon"]["last_evaluation_by"].is_string(), "{v}");
    for rule in v["rules"].as_array().unwrap() {
        assert!(rule["campaigns"].as_u64().unwrap() > 0, "{rule}");
    }
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("can never act") || w.contains("has no team")),
        "{warnings:?}"
    );
}

/// A customer both projects' accounts reach: its campaign stays acme's, and the default
/// project's status says so (ADR 0030 R1); acme's status lists it as its own.
#[test]
fn status_says_when_a_configured_customer_s_campaigns_are_another_project_s() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path());
    ok(dir.path(), &["--database-url", &db, "init"]);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut config = StoreConfig::new(url(dir.path()));
        config.open = Open::Existing;
        let engine = Engine::open(&config).await.expect("open");
        observe_via(&engine, "9", "Acme Generic", &[], Some("acme/ops")).await;
        engine.store.log.db().close().await;
    });
    let config = dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        "[google]\naccount = \"ops\"\ncustomers = [\"111-222-3333\"]\n",
    )
    .unwrap();
    let o = status(dir.path(), &config, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["campaigns"], serde_json::json!([]), "{v}");
    let warned = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .any(|w| w.contains("customer 1112223333") && w.contains("project acme"));
    assert!(warned, "{v}");
    let o = status(dir.path(), &config, &["--json", "--project", "acme"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["campaigns"][0]["name"], "Acme Generic", "{v}");
    assert!(!v.to_string().contains("customer 1112223333"), "{v}");
}

/// Google's daily quota hold on an account (ADR 0052): `status` warns while it is in force
/// and says nothing once it is over; `google list` shows it while in force, and its JSON and
/// `status --json` carry the last recorded end either way.
#[test]
fn status_and_google_list_show_google_s_quota_hold_while_it_is_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path());
    ok(dir.path(), &["--database-url", &db, "init"]);
    // Whole seconds, as the text shows them.
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let held_until = now + Duration::hours(3);
    let over_until = now - Duration::hours(1);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut config = StoreConfig::new(url(dir.path()));
        config.open = Open::Existing;
        let engine = Engine::open(&config).await.expect("open");
        let meta = Metadata::actor("test");
        for (account, until) in [("held", held_until), ("over", over_until)] {
            let run = |command| engine.execute::<GoogleAccount>(account, command, &meta);
            run(GoogleAccountCommand::GrantConsent {
                account_id: account.into(),
                email: None,
                scopes: vec![ADWORDS_SCOPE.into()],
                accessible_customers: vec!["1112223333".into()],
                at: now - Duration::days(1),
            })
            .await
            .expect("grant");
            run(GoogleAccountCommand::RecordQuotaExhausted {
                until,
                reason: "quotaError RESOURCE_EXHAUSTED (request id r-1)".into(),
                at: until - Duration::hours(2),
            })
            .await
            .expect("quota exhausted");
        }
        engine.store.log.db().close().await;
    });
    let config = dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        "[google]\naccount = \"held\"\ncustomers = [\"111-222-3333\"]\n",
    )
    .unwrap();
    let shown = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();

    let o = status(dir.path(), &config, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    let warnings: Vec<&str> = out.lines().filter(|l| l.starts_with("warning: ")).collect();
    let expected = format!(
        "warning: Google account held: Google's daily quota is exhausted until {}; nothing is \
         sent to Google until then, and the rules decide again afterwards",
        shown(held_until)
    );
    assert!(warnings.contains(&expected.as_str()), "{out}");
    assert!(
        !warnings.iter().any(|w| w.contains("account over")),
        "a hold that is over is no warning:\n{out}"
    );
    assert_eq!(
        warnings.iter().filter(|w| w.contains("quota")).count(),
        1,
        "{out}"
    );

    let o = status(dir.path(), &config, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let until_of = |rows: &serde_json::Value, account: &str| -> chrono::DateTime<Utc> {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == account)
            .unwrap_or_else(|| panic!("no account {account} in {rows}"));
        row["quota_exhausted_until"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(until_of(&v["accounts"], "held"), held_until, "{v}");
    assert_eq!(until_of(&v["accounts"], "over"), over_until, "{v}");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| format!("warning: {}", w.as_str().unwrap()) == expected),
        "{v}"
    );

    // `google list`: the hold while in force, as a suffix of the account's line.
    let list = ok(dir.path(), &["--database-url", &db, "google", "list"]);
    let line = |account: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("{account} ")))
            .unwrap_or_else(|| panic!("no line for {account} in:\n{list}"))
    };
    assert!(
        line("held").ends_with(&format!("  quota exhausted until {}", shown(held_until))),
        "{list}"
    );
    assert!(!line("over").contains("quota"), "{list}");
    let json = ok(
        dir.path(),
        &["--database-url", &db, "google", "list", "--json"],
    );
    let rows = serde_json::Value::Array(
        json.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    );
    assert_eq!(until_of(&rows, "held"), held_until, "{json}");
    assert_eq!(until_of(&rows, "over"), over_until, "{json}");
}
