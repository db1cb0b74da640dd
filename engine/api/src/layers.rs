//! What every request goes through, whatever its route: a deadline and a panic guard.
//!
//! - A handler that has not answered within [`REQUEST_TIMEOUT`] is abandoned (its future
//!   dropped) and the client gets a `503` problem of type `timeout`. The work may or may not
//!   have taken effect, and the detail says so: a write must be retried with the same
//!   `Idempotency-Key` (ADR 0022, decision 8).
//! - A handler that panics answers a `500` problem of type `internal`; the panic's message
//!   stays out of the answer (it may carry internals or personal data) and out of this log
//!   line (the panic hook has printed it to standard error already).
//!
//! The request head's size and the time to send it are limited per connection, before any
//! route runs ([`crate::server::ConnectionLimits`]); the body's size by the router
//! ([`crate::MAX_BODY_BYTES`]).

use std::any::Any;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::Problem;

/// Longest a request may take, from its head being read to its answer's head being ready.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a request of the app's own window may take, in process ([`crate::Local`]): the
/// operator who asked sees its progress and can cancel it, so a replay or a backtest over a
/// long log runs to its end instead of being cut at [`REQUEST_TIMEOUT`] (the first replay of a
/// million events takes longer than that on a slow machine).
pub const LOCAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// `app` with the default deadline ([`REQUEST_TIMEOUT`]) and the panic guard.
pub fn harden<S>(app: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    harden_with(app, REQUEST_TIMEOUT)
}

/// `app` with a deadline of `timeout` per request and the panic guard (outermost, so a panic
/// anywhere inside — handler, extractor, the deadline itself — is answered).
pub fn harden_with<S>(app: Router<S>, timeout: Duration) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(middleware::from_fn_with_state(timeout, deadline))
        .layer(CatchPanicLayer::custom(panicked))
}

async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!(
                "the server did not answer within {} and stopped working on this request, which may or may not have taken effect: try again (a write with the same Idempotency-Key)",
                span(limit)
            ),
        )
        // Every 503 says when to come back (a database away makes handlers this slow).
        .header(axum::http::header::RETRY_AFTER, "2")
        .into_response(),
    }
}

fn panicked(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request's handler panicked (its message is above); answered 500");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the server failed while answering this request, which may or may not have taken effect; it was logged: try again (a write with the same Idempotency-Key)",
    )
    .into_response()
}

/// `30 s`, or `250 ms` for a limit that is not whole seconds.
fn span(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
