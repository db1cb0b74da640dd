//! cqrs-es's `EventStore` over this log, so commands run through `CqrsFramework`.
//!
//! An aggregate's events live in the stream `"<Aggregate::TYPE>:<id>"`. Loading decrypts
//! personal fields (erased ones come back as `None`) and runs the domain's upcasters;
//! committing seals personal fields and appends with the loaded version as the expected
//! version, so two commands racing on one aggregate cannot both win.

use std::collections::HashMap;
use std::marker::PhantomData;

use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use leadorch_domain::personal::PersonalData;

use crate::codec::Reveal;
use crate::error::StoreError;
use crate::log::{ExpectedVersion, Metadata, RecordedEvent};
use crate::Store;

/// Metadata keys understood by [`CqrsStore::commit`]; others are ignored.
pub mod meta {
    /// Who acts.
    pub const ACTOR: &str = "actor";
    /// Correlation id (UUID).
    pub const CORRELATION_ID: &str = "correlation_id";
    /// Causation id (UUID).
    pub const CAUSATION_ID: &str = "causation_id";
    /// Trace id.
    pub const TRACE_ID: &str = "trace_id";
}

/// A cqrs-es event store for aggregate `A`.
pub struct CqrsStore<A> {
    store: Store,
    _a: PhantomData<fn() -> A>,
}

impl<A> Clone for CqrsStore<A> {
    fn clone(&self) -> Self {
        CqrsStore {
            store: self.store.clone(),
            _a: PhantomData,
        }
    }
}

impl<A> CqrsStore<A> {
    /// Over `store`.
    pub fn new(store: Store) -> Self {
        CqrsStore {
            store,
            _a: PhantomData,
        }
    }
}

/// The loaded aggregate and the stream version it was loaded at.
pub struct Loaded<A> {
    aggregate: A,
    id: String,
    version: u64,
}

impl<A: Aggregate> AggregateContext<A> for Loaded<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

impl<A> Loaded<A> {
    /// The stream version the aggregate was loaded at.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// The waits before each re-send of a command's events while the database is away: five,
/// 100 ms doubling to 1 s, each lengthened by up to as much again at random (2.5 to 5 s in
/// all), so a request is answered soon either way and a database that restarts in a second
/// or two fails no command.
fn resend_waits() -> impl Iterator<Item = std::time::Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(100))
        .with_max_delay(std::time::Duration::from_secs(1))
        .with_max_times(5)
        .with_jitter()
        .build()
}

