//! `leadorch keys create|list|revoke` (the HTTP API's keys) and `leadorch access-log` (who
//! called the API). A new key is printed once, on standard output, and never again.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use leadorch_api::keys::{self as api_keys, parse_scopes, CreateError, KeySpec};
use leadorch_store::{AccessQuery, ApiKeys, KeyRow};
use serde_json::json;

use crate::common::{actor, open, parse_time, print_table, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make an API key; it is printed once (on standard output) and stored only as a hash
    Create {
        /// A name for it, unique among the project's working keys (e.g. hubspot-prod)
        #[arg(long)]
        name: String,
        /// What it may do: any of ingest, capacity, read, rules, admin, comma-separated
        #[arg(long)]
        scopes: String,
        /// Only from this address or network (CIDR); repeat for several [default: anywhere]
        #[arg(long = "allow-ip", value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// The project the key belongs to
        #[arg(long, default_value = "default")]
        project: String,
        /// Print the key and its details as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// The project's keys (never their text)
    List {
        /// The project
        #[arg(long, default_value = "default")]
        project: String,
        /// Revoked keys too
        #[arg(long)]
        all: bool,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id (key_…) or name: it stops working at once
    Revoke {
        /// Its id or name
        key: String,
        /// The project
        #[arg(long, default_value = "default")]
        project: String,
    },
}

/// `leadorch access-log`.
#[derive(Args, Debug)]
pub struct AccessLogArgs {
    /// The project
    #[arg(long, default_value = "default")]
    pub project: String,
    /// Only this key's requests (its id)
    #[arg(long)]
    pub key: Option<String>,
    /// Only requests at or after this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many, newest first
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
}

fn when(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn key_json(k: &KeyRow) -> serde_json::Value {
    json!({
        "key_id": k.key_id, "project": k.project, "name": k.name, "prefix": k.prefix,
        "scopes": k.scopes, "allow_ips": k.allow_ips,
        "created_at": leadorch_api::routes::time_text(k.created_at),
        "created_by": k.created_by,
        "revoked_at": k.revoked_at.map(leadorch_api::routes::time_text),
    })
}

fn check_project(project: &str) -> Result<()> {
    api_keys::check_project(project).map_err(|e| anyhow::anyhow!("--project: {e}"))
}

pub async fn run(g: &Global, cmd: KeysCommand) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp_micros();
    match cmd {
        KeysCommand::Create {
            name,
            scopes,
            allow_ip,
            project,
            json,
        } => {
            check_project(&project)?;
            let scopes = parse_scopes(&scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
            let engine = open(g, Open::Create).await?;
            let keys = ApiKeys::new(engine.store.db().clone());
            let spec = KeySpec {
                project,
                name,
                scopes,
                allow_ips: allow_ip,
            };
            let (key, row) = match api_keys::create(&keys, &spec, &actor(g), now).await {
                Ok(made) => made,
                Err(CreateError::Invalid { field, problem }) => {
                    let flag = match field.split('[').next().unwrap_or("") {
                        "allow_ips" => "--allow-ip",
                        "scopes" => "--scopes",
                        "project" => "--project",
                        _ => "--name",
                    };
                    bail!("{flag}: {problem}")
                }
                Err(CreateError::Store(e)) => return Err(e.into()),
            };
            if json {
                let mut v = key_json(&row);
                v["key"] = json!(key.text.as_str());
                outln!("{v}")?;
            } else {
                outln!("{}", key.text.as_str())?;
                eprintln!(
                    "leadorch keys: made {} ({}) for project {} with scopes {}{}; the key above is shown only this once",
                    row.key_id,
                    row.name,
                    row.project,
                    row.scopes.join(","),
                    if row.allow_ips.is_empty() {
                        String::new()
                    } else {
                        format!(", from {}", row.allow_ips.join(" "))
                    }
                );
            }
        }
        KeysCommand::List { project, all, json } => {
            check_project(&project)?;
            let engine = open(g, Open::Existing).await?;
            let keys = ApiKeys::new(engine.store.db().clone());
            let rows = keys.list(&project, all).await?;
            if json {
                for k in &rows {
                    outln!("{}", key_json(k))?;
                }
            } else if rows.is_empty() {
                eprintln!(
                    "no {}keys in project {project}: make one with `leadorch keys create --name NAME --scopes ingest,capacity`",
                    if all { "" } else { "working " }
                );
            } else {
                let table: Vec<[String; 7]> = rows
                    .iter()
                    .map(|k| {
                        [
                            k.key_id.clone(),
                            k.name.clone(),
                            format!("{}…", k.prefix),
                            k.scopes.join(","),
                            if k.allow_ips.is_empty() {
                                "anywhere".to_string()
                            } else {
                                k.allow_ips.join(" ")
                            },
                            when(k.created_at),
                            k.revoked_at.map(when).unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_table(
                    [
                        "ID",
                        "NAME",
                        "KEY",
                        "SCOPES",
                        "FROM",
                        "CREATED (UTC)",
                        "REVOKED",
                    ],
                    &table,
                )?;
            }
        }
        KeysCommand::Revoke { key, project } => {
            check_project(&project)?;
            let engine = open(g, Open::Existing).await?;
            let keys = ApiKeys::new(engine.store.db().clone());
            match keys.revoke(&project, &key, now).await? {
                Some(row) => eprintln!(
                    "leadorch keys: revoked {} ({}); requests with it are refused from now on",
                    row.key_id, row.name
                ),
                None => bail!(
                    "project {project} has no working key {key:?}: `leadorch keys list --project {project}` shows them"
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn access_log(g: &Global, args: AccessLogArgs) -> Result<ExitCode> {
    check_project(&args.project)?;
    let since = match &args.since {
        Some(s) => Some(parse_time(s)?.timestamp_micros()),
        None => None,
    };
    let engine = open(g, Open::Existing).await?;
    let keys = ApiKeys::new(engine.store.db().clone());
    let rows = keys
        .access_log(&AccessQuery {
            project: Some(args.project.clone()),
            key_id: args.key.clone(),
            since,
            before_id: None,
            limit: args.limit,
        })
        .await?;
    if args.json {
        for (id, r) in &rows {
            outln!(
                "{}",
                json!({"id": id, "key_id": r.key_id, "method": r.method, "route": r.route,
                       "status": r.status, "ip": r.ip,
                       "at": leadorch_api::routes::time_text(r.at), "millis": r.millis})
            )?;
        }
    } else if rows.is_empty() {
        eprintln!(
            "no API requests recorded in project {} (rows are kept 90 days)",
            args.project
        );
    } else {
        let table: Vec<[String; 6]> = rows
            .iter()
            .map(|(_, r)| {
                [
                    when(r.at),
                    r.key_id.clone(),
                    format!("{} {}", r.method, r.route),
                    r.status.to_string(),
                    r.ip.clone(),
                    format!("{} ms", r.millis),
                ]
            })
            .collect();
        print_table(
            ["AT (UTC)", "KEY", "REQUEST", "STATUS", "FROM", "TOOK"],
            &table,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
