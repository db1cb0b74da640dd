//! `leadorch-bench append`, `ingest`, `rules`, `react` and `agency` (what `leadorch bench …`
//! runs) end to end on tiny workloads: the table and, last, the ratio lines (`react` and
//! `agency`: their goal lines). No timing is asserted.

use std::process::Command;

/// `leadorch-bench ARGS` with its databases in a temporary folder, from the repository root:
/// its standard output, once it has exited successfully.
fn bench(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_MASTER_KEY")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

#[test]
fn bench_append_prints_the_table_and_the_ratio_lines_last() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args([
            "append",
            "--backend",
            "sqlite",
            "--events",
            "200",
            "--writers",
            "4",
        ])
        // The bench's own databases go in a temporary folder: keep them in ours.
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("contender"))
        .unwrap_or_else(|| panic!("no table header in:\n{stdout}"));
    for column in [
        "events", "writers", "seconds", "events/s", "p50 ms", "p99 ms", "notes",
    ] {
        assert!(lines[header].contains(column), "header: {}", lines[header]);
    }
    for (i, name) in [
        "leadorch",
        "sqlite-es",
        "raw-insert",
        "raw-batch ",
        "raw-batch-1000",
    ]
    .iter()
    .enumerate()
    {
        let row = lines[header + 1 + i];
        assert!(row.starts_with(name), "row {i}: {row}");
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields[1], "200", "events in {row}");
    }

    let n = lines.len();
    assert!(n >= 4, "{stdout}");
    for (line, peer) in
        lines[n - 4..]
            .iter()
            .zip(["sqlite-es", "raw-insert", "raw-batch", "raw-batch-1000"])
    {
        let prefix = format!("ratio leadorch/{peer} = ");
        let value = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}…, found {line:?}"));
        let (int, frac) = value.split_once('.').expect("X.XX");
        assert!(int.parse::<u64>().is_ok() && frac.len() == 2, "{line}");
        // Any size: on a busy machine a two-decimal ratio can round to 0.00, and how fast
        // this run was is the benchmark's business, not the test's.
        let ratio = value.parse::<f64>().unwrap();
        assert!(ratio.is_finite() && ratio >= 0.0, "{line}");
    }
    // The ceiling for 4 waiting writers is a 4-row batch.
    let ceiling = lines[header + 4];
    assert!(
        ceiling.contains("4-row INSERT per transaction"),
        "{ceiling}"
    );

    // The temporary folder of the bench is gone.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read temporary folder")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `leadorch-bench ingest` end to end on a tiny SQLite workload: every side records every lead
/// (the bench checks the log and the peer's table itself, and fails otherwise), the table has a
/// row per side, the ceiling's steps are timed, and the two ratio lines come last.
#[test]
fn bench_ingest_prints_the_table_and_the_ratio_lines_last() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args([
            "ingest",
            "--backend",
            "sqlite",
            "--leads",
            "30",
            "--connections",
            "4",
        ])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("leadorch bench ingest --backend sqlite: 30 distinct valid leads"),
        "{stdout}"
    );
    let header = lines
        .iter()
        .position(|l| l.starts_with("contender"))
        .unwrap_or_else(|| panic!("no table header in:\n{stdout}"));
    for column in [
        "leads", "clients", "seconds", "leads/s", "p50 ms", "p99 ms", "notes",
    ] {
        assert!(lines[header].contains(column), "header: {}", lines[header]);
    }
    for (i, name) in ["leadorch ", "ceiling ", "peer ", "events-only ", "floor "]
        .iter()
        .enumerate()
    {
        let row = lines[header + 1 + i];
        assert!(row.starts_with(name), "row {i}: {row}");
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields[1], "30", "leads in {row}");
        assert_eq!(fields[2], "4", "clients in {row}");
    }
    assert!(
        lines[header + 6].starts_with("ceiling, mean time per lead in each step"),
        "{stdout}"
    );

    let n = lines.len();
    for (line, side) in lines[n - 2..].iter().zip(["ceiling", "peer"]) {
        let prefix = format!("ratio leadorch/{side} = ");
        let value = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}…, found {line:?}"));
        let (int, frac) = value.split_once('.').expect("X.XX");
        assert!(int.parse::<u64>().is_ok() && frac.len() == 2, "{line}");
        // Any size: on a busy machine a two-decimal ratio can round to 0.00, and how fast
        // this run was is the benchmark's business, not the test's.
        let ratio = value.parse::<f64>().unwrap();
        assert!(ratio.is_finite() && ratio >= 0.0, "{line}");
    }

    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read temporary folder")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `leadorch-bench rules` end to end on a tiny workload: the ticks agree with the peer and the
/// running daemon acts on every capacity event (the demo world's campaigns, as the daemon
/// sees them on a simulated database).
#[test]
fn bench_rules_runs_the_tick_and_the_daemon_acts_on_every_event() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let rules_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args([
            "rules",
            "--campaigns",
            "40",
            "--rules",
            "4",
            "--ticks",
            "2",
            "--events",
            "4",
            "--rules-dir",
            rules_dir,
            "--large-campaigns",
            "120",
        ])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("reaction latency over 4 capacity events"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("reaction latency (append acknowledged -> adapter apply): p50 ")),
        "{stdout}"
    );
    for line in [
        "incremental tick, 5 % of campaigns changed (kept results reused, 2 threads): p50 ",
        "full tick, 120 campaigns x 4 rules: leadorch p50 ",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "{line}: {stdout}"
        );
    }
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("ratio leadorch/rhai-serde = ")),
        "{stdout}"
    );
}

