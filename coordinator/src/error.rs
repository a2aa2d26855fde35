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
    /// A limit on concurrent work was reached (the message names it and its setting); the
    /// same request may succeed later.
    #[error("{0}")]
    LimitReached(String),
    /// A query ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// Too many queries are running and waiting; try again later.
    #[error("{0}")]
    Overloaded(String),
    /// A listener could not be bound or served.
    #[error("transport: {0}")]
    Transport(String),
    /// The disk (or object store) holding `path` is full; nothing was committed.
    #[error("no space left on device writing {path}")]
    NoSpace {
        /// The file or object being written.
        path: String,
    },
    /// The store's Delta log does not match its tamper-evident publications log (see
    /// [`crate::audit`]); the message names the commit.
    #[error("store integrity: {0}")]
    Integrity(String),
    /// A failure of the coordinator itself, not of the request or the configuration; the
    /// message says what.
    #[error("internal: {0}")]
    Internal(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().display().to_string();
        move |source| Error::Io { path, source }
    }

    /// `e` as [`Error::NoSpace`] naming `path` when a disk-full error (ENOSPC) is anywhere in
    /// its chain of sources, else `e` unchanged.
    pub fn or_no_space(e: Error, path: &str) -> Error {
        if matches!(e, Error::NoSpace { .. }) || !is_no_space(&e) {
            return e;
        }
        Error::NoSpace { path: path.to_owned() }
    }

    fn is_user_query_error(e: &DataFusionError) -> bool {
        matches!(
            e.find_root(),
            DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_)
        )
    }

    /// A query out of memory, however DataFusion wrapped it (a recursive CTE or a join wraps it
    /// in context and in shared errors).
    fn is_resources_exhausted(e: &DataFusionError) -> bool {
        matches!(e.find_root(), DataFusionError::ResourcesExhausted(_))
    }
}

/// Whether a disk-full error (ENOSPC) is anywhere in `e`'s chain of sources. The layers between
/// the disk and the store (parquet, object_store, deltalake) box their sources, and some keep
/// only the message, so a level's text naming the condition counts too.
pub fn is_no_space(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && (io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28))
        {
            return true;
        }
        let text = e.to_string();
        if text.contains("No space left on device") || text.contains("os error 28") {
            return true;
        }
        next = e.source();
    }
    false
}

/// Bounds of a gRPC status's message and details, in bytes. Both travel in HTTP/2 trailers,
/// which clients refuse past a limit (gRPC C++: 8 KiB by default; hyper: 16 KiB), so a report
/// of many problems is cut to its first ones; the agent's own check lists them all.
const STATUS_MESSAGE_BYTES: usize = 2048;
const STATUS_DETAILS_BYTES: usize = 3072;

/// `text` cut at a line end to at most `STATUS_MESSAGE_BYTES`, saying so.
fn bounded(text: String) -> String {
    if text.len() <= STATUS_MESSAGE_BYTES {
        return text;
    }
    let mut end = STATUS_MESSAGE_BYTES - 120;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].rfind('\n').unwrap_or(end);
    let more = text[cut..].lines().filter(|l| !l.trim().is_empty()).count();
    format!("{}\n  ... {more} more line(s) not shown; run `sdgx-agent validate` for the full report", &text[..cut])
}

/// The report as status details: as many problems as fit in `STATUS_DETAILS_BYTES`, the rest
/// dropped and the report marked truncated.
fn bounded_details(report: &ValidationReport) -> Vec<u8> {
    let mut r = report.clone();
    loop {
        let bytes = sdgx_schemas::flight::encode_report(&r);
        if bytes.len() <= STATUS_DETAILS_BYTES || (r.errors.is_empty() && r.warnings.is_empty()) {
            return bytes;
        }
        if r.warnings.pop().is_none() {
            r.errors.pop();
        }
        r.truncated = true;
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let s = Error::into_status(e);
        if s.message().len() <= STATUS_MESSAGE_BYTES {
            return s;
        }
        tonic::Status::with_details(s.code(), bounded(s.message().to_owned()), s.details().to_vec().into())
    }
}

