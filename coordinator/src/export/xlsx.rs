//! The XLSX statistical annex, in the reader's language ([`Snapshot::tr`]), for people who read
//! and print it and for machines that read its cells.
//!
//! | sheet | paper | holds |
//! | --- | --- | --- |
//! | summary | A4 portrait | what was read (store version, view, dates), the headline with its two variants, reporting and disaggregation status by goal |
//! | definitions | A4 landscape | each figure's title, its plain-language definition and its technical definition |
//! | one per goal | A4 landscape | the goal's indicators (body text in 9 points, so that most goals print on one page): status, latest national value, unit, source, breakdowns, the migrant gap |
//! | areas | A4 landscape | the figures by area and across areas |
//! | publications | A4 landscape | the publications read |
//!
//! Texts come from `locales/<lang>/annex.ftl`; what a person reads is a label (unit, series,
//! breakdown, agency, status, indicator title), and the codes machines match on stay in columns
//! of their own ("Indicator code", "Unit code", …), those beyond the printed columns left out of
//! the print area. Numbers stay numeric cells with Excel number formats; dates are written for
//! people. Every sheet prints on A4, one page wide and as many down as it needs, with its
//! header rows repeated on every page and frozen on screen, an autofilter on its table, wrapped
//! long texts in columns sized for the page, and the store version and page numbers in the
//! page margins.

use std::collections::{BTreeMap, BTreeSet};

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use sdgx_schemas::observation::{is_breakdown, Role, COLUMNS};

use super::Snapshot;
use crate::error::{Error, Result};
use crate::figures::{FigureKind, Ratio};
use crate::i18n::{Arg, Labels, Tr};

type XResult<T = ()> = std::result::Result<T, XlsxError>;

fn x(e: XlsxError) -> Error {
    Error::Internal(format!("XLSX: {e}"))
}

/// The annex as an `.xlsx` file.
pub fn annex(s: &Snapshot) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let st = Styles::new();
    let l = s.labels();
    summary(wb.add_worksheet(), s, &l, &st).map_err(x)?;
    definitions(wb.add_worksheet(), s, &st).map_err(x)?;
    let goals: BTreeSet<u8> = s.contract.framework.indicators().iter().filter(|i| i.in_scope).map(|i| i.goal).collect();
    let latest = latest(s);
    for g in goals {
        goal_sheet(wb.add_worksheet(), s, &l, &st, g, &latest).map_err(x)?;
    }
    areas(wb.add_worksheet(), s, &l, &st).map_err(x)?;
    publications(wb.add_worksheet(), s, &l, &st).map_err(x)?;
    wb.save_to_buffer().map_err(x)
}

/// The cell formats.
struct Styles {
    title: Format,
    section: Format,
    header: Format,
    text: Format,
    wrap: Format,
    small: Format,
    shrink: Format,
    count: Format,
    pct: Format,
    year: Format,
    integer: Format,
    decimal: Format,
}

impl Styles {
    fn new() -> Styles {
        let top = Format::new().set_align(FormatAlign::Top);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            section: Format::new().set_bold().set_font_size(12),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(0xE7_EE_F7))
                .set_border_bottom(FormatBorder::Thin),
            text: top.clone(),
            wrap: top.clone().set_text_wrap(),
            small: top.clone().set_text_wrap().set_font_size(9),
            shrink: top.clone().set_shrink().set_font_size(8),
            count: top.clone().set_num_format("#,##0"),
            pct: top.clone().set_num_format("0.0%"),
            year: top.clone().set_num_format("0"),
            integer: top.clone().set_num_format("#,##0"),
            decimal: top.set_num_format("#,##0.0####"),
        }
    }

    /// The format of an observed value: grouped digits, decimals only when it has some.
    fn value(&self, v: f64) -> &Format {
        if v.fract() == 0.0 && v.abs() < 1e15 { &self.integer } else { &self.decimal }
    }
}

