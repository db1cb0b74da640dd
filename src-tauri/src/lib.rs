//! Lead Orchestrator's desktop app: a thin Tauri shell over the engine (docs/adr/0015).
//!
//! [`app::Desktop`] holds everything the window can ask for, as plain async functions over
//! the engine, tested without a window; [`run`] wires them to Tauri commands. Errors cross to
//! the front end as [`UiError`] `{code, message}`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod master_key;

use serde::Serialize;
use ts_rs::TS;

/// An error as the front end gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct UiError {
    /// `not_open` (the app could not open its database or key), `input`, `consent`
    /// (the Google consent did not complete), `cancelled` (the window cancelled the request)
    /// or `internal`.
    #[ts(type = r#""not_open" | "input" | "consent" | "cancelled" | "internal""#)]
    pub code: &'static str,
    /// What went wrong and what to do, in one line.
    pub message: String,
}

impl UiError {
    fn new(code: &'static str, message: impl std::fmt::Display) -> UiError {
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

    use crate::app::{ApiRequest, ApiResponse, ConsentStarted, Desktop, Overview};
    use crate::UiError;
    use leadorch_accounts::AccountSummary;

    /// What the app opened (or why it could not).
    pub type Opened = Result<Desktop, UiError>;

    fn desktop<'a>(state: &'a State<'_, Opened>) -> Result<&'a Desktop, UiError> {
        state.inner().as_ref().map_err(Clone::clone)
    }

    #[tauri::command]
    pub async fn overview(state: State<'_, Opened>) -> Result<Overview, UiError> {
        desktop(&state)?.overview().await
    }

    #[tauri::command]
    pub async fn start_google_consent(
        state: State<'_, Opened>,
        account: String,
    ) -> Result<ConsentStarted, UiError> {
        desktop(&state)?
            .start_consent(&account, |url| webbrowser::open(url).is_ok())
            .await
    }

    /// With a `request_id`, [`cancel_request`] can cut it short.
    #[tauri::command]
    pub async fn api_request(
        state: State<'_, Opened>,
        request: ApiRequest,
        request_id: Option<String>,
    ) -> Result<ApiResponse, UiError> {
        match request_id {
            Some(id) => desktop(&state)?.api_request_cancellable(request, &id).await,
            None => desktop(&state)?.api_request(request).await,
        }
    }

    #[tauri::command]
    pub async fn cancel_request(
        state: State<'_, Opened>,
        request_id: String,
    ) -> Result<(), UiError> {
        desktop(&state)?.cancel_request(&request_id)
    }

    /// Starts sending the window the log's head as `log-head` events (once per app). Async
    /// so that it runs on the runtime the watch is spawned on.
    #[tauri::command]
    pub async fn watch_head(app: AppHandle, state: State<'_, Opened>) -> Result<(), UiError> {
        desktop(&state)?.watch_head(crate::app::HEAD_POLL, move |head| {
            if let Err(e) = app.emit(HEAD_EVENT, head) {
                tracing::warn!("the log's head could not be sent to the window: {e}");
            }
        })?;
        Ok(())
    }

    #[tauri::command]
    pub async fn finish_google_consent(
        state: State<'_, Opened>,
    ) -> Result<AccountSummary, UiError> {
        desktop(&state)?.finish_consent().await
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
    let opened: commands::Opened = tauri::async_runtime::block_on(app::Desktop::open_default());
    if let Err(e) = &opened {
        tracing::error!(code = e.code, "the app could not open: {}", e.message);
    }
    let result = tauri::Builder::default()
        .manage(opened)
        .invoke_handler(tauri::generate_handler![
            commands::overview,
            commands::start_google_consent,
            commands::finish_google_consent,
            commands::api_request,
            commands::cancel_request,
            commands::watch_head
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("leadorch-desktop: the window could not start: {e}");
        std::process::exit(1);
    }
}
