//! `leadorch demo`, `rules …`, `explain` and `daemon` as a user runs them, from the
//! repository root (where `rules/` is).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{leadorch, ok, repo, text};

#[test]
fn the_demo_runs_explains_and_backtests() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let db_s = db.to_str().unwrap();
    // The CI window: a simulated morning, 07:00–11:00 in Amsterdam.
    let out = ok(home, &["demo", "--minutes", "240", "--json", "--db", db_s]);
    let summary: serde_json::Value = serde_json::from_str(&out).expect("JSON summary");
    let with = &summary["with_rules"];
    let without = &summary["without_rules"];
    assert!(summary["evaluations"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        summary["changes_applied"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert_eq!(summary["rule_failures"], 0, "{summary}");
    assert!(
        with["leads_expired"].as_u64().unwrap() < without["leads_expired"].as_u64().unwrap(),
        "{summary}"
    );
    assert!(
        with["spend_on_expired_micros"].as_i64().unwrap()
            < without["spend_on_expired_micros"].as_i64().unwrap(),
        "{summary}"
    );
    assert_eq!(without["status_flips"], 0);
    assert_eq!(summary["rules"].as_array().unwrap().len(), 4);

    let url = format!("sqlite://{db_s}");
    // The log of the demo verifies.
    let verified = ok(home, &["--database-url", &url, "audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
    // Explain a campaign by name.
    let x = ok(
        home,
        &["--database-url", &url, "explain", "NL Generic", "--json"],
    );
    let x: serde_json::Value = serde_json::from_str(&x).unwrap();
    assert_eq!(x["campaign"], "123-456-7890/1001");
    let human = ok(
        home,
        &["--database-url", &url, "explain", "123-456-7890/1001"],
    );
    assert!(
        human.contains("NL Generic (123-456-7890/1001) is "),
        "{human}"
    );
    assert!(human.contains("because: "), "{human}");
    // Rules the demo saved.
    let list = ok(home, &["--database-url", &url, "rules", "list"]);
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["capacity_gate", "1", "yes", "100", "labels=capacity-gated"]),
        "{list}"
    );
    // Backtest the saved rule over the demo's window, twice: the same JSON.
    let args = [
        "--database-url",
        &url,
        "rules",
        "backtest",
        "capacity_gate",
        "--from",
        "2026-03-02T06:00:00Z",
        "--to",
        "2026-03-02T10:00:00Z",
        "--json",
    ];
    let a = ok(home, &args);
    let b = ok(home, &args);
    assert_eq!(a, b);
    let report: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert!(report["evaluations"].as_u64().unwrap() > 0);
    assert!(!report["timeline"].as_array().unwrap().is_empty());
    // A human backtest report has the table.
    let human = ok(home, &args[..args.len() - 1]);
    assert!(human.contains("SPEND AVOIDED"), "{human}");
    // Dry run of a file against the demo's state records nothing.
    let count = |s: String| s.split(" events").next().unwrap_or_default().to_string();
    let before = count(ok(home, &["--database-url", &url, "audit", "verify"]));
    let dry = ok(
        home,
        &[
            "--database-url",
            &url,
            "rules",
            "dry-run",
            "rules/capacity_gate.rhai",
            "--at",
            "2026-03-02T10:00:00Z",
        ],
    );
    assert!(dry.contains("nothing is recorded or applied"), "{dry}");
    let after = count(ok(home, &["--database-url", &url, "audit", "verify"]));
    assert_eq!(before, after, "a dry run wrote events");
    // A second demo on the same file is refused.
    let o = leadorch(home, &["demo", "--minutes", "5", "--db", db_s]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("exists"), "{}", text(&o.stderr));
}

#[test]
fn rules_check_and_test_report_problems_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let out = ok(
        home,
        &[
            "rules",
            "check",
            "rules/capacity_gate.rhai",
            "rules/business_hours.rhai",
        ],
    );
    assert!(out.contains("rules/capacity_gate.rhai: ok"), "{out}");
    let bad = home.join("bad.rhai");
    std::fs::write(
        &bad,
        "//! on: capacity_changed\nif team.utilisation > 0.9 {\n  pause(\"x\"\n}\n",
    )
    .unwrap();
    let o = leadorch(home, &["rules", "check", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let s = text(&o.stdout);
    assert!(s.contains("line 3") || s.contains("line 4"), "{s}");
    let out = ok(home, &["rules", "test", "rules/fixtures"]);
    assert!(out.contains(", 0 failed"), "{out}");
    // A fixture whose expectation is wrong fails the command.
    let fixtures = home.join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let gate = repo().join("rules/capacity_gate.rhai");
    std::fs::write(
        fixtures.join("wrong.toml"),
        format!(
            r#"rule = "{}"
[[campaigns]]
id = "1/1"
name = "C"
labels = ["capacity-gated", "team:t"]
team = "t"
status = "enabled"
daily_budget = 10.0
[[steps]]
at = "2026-03-02T09:00:00Z"
teams.t = {{ agents_available = 2, open_leads = 1, max_open_leads = 10 }}
expect = [{{ campaign = "1/1", action = "pause" }}]
"#,
            gate.display()
        ),
    )
    .unwrap();
    let o = leadorch(
        home,
        &[
            "rules",
            "test",
            fixtures.to_str().unwrap(),
            "--lib",
            "rules/lib",
        ],
    );
    assert!(!o.status.success(), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("FAIL"), "{}", text(&o.stdout));
}

#[test]
fn saving_a_broken_rule_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let bad = home.join("broken.rhai");
    std::fs::write(&bad, "let x = ;\n").unwrap();
    let o = leadorch(home, &["rules", "save", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("line 1"), "{err}");
    let list = ok(home, &["rules", "list"]);
    assert!(list.is_empty(), "{list}");
    let out = ok(
        home,
        &["rules", "save", "rules/capacity_gate.rhai", "--enable"],
    );
    assert!(
        out.contains("capacity_gate: created (version 1, enabled)"),
        "{out}"
    );
    let out = ok(home, &["rules", "save", "rules/capacity_gate.rhai"]);
    assert!(out.contains("unchanged"), "{out}");
}

#[test]
fn the_daemon_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(
        home,
        &["rules", "save", "rules/capacity_gate.rhai", "--enable"],
    );
    let child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["daemon", "--adapter", "sim"])
        .current_dir(repo())
        .env("LEADORCH_LISTEN", "127.0.0.1:0")
        .env("LEADORCH_HOME", home)
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_CONFIG")
        .env("LEADORCH_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it leads and has observed the simulated campaigns.
    let started = Instant::now();
    loop {
        let out = ok(home, &["events", "list", "--type", "CampaignObserved"]);
        if out.lines().count() >= 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("leadorch daemon: stopped"),
        "{}",
        text(&out.stderr)
    );
    let verified = ok(home, &["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
}

#[test]
fn rules_check_warns_about_facts_rules_do_not_see() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let typo = home.join("typo.rhai");
    std::fs::write(
        &typo,
        "//! on: capacity_changed\n\
         // campaign.in_a_comment is not read\n\
         let note = \"campaign.in_a_string\";\n\
         if campaign.does_not_exist > 0.5 && team.utilisation > 0.9 {\n\
         \x20 pause(`full: ${now.hours} ${campaign.name}`)\n\
         }\n\
         if teams[\"sales-nl\"].free > 0 && campaign.today.spend > 1.0 && now.open.keys().len() > 0 { notify(\"x\") }\n",
    )
    .unwrap();
    let path = typo.to_str().unwrap();
    let o = leadorch(home, &["rules", "check", path]);
    // Warnings only: the rule compiles.
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains(": ok"), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 4, "{err}");
    assert!(
        warnings[0].starts_with(&format!(
            "warning: {path}:4:13: campaign.does_not_exist is not a fact rules see (known: ad_schedule, bidding, budget,"
        )),
        "{err}"
    );
    assert!(warnings[0].contains(" team, today)"), "{err}");
    assert!(
        warnings[1].starts_with(&format!("warning: {path}:5:22: now.hours is not a fact")),
        "{err}"
    );
    assert!(warnings[1].contains("hour,"), "{err}");
    assert!(
        warnings[2].starts_with(&format!(
            "warning: {path}:7:22: teams[…].free is not a fact"
        )),
        "{err}"
    );
    assert!(warnings[2].contains("free_slots"), "{err}");
    assert!(
        warnings[3].starts_with(&format!(
            "warning: {path}:7:49: campaign.today.spend is not a fact rules see (known: clicks, conversions, cost, cost_micros, impressions)"
        )),
        "{err}"
    );
    // The example rules read only known facts.
    let o = leadorch(
        home,
        &[
            "rules",
            "check",
            "rules/budget_pacing.rhai",
            "rules/business_hours.rhai",
            "rules/capacity_gate.rhai",
            "rules/team_routing.rhai",
        ],
    );
    assert!(o.status.success());
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
}

/// `leadorch rules check …` run from `cwd`, with no library configured.
fn check_from(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["rules", "check"])
        .args(args)
        .current_dir(cwd)
        .env("LEADORCH_HOME", home)
        .env_remove("LEADORCH_CONFIG")
        .env_remove("LEADORCH__RULES_LIB")
        .output()
        .expect("run leadorch")
}

#[test]
fn rules_check_finds_the_library_beside_the_rule_file_and_says_how_to_point_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let elsewhere = dir.path().join("elsewhere");
    let project = dir.path().join("project");
    let lib = project.join("rules/lib");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    for entry in std::fs::read_dir(repo().join("rules/lib")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, lib.join(path.file_name().unwrap())).unwrap();
    }
    // The project's library has a module the built-in one does not, which the rule imports.
    std::fs::copy(
        repo().join("rules/lib/pacing.rhai"),
        lib.join("project_pacing.rhai"),
    )
    .unwrap();
    let source = std::fs::read_to_string(repo().join("rules/budget_pacing.rhai"))
        .unwrap()
        .replace("import \"pacing\"", "import \"project_pacing\"");
    // A rule in rules/ finds rules/lib; one in a folder below finds it too (../lib).
    let rule = project.join("rules/budget_pacing.rhai");
    std::fs::write(&rule, source).unwrap();
    let below = project.join("rules/team/pacing_copy.rhai");
    std::fs::create_dir_all(below.parent().unwrap()).unwrap();
    std::fs::copy(&rule, &below).unwrap();
    let o = check_from(
        &elsewhere,
        &home,
        &[rule.to_str().unwrap(), below.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("budget_pacing.rhai: ok"));
    assert!(text(&o.stdout).contains("pacing_copy.rhai: ok"));

    // Without a library anywhere near, the built-in one is used: the example rule, which
    // imports its "pacing", is fine; the project's rule is not, and the error says where it
    // looked, what the built-in library has and what to set.
    let lonely_example = dir.path().join("lonely/example_pacing.rhai");
    std::fs::create_dir_all(lonely_example.parent().unwrap()).unwrap();
    std::fs::copy(repo().join("rules/budget_pacing.rhai"), &lonely_example).unwrap();
    let o = check_from(&elsewhere, &home, &[lonely_example.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let lonely = dir.path().join("lonely/budget_pacing.rhai");
    std::fs::copy(&rule, &lonely).unwrap();
    let o = check_from(&elsewhere, &home, &[lonely.to_str().unwrap()]);
    assert!(!o.status.success());
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "unknown module \"project_pacing\": rules can only import the rules library's \
             modules (available: calendar, hysteresis, pacing)"
        ),
        "{out}"
    );
    let err = text(&o.stderr);
    let lonely_lib = dir.path().join("lonely/lib");
    assert!(
        err.contains(&format!(
            "looked for lib/ in {} and the folders above it",
            lonely_lib.parent().unwrap().display()
        )),
        "{err}"
    );
    assert!(
        err.contains("so the library built into leadorch (calendar, hysteresis, pacing) was used"),
        "{err}"
    );
    assert!(
        err.contains("--lib DIR or LEADORCH__RULES_LIB=DIR"),
        "{err}"
    );

    // A library folder that is given but does not exist is an error, not an empty library.
    let missing = dir.path().join("no-such-lib");
    let o = check_from(
        &elsewhere,
        &home,
        &["--lib", missing.to_str().unwrap(), rule.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    // And the library it found is the one that compiles the import: with --lib it wins.
    let o = check_from(
        &elsewhere,
        &home,
        &["--lib", lib.to_str().unwrap(), lonely.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
}

/// Everything the seed writes is valid: its rule compiles, reads only facts rules see, and
/// backtests over the seeded history without failing.
#[test]
fn the_seeded_rule_compiles_and_backtests() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "2000"]);
    let list = ok(home, &["rules", "list", "--json"]);
    let rule: serde_json::Value =
        serde_json::from_str(list.lines().next().expect("a rule")).unwrap();
    let id = rule["id"].as_str().expect("rule id").to_string();
    let source = ok(home, &["rules", "show", &id]);
    let file = home.join(format!("{id}.rhai"));
    std::fs::write(&file, source).unwrap();
    let o = leadorch(home, &["rules", "check", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    let events = ok(
        home,
        &["events", "list", "--type", "CapacityRecorded", "--json"],
    );
    let times: Vec<String> = events
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["payload"]["CapacityRecorded"]
                ["at"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let (from, to) = (times.first().unwrap(), times.last().unwrap());
    let o = leadorch(
        home,
        &["rules", "backtest", &id, "--from", from, "--to", to],
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = text(&o.stdout) + &text(&o.stderr);
    assert!(!out.contains("Undefined variable"), "{out}");
}

/// Runs a command that must fail with one `error: …` line on standard error; returns it.
fn fails(home: &Path, args: &[&str]) -> String {
    let o = leadorch(home, args);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o.stdout));
    assert!(text(&o.stdout).is_empty(), "{args:?}: {}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() == 1,
        "{args:?}: {err}"
    );
    err
}

/// `rules list --json` (of `project`, when given): each rule's (id, version, enabled).
fn listed(home: &Path, project: Option<&str>) -> Vec<(String, u64, bool)> {
    let mut args = vec!["rules", "list", "--json"];
    if let Some(p) = project {
        args.extend(["--project", p]);
    }
    ok(home, &args)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["version"].as_u64().unwrap(),
                v["enabled"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn another_project_s_rules_are_kept_apart_and_named_bare() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let gate = "rules/capacity_gate.rhai";
    // Default: capacity_gate (version 1, disabled) and business_hours.
    ok(home, &["rules", "save", gate, "rules/business_hours.rhai"]);
    // Acme: its own capacity_gate, at two versions, enabled; --project before or after the
    // subcommand.
    let out = ok(
        home,
        &["rules", "--project", "acme", "save", gate, "--enable"],
    );
    assert_eq!(out, "capacity_gate: created (version 1, enabled)\n");
    let changed = home.join("capacity_gate.rhai");
    std::fs::write(
        &changed,
        std::fs::read_to_string(common::repo().join(gate))
            .unwrap()
            .replacen("priority: 100", "priority: 90", 1),
    )
    .unwrap();
    let out = ok(
        home,
        &[
            "rules",
            "save",
            changed.to_str().unwrap(),
            "--project",
            "acme",
        ],
    );
    assert_eq!(out, "capacity_gate: new version (version 2, enabled)\n");

    // Each project lists its own, bare.
    assert_eq!(
        listed(home, None),
        [
            ("business_hours".to_string(), 1, false),
            ("capacity_gate".to_string(), 1, false)
        ]
    );
    assert_eq!(
        listed(home, Some("acme")),
        [("capacity_gate".to_string(), 2, true)]
    );
    let table = ok(home, &["rules", "list"]);
    assert!(!table.contains("acme"), "{table}");
    // The log holds acme's under its prefix.
    let events = ok(
        home,
        &[
            "events",
            "list",
            "--stream",
            "rule:acme/capacity_gate",
            "--json",
        ],
    );
    assert_eq!(
        events.lines().count(),
        3,
        "created, enabled, new version: {events}"
    );

    // Enable, disable and history act on the project's own rule.
    let out = ok(
        home,
        &["rules", "disable", "capacity_gate", "--project", "acme"],
    );
    assert_eq!(out, "capacity_gate: disabled\n");
    let out = ok(home, &["rules", "enable", "capacity_gate"]);
    assert_eq!(out, "capacity_gate: enabled\n");
    assert_eq!(
        listed(home, Some("acme")),
        [("capacity_gate".to_string(), 2, false)]
    );
    assert_eq!(
        listed(home, None)[1],
        ("capacity_gate".to_string(), 1, true)
    );
    let history = ok(
        home,
        &[
            "rules",
            "--project",
            "acme",
            "history",
            "capacity_gate",
            "--json",
        ],
    );
    let what: Vec<(String, String)> = history
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["rule"].as_str().unwrap().to_string(),
                v["what"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let rule = |w: &str| ("capacity_gate".to_string(), w.to_string());
    assert_eq!(
        what,
        [
            rule("created"),
            rule("enabled"),
            rule("new_version"),
            rule("disabled")
        ]
    );
    let shown = ok(
        home,
        &["rules", "--project", "acme", "show", "capacity_gate"],
    );
    assert!(shown.contains("priority: 90"), "{shown}");
    let shown = ok(home, &["rules", "show", "capacity_gate"]);
    assert!(shown.contains("priority: 100"), "{shown}");

    // The other project's rule is not there.
    for cmd in ["enable", "disable", "history", "show"] {
        let err = fails(home, &["rules", "--project", "acme", cmd, "business_hours"]);
        assert!(
            err.contains("no saved rule \"business_hours\" in project acme"),
            "{cmd}: {err}"
        );
        assert!(err.contains("leadorch rules --project acme list"), "{err}");
    }
    let err = fails(
        home,
        &["rules", "--project", "acme", "dry-run", "business_hours"],
    );
    assert!(err.contains("no saved rule \"business_hours\""), "{err}");

    // A dry run and a backtest of acme's rule name it bare.
    let dry = ok(
        home,
        &[
            "rules",
            "--project",
            "acme",
            "dry-run",
            "capacity_gate",
            "--json",
        ],
    );
    let dry: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["rule"], "capacity_gate", "{dry}");
    assert_eq!(dry["version"], 2, "{dry}");
    assert_eq!(dry["run"]["rule_id"], "capacity_gate", "{dry}");
    let report = ok(
        home,
        &[
            "rules",
            "backtest",
            "capacity_gate",
            "--project",
            "acme",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-03",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["rule"], "capacity_gate", "{report}");

    // Nothing recorded on acme's stream by the refusals and the runs: created, enabled, new
    // version, disabled.
    let events = ok(
        home,
        &[
            "events",
            "list",
            "--stream",
            "rule:acme/capacity_gate",
            "--json",
        ],
    );
    assert_eq!(events.lines().count(), 4, "{events}");

    // check and test act in no project: another one is refused, in one line.
    for args in [
        &["rules", "--project", "acme", "check", gate][..],
        &["rules", "test", "rules/fixtures", "--project", "acme"][..],
    ] {
        let err = fails(home, args);
        assert!(
            err.contains("--project acme does nothing for `leadorch rules"),
            "{err}"
        );
    }
    ok(home, &["rules", "--project", "default", "check", gate]);
    let err = fails(home, &["rules", "--project", "Not A Project", "list"]);
    assert!(err.contains("--project"), "{err}");
}
