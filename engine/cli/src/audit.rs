//! `leadorch audit verify`: the hash chain recomputed over the whole log.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use leadorch_store::{db, StoreError, Verification};
use serde_json::json;

use crate::common::{hex, open, progress_bar, store_config, Open, EXIT_FINDING};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain: exit 0 with the count and head hash when it holds, exit 3
    /// with the first bad position when any stored byte was changed (or when the file is
    /// too damaged to read)
    Verify {
        /// Print the outcome as one JSON object: `{"result": "intact", "events", "head",
        /// "seconds"}`, `{"result": "broken", "position", "reason"}` or `{"result":
        /// "damaged", "location", "reason", "advice"}` (same exit codes)
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(g: &Global, cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { json } => damage_is_a_finding(g, json, verify(g, json).await),
    }
}

async fn verify(g: &Global, json: bool) -> Result<ExitCode> {
    let engine = open(g, Open::Existing).await?;
    let head = engine.store.log.head().await?;
    let bar = progress_bar(head.position, "verifying");
    let started = Instant::now();
    let outcome = engine.store.log.verify(|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    match outcome {
        Verification::Intact { count, head } => {
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let v = json!({"result": "intact", "events": count, "head": hex(&head), "seconds": seconds});
                outln!("{v}")?;
            } else {
                outln!(
                    "chain intact: {count} events, head {} ({seconds:.2} s)",
                    hex(&head)
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Verification::Broken { position, reason } => {
            if json {
                let v = json!({"result": "broken", "position": position, "reason": reason});
                outln!("{v}")?;
            } else {
                outln!("chain broken at position {position}: {reason}")?;
            }
            Ok(ExitCode::from(EXIT_FINDING))
        }
    }
}

/// A database too damaged to read (a bad page, a truncated file) is what `verify` looks for,
/// like a broken chain: said on standard output with what to do, exit 3.
fn damage_is_a_finding(g: &Global, json: bool, result: Result<ExitCode>) -> Result<ExitCode> {
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
    let (location, place) = match url.strip_prefix("sqlite://") {
        Some(path) => (path.to_string(), format!("the database file {path}")),
        None => {
            let url = db::redact_url(&url);
            (url.clone(), url)
        }
    };
    const ADVICE: &str =
        "restore it from a backup, then verify the copy with `leadorch audit verify`";
    if json {
        let v =
            json!({"result": "damaged", "location": location, "reason": reason, "advice": ADVICE});
        outln!("{v}")?;
    } else {
        outln!("database damaged: {place} cannot be read ({reason}); the log cannot be trusted: {ADVICE}")?;
    }
    Ok(ExitCode::from(EXIT_FINDING))
}
