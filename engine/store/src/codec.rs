//! Turning domain events into stored bytes and back, encrypting personal fields on the way in.
//!
//! A personal field (declared by the event through [`PersonalData`]) is replaced in the stored
//! JSON by a sealed object `{"$enc": "<base64 nonce‖ciphertext>", "s": subject, "p": purpose,
//! "k": key id}`. The key id tells a field sealed by a key that was destroyed (and a new one
//! made for the same subject and purpose since, e.g. a Google account connected again after
//! it was forgotten) from a tampered one: the first reads as `null`, the second is an error.
//! Fields sealed before key ids existed have none and are opened as before.
//! The ciphertext is bound to the event id, the field's JSON pointer and the purpose, so it
//! cannot be moved to another event or field. Reading back either decrypts it
//! ([`Reveal::Decrypt`]) or replaces it with `null` ([`Reveal::Redact`], what read models
//! use); once the key is destroyed, decrypting also yields `null`.

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine as _;
use cqrs_es::DomainEvent;
use leadorch_domain::personal::{KeyPurpose, PersonalData};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::atomic::{SideRow, SubjectKeyRow};
use crate::error::{Result, StoreError};
use crate::keys::{DataKey, Keyring};
use crate::log::{Metadata, NewEvent, RecordedEvent};

const ENC: &str = "$enc";

/// How long each kind of personal data is kept after the subject's last activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Lead payloads (contact details, free text). Default 30 days.
    #[serde(with = "days")]
    pub contact: Option<Duration>,
    /// Dedup fingerprints. Default 90 days.
    #[serde(with = "days")]
    pub fingerprint: Option<Duration>,
    /// Consent evidence. Default 5 years (TCPA's limitation period is 4).
    #[serde(with = "days")]
    pub consent: Option<Duration>,
    /// Google account identity. Default: until the account is forgotten.
    #[serde(with = "days")]
    pub account: Option<Duration>,
    /// Google Ads data read through an account (campaign snapshots, metrics, facts).
    /// Default: until the account is forgotten.
    #[serde(default, with = "days")]
    pub google_ads: Option<Duration>,
    /// Team members' display names (employees). Default: until the member is erased.
    #[serde(default, with = "days")]
    pub staff: Option<Duration>,
}

const DAY: u64 = 86_400;

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            contact: Some(Duration::from_secs(30 * DAY)),
            fingerprint: Some(Duration::from_secs(90 * DAY)),
            consent: Some(Duration::from_secs(5 * 365 * DAY)),
            account: None,
            google_ads: None,
            staff: None,
        }
    }
}

impl RetentionPolicy {
    /// The window for one purpose (`None`: until erased).
    pub fn window(&self, purpose: KeyPurpose) -> Option<Duration> {
        match purpose {
            KeyPurpose::Contact => self.contact,
            KeyPurpose::Fingerprint => self.fingerprint,
            KeyPurpose::Consent => self.consent,
            KeyPurpose::Account => self.account,
            KeyPurpose::GoogleAds => self.google_ads,
            KeyPurpose::Staff => self.staff,
        }
    }
}

mod days {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_secs() / super::DAY)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(|n| Duration::from_secs(n * super::DAY)))
    }
}

/// An event serialized but not yet sealed: what [`Codec::encode_many`] takes.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The serialized event (externally tagged).
    pub payload: Value,
    /// Event type.
    pub event_type: String,
    /// Schema version.
    pub schema_version: String,
    /// Whose keys seal the personal fields.
    pub subject: Option<String>,
    /// The personal fields.
    pub fields: &'static [leadorch_domain::personal::PersonalField],
    /// When it happened: retention windows run from here.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Pending {
    /// Serializes a domain event; checks that every declared personal field exists and that
    /// an event with personal fields names its subject. Retention windows run from the
    /// event's own `at` (every domain event carries one, as RFC 3339), else from `fallback`.
    pub fn of<E: DomainEvent + PersonalData>(
        event: &E,
        fallback: chrono::DateTime<chrono::Utc>,
    ) -> Result<Pending> {
        let payload = serde_json::to_value(event)
            .map_err(|e| StoreError::InvalidAppend(format!("event cannot be serialized: {e}")))?;
        let at = occurred_at(&payload).unwrap_or(fallback);
        Pending::new(
            payload,
            event.event_type(),
            event.event_version(),
            event,
            at,
        )
    }

    /// Like [`Pending::of`] for an already serialized payload.
    pub fn new(
        payload: Value,
        event_type: String,
        schema_version: String,
        personal: &dyn PersonalData,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Pending> {
        let fields = personal.personal_fields();
        let subject = personal.data_subject().map(str::to_string);
        if !fields.is_empty() && subject.is_none() {
            return Err(StoreError::InvalidAppend(format!(
                "{event_type} has personal fields but names no data subject"
            )));
        }
        for f in fields {
            // A pointer with `*` segments names every element of an array (maybe none): the
            // array itself must be there.
            let base = f.pointer.split("/*").next().unwrap_or(f.pointer);
            if payload.pointer(base).is_none() {
                return Err(StoreError::InvalidAppend(format!(
                    "personal field {} is missing from {event_type}",
                    f.pointer
                )));
            }
        }
        Ok(Pending {
            payload,
            event_type,
            schema_version,
            subject,
            fields,
            at,
        })
    }
}

