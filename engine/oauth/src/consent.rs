//! The consent flow: authorization URL with PKCE and `state`, loopback redirect, code exchange.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;
use zeroize::Zeroizing;

use crate::http::{classify, http_client, issued, token_client, within, OAuthHttp, Stage};
use crate::secret::constant_time_eq;
use crate::{OAuthConfig, OAuthError, Result, Secret, ADWORDS_SCOPE};

/// Largest request head accepted on the loopback listener.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Tokens issued by a consent.
///
/// `Debug` shows only the expiry and the scopes.
#[derive(Clone)]
pub struct TokenSet {
    /// The access token (about an hour).
    pub access_token: Secret,
    /// The refresh token. Always `Some` when returned by [`ConsentFlow::wait`] (a consent
    /// without one fails with [`OAuthError::NoRefreshToken`]).
    pub refresh_token: Option<Secret>,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// One consent: a loopback listener on 127.0.0.1 and the authorization URL that redirects
/// to it.
///
/// ```no_run
/// # async fn example() -> leadorch_oauth::Result<()> {
/// use std::time::Duration;
/// use leadorch_oauth::{ConsentFlow, OAuthConfig};
///
/// let flow = ConsentFlow::start(OAuthConfig::from_env()?, None)?;
/// println!("Open {}", flow.authorize_url());
/// let tokens = flow.wait(Duration::from_secs(300)).await?;
/// # let _ = tokens; Ok(()) }
/// ```
pub struct ConsentFlow {
    config: OAuthConfig,
    listener: StdTcpListener,
    redirect_uri: String,
    authorize_url: Url,
    state: Secret,
    verifier: Secret,
}

impl ConsentFlow {
    /// Binds the loopback listener (`port` `None` or `Some(0)`: any free port) and builds
    /// the authorization URL: `response_type=code`, `client_id`,
    /// `redirect_uri=http://127.0.0.1:<port>/`, `scope`, a random `state`, a PKCE S256
    /// `code_challenge`, `access_type=offline`, `prompt=consent`.
    ///
    /// Needs no async runtime. Fails with [`OAuthError::Config`] if the configuration does not
    /// request [`ADWORDS_SCOPE`], with [`OAuthError::Listener`] if the port cannot be bound.
    pub fn start(config: OAuthConfig, port: Option<u16>) -> Result<Self> {
        config.validate()?;
        if !config.scopes.iter().any(|s| s == ADWORDS_SCOPE) {
            return Err(OAuthError::Config(format!(
                "the scopes must include {ADWORDS_SCOPE}"
            )));
        }
        let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0)))
            .map_err(OAuthError::Listener)?;
        listener
            .set_nonblocking(true)
            .map_err(OAuthError::Listener)?;
        let port = listener.local_addr().map_err(OAuthError::Listener)?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/");

        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(config.auth_url.clone()))
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.clone())
                    .map_err(|e| OAuthError::Config(format!("redirect URI: {e}")))?,
            );
        let (authorize_url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .url();
        tracing::debug!(%redirect_uri, "OAuth consent flow started");
        Ok(Self {
            config,
            listener,
            redirect_uri,
            authorize_url,
            state: Secret::new(state.into_secret()),
            verifier: Secret::new(verifier.into_secret()),
        })
    }

    /// The URL to open in the browser. It carries the `state` and the PKCE challenge, never
    /// the verifier.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// The redirect URI, `http://127.0.0.1:<port>/`, sent as is in the URL and at the exchange.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the browser's redirect, answers it with a small page, checks `state`,
    /// exchanges the code (with the PKCE verifier) and checks the result: a refresh token and
    /// the adwords scope must be there. Everything, exchange included, finishes within
    /// `timeout` ([`OAuthError::TimedOut`]).
    ///
    /// Requests for other paths (`/favicon.ico`) get a 404 and are otherwise ignored. A
    /// redirect with a wrong `state` fails with [`OAuthError::StateMismatch`] and its code is
    /// not exchanged; `error=access_denied` fails with [`OAuthError::ConsentDenied`].
    pub async fn wait(self, timeout: Duration) -> Result<TokenSet> {
        let deadline = Instant::now() + timeout;
        let timed_out = || OAuthError::TimedOut { after: timeout };
        let ConsentFlow {
            config,
            listener,
            redirect_uri,
            authorize_url: _,
            state,
            verifier,
        } = self;
        let listener = TcpListener::from_std(listener).map_err(OAuthError::Listener)?;
        let code = tokio::time::timeout_at(deadline, receive_redirect(&listener, &state))
            .await
            .map_err(|_| timed_out())??;
        drop(listener);
        tracing::debug!("OAuth redirect received; exchanging the code");
        let exchange = exchange(&config, &redirect_uri, &code, &verifier);
        tokio::time::timeout_at(deadline, exchange)
            .await
            .map_err(|_| timed_out())?
    }
}

