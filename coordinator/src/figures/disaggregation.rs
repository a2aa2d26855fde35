//! Disaggregation status (Open SDG's semantics).
//!
//! A **breakdown present** for an indicator is a breakdown column (one of the contract's twelve:
//! `sex`, `age`, ..., `migratory_status`) with some code other than `_T` and `_Z` among the
//! observations that count (in scope, `obs_status` not `M`, in the window): the base view
//! `observed_breakdowns`.
//!
//! **Disaggregation status** of an in-scope indicator compares the framework's
//! `expected_disaggregations` with the breakdowns present:
//! - `not_applicable`: no disaggregation is expected;
//! - `complete`: every expected breakdown is present;
//! - `in_progress`: some, not all;
//! - `not_started`: none (including an indicator with no data).
//!
//! Nationally each expected breakdown is listed once, whichever agencies publish it. Rolled up
//! by goal (counts of each status over the goal's in-scope indicators) and by agency (over the
//! indicators the agency produced, from its own observations only).
//!
//! | view | one row per |
//! | --- | --- |
//! | `disaggregation_status_by_indicator` | in-scope indicator: `expected, present, missing, status` |
//! | `disaggregation_status_by_goal` | goal: counts of each status |
//! | `disaggregation_status_by_agency` | agency: counts of each status |

use serde::{Deserialize, Serialize};

use super::{columns, ints, list, publication_refs, query, sort_by_code, strings, About, Compute, FigureKind, PublicationRef};
use crate::catalog::Session;
use crate::error::Result;

/// The title.
pub const TITLE: &str = "Disaggregation status";

/// The definition.
pub const DEFINITION: &str = "Disaggregation status (Open SDG): for each in-scope indicator, the framework's expected \
disaggregations are compared with the breakdowns present, i.e. breakdown columns with a code other than _T and _Z among the \
observations that count (in scope, obs_status other than M, in the window). not_applicable: none expected; complete: all expected present; \
in_progress: some; not_started: none (or no data). Each breakdown is listed once, whichever agencies publish it. By goal: counts over the \
goal's in-scope indicators. By agency: over the indicators the agency produced, from its own observations.";

/// The status of an indicator from the counts `c` of [`expected_vs_present`], in SQL.
pub(super) const STATUS_CASE: &str = "CASE WHEN c.n_expected IS NULL THEN 'not_applicable' WHEN c.n_present = c.n_expected THEN 'complete' \
                                       WHEN c.n_present > 0 THEN 'in_progress' ELSE 'not_started' END";

/// Expected-vs-present per (`key`, indicator), or per indicator nationally: `n_expected`,
/// `n_present` and the `;`-lists `present`, `missing`. `source` (aliased `p` when keyed, joined
/// to `indicators i`) gives the rows whose expected breakdowns are listed; the breakdowns
/// present are those of `observed_breakdowns` with the same `key`.
pub(super) fn expected_vs_present(key: Option<&str>, source: &str) -> String {
    let (k, on, pk, present) = match key {
        Some(key) => (
            format!("e.{key}, "),
            format!("pr.{key} = e.{key} AND "),
            format!("p.{key}, "),
            format!("SELECT DISTINCT {key}, indicator, dimension FROM observed_breakdowns"),
        ),
        None => (String::new(), String::new(), String::new(), "SELECT DISTINCT indicator, dimension FROM observed_breakdowns".to_owned()),
    };
    format!(
        "SELECT {k}e.indicator, COUNT(*) AS n_expected, COUNT(pr.dimension) AS n_present,
                string_agg(CASE WHEN pr.dimension IS NOT NULL THEN e.dimension END, ';' ORDER BY e.dimension) AS present,
                string_agg(CASE WHEN pr.dimension IS NULL THEN e.dimension END, ';' ORDER BY e.dimension) AS missing
         FROM (SELECT {pk}i.indicator, unnest(string_to_array(i.expected_disaggregations, ';')) AS dimension
               FROM {source} WHERE i.in_scope AND i.expected_disaggregations <> '') e
         LEFT JOIN ({present}) pr
           ON {on}pr.indicator = e.indicator AND pr.dimension = e.dimension
         GROUP BY {k}e.indicator"
    )
}

/// Counts of each status among the rows of `source` (columns `status` and `key`), by `key`.
pub(super) fn rollup(source: &str, key: &str) -> String {
    format!(
        "SELECT CAST({key} AS VARCHAR) AS key,
                SUM(CASE WHEN status = 'complete' THEN 1 ELSE 0 END) AS complete,
                SUM(CASE WHEN status = 'in_progress' THEN 1 ELSE 0 END) AS in_progress,
                SUM(CASE WHEN status = 'not_started' THEN 1 ELSE 0 END) AS not_started,
                SUM(CASE WHEN status = 'not_applicable' THEN 1 ELSE 0 END) AS not_applicable,
                COUNT(*) AS indicators
         FROM {source} GROUP BY {key}"
    )
}

/// The views of this figure.
pub(super) fn views() -> Vec<(&'static str, String)> {
    vec![
        (
            "disaggregation_status_by_indicator",
            format!(
                "SELECT i.indicator, i.goal, i.expected_disaggregations AS expected,
                        COALESCE(c.present, '') AS present, COALESCE(c.missing, '') AS missing, {STATUS_CASE} AS status
                 FROM indicators i LEFT JOIN ({}) c ON c.indicator = i.indicator
                 WHERE i.in_scope",
                expected_vs_present(None, "indicators i")
            ),
        ),
        ("disaggregation_status_by_goal", rollup("disaggregation_status_by_indicator", "goal")),
        (
            "disaggregation_status_by_agency",
            rollup(
                &format!(
                    "(SELECT p.agency, p.indicator, {STATUS_CASE} AS status
                      FROM agency_production p
                      JOIN indicators i ON i.indicator = p.indicator
                      LEFT JOIN ({}) c ON c.agency = p.agency AND c.indicator = p.indicator
                      WHERE i.in_scope) s",
                    expected_vs_present(Some("agency"), "agency_production p JOIN indicators i ON i.indicator = p.indicator")
                ),
                "agency",
            ),
        ),
    ]
}

/// Counts of indicators by disaggregation status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// The status counts of `batches` (the columns of [`rollup`]).
pub(super) fn counts(batches: &[arrow::array::RecordBatch]) -> Result<Vec<StatusCounts>> {
    let keys = strings(batches, "key")?;
    let [c, p, n, a, t] = columns(batches, ["complete", "in_progress", "not_started", "not_applicable", "indicators"], ints)?;
    Ok((0..keys.len())
        .map(|i| StatusCounts { key: keys[i].clone(), complete: c[i], in_progress: p[i], not_started: n[i], not_applicable: a[i], indicators: t[i] })
        .collect())
}

impl Compute for DisaggregationStatus {
    const KIND: FigureKind = FigureKind::DisaggregationStatus;

    async fn compute(s: &Session, about: About) -> Result<DisaggregationStatus> {
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
        let [codes, st, ex, pr, mi] = columns(&b, ["indicator", "status", "expected", "present", "missing"], strings)?;
        let goals = ints(&b, "goal")?;
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
        Ok(DisaggregationStatus { about, national, by_goal, by_agency, indicators, publications: publication_refs(s) })
    }
}
