//! SDMX-CSV, versions 1.0 and 2.0, for two dataflows, and the structures they reference.
//!
//! **Global**: `IAEG-SDGs:DF_SDG_GLH(1.24)` on the UN DSD `IAEG-SDGs:SDG(1.14)`. Columns: the
//! 16 dimensions in order (FREQ, REPORTING_TYPE, SERIES, REF_AREA, SEX, AGE, URBANISATION,
//! INCOME_WEALTH_QUANTILE, EDUCATION_LEV, OCCUPATION, CUST_BREAKDOWN, COMPOSITE_BREAKDOWN,
//! DISABILITY_STATUS, ACTIVITY, PRODUCT, TIME_PERIOD), `OBS_VALUE`, then the attributes the
//! contract carries, in the DSD's order (OBS_STATUS, UNIT_MULT, UNIT_MEASURE, NATURE,
//! COMMENT_OBS, UPPER_BOUND, LOWER_BOUND).
//!
//! **National**: `NSO_<AREA>:DF_SDG_<AREA>(1.0)` on `NSO_<AREA>:SDG_<AREA>(1.0)` (`<AREA>` the
//! national area, `AM` in the example): the global dimensions plus MIGRATORY_STATUS before
//! TIME_PERIOD, the national codelists (global codes plus the national ones), and the attributes
//! plus CONF_STATUS. It carries what the global dataflow cannot, so the two files together hold
//! each observation at most once.
//!
//! 1.0 starts with `DATAFLOW`; 2.0 with `STRUCTURE` (`dataflow`), `STRUCTURE_ID` and `ACTION`
//! (`I`, information). The structures are one SDMX-ML 2.1 structure message ([`structure`]).
//!
//! An observation goes to the global dataflow when its structure can carry it; otherwise to the
//! national one, and the report says why the global one could not:
//!
//! - a national proxy indicator, or a series that is not a global SERIES code;
//! - a code outside the official global codelists (a national extension code, or sdgx's `_Z`);
//! - migratory status crossed with another composite breakdown (COMPOSITE_BREAKDOWN holds one);
//! - a code the series' content constraint does not allow (see below);
//! - a second observation with the same global key.
//!
//! What neither carries (no series; a second observation with the same national key) is left out
//! and listed in the [`report`] with the reason, never dropped silently.
//!
//! **Content constraint.** The global dataflow's constraint gives, per series, the codes each
//! dimension may take (SH_STA_MORT, maternal mortality: SEX `F` only). A total `_T` in a
//! dimension the constraint restricts to one code is written as that code: the series is
//! defined for that group alone, so its total is that group (SH_STA_MORT SEX `_T` is exported as
//! `F`; the report counts each such mapping). Any other code outside the constraint moves the
//! observation to the national dataflow.
//!
//! **Empty values.** The DSDs have no confidentiality attribute in the global case: a suppressed
//! cell (`conf_status` C, D or N) is exported with OBS_VALUE `NaN` (SDMX-CSV's intentionally
//! missing number), OBS_STATUS `Q` ("missing value; suppressed") and the confidentiality status
//! in COMMENT_OBS (nationally also in CONF_STATUS). Optional attributes without a value are
//! empty cells (not reported).

pub mod structure;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::OnceLock;

use sdgx_schemas::codelist::Codelists;
use sdgx_schemas::framework::Framework;
use sdgx_schemas::observation::{is_breakdown, is_suppressed, COLUMNS};
use sdgx_schemas::sdmx::{Dsd, Representation};

use super::{Obs, Snapshot};

/// The global dataflow.
pub const DATAFLOW: &str = "IAEG-SDGs:DF_SDG_GLH(1.24)";

/// The global DSD's dimensions, in order, with the contract column of each.
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

/// The national DSD's dimensions: the global ones with MIGRATORY_STATUS before TIME_PERIOD.
pub const NATIONAL_DIMENSIONS: [(&str, &str); 17] = national_dimensions();

const fn national_dimensions() -> [(&'static str, &'static str); 17] {
    let mut out = [("", ""); 17];
    let mut i = 0;
    while i < 15 {
        out[i] = DIMENSIONS[i];
        i += 1;
    }
    out[15] = ("MIGRATORY_STATUS", "migratory_status");
    out[16] = DIMENSIONS[15];
    out
}

/// The attributes exported to the global dataflow, in the DSD's order.
pub const ATTRIBUTES: [&str; 7] = ["OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE", "NATURE", "COMMENT_OBS", "UPPER_BOUND", "LOWER_BOUND"];