impl Error {
    fn into_status(e: Error) -> tonic::Status {
        use tonic::{Code, Status};
        match &e {
            Error::Rejected(report) => Status::with_details(
                Code::InvalidArgument,
                report.to_string(),
                bounded_details(report).into(),
            ),
            Error::BadRequest(m) => Status::invalid_argument(m.clone()),
            Error::Contract(sdgx_schemas::Error::UnsupportedVersion { .. }) => Status::failed_precondition(e.to_string()),
            Error::Contract(_) => Status::invalid_argument(e.to_string()),
            Error::NotFound(m) => Status::not_found(m.clone()),
            Error::Unauthenticated(m) => Status::unauthenticated(m.clone()),
            Error::PermissionDenied(m) => Status::permission_denied(m.clone()),
            Error::TooManyAttempts(m) => Status::resource_exhausted(m.clone()),
            Error::LimitReached(m) => Status::resource_exhausted(m.clone()),
            Error::Timeout(m) => Status::deadline_exceeded(m.clone()),
            Error::Query(q) if Error::is_user_query_error(q) => Status::invalid_argument(e.to_string()),
            Error::Query(q) if Error::is_resources_exhausted(q) => Status::resource_exhausted(e.to_string()),
            Error::Overloaded(m) => Status::resource_exhausted(m.clone()),
            Error::Flight(arrow_flight::error::FlightError::Tonic(s)) => (**s).clone(),
            Error::Flight(_) | Error::Arrow(_) => Status::invalid_argument(e.to_string()),
            Error::NoSpace { .. } => Status::resource_exhausted(e.to_string()),
            Error::Integrity(_) => Status::data_loss(e.to_string()),
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
            Error::LimitReached(_) => (StatusCode::TOO_MANY_REQUESTS, "limit_reached"),
            Error::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            Error::Query(q) if Error::is_resources_exhausted(q) => (StatusCode::UNPROCESSABLE_ENTITY, "resources_exhausted"),
            Error::Overloaded(_) => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            Error::NoSpace { .. } => (StatusCode::INSUFFICIENT_STORAGE, "no_space"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_is_found_through_every_layer() {
        let enospc = || std::io::Error::from_raw_os_error(28);
        // As the local object store reports a failed write, inside parquet's and deltalake's errors.
        let store = || object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(enospc()) };
        let cases: Vec<Error> = vec![
            Error::Io { path: "x".into(), source: enospc() },
            Error::Parquet(parquet::errors::ParquetError::External(Box::new(store()))),
            Error::Store(deltalake::DeltaTableError::ObjectStore { source: store() }),
            Error::Store(deltalake::DeltaTableError::Generic(format!("commit failed: {}", enospc()))),
        ];
        for e in cases {
            let shown = e.to_string();
            match Error::or_no_space(e, "/srv/store/_delta_log/00000000000000000003.json") {
                Error::NoSpace { path } => assert_eq!(path, "/srv/store/_delta_log/00000000000000000003.json"),
                other => panic!("{shown} was not seen as disk full: {other}"),
            }
        }
        let e = Error::or_no_space(Error::Config("full of hope".into()), "p");
        assert!(matches!(e, Error::Config(_)));
        let e = Error::NoSpace { path: "/srv/store/agency=a/dataset=d/part-0.parquet".into() };
        assert_eq!(e.to_string(), "no space left on device writing /srv/store/agency=a/dataset=d/part-0.parquet");
        assert_eq!(tonic::Status::from(e).code(), tonic::Code::ResourceExhausted);
    }
    use sdgx_schemas::{Problem, Rule};

    #[test]
    fn a_long_rejection_fits_in_a_status() {
        let problem = |i: u64| {
            let v = format!("BAD{i}{}", "z".repeat(300));
            Problem::new(Rule::UnknownCode, Some(i), Some("sex"), Some(&v), format!("{v:?} is not a code of CL_SEX"))
        };
        let report = ValidationReport {
            agency: "armstat".into(),
            dataset: "ilcs-poverty".into(),
            rows: 500,
            errors: (1..=100).map(problem).collect(),
            warnings: vec![],
            error_count: 500,
            truncated: true,
        };
        let status = tonic::Status::from(Error::Rejected(Box::new(report.clone())));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().len() <= STATUS_MESSAGE_BYTES, "message of {} bytes", status.message().len());
        assert!(status.message().starts_with("agency armstat dataset ilcs-poverty: rejected, 500 error(s)"));
        assert!(status.message().contains("more line(s) not shown"), "{}", status.message());
        assert!(status.details().len() <= STATUS_DETAILS_BYTES, "details of {} bytes", status.details().len());
        let sent = sdgx_schemas::flight::decode_report(status.details()).expect("details decode");
        assert!(sent.truncated && !sent.errors.is_empty() && sent.errors.len() < 100);
        assert_eq!(sent.errors[0], report.errors[0], "the first problems are the ones kept");
        assert_eq!(sent.error_count, 500);

        // A short report passes unchanged.
        let short = ValidationReport { errors: vec![problem(1)], error_count: 1, truncated: false, ..report };
        let status = tonic::Status::from(Error::Rejected(Box::new(short.clone())));
        assert_eq!(status.message(), short.to_string());
        assert_eq!(sdgx_schemas::flight::decode_report(status.details()).expect("decodes"), short);
    }
}
