//! Disaggregation status (Open SDG's semantics) and the coverage matrix.
//!
//! A **breakdown present** for an indicator is a breakdown column (one of the contract's twelve:
//! `sex`, `age`, ..., `migratory_status`) with some code other than `_T` and `_Z` among the
//! observations that count (`figure_observations`: in scope, `obs_status` not `M`, in the
//! window). **Geography below national** is present when some such observation has a
//! `ref_area` other than the national area (`national_area` in the coordinator config).
//!
//! **Disaggregation status** of an in-scope indicator compares the framework's
//! `expected_disaggregations` with the breakdowns present:
//! - `not_applicable`: no disaggregation is expected;
//! - `complete`: every expected breakdown is present;
//! - `in_progress`: some, not all;
//! - `not_started`: none (including an indicator with no data).
//!
//! Rolled up by goal (counts of each status over the goal's in-scope indicators) and by agency
//! (over the indicators the agency produced, from its own observations only).
//!
//! The **coverage matrix** has one row per in-scope indicator and dimension of
//! [`DIMENSIONS`], `covered` true when the breakdown is present, with the codes seen.

use std::collections::BTreeMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};
use sdgx_schemas::observation::{Role, COLUMNS};

use super::{columns, literal, query, strings, ints, sort_codes, About, PublicationRef, ViewParams};
use crate::catalog::Session;
use crate::error::Result;

/// The coverage matrix's dimensions, in column order.
pub const DIMENSIONS: [&str; 7] =
    ["sex", "age", "migratory_status", "disability_status", "urbanisation", "income_wealth_quantile", "geography"];

/// Disaggregation status definition.
pub const STATUS_DEFINITION: &str = "Disaggregation status (Open SDG): for each in-scope indicator, the framework's expected \
disaggregations are compared with the breakdowns present, i.e. breakdown columns with a code other than _T and _Z among the \
observations that count (in scope, obs_status other than M, in the window). not_applicable: none expected; complete: all expected present; \
in_progress: some; not_started: none (or no data). By goal: counts over the goal's in-scope indicators. By agency: over the indicators the \
agency produced, from its own observations.";

/// Coverage matrix definition.
pub const COVERAGE_DEFINITION: &str = "Coverage matrix: for each in-scope indicator and each of sex, age, migratory_status, \
disability_status, urbanisation, income_wealth_quantile and geography below national, covered is true when some observation that counts \
(in scope, obs_status other than M, in the window) has a code other than _T and _Z in that column (for geography: a ref_area other than \
the national area); codes lists the codes seen.";

