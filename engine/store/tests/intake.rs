//! The tables beside the log for lead intake, on both backends: project secrets (made once,
//! sealed, race-safe), fingerprint claims (live, expired, same lead, all or none, inside a
//! caller's transaction), lookups, erasure and purge, idempotency records.

use leadorch_store::fingerprints::{ClaimOutcome, FingerprintClaim, FingerprintKind};
use leadorch_store::idempotency::{self, IdempotencyKey, IdempotencyRecord};
use leadorch_store::{
    Db, FingerprintMatch, MasterKey, RetentionPolicy, Store, StoreError, WriteTx,
};
use leadorch_test_support::{TestDb, BOTH};

use FingerprintKind::{Email, Phone};

const DAY: i64 = 86_400_000_000;

async fn open(t: &TestDb, master: MasterKey) -> Store {
    let db = Db::connect(&t.url).await.expect("connect");
    Store::with_master_key(db, master, RetentionPolicy::default())
        .await
        .expect("open store")
}

fn claim<'a>(
    fps: &'a [(FingerprintKind, [u8; 32])],
    lead: &'a str,
    subject: &'a str,
    now: i64,
) -> FingerprintClaim<'a> {
    FingerprintClaim {
        project: "default",
        fingerprints: fps,
        lead_id: lead,
        subject_id: subject,
        expires_at: now + 90 * DAY,
        now,
    }
}

#[tokio::test]
async fn a_project_secret_is_made_once_sealed_and_bound_to_its_project() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let master = MasterKey::random();
        let store = open(&t, master.clone()).await;
        let keys = store.codec.keys();
        let a = keys.project_secret("default").await.expect("make");
        let again = keys.project_secret("default").await.expect("read");
        assert_eq!(a.expose(), again.expose(), "{d:?}: made once");
        let other = keys.project_secret("acme").await.expect("another project");
        assert_ne!(a.expose(), other.expose(), "{d:?}: one per project");
        assert_eq!(format!("{a:?}"), "ProjectSecret(…)");

        // Many at once (other connections, as other processes would): one secret wins.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let keys = keys.clone();
            tasks.push(tokio::spawn(async move {
                *keys.project_secret("racy").await.expect("race").expose()
            }));
        }
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap());
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{d:?}: one secret");

        // Another master key cannot unseal it, and says so.
        store.db().close().await;
        let wrong = open(&t, MasterKey::random()).await;
        let e = wrong
            .codec
            .keys()
            .project_secret("default")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("wrong master key"), "{d:?}: {e}");
        wrong.db().close().await;
        let right = open(&t, master).await;
        assert_eq!(
            right
                .codec
                .keys()
                .project_secret("default")
                .await
                .unwrap()
                .expose(),
            a.expose(),
            "{d:?}: kept across opens"
        );
        assert!(matches!(
            right.codec.keys().project_secret("").await,
            Err(StoreError::InvalidInput(_))
        ));
        right.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_sqlite_file_never_holds_a_project_secret_in_clear() {
    let t = TestDb::sqlite();
    let store = open(&t, MasterKey::random()).await;
    let secret = *store
        .codec
        .keys()
        .project_secret("default")
        .await
        .unwrap()
        .expose();
    store.db().close().await;
    let file = t.sqlite_file().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", file.display())) {
        bytes.extend(wal);
    }
    assert!(!bytes.windows(32).any(|w| w == secret), "secret in clear");
}

