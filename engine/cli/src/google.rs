//! `leadorch google [--project NAME] connect|revoke|forget|list`: Google accounts and their
//! grants. An account belongs to a project (ADR 0030): `--account ops` with `--project acme`
//! is stored as `acme/ops`; the default project's `ops` stays `ops`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use anyhow::{anyhow, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use leadorch_accounts::{self as accounts, PendingConsent, Revoked};
use leadorch_config::{Config, GoogleSettings};
use leadorch_domain::project;

use crate::common::{actor, open, Open};
use crate::Global;

/// `leadorch google [--project NAME] …`.
#[derive(Args, Debug)]
pub struct GoogleArgs {
    /// The project whose accounts these are: another project's account names are kept apart
    /// from the default project's (stored as NAME/account)
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub project: String,
    #[command(subcommand)]
    pub cmd: GoogleCommand,
}

#[derive(Subcommand, Debug)]
pub enum GoogleCommand {
    /// Connect a Google account: opens Google's consent page (scope adwords, PKCE and state),
    /// receives the grant on a loopback redirect, stores the refresh token sealed and records
    /// the consent with the customers it reaches
    Connect {
        #[command(flatten)]
        account: AccountName,
        /// Loopback port for Google's redirect [default: any free port]
        #[arg(long)]
        port: Option<u16>,
        /// Print the consent page's address instead of opening the browser
        #[arg(long)]
        no_browser: bool,
        /// Give up when the consent has not come back after this many seconds
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
        /// Configuration file ([google] client id and endpoints)
        #[arg(long, env = "LEADORCH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Revoke the account's grant at Google and delete its stored tokens
    Revoke {
        #[command(flatten)]
        account: AccountName,
        /// Configuration file ([google] client id and endpoints)
        #[arg(long, env = "LEADORCH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Delete all Google user data held for the account: revoke if still connected, delete
    /// the tokens, destroy the account's keys (its email and tokens become unreadable) and
    /// record the deletion
    Forget {
        #[command(flatten)]
        account: AccountName,
        /// Configuration file ([google] client id and endpoints)
        #[arg(long, env = "LEADORCH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// The project's connected accounts and their state (with Google's daily quota hold
    /// while it is in force)
    List {
        /// One JSON object per account (`quota_exhausted_until`: the last recorded hold, past
        /// once over)
        #[arg(long)]
        json: bool,
    },
}

/// The account a `google` command acts on: `--account NAME`, or NAME alone (the form
/// `google revoke NAME`, kept working as an alias of the flag); one of the two, not both.
#[derive(Args, Debug)]
#[group(id = "account_name", required = true, multiple = false)]
pub struct AccountName {
    /// The account's name (letters, digits, . _ @ + -), as in the daemon's [google] account
    #[arg(long = "account", value_name = "ACCOUNT")]
    flag: Option<String>,
    /// Same as --account ACCOUNT
    #[arg(value_name = "ACCOUNT")]
    positional: Option<String>,
}

impl AccountName {
    /// The stored name of the account in `project`, the name checked (it holds no project).
    fn stored_in(self, project: &str) -> Result<String> {
        // clap's group makes exactly one of them present.
        let name = self.flag.or(self.positional).unwrap_or_default();
        if let Err(e) = accounts::check_bare_name(&name) {
            return Err(match name.split_once('/') {
                Some((p, n)) => anyhow!(
                    "{e} (another project's account is named with --project: --project {p} --account {n})"
                ),
                None => e.into(),
            });
        }
        Ok(project::scoped(project, &name))
    }
}

fn settings(config: Option<&std::path::Path>) -> Result<GoogleSettings> {
    Ok(Config::load(config, std::env::vars())?.google)
}

pub async fn run(g: &Global, args: GoogleArgs) -> Result<ExitCode> {
    let GoogleArgs { project, cmd } = args;
    project::check_name(&project).map_err(|e| anyhow!("--project: {e}"))?;
    // Connecting an account may start a new database; the others need one that exists.
    let mode = match cmd {
        GoogleCommand::Connect { .. } => Open::Create,
        _ => Open::Existing,
    };
    let engine = open(g, mode).await?;
    let who = actor(g);
    match cmd {
        GoogleCommand::Connect {
            account,
            port,
            no_browser,
            timeout_secs,
            config,
        } => {
            // A bad name is refused here, before the browser opens.
            let account = account.stored_in(&project)?;
            let s = settings(config.as_deref())?;
            let consent = PendingConsent::start(&s, &account, port)?;
            let url = consent.consent_page().to_string();
            eprintln!("consent page: {url}");
            if !no_browser && webbrowser::open(&url).is_err() {
                eprintln!("could not open a browser: open the address above yourself");
            }
            eprintln!(
                "waiting up to {timeout_secs} s for Google's answer on {}",
                consent.redirect_uri()
            );
            let connected = consent
                .finish(&engine, StdDuration::from_secs(timeout_secs), &who)
                .await?;
            outln!(
                "connected {}: {} customer(s) {}",
                project::bare(&project, &connected.account),
                connected.customers.len(),
                connected.customers.join(", ")
            )?;
        }
        GoogleCommand::Revoke { account, config } => {
            let account = account.stored_in(&project)?;
            let oauth = accounts::oauth_config(&settings(config.as_deref())?)?;
            let outcome = accounts::revoke(&engine, &oauth, &account, &who, Utc::now()).await?;
            let account = project::bare(&project, &account);
            let how = match outcome {
                Revoked::AtGoogle => "revoked at Google",
                Revoked::AlreadyEnded => "Google had already ended the grant",
                Revoked::NoToken => "no token was stored",
            };
            outln!("revoked {account}: {how}; stored tokens deleted")?;
        }
        GoogleCommand::Forget { account, config } => {
            let account = account.stored_in(&project)?;
            let oauth = accounts::oauth_config(&settings(config.as_deref())?)?;
            accounts::forget(&engine, &oauth, &account, &who, Utc::now()).await?;
            let account = project::bare(&project, &account);
            outln!("forgot {account}: grant revoked, tokens deleted, account keys destroyed")?;
        }
        GoogleCommand::List { json } => {
            let now = Utc::now();
            for a in accounts::list_in(&engine, &project).await? {
                if json {
                    outln!("{}", serde_json::to_string(&a)?)?;
                } else {
                    // Google's quota hold, while it is in force.
                    let held = match a.quota_exhausted_until.filter(|u| *u > now) {
                        Some(until) => format!(
                            "  quota exhausted until {}",
                            until.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                        None => String::new(),
                    };
                    outln!(
                        "{:<24} {:<17} {}{held}",
                        a.account,
                        a.status,
                        a.customers.join(",")
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
