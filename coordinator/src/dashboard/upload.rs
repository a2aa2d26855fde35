//! The upload page, for agencies without a server (`agency` tokens): the agency picks a
//! contract file (CSV, or a workbook whose first sheet's first row names the contract columns)
//! and a manifest (a TOML file, or the form: the agency is always the token's), checks it (a
//! dry run: the import summary, quality warnings and figure impact, or every error with its
//! row, column and value), then submits it. Both steps run the publication path of Flight:
//! [`ingest::authorize`] (an agency token publishes only its agency's registered datasets),
//! the same [`crate::ingest::Admission`] limits, [`ingest::dry_run`] and [`ingest::ingest`].
//!
//! Between the check and the submit the file stays on the server, under
//! `<data_dir>/staging/uploads/`, named by a random id and the caller's agency ([`Uploads`]);
//! the browser only holds the id, which names nothing for another agency. A kept upload is
//! deleted once submitted, or after [`UPLOAD_TTL`]. A form is at most [`MAX_UPLOAD_BYTES`].

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::Schema;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::{Deserialize, Serialize};
use sdgx_schemas::api::DryRunReport;
use sdgx_schemas::flight::Ack;
use sdgx_schemas::normalize::{read_csv, validate_stream};
use sdgx_schemas::workbook::{read_sheet, Cells};
use sdgx_schemas::{Contract, Manifest, Normalizer, Problem, ReferencePeriod, ValidationReport, Validator};

use super::{impact, share, Reader};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::export::html::{self, esc};
use crate::http::{Caller, HttpState};
use crate::i18n::{Labels, Tr};
use crate::ingest::{self, Ingest, Publisher};

/// The largest upload form accepted (data file and manifest together): 50 MB.
pub const MAX_UPLOAD_BYTES: usize = 50 << 20;

/// How long a checked upload is kept for its submit.
pub const UPLOAD_TTL: Duration = Duration::from_secs(3600);

/// The most a workbook may unpack to (the sum of its parts' uncompressed sizes): 512 MB. A
/// workbook is read whole, so this bounds the memory one upload can take.
pub const MAX_WORKBOOK_UNPACKED: u64 = 512 << 20;

/// Rows per batch read from a contract CSV.
const BATCH_ROWS: usize = 8192;

/// The upload routes (agency tokens only; see [`super::router`]).
pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/dashboard/upload", get(form))
        .route("/dashboard/upload/check", post(check_form))
        .route("/dashboard/upload/submit", post(submit_form))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

/// What kind of contract file an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A contract CSV.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
    /// A legacy Excel workbook.
    Xls,
    /// An OpenDocument spreadsheet.
    Ods,
}

impl FileKind {
    /// The kind of a file named `name` whose content starts with `head`: by extension, else a
    /// ZIP (`PK`) is a workbook, anything else CSV.
    pub fn detect(name: &str, head: &[u8]) -> FileKind {
        let lower = name.to_ascii_lowercase();
        match lower.rsplit_once('.').map(|(_, e)| e) {
            Some("xlsx" | "xlsm") => FileKind::Xlsx,
            Some("xls") => FileKind::Xls,
            Some("ods") => FileKind::Ods,
            Some("csv" | "txt") => FileKind::Csv,
            _ if head.starts_with(b"PK\x03\x04") => FileKind::Xlsx,
            _ => FileKind::Csv,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            FileKind::Csv => "csv",
            FileKind::Xlsx => "xlsx",
            FileKind::Xls => "xls",
            FileKind::Ods => "ods",
        }
    }
}

/// Where checked uploads wait for their submit: `<data_dir>/staging/uploads/` (the store
/// empties `staging/` when the coordinator starts).
#[derive(Debug)]
pub struct Uploads {
    dir: PathBuf,
}

/// What is kept beside an upload's file.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    kind: FileKind,
    file_name: String,
    manifest: Option<Manifest>,
}

/// One upload's file on the server. Deleted on drop unless [`Kept::keep`] was called.
#[derive(Debug)]
pub struct Kept {
    /// The random id the browser holds.
    pub id: String,
    /// The agency it belongs to.
    pub agency: String,
    /// The contract file.
    pub path: PathBuf,
    meta_path: PathBuf,
    meta: Meta,
    keep: bool,
}

impl Uploads {
    /// The uploads of the coordinator whose data directory is `data_dir`.
    pub fn new(data_dir: &Path) -> Uploads {
        Uploads { dir: data_dir.join("staging").join("uploads") }
    }

