//! The Open SDG data bundle, in the layout sdg-build (the Open SDG data builder) reads with
//! its default inputs: `data/*-*.csv` through `InputCsvData` and `meta/*-*.md` through
//! `InputYamlMdMeta`. Both take the indicator id from the file name, so a data file and its
//! metadata file meet only when the names agree.
//!
//! - `data/indicator_<id>.csv` per in-scope indicator with data, where `<id>` is the code with
//!   dashes for dots (`10.7.p1` → `indicator_10-7-p1.csv`; sdg-build strips `indicator_`):
//!   `Year` first; `Series` and `Units` (names, not codes); one column per disaggregation,
//!   headed and filled with the codelists' labels (a blank cell means total); `Geography` (the
//!   area's name) and `GeoCode` (its `CL_AREA` code, for maps) when there are data below the
//!   national level; `Value` last. sdg-build treats `Year`, `Series`, `Units`, `GeoCode` and
//!   `Value` as non-disaggregation columns; every other column is a disaggregation, and the
//!   rows with all of them blank are the headline: one per year, series and unit.
//! - `meta/<id>.md` per in-scope indicator: YAML front matter (then an empty page body) with
//!   the fields Open SDG shows: `indicator_number`, `indicator_name`, `reporting_status`,
//!   `graph_title`, `national_geographical_coverage` (the national area's name),
//!   `expected_disaggregations`, one `source_active_<n>` / `source_organisation_<n>` pair per
//!   publishing agency (its name from the agency registry), `footer_fields` for the breakdowns
//!   every row shares (shown under the chart and table), the national metadata template under
//!   the SDG metadata concept keys of Open SDG's default schema ([`METADATA_CONCEPTS`]), and
//!   the store version.
//! - `about.json`: the store version, framework version, generation time, the definition of
//!   every figure, each indicator's population (the breakdowns with one and the same code on
//!   every row, such as "Migratory status: Returned migrant": no column, since they are not a
//!   disaggregation, and a footer field on the page), and the observations left out (Open SDG
//!   charts years of annual data: other frequencies, suppressed cells without a value, repeated
//!   rows and indicators out of scope are listed there).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use sdgx_schemas::framework::Indicator;
use sdgx_schemas::observation::{is_breakdown, is_suppressed, Role, COLUMNS};
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

/// The disaggregation column of the area below the national level (its name; `GeoCode` holds
/// its code).
pub const GEOGRAPHY: &str = "Geography";

/// The columns sdg-build does not treat as disaggregations, among those the bundle writes.
pub const NON_DISAGGREGATION_COLUMNS: [&str; 5] = ["Year", "Series", "Units", "GeoCode", "Value"];

/// Each field of the national metadata template and the SDG metadata concept key Open SDG's
/// default metadata schema shows it under.
pub const METADATA_CONCEPTS: [(&str, &str); 11] = [
    ("definitions", "STAT_CONC_DEF"),
    ("goal_and_target", "SDG_RELATED_INDICATORS"),
    ("unit_of_measurement", "UNIT_MEASURE"),
    ("international_standards", "CLASS_SYSTEM"),
    ("data_sources", "SOURCE_TYPE"),
    ("methodology", "DATA_COMP"),
    ("periodicity", "FREQ_COLL"),
    ("disaggregation", "COVERAGE"),
    ("lead_actor", "CONTACT_ORGANISATION"),
    ("other_actors", "DATA_SOURCE"),
    ("comments", "REC_USE_LIM"),
];

/// How many numbered sources an Open SDG indicator page lists.
pub const MAX_SOURCES: usize = 12;

/// The label of a breakdown column.
pub fn dimension_label(column: &str) -> &str {
    DIMENSION_LABELS.iter().find(|(c, _)| *c == column).map_or(column, |(_, l)| *l)
}

/// `10.7.p1` → `10-7-p1`: the indicator id sdg-build reads from the file names.
pub fn slug(code: &str) -> String {
    code.replace('.', "-")
}

