//! Quality rules: plausibility checks of published values whose findings are warnings, never
//! rejections.
//!
//! The rules are declared in the national framework file under `[quality]` ([`QualityRules`];
//! every key is optional and the table itself may be absent, giving the defaults below):
//!
//! | rule | fires when | setting (default) |
//! | --- | --- | --- |
//! | `migrant_sum_mismatch` | in an additive unit, migrant + non-migrant differs from the total of the same cell by more than the tolerance times the total | `additive_units` (`["NUMBER"]`), `additive_tolerance` (`0.01`, relative to the total) |
//! | `percentage_out_of_range` | a value in a percent unit lies outside 0–100 | `percent_units` (`["PT"]`) |
//! | `value_outside_bounds` | `obs_value` lies outside `[lower_bound, upper_bound]` | – |
//! | `year_over_year_change` | the value changed from the same period one year earlier by more than the limit, relative to the earlier value | `yoy_max_change` (`0.5`, i.e. 50 %), per series `[quality.series.<SERIES>] yoy_max_change` |
//! | `value_outside_history` | the value lies more than `zscore_max` standard deviations from the mean of its series' earlier values | `zscore_max` (`3.0`, per series too), `zscore_min_points` (`5`) |
//! | `quality_points_capped` | more points arrived than the rules above keep | `max_points` (`500000`) |
//!
//! *Cells and series.* A **cell** of the additive rule is every column of the observation key but
//! `migratory_status` (identity and the other breakdowns), plus `unit_measure` and `unit_mult`;
//! its migrant, non-migrant and total rows are those with `migratory_status` `MS_MIGRANT`,
//! `MS_NOMIGRANT` and `_T` (the pair of the migrant gap figures, [`observation::migrant_side`]).
//! A **series** of the year-over-year and history rules is every column of the observation key
//! but `time_period` (indicator, series, ref_area, freq, reporting_type, every breakdown), plus
//! `unit_measure` and `unit_mult`, over `time_period`. Rows with `obs_status` `M` or without a
//! finite value take part in no rule.
//!
//! *History.* [`QualityChecker::history`] adds prior points (the rows of a dataset's current
//! version): they never produce warnings, they only inform the year-over-year and history rules
//! of the rows pushed. A row pushed for the same series and period replaces the history point.
//! Without history (the agent's `validate`, the coordinator's receipt) a publication's own
//! earlier periods are its history.
//!
//! *Memory.* The per-row rules (percent, bounds) keep nothing. The other three keep 24 bytes per
//! point of a series, about 60 more per series, and about 90 per additive cell, at most
//! `max_points` points and cells together (so at most about 75 MB with the default 500,000, when
//! every point is a series of its own; about 15 MB when series have many points). Beyond that,
//! rows are not tracked and one `quality_points_capped` warning says from which row on they were
//! not checked, so a huge publication never needs memory in proportion to its size.
//!
//! Every warning names the agency and the dataset in its message, and carries the row, column
//! and value.

use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Range;

use arrow::array::{Array, ArrayRef, RecordBatch};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::codelist::Codelists;
use crate::hash::{self, ColumnRef};
use crate::observation::{self as obs, idx, MigrantSide};
use crate::report::{Problem, Rule};
use crate::time::TimePeriod;

/// Every rule a [`QualityChecker`] can report.
pub const RULES: [Rule; 6] = [
    Rule::PercentageOutOfRange,
    Rule::ValueOutsideBounds,
    Rule::MigrantSumMismatch,
    Rule::YearOverYearChange,
    Rule::ValueOutsideHistory,
    Rule::QualityPointsCapped,
];

/// The quality rules in force: the `[quality]` table of the national framework file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityRules {
    /// Units (`CL_UNIT_MEASURE` codes) whose values add up: migrant + non-migrant = total.
    pub additive_units: Vec<String>,
    /// How far migrant + non-migrant may differ from the total, as a fraction of the total
    /// (`0.01`: 1 %); the difference may equal the tolerance.
    pub additive_tolerance: f64,
    /// Units (`CL_UNIT_MEASURE` codes) that are percentages, whose values lie within 0–100.
    pub percent_units: Vec<String>,
    /// The largest change from the same period one year earlier, relative to the earlier value
    /// (`0.5`: a value may move by 50 % of the earlier one). A change from 0 is not checked.
    pub yoy_max_change: f64,
    /// The largest distance of a value from the mean of its series' earlier values, in their
    /// (sample) standard deviations.
    pub zscore_max: f64,
    /// How many earlier values a series needs before the history rule applies (at least 2).
    pub zscore_min_points: usize,
    /// The most points (series points and additive cells) the rules keep; rows beyond are not
    /// checked by the additive, year-over-year and history rules.
    pub max_points: usize,
    /// Per series code, thresholds that replace the defaults above.
    pub series: BTreeMap<String, SeriesQuality>,
}

/// Thresholds of one series (`[quality.series.<SERIES>]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuality {
    /// Replaces [`QualityRules::yoy_max_change`] for the series.
    pub yoy_max_change: Option<f64>,
    /// Replaces [`QualityRules::zscore_max`] for the series.
    pub zscore_max: Option<f64>,
}

