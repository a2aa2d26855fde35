//! Turning loosely-typed input (contract CSV, Parquet, query results) into wire batches.
//!
//! - Columns are matched by their lowercase contract names; any other column is an
//!   `unknown_column` problem.
//! - A missing breakdown column means `_T`; missing `freq`, `reporting_type`, `unit_mult`,
//!   `obs_status` and `conf_status` take their defaults (`A`, `N`, `0`, `A`, `F`); missing
//!   optional columns are null. Empty cells are treated the same way.
//! - A missing or empty `unit_measure` is filled with the unit the series (or the national
//!   indicator) fixes, when there is one.
//! - Text columns of any string or numeric type are cast to text; numeric columns given as text
//!   are parsed, and a cell that is not a number is a `not_a_number` problem naming its row.
//! - **Global layout.** When the input has no `migratory_status` column, it is taken to be in
//!   the global SDMX layout: `MS_*` codes found in `composite_breakdown` move into
//!   `migratory_status` and `composite_breakdown` becomes `_T`. When the input has a
//!   `migratory_status` column, nothing moves, and `MS_*` in `composite_breakdown` is rejected
//!   by validation.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Builder, Int32Builder, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::observation::{idx, observation_schema, ColumnType, COLUMNS};
use crate::report::{Problem, Rule};

/// Converts batches of one input schema into wire batches, reporting problems per row.
pub struct Normalizer<'c> {
    contract: &'c Contract,
    sources: Vec<Option<usize>>,
    global_layout: bool,
    rows: u64,
    schema_problems: Vec<Problem>,
}

impl<'c> Normalizer<'c> {
    /// Plans the conversion from `input` to the wire schema.
    pub fn new(contract: &'c Contract, input: &Schema) -> Self {
        let mut schema_problems = Vec::new();
        for f in input.fields() {
            if crate::observation::column(f.name()).is_none() {
                schema_problems.push(Problem::new(Rule::UnknownColumn, None, Some(f.name()), None,
                    format!("column {:?} is not part of the observation schema (names are lowercase, see schemas/README.md)", f.name())));
            }
        }
        let sources = COLUMNS.iter().map(|c| input.index_of(c.name).ok()).collect::<Vec<_>>();
        for (c, s) in COLUMNS.iter().zip(&sources) {
            if s.is_none() && c.required && c.default.is_none() && c.name != "unit_measure" {
                schema_problems.push(Problem::new(Rule::MissingColumn, None, Some(c.name), None,
                    format!("column {} is required", c.name)));
            }
        }
        Normalizer {
            contract,
            global_layout: sources[idx::MIGRATORY_STATUS].is_none(),
            sources,
            rows: 0,
            schema_problems,
        }
    }

    /// Problems with the input's columns as a whole (unknown or missing columns).
    pub fn schema_problems(&self) -> &[Problem] {
        &self.schema_problems
    }

    /// Converts one batch; cell-level problems go to `problems`.
    pub fn normalize(&mut self, batch: &RecordBatch, problems: &mut dyn FnMut(Problem)) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let mut out: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len());
        for (i, c) in COLUMNS.iter().enumerate() {
            let src = self.sources[i].map(|s| batch.column(s));
            let array: ArrayRef = match c.data_type {
                ColumnType::Text => Arc::new(self.text(src, c.default, n)?),
                ColumnType::Float => self.float(src, i, n, problems)?,
                ColumnType::Int => self.int(src, i, c.default, n, problems)?,
            };
            out.push(array);
        }
        self.fill_units(&mut out);
        if self.global_layout {
            self.move_migratory_status(&mut out);
        }
        self.rows += n as u64;
        Ok(RecordBatch::try_new(observation_schema_nullable(), out)?)
    }

    fn text(&self, src: Option<&ArrayRef>, default: Option<&str>, n: usize) -> Result<StringArray> {
        let Some(src) = src else {
            return Ok(match default {
                Some(d) => StringArray::from_iter_values(std::iter::repeat_n(d, n)),
                None => StringArray::new_null(n),
            });
        };
        let a = cast(src, &DataType::Utf8)?;
        let a = a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let needs_fix = a.null_count() > 0 || a.iter().any(|v| v == Some(""));
        if !needs_fix {
            return Ok(a.clone());
        }
        Ok(a.iter().map(|v| v.filter(|s| !s.is_empty()).or(default)).collect())
    }

    fn parse_cells<T: std::str::FromStr>(
        &self,
        src: &ArrayRef,
        col: usize,
        what: &str,
        problems: &mut dyn FnMut(Problem),
        mut push: impl FnMut(Option<T>),
    ) -> Result<()> {
        let a = cast(src, &DataType::Utf8)?;
        let a = a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        for (r, v) in a.iter().enumerate() {
            match v.map(str::trim).filter(|s| !s.is_empty()) {
                None => push(None),
                Some(s) => match s.parse::<T>() {
                    Ok(x) => push(Some(x)),
                    Err(_) => {
                        problems(Problem::new(Rule::NotANumber, Some(self.rows + r as u64 + 1), Some(COLUMNS[col].name), Some(s),
                            format!("{} must be {what}", COLUMNS[col].name)));
                        push(None);
                    }
                },
            }
        }
        Ok(())
    }

    fn float(&self, src: Option<&ArrayRef>, col: usize, n: usize, problems: &mut dyn FnMut(Problem)) -> Result<ArrayRef> {
        let Some(src) = src else { return Ok(arrow::array::new_null_array(&DataType::Float64, n)) };
        if is_text(src.data_type()) {
            let mut b = Float64Builder::with_capacity(n);
            self.parse_cells::<f64>(src, col, "a number (use . as decimal separator)", problems, |v| b.append_option(v))?;
            return Ok(Arc::new(b.finish()));
        }
        Ok(cast(src, &DataType::Float64)?)
    }

    fn int(&self, src: Option<&ArrayRef>, col: usize, default: Option<&str>, n: usize, problems: &mut dyn FnMut(Problem)) -> Result<ArrayRef> {
        let d: Option<i32> = default.and_then(|d| d.parse().ok());
        let mut b = Int32Builder::with_capacity(n);
        match src {
            None => (0..n).for_each(|_| b.append_option(d)),
            Some(src) if is_text(src.data_type()) => {
                self.parse_cells::<i32>(src, col, "a whole number", problems, |v| b.append_option(v.or(d)))?;
            }
            Some(src) => {
                let a = cast(src, &DataType::Int32)?;
                let a = a.as_any().downcast_ref::<arrow::array::Int32Array>().expect("cast to Int32");
                a.iter().for_each(|v| b.append_option(v.or(d)));
            }
        }
        Ok(Arc::new(b.finish()))
    }

    fn fill_units(&self, out: &mut [ArrayRef]) {
        let unit = out[idx::UNIT_MEASURE].as_any().downcast_ref::<StringArray>().expect("text");
        if unit.null_count() == 0 {
            return;
        }
        let ind = out[idx::INDICATOR].as_any().downcast_ref::<StringArray>().expect("text");
        let series = out[idx::SERIES].as_any().downcast_ref::<StringArray>().expect("text");
        let fw = &self.contract.framework;
        let filled: StringArray = (0..unit.len())
            .map(|r| {
                if unit.is_valid(r) {
                    return Some(unit.value(r).to_owned());
                }
                let i = fw.indicator(ind.is_valid(r).then(|| ind.value(r))?)?;
                fw.expected_unit(i, series.is_valid(r).then(|| series.value(r))).map(str::to_owned)
            })
            .collect();
        out[idx::UNIT_MEASURE] = Arc::new(filled);
    }

    fn move_migratory_status(&self, out: &mut [ArrayRef]) {
        let comp = out[idx::COMPOSITE_BREAKDOWN].as_any().downcast_ref::<StringArray>().expect("text");
        let is_ms = |v: Option<&str>| v.is_some_and(|s| s.starts_with("MS_"));
        if !comp.iter().any(is_ms) {
            return;
        }
        let ms: StringArray = comp.iter().map(|v| Some(if is_ms(v) { v.unwrap_or_default() } else { "_T" })).collect();
        let comp2: StringArray = comp.iter().map(|v| if is_ms(v) { Some("_T") } else { v }).collect();
        out[idx::MIGRATORY_STATUS] = Arc::new(ms);
        out[idx::COMPOSITE_BREAKDOWN] = Arc::new(comp2);
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_text(v))
}