/// The views of this module.
pub(super) fn views(p: &ViewParams) -> Vec<(&'static str, String)> {
    let mut parts: Vec<String> = COLUMNS
        .iter()
        .filter(|c| c.role == Role::Breakdown)
        .map(|c| {
            format!(
                "SELECT agency, indicator, '{0}' AS dimension, {0} AS code FROM figure_observations WHERE {0} NOT IN ('_T', '_Z')",
                c.name
            )
        })
        .collect();
    parts.push(format!(
        "SELECT agency, indicator, 'geography' AS dimension, ref_area AS code FROM figure_observations WHERE ref_area <> {}",
        literal(&p.national_area)
    ));
    let dims = DIMENSIONS.iter().map(|d| format!("('{d}')")).collect::<Vec<_>>().join(", ");
    // Expected-vs-present per (agency or national, indicator): n_expected, n_present, lists.
    let status_case = "CASE WHEN c.n_expected IS NULL THEN 'not_applicable' WHEN c.n_present = c.n_expected THEN 'complete' \
                       WHEN c.n_present > 0 THEN 'in_progress' ELSE 'not_started' END";
    let counts = |by_agency: bool| {
        let (k, on) = if by_agency { ("e.agency, ", "pr.agency = e.agency AND ") } else { ("", "") };
        let source = if by_agency {
            "(SELECT DISTINCT agency, indicator FROM figure_observations) p JOIN indicators i ON i.indicator = p.indicator"
        } else {
            "indicators i"
        };
        let pk = if by_agency { "p.agency, " } else { "" };
        format!(
            "SELECT {k}e.indicator, COUNT(*) AS n_expected, COUNT(pr.dimension) AS n_present,
                    string_agg(CASE WHEN pr.dimension IS NOT NULL THEN e.dimension END, ';' ORDER BY e.dimension) AS present,
                    string_agg(CASE WHEN pr.dimension IS NULL THEN e.dimension END, ';' ORDER BY e.dimension) AS missing
             FROM (SELECT {pk}i.indicator, unnest(string_to_array(i.expected_disaggregations, ';')) AS dimension
                   FROM {source} WHERE i.in_scope AND i.expected_disaggregations <> '') e
             LEFT JOIN (SELECT DISTINCT agency, indicator, dimension FROM observed_breakdowns) pr
               ON {on}pr.indicator = e.indicator AND pr.dimension = e.dimension
             GROUP BY {k}e.indicator"
        )
    };
    let rollup = |source: &str, key: &str| {
        format!(
            "SELECT CAST({key} AS VARCHAR) AS key,
                    SUM(CASE WHEN status = 'complete' THEN 1 ELSE 0 END) AS complete,
                    SUM(CASE WHEN status = 'in_progress' THEN 1 ELSE 0 END) AS in_progress,
                    SUM(CASE WHEN status = 'not_started' THEN 1 ELSE 0 END) AS not_started,
                    SUM(CASE WHEN status = 'not_applicable' THEN 1 ELSE 0 END) AS not_applicable,
                    COUNT(*) AS indicators
             FROM {source} GROUP BY {key}"
        )
    };
    vec![
        ("observed_breakdowns", parts.join("\nUNION ALL\n")),
        (
            "coverage_matrix",
            format!(
                "SELECT i.indicator, i.goal, d.dimension, COUNT(o.code) > 0 AS covered,
                        COALESCE(string_agg(o.code, ';' ORDER BY o.code), '') AS codes
                 FROM indicators i CROSS JOIN (VALUES {dims}) AS d(dimension)
                 LEFT JOIN (SELECT DISTINCT indicator, dimension, code FROM observed_breakdowns) o
                   ON o.indicator = i.indicator AND o.dimension = d.dimension
                 WHERE i.in_scope
                 GROUP BY i.indicator, i.goal, d.dimension"
            ),
        ),
        (
            "disaggregation_status_by_indicator",
            format!(
                "SELECT i.indicator, i.goal, i.expected_disaggregations AS expected,
                        COALESCE(c.present, '') AS present, COALESCE(c.missing, '') AS missing, {status_case} AS status
                 FROM indicators i LEFT JOIN ({}) c ON c.indicator = i.indicator
                 WHERE i.in_scope",
                counts(false)
            ),
        ),
        ("disaggregation_status_by_goal", rollup("disaggregation_status_by_indicator", "goal")),
        (
            "disaggregation_status_by_agency",
            rollup(
                &format!(
                    "(SELECT p.agency, p.indicator, {status_case} AS status
                      FROM (SELECT DISTINCT agency, indicator FROM figure_observations) p
                      JOIN indicators i ON i.indicator = p.indicator
                      LEFT JOIN ({}) c ON c.agency = p.agency AND c.indicator = p.indicator
                      WHERE i.in_scope) s",
                    counts(true)
                ),
                "agency",
            ),
        ),
    ]
}

/// Counts of indicators by disaggregation status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Goal number, agency id, or `national`.
    pub key: String,
    /// All expected breakdowns present.
    pub complete: i64,
    /// Some expected breakdowns present.
    pub in_progress: i64,
    /// No expected breakdown present.
    pub not_started: i64,
    /// No breakdown expected.
    pub not_applicable: i64,
    /// Indicators counted.
    pub indicators: i64,
}

/// One indicator's disaggregation status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorStatus {
    /// Indicator code.
    pub indicator: String,
    /// Goal.
    pub goal: i64,
    /// `complete`, `in_progress`, `not_started` or `not_applicable`.
    pub status: String,
    /// Expected breakdowns.
    pub expected: Vec<String>,
    /// Expected breakdowns present.
    pub present: Vec<String>,
    /// Expected breakdowns missing.
    pub missing: Vec<String>,
}

/// Disaggregation status with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisaggregationStatus {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// National counts.
    pub national: StatusCounts,
    /// Per goal.
    pub by_goal: Vec<StatusCounts>,
    /// Per agency.
    pub by_agency: Vec<StatusCounts>,
    /// Per in-scope indicator.
    pub indicators: Vec<IndicatorStatus>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

/// One cell of the coverage matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Whether the breakdown is present.
    pub covered: bool,
    /// The codes seen.
    pub codes: Vec<String>,
}

/// One indicator's row of the coverage matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageRow {
    /// Indicator code.
    pub indicator: String,
    /// Goal.
    pub goal: i64,
    /// Dimension → cell.
    pub cells: BTreeMap<String, Cell>,
}

