//! Messages of the coordinator's HTTP API that agents read too: one definition for both sides.

use serde::{Deserialize, Serialize};

/// One report on an agency's reporting calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
