//! Synthetic databases (ADR 0018): the marker `WorldSimulated` that `leadorch demo`,
//! `leadorch seed` and the first `leadorch daemon --adapter sim` write before anything else,
//! and the check the simulator makes before it writes into a database.
//!
//! A database may be simulated into when it carries the marker and nothing in it came from
//! the real world: no Google account was ever connected, and every lead, consent and capacity
//! reading was recorded by a simulator (actor `sim` or `seed`). A database that holds nothing
//! but rules (`leadorch rules save` before a first `daemon --adapter sim`) may still be marked.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use leadorch_domain::world::{WorldEvent, SIMULATED};
use leadorch_domain::{
    split_stream_id, stream_id, AnyEvent, CapacitySnapshot, Consent, Lead, Rule, World,
    WorldCommand,
};
use leadorch_store::{Metadata, Reveal};

use crate::error::{Error, Result};
use crate::projection::Projections;
use crate::Engine;

/// The actors that record a simulated world's leads, consents and capacity: the simulator
/// beside `demo` and `daemon --adapter sim` (`sim`) and `leadorch seed` (`seed`).
pub const SIMULATOR_ACTORS: &[&str] = &["sim", "seed"];

/// What to do instead, said by every refusal.
const SANDBOX: &str = "for a simulated sandbox run `leadorch demo --db NEW.db` (or `leadorch seed` or `leadorch daemon --adapter sim` on a new database)";

/// The marker of a simulated database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulated {
    /// What wrote it (`demo`, `seed`, `daemon`).
    pub by: String,
    /// The simulator's seed.
    pub seed: u64,
    /// Its log position.
    pub position: u64,
    /// When.
    pub at: DateTime<Utc>,
}

/// The marker, if the database carries one.
pub async fn marker(engine: &Engine) -> Result<Option<Simulated>> {
    let stream = stream_id(World::TYPE, SIMULATED);
    let mut decoder = engine.store.codec.decoder(Reveal::Redact);
    for rec in engine.store.log.read_stream(&stream).await? {
        let event = crate::projection::decode(&mut decoder, &rec).await?;
        if let AnyEvent::World(WorldEvent::WorldSimulated { by, seed, at }) = event {
            return Ok(Some(Simulated {
                by,
                seed,
                position: rec.position,
                at,
            }));
        }
    }
    Ok(None)
}

/// Marks the database simulated (by `by`, with `seed`). Refuses a database that already
/// holds anything but rules, so the marker always comes before every simulated event.
pub async fn mark(engine: &Engine, by: &str, seed: u64, at: DateTime<Utc>) -> Result<Simulated> {
    if let Some(found) = marker(engine).await? {
        return Err(Error::Invalid(format!(
            "this database is already marked simulated (by {} at position {})",
            found.by, found.position
        )));
    }
    if let Some(stream) = first_world_stream(engine).await? {
        return Err(Error::Invalid(format!(
            "this database already records a world that is not marked simulated (stream {stream}): the simulator writes only into a new database; {SANDBOX}"
        )));
    }
    engine
        .execute::<World>(
            SIMULATED,
            WorldCommand::MarkSimulated {
                by: by.to_string(),
                seed,
                at,
            },
            &Metadata::actor(by),
        )
        .await?;
    marker(engine)
        .await?
        .ok_or_else(|| Error::Internal("the simulated-world marker was not recorded".into()))
}

/// The marker of a database the simulator may write into: marks a database that holds no
/// world yet, else requires the marker and a world only simulators wrote ([`refusal`]).
pub async fn mark_or_check(
    engine: &Engine,
    by: &str,
    seed: u64,
    at: DateTime<Utc>,
) -> Result<Simulated> {
    if marker(engine).await?.is_none() && first_world_stream(engine).await?.is_none() {
        return mark(engine, by, seed, at).await;
    }
    // What `refusal` reads: the Google accounts and who recorded what.
    let views = crate::projection::current(&engine.store, &["google_accounts", "audit"]).await?;
    check(engine, &views).await
}

/// The marker, when the simulator may write into the database whose read models are `views`;
/// otherwise why not, and what to do, in one line.
pub async fn check(engine: &Engine, views: &Projections) -> Result<Simulated> {
    let found = marker(engine).await?;
    match refusal(found.as_ref(), views) {
        Some(why) => Err(Error::Invalid(why)),
        None => found.ok_or_else(|| Error::Internal("checked without a marker".into())),
    }
}

/// Why the simulator may not write into a database with `marker` and read models `views`
/// (`None`: it may).
pub fn refusal(marker: Option<&Simulated>, views: &Projections) -> Option<String> {
    if marker.is_none() {
        return Some(format!(
            "this database is not marked simulated (no WorldSimulated event): the simulator never writes into a database that may hold real data; {SANDBOX}"
        ));
    }
    if let Some((account, _)) = views.google_accounts.iter().next() {
        return Some(format!(
            "this database holds Google account {account:?}: a database with a Google grant is real, and the simulator never writes into it; use `--adapter google`, or {SANDBOX}"
        ));
    }
    let real = [
        (Lead::TYPE, "leads"),
        (Consent::TYPE, "consents"),
        (CapacitySnapshot::TYPE, "capacity readings"),
    ];
    for (_, doc) in views.audit.iter() {
        if SIMULATOR_ACTORS.contains(&doc.actor.as_str()) {
            continue;
        }
        for event_type in doc.by_type.keys() {
            for (aggregate, what) in real {
                let of_aggregate = leadorch_domain::event_types(aggregate)
                    .is_some_and(|types| types.iter().any(|(t, _)| *t == event_type.as_str()));
                if of_aggregate {
                    return Some(format!(
                        "this database holds {what} recorded by {:?} (first at position {}), not by the simulator: the simulator never writes into a database with real data; {SANDBOX}",
                        doc.actor, doc.first_position
                    ));
                }
            }
        }
    }
    None
}

/// The first stream of the log that records a world (anything but rules and the marker).
async fn first_world_stream(engine: &Engine) -> Result<Option<String>> {
    let mut after = 0;
    loop {
        let page = engine.store.log.read_after(after, 1_000).await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        after = last.position;
        for rec in &page {
            let kind = split_stream_id(&rec.stream_id).map(|(t, _)| t);
            if kind != Some(Rule::TYPE) && kind != Some(World::TYPE) {
                return Ok(Some(rec.stream_id.clone()));
            }
        }
    }
}
