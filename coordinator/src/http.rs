//! The HTTP API: health, figures as JSON, the publications log, read-only SQL and audit.
//!
//! | route | who | returns |
//! | --- | --- | --- |
//! | `GET /health` | anyone | `{"status": "ok", "store_version": N, "role": "writer"}`; a read-only replica's says `"role": "replica"`, the store it follows, and when it last looked for the writer's commits (see [`crate::store::Store::refresh`]) |
//! | `GET /api/v1/figures` | reader, approver, admin | the figure names |
//! | `GET /api/v1/figures/{name}?from=&to=&as_of=&view=` | reader, approver, admin | one figure: numerator, denominator, share, by-goal rows, the indicators counted, the view and store version |
//! | `GET /api/v1/publications` | reader, approver, admin | the publications log, each publication with its sign-off status, and the decisions |
//! | `POST /api/v1/query` `{"sql": "...", "as_of": N or "RFC 3339", "view": "official" or "provisional"}` | reader, approver, admin | rows of a read-only SQL query (see [`crate::query`]) |
//! | `GET /api/v1/calendar/{agency}` | that agency's token, reader, approver, admin | the agency's reporting calendar: each report owed, its due date and status |
//! | `GET /api/v1/publications/{id}/status` | that agency's token, reader, approver, admin | one publication's sign-off status (a returned one with its reason) |
//! | `GET /api/v1/review` | approver | the review queue: submitted and embargoed publications (see [`crate::review`]) |
//! | `GET /api/v1/review/{id}` | approver | one publication's row diff, figure impact, quality warnings and decisions |
//! | `POST /api/v1/publications/{id}/{approve,return,unapprove}` `{"release_at": "RFC 3339", "reason": "..."}` | approver | records the decision (see [`crate::signoff`]) |
//! | `GET /api/v1/admin/audit` | admin | the audit of the tamper-evident log |
//! | `GET /api/v1/exports` | reader, approver, admin | the export formats |
//! | `GET /api/v1/exports/{format}?as_of=&view=` | reader, approver, admin | one export as a file (see [`crate::export`]) |
//! | `GET /api/v1/openapi.json` | anyone | this API's OpenAPI description |
//! | `GET /metrics` | metrics, admin | the Prometheus metrics (see [`crate::metrics`]) |
//! | `/dashboard/...` | reader, approver, admin (login form, then a session cookie) | the web dashboard (see [`crate::dashboard`]) |
//! | `/dashboard/upload...` | agency (login form, then a session cookie) | the upload page of agencies without a server (see [`crate::dashboard::upload`]) |
//!
//! Figures, queries and exports read the official view unless `view=provisional` is asked for;
//! each answer names the view and store version it read (`x-sdgx-view` and
//! `x-sdgx-store-version` headers on exports).
//!
//! Every route but `/health` and the OpenAPI description needs `Authorization: Bearer <token>`.
//! Invalid tokens count towards their address's failed authentications (see
//! [`crate::auth::FailureLimiter`]); past the allowance they are answered 429 with `Retry-After`.
//! Missing credentials (401) and CORS preflights never count, and a valid token is never refused.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::Extension;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::Method;
use axum::response::IntoResponse;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{FailureLimiter, LockedOut, Role, Tokens};
use crate::catalog::{AsOf, Catalog, Read};
use crate::signoff::View;
use crate::error::{Error, Result};
use crate::figures::{self, FigureKind, Window};
use crate::query;

