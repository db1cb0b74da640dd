//! `leadorch audit verify`: the hash chain recomputed over the whole log.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use leadorch_store::{db, StoreError, Verification};

use crate::common::{hex, open, progress_bar, store_config, Open, EXIT_FINDING};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain: exit 0 with the count and head hash when it holds, exit 3
    /// with the first bad position when any stored byte was changed
    Verify,
}

pub async fn run(g: &Global, cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify => damage_is_a_finding(g, verify(g).await),
    }
}

async fn verify(g: &Global) -> Result<ExitCode> {
    let engine = open(g, Open::Existing).await?;
    let head = engine.store.log.head().await?;
    let bar = progress_bar(head.position, "verifying");
    let started = Instant::now();
    let outcome = engine.store.log.verify(|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    match outcome {
        Verification::Intact { count, head } => {
            outln!(
                "chain intact: {count} events, head {} ({:.2} s)",
                hex(&head),
                started.elapsed().as_secs_f64()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Verification::Broken { position, reason } => {
            outln!("chain broken at position {position}: {reason}")?;
            Ok(ExitCode::from(EXIT_FINDING))
        }
    }
}

/// A database too damaged to read (a bad page, a truncated file) is what `verify` looks for,
/// like a broken chain: said on standard output with what to do, exit 3.
fn damage_is_a_finding(g: &Global, result: Result<ExitCode>) -> Result<ExitCode> {
    let reason = match &result {
        Err(e) => e.chain().find_map(|c| {
            let store = c.downcast_ref::<StoreError>().or_else(|| {
                match c.downcast_ref::<leadorch_core::Error>() {
                    Some(leadorch_core::Error::Store(s)) => Some(s),
                    _ => None,
                }
            });
            match store {
                Some(StoreError::Damaged { reason }) => Some(reason.clone()),
                _ => None,
            }
        }),
        Ok(_) => None,
    };
    let Some(reason) = reason else {
        return result;
    };
    let url = store_config(g).database_url;
    let place = match url.strip_prefix("sqlite://") {
        Some(path) => format!("the database file {path}"),
        None => db::redact_url(&url),
    };
    outln!(
        "database damaged: {place} cannot be read ({reason}); the log cannot be trusted: \
         restore it from a backup, then verify the copy with `leadorch audit verify`"
    )?;
    Ok(ExitCode::from(EXIT_FINDING))
}
