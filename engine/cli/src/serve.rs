//! `leadorch serve --listen ADDR`: the HTTP API alone, no rules acting (ADR 0022). Every
//! endpoint but `GET /healthz` needs an API key (`leadorch keys create`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use leadorch_api::listen::{bind, DEFAULT_LISTEN};
use leadorch_api::Api;
use leadorch_store::ApiKeys;

use crate::common::{open, Open};
use crate::Global;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (IP:PORT); port 0 picks a free port, and the address bound is
    /// printed. Any address other than loopback needs --allow-plain-http (behind a TLS proxy)
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Listen on a non-loopback address over plain HTTP (only behind a proxy that terminates
    /// TLS: requests carry personal data)
    #[arg(long)]
    pub allow_plain_http: bool,
}

pub async fn run(g: &Global, args: ServeArgs) -> Result<ExitCode> {
    let addr = leadorch_api::check_listen(&args.listen, args.allow_plain_http)?;
    let engine = open(g, Open::Create).await?;
    let keys = ApiKeys::new(engine.store.db().clone());
    let (listener, bound) = bind(addr).await?;
    eprintln!(
        "leadorch serve: listening on http://{bound} ({}); SIGTERM or Ctrl-C stops",
        engine.store.db().describe()
    );
    if keys.list("default", false).await?.is_empty() {
        eprintln!(
            "leadorch serve: warning: project default has no working API key, so every request but GET /healthz is refused: make one with `leadorch keys create --name NAME --scopes ingest,capacity,read`"
        );
    }
    let (api, access) = Api::new(engine.clone());
    leadorch_api::serve(
        listener,
        leadorch_api::router(api),
        crate::common::shutdown_signal(),
    )
    .await?;
    access.finish().await;
    eprintln!("leadorch serve: stopped");
    Ok(ExitCode::SUCCESS)
}
