//! `leadorch rules backtest` through the binary: readable output (headings apart, campaign
//! names beside ids, the columns explained, one named time zone) and figures that mean what
//! they say — only the rule under test is replaced, so a rule that only pauses never "adds"
//! spend for campaigns another rule paused.

mod common;

use common::ok;

/// A demo morning (07:00–11:00 Amsterdam), recorded in `dir`; returns its database URL.
fn demo(dir: &std::path::Path) -> String {
    let db = dir.join("demo.db");
    ok(
        dir,
        &[
            "demo",
            "--minutes",
            "240",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    format!("sqlite://{}", db.display())
}

#[test]
fn a_backtest_replaces_only_the_rule_under_test_and_explains_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let url = demo(home);
    // Pauses gated campaigns only when their team is all but full, and never resumes: in the
    // demo the capacity gate (90 %) pauses them first and resumes them later.
    let rule = home.join("pause_only.rhai");
    std::fs::write(
        &rule,
        "//! Pause when the team is all but full; never resume.\n\
         //! scope: labels=capacity-gated\n\
         //! every: 5m\n\
         if team != () && team.utilisation > 0.99 && !campaign.paused {\n\
         \x20   pause(\"team all but full\");\n\
         }\n",
    )
    .unwrap();
    let rule = rule.to_str().unwrap();
    let window = [
        "--from",
        "2026-03-02T06:00:00Z",
        "--to",
        "2026-03-02T10:00:00Z",
    ];
    let mut args = vec!["--database-url", url.as_str(), "rules", "backtest", rule];
    args.extend_from_slice(&window);
    args.push("--json");
    let report: serde_json::Value = serde_json::from_str(&ok(home, &args)).unwrap();
    let totals = &report["totals"];
    // The campaigns were actually paused (by the capacity gate) in this window...
    assert!(totals["flips_actual"].as_u64().unwrap() > 0, "{report}");
    assert!(
        totals["minutes_paused_actual"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    // ...but not by this rule: it keeps nothing running that it paused, so it adds no spend.
    assert_eq!(totals["spend_added_micros"], 0, "{report}");
    // Names beside ids.
    let campaigns = report["campaigns"].as_object().unwrap();
    assert_eq!(campaigns["123-456-7890/1001"]["name"], "NL Generic");

    // The saved capacity gate over its own history, with no configuration: it sees what the
    // daemon saw (BE Generic's team comes from the demo world's mapping), makes the same
    // decisions, and so adds nothing.
    let mut args = vec![
        "--database-url",
        url.as_str(),
        "rules",
        "backtest",
        "capacity_gate",
    ];
    args.extend_from_slice(&window);
    args.push("--json");
    let own: serde_json::Value = serde_json::from_str(&ok(home, &args)).unwrap();
    assert!(
        own["campaigns"]["123-456-7890/1004"]["flips_backtest"]
            .as_u64()
            .unwrap()
            > 0,
        "{own}"
    );
    assert_eq!(own["totals"]["spend_added_micros"], 0, "{own}");
    assert_eq!(own["totals"]["spend_avoided_micros"], 0, "{own}");

    // The saved capacity gate, as a person reads it.
    let mut args = vec![
        "--database-url",
        url.as_str(),
        "rules",
        "backtest",
        "capacity_gate",
        "--config",
        "docs/leadorch.example.toml",
    ];
    args.extend_from_slice(&window);
    let human = ok(home, &args);
    let first = human.lines().next().unwrap();
    assert!(
        first.contains("from 2026-03-02 07:00 to 2026-03-02 11:00 (Europe/Amsterdam)"),
        "{human}"
    );
    let heading = human
        .lines()
        .find(|l| l.starts_with("CAMPAIGN "))
        .unwrap_or_else(|| panic!("no figures heading in:\n{human}"));
    for column in [
        "FLIPS RULE",
        "FLIPS ACTUAL",
        "PAUSED MIN RULE",
        "PAUSED MIN ACTUAL",
        "SPEND AVOIDED",
        "LEADS LOST",
        "SPEND ADDED",
    ] {
        assert!(
            heading.contains(&format!("  {column}")),
            "{column} not set apart in {heading:?}"
        );
    }
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("NL Generic (123-456-7890/1001)")),
        "{human}"
    );
    assert!(human.lines().any(|l| l.starts_with("total ")), "{human}");
    // Every column is explained under the table.
    for term in [
        "FLIPS:",
        "PAUSED MIN:",
        "SPEND AVOIDED:",
        "LEADS LOST:",
        "SPEND ADDED:",
    ] {
        assert!(human.contains(term), "{term} not explained:\n{human}");
    }
    // The timeline shows local times and names.
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("2026-03-02 ") && l.contains("NL Generic (123-456-7890/1001)")),
        "{human}"
    );
}
