//! `leadorch serve --listen ADDR`: the HTTP API alone, no rules acting (ADR 0022). Today it
//! answers `GET /healthz` and problem details for everything else; the endpoints that need an
//! API key come with the keys.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use leadorch_api::listen::{bind, DEFAULT_LISTEN};

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

pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let addr = leadorch_api::check_listen(&args.listen, args.allow_plain_http)?;
    let (listener, bound) = bind(addr).await?;
    eprintln!(
        "leadorch serve: listening on http://{bound} (GET /healthz); SIGTERM or Ctrl-C stops"
    );
    leadorch_api::serve(listener, crate::common::shutdown_signal()).await?;
    eprintln!("leadorch serve: stopped");
    Ok(ExitCode::SUCCESS)
}