/// Sends an append again (the same events, the same ids) after each of [`resend_waits`]
/// while it fails with the database away: were the first ones committed with the
/// acknowledgement lost, the writer finds their ids and answers with their positions instead
/// of writing them twice (ADR 0028). Once the waits run out the error goes to the caller,
/// and the outcome stays unknown to it.
pub async fn resend_while_away<T, F, Fut>(mut send: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut waits = resend_waits();
    loop {
        match send().await {
            Err(e) if e.is_unavailable() => match waits.next() {
                Some(wait) => {
                    tracing::debug!(error = %e, ?wait, "database away; sending the append again");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

fn to_aggregate_error<E: std::error::Error>(e: StoreError) -> AggregateError<E> {
    match e {
        StoreError::Conflict { .. } => AggregateError::AggregateConflict,
        StoreError::Decode { .. } => AggregateError::DeserializationError(Box::new(e)),
        StoreError::Database(_) | StoreError::Connect { .. } | StoreError::WriterStopped => {
            AggregateError::DatabaseConnectionError(Box::new(e))
        }
        other => AggregateError::UnexpectedError(Box::new(other)),
    }
}

/// Metadata as cqrs-es carries it (the keys in [`meta`]).
pub fn metadata_map(m: &Metadata) -> HashMap<String, String> {
    let mut map = HashMap::new();
    map.insert(meta::ACTOR.to_string(), m.actor.clone());
    if let Some(c) = m.correlation_id {
        map.insert(meta::CORRELATION_ID.to_string(), c.to_string());
    }
    if let Some(c) = m.causation_id {
        map.insert(meta::CAUSATION_ID.to_string(), c.to_string());
    }
    if let Some(t) = &m.trace_id {
        map.insert(meta::TRACE_ID.to_string(), t.clone());
    }
    map
}

fn metadata_from_map(map: &HashMap<String, String>) -> Metadata {
    Metadata {
        actor: map
            .get(meta::ACTOR)
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        correlation_id: map.get(meta::CORRELATION_ID).and_then(|s| s.parse().ok()),
        causation_id: map.get(meta::CAUSATION_ID).and_then(|s| s.parse().ok()),
        trace_id: map.get(meta::TRACE_ID).cloned(),
    }
}

impl<A> CqrsStore<A>
where
    A: Aggregate,
{
    async fn decode(
        &self,
        id: &str,
        records: Vec<RecordedEvent>,
    ) -> Result<Vec<EventEnvelope<A>>, StoreError> {
        let mut decoder = self.store.codec.decoder(Reveal::Decrypt);
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let value = decoder.payload(&r).await?;
            let (_, value) =
                leadorch_domain::upcast::upcast(A::TYPE, &r.event_type, &r.schema_version, value);
            let payload: A::Event =
                serde_json::from_value(value).map_err(|e| StoreError::Decode {
                    position: r.position,
                    reason: format!("{} does not match its schema: {e}", r.event_type),
                })?;
            out.push(EventEnvelope {
                aggregate_id: id.to_string(),
                sequence: r.stream_version as usize,
                payload,
                metadata: metadata_map(&r.metadata()),
            });
        }
        Ok(out)
    }
}

impl<A> EventStore<A> for CqrsStore<A>
where
    A: Aggregate + Clone + 'static,
    A::Event: PersonalData,
{
    type AC = Loaded<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let stream = leadorch_domain::stream_id(A::TYPE, aggregate_id);
        let records = self
            .store
            .log
            .read_stream(&stream)
            .await
            .map_err(to_aggregate_error)?;
        self.decode(aggregate_id, records)
            .await
            .map_err(to_aggregate_error)
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Loaded<A>, AggregateError<A::Error>> {
        // From the state kept after the last command on this stream, if any: only the events
        // since are read (crate::states).
        let stream = leadorch_domain::stream_id(A::TYPE, aggregate_id);
        let (mut aggregate, from) = self.store.states.start::<A>(&stream);
        let records = self
            .store
            .log
            .read_stream_after(&stream, from)
            .await
            .map_err(to_aggregate_error)?;
        let events = self
            .decode(aggregate_id, records)
            .await
            .map_err(to_aggregate_error)?;
        let version = events.last().map_or(from, |e| e.sequence as u64);
        let mut personal = false;
        for e in events {
            personal |= !e.payload.personal_fields().is_empty();
            aggregate.apply(e.payload);
        }
        self.store
            .states
            .keep(&stream, &aggregate, version, personal);
        Ok(Loaded {
            aggregate,
            id: aggregate_id.to_string(),
            version,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Loaded<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let meta = metadata_from_map(&metadata);
        let now = chrono::Utc::now();
        let mut stored = Vec::with_capacity(events.len());
        for e in &events {
            stored.push(
                self.store
                    .codec
                    .encode(e, &meta, now)
                    .await
                    .map_err(to_aggregate_error)?,
            );
        }
        let stream = leadorch_domain::stream_id(A::TYPE, &context.id);
        // The database being away: the same events (the same ids) are sent again after a
        // short wait. Were the first ones committed with the acknowledgement lost, the writer
        // finds their ids and answers with their positions instead of writing them twice
        // (ADR 0028). Once the waits run out the error goes to the caller, and the outcome
        // stays unknown to it.
        resend_while_away(|| {
            self.store.log.append(
                &stream,
                ExpectedVersion::Exact(context.version),
                stored.clone(),
            )
        })
        .await
        .map_err(to_aggregate_error)?;
        Ok(events
            .into_iter()
            .enumerate()
            .map(|(i, payload)| EventEnvelope {
                aggregate_id: context.id.clone(),
                sequence: context.version as usize + i + 1,
                payload,
                metadata: metadata_map(&meta),
            })
            .collect())
    }
}
