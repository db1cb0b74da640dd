//! `leadorch serve` through the binary: it prints the address it bound (port 0 picks one),
//! answers `GET /healthz` over real HTTP, refuses plain HTTP off loopback, and stops on
//! SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::{leadorch, repo, stderr};

/// `GET path` over a plain TCP connection; returns the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[test]
fn serve_prints_its_address_answers_healthz_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(repo())
        .env("LEADORCH_HOME", dir.path())
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start leadorch serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let addr = first
        .strip_prefix("leadorch serve: listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    assert!(!addr.ends_with(":0"), "port 0 is resolved: {addr}");

    let (status, body) = get(&addr, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains(r#"{"status":"ok"}"#), "{body}");
    let (status, body) = get(&addr, "/v1/leads");
    assert!(status.contains(" 404 "), "{status}");
    assert!(
        body.contains(r#""detail":"no endpoint at /v1/leads""#),
        "{body}"
    );

    // SIGTERM: it stops, and says so.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l == "leadorch serve: stopped"),
        "{rest:?}"
    );
}

#[test]
fn serve_refuses_plain_http_off_loopback_and_bad_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let o = leadorch(dir.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--allow-plain-http"), "{err}");
    let o = leadorch(dir.path(), &["serve", "--listen", "nowhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("\"nowhere\" is not an address"),
        "{}",
        stderr(&o)
    );
}
