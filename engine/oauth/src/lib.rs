//! Google OAuth for installed apps: consent with PKCE (S256) and `state` on a loopback
//! redirect, refresh that never waits on a person, revocation.
//!
//! - [`ConsentFlow`]: binds `127.0.0.1:<port>`, gives the authorization URL to open in the
//!   browser (`access_type=offline`, `prompt=consent`, PKCE S256, random `state`), receives
//!   the redirect, checks `state`, exchanges the code and checks that a refresh token and the
//!   adwords scope were granted. Bounded by a timeout; never hangs.
//! - [`TokenManager`]: for the headless daemon. Cached access token, single-flight refresh,
//!   `invalid_grant` → [`OAuthError::ReconsentNeeded`] and the manager stays poisoned until a
//!   new refresh token is installed; outages are [`OAuthError::Unavailable`]. Observers
//!   ([`TokenEvent`]) learn of refreshes and of the need to consent again.
//! - [`revoke`]: ends a grant; an already revoked token is not an error.
//! - [`Secret`]: tokens, codes, verifiers and client secrets are never printed (`Debug` and
//!   `Display` redact) and are zeroized on drop. Nothing here logs them.
//!
//! Not yup-oauth2: it sends neither PKCE nor `state`, falls back to an interactive flow that
//! waits forever when a refresh fails, and logs the refresh token; see
//! `docs/adr/0010-oauth-crate.md`. The `oauth2` crate builds the requests, and every request
//! goes through our own `reqwest` client (timeouts, no redirects followed).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod consent;
mod error;
mod http;
mod manager;
mod revoke;
mod secret;

pub use config::{
    OAuthConfig, ADWORDS_SCOPE, DEFAULT_AUTH_URL, DEFAULT_HTTP_TIMEOUT, DEFAULT_REVOKE_URL,
    DEFAULT_TOKEN_URL, ENV_AUTH_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REVOKE_URL,
    ENV_TOKEN_URL,
};
pub use consent::{ConsentFlow, TokenSet};
pub use error::{OAuthError, Result};
pub use manager::{TokenEvent, TokenManager, TokenObserver, REFRESH_MARGIN};
pub use revoke::{revoke, Revocation};
pub use secret::Secret;
