//! The Lead Orchestrator event store: one durable, ordered, hash-chained log on SQLite or
//! PostgreSQL, with per-subject encryption of personal data, catch-up subscriptions and a
//! cqrs-es `EventStore`.
//!
//! Start with [`Store::open`]. The pieces:
//! - [`db`]: connecting, migrations, the SQL that differs between backends;
//! - [`log`]: the log's types, appends and reads; `writer` (private): the task that group-commits
//!   appends; [`head`]: the log head and its PostgreSQL `LISTEN` task; [`pages`]: bulk
//!   reading for replays; [`window`]: filtered windows and counts for an audit view;
//!   [`verify`]: chain verification (with progress and cancellation);
//! - [`tx`]: the write transaction (read models, checkpoints, subject keys);
//! - [`subscription`]: catch-up reading from a checkpoint;
//! - [`read_models`] and [`parts`]: read models as stored, and rebuilding them;
//! - [`keys`] and [`codec`]: master key, subject keys, project secrets, sealing personal
//!   fields;
//! - [`fingerprints`] and [`idempotency`]: tables beside the log for lead intake (keyed dedup
//!   fingerprints, `Idempotency-Key` records), written on a [`conn::Conn`] so that they can
//!   commit with an append;
//! - [`lease`]: one holder per database (the daemon's leadership);
//! - [`api_keys`]: the HTTP API's keys and access log (tables beside the log);
//! - [`hash`]: the chain's hash function.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api_keys;
pub mod atomic;
pub mod capacity_sources;
mod checkpoint;
pub mod codec;
pub mod conn;
pub mod cqrs;
pub mod db;
pub mod error;
mod fast;
pub mod fingerprint_index;
pub mod fingerprints;
pub mod hash;
pub mod head;
pub mod idempotency;
pub mod inline;
pub mod kept;
pub mod keys;
pub mod lease;
pub mod log;
pub mod pages;
pub mod parts;
pub mod read_models;
pub mod states;
pub mod subscription;
mod sync;
pub mod tokens;
pub mod tx;
pub mod verify;
pub mod webhooks;
pub mod window;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use api_keys::{AccessQuery, AccessRow, ApiKeys, KeyRow};
pub use atomic::{AtomicAppend, Refusal, SideRow, StreamPart};
pub use capacity_sources::{CapacitySources, SourceHealthRow};
pub use codec::{Codec, RetentionPolicy, Reveal};
pub use conn::Conn;
pub use cqrs::CqrsStore;
pub use db::{Db, Dialect, Open};
pub use error::{Result, StoreError};
pub use fingerprints::{
    ClaimOutcome, FingerprintClaim, FingerprintKind, FingerprintMatch, Fingerprints,
};
pub use head::Head;
pub use idempotency::{IdempotencyKey, IdempotencyKeys, IdempotencyRecord};
pub use keys::{Keyring, MasterKey, ProjectSecret};
pub use lease::Lease;
pub use log::{
    Appended, EventFilter, EventLog, ExpectedVersion, Metadata, NewEvent, Queued, RecordedEvent,
};
pub use pages::MappedPage;
pub use read_models::ReadModelWriter;
pub use subscription::CatchUp;
pub use tokens::TokenVault;
pub use tx::WriteTx;
pub use verify::{Verification, VerifyControl};
pub use webhooks::{
    AfterAttempt, AttemptRow, Delivery, DeliveryState, DeliverySummary, Endpoint, NewDelivery,
    Recorded, Webhooks,
};
pub use window::{Match, Visibility, Window};

/// How to open a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Where the master key file is (created when missing) unless `LEADORCH_MASTER_KEY`
    /// is set. Defaults to `master.key` beside a SQLite file, or in the data folder.
    pub master_key_file: Option<PathBuf>,
    /// Retention windows for personal data.
    pub retention: RetentionPolicy,
    /// Whether the database and the master key file may be created
    /// ([`Open::Create`], the default) or must exist.
    pub open: Open,
    /// Where else the master key may be kept (the OS keyring, where the desktop puts it:
    /// `leadorch-secrets`), asked only when `LEADORCH_MASTER_KEY` is unset, no key file was
    /// named and the default one does not exist (ADR 0045).
    pub key_lookup: Option<Arc<dyn MasterKeyLookup>>,
}

/// A place besides the key file that may hold a database's master key.
pub trait MasterKeyLookup: Send + Sync + std::fmt::Debug {
    /// The key (base64, as [`MasterKey::from_base64`] reads it) kept for `database_url`;
    /// `Ok(None)` when there is none to be had here, or why the opening must stop.
    fn master_key(
        &self,
        database_url: &str,
    ) -> std::result::Result<Option<zeroize::Zeroizing<String>>, String>;
    /// What it is, for messages ("the OS keyring").
    fn name(&self) -> &'static str;
}

