//! The tamper-evident publications log: each entry carries the SHA-256 of its publication's
//! canonical content and the hash of the previous entry; [`verify`] recomputes the chain and
//! every content hash from the store and names the first entry that does not match.

use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::store::PublicationEntry;

/// The `previous_entry_hash` of the first entry.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of a log entry: SHA-256 of its JSON serialisation (fields in declaration order)
/// with `entry_hash` empty and `store_version` 0 (the version is known only after the commit).
pub fn entry_hash(e: &PublicationEntry) -> String {
    let mut c = e.clone();
    c.entry_hash = String::new();
    c.store_version = 0;
    let bytes = serde_json::to_vec(&c).expect("entries serialise");
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

/// The first entry that failed verification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mismatch {
    /// 1-based position in the log.
    pub entry: usize,
    /// Publication id.
    pub publication_id: String,
    /// Agency.
    pub agency: String,
    /// Dataset.
    pub dataset: String,
    /// Store version of its commit.
    pub store_version: i64,
    /// What does not match.
    pub reason: String,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: usize,
    /// The first entry that does not match, if any.
    pub first_mismatch: Option<Mismatch>,
}

impl std::fmt::Display for AuditReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first_mismatch {
            None => write!(f, "audit passed: {} publications-log entries, chain and content hashes verified", self.entries),
            Some(m) => write!(
                f,
                "audit FAILED at entry {} of {} (publication {}, agency {}, dataset {}, store version {}): {}",
                m.entry, self.entries, m.publication_id, m.agency, m.dataset, m.store_version, m.reason
            ),
        }
    }
}

/// Recomputes the chain of entry hashes and, for every entry, the content hash of the rows the
/// store holds for that publication at its version.
pub async fn verify(catalog: &Catalog) -> Result<AuditReport> {
    let log = catalog.store().read_log().await?;
    let mut previous = GENESIS.to_owned();
    for (i, e) in log.iter().enumerate() {
        let fail = |reason: String| AuditReport {
            entries: log.len(),
            first_mismatch: Some(Mismatch {
                entry: i + 1,
                publication_id: e.publication_id.clone(),
                agency: e.agency.clone(),
                dataset: e.dataset.clone(),
                store_version: e.store_version,
                reason,
            }),
        };
        if e.previous_entry_hash != previous {
            return Ok(fail(format!("previous_entry_hash {} does not match the previous entry's hash {previous}", e.previous_entry_hash)));
        }
        let recomputed = entry_hash(e);
        if recomputed != e.entry_hash {
            return Ok(fail(format!("the entry was altered: it hashes to {recomputed}, the log records {}", e.entry_hash)));
        }
        previous = e.entry_hash.clone();
        match content_hash(catalog, e).await {
            Ok((hash, rows)) if hash == e.content_hash && rows == e.rows => {}
            Ok((hash, rows)) => {
                return Ok(fail(format!(
                    "the stored rows ({rows}) hash to {hash}; the log records {} rows hashing to {}",
                    e.rows, e.content_hash
                )));
            }
            Err(err) => return Ok(fail(format!("its rows cannot be read from the store: {err}"))),
        }
    }
    Ok(AuditReport { entries: log.len(), first_mismatch: None })
}

async fn content_hash(catalog: &Catalog, e: &PublicationEntry) -> Result<(String, u64)> {
    use datafusion::prelude::{col, lit};
    use futures::TryStreamExt;
    let session = catalog.tables(Some(e.store_version)).await?;
    let df = session.ctx.table("observations").await?.filter(col("publication_id").eq(lit(e.publication_id.clone())))?;
    let mut stream = df.execute_stream().await?;
    let mut hasher = sdgx_schemas::hash::ContentHasher::default();
    let mut rows = 0u64;
    while let Some(batch) = stream.try_next().await? {
        hasher.push_batch(&batch, rows + 1)?;
        rows += batch.num_rows() as u64;
    }
    let hashed = hasher.finish().map_err(|e| crate::Error::Io { path: "row hashes spilled to a temporary file".into(), source: e })?;
    Ok((hashed.content_hash, rows))
}
