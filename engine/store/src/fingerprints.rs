//! Dedup fingerprints beside the log (`fingerprints`, ADR 0022 decision 3).
//!
//! A fingerprint is a keyed hash (HMAC-SHA256 under the project's secret,
//! [`crate::Keyring::project_secret`]) of a normalised email or phone number; the store only
//! keeps its 32 bytes, with the lead that claimed it, that lead's subject and when the claim
//! ends (the end of the dedup window). A row counts while `now < expires_at`; an expired row
//! is replaced by the next claim and deleted by retention ([`purge_expired`]); a subject's
//! erasure deletes its rows ([`erase_subject`]). Rows are never part of the hash chain.
//!
//! On PostgreSQL the table is keyed by the fingerprint. On SQLite it is append-only in claim
//! order and each process finds rows through an index in memory (ADR 0047,
//! `fingerprint_index`): a claim there replaces a row by deleting it and appending the new
//! one, so a key still has at most one live row.
//!
//! The functions take a [`Conn`], so the writer can claim a lead's fingerprints inside the
//! group transaction that appends the lead; [`Fingerprints`] runs each on its own.

use serde::{Deserialize, Serialize};

use crate::conn::{in_write_tx, pooled, release, roll_back_to, savepoint, with_conn, Conn};
use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::fingerprint_index::{ClaimScope, HeldRow};
use crate::tx::WriteTx;

/// What a fingerprint identifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerprintKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
}

impl FingerprintKind {
    /// As stored: `email` or `phone`.
    pub fn as_str(self) -> &'static str {
        match self {
            FingerprintKind::Email => "email",
            FingerprintKind::Phone => "phone",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<FingerprintKind> {
        match s {
            "email" => Some(FingerprintKind::Email),
            "phone" => Some(FingerprintKind::Phone),
            _ => None,
        }
    }
}

/// A live fingerprint row: who holds it, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintMatch {
    /// What it identifies.
    pub kind: FingerprintKind,
    /// The lead that claimed it (the first lead of that person in the window).
    pub lead_id: String,
    /// That lead's subject.
    pub subject_id: String,
    /// When the claim ends (µs since the epoch).
    pub expires_at: i64,
}

/// One lead's claim on its fingerprints.
#[derive(Clone, Copy, Debug)]
pub struct FingerprintClaim<'a> {
    /// The project.
    pub project: &'a str,
    /// The lead's fingerprints.
    pub fingerprints: &'a [(FingerprintKind, [u8; 32])],
    /// The lead.
    pub lead_id: &'a str,
    /// Its subject.
    pub subject_id: &'a str,
    /// When the claim ends (µs): the lead's time plus the dedup window.
    pub expires_at: i64,
    /// Now (µs): rows with `expires_at <= now` are expired and may be replaced.
    pub now: i64,
}

/// What a claim did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Every fingerprint is now the lead's (or already was: a claim is idempotent per lead).
    Claimed,
    /// Live rows of other leads hold some fingerprints, listed here: nothing was claimed. The
    /// lead is a duplicate of the first one's lead.
    Taken(Vec<FingerprintMatch>),
}

impl ClaimOutcome {
    /// The lead that holds a fingerprint, when the claim failed: "claimed by lead X".
    pub fn claimed_by(&self) -> Option<&FingerprintMatch> {
        match self {
            ClaimOutcome::Claimed => None,
            ClaimOutcome::Taken(held) => held.first(),
        }
    }
}

const SELECT_ROW: &str = "SELECT lead_id, subject_id, expires_at FROM fingerprints \
     WHERE project = $1 AND kind = $2 AND fingerprint = $3";

const SELECT_LIVE: &str = "SELECT kind, lead_id, subject_id, expires_at, fingerprint \
     FROM fingerprints WHERE project = $1 AND kind = $2 AND fingerprint = $3 AND expires_at > $4";