impl StoreConfig {
    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>) -> StoreConfig {
        StoreConfig {
            database_url: database_url.into(),
            master_key_file: None,
            retention: RetentionPolicy::default(),
            open: Open::Create,
            key_lookup: None,
        }
    }
}

/// Where the master key file of `db` is by default: `master.key` beside a SQLite file, else
/// in the data folder.
pub fn default_master_key_file(db: &Db) -> PathBuf {
    match db.sqlite_path().and_then(|p| p.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("master.key"),
        _ => db::default_data_dir().join("master.key"),
    }
}

/// The log, its keys and its codec, opened together.
#[derive(Clone, Debug)]
pub struct Store {
    /// The event log.
    pub log: EventLog,
    /// Encoding and decoding of payloads.
    pub codec: Codec,
    /// Aggregate states kept between commands (streams without personal data).
    pub states: states::States,
    /// The [`StoreConfig::key_lookup`] the master key came from, if it did.
    key_found_in: Option<&'static str>,
}

impl Store {
    /// Connects, migrates (refusing a newer schema), loads the master key and starts the
    /// writer. With [`Open::Existing`] neither the database nor the key file is created.
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        let db = Db::connect_with(&config.database_url, config.open).await?;
        let key_file = config
            .master_key_file
            .clone()
            .unwrap_or_else(|| default_master_key_file(&db));
        let found = Self::looked_up_key(config, &key_file).and_then(|found| match found {
            Some((key, place)) => Ok((key, Some(place))),
            None => Self::key_from_file(config, &key_file).map(|key| (key, None)),
        });
        let (master, key_found_in) = match found {
            Ok(found) => found,
            Err(e) => {
                db.close().await;
                return Err(e);
            }
        };
        let mut store = Self::with_master_key(db, master, config.retention.clone()).await?;
        store.key_found_in = key_found_in;
        Ok(store)
    }

    /// Where the master key was found when not in `LEADORCH_MASTER_KEY` or a key file ("the
    /// OS keyring"), for a command to say so.
    pub fn master_key_found_in(&self) -> Option<&'static str> {
        self.key_found_in
    }

    /// `LEADORCH_MASTER_KEY` or the key file, made when missing if the store may create; a
    /// missing one names the lookup that found nothing either.
    fn key_from_file(config: &StoreConfig, key_file: &Path) -> Result<MasterKey> {
        let loaded = match config.open {
            Open::Create => return MasterKey::load(key_file),
            Open::Existing => MasterKey::load_existing(key_file),
        };
        match (loaded, &config.key_lookup) {
            (Err(StoreError::NoMasterKey { path }), Some(lookup)) => Err(StoreError::NoMasterKey {
                path: format!("{path} (nor one in {} for this database)", lookup.name()),
            }),
            (loaded, _) => loaded,
        }
    }

    /// The master key from [`StoreConfig::key_lookup`] and the lookup's name, asked only when
    /// nothing else names one: no `LEADORCH_MASTER_KEY`, no key file named, none at the
    /// default place.
    fn looked_up_key(
        config: &StoreConfig,
        key_file: &Path,
    ) -> Result<Option<(MasterKey, &'static str)>> {
        let Some(lookup) = &config.key_lookup else {
            return Ok(None);
        };
        if std::env::var_os(keys::MASTER_KEY_ENV).is_some()
            || config.master_key_file.is_some()
            || key_file.exists()
        {
            return Ok(None);
        }
        match lookup.master_key(&config.database_url) {
            Ok(Some(text)) => {
                let key = MasterKey::from_base64(&text).map_err(|e| {
                    StoreError::Crypto(format!(
                        "the master key in {} is unusable: {e}",
                        lookup.name()
                    ))
                })?;
                tracing::info!(
                    "master key: {}'s entry for this database (check {})",
                    lookup.name(),
                    key.check_value()
                );
                Ok(Some((key, lookup.name())))
            }
            Ok(None) => Ok(None),
            Err(why) => Err(StoreError::Crypto(why)),
        }
    }

    /// Opens over an already connected database with the given master key.
    pub async fn with_master_key(
        db: Db,
        master: MasterKey,
        retention: RetentionPolicy,
    ) -> Result<Store> {
        let log = EventLog::open(db.clone()).await?;
        let codec = Codec::new(Keyring::new(db, master), retention);
        Ok(Store {
            log,
            codec,
            states: states::States::default(),
            key_found_in: None,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        self.log.db()
    }

    /// Sealed OAuth refresh tokens of connected Google accounts.
    pub fn tokens(&self) -> TokenVault {
        TokenVault::new(self.codec.keys().clone())
    }

    /// Dedup fingerprints of lead intake.
    pub fn fingerprints(&self) -> Fingerprints {
        Fingerprints::new(self.db().clone())
    }

    /// `Idempotency-Key` records.
    pub fn idempotency(&self) -> IdempotencyKeys {
        IdempotencyKeys::new(self.db().clone())
    }
}
