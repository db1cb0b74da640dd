//! `leadorch serve` through the binary: it prints the address it bound (port 0 picks one),
//! answers `GET /healthz` over real HTTP, refuses plain HTTP off loopback, and stops on
//! SIGTERM; `leadorch keys` makes the keys it asks for, and `leadorch access-log` shows what
//! they did.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use common::{leadorch, stderr};

/// `GET path` over a plain TCP connection; returns the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    get_with(addr, path, None)
}

/// `GET path` with an API key.
fn get_with(addr: &str, path: &str, key: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
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

/// `leadorch serve --listen 127.0.0.1:0 EXTRA…` in `home`: the child, the rest of its
/// standard error, and the address it printed first.
fn start_serve(
    home: &std::path::Path,
    extra: &[&std::ffi::OsStr],
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStderr>>,
    String,
) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--listen".as_ref(), "127.0.0.1:0".as_ref()];
    args.extend_from_slice(extra);
    common::start_serve(home, &args, "leadorch serve: listening on http://")
}

#[test]
fn serve_prints_its_address_answers_healthz_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let o = leadorch(
        dir.path(),
        &["keys", "create", "--name", "ops", "--scopes", "read"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let key = String::from_utf8(o.stdout.clone())
        .unwrap()
        .trim()
        .to_string();
    assert!(key.starts_with("lo_default_"), "{key}");
    assert!(
        stderr(&o).contains("shown only this once"),
        "{}",
        stderr(&o)
    );
    let (mut child, lines, addr) = start_serve(dir.path(), &[]);
    assert!(!addr.ends_with(":0"), "port 0 is resolved: {addr}");

    let (status, body) = get(&addr, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains(r#"{"status":"ok"}"#), "{body}");
    let (status, body) = get(&addr, "/v1/nothing");
    assert!(status.contains(" 404 "), "{status}");
    assert!(
        body.contains(r#""detail":"no endpoint at /v1/nothing""#),
        "{body}"
    );
    let (status, _) = get(&addr, "/readyz");
    assert!(status.contains(" 401 "), "{status}");
    let (status, body) = get_with(&addr, "/readyz", Some(&key));
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(body.contains(r#""status":"ready""#), "{body}");

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

    // The server flushed its access log before it stopped.
    let o = leadorch(dir.path(), &["access-log"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(out.contains("GET /readyz") && out.contains("200"), "{out}");
    assert!(
        !out.contains("401"),
        "unauthenticated requests are not attributed: {out}"
    );
    // The list shows the key, never its text; revoking works once.
    let o = leadorch(dir.path(), &["keys", "list"]);
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(out.contains("ops") && out.contains("read"), "{out}");
    assert!(!out.contains(&key), "{out}");
    let o = leadorch(dir.path(), &["keys", "revoke", "ops"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("revoked key_"), "{}", stderr(&o));
    let o = leadorch(dir.path(), &["keys", "revoke", "ops"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has no working key \"ops\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn keys_create_refuses_bad_input_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (
            vec!["--name", "x", "--scopes", "read,write"],
            "--scopes: unknown scope \"write\"",
        ),
        (
            vec![
                "--name",
                "x",
                "--scopes",
                "read",
                "--allow-ip",
                "10.0.0.0/40",
            ],
            "--allow-ip:",
        ),
        (
            vec!["--name", "x", "--scopes", "read", "--project", "Big_Co"],
            "--project:",
        ),
    ] {
        let mut all = vec!["keys", "create"];
        all.extend(args);
        let o = leadorch(dir.path(), &all);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
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

/// `POST path` with a JSON body and a key; returns the status line and the body.
fn post_with(addr: &str, path: &str, key: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
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
fn serve_takes_leads_routed_and_deduplicated_as_its_configuration_says() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadorch.toml");
    std::fs::write(
        &config,
        "[intake]\ndefault_region = \"NL\"\n[intake.form_teams]\ncontact = \"sales-nl\"\n",
    )
    .unwrap();
    let o = leadorch(
        dir.path(),
        &[
            "keys",
            "create",
            "--name",
            "site",
            "--scopes",
            "ingest,read",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let key = String::from_utf8(o.stdout.clone())
        .unwrap()
        .trim()
        .to_string();

    // A configuration that cannot be used is named before anything is served.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[intake.form_teams]\ncontact = \"sales nl\"\n").unwrap();
    let o = leadorch(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("intake.form_teams"), "{}", stderr(&o));

    // Its standard error stays open (held, not read) while it serves.
    let (mut child, _lines, addr) =
        start_serve(dir.path(), &["--config".as_ref(), config.as_os_str()]);

    // The issue's smallest request, its national-format twin, and another person.
    let smallest = r#"{"lead_id":"f-1029","form_id":"contact","email":"ann@example.org","phone":"+31 20 123 4567",
 "consent":{"text":"I agree to be called about my request","at":"2026-12-01T10:00:00Z",
            "url":"https://example.org/contact"}}"#;
    let (status, body) = post_with(&addr, "/v1/leads", &key, smallest);
    assert!(status.contains(" 201 "), "{status} {body}");
    assert!(
        body.contains(r#""lead_id":"f-1029","outcome":"accepted","reason":null"#),
        "{body}"
    );
    assert!(body.contains(r#""team":"sales-nl""#), "{body}");
    let twin = smallest
        .replace("f-1029", "f-1030")
        .replace("ann@example.org", "bob@example.org")
        .replace("+31 20 123 4567", "020 123 4567");
    let (status, body) = post_with(&addr, "/v1/leads", &key, &twin);
    assert!(status.contains(" 201 "), "{status} {body}");
    assert!(body.contains(r#""outcome":"duplicate""#), "{body}");
    assert!(body.contains("f-1029"), "{body}");
    let (status, body) = get_with(&addr, "/v1/events?type=LeadDeduplicated", Some(&key));
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains(r#""stream":"lead:f-1030""#), "{body}");

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());

    // What the server recorded is in the log, personal fields shut.
    let o = leadorch(
        dir.path(),
        &["events", "list", "--type", "LeadReceived", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(out.contains(r#""stream":"lead:f-1029""#), "{out}");
    assert!(!out.contains("ann@example.org"), "{out}");
}

/// `GET path`: the whole head (status line and headers) and the body.
fn get_head(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn serve_ui_serves_the_browser_build_beside_the_api_and_refuses_a_folder_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let ui = tempfile::tempdir().unwrap();
    std::fs::create_dir(ui.path().join("assets")).unwrap();
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>Lead Orchestrator</title>",
    )
    .unwrap();
    std::fs::write(ui.path().join("assets/index-3f2a.js"), "console.log(1)").unwrap();

    // A folder that is not a build is named before anything listens.
    let o = leadorch(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ui",
            ui.path().join("assets").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no index.html"), "{}", stderr(&o));

    let (mut child, mut lines, addr) =
        start_serve(dir.path(), &["--ui".as_ref(), ui.path().as_os_str()]);
    let second = lines.next().expect("a second line").unwrap();
    assert_eq!(
        second,
        format!("leadorch serve: the operators' app at http://{addr}/")
    );

    let (head, body) = get_head(&addr, "/");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    assert!(head.contains("connect-src 'self'"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(body.contains("<title>Lead Orchestrator</title>"), "{body}");
    let (head, body) = get_head(&addr, "/assets/index-3f2a.js");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(head.contains("immutable"), "{head}");
    assert_eq!(body, "console.log(1)");
    // Nothing else of the file system, and the API still needs its key.
    let (head, _) = get_head(&addr, "/assets/../index.html");
    assert!(!head.contains("text/javascript"), "{head}");
    let (head, body) = get_head(&addr, "/assets/other.js");
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(body.contains("no endpoint at /assets/other.js"), "{body}");
    let (head, _) = get_head(&addr, "/v1/teams");
    assert!(head.starts_with("http/1.1 401"), "{head}");

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
}
