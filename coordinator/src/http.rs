//! The HTTP API: health, figures as JSON, and the publications log.
//!
//! | route | returns |
//! | --- | --- |
//! | `GET /health` | `{"status": "ok", "store_version": N}` |
//! | `GET /api/v1/figures` | the figure names |
//! | `GET /api/v1/figures/{name}?from=&to=&as_of=` | one figure: numerator, denominator, share, by-goal rows, the indicators counted, the store version |
//! | `GET /api/v1/publications` | the publications log |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::figures::{self, Window, FIGURES};

/// Query parameters of a figure request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureParams {
    /// First reference year.
    pub from: Option<i32>,
    /// Last reference year.
    pub to: Option<i32>,
    /// Store version to read (current when absent).
    pub as_of: Option<i64>,
}

/// The HTTP router.
pub fn router(catalog: Arc<Catalog>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/figures", get(|| async { Json(json!({ "figures": FIGURES })) }))
        .route("/api/v1/figures/{name}", get(figure))
        .route("/api/v1/publications", get(publications))
        .with_state(catalog)
}

async fn health(State(c): State<Arc<Catalog>>) -> Json<Value> {
    Json(json!({ "status": "ok", "store_version": c.store().version().await }))
}

/// Computes figure `name` as JSON.
pub async fn figure_json(c: &Catalog, name: &str, p: &FigureParams) -> Result<Value> {
    if !FIGURES.contains(&name) {
        return Err(Error::NotFound(format!("no figure {name:?}; figures are {}", FIGURES.join(", "))));
    }
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if f > t {
            return Err(Error::BadRequest(format!("from {f} is after to {t}")));
        }
    }
    let window = Window { from: p.from, to: p.to };
    let session = c.session(p.as_of, window).await?;
    let fw = &c.contract().framework.version;
    let v = match name {
        "migration-disaggregation-share" => serde_json::to_value(figures::migration_share(&session, fw, window).await?),
        _ => serde_json::to_value(figures::reporting_status(&session, fw, window).await?),
    };
    v.map_err(|e| Error::Config(e.to_string()))
}

async fn figure(
    State(c): State<Arc<Catalog>>,
    Path(name): Path<String>,
    params: std::result::Result<Query<FigureParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>> {
    let Query(p) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    Ok(Json(figure_json(&c, &name, &p).await?))
}

async fn publications(State(c): State<Arc<Catalog>>) -> Json<Value> {
    Json(json!({ "store_version": c.store().version().await, "publications": c.store().publications().await }))
}
