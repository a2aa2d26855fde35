//! Validation results: problems with their rules, the report of a rejected publication, and
//! the import summary of an accepted one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a problem is: errors reject the publication, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Rejects the publication.
    Error,
    /// Reported, but the publication is accepted.
    Warning,
}

macro_rules! rules {
    ($($variant:ident => $id:literal, $sev:ident, $doc:literal;)*) => {
        /// Every validation rule, with a stable snake_case id used in reports and docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Rule {
            $(#[doc = $doc] $variant,)*
        }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable id, e.g. `unknown_code`.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// Whether breaking the rule is an error or a warning.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$sev,)* }
            }

            /// One-line description of the rule.
            pub fn description(self) -> &'static str {
                match self { $(Rule::$variant => $doc,)* }
            }
        }
    };
}

rules! {
    MissingColumn => "missing_column", Error, "A required column is absent from the data.";
    WrongType => "wrong_type", Error, "A column has the wrong Arrow type.";
    UnknownColumn => "unknown_column", Error, "A column is not part of the contract.";
    SchemaChanged => "schema_changed", Error, "A batch's schema differs from the first batch's.";
    NotANumber => "not_a_number", Error, "A numeric column holds text that is not a number.";
    MissingValue => "missing_value", Error, "A required cell (indicator, ref_area, time_period, unit_measure...) is empty.";
    UnknownIndicator => "unknown_indicator", Error, "The indicator is not in the framework in force.";
    IndicatorNotInManifest => "indicator_not_in_manifest", Error, "The indicator is not listed in the manifest.";
    SeriesNotOfIndicator => "series_not_of_indicator", Error, "The series does not measure the row's indicator.";
    UnknownCode => "unknown_code", Error, "A coded cell holds a code that is not in its codelist.";
    RefAreaNotAllowed => "ref_area_not_allowed", Error, "ref_area is not an area the publishing agency may publish for (the areas of its entry in the coordinator's agency registry).";
    MalformedTimePeriod => "malformed_time_period", Error, "time_period is not an SDMX time period.";
    TimePeriodFreqMismatch => "time_period_freq_mismatch", Error, "time_period's form does not match freq (A needs YYYY, Q needs YYYY-Qn...).";
    TimePeriodOutsideReference => "time_period_outside_reference", Error, "time_period falls outside the manifest's reference period.";
    DuplicateKey => "duplicate_key", Error, "Two rows have the same observation key (identity and every breakdown).";
    NullValueWithoutStatus => "null_value_without_status", Error, "obs_value is null but obs_status is not M and conf_status is not C, D or N.";
    NonFiniteValue => "non_finite_value", Error, "obs_value, lower_bound or upper_bound is NaN or infinite.";
    UnitConflictsWithSeries => "unit_conflicts_with_series", Error, "unit_measure differs from the unit fixed by the series or indicator.";
    MigratoryStatusInComposite => "migratory_status_in_composite", Error, "An MS_* code stands in composite_breakdown; it belongs in migratory_status.";
    SuppressedCellHasValue => "suppressed_cell_has_value", Error, "A cell withheld for confidentiality (conf_status C, D or N) carries a value.";
    BoundsInverted => "bounds_inverted", Error, "lower_bound is greater than upper_bound.";
    TextTooLong => "text_too_long", Error, "comment_obs is longer than 4,000 bytes.";
    ManifestInvalidId => "manifest_invalid_id", Error, "The manifest's agency or dataset id is malformed.";
    ManifestMissingField => "manifest_missing_field", Error, "The manifest lacks a title or lists no indicators.";
    ManifestUnknownIndicator => "manifest_unknown_indicator", Error, "The manifest lists an indicator that is not in the framework.";
    ManifestBadPeriodicity => "manifest_bad_periodicity", Error, "The manifest's periodicity is not a CL_FREQ code with a time-period form (A, S, Q, M, W, D, B).";
    ManifestBadReferencePeriod => "manifest_bad_reference_period", Error, "The reference period is malformed or ends before it starts.";
    NoRows => "no_rows", Error, "The publication carries no rows and its manifest does not withdraw the dataset (withdraw = true).";
    WithdrawalWithRows => "withdrawal_with_rows", Error, "The manifest withdraws the dataset (withdraw = true) but the publication carries rows.";
    ManifestContentHashMismatch => "manifest_content_hash_mismatch", Error, "The manifest's content_hash is malformed or differs from the content received.";
    PercentageOutOfRange => "percentage_out_of_range", Warning, "A value in a percent unit ([quality] percent_units, default PT) lies outside 0-100.";
    ValueOutsideBounds => "value_outside_bounds", Warning, "obs_value lies outside [lower_bound, upper_bound].";
    MigrantSumMismatch => "migrant_sum_mismatch", Warning, "In an additive unit ([quality] additive_units, default NUMBER), migrant + non-migrant differs from the total of the same cell by more than [quality] additive_tolerance of the total.";
    YearOverYearChange => "year_over_year_change", Warning, "The value changed from the same period one year earlier in its series by more than [quality] yoy_max_change of the earlier value.";
    ValueOutsideHistory => "value_outside_history", Warning, "The value lies more than [quality] zscore_max standard deviations from the mean of its series' earlier values.";
    QualityPointsCapped => "quality_points_capped", Warning, "More rows arrived than the quality rules keep ([quality] max_points): later rows were not checked by the additive, year-over-year and history rules.";
    IndicatorOutOfScope => "indicator_out_of_scope", Warning, "The indicator is marked out of scope by the national framework; it counts in no figure.";
    FreqDiffersFromPeriodicity => "freq_differs_from_periodicity", Warning, "A row's freq differs from the manifest's periodicity.";
    ManifestIndicatorWithoutRows => "manifest_indicator_without_rows", Warning, "The manifest lists an indicator for which no row arrived.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One problem found in a publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The rule broken.
    pub rule: Rule,
    /// Error or warning (follows from the rule).
    pub severity: Severity,
    /// 1-based data row number across the whole stream (the CSV line is `row + 1`), when the
    /// problem belongs to a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The column (or `manifest.<field>`), when the problem belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The offending value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem of `rule`.
    pub fn new(rule: Rule, row: Option<u64>, column: Option<&str>, value: Option<&str>, message: String) -> Self {
        Problem {
            rule,
            severity: rule.severity(),
            row,
            column: column.map(str::to_owned),
            value: value.map(|v| truncate(v, 200)),
            message: if message.len() > MAX_MESSAGE { truncate(&message, MAX_MESSAGE) } else { message },
        }
    }
}