impl Default for QualityRules {
    fn default() -> Self {
        QualityRules {
            additive_units: vec!["NUMBER".into()],
            additive_tolerance: 0.01,
            percent_units: vec!["PT".into()],
            yoy_max_change: 0.5,
            zscore_max: 3.0,
            zscore_min_points: 5,
            max_points: 500_000,
            series: BTreeMap::new(),
        }
    }
}

impl QualityRules {
    /// Checks the settings: units in `CL_UNIT_MEASURE`, thresholds positive and finite, series
    /// codes known (`series_known`). The message names the offending key.
    pub fn check(&self, codelists: &Codelists, series_known: impl Fn(&str) -> bool) -> Result<(), String> {
        for (key, units) in [("additive_units", &self.additive_units), ("percent_units", &self.percent_units)] {
            if let Some(u) = units.iter().find(|u| !codelists.contains("CL_UNIT_MEASURE", u)) {
                return Err(format!("quality.{key}: {u:?} is not in CL_UNIT_MEASURE"));
            }
        }
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("{key} must be a positive number, not {v}")) }
        };
        if !(self.additive_tolerance.is_finite() && self.additive_tolerance >= 0.0) {
            return Err(format!("quality.additive_tolerance must be a number of at least 0, not {}", self.additive_tolerance));
        }
        positive("quality.yoy_max_change", self.yoy_max_change)?;
        positive("quality.zscore_max", self.zscore_max)?;
        if self.zscore_min_points < 2 {
            return Err(format!("quality.zscore_min_points must be at least 2, not {}", self.zscore_min_points));
        }
        if self.max_points == 0 {
            return Err("quality.max_points must be at least 1".into());
        }
        for (code, s) in &self.series {
            if !series_known(code) {
                return Err(format!("quality.series.{code}: {code} is not a series of the framework"));
            }
            if let Some(v) = s.yoy_max_change {
                positive(&format!("quality.series.{code}.yoy_max_change"), v)?;
            }
            if let Some(v) = s.zscore_max {
                positive(&format!("quality.series.{code}.zscore_max"), v)?;
            }
        }
        Ok(())
    }

    /// The (year-over-year, z-score) limits of a series code.
    fn limits(&self, series: &str) -> (f64, f64) {
        let s = self.series.get(series);
        (
            s.and_then(|s| s.yoy_max_change).unwrap_or(self.yoy_max_change),
            s.and_then(|s| s.zscore_max).unwrap_or(self.zscore_max),
        )
    }
}

/// The columns of a series key, in wire order: the observation key but `time_period`, plus
/// `unit_measure` and `unit_mult`.
const SERIES_KEY: [Range<usize>; 3] =
    [idx::INDICATOR..idx::TIME_PERIOD, idx::FREQ..idx::MIGRATORY_STATUS + 1, idx::UNIT_MEASURE..idx::UNIT_MULT + 1];

/// The columns of an additive cell's key: the observation key but `migratory_status`, plus
/// `unit_measure` and `unit_mult`.
const CELL_KEY: [Range<usize>; 2] = [idx::INDICATOR..idx::MIGRATORY_STATUS, idx::UNIT_MEASURE..idx::UNIT_MULT + 1];

/// The row number history points carry (data rows are numbered from 1).
const HISTORY: u64 = 0;

/// One point of a series: 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Point {
    year: i32,
    /// The period within the year (half, quarter, month, week, or month * 100 + day; 0 for a
    /// year), so that (year, within) orders a series' periods.
    within: u16,
    value: f64,
    /// The data row, or [`HISTORY`].
    row: u64,
}

/// The points of one series, with its limits.
struct Series {
    yoy_max: f64,
    zscore_max: f64,
    points: Vec<Point>,
}

/// The migrant, non-migrant and total (value, row) of one additive cell.
#[derive(Default)]
struct Cell {
    migrant: Option<(f64, u64)>,
    non_migrant: Option<(f64, u64)>,
    total: Option<(f64, u64)>,
}

/// Runs the quality rules over a publication's rows, optionally with the rows of the
/// dataset's current version as history.
///
/// ```text
/// let mut q = QualityChecker::new(contract.framework.quality(), "armstat", "ilcs-poverty");
/// q.history(&official_batch)?;          // any number of batches, before or between pushes
/// q.push(&publication_batch, 1)?;       // rows numbered from 1, as the validator numbers them
/// let warnings: Vec<Problem> = q.finish();
/// ```
///
/// The [`Validator`](crate::Validator) runs one over every publication it validates (without
/// history), so the agent's `validate` and the coordinator's receipt give these warnings in
/// the import summary.
pub struct QualityChecker<'r> {
    rules: &'r QualityRules,
    agency: String,
    dataset: String,
    max_warnings: usize,
    /// Warnings recorded so far (found and kept), at most `max_warnings`.
    recorded: usize,
    /// Warnings found and not yet taken.
    found: Vec<Problem>,
    /// (rule, value) of the per-row warnings given once per distinct value.
    warned: FxHashSet<(Rule, String)>,
    series: FxHashMap<u128, Series>,
    cells: FxHashMap<u128, Cell>,
    /// Points kept: series points plus additive cells.
    points: usize,
    capped: bool,
    buf: Vec<u8>,
    /// The last time period seen, parsed: rows come in runs of one period.
    last_period: (String, Option<(i32, u16)>),
}

