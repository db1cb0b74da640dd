//! Our HTTP client for the `oauth2` crate, and the sorting of its errors into [`OAuthError`].

use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, RequestTokenError, TokenResponse, TokenUrl,
};

use crate::{OAuthConfig, OAuthError, Result, Secret};

/// An `oauth2` client with only the token endpoint set.
pub(crate) type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The HTTP client for all calls to Google: a per-request timeout, no redirects followed
/// (a token endpoint that redirects is misconfigured, and following would resend credentials).
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| OAuthError::Config(format!("cannot build the HTTP client: {e}")))
}

/// The `oauth2` client for the token endpoint; credentials go in the form body (what Google
/// documents for installed apps).
pub(crate) fn token_client(config: &OAuthConfig) -> TokenClient {
    let client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::from_url(config.token_url.clone()));
    match &config.client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose().to_owned())),
        None => client,
    }
}

/// Why the HTTP exchange itself failed (before any OAuth error could be read).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpFailure {
    /// Connect, send or receive failed, or the request timed out.
    #[error("{0}")]
    Transport(String),
    /// 5xx or 429: the server is there but cannot serve us now.
    #[error("HTTP status {0}")]
    Status(u16),
}

/// Our `reqwest` client as the HTTP client of `oauth2` (a named type with a boxed `Send`
/// future, so the futures of this crate stay `Send` for `tokio::spawn`).
pub(crate) struct OAuthHttp<'a>(pub(crate) &'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = HttpFailure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpFailure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Sends one request built by `oauth2` with our client. 5xx and 429 become
/// [`HttpFailure::Status`], so they are not mistaken for unparsable OAuth errors.
async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> std::result::Result<HttpResponse, HttpFailure> {
    let request = reqwest::Request::try_from(request)
        .map_err(|e| HttpFailure::Transport(format!("cannot build the request: {e}")))?;
    let response = client
        .execute(request)
        .await
        .map_err(|e| HttpFailure::Transport(describe(&e)))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(HttpFailure::Status(status.as_u16()));
    }
    let mut builder = oauth2::http::Response::builder()
        .status(status)
        .version(response.version());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpFailure::Transport(describe(&e)))?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpFailure::Transport(format!("cannot read the response: {e}")))
}

/// A transport error with its causes, e.g. "error sending request …: connection refused".
/// reqwest puts the URL in it, never the body.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "the request timed out".to_owned();
    }
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Which call failed: `invalid_grant` means "consent again" on a refresh, "bad code" on an
/// exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Exchange,
    Refresh,
}

/// Sorts an `oauth2` error. Response bodies are never copied into the error: on a 200 they
/// hold tokens.
pub(crate) fn classify(
    error: RequestTokenError<HttpFailure, BasicErrorResponse>,
    stage: Stage,
) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref().to_owned();
            let description = response.error_description().cloned();
            match response.error() {
                BasicErrorResponseType::InvalidGrant if stage == Stage::Refresh => {
                    OAuthError::ReconsentNeeded {
                        reason: description.unwrap_or(code),
                    }
                }
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => OAuthError::InvalidClient {
                    message: match description {
                        Some(d) => format!("{code}: {d}"),
                        None => code,
                    },
                },
                _ => OAuthError::Rejected {
                    error: code,
                    description,
                },
            }
        }
        RequestTokenError::Request(HttpFailure::Status(status)) => OAuthError::Unavailable {
            message: format!("the token endpoint answered HTTP {status}"),
            retryable: true,
        },
        RequestTokenError::Request(HttpFailure::Transport(message)) => OAuthError::Unavailable {
            message,
            retryable: true,
        },
        RequestTokenError::Parse(error, _body) => OAuthError::Protocol {
            message: format!(
                "the token endpoint's answer is not a valid OAuth response (at {})",
                error.path()
            ),
        },
        RequestTokenError::Other(message) => OAuthError::Protocol { message },
    }
}

/// What the token endpoint issued, in our types.
pub(crate) struct Issued {
    pub(crate) access_token: Secret,
    pub(crate) refresh_token: Option<Secret>,
    pub(crate) expires_at: DateTime<Utc>,
    /// `None` when the answer has no `scope` (RFC 6749: then the requested scopes).
    pub(crate) scopes: Option<Vec<String>>,
}

/// Converts a token response; `now` is when the request was sent, so a slow answer makes the
/// token look shorter-lived, never longer. Without `expires_in` the token counts as already
/// due for refresh.
pub(crate) fn issued(response: &BasicTokenResponse, now: DateTime<Utc>) -> Issued {
    let expires_at = response
        .expires_in()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now);
    Issued {
        access_token: Secret::new(response.access_token().secret().as_str()),
        refresh_token: response
            .refresh_token()
            .map(|t| Secret::new(t.secret().as_str())),
        expires_at,
        scopes: response
            .scopes()
            .map(|scopes| scopes.iter().map(|s| s.as_str().to_owned()).collect()),
    }
}

/// Runs `future` with an overall deadline of `timeout`; on expiry the error says which
/// endpoint did not answer.
pub(crate) async fn within<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result,
        Err(_) => Err(OAuthError::Unavailable {
            message: format!("the {what} did not answer within {timeout:?}"),
            retryable: true,
        }),
    }
}
