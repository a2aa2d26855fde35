//! The coordinator's own derived dataset: the headline figure per reference year, published as
//! observations of the national 17.18 proxy the framework names (`headline_indicator`).
//!
//! [`publish`] is called after each change of the official view (by the release watcher). It
//! reads the headline figure ([`crate::figures::headline`]) over the **official** view at the
//! current store version, over every reference year (no window), and publishes its `by_year`
//! rows, the trend: for reference year Y, the indicators produced in Y (observations of Y that
//! count) with migration disaggregation among them, divided by the indicators produced in Y.
//! Each year with a share is one observation:
//!
//! | column | value |
//! | --- | --- |
//! | `indicator`, `series` | the headline indicator and its one series (`17.18.p1`, `AM_SDG_MIGDIS` in Armenia) |
//! | `ref_area`, `time_period`, `freq` | `national_area`, the year, `A` |
//! | every breakdown, `reporting_type` | `_T`, `N` |
//! | `obs_value`, `unit_measure`, `unit_mult` | share × 100 (not rounded), `PT`, `0` |
//! | `obs_status`, `conf_status` | `A`, `F` |
//! | `comment_obs` | `<numerator> of <denominator> indicators produced in <year> have migration disaggregation` |
//!
//! A year appears in `by_year` only when some indicator was produced in it, so its share is
//! never null; should one be (an empty denominator), the year gets no observation. The
//! manifest: agency `derived_agency` (reserved, see [`crate::auth::Registry::reserving`]),
//! dataset [`DATASET`], the indicator's title and metadata, reference period the first to the
//! last year, periodicity `A`. It is a function of the observations only (never of the time or
//! the store version), so the same official data give the same publication.
//!
//! The publication goes through [`crate::ingest::ingest`], the path of every publication:
//! validated against the contract, its facts computed, committed as one store version; content
//! and manifest equal to the dataset's current version are a duplicate, and nothing is
//! committed. When the official view has no year at all and the dataset has rows, a withdrawal
//! is published (no rows, same reference period), so the derived dataset never states a figure
//! the official data no longer support; with no derived dataset yet, nothing is published.
//!
//! **Officiality.** The dataset is computed from official data only, so no person approves it:
//! the coordinator records an approval decision by [`SYSTEM`] right after the commit, through
//! [`Store::decide`] like any decision, with the reason naming the store version of the official
//! view it was derived from. The log thus says who made it official, when, and from what; the
//! audit accepts such a decision only as the sign-off rules for the system allow
//! ([`crate::signoff::Automatic`]). A publication already approved (a duplicate) gets no second
//! decision, so calling [`publish`] twice records nothing the second time.
//!
//! **It never counts itself.** The headline figure and its variants leave the headline
//! indicator out of every numerator and denominator (`indicators.derived` in the catalog), so
//! publishing the dataset does not change the figure it came from: the next call is a
//! duplicate. Reporting status, disaggregation status and the coverage matrix list it like any
//! indicator (it is reported). See docs/figures.md, "The headline's own indicator".

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use sdgx_schemas::observation::{self, Role, COLUMNS, TOTAL};
use sdgx_schemas::{Manifest, ReferencePeriod, ValidationOptions};

use crate::catalog::{Catalog, Read};
use crate::error::{Error, Result};
use crate::figures::{self, MigrationShare, Window};
use crate::signoff::{Action, Decision, Request, Status, View, SYSTEM};
use crate::store::{PublicationEntry, Store};

/// The dataset id of the derived dataset.
pub const DATASET: &str = "headline";

/// One observation of the derived dataset: the headline of one reference year.
#[derive(Debug, Clone, PartialEq)]
pub struct YearValue {
    /// The reference year.
    pub year: i32,
    /// The share × 100 (percent).
    pub value: f64,
    /// Indicators produced in the year with migration disaggregation.
    pub numerator: i64,
    /// Indicators produced in the year.
    pub denominator: i64,
}

/// What [`publish`] did.
#[derive(Debug, Clone)]
pub struct Published {
    /// The derived dataset's publication: new, or the current one when nothing changed.
    pub entry: PublicationEntry,
    /// True when the content and manifest equal the current version: nothing was committed.
    pub duplicate: bool,
    /// The automatic approval recorded by this call; none when the publication was already
    /// approved (or is not in a state an approval may follow, which is logged).
    pub approval: Option<Decision>,
    /// The store version of the official view it was derived from.
    pub basis_version: i64,
    /// The observations, oldest year first (empty for a withdrawal).
    pub years: Vec<YearValue>,
}

