//! Every rule and library module in `rules/` compiles, and the Rhai version is the pinned one.

mod common;

use common::{host, limits, rules_dir};
use leadorch_rules::{check_rule_file, RuleHost, RHAI_VERSION};

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

/// The library compiled into the binary is the repository's `rules/lib`, module for module
/// and byte for byte: a module added to the folder but not to `BUILT_IN_LIBRARY`, or an
/// include pointing at the wrong file, fails here. Same sources, same digest, so a decision
/// made with the built-in library is traced to the same helper code as one made with the
/// folder.
#[test]
// Allowed: the test lists rules/lib.
#[allow(clippy::disallowed_methods)]
fn the_built_in_library_is_rules_lib() {
    let dir = rules_dir().join("lib");
    let mut folder: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    folder.sort();
    let built_in: Vec<(String, String)> = leadorch_rules::BUILT_IN_LIBRARY
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    assert_eq!(
        built_in.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        folder.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert!(
        built_in == folder,
        "a built-in module differs from its file"
    );
    let from_folder = host();
    let built = RuleHost::built_in(limits()).unwrap();
    assert_eq!(built.lib_digest(), from_folder.lib_digest());
    assert_eq!(built.modules(), from_folder.modules());
    let chosen = RuleHost::new_or_built_in(None, limits()).unwrap();
    assert_eq!(chosen.lib_digest(), from_folder.lib_digest());
    // A folder given is used instead, whole: an empty folder is an empty library.
    let empty = tempfile::tempdir().unwrap();
    let over = RuleHost::new_or_built_in(Some(empty.path()), limits()).unwrap();
    assert!(over.modules().is_empty());
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
