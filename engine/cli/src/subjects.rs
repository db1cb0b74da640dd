//! `leadorch subjects export|erase`: a data subject's data (GDPR Art. 15/20) and its erasure
//! (Art. 17).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;
use leadorch_core::subjects;

use crate::common::{actor, open, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum SubjectsCommand {
    /// Everything held about a data subject, decrypted, as JSON (records the request)
    Export {
        /// The data subject id
        id: String,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Erase a data subject by destroying their keys (the log stays verifiable)
    Erase {
        /// The data subject id
        id: String,
    },
}

pub async fn run(g: &Global, cmd: SubjectsCommand) -> Result<ExitCode> {
    match cmd {
        SubjectsCommand::Export { id, output } => {
            let engine = open(g, Open::Existing).await?;
            let export = subjects::export(&engine, &id, &actor(g), Utc::now()).await?;
            let text = serde_json::to_string_pretty(&export)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "exported {} events of subject {id} to {}",
                        export.events.len(),
                        path.display()
                    );
                }
                None => outln!("{text}")?,
            }
            Ok(ExitCode::SUCCESS)
        }
        SubjectsCommand::Erase { id } => {
            let engine = open(g, Open::Existing).await?;
            let r = subjects::erase(&engine, &id, &actor(g), Utc::now()).await?;
            let purposes: Vec<&str> = r.keys_destroyed.iter().map(|p| p.as_str()).collect();
            if r.already_erased {
                outln!(
                    "subject {id} was already erased; keys destroyed now: {}",
                    if purposes.is_empty() {
                        "none".to_string()
                    } else {
                        purposes.join(", ")
                    }
                )?;
            } else {
                outln!(
                "erased subject {id}: destroyed {} key(s) ({}); personal fields of {} event(s) are now unreadable; the chain is unchanged",
                purposes.len(),
                purposes.join(", "),
                r.events_affected
            )?;
            }
            if r.fingerprints_deleted > 0 {
                outln!(
                    "deleted {} dedup fingerprint(s) of subject {id}",
                    r.fingerprints_deleted
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
