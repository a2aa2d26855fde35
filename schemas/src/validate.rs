//! Streaming validation of a publication: a manifest plus record batches in the wire schema.
//!
//! [`Validator::push`] examines one batch at a time and keeps only what the rules need across
//! batches (one 128-bit key hash and one 32-byte digest per row, for duplicate detection and
//! the content hash, spilled to temporary files beyond a million rows, and the points of the
//! [quality rules](crate::quality), capped), so a dataset never has to be held in memory whole.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use rustc_hash::{FxHashMap, FxHashSet};


use crate::codelist::Codelist;
use crate::contract::Contract;
use crate::framework::Indicator;
use crate::hash::{self, ColumnRef};
use crate::manifest::Manifest;
use crate::observation::{self as obs, idx, ColumnType, Role, COLUMNS};
use crate::quality::QualityChecker;
use crate::report::{ImportSummary, IndicatorSummary, Problem, Rule, Severity, ValidationReport};
use crate::time::{PeriodKind, TimePeriod};

/// Tunables of a validation run.
#[derive(Debug, Clone)]
pub struct ValidationOptions {
    /// At most this many errors (and, separately, warnings) are recorded; the rest are counted.
    pub max_problems: usize,
    /// The reference areas the publishing agency may publish for (rule
    /// `ref_area_not_allowed`): each an area code, or a prefix ending in `*` (`AM-*`). Unset:
    /// any area of the codelist.
    pub areas: Option<Vec<String>>,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions { max_problems: 100, areas: None }
    }
}

/// Whether `area` is one of `allowed` (codes, or prefixes ending in `*`).
pub fn area_allowed(allowed: &[String], area: &str) -> bool {
    allowed.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => area.starts_with(prefix),
        None => a == area,
    })
}

#[derive(Default)]
struct Acc {
    code: String,
    rows: u64,
    periods: FxHashSet<String>,
    last_period: String,
    disaggregated: u16,
    suppressed: u64,
}

/// Validates one publication as its batches stream past.
pub struct Validator<'c> {
    contract: &'c Contract,
    manifest: Manifest,
    options: ValidationOptions,
    in_manifest: FxHashSet<String>,
    reference: Option<(TimePeriod, TimePeriod)>,
    coded: Vec<(usize, &'c Codelist)>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    error_count: u64,
    warned: FxHashSet<(Rule, String)>,
    rows: u64,
    first_schema: Option<SchemaRef>,
    schema_broken: bool,
    hasher: hash::ContentHasher,
    acc: Vec<Acc>,
    acc_index: FxHashMap<String, usize>,
    quality: QualityChecker<'c>,
}

/// Longest `comment_obs` accepted, in bytes.
pub const MAX_COMMENT_BYTES: usize = 4000;

/// String equality without a `memcmp` call: codes are short, and the call dominates.
#[inline]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// The indicator a row names, resolved once per run of equal values.
#[derive(Clone, Copy)]
struct Resolved<'c> {
    indicator: Option<&'c Indicator>,
    listed: bool,
}

