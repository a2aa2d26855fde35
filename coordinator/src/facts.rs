//! A publication's *facts*: the small summary of its observations every national figure is
//! computed from, so that a figure costs what the indicators cost, not what the store holds.
//!
//! Only observations that count take part: `obs_status` other than `M`. Nothing here depends on
//! the framework or the coordinator's configuration (in scope, migration relevance, the
//! national area), which the figure views apply when they read the facts, so facts computed
//! once at ingest stay right when the framework changes.
//!
//! - **Breakdown facts**, one row per distinct (indicator, reference year, reference area,
//!   dimension, code): dimension `ref_area` with the row's own area as its code (so an
//!   (indicator, year, area) is produced exactly when it has a `ref_area` row), and each
//!   breakdown column (`sex`, …, `migratory_status`) with a code other than `_T` and `_Z`: the
//!   codes themselves for the dimensions of [`CODES_KEPT`] (the coverage matrix lists them),
//!   [`PRESENT`] for the others (only their presence counts), so facts do not grow with a custom
//!   breakdown's thousands of codes. Keyed by area, they say what each area's observations
//!   hold (the per-area figures), at a cost of indicators × years × areas × codes, never rows.
//! - **Gap facts**, one row per migrant / non-migrant pair: two observations of the publication
//!   with a value, the same indicator, series, reference area, period, unit, unit multiplier and
//!   reporting type, every breakdown but `migratory_status` a total (`_T` or `_Z`), one
//!   `MS_MIGRANT` and the other `MS_NOMIGRANT` (the pair `observation::migrant_side` defines).
//!
//! The reference year is `CAST(substr(time_period, 1, 4) AS INT)`, as in the figure views'
//! window; null when the period does not start with one (the validator refuses such periods).
//!
//! The facts format is [`FORMAT`]: format 1 (before breakdown facts had `ref_area`) is
//! recomputed from the observations when a store is opened (see `Store::open`).
//!
//! Facts are written beside the table as two Parquet files (`_sdgx_facts/<publication>.*.parquet`)
//! before the publication's commit, and the commit's log entry names them with their hashes (see
//! docs/store.md), so a store version's facts are those of the publications current at it.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Float64Type, Schema, SchemaRef};
use sdgx_schemas::observation::{self, is_breakdown, MigrantSide};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The dimension of breakdown facts that lists reference areas (and the column naming the
/// area of every breakdown fact).
pub const AREA: &str = "ref_area";

/// The format of the facts this coordinator writes: 2, breakdown facts keyed by reference area
/// too. Format 1 (no `ref_area` column) is what log entries without a `format` name.
pub const FORMAT: u32 = 2;

/// The breakdown dimensions whose codes the facts keep (the coverage matrix's, but geography,
/// which is `ref_area`).
pub const CODES_KEPT: [&str; 6] = ["sex", "age", "migratory_status", "disability_status", "urbanisation", "income_wealth_quantile"];

/// The code breakdown facts give a dimension outside [`CODES_KEPT`] that is present.
pub const PRESENT: &str = "*";

/// The directory, under the table's root, holding the facts files.
pub const DIR: &str = "_sdgx_facts";

/// The schema of breakdown facts.
pub fn breakdown_schema() -> SchemaRef {
    static S: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("indicator", DataType::Utf8, false),
            Field::new("year", DataType::Int32, true),
            Field::new(AREA, DataType::Utf8, false),
            Field::new("dimension", DataType::Utf8, false),
            Field::new("code", DataType::Utf8, false),
        ]))
    });
    S.clone()
}

/// The schema of gap facts.
pub fn gap_schema() -> SchemaRef {
    static S: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("indicator", DataType::Utf8, true),
            Field::new("series", DataType::Utf8, true),
            Field::new("ref_area", DataType::Utf8, true),
            Field::new("time_period", DataType::Utf8, true),
            Field::new("year", DataType::Int32, true),
            Field::new("unit_measure", DataType::Utf8, true),
            Field::new("unit_mult", DataType::Int32, true),
            Field::new("reporting_type", DataType::Utf8, true),
            Field::new("migrant", DataType::Float64, false),
            Field::new("non_migrant", DataType::Float64, false),
        ]))
    });
    S.clone()
}