/// How a sheet prints: the paper's orientation, the header rows (repeated on every page and
/// frozen on screen), the printed part and the table that gets an autofilter.
struct Page {
    landscape: bool,
    /// First and last header row.
    header: (u32, u32),
    /// The last row and last column printed.
    last: (u32, u16),
    /// The table filtered: header row, last row, last column.
    filter: Option<(u32, u32, u16)>,
}

/// `&` is a code in page headers and footers: a literal one is written twice.
fn hf_escape(s: &str) -> String {
    s.replace('&', "&&")
}

/// Applies `page` to `ws`: A4, one page wide, print area, repeated and frozen header rows,
/// autofilter, and the title, sheet, store version and page numbers in the margins.
fn print_layout(ws: &mut Worksheet, s: &Snapshot, page: &Page) -> XResult {
    let tr = &s.tr;
    ws.set_paper_size(9);
    if page.landscape {
        ws.set_landscape();
    } else {
        ws.set_portrait();
    }
    ws.set_print_fit_to_pages(1, 0);
    ws.set_margins(0.5, 0.5, 0.7, 0.7, 0.3, 0.3);
    ws.set_print_area(0, 0, page.last.0.max(page.header.1), page.last.1)?;
    ws.set_repeat_rows(page.header.0, page.header.1)?;
    ws.set_freeze_panes(page.header.1 + 1, 0)?;
    if let Some((first, last, col)) = page.filter {
        ws.autofilter(first, 0, last.max(first), col)?;
    }
    ws.set_header(format!("&L&8{}&R&8&A", hf_escape(&tr.t("annex-title"))));
    // The page numbers go in as placeholders, so that the translation's own `&` are escaped.
    let pages = tr.ta("annex-page-of", &[("page", "\u{1}".into()), ("pages", "\u{2}".into())]);
    let pages = hf_escape(&pages).replace('\u{1}', "&P").replace('\u{2}', "&N");
    ws.set_footer(format!("&L&8{}&R&8{pages}", hf_escape(&version_line(s))));
    Ok(())
}

/// "Provisional view, store version 9" for the page footers.
fn version_line(s: &Snapshot) -> String {
    s.tr.ta("annex-footer", &[("view", s.tr.t(&format!("view-{}", s.view)).into()), ("version", s.store_version.to_string().into())])
}

/// A sheet name Excel accepts (31 characters, none of `[]:*?/\`).
fn sheet_name(name: &str) -> String {
    name.chars().map(|c| if "[]:*?/\\".contains(c) { ' ' } else { c }).take(31).collect::<String>().trim().to_owned()
}

/// Writes the header row `r` of a table.
fn headers(ws: &mut Worksheet, h: &mut Heights, st: &Styles, r: u32, heads: &[String]) -> XResult {
    for (c, head) in heads.iter().enumerate() {
        h.write(ws, r, c as u16, head, &st.header, 11.0)?;
    }
    Ok(())
}

/// Row heights for wrapped text. A row whose height the file leaves open is not grown to fit
/// its wrapped text when the file is printed without Excel laying it out (LibreOffice prints it
/// one line high, the lines overlapping), so the annex sets each row's height from the lines
/// its longest text wraps to in its column.
struct Heights {
    widths: Vec<f64>,
    rows: BTreeMap<u32, f64>,
}

impl Heights {
    fn new(widths: &[f64]) -> Heights {
        Heights { widths: widths.to_vec(), rows: BTreeMap::new() }
    }

    /// Writes `text` (wrapped by `format`, set at `points`) and records the height it needs.
    fn write(&mut self, ws: &mut Worksheet, r: u32, c: u16, text: impl AsRef<str>, format: &Format, points: f64) -> XResult {
        let text = text.as_ref();
        ws.write_string_with_format(r, c, text, format)?;
        self.fit(r, self.widths.get(c as usize).copied().unwrap_or(8.43), text, points);
        Ok(())
    }

    /// Records that row `r` holds `text`, wrapped in `width` characters at `points`.
    fn fit(&mut self, r: u32, width: f64, text: &str, points: f64) {
        let height = lines(text, width, points) as f64 * points * 1.2 + 3.0;
        let e = self.rows.entry(r).or_insert(0.0);
        *e = e.max(height);
    }

