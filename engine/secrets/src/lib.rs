//! Lead Orchestrator's entries in the OS keyring: Secret Service on Linux (GNOME Keyring,
//! KeePassXC, over D-Bus in pure Rust), the Keychain on macOS, the Credential Manager on
//! Windows (ADR 0015, ADR 0045).
//!
//! One entry per database holds its master key (service [`SERVICE`], user [`entry_user`] of
//! the database's [`database_identity`]). The desktop writes it; the desktop, the CLI and the
//! daemon read it, so a database the desktop made opens from a terminal with no key to copy.
//! Other entries of the same service hold a remote daemon's API key (the desktop's).

use std::sync::mpsc;
use std::time::Duration;

use leadorch_store::{db, MasterKeyLookup};
use zeroize::Zeroizing;

/// The keyring service of every Lead Orchestrator entry.
pub const SERVICE: &str = "leadorch";

/// The keyring user (account) name of a database's master key; `database` names it
/// ([`database_identity`]).
pub fn entry_user(database: &str) -> String {
    format!("master-key {database}")
}

/// What names a database in the keyring: its URL without a password, with a relative SQLite
/// path made absolute (so one relative URL used from two folders is two databases).
pub fn database_identity(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if let Ok(abs) = std::path::absolute(path) {
            let mut id = format!("sqlite://{}", abs.display());
            if let Some(q) = query {
                id.push('?');
                id.push_str(q);
            }
            return id;
        }
    }
    db::redact_url(url)
}

/// A place that keeps one secret.
pub trait SecretStore {
    /// The secret, if there is one.
    fn get(&self) -> Result<Option<Zeroizing<String>>, String>;
    /// Stores (or replaces) the secret.
    fn set(&self, secret: &str) -> Result<(), String>;
}

/// An entry of the OS keyring.
pub struct OsKeyring(keyring::Entry);

impl OsKeyring {
    /// The entry of `database`'s master key (`database` as [`database_identity`] names it).
    pub fn for_database(database: &str) -> Result<OsKeyring, String> {
        OsKeyring::entry(&entry_user(database))
    }

    /// The entry of service [`SERVICE`] and `user`.
    pub fn entry(user: &str) -> Result<OsKeyring, String> {
        keyring::Entry::new(SERVICE, user)
            .map(OsKeyring)
            .map_err(|e| unavailable(&e))
    }
}

fn unavailable(e: &keyring::Error) -> String {
    format!(
        "the OS keyring is not available ({e}); on Linux start a Secret Service (GNOME Keyring, KeePassXC) and unlock it, then open the app again"
    )
}

impl SecretStore for OsKeyring {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        match self.0.get_password() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(&e)),
        }
    }

    fn set(&self, secret: &str) -> Result<(), String> {
        self.0.set_password(secret).map_err(|e| unavailable(&e))
    }
}

/// How long a command waits for the keyring before giving up: a Secret Service that shows an
/// unlock prompt nobody answers must not hold a command (or a daemon's start) forever.
pub const KEYRING_DEADLINE: Duration = Duration::from_secs(10);

/// What the keyring said about a database's master key.
#[derive(Debug)]
pub enum Lookup {
    /// The entry's text (base64 of the key, as the desktop stored it).
    Found(Zeroizing<String>),
    /// The keyring answered: no entry for this database.
    Missing,
    /// There is no keyring to ask here (no Secret Service on the session bus, no session bus:
    /// a server), with the reason.
    Unavailable(String),
    /// The keyring did not answer within the deadline (an unlock prompt left open, say).
    TimedOut(Duration),
}

