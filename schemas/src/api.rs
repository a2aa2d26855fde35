//! Messages of the coordinator's HTTP API that agents read too: one definition for both sides.

use serde::{Deserialize, Serialize};

/// One report on an agency's reporting calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarItem {
    /// Dataset.
    pub dataset: String,
    /// Period.
    pub period: String,
    /// Due date (the last day on time), `YYYY-MM-DD`.
    pub due: String,
    /// When the first publication carrying the period was received, if any.
    pub first_received: Option<String>,
    /// `received_on_time`, `received_late`, `overdue` (due date passed, nothing received) or
    /// `upcoming` (not due yet).
    pub status: String,
}

/// An agency's reporting calendar with what it has sent (`GET /api/v1/calendar/{agency}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgencyCalendar {
    /// The agency.
    pub agency: String,
    /// The time the statuses are computed at (RFC 3339).
    pub now: String,
    /// The store version read.
    pub store_version: i64,
    /// Every report the calendar lists for the agency, by dataset and period.
    pub reports: Vec<CalendarItem>,
}

/// A count over a count, as a figure states it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Numerator.
    pub numerator: i64,
    /// Denominator.
    pub denominator: i64,
    /// numerator / denominator, or null for 0/0.
    pub share: Option<f64>,
}

/// What approving a publication would change in the official figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactSummary {
    /// The official store version the impact is computed against.
    pub store_version: i64,
    /// The headline (indicators produced with migration disaggregation) now.
    pub headline_now: Part,
    /// The headline if the publication were approved.
    pub headline_if_approved: Part,
    /// Reporting status now.
    pub reporting_now: Part,
    /// Reporting status if approved.
    pub reporting_if_approved: Part,
    /// Indicators produced only if approved.
    pub newly_produced: Vec<String>,
    /// Indicators produced now and not if approved.
    pub no_longer_produced: Vec<String>,
    /// Indicators disaggregated by migratory status only if approved.
    pub newly_migration_disaggregated: Vec<String>,
    /// Indicators disaggregated by migratory status now and not if approved.
    pub no_longer_migration_disaggregated: Vec<String>,
}

impl ImpactSummary {
    /// The indicators whose standing would change, each list with its label (`Newly
    /// produced`, `No longer produced`, `Newly disaggregated by migratory status`, `No longer
    /// disaggregated by migratory status`), empty lists included.
    pub fn changes(&self) -> [(&'static str, &[String]); 4] {
        [
            ("Newly produced", &self.newly_produced),
            ("No longer produced", &self.no_longer_produced),
            ("Newly disaggregated by migratory status", &self.newly_migration_disaggregated),
            ("No longer disaggregated by migratory status", &self.no_longer_migration_disaggregated),
        ]
    }
}

/// The coordinator's answer to a dry run: everything a publication goes through short of its
/// commit (identity, registry, contract validation, quality rules, duplicate check, figure
/// impact); nothing was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunReport {
    /// Always `dry_run`.
    pub sdgx: String,
    /// The import summary (rows, periods, indicators, content hash, warnings).
    pub summary: crate::ImportSummary,
    /// True when the same content under the same manifest is already the dataset's latest
    /// publication: publishing it would create no new version.
    pub duplicate: bool,
    /// What approving it would change in the official figures (none for a duplicate).
    pub impact: Option<ImpactSummary>,
}

impl DryRunReport {
    /// Encodes as `PutResult.app_metadata`.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialisable")
    }

    /// Decodes from `PutResult.app_metadata`; `None` when it is not a dry-run report.
    pub fn decode(bytes: &[u8]) -> Option<DryRunReport> {
        serde_json::from_slice::<DryRunReport>(bytes).ok().filter(|r| r.sdgx == "dry_run")
    }
}
