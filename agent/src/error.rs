//! The agent's one error type.

use sdgx_schemas::ValidationReport;

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The contract could not be loaded, or a manifest is malformed.
    #[error(transparent)]
    Contract(#[from] sdgx_schemas::Error),
    /// A dataset failed local validation; nothing was sent.
    #[error("{0}")]
    Invalid(Box<ValidationReport>),
    /// The coordinator rejected a publication.
    #[error("the coordinator rejected the publication: {0}")]
    Rejected(Box<ValidationReport>),
    /// A source file could not be read.
    #[error("source {path}: {message}")]
    Source {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The coordinator's HTTP API failed or refused.
    #[error("coordinator API {url}: {message}")]
    Api {
        /// The URL called.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The coordinator could not be reached or failed.
    #[error("coordinator {url}: {message}")]
    Coordinator {
        /// The coordinator's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
