//! One atomic append: events of several streams and the side rows that belong with them
//! (fingerprint claims, subject keys, an `Idempotency-Key` record), written by the writer in
//! its group transaction — all of it commits, or none of it (ADR 0022 decision 7, ADR 0029).
//!
//! A lead is the case this exists for: its consent and its `LeadReceived` (two streams), the
//! claims on its email and phone fingerprints, its subject's new data keys and the answer to
//! the client's `Idempotency-Key` are one [`AtomicAppend`]. The writer checks each request's
//! stream versions, then writes its side rows (in a savepoint when there are several); a side
//! row that cannot be written — a fingerprint another lead holds, a key that changed since the
//! events were sealed, a key already answered — refuses that request alone with
//! [`StoreError::Refused`], and the rest of the group commits. Side rows never raise a
//! constraint violation (every statement is an `INSERT … ON CONFLICT` or a guarded `UPDATE`),
//! so a PostgreSQL transaction around them stays usable.
//!
//! A retried append whose events are already stored (a lost acknowledgement) answers with
//! their positions and writes no side row again: they committed with the events.

use crate::api_keys::{insert_access, AccessRow};
use crate::conn::{release, roll_back_to, savepoint, with_conn, Conn};
use crate::error::{Result, StoreError};
use crate::fingerprint_index::ClaimScope;
use crate::fingerprints::{self, FingerprintClaim, FingerprintKind, FingerprintMatch};
use crate::idempotency::{self, IdempotencyKey, IdempotencyRecord};
use crate::log::{ExpectedVersion, NewEvent};
use leadorch_domain::personal::KeyPurpose;

/// One stream's part of an [`AtomicAppend`].
#[derive(Clone, Debug)]
pub struct StreamPart {
    /// The stream.
    pub stream_id: String,
    /// What its version must be.
    pub expected: ExpectedVersion,
    /// Its events, in order (at least one).
    pub events: Vec<NewEvent>,
}

/// Events of several streams and their side rows, written all or nothing.
#[derive(Clone, Debug, Default)]
pub struct AtomicAppend {
    /// The streams' events, appended in this order (positions follow it).
    pub parts: Vec<StreamPart>,
    /// The rows beside the log that commit with them.
    pub side: Vec<SideRow>,
}

/// A row beside the log that commits with an [`AtomicAppend`]'s events.
#[derive(Clone, Debug)]
pub enum SideRow {
    /// A lead's claim on its fingerprints (all or none; see [`fingerprints::claim`]).
    Claim(OwnedClaim),
    /// A subject's data key that sealed the events' personal fields.
    Key(SubjectKeyRow),
    /// The answer to a client's `Idempotency-Key`.
    Idempotency(IdempotencyRow),
    /// A request's row in the API's access log. Never refused; an append may carry only
    /// these (no events), so the API's rows commit with the log's group instead of in
    /// transactions of their own competing for SQLite's one write lock (ADR 0041).
    Access(AccessRow),
}

/// [`FingerprintClaim`], owned.
#[derive(Clone, Debug)]
pub struct OwnedClaim {
    /// The project.
    pub project: String,
    /// The lead's fingerprints.
    pub fingerprints: Vec<(FingerprintKind, [u8; 32])>,
    /// The lead.
    pub lead_id: String,
    /// Its subject.
    pub subject_id: String,
    /// When the claim ends (µs).
    pub expires_at: i64,
    /// Now (µs).
    pub now: i64,
}

/// A subject key as the events were sealed with it: a new key to store, or one that was
/// already stored whose retention is extended.
#[derive(Clone, Debug)]
pub struct SubjectKeyRow {
    /// The subject.
    pub subject: String,
    /// The purpose.
    pub purpose: KeyPurpose,
    /// The key, wrapped with the master key.
    pub wrapped: Vec<u8>,
    /// Now (µs), the key's creation time when it is new.
    pub now: i64,
    /// Its retention deadline (µs; `None`: kept until erased). A stored key's deadline only
    /// moves later.
    pub expires_at: Option<i64>,
    /// Whether the key is new (else it was read from the table before sealing).
    pub new: bool,
}

/// An `Idempotency-Key` and its first answer.
#[derive(Clone, Debug)]
pub struct IdempotencyRow {
    /// The project.
    pub project: String,
    /// The API key's id.
    pub api_key_id: String,
    /// The client's key.
    pub key: String,
    /// The answer.
    pub record: IdempotencyRecord,
}

