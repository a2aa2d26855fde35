//! Publishing a dataset: validate it locally while writing its normalised rows to the outbox
//! (one pass over the source), then stream the outbox copy to the coordinator with `do_put`.
//! Batches go from file to wire through a bounded channel; a dataset is never held in memory
//! whole.

use std::path::Path;
use std::sync::Arc;
use arrow::array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::FlightClient;
use futures::TryStreamExt;
use sdgx_schemas::api::DryRunReport;
use sdgx_schemas::evidence::{ChainHead, PublicationSignature};
use sdgx_schemas::flight::{Ack, FrameworkMismatch, PublishCommand, RolledBack};
use sdgx_schemas::normalize::{observation_schema_nullable, validate_stream, Normalizer};
use sdgx_schemas::{Contract, FrameworkRef, ImportSummary, Manifest, ValidationOptions, Validator};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{DatasetConfig, Format};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::source;

/// Rows per Parquet row group of an outbox copy (bounds the writer's memory).
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// A dataset that passed local validation, with its content hash in the manifest.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The manifest, `content_hash` filled in.
    pub manifest: Manifest,
    /// The local import summary.
    pub summary: ImportSummary,
    /// The framework it was validated against.
    pub framework: FrameworkRef,
}

/// Validates a dataset locally. When `copy` is given, the normalised rows are written there as
/// Parquet (synced to disk) in the same pass: the outbox copy that is later sent. Fails with
/// every problem found, or when the manifest names another agency than `agency`.
pub fn check(contract: &Contract, d: &DatasetConfig, agency: &str, batch_size: usize, max_problems: usize, copy: Option<&Path>) -> Result<Prepared> {
    let manifest = manifest(d, agency)?;
    validate_file(contract, manifest, &d.source, d.format()?, batch_size, max_problems, copy)
}

/// Validates the rows of `source` as the publication of `manifest` (its content hash is
/// replaced by the rows'); see [`check`]. The outbox revalidates its copy with it when the
/// coordinator's framework changed.
pub fn validate_file(
    contract: &Contract,
    mut manifest: Manifest,
    source: &Path,
    format: Format,
    batch_size: usize,
    max_problems: usize,
    copy: Option<&Path>,
) -> Result<Prepared> {
    manifest.content_hash = None;
    let src = source::open(source, format, batch_size)?;
    let mut validator = Validator::new(contract, manifest.clone(), ValidationOptions { max_problems, areas: None });
    let io = |p: &Path, e: &dyn std::fmt::Display| Error::Outbox { path: p.display().to_string(), message: e.to_string() };
    let mut writer = match copy {
        Some(p) => {
            let file = std::fs::File::create(p).map_err(|e| io(p, &e))?;
            let props = parquet::file::properties::WriterProperties::builder()
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            Some(parquet::arrow::ArrowWriter::try_new(file, observation_schema_nullable(), Some(props)).map_err(|e| io(p, &e))?)
        }
        None => None,
    };
    let mut write_err = None;
    validate_stream(&mut validator, contract, &src.schema, src.batches, |wire| {
        if let (Some(w), None) = (writer.as_mut(), &write_err)
            && let Err(e) = w.write(&wire)
        {
            write_err = Some(e);
        }
        Ok(())
    })
    .map_err(|e| Error::Source { path: source.display().to_string(), message: e.to_string() })?;
    let summary = validator.finish()?.map_err(|r| Error::Invalid(Box::new(r)))?;
    if let (Some(p), Some(w)) = (copy, writer) {
        if let Some(e) = write_err {
            return Err(io(p, &e));
        }
        let file = w.into_inner().map_err(|e| io(p, &e))?;
        file.sync_all().map_err(|e| io(p, &e))?;
    }
    manifest.content_hash = Some(summary.content_hash.clone());
    Ok(Prepared { manifest, summary, framework: contract.bundle.reference() })
}

/// The manifest of dataset `d`, which must be `agency`'s, without a content hash.
pub fn manifest(d: &DatasetConfig, agency: &str) -> Result<Manifest> {
    let text = std::fs::read_to_string(&d.manifest)
        .map_err(|e| Error::Source { path: d.manifest.display().to_string(), message: e.to_string() })?;
    let mut manifest = Manifest::from_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", d.manifest.display())))?;
    if manifest.agency != agency {
        return Err(Error::Config(format!(
            "{}: the manifest names agency {:?}, but this agent publishes for {agency:?}",
            d.manifest.display(),
            manifest.agency
        )));
    }
    manifest.content_hash = None;
    Ok(manifest)
}

