//! The national figures: one file each, listed once in [`FigureKind`].
//!
//! Each figure is defined as SQL views (see `docs/figures.md` for the definitions in words and
//! `coordinator/tests/slt/` for hand-checked expected values). The views of every figure stand
//! on a few *base views* ([`sources`]), defined twice:
//! - from the publications' **facts** ([`crate::facts`]), what every surface (HTTP, the CLI,
//!   Flight SQL, exports, the dashboard) reads: their cost follows the number of indicators,
//!   not the number of observations;
//! - from the **observations** (the full scan), kept as the *reference* the facts are tested
//!   against (the .slt files run against both, and a property test compares every figure).
//!
//! | view | one row per |
//! | --- | --- |
//! | `figure_observations` | observation that counts: indicator in the framework and in scope, `obs_status <> 'M'`, reference year in the window (for analysts; the reference reads it) |
//! | `indicator_production` | in-scope indicator: `produced`, `migration_disaggregated` |
//! | `agency_production` | (agency, in-scope indicator it produced): `migration_disaggregated` from its own observations |
//! | `year_production` | (reference year, in-scope indicator produced in it): `migration_disaggregated` |
//! | `area_production` | (reference area, in-scope indicator produced there): `migration_disaggregated` from that area's observations |
//! | `observed_breakdowns` | (agency, area, indicator, dimension, code) present, geography below national as `geography` |
//! | figure views | see each figure's module |
//!
//! A figure's result for a store version and window is computed once and shared (store
//! versions never change): concurrent identical requests wait for the one computation.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Pinned, Read, Session, Views};
pub use crate::catalog::{ViewParams, Window};
use crate::error::{Error, Result};

pub mod areas;
pub mod completeness;
pub mod coverage;
pub mod cross_area;
pub mod disaggregation;
pub mod gap;
pub mod headline;
pub mod reporting;
pub mod sources;

pub use headline::{MigrationShare, ShareRow};
pub use reporting::ReportingStatus;
pub use sources::Source;

/// Every national figure: its name, title, definition and computation. A new figure is a new
/// module (its result type implementing [`Compute`], its views, its definition) and a variant
/// here; every `match` on this enum and on [`Figure`] then names what must handle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FigureKind {
    /// The headline: proportion of indicators produced with migration disaggregation.
    MigrationDisaggregationShare,
    /// Reporting status (Open SDG).
    ReportingStatus,
    /// Disaggregation status (Open SDG).
    DisaggregationStatus,
    /// Coverage of disaggregations by indicator and dimension.
    CoverageMatrix,
    /// Migrant / non-migrant pairs.
    MigrantGap,
    /// Agency completeness and timeliness.
    AgencyCompleteness,
    /// The headline, reporting and disaggregation status of each area compared.
    AreaFigures,
    /// The areas compared against each other.
    CrossArea,
}

impl FigureKind {
    /// Every figure, in the order they are listed and exported.
    pub const ALL: [FigureKind; 8] = [
        FigureKind::MigrationDisaggregationShare,
        FigureKind::ReportingStatus,
        FigureKind::DisaggregationStatus,
        FigureKind::CoverageMatrix,
        FigureKind::MigrantGap,
        FigureKind::AgencyCompleteness,
        FigureKind::AreaFigures,
        FigureKind::CrossArea,
    ];

