//! `leadorch init`: creates the database (or brings an existing one to this build's schema)
//! and the master key when missing, and says what it created. Commands that only read never
//! create a database named by `--database-url`; this is how one is made.

use std::process::ExitCode;

use anyhow::{Context, Result};
use leadorch_store::keys::MASTER_KEY_ENV;
use leadorch_store::{db, default_master_key_file, Db, Open, StoreError};

use crate::common::{open, store_config};
use crate::Global;

pub async fn run(g: &Global) -> Result<ExitCode> {
    let config = store_config(g);
    let url = &config.database_url;
    let shown = db::redact_url(url);
    let existed = match Db::connect_with(url, Open::Existing).await {
        Ok(existing) => {
            existing.close().await;
            true
        }
        Err(StoreError::NoDatabase { .. }) => false,
        Err(e) => return Err(e).with_context(|| format!("opening the database {shown}")),
    };
    let created = Db::connect(url)
        .await
        .with_context(|| format!("creating the database {shown}"))?;
    let version = created.applied_schema_version().await?;
    let key_file = config
        .master_key_file
        .clone()
        .unwrap_or_else(|| default_master_key_file(&created));
    created.close().await;
    let key_from_env = std::env::var_os(MASTER_KEY_ENV).is_some();
    let key_existed = key_file.exists();
    let engine = open(g, Open::Create).await?;
    let key_found_in = engine.store.master_key_found_in();
    engine.store.db().close().await;

    if existed {
        outln!("database {shown} exists (schema version {version})")?;
    } else {
        outln!("created database {shown} (schema version {version})")?;
    }
    if key_from_env {
        outln!("master key from {MASTER_KEY_ENV}")?;
    } else if let Some(place) = key_found_in {
        outln!("master key from {place} (the desktop's entry for this database)")?;
    } else if key_existed {
        outln!("master key {} exists", key_file.display())?;
    } else {
        outln!(
            "created master key {} (keep a copy apart from the database: without it the \
             personal data in the log cannot be read)",
            key_file.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
