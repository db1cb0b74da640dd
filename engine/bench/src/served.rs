//! The real API router served on 127.0.0.1 (a free port) in this process, with one key made
//! for the bench: what the HTTP benchmarks (`ingest`, `react`) drive.

use anyhow::{anyhow, Context, Result};
use chrono::Utc;
use leadorch_api::keys::{KeySpec, Scope};
use tokio::sync::oneshot;

/// A running API server.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bench's key (`lo_…`).
    pub key: String,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    access: leadorch_api::AccessWriter,
}

impl Served {
    /// Makes a key named `name` of `project` with `scopes`, then serves `api`'s router.
    pub async fn start(
        api: leadorch_api::Api,
        access: leadorch_api::AccessWriter,
        project: &str,
        name: &str,
        scopes: Vec<Scope>,
    ) -> Result<Served> {
        let spec = KeySpec {
            project: project.into(),
            name: name.into(),
            scopes,
            allow_ips: vec![],
        };
        let (key, _) =
            leadorch_api::keys::create(&api.keys, &spec, "bench", Utc::now().timestamp_micros())
                .await
                .map_err(|e| anyhow!("making an API key: {e}"))?;
        let addr = leadorch_api::check_listen("127.0.0.1:0", false)?;
        let (listener, bound) = leadorch_api::listen::bind(addr).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let closing = api.clone();
        let server = tokio::spawn(leadorch_api::serve(
            listener,
            leadorch_api::router(api),
            async move {
                let _ = stopped.await;
                // Event streams end at once, so the server stops at once.
                closing.close();
            },
        ));
        Ok(Served {
            base: format!("http://{bound}"),
            key: key.text.to_string(),
            stop,
            server,
            access,
        })
    }

    /// Stops the server and flushes its access log.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        self.server.await.context("the API server task failed")?;
        self.access.finish().await;
        Ok(())
    }
}
