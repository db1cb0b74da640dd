//! `leadorch retention enforce`: personal data past its retention window shredded, and the
//! rows beside the log past theirs deleted (dedup fingerprints, idempotency records,
//! finished webhook deliveries).

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;
use leadorch_core::retention;

use crate::common::{actor, open, parse_time, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Shred personal data whose retention window has ended; delete dedup fingerprints past
    /// their window, idempotency records older than 24 hours and webhook deliveries that
    /// finished more than 30 days ago
    Enforce {
        /// Evaluate the windows at this time instead of now (RFC 3339)
        #[arg(long)]
        now: Option<String>,
        /// Report what would be shredded without destroying any key or recording anything
        #[arg(long)]
        dry_run: bool,
        /// Also print each key: its subject and purpose, one per line (by default only the
        /// count)
        #[arg(long, visible_alias = "verbose")]
        list: bool,
    },
}

pub async fn run(g: &Global, cmd: RetentionCommand) -> Result<ExitCode> {
    match cmd {
        RetentionCommand::Enforce { now, dry_run, list } => {
            let now = match now {
                Some(t) => parse_time(&t)?,
                None => Utc::now(),
            };
            let engine = open(g, Open::Existing).await?;
            let kept = retention::IDEMPOTENCY_KEPT;
            let keys = if dry_run {
                let due = retention::due(&engine, now).await?;
                let rows = retention::purge_due(&engine, now, kept).await?;
                outln!(
                    "retention (dry run): {} key(s) past their window would be destroyed, {} expired fingerprint(s), {} idempotency record(s) and {} finished webhook deliveries would be deleted; nothing changed",
                    due.len(),
                    rows.fingerprints,
                    rows.idempotency_keys,
                    rows.webhook_deliveries
                )?;
                due
            } else {
                let done = retention::enforce(&engine, now, &actor(g)).await?;
                let rows = retention::purge(&engine, now, kept).await?;
                outln!(
                    "retention: {} key(s) past their window destroyed, {} expired fingerprint(s), {} idempotency record(s) and {} finished webhook deliveries deleted",
                    done.len(),
                    rows.fingerprints,
                    rows.idempotency_keys,
                    rows.webhook_deliveries
                )?;
                done
            };
            if list {
                for e in keys {
                    outln!("  {} {}", e.subject_id, e.purpose.as_str())?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