/// The path of an indicator's data file in the bundle.
pub fn data_path(code: &str) -> String {
    format!("data/indicator_{}.csv", slug(code))
}

/// The path of an indicator's metadata file in the bundle.
pub fn meta_path(code: &str) -> String {
    format!("meta/{}.md", slug(code))
}

/// One indicator's data file and what the page says about it.
struct DataFile {
    /// The CSV text.
    csv: String,
    /// The breakdowns every row shares: (column label, code label).
    population: Vec<(String, String)>,
}

/// The bundle's files: (path inside the bundle, contents).
pub fn bundle(s: &Snapshot) -> Vec<(String, Vec<u8>)> {
    let mut by_indicator: BTreeMap<&str, Vec<&Obs>> = BTreeMap::new();
    for o in &s.observations {
        by_indicator.entry(o.get("indicator")).or_default().push(o);
    }
    let mut files = Vec::new();
    let mut left_out = Vec::new();
    let mut data = BTreeMap::new();
    for (code, obs) in &by_indicator {
        let skipped = if s.contract.framework.indicator(code).is_some_and(|i| i.in_scope) {
            let (file, skipped) = indicator_csv(s, obs);
            if let Some(f) = file {
                data.insert(*code, f);
            }
            skipped
        } else {
            obs.iter().map(|o| (*o, "indicator not in scope of the national framework: no page on the site")).collect()
        };
        left_out.extend(skipped.into_iter().map(|(o, why)| json!({
            "agency": o.agency, "dataset": o.dataset, "indicator": code, "series": o.get("series"),
            "ref_area": o.get("ref_area"), "time_period": o.get("time_period"), "reason": why,
        })));
    }
    for (code, f) in &data {
        files.push((data_path(code), f.csv.clone().into_bytes()));
    }
    for ind in s.contract.framework.indicators().iter().filter(|i| i.in_scope) {
        let agencies: BTreeSet<&str> = by_indicator.get(ind.code.as_str()).into_iter().flatten().map(|o| o.agency.as_str()).collect();
        files.push((meta_path(&ind.code), meta(s, ind, data.get(ind.code.as_str()), &agencies).into_bytes()));
    }
    let populations: BTreeMap<&str, Vec<String>> = data
        .iter()
        .filter(|(_, f)| !f.population.is_empty())
        .map(|(code, f)| (*code, f.population.iter().map(|(d, v)| format!("{d}: {v}")).collect()))
        .collect();
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
fn indicator_csv<'a>(s: &Snapshot, obs: &[&'a Obs]) -> (Option<DataFile>, Vec<(&'a Obs, &'static str)>) {
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
    let Some(first) = usable.first() else {
        return (None, skipped);
    };
    // A breakdown with one and the same code on every row (e.g. every row is about asylum
    // seekers) defines the indicator's population, not a disaggregation: it gets no column, so
    // that the rows stay totals, and the page states it in a footer field.
    let mut dims = Vec::new();
    let mut population = Vec::new();
    for c in COLUMNS.iter().filter(|c| c.role == Role::Breakdown) {
        let code = first.get(c.name);
        if usable.iter().any(|o| o.get(c.name) != code) {
            dims.push(c.name);
        } else if !code.is_empty() && is_breakdown(code) {
            population.push((dimension_label(c.name).to_owned(), s.label(c.name, code)));
        }
    }
    let has_series = usable.iter().any(|o| !o.get("series").is_empty());
    let geo = usable.iter().any(|o| o.get("ref_area") != s.national_area);
    let mut header = vec!["Year".to_owned()];
    if has_series {
        header.push("Series".into());
    }
    header.push("Units".into());
    header.extend(dims.iter().map(|d| dimension_label(d).to_owned()));
    if geo {
        header.push(GEOGRAPHY.into());
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
            let national = area == s.national_area;
            r.push(if national { String::new() } else { s.label("ref_area", area) });
            r.push(if national { String::new() } else { area.to_owned() });
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
    let csv = String::from_utf8(w.into_inner().expect("memory")).expect("UTF-8");
    (Some(DataFile { csv, population }), skipped)
}

/// An indicator's metadata file: YAML front matter (values as JSON, which YAML reads) and an
/// empty page body. `data` is its data file, if any; `agencies` published its observations.
fn meta(s: &Snapshot, ind: &Indicator, data: Option<&DataFile>, agencies: &BTreeSet<&str>) -> String {
    let q = |v: &str| serde_json::to_string(v).expect("JSON string");
    let mut out = String::from("---\n");
    let mut field = |k: &str, v: String| out.push_str(&format!("{k}: {v}\n"));
    field("indicator_number", q(&ind.code));
    field("indicator_name", q(&ind.title));
    field("target_id", q(&ind.target));
    field("sdg_goal", q(&ind.goal.to_string()));
    field("reporting_status", q(if data.is_some() { "complete" } else { "notstarted" }));
    field("data_non_statistical", "false".into());
    field("graph_type", q("line"));
    field("graph_title", q(&ind.title));
    field("national_indicator", ind.national.to_string());
    field("national_geographical_coverage", q(&s.label("ref_area", &s.national_area)));
    let expected: Vec<String> = ind.expected_disaggregations.iter().map(|d| q(dimension_label(d))).collect();
    field("expected_disaggregations", format!("[{}]", expected.join(", ")));
    // One numbered source per agency, as many as a page lists; past that the last holds the rest.
    let mut sources: Vec<String> = agencies.iter().map(|a| s.agency_name(a).to_owned()).collect();
    if sources.len() > MAX_SOURCES {
        let rest = sources.split_off(MAX_SOURCES - 1).join(", ");
        sources.push(rest);
    }
    for (n, name) in sources.iter().enumerate() {
        field(&format!("source_active_{}", n + 1), "true".into());
        field(&format!("source_organisation_{}", n + 1), q(name));
    }
    if let Some(f) = data.filter(|f| !f.population.is_empty()) {
        let fields: Vec<String> = f.population.iter().map(|(d, v)| json!({"label": d, "value": v}).to_string()).collect();
        field("footer_fields", format!("[{}]", fields.join(", ")));
    }
    for (k, _, v) in ind.metadata.as_ref().map(|m| m.fields()).unwrap_or_default() {
        let key = METADATA_CONCEPTS.iter().find(|(f, _)| *f == k).map_or(k, |(_, c)| *c);
        field(key, q(v));
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

#[cfg(test)]
mod tests {
    use super::*;
    use sdgx_schemas::manifest::Metadata;

    #[test]
    fn every_field_of_the_metadata_template_has_one_open_sdg_concept_and_the_names_meet() {
        let text = Some("x".to_owned());
        let m = Metadata {
            definitions: text.clone(),
            goal_and_target: text.clone(),
            unit_of_measurement: text.clone(),
            international_standards: text.clone(),
            data_sources: text.clone(),
            methodology: text.clone(),
            periodicity: text.clone(),
            disaggregation: text.clone(),
            lead_actor: text.clone(),
            other_actors: text.clone(),
            comments: text,
        };
        let keys: Vec<&str> = m.fields().iter().map(|(k, _, _)| *k).collect();
        assert_eq!(keys, METADATA_CONCEPTS.map(|(k, _)| k), "one concept per template field, in order");
        let concepts: BTreeSet<&str> = METADATA_CONCEPTS.iter().map(|(_, c)| *c).collect();
        assert_eq!(concepts.len(), METADATA_CONCEPTS.len(), "no two fields share a concept");
        // sdg-build takes the id from the data file name without `indicator_`, and from the
        // metadata file name as it is.
        let id = |p: &str| p.rsplit('/').next().unwrap().split('.').next().unwrap().trim_start_matches("indicator_").to_owned();
        assert_eq!(id(&data_path("10.7.p1")), "10-7-p1");
        assert_eq!(id(&data_path("10.7.p1")), id(&meta_path("10.7.p1")));
    }
}
