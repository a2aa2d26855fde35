//! Analysts' SQL sandbox. Every statement runs:
//! - with DDL, DML and statements disabled (`SQLOptions`), so no `CREATE EXTERNAL TABLE`,
//!   `COPY ... TO`, `INSERT`, `DROP` or `SET`;
//! - in a session with no table provider or function that reads server files or URLs: URL
//!   tables (`SELECT * FROM '/etc/passwd'`) are not enabled, and DataFusion's core registers no
//!   file-reading function (the `read_csv`/`read_parquet` table functions exist only in
//!   datafusion-cli); the only tables are those of [`crate::catalog`];
//! - under the query engine's memory limit (one runtime per query), a timeout and a row cap.

use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::execution::context::SQLOptions;
use futures::TryStreamExt;
use serde::Serialize;

use crate::catalog::{AsOf, Catalog};
use crate::error::{Error, Result};
use crate::figures::Window;

/// Limits applied to each analyst query.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock limit of one query.
    pub timeout: Duration,
    /// At most this many rows are returned; the result says when it was truncated.
    pub max_rows: usize,
}

/// The options every analyst statement is planned with.
pub fn sql_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// A query's result.
#[derive(Debug, Clone)]
pub struct Output {
    /// The batches, at most `max_rows` rows in all.
    pub batches: Vec<RecordBatch>,
    /// The result schema.
    pub schema: arrow::datatypes::SchemaRef,
    /// Whether rows were cut at the cap.
    pub truncated: bool,
    /// The store version read.
    pub store_version: i64,
}

/// Runs one analyst statement in the sandbox.
pub async fn run(catalog: &Catalog, sql: &str, as_of: Option<&AsOf>, limits: Limits) -> Result<Output> {
    let version = catalog.version_of(as_of).await?;
    let session = catalog.session(Some(version), Window::default()).await?;
    let work = async {
        let df = session.ctx.sql_with_options(sql, sql_options()).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let mut stream = df.execute_stream().await?;
        let (mut batches, mut rows, mut truncated) = (Vec::new(), 0usize, false);
        while let Some(b) = stream.try_next().await? {
            if rows + b.num_rows() > limits.max_rows {
                batches.push(b.slice(0, limits.max_rows - rows));
                truncated = true;
                break;
            }
            rows += b.num_rows();
            batches.push(b);
        }
        Ok::<_, Error>(Output { batches, schema, truncated, store_version: session.store_version })
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| Error::Timeout(format!("the query ran longer than {} s and was stopped", limits.timeout.as_secs())))?
}

/// A query result as JSON.
#[derive(Debug, Serialize)]
pub struct JsonOutput {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows as objects.
    pub rows: serde_json::Value,
    /// Whether rows were cut at the cap.
    pub truncated: bool,
    /// The store version read.
    pub store_version: i64,
}

impl Output {
    /// Converts to JSON rows.
    pub fn to_json(&self) -> Result<JsonOutput> {
        let mut w = arrow::json::ArrayWriter::new(Vec::new());
        let refs: Vec<&RecordBatch> = self.batches.iter().collect();
        w.write_batches(&refs)?;
        w.finish()?;
        let bytes = w.into_inner();
        let rows = if bytes.is_empty() { serde_json::Value::Array(vec![]) } else {
            serde_json::from_slice(&bytes).map_err(|e| Error::Config(e.to_string()))?
        };
        Ok(JsonOutput {
            columns: self.schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows,
            truncated: self.truncated,
            store_version: self.store_version,
        })
    }
}
