//! The event log on both backends: ordering, concurrency, idempotency, tamper detection,
//! upgrade refusal, subscriptions, sealed personal fields.

use std::collections::HashSet;
use std::time::Duration;

use cqrs_es::DomainEvent;
use leadorch_domain::personal::{KeyPurpose, PersonalData, PersonalField};
use leadorch_store::{
    CatchUp, Db, Dialect, EventFilter, ExpectedVersion, MasterKey, Metadata, NewEvent,
    RetentionPolicy, Reveal, Store, StoreError, Verification, WriteTx,
};
use leadorch_test_support::{TestDb, BOTH};
use serde::{Deserialize, Serialize};

async fn open(t: &TestDb) -> Store {
    let db = Db::connect(&t.url).await.expect("connect");
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store")
}

fn ev(n: u32) -> NewEvent {
    NewEvent::new(
        "Tested",
        "1.0",
        format!("{{\"n\":{n}}}").into_bytes(),
        &Metadata::actor("test"),
    )
}

async fn verify(store: &Store) -> Verification {
    store.log.verify(|_| {}).await.expect("verify runs")
}

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = TestDb>,
{
    for d in BOTH {
        let t = TestDb::new(d).await;
        let t = f(t).await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn appends_get_gap_free_positions_and_stream_versions() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let a = s
            .log
            .append("lead:a", ExpectedVersion::NoStream, vec![ev(1), ev(2)])
            .await
            .unwrap();
        assert_eq!(
            (a.first_position, a.last_position, a.stream_version),
            (1, 2, 2)
        );
        let b = s
            .log
            .append("lead:b", ExpectedVersion::Exact(0), vec![ev(3)])
            .await
            .unwrap();
        assert_eq!((b.first_position, b.stream_version), (3, 1));
        let c = s
            .log
            .append("lead:a", ExpectedVersion::Exact(2), vec![ev(4)])
            .await
            .unwrap();
        assert_eq!((c.first_position, c.stream_version), (4, 3));

        let all = s.log.read_after(0, 100).await.unwrap();
        let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
        assert_eq!(positions, vec![1, 2, 3, 4]);
        let stream = s.log.read_stream("lead:a").await.unwrap();
        let versions: Vec<u64> = stream.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, vec![1, 2, 3]);
        assert_eq!(stream[2].payload, b"{\"n\":4}");
        assert!(all.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
        assert_eq!(all[1].prev_hash, all[0].hash);
        assert_eq!(s.log.stream_version("lead:a").await.unwrap(), 3);

        let by_type = s
            .log
            .list(&EventFilter {
                stream: Some("lead:b".into()),
                event_type: Some("Tested".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_type.len(), 1);
        assert!(matches!(
            verify(&s).await,
            Verification::Intact { count: 4, .. }
        ));
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing() {
    each_backend(|t| async move {
        let s = open(&t).await;
        s.log
            .append("campaign:1", ExpectedVersion::NoStream, vec![ev(1)])
            .await
            .unwrap();
        let err = s
            .log
            .append("campaign:1", ExpectedVersion::Exact(0), vec![ev(2)])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { actual: 1, .. }),
            "{err:?}"
        );
        assert!(err.is_retryable());
        let err = s
            .log
            .append("campaign:1", ExpectedVersion::NoStream, vec![ev(3)])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }));
        assert_eq!(s.log.head().await.unwrap().position, 1);
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn racing_writers_on_one_stream_exactly_one_wins_each_version() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let mut tasks = Vec::new();
        for i in 0..32 {
            let log = s.log.clone();
            tasks.push(tokio::spawn(async move {
                log.append("capacity:team", ExpectedVersion::Exact(0), vec![ev(i)])
                    .await
            }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Conflict { .. }) => conflicts += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!((ok, conflicts), (1, 31));
        assert_eq!(s.log.head().await.unwrap().position, 1);
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn many_concurrent_writers_are_group_committed_without_gaps() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let writers = 64;
        let per = 20;
        let mut tasks = Vec::new();
        for w in 0..writers {
            let log = s.log.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..per {
                    let e = ev(w * 1000 + i);
                    ids.push(e.event_id);
                    log.append(&format!("lead:{w}"), ExpectedVersion::Any, vec![e])
                        .await
                        .unwrap();
                }
                ids
            }));
        }
        let mut acked = HashSet::new();
        for task in tasks {
            acked.extend(task.await.unwrap());
        }
        let all = s.log.read_after(0, 100_000).await.unwrap();
        assert_eq!(all.len(), (writers * per) as usize);
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.position, i as u64 + 1);
        }
        let stored: HashSet<_> = all.iter().map(|e| e.event_id).collect();
        assert_eq!(stored, acked);
        assert!(matches!(verify(&s).await, Verification::Intact { count, .. } if count == (writers * per) as u64));
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn enqueued_appends_take_positions_in_the_order_they_were_enqueued() {
    each_backend(|t| async move {
        let s = open(&t).await;
        // More appends than one group holds, so several commits are involved; the outcomes
        // are awaited last-first, and one append in the middle is refused.
        let mut queued = Vec::new();
        for i in 0..2500u32 {
            let expected = if i == 300 {
                ExpectedVersion::Exact(7)
            } else {
                ExpectedVersion::Exact(0)
            };
            let q = s
                .log
                .enqueue(&format!("lead:{i}"), expected, vec![ev(i), ev(i)])
                .await
                .unwrap();
            queued.push((i, q));
        }
        let mut outcomes = Vec::new();
        while let Some((i, q)) = queued.pop() {
            outcomes.push((i, q.outcome().await));
        }
        outcomes.reverse();
        let mut next = 1;
        for (i, r) in outcomes {
            if i == 300 {
                assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
                continue;
            }
            let a = r.unwrap();
            assert_eq!(
                (a.first_position, a.last_position),
                (next, next + 1),
                "append {i}"
            );
            next += 2;
        }
        let all = s.log.read_after(0, 10_000).await.unwrap();
        assert_eq!(all.len(), 4998);
        assert!(matches!(
            verify(&s).await,
            Verification::Intact { count: 4998, .. }
        ));
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn a_retried_append_is_idempotent() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let batch = vec![ev(1), ev(2)];
        let first = s
            .log
            .append("lead:x", ExpectedVersion::NoStream, batch.clone())
            .await
            .unwrap();
        // The caller did not see the answer and retries with the same events.
        let again = s
            .log
            .append("lead:x", ExpectedVersion::NoStream, batch.clone())
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(s.log.head().await.unwrap().position, 2);
        // The same ids in another stream are refused.
        let err = s
            .log
            .append("lead:y", ExpectedVersion::Any, batch)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyMismatch { .. }),
            "{err:?}"
        );
        // Two copies of one id in one append are refused.
        let e = ev(9);
        let err = s
            .log
            .append("lead:z", ExpectedVersion::Any, vec![e.clone(), e])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidAppend(_)), "{err:?}");
        s.db().close().await;
        t
    })
    .await;
}

