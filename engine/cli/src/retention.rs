//! `leadorch retention enforce`: personal data past its retention window shredded.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;
use leadorch_core::retention;

use crate::common::{actor, open, parse_time, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Shred personal data whose retention window has ended
    Enforce {
        /// Evaluate the windows at this time instead of now (RFC 3339)
        #[arg(long)]
        now: Option<String>,
    },
}

pub async fn run(g: &Global, cmd: RetentionCommand) -> Result<ExitCode> {
    match cmd {
        RetentionCommand::Enforce { now } => {
            let engine = open(g, Open::Existing).await?;
            let now = match now {
                Some(t) => parse_time(&t)?,
                None => Utc::now(),
            };
            let done = retention::enforce(&engine, now, &actor(g)).await?;
            outln!(
                "retention: {} key(s) past their window destroyed",
                done.len()
            )?;
            for e in done {
                outln!("  {} {}", e.subject_id, e.purpose.as_str())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
