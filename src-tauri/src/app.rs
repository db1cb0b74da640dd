//! What the desktop window can ask for, as plain functions over the engine (the Tauri
//! commands in `lib.rs` are one-line calls into these).
//!
//! Everything the HTTP API offers, the window asks for through [`Desktop::api_request`]: the
//! API's own routes run in this process ([`leadorch_api::Local`], ADR 0039), as an operator
//! of the default project recorded as `desktop:<user>`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use leadorch_accounts::{self as accounts, AccountSummary, PendingConsent};
use leadorch_api::{Api, Local, LocalResponse};
use leadorch_config::{Config, GoogleSettings};
use leadorch_core::Engine;
use leadorch_store::{db, default_master_key_file, Db, RetentionPolicy, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use ts_rs::TS;

use crate::master_key::{self, KeySource, OsKeyring, SecretStore};
use crate::UiError;

/// How long a started consent waits for Google's answer.
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The project whose Google accounts the desktop shows and connects, and whose rules, teams,
/// events and the rest its API calls act on: the default one, whose names are bare (another
/// project's `acme/ops` is neither shown nor connected; ADR 0030).
const PROJECT: &str = "default";

/// The open app: the engine over its database, and the Google client settings.
pub struct Desktop {
    engine: Engine,
    google: GoogleSettings,
    database: String,
    key_source: KeySource,
    key_check: String,
    actor: String,
    consent_timeout: Duration,
    pending: Mutex<Option<PendingConsent>>,
    local: Local,
    /// Requests the window may cancel, by the id it gave them.
    running: Cancels,
    /// The task telling the window about the log's head, once started.
    head_watch: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A cancellable request: running, or cancelled before it started.
enum Running {
    Task(tokio::task::AbortHandle),
    Cancelled,
}

/// Requests the window may cancel, by the id it gave them (local and remote alike).
#[derive(Default)]
pub struct Cancels(std::sync::Mutex<HashMap<String, Running>>);

impl Cancels {
    /// Runs `work` as a task that [`Cancels::cancel`] with `id` aborts.
    pub async fn run<T: Send + 'static>(
        &self,
        id: &str,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, UiError> {
        let cancelled = || UiError::new("cancelled", "cancelled before the engine answered");
        let task = {
            let mut running = self.0.lock().map_err(|_| poisoned())?;
            if let Some(Running::Cancelled) = running.remove(id) {
                return Err(cancelled());
            }
            let task = tokio::spawn(work);
            running.insert(id.to_string(), Running::Task(task.abort_handle()));
            task
        };
        let answer = task.await;
        if let Ok(mut running) = self.0.lock() {
            running.remove(id);
        }
        match answer {
            Ok(r) => Ok(r),
            Err(e) if e.is_cancelled() => Err(cancelled()),
            Err(e) => Err(UiError::new(
                "internal",
                format!("the request stopped unexpectedly: {e}"),
            )),
        }
    }

    /// Cancels the request sent with `id`; one that already answered is left alone.
    pub fn cancel(&self, id: &str) -> Result<(), UiError> {
        let mut running = self.0.lock().map_err(|_| poisoned())?;
        match running.remove(id) {
            Some(Running::Task(task)) => task.abort(),
            // Not arrived yet (the two commands race), or already answered: a tombstone
            // either cancels it on arrival or is never looked at again. Ids are never reused.
            Some(Running::Cancelled) | None => {
                running.insert(id.to_string(), Running::Cancelled);
            }
        }
        Ok(())
    }

    #[cfg(test)]
    fn is_running(&self, id: &str) -> bool {
        self.0.lock().unwrap().contains_key(id)
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}

/// How often the head watch looks at the database for writers it cannot hear (another
/// process on the same SQLite file; PostgreSQL's `LISTEN` wakes it at once).
pub const HEAD_POLL: Duration = Duration::from_millis(500);

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(task) = self.head_watch.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

/// The app's main view.
#[derive(Clone, Debug, Serialize, TS)]
pub struct Overview {
    /// The database, without any password.
    pub database: String,
    /// Where the master key came from (always the OS keyring).
    pub master_key: String,
    /// The master key's check value: the CLI and daemon use the same key when theirs agrees
    /// (`leadorch` prints it nowhere yet; compare with [`leadorch_store::MasterKey::check_value`]).
    pub master_key_check: String,
    /// Connected Google accounts, by name.
    pub accounts: Vec<AccountSummary>,
}

/// A consent the window started: the page the browser was sent to.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ConsentStarted {
    /// The account being connected.
    pub account: String,
    /// Google's consent page (shown, in case the browser did not open).
    pub consent_page: String,
    /// Whether the system browser was opened on it.
    pub browser_opened: bool,
}

/// A call of the HTTP API's routes, in process (`invoke('api_request', { request })`).
#[derive(Clone, Debug, Deserialize, TS)]
pub struct ApiRequest {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The endpoint with its query string, as over HTTP: `/v1/rules`,
    /// `/v1/events?after=100&limit=50` (values URL-encoded).
    pub path: String,
    /// The JSON body, for the routes that take one.
    #[serde(default)]
    #[ts(optional)]
    pub body: Option<serde_json::Value>,
    /// Sent as the `Progress-Token` header: while the route works, `GET /v1/progress/{token}`
    /// answers how far it has come (a backtest, a replay).
    #[serde(default)]
    #[ts(optional)]
    pub progress_token: Option<String>,
}

/// The API's answer: its status and JSON body. A `4xx`/`5xx` is an answer too, its body a
/// problem (`type`, `title`, `status`, `detail`, and `field` when one field is at fault).
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`null` when the route answered with none).
    pub body: serde_json::Value,
}

