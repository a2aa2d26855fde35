//! The reporting calendar: which datasets each agency owes, for which periods, and by when.
//!
//! ```toml
//! [[calendar]]
//! agency = "armstat"
//! dataset = "lcs-returned-migrants"
//! frequency = "A"        # A (annual), S (half-year), Q (quarter) or M (month)
//! from = "2021"          # first period owed, in the frequency's format
//! to = "2024"            # last period owed
//! due_days = 180         # a report is on time if received within this many days after the period ends
//! ```
//!
//! Each entry expands to one row per period of [`Due`]: the period, its last day, and its due
//! date (last day + `due_days`). The figure views (see [`crate::figures`]) compare these with
//! the periods each publication carried.

use chrono::{Days, NaiveDate};
use sdgx_schemas::time::{PeriodKind, TimePeriod};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One dataset an agency owes, over a run of periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarEntry {
    /// The agency that owes the dataset.
    pub agency: String,
    /// The dataset owed.
    pub dataset: String,
    /// `A`, `S`, `Q` or `M`.
    pub frequency: String,
    /// First period owed.
    pub from: String,
    /// Last period owed.
    pub to: String,
    /// Days after the period's last day within which a report is on time.
    pub due_days: u32,
}

/// One report owed: a period of a dataset and its due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    /// The agency.
    pub agency: String,
    /// The dataset.
    pub dataset: String,
    /// The period, as in `time_period`.
    pub period: String,
    /// The period's last day.
    pub period_end: NaiveDate,
    /// The last day a report is on time.
    pub due: NaiveDate,
}

fn date(yyyymmdd: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt((yyyymmdd / 10_000) as i32, yyyymmdd / 100 % 100, yyyymmdd % 100)
}

/// The period after `p` of the same kind, as text.
fn next(p: &TimePeriod) -> String {
    let (y, m) = (p.last_day / 10_000, p.last_day / 100 % 100);
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    match p.kind {
        PeriodKind::Annual => format!("{y}"),
        PeriodKind::HalfYear => format!("{y}-S{}", if m <= 6 { 1 } else { 2 }),
        PeriodKind::Quarter => format!("{y}-Q{}", (m - 1) / 3 + 1),
        _ => format!("{y}-{m:02}"),
    }
}

impl CalendarEntry {
    /// The reports this entry owes, one per period from `from` to `to`.
    pub fn expand(&self) -> Result<Vec<Due>> {
        let bad = |why: String| Error::Config(format!("calendar entry {}/{}: {why}", self.agency, self.dataset));
        let kind = match self.frequency.as_str() {
            "A" => PeriodKind::Annual,
            "S" => PeriodKind::HalfYear,
            "Q" => PeriodKind::Quarter,
            "M" => PeriodKind::Month,
            f => return Err(bad(format!("frequency {f:?} is not one of A, S, Q, M"))),
        };
        let parse = |s: &str| {
            TimePeriod::parse(s)
                .filter(|p| p.kind == kind)
                .ok_or_else(|| bad(format!("{s:?} is not a period of frequency {} ({})", self.frequency, PeriodKind::format_for_freq(&self.frequency))))
        };
        let (from, to) = (parse(&self.from)?, parse(&self.to)?);
        if from.first_day > to.first_day {
            return Err(bad(format!("from {} is after to {}", self.from, self.to)));
        }
        let mut out = Vec::new();
        let mut text = self.from.clone();
        let mut p = from;
        loop {
            let period_end = date(p.last_day).ok_or_else(|| bad(format!("bad period {text}")))?;
            let due = period_end.checked_add_days(Days::new(u64::from(self.due_days))).ok_or_else(|| bad("due date out of range".into()))?;
            out.push(Due { agency: self.agency.clone(), dataset: self.dataset.clone(), period: text.clone(), period_end, due });
            if p.first_day == to.first_day {
                return Ok(out);
            }
            text = next(&p);
            p = TimePeriod::parse(&text).ok_or_else(|| bad(format!("bad period {text}")))?;
        }
    }
}

/// Every report owed under `calendar`.
pub fn expand(calendar: &[CalendarEntry]) -> Result<Vec<Due>> {
    let mut out = Vec::new();
    for e in calendar {
        out.extend(e.expand()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(frequency: &str, from: &str, to: &str, due_days: u32) -> CalendarEntry {
        CalendarEntry { agency: "a".into(), dataset: "d".into(), frequency: frequency.into(), from: from.into(), to: to.into(), due_days }
    }

    #[test]
    fn periods_expand_with_their_due_dates() {
        let q = entry("Q", "2023-Q3", "2024-Q2", 45).expand().unwrap();
        let periods: Vec<&str> = q.iter().map(|d| d.period.as_str()).collect();
        assert_eq!(periods, ["2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2"]);
        // 2024-Q1 ends on 31 March; 45 days later is 15 May.
        assert_eq!(q[2].period_end, NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
        assert_eq!(q[2].due, NaiveDate::from_ymd_opt(2024, 5, 15).unwrap());
        let m = entry("M", "2023-11", "2024-02", 0).expand().unwrap();
        assert_eq!(m.iter().map(|d| d.period.as_str()).collect::<Vec<_>>(), ["2023-11", "2023-12", "2024-01", "2024-02"]);
        assert_eq!(m[3].due, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), "leap year");
        let a = entry("A", "2021", "2023", 90).expand().unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].due, NaiveDate::from_ymd_opt(2022, 3, 31).unwrap());
        assert_eq!(entry("S", "2022-S2", "2023-S1", 10).expand().unwrap().len(), 2);
    }

    #[test]
    fn bad_entries_are_named() {
        let e = entry("Q", "2024", "2024-Q2", 1).expand().unwrap_err().to_string();
        assert!(e.contains("a/d") && e.contains("\"2024\""), "{e}");
        assert!(entry("W", "2024", "2024", 1).expand().unwrap_err().to_string().contains("frequency"));
        assert!(entry("A", "2025", "2024", 1).expand().unwrap_err().to_string().contains("after"));
    }
}
