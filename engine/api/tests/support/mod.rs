//! Self-signed certificates for the TLS tests, written as PEM files, and a client that trusts
//! them.
#![allow(dead_code)] // each test binary uses its own part of it

use std::path::{Path, PathBuf};

/// A certificate for `127.0.0.1` and `localhost` and its key, as PEM files in a directory of
/// the test's own.
pub struct Pair {
    /// The certificate file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The key, PEM.
    pub key_pem: String,
    _dir: tempfile::TempDir,
}

/// A fresh self-signed certificate and its key.
pub fn pair() -> Pair {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("make a certificate");
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let cert_pem = made.cert.pem();
    let key_pem = made.signing_key.serialize_pem();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    Pair {
        cert,
        key,
        cert_pem,
        key_pem,
        _dir: dir,
    }
}

/// Writes `text` to `name` beside the pair's files.
pub fn write(pair: &Pair, name: &str, text: &str) -> PathBuf {
    let path = dir_of(&pair.cert).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn dir_of(path: &Path) -> &Path {
    path.parent().expect("a file in a directory")
}

/// A client that trusts the pair's certificate (and nothing else added).
pub fn client(pair: &Pair) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(pair.cert_pem.as_bytes()).expect("a PEM certificate"),
        )
        .build()
        .unwrap()
}

/// A server on a free loopback port, stopped by [`Running::stop`].
pub struct Running {
    /// The address bound.
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts shutting down; the returned task ends once every connection has.
    pub fn stop(mut self) -> tokio::task::JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
    }
}

/// Serves `app` on `127.0.0.1:0` (TLS when `tls` is given) with `limits`.
pub async fn start(
    app: axum::Router,
    tls: Option<std::sync::Arc<leadorch_api::tls::ServerConfig>>,
    limits: leadorch_api::server::ConnectionLimits,
) -> Running {
    let (listener, addr) = leadorch_api::listen::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(leadorch_api::server::serve_with_limits(
        listener,
        app,
        tls,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Reads from `stream` until the server closes it (end of file or a reset); panics if it has
/// not after a minute — the limit under test is far shorter.
pub async fn closed_by_server(stream: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut sink = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut sink),
    )
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
}

/// A small app for connection tests: `GET /healthz`, and a `404` problem for anything else,
/// hardened as the API's router is (the keyed routes need a database these tests do not).
pub fn app() -> axum::Router {
    leadorch_api::harden(
        axum::Router::new()
            .route(
                "/healthz",
                axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .fallback(|| async { leadorch_api::Problem::not_found("no endpoint here") }),
    )
}
