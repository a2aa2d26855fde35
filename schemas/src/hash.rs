//! The canonical form of published content and its SHA-256 content hash.
//!
//! Each row is encoded canonically: for every contract column in wire order, a tag byte
//! (`0` null, `1` text, `2` float, `3` integer) followed, when not null, by the value (text as
//! its byte length in unsigned LEB128 and the UTF-8 bytes; a float as its 8 little-endian
//! IEEE-754 bytes with `-0` folded into `0`; an integer as 4 little-endian bytes). The row's *key* is the encoding of the
//! identity and breakdown columns; its *digest* is the SHA-256 of the whole encoding.
//!
//! The content hash is `sha256:` + hex SHA-256 of the tag `sdgx-content-v1\n`, the row count as
//! 8 little-endian bytes, and the row digests ordered by the 128-bit XXH3 hash of their keys.
//! Keys are unique within a valid publication, so the order is total: the same rows give the
//! same hash whatever the order or batching they arrive in, whatever file format they came from.

use arrow::array::{Array, Float64Array, Int32Array, StringArray};
use sha2::{Digest, Sha256};

/// A typed view of one column of a wire batch.
#[derive(Debug, Clone, Copy)]
pub enum ColumnRef<'a> {
    /// A `Utf8` column.
    Text(&'a StringArray),
    /// A `Float64` column.
    Float(&'a Float64Array),
    /// An `Int32` column.
    Int(&'a Int32Array),
}

/// Every contract column of `batch`, in wire order, found by name and cast to its wire type
/// (a batch read back from the store may hold views or dictionaries; other columns are
/// ignored).
pub fn wire_arrays(batch: &arrow::array::RecordBatch) -> Result<Vec<arrow::array::ArrayRef>, arrow::error::ArrowError> {
    crate::observation::COLUMNS
        .iter()
        .map(|c| {
            let a = batch.column_by_name(c.name).ok_or_else(|| arrow::error::ArrowError::SchemaError(format!("no column {}", c.name)))?;
            arrow::compute::cast(a, &c.data_type.arrow())
        })
        .collect()
}

/// Typed views of [`wire_arrays`]' result.
pub fn column_refs(arrays: &[arrow::array::ArrayRef]) -> Vec<ColumnRef<'_>> {
    crate::observation::COLUMNS
        .iter()
        .zip(arrays)
        .map(|(c, a)| match c.data_type {
            crate::observation::ColumnType::Text => ColumnRef::Text(a.as_any().downcast_ref().expect("cast to Utf8")),
            crate::observation::ColumnType::Float => ColumnRef::Float(a.as_any().downcast_ref().expect("cast to Float64")),
            crate::observation::ColumnType::Int => ColumnRef::Int(a.as_any().downcast_ref().expect("cast to Int32")),
        })
        .collect()
}

/// Appends the canonical encoding of `row` to `buf` for the given columns.
pub fn encode(columns: &[ColumnRef<'_>], row: usize, buf: &mut Vec<u8>) {
    for c in columns {
        match c {
            ColumnRef::Text(a) => {
                if a.is_null(row) {
                    buf.push(0);
                } else {
                    let v = a.value(row).as_bytes();
                    buf.push(1);
                    let mut len = v.len();
                    while len >= 0x80 {
                        buf.push((len as u8 & 0x7f) | 0x80);
                        len >>= 7;
                    }
                    buf.push(len as u8);
                    buf.extend_from_slice(v);
                }
            }
            ColumnRef::Float(a) => {
                if a.is_null(row) {
                    buf.push(0);
                } else {
                    let v = a.value(row);
                    let v = if v == 0.0 { 0.0 } else { v };
                    buf.push(2);
                    buf.extend_from_slice(&v.to_bits().to_le_bytes());
                }
            }
            ColumnRef::Int(a) => {
                if a.is_null(row) {
                    buf.push(0);
                } else {
                    buf.push(3);
                    buf.extend_from_slice(&a.value(row).to_le_bytes());
                }
            }
        }
    }
}

/// The 128-bit hash of a row's key encoding (used to order rows and find duplicates).
pub fn key_hash(key: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key)
}

/// The SHA-256 digest of a row's full encoding.
pub fn row_digest(row: &[u8]) -> [u8; 32] {
    Sha256::digest(row).into()
}

/// Rows kept in memory before a sorted run is spilled to a temporary file (56 MiB).
const RUN_ROWS: usize = 1 << 20;

/// One row's entry: key hash, row number, digest.
type Entry = (u128, u64, [u8; 32]);
const ENTRY_BYTES: usize = 16 + 8 + 32;

/// Accumulates the rows of a publication and yields its content hash and duplicate keys.
///
/// Keeps 56 bytes per row (key hash, row number, digest), sorted by key hash at the end. At
/// most [`RUN_ROWS`] entries stay in memory: beyond that, sorted runs are spilled to anonymous
/// temporary files and merged at [`finish`](Self::finish), so memory stays bounded however
/// many rows a publication has. (If a run cannot be spilled, the entries stay in memory.)
#[derive(Debug)]
pub struct ContentHasher {
    rows: Vec<Entry>,
    runs: Vec<std::fs::File>,
    run_rows: usize,
    buf: Vec<u8>,
}

impl Default for ContentHasher {
    fn default() -> Self {
        Self::with_run_rows(RUN_ROWS)
    }
}

/// The result of hashing a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// `sha256:<hex>` content hash.
    pub content_hash: String,
    /// Duplicate keys as (row, first row with the same key), in key order.
    pub duplicates: Vec<(u64, u64)>,
}

