//! Connected Google accounts: what `leadorch google connect|revoke|forget|list`, the desktop
//! and the daemon do with OAuth grants (the coming HTTP API will use it too).
//!
//! - A completed consent stores the refresh token sealed ([`leadorch_store::TokenVault`]),
//!   asks Google which customers the grant reaches, and records `ConsentGranted` (who, when,
//!   scopes, customers — never the token).
//! - The daemon gets its access tokens from [`AccountTokens`]: a [`TokenManager`] over the
//!   stored refresh token that never waits on a person. A refused refresh token is recorded as
//!   `ReconsentNeeded` (and reported to the caller's notifier) as soon as it happens; from then
//!   on every Google call fails at once with a "consent needed again" error, without calling
//!   Google, until the operator connects the account again.
//! - Revoking ends the grant at Google, deletes the stored token and records `Revoked`;
//!   forgetting also destroys the account's keys — its `account` key (the email and any copy
//!   of the token) and its `google_ads` key, which sealed every campaign snapshot, metric
//!   and facts excerpt read through the account (ADR 0012) — and records `DataDeleted`.
//!
//! An account belongs to a project (ADR 0030): the default project's account `ops` is stored
//! as `ops`, project `acme`'s as `acme/ops` (its stream `google_account:acme/ops`, its token
//! row and its keys' subject). The functions here take the stored name; [`list_in`] shows
//! one project's accounts by their bare names.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadorch_core::Engine;
use leadorch_domain::google_account::{AccountStatus, GoogleAccountCommand};
use leadorch_domain::personal::KeyPurpose;
use leadorch_domain::project;
use leadorch_domain::{AnyEvent, GoogleAccount};
use leadorch_google::{AccessTokens, GoogleAdsClient, GoogleAdsConfig, StaticToken, TokenError};
use leadorch_oauth::{
    ConsentFlow, OAuthConfig, OAuthError, Revocation, Secret, TokenEvent, TokenManager, TokenSet,
};
use leadorch_store::Metadata;

use leadorch_config::GoogleSettings;

/// Errors of account management.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] leadorch_core::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] leadorch_store::StoreError),
    /// Bad input from the user, or Google refusing a request (what and where).
    #[error("{0}")]
    Input(String),
    /// A Google consent did not complete (refused, timed out, state or PKCE mismatch, the
    /// token endpoint failing).
    #[error(transparent)]
    OAuth(#[from] leadorch_oauth::OAuthError),
}

/// Result of account management.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The OAuth client from `[google]`, then `LEADORCH_GOOGLE_*` variables.
pub fn oauth_config(s: &GoogleSettings) -> Result<OAuthConfig> {
    let mut c = OAuthConfig::new(s.client_id.clone().unwrap_or_default());
    if let Some(secret) = &s.client_secret {
        c.client_secret = Some(Secret::new(secret.clone()));
    }
    for (key, value, slot) in [
        ("token_url", &s.token_url, &mut c.token_url),
        ("auth_url", &s.auth_url, &mut c.auth_url),
        ("revoke_url", &s.revoke_url, &mut c.revoke_url),
    ] {
        if let Some(url) = value {
            *slot = url
                .parse()
                .map_err(|e| Error::Input(format!("[google] {key} {url:?}: {e}")))?;
        }
    }
    c.apply_env().map_err(|e| Error::Input(e.to_string()))?;
    if c.client_id.is_empty() {
        return Err(Error::Input(
            "no OAuth client id: set [google] client_id in the config file or LEADORCH_GOOGLE_CLIENT_ID".into(),
        ));
    }
    Ok(c)
}

/// The Ads client settings from `[google]`, then `LEADORCH_GOOGLE_ADS_*` variables.
pub fn ads_config(s: &GoogleSettings) -> Result<GoogleAdsConfig> {
    let mut c = GoogleAdsConfig::default();
    if let Some(url) = &s.base_url {
        c.base_url = url
            .parse()
            .map_err(|e| Error::Input(format!("[google] base_url {url:?}: {e}")))?;
    }
    if let Some(v) = &s.api_version {
        c.api_version = v.clone();
    }
    c.developer_token = s.developer_token.clone();
    c.login_customer_id = s.login_customer_id.clone();
    let c = c
        .from_env_overrides()
        .map_err(|e| Error::Input(e.to_string()))?;
    c.validate().map_err(|e| Error::Input(e.to_string()))?;
    Ok(c)
}

