//! What the window is connected to: the database this process opened ([`Desktop`]), or a
//! daemon's API ([`Remote`]); the Tauri commands in `lib.rs` ask the [`Shell`], which sends each
//! request to the one in use (ADR 0044).
//!
//! The choice is remembered in `desktop-connection.json` in the data folder (the daemon's
//! address only) and its API key in the OS keyring (entry [`remote::key_entry_user`]), so the
//! app opens the next time as it was left. A daemon that does not answer at start leaves the
//! app on it, saying so (`connection_get` shows `reachable: false` and why), rather than
//! quietly showing the local database instead.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leadorch_accounts::AccountSummary;
use zeroize::Zeroizing;

use crate::app::{ApiRequest, ApiResponse, Cancels, ConsentStarted, Desktop, Overview};
use crate::master_key::SecretStore;
use crate::remote::{
    key_entry_user, ConnectionRequest, ConnectionState, Remembered, Remote, HEAD_POLL,
};
use crate::UiError;

/// The file in the data folder that remembers the connection.
pub const REMEMBERED_FILE: &str = "desktop-connection.json";

/// The keyring entry holding a daemon's key, by the entry's user name.
pub type Secrets =
    Arc<dyn Fn(&str) -> Result<Box<dyn SecretStore + Send + Sync>, String> + Send + Sync>;

/// The window's connection.
pub struct Shell {
    local: Result<Desktop, UiError>,
    local_database: String,
    remote: std::sync::RwLock<Option<Arc<Remote>>>,
    /// Read by the local head watch, which stays quiet while a daemon is in use.
    is_remote: Arc<AtomicBool>,
    remembered: PathBuf,
    secrets: Secrets,
    cancels: Cancels,
    remote_watch: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Some(task) = self.remote_watch.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

fn poisoned() -> UiError {
    UiError::new("internal", "the connection's lock was poisoned by a crash")
}

impl Shell {
    /// The shell over the local database (or why it could not open, `local_database` naming
    /// it), connected as `remembered` says: to the daemon last chosen, with the key kept for
    /// it, else local.
    pub fn open(
        local: Result<Desktop, UiError>,
        local_database: String,
        remembered: PathBuf,
        secrets: Secrets,
    ) -> Shell {
        let remote = Remembered::load(&remembered)
            .remote_url
            .and_then(|url| match stored_key(&secrets, &url) {
                Ok(Some(key)) => match Remote::new(&url, key) {
                    Ok(r) => Some(Arc::new(r)),
                    Err(e) => {
                        tracing::warn!("the remembered daemon cannot be used: {}", e.message);
                        None
                    }
                },
                Ok(None) => {
                    tracing::warn!("no API key is kept for the remembered daemon {url}; using the local database");
                    None
                }
                Err(e) => {
                    tracing::warn!("the API key of the remembered daemon {url} could not be read: {}", e.message);
                    None
                }
            });
        Shell {
            local,
            local_database,
            is_remote: Arc::new(AtomicBool::new(remote.is_some())),
            remote: std::sync::RwLock::new(remote),
            remembered,
            secrets,
            cancels: Cancels::default(),
            remote_watch: Default::default(),
        }
    }

    /// The shell as the app starts it: the database and settings from the environment (as the
    /// CLI), the master key and daemons' keys in the OS keyring, the choice remembered in the
    /// data folder.
    pub async fn open_default() -> Shell {
        let local_database = match crate::app::OpenOptions::from_env() {
            Ok(o) => leadorch_store::db::redact_url(&o.database_url),
            Err(_) => "the local database".to_string(),
        };
        let local = Desktop::open_default().await;
        if let Err(e) = &local {
            tracing::error!(code = e.code, "the app could not open: {}", e.message);
        }
        let secrets: Secrets = Arc::new(|user: &str| {
            crate::master_key::OsKeyring::entry(user)
                .map(|k| Box::new(k) as Box<dyn SecretStore + Send + Sync>)
        });
        Shell::open(
            local,
            local_database,
            leadorch_store::db::default_data_dir().join(REMEMBERED_FILE),
            secrets,
        )
    }

