//! Plain-text rendering of the figures for the `figures` command.

use std::fmt::Write;

use crate::figures::{MigrationShare, Ratio, ReportingStatus};

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
    let _ = writeln!(s, "Proportion of SDG indicators produced at the national level with migration disaggregation");
    let _ = writeln!(s, "store version {}, framework {}, window {}", m.about.store_version, m.about.framework_version, window(m.about.window.from, m.about.window.to));
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
    let _ = writeln!(s, "\n  migration-disaggregated: {}", list(&m.migration_disaggregated));
    let _ = writeln!(s, "  produced: {}", list(&m.produced));
    s
}

/// Renders reporting status as a readable table.
pub fn reporting_status(r: &ReportingStatus) -> String {
    let mut s = String::new();
    let head = Ratio { numerator: r.numerator, denominator: r.denominator, share: r.share };
    let _ = writeln!(s, "Reporting status: in-scope indicators reported");
    let _ = writeln!(s, "store version {}, framework {}, window {}", r.about.store_version, r.about.framework_version, window(r.about.window.from, r.about.window.to));
    let _ = writeln!(s, "  national  {}", pct(&head));
    for (g, ratio) in &r.by_goal {
        let _ = writeln!(s, "  goal {g:>2}   {}", pct(ratio));
    }
    let _ = writeln!(s, "  out of scope: {}", list(&r.out_of_scope));
    s
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
