//! Durability under `kill -9`: a child process appends in a loop and prints each event id once
//! its append is acknowledged; it is killed at random moments, many times. Afterwards every
//! acknowledged event is in the log exactly once, positions have no gaps, and the chain holds.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadorch_store::{Db, Dialect, MasterKey, RetentionPolicy, Store, Verification};
use leadorch_test_support::TestDb;
use rand::Rng;

fn crash_rounds(url: &str, home: &std::path::Path, rounds: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    let mut acked = Vec::new();
    for _ in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
            .args(["debug-append-loop", "--stream", "debug:crash"])
            .env("DATABASE_URL", url)
            .env("LEADORCH_HOME", home)
            .env_remove("LEADORCH_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn leadorch");
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    // Only a whole line is an acknowledgement.
                    Ok(_) if buf.ends_with(b"\n") => sink
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned()),
                    Ok(_) => break,
                }
            }
        });
        // Killed at a random moment once it is appending (not a fixed time after the start:
        // on a busy machine the start alone can take longer). The wait is a safety net.
        let spawned = std::time::Instant::now();
        while lines.lock().unwrap().is_empty() {
            assert!(
                spawned.elapsed() < Duration::from_secs(120),
                "the child acknowledged no append in 120 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..450)));
        child.kill().expect("SIGKILL"); // kill -9
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(lines.lock().unwrap().drain(..));
    }
    acked
}

async fn check(url: &str, acked: &[String]) {
    let store = Store::with_master_key(
        Db::connect(url).await.unwrap(),
        MasterKey::random(),
        RetentionPolicy::default(),
    )
    .await
    .unwrap();
    let events = store.log.read_stream("debug:crash").await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *seen.entry(e.event_id.to_string()).or_default() += 1;
    }
    assert!(seen.values().all(|&n| n == 1), "an event is stored twice");
    for id in acked {
        assert_eq!(seen.get(id), Some(&1), "acknowledged event {id} is missing");
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "gap in positions");
        assert_eq!(e.stream_version, i as u64 + 1);
    }
    match store.log.verify(|_| {}).await.unwrap() {
        Verification::Intact { count, .. } => assert_eq!(count, events.len() as u64),
        broken => panic!("{broken:?}"),
    }
    store.db().close().await;
}

fn run(dialect: Dialect, rounds: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt.block_on(TestDb::new(dialect));
    let home = tempfile::tempdir().unwrap();
    let acked = crash_rounds(&t.url, home.path(), rounds);
    assert!(
        acked.len() > rounds,
        "the child acknowledged too few appends ({})",
        acked.len()
    );
    rt.block_on(check(&t.url, &acked));
    rt.block_on(t.cleanup());
}

#[test]
fn acknowledged_appends_survive_kill_9_on_sqlite() {
    run(Dialect::Sqlite, 25);
}

#[test]
fn acknowledged_appends_survive_kill_9_on_postgres() {
    run(Dialect::Postgres, 12);
}
