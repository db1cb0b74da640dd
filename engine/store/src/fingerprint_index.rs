//! The in-memory index of SQLite's dedup fingerprints (ADR 0047).
//!
//! On SQLite the `fingerprints` table is append-only in claim order (an `AUTOINCREMENT` id,
//! never reused): a table keyed by the fingerprint put each new row on a random page, and each
//! durable commit wrote every page it dirtied to the WAL whole — about 6.8 KB per fingerprint,
//! half of what storing a lead cost. Each process finds rows through this index instead: the
//! first 8 bytes of each fingerprint (an HMAC, so uniform) map to the ids of the rows that hold
//! it, with their `expires_at`.
//!
//! What keeps it right:
//! - **Caught up by id before every use** ([`FingerprintIndex::catch_up`]): one statement reads
//!   the rows with an id above the last one seen, on a read-only connection, so only committed
//!   rows enter. SQLite has one writer at a time and ids are handed out inside its write
//!   transactions, so a later commit only ever adds larger ids: nothing committed is skipped.
//!   An id handed out by a transaction that rolled back is never seen, so its reuse is harmless.
//! - **Verified before use**: an entry only names a row that may hold the fingerprint; the row
//!   is read by id and its project, kind and whole fingerprint compared. A deleted row (erased,
//!   purged, replaced) or a prefix that merely collides is found out there, so stale entries
//!   cost a read, never a wrong answer.
//! - **A write transaction's own rows** are not in the index (they are not committed); a claim
//!   finds them by reading the ids above [`ClaimScope::base`], the last id committed when its
//!   transaction took SQLite's write lock.
//!
//! Entries whose row has expired are dropped once an hour of running time; a subject erased by
//! this process leaves the index at once ([`FingerprintIndex::forget`]). A subject erased by
//! another process leaves this one's entries until they expire: they hold neither the email
//! nor the phone, only ids and the prefix of a keyed hash that no longer matches any row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::fingerprints::{FingerprintKind, FingerprintMatch};
use crate::inline::Inline;

/// How often entries of expired rows are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// One row that may hold a fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    id: i64,
    expires_at: i64,
}

/// The rows under one key: almost always one.
#[derive(Debug)]
enum Held {
    One(Entry),
    Many(Vec<Entry>),
}

impl Held {
    fn entries(&self) -> &[Entry] {
        match self {
            Held::One(e) => std::slice::from_ref(e),
            Held::Many(v) => v,
        }
    }

    fn push(&mut self, e: Entry) {
        match self {
            Held::One(first) => *self = Held::Many(vec![*first, e]),
            Held::Many(v) => v.push(e),
        }
    }

    /// Keeps the entries `keep` accepts; `false` when none is left.
    fn retain(&mut self, keep: impl Fn(&Entry) -> bool) -> bool {
        match self {
            Held::One(e) => keep(e),
            Held::Many(v) => {
                v.retain(|e| keep(e));
                match v.len() {
                    0 => false,
                    1 => {
                        *self = Held::One(v[0]);
                        true
                    }
                    _ => true,
                }
            }
        }
    }
}

#[derive(Debug)]
struct Inner {
    map: HashMap<u64, Held>,
    /// The largest id read so far.
    last_id: i64,
    swept: Instant,
}

/// One database's index, shared by everything in this process that uses the database.
#[derive(Debug)]
pub struct FingerprintIndex {
    inner: Mutex<Inner>,
}

impl Default for FingerprintIndex {
    fn default() -> Self {
        FingerprintIndex {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                last_id: 0,
                swept: Instant::now(),
            }),
        }
    }
}

fn key(kind: FingerprintKind, fp: &[u8; 32]) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&fp[..8]);
    u64::from_le_bytes(prefix) ^ (kind as u64)
}

fn kind_of(s: &str) -> rusqlite::Result<FingerprintKind> {
    FingerprintKind::parse(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown fingerprint kind {s:?}").into(),
        )
    })
}

fn fingerprint_of(bytes: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Blob,
            format!("a fingerprint of {} bytes", bytes.len()).into(),
        )
    })
}

/// A row that holds a fingerprint (any expiry).
#[derive(Clone, Debug)]
pub(crate) struct HeldRow {
    pub(crate) id: i64,
    pub(crate) lead_id: String,
    pub(crate) subject_id: String,
    pub(crate) expires_at: i64,
}