/// A withdrawal of dataset `d`: its manifest with `withdraw = true` and no rows, written to
/// `copy` (an empty Parquet file, synced) for the outbox. Once acknowledged, the dataset's
/// current version at the coordinator is empty.
pub fn withdrawal(contract: &Contract, d: &DatasetConfig, agency: &str, copy: &Path) -> Result<Prepared> {
    withdrawal_of(contract, manifest(d, agency)?, copy)
}

/// A withdrawal of `manifest`'s dataset (see [`withdrawal`]): the manifest with
/// `withdraw = true`, no rows, the empty Parquet file written to `copy`.
pub fn withdrawal_of(contract: &Contract, mut manifest: Manifest, copy: &Path) -> Result<Prepared> {
    manifest.withdraw = true;
    manifest.content_hash = None;
    let io = |e: &dyn std::fmt::Display| Error::Outbox { path: copy.display().to_string(), message: e.to_string() };
    let file = std::fs::File::create(copy).map_err(|e| io(&e))?;
    let writer = parquet::arrow::ArrowWriter::try_new(file, observation_schema_nullable(), None).map_err(|e| io(&e))?;
    writer.into_inner().map_err(|e| io(&e))?.sync_all().map_err(|e| io(&e))?;
    let mut validator = Validator::new(contract, manifest.clone(), ValidationOptions::default());
    validator.push(&RecordBatch::new_empty(observation_schema_nullable()));
    let summary = validator.finish()?.map_err(|r| Error::Invalid(Box::new(r)))?;
    manifest.content_hash = Some(summary.content_hash.clone());
    Ok(Prepared { manifest, summary, framework: contract.bundle.reference() })
}

/// What to upload: a publication's manifest and its rows in a contract file.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The manifest, with its content hash.
    pub manifest: &'a Manifest,
    /// The rows: an outbox copy, or any contract file.
    pub data: &'a Path,
    /// The file's format.
    pub format: Format,
    /// Rows in the file (for the progress report).
    pub rows: u64,
    /// The framework it was validated against, named to the coordinator (`None`: not named).
    pub framework: Option<&'a FrameworkRef>,
    /// The agency's signature of it ([`crate::evidence::sign`]); `None` over plaintext.
    pub signature: Option<&'a PublicationSignature>,
    /// The newest log entry this agent was acknowledged, for the coordinator to find in its
    /// history (`None`: none yet, or not asked).
    pub known_head: Option<&'a ChainHead>,
}

/// Streams a publication to the coordinator and returns its acknowledgement.
pub async fn send(client: &mut FlightClient, url: &str, contract: Arc<Contract>, up: Upload<'_>, batch_size: usize) -> Result<Ack> {
    let answer = put(client, url, contract, up, batch_size, false).await?;
    Ok(Ack::decode(&answer)?)
}

/// Streams a publication to the coordinator marked as a dry run, and returns its report:
/// everything the coordinator checks short of the commit (see [`DryRunReport`]). Nothing is
/// stored.
pub async fn send_dry_run(client: &mut FlightClient, url: &str, contract: Arc<Contract>, up: Upload<'_>, batch_size: usize) -> Result<DryRunReport> {
    let answer = put(client, url, contract, up, batch_size, true).await?;
    DryRunReport::decode(&answer).ok_or_else(|| Error::Coordinator {
        url: url.to_owned(),
        message: "the coordinator answered the dry run with an acknowledgement: it does not know dry runs (an older version) and may have stored the publication".into(),
    })
}

