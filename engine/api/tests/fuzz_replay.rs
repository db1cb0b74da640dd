//! The fuzz targets (`fuzz/fuzz_targets`) over their kept inputs — the seed corpus
//! (`fuzz/corpus/TARGET`) and every fixed finding (`fuzz/regressions/TARGET`) — on the
//! stable toolchain, without libFuzzer or sanitizers: the short version of the hostile-input
//! suite in the test command. Each target's checks (no panic, the round trips and fixed points
//! it asserts) run on every input; a failing input is named. `fuzz/run --replay` runs the same
//! inputs through the sanitizer builds, `fuzz/run --duration S` fuzzes (fuzz/README.md).
//!
//! The targets are compiled here as modules, so the code the fuzzer runs is the code tested.

#[path = "../../../fuzz/fuzz_targets/capacity_payload.rs"]
mod capacity_payload;
#[path = "../../../fuzz/fuzz_targets/event_decode.rs"]
mod event_decode;
#[path = "../../../fuzz/fuzz_targets/lead_payload.rs"]
mod lead_payload;
#[path = "../../../fuzz/fuzz_targets/rule_compile_eval.rs"]
mod rule_compile_eval;
#[path = "../../../fuzz/fuzz_targets/rule_header.rs"]
mod rule_header;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The kept inputs of `target`, sorted, as `fuzz/run --replay` finds them.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable folder").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_file() && !name.starts_with('.') && !name.starts_with("README") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `run` on every kept input of `target`; fails naming each input that fails.
fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no kept inputs for {target} in {}",
        fuzz_dir().display()
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).expect("a readable input");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} kept inputs fail: {}",
        failed.len(),
        files.len(),
        failed.join(", ")
    );
    eprintln!("{target}: {} kept inputs pass", files.len());
}

#[test]
fn capacity_payload_inputs() {
    replay("capacity_payload", capacity_payload::run);
}

#[test]
fn event_decode_inputs() {
    replay("event_decode", event_decode::run);
}

#[test]
fn lead_payload_inputs() {
    replay("lead_payload", lead_payload::run);
}

#[test]
fn rule_compile_eval_inputs() {
    replay("rule_compile_eval", rule_compile_eval::run);
}

#[test]
fn rule_header_inputs() {
    replay("rule_header", rule_header::run);
}
