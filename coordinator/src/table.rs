//! Plain-text rendering of the figures for the `figures` command.

use std::fmt::Write;

use crate::figures::areas::{Area, AreaFigures, AreasRead};
use crate::figures::completeness::Completeness;
use crate::figures::cross_area::CrossArea;
use crate::figures::coverage::CoverageMatrix;
use crate::figures::disaggregation::DisaggregationStatus;
use crate::figures::gap::MigrantGap;
use crate::figures::{About, Figure, MigrationShare, Ratio, ReportingStatus};

fn pct(r: &Ratio) -> String {
    match r.share {
        Some(s) => format!("{:>6.1}%  ({}/{})", s * 100.0, r.numerator, r.denominator),
        None => format!("{:>7}  ({}/{})", "n/a", r.numerator, r.denominator),
    }
}

/// Renders the headline figure as a readable table.
pub fn migration_share(m: &MigrationShare) -> String {
    let mut s = String::new();
    let head = Ratio { numerator: m.numerator, denominator: m.denominator, share: m.share };
    header(&mut s, "Proportion of SDG indicators produced at the national level with migration disaggregation", &m.about);
    let _ = writeln!(s, "  headline (of indicators produced)          {}", pct(&head));
    let _ = writeln!(s, "  of in-scope migration-relevant indicators  {}", pct(&m.migration_relevant));
    let _ = writeln!(s, "  of all in-scope indicators                 {}", pct(&m.all_in_scope));
    let _ = writeln!(s, "\n  goal  {:<22} {:<22} {:<22}", "headline", "migration-relevant", "all in scope");
    for g in &m.by_goal {
        let opt = |r: &Option<Ratio>| r.as_ref().map_or_else(String::new, pct);
        let _ = writeln!(s, "  {:>4}  {:<22} {:<22} {:<22}", g.key, pct(&g.headline), opt(&g.migration_relevant), opt(&g.all_in_scope));
    }
    let _ = writeln!(s, "\n  agency                 of its indicators produced");
    for a in &m.by_agency {
        let _ = writeln!(s, "  {:<22} {}", a.key, pct(&a.headline));
    }
    let _ = writeln!(s, "\n  year   trend: indicators produced that year");
    for y in &m.by_year {
        let _ = writeln!(s, "  {:<6} {}", y.key, pct(&y.headline));
    }
    let _ = writeln!(s, "\n  migration-disaggregated: {}", list(&m.migration_disaggregated));
    let _ = writeln!(s, "  produced: {}", list(&m.produced));
    s
}

/// Renders reporting status as a readable table.
pub fn reporting_status(r: &ReportingStatus) -> String {
    let mut s = String::new();
    let head = Ratio { numerator: r.numerator, denominator: r.denominator, share: r.share };
    header(&mut s, "Reporting status: in-scope indicators reported", &r.about);
    let _ = writeln!(s, "  national  {}", pct(&head));
    for (g, ratio) in &r.by_goal {
        let _ = writeln!(s, "  goal {g:>2}   {}", pct(ratio));
    }
    let _ = writeln!(s, "  out of scope: {}", list(&r.out_of_scope));
    s
}

/// Renders any figure as a readable table.
pub fn render(f: &Figure) -> String {
    match f {
        Figure::MigrationShare(m) => migration_share(m),
        Figure::ReportingStatus(r) => reporting_status(r),
        Figure::DisaggregationStatus(d) => disaggregation_status(d),
        Figure::CoverageMatrix(c) => coverage_matrix(c),
        Figure::MigrantGap(g) => migrant_gap(g),
        Figure::Completeness(c) => completeness(c),
        Figure::AreaFigures(a) => area_figures(a),
        Figure::CrossArea(c) => cross_area(c),
    }
}

fn header(s: &mut String, title: &str, a: &About) {
    let _ = writeln!(s, "{title}");
    header_line(s, a);
}

/// What a figure read: the view, the store version, the framework and the window.
fn header_line(s: &mut String, a: &About) {
    let _ = writeln!(s, "{} view, store version {}, framework {}, window {}", a.view, a.store_version, a.framework_version, window(a.window.from, a.window.to));
}

/// Renders disaggregation status.
pub fn disaggregation_status(d: &DisaggregationStatus) -> String {
    let mut s = String::new();
    header(&mut s, "Disaggregation status: expected disaggregations published", &d.about);
    let _ = writeln!(s, "  {:<10} {:>9} {:>12} {:>12} {:>15} {:>11}", "", "complete", "in progress", "not started", "not applicable", "indicators");
    for c in std::iter::once(&d.national).chain(&d.by_goal).chain(&d.by_agency) {
        let key = if c.key.chars().all(|ch| ch.is_ascii_digit()) { format!("goal {}", c.key) } else { c.key.clone() };
        let _ = writeln!(s, "  {:<10} {:>9} {:>12} {:>12} {:>15} {:>11}", key, c.complete, c.in_progress, c.not_started, c.not_applicable, c.indicators);
    }
    s
}

/// Renders the coverage matrix (indicators with any breakdown only).
pub fn coverage_matrix(c: &CoverageMatrix) -> String {
    let mut s = String::new();
    header(&mut s, "Coverage matrix: breakdowns published per indicator (x = covered; indicators with none omitted)", &c.about);
    let short = |d: &str| match d {
        "migratory_status" => "migrant",
        "disability_status" => "disabil.",
        "urbanisation" => "urban.",
        "income_wealth_quantile" => "income",
        "geography" => "geo",
        other => other,
    }
    .to_owned();
    let _ = writeln!(s, "  {:<10} {}", "indicator", c.dimensions.iter().map(|d| format!("{:<9}", short(d))).collect::<String>());
    for r in c.rows.iter().filter(|r| r.cells.values().any(|c| c.covered)) {
        let cells: String = c.dimensions.iter().map(|d| format!("{:<9}", if r.cells.get(d).is_some_and(|c| c.covered) { "x" } else { "." })).collect();
        let _ = writeln!(s, "  {:<10} {cells}", r.indicator);
    }
    s
}

