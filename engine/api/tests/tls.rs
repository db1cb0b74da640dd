//! TLS: the certificate and key read from PEM files (and every way they can be wrong, each a
//! one-line error naming the file), the API over real HTTPS on loopback, HTTP/1.1 by ALPN,
//! plain HTTP to the TLS port refused, a silent client dropped after the handshake timeout
//! without holding up anyone else, and the request in flight answered on shutdown.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use leadorch_api::server::ConnectionLimits;
use leadorch_api::{load_tls, TlsError};
use support::{client, closed_by_server, pair, start, write};

#[tokio::test]
async fn https_answers_over_http1_and_plain_http_to_the_tls_port_fails() {
    let pair = pair();
    let tls = load_tls(&pair.cert, &pair.key).expect("a good pair loads");
    let server = start(support::app(), Some(tls), ConnectionLimits::default()).await;
    let port = server.addr.port();
    let client = client(&pair);

    for host in ["127.0.0.1", "localhost"] {
        let r = client
            .get(format!("https://{host}:{port}/healthz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET https://{host}:{port}/healthz: {e:?}"));
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.version(),
            reqwest::Version::HTTP_11,
            "ALPN picks HTTP/1.1"
        );
        assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
    }
    let r = client
        .get(format!("https://127.0.0.1:{port}/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP to the TLS port: {plain:?}");

    // A client that does not trust the certificate does not get through either.
    let untrusting = reqwest::Client::new()
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(untrusting.is_err(), "{untrusting:?}");

    server.stop().await.unwrap();
}

