//! The consent flow, the token manager and revocation over real loopback HTTP against an
//! in-test Google OAuth server.

mod fake;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use fake::{Consent, Exchange, Fake, Refresh, Revoke, ADWORDS, CLIENT_ID, CLIENT_SECRET};
use leadorch_oauth::{
    revoke, ConsentFlow, OAuthConfig, OAuthError, Revocation, Secret, TokenEvent, TokenManager,
    TokenSet,
};
use tokio::io::AsyncWriteExt;
use url::Url;

/// Generous upper bound for "returns promptly" (slow CI machines).
const SLACK: Duration = Duration::from_secs(2);

fn config(fake: &Fake) -> OAuthConfig {
    let mut config = OAuthConfig::new(CLIENT_ID);
    config.client_secret = Some(Secret::new(CLIENT_SECRET));
    config.auth_url = fake.url("auth");
    config.token_url = fake.url("token");
    config.revoke_url = fake.url("revoke");
    config.http_timeout = Duration::from_secs(2);
    config
}

/// A browser that shows us every redirect instead of following it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn params(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Plays the browser: opens the authorization URL at the fake, follows its redirect to the
/// loopback listener and returns the page's status and text.
async fn consent_in_browser(flow_url: &Url) -> (u16, String) {
    let browser = browser();
    let answer = browser.get(flow_url.clone()).send().await.unwrap();
    assert_eq!(
        answer.status(),
        302,
        "the fake authorization endpoint redirects"
    );
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(&location).send().await.unwrap();
    (page.status().as_u16(), page.text().await.unwrap())
}

fn start_flow(
    fake: &Fake,
) -> (
    Url,
    String,
    tokio::task::JoinHandle<Result<TokenSet, OAuthError>>,
) {
    let flow = ConsentFlow::start(config(fake), None).unwrap();
    let url = flow.authorize_url().clone();
    let redirect_uri = flow.redirect_uri().to_owned();
    let waiting = tokio::spawn(flow.wait(Duration::from_secs(10)));
    (url, redirect_uri, waiting)
}

