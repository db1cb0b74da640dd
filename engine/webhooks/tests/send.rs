//! One attempt over real loopback HTTP, against a receiver that verifies the signature the
//! way docs/webhooks.md tells receivers to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use leadorch_webhooks::schedule::Verdict;
use leadorch_webhooks::send::Sender;
use leadorch_webhooks::sign::{verify, Secret, DEFAULT_TOLERANCE_SECS};
use leadorch_webhooks::ssrf::{GuardedResolver, Reach};
use url::Url;

type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[derive(Clone)]
struct Receiver {
    secret: Secret,
    verified: Seen,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = header(&headers, "webhook-id");
    match verify(
        &r.secret,
        id,
        header(&headers, "webhook-timestamp"),
        header(&headers, "webhook-signature"),
        &body,
        Utc::now().timestamp(),
        DEFAULT_TOLERANCE_SECS,
    ) {
        Ok(()) => {
            r.verified
                .lock()
                .unwrap()
                .push((id.to_string(), body.to_vec()));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
    }
}

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn url(addr: std::net::SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{addr}{path}")).unwrap()
}

#[tokio::test]
async fn a_signed_attempt_is_verified_by_the_receiver() {
    let secret = Secret::generate();
    let verified = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Receiver {
            secret: secret.clone(),
            verified: verified.clone(),
        });
    let addr = serve(app).await;
    let sender = Sender::new(Reach::any(), Duration::from_secs(15)).unwrap();
    let body = br#"{"type":"change.applied"}"#;
    let a = sender
        .send(
            &url(addr, "/hook"),
            std::slice::from_ref(&secret),
            "msg_1",
            Utc::now(),
            body,
        )
        .await;
    assert_eq!(
        (a.status, a.verdict, a.error),
        (Some(204), Verdict::Delivered, None)
    );
    assert_eq!(
        *verified.lock().unwrap(),
        vec![("msg_1".to_string(), body.to_vec())]
    );

    // Signed with another secret (and the old one, rotated away): refused with the reason.
    let other = Secret::generate();
    let a = sender
        .send(
            &url(addr, "/hook"),
            std::slice::from_ref(&other),
            "msg_2",
            Utc::now(),
            body,
        )
        .await;
    assert_eq!((a.status, a.verdict), (Some(401), Verdict::Retry));
    assert!(a.error.unwrap().contains("no signature"));
    // During a rotation both are sent; the receiver's own secret matches.
    let a = sender
        .send(
            &url(addr, "/hook"),
            &[other, secret],
            "msg_3",
            Utc::now(),
            body,
        )
        .await;
    assert_eq!(a.verdict, Verdict::Delivered);
    assert_eq!(verified.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn answers_timeouts_and_redirects_are_classified() {
    let app = Router::new()
        .route("/gone", post(|| async { StatusCode::GONE }))
        .route(
            "/busy",
            post(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "120")],
                    "busy",
                )
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/moved",
            post(|| async { (StatusCode::FOUND, [("location", "http://169.254.169.254/")]) }),
        );
    let addr = serve(app).await;
    let sender = Sender::new(Reach::any(), Duration::from_millis(300)).unwrap();
    let s = [Secret::generate()];
    let send = |path: &'static str| {
        let sender = sender.clone();
        let s = s.clone();
        async move {
            sender
                .send(&url(addr, path), &s, "msg_x", Utc::now(), b"{}")
                .await
        }
    };

    let gone = send("/gone").await;
    assert_eq!((gone.status, gone.verdict), (Some(410), Verdict::Gone));

    let busy = send("/busy").await;
    assert_eq!(busy.status, Some(503));
    assert_eq!(busy.verdict, Verdict::Retry);
    assert_eq!(busy.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(busy.error.as_deref(), Some("HTTP 503: busy"));

    let slow = send("/slow").await;
    assert_eq!((slow.status, slow.verdict), (None, Verdict::Retry));
    assert!(slow.error.unwrap().contains("no answer"));

    // A redirect is an answer like any other non-2xx: never followed.
    let moved = send("/moved").await;
    assert_eq!((moved.status, moved.verdict), (Some(302), Verdict::Retry));

    // Nobody listening: a transport error, retried.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let refused = sender
        .send(&url(closed, "/"), &s, "msg_y", Utc::now(), b"{}")
        .await;
    assert_eq!((refused.status, refused.verdict), (None, Verdict::Retry));
    assert!(refused.error.is_some());
}

#[tokio::test]
async fn private_addresses_are_refused_at_connect_time_unless_allowed() {
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let h = h.clone();
            async move {
                *h.lock().unwrap() += 1;
                StatusCode::OK
            }
        }),
    );
    let addr = serve(app).await;
    let strict = Sender::new(Reach::public_only(), Duration::from_secs(5)).unwrap();
    let s = [Secret::generate()];

    // An address literal: refused before connecting.
    let a = strict
        .send(&url(addr, "/hook"), &s, "msg_1", Utc::now(), b"{}")
        .await;
    assert_eq!((a.status, a.verdict), (None, Verdict::Retry));
    assert!(a.error.unwrap().contains("loopback"));

    // A name that resolves to loopback: the sender's resolver refuses it at connect time
    // (here through a bare client, since the sender also refuses the name `localhost` itself).
    let client = reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(Arc::new(
            Reach::public_only(),
        ))))
        .build()
        .unwrap();
    let by_name = format!("http://localhost:{}/hook", addr.port());
    let err = client.post(&by_name).send().await.unwrap_err();
    let mut causes = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(s) = source {
        causes.push_str(&s.to_string());
        source = s.source();
    }
    assert!(causes.contains("loopback"), "{causes}");
    assert_eq!(*hits.lock().unwrap(), 0, "nothing reached the receiver");

    // Allowed by network: it goes through.
    let allowed = Sender::new(
        Reach::new(false, &["127.0.0.0/8".into(), "::1/128".into()]).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let a = allowed
        .send(&url(addr, "/hook"), &s, "msg_3", Utc::now(), b"{}")
        .await;
    assert_eq!(a.verdict, Verdict::Delivered);
    assert_eq!(*hits.lock().unwrap(), 1);
}
