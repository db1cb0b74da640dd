//! Google accounts over real HTTP against the local fake Google OAuth and Ads: a consent is
//! started (the consent page answered at once), completed by a browser (here reqwest following
//! the fake's approval back to the server's loopback listener), listed as connected with its
//! customers, revoked, then forgotten; non-admin keys are refused. Each project has its own
//! accounts: the same name in two projects is two accounts, and a key never sees or touches
//! another project's. The list says until when Google's daily quota was recorded exhausted.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{problem, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_api::Settings;
use leadorch_domain::google_account::{AccountStatus, GoogleAccountCommand, ADWORDS_SCOPE};
use leadorch_domain::personal::KeyPurpose;
use leadorch_domain::GoogleAccount;
use leadorch_fakes::{FakeGoogleAds, FakeOAuth};
use leadorch_store::{Dialect, Metadata};
use serde_json::Value;

/// Settings that reach the fake Google OAuth and Ads.
fn google_settings(oauth: &FakeOAuth, ads: &FakeGoogleAds) -> Settings {
    let mut settings = Settings::default();
    settings.google.client_id = Some(oauth.client_id().to_string());
    settings.google.client_secret = Some(oauth.client_secret().to_string());
    settings.google.auth_url = Some(oauth.auth_url());
    settings.google.token_url = Some(oauth.token_url());
    settings.google.revoke_url = Some(oauth.revoke_url());
    settings.google.base_url = Some(ads.base_url());
    settings
}