/// What the HTTP handlers share.
pub struct HttpState {
    /// The query catalog.
    pub catalog: Arc<Catalog>,
    /// The tokens in force.
    pub tokens: Arc<Tokens>,
    /// The failed-authentication limiter.
    pub limiter: Arc<FailureLimiter>,
    /// Limits of analysts' queries.
    pub limits: query::Limits,
    /// The ingest path (the dashboard's upload page publishes through it).
    pub ingest: Arc<crate::ingest::Ingest>,
    /// Uploads checked on the upload page and kept for their submit.
    pub uploads: Arc<crate::dashboard::upload::Uploads>,
    /// The relay to the upstream coordinator, when configured.
    pub upstream: Option<Arc<crate::upstream::Upstream>>,
    /// The metrics registry (`GET /metrics`) and the latencies of figures and queries.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Timeout and body limit of every request (see [`layers`]).
    pub requests: RequestLimits,
    /// The dashboard's open sessions.
    pub sessions: crate::dashboard::session::Sessions,
    /// The `Strict-Transport-Security` value added to every answer (over TLS only).
    pub hsts: Option<axum::http::HeaderValue>,
}

/// The limits the HTTP port puts on each request (settings `connections.request_timeout_secs`
/// and `connections.max_request_body_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// The longest a request may take to be answered (its body read included): past it, 408.
    pub timeout: std::time::Duration,
    /// The largest request body outside the upload page (which has its own,
    /// [`crate::dashboard::upload::MAX_UPLOAD_BYTES`]): past it, 413.
    pub max_body_bytes: usize,
}

/// Query parameters of a figure request.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FigureParams {
    /// First reference year counted.
    #[param(minimum = -2147483648, maximum = 2147483647, nullable = false)]
    pub from: Option<i32>,
    /// Last reference year counted.
    #[param(minimum = -2147483648, maximum = 2147483647, nullable = false)]
    pub to: Option<i32>,
    /// Store version or RFC 3339 time to read (current when absent).
    #[param(nullable = false)]
    pub as_of: Option<AsOf>,
    /// The view: official (default): approved and released publications; provisional: every
    /// accepted publication.
    #[serde(default)]
    pub view: View,
}

/// Body of a query request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One SQL statement (read-only: no DDL, DML or other statements).
    #[schema(example = "SELECT key, numerator, denominator FROM migration_disaggregation_by_goal ORDER BY key")]
    pub sql: String,
    /// Store version (number) or RFC 3339 time (string) to read (current when absent).
    pub as_of: Option<AsOf>,
    /// The view: official (default) or provisional.
    #[serde(default)]
    pub view: View,
}

/// The names of the figures (`GET /api/v1/figures`).
#[derive(Debug, Serialize, ToSchema)]
pub struct FigureList {
    /// Every figure, in the order they are listed and exported.
    pub figures: Vec<FigureKind>,
}

/// The export formats (`GET /api/v1/exports`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportList {
    /// Every format's name.
    #[schema(value_type = Vec<crate::export::Format>)]
    pub exports: Vec<&'static str>,
}

/// What a coordinator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerRole {
    /// It writes the store.
    Writer,
    /// A read-only replica following the writer's store.
    Replica,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
    /// The current store version.
    pub store_version: i64,
    /// Writer or replica.
    pub role: ServerRole,
    /// A replica's store (its URL without credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    /// A replica's last look for the writer's commits without an error (RFC 3339); null
    /// before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Option<String>>,
    /// Why a replica's last look failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_error: Option<Option<String>>,
    /// Whether a replica still follows (false once a commit did not verify).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
}

/// A publication of the log with its sign-off status.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedPublication {
    /// The log entry.
    #[serde(flatten)]
    pub entry: crate::entry::PublicationEntry,
    /// Where it stands.
    pub sign_off: crate::signoff::Status,
}

/// `GET /api/v1/publications`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicationsLog {
    /// The current store version.
    pub store_version: i64,
    /// Every publication, oldest first.
    pub publications: Vec<LoggedPublication>,
    /// Every decision, oldest first.
    pub decisions: Vec<crate::signoff::Decision>,
}

/// `GET /api/v1/publications/{id}/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicationStatus {
    /// The publication.
    pub publication_id: String,
    /// Its agency.
    pub agency: String,
    /// Its dataset.
    pub dataset: String,
    /// The current store version.
    pub store_version: i64,
    /// Where it stands.
    pub sign_off: crate::signoff::Status,
    /// When its last decision was made (RFC 3339), null before any.
    pub decided_at: Option<String>,
}

