//! Atomic appends (ADR 0029) on both backends: several streams' events and their side rows —
//! fingerprint claims, subject keys, an `Idempotency-Key` answer — commit together or not at
//! all; a refused side row or a version conflict in one part writes nothing of the request
//! and leaves the rest of its group alone; a retry of a committed append answers with its
//! positions and writes nothing twice.

use chrono::Utc;
use leadorch_domain::personal::{KeyPurpose, PersonalData, PersonalField};
use leadorch_store::atomic::{IdempotencyRow, OwnedClaim};
use leadorch_store::codec::Pending;
use leadorch_store::fingerprints::FingerprintKind;
use leadorch_store::idempotency::{IdempotencyKey, IdempotencyRecord};
use leadorch_store::{
    AtomicAppend, Db, ExpectedVersion, MasterKey, Metadata, Refusal, RetentionPolicy, Reveal,
    SideRow, Store, StoreError, StreamPart, Verification,
};
use leadorch_test_support::{TestDb, BOTH};
use serde_json::json;

const DAY: i64 = 86_400_000_000;

async fn open(t: &TestDb) -> Store {
    let db = Db::connect(&t.url).await.expect("connect");
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store")
}

/// An event with one personal field (`/Noted/email`, contact key) of `subject`.
struct Noted<'a>(&'a str);

impl PersonalData for Noted<'_> {
    fn data_subject(&self) -> Option<&str> {
        Some(self.0)
    }
    fn personal_fields(&self) -> &'static [PersonalField] {
        &[PersonalField {
            pointer: "/Noted/email",
            purpose: KeyPurpose::Contact,
        }]
    }
}

fn pending(subject: &str, email: &str) -> Pending {
    Pending::new(
        json!({"Noted": {"email": email, "at": Utc::now().to_rfc3339()}}),
        "Noted".into(),
        "1.0".into(),
        &Noted(subject),
        Utc::now(),
    )
    .expect("pending")
}

/// A lead's atomic append: a consent stream and a lead stream, the claim on `email_fp`, the
/// subject's keys (new), and an idempotency answer under `idem` when given.
async fn lead_append(
    store: &Store,
    lead: &str,
    subject: &str,
    email_fp: [u8; 32],
    idem: Option<&str>,
) -> AtomicAppend {
    let (events, keys) = store
        .codec
        .encode_atomic(
            vec![
                pending(subject, "ann@example.org"),
                pending(subject, "ann@example.org"),
            ],
            &Metadata::actor("test"),
            &[subject],
        )
        .await
        .expect("encode");
    let mut events = events.into_iter();
    let now = Utc::now().timestamp_micros();
    let mut side = vec![SideRow::Claim(OwnedClaim {
        project: "default".into(),
        // The phone (this lead's own) first: a refused email must take it back too.
        fingerprints: vec![
            (FingerprintKind::Phone, phone_fp(lead)),
            (FingerprintKind::Email, email_fp),
        ],
        lead_id: lead.into(),
        subject_id: subject.into(),
        expires_at: now + 90 * DAY,
        now,
    })];
    side.extend(keys);
    if let Some(key) = idem {
        side.push(SideRow::Idempotency(IdempotencyRow {
            project: "default".into(),
            api_key_id: "k1".into(),
            key: key.into(),
            record: IdempotencyRecord {
                request_hash: lead.as_bytes().to_vec(),
                status: 201,
                body: format!("{{\"lead_id\":\"{lead}\"}}"),
                created_at: now,
            },
        }));
    }
    AtomicAppend {
        parts: vec![
            StreamPart {
                stream_id: format!("consent:{lead}"),
                expected: ExpectedVersion::NoStream,
                events: vec![events.next().unwrap()],
            },
            StreamPart {
                stream_id: format!("lead:{lead}"),
                expected: ExpectedVersion::NoStream,
                events: vec![events.next().unwrap()],
            },
        ],
        side,
    }
}

fn phone_fp(lead: &str) -> [u8; 32] {
    let mut fp = [0u8; 32];
    let n = lead.len().min(32);
    fp[..n].copy_from_slice(&lead.as_bytes()[..n]);
    fp
}

async fn phone_claimed(store: &Store, lead: &str) -> bool {
    !store
        .fingerprints()
        .lookup(
            "default",
            &[(FingerprintKind::Phone, phone_fp(lead))],
            Utc::now().timestamp_micros(),
        )
        .await
        .expect("lookup")
        .is_empty()
}

