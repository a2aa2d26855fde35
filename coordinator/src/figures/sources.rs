//! The base views every figure's views stand on, defined twice: from the publications' facts
//! (what the figures read) and from the observations (the full-scan reference the facts are
//! tested against). Both give the same views, with the same columns:
//!
//! | view | columns |
//! | --- | --- |
//! | `figure_observations` | the observations that count (in scope, `obs_status <> 'M'`, in the window), every column; both sources define it, only the reference reads it |
//! | `indicator_production` | `indicator, goal, migration_relevant, produced, migration_disaggregated`, one row per in-scope indicator |
//! | `agency_production` | `agency, indicator, migration_disaggregated`, one row per (agency, in-scope indicator the agency produced) |
//! | `year_production` | `year, indicator, migration_disaggregated`, one row per (reference year, in-scope indicator produced in it) |
//! | `area_production` | `ref_area, indicator, migration_disaggregated`, one row per (reference area, in-scope indicator with an observation that counts of that area) |
//! | `observed_breakdowns` | `agency, ref_area, indicator, dimension, code`: breakdowns present (codes other than `_T`, `_Z`) and, as dimension `geography`, reference areas other than the national area; rows may repeat. From facts, `code` is `*` for dimensions outside the coverage matrix (only their presence counts) |
//! | `migrant_gap` | see [`super::gap`] |

use sdgx_schemas::observation::{Role, COLUMNS, MIGRANT, NON_MIGRANT};

use super::{literal, ViewParams};

/// Which base views the figures read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The publications' facts (`store.breakdown_facts`, `store.gap_facts`): what every figure
    /// reads.
    Facts,
    /// The observations themselves, scanned in full: the reference.
    Reference,
}

/// The reference year of an observation, in SQL.
const YEAR: &str = "CAST(substr(time_period, 1, 4) AS INT)";

/// The base views of `source`.
pub fn views(source: Source, p: &ViewParams) -> Vec<(&'static str, String)> {
    let mut v = vec![(
        "figure_observations",
        format!(
            "SELECT o.* FROM store.observations o JOIN indicators i ON i.indicator = o.indicator
             WHERE i.in_scope AND o.obs_status <> 'M' AND {}",
            p.window.predicate(YEAR)
        ),
    )];
    v.extend(match source {
        Source::Facts => facts(p),
        Source::Reference => reference(p),
    });
    v
}

/// From the facts: `figure_facts` holds the breakdown facts that count (in scope, in the
/// window); an (indicator, year, area) is produced when it has facts (every observation that
/// counts has a `ref_area` fact), migration-disaggregated when one is a `migratory_status` code.
fn facts(p: &ViewParams) -> Vec<(&'static str, String)> {
    let md = format!("BOOL_OR(dimension = '{}')", "migratory_status");
    vec![
        (
            "figure_facts",
            format!(
                "SELECT f.* FROM store.breakdown_facts f JOIN indicators i ON i.indicator = f.indicator
                 WHERE i.in_scope AND {}",
                p.window.predicate("f.year")
            ),
        ),
        (
            "indicator_production",
            format!(
                "SELECT i.indicator, i.goal, i.migration_relevant,
                        f.indicator IS NOT NULL AS produced,
                        COALESCE(f.md, false) AS migration_disaggregated
                 FROM indicators i
                 LEFT JOIN (SELECT indicator, {md} AS md FROM figure_facts GROUP BY indicator) f ON f.indicator = i.indicator
                 WHERE i.in_scope"
            ),
        ),
        ("agency_production", format!("SELECT agency, indicator, {md} AS migration_disaggregated FROM figure_facts GROUP BY agency, indicator")),
        ("year_production", format!("SELECT year, indicator, {md} AS migration_disaggregated FROM figure_facts GROUP BY year, indicator")),
        ("area_production", format!("SELECT ref_area, indicator, {md} AS migration_disaggregated FROM figure_facts GROUP BY ref_area, indicator")),
        (
            "observed_breakdowns",
            format!(
                "SELECT agency, ref_area, indicator, dimension, code FROM figure_facts WHERE dimension <> '{area}'
                 UNION ALL
                 SELECT agency, ref_area, indicator, 'geography' AS dimension, code FROM figure_facts WHERE dimension = '{area}' AND code <> {}",
                literal(&p.national_area),
                area = crate::facts::AREA
            ),
        ),
        (
            "migrant_gap",
            format!(
                "SELECT g.indicator, g.series, g.ref_area, g.time_period, g.unit_measure, g.unit_mult,
                        g.migrant, g.non_migrant, g.migrant - g.non_migrant AS difference, g.migrant / NULLIF(g.non_migrant, 0) AS ratio,
                        g.agency, g.dataset
                 FROM store.gap_facts g JOIN indicators i ON i.indicator = g.indicator
                 WHERE i.in_scope AND {}",
                p.window.predicate("g.year")
            ),
        ),
    ]
}

