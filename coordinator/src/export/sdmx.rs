//! SDMX-CSV for the global SDG dataflow, versions 1.0 and 2.0.
//!
//! Columns follow the global DSD `IAEG-SDGs:SDG(1.14)`: the 16 dimensions in order (FREQ,
//! REPORTING_TYPE, SERIES, REF_AREA, SEX, AGE, URBANISATION, INCOME_WEALTH_QUANTILE,
//! EDUCATION_LEV, OCCUPATION, CUST_BREAKDOWN, COMPOSITE_BREAKDOWN, DISABILITY_STATUS, ACTIVITY,
//! PRODUCT, TIME_PERIOD), `OBS_VALUE`, then the attributes the contract carries, in the DSD's
//! order (OBS_STATUS, UNIT_MULT, UNIT_MEASURE, NATURE, COMMENT_OBS, UPPER_BOUND, LOWER_BOUND).
//! 1.0 starts with `DATAFLOW`; 2.0 with `STRUCTURE` (`dataflow`), `STRUCTURE_ID` and
//! `ACTION` (`I`, information).
//!
//! The global structure has no migratory-status dimension: a `migratory_status` code goes into
//! COMPOSITE_BREAKDOWN when that is `_T`. An observation that the global structure cannot
//! carry is left out and listed in the [`report`] with the reason, never dropped silently:
//!
//! - a national proxy indicator, or a series that is not a global SERIES code;
//! - a national extension code (a code not in the global codelist) in any coded column;
//! - migratory status crossed with another composite breakdown (COMPOSITE_BREAKDOWN holds one);
//! - a second observation with the same SDMX key (the same series published twice).
//!
//! The DSD has no confidentiality attribute: a suppressed cell (`conf_status` C, D or N) is
//! exported with an empty OBS_VALUE, OBS_STATUS `Q` ("missing value; suppressed") and the
//! confidentiality status in COMMENT_OBS.

use std::collections::HashSet;
use std::fmt::Write;
use std::sync::OnceLock;

use sdgx_schemas::codelist::Codelists;
use sdgx_schemas::framework::Framework;
use sdgx_schemas::observation::{is_breakdown, is_suppressed, COLUMNS};

use super::{Obs, Snapshot};

/// The dataflow the files are for.
pub const DATAFLOW: &str = "IAEG-SDGs:DF_SDG_GLH(1.24)";

/// The DSD's dimensions, in order, with the contract column of each.
pub const DIMENSIONS: [(&str, &str); 16] = [
    ("FREQ", "freq"),
    ("REPORTING_TYPE", "reporting_type"),
    ("SERIES", "series"),
    ("REF_AREA", "ref_area"),
    ("SEX", "sex"),
    ("AGE", "age"),
    ("URBANISATION", "urbanisation"),
    ("INCOME_WEALTH_QUANTILE", "income_wealth_quantile"),
    ("EDUCATION_LEV", "education_lev"),
    ("OCCUPATION", "occupation"),
    ("CUST_BREAKDOWN", "cust_breakdown"),
    ("COMPOSITE_BREAKDOWN", "composite_breakdown"),
    ("DISABILITY_STATUS", "disability_status"),
    ("ACTIVITY", "activity"),
    ("PRODUCT", "product"),
    ("TIME_PERIOD", "time_period"),
];

/// The attributes exported, in the DSD's order.
pub const ATTRIBUTES: [&str; 7] = ["OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE", "NATURE", "COMMENT_OBS", "UPPER_BOUND", "LOWER_BOUND"];

/// SDMX-CSV version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SDMX-CSV 1.0.
    V1,
    /// SDMX-CSV 2.0.
    V2,
}

/// An observation left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Excluded<'a> {
    /// The observation.
    pub obs: &'a Obs,
    /// Why the global structure cannot carry it.
    pub reason: String,
}

fn global() -> &'static (Codelists, Framework) {
    static G: OnceLock<(Codelists, Framework)> = OnceLock::new();
    G.get_or_init(|| (Codelists::global(), Framework::global()))
}

/// The SDMX row of an observation (dimensions, OBS_VALUE, attributes), or why there is none.
fn row(s: &Snapshot, o: &Obs) -> Result<Vec<String>, String> {
    let (codelists, framework) = global();
    let indicator = o.get("indicator");
    if s.contract.framework.indicator(indicator).is_some_and(|i| i.national) {
        return Err(format!("national proxy indicator {indicator} is not in the global framework"));
    }
    let series = o.get("series");
    if series.is_empty() {
        return Err(format!("indicator {indicator} has no SDMX series"));
    }
    if framework.series(series).is_none() {
        return Err(format!("series {series} is not a global SERIES code"));
    }
    for c in COLUMNS.iter().filter(|c| c.codelist.is_some() && c.name != "migratory_status" && c.name != "series") {
        let code = o.get(c.name);
        if !code.is_empty() && !codelists.contains(c.codelist.expect("coded"), code) {
            return Err(format!("national extension code {code} in {}", c.name));
        }
    }
    let mut composite = o.get("composite_breakdown").to_owned();
    let ms = o.get("migratory_status");
    if is_breakdown(ms) {
        if !codelists.contains("CL_COMP_BREAKDOWN", ms) {
            return Err(format!("national extension code {ms} in migratory_status"));
        }
        if is_breakdown(&composite) {
            return Err(format!("migratory status {ms} crossed with composite breakdown {composite}: COMPOSITE_BREAKDOWN holds only one"));
        }
        composite = ms.to_owned();
    }
    let mut r: Vec<String> = DIMENSIONS.iter().map(|(d, c)| if *d == "COMPOSITE_BREAKDOWN" { composite.clone() } else { o.get(c).to_owned() }).collect();
    let conf = o.get("conf_status");
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let (value, status, comment) = if is_suppressed(conf) {
        let note = format!("Confidential: value withheld (CONF_STATUS {conf})");
        let comment = match o.get("comment_obs") {
            "" => note,
            c => format!("{c}; {note}"),
        };
        (String::new(), "Q".to_owned(), comment)
    } else {
        (num(o.value), o.get("obs_status").to_owned(), o.get("comment_obs").to_owned())
    };
    r.push(value);
    r.extend([status, o.unit_mult.to_string(), o.get("unit_measure").to_owned(), o.get("nature").to_owned(), comment, num(o.upper), num(o.lower)]);
    Ok(r)
}