impl fmt::Debug for ConsentFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentFlow")
            .field("config", &self.config)
            .field("redirect_uri", &self.redirect_uri)
            .field("state", &"<redacted>")
            .field("verifier", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Accepts connections until one of them carries the OAuth redirect; serves each connection
/// in its own task so a silent connection (a browser's preconnect) blocks nothing. Tasks
/// still running are aborted when this returns.
async fn receive_redirect(listener: &TcpListener, state: &Secret) -> Result<Secret> {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, state.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting on the OAuth loopback listener failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Ok(Some(outcome)) = joined {
                    return outcome;
                }
            }
        }
    }
}

/// Reads one request and answers it. Returns `Some` when it was the OAuth redirect
/// (successful or not), `None` for anything else.
async fn serve_connection(mut stream: TcpStream, state: Secret) -> Option<Result<Secret>> {
    let head = read_head(&mut stream).await?;
    let (outcome, status, page) = match parse_redirect(&head, &state) {
        Parsed::NotFound => (None, "404 Not Found", page_not_found()),
        Parsed::BadMethod => (None, "405 Method Not Allowed", page_not_found()),
        Parsed::Redirect(outcome) => {
            let (status, page) = page_for(&outcome);
            (Some(outcome), status, page)
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    if let Err(error) = stream.write_all(response.as_bytes()).await {
        tracing::debug!(%error, "could not answer the browser");
    }
    let _ = stream.shutdown().await;
    outcome
}

/// Reads up to the end of the request head; `None` if the peer closes early or sends too much.
async fn read_head(stream: &mut TcpStream) -> Option<Zeroizing<Vec<u8>>> {
    let mut head = Zeroizing::new(Vec::with_capacity(1024));
    let mut chunk = Zeroizing::new([0u8; 1024]);
    loop {
        let n = stream.read(&mut chunk[..]).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(head);
        }
        if head.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}

enum Parsed {
    NotFound,
    BadMethod,
    Redirect(Result<Secret>),
}

/// Interprets a request head: `GET /?…` with `code`, `state` or `error` is the redirect.
fn parse_redirect(head: &[u8], expected_state: &Secret) -> Parsed {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Parsed::NotFound;
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Parsed::NotFound;
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        return Parsed::NotFound;
    }
    if method != "GET" {
        return Parsed::BadMethod;
    }
    let mut code = None;
    let mut state = None;
    let mut error = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(Secret::new(value.into_owned()));
        }
    }
    if code.is_none() && state.is_none() && error.is_none() {
        return Parsed::NotFound;
    }
    let state_ok = state
        .as_ref()
        .is_some_and(|s| constant_time_eq(s.expose(), expected_state.expose()));
    let outcome = if !state_ok {
        tracing::warn!("OAuth redirect with a wrong or missing state; ignoring its code");
        Err(OAuthError::StateMismatch)
    } else if let Some(error) = error {
        match error.expose() {
            "access_denied" => Err(OAuthError::ConsentDenied),
            other => Err(OAuthError::AuthorizationFailed {
                error: other.to_owned(),
            }),
        }
    } else if let Some(code) = code.filter(|c| !c.is_empty()) {
        Ok(code)
    } else {
        Err(OAuthError::AuthorizationFailed {
            error: "the redirect carried no code".to_owned(),
        })
    };
    Parsed::Redirect(outcome)
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Lead Orchestrator — {title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
    )
}

fn page_not_found() -> String {
    page(
        "Not found",
        "This address only receives the Google sign-in redirect.",
    )
}

