//! The national figures, each defined once as a SQL view over the store (see
//! `docs/figures.md` for the definitions in words and `coordinator/tests/slt/` for hand-checked
//! expected values).
//!
//! | view | one row per |
//! | --- | --- |
//! | `figure_observations` | observation that counts: indicator in the framework and in scope, `obs_status <> 'M'`, reference year in the window |
//! | `indicator_production` | in-scope indicator: `produced`, `migration_disaggregated` |
//! | `migration_disaggregation_share` | (one row) headline and its two variants |
//! | `migration_disaggregation_by_goal` | goal |
//! | `migration_disaggregation_by_agency` | agency |
//! | `reporting_status` | (one row) reported / in scope |
//! | `reporting_status_by_goal` | goal |
//! | `reporting_status_by_indicator` | framework indicator: `reported`, `not_reported` or `out_of_scope` |

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::catalog::{AsOf, Session};

pub mod completeness;
pub mod disaggregation;
pub mod gap;
use crate::error::{Error, Result};

/// The headline figure's definition, as published with every export and response.
pub const HEADLINE_DEFINITION: &str = "Proportion of SDG indicators produced at the national level with migration disaggregation. \
Framework: the indicator catalogue in force (global plus the national file); indicators marked out of scope are excluded everywhere. \
Store: the latest accepted version of every (agency, dataset). Window: observations whose time_period year is in [from, to] (both optional). \
Indicator I is produced if some observation of I in the window has obs_status other than M; a suppressed cell (conf_status C) counts as produced. \
Indicator I is migration-disaggregated if it is produced and one of those observations has migratory_status not in (_T, _Z). \
Headline share = migration-disaggregated / produced. Variants: migration-disaggregated migration-relevant indicators / in-scope migration-relevant indicators; \
migration-disaggregated / all in-scope indicators. By goal: the same restricted to each goal. By agency: over the indicators that agency produced, \
counting only its own observations. An empty denominator gives a null share. Indicators outside the framework never count.";

/// The reporting-status definition.
pub const REPORTING_DEFINITION: &str = "Reporting status (Open SDG): an in-scope indicator of the framework in force is reported when it is produced \
(some observation in the window with obs_status other than M, in the store's current state); share = reported / in-scope, overall and by goal. \
Out-of-scope indicators are listed apart and count in neither number. An empty denominator gives a null share.";

/// The names of the figures served over HTTP and the CLI.
pub const FIGURES: [&str; 6] = [
    "migration-disaggregation-share",
    "reporting-status",
    "disaggregation-status",
    "coverage-matrix",
    "migrant-gap",
    "agency-completeness",
];

/// An optional window of reference years, both ends inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First reference year counted.
    pub from: Option<i32>,
    /// Last reference year counted.
    pub to: Option<i32>,
}

impl Window {
    fn predicate(&self) -> String {
        let year = "CAST(substr(time_period, 1, 4) AS INT)";
        match (self.from, self.to) {
            (None, None) => "TRUE".into(),
            (Some(f), None) => format!("{year} >= {f}"),
            (None, Some(t)) => format!("{year} <= {t}"),
            (Some(f), Some(t)) => format!("{year} BETWEEN {f} AND {t}"),
        }
    }
}

/// A ratio with its parts; `share` is null when the denominator is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Numerator.
    pub numerator: i64,
    /// Denominator.
    pub denominator: i64,
    /// numerator / denominator, or null.
    pub share: Option<f64>,
}

/// One row of the headline figure: the headline and its two variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A publication a figure used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicationRef {
    /// Publication id.
    pub publication_id: String,
    /// Agency.
    pub agency: String,
    /// Dataset.
    pub dataset: String,
    /// Store version of its commit.
    pub store_version: i64,
    /// Content hash.
    pub content_hash: String,
}

/// What every figure states about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct About {
    /// Figure name.
    pub figure: String,
    /// Definition in words.
    pub definition: String,
    /// Store version read.
    pub store_version: i64,
    /// Framework version in force.
    pub framework_version: String,
    /// Window applied.
    pub window: Window,
}

