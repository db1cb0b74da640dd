//! The seed's writer: runs commands on in-memory aggregates, queues their events per tick and
//! appends them to the log in command order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use leadorch_domain::{stream_id, PersonalData};
use leadorch_store::codec::Pending;
use leadorch_store::{ExpectedVersion, Metadata, NewEvent};
use rand::rngs::StdRng;
use rand::Rng;

use super::SeedReport;
use crate::error::{Error, Result};
use crate::Engine;

/// One tick's events, grouped by stream (a stream appears once, in command order).
#[derive(Default)]
struct Batch {
    order: Vec<String>,
    by_stream: HashMap<String, Vec<Pending>>,
    count: u64,
}

/// The simulation's writer, its random numbers and its report.
pub(super) struct Sim<'a> {
    pub(super) engine: &'a Engine,
    pub(super) rng: StdRng,
    batch: Batch,
    pub(super) versions: HashMap<String, u64>,
    meta: Metadata,
    limit: u64,
    pub(super) written: u64,
    pub(super) report: SeedReport,
    /// A dry run: commands are decided and counted, nothing is sealed, stored or destroyed
    /// (how far a history runs, before writing it).
    pub(super) dry: bool,
}

impl<'a> Sim<'a> {
    /// A writer that stops at `limit` events.
    pub(super) fn new(engine: &'a Engine, rng: StdRng, limit: u64, report: SeedReport) -> Self {
        Sim {
            engine,
            rng,
            batch: Batch::default(),
            versions: HashMap::new(),
            meta: Metadata::actor("seed"),
            limit,
            written: 0,
            report,
            dry: false,
        }
    }

    /// A writer that decides and counts up to `limit` events and stores nothing.
    pub(super) fn dry(engine: &'a Engine, rng: StdRng, limit: u64) -> Self {
        Sim {
            dry: true,
            ..Sim::new(engine, rng, limit, SeedReport::default())
        }
    }

    /// Whether another event fits under the limit (counting the queued ones).
    pub(super) fn has_room(&self) -> bool {
        self.written + self.batch.count < self.limit
    }

    /// Events queued and not yet appended.
    pub(super) fn queued(&self) -> u64 {
        self.batch.count
    }

    /// Runs a command on an in-memory aggregate and queues its events.
    pub(super) async fn run<A>(
        &mut self,
        agg: &mut A,
        id: &str,
        cmd: A::Command,
        at: DateTime<Utc>,
    ) -> Result<bool>
    where
        A: Aggregate<Services = ()>,
        A::Event: PersonalData,
    {
        if self.written + self.batch.count >= self.limit {
            return Ok(false);
        }
        let sink = EventSink::default();
        agg.handle(cmd, &(), &sink)
            .await
            .map_err(|e| Error::Rejected {
                aggregate: A::TYPE,
                id: id.to_string(),
                message: e.to_string(),
            })?;
        let events = sink.collect().await;
        let stream = stream_id(A::TYPE, id);
        for e in &events {
            if self.written + self.batch.count >= self.limit {
                break;
            }
            let stored = Pending::of(e, at)?;
            let entry = self
                .batch
                .by_stream
                .entry(stream.clone())
                .or_insert_with(|| {
                    self.batch.order.push(stream.clone());
                    Vec::new()
                });
            entry.push(stored);
            self.batch.count += 1;
        }
        Ok(!events.is_empty())
    }

    /// Appends the tick's events, streams in parallel (one group commit takes many).
    pub(super) async fn flush(&mut self) -> Result<()> {
        let mut batch = std::mem::take(&mut self.batch);
        if self.dry {
            self.written += batch.count;
            return Ok(());
        }
        // Seal every event of the batch with one key transaction.
        let mut flat = Vec::with_capacity(batch.count as usize);
        let mut sizes = Vec::with_capacity(batch.order.len());
        for stream in &batch.order {
            let events = batch.by_stream.remove(stream).unwrap_or_default();
            sizes.push(events.len());
            flat.extend(events);
        }
        let mut sealed = self
            .engine
            .store
            .codec
            .encode_many(flat, &self.meta)
            .await?
            .into_iter();
        let mut per_stream: Vec<(String, Vec<NewEvent>)> = Vec::with_capacity(sizes.len());
        for (stream, n) in batch.order.into_iter().zip(sizes) {
            per_stream.push((stream, sealed.by_ref().take(n).collect()));
        }
        // Streams go to the writer one after another, so they take positions in command
        // order and the same seed writes the same log; the writer still commits many at once.
        let log = &self.engine.store.log;
        let mut queued = Vec::with_capacity(per_stream.len());
        for (stream, events) in per_stream {
            let expected = ExpectedVersion::Exact(self.versions.get(&stream).copied().unwrap_or(0));
            let q = log.enqueue(&stream, expected, events).await?;
            queued.push((stream, q));
        }
        for (stream, q) in queued {
            let appended = q.outcome().await?;
            self.report.head = self.report.head.max(appended.last_position);
            self.versions.insert(stream, appended.stream_version);
        }
        self.written += batch.count;
        Ok(())
    }

    /// A random UUID from the seeded generator.
    pub(super) fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.gen())
            .into_uuid()
            .to_string()
    }
}
