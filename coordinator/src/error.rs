//! The coordinator's one error type, with its mappings to gRPC status and HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use datafusion::error::DataFusionError;
use sdgx_schemas::ValidationReport;

/// Everything that can go wrong in the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: a setting, or a file a setting names (token file,
    /// certificate or key, calendar entry, store URL).
    #[error("configuration: {0}")]
    Config(String),
    /// A failure of the coordinator itself, not of the request or the configuration; the
    /// message says what.
    #[error("internal: {0}")]
    Internal(String),
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
    /// A publication was validated against another framework than the one in force (see
    /// [`crate::framework_service`]); nothing was read or stored.
    #[error("{0}")]
    FrameworkMismatch(Box<sdgx_schemas::flight::FrameworkMismatch>),
    /// A publication whose agent was acknowledged a log entry this coordinator's history no
    /// longer holds (the store was restored from an older copy); nothing was read or stored.
    #[error("{0}")]
    RolledBack(Box<sdgx_schemas::flight::RolledBack>),
    /// The store's Delta log does not match its tamper-evident publications log (see
    /// [`crate::audit`]); the message names the commit.
    #[error("store integrity: {0}")]
    Integrity(String),
    /// A write (a publication, a decision, an upload) sent to a read-only replica; the message
    /// names the store and says to send it to the writer.
    #[error("{0}")]
    ReadOnly(String),
    /// The request conflicts with the current state (a decision on a publication whose status
    /// does not allow it).
    #[error("{0}")]
    Conflict(String),
    /// Publishing upstream (see [`crate::upstream`]): the agent library's error, from the
    /// outbox, the upstream's framework or a delivery.
    #[error("upstream: {0}")]
    Upstream(#[from] sdgx_agent::Error),
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

/// How an error is answered: its gRPC code, its HTTP status and the HTTP body's `error` name.
/// [`Error::kind`] gives it; both `tonic::Status` and the HTTP response are made from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The gRPC status code.
    pub grpc: tonic::Code,
    /// The HTTP status.
    pub http: StatusCode,
    /// The short machine-readable name in [`HttpError::error`].
    pub name: &'static str,
}

