//! The OAuth fake over real HTTP: the code flow with PKCE and its failures, refresh, revoke,
//! expiry and the token endpoint's faults.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use leadorch_fakes::{FakeOAuth, OAuthFault, TokenCheck, ADWORDS_SCOPE};
use reqwest::{redirect, Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-this.is~a_verifier";
const REDIRECT: &str = "http://127.0.0.1:53123/callback";

fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn auth_params(oauth: &FakeOAuth) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", oauth.client_id().to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", ADWORDS_SCOPE.to_owned()),
        ("state", "st4te-xyz".to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("access_type", "offline".to_owned()),
        ("prompt", "consent".to_owned()),
    ]
}

/// GET the auth URL; returns the status and the Location header, if any.
async fn authorize(oauth: &FakeOAuth, params: &[(&str, String)]) -> (StatusCode, Option<Url>) {
    let resp = client()
        .get(oauth.auth_url())
        .query(params)
        .send()
        .await
        .expect("auth request");
    let location = resp
        .headers()
        .get("location")
        .map(|l| Url::parse(l.to_str().unwrap()).unwrap());
    (resp.status(), location)
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn code(oauth: &FakeOAuth) -> String {
    let (status, location) = authorize(oauth, &auth_params(oauth)).await;
    assert_eq!(status, StatusCode::FOUND);
    query_param(&location.unwrap(), "code").expect("a code")
}

async fn token(oauth: &FakeOAuth, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = client()
        .post(oauth.token_url())
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = resp.status();
    (status, resp.json().await.expect("JSON body"))
}

async fn exchange(
    oauth: &FakeOAuth,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> (StatusCode, Value) {
    let (id, secret) = (
        oauth.client_id().to_owned(),
        oauth.client_secret().to_owned(),
    );
    token(
        oauth,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await
}

#[tokio::test]
async fn code_flow_with_pkce_issues_tokens_once() {
    let oauth = FakeOAuth::start().await;
    let (status, location) = authorize(&oauth, &auth_params(&oauth)).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("st4te-xyz")
    );
    assert_eq!(
        query_param(&location, "scope").as_deref(),
        Some(ADWORDS_SCOPE)
    );
    let code = query_param(&location, "code").unwrap();

    let (status, body) = exchange(&oauth, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], ADWORDS_SCOPE);
    let access = body["access_token"].as_str().unwrap();
    assert!(body["refresh_token"].is_string());
    assert_eq!(oauth.is_valid_access_token(access), TokenCheck::Valid);
    assert_eq!(
        oauth.is_valid_access_token("ya29.other"),
        TokenCheck::Unknown
    );

    let (status, body) = exchange(&oauth, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Bad Request");

    let requests = oauth.token_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].grant_type, "authorization_code");
    assert_eq!(requests[0].param("code_verifier"), Some(VERIFIER));
    assert_eq!(requests[0].param("client_secret"), Some("[redacted]"));
}

#[tokio::test]
async fn wrong_verifier_and_mismatched_redirect_fail() {
    let oauth = FakeOAuth::start().await;
    let c = code(&oauth).await;
    let wrong = "x".repeat(50);
    let (status, body) = exchange(&oauth, &c, &wrong, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // A verifier that is too short fails even if it hashed right.
    let (_, body) = exchange(&oauth, &c, "short", REDIRECT).await;
    assert_eq!(body["error"], "invalid_grant");

    let (status, body) = exchange(&oauth, &c, VERIFIER, "http://127.0.0.1:9/other").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "redirect_uri_mismatch");

    // The failed attempts did not burn the code.
    let (status, _) = exchange(&oauth, &c, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_authorization_requests_get_an_error_page_not_a_redirect() {
    let oauth = FakeOAuth::start().await;
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("state", None),
        ("code_challenge_method", Some("plain")),
        ("code_challenge_method", None),
        ("code_challenge", None),
        ("response_type", Some("token")),
        ("scope", Some("openid email")),
        ("redirect_uri", Some("https://evil.example/cb")),
        ("redirect_uri", Some("urn:ietf:wg:oauth:2.0:oob")),
        ("client_id", Some("unknown.apps.googleusercontent.com")),
    ];
    for (name, value) in cases {
        let params: Vec<(&str, String)> = auth_params(&oauth)
            .into_iter()
            .filter_map(|(k, v)| match (k == name, value) {
                (false, _) => Some((k, v)),
                (true, Some(new)) => Some((k, new.to_owned())),
                (true, None) => None,
            })
            .collect();
        let resp = client()
            .get(oauth.auth_url())
            .query(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}={value:?}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("Error 400"));
    }
}