    /// The directory (for tests).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, agency: &str, id: &str, kind: FileKind) -> (PathBuf, PathBuf) {
        let stem = format!("{agency}--{id}");
        (self.dir.join(format!("{stem}.{}", kind.extension())), self.dir.join(format!("{stem}.json")))
    }

    /// A new, empty upload of `agency` for a file named `file_name` of `kind`, under a fresh
    /// random id. Uploads older than [`UPLOAD_TTL`] are deleted first.
    pub fn create(&self, agency: &str, file_name: &str, kind: FileKind) -> Result<Kept> {
        std::fs::create_dir_all(&self.dir).map_err(Error::io(&self.dir))?;
        self.sweep(UPLOAD_TTL);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (path, meta_path) = self.paths(agency, &id, kind);
        std::fs::File::create(&path).map_err(Error::io(&path))?;
        let meta = Meta { kind, file_name: file_name.to_owned(), manifest: None };
        Ok(Kept { id, agency: agency.to_owned(), path, meta_path, meta, keep: false })
    }

    /// `agency`'s upload `id`. An id that is not one of ours, or another agency's, or expired,
    /// or already submitted, is not found (nothing tells another agency's upload apart).
    pub fn find(&self, agency: &str, id: &str) -> Result<Kept> {
        let gone = || Error::NotFound("this upload is no longer on the server (it was submitted, or it expired after an hour); check the file again".into());
        // Only a well-formed id names a file: never a path from the client.
        let id = uuid::Uuid::try_parse(id).map_err(|_| gone())?.simple().to_string();
        let (_, meta_path) = self.paths(agency, &id, FileKind::Csv);
        let text = std::fs::read_to_string(&meta_path).map_err(|_| gone())?;
        let meta: Meta = serde_json::from_str(&text).map_err(|e| Error::Internal(format!("{}: {e}", meta_path.display())))?;
        let (path, _) = self.paths(agency, &id, meta.kind);
        if !path.exists() {
            return Err(gone());
        }
        Ok(Kept { id, agency: agency.to_owned(), path, meta_path, meta, keep: false })
    }

    /// Deletes the uploads last written more than `ttl` ago.
    pub fn sweep(&self, ttl: Duration) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for e in entries.flatten() {
            let old = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > ttl);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// How many files are kept (for tests).
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir).map(|d| d.count()).unwrap_or(0)
    }
}

impl Kept {
    /// The file's kind.
    pub fn kind(&self) -> FileKind {
        self.meta.kind
    }

    /// The manifest recorded by the check.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.meta.manifest.as_ref()
    }

    /// Keeps the file (and its manifest) on the server for the submit.
    pub fn keep(mut self, manifest: Manifest) -> Result<String> {
        self.meta.manifest = Some(manifest);
        let text = serde_json::to_string(&self.meta).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(&self.meta_path, text).map_err(Error::io(&self.meta_path))?;
        self.keep = true;
        Ok(self.id.clone())
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_file(&self.meta_path);
        }
    }
}

/// The manifest of an upload: a TOML file, or the form's fields.
#[derive(Debug, Clone)]
pub enum ManifestInput {
    /// An uploaded manifest (TOML, as an agent's).
    Toml(String),
    /// The form.
    Form(ManifestForm),
}

/// The manifest form: the agency is the token's, the indicators those in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestForm {
    /// The dataset (one the registry lists for the agency).
    pub dataset: String,
    /// Title.
    pub title: String,
    /// Periodicity (a CL_FREQ code).
    pub periodicity: String,
    /// First reference period.
    pub start: String,
    /// Last reference period.
    pub end: String,
}

