//! The review queue: each publication awaiting the statistical office's decision, with what
//! approving it would change, so an approver decides on evidence (see [`crate::signoff`]).
//!
//! For a publication of (agency, dataset), against the dataset's official version now:
//! - the **rows** added, removed and changed (an observation is identified by its identity
//!   and breakdown columns; it changed when any measure or attribute differs), with examples;
//! - the **figure impact**: the headline, reporting status and disaggregation status of the
//!   official view as it is, and as it would be with this publication in place of the
//!   dataset's official version;
//! - its **quality warnings**: the quality rules of the framework in force run over its rows
//!   with the official version's rows as history (so the year-over-year and historical-range
//!   rules see the series' past), with the receipt's other warnings.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use futures::TryStreamExt;
use serde::Serialize;

use sdgx_schemas::observation::{Role as ColumnRole, COLUMNS};
use sdgx_schemas::Problem;

use crate::catalog::{Catalog, Pinned, Read};
use crate::error::{Error, Result};
use crate::figures::{self, disaggregation::DisaggregationStatus, MigrationShare, ReportingStatus, Window};
use crate::signoff::{Status, View};
use crate::store::PublicationEntry;

/// Examples of changed rows shown per publication.
const EXAMPLES: usize = 20;

/// One publication of the queue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewItem)]
pub struct Item {
    /// The publication.
    pub publication_id: String,
    /// Its agency.
    pub agency: String,
    /// Its dataset.
    pub dataset: String,
    /// The dataset's title.
    pub title: String,
    /// Rows.
    pub rows: u64,
    /// When it was received.
    pub received_at: String,
    /// The store version of its commit.
    pub store_version: i64,
    /// Where it stands.
    pub status: Status,
    /// Quality warnings found on receipt.
    pub warnings: usize,
    /// The dataset's official publication now, if any.
    pub official: Option<String>,
}

/// The queue: publications awaiting a decision, and those approved but not yet released.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewQueue)]
pub struct Queue {
    /// The store version read.
    pub store_version: i64,
    /// The moment read (embargoes are compared with it).
    pub at: String,
    /// Submitted publications, oldest first.
    pub submitted: Vec<Item>,
    /// Approved publications whose release time has not come, oldest first.
    pub embargoed: Vec<Item>,
}

/// The rows a publication changes against the dataset's official version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowDiff {
    /// Observations only in the publication.
    pub added: u64,
    /// Observations only in the official version.
    pub removed: u64,
    /// Observations in both, with a measure or attribute changed.
    pub changed: u64,
    /// Observations in both, identical.
    pub unchanged: u64,
    /// The first few changes, ordered by kind and key.
    pub examples: Vec<RowChange>,
}

/// One changed observation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RowChange {
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// The observation's identity and breakdowns, `column=value` joined with `, ` (totals
    /// left out).
    pub key: String,
    /// The official value.
    pub before: Option<f64>,
    /// The publication's value.
    pub after: Option<f64>,
}

// `Eq` for the diff: values compare as numbers, never NaN (the contract refuses NaN).
impl Eq for RowChange {}

/// The headline figures of one state of the official view.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewFigures)]
pub struct Figures {
    /// The headline (migration-disaggregation share).
    #[schema(value_type = MigrationShare)]
    pub headline: Arc<MigrationShare>,
    /// Reporting status.
    #[schema(value_type = ReportingStatus)]
    pub reporting: Arc<ReportingStatus>,
    /// Disaggregation status.
    #[schema(value_type = DisaggregationStatus)]
    pub disaggregation: Arc<DisaggregationStatus>,
}

/// A publication's figure impact: the official figures now, and if it were approved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewImpact)]
pub struct Impact {
    /// The official view now.
    pub now: Figures,
    /// The official view with the publication in place of its dataset's official version.
    pub if_approved: Figures,
    /// Indicators produced only if it is approved.
    pub newly_produced: Vec<String>,
    /// Indicators produced now and not if it is approved.
    pub no_longer_produced: Vec<String>,
    /// Indicators disaggregated by migratory status only if it is approved.
    pub newly_migration_disaggregated: Vec<String>,
    /// Indicators disaggregated by migratory status now and not if it is approved.
    pub no_longer_migration_disaggregated: Vec<String>,
}

