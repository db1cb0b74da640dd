//! The schema check of captured Google Ads bodies: `tests/conformance/google_ads.py`, run with
//! the Python that has the official `google-ads` protos (`LEADORCH_CONFORMANCE_PYTHON`, set by
//! `tests/run` from its venv).
//!
//! Outside `tests/run` and CI the check is skipped with a note when no checker is configured
//! (a developer's quick `cargo test`). Under `CI=true`, or when
//! `LEADORCH_CONFORMANCE_REQUIRED=1` (`tests/run` sets it), a missing checker fails the test:
//! a conformance check must never pass by not running.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The checker script, from this crate's folder.
pub fn checker_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/google_ads.py")
}

/// Whether a missing checker must fail instead of skipping: `CI` or
/// `LEADORCH_CONFORMANCE_REQUIRED` set to anything but empty, `0` or `false`.
fn required() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    set("CI") || set("LEADORCH_CONFORMANCE_REQUIRED")
}

/// What to do given the configured Python and whether the check is required: run it, skip
/// it, or fail with the message.
fn choose(configured: Option<OsString>, required: bool) -> Result<Option<PathBuf>, &'static str> {
    match configured {
        Some(p) if !p.is_empty() => Ok(Some(PathBuf::from(p))),
        _ if required => Err(
            "LEADORCH_CONFORMANCE_PYTHON is not set, but the schema check is required here \
             (CI or tests/run): run the tests through tests/run, which sets up the checker's venv",
        ),
        _ => Ok(None),
    }
}

/// The Python to run the checker with, or `None` (with a note on stderr) when none is
/// configured and the check is not required.
///
/// # Panics
/// When no checker is configured but the check is required (CI, `tests/run`).
pub fn python() -> Option<PathBuf> {
    match choose(std::env::var_os("LEADORCH_CONFORMANCE_PYTHON"), required()) {
        Ok(Some(p)) => Some(p),
        Ok(None) => {
            eprintln!(
                "LEADORCH_CONFORMANCE_PYTHON not set: schema check skipped (tests/run sets it)"
            );
            None
        }
        Err(message) => panic!("{message}"),
    }
}

/// Checks a JSON-lines file of captures against the protos. Returns `false` when the check
/// was skipped (see [`python`]).
///
/// # Panics
/// When the captures do not conform (with the checker's output), when the checker cannot be
/// run, or when it is required but not configured.
pub fn check_captures(path: &Path) -> bool {
    let Some(python) = python() else {
        return false;
    };
    let out = Command::new(&python)
        .arg(checker_script())
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the schema checker {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "captures do not conform to the google-ads protos:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_checker_fails_when_required_and_skips_otherwise() {
        assert!(choose(None, true).is_err());
        assert!(choose(Some(OsString::new()), true).is_err());
        assert_eq!(choose(None, false), Ok(None));
        assert_eq!(
            choose(Some("/venv/bin/python".into()), true),
            Ok(Some(PathBuf::from("/venv/bin/python")))
        );
    }
}