    /// The name in URLs and exports (`migration-disaggregation-share`, …).
    pub fn name(self) -> &'static str {
        match self {
            FigureKind::MigrationDisaggregationShare => "migration-disaggregation-share",
            FigureKind::ReportingStatus => "reporting-status",
            FigureKind::DisaggregationStatus => "disaggregation-status",
            FigureKind::CoverageMatrix => "coverage-matrix",
            FigureKind::MigrantGap => "migrant-gap",
            FigureKind::AgencyCompleteness => "agency-completeness",
            FigureKind::AreaFigures => "area-figures",
            FigureKind::CrossArea => "cross-area",
        }
    }

    /// The title people read.
    pub fn title(self) -> &'static str {
        match self {
            FigureKind::MigrationDisaggregationShare => headline::TITLE,
            FigureKind::ReportingStatus => reporting::TITLE,
            FigureKind::DisaggregationStatus => disaggregation::TITLE,
            FigureKind::CoverageMatrix => coverage::TITLE,
            FigureKind::MigrantGap => gap::TITLE,
            FigureKind::AgencyCompleteness => completeness::TITLE,
            FigureKind::AreaFigures => areas::TITLE,
            FigureKind::CrossArea => cross_area::TITLE,
        }
    }

    /// The definition in words, published with every result.
    pub fn definition(self) -> &'static str {
        match self {
            FigureKind::MigrationDisaggregationShare => headline::DEFINITION,
            FigureKind::ReportingStatus => reporting::DEFINITION,
            FigureKind::DisaggregationStatus => disaggregation::DEFINITION,
            FigureKind::CoverageMatrix => coverage::DEFINITION,
            FigureKind::MigrantGap => gap::DEFINITION,
            FigureKind::AgencyCompleteness => completeness::DEFINITION,
            FigureKind::AreaFigures => areas::DEFINITION,
            FigureKind::CrossArea => cross_area::DEFINITION,
        }
    }
}

impl std::str::FromStr for FigureKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<FigureKind> {
        FigureKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            Error::NotFound(format!("no figure {s:?}; figures are {}", FigureKind::ALL.map(FigureKind::name).join(", ")))
        })
    }
}

impl std::fmt::Display for FigureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A figure's result type: which figure it is and how it is computed from a session with the
/// figure views.
pub trait Compute: Sized + Send + Sync + 'static {
    /// The figure.
    const KIND: FigureKind;
    /// Computes it in `s`; `about` says which figure, store version, framework and window.
    fn compute(s: &Session, about: About) -> impl std::future::Future<Output = Result<Self>> + Send;
}

/// A computed figure.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Figure {
    /// `migration-disaggregation-share`.
    MigrationShare(MigrationShare),
    /// `reporting-status`.
    ReportingStatus(ReportingStatus),
    /// `disaggregation-status`.
    DisaggregationStatus(disaggregation::DisaggregationStatus),
    /// `coverage-matrix`.
    CoverageMatrix(coverage::CoverageMatrix),
    /// `migrant-gap`.
    MigrantGap(gap::MigrantGap),
    /// `agency-completeness`.
    Completeness(completeness::Completeness),
    /// `area-figures`.
    AreaFigures(areas::AreaFigures),
    /// `cross-area`.
    CrossArea(cross_area::CrossArea),
}

impl Figure {
    /// Which figure this is.
    pub fn kind(&self) -> FigureKind {
        match self {
            Figure::MigrationShare(_) => FigureKind::MigrationDisaggregationShare,
            Figure::ReportingStatus(_) => FigureKind::ReportingStatus,
            Figure::DisaggregationStatus(_) => FigureKind::DisaggregationStatus,
            Figure::CoverageMatrix(_) => FigureKind::CoverageMatrix,
            Figure::MigrantGap(_) => FigureKind::MigrantGap,
            Figure::Completeness(_) => FigureKind::AgencyCompleteness,
            Figure::AreaFigures(_) => FigureKind::AreaFigures,
            Figure::CrossArea(_) => FigureKind::CrossArea,
        }
    }
}

/// The views of every figure over `source`, to hand to [`Catalog::new`].
///
/// Over the facts, every view but `figure_observations` (a full scan, for analysts) is
/// registered as a table of its result, each computed over the tables before it: a catalog is built once per store version and window and
/// shared, so a query of a figure view (Flight SQL, the figures themselves) reads a few
/// hundred rows instead of planning and running the views beneath it each time. The reference
/// stays views (it is for tests, and materialising it would scan every observation).
pub fn views(source: Source) -> Views {
    Arc::new(move |ctx: SessionContext, params: ViewParams| {
        Box::pin(async move {
            let mut views = sources::views(source, &params);
            views.extend(headline::views());
            views.extend(reporting::views());
            views.extend(disaggregation::views());
            views.extend(coverage::views());
            views.extend(completeness::views(&params));
            views.extend(areas::views(&params));
            views.extend(cross_area::views());
            for (name, sql) in &views {
                if source == Source::Reference || *name == "figure_observations" {
                    ctx.sql(&format!("CREATE VIEW {name} AS {sql}")).await?.collect().await?;
                    continue;
                }
                // Planned over the tables kept before it, so nothing beneath is computed twice.
                let df = ctx.sql(sql).await?;
                let planned = Arc::new(df.schema().as_arrow().clone());
                let batches = df.collect().await?;
                // The batches' own schema: the plan's may differ in nullability.
                let schema = batches.first().map_or(planned, |b| b.schema());
                ctx.register_table(*name, Arc::new(datafusion::datasource::MemTable::try_new(schema, vec![batches])?))?;
            }
            Ok(())
        })
    })
}

