//! Every request's deadline and panic guard: a handler that panics answers a `500` problem that
//! does not carry the panic's message, one that never answers a `503` problem once the deadline
//! passes, and the server goes on answering.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use leadorch_api::layers::harden_with;
use tower::ServiceExt;

/// A test-only router: `/panic` panics, `/never` never answers, `/ok` answers.
fn routes() -> Router {
    Router::new()
        .route("/panic", get(panics))
        .route("/never", get(std::future::pending::<&'static str>))
        .route("/ok", get(|| async { "ok" }))
}

async fn panics() -> &'static str {
    panic!("secret-panic-text lead@example.com");
}

/// `GET path` through `app`; the status, the content type and the body.
async fn get_from(app: &Router, path: &str) -> (StatusCode, String, String) {
    let r = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_panicking_handler_answers_a_500_problem_without_its_message() {
    // A deadline no test run reaches: only the panic guard is under test.
    let app = harden_with(routes(), Duration::from_secs(3600));
    let (status, kind, body) = get_from(&app, "/panic").await;
    assert_eq!(status, 500);
    assert_eq!(kind, "application/problem+json");
    let p: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["type"], "https://leadorch.dev/problems/internal");
    assert_eq!(p["status"], 500);
    assert!(!body.contains("secret-panic-text"), "{body}");
    assert!(!body.contains("example.com"), "{body}");
    assert!(!body.contains("panic"), "{body}");

    let (status, _, body) = get_from(&app, "/ok").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "ok"),
        "still answering"
    );
}

#[tokio::test]
async fn a_handler_past_the_deadline_answers_a_503_problem() {
    let app = harden_with(routes(), Duration::from_millis(100));
    let (status, kind, body) = get_from(&app, "/never").await;
    assert_eq!(status, 503);
    assert_eq!(kind, "application/problem+json");
    let p: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["type"], "https://leadorch.dev/problems/timeout");
    assert_eq!(p["title"], "Request timed out");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the server did not answer within 100 ms"),
        "{detail}"
    );
    assert!(
        detail.contains("may or may not have taken effect"),
        "{detail}"
    );
}