    /// Sets the heights recorded of the rows taller than one line.
    fn apply(&self, ws: &mut Worksheet) -> XResult {
        for (r, h) in &self.rows {
            if *h > 17.0 {
                ws.set_row_height(*r, *h)?;
            }
        }
        Ok(())
    }
}

/// The lines `text` wraps to, word by word, in a column `width` characters wide (the digit
/// widths of Calibri 11 a column's width counts in) at `points`: Calibri's letters (Latin and
/// Cyrillic) are narrower than its digits, so a line holds about 1.15 `width` characters at 11
/// points (measured in LibreOffice with Carlito, Calibri's metric twin).
fn lines(text: &str, width: f64, points: f64) -> usize {
    let cap = ((width * 1.15 * 11.0 / points).floor() as usize).max(1);
    text.split('\n')
        .map(|para| {
            let (mut n, mut used) = (1, 0usize);
            for word in para.split_whitespace() {
                let w = word.chars().count();
                if used > 0 && used + 1 + w > cap {
                    n += 1;
                    used = 0;
                }
                used += if used > 0 { 1 + w } else { w };
                while used > cap {
                    n += 1;
                    used -= cap;
                }
            }
            n
        })
        .sum()
}

/// Writes a share, or the "not available" word for 0/0.
fn share(ws: &mut Worksheet, st: &Styles, tr: &Tr, r: u32, c: u16, v: Option<f64>) -> XResult {
    match v {
        Some(v) => ws.write_number_with_format(r, c, v, &st.pct).map(drop),
        None => ws.write_string_with_format(r, c, tr.t("not-available"), &st.text).map(drop),
    }
}

/// Writes a ratio's numerator, denominator and share in columns `c`, `c + 1`, `c + 2`.
fn ratio(ws: &mut Worksheet, st: &Styles, tr: &Tr, r: u32, c: u16, ratio: &Ratio) -> XResult {
    ws.write_number_with_format(r, c, ratio.numerator as f64, &st.count)?;
    ws.write_number_with_format(r, c + 1, ratio.denominator as f64, &st.count)?;
    share(ws, st, tr, r, c + 2, ratio.share)
}

/// "Goal 1: No poverty".
fn goal_heading(l: &Labels<'_>, goal: u8) -> String {
    l.tr.ta("annex-goal-heading", &[("number", l.goal_number(goal).into()), ("title", l.goal(goal).text.into())])
}

