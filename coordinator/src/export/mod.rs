//! Exports for the Voluntary National Review and the UN, each reproducible from a stated store
//! version: SDMX-CSV 1.0 and 2.0 for the global SDG dataflow and for the national one (what the
//! global structure cannot carry), the SDMX-ML structure message both reference, a report of
//! where each observation went, an Open SDG data bundle, an XLSX statistical annex and a
//! self-contained HTML report.
//!
//! | module | export |
//! | --- | --- |
//! | [`sdmx`] | SDMX-CSV 1.0 / 2.0 of both dataflows, their structure message, the report |
//! | [`opensdg`] | the Open SDG data bundle (`data/`, `meta/`) |
//! | [`xlsx`] | the statistical annex |
//! | [`html`] | the HTML report, and the pieces the dashboard shares with it |
//! | [`svg`] | the SVG charts |
//!
//! Every export is computed from one [`Snapshot`]: the observations and every figure read at
//! one store version, and states that version, the framework version, the generation time and
//! the definition of each figure.

pub mod html;
pub mod opensdg;
pub mod sdmx;
pub mod svg;
pub mod xlsx;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use futures::TryStreamExt;
use sdgx_schemas::observation::COLUMNS;
use sdgx_schemas::Contract;

use crate::catalog::{Catalog, Read};
use crate::error::{Error, Result};
use crate::figures::{self, areas, completeness, coverage, cross_area, disaggregation, gap, MigrationShare, ReportingStatus, Window};
use crate::store::PublicationEntry;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SDMX-CSV 1.0 (`DATAFLOW` column).
    SdmxCsv1,
    /// SDMX-CSV 2.0 (`STRUCTURE`, `STRUCTURE_ID`, `ACTION`).
    SdmxCsv2,
    /// SDMX-CSV 1.0 of the national dataflow.
    SdmxCsv1National,
    /// SDMX-CSV 2.0 of the national dataflow.
    SdmxCsv2National,
    /// The SDMX-ML 2.1 structure message of both dataflows.
    SdmxStructure,
    /// Where each observation went (global, national, left out), with the reasons (text).
    SdmxReport,
    /// The Open SDG data bundle (a zip over HTTP, a directory or a zip on the CLI).
    OpenSdg,
    /// The XLSX statistical annex.
    Xlsx,
    /// The HTML report.
    Html,
}

/// Every format, by name.
pub const FORMATS: [(&str, Format); 9] = [
    ("sdmx-csv-1.0", Format::SdmxCsv1),
    ("sdmx-csv-2.0", Format::SdmxCsv2),
    ("sdmx-csv-1.0-national", Format::SdmxCsv1National),
    ("sdmx-csv-2.0-national", Format::SdmxCsv2National),
    ("sdmx-structure", Format::SdmxStructure),
    ("sdmx-report", Format::SdmxReport),
    ("open-sdg", Format::OpenSdg),
    ("xlsx", Format::Xlsx),
    ("html", Format::Html),
];

/// In the OpenAPI document: the names of [`FORMATS`].
impl utoipa::PartialSchema for Format {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(FORMATS.map(|(n, _)| n)))
            .description(Some("An export format"))
            .into()
    }
}

impl utoipa::ToSchema for Format {}

impl Format {
    /// The format named `name`.
    pub fn parse(name: &str) -> Result<Format> {
        FORMATS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).ok_or_else(|| {
            Error::NotFound(format!("no export {name:?}; exports are {}", FORMATS.map(|(n, _)| n).join(", ")))
        })
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        FORMATS.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).expect("every format is listed")
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::SdmxCsv1 | Format::SdmxCsv1National => "application/vnd.sdmx.data+csv; version=1.0.0; charset=utf-8",
            Format::SdmxCsv2 | Format::SdmxCsv2National => "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8",
            Format::SdmxStructure => "application/vnd.sdmx.structure+xml; version=2.1; charset=utf-8",
            Format::SdmxReport => "text/plain; charset=utf-8",
            Format::OpenSdg => "application/zip",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// A file name for a download of store version `v`.
    pub fn file_name(self, v: i64) -> String {
        let ext = match self {
            Format::SdmxCsv1 | Format::SdmxCsv2 | Format::SdmxCsv1National | Format::SdmxCsv2National => "csv",
            Format::SdmxStructure => "xml",
            Format::SdmxReport => "txt",
            Format::OpenSdg => "zip",
            Format::Xlsx => "xlsx",
            Format::Html => "html",
        };
        format!("sdgx-{}-v{v}.{ext}", self.name())
    }

    /// The SDMX-CSV version and dataflow of an SDMX-CSV format.
    pub fn sdmx(self) -> Option<(sdmx::Version, sdmx::Flow)> {
        match self {
            Format::SdmxCsv1 => Some((sdmx::Version::V1, sdmx::Flow::Global)),
            Format::SdmxCsv2 => Some((sdmx::Version::V2, sdmx::Flow::Global)),
            Format::SdmxCsv1National => Some((sdmx::Version::V1, sdmx::Flow::National)),
            Format::SdmxCsv2National => Some((sdmx::Version::V2, sdmx::Flow::National)),
            Format::SdmxStructure | Format::SdmxReport | Format::OpenSdg | Format::Xlsx | Format::Html => None,
        }
    }
}