/// `GET /api/v1/admin/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditAnswer {
    /// Whether every entry verified.
    pub passed: bool,
    /// The audit.
    pub report: crate::audit::AuditReport,
    /// The audit in words.
    pub summary: String,
}

/// `GET /api/v1/admin/upstream`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamAnswer {
    /// Whether `[upstream]` is configured.
    pub configured: bool,
    /// Without `[upstream]`: says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// With `[upstream]`: the queue.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::upstream::Status>,
}

/// The HTTP router (serve it with `into_make_service_with_connect_info::<SocketAddr>()`).
pub fn router(state: Arc<HttpState>) -> Router {
    let reader = Router::new()
        .route("/api/v1/figures", get(figure_list))
        .route("/api/v1/figures/{name}", get(figure))
        .route("/api/v1/publications", get(publications))
        .route("/api/v1/query", post(run_query))
        .route("/api/v1/exports", get(export_list))
        .route("/api/v1/exports/{format}", get(export))
        .route_layer(from_fn_with_state((state.clone(), Role::Reader), authorize));
    let agency = Router::new()
        .route("/api/v1/calendar/{agency}", get(calendar))
        .route("/api/v1/publications/{id}/status", get(publication_status))
        .route_layer(from_fn_with_state((state.clone(), Role::Agency), authorize));
    let approver = Router::new()
        .route("/api/v1/review", get(review_queue))
        .route("/api/v1/review/{id}", get(review_detail))
        .route("/api/v1/publications/{id}/{action}", post(decide))
        .route_layer(from_fn_with_state((state.clone(), Role::Approver), authorize));
    let admin = Router::new()
        .route("/api/v1/admin/audit", get(audit))
        .route("/api/v1/admin/upstream", get(upstream))
        .route_layer(from_fn_with_state((state.clone(), Role::Admin), authorize));
    let metrics = Router::new().route("/metrics", get(metrics)).route_layer(from_fn_with_state((state.clone(), Role::Metrics), authorize));
    let limits = state.requests;
    let api = Router::new()
        .route("/health", get(health))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(reader)
        .merge(agency)
        .merge(approver)
        .merge(admin)
        .merge(metrics)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limits.max_body_bytes));
    let app = api
        .merge(crate::dashboard::router(state.clone()))
        .layer(axum::middleware::map_response_with_state(state.clone(), strict_transport))
        .with_state(state);
    layers(app, limits)
}

/// `app` with the layers of every request: the access log (one line per request at `info`,
/// target `sdgx_coordinator::access`: method, path without the query, peer, status and
/// latency; never a header, so no token or cookie) and the request timeout.
fn layers(app: Router, limits: RequestLimits) -> Router {
    use tower_http::trace::TraceLayer;
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string()).unwrap_or_default();
            tracing::info_span!(target: "sdgx_coordinator::access", "request", method = %req.method(), path = %req.uri().path(), peer = %peer)
        })
        .on_request(())
        .on_response(|res: &Response, latency: std::time::Duration, _span: &tracing::Span| {
            tracing::info!(target: "sdgx_coordinator::access", status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1e3, "served");
        })
        // A failed request is logged with its status above; the error itself where it arose.
        .on_failure(())
        .on_eos(());
    app.layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, limits.timeout)).layer(trace)
}

/// The Prometheus metrics (text format 0.0.4; see [`crate::metrics`]).
#[utoipa::path(get, path = "/metrics", extensions(("x-sdgx-role" = json!("metrics"))),
    responses((status = 200, description = "The metrics, in the Prometheus text format 0.0.4", content_type = "text/plain; version=0.0.4", body = String)))]
