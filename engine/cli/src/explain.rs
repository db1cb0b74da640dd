//! `leadorch explain CAMPAIGN [--as-of TIME|POSITION] [--known-at TIME]`: why a campaign is in
//! its state, now or as of an earlier point (docs/time-travel.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use leadorch_evaluate::explain as explain_mod;

use crate::common::{as_of, load_config, open, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Campaign id (customer/campaign) or exact name
    pub campaign: String,
    /// As of this event time (RFC 3339 or a date: from the events that had happened by then)
    /// or log position (digits), instead of everything in the log
    #[arg(long, visible_alias = "at", value_name = "TIME|POSITION")]
    pub as_of: Option<String>,
    /// Only what the log held at this recorded time (RFC 3339 or a date): events written by
    /// then; with --as-of, both apply
    #[arg(long, value_name = "TIME")]
    pub known_at: Option<String>,
    /// JSON output (times in UTC)
    #[arg(long)]
    pub json: bool,
    /// Configuration file; its facts.timezone (the account's time zone) is the zone times
    /// are shown in [default: UTC]
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// The project whose campaign to explain (a campaign belongs to the project of the Google
    /// account it is read through)
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub project: String,
}

pub async fn run(g: &Global, args: ExplainArgs) -> Result<ExitCode> {
    leadorch_domain::project::check_name(&args.project)
        .map_err(|e| anyhow::anyhow!("--project: {e}"))?;
    let config = load_config(args.config.as_deref())?;
    // Checked when the configuration loaded.
    let zone: chrono_tz::Tz = config.facts.timezone.parse().unwrap_or(chrono_tz::UTC);
    let engine = open(g, Open::Existing).await?;
    let view = as_of(&engine, args.as_of.as_deref(), args.known_at.as_deref()).await?;
    let id = explain_mod::resolve_campaign(&engine, &args.project, &args.campaign).await?;
    let x = explain_mod::explain_as_of(&engine, &id, &view).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&x)?)?;
    } else {
        outln!("{}", explain_mod::render(&x, zone).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