/// Publishes the derived dataset of `catalog`'s official view at the current store version as
/// agency `agency` (the `derived_agency` setting), validated with `options`, and approves it
/// automatically (see the module documentation for exactly what it publishes).
///
/// Returns `None` when nothing is to be published: the framework names no
/// `headline_indicator`, or the official view has no reference year and there is no derived
/// dataset with rows to withdraw. Calls must not overlap (the release watcher makes them one
/// at a time); a call repeated on the same official data commits and records nothing.
pub async fn publish(catalog: &Catalog, options: ValidationOptions, agency: &str) -> Result<Option<Published>> {
    let contract = catalog.contract();
    let Some(indicator) = contract.framework.headline_indicator() else { return Ok(None) };
    let pinned = figures::pin(catalog, Window::default(), &Read::current(View::Official)).await?;
    let share: MigrationShare = figures::owned_pinned(catalog, Window::default(), &pinned).await?;
    let years = year_values(&share)?;
    let store = catalog.store();
    let current = store.current(agency, DATASET).await;
    let (start, end, withdraw) = match (years.first(), years.last(), &current) {
        (Some(first), Some(last), _) => (first.year.to_string(), last.year.to_string(), false),
        (_, _, Some(c)) if c.rows > 0 => (c.manifest.reference_period.start.clone(), c.manifest.reference_period.end.clone(), true),
        _ => return Ok(None),
    };
    let manifest = Manifest {
        agency: agency.to_owned(),
        dataset: DATASET.to_owned(),
        title: indicator.title.clone(),
        indicators: vec![indicator.code.clone()],
        reference_period: ReferencePeriod { start, end },
        periodicity: "A".into(),
        content_hash: None,
        metadata: indicator.metadata.clone().unwrap_or_default(),
        withdraw,
        provenance: vec![],
    };
    let batch = observations(&indicator.code, &indicator.series[0], &catalog.registers().national_area, &years)?;
    let ack = crate::ingest::ingest(contract, store, options, manifest, crate::ingest::Signed::unsigned(), futures::stream::iter([Ok(batch)])).await?;
    let entry = store
        .publications()
        .await
        .into_iter()
        .find(|e| e.publication_id == ack.publication_id)
        .ok_or_else(|| Error::Internal(format!("derived publication {} is not in the log", ack.publication_id)))?;
    let approval = approve(catalog, store, &entry, pinned.version).await?;
    tracing::info!(agency, dataset = DATASET, publication = %entry.publication_id, duplicate = ack.duplicate,
        approved = approval.is_some(), basis_version = pinned.version, years = years.len(), "derived dataset published");
    Ok(Some(Published { entry, duplicate: ack.duplicate, approval, basis_version: pinned.version, years }))
}

/// The headline's `by_year` rows with a share, as observations (percent).
fn year_values(share: &MigrationShare) -> Result<Vec<YearValue>> {
    let mut out = Vec::with_capacity(share.by_year.len());
    for row in &share.by_year {
        let Some(s) = row.headline.share else { continue };
        let year = row.key.parse().map_err(|_| Error::Internal(format!("the headline's by-year key {:?} is not a year", row.key)))?;
        out.push(YearValue { year, value: s * 100.0, numerator: row.headline.numerator, denominator: row.headline.denominator });
    }
    out.sort_by_key(|y| y.year);
    Ok(out)
}

/// The wire batch of the derived observations (see the module documentation).
fn observations(indicator: &str, series: &str, area: &str, years: &[YearValue]) -> Result<RecordBatch> {
    let n = years.len();
    let text = |v: &str| Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n))) as ArrayRef;
    let columns: Vec<ArrayRef> = COLUMNS
        .iter()
        .map(|c| match c.name {
            "indicator" => text(indicator),
            "series" => text(series),
            "ref_area" => text(area),
            "time_period" => Arc::new(years.iter().map(|y| Some(y.year.to_string())).collect::<StringArray>()) as ArrayRef,
            "freq" => text("A"),
            "reporting_type" => text("N"),
            "obs_value" => Arc::new(years.iter().map(|y| Some(y.value)).collect::<Float64Array>()),
            "unit_measure" => text(sdgx_schemas::framework::HEADLINE_UNIT),
            "unit_mult" => Arc::new(Int32Array::from(vec![0; n])),
            "obs_status" => text("A"),
            "conf_status" => text("F"),
            "comment_obs" => Arc::new(
                years
                    .iter()
                    .map(|y| Some(format!("{} of {} indicators produced in {} have migration disaggregation", y.numerator, y.denominator, y.year)))
                    .collect::<StringArray>(),
            ),
            _ if c.role == Role::Breakdown => text(TOTAL),
            _ => arrow::array::new_null_array(&c.data_type.arrow(), n),
        })
        .collect();
    Ok(RecordBatch::try_new(observation::observation_schema(), columns)?)
}

/// Records the automatic approval of `entry` unless it is approved already.
async fn approve(catalog: &Catalog, store: &Arc<Store>, entry: &PublicationEntry, basis_version: i64) -> Result<Option<Decision>> {
    let status = crate::signoff::statuses(&store.publications().await, &store.decisions().await, store.version().await)
        .remove(&entry.publication_id)
        .unwrap_or(Status::Submitted);
    match status {
        Status::Submitted | Status::Unapproved { .. } => {}
        Status::Approved { .. } => return Ok(None),
        Status::Returned { .. } => {
            tracing::warn!(publication = %entry.publication_id, "the derived publication was returned before the coordinator approved it; it stays unofficial");
            return Ok(None);
        }
    }
    let request = Request {
        release_at: None,
        reason: Some(format!("automatic: the headline per reference year, derived from the official view at store version {basis_version}")),
    };
    let now = catalog.clock().now()?;
    Ok(Some(store.decide(&entry.publication_id, Action::Approve, SYSTEM, &request, now).await?))
}