#[tokio::test]
async fn claims_dedup_expire_and_are_all_or_none_on_both_backends() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t, MasterKey::random()).await;
        let fp = store.fingerprints();
        let now = 1_000 * DAY;
        let email = [1u8; 32];
        let phone = [2u8; 32];
        let other_phone = [3u8; 32];

        // The first lead claims its email and phone.
        let first = [(Email, email), (Phone, phone)];
        assert_eq!(
            fp.claim(&claim(&first, "lead-1", "subj-1", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}"
        );
        // Claiming again for the same lead (a retry) succeeds.
        assert_eq!(
            fp.claim(&claim(&first, "lead-1", "subj-1", now + 1))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}: a retry"
        );
        let found = fp
            .lookup("default", &[(Phone, phone), (Email, email)], now)
            .await
            .unwrap();
        assert_eq!(
            found,
            vec![
                FingerprintMatch {
                    kind: Phone,
                    lead_id: "lead-1".into(),
                    subject_id: "subj-1".into(),
                    expires_at: now + 1 + 90 * DAY,
                },
                FingerprintMatch {
                    kind: Email,
                    lead_id: "lead-1".into(),
                    subject_id: "subj-1".into(),
                    expires_at: now + 1 + 90 * DAY,
                },
            ],
            "{d:?}"
        );
        assert!(
            fp.lookup("acme", &[(Email, email)], now)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}: projects are apart"
        );
        assert!(
            fp.lookup("default", &[(Phone, email)], now)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}: kinds are apart"
        );

        // A second lead with the same phone but a new email: claimed by lead-1, and its email
        // is not left claimed either.
        let second = [(Email, [9u8; 32]), (Phone, phone)];
        let outcome = fp
            .claim(&claim(&second, "lead-2", "subj-2", now + DAY))
            .await
            .unwrap();
        assert_eq!(
            outcome.claimed_by().map(|m| m.lead_id.as_str()),
            Some("lead-1"),
            "{d:?}"
        );
        assert_eq!(outcome.claimed_by().map(|m| m.kind), Some(Phone), "{d:?}");
        assert!(
            fp.lookup("default", &[(Email, [9u8; 32])], now + DAY)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}: all or none"
        );

        // After the window, the row is expired: no longer found, and a new claim takes it.
        let later = now + 1 + 90 * DAY;
        assert!(
            fp.lookup("default", &[(Phone, phone)], later)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}"
        );
        let third = [(Phone, phone), (Phone, other_phone)];
        assert_eq!(
            fp.claim(&claim(&third, "lead-3", "subj-3", later))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}: an expired row is replaced"
        );
        let found = fp
            .lookup("default", &[(Phone, phone)], later)
            .await
            .unwrap();
        assert_eq!(found[0].lead_id, "lead-3", "{d:?}");

        // Bad claims are refused before anything is written.
        let mut bad = claim(&first, "lead-4", "subj-4", now);
        bad.expires_at = now;
        assert!(
            matches!(fp.claim(&bad).await, Err(StoreError::InvalidInput(_))),
            "{d:?}"
        );
        let mut bad = claim(&first, "lead-4", "subj-4", now);
        bad.project = "";
        assert!(
            matches!(fp.claim(&bad).await, Err(StoreError::InvalidInput(_))),
            "{d:?}"
        );

        // Retention counts and deletes expired rows (lead-1's email), nothing live.
        assert_eq!(fp.count_expired(later).await.unwrap(), 1, "{d:?}");
        assert_eq!(fp.purge_expired(later).await.unwrap(), 1, "{d:?}");
        assert_eq!(fp.count_expired(later).await.unwrap(), 0, "{d:?}");
        assert_eq!(
            fp.lookup("default", &third, later).await.unwrap().len(),
            2,
            "{d:?}"
        );

        // Erasure deletes every row of the subject.
        assert_eq!(fp.erase_subject("subj-3").await.unwrap(), 2, "{d:?}");
        assert!(
            fp.lookup("default", &third, later)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}"
        );
        assert_eq!(fp.erase_subject("subj-3").await.unwrap(), 0, "{d:?}");
        store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn claims_inside_a_callers_transaction_see_each_other_and_commit_or_roll_back_with_it() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t, MasterKey::random()).await;
        let now = 10 * DAY;
        let a = [(Email, [4u8; 32])];
        let b = [(Email, [4u8; 32]), (Phone, [5u8; 32])];

        // Two leads of one person in one transaction (as in one group commit): the second is
        // the first's duplicate, and the transaction stays usable after the refused claim.
        let mut tx = WriteTx::begin(store.db()).await.unwrap();
        assert_eq!(
            store
                .fingerprints()
                .claim_in(&mut tx, &claim(&a, "lead-a", "subj-a", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed
        );
        let refused = store
            .fingerprints()
            .claim_in(&mut tx, &claim(&b, "lead-b", "subj-b", now))
            .await
            .unwrap();
        assert_eq!(
            refused.claimed_by().map(|m| m.lead_id.as_str()),
            Some("lead-a"),
            "{d:?}"
        );
        tx.put("test", "k", b"{}")
            .await
            .expect("the transaction is still usable");
        let key = IdempotencyKey {
            project: "default",
            api_key_id: "key-1",
            key: "retry-1",
        };
        let answer = IdempotencyRecord {
            request_hash: vec![1; 32],
            status: 201,
            body: "{\"lead_id\":\"lead-a\"}".into(),
            created_at: now,
        };
        assert_eq!(
            idempotency::put(&mut tx.conn(), &key, &answer)
                .await
                .unwrap(),
            None
        );
        // Not visible outside before the commit.
        assert!(store
            .fingerprints()
            .lookup("default", &a, now)
            .await
            .unwrap()
            .is_empty());
        tx.commit().await.unwrap();
        let found = store
            .fingerprints()
            .lookup("default", &b, now)
            .await
            .unwrap();
        assert_eq!(
            found.len(),
            1,
            "{d:?}: lead-b's phone was rolled back: {found:?}"
        );
        assert_eq!(found[0].lead_id, "lead-a");
        assert_eq!(
            store.idempotency().get(&key).await.unwrap(),
            Some(answer),
            "{d:?}"
        );

        // A transaction dropped without commit leaves no claim.
        let mut tx = WriteTx::begin(store.db()).await.unwrap();
        let c = [(Phone, [6u8; 32])];
        store
            .fingerprints()
            .claim_in(&mut tx, &claim(&c, "lead-c", "subj-c", now))
            .await
            .unwrap();
        drop(tx);
        assert!(
            store
                .fingerprints()
                .lookup("default", &c, now)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}"
        );
        store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_claims_of_one_fingerprint_have_one_winner() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t, MasterKey::random()).await;
        let now = 10 * DAY;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let fp = store.fingerprints();
            tasks.push(tokio::spawn(async move {
                let fps = [(Email, [7u8; 32])];
                let lead = format!("lead-{i}");
                let subject = format!("subj-{i}");
                fp.claim(&claim(&fps, &lead, &subject, now)).await.unwrap()
            }));
        }
        let mut won = 0;
        let mut holders = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                ClaimOutcome::Claimed => won += 1,
                ClaimOutcome::Taken(m) => holders.push(m[0].lead_id.clone()),
            }
        }
        assert_eq!(won, 1, "{d:?}");
        let winner = &store
            .fingerprints()
            .lookup("default", &[(Email, [7u8; 32])], now)
            .await
            .unwrap()[0]
            .lead_id;
        assert!(
            holders.iter().all(|h| h == winner),
            "{d:?}: {holders:?} vs {winner}"
        );
        store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn idempotency_records_keep_the_first_answer_per_project_and_api_key() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t, MasterKey::random()).await;
        let idem = store.idempotency();
        let key = IdempotencyKey {
            project: "default",
            api_key_id: "key-1",
            key: "8e03978e-40d5-43e8-bc93-6894a57f9324",
        };
        let first = IdempotencyRecord {
            request_hash: vec![1; 32],
            status: 201,
            body: "{\"outcome\":\"accepted\"}".into(),
            created_at: 100,
        };
        assert_eq!(idem.get(&key).await.unwrap(), None, "{d:?}");
        assert_eq!(idem.put(&key, &first).await.unwrap(), None, "{d:?}: stored");
        let second = IdempotencyRecord {
            request_hash: vec![2; 32],
            status: 500,
            body: "other".into(),
            created_at: 200,
        };
        let existing = idem
            .put(&key, &second)
            .await
            .unwrap()
            .expect("the first stays");
        assert_eq!(existing, first, "{d:?}");
        assert!(existing.is_for(&[1; 32]) && !existing.is_for(&[2; 32]));
        assert_eq!(idem.get(&key).await.unwrap(), Some(first.clone()), "{d:?}");

        // Another API key or project has keys of its own.
        for other in [
            IdempotencyKey {
                api_key_id: "key-2",
                ..key
            },
            IdempotencyKey {
                project: "acme",
                ..key
            },
        ] {
            assert_eq!(idem.get(&other).await.unwrap(), None, "{d:?}");
            assert_eq!(idem.put(&other, &second).await.unwrap(), None, "{d:?}");
        }

        // Keys are 1 to 255 printable ASCII characters.
        let long = "k".repeat(256);
        for bad in ["", long.as_str(), "tab\there", "café"] {
            let k = IdempotencyKey { key: bad, ..key };
            let e = idem.put(&k, &first).await.unwrap_err();
            assert!(
                matches!(e, StoreError::InvalidInput(_)),
                "{d:?} {bad:?}: {e}"
            );
        }
        let max = "k".repeat(255);
        let k = IdempotencyKey { key: &max, ..key };
        assert_eq!(
            idem.put(&k, &first).await.unwrap(),
            None,
            "{d:?}: 255 is fine"
        );

        // Retention: records created before the cutoff go.
        assert_eq!(idem.count_older_than(150).await.unwrap(), 2, "{d:?}");
        assert_eq!(idem.purge_older_than(150).await.unwrap(), 2, "{d:?}");
        assert_eq!(idem.get(&key).await.unwrap(), None, "{d:?}");
        assert_eq!(idem.count_older_than(i64::MAX).await.unwrap(), 2, "{d:?}");
        store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_lead_lets_go_of_its_claims_and_another_lead_may_take_them() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t, MasterKey::random()).await;
        let fp = store.fingerprints();
        let now = 1_800_000_000_000_000;
        let fps = [(Email, [7u8; 32]), (Phone, [8u8; 32])];
        assert_eq!(
            fp.claim(&claim(&fps, "lead-1", "subj-1", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed
        );
        assert!(matches!(
            fp.claim(&claim(&fps, "lead-2", "subj-2", now))
                .await
                .unwrap(),
            ClaimOutcome::Taken(_)
        ));
        assert_eq!(
            fp.release_lead("acme", "lead-1").await.unwrap(),
            0,
            "{d:?}: another project's"
        );
        assert_eq!(
            fp.release_lead("default", "lead-1").await.unwrap(),
            2,
            "{d:?}"
        );
        assert!(fp.lookup("default", &fps, now).await.unwrap().is_empty());
        assert_eq!(
            fp.claim(&claim(&fps, "lead-2", "subj-2", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}"
        );
    }
}

/// Two handles on one database, each with its own fingerprint index (ADR 0047 on SQLite), as
/// two processes have: a claim through one is seen and refused through the other; a row the
/// other erased or replaced is not taken for a live one; an id a rolled-back claim used and a
/// later claim took again is found.
#[tokio::test]
async fn two_processes_see_each_others_claims_erasures_and_replacements() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let master = MasterKey::random();
        let one = open(&t, master.clone()).await;
        let two = open(&t, master).await;
        let now = 20 * DAY;
        let ann = [(Email, [11u8; 32]), (Phone, [12u8; 32])];

        // Each index loads before the claims exist, so neither can know them from a load.
        assert!(one
            .fingerprints()
            .lookup("default", &ann, now)
            .await
            .unwrap()
            .is_empty());
        assert!(two
            .fingerprints()
            .lookup("default", &ann, now)
            .await
            .unwrap()
            .is_empty());

        // One claims; two sees it, and its own claim is refused.
        assert_eq!(
            one.fingerprints()
                .claim(&claim(&ann, "lead-1", "subj-1", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}"
        );
        let seen = two
            .fingerprints()
            .lookup("default", &ann, now)
            .await
            .unwrap();
        assert_eq!(seen.len(), 2, "{d:?}: {seen:?}");
        let refused = two
            .fingerprints()
            .claim(&claim(&[(Phone, [12u8; 32])], "lead-2", "subj-2", now))
            .await
            .unwrap();
        assert_eq!(
            refused.claimed_by().map(|m| m.lead_id.as_str()),
            Some("lead-1"),
            "{d:?}"
        );

        // One erases the subject; two's index still names the rows, which are gone: two finds
        // nothing and its claim now wins.
        assert_eq!(
            one.fingerprints().erase_subject("subj-1").await.unwrap(),
            2,
            "{d:?}"
        );
        assert!(
            two.fingerprints()
                .lookup("default", &ann, now)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}"
        );
        assert_eq!(
            two.fingerprints()
                .claim(&claim(&[(Phone, [12u8; 32])], "lead-2", "subj-2", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}"
        );
        let held = one
            .fingerprints()
            .lookup("default", &ann, now)
            .await
            .unwrap();
        assert_eq!(
            held.iter()
                .map(|m| (m.kind, m.lead_id.as_str()))
                .collect::<Vec<_>>(),
            vec![(Phone, "lead-2")],
            "{d:?}"
        );

        // A claim rolled back in one (its id handed out, then not committed), then another
        // claim through two that may take the same id: one still finds the second.
        let mut tx = WriteTx::begin(one.db()).await.unwrap();
        one.fingerprints()
            .claim_in(
                &mut tx,
                &claim(&[(Email, [13u8; 32])], "lead-3", "subj-3", now),
            )
            .await
            .unwrap();
        drop(tx);
        assert_eq!(
            two.fingerprints()
                .claim(&claim(&[(Email, [14u8; 32])], "lead-4", "subj-4", now))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}"
        );
        assert!(
            one.fingerprints()
                .lookup("default", &[(Email, [13u8; 32])], now)
                .await
                .unwrap()
                .is_empty(),
            "{d:?}"
        );
        let found = one
            .fingerprints()
            .lookup("default", &[(Email, [14u8; 32])], now)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{d:?}");
        assert_eq!(found[0].lead_id, "lead-4", "{d:?}");

        // A claim through one after the window replaces two's row: two then refuses lead-6.
        let later = now + 90 * DAY;
        assert_eq!(
            one.fingerprints()
                .claim(&claim(&[(Phone, [12u8; 32])], "lead-5", "subj-5", later))
                .await
                .unwrap(),
            ClaimOutcome::Claimed,
            "{d:?}"
        );
        let refused = two
            .fingerprints()
            .claim(&claim(
                &[(Phone, [12u8; 32])],
                "lead-6",
                "subj-6",
                later + 1,
            ))
            .await
            .unwrap();
        assert_eq!(
            refused.claimed_by().map(|m| m.lead_id.as_str()),
            Some("lead-5"),
            "{d:?}"
        );
        assert_eq!(
            two.fingerprints().count_expired(later + 1).await.unwrap(),
            1,
            "{d:?}: lead-4's email"
        );
        one.db().close().await;
        two.db().close().await;
        t.cleanup().await;
    }
}

