//! Figures by area: for a coordinator over several reference areas (a region over countries,
//! a nation over provinces), the headline, reporting status and disaggregation status of each
//! area compared, each counting only the observations whose `ref_area` is that area.
//!
//! **The areas compared** are those the `areas` setting lists (table `areas`, column
//! `compared`), with or without data: a listed area with no data counts in every denominator.
//! When the setting is empty, they are the areas observed (some observation that counts, in
//! the window, has that `ref_area`) other than the national area.
//!
//! | view | one row per |
//! | --- | --- |
//! | `area_compared` | area compared: `ref_area, label` (CL_AREA's name, or the code) |
//! | `area_uncompared` | area observed but not compared: `ref_area, label` |
//! | `area_indicator_production` | (area compared, in-scope indicator): `goal, migration_relevant, produced, migration_disaggregated` from that area's observations |
//! | `area_migration_share` | area compared: the headline and its two variants (the columns of `migration_disaggregation_share`) |
//! | `area_reporting_status` | area compared: reported / in scope |
//! | `area_disaggregation_status` | area compared: counts of each disaggregation status over the in-scope indicators |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::disaggregation::{counts, expected_vs_present, rollup, StatusCounts, STATUS_CASE};
use super::headline::{counted, share_rows, share_sql};
use super::reporting::reporting_sql;
use super::{columns, literal, publication_refs, query, ratios, sort_codes, strings, About, Compute, FigureKind, PublicationRef, Ratio, ViewParams};
use crate::catalog::Session;
use crate::error::Result;

/// The title.
pub const TITLE: &str = "Figures by area";

/// The definition.
pub const DEFINITION: &str = "Figures by area: for each reference area compared, the headline (migration-disaggregated / produced, \
with its variants over the in-scope migration-relevant and over all in-scope indicators), the reporting status (reported / in scope) \
and the disaggregation status counts (complete, in_progress, not_started, not_applicable over the in-scope indicators), each defined \
as nationally but counting only the observations whose ref_area is that area (in scope, obs_status other than M, in the window, \
in the view read). Areas compared: those the coordinator's areas setting lists, with or without data (an area with no data has \
produced nothing: headline 0/0, null; reporting 0 / in scope; every indicator with expected disaggregations not_started); when the \
setting is empty, the areas observed other than the national area. Areas observed but not compared are listed apart.";

/// The views of this figure (the cross-area figure reads them too).
pub(super) fn views(p: &ViewParams) -> Vec<(&'static str, String)> {
    vec![
        (
            "area_compared",
            format!(
                "SELECT a.ref_area, COALESCE(l.label, a.ref_area) AS label
                 FROM (SELECT ref_area FROM areas WHERE compared
                       UNION
                       SELECT ref_area FROM area_production
                       WHERE ref_area <> {} AND (SELECT COUNT(*) FROM areas WHERE compared) = 0) a
                 LEFT JOIN areas l ON l.ref_area = a.ref_area",
                literal(&p.national_area)
            ),
        ),
        (
            "area_uncompared",
            "SELECT o.ref_area, COALESCE(l.label, o.ref_area) AS label
             FROM (SELECT DISTINCT ref_area FROM area_production WHERE ref_area NOT IN (SELECT ref_area FROM area_compared)) o
             LEFT JOIN areas l ON l.ref_area = o.ref_area"
                .to_owned(),
        ),
        (
            "area_indicator_production",
            "SELECT a.ref_area, i.indicator, i.goal, i.migration_relevant,
                    p.indicator IS NOT NULL AS produced, COALESCE(p.migration_disaggregated, false) AS migration_disaggregated
             FROM area_compared a CROSS JOIN indicators i
             LEFT JOIN area_production p ON p.ref_area = a.ref_area AND p.indicator = i.indicator
             WHERE i.in_scope"
                .to_owned(),
        ),
        // The headline by area leaves out the headline's own indicator, as the national one does.
        ("area_migration_share", share_sql(&format!("{} p", counted("area_indicator_production")), Some("ref_area"))),
        ("area_reporting_status", reporting_sql("area_indicator_production", Some("ref_area"))),
        (
            "area_disaggregation_status",
            rollup(
                &format!(
                    "(SELECT p.ref_area, p.indicator, {STATUS_CASE} AS status
                      FROM area_indicator_production p
                      LEFT JOIN ({}) c ON c.ref_area = p.ref_area AND c.indicator = p.indicator) s",
                    expected_vs_present(Some("ref_area"), "area_indicator_production p JOIN indicators i ON i.indicator = p.indicator")
                ),
                "ref_area",
            ),
        ),
    ]
}

/// A reference area: its CL_AREA code and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Area {
    /// The `ref_area` code.
    pub code: String,
    /// Its name in CL_AREA (the code when the codelist lacks it).
    pub label: String,
}

/// Which areas a figure compared, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AreasRead {
    /// `setting` (the `areas` setting lists them) or `observed` (the setting is empty: the areas
    /// observed other than the national area).
    pub areas_from: String,
    /// The areas compared, by code.
    pub areas: Vec<Area>,
    /// Areas with observations that count but not compared (the national area among them
    /// when observed).
    pub areas_not_compared: Vec<Area>,
}