impl About {
    fn new(figure: &str, definition: &str, s: &Session, framework_version: &str, window: Window) -> Self {
        About {
            figure: figure.into(),
            definition: definition.into(),
            store_version: s.store_version,
            framework_version: framework_version.into(),
            window,
        }
    }
}

/// The headline figure with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Reporting status with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// SQL of the three ratios of the headline figure over `indicator_production`, grouped by
/// `group` (or one national row).
fn share_sql(group: Option<&str>) -> String {
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
               FROM indicator_production {group_by}) t"
    )
}

fn reporting_sql(group: Option<&str>) -> String {
    let key = group.map_or("'national'".to_owned(), |g| format!("CAST({g} AS VARCHAR)"));
    let group_by = group.map_or(String::new(), |g| format!("GROUP BY {g}"));
    format!(
        "SELECT key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share
         FROM (SELECT {key} AS key, COALESCE(SUM(CASE WHEN produced THEN 1 ELSE 0 END), 0) AS n, COUNT(*) AS d
               FROM indicator_production {group_by}) t"
    )
}

/// What the figure views are computed with.
#[derive(Debug, Clone)]
pub struct ViewParams {
    /// The reference-year window.
    pub window: Window,
    /// The `ref_area` of the whole country.
    pub national_area: String,
    /// When the store version read was committed: the reference time of the calendar views.
    pub reference_time: chrono::DateTime<chrono::Utc>,
}

