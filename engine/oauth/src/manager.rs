//! [`TokenManager`]: access tokens for a headless daemon, from a stored refresh token.

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use oauth2::RefreshToken;
use tokio::sync::Mutex;

use crate::http::{classify, http_client, issued, token_client, within, OAuthHttp, Stage};
use crate::{OAuthConfig, OAuthError, Result, Secret};

/// A cached access token is used while it is valid for more than this.
pub const REFRESH_MARGIN: ChronoDuration = ChronoDuration::seconds(60);

/// What a [`TokenManager`] reports to its observers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TokenEvent {
    /// A new access token was obtained.
    Refreshed {
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
    /// The server issued a new refresh token with the access token; the manager uses it from
    /// now on, and whoever stores the refresh token should store this one.
    RefreshTokenRotated {
        /// The new refresh token (redacted in `Debug`).
        refresh_token: Secret,
    },
    /// The refresh token was rejected (expired or revoked): a person must consent again. Sent
    /// once, when the manager becomes poisoned.
    ReconsentNeeded {
        /// The server's explanation.
        reason: String,
    },
}

/// An observer of [`TokenEvent`]s. Called synchronously: keep it short (record, notify).
pub type TokenObserver = Arc<dyn Fn(TokenEvent) + Send + Sync>;

/// Keeps an access token fresh using a refresh token, without ever waiting on a person.
///
/// - [`TokenManager::access_token`] returns the cached token while it is valid for more than
///   [`REFRESH_MARGIN`], else refreshes; concurrent callers share one refresh.
/// - A refresh that fails with `invalid_grant` *poisons* the manager: every later call fails
///   with [`OAuthError::ReconsentNeeded`] at once, without contacting the server, until
///   [`TokenManager::replace_refresh_token`] is called after a new consent.
/// - 5xx, transport errors and timeouts ([`OAuthConfig::http_timeout`]) are
///   [`OAuthError::Unavailable`] (retryable). There is no interactive fallback.
///
/// Cloning is cheap and clones share the cache.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: OAuthConfig,
    http: reqwest::Client,
    state: Mutex<State>,
    observers: StdMutex<Vec<TokenObserver>>,
}

struct State {
    refresh_token: Secret,
    cached: Option<(Secret, DateTime<Utc>)>,
    /// Why the refresh token is unusable, once it is.
    poisoned: Option<String>,
}

impl TokenManager {
    /// A manager for `refresh_token`, optionally with an access token from a previous run and
    /// its expiry. Does no I/O.
    pub fn new(
        config: OAuthConfig,
        refresh_token: Secret,
        cached: Option<(Secret, DateTime<Utc>)>,
    ) -> Result<Self> {
        config.validate()?;
        let http = http_client(config.http_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                state: Mutex::new(State {
                    refresh_token,
                    cached,
                    poisoned: None,
                }),
                observers: StdMutex::new(Vec::new()),
            }),
        })
    }

    /// Adds an observer of refreshes and of the need to consent again.
    pub fn on_event(&self, observer: TokenObserver) {
        self.inner
            .observers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(observer);
    }

    /// A valid access token: the cached one if it expires more than [`REFRESH_MARGIN`] from
    /// now, else a fresh one (one refresh shared by all concurrent callers).
    pub async fn access_token(&self) -> Result<Secret> {
        let mut state = self.inner.state.lock().await;
        if let Some(reason) = &state.poisoned {
            return Err(OAuthError::ReconsentNeeded {
                reason: reason.clone(),
            });
        }
        if let Some((token, expires_at)) = &state.cached {
            if *expires_at - Utc::now() > REFRESH_MARGIN {
                return Ok(token.clone());
            }
        }
        self.refresh_locked(&mut state).await
    }

    /// Refreshes now, whatever the cache holds, and returns the new access token.
    pub async fn refresh(&self) -> Result<Secret> {
        let mut state = self.inner.state.lock().await;
        if let Some(reason) = &state.poisoned {
            return Err(OAuthError::ReconsentNeeded {
                reason: reason.clone(),
            });
        }
        self.refresh_locked(&mut state).await
    }

    /// Installs the refresh token of a new consent: clears the poison and the cached access
    /// token.
    pub async fn replace_refresh_token(&self, refresh_token: Secret) {
        let mut state = self.inner.state.lock().await;
        state.refresh_token = refresh_token;
        state.cached = None;
        state.poisoned = None;
    }

    /// Installs a whole new consent ([`TokenSet`](crate::TokenSet)): its refresh token (if
    /// any) and its access token.
    pub async fn replace_tokens(&self, tokens: &crate::TokenSet) {
        let mut state = self.inner.state.lock().await;
        if let Some(refresh_token) = &tokens.refresh_token {
            state.refresh_token = refresh_token.clone();
        }
        state.cached = Some((tokens.access_token.clone(), tokens.expires_at));
        state.poisoned = None;
    }

    /// Why a new consent is needed, if the manager is poisoned.
    pub async fn reconsent_reason(&self) -> Option<String> {
        self.inner.state.lock().await.poisoned.clone()
    }

    /// When the cached access token expires, if there is one.
    pub async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.inner
            .state
            .lock()
            .await
            .cached
            .as_ref()
            .map(|(_, at)| *at)
    }

    async fn refresh_locked(&self, state: &mut State) -> Result<Secret> {
        let config = &self.inner.config;
        let client = token_client(config);
        let refresh_token = RefreshToken::new(state.refresh_token.expose().to_owned());
        let http = OAuthHttp(&self.inner.http);
        let now = Utc::now();
        let result = within(config.http_timeout, "token endpoint", async {
            client
                .exchange_refresh_token(&refresh_token)
                .request_async(&http)
                .await
                .map_err(|e| classify(e, Stage::Refresh))
        })
        .await;
        match result {
            Ok(response) => {
                let issued = issued(&response, now);
                state.cached = Some((issued.access_token.clone(), issued.expires_at));
                tracing::info!(expires_at = %issued.expires_at, "access token refreshed");
                self.emit(TokenEvent::Refreshed {
                    expires_at: issued.expires_at,
                });
                if let Some(rotated) = issued.refresh_token {
                    if rotated.expose() != state.refresh_token.expose() {
                        state.refresh_token = rotated.clone();
                        tracing::info!("the token endpoint issued a new refresh token");
                        self.emit(TokenEvent::RefreshTokenRotated {
                            refresh_token: rotated,
                        });
                    }
                }
                Ok(issued.access_token)
            }
            Err(OAuthError::ReconsentNeeded { reason }) => {
                state.cached = None;
                state.poisoned = Some(reason.clone());
                tracing::warn!(%reason, "refresh token rejected; a new consent is needed");
                self.emit(TokenEvent::ReconsentNeeded {
                    reason: reason.clone(),
                });
                Err(OAuthError::ReconsentNeeded { reason })
            }
            Err(error) => {
                tracing::warn!(%error, retryable = error.is_retryable(), "access token refresh failed");
                Err(error)
            }
        }
    }

    fn emit(&self, event: TokenEvent) {
        let observers = self
            .inner
            .observers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for observer in observers {
            observer(event.clone());
        }
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TokenManager");
        debug.field("config", &self.inner.config);
        match self.inner.state.try_lock() {
            Ok(state) => debug
                .field("refresh_token", &"<redacted>")
                .field(
                    "access_token_expires_at",
                    &state.cached.as_ref().map(|(_, at)| *at),
                )
                .field("poisoned", &state.poisoned),
            Err(_) => debug.field("state", &"<refreshing>"),
        };
        debug.finish_non_exhaustive()
    }
}
