//! Where the master key comes from when a [`StoreConfig::key_lookup`] is given (the OS keyring
//! for the CLI, ADR 0045): asked only when no key file is named and none is at the default
//! place; what it finds is used and no file is written; a lookup that fails stops the opening
//! before a new key is made.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use leadorch_store::{MasterKey, MasterKeyLookup, Open, Store, StoreConfig, StoreError};
use zeroize::Zeroizing;

#[derive(Debug)]
struct Fake {
    answer: Result<Option<String>, String>,
    asked: AtomicUsize,
}

impl Fake {
    fn new(answer: Result<Option<String>, String>) -> Arc<Fake> {
        Arc::new(Fake {
            answer,
            asked: AtomicUsize::new(0),
        })
    }
}

impl MasterKeyLookup for Fake {
    fn master_key(&self, _: &str) -> Result<Option<Zeroizing<String>>, String> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.answer.clone().map(|k| k.map(Zeroizing::new))
    }
    fn name(&self) -> &'static str {
        "a fake keyring"
    }
}

fn config(dir: &tempfile::TempDir, lookup: &Arc<Fake>) -> StoreConfig {
    let mut c = StoreConfig::new(format!("sqlite://{}", dir.path().join("l.db").display()));
    c.key_lookup = Some(lookup.clone() as Arc<dyn MasterKeyLookup>);
    c
}

fn check(text: &str) -> String {
    MasterKey::from_base64(text).unwrap().check_value()
}

#[tokio::test]
async fn a_key_found_by_the_lookup_is_used_and_no_key_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let kept = MasterKey::new_base64();
    let lookup = Fake::new(Ok(Some(kept.to_string())));
    let store = Store::open(&config(&dir, &lookup)).await.unwrap();
    assert_eq!(store.codec.keys().master_check_value(), check(&kept));
    assert_eq!(store.master_key_found_in(), Some("a fake keyring"));
    assert_eq!(lookup.asked.load(Ordering::SeqCst), 1);
    assert!(
        !dir.path().join("master.key").exists(),
        "a key file was written"
    );
    store.db().close().await;
}

#[tokio::test]
async fn a_key_file_wins_and_the_lookup_is_not_asked() {
    let dir = tempfile::tempdir().unwrap();
    let in_file = MasterKey::new_base64();
    std::fs::write(dir.path().join("master.key"), in_file.as_str()).unwrap();
    let lookup = Fake::new(Ok(Some(MasterKey::new_base64().to_string())));
    let store = Store::open(&config(&dir, &lookup)).await.unwrap();
    assert_eq!(store.codec.keys().master_check_value(), check(&in_file));
    assert_eq!(store.master_key_found_in(), None);
    assert_eq!(lookup.asked.load(Ordering::SeqCst), 0);
    store.db().close().await;

    // A key file named on the command line is that file, made when missing: no lookup.
    let named = dir.path().join("named.key");
    let mut c = config(&dir, &lookup);
    c.master_key_file = Some(named.clone());
    let store = Store::open(&c).await.unwrap();
    assert_eq!(lookup.asked.load(Ordering::SeqCst), 0);
    let made = std::fs::read_to_string(&named).unwrap();
    assert_eq!(store.codec.keys().master_check_value(), check(&made));
    store.db().close().await;
}

#[tokio::test]
async fn nothing_found_keeps_the_key_file_rules_and_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let lookup = Fake::new(Ok(None));
    let store = Store::open(&config(&dir, &lookup)).await.unwrap();
    assert_eq!(lookup.asked.load(Ordering::SeqCst), 1);
    let made = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert_eq!(store.codec.keys().master_check_value(), check(&made));
    store.db().close().await;

    // An existing database whose key is nowhere: refused, naming both places.
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let mut c = config(&dir, &lookup);
    c.open = Open::Existing;
    let err = Store::open(&c).await.unwrap_err();
    assert!(matches!(err, StoreError::NoMasterKey { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("master.key") && text.contains("nor one in a fake keyring"),
        "{text}"
    );
    assert!(!dir.path().join("master.key").exists());
}

#[tokio::test]
async fn a_lookup_that_fails_or_holds_a_bad_key_stops_before_any_key_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let lookup = Fake::new(Err("the keyring did not answer within 10 s".into()));
    let err = Store::open(&config(&dir, &lookup)).await.unwrap_err();
    assert!(
        err.to_string().contains("did not answer within 10 s"),
        "{err}"
    );
    assert!(
        !dir.path().join("master.key").exists(),
        "a new key was made"
    );

    let lookup = Fake::new(Ok(Some("not a key".into())));
    let err = Store::open(&config(&dir, &lookup)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("a fake keyring") && text.contains("unusable"),
        "{text}"
    );
    assert!(
        !text.contains("not a key"),
        "the entry's text reached a message: {text}"
    );
    assert!(
        !dir.path().join("master.key").exists(),
        "a new key was made"
    );
}