/// A SQL string literal.
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Registers every figure view on `ctx` (which must have the catalog's tables).
pub async fn register_views(ctx: &SessionContext, params: &ViewParams) -> Result<()> {
    let window = params.window;
    let mut views = vec![
        ("figure_observations", format!(
            "SELECT o.* FROM store.observations o JOIN indicators i ON i.indicator = o.indicator
             WHERE i.in_scope AND o.obs_status <> 'M' AND {}", window.predicate())),
        // The same as grouping `indicators LEFT JOIN figure_observations`, with the
        // observations aggregated per indicator before the join (hundreds of rows to join
        // instead of millions).
        ("indicator_production", format!(
            "SELECT i.indicator, i.goal, i.migration_relevant,
                    COALESCE(f.n, 0) > 0 AS produced,
                    COALESCE(f.md, false) AS migration_disaggregated
             FROM indicators i
             LEFT JOIN (SELECT indicator, COUNT(*) AS n, BOOL_OR(migratory_status NOT IN ('_T', '_Z')) AS md
                        FROM store.observations WHERE obs_status <> 'M' AND {} GROUP BY indicator) f
               ON f.indicator = i.indicator
             WHERE i.in_scope", window.predicate())),
        ("migration_disaggregation_share", share_sql(None)),
        ("migration_disaggregation_by_goal", share_sql(Some("goal"))),
        ("migration_disaggregation_by_agency", "SELECT agency AS key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share
             FROM (SELECT agency, COALESCE(SUM(CASE WHEN md THEN 1 ELSE 0 END), 0) AS n, COUNT(*) AS d
                   FROM (SELECT agency, indicator, BOOL_OR(migratory_status NOT IN ('_T', '_Z')) AS md
                         FROM figure_observations GROUP BY agency, indicator) a
                   GROUP BY agency) t".to_owned()),
        ("reporting_status", reporting_sql(None)),
        ("reporting_status_by_goal", reporting_sql(Some("goal"))),
        ("reporting_status_by_indicator", "SELECT i.indicator, i.goal,
                CASE WHEN NOT i.in_scope THEN 'out_of_scope' WHEN p.produced THEN 'reported' ELSE 'not_reported' END AS status
             FROM indicators i LEFT JOIN indicator_production p ON p.indicator = i.indicator".to_owned()),
        ("migration_disaggregation_by_year", "SELECT CAST(year AS VARCHAR) AS key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share
             FROM (SELECT year, SUM(CASE WHEN md THEN 1 ELSE 0 END) AS n, COUNT(*) AS d
                   FROM (SELECT CAST(substr(time_period, 1, 4) AS INT) AS year, indicator,
                                BOOL_OR(migratory_status NOT IN ('_T', '_Z')) AS md
                         FROM figure_observations GROUP BY 1, 2) y
                   GROUP BY year) t".to_owned()),
    ];
    views.extend(disaggregation::views(params));
    views.extend(gap::views());
    views.extend(completeness::views(params));
    for (name, sql) in views {
        ctx.sql(&format!("CREATE VIEW {name} AS {sql}")).await?.collect().await?;
    }
    Ok(())
}

async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    b.column_by_name(name).map(|a| a.as_ref()).ok_or_else(|| Error::Config(format!("figure query lacks column {name}")))
}

fn strings(batches: &[RecordBatch], name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        let a = cast(col(b, name)?, &DataType::Utf8)?;
        out.extend(a.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_owned()));
    }
    Ok(out)
}

fn ints(batches: &[RecordBatch], name: &str) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for b in batches {
        let a = cast(col(b, name)?, &DataType::Int64)?;
        out.extend(a.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)));
    }
    Ok(out)
}

fn floats(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>> {
    let mut out = Vec::new();
    for b in batches {
        let a = cast(col(b, name)?, &DataType::Float64)?;
        out.extend(a.as_primitive::<Float64Type>().iter());
    }
    Ok(out)
}

/// Several columns at once, read with `read` (`strings`, `ints` or `floats`).
fn columns<T, const N: usize>(
    batches: &[RecordBatch],
    names: [&str; N],
    read: fn(&[RecordBatch], &str) -> Result<Vec<T>>,
) -> Result<[Vec<T>; N]> {
    let mut out = Vec::with_capacity(N);
    for n in names {
        out.push(read(batches, n)?);
    }
    out.try_into().map_err(|_| Error::Config("figure query returned too few columns".into()))
}

fn ratios(batches: &[RecordBatch], prefix: &str) -> Result<Vec<Ratio>> {
    let n = ints(batches, &format!("{prefix}numerator"))?;
    let d = ints(batches, &format!("{prefix}denominator"))?;
    let s = floats(batches, &format!("{prefix}share"))?;
    Ok(n.into_iter().zip(d).zip(s).map(|((numerator, denominator), share)| Ratio { numerator, denominator, share }).collect())
}

fn share_rows(batches: &[RecordBatch], variants: bool) -> Result<Vec<ShareRow>> {
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

fn publication_refs(s: &Session) -> Vec<PublicationRef> {
    s.publications
        .iter()
        .map(|e| PublicationRef {
            publication_id: e.publication_id.clone(),
            agency: e.agency.clone(),
            dataset: e.dataset.clone(),
            store_version: e.store_version,
            content_hash: e.content_hash.clone(),
        })
        .collect()
}

async fn indicator_list(ctx: &SessionContext, predicate: &str) -> Result<Vec<String>> {
    let b = query(ctx, &format!("SELECT indicator FROM indicator_production WHERE {predicate}")).await?;
    let mut v = strings(&b, "indicator")?;
    sort_codes(&mut v);
    Ok(v)
}

/// Sorts indicator codes in framework order (numeric parts numerically: 1.2.1 < 1.10.1).
pub fn sort_codes(v: &mut [String]) {
    v.sort_by_cached_key(|c| {
        c.split('.').map(|p| p.parse::<u32>().map_or((1, 0, p.to_owned()), |n| (0, n, String::new()))).collect::<Vec<_>>()
    });
}

/// Computes the headline figure in `session` (with `window` already applied to its views).
pub async fn migration_share(s: &Session, framework_version: &str, window: Window) -> Result<MigrationShare> {
    let ctx = &s.ctx;
    let national = share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_share").await?, true)?;
    let national = national.into_iter().next().ok_or_else(|| Error::Config("headline view returned no row".into()))?;
    let by_goal = share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_by_goal ORDER BY CAST(key AS INT)").await?, true)?;
    let by_agency = share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_by_agency ORDER BY key").await?, false)?;
    let by_year = share_rows(&query(ctx, "SELECT * FROM migration_disaggregation_by_year ORDER BY key").await?, false)?;
    Ok(MigrationShare {
        about: About::new(FIGURES[0], HEADLINE_DEFINITION, s, framework_version, window),
        numerator: national.headline.numerator,
        denominator: national.headline.denominator,
        share: national.headline.share,
        migration_relevant: national.migration_relevant.ok_or_else(|| Error::Config("headline lacks its variants".into()))?,
        all_in_scope: national.all_in_scope.ok_or_else(|| Error::Config("headline lacks its variants".into()))?,
        by_goal,
        by_agency,
        by_year,
        produced: indicator_list(ctx, "produced").await?,
        migration_disaggregated: indicator_list(ctx, "migration_disaggregated").await?,
        migration_relevant_missing: indicator_list(ctx, "migration_relevant AND NOT migration_disaggregated").await?,
        publications: publication_refs(s),
    })
}

/// Computes reporting status in `session`.
pub async fn reporting_status(s: &Session, framework_version: &str, window: Window) -> Result<ReportingStatus> {
    let ctx = &s.ctx;
    let national = ratios(&query(ctx, "SELECT * FROM reporting_status").await?, "")?;
    let national = national.into_iter().next().ok_or_else(|| Error::Config("reporting view returned no row".into()))?;
    let goals = query(ctx, "SELECT * FROM reporting_status_by_goal ORDER BY CAST(key AS INT)").await?;
    let by_goal = ints(&goals, "key")?.into_iter().zip(ratios(&goals, "")?).collect();
    let status = |st: &'static str| async move {
        let b = query(ctx, &format!("SELECT indicator FROM reporting_status_by_indicator WHERE status = '{st}'")).await?;
        let mut v = strings(&b, "indicator")?;
        sort_codes(&mut v);
        Ok::<_, Error>(v)
    };
    Ok(ReportingStatus {
        about: About::new(FIGURES[1], REPORTING_DEFINITION, s, framework_version, window),
        numerator: national.numerator,
        denominator: national.denominator,
        share: national.share,
        by_goal,
        reported: status("reported").await?,
        not_reported: status("not_reported").await?,
        out_of_scope: status("out_of_scope").await?,
        publications: publication_refs(s),
    })
}

/// A computed figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figure {
    /// `migration-disaggregation-share`.
    MigrationShare(MigrationShare),
    /// `reporting-status`.
    ReportingStatus(ReportingStatus),
    /// `disaggregation-status`.
    DisaggregationStatus(disaggregation::DisaggregationStatus),
    /// `coverage-matrix`.
    CoverageMatrix(disaggregation::CoverageMatrix),
    /// `migrant-gap`.
    MigrantGap(gap::MigrantGap),
    /// `agency-completeness`.
    Completeness(completeness::Completeness),
}

/// Computes figure `name` over the store at `as_of` (current when `None`: a store version or
/// an RFC 3339 timestamp) within `window`.
pub async fn compute(catalog: &crate::catalog::Catalog, name: &str, window: Window, as_of: Option<&AsOf>) -> Result<Figure> {
    if !FIGURES.contains(&name) {
        return Err(Error::NotFound(format!("no figure {name:?}; figures are {}", FIGURES.join(", "))));
    }
    if let (Some(f), Some(t)) = (window.from, window.to)
        && f > t
    {
        return Err(Error::BadRequest(format!("from {f} is after to {t}")));
    }
    let version = catalog.version_of(as_of).await?;
    let session = catalog.session(Some(version), window).await?;
    let fw = &catalog.contract().framework.version;
    let about = |definition: &str| About::new(name, definition, &session, fw, window);
    Ok(match name {
        "migration-disaggregation-share" => Figure::MigrationShare(migration_share(&session, fw, window).await?),
        "reporting-status" => Figure::ReportingStatus(reporting_status(&session, fw, window).await?),
        "disaggregation-status" => Figure::DisaggregationStatus(disaggregation::status(&session, about(disaggregation::STATUS_DEFINITION)).await?),
        "coverage-matrix" => Figure::CoverageMatrix(disaggregation::coverage(&session, about(disaggregation::COVERAGE_DEFINITION)).await?),
        "migrant-gap" => Figure::MigrantGap(gap::compute(&session, about(gap::DEFINITION)).await?),
        _ => {
            let at = catalog.store().committed_at(version).await?;
            Figure::Completeness(completeness::compute(&session, about(completeness::DEFINITION), at).await?)
        }
    })
}
