//! `leadorch bench …` runs `leadorch-bench` from its own folder: arguments (`--help` too),
//! output and exit code go through unchanged, and a missing benchmarks binary is named.
//!
//! These run the `leadorch` binary, which `cargo test --workspace` (or `cargo build`) at the
//! repository root builds beside `leadorch-bench`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `leadorch` binary beside `leadorch-bench` in the target folder.
fn leadorch() -> PathBuf {
    let bench = Path::new(env!("CARGO_BIN_EXE_leadorch-bench"));
    let path = bench.with_file_name(format!("leadorch{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} not found: these tests run the `leadorch` binary built beside leadorch-bench; \
         run them with `cargo test --workspace`, or `cargo build -p leadorch` first",
        path.display()
    );
    path
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bench_runs_the_benchmarks_binary_with_every_argument() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = Command::new(leadorch())
        .args([
            "bench",
            "append",
            "--backend",
            "sqlite",
            "--events",
            "100",
            "--writers",
            "2",
            "--peers",
            "raw-insert",
        ])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("leadorch bench append --backend sqlite: 100 durable"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("contender"), "{stdout}");
    assert!(lines[2].starts_with("leadorch "), "{stdout}");
    assert!(lines[3].starts_with("raw-insert "), "{stdout}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("ratio leadorch/raw-insert = "),
        "{stdout}"
    );
}

#[test]
fn help_and_errors_are_those_of_the_benchmarks_binary() {
    let bench = env!("CARGO_BIN_EXE_leadorch-bench");
    let cases: [&[&str]; 6] = [
        &["--help"],
        &["rules", "--help"],
        &["append", "-h"],
        &[],
        &["no-such-benchmark"],
        &["replay", "--events", "many"],
    ];
    for args in cases {
        let through = Command::new(leadorch())
            .arg("bench")
            .args(args)
            .output()
            .expect("run leadorch");
        let direct = Command::new(bench)
            .args(args)
            .output()
            .expect("run leadorch-bench");
        assert_eq!(text(&through), text(&direct), "leadorch bench {args:?}");
        assert_eq!(through.status.code(), direct.status.code(), "{args:?}");
    }
    // `leadorch help bench …` is `leadorch bench help …`.
    let through = Command::new(leadorch())
        .args(["help", "bench", "rules"])
        .output()
        .expect("run leadorch");
    let direct = Command::new(bench)
        .args(["help", "rules"])
        .output()
        .expect("run leadorch-bench");
    assert_eq!(text(&through), text(&direct), "leadorch help bench rules");
    assert!(through.status.success());
    // The usage lines read as the `leadorch` command line they are reached through.
    let help = Command::new(leadorch())
        .args(["bench", "--help"])
        .output()
        .expect("run leadorch");
    let (stdout, _) = text(&help);
    assert!(
        stdout.contains("Usage: leadorch bench [OPTIONS] <COMMAND>"),
        "{stdout}"
    );
}

#[test]
fn a_missing_benchmarks_binary_is_named_with_how_to_build_it() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let alone = tmp
        .path()
        .join(format!("leadorch{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(leadorch(), &alone).expect("copy leadorch");
    let out = Command::new(&alone)
        .args(["bench", "rules"])
        .output()
        .expect("run the copied leadorch");
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let expected = tmp
        .path()
        .join(format!("leadorch-bench{}", std::env::consts::EXE_SUFFIX));
    assert!(stderr.contains(&expected.display().to_string()), "{stderr}");
    assert!(stderr.contains("`cargo build --release`"), "{stderr}");
}
