//! Reporting status (Open SDG): which in-scope indicators are reported, overall and by goal.
//!
//! | view | one row per |
//! | --- | --- |
//! | `reporting_status` | (one row) reported / in scope |
//! | `reporting_status_by_goal` | goal |
//! | `reporting_status_by_indicator` | framework indicator: `reported`, `not_reported` or `out_of_scope` |

use serde::{Deserialize, Serialize};

use super::{indicator_list, ints, publication_refs, query, ratios, About, Compute, FigureKind, PublicationRef, Ratio};
use crate::catalog::Session;
use crate::error::{Error, Result};

/// The title.
pub const TITLE: &str = "Reporting status";

/// The definition.
pub const DEFINITION: &str = "Reporting status (Open SDG): an in-scope indicator of the framework in force is reported when it is produced \
(some observation in the window with obs_status other than M, in the view read); share = reported / in-scope, overall and by goal. \
Out-of-scope indicators are listed apart and count in neither number. An empty denominator gives a null share.";

/// SQL of reported / in scope over `source` (the columns of `indicator_production`), grouped by
/// `group` (or one national row).
pub(super) fn reporting_sql(source: &str, group: Option<&str>) -> String {
    let key = group.map_or("'national'".to_owned(), |g| format!("CAST({g} AS VARCHAR)"));
    let group_by = group.map_or(String::new(), |g| format!("GROUP BY {g}"));
    format!(
        "SELECT key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share
         FROM (SELECT {key} AS key, COALESCE(SUM(CASE WHEN produced THEN 1 ELSE 0 END), 0) AS n, COUNT(*) AS d
               FROM {source} {group_by}) t"
    )
}

/// The views of this figure.
pub(super) fn views() -> Vec<(&'static str, String)> {
    vec![
        ("reporting_status", reporting_sql("indicator_production", None)),
        ("reporting_status_by_goal", reporting_sql("indicator_production", Some("goal"))),
        (
            "reporting_status_by_indicator",
            "SELECT i.indicator, i.goal,
                    CASE WHEN NOT i.in_scope THEN 'out_of_scope' WHEN p.produced THEN 'reported' ELSE 'not_reported' END AS status
             FROM indicators i LEFT JOIN indicator_production p ON p.indicator = i.indicator"
                .to_owned(),
        ),
    ]
}

/// Reporting status with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportingStatus {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// Reported (numerator).
    pub numerator: i64,
    /// In scope (denominator).
    pub denominator: i64,
    /// reported / in scope.
    pub share: Option<f64>,
    /// Per goal: reported / in scope.
    pub by_goal: Vec<(i64, Ratio)>,
    /// Indicators reported.
    pub reported: Vec<String>,
    /// In-scope indicators not reported.
    pub not_reported: Vec<String>,
    /// Indicators out of scope.
    pub out_of_scope: Vec<String>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

/// The framework's indicators of reporting status `status`, in framework order.
async fn with_status(ctx: &datafusion::prelude::SessionContext, status: &str) -> Result<Vec<String>> {
    indicator_list(ctx, "reporting_status_by_indicator", &format!("status = '{status}'")).await
}

impl Compute for ReportingStatus {
    const KIND: FigureKind = FigureKind::ReportingStatus;

    async fn compute(s: &Session, about: About) -> Result<ReportingStatus> {
        let ctx = &s.ctx;
        let national = ratios(&query(ctx, "SELECT * FROM reporting_status").await?, "")?;
        let national = national.into_iter().next().ok_or_else(|| Error::Internal("the reporting view returned no row".into()))?;
        let goals = query(ctx, "SELECT * FROM reporting_status_by_goal ORDER BY CAST(key AS INT)").await?;
        let by_goal = ints(&goals, "key")?.into_iter().zip(ratios(&goals, "")?).collect();
        Ok(ReportingStatus {
            about,
            numerator: national.numerator,
            denominator: national.denominator,
            share: national.share,
            by_goal,
            reported: with_status(ctx, "reported").await?,
            not_reported: with_status(ctx, "not_reported").await?,
            out_of_scope: with_status(ctx, "out_of_scope").await?,
            publications: publication_refs(s),
        })
    }
}
