//! [`OAuthConfig`]: client, endpoints, scopes, timeout; environment overrides.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::{OAuthError, Result, Secret};

/// The Google Ads scope. The consent flow requires it to be requested and granted.
pub const ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";
/// Google's authorization endpoint.
pub const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const DEFAULT_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
/// Default timeout of one HTTP exchange with the token or revocation endpoint.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Environment variable overriding [`OAuthConfig::auth_url`].
pub const ENV_AUTH_URL: &str = "LEADORCH_GOOGLE_OAUTH_AUTH_URL";
/// Environment variable overriding [`OAuthConfig::token_url`].
pub const ENV_TOKEN_URL: &str = "LEADORCH_GOOGLE_OAUTH_TOKEN_URL";
/// Environment variable overriding [`OAuthConfig::revoke_url`].
pub const ENV_REVOKE_URL: &str = "LEADORCH_GOOGLE_OAUTH_REVOKE_URL";
/// Environment variable setting [`OAuthConfig::client_id`].
pub const ENV_CLIENT_ID: &str = "LEADORCH_GOOGLE_CLIENT_ID";
/// Environment variable setting [`OAuthConfig::client_secret`].
pub const ENV_CLIENT_SECRET: &str = "LEADORCH_GOOGLE_CLIENT_SECRET";

/// An OAuth client of type "Desktop app" and the endpoints it talks to.
///
/// `Debug` never shows the client secret.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret. Google issues one to installed apps although it cannot be kept
    /// secret there; it is still treated as a secret (redacted, zeroized).
    pub client_secret: Option<Secret>,
    /// Authorization endpoint (opened in the browser).
    pub auth_url: Url,
    /// Token endpoint (code exchange and refresh).
    pub token_url: Url,
    /// Revocation endpoint.
    pub revoke_url: Url,
    /// Scopes to request; must contain [`ADWORDS_SCOPE`] for the consent flow.
    pub scopes: Vec<String>,
    /// Timeout of one HTTP exchange with the token or revocation endpoint (connect, send,
    /// answer).
    pub http_timeout: Duration,
}

impl OAuthConfig {
    /// A configuration with Google's endpoints, the adwords scope, a 10 s HTTP timeout and
    /// no client secret.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            auth_url: Url::parse(DEFAULT_AUTH_URL).expect("constant URL parses"),
            token_url: Url::parse(DEFAULT_TOKEN_URL).expect("constant URL parses"),
            revoke_url: Url::parse(DEFAULT_REVOKE_URL).expect("constant URL parses"),
            scopes: vec![ADWORDS_SCOPE.to_owned()],
            http_timeout: DEFAULT_HTTP_TIMEOUT,
        }
    }

    /// The defaults of [`OAuthConfig::new`] with an empty client id, then the process
    /// environment applied ([`OAuthConfig::apply_env`]). Fails if no client id is set.
    pub fn from_env() -> Result<Self> {
        let mut config = Self::new(String::new());
        config.apply_env()?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the `LEADORCH_GOOGLE_*` variables of the process environment
    /// ([`ENV_AUTH_URL`], [`ENV_TOKEN_URL`], [`ENV_REVOKE_URL`], [`ENV_CLIENT_ID`],
    /// [`ENV_CLIENT_SECRET`]). Unset or empty variables leave the field as it is.
    pub fn apply_env(&mut self) -> Result<()> {
        self.apply_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`OAuthConfig::apply_env`], with the variables looked up through `lookup`
    /// (for tests and for configuration layers that are not the process environment).
    pub fn apply_env_with(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        for (name, field) in [
            (ENV_AUTH_URL, &mut self.auth_url),
            (ENV_TOKEN_URL, &mut self.token_url),
            (ENV_REVOKE_URL, &mut self.revoke_url),
        ] {
            if let Some(value) = get(name) {
                *field = parse_endpoint(name, value.trim())?;
            }
        }
        if let Some(value) = get(ENV_CLIENT_ID) {
            self.client_id = value.trim().to_owned();
        }
        if let Some(value) = get(ENV_CLIENT_SECRET) {
            self.client_secret = Some(Secret::new(value.trim()));
        }
        Ok(())
    }

    /// Checks what every flow needs: a client id and at least one scope.
    pub fn validate(&self) -> Result<()> {
        if self.client_id.trim().is_empty() {
            return Err(OAuthError::Config(format!(
                "no OAuth client id (set {ENV_CLIENT_ID})"
            )));
        }
        if self.scopes.is_empty() {
            return Err(OAuthError::Config("no scope to request".to_owned()));
        }
        if self.http_timeout.is_zero() {
            return Err(OAuthError::Config(
                "http_timeout must be more than zero".to_owned(),
            ));
        }
        Ok(())
    }
}

