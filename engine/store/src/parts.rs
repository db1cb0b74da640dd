//! Read-model parts: many rows of one read model in one compressed value (docs/adr/0014).
//!
//! A rebuild stores each read model as parts of up to [`PART_ROWS`] rows, in key order, so
//! that it writes a few hundred large rows instead of hundreds of thousands of small ones and
//! a fraction of the bytes (documents of one read model repeat their field names and much of
//! their text). Layout of a part's `data`:
//!
//! ```text
//! format (1 byte, 1) | uncompressed length (u32 LE) | zstd frame of:
//!     repeated: key length (u32 LE) | key (UTF-8) | doc length (u32 LE) | doc
//! ```

use crate::error::{Result, StoreError};

/// Most rows in one part: small enough that reading one document decompresses little
/// (about 1.5 MB of JSON for lead documents), large enough that a rebuild writes few rows.
pub const PART_ROWS: usize = 4096;
/// zstd level: 1 compresses read-model JSON about 6× at several hundred MB/s (level 3 was
/// half as fast for a tenth less size; docs/BENCHMARKS-HISTORY.md).
const LEVEL: i32 = 1;
const FORMAT_ZSTD_ROWS: u8 = 1;
/// Largest part accepted when reading (a corrupt length must not allocate gigabytes).
const MAX_RAW: usize = 1 << 30;

/// One part, packed and ready to insert (see [`crate::read_models::ReadModelWriter::packed`]).
#[derive(Debug)]
pub struct Part {
    pub(crate) first_key: String,
    pub(crate) last_key: String,
    pub(crate) rows: i64,
    pub(crate) data: Vec<u8>,
}

impl Part {
    /// Bytes of the rows before compression.
    pub fn raw_len(&self) -> usize {
        self.data
            .get(1..5)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u32::from_le_bytes(b) as usize)
    }
}

/// Collects up to [`PART_ROWS`] rows of one read model, in increasing key order, each
/// document written straight into the part's buffer (no allocation per row).
#[derive(Debug, Default)]
pub struct PartBuilder {
    raw: Vec<u8>,
    first_key: Option<String>,
    last_key: String,
    rows: usize,
    out_of_order: Option<String>,
}

impl PartBuilder {
    /// An empty part with room for about `bytes` of rows.
    pub fn with_capacity(bytes: usize) -> PartBuilder {
        PartBuilder {
            raw: Vec::with_capacity(bytes),
            ..Default::default()
        }
    }

    fn is_full(&self) -> bool {
        self.rows >= PART_ROWS
    }

    /// Appends the row `key`, whose document `write` writes (e.g. `serde_json::to_writer`).
    /// When `write` fails the row is left out and its error returned. A key not greater than
    /// the last one, or a row past [`PART_ROWS`], makes [`PartBuilder::finish`] fail.
    pub fn push<E>(
        &mut self,
        key: &str,
        write: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        if self.out_of_order.is_none()
            && (self.is_full() || (self.first_key.is_some() && key <= self.last_key.as_str()))
        {
            self.out_of_order = Some(key.to_string());
        }
        let start = self.raw.len();
        let key_len = (key.len() as u32).to_le_bytes();
        self.raw.extend_from_slice(&key_len);
        self.raw.extend_from_slice(key.as_bytes());
        let len_at = self.raw.len();
        self.raw.extend_from_slice(&[0; 4]);
        if let Err(e) = write(&mut self.raw) {
            self.raw.truncate(start);
            return Err(e);
        }
        let doc_len = (self.raw.len() - len_at - 4) as u32;
        self.raw[len_at..len_at + 4].copy_from_slice(&doc_len.to_le_bytes());
        if self.first_key.is_none() {
            self.first_key = Some(key.to_string());
        }
        self.last_key.clear();
        self.last_key.push_str(key);
        self.rows += 1;
        Ok(())
    }

    /// Compresses the rows into a part (`None` when there are none).
    pub fn finish(self, packer: &mut Packer) -> Result<Option<Part>> {
        if let Some(key) = self.out_of_order {
            return Err(StoreError::Internal(format!(
                "read-model part: key {key:?} comes after a later key or past {PART_ROWS} rows"
            )));
        }
        let Some(first_key) = self.first_key else {
            return Ok(None);
        };
        let data = packer.compress(&self.raw)?;
        Ok(Some(Part {
            first_key,
            last_key: self.last_key,
            rows: self.rows as i64,
            data,
        }))
    }
}

/// Compresses parts; keeps one compression context for all of them (one per thread).
pub struct Packer {
    zstd: zstd::bulk::Compressor<'static>,
}

