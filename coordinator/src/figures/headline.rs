//! The headline figure, Armenia's proxy for SDG 17.18: the proportion of SDG indicators
//! produced at the national level with migration disaggregation, with its two variants, by
//! goal, by agency and by reference year.
//!
//! | view | one row per |
//! | --- | --- |
//! | `headline_production` | in-scope indicator the headline counts: `indicator_production` without the framework's headline indicator |
//! | `migration_disaggregation_share` | (one row) headline and its two variants |
//! | `migration_disaggregation_by_goal` | goal |
//! | `migration_disaggregation_by_agency` | agency |
//! | `migration_disaggregation_by_year` | reference year |

use serde::{Deserialize, Serialize};

use super::{indicator_list, publication_refs, query, ratios, strings, About, Compute, FigureKind, PublicationRef, Ratio};
use crate::catalog::Session;
use crate::error::{Error, Result};

/// The title.
pub const TITLE: &str = "Proportion of SDG indicators produced with migration disaggregation";

/// The definition, as published with every export and response.
pub const DEFINITION: &str = "Proportion of SDG indicators produced at the national level with migration disaggregation. \
Framework: the indicator catalogue in force (global plus the national file); indicators marked out of scope are excluded everywhere. \
Store: the view read, for every (agency, dataset): official, the latest version approved by the statistical office and released; provisional, the latest accepted one. Window: observations whose time_period year is in [from, to] (both optional). \
Indicator I is produced if some observation of I in the window has obs_status other than M; a suppressed cell (conf_status C) counts as produced. \
Indicator I is migration-disaggregated if it is produced and one of those observations has migratory_status not in (_T, _Z). \
Headline share = migration-disaggregated / produced. Variants: migration-disaggregated migration-relevant indicators / in-scope migration-relevant indicators; \
migration-disaggregated / all in-scope indicators. By goal: the same restricted to each goal. By agency: over the indicators that agency produced, \
counting only its own observations. By year: over the indicators produced in that reference year, one row per year in which some indicator was produced. \
An empty denominator gives a null share. Indicators outside the framework never count, and neither does the framework's headline indicator \
(the coordinator's own derived dataset of this figure), in any numerator or denominator.";

/// The rows of `view` (a view with an `indicator` column) the headline counts: all but the
/// framework's headline indicator, which the coordinator derives from this figure (see
/// [`crate::derived`]), so the figure never counts itself.
pub(super) fn counted(view: &str) -> String {
    format!("(SELECT * FROM {view} WHERE indicator NOT IN (SELECT indicator FROM indicators WHERE derived))")
}

/// SQL of the three ratios over `source` (the columns of `indicator_production`: one row per
/// in-scope indicator, per group; `headline_production` for the headline, which leaves out its
/// own indicator), grouped by `group` (or one national row).
pub(super) fn share_sql(source: &str, group: Option<&str>) -> String {
    let key = group.map_or("'national'".to_owned(), |g| format!("CAST({g} AS VARCHAR)"));
    let group_by = group.map_or(String::new(), |g| format!("GROUP BY {g}"));
    format!(
        "SELECT key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share,
                rn AS relevant_numerator, rd AS relevant_denominator, CAST(rn AS DOUBLE) / NULLIF(rd, 0) AS relevant_share,
                n AS all_numerator, s AS all_denominator, CAST(n AS DOUBLE) / NULLIF(s, 0) AS all_share
         FROM (SELECT {key} AS key,
                 COALESCE(SUM(CASE WHEN migration_disaggregated THEN 1 ELSE 0 END), 0) AS n,
                 COALESCE(SUM(CASE WHEN produced THEN 1 ELSE 0 END), 0) AS d,
                 COALESCE(SUM(CASE WHEN migration_relevant AND migration_disaggregated THEN 1 ELSE 0 END), 0) AS rn,
                 COALESCE(SUM(CASE WHEN migration_relevant THEN 1 ELSE 0 END), 0) AS rd,
                 COUNT(*) AS s
               FROM {source} {group_by}) t"
    )
}

/// The headline share (migration-disaggregated / produced) of `source` grouped by `key`.
fn produced_share_sql(source: &str, key: &str) -> String {
    format!(
        "SELECT CAST({key} AS VARCHAR) AS key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share
         FROM (SELECT {key}, COALESCE(SUM(CASE WHEN migration_disaggregated THEN 1 ELSE 0 END), 0) AS n, COUNT(*) AS d
               FROM {} p GROUP BY {key}) t",
        counted(source)
    )
}