fn summary(ws: &mut Worksheet, s: &Snapshot, l: &Labels<'_>, st: &Styles) -> XResult {
    let tr = &s.tr;
    ws.set_name(sheet_name(&tr.t("annex-sheet-summary")))?;
    let widths = [44.0, 11.0, 11.0, 11.0, 11.0, 11.0];
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    let mut h = Heights::new(&widths);
    ws.write_string_with_format(0, 0, tr.t("annex-title"), &st.title)?;
    ws.merge_range(1, 0, 1, 5, &tr.t("annex-subtitle"), &st.wrap)?;
    h.fit(1, widths.iter().sum(), &tr.t("annex-subtitle"), 11.0);
    // What was read.
    let mut r = 3;
    let facts: [(String, Option<f64>, String); 5] = [
        (tr.t("annex-store-version"), Some(s.store_version as f64), String::new()),
        (tr.t("annex-view"), None, tr.t(&format!("view-{}", s.view))),
        (tr.t("annex-committed"), None, tr.datetime_str(&s.committed_at)),
        (tr.t("annex-framework-version"), None, s.framework_version.clone()),
        (tr.t("annex-generated"), None, tr.datetime_str(&s.generated_at)),
    ];
    for (name, number, text) in facts {
        ws.write_string_with_format(r, 0, name, &st.text)?;
        match number {
            Some(n) => ws.write_number_with_format(r, 1, n, &st.year)?,
            None => ws.write_string_with_format(r, 1, text, &st.text)?,
        };
        r += 1;
    }
    // The headline, with its two variants beside it, so that no reader takes the share of
    // the indicators produced for national coverage.
    r += 1;
    ws.write_string_with_format(r, 0, tr.t("figure-migration-disaggregation-share-title"), &st.section)?;
    r += 1;
    headers(ws, &mut h, st, r, &[tr.t("annex-col-measured-against"), tr.t("annex-col-with-migration"), tr.t("annex-col-out-of"), tr.t("annex-col-share")])?;
    let headline = Ratio { numerator: s.share.numerator, denominator: s.share.denominator, share: s.share.share };
    for (name, v) in [
        (tr.t("annex-headline-produced"), &headline),
        (tr.t("figure-migration-disaggregation-share-variant-relevant"), &s.share.migration_relevant),
        (tr.t("figure-migration-disaggregation-share-variant-all"), &s.share.all_in_scope),
    ] {
        r += 1;
        h.write(ws, r, 0, name, &st.wrap, 11.0)?;
        ratio(ws, st, tr, r, 1, v)?;
    }
    // Reporting status by goal.
    r += 2;
    ws.write_string_with_format(r, 0, tr.t("figure-reporting-status-title"), &st.section)?;
    r += 1;
    headers(ws, &mut h, st, r, &[tr.t("annex-col-goal"), l.status("reported"), tr.t("annex-col-in-scope"), tr.t("annex-col-share")])?;
    for (goal, v) in &s.reporting.by_goal {
        r += 1;
        h.write(ws, r, 0, goal_heading(l, *goal as u8), &st.wrap, 11.0)?;
        ratio(ws, st, tr, r, 1, v)?;
    }
    r += 1;
    ws.write_string_with_format(r, 0, tr.t("annex-all-goals"), &st.header)?;
    ratio(ws, st, tr, r, 1, &Ratio { numerator: s.reporting.numerator, denominator: s.reporting.denominator, share: s.reporting.share })?;
    // Disaggregation status by goal.
    r += 2;
    ws.write_string_with_format(r, 0, tr.t("figure-disaggregation-status-title"), &st.section)?;
    r += 1;
    let mut heads = vec![tr.t("annex-col-goal")];
    heads.extend(["complete", "in_progress", "not_started", "not_applicable"].map(|w| l.status(w)));
    heads.push(tr.t("annex-col-indicators"));
    headers(ws, &mut h, st, r, &heads)?;
    let d = &s.disaggregation;
    for (name, g) in d.by_goal.iter().map(|g| (g.key.parse::<u8>().map_or_else(|_| g.key.clone(), |n| goal_heading(l, n)), g)).chain([(tr.t("annex-all-goals"), &d.national)]) {
        r += 1;
        h.write(ws, r, 0, name, &st.wrap, 11.0)?;
        for (c, v) in [g.complete, g.in_progress, g.not_started, g.not_applicable, g.indicators].into_iter().enumerate() {
            ws.write_number_with_format(r, c as u16 + 1, v as f64, &st.count)?;
        }
    }
    r += 2;
    h.write(ws, r, 0, tr.t("annex-summary-note"), &st.wrap, 11.0)?;
    h.apply(ws)?;
    print_layout(ws, s, &Page { landscape: false, header: (0, 1), last: (r, 5), filter: None })
}

/// Each figure's technical definition, as its result states it.
fn technical(s: &Snapshot, kind: FigureKind) -> &str {
    match kind {
        FigureKind::MigrationDisaggregationShare => &s.share.about.definition,
        FigureKind::ReportingStatus => &s.reporting.about.definition,
        FigureKind::DisaggregationStatus => &s.disaggregation.about.definition,
        FigureKind::CoverageMatrix => &s.coverage.about.definition,
        FigureKind::MigrantGap => &s.gap.about.definition,
        FigureKind::AgencyCompleteness => &s.completeness.about.definition,
        FigureKind::AreaFigures => &s.areas.about.definition,
        FigureKind::CrossArea => &s.cross_area.about.definition,
    }
}

