//! The upload page's logic (coordinator/src/dashboard/upload.rs) on the example federation's
//! coordinator config: a good CSV is dry-run then submitted (exactly one version), a bad one is
//! refused with each error's row, column and value (nothing stored), another agency's dataset
//! is refused whether named by a manifest file or the form, and a workbook of the same rows
//! publishes the same content as the CSV.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sdgx_coordinator::catalog::Catalog;
use sdgx_coordinator::dashboard::upload::{self, FileKind, ManifestForm, ManifestInput, Uploads};
use sdgx_coordinator::ingest::Ingest;
use sdgx_coordinator::{Config, Error};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/federation").join(path)
}

struct Fixture {
    catalog: Arc<Catalog>,
    ingest: Arc<Ingest>,
    uploads: Uploads,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(Some(&example("coordinator.toml"))).unwrap();
    config.data_dir = dir.path().to_owned();
    config.store_url = None;
    // In process, with no Flight port: neither the example's TLS files nor its signing key
    // (made by scripts/demo.sh) are needed, and entries stay unsigned.
    config.security.tls = None;
    config.security.signing = None;
    let (catalog, ingest) = sdgx_coordinator::server::open(&config, true).await.unwrap();
    Fixture { catalog, ingest, uploads: Uploads::new(dir.path()), _dir: dir }
}

/// The form as sms fills it for its asylum decisions.
fn sms_form() -> ManifestInput {
    ManifestInput::Form(ManifestForm {
        dataset: "asylum-decisions".into(),
        title: "Asylum decisions".into(),
        periodicity: "A".into(),
        start: "2021".into(),
        end: "2023".into(),
    })
}

impl Fixture {
    /// Keeps `bytes` as `agency`'s upload named `name`, as the page does while receiving it.
    fn keep(&self, agency: &str, name: &str, bytes: &[u8]) -> upload::Kept {
        let kept = self.uploads.create(agency, name, FileKind::detect(name, bytes)).unwrap();
        std::fs::write(&kept.path, bytes).unwrap();
        kept
    }

    async fn state(&self) -> (i64, usize) {
        let store = self.catalog.store();
        (store.version().await, store.publications().await.len())
    }
}