impl ManifestInput {
    /// The manifest for `agency`, before its indicators are known (a form's are filled from
    /// the file).
    fn manifest(&self, agency: &str) -> Result<Manifest> {
        match self {
            ManifestInput::Toml(t) => Ok(Manifest::from_toml(t)?),
            ManifestInput::Form(f) => {
                if f.dataset.trim().is_empty() {
                    return Err(Error::BadRequest("choose the dataset, or upload a manifest file".into()));
                }
                Ok(Manifest {
                    agency: agency.to_owned(),
                    dataset: f.dataset.trim().to_owned(),
                    title: f.title.trim().to_owned(),
                    indicators: vec![],
                    reference_period: ReferencePeriod { start: f.start.trim().to_owned(), end: f.end.trim().to_owned() },
                    periodicity: f.periodicity.trim().to_owned(),
                    content_hash: None,
                    metadata: Default::default(),
                    withdraw: false,
                    provenance: vec![],
                })
            }
        }
    }
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>> + Send>;

/// The file's batches as read (all text) and their schema; at least one batch, empty when the
/// file has no rows.
fn read_file(kind: FileKind, path: &Path) -> Result<(Schema, Batches)> {
    let (schema, batches): (Schema, Batches) = match kind {
        FileKind::Csv => {
            let reader = read_csv(path, BATCH_ROWS)?;
            ((*reader.schema()).clone(), Box::new(reader))
        }
        FileKind::Xlsx | FileKind::Xls | FileKind::Ods => {
            if kind != FileKind::Xls {
                check_unpacked(path)?;
            }
            let batch = read_sheet(path, None, None, Cells::Text)?;
            ((*batch.schema()).clone(), Box::new(std::iter::once(Ok(batch))))
        }
    };
    let mut batches = batches.peekable();
    if batches.peek().is_none() {
        let empty = RecordBatch::new_empty(Arc::new(schema.clone()));
        return Ok((schema, Box::new(std::iter::once(Ok(empty)))));
    }
    Ok((schema, Box::new(batches)))
}

/// Refuses a zipped workbook (XLSX, ODS) that would unpack to more than
/// [`MAX_WORKBOOK_UNPACKED`], before it is read. The sizes are those its directory declares;
/// the unzipper reads no more than that.
fn check_unpacked(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    // Not a ZIP: the workbook reader says so.
    let Ok(mut zip) = zip::ZipArchive::new(file) else { return Ok(()) };
    let mut total = 0u64;
    for i in 0..zip.len() {
        total = total.saturating_add(zip.by_index_raw(i).map(|f| f.size()).unwrap_or(0));
    }
    if total > MAX_WORKBOOK_UNPACKED {
        return Err(Error::BadRequest(format!(
            "the workbook unpacks to {} MB, over the {} MB limit; save it as CSV, or split it into smaller datasets",
            total >> 20,
            MAX_WORKBOOK_UNPACKED >> 20
        )));
    }
    Ok(())
}

/// Normalises the file without validating it: the problems of its columns and cells (unknown
/// columns, text in a number column...), and the indicators it carries.
fn scan(contract: &Contract, kind: FileKind, path: &Path) -> Result<(Vec<Problem>, Vec<String>)> {
    let (schema, batches) = read_file(kind, path)?;
    let mut normalizer = Normalizer::new(contract, &schema);
    let mut problems = normalizer.schema_problems().to_vec();
    let mut indicators = std::collections::BTreeSet::new();
    for b in batches {
        let wire = normalizer.normalize(&b.map_err(sdgx_schemas::Error::from)?, &mut |p| problems.push(p))?;
        let col = wire.column(sdgx_schemas::observation::idx::INDICATOR);
        if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
            indicators.extend(a.iter().flatten().filter(|s| !s.is_empty()).map(str::to_owned));
        }
    }
    Ok((problems, indicators.into_iter().collect()))
}

/// The rejection of a file with normalisation problems: every problem, the contract's
/// validation included, as one report (the agent's `validate_stream`).
fn rejection(contract: &Contract, ingest: &Ingest, manifest: &Manifest, kind: FileKind, path: &Path) -> Result<Error> {
    let mut validator = Validator::new(contract, manifest.clone(), ingest.options_for(&manifest.agency));
    let (schema, batches) = read_file(kind, path)?;
    validate_stream(&mut validator, contract, &schema, batches, |_| Ok(()))?;
    let report = match validator.finish()? {
        Err(report) => report,
        // Normalisation problems are errors, so this does not happen; should it, the
        // publication is still refused.
        Ok(s) => ValidationReport { agency: s.agency, dataset: s.dataset, rows: s.rows, errors: vec![], warnings: s.warnings, error_count: 0, truncated: false },
    };
    Ok(Error::Rejected(Box::new(report)))
}

/// The file's wire batches, for the ingest path (the file normalised without problems).
fn wire_batches<'c>(contract: &'c Contract, kind: FileKind, path: &Path) -> Result<impl futures::Stream<Item = Result<RecordBatch>> + Send + 'c> {
    let (schema, batches) = read_file(kind, path)?;
    let mut normalizer = Normalizer::new(contract, &schema);
    let wire = batches.map(move |b| Ok(normalizer.normalize(&b.map_err(sdgx_schemas::Error::from)?, &mut |_| {})?));
    Ok(futures::stream::iter(wire))
}

/// The checked manifest of `kept`: resolved for `agency`, authorised, its indicators filled
/// from the file when it came from the form, and the file free of normalisation problems.
fn prepare(contract: &Contract, ingest: &Ingest, agency: &str, kept: &Kept, input: &ManifestInput) -> Result<Manifest> {
    let mut manifest = input.manifest(agency)?;
    ingest::authorize(&ingest.registry, &Publisher::Agency(agency.to_owned()), &manifest)?;
    let (problems, indicators) = scan(contract, kept.kind(), &kept.path)?;
    if matches!(input, ManifestInput::Form(_)) {
        manifest.indicators = indicators;
    }
    if !problems.is_empty() {
        return Err(rejection(contract, ingest, &manifest, kept.kind(), &kept.path)?);
    }
    Ok(manifest)
}

/// A checked upload: kept on the server under `id` for its submit.
#[derive(Debug)]
pub struct Checked {
    /// The upload's id.
    pub id: String,
    /// The manifest it will be published under.
    pub manifest: Manifest,
    /// The dry run's report.
    pub report: DryRunReport,
}

