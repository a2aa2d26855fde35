//! The HTML report: one self-contained file (inline CSS and SVG, no script, no external
//! resource) that prints well to PDF. Its pieces (the headline, the charts, the gap table) are
//! shared with the coordinator's dashboard.

use std::fmt::Write;

use arrow::array::Array;

use super::svg::{self, Bar};
use super::Snapshot;
use crate::figures::areas::{Area, AreaFigures, AreasRead};
use crate::figures::completeness::Completeness;
use crate::figures::cross_area::CrossArea;
use crate::figures::coverage::CoverageMatrix;
use crate::figures::gap::MigrantGap;
use crate::figures::MigrationShare;

/// Escapes text for HTML and XML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A share as a percentage with one decimal (`46.7%`), or `n/a`.
pub fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// The page styles: screen and print.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b;line-height:1.4}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}\
.headline{font-size:3rem;font-weight:700;color:#1f6fb2;margin:.2rem 0}.muted{color:#555;font-size:.9rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccd;padding:.25rem .4rem;text-align:left}\
th{background:#f0f3f7}td.num{text-align:right}svg{max-width:100%;height:auto}\
nav a{margin-right:1rem}.provenance{font-size:.8rem;color:#555}\
@media print{nav,.noprint{display:none}body{max-width:none}h2{page-break-after:avoid}svg,table{page-break-inside:avoid}}";

/// A whole page.
pub fn page(title: &str, nav: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}{}</style></head><body>{nav}{body}</body></html>\n",
        esc(title),
        svg::STYLE
    )
}

/// The headline figure: the share (`#headline-value`), its parts and its definition.
pub fn headline(share: &MigrationShare) -> String {
    format!(
        "<section id=\"headline\"><h2>Proportion of SDG indicators produced with migration disaggregation</h2>\
<p class=\"headline\" id=\"headline-value\">{}</p><p>{} of {} indicators produced at the national level are disaggregated by migratory status \
(migration-relevant indicators: {} of {}; all indicators in scope: {} of {}).</p><p class=\"muted\"><strong>Definition.</strong> {}</p></section>",
        percent(share.share),
        share.numerator,
        share.denominator,
        share.migration_relevant.numerator,
        share.migration_relevant.denominator,
        share.all_in_scope.numerator,
        share.all_in_scope.denominator,
        esc(&share.about.definition)
    )
}

/// The share by goal, as bars.
pub fn goal_chart(share: &MigrationShare) -> String {
    let rows: Vec<Bar> = share
        .by_goal
        .iter()
        .map(|r| Bar { label: format!("Goal {}", r.key), share: r.headline.share, caption: format!("{} / {}", r.headline.numerator, r.headline.denominator) })
        .collect();
    svg::bars("Share of produced indicators with migration disaggregation, by goal", &rows)
}

/// The share by reference year, as a line.
pub fn trend_chart(share: &MigrationShare) -> String {
    let points: Vec<(String, Option<f64>)> = share.by_year.iter().map(|r| (r.key.clone(), r.headline.share)).collect();
    svg::trend("Share of produced indicators with migration disaggregation, by reference year", &points)
}

/// The coverage matrix, as a heatmap.
pub fn coverage_chart(c: &CoverageMatrix) -> String {
    let rows: Vec<(String, Vec<bool>)> = c
        .rows
        .iter()
        .map(|r| (r.indicator.clone(), c.dimensions.iter().map(|d| r.cells.get(d).is_some_and(|x| x.covered)).collect()))
        .collect();
    let cols: Vec<String> = c
        .dimensions
        .iter()
        .map(|d| if d == "geography" { "Geography below national".to_owned() } else { super::opensdg::dimension_label(d).to_owned() })
        .collect();
    svg::heatmap("Coverage: indicator × disaggregation dimension", &cols, &rows)
}

/// Agency completeness, as bars.
pub fn completeness_chart(c: &Completeness) -> String {
    let rows: Vec<Bar> = c
        .by_agency
        .iter()
        .map(|r| Bar {
            label: r.key.clone(),
            share: r.completeness,
            caption: format!("{} of {} received, {} on time", r.received, r.expected, r.on_time),
        })
        .collect();
    svg::bars("Reports received of those due, by agency", &rows)
}

/// The migrant / non-migrant gap, as a table.
pub fn gap_table(g: &MigrantGap) -> String {
    let mut s = String::from(
        "<table class=\"gap\"><thead><tr><th>Indicator</th><th>Series</th><th>Area</th><th>Period</th><th>Migrants</th><th>Non-migrants</th><th>Difference</th><th>Ratio</th><th>Unit</th><th>Source</th></tr></thead><tbody>",
    );
    for r in &g.rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}/{}</td></tr>",
            esc(&r.indicator),
            esc(&r.series),
            esc(&r.ref_area),
            esc(&r.time_period),
            r.migrant,
            r.non_migrant,
            (r.difference * 1e6).round() / 1e6,
            r.ratio.map_or("n/a".into(), |x| format!("{:.3}", x)),
            esc(&r.unit_measure),
            esc(&r.agency),
            esc(&r.dataset)
        );
    }
    if g.rows.is_empty() {
        s.push_str("<tr><td colspan=\"10\">No indicator has both a migrant and a non-migrant value.</td></tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Areas by name, with their codes.
fn area_names(areas: &[Area]) -> String {
    if areas.is_empty() {
        return "none".into();
    }
    areas.iter().map(|a| format!("{} ({})", esc(&a.label), esc(&a.code))).collect::<Vec<_>>().join(", ")
}

/// Which areas a figure compared.
fn areas_compared(r: &AreasRead) -> String {
    let from = if r.areas_from == "setting" { "as the coordinator's areas setting lists them" } else { "as observed (the areas setting is empty)" };
    let mut s = format!("<p>Areas compared, {from}: {}.</p>", area_names(&r.areas));
    if !r.areas_not_compared.is_empty() {
        let _ = write!(s, "<p class=\"muted\">Observed but not compared: {}.</p>", area_names(&r.areas_not_compared));
    }
    s
}

/// The figures by area, as a table: one row per area compared.
pub fn area_table(a: &AreaFigures) -> String {
    let mut s = areas_compared(&a.read);
    s.push_str(
        "<table class=\"areas\"><thead><tr><th>Area</th><th>Headline</th><th>Produced</th><th>Migration-disaggregated</th><th>Reporting status</th>\
<th>Complete</th><th>In progress</th><th>Not started</th><th>Not applicable</th></tr></thead><tbody>",
    );
    for r in &a.by_area {
        let d = &r.disaggregation_status;
        let _ = write!(
            s,
            "<tr><td>{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({} of {})</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.area.label),
            esc(&r.area.code),
            percent(r.headline.share),
            r.headline.denominator,
            r.headline.numerator,
            percent(r.reporting_status.share),
            r.reporting_status.numerator,
            r.reporting_status.denominator,
            d.complete,
            d.in_progress,
            d.not_started,
            d.not_applicable
        );
    }
    if a.by_area.is_empty() {
        s.push_str("<tr><td colspan=\"9\">No area is compared.</td></tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// The figures across areas: data on migration indicators, the headline's distribution and bands,
/// and the share of areas per indicator.
pub fn cross_area_summary(c: &CrossArea) -> String {
    let d = &c.data_on_migration_indicators;
    let h = &c.headline_distribution;
    let mut s = areas_compared(&c.read);
    let _ = write!(
        s,
        "<p id=\"areas-with-data\">{} of {} areas compared ({}) have data on the migration-relevant indicators. Without: {}.</p>",
        d.ratio.numerator,
        d.ratio.denominator,
        percent(d.ratio.share),
        area_names(&d.without_data)
    );
    let _ = write!(
        s,
        "<p>Headline across the {} areas that produced something: minimum {}, lower quartile {}, median {}, upper quartile {}, maximum {}.</p>",
        h.areas_with_share,
        percent(h.min),
        percent(h.lower_quartile),
        percent(h.median),
        percent(h.upper_quartile),
        percent(h.max)
    );
    s.push_str("<table><thead><tr><th>Headline</th><th>Areas</th></tr></thead><tbody>");
    for b in &h.bands {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td></tr>", esc(&b.label), area_names(&b.areas));
    }
    s.push_str("</tbody></table><table><thead><tr><th>Indicator</th><th>Areas producing it</th><th>Areas with migration disaggregation</th><th>Share of areas</th></tr></thead><tbody>");
    for r in &c.by_indicator {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.indicator),
            r.producing,
            area_names(&r.areas_migration_disaggregated),
            percent(r.migration_disaggregated.share)
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// An indicator's metadata as a definition list.
pub fn metadata_list(m: &sdgx_schemas::Metadata) -> String {
    let mut s = String::from("<dl>");
    for (_, label, v) in m.fields() {
        let _ = write!(s, "<dt>{label}</dt><dd>{}</dd>", esc(v));
    }
    s.push_str("</dl>");
    s
}

/// The report.
pub fn report(s: &Snapshot) -> String {
    let mut b = String::new();
    let _ = write!(b, "<h1>SDG data disaggregated by migratory status: statistical report</h1><p class=\"provenance\" id=\"provenance\">{}</p>", esc(&s.provenance()));
    b.push_str(&headline(&s.share));
    let _ = write!(b, "<section><h2>By goal</h2>{}</section>", goal_chart(&s.share));
    let _ = write!(b, "<section><h2>Trend by reference year</h2>{}</section>", trend_chart(&s.share));
    let _ = write!(b, "<section><h2>Coverage of disaggregations</h2><p class=\"muted\">{}</p>{}</section>", esc(&s.coverage.about.definition), coverage_chart(&s.coverage));
    let _ = write!(
        b,
        "<section><h2>Reporting status</h2><p>{} of {} indicators in scope are reported ({}).</p><p class=\"muted\">{}</p></section>",
        s.reporting.numerator,
        s.reporting.denominator,
        percent(s.reporting.share),
        esc(&s.reporting.about.definition)
    );
    let _ = write!(b, "<section><h2>Agency completeness and timeliness</h2><p class=\"muted\">{}</p>{}</section>", esc(&s.completeness.about.definition), completeness_chart(&s.completeness));
    let _ = write!(b, "<section><h2>Migrants and non-migrants</h2><p class=\"muted\">{}</p>{}</section>", esc(&s.gap.about.definition), gap_table(&s.gap));
    let _ = write!(b, "<section><h2>Figures by area</h2>{}<h3>Across areas</h3>{}</section>", area_table(&s.areas), cross_area_summary(&s.cross_area));
    b.push_str("<section><h2>Methodology</h2>");
    for ind in s.contract.framework.indicators().iter().filter(|i| i.in_scope && i.metadata.is_some()) {
        let _ = write!(b, "<h3>{} {}</h3>", esc(&ind.code), esc(&ind.title));
        b.push_str(&metadata_list(ind.metadata.as_ref().expect("filtered")));
    }
    b.push_str("</section><section><h2>Definitions of the figures</h2><dl>");
    for (name, d) in s.definitions() {
        let _ = write!(b, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(&d));
    }
    b.push_str("</dl></section><section><h2>Publications used</h2><table><thead><tr><th>Agency</th><th>Dataset</th><th>Rows</th><th>Received</th><th>Store version</th><th>Content hash</th></tr></thead><tbody>");
    for p in &s.publications {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            esc(&p.agency),
            esc(&p.dataset),
            p.rows,
            esc(&p.received_at),
            p.store_version,
            esc(&p.content_hash)
        );
    }
    b.push_str("</tbody></table></section>");
    page("SDG migration disaggregation report", "", &b)
}

/// Record batches as an HTML table (nulls blank).
pub fn batches_table(batches: &[arrow::array::RecordBatch]) -> crate::error::Result<String> {
    let mut s = String::from("<table class=\"rows\"><thead><tr>");
    let Some(first) = batches.first() else {
        return Ok("<p>No observations.</p>".into());
    };
    for f in first.schema().fields() {
        let _ = write!(s, "<th>{}</th>", esc(f.name()));
    }
    s.push_str("</tr></thead><tbody>");
    for b in batches {
        for i in 0..b.num_rows() {
            s.push_str("<tr>");
            for c in b.columns() {
                let v = if c.is_null(i) { String::new() } else { arrow::util::display::array_value_to_string(c, i)? };
                let _ = write!(s, "<td>{}</td>", esc(&v));
            }
            s.push_str("</tr>");
        }
    }
    s.push_str("</tbody></table>");
    Ok(s)
}
