//! Serving the router over plain HTTP or TLS: one accept loop for both, so both get the same
//! connection limits.
//!
//! Each accepted connection runs on a task of its own: the TLS handshake first (bounded by
//! [`ConnectionLimits::handshake_timeout`], so a client that connects and says nothing cannot
//! hold a task), then HTTP/1.1 through hyper with a header read timeout (a client that sends
//! its headers a byte at a time, or a keep-alive connection left idle, is closed) and a limit
//! on the size of the request head (`431` beyond it). Handlers see the peer's address as
//! `ConnectInfo<SocketAddr>` on both paths.
//!
//! When `shutdown` completes the listener is closed at once, handshakes under way are
//! abandoned, idle connections are closed, and the requests in flight are answered before
//! [`serve_with`] returns.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::tls::ServerConfig;

/// Limits on each connection, before and around the requests themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a TLS handshake may take, from the connection's acceptance.
    pub handshake_timeout: Duration,
    /// Longest the server waits for a complete request head (request line and headers), from
    /// the moment it starts waiting for one: on a new connection, and between the requests of
    /// a keep-alive connection (an idle connection is closed after this long).
    pub header_read_timeout: Duration,
    /// Largest request head accepted, bytes; beyond it the answer is `431` and the connection
    /// is closed. hyper also refuses more than 100 header fields.
    pub max_header_bytes: usize,
}

/// Default TLS handshake timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default header read (and keep-alive idle) timeout.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default largest request head: an API request's headers are a few hundred bytes (a key is 50
/// characters); 32 KiB is what nginx allows by default. Without it hyper would buffer about
/// 400 KiB of headers per connection.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            handshake_timeout: HANDSHAKE_TIMEOUT,
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_header_bytes: MAX_HEADER_BYTES,
        }
    }
}

/// Serves `app` on `listener` — over TLS when `tls` is given, else plain HTTP — with the
/// default [`ConnectionLimits`], until `shutdown` completes; requests in flight are answered
/// first.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_with_limits(listener, app, tls, ConnectionLimits::default(), shutdown).await
}

/// [`serve_with`] with the given limits.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    // `true` once shutting down; every connection task holds a receiver, so the sender's
    // `closed()` completes when the last one has finished.
    let (stopping, stop) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait for connections to finish.
                    tracing::error!("the API cannot accept connections: {e}; trying again in 1 s");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: send them at once.
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            peer,
            app.clone(),
            acceptor.clone(),
            http.clone(),
            limits.handshake_timeout,
            stop.clone(),
        ));
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(stop);
    stopping.closed().await;
}

/// One connection: the handshake when TLS is on, then HTTP until the client closes, a limit
/// is hit, or the server stops.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    acceptor: Option<TlsAcceptor>,
    http: http1::Builder,
    handshake_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let Some(acceptor) = acceptor else {
        return serve_http(tcp, peer, app, &http, &mut stop).await;
    };
    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            // Scanners, plain HTTP sent to the TLS port, clients that do not trust the
            // certificate: nothing the operator can act on, and the peer's address is
            // personal data, so neither goes to the log above debug.
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake not finished in {handshake_timeout:?}: closed");
                return;
            }
        },
        _ = stop.wait_for(|s| *s) => return,
    };
    serve_http(stream, peer, app, &http, &mut stop).await
}

/// HTTP/1.1 over `io`; on shutdown, the request in flight (if any) is answered, then the
/// connection closed.
async fn serve_http<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    http: &http1::Builder,
    stop: &mut watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = app.map_request(move |mut request: axum::http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let service = TowerToHyperService::new(service);
    let mut conn = pin!(http.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!("connection ended: {e}");
            }
            return;
        }
        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
    }
    // The answer in flight gets as long as a handler may take; an answer that never ends (an
    // event stream whose server was not closed with `Api::close`) does not hold the server.
    match tokio::time::timeout(crate::layers::REQUEST_TIMEOUT, conn).await {
        Ok(Err(e)) => tracing::debug!("connection ended while stopping: {e}"),
        Ok(Ok(())) => {}
        Err(_) => tracing::debug!("connection still answering when stopping: closed"),
    }
}

/// Errors of one incoming connection (it went away before it was accepted), not of the
/// listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
    )
}