/// Checks `kept` for `agency` under `input`: authorised as Flight authorises, admitted under
/// the same limits, and dry-run (nothing stored). On success the file is kept for
/// [`submit`]; on any failure it is deleted.
pub async fn check(catalog: &Catalog, ingest: &Ingest, agency: &str, kept: Kept, input: &ManifestInput) -> Result<Checked> {
    let contract = catalog.contract();
    let manifest = prepare(contract, ingest, agency, &kept, input)?;
    let _admitted = ingest.admission.admit(&manifest.agency, &manifest.dataset)?;
    let report = ingest::dry_run(catalog, ingest.options_for(&manifest.agency), manifest.clone(), &ingest::Signed::unsigned(), wire_batches(contract, kept.kind(), &kept.path)?).await?;
    let id = kept.keep(manifest.clone())?;
    Ok(Checked { id, manifest, report })
}

/// Publishes `agency`'s checked upload `id` through the ingest path (authorised and admitted
/// again). The upload is deleted once answered, unless the limits refused it for now.
pub async fn submit(ingest: &Ingest, uploads: &Uploads, agency: &str, id: &str) -> Result<(Manifest, Ack)> {
    let mut kept = uploads.find(agency, id)?;
    let manifest = kept.manifest().cloned().ok_or_else(|| Error::NotFound("this upload was never checked; check the file first".into()))?;
    // Counted as every publication is, accepted or refused (see crate::metrics).
    let published = async {
        ingest::authorize(&ingest.registry, &Publisher::Agency(agency.to_owned()), &manifest)?;
        let admitted = ingest.admission.admit(&manifest.agency, &manifest.dataset);
        if let Err(e) = admitted {
            kept.keep = true;
            return Err(e);
        }
        let batches = wire_batches(&ingest.contract, kept.kind(), &kept.path)?;
        ingest::ingest(&ingest.contract, &ingest.store, ingest.options_for(&manifest.agency), manifest.clone(), ingest::Signed::unsigned(), batches).await
    }
    .await;
    ingest.publications.record(published.as_ref().map(|a| a.duplicate));
    Ok((manifest, published?))
}

// ---- the pages ----

/// The upload pages' navigation: the form, the logout button and the language links.
fn nav(r: &Reader) -> String {
    format!(
        "<nav><a href=\"{}\">{}</a>{}</nav>{}",
        esc(&r.link("/dashboard/upload")),
        esc(&r.tr.t("dashboard-upload-heading")),
        super::logout_button(r),
        r.languages()
    )
}

/// Styles of the upload pages: fields stacked, full width on a phone.
const STYLE: &str = "<style>form.upload label{display:block;margin:.6rem 0 .2rem;font-weight:600}\
form.upload input[type=text],form.upload select{width:100%;max-width:30rem;box-sizing:border-box;padding:.3rem}\
form.upload input[type=file]{max-width:100%}fieldset{border:1px solid #ccd;margin:1rem 0;padding:.5rem .8rem}\
.hint{color:#555;font-size:.85rem;margin:.2rem 0}.error{color:#a40000}.done{color:#145a14;font-weight:600}\
.scroll{overflow-x:auto}dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}dl.summary dt{font-weight:600}\
dl.summary dd{margin:0;overflow-wrap:anywhere}button.primary{font-size:1rem;padding:.4rem 1rem;margin-top:1rem}\
@media (max-width:30rem){dl.summary{grid-template-columns:1fr}dl.summary dd{margin-bottom:.4rem}\
table.problems thead{display:none}table.problems tr{display:block;border:1px solid #ccd;margin:.5rem 0;padding:.3rem}\
table.problems td{display:grid;grid-template-columns:6.5rem 1fr;border:none;padding:.1rem .2rem;text-align:left;overflow-wrap:anywhere}\
table.problems td::before{content:attr(data-label);font-weight:600}}</style>";

/// An upload page for `r`, titled by the message `title`.
fn page(r: &Reader, title: &str, body: &str) -> Html<String> {
    Html(html::page(&r.tr, &format!("{} · sdgx", r.tr.t(title)), &nav(r), &format!("{STYLE}{body}")))
}

/// The agency's display name from the registry.
fn agency_name(ingest: &Ingest, agency: &str) -> String {
    ingest.registry.agencies().iter().find(|a| a.id == agency).map(|a| a.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| agency.to_owned())
}

