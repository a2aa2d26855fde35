//! The XLSX statistical annex: a summary sheet (the headline, reporting status and
//! disaggregation status by goal, the definitions), one sheet per goal listing its indicators,
//! and the publications used.

use std::collections::{BTreeMap, BTreeSet};

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use sdgx_schemas::observation::{is_breakdown, COLUMNS};

use super::Snapshot;
use crate::error::{Error, Result};

fn x(e: XlsxError) -> Error {
    Error::Internal(format!("XLSX: {e}"))
}

/// The annex as an `.xlsx` file.
pub fn annex(s: &Snapshot) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.0%");
    summary(wb.add_worksheet(), s, &bold, &pct).map_err(x)?;
    let goals: BTreeSet<u8> = s.contract.framework.indicators().iter().filter(|i| i.in_scope).map(|i| i.goal).collect();
    for g in goals {
        goal_sheet(wb.add_worksheet(), s, g, &bold).map_err(x)?;
    }
    areas(wb.add_worksheet(), s, &bold, &pct).map_err(x)?;
    publications(wb.add_worksheet(), s, &bold).map_err(x)?;
    wb.save_to_buffer().map_err(x)
}

fn summary(ws: &mut Worksheet, s: &Snapshot, bold: &Format, pct: &Format) -> std::result::Result<(), XlsxError> {
    ws.set_name("Summary")?;
    ws.set_column_width(0, 44)?;
    ws.write_string_with_format(0, 0, "SDG data disaggregated by migratory status: statistical annex", bold)?;
    ws.write_string(1, 0, s.provenance())?;
    ws.write_string(2, 0, "Store version")?;
    ws.write_number(2, 1, s.store_version as f64)?;
    ws.write_string(3, 0, "Framework version")?;
    ws.write_string(3, 1, &s.framework_version)?;
    ws.write_string(4, 0, "Generated")?;
    ws.write_string(4, 1, &s.generated_at)?;
    ws.write_string_with_format(6, 0, "Headline: indicators produced with migration disaggregation", bold)?;
    match s.share.share {
        Some(v) => ws.write_number_with_format(6, 1, v, pct)?,
        None => ws.write_string(6, 1, "n/a")?,
    };
    ws.write_string(7, 0, "Numerator (migration-disaggregated)")?;
    ws.write_number(7, 1, s.share.numerator as f64)?;
    ws.write_string(8, 0, "Denominator (produced)")?;
    ws.write_number(8, 1, s.share.denominator as f64)?;
    let mut r = 10;
    ws.write_string_with_format(r, 0, "Reporting status by goal", bold)?;
    r += 1;
    for (c, h) in ["Goal", "Reported", "In scope", "Share"].iter().enumerate() {
        ws.write_string_with_format(r, c as u16, *h, bold)?;
    }
    for (goal, ratio) in &s.reporting.by_goal {
        r += 1;
        ws.write_number(r, 0, *goal as f64)?;
        ws.write_number(r, 1, ratio.numerator as f64)?;
        ws.write_number(r, 2, ratio.denominator as f64)?;
        if let Some(v) = ratio.share {
            ws.write_number_with_format(r, 3, v, pct)?;
        }
    }
    r += 2;
    ws.write_string_with_format(r, 0, "Disaggregation status by goal", bold)?;
    r += 1;
    for (c, h) in ["Goal", "Complete", "In progress", "Not started", "Not applicable", "Indicators"].iter().enumerate() {
        ws.write_string_with_format(r, c as u16, *h, bold)?;
    }
    for g in &s.disaggregation.by_goal {
        r += 1;
        ws.write_string(r, 0, &g.key)?;
        for (c, v) in [g.complete, g.in_progress, g.not_started, g.not_applicable, g.indicators].iter().enumerate() {
            ws.write_number(r, c as u16 + 1, *v as f64)?;
        }
    }
    r += 2;
    ws.write_string_with_format(r, 0, "Definitions", bold)?;
    for (name, d) in s.definitions() {
        r += 1;
        ws.write_string(r, 0, name)?;
        ws.write_string(r, 1, d)?;
    }
    Ok(())
}