/// Renders the migrant gap.
pub fn migrant_gap(g: &MigrantGap) -> String {
    let mut s = String::new();
    header(&mut s, "Migrant gap: migrant vs non-migrant values (all other breakdowns total)", &g.about);
    let _ = writeln!(s, "  {:<9} {:<14} {:<6} {:<8} {:>10} {:>12} {:>11} {:>7} unit", "indicator", "series", "area", "period", "migrant", "non-migrant", "difference", "ratio");
    for r in &g.rows {
        let ratio = r.ratio.map_or_else(|| "n/a".into(), |x| format!("{x:.3}"));
        let _ = writeln!(s, "  {:<9} {:<14} {:<6} {:<8} {:>10} {:>12} {:>11} {:>7} {}", r.indicator, r.series, r.ref_area, r.time_period, r.migrant, r.non_migrant, format!("{:.3}", r.difference), ratio, r.unit_measure);
    }
    if g.rows.is_empty() {
        let _ = writeln!(s, "  (no migrant / non-migrant pairs)");
    }
    s
}

/// Renders completeness and timeliness.
pub fn completeness(c: &Completeness) -> String {
    let mut s = String::new();
    header(&mut s, "Agency completeness and timeliness (reporting calendar)", &c.about);
    let _ = writeln!(s, "reference time {}", c.reference_time);
    let p = |x: Option<f64>| x.map_or_else(|| "n/a".into(), |x| format!("{:.1}%", x * 100.0));
    let _ = writeln!(s, "  {:<12} {:>8} {:>8} {:>8} {:>12} {:>11}", "agency", "expected", "received", "on time", "completeness", "timeliness");
    for r in c.by_agency.iter().chain(std::iter::once(&c.national)) {
        let _ = writeln!(s, "  {:<12} {:>8} {:>8} {:>8} {:>12} {:>11}", r.key, r.expected, r.received, r.on_time, p(r.completeness), p(r.timeliness));
    }
    s
}

/// Which areas were compared.
fn areas_line(s: &mut String, r: &AreasRead) {
    let from = if r.areas_from == "setting" { "the areas setting" } else { "observed (the areas setting is empty)" };
    let _ = writeln!(s, "areas compared, {from}: {}", areas(&r.areas));
    if !r.areas_not_compared.is_empty() {
        let _ = writeln!(s, "observed, not compared: {}", areas(&r.areas_not_compared));
    }
}

/// Renders the figures by area.
pub fn area_figures(a: &AreaFigures) -> String {
    let mut s = String::new();
    header(&mut s, "Figures by area: each area's own observations", &a.about);
    areas_line(&mut s, &a.read);
    let _ = writeln!(s, "\n  {:<24} {:<22} {:<22} {:>9} {:>12} {:>12} {:>15}", "area", "headline", "reporting status", "complete", "in progress", "not started", "not applicable");
    for r in &a.by_area {
        let d = &r.disaggregation_status;
        let _ = writeln!(
            s,
            "  {:<24} {:<22} {:<22} {:>9} {:>12} {:>12} {:>15}",
            format!("{} ({})", r.area.label, r.area.code),
            pct(&r.headline),
            pct(&r.reporting_status),
            d.complete,
            d.in_progress,
            d.not_started,
            d.not_applicable
        );
    }
    s
}

/// Renders the figures across areas.
pub fn cross_area(c: &CrossArea) -> String {
    let mut s = String::new();
    header(&mut s, "Figures across areas", &c.about);
    areas_line(&mut s, &c.read);
    let d = &c.data_on_migration_indicators;
    let _ = writeln!(s, "  areas with data on migration-relevant indicators  {}", pct(&d.ratio));
    let _ = writeln!(s, "  without: {}", areas(&d.without_data));
    let h = &c.headline_distribution;
    let p = |x: Option<f64>| x.map_or_else(|| "n/a".into(), |x| format!("{:.1}%", x * 100.0));
    let _ = writeln!(
        s,
        "\n  headline across {} areas with a share: min {}, lower quartile {}, median {}, upper quartile {}, max {}",
        h.areas_with_share, p(h.min), p(h.lower_quartile), p(h.median), p(h.upper_quartile), p(h.max)
    );
    for b in &h.bands {
        let _ = writeln!(s, "  {:<28} {}", b.label, areas(&b.areas));
    }
    let _ = writeln!(s, "\n  indicator  areas producing  areas migration-disaggregated");
    for r in &c.by_indicator {
        let _ = writeln!(s, "  {:<10} {:>15}  {}", r.indicator, r.producing, pct(&r.migration_disaggregated));
    }
    s
}

fn areas(v: &[Area]) -> String {
    if v.is_empty() { "(none)".into() } else { v.iter().map(|a| format!("{} ({})", a.label, a.code)).collect::<Vec<_>>().join(", ") }
}

fn window(from: Option<i32>, to: Option<i32>) -> String {
    match (from, to) {
        (None, None) => "all years".into(),
        (f, t) => format!("{}-{}", f.map_or("…".into(), |x| x.to_string()), t.map_or("…".into(), |x| x.to_string())),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "(none)".into() } else { v.join(", ") }
}