/// The form, with `filled`'s values (after a refusal, so that only the file is chosen again).
fn form_body(state: &HttpState, r: &Reader, caller: &Caller, alert: &str, filled: &ManifestForm) -> String {
    let tr = &r.tr;
    let contract = state.catalog.contract();
    let datasets: Vec<String> = state.ingest.registry.agencies().iter().filter(|a| a.id == caller.name).flat_map(|a| a.datasets.clone()).collect();
    let mut options = format!("<option value=\"\">{}</option>", esc(&tr.t("dashboard-upload-from-manifest")));
    for d in &datasets {
        let selected = if *d == filled.dataset { " selected" } else { "" };
        let _ = write!(options, "<option value=\"{0}\"{selected}>{0}</option>", esc(d));
    }
    let names = std::collections::BTreeMap::new();
    let l = Labels::new(tr, contract, &names);
    let mut periodicity = String::new();
    for code in ["A", "S", "Q", "M"] {
        let selected = if code == filled.periodicity { " selected" } else { "" };
        let _ = write!(periodicity, "<option value=\"{code}\"{selected}>{}</option>", l.code("freq", code).html(tr));
    }
    let t = |id: &str| esc(&tr.t(id));
    let agency = format!("<strong>{}</strong>", esc(&agency_name(&state.ingest, &caller.name)));
    format!(
        "<h1>{}</h1><p>{}</p>{alert}\
<form class=\"upload\" method=\"post\" action=\"{}\" enctype=\"multipart/form-data\">\
<fieldset><legend>{}</legend><label for=\"data\">{}</label>\
<input id=\"data\" name=\"data\" type=\"file\" accept=\".csv,.xlsx,.xls,.ods\" required>\
<p class=\"hint\">{}</p></fieldset>\
<fieldset><legend>{}</legend><label for=\"manifest\">{}</label>\
<input id=\"manifest\" name=\"manifest\" type=\"file\" accept=\".toml,text/plain\"><p class=\"hint\">{}</p>\
<label for=\"dataset\">{}</label><select id=\"dataset\" name=\"dataset\">{options}</select>\
<label for=\"title\">{}</label><input id=\"title\" name=\"title\" type=\"text\" value=\"{}\">\
<label for=\"periodicity\">{}</label><select id=\"periodicity\" name=\"periodicity\">{periodicity}</select>\
<label for=\"start\">{}</label><input id=\"start\" name=\"start\" type=\"text\" value=\"{}\">\
<label for=\"end\">{}</label><input id=\"end\" name=\"end\" type=\"text\" value=\"{}\">\
<p class=\"hint\">{}</p></fieldset>\
<button id=\"check\" class=\"primary\" type=\"submit\">{}</button> <span class=\"hint\">{}</span></form>",
        t("dashboard-upload-heading"),
        tr.markup("dashboard-upload-signed-in", &[], &[("agency", &agency)]),
        esc(&r.keep("/dashboard/upload/check")),
        t("dashboard-upload-data"),
        t("dashboard-upload-data-file"),
        esc(&tr.ta("dashboard-upload-data-hint", &[("megabytes", (MAX_UPLOAD_BYTES >> 20).into())])),
        t("dashboard-upload-manifest"),
        t("dashboard-upload-manifest-file"),
        t("dashboard-upload-or-fill"),
        t("dashboard-upload-dataset"),
        t("dashboard-upload-title-field"),
        esc(&filled.title),
        t("dashboard-upload-periodicity"),
        t("dashboard-upload-start"),
        esc(&filled.start),
        t("dashboard-upload-end"),
        esc(&filled.end),
        t("dashboard-upload-indicators-hint"),
        t("dashboard-upload-check"),
        t("dashboard-upload-nothing-yet"),
    )
}

/// `GET /dashboard/upload`: the form (on a read-only replica, a note saying where to upload).
async fn form(State(state): State<Arc<HttpState>>, Extension(caller): Extension<Caller>, Extension(r): Extension<Reader>) -> Html<String> {
    if let Some(note) = super::read_only_note(&state, &r.tr, super::Elsewhere::Upload) {
        return page(&r, "dashboard-upload-title", &format!("<h1>{}</h1>{note}", esc(&r.tr.t("dashboard-upload-heading"))));
    }
    page(&r, "dashboard-upload-title", &form_body(&state, &r, &caller, "", &ManifestForm::default()))
}

/// A read-only replica's refusal of a check or submit, before anything is read or kept.
fn refused_here(state: &HttpState, r: &Reader) -> Option<Response> {
    let e = state.catalog.store().writable().err()?;
    let note = super::read_only_note(state, &r.tr, super::Elsewhere::Upload).unwrap_or_default();
    let body = format!("<h1>{}</h1>{}{note}", esc(&r.tr.t("dashboard-upload-heading")), alert(state, &r.tr, &e));
    Some((e.kind().http, page(r, "dashboard-upload-title", &body)).into_response())
}

