//! The HTML report: one self-contained file (inline CSS and SVG, no script, no external
//! resource) that prints well to PDF. Its pieces (the headline, the charts, the gap table) are
//! shared with the coordinator's dashboard.

use std::fmt::Write;

use arrow::array::Array;

use super::svg::{self, Bar};
use super::Snapshot;
use crate::i18n::{Labels, Tr};
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

/// The page styles: screen (down to a 390 px phone: tables scroll inside their wrapper, the
/// navigation wraps) and print (A4, repeated table headers, no section split under its title;
/// metadata as a two-column list; charts at most 9 cm high; the appendix's technical definitions, which are for screens and
/// machines, left out of the printed page).
pub const STYLE: &str = "*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b;line-height:1.4;overflow-wrap:break-word}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}\
.headline{font-size:2.4rem;font-weight:700;color:#1f6fb2;margin:.2rem 0}.muted{color:#555;font-size:.9rem}\
.variants{display:flex;flex-wrap:wrap;gap:.75rem;margin:.5rem 0}.variant{flex:1 1 14rem;border:1px solid #ccd;border-radius:4px;padding:.5rem .75rem}\
.variant p{margin:.2rem 0}.variants-caption{flex-basis:100%;margin:.2rem 0 0;font-weight:600}\
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccd;padding:.25rem .4rem;text-align:left;vertical-align:top}\
th{background:#f0f3f7}td.num{text-align:right;white-space:nowrap}td.yes{text-align:center;color:#2e8540;font-weight:700}svg{max-width:100%;height:auto}\
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center;margin-bottom:.5rem}nav form{display:inline;margin:0}\
.languages{display:flex;flex-wrap:wrap;gap:.2rem .6rem;font-size:.9rem;margin:.3rem 0}.languages [aria-current]{font-weight:700}\
.provenance{font-size:.8rem;color:#555}details{margin:.3rem 0}summary{cursor:pointer;color:#555;font-size:.9rem}\
input,button{max-width:100%}code.hash{word-break:break-all}\
@page{size:A4;margin:16mm 14mm}\
@media print{nav,.noprint,.languages{display:none}body{max-width:none;padding:0;font-size:10pt}h1{font-size:16pt}h2{font-size:13pt;margin-top:1rem}\
h2,h3{break-after:avoid;page-break-after:avoid}svg,.variants,tr{break-inside:avoid;page-break-inside:avoid}\
thead{display:table-header-group}.scroll{overflow:visible}table{font-size:8.5pt}dl{display:grid;grid-template-columns:minmax(7rem,24%) 1fr;gap:.1rem .6rem;font-size:8.5pt;margin:.3rem 0}dt{font-weight:600}dd{margin:0}h3{font-size:10.5pt;margin:.8rem 0 .2rem}.appendix .technical-list{display:none}.appendix .print-only{display:block}ul.hashes{font-size:7.5pt;padding-left:1rem}svg{max-height:90mm;width:auto}}.print-only{display:none}";

/// A whole page in `tr`'s language (`<html lang dir>`).
pub fn page(tr: &Tr, title: &str, nav: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\" dir=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}{}</style></head><body>{nav}{body}</body></html>\n",
        tr.lang(),
        tr.dir(),
        esc(title),
        svg::STYLE
    )
}

/// A table in a wrapper that scrolls sideways on a narrow screen (the page itself does not).
pub fn scroll(table: &str) -> String {
    format!("<div class=\"scroll\">{table}</div>")
}

/// "3 of 7" in the reader's language.
fn of(tr: &Tr, numerator: i64, denominator: i64) -> String {
    tr.ta("report-ratio", &[("numerator", numerator.into()), ("denominator", denominator.into())])
}

/// A figure's plain-language definition for readers, with its exact (technical) definition
/// folded away under it.
pub fn definition(tr: &Tr, figure: &str, technical: &str) -> String {
    format!(
        "<p class=\"plain\">{}</p><details class=\"technical\"><summary>{}</summary><p class=\"muted\">{}</p></details>",
        esc(&tr.t(&format!("figure-{figure}-plain"))),
        esc(&tr.t("report-technical-definition")),
        esc(technical)
    )
}

