//! Keys: the master key (from a file or the environment), per-subject data keys, and each
//! project's secret (the key of its fingerprints, [`Keyring::project_secret`]).
//!
//! Each data subject gets one random AES-256-GCM key per [`KeyPurpose`]. Data keys are stored
//! beside the log in `subject_keys`, wrapped (encrypted) with the master key, so a copy of the
//! database alone reveals no personal data. Destroying a subject's keys (erasure, or the end
//! of a retention window) makes every ciphertext of theirs in the log unreadable for good,
//! while the log's bytes, and so its hash chain, stay exactly as they were.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use leadorch_domain::personal::KeyPurpose;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_pool;

/// Environment variable holding the master key (base64 of 32 bytes); wins over the file.
pub const MASTER_KEY_ENV: &str = "LEADORCH_MASTER_KEY";

const NONCE_LEN: usize = 12;

/// A stored key's new expiry when the same key is written again: later, never earlier
/// (`NULL` means "until erased"). One text for every statement that writes keys.
macro_rules! later_key_expiry {
    () => {
        "ON CONFLICT (subject_id, purpose) DO UPDATE SET expires_at = CASE \
           WHEN excluded.expires_at IS NULL THEN NULL \
           WHEN subject_keys.expires_at IS NULL OR subject_keys.expires_at < excluded.expires_at \
             THEN excluded.expires_at \
           ELSE subject_keys.expires_at END "
    };
}
pub(crate) use later_key_expiry;

/// Creates a key or, when one exists, keeps it and moves its expiry later. Returns the
/// stored wrapped key.
pub(crate) const UPSERT_KEY: &str = concat!(
    "INSERT INTO subject_keys (subject_id, purpose, wrapped_key, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5) ",
    later_key_expiry!(),
    "RETURNING wrapped_key"
);

/// The key that wraps all data keys. Never printed, never logged.
#[derive(Clone)]
pub struct MasterKey(Arc<Aes256Gcm>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey(Arc::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(
            bytes,
        ))))
    }

    /// A fresh random key (tests, benchmarks).
    pub fn random() -> MasterKey {
        let mut k = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *k);
        MasterKey::from_bytes(&k)
    }

    /// A new random key as base64 text, for a secret store (the desktop's OS keyring); read
    /// it back with [`MasterKey::from_base64`].
    pub fn new_base64() -> Zeroizing<String> {
        let mut k = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *k);
        Zeroizing::new(B64.encode(*k))
    }

    /// Parses base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<MasterKey> {
        let raw = Zeroizing::new(
            B64.decode(text.trim())
                .map_err(|_| StoreError::Crypto("the master key is not valid base64".into()))?,
        );
        let arr: &[u8; 32] = raw.as_slice().try_into().map_err(|_| {
            StoreError::Crypto(format!(
                "the master key must be 32 bytes, found {}",
                raw.len()
            ))
        })?;
        Ok(MasterKey::from_bytes(arr))
    }

    /// `LEADORCH_MASTER_KEY` if set, else the file at `path`, which must exist
    /// ([`StoreError::NoMasterKey`] otherwise; nothing is created).
    pub fn load_existing(path: &Path) -> Result<MasterKey> {
        if std::env::var_os(MASTER_KEY_ENV).is_none() && !path.exists() {
            return Err(StoreError::NoMasterKey {
                path: path.display().to_string(),
            });
        }
        Self::load(path)
    }

    /// `LEADORCH_MASTER_KEY` if set, else the file at `path`, created (mode 0600) with a new
    /// random key when missing.
    pub fn load(path: &Path) -> Result<MasterKey> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return MasterKey::from_base64(&text);
        }
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::from_base64(&text)
                .map_err(|e| StoreError::Crypto(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = MasterKey::new_base64();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| io(path, e))?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(path).map_err(|e| io(path, e))?;
                f.write_all(text.as_bytes()).map_err(|e| io(path, e))?;
                f.write_all(b"\n").map_err(|e| io(path, e))?;
                f.sync_all().map_err(|e| io(path, e))?;
                MasterKey::from_base64(&text)
            }
            Err(e) => Err(io(path, e)),
        }
    }

    /// A short public fingerprint of the key (a key check value: the first 6 bytes of a fixed
    /// block encrypted under it, as hex). Two places use the same key exactly when their
    /// check values agree; it says nothing about the key itself.
    pub fn check_value(&self) -> String {
        let nonce = Nonce::from_slice(&[0u8; 12]);
        let block = self
            .0
            .encrypt(
                nonce,
                Payload {
                    msg: &[0u8; 16],
                    aad: b"leadorch master key check value",
                },
            )
            .unwrap_or_default();
        hex::encode(block.get(..6).unwrap_or_default())
    }

    fn wrap(&self, subject: &str, purpose: KeyPurpose, key: &[u8; 32]) -> Result<Vec<u8>> {
        seal(&self.0, &wrap_aad(subject, purpose), key)
    }

    fn unwrap(&self, subject: &str, purpose: KeyPurpose, wrapped: &[u8]) -> Result<DataKey> {
        let raw = Zeroizing::new(open(&self.0, &wrap_aad(subject, purpose), wrapped).map_err(
            |_| {
                StoreError::Crypto(format!(
                    "the {} key of subject {subject} cannot be unwrapped: wrong master key?",
                    purpose.as_str()
                ))
            },
        )?);
        let arr: &[u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Crypto("a stored data key has the wrong length".into()))?;
        Ok(DataKey::from_raw(arr))
    }
}