/// The text of a cell, `""` when null.
fn text<'a>(cols: &[ColumnRef<'a>], c: usize, r: usize) -> &'a str {
    match cols[c] {
        ColumnRef::Text(a) if a.is_valid(r) => a.value(r),
        _ => "",
    }
}

/// The finite number of a cell, `None` when null or not finite.
fn float(cols: &[ColumnRef<'_>], c: usize, r: usize) -> Option<f64> {
    match cols[c] {
        ColumnRef::Float(a) if a.is_valid(r) => Some(a.value(r)).filter(|v| v.is_finite()),
        _ => None,
    }
}

/// The 128-bit hash of the canonical encoding of `columns` of row `r`.
fn key(cols: &[ColumnRef<'_>], columns: &[Range<usize>], r: usize, buf: &mut Vec<u8>) -> u128 {
    buf.clear();
    for c in columns {
        hash::encode(&cols[c.clone()], r, buf);
    }
    hash::key_hash(buf)
}

/// `x` with at most four decimals, without trailing zeros (`11.6`, `1.1402`).
fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A time period's (year, position within the year), `None` when malformed.
fn period(p: &str) -> Option<(i32, u16)> {
    let t = TimePeriod::parse(p)?;
    let within = p.get(5..).unwrap_or("").bytes().filter(u8::is_ascii_digit).fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Some((t.year, within))
}

impl<'r> QualityChecker<'r> {
    /// A checker of the publications of `agency`'s `dataset` (named in every warning), keeping
    /// at most 100 warnings (see [`with_max_warnings`](Self::with_max_warnings)).
    pub fn new(rules: &'r QualityRules, agency: &str, dataset: &str) -> Self {
        QualityChecker {
            rules,
            agency: agency.to_owned(),
            dataset: dataset.to_owned(),
            max_warnings: 100,
            recorded: 0,
            found: Vec::new(),
            warned: FxHashSet::default(),
            series: FxHashMap::default(),
            cells: FxHashMap::default(),
            points: 0,
            capped: false,
            buf: Vec::new(),
            last_period: (String::new(), None),
        }
    }

    /// Keeps at most `n` warnings; the rest are dropped.
    pub fn with_max_warnings(mut self, n: usize) -> Self {
        self.max_warnings = n;
        self
    }

    /// Adds the rows of `batch` (contract columns found by name, cast to the wire types; other
    /// columns ignored) as history: prior points of their series that produce no warning.
    pub fn history(&mut self, batch: &RecordBatch) -> crate::Result<()> {
        self.batch(batch, HISTORY)
    }

    /// Checks the rows of `batch` (contract columns found by name, cast to the wire types;
    /// other columns ignored), numbering them from `first_row` (1 for the first batch).
    pub fn push(&mut self, batch: &RecordBatch, first_row: u64) -> crate::Result<()> {
        self.batch(batch, first_row.max(1))
    }

    fn batch(&mut self, batch: &RecordBatch, first_row: u64) -> crate::Result<()> {
        let arrays: Vec<ArrayRef> = hash::wire_arrays(batch)?;
        let cols = hash::column_refs(&arrays);
        for r in 0..batch.num_rows() {
            let row = if first_row == HISTORY { HISTORY } else { first_row + r as u64 };
            self.row(&cols, r, row);
        }
        Ok(())
    }

    /// Warnings found so far and not yet taken, in the order found (the per-row rules and
    /// the cap warning; the others are found by [`finish`](Self::finish)).
    pub fn take_found(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.found)
    }

    /// Whether [`take_found`](Self::take_found) would return anything.
    pub fn has_found(&self) -> bool {
        !self.found.is_empty()
    }

    fn warn(&mut self, rule: Rule, row: Option<u64>, column: Option<&str>, value: &str, message: String) {
        if self.recorded < self.max_warnings {
            self.recorded += 1;
            let message = format!("agency {} dataset {}: {message}", self.agency, self.dataset);
            self.found.push(Problem::new(rule, row, column, Some(value).filter(|v| !v.is_empty()), message));
        }
    }

    /// Warns once per (rule, distinct value): a repeated mistake does not fill the list.
    fn warn_once(&mut self, rule: Rule, row: u64, value: &str, message: impl FnOnce() -> String) {
        if self.recorded < self.max_warnings && self.warned.insert((rule, value.to_owned())) {
            self.warn(rule, Some(row), Some(obs::COLUMNS[idx::OBS_VALUE].name), value, message());
        }
    }

    /// Takes one point more; false (and, the first time, the cap warning) when the cap is
    /// reached.
    fn room(&mut self, row: u64) -> bool {
        if self.points < self.rules.max_points {
            self.points += 1;
            return true;
        }
        if !self.capped {
            self.capped = true;
            let max = self.rules.max_points;
            let what = if row == HISTORY {
                "the dataset's current version filled them, so no row was checked".to_owned()
            } else {
                format!("rows from row {row} on were not checked")
            };
            self.warn(Rule::QualityPointsCapped, (row != HISTORY).then_some(row), None, &max.to_string(), format!(
                "the quality rules keep at most {max} points ([quality] max_points): {what} by migrant_sum_mismatch, year_over_year_change and value_outside_history"));
        }
        false
    }

    /// Checks row `r` of `cols` (every contract column, in wire order), numbered `row`
    /// ([`HISTORY`] for a history row).
    pub(crate) fn row(&mut self, cols: &[ColumnRef<'_>], r: usize, row: u64) {
        let rules = self.rules;
        if text(cols, idx::OBS_STATUS, r) == obs::OBS_STATUS_MISSING {
            return;
        }
        let Some(v) = float(cols, idx::OBS_VALUE, r) else { return };
        let unit = text(cols, idx::UNIT_MEASURE, r);
        if row != HISTORY {
            if rules.percent_units.iter().any(|u| u == unit) && !(0.0..=100.0).contains(&v) {
                self.warn_once(Rule::PercentageOutOfRange, row, &v.to_string(), || format!("{v} percent ({unit}) lies outside 0-100"));
            }
            let (lo, hi) = (float(cols, idx::LOWER_BOUND, r), float(cols, idx::UPPER_BOUND, r));
            if lo.is_some_and(|l| v < l) || hi.is_some_and(|h| v > h) {
                let show = |b: Option<f64>| b.map_or("-".into(), |x| x.to_string());
                let msg = format!("{v} lies outside its bounds [{}, {}]", show(lo), show(hi));
                self.warn_once(Rule::ValueOutsideBounds, row, &v.to_string(), || msg);
            }
            if self.capped {
                return;
            }
            if rules.additive_units.iter().any(|u| u == unit) {
                let side = match text(cols, idx::MIGRATORY_STATUS, r) {
                    obs::TOTAL => None,
                    code => match obs::migrant_side(code) {
                        Some(side) => Some(side),
                        None => return self.series_point(cols, r, row, v),
                    },
                };
                let k = key(cols, &CELL_KEY, r, &mut self.buf);
                if !self.cells.contains_key(&k) && !self.room(row) {
                    return;
                }
                let cell = self.cells.entry(k).or_default();
                let slot = match side {
                    None => &mut cell.total,
                    Some(MigrantSide::Migrant) => &mut cell.migrant,
                    Some(MigrantSide::NonMigrant) => &mut cell.non_migrant,
                };
                slot.get_or_insert((v, row));
            }
        }
        self.series_point(cols, r, row, v);
    }

    fn series_point(&mut self, cols: &[ColumnRef<'_>], r: usize, row: u64, v: f64) {
        if self.capped {
            return;
        }
        let p = text(cols, idx::TIME_PERIOD, r);
        if self.last_period.0 != p {
            self.last_period = (p.to_owned(), period(p));
        }
        let Some((year, within)) = self.last_period.1 else { return };
        if !self.room(row) {
            return;
        }
        let k = key(cols, &SERIES_KEY, r, &mut self.buf);
        let rules = self.rules;
        let s = self.series.entry(k).or_insert_with(|| {
            let (yoy_max, zscore_max) = rules.limits(text(cols, idx::SERIES, r));
            Series { yoy_max, zscore_max, points: Vec::with_capacity(1) }
        });
        s.points.push(Point { year, within, value: v, row });
    }

    /// The bytes the kept points and cells hold (their tables' and vectors' capacities).
    #[cfg(test)]
    fn retained_bytes(&self) -> usize {
        let entry = |key: usize, value: usize| key + value + 1;
        self.series.capacity() * entry(16, std::mem::size_of::<Series>())
            + self.series.values().map(|s| s.points.capacity() * std::mem::size_of::<Point>()).sum::<usize>()
            + self.cells.capacity() * entry(16, std::mem::size_of::<Cell>())
    }

    /// Ends the run: every warning not yet taken, those of the additive, year-over-year and
    /// history rules after the per-row ones, each list in row order.
    pub fn finish(mut self) -> Vec<Problem> {
        let rules = self.rules;
        let mut late = Lowest { keep: self.max_warnings.saturating_sub(self.recorded), heap: BinaryHeap::new() };
        for cell in std::mem::take(&mut self.cells).into_values() {
            let (Some(migrant), Some(non_migrant), Some((t, row))) = (cell.migrant, cell.non_migrant, cell.total) else { continue };
            if (migrant.0 + non_migrant.0 - t).abs() > rules.additive_tolerance * t.abs() {
                late.offer(Finding { row, rule: Rule::MigrantSumMismatch, value: t, detail: Detail::Sum { migrant, non_migrant, tolerance: rules.additive_tolerance } });
            }
        }
        for mut s in std::mem::take(&mut self.series).into_values() {
            // Periods in order; for a period both pushed and in history, the pushed row first
            // (then the first pushed), so that it replaces the history point.
            s.points.sort_by_key(|p| (p.year, p.within, p.row == HISTORY, p.row));
            s.points.dedup_by_key(|p| (p.year, p.within));
            let (mut count, mut mean, mut m2) = (0usize, 0.0f64, 0.0f64);
            for (i, p) in s.points.iter().enumerate() {
                if p.row != HISTORY {
                    let before = s.points[..i].iter().rev().take_while(|q| q.year >= p.year - 1).find(|q| q.year == p.year - 1 && q.within == p.within);
                    if let Some(q) = before.filter(|q| q.value != 0.0) {
                        let change = (p.value - q.value) / q.value.abs();
                        if change.abs() > s.yoy_max {
                            let detail = Detail::Yoy { earlier: (q.value, q.row), change, limit: s.yoy_max };
                            late.offer(Finding { row: p.row, rule: Rule::YearOverYearChange, value: p.value, detail });
                        }
                    }
                    let sd = if count > 1 { (m2 / (count - 1) as f64).sqrt() } else { 0.0 };
                    if count >= rules.zscore_min_points && sd > 0.0 {
                        let z = (p.value - mean) / sd;
                        if z.abs() > s.zscore_max {
                            let detail = Detail::History { z, mean, sd, count, limit: s.zscore_max };
                            late.offer(Finding { row: p.row, rule: Rule::ValueOutsideHistory, value: p.value, detail });
                        }
                    }
                }
                count += 1;
                let delta = p.value - mean;
                mean += delta / count as f64;
                m2 += delta * (p.value - mean);
            }
        }
        for f in late.heap.into_sorted_vec() {
            self.warn(f.rule, Some(f.row), Some(obs::COLUMNS[idx::OBS_VALUE].name), &f.value.to_string(), f.message());
        }
        self.found
    }
}

/// What [`QualityChecker::finish`] found for one row, formatted only when kept.
struct Finding {
    row: u64,
    rule: Rule,
    value: f64,
    detail: Detail,
}

/// The numbers a finding's message quotes.
enum Detail {
    /// The migrant and non-migrant (value, row), and the tolerance.
    Sum { migrant: (f64, u64), non_migrant: (f64, u64), tolerance: f64 },
    /// The earlier (value, row), the relative change and its limit.
    Yoy { earlier: (f64, u64), change: f64, limit: f64 },
    /// The z-score, the earlier values' mean, standard deviation and count, and the limit.
    History { z: f64, mean: f64, sd: f64, count: usize, limit: f64 },
}

impl Finding {
    fn message(&self) -> String {
        let v = self.value;
        match self.detail {
            Detail::Sum { migrant: (m, mr), non_migrant: (n, nr), tolerance } => format!(
                "migrant {m} (row {mr}) + non-migrant {n} (row {nr}) = {} differs from the total {v} by {:+}, more than the tolerance {tolerance} of the total ([quality] additive_tolerance)",
                m + n, m + n - v),
            Detail::Yoy { earlier: (e, row), change, limit } => {
                let at = if row == HISTORY { "in the dataset's current version".to_owned() } else { format!("row {row}") };
                format!("{v} changed by {:+.1}% from {e} for the same period a year earlier ({at}), more than the limit of {}% ([quality] yoy_max_change)",
                    change * 100.0, limit * 100.0)
            }
            Detail::History { z, mean, sd, count, limit } => format!(
                "{v} lies {z:+.1} standard deviations from the mean {} (standard deviation {}) of the {count} earlier values of its series, more than {limit} ([quality] zscore_max)",
                short(mean), short(sd)),
        }
    }
}

impl PartialEq for Finding {
    fn eq(&self, other: &Self) -> bool {
        (self.row, self.rule) == (other.row, other.rule)
    }
}

impl Eq for Finding {}

impl PartialOrd for Finding {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Finding {
    /// By row, then rule: the order warnings are listed in.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.row, self.rule).cmp(&(other.row, other.rule))
    }
}

/// The `keep` lowest findings offered, so that however many a publication has, only those
/// that will be listed are kept.
struct Lowest {
    keep: usize,
    heap: BinaryHeap<Finding>,
}

impl Lowest {
    fn offer(&mut self, f: Finding) {
        if self.heap.len() < self.keep {
            self.heap.push(f);
        } else if self.heap.peek().is_some_and(|top| f < *top) {
            self.heap.pop();
            self.heap.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int32Array, StringArray};
    use crate::observation::{observation_schema, ColumnType, COLUMNS};

    /// One test row of indicator 1.2.1; the columns not here take their defaults.
    struct R<'a> {
        area: &'a str,
        series: &'a str,
        period: &'a str,
        migratory: &'a str,
        value: Option<f64>,
        unit: &'a str,
        bounds: (Option<f64>, Option<f64>),
        status: &'a str,
    }

    fn r<'a>(series: &'a str, period: &'a str, migratory: &'a str, value: f64, unit: &'a str) -> R<'a> {
        R { area: "AM", series, period, migratory, value: Some(value), unit, bounds: (None, None), status: "A" }
    }

    fn batch(rows: &[R<'_>]) -> RecordBatch {
        let cols: Vec<ArrayRef> = COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| -> ArrayRef {
                match (i, c.data_type) {
                    (idx::OBS_VALUE, _) => Arc::new(rows.iter().map(|x| x.value).collect::<Float64Array>()),
                    (idx::LOWER_BOUND, _) => Arc::new(rows.iter().map(|x| x.bounds.0).collect::<Float64Array>()),
                    (idx::UPPER_BOUND, _) => Arc::new(rows.iter().map(|x| x.bounds.1).collect::<Float64Array>()),
                    (_, ColumnType::Float) => Arc::new(rows.iter().map(|_| None).collect::<Float64Array>()),
                    (_, ColumnType::Int) => Arc::new(rows.iter().map(|_| Some(0)).collect::<Int32Array>()),
                    (_, ColumnType::Text) => Arc::new(
                        rows.iter()
                            .map(|x| match i {
                                idx::INDICATOR => Some("1.2.1"),
                                idx::SERIES => Some(x.series),
                                idx::REF_AREA => Some(x.area),
                                idx::TIME_PERIOD => Some(x.period),
                                idx::FREQ => Some("A"),
                                idx::REPORTING_TYPE => Some("N"),
                                idx::MIGRATORY_STATUS => Some(x.migratory),
                                idx::UNIT_MEASURE => Some(x.unit),
                                idx::OBS_STATUS => Some(x.status),
                                idx::CONF_STATUS => Some("F"),
                                _ if c.default == Some(obs::TOTAL) => Some(obs::TOTAL),
                                _ => None,
                            })
                            .collect::<StringArray>(),
                    ),
                }
            })
            .collect();
        RecordBatch::try_new(observation_schema(), cols).unwrap()
    }

    fn check(rules: &QualityRules, history: &[R<'_>], rows: &[R<'_>]) -> Vec<Problem> {
        let mut q = QualityChecker::new(rules, "armstat", "ilcs-poverty");
        if !history.is_empty() {
            q.history(&batch(history)).unwrap();
        }
        q.push(&batch(rows), 1).unwrap();
        q.finish()
    }

    /// Asserts exactly one warning, of `rule` at `row` with `value` in obs_value, naming the
    /// agency and the dataset.
    fn one(p: &[Problem], rule: Rule, row: u64, value: &str) -> String {
        assert_eq!(p.len(), 1, "{p:#?}");
        let w = &p[0];
        assert_eq!((w.rule, w.row, w.column.as_deref(), w.value.as_deref()), (rule, Some(row), Some("obs_value"), Some(value)), "{w}");
        assert_eq!(w.severity, crate::Severity::Warning);
        assert!(w.message.starts_with("agency armstat dataset ilcs-poverty: "), "{w}");
        w.to_string()
    }

    const S: &str = "SI_POV_NAHC";
    const YEARS: [&str; 6] = ["2015", "2016", "2017", "2018", "2019", "2020"];

    #[test]
    fn migrant_sum_mismatch_fires_beyond_the_tolerance_only() {
        let q = QualityRules::default();
        let cell = |m: f64| vec![r(S, "2021", "_T", 100.0, "NUMBER"), r(S, "2021", "MS_MIGRANT", m, "NUMBER"), r(S, "2021", "MS_NOMIGRANT", 41.0, "NUMBER")];
        // 60 + 41 = 101: the difference equals the tolerance (1 % of 100), so no warning.
        assert!(check(&q, &[], &cell(60.0)).is_empty());
        let text = one(&check(&q, &[], &cell(60.5)), Rule::MigrantSumMismatch, 1, "100");
        assert!(text.contains("migrant 60.5 (row 2) + non-migrant 41 (row 3) = 101.5 differs from the total 100"), "{text}");
        // Not additive (PT), or another cell (another year for the total): no warning.
        let pt: Vec<_> = cell(80.0).into_iter().map(|x| R { unit: "PT", ..x }).collect();
        assert!(check(&q, &[], &pt).is_empty());
        let mut apart = cell(80.0);
        apart[0].period = "2020";
        assert!(check(&q, &[], &apart).is_empty());
        // A missing value (obs_status M) takes no part.
        let mut missing = cell(80.0);
        missing[1].status = "M";
        assert!(check(&q, &[], &missing).is_empty());
    }

    #[test]
    fn percentage_out_of_range_fires_outside_0_100_in_percent_units() {
        let q = QualityRules::default();
        assert!(check(&q, &[], &[r(S, "2021", "_T", 100.0, "PT"), r(S, "2023", "_T", 0.0, "PT"), r(S, "2023", "_T", 140.0, "NUMBER")]).is_empty());
        let text = one(&check(&q, &[], &[r(S, "2021", "_T", 90.0, "PT"), r(S, "2022", "_T", 104.5, "PT")]), Rule::PercentageOutOfRange, 2, "104.5");
        assert!(text.contains("104.5 percent (PT) lies outside 0-100"), "{text}");
    }

    #[test]
    fn value_outside_bounds_fires_outside_its_bounds_only() {
        let q = QualityRules::default();
        let b = |v: f64, lo, hi| R { bounds: (lo, hi), ..r(S, "2021", "_T", v, "PT") };
        assert!(check(&q, &[], &[b(50.0, Some(40.0), Some(60.0))]).is_empty());
        assert!(check(&q, &[], &[b(60.0, Some(40.0), Some(60.0))]).is_empty(), "a bound is inside");
        let text = one(&check(&q, &[], &[b(61.2, Some(40.0), Some(60.0))]), Rule::ValueOutsideBounds, 1, "61.2");
        assert!(text.contains("61.2 lies outside its bounds [40, 60]"), "{text}");
        one(&check(&q, &[], &[b(3.0, Some(4.0), None)]), Rule::ValueOutsideBounds, 1, "3");
    }

    #[test]
    fn year_over_year_change_fires_beyond_the_series_limit() {
        let mut q = QualityRules::default();
        // 20 -> 29: +45 %, within 50 %; 2023 has no 2022 to compare with.
        assert!(check(&q, &[], &[r(S, "2020", "_T", 20.0, "PT"), r(S, "2021", "_T", 29.0, "PT"), r(S, "2023", "_T", 90.0, "PT")]).is_empty());
        let rows = [r(S, "2021", "_T", 31.0, "PT"), r(S, "2020", "_T", 20.0, "PT")];
        let text = one(&check(&q, &[], &rows), Rule::YearOverYearChange, 1, "31");
        assert!(text.contains("31 changed by +55.0% from 20 for the same period a year earlier (row 2), more than the limit of 50%"), "{text}");
        // Another series of the same rows (another sex) is not compared.
        assert!(check(&q, &[], &[r(S, "2020", "_T", 20.0, "PT"), r("SI_POV_DAY1", "2021", "_T", 31.0, "PT")]).is_empty());
        // A per-series limit replaces the default.
        q.series.insert(S.into(), SeriesQuality { yoy_max_change: Some(0.6), zscore_max: None });
        assert!(check(&q, &[], &rows).is_empty());
        q.series.insert(S.into(), SeriesQuality { yoy_max_change: Some(0.1), zscore_max: None });
        one(&check(&q, &[], &[r(S, "2020", "_T", 20.0, "PT"), r(S, "2021", "_T", 23.0, "PT")]), Rule::YearOverYearChange, 2, "23");
    }

    #[test]
    fn value_outside_history_fires_far_from_the_earlier_values() {
        let q = QualityRules { yoy_max_change: 100.0, ..QualityRules::default() };
        let series = |last: f64| -> Vec<R<'static>> {
            [10.0, 12.0, 11.0, 13.0, 12.0, last].iter().zip(YEARS).map(|(v, y)| r(S, y, "_T", *v, "PT")).collect()
        };
        // Mean 11.6, standard deviation 1.14: 14 is 2.1 deviations away.
        assert!(check(&q, &[], &series(14.0)).is_empty());
        let text = one(&check(&q, &[], &series(30.0)), Rule::ValueOutsideHistory, 6, "30");
        assert!(text.contains("30 lies +16.1 standard deviations from the mean 11.6 (standard deviation 1.1402) of the 5 earlier values of its series, more than 3"), "{text}");
        // Four earlier values are too few.
        assert!(check(&q, &[], &series(30.0)[1..]).is_empty());
    }

    #[test]
    fn history_informs_but_never_warns() {
        let q = QualityRules::default();
        let history: Vec<R<'_>> = [10.0, 12.0, 11.0, 13.0, 90.0].iter().zip(YEARS).map(|(v, y)| r(S, y, "_T", *v, "PT")).collect();
        // The history jumps (13 -> 90) but gives no warning of its own.
        assert!(check(&q, &history, &[]).is_empty());
        // 2020 compared with 2019 of the history: 90 -> 40 is -55.6 %.
        let text = one(&check(&q, &history, &[r(S, "2020", "_T", 40.0, "PT")]), Rule::YearOverYearChange, 1, "40");
        assert!(text.contains("(in the dataset's current version)"), "{text}");
        // The publication restates 2019 as 13.5: it replaces the history point, and 2020 is
        // now compared with it (+48 %, within the limit), but 20 stands out from the calm
        // earlier values (mean 11.9, standard deviation 1.4).
        let pushed = [r(S, "2019", "_T", 13.5, "PT"), r(S, "2020", "_T", 20.0, "PT")];
        let p = check(&q, &history, &pushed);
        assert_eq!(p.iter().map(|w| (w.rule, w.row)).collect::<Vec<_>>(), [(Rule::ValueOutsideHistory, Some(2))], "{p:#?}");
        // Without history, the same rows give nothing.
        assert!(check(&q, &[], &pushed).is_empty());
    }

    #[test]
    fn the_warnings_of_the_lowest_rows_are_kept() {
        let q = QualityRules { zscore_min_points: 10, ..QualityRules::default() };
        // Every year doubles: rows 1 to 5 (2020 back to 2016) break the year-over-year limit;
        // the two of the lowest rows are kept.
        let rows: Vec<_> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0].iter().zip(YEARS).map(|(v, y)| r(S, y, "_T", *v, "NUMBER")).rev().collect();
        let mut c = QualityChecker::new(&q, "armstat", "ilcs-poverty").with_max_warnings(2);
        c.push(&batch(&rows), 1).unwrap();
        let p = c.finish();
        assert_eq!(p.iter().map(|w| (w.rule, w.row)).collect::<Vec<_>>(), [(Rule::YearOverYearChange, Some(1)), (Rule::YearOverYearChange, Some(2))]);
    }

    #[test]
    fn points_beyond_the_cap_are_reported_not_kept() {
        let q = QualityRules { max_points: 2, ..QualityRules::default() };
        let p = check(&q, &[], &[r(S, "2020", "_T", 20.0, "PT"), r(S, "2021", "_T", 29.0, "PT"), r(S, "2022", "_T", 90.0, "PT")]);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!((p[0].rule, p[0].row, p[0].value.as_deref()), (Rule::QualityPointsCapped, Some(3), Some("2")));
        assert!(p[0].message.contains("rows from row 3 on were not checked by migrant_sum_mismatch"), "{}", p[0]);
    }

    #[test]
    fn memory_stays_bounded_past_the_cap() {
        // 50,000 rows, each its own series (its own area): the worst case; 10,000 points kept.
        let q = QualityRules { max_points: 10_000, ..QualityRules::default() };
        let areas: Vec<String> = (0..50_000).map(|i| format!("A{i}")).collect();
        let mut checker = QualityChecker::new(&q, "armstat", "ilcs-poverty");
        for (chunk, part) in areas.chunks(5_000).enumerate() {
            let unit = if chunk % 2 == 0 { "PT" } else { "NUMBER" };
            let rows: Vec<R<'_>> = part.iter().map(|a| R { area: a, ..r(S, "2021", "_T", 1.0, unit) }).collect();
            checker.push(&batch(&rows), 1 + chunk as u64 * 5_000).unwrap();
        }
        assert_eq!(checker.points, 10_000);
        let bytes = checker.retained_bytes();
        assert!(bytes < 10_000 * 200, "{bytes} bytes for 10,000 points");
        let p = checker.finish();
        assert_eq!(p.len(), 1, "{p:#?}");
        // Rows 1-5,000 are series points; rows 5,001-7,500 an additive cell and a point each.
        assert_eq!((p[0].rule, p[0].row), (Rule::QualityPointsCapped, Some(7_501)));
    }

    #[test]
    fn quality_table_parses_and_refuses_unknown_keys() {
        let mut f = crate::Framework::global();
        let mut c = Codelists::global();
        let head = "name='x'\nversion='1'\n";
        f.apply_str("nat.toml", &format!("{head}[quality]\nadditive_units=['NUMBER','HA']\nyoy_max_change=0.25\nzscore_min_points=8\n[quality.series.SI_POV_NAHC]\nyoy_max_change=0.1\n"), &mut c).unwrap();
        let q = f.quality();
        assert_eq!((q.additive_units.len(), q.yoy_max_change, q.zscore_min_points, q.zscore_max), (2, 0.25, 8, 3.0));
        assert_eq!(q.limits("SI_POV_NAHC"), (0.1, 3.0));
        assert_eq!(q.limits("SI_POV_DAY1"), (0.25, 3.0));
        f.apply_str("nat.toml", head, &mut c).unwrap();
        assert_eq!(f.quality(), &QualityRules::default(), "no [quality] table: the defaults");
        for (text, needle) in [
            ("[quality]\nyoy_max=1", "unknown field `yoy_max`"),
            ("[quality.series.SI_POV_NAHC]\nthreshold=1", "unknown field `threshold`"),
            ("[quality]\npercent_units=['PERCENT']", "quality.percent_units: \"PERCENT\" is not in CL_UNIT_MEASURE"),
            ("[quality]\nzscore_max=0", "quality.zscore_max must be a positive number"),
            ("[quality]\nzscore_min_points=1", "at least 2"),
            ("[quality.series.NOT_A_SERIES]\nzscore_max=2", "quality.series.NOT_A_SERIES"),
        ] {
            let e = f.apply_str("nat.toml", &format!("{head}{text}\n"), &mut c).unwrap_err().to_string();
            assert!(e.contains(needle) && e.starts_with("nat.toml: line "), "{e} should mention {needle}");
        }
        let e = f.apply_str("nat.toml", &format!("{head}[quality]\nyoy_max=1\n"), &mut c).unwrap_err().to_string();
        assert!(e.starts_with("nat.toml: line 4: "), "the unknown key's line: {e}");
    }
}
