//! CORS for browser clients (ADR 0027): pages of the origins listed in `[api] cors_origins`
//! may call the API from a browser; no other origin gets any CORS header.
//!
//! A request whose `Origin` is listed goes through tower-http's [`CorsLayer`]: a preflight
//! (`OPTIONS`) is answered `200` at once, without a key (browsers never send one with it),
//! naming the methods, the request headers a client sends (`Authorization`, `Content-Type`,
//! `Idempotency-Key`, `Last-Event-ID`) and how long to cache the answer; any other request
//! runs as usual and its answer — an error too, so a page can read the problem — gets
//! `Access-Control-Allow-Origin` and the headers a page may read (`RateLimit`,
//! `RateLimit-Policy`, `Retry-After`, `Idempotent-Replayed`). A request from another origin,
//! or none, is served as if CORS were off (a preflight is then the `405` of any `OPTIONS`), and
//! the answer says `Vary: Origin`, since it would differ for a listed one.
//!
//! With no origins configured the layer is not installed at all. Keys travel in the
//! `Authorization` header, never in cookies, so credentials mode is off.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight's answer.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

/// The request headers a page may send.
pub const ALLOWED_HEADERS: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("last-event-id"),
    HeaderName::from_static("progress-token"),
];

/// The answer headers a page may read (beyond the CORS-safelisted ones).
pub const EXPOSED_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("ratelimit"),
    HeaderName::from_static("ratelimit-policy"),
    header::RETRY_AFTER,
    HeaderName::from_static("idempotent-replayed"),
];

/// The configured origins and the layer that answers them.
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Arc<Vec<HeaderValue>>,
    layer: CorsLayer,
}

impl Cors {
    /// CORS for `origins` (checked by the configuration: `scheme://host[:port]`); `None` when
    /// there are none, or none is a valid header value.
    pub fn new(origins: &[String]) -> Option<Cors> {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        if origins.is_empty() {
            return None;
        }
        let layer = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.clone()))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers(ALLOWED_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(MAX_AGE);
        Some(Cors {
            origins: Arc::new(origins),
            layer,
        })
    }
}

/// The middleware: listed origins through the CORS layer, everything else untouched.
pub async fn apply(State(cors): State<Cors>, req: Request, next: Next) -> Response {
    let listed = req
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|o| cors.origins.contains(o));
    if listed {
        return match cors.layer.layer(next).oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    response
}
