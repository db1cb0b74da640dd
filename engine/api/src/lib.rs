//! The HTTP API (ADR 0022): the router `leadorch serve` and, later, `leadorch daemon --listen`
//! serve, and how it listens.
//!
//! This is the first brick of issue 14: the listener rules (loopback, or TLS / an explicit
//! `--allow-plain-http` elsewhere), RFC 9457 problem details for every error, body limits and
//! `GET /healthz`. Every other endpoint needs an API key with the right scope and lands with
//! the keys (ADR 0022, order of work).
//!
//! - [`listen`]: where it may listen (loopback; elsewhere TLS or `--allow-plain-http`), binding.
//! - [`tls`]: the certificate and key from PEM files into a rustls configuration (*ring*).
//! - [`server`]: the accept loop for plain HTTP and TLS — handshake timeout, header read
//!   timeout, header size limit, `ConnectInfo<SocketAddr>`, graceful shutdown.
//! - [`layers`]: every request's deadline (`503`) and panic guard (`500`), both problems.
//! - [`problem`]: RFC 9457 problem details, the shape of every 4xx and 5xx.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod layers;
pub mod listen;
pub mod problem;
pub mod server;
pub mod tls;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub use layers::harden;
pub use listen::{check_listen, serve, ListenError};
pub use problem::Problem;
pub use server::serve_with;
pub use tls::{load_tls, TlsError};

/// Largest request body accepted, bytes (a lead with its consent text is a few kilobytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The API's routes. Anything else is a `404` problem; a wrong method a `405` problem; every
/// request is [`harden`]ed (deadline, panic guard).
pub fn router() -> Router {
    harden(
        Router::new()
            .route("/healthz", get(healthz))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// `GET /healthz`: the process is alive and answering (no key needed; says nothing about the
/// database — that is `/readyz`, which needs a key).
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no endpoint at {}", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{} does not take {method}", uri.path()),
    )
}
