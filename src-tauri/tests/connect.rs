//! "Connect Google account" as the desktop window runs it, without the window: the consent
//! against the fake Google (PKCE, state, loopback redirect), the grant sealed under the
//! master key the keyring holds, and nothing secret left in a file.

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use leadorch_config::GoogleSettings;
use leadorch_desktop::app::{Desktop, OpenOptions};
use leadorch_desktop::master_key::SecretStore;
use leadorch_fakes::{FakeGoogleAds, FakeOAuth};
use zeroize::Zeroizing;

const CUSTOMER: &str = "1234567890";

/// Stands in for the OS keyring (the end-to-end test in tests/desktop uses the real one).
#[derive(Default)]
struct Keyring(RefCell<Option<String>>);

impl SecretStore for Keyring {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        Ok(self.0.borrow().clone().map(Zeroizing::new))
    }
    fn set(&self, secret: &str) -> Result<(), String> {
        *self.0.borrow_mut() = Some(secret.to_string());
        Ok(())
    }
}

fn file_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The [google] settings that point at the fakes.
fn google(oauth: &FakeOAuth, ads: &FakeGoogleAds) -> GoogleSettings {
    GoogleSettings {
        client_id: Some(oauth.client_id().to_string()),
        client_secret: Some(oauth.client_secret().to_string()),
        token_url: Some(oauth.token_url()),
        auth_url: Some(oauth.auth_url()),
        revoke_url: Some(oauth.revoke_url()),
        base_url: Some(ads.base_url()),
        ..Default::default()
    }
}

/// A database in `dir`, no key file, `google` as the client settings.
fn options(dir: &Path, google: GoogleSettings) -> OpenOptions {
    OpenOptions {
        database_url: format!("sqlite://{}", dir.join("leadorch.db").display()),
        key_file: None,
        google,
        actor: "desktop:test".into(),
        api: Default::default(),
    }
}

/// The user's browser opening the consent page: Google's answer and where it redirects
/// (back to the app's loopback listener), without following it yet.
async fn open_consent_page(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let consent = browser.get(url).send().await.unwrap();
    let back = consent.headers()["location"].to_str().unwrap().to_string();
    (consent.status().as_u16(), back)
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The user's browser: follows the consent page (the fake approves at once) back to the
/// app's loopback listener.
async fn approve(url: String) {
    let browser = browser();
    let (status, back) = open_consent_page(&browser, &url).await;
    assert_eq!(status, 302, "the fake user consents");
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    assert!(browser
        .get(&back)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_from_the_desktop_seals_the_grant_under_the_keyring_key() {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer(CUSTOMER, None);
    let dir = tempfile::tempdir().unwrap();
    let options = options(dir.path(), google(&oauth, &ads));
    let keyring = Keyring::default();
    let app = Desktop::open(options.clone(), &keyring)
        .await
        .unwrap()
        .with_consent_timeout(Duration::from_secs(30));
    let first = app.overview().await.unwrap();
    assert_eq!(first.master_key, "OS keyring (new key)");
    assert!(first.accounts.is_empty());

    // Bad input is refused before anything opens.
    let err = app.start_consent("not a name", |_| true).await.unwrap_err();
    assert_eq!(err.code, "input", "{err:?}");
    let err = app.finish_consent().await.unwrap_err();
    assert!(err.message.contains("Connect Google account"), "{err:?}");

    let mut page = None;
    let started = app
        .start_consent("ops", |url| {
            page = Some(url.to_string());
            true
        })
        .await
        .unwrap();
    let url = page.expect("the browser was sent to the consent page");
    assert_eq!(started.consent_page, url);
    assert!(started.browser_opened);
    for p in [
        "code_challenge_method=S256",
        "access_type=offline",
        "state=",
        "scope=",
    ] {
        assert!(url.contains(p), "{p} missing from {url}");
    }
    let browser = tokio::spawn(approve(url));
    let account = app.finish_consent().await.unwrap();
    browser.await.unwrap();
    assert_eq!(account.account, "ops");
    assert_eq!(account.status, "connected");
    assert_eq!(account.customers, vec![CUSTOMER.to_string()]);

    // The refresh token is stored sealed; the master key is in the keyring only.
    let token = app
        .engine()
        .store
        .tokens()
        .get("ops")
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("1//fake-"), "the fake's refresh token");
    let files = file_bytes(dir.path());
    assert!(
        !contains(&files, token.as_bytes()),
        "refresh token in clear"
    );
    assert!(!contains(&files, b"1//fake-"), "refresh token in clear");
    let key = keyring.0.borrow().clone().unwrap();
    assert!(!contains(&files, key.as_bytes()), "master key in a file");
    assert!(!dir.path().join("master.key").exists());
    drop(app);

    // The next start reads the same key from the keyring and opens the same grant.
    let again = Desktop::open(options.clone(), &keyring).await.unwrap();
    let view = again.overview().await.unwrap();
    assert_eq!(view.master_key, "OS keyring");
    assert_eq!(view.master_key_check, first.master_key_check);
    assert_eq!(view.accounts, vec![account]);
    let reopened = again
        .engine()
        .store
        .tokens()
        .get("ops")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reopened.as_str(), token.as_str());
    drop(again);

    // Another keyring's key does not open it.
    let other = Keyring::default();
    let stranger = Desktop::open(options, &other).await.unwrap();
    assert!(stranger.engine().store.tokens().get("ops").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_unconfigured_consent_is_reported_and_records_nothing() {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer(CUSTOMER, None);
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path(), GoogleSettings::default());
    let keyring = Keyring::default();
    // No OAuth client configured: said at once, with what to set.
    let app = Desktop::open(options.clone(), &keyring).await.unwrap();
    let err = app.start_consent("ops", |_| true).await.unwrap_err();
    assert!(err.message.contains("client id"), "{err:?}");
    drop(app);

    options.google = google(&oauth, &ads);
    let app = Desktop::open(options, &keyring)
        .await
        .unwrap()
        .with_consent_timeout(Duration::from_secs(30));
    oauth.deny_next_consent();
    let mut page = None;
    app.start_consent("ops", |url| {
        page = Some(url.to_string());
        false
    })
    .await
    .unwrap();
    let url = page.unwrap();
    let browser = tokio::spawn(async move {
        let client = browser();
        let (_, back) = open_consent_page(&client, &url).await;
        assert!(back.contains("error="), "{back}");
        let _ = client.get(&back).send().await;
    });
    let err = app.finish_consent().await.unwrap_err();
    browser.await.unwrap();
    assert_eq!(err.code, "consent", "{err:?}");
    assert!(app.overview().await.unwrap().accounts.is_empty());
    assert!(app
        .engine()
        .store
        .tokens()
        .get("ops")
        .await
        .unwrap()
        .is_none());
}