/// One publication under review: the queue's item, its diff, impact and warnings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewDetail)]
pub struct Detail {
    /// The item.
    #[serde(flatten)]
    pub item: Item,
    /// The rows against the dataset's official version.
    pub rows_diff: RowDiff,
    /// The figure impact.
    pub impact: Impact,
    /// Quality warnings (agency, dataset, row, column and value in each), by row.
    #[schema(value_type = Vec<Object>)]
    pub quality_warnings: Vec<Problem>,
    /// Every decision on it so far.
    pub decisions: Vec<crate::signoff::Decision>,
}

/// The queue at the current version and now.
pub async fn queue(catalog: &Catalog) -> Result<Queue> {
    let pinned = catalog.pin(&Read::current(View::Official)).await?;
    let log = catalog.store().publications().await;
    let statuses = crate::signoff::statuses(&log, &catalog.store().decisions().await, pinned.version);
    let mut queue = Queue {
        store_version: pinned.version,
        at: pinned.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        submitted: vec![],
        embargoed: vec![],
    };
    for e in &log {
        let status = statuses.get(&e.publication_id).cloned().unwrap_or(Status::Submitted);
        let item = item(e, status.clone(), &pinned);
        match status {
            Status::Submitted => queue.submitted.push(item),
            Status::Approved { release_at, .. } if release_at > pinned.at => queue.embargoed.push(item),
            _ => {}
        }
    }
    Ok(queue)
}

fn item(e: &PublicationEntry, status: Status, official: &Pinned) -> Item {
    Item {
        publication_id: e.publication_id.clone(),
        agency: e.agency.clone(),
        dataset: e.dataset.clone(),
        title: e.title.clone(),
        rows: e.rows,
        received_at: e.received_at.clone(),
        store_version: e.store_version,
        status,
        warnings: e.summary.warnings.len(),
        official: official.publications.iter().find(|o| o.agency == e.agency && o.dataset == e.dataset).map(|o| o.publication_id.clone()),
    }
}

/// The review of publication `publication_id` at the current version and now.
pub async fn detail(catalog: &Catalog, publication_id: &str) -> Result<Detail> {
    let log = catalog.store().publications().await;
    let e = log
        .iter()
        .find(|e| e.publication_id == publication_id)
        .ok_or_else(|| Error::NotFound(format!("no publication {publication_id:?} in the log")))?;
    let now = catalog.pin(&Read::current(View::Official)).await?;
    let decisions: Vec<_> = catalog.store().decisions().await.into_iter().filter(|d| d.publication_id == publication_id).collect();
    let status = crate::signoff::statuses(&log, &decisions, now.version).remove(publication_id).unwrap_or(Status::Submitted);
    let official = now.publications.iter().find(|o| o.agency == e.agency && o.dataset == e.dataset).cloned();
    Ok(Detail {
        item: item(e, status, &now),
        rows_diff: diff(catalog, official.as_ref(), e).await?,
        impact: impact(catalog, &now, e).await?,
        quality_warnings: quality(catalog, official.as_ref(), e).await?,
        decisions,
    })
}

