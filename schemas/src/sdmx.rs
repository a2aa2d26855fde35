//! The global SDMX structure for SDG data, as the exports need it: the DSD `IAEG-SDGs:SDG(1.14)`
//! (its artefacts and components, in order) and the per-series content constraint.
//!
//! Derived from the UN SDG DSD and the draft global content constraints by
//! `scripts/derive-catalogue.py` into `schemas/data/sdmx-artefacts.csv`,
//! `schemas/data/sdmx-dsd.csv` and `schemas/data/sdmx-constraints.csv`, and compiled in
//! (schemas/README.md, "The SDMX structures"). The codes of each codelist are those of
//! `schemas/data/codelists.csv` less the ones sdgx added (`_Z` in the breakdown lists), which
//! [`Artefact::added`] names.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::codelist::Codelists;

const ARTEFACTS: &str = include_str!("../data/sdmx-artefacts.csv");
const DSD: &str = include_str!("../data/sdmx-dsd.csv");
const CONSTRAINTS: &str = include_str!("../data/sdmx-constraints.csv");

/// A maintainable SDMX artefact: agency, id, version and English name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// Maintenance agency, e.g. `IAEG-SDGs`.
    pub agency: String,
    /// Id, e.g. `CL_SEX`.
    pub id: String,
    /// Version, e.g. `1.1`.
    pub version: String,
    /// English name.
    pub name: String,
    /// Codes sdgx's own codelist of that id adds to the official one (a codelist only).
    pub added: Vec<String>,
}

impl Artefact {
    /// `AGENCY:ID(VERSION)`, as SDMX-CSV and short URNs write it.
    pub fn reference(&self) -> String {
        format!("{}:{}({})", self.agency, self.id, self.version)
    }
}

/// What a component of a data structure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A dimension (part of the series key).
    Dimension,
    /// The time dimension.
    Time,
    /// The primary measure (`OBS_VALUE`).
    Measure,
    /// An attribute.
    Attribute,
}

/// The representation of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Representation {
    /// Coded: the id of the codelist (one of [`Dsd::codelists`]).
    Codelist(String),
    /// Uncoded with an SDMX text type (`Double`, `DateTime`, `ObservationalTimePeriod`, ...).
    Text(String),
    /// Uncoded, any string.
    Any,
}

/// One component of the DSD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Its id, which is also its concept's id.
    pub id: String,
    /// Dimension, time dimension, measure or attribute.
    pub kind: Kind,
    /// The concept's English name.
    pub concept: String,
    /// Coded or uncoded.
    pub representation: Representation,
    /// For an attribute: whether it is mandatory.
    pub mandatory: bool,
    /// For an attribute: attached to the series (every dimension but time) rather than the
    /// observation.
    pub series_level: bool,
}

/// The global DSD: its artefacts and components.
#[derive(Debug, Clone)]
pub struct Dsd {
    /// The data structure, `IAEG-SDGs:SDG(1.14)`.
    pub structure: Artefact,
    /// Its concept scheme.
    pub concepts: Artefact,
    /// Its codelists.
    pub codelists: Vec<Artefact>,
    /// Its components in the DSD's order: dimensions, time dimension, attributes, measure.
    pub components: Vec<Component>,
    /// The per-series content constraint.
    pub constraint: Constraint,
}

/// The per-series content constraint: for a series, the codes each restricted dimension may
/// take. A dimension (or a series) it does not list is not restricted.
#[derive(Debug, Clone, Default)]
pub struct Constraint {
    by_series: FxHashMap<String, Vec<(String, Vec<String>)>>,
    order: Vec<String>,
}

impl Constraint {
    /// The codes `dimension` may take in `series`, when the constraint restricts it.
    pub fn allowed(&self, series: &str, dimension: &str) -> Option<&[String]> {
        self.by_series.get(series)?.iter().find(|(d, _)| d == dimension).map(|(_, c)| c.as_slice())
    }

    /// Every constrained series with its restricted dimensions, in file order.
    pub fn series(&self) -> impl Iterator<Item = (&str, &[(String, Vec<String>)])> {
        self.order.iter().map(|s| (s.as_str(), self.by_series[s].as_slice()))
    }
}