/// The definitions, for readers first: title, plain-language definition, then the technical
/// definition (the exact rule, in English as published) and the figure's name in the API.
fn definitions(ws: &mut Worksheet, s: &Snapshot, st: &Styles) -> XResult {
    let tr = &s.tr;
    ws.set_name(sheet_name(&tr.t("annex-sheet-definitions")))?;
    let widths = [26.0, 52.0, 66.0, 28.0];
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    let mut h = Heights::new(&widths);
    ws.write_string_with_format(0, 0, tr.t("annex-definitions-title"), &st.title)?;
    ws.merge_range(1, 0, 1, 2, &tr.t("annex-definitions-note"), &st.wrap)?;
    h.fit(1, widths[..3].iter().sum(), &tr.t("annex-definitions-note"), 11.0);
    headers(ws, &mut h, st, 2, &[tr.t("annex-col-figure"), tr.t("annex-col-plain"), tr.t("annex-col-technical"), tr.t("annex-col-figure-name")])?;
    let mut r = 2;
    for kind in FigureKind::ALL {
        r += 1;
        h.write(ws, r, 0, tr.t(&format!("figure-{}-title", kind.name())), &st.wrap, 11.0)?;
        h.write(ws, r, 1, tr.t(&format!("figure-{}-plain", kind.name())), &st.wrap, 11.0)?;
        h.write(ws, r, 2, technical(s, kind), &st.small, 9.0)?;
        ws.write_string_with_format(r, 3, kind.name(), &st.text)?;
    }
    h.apply(ws)?;
    print_layout(ws, s, &Page { landscape: true, header: (0, 2), last: (r, 2), filter: Some((2, r, 3)) })
}

/// The national total observation of the latest period of an indicator.
struct Latest<'a> {
    value: Option<f64>,
    period: &'a str,
    series: &'a str,
    unit: &'a str,
    agency: &'a str,
}

/// Each indicator's national total observation of the latest period.
fn latest(s: &Snapshot) -> BTreeMap<&str, Latest<'_>> {
    let mut out: BTreeMap<&str, Latest<'_>> = BTreeMap::new();
    for o in &s.observations {
        let total = COLUMNS.iter().filter(|c| c.role == Role::Breakdown).all(|c| !is_breakdown(o.get(c.name)));
        if !total || o.get("ref_area") != s.national_area {
            continue;
        }
        let this = Latest { value: o.value, period: o.get("time_period"), series: o.get("series"), unit: o.get("unit_measure"), agency: o.agency.as_str() };
        match out.get(o.get("indicator")) {
            Some(e) if e.period >= this.period => {}
            _ => {
                out.insert(o.get("indicator"), this);
            }
        }
    }
    out
}

/// A period: a number when it is a year, its text otherwise.
fn period(ws: &mut Worksheet, st: &Styles, r: u32, c: u16, p: &str) -> XResult {
    match p.parse::<u16>() {
        Ok(y) => ws.write_number_with_format(r, c, f64::from(y), &st.year).map(drop),
        Err(_) => ws.write_string_with_format(r, c, p, &st.text).map(drop),
    }
}

/// The goal sheets' columns (message id, width): the printed ones, then the codes for machines.
const GOAL_COLUMNS: [(&str, f64); 15] = [
    ("annex-col-indicator-code", 8.5),
    ("annex-col-indicator", 40.0),
    ("annex-col-disaggregation-status", 13.0),
    ("annex-col-series", 26.0),
    ("annex-col-latest-value", 10.0),
    ("annex-col-unit", 13.0),
    ("annex-col-year", 7.0),
    ("annex-col-source", 18.0),
    ("annex-col-breakdowns", 20.0),
    ("annex-col-migrants", 10.0),
    ("annex-col-non-migrants", 10.0),
    ("annex-col-gap-year", 7.0),
    ("annex-col-series-code", 16.0),
    ("annex-col-unit-code", 12.0),
    ("annex-col-agency-code", 12.0),
];

/// The last printed column of a goal sheet.
const GOAL_PRINTED: u16 = 11;

/// The publications sheet's columns (message id, width); the agency code is not printed.
const PUBLICATION_COLUMNS: [(&str, f64); 9] = [
    ("annex-col-agency", 24.0),
    ("annex-col-dataset", 16.0),
    ("annex-col-dataset-title", 30.0),
    ("annex-col-rows", 8.0),
    ("annex-col-received", 20.0),
    ("annex-col-store-version", 8.0),
    ("annex-col-publication", 20.0),
    ("annex-col-content-hash", 22.0),
    ("annex-col-agency-code", 12.0),
];

