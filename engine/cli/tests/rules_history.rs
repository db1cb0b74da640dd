//! A saved rule's history through the binary: `rules history`, `rules show`, `rules diff`,
//! `rules rollback` and the `rules list` table.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod common;
use common::{leadorch, ok, stderr, stdout};

/// Runs a command that must fail with exit code 1 and one `error: …` line; returns it.
fn fails(home: &Path, args: &[&str]) -> String {
    let o = leadorch(home, args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn digest(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

const V1: &str = "//! Pause gated campaigns when their team is full.
//! priority: 10
//! scope: labels=gated
if team != () && team.utilisation > 0.9 {
    pause(\"team full\")
}
";

const V2: &str = "//! Pause gated campaigns when their team is nearly full.
//! priority: 50
//! scope: labels=gated; teams=sales-nl
if team != () && team.utilisation > 0.8 {
    pause(\"team nearly full\")
}
";

/// A home with rule `gate` saved at V1 (by alice), enabled (by alice), saved at V2 (by bob)
/// and disabled (by bob); returns the rule file.
fn gate_with_two_versions(home: &Path) -> PathBuf {
    let file = home.join("gate.rhai");
    std::fs::write(&file, V1).unwrap();
    let f = file.to_str().unwrap();
    ok(
        home,
        &["--actor", "test:alice", "rules", "save", f, "--enable"],
    );
    std::fs::write(&file, V2).unwrap();
    ok(home, &["--actor", "test:bob", "rules", "save", f]);
    ok(home, &["--actor", "test:bob", "rules", "disable", "gate"]);
    file
}

/// Whether `s` is an RFC 3339 UTC time to the second (`2026-03-02T09:30:00Z`).
fn is_utc_second(s: &str) -> bool {
    s.len() == 20 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[test]
fn history_lists_every_change_oldest_first_with_who_and_the_source_digest() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    gate_with_two_versions(home);

    let out = ok(home, &["rules", "history", "gate"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "a header and four changes: {out}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["VERSION", "AT", "BY", "WHAT", "SOURCE"],
        "{out}"
    );
    let d1 = &digest(V1)[..12];
    let d2 = &digest(V2)[..12];
    let expected = [
        ("1", "test:alice", "created", d1),
        ("1", "test:alice", "enabled", d1),
        ("2", "test:bob", "new version", d2),
        ("2", "test:bob", "disabled", d2),
    ];
    for (line, (version, by, what, source)) in lines[1..].iter().zip(expected) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], version, "{line}");
        assert!(is_utc_second(words[1]), "{line}");
        assert_eq!(words[2], by, "{line}");
        assert_eq!(words[3..words.len() - 1].join(" "), what, "{line}");
        assert_eq!(words[words.len() - 1], source, "{line}");
    }
    // The columns line up under the header.
    let at = lines[0].find("AT").unwrap();
    let what = lines[0].find("WHAT").unwrap();
    for line in &lines[1..] {
        assert!(is_utc_second(&line[at..at + 20]), "{out}");
        assert!(line[what..].starts_with(char::is_alphabetic), "{out}");
        assert_eq!(&line[what - 2..what], "  ", "{out}");
    }

    // --json: one object per line, full digests.
    let out = ok(home, &["rules", "history", "gate", "--json"]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{out}");
    let whats: Vec<&str> = events.iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert_eq!(whats, ["created", "enabled", "new_version", "disabled"]);
    assert_eq!(events[0]["rule"], "gate");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["actor"], "test:alice");
    assert_eq!(events[0]["source_digest"], digest(V1));
    assert_eq!(events[2]["version"], 2);
    assert_eq!(events[2]["actor"], "test:bob");
    assert_eq!(events[2]["source_digest"], digest(V2));
    assert!(events[2]["rolled_back_to"].is_null(), "{out}");
    for e in &events {
        assert!(
            chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).is_ok(),
            "{e}"
        );
        assert!(e["position"].as_u64().unwrap() > 0, "{e}");
    }

    // A rule that does not exist is an error naming it.
    let err = fails(home, &["rules", "history", "nope"]);
    assert!(err.contains("\"nope\""), "{err}");
    assert!(err.contains("leadorch rules list"), "{err}");

    // Disabling a disabled rule says so and records nothing; enabling an unknown one fails.
    let out = ok(home, &["rules", "disable", "gate"]);
    assert_eq!(out.trim_end(), "gate: already disabled");
    let out = ok(home, &["rules", "history", "gate", "--json"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    let err = fails(home, &["rules", "enable", "nope"]);
    assert!(err.contains("no saved rule \"nope\""), "{err}");
}

#[test]
fn show_prints_only_the_source_of_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    gate_with_two_versions(home);

    assert_eq!(ok(home, &["rules", "show", "gate"]), V2);
    assert_eq!(ok(home, &["rules", "show", "gate", "--version", "1"]), V1);
    assert_eq!(ok(home, &["rules", "show", "gate", "--version", "2"]), V2);

    let err = fails(home, &["rules", "show", "gate", "--version", "7"]);
    assert!(err.contains("gate"), "{err}");
    assert!(err.contains("no version 7"), "{err}");
    assert!(err.contains("versions 1, 2"), "{err}");
    let err = fails(home, &["rules", "show", "nope"]);
    assert!(err.contains("\"nope\""), "{err}");
    // Backtesting a version that does not exist names the ones that do, too.
    let err = fails(
        home,
        &[
            "rules",
            "backtest",
            "gate",
            "--version",
            "7",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-03",
        ],
    );
    assert!(err.contains("no version 7 (it has versions 1, 2)"), "{err}");
}

#[test]
fn diff_is_a_unified_diff_of_two_versions() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    gate_with_two_versions(home);

    let out = ok(home, &["rules", "diff", "gate", "1", "2"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "--- gate v1", "{out}");
    assert_eq!(lines[1], "+++ gate v2", "{out}");
    assert!(lines[2].starts_with("@@ -1,"), "{out}");
    assert!(lines.contains(&"-//! priority: 10"), "{out}");
    assert!(lines.contains(&"+//! priority: 50"), "{out}");
    assert!(
        lines.contains(&"-if team != () && team.utilisation > 0.9 {"),
        "{out}"
    );
    assert!(lines.contains(&" }"), "unchanged lines as context: {out}");
    // The other way round.
    let back = ok(home, &["rules", "diff", "gate", "2", "1"]);
    assert!(back.starts_with("--- gate v2\n+++ gate v1\n"), "{back}");
    assert!(back.contains("\n+//! priority: 10\n"), "{back}");
    // The same version: headers and nothing else.
    assert_eq!(
        ok(home, &["rules", "diff", "gate", "2", "2"]),
        "--- gate v2\n+++ gate v2\n"
    );
    let err = fails(home, &["rules", "diff", "gate", "1", "3"]);
    assert!(err.contains("no version 3"), "{err}");
    assert!(err.contains("versions 1, 2"), "{err}");
}

#[test]
fn rollback_records_a_new_version_with_the_old_source() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    gate_with_two_versions(home);

    let out = ok(
        home,
        &[
            "--actor",
            "test:carol",
            "rules",
            "rollback",
            "gate",
            "--to",
            "1",
        ],
    );
    assert_eq!(
        out,
        "gate: rolled back to version 1 (now version 3, disabled)\n"
    );
    assert_eq!(ok(home, &["rules", "show", "gate"]), V1);
    assert_eq!(ok(home, &["rules", "show", "gate", "--version", "3"]), V1);

    let out = ok(home, &["rules", "history", "gate"]);
    let last = out.lines().last().unwrap();
    let words: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(words[0], "3", "{out}");
    assert_eq!(words[2], "test:carol", "{out}");
    assert_eq!(
        words[3..words.len() - 1].join(" "),
        "rolled back to v1",
        "{out}"
    );
    assert_eq!(words[words.len() - 1], &digest(V1)[..12], "{out}");
    let json = ok(home, &["rules", "history", "gate", "--json"]);
    let last: serde_json::Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    assert_eq!(last["what"], "rolled_back");
    assert_eq!(last["rolled_back_to"], 1);
    assert_eq!(last["version"], 3);
    assert_eq!(last["source_digest"], digest(V1));

    // Stored as a new version that says what it restores.
    let events = ok(
        home,
        &[
            "events",
            "list",
            "--stream",
            "rule:gate",
            "--type",
            "RuleVersionAdded",
            "--json",
        ],
    );
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["schema_version"], "1.1");
    assert_eq!(
        events[1]["payload"]["RuleVersionAdded"]["rolled_back_to"],
        1
    );
    assert_eq!(events[1]["payload"]["RuleVersionAdded"]["version"], 3);
    // An ordinary new version stores no rollback field.
    let v2 = events[0]["payload"]["RuleVersionAdded"]
        .as_object()
        .unwrap();
    assert!(!v2.contains_key("rolled_back_to"), "{v2:?}");

    // Rolling back to what is current is refused, and records nothing.
    let err = fails(home, &["rules", "rollback", "gate", "--to", "1"]);
    assert!(err.contains("version 1 is already current"), "{err}");
    let err = fails(home, &["rules", "rollback", "gate", "--to", "3"]);
    assert!(err.contains("version 3 is already current"), "{err}");
    let err = fails(home, &["rules", "rollback", "gate", "--to", "9"]);
    assert!(err.contains("no version 9"), "{err}");
    assert!(err.contains("versions 1, 2, 3"), "{err}");
    let err = fails(home, &["rules", "rollback", "nope", "--to", "1"]);
    assert!(err.contains("\"nope\""), "{err}");
    assert_eq!(
        ok(home, &["rules", "history", "gate", "--json"])
            .lines()
            .count(),
        5
    );

    // Back to version 2: a new version 4, and the log still verifies.
    let out = ok(home, &["rules", "rollback", "gate", "--to", "2"]);
    assert_eq!(
        out,
        "gate: rolled back to version 2 (now version 4, disabled)\n"
    );
    assert_eq!(ok(home, &["rules", "show", "gate"]), V2);
    let verified = ok(home, &["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
}

#[test]
fn rollback_to_a_version_that_no_longer_compiles_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let lib = home.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("limits.rhai"), "fn high() { 0.9 }\n").unwrap();
    let lib_s = lib.to_str().unwrap();
    let file = home.join("gate.rhai");
    let f = file.to_str().unwrap();
    std::fs::write(
        &file,
        "import \"limits\" as l;\nif team != () && team.utilisation > l::high() { pause(\"full\") }\n",
    )
    .unwrap();
    ok(home, &["rules", "save", f, "--lib", lib_s]);
    std::fs::write(&file, V1).unwrap();
    ok(home, &["rules", "save", f, "--lib", lib_s]);
    // The library module version 1 imports is gone.
    std::fs::remove_file(lib.join("limits.rhai")).unwrap();

    let err = fails(
        home,
        &["rules", "rollback", "gate", "--to", "1", "--lib", lib_s],
    );
    assert!(err.contains("version 1"), "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("column"), "{err}");
    assert!(err.contains("limits"), "{err}");
    // Nothing was recorded.
    assert_eq!(ok(home, &["rules", "show", "gate"]), V1);
    assert_eq!(
        ok(home, &["rules", "history", "gate", "--json"])
            .lines()
            .count(),
        2
    );
}

#[test]
fn list_is_a_table_with_priority_and_scope_from_the_rule_header() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    gate_with_two_versions(home);
    ok(
        home,
        &["rules", "save", "rules/capacity_gate.rhai", "--enable"],
    );
    let plain = home.join("everywhere.rhai");
    std::fs::write(&plain, "if campaign.status == \"removed\" { return; }\n").unwrap();
    ok(home, &["rules", "save", plain.to_str().unwrap()]);

    let out = ok(home, &["rules", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let header = lines[0];
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "VERSION", "ENABLED", "PRIORITY", "SCOPE"],
        "{out}"
    );
    let columns: Vec<usize> = ["VERSION", "ENABLED", "PRIORITY", "SCOPE"]
        .iter()
        .map(|c| header.find(c).unwrap())
        .collect();
    let rows: Vec<(&str, &str, &str, &str, &str)> = vec![
        ("capacity_gate", "1", "yes", "100", "labels=capacity-gated"),
        ("everywhere", "1", "no", "0", "all campaigns"),
        // Priority and scope of the current version (2), not of version 1.
        ("gate", "2", "no", "50", "labels=gated; teams=sales-nl"),
    ];
    for (line, (name, version, enabled, priority, scope)) in lines[1..].iter().zip(rows) {
        assert!(line.starts_with(&format!("{name} ")), "{out}");
        assert!(line[columns[0]..].starts_with(version), "{out}");
        assert!(line[columns[1]..].starts_with(enabled), "{out}");
        assert!(line[columns[2]..].starts_with(priority), "{out}");
        assert_eq!(&line[columns[3]..], scope, "{out}");
        for c in &columns {
            assert_eq!(&line[c - 2..*c], "  ", "{out}");
        }
    }

    // --json keeps its fields and adds the scope.
    let out = ok(home, &["rules", "list", "--json"]);
    let rules: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rules.len(), 3, "{out}");
    let gate = &rules[2];
    assert_eq!(gate["id"], "gate");
    assert_eq!(gate["version"], 2);
    assert_eq!(gate["enabled"], false);
    assert_eq!(gate["priority"], 50);
    assert_eq!(gate["scope"]["labels"], serde_json::json!(["gated"]));
    assert_eq!(gate["scope"]["teams"], serde_json::json!(["sales-nl"]));
    assert_eq!(rules[0]["id"], "capacity_gate");
    assert_eq!(rules[0]["enabled"], true);
    assert_eq!(rules[0]["priority"], 100);
}
