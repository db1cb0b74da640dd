//! `leadorch audit verify`: the hash chain recomputed over the whole log.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use leadorch_store::Verification;

use crate::common::{hex, open, progress_bar, Open, EXIT_FINDING};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain: exit 0 with the count and head hash when it holds, exit 3
    /// with the first bad position when any stored byte was changed
    Verify,
}

pub async fn run(g: &Global, cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify => verify(g).await,
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