impl Kind {
    const fn new(grpc: tonic::Code, http: StatusCode, name: &'static str) -> Kind {
        Kind { grpc, http, name }
    }
    const BAD_REQUEST: Kind = Kind::new(tonic::Code::InvalidArgument, StatusCode::BAD_REQUEST, "bad_request");
    const INTERNAL: Kind = Kind::new(tonic::Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal");
}

impl Error {
    /// The one mapping of each kind of failure to its gRPC code and HTTP status. Every variant
    /// is named (no catch-all), so a new one cannot be added without choosing its answer.
    pub fn kind(&self) -> Kind {
        use tonic::Code;
        match self {
            Error::Config(_) | Error::Internal(_) => Kind::INTERNAL,
            Error::Contract(sdgx_schemas::Error::UnsupportedVersion { .. }) => {
                Kind::new(Code::FailedPrecondition, StatusCode::BAD_REQUEST, "bad_request")
            }
            Error::Contract(_) | Error::Rejected(_) | Error::BadRequest(_) => Kind::BAD_REQUEST,
            Error::NotFound(_) => Kind::new(Code::NotFound, StatusCode::NOT_FOUND, "not_found"),
            Error::Store(_) | Error::Parquet(_) | Error::Io { .. } | Error::Transport(_) => Kind::INTERNAL,
            Error::Query(q) if Error::is_user_query_error(q) => Kind::BAD_REQUEST,
            Error::Query(q) if Error::is_resources_exhausted(q) => {
                Kind::new(Code::ResourceExhausted, StatusCode::UNPROCESSABLE_ENTITY, "resources_exhausted")
            }
            Error::Query(_) => Kind::INTERNAL,
            // A status from a peer passes on with its own code (its message and details too).
            Error::Flight(arrow_flight::error::FlightError::Tonic(s)) => Kind { grpc: s.code(), ..Kind::INTERNAL },
            // Over Flight, a stream that does not decode is the sender's; over HTTP it is ours.
            Error::Flight(_) | Error::Arrow(_) => Kind { grpc: Code::InvalidArgument, ..Kind::INTERNAL },
            Error::Unauthenticated(_) => Kind::new(Code::Unauthenticated, StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::PermissionDenied(_) => Kind::new(Code::PermissionDenied, StatusCode::FORBIDDEN, "permission_denied"),
            Error::TooManyAttempts(_) => Kind::new(Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Error::LimitReached(_) => Kind::new(Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, "limit_reached"),
            Error::Timeout(_) => Kind::new(Code::DeadlineExceeded, StatusCode::REQUEST_TIMEOUT, "timeout"),
            Error::Overloaded(_) => Kind::new(Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            Error::NoSpace { .. } => Kind::new(Code::ResourceExhausted, StatusCode::INSUFFICIENT_STORAGE, "no_space"),
            Error::Integrity(_) => Kind { grpc: Code::DataLoss, ..Kind::INTERNAL },
            Error::Conflict(_) => Kind::new(Code::FailedPrecondition, StatusCode::CONFLICT, "conflict"),
            Error::ReadOnly(_) => Kind::new(Code::FailedPrecondition, StatusCode::FORBIDDEN, "read_only_replica"),
            Error::FrameworkMismatch(_) => Kind::new(Code::FailedPrecondition, StatusCode::CONFLICT, "framework_mismatch"),
            Error::RolledBack(_) => Kind::new(Code::FailedPrecondition, StatusCode::CONFLICT, "rolled_back"),
            Error::Upstream(_) => Kind::INTERNAL,
        }
    }

    /// The message a status carries: a variant that wraps a user's message sends it bare.
    fn status_message(&self) -> String {
        match self {
            Error::BadRequest(m)
            | Error::NotFound(m)
            | Error::Unauthenticated(m)
            | Error::PermissionDenied(m)
            | Error::TooManyAttempts(m)
            | Error::LimitReached(m)
            | Error::Timeout(m)
            | Error::Overloaded(m) => m.clone(),
            e => e.to_string(),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let s = match &e {
            Error::Rejected(report) => tonic::Status::with_details(
                tonic::Code::InvalidArgument,
                report.to_string(),
                bounded_details(report).into(),
            ),
            Error::Flight(arrow_flight::error::FlightError::Tonic(s)) => (**s).clone(),
            Error::FrameworkMismatch(m) => tonic::Status::with_details(e.kind().grpc, m.to_string(), m.encode().into()),
            Error::RolledBack(r) => tonic::Status::with_details(e.kind().grpc, r.to_string(), r.encode().into()),
            _ => {
                let code = e.kind().grpc;
                if code == tonic::Code::Internal {
                    tracing::error!(error = %e, "internal error");
                }
                tonic::Status::new(code, e.status_message())
            }
        };
        if s.message().len() <= STATUS_MESSAGE_BYTES {
            return s;
        }
        tonic::Status::with_details(s.code(), bounded(s.message().to_owned()), s.details().to_vec().into())
    }
}

/// The JSON body of every HTTP error.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HttpError {
    /// A short machine-readable kind.
    #[schema(value_type = String)]
    pub error: &'static str,
    /// What went wrong.
    pub message: String,
    /// The validation report, for rejected publications.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<ValidationReport>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let kind = self.kind();
        if kind.http == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "internal error");
        }
        let report = match &self {
            Error::Rejected(r) => Some((**r).clone()),
            _ => None,
        };
        (kind.http, axum::Json(HttpError { error: kind.name, message: self.to_string(), report })).into_response()
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
    /// Which variant `e` is, by position; no catch-all, so a new variant must be listed here
    /// (and then given a case below, or the coverage assertion fails).
    fn variant(e: &Error) -> usize {
        match e {
            Error::Config(_) => 0,
            Error::Internal(_) => 1,
            Error::Contract(_) => 2,
            Error::Rejected(_) => 3,
            Error::BadRequest(_) => 4,
            Error::NotFound(_) => 5,
            Error::Store(_) => 6,
            Error::Query(_) => 7,
            Error::Arrow(_) => 8,
            Error::Parquet(_) => 9,
            Error::Flight(_) => 10,
            Error::Io { .. } => 11,
            Error::Unauthenticated(_) => 12,
            Error::PermissionDenied(_) => 13,
            Error::TooManyAttempts(_) => 14,
            Error::LimitReached(_) => 15,
            Error::Timeout(_) => 16,
            Error::Overloaded(_) => 17,
            Error::Transport(_) => 18,
            Error::NoSpace { .. } => 19,
            Error::Integrity(_) => 20,
            Error::Conflict(_) => 21,
            Error::FrameworkMismatch(_) => 22,
            Error::Upstream(_) => 23,
            Error::ReadOnly(_) => 24,
            Error::RolledBack(_) => 25,
        }
    }
    const VARIANTS: usize = 26;

    #[test]
    fn every_variant_has_its_grpc_code_and_http_status() {
        use tonic::Code;
        let report = || ValidationReport {
            agency: "a".into(),
            dataset: "d".into(),
            rows: 1,
            errors: vec![],
            warnings: vec![],
            error_count: 0,
            truncated: false,
        };
        let df = |e: DataFusionError| Error::Query(e);
        let wrapped = |e: DataFusionError| df(DataFusionError::Context("while planning".into(), Box::new(e)));
        let flight_status = || arrow_flight::error::FlightError::Tonic(Box::new(tonic::Status::unavailable("peer gone")));
        let cases = || -> Vec<(Error, Code, StatusCode, &str)> { vec![
            (Error::Config("c".into()), Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (Error::Internal("i".into()), Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (
                Error::Contract(sdgx_schemas::Error::UnsupportedVersion { got: "9".into(), supported: "1" }),
                Code::FailedPrecondition,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (Error::Contract(sdgx_schemas::Error::Manifest("m".into())), Code::InvalidArgument, StatusCode::BAD_REQUEST, "bad_request"),
            (Error::Rejected(Box::new(report())), Code::InvalidArgument, StatusCode::BAD_REQUEST, "bad_request"),
            (Error::BadRequest("b".into()), Code::InvalidArgument, StatusCode::BAD_REQUEST, "bad_request"),
            (Error::NotFound("n".into()), Code::NotFound, StatusCode::NOT_FOUND, "not_found"),
            (Error::Store(deltalake::DeltaTableError::Generic("s".into())), Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (df(DataFusionError::Plan("p".into())), Code::InvalidArgument, StatusCode::BAD_REQUEST, "bad_request"),
            (wrapped(DataFusionError::NotImplemented("n".into())), Code::InvalidArgument, StatusCode::BAD_REQUEST, "bad_request"),
            (
                wrapped(DataFusionError::ResourcesExhausted("r".into())),
                Code::ResourceExhausted,
                StatusCode::UNPROCESSABLE_ENTITY,
                "resources_exhausted",
            ),
            (df(DataFusionError::Execution("x".into())), Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (
                Error::Arrow(arrow::error::ArrowError::ComputeError("a".into())),
                Code::InvalidArgument,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                Error::Parquet(parquet::errors::ParquetError::General("p".into())),
                Code::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (Error::Flight(flight_status()), Code::Unavailable, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (
                Error::Flight(arrow_flight::error::FlightError::ProtocolError("f".into())),
                Code::InvalidArgument,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (Error::Io { path: "p".into(), source: std::io::Error::other("o") }, Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (Error::Unauthenticated("u".into()), Code::Unauthenticated, StatusCode::UNAUTHORIZED, "unauthenticated"),
            (Error::PermissionDenied("p".into()), Code::PermissionDenied, StatusCode::FORBIDDEN, "permission_denied"),
            (Error::TooManyAttempts("t".into()), Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            (Error::LimitReached("l".into()), Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, "limit_reached"),
            (Error::Timeout("t".into()), Code::DeadlineExceeded, StatusCode::REQUEST_TIMEOUT, "timeout"),
            (Error::Conflict("c".into()), Code::FailedPrecondition, StatusCode::CONFLICT, "conflict"),
            (Error::ReadOnly("r".into()), Code::FailedPrecondition, StatusCode::FORBIDDEN, "read_only_replica"),
            (Error::Overloaded("o".into()), Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            (Error::Transport("t".into()), Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (Error::NoSpace { path: "p".into() }, Code::ResourceExhausted, StatusCode::INSUFFICIENT_STORAGE, "no_space"),
            (Error::Integrity("i".into()), Code::DataLoss, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (Error::Upstream(sdgx_agent::Error::Config("u".into())), Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (
                Error::FrameworkMismatch(Box::new(sdgx_schemas::flight::FrameworkMismatch::new(
                    "agency a dataset d".into(),
                    sdgx_schemas::Contract::global().bundle.reference(),
                    sdgx_schemas::Contract::global().bundle.reference(),
                ))),
                Code::FailedPrecondition,
                StatusCode::CONFLICT,
                "framework_mismatch",
            ),
            (
                Error::RolledBack(Box::new(sdgx_schemas::flight::RolledBack {
                    sdgx: "rolled_back".into(),
                    publication: "agency a dataset d".into(),
                    known: sdgx_schemas::evidence::ChainHead { store_version: 3, entry_hash: "sha256:ab".into() },
                    newest_version: 2,
                })),
                Code::FailedPrecondition,
                StatusCode::CONFLICT,
                "rolled_back",
            ),
        ] };
        let mut seen = [false; VARIANTS];
        // Each error twice: the HTTP response and the status each consume one.
        for ((e, grpc, http, name), (again, ..)) in cases().into_iter().zip(cases()) {
            seen[variant(&e)] = true;
            let shown = format!("{e:?}");
            assert_eq!(e.kind(), Kind { grpc, http, name }, "{shown}");
            assert_eq!(e.into_response().status(), http, "{shown}");
            assert_eq!(tonic::Status::from(again).code(), grpc, "{shown}");
        }
        let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
        assert!(missing.is_empty(), "variants without a case: {missing:?}");
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