impl From<LocalResponse> for ApiResponse {
    fn from(r: LocalResponse) -> ApiResponse {
        ApiResponse {
            status: r.status,
            body: r.body,
        }
    }
}

/// Where the desktop's configuration comes from.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// The CLI's key file for this database, imported into the keyring on first start.
    pub key_file: Option<PathBuf>,
    /// `[google]` of the configuration file, with environment overrides.
    pub google: GoogleSettings,
    /// Recorded as the actor of everything the window does.
    pub actor: String,
    /// What the API's routes are given (`[api]`, `[intake]`, `[facts]`, `[policy]`,
    /// `[limits]`, `[webhooks]`, the rules library): what `leadorch serve` gives them.
    pub api: leadorch_api::Settings,
}

impl OpenOptions {
    /// As the CLI reads them: `DATABASE_URL` (default an SQLite file in the data folder),
    /// `LEADORCH_MASTER_KEY_FILE`, `LEADORCH_CONFIG` and `LEADORCH_*` overrides.
    pub fn from_env() -> Result<OpenOptions, UiError> {
        let config = std::env::var_os("LEADORCH_CONFIG").map(PathBuf::from);
        let settings = Config::load(config.as_deref(), std::env::vars())
            .map_err(|e| UiError::new("not_open", e))?;
        let mut api = leadorch_api::Settings::from_config(&settings)
            .map_err(|e| UiError::new("not_open", e))?;
        // As `leadorch serve`: the configured rules library, else `rules/lib` here.
        if api.rules_lib.is_none() && Path::new("rules/lib").is_dir() {
            api.rules_lib = Some(PathBuf::from("rules/lib"));
        }
        if let Some(lib) = api.rules_lib.as_ref().filter(|dir| !dir.is_dir()) {
            return Err(UiError::new(
                "not_open",
                format!(
                    "the rules library {} (rules_lib in the configuration, LEADORCH__RULES_LIB) \
                     is not a folder",
                    lib.display()
                ),
            ));
        }
        Ok(OpenOptions {
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| db::default_database_url()),
            key_file: std::env::var_os("LEADORCH_MASTER_KEY_FILE").map(PathBuf::from),
            google: settings.google,
            actor: format!(
                "desktop:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            ),
            api,
        })
    }
}

pub use leadorch_secrets::database_identity;

/// Whether WebKitGTK should draw without its accelerated compositing (ADR 0043): when no GPU
/// render node is in `dri` (`/dev/dri/renderD*`; a VM, a remote session, Xvfb) and the user
/// has not set `WEBKIT_DISABLE_COMPOSITING_MODE` either way. Without a GPU, compositing runs
/// on Mesa's software rasteriser: about 130 MB more in the web process (measured under Xvfb
/// on the million-event log), for no smoother scrolling.
pub fn compositing_off(dri: &Path, user_set: bool) -> bool {
    if user_set {
        return false;
    }
    let render_node = std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    !render_node
}

fn poisoned() -> UiError {
    UiError::new("internal", "a request of the window panicked")
}

fn ui(e: accounts::Error) -> UiError {
    match e {
        accounts::Error::Input(m) => UiError::new("input", m),
        accounts::Error::OAuth(e) => UiError::new("consent", e),
        other => UiError::new("internal", other),
    }
}

impl Desktop {
    /// Opens with [`OpenOptions::from_env`] and the OS keyring.
    pub async fn open_default() -> Result<Desktop, UiError> {
        let options = OpenOptions::from_env()?;
        let keyring = OsKeyring::for_database(&database_identity(&options.database_url))
            .map_err(|m| UiError::new("not_open", m))?;
        Desktop::open(options, &keyring).await
    }