/// (indicator) → the national total observation of the latest period: (value, period, unit, agency).
fn latest(s: &Snapshot) -> BTreeMap<&str, (Option<f64>, &str, &str, &str)> {
    let mut out: BTreeMap<&str, (Option<f64>, &str, &str, &str)> = BTreeMap::new();
    for o in &s.observations {
        let total = COLUMNS.iter().filter(|c| c.role == sdgx_schemas::observation::Role::Breakdown).all(|c| !is_breakdown(o.get(c.name)));
        if !total || o.get("ref_area") != s.national_area {
            continue;
        }
        let e = out.entry(o.get("indicator")).or_insert((o.value, o.get("time_period"), o.get("unit_measure"), o.agency.as_str()));
        if o.get("time_period") > e.1 {
            *e = (o.value, o.get("time_period"), o.get("unit_measure"), o.agency.as_str());
        }
    }
    out
}

fn goal_sheet(ws: &mut Worksheet, s: &Snapshot, goal: u8, bold: &Format) -> std::result::Result<(), XlsxError> {
    ws.set_name(format!("Goal {goal}"))?;
    ws.set_column_width(1, 50)?;
    let headers = ["Indicator", "Title", "Latest value", "Period", "Unit", "Source agency", "Disaggregations available", "Migrants", "Non-migrants", "Gap period"];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
    }
    let latest = latest(s);
    let mut r = 0;
    for ind in s.contract.framework.indicators().iter().filter(|i| i.in_scope && i.goal == goal) {
        r += 1;
        ws.write_string(r, 0, &ind.code)?;
        ws.write_string(r, 1, &ind.title)?;
        if let Some((value, period, unit, agency)) = latest.get(ind.code.as_str()) {
            match value {
                Some(v) => ws.write_number(r, 2, *v)?,
                None => ws.write_string(r, 2, "suppressed")?,
            };
            ws.write_string(r, 3, *period)?;
            ws.write_string(r, 4, *unit)?;
            ws.write_string(r, 5, *agency)?;
        }
        if let Some(row) = s.coverage.rows.iter().find(|c| c.indicator == ind.code) {
            let dims: Vec<&str> = row.cells.iter().filter(|(_, c)| c.covered).map(|(d, _)| super::opensdg::dimension_label(d)).collect();
            ws.write_string(r, 6, dims.join(", "))?;
        }
        if let Some(g) = s.gap.rows.iter().filter(|g| g.indicator == ind.code && g.ref_area == s.national_area).max_by(|a, b| a.time_period.cmp(&b.time_period)) {
            ws.write_number(r, 7, g.migrant)?;
            ws.write_number(r, 8, g.non_migrant)?;
            ws.write_string(r, 9, &g.time_period)?;
        }
    }
    Ok(())
}

