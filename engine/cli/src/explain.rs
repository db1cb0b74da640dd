//! `leadorch explain CAMPAIGN [--at TIME]`: why a campaign is in its current state.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use leadorch_evaluate::explain as explain_mod;

use crate::common::{open, parse_time, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Campaign id (customer/campaign) or exact name
    pub campaign: String,
    /// As of this time (RFC 3339) instead of now
    #[arg(long)]
    pub at: Option<String>,
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

pub async fn run(g: &Global, args: ExplainArgs) -> Result<ExitCode> {
    let engine = open(g, Open::Existing).await?;
    let at = args.at.as_deref().map(parse_time).transpose()?;
    let id = explain_mod::resolve_campaign(&engine, &args.campaign).await?;
    let x = explain_mod::explain(&engine, &id, at).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&x)?)?;
    } else {
        outln!("{}", explain_mod::render(&x).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
