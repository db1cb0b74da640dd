//! Retention: personal data whose window ran out is crypto-shredded like an erasure, one
//! purpose at a time (contact details after 30 days, fingerprints after 90, by default).

use chrono::{DateTime, Utc};
use leadorch_domain::subject::ErasureReason;
use leadorch_domain::{DataSubject, KeyPurpose, SubjectCommand};
use leadorch_store::Metadata;
use serde::Serialize;

use crate::error::Result;
use crate::Engine;

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