/// Two fingerprints' live rows in one statement, each branch a lookup of the whole primary
/// key: an `OR` of the two got a generic plan on PostgreSQL that scanned every row of the
/// project (PostgreSQL spent most of a lead's CPU in it under load).
const SELECT_LIVE_TWO: &str = "SELECT kind, lead_id, subject_id, expires_at, fingerprint \
     FROM fingerprints WHERE project = $1 AND kind = $3 AND fingerprint = $4 AND expires_at > $2 \
     UNION ALL \
     SELECT kind, lead_id, subject_id, expires_at, fingerprint \
     FROM fingerprints WHERE project = $1 AND kind = $5 AND fingerprint = $6 AND expires_at > $2";

/// Inserts a claim, or takes over a row that expired or that the same lead holds; returns
/// nothing when a live row of another lead is in the way. Never a unique violation, so a
/// PostgreSQL transaction around it stays usable.
const CLAIM: &str = "INSERT INTO fingerprints \
     (project, kind, fingerprint, lead_id, subject_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (project, kind, fingerprint) DO UPDATE SET lead_id = excluded.lead_id, \
       subject_id = excluded.subject_id, expires_at = excluded.expires_at \
     WHERE fingerprints.expires_at <= $7 OR fingerprints.lead_id = excluded.lead_id \
     RETURNING lead_id";

/// The savepoint a claim runs in.
const CLAIM_SAVEPOINT: &str = "leadorch_fingerprint_claim";

fn check_project(project: &str) -> Result<()> {
    if project.is_empty() {
        return Err(StoreError::InvalidInput(
            "a fingerprint needs a project".into(),
        ));
    }
    Ok(())
}

/// The live rows (`now < expires_at`) among `fingerprints` of `project`, in the order asked.
/// One statement for a lead's email and phone ([`SELECT_LIVE_TWO`]). On SQLite this scans the
/// table: [`Fingerprints::lookup`] uses the index.
pub async fn lookup(
    conn: &mut Conn<'_>,
    project: &str,
    fingerprints: &[(FingerprintKind, [u8; 32])],
    now: i64,
) -> Result<Vec<FingerprintMatch>> {
    let mut found: Vec<(String, String, String, i64, Vec<u8>)> = Vec::new();
    for pair in fingerprints.chunks(2) {
        let rows: Vec<(String, String, String, i64, Vec<u8>)> = match pair {
            [(k1, f1), (k2, f2)] => with_conn!(conn, c => sqlx::query_as(SELECT_LIVE_TWO)
                .bind(project)
                .bind(now)
                .bind(k1.as_str())
                .bind(f1.as_slice())
                .bind(k2.as_str())
                .bind(f2.as_slice())
                .fetch_all(c)
                .await)?,
            [(k, f)] => with_conn!(conn, c => sqlx::query_as(SELECT_LIVE)
                .bind(project)
                .bind(k.as_str())
                .bind(f.as_slice())
                .bind(now)
                .fetch_all(c)
                .await)?,
            _ => Vec::new(),
        };
        found.extend(rows);
    }
    let mut out = Vec::new();
    for (kind, fp) in fingerprints {
        if let Some((_, lead_id, subject_id, expires_at, _)) = found
            .iter()
            .find(|r| r.0 == kind.as_str() && r.4.as_slice() == fp.as_slice())
        {
            out.push(FingerprintMatch {
                kind: *kind,
                lead_id: lead_id.clone(),
                subject_id: subject_id.clone(),
                expires_at: *expires_at,
            });
        }
    }
    Ok(out)
}