/// Problems as a table: row, column, value and what is wrong (the rule's description as its
/// tooltip). On a phone each problem is a card, each cell labelled by its column.
fn problems_table(tr: &Tr, id: &str, problems: &[Problem]) -> String {
    let columns = ["dashboard-problem-row", "dashboard-problem-column", "dashboard-problem-value", "dashboard-problem-what"];
    let [row, column, value, what] = columns.map(|c| esc(&tr.t(c)));
    let mut b = format!("<table id=\"{id}\" class=\"problems\">{}<tbody>", super::head(tr, &columns));
    for p in problems {
        let _ = write!(
            b,
            "<tr><td class=\"num\" data-label=\"{row}\">{}</td><td data-label=\"{column}\">{}</td><td data-label=\"{value}\">{}</td><td data-label=\"{what}\" title=\"{}\">{}</td></tr>",
            p.row.map(|r| r.to_string()).unwrap_or_default(),
            esc(p.column.as_deref().unwrap_or("")),
            esc(p.value.as_deref().unwrap_or("")),
            esc(p.rule.description()),
            esc(&p.message)
        );
    }
    b.push_str("</tbody></table>");
    b
}

/// The alert of a refused check or submit: a rejection's every error (the agency by name and
/// id), or the message.
fn alert(state: &HttpState, tr: &Tr, e: &Error) -> String {
    match e {
        Error::Rejected(r) => {
            let strong = |s: &str| format!("<strong>{}</strong>", esc(s));
            // The agency by its registry name, with the id its files and manifests use.
            let agency = super::agency_names(state).get(&r.agency).map_or_else(|| r.agency.clone(), |name| format!("{name} ({})", r.agency));
            let (agency, dataset) = (strong(&agency), strong(&r.dataset));
            let counts = [("errors", tr.number(r.error_count as f64, 0).into()), ("rows", tr.number(r.rows as f64, 0).into())];
            let summary = if r.truncated {
                let mut args = counts.to_vec();
                args.push(("listed", tr.number(r.errors.len() as f64, 0).into()));
                tr.markup("dashboard-upload-rejected-truncated", &args, &[("agency", &agency), ("dataset", &dataset)])
            } else {
                tr.markup("dashboard-upload-rejected-summary", &counts, &[("agency", &agency), ("dataset", &dataset)])
            };
            let mut b = format!("<section id=\"errors\" role=\"alert\"><h2 class=\"error\">{}</h2><p>{summary}</p>", esc(&tr.t("dashboard-upload-rejected")));
            b.push_str(&problems_table(tr, "error-list", &r.errors));
            b.push_str("</section>");
            b
        }
        Error::PermissionDenied(m) => format!("<p id=\"errors\" role=\"alert\" class=\"error\">{}</p>", esc(&tr.ta("dashboard-upload-refused", &[("reason", m.as_str().into())]))),
        other => format!("<p id=\"errors\" role=\"alert\" class=\"error\">{}</p>", esc(&other.to_string())),
    }
}

/// Whether `e` is the user's to fix (shown on the page) rather than the server's.
fn shown(e: &Error) -> bool {
    matches!(e, Error::Rejected(_) | Error::BadRequest(_) | Error::PermissionDenied(_) | Error::LimitReached(_) | Error::NotFound(_) | Error::Contract(_))
}

/// The form again with `e` above it, when `e` is the user's to fix; otherwise `e` itself.
fn refused(state: &HttpState, r: &Reader, caller: &Caller, e: Error, filled: &ManifestForm) -> Result<Response> {
    if !shown(&e) {
        return Err(e);
    }
    Ok((e.kind().http, page(r, "dashboard-upload-title", &form_body(state, r, caller, &alert(state, &r.tr, &e), filled))).into_response())
}

/// The upload form as read from the multipart body: the data file is written to `kept` as it
/// arrives.
struct Received {
    kept: Option<Kept>,
    manifest: Option<String>,
    form: ManifestForm,
}

async fn field_text(field: Field<'_>) -> std::result::Result<String, MultipartError> {
    field.text().await
}

/// The refusal of a form over [`MAX_UPLOAD_BYTES`].
fn too_big_message() -> String {
    format!("the upload is larger than the {} MB limit; split the file into smaller datasets", MAX_UPLOAD_BYTES >> 20)
}

