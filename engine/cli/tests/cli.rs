//! The `leadorch` binary as a user runs it: seed, list, verify, tamper, replay, export, erase,
//! and clear one-line errors.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{leadorch, ok, readable_lead, stderr, stdout};

fn sqlite_exec(db: &Path, sql: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

#[test]
fn the_cli_tour_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();

    let seeded = ok(home, &["seed", "--events", "2000"]);
    assert!(seeded.starts_with("seeded 2000 events"), "{seeded}");
    assert!(
        home.join("leadorch.db").exists(),
        "default database in LEADORCH_HOME"
    );
    assert!(
        home.join("master.key").exists(),
        "master key created beside it"
    );

    let list = ok(home, &["events", "list", "--limit", "3"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 4, "header + 3: {list}");
    assert!(lines[0].starts_with("POSITION"));

    // JSON lines, personal fields hidden unless asked for.
    let json = ok(
        home,
        &[
            "events",
            "list",
            "--type",
            "LeadReceived",
            "--limit",
            "1",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["type"], "LeadReceived");
    assert!(v["payload"]["LeadReceived"]["email"].is_null(), "{v}");
    // A lead whose subject was not erased by the seed.
    let (subject, email) = readable_lead(home);
    assert!(email.contains("@example.com"));

    let verified = ok(home, &["audit", "verify"]);
    assert!(
        verified.starts_with("chain intact: 2000 events, head "),
        "{verified}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(home, &["audit", "verify", "--json"])).unwrap();
    assert_eq!(v["result"], "intact", "{v}");
    assert_eq!(v["events"], 2000, "{v}");
    assert!(verified.contains(v["head"].as_str().unwrap()), "{v}");

    let replay = ok(home, &["replay"]);
    assert!(
        replay.contains("rebuilt read models from 2000 events"),
        "{replay}"
    );
    let as_of = ok(home, &["replay", "--as-of", "10", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&as_of).unwrap();
    assert_eq!(v["position"], 10);
    assert_eq!(v["events_applied"], 10);

    // Export and erase a real subject.
    let export = ok(home, &["subjects", "export", &subject]);
    assert!(export.contains(&email), "export holds the decrypted email");
    // It is the default project's: another project does not find it, nor erase it.
    for verb in ["export", "erase"] {
        let o = leadorch(home, &["subjects", "--project", "acme", verb, &subject]);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("no data subject {subject:?} in project acme")),
            "{err}"
        );
    }
    let erased = ok(home, &["subjects", "erase", &subject]);
    assert!(
        erased.starts_with(&format!("erased subject {subject}")),
        "{erased}"
    );
    let export = ok(home, &["subjects", "export", &subject]);
    assert!(!export.contains(&email));
    let db_bytes = std::fs::read(home.join("leadorch.db")).unwrap();
    assert!(!db_bytes.windows(email.len()).any(|w| w == email.as_bytes()));
    let verified = ok(home, &["audit", "verify"]);
    assert!(verified.starts_with("chain intact"), "{verified}");

    // Tampering with one byte is found at its position, with exit code 3.
    sqlite_exec(
        &home.join("leadorch.db"),
        "UPDATE events SET payload = CAST(REPLACE(CAST(payload AS TEXT), 'north', 'nort!') AS BLOB) \
         WHERE position = (SELECT MIN(position) FROM events WHERE event_type = 'CapacityRecorded' AND stream_id = 'capacity:north')",
    );
    let o = leadorch(home, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("chain broken at position "),
        "{}",
        stdout(&o)
    );
    let o = leadorch(home, &["audit", "verify", "--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["result"], "broken", "{v}");
    assert!(v["position"].as_u64().is_some_and(|p| p > 0), "{v}");
    assert!(!v["reason"].as_str().unwrap().is_empty(), "{v}");
}

#[test]
fn bad_input_gets_one_clear_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--database-url", "mysql://x", "audit", "verify"],
            "expected a URL starting with sqlite:// or postgres://",
        ),
        (
            &["replay", "--as-of", "yesterday-ish"],
            "is neither a position nor a time",
        ),
        (
            &["subjects", "erase", "no-such-subject"],
            "no data subject \"no-such-subject\"",
        ),
        (&["seed", "--events", "0"], "--events must be at least 1"),
    ];
    for (args, needle) in cases {
        let o = leadorch(home, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    // A password in a URL never reaches the message.
    let o = leadorch(
        home,
        &[
            "--database-url",
            "postgres://u:hunter2@127.0.0.1:1/x",
            "audit",
            "verify",
        ],
    );
    assert!(!o.status.success());
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
}

#[test]
fn a_database_from_a_newer_leadorch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "50"]);
    sqlite_exec(
        &home.join("leadorch.db"),
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999999, 'from the future', TRUE, X'00', 0)",
    );
    let o = leadorch(home, &["events", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("schema version 999999, newer than this leadorch"),
        "{err}"
    );
}

