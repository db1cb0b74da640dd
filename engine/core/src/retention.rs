//! Retention: personal data whose window ran out is crypto-shredded like an erasure, one
//! purpose at a time (contact details after 30 days, fingerprints after 90, by default), and
//! the rows beside the log that outlived their window are deleted: dedup fingerprints past
//! their dedup window, `Idempotency-Key` records older than [`IDEMPOTENCY_KEPT`], webhook
//! deliveries that finished more than 30 days ago.

use chrono::{DateTime, Utc};
use leadorch_domain::subject::ErasureReason;
use leadorch_domain::{DataSubject, KeyPurpose, SubjectCommand};
use leadorch_store::Metadata;
use serde::Serialize;

use crate::error::Result;
use crate::Engine;

/// How long an `Idempotency-Key` record is kept: 24 hours, as Stripe keeps them (ADR 0022
/// decision 8: at least that).
pub const IDEMPOTENCY_KEPT: chrono::Duration = chrono::Duration::hours(24);

/// Rows beside the log that retention deletes.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SideRows {
    /// Dedup fingerprints past their window.
    pub fingerprints: u64,
    /// `Idempotency-Key` records older than `kept`.
    pub idempotency_keys: u64,
    /// Webhook deliveries (and their attempts) that finished more than
    /// [`leadorch_store::Webhooks::KEPT_DAYS`] days ago.
    pub webhook_deliveries: u64,
}

/// The rows beside the log that [`purge`] at `now` would delete, with nothing deleted:
/// fingerprints expired at `now`, idempotency records older than `kept`.
pub async fn purge_due(
    engine: &Engine,
    now: DateTime<Utc>,
    kept: chrono::Duration,
) -> Result<SideRows> {
    let cutoff = cutoff(now, kept);
    Ok(SideRows {
        fingerprints: engine
            .store
            .fingerprints()
            .count_expired(now.timestamp_micros())
            .await?,
        idempotency_keys: engine.store.idempotency().count_older_than(cutoff).await?,
        webhook_deliveries: webhooks(engine)
            .count_purgeable(webhook_cutoff(now))
            .await?,
    })
}

/// Deletes the fingerprints expired at `now` and the idempotency records older than `kept`.
/// Nothing is recorded in the log: these rows were never part of it.
pub async fn purge(
    engine: &Engine,
    now: DateTime<Utc>,
    kept: chrono::Duration,
) -> Result<SideRows> {
    let cutoff = cutoff(now, kept);
    Ok(SideRows {
        fingerprints: engine
            .store
            .fingerprints()
            .purge_expired(now.timestamp_micros())
            .await?,
        idempotency_keys: engine.store.idempotency().purge_older_than(cutoff).await?,
        webhook_deliveries: webhooks(engine).purge(webhook_cutoff(now)).await?,
    })
}

fn webhooks(engine: &Engine) -> leadorch_store::Webhooks {
    leadorch_store::Webhooks::new(engine.store.codec.keys().clone())
}

fn webhook_cutoff(now: DateTime<Utc>) -> i64 {
    cutoff(
        now,
        chrono::Duration::days(leadorch_store::Webhooks::KEPT_DAYS),
    )
}

fn cutoff(now: DateTime<Utc>, kept: chrono::Duration) -> i64 {
    now.checked_sub_signed(kept)
        .map_or(i64::MIN, |t| t.timestamp_micros())
}

/// One key that expired.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Expired {
    /// Subject.
    pub subject_id: String,
    /// Purpose.
    pub purpose: KeyPurpose,
}

/// The keys whose retention deadline is at or before `now`: what [`enforce`] at `now` would
/// destroy, with nothing destroyed or recorded.
pub async fn due(engine: &Engine, now: DateTime<Utc>) -> Result<Vec<Expired>> {
    Ok(engine
        .store
        .codec
        .keys()
        .expired(now.timestamp_micros())
        .await?
        .into_iter()
        .map(|(subject_id, purpose)| Expired {
            subject_id,
            purpose,
        })
        .collect())
}

/// Destroys every key whose retention deadline is at or before `now` and records a
/// `RetentionExpired` event for each.
pub async fn enforce(engine: &Engine, now: DateTime<Utc>, actor: &str) -> Result<Vec<Expired>> {
    let keys = engine.store.codec.keys();
    let mut done = Vec::new();
    for Expired {
        subject_id,
        purpose,
    } in due(engine, now).await?
    {
        let destroyed = keys.destroy(&subject_id, Some(&[purpose])).await?;
        if destroyed.is_empty() {
            continue; // another process got there first
        }
        engine
            .execute::<DataSubject>(
                &subject_id,
                SubjectCommand::Erase {
                    subject_id: subject_id.clone(),
                    request_id: uuid::Uuid::now_v7().to_string(),
                    reason: ErasureReason::RetentionExpired { purpose },
                    purposes: destroyed,
                    at: now,
                },
                &Metadata::actor(actor),
            )
            .await?;
        done.push(Expired {
            subject_id,
            purpose,
        });
    }
    Ok(done)
}