pub(crate) async fn metrics(State(s): State<Arc<HttpState>>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, sdgx_agent::metrics::CONTENT_TYPE)], s.metrics.render()).into_response()
}

/// Adds the `Strict-Transport-Security` header to `response` when the port serves TLS.
async fn strict_transport(State(state): State<Arc<HttpState>>, mut response: Response) -> Response {
    if let Some(v) = &state.hsts {
        response.headers_mut().insert(axum::http::header::STRICT_TRANSPORT_SECURITY, v.clone());
    }
    response
}

/// Admits a request whose bearer token's role grants `need` (see [`Role::grants`]). A request without
/// credentials is answered 401 and not counted; an invalid token counts towards its address's
/// failed authentications (never for `OPTIONS`, a CORS preflight) and, once the address has
/// spent its allowance, is answered 429 with `Retry-After`. A valid token is always admitted.
async fn authorize(
    State((state, need)): State<(Arc<HttpState>, Role)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Result<Response> {
    let ip = peer.ip();
    let token = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Error::Unauthenticated("send Authorization: Bearer <token>".into()));
    };
    match state.tokens.authenticate(token) {
        None => {
            if req.method() != Method::OPTIONS {
                if let Err(locked) = state.limiter.failed(ip) {
                    return Ok(locked_out(&locked));
                }
                tracing::warn!(%ip, "rejected an invalid bearer token");
            }
            Err(Error::Unauthenticated("the bearer token is not valid".into()))
        }
        Some((name, role)) if !role.grants(need) => {
            Err(Error::PermissionDenied(format!("{name} has role {role:?}, which may not do this (it needs {need:?})")))
        }
        Some((name, role)) => {
            let caller = Caller { name: name.to_owned(), role };
            let mut req = req;
            req.extensions_mut().insert(caller);
            Ok(next.run(req).await)
        }
    }
}

/// The answer to a failed authentication from a locked-out address: 429 with `Retry-After`.
pub fn locked_out(locked: &LockedOut) -> Response {
    let mut response = Error::TooManyAttempts(locked.message()).into_response();
    response.headers_mut().insert(RETRY_AFTER, locked.secs().into());
    response
}

/// The authenticated token holder of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name (for an agency token: the agency id).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// Liveness, the current store version, and whether this is the writer or a read-only replica.
#[utoipa::path(get, path = "/health", extensions(("x-sdgx-role" = json!("anyone"))),
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn health(State(s): State<Arc<HttpState>>) -> Json<Health> {
    let store = s.catalog.store();
    let store_version = store.version().await;
    let health = Health { status: "ok", store_version, role: ServerRole::Writer, replica_of: None, checked_at: None, follow_error: None, following: None };
    Json(match store.following() {
        None => health,
        Some(f) => Health {
            role: ServerRole::Replica,
            replica_of: Some(crate::storage::redact(store.url())),
            checked_at: Some(f.checked_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))),
            follow_error: Some(f.error),
            following: Some(f.stopped.is_none()),
            ..health
        },
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", extensions(("x-sdgx-role" = json!("anyone"))),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

/// The names of the figures.
#[utoipa::path(get, path = "/api/v1/figures", extensions(("x-sdgx-role" = json!("reader"))),
    responses((status = 200, description = "The figure names", body = FigureList)))]
pub(crate) async fn figure_list() -> Json<FigureList> {
    Json(FigureList { figures: FigureKind::ALL.to_vec() })
}

/// The export formats.
#[utoipa::path(get, path = "/api/v1/exports", extensions(("x-sdgx-role" = json!("reader"))),
    responses((status = 200, description = "The export formats", body = ExportList)))]
pub(crate) async fn export_list() -> Json<ExportList> {
    Json(ExportList { exports: crate::export::FORMATS.map(|(n, _)| n).to_vec() })
}

