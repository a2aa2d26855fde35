//! The migrant gap: for every indicator, series, reference area, period and unit where a
//! publication has both an `MS_MIGRANT` and an `MS_NOMIGRANT` value with every other breakdown
//! a total (`_T`, or `_Z` where the breakdown does not apply), the two values, their difference
//! (migrant − non-migrant) and ratio (migrant / non-migrant; null when the non-migrant value is
//! 0), with the unit. Only observations that count (in scope, `obs_status` not `M`, in the
//! window) with a value take part: a suppressed cell has none, so its pair yields no row.
//!
//! The view `migrant_gap` (one row per pair) is a base view (see [`super::sources`]): the facts
//! hold the pairs of each publication.

use serde::{Deserialize, Serialize};

use super::{columns, floats, ints, query, sort_by_code, strings, About, Compute, FigureKind, PublicationRef};
use crate::catalog::Session;
use crate::error::Result;

/// The title.
pub const TITLE: &str = "Migrant / non-migrant gap";

/// The migrant gap's definition.
pub const DEFINITION: &str = "Migrant gap: for every indicator, series, ref_area, time_period, unit_measure and unit_mult where one \
publication has both an MS_MIGRANT and an MS_NOMIGRANT value with every other breakdown a total (_T or _Z), among the observations that count \
(in scope, obs_status other than M, in the window) and have a value (suppressed cells have none): both values, difference = migrant - non-migrant, \
ratio = migrant / non-migrant (null when the non-migrant value is 0).";

/// One migrant / non-migrant pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MigrantGap {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// One row per pair, by indicator, series, area and period.
    pub rows: Vec<GapRow>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

impl Compute for MigrantGap {
    const KIND: FigureKind = FigureKind::MigrantGap;

    async fn compute(s: &Session, about: About) -> Result<MigrantGap> {
        let b = query(&s.ctx, "SELECT * FROM migrant_gap").await?;
        let [ind, ser, area, tp, unit, ag, ds] =
            columns(&b, ["indicator", "series", "ref_area", "time_period", "unit_measure", "agency", "dataset"], strings)?;
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
        // A total order, whatever order the view gives the rows in.
        rows.sort_by(|a, b| {
            (&a.series, &a.ref_area, &a.time_period, &a.unit_measure, a.unit_mult, &a.agency, &a.dataset)
                .cmp(&(&b.series, &b.ref_area, &b.time_period, &b.unit_measure, b.unit_mult, &b.agency, &b.dataset))
                .then(a.migrant.total_cmp(&b.migrant))
                .then(a.non_migrant.total_cmp(&b.non_migrant))
        });
        sort_by_code(&mut rows, |r| &r.indicator);
        Ok(MigrantGap { about, rows, publications: super::publication_refs(s) })
    }
}