/// The `at` of an externally tagged event (`{"Variant": {"at": "…", …}}`).
fn occurred_at(payload: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let inner = payload.as_object()?.values().next()?;
    let at = inner.get("at")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// What to do with personal fields when reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Decrypt them (they are `null` when the key is gone).
    Decrypt,
    /// Replace them with `null` without touching keys.
    Redact,
}

/// Encodes and decodes event payloads.
#[derive(Clone, Debug)]
pub struct Codec {
    keys: Keyring,
    retention: RetentionPolicy,
}

fn aad(event_id: &Uuid, pointer: &str, purpose: KeyPurpose) -> Vec<u8> {
    let mut a = Vec::with_capacity(16 + pointer.len() + 16);
    a.extend_from_slice(event_id.as_bytes());
    a.extend_from_slice(pointer.as_bytes());
    a.push(0);
    a.extend_from_slice(purpose.as_str().as_bytes());
    a
}

impl Codec {
    /// A codec over `keys` with `retention`.
    pub fn new(keys: Keyring, retention: RetentionPolicy) -> Codec {
        Codec { keys, retention }
    }

    /// The key table.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// The retention policy.
    pub fn retention(&self) -> &RetentionPolicy {
        &self.retention
    }

    /// Serializes `event` for storage, sealing its personal fields with the subject's keys
    /// (created on first use; each use extends the key's retention from `now`).
    pub async fn encode<E>(
        &self,
        event: &E,
        metadata: &Metadata,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<NewEvent>
    where
        E: DomainEvent + PersonalData,
    {
        let pending = Pending::of(event, now)?;
        let mut out = self.encode_many(vec![pending], metadata).await?;
        out.pop()
            .ok_or_else(|| StoreError::InvalidAppend("nothing encoded".into()))
    }

    /// Encodes many events, creating or extending all the keys they need in one
    /// transaction.
    pub async fn encode_many(
        &self,
        items: Vec<Pending>,
        metadata: &Metadata,
    ) -> Result<Vec<NewEvent>> {
        let (wanted, index) = self.wanted(&items);
        let keys = self.keys.keys_for_write(&wanted).await?;
        seal_all(items, &index, &keys, metadata)
    }

    /// Encodes events for an atomic append ([`crate::atomic`]): seals them with the keys
    /// they need and returns those keys as side rows to commit with the events, instead of
    /// writing them first. Subjects in `new_subjects` were made for these events (no key can
    /// exist yet): their keys are made here without reading the table; other subjects' keys
    /// are read, and made when missing. A key that changes before the append commits refuses
    /// it ([`crate::atomic::Refusal::KeyChanged`]): encode again and retry.
    pub async fn encode_atomic(
        &self,
        items: Vec<Pending>,
        metadata: &Metadata,
        new_subjects: &[&str],
    ) -> Result<(Vec<NewEvent>, Vec<SideRow>)> {
        let (wanted, index) = self.wanted(&items);
        let mut keys = Vec::with_capacity(wanted.len());
        let mut rows = Vec::with_capacity(wanted.len());
        for (subject, purpose, now, expires_at) in wanted {
            let stored = if new_subjects.contains(&subject.as_str()) {
                None
            } else {
                self.keys.stored(&subject, purpose).await?
            };
            let new = stored.is_none();
            let (wrapped, key) = match stored {
                Some(found) => found,
                None => self.keys.fresh(&subject, purpose)?,
            };
            keys.push(key);
            rows.push(SideRow::Key(SubjectKeyRow {
                subject,
                purpose,
                wrapped,
                now,
                expires_at,
                new,
            }));
        }
        Ok((seal_all(items, &index, &keys, metadata)?, rows))
    }

    /// Which keys `items` need, each once, with the latest deadline asked for; and where
    /// each (subject, purpose) is in that list.
    fn wanted(&self, items: &[Pending]) -> (Vec<Wanted>, HashMap<(String, KeyPurpose), usize>) {
        let mut wanted: Vec<Wanted> = Vec::new();
        let mut index: HashMap<(String, KeyPurpose), usize> = HashMap::new();
        for p in items {
            let Some(subject) = &p.subject else { continue };
            let now_us = p.at.timestamp_micros();
            for f in p.fields {
                let present = leadorch_domain::personal::locate(&p.payload, f.pointer)
                    .iter()
                    .any(|at| p.payload.pointer(at).is_some_and(|v| !v.is_null()));
                if !present {
                    continue;
                }
                let expires = self
                    .retention
                    .window(f.purpose)
                    .map(|w| now_us.saturating_add(w.as_micros() as i64));
                match index.get(&(subject.clone(), f.purpose)) {
                    Some(&i) => {
                        let w = &mut wanted[i];
                        w.3 = match (w.3, expires) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    None => {
                        index.insert((subject.clone(), f.purpose), wanted.len());
                        wanted.push((subject.clone(), f.purpose, now_us, expires));
                    }
                }
            }
        }
        (wanted, index)
    }

    /// A decoder that caches keys for one batch of reads.
    pub fn decoder(&self, reveal: Reveal) -> Decoder<'_> {
        Decoder {
            codec: self,
            reveal,
            cache: HashMap::new(),
            report: None,
        }
    }
}

/// Decodes stored payloads; caches the keys it looked up.
pub struct Decoder<'a> {
    codec: &'a Codec,
    reveal: Reveal,
    cache: HashMap<(String, KeyPurpose), Option<DataKey>>,
    /// The sealed fields met, when the caller asked ([`Decoder::payload_with_fields`]).
    report: Option<Vec<SealedField>>,
}