/// The figure impact on the official view now of a dry run's publication (see
/// [`crate::ingest::dry_run`]), whose facts are held only while it is measured.
pub async fn trial_impact(
    catalog: &Catalog,
    manifest: &sdgx_schemas::Manifest,
    summary: &sdgx_schemas::ImportSummary,
    trial: &crate::store::Trial,
) -> Result<sdgx_schemas::api::ImpactSummary> {
    let now = catalog.pin(&Read::current(View::Official)).await?;
    let entry = PublicationEntry {
        publication_id: trial.publication_id.clone(),
        agency: manifest.agency.clone(),
        dataset: manifest.dataset.clone(),
        title: manifest.title.clone(),
        content_hash: summary.content_hash.clone(),
        rows: summary.rows,
        received_at: now.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        // After every commit so far.
        store_version: now.version + 1,
        previous_entry_hash: String::new(),
        actions_hash: None,
        facts: None,
        agency_signature: None,
        entry_hash: String::new(),
        coordinator_signature: None,
        manifest: manifest.clone(),
        summary: summary.clone(),
    };
    let store = catalog.store();
    store.hold_facts(&entry.publication_id, trial.facts.clone());
    let impact = impact(catalog, &now, &entry).await;
    store.release_facts(&entry.publication_id);
    let i = impact?;
    let headline = |f: &Figures| sdgx_schemas::api::Part { numerator: f.headline.numerator, denominator: f.headline.denominator, share: f.headline.share };
    let reporting = |f: &Figures| sdgx_schemas::api::Part { numerator: f.reporting.numerator, denominator: f.reporting.denominator, share: f.reporting.share };
    Ok(sdgx_schemas::api::ImpactSummary {
        store_version: now.version,
        headline_now: headline(&i.now),
        headline_if_approved: headline(&i.if_approved),
        reporting_now: reporting(&i.now),
        reporting_if_approved: reporting(&i.if_approved),
        newly_produced: i.newly_produced,
        no_longer_produced: i.no_longer_produced,
        newly_migration_disaggregated: i.newly_migration_disaggregated,
        no_longer_migration_disaggregated: i.no_longer_migration_disaggregated,
    })
}

/// The figure impact of `e` on the official view `now`.
pub async fn impact(catalog: &Catalog, now: &Pinned, e: &PublicationEntry) -> Result<Impact> {
    let mut publications: Vec<PublicationEntry> =
        now.publications.iter().filter(|o| !(o.agency == e.agency && o.dataset == e.dataset)).cloned().collect();
    publications.push(e.clone());
    publications.sort_by_key(|p| p.store_version);
    let approved = Pinned { publications: Arc::new(publications), ..now.clone() };
    let before = figures_of(catalog, now).await?;
    let after = figures_of(catalog, &approved).await?;
    let minus = |a: &[String], b: &[String]| a.iter().filter(|x| !b.contains(x)).cloned().collect::<Vec<_>>();
    Ok(Impact {
        newly_produced: minus(&after.headline.produced, &before.headline.produced),
        no_longer_produced: minus(&before.headline.produced, &after.headline.produced),
        newly_migration_disaggregated: minus(&after.headline.migration_disaggregated, &before.headline.migration_disaggregated),
        no_longer_migration_disaggregated: minus(&before.headline.migration_disaggregated, &after.headline.migration_disaggregated),
        now: before,
        if_approved: after,
    })
}

async fn figures_of(catalog: &Catalog, p: &Pinned) -> Result<Figures> {
    let w = Window::default();
    Ok(Figures {
        headline: figures::get_pinned(catalog, w, p).await?,
        reporting: figures::get_pinned(catalog, w, p).await?,
        disaggregation: figures::get_pinned(catalog, w, p).await?,
    })
}

/// The warnings of `new`: the quality rules run over its rows with `official`'s as history,
/// and its receipt's warnings of other rules.
pub async fn quality(catalog: &Catalog, official: Option<&PublicationEntry>, new: &PublicationEntry) -> Result<Vec<Problem>> {
    let mut checker = sdgx_schemas::QualityChecker::new(catalog.contract().framework.quality(), &new.agency, &new.dataset);
    // One partition: the rows come back in the order they were received, so the row numbers
    // are the agency's.
    let ctx = datafusion::prelude::SessionContext::new_with_config(datafusion::prelude::SessionConfig::new().with_target_partitions(1));
    if let Some(o) = official {
        let mut rows = catalog.rows_of(&ctx, std::slice::from_ref(o)).await?.execute_stream().await?;
        while let Some(b) = rows.try_next().await? {
            checker.history(&b)?;
        }
    }
    let mut rows = catalog.rows_of(&ctx, std::slice::from_ref(new)).await?.execute_stream().await?;
    let mut first = 1;
    while let Some(b) = rows.try_next().await? {
        checker.push(&b, first)?;
        first += b.num_rows() as u64;
    }
    let mut warnings: Vec<Problem> =
        new.summary.warnings.iter().filter(|w| !sdgx_schemas::quality::RULES.contains(&w.rule)).cloned().collect();
    warnings.extend(checker.finish());
    warnings.sort_by_key(|w| w.row);
    Ok(warnings)
}

