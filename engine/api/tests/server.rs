//! Connection limits, the same over plain HTTP and TLS: a request head larger than the limit is
//! answered `431`, and a client that does not finish its head in time is disconnected.

mod support;

use std::time::Duration;

use leadorch_api::load_tls;
use leadorch_api::server::{ConnectionLimits, MAX_HEADER_BYTES};
use support::{client, closed_by_server, pair, start};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_request_head_over_the_limit_is_431_plain_and_over_tls() {
    let pair = pair();
    let tls = load_tls(&pair.cert, &pair.key).unwrap();
    let plain = start(support::app(), None, ConnectionLimits::default()).await;
    let secure = start(support::app(), Some(tls), ConnectionLimits::default()).await;
    for (client, base) in [
        (reqwest::Client::new(), format!("http://{}", plain.addr)),
        (
            client(&pair),
            format!("https://127.0.0.1:{}", secure.addr.port()),
        ),
    ] {
        let fits = "x".repeat(MAX_HEADER_BYTES - 1024);
        let r = client
            .get(format!("{base}/healthz"))
            .header("x-padding", &fits)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}: a head under the limit");
        let over = "x".repeat(MAX_HEADER_BYTES + 1);
        let r = client
            .get(format!("{base}/healthz"))
            .header("x-padding", &over)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 431, "{base}: a head over the limit");
    }
    plain.stop().await.unwrap();
    secure.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_head_is_disconnected() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(200),
        ..ConnectionLimits::default()
    };
    let server = start(support::app(), None, limits).await;
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    closed_by_server(&mut slow).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_does_not_hold_up_the_shutdown() {
    // An idle timeout no test run reaches: the shutdown itself must close the connection.
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(3600),
        ..ConnectionLimits::default()
    };
    let server = start(support::app(), None, limits).await;
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // The answer arrives and the connection stays open for the next request.
    let mut answer = vec![0u8; 1024];
    let n = tokio::io::AsyncReadExt::read(&mut idle, &mut answer)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    tokio::time::timeout(Duration::from_secs(60), server.stop())
        .await
        .expect("the server stopped without waiting for the idle connection")
        .unwrap();
    closed_by_server(&mut idle).await;
}