#[tokio::test]
async fn handlers_see_the_peer_address_over_tls_and_plain_http() {
    let app = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let pair = pair();
    let tls = load_tls(&pair.cert, &pair.key).unwrap();
    let secure = start(app.clone(), Some(tls), ConnectionLimits::default()).await;
    let plain = start(app, None, ConnectionLimits::default()).await;

    for (client, base) in [
        (
            client(&pair),
            format!("https://127.0.0.1:{}", secure.addr.port()),
        ),
        (reqwest::Client::new(), format!("http://{}", plain.addr)),
    ] {
        let r = client.get(format!("{base}/peer")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{base}");
        let peer: SocketAddr = r.text().await.unwrap().parse().unwrap();
        assert_eq!(peer.ip().to_string(), "127.0.0.1", "{base}");
        assert_ne!(peer.port(), 0, "{base}");
    }
    secure.stop().await.unwrap();
    plain.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_handshake_timeout() {
    let pair = pair();
    let tls = load_tls(&pair.cert, &pair.key).unwrap();
    let limits = ConnectionLimits {
        handshake_timeout: Duration::from_millis(200),
        ..ConnectionLimits::default()
    };
    let server = start(support::app(), Some(tls), limits).await;
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    closed_by_server(&mut silent).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_client_holds_up_no_one_else_and_not_the_shutdown() {
    let pair = pair();
    let tls = load_tls(&pair.cert, &pair.key).unwrap();
    // A handshake timeout no test run reaches: only the concurrency is under test.
    let limits = ConnectionLimits {
        handshake_timeout: Duration::from_secs(3600),
        ..ConnectionLimits::default()
    };
    let server = start(support::app(), Some(tls), limits).await;
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let r = client(&pair)
        .get(format!("https://127.0.0.1:{}/healthz", server.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Stopping abandons the handshake that never started rather than waiting an hour.
    tokio::time::timeout(Duration::from_secs(60), server.stop())
        .await
        .expect("the server stopped without waiting for the silent client")
        .unwrap();
    closed_by_server(&mut silent).await;
}

#[tokio::test]
async fn shutdown_answers_the_request_in_flight_over_tls() {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let entered_tx = Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let release = Arc::new(tokio::sync::Notify::new());
    let app = {
        let release = release.clone();
        Router::new().route(
            "/slow",
            get(move || {
                let release = release.clone();
                let entered = entered_tx.lock().unwrap().take();
                async move {
                    if let Some(entered) = entered {
                        let _ = entered.send(());
                    }
                    release.notified().await;
                    "done"
                }
            }),
        )
    };
    let pair = pair();
    let tls = load_tls(&pair.cert, &pair.key).unwrap();
    let server = start(app, Some(tls), ConnectionLimits::default()).await;
    let url = format!("https://127.0.0.1:{}/slow", server.addr.port());
    let request = tokio::spawn(client(&pair).get(url).send());
    entered_rx.await.expect("the request reached its handler");

    let stopped = server.stop();
    release.notify_one();
    let r = request
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "done");
    stopped.await.unwrap();
}

/// The error of loading `cert` and `key`, as the binary would print it.
fn load_error(cert: &std::path::Path, key: &std::path::Path) -> (TlsError, String) {
    let e = load_tls(cert, key).expect_err("this pair must be refused");
    let text = e.to_string();
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    (e, text)
}

#[test]
fn every_bad_file_is_a_one_line_error_naming_it() {
    let good = pair();
    let other = pair();
    let cert = good.cert.display().to_string();

    let missing = good.cert.with_file_name("missing.pem");
    let (e, text) = load_error(&missing, &good.key);
    assert!(
        matches!(
            e,
            TlsError::Unreadable {
                flag: "--tls-cert",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.starts_with(&format!("cannot read --tls-cert {}: ", missing.display())),
        "{text}"
    );
    let (e, text) = load_error(&good.cert, &missing);
    assert!(
        matches!(
            e,
            TlsError::Unreadable {
                flag: "--tls-key",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.contains(&format!("--tls-key {}", missing.display())),
        "{text}"
    );

    let prose = write(&good, "prose.txt", "this is not a certificate\n");
    let (e, text) = load_error(&prose, &good.key);
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");
    assert!(
        text.contains(&format!(
            "--tls-cert {} holds no certificate",
            prose.display()
        )),
        "{text}"
    );
    assert!(text.contains("it is not a PEM file at all"), "{text}");
    let (e, text) = load_error(&good.cert, &prose);
    assert!(matches!(e, TlsError::NoKey { .. }), "{e:?}");
    assert!(
        text.contains(&format!(
            "--tls-key {} holds no private key",
            prose.display()
        )),
        "{text}"
    );

    // The two files swapped.
    let (e, text) = load_error(&good.key, &good.cert);
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");
    assert!(
        text.contains("it holds PRIVATE KEY sections: are --tls-cert and --tls-key swapped?"),
        "{text}"
    );
    let (e, text) = load_error(&good.cert, &good.cert);
    assert!(matches!(e, TlsError::NoKey { .. }), "{e:?}");
    assert!(
        text.contains("it holds CERTIFICATE sections: are --tls-cert and --tls-key swapped?"),
        "{text}"
    );

    // A key that is not the certificate's.
    let (e, text) = load_error(&good.cert, &other.key);
    assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e:?}");
    assert_eq!(
        text,
        format!(
            "--tls-key {} does not match the certificate in --tls-cert {cert} (the first certificate must be the server's own, issued for this key)",
            other.key.display()
        )
    );

    // Broken PEM.
    let cut = &good.cert_pem[..good.cert_pem.len() / 2];
    let truncated = write(&good, "truncated.pem", cut);
    let (e, text) = load_error(&truncated, &good.key);
    assert!(
        matches!(
            e,
            TlsError::NotPem {
                flag: "--tls-cert",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.contains(&format!(
            "--tls-cert {} is not a well-formed PEM file: a section does not end",
            truncated.display()
        )),
        "{text}"
    );
    let garbled = write(
        &good,
        "garbled.pem",
        "-----BEGIN PRIVATE KEY-----\n!!!! not base64 !!!!\n-----END PRIVATE KEY-----\n",
    );
    let (e, text) = load_error(&good.cert, &garbled);
    assert!(
        matches!(
            e,
            TlsError::NotPem {
                flag: "--tls-key",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.contains("is not a well-formed PEM file: a section's content is not base64"),
        "{text}"
    );

    // Well-formed PEM around bytes that are no key, no certificate.
    let junk_key = write(
        &good,
        "junk-key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let (e, text) = load_error(&good.cert, &junk_key);
    assert!(matches!(e, TlsError::KeyUnusable { .. }), "{e:?}");
    assert!(
        text.contains(&format!(
            "--tls-key {} holds a private key the server cannot use",
            junk_key.display()
        )),
        "{text}"
    );
    let junk_cert = write(
        &good,
        "junk-cert.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let (e, text) = load_error(&junk_cert, &good.key);
    assert!(matches!(e, TlsError::CertificateUnusable { .. }), "{e:?}");
    assert!(
        text.contains(&format!(
            "--tls-cert {} holds a certificate the server cannot use",
            junk_cert.display()
        )),
        "{text}"
    );

    // An encrypted key.
    let encrypted = write(
        &good,
        "encrypted.pem",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let (e, text) = load_error(&good.cert, &encrypted);
    assert!(matches!(e, TlsError::EncryptedKey { .. }), "{e:?}");
    assert!(text.contains("holds an encrypted private key"), "{text}");

    // A file with both, in either role, is fine: the certificate file may carry the key.
    let both = write(
        &good,
        "both.pem",
        &format!("{}{}", good.cert_pem, good.key_pem),
    );
    load_tls(&both, &both).expect("one file with the certificate and its key");
}