/// The coverage matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageMatrix {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// The dimensions, in column order.
    pub dimensions: Vec<String>,
    /// Per in-scope indicator, in framework order.
    pub rows: Vec<CoverageRow>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

fn list(s: &str) -> Vec<String> {
    s.split(';').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

fn counts(batches: &[RecordBatch]) -> Result<Vec<StatusCounts>> {
    let keys = strings(batches, "key")?;
    let [c, p, n, a, t] = columns(batches, ["complete", "in_progress", "not_started", "not_applicable", "indicators"], ints)?;
    Ok((0..keys.len())
        .map(|i| StatusCounts { key: keys[i].clone(), complete: c[i], in_progress: p[i], not_started: n[i], not_applicable: a[i], indicators: t[i] })
        .collect())
}

/// Computes disaggregation status in `session`.
pub async fn status(s: &Session, about: About) -> Result<DisaggregationStatus> {
    let ctx = &s.ctx;
    let national = counts(&query(ctx, "SELECT 'national' AS key, SUM(complete) AS complete, SUM(in_progress) AS in_progress, \
        SUM(not_started) AS not_started, SUM(not_applicable) AS not_applicable, SUM(indicators) AS indicators FROM disaggregation_status_by_goal").await?)?
        .into_iter()
        .next()
        .filter(|c| c.indicators > 0)
        .unwrap_or(StatusCounts { key: "national".into(), complete: 0, in_progress: 0, not_started: 0, not_applicable: 0, indicators: 0 });
    let by_goal = counts(&query(ctx, "SELECT * FROM disaggregation_status_by_goal ORDER BY CAST(key AS INT)").await?)?;
    let by_agency = counts(&query(ctx, "SELECT * FROM disaggregation_status_by_agency ORDER BY key").await?)?;
    let b = query(ctx, "SELECT * FROM disaggregation_status_by_indicator").await?;
    let (codes, goals, st, ex, pr, mi) =
        (strings(&b, "indicator")?, ints(&b, "goal")?, strings(&b, "status")?, strings(&b, "expected")?, strings(&b, "present")?, strings(&b, "missing")?);
    let mut indicators: Vec<IndicatorStatus> = (0..codes.len())
        .map(|i| IndicatorStatus {
            indicator: codes[i].clone(),
            goal: goals[i],
            status: st[i].clone(),
            expected: list(&ex[i]),
            present: list(&pr[i]),
            missing: list(&mi[i]),
        })
        .collect();
    sort_by_code(&mut indicators, |r| &r.indicator);
    Ok(DisaggregationStatus { about, national, by_goal, by_agency, indicators, publications: super::publication_refs(s) })
}

/// Sorts rows by indicator code in framework order.
pub(super) fn sort_by_code<T>(rows: &mut [T], code: impl Fn(&T) -> &String) {
    let mut order: Vec<String> = rows.iter().map(|r| code(r).clone()).collect();
    sort_codes(&mut order);
    order.dedup();
    let rank: std::collections::HashMap<&str, usize> = order.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    rows.sort_by_key(|r| rank[code(r).as_str()]);
}

/// Computes the coverage matrix in `session`.
pub async fn coverage(s: &Session, about: About) -> Result<CoverageMatrix> {
    let b = query(&s.ctx, "SELECT indicator, goal, dimension, covered, codes FROM coverage_matrix").await?;
    let (codes, goals, dims, cells) = (strings(&b, "indicator")?, ints(&b, "goal")?, strings(&b, "dimension")?, strings(&b, "codes")?);
    let mut covered = Vec::new();
    for batch in &b {
        let a = arrow::compute::cast(super::col(batch, "covered")?, &DataType::Boolean)?;
        covered.extend(a.as_boolean().iter().map(|v| v.unwrap_or(false)));
    }
    let mut rows: BTreeMap<String, CoverageRow> = BTreeMap::new();
    for i in 0..codes.len() {
        rows.entry(codes[i].clone())
            .or_insert_with(|| CoverageRow { indicator: codes[i].clone(), goal: goals[i], cells: BTreeMap::new() })
            .cells
            .insert(dims[i].clone(), Cell { covered: covered[i], codes: list(&cells[i]) });
    }
    let mut rows: Vec<CoverageRow> = rows.into_values().collect();
    sort_by_code(&mut rows, |r| &r.indicator);
    Ok(CoverageMatrix { about, dimensions: DIMENSIONS.map(str::to_owned).to_vec(), rows, publications: super::publication_refs(s) })
}