#[tokio::test]
async fn denied_consent_redirects_with_access_denied() {
    let oauth = FakeOAuth::start().await;
    oauth.deny_next_consent();
    let (status, location) = authorize(&oauth, &auth_params(&oauth)).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("st4te-xyz")
    );
    assert!(query_param(&location, "code").is_none());
    // Only the next consent is refused.
    code(&oauth).await;
}

#[tokio::test]
async fn refresh_then_revoke_gives_invalid_grant() {
    let oauth = FakeOAuth::start().await;
    let c = code(&oauth).await;
    let (_, body) = exchange(&oauth, &c, VERIFIER, REDIRECT).await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let first_access = body["access_token"].as_str().unwrap().to_owned();

    // HTTP Basic client authentication.
    let basic = STANDARD.encode(format!("{}:{}", oauth.client_id(), oauth.client_secret()));
    let resp = client()
        .post(oauth.token_url())
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    let second_access = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_access, first_access);
    assert_eq!(oauth.refresh_count(), 1);
    assert!(oauth.token_requests()[1].basic_auth);

    let resp = client()
        .post(oauth.revoke_url())
        .form(&[("token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap(), serde_json::json!({}));
    assert_eq!(
        oauth.is_valid_access_token(&first_access),
        TokenCheck::Revoked
    );
    assert_eq!(
        oauth.is_valid_access_token(&second_access),
        TokenCheck::Revoked
    );

    let (id, secret) = (
        oauth.client_id().to_owned(),
        oauth.client_secret().to_owned(),
    );
    let (status, body) = token(
        &oauth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "Token has been expired or revoked."
    );
    assert_eq!(oauth.refresh_count(), 1);

    let resp = client()
        .post(oauth.revoke_url())
        .form(&[("token", "never-issued")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );
}

#[tokio::test]
async fn unknown_client_and_expired_refresh_tokens() {
    let oauth = FakeOAuth::start().await;
    let issued = oauth.issue_tokens();
    let (status, body) = token(
        &oauth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &issued.refresh_token),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    oauth.register_client("second-client", "s3cret");
    let (status, body) = token(
        &oauth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &issued.refresh_token),
            ("client_id", "second-client"),
            ("client_secret", "s3cret"),
        ],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "another client's refresh token: {body}"
    );

    oauth.expire_refresh_tokens();
    let (id, secret) = (
        oauth.client_id().to_owned(),
        oauth.client_secret().to_owned(),
    );
    let (status, body) = token(
        &oauth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &issued.refresh_token),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn access_tokens_expire_on_demand_and_by_lifetime() {
    let oauth = FakeOAuth::start().await;
    let issued = oauth.issue_tokens();
    assert_eq!(
        oauth.is_valid_access_token(&issued.access_token),
        TokenCheck::Valid
    );
    oauth.expire_access_tokens();
    assert_eq!(
        oauth.is_valid_access_token(&issued.access_token),
        TokenCheck::Expired
    );

    oauth.set_access_token_lifetime(0);
    let short = oauth.issue_tokens();
    assert_eq!(
        oauth.is_valid_access_token(&short.access_token),
        TokenCheck::Expired
    );
    oauth.revoke_all();
    assert_eq!(
        oauth.is_valid_access_token(&short.access_token),
        TokenCheck::Revoked
    );
    assert!(oauth.revoke(&short.refresh_token));
    assert!(!oauth.revoke("unknown"));
}

#[tokio::test]
async fn token_faults_play_once_then_normal() {
    let oauth = FakeOAuth::start().await;
    let issued = oauth.issue_tokens();
    let (id, secret) = (
        oauth.client_id().to_owned(),
        oauth.client_secret().to_owned(),
    );
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", issued.refresh_token.as_str()),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    oauth.push_token_fault(OAuthFault::Internal);
    oauth.push_token_fault(OAuthFault::Unavailable);
    oauth.push_token_fault(OAuthFault::DropConnection);
    oauth.push_token_fault(OAuthFault::Slow { millis: 50 });

    assert_eq!(
        token(&oauth, &form).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        token(&oauth, &form).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let dropped = client().post(oauth.token_url()).form(&form).send().await;
    assert!(dropped.is_err(), "the connection closes without an answer");
    let (status, body) = token(&oauth, &form).await;
    assert_eq!(status, StatusCode::OK, "slow, then normal: {body}");
    assert_eq!(token(&oauth, &form).await.0, StatusCode::OK);
    assert_eq!(oauth.refresh_count(), 2);
}