/// Asks the coordinator listening on `addr` for `GET /health` (an HTTP/1.0 request, for
/// container healthchecks: `sdgx-coordinator health`) and returns its store version. With
/// `tls` (the port's `[http.tls]`) it asks over TLS and accepts only the certificate that
/// configuration names (the first of its `cert` file), so it needs no CA. An unspecified
/// address (`0.0.0.0`, `::`) is asked on the loopback interface. Fails with
/// [`Error::Transport`] when nothing answers within `timeout`, the certificate is another, the
/// status is not 200 or the body does not say `"status": "ok"`.
pub async fn probe(addr: SocketAddr, tls: Option<&crate::config::HttpTlsConfig>, timeout: std::time::Duration) -> Result<u64> {
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let fail = |m: String| Error::Transport(format!("health of {scheme}://{addr}: {m}"));
    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, addr: SocketAddr) -> std::io::Result<String> {
        let request = format!("GET /health HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.take(64 << 10).read_to_end(&mut response).await?;
        Ok(String::from_utf8_lossy(&response).into_owned())
    }
    let ask = async {
        let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| fail(e.to_string()))?;
        match tls {
            None => exchange(stream, addr).await.map_err(|e| fail(e.to_string())),
            Some(t) => {
                let connector = tokio_rustls::TlsConnector::from(Arc::new(pinned_client(&t.cert)?));
                let name = rustls::pki_types::ServerName::from(addr.ip());
                let stream = connector.connect(name, stream).await.map_err(|e| fail(format!("TLS: {e}")))?;
                exchange(stream, addr).await.map_err(|e| fail(e.to_string()))
            }
        }
    };
    let response = tokio::time::timeout(timeout, ask).await.map_err(|_| fail(format!("no answer within {timeout:?}")))??;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| fail("not an HTTP response".into()))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(fail(format!("answered {status:?}")));
    }
    let v: Value = serde_json::from_str(body).map_err(|e| fail(format!("body {body:?}: {e}")))?;
    match (v["status"].as_str(), v["store_version"].as_u64()) {
        (Some("ok"), Some(version)) => Ok(version),
        _ => Err(fail(format!("answered {body}"))),
    }
}

/// A TLS client accepting only the first certificate of the PEM file `cert` (whatever its
/// names or issuer), with its signatures checked as usual.
fn pinned_client(cert: &std::path::Path) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let leaf = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .map_err(|e| Error::Transport(format!("TLS: {}: {e}", cert.display())))?
        .next()
        .ok_or_else(|| Error::Transport(format!("TLS: {} holds no certificate", cert.display())))?
        .map_err(|e| Error::Transport(format!("TLS: {}: {e}", cert.display())))?;
    let provider = rustls::crypto::CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = Arc::new(Pinned { leaf, provider: provider.clone() });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS client: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// Accepts exactly one certificate: the health probe's check that the port it asks is the
/// coordinator the configuration describes.
#[derive(Debug)]
struct Pinned {
    leaf: rustls::pki_types::CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("the port presented another certificate than http.tls.cert".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// One figure, with its definition, parts and the store version read.
#[utoipa::path(get, path = "/api/v1/figures/{name}", extensions(("x-sdgx-role" = json!("reader"))),
    params(("name" = FigureKind, Path, description = "The figure"), FigureParams),
    responses(
        (status = 200, description = "The figure (its fields depend on the figure asked for)", body = figures::Figure),
        (status = 400, description = "A parameter is malformed: the message says which and why", body = crate::error::HttpError),
        (status = 404, description = "No such figure, or as_of names no store version", body = crate::error::HttpError),
    ))]
pub(crate) async fn figure(
    State(s): State<Arc<HttpState>>,
    Path(name): Path<String>,
    params: std::result::Result<Query<FigureParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let kind: FigureKind = name.parse()?;
    let started = std::time::Instant::now();
    let body = figures::json(&s.catalog, kind, Window { from: p.from, to: p.to }, &Read { view: p.view, as_of: p.as_of }).await;
    s.metrics.figure(kind.name(), started);
    let body = body?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The publications log, each publication with its sign-off status, and the decisions.
#[utoipa::path(get, path = "/api/v1/publications", extensions(("x-sdgx-role" = json!("reader"))),
    responses((status = 200, description = "The log", body = PublicationsLog)))]
