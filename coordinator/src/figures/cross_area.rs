//! Figures across areas: how the areas compared (see [`super::areas`]) stand against each
//! other: per indicator, the share of areas producing it with migration disaggregation; the
//! share of areas with any data on the migration-relevant indicators (the IOM's "data on SDG
//! migration indicators existed for only 55% of countries"); and the distribution of the
//! areas' headline shares.
//!
//! | view | one row per |
//! | --- | --- |
//! | `cross_area_by_indicator` | in-scope indicator: `producing` (areas producing it), areas migration-disaggregated / areas compared |
//! | `cross_area_data` | area compared: `has_data`, some observation that counts of an in-scope migration-relevant indicator |
//! | `cross_area_data_share` | (one row) areas with data / areas compared |
//! | `cross_area_headline_quantiles` | quantile 0, 0.25, 0.5, 0.75, 1 of the areas' headline shares (areas with a share only; no rows when none has one) |
//! | `cross_area_headline_bands` | area compared: its headline `band` (see [`BANDS`]) |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::areas::{areas_read, indicators_by_area, Area, AreasRead};
use super::{bools, columns, floats, ints, publication_refs, query, ratios, sort_by_code, strings, About, Compute, FigureKind, PublicationRef, Ratio};
use crate::catalog::Session;
use crate::error::{Error, Result};

/// The title.
pub const TITLE: &str = "Figures across areas";

/// The definition.
pub const DEFINITION: &str = "Figures across areas, over the reference areas compared (the coordinator's areas setting, with or without \
data; when empty, the areas observed other than the national area), each area counting only the observations whose ref_area is it \
(in scope, obs_status other than M, in the window, in the view read). Per in-scope indicator: areas where it is migration-disaggregated \
(some observation of the area has migratory_status not in (_T, _Z)) / areas compared, with the number of areas producing it. Data on \
migration indicators: areas with at least one observation that counts of at least one in-scope migration-relevant indicator / areas \
compared. Headline distribution: over the areas whose headline (migration-disaggregated / produced) has a share (they produced \
something), its minimum, lower quartile, median, upper quartile and maximum, the q-quantile of n sorted shares x0..x(n-1) being \
x(floor(h)) + (h - floor(h)) (x(ceil(h)) - x(floor(h))) with h = (n - 1) q; and every area compared in one band of its headline \
numerator n over denominator d: no-data (d = 0), 0 (n = 0 < d), 0-25 (0 < n/d < 1/4), 25-50 (1/4 <= n/d < 1/2), 50-75 \
(1/2 <= n/d < 3/4), 75-100 (3/4 <= n/d < 1), 100 (n = d > 0). An empty denominator gives a null share.";

/// The headline bands, in order: name and what it holds.
pub const BANDS: [(&str, &str); 7] = [
    ("no-data", "nothing produced (no share)"),
    ("0", "0%"),
    ("0-25", "above 0%, under 25%"),
    ("25-50", "25% to under 50%"),
    ("50-75", "50% to under 75%"),
    ("75-100", "75% to under 100%"),
    ("100", "100%"),
];