/// The headline figure (`#headline-value`) beside its two variants (`#headline-relevant`,
/// `#headline-all`, national coverage), in the same type so that no reader takes the
/// headline for national coverage, and its plain-language definition.
pub fn headline(tr: &Tr, share: &MigrationShare) -> String {
    let f = "migration-disaggregation-share";
    let variant = |id: &str, label: &str, r: &crate::figures::Ratio| {
        format!(
            "<div class=\"variant\"><p class=\"headline\" id=\"{id}\">{}</p><p>{}: {}</p></div>",
            tr.percent(r.share),
            esc(label),
            of(tr, r.numerator, r.denominator)
        )
    };
    format!(
        "<section id=\"headline\"><h2>{}</h2><div class=\"variants\"><div class=\"variant\"><p class=\"headline\" id=\"headline-value\">{}</p><p>{}</p></div>\
<p class=\"variants-caption\">{}</p>{}{}</div>{}</section>",
        esc(&tr.t(&format!("figure-{f}-title"))),
        tr.percent(share.share),
        esc(&tr.ta("report-headline-parts", &[("numerator", share.numerator.into()), ("denominator", share.denominator.into())])),
        esc(&tr.t(&format!("figure-{f}-variants"))),
        variant("headline-relevant", &tr.t(&format!("figure-{f}-variant-relevant")), &share.migration_relevant),
        variant("headline-all", &tr.t(&format!("figure-{f}-variant-all")), &share.all_in_scope),
        definition(tr, f, &share.about.definition)
    )
}

/// The share by goal, as bars on a 0–100 % axis (n/a for a goal with nothing produced).
pub fn goal_chart(l: &Labels, share: &MigrationShare) -> String {
    let tr = l.tr;
    let rows: Vec<Bar> = share
        .by_goal
        .iter()
        .map(|r| Bar {
            label: r.key.parse().map_or_else(|_| r.key.clone(), |g| l.goal_number(g)),
            share: r.headline.share,
            caption: match r.headline.share {
                Some(v) => format!("{} · {}", tr.percent(Some(v)), of(tr, r.headline.numerator, r.headline.denominator)),
                None => of(tr, r.headline.numerator, r.headline.denominator),
            },
        })
        .collect();
    svg::bars(tr, &tr.t("report-goal-chart"), &rows)
}

/// The share by reference year, as a line.
pub fn trend_chart(tr: &Tr, share: &MigrationShare) -> String {
    let points: Vec<(String, Option<f64>)> = share.by_year.iter().map(|r| (r.key.clone(), r.headline.share)).collect();
    svg::trend(tr, &tr.t("report-trend-chart"), &points)
}

/// A coverage column's name: a breakdown, or the areas below the national level.
fn coverage_dimension(l: &Labels, d: &str) -> String {
    if d == "geography" { l.tr.t("report-coverage-geography") } else { l.dimension(d) }
}

