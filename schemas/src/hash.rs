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

/// Accumulates the rows of a publication and yields its content hash and duplicate keys.
///
/// Keeps 56 bytes per row (key hash, row number, digest); rows are sorted by key hash at the end.
#[derive(Debug, Default)]
pub struct ContentHasher {
    rows: Vec<(u128, u64, [u8; 32])>,
    buf: Vec<u8>,
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
    /// Adds row `r` of `columns` (every contract column, in wire order), numbered `row`.
    pub fn push_row(&mut self, columns: &[ColumnRef<'_>], r: usize, row: u64) {
        self.buf.clear();
        encode(&columns[..=crate::observation::idx::MIGRATORY_STATUS], r, &mut self.buf);
        let key = key_hash(&self.buf);
        encode(&columns[crate::observation::idx::MIGRATORY_STATUS + 1..], r, &mut self.buf);
        self.rows.push((key, row, row_digest(&self.buf)));
    }

    /// Adds every row of a wire batch (columns found by name, cast to the wire types),
    /// numbering rows from `first_row`.
    pub fn push_batch(&mut self, batch: &arrow::array::RecordBatch, first_row: u64) -> Result<(), arrow::error::ArrowError> {
        let arrays = crate::observation::COLUMNS
            .iter()
            .map(|c| {
                let a = batch.column_by_name(c.name).ok_or_else(|| arrow::error::ArrowError::SchemaError(format!("no column {}", c.name)))?;
                arrow::compute::cast(a, &c.data_type.arrow())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cols: Vec<ColumnRef<'_>> = crate::observation::COLUMNS
            .iter()
            .zip(&arrays)
            .map(|(c, a)| match c.data_type {
                crate::observation::ColumnType::Text => ColumnRef::Text(a.as_any().downcast_ref().expect("cast to Utf8")),
                crate::observation::ColumnType::Float => ColumnRef::Float(a.as_any().downcast_ref().expect("cast to Float64")),
                crate::observation::ColumnType::Int => ColumnRef::Int(a.as_any().downcast_ref().expect("cast to Int32")),
            })
            .collect();
        for r in 0..batch.num_rows() {
            self.push_row(&cols, r, first_row + r as u64);
        }
        Ok(())
    }

    /// The content hash, and the duplicate keys found.
    pub fn finish(mut self) -> Hashed {
        self.rows.sort_unstable_by_key(|e| (e.0, e.1));
        let mut duplicates = Vec::new();
        let mut first = 0;
        for i in 0..self.rows.len() {
            if i > 0 && self.rows[i].0 == self.rows[i - 1].0 {
                duplicates.push((self.rows[i].1, first));
            } else {
                first = self.rows[i].1;
            }
        }
        let mut h = Sha256::new();
        h.update(b"sdgx-content-v1\n");
        h.update((self.rows.len() as u64).to_le_bytes());
        for (_, _, d) in &self.rows {
            h.update(d);
        }
        Hashed { content_hash: format!("sha256:{}", hex::encode(h.finalize())), duplicates }
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
            h.finish()
        };
        assert_eq!(hash(&[0, 1]).content_hash, hash(&[1, 0]).content_hash);
        assert_ne!(hash(&[0, 1]).content_hash, hash(&[0, 2]).content_hash);
        assert_ne!(hash(&[0]).content_hash, hash(&[0, 1]).content_hash);
        assert!(is_well_formed(&hash(&[]).content_hash));
        assert!(!is_well_formed("sha256:ABC"));
        assert_eq!(hash(&[0, 1, 0, 0]).duplicates, vec![(3, 1), (4, 1)]);
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
