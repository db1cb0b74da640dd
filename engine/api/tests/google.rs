//! Google accounts over real HTTP against the local fake Google OAuth and Ads: a consent is
//! started (the consent page answered at once), completed by a browser (here reqwest following
//! the fake's approval back to the server's loopback listener), listed as connected with its
//! customers, revoked, then forgotten; non-admin keys are refused, other projects see none.

mod common;

use std::time::Duration;

use common::{problem, start_with};
use leadorch_api::keys::Scope;
use leadorch_api::Settings;
use leadorch_fakes::{FakeGoogleAds, FakeOAuth};
use leadorch_store::Dialect;
use serde_json::Value;

#[tokio::test]
async fn an_account_is_connected_listed_revoked_and_forgotten() {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer("1234567890", None);
    let mut settings = Settings::default();
    settings.google.client_id = Some(oauth.client_id().to_string());
    settings.google.client_secret = Some(oauth.client_secret().to_string());
    settings.google.auth_url = Some(oauth.auth_url());
    settings.google.token_url = Some(oauth.token_url());
    settings.google.revoke_url = Some(oauth.revoke_url());
    settings.google.base_url = Some(ads.base_url());
    let s = start_with(Dialect::Sqlite, settings).await;
    let admin = s.key("ops", &[Scope::Admin]).await;
    let read = s.key("dash", &[Scope::Read]).await;
    let (acme, _) = s.key_in("acme", "ops", &[Scope::Admin], &[]).await;
    let http = reqwest::Client::new();
    let list = || async {
        let r = http
            .get(s.url("/v1/google/accounts"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    assert_eq!(list().await, serde_json::json!([]));

    let r = http
        .post(s.url("/v1/google/accounts/ops/consent"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let started: Value = r.json().await.unwrap();
    let page = started["consent_url"].as_str().unwrap().to_string();
    assert!(page.starts_with(&oauth.auth_url()), "{page}");
    assert!(started["redirect_uri"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    // The browser: the fake approves and sends it back to the server's loopback listener.
    let done = reqwest::get(&page).await.unwrap();
    assert!(done.status().is_success(), "{}", done.status());

    let mut connected = Value::Null;
    for _ in 0..600 {
        let accounts = list().await;
        if accounts[0]["status"] == "connected" {
            connected = accounts[0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(connected["account"], "ops", "never connected");
    assert_eq!(connected["customers"], serde_json::json!(["1234567890"]));

    // Not for other keys or projects.
    let r = http
        .get(s.url("/v1/google/accounts"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    let r = http
        .get(s.url("/v1/google/accounts"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!([]));
    let r = http
        .post(s.url("/v1/google/accounts/ops/revoke"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = http
        .post(s.url("/v1/google/accounts/bad%20name/consent"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 422).await["field"], "account");

    let r = http
        .post(s.url("/v1/google/accounts/ops/revoke"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], "revoked_at_google");
    assert_eq!(list().await[0]["status"], "revoked");

    let r = http
        .delete(s.url("/v1/google/accounts/ops"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(list().await[0]["data_deleted_at"].is_string());
    let r = http
        .delete(s.url("/v1/google/accounts/nobody"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
}