#[tokio::test]
async fn consent_with_pkce_and_state_yields_tokens() {
    let fake = Fake::start().await;
    let flow = ConsentFlow::start(config(&fake), None).unwrap();
    let url = flow.authorize_url().clone();
    let redirect_uri = flow.redirect_uri().to_owned();

    // Every parameter of the authorization request.
    assert_eq!(url.origin(), fake.base.origin());
    assert_eq!(url.path(), "/auth");
    let p = params(&url);
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["client_id"], CLIENT_ID);
    let port = Url::parse(&redirect_uri).unwrap().port().unwrap();
    assert_eq!(redirect_uri, format!("http://127.0.0.1:{port}/"));
    assert_eq!(p["redirect_uri"], redirect_uri);
    assert_eq!(p["scope"], ADWORDS);
    assert!(p["state"].len() >= 16, "state is a random CSRF token");
    assert_eq!(p["code_challenge_method"], "S256");
    assert_eq!(
        p["code_challenge"].len(),
        43,
        "base64url of a SHA-256 digest"
    );
    assert!(p["code_challenge"]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(p["access_type"], "offline");
    assert_eq!(p["prompt"], "consent");
    assert!(!p.contains_key("code_verifier"));
    assert!(!p.contains_key("client_secret"));
    assert!(!url.as_str().contains(CLIENT_SECRET));
    // The flow is not affected by Debug either.
    assert!(!format!("{flow:?}").contains(&p["state"]));

    let waiting = tokio::spawn(flow.wait(Duration::from_secs(10)));
    let loopback = Url::parse(&redirect_uri).unwrap();

    // A browser's idle preconnect and an unrelated request block nothing.
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    idle.write_all(b"GET /fav").await.unwrap();
    let favicon = browser()
        .get(loopback.join("/favicon.ico").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(favicon.status(), 404);

    let (status, page) = consent_in_browser(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("You can close this window"), "{page}");

    let tokens = waiting.await.unwrap().unwrap();
    assert!(
        fake.rejections.lock().unwrap().is_empty(),
        "{:?}",
        fake.rejections.lock().unwrap()
    );
    assert_eq!(Fake::count(&fake.counters.exchanges), 1);
    assert_eq!(
        fake.access_tokens(),
        vec![tokens.access_token.expose().to_owned()]
    );
    assert!(tokens
        .refresh_token
        .as_ref()
        .unwrap()
        .expose()
        .starts_with("1//refresh-"));
    assert_eq!(tokens.scopes, vec![ADWORDS.to_owned()]);
    let lifetime = tokens.expires_at - Utc::now();
    assert!(
        lifetime > chrono::Duration::seconds(3500) && lifetime <= chrono::Duration::seconds(3599)
    );
    drop(idle);
}

#[tokio::test]
async fn wrong_state_is_rejected_and_the_code_is_not_exchanged() {
    let fake = Fake::start().await;
    let (url, redirect_uri, waiting) = start_flow(&fake);
    let mut forged = Url::parse(&redirect_uri).unwrap();
    forged
        .query_pairs_mut()
        .append_pair("code", "4/code-forged")
        .append_pair("state", "not-the-state");
    let page = browser().get(forged).send().await.unwrap();
    assert_eq!(page.status(), 400);

    let error = waiting.await.unwrap().unwrap_err();
    assert!(matches!(error, OAuthError::StateMismatch), "{error:?}");
    assert_eq!(Fake::count(&fake.counters.token_calls), 0);
    assert!(!params(&url)["state"].is_empty());
}

#[tokio::test]
async fn denied_consent_is_reported() {
    let fake = Fake::start().await;
    fake.set_consent(Consent::Deny);
    let (url, _, waiting) = start_flow(&fake);
    let (status, page) = consent_in_browser(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("close this window"));
    let error = waiting.await.unwrap().unwrap_err();
    assert!(matches!(error, OAuthError::ConsentDenied), "{error:?}");
    assert_eq!(Fake::count(&fake.counters.token_calls), 0);
}

#[tokio::test]
async fn nobody_comes_times_out() {
    let fake = Fake::start().await;
    let flow = ConsentFlow::start(config(&fake), None).unwrap();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = flow.wait(timeout).await.unwrap_err();
    assert!(
        matches!(error, OAuthError::TimedOut { after } if after == timeout),
        "{error:?}"
    );
    assert!(started.elapsed() < timeout + SLACK);
}

#[tokio::test]
async fn a_grant_without_refresh_token_is_refused() {
    let fake = Fake::start().await;
    fake.set_exchange(Exchange::NoRefreshToken);
    let (url, _, waiting) = start_flow(&fake);
    consent_in_browser(&url).await;
    let error = waiting.await.unwrap().unwrap_err();
    assert!(matches!(error, OAuthError::NoRefreshToken), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("access_type=offline") && message.contains("prompt=consent"));
}

#[tokio::test]
async fn a_grant_without_the_adwords_scope_is_refused() {
    let fake = Fake::start().await;
    fake.set_exchange(Exchange::Scope("openid email".to_owned()));
    let (url, _, waiting) = start_flow(&fake);
    consent_in_browser(&url).await;
    let error = waiting.await.unwrap().unwrap_err();
    assert!(
        matches!(error, OAuthError::MissingScope { ref missing, .. } if missing == ADWORDS),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_configuration_without_adwords_cannot_start() {
    let fake = Fake::start().await;
    let mut config = config(&fake);
    config.scopes = vec!["openid".to_owned()];
    assert!(matches!(
        ConsentFlow::start(config, None),
        Err(OAuthError::Config(_))
    ));
}

type Events = Arc<Mutex<Vec<TokenEvent>>>;

fn manager(fake: &Fake, config: OAuthConfig, refresh_token: &str) -> (TokenManager, Events) {
    let _ = fake;
    let manager = TokenManager::new(config, Secret::new(refresh_token), None).unwrap();
    let events: Events = Arc::default();
    let sink = events.clone();
    manager.on_event(Arc::new(move |event| sink.lock().unwrap().push(event)));
    (manager, events)
}

#[tokio::test]
async fn refresh_gets_and_caches_an_access_token() {
    let fake = Fake::start().await;
    let refresh_token = fake.issue_refresh_token();
    let (manager, events) = manager(&fake, config(&fake), &refresh_token);

    let first = manager.access_token().await.unwrap();
    assert_eq!(fake.access_tokens(), vec![first.expose().to_owned()]);
    let second = manager.access_token().await.unwrap();
    assert_eq!(second.expose(), first.expose(), "served from the cache");
    assert_eq!(Fake::count(&fake.counters.refreshes), 1);
    assert!(matches!(
        events.lock().unwrap().as_slice(),
        [TokenEvent::Refreshed { expires_at }] if *expires_at > Utc::now()
    ));

    // A forced refresh goes to the server.
    let third = manager.refresh().await.unwrap();
    assert_ne!(third.expose(), first.expose());
    assert_eq!(Fake::count(&fake.counters.refreshes), 2);
}

#[tokio::test]
async fn a_cached_token_is_used_until_a_minute_before_expiry() {
    let fake = Fake::start().await;
    let refresh_token = fake.issue_refresh_token();
    let fresh = Some((
        Secret::new("ya29.cached"),
        Utc::now() + chrono::Duration::minutes(30),
    ));
    let manager = TokenManager::new(config(&fake), Secret::new(&*refresh_token), fresh).unwrap();
    assert_eq!(
        manager.access_token().await.unwrap().expose(),
        "ya29.cached"
    );
    assert_eq!(Fake::count(&fake.counters.token_calls), 0);

    let stale = Some((
        Secret::new("ya29.stale"),
        Utc::now() + chrono::Duration::seconds(30),
    ));
    let manager = TokenManager::new(config(&fake), Secret::new(refresh_token), stale).unwrap();
    assert_ne!(manager.access_token().await.unwrap().expose(), "ya29.stale");
    assert_eq!(Fake::count(&fake.counters.refreshes), 1);
}

#[tokio::test]
async fn invalid_grant_poisons_the_manager_until_a_new_refresh_token() {
    let fake = Fake::start().await;
    fake.set_refresh(Refresh::InvalidGrant);
    let (manager, events) = manager(&fake, config(&fake), "1//revoked");

    let started = Instant::now();
    let error = manager.access_token().await.unwrap_err();
    assert!(started.elapsed() < SLACK);
    assert!(
        matches!(error, OAuthError::ReconsentNeeded { ref reason } if reason == "Token has been expired or revoked."),
        "{error:?}"
    );
    assert!(error.needs_reconsent() && !error.is_retryable());
    assert_eq!(Fake::count(&fake.counters.refreshes), 1);

    // Later calls fail at once without contacting the server, and report only once.
    for _ in 0..3 {
        let again = manager.access_token().await.unwrap_err();
        assert!(matches!(again, OAuthError::ReconsentNeeded { .. }));
    }
    assert!(matches!(
        manager.refresh().await,
        Err(OAuthError::ReconsentNeeded { .. })
    ));
    assert_eq!(Fake::count(&fake.counters.token_calls), 1);
    assert!(manager.reconsent_reason().await.is_some());
    assert!(matches!(
        events.lock().unwrap().as_slice(),
        [TokenEvent::ReconsentNeeded { reason }] if reason.contains("expired or revoked")
    ));

    // After a new consent the manager works again.
    fake.set_refresh(Refresh::Normal);
    manager
        .replace_refresh_token(Secret::new(fake.issue_refresh_token()))
        .await;
    assert!(manager.access_token().await.is_ok());
    assert!(manager.reconsent_reason().await.is_none());
}

#[tokio::test]
async fn invalid_client_is_not_retryable() {
    let fake = Fake::start().await;
    fake.set_refresh(Refresh::InvalidClient);
    let (manager, _) = manager(&fake, config(&fake), &fake.issue_refresh_token());
    let error = manager.access_token().await.unwrap_err();
    assert!(
        matches!(error, OAuthError::InvalidClient { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    // Not poisoned: a fixed client configuration may work on the next call.
    assert!(manager.reconsent_reason().await.is_none());
}

#[tokio::test]
async fn server_errors_are_retryable_unavailability() {
    let fake = Fake::start().await;
    fake.set_refresh(Refresh::ServerError);
    let (manager, _) = manager(&fake, config(&fake), &fake.issue_refresh_token());
    let error = manager.access_token().await.unwrap_err();
    assert!(
        matches!(error, OAuthError::Unavailable { retryable: true, ref message } if message.contains("503")),
        "{error:?}"
    );
    fake.set_refresh(Refresh::Normal);
    assert!(
        manager.access_token().await.is_ok(),
        "recovers once the server does"
    );
}

#[tokio::test]
async fn a_token_endpoint_that_never_answers_is_unavailable_within_the_timeout() {
    let fake = Fake::start().await;
    fake.set_refresh(Refresh::Hang);
    let mut config = config(&fake);
    config.http_timeout = Duration::from_millis(300);
    let (manager, _) = manager(&fake, config, &fake.issue_refresh_token());
    let started = Instant::now();
    let error = manager.access_token().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(300) + SLACK);
    assert!(error.is_retryable(), "{error:?}");
    assert!(matches!(error, OAuthError::Unavailable { .. }));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_unavailable() {
    let fake = Fake::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(&fake);
    config.token_url =
        Url::parse(&format!("http://{}/token", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let (manager, _) = manager(&fake, config, "1//whatever");
    let error = manager.access_token().await.unwrap_err();
    assert!(
        matches!(
            error,
            OAuthError::Unavailable {
                retryable: true,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn futures_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let config = OAuthConfig::new(CLIENT_ID);
    let manager = TokenManager::new(config.clone(), Secret::new("1//x"), None).unwrap();
    assert_send(&manager.access_token());
    assert_send(&manager.refresh());
    assert_send(&revoke(&config, &Secret::new("1//x")));
    let flow = ConsentFlow::start(config, None).unwrap();
    assert_send(&flow.wait(Duration::from_millis(1)));
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let fake = Fake::start().await;
    fake.set_refresh_delay(Duration::from_millis(200));
    let (manager, _) = manager(&fake, config(&fake), &fake.issue_refresh_token());
    let other = manager.clone();
    let (a, b) = tokio::join!(manager.access_token(), other.access_token());
    assert_eq!(a.unwrap().expose(), b.unwrap().expose());
    assert_eq!(Fake::count(&fake.counters.refreshes), 1);
}

#[tokio::test]
async fn revoke_then_revoke_again() {
    let fake = Fake::start().await;
    let config = config(&fake);
    let refresh_token = Secret::new(fake.issue_refresh_token());
    assert_eq!(
        revoke(&config, &refresh_token).await.unwrap(),
        Revocation::Revoked
    );
    assert_eq!(
        revoke(&config, &refresh_token).await.unwrap(),
        Revocation::AlreadyRevoked
    );

    fake.set_revoke(Revoke::ServerError);
    let error = revoke(&config, &refresh_token).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(Fake::count(&fake.counters.revokes), 3);

    // The revoked token no longer refreshes.
    let (manager, _) = manager(&fake, config, refresh_token.expose());
    assert!(matches!(
        manager.access_token().await,
        Err(OAuthError::ReconsentNeeded { .. })
    ));
}

#[tokio::test]
async fn debug_output_never_contains_secrets() {
    let fake = Fake::start().await;
    let (url, _, waiting) = start_flow(&fake);
    consent_in_browser(&url).await;
    let tokens = waiting.await.unwrap().unwrap();
    let refresh_token = tokens.refresh_token.clone().unwrap();
    let config = config(&fake);
    let manager = TokenManager::new(
        config.clone(),
        refresh_token.clone(),
        Some((tokens.access_token.clone(), tokens.expires_at)),
    )
    .unwrap();
    let events: Events = Arc::default();
    let sink = events.clone();
    manager.on_event(Arc::new(move |event| sink.lock().unwrap().push(event)));
    manager.refresh().await.unwrap();
    let rotated = TokenEvent::RefreshTokenRotated {
        refresh_token: refresh_token.clone(),
    };

    let printed = [
        format!("{tokens:?}"),
        format!("{tokens:#?}"),
        format!("{manager:?}"),
        format!("{config:?}"),
        format!("{:?}", events.lock().unwrap()),
        format!("{rotated:?}"),
        format!("{}", tokens.access_token),
    ];
    let secrets = [
        tokens.access_token.expose().to_owned(),
        refresh_token.expose().to_owned(),
        CLIENT_SECRET.to_owned(),
    ]
    .into_iter()
    .chain(fake.access_tokens());
    for secret in secrets {
        for text in &printed {
            assert!(!text.contains(&secret), "{text} shows a secret");
        }
    }
    assert!(printed[0].contains("expires_at"));
}