fn parse_endpoint(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value)
        .map_err(|e| OAuthError::Config(format!("{name} is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        other => Err(OAuthError::Config(format!(
            "{name} must be an http(s) URL, not {other}:"
        ))),
    }
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth_url", &self.auth_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("revoke_url", &self.revoke_url.as_str())
            .field("scopes", &self.scopes)
            .field("http_timeout", &self.http_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_are_googles() {
        let config = OAuthConfig::new("id");
        assert_eq!(config.auth_url.as_str(), DEFAULT_AUTH_URL);
        assert_eq!(config.token_url.as_str(), DEFAULT_TOKEN_URL);
        assert_eq!(config.revoke_url.as_str(), DEFAULT_REVOKE_URL);
        assert_eq!(config.scopes, vec![ADWORDS_SCOPE.to_owned()]);
        assert_eq!(config.http_timeout, Duration::from_secs(10));
        assert!(config.client_secret.is_none());
    }

    #[test]
    fn env_overrides_apply() {
        let env: HashMap<&str, &str> = [
            (ENV_AUTH_URL, "http://127.0.0.1:9/auth"),
            (ENV_TOKEN_URL, "http://127.0.0.1:9/token"),
            (ENV_REVOKE_URL, " http://127.0.0.1:9/revoke "),
            (ENV_CLIENT_ID, "cid.apps.googleusercontent.com"),
            (ENV_CLIENT_SECRET, "GOCSPX-shh"),
        ]
        .into_iter()
        .collect();
        let mut config = OAuthConfig::new("default");
        config
            .apply_env_with(|name| env.get(name).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(config.auth_url.as_str(), "http://127.0.0.1:9/auth");
        assert_eq!(config.token_url.as_str(), "http://127.0.0.1:9/token");
        assert_eq!(config.revoke_url.as_str(), "http://127.0.0.1:9/revoke");
        assert_eq!(config.client_id, "cid.apps.googleusercontent.com");
        assert_eq!(
            config.client_secret.as_ref().unwrap().expose(),
            "GOCSPX-shh"
        );
        assert!(!format!("{config:?}").contains("GOCSPX-shh"));
    }

    #[test]
    fn empty_env_values_are_ignored_and_bad_urls_rejected() {
        let mut config = OAuthConfig::new("id");
        config
            .apply_env_with(|name| (name == ENV_CLIENT_ID).then(String::new))
            .unwrap();
        assert_eq!(config.client_id, "id");
        let err = config
            .apply_env_with(|name| (name == ENV_TOKEN_URL).then(|| "not a url".to_owned()))
            .unwrap_err();
        assert!(matches!(err, OAuthError::Config(ref m) if m.contains(ENV_TOKEN_URL)));
        let err = config
            .apply_env_with(|name| (name == ENV_AUTH_URL).then(|| "file:///etc/passwd".to_owned()))
            .unwrap_err();
        assert!(matches!(err, OAuthError::Config(_)));
    }

    #[test]
    fn validate_requires_a_client_id() {
        assert!(matches!(
            OAuthConfig::new(" ").validate(),
            Err(OAuthError::Config(_))
        ));
        assert!(OAuthConfig::new("id").validate().is_ok());
    }
}