/// The attributes exported to the national dataflow: the global ones and CONF_STATUS.
pub const NATIONAL_ATTRIBUTES: [&str; 8] = ["OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE", "NATURE", "COMMENT_OBS", "UPPER_BOUND", "LOWER_BOUND", "CONF_STATUS"];

/// SDMX-CSV's value for an intentionally missing number (SDMX-CSV field guide, "Intentionally
/// missing values").
pub const MISSING_NUMBER: &str = "NaN";

/// SDMX-CSV version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SDMX-CSV 1.0.
    V1,
    /// SDMX-CSV 2.0.
    V2,
}

/// Which dataflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The global SDG dataflow.
    Global,
    /// The national dataflow.
    National,
}

/// An observation left out of a dataflow, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Excluded<'a> {
    /// The observation.
    pub obs: &'a Obs,
    /// Why the dataflow cannot carry it.
    pub reason: String,
}

/// Whether `id` is an SDMX agency id (SDMX 2.1 `NestedNCNameIDType`: NCName parts, letters,
/// digits, `_` and `-` after a leading letter, joined by `.` for nested agencies).
pub fn valid_agency_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// The national dataflow's identifiers, from the national area and the `sdmx_agency` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct National {
    /// The maintenance agency: the `sdmx_agency` setting, or `NSO_<AREA>`.
    pub agency: String,
    /// The id suffix, `<AREA>` (characters outside SDMX ids become `_`).
    pub area: String,
}

impl National {
    /// The national identifiers for national area `area`, maintained by `agency` (the
    /// `sdmx_agency` setting, checked by the configuration) or else by `NSO_<AREA>`.
    pub fn new(area: &str, agency: Option<&str>) -> National {
        let area: String = area.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        National { agency: agency.map_or_else(|| format!("NSO_{area}"), str::to_owned), area }
    }

    /// The dataflow id, `DF_SDG_<AREA>`.
    pub fn dataflow_id(&self) -> String {
        format!("DF_SDG_{}", self.area)
    }

    /// The DSD id, `SDG_<AREA>`.
    pub fn structure_id(&self) -> String {
        format!("SDG_{}", self.area)
    }

    /// `NSO_<AREA>:DF_SDG_<AREA>(1.0)`.
    pub fn dataflow(&self) -> String {
        format!("{}:{}({})", self.agency, self.dataflow_id(), structure::NATIONAL_VERSION)
    }
}

fn global() -> &'static (Codelists, Framework) {
    static G: OnceLock<(Codelists, Framework)> = OnceLock::new();
    G.get_or_init(|| (Codelists::global(), Framework::global()))
}