/// Claims every fingerprint of a lead, all or none. `conn` must be in a write transaction (the
/// claim runs in a savepoint of it, rolled back to when a live row of another lead holds a
/// fingerprint), and on SQLite `scope` must be that transaction's
/// ([`Fingerprints::claim_in`] makes it). An expired row is replaced; a row the same lead holds
/// is renewed (a retried claim succeeds). Within one transaction, a later claim sees an
/// earlier one's rows.
pub(crate) async fn claim(
    conn: &mut Conn<'_>,
    scope: Option<&ClaimScope<'_>>,
    claim: &FingerprintClaim<'_>,
) -> Result<ClaimOutcome> {
    check_claim(claim)?;
    if claim.fingerprints.is_empty() {
        return Ok(ClaimOutcome::Claimed);
    }
    savepoint(conn, CLAIM_SAVEPOINT).await?;
    match claim_each(conn, scope, claim).await {
        Ok(taken) if taken.is_empty() => {
            release(conn, CLAIM_SAVEPOINT).await?;
            Ok(ClaimOutcome::Claimed)
        }
        Ok(taken) => {
            roll_back_to(conn, CLAIM_SAVEPOINT).await?;
            Ok(ClaimOutcome::Taken(taken))
        }
        Err(e) => {
            // The caller's transaction fails anyway; leave it as clean as it can be.
            let _ = roll_back_to(conn, CLAIM_SAVEPOINT).await;
            Err(e)
        }
    }
}

/// Checks a claim's fields.
pub(crate) fn check_claim(claim: &FingerprintClaim<'_>) -> Result<()> {
    check_project(claim.project)?;
    if claim.lead_id.is_empty() || claim.subject_id.is_empty() {
        return Err(StoreError::InvalidInput(
            "a fingerprint claim needs a lead and a subject".into(),
        ));
    }
    if claim.expires_at <= claim.now {
        return Err(StoreError::InvalidInput(format!(
            "a fingerprint claim must end after now ({} µs), not at {} µs",
            claim.now, claim.expires_at
        )));
    }
    Ok(())
}

/// Claims each fingerprint; returns the live rows of other leads in the way (the rows it did
/// claim stay claimed: the caller rolls back to a savepoint when any was in the way).
pub(crate) async fn claim_each(
    conn: &mut Conn<'_>,
    scope: Option<&ClaimScope<'_>>,
    claim: &FingerprintClaim<'_>,
) -> Result<Vec<FingerprintMatch>> {
    match (conn, scope) {
        (Conn::Sqlite(c), Some(scope)) => claim_appended(c, scope, claim).await,
        (Conn::Sqlite(_), None) => Err(StoreError::Internal(
            "a fingerprint claim on SQLite needs its transaction's index scope".into(),
        )),
        (conn @ Conn::Postgres(_), _) => claim_keyed(conn, claim).await,
    }
}

/// [`claim_each`] on SQLite's append-only table (ADR 0047): the rows that hold each
/// fingerprint are the committed ones the index names and the transaction's own (ids above
/// the scope's base); when none is a live row of another lead, they are deleted and the
/// lead's rows appended.
async fn claim_appended(
    c: &mut sqlx::SqliteConnection,
    scope: &ClaimScope<'_>,
    claim: &FingerprintClaim<'_>,
) -> Result<Vec<FingerprintMatch>> {
    let mut taken = Vec::new();
    let mut replaced = Vec::new();
    for (kind, fp) in claim.fingerprints {
        let mut held = scope.committed(claim.project, *kind, fp)?;
        let own: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, lead_id, subject_id, expires_at FROM fingerprints \
             WHERE id > $1 AND project = $2 AND kind = $3 AND fingerprint = $4",
        )
        .bind(scope.base)
        .bind(claim.project)
        .bind(kind.as_str())
        .bind(fp.as_slice())
        .fetch_all(&mut *c)
        .await?;
        held.extend(
            own.into_iter()
                .map(|(id, lead_id, subject_id, expires_at)| HeldRow {
                    id,
                    lead_id,
                    subject_id,
                    expires_at,
                }),
        );
        match held
            .iter()
            .find(|r| r.expires_at > claim.now && r.lead_id != claim.lead_id)
        {
            Some(other) => taken.push(other.to_match(*kind)),
            None => replaced.extend(held.iter().map(|r| r.id)),
        }
    }
    if !taken.is_empty() {
        return Ok(taken);
    }
    for id in replaced {
        sqlx::query("DELETE FROM fingerprints WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    let mut qb = sqlx::QueryBuilder::new(INSERT_CLAIMS);
    push_claims(
        &mut qb,
        claim
            .fingerprints
            .iter()
            .map(|(kind, fp)| (*claim, *kind, fp)),
    );
    qb.build().execute(&mut *c).await?;
    Ok(taken)
}

/// The start of a multi-row insert of claims; [`push_claims`] adds the rows.
pub(crate) const INSERT_CLAIMS: &str =
    "INSERT INTO fingerprints (project, kind, fingerprint, lead_id, subject_id, expires_at) ";

/// The `VALUES` of a multi-row insert of claims: one row per fingerprint of a claim.
pub(crate) fn push_claims<'a, DB: sqlx::Database>(
    qb: &mut sqlx::QueryBuilder<'a, DB>,
    rows: impl IntoIterator<Item = (FingerprintClaim<'a>, FingerprintKind, &'a [u8; 32])>,
) where
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push_values(rows, |mut b, (claim, kind, fp)| {
        b.push_bind(claim.project)
            .push_bind(kind.as_str())
            .push_bind(fp.as_slice())
            .push_bind(claim.lead_id)
            .push_bind(claim.subject_id)
            .push_bind(claim.expires_at);
    });
}