/// One observation, as the exports read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    /// Every text column of the contract by index (empty when null); numbers below.
    pub text: Vec<String>,
    /// `obs_value`.
    pub value: Option<f64>,
    /// `unit_mult`.
    pub unit_mult: i32,
    /// `lower_bound`.
    pub lower: Option<f64>,
    /// `upper_bound`.
    pub upper: Option<f64>,
    /// The publishing agency.
    pub agency: String,
    /// Its dataset.
    pub dataset: String,
}

impl Obs {
    /// The text of contract column `name`.
    pub fn get(&self, name: &str) -> &str {
        let i = COLUMNS.iter().position(|c| c.name == name).expect("a contract column");
        &self.text[i]
    }
}

/// Everything an export reads, from one store version.
pub struct Snapshot {
    /// The view read: official or provisional.
    pub view: crate::signoff::View,
    /// The store version read.
    pub store_version: i64,
    /// The framework version in force.
    pub framework_version: String,
    /// When the export was generated (RFC 3339, UTC).
    pub generated_at: String,
    /// When the store version was committed (RFC 3339, UTC).
    pub committed_at: String,
    /// The whole country's `ref_area`.
    pub national_area: String,
    /// The national SDMX structures' identifiers (maintenance agency, id suffix).
    pub sdmx_national: sdmx::National,
    /// Each agency's display name (agency id → name): the registry's names, and the
    /// coordinator's own derived agency.
    pub agency_names: BTreeMap<String, String>,
    /// Every observation, ordered by indicator, series, area, period and breakdowns.
    pub observations: Vec<Obs>,
    /// The publications current at that version.
    pub publications: Vec<PublicationEntry>,
    /// The headline figure.
    pub share: MigrationShare,
    /// Reporting status.
    pub reporting: ReportingStatus,
    /// Disaggregation status.
    pub disaggregation: disaggregation::DisaggregationStatus,
    /// Coverage matrix.
    pub coverage: coverage::CoverageMatrix,
    /// Migrant gap.
    pub gap: gap::MigrantGap,
    /// Agency completeness and timeliness.
    pub completeness: completeness::Completeness,
    /// Figures by area.
    pub areas: areas::AreaFigures,
    /// Figures across areas.
    pub cross_area: cross_area::CrossArea,
    /// The contract (framework and codelists) in force.
    pub contract: Arc<Contract>,
    /// The reader's languages: the report's and the annex's texts and labels (the
    /// coordinator's `language` setting unless the request or `--lang` asks for another).
    pub tr: crate::i18n::Tr,
}

