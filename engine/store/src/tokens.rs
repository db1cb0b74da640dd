//! OAuth refresh tokens of connected Google accounts, kept only sealed.
//!
//! A token is sealed (AES-256-GCM) with the account's data key — subject = account id,
//! purpose [`KeyPurpose::Account`] — bound to the account id, and stored in `google_tokens`.
//! Tokens never enter events: the log records that a grant, a refresh or a revocation happened,
//! not the secret. Deleting the row (revocation) removes the token; destroying the account's
//! keys (forgetting the account) would make any leftover copy unreadable as well.

use leadorch_domain::personal::KeyPurpose;
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::keys::Keyring;
use crate::on_pool;

/// Additional data every sealed token is bound to, so a row copied to another account fails.
fn aad(account_id: &str) -> Vec<u8> {
    format!("google-refresh-token:{account_id}").into_bytes()
}

/// Sealed refresh tokens, one per account.
#[derive(Clone, Debug)]
pub struct TokenVault {
    keys: Keyring,
}

impl TokenVault {
    /// Tokens in the keyring's database.
    pub fn new(keys: Keyring) -> TokenVault {
        TokenVault { keys }
    }

    /// Stores (or replaces) the account's refresh token. `now` in µs since the epoch.
    pub async fn put(&self, account_id: &str, refresh_token: &str, now: i64) -> Result<()> {
        if account_id.trim().is_empty() {
            return Err(StoreError::Crypto(
                "cannot store a token without an account id".into(),
            ));
        }
        let key = self
            .keys
            .key_for_write(account_id, KeyPurpose::Account, now, None)
            .await?;
        let sealed = key.seal(&aad(account_id), refresh_token.as_bytes())?;
        on_pool!(self.keys.db(), p => sqlx::query(
            "INSERT INTO google_tokens (account_id, sealed, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed, \
             updated_at = excluded.updated_at")
            .bind(account_id)
            .bind(sealed)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The account's refresh token, if one is stored and its key still exists.
    pub async fn get(&self, account_id: &str) -> Result<Option<Zeroizing<String>>> {
        let sealed: Option<Vec<u8>> = on_pool!(self.keys.db(), p => sqlx::query_scalar(
            "SELECT sealed FROM google_tokens WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(p)
            .await)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let Some(key) = self.keys.key(account_id, KeyPurpose::Account).await? else {
            return Ok(None);
        };
        let plain = Zeroizing::new(key.open(&aad(account_id), &sealed)?);
        let text = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::Crypto("a stored token is not text".into()))?;
        Ok(Some(Zeroizing::new(text.to_string())))
    }

    /// Deletes the account's token; returns whether there was one. On SQLite the freed bytes
    /// are zeroed and the WAL truncated, so the sealed copy leaves the files too.
    pub async fn delete(&self, account_id: &str) -> Result<bool> {
        let n = on_pool!(self.keys.db(), p => sqlx::query(
            "DELETE FROM google_tokens WHERE account_id = $1")
            .bind(account_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        self.keys.scrub().await?;
        Ok(n > 0)
    }

    /// Accounts with a stored token, sorted.
    pub async fn accounts(&self) -> Result<Vec<String>> {
        Ok(on_pool!(self.keys.db(), p => sqlx::query_scalar(
            "SELECT account_id FROM google_tokens ORDER BY account_id")
            .fetch_all(p)
            .await)?)
    }
}