/// `leadorch` with `--database-url URL` and a home that must stay untouched.
fn leadorch_at(home: &Path, url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    leadorch(home, &all)
}

#[test]
fn commands_that_read_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let missing = dir.path().join("nonexistent/dir/x.db");
    let url = format!("sqlite://{}", missing.display());
    let reads: &[&[&str]] = &[
        &["events", "list"],
        &["audit", "verify"],
        &["replay"],
        &["replay", "--as-of", "10"],
        &["explain", "NL Generic"],
        &["rules", "list"],
        &["rules", "dry-run", "some-rule"],
        &[
            "rules",
            "backtest",
            "some-rule",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ],
        &["rules", "disable", "some-rule"],
        &["subjects", "export", "someone"],
        &["google", "list"],
    ];
    for args in reads {
        let o = leadorch_at(&home, &url, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("no database file at {}", missing.display())),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("leadorch init --database-url {url}")),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            !dir.path().join("nonexistent").exists(),
            "{args:?} created the folder"
        );
        assert!(!home.exists(), "{args:?} created the default home");
    }

    // `init` creates it, says so, and reads then work.
    let created = ok(&home, &["--database-url", &url, "init"]);
    let key = dir.path().join("nonexistent/dir/master.key");
    let lines: Vec<&str> = created.lines().collect();
    assert_eq!(lines.len(), 2, "{created}");
    assert!(
        lines[0].starts_with(&format!("created database {url} (schema version ")),
        "{created}"
    );
    assert_eq!(
        lines[1],
        format!(
            "created master key {} (keep a copy apart from the database: without it the \
             personal data in the log cannot be read)",
            key.display()
        )
    );
    assert!(missing.is_file() && key.is_file());
    let list = ok(&home, &["--database-url", &url, "events", "list"]);
    assert!(list.starts_with("POSITION"), "{list}");
    let verified = ok(&home, &["--database-url", &url, "audit", "verify"]);
    assert!(verified.starts_with("chain intact: 0 events"), "{verified}");
    // A second init creates nothing.
    let again = ok(&home, &["--database-url", &url, "init"]);
    assert_eq!(
        again,
        format!(
            "database {url} exists{}\nmaster key {} exists\n",
            &lines[0][format!("created database {url}").len()..],
            key.display()
        )
    );

    // The database without its key: a read neither makes a new key nor goes on.
    std::fs::remove_file(&key).unwrap();
    let o = leadorch_at(&home, &url, &["events", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("no master key file at {}", key.display())),
        "{err}"
    );
    assert!(!key.exists(), "a read created a master key");

    // A file that is not leadorch's database.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let empty_url = format!("sqlite://{}", empty.display());
    let o = leadorch_at(&home, &empty_url, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("holds no leadorch database (no events table)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "nothing written"
    );
    assert!(!home.exists());
}

#[test]
fn a_postgres_database_without_the_schema_is_refused_until_init() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(leadorch_test_support::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let key = home.join("pg.key");
    let key_s = key.to_str().unwrap();
    for args in [
        &["events", "list"][..],
        &["audit", "verify"],
        &["rules", "list"],
    ] {
        let mut all = vec!["--master-key-file", key_s];
        all.extend_from_slice(args);
        let o = leadorch_at(home, &db.url, &all);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.contains("holds no leadorch database (no events table)"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("leadorch init --database-url {}", db.url)),
            "{args:?}: {err}"
        );
        assert!(!key.exists(), "{args:?} created a master key");
    }
    let tables: i64 = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        n
    });
    assert_eq!(tables, 0, "a read applied the schema");

    let created = ok(
        home,
        &[
            "--database-url",
            &db.url,
            "--master-key-file",
            key_s,
            "init",
        ],
    );
    assert!(
        created.starts_with(&format!("created database {} (schema version ", db.url)),
        "{created}"
    );
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
    assert!(verified.starts_with("chain intact: 0 events"), "{verified}");
    rt.block_on(db.cleanup());
}