/// `read` pinned (see [`Catalog::pin`]), once `window` is checked.
pub async fn pin(catalog: &Catalog, window: Window, read: &Read) -> Result<Pinned> {
    if let (Some(f), Some(t)) = (window.from, window.to)
        && f > t
    {
        return Err(Error::BadRequest(format!("from {f} is after to {t}")));
    }
    catalog.pin(read).await
}

fn about(s: &Session, catalog: &Catalog, kind: FigureKind, window: Window) -> About {
    About {
        figure: kind.name().into(),
        definition: kind.definition().into(),
        view: s.view,
        store_version: s.store_version,
        framework_version: catalog.contract().framework.version.clone(),
        window,
    }
}

/// Figure `T` over `read` (a view, at a store version or RFC 3339 timestamp; current when
/// none) within `window`; computed once per state of the view and window.
pub async fn get<T: Compute>(catalog: &Catalog, window: Window, read: &Read) -> Result<Arc<T>> {
    get_pinned(catalog, window, &pin(catalog, window, read).await?).await
}

/// Figure `T` over a pinned state (see [`get`]).
pub async fn get_pinned<T: Compute>(catalog: &Catalog, window: Window, pinned: &Pinned) -> Result<Arc<T>> {
    catalog.memo(pinned, window, T::KIND.name(), |s| async move { T::compute(&s, about(&s, catalog, T::KIND, window)).await }).await
}

/// Figure `T` as [`get`] gives it, as a value of its own.
pub async fn owned<T: Compute + Clone>(catalog: &Catalog, window: Window, read: &Read) -> Result<T> {
    owned_pinned(catalog, window, &pin(catalog, window, read).await?).await
}

/// Figure `T` over a pinned state, as a value of its own.
pub async fn owned_pinned<T: Compute + Clone>(catalog: &Catalog, window: Window, pinned: &Pinned) -> Result<T> {
    Ok((*get_pinned::<T>(catalog, window, pinned).await?).clone())
}

/// Figure `kind` over `read` within `window` (see [`get`]).
pub async fn compute(catalog: &Catalog, kind: FigureKind, window: Window, read: &Read) -> Result<Figure> {
    compute_pinned(catalog, kind, window, &pin(catalog, window, read).await?).await
}

/// Figure `kind` over a pinned state within `window`.
pub async fn compute_pinned(catalog: &Catalog, kind: FigureKind, window: Window, p: &Pinned) -> Result<Figure> {
    Ok(match kind {
        FigureKind::MigrationDisaggregationShare => Figure::MigrationShare(owned_pinned(catalog, window, p).await?),
        FigureKind::ReportingStatus => Figure::ReportingStatus(owned_pinned(catalog, window, p).await?),
        FigureKind::DisaggregationStatus => Figure::DisaggregationStatus(owned_pinned(catalog, window, p).await?),
        FigureKind::CoverageMatrix => Figure::CoverageMatrix(owned_pinned(catalog, window, p).await?),
        FigureKind::MigrantGap => Figure::MigrantGap(owned_pinned(catalog, window, p).await?),
        FigureKind::AgencyCompleteness => Figure::Completeness(owned_pinned(catalog, window, p).await?),
        FigureKind::AreaFigures => Figure::AreaFigures(owned_pinned(catalog, window, p).await?),
        FigureKind::CrossArea => Figure::CrossArea(owned_pinned(catalog, window, p).await?),
    })
}

