//! Every rule and library module in `rules/` compiles, and the Rhai version is the pinned one.

mod common;

use common::{host, rules_dir};
use leadorch_rules::{check_rule_file, RHAI_VERSION};

#[test]
// Allowed: the test lists the example rules in `rules/`.
#[allow(clippy::disallowed_methods)]
fn every_example_rule_compiles() {
    let host = host();
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(rules_dir())
        .expect("rules/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("rhai"))
        .collect();
    entries.sort();
    for path in entries {
        let rule = check_rule_file(&host, &path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rule.meta.description.is_some(),
            "{} has no description line",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 4, "expected the example rules, found {count}");
}

#[test]
fn library_modules_are_loaded() {
    let host = host();
    for module in ["calendar", "hysteresis", "pacing"] {
        assert!(
            host.modules().iter().any(|m| m == module),
            "{module} missing"
        );
    }
    assert_eq!(host.lib_digest().len(), 64);
}

#[test]
// Allowed: the test reads `Cargo.lock`.
#[allow(clippy::disallowed_methods)]
fn rhai_version_matches_the_lock_file() {
    let lock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
    )
    .expect("Cargo.lock readable");
    let mut lines = lock.lines();
    let mut found = None;
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"rhai\"" {
            found = lines
                .next()
                .and_then(|v| v.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string);
            break;
        }
    }
    assert_eq!(found.as_deref(), Some(RHAI_VERSION));
}