/// Reads `read` (a view of the store, at a version or time): every observation and every
/// figure.
pub async fn snapshot(catalog: &Catalog, read: &Read) -> Result<Snapshot> {
    let pinned = catalog.pin(read).await?;
    let version = pinned.version;
    let session = catalog.tables(&pinned).await?;
    let order: Vec<&str> = COLUMNS.iter().take(sdgx_schemas::observation::idx::MIGRATORY_STATUS + 1).map(|c| c.name).collect();
    let sql = format!("SELECT * FROM observations ORDER BY {}", order.join(", "));
    let mut stream = session.ctx.sql(&sql).await?.execute_stream().await?;
    let mut observations = Vec::new();
    while let Some(b) = stream.try_next().await? {
        let text: Vec<Option<arrow::array::ArrayRef>> = COLUMNS
            .iter()
            .map(|c| match c.data_type {
                sdgx_schemas::observation::ColumnType::Text => b.column_by_name(c.name).map(|a| cast(a, &DataType::Utf8)).transpose(),
                _ => Ok(None),
            })
            .collect::<std::result::Result<_, _>>()?;
        let float = |n: &str| -> Result<arrow::array::ArrayRef> {
            Ok(cast(b.column_by_name(n).ok_or_else(|| Error::Internal(format!("observations lack {n}")))?, &DataType::Float64)?)
        };
        let (value, lower, upper) = (float("obs_value")?, float("lower_bound")?, float("upper_bound")?);
        let mult = cast(b.column_by_name("unit_mult").ok_or_else(|| Error::Internal("observations lack unit_mult".into()))?, &DataType::Int32)?;
        let agency = cast(b.column_by_name("agency").ok_or_else(|| Error::Internal("observations lack agency".into()))?, &DataType::Utf8)?;
        let dataset = cast(b.column_by_name("dataset").ok_or_else(|| Error::Internal("observations lack dataset".into()))?, &DataType::Utf8)?;
        let f = |a: &arrow::array::ArrayRef, i: usize| {
            let p = a.as_primitive::<arrow::datatypes::Float64Type>();
            p.is_valid(i).then(|| p.value(i))
        };
        let s = |a: &arrow::array::ArrayRef, i: usize| if a.is_valid(i) { a.as_string::<i32>().value(i).to_owned() } else { String::new() };
        for i in 0..b.num_rows() {
            observations.push(Obs {
                text: text.iter().map(|a| a.as_ref().map(|a| s(a, i)).unwrap_or_default()).collect(),
                value: f(&value, i),
                unit_mult: mult.as_primitive::<arrow::datatypes::Int32Type>().value(i),
                lower: f(&lower, i),
                upper: f(&upper, i),
                agency: s(&agency, i),
                dataset: s(&dataset, i),
            });
        }
    }
    let committed = catalog.store().committed_at(version).await?;
    Ok(Snapshot {
        view: pinned.view,
        store_version: version,
        framework_version: catalog.contract().framework.version.clone(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        committed_at: committed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        national_area: catalog.registers().national_area.clone(),
        sdmx_national: sdmx::National::new(&catalog.registers().national_area, catalog.registers().sdmx_agency.as_deref()),
        agency_names: agency_names(catalog.registers()),
        observations,
        publications: session.publications.clone(),
        share: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        reporting: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        disaggregation: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        coverage: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        gap: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        completeness: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        areas: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        cross_area: figures::owned_pinned(catalog, Window::default(), &pinned).await?,
        contract: catalog.shared_contract(),
        tr: crate::i18n::Tr::new(&catalog.registers().language),
    })
}

/// The name people read for the coordinator's own derived dataset's agency.
pub const DERIVED_AGENCY_NAME: &str = "Computed by the coordinator (sdgx) from the official data";

/// Each agency's display name from the registry (those with one), and the derived agency's.
pub fn agency_names(registers: &crate::catalog::Registers) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> =
        registers.agencies.iter().filter(|a| !a.name.is_empty()).map(|a| (a.id.clone(), a.name.clone())).collect();
    if let Some(d) = &registers.derived_agency {
        names.insert(d.clone(), DERIVED_AGENCY_NAME.to_owned());
    }
    names
}

impl Snapshot {
    /// The display name of agency `id` (its id when the registry gives it no name).
    pub fn agency_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.agency_names.get(id).map_or(id, String::as_str)
    }

    /// The statement every export carries: store version, framework version, generation time.
    pub fn provenance(&self) -> String {
        format!(
            "sdgx export of the {} view of store version {} (committed {}), framework {}, generated {}",
            self.view, self.store_version, self.committed_at, self.framework_version, self.generated_at
        )
    }

    /// Each figure's name and exact definition.
    pub fn definitions(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Migration disaggregation share (headline)", self.share.about.definition.clone()),
            ("Reporting status", self.reporting.about.definition.clone()),
            ("Disaggregation status", self.disaggregation.about.definition.clone()),
            ("Coverage matrix", self.coverage.about.definition.clone()),
            ("Migrant / non-migrant gap", self.gap.about.definition.clone()),
            ("Agency completeness and timeliness", self.completeness.about.definition.clone()),
            ("Figures by area", self.areas.about.definition.clone()),
            ("Figures across areas", self.cross_area.about.definition.clone()),
        ]
    }

    /// Labels for codes in the reader's languages ([`Snapshot::tr`]).
    pub fn labels(&self) -> crate::i18n::Labels<'_> {
        crate::i18n::Labels::new(&self.tr, &self.contract, &self.agency_names)
    }

    /// The English name of `code` in the codelist of contract column `column`, or the code.
    pub fn label(&self, column: &str, code: &str) -> String {
        crate::i18n::labels::codelist_name(&self.contract, column, code).unwrap_or(code).to_owned()
    }
}

