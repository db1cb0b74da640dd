//! Sealed OAuth refresh tokens on both backends: round trip, replacement, deletion, and no
//! plaintext in the SQLite file's bytes.

use leadorch_domain::personal::KeyPurpose;
use leadorch_store::{Db, MasterKey, RetentionPolicy, Store};
use leadorch_test_support::{TestDb, BOTH};

const TOKEN: &str = "1//0g-refresh-TOKEN-that-must-never-be-stored-in-clear";

async fn open(t: &TestDb) -> Store {
    let db = Db::connect(&t.url).await.expect("connect");
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn tokens_round_trip_are_replaced_and_deleted_on_both_backends() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let store = open(&t).await;
        let vault = store.tokens();
        assert_eq!(vault.get("ops").await.expect("get").as_deref(), None);
        vault.put("ops", TOKEN, 1).await.expect("put");
        assert_eq!(
            vault
                .get("ops")
                .await
                .expect("get")
                .as_deref()
                .map(String::as_str),
            Some(TOKEN)
        );
        vault.put("ops", "second", 2).await.expect("replace");
        assert_eq!(
            vault
                .get("ops")
                .await
                .expect("get")
                .as_deref()
                .map(String::as_str),
            Some("second")
        );
        assert_eq!(vault.accounts().await.expect("accounts"), vec!["ops"]);
        assert!(vault.delete("ops").await.expect("delete"));
        assert!(!vault.delete("ops").await.expect("delete again"));
        assert_eq!(vault.get("ops").await.expect("get").as_deref(), None);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_token_is_unreadable_once_the_account_key_is_destroyed() {
    let t = TestDb::sqlite();
    let store = open(&t).await;
    let vault = store.tokens();
    vault.put("ops", TOKEN, 1).await.expect("put");
    store
        .codec
        .keys()
        .destroy("ops", Some(&[KeyPurpose::Account]))
        .await
        .expect("destroy");
    assert_eq!(vault.get("ops").await.expect("get").as_deref(), None);
    t.cleanup().await;
}

#[tokio::test]
async fn the_sqlite_file_never_holds_the_token_in_clear() {
    let t = TestDb::sqlite();
    let store = open(&t).await;
    let vault = store.tokens();
    vault.put("ops", TOKEN, 1).await.expect("put");
    let file = t.sqlite_file().expect("sqlite file");
    let mut bytes = std::fs::read(&file).expect("read db");
    if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    assert!(
        contains(&bytes, b"google_tokens"),
        "the table is in the file"
    );
    assert!(!contains(&bytes, TOKEN.as_bytes()), "token in clear");
    assert!(
        !contains(&bytes, b"must-never-be-stored"),
        "part of the token in clear"
    );
    t.cleanup().await;
}