async fn receive(uploads: &Uploads, agency: &str, mut multipart: Multipart) -> Result<Received> {
    use tokio::io::AsyncWriteExt;
    let too_big = |e: MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::BadRequest(too_big_message()),
        _ => Error::BadRequest(format!("the upload could not be read: {}", e.body_text())),
    };
    let mut r = Received { kept: None, manifest: None, form: ManifestForm::default() };
    while let Some(mut field) = multipart.next_field().await.map_err(too_big)? {
        match field.name().unwrap_or_default() {
            "data" => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let first = field.chunk().await.map_err(too_big)?;
                let Some(first) = first.filter(|c| !c.is_empty()) else { continue };
                let kept = uploads.create(agency, &name, FileKind::detect(&name, &first))?;
                let mut file = tokio::fs::File::create(&kept.path).await.map_err(Error::io(&kept.path))?;
                file.write_all(&first).await.map_err(Error::io(&kept.path))?;
                // Dropping `kept` on an error deletes what was written.
                while let Some(chunk) = field.chunk().await.map_err(too_big)? {
                    file.write_all(&chunk).await.map_err(Error::io(&kept.path))?;
                }
                file.flush().await.map_err(Error::io(&kept.path))?;
                r.kept = Some(kept);
            }
            "manifest" => {
                let text = field_text(field).await.map_err(too_big)?;
                r.manifest = Some(text).filter(|t| !t.trim().is_empty());
            }
            "dataset" => r.form.dataset = field_text(field).await.map_err(too_big)?,
            "title" => r.form.title = field_text(field).await.map_err(too_big)?,
            "periodicity" => r.form.periodicity = field_text(field).await.map_err(too_big)?,
            "start" => r.form.start = field_text(field).await.map_err(too_big)?,
            "end" => r.form.end = field_text(field).await.map_err(too_big)?,
            _ => {}
        }
    }
    Ok(r)
}

/// `POST /dashboard/upload/check`: receives the form and dry-runs the upload; shows the
/// summary and the submit button, or the errors.
async fn check_form(State(state): State<Arc<HttpState>>, Extension(caller): Extension<Caller>, Extension(r): Extension<Reader>, multipart: Multipart) -> Result<Response> {
    if let Some(refusal) = refused_here(&state, &r) {
        return Ok(refusal);
    }
    let received = match receive(&state.uploads, &caller.name, multipart).await {
        Ok(received) => received,
        Err(Error::BadRequest(m)) if m == too_big_message() => {
            let alert = alert(&state, &r.tr, &Error::BadRequest(m));
            return Ok((StatusCode::PAYLOAD_TOO_LARGE, page(&r, "dashboard-upload-title", &form_body(&state, &r, &caller, &alert, &ManifestForm::default()))).into_response());
        }
        Err(e) => return refused(&state, &r, &caller, e, &ManifestForm::default()),
    };
    let filled = received.form.clone();
    let Some(kept) = received.kept else {
        return refused(&state, &r, &caller, Error::BadRequest("choose the data file to upload".into()), &filled);
    };
    let input = match received.manifest {
        Some(t) => ManifestInput::Toml(t),
        None => ManifestInput::Form(received.form),
    };
    match check(&state.catalog, &state.ingest, &caller.name, kept, &input).await {
        Ok(c) => Ok(page(&r, "dashboard-upload-check-title", &summary_body(&state, &r, &c)).into_response()),
        Err(e) => refused(&state, &r, &caller, e, &filled),
    }
}

/// A summary list (`<dl>`, `id` when given) of items: the message id of the term, the `id`
/// of the description if it has one, and the description (HTML).
fn summary_list(tr: &Tr, id: Option<&str>, items: &[(&str, Option<&str>, String)]) -> String {
    let mut b = String::from("<dl class=\"summary\"");
    if let Some(id) = id {
        let _ = write!(b, " id=\"{id}\"");
    }
    b.push('>');
    for (term, dd, value) in items {
        let dd = dd.map(|d| format!(" id=\"{d}\"")).unwrap_or_default();
        let _ = write!(b, "<dt>{}</dt><dd{dd}>{value}</dd>", esc(&tr.t(term)));
    }
    b.push_str("</dl>");
    b
}

