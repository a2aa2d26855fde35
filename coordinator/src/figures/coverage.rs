//! The coverage matrix: one row per in-scope indicator and dimension of [`DIMENSIONS`],
//! `covered` true when the breakdown is present (see [`super::disaggregation`]) or, for
//! `geography`, when some observation that counts has a `ref_area` other than the national area
//! (`national_area` in the coordinator config); with the codes seen.
//!
//! | view | one row per |
//! | --- | --- |
//! | `coverage_matrix` | (in-scope indicator, dimension): `covered, codes` |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{bools, columns, ints, list, publication_refs, query, sort_by_code, strings, About, Compute, FigureKind, PublicationRef};
use crate::catalog::Session;
use crate::error::Result;

/// The title.
pub const TITLE: &str = "Coverage of disaggregations";

/// The coverage matrix's dimensions, in column order: those whose codes the facts keep
/// ([`crate::facts::CODES_KEPT`]) and geography.
pub const DIMENSIONS: [&str; 7] =
    ["sex", "age", "migratory_status", "disability_status", "urbanisation", "income_wealth_quantile", "geography"];

/// The definition.
pub const DEFINITION: &str = "Coverage matrix: for each in-scope indicator and each of sex, age, migratory_status, \
disability_status, urbanisation, income_wealth_quantile and geography below national, covered is true when some observation that counts \
(in scope, obs_status other than M, in the window) has a code other than _T and _Z in that column (for geography: a ref_area other than \
the national area); codes lists the codes seen.";

/// The views of this figure.
pub(super) fn views() -> Vec<(&'static str, String)> {
    let dims = DIMENSIONS.iter().map(|d| format!("('{d}')")).collect::<Vec<_>>().join(", ");
    vec![(
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
    )]
}

/// One cell of the coverage matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cell {
    /// Whether the breakdown is present.
    pub covered: bool,
    /// The codes seen.
    pub codes: Vec<String>,
}

/// One indicator's row of the coverage matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoverageRow {
    /// Indicator code.
    pub indicator: String,
    /// Goal.
    pub goal: i64,
    /// Dimension → cell.
    pub cells: BTreeMap<String, Cell>,
}

/// The coverage matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

impl Compute for CoverageMatrix {
    const KIND: FigureKind = FigureKind::CoverageMatrix;

    async fn compute(s: &Session, about: About) -> Result<CoverageMatrix> {
        let b = query(&s.ctx, "SELECT indicator, goal, dimension, covered, codes FROM coverage_matrix").await?;
        let [codes, dims, cells] = columns(&b, ["indicator", "dimension", "codes"], strings)?;
        let (goals, covered) = (ints(&b, "goal")?, bools(&b, "covered")?);
        let mut rows: BTreeMap<String, CoverageRow> = BTreeMap::new();
        for i in 0..codes.len() {
            rows.entry(codes[i].clone())
                .or_insert_with(|| CoverageRow { indicator: codes[i].clone(), goal: goals[i], cells: BTreeMap::new() })
                .cells
                .insert(dims[i].clone(), Cell { covered: covered[i], codes: list(&cells[i]) });
        }
        let mut rows: Vec<CoverageRow> = rows.into_values().collect();
        sort_by_code(&mut rows, |r| &r.indicator);
        Ok(CoverageMatrix { about, dimensions: DIMENSIONS.map(str::to_owned).to_vec(), rows, publications: publication_refs(s) })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_facts_keep_the_codes_of_every_dimension_of_the_matrix() {
        let kept: Vec<&str> = super::DIMENSIONS.into_iter().filter(|d| *d != "geography").collect();
        assert_eq!(kept, crate::facts::CODES_KEPT);
    }
}
