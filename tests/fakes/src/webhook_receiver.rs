//! A webhook receiver on `127.0.0.1` for tests: it verifies every request's Standard Webhooks
//! signature with the secret registered for its path (`leadorch_webhooks::sign::verify`), keeps
//! what it received, and answers as scripted per path and attempt (a status, a `Retry-After`,
//! an answer slower than the sender's timeout), so delivery, retries and endpoint disabling are
//! tested over real HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use leadorch_webhooks::sign::{verify, Secret, DEFAULT_TOLERANCE_SECS};
use serde_json::Value;

/// How the receiver answers one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// This status, at once.
    Status(u16),
    /// This status with a `Retry-After` header of this text.
    RetryAfter(u16, String),
    /// This status after waiting this long (longer than the sender's timeout: no answer).
    After(Duration, u16),
}

/// One request that verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// The path it came to, without the leading `/`.
    pub path: String,
    /// Its `webhook-id`.
    pub id: String,
    /// Its body, parsed.
    pub body: Value,
    /// How many signatures its `webhook-signature` carried (two during a rotation).
    pub signatures: usize,
    /// Whether it was answered 2xx (false while it is being answered).
    pub acked: bool,
}

#[derive(Default)]
struct Inner {
    secrets: HashMap<String, Vec<Secret>>,
    scripts: HashMap<String, (Vec<Answer>, Answer)>,
    received: Vec<Received>,
    unverified: usize,
}

/// The receiver; clones share it.
#[derive(Clone)]
pub struct WebhookReceiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<tokio::sync::Notify>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn receive(
    State(r): State<WebhookReceiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = header(&headers, "webhook-id").to_string();
    let signature = header(&headers, "webhook-signature").to_string();
    let secrets = r
        .inner
        .lock()
        .unwrap()
        .secrets
        .get(&path)
        .cloned()
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let ok = secrets.iter().any(|s| {
        verify(
            s,
            &id,
            header(&headers, "webhook-timestamp"),
            &signature,
            &body,
            now,
            DEFAULT_TOLERANCE_SECS,
        )
        .is_ok()
    });
    if !ok {
        r.inner.lock().unwrap().unverified += 1;
        r.changed.notify_waiters();
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Recorded on arrival, so an attempt that arrives while an earlier one is still being
    // answered (slowly) counts as the next.
    let (answer, at) = {
        let mut inner = r.inner.lock().unwrap();
        let n = inner
            .received
            .iter()
            .filter(|x| x.path == path && x.id == id)
            .count();
        let answer = match inner.scripts.get(&path) {
            Some((first, then)) => first.get(n).unwrap_or(then).clone(),
            None => Answer::Status(204),
        };
        inner.received.push(Received {
            path,
            id,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            signatures: signature.split(' ').filter(|s| !s.is_empty()).count(),
            acked: false,
        });
        (answer, inner.received.len() - 1)
    };
    let (status, retry_after) = match answer {
        Answer::Status(s) => (s, None),
        Answer::RetryAfter(s, after) => (s, Some(after)),
        Answer::After(wait, s) => {
            tokio::time::sleep(wait).await;
            (s, None)
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.inner.lock().unwrap().received[at].acked = status.is_success();
    r.changed.notify_waiters();
    match retry_after {
        Some(after) => (status, [("retry-after", after)]).into_response(),
        None => status.into_response(),
    }
}

impl WebhookReceiver {
    /// Listens on a free loopback port; every path answers `204` until scripted.
    pub async fn start() -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let r = WebhookReceiver {
            addr: listener.local_addr().expect("its address"),
            inner: Default::default(),
            changed: Default::default(),
        };
        let app = Router::new()
            .route("/{path}", post(receive))
            .with_state(r.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        r
    }

    /// `http://127.0.0.1:PORT/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Verifies requests to `path` with `secret` (`whsec_…`), besides any secret set before
    /// (a receiver that accepts the old and the new secret during a rotation).
    pub fn add_secret(&self, path: &str, secret: &str) {
        let s = Secret::parse(secret).expect("a whsec_ secret");
        self.inner
            .lock()
            .unwrap()
            .secrets
            .entry(path.to_string())
            .or_default()
            .push(s);
    }

    /// Verifies requests to `path` with `secret` only.
    pub fn set_secret(&self, path: &str, secret: &str) {
        self.inner.lock().unwrap().secrets.remove(path);
        self.add_secret(path, secret);
    }

    /// Answers the n-th attempt of each message to `path` with `first[n]`, and `then` after.
    pub fn script(&self, path: &str, first: Vec<Answer>, then: Answer) {
        self.inner
            .lock()
            .unwrap()
            .scripts
            .insert(path.to_string(), (first, then));
    }

    /// Every verified request, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The bodies of the requests answered 2xx.
    pub fn acked_bodies(&self) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r.acked)
            .map(|r| r.body)
            .collect()
    }

    /// Requests refused because no signature verified.
    pub fn unverified(&self) -> usize {
        self.inner.lock().unwrap().unverified
    }

    /// Waits until `done` holds of what was received, at most `limit`; returns whether it did.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[Received]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if done(&self.inner.lock().unwrap().received) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.inner.lock().unwrap().received);
            }
        }
    }
}