impl Packer {
    /// A compression context.
    pub fn new() -> Result<Packer> {
        let zstd_err = |e: std::io::Error| StoreError::Internal(format!("zstd: {e}"));
        let mut zstd = zstd::bulk::Compressor::new(LEVEL).map_err(zstd_err)?;
        // A damaged part fails its checksum instead of reading back as other documents.
        zstd.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
            .map_err(zstd_err)?;
        Ok(Packer { zstd })
    }

    /// Packs `rows` (in strictly increasing key order, which the caller checks) into parts
    /// of up to [`PART_ROWS`] rows.
    pub(crate) fn pack(&mut self, rows: &[(String, Vec<u8>)]) -> Result<Vec<Part>> {
        let mut parts = Vec::with_capacity(rows.len().div_ceil(PART_ROWS));
        for chunk in rows.chunks(PART_ROWS) {
            let bytes = chunk.iter().map(|(k, d)| 8 + k.len() + d.len()).sum();
            let mut part = PartBuilder::with_capacity(bytes);
            for (key, doc) in chunk {
                part.push(key, |buf| {
                    buf.extend_from_slice(doc);
                    Ok::<_, std::convert::Infallible>(())
                })
                .unwrap_or_else(|e| match e {});
            }
            parts.extend(part.finish(self)?);
        }
        Ok(parts)
    }

    fn compress(&mut self, raw: &[u8]) -> Result<Vec<u8>> {
        let raw_len = u32::try_from(raw.len())
            .ok()
            .filter(|n| (*n as usize) <= MAX_RAW)
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "a read-model part of {} bytes is over the 1 GiB limit",
                    raw.len()
                ))
            })?;
        let mut data = vec![0u8; 5 + zstd::zstd_safe::compress_bound(raw.len())];
        data[0] = FORMAT_ZSTD_ROWS;
        data[1..5].copy_from_slice(&raw_len.to_le_bytes());
        let n = self
            .zstd
            .compress_to_buffer(raw, &mut data[5..])
            .map_err(|e| StoreError::Internal(format!("zstd: {e}")))?;
        data.truncate(5 + n);
        Ok(data)
    }
}

/// Unpacks a part's rows onto `out`, in their stored (key) order.
pub(crate) fn unpack(
    projection: &str,
    data: &[u8],
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<()> {
    let bad = |reason: String| StoreError::CorruptReadModel {
        projection: projection.to_string(),
        reason,
    };
    let (&format, rest) = data.split_first().ok_or_else(|| bad("empty part".into()))?;
    if format != FORMAT_ZSTD_ROWS {
        return Err(bad(format!(
            "part format {format} is unknown to this leadorch"
        )));
    }
    let (len, frame) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("part header cut short".into()))?;
    let raw_len = u32::from_le_bytes(*len) as usize;
    if raw_len > MAX_RAW {
        return Err(bad(format!("part claims {raw_len} bytes")));
    }
    let raw = zstd::bulk::decompress(frame, raw_len).map_err(|e| bad(format!("zstd: {e}")))?;
    if raw.len() != raw_len {
        return Err(bad(format!(
            "part holds {} bytes, its header says {raw_len}",
            raw.len()
        )));
    }
    let mut at = &raw[..];
    let take = |at: &mut &[u8]| -> Result<Vec<u8>> {
        let (len, rest) = at
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("row length cut short".into()))?;
        let n = u32::from_le_bytes(*len) as usize;
        if rest.len() < n {
            return Err(bad("row cut short".into()));
        }
        let (v, rest) = rest.split_at(n);
        *at = rest;
        Ok(v.to_vec())
    };
    while !at.is_empty() {
        let key = String::from_utf8(take(&mut at)?).map_err(|_| bad("key is not UTF-8".into()))?;
        let doc = take(&mut at)?;
        out.push((key, doc));
    }
    Ok(())
}

/// The document of `key` in a part, if the part holds it.
pub(crate) fn find(projection: &str, data: &[u8], key: &str) -> Result<Option<Vec<u8>>> {
    let mut rows = Vec::new();
    unpack(projection, data, &mut rows)?;
    Ok(rows
        .binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .map(|i| std::mem::take(&mut rows[i].1)))
}