/// What became of a sealed field when its event was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldState {
    /// Decrypted: the value is in the payload.
    Opened,
    /// Its key was destroyed (the subject erased, the account forgotten, the retention window
    /// passed): the value reads as `null`, for good.
    Erased,
    /// Not opened by this reader ([`Reveal::Redact`]): `null` here, readable elsewhere.
    Redacted,
}

/// A sealed (personal) field of an event, as [`Decoder::payload_with_fields`] met it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedField {
    /// Where it is in the payload (JSON pointer, `/email`).
    pub pointer: String,
    /// The data subject it is sealed for (stored id).
    pub subject: String,
    /// The purpose of its key.
    pub purpose: KeyPurpose,
    /// Whether it was opened.
    pub state: FieldState,
}

impl Decoder<'_> {
    /// Whether this decoder opens sealed fields or nulls them.
    pub fn reveal(&self) -> Reveal {
        self.reveal
    }
}

/// A key wanted: subject, purpose, now (µs), retention deadline (µs).
type Wanted = (String, KeyPurpose, i64, Option<i64>);

/// Seals each item's personal fields with its key (`keys[index[(subject, purpose)]]`) under
/// a fresh event id.
fn seal_all(
    items: Vec<Pending>,
    index: &HashMap<(String, KeyPurpose), usize>,
    keys: &[DataKey],
    metadata: &Metadata,
) -> Result<Vec<NewEvent>> {
    let mut out = Vec::with_capacity(items.len());
    for mut p in items {
        let event_id = Uuid::now_v7();
        if let Some(subject) = &p.subject {
            for f in p.fields {
                let Some(&i) = index.get(&(subject.clone(), f.purpose)) else {
                    continue;
                };
                for at in leadorch_domain::personal::locate(&p.payload, f.pointer) {
                    let Some(slot) = p.payload.pointer_mut(&at) else {
                        continue;
                    };
                    if slot.is_null() {
                        continue;
                    }
                    let plain = serde_json::to_vec(slot)
                        .map_err(|e| StoreError::InvalidAppend(e.to_string()))?;
                    // Bound to the concrete pointer: what the decoder finds it at.
                    let sealed = keys[i].seal(&aad(&event_id, &at, f.purpose), &plain)?;
                    *slot = serde_json::json!({
                        ENC: B64.encode(sealed),
                        "s": subject,
                        "p": f.purpose.as_str(),
                        "k": keys[i].id(),
                    });
                }
            }
        }
        let payload =
            serde_json::to_vec(&p.payload).map_err(|e| StoreError::InvalidAppend(e.to_string()))?;
        out.push(NewEvent {
            event_id,
            event_type: p.event_type,
            schema_version: p.schema_version,
            payload,
            metadata: metadata.to_bytes(),
        });
    }
    Ok(out)
}

/// Whether stored payload bytes contain any sealed field (cheap pre-check).
pub fn has_sealed_fields(payload: &[u8]) -> bool {
    payload.windows(6).any(|w| w == b"\"$enc\"")
}

