//! `leadorch explain CAMPAIGN [--at TIME]`: why a campaign is in its current state.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use leadorch_evaluate::explain as explain_mod;

use crate::common::{load_config, open, parse_time, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Campaign id (customer/campaign) or exact name
    pub campaign: String,
    /// As of this time (RFC 3339) instead of now
    #[arg(long)]
    pub at: Option<String>,
    /// JSON output (times in UTC)
    #[arg(long)]
    pub json: bool,
    /// Configuration file; its facts.timezone (the account's time zone) is the zone times
    /// are shown in [default: UTC]
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn run(g: &Global, args: ExplainArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    // Checked when the configuration loaded.
    let zone: chrono_tz::Tz = config.facts.timezone.parse().unwrap_or(chrono_tz::UTC);
    let engine = open(g, Open::Existing).await?;
    let at = args.at.as_deref().map(parse_time).transpose()?;
    let id = explain_mod::resolve_campaign(&engine, &args.campaign).await?;
    let x = explain_mod::explain(&engine, &id, at).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&x)?)?;
    } else {
        outln!("{}", explain_mod::render(&x, zone).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