/// One connected (or once connected) account, as `leadorch google list --json` and the
/// desktop show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct AccountSummary {
    /// The account name.
    pub account: String,
    /// `not_connected`, `connected`, `reconsent_needed` or `revoked`.
    #[ts(type = r#""not_connected" | "connected" | "reconsent_needed" | "revoked""#)]
    pub status: &'static str,
    /// Customer ids the grant reaches.
    pub customers: Vec<String>,
    /// When the grant was given.
    pub connected_at: Option<DateTime<Utc>>,
    /// Why Google refused the grant, while consent is needed again.
    pub reconsent_reason: Option<String>,
    /// When the account's Google data was deleted (`leadorch google forget`).
    pub data_deleted_at: Option<DateTime<Utc>>,
    /// Until when Google's daily quota was last recorded exhausted: nothing is sent to Google
    /// through the account before then. In the past once the hold is over (compare it with
    /// the time now); none when it never was.
    pub quota_exhausted_until: Option<DateTime<Utc>>,
}

/// Every project's accounts in the read model, by stored name (`acme/ops`), in name order (the
/// read model brought up to date first).
pub async fn list(engine: &Engine) -> Result<Vec<AccountSummary>> {
    // Only the accounts' read model: the others (every lead's) are not loaded to list them.
    let accounts = leadorch_core::projection::google_accounts(&engine.store).await?;
    Ok(accounts
        .iter()
        .map(|(id, doc)| {
            let a = &doc.state;
            AccountSummary {
                account: id.to_string(),
                status: match a.status() {
                    AccountStatus::NotConnected => "not_connected",
                    AccountStatus::Connected => "connected",
                    AccountStatus::ReconsentNeeded => "reconsent_needed",
                    AccountStatus::Revoked => "revoked",
                },
                customers: a.accessible_customers().to_vec(),
                connected_at: a.connected_at(),
                reconsent_reason: a.reconsent_reason().map(str::to_string),
                data_deleted_at: a.data_deleted_at(),
                quota_exhausted_until: a.quota_exhausted_until(),
            }
        })
        .collect())
}

/// The accounts of `project`, in name order, named bare (`ops` for the stored `acme/ops`):
/// another project's accounts are left out.
pub async fn list_in(engine: &Engine, project: &str) -> Result<Vec<AccountSummary>> {
    Ok(list(engine)
        .await?
        .into_iter()
        .filter_map(|mut a| {
            a.account = project::unscoped(project, &a.account)?.to_string();
            Some(a)
        })
        .collect())
}

/// A consent under way for one account: Google's consent page to open, and the loopback
/// redirect that waits for its answer (PKCE S256 and `state` checked by [`ConsentFlow`]).
pub struct PendingConsent {
    account: String,
    flow: ConsentFlow,
    ads: GoogleAdsConfig,
}

impl PendingConsent {
    /// Starts the loopback listener (`port`, or any free one) for the client of `settings`,
    /// to connect `account` (refused here, before any browser opens, when it is not a
    /// usable name).
    pub fn start(
        settings: &GoogleSettings,
        account: &str,
        port: Option<u16>,
    ) -> Result<PendingConsent> {
        check_name(account)?;
        let oauth = oauth_config(settings)?;
        let ads = ads_config(settings)?;
        let flow = ConsentFlow::start(oauth, port)?;
        Ok(PendingConsent {
            account: account.to_string(),
            flow,
            ads,
        })
    }

    /// The account being connected.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Google's consent page, for the system browser.
    pub fn consent_page(&self) -> &str {
        self.flow.authorize_url().as_str()
    }

    /// Where Google's answer is awaited.
    pub fn redirect_uri(&self) -> &str {
        self.flow.redirect_uri()
    }