/// One publication's facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Breakdown facts ([`breakdown_schema`]).
    pub breakdowns: RecordBatch,
    /// Gap facts ([`gap_schema`]).
    pub gaps: RecordBatch,
}

/// The key of a gap cell: indicator, series, ref_area, time_period, unit_measure, unit_mult,
/// reporting_type.
type GapKey = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<i32>, Option<String>);

/// Computes a publication's facts from its batches (the contract's columns, found by name).
#[derive(Default)]
pub struct FactsBuilder {
    /// Slot of each (indicator, year, area) in `codes`.
    slots: FxHashMap<String, FxHashMap<(Option<i32>, String), usize>>,
    /// Per slot, what it has seen.
    codes: Vec<Slot>,
    /// Per gap key, the migrant values and the non-migrant values, in arrival order.
    cells: FxHashMap<GapKey, (Vec<f64>, Vec<f64>)>,
}

/// The codes seen of one (indicator, year, area).
struct Slot {
    indicator: String,
    year: Option<i32>,
    area: String,
    /// Per dimension (`ref_area` first, then the breakdowns in wire order), the codes seen.
    codes: Vec<FxHashSet<String>>,
}

/// The dimensions of breakdown facts, in order: `ref_area`, then the breakdown columns.
pub fn dimensions() -> impl Iterator<Item = &'static str> {
    std::iter::once(AREA).chain(observation::breakdowns().map(|c| c.name))
}

/// The reference year of a period: its first four characters as a number.
pub fn year(time_period: &str) -> Option<i32> {
    time_period.get(..4).and_then(|y| y.parse().ok())
}

/// The columns facts are computed from, as plain arrays (a batch read back through DataFusion
/// may hold views or dictionaries: they are cast).
struct Columns {
    indicator: StringArray,
    series: StringArray,
    time_period: StringArray,
    unit_measure: StringArray,
    reporting_type: StringArray,
    obs_status: StringArray,
    /// [`dimensions`], in order.
    dims: Vec<StringArray>,
    /// Per dimension: whether its codes are kept (`ref_area` and [`CODES_KEPT`]).
    coded: Vec<bool>,
    value: Float64Array,
    unit_mult: Int32Array,
}

fn get(a: &StringArray, row: usize) -> Option<&str> {
    a.is_valid(row).then(|| a.value(row))
}

impl Columns {
    fn of(batch: &RecordBatch) -> Result<Columns> {
        let column = |name: &str, to: &DataType| -> Result<ArrayRef> {
            let a = batch.column_by_name(name).ok_or_else(|| Error::Internal(format!("facts: the batch has no column {name}")))?;
            Ok(if a.data_type() == to { a.clone() } else { arrow::compute::cast(a, to)? })
        };
        let text = |name: &str| -> Result<StringArray> { Ok(column(name, &DataType::Utf8)?.as_string::<i32>().clone()) };
        Ok(Columns {
            indicator: text("indicator")?,
            series: text("series")?,
            time_period: text("time_period")?,
            unit_measure: text("unit_measure")?,
            reporting_type: text("reporting_type")?,
            obs_status: text("obs_status")?,
            dims: dimensions().map(text).collect::<Result<_>>()?,
            coded: dimensions().map(|d| d == AREA || CODES_KEPT.contains(&d)).collect(),
            value: column("obs_value", &DataType::Float64)?.as_primitive::<Float64Type>().clone(),
            unit_mult: column("unit_mult", &DataType::Int32)?.as_primitive::<Int32Type>().clone(),
        })
    }
}

/// The index of `migratory_status` among [`dimensions`].
fn migratory_dimension() -> usize {
    dimensions().position(|d| d == "migratory_status").expect("a breakdown of the contract")
}