fn secret_aad(project: &str) -> Vec<u8> {
    let mut aad = b"leadorch/project-secret/v1\0".to_vec();
    aad.extend_from_slice(project.as_bytes());
    aad
}

/// A project's secret: 32 random bytes, the key of its keyed fingerprints (HMAC-SHA256),
/// stored sealed with the master key in `project_secrets`. Zeroed when dropped; no `Debug`
/// output of the bytes.
#[derive(Clone)]
pub struct ProjectSecret(Zeroizing<[u8; 32]>);

impl fmt::Debug for ProjectSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProjectSecret(…)")
    }
}

impl ProjectSecret {
    /// The bytes, for keying a MAC. Never print or store them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        what: format!("master key file {}", path.display()),
        source: Arc::new(e),
    }
}

fn wrap_aad(subject: &str, purpose: KeyPurpose) -> Vec<u8> {
    let mut aad = b"leadorch/key/v1\0".to_vec();
    aad.extend_from_slice(subject.as_bytes());
    aad.push(0);
    aad.extend_from_slice(purpose.as_str().as_bytes());
    aad
}

/// `nonce ‖ ciphertext+tag` with a random 96-bit nonce.
fn seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> std::result::Result<Vec<u8>, ()> {
    if sealed.len() < NONCE_LEN {
        return Err(());
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| ())
}

/// One subject's key for one purpose.
#[derive(Clone)]
pub struct DataKey(Arc<Aes256Gcm>, [u8; 8]);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl DataKey {
    fn from_raw(raw: &[u8; 32]) -> DataKey {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"leadorch/key-id/v1\0")
            .chain_update(raw)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        DataKey(
            Arc::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(raw))),
            id,
        )
    }

    /// A short public id of this key (8 bytes of a SHA-256 of it, hex): stored beside each
    /// ciphertext, so a reader can tell "sealed by a key that was destroyed and replaced
    /// since" (the field is gone) from "tampered with" (an error).
    pub fn id(&self) -> String {
        hex::encode(self.1)
    }

    /// Encrypts `plaintext`, binding it to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        seal(&self.0, aad, plaintext)
    }

    /// Decrypts what [`DataKey::seal`] produced with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        open(&self.0, aad, sealed)
            .map_err(|_| StoreError::Crypto("a personal field failed authentication".into()))
    }
}

/// The subject key table.
#[derive(Clone, Debug)]
pub struct Keyring {
    db: Db,
    master: MasterKey,
}

impl Keyring {
    /// Keys in `db`, wrapped with `master`.
    pub fn new(db: Db, master: MasterKey) -> Keyring {
        Keyring { db, master }
    }

    /// The database the keys are in.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The master key's check value ([`MasterKey::check_value`]): which key this is, and
    /// nothing about it.
    pub fn master_check_value(&self) -> String {
        self.master.check_value()
    }

    /// The subject's key for `purpose`, created if missing; its expiry moves to
    /// `expires_at` (µs) when that is later (`None`: kept until erased).
    pub async fn key_for_write(
        &self,
        subject: &str,
        purpose: KeyPurpose,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<DataKey> {
        self.keys_for_write(&[(subject.to_string(), purpose, now, expires_at)])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Internal("no key written".into()))
    }