impl ContentHasher {
    /// A hasher that spills a sorted run every `run_rows` rows.
    pub fn with_run_rows(run_rows: usize) -> Self {
        ContentHasher { rows: Vec::new(), runs: Vec::new(), run_rows: run_rows.max(1), buf: Vec::new() }
    }

    /// Adds row `r` of `columns` (every contract column, in wire order), numbered `row`.
    pub fn push_row(&mut self, columns: &[ColumnRef<'_>], r: usize, row: u64) {
        self.buf.clear();
        encode(&columns[..=crate::observation::idx::MIGRATORY_STATUS], r, &mut self.buf);
        let key = key_hash(&self.buf);
        encode(&columns[crate::observation::idx::MIGRATORY_STATUS + 1..], r, &mut self.buf);
        self.rows.push((key, row, row_digest(&self.buf)));
        if self.rows.len() >= self.run_rows && self.spill().is_err() {
            // No room on disk: keep going in memory, spilling again only after as many rows.
            self.run_rows = self.run_rows.saturating_mul(2);
        }
    }

    /// Sorts the entries in memory and writes them to a new run file.
    fn spill(&mut self) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        self.rows.sort_unstable_by_key(|e| (e.0, e.1));
        let mut w = std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        for (k, r, d) in &self.rows {
            w.write_all(&k.to_le_bytes())?;
            w.write_all(&r.to_le_bytes())?;
            w.write_all(d)?;
        }
        let mut f = w.into_inner().map_err(|e| e.into_error())?;
        f.rewind()?;
        self.runs.push(f);
        self.rows.clear();
        Ok(())
    }

    /// Adds every row of a wire batch (columns found by name, cast to the wire types),
    /// numbering rows from `first_row`.
    pub fn push_batch(&mut self, batch: &arrow::array::RecordBatch, first_row: u64) -> Result<(), arrow::error::ArrowError> {
        let arrays = wire_arrays(batch)?;
        let cols = column_refs(&arrays);
        for r in 0..batch.num_rows() {
            self.push_row(&cols, r, first_row + r as u64);
        }
        Ok(())
    }

    /// The content hash, and the duplicate keys found. Fails only when a spilled run cannot
    /// be read back.
    pub fn finish(mut self) -> std::io::Result<Hashed> {
        self.rows.sort_unstable_by_key(|e| (e.0, e.1));
        let mut runs: Vec<Run> = self.runs.into_iter().map(Run::new).collect::<std::io::Result<_>>()?;
        let mut memory = self.rows.into_iter().peekable();
        // A k-way merge of the sorted runs and the sorted entries still in memory.
        let mut heap = std::collections::BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(e) = run.next()? {
                heap.push(std::cmp::Reverse(((e.0, e.1), i, e.2)));
            }
        }
        let total = heap.len() as u64 + runs.iter().map(|r| r.left).sum::<u64>() + memory.len() as u64;
        let mut h = Sha256::new();
        h.update(b"sdgx-content-v1\n");
        h.update(total.to_le_bytes());
        let mut duplicates = Vec::new();
        let (mut prev, mut first) = (None::<u128>, 0u64);
        loop {
            let from_run = heap.peek().map(|std::cmp::Reverse((k, _, _))| *k);
            let from_memory = memory.peek().map(|e| (e.0, e.1));
            let (key, row, digest) = match (from_run, from_memory) {
                (Some(a), Some(b)) if b < a => memory.next().expect("peeked"),
                (Some(_), _) => {
                    let std::cmp::Reverse(((k, r), i, d)) = heap.pop().expect("peeked");
                    if let Some(e) = runs[i].next()? {
                        heap.push(std::cmp::Reverse(((e.0, e.1), i, e.2)));
                    }
                    (k, r, d)
                }
                (None, Some(_)) => memory.next().expect("peeked"),
                (None, None) => break,
            };
            if prev == Some(key) {
                duplicates.push((row, first));
            } else {
                first = row;
                prev = Some(key);
            }
            h.update(digest);
        }
        Ok(Hashed { content_hash: format!("sha256:{}", hex::encode(h.finalize())), duplicates })
    }
}