/// Merges a read model's rows from its parts (in key order) with the rows written per key
/// since (in key order; `None` marks a key deleted since): per-key rows win.
pub(crate) fn merge(
    parts: Vec<(String, Vec<u8>)>,
    overlay: Vec<(String, Option<Vec<u8>>)>,
) -> Vec<(String, Vec<u8>)> {
    if overlay.is_empty() {
        return parts;
    }
    let mut out = Vec::with_capacity(parts.len() + overlay.len());
    let mut base = parts.into_iter().peekable();
    for (key, doc) in overlay {
        while let Some((k, _)) = base.peek() {
            if *k < key {
                out.extend(base.next());
            } else {
                break;
            }
        }
        if base.peek().is_some_and(|(k, _)| *k == key) {
            base.next();
        }
        if let Some(doc) = doc {
            out.push((key, doc));
        }
    }
    out.extend(base);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(keys: &[&str]) -> Vec<(String, Vec<u8>)> {
        keys.iter()
            .map(|k| (k.to_string(), format!("doc of {k}").into_bytes()))
            .collect()
    }

    #[test]
    fn parts_round_trip_and_split_at_the_row_limit() {
        let keys: Vec<String> = (0..PART_ROWS + 10).map(|i| format!("k{i:06}")).collect();
        let all: Vec<(String, Vec<u8>)> = keys
            .iter()
            .map(|k| (k.clone(), format!("{{\"key\":\"{k}\"}}").into_bytes()))
            .collect();
        let parts = Packer::new().unwrap().pack(&all).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].rows as usize, PART_ROWS);
        assert_eq!(parts[1].first_key, keys[PART_ROWS]);
        assert_eq!(parts[1].last_key, keys[PART_ROWS + 9]);
        let mut back = Vec::new();
        for p in &parts {
            unpack("t", &p.data, &mut back).unwrap();
        }
        assert_eq!(back, all);
        let packed: usize = parts.iter().map(|p| p.data.len()).sum();
        let raw: usize = all.iter().map(|(k, d)| k.len() + d.len()).sum();
        assert!(packed * 3 < raw, "{packed} bytes packed from {raw}");
        assert_eq!(
            find("t", &parts[1].data, &keys[PART_ROWS + 3]).unwrap(),
            Some(all[PART_ROWS + 3].1.clone())
        );
        assert_eq!(find("t", &parts[1].data, "k").unwrap(), None);
    }

    #[test]
    fn a_built_part_reads_back_like_a_packed_one_and_refuses_keys_out_of_order() {
        let all = rows(&["a", "b", "c"]);
        let mut b = PartBuilder::with_capacity(64);
        for (k, d) in &all {
            b.push(k, |buf| {
                buf.extend_from_slice(d);
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        // A failing writer leaves its row out.
        assert_eq!(
            b.push("d", |buf| {
                buf.extend_from_slice(b"half");
                Err("no")
            }),
            Err("no")
        );
        let mut packer = Packer::new().unwrap();
        let part = b.finish(&mut packer).unwrap().unwrap();
        assert_eq!(
            (part.first_key.as_str(), part.last_key.as_str(), part.rows),
            ("a", "c", 3)
        );
        let mut back = Vec::new();
        unpack("t", &part.data, &mut back).unwrap();
        assert_eq!(back, all);
        assert!(PartBuilder::default()
            .finish(&mut packer)
            .unwrap()
            .is_none());

        let mut b = PartBuilder::default();
        for k in ["b", "a"] {
            b.push(k, |_| Ok::<_, ()>(())).unwrap();
        }
        let err = b.finish(&mut packer).unwrap_err().to_string();
        assert!(err.contains("\"a\""), "{err}");
    }

    #[test]
    fn a_damaged_part_is_an_error_naming_the_read_model() {
        let mut p = Packer::new().unwrap().pack(&rows(&["a", "b"])).unwrap();
        let data = &mut p[0].data;
        let last = data.len() - 1;
        data[last] ^= 0xff;
        let mut out = Vec::new();
        let err = unpack("leads", data, &mut out).unwrap_err().to_string();
        assert!(err.contains("leads"), "{err}");
        assert!(err.contains("replay"), "{err}");
        let err = unpack("leads", &[9, 0, 0, 0, 0], &mut out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("format 9"), "{err}");
        assert!(unpack("leads", &[1, 0xff, 0xff, 0xff, 0x7f], &mut out).is_err());
    }

    #[test]
    fn per_key_rows_override_and_delete_part_rows() {
        let merged = merge(
            rows(&["a", "c", "e"]),
            vec![
                ("b".into(), Some(b"new b".to_vec())),
                ("c".into(), None),
                ("e".into(), Some(b"new e".to_vec())),
                ("f".into(), None),
                ("g".into(), Some(b"g".to_vec())),
            ],
        );
        let keys: Vec<(&str, &[u8])> = merged
            .iter()
            .map(|(k, d)| (k.as_str(), d.as_slice()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("a", &b"doc of a"[..]),
                ("b", b"new b"),
                ("e", b"new e"),
                ("g", b"g")
            ]
        );
    }
}