/// A suppressed cell's value, status and comment, or the observation's own.
fn measure(o: &Obs) -> (String, String, String) {
    let conf = o.get("conf_status");
    if is_suppressed(conf) {
        let note = format!("Confidential: value withheld (CONF_STATUS {conf})");
        let comment = match o.get("comment_obs") {
            "" => note,
            c => format!("{c}; {note}"),
        };
        (MISSING_NUMBER.to_owned(), "Q".to_owned(), comment)
    } else {
        (o.value.map_or_else(|| MISSING_NUMBER.to_owned(), |x| x.to_string()), o.get("obs_status").to_owned(), o.get("comment_obs").to_owned())
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// A code the content constraint rewrote: series, dimension, code in the store, code exported.
pub type Remap = (String, String, String, String);

/// The global row of an observation (dimensions, OBS_VALUE, attributes) with the codes the
/// content constraint rewrote, or why the global structure cannot carry it.
fn global_row(s: &Snapshot, o: &Obs) -> Result<(Vec<String>, Vec<Remap>), String> {
    let (codelists, framework) = global();
    let dsd = Dsd::global();
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
    let mut composite = o.get("composite_breakdown").to_owned();
    let ms = o.get("migratory_status");
    if is_breakdown(ms) {
        if is_breakdown(&composite) {
            return Err(format!("migratory status {ms} crossed with composite breakdown {composite}: COMPOSITE_BREAKDOWN holds only one"));
        }
        composite = ms.to_owned();
    }
    let mut r: Vec<String> = DIMENSIONS.iter().map(|(d, c)| if *d == "COMPOSITE_BREAKDOWN" { composite.clone() } else { o.get(c).to_owned() }).collect();
    let (value, status, comment) = measure(o);
    r.push(value);
    r.extend([status, o.unit_mult.to_string(), o.get("unit_measure").to_owned(), o.get("nature").to_owned(), comment, num(o.upper), num(o.lower)]);
    let header = header_ids(Flow::Global);
    for (id, code) in header.iter().zip(&r) {
        if let Some(Representation::Codelist(cl)) = dsd.component(id).map(|c| &c.representation)
            && !code.is_empty()
            && !dsd.official(codelists, cl, code)
        {
            let what = if code == "_Z" { "sdgx's not-applicable code" } else { "national extension code" };
            return Err(format!("{what} {code} in {id} is not in the global codelist {cl}"));
        }
    }
    let remapped = constrain(series, &mut r)?;
    Ok((r, remapped))
}

/// Applies the global content constraint of `series` to the dimensions of a global row: a
/// total `_T` in a dimension restricted to one code becomes that code (returned as a
/// [`Remap`]); any other code the constraint does not allow refuses the row, with the reason.
pub fn constrain(series: &str, row: &mut [String]) -> Result<Vec<Remap>, String> {
    let dsd = Dsd::global();
    let mut remapped = Vec::new();
    for (i, (dim, _)) in DIMENSIONS.iter().enumerate() {
        let Some(allowed) = dsd.constraint.allowed(series, dim) else { continue };
        if allowed.contains(&row[i]) {
            continue;
        }
        if row[i] == "_T" && allowed.len() == 1 {
            remapped.push((series.to_owned(), (*dim).to_owned(), row[i].clone(), allowed[0].clone()));
            row[i] = allowed[0].clone();
        } else {
            return Err(format!("{dim} {} is outside the content constraint of series {series} (allowed: {})", row[i], allowed.join(", ")));
        }
    }
    Ok(remapped)
}

/// The national row of an observation, or why the national structure cannot carry it.
fn national_row(s: &Snapshot, o: &Obs) -> Result<Vec<String>, String> {
    let series = o.get("series");
    if series.is_empty() {
        return Err(format!("indicator {} has no SDMX series (SERIES is a dimension)", o.get("indicator")));
    }
    let mut r: Vec<String> = NATIONAL_DIMENSIONS.iter().map(|(_, c)| o.get(c).to_owned()).collect();
    let (value, status, comment) = measure(o);
    r.push(value);
    r.extend([status, o.unit_mult.to_string(), o.get("unit_measure").to_owned(), o.get("nature").to_owned(), comment, num(o.upper), num(o.lower), o.get("conf_status").to_owned()]);
    for (id, code) in header_ids(Flow::National).iter().zip(&r) {
        if let Some(cl) = structure::national_codelist(id)
            && !code.is_empty()
            && !s.contract.codelists.contains(cl, code)
        {
            return Err(format!("code {code} in {id} is not in the codelist {cl}"));
        }
    }
    Ok(r)
}

/// Every observation mapped once: the rows of both files and what each leaves out.
pub struct Mapped<'a> {
    /// The global file's rows: dimensions, OBS_VALUE, attributes.
    pub rows: Vec<Vec<String>>,
    /// The national file's rows.
    pub national: Vec<Vec<String>>,
    /// The observations in the national file, each with why the global one cannot carry it.
    pub moved: Vec<Excluded<'a>>,
    /// The observations in neither file, each with the reason.
    pub excluded: Vec<Excluded<'a>>,
    /// Codes the content constraint rewrote, with how many observations each.
    pub remapped: BTreeMap<Remap, usize>,
    /// The national dataflow's identifiers.
    pub ids: National,
}

/// Maps every observation of `s` (the files and the report are all written from the result).
pub fn map(s: &Snapshot) -> Mapped<'_> {
    let mut m = Mapped { rows: Vec::new(), national: Vec::new(), moved: Vec::new(), excluded: Vec::new(), remapped: BTreeMap::new(), ids: s.sdmx_national.clone() };
    let (mut keys, mut national_keys) = (HashSet::new(), HashSet::new());
    let dims = DIMENSIONS.len();
    for o in &s.observations {
        let why_not_global = match global_row(s, o) {
            Ok((r, remapped)) => {
                if keys.insert(r[..dims].join("\u{1f}")) {
                    m.rows.push(r);
                    for k in remapped {
                        *m.remapped.entry(k).or_default() += 1;
                    }
                    continue;
                }
                "an observation with the same global SDMX key (series, area, period and breakdowns) is already exported".to_owned()
            }
            Err(reason) => reason,
        };
        match national_row(s, o) {
            Ok(r) if national_keys.insert(r[..NATIONAL_DIMENSIONS.len()].join("\u{1f}")) => {
                m.national.push(r);
                m.moved.push(Excluded { obs: o, reason: why_not_global });
            }
            Ok(_) => m.excluded.push(Excluded { obs: o, reason: format!("{why_not_global}; and an observation with the same national SDMX key is already exported") }),
            Err(reason) => m.excluded.push(Excluded { obs: o, reason: format!("{why_not_global}; and {reason}") }),
        }
    }
    m
}

