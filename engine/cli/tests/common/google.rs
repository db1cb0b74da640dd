//! A user's Google set-up for the CLI's end-to-end tests: the fake Google OAuth and Google Ads
//! servers on the test's runtime, customer 1234567890 with campaign 111 "NL Generic" (label
//! `team:sales-nl`), a database of the test's own, and `google connect` with the test as the
//! browser.
#![allow(dead_code)] // each test binary uses its own part of it

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use leadorch_fakes::{FakeCampaign, FakeGoogleAds, FakeOAuth};

/// The fake Google Ads customer.
pub const CUSTOMER: &str = "1234567890";

pub struct Setup {
    pub oauth: FakeOAuth,
    pub ads: FakeGoogleAds,
    pub dir: tempfile::TempDir,
    /// The database: a SQLite file in `dir` ([`Setup::new`]) or the one given to
    /// [`Setup::on`].
    pub url: String,
}

impl Setup {
    pub async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("leadorch.db").display());
        Setup::in_dir(dir, url).await
    }

    /// The same set-up on the database at `url` (its master key in a folder of the test's).
    pub async fn on(url: &str) -> Setup {
        Setup::in_dir(tempfile::tempdir().unwrap(), url.to_string()).await
    }

    async fn in_dir(dir: tempfile::TempDir, url: String) -> Setup {
        let oauth = FakeOAuth::start().await;
        let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
        ads.add_customer(CUSTOMER, None);
        let mut c = FakeCampaign::new(111, "NL Generic");
        c.labels = vec!["team:sales-nl".into()];
        ads.add_campaign(CUSTOMER, c);
        Setup {
            oauth,
            ads,
            dir,
            url,
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("leadorch.db")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadorch"));
        c.arg("--database-url")
            .arg(&self.url)
            .args(args)
            .env("LEADORCH_HOME", self.dir.path())
            .env_remove("LEADORCH_MASTER_KEY")
            .env_remove("LEADORCH_MASTER_KEY_FILE")
            .env_remove("DATABASE_URL")
            .env_remove("LEADORCH_CONFIG")
            // A rule-run budget no run reaches on a busy machine (debug build).
            .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
            .env("LEADORCH_LISTEN", "127.0.0.1:0")
            .env("LEADORCH_GOOGLE_CLIENT_ID", self.oauth.client_id())
            .env("LEADORCH_GOOGLE_CLIENT_SECRET", self.oauth.client_secret())
            .env("LEADORCH_GOOGLE_OAUTH_AUTH_URL", self.oauth.auth_url())
            .env("LEADORCH_GOOGLE_OAUTH_TOKEN_URL", self.oauth.token_url())
            .env("LEADORCH_GOOGLE_OAUTH_REVOKE_URL", self.oauth.revoke_url())
            .env("LEADORCH_GOOGLE_ADS_BASE_URL", self.ads.base_url());
        c
    }

    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `google connect` with the test as the browser: follow the consent page's redirect to
    /// the CLI's loopback listener.
    pub async fn connect(&self, account: &str) -> String {
        self.connect_with(&[], account).await
    }

    /// [`Setup::connect`] with more arguments for `google` (`--project acme`).
    pub async fn connect_with(&self, google_args: &[&str], account: &str) -> String {
        let mut args = vec!["google"];
        args.extend_from_slice(google_args);
        args.extend([
            "connect",
            "--account",
            account,
            "--no-browser",
            "--timeout-secs",
            "30",
        ]);
        let mut child = self
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the CLI prints the consent page");
            if let Some(u) = line.strip_prefix("consent page: ") {
                break u.to_string();
            }
        };
        assert!(url.starts_with(&self.oauth.auth_url()), "{url}");
        for p in [
            "code_challenge_method=S256",
            "access_type=offline",
            "state=",
            "code_challenge=",
        ] {
            assert!(url.contains(p), "{p} missing from {url}");
        }
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let consent = browser.get(&url).send().await.unwrap();
        assert_eq!(consent.status().as_u16(), 302, "the fake user consents");
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with("http://127.0.0.1:"), "{back}");
        let page = browser.get(&back).send().await.unwrap();
        assert!(page.status().is_success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}");
        stdout
    }
}
