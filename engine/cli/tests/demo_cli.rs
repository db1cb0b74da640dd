//! `leadorch demo` as a user runs it: a summary whose numbers add up, every example rule
//! acting, one named time zone, and the database it is told to write.

use std::path::Path;

mod common;
use common::{leadorch, leadorch_with, ok, repo, stderr, stdout};

/// The example rules' ids (`rules/*.rhai`).
fn example_rules() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo().join("rules"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "rhai").then(|| p.file_stem().unwrap().to_str().unwrap().to_owned())
        })
        .collect();
    ids.sort();
    ids
}

fn demo_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["demo", "--minutes", "240", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(home, &all)).expect("JSON summary")
}

fn n(v: &serde_json::Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} missing: {v}"))
}

#[test]
fn the_summary_accounts_for_every_lead_and_every_unit_of_spend() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let summary = demo_json(home, &["--db", db.to_str().unwrap()]);
    for run in ["with_rules", "without_rules"] {
        let s = &summary[run];
        assert!(n(s, "leads") > 0, "{run}: {s}");
        assert_eq!(
            n(s, "leads"),
            n(s, "leads_worked") + n(s, "leads_open") + n(s, "leads_expired"),
            "{run}: every lead received is worked, still open or could not be worked: {s}"
        );
        assert_eq!(
            n(s, "spend_micros"),
            n(s, "spend_on_worked_micros")
                + n(s, "spend_on_open_micros")
                + n(s, "spend_on_expired_micros")
                + n(s, "spend_without_lead_micros"),
            "{run}: every unit of spend is in one part: {s}"
        );
    }
    // The comparison's claim, spend with rules against rules disabled, is a real difference
    // and the parts explain all of it.
    let (w, o) = (&summary["with_rules"], &summary["without_rules"]);
    assert!(n(w, "spend_micros") < n(o, "spend_micros"), "{summary}");
    assert_eq!(summary["timezone"], "Europe/Amsterdam");
}

#[test]
fn every_example_rule_acts_in_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let summary = demo_json(home, &["--db", db.to_str().unwrap()]);
    let acted = summary["accepted_by_rule"].as_object().expect("per rule");
    let rules = example_rules();
    assert_eq!(rules.len(), 4, "{rules:?}");
    for rule in &rules {
        let accepted = acted.get(rule).and_then(|v| v.as_u64()).unwrap_or(0);
        assert!(accepted > 0, "{rule} never acted in the demo: {summary}");
    }
    // What the summary counts is what the log holds: each rule has an accepted decision
    // recorded in an evaluation.
    let url = format!("sqlite://{}", db.display());
    let evaluations = ok(
        home,
        &[
            "--database-url",
            &url,
            "events",
            "list",
            "--type",
            "EvaluationRecorded",
            "--json",
        ],
    );
    for rule in &rules {
        let recorded = evaluations.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["payload"]["EvaluationRecorded"]["resolution"]["accepted"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["rule"] == rule.as_str()))
        });
        assert!(recorded, "no accepted decision of {rule} in the log");
    }
}

#[test]
fn the_text_summary_names_its_time_zone_and_its_rows_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let out = ok(
        home,
        &["demo", "--minutes", "180", "--db", db.to_str().unwrap()],
    );
    assert!(
        out.lines()
            .any(|l| l == "times in Europe/Amsterdam (the simulated account's time zone)"),
        "{out}"
    );
    let row = |name: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no row {name:?}: {out}"));
        line[name.len()..]
            .split_whitespace()
            .map(|c| c.replace(',', ""))
            .collect()
    };
    let header = out
        .lines()
        .find(|l| l.contains("with rules"))
        .expect("header");
    assert!(
        header.contains("with rules") && header.contains("rules disabled"),
        "{header}"
    );
    // Three columns (with rules, rules disabled, difference): the indented rows add up to
    // the row above them in every column.
    for (total, parts) in [
        (
            "leads received",
            &[
                "  worked",
                "  still open at the end",
                "  could not be worked (expired)",
            ][..],
        ),
        (
            "spend",
            &[
                "  on leads worked",
                "  on leads still open",
                "  on leads that could not be worked",
                "  on clicks that brought no lead",
            ][..],
        ),
    ] {
        let cents = |s: &str| -> i64 {
            let s = s.trim_start_matches('+');
            match s.split_once('.') {
                Some((a, b)) => {
                    let sign = if a.starts_with('-') { -1 } else { 1 };
                    a.parse::<i64>().unwrap() * 100 + sign * b.parse::<i64>().unwrap()
                }
                None => s.parse::<i64>().unwrap(),
            }
        };
        let t = row(total);
        assert_eq!(t.len(), 3, "{total}: {t:?}");
        for (col, shown) in t.iter().enumerate() {
            let sum: i64 = parts.iter().map(|p| cents(&row(p)[col])).sum();
            assert_eq!(cents(shown), sum, "{total}, column {col}: {out}");
        }
    }
    // Each rule's line of what it did.
    for rule in example_rules() {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{rule} "))),
            "{rule}: {out}"
        );
    }
}

