//! The TypeScript types in `desktop/src/generated` are the Rust types' own (ts-rs, ADR 0039):
//! the API's request and response types (`leadorch_api::bindings`) and the desktop's
//! (`Overview`, `ConsentStarted`, `UiError`, `AccountSummary`, `ApiRequest`, `ApiResponse`,
//! `ConnectionState`, `ConnectionRequest`).
//! This test writes them afresh and fails when a committed file differs, is missing or is
//! left over; `LEADORCH_BLESS=1` writes them into the folder instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leadorch_accounts::AccountSummary;
use leadorch_desktop::app::{ApiRequest, ApiResponse, ConsentStarted, Overview};
use leadorch_desktop::remote::{ConnectionRequest, ConnectionState};
use leadorch_desktop::UiError;
use ts_rs::TS;

const REGENERATE: &str = "LEADORCH_BLESS=1 cargo test -p leadorch-desktop --test ts_bindings";

fn generated() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../desktop/src/generated")
}

/// Every binding, written into `dir`.
fn write_all(dir: &Path) {
    let cfg = leadorch_api::bindings::config(dir);
    leadorch_api::bindings::export(&cfg).expect("export the API's types");
    Overview::export_all(&cfg).expect("export Overview");
    ConsentStarted::export_all(&cfg).expect("export ConsentStarted");
    UiError::export_all(&cfg).expect("export UiError");
    AccountSummary::export_all(&cfg).expect("export AccountSummary");
    ApiRequest::export_all(&cfg).expect("export ApiRequest");
    ApiResponse::export_all(&cfg).expect("export ApiResponse");
    ConnectionState::export_all(&cfg).expect("export ConnectionState");
    ConnectionRequest::export_all(&cfg).expect("export ConnectionRequest");
}

/// The `.ts` files under `dir`, by path relative to it (other files are not ours to check).
fn ts_files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "ts") {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn the_committed_typescript_types_are_the_rust_types() {
    let fresh_dir = tempfile::tempdir().unwrap();
    write_all(fresh_dir.path());
    let fresh = ts_files(fresh_dir.path());
    // The types the front end is written against are among them.
    for name in [
        "Overview.ts",
        "ConsentStarted.ts",
        "UiError.ts",
        "AccountSummary.ts",
        "ApiRequest.ts",
        "ApiResponse.ts",
        "ConnectionState.ts",
        "ConnectionRequest.ts",
        "Problem.ts",
        "RuleDetail.ts",
    ] {
        assert!(fresh.contains_key(name), "{name} is not generated");
    }
    let committed_dir = generated();
    if std::env::var_os("LEADORCH_BLESS").is_some() {
        for name in ts_files(&committed_dir).keys() {
            std::fs::remove_file(committed_dir.join(name)).unwrap();
        }
        write_all(&committed_dir);
        return;
    }
    let committed = ts_files(&committed_dir);
    let mut drift = Vec::new();
    for (name, text) in &fresh {
        match committed.get(name) {
            None => drift.push(format!("missing: {name}")),
            Some(old) if old != text => drift.push(format!("differs: {name}")),
            Some(_) => {}
        }
    }
    for name in committed.keys().filter(|n| !fresh.contains_key(*n)) {
        drift.push(format!("left over: {name}"));
    }
    assert!(
        drift.is_empty(),
        "desktop/src/generated does not match the Rust types:\n  {}\nregenerate with: {REGENERATE}",
        drift.join("\n  ")
    );
}

#[test]
fn json_comes_out_as_serde_writes_it() {
    let cfg = leadorch_api::bindings::config(Path::new("."));
    // 64-bit integers are numbers, as serde_json writes them, not bigint.
    let history = leadorch_api::routes::rules::HistoryItem::decl(&cfg);
    assert!(history.contains("position: number"), "{history}");
    // Times are RFC 3339 text.
    assert!(history.contains("at: string"), "{history}");
    // A problem's `type` is renamed, its optional members may be absent.
    let problem = leadorch_api::Problem::decl(&cfg);
    assert!(problem.contains("type: string"), "{problem}");
    assert!(problem.contains("field?: string"), "{problem}");
    assert!(!problem.contains("headers"), "{problem}");
    // A flattened key view's fields are the created key's own.
    let created = leadorch_api::routes::keys::CreatedKey::decl(&cfg);
    assert!(created.contains("key: string"), "{created}");
    assert!(created.contains("key_id: string"), "{created}");
    // A request's field left out stays as it is; `null` clears it (teams).
    let team = leadorch_api::routes::teams::TeamRequest::decl(&cfg);
    assert!(team.contains("max_open_leads?: number | null,"), "{team}");
    assert!(team.contains("time_zone?: string,"), "{team}");
    // JSON values are JsonValue; an error's code is one of its six.
    let answer = ApiResponse::decl(&cfg);
    assert!(answer.contains("body: JsonValue"), "{answer}");
    let error = UiError::decl(&cfg);
    // The connection's modes are tagged as the shell writes them.
    let state = ConnectionState::decl(&cfg);
    assert!(state.contains(r#""mode": "local""#), "{state}");
    assert!(state.contains("reachable: boolean"), "{state}");
    let asked = ConnectionRequest::decl(&cfg);
    assert!(asked.contains("api_key?: string"), "{asked}");
    assert!(
        error.contains(
            r#"code: "not_open" | "input" | "consent" | "cancelled" | "unreachable" | "internal""#
        ),
        "{error}"
    );
}
