//! Computing indicator datasets from a ministry's own data, inside the ministry.
//!
//! The agent config declares named **sources** ([`crate::sources`]), each a table in an
//! embedded DataFusion session.
//!
//! A dataset with `[dataset.compute]` is an **indicator definition**: a SQL query over the
//! sources that yields contract columns (`indicator`, `ref_area`, `time_period`, the breakdown
//! columns it produces, `obs_value`, `unit_measure`, ...) plus `sdc_count`, the number of
//! respondents or records behind each cell (and `sdc_top_share` when the dominance rule is
//! on). Disclosure control ([`crate::sdc`]) is applied to the result; `sdc_*` columns never
//! leave the agent. The protected result is written as Parquet to the dataset's `source` path,
//! which is then checked and published like any contract file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use sdgx_schemas::observation::{Role, COLUMNS};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sources::SourceConfig;
use crate::sdc::{self, Cell, Reason, SdcConfig, SdcSummary};

/// How a dataset is computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeConfig {
    /// The SQL file of the indicator definition.
    pub sql: PathBuf,
    /// Disclosure control.
    #[serde(default)]
    pub sdc: SdcConfig,
}

/// A suppressed cell, for the dry-run summary (codes only: no value, no count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    /// `column=code` of the cell's identity and breakdown columns.
    pub cell: String,
    /// Why.
    pub reason: Reason,
}

/// What computing a dataset did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Computed {
    /// The Parquet file written.
    pub output: PathBuf,
    /// Rows written.
    pub rows: usize,
    /// Suppression counts.
    pub sdc: SdcSummary,
    /// Every suppressed cell.
    pub suppressed: Vec<Suppressed>,
}

