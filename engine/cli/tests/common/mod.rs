//! Running the `leadorch` binary as a user would, for the CLI's end-to-end tests: a home of
//! the test's own, none of the caller's database, key, config, actor or Google settings, from
//! the repository root (so `rules/` resolves), with a rule-run budget no run reaches on a busy
//! machine (a timeout would be a rule failure the tests do not expect).
#![allow(dead_code)] // each test binary uses its own part of it

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// [`leadorch_with`] off the async runtime, for tests whose fakes answer on that runtime
/// while the binary runs.
pub async fn leadorch_off_runtime(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = home.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        leadorch_with(&home, &args, &env)
    })
    .await
    .expect("leadorch ran")
}

/// `leadorch ARGS` with `LEADORCH_HOME=home` and `env` set on top.
pub fn leadorch_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadorch"));
    cmd.args(args)
        .current_dir(repo())
        .env("LEADORCH_HOME", home)
        .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
        // A daemon serves the API: on a free port, never the default one another test holds.
        .env("LEADORCH_LISTEN", "127.0.0.1:0");
    for name in [
        "DATABASE_URL",
        "LEADORCH_MASTER_KEY",
        "LEADORCH_MASTER_KEY_FILE",
        "LEADORCH_CONFIG",
        "LEADORCH_ACTOR",
        "LEADORCH_GOOGLE_CLIENT_ID",
        "LEADORCH_GOOGLE_CLIENT_SECRET",
    ] {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run leadorch")
}

/// `leadorch ARGS` with `LEADORCH_HOME=home`.
pub fn leadorch(home: &Path, args: &[&str]) -> Output {
    leadorch_with(home, args, &[])
}

/// Bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// Runs a command that must succeed; returns its standard output.
pub fn ok(home: &Path, args: &[&str]) -> String {
    let o = leadorch(home, args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// A lead whose personal fields can still be read (its subject was not erased by the seed):
/// `(subject id, email)`.
pub fn readable_lead(home: &Path) -> (String, String) {
    let revealed = ok(
        home,
        &[
            "events",
            "list",
            "--type",
            "LeadReceived",
            "--json",
            "--reveal",
        ],
    );
    revealed
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find_map(|v| {
            let lead = &v["payload"]["LeadReceived"];
            Some((
                lead["subject_id"].as_str()?.to_string(),
                lead["email"].as_str()?.to_string(),
            ))
        })
        .expect("a readable lead")
}

/// `leadorch serve ARGS` in `home`, from the repository root: the child, the rest of its
/// standard error, and what its first line says after `prefix` up to the first space (the
/// address it bound: `leadorch serve: listening on http://` gives `127.0.0.1:PORT`).
pub fn start_serve<A: AsRef<OsStr>>(
    home: &Path,
    args: &[A],
    prefix: &str,
) -> (Child, Lines<BufReader<ChildStderr>>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadorch"))
        .arg("serve")
        .args(args)
        .current_dir(repo())
        .env("LEADORCH_HOME", home)
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start leadorch serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let addr = first
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{first:?} does not start with {prefix:?}"))
        .to_string();
    (child, lines, addr)
}