/// The component ids of a dataflow's file after its leading columns: dimensions, OBS_VALUE,
/// attributes.
pub fn header_ids(flow: Flow) -> Vec<&'static str> {
    let mut h: Vec<&str> = match flow {
        Flow::Global => DIMENSIONS.iter().map(|(d, _)| *d).collect(),
        Flow::National => NATIONAL_DIMENSIONS.iter().map(|(d, _)| *d).collect(),
    };
    h.push("OBS_VALUE");
    h.extend(match flow {
        Flow::Global => &ATTRIBUTES[..],
        Flow::National => &NATIONAL_ATTRIBUTES[..],
    });
    h
}

/// The SDMX-CSV file of one dataflow's mapped rows.
pub fn csv(m: &Mapped<'_>, version: Version, flow: Flow) -> String {
    let (dataflow, rows) = match flow {
        Flow::Global => (DATAFLOW.to_owned(), &m.rows),
        Flow::National => (m.ids.dataflow(), &m.national),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = match version {
        Version::V1 => vec!["DATAFLOW"],
        Version::V2 => vec!["STRUCTURE", "STRUCTURE_ID", "ACTION"],
    };
    header.extend(header_ids(flow));
    w.write_record(&header).expect("writes to memory");
    for r in rows {
        let lead: Vec<&str> = match version {
            Version::V1 => vec![&dataflow],
            Version::V2 => vec!["dataflow", &dataflow, "I"],
        };
        w.write_record(lead.iter().copied().chain(r.iter().map(String::as_str))).expect("writes to memory");
    }
    String::from_utf8(w.into_inner().expect("flushes to memory")).expect("UTF-8 in, UTF-8 out")
}

fn describe(o: &Obs) -> String {
    let breakdowns: Vec<String> = COLUMNS
        .iter()
        .filter(|c| c.role == sdgx_schemas::observation::Role::Breakdown && is_breakdown(o.get(c.name)))
        .map(|c| format!("{}={}", c.name, o.get(c.name)))
        .collect();
    format!(
        "{}/{} {} {} {} {} {}",
        o.agency,
        o.dataset,
        o.get("indicator"),
        if o.get("series").is_empty() { "-" } else { o.get("series") },
        o.get("ref_area"),
        o.get("time_period"),
        if breakdowns.is_empty() { "(totals)".into() } else { breakdowns.join(",") },
    )
}

fn list(out: &mut String, title: &str, items: &[Excluded<'_>]) {
    if items.is_empty() {
        return;
    }
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for e in items {
        *by_reason.entry(e.reason.as_str()).or_default() += 1;
    }
    let _ = writeln!(out, "\n{title}, by reason:");
    for (reason, n) in by_reason {
        let _ = writeln!(out, "  {n:>6}  {reason}");
    }
    let _ = writeln!(out, "\n{title}, each observation (agency/dataset indicator series ref_area time_period breakdowns: reason):");
    for e in items {
        let _ = writeln!(out, "  {}: {}", describe(e.obs), e.reason);
    }
}

/// The export report: provenance, counts, the codes the content constraint rewrote, what went
/// to the national dataflow and why, and every observation left out with its reason.
pub fn report(s: &Snapshot, m: &Mapped<'_>) -> String {
    let national = m.ids.dataflow();
    let mut out = String::new();
    let _ = writeln!(out, "SDMX-CSV export report for {DATAFLOW} (global) and {national} (national)");
    let _ = writeln!(out, "{}", s.provenance());
    let _ = writeln!(
        out,
        "observations in the store: {}; exported: {} (global {}, national {}); left out: {}",
        s.observations.len(),
        m.rows.len() + m.national.len(),
        m.rows.len(),
        m.national.len(),
        m.excluded.len()
    );
    let _ = writeln!(out, "structures: the SDMX-ML 2.1 structure message (export sdmx-structure) defines both dataflows, their DSDs, codelists and the global content constraint");
    let _ = writeln!(out, "\ndefinitions of the figures computed from this store version:");
    for (name, d) in s.definitions() {
        let _ = writeln!(out, "  {name}: {d}");
    }
    out.push('\n');
    let value = DIMENSIONS.len();
    let suppressed = |rows: &[Vec<String>]| rows.iter().filter(|r| r[value + 1] == "Q" && r[value] == MISSING_NUMBER).count();
    let _ = writeln!(
        out,
        "suppressed cells exported (OBS_VALUE NaN, OBS_STATUS Q, the confidentiality status in COMMENT_OBS): global {}, national {}",
        suppressed(&m.rows),
        m.national.iter().filter(|r| r[NATIONAL_DIMENSIONS.len() + 1] == "Q" && r[NATIONAL_DIMENSIONS.len()] == MISSING_NUMBER).count()
    );
    if !m.remapped.is_empty() {
        let _ = writeln!(out, "\ncodes the global content constraint rewrote (a total in a dimension the series allows one code for is that code):");
        for ((series, dim, from, to), n) in &m.remapped {
            let _ = writeln!(out, "  {n:>6}  {series} {dim} {from} exported as {to}");
        }
    }
    list(&mut out, &format!("in the national dataflow {national}, as the global one cannot carry them"), &m.moved);
    list(&mut out, "left out of both", &m.excluded);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(series: &str, sex: &str, composite: &str) -> Vec<String> {
        DIMENSIONS
            .iter()
            .map(|(d, _)| match *d {
                "FREQ" => "A",
                "REPORTING_TYPE" => "N",
                "SERIES" => series,
                "REF_AREA" => "AM",
                "SEX" => sex,
                "COMPOSITE_BREAKDOWN" => composite,
                "TIME_PERIOD" => "2023",
                _ => "_T",
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_total_where_the_constraint_allows_one_code_is_that_code() {
        let sex = DIMENSIONS.iter().position(|(d, _)| *d == "SEX").unwrap();
        let mut r = row("SH_STA_MORT", "_T", "MS_MIGRANT");
        let remapped = constrain("SH_STA_MORT", &mut r).unwrap();
        assert_eq!(r[sex], "F");
        assert_eq!(remapped, vec![("SH_STA_MORT".into(), "SEX".into(), "_T".into(), "F".into())]);
        let mut f = row("SH_STA_MORT", "F", "_T");
        assert_eq!(constrain("SH_STA_MORT", &mut f).unwrap(), vec![]);
        assert_eq!(f[sex], "F");
    }

    #[test]
    fn any_other_code_outside_the_constraint_is_refused_with_the_reason() {
        let mut m = row("SH_STA_MORT", "M", "_T");
        assert_eq!(constrain("SH_STA_MORT", &mut m).unwrap_err(), "SEX M is outside the content constraint of series SH_STA_MORT (allowed: F)");
        // SH_DYN_IMRT (infant mortality) allows COMPOSITE_BREAKDOWN _T only: no migratory status.
        let mut ms = row("SH_DYN_IMRT", "_T", "MS_MIGRANT");
        assert!(constrain("SH_DYN_IMRT", &mut ms).unwrap_err().starts_with("COMPOSITE_BREAKDOWN MS_MIGRANT is outside the content constraint of series SH_DYN_IMRT"));
        // A series the constraint does not list is not restricted.
        let mut free = row("AG_FLS_INDEX", "M", "MS_MIGRANT");
        assert_eq!(constrain("AG_FLS_INDEX", &mut free).unwrap(), vec![]);
    }

    #[test]
    fn the_national_dimensions_are_the_global_ones_with_migratory_status_before_time() {
        assert_eq!(NATIONAL_DIMENSIONS[..15], DIMENSIONS[..15]);
        assert_eq!(NATIONAL_DIMENSIONS[15], ("MIGRATORY_STATUS", "migratory_status"));
        assert_eq!(NATIONAL_DIMENSIONS[16], ("TIME_PERIOD", "time_period"));
    }

    #[test]
    fn national_ids_follow_the_national_area() {
        let n = National::new("AM", None);
        assert_eq!((n.dataflow(), n.structure_id()), ("NSO_AM:DF_SDG_AM(1.0)".to_owned(), "SDG_AM".to_owned()));
        assert_eq!(National::new("X.Y", None).agency, "NSO_X_Y");
        // The statistical office's own registry id, when configured.
        assert_eq!(National::new("AM", Some("ARMSTAT")).dataflow(), "ARMSTAT:DF_SDG_AM(1.0)");
        for ok in ["ARMSTAT", "NSO_AM", "UN.ESCAP", "a-b_1"] {
            assert!(valid_agency_id(ok), "{ok}");
        }
        for bad in ["", "1NSO", "NSO AM", "NSO:AM", ".X", "X.", "X..Y", "NSO/AM"] {
            assert!(!valid_agency_id(bad), "{bad}");
        }
    }
}