/// The page for the browser. Fixed texts only: nothing from the request is echoed.
fn page_for(outcome: &Result<Secret>) -> (&'static str, String) {
    match outcome {
        Ok(_) => (
            "200 OK",
            page(
                "Signed in",
                "Lead Orchestrator received the authorization. You can close this window.",
            ),
        ),
        Err(OAuthError::ConsentDenied) => (
            "200 OK",
            page(
                "Access not granted",
                "Lead Orchestrator was not given access to Google Ads. You can close this window and try again.",
            ),
        ),
        Err(OAuthError::StateMismatch) => (
            "400 Bad Request",
            page(
                "Sign-in rejected",
                "This sign-in answer does not belong to the sign-in Lead Orchestrator started, so it was ignored. \
                 You can close this window and start again.",
            ),
        ),
        Err(_) => (
            "400 Bad Request",
            page(
                "Sign-in failed",
                "Google did not authorize Lead Orchestrator. You can close this window; the application shows the reason.",
            ),
        ),
    }
}

/// Exchanges the code with the PKCE verifier and checks the grant.
async fn exchange(
    config: &OAuthConfig,
    redirect_uri: &str,
    code: &Secret,
    verifier: &Secret,
) -> Result<TokenSet> {
    let http = http_client(config.http_timeout)?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| OAuthError::Config(format!("redirect URI: {e}")))?;
    let client = token_client(config).set_redirect_uri(redirect);
    let http = OAuthHttp(&http);
    let now = Utc::now();
    let response = within(config.http_timeout, "token endpoint", async {
        client
            .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| classify(e, Stage::Exchange))
    })
    .await?;
    let issued = issued(&response, now);
    let refresh_token = issued.refresh_token.ok_or(OAuthError::NoRefreshToken)?;
    let scopes = issued.scopes.unwrap_or_else(|| config.scopes.clone());
    if let Some(missing) = config.scopes.iter().find(|s| !scopes.contains(s)) {
        return Err(OAuthError::MissingScope {
            missing: missing.clone(),
            granted: scopes,
        });
    }
    tracing::info!(expires_at = %issued.expires_at, "OAuth consent completed");
    Ok(TokenSet {
        access_token: issued.access_token,
        refresh_token: Some(refresh_token),
        expires_at: issued.expires_at,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str) -> Vec<u8> {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
    }

    #[test]
    fn unrelated_requests_are_not_the_redirect() {
        let state = Secret::new("s1");
        assert!(matches!(
            parse_redirect(&head("/favicon.ico"), &state),
            Parsed::NotFound
        ));
        assert!(matches!(
            parse_redirect(&head("/"), &state),
            Parsed::NotFound
        ));
        assert!(matches!(
            parse_redirect(b"POST /?code=x&state=s1 HTTP/1.1\r\n\r\n", &state),
            Parsed::BadMethod
        ));
    }

    #[test]
    fn redirect_outcomes() {
        let state = Secret::new("s 1");
        let ok = parse_redirect(&head("/?code=4%2Fabc&state=s+1&scope=x"), &state);
        assert!(matches!(ok, Parsed::Redirect(Ok(ref c)) if c.expose() == "4/abc"));
        let wrong = parse_redirect(&head("/?code=4%2Fabc&state=other"), &state);
        assert!(matches!(
            wrong,
            Parsed::Redirect(Err(OAuthError::StateMismatch))
        ));
        let missing = parse_redirect(&head("/?code=4%2Fabc"), &state);
        assert!(matches!(
            missing,
            Parsed::Redirect(Err(OAuthError::StateMismatch))
        ));
        let denied = parse_redirect(&head("/?error=access_denied&state=s%201"), &state);
        assert!(matches!(
            denied,
            Parsed::Redirect(Err(OAuthError::ConsentDenied))
        ));
        let other = parse_redirect(&head("/?error=invalid_scope&state=s%201"), &state);
        assert!(matches!(
            other,
            Parsed::Redirect(Err(OAuthError::AuthorizationFailed { ref error })) if error == "invalid_scope"
        ));
        let no_code = parse_redirect(&head("/?state=s%201"), &state);
        assert!(matches!(
            no_code,
            Parsed::Redirect(Err(OAuthError::AuthorizationFailed { .. }))
        ));
    }
}
