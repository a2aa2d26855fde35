//! The Open SDG data bundle: what a national Open SDG site builds from.
//!
//! - `data/indicator_<code>.csv` per indicator with data (dots in the code become dashes:
//!   `indicator_10-7-p1.csv`): `Year` first; then `Series` and `Units` when the indicator has
//!   them; then one column per disaggregation the indicator has, headed and filled with
//!   human-readable labels (a blank cell means total); then `GeoCode` when there are data below
//!   the national level; `Value` last. Rows with every disaggregation blank are the headline;
//!   there is one per year, series and unit.
//! - `meta/indicator_<code>.md` per indicator of the framework in scope: YAML front matter with
//!   the national metadata template fields, `reporting_status` and `expected_disaggregations`.
//! - `about.json`: the store version, framework version, generation time, the definition of
//!   every figure, each indicator's population (a breakdown with the same code on every row,
//!   such as "Migratory status: Asylum seekers", gets no column: it is not a disaggregation),
//!   and the observations left out (Open SDG charts years of annual data: other
//!   frequencies, suppressed cells without a value, and repeated rows are listed there).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use sdgx_schemas::observation::{is_breakdown, is_suppressed, COLUMNS};
use serde_json::json;

use super::{Obs, Snapshot};
use crate::error::{Error, Result};

/// The human-readable name of each breakdown column.
pub const DIMENSION_LABELS: [(&str, &str); 12] = [
    ("sex", "Sex"),
    ("age", "Age"),
    ("urbanisation", "Urbanisation"),
    ("income_wealth_quantile", "Income or wealth quantile"),
    ("education_lev", "Education level"),
    ("occupation", "Occupation"),
    ("cust_breakdown", "Custom breakdown"),
    ("composite_breakdown", "Composite breakdown"),
    ("disability_status", "Disability status"),
    ("activity", "Economic activity"),
    ("product", "Product"),
    ("migratory_status", "Migratory status"),
];

/// The label of a breakdown column.
pub fn dimension_label(column: &str) -> &str {
    DIMENSION_LABELS.iter().find(|(c, _)| *c == column).map_or(column, |(_, l)| *l)
}

/// `10.7.p1` → `10-7-p1`.
pub fn slug(code: &str) -> String {
    code.replace('.', "-")
}

/// The bundle's files: (path inside the bundle, contents).
pub fn bundle(s: &Snapshot) -> Vec<(String, Vec<u8>)> {
    let mut by_indicator: BTreeMap<&str, Vec<&Obs>> = BTreeMap::new();
    for o in &s.observations {
        by_indicator.entry(o.get("indicator")).or_default().push(o);
    }
    let mut files = Vec::new();
    let mut left_out = Vec::new();
    let mut populations = BTreeMap::new();
    for (code, obs) in &by_indicator {
        let (csv, skipped) = indicator_csv(s, obs);
        left_out.extend(skipped.into_iter().map(|(o, why)| json!({
            "agency": o.agency, "dataset": o.dataset, "indicator": code, "series": o.get("series"),
            "ref_area": o.get("ref_area"), "time_period": o.get("time_period"), "reason": why,
        })));
        if let Some(csv) = csv {
            files.push((format!("data/indicator_{}.csv", slug(code)), csv.into_bytes()));
        }
        let population: Vec<String> = DIMENSION_LABELS
            .iter()
            .filter(|(c, _)| is_breakdown(obs[0].get(c)) && obs.iter().all(|o| o.get(c) == obs[0].get(c)))
            .map(|(c, l)| format!("{l}: {}", s.label(c, obs[0].get(c))))
            .collect();
        if !population.is_empty() {
            populations.insert((*code).to_owned(), population);
        }
    }
    for ind in s.contract.framework.indicators().iter().filter(|i| i.in_scope) {
        let has_data = files.iter().any(|(p, _)| *p == format!("data/indicator_{}.csv", slug(&ind.code)));
        files.push((format!("meta/indicator_{}.md", slug(&ind.code)), meta(s, ind, has_data).into_bytes()));
    }
    let about = json!({
        "provenance": s.provenance(),
        "store_version": s.store_version,
        "framework_version": s.framework_version,
        "generated_at": s.generated_at,
        "definitions": s.definitions().into_iter().map(|(n, d)| json!({"figure": n, "definition": d})).collect::<Vec<_>>(),
        "populations": populations,
        "left_out": left_out,
    });
    files.push(("about.json".into(), serde_json::to_vec_pretty(&about).expect("JSON")));
    files
}