    fn remote(&self) -> Result<Option<Arc<Remote>>, UiError> {
        Ok(self.remote.read().map_err(|_| poisoned())?.clone())
    }

    fn local(&self) -> Result<&Desktop, UiError> {
        self.local.as_ref().map_err(Clone::clone)
    }

    /// The local app, when it opened (tests and tools).
    pub fn desktop(&self) -> Option<&Desktop> {
        self.local.as_ref().ok()
    }

    /// What the window is connected to now; a daemon is checked (`reachable`, `error`).
    pub async fn state(&self) -> Result<ConnectionState, UiError> {
        match self.remote()? {
            Some(remote) => Ok(remote_state(&remote).await),
            None => Ok(self.local_state()),
        }
    }

    fn local_state(&self) -> ConnectionState {
        ConnectionState::Local {
            database: match &self.local {
                Ok(_) => self.local_database.clone(),
                Err(e) => format!("{} (not open: {})", self.local_database, e.message),
            },
        }
    }

    /// What connecting as `request` would give, without switching: a daemon answers and
    /// takes the key, or an `input` error says which of the two failed.
    pub async fn test(&self, request: &ConnectionRequest) -> Result<ConnectionState, UiError> {
        Ok(self.checked(request).await?.0)
    }

    /// The state `request` would give, and the daemon's client when it is one, checked once
    /// (the daemon answers with the key).
    async fn checked(
        &self,
        request: &ConnectionRequest,
    ) -> Result<(ConnectionState, Option<Remote>), UiError> {
        match request {
            ConnectionRequest::Local => {
                self.local()?;
                Ok((self.local_state(), None))
            }
            ConnectionRequest::Remote { url, api_key } => {
                let remote = self.remote_for(url, api_key.as_deref())?;
                remote.check().await?;
                let state = ConnectionState::Remote {
                    url: remote.url(),
                    key_name: None,
                    reachable: true,
                    error: None,
                };
                Ok((state, Some(remote)))
            }
        }
    }

    /// Switches to `request` once it passes [`Shell::test`]: keeps a given key in the OS
    /// keyring, remembers the choice, and from then on sends every request there. A refusal
    /// leaves the connection as it was.
    pub async fn set(&self, request: &ConnectionRequest) -> Result<ConnectionState, UiError> {
        let (state, remote) = self.checked(request).await?;
        if let (Some(remote), ConnectionRequest::Remote { api_key, .. }) = (&remote, request) {
            if let Some(key) = api_key.as_deref().filter(|k| !k.trim().is_empty()) {
                (self.secrets)(&key_entry_user(&remote.url()))
                    .and_then(|entry| entry.set(key.trim()))
                    .map_err(|m| {
                        UiError::new("input", format!("api_key: could not keep the key: {m}"))
                    })?;
            }
        }
        Remembered {
            remote_url: remote.as_ref().map(Remote::url),
        }
        .save(&self.remembered)?;
        let is_remote = remote.is_some();
        *self.remote.write().map_err(|_| poisoned())? = remote.map(Arc::new);
        self.is_remote.store(is_remote, Ordering::SeqCst);
        // The window re-mounts and asks for the head again, from the connection now in use.
        if let Some(task) = self.remote_watch.lock().map_err(|_| poisoned())?.take() {
            task.abort();
        }
        Ok(state)
    }

    /// A client for `url` with `key`, else the key kept for that address.
    fn remote_for(&self, url: &str, key: Option<&str>) -> Result<Remote, UiError> {
        let checked = crate::remote::checked_url(url)?;
        let shown = checked.as_str().trim_end_matches('/').to_string();
        let key = match key.map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => Zeroizing::new(k.to_string()),
            None => stored_key(&self.secrets, &shown)?.ok_or_else(|| {
                UiError::new(
                    "input",
                    format!("api_key: no key is kept for {shown}: give the daemon's API key"),
                )
            })?,
        };
        Remote::new(&shown, key)
    }