pub(crate) async fn publications(State(s): State<Arc<HttpState>>) -> Result<Json<PublicationsLog>> {
    let store = s.catalog.store();
    let store_version = store.version().await;
    let log = store.publications().await;
    let decisions = store.decisions().await;
    let mut statuses = crate::signoff::statuses(&log, &decisions, store_version);
    let publications = log
        .into_iter()
        .map(|entry| {
            let sign_off = statuses
                .remove(&entry.publication_id)
                .ok_or_else(|| Error::Internal(format!("publication {} has no sign-off status", entry.publication_id)))?;
            Ok(LoggedPublication { entry, sign_off })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(PublicationsLog { store_version, publications, decisions }))
}

/// One publication's sign-off status: submitted, approved (with its release time), returned or
/// unapproved (with the reason); an agency token reads only its own.
#[utoipa::path(get, path = "/api/v1/publications/{id}/status", extensions(("x-sdgx-role" = json!("agency"))),
    params(("id" = String, Path, description = "The publication id")),
    responses(
        (status = 200, description = "Its status", body = PublicationStatus),
        (status = 404, description = "No such publication (or another agency's)", body = crate::error::HttpError),
    ))]
pub(crate) async fn publication_status(
    State(s): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<PublicationStatus>> {
    let store = s.catalog.store();
    let log = store.publications().await;
    let not_found = || Error::NotFound(format!("no publication {id:?} in the log"));
    let e = log.iter().find(|e| e.publication_id == id).ok_or_else(not_found)?;
    if caller.role == Role::Agency && caller.name != e.agency {
        // Another agency's publication is not even acknowledged to exist.
        return Err(not_found());
    }
    let version = store.version().await;
    let decisions = store.decisions().await;
    let status = crate::signoff::statuses(&log, &decisions, version).remove(&id).ok_or_else(not_found)?;
    let decided_at = decisions.iter().rev().find(|d| d.publication_id == id).map(|d| d.decided_at.clone());
    Ok(Json(PublicationStatus {
        publication_id: id,
        agency: e.agency.clone(),
        dataset: e.dataset.clone(),
        store_version: version,
        sign_off: status,
        decided_at,
    }))
}

/// The review queue: submitted publications, and approved ones not yet released.
#[utoipa::path(get, path = "/api/v1/review", extensions(("x-sdgx-role" = json!("approver"))),
    responses((status = 200, description = "The queue", body = crate::review::Queue)))]
pub(crate) async fn review_queue(State(s): State<Arc<HttpState>>) -> Result<Json<crate::review::Queue>> {
    Ok(Json(crate::review::queue(&s.catalog).await?))
}

/// One publication's review: rows added, removed and changed against the dataset's official
/// version, figure impact, quality warnings, decisions.
#[utoipa::path(get, path = "/api/v1/review/{id}", extensions(("x-sdgx-role" = json!("approver"))),
    params(("id" = String, Path, description = "The publication id")),
    responses(
        (status = 200, description = "Its review", body = crate::review::Detail),
        (status = 404, description = "No such publication", body = crate::error::HttpError),
    ))]
pub(crate) async fn review_detail(State(s): State<Arc<HttpState>>, Path(id): Path<String>) -> Result<Json<crate::review::Detail>> {
    Ok(Json(crate::review::detail(&s.catalog, &id).await?))
}

