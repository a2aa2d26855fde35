//! Agency completeness and timeliness, in DHIS2's "reporting rate" sense.
//!
//! The reporting calendar (see [`crate::calendar`]) lists the reports owed: (agency, dataset,
//! period) with a due date. The **reference time** is when the store version read was
//! committed, so a figure recomputed `as_of` the same version is identical.
//!
//! - A report is **received** when some publication of that agency and dataset committed at or
//!   before the version read carried the period (a superseded publication still counts: the
//!   report arrived).
//! - It is **on time** when the first such publication was received by the end of the due day
//!   (UTC).
//! - It is **expected** when its due day has ended by the reference time, or it was received
//!   (an early report counts, on time).
//! - Per agency: completeness = received / expected, timeliness = on time / expected; null when
//!   nothing is expected (an agency of the registry or calendar with nothing due). Overall: the
//!   same over all reports.

use sdgx_schemas::api::{AgencyCalendar, CalendarItem};
use serde::{Deserialize, Serialize};

use super::{columns, floats, ints, query, strings, About, Compute, FigureKind, PublicationRef, ViewParams};
use crate::catalog::Session;
use crate::error::Result;

/// The title.
pub const TITLE: &str = "Agency completeness and timeliness";

/// The definition in words.
pub const DEFINITION: &str = "Agency completeness and timeliness (DHIS2 reporting rate): the reporting calendar lists the reports owed \
(agency, dataset, period, due date). Reference time: the commit time of the store version read. A report is received when some publication \
of that agency and dataset committed at or before that version carried the period; on time when the first such publication was received by \
the end of the due day (UTC); expected when its due day ended by the reference time, or it was received. Completeness = received / expected, \
timeliness = on time / expected, per agency and overall; null when nothing is expected.";

/// The views of this module.
pub(super) fn views(p: &ViewParams) -> Vec<(&'static str, String)> {
    let reference = p.reference_time.format("%Y-%m-%dT%H:%M:%S%.3f");
    let ratios = "CAST(received AS DOUBLE) / NULLIF(expected, 0) AS completeness, CAST(on_time AS DOUBLE) / NULLIF(expected, 0) AS timeliness";
    vec![
        (
            "reporting_calendar_status",
            format!(
                "SELECT agency, dataset, period, period_end, due, first_received, received, on_time
                 FROM calendar_receipts WHERE deadline <= TIMESTAMP '{reference}' OR received"
            ),
        ),
        (
            "agency_completeness",
            format!(
                "SELECT key, expected, received, on_time, {ratios}
                 FROM (SELECT a.agency AS key, COALESCE(s.expected, 0) AS expected, COALESCE(s.received, 0) AS received,
                              COALESCE(s.on_time, 0) AS on_time
                       FROM (SELECT agency FROM agencies UNION SELECT agency FROM reporting_calendar) a
                       LEFT JOIN (SELECT agency, COUNT(*) AS expected,
                                         SUM(CASE WHEN received THEN 1 ELSE 0 END) AS received,
                                         SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS on_time
                                  FROM reporting_calendar_status GROUP BY agency) s ON s.agency = a.agency) t"
            ),
        ),
        (
            "reporting_completeness",
            format!(
                "SELECT 'national' AS key, expected, received, on_time, {ratios}
                 FROM (SELECT COUNT(*) AS expected, COALESCE(SUM(CASE WHEN received THEN 1 ELSE 0 END), 0) AS received,
                              COALESCE(SUM(CASE WHEN on_time THEN 1 ELSE 0 END), 0) AS on_time
                       FROM reporting_calendar_status) t"
            ),
        ),
    ]
}

/// Completeness and timeliness of one agency, or overall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CompletenessRow {
    /// Agency id, or `national`.
    pub key: String,
    /// Reports expected.
    pub expected: i64,
    /// Reports received.
    pub received: i64,
    /// Reports received on time.
    pub on_time: i64,
    /// received / expected.
    pub completeness: Option<f64>,
    /// on time / expected.
    pub timeliness: Option<f64>,
}

/// One report owed and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportStatus {
    /// Agency.
    pub agency: String,
    /// Dataset.
    pub dataset: String,
    /// Period.
    pub period: String,
    /// Due date.
    pub due: String,
    /// When the first publication carrying it was received, if any.
    pub first_received: Option<String>,
    /// Received at all.
    pub received: bool,
    /// Received by the due date.
    pub on_time: bool,
}