/// Why the writer refused an [`AtomicAppend`]'s side rows (nothing of it was written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Live claims of other leads hold some of the fingerprints.
    Claimed(Vec<FingerprintMatch>),
    /// A subject key is not what the events were sealed with: it was created, replaced or
    /// destroyed (an erasure) in between. Seal again and retry.
    KeyChanged {
        /// The subject.
        subject: String,
    },
    /// The `Idempotency-Key` already has an answer (a concurrent request with the same key).
    Answered(IdempotencyRecord),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Claimed(held) => match held.first() {
                Some(m) => write!(f, "a fingerprint is claimed by lead {}", m.lead_id),
                None => f.write_str("a fingerprint is claimed by another lead"),
            },
            Refusal::KeyChanged { .. } => {
                f.write_str("a subject key changed since the events were sealed")
            }
            Refusal::Answered(_) => f.write_str("the Idempotency-Key already has an answer"),
        }
    }
}

impl AtomicAppend {
    /// How many events it carries.
    pub(crate) fn event_count(&self) -> usize {
        self.parts.iter().map(|p| p.events.len()).sum()
    }

    /// Checks what can be checked before the writer: parts, sizes, side rows.
    pub(crate) fn check(&self) -> Result<()> {
        let access_only =
            !self.side.is_empty() && self.side.iter().all(|r| matches!(r, SideRow::Access(_)));
        if (self.parts.is_empty() && !access_only) || self.parts.iter().any(|p| p.events.is_empty())
        {
            return Err(StoreError::InvalidAppend("no events to append".into()));
        }
        for p in &self.parts {
            if p.stream_id.is_empty() || p.stream_id.len() > 512 {
                return Err(StoreError::InvalidAppend(
                    "stream id must be 1 to 512 bytes".into(),
                ));
            }
        }
        let mut streams: Vec<&str> = self.parts.iter().map(|p| p.stream_id.as_str()).collect();
        streams.sort_unstable();
        if streams.windows(2).any(|w| w[0] == w[1]) {
            return Err(StoreError::InvalidAppend(
                "one stream appears twice in one atomic append: give it one part".into(),
            ));
        }
        for row in &self.side {
            match row {
                SideRow::Claim(c) => fingerprints::check_claim(&c.borrowed())?,
                SideRow::Idempotency(i) => i.key().check()?,
                SideRow::Key(k) => {
                    if k.subject.is_empty() || k.wrapped.is_empty() {
                        return Err(StoreError::InvalidAppend(
                            "a key row needs a subject and a key".into(),
                        ));
                    }
                }
                SideRow::Access(_) => {}
            }
        }
        Ok(())
    }
}

impl OwnedClaim {
    fn borrowed(&self) -> FingerprintClaim<'_> {
        FingerprintClaim {
            project: &self.project,
            fingerprints: &self.fingerprints,
            lead_id: &self.lead_id,
            subject_id: &self.subject_id,
            expires_at: self.expires_at,
            now: self.now,
        }
    }
}

impl IdempotencyRow {
    fn key(&self) -> IdempotencyKey<'_> {
        IdempotencyKey {
            project: &self.project,
            api_key_id: &self.api_key_id,
            key: &self.key,
        }
    }
}

/// What follows a new key's `VALUES`: a stored one's deadline moves later when it is the
/// same key; a row comes back only when the stored key is the one given.
macro_rules! create_key_conflict {
    () => {
        concat!(
            crate::keys::later_key_expiry!(),
            "WHERE subject_keys.wrapped_key = excluded.wrapped_key RETURNING purpose"
        )
    };
}

/// A new key ([`create_key_conflict`]).
pub(crate) const CREATE_KEY: &str = concat!(
    "INSERT INTO subject_keys (subject_id, purpose, wrapped_key, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5) ",
    create_key_conflict!()
);

/// A stored key's deadline moves later, when it is still the key given.
pub(crate) const EXTEND_KEY: &str = "UPDATE subject_keys SET expires_at = CASE \
       WHEN $4 IS NULL THEN NULL \
       WHEN expires_at IS NULL OR expires_at < $4 THEN $4 \
       ELSE expires_at END \
     WHERE subject_id = $1 AND purpose = $2 AND wrapped_key = $3 \
     RETURNING purpose";

/// The savepoint a request's side rows run in.
const SIDE_SAVEPOINT: &str = "leadorch_side_rows";

