//! [`OAuthError`]: everything that can go wrong, sorted by what the caller should do next.

use std::time::Duration;

/// Result with [`OAuthError`] as the default error.
pub type Result<T, E = OAuthError> = std::result::Result<T, E>;

/// Errors of the consent flow, the token manager and revocation.
///
/// No variant ever carries a token, a code, a verifier or a client secret. Texts from the
/// server (`error`, `error_description`) are included: Google puts no credentials in them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The configuration is unusable (empty client id, malformed URL in an environment
    /// variable, adwords scope not requested). Not retryable: fix the configuration.
    #[error("OAuth configuration: {0}")]
    Config(String),

    /// The loopback listener for the redirect could not be bound or used. Not retryable as is
    /// (try another port).
    #[error("loopback redirect listener: {0}")]
    Listener(#[source] std::io::Error),

    /// The redirect carried a `state` other than the one this flow sent: possibly a forged
    /// request (CSRF). The code in it was **not** exchanged. Start a new flow.
    #[error(
        "the OAuth redirect carried the wrong state (possibly a forged request); its code was not exchanged"
    )]
    StateMismatch,

    /// The person declined consent in the browser (`error=access_denied`).
    #[error("consent was denied in the browser")]
    ConsentDenied,

    /// The authorization server redirected back with an error other than `access_denied`,
    /// or without a code.
    #[error("authorization failed: {error}")]
    AuthorizationFailed {
        /// The `error` parameter of the redirect (e.g. `invalid_scope`), or a description of
        /// what was missing.
        error: String,
    },

    /// Nobody completed the consent within the time given to
    /// [`ConsentFlow::wait`](crate::ConsentFlow::wait).
    #[error("the consent was not completed within {after:?}")]
    TimedOut {
        /// The timeout that elapsed.
        after: Duration,
    },

    /// The token endpoint issued no refresh token. The authorization request must carry
    /// `access_type=offline` and `prompt=consent` (this crate always sends both); if it did,
    /// the grant is unusable for a daemon. Not retryable without a new consent.
    #[error(
        "the token endpoint returned no refresh token; the consent must request \
         access_type=offline and prompt=consent so that a refresh token is issued"
    )]
    NoRefreshToken,

    /// The person unchecked a scope we need (Google's granular consent). Consent again and
    /// keep Google Ads access checked.
    #[error("the grant lacks the scope {missing}; consent again and keep that access checked")]
    MissingScope {
        /// The scope that was requested but not granted.
        missing: String,
        /// The scopes that were granted.
        granted: Vec<String>,
    },

    /// The refresh token is expired or revoked (`invalid_grant`, e.g. "Token has been expired
    /// or revoked."). A person must consent again; a
    /// [`TokenManager`](crate::TokenManager) stays in this state (without contacting the
    /// server) until it gets a new refresh token. Not retryable.
    #[error("the refresh token is no longer valid ({reason}); run the consent flow again")]
    ReconsentNeeded {
        /// The server's explanation (`error_description`, or the error code).
        reason: String,
    },

    /// The OAuth client (id/secret) was rejected (`invalid_client`, `unauthorized_client`).
    /// Not retryable: fix the client configuration.
    #[error("the OAuth client was rejected: {message}")]
    InvalidClient {
        /// The server's explanation.
        message: String,
    },

    /// The server rejected the request with another OAuth error (`invalid_request`,
    /// `invalid_scope`, `invalid_grant` on a code exchange, …). Not retryable.
    #[error("the OAuth server rejected the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },

    /// The server could not be reached or did not answer in time, or answered 5xx/429.
    /// Usually retryable later; there is never an interactive fallback.
    #[error("the OAuth server is unavailable: {message}")]
    Unavailable {
        /// What happened (transport error, timeout, status).
        message: String,
        /// Whether retrying later can help.
        retryable: bool,
    },

    /// The server answered something this crate does not understand (not JSON, an
    /// unexpected status). The body is never included: it may hold tokens. Not retryable.
    #[error("unexpected answer from the OAuth server: {message}")]
    Protocol {
        /// What was unexpected.
        message: String,
    },
}

impl OAuthError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            OAuthError::Unavailable {
                retryable: true,
                ..
            }
        )
    }

    /// Whether a person has to run the consent flow again.
    pub fn needs_reconsent(&self) -> bool {
        matches!(
            self,
            OAuthError::ReconsentNeeded { .. }
                | OAuthError::NoRefreshToken
                | OAuthError::MissingScope { .. }
        )
    }
}
