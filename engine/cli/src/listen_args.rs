//! Where a command serves the HTTP API, and how: `--listen`, `--allow-plain-http`,
//! `--tls-cert`, `--tls-key` (flattened into `serve`, later into `daemon`), and turning them
//! into a bound listener and the TLS configuration, or a one-line error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use leadorch_api::listen::{bind, DEFAULT_LISTEN};
use leadorch_api::tls::ServerConfig;
use tokio::net::TcpListener;

/// The HTTP API's listening flags.
#[derive(Args, Debug, Clone)]
pub struct ListenArgs {
    /// Address to listen on (IP:PORT); port 0 picks a free port, and the address bound is
    /// printed. Any address other than loopback needs TLS (--tls-cert, --tls-key) or
    /// --allow-plain-http (behind a TLS proxy)
    #[arg(long, env = "LEADORCH_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Listen on a non-loopback address over plain HTTP (only behind a proxy that terminates
    /// TLS: requests carry personal data)
    #[arg(long, conflicts_with = "tls_cert")]
    pub allow_plain_http: bool,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate first, then any
    /// intermediates); needs --tls-key
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM, unencrypted: PKCS#8, PKCS#1 or SEC1); needs
    /// --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Also serve the operators' app in a browser, at / on the same address: DIR is the front
    /// end's build (desktop/dist, made by `npm run build` in desktop/). Its pages need no key;
    /// the browser signs in with an API key to read and act
    #[arg(long, value_name = "DIR", env = "LEADORCH_UI")]
    pub ui: Option<PathBuf>,
}

/// A bound listener, ready for [`leadorch_api::serve_with`].
pub struct Listening {
    /// The listener.
    pub listener: TcpListener,
    /// The address bound (port 0 resolved).
    pub bound: SocketAddr,
    /// The TLS configuration, when serving HTTPS.
    pub tls: Option<Arc<ServerConfig>>,
    /// The browser build to serve at `/`, when asked (`--ui`).
    pub ui: Option<leadorch_api::ui::Ui>,
}

impl Listening {
    /// `https://ADDR` or `http://ADDR`, for the startup line.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.bound)
    }
}

impl ListenArgs {
    /// Checks the address (loopback, or TLS, or --allow-plain-http), reads the certificate
    /// and key (before binding, so a bad file leaves no port open), then binds.
    pub async fn open(&self) -> Result<Listening> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                anyhow::bail!("--tls-cert needs --tls-key (the certificate's private key)")
            }
            (None, Some(_)) => {
                anyhow::bail!("--tls-key needs --tls-cert (the certificate it belongs to)")
            }
        };
        let addr =
            leadorch_api::check_listen(&self.listen, self.allow_plain_http || tls.is_some())?;
        let tls = match tls {
            Some((cert, key)) => Some(leadorch_api::load_tls(cert, key)?),
            None => None,
        };
        let ui = match &self.ui {
            Some(dir) => Some(leadorch_api::ui::Ui::load(dir)?),
            None => None,
        };
        let (listener, bound) = bind(addr).await?;
        Ok(Listening {
            listener,
            bound,
            tls,
            ui,
        })
    }
}