/// Sets the widths of `columns` (message id, width).
fn widths(ws: &mut Worksheet, columns: &[(&str, f64)]) -> XResult {
    for (c, (_, w)) in columns.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    Ok(())
}

fn goal_sheet(ws: &mut Worksheet, s: &Snapshot, l: &Labels<'_>, st: &Styles, goal: u8, latest: &BTreeMap<&str, Latest<'_>>) -> XResult {
    let tr = &s.tr;
    ws.set_name(sheet_name(&l.goal_number(goal)))?;
    // The printed columns, then the codes for machines.
    widths(ws, &GOAL_COLUMNS)?;
    let mut h = Heights::new(&GOAL_COLUMNS.map(|(_, w)| w));
    ws.write_string_with_format(0, 0, goal_heading(l, goal), &st.title)?;
    headers(ws, &mut h, st, 1, &GOAL_COLUMNS.map(|(id, _)| tr.t(id)))?;
    let mut r = 1;
    for ind in s.contract.framework.indicators().iter().filter(|i| i.in_scope && i.goal == goal) {
        r += 1;
        ws.write_string_with_format(r, 0, &ind.code, &st.text)?;
        h.write(ws, r, 1, l.indicator(ind).text, &st.small, 9.0)?;
        if let Some(d) = s.disaggregation.indicators.iter().find(|d| d.indicator == ind.code) {
            h.write(ws, r, 2, l.status(&d.status), &st.small, 9.0)?;
        }
        if let Some(o) = latest.get(ind.code.as_str()) {
            h.write(ws, r, 3, l.series(o.series).text, &st.small, 9.0)?;
            match o.value {
                Some(v) => ws.write_number_with_format(r, 4, v, st.value(v))?,
                None => ws.write_string_with_format(r, 4, tr.t("annex-suppressed"), &st.wrap)?,
            };
            h.write(ws, r, 5, l.unit(o.unit).text, &st.small, 9.0)?;
            period(ws, st, r, 6, o.period)?;
            h.write(ws, r, 7, l.agency(o.agency), &st.small, 9.0)?;
            ws.write_string_with_format(r, 12, o.series, &st.text)?;
            ws.write_string_with_format(r, 13, o.unit, &st.text)?;
            ws.write_string_with_format(r, 14, o.agency, &st.text)?;
        }
        if let Some(row) = s.coverage.rows.iter().find(|c| c.indicator == ind.code) {
            let dims: Vec<String> = row.cells.iter().filter(|(_, c)| c.covered).map(|(d, _)| l.dimension(d)).collect();
            h.write(ws, r, 8, dims.join(", "), &st.small, 9.0)?;
        }
        if let Some(g) = s.gap.rows.iter().filter(|g| g.indicator == ind.code && g.ref_area == s.national_area).max_by(|a, b| a.time_period.cmp(&b.time_period)) {
            ws.write_number_with_format(r, 9, g.migrant, st.value(g.migrant))?;
            ws.write_number_with_format(r, 10, g.non_migrant, st.value(g.non_migrant))?;
            period(ws, st, r, 11, &g.time_period)?;
        }
    }
    h.apply(ws)?;
    print_layout(ws, s, &Page { landscape: true, header: (0, 1), last: (r, GOAL_PRINTED), filter: Some((1, r, GOAL_COLUMNS.len() as u16 - 1)) })
}

/// The areas table's first columns (message ids); the status words follow.
const AREA_COLUMNS: [&str; 8] = ["annex-col-area", "annex-col-area-code", "annex-col-with-migration", "annex-col-produced", "annex-col-headline", "annex-col-reported", "annex-col-in-scope", "annex-col-reporting-share"];

/// The headline's distribution across areas (message ids).
const QUANTILES: [&str; 5] = ["annex-minimum", "annex-lower-quartile", "annex-median", "annex-upper-quartile", "annex-maximum"];