#[tokio::test]
async fn an_account_is_connected_listed_revoked_and_forgotten() {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer("1234567890", None);
    let s = start_with(Dialect::Sqlite, google_settings(&oauth, &ads)).await;
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

/// `GET /v1/google/accounts` with `key`: the answer's text (a JSON array).
async fn list_text(s: &Server, key: &str) -> String {
    let r = reqwest::Client::new()
        .get(s.url("/v1/google/accounts"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Connects `account` with `key` the way a browser does, and waits until the key's list shows
/// it connected (the grant is recorded when Google's answer reaches the server).
async fn connect(s: &Server, key: &str, account: &str) -> Value {
    let r = reqwest::Client::new()
        .post(s.url(&format!("/v1/google/accounts/{account}/consent")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["account"], account, "named bare: {started}");
    let done = reqwest::get(started["consent_url"].as_str().unwrap())
        .await
        .unwrap();
    assert!(done.status().is_success(), "{}", done.status());
    for _ in 0..600 {
        let list: Value = serde_json::from_str(&list_text(s, key).await).unwrap();
        if let Some(a) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == account && a["status"] == "connected")
        {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{account} never connected");
}

async fn head(s: &Server) -> u64 {
    s.engine.store.log.head().await.unwrap().position
}

#[tokio::test]
async fn each_project_has_its_own_accounts_and_cannot_reach_another_s() {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer("1234567890", None);
    let s = start_with(Dialect::Sqlite, google_settings(&oauth, &ads)).await;
    let default = s.key("ops", &[Scope::Admin]).await;
    let (acme, _) = s.key_in("acme", "ops", &[Scope::Admin], &[]).await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, key: &str| {
        http.request(method, s.url(path)).bearer_auth(key).send()
    };
    let (post, delete) = (reqwest::Method::POST, reqwest::Method::DELETE);

    connect(&s, &default, "ops").await;
    assert_eq!(list_text(&s, &acme).await, "[]", "acme has no account yet");
    // Default's `ops` is no account of acme's: the same 404 as an unknown one, nothing written.
    let before = head(&s).await;
    for (method, path) in [
        (post.clone(), "/v1/google/accounts/ops/revoke"),
        (delete.clone(), "/v1/google/accounts/ops"),
    ] {
        let p = problem(call(method, path, &acme).await.unwrap(), 404).await;
        assert_eq!(
            p["detail"], "no Google account named \"ops\" is known",
            "{p}"
        );
    }
    assert_eq!(head(&s).await, before, "a refusal writes nothing");
    assert!(s.engine.store.tokens().get("ops").await.unwrap().is_some());

    // Acme connects an `ops` of its own: stored as acme/ops, shown as ops.
    let mine = connect(&s, &acme, "ops").await;
    assert_eq!(mine["customers"], serde_json::json!(["1234567890"]));
    let state = leadorch_accounts::load_account(&s.engine, "acme/ops")
        .await
        .unwrap();
    assert_eq!(
        state.status(),
        AccountStatus::Connected,
        "stream google_account:acme/ops"
    );
    assert!(s
        .engine
        .store
        .tokens()
        .get("acme/ops")
        .await
        .unwrap()
        .is_some());
    for key in [&default, &acme] {
        let text = list_text(&s, key).await;
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{text}");
        assert_eq!(list[0]["account"], "ops", "{text}");
        assert_eq!(list[0]["status"], "connected", "{text}");
        assert!(!text.contains("acme"), "{text}");
    }

    // Default cannot name acme's account by its stored name.
    let before = head(&s).await;
    for (method, path) in [
        (post.clone(), "/v1/google/accounts/acme%2Fops/revoke"),
        (delete.clone(), "/v1/google/accounts/acme%2Fops"),
    ] {
        problem(call(method, path, &default).await.unwrap(), 404).await;
    }
    let p = problem(
        call(
            post.clone(),
            "/v1/google/accounts/acme%2Fops/consent",
            &default,
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["field"], "account");
    // Nor acme default's, by a project prefix.
    problem(
        call(
            post.clone(),
            "/v1/google/accounts/default%2Fops/revoke",
            &acme,
        )
        .await
        .unwrap(),
        404,
    )
    .await;
    assert_eq!(head(&s).await, before, "a refusal writes nothing");

    // Acme revokes and forgets its own `ops`: its token and keys go, default's stay.
    let r = call(post.clone(), "/v1/google/accounts/ops/revoke", &acme)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["account"], "ops");
    assert_eq!(v["outcome"], "revoked_at_google");
    let r = call(delete.clone(), "/v1/google/accounts/ops", &acme)
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let tokens = s.engine.store.tokens();
    assert!(tokens.get("acme/ops").await.unwrap().is_none());
    assert!(
        tokens.get("ops").await.unwrap().is_some(),
        "default's token stays"
    );
    let keys = s.engine.store.codec.keys();
    assert!(
        keys.purposes("acme/ops").await.unwrap().is_empty(),
        "acme's keys destroyed"
    );
    assert!(
        keys.purposes("ops")
            .await
            .unwrap()
            .contains(&KeyPurpose::Account),
        "default's keys stay"
    );
    let acme_list: Value = serde_json::from_str(&list_text(&s, &acme).await).unwrap();
    assert_eq!(acme_list[0]["account"], "ops");
    assert_eq!(acme_list[0]["status"], "revoked");
    assert!(acme_list[0]["data_deleted_at"].is_string());
    let default_list: Value = serde_json::from_str(&list_text(&s, &default).await).unwrap();
    assert_eq!(default_list[0]["status"], "connected");
    assert!(default_list[0]["data_deleted_at"].is_null());
}

/// `GET /v1/google/accounts` says until when Google's daily quota was last recorded exhausted
/// (ADR 0052): the recorded end, past or not, and null for an account never held; the field is
/// described in `/openapi.json`.
#[tokio::test]
async fn the_list_says_until_when_google_s_daily_quota_was_recorded_exhausted() {
    let s = common::start().await;
    let admin = s.key("ops", &[Scope::Admin]).await;
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    let meta = Metadata::actor("test");
    for account in ["ops", "calm"] {
        s.engine
            .execute::<GoogleAccount>(
                account,
                GoogleAccountCommand::GrantConsent {
                    account_id: account.into(),
                    email: None,
                    scopes: vec![ADWORDS_SCOPE.into()],
                    accessible_customers: vec!["1234567890".into()],
                    at: at("2026-12-01T09:30:00Z"),
                },
                &meta,
            )
            .await
            .unwrap();
    }
    s.engine
        .execute::<GoogleAccount>(
            "ops",
            GoogleAccountCommand::RecordQuotaExhausted {
                until: at("2026-12-08T08:00:00Z"),
                reason: "quotaError RESOURCE_EXHAUSTED (request id r-1)".into(),
                at: at("2026-12-07T10:00:00Z"),
            },
            &meta,
        )
        .await
        .unwrap();

    let list: Value = serde_json::from_str(&list_text(&s, &admin).await).unwrap();
    let row = |account: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == account)
            .unwrap_or_else(|| panic!("no {account} in {list}"))
            .clone()
    };
    assert_eq!(row("ops")["quota_exhausted_until"], "2026-12-08T08:00:00Z");
    assert_eq!(row("ops")["status"], "connected");
    assert!(row("calm")["quota_exhausted_until"].is_null(), "{list}");
    // The reason stays in the log: the list carries only the end.
    assert!(!list.to_string().contains("RESOURCE_EXHAUSTED"), "{list}");

    let doc = serde_json::to_value(leadorch_api::openapi()).unwrap();
    let field = &doc["components"]["schemas"]["AccountView"]["properties"]["quota_exhausted_until"];
    assert!(
        field["description"]
            .as_str()
            .is_some_and(|d| d.contains("daily quota")),
        "{field}"
    );
}