impl FactsBuilder {
    /// The slot of (indicator, year, area), created when new.
    fn slot(&mut self, indicator: &str, year: Option<i32>, area: &str, dims: usize) -> usize {
        let key = (year, area.to_owned());
        if let Some(s) = self.slots.get(indicator).and_then(|y| y.get(&key)) {
            return *s;
        }
        let s = self.codes.len();
        self.codes.push(Slot { indicator: indicator.to_owned(), year, area: area.to_owned(), codes: vec![FxHashSet::default(); dims] });
        self.slots.entry(indicator.to_owned()).or_default().insert(key, s);
        s
    }

    /// Adds the observations of `batch`.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let c = Columns::of(batch)?;
        let migratory = migratory_dimension();
        // Rows come in runs of one indicator and period: the last slot is tried first.
        let mut last: Option<(usize, usize)> = None;
        for row in 0..batch.num_rows() {
            // As SQL's `obs_status <> 'M'`: a null status does not count either.
            if get(&c.obs_status, row).is_none_or(|s| s == "M") {
                continue;
            }
            let Some(indicator) = get(&c.indicator, row) else { continue };
            // The contract requires an area: a row without one (never valid) has no facts.
            let Some(area) = get(&c.dims[0], row) else { continue };
            let tp = get(&c.time_period, row);
            let slot = match last {
                Some((r, s)) if get(&c.indicator, r) == Some(indicator) && get(&c.time_period, r) == tp && get(&c.dims[0], r) == Some(area) => s,
                _ => self.slot(indicator, tp.and_then(year), area, c.dims.len()),
            };
            last = Some((row, slot));
            let sets = &mut self.codes[slot].codes;
            for (d, column) in c.dims.iter().enumerate() {
                let Some(code) = get(column, row) else { continue };
                if d > 0 && !is_breakdown(code) {
                    continue;
                }
                let code = if c.coded[d] { code } else { PRESENT };
                if !sets[d].contains(code) {
                    sets[d].insert(code.to_owned());
                }
            }
            let side = match get(&c.dims[migratory], row).and_then(observation::migrant_side) {
                Some(MigrantSide::Migrant) => 0,
                Some(MigrantSide::NonMigrant) => 1,
                None => continue,
            };
            if !c.value.is_valid(row)
                || c.dims.iter().enumerate().skip(1).any(|(d, b)| d != migratory && get(b, row).is_none_or(is_breakdown))
            {
                continue;
            }
            let owned = |a: &StringArray| get(a, row).map(str::to_owned);
            let key = (
                Some(indicator.to_owned()),
                owned(&c.series),
                owned(&c.dims[0]),
                tp.map(str::to_owned),
                owned(&c.unit_measure),
                c.unit_mult.is_valid(row).then(|| c.unit_mult.value(row)),
                owned(&c.reporting_type),
            );
            let values = self.cells.entry(key).or_default();
            if side == 0 { &mut values.0 } else { &mut values.1 }.push(c.value.value(row));
        }
        Ok(())
    }

    /// The facts of everything pushed.
    pub fn finish(self) -> Result<Facts> {
        let dims: Vec<&'static str> = dimensions().collect();
        let mut rows: Vec<(String, Option<i32>, String, &'static str, String)> = Vec::new();
        for slot in self.codes {
            for (d, codes) in slot.codes.into_iter().enumerate() {
                rows.extend(codes.into_iter().map(|code| (slot.indicator.clone(), slot.year, slot.area.clone(), dims[d], code)));
            }
        }
        rows.sort();
        let breakdowns = RecordBatch::try_new(
            breakdown_schema(),
            vec![
                Arc::new(rows.iter().map(|r| Some(r.0.as_str())).collect::<StringArray>()),
                Arc::new(rows.iter().map(|r| r.1).collect::<Int32Array>()),
                Arc::new(rows.iter().map(|r| Some(r.2.as_str())).collect::<StringArray>()),
                Arc::new(rows.iter().map(|r| Some(r.3)).collect::<StringArray>()),
                Arc::new(rows.iter().map(|r| Some(r.4.as_str())).collect::<StringArray>()),
            ],
        )?;
        let mut pairs: Vec<(GapKey, f64, f64)> = Vec::new();
        for (key, (migrant, non_migrant)) in self.cells {
            for m in &migrant {
                pairs.extend(non_migrant.iter().map(|n| (key.clone(), *m, *n)));
            }
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.total_cmp(&b.2)));
        let text = |f: fn(&GapKey) -> &Option<String>| -> ArrayRef {
            Arc::new(pairs.iter().map(|p| f(&p.0).as_deref()).collect::<StringArray>())
        };
        let gaps = RecordBatch::try_new(
            gap_schema(),
            vec![
                text(|k| &k.0),
                text(|k| &k.1),
                text(|k| &k.2),
                text(|k| &k.3),
                Arc::new(pairs.iter().map(|p| p.0 .3.as_deref().and_then(year)).collect::<Int32Array>()),
                text(|k| &k.4),
                Arc::new(pairs.iter().map(|p| p.0 .5).collect::<Int32Array>()),
                text(|k| &k.6),
                Arc::new(pairs.iter().map(|p| p.1).collect::<Float64Array>()),
                Arc::new(pairs.iter().map(|p| p.2).collect::<Float64Array>()),
            ],
        )?;
        Ok(Facts { breakdowns, gaps })
    }
}