/// A spilled run being read back in order.
struct Run {
    reader: std::io::BufReader<std::fs::File>,
    left: u64,
}

impl Run {
    fn new(f: std::fs::File) -> std::io::Result<Run> {
        let left = f.metadata()?.len() / ENTRY_BYTES as u64;
        Ok(Run { reader: std::io::BufReader::with_capacity(1 << 16, f), left })
    }

    fn next(&mut self) -> std::io::Result<Option<Entry>> {
        use std::io::Read;
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; ENTRY_BYTES];
        self.reader.read_exact(&mut b)?;
        self.left -= 1;
        let key = u128::from_le_bytes(b[..16].try_into().expect("16 bytes"));
        let row = u64::from_le_bytes(b[16..24].try_into().expect("8 bytes"));
        Ok(Some((key, row, b[24..].try_into().expect("32 bytes"))))
    }
}

/// Whether `h` has the form `sha256:` + 64 lowercase hex digits.
pub fn is_well_formed(h: &str) -> bool {
    h.strip_prefix("sha256:")
        .is_some_and(|x| x.len() == 64 && x.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_content_sensitive() {
        let t = StringArray::from(vec!["a", "b", "c"]);
        let hash = |rows: &[usize]| {
            let mut h = ContentHasher::default();
            for (n, &r) in rows.iter().enumerate() {
                h.push_row(&[ColumnRef::Text(&t); 27], r, n as u64 + 1);
            }
            h.finish().expect("in memory")
        };
        assert_eq!(hash(&[0, 1]).content_hash, hash(&[1, 0]).content_hash);
        assert_ne!(hash(&[0, 1]).content_hash, hash(&[0, 2]).content_hash);
        assert_ne!(hash(&[0]).content_hash, hash(&[0, 1]).content_hash);
        assert!(is_well_formed(&hash(&[]).content_hash));
        assert!(!is_well_formed("sha256:ABC"));
        assert_eq!(hash(&[0, 1, 0, 0]).duplicates, vec![(3, 1), (4, 1)]);
    }

    #[test]
    fn spilled_runs_give_the_same_hash_and_duplicates() {
        let t = StringArray::from((0..50).map(|i| format!("v{}", i % 37)).collect::<Vec<_>>());
        let run = |run_rows: usize| {
            let mut h = ContentHasher::with_run_rows(run_rows);
            for r in 0..50 {
                h.push_row(&[ColumnRef::Text(&t); 27], r, r as u64 + 1);
            }
            let spilled = h.runs.len();
            (h.finish().expect("runs read back"), spilled)
        };
        let (memory, none) = run(usize::MAX);
        assert_eq!(none, 0);
        for n in [1, 3, 7, 16, 49] {
            let (spilled, runs) = run(n);
            assert_eq!(runs, 50 / n, "{n} rows per run");
            assert_eq!(spilled, memory, "{n} rows per run");
        }
        assert_eq!(memory.duplicates.len(), 13, "37 distinct keys in 50 rows");
    }

    #[test]
    fn encoding_distinguishes_null_empty_and_negative_zero() {
        let t = StringArray::from(vec![None, Some(""), Some("a")]);
        let f = Float64Array::from(vec![Some(-0.0), Some(0.0), None]);
        let enc = |row| {
            let mut buf = vec![];
            encode(&[ColumnRef::Text(&t), ColumnRef::Float(&f)], row, &mut buf);
            buf
        };
        assert_ne!(enc(0)[..1], enc(1)[..1]);
        assert_eq!(enc(0)[1..], enc(1)[2..]);
        assert_ne!(enc(1), enc(2));
        let long = StringArray::from(vec!["x".repeat(300)]);
        let mut buf = vec![];
        encode(&[ColumnRef::Text(&long)], 0, &mut buf);
        assert_eq!(&buf[..3], &[1, 0xac, 0x02], "300 = 0x12c in LEB128");
        assert_eq!(buf.len(), 3 + 300);
    }
}