    /// Opens the database of `options` with the master key kept in `secrets`.
    pub async fn open(options: OpenOptions, secrets: &dyn SecretStore) -> Result<Desktop, UiError> {
        let database = db::redact_url(&options.database_url);
        let not_open = |e: &dyn std::fmt::Display| {
            UiError::new("not_open", format!("opening the database {database}: {e}"))
        };
        let conn = Db::connect(&options.database_url)
            .await
            .map_err(|e| not_open(&e))?;
        let key_file = options
            .key_file
            .clone()
            .unwrap_or_else(|| default_master_key_file(&conn));
        let (master, key_source) = master_key::load_or_create(secrets, Some(Path::new(&key_file)))
            .map_err(|m| UiError::new("not_open", m))?;
        let key_check = master.check_value();
        let store = Store::with_master_key(conn, master, RetentionPolicy::default())
            .await
            .map_err(|e| not_open(&e))?;
        let engine = Engine { store };
        // The access-log writer is not kept: in-process calls write no access-log rows.
        let (api, _access) = Api::with_settings(engine.clone(), options.api);
        let local =
            Local::new(api, PROJECT, &options.actor).map_err(|e| UiError::new("not_open", e))?;
        Ok(Desktop {
            engine,
            google: options.google,
            database,
            key_source,
            key_check,
            actor: options.actor,
            consent_timeout: CONSENT_TIMEOUT,
            pending: Mutex::new(None),
            local,
            running: Default::default(),
            head_watch: Default::default(),
        })
    }

    /// Gives up on a started consent after `timeout` instead of [`CONSENT_TIMEOUT`].
    pub fn with_consent_timeout(mut self, timeout: Duration) -> Desktop {
        self.consent_timeout = timeout;
        self
    }

    /// The engine (for tests and tools).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The main view.
    pub async fn overview(&self) -> Result<Overview, UiError> {
        Ok(Overview {
            database: self.database.clone(),
            master_key: self.key_source.describe(),
            master_key_check: self.key_check.clone(),
            accounts: accounts::list_in(&self.engine, PROJECT).await.map_err(ui)?,
        })
    }

    /// One call of the HTTP API's routes, in process, as the operator of the default project
    /// (every scope; recorded as this app's actor). Every answer of the API is `Ok`, a
    /// refusal too (its status and problem); bad input (an unknown method, a path outside
    /// `/v1/`, a missing body) and the endless `/v1/events/stream` are problems as well.
    pub async fn api_request(&self, request: ApiRequest) -> Result<ApiResponse, UiError> {
        Ok(self
            .local
            .call_with_progress(
                &request.method,
                &request.path,
                request.body,
                request.progress_token.as_deref(),
            )
            .await
            .into())
    }

    /// [`Desktop::api_request`] that [`Desktop::cancel_request`] with the same `id` cuts short:
    /// the route's work is dropped at its next await (a backtest between two evaluations, a
    /// replay between two pages), and the answer is a `cancelled` error. An id cancelled
    /// before its request arrived cancels it on arrival.
    pub async fn api_request_cancellable(
        &self,
        request: ApiRequest,
        id: &str,
    ) -> Result<ApiResponse, UiError> {
        let local = self.local.clone();
        let call = async move {
            local
                .call_with_progress(
                    &request.method,
                    &request.path,
                    request.body,
                    request.progress_token.as_deref(),
                )
                .await
        };
        Ok(self.cancellable(id, call).await?.into())
    }

    /// Runs `work` as a task that [`Desktop::cancel_request`] with `id` aborts.
    async fn cancellable<T: Send + 'static>(
        &self,
        id: &str,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, UiError> {
        self.running.run(id, work).await
    }

    /// Cancels the request the window sent with `id` (see
    /// [`Desktop::api_request_cancellable`]); one that already answered is left alone.
    pub fn cancel_request(&self, id: &str) -> Result<(), UiError> {
        self.running.cancel(id)
    }

