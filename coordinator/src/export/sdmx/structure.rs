//! The SDMX-ML 2.1 structure message the SDMX-CSV files reference: both dataflows with their
//! DSDs, every codelist and concept they use, and the global per-series content constraint.
//!
//! - `IAEG-SDGs:DF_SDG_GLH(1.24)` on `IAEG-SDGs:SDG(1.14)`, its concept scheme
//!   `IAEG-SDGs:SDG_CONCEPTS(1.0)` and its codelists at their official versions, with the
//!   official codes only (sdgx's `_Z` additions left out), as derived from the UN DSD.
//! - `IAEG-SDGs:CC_SDG_SERIES(1.0)`, an allowed content constraint attached to the global
//!   dataflow: one included cube region per constrained series (its SERIES code and the codes
//!   each restricted dimension may take), and one for every other series (no restriction).
//! - `NSO_<AREA>:DF_SDG_<AREA>(1.0)` on `NSO_<AREA>:SDG_<AREA>(1.0)`: the global components,
//!   MIGRATORY_STATUS (before TIME_PERIOD) and CONF_STATUS, whose concepts are in
//!   `NSO_<AREA>:SDG_CONCEPTS_<AREA>(1.0)`. A coded component uses the global codelist when the
//!   contract's list has exactly its codes, and otherwise `NSO_<AREA>:<ID>(1.0)`, the contract's
//!   list (global codes, sdgx's and the national framework's). The national artefacts are not
//!   final: they follow the national framework, whose version the dataflow's description states.
//!
//! One message for both, as pysdmx's `get_datasets(data, structure)` and sdmx1's
//! `read_sdmx(structure)` expect: each dataset's `STRUCTURE_ID` resolves in it to a dataflow and
//! from there to its DSD and codelists.

use std::fmt::Write;

use sdgx_schemas::codelist::Codelists;
use sdgx_schemas::sdmx::{Artefact, Component, Dsd, Kind, Representation};

use super::{DATAFLOW, NATIONAL_ATTRIBUTES, NATIONAL_DIMENSIONS};
use crate::export::html::esc;
use crate::export::Snapshot;

/// The version of the national artefacts.
pub const NATIONAL_VERSION: &str = "1.0";

/// The global content constraint's id.
pub const CONSTRAINT: &str = "CC_SDG_SERIES";

const MES: &str = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message";
const STR: &str = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure";
const COM: &str = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common";

/// The components only the national DSD has: (id, concept name, codelist).
const NATIONAL_ONLY: [(&str, &str, &str); 2] = [("MIGRATORY_STATUS", "Migratory status", "CL_MIGRATORY_STATUS"), ("CONF_STATUS", "Confidentiality status", "CL_CONF_STATUS")];

/// The codelist id of a component of the national DSD, when it is coded.
pub fn national_codelist(component: &str) -> Option<&'static str> {
    if let Some((_, _, cl)) = NATIONAL_ONLY.iter().find(|(id, _, _)| *id == component) {
        return Some(cl);
    }
    match &Dsd::global().component(component)?.representation {
        Representation::Codelist(cl) => Some(cl.as_str()),
        _ => None,
    }
}

