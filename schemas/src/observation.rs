//! The observation: one value of one indicator for one area, period and breakdown.
//!
//! The Arrow schema follows the UN SDMX SDG data structure (DSD `IAEG-SDGs:SDG(1.14)`) with
//! lowercase column names, plus `migratory_status` as a first-class dimension. The column
//! list, order and types here are the wire format; `schemas/README.md` documents each column.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// The role a column plays in an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Identifies the observation (indicator, series, area, period, frequency, reporting type).
    Identity,
    /// A breakdown dimension; defaults to `_T` (total).
    Breakdown,
    /// The measured value.
    Measure,
    /// An attribute describing the value.
    Attribute,
}

/// One column of the observation schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Lowercase column name, as in SQL and in the CSV header.
    pub name: &'static str,
    /// The Arrow type on the wire.
    pub data_type: ColumnType,
    /// What the column is.
    pub role: Role,
    /// Whether every row must have a value (after defaults are applied).
    pub required: bool,
    /// The value used when the column or the cell is absent, if any.
    pub default: Option<&'static str>,
    /// The codelist the values must come from, if coded.
    pub codelist: Option<&'static str>,
    /// The corresponding SDMX concept in the global DSD.
    pub sdmx: &'static str,
}

/// The Arrow type of a contract column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (`Utf8`).
    Text,
    /// 64-bit float (`Float64`).
    Float,
    /// 32-bit integer (`Int32`).
    Int,
}

impl ColumnType {
    /// The Arrow data type.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Float => DataType::Float64,
            ColumnType::Int => DataType::Int32,
        }
    }
}

/// The total code of every breakdown.
pub const TOTAL: &str = "_T";
/// The "not applicable" code of every breakdown.
pub const NOT_APPLICABLE: &str = "_Z";
/// `obs_status` of a value that is missing because it cannot exist.
pub const OBS_STATUS_MISSING: &str = "M";
/// `conf_status` of a cell suppressed for confidentiality.
pub const CONF_STATUS_CONFIDENTIAL: &str = "C";
/// `conf_status` of a cell suppressed to protect another cell (secondary suppression).
pub const CONF_STATUS_SECONDARY: &str = "D";

/// `conf_status` of a cell not for publication.
pub const CONF_STATUS_NOT_FOR_PUBLICATION: &str = "N";

/// Whether a `conf_status` marks the cell as withheld (C, D or N): its value must be empty.
pub fn is_suppressed(conf_status: &str) -> bool {
    matches!(conf_status, CONF_STATUS_CONFIDENTIAL | CONF_STATUS_SECONDARY | CONF_STATUS_NOT_FOR_PUBLICATION)
}

/// Whether a breakdown code is an actual breakdown (not `_T` total or `_Z` not applicable).
pub fn is_breakdown(code: &str) -> bool {
    code != TOTAL && code != NOT_APPLICABLE
}

/// `migratory_status` of migrants: one side of a migrant / non-migrant pair.
pub const MIGRANT: &str = "MS_MIGRANT";
/// `migratory_status` of non-migrants: the other side of a migrant / non-migrant pair.
pub const NON_MIGRANT: &str = "MS_NOMIGRANT";

/// A side of a migrant / non-migrant pair: the two `migratory_status` codes the migrant gap
/// figures compare and whose values add up to the total (`_T`) in additive units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrantSide {
    /// [`MIGRANT`].
    Migrant,
    /// [`NON_MIGRANT`].
    NonMigrant,
}

/// The side of a migrant / non-migrant pair a `migratory_status` code stands for, if any
/// (other codes, such as `MS_EUMIGRANT` or the national `NMS_*`, belong to no pair).
pub fn migrant_side(migratory_status: &str) -> Option<MigrantSide> {
    match migratory_status {
        MIGRANT => Some(MigrantSide::Migrant),
        NON_MIGRANT => Some(MigrantSide::NonMigrant),
        _ => None,
    }
}

const fn col(
    name: &'static str,
    data_type: ColumnType,
    role: Role,
    required: bool,
    default: Option<&'static str>,
    codelist: Option<&'static str>,
    sdmx: &'static str,
) -> Column {
    Column { name, data_type, role, required, default, codelist, sdmx }
}

const fn breakdown(name: &'static str, codelist: &'static str, sdmx: &'static str) -> Column {
    col(name, ColumnType::Text, Role::Breakdown, true, Some(TOTAL), Some(codelist), sdmx)
}

use ColumnType::{Float, Int, Text};
use Role::{Attribute, Identity, Measure};