    /// Waits up to `timeout` for the answer, then stores the grant and records the consent
    /// (as [`record_consent`]).
    pub async fn finish(
        self,
        engine: &Engine,
        timeout: std::time::Duration,
        actor: &str,
    ) -> Result<Connected> {
        let tokens = self.flow.wait(timeout).await?;
        record_consent(engine, &self.account, &tokens, self.ads, actor, Utc::now()).await
    }
}

/// The account's state from its stream (default when it was never connected).
pub async fn load_account(engine: &Engine, account: &str) -> Result<GoogleAccount> {
    Ok(engine
        .load_state::<GoogleAccount>(account, |e| match e {
            AnyEvent::GoogleAccount(e) => Some(e),
            _ => None,
        })
        .await?)
}

/// Checks a stored account name: `NAME` for the default project's account, `PROJECT/NAME` for
/// another project's (ADR 0030): `PROJECT` a project name other than `default` (whose
/// accounts carry no prefix), `NAME` as [`check_bare_name`] says.
pub fn check_name(account: &str) -> Result<()> {
    let Some((project, name)) = account.split_once('/') else {
        return check_bare_name(account);
    };
    if project == project::DEFAULT {
        return Err(Error::Input(format!(
            "account name {account:?}: the default project's accounts carry no project prefix: use {name:?}"
        )));
    }
    project::check_name(project)
        .map_err(|e| Error::Input(format!("account name {account:?}: {e}")))?;
    check_bare_name(name).map_err(|_| {
        Error::Input(format!(
            "account name {account:?}: after the project, use 1-100 letters, digits and . _ @ + -"
        ))
    })
}

/// Checks an account's name within its project (as `--account` and the HTTP API take it): 1
/// to 100 letters, digits and `. _ @ + -` (so no `/`: the project is given apart).
pub fn check_bare_name(account: &str) -> Result<()> {
    let ok = !account.is_empty()
        && account.len() <= 100
        && account
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "account name {account:?}: use 1-100 letters, digits and . _ @ + -"
        )))
    }
}

/// The command that connects a stored account (again), for messages:
/// `leadorch google connect --account ops`, or with `--project acme` for `acme/ops`.
pub fn connect_command(account: &str) -> String {
    let project = project::of(account);
    format!(
        "leadorch google connect{} --account {}",
        project::flag(project),
        project::bare(project, account)
    )
}

/// A stored account name for messages: `"ops"`, or `"ops" of project acme`.
fn shown(account: &str) -> String {
    match account.split_once('/') {
        Some((project, name)) => format!("{name:?} of project {project}"),
        None => format!("{account:?}"),
    }
}

/// What a completed consent recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    /// The account name.
    pub account: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// Customer ids the grant reaches.
    pub customers: Vec<String>,
}

/// Stores a consent's refresh token sealed, lists the customers it reaches, and records the
/// grant.
pub async fn record_consent(
    engine: &Engine,
    account: &str,
    tokens: &TokenSet,
    ads: GoogleAdsConfig,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Connected> {
    check_name(account)?;
    let refresh = tokens.refresh_token.as_ref().ok_or_else(|| {
        Error::Input("Google issued no refresh token: consent again with prompt=consent".into())
    })?;
    let client = GoogleAdsClient::new(
        ads,
        Arc::new(StaticToken(tokens.access_token.expose().to_string())),
    )
    .map_err(|e| Error::Input(e.to_string()))?;
    let customers = client
        .list_accessible_customers()
        .await
        .map_err(|e| Error::Input(format!("listing the customers of the grant: {e}")))?;
    engine
        .store
        .tokens()
        .put(account, refresh.expose(), now.timestamp_micros())
        .await?;
    engine
        .execute::<GoogleAccount>(
            account,
            GoogleAccountCommand::GrantConsent {
                account_id: account.to_string(),
                email: None,
                scopes: tokens.scopes.clone(),
                accessible_customers: customers.clone(),
                at: now,
            },
            &Metadata::actor(actor),
        )
        .await?;
    Ok(Connected {
        account: account.to_string(),
        scopes: tokens.scopes.clone(),
        customers,
    })
}

/// What revoking did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Google ended the grant.
    AtGoogle,
    /// Google no longer knew the token (already revoked or expired).
    AlreadyEnded,
    /// No token was stored (nothing to revoke at Google).
    NoToken,
}

