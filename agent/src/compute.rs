//! Computing indicator datasets from a ministry's own data, inside the ministry.
//!
//! The agent config declares named **sources**, each registered as a table in an embedded
//! DataFusion session:
//!
//! ```toml
//! [[source]]
//! name = "lcs"                 # the table name in SQL
//! kind = "csv"                 # csv or parquet: a file or a directory of files
//! path = "microdata/lcs.csv"
//!
//! [[source]]
//! name = "register"
//! kind = "xlsx"                # an Excel workbook: a sheet (default: the first), optionally a range
//! path = "register.xlsx"
//! sheet = "Decisions"
//! range = "A1:F5000"           # the first row of the range is the header
//! ```
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
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use sdgx_schemas::observation::{Role, COLUMNS};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sdc::{self, Cell, Reason, SdcConfig, SdcSummary};

/// One named source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    /// The table name in SQL.
    pub name: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: SourceKind,
}

/// The kinds of source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceKind {
    /// CSV with a header row: a file or a directory of `.csv` files.
    Csv {
        /// File or directory.
        path: PathBuf,
        /// Field delimiter (default `,`).
        #[serde(default)]
        delimiter: Option<char>,
    },
    /// Parquet: a file or a directory of `.parquet` files.
    Parquet {
        /// File or directory.
        path: PathBuf,
    },
    /// An Excel workbook (`.xlsx`, `.xls`, `.ods`): one sheet, optionally a cell range whose
    /// first row is the header.
    Xlsx {
        /// The workbook.
        path: PathBuf,
        /// The sheet (default: the first).
        #[serde(default)]
        sheet: Option<String>,
        /// A range such as `A1:F500` (default: the sheet's used range).
        #[serde(default)]
        range: Option<String>,
    },
}

impl SourceKind {
    /// The file path, to resolve against the config's directory.
    pub fn path_mut(&mut self) -> &mut PathBuf {
        match self {
            SourceKind::Csv { path, .. } | SourceKind::Parquet { path } | SourceKind::Xlsx { path, .. } => path,
        }
    }
}

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

fn source_err(name: &str, path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Source { path: format!("{name:?} ({})", path.display()), message: message.to_string() }
}

/// Registers every source as a table of `ctx`.
pub async fn register(ctx: &SessionContext, sources: &[SourceConfig]) -> Result<()> {
    for s in sources {
        match &s.kind {
            SourceKind::Csv { path, delimiter } => {
                if !path.exists() {
                    return Err(source_err(&s.name, path, "no such file or directory"));
                }
                let mut opts = CsvReadOptions::new().has_header(true).file_extension(".csv");
                if let Some(d) = delimiter {
                    opts = opts.delimiter(u8::try_from(*d).map_err(|_| source_err(&s.name, path, "the delimiter must be one byte"))?);
                }
                let p = path.to_str().ok_or_else(|| source_err(&s.name, path, "path is not UTF-8"))?;
                ctx.register_csv(&s.name, p, opts).await.map_err(|e| source_err(&s.name, path, e))?;
            }
            SourceKind::Parquet { path } => {
                if !path.exists() {
                    return Err(source_err(&s.name, path, "no such file or directory"));
                }
                let p = path.to_str().ok_or_else(|| source_err(&s.name, path, "path is not UTF-8"))?;
                ctx.register_parquet(&s.name, p, ParquetReadOptions::default()).await.map_err(|e| source_err(&s.name, path, e))?;
            }
            SourceKind::Xlsx { path, sheet, range } => {
                let table = read_sheet(path, sheet.as_deref(), range.as_deref()).map_err(|m| source_err(&s.name, path, m))?;
                ctx.register_table(&s.name, Arc::new(table)).map_err(|e| source_err(&s.name, path, e))?;
            }
        }
    }
    Ok(())
}

/// `A1` → (row 0, column 0).
fn cell_ref(s: &str) -> Option<(u32, u32)> {
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let col = letters.to_ascii_uppercase().bytes().try_fold(0u32, |acc, b| acc.checked_mul(26)?.checked_add(u32::from(b - b'A' + 1)))?;
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col - 1))
}

/// Reads a sheet (or a range of it) into a table: the first row names the columns; a column
/// whose cells are all numbers (or empty) is Float64, any other Utf8.
fn read_sheet(path: &Path, sheet: Option<&str>, range: Option<&str>) -> std::result::Result<MemTable, String> {
    use calamine::{Data, Reader};
    let mut book = calamine::open_workbook_auto(path).map_err(|e| e.to_string())?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_owned(),
        Some(s) => return Err(format!("no sheet {s:?}; the workbook has {names:?}")),
        None => names.first().cloned().ok_or("the workbook has no sheet")?,
    };
    let mut data = book.worksheet_range(&name).map_err(|e| format!("sheet {name:?}: {e}"))?;
    if let Some(r) = range {
        let (a, b) = r.split_once(':').ok_or_else(|| format!("range {r:?} is not like A1:F500"))?;
        let (start, end) = (cell_ref(a).ok_or_else(|| format!("bad cell {a:?} in range {r:?}"))?, cell_ref(b).ok_or_else(|| format!("bad cell {b:?} in range {r:?}"))?);
        data = data.range(start, end);
    }
    let mut rows = data.rows();
    let header: Vec<String> = rows.next().ok_or_else(|| format!("sheet {name:?} is empty"))?.iter().map(|c| c.to_string().trim().to_owned()).collect();
    if let Some(i) = header.iter().position(String::is_empty) {
        return Err(format!("sheet {name:?}: header cell {} (column {}) is empty", i + 1, i + 1));
    }
    let body: Vec<&[Data]> = rows.collect();
    let numeric = |j: usize| body.iter().all(|r| matches!(r.get(j), None | Some(Data::Empty | Data::Int(_) | Data::Float(_))));
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (j, h) in header.iter().enumerate() {
        if numeric(j) {
            fields.push(Field::new(h, DataType::Float64, true));
            columns.push(Arc::new(
                body.iter()
                    .map(|r| match r.get(j) {
                        Some(Data::Int(i)) => Some(*i as f64),
                        Some(Data::Float(f)) => Some(*f),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
            ));
        } else {
            fields.push(Field::new(h, DataType::Utf8, true));
            columns.push(Arc::new(
                body.iter()
                    .map(|r| match r.get(j) {
                        None | Some(Data::Empty) => None,
                        Some(Data::Float(f)) if f.fract() == 0.0 => Some(format!("{}", *f as i64)),
                        Some(c) => Some(c.to_string()),
                    })
                    .collect::<StringArray>(),
            ));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    MemTable::try_new(schema, vec![vec![batch]]).map_err(|e| e.to_string())
}

/// Runs the definition of `dataset`'s `compute` over `sources`, applies disclosure control
/// and writes the protected contract rows to `output` (Parquet).
pub async fn compute(sources: &[SourceConfig], compute: &ComputeConfig, output: &Path) -> Result<Computed> {
    let ctx = SessionContext::new();
    register(&ctx, sources).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("F500"), Some((499, 5)));
        assert_eq!(cell_ref("AA10"), Some((9, 26)));
        assert_eq!(cell_ref("10"), None);
        assert_eq!(cell_ref("A0"), None);
    }
}
