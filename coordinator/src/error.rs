//! The coordinator's one error type, with its mappings to gRPC status and HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use datafusion::error::DataFusionError;
use sdgx_schemas::ValidationReport;

/// Everything that can go wrong in the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The contract (framework, codelists) could not be loaded, or a message broke it.
    #[error(transparent)]
    Contract(#[from] sdgx_schemas::Error),
    /// A publication failed validation; nothing was stored.
    #[error("{0}")]
    Rejected(Box<ValidationReport>),
    /// The request is malformed (user mistake).
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The Delta store failed.
    #[error("store: {0}")]
    Store(#[from] deltalake::DeltaTableError),
    /// A query failed.
    #[error("query: {0}")]
    Query(#[from] DataFusionError),
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A Parquet operation failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A Flight stream failed.
    #[error("flight: {0}")]
    Flight(#[from] arrow_flight::error::FlightError),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The caller is not authenticated.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Too many failed attempts from this address.
    #[error("{0}")]
    TooManyAttempts(String),
    /// A query ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// A listener could not be bound or served.
    #[error("transport: {0}")]
    Transport(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().display().to_string();
        move |source| Error::Io { path, source }
    }

    fn is_user_query_error(e: &DataFusionError) -> bool {
        matches!(
            e.find_root(),
            DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_)
        )
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        use tonic::{Code, Status};
        match &e {
            Error::Rejected(report) => Status::with_details(
                Code::InvalidArgument,
                report.to_string(),
                sdgx_schemas::flight::encode_report(report).into(),
            ),
            Error::BadRequest(m) => Status::invalid_argument(m.clone()),
            Error::Contract(sdgx_schemas::Error::UnsupportedVersion { .. }) => Status::failed_precondition(e.to_string()),
            Error::Contract(_) => Status::invalid_argument(e.to_string()),
            Error::NotFound(m) => Status::not_found(m.clone()),
            Error::Unauthenticated(m) => Status::unauthenticated(m.clone()),
            Error::PermissionDenied(m) => Status::permission_denied(m.clone()),
            Error::TooManyAttempts(m) => Status::resource_exhausted(m.clone()),
            Error::Timeout(m) => Status::deadline_exceeded(m.clone()),
            Error::Query(q) if Error::is_user_query_error(q) => Status::invalid_argument(e.to_string()),
            Error::Query(DataFusionError::ResourcesExhausted(_)) => Status::resource_exhausted(e.to_string()),
            Error::Flight(arrow_flight::error::FlightError::Tonic(s)) => (**s).clone(),
            Error::Flight(_) | Error::Arrow(_) => Status::invalid_argument(e.to_string()),
            _ => {
                tracing::error!(error = %e, "internal error");
                Status::internal(e.to_string())
            }
        }
    }
}

/// The JSON body of every HTTP error.
#[derive(Debug, serde::Serialize)]
pub struct HttpError {
    /// A short machine-readable kind.
    pub error: &'static str,
    /// What went wrong.
    pub message: String,
    /// The validation report, for rejected publications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ValidationReport>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            Error::Rejected(_) | Error::BadRequest(_) | Error::Contract(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::Query(q) if Error::is_user_query_error(q) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::PermissionDenied(_) => (StatusCode::FORBIDDEN, "permission_denied"),
            Error::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Error::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            Error::Query(DataFusionError::ResourcesExhausted(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "resources_exhausted"),
            _ => {
                tracing::error!(error = %self, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let report = match &self {
            Error::Rejected(r) => Some((**r).clone()),
            _ => None,
        };
        (status, axum::Json(HttpError { error: kind, message: self.to_string(), report })).into_response()
    }
}