impl Decoder<'_> {
    /// The payload of `event` as JSON, with sealed fields opened or nulled.
    pub async fn payload(&mut self, event: &RecordedEvent) -> Result<Value> {
        self.payload_of(event, None).await
    }

    /// [`Decoder::payload`] opening only the fields sealed for `subject`; those of other
    /// subjects read as `null`. What an export of one subject shows of a stream other
    /// subjects' data is in too (a team's, whose members are subjects of their own).
    pub async fn payload_for(&mut self, event: &RecordedEvent, subject: &str) -> Result<Value> {
        self.payload_of(event, Some(subject)).await
    }

    /// [`Decoder::payload`], with every sealed field met and what became of it (opened, or
    /// `null` because its key is gone or because this decoder redacts), in payload order.
    pub async fn payload_with_fields(
        &mut self,
        event: &RecordedEvent,
    ) -> Result<(Value, Vec<SealedField>)> {
        self.report = Some(Vec::new());
        let value = self.payload_of(event, None).await;
        let fields = self.report.take().unwrap_or_default();
        Ok((value?, fields))
    }

    fn note(&mut self, pointer: &str, subject: &str, purpose: KeyPurpose, state: FieldState) {
        if let Some(report) = &mut self.report {
            report.push(SealedField {
                pointer: pointer.to_string(),
                subject: subject.to_string(),
                purpose,
                state,
            });
        }
    }

    async fn payload_of(&mut self, event: &RecordedEvent, only: Option<&str>) -> Result<Value> {
        let mut value: Value =
            serde_json::from_slice(&event.payload).map_err(|e| StoreError::Decode {
                position: event.position,
                reason: format!("payload is not JSON: {e}"),
            })?;
        if has_sealed_fields(&event.payload) {
            let mut pointer = String::new();
            self.open_all(event, only, &mut value, &mut pointer).await?;
        }
        Ok(value)
    }

    fn open_all<'v>(
        &'v mut self,
        event: &'v RecordedEvent,
        only: Option<&'v str>,
        value: &'v mut Value,
        pointer: &'v mut String,
    ) -> futures::future::BoxFuture<'v, Result<()>> {
        Box::pin(async move {
            match value {
                Value::Object(map) if map.contains_key(ENC) => {
                    *value = self.open_one(event, only, map, pointer).await?;
                }
                Value::Object(map) => {
                    for (k, v) in map.iter_mut() {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                        self.open_all(event, only, v, pointer).await?;
                        pointer.truncate(len);
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.iter_mut().enumerate() {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                        self.open_all(event, only, v, pointer).await?;
                        pointer.truncate(len);
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }

    async fn open_one(
        &mut self,
        event: &RecordedEvent,
        only: Option<&str>,
        sealed: &serde_json::Map<String, Value>,
        pointer: &str,
    ) -> Result<Value> {
        if self.reveal == Reveal::Redact && self.report.is_none() {
            return Ok(Value::Null);
        }
        let bad = |reason: &str| StoreError::Decode {
            position: event.position,
            reason: format!("sealed field {pointer}: {reason}"),
        };
        let subject = sealed
            .get("s")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no subject"))?;
        let purpose = sealed
            .get("p")
            .and_then(Value::as_str)
            .and_then(KeyPurpose::parse)
            .ok_or_else(|| bad("unknown purpose"))?;
        if self.reveal == Reveal::Redact || only.is_some_and(|only| only != subject) {
            self.note(pointer, subject, purpose, FieldState::Redacted);
            return Ok(Value::Null);
        }
        let data = sealed
            .get(ENC)
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| bad("ciphertext is not base64"))?;
        let cache_key = (subject.to_string(), purpose);
        let key = match self.cache.get(&cache_key) {
            Some(k) => k.clone(),
            None => {
                let k = self.codec.keys.key(subject, purpose).await?;
                self.cache.insert(cache_key, k.clone());
                k
            }
        };
        let Some(key) = key else {
            self.note(pointer, subject, purpose, FieldState::Erased);
            return Ok(Value::Null);
        };
        if let Some(id) = sealed.get("k").and_then(Value::as_str) {
            if id != key.id() {
                // Sealed by a key destroyed since; this one was made later for new data.
                self.note(pointer, subject, purpose, FieldState::Erased);
                return Ok(Value::Null);
            }
        }
        let plain = key.open(&aad(&event.event_id, pointer, purpose), &data)?;
        let value = serde_json::from_slice(&plain).map_err(|e| bad(&e.to_string()))?;
        self.note(pointer, subject, purpose, FieldState::Opened);
        Ok(value)
    }
}
