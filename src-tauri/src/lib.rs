//! Lead Orchestrator's desktop app: a thin Tauri shell over the engine (docs/adr/0015).
//!
//! [`app::Desktop`] holds everything the window can ask for, as plain async functions over
//! the engine, tested without a window; [`run`] wires them to Tauri commands. Errors cross to
//! the front end as [`UiError`] `{code, message}`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod files;
pub mod master_key;
pub mod remote;
pub mod shell;

use serde::Serialize;
use ts_rs::TS;

/// An error as the front end gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct UiError {
    /// `not_open` (the app could not open its database or key), `input`, `consent`
    /// (the Google consent did not complete), `cancelled` (the window cancelled the request),
    /// `unreachable` (a remote daemon did not answer) or `internal`.
    #[ts(type = r#""not_open" | "input" | "consent" | "cancelled" | "unreachable" | "internal""#)]
    pub code: &'static str,
    /// What went wrong and what to do, in one line.
    pub message: String,
}

impl UiError {
    pub(crate) fn new(code: &'static str, message: impl std::fmt::Display) -> UiError {
        UiError {
            code,
            message: message.to_string(),
        }
    }
}

/// The event carrying the log's new head position to the window (`desktop/src/lib/backend`).
pub const HEAD_EVENT: &str = "log-head";

mod commands {
    use tauri::{AppHandle, Emitter, State};

    use crate::HEAD_EVENT;

    use crate::app::{ApiRequest, ApiResponse, ConsentStarted, Overview};
    use crate::remote::{ConnectionRequest, ConnectionState};
    use crate::shell::Shell;
    use crate::UiError;
    use leadorch_accounts::AccountSummary;

    #[tauri::command]
    pub async fn overview(shell: State<'_, Shell>) -> Result<Overview, UiError> {
        shell.overview().await
    }

    #[tauri::command]
    pub async fn start_google_consent(
        shell: State<'_, Shell>,
        account: String,
    ) -> Result<ConsentStarted, UiError> {
        shell
            .start_consent(&account, |url| webbrowser::open(url).is_ok())
            .await
    }

    /// With a `request_id`, [`cancel_request`] can cut it short.
    #[tauri::command]
    pub async fn api_request(
        shell: State<'_, Shell>,
        request: ApiRequest,
        request_id: Option<String>,
    ) -> Result<ApiResponse, UiError> {
        shell.api_request(request, request_id.as_deref()).await
    }

    #[tauri::command]
    pub async fn cancel_request(
        shell: State<'_, Shell>,
        request_id: String,
    ) -> Result<(), UiError> {
        shell.cancel_request(&request_id)
    }

    /// Starts sending the window the log's head as `log-head` events (from the connection in
    /// use). Async so that it runs on the runtime the watch is spawned on.
    #[tauri::command]
    pub async fn watch_head(app: AppHandle, shell: State<'_, Shell>) -> Result<(), UiError> {
        shell.watch_head(crate::app::HEAD_POLL, move |head| {
            if let Err(e) = app.emit(HEAD_EVENT, head) {
                tracing::warn!("the log's head could not be sent to the window: {e}");
            }
        })
    }

    /// What the window is connected to (a daemon is checked).
    #[tauri::command]
    pub async fn connection_get(shell: State<'_, Shell>) -> Result<ConnectionState, UiError> {
        shell.state().await
    }

    /// Whether `connection` would work, without switching.
    #[tauri::command]
    pub async fn connection_test(
        shell: State<'_, Shell>,
        connection: ConnectionRequest,
    ) -> Result<ConnectionState, UiError> {
        shell.test(&connection).await
    }

    /// Switches to `connection` once it works (a given key is kept in the OS keyring).
    #[tauri::command]
    pub async fn connection_set(
        shell: State<'_, Shell>,
        connection: ConnectionRequest,
    ) -> Result<ConnectionState, UiError> {
        shell.set(&connection).await
    }

    /// Saves `contents` as a file named `name`: where the user picks in the system's save
    /// dialog (the path, or `None` when cancelled), or in `LEADORCH_SAVE_DIR` without asking.
    #[tauri::command]
    pub async fn save_file(
        app: AppHandle,
        name: String,
        contents: String,
    ) -> Result<Option<String>, UiError> {
        let name = crate::files::checked_name(&name)?.to_string();
        let preset = std::env::var_os(crate::files::SAVE_DIR_VAR);
        let path = match crate::files::preset_target(preset.as_deref(), &name) {
            Some(path) => Some(path),
            None => ask_where(&app, name).await?,
        };
        let Some(path) = path else { return Ok(None) };
        let written = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::files::write_private(&written, contents.as_bytes())
        })
        .await
        .map_err(|e| UiError::new("internal", format!("saving stopped unexpectedly: {e}")))??;
        Ok(Some(path.display().to_string()))
    }

    /// The system's save dialog, over the app's window, on the main thread (GTK's).
    #[cfg(target_os = "linux")]
    async fn ask_where(
        app: &AppHandle,
        name: String,
    ) -> Result<Option<std::path::PathBuf>, UiError> {
        use gtk::prelude::{FileChooserExt, NativeDialogExt};
        use tauri::Manager;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let window = app.get_webview_window("main");
        app.run_on_main_thread(move || {
            let parent = window.and_then(|w| w.gtk_window().ok());
            let dialog = gtk::FileChooserNative::new(
                Some("Save the export"),
                parent.as_ref(),
                gtk::FileChooserAction::Save,
                Some("Save"),
                Some("Cancel"),
            );
            dialog.set_current_name(&name);
            dialog.set_do_overwrite_confirmation(true);
            let chosen = match dialog.run() {
                gtk::ResponseType::Accept => dialog.filename(),
                _ => None,
            };
            let _ = tx.send(chosen);
        })
        .map_err(|e| UiError::new("internal", format!("the save dialog could not open: {e}")))?;
        rx.await
            .map_err(|_| UiError::new("internal", "the save dialog closed without an answer"))
    }

    /// No native dialog here yet: only `LEADORCH_SAVE_DIR` saves.
    #[cfg(not(target_os = "linux"))]
    async fn ask_where(
        _app: &AppHandle,
        _name: String,
    ) -> Result<Option<std::path::PathBuf>, UiError> {
        Err(UiError::new(
            "input",
            "saving needs LEADORCH_SAVE_DIR on this system (no save dialog yet)",
        ))
    }

    #[tauri::command]
    pub async fn finish_google_consent(shell: State<'_, Shell>) -> Result<AccountSummary, UiError> {
        shell.finish_consent().await
    }
}

/// Opens the engine (master key from the OS keyring) and runs the window until it closes.
pub fn run() {
    // Before any thread starts (the runtime below) and before WebKit reads it.
    #[cfg(target_os = "linux")]
    if app::compositing_off(
        std::path::Path::new("/dev/dri"),
        std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_some(),
    ) {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    // As the CLI: `LEADORCH_LOG` (default `warn`) to stderr; secrets are never logged.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADORCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: a log redirected to a file, a pipe or
        // a service manager gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let shell = tauri::async_runtime::block_on(shell::Shell::open_default());
    let result = tauri::Builder::default()
        .manage(shell)
        .invoke_handler(tauri::generate_handler![
            commands::overview,
            commands::start_google_consent,
            commands::finish_google_consent,
            commands::api_request,
            commands::cancel_request,
            commands::watch_head,
            commands::save_file,
            commands::connection_get,
            commands::connection_test,
            commands::connection_set
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("leadorch-desktop: the window could not start: {e}");
        std::process::exit(1);
    }
}