/// Revokes the grant at Google, deletes the stored token and records `Revoked`.
pub async fn revoke(
    engine: &Engine,
    oauth: &OAuthConfig,
    account: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Revoked> {
    let state = load_account(engine, account).await?;
    if state.status() == AccountStatus::NotConnected {
        return Err(Error::Input(format!(
            "no Google account named {} is connected",
            shown(account)
        )));
    }
    let vault = engine.store.tokens();
    let outcome = match vault.get(account).await? {
        Some(token) => {
            match leadorch_oauth::revoke(oauth, &Secret::new(token.as_str()))
                .await
                .map_err(|e| Error::Input(format!("revoking at Google: {e}")))?
            {
                Revocation::Revoked => Revoked::AtGoogle,
                _ => Revoked::AlreadyEnded,
            }
        }
        None => Revoked::NoToken,
    };
    vault.delete(account).await?;
    if state.status() != AccountStatus::Revoked {
        engine
            .execute::<GoogleAccount>(
                account,
                GoogleAccountCommand::Revoke { at: now },
                &Metadata::actor(actor),
            )
            .await?;
    }
    Ok(outcome)
}

/// Revokes (when still connected), deletes the token, destroys the account's keys (its
/// identity and OAuth material, and the Google Ads data read through it) and records
/// `DataDeleted`. Keys go first: a crash in between leaves the data unreadable and the record
/// to be written by a re-run, never the reverse.
pub async fn forget(
    engine: &Engine,
    oauth: &OAuthConfig,
    account: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let state = load_account(engine, account).await?;
    match state.status() {
        AccountStatus::NotConnected => {
            return Err(Error::Input(format!(
                "no Google account named {} is known",
                shown(account)
            )))
        }
        AccountStatus::Revoked => {}
        AccountStatus::Connected | AccountStatus::ReconsentNeeded => {
            revoke(engine, oauth, account, actor, now).await?;
        }
    }
    engine.store.tokens().delete(account).await?;
    engine
        .store
        .codec
        .keys()
        .destroy(account, Some(&[KeyPurpose::Account, KeyPurpose::GoogleAds]))
        .await?;
    if state.data_deleted_at().is_none() {
        engine
            .execute::<GoogleAccount>(
                account,
                GoogleAccountCommand::DeleteData { at: now },
                &Metadata::actor(actor),
            )
            .await?;
    }
    Ok(())
}

/// Access tokens for the Google Ads client from an account's stored grant.
#[derive(Clone)]
pub struct AccountTokens {
    manager: TokenManager,
    /// Token events still being recorded (see [`AccountTokens::settle`]).
    recording: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for AccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountTokens(…)")
    }
}

/// Told when an account needs consent again (the daemon logs it; the desktop shows it).
pub type Notifier = Arc<dyn Fn(&str, &str) + Send + Sync>;