impl<'c> Validator<'c> {
    /// Starts validating a publication described by `manifest`; manifest problems are recorded
    /// immediately.
    pub fn new(contract: &'c Contract, manifest: Manifest, options: ValidationOptions) -> Self {
        let coded = COLUMNS
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, contract.codelists.get(c.codelist?)?)))
            .filter(|(i, _)| *i != idx::UNIT_MULT)
            .collect();
        let reference = TimePeriod::parse(&manifest.reference_period.start)
            .zip(TimePeriod::parse(&manifest.reference_period.end));
        let mut v = Validator {
            contract,
            in_manifest: manifest.indicators.iter().cloned().collect(),
            reference,
            coded,
            errors: vec![],
            warnings: vec![],
            error_count: 0,
            warned: FxHashSet::default(),
            rows: 0,
            first_schema: None,
            schema_broken: false,
            hasher: hash::ContentHasher::default(),
            acc: Vec::new(),
            acc_index: FxHashMap::default(),
            quality: QualityChecker::new(contract.framework.quality(), &manifest.agency, &manifest.dataset)
                .with_max_warnings(options.max_problems),
            options,
            manifest,
        };
        for p in v.manifest.check(contract) {
            v.record(p);
        }
        v
    }

    /// The manifest being validated.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether any error has been found so far.
    pub fn has_errors(&self) -> bool {
        self.error_count > 0
    }

    /// Whether the error cap is reached, so a caller may stop reading early.
    pub fn saturated(&self) -> bool {
        self.errors.len() >= self.options.max_problems
    }

    /// Records a problem found elsewhere (for example while normalising input).
    pub fn record(&mut self, p: Problem) {
        match p.severity {
            Severity::Error => {
                self.error_count += 1;
                if self.errors.len() < self.options.max_problems {
                    self.errors.push(p);
                }
            }
            Severity::Warning => {
                if self.warnings.len() < self.options.max_problems {
                    self.warnings.push(p);
                }
            }
        }
    }

    fn problem(&mut self, rule: Rule, row: u64, column: usize, value: &str, message: String) {
        self.record(Problem::new(rule, Some(row), Some(COLUMNS[column].name), Some(value), message));
    }

    /// Records a warning once per (rule, distinct value).
    fn warn_once(&mut self, rule: Rule, row: u64, column: usize, value: &str, message: impl FnOnce() -> String) {
        if self.warned.insert((rule, value.to_owned())) {
            self.problem(rule, row, column, value, message());
        }
    }

    fn check_schema(&mut self, schema: &SchemaRef) -> bool {
        if let Some(first) = &self.first_schema {
            // Names and types must stay the same; nullability and metadata may differ.
            let shape = |s: &SchemaRef| s.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>();
            if shape(first) != shape(schema) {
                let err = Problem::new(Rule::SchemaChanged, Some(self.rows.saturating_add(1)), None, None,
                    format!("the batch starting at row {} has another schema than the first batch", self.rows.saturating_add(1)));
                self.record(err);
                return false;
            }
            return !self.schema_broken;
        }
        self.first_schema = Some(schema.clone());
        let mut ok = true;
        for f in schema.fields() {
            if obs::column(f.name()).is_none() {
                ok = false;
                self.record(Problem::new(Rule::UnknownColumn, None, Some(f.name()), None,
                    format!("column {:?} is not part of the observation schema", f.name())));
            }
        }
        for c in COLUMNS {
            match schema.column_with_name(c.name) {
                None => {
                    ok = false;
                    self.record(Problem::new(Rule::MissingColumn, None, Some(c.name), None,
                        format!("column {} ({:?}) is missing", c.name, c.data_type.arrow())));
                }
                Some((_, f)) if f.data_type() != &c.data_type.arrow() => {
                    ok = false;
                    self.record(Problem::new(Rule::WrongType, None, Some(c.name), Some(&f.data_type().to_string()),
                        format!("column {} must be {:?}, found {:?}", c.name, c.data_type.arrow(), f.data_type())));
                }
                Some(_) => {}
            }
        }
        self.schema_broken = !ok;
        ok
    }

    /// Validates one batch. Its columns are found by name; their order does not matter.
    pub fn push(&mut self, batch: &RecordBatch) {
        let n = batch.num_rows();
        if self.manifest.withdraw && n > 0 && self.rows == 0 {
            self.record(Problem::new(Rule::WithdrawalWithRows, None, Some("manifest.withdraw"), Some("true"),
                "the manifest withdraws the dataset, so the publication must carry no rows; leave withdraw out to publish rows".into()));
        }
        if self.check_schema(&batch.schema()) {
            self.check_rows(batch);
        }
        // Saturating: an IPC batch without columns may claim any row count.
        self.rows = self.rows.saturating_add(n as u64);
    }

    fn check_rows(&mut self, batch: &RecordBatch) {
        let schema = batch.schema();
        let arrays: Vec<ArrayRef> =
            COLUMNS.iter().map(|c| batch.column(schema.index_of(c.name).expect("checked")).clone()).collect();
        let cols: Vec<ColumnRef<'_>> = hash::column_refs(&arrays);
        let text = |i: usize| match cols[i] {
            ColumnRef::Text(a) => a,
            _ => unreachable!("column {i} is text"),
        };
        let float = |i: usize| match cols[i] {
            ColumnRef::Float(a) => a,
            _ => unreachable!("column {i} is float"),
        };
        let (indicator, series, period, freq) =
            (text(idx::INDICATOR), text(idx::SERIES), text(idx::TIME_PERIOD), text(idx::FREQ));
        let (composite, unit, obs_status, conf) =
            (text(idx::COMPOSITE_BREAKDOWN), text(idx::UNIT_MEASURE), text(idx::OBS_STATUS), text(idx::CONF_STATUS));
        let (value, lower, upper) = (float(idx::OBS_VALUE), float(idx::LOWER_BOUND), float(idx::UPPER_BOUND));
        let comment = text(idx::COMMENT_OBS);
        let unit_mult = match cols[idx::UNIT_MULT] {
            ColumnRef::Int(a) => a,
            _ => unreachable!(),
        };
        // Text columns that are required, coded, or both: (column, required, codelist).
        let text_checks: Vec<(usize, bool, Option<&Codelist>)> = COLUMNS
            .iter()
            .enumerate()
            .filter(|(_, c)| c.data_type == ColumnType::Text)
            .map(|(i, c)| (i, c.required, self.coded.iter().find(|(j, _)| *j == i).map(|(_, l)| *l)))
            .filter(|(_, req, list)| *req || list.is_some())
            .collect();
        let breakdown_cols: Vec<usize> =
            COLUMNS.iter().enumerate().filter(|(_, c)| c.role == Role::Breakdown).map(|(i, _)| i).collect();
        let mut last_ok: Vec<Option<&str>> = vec![None; COLUMNS.len()];
        let mut last_ind: Option<(&str, Resolved<'c>)> = None;
        let mut last_period: Option<(&str, Option<TimePeriod>)> = None;
        let mut last_mult: Option<i32> = None;
        let mut last_acc: Option<(&str, usize)> = None;
        let contract = self.contract;

        for r in 0..batch.num_rows() {
            let row = self.rows.saturating_add(r as u64 + 1);
            // Required cells and codes.
            let mut complete = true;
            for &(c, required, list) in &text_checks {
                let a = text(c);
                let v = if a.is_null(r) { "" } else { a.value(r) };
                if v.is_empty() {
                    if required {
                        complete = false;
                        self.problem(Rule::MissingValue, row, c, "", format!("{} must not be empty", COLUMNS[c].name));
                    }
                    continue;
                }
                let Some(list) = list else { continue };
                if last_ok[c].is_some_and(|last| same(last, v)) {
                    continue;
                }
                if list.contains(v) {
                    last_ok[c] = Some(v);
                } else {
                    let id = COLUMNS[c].codelist.unwrap_or_default();
                    self.problem(Rule::UnknownCode, row, c, v, format!("{v:?} is not a code of {id}"));
                }
            }
            let area = text(idx::REF_AREA);
            if let Some(allowed) = &self.options.areas
                && !area.is_null(r)
                && !area.value(r).is_empty()
                && !area_allowed(allowed, area.value(r))
            {
                let v = area.value(r);
                let message = format!("agency {} may publish only for the areas {}; {v:?} is not one of them", self.manifest.agency, allowed.join(", "));
                self.problem(Rule::RefAreaNotAllowed, row, idx::REF_AREA, v, message);
            }
            if unit_mult.is_null(r) {
                complete = false;
                self.problem(Rule::MissingValue, row, idx::UNIT_MULT, "", "unit_mult must not be empty".into());
            }
            if !unit_mult.is_null(r) && last_mult != Some(unit_mult.value(r)) {
                let v = unit_mult.value(r).to_string();
                if contract.codelists.contains("CL_UNIT_MULT", &v) {
                    last_mult = Some(unit_mult.value(r));
                } else {
                    self.problem(Rule::UnknownCode, row, idx::UNIT_MULT, &v, format!("{v} is not a code of CL_UNIT_MULT"));
                }
            }
            // Indicator.
            let code = if indicator.is_null(r) { "" } else { indicator.value(r) };
            let resolved = match last_ind {
                Some((c, res)) if same(c, code) => res,
                _ => {
                    let res = Resolved { indicator: contract.framework.indicator(code), listed: self.in_manifest.contains(code) };
                    last_ind = Some((code, res));
                    res
                }
            };
            if !code.is_empty() {
                match resolved.indicator {
                    None => self.problem(Rule::UnknownIndicator, row, idx::INDICATOR, code,
                        format!("indicator {code} is not in the framework in force ({})", contract.framework.version)),
                    Some(i) if !i.in_scope => self.warn_once(Rule::IndicatorOutOfScope, row, idx::INDICATOR, code,
                        || format!("indicator {code} is out of scope nationally; its rows count in no figure")),
                    Some(_) => {}
                }
                if !resolved.listed {
                    self.problem(Rule::IndicatorNotInManifest, row, idx::INDICATOR, code,
                        format!("indicator {code} is not listed in the manifest's indicators"));
                }
            }
            // Series and unit.
            let series_v = (!series.is_null(r)).then(|| series.value(r)).filter(|s| !s.is_empty());
            if let (Some(ind), Some(s)) = (resolved.indicator, series_v)
                && !ind.series.iter().any(|x| x == s) && contract.codelists.contains("CL_SERIES", s) {
                    self.problem(Rule::SeriesNotOfIndicator, row, idx::SERIES, s,
                        format!("series {s} does not measure indicator {}; its series are {}", ind.code,
                            if ind.series.is_empty() { "none".into() } else { ind.series.join(", ") }));
                }
            let unit_v = if !unit.is_null(r) { unit.value(r) } else { "" };
            if let Some(ind) = resolved.indicator
                && let Some(expected) = contract.framework.expected_unit(ind, series_v)
                    && !unit_v.is_empty() && unit_v != expected {
                        self.problem(Rule::UnitConflictsWithSeries, row, idx::UNIT_MEASURE, unit_v,
                            format!("{} measures in {expected}, not {unit_v}", series_v.unwrap_or(&ind.code)));
                    }
            // Time period.
            let p = if period.is_null(r) { "" } else { period.value(r) };
            let parsed = match last_period {
                Some((s, t)) if same(s, p) => t,
                _ => {
                    let t = TimePeriod::parse(p);
                    last_period = Some((p, t));
                    t
                }
            };
            let f = if freq.is_null(r) { "" } else { freq.value(r) };
            match parsed {
                None if !p.is_empty() => self.problem(Rule::MalformedTimePeriod, row, idx::TIME_PERIOD, p,
                    format!("{p:?} is not an SDMX time period (YYYY, YYYY-Sn, YYYY-Qn, YYYY-MM, YYYY-Wnn or YYYY-MM-DD)")),
                None => {}
                Some(t) => {
                    if !f.is_empty() && contract.codelists.contains("CL_FREQ", f) && !t.kind.freqs().contains(&f) {
                        self.problem(Rule::TimePeriodFreqMismatch, row, idx::TIME_PERIOD, p,
                            format!("freq {f} needs {}, but {p:?} is {} period", PeriodKind::format_for_freq(f), t.kind));
                    }
                    if let Some((from, to)) = &self.reference
                        && !t.within(from, to) {
                            self.problem(Rule::TimePeriodOutsideReference, row, idx::TIME_PERIOD, p,
                                format!("{p} is outside the reference period {} to {}",
                                    self.manifest.reference_period.start, self.manifest.reference_period.end));
                        }
                }
            }
            if !f.is_empty() && !same(f, &self.manifest.periodicity) {
                let msg = format!("freq {f} differs from the manifest's periodicity {}", self.manifest.periodicity);
                self.warn_once(Rule::FreqDiffersFromPeriodicity, row, idx::FREQ, f, || msg);
            }
            // Migratory status in the wrong column.
            if !composite.is_null(r) && composite.value(r).starts_with("MS_") {
                let v = composite.value(r);
                self.problem(Rule::MigratoryStatusInComposite, row, idx::COMPOSITE_BREAKDOWN, v,
                    format!("{v} is a migratory status: put it in migratory_status and leave composite_breakdown _T"));
            }
            // Value and status.
            let os = if obs_status.is_null(r) { "" } else { obs_status.value(r) };
            let cs = if conf.is_null(r) { "" } else { conf.value(r) };
            let suppressed = obs::is_suppressed(cs);
            if value.is_null(r) {
                if os != obs::OBS_STATUS_MISSING && !suppressed {
                    self.problem(Rule::NullValueWithoutStatus, row, idx::OBS_VALUE, "",
                        format!("obs_value is empty: set obs_status M (missing) or conf_status C, D or N (withheld); obs_status is {os:?}, conf_status {cs:?}"));
                }
            } else {
                let v = value.value(r);
                if !v.is_finite() {
                    self.problem(Rule::NonFiniteValue, row, idx::OBS_VALUE, &v.to_string(), "obs_value must be a finite number".into());
                } else {
                    if suppressed {
                        self.problem(Rule::SuppressedCellHasValue, row, idx::OBS_VALUE, &v.to_string(),
                            format!("conf_status {cs} withholds the cell (C, D: confidential; N: not for publication), so obs_value must be empty"));
                    }
                }
            }
            for (c, a) in [(idx::LOWER_BOUND, lower), (idx::UPPER_BOUND, upper)] {
                if !a.is_null(r) && !a.value(r).is_finite() {
                    self.problem(Rule::NonFiniteValue, row, c, &a.value(r).to_string(), format!("{} must be a finite number", COLUMNS[c].name));
                }
            }
            if !lower.is_null(r) && !upper.is_null(r) && lower.value(r) > upper.value(r) {
                self.problem(Rule::BoundsInverted, row, idx::LOWER_BOUND, &lower.value(r).to_string(),
                    format!("lower_bound {} is greater than upper_bound {}", lower.value(r), upper.value(r)));
            }
            if !comment.is_null(r) && comment.value(r).len() > MAX_COMMENT_BYTES {
                let v = comment.value(r);
                self.problem(Rule::TextTooLong, row, idx::COMMENT_OBS, v,
                    format!("comment_obs is {} bytes long; at most {MAX_COMMENT_BYTES} are allowed", v.len()));
            }
            // Quality rules (warnings), kept in row order with the others.
            self.quality.row(&cols, r, row);
            if self.quality.has_found() {
                for p in self.quality.take_found() {
                    self.record(p);
                }
            }
            // Key: duplicates and content hash.
            self.hasher.push_row(&cols, r, row);
            // Summary.
            if complete && resolved.indicator.is_some() {
                let i = match last_acc {
                    Some((c, i)) if same(c, code) => i,
                    _ => {
                        let i = match self.acc_index.get(code) {
                            Some(&i) => i,
                            None => {
                                self.acc.push(Acc { code: code.to_owned(), ..Acc::default() });
                                self.acc_index.insert(code.to_owned(), self.acc.len() - 1);
                                self.acc.len() - 1
                            }
                        };
                        last_acc = Some((code, i));
                        i
                    }
                };
                let acc = &mut self.acc[i];
                acc.rows += 1;
                if !same(&acc.last_period, p) {
                    if !acc.periods.contains(p) {
                        acc.periods.insert(p.to_owned());
                    }
                    acc.last_period.clear();
                    acc.last_period.push_str(p);
                }
                for (bit, &c) in breakdown_cols.iter().enumerate() {
                    if acc.disaggregated & (1 << bit) == 0 && obs::is_breakdown(text(c).value(r)) {
                        acc.disaggregated |= 1 << bit;
                    }
                }
                if suppressed {
                    acc.suppressed += 1;
                }
            }
        }
    }

    /// Ends validation: the import summary, or the report of every problem found. Fails only
    /// when the row hashes spilled to temporary files cannot be read back.
    pub fn finish(mut self) -> crate::Result<Result<ImportSummary, ValidationReport>> {
        let quality = std::mem::replace(&mut self.quality, QualityChecker::new(self.contract.framework.quality(), "", ""));
        for p in quality.finish() {
            self.record(p);
        }
        if self.first_schema.is_none() {
            self.record(Problem::new(Rule::MissingColumn, None, None, None,
                "the publication carried no data: no schema and no record batch arrived".into()));
        }
        if self.rows == 0 && !self.manifest.withdraw && self.first_schema.is_some() {
            self.record(Problem::new(Rule::NoRows, None, None, None, format!(
                "the publication carries no rows; to empty the dataset {}, publish it with withdraw = true in its manifest",
                self.manifest.dataset)));
        }
        // A withdrawal lists indicators that, by design, get no rows.
        let listed = if self.manifest.withdraw { vec![] } else { self.manifest.indicators.clone() };
        for code in listed {
            if !self.acc_index.contains_key(&code) && self.contract.framework.indicator(&code).is_some() {
                self.record(Problem::new(Rule::ManifestIndicatorWithoutRows, None, Some("manifest.indicators"), Some(&code),
                    format!("the manifest lists {code} but no valid row of it arrived")));
            }
        }
        let hashed = std::mem::take(&mut self.hasher)
            .finish()
            .map_err(|source| crate::Error::Io { path: "row hashes spilled to a temporary file".into(), source })?;
        for (row, first) in hashed.duplicates {
            self.record(Problem::new(Rule::DuplicateKey, Some(row), Some("indicator"), None,
                format!("row {row} has the same key (indicator, series, ref_area, time_period, freq, reporting_type and every breakdown) as row {first}")));
        }
        let content_hash = hashed.content_hash;
        if let Some(claimed) = &self.manifest.content_hash
            && hash::is_well_formed(claimed) && *claimed != content_hash && self.error_count == 0 {
                let p = Problem::new(Rule::ManifestContentHashMismatch, None, Some("manifest.content_hash"), Some(claimed),
                    format!("the content received hashes to {content_hash}"));
                self.record(p);
            }
        if self.error_count > 0 {
            return Ok(Err(ValidationReport {
                agency: self.manifest.agency,
                dataset: self.manifest.dataset,
                rows: self.rows,
                truncated: self.error_count > self.errors.len() as u64,
                error_count: self.error_count,
                errors: self.errors,
                warnings: self.warnings,
            }));
        }
        let breakdown_names: Vec<&str> = obs::breakdowns().map(|c| c.name).collect();
        let mut periods = BTreeSet::new();
        let indicators: BTreeMap<String, IndicatorSummary> = self
            .acc
            .into_iter()
            .map(|a| {
                let code = a.code;
                let a_periods: BTreeSet<String> = a.periods.into_iter().collect();
                periods.extend(a_periods.iter().cloned());
                let disaggregations = breakdown_names
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| a.disaggregated & (1 << bit) != 0)
                    .map(|(_, n)| (*n).to_owned())
                    .collect();
                (code, IndicatorSummary { rows: a.rows, periods: a_periods, disaggregations, suppressed: a.suppressed })
            })
            .collect();
        Ok(Ok(ImportSummary {
            agency: self.manifest.agency,
            dataset: self.manifest.dataset,
            rows: self.rows,
            periods,
            indicators,
            content_hash,
            warnings: self.warnings,
        }))
    }
}
