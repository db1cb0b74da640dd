//! Where access tokens come from. The OAuth crate implements [`AccessTokens`]; the daemon
//! glues the two together.

use async_trait::async_trait;

pub use crate::error::TokenError;

/// A source of OAuth access tokens for the `Authorization: Bearer` header.
#[async_trait]
pub trait AccessTokens: Send + Sync {
    /// A currently valid access token (may be cached).
    async fn access_token(&self) -> Result<String, TokenError>;
    /// Refresh now (called once after a 401 `OAUTH_TOKEN_EXPIRED`); returns the new token.
    async fn refresh(&self) -> Result<String, TokenError>;
}

/// A fixed token, for tools and tests: `refresh` returns the same token.
#[derive(Clone)]
pub struct StaticToken(pub String);

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

#[async_trait]
impl AccessTokens for StaticToken {
    async fn access_token(&self) -> Result<String, TokenError> {
        Ok(self.0.clone())
    }

    async fn refresh(&self) -> Result<String, TokenError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_token_is_redacted_in_debug() {
        let t = StaticToken("ya29.secret".into());
        assert_eq!(t.access_token().await.unwrap(), "ya29.secret");
        assert_eq!(t.refresh().await.unwrap(), "ya29.secret");
        assert!(!format!("{t:?}").contains("secret"));
    }
}