fn asylum_csv() -> String {
    std::fs::read_to_string(example("sms/asylum-decisions.csv")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_csv_is_checked_without_storing_then_submitted_as_exactly_one_version() {
    let f = fixture().await;
    let before = f.state().await;
    let csv = asylum_csv();
    let kept = f.keep("sms", "asylum.csv", csv.as_bytes());
    let checked = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap();
    let s = &checked.report.summary;
    assert_eq!(s.rows, csv.lines().count() as u64 - 1);
    assert_eq!(s.indicators.keys().collect::<Vec<_>>(), ["10.7.4", "10.7.p2"], "the form's indicators are the file's");
    assert_eq!(checked.manifest.agency, "sms", "the agency is the token's");
    assert!(!checked.report.duplicate);
    assert!(checked.report.impact.is_some());
    assert_eq!(f.state().await, before, "the check stores nothing");
    assert_eq!(f.uploads.count(), 2, "the file and its manifest wait for the submit");

    // Another agency cannot submit it: its id names nothing for moh.
    let e = upload::submit(&f.ingest, &f.uploads, "moh", &checked.id).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    let e = upload::submit(&f.ingest, &f.uploads, "sms", "../../state/head").await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "a path is not an id: {e}");
    assert_eq!(f.state().await, before);

    let (m, ack) = upload::submit(&f.ingest, &f.uploads, "sms", &checked.id).await.unwrap();
    assert_eq!(m, checked.manifest);
    assert!(!ack.duplicate);
    assert_eq!(ack.content_hash, s.content_hash);
    let (version, publications) = f.state().await;
    assert_eq!((version, publications), (before.0 + 1, before.1 + 1), "exactly one version");
    assert_eq!(ack.store_version, version);
    let log = f.catalog.store().publications().await;
    let p = log.last().unwrap();
    assert_eq!((p.agency.as_str(), p.dataset.as_str(), p.publication_id.as_str()), ("sms", "asylum-decisions", ack.publication_id.as_str()));
    assert_eq!(f.uploads.count(), 0, "the upload is deleted once submitted");
    let e = upload::submit(&f.ingest, &f.uploads, "sms", &checked.id).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "submitted once only: {e}");
    assert_eq!(f.state().await, (version, publications));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_csv_is_refused_with_every_error_by_row_column_and_value_and_nothing_is_stored() {
    let f = fixture().await;
    let before = f.state().await;
    let mut lines: Vec<String> = asylum_csv().lines().map(str::to_owned).collect();
    // Row 2: a value that is not a number (a normalisation problem); row 4: an unknown area
    // code (a validation error).
    lines[2] = lines[2].replacen(",40.8,", ",forty,", 1);
    lines[4] = lines[4].replacen(",AM,", ",ZZ,", 1);
    let bad = lines.join("\n") + "\n";
    let kept = f.keep("sms", "asylum.csv", bad.as_bytes());
    let e = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap_err();
    let Error::Rejected(report) = e else { panic!("not a rejection: {e}") };
    assert_eq!((report.agency.as_str(), report.dataset.as_str()), ("sms", "asylum-decisions"));
    let found: Vec<(Option<u64>, Option<&str>, Option<&str>)> =
        report.errors.iter().map(|p| (p.row, p.column.as_deref(), p.value.as_deref())).collect();
    assert!(found.contains(&(Some(2), Some("obs_value"), Some("forty"))), "{found:?}");
    assert!(found.contains(&(Some(4), Some("ref_area"), Some("ZZ"))), "{found:?}");
    assert_eq!(f.state().await, before, "nothing stored");
    assert_eq!(f.uploads.count(), 0, "a refused file is not kept");

    // Validation errors alone (no normalisation problem) come from the dry run itself.
    let only_area = asylum_csv().replacen(",AM,", ",ZZ,", 1);
    let kept = f.keep("sms", "asylum.csv", only_area.as_bytes());
    let Error::Rejected(report) = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap_err() else { panic!() };
    assert_eq!(report.errors.iter().map(|p| (p.row, p.column.as_deref(), p.value.as_deref())).collect::<Vec<_>>(), [(Some(1), Some("ref_area"), Some("ZZ"))]);
    assert_eq!(f.state().await, before);
    assert_eq!(f.uploads.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_dataset_is_refused_by_manifest_or_form_and_nothing_is_stored() {
    let f = fixture().await;
    let before = f.state().await;
    let health = std::fs::read_to_string(example("moh/health.csv")).unwrap();
    // sms uploads moh's file with moh's own manifest.
    let manifest = std::fs::read_to_string(example("moh/health.manifest.toml")).unwrap();
    let kept = f.keep("sms", "health.csv", health.as_bytes());
    let e = upload::check(&f.catalog, &f.ingest, "sms", kept, &ManifestInput::Toml(manifest)).await.unwrap_err();
    assert!(matches!(e, Error::PermissionDenied(_)), "{e}");
    assert!(e.to_string().contains("\"sms\"") && e.to_string().contains("\"moh\""), "{e}");
    // And with the form: the agency is sms's, the dataset moh's.
    let form = ManifestInput::Form(ManifestForm { dataset: "health".into(), title: "Health".into(), periodicity: "A".into(), start: "2019".into(), end: "2024".into() });
    let kept = f.keep("sms", "health.csv", health.as_bytes());
    let e = upload::check(&f.catalog, &f.ingest, "sms", kept, &form).await.unwrap_err();
    assert!(matches!(e, Error::PermissionDenied(_)), "{e}");
    assert!(e.to_string().contains("not registered for agency \"sms\""), "{e}");
    assert_eq!(f.state().await, before, "nothing stored");
    assert_eq!(f.uploads.count(), 0, "nothing kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_of_the_same_rows_publishes_the_same_content_as_the_csv() {
    let f = fixture().await;
    let csv = asylum_csv();
    // The workbook: numbers as numbers (time_period too, as people type it), text as text.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in csv.lines().enumerate() {
        for (c, cell) in line.split(',').enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell.parse::<f64>() {
                Ok(n) if r > 0 => sheet.write_number(r, c, n).map(|_| ()),
                _ if cell.is_empty() => Ok(()),
                _ => sheet.write_string(r, c, cell).map(|_| ()),
            }
            .unwrap();
        }
    }
    let bytes = book.save_to_buffer().unwrap();
    let kept = f.keep("sms", "asylum.xlsx", &bytes);
    assert_eq!(kept.kind(), FileKind::Xlsx);
    let from_xlsx = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap();
    let kept = f.keep("sms", "asylum.csv", csv.as_bytes());
    let from_csv = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap();
    assert_eq!(from_xlsx.report.summary, from_csv.report.summary, "the same rows, periods, indicators and content hash");
    let before = f.state().await;
    let (_, ack) = upload::submit(&f.ingest, &f.uploads, "sms", &from_xlsx.id).await.unwrap();
    assert_eq!(ack.rows, csv.lines().count() as u64 - 1);
    assert_eq!(f.state().await, (before.0 + 1, before.1 + 1));
    // The CSV check now finds the same content already published.
    let kept = f.keep("sms", "asylum.csv", csv.as_bytes());
    let again = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap();
    assert!(again.report.duplicate);
    // A workbook that would unpack to more than the limit is refused before it is read: its
    // directory is patched to declare 600 MB for its one part.
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zipped);
        z.start_file("xl/worksheets/sheet1.xml", zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)).unwrap();
        std::io::Write::write_all(&mut z, b"0123456789").unwrap();
        z.finish().unwrap();
    }
    let mut bytes = zipped.into_inner();
    let central = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bytes[central + 24..central + 28].copy_from_slice(&(600u32 << 20).to_le_bytes());
    let waiting = f.uploads.count();
    let kept = f.keep("sms", "big.xlsx", &bytes);
    let e = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap_err();
    assert!(e.to_string().contains("unpacks to 600 MB, over the 512 MB limit"), "{e}");
    assert_eq!(f.uploads.count(), waiting, "the refused workbook is not kept");
    // A file that is not a workbook says so.
    let kept = f.keep("sms", "asylum.xlsx", b"PK\x03\x04 not really");
    let e = upload::check(&f.catalog, &f.ingest, "sms", kept, &sms_form()).await.unwrap_err();
    assert!(e.to_string().contains("not a readable workbook"), "{e}");
}
