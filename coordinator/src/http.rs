//! The HTTP API: health, figures as JSON, the publications log, read-only SQL and audit.
//!
//! | route | who | returns |
//! | --- | --- | --- |
//! | `GET /health` | anyone | `{"status": "ok", "store_version": N}` |
//! | `GET /api/v1/figures` | reader, admin | the figure names |
//! | `GET /api/v1/figures/{name}?from=&to=&as_of=` | reader, admin | one figure: numerator, denominator, share, by-goal rows, the indicators counted, the store version |
//! | `GET /api/v1/publications` | reader, admin | the publications log |
//! | `POST /api/v1/query` `{"sql": "...", "as_of": N or "RFC 3339"}` | reader, admin | rows of a read-only SQL query (see [`crate::query`]) |
//! | `GET /api/v1/calendar/{agency}` | that agency's token, reader, admin | the agency's reporting calendar: each report owed, its due date and status |
//! | `GET /api/v1/admin/audit` | admin | the audit of the tamper-evident log |
//! | `GET /api/v1/exports` | reader, admin | the export formats |
//! | `GET /api/v1/exports/{format}?as_of=` | reader, admin | one export as a file (see [`crate::export`]) |
//! | `GET /api/v1/openapi.json` | anyone | this API's OpenAPI description |
//! | `/dashboard/...` | reader, admin (login form, then a session cookie) | the web dashboard (see [`crate::dashboard`]) |
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
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{FailureLimiter, LockedOut, Role, Tokens};
use crate::catalog::{AsOf, Catalog};
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
}

/// Query parameters of a figure request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureParams {
    /// First reference year.
    pub from: Option<i32>,
    /// Last reference year.
    pub to: Option<i32>,
    /// Store version or RFC 3339 timestamp to read (current when absent).
    pub as_of: Option<AsOf>,
}

/// Body of a query request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One SQL statement.
    pub sql: String,
    /// Store version (number) or RFC 3339 timestamp (string) to read (current when absent).
    pub as_of: Option<AsOf>,
}

/// The HTTP router (serve it with `into_make_service_with_connect_info::<SocketAddr>()`).
pub fn router(state: Arc<HttpState>) -> Router {
    let reader = Router::new()
        .route("/api/v1/figures", get(|| async { Json(json!({ "figures": FigureKind::ALL })) }))
        .route("/api/v1/figures/{name}", get(figure))
        .route("/api/v1/publications", get(publications))
        .route("/api/v1/query", post(run_query))
        .route("/api/v1/exports", get(|| async { Json(json!({ "exports": crate::export::FORMATS.map(|(n, _)| n) })) }))
        .route("/api/v1/exports/{format}", get(export))
        .route_layer(from_fn_with_state((state.clone(), Role::Reader), authorize));
    let agency = Router::new()
        .route("/api/v1/calendar/{agency}", get(calendar))
        .route_layer(from_fn_with_state((state.clone(), Role::Agency), authorize));
    let admin = Router::new()
        .route("/api/v1/admin/audit", get(audit))
        .route_layer(from_fn_with_state((state.clone(), Role::Admin), authorize));
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .merge(reader)
        .merge(agency)
        .merge(admin)
        .merge(crate::dashboard::router(state.clone()))
        .with_state(state)
}

/// Admits a request whose bearer token has at least the role `need`. A request without
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
        Some((name, role)) if role < need => {
            Err(Error::PermissionDenied(format!("{name} has role {role:?}; this needs {need:?}")))
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

async fn health(State(s): State<Arc<HttpState>>) -> Json<Value> {
    Json(json!({ "status": "ok", "store_version": s.catalog.store().version().await }))
}

/// Asks the coordinator listening on `addr` for `GET /health` (a plain HTTP/1.0 request, for
/// container healthchecks: `sdgx-coordinator health`) and returns its store version. An
/// unspecified address (`0.0.0.0`, `::`) is asked on the loopback interface. Fails with
/// [`Error::Transport`] when nothing answers within `timeout`, the status is not 200 or the
/// body does not say `"status": "ok"`.
pub async fn probe(addr: SocketAddr, timeout: std::time::Duration) -> Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let fail = |m: String| Error::Transport(format!("health of http://{addr}: {m}"));
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| fail(e.to_string()))?;
        let request = format!("GET /health HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
        let mut response = Vec::new();
        stream.take(64 << 10).read_to_end(&mut response).await.map_err(|e| fail(e.to_string()))?;
        Ok::<_, Error>(String::from_utf8_lossy(&response).into_owned())
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

async fn figure(
    State(s): State<Arc<HttpState>>,
    Path(name): Path<String>,
    params: std::result::Result<Query<FigureParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let kind: FigureKind = name.parse()?;
    let body = figures::json(&s.catalog, kind, Window { from: p.from, to: p.to }, p.as_of.as_ref()).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn publications(State(s): State<Arc<HttpState>>) -> Json<Value> {
    let store = s.catalog.store();
    Json(json!({ "store_version": store.version().await, "publications": store.publications().await }))
}

async fn run_query(
    State(s): State<Arc<HttpState>>,
    body: std::result::Result<Json<QueryRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response> {
    use axum::response::IntoResponse;
    let Json(q) = body.map_err(|e| Error::BadRequest(e.body_text()))?;
    let out = query::run(&s.catalog, &q.sql, q.as_of.as_ref(), &s.limits).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], out.body).into_response())
}

async fn calendar(
    State(s): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Path(agency): Path<String>,
) -> Result<Json<Value>> {
    if caller.role == Role::Agency && caller.name != agency {
        return Err(Error::PermissionDenied(format!("agency {:?} may read only its own calendar, not {agency:?}'s", caller.name)));
    }
    let cal = figures::completeness::agency_calendar(&s.catalog, &agency, chrono::Utc::now()).await?;
    Ok(Json(serde_json::to_value(cal).map_err(|e| Error::Internal(e.to_string()))?))
}

/// Query parameters of an export.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Store version or RFC 3339 timestamp to read (current when absent).
    pub as_of: Option<AsOf>,
}

async fn export(
    State(s): State<Arc<HttpState>>,
    Path(format): Path<String>,
    params: std::result::Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    download(&s.catalog, &format, p.as_of.as_ref()).await
}

/// An export as a file download (shared with the dashboard).
pub async fn download(catalog: &Catalog, format: &str, as_of: Option<&AsOf>) -> Result<Response> {
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    let format = crate::export::Format::parse(format)?;
    let snapshot = crate::export::snapshot(catalog, as_of).await?;
    let bytes = crate::export::render(format, &snapshot)?;
    let name = format.file_name(snapshot.store_version);
    Response::builder()
        .header(CONTENT_TYPE, format.content_type())
        .header(CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))
        .header("x-sdgx-store-version", snapshot.store_version.to_string())
        .body(axum::body::Body::from(bytes))
        .map_err(|e| Error::Internal(e.to_string()))
}

async fn audit(State(s): State<Arc<HttpState>>) -> Result<Json<Value>> {
    let report = crate::audit::verify(&s.catalog).await?;
    Ok(Json(json!({ "passed": report.first_mismatch.is_none(), "report": report, "summary": report.to_string() })))
}