/// Every observation mapped once: the rows of the file and the observations left out.
pub struct Mapped<'a> {
    /// The file's rows: dimensions, OBS_VALUE, attributes.
    pub rows: Vec<Vec<String>>,
    /// The observations left out, each with its reason.
    pub excluded: Vec<Excluded<'a>>,
}

/// Maps every observation of `s` (the file and the report are both written from the result).
pub fn map(s: &Snapshot) -> Mapped<'_> {
    let (mut rows, mut excluded) = (Vec::new(), Vec::new());
    let mut keys = HashSet::new();
    for o in &s.observations {
        match row(s, o) {
            Ok(r) => {
                let key = r[..DIMENSIONS.len()].join("\u{1f}");
                if keys.insert(key) {
                    rows.push(r);
                } else {
                    excluded.push(Excluded { obs: o, reason: "an observation with the same SDMX key (series, area, period and breakdowns) is already exported".into() });
                }
            }
            Err(reason) => excluded.push(Excluded { obs: o, reason }),
        }
    }
    Mapped { rows, excluded }
}

/// The SDMX-CSV file of the mapped rows.
pub fn csv(m: &Mapped<'_>, version: Version) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = match version {
        Version::V1 => vec!["DATAFLOW"],
        Version::V2 => vec!["STRUCTURE", "STRUCTURE_ID", "ACTION"],
    };
    header.extend(DIMENSIONS.iter().map(|(d, _)| *d));
    header.push("OBS_VALUE");
    header.extend(ATTRIBUTES);
    w.write_record(&header).expect("writes to memory");
    for r in &m.rows {
        let lead: Vec<&str> = match version {
            Version::V1 => vec![DATAFLOW],
            Version::V2 => vec!["dataflow", DATAFLOW, "I"],
        };
        w.write_record(lead.iter().copied().chain(r.iter().map(String::as_str))).expect("writes to memory");
    }
    String::from_utf8(w.into_inner().expect("flushes to memory")).expect("UTF-8 in, UTF-8 out")
}

/// The export report: provenance, counts, and every observation left out with its reason.
pub fn report(s: &Snapshot, m: &Mapped<'_>) -> String {
    let (rows, excluded) = (&m.rows, &m.excluded);
    let mut out = String::new();
    let _ = writeln!(out, "SDMX-CSV export report for {DATAFLOW}");
    let _ = writeln!(out, "{}", s.provenance());
    let _ = writeln!(out, "observations in the store: {}; exported: {}; left out: {}", s.observations.len(), rows.len(), excluded.len());
    let _ = writeln!(out, "\ndefinitions of the figures computed from this store version:");
    for (name, d) in s.definitions() {
        let _ = writeln!(out, "  {name}: {d}");
    }
    out.push('\n');
    let status = DIMENSIONS.len() + 1;
    let _ = writeln!(out, "suppressed cells exported (empty OBS_VALUE, OBS_STATUS Q; the DSD has no CONF_STATUS): {}",
        rows.iter().filter(|r| r[status] == "Q" && r[DIMENSIONS.len()].is_empty()).count());
    let mut by_reason: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in excluded {
        *by_reason.entry(e.reason.as_str()).or_default() += 1;
    }
    if !excluded.is_empty() {
        let _ = writeln!(out, "\nleft out, by reason:");
        for (reason, n) in by_reason {
            let _ = writeln!(out, "  {n:>6}  {reason}");
        }
        let _ = writeln!(out, "\nleft out, each observation (agency/dataset indicator series ref_area time_period breakdowns: reason):");
        for e in excluded {
            let o = e.obs;
            let breakdowns: Vec<String> = COLUMNS
                .iter()
                .filter(|c| c.role == sdgx_schemas::observation::Role::Breakdown && is_breakdown(o.get(c.name)))
                .map(|c| format!("{}={}", c.name, o.get(c.name)))
                .collect();
            let _ = writeln!(
                out,
                "  {}/{} {} {} {} {} {}: {}",
                o.agency,
                o.dataset,
                o.get("indicator"),
                if o.get("series").is_empty() { "-" } else { o.get("series") },
                o.get("ref_area"),
                o.get("time_period"),
                if breakdowns.is_empty() { "(totals)".into() } else { breakdowns.join(",") },
                e.reason
            );
        }
    }
    out
}
