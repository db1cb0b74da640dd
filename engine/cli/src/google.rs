//! `leadorch google connect|revoke|forget|list`: Google accounts and their grants.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use anyhow::Result;
use chrono::Utc;
use clap::{Args, Subcommand};
use leadorch_accounts::{self as accounts, PendingConsent, Revoked};
use leadorch_config::{Config, GoogleSettings};

use crate::common::{actor, open, Open};
use crate::Global;

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
    /// Connected accounts and their state
    List {
        /// One JSON object per account
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
    fn into_name(self) -> String {
        // clap's group makes exactly one of them present.
        self.flag.or(self.positional).unwrap_or_default()
    }
}

fn settings(config: Option<&std::path::Path>) -> Result<GoogleSettings> {
    Ok(Config::load(config, std::env::vars())?.google)
}

pub async fn run(g: &Global, cmd: GoogleCommand) -> Result<ExitCode> {
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
            let account = account.into_name();
            let s = settings(config.as_deref())?;
            // A bad name is refused here, before the browser opens.
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
                connected.account,
                connected.customers.len(),
                connected.customers.join(", ")
            )?;
        }
        GoogleCommand::Revoke { account, config } => {
            let account = account.into_name();
            let oauth = accounts::oauth_config(&settings(config.as_deref())?)?;
            let outcome = accounts::revoke(&engine, &oauth, &account, &who, Utc::now()).await?;
            let how = match outcome {
                Revoked::AtGoogle => "revoked at Google",
                Revoked::AlreadyEnded => "Google had already ended the grant",
                Revoked::NoToken => "no token was stored",
            };
            outln!("revoked {account}: {how}; stored tokens deleted")?;
        }
        GoogleCommand::Forget { account, config } => {
            let account = account.into_name();
            let oauth = accounts::oauth_config(&settings(config.as_deref())?)?;
            accounts::forget(&engine, &oauth, &account, &who, Utc::now()).await?;
            outln!("forgot {account}: grant revoked, tokens deleted, account keys destroyed")?;
        }
        GoogleCommand::List { json } => {
            for a in accounts::list(&engine).await? {
                if json {
                    outln!("{}", serde_json::to_string(&a)?)?;
                } else {
                    outln!(
                        "{:<24} {:<17} {}",
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
