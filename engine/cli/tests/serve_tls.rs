//! `leadorch serve` over TLS through the binary: `--tls-cert`/`--tls-key` serve HTTPS (the
//! startup line says `https://`), plain HTTP to that port fails, TLS lets it listen beyond
//! loopback without `--allow-plain-http`, and bad files or flags are refused in one line before
//! anything listens.

mod common;

use std::io::{BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command};

use common::{leadorch, start_serve, stderr};

/// A self-signed certificate for 127.0.0.1 and its key, written in `dir`.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
    cert_pem: String,
}

fn pair(dir: &Path, name: &str) -> Pair {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let cert_pem = made.cert.pem();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    Pair {
        cert,
        key,
        cert_pem,
    }
}

/// A running `leadorch serve ARGS`, the port it printed and the rest of its standard error.
struct Serving {
    child: Child,
    port: u16,
    lines: Lines<BufReader<ChildStderr>>,
}

fn serve(home: &Path, args: &[&str], expect_prefix: &str) -> Serving {
    let (child, lines, addr) = start_serve(home, args, expect_prefix);
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "port 0 is resolved: {addr}");
    Serving { child, port, lines }
}

impl Serving {
    /// SIGTERM; it stops cleanly and says so.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let rest: Vec<String> = self.lines.map_while(Result::ok).collect();
        assert!(
            rest.iter().any(|l| l == "leadorch serve: stopped"),
            "{rest:?}"
        );
    }
}

fn trusting(pair: &Pair) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pair.cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn serve_over_tls_answers_https_and_refuses_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let pair = pair(dir.path(), "server");
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    let server = serve(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ],
        "leadorch serve: listening on https://127.0.0.1:",
    );
    let port = server.port;
    let r = trusting(&pair)
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err(), "plain HTTP to the TLS port: {plain:?}");
    server.stop();
}

#[tokio::test]
async fn with_tls_serve_listens_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let pair = pair(dir.path(), "server");
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    let server = serve(
        dir.path(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ],
        "leadorch serve: listening on https://0.0.0.0:",
    );
    let r = trusting(&pair)
        .get(format!("https://127.0.0.1:{}/healthz", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop();
}

/// `leadorch serve ARGS` must fail: its exit code and its standard error.
fn refused(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let o = leadorch(home, &all);
    (o.status.code(), stderr(&o))
}

#[test]
fn bad_tls_files_and_flags_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let ours = pair(home, "ours");
    let theirs = pair(home, "theirs");
    let (cert, key) = (ours.cert.to_str().unwrap(), ours.key.to_str().unwrap());

    // A key that is not the certificate's.
    let (code, err) = refused(
        home,
        &[
            "--listen",
            "0.0.0.0:0",
            "--tls-cert",
            cert,
            "--tls-key",
            theirs.key.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "error: --tls-key {} does not match the certificate in --tls-cert {cert} (the first certificate must be the server's own, issued for this key)",
            theirs.key.display()
        )
    );

    // Not PEM; missing.
    let prose = home.join("notes.txt");
    std::fs::write(&prose, "hello\n").unwrap();
    let (code, err) = refused(
        home,
        &["--tls-cert", prose.to_str().unwrap(), "--tls-key", key],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "--tls-cert {} holds no certificate",
            prose.display()
        )),
        "{err}"
    );
    assert!(err.contains("it is not a PEM file at all"), "{err}");
    let missing = home.join("missing.key");
    let (code, err) = refused(
        home,
        &["--tls-cert", cert, "--tls-key", missing.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: cannot read --tls-key {}: ",
            missing.display()
        )),
        "{err}"
    );

    // One of the pair alone; TLS and --allow-plain-http together.
    let (code, err) = refused(home, &["--tls-cert", cert]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-key <PEM>"), "{err}");
    let (code, err) = refused(home, &["--tls-key", key]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-cert <PEM>"), "{err}");
    let (code, err) = refused(
        home,
        &["--allow-plain-http", "--tls-cert", cert, "--tls-key", key],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot be used with"), "{err}");

    // Without TLS, beyond loopback is still refused, and the error names the TLS flags.
    let (code, err) = refused(home, &["--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("give --tls-cert and --tls-key"), "{err}");
}
