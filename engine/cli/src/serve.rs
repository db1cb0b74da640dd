//! `leadorch serve --listen ADDR [--tls-cert PEM --tls-key PEM]`: the HTTP API alone, no rules
//! acting (ADR 0022). Today it answers `GET /healthz` and problem details for everything else;
//! the endpoints that need an API key come with the keys.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::listen_args::ListenArgs;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
}

pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let listening = args.listen.open().await?;
    eprintln!(
        "leadorch serve: listening on {} (GET /healthz); SIGTERM or Ctrl-C stops",
        listening.url()
    );
    leadorch_api::serve_with(
        listening.listener,
        leadorch_api::router(),
        listening.tls,
        crate::common::shutdown_signal(),
    )
    .await;
    eprintln!("leadorch serve: stopped");
    Ok(ExitCode::SUCCESS)
}