async fn claimed_by(store: &Store, fp: [u8; 32]) -> Option<String> {
    store
        .fingerprints()
        .lookup(
            "default",
            &[(FingerprintKind::Email, fp)],
            Utc::now().timestamp_micros(),
        )
        .await
        .expect("lookup")
        .first()
        .map(|m| m.lead_id.clone())
}

async fn answer(store: &Store, key: &str) -> Option<IdempotencyRecord> {
    store
        .idempotency()
        .get(&IdempotencyKey {
            project: "default",
            api_key_id: "k1",
            key,
        })
        .await
        .expect("get")
}

#[tokio::test]
async fn streams_and_side_rows_commit_together_and_the_events_open_with_the_keys_written() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t).await;
        let append = lead_append(&store, "l1", "s1", [1; 32], Some("idem-1")).await;
        let at = store
            .log
            .append_atomic(append.clone())
            .await
            .expect("append");
        assert_eq!(at.len(), 2, "{d:?}");
        assert_eq!((at[0].first_position, at[0].last_position), (1, 1), "{d:?}");
        assert_eq!(
            (at[1].first_position, at[1].stream_version),
            (2, 1),
            "{d:?}"
        );
        assert_eq!(store.log.stream_version("consent:l1").await.unwrap(), 1);
        assert_eq!(store.log.stream_version("lead:l1").await.unwrap(), 1);
        assert_eq!(
            claimed_by(&store, [1; 32]).await.as_deref(),
            Some("l1"),
            "{d:?}"
        );
        assert!(answer(&store, "idem-1").await.is_some(), "{d:?}");
        assert_eq!(
            store.codec.keys().purposes("s1").await.unwrap(),
            vec![KeyPurpose::Contact],
            "{d:?}"
        );
        // The key that commits with the events is the one they were sealed with.
        let events = store.log.read_stream("lead:l1").await.unwrap();
        let mut decoder = store.codec.decoder(Reveal::Decrypt);
        let payload = decoder.payload(&events[0]).await.expect("open");
        assert_eq!(payload["Noted"]["email"], "ann@example.org", "{d:?}");

        // The same append again (a retry after a lost answer): the same positions, nothing
        // written twice, side rows not refused.
        let again = store.log.append_atomic(append).await.expect("retry");
        assert_eq!(again, at, "{d:?}");
        assert_eq!(store.log.head().await.unwrap().position, 2, "{d:?}");
        assert!(matches!(
            store.log.verify(|_| {}).await.unwrap(),
            Verification::Intact { count: 2, .. }
        ));
    }
}

#[tokio::test]
async fn a_refused_side_row_or_a_conflicting_part_writes_nothing_of_its_request() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t).await;
        store
            .log
            .append_atomic(lead_append(&store, "l1", "s1", [1; 32], Some("idem-1")).await)
            .await
            .expect("first");

        // Another lead with the same fingerprint: refused, naming the holder; nothing of it
        // is stored (streams, key, answer).
        let e = store
            .log
            .append_atomic(lead_append(&store, "l2", "s2", [1; 32], Some("idem-2")).await)
            .await
            .unwrap_err();
        match &e {
            StoreError::Refused(r) => match &**r {
                Refusal::Claimed(held) => assert_eq!(held[0].lead_id, "l1", "{d:?}"),
                other => panic!("{d:?}: {other:?}"),
            },
            other => panic!("{d:?}: {other}"),
        }
        assert_eq!(store.log.stream_version("consent:l2").await.unwrap(), 0);
        assert_eq!(store.log.stream_version("lead:l2").await.unwrap(), 0);
        assert!(store.codec.keys().purposes("s2").await.unwrap().is_empty());
        assert!(answer(&store, "idem-2").await.is_none(), "{d:?}");
        assert!(
            !phone_claimed(&store, "l2").await,
            "{d:?}: its phone claim is undone"
        );
        assert!(phone_claimed(&store, "l1").await, "{d:?}");

        // The lead stream exists: a conflict in the second part writes neither part, nor
        // the claim on a fingerprint nobody holds.
        let e = store
            .log
            .append_atomic(lead_append(&store, "l1", "s3", [3; 32], None).await)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{d:?}: {e}");
        assert_eq!(claimed_by(&store, [3; 32]).await, None, "{d:?}");
        assert!(store.codec.keys().purposes("s3").await.unwrap().is_empty());

        // An Idempotency-Key already answered refuses the request with the first answer.
        let e = store
            .log
            .append_atomic(lead_append(&store, "l4", "s4", [4; 32], Some("idem-1")).await)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Refused(r) if matches!(&**r, Refusal::Answered(rec) if rec.body.contains("l1"))),
            "{d:?}: {e}"
        );
        assert_eq!(claimed_by(&store, [4; 32]).await, None, "{d:?}");

        assert_eq!(store.log.head().await.unwrap().position, 2, "{d:?}");
        assert!(matches!(
            store.log.verify(|_| {}).await.unwrap(),
            Verification::Intact { count: 2, .. }
        ));
    }
}