/// A SQLite database made before ADR 0047, whose fingerprints were keyed by the fingerprint,
/// keeps its claims when the append-only table replaces that one.
#[tokio::test]
async fn sqlite_claims_made_before_the_append_only_table_survive_its_migration() {
    use sqlx::Connection as _;
    use std::str::FromStr as _;

    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("migrations");
    std::fs::create_dir(&before).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut copied = 0;
    for entry in std::fs::read_dir(&all).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "0010" {
            std::fs::copy(entry.path(), before.join(&name)).unwrap();
            copied += 1;
        }
    }
    assert!(copied >= 8, "the migrations before 0010: {copied}");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let now = 30 * DAY;
    {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let mut c = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&mut c)
            .await
            .unwrap();
        for (fp, lead, expires_at) in [
            ([21u8; 32], "lead-old", now + DAY),
            ([22u8; 32], "lead-gone", now - DAY),
        ] {
            sqlx::query(
                "INSERT INTO fingerprints (project, kind, fingerprint, lead_id, subject_id, expires_at) \
                 VALUES ('default', 'email', ?1, ?2, 'subj-old', ?3)",
            )
            .bind(fp.as_slice())
            .bind(lead)
            .bind(expires_at)
            .execute(&mut c)
            .await
            .unwrap();
        }
        c.close().await.unwrap();
    }
    let db = Db::connect(&url).await.expect("migrates");
    let store = Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .unwrap();
    let fp = store.fingerprints();
    let found = fp
        .lookup("default", &[(Email, [21u8; 32])], now)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].lead_id, "lead-old");
    let refused = fp
        .claim(&claim(&[(Email, [21u8; 32])], "lead-new", "subj-new", now))
        .await
        .unwrap();
    assert_eq!(
        refused.claimed_by().map(|m| m.lead_id.as_str()),
        Some("lead-old")
    );
    assert_eq!(
        fp.count_expired(now).await.unwrap(),
        1,
        "lead-gone's row came along"
    );
    assert_eq!(
        fp.claim(&claim(&[(Email, [22u8; 32])], "lead-new", "subj-new", now))
            .await
            .unwrap(),
        ClaimOutcome::Claimed,
        "an expired row holds nothing"
    );
    store.db().close().await;
}