/// Figure `kind` as JSON (see [`get`]); the encoding is shared too.
pub async fn json(catalog: &Catalog, kind: FigureKind, window: Window, read: &Read) -> Result<bytes::Bytes> {
    let pinned = pin(catalog, window, read).await?;
    let p = &pinned;
    let body = catalog
        .memo(p, window, &format!("{}.json", kind.name()), |_| async move {
            let figure = compute_pinned(catalog, kind, window, p).await?;
            serde_json::to_vec(&figure).map(bytes::Bytes::from).map_err(|e| Error::Internal(format!("figure {kind}: {e}")))
        })
        .await?;
    Ok((*body).clone())
}

/// A ratio with its parts; `share` is null when the denominator is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ratio {
    /// Numerator.
    pub numerator: i64,
    /// Denominator.
    pub denominator: i64,
    /// numerator / denominator, or null.
    pub share: Option<f64>,
}

/// A publication a figure used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct About {
    /// Figure name.
    pub figure: String,
    /// Definition in words.
    pub definition: String,
    /// The view read: official or provisional.
    pub view: crate::signoff::View,
    /// Store version read.
    pub store_version: i64,
    /// Framework version in force.
    pub framework_version: String,
    /// Window applied.
    pub window: Window,
}

/// A SQL string literal.
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    b.column_by_name(name).map(|a| a.as_ref()).ok_or_else(|| Error::Internal(format!("figure query lacks column {name}")))
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

fn bools(batches: &[RecordBatch], name: &str) -> Result<Vec<bool>> {
    let mut out = Vec::new();
    for b in batches {
        let a = cast(col(b, name)?, &DataType::Boolean)?;
        out.extend(a.as_boolean().iter().map(|v| v.unwrap_or(false)));
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
    out.try_into().map_err(|_| Error::Internal("figure query returned too few columns".into()))
}

fn ratios(batches: &[RecordBatch], prefix: &str) -> Result<Vec<Ratio>> {
    let n = ints(batches, &format!("{prefix}numerator"))?;
    let d = ints(batches, &format!("{prefix}denominator"))?;
    let s = floats(batches, &format!("{prefix}share"))?;
    Ok(n.into_iter().zip(d).zip(s).map(|((numerator, denominator), share)| Ratio { numerator, denominator, share }).collect())
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

/// The indicators of `view` (column `indicator`) matching `predicate`, in framework order.
async fn indicator_list(ctx: &SessionContext, view: &str, predicate: &str) -> Result<Vec<String>> {
    let b = query(ctx, &format!("SELECT indicator FROM {view} WHERE {predicate}")).await?;
    let mut v = strings(&b, "indicator")?;
    sort_codes(&mut v);
    Ok(v)
}

/// Sorts indicator codes in framework order (numeric parts numerically: 1.2.1 < 1.10.1).
pub fn sort_codes(v: &mut [String]) {
    v.sort_by_cached_key(|c| code_key(c));
}

fn code_key(c: &str) -> Vec<(u8, u32, String)> {
    c.split('.').map(|p| p.parse::<u32>().map_or((1, 0, p.to_owned()), |n| (0, n, String::new()))).collect()
}

/// Sorts rows by indicator code in framework order, keeping the order of rows of one code.
fn sort_by_code<T>(rows: &mut [T], code: impl Fn(&T) -> &String) {
    rows.sort_by_cached_key(|r| code_key(code(r)));
}

/// The list of a `;`-joined text (empty parts dropped).
fn list(s: &str) -> Vec<String> {
    s.split(';').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_listed_once_and_found_by_its_name() {
        let mut names: Vec<&str> = FigureKind::ALL.map(FigureKind::name).to_vec();
        for k in FigureKind::ALL {
            assert_eq!(k.name().parse::<FigureKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.name(), "the serde name is the URL name");
            assert!(!k.title().is_empty() && !k.definition().is_empty());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FigureKind::ALL.len());
        let e = "headline".parse::<FigureKind>().unwrap_err().to_string();
        assert!(e.contains("migration-disaggregation-share") && e.contains("agency-completeness"), "{e}");
    }
}
