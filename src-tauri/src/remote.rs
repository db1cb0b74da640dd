//! Remote mode: the window's requests go to a daemon's HTTP API instead of a database this
//! process opened (issue 17, ADR 0044).
//!
//! The shell makes the requests, not the window: the API key stays in this process (read from
//! the OS keyring, never sent to JavaScript), and the webview's Content Security Policy keeps
//! allowing only the shell. Every view works the same in both modes, because both answer
//! [`ApiRequest`] with the API's own status and body.
//!
//! A daemon is reached over HTTPS, or over plain HTTP on this machine's loopback only (a
//! lead's personal data never crosses a network in clear, as the daemon's own `--listen` rule
//! says). Connecting checks the address and the key with `GET /readyz` before anything
//! switches.

use std::time::Duration;

use leadorch_accounts::AccountSummary;
use leadorch_api::routes::events::EventCount;
use leadorch_api::routes::google::AccountView;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::app::{ApiRequest, ApiResponse, Overview};
use crate::UiError;

/// How long one request may take before it is given up (a backtest over a long history takes a
/// while; a daemon that stopped answering must not hang the window forever).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// How long connecting to the daemon may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the head watch asks a remote daemon for the log's head.
pub const HEAD_POLL: Duration = Duration::from_secs(1);

/// The largest log position: `GET /v1/events/count?after=` this counts nothing and answers
/// the head.
const MAX_POSITION: u64 = i64::MAX as u64;

/// A daemon this app talks to, with its API key.
pub struct Remote {
    base: url::Url,
    key: Zeroizing<String>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// `/readyz`'s answer.
#[derive(Deserialize)]
struct Ready {
    database: String,
}

/// The daemon's address as the user gave it, checked: `https://…`, or `http://` to a loopback
/// address; no path, query, fragment or user info. Answers it without a trailing slash.
pub fn checked_url(given: &str) -> Result<url::Url, UiError> {
    let bad = |why: &str| UiError::new("input", format!("url: {why}"));
    let url = url::Url::parse(given.trim())
        .map_err(|e| bad(&format!("{given:?} is not an address ({e}); give e.g. https://leadorch.example.org or http://127.0.0.1:8650")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "give the address without a user name or password (the API key goes in its own field)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(bad(
            "give the daemon's address alone, without a path (e.g. https://leadorch.example.org)",
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "plain http reaches only this machine (127.0.0.1, ::1, localhost): a daemon elsewhere is reached over https, since requests carry personal data",
            ))
        }
        other => return Err(bad(&format!("{other}: is not http or https"))),
    }
    Ok(url)
}

