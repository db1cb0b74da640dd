//! CORS over real HTTP: a listed origin gets `Access-Control-Allow-Origin` and the headers a
//! page may read, on answers and on errors; its preflight is answered without a key; another
//! origin gets no CORS header at all; with no origins configured nothing changes.

mod common;

use common::{problem, start_with};
use leadorch_api::keys::Scope;
use leadorch_api::Settings;
use leadorch_store::Dialect;
use reqwest::{Method, Response};

const APP: &str = "http://localhost:1420";

fn settings() -> Settings {
    let mut s = Settings::default();
    s.api.cors_origins = vec![APP.into(), "https://app.example.org".into()];
    s
}

fn cors_headers(r: &Response) -> Vec<String> {
    r.headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

async fn preflight(base: &str, origin: &str) -> Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{base}/v1/leads"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_listed_origin_gets_cors_headers_and_its_preflight_needs_no_key() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let key = s.key("desktop", &[Scope::Read]).await;
    let http = reqwest::Client::new();

    // The preflight: no key, 200, what the page may send.
    let r = preflight(&s.base, APP).await;
    assert!(
        r.status() == 200 || r.status() == 204,
        "{} {:?}",
        r.status(),
        r.headers()
    );
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    let methods = header(&r, "access-control-allow-methods").to_lowercase();
    for m in ["get", "post", "put", "delete"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = header(&r, "access-control-allow-headers").to_lowercase();
    for h in [
        "authorization",
        "content-type",
        "idempotency-key",
        "last-event-id",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert_eq!(header(&r, "access-control-max-age"), "3600");
    assert!(header(&r, "access-control-allow-credentials").is_empty());

    // A request with the key: the answer, readable by the page, rate-limit fields exposed.
    let r = http
        .get(s.url("/v1/events"))
        .header("origin", APP)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    let exposed = header(&r, "access-control-expose-headers").to_lowercase();
    for h in [
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
        "idempotent-replayed",
    ] {
        assert!(exposed.contains(h), "{exposed}");
    }
    assert!(header(&r, "vary").to_lowercase().contains("origin"));
    assert!(!header(&r, "ratelimit").is_empty());

    // An error is readable too, and stays a problem.
    let r = http
        .get(s.url("/v1/events"))
        .header("origin", "https://app.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://app.example.org"
    );
    problem(r, 401).await;
}

#[tokio::test]
async fn another_origin_gets_no_cors_header() {
    let s = start_with(Dialect::Sqlite, settings()).await;
    let key = s.key("desktop", &[Scope::Read]).await;
    let http = reqwest::Client::new();
    for origin in [
        "https://evil.example",
        "http://localhost:1421",
        "http://localhost:1420.evil.example",
        "null",
    ] {
        let r = http
            .get(s.url("/v1/events"))
            .header("origin", origin)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(cors_headers(&r), Vec::<String>::new(), "{origin}");
        assert!(header(&r, "vary").to_lowercase().contains("origin"));

        // Its preflight is any OPTIONS: not allowed, no CORS header, a problem.
        let r = preflight(&s.base, origin).await;
        assert_eq!(cors_headers(&r), Vec::<String>::new(), "{origin}");
        problem(r, 405).await;
    }
    // No Origin at all (curl, a server): as before.
    let r = http
        .get(s.url("/v1/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(cors_headers(&r).is_empty());
}

#[tokio::test]
async fn without_configured_origins_there_is_no_cors() {
    let s = start_with(Dialect::Sqlite, Settings::default()).await;
    let r = preflight(&s.base, APP).await;
    assert!(cors_headers(&r).is_empty(), "{:?}", r.headers());
    problem(r, 405).await;
    let r = reqwest::Client::new()
        .get(s.url("/healthz"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(cors_headers(&r).is_empty());
    assert!(r.headers().get("vary").is_none());
}
