//! A publication's entry in the tamper-evident log: what the commit of each accepted
//! publication carries in its metadata (see [`crate::store`] for the commit, [`crate::audit`]
//! for the chain, [`crate::signoff`] for the decisions taken on it).

use serde::{Deserialize, Serialize};

use sdgx_schemas::evidence::{PublicationSignature, Signature};
use sdgx_schemas::{ImportSummary, Manifest};

use crate::facts::FactsRef;

/// Commit-metadata key holding the publications-log entry.
pub const LOG_KEY: &str = "sdgx.publication";

/// One entry of the publications log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicationEntry {
    /// Unique id of the publication (UUID v7, time-ordered).
    pub publication_id: String,
    /// Publishing agency.
    pub agency: String,
    /// Dataset id.
    pub dataset: String,
    /// Dataset title from the manifest.
    pub title: String,
    /// `sha256:<hex>` content hash.
    pub content_hash: String,
    /// Rows stored.
    pub rows: u64,
    /// When the coordinator received it (RFC 3339, UTC).
    pub received_at: String,
    /// The store version its commit created (filled from the Delta log; not hashed).
    #[serde(default)]
    pub store_version: i64,
    /// `entry_hash` of the previous entry of the log, or [`crate::audit::GENESIS`] for the first.
    pub previous_entry_hash: String,
    /// `sha256:<hex>` of the canonical form of the commit's actions (every action of the
    /// commit but its `commitInfo`; see [`crate::audit::actions_hash`]). Absent in entries
    /// written before actions were anchored (see docs/store.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_hash: Option<String>,
    /// The publication's facts, written beside the table before its commit (see
    /// [`crate::facts`]). Absent in entries written before facts were stored: those get their
    /// facts backfilled from the observations at start (see docs/store.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<FactsRef>,
    /// The agency's signature of the publication ([`sdgx_schemas::evidence::publication_statement`]),
    /// with the client certificate the agency published with. Absent for what no agent sent:
    /// the dashboard's uploads, the coordinator's own derived dataset, plaintext development
    /// publications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_signature: Option<PublicationSignature>,
    /// SHA-256 of this entry's JSON with `entry_hash`, `store_version` and
    /// `coordinator_signature` blanked
    /// (see [`crate::audit::entry_hash`]).
    pub entry_hash: String,
    /// The coordinator's signature of this entry at its store version
    /// ([`sdgx_schemas::evidence::entry_statement`]), with its signing certificate; not hashed
    /// (it signs the hash). Absent when the coordinator has no signing key (development).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator_signature: Option<Signature>,
    /// The manifest as received.
    #[schema(value_type = Object)]
    pub manifest: Manifest,
    /// The validation summary.
    #[schema(value_type = Object)]
    pub summary: ImportSummary,
}