/// `leadorch-bench react` end to end on a tiny SQLite run: four capacity pushes over HTTP,
/// each acted on by the daemon (all example rules) at the in-process fake Google, with 58
/// more campaigns in two more teams over three customers (the bench checks one mutate per
/// push, applied and recorded, none to another campaign, and fails otherwise); the latency
/// lines and, last, the goal line. No timing is asserted: the goal may be met or missed.
#[test]
fn bench_react_pushes_capacity_and_google_gets_every_change() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let rules_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args([
            "react",
            "--backend",
            "sqlite",
            "--events",
            "4",
            "--interval-ms",
            "100",
            "--campaigns",
            "60",
            "--campaigns-per-customer",
            "25",
            "--rules-dir",
            rules_dir,
        ])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("leadorch bench react --backend sqlite: 4 capacity pushes over HTTP"),
        "{stdout}"
    );
    for prefix in [
        "database: ",
        "api: ",
        "daemon: ",
        "google: ",
        "push -> POST answered 201: p50 ",
        "push -> first request at Google (",
        "push -> Google mutate received: p50 ",
        "campaigns: 60 in 3 customer(s) of at most 25 (2 teams of 50 besides sales-nl",
        "rule runs failed or stopped while the pushes ran: ",
        "push -> the daemon's step reported applied: p50 ",
        "where the time goes (p50 / p99 of each part): POST -> 201 ",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "no line starting {prefix:?} in:\n{stdout}"
        );
    }
    let goal = lines.last().expect("output");
    let rest = goal
        .strip_prefix("goal capacity push -> Google mutate p99 <= 250 ms: ")
        .unwrap_or_else(|| panic!("the last line is not the goal line: {goal:?}"));
    let (verdict, figure) = rest.split_once(" (p99 ").expect("verdict (p99 X ms …)");
    assert!(verdict == "met" || verdict == "missed", "{goal}");
    let (ms, tail) = figure.split_once(" ms over ").expect("X ms over N pushes");
    assert!(ms.parse::<f64>().is_ok_and(|v| v > 0.0), "{goal}");
    assert_eq!(tail, "4 pushes)", "{goal}");

    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read temporary folder")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `leadorch-bench scrub` end to end on a tiny SQLite log: every visited moment's view from
/// kept views equals the full fold's (the bench fails otherwise), and the ratio line comes
/// last. No timing is asserted.
#[test]
fn bench_scrub_visits_every_moment_and_prints_the_ratio_last() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args(["scrub", "--events", "3000", "--moments", "5"])
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // Five moments backwards, then every other one forwards again.
    assert_eq!(stderr.matches("  moment ").count(), 8, "{stderr}");
    assert!(stdout.contains("over all 8 visits"), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("ratio leadorch/full-fold = ")),
        "{stdout}"
    );
}

/// `bench daemon` on a small seeded log: the first start folds the log, the second starts
/// from the view the first kept (the bench fails otherwise), the simulated minutes run, and the
/// ratio line comes last. Needs the `leadorch` binary beside `leadorch-bench`, as `leadorch
/// bench` does (cargo builds it for the workspace's tests). No timing or memory is asserted.
#[test]
fn bench_daemon_starts_from_the_kept_view_and_reports_memory_and_the_ratio_last() {
    let stdout = bench(&["daemon", "--events", "3000", "--minutes", "3"]);
    assert!(
        stdout.contains("fold from the log (peer)")
            && stdout.contains("facts folded from the log's"),
        "{stdout}"
    );
    assert!(
        stdout.contains("facts from the kept view at position"),
        "{stdout}"
    );
    assert!(
        stdout.contains("memory over 3 simulated minutes (steps 4,"),
        "{stdout}"
    );
    assert!(stdout.contains("goals: start <= 2 s: "), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("ratio leadorch/fold-from-the-log = ")),
        "{stdout}"
    );
}

/// `leadorch-bench agency` end to end on a tiny PostgreSQL run (`LEADORCH_TEST_POSTGRES_URL`,
/// which `tests/run` sets): two client customers under one manager account, two simulated
/// periods; the table and, last, the two goal lines. No timing is asserted.
#[test]
fn bench_agency_steps_the_periods_and_prints_the_goal_lines_last() {
    let Ok(url) = std::env::var("LEADORCH_TEST_POSTGRES_URL") else {
        eprintln!("LEADORCH_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let rules_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
    let out = Command::new(env!("CARGO_BIN_EXE_leadorch-bench"))
        .args([
            "agency",
            "--customers",
            "2",
            "--campaigns",
            "20",
            "--periods",
            "2",
            "--rules-dir",
            rules_dir,
            "--postgres-url",
            &url,
        ])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadorch-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("leadorch bench agency: 2 client customers x 20 campaigns"),
        "{stdout}"
    );
    for prefix in ["| 1 | ", "| 2 | ", "requests to Google: ", "peer: none"] {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "no line starting {prefix:?} in:\n{stdout}"
        );
    }
    let n = lines.len();
    assert!(
        lines[n - 2].starts_with("goal 2 customers x 20 campaigns within each 5-minute period: "),
        "{stdout}"
    );
    assert!(
        lines[n - 1].starts_with("goal per-customer rate limit respected: "),
        "{stdout}"
    );
}