/// [`claim_each`] on PostgreSQL's table keyed by the fingerprint.
async fn claim_keyed(
    conn: &mut Conn<'_>,
    claim: &FingerprintClaim<'_>,
) -> Result<Vec<FingerprintMatch>> {
    let mut taken = Vec::new();
    for (kind, fp) in claim.fingerprints {
        let won: Option<String> = with_conn!(conn, c => sqlx::query_scalar(CLAIM)
            .bind(claim.project)
            .bind(kind.as_str())
            .bind(fp.as_slice())
            .bind(claim.lead_id)
            .bind(claim.subject_id)
            .bind(claim.expires_at)
            .bind(claim.now)
            .fetch_optional(c)
            .await)?;
        if won.is_some() {
            continue;
        }
        let row: Option<(String, String, i64)> = with_conn!(conn, c => sqlx::query_as(SELECT_ROW)
            .bind(claim.project)
            .bind(kind.as_str())
            .bind(fp.as_slice())
            .fetch_optional(c)
            .await)?;
        let (lead_id, subject_id, expires_at) = row.ok_or_else(|| {
            StoreError::Internal(
                "a fingerprint row refused a claim and then could not be read".into(),
            )
        })?;
        taken.push(FingerprintMatch {
            kind: *kind,
            lead_id,
            subject_id,
            expires_at,
        });
    }
    Ok(taken)
}

