//! `leadorch daemon`: rules evaluated on their schedules and on events, decisions applied, on
//! the simulated account or the Google Ads customers of a connected account.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::Args;
use leadorch_accounts::{self as accounts, AccountTokens};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdsAdapter, SimAdapter};
use leadorch_daemon::demo;
use leadorch_daemon::google::GoogleAdapter;
use leadorch_daemon::Daemon;
use leadorch_google::GoogleAdsClient;
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::{db, Metadata};
use tokio::task::JoinHandle;

use crate::common::{host, load_config, open, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Configuration file (TOML); LEADORCH__SECTION__KEY variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Ads platform: `sim` runs the built-in simulated account in real time beside the
    /// daemon; `google` acts on the Google Ads customers of the [google] config section with
    /// the grant stored by `leadorch google connect`
    #[arg(long, default_value = "sim")]
    pub adapter: String,
    /// Run one cycle and exit
    #[arg(long)]
    pub once: bool,
}

pub async fn run(g: &Global, args: DaemonArgs) -> Result<ExitCode> {
    if args.adapter != "sim" && args.adapter != "google" {
        bail!(
            "unknown --adapter {:?}: use `sim` (the built-in simulated account) or `google`",
            args.adapter
        );
    }
    let mut config = load_config(args.config.as_deref())?;
    let mut global = g.clone();
    if global.database_url.is_none() && !config.database_url.is_empty() {
        global.database_url = Some(config.database_url.clone());
    }
    let engine = open(&global, Open::Create).await?;
    if let Some(actor) = &g.actor {
        // --actor / LEADORCH_ACTOR names who runs this daemon, over the configuration's.
        config.actor = actor.clone();
    }
    if config.actor.is_empty() {
        config.actor = "daemon".into();
    }
    let host = Arc::new(host(None, &config)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The platform, what to call it, and (for the simulator) the world running beside it.
    let (adapter, platform, world): (Arc<dyn AdsAdapter>, String, Option<JoinHandle<()>>) =
        if args.adapter == "google" {
            let platform = format!(
                "Google Ads account {} (customers {})",
                config.google.account,
                config.google.customers.join(", ")
            );
            (google_adapter(&engine, &config).await?, platform, None)
        } else {
            // The simulated account runs in real time beside the daemon: one simulated minute
            // per minute, its leads, capacity and metrics recorded as they happen.
            let sim_config = SimConfig::demo(Utc::now(), 7);
            if config.facts.timezone == "UTC" {
                config.facts.timezone = sim_config.timezone.clone();
            }
            let calendars = leadorch_daemon::demo::shift_calendars(&sim_config);
            leadorch_daemon::demo::sim_facts(&mut config.facts, &sim_config, calendars);
            let sim = Arc::new(Mutex::new(
                Simulator::new(sim_config).map_err(|e| anyhow::anyhow!("simulator: {e}"))?,
            ));
            let world = (!args.once).then(|| sim_world(&engine, &sim, stop_rx.clone()));
            (
                Arc::new(SimAdapter::new(sim)),
                "the simulated account".to_string(),
                world,
            )
        };
    if args.once {
        let mut d = Daemon::start(engine.clone(), host, adapter, config).await?;
        let report = d.step(Utc::now()).await?;
        outln!("{}", serde_json::to_string(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    eprintln!(
        "leadorch daemon: {} with {platform}; SIGTERM or Ctrl-C stops after the current step",
        db::redact_url(
            &global
                .database_url
                .clone()
                .unwrap_or_else(db::default_database_url)
        )
    );
    let mut on_step = |r: &leadorch_daemon::StepReport| {
        for e in &r.evaluations {
            for p in &e.accepted {
                tracing::info!(evaluation = %e.id, rule = %p.rule, campaign = %p.campaign, action = p.decision.action.name(), "accepted");
            }
        }
    };
    let result = Daemon::run(engine, host, adapter, config, stop_rx, &mut on_step).await;
    if let Some(world) = world {
        world.abort();
    }
    result?;
    eprintln!("leadorch daemon: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Advances the simulated account one minute per minute and records what happens in it,
/// until `stop` fires.
fn sim_world(
    engine: &Engine,
    sim: &Arc<Mutex<Simulator>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    let engine = engine.clone();
    let sim = sim.clone();
    tokio::spawn(async move {
        let ingest = Metadata::actor("sim");
        loop {
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(60)) => {}
                _ = stop.changed() => return,
            }
            let events = match sim.lock() {
                Ok(mut s) => s.advance(1),
                Err(_) => return,
            };
            for e in events {
                if let Err(e) = demo::ingest_event(&engine, &ingest, e).await {
                    tracing::warn!(error = %e, "recording a simulator event failed");
                }
            }
        }
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The Google Ads adapter for the daemon, from `[google]`: the account's stored grant, its
/// customers; a grant Google refuses is recorded and reported at once.
async fn google_adapter(
    engine: &leadorch_core::Engine,
    config: &Config,
) -> Result<Arc<GoogleAdapter>> {
    let s = &config.google;
    if s.account.is_empty() {
        bail!("--adapter google needs [google] account in the config file (LEADORCH__GOOGLE__ACCOUNT)");
    }
    let notify: accounts::Notifier = Arc::new(|account: &str, reason: &str| {
        tracing::error!(%account, %reason, "Google refused the grant: rules for this account pause until `leadorch google connect --account` is run again");
        eprintln!("leadorch daemon: Google account {account} needs consent again ({reason}); run `leadorch google connect --account {account}`");
    });
    let tokens =
        AccountTokens::load(engine, accounts::oauth_config(s)?, &s.account, notify).await?;
    let client = GoogleAdsClient::new(accounts::ads_config(s)?, Arc::new(tokens.clone()))?;
    let (key, zone) = match &s.timezone {
        Some(z) => ("google.timezone", z),
        None => ("facts.timezone", &config.facts.timezone),
    };
    let timezone = zone.parse::<chrono_tz::Tz>().map_err(|_| {
        anyhow::anyhow!("{key}: {zone:?} is not a time zone (e.g. Europe/Amsterdam)")
    })?;
    let adapter = GoogleAdapter::new(client, &s.account, &s.customers, s.validate_only)
        .map_err(|e| anyhow::anyhow!("[google] {e}"))?
        .with_timezone(timezone)
        .with_grant(tokens);
    Ok(Arc::new(adapter))
}