impl HeldRow {
    pub(crate) fn to_match(&self, kind: FingerprintKind) -> FingerprintMatch {
        FingerprintMatch {
            kind,
            lead_id: self.lead_id.clone(),
            subject_id: self.subject_id.clone(),
            expires_at: self.expires_at,
        }
    }
}

impl FingerprintIndex {
    /// Reads the rows committed since the last catch-up into the index and returns the largest
    /// id seen. Rows already expired at `now` are not kept.
    pub(crate) fn catch_up(&self, inline: &Inline, now: i64) -> Result<i64> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let after = inner.last_id;
        let rows = inline.read("catching up the fingerprint index", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, kind, fingerprint, expires_at FROM fingerprints \
                 WHERE id > ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([after])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let kind = kind_of(&r.get::<_, String>(1)?)?;
                let fp = fingerprint_of(r.get(2)?)?;
                out.push((r.get::<_, i64>(0)?, kind, fp, r.get::<_, i64>(3)?));
            }
            Ok::<_, rusqlite::Error>(out)
        })?;
        for (id, kind, fp, expires_at) in rows {
            inner.last_id = inner.last_id.max(id);
            if expires_at <= now {
                continue;
            }
            let entry = Entry { id, expires_at };
            inner
                .map
                .entry(key(kind, &fp))
                .and_modify(|h| h.push(entry))
                .or_insert(Held::One(entry));
        }
        if inner.swept.elapsed() >= SWEEP_EVERY {
            inner.map.retain(|_, h| h.retain(|e| e.expires_at > now));
            inner.map.shrink_to_fit();
            inner.swept = Instant::now();
        }
        Ok(inner.last_id)
    }

    /// The ids of the rows that may hold `fp` (to be verified: see [`rows_holding`]).
    pub(crate) fn candidates(&self, kind: FingerprintKind, fp: &[u8; 32]) -> Vec<i64> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .map
            .get(&key(kind, fp))
            .map(|h| h.entries().iter().map(|e| e.id).collect())
            .unwrap_or_default()
    }

    /// Drops the entries of rows this process deleted (a subject's erasure).
    pub(crate) fn forget(&self, rows: &[(i64, FingerprintKind, [u8; 32])]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for (id, kind, fp) in rows {
            let k = key(*kind, fp);
            if let Some(h) = inner.map.get_mut(&k) {
                if !h.retain(|e| e.id != *id) {
                    inner.map.remove(&k);
                }
            }
        }
    }

    /// The committed rows of `project` that hold `fp`, whatever their expiry: the index's
    /// candidates, each read by id and compared. No read at all when there is no candidate.
    pub(crate) fn rows_holding(
        &self,
        inline: &Inline,
        project: &str,
        kind: FingerprintKind,
        fp: &[u8; 32],
    ) -> Result<Vec<HeldRow>> {
        let ids = self.candidates(kind, fp);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        inline.read("reading a fingerprint's rows", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT lead_id, subject_id, expires_at FROM fingerprints \
                 WHERE id = ?1 AND project = ?2 AND kind = ?3 AND fingerprint = ?4",
            )?;
            let mut out = Vec::new();
            for id in ids {
                let mut rows =
                    stmt.query(rusqlite::params![id, project, kind.as_str(), &fp[..]])?;
                while let Some(r) = rows.next()? {
                    out.push(HeldRow {
                        id,
                        lead_id: r.get(0)?,
                        subject_id: r.get(1)?,
                        expires_at: r.get(2)?,
                    });
                }
            }
            Ok::<_, rusqlite::Error>(out)
        })
    }
}

/// A write transaction's view of the fingerprints on SQLite: committed rows through the index,
/// its own rows by id. Made once the transaction holds SQLite's write lock and before it writes
/// a fingerprint ([`crate::db::Db::claim_scope`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClaimScope<'a> {
    pub(crate) index: &'a FingerprintIndex,
    pub(crate) inline: &'a Inline,
    /// The last id committed when the transaction began writing fingerprints: the rows above
    /// it are the transaction's own.
    pub(crate) base: i64,
}

impl ClaimScope<'_> {
    /// The committed rows of `project` that hold `fp`, whatever their expiry.
    pub(crate) fn committed(
        &self,
        project: &str,
        kind: FingerprintKind,
        fp: &[u8; 32],
    ) -> Result<Vec<HeldRow>> {
        self.index.rows_holding(self.inline, project, kind, fp)
    }
}