/// A file the store wrote beside the table, as a log entry names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredFile {
    /// Path relative to the table's root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:<hex>` of its bytes.
    pub sha256: String,
}

/// Where a publication's facts are, as its log entry names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactsRef {
    /// The breakdown facts.
    pub breakdowns: StoredFile,
    /// The gap facts.
    pub gaps: StoredFile,
    /// Their format ([`FORMAT`] when written now); absent, so the entry hashes as it did,
    /// for format 1.
    #[serde(default = "first_format", skip_serializing_if = "is_first_format")]
    pub format: u32,
}

fn first_format() -> u32 {
    1
}

fn is_first_format(f: &u32) -> bool {
    *f == 1
}

impl FactsRef {
    /// Whether the files hold facts of the format this coordinator reads ([`FORMAT`]).
    pub fn is_current(&self) -> bool {
        self.format == FORMAT
    }
}

/// The paths of the facts files of `publication_id` written at ingest (relative to the
/// table's root).
pub fn paths(publication_id: &str) -> [String; 2] {
    [format!("{DIR}/{publication_id}.breakdowns.parquet"), format!("{DIR}/{publication_id}.gaps.parquet")]
}

/// The paths of the facts files of `publication_id` recomputed from its observations (its
/// entry names no facts, or facts of an older format), and of their index (the two files'
/// sizes and hashes), in the current format.
pub fn backfill_paths(publication_id: &str) -> [String; 3] {
    let stem = format!("{DIR}/{publication_id}.v{FORMAT}");
    [format!("{stem}.breakdowns.parquet"), format!("{stem}.gaps.parquet"), format!("{stem}.json")]
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `batch` as a Parquet file.
pub fn encode(batch: &RecordBatch) -> Result<bytes::Bytes> {
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    Ok(out.into())
}

/// The one batch of a facts file of `schema`, checked against the hash its entry records.
pub fn decode(bytes: bytes::Bytes, file: &StoredFile, schema: &SchemaRef) -> Result<RecordBatch> {
    let found = sha256(&bytes);
    if found != file.sha256 {
        return Err(Error::Integrity(format!("facts file {} hashes {found}, its log entry records {}", file.path, file.sha256)));
    }
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
    let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>()?;
    let batch = arrow::compute::concat_batches(schema, &batches)?;
    if batch.schema().fields() != schema.fields() {
        return Err(Error::Integrity(format!("facts file {} does not have the facts schema", file.path)));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch in the contract's schema from (column, values) pairs; other columns take their
    /// defaults (breakdowns `_T`).
    fn batch(rows: usize, set: &[(&str, Vec<Option<&str>>)], values: Vec<Option<f64>>) -> RecordBatch {
        crate::store::tests::contract_batch(|f| -> ArrayRef {
            match f.data_type() {
                DataType::Utf8 => {
                    let given = set.iter().find(|(n, _)| n == f.name()).map(|(_, v)| v.clone());
                    let default = observation::column(f.name()).and_then(|(_, c)| c.default).or((!f.is_nullable()).then_some("X"));
                    Arc::new(given.unwrap_or_else(|| vec![default; rows]).into_iter().collect::<StringArray>())
                }
                DataType::Float64 if f.name() == "obs_value" => Arc::new(Float64Array::from(values.clone())),
                DataType::Float64 => Arc::new(Float64Array::from(vec![None; rows])),
                DataType::Int32 => Arc::new(Int32Array::from(vec![0; rows])),
                other => unreachable!("{other}"),
            }
        })
    }

    fn breakdown_rows(f: &Facts) -> Vec<String> {
        let b = &f.breakdowns;
        (0..b.num_rows())
            .map(|r| {
                let s = |i: usize| b.column(i).as_string::<i32>().value(r).to_owned();
                let y = b.column(1).as_primitive::<Int32Type>();
                format!("{} {} {} {} {}", s(0), if y.is_valid(r) { y.value(r).to_string() } else { "-".into() }, s(2), s(3), s(4))
            })
            .collect()
    }

    #[test]
    fn breakdowns_list_each_code_once_and_skip_missing_cells() {
        let mut b = FactsBuilder::default();
        b.push(&batch(
            4,
            &[
                ("indicator", vec![Some("1.1.1"), Some("1.1.1"), Some("1.1.1"), Some("2.1.1")]),
                ("ref_area", vec![Some("AM"), Some("AM-ER"), Some("AM"), Some("AM")]),
                ("time_period", vec![Some("2021"), Some("2021-Q2"), Some("2021"), Some("2022")]),
                ("sex", vec![Some("F"), Some("F"), Some("M"), Some("F")]),
                ("cust_breakdown", vec![Some("C1"), Some("C2"), Some("_T"), Some("C3")]),
                ("migratory_status", vec![Some("_T"), Some("_Z"), Some("_T"), Some("MS_MIGRANT")]),
                ("obs_status", vec![Some("A"), Some("A"), Some("A"), Some("M")]),
            ],
            vec![Some(1.0), Some(2.0), None, None],
        ))
        .unwrap();
        let f = b.finish().unwrap();
        assert_eq!(
            breakdown_rows(&f),
            [
                "1.1.1 2021 AM cust_breakdown *",
                "1.1.1 2021 AM ref_area AM",
                "1.1.1 2021 AM sex F",
                "1.1.1 2021 AM sex M",
                "1.1.1 2021 AM-ER cust_breakdown *",
                "1.1.1 2021 AM-ER ref_area AM-ER",
                "1.1.1 2021 AM-ER sex F",
            ],
            "2.1.1's only row is missing (M): no facts; _T and _Z are not breakdowns; a custom breakdown's codes are not kept; \
             each area has its own facts"
        );
        assert_eq!(f.gaps.num_rows(), 0);
    }

    #[test]
    fn breakdown_facts_say_which_area_holds_each_code() {
        let mut b = FactsBuilder::default();
        // One publication, two areas, the same indicator and year: only GE's rows are by
        // migratory status; AM's second run comes after GE's (the run cache must not merge them).
        b.push(&batch(
            5,
            &[
                ("indicator", vec![Some("10.7.1"); 5]),
                ("ref_area", vec![Some("AM"), Some("GE"), Some("GE"), Some("AM"), Some("AZ")]),
                ("time_period", vec![Some("2020"); 5]),
                ("migratory_status", vec![Some("_T"), Some("MS_MIGRANT"), Some("_T"), Some("_T"), Some("MS_NOMIGRANT")]),
                ("sex", vec![Some("_T"), Some("_T"), Some("F"), Some("M"), Some("_T")]),
                ("obs_status", vec![Some("A"), Some("A"), Some("A"), Some("A"), Some("M")]),
            ],
            vec![Some(1.0); 5],
        ))
        .unwrap();
        assert_eq!(
            breakdown_rows(&b.finish().unwrap()),
            [
                "10.7.1 2020 AM ref_area AM",
                "10.7.1 2020 AM sex M",
                "10.7.1 2020 GE migratory_status MS_MIGRANT",
                "10.7.1 2020 GE ref_area GE",
                "10.7.1 2020 GE sex F",
            ],
            "AZ's only row is missing (M): AZ has no facts, so it produced nothing"
        );
    }

    #[test]
    fn a_facts_ref_without_a_format_is_format_1_and_hashes_as_written() {
        let file = StoredFile { path: "p".into(), size: 1, sha256: "sha256:00".into() };
        let old = r#"{"breakdowns":{"path":"p","size":1,"sha256":"sha256:00"},"gaps":{"path":"p","size":1,"sha256":"sha256:00"}}"#;
        let read: FactsRef = serde_json::from_str(old).unwrap();
        assert_eq!(read, FactsRef { breakdowns: file.clone(), gaps: file.clone(), format: 1 });
        assert!(!read.is_current(), "format 1 is recomputed");
        assert_eq!(serde_json::to_string(&read).unwrap(), old, "an old entry serialises as written, so its entry hash holds");
        let now = FactsRef { breakdowns: file.clone(), gaps: file, format: FORMAT };
        assert!(now.is_current());
        assert!(serde_json::to_string(&now).unwrap().ends_with(r#","format":2}"#));
    }

    #[test]
    fn gaps_pair_migrants_with_non_migrants_of_the_same_cell_only() {
        let ind = |n: usize| vec![Some("10.7.1"); n];
        let mut b = FactsBuilder::default();
        b.push(&batch(
            6,
            &[
                ("indicator", ind(6)),
                ("ref_area", vec![Some("AM"), Some("AM"), Some("AM"), Some("AM"), Some("GE"), Some("AM")]),
                ("time_period", vec![Some("2020"); 6]),
                ("migratory_status", vec![Some("MS_MIGRANT"), Some("MS_NOMIGRANT"), Some("MS_MIGRANT"), Some("MS_NOMIGRANT"), Some("MS_NOMIGRANT"), Some("MS_MIGRANT")]),
                // The third pair is by sex: not totals, no pair.
                ("sex", vec![Some("_T"), Some("_T"), Some("F"), Some("M"), Some("_T"), Some("_Z")]),
                ("unit_measure", vec![Some("PT"), Some("PT"), Some("PT"), Some("PT"), Some("PT"), Some("NUM")]),
            ],
            vec![Some(3.0), Some(4.0), Some(9.0), Some(1.0), Some(5.0), Some(7.0)],
        ))
        .unwrap();
        let g = b.finish().unwrap().gaps;
        assert_eq!(g.num_rows(), 1, "only (AM, 2020, PT) has both sides with totals elsewhere");
        let col = |n: &str| g.column_by_name(n).unwrap().as_primitive::<Float64Type>().value(0);
        assert_eq!((col("migrant"), col("non_migrant")), (3.0, 4.0));
        assert_eq!(g.column_by_name("year").unwrap().as_primitive::<Int32Type>().value(0), 2020);
    }

    #[test]
    fn a_facts_file_is_read_back_only_with_its_hash() {
        let f = FactsBuilder::default().finish().unwrap();
        let bytes = encode(&f.breakdowns).unwrap();
        let file = StoredFile { path: "x".into(), size: bytes.len() as u64, sha256: sha256(&bytes) };
        assert_eq!(decode(bytes.clone(), &file, &breakdown_schema()).unwrap(), f.breakdowns);
        let wrong = StoredFile { sha256: sha256(b"other"), ..file };
        assert!(matches!(decode(bytes, &wrong, &breakdown_schema()), Err(Error::Integrity(_))));
    }
}