/// Writes a request's side rows on the writer's connection, inside its group transaction:
/// `Ok(None)` when all were written, `Ok(Some(refusal))` when one could not be (then none
/// was). Several rows run in a savepoint, rolled back to on a refusal; a lone row that is
/// refused wrote nothing.
pub(crate) async fn write_side_rows(
    conn: &mut Conn<'_>,
    scope: Option<&ClaimScope<'_>>,
    rows: &[SideRow],
) -> Result<Option<Refusal>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let guarded = rows.len() > 1
        || rows
            .iter()
            .any(|r| matches!(r, SideRow::Claim(c) if c.fingerprints.len() > 1));
    if guarded {
        savepoint(conn, SIDE_SAVEPOINT).await?;
    }
    let mut refusal = None;
    for row in rows {
        refusal = write_one(conn, scope, row).await?;
        if refusal.is_some() {
            break;
        }
    }
    if guarded {
        if refusal.is_some() {
            roll_back_to(conn, SIDE_SAVEPOINT).await?;
        } else {
            release(conn, SIDE_SAVEPOINT).await?;
        }
    }
    Ok(refusal)
}

async fn write_one(
    conn: &mut Conn<'_>,
    scope: Option<&ClaimScope<'_>>,
    row: &SideRow,
) -> Result<Option<Refusal>> {
    match row {
        SideRow::Claim(c) => {
            let taken = fingerprints::claim_each(conn, scope, &c.borrowed()).await?;
            Ok((!taken.is_empty()).then_some(Refusal::Claimed(taken)))
        }
        SideRow::Key(k) => {
            let done: Option<String> = if k.new {
                with_conn!(conn, c => sqlx::query_scalar(CREATE_KEY)
                    .bind(&k.subject)
                    .bind(k.purpose.as_str())
                    .bind(k.wrapped.as_slice())
                    .bind(k.now)
                    .bind(k.expires_at)
                    .fetch_optional(c)
                    .await)?
            } else {
                with_conn!(conn, c => sqlx::query_scalar(EXTEND_KEY)
                    .bind(&k.subject)
                    .bind(k.purpose.as_str())
                    .bind(k.wrapped.as_slice())
                    .bind(k.expires_at)
                    .fetch_optional(c)
                    .await)?
            };
            Ok(done.is_none().then(|| Refusal::KeyChanged {
                subject: k.subject.clone(),
            }))
        }
        SideRow::Idempotency(i) => Ok(idempotency::put(conn, &i.key(), &i.record)
            .await?
            .map(Refusal::Answered)),
        SideRow::Access(a) => {
            insert_access(conn, &[a]).await?;
            Ok(None)
        }
    }
}

/// A group's side rows by kind, for writing them together.
pub(crate) struct SideGroups<'a> {
    /// Each fingerprint of each claim.
    pub(crate) claims: Vec<(&'a OwnedClaim, FingerprintKind, &'a [u8; 32])>,
    /// New subject keys.
    pub(crate) new_keys: Vec<&'a SubjectKeyRow>,
    /// Stored subject keys whose deadline moves.
    pub(crate) extends: Vec<&'a SubjectKeyRow>,
    /// `Idempotency-Key` answers.
    pub(crate) answers: Vec<&'a IdempotencyRow>,
    /// Access-log rows.
    pub(crate) access: Vec<&'a AccessRow>,
}