/// Longest message kept in a problem, in bytes: a message that quotes a huge value is cut, so a
/// report stays small enough for a gRPC status.
const MAX_MESSAGE: usize = 1000;

fn truncate(v: &str, max: usize) -> String {
    if v.len() <= max {
        return v.to_owned();
    }
    let mut end = max;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &v[..end], v.len())
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev} [{}]", self.rule)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, " column {c}")?;
        }
        if let Some(v) = &self.value {
            write!(f, " value {v:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a publication was rejected: every problem found, up to the cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// The publishing agency.
    pub agency: String,
    /// The dataset.
    pub dataset: String,
    /// Rows examined.
    pub rows: u64,
    /// Errors, in the order found (at most the cap).
    pub errors: Vec<Problem>,
    /// Warnings (at most the cap).
    pub warnings: Vec<Problem>,
    /// Total errors found, including those beyond the cap.
    pub error_count: u64,
    /// Whether problems were dropped because the cap was reached.
    pub truncated: bool,
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "agency {} dataset {}: rejected, {} error(s) in {} row(s){}",
            self.agency,
            self.dataset,
            self.error_count,
            self.rows,
            if self.truncated { " (list truncated)" } else { "" }
        )?;
        for p in self.errors.iter().chain(&self.warnings) {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// What one indicator contributed to an accepted publication.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndicatorSummary {
    /// Rows of this indicator.
    pub rows: u64,
    /// Distinct time periods.
    pub periods: BTreeSet<String>,
    /// Breakdown columns with at least one code other than `_T` and `_Z`.
    pub disaggregations: BTreeSet<String>,
    /// Cells withheld for confidentiality (conf_status C, D or N).
    pub suppressed: u64,
}

/// The import summary of a valid publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// The publishing agency.
    pub agency: String,
    /// The dataset.
    pub dataset: String,
    /// Rows accepted.
    pub rows: u64,
    /// Distinct time periods across the dataset.
    pub periods: BTreeSet<String>,
    /// Per indicator: rows, periods, disaggregations present.
    pub indicators: BTreeMap<String, IndicatorSummary>,
    /// `sha256:<hex>` of the canonical content.
    pub content_hash: String,
    /// Warnings found (at most the cap).
    pub warnings: Vec<Problem>,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let periods: Vec<_> = self.periods.iter().map(String::as_str).collect();
        writeln!(
            f,
            "agency {} dataset {}: {} row(s), {} indicator(s), periods {}",
            self.agency,
            self.dataset,
            self.rows,
            self.indicators.len(),
            if periods.is_empty() { "-".to_owned() } else { periods.join(", ") }
        )?;
        for (code, s) in &self.indicators {
            let d: Vec<_> = s.disaggregations.iter().map(String::as_str).collect();
            writeln!(
                f,
                "  {code:<12} {:>7} row(s)  {:>3} period(s)  {:>4} suppressed  by: {}",
                s.rows,
                s.periods.len(),
                s.suppressed,
                if d.is_empty() { "(totals only)".to_owned() } else { d.join(", ") }
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "  {w}")?;
        }
        writeln!(f, "  content hash {}", self.content_hash)
    }
}
