//! `leadorch subjects export|erase`: a data subject's data (GDPR Art. 15/20) and its erasure
//! (Art. 17). `--project NAME` names another project's subject by the id that project's API
//! gives (bare); without it, the default project's (ADR 0030).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use leadorch_core::subjects;

use crate::common::{actor, open, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct SubjectsArgs {
    /// The project whose data subject this is (its id as that project's API gives it); another
    /// project's subject is not found
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub project: String,
    #[command(subcommand)]
    pub cmd: SubjectsCommand,
}

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

/// The stored id of `project`'s subject `id`, when it is one (the API's rule: a subject
/// with leads, every one of them the project's).
async fn stored(engine: &leadorch_core::Engine, project: &str, id: &str) -> Result<String> {
    leadorch_domain::project::check_name(project).map_err(|e| anyhow::anyhow!("--project: {e}"))?;
    let stored = leadorch_domain::project::scoped(project, id);
    if subjects::owned_by(engine, project, &stored)
        .await?
        .is_none()
    {
        anyhow::bail!(
            "no data subject {id:?} in project {project} (a subject's id is in its leads: `leadorch events list --stream lead:LEAD_ID --json`, or POST /v1/subjects/lookup)"
        );
    }
    Ok(stored)
}

pub async fn run(g: &Global, args: SubjectsArgs) -> Result<ExitCode> {
    let project = args.project;
    match args.cmd {
        SubjectsCommand::Export { id, output } => {
            let engine = open(g, Open::Existing).await?;
            let stored = stored(&engine, &project, &id).await?;
            let export = subjects::export(&engine, &stored, &actor(g), Utc::now()).await?;
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
            let stored = stored(&engine, &project, &id).await?;
            let r = subjects::erase(&engine, &stored, &actor(g), Utc::now()).await?;
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