/// From the observations, scanned in full (the reference).
fn reference(p: &ViewParams) -> Vec<(&'static str, String)> {
    let md = "BOOL_OR(migratory_status NOT IN ('_T', '_Z'))";
    let mut parts: Vec<String> = COLUMNS
        .iter()
        .filter(|c| c.role == Role::Breakdown)
        .map(|c| {
            format!(
                "SELECT agency, ref_area, indicator, '{0}' AS dimension, {0} AS code FROM figure_observations WHERE {0} NOT IN ('_T', '_Z')",
                c.name
            )
        })
        .collect();
    parts.push(format!(
        "SELECT agency, ref_area, indicator, 'geography' AS dimension, ref_area AS code FROM figure_observations WHERE ref_area <> {}",
        literal(&p.national_area)
    ));
    let totals = COLUMNS
        .iter()
        .filter(|c| c.role == Role::Breakdown && c.name != "migratory_status")
        .map(|c| format!("{} IN ('_T', '_Z')", c.name))
        .collect::<Vec<_>>()
        .join(" AND ");
    let same = ["indicator", "series", "ref_area", "time_period", "unit_measure", "unit_mult", "reporting_type", "agency", "dataset"]
        .map(|k| format!("(n.{k} IS NOT DISTINCT FROM m.{k})"))
        .join(" AND ");
    vec![
        // The same as grouping `indicators LEFT JOIN figure_observations`, with the
        // observations aggregated per indicator before the join.
        (
            "indicator_production",
            format!(
                "SELECT i.indicator, i.goal, i.migration_relevant,
                        COALESCE(f.n, 0) > 0 AS produced,
                        COALESCE(f.md, false) AS migration_disaggregated
                 FROM indicators i
                 LEFT JOIN (SELECT indicator, COUNT(*) AS n, {md} AS md
                            FROM store.observations WHERE obs_status <> 'M' AND {} GROUP BY indicator) f
                   ON f.indicator = i.indicator
                 WHERE i.in_scope",
                p.window.predicate(YEAR)
            ),
        ),
        ("agency_production", format!("SELECT agency, indicator, {md} AS migration_disaggregated FROM figure_observations GROUP BY agency, indicator")),
        ("year_production", format!("SELECT {YEAR} AS year, indicator, {md} AS migration_disaggregated FROM figure_observations GROUP BY 1, 2")),
        ("area_production", format!("SELECT ref_area, indicator, {md} AS migration_disaggregated FROM figure_observations GROUP BY ref_area, indicator")),
        ("observed_breakdowns", parts.join("\nUNION ALL\n")),
        (
            "migrant_gap",
            format!(
                "WITH cells AS (SELECT * FROM figure_observations WHERE obs_value IS NOT NULL AND {totals})
                 SELECT m.indicator, m.series, m.ref_area, m.time_period, m.unit_measure, m.unit_mult,
                        m.obs_value AS migrant, n.obs_value AS non_migrant,
                        m.obs_value - n.obs_value AS difference, m.obs_value / NULLIF(n.obs_value, 0) AS ratio,
                        m.agency, m.dataset
                 FROM cells m JOIN cells n ON {same}
                 WHERE m.migratory_status = '{MIGRANT}' AND n.migratory_status = '{NON_MIGRANT}'"
            ),
        ),
    ]
}
