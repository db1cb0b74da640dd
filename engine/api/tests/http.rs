//! The API over real HTTP on loopback: `/healthz`, problem details for unknown routes and
//! methods, and the listener rules.

use leadorch_api::listen::bind;
use leadorch_api::{check_listen, serve, ListenError};

/// Serves the API on a free loopback port; returns its base URL.
async fn start() -> String {
    let addr = check_listen("127.0.0.1:0", false).unwrap();
    let (listener, bound) = bind(addr).await.unwrap();
    tokio::spawn(serve(
        listener,
        leadorch_api::router(),
        std::future::pending(),
    ));
    format!("http://{bound}")
}

#[tokio::test]
async fn healthz_answers_and_everything_else_is_a_problem() {
    let base = start().await;
    let client = reqwest::Client::new();
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"status": "ok"}));

    let r = client
        .get(format!("{base}/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "{:?}",
        r.headers()
    );
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["status"], 404);
    assert_eq!(p["type"], "https://leadorch.dev/problems/not-found");
    assert_eq!(p["title"], "Not found");
    assert_eq!(p["detail"], "no endpoint at /v1/nothing");

    let r = client.post(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["detail"], "/healthz does not take POST");
}

#[test]
fn only_loopback_listens_without_tls_unless_told_otherwise() {
    assert!(check_listen("127.0.0.1:8650", false).is_ok());
    assert!(check_listen("[::1]:0", false).is_ok());
    let e = check_listen("0.0.0.0:8650", false).unwrap_err();
    assert!(matches!(e, ListenError::PlainHttpElsewhere { .. }));
    assert!(e.to_string().contains("--allow-plain-http"), "{e}");
    assert!(check_listen("0.0.0.0:8650", true).is_ok());
    let e = check_listen("localhost:x", false).unwrap_err();
    assert!(e.to_string().contains("is not an address"), "{e}");
}
