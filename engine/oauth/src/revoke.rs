//! Revocation of a refresh (or access) token.

use reqwest::header::CONTENT_TYPE;
use zeroize::Zeroizing;

use crate::http::{describe, http_client, within};
use crate::{OAuthConfig, OAuthError, Result, Secret};

/// What [`revoke`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The server revoked the token.
    Revoked,
    /// The server did not know the token (`400 invalid_token`): it was revoked or expired
    /// already. The outcome is the same.
    AlreadyRevoked,
}

/// Revokes `token` (revoking a refresh token ends the whole grant): POSTs the form
/// `token=<token>` to [`OAuthConfig::revoke_url`] within [`OAuthConfig::http_timeout`].
///
/// 200 → [`Revocation::Revoked`]; 400 `invalid_token` → [`Revocation::AlreadyRevoked`];
/// 5xx, 429, transport errors and timeouts → [`OAuthError::Unavailable`]; other answers →
/// [`OAuthError::Rejected`] or [`OAuthError::Protocol`].
pub async fn revoke(config: &OAuthConfig, token: &Secret) -> Result<Revocation> {
    let http = http_client(config.http_timeout)?;
    let body = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token.expose())
            .finish(),
    );
    within(config.http_timeout, "revocation endpoint", async {
        let response = http
            .post(config.revoke_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable {
                message: describe(&e),
                retryable: true,
            })?;
        let status = response.status();
        if status.is_success() {
            tracing::info!("OAuth token revoked");
            return Ok(Revocation::Revoked);
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable {
                message: format!("the revocation endpoint answered HTTP {status}"),
                retryable: true,
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable {
                message: describe(&e),
                retryable: true,
            })?;
        let error: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        match error {
            Some(ErrorBody { error, .. }) if status == 400 && error == "invalid_token" => {
                tracing::info!("OAuth token was already revoked or expired");
                Ok(Revocation::AlreadyRevoked)
            }
            Some(ErrorBody {
                error,
                error_description,
            }) => Err(OAuthError::Rejected {
                error,
                description: error_description,
            }),
            None => Err(OAuthError::Protocol {
                message: format!("the revocation endpoint answered HTTP {status}"),
            }),
        }
    })
    .await
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}
