//! `leadorch bench …`: runs the benchmarks, a binary of their own (`leadorch-bench`, crate
//! `engine/bench`) built beside this one by `cargo build --release` at the repository root,
//! so that the benchmarks and their peers are not part of `leadorch`. Every argument after
//! `bench` goes to it unchanged (`--help` too), after the global options given before
//! `bench`, which it accepts as `leadorch` does; it shares standard input and output, and its
//! exit code is ours.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::Global;

/// The benchmarks' binary, looked for in the folder of the running executable.
const BENCH_BINARY: &str = "leadorch-bench";

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// append, daemon, ingest, react, replay, rules or scrub, with their options (`leadorch bench --help` lists them)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Runs `leadorch-bench` with the arguments and returns its exit code.
pub async fn run(global: &Global, cmd: BenchArgs) -> Result<ExitCode> {
    let binary = bench_binary()?;
    if !binary.is_file() {
        bail!(
            "the benchmarks are a binary of their own, not found at {}: `cargo build --release` \
             at the repository root builds it beside leadorch",
            binary.display()
        );
    }
    let mut command = Command::new(&binary);
    // Global options given before `bench` go first, as options of `leadorch-bench` itself;
    // those read from the environment are there for it already.
    for (flag, var, value) in [
        (
            "--database-url",
            "DATABASE_URL",
            global.database_url.as_deref().map(OsStr::new),
        ),
        (
            "--master-key-file",
            "LEADORCH_MASTER_KEY_FILE",
            global.master_key_file.as_deref().map(Path::as_os_str),
        ),
        (
            "--actor",
            "LEADORCH_ACTOR",
            global.actor.as_deref().map(OsStr::new),
        ),
    ] {
        if let Some(value) = value.filter(|v| std::env::var_os(var).as_deref() != Some(*v)) {
            command.arg(flag).arg(value);
        }
    }
    command.args(&cmd.args);
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // Ended by a signal.
        None => ExitCode::FAILURE,
    })
}

/// The command line with `leadorch help bench [COMMAND]…` read as `leadorch bench help
/// [COMMAND]…`, which is what clap's `help` means, so that `leadorch-bench` answers it.
pub fn with_help_forwarded(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.collect();
    if args.get(1).is_some_and(|a| a == "help") && args.get(2).is_some_and(|a| a == "bench") {
        args.swap(1, 2);
    }
    args
}

/// `leadorch-bench` in the folder of the running executable.
fn bench_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running executable")?;
    Ok(exe.with_file_name(format!("{BENCH_BINARY}{}", std::env::consts::EXE_SUFFIX)))
}