/// The figures by area (one row per area compared), then across areas: the areas with data on
/// the migration-relevant indicators, the headline's distribution and bands, and per indicator
/// the share of areas producing it with migration disaggregation.
fn areas(ws: &mut Worksheet, s: &Snapshot, bold: &Format, pct: &Format) -> std::result::Result<(), XlsxError> {
    ws.set_name("Areas")?;
    let names = |areas: &[crate::figures::areas::Area]| areas.iter().map(|a| a.label.as_str()).collect::<Vec<_>>().join(", ");
    let share = |ws: &mut Worksheet, r: u32, c: u16, v: Option<f64>| -> std::result::Result<(), XlsxError> {
        match v {
            Some(v) => ws.write_number_with_format(r, c, v, pct).map(drop),
            None => ws.write_string(r, c, "n/a").map(drop),
        }
    };
    let heads = ["Area", "Code", "Migration-disaggregated", "Produced", "Headline", "Reported", "In scope", "Reporting status", "Complete", "In progress", "Not started", "Not applicable"];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
    }
    let mut r = 1u32;
    for a in &s.areas.by_area {
        ws.write_string(r, 0, &a.area.label)?;
        ws.write_string(r, 1, &a.area.code)?;
        ws.write_number(r, 2, a.headline.numerator as f64)?;
        ws.write_number(r, 3, a.headline.denominator as f64)?;
        share(ws, r, 4, a.headline.share)?;
        ws.write_number(r, 5, a.reporting_status.numerator as f64)?;
        ws.write_number(r, 6, a.reporting_status.denominator as f64)?;
        share(ws, r, 7, a.reporting_status.share)?;
        let d = &a.disaggregation_status;
        for (c, n) in [d.complete, d.in_progress, d.not_started, d.not_applicable].into_iter().enumerate() {
            ws.write_number(r, 8 + c as u16, n as f64)?;
        }
        r += 1;
    }
    let c = &s.cross_area;
    r += 1;
    let d = &c.data_on_migration_indicators;
    ws.write_string_with_format(r, 0, "Areas with data on migration-relevant indicators", bold)?;
    ws.write_number(r, 2, d.ratio.numerator as f64)?;
    ws.write_number(r, 3, d.ratio.denominator as f64)?;
    share(ws, r, 4, d.ratio.share)?;
    ws.write_string(r, 5, format!("without: {}", names(&d.without_data)))?;
    r += 2;
    let h = &c.headline_distribution;
    ws.write_string_with_format(r, 0, "Headline across areas", bold)?;
    ws.write_string(r, 1, format!("{} areas with a share", h.areas_with_share))?;
    r += 1;
    for (name, v) in [("Minimum", h.min), ("Lower quartile", h.lower_quartile), ("Median", h.median), ("Upper quartile", h.upper_quartile), ("Maximum", h.max)] {
        ws.write_string(r, 0, name)?;
        share(ws, r, 4, v)?;
        r += 1;
    }
    for b in &h.bands {
        ws.write_string(r, 0, &b.label)?;
        ws.write_number(r, 3, b.areas.len() as f64)?;
        ws.write_string(r, 5, names(&b.areas))?;
        r += 1;
    }
    r += 1;
    for (col, head) in ["Indicator", "Areas producing", "Areas migration-disaggregated", "Areas compared", "Share of areas", "Areas with migration disaggregation"].iter().enumerate() {
        ws.write_string_with_format(r, col as u16, *head, bold)?;
    }
    r += 1;
    for i in &c.by_indicator {
        ws.write_string(r, 0, &i.indicator)?;
        ws.write_number(r, 1, i.producing as f64)?;
        ws.write_number(r, 2, i.migration_disaggregated.numerator as f64)?;
        ws.write_number(r, 3, i.migration_disaggregated.denominator as f64)?;
        share(ws, r, 4, i.migration_disaggregated.share)?;
        ws.write_string(r, 5, names(&i.areas_migration_disaggregated))?;
        r += 1;
    }
    Ok(())
}

fn publications(ws: &mut Worksheet, s: &Snapshot, bold: &Format) -> std::result::Result<(), XlsxError> {
    ws.set_name("Publications")?;
    for (c, h) in ["Publication", "Agency", "Dataset", "Title", "Rows", "Received", "Store version", "Content hash"].iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
    }
    for (i, p) in s.publications.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, &p.publication_id)?;
        ws.write_string(r, 1, &p.agency)?;
        ws.write_string(r, 2, &p.dataset)?;
        ws.write_string(r, 3, &p.title)?;
        ws.write_number(r, 4, p.rows as f64)?;
        ws.write_string(r, 5, &p.received_at)?;
        ws.write_number(r, 6, p.store_version as f64)?;
        ws.write_string(r, 7, &p.content_hash)?;
    }
    Ok(())
}