/// The rows `new` changes against `official` (none: every row is added).
pub async fn diff(catalog: &Catalog, official: Option<&PublicationEntry>, new: &PublicationEntry) -> Result<RowDiff> {
    let ctx = catalog.scratch()?;
    ctx.register_table("n", catalog.rows_of(&ctx, std::slice::from_ref(new)).await?.into_view())?;
    ctx.register_table("o", catalog.rows_of(&ctx, official.map(std::slice::from_ref).unwrap_or_default()).await?.into_view())?;
    let keys: Vec<&str> = COLUMNS.iter().filter(|c| matches!(c.role, ColumnRole::Identity | ColumnRole::Breakdown)).map(|c| c.name).collect();
    let values: Vec<&str> = COLUMNS.iter().filter(|c| matches!(c.role, ColumnRole::Measure | ColumnRole::Attribute)).map(|c| c.name).collect();
    // Each comparison parenthesised: `IS [NOT] DISTINCT FROM` binds more loosely than AND / OR
    // in the SQL parser.
    let on = keys.iter().map(|k| format!("(n.{k} IS NOT DISTINCT FROM o.{k})")).collect::<Vec<_>>().join(" AND ");
    let differs = values.iter().map(|v| format!("(n.{v} IS DISTINCT FROM o.{v})")).collect::<Vec<_>>().join(" OR ");
    let key_text = keys
        .iter()
        .map(|k| format!("CASE WHEN COALESCE(n.{k}, o.{k}) IS NULL OR COALESCE(n.{k}, o.{k}) IN ('_T', '_Z') THEN NULL ELSE '{k}=' || COALESCE(n.{k}, o.{k}) END"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH j AS (
           SELECT CASE WHEN o.present IS NULL THEN 'added' WHEN n.present IS NULL THEN 'removed'
                       WHEN {differs} THEN 'changed' ELSE 'unchanged' END AS kind,
                  concat_ws(', ', {key_text}) AS obs_key, o.obs_value AS old_value, n.obs_value AS new_value
           FROM (SELECT *, TRUE AS present FROM n) n FULL OUTER JOIN (SELECT *, TRUE AS present FROM o) o ON {on})
         SELECT kind, obs_key, old_value, new_value, count(*) OVER (PARTITION BY kind) AS total,
                row_number() OVER (PARTITION BY kind ORDER BY obs_key) AS position
         FROM j"
    );
    let df = ctx
        .sql(&format!("SELECT kind, obs_key, old_value, new_value, total FROM ({sql}) AS d WHERE position <= {EXAMPLES} ORDER BY kind, obs_key"))
        .await?;
    let mut out = RowDiff::default();
    let mut stream = df.execute_stream().await?;
    while let Some(b) = stream.try_next().await? {
        let (change, key) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
        let (before, after) = (b.column(2).as_primitive::<arrow::datatypes::Float64Type>(), b.column(3).as_primitive::<arrow::datatypes::Float64Type>());
        let n = b.column(4).as_primitive::<arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            let count = n.value(i) as u64;
            let kind = change.value(i);
            match kind {
                "added" => out.added = count,
                "removed" => out.removed = count,
                "changed" => out.changed = count,
                _ => {
                    out.unchanged = count;
                    continue;
                }
            }
            out.examples.push(RowChange {
                change: kind.to_owned(),
                key: key.value(i).to_owned(),
                before: before.is_valid(i).then(|| before.value(i)),
                after: after.is_valid(i).then(|| after.value(i)),
            });
        }
    }
    let order = |c: &str| ["changed", "added", "removed"].iter().position(|k| *k == c).unwrap_or(3);
    out.examples.sort_by(|a, b| (order(&a.change), &a.key).cmp(&(order(&b.change), &b.key)));
    Ok(out)
}