impl<'a> SideGroups<'a> {
    /// Sorts `rows` by kind; `None` when two requests of the group write one row (a
    /// fingerprint, a subject's key, an `Idempotency-Key`): the careful way tells whose it is.
    pub(crate) fn of(rows: &[&'a SideRow]) -> Option<SideGroups<'a>> {
        let mut g = SideGroups {
            claims: Vec::new(),
            new_keys: Vec::new(),
            extends: Vec::new(),
            answers: Vec::new(),
            access: Vec::new(),
        };
        for row in rows {
            match row {
                SideRow::Claim(c) => {
                    for (kind, fp) in &c.fingerprints {
                        g.claims.push((c, *kind, fp));
                    }
                }
                SideRow::Key(k) if k.new => g.new_keys.push(k),
                SideRow::Key(k) => g.extends.push(k),
                SideRow::Idempotency(i) => g.answers.push(i),
                SideRow::Access(a) => g.access.push(a),
            }
        }
        let mut seen = std::collections::HashSet::new();
        if !g
            .claims
            .iter()
            .all(|(c, kind, fp)| seen.insert((c.project.as_str(), kind.as_str(), fp.as_slice())))
        {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        if !g
            .new_keys
            .iter()
            .chain(g.extends.iter())
            .all(|k| seen.insert((k.subject.as_str(), k.purpose.as_str())))
        {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        if !g
            .answers
            .iter()
            .all(|i| seen.insert((i.project.as_str(), i.api_key_id.as_str(), i.key.as_str())))
        {
            return None;
        }
        Some(g)
    }
}

/// Rows per multi-row statement of [`write_side_rows_together`] (at most 7 parameters each).
const SIDE_ROWS_PER_STATEMENT: usize = 150;

/// Writes the side rows of a whole group in a few multi-row statements (the writer's fast
/// path): `Ok(true)` when every row was written as asked. `Ok(false)` when one was not — a
/// fingerprint another lead holds, a key that changed, an answered `Idempotency-Key`, or two
/// requests of the group writing one row — and then the caller rolls the group back and
/// writes it the careful way, request by request ([`write_side_rows`]), where each refusal
/// is its own request's.
pub(crate) async fn write_side_rows_together(
    conn: &mut Conn<'_>,
    scope: Option<&ClaimScope<'_>>,
    rows: &[&SideRow],
    now: i64,
) -> Result<bool> {
    let Some(SideGroups {
        claims,
        new_keys,
        extends,
        answers,
        access,
    }) = SideGroups::of(rows)
    else {
        return Ok(false);
    };
    if let Some(scope) = scope {
        // SQLite's append-only table (ADR 0047): a fingerprint some committed row holds —
        // another lead's, the same lead's, or an expired one to replace — goes the careful way.
        for (c, kind, fp) in &claims {
            if !scope.committed(&c.project, *kind, fp)?.is_empty() {
                return Ok(false);
            }
        }
        for chunk in claims.chunks(SIDE_ROWS_PER_STATEMENT) {
            let written = with_conn!(conn, c => {
                let mut qb = sqlx::QueryBuilder::new(fingerprints::INSERT_CLAIMS);
                fingerprints::push_claims(
                    &mut qb,
                    chunk.iter().map(|(c, kind, fp)| (c.borrowed(), *kind, *fp)),
                );
                qb.build().execute(c).await.map(|r| r.rows_affected())
            })?;
            if written != chunk.len() as u64 {
                return Ok(false);
            }
        }
    } else {
        for chunk in claims.chunks(SIDE_ROWS_PER_STATEMENT) {
            let written: Vec<String> = with_conn!(conn, c => {
                let mut qb = sqlx::QueryBuilder::new(fingerprints::INSERT_CLAIMS);
                fingerprints::push_claims(
                    &mut qb,
                    chunk.iter().map(|(c, kind, fp)| (c.borrowed(), *kind, *fp)),
                );
                qb.push(
                    " ON CONFLICT (project, kind, fingerprint) DO UPDATE SET \
                     lead_id = excluded.lead_id, subject_id = excluded.subject_id, \
                     expires_at = excluded.expires_at WHERE fingerprints.expires_at <= ",
                );
                qb.push_bind(now);
                qb.push(" OR fingerprints.lead_id = excluded.lead_id RETURNING lead_id");
                qb.build_query_scalar().fetch_all(c).await
            })?;
            if written.len() != chunk.len() {
                return Ok(false);
            }
        }
    }
    for chunk in new_keys.chunks(SIDE_ROWS_PER_STATEMENT) {
        let written: Vec<String> = with_conn!(conn, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO subject_keys \
                 (subject_id, purpose, wrapped_key, created_at, expires_at) ",
            );
            qb.push_values(chunk, |mut b, k| {
                b.push_bind(k.subject.as_str())
                    .push_bind(k.purpose.as_str())
                    .push_bind(k.wrapped.as_slice())
                    .push_bind(k.now)
                    .push_bind(k.expires_at);
            });
            qb.push(concat!(" ", create_key_conflict!()));
            qb.build_query_scalar().fetch_all(c).await
        })?;
        if written.len() != chunk.len() {
            return Ok(false);
        }
    }
    for k in extends {
        if write_one(conn, scope, &SideRow::Key((*k).clone()))
            .await?
            .is_some()
        {
            return Ok(false);
        }
    }
    for chunk in answers.chunks(SIDE_ROWS_PER_STATEMENT) {
        let written: Vec<String> = with_conn!(conn, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO idempotency_keys \
                 (project, api_key_id, key, request_hash, status, body, created_at) ",
            );
            qb.push_values(chunk, |mut b, i| {
                b.push_bind(i.project.as_str())
                    .push_bind(i.api_key_id.as_str())
                    .push_bind(i.key.as_str())
                    .push_bind(i.record.request_hash.as_slice())
                    .push_bind(i32::from(i.record.status))
                    .push_bind(i.record.body.as_str())
                    .push_bind(i.record.created_at);
            });
            qb.push(" ON CONFLICT (project, api_key_id, key) DO NOTHING RETURNING key");
            qb.build_query_scalar().fetch_all(c).await
        })?;
        if written.len() != chunk.len() {
            return Ok(false);
        }
    }
    for chunk in access.chunks(SIDE_ROWS_PER_STATEMENT) {
        insert_access(conn, chunk).await?;
    }
    Ok(true)
}