/// The figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Completeness {
    /// Which figure, from which store state and framework.
    #[serde(flatten)]
    pub about: About,
    /// The reference time (commit time of the store version read), RFC 3339.
    pub reference_time: String,
    /// Overall.
    pub national: CompletenessRow,
    /// Per agency.
    pub by_agency: Vec<CompletenessRow>,
    /// Every report expected.
    pub reports: Vec<ReportStatus>,
    /// Publications in the store state read.
    pub publications: Vec<PublicationRef>,
}

fn rows(b: &[arrow::array::RecordBatch]) -> Result<Vec<CompletenessRow>> {
    let keys = strings(b, "key")?;
    let [e, r, o] = columns(b, ["expected", "received", "on_time"], ints)?;
    let (c, t) = (floats(b, "completeness")?, floats(b, "timeliness")?);
    Ok((0..keys.len())
        .map(|i| CompletenessRow { key: keys[i].clone(), expected: e[i], received: r[i], on_time: o[i], completeness: c[i], timeliness: t[i] })
        .collect())
}

impl Compute for Completeness {
    const KIND: FigureKind = FigureKind::AgencyCompleteness;

    async fn compute(s: &Session, about: About) -> Result<Completeness> {
        completeness(s, about).await
    }
}

/// Computes completeness and timeliness in `s`, at the reference time of its store version.
async fn completeness(s: &Session, about: About) -> Result<Completeness> {
    let reference_time = s.committed_at;
    let ctx = &s.ctx;
    let national = rows(&query(ctx, "SELECT * FROM reporting_completeness").await?)?.into_iter().next().unwrap_or(CompletenessRow {
        key: "national".into(),
        expected: 0,
        received: 0,
        on_time: 0,
        completeness: None,
        timeliness: None,
    });
    let by_agency = rows(&query(ctx, "SELECT * FROM agency_completeness ORDER BY key").await?)?;
    let b = query(
        ctx,
        "SELECT agency, dataset, period, CAST(due AS VARCHAR) AS due, CAST(first_received AS VARCHAR) AS first_received,
                CAST(received AS INT) AS received, CAST(on_time AS INT) AS on_time
         FROM reporting_calendar_status ORDER BY agency, dataset, period",
    )
    .await?;
    let [ag, ds, pe, du] = columns(&b, ["agency", "dataset", "period", "due"], strings)?;
    let first = strings(&b, "first_received")?;
    let (rec, ont) = (ints(&b, "received")?, ints(&b, "on_time")?);
    let reports = (0..ag.len())
        .map(|i| ReportStatus {
            agency: ag[i].clone(),
            dataset: ds[i].clone(),
            period: pe[i].clone(),
            due: du[i].clone(),
            first_received: Some(first[i].clone()).filter(|f| !f.is_empty()),
            received: rec[i] == 1,
            on_time: ont[i] == 1,
        })
        .collect();
    Ok(Completeness {
        about,
        reference_time: reference_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        national,
        by_agency,
        reports,
        publications: super::publication_refs(s),
    })
}

/// The calendar of `agency` at `now`, over the current store.
pub async fn agency_calendar(catalog: &crate::catalog::Catalog, agency: &str, now: chrono::DateTime<chrono::Utc>) -> Result<AgencyCalendar> {
    let s = catalog.tables(&catalog.pin(&crate::catalog::Read::current(crate::signoff::View::Provisional)).await?).await?;
    let now_sql = now.format("%Y-%m-%dT%H:%M:%S%.3f");
    let b = query(
        &s.ctx,
        &format!(
            "SELECT dataset, period, CAST(due AS VARCHAR) AS due, CAST(first_received AS VARCHAR) AS first_received,
                    CASE WHEN on_time THEN 'received_on_time' WHEN received THEN 'received_late'
                         WHEN deadline <= TIMESTAMP '{now_sql}' THEN 'overdue' ELSE 'upcoming' END AS status
             FROM calendar_receipts WHERE agency = {}
             ORDER BY dataset, period",
            super::literal(agency)
        ),
    )
    .await?;
    let [ds, pe, du, fr, st] = columns(&b, ["dataset", "period", "due", "first_received", "status"], strings)?;
    let reports = (0..ds.len())
        .map(|i| CalendarItem {
            dataset: ds[i].clone(),
            period: pe[i].clone(),
            due: du[i].clone(),
            first_received: Some(fr[i].clone()).filter(|f| !f.is_empty()),
            status: st[i].clone(),
        })
        .collect();
    Ok(AgencyCalendar {
        agency: agency.to_owned(),
        now: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        store_version: s.store_version,
        reports,
    })
}