/// The coordinator's dry-run report in words.
pub fn render_dry_run(r: &DryRunReport) -> String {
    use std::fmt::Write as _;
    let s = &r.summary;
    let mut out = format!("  coordinator dry run (nothing stored): agency {} dataset {}: {} rows accepted", s.agency, s.dataset, s.rows);
    if r.duplicate {
        out.push_str("; identical to the dataset's latest publication: publishing it creates no new version");
    }
    out.push('\n');
    let part = |p: &sdgx_schemas::api::Part| {
        format!("{}/{}{}", p.numerator, p.denominator, p.share.map(|v| format!(" = {:.1}%", v * 100.0)).unwrap_or_default())
    };
    if let Some(i) = &r.impact {
        let _ = writeln!(out, "  if approved, against the official figures at store version {}:", i.store_version);
        let _ = writeln!(out, "    headline (indicators produced with migration disaggregation): {} -> {}", part(&i.headline_now), part(&i.headline_if_approved));
        let _ = writeln!(out, "    indicators reported: {} -> {}", part(&i.reporting_now), part(&i.reporting_if_approved));
        for (what, list) in i.changes() {
            if !list.is_empty() {
                let _ = writeln!(out, "    {what}: {}", list.join(", "));
            }
        }
    }
    for w in &s.warnings {
        let _ = writeln!(out, "  warning: {}", w.message);
    }
    out
}

/// Streams a publication (a dry run's when `dry_run`) and returns the `app_metadata` of the
/// coordinator's answer.
async fn put(client: &mut FlightClient, url: &str, contract: Arc<Contract>, up: Upload<'_>, batch_size: usize, dry_run: bool) -> Result<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch, FlightError>>(4);
    let (path, format, rows) = (up.data.to_owned(), up.format, up.rows);
    let label = format!("{}/{}", up.manifest.agency, up.manifest.dataset);
    let reader = tokio::task::spawn_blocking(move || -> Result<()> {
        let progress = Progress::new(&label, rows);
        let src = source::open(&path, format, batch_size)?;
        let mut normalizer = Normalizer::new(&contract, &src.schema);
        for batch in src.batches {
            let n = batch.as_ref().map_or(0, |b| b.num_rows());
            let wire = batch
                .map_err(|e| e.into())
                .and_then(|b| normalizer.normalize(&b, &mut |_| {}))
                .map_err(|e| FlightError::ExternalError(Box::new(e)));
            let failed = wire.is_err();
            if tx.blocking_send(wire).is_err() || failed {
                return Ok(());
            }
            progress.advance(n as u64);
        }
        progress.done();
        Ok(())
    });
    let flight_data = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(
            PublishCommand { signature: up.signature.cloned(), known_head: up.known_head.cloned(), ..PublishCommand::new(up.manifest, up.framework, dry_run) }
                .to_descriptor(),
        ))
        .with_schema(observation_schema_nullable())
        .build(ReceiverStream::new(rx));
    let fail = |m: String| Error::Coordinator { url: url.to_owned(), message: m };
    let results = client.do_put(flight_data).await;
    let ack = match results {
        Ok(stream) => stream.try_collect::<Vec<_>>().await,
        Err(e) => Err(e),
    };
    reader.await.map_err(|e| fail(e.to_string()))??;
    let results = ack.map_err(|e| match e {
        FlightError::Tonic(s) if s.code() == tonic::Code::InvalidArgument && !s.details().is_empty() => {
            match sdgx_schemas::flight::decode_report(s.details()) {
                Ok(report) => Error::Rejected(Box::new(report)),
                Err(_) => Error::Refused { url: url.to_owned(), code: s.code(), message: s.message().to_owned() },
            }
        }
        FlightError::Tonic(s) if s.code() == tonic::Code::FailedPrecondition && FrameworkMismatch::decode(s.details()).is_some() => {
            let mismatch = FrameworkMismatch::decode(s.details()).expect("checked");
            Error::FrameworkMismatch { url: url.to_owned(), mismatch: Box::new(mismatch) }
        }
        FlightError::Tonic(s) if s.code() == tonic::Code::FailedPrecondition && RolledBack::decode(s.details()).is_some() => {
            Error::RolledBack { url: url.to_owned(), detail: Box::new(RolledBack::decode(s.details()).expect("checked")) }
        }
        FlightError::Tonic(s) if crate::delivery::is_permanent(s.code()) => {
            Error::Refused { url: url.to_owned(), code: s.code(), message: s.message().to_owned() }
        }
        FlightError::Tonic(s) => fail(format!("{:?}: {}", s.code(), s.message())),
        other => fail(other.to_string()),
    })?;
    let first = results.into_iter().next().ok_or_else(|| fail("no answer received".into()))?;
    Ok(first.app_metadata.to_vec())
}
