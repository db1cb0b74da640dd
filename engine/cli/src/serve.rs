//! `leadorch serve --listen ADDR [--tls-cert PEM --tls-key PEM]`: the HTTP API alone, no rules
//! acting (ADR 0022). Every endpoint but `GET /healthz` needs an API key
//! (`leadorch keys create`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use leadorch_api::Api;
use leadorch_store::ApiKeys;

use crate::common::{open, Open};
use crate::listen_args::ListenArgs;
use crate::Global;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Configuration file (TOML): [intake] (phone region, dedup window, disposable domains,
    /// consent, form → team) and facts.default_team / facts.campaign_teams route leads;
    /// LEADORCH__SECTION__KEY variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

pub async fn run(g: &Global, args: ServeArgs) -> Result<ExitCode> {
    // Flags and certificate first: a mistake there is named before the database is opened.
    let listening = args.listen.open().await?;
    let config = crate::common::load_config(args.config.as_deref())?;
    let settings = crate::common::api_settings(&config)?;
    let mut g = g.clone();
    if g.database_url.is_none() && !config.database_url.is_empty() {
        g.database_url = Some(config.database_url.clone());
    }
    let engine = open(&g, Open::Create).await?;
    eprintln!(
        "leadorch serve: listening on {} ({}); SIGTERM or Ctrl-C stops",
        listening.url(),
        engine.store.db().describe()
    );
    if listening.ui.is_some() {
        eprintln!("leadorch serve: the operators' app at {}/", listening.url());
    }
    warn_without_keys(&engine, leadorch_domain::project::DEFAULT).await?;
    let (api, access) = Api::with_settings(engine.clone(), settings);
    let closing = api.clone();
    leadorch_api::serve_with(
        listening.listener,
        leadorch_api::router_with_ui(api, listening.ui),
        listening.tls,
        async move {
            crate::common::shutdown_signal().await;
            closing.close();
        },
    )
    .await;
    access.finish().await;
    eprintln!("leadorch serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// One line when `project` (the default one for `serve`, the daemon's own for a daemon) has no
/// working key: every request of its systems would be refused.
pub async fn warn_without_keys(engine: &leadorch_core::Engine, project: &str) -> Result<()> {
    let keys = ApiKeys::new(engine.store.db().clone());
    if keys.list(project, false).await?.is_empty() {
        let flag = leadorch_domain::project::flag(project);
        eprintln!(
            "leadorch: warning: project {project} has no working API key, so every request but GET /healthz is refused: make one with `leadorch keys create{flag} --name NAME --scopes ingest,capacity,read`"
        );
    }
    Ok(())
}
