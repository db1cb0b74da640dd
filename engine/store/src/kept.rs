//! The kept facts: a sealed copy of the facts view as of one position, so that a process on a
//! long log starts from it and folds only the events after it (ADR 0048). What the copy holds
//! is `leadorch_evaluate`'s business; the store keeps its two rows and the rules that make it
//! safe to keep Google data:
//!
//! - **Sealed.** The copy holds Google data opened with the accounts' keys, so it is stored only
//!   sealed, with a data key of its own ([`SUBJECT`], purpose `google_ads`), bound to the clear
//!   head written beside it (the head's bytes are the authenticated data).
//! - **Never older than a key.** Forgetting any account's Google key ([`Keyring::forget`])
//!   deletes the copy and its key in the same transaction. Writing a copy checks, in its own
//!   transaction, that every account key it was folded with is still the one named; the two
//!   transactions are serialised (SQLite's write lock; a transaction-scoped advisory lock on
//!   PostgreSQL), so a copy written while an account is forgotten is either deleted with the
//!   key or never written.
//!
//! Both rows live in `read_models` under [`PROJECTION`] (`head`, `sealed`).

use leadorch_domain::personal::KeyPurpose;

use crate::error::Result;
use crate::keys::Keyring;
use crate::tx::WriteTx;

/// The read-model projection holding the kept facts' two rows.
pub const PROJECTION: &str = "kept_facts";
/// The data key's subject: no Google account, team or lead id has this form.
pub const SUBJECT: &str = "leadorch:kept-facts";

const HEAD: &str = "head";
const SEALED: &str = "sealed";

/// The kept copy as read back: the clear head, and the opened copy.
#[derive(Debug)]
pub struct Kept {
    /// The head, as written.
    pub head: Vec<u8>,
    /// The copy, opened.
    pub data: Vec<u8>,
}

/// Why a copy was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotKept {
    /// An account's Google key is not the one its data was opened with (forgotten since).
    KeyChanged(String),
}

impl Keyring {
    /// Writes the kept copy (`head` in clear, `data` sealed), replacing the last one, unless
    /// one of `accounts` (each with the id of the Google key its data was opened with, `None`:
    /// it had none) has another key now.
    pub async fn keep_facts(
        &self,
        head: &[u8],
        data: &[u8],
        accounts: &[(String, Option<String>)],
        now: i64,
    ) -> Result<std::result::Result<(), NotKept>> {
        let (wrapped, _) = self.fresh(SUBJECT, KeyPurpose::GoogleAds)?;
        let mut tx = WriteTx::begin(self.db()).await?;
        tx.lock_keys().await?;
        for (account, id) in accounts {
            let now_id = match tx.wrapped_key(account, KeyPurpose::GoogleAds).await? {
                Some(w) => Some(self.unwrap_key(account, KeyPurpose::GoogleAds, &w)?.id()),
                None => None,
            };
            if now_id != *id {
                return Ok(Err(NotKept::KeyChanged(account.clone())));
            }
        }
        let stored = tx
            .upsert_key(SUBJECT, KeyPurpose::GoogleAds.as_str(), &wrapped, now, None)
            .await?;
        let key = self.unwrap_key(SUBJECT, KeyPurpose::GoogleAds, &stored)?;
        let sealed = key.seal(head, data)?;
        tx.put_many(
            PROJECTION,
            &[
                (HEAD.to_string(), head.to_vec()),
                (SEALED.to_string(), sealed),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The kept copy, if there is one and it opens (`None` when its key is gone or it does not
    /// authenticate: a copy is only a shortcut, the log is the truth).
    pub async fn kept_facts(&self) -> Result<Option<Kept>> {
        let (Some(head), Some(sealed)) = (
            self.db().doc(PROJECTION, HEAD).await?,
            self.db().doc(PROJECTION, SEALED).await?,
        ) else {
            return Ok(None);
        };
        let Some(key) = self.key(SUBJECT, KeyPurpose::GoogleAds).await? else {
            return Ok(None);
        };
        match key.open(&head, &sealed) {
            Ok(data) => Ok(Some(Kept { head, data })),
            Err(_) => {
                tracing::warn!("the kept facts do not authenticate; folding the log instead");
                Ok(None)
            }
        }
    }
}

impl WriteTx {
    /// Deletes the kept copy and its key (an account's Google key is being forgotten, or a
    /// benchmark measures a start without it). The next start folds the log.
    pub async fn drop_kept_facts(&mut self) -> Result<()> {
        self.clear(PROJECTION).await?;
        self.delete_key(SUBJECT, KeyPurpose::GoogleAds.as_str())
            .await?;
        Ok(())
    }
}