/// The views of this figure.
pub(super) fn views() -> Vec<(&'static str, String)> {
    vec![
        ("headline_production", format!("SELECT * FROM {} p", counted("indicator_production"))),
        ("migration_disaggregation_share", share_sql("headline_production", None)),
        ("migration_disaggregation_by_goal", share_sql("headline_production", Some("goal"))),
        ("migration_disaggregation_by_agency", produced_share_sql("agency_production", "agency")),
        ("migration_disaggregation_by_year", produced_share_sql("year_production", "year")),
    ]
}

/// One row of the headline figure: the headline and its two variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareRow {
    /// Goal number, or agency id, or `national`.
    pub key: String,
    /// Migration-disaggregated / produced.
    pub headline: Ratio,
    /// Migration-disaggregated relevant / in-scope relevant (absent for agencies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_relevant: Option<Ratio>,
    /// Migration-disaggregated / in scope (absent for agencies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_in_scope: Option<Ratio>,
}

/// The headline figure with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MigrationShare {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// Numerator of the headline.
    pub numerator: i64,
    /// Denominator of the headline.
    pub denominator: i64,
    /// The headline share.
    pub share: Option<f64>,
    /// Variant over in-scope migration-relevant indicators.
    pub migration_relevant: Ratio,
    /// Variant over all in-scope indicators.
    pub all_in_scope: Ratio,
    /// Per goal.
    pub by_goal: Vec<ShareRow>,
    /// Per agency (headline only).
    pub by_agency: Vec<ShareRow>,
    /// Per reference year, the trend (headline only: indicators produced in that year).
    pub by_year: Vec<ShareRow>,
    /// Indicators produced.
    pub produced: Vec<String>,
    /// Indicators produced with migration disaggregation.
    pub migration_disaggregated: Vec<String>,
    /// Migration-relevant in-scope indicators not produced with migration disaggregation.
    pub migration_relevant_missing: Vec<String>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

/// The rows of [`share_sql`] (`variants`) or of the headline alone.
pub(super) fn share_rows(batches: &[arrow::array::RecordBatch], variants: bool) -> Result<Vec<ShareRow>> {
    let keys = strings(batches, "key")?;
    let head = ratios(batches, "")?;
    let (rel, all): (Vec<Option<Ratio>>, Vec<Option<Ratio>>) = if variants {
        (ratios(batches, "relevant_")?.into_iter().map(Some).collect(), ratios(batches, "all_")?.into_iter().map(Some).collect())
    } else {
        (vec![None; keys.len()], vec![None; keys.len()])
    };
    Ok(keys
        .into_iter()
        .zip(head)
        .zip(rel.into_iter().zip(all))
        .map(|((key, headline), (migration_relevant, all_in_scope))| ShareRow { key, headline, migration_relevant, all_in_scope })
        .collect())
}

impl Compute for MigrationShare {
    const KIND: FigureKind = FigureKind::MigrationDisaggregationShare;

    async fn compute(s: &Session, about: About) -> Result<MigrationShare> {
        let ctx = &s.ctx;
        let national = share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_share").await?, true)?;
        let national = national.into_iter().next().ok_or_else(|| Error::Internal("the headline view returned no row".into()))?;
        let variants = || Error::Internal("the headline lacks its variants".into());
        Ok(MigrationShare {
            about,
            numerator: national.headline.numerator,
            denominator: national.headline.denominator,
            share: national.headline.share,
            migration_relevant: national.migration_relevant.ok_or_else(variants)?,
            all_in_scope: national.all_in_scope.ok_or_else(variants)?,
            by_goal: share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_by_goal ORDER BY CAST(key AS INT)").await?, true)?,
            by_agency: share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_by_agency ORDER BY key").await?, false)?,
            by_year: share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_by_year ORDER BY key").await?, false)?,
            produced: indicator_list(ctx, "headline_production", "produced").await?,
            migration_disaggregated: indicator_list(ctx, "headline_production", "migration_disaggregated").await?,
            migration_relevant_missing: indicator_list(ctx, "headline_production", "migration_relevant AND NOT migration_disaggregated").await?,
            publications: publication_refs(s),
        })
    }
}