/// Renders `format` from `snapshot`: the bytes of the file.
pub fn render(format: Format, snapshot: &Snapshot) -> Result<Vec<u8>> {
    Ok(match format {
        Format::SdmxCsv1 | Format::SdmxCsv2 | Format::SdmxCsv1National | Format::SdmxCsv2National => {
            let (version, flow) = format.sdmx().expect("an SDMX-CSV format");
            sdmx::csv(&sdmx::map(snapshot), version, flow).into_bytes()
        }
        Format::SdmxStructure => sdmx::structure::message(snapshot).into_bytes(),
        Format::SdmxReport => sdmx::report(snapshot, &sdmx::map(snapshot)).into_bytes(),
        Format::OpenSdg => opensdg::zip(&opensdg::bundle(snapshot))?,
        Format::Xlsx => xlsx::annex(snapshot)?,
        Format::Html => html::report(snapshot).into_bytes(),
    })
}

/// Writes `format` of `snapshot` to `out` (the CLI): the Open SDG bundle as a directory, or as a
/// zip when `out` ends in `.zip`; SDMX-CSV with its report (`<out>.report.txt`) and the structure
/// message it references (`<out>.structure.xml`) beside it.
/// Returns a line saying what was written.
pub fn write(format: Format, snapshot: &Snapshot, out: &std::path::Path) -> Result<String> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let v = snapshot.store_version;
    match format {
        Format::OpenSdg if out.extension().is_none_or(|e| e != "zip") => {
            let files = opensdg::bundle(snapshot);
            opensdg::write_dir(&files, out)?;
            Ok(format!("wrote the Open SDG bundle of store version {v} to {}/ ({} files)", out.display(), files.len()))
        }
        Format::SdmxCsv1 | Format::SdmxCsv2 | Format::SdmxCsv1National | Format::SdmxCsv2National => {
            let mapped = sdmx::map(snapshot);
            let (version, flow) = format.sdmx().expect("an SDMX-CSV format");
            std::fs::write(out, sdmx::csv(&mapped, version, flow)).map_err(Error::io(out))?;
            let report = out.with_extension("report.txt");
            std::fs::write(&report, sdmx::report(snapshot, &mapped)).map_err(Error::io(&report))?;
            let structure = out.with_extension("structure.xml");
            std::fs::write(&structure, sdmx::structure::message(snapshot)).map_err(Error::io(&structure))?;
            let (here, there) = match flow {
                sdmx::Flow::Global => (mapped.rows.len(), format!("{} in the national dataflow {}", mapped.national.len(), mapped.ids.dataflow())),
                sdmx::Flow::National => (mapped.national.len(), format!("{} in the global dataflow {}", mapped.rows.len(), sdmx::DATAFLOW)),
            };
            Ok(format!(
                "wrote {} ({here} observations of store version {v}; {there}; {} left out of both, listed with the reason in {}) and its structures {}",
                out.display(),
                mapped.excluded.len(),
                report.display(),
                structure.display()
            ))
        }
        _ => {
            std::fs::write(out, render(format, snapshot)?).map_err(Error::io(out))?;
            Ok(format!("wrote {} ({} of store version {v})", out.display(), format.name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AgencyEntry;
    use crate::catalog::Registers;

    #[test]
    fn agencies_are_named_from_the_registry_and_the_derived_agency_says_what_it_is() {
        let entry = |id: &str, name: &str| AgencyEntry { id: id.into(), name: name.into(), datasets: vec![], areas: vec![] };
        let registers = Registers {
            agencies: vec![entry("labour", "Ministry of Labour and Social Affairs"), entry("unnamed", "")],
            calendar: vec![],
            national_area: "AM".into(),
            derived_agency: Some("sdgx".into()),
            areas: vec![],
            language: "en".into(),
            sdmx_agency: None,
            audit_ca: vec![],
        };
        let names = agency_names(&registers);
        assert_eq!(names.get("labour").map(String::as_str), Some("Ministry of Labour and Social Affairs"));
        assert_eq!(names.get("sdgx").map(String::as_str), Some(DERIVED_AGENCY_NAME));
        assert!(!names.contains_key("unnamed"), "an agency without a name keeps its id: {names:?}");
    }
}