/// The quantiles of the distribution, in order.
const QUANTILES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// The views of this figure (over those of [`super::areas`]).
pub(super) fn views() -> Vec<(&'static str, String)> {
    let ratio = "numerator, denominator, CAST(numerator AS DOUBLE) / NULLIF(denominator, 0) AS share";
    let quantiles = QUANTILES.map(|q| format!("({q:?})")).join(", ");
    vec![
        (
            "cross_area_by_indicator",
            format!(
                "SELECT indicator, goal, migration_relevant, producing, {ratio}
                 FROM (SELECT i.indicator, i.goal, i.migration_relevant,
                              COALESCE(SUM(CASE WHEN p.produced THEN 1 ELSE 0 END), 0) AS producing,
                              COALESCE(SUM(CASE WHEN p.migration_disaggregated THEN 1 ELSE 0 END), 0) AS numerator,
                              COUNT(p.ref_area) AS denominator
                       FROM indicators i LEFT JOIN area_indicator_production p ON p.indicator = i.indicator
                       WHERE i.in_scope GROUP BY i.indicator, i.goal, i.migration_relevant) t"
            ),
        ),
        (
            "cross_area_data",
            "SELECT a.ref_area, COALESCE(BOOL_OR(p.produced AND p.migration_relevant), false) AS has_data
             FROM area_compared a LEFT JOIN area_indicator_production p ON p.ref_area = a.ref_area
             GROUP BY a.ref_area"
                .to_owned(),
        ),
        (
            "cross_area_data_share",
            format!(
                "SELECT {ratio} FROM (SELECT COALESCE(SUM(CASE WHEN has_data THEN 1 ELSE 0 END), 0) AS numerator, COUNT(*) AS denominator
                                      FROM cross_area_data) t"
            ),
        ),
        (
            "cross_area_headline_quantiles",
            format!(
                "WITH s AS (SELECT share, ROW_NUMBER() OVER (ORDER BY share) - 1 AS r, COUNT(*) OVER () AS n
                            FROM area_migration_share WHERE share IS NOT NULL),
                      q AS (SELECT column1 AS quantile, (n - 1) * column1 AS h FROM (VALUES {quantiles}) v
                            CROSS JOIN (SELECT MAX(n) AS n FROM s) c WHERE c.n IS NOT NULL)
                 SELECT q.quantile, lo.share + (q.h - floor(q.h)) * (hi.share - lo.share) AS value
                 FROM q JOIN s lo ON lo.r = floor(q.h) JOIN s hi ON hi.r = ceil(q.h)"
            ),
        ),
        (
            "cross_area_headline_bands",
            "SELECT key AS ref_area,
                    CASE WHEN denominator = 0 THEN 'no-data'
                         WHEN numerator = 0 THEN '0'
                         WHEN 4 * numerator < denominator THEN '0-25'
                         WHEN 4 * numerator < 2 * denominator THEN '25-50'
                         WHEN 4 * numerator < 3 * denominator THEN '50-75'
                         WHEN numerator < denominator THEN '75-100'
                         ELSE '100' END AS band
             FROM area_migration_share"
                .to_owned(),
        ),
    ]
}

/// One in-scope indicator across the areas compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndicatorAcrossAreas {
    /// Indicator code.
    pub indicator: String,
    /// Goal.
    pub goal: i64,
    /// Whether it is migration-relevant.
    pub migration_relevant: bool,
    /// Areas producing it.
    pub producing: i64,
    /// Areas where it is migration-disaggregated / areas compared.
    pub migration_disaggregated: Ratio,
    /// The areas where it is migration-disaggregated, by code.
    pub areas_migration_disaggregated: Vec<Area>,
}

/// Areas with data on the migration-relevant indicators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataOnMigrationIndicators {
    /// Areas with some observation that counts of an in-scope migration-relevant indicator /
    /// areas compared.
    #[serde(flatten)]
    pub ratio: Ratio,
    /// The areas with such data.
    pub with_data: Vec<Area>,
    /// The areas compared without.
    pub without_data: Vec<Area>,
}

/// One headline band and the areas in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Band {
    /// Its name (see [`BANDS`]).
    pub band: String,
    /// What it holds, in words.
    pub label: String,
    /// The areas in it, by code.
    pub areas: Vec<Area>,
}

/// The distribution of the areas' headline shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeadlineDistribution {
    /// Areas with a headline share (they produced something): the quantiles are over these.
    pub areas_with_share: i64,
    /// Smallest share (null when no area has one).
    pub min: Option<f64>,
    /// Lower quartile.
    pub lower_quartile: Option<f64>,
    /// Median.
    pub median: Option<f64>,
    /// Upper quartile.
    pub upper_quartile: Option<f64>,
    /// Largest share.
    pub max: Option<f64>,
    /// Every band of [`BANDS`], in order, with the areas compared in it.
    pub bands: Vec<Band>,
}

/// The figures across areas with everything behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CrossArea {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// The areas compared.
    #[serde(flatten)]
    pub read: AreasRead,
    /// Areas with data on the migration-relevant indicators.
    pub data_on_migration_indicators: DataOnMigrationIndicators,
    /// The distribution of the areas' headline shares.
    pub headline_distribution: HeadlineDistribution,
    /// Per in-scope indicator, in framework order.
    pub by_indicator: Vec<IndicatorAcrossAreas>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

