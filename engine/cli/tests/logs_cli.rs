//! Secrets and personal data never reach the logs, at the most verbose level: `leadorch serve`
//! with `LEADORCH_LOG=trace` (every crate's trace events, ours and the HTTP stack's) receives a
//! lead with contact details and consent, a capacity reading, a subject lookup by email, an
//! export (whose body holds the contact details) and an erasure; `leadorch keys create` makes
//! the key. Nothing they print on standard error holds the email, the phone number in any
//! spelling, the name, the consent text, the API key or the master key.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{leadorch_with, repo, stderr, stdout};
use serde_json::{json, Value};

const EMAIL: &str = "Zelda.Tracewell-7f3a@Example.org";
const PHONE: &str = "+31 20 765 4321";
const NAME: &str = "Zelda Tracewell";
const CONSENT: &str = "I agree that Quillfeather calls me about my request 7f3a";

#[tokio::test]
async fn nothing_personal_or_secret_is_logged_at_trace() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let trace = [("LEADORCH_LOG", "trace")];
    let made = leadorch_with(
        home,
        &["keys", "create", "--name", "ops", "--scopes", "admin"],
        &trace,
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let key = stdout(&made).trim().to_string();
    let mut logged = stderr(&made);

    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(repo())
        .env("LEADORCH_HOME", home)
        .env("LEADORCH_LOG", "trace")
        .env_remove("DATABASE_URL")
        .env_remove("LEADORCH_MASTER_KEY")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start leadorch serve");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let errors = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut sent = false;
        for line in BufReader::new(errors).lines().map_while(Result::ok) {
            if !sent {
                if let Some(rest) = line.split("leadorch serve: listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = addr_tx.send(addr);
                    sent = true;
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = addr_rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("leadorch serve printed its address");
    let base = format!("http://{addr}");
    let c = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = c.request(method, format!("{base}{path}")).bearer_auth(&key);
        if let Some(body) = body {
            r = r.json(&body);
        }
        r.send()
    };

    let r = call(
        reqwest::Method::POST,
        "/v1/leads",
        Some(json!({
            "lead_id": "trace-1", "form_id": "contact", "email": EMAIL, "phone": PHONE,
            "name": NAME, "ip": "203.0.113.77", "user_agent": "TraceAgent/7f3a",
            "consent": {"text": CONSENT, "at": "2026-12-01T10:00:00Z",
                        "url": "https://example.org/contact"}
        })),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = call(
        reqwest::Method::POST,
        "/v1/capacity",
        Some(
            json!({"team": "sales-nl", "agents_available": 3, "open_leads": 1,
                    "max_open_leads": 15, "at": "2026-12-04T09:30:00Z"}),
        ),
    )
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = call(
        reqwest::Method::POST,
        "/v1/subjects/lookup",
        Some(json!({"email": EMAIL.to_lowercase()})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.unwrap();
    let subject = found["subjects"][0]["subject_id"]
        .as_str()
        .or_else(|| found["subject_id"].as_str())
        .unwrap_or_else(|| panic!("no subject in {found}"))
        .to_string();
    let r = call(
        reqwest::Method::GET,
        &format!("/v1/subjects/{subject}/export"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let export = r.text().await.unwrap();
    assert!(
        export.contains("Tracewell"),
        "the export holds the data: {export}"
    );
    let r = call(
        reqwest::Method::DELETE,
        &format!("/v1/subjects/{subject}"),
        None,
    )
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    logged.push_str(&reader.join().unwrap());

    // The log is the most verbose one (no crate in the binary emits below debug today).
    assert!(
        logged.contains(" DEBUG ") && logged.lines().count() > 50,
        "LEADORCH_LOG=trace logged too little to judge:\n{logged}"
    );
    let master = std::fs::read_to_string(home.join("master.key")).unwrap();
    let secret = key.rsplit('_').next().unwrap();
    let lower = logged.to_lowercase();
    for (what, needle) in [
        ("the email", EMAIL.to_lowercase()),
        ("the email's local part", "zelda.tracewell".to_string()),
        ("the name", "tracewell".to_string()),
        ("the phone number", "765 4321".to_string()),
        ("the phone number (E.164)", "31207654321".to_string()),
        ("the consent text", "quillfeather".to_string()),
        ("the user agent", "traceagent".to_string()),
        ("the API key", key.to_lowercase()),
        ("the API key's secret part", secret.to_lowercase()),
        ("the master key", master.trim().to_lowercase()),
    ] {
        if let Some(at) = lower.find(&needle) {
            let line = logged[..at].lines().count();
            panic!(
                "{what} is in the log at line {line}: {}",
                logged.lines().nth(line.saturating_sub(1)).unwrap_or("")
            );
        }
    }
}