/// Records a decision (approve, return or unapprove), with `release_at` (approve) or `reason`
/// (required to return or un-approve).
#[utoipa::path(post, path = "/api/v1/publications/{id}/{action}", extensions(("x-sdgx-role" = json!("approver"))),
    params(("id" = String, Path, description = "The publication id"), ("action" = crate::signoff::Action, Path, description = "The decision")),
    request_body = crate::signoff::Request,
    responses(
        (status = 200, description = "The decision recorded", body = crate::signoff::Decision),
        (status = 400, description = "The body is malformed, or a reason is missing", body = crate::error::HttpError),
        (status = 404, description = "No such publication or decision", body = crate::error::HttpError),
        (status = 409, description = "The publication's status does not allow this decision", body = crate::error::HttpError),
    ))]
pub(crate) async fn decide(
    State(s): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
    body: std::result::Result<Json<crate::signoff::Request>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::signoff::Decision>> {
    s.catalog.store().writable()?;
    let action: crate::signoff::Action = action.parse().map_err(|_| Error::NotFound(format!("no decision {action:?}: use approve, return or unapprove")))?;
    let Json(request) = body.map_err(|e| Error::BadRequest(e.body_text()))?;
    Ok(Json(s.catalog.store().decide(&id, action, &caller.name, &request, s.catalog.clock().now()?).await?))
}

/// A read-only SQL query over the store.
#[utoipa::path(post, path = "/api/v1/query", extensions(("x-sdgx-role" = json!("reader"))),
    request_body = QueryRequest,
    responses(
        (status = 200, description = "The rows", body = query::Answer),
        (status = 400, description = "The body is malformed, or the SQL is not a valid read-only query: the message says why", body = crate::error::HttpError),
        (status = 404, description = "as_of names no store version", body = crate::error::HttpError),
        (status = 408, description = "The query ran out of time", body = crate::error::HttpError),
        (status = 422, description = "The query ran out of memory", body = crate::error::HttpError),
    ))]
pub(crate) async fn run_query(
    State(s): State<Arc<HttpState>>,
    body: std::result::Result<Json<QueryRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response> {
    use axum::response::IntoResponse;
    let Json(q) = body.map_err(|e| Error::BadRequest(e.body_text()))?;
    let started = std::time::Instant::now();
    let out = query::run(&s.catalog, &q.sql, &Read { view: q.view, as_of: q.as_of }, &s.limits).await;
    s.metrics.query(crate::metrics::Surface::Http, started);
    let out = out?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], out.body).into_response())
}

/// An agency's reporting calendar (an agency token reads only its own).
#[utoipa::path(get, path = "/api/v1/calendar/{agency}", extensions(("x-sdgx-role" = json!("agency"))),
    params(("agency" = String, Path, description = "The agency id")),
    responses(
        (status = 200, description = "Each report owed, its due date and status", body = sdgx_schemas::api::AgencyCalendar),
        (status = 403, description = "An agency token asked for another agency's calendar", body = crate::error::HttpError),
    ))]
pub(crate) async fn calendar(
    State(s): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Path(agency): Path<String>,
) -> Result<Json<sdgx_schemas::api::AgencyCalendar>> {
    if caller.role == Role::Agency && caller.name != agency {
        return Err(Error::PermissionDenied(format!("agency {:?} may read only its own calendar, not {agency:?}'s", caller.name)));
    }
    Ok(Json(figures::completeness::agency_calendar(&s.catalog, &agency, chrono::Utc::now()).await?))
}

/// Query parameters of an export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Store version or RFC 3339 time to read (current when absent).
    #[param(nullable = false)]
    pub as_of: Option<AsOf>,
    /// The view: official (default) or provisional.
    #[serde(default)]
    pub view: View,
    /// The language of the report's and the annex's texts (a BCP 47 tag, or a comma-separated
    /// list, first preferred); `Accept-Language`, then the coordinator's `language`, when absent.
    #[param(nullable = false)]
    pub lang: Option<String>,
}

