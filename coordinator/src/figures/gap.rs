//! The migrant gap: for every indicator, series, reference area, period and unit where a
//! publication has both an `MS_MIGRANT` and an `MS_NOMIGRANT` value with every other breakdown
//! a total (`_T`, or `_Z` where the breakdown does not apply), the two values, their difference
//! (migrant − non-migrant) and ratio (migrant / non-migrant; null when the non-migrant value is
//! 0), with the unit. Only observations that count (in scope, `obs_status` not `M`, in the
//! window) with a value take part: a suppressed cell has none, so its pair yields no row.

use serde::{Deserialize, Serialize};
use sdgx_schemas::observation::{Role, COLUMNS};

use super::{columns, floats, ints, query, strings, About, PublicationRef};
use crate::catalog::Session;
use crate::error::Result;

/// The migrant gap's definition.
pub const DEFINITION: &str = "Migrant gap: for every indicator, series, ref_area, time_period, unit_measure and unit_mult where one \
publication has both an MS_MIGRANT and an MS_NOMIGRANT value with every other breakdown a total (_T or _Z), among the observations that count \
(in scope, obs_status other than M, in the window) and have a value (suppressed cells have none): both values, difference = migrant - non-migrant, \
ratio = migrant / non-migrant (null when the non-migrant value is 0).";

/// The views of this module.
pub(super) fn views() -> Vec<(&'static str, String)> {
    let totals = COLUMNS
        .iter()
        .filter(|c| c.role == Role::Breakdown && c.name != "migratory_status")
        .map(|c| format!("{} IN ('_T', '_Z')", c.name))
        .collect::<Vec<_>>()
        .join(" AND ");
    let same = ["indicator", "series", "ref_area", "time_period", "unit_measure", "unit_mult", "reporting_type", "agency", "dataset"]
        .map(|k| format!("(n.{k} IS NOT DISTINCT FROM m.{k})"))
        .join(" AND ");
    vec![(
        "migrant_gap",
        format!(
            "WITH cells AS (SELECT * FROM figure_observations WHERE obs_value IS NOT NULL AND {totals})
             SELECT m.indicator, m.series, m.ref_area, m.time_period, m.unit_measure, m.unit_mult,
                    m.obs_value AS migrant, n.obs_value AS non_migrant,
                    m.obs_value - n.obs_value AS difference, m.obs_value / NULLIF(n.obs_value, 0) AS ratio,
                    m.agency, m.dataset
             FROM cells m JOIN cells n ON {same}
             WHERE m.migratory_status = 'MS_MIGRANT' AND n.migratory_status = 'MS_NOMIGRANT'"
        ),
    )]
}

/// One migrant / non-migrant pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRow {
    /// Indicator.
    pub indicator: String,
    /// Series.
    pub series: String,
    /// Reference area.
    pub ref_area: String,
    /// Period.
    pub time_period: String,
    /// Unit of measure.
    pub unit_measure: String,
    /// Unit multiplier.
    pub unit_mult: i64,
    /// The migrant value.
    pub migrant: f64,
    /// The non-migrant value.
    pub non_migrant: f64,
    /// migrant − non-migrant.
    pub difference: f64,
    /// migrant / non-migrant (null when non-migrant is 0).
    pub ratio: Option<f64>,
    /// The publishing agency.
    pub agency: String,
    /// Its dataset.
    pub dataset: String,
}

/// The migrant gap table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrantGap {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// One row per pair, by indicator, series, area and period.
    pub rows: Vec<GapRow>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

/// Computes the migrant gap in `session`.
pub async fn compute(s: &Session, about: About) -> Result<MigrantGap> {
    let b = query(&s.ctx, "SELECT * FROM migrant_gap").await?;
    let [ind, ser, area, tp, unit, ag, ds] = columns(&b, ["indicator", "series", "ref_area", "time_period", "unit_measure", "agency", "dataset"], strings)?;
    let mult = ints(&b, "unit_mult")?;
    let [m, n, d, r] = columns(&b, ["migrant", "non_migrant", "difference", "ratio"], floats)?;
    let mut rows: Vec<GapRow> = (0..ind.len())
        .map(|i| GapRow {
            indicator: ind[i].clone(),
            series: ser[i].clone(),
            ref_area: area[i].clone(),
            time_period: tp[i].clone(),
            unit_measure: unit[i].clone(),
            unit_mult: mult[i],
            migrant: m[i].unwrap_or_default(),
            non_migrant: n[i].unwrap_or_default(),
            difference: d[i].unwrap_or_default(),
            ratio: r[i],
            agency: ag[i].clone(),
            dataset: ds[i].clone(),
        })
        .collect();
    rows.sort_by(|a, b| (&a.series, &a.ref_area, &a.time_period).cmp(&(&b.series, &b.ref_area, &b.time_period)));
    super::disaggregation::sort_by_code(&mut rows, |r| &r.indicator);
    Ok(MigrantGap { about, rows, publications: super::publication_refs(s) })
}