/// One indicator's data file (none when no row can go in), and the observations left out.
fn indicator_csv<'a>(s: &Snapshot, obs: &[&'a Obs]) -> (Option<String>, Vec<(&'a Obs, &'static str)>) {
    let mut skipped = Vec::new();
    let usable: Vec<&Obs> = obs
        .iter()
        .copied()
        .filter(|o| {
            let why = if o.get("freq") != "A" {
                Some("not annual: Open SDG charts years")
            } else if is_suppressed(o.get("conf_status")) || o.value.is_none() {
                Some("no value (suppressed or missing)")
            } else {
                None
            };
            if let Some(w) = why {
                skipped.push((*o, w));
            }
            why.is_none()
        })
        .collect();
    if usable.is_empty() {
        return (None, skipped);
    }
    // A breakdown with one and the same code on every row (e.g. every row is about asylum
    // seekers) defines the indicator's population, not a disaggregation: it gets no column, so
    // that the rows stay totals (it is stated in about.json).
    let dims: Vec<&str> = COLUMNS
        .iter()
        .filter(|c| c.role == sdgx_schemas::observation::Role::Breakdown && usable.iter().any(|o| is_breakdown(o.get(c.name))))
        .filter(|c| usable.iter().any(|o| o.get(c.name) != usable[0].get(c.name)))
        .map(|c| c.name)
        .collect();
    let has_series = usable.iter().any(|o| !o.get("series").is_empty());
    let geo = usable.iter().any(|o| o.get("ref_area") != s.national_area);
    let mut header = vec!["Year".to_owned()];
    if has_series {
        header.push("Series".into());
    }
    header.push("Units".into());
    header.extend(dims.iter().map(|d| dimension_label(d).to_owned()));
    if geo {
        header.push("GeoCode".into());
    }
    header.push("Value".into());
    let mut seen = BTreeSet::new();
    let mut rows = Vec::new();
    for o in usable {
        let mut r = vec![o.get("time_period")[..4.min(o.get("time_period").len())].to_owned()];
        if has_series {
            let series = o.get("series");
            r.push(s.contract.framework.series(series).map_or_else(|| series.to_owned(), |x| x.name.clone()));
        }
        r.push(s.label("unit_measure", o.get("unit_measure")));
        for d in &dims {
            let code = o.get(d);
            r.push(if is_breakdown(code) { s.label(d, code) } else { String::new() });
        }
        if geo {
            let area = o.get("ref_area");
            r.push(if area == s.national_area { String::new() } else { area.to_owned() });
        }
        if !seen.insert(r.clone()) {
            skipped.push((o, "repeats a row already in the file (the same indicator published twice)"));
            continue;
        }
        r.push(o.value.expect("filtered").to_string());
        rows.push(r);
    }
    rows.sort();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).expect("memory");
    for r in rows {
        w.write_record(&r).expect("memory");
    }
    (Some(String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8")), skipped)
}

/// An indicator's metadata file: YAML front matter (values as JSON strings, which YAML reads).
fn meta(s: &Snapshot, ind: &sdgx_schemas::framework::Indicator, has_data: bool) -> String {
    let q = |v: &str| serde_json::to_string(v).expect("JSON string");
    let mut out = String::from("---\n");
    let mut field = |k: &str, v: String| out.push_str(&format!("{k}: {v}\n"));
    field("indicator_number", q(&ind.code));
    field("indicator_name", q(&ind.title));
    field("target_id", q(&ind.target));
    field("sdg_goal", q(&ind.goal.to_string()));
    field("reporting_status", q(if has_data { "complete" } else { "notstarted" }));
    field("data_non_statistical", "false".into());
    field("graph_type", q("line"));
    field("graph_title", q(&ind.title));
    field("national_indicator", ind.national.to_string());
    let expected: Vec<String> = ind.expected_disaggregations.iter().map(|d| q(dimension_label(d))).collect();
    field("expected_disaggregations", format!("[{}]", expected.join(", ")));
    let agencies: BTreeSet<&str> = s.observations.iter().filter(|o| o.get("indicator") == ind.code).map(|o| o.agency.as_str()).collect();
    if !agencies.is_empty() {
        field("source_active_1", "true".into());
        field("source_organisation_1", q(&agencies.into_iter().collect::<Vec<_>>().join(", ")));
    }
    for (k, _, v) in ind.metadata.as_ref().map(|m| m.fields()).unwrap_or_default() {
        field(k, q(v));
    }
    field("sdgx_store_version", s.store_version.to_string());
    field("sdgx_framework_version", q(&s.framework_version));
    field("sdgx_generated_at", q(&s.generated_at));
    out.push_str("---\n");
    out
}

/// The bundle as a zip archive.
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in files {
        z.start_file(path.as_str(), opts).map_err(|e| Error::Internal(format!("zip: {e}")))?;
        z.write_all(bytes).map_err(|e| Error::Internal(format!("zip: {e}")))?;
    }
    Ok(z.finish().map_err(|e| Error::Internal(format!("zip: {e}")))?.into_inner())
}

/// Writes the bundle as a directory.
pub fn write_dir(files: &[(String, Vec<u8>)], dir: &std::path::Path) -> Result<()> {
    for (path, bytes) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("inside the bundle")).map_err(Error::io(p.parent().expect("dir")))?;
        std::fs::write(&p, bytes).map_err(Error::io(&p))?;
    }
    Ok(())
}