/// An artefact reference inside a `Ref` element's attributes.
fn ref_attrs(a: &Artefact, package: &str, class: &str) -> String {
    format!(r#"agencyID="{}" id="{}" version="{}" package="{package}" class="{class}""#, esc(&a.agency), esc(&a.id), esc(&a.version))
}

fn name(out: &mut String, text: &str) {
    let _ = write!(out, r#"<com:Name xml:lang="en">{}</com:Name>"#, esc(text));
}

fn open(out: &mut String, tag: &str, a: &Artefact, is_final: bool) {
    let _ = write!(out, r#"<str:{tag} agencyID="{}" id="{}" version="{}" isFinal="{is_final}">"#, esc(&a.agency), esc(&a.id), esc(&a.version));
    name(out, &a.name);
}

fn codelist(out: &mut String, a: &Artefact, is_final: bool, codes: &[(String, String)]) {
    open(out, "Codelist", a, is_final);
    for (code, label) in codes {
        let _ = write!(out, r#"<str:Code id="{}">"#, esc(code));
        name(out, if label.is_empty() { code } else { label });
        out.push_str("</str:Code>");
    }
    out.push_str("</str:Codelist>");
}

/// One DSD component as the message writes it: id, kind, concept (scheme and name), codelist
/// (artefact) when coded, text type when not, attribute usage and attachment.
struct Part<'a> {
    c: &'a Component,
    scheme: &'a Artefact,
    codelist: Option<&'a Artefact>,
}

fn component(out: &mut String, p: &Part<'_>, position: usize, dims: &[&str]) {
    let c = p.c;
    let tag = match c.kind {
        Kind::Dimension => "Dimension",
        Kind::Time => "TimeDimension",
        Kind::Measure => "PrimaryMeasure",
        Kind::Attribute => "Attribute",
    };
    let _ = write!(out, r#"<str:{tag} id="{}""#, esc(&c.id));
    match c.kind {
        Kind::Dimension | Kind::Time => {
            let _ = write!(out, r#" position="{position}""#);
        }
        Kind::Attribute => {
            let _ = write!(out, r#" assignmentStatus="{}""#, if c.mandatory { "Mandatory" } else { "Conditional" });
        }
        Kind::Measure => {}
    }
    let _ = write!(
        out,
        r#"><str:ConceptIdentity><Ref agencyID="{}" maintainableParentID="{}" maintainableParentVersion="{}" id="{}" package="conceptscheme" class="Concept"/></str:ConceptIdentity>"#,
        esc(&p.scheme.agency),
        esc(&p.scheme.id),
        esc(&p.scheme.version),
        esc(&c.id)
    );
    match (&c.representation, p.codelist) {
        (Representation::Codelist(_), Some(cl)) => {
            let _ = write!(out, "<str:LocalRepresentation><str:Enumeration><Ref {}/></str:Enumeration></str:LocalRepresentation>", ref_attrs(cl, "codelist", "Codelist"));
        }
        (Representation::Text(t), _) => {
            let _ = write!(out, r#"<str:LocalRepresentation><str:TextFormat textType="{}"/></str:LocalRepresentation>"#, esc(t));
        }
        _ => {}
    }
    if c.kind == Kind::Attribute {
        out.push_str("<str:AttributeRelationship>");
        if c.series_level {
            for d in dims {
                let _ = write!(out, r#"<str:Dimension><Ref id="{d}"/></str:Dimension>"#);
            }
        } else {
            out.push_str(r#"<str:PrimaryMeasure><Ref id="OBS_VALUE"/></str:PrimaryMeasure>"#);
        }
        out.push_str("</str:AttributeRelationship>");
    }
    let _ = write!(out, "</str:{tag}>");
}

fn data_structure(out: &mut String, a: &Artefact, is_final: bool, parts: &[Part<'_>]) {
    open(out, "DataStructure", a, is_final);
    out.push_str("<str:DataStructureComponents>");
    let dims: Vec<&str> = parts.iter().filter(|p| p.c.kind == Kind::Dimension).map(|p| p.c.id.as_str()).collect();
    out.push_str(r#"<str:DimensionList id="DimensionDescriptor">"#);
    for (i, p) in parts.iter().filter(|p| matches!(p.c.kind, Kind::Dimension | Kind::Time)).enumerate() {
        component(out, p, i + 1, &dims);
    }
    out.push_str(r#"</str:DimensionList><str:AttributeList id="AttributeDescriptor">"#);
    for p in parts.iter().filter(|p| p.c.kind == Kind::Attribute) {
        component(out, p, 0, &dims);
    }
    out.push_str(r#"</str:AttributeList><str:MeasureList id="MeasureDescriptor">"#);
    for p in parts.iter().filter(|p| p.c.kind == Kind::Measure) {
        component(out, p, 0, &dims);
    }
    out.push_str("</str:MeasureList></str:DataStructureComponents></str:DataStructure>");
}

fn dataflow(out: &mut String, a: &Artefact, is_final: bool, description: Option<&str>, dsd: &Artefact) {
    open(out, "Dataflow", a, is_final);
    if let Some(d) = description {
        let _ = write!(out, r#"<com:Description xml:lang="en">{}</com:Description>"#, esc(d));
    }
    let _ = write!(out, "<str:Structure><Ref {}/></str:Structure></str:Dataflow>", ref_attrs(dsd, "datastructure", "DataStructure"));
}

fn codes_of(lists: &Codelists, id: &str, skip: &[String]) -> Vec<(String, String)> {
    lists
        .get(id)
        .map(|l| l.codes().filter(|c| !skip.iter().any(|s| s == c)).map(|c| (c.to_owned(), l.name(c).unwrap_or(c).to_owned())).collect())
        .unwrap_or_default()
}

fn artefact(agency: &str, id: &str, version: &str, name: &str) -> Artefact {
    Artefact { agency: agency.into(), id: id.into(), version: version.into(), name: name.into(), added: Vec::new() }
}

/// The structure message for the exports of `s`.
pub fn message(s: &Snapshot) -> String {
    let dsd = Dsd::global();
    let global_lists = Codelists::global();
    let ids = s.sdmx_national.clone();
    let contract = &s.contract.codelists;
    let country = &s.national_area;

    // Global artefacts.
    let (gagency, gid) = DATAFLOW.split_once(':').expect("AGENCY:ID(VERSION)");
    let (gid, gversion) = gid.trim_end_matches(')').split_once('(').expect("ID(VERSION)");
    let global_flow = artefact(gagency, gid, gversion, "SDG global dataflow (global level headline indicators)");
    let official: Vec<(&Artefact, Vec<(String, String)>)> = dsd.codelists.iter().map(|a| (a, codes_of(&global_lists, &a.id, &a.added))).collect();

    // National artefacts: the national copy of each codelist whose contract codes differ.
    let national_dsd = artefact(&ids.agency, &ids.structure_id(), NATIONAL_VERSION, &format!("SDG data structure of {country} (national framework)"));
    let national_scheme = artefact(&ids.agency, &format!("SDG_CONCEPTS_{}", ids.area), NATIONAL_VERSION, &format!("SDG concepts added by {country}"));
    let national_flow = artefact(&ids.agency, &ids.dataflow_id(), NATIONAL_VERSION, &format!("SDG data of {country} the global dataflow cannot carry"));
    let mut national_lists: Vec<(Artefact, Vec<(String, String)>)> = Vec::new();
    let mut used: Vec<&str> = NATIONAL_DIMENSIONS.iter().map(|(d, _)| *d).chain(NATIONAL_ATTRIBUTES).filter_map(national_codelist).collect();
    used.sort_unstable();
    used.dedup();
    for cl in used {
        let codes = codes_of(contract, cl, &[]);
        let same = official.iter().any(|(a, o)| a.id == cl && *o == codes);
        if !same {
            let label = dsd.codelist(cl).map_or_else(|| NATIONAL_ONLY.iter().find(|n| n.2 == cl).map_or(cl, |n| n.1).to_owned(), |a| a.name.clone());
            national_lists.push((artefact(&ids.agency, cl, NATIONAL_VERSION, &format!("{label} ({country})")), codes));
        }
    }
    let national_list = |cl: &str| national_lists.iter().find(|(a, _)| a.id == cl).map(|(a, _)| a).or_else(|| dsd.codelist(cl));

    let mut out = String::with_capacity(4 << 20);
    let _ = write!(out, r#"<?xml version="1.0" encoding="UTF-8"?><mes:Structure xmlns:mes="{MES}" xmlns:str="{STR}" xmlns:com="{COM}">"#);
    let _ = write!(
        out,
        r#"<mes:Header><mes:ID>SDGX_STRUCTURE_V{}</mes:ID><mes:Test>false</mes:Test><mes:Prepared>{}</mes:Prepared><mes:Sender id="{}"/></mes:Header><mes:Structures>"#,
        s.store_version,
        esc(&s.generated_at),
        esc(&ids.agency)
    );
    // Dataflows.
    out.push_str("<str:Dataflows>");
    dataflow(&mut out, &global_flow, true, None, &dsd.structure);
    let description = format!(
        "Observations of the national framework {} ({}) that the global dataflow {DATAFLOW} cannot carry: national proxy indicators and series, national codes, migratory status crossed with another composite breakdown, codes outside the global content constraint. {}",
        s.contract.framework.name,
        s.framework_version,
        s.provenance()
    );
    dataflow(&mut out, &national_flow, false, Some(&description), &national_dsd);
    out.push_str("</str:Dataflows><str:Codelists>");
    for (a, codes) in &official {
        codelist(&mut out, a, true, codes);
    }
    for (a, codes) in &national_lists {
        codelist(&mut out, a, false, codes);
    }
    out.push_str("</str:Codelists><str:Concepts>");
    open(&mut out, "ConceptScheme", &dsd.concepts, true);
    for c in &dsd.components {
        let _ = write!(out, r#"<str:Concept id="{}">"#, esc(&c.id));
        name(&mut out, &c.concept);
        out.push_str("</str:Concept>");
    }
    out.push_str("</str:ConceptScheme>");
    open(&mut out, "ConceptScheme", &national_scheme, false);
    for (id, concept, _) in NATIONAL_ONLY {
        let _ = write!(out, r#"<str:Concept id="{id}">"#);
        name(&mut out, concept);
        out.push_str("</str:Concept>");
    }
    out.push_str("</str:ConceptScheme></str:Concepts><str:DataStructures>");

    let global_parts: Vec<Part<'_>> = dsd
        .components
        .iter()
        .map(|c| Part { c, scheme: &dsd.concepts, codelist: if let Representation::Codelist(cl) = &c.representation { dsd.codelist(cl) } else { None } })
        .collect();
    data_structure(&mut out, &dsd.structure, true, &global_parts);

    let extra: Vec<Component> = NATIONAL_ONLY
        .iter()
        .map(|(id, concept, cl)| Component {
            id: (*id).into(),
            kind: if *id == "MIGRATORY_STATUS" { Kind::Dimension } else { Kind::Attribute },
            concept: (*concept).into(),
            representation: Representation::Codelist((*cl).into()),
            mandatory: false,
            series_level: false,
        })
        .collect();
    let mut national_parts: Vec<Part<'_>> = Vec::new();
    for c in &dsd.components {
        if c.kind == Kind::Time {
            national_parts.push(Part { c: &extra[0], scheme: &national_scheme, codelist: national_list("CL_MIGRATORY_STATUS") });
        }
        let codelist = if let Representation::Codelist(cl) = &c.representation { national_list(cl) } else { None };
        national_parts.push(Part { c, scheme: &dsd.concepts, codelist });
        if c.id == "OBS_STATUS" {
            national_parts.push(Part { c: &extra[1], scheme: &national_scheme, codelist: national_list("CL_CONF_STATUS") });
        }
    }
    data_structure(&mut out, &national_dsd, false, &national_parts);
    out.push_str("</str:DataStructures><str:Constraints>");

    // The global content constraint.
    let constraint = artefact(&dsd.structure.agency, CONSTRAINT, "1.0", "Per-series allowed codes of the SDG dataflow (derived from the draft global content constraints)");
    let _ = write!(out, r#"<str:ContentConstraint agencyID="{}" id="{CONSTRAINT}" version="1.0" isFinal="true" type="Allowed">"#, esc(&constraint.agency));
    name(&mut out, &constraint.name);
    let _ = write!(out, "<str:ConstraintAttachment><str:Dataflow><Ref {}/></str:Dataflow></str:ConstraintAttachment>", ref_attrs(&global_flow, "datastructure", "Dataflow"));
    let key_value = |out: &mut String, id: &str, values: &mut dyn Iterator<Item = &str>| {
        let _ = write!(out, r#"<com:KeyValue id="{id}">"#);
        for v in values {
            let _ = write!(out, "<com:Value>{}</com:Value>", esc(v));
        }
        out.push_str("</com:KeyValue>");
    };
    let mut constrained = std::collections::HashSet::new();
    for (series, dims) in dsd.constraint.series() {
        constrained.insert(series);
        out.push_str(r#"<str:CubeRegion include="true">"#);
        key_value(&mut out, "SERIES", &mut std::iter::once(series));
        for (dim, codes) in dims {
            key_value(&mut out, dim, &mut codes.iter().map(String::as_str));
        }
        out.push_str("</str:CubeRegion>");
    }
    out.push_str(r#"<str:CubeRegion include="true">"#);
    let rest: Vec<&str> = official.iter().find(|(a, _)| a.id == "CL_SERIES").map(|(_, codes)| codes.iter().map(|(c, _)| c.as_str()).filter(|c| !constrained.contains(c)).collect()).unwrap_or_default();
    key_value(&mut out, "SERIES", &mut rest.into_iter());
    out.push_str("</str:CubeRegion></str:ContentConstraint></str:Constraints></mes:Structures></mes:Structure>");
    out
}