/// One export as a file: SDMX-CSV 1.0/2.0, the SDMX report, the Open SDG bundle (zip), the
/// XLSX annex, the HTML report.
#[utoipa::path(get, path = "/api/v1/exports/{format}", extensions(("x-sdgx-role" = json!("reader"))),
    params(("format" = crate::export::Format, Path, description = "The format"), ExportParams),
    responses(
        (status = 200, description = "The file; x-sdgx-view and x-sdgx-store-version say what it read",
            headers(("x-sdgx-store-version" = i64, description = "The store version read"), ("x-sdgx-view" = View, description = "The view read")),
            content(
                ("application/vnd.sdmx.data+csv; charset=utf-8"),
                ("text/plain; charset=utf-8"),
                ("application/zip"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                ("text/html; charset=utf-8"),
            )),
        (status = 400, description = "A parameter is malformed: the message says which and why", body = crate::error::HttpError),
        (status = 404, description = "No such format, or as_of names no store version", body = crate::error::HttpError),
    ))]
pub(crate) async fn export(
    State(s): State<Arc<HttpState>>,
    Path(format): Path<String>,
    headers: axum::http::HeaderMap,
    params: std::result::Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let tr = reader_language(&s.catalog, p.lang.as_deref(), &headers);
    download(&s.catalog, &format, &Read { view: p.view, as_of: p.as_of }, tr).await
}

/// The reader's languages of a request: `?lang=`, else `Accept-Language`, else the
/// coordinator's `language` setting.
pub fn reader_language(catalog: &Catalog, lang: Option<&str>, headers: &axum::http::HeaderMap) -> crate::i18n::Tr {
    let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    crate::i18n::Tr::negotiate(lang, accept, &catalog.registers().language)
}

/// An export as a file download (shared with the dashboard), its texts in `tr`'s languages.
pub async fn download(catalog: &Catalog, format: &str, read: &Read, tr: crate::i18n::Tr) -> Result<Response> {
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LANGUAGE, CONTENT_TYPE};
    let format = crate::export::Format::parse(format)?;
    let mut snapshot = crate::export::snapshot(catalog, read).await?;
    snapshot.tr = tr;
    let lang = snapshot.tr.lang();
    let bytes = crate::export::render(format, &snapshot)?;
    let name = format.file_name(snapshot.store_version);
    Response::builder()
        .header(CONTENT_TYPE, format.content_type())
        .header(CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))
        .header("x-sdgx-store-version", snapshot.store_version.to_string())
        .header("x-sdgx-view", snapshot.view.name())
        .header(CONTENT_LANGUAGE, lang)
        .body(axum::body::Body::from(bytes))
        .map_err(|e| Error::Internal(e.to_string()))
}

/// The upstream queue (configured false without `[upstream]`): outbox entries of what this
/// coordinator publishes to its upstream coordinator, and what each upstream dataset last relayed.
#[utoipa::path(get, path = "/api/v1/admin/upstream", extensions(("x-sdgx-role" = json!("admin"))),
    responses((status = 200, description = "The queue", body = UpstreamAnswer)))]
pub(crate) async fn upstream(State(s): State<Arc<HttpState>>) -> Result<Json<UpstreamAnswer>> {
    Ok(Json(match s.upstream.as_ref() {
        None => UpstreamAnswer {
            configured: false,
            message: Some("this coordinator publishes to no upstream coordinator (no [upstream] in its configuration)".into()),
            status: None,
        },
        Some(up) => UpstreamAnswer { configured: true, message: None, status: Some(up.status()?) },
    }))
}

/// Verification of the tamper-evident publications log.
#[utoipa::path(get, path = "/api/v1/admin/audit", extensions(("x-sdgx-role" = json!("admin"))),
    responses((status = 200, description = "The audit", body = AuditAnswer)))]
pub(crate) async fn audit(State(s): State<Arc<HttpState>>) -> Result<Json<AuditAnswer>> {
    let report = crate::audit::verify(&s.catalog).await?;
    Ok(Json(AuditAnswer { passed: report.first_mismatch.is_none(), summary: report.to_string(), report }))
}
