//! The desktop's master key (the key that wraps every data key, and so every sealed token
//! and personal field) lives in the OS keyring — Secret Service on Linux, the Keychain on
//! macOS, the Credential Manager on Windows — never in a file the desktop writes
//! (docs/adr/0015-desktop.md).
//!
//! One entry per database (service [`SERVICE`], user [`entry_user`]; `leadorch-secrets`, which
//! the CLI reads too). On first start the
//! desktop takes the key the CLI or daemon already use for that database (their key file),
//! or makes a new one, and stores it in the keyring; from then on it reads only the keyring.

use std::path::{Path, PathBuf};

use leadorch_store::MasterKey;
use zeroize::Zeroizing;

pub use leadorch_secrets::{entry_user, OsKeyring, SecretStore, SERVICE};

/// Where the master key came from this time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Read from the keyring.
    Keyring,
    /// Made now and stored in the keyring (a database the desktop opens first).
    Created,
    /// Copied into the keyring from the key file the CLI and daemon use for this database.
    Imported(PathBuf),
}

impl KeySource {
    /// For the app's status line.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Keyring => "OS keyring".into(),
            KeySource::Created => "OS keyring (new key)".into(),
            KeySource::Imported(p) => format!("OS keyring (imported from {})", p.display()),
        }
    }
}

/// The master key from `store`; when it holds none, the one in `key_file` (if that exists)
/// or a new one, stored in `store` first and read back, so a keyring that drops writes is
/// noticed now rather than after data has been sealed with a key nobody kept.
pub fn load_or_create(
    store: &dyn SecretStore,
    key_file: Option<&Path>,
) -> Result<(MasterKey, KeySource), String> {
    if let Some(text) = store.get()? {
        let key = MasterKey::from_base64(&text)
            .map_err(|e| format!("the master key in the OS keyring is unusable: {e}"))?;
        return Ok((key, KeySource::Keyring));
    }
    let (text, source) = match key_file.filter(|p| p.exists()) {
        Some(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("reading the key file {}: {e}", path.display()))?,
            );
            MasterKey::from_base64(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            (
                Zeroizing::new(text.trim().to_string()),
                KeySource::Imported(path.to_path_buf()),
            )
        }
        None => (MasterKey::new_base64(), KeySource::Created),
    };
    store.set(&text)?;
    let back = store
        .get()?
        .ok_or("the OS keyring accepted the master key but does not return it")?;
    if back.as_str() != text.as_str() {
        return Err("the OS keyring returned another master key than the one stored".into());
    }
    Ok((
        MasterKey::from_base64(&text).map_err(|e| e.to_string())?,
        source,
    ))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[derive(Default)]
    struct Memory {
        secret: RefCell<Option<String>>,
        drops_writes: bool,
    }

    impl SecretStore for Memory {
        fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
            Ok(self.secret.borrow().clone().map(Zeroizing::new))
        }
        fn set(&self, secret: &str) -> Result<(), String> {
            if !self.drops_writes {
                *self.secret.borrow_mut() = Some(secret.to_string());
            }
            Ok(())
        }
    }

    #[test]
    fn a_new_key_is_stored_and_then_read_back_on_the_next_start() {
        let store = Memory::default();
        let (first, source) = load_or_create(&store, None).unwrap();
        assert_eq!(source, KeySource::Created);
        let stored = store.secret.borrow().clone().unwrap();
        assert_eq!(stored.len(), 44, "base64 of 32 bytes");
        let (again, source) = load_or_create(&store, None).unwrap();
        assert_eq!(source, KeySource::Keyring);
        assert_eq!(again.check_value(), first.check_value());
    }

    #[test]
    fn the_cli_key_file_is_imported_once_and_the_keyring_wins_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.key");
        let text = MasterKey::new_base64();
        std::fs::write(&file, format!("{}\n", text.as_str())).unwrap();
        let store = Memory::default();
        let (key, source) = load_or_create(&store, Some(&file)).unwrap();
        assert_eq!(source, KeySource::Imported(file.clone()));
        assert_eq!(store.secret.borrow().as_deref(), Some(text.as_str()));
        let from_file = MasterKey::from_base64(&text).unwrap().check_value();
        assert_eq!(key.check_value(), from_file);
        // A different file later changes nothing: the keyring's key is the database's key.
        std::fs::write(&file, MasterKey::new_base64().as_str()).unwrap();
        let (key, source) = load_or_create(&store, Some(&file)).unwrap();
        assert_eq!(source, KeySource::Keyring);
        assert_eq!(key.check_value(), from_file);
    }

    #[test]
    fn bad_keys_and_keyrings_that_drop_writes_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.key");
        std::fs::write(&file, "not base64 !").unwrap();
        let store = Memory::default();
        let err = load_or_create(&store, Some(&file)).err().unwrap();
        assert!(
            err.contains("master.key") && err.contains("base64"),
            "{err}"
        );
        assert!(
            store.secret.borrow().is_none(),
            "nothing stored from a bad file"
        );

        let store = Memory::default();
        *store.secret.borrow_mut() = Some("short".into());
        let err = load_or_create(&store, None).err().unwrap();
        assert!(err.contains("OS keyring is unusable"), "{err}");

        let store = Memory {
            drops_writes: true,
            ..Default::default()
        };
        let err = load_or_create(&store, None).err().unwrap();
        assert!(err.contains("does not return it"), "{err}");
    }
}
