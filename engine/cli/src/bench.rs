//! `leadorch bench …`: runs the benchmarks, a binary of their own (`leadorch-bench`, crate
//! `engine/bench`) built beside this one by `cargo build --release` at the repository root,
//! so that the benchmarks and their peers are not part of `leadorch`. Every argument after
//! `bench` goes to it unchanged (`--help` too), the global options in the environment it
//! reads them from; it shares standard input and output, and its exit code is ours.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::Global;

/// The benchmarks' binary, looked for in the folder of the running executable.
const BENCH_BINARY: &str = "leadorch-bench";

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// append, replay or rules, with their options (`leadorch bench --help` lists them)
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
    command.args(&cmd.args);
    if let Some(url) = &global.database_url {
        command.env("DATABASE_URL", url);
    }
    if let Some(file) = &global.master_key_file {
        command.env("LEADORCH_MASTER_KEY_FILE", file);
    }
    if let Some(actor) = &global.actor {
        command.env("LEADORCH_ACTOR", actor);
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // Ended by a signal.
        None => ExitCode::FAILURE,
    })
}

/// `leadorch-bench` in the folder of the running executable.
fn bench_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running executable")?;
    Ok(exe.with_file_name(format!("{BENCH_BINARY}{}", std::env::consts::EXE_SUFFIX)))
}