#[test]
fn a_bad_setting_names_where_it_came_from_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadorch"));
        c.args(args)
            .env("LEADORCH_HOME", home)
            .env_remove("DATABASE_URL")
            .env_remove("LEADORCH_CONFIG");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // A bad value from the environment names the variable that carried it.
    let o = run(
        &[("LEADORCH__POLICY__MIN_DWELL", "abc")],
        &["rules", "dry-run", "some-rule"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(
        err.trim_end(),
        "error: config environment variable LEADORCH__POLICY__MIN_DWELL: policy.min_dwell: \
         \"abc\" is not a duration (like 90s, 15m, 4h, 2d)"
    );
    // The same value in a file names the file.
    let file = home.join("leadorch.toml");
    std::fs::write(&file, "[policy]\nmin_dwell = \"abc\"\n").unwrap();
    let o = run(
        &[],
        &[
            "rules",
            "dry-run",
            "some-rule",
            "--config",
            file.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: config {}: policy.min_dwell",
            file.display()
        )),
        "{err}"
    );
    // A missing file: its OS error once.
    let o = run(
        &[],
        &["rules", "dry-run", "some-rule", "--config", "/nope.toml"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("/nope.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn sqlite_i64(db: &Path, sql: &str) -> i64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    })
}

#[test]
fn a_physically_damaged_database_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "2000"]);
    let db = home.join("leadorch.db");
    sqlite_exec(&db, "PRAGMA wal_checkpoint(TRUNCATE)");
    let page = sqlite_i64(&db, "PRAGMA page_size") as usize;
    // A page of the log's table in the middle of the file.
    let middle = sqlite_i64(
        &db,
        "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' ORDER BY pageno \
         LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM dbstat WHERE name = 'events' AND pagetype = 'leaf')",
    ) as usize;
    let bytes = std::fs::read(&db).unwrap();
    assert!(middle > 2 && middle * page < bytes.len());
    let mut bad_page = bytes.clone();
    bad_page[(middle - 1) * page..middle * page].fill(0xAB);
    let truncated = bytes[..bytes.len() / 2].to_vec();
    let key = home.join("master.key");
    for (name, content) in [("bad-page.db", bad_page), ("truncated.db", truncated)] {
        let file = home.join(name);
        std::fs::write(&file, content).unwrap();
        let url = format!("sqlite://{}", file.display());
        let verify = |extra: &[&str]| {
            let mut args = vec![
                "--database-url",
                &url,
                "--master-key-file",
                key.to_str().unwrap(),
                "audit",
                "verify",
            ];
            args.extend_from_slice(extra);
            leadorch(home, &args)
        };
        let o = verify(&[]);
        assert_eq!(
            o.status.code(),
            Some(3),
            "{name}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(
            stdout(&o),
            format!(
                "database damaged: the database file {} cannot be read (database disk image is \
                 malformed); the log cannot be trusted: restore it from a backup, then verify \
                 the copy with `leadorch audit verify`\n",
                file.display()
            ),
            "{name}"
        );
        let o = verify(&["--json"]);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["result"], "damaged", "{name}: {v}");
        assert_eq!(v["location"], file.display().to_string(), "{name}: {v}");
        assert_eq!(
            v["reason"], "database disk image is malformed",
            "{name}: {v}"
        );
    }
}

#[test]
fn log_lines_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "50"]);
    // Standard error is a pipe here, as when it is redirected to a file.
    let o = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["events", "list", "--limit", "1"])
        .env("LEADORCH_HOME", home)
        .env("LEADORCH_LOG", "debug")
        .env_remove("DATABASE_URL")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(err.contains(" DEBUG "), "log lines were written: {err}");
    assert!(
        !err.contains("\x1b["),
        "ANSI colour codes in the log: {err}"
    );
}
