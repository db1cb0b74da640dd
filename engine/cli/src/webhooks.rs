//! `leadorch webhooks add|list|remove|deliveries|rotate-secret|enable`: the project's signed
//! webhook endpoints (ADR 0033, docs/webhooks.md). A new endpoint's secret, and a rotated one,
//! is printed once, on standard output, and never again. The leading daemon delivers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use leadorch_store::{DeliverySummary, Endpoint, Webhooks};
use leadorch_webhooks::manage::{self, ManageError};
use leadorch_webhooks::ssrf::Reach;
use serde_json::json;

use crate::common::{actor, load_config, open, print_table, Open};
use crate::Global;

/// `leadorch webhooks …`.
#[derive(Args, Debug)]
pub struct WebhooksArgs {
    #[command(subcommand)]
    pub cmd: WebhooksCommand,
}

/// Where: the configuration file and the project.
#[derive(Args, Debug, Clone)]
pub struct Where {
    /// Configuration file (its [webhooks] says which private hosts a URL may name);
    /// LEADORCH__SECTION__KEY variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// The project; overrides `project` in the config file [default: default]
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Register an endpoint: its URL and the event types it receives; its signing secret is
    /// printed once (on standard output)
    Add {
        /// Where to POST (https; plain http only to hosts [webhooks] allow_private or
        /// allow_hosts allow)
        url: String,
        /// Event types, comma-separated, or `all`: change.applied, change.failed,
        /// campaign.paused, campaign.resumed, account.reconsent_needed,
        /// account.quota_exhausted, capacity_source.failing, capacity_source.recovered,
        /// rule.failing, rule.notify
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[command(flatten)]
        at: Where,
        /// Print the endpoint and its secret as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// The project's endpoints: id, URL, event types, enabled or disabled (and why), created
    List {
        #[command(flatten)]
        at: Where,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint: its pending deliveries end, its secret is destroyed; its
    /// delivery history stays until purged (30 days)
    Remove {
        /// The endpoint's id (we_…)
        id: String,
        #[command(flatten)]
        at: Where,
    },
    /// An endpoint's deliveries, newest first: event type, state, attempts, next attempt or
    /// finish, last status or error
    Deliveries {
        /// The endpoint's id (we_…)
        id: String,
        /// At most this many
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        #[command(flatten)]
        at: Where,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Give an endpoint a new secret, printed once; the previous one keeps signing beside it
    /// until the next rotation, so receivers can switch without losing a message
    RotateSecret {
        /// The endpoint's id (we_…)
        id: String,
        #[command(flatten)]
        at: Where,
        /// Print the endpoint id and the new secret as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled endpoint again: events recorded from now on are delivered (those
    /// that ended as disabled are not sent again)
    Enable {
        /// The endpoint's id (we_…)
        id: String,
        #[command(flatten)]
        at: Where,
    },
}

fn time(micros: i64) -> String {
    leadorch_api::routes::time_text(micros)
}

fn endpoint_json(e: &Endpoint) -> serde_json::Value {
    json!({
        "endpoint_id": e.endpoint_id, "project": e.project, "url": e.url, "events": e.events,
        "enabled": e.disabled_at.is_none(),
        "disabled_at": e.disabled_at.map(time), "disabled_reason": e.disabled_reason,
        "created_at": time(e.created_at), "created_by": e.created_by,
    })
}

fn delivery_json(s: &DeliverySummary) -> serde_json::Value {
    let d = &s.delivery;
    json!({
        "delivery_id": d.delivery_id, "event_type": d.event_type, "state": d.state,
        "attempts": d.attempts, "next_attempt_at": d.next_at.map(time),
        "finished_at": d.finished_at.map(time), "created_at": time(d.created_at),
        "last_status": s.last.as_ref().and_then(|a| a.status),
        "last_error": s.last.as_ref().and_then(|a| a.error.clone()),
    })
}

/// The project and the reach the configuration gives.
fn place(at: &Where) -> Result<(String, Reach)> {
    let mut config = load_config(at.config.as_deref())?;
    if let Some(project) = &at.project {
        leadorch_domain::project::check_name(project)
            .map_err(|e| anyhow::anyhow!("--project: {e}"))?;
        config.project.clone_from(project);
    }
    let reach = Reach::new(config.webhooks.allow_private, &config.webhooks.allow_hosts)
        .map_err(|e| anyhow::anyhow!("[webhooks]: {e}"))?;
    Ok((config.project, reach))
}

fn unknown(project: &str, id: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "project {project} has no webhook endpoint {id:?}: `leadorch webhooks list{}` shows them",
        leadorch_domain::project::flag(project)
    )
}

pub async fn run(g: &Global, args: WebhooksArgs) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp_micros();
    match args.cmd {
        WebhooksCommand::Add {
            url,
            events,
            at,
            json,
        } => {
            let (project, reach) = place(&at)?;
            // Checked before the database is opened: a wrong URL creates nothing.
            manage::check_url(&url, &reach).map_err(flag_error)?;
            manage::parse_events(&events).map_err(flag_error)?;
            let engine = open(g, Open::Create).await?;
            let hooks = Webhooks::new(engine.store.codec.keys().clone());
            let (e, secret) = manage::add(&hooks, &reach, &project, &url, &events, &actor(g), now)
                .await
                .map_err(flag_error)?;
            if json {
                let mut v = endpoint_json(&e);
                v["secret"] = json!(secret.as_str());
                outln!("{v}")?;
            } else {
                outln!("{}", secret.as_str())?;
                eprintln!(
                    "leadorch webhooks: made {} for project {}, sending {} to {}; the secret above is shown only this once: give it to the receiver, which verifies each webhook's signature with it (docs/webhooks.md)",
                    e.endpoint_id,
                    e.project,
                    e.events.join(","),
                    e.url
                );
            }
        }
        WebhooksCommand::List { at, json } => {
            let (project, _) = place(&at)?;
            let engine = open(g, Open::Existing).await?;
            let hooks = Webhooks::new(engine.store.codec.keys().clone());
            let rows = hooks.list(Some(&project)).await?;
            if json {
                for e in &rows {
                    outln!("{}", endpoint_json(e))?;
                }
            } else if rows.is_empty() {
                eprintln!(
                    "no webhook endpoints in project {project}: add one with `leadorch webhooks add URL --events change.applied,campaign.paused{}`",
                    leadorch_domain::project::flag(&project)
                );
            } else {
                let table: Vec<[String; 5]> = rows
                    .iter()
                    .map(|e| {
                        [
                            e.endpoint_id.clone(),
                            e.url.clone(),
                            e.events.join(","),
                            match (&e.disabled_at, &e.disabled_reason) {
                                (None, _) => "enabled".to_string(),
                                (Some(at), reason) => format!(
                                    "disabled {} ({})",
                                    time(*at),
                                    reason.as_deref().unwrap_or("no reason recorded")
                                ),
                            },
                            time(e.created_at),
                        ]
                    })
                    .collect();
                print_table(["ID", "URL", "EVENTS", "STATE", "CREATED"], &table)?;
            }
        }
        WebhooksCommand::Remove { id, at } => {
            let (project, _) = place(&at)?;
            let engine = open(g, Open::Existing).await?;
            let hooks = Webhooks::new(engine.store.codec.keys().clone());
            if manage::find(&hooks, &project, &id).await?.is_none() {
                return Err(unknown(&project, &id));
            }
            hooks.remove(&id, now).await?;
            eprintln!(
                "leadorch webhooks: removed {id}; its pending deliveries end as disabled, its secret is destroyed, and its delivery history is kept {} days",
                Webhooks::KEPT_DAYS
            );
        }
        WebhooksCommand::Deliveries {
            id,
            limit,
            at,
            json,
        } => {
            let (project, _) = place(&at)?;
            let engine = open(g, Open::Existing).await?;
            let hooks = Webhooks::new(engine.store.codec.keys().clone());
            if manage::find(&hooks, &project, &id).await?.is_none() {
                return Err(unknown(&project, &id));
            }
            let rows = hooks.history(&id, limit).await?;
            if json {
                for s in &rows {
                    outln!("{}", delivery_json(s))?;
                }
            } else if rows.is_empty() {
                eprintln!("no deliveries to {id} yet (only events recorded after it was added are sent to it)");
            } else {
                let dash = |s: Option<String>| s.unwrap_or_else(|| "-".into());
                let table: Vec<[String; 6]> = rows
                    .iter()
                    .map(|s| {
                        let d = &s.delivery;
                        let when = match (d.next_at, d.finished_at) {
                            (Some(next), _) => format!("next {}", time(next)),
                            (None, Some(done)) => time(done),
                            (None, None) => "-".into(),
                        };
                        let last = s.last.as_ref().map(|a| match (a.status, &a.error) {
                            (Some(status), _) => status.to_string(),
                            (None, Some(e)) => e.clone(),
                            (None, None) => "-".into(),
                        });
                        [
                            d.delivery_id.clone(),
                            d.event_type.clone(),
                            d.state.as_str().to_string(),
                            d.attempts.to_string(),
                            when,
                            dash(last),
                        ]
                    })
                    .collect();
                print_table(
                    [
                        "DELIVERY",
                        "EVENT",
                        "STATE",
                        "ATTEMPTS",
                        "NEXT / FINISHED",
                        "LAST",
                    ],
                    &table,
                )?;
            }
        }
        WebhooksCommand::RotateSecret { id, at, json } => {
            let (project, _) = place(&at)?;
            let engine = open(g, Open::Existing).await?;
            let hooks = Webhooks::new(engine.store.codec.keys().clone());
            let Some(secret) = manage::rotate(&hooks, &project, &id, now).await? else {
                return Err(unknown(&project, &id));
            };
            if json {
                outln!("{}", json!({"endpoint_id": id, "secret": secret.as_str()}))?;
            } else {
                outln!("{}", secret.as_str())?;
                eprintln!(
                    "leadorch webhooks: {id} has a new secret, shown above only this once; webhooks are signed with it and with the previous one until the next rotation, so give it to the receiver now"
                );
            }
        }
        WebhooksCommand::Enable { id, at } => {
            let (project, _) = place(&at)?;
            let engine = open(g, Open::Existing).await?;
            let hooks = Webhooks::new(engine.store.codec.keys().clone());
            if manage::find(&hooks, &project, &id).await?.is_none() {
                return Err(unknown(&project, &id));
            }
            if hooks.enable(&id).await? {
                eprintln!("leadorch webhooks: enabled {id}; events recorded from now on are delivered to it");
            } else {
                eprintln!("leadorch webhooks: {id} is enabled already");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A registration error as the flag it concerns says it (`URL: …`, `--events: …`).
fn flag_error(e: ManageError) -> anyhow::Error {
    match e {
        ManageError::Invalid { field, problem } => {
            let flag = if field == "url" { "URL" } else { "--events" };
            anyhow::anyhow!("{flag}: {problem}")
        }
        ManageError::Store(e) => e.into(),
    }
}