/// The coverage of breakdowns: a by-goal summary (indicators in the framework, with data, and
/// with each breakdown), then one row per indicator **with data** (the others have nothing to
/// show).
pub fn coverage_tables(l: &Labels, c: &CoverageMatrix) -> String {
    let tr = l.tr;
    let with_data: Vec<_> = c.rows.iter().filter(|r| r.cells.values().any(|x| x.covered)).collect();
    let mut s = format!(
        "<p id=\"coverage-count\">{}</p>",
        esc(&tr.ta("report-coverage-count", &[("count", with_data.len().into()), ("total", c.rows.len().into())]))
    );
    let heads: String = c.dimensions.iter().map(|d| format!("<th>{}</th>", esc(&coverage_dimension(l, d)))).collect();
    let mut goals: std::collections::BTreeMap<i64, (usize, usize, Vec<usize>)> = Default::default();
    for r in &c.rows {
        let g = goals.entry(r.goal).or_insert_with(|| (0, 0, vec![0; c.dimensions.len()]));
        g.0 += 1;
        if r.cells.values().any(|x| x.covered) {
            g.1 += 1;
        }
        for (j, d) in c.dimensions.iter().enumerate() {
            if r.cells.get(d).is_some_and(|x| x.covered) {
                g.2[j] += 1;
            }
        }
    }
    let mut t = format!(
        "<table class=\"coverage-goals\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>{heads}</tr></thead><tbody>",
        esc(&tr.t("report-col-goal")),
        esc(&tr.t("report-col-indicators")),
        esc(&tr.t("report-col-with-data"))
    );
    for (g, (n, data, dims)) in &goals {
        let goal = u8::try_from(*g).map_or_else(|_| g.to_string(), |g| format!("{} · {}", l.goal_number(g), l.goal(g).html(tr)));
        let _ = write!(t, "<tr><td>{goal}</td><td class=\"num\">{n}</td><td class=\"num\">{data}</td>");
        for k in dims {
            let _ = write!(t, "<td class=\"num\">{k}</td>");
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    let _ = write!(s, "<h3>{}</h3>{}", esc(&tr.t("report-coverage-by-goal")), scroll(&t));
    let _ = write!(s, "<h3>{}</h3>", esc(&tr.t("report-coverage-by-indicator")));
    if with_data.is_empty() {
        let _ = write!(s, "<p>{}</p>", esc(&tr.t("report-coverage-none")));
        return s;
    }
    let mut t = format!("<table class=\"coverage\"><thead><tr><th>{}</th>{heads}</tr></thead><tbody>", esc(&tr.t("report-col-indicator")));
    for r in with_data {
        let _ = write!(t, "<tr><td>{}</td>", indicator_cell(l, &r.indicator));
        for d in &c.dimensions {
            let cell = r.cells.get(d).filter(|x| x.covered);
            match cell {
                Some(x) => {
                    let codes: Vec<String> = x.codes.iter().map(|code| l.code(d, code).text).collect();
                    let _ = write!(t, "<td class=\"yes\" title=\"{}\">✓</td>", esc(&codes.join(", ")));
                }
                None => t.push_str("<td></td>"),
            }
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    s.push_str(&scroll(&t));
    s
}

/// An indicator's code and title, for a table cell.
pub fn indicator_cell(l: &Labels, code: &str) -> String {
    format!("<strong>{}</strong> {}", esc(code), l.indicator_code(code).html(l.tr))
}

/// Agency completeness, as bars on a 0–100 % axis, by the agencies' names.
pub fn completeness_chart(l: &Labels, c: &Completeness) -> String {
    let tr = l.tr;
    let rows: Vec<Bar> = c
        .by_agency
        .iter()
        .map(|r| Bar {
            label: l.agency(&r.key),
            share: r.completeness,
            caption: tr.ta(
                "report-completeness-caption",
                &[("share", tr.percent(r.completeness).into()), ("received", r.received.into()), ("expected", r.expected.into()), ("on_time", r.on_time.into())],
            ),
        })
        .collect();
    svg::bars(tr, &tr.t("report-completeness-chart"), &rows)
}

/// The migrant / non-migrant gap, as a table of labels.
pub fn gap_table(l: &Labels, g: &MigrantGap) -> String {
    let tr = l.tr;
    let cols = ["indicator", "series", "area", "period", "migrants", "non-migrants", "difference", "ratio", "unit", "source"];
    let mut s = String::from("<table class=\"gap\"><thead><tr>");
    for c in cols {
        let _ = write!(s, "<th>{}</th>", esc(&tr.t(&format!("report-col-{c}"))));
    }
    s.push_str("</tr></thead><tbody>");
    for r in &g.rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.indicator),
            l.series(&r.series).html(tr),
            l.code("ref_area", &r.ref_area).html(tr),
            esc(&r.time_period),
            value(tr, r.migrant),
            value(tr, r.non_migrant),
            value(tr, (r.difference * 1e6).round() / 1e6),
            r.ratio.map_or_else(|| tr.t("not-available"), |x| tr.number(x, 3)),
            l.unit(&r.unit_measure).html(tr),
            esc(&l.agency(&r.agency)),
        );
    }
    if g.rows.is_empty() {
        let _ = write!(s, "<tr><td colspan=\"10\">{}</td></tr>", esc(&tr.t("report-gap-none")));
    }
    s.push_str("</tbody></table>");
    scroll(&s)
}

/// A value in the reader's notation, with as many decimals as it has (at most 6).
fn value(tr: &Tr, v: f64) -> String {
    let text = format!("{v}");
    let decimals = text.split_once('.').map_or(0, |(_, f)| f.len().min(6));
    tr.number(v, decimals)
}

/// Areas by name, with their codes.
fn area_names(tr: &Tr, areas: &[Area]) -> String {
    if areas.is_empty() {
        return esc(&tr.t("report-none"));
    }
    areas.iter().map(|a| format!("{} ({})", esc(&a.label), esc(&a.code))).collect::<Vec<_>>().join(", ")
}

/// Which areas a figure compared.
fn areas_compared(tr: &Tr, r: &AreasRead) -> String {
    let id = if r.areas_from == "setting" { "report-areas-from-setting" } else { "report-areas-observed" };
    let mut s = format!("<p>{}</p>", tr.ta(id, &[("areas", area_names(tr, &r.areas).into())]));
    if !r.areas_not_compared.is_empty() {
        let _ = write!(s, "<p class=\"muted\">{}</p>", tr.ta("report-areas-not-compared", &[("areas", area_names(tr, &r.areas_not_compared).into())]));
    }
    s
}

/// The figures by area, as a table: one row per area compared.
pub fn area_table(l: &Labels, a: &AreaFigures) -> String {
    let tr = l.tr;
    let mut s = areas_compared(tr, &a.read);
    let mut t = format!(
        "<table class=\"areas\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>",
        esc(&tr.t("report-col-area")),
        esc(&tr.t("report-col-headline")),
        esc(&tr.t("report-col-produced")),
        esc(&tr.t("report-col-migration-disaggregated")),
        esc(&tr.t("figure-reporting-status-title"))
    );
    for w in ["complete", "in_progress", "not_started", "not_applicable"] {
        let _ = write!(t, "<th>{}</th>", esc(&l.status(w)));
    }
    t.push_str("</tr></thead><tbody>");
    for r in &a.by_area {
        let d = &r.disaggregation_status;
        let _ = write!(
            t,
            "<tr><td>{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.area.label),
            esc(&r.area.code),
            tr.percent(r.headline.share),
            r.headline.denominator,
            r.headline.numerator,
            tr.percent(r.reporting_status.share),
            of(tr, r.reporting_status.numerator, r.reporting_status.denominator),
            d.complete,
            d.in_progress,
            d.not_started,
            d.not_applicable
        );
    }
    if a.by_area.is_empty() {
        let _ = write!(t, "<tr><td colspan=\"9\">{}</td></tr>", esc(&tr.t("report-areas-none")));
    }
    t.push_str("</tbody></table>");
    s.push_str(&scroll(&t));
    s
}

/// The figures across areas: data on migration indicators, the headline's distribution and bands,
/// and the share of areas per indicator.
pub fn cross_area_summary(l: &Labels, c: &CrossArea) -> String {
    let tr = l.tr;
    let d = &c.data_on_migration_indicators;
    let h = &c.headline_distribution;
    let mut s = areas_compared(tr, &c.read);
    let _ = write!(
        s,
        "<p id=\"areas-with-data\">{}</p>",
        tr.ta(
            "report-areas-with-data",
            &[
                ("ratio", of(tr, d.ratio.numerator, d.ratio.denominator).into()),
                ("share", tr.percent(d.ratio.share).into()),
                ("without", area_names(tr, &d.without_data).into())
            ]
        )
    );
    let _ = write!(
        s,
        "<p>{}</p>",
        esc(&tr.ta(
            "report-headline-spread",
            &[
                ("count", h.areas_with_share.into()),
                ("min", tr.percent(h.min).into()),
                ("lower", tr.percent(h.lower_quartile).into()),
                ("median", tr.percent(h.median).into()),
                ("upper", tr.percent(h.upper_quartile).into()),
                ("max", tr.percent(h.max).into())
            ]
        ))
    );
    let mut t = format!("<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>", esc(&tr.t("report-col-headline")), esc(&tr.t("report-col-areas")));
    for b in &h.bands {
        let band = tr.lookup(&format!("report-band-{}", b.band), &[]).unwrap_or_else(|| b.label.clone());
        let _ = write!(t, "<tr><td>{}</td><td>{}</td></tr>", esc(&band), area_names(tr, &b.areas));
    }
    t.push_str("</tbody></table>");
    s.push_str(&scroll(&t));
    let mut t = format!(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(&tr.t("report-col-indicator")),
        esc(&tr.t("report-col-areas-producing")),
        esc(&tr.t("report-col-areas-migration")),
        esc(&tr.t("report-col-share-of-areas"))
    );
    for r in c.produced() {
        let _ = write!(
            t,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            indicator_cell(l, &r.indicator),
            r.producing,
            area_names(tr, &r.areas_migration_disaggregated),
            tr.percent(r.migration_disaggregated.share)
        );
    }
    t.push_str("</tbody></table>");
    s.push_str(&scroll(&t));
    s
}

/// An indicator's metadata (in the reader's languages) as a definition list.
pub fn metadata_list(tr: &Tr, m: &sdgx_schemas::Metadata, lang: &str) -> String {
    let mut s = String::from("<dl>");
    for (key, label, v) in m.fields() {
        let label = tr.lookup(&format!("report-meta-{key}"), &[]).unwrap_or_else(|| label.to_owned());
        let text = crate::i18n::Text { text: v.to_owned(), lang: lang.to_owned() };
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(&label), text.html(tr));
    }
    s.push_str("</dl>");
    s
}

