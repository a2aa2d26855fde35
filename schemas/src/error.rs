//! The one error type of the contract crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or applying the contract.
///
/// Validation problems in published data are not errors of this kind: they are collected as
/// [`crate::Problem`]s in a [`crate::ValidationReport`], so that every problem is reported at once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A catalogue, codelist or framework file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A catalogue, codelist or framework file is malformed.
    #[error("{file}: line {line}: {message}")]
    Catalogue {
        /// The file (or embedded data name) at fault.
        file: String,
        /// The 1-based line number, 0 when the whole file is at fault.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A national codelist redefines a code differently from the global codelist.
    #[error(
        "{file}: line {line}: code {code} of {codelist} is already defined as {existing:?}; \
         the national file defines it as {proposed:?}"
    )]
    CodelistConflict {
        /// The national codelist file.
        file: String,
        /// The 1-based line in that file.
        line: usize,
        /// The codelist id, e.g. `CL_SEX`.
        codelist: String,
        /// The conflicting code.
        code: String,
        /// The existing name.
        existing: String,
        /// The name the national file gives.
        proposed: String,
    },
    /// A manifest is malformed or inconsistent.
    #[error("invalid manifest: {0}")]
    Manifest(String),
    /// A Flight descriptor, ticket or acknowledgement could not be decoded.
    #[error("invalid flight message: {0}")]
    Flight(String),
    /// The peer speaks a contract version this build does not support.
    #[error("unsupported contract version {got:?}: this build speaks version {supported}")]
    UnsupportedVersion {
        /// The version the peer sent.
        got: String,
        /// The version this build supports.
        supported: &'static str,
    },
    /// A signature cannot be made, or a key, certificate or CA file cannot be read for it.
    #[error("signed evidence: {0}")]
    Evidence(String),
    /// A framework bundle (from the coordinator, or an agent's cache of one) is malformed or
    /// does not match its content hash; the message says how.
    #[error("framework bundle: {0}")]
    Bundle(String),
    /// A spreadsheet could not be read as a table (see [`crate::workbook`]).
    #[error("{path}: {message}")]
    Workbook {
        /// The workbook.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