impl Dsd {
    /// The compiled-in global DSD.
    pub fn global() -> &'static Dsd {
        static G: OnceLock<Dsd> = OnceLock::new();
        G.get_or_init(|| Dsd::parse(ARTEFACTS, DSD, CONSTRAINTS))
    }

    fn parse(artefacts: &str, dsd: &str, constraints: &str) -> Dsd {
        let rows = |text: &str| -> Vec<csv::StringRecord> {
            csv::Reader::from_reader(text.as_bytes()).records().collect::<Result<_, _>>().expect("embedded SDMX files are well-formed")
        };
        let (mut structure, mut concepts, mut codelists) = (None, None, Vec::new());
        for r in rows(artefacts) {
            let a = Artefact {
                agency: r[1].into(),
                id: r[2].into(),
                version: r[3].into(),
                name: r[4].into(),
                added: r[5].split(';').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
            };
            match &r[0] {
                "datastructure" => structure = Some(a),
                "conceptscheme" => concepts = Some(a),
                _ => codelists.push(a),
            }
        }
        let components = rows(dsd)
            .iter()
            .map(|r| Component {
                id: r[0].into(),
                kind: match &r[1] {
                    "dimension" => Kind::Dimension,
                    "time" => Kind::Time,
                    "measure" => Kind::Measure,
                    _ => Kind::Attribute,
                },
                concept: r[2].into(),
                representation: match r[3].split_once(':') {
                    Some(("codelist", reference)) => {
                        let id = reference.split_once(':').map_or(reference, |(_, rest)| rest);
                        Representation::Codelist(id.split('(').next().unwrap_or(id).into())
                    }
                    Some((_, text)) => Representation::Text(text.into()),
                    None => Representation::Any,
                },
                mandatory: &r[4] == "Mandatory",
                series_level: &r[5] == "series",
            })
            .collect();
        let mut constraint = Constraint::default();
        for r in rows(constraints) {
            let series = r[0].to_owned();
            if !constraint.by_series.contains_key(&series) {
                constraint.order.push(series.clone());
            }
            constraint.by_series.entry(series).or_default().push((r[1].into(), r[2].split(';').map(str::to_owned).collect()));
        }
        Dsd {
            structure: structure.expect("the DSD row"),
            concepts: concepts.expect("the concept scheme row"),
            codelists,
            components,
            constraint,
        }
    }

    /// The codelist artefact with this id.
    pub fn codelist(&self, id: &str) -> Option<&Artefact> {
        self.codelists.iter().find(|a| a.id == id)
    }

    /// The component with this id.
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Whether `code` is in the official codelist `id` (the global codelist less the codes
    /// sdgx added to it).
    pub fn official(&self, codelists: &Codelists, id: &str, code: &str) -> bool {
        self.codelist(id).is_some_and(|a| !a.added.iter().any(|c| c == code)) && codelists.contains(id, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_dsd_has_its_sixteen_dimensions_measure_and_codelists() {
        let d = Dsd::global();
        assert_eq!(d.structure.reference(), "IAEG-SDGs:SDG(1.14)");
        let dims: Vec<&str> = d.components.iter().filter(|c| matches!(c.kind, Kind::Dimension | Kind::Time)).map(|c| c.id.as_str()).collect();
        assert_eq!(dims.len(), 16);
        assert_eq!((dims[0], dims[15]), ("FREQ", "TIME_PERIOD"));
        assert_eq!(d.component("SEX").unwrap().representation, Representation::Codelist("CL_SEX".into()));
        assert_eq!(d.component("OBS_VALUE").unwrap().representation, Representation::Text("Double".into()));
        let unit = d.component("UNIT_MEASURE").unwrap();
        assert!(unit.mandatory && unit.series_level);
        assert_eq!(d.codelist("CL_FREQ").unwrap().reference(), "SDMX:CL_FREQ(2.0)");
        for c in &d.components {
            if let Representation::Codelist(id) = &c.representation {
                assert!(d.codelist(id).is_some(), "{} uses {id}", c.id);
            }
        }
    }

    #[test]
    fn the_constraint_restricts_maternal_mortality_to_women_and_official_codes_exclude_sdgx_additions() {
        let d = Dsd::global();
        assert_eq!(d.constraint.allowed("SH_STA_MORT", "SEX"), Some(&["F".to_owned()][..]));
        assert_eq!(d.constraint.allowed("SH_STA_MORT", "AGE"), None);
        assert_eq!(d.constraint.allowed("NO_SUCH_SERIES", "SEX"), None);
        let lists = Codelists::global();
        assert!(lists.contains("CL_SEX", "_Z"));
        assert!(!d.official(&lists, "CL_SEX", "_Z"));
        assert!(d.official(&lists, "CL_SEX", "F"));
        assert!(!d.official(&lists, "CL_MIGRATORY_STATUS", "MS_MIGRANT"));
    }
}