/// The report, in [`Snapshot::tr`]'s language.
pub fn report(s: &Snapshot) -> String {
    let (tr, l) = (&s.tr, s.labels());
    let mut b = String::new();
    let provenance = tr.ta(
        "report-provenance",
        &[
            ("view", tr.t(&format!("view-{}", s.view)).into()),
            ("version", s.store_version.to_string().into()),
            ("committed", tr.datetime_str(&s.committed_at).into()),
            ("framework", s.framework_version.as_str().into()),
            ("generated", tr.datetime_str(&s.generated_at).into()),
        ],
    );
    let _ = write!(b, "<h1>{}</h1><p class=\"provenance\" id=\"provenance\">{}</p>", esc(&tr.t("report-title")), esc(&provenance));
    b.push_str(&headline(tr, &s.share));
    let _ = write!(b, "<section><h2>{}</h2>{}</section>", esc(&tr.t("report-by-goal")), goal_chart(&l, &s.share));
    let _ = write!(b, "<section><h2>{}</h2>{}</section>", esc(&tr.t("report-trend")), trend_chart(tr, &s.share));
    let _ = write!(
        b,
        "<section id=\"coverage\"><h2>{}</h2>{}{}</section>",
        esc(&tr.t("figure-coverage-matrix-title")),
        definition(tr, "coverage-matrix", &s.coverage.about.definition),
        coverage_tables(&l, &s.coverage)
    );
    let _ = write!(
        b,
        "<section><h2>{}</h2><p>{}</p>{}</section>",
        esc(&tr.t("figure-reporting-status-title")),
        esc(&tr.ta("report-reporting-summary", &[("ratio", of(tr, s.reporting.numerator, s.reporting.denominator).into()), ("share", tr.percent(s.reporting.share).into())])),
        definition(tr, "reporting-status", &s.reporting.about.definition)
    );
    let _ = write!(
        b,
        "<section><h2>{}</h2>{}{}</section>",
        esc(&tr.t("figure-agency-completeness-title")),
        definition(tr, "agency-completeness", &s.completeness.about.definition),
        completeness_chart(&l, &s.completeness)
    );
    let _ = write!(b, "<section><h2>{}</h2>{}{}</section>", esc(&tr.t("figure-migrant-gap-title")), definition(tr, "migrant-gap", &s.gap.about.definition), gap_table(&l, &s.gap));
    let _ = write!(
        b,
        "<section><h2>{}</h2>{}{}<h3>{}</h3>{}{}</section>",
        esc(&tr.t("figure-area-figures-title")),
        definition(tr, "area-figures", &s.areas.about.definition),
        area_table(&l, &s.areas),
        esc(&tr.t("figure-cross-area-title")),
        definition(tr, "cross-area", &s.cross_area.about.definition),
        cross_area_summary(&l, &s.cross_area)
    );
    let _ = write!(b, "<section><h2>{}</h2>", esc(&tr.t("report-methodology")));
    for ind in s.contract.framework.indicators().iter().filter(|i| i.in_scope) {
        let Some((m, lang)) = ind.metadata_in(&tr.prefs()) else { continue };
        let _ = write!(b, "<h3>{}</h3>", indicator_cell(&l, &ind.code));
        b.push_str(&metadata_list(tr, m, lang));
    }
    let _ = write!(
        b,
        "</section><section><h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(&tr.t("report-publications")),
        esc(&tr.t("report-col-agency")),
        esc(&tr.t("report-col-dataset")),
        esc(&tr.t("report-col-rows")),
        esc(&tr.t("report-col-received")),
        esc(&tr.t("report-col-store-version"))
    );
    for p in &s.publications {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&l.agency(&p.agency)),
            esc(&p.dataset),
            tr.number(p.rows as f64, 0),
            esc(&tr.datetime_str(&p.received_at)),
            p.store_version
        );
    }
    b.push_str("</tbody></table></div></section>");
    // The appendix for specialists: each figure's exact rule and the publications' hashes.
    let _ = write!(
        b,
        "<section class=\"appendix\" id=\"technical\"><h2>{}</h2><p class=\"muted\">{}</p><p class=\"muted print-only\">{}</p><dl class=\"technical-list\">",
        esc(&tr.t("report-appendix")),
        esc(&tr.t("report-appendix-note")),
        esc(&tr.t("report-appendix-print"))
    );
    let technical = [
        ("migration-disaggregation-share", &s.share.about),
        ("reporting-status", &s.reporting.about),
        ("disaggregation-status", &s.disaggregation.about),
        ("coverage-matrix", &s.coverage.about),
        ("migrant-gap", &s.gap.about),
        ("agency-completeness", &s.completeness.about),
        ("area-figures", &s.areas.about),
        ("cross-area", &s.cross_area.about),
    ];
    for (name, about) in technical {
        let title = tr.t(&format!("figure-{name}-title"));
        let _ = write!(b, "<dt>{}</dt><dd class=\"muted\">{}</dd>", esc(&title), esc(&about.definition));
    }
    let _ = write!(b, "</dl><h3>{}</h3><ul class=\"muted hashes\">", esc(&tr.t("report-col-content-hash")));
    for p in &s.publications {
        let _ = write!(b, "<li>{} / {}: <code class=\"hash\">{}</code></li>", esc(&l.agency(&p.agency)), esc(&p.dataset), esc(&p.content_hash));
    }
    b.push_str("</ul></section>");
    page(tr, &tr.t("report-page-title"), "", &b)
}

