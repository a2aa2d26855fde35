//! SDMX time periods: `2023`, `2023-S1`, `2023-Q1`, `2023-01`, `2023-W05`, `2023-01-31`.

use std::fmt;

/// The period kind a `time_period` value has, which must agree with `freq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// `YYYY`, freq `A`.
    Annual,
    /// `YYYY-S1`..`YYYY-S2`, freq `S`.
    HalfYear,
    /// `YYYY-Q1`..`YYYY-Q4`, freq `Q`.
    Quarter,
    /// `YYYY-MM`, freq `M`.
    Month,
    /// `YYYY-Wnn` (ISO week 01..53), freq `W`.
    Week,
    /// `YYYY-MM-DD`, freq `D` (or `B`, business days).
    Day,
}

impl PeriodKind {
    /// The `freq` codes this kind agrees with.
    pub fn freqs(self) -> &'static [&'static str] {
        match self {
            PeriodKind::Annual => &["A"],
            PeriodKind::HalfYear => &["S"],
            PeriodKind::Quarter => &["Q"],
            PeriodKind::Month => &["M"],
            PeriodKind::Week => &["W"],
            PeriodKind::Day => &["D", "B"],
        }
    }

    /// The format expected for a frequency code, for messages.
    pub fn format_for_freq(freq: &str) -> &'static str {
        match freq {
            "A" => "YYYY",
            "S" => "YYYY-S1 or YYYY-S2",
            "Q" => "YYYY-Q1 .. YYYY-Q4",
            "M" => "YYYY-MM",
            "W" => "YYYY-W01 .. YYYY-W53",
            "D" | "B" => "YYYY-MM-DD",
            _ => "an SDMX time period",
        }
    }
}

/// A parsed time period with the calendar days it covers (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePeriod {
    /// The period kind.
    pub kind: PeriodKind,
    /// The year the period starts in (the reference year used by figures' windows).
    pub year: i32,
    /// First day, as `YYYYMMDD`.
    pub first_day: u32,
    /// Last day, as `YYYYMMDD`.
    pub last_day: u32,
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    }
}

fn ymd(y: u32, m: u32, d: u32) -> u32 {
    y * 10_000 + m * 100 + d
}

impl TimePeriod {
    /// Parses an SDMX time period; `None` when malformed.
    pub fn parse(s: &str) -> Option<TimePeriod> {
        let b = s.as_bytes();
        if b.len() < 4 {
            return None;
        }
        let year = digits(s.get(..4)?)?;
        if year < 1000 {
            return None;
        }
        let months = |m1: u32, m2: u32, kind| TimePeriod {
            kind,
            year: year as i32,
            first_day: ymd(year, m1, 1),
            last_day: ymd(year, m2, days_in_month(year, m2)),
        };
        if b.len() == 4 {
            return Some(months(1, 12, PeriodKind::Annual));
        }
        if b[4] != b'-' {
            return None;
        }
        let rest = s.get(5..)?;
        match rest.as_bytes() {
            [b'S', n] => match n {
                b'1' => Some(months(1, 6, PeriodKind::HalfYear)),
                b'2' => Some(months(7, 12, PeriodKind::HalfYear)),
                _ => None,
            },
            [b'Q', n @ b'1'..=b'4'] => {
                let q = u32::from(n - b'0');
                Some(months(3 * q - 2, 3 * q, PeriodKind::Quarter))
            }
            [b'W', ..] => {
                let w = digits(rest.get(1..)?).filter(|_| rest.len() == 3)?;
                if !(1..=53).contains(&w) {
                    return None;
                }
                // Weeks are placed in their year; exact ISO day bounds are not needed for
                // containment checks at year granularity, so the whole year is used.
                Some(TimePeriod { kind: PeriodKind::Week, ..months(1, 12, PeriodKind::Week) })
            }
            [_, _] => {
                let m = digits(rest)?;
                (1..=12).contains(&m).then(|| months(m, m, PeriodKind::Month))
            }
            [_, _, b'-', _, _] => {
                let m = digits(rest.get(..2)?)?;
                let d = digits(rest.get(3..)?)?;
                if !(1..=12).contains(&m) || d == 0 || d > days_in_month(year, m) {
                    return None;
                }
                let day = ymd(year, m, d);
                Some(TimePeriod { kind: PeriodKind::Day, year: year as i32, first_day: day, last_day: day })
            }
            _ => None,
        }
    }

    /// Whether this period lies wholly within `[from.first_day, to.last_day]`.
    pub fn within(&self, from: &TimePeriod, to: &TimePeriod) -> bool {
        self.first_day >= from.first_day && self.last_day <= to.last_day
    }
}

/// Displays with its article, for messages: "an annual", "a quarter".
impl fmt::Display for PeriodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            PeriodKind::Annual => "an annual",
            PeriodKind::HalfYear => "a half-year",
            PeriodKind::Quarter => "a quarter",
            PeriodKind::Month => "a month",
            PeriodKind::Week => "a week",
            PeriodKind::Day => "a day",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let p = |s| TimePeriod::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(p("2023").kind, PeriodKind::Annual);
        assert_eq!((p("2023").first_day, p("2023").last_day), (20230101, 20231231));
        assert_eq!((p("2023-S2").first_day, p("2023-S2").last_day), (20230701, 20231231));
        assert_eq!((p("2023-Q1").first_day, p("2023-Q1").last_day), (20230101, 20230331));
        assert_eq!((p("2024-02").first_day, p("2024-02").last_day), (20240201, 20240229));
        assert_eq!(p("2023-02").last_day, 20230228);
        assert_eq!(p("2023-W05").kind, PeriodKind::Week);
        assert_eq!(p("2023-12-31").first_day, 20231231);
        assert_eq!(p("2021-Q3").year, 2021);
    }

    #[test]
    fn rejects_malformed() {
        for s in ["", "23", "2023-", "2023-Q5", "2023-Q0", "2023-S3", "2023-13", "2023-00",
                  "2023-02-30", "2023-W54", "2023-W5", "2023/01", "0999", "2023-1", " 2023",
                  "2023-01-01T00", "abcd", "2023-Qx", "202é", "2023-é", "2023-0é", "2023-01-é", "2023-Wé"] {
            assert!(TimePeriod::parse(s).is_none(), "{s:?} should be malformed");
        }
    }

    #[test]
    fn containment() {
        let a = TimePeriod::parse("2019").unwrap();
        let b = TimePeriod::parse("2023").unwrap();
        assert!(TimePeriod::parse("2021-Q2").unwrap().within(&a, &b));
        assert!(TimePeriod::parse("2023-12-31").unwrap().within(&a, &b));
        assert!(!TimePeriod::parse("2024-01").unwrap().within(&a, &b));
        assert!(!TimePeriod::parse("2018").unwrap().within(&a, &b));
    }
}
