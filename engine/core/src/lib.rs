//! The Lead Orchestrator engine: commands through cqrs-es over the event store, read models
//! and replay, data-subject export and erasure, retention, and synthetic history.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod projection;
pub mod retention;
pub mod seed;
pub mod subjects;
pub mod synthetic;
pub mod time_travel;

use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use leadorch_domain::PersonalData;
use leadorch_store::cqrs::metadata_map;
use leadorch_store::{CqrsStore, Metadata, Store, StoreConfig, StoreError};

pub use error::{Error, Result};

/// The dedup fingerprint of a lead: hex SHA-256 of the trimmed, lower-cased email, a zero
/// byte, and the phone number's digits. One-way: it identifies repeats, not people.
pub fn fingerprint(email: &str, phone: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(email.trim().to_lowercase().as_bytes());
    h.update([0]);
    h.update(
        phone
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .as_bytes(),
    );
    hex::encode(h.finalize())
}

/// How many times a command is re-decided on fresh state after losing a race.
const CONFLICT_RETRIES: usize = 5;

/// The store plus command execution.
#[derive(Clone, Debug)]
pub struct Engine {
    /// The event store.
    pub store: Store,
}

impl Engine {
    /// Opens the store described by `config`.
    pub async fn open(config: &StoreConfig) -> Result<Engine> {
        Ok(Engine {
            store: Store::open(config).await?,
        })
    }

    /// Runs `command` against aggregate `A` with id `id` through cqrs-es's `CqrsFramework`.
    /// When another writer changed the aggregate in between, the command is decided again on
    /// the new state (a few times) instead of failing.
    pub async fn execute<A>(&self, id: &str, command: A::Command, metadata: &Metadata) -> Result<()>
    where
        A: Aggregate + Clone + 'static,
        A::Event: PersonalData,
        A::Command: Clone,
        A::Services: Default,
    {
        let cqrs = CqrsFramework::new(
            CqrsStore::<A>::new(self.store.clone()),
            vec![],
            A::Services::default(),
        );
        let map = metadata_map(metadata);
        let mut attempt = 0;
        loop {
            match cqrs
                .execute_with_metadata(id, command.clone(), map.clone())
                .await
            {
                Ok(()) => return Ok(()),
                Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                }
                Err(AggregateError::UserError(e)) => {
                    return Err(Error::Rejected {
                        aggregate: A::TYPE,
                        id: id.to_string(),
                        message: e.to_string(),
                    })
                }
                Err(AggregateError::AggregateConflict) => {
                    return Err(Error::Internal(format!(
                        "{} {id} kept changing under the command; try again",
                        A::TYPE
                    )))
                }
                // The store's own error (a full disk, a damaged file, a lost connection)
                // says what to do: pass it on as it is.
                Err(
                    AggregateError::UnexpectedError(e)
                    | AggregateError::DatabaseConnectionError(e)
                    | AggregateError::DeserializationError(e),
                ) => return Err(from_store_side(e)),
            }
        }
    }

    /// Aggregate `A` with id `id` as a command on it would see it now (default when it does
    /// not exist): the state kept after the last command, for streams without personal data
    /// ([`leadorch_store::states`]), and the events since; else the whole stream.
    pub async fn current<A>(&self, id: &str) -> Result<A>
    where
        A: Aggregate + Clone + 'static,
        A::Event: PersonalData,
    {
        use cqrs_es::{AggregateContext, EventStore};
        match CqrsStore::<A>::new(self.store.clone())
            .load_aggregate(id)
            .await
        {
            Ok(mut loaded) => Ok(loaded.aggregate().clone()),
            Err(
                AggregateError::UnexpectedError(e)
                | AggregateError::DatabaseConnectionError(e)
                | AggregateError::DeserializationError(e),
            ) => Err(from_store_side(e)),
            Err(other) => Err(Error::Internal(other.to_string())),
        }
    }

    /// An aggregate's state folded from its stream (default when it does not exist), personal
    /// fields redacted; `pick` takes the aggregate's events out of
    /// [`leadorch_domain::AnyEvent`].
    pub async fn load_state<A: Aggregate + Default>(
        &self,
        id: &str,
        pick: impl Fn(leadorch_domain::AnyEvent) -> Option<A::Event>,
    ) -> Result<A> {
        let mut state = A::default();
        let mut decoder = self.store.codec.decoder(leadorch_store::Reveal::Redact);
        for rec in self
            .store
            .log
            .read_stream(&leadorch_domain::stream_id(A::TYPE, id))
            .await?
        {
            if let Some(e) = pick(projection::decode(&mut decoder, &rec).await?) {
                state.apply(e);
            }
        }
        Ok(state)
    }
}

/// The store's own error inside a cqrs-es error, as it is; anything else as an internal one.
fn from_store_side(e: Box<dyn std::error::Error + Send + Sync + 'static>) -> Error {
    match e.downcast::<StoreError>() {
        Ok(store) => Error::Store(*store),
        Err(e) => Error::Internal(e.to_string()),
    }
}