/// Record batches of observations as an HTML table of labels: column names as breakdown
/// names, codes as their labels, agencies by name (nulls blank).
pub fn batches_table(l: &Labels, batches: &[arrow::array::RecordBatch]) -> crate::error::Result<String> {
    let tr = l.tr;
    let mut s = String::from("<table class=\"rows\"><thead><tr>");
    let Some(first) = batches.first() else {
        return Ok(format!("<p>{}</p>", esc(&tr.t("report-no-observations"))));
    };
    let schema = first.schema();
    for f in schema.fields() {
        let name = match f.name().as_str() {
            "agency" => tr.t("report-col-agency"),
            "dataset" => tr.t("report-col-dataset"),
            n => l.dimension(n),
        };
        let _ = write!(s, "<th>{}</th>", esc(&name));
    }
    s.push_str("</tr></thead><tbody>");
    for b in batches {
        for i in 0..b.num_rows() {
            s.push_str("<tr>");
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                let v = if c.is_null(i) { String::new() } else { arrow::util::display::array_value_to_string(c, i)? };
                let cell = match f.name().as_str() {
                    _ if v.is_empty() => String::new(),
                    "agency" => esc(&l.agency(&v)),
                    "series" => l.series(&v).html(tr),
                    "dataset" | "time_period" => esc(&v),
                    "obs_value" => v.parse::<f64>().map_or_else(|_| esc(&v), |x| value(tr, x)),
                    col => l.code(col, &v).html(tr),
                };
                let _ = write!(s, "<td>{cell}</td>");
            }
            s.push_str("</tr>");
        }
    }
    s.push_str("</tbody></table>");
    Ok(s)
}
