//! [`Table`]: one read model's rows in memory, with the keys changed since the last flush —
//! what a catch-up saves row by row through [`WriteTx`] and a rebuild packs into parts
//! (ADR 0014).

use hashbrown::{HashMap, HashSet};
use leadorch_store::parts::{Packer, Part, PartBuilder, PART_ROWS};
use leadorch_store::read_models::ReadModelWriter;
use leadorch_store::{Db, WriteTx};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Rows of one read model, with the keys changed since the last flush.
#[derive(Debug)]
pub struct Table<D> {
    name: &'static str,
    rows: HashMap<String, D>,
    pub(super) dirty: HashSet<String>,
    /// Whether changed keys are tracked (for incremental saves of a loaded read model; a
    /// rebuild writes every row and skips the bookkeeping).
    track_dirty: bool,
}

impl<D> Table<D> {
    pub(super) fn new(name: &'static str) -> Self {
        Table {
            name,
            rows: HashMap::new(),
            dirty: HashSet::new(),
            track_dirty: false,
        }
    }

    /// The read model's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One row.
    pub fn get(&self, key: &str) -> Option<&D> {
        self.rows.get(key)
    }

    /// All rows, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &D)> {
        let mut rows: Vec<_> = self.rows.iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        rows.into_iter()
    }

    /// Takes one row out (not recorded as a change: for consumers of a loaded read model).
    pub fn remove(&mut self, key: &str) -> Option<D> {
        self.rows.remove(key)
    }

    /// All rows, consumed, ordered by key.
    pub fn into_rows(self) -> Vec<(String, D)> {
        let mut rows: Vec<_> = self.rows.into_iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// Drops every row, and the record of changes.
    pub(super) fn clear(&mut self) {
        self.rows.clear();
        self.dirty.clear();
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of `key`, created empty when missing: one hash lookup, and the key is copied
    /// only when the row is new.
    pub(super) fn entry(&mut self, key: &str) -> &mut D
    where
        D: Default,
    {
        if self.track_dirty {
            self.dirty.get_or_insert_with(key, str::to_string);
        }
        self.rows.entry_ref(key).or_default()
    }
}

impl<D: Serialize + DeserializeOwned + Sync> Table<D> {
    /// Records changed keys from now on (for a save of changed rows).
    pub(super) fn track(&mut self) {
        self.track_dirty = true;
    }

    /// Reads the persisted row of `key` into memory, once (`fetched` remembers keys read,
    /// including those with no row).
    pub(super) async fn fetch(
        &mut self,
        db: &Db,
        key: &str,
        fetched: &mut hashbrown::HashSet<(&'static str, String)>,
    ) -> Result<()> {
        if !fetched.insert((self.name, key.to_string())) {
            return Ok(());
        }
        if let Some(doc) = db.doc(self.name, key).await? {
            let d: D = serde_json::from_slice(&doc).map_err(|e| Error::ReadModel {
                name: self.name,
                key: key.to_string(),
                reason: e.to_string(),
            })?;
            self.rows.insert(key.to_string(), d);
        }
        Ok(())
    }

    pub(super) async fn load(&mut self, db: &Db) -> Result<()> {
        self.load_where(db, &mut |_, _| true).await
    }

    /// Loads the persisted rows `keep` accepts; each row is parsed, shown to `keep` and
    /// dropped unless kept, so memory holds the kept rows only.
    pub(super) async fn load_where(
        &mut self,
        db: &Db,
        keep: &mut (dyn FnMut(&str, &D) -> bool + Send),
    ) -> Result<()> {
        self.rows.clear();
        self.dirty.clear();
        self.track_dirty = true;
        for (k, doc) in db.docs(self.name).await? {
            let d: D = serde_json::from_slice(&doc).map_err(|e| Error::ReadModel {
                name: self.name,
                key: k.clone(),
                reason: e.to_string(),
            })?;
            drop(doc);
            if keep(&k, &d) {
                self.rows.insert(k, d);
            }
        }
        Ok(())
    }

    /// Sends every row to a rebuild's writer, in key order, serialized and packed into
    /// compressed parts two at a time, one on this thread and one on a helper thread
    /// (serializing is most of a rebuild's save), while the writer inserts the last two.
    pub(super) async fn send_all(
        &self,
        writer: &ReadModelWriter,
        packers: &mut [Packer; 2],
    ) -> Result<()> {
        // In key order, parts do not overlap. Keys are compared by their first eight bytes
        // first (one integer comparison decides most pairs of ids).
        let mut rows: Vec<(u64, &String, &D)> = self
            .rows
            .iter()
            .map(|(k, d)| (key_prefix(k), k, d))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        if rows.is_empty() {
            writer.table(self.name, Vec::new()).await?;
            return Ok(());
        }
        let mut first = true;
        let mut size = 256;
        for pair in rows.chunks(2 * PART_ROWS) {
            let (a, b) = pair.split_at(pair.len().min(PART_ROWS));
            let [pa, pb] = packers;
            let (a, b) = std::thread::scope(|s| {
                let helper = (!b.is_empty()).then(|| s.spawn(|| self.pack(b, size, pb)));
                let a = self.pack(a, size, pa);
                let b = match helper {
                    Some(h) => h.join().unwrap_or_else(|_| {
                        Err(Error::Internal("a read-model serializer panicked".into()))
                    }),
                    None => Ok(None),
                };
                (a, b)
            });
            let parts: Vec<Part> = [a?, b?].into_iter().flatten().collect();
            size = parts.iter().map(|p| p.raw_len()).max().unwrap_or(size);
            writer.packed(self.name, parts, first).await?;
            first = false;
        }
        Ok(())
    }

    /// Serializes `rows` into one compressed part.
    fn pack(
        &self,
        rows: &[(u64, &String, &D)],
        size: usize,
        packer: &mut Packer,
    ) -> Result<Option<Part>> {
        let mut part = PartBuilder::with_capacity(size + size / 8);
        for (_, k, d) in rows {
            part.push(k, |buf| serde_json::to_writer(buf, d))
                .map_err(|e| Error::ReadModel {
                    name: self.name,
                    key: (*k).clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(part.finish(packer)?)
    }

    /// Writes the rows changed since the last flush.
    pub(super) async fn flush(&mut self, tx: &mut WriteTx) -> Result<()> {
        let mut keys: Vec<String> = std::mem::take(&mut self.dirty).into_iter().collect();
        // In key order, rows go into the primary-key B-tree as appends, not random inserts.
        keys.sort_unstable();
        let mut docs = Vec::with_capacity(keys.len());
        for k in keys {
            match self.rows.get(&k) {
                Some(d) => {
                    let doc = serde_json::to_vec(d).map_err(|e| Error::ReadModel {
                        name: self.name,
                        key: k.clone(),
                        reason: e.to_string(),
                    })?;
                    docs.push((k, doc));
                }
                None => tx.delete(self.name, &k).await?,
            }
        }
        tx.put_many(self.name, &docs).await?;
        Ok(())
    }
}

/// The first eight bytes of a key as a big-endian integer (zero-padded): ordering by it, then
/// by the whole key, is ordering by the key.
fn key_prefix(k: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = k.len().min(8);
    b[..n].copy_from_slice(&k.as_bytes()[..n]);
    u64::from_be_bytes(b)
}
