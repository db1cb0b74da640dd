//! `leadorch seed`: a realistic synthetic history written through the engine.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::Args;
use leadorch_core::seed::{seed, SeedOptions};

use crate::common::{open, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// How many events to write
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Random seed; the same seed writes the same history
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub async fn run(g: &Global, args: SeedArgs) -> Result<ExitCode> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let engine = open(g, Open::Create).await?;
    let started = Instant::now();
    let report = seed(
        &engine,
        &SeedOptions {
            events: args.events,
            seed: args.seed,
            end: Utc::now(),
        },
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    if report.continued_from > 0 {
        outln!(
            "continuing the seeded history after position {}",
            report.continued_from
        )?;
    }
    outln!(
        "seeded {} events in {secs:.1} s ({:.0} events/s): {} leads (+{} duplicates), {} consents, {} capacity snapshots, {} campaign changes, {} manual changes, {} erasures; simulated {} to {}",
        report.events,
        report.events as f64 / secs.max(1e-9),
        report.leads,
        report.duplicates,
        report.consents,
        report.capacity_snapshots,
        report.campaign_changes,
        report.manual_changes,
        report.erasures,
        report.from,
        report.to
    )?;
    Ok(ExitCode::SUCCESS)
}