/// Every column of the observation schema, in wire order.
pub const COLUMNS: &[Column] = &[
    col("indicator", Text, Identity, true, None, None, "(SERIES' indicator)"),
    col("series", Text, Identity, false, None, Some("CL_SERIES"), "SERIES"),
    col("ref_area", Text, Identity, true, None, Some("CL_AREA"), "REF_AREA"),
    col("time_period", Text, Identity, true, None, None, "TIME_PERIOD"),
    col("freq", Text, Identity, true, Some("A"), Some("CL_FREQ"), "FREQ"),
    col("reporting_type", Text, Identity, true, Some("N"), Some("CL_REPORTING_TYPE"), "REPORTING_TYPE"),
    breakdown("sex", "CL_SEX", "SEX"),
    breakdown("age", "CL_AGE", "AGE"),
    breakdown("urbanisation", "CL_URBANISATION", "URBANISATION"),
    breakdown("income_wealth_quantile", "CL_QUANTILE", "INCOME_WEALTH_QUANTILE"),
    breakdown("education_lev", "CL_EDUCATION_LEV", "EDUCATION_LEV"),
    breakdown("occupation", "CL_OCCUPATION", "OCCUPATION"),
    breakdown("cust_breakdown", "CL_CUST_BREAKDOWN", "CUST_BREAKDOWN"),
    breakdown("composite_breakdown", "CL_COMP_BREAKDOWN", "COMPOSITE_BREAKDOWN"),
    breakdown("disability_status", "CL_DISABILITY", "DISABILITY_STATUS"),
    breakdown("activity", "CL_ACTIVITY", "ACTIVITY"),
    breakdown("product", "CL_PRODUCT", "PRODUCT"),
    breakdown("migratory_status", "CL_MIGRATORY_STATUS", "(COMPOSITE_BREAKDOWN MS_*)"),
    col("obs_value", Float, Measure, false, None, None, "OBS_VALUE"),
    col("unit_measure", Text, Attribute, true, None, Some("CL_UNIT_MEASURE"), "UNIT_MEASURE"),
    col("unit_mult", Int, Attribute, true, Some("0"), Some("CL_UNIT_MULT"), "UNIT_MULT"),
    col("obs_status", Text, Attribute, true, Some("A"), Some("CL_OBS_STATUS"), "OBS_STATUS"),
    col("conf_status", Text, Attribute, true, Some("F"), Some("CL_CONF_STATUS"), "CONF_STATUS"),
    col("nature", Text, Attribute, false, None, Some("CL_NATURE"), "NATURE"),
    col("lower_bound", Float, Attribute, false, None, None, "LOWER_BOUND"),
    col("upper_bound", Float, Attribute, false, None, None, "UPPER_BOUND"),
    col("comment_obs", Text, Attribute, false, None, None, "COMMENT_OBS"),
];

/// Index of each column in [`COLUMNS`] (and in every wire batch).
#[allow(missing_docs)]
pub mod idx {
    pub const INDICATOR: usize = 0;
    pub const SERIES: usize = 1;
    pub const REF_AREA: usize = 2;
    pub const TIME_PERIOD: usize = 3;
    pub const FREQ: usize = 4;
    pub const REPORTING_TYPE: usize = 5;
    pub const FIRST_BREAKDOWN: usize = 6;
    pub const COMPOSITE_BREAKDOWN: usize = 13;
    pub const MIGRATORY_STATUS: usize = 17;
    pub const OBS_VALUE: usize = 18;
    pub const UNIT_MEASURE: usize = 19;
    pub const UNIT_MULT: usize = 20;
    pub const OBS_STATUS: usize = 21;
    pub const CONF_STATUS: usize = 22;
    pub const NATURE: usize = 23;
    pub const LOWER_BOUND: usize = 24;
    pub const UPPER_BOUND: usize = 25;
    pub const COMMENT_OBS: usize = 26;
}

/// The columns that form an observation's key: two rows with the same key are duplicates.
///
/// The key is every identity column and every breakdown (not the measure or attributes).
pub fn key_columns() -> impl Iterator<Item = usize> {
    0..=idx::MIGRATORY_STATUS
}

/// The breakdown columns, in wire order.
pub fn breakdowns() -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(|c| c.role == Role::Breakdown)
}

/// Finds a column by name.
pub fn column(name: &str) -> Option<(usize, &'static Column)> {
    COLUMNS.iter().enumerate().find(|(_, c)| c.name == name)
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|c| Field::new(c.name, c.data_type.arrow(), !c.required))
            .collect::<Vec<_>>(),
    ))
});

/// The Arrow schema of observations on the wire and in the store.
pub fn observation_schema() -> SchemaRef {
    SCHEMA.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_names() {
        assert_eq!(COLUMNS[idx::INDICATOR].name, "indicator");
        assert_eq!(COLUMNS[idx::COMPOSITE_BREAKDOWN].name, "composite_breakdown");
        assert_eq!(COLUMNS[idx::MIGRATORY_STATUS].name, "migratory_status");
        assert_eq!(COLUMNS[idx::OBS_VALUE].name, "obs_value");
        assert_eq!(COLUMNS[idx::CONF_STATUS].name, "conf_status");
        assert_eq!(COLUMNS[idx::COMMENT_OBS].name, "comment_obs");
        assert_eq!(COLUMNS.len(), idx::COMMENT_OBS + 1);
        assert_eq!(breakdowns().count(), 12);
        assert!(breakdowns().all(|c| c.default == Some(TOTAL)));
    }

    #[test]
    fn schema_types() {
        let s = observation_schema();
        assert_eq!(s.field(idx::OBS_VALUE).data_type(), &DataType::Float64);
        assert_eq!(s.field(idx::UNIT_MULT).data_type(), &DataType::Int32);
        assert!(s.field(idx::OBS_VALUE).is_nullable());
        assert!(!s.field(idx::INDICATOR).is_nullable());
    }
}
