//! `leadorch-bench append`, `ingest` and `rules` (what `leadorch bench …` runs) end to end on
//! tiny workloads: the table and, last, the ratio lines. No timing is asserted.

use std::process::Command;

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
        assert!(value.parse::<f64>().unwrap() > 0.0, "{line}");
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
    for (i, name) in ["leadorch ", "ceiling ", "peer ", "events-only "]
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
        lines[header + 5].starts_with("ceiling, mean time per lead in each step"),
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
        assert!(value.parse::<f64>().unwrap() > 0.0, "{line}");
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
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("ratio leadorch/rhai-serde = ")),
        "{stdout}"
    );
}
