//! Where the API listens: loopback by default (`127.0.0.1:8650`); any other address needs TLS
//! or an explicit `--allow-plain-http` (leads carry personal data). Port 0 picks a free port,
//! and the caller prints the address bound.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8650";

/// Why the API cannot listen where it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address does not parse.
    #[error("--listen {given:?} is not an address: give IP:PORT, e.g. 127.0.0.1:8650 (port 0 picks a free one)")]
    BadAddress {
        /// What was given.
        given: String,
    },
    /// A non-loopback address without TLS or `--allow-plain-http`.
    #[error("--listen {addr} is reachable from other machines, and requests carry personal data: give --tls-cert and --tls-key, or serve it behind a TLS proxy and pass --allow-plain-http, or listen on 127.0.0.1")]
    PlainHttpElsewhere {
        /// The address.
        addr: SocketAddr,
    },
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Parses `--listen` and applies the loopback rule: `allow_plain_http` is true with TLS too
/// (the address is then reachable only over TLS).
pub fn check_listen(given: &str, allow_plain_http: bool) -> Result<SocketAddr, ListenError> {
    let addr: SocketAddr = given.parse().map_err(|_| ListenError::BadAddress {
        given: given.to_string(),
    })?;
    if !addr.ip().is_loopback() && !allow_plain_http {
        return Err(ListenError::PlainHttpElsewhere { addr });
    }
    Ok(addr)
}

/// Binds `addr`; returns the listener and the address actually bound (port 0 resolved).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ListenError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ListenError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// Serves `app` over plain HTTP on `listener` until `shutdown` completes; requests in flight
/// are answered first. [`crate::server::serve_with`] without TLS: the same connection limits,
/// and handlers see the peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    crate::server::serve_with(listener, app, None, shutdown).await
}