impl Remote {
    /// A client for the daemon at `url` with `key`; checks the address only (see
    /// [`Remote::check`] for the daemon and the key).
    pub fn new(url: &str, key: Zeroizing<String>) -> Result<Remote, UiError> {
        let base = checked_url(url)?;
        if key.trim().is_empty() {
            return Err(UiError::new(
                "input",
                "api_key: give the daemon's API key (`leadorch keys create --name desktop --scopes read,rules,admin,ingest,capacity`)",
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| UiError::new("internal", format!("the HTTP client: {e}")))?;
        Ok(Remote { base, key, client })
    }

    /// The address, as shown (`https://leadorch.example.org`).
    pub fn url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    fn endpoint(&self, path: &str) -> Result<url::Url, UiError> {
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(UiError::new(
                "input",
                format!("{path:?} is not a path of the API (it starts with /v1/)"),
            ));
        }
        self.base
            .join(path)
            .map_err(|e| UiError::new("input", format!("{path:?}: {e}")))
    }

    fn unreachable(&self, e: &reqwest::Error) -> UiError {
        let why = if e.is_timeout() {
            "it did not answer in time".to_string()
        } else if e.is_connect() {
            "nothing answers there (is the daemon running with --listen on that address?)"
                .to_string()
        } else {
            // reqwest's message names the URL, never the key (it is a header).
            e.to_string()
        };
        UiError::new(
            "unreachable",
            format!("cannot reach the daemon at {}: {why}", self.url()),
        )
    }

    /// `GET /readyz` with the key: the daemon's database dialect when it answers and takes
    /// the key; an `input` error saying which of the two failed, else.
    pub async fn check(&self) -> Result<String, UiError> {
        let answer = self.call("GET", "/readyz", None, None).await?;
        match answer.status {
            200 => {
                let ready: Ready = serde_json::from_value(answer.body).map_err(|_| {
                    UiError::new(
                        "input",
                        format!(
                            "url: {} answered, but not as a Lead Orchestrator daemon",
                            self.url()
                        ),
                    )
                })?;
                Ok(ready.database)
            }
            401 | 403 => Err(UiError::new(
                "input",
                format!(
                    "api_key: the daemon at {} refused the key ({})",
                    self.url(),
                    detail(&answer.body)
                ),
            )),
            status => Err(UiError::new(
                "input",
                format!(
                    "url: the daemon at {} is not ready (HTTP {status}: {})",
                    self.url(),
                    detail(&answer.body)
                ),
            )),
        }
    }

    /// One request of the window, sent to the daemon: its status and JSON body (a problem for
    /// a 4xx/5xx, as in process). Only a daemon that cannot be reached is an error.
    pub async fn request(&self, request: ApiRequest) -> Result<ApiResponse, UiError> {
        if request.path.starts_with("/v1/events/stream") {
            return Err(UiError::new(
                "input",
                "the live tail is not a request: the window hears the log move from the shell",
            ));
        }
        self.call(
            &request.method,
            &request.path,
            request.body,
            request.progress_token.as_deref(),
        )
        .await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        progress_token: Option<&str>,
    ) -> Result<ApiResponse, UiError> {
        let method = match method {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => {
                reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| bad_method(method))?
            }
            other => return Err(bad_method(other)),
        };
        let mut builder = self
            .client
            .request(method, self.endpoint(path)?)
            .bearer_auth(self.key.as_str())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = progress_token {
            builder = builder.header("progress-token", token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let response = builder.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::json!({
                    "type": "about:blank",
                    "title": "Not JSON",
                    "status": status,
                    "detail": format!("the daemon answered HTTP {status} with a body that is not JSON"),
                })
            })
        };
        Ok(ApiResponse { status, body })
    }

    /// The log's head as the key's project sees it.
    pub async fn head(&self) -> Result<u64, UiError> {
        let answer = self
            .call(
                "GET",
                &format!("/v1/events/count?after={MAX_POSITION}"),
                None,
                None,
            )
            .await?;
        if answer.status != 200 {
            return Err(UiError::new(
                "input",
                format!(
                    "the daemon at {} refused to tell the log's head (HTTP {}: {})",
                    self.url(),
                    answer.status,
                    detail(&answer.body)
                ),
            ));
        }
        serde_json::from_value::<EventCount>(answer.body)
            .map(|c| c.head)
            .map_err(|e| UiError::new("internal", format!("the head's answer: {e}")))
    }

    /// The main view over the daemon: its address and database, and the Google accounts (none
    /// when the key may not list them). The master key stays with the daemon: no check value.
    pub async fn overview(&self) -> Result<Overview, UiError> {
        let database = self.check().await.map_err(|e| UiError {
            code: "not_open",
            message: e.message,
        })?;
        let answer = self.call("GET", "/v1/google/accounts", None, None).await?;
        let accounts = match answer.status {
            200 => serde_json::from_value::<Vec<AccountView>>(answer.body)
                .map_err(|e| UiError::new("internal", format!("the accounts' answer: {e}")))?
                .into_iter()
                .map(summary)
                .collect(),
            // A key without the admin scope sees no accounts, not no overview.
            403 => Vec::new(),
            status => {
                return Err(UiError::new(
                    "internal",
                    format!(
                        "listing the daemon's Google accounts: HTTP {status}: {}",
                        detail(&answer.body)
                    ),
                ))
            }
        };
        Ok(Overview {
            database: format!("{} ({database})", self.url()),
            master_key: "held by the daemon".into(),
            master_key_check: "—".into(),
            accounts,
        })
    }
}

fn bad_method(method: &str) -> UiError {
    UiError::new(
        "input",
        format!("{method:?} is not a method of the API (GET, POST, PUT, PATCH or DELETE)"),
    )
}

/// A problem's `detail` (or its title), for a one-line message.
fn detail(body: &serde_json::Value) -> String {
    body.get("detail")
        .or_else(|| body.get("title"))
        .and_then(|d| d.as_str())
        .unwrap_or("no detail")
        .to_string()
}