impl CrossArea {
    /// The indicators some area produces, in framework order: the only ones the report and the
    /// annex list (the others have nothing to compare).
    pub fn produced(&self) -> impl Iterator<Item = &IndicatorAcrossAreas> {
        self.by_indicator.iter().filter(|i| i.producing > 0)
    }
}

impl Compute for CrossArea {
    const KIND: FigureKind = FigureKind::CrossArea;

    async fn compute(s: &Session, about: About) -> Result<CrossArea> {
        let ctx = &s.ctx;
        let read = areas_read(s).await?;
        let labelled: BTreeMap<&str, &Area> = read.areas.iter().map(|a| (a.code.as_str(), a)).collect();
        let area = |code: &str| labelled.get(code).map(|a| (*a).clone()).ok_or_else(|| Error::Internal(format!("area {code} is not compared")));

        let b = query(ctx, "SELECT * FROM cross_area_data_share").await?;
        let ratio = ratios(&b, "")?.into_iter().next().ok_or_else(|| Error::Internal("the data share view returned no row".into()))?;
        let b = query(ctx, "SELECT * FROM cross_area_data ORDER BY ref_area").await?;
        let (mut with_data, mut without_data) = (Vec::new(), Vec::new());
        for (code, has) in strings(&b, "ref_area")?.into_iter().zip(bools(&b, "has_data")?) {
            if has { &mut with_data } else { &mut without_data }.push(area(&code)?);
        }

        let b = query(ctx, "SELECT * FROM cross_area_headline_quantiles ORDER BY quantile").await?;
        let values: Vec<Option<f64>> = floats(&b, "value")?;
        let q = |i: usize| values.get(i).copied().flatten();
        let b = query(ctx, "SELECT * FROM cross_area_headline_bands ORDER BY ref_area").await?;
        let [codes, names] = columns(&b, ["ref_area", "band"], strings)?;
        let mut bands: Vec<Band> = BANDS.iter().map(|(b, l)| Band { band: (*b).into(), label: (*l).into(), areas: vec![] }).collect();
        for (code, name) in codes.iter().zip(&names) {
            let band = bands.iter_mut().find(|b| b.band == *name).ok_or_else(|| Error::Internal(format!("unknown headline band {name}")))?;
            band.areas.push(area(code)?);
        }
        if !values.is_empty() && values.len() != QUANTILES.len() {
            return Err(Error::Internal(format!("the quantile view returned {} rows", values.len())));
        }
        let with_share = ints(&query(ctx, "SELECT COUNT(*) AS n FROM area_migration_share WHERE share IS NOT NULL").await?, "n")?;
        let headline_distribution = HeadlineDistribution {
            areas_with_share: with_share.first().copied().unwrap_or(0),
            min: q(0),
            lower_quartile: q(1),
            median: q(2),
            upper_quartile: q(3),
            max: q(4),
            bands,
        };

        let b = query(ctx, "SELECT * FROM cross_area_by_indicator").await?;
        let [indicators] = columns(&b, ["indicator"], strings)?;
        let [goals, producing] = columns(&b, ["goal", "producing"], ints)?;
        let relevant = bools(&b, "migration_relevant")?;
        let shares = ratios(&b, "")?;
        let mut by_indicator_area: BTreeMap<String, Vec<Area>> = BTreeMap::new();
        for (code, inds) in indicators_by_area(ctx, "migration_disaggregated").await? {
            for i in inds {
                by_indicator_area.entry(i).or_default().push(area(&code)?);
            }
        }
        let mut by_indicator: Vec<IndicatorAcrossAreas> = indicators
            .into_iter()
            .zip(goals.into_iter().zip(producing))
            .zip(relevant.into_iter().zip(shares))
            .map(|((indicator, (goal, producing)), (migration_relevant, migration_disaggregated))| IndicatorAcrossAreas {
                areas_migration_disaggregated: by_indicator_area.remove(&indicator).unwrap_or_default(),
                indicator,
                goal,
                migration_relevant,
                producing,
                migration_disaggregated,
            })
            .collect();
        sort_by_code(&mut by_indicator, |r| &r.indicator);

        Ok(CrossArea {
            about,
            read,
            data_on_migration_indicators: DataOnMigrationIndicators { ratio, with_data, without_data },
            headline_distribution,
            by_indicator,
            publications: publication_refs(s),
        })
    }
}