#[test]
fn demo_writes_to_the_database_url_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("named.db");
    let url = format!("sqlite://{}", db.display());
    let o = leadorch(home, &["--database-url", &url, "demo", "--minutes", "30"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(db.is_file(), "the demo did not write {url}");
    assert!(
        stdout(&o).contains(&format!("database: {url}")),
        "{}",
        stdout(&o)
    );
    // Nothing else: the data folder holds no demo-*.db.
    let strays: Vec<_> = std::fs::read_dir(home)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("demo-"))
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
    let listed = ok(
        home,
        &["--database-url", &url, "events", "list", "--limit", "3"],
    );
    assert!(listed.lines().count() > 1, "{listed}");
    // A second demo on the same database is refused: it already holds a history.
    let again = leadorch(home, &["--database-url", &url, "demo", "--minutes", "5"]);
    assert!(!again.status.success());
    let err = stderr(&again);
    assert!(
        err.contains(&url) && err.contains("already holds") && err.contains("new or empty"),
        "{err}"
    );
    // --db and --database-url together name two databases: refused.
    let other = home.join("other.db");
    let both = leadorch(
        home,
        &[
            "--database-url",
            &format!("sqlite://{}", home.join("third.db").display()),
            "demo",
            "--db",
            other.to_str().unwrap(),
        ],
    );
    assert!(!both.status.success());
    assert!(stderr(&both).contains("give one"), "{}", stderr(&both));
    assert!(!other.exists());
    // A DATABASE_URL standing in the environment gives way to --db on the command line.
    let env_url = format!("sqlite://{}", home.join("from-env.db").display());
    let o = common::leadorch_with(
        home,
        &[
            "demo",
            "--minutes",
            "5",
            "--json",
            "--db",
            other.to_str().unwrap(),
        ],
        &[("DATABASE_URL", env_url.as_str())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(other.exists());
    assert!(!home.join("from-env.db").exists());
}

#[test]
fn demo_uses_the_master_key_file_and_the_actor_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let key = home.join("keys").join("demo.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let o = leadorch(
        home,
        &[
            "--master-key-file",
            key.to_str().unwrap(),
            "--actor",
            "alice",
            "demo",
            "--minutes",
            "10",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(key.is_file(), "the demo did not use --master-key-file");
    assert!(!home.join("master.key").exists());
    let url = format!("sqlite://{}", db.display());
    let history = ok(
        home,
        &[
            "--database-url",
            &url,
            "--master-key-file",
            key.to_str().unwrap(),
            "rules",
            "history",
            "capacity_gate",
            "--json",
        ],
    );
    assert!(history.contains("\"alice\""), "{history}");
}

#[test]
fn a_global_option_a_command_would_ignore_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    // Commands that use no database refuse --database-url and --master-key-file.
    for args in [
        &[
            "--database-url",
            "sqlite:///tmp/x.db",
            "completions",
            "bash",
        ][..],
        &["completions", "bash", "--master-key-file", "/tmp/k"][..],
        &[
            "rules",
            "check",
            "rules/capacity_gate.rhai",
            "--database-url",
            "sqlite:///tmp/x.db",
        ][..],
        &["--master-key-file", "/tmp/k", "rules", "test"][..],
    ] {
        let o = leadorch(home, args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        assert!(
            err.contains("does nothing for `leadorch") && err.contains("leave it out"),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Commands that record nothing a person did refuse --actor.
    ok(home, &["init"]);
    for args in [
        &["--actor", "alice", "events", "list"][..],
        &["audit", "verify", "--actor", "alice"][..],
        &["--actor", "alice", "rules", "list"][..],
        &["--actor", "alice", "seed", "--events", "10"][..],
        &["--actor", "alice", "retention", "enforce", "--dry-run"][..],
    ] {
        let o = leadorch(home, args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        assert!(
            err.contains("--actor does nothing for `leadorch") && err.contains("leave it out"),
            "{args:?}: {err}"
        );
    }
    // From the environment they are standing settings: used where they apply, left alone
    // elsewhere.
    let o = leadorch_with(home, &["events", "list"], &[("LEADORCH_ACTOR", "alice")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = leadorch_with(
        home,
        &["completions", "bash"],
        &[("DATABASE_URL", "sqlite:///tmp/x.db")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Where the actor applies it is recorded.
    let file = home.join("my_rule.rhai");
    std::fs::copy(repo().join("rules/capacity_gate.rhai"), &file).unwrap();
    ok(
        home,
        &["--actor", "bob", "rules", "save", file.to_str().unwrap()],
    );
    let history = ok(home, &["rules", "history", "my_rule", "--json"]);
    assert!(history.contains("\"bob\""), "{history}");
}

#[test]
fn the_daemon_records_the_actor_it_is_given() {
    // `--actor` on the daemon names who decided, over the configuration's default.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    ok(
        home,
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
    ok(
        home,
        &[
            "--database-url",
            &url,
            "--actor",
            "ops-bot",
            "daemon",
            "--adapter",
            "sim",
            "--once",
        ],
    );
    let listed = ok(
        home,
        &[
            "--database-url",
            &url,
            "events",
            "list",
            "--type",
            "EvaluationRecorded",
            "--json",
        ],
    );
    assert!(
        listed.lines().any(|l| l.contains("\"ops-bot\"")),
        "no evaluation recorded as ops-bot: {listed}"
    );
}

#[test]
fn explain_shows_times_in_the_named_zone_of_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    ok(
        home,
        &[
            "demo",
            "--minutes",
            "60",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    let url = format!("sqlite://{}", db.display());
    // The demo's zone, as its hints set it: the live view's times, named.
    let o = leadorch_with(
        home,
        &["--database-url", &url, "explain", "NL Generic"],
        &[("LEADORCH__FACTS__TIMEZONE", "Europe/Amsterdam")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().next(),
        Some("times in Europe/Amsterdam"),
        "{out}"
    );
    // The demo starts Monday 07:00 in Amsterdam (06:00 UTC) and the NL campaigns pause at
    // once (no agents before 08:00): local times, with the zone's abbreviation.
    assert!(out.contains("2026-03-02 0"), "{out}");
    assert!(out.contains(" CET"), "{out}");
    assert!(!out.contains("+00:00"), "{out}");
    // Without a configured zone: UTC, named as such.
    let utc = ok(home, &["--database-url", &url, "explain", "NL Generic"]);
    assert_eq!(utc.lines().next(), Some("times in UTC"), "{utc}");
}

#[test]
fn demo_writes_to_a_postgres_database_url() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(leadorch_test_support::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let key = home.join("pg.key");
    let key_s = key.to_str().unwrap();
    let o = leadorch(
        home,
        &[
            "--database-url",
            &db.url,
            "--master-key-file",
            key_s,
            "demo",
            "--minutes",
            "30",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(summary["evaluations"].as_u64().unwrap() > 0, "{summary}");
    // What it recorded is in that database, and verifies.
    let verified = ok(
        home,
        &[
            "--database-url",
            &db.url,
            "--master-key-file",
            key_s,
            "audit",
            "verify",
        ],
    );
    assert!(verified.contains("intact"), "{verified}");
    // No SQLite file was written instead.
    let sqlite: Vec<_> = std::fs::read_dir(home)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".db"))
        .collect();
    assert!(sqlite.is_empty(), "{sqlite:?}");
    rt.block_on(db.cleanup());
}