fn summary(a: AccountView) -> AccountSummary {
    let status = match a.status.as_str() {
        "connected" => "connected",
        "reconsent_needed" => "reconsent_needed",
        "revoked" => "revoked",
        _ => "not_connected",
    };
    AccountSummary {
        account: a.account,
        status,
        customers: a.customers,
        connected_at: a.connected_at,
        reconsent_reason: a.reconsent_reason,
        data_deleted_at: a.data_deleted_at,
        quota_exhausted_until: a.quota_exhausted_until,
    }
}

/// What the window is connected to (`connection_get`, `connection_set`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ConnectionState {
    /// The database this process opened.
    Local {
        /// The database, without any password (or why it could not be opened).
        database: String,
    },
    /// A daemon's API.
    Remote {
        /// Its address.
        url: String,
        /// The key's name, when the daemon told it (it does not yet: always `null`).
        key_name: Option<String>,
        /// Whether it answered the last check.
        reachable: bool,
        /// Why not, when it did not.
        error: Option<String>,
    },
}

/// What the window asks to connect to (`connection_test`, `connection_set`).
#[derive(Clone, Debug, Deserialize, TS)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ConnectionRequest {
    /// Back to the local database.
    Local,
    /// A daemon: its address, and its API key (left out: the one kept for that address).
    Remote {
        /// The daemon's address.
        url: String,
        /// The API key; kept in the OS keyring once the daemon took it.
        #[serde(default)]
        #[ts(optional)]
        api_key: Option<String>,
    },
}

/// The remembered choice (`desktop-connection.json` in the app's data folder): the mode and the
/// daemon's address. Never the key (the OS keyring holds it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The daemon's address, when remote.
    pub remote_url: Option<String>,
}

impl Remembered {
    /// Reads the file; a missing file is the local database, a broken one is said and ignored.
    pub fn load(path: &std::path::Path) -> Remembered {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "{}: not a connection file ({e}); using the local database",
                    path.display()
                );
                Remembered::default()
            }),
            Err(_) => Remembered::default(),
        }
    }

    /// Writes the file (its folder made when missing).
    pub fn save(&self, path: &std::path::Path) -> Result<(), UiError> {
        let failed = |e: &dyn std::fmt::Display| {
            UiError::new(
                "internal",
                format!("remembering the connection in {}: {e}", path.display()),
            )
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
        }
        let text = serde_json::to_vec_pretty(self).map_err(|e| failed(&e))?;
        std::fs::write(path, text).map_err(|e| failed(&e))
    }
}

/// The keyring entry's user for a daemon's API key.
pub fn key_entry_user(url: &str) -> String {
    format!("api-key:{url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_https_or_loopback_http_without_a_path() {
        for good in [
            "https://leadorch.example.org",
            "https://leadorch.example.org/",
            "http://127.0.0.1:8650",
            "http://[::1]:8650",
            "http://localhost:8650",
        ] {
            checked_url(good).unwrap_or_else(|e| panic!("{good}: {}", e.message));
        }
        for (bad, why) in [
            ("leadorch.example.org", "not an address"),
            (
                "http://10.0.0.5:8650",
                "plain http reaches only this machine",
            ),
            ("https://a.example.org/v1", "without a path"),
            ("https://u:p@a.example.org", "without a user name"),
            ("ftp://a.example.org", "not http or https"),
        ] {
            let e = checked_url(bad).unwrap_err();
            assert_eq!(e.code, "input");
            assert!(e.message.starts_with("url: "), "{}", e.message);
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn a_key_is_needed_and_never_printed() {
        let e = Remote::new("http://127.0.0.1:1", Zeroizing::new(" ".into())).unwrap_err();
        assert!(e.message.starts_with("api_key: "), "{}", e.message);
        let r = Remote::new(
            "http://127.0.0.1:1",
            Zeroizing::new("lo_default_secret".into()),
        )
        .unwrap();
        assert!(!format!("{r:?}").contains("secret"));
    }

    #[test]
    fn the_remembered_choice_survives_a_restart_and_a_broken_file_is_local() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/desktop-connection.json");
        assert_eq!(Remembered::load(&path), Remembered::default());
        let r = Remembered {
            remote_url: Some("https://a.example.org".into()),
        };
        r.save(&path).unwrap();
        assert_eq!(Remembered::load(&path), r);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(Remembered::load(&path), Remembered::default());
    }
}