async fn tamper(db: &Db, sql: &str) {
    match db {
        Db::Sqlite { pool, .. } => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        Db::Postgres { pool, .. } => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
}

async fn seeded(t: &TestDb, n: u32) -> Store {
    let s = open(t).await;
    for i in 0..n {
        s.log
            .append(
                &format!("lead:{}", i % 3),
                ExpectedVersion::Any,
                vec![ev(i)],
            )
            .await
            .unwrap();
    }
    s
}

#[tokio::test]
async fn changing_any_stored_byte_is_detected_at_its_position() {
    let cases: &[(&str, u64)] = &[
        // One byte of a payload.
        ("UPDATE events SET payload = $$X$$ WHERE position = 4", 4),
        // The event type.
        (
            "UPDATE events SET event_type = 'Forged' WHERE position = 2",
            2,
        ),
        // Metadata.
        (
            "UPDATE events SET metadata = $${\"actor\":\"mallory\"}$$ WHERE position = 5",
            5,
        ),
        // Time.
        (
            "UPDATE events SET recorded_at = recorded_at + 1 WHERE position = 3",
            3,
        ),
        // A row removed from the middle.
        ("DELETE FROM events WHERE position = 6", 6),
        // The tail cut off.
        ("DELETE FROM events WHERE position >= 7", 7),
        // The head moved back: events stored beyond a head that does not cover them.
        (
            "UPDATE log_head SET position = 6, hash = (SELECT hash FROM events WHERE position = 6)",
            7,
        ),
    ];
    for d in BOTH {
        for (sql, bad) in cases {
            let t = TestDb::new(d).await;
            let s = seeded(&t, 8).await;
            assert!(matches!(
                verify(&s).await,
                Verification::Intact { count: 8, .. }
            ));
            let sql = match d {
                // SQLite has no dollar quoting; blobs compare as bytes either way.
                Dialect::Sqlite => sql.replace("payload = $$X$$", "payload = X'58'").replace(
                    "metadata = $${\"actor\":\"mallory\"}$$",
                    "metadata = CAST('{\"actor\":\"mallory\"}' AS BLOB)",
                ),
                Dialect::Postgres => sql
                    .replace("payload = $$X$$", "payload = 'X'::bytea")
                    .replace(
                        "metadata = $${\"actor\":\"mallory\"}$$",
                        "metadata = convert_to('{\"actor\":\"mallory\"}', 'UTF8')",
                    ),
            };
            tamper(s.db(), &sql).await;
            match verify(&s).await {
                Verification::Broken { position, .. } => {
                    assert_eq!(position, *bad, "{d:?}: {sql}")
                }
                other => panic!("{d:?}: {sql} not detected: {other:?}"),
            }
            s.db().close().await;
            t.cleanup().await;
        }
    }
}

/// `audit verify` while a daemon and the API keep appending: the chain checked up to the head
/// it read first, then on to each newer head; never a break that is only a commit landing
/// between reading the events and reading the head.
#[tokio::test]
async fn verifying_while_others_append_finds_the_chain_intact() {
    each_backend(|t| async move {
        let s = seeded(&t, 20).await;
        let writer = {
            let log = s.log.clone();
            tokio::spawn(async move {
                for i in 0..300u32 {
                    log.append(
                        &format!("lead:w{}", i % 7),
                        ExpectedVersion::Any,
                        vec![ev(i)],
                    )
                    .await
                    .unwrap();
                }
            })
        };
        let mut checks = 0;
        while !writer.is_finished() {
            match verify(&s).await {
                Verification::Intact { count, .. } => assert!(count >= 20),
                broken => panic!("{:?}: a concurrent append read as {broken:?}", t.dialect),
            }
            checks += 1;
        }
        writer.await.unwrap();
        assert!(matches!(
            verify(&s).await,
            Verification::Intact { count: 320, .. }
        ));
        assert!(checks > 0);
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_with_a_clear_message() {
    each_backend(|t| async move {
        let s = open(&t).await;
        tamper(
            s.db(),
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (999999, 'from the future', TRUE, X'00', 0)"
                .replace(
                    "X'00'",
                    if t.dialect == Dialect::Postgres { "'\\x00'::bytea" } else { "X'00'" },
                )
                .as_str(),
        )
        .await;
        s.db().close().await;
        let err = Db::connect(&t.url).await.unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { found: 999999, .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("newer than this leadorch"), "{msg}");
        assert!(msg.contains("upgrade leadorch"), "{msg}");
        t
    })
    .await;
}

#[tokio::test]
async fn catch_up_wakes_on_new_events_and_checkpoints_commit_with_the_read_model() {
    each_backend(|t| async move {
        let s = open(&t).await;
        s.log
            .append("lead:1", ExpectedVersion::Any, vec![ev(1)])
            .await
            .unwrap();
        let mut sub = CatchUp::new(&s.log, 0, 10).poll_every(Duration::from_secs(30));
        assert_eq!(sub.next().await.unwrap().len(), 1);
        let log = s.log.clone();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            log.append("lead:1", ExpectedVersion::Any, vec![ev(2)])
                .await
                .unwrap();
        });
        // Woken by the writer's notification, long before the 30 s poll.
        let page = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("woken by notification")
            .unwrap();
        assert_eq!(page[0].position, 2);
        writer.await.unwrap();

        let mut tx = WriteTx::begin(s.db()).await.unwrap();
        tx.put("counts", "lead:1", b"2").await.unwrap();
        tx.set_checkpoint("counts", 2).await.unwrap();
        drop(tx); // rolled back: neither the document nor the checkpoint
        assert_eq!(s.db().checkpoint("counts").await.unwrap(), 0);
        assert_eq!(s.db().doc("counts", "lead:1").await.unwrap(), None);
        let mut tx = WriteTx::begin(s.db()).await.unwrap();
        tx.put("counts", "lead:1", b"2").await.unwrap();
        tx.set_checkpoint("counts", 2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.db().checkpoint("counts").await.unwrap(), 2);
        assert_eq!(
            s.db().doc("counts", "lead:1").await.unwrap(),
            Some(b"2".to_vec())
        );
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn postgres_notifies_other_processes_of_new_events() {
    let t = TestDb::postgres().await;
    let writer = open(&t).await;
    // A second store on the same database stands in for another process.
    let reader = open(&t).await;
    let mut sub = CatchUp::new(&reader.log, 0, 10).poll_every(Duration::from_secs(60));
    let log = writer.log.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        log.append("lead:n", ExpectedVersion::Any, vec![ev(1)])
            .await
            .unwrap();
    });
    let page = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("LISTEN/NOTIFY woke the other store")
        .unwrap();
    assert_eq!(page.len(), 1);
    writer.db().close().await;
    reader.db().close().await;
    t.cleanup().await;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Sample {
    Received {
        subject: String,
        email: Option<String>,
        team: String,
    },
}

impl DomainEvent for Sample {
    fn event_type(&self) -> String {
        "Received".into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl PersonalData for Sample {
    fn data_subject(&self) -> Option<&str> {
        match self {
            Sample::Received { subject, .. } => Some(subject),
        }
    }
    fn personal_fields(&self) -> &'static [PersonalField] {
        &[PersonalField {
            pointer: "/Received/email",
            purpose: KeyPurpose::Contact,
        }]
    }
}

#[tokio::test]
async fn personal_fields_are_sealed_and_unreadable_once_the_key_is_destroyed() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let now = chrono::Utc::now();
        let e = Sample::Received {
            subject: "subj-1".into(),
            email: Some("ada@example.com".into()),
            team: "north".into(),
        };
        let stored = s
            .codec
            .encode(&e, &Metadata::actor("t"), now)
            .await
            .unwrap();
        let text = String::from_utf8(stored.payload.clone()).unwrap();
        assert!(!text.contains("ada@example.com"), "{text}");
        assert!(
            text.contains("north"),
            "non-personal fields stay readable: {text}"
        );
        s.log
            .append("lead:p", ExpectedVersion::Any, vec![stored])
            .await
            .unwrap();
        let rec = s.log.read_stream("lead:p").await.unwrap().remove(0);

        let open_payload = s
            .codec
            .decoder(Reveal::Decrypt)
            .payload(&rec)
            .await
            .unwrap();
        let back: Sample = serde_json::from_value(open_payload).unwrap();
        assert_eq!(back, e);
        let redacted = s.codec.decoder(Reveal::Redact).payload(&rec).await.unwrap();
        assert_eq!(
            redacted.pointer("/Received/email"),
            Some(&serde_json::Value::Null)
        );

        // The ciphertext cannot be moved to another event.
        let mut moved = rec.clone();
        moved.event_id = uuid::Uuid::now_v7();
        assert!(s
            .codec
            .decoder(Reveal::Decrypt)
            .payload(&moved)
            .await
            .is_err());

        let destroyed = s.codec.keys().destroy("subj-1", None).await.unwrap();
        assert_eq!(destroyed, vec![KeyPurpose::Contact]);
        let after = s
            .codec
            .decoder(Reveal::Decrypt)
            .payload(&rec)
            .await
            .unwrap();
        assert_eq!(
            after.pointer("/Received/email"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(
            after.pointer("/Received/team").and_then(|v| v.as_str()),
            Some("north")
        );
        assert!(matches!(
            verify(&s).await,
            Verification::Intact { count: 1, .. }
        ));
        s.db().close().await;
        t
    })
    .await;
}

/// A subject whose key was destroyed can get a new key (a Google account connected again
/// after it was forgotten): fields sealed by the old key then read as gone, not as an
/// authentication failure, while fields sealed by the new key open, and tampering with a
/// field's ciphertext is still an error.
#[tokio::test]
async fn fields_sealed_by_a_destroyed_key_stay_gone_when_the_subject_gets_a_new_key() {
    let t = TestDb::sqlite();
    let s = open(&t).await;
    let now = chrono::Utc::now();
    let event = |email: &str| Sample::Received {
        subject: "subj-2".into(),
        email: Some(email.into()),
        team: "north".into(),
    };
    let old = s
        .codec
        .encode(&event("old@example.com"), &Metadata::actor("t"), now)
        .await
        .unwrap();
    s.log
        .append("lead:q", ExpectedVersion::Any, vec![old])
        .await
        .unwrap();
    s.codec.keys().destroy("subj-2", None).await.unwrap();
    let new = s
        .codec
        .encode(&event("new@example.com"), &Metadata::actor("t"), now)
        .await
        .unwrap();
    s.log
        .append("lead:q", ExpectedVersion::Any, vec![new])
        .await
        .unwrap();
    let recs = s.log.read_stream("lead:q").await.unwrap();
    let mut d = s.codec.decoder(Reveal::Decrypt);
    let first = d
        .payload(&recs[0])
        .await
        .expect("an old field reads as gone");
    assert_eq!(
        first.pointer("/Received/email"),
        Some(&serde_json::Value::Null)
    );
    let second = d.payload(&recs[1]).await.unwrap();
    assert_eq!(
        second.pointer("/Received/email").and_then(|v| v.as_str()),
        Some("new@example.com")
    );
    // A changed ciphertext under the current key is still refused.
    let mut tampered = recs[1].clone();
    let text = String::from_utf8(tampered.payload.clone()).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let enc = value["Received"]["email"]["$enc"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if enc.starts_with('A') { "B" } else { "A" };
    value["Received"]["email"]["$enc"] = serde_json::json!(format!("{flipped}{}", &enc[1..]));
    tampered.payload = serde_json::to_vec(&value).unwrap();
    assert!(d.payload(&tampered).await.is_err());
    s.db().close().await;
}

#[tokio::test]
async fn keys_expire_by_retention_window_and_each_use_extends_them() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let keys = s.codec.keys();
        let day = 86_400_000_000i64;
        keys.key_for_write("a", KeyPurpose::Contact, 0, Some(30 * day))
            .await
            .unwrap();
        keys.key_for_write("b", KeyPurpose::Contact, 0, Some(30 * day))
            .await
            .unwrap();
        // b is active again on day 20: its window now ends on day 50.
        keys.key_for_write("b", KeyPurpose::Contact, 20 * day, Some(50 * day))
            .await
            .unwrap();
        // An earlier deadline never shortens a window.
        keys.key_for_write("b", KeyPurpose::Contact, 21 * day, Some(10 * day))
            .await
            .unwrap();
        let due = keys.expired(31 * day).await.unwrap();
        assert_eq!(due, vec![("a".to_string(), KeyPurpose::Contact)]);
        assert_eq!(keys.expired(51 * day).await.unwrap().len(), 2);
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn sqlite_written_by_another_process_is_found_by_polling() {
    let t = TestDb::sqlite();
    let writer = open(&t).await;
    // A second store on the same file stands in for another process: no shared notification.
    let reader = open(&t).await;
    let mut sub = CatchUp::new(&reader.log, 0, 10).poll_every(Duration::from_millis(100));
    writer
        .log
        .append("lead:p", ExpectedVersion::Any, vec![ev(1)])
        .await
        .unwrap();
    let page = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("found by polling")
        .unwrap();
    assert_eq!(page[0].position, 1);
    writer.db().close().await;
    reader.db().close().await;
}

#[tokio::test]
async fn bulk_page_streaming_reads_everything_in_order_on_both_backends() {
    each_backend(|t| async move {
        let s = seeded(&t, 57).await;
        let mut pages = s.log.stream_pages(5, Some(50), 10);
        let mut got = Vec::new();
        while let Some(p) = pages.recv().await {
            let p = p.unwrap();
            assert!(p.len() <= 10);
            got.extend(p.into_iter().map(|e| e.position));
        }
        assert_eq!(got, (6..=50).collect::<Vec<u64>>());
        let mut all = s.log.stream_pages(0, None, 1000);
        let p = all.recv().await.unwrap().unwrap();
        assert_eq!(p.len(), 57);
        assert!(all.recv().await.is_none());
        // Mapped on a thread of its own: every event once, in order, with its own result.
        let mut mapped = s
            .log
            .stream_pages_mapped(10, Some(40), 7, |e| e.position * 2);
        let mut got = Vec::new();
        while let Some(p) = mapped.recv().await {
            let p = p.unwrap();
            assert!(p.len() <= 7);
            assert_eq!(p.events.len(), p.mapped.len());
            got.extend(p.events.iter().map(|e| e.position).zip(p.mapped));
        }
        assert_eq!(got, (11..=40).map(|p| (p, p * 2)).collect::<Vec<_>>());
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn two_writers_on_one_database_never_reuse_a_stream_version() {
    each_backend(|t| async move {
        // Two stores on one database stand in for two processes, each with its own writer.
        let a = open(&t).await;
        let b = open(&t).await;
        for i in 0..10 {
            let (w, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            w.log
                .append("capacity:shared", ExpectedVersion::Any, vec![ev(i)])
                .await
                .unwrap();
            // The other writer's view of the stream is now stale; it must notice.
            let v = other.log.stream_version("capacity:shared").await.unwrap();
            assert_eq!(v, i as u64 + 1);
        }
        let err = a
            .log
            .append("capacity:shared", ExpectedVersion::Exact(3), vec![ev(99)])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { actual: 10, .. }),
            "{err:?}"
        );
        let events = a.log.read_stream("capacity:shared").await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=10).collect::<Vec<u64>>());
        assert!(matches!(
            verify(&a).await,
            Verification::Intact { count: 10, .. }
        ));
        a.db().close().await;
        b.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn a_rebuild_writer_replaces_tables_atomically() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let rows = |n: u32| -> Vec<(String, Vec<u8>)> {
            (0..n)
                .map(|i| (format!("k{i:05}"), format!("{i}").into_bytes()))
                .collect()
        };
        let w = s.db().read_model_writer();
        w.table("alpha", rows(1200)).await.unwrap();
        w.table("beta", rows(3)).await.unwrap();
        w.commit("rebuild", 42).await.unwrap();
        assert_eq!(s.db().docs("alpha").await.unwrap().len(), 1200);
        assert_eq!(s.db().checkpoint("rebuild").await.unwrap(), 42);

        // A rebuild that gives up before committing changes nothing.
        let w = s.db().read_model_writer();
        w.table("alpha", rows(1)).await.unwrap();
        drop(w);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(s.db().docs("alpha").await.unwrap().len(), 1200);
        assert_eq!(s.db().checkpoint("rebuild").await.unwrap(), 42);

        // A later rebuild replaces, not merges.
        let w = s.db().read_model_writer();
        w.table("alpha", rows(2)).await.unwrap();
        w.commit("rebuild", 43).await.unwrap();
        assert_eq!(s.db().docs("alpha").await.unwrap().len(), 2);
        assert_eq!(
            s.db().docs("beta").await.unwrap().len(),
            3,
            "tables not sent are kept"
        );
        s.db().close().await;
        t
    })
    .await;
}

#[tokio::test]
async fn a_rebuild_writer_takes_a_table_in_parts() {
    each_backend(|t| async move {
        let s = open(&t).await;
        let rows = |from: u32, to: u32| -> Vec<(String, Vec<u8>)> {
            (from..to)
                .map(|i| (format!("k{i:05}"), format!("{i}").into_bytes()))
                .collect()
        };
        let w = s.db().read_model_writer();
        w.table("alpha", rows(0, 10)).await.unwrap();
        w.table("beta", rows(0, 3)).await.unwrap();
        w.commit("rebuild", 1).await.unwrap();

        // A table in parts, one sent empty, one not sent at all.
        let w = s.db().read_model_writer();
        w.table("alpha", rows(0, 500)).await.unwrap();
        w.more("alpha", rows(500, 1100)).await.unwrap();
        w.more("alpha", rows(1100, 1200)).await.unwrap();
        w.table("gamma", Vec::new()).await.unwrap();
        w.commit("rebuild", 2).await.unwrap();
        let alpha = s.db().docs("alpha").await.unwrap();
        assert_eq!(alpha, rows(0, 1200));
        assert_eq!(s.db().docs("beta").await.unwrap(), rows(0, 3));
        assert!(s.db().docs("gamma").await.unwrap().is_empty());
        assert_eq!(
            s.db().doc("alpha", "k01199").await.unwrap(),
            Some(b"1199".to_vec())
        );
        assert_eq!(s.db().checkpoint("rebuild").await.unwrap(), 2);

        // A table sent again replaces its parts sent before; an empty one clears it.
        let w = s.db().read_model_writer();
        w.table("alpha", rows(0, 700)).await.unwrap();
        w.more("alpha", rows(700, 800)).await.unwrap();
        w.table("alpha", rows(5, 7)).await.unwrap();
        w.table("beta", Vec::new()).await.unwrap();
        w.commit("rebuild", 3).await.unwrap();
        assert_eq!(s.db().docs("alpha").await.unwrap(), rows(5, 7));
        assert!(s.db().docs("beta").await.unwrap().is_empty());

        // Ordinary read-model transactions still work on the swapped-in table.
        let mut tx = WriteTx::begin(s.db()).await.unwrap();
        tx.put("alpha", "k00000", b"x").await.unwrap();
        tx.delete("alpha", "k00005").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.db().docs("alpha").await.unwrap(),
            vec![
                ("k00000".to_string(), b"x".to_vec()),
                ("k00006".to_string(), b"6".to_vec())
            ]
        );
        assert_eq!(s.db().doc("alpha", "k00005").await.unwrap(), None);
        assert_eq!(
            s.db().doc("alpha", "k00000").await.unwrap(),
            Some(b"x".to_vec())
        );

        // A table spanning several parts; keys sent out of order are refused and roll back.
        let w = s.db().read_model_writer();
        w.table("alpha", rows(0, 6000)).await.unwrap();
        w.more("alpha", rows(6000, 9000)).await.unwrap();
        w.commit("rebuild", 4).await.unwrap();
        assert_eq!(s.db().docs("alpha").await.unwrap(), rows(0, 9000));
        assert_eq!(
            s.db().doc("alpha", "k04096").await.unwrap(),
            Some(b"4096".to_vec())
        );
        let w = s.db().read_model_writer();
        w.table("alpha", rows(10, 20)).await.unwrap();
        let _ = w.more("alpha", rows(15, 30)).await;
        let err = w.commit("rebuild", 5).await.unwrap_err().to_string();
        assert!(err.contains("increasing key order"), "{err}");
        assert_eq!(s.db().docs("alpha").await.unwrap(), rows(0, 9000));
        assert_eq!(s.db().checkpoint("rebuild").await.unwrap(), 4);
        s.db().close().await;
        t
    })
    .await;
}