/// The table of indicators across areas (message ids).
const ACROSS_AREAS_COLUMNS: [&str; 7] = ["annex-col-indicator", "annex-col-indicator-code", "annex-col-areas-producing", "annex-col-areas-with-migration", "annex-col-areas-compared", "annex-col-share", "annex-col-areas-with-migration-names"];

/// The figures by area (one row per area compared), then across areas: the areas with data on
/// the migration-relevant indicators, the headline's distribution and bands, and per indicator
/// the share of areas producing it with migration disaggregation.
fn areas(ws: &mut Worksheet, s: &Snapshot, l: &Labels<'_>, st: &Styles) -> XResult {
    let tr = &s.tr;
    ws.set_name(sheet_name(&tr.t("annex-sheet-areas")))?;
    let mut widths = vec![34.0, 12.0];
    widths.extend([11.0; 10]);
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    let mut h = Heights::new(&widths);
    let names = |areas: &[crate::figures::areas::Area]| areas.iter().map(|a| a.label.as_str()).collect::<Vec<_>>().join(", ");
    ws.write_string_with_format(0, 0, tr.t("figure-area-figures-title"), &st.title)?;
    let mut heads = AREA_COLUMNS.map(|id| tr.t(id)).to_vec();
    heads.extend(["complete", "in_progress", "not_started", "not_applicable"].map(|w| l.status(w)));
    headers(ws, &mut h, st, 1, &heads)?;
    let mut r = 1u32;
    for a in &s.areas.by_area {
        r += 1;
        h.write(ws, r, 0, &a.area.label, &st.wrap, 11.0)?;
        ws.write_string_with_format(r, 1, &a.area.code, &st.text)?;
        ratio(ws, st, tr, r, 2, &a.headline)?;
        ratio(ws, st, tr, r, 5, &a.reporting_status)?;
        let d = &a.disaggregation_status;
        for (c, n) in [d.complete, d.in_progress, d.not_started, d.not_applicable].into_iter().enumerate() {
            ws.write_number_with_format(r, 8 + c as u16, n as f64, &st.count)?;
        }
    }
    let table_end = r;
    let c = &s.cross_area;
    r += 2;
    ws.write_string_with_format(r, 0, tr.t("figure-cross-area-title"), &st.section)?;
    r += 1;
    let d = &c.data_on_migration_indicators;
    h.write(ws, r, 0, tr.t("annex-areas-with-data"), &st.wrap, 11.0)?;
    ratio(ws, st, tr, r, 2, &d.ratio)?;
    if !d.without_data.is_empty() {
        ws.write_string_with_format(r, 5, tr.ta("annex-areas-without", &[("areas", names(&d.without_data).into())]), &st.text)?;
    }
    r += 2;
    let hd = &c.headline_distribution;
    ws.write_string_with_format(r, 0, tr.t("annex-headline-across-areas"), &st.section)?;
    ws.write_string_with_format(r, 2, tr.ta("annex-areas-with-share", &[("count", Arg::Number(hd.areas_with_share as f64))]), &st.text)?;
    for (id, v) in QUANTILES.into_iter().zip([hd.min, hd.lower_quartile, hd.median, hd.upper_quartile, hd.max]) {
        r += 1;
        ws.write_string_with_format(r, 0, tr.t(id), &st.text)?;
        share(ws, st, tr, r, 4, v)?;
    }
    r += 1;
    headers(ws, &mut h, st, r, &[tr.t("annex-col-band"), String::new(), String::new(), tr.t("annex-col-areas-count"), String::new(), tr.t("annex-col-areas")])?;
    for b in &hd.bands {
        r += 1;
        ws.write_string_with_format(r, 0, tr.lookup(&format!("annex-band-{}", b.band), &[]).unwrap_or_else(|| b.label.clone()), &st.text)?;
        ws.write_number_with_format(r, 3, b.areas.len() as f64, &st.count)?;
        ws.write_string_with_format(r, 5, names(&b.areas), &st.text)?;
    }
    // The figure's JSON lists them all.
    let produced: Vec<_> = c.produced().collect();
    r += 2;
    let left_out = c.by_indicator.len() - produced.len();
    let note = tr.ta("annex-across-left-out", &[("count", Arg::Number(left_out as f64)), ("total", Arg::Number(c.by_indicator.len() as f64))]);
    h.write(ws, r, 0, note, &st.text, 11.0)?;
    r += 1;
    headers(ws, &mut h, st, r, &ACROSS_AREAS_COLUMNS.map(|id| tr.t(id)))?;
    for i in produced {
        r += 1;
        h.write(ws, r, 0, l.indicator_code(&i.indicator).text, &st.wrap, 11.0)?;
        ws.write_string_with_format(r, 1, &i.indicator, &st.text)?;
        ws.write_number_with_format(r, 2, i.producing as f64, &st.count)?;
        ratio(ws, st, tr, r, 3, &i.migration_disaggregated)?;
        ws.write_string_with_format(r, 6, names(&i.areas_migration_disaggregated), &st.text)?;
    }
    h.apply(ws)?;
    print_layout(ws, s, &Page { landscape: true, header: (0, 1), last: (r, 11), filter: Some((1, table_end, 11)) })
}