/// The check's answer: the import summary, the quality warnings, the effect on the official
/// figures and the submit button.
fn summary_body(state: &HttpState, r: &Reader, c: &Checked) -> String {
    let tr = &r.tr;
    let (m, s) = (&c.manifest, &c.report.summary);
    let (contract, names) = (state.catalog.contract(), std::collections::BTreeMap::new());
    let l = Labels::new(tr, contract, &names);
    let indicators: Vec<String> = s
        .indicators
        .iter()
        .map(|(code, i)| {
            let title = contract.framework.indicator(code).map(|x| l.indicator(x).html(tr)).unwrap_or_default();
            let rows = esc(&tr.ta("dashboard-upload-indicator-rows", &[("rows", tr.number(i.rows as f64, 0).into())]));
            format!("{} {title} ({rows})", esc(code))
        })
        .collect();
    let periods: Vec<&str> = s.periods.iter().map(String::as_str).collect();
    let duplicate = if c.report.duplicate { "dashboard-upload-duplicate-yes" } else { "dashboard-upload-duplicate-no" };
    let mut b = format!(
        "<h1>{}</h1><p role=\"status\" class=\"done\" id=\"check-result\">{}</p><h2>{}</h2>",
        esc(&tr.t("dashboard-upload-passed")),
        esc(&tr.t("dashboard-upload-passed-note")),
        esc(&tr.t("dashboard-upload-summary")),
    );
    b.push_str(&summary_list(
        tr,
        Some("summary"),
        &[
            ("report-col-agency", None, esc(&agency_name(&state.ingest, &m.agency))),
            ("report-col-dataset", Some("summary-dataset"), esc(&m.dataset)),
            ("dashboard-upload-title-field", None, esc(&m.title)),
            ("report-col-rows", Some("summary-rows"), s.rows.to_string()),
            ("dashboard-upload-periods", None, esc(&periods.join(", "))),
            ("report-col-indicators", None, indicators.join("<br>")),
            ("dashboard-upload-content-hash", None, format!("<code>{}</code>", esc(&s.content_hash))),
            ("dashboard-upload-already-published", Some("summary-duplicate"), esc(&tr.t(duplicate))),
        ],
    ));
    let _ = write!(b, "<h2>{}</h2>", esc(&tr.ta("dashboard-quality-warnings", &[("count", s.warnings.len().into())])));
    if s.warnings.is_empty() {
        let _ = write!(b, "<p>{}</p>", esc(&tr.t("dashboard-upload-no-warnings")));
    } else {
        let _ = write!(b, "<p class=\"hint\">{}</p>", esc(&tr.t("dashboard-upload-warnings-hint")));
        b.push_str(&problems_table(tr, "warnings", &s.warnings));
    }
    if let Some(i) = &c.report.impact {
        let ratio = |p: &sdgx_schemas::api::Part| share(tr, p.numerator, p.denominator, p.share);
        let _ = write!(b, "<h2>{}</h2>", esc(&tr.t("dashboard-upload-impact")));
        b.push_str(&impact(
            tr,
            &[
                ("dashboard-impact-headline", ratio(&i.headline_now), ratio(&i.headline_if_approved)),
                ("dashboard-impact-reporting", ratio(&i.reporting_now), ratio(&i.reporting_if_approved)),
            ],
            i.changes().map(|(_, list)| list),
        ));
    }
    let _ = write!(
        b,
        "<form class=\"upload\" method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"upload\" value=\"{}\">\
<button id=\"submit\" class=\"primary\" type=\"submit\">{}</button></form><p><a href=\"{}\">{}</a></p>",
        esc(&r.keep("/dashboard/upload/submit")),
        esc(&c.id),
        esc(&tr.t("dashboard-upload-submit")),
        esc(&r.link("/dashboard/upload")),
        esc(&tr.t("dashboard-upload-start-again"))
    );
    b
}

/// The submit form's body.
#[derive(Debug, Deserialize)]
pub struct SubmitForm {
    upload: String,
}

/// `POST /dashboard/upload/submit`: publishes the checked upload and shows the
/// acknowledgement.
async fn submit_form(State(state): State<Arc<HttpState>>, Extension(caller): Extension<Caller>, Extension(r): Extension<Reader>, Form(f): Form<SubmitForm>) -> Result<Response> {
    if let Some(refusal) = refused_here(&state, &r) {
        return Ok(refusal);
    }
    let tr = &r.tr;
    match submit(&state.ingest, &state.uploads, &caller.name, &f.upload).await {
        Ok((m, ack)) => {
            let what = if ack.duplicate { "dashboard-upload-ack-duplicate" } else { "dashboard-upload-ack" };
            let mut b = format!("<h1>{}</h1><p role=\"status\" class=\"done\" id=\"ack\">{}</p>", esc(&tr.t("dashboard-upload-submitted")), esc(&tr.t(what)));
            b.push_str(&summary_list(
                tr,
                None,
                &[
                    ("report-col-dataset", None, esc(&m.dataset)),
                    ("report-col-rows", None, ack.rows.to_string()),
                    ("dashboard-upload-publication-id", Some("publication-id"), format!("<code>{}</code>", esc(&ack.publication_id))),
                    ("report-col-store-version", Some("store-version"), ack.store_version.to_string()),
                ],
            ));
            let _ = write!(
                b,
                "<p>{}</p><p><a href=\"{}\">{}</a></p>",
                esc(&tr.t("dashboard-upload-review-note")),
                esc(&r.link("/dashboard/upload")),
                esc(&tr.t("dashboard-upload-another"))
            );
            Ok(page(&r, "dashboard-upload-submitted", &b).into_response())
        }
        Err(e) => refused(&state, &r, &caller, e, &ManifestForm::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::FileKind;

    #[test]
    fn the_kind_of_a_file_is_its_extension_or_its_content() {
        assert_eq!(FileKind::detect("a.CSV", b"PK\x03\x04"), FileKind::Csv);
        assert_eq!(FileKind::detect("a.xlsx", b"indicator"), FileKind::Xlsx);
        assert_eq!(FileKind::detect("a.ods", b""), FileKind::Ods);
        assert_eq!(FileKind::detect("data", b"PK\x03\x04rest"), FileKind::Xlsx);
        assert_eq!(FileKind::detect("data", b"indicator,ref_area"), FileKind::Csv);
    }
}