#[tokio::test]
async fn a_key_that_changed_after_sealing_refuses_the_append() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t).await;
        store
            .log
            .append_atomic(lead_append(&store, "l1", "s1", [1; 32], None).await)
            .await
            .expect("first");

        // Sealed with s1's stored key (read, not made), which is then destroyed (an
        // erasure): the append must not write events no key can open.
        let (events, keys) = store
            .codec
            .encode_atomic(
                vec![pending("s1", "x@example.org")],
                &Metadata::actor("t"),
                &[],
            )
            .await
            .unwrap();
        assert!(
            matches!(&keys[0], SideRow::Key(k) if !k.new),
            "{d:?}: the stored key is reused"
        );
        store.codec.keys().destroy("s1", None).await.unwrap();
        let e = store
            .log
            .append_atomic(AtomicAppend {
                parts: vec![StreamPart {
                    stream_id: "lead:l9".into(),
                    expected: ExpectedVersion::NoStream,
                    events,
                }],
                side: keys,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Refused(r) if matches!(&**r, Refusal::KeyChanged { subject } if subject == "s1")),
            "{d:?}: {e}"
        );
        assert!(
            store.codec.keys().purposes("s1").await.unwrap().is_empty(),
            "{d:?}: the erased key stays erased"
        );

        // A "new" subject whose key someone else made meanwhile: refused, not overwritten.
        let (events, keys) = store
            .codec
            .encode_atomic(
                vec![pending("s5", "y@example.org")],
                &Metadata::actor("t"),
                &["s5"],
            )
            .await
            .unwrap();
        let theirs = store
            .codec
            .keys()
            .key_for_write("s5", KeyPurpose::Contact, 0, None)
            .await
            .unwrap();
        let e = store
            .log
            .append_atomic(AtomicAppend {
                parts: vec![StreamPart {
                    stream_id: "lead:l5".into(),
                    expected: ExpectedVersion::NoStream,
                    events,
                }],
                side: keys,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Refused(r) if matches!(&**r, Refusal::KeyChanged { .. })),
            "{d:?}: {e}"
        );
        let still = store
            .codec
            .keys()
            .key("s5", KeyPurpose::Contact)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(still.id(), theirs.id(), "{d:?}: their key stays");
        assert_eq!(store.log.head().await.unwrap().position, 2, "{d:?}");
    }
}

#[tokio::test]
async fn leads_of_one_person_racing_have_one_winner_and_the_others_commit() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t).await;
        // 24 leads, 8 of them sharing one fingerprint, enqueued at once: the writer takes
        // them in few groups; exactly one of the eight wins, the other sixteen all commit.
        let mut tasks = Vec::new();
        for i in 0..24u8 {
            let fp = if i % 3 == 0 { [200; 32] } else { [i; 32] };
            let append = lead_append(&store, &format!("l{i}"), &format!("s{i}"), fp, None).await;
            let log = store.log.clone();
            tasks.push(tokio::spawn(async move { log.append_atomic(append).await }));
        }
        let mut won = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::Refused(_)) => refused += 1,
                Err(e) => panic!("{d:?}: {e}"),
            }
        }
        assert_eq!((won, refused), (17, 7), "{d:?}");
        let holder = claimed_by(&store, [200; 32]).await.expect("held");
        assert_eq!(
            store
                .log
                .stream_version(&format!("lead:{holder}"))
                .await
                .unwrap(),
            1
        );
        assert!(
            matches!(
                store.log.verify(|_| {}).await.unwrap(),
                Verification::Intact { count: 34, .. }
            ),
            "{d:?}"
        );
    }
}