/// Looks up the master key of the database at `database_url` in `store` (for the OS keyring,
/// [`master_key_in_os_keyring`]) on a thread of its own, waiting at most `deadline`.
pub fn lookup_with_deadline<S>(store: S, deadline: Duration) -> Lookup
where
    S: SecretStore + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(store.get());
        });
    if let Err(e) = spawned {
        return Lookup::Unavailable(format!("could not start the keyring lookup: {e}"));
    }
    match rx.recv_timeout(deadline) {
        Ok(Ok(Some(text))) => Lookup::Found(text),
        Ok(Ok(None)) => Lookup::Missing,
        Ok(Err(reason)) => Lookup::Unavailable(reason),
        Err(mpsc::RecvTimeoutError::Timeout) => Lookup::TimedOut(deadline),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Lookup::Unavailable("the keyring lookup stopped without an answer".into())
        }
    }
}

/// The master key the OS keyring holds for the database at `database_url` (the desktop's
/// entry), waiting at most [`KEYRING_DEADLINE`].
pub fn master_key_in_os_keyring(database_url: &str) -> Lookup {
    match OsKeyring::for_database(&database_identity(database_url)) {
        Ok(entry) => lookup_with_deadline(entry, KEYRING_DEADLINE),
        Err(reason) => Lookup::Unavailable(reason),
    }
}

/// The OS keyring as a place a database's master key may be kept, for
/// [`leadorch_store::StoreConfig::key_lookup`]: found is used, missing or no keyring here (a
/// server) lets the key file decide as before, no answer within [`KEYRING_DEADLINE`] stops the
/// opening (a new key must never be made because the keyring was slow).
#[derive(Debug, Default)]
pub struct OsKeyringLookup;

impl MasterKeyLookup for OsKeyringLookup {
    fn master_key(&self, database_url: &str) -> Result<Option<Zeroizing<String>>, String> {
        match master_key_in_os_keyring(database_url) {
            Lookup::Found(text) => Ok(Some(text)),
            Lookup::Missing => Ok(None),
            Lookup::Unavailable(why) => {
                tracing::debug!("no OS keyring to ask for the master key: {why}");
                Ok(None)
            }
            Lookup::TimedOut(after) => Err(format!(
                "the OS keyring did not answer within {} s (is an unlock prompt waiting?): unlock it, or name the key with --master-key-file or LEADORCH_MASTER_KEY",
                after.as_secs()
            )),
        }
    }

    fn name(&self) -> &'static str {
        "the OS keyring"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Result<Option<&'static str>, &'static str>, Duration);

    impl SecretStore for Fixed {
        fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
            std::thread::sleep(self.1);
            self.0
                .map(|s| s.map(|s| Zeroizing::new(s.to_string())))
                .map_err(str::to_string)
        }
        fn set(&self, _: &str) -> Result<(), String> {
            unreachable!()
        }
    }

    #[test]
    fn a_lookup_tells_found_missing_unavailable_and_too_slow_apart() {
        let quick = Duration::ZERO;
        let long = Duration::from_secs(60);
        assert!(matches!(
            lookup_with_deadline(Fixed(Ok(Some("k")), quick), long),
            Lookup::Found(t) if t.as_str() == "k"
        ));
        assert!(matches!(
            lookup_with_deadline(Fixed(Ok(None), quick), long),
            Lookup::Missing
        ));
        assert!(matches!(
            lookup_with_deadline(Fixed(Err("no bus"), quick), long),
            Lookup::Unavailable(r) if r == "no bus"
        ));
        // A keyring that never answers in time: the caller is not held (the thread is left).
        assert!(matches!(
            lookup_with_deadline(Fixed(Ok(Some("k")), long), Duration::from_millis(1)),
            Lookup::TimedOut(_)
        ));
    }

    #[test]
    fn identities_name_one_database_whatever_the_url_spelling() {
        assert_eq!(
            database_identity("sqlite:///data/leadorch.db"),
            "sqlite:///data/leadorch.db"
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            database_identity("sqlite://rel/leadorch.db?mode=rwc"),
            format!(
                "sqlite://{}?mode=rwc",
                cwd.join("rel/leadorch.db").display()
            )
        );
        let pg = database_identity("postgres://ops:secret@db.example:5432/leadorch");
        assert!(!pg.contains("secret"), "{pg}");
        assert_eq!(entry_user("sqlite:///x.db"), "master-key sqlite:///x.db");
    }
}