/// The wire schema with every field nullable: normalised batches may still hold empty
/// required cells, which validation then reports row by row.
pub fn observation_schema_nullable() -> SchemaRef {
    static S: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
        Arc::new(Schema::new(
            observation_schema().fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect::<Vec<_>>(),
        ))
    });
    S.clone()
}

/// Opens a contract CSV file (header row of contract column names) as a stream of all-text
/// batches of `batch_size` rows, to feed a [`Normalizer`].
pub fn read_csv(path: &Path, batch_size: usize) -> Result<arrow::csv::Reader<File>> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let mut header = csv::Reader::from_path(path).map_err(|e| Error::Catalogue {
        file: path.display().to_string(), line: 1, message: e.to_string(),
    })?;
    let names = header.headers().map_err(|e| Error::Catalogue {
        file: path.display().to_string(), line: 1, message: e.to_string(),
    })?;
    let schema = Schema::new(names.iter().map(|n| Field::new(n.trim(), DataType::Utf8, true)).collect::<Vec<_>>());
    let file = File::open(path).map_err(io)?;
    Ok(arrow::csv::ReaderBuilder::new(Arc::new(schema)).with_header(true).with_batch_size(batch_size).build(file)?)
}

/// Normalises and validates a stream of loosely-typed batches in one pass, handing each wire
/// batch to `sink` (for example a Flight encoder) as soon as it is checked.
pub fn validate_stream<I>(
    validator: &mut crate::Validator<'_>,
    contract: &Contract,
    schema: &Schema,
    batches: I,
    mut sink: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<()>
where
    I: IntoIterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>,
{
    let mut normalizer = Normalizer::new(contract, schema);
    for p in normalizer.schema_problems().to_vec() {
        validator.record(p);
    }
    let mut any = false;
    let empty = std::iter::once_with(|| Ok(RecordBatch::new_empty(Arc::new(schema.clone()))));
    for batch in batches.into_iter().chain(empty) {
        let batch = batch?;
        if any && batch.num_rows() == 0 {
            continue;
        }
        any = true;
        let mut found = Vec::new();
        let wire = normalizer.normalize(&batch, &mut |p| found.push(p))?;
        found.into_iter().for_each(|p| validator.record(p));
        validator.push(&wire);
        sink(wire)?;
    }
    Ok(())
}

/// Normalises and validates a contract CSV file: the import summary, or every problem found.
pub fn validate_csv(
    contract: &Contract,
    manifest: crate::Manifest,
    path: &Path,
    options: crate::ValidationOptions,
) -> Result<std::result::Result<crate::ImportSummary, crate::ValidationReport>> {
    let mut validator = crate::Validator::new(contract, manifest, options);
    let reader = read_csv(path, 8192)?;
    let schema = reader.schema();
    validate_stream(&mut validator, contract, &schema, reader, |_| Ok(()))?;
    validator.finish()
}