    /// [`Keyring::key_for_write`] for many keys in one transaction (one durable commit
    /// instead of one per key). Requests are `(subject, purpose, now, expires_at)`.
    pub async fn keys_for_write(
        &self,
        requests: &[(String, KeyPurpose, i64, Option<i64>)],
    ) -> Result<Vec<DataKey>> {
        let mut out = Vec::with_capacity(requests.len());
        if requests.is_empty() {
            return Ok(out);
        }
        let mut tx = crate::tx::WriteTx::begin(&self.db).await?;
        for (subject, purpose, now, expires_at) in requests {
            let mut fresh = Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(&mut *fresh);
            let wrapped = self.master.wrap(subject, *purpose, &fresh)?;
            let stored = tx
                .upsert_key(subject, purpose.as_str(), &wrapped, *now, *expires_at)
                .await?;
            out.push(self.master.unwrap(subject, *purpose, &stored)?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Unwraps a key read from `subject_keys`.
    pub(crate) fn unwrap_key(
        &self,
        subject: &str,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<DataKey> {
        self.master.unwrap(subject, purpose, wrapped)
    }

    /// A new random key for `subject` and `purpose`, wrapped (to store) and unwrapped (to
    /// seal with); nothing is stored.
    pub(crate) fn fresh(&self, subject: &str, purpose: KeyPurpose) -> Result<(Vec<u8>, DataKey)> {
        let mut fresh = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *fresh);
        let wrapped = self.master.wrap(subject, purpose, &fresh)?;
        let key = self.master.unwrap(subject, purpose, &wrapped)?;
        Ok((wrapped, key))
    }

    /// The subject's stored key for `purpose`, wrapped and unwrapped, if it exists.
    pub(crate) async fn stored(
        &self,
        subject: &str,
        purpose: KeyPurpose,
    ) -> Result<Option<(Vec<u8>, DataKey)>> {
        let stored: Option<Vec<u8>> = on_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT wrapped_key FROM subject_keys WHERE subject_id = $1 AND purpose = $2")
            .bind(subject)
            .bind(purpose.as_str())
            .fetch_optional(p)
            .await)?;
        stored
            .map(|w| {
                let key = self.master.unwrap(subject, purpose, &w)?;
                Ok((w, key))
            })
            .transpose()
    }

    /// The subject's key for `purpose`, if it still exists.
    pub async fn key(&self, subject: &str, purpose: KeyPurpose) -> Result<Option<DataKey>> {
        Ok(self.stored(subject, purpose).await?.map(|(_, key)| key))
    }

    /// Which purposes still have a key for this subject.
    pub async fn purposes(&self, subject: &str) -> Result<Vec<KeyPurpose>> {
        let names: Vec<String> = on_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT purpose FROM subject_keys WHERE subject_id = $1 ORDER BY purpose")
            .bind(subject)
            .fetch_all(p)
            .await)?;
        Ok(names.iter().filter_map(|n| KeyPurpose::parse(n)).collect())
    }

    /// Destroys the subject's keys for `purposes` (all when `None`); returns the purposes that
    /// had a key. On SQLite the freed pages are zeroed (`secure_delete`) and the WAL is
    /// checkpointed and truncated, so no copy of the key stays in the files.
    pub async fn destroy(
        &self,
        subject: &str,
        purposes: Option<&[KeyPurpose]>,
    ) -> Result<Vec<KeyPurpose>> {
        let destroyed = self.forget(subject, purposes).await?;
        self.scrub().await?;
        Ok(destroyed)
    }

    /// [`Keyring::destroy`] without pushing the deleted bytes out of the files: for bulk
    /// erasures, which call [`Keyring::scrub`] once at the end.
    pub async fn forget(
        &self,
        subject: &str,
        purposes: Option<&[KeyPurpose]>,
    ) -> Result<Vec<KeyPurpose>> {
        let had = self.purposes(subject).await?;
        let targets: Vec<KeyPurpose> = match purposes {
            Some(ps) => had.iter().copied().filter(|p| ps.contains(p)).collect(),
            None => had,
        };
        if targets.is_empty() {
            return Ok(targets);
        }
        let mut tx = crate::tx::WriteTx::begin(&self.db).await?;
        tx.lock_keys().await?;
        for p in &targets {
            tx.delete_key(subject, p.as_str()).await?;
        }
        // The kept facts may hold what this key opened: they go with it (ADR 0048).
        if targets.contains(&KeyPurpose::GoogleAds) && subject != crate::kept::SUBJECT {
            tx.drop_kept_facts().await?;
        }
        tx.commit().await?;
        Ok(targets)
    }

    /// Keys whose retention deadline is at or before `now` (µs).
    pub async fn expired(&self, now: i64) -> Result<Vec<(String, KeyPurpose)>> {
        let rows: Vec<(String, String)> = on_pool!(&self.db, p => sqlx::query_as(
            "SELECT subject_id, purpose FROM subject_keys \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY subject_id, purpose")
            .bind(now)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, p)| KeyPurpose::parse(&p).map(|p| (s, p)))
            .collect())
    }

    /// The secret of `project`, made (32 random bytes, sealed with the master key and bound to
    /// the project's name) the first time it is asked for. Race-safe: when two processes
    /// make one at once, the first stored wins and both return it. Cache it: each call reads
    /// the table.
    pub async fn project_secret(&self, project: &str) -> Result<ProjectSecret> {
        if project.is_empty() || project.len() > 128 {
            return Err(StoreError::InvalidInput(format!(
                "a project name must be 1 to 128 characters, not {}",
                project.len()
            )));
        }
        let aad = secret_aad(project);
        let mut fresh = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *fresh);
        let sealed = seal(&self.master.0, &aad, fresh.as_slice())?;
        let now = chrono::Utc::now().timestamp_micros();
        on_pool!(&self.db, p => sqlx::query(
            "INSERT INTO project_secrets (project, sealed, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (project) DO NOTHING")
            .bind(project)
            .bind(&sealed)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        let stored: Vec<u8> = on_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT sealed FROM project_secrets WHERE project = $1")
            .bind(project)
            .fetch_one(p)
            .await)?;
        let raw = Zeroizing::new(open(&self.master.0, &aad, &stored).map_err(|_| {
            StoreError::Crypto(format!(
                "the secret of project {project} cannot be unsealed: wrong master key?"
            ))
        })?);
        let mut secret = Zeroizing::new([0u8; 32]);
        if raw.len() != 32 {
            return Err(StoreError::Crypto(
                "a stored project secret has the wrong length".into(),
            ));
        }
        secret.copy_from_slice(&raw);
        Ok(ProjectSecret(secret))
    }

    /// Pushes deleted key bytes out of the database files (SQLite: checkpoint and truncate
    /// the WAL; PostgreSQL: vacuum the key table).
    pub async fn scrub(&self) -> Result<()> {
        self.db.scrub_subject_keys().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_tell_keys_apart_and_a_key_from_its_text() {
        let text = MasterKey::new_base64();
        let a = MasterKey::from_base64(&text).unwrap();
        let b = MasterKey::from_base64(&text).unwrap();
        assert_eq!(a.check_value(), b.check_value());
        assert_eq!(a.check_value().len(), 12);
        assert_ne!(a.check_value(), MasterKey::random().check_value());
        assert_ne!(
            MasterKey::new_base64().as_str(),
            text.as_str(),
            "new keys are random"
        );
    }

    #[test]
    fn wrapped_keys_are_bound_to_subject_and_purpose() {
        let m = MasterKey::random();
        let w = m.wrap("s1", KeyPurpose::Contact, &[9; 32]).unwrap();
        assert!(m.unwrap("s1", KeyPurpose::Contact, &w).is_ok());
        assert!(m.unwrap("s2", KeyPurpose::Contact, &w).is_err());
        assert!(m.unwrap("s1", KeyPurpose::Consent, &w).is_err());
        assert!(MasterKey::random()
            .unwrap("s1", KeyPurpose::Contact, &w)
            .is_err());
    }

    #[test]
    fn project_secrets_are_bound_to_their_project() {
        let m = MasterKey::random();
        let sealed = seal(&m.0, &secret_aad("acme"), &[5; 32]).unwrap();
        assert_eq!(
            open(&m.0, &secret_aad("acme"), &sealed).unwrap(),
            vec![5; 32]
        );
        assert!(open(&m.0, &secret_aad("other"), &sealed).is_err());
        assert!(open(&MasterKey::random().0, &secret_aad("acme"), &sealed).is_err());
        assert_eq!(
            format!("{:?}", ProjectSecret(Zeroizing::new([1; 32]))),
            "ProjectSecret(…)"
        );
    }

    #[test]
    fn master_key_text_is_checked() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&B64.encode([1u8; 16])).is_err());
        assert!(MasterKey::from_base64(&B64.encode([1u8; 32])).is_ok());
    }

    #[test]
    fn master_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let a = MasterKey::load(&path).unwrap();
        let sealed = a.wrap("s", KeyPurpose::Contact, &[3; 32]).unwrap();
        let b = MasterKey::load(&path).unwrap();
        assert!(b.unwrap("s", KeyPurpose::Contact, &sealed).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
