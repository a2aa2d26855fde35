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
    /// The coordinator refused the publication for good (not a validation failure: for example
    /// the agency may not publish this dataset); retrying would not help.
    #[error("coordinator {url} refused the publication ({code:?}): {message}")]
    Refused {
        /// The coordinator's URL.
        url: String,
        /// The gRPC status code.
        code: tonic::Code,
        /// The coordinator's message.
        message: String,
    },
    /// The coordinator refused the publication because it was validated against another
    /// framework than the coordinator's in force (the agent refetches and revalidates once
    /// by itself when it can).
    #[error("coordinator {url} refused the publication: {mismatch}")]
    FrameworkMismatch {
        /// The coordinator's URL.
        url: String,
        /// Both frameworks.
        mismatch: Box<sdgx_schemas::flight::FrameworkMismatch>,
    },
    /// The coordinator's history no longer holds the log entry this agent was acknowledged:
    /// it was rolled back (see [`crate::evidence`]). The publication stays pending.
    #[error("coordinator {url} refused the publication: {detail}")]
    RolledBack {
        /// The coordinator's URL.
        url: String,
        /// The entry the agent saw and the coordinator's newest version.
        detail: Box<sdgx_schemas::flight::RolledBack>,
    },
    /// An acknowledgement's signed log entry does not check out (see [`crate::evidence`]).
    #[error("coordinator {url}: the acknowledgement is no evidence: {message}")]
    Evidence {
        /// The coordinator's URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The framework cache (see [`crate::framework`]) could not be written or read, or holds
    /// a bundle that does not match its hash.
    #[error("framework cache {path}: {message}")]
    FrameworkCache {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A publication could not be delivered yet; it stays in the outbox and is retried by
    /// `sdgx-agent run` or the next `sdgx-agent publish`.
    #[error("{publication}: not delivered after {attempts} attempt(s); it stays in the outbox and `sdgx-agent run` or the next publish will deliver it. Last error: {last}")]
    Undelivered {
        /// `agency/dataset`.
        publication: String,
        /// Attempts so far.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// The outbox could not be written or read.
    #[error("outbox {path}: {message}")]
    Outbox {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The coordinator could not be reached or failed (worth retrying).
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

/// An error with every cause it wraps, `outer: inner: innermost` (reqwest and tokio-postgres
/// put the useful part, such as "connection refused", in a source).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut m = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !m.contains(&text) {
            m = format!("{m}: {text}");
        }
        source = s.source();
    }
    m
}