/// The areas of `view` (columns `ref_area, label`), by code.
async fn area_list(ctx: &datafusion::prelude::SessionContext, view: &str) -> Result<Vec<Area>> {
    let b = query(ctx, &format!("SELECT ref_area, label FROM {view} ORDER BY ref_area")).await?;
    let [codes, labels] = columns(&b, ["ref_area", "label"], strings)?;
    Ok(codes.into_iter().zip(labels).map(|(code, label)| Area { code, label }).collect())
}

/// The areas `s` compares.
pub(super) async fn areas_read(s: &Session) -> Result<AreasRead> {
    let listed = super::ints(&query(&s.ctx, "SELECT COUNT(*) AS n FROM areas WHERE compared").await?, "n")?;
    Ok(AreasRead {
        areas_from: if listed.first().copied().unwrap_or(0) > 0 { "setting" } else { "observed" }.into(),
        areas: area_list(&s.ctx, "area_compared").await?,
        areas_not_compared: area_list(&s.ctx, "area_uncompared").await?,
    })
}

/// One area's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AreaRow {
    /// The area.
    #[serde(flatten)]
    pub area: Area,
    /// Migration-disaggregated / produced, from the area's observations.
    pub headline: Ratio,
    /// Migration-disaggregated migration-relevant / in-scope migration-relevant.
    pub migration_relevant: Ratio,
    /// Migration-disaggregated / in scope.
    pub all_in_scope: Ratio,
    /// Reported (produced) / in scope.
    pub reporting_status: Ratio,
    /// Disaggregation status counts over the in-scope indicators (`key` is the area code).
    pub disaggregation_status: StatusCounts,
    /// Indicators produced in the area.
    pub produced: Vec<String>,
    /// Indicators produced in the area with migration disaggregation.
    pub migration_disaggregated: Vec<String>,
}

/// The figures of every area compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AreaFigures {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// The areas compared.
    #[serde(flatten)]
    pub read: AreasRead,
    /// Per area compared, by code.
    pub by_area: Vec<AreaRow>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

/// Per area, the in-scope indicators of `area_indicator_production` matching `predicate`, in
/// framework order.
pub(super) async fn indicators_by_area(ctx: &datafusion::prelude::SessionContext, predicate: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let b = query(ctx, &format!("SELECT ref_area, indicator FROM area_indicator_production WHERE {predicate}")).await?;
    let [areas, indicators] = columns(&b, ["ref_area", "indicator"], strings)?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, i) in areas.into_iter().zip(indicators) {
        out.entry(a).or_default().push(i);
    }
    out.values_mut().for_each(|v| sort_codes(v));
    Ok(out)
}

impl Compute for AreaFigures {
    const KIND: FigureKind = FigureKind::AreaFigures;

    async fn compute(s: &Session, about: About) -> Result<AreaFigures> {
        let ctx = &s.ctx;
        let read = areas_read(s).await?;
        let shares: BTreeMap<String, _> =
            share_rows(&query(ctx, "SELECT * FROM area_migration_share").await?, true)?.into_iter().map(|r| (r.key.clone(), r)).collect();
        let reporting = query(ctx, "SELECT * FROM area_reporting_status").await?;
        let reporting: BTreeMap<String, Ratio> = strings(&reporting, "key")?.into_iter().zip(ratios(&reporting, "")?).collect();
        let statuses: BTreeMap<String, StatusCounts> =
            counts(&query(ctx, "SELECT * FROM area_disaggregation_status").await?)?.into_iter().map(|c| (c.key.clone(), c)).collect();
        let mut produced = indicators_by_area(ctx, "produced").await?;
        let mut disaggregated = indicators_by_area(ctx, "migration_disaggregated").await?;
        // An area has a row in each view unless the framework has no in-scope indicator: then
        // every ratio is 0/0 and nothing is counted.
        let none = || Ratio { numerator: 0, denominator: 0, share: None };
        let mut by_area = Vec::with_capacity(read.areas.len());
        for area in &read.areas {
            let code = &area.code;
            let share = shares.get(code);
            let variant = |r: Option<&Option<Ratio>>| r.cloned().flatten().unwrap_or_else(none);
            by_area.push(AreaRow {
                area: area.clone(),
                headline: share.map_or_else(none, |s| s.headline.clone()),
                migration_relevant: variant(share.map(|s| &s.migration_relevant)),
                all_in_scope: variant(share.map(|s| &s.all_in_scope)),
                reporting_status: reporting.get(code).cloned().unwrap_or_else(none),
                disaggregation_status: statuses.get(code).cloned().unwrap_or_else(|| StatusCounts {
                    key: code.clone(),
                    complete: 0,
                    in_progress: 0,
                    not_started: 0,
                    not_applicable: 0,
                    indicators: 0,
                }),
                produced: produced.remove(code).unwrap_or_default(),
                migration_disaggregated: disaggregated.remove(code).unwrap_or_default(),
            });
        }
        Ok(AreaFigures { about, read, by_area, publications: publication_refs(s) })
    }
}
