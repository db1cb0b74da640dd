//! Runs every scenario fixture in `rules/fixtures`, and checks that the runner reports
//! wrong expectations and broken fixture files.

mod common;

use std::path::Path;

use common::{host, rules_dir};
use leadorch_rules::{run_fixture, run_fixture_dir, FixtureError};

#[test]
fn every_fixture_passes() {
    let host = host();
    let reports =
        run_fixture_dir(&host, &rules_dir().join("fixtures")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        reports.len() >= 7,
        "expected the fixtures, found {}",
        reports.len()
    );
    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(reports.iter().all(|r| r.steps > 0));
}

// Allowed: the test writes the fixture files it runs into a temporary folder.
#[allow(clippy::disallowed_methods)]
fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

const RULE: &str = r#"//! Pause everything when the team is busy.
//! priority: 10
if team != () && team.utilisation > 0.5 { pause("busy") }
"#;

#[test]
fn a_wrong_expectation_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "busy.rhai", RULE);
    let fixture = write(
        dir.path(),
        "wrong.toml",
        r#"
rule = "busy.rhai"
[[campaigns]]
id = "1/1"
team = "t"
[[steps]]
at = "2026-03-02T10:00:00Z"
teams.t = { agents_available = 1, open_leads = 9, max_open_leads = 10 }
expect = []
[[steps]]
at = "2026-03-02T10:05:00Z"
expect = [{ campaign = "1/1", action = "pause" }]
"#,
    );
    let report = run_fixture(&host(), &fixture).expect("runs");
    assert_eq!(report.steps, 2);
    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
    assert_eq!(
        report.failures[0],
        "step 1 (2026-03-02T10:00:00Z): expected [], got [pause 1/1 by busy]"
    );
    assert!(
        report.failures[1].starts_with(
            "step 2 (2026-03-02T10:05:00Z): expected [pause 1/1], got [] (suppressed: pause 1/1 by busy: no change)"
        ),
        "{}",
        report.failures[1]
    );
    assert!(!report.passed());
}

#[test]
fn failures_must_be_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "boom.rhai", "throw \"boom\";");
    let unexpected = write(
        dir.path(),
        "a.toml",
        "rule = \"boom.rhai\"\n[[campaigns]]\nid = \"1/1\"\n[[steps]]\nat = \"2026-03-02T10:00:00Z\"\nexpect = []\n",
    );
    let report = run_fixture(&host(), &unexpected).expect("runs");
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].contains("boom"), "{:?}", report.failures);

    let expected = write(
        dir.path(),
        "b.toml",
        "rule = \"boom.rhai\"\n[[campaigns]]\nid = \"1/1\"\n[[steps]]\nat = \"2026-03-02T10:00:00Z\"\nexpect = []\nfailures = [{ campaign = \"1/1\", error = \"runtime\" }]\n",
    );
    let report = run_fixture(&host(), &expected).expect("runs");
    assert!(report.passed(), "{:?}", report.failures);
}

#[test]
fn broken_fixture_files_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "busy.rhai", RULE);
    write(dir.path(), "bad.rhai", "let x = ;");
    let host = host();

    let syntax = write(
        dir.path(),
        "syntax.toml",
        "rule = \"busy.rhai\"\n[[steps]\n",
    );
    let err = run_fixture(&host, &syntax).expect_err("bad toml");
    assert!(matches!(err, FixtureError::Parse { .. }));
    let text = err.to_string();
    assert!(
        text.contains("syntax.toml") && text.contains("line 2"),
        "{text}"
    );

    let unknown_key = write(
        dir.path(),
        "typo.toml",
        "rule = \"busy.rhai\"\n[[campaigns]]\nid = \"1/1\"\nstatuss = \"paused\"\n",
    );
    let text = run_fixture(&host, &unknown_key)
        .expect_err("typo")
        .to_string();
    assert!(
        text.contains("typo.toml") && text.contains("statuss"),
        "{text}"
    );

    let no_rule = write(
        dir.path(),
        "norule.toml",
        "[[steps]]\nat = \"2026-03-02T10:00:00Z\"\nexpect = []\n",
    );
    let text = run_fixture(&host, &no_rule)
        .expect_err("no rule")
        .to_string();
    assert!(
        text.contains("norule.toml") && text.contains("rule"),
        "{text}"
    );

    let bad_rule = write(
        dir.path(),
        "badrule.toml",
        "rule = \"bad.rhai\"\n[[steps]]\nat = \"2026-03-02T10:00:00Z\"\nexpect = []\n",
    );
    let err = run_fixture(&host, &bad_rule).expect_err("bad rule");
    assert!(matches!(err, FixtureError::Rule { .. }));
    assert!(err.to_string().contains("rule bad: line 1"), "{err}");

    let unknown_campaign = write(
        dir.path(),
        "unknown.toml",
        "rule = \"busy.rhai\"\n[[campaigns]]\nid = \"1/1\"\n[[steps]]\nat = \"2026-03-02T10:00:00Z\"\ncampaigns.\"9/9\" = { leads_today = 1 }\nexpect = []\n",
    );
    let text = run_fixture(&host, &unknown_campaign)
        .expect_err("unknown")
        .to_string();
    assert!(text.contains("unknown campaign \"9/9\""), "{text}");

    let bad_time = write(
        dir.path(),
        "time.toml",
        "rule = \"busy.rhai\"\n[[campaigns]]\nid = \"1/1\"\n[[steps]]\nat = \"yesterday\"\nexpect = []\n",
    );
    let text = run_fixture(&host, &bad_time)
        .expect_err("bad time")
        .to_string();
    assert!(
        text.contains("time.toml") && text.contains("yesterday"),
        "{text}"
    );

    let missing = run_fixture(&host, &dir.path().join("missing.toml")).expect_err("missing");
    assert!(matches!(missing, FixtureError::Io { .. }));
}
