//! `rules save`, `rules test`, `rules dry-run` and `rules backtest` find the rules library
//! the way `rules check` does — beside the rule file (or fixture folder) first — when run
//! outside the repository, and say where they looked when they cannot.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{repo, text};

/// `leadorch ARGS` run from `cwd`, with no library configured.
fn run_from(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(args)
        .current_dir(cwd)
        .env("LEADORCH_HOME", home)
        .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_CONFIG")
        .env_remove("LEADORCH__RULES_LIB")
        .output()
        .expect("run leadorch")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn save_test_and_dry_run_find_the_library_beside_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let elsewhere = dir.path().join("elsewhere");
    let project = dir.path().join("project/rules");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    copy_dir(&repo().join("rules"), &project);
    copy_dir(&repo().join("rules/lib"), &project.join("lib"));
    copy_dir(&repo().join("rules/fixtures"), &project.join("fixtures"));
    // The project's rule imports a module only the project's library has (so the library
    // beside the rules, not the built-in one, is what compiles it).
    std::fs::copy(
        repo().join("rules/lib/pacing.rhai"),
        project.join("lib/project_pacing.rhai"),
    )
    .unwrap();
    let pacing = project.join("budget_pacing.rhai");
    let source = std::fs::read_to_string(&pacing)
        .unwrap()
        .replace("import \"pacing\"", "import \"project_pacing\"");
    std::fs::write(&pacing, source).unwrap();
    let pacing = pacing.to_str().unwrap();

    // save: the rule imports "pacing" from lib/ beside it.
    let o = run_from(&elsewhere, &home, &["rules", "save", pacing, "--enable"]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains("budget_pacing: created"),
        "{}",
        text(&o.stdout)
    );
    // dry-run of the file, from elsewhere.
    let o = run_from(&elsewhere, &home, &["rules", "dry-run", pacing]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains("dry run of budget_pacing"),
        "{}",
        text(&o.stdout)
    );
    // test: the fixtures folder finds ../lib (the fixture for budget_pacing imports it).
    let fixtures = project.join("fixtures");
    let o = run_from(
        &elsewhere,
        &home,
        &["rules", "test", fixtures.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains(", 0 failed"),
        "{}",
        text(&o.stdout)
    );

    // Without a library near the rule, the built-in one: the example rule saves and dry-runs.
    let built_in = dir.path().join("alone/budget_pacing.rhai");
    std::fs::create_dir_all(built_in.parent().unwrap()).unwrap();
    std::fs::copy(repo().join("rules/budget_pacing.rhai"), &built_in).unwrap();
    for args in [
        vec!["rules", "save", built_in.to_str().unwrap()],
        vec!["rules", "dry-run", built_in.to_str().unwrap()],
    ] {
        let o = run_from(&elsewhere, &home, &args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    }
    // A rule importing a module only the project's library has: one line saying where it
    // looked and how to point at it.
    let lonely = dir.path().join("lonely/budget_pacing.rhai");
    std::fs::create_dir_all(lonely.parent().unwrap()).unwrap();
    std::fs::copy(pacing, &lonely).unwrap();
    for args in [
        vec!["rules", "save", lonely.to_str().unwrap()],
        vec!["rules", "dry-run", lonely.to_str().unwrap()],
    ] {
        let o = run_from(&elsewhere, &home, &args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("unknown module \"project_pacing\""),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("so the library built into leadorch"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!(
                "looked for lib/ in {} and the folders above it",
                lonely.parent().unwrap().display()
            )),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("--lib DIR or LEADORCH__RULES_LIB=DIR"),
            "{args:?}: {err}"
        );
    }
}