    /// The main view, from the connection in use.
    pub async fn overview(&self) -> Result<Overview, UiError> {
        match self.remote()? {
            Some(remote) => remote.overview().await,
            None => self.local()?.overview().await,
        }
    }

    /// One request of the window, to the connection in use; with an id, cancellable.
    pub async fn api_request(
        &self,
        request: ApiRequest,
        id: Option<&str>,
    ) -> Result<ApiResponse, UiError> {
        match (self.remote()?, id) {
            (Some(remote), Some(id)) => {
                self.cancels
                    .run(id, async move { remote.request(request).await })
                    .await?
            }
            (Some(remote), None) => remote.request(request).await,
            (None, Some(id)) => self.local()?.api_request_cancellable(request, id).await,
            (None, None) => self.local()?.api_request(request).await,
        }
    }

    /// Cancels the request sent with `id`, wherever it went.
    pub fn cancel_request(&self, id: &str) -> Result<(), UiError> {
        if self.remote()?.is_some() {
            self.cancels.cancel(id)
        } else {
            self.local()?.cancel_request(id)
        }
    }

    /// Calls `on_head` with the log's head now and whenever it moves: the local database's
    /// (at once for its commits), or the daemon's, asked every [`HEAD_POLL`].
    pub fn watch_head(
        &self,
        local_poll: std::time::Duration,
        on_head: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<(), UiError> {
        match self.remote()? {
            Some(remote) => {
                let mut slot = self.remote_watch.lock().map_err(|_| poisoned())?;
                if let Some(old) = slot.take() {
                    old.abort();
                }
                *slot = Some(tokio::spawn(async move {
                    let mut told = None;
                    loop {
                        match remote.head().await {
                            Ok(head) if told != Some(head) => {
                                told = Some(head);
                                on_head(head);
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("the daemon's head: {}", e.message),
                        }
                        tokio::time::sleep(HEAD_POLL).await;
                    }
                }));
                Ok(())
            }
            None => {
                let is_remote = self.is_remote.clone();
                self.local()?.watch_head(local_poll, move |head| {
                    if !is_remote.load(Ordering::SeqCst) {
                        on_head(head);
                    }
                })?;
                Ok(())
            }
        }
    }

    /// "Connect Google account": on the local database only; a daemon's accounts are
    /// connected on its machine, where Google's answer arrives.
    pub async fn start_consent(
        &self,
        account: &str,
        open_browser: impl FnOnce(&str) -> bool,
    ) -> Result<ConsentStarted, UiError> {
        self.local_only()?;
        self.local()?.start_consent(account, open_browser).await
    }

    /// Waits for Google's answer to the started consent (local database only).
    pub async fn finish_consent(&self) -> Result<AccountSummary, UiError> {
        self.local_only()?;
        self.local()?.finish_consent().await
    }

    fn local_only(&self) -> Result<(), UiError> {
        match self.remote()? {
            Some(remote) => Err(UiError::new(
                "input",
                format!(
                    "connected to the daemon at {}: Google sends its answer to the daemon's own machine, so connect accounts there (`leadorch google connect NAME`), or switch to the local database",
                    remote.url()
                ),
            )),
            None => Ok(()),
        }
    }
}

async fn remote_state(remote: &Remote) -> ConnectionState {
    let checked = remote.check().await;
    ConnectionState::Remote {
        url: remote.url(),
        key_name: None,
        reachable: checked.is_ok(),
        error: checked.err().map(|e| e.message),
    }
}

fn stored_key(secrets: &Secrets, url: &str) -> Result<Option<Zeroizing<String>>, UiError> {
    secrets(&key_entry_user(url))
        .and_then(|entry| entry.get())
        .map_err(|m| UiError::new("input", format!("api_key: the OS keyring: {m}")))
}