impl AccountTokens {
    /// Tokens for `account` from its stored refresh token. Refreshes are recorded as
    /// `TokenRefreshed`; a refused refresh token as `ReconsentNeeded` (then `notify` is called
    /// with the account and Google's reason).
    pub async fn load(
        engine: &Engine,
        oauth: OAuthConfig,
        account: &str,
        notify: Notifier,
    ) -> Result<AccountTokens> {
        let state = load_account(engine, account).await?;
        let (who, connect) = (shown(account), connect_command(account));
        match state.status() {
            AccountStatus::Connected => {}
            AccountStatus::NotConnected => {
                return Err(Error::Input(format!(
                    "no Google account named {who} is connected: run `{connect}`"
                )))
            }
            AccountStatus::ReconsentNeeded => {
                return Err(Error::Input(format!(
                    "Google account {who} needs consent again ({}): run `{connect}`",
                    state.reconsent_reason().unwrap_or("refresh token refused")
                )))
            }
            AccountStatus::Revoked => {
                return Err(Error::Input(format!(
                    "Google account {who} was revoked: run `{connect}`"
                )))
            }
        }
        let token = engine.store.tokens().get(account).await?.ok_or_else(|| {
            Error::Input(format!(
                "no stored grant for Google account {who}: run `{connect}`"
            ))
        })?;
        let manager = TokenManager::new(oauth, Secret::new(token.as_str()), None)
            .map_err(|e| Error::Input(e.to_string()))?;
        let engine = engine.clone();
        let name = account.to_string();
        let recording: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let tasks = recording.clone();
        manager.on_event(Arc::new(move |event| {
            let engine = engine.clone();
            let name = name.clone();
            let notify = notify.clone();
            let now = Utc::now();
            // Recorded from a task: observers are called synchronously.
            let task = tokio::spawn(async move {
                let (command, reconsent) = match event {
                    TokenEvent::Refreshed { expires_at } => (
                        GoogleAccountCommand::RecordTokenRefresh { expires_at, at: now },
                        None,
                    ),
                    TokenEvent::ReconsentNeeded { reason } => (
                        GoogleAccountCommand::RecordReconsentNeeded {
                            reason: reason.clone(),
                            at: now,
                        },
                        Some(reason),
                    ),
                    TokenEvent::RefreshTokenRotated { refresh_token } => {
                        if let Err(e) = engine
                            .store
                            .tokens()
                            .put(&name, refresh_token.expose(), now.timestamp_micros())
                            .await
                        {
                            tracing::warn!(account = %name, error = %e, "storing the rotated refresh token failed");
                        }
                        return;
                    }
                    _ => return,
                };
                if let Err(e) = engine
                    .execute::<GoogleAccount>(&name, command, &Metadata::actor("daemon"))
                    .await
                {
                    tracing::warn!(account = %name, error = %e, "recording a token event failed");
                }
                if let Some(reason) = reconsent {
                    notify(&name, &reason);
                }
            });
            if let Ok(mut tasks) = tasks.lock() {
                tasks.retain(|t| !t.is_finished());
                tasks.push(task);
            }
        }));
        Ok(AccountTokens { manager, recording })
    }

    /// Waits until every token event so far (a refresh, a refused grant) is recorded and
    /// its notifier called, so a caller about to exit (`daemon --once`) loses none.
    pub async fn settle(&self) {
        loop {
            let pending = match self.recording.lock() {
                Ok(mut tasks) => std::mem::take(&mut *tasks),
                Err(_) => return,
            };
            if pending.is_empty() {
                return;
            }
            for task in pending {
                let _ = task.await;
            }
        }
    }

    /// The underlying manager.
    pub fn manager(&self) -> &TokenManager {
        &self.manager
    }
}

fn token_error(e: OAuthError) -> TokenError {
    if e.needs_reconsent() {
        TokenError::ReconsentNeeded {
            reason: e.to_string(),
        }
    } else {
        TokenError::Unavailable {
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl AccessTokens for AccountTokens {
    async fn access_token(&self) -> Result<String, TokenError> {
        self.manager
            .access_token()
            .await
            .map(|s| s.expose().to_string())
            .map_err(token_error)
    }

    async fn refresh(&self) -> Result<String, TokenError> {
        self.manager
            .refresh()
            .await
            .map(|s| s.expose().to_string())
            .map_err(token_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bare_or_carry_a_project_other_than_default() {
        let long_project = format!("{}/ops", "a".repeat(33));
        let long = "a".repeat(101);
        for ok in ["ops", "ads.nl+1@example.org", "acme/ops", "client-7/a_b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "bad name",
            "default/ops",
            "a/b/c",
            "Acme/ops",
            "/ops",
            "acme/",
            "-acme/ops",
            long_project.as_str(),
            long.as_str(),
        ] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("account name {bad:?}")), "{err}");
        }
        assert!(check_name("default/ops")
            .unwrap_err()
            .to_string()
            .contains("use \"ops\""));
        // Within a project, a name holds no project.
        assert!(check_bare_name("ops").is_ok());
        assert!(check_bare_name("acme/ops").is_err());
    }

    #[test]
    fn messages_name_the_account_within_its_project() {
        assert_eq!(
            connect_command("ops"),
            "leadorch google connect --account ops"
        );
        assert_eq!(
            connect_command("acme/ops"),
            "leadorch google connect --project acme --account ops"
        );
        assert_eq!(shown("ops"), "\"ops\"");
        assert_eq!(shown("acme/ops"), "\"ops\" of project acme");
    }
}
