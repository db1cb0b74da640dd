//! The accept loop both fakes share: HTTP/1.1 on `127.0.0.1:0`, one task per connection, and a
//! way for a handler to drop its connection without answering (the `DropConnection` faults).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rand::distributions::Alphanumeric;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Handed to every request (as an axum extension) so a handler can close its connection.
#[derive(Clone)]
pub(crate) struct ConnControl(Arc<Notify>);

impl ConnControl {
    /// Closes the socket this request came on, without any HTTP response, then never returns.
    pub(crate) async fn drop_connection(&self) -> ! {
        self.0.notify_one();
        std::future::pending::<()>().await;
        unreachable!("the connection task drops this future")
    }
}

/// A running server; aborting its accept loop (on drop) also aborts its connections.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:0` and serves `router` until the returned [`Server`] is dropped.
///
/// # Panics
/// When the loopback port cannot be bound (a broken test machine, not a test failure).
pub(crate) async fn serve(router: Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0 for a fake server");
    let addr = listener
        .local_addr()
        .expect("local address of a bound listener");
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let notify = Arc::new(Notify::new());
                    let app = router.clone().layer(Extension(ConnControl(notify.clone())));
                    let service = TowerToHyperService::new(app);
                    connections.spawn(async move {
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = conn => {}
                            _ = notify.notified() => {}
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Server { addr, task }
}

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade into the fake).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random alphanumeric string of `n` characters.
pub(crate) fn random_token(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}