    /// Calls `on_head` with the log's head position now and whenever it moves on: at once
    /// for this process's commits and, on PostgreSQL, another process's (`LISTEN`); within
    /// `poll` for another process writing the same SQLite file. Started once: later calls
    /// leave the running watch (and its `on_head`) as it is and answer `false`.
    pub fn watch_head(
        &self,
        poll: Duration,
        on_head: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<bool, UiError> {
        let mut slot = self.head_watch.lock().map_err(|_| poisoned())?;
        if slot.is_some() {
            return Ok(false);
        }
        let log = self.engine.store.log.clone();
        *slot = Some(tokio::spawn(async move {
            let mut heard = log.watch_head();
            let mut told = None;
            loop {
                // Marked before reading, so a commit after the read still wakes the loop.
                heard.mark_unchanged();
                match log.head().await {
                    Ok(head) if told != Some(head.position) => {
                        told = Some(head.position);
                        on_head(head.position);
                    }
                    Ok(_) => {}
                    // The database away: the next look may find it back.
                    Err(e) => tracing::warn!("the head watch could not read the log: {e}"),
                }
                let _ = tokio::time::timeout(poll, heard.changed()).await;
            }
        }));
        Ok(true)
    }

    /// "Connect Google account": starts the loopback listener (PKCE S256, `state`), sends
    /// the browser to Google's consent page with `open_browser`, and keeps the consent
    /// until [`Desktop::finish_consent`]. A consent started before is dropped once this one
    /// has started; a bad name is refused before any browser opens.
    pub async fn start_consent(
        &self,
        account: &str,
        open_browser: impl FnOnce(&str) -> bool,
    ) -> Result<ConsentStarted, UiError> {
        let mut pending = self.pending.lock().await;
        // A name with a project (`acme/ops`) is no default-project account.
        accounts::check_bare_name(account).map_err(ui)?;
        let consent = PendingConsent::start(&self.google, account, None).map_err(ui)?;
        let consent_page = consent.consent_page().to_string();
        let browser_opened = open_browser(&consent_page);
        *pending = Some(consent);
        Ok(ConsentStarted {
            account: account.to_string(),
            consent_page,
            browser_opened,
        })
    }

    /// Waits for Google's answer to the started consent, stores the grant sealed, records the
    /// consent, and returns the account as listed.
    pub async fn finish_consent(&self) -> Result<AccountSummary, UiError> {
        let consent = self.pending.lock().await.take().ok_or_else(|| {
            UiError::new(
                "input",
                "no Google consent is under way: press \"Connect Google account\" first",
            )
        })?;
        let account = consent.account().to_string();
        consent
            .finish(&self.engine, self.consent_timeout, &self.actor)
            .await
            .map_err(ui)?;
        accounts::list_in(&self.engine, PROJECT)
            .await
            .map_err(ui)?
            .into_iter()
            .find(|a| a.account == account)
            .ok_or_else(|| {
                UiError::new(
                    "internal",
                    format!("{account} was connected but is not listed"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use zeroize::Zeroizing;

    use super::*;

    #[test]
    fn compositing_is_turned_off_only_without_a_render_node_and_a_users_choice() {
        let dri = tempfile::tempdir().unwrap();
        let missing = dri.path().join("none");
        assert!(compositing_off(&missing, false), "no /dev/dri at all");
        assert!(compositing_off(dri.path(), false), "an empty /dev/dri");
        std::fs::write(dri.path().join("card0"), "").unwrap();
        assert!(
            compositing_off(dri.path(), false),
            "a card but no render node"
        );
        std::fs::write(dri.path().join("renderD128"), "").unwrap();
        assert!(!compositing_off(dri.path(), false), "a GPU");
        assert!(!compositing_off(&missing, true), "the user's own setting");
    }

    /// Stands in for the OS keyring.
    #[derive(Default)]
    struct Keyring(std::sync::Mutex<Option<String>>);

    impl SecretStore for Keyring {
        fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
            Ok(self.0.lock().unwrap().clone().map(Zeroizing::new))
        }
        fn set(&self, secret: &str) -> Result<(), String> {
            *self.0.lock().unwrap() = Some(secret.to_string());
            Ok(())
        }
    }

    async fn open(dir: &Path) -> Desktop {
        let options = OpenOptions {
            database_url: format!("sqlite://{}?mode=rwc", dir.join("app.db").display()),
            key_file: Some(dir.join("no-such.key")),
            google: Default::default(),
            actor: "desktop:tester".into(),
            api: Default::default(),
        };
        Desktop::open(options, &Keyring::default()).await.unwrap()
    }

    #[tokio::test]
    async fn a_cancelled_request_ends_at_once_and_one_cancelled_before_it_arrives_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let app = Arc::new(open(dir.path()).await);

        // Work that would never end on its own.
        let waiting = {
            let app = app.clone();
            tokio::spawn(async move { app.cancellable("r1", std::future::pending::<()>()).await })
        };
        while !app.running.is_running("r1") {
            tokio::task::yield_now().await;
        }
        app.cancel_request("r1").unwrap();
        let e = waiting.await.unwrap().unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("cancelled", "cancelled before the engine answered")
        );
        assert!(app.running.is_empty(), "nothing is kept once answered");

        // The cancel raced ahead of its request: the request is refused before it runs.
        app.cancel_request("r2").unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let e = app
            .cancellable("r2", async move { flag.store(true, Ordering::SeqCst) })
            .await
            .unwrap_err();
        assert_eq!(e.code, "cancelled");
        tokio::task::yield_now().await;
        assert!(!ran.load(Ordering::SeqCst));

        // A request nobody cancels answers as it would without an id.
        assert_eq!(app.cancellable("r3", async { 7 }).await.unwrap(), 7);
    }
}