fn publications(ws: &mut Worksheet, s: &Snapshot, l: &Labels<'_>, st: &Styles) -> XResult {
    let tr = &s.tr;
    ws.set_name(sheet_name(&tr.t("annex-sheet-publications")))?;
    widths(ws, &PUBLICATION_COLUMNS)?;
    let mut h = Heights::new(&PUBLICATION_COLUMNS.map(|(_, w)| w));
    ws.write_string_with_format(0, 0, tr.t("annex-publications-title"), &st.title)?;
    headers(ws, &mut h, st, 1, &PUBLICATION_COLUMNS.map(|(id, _)| tr.t(id)))?;
    let mut r = 1;
    for p in &s.publications {
        r += 1;
        h.write(ws, r, 0, l.agency(&p.agency), &st.wrap, 11.0)?;
        h.write(ws, r, 1, &p.dataset, &st.wrap, 11.0)?;
        h.write(ws, r, 2, &p.title, &st.wrap, 11.0)?;
        ws.write_number_with_format(r, 3, p.rows as f64, &st.count)?;
        h.write(ws, r, 4, tr.datetime_str(&p.received_at), &st.wrap, 11.0)?;
        ws.write_number_with_format(r, 5, p.store_version as f64, &st.year)?;
        ws.write_string_with_format(r, 6, &p.publication_id, &st.shrink)?;
        ws.write_string_with_format(r, 7, &p.content_hash, &st.shrink)?;
        ws.write_string_with_format(r, 8, &p.agency, &st.text)?;
    }
    h.apply(ws)?;
    print_layout(ws, s, &Page { landscape: true, header: (0, 1), last: (r, 7), filter: Some((1, r, PUBLICATION_COLUMNS.len() as u16 - 1)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_ones_excel_accepts_and_page_margins_keep_literal_ampersands() {
        assert_eq!(sheet_name("Goal 3"), "Goal 3");
        assert_eq!(sheet_name("a/b:c?"), "a b c");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
        assert_eq!(hf_escape("R&D"), "R&&D");
    }

    #[test]
    fn every_message_the_annex_names_through_a_table_is_in_english() {
        let en = Tr::default();
        let bands = crate::figures::cross_area::BANDS.map(|(b, _)| format!("annex-band-{b}"));
        let figures = FigureKind::ALL.into_iter().flat_map(|k| [format!("figure-{}-title", k.name()), format!("figure-{}-plain", k.name())]);
        let ids = GOAL_COLUMNS.iter().chain(&PUBLICATION_COLUMNS).map(|(id, _)| (*id).to_owned()).chain(AREA_COLUMNS.iter().chain(&QUANTILES).chain(&ACROSS_AREAS_COLUMNS).map(|id| (*id).to_owned()));
        for id in ids.chain(bands).chain(figures).chain(["view-official".into(), "view-provisional".into()]) {
            assert!(en.lookup(&id, &[]).is_some(), "{id}");
        }
    }
}