/// Deletes every fingerprint row of a subject (erasure); returns how many there were.
pub async fn erase_subject(conn: &mut Conn<'_>, subject_id: &str) -> Result<u64> {
    Ok(
        with_conn!(conn, c => sqlx::query("DELETE FROM fingerprints WHERE subject_id = $1")
        .bind(subject_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?,
    )
}

/// Deletes the rows `lead_id` of `project` claimed: its claim is let go when the lead was not
/// recorded after all (its append failed), or is found to name a lead that is not in the log
/// (a process stopped between the claim and the append). Returns how many there were.
pub async fn release_lead(conn: &mut Conn<'_>, project: &str, lead_id: &str) -> Result<u64> {
    check_project(project)?;
    Ok(with_conn!(conn, c => sqlx::query(
        "DELETE FROM fingerprints WHERE project = $1 AND lead_id = $2")
        .bind(project)
        .bind(lead_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Deletes every row expired at `now` (`expires_at <= now`); returns how many.
pub async fn purge_expired(conn: &mut Conn<'_>, now: i64) -> Result<u64> {
    Ok(
        with_conn!(conn, c => sqlx::query("DELETE FROM fingerprints WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?,
    )
}

/// How many rows are expired at `now`: what [`purge_expired`] would delete.
pub async fn count_expired(conn: &mut Conn<'_>, now: i64) -> Result<u64> {
    let n: i64 = with_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM fingerprints WHERE expires_at <= $1")
        .bind(now)
        .fetch_one(c)
        .await)?;
    Ok(n.max(0) as u64)
}

/// The fingerprint table of a database, each call on its own (a pooled connection, or its
/// own write transaction).
#[derive(Clone, Debug)]
pub struct Fingerprints {
    db: Db,
}

impl Fingerprints {
    /// The table in `db`.
    pub fn new(db: Db) -> Fingerprints {
        Fingerprints { db }
    }

    /// [`lookup`].
    pub async fn lookup(
        &self,
        project: &str,
        fingerprints: &[(FingerprintKind, [u8; 32])],
        now: i64,
    ) -> Result<Vec<FingerprintMatch>> {
        if let Some((index, inline)) = self.db.fingerprint_index() {
            check_project(project)?;
            index.catch_up(inline, now)?;
            let mut out = Vec::new();
            for (kind, fp) in fingerprints {
                // At most one live row per key: a claim replaces what it takes over.
                out.extend(
                    index
                        .rows_holding(inline, project, *kind, fp)?
                        .into_iter()
                        .filter(|r| r.expires_at > now)
                        .map(|r| r.to_match(*kind)),
                );
            }
            return Ok(out);
        }
        pooled!(&self.db, conn => lookup(conn, project, fingerprints, now).await)
    }

    /// [`claim`] in a transaction of its own.
    pub async fn claim(&self, c: &FingerprintClaim<'_>) -> Result<ClaimOutcome> {
        in_write_tx!(&self.db, conn => {
            let scope = self.db.claim_scope(c.now)?;
            claim(conn, scope.as_ref(), c).await
        })
    }

    /// [`claim`] inside the caller's write transaction `tx` (of this database), so the claim
    /// commits or rolls back with it. Within `tx`, a later claim sees an earlier one's rows.
    pub async fn claim_in(
        &self,
        tx: &mut WriteTx,
        c: &FingerprintClaim<'_>,
    ) -> Result<ClaimOutcome> {
        let scope = self.db.claim_scope(c.now)?;
        claim(&mut tx.conn(), scope.as_ref(), c).await
    }

    /// [`release_lead`].
    pub async fn release_lead(&self, project: &str, lead_id: &str) -> Result<u64> {
        pooled!(&self.db, conn => release_lead(conn, project, lead_id).await)
    }

    /// [`erase_subject`]. On SQLite the rows also leave this process's index.
    pub async fn erase_subject(&self, subject_id: &str) -> Result<u64> {
        if let Db::Sqlite {
            pool,
            fingerprints: index,
            ..
        } = &self.db
        {
            let deleted: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
                "DELETE FROM fingerprints WHERE subject_id = $1 RETURNING id, kind, fingerprint",
            )
            .bind(subject_id)
            .fetch_all(pool)
            .await?;
            let forgotten: Vec<_> = deleted
                .iter()
                .filter_map(|(id, kind, fp)| {
                    Some((
                        *id,
                        FingerprintKind::parse(kind)?,
                        <[u8; 32]>::try_from(fp.as_slice()).ok()?,
                    ))
                })
                .collect();
            index.forget(&forgotten);
            return Ok(deleted.len() as u64);
        }
        pooled!(&self.db, conn => erase_subject(conn, subject_id).await)
    }

    /// [`purge_expired`].
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        pooled!(&self.db, conn => purge_expired(conn, now).await)
    }

    /// [`count_expired`].
    pub async fn count_expired(&self, now: i64) -> Result<u64> {
        pooled!(&self.db, conn => count_expired(conn, now).await)
    }
}