/// Runs the definition of `dataset`'s `compute` over `sources`, applies disclosure control
/// and writes the protected contract rows to `output` (Parquet).
pub async fn compute(sources: &[SourceConfig], tls: Option<&crate::config::TlsConfig>, compute: &ComputeConfig, output: &Path) -> Result<Computed> {
    let ctx = SessionContext::new();
    let _spooled = crate::sources::register(&ctx, sources, tls).await?;
    let sql = std::fs::read_to_string(&compute.sql).map_err(|e| Error::Config(format!("indicator definition {}: {e}", compute.sql.display())))?;
    let definition = |m: String| Error::Source { path: format!("indicator definition {}", compute.sql.display()), message: m };
    let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = ctx.sql_with_options(&sql, read_only).await.map_err(|e| definition(e.to_string()))?;
    let batches = df.collect().await.map_err(|e| definition(e.to_string()))?;
    let batch = arrow::compute::concat_batches(&batches.first().map_or_else(|| Arc::new(Schema::empty()), |b| b.schema()), &batches)
        .map_err(|e| definition(e.to_string()))?;
    let schema = batch.schema();
    let col = |name: &str| schema.index_of(name).ok().map(|i| batch.column(i).clone());
    let count = col("sdc_count").ok_or_else(|| definition("the query must yield sdc_count: the respondents or records behind each cell".into()))?;
    let count = cast(&count, &DataType::UInt64).map_err(|e| definition(format!("sdc_count: {e}")))?;
    let count = count.as_primitive::<arrow::datatypes::UInt64Type>();
    let top = col("sdc_top_share").map(|a| cast(&a, &DataType::Float64)).transpose().map_err(|e| definition(format!("sdc_top_share: {e}")))?;
    if compute.sdc.dominance.is_some() && top.is_none() {
        return Err(definition("the dominance rule is on: the query must yield sdc_top_share".into()));
    }
    let value = cast(&col("obs_value").ok_or_else(|| definition("the query must yield obs_value".into()))?, &DataType::Float64)
        .map_err(|e| definition(format!("obs_value: {e}")))?;
    // The key: the contract's identity and breakdown columns the query yields, as text.
    let key_names: Vec<&str> = COLUMNS
        .iter()
        .filter(|c| matches!(c.role, Role::Identity | Role::Breakdown) && schema.index_of(c.name).is_ok())
        .map(|c| c.name)
        .collect();
    let key_cols: Vec<ArrayRef> = key_names.iter().map(|n| cast(&col(n).expect("present"), &DataType::Utf8)).collect::<std::result::Result<_, _>>().map_err(|e| definition(e.to_string()))?;
    let mut cells: Vec<Cell> = (0..batch.num_rows())
        .map(|i| Cell {
            key: key_cols.iter().map(|c| if c.is_null(i) { String::new() } else { c.as_string::<i32>().value(i).to_owned() }).collect(),
            value: value.as_primitive::<arrow::datatypes::Float64Type>().is_valid(i).then(|| value.as_primitive::<arrow::datatypes::Float64Type>().value(i)),
            count: if count.is_null(i) { 0 } else { count.value(i) },
            top_share: top.as_ref().and_then(|t| t.as_primitive::<arrow::datatypes::Float64Type>().is_valid(i).then(|| t.as_primitive::<arrow::datatypes::Float64Type>().value(i))),
            suppressed: None,
        })
        .collect();
    let summary = sdc::apply(&mut cells, &compute.sdc);
    let suppressed = cells
        .iter()
        .filter_map(|c| {
            let reason = c.suppressed?;
            let cell = key_names.iter().zip(&c.key).map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(" ");
            Some(Suppressed { cell, reason })
        })
        .collect();
    // The protected output: every column but sdc_*, obs_value nulled and conf_status C where
    // suppressed.
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        if f.name().starts_with("sdc_") || f.name() == "conf_status" {
            continue;
        }
        if f.name() == "obs_value" {
            fields.push(Field::new("obs_value", DataType::Float64, true));
            columns.push(Arc::new(cells.iter().map(|c| if c.suppressed.is_some() { None } else { c.value }).collect::<Float64Array>()));
        } else {
            fields.push(f.as_ref().clone());
            columns.push(batch.column(i).clone());
        }
    }
    let conf_in = col("conf_status").map(|a| cast(&a, &DataType::Utf8)).transpose().map_err(|e| definition(e.to_string()))?;
    fields.push(Field::new("conf_status", DataType::Utf8, true));
    columns.push(Arc::new(
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| match (&c.suppressed, &conf_in) {
                (Some(_), _) => Some("C".to_owned()),
                (None, Some(a)) if a.is_valid(i) => Some(a.as_string::<i32>().value(i).to_owned()),
                _ => Some("F".to_owned()),
            })
            .collect::<StringArray>(),
    ));
    let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| definition(e.to_string()))?;
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
    }
    let tmp = output.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::Config(format!("{}: {e}", tmp.display())))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, out.schema(), None).map_err(|e| Error::Config(e.to_string()))?;
    w.write(&out).map_err(|e| Error::Config(e.to_string()))?;
    w.close().map_err(|e| Error::Config(e.to_string()))?;
    std::fs::rename(&tmp, output).map_err(|e| Error::Config(format!("{}: {e}", output.display())))?;
    Ok(Computed { output: output.to_owned(), rows: out.num_rows(), sdc: summary, suppressed })
}

/// What computing did, for the dry-run summary.
pub fn render(c: &Computed) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let n = |r: Reason| c.sdc.suppressed.get(&r).copied().unwrap_or(0);
    let _ = writeln!(
        s,
        "computed {} row(s) into {}; disclosure control suppressed {} cell(s): {} below the threshold, {} dominated, {} secondary",
        c.rows,
        c.output.display(),
        c.suppressed.len(),
        n(Reason::Threshold),
        n(Reason::Dominance),
        n(Reason::Secondary)
    );
    for x in &c.suppressed {
        let why = match x.reason {
            Reason::Threshold => "below the threshold",
            Reason::Dominance => "dominated",
            Reason::Secondary => "secondary",
        };
        let _ = writeln!(s, "  suppressed ({why}): {}", x.cell);
    }
    s
}
