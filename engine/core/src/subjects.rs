//! Data subjects: export (GDPR Art. 15/20) and erasure by crypto-shredding (Art. 17).

use chrono::{DateTime, SecondsFormat, Utc};
use leadorch_domain::subject::ErasureReason;
use leadorch_domain::{DataSubject, KeyPurpose, PersonalData, SubjectCommand};
use leadorch_store::{Metadata, Reveal};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::projection::{catch_up, Projections};
use crate::Engine;

/// Everything held about one data subject, decrypted, in log order.
#[derive(Debug, Serialize)]
pub struct SubjectExport {
    /// Format marker for machine readers.
    pub format: &'static str,
    /// The subject.
    pub subject_id: String,
    /// When the export was made (RFC 3339).
    pub exported_at: String,
    /// Whether the subject was erased on request (their personal fields are then `null`).
    pub erased: bool,
    /// Purposes for which personal data is still readable.
    pub readable_purposes: Vec<KeyPurpose>,
    /// The subject's events.
    pub events: Vec<ExportedEvent>,
}

/// One event in an export.
#[derive(Debug, Serialize)]
pub struct ExportedEvent {
    /// Global position.
    pub position: u64,
    /// Stream.
    pub stream: String,
    /// Event type.
    pub event_type: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The event, personal fields decrypted (or `null` where erased or expired).
    pub data: Value,
}

/// What an erasure did.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ErasureReport {
    /// The subject.
    pub subject_id: String,
    /// Keys destroyed now.
    pub keys_destroyed: Vec<KeyPurpose>,
    /// Events whose personal fields are now unreadable.
    pub events_affected: usize,
    /// Whether the subject had been erased before.
    pub already_erased: bool,
    /// Dedup fingerprint rows of the subject deleted now (a later lead of theirs is no
    /// longer a duplicate, nor findable by their email).
    pub fingerprints_deleted: u64,
}

/// Exports a subject and records the export request.
pub async fn export(
    engine: &Engine,
    subject_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<SubjectExport> {
    export_as(engine, subject_id, &Metadata::actor(actor), now).await
}

/// [`export`], the request recorded with `metadata` (an HTTP request's actor and trace id).
pub async fn export_as(
    engine: &Engine,
    subject_id: &str,
    metadata: &Metadata,
    now: DateTime<Utc>,
) -> Result<SubjectExport> {
    let views = catch_up(&engine.store).await?;
    let Some(doc) = views.subject_index.get(subject_id) else {
        return Err(Error::NotFound(format!(
            "no data subject {subject_id:?} in the log"
        )));
    };
    let mut events = Vec::new();
    let mut decoder = engine.store.codec.decoder(Reveal::Decrypt);
    let mut redact = engine.store.codec.decoder(Reveal::Redact);
    for stream in &doc.streams {
        for rec in engine.store.log.read_stream(stream).await? {
            // A stream may hold other subjects' data too (a team's members): their events
            // are left out, and only this subject's sealed fields are opened.
            if about_another(&mut redact, &rec, subject_id).await? {
                continue;
            }
            let data = decoder.payload_for(&rec, subject_id).await?;
            events.push(ExportedEvent {
                position: rec.position,
                stream: rec.stream_id.clone(),
                event_type: rec.event_type.clone(),
                recorded_at: rec
                    .recorded_at_utc()
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
                data,
            });
        }
    }
    events.sort_by_key(|e| e.position);
    let export = SubjectExport {
        format: "leadorch.subject-export.v1",
        subject_id: subject_id.to_string(),
        exported_at: now.to_rfc3339_opts(SecondsFormat::Micros, true),
        erased: doc.erased,
        readable_purposes: engine.store.codec.keys().purposes(subject_id).await?,
        events,
    };
    engine
        .execute::<DataSubject>(
            subject_id,
            SubjectCommand::RequestExport {
                subject_id: subject_id.to_string(),
                request_id: uuid::Uuid::now_v7().to_string(),
                at: now,
            },
            metadata,
        )
        .await?;
    Ok(export)
}

/// Whether a stored event is about another data subject than `subject_id` (a teammate's in
/// a team's stream); an event about no subject is about none other.
async fn about_another(
    redact: &mut leadorch_store::codec::Decoder<'_>,
    rec: &leadorch_store::RecordedEvent,
    subject_id: &str,
) -> Result<bool> {
    let event = crate::projection::decode(redact, rec).await?;
    Ok(event.data_subject().is_some_and(|s| s != subject_id))
}

/// Erases a subject: deletes their dedup fingerprints, destroys every key of theirs, then
/// records the erasure. Keys go before the event, so a crash in between leaves an erased
/// subject whose event a second run records; never a recorded erasure whose data is still
/// readable. Fingerprints go before the keys, so the keys' scrub (SQLite: WAL truncated) also
/// pushes the deleted fingerprint rows out of the files.
pub async fn erase(
    engine: &Engine,
    subject_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ErasureReport> {
    erase_as(engine, subject_id, &Metadata::actor(actor), now).await
}

/// [`erase`], the erasure recorded with `metadata` (an HTTP request's actor and trace id).
pub async fn erase_as(
    engine: &Engine,
    subject_id: &str,
    metadata: &Metadata,
    now: DateTime<Utc>,
) -> Result<ErasureReport> {
    let views = catch_up(&engine.store).await?;
    let Some(doc) = views.subject_index.get(subject_id) else {
        return Err(Error::NotFound(format!(
            "no data subject {subject_id:?} in the log"
        )));
    };
    let already_erased = doc.erased;
    let mut affected = 0;
    let mut redact = engine.store.codec.decoder(Reveal::Redact);
    for stream in &doc.streams {
        for rec in engine.store.log.read_stream(stream).await? {
            if leadorch_store::codec::has_sealed_fields(&rec.payload)
                && !about_another(&mut redact, &rec, subject_id).await?
            {
                affected += 1;
            }
        }
    }
    let fingerprints_deleted = engine
        .store
        .fingerprints()
        .erase_subject(subject_id)
        .await?;
    let destroyed = engine.store.codec.keys().destroy(subject_id, None).await?;
    if !already_erased {
        engine
            .execute::<DataSubject>(
                subject_id,
                SubjectCommand::Erase {
                    subject_id: subject_id.to_string(),
                    request_id: uuid::Uuid::now_v7().to_string(),
                    reason: ErasureReason::Request,
                    purposes: destroyed.clone(),
                    at: now,
                },
                metadata,
            )
            .await?;
        catch_up(&engine.store).await?;
    }
    Ok(ErasureReport {
        subject_id: subject_id.to_string(),
        keys_destroyed: destroyed,
        events_affected: affected,
        already_erased,
        fingerprints_deleted,
    })
}

/// The read models caught up, when `subject_id` (stored) is a data subject of `project`: one
/// with at least one lead, every one of them the project's (ADR 0022, 0026). `None` for any
/// other subject, which callers answer as they answer a subject that does not exist, so
/// another project's subjects cannot be told from missing ones.
pub async fn owned_by(
    engine: &Engine,
    project: &str,
    subject_id: &str,
) -> Result<Option<Projections>> {
    let views = catch_up(&engine.store).await?;
    let belongs = views.subject_index.get(subject_id).is_some_and(|doc| {
        let mut leads = doc.ids_of("lead").peekable();
        leads.peek().is_some()
            && leads.all(|id| leadorch_domain::project::unscoped(project, id).is_some())
    });
    Ok(belongs.then_some(views))
}
