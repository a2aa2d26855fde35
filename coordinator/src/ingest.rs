//! Receiving one publication: decode the manifest, validate the stream as it arrives while
//! staging it to disk, then commit it (or reject it, leaving the store unchanged).
//!
//! Publications are bounded ([`Limits`]): how many are received at once, in total and per
//! agency ([`Admission`]); how long the stream may wait for its next message and how long it
//! may take in all; how many messages it may carry. Staging holds a blocking thread only while
//! it encodes and writes a batch, never while it waits for the network ([`Writer`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::FlightData;
use futures::{Stream, StreamExt, TryStreamExt};
use sdgx_schemas::evidence::PublicationSignature;
use sdgx_schemas::flight::{Ack, PublishCommand, RolledBack};
use arrow::array::RecordBatch;
use sdgx_schemas::api::DryRunReport;
use sdgx_schemas::{Contract, ImportSummary, Manifest, ValidationOptions, Validator, CONTRACT_VERSION};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::auth::Registry;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{Staging, Store};

pub use crate::auth::Publisher;

/// Checks that `publisher` may publish the manifest's dataset: the certificate's agency must
/// be the manifest's, and the registry must list the dataset for it. Denials are logged.
pub fn authorize(registry: &Registry, publisher: &Publisher, manifest: &Manifest) -> Result<()> {
    let denied = |why: String| {
        tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, reason = %why, "publication denied");
        Err(Error::PermissionDenied(why))
    };
    if let Publisher::Agency(a) = publisher
        && *a != manifest.agency {
            return denied(format!("the client certificate is agency {a:?}'s; it may not publish as {:?}", manifest.agency));
        }
    match registry.check(&manifest.agency, &manifest.dataset) {
        Ok(()) => Ok(()),
        Err(why) => denied(why),
    }
}

/// What a `do_put` is answered with.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A publication's acknowledgement.
    Ack(Ack),
    /// A dry run's report.
    DryRun(Box<DryRunReport>),
}

impl Answer {
    /// Encodes as `PutResult.app_metadata`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Answer::Ack(a) => a.encode(),
            Answer::DryRun(r) => r.encode(),
        }
    }
}

/// Receives a `do_put` stream from `publisher`: the first message's descriptor carries the
/// manifest; nothing is read further unless the publisher may publish it and the
/// coordinator's history still holds the head the agent knows. Over mutual TLS
/// (`certificate`, the publisher's client certificate) the validated rows are committed only
/// when that certificate's key signed them ([`Signed`]). A dry run goes through the same
/// checks and is answered with its report; it commits nothing. Every publication but a dry run
/// is counted in [`Ingest::publications`], accepted or refused.
pub async fn receive<S>(state: &Ingest, publisher: &Publisher, certificate: Option<&[u8]>, stream: S) -> Result<Answer>
where
    S: Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    let mut dry = false;
    let answer = receive_counted(state, publisher, certificate, stream, &mut dry).await;
    if !dry {
        state.publications.record(match &answer {
            Ok(Answer::Ack(ack)) => Ok(ack.duplicate),
            Ok(Answer::DryRun(_)) => return answer,
            Err(e) => Err(e),
        });
    }
    answer
}

/// [`receive`], setting `dry` once the descriptor says it is a dry run, and counting the bytes
/// and rows received.
async fn receive_counted<S>(state: &Ingest, publisher: &Publisher, certificate: Option<&[u8]>, stream: S, dry: &mut bool) -> Result<Answer>
where
    S: Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    let counted = state.publications.clone();
    let stream = stream.inspect(move |m| {
        if let Ok(m) = m {
            counted.received_bytes(m.data_header.len() + m.data_body.len() + m.app_metadata.len());
        }
    });
    let mut stream = guarded(stream, state.limits, Instant::now() + state.limits.deadline).peekable();
    let first = std::pin::Pin::new(&mut stream).peek().await;
    let descriptor = match first {
        Some(Ok(d)) => d.flight_descriptor.clone(),
        Some(Err(s)) => return Err(Error::Flight(FlightError::Tonic(Box::new(s.clone())))),
        None => return Err(Error::BadRequest("empty do_put stream: no descriptor, no data".into())),
    };
    let command = PublishCommand::decode_command(descriptor.as_ref())?;
    *dry = command.dry_run;
    let manifest = command.manifest;
    authorize(&state.registry, publisher, &manifest)?;
    let signed = Signed { signature: command.signature, certificate: certificate.map(<[u8]>::to_vec) };
    if let Some(known) = command.known_head
        && !state.store.holds(&known).await {
            let newest_version = state.store.version().await;
            tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, known_version = known.store_version, newest_version,
                "publication refused: the agent was acknowledged an entry this store no longer holds (rolled back)");
            return Err(Error::RolledBack(Box::new(RolledBack {
                sdgx: "rolled_back".into(),
                publication: format!("agency {} dataset {}", manifest.agency, manifest.dataset),
                known,
                newest_version,
            })));
        }
    crate::framework_service::check(&state.contract, &manifest, command.framework.as_ref())?;
    // Held until the publication is committed or refused.
    let _admitted = state.admission.admit(&manifest.agency, &manifest.dataset)?;
    let (contract, store, options, dry) = (&state.contract, &state.store, state.options_for(&manifest.agency), command.dry_run);
    let (agency, dataset) = (manifest.agency.clone(), manifest.dataset.clone());
    // Every message passes the IPC guard before the decoder sees it.
    let mut guard = sdgx_schemas::flight::IpcGuard::new();
    let checked = stream.enumerate().map(move |(i, m)| {
        m.and_then(|m| match guard.check(&m) {
            Ok(()) => Ok(m),
            Err(e) => Err(tonic::Status::invalid_argument(format!("the Arrow IPC stream is malformed: message {}: {e}", i + 1))),
        })
    });
    let decoded = FlightRecordBatchStream::new_from_flight_data(checked.map_err(FlightError::from));
    // A stream that carried a schema but no batch is a publication of that schema without rows
    // (refused by the validator unless the manifest withdraws the dataset).
    let decoded = futures::stream::unfold((decoded, false, false), |(mut s, yielded, done)| async move {
        if done {
            return None;
        }
        match s.next().await {
            Some(Ok(b)) => Some((Ok(b), (s, true, false))),
            Some(Err(e)) => Some((Err(e), (s, yielded, true))),
            None if !yielded => s.schema().cloned().map(|sc| (Ok(RecordBatch::new_empty(sc)), (s, true, true))),
            None => None,
        }
    });
    // The IPC decoder is not ours: should it panic on some input despite the checks above, the
    // publication fails with an error and the service goes on.
    let decoded = std::panic::AssertUnwindSafe(decoded).catch_unwind().map(|r| {
        r.unwrap_or_else(|panic| {
            let why = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
            Err(FlightError::DecodeError(format!("the decoder failed: {}", why.unwrap_or("(no message)"))))
        })
    });
    let counted = state.publications.clone();
    let decoded = decoded.inspect(move |b| {
        if let Ok(b) = b {
            counted.received_rows(b.num_rows());
        }
    });
    let batches = decoded.map_err(move |e| match e {
        // Transport errors (a message over the size limit, a cancelled stream, the limits of
        // `guarded`) keep their gRPC code and gain the publication's name.
        FlightError::Tonic(s) => Error::Flight(FlightError::Tonic(Box::new(tonic::Status::new(
            s.code(),
            format!("agency {agency} dataset {dataset}: {}", s.message()),
        )))),
        other => Error::BadRequest(format!("agency {agency} dataset {dataset}: the Arrow IPC stream is malformed: {other}")),
    });
    if dry {
        return dry_run(&state.catalog, options, manifest, &signed, batches).await.map(|r| Answer::DryRun(Box::new(r)));
    }
    ingest(contract, store, options, manifest, signed, batches).await.map(Answer::Ack)
}

/// What a publication came with to show who sent it: the agency's signature from its command,
/// and the client certificate of its connection (over mutual TLS). Checked once the rows are
/// validated, before anything is committed ([`check_signature`]).
#[derive(Debug, Clone, Default)]
pub struct Signed {
    /// The signature the publication's command carries.
    pub signature: Option<PublicationSignature>,
    /// The client certificate (DER) it must have been made with; none over plaintext, for
    /// uploads and for the coordinator's own publications.
    pub certificate: Option<Vec<u8>>,
}

impl Signed {
    /// A publication no agent signed: a dashboard upload, the coordinator's derived dataset, a
    /// plaintext development publication.
    pub fn unsigned() -> Signed {
        Signed::default()
    }

    /// The checked signature of `manifest`'s publication whose rows hash to `content_hash`,
    /// with its certificate; refused as [`check_signature`] refuses, or when the rows are not
    /// the ones signed.
    fn check(&self, manifest: &Manifest, content_hash: &str) -> Result<Option<PublicationSignature>> {
        let checked = check_signature(manifest, self.signature.clone(), self.certificate.as_deref())?;
        if checked.is_some() && manifest.content_hash.as_deref() != Some(content_hash) {
            tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, "publication denied: the rows are not the ones signed");
            return Err(Error::PermissionDenied(format!(
                "agency {} dataset {}: the rows received hash to {content_hash}, but the agency signed content hash {}; nothing was stored",
                manifest.agency,
                manifest.dataset,
                manifest.content_hash.as_deref().unwrap_or("(none)")
            )));
        }
        Ok(checked)
    }
}

/// Checks the agency's signature of a publication against the client certificate it came
/// with (DER): without a certificate (plaintext development) none is needed and any is
/// ignored; with one, a missing signature or one that does not verify is refused, naming the
/// agency and dataset. Returns the signature with the certificate, for the log entry.
pub fn check_signature(manifest: &Manifest, signature: Option<PublicationSignature>, certificate: Option<&[u8]>) -> Result<Option<PublicationSignature>> {
    let Some(cert) = certificate else { return Ok(None) };
    let refuse = |why: String| {
        tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, reason = %why, "publication denied: bad signature");
        Err(Error::PermissionDenied(format!("agency {} dataset {}: {why}; nothing was stored", manifest.agency, manifest.dataset)))
    };
    let Some(mut sig) = signature else {
        return refuse("the publication carries no signature: an agent over mutual TLS signs each publication with the key of its client certificate".into());
    };
    let Some(content_hash) = manifest.content_hash.as_deref() else {
        return refuse("the manifest carries no content hash, so the signature covers no rows".into());
    };
    if let Err(why) = sdgx_schemas::evidence::verify_publication(&sig, cert, &manifest.agency, &manifest.dataset, content_hash, manifest) {
        return refuse(format!("the agency's signature does not verify against its client certificate: {why}"));
    }
    sig.signature.certificate = Some(sdgx_schemas::evidence::base64(cert));
    Ok(Some(sig))
}

/// Limits on publications (settings of the same names in [`Config`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most Flight messages accepted (schema and batches): `max_publication_messages`.
    pub max_messages: u64,
    /// Longest wait for the next message: `publish_idle_timeout_secs`.
    pub idle_timeout: Duration,
    /// Longest time from the `do_put`'s start to its last message: `publish_deadline_secs`.
    pub deadline: Duration,
    /// Most publications received at once in all: `max_concurrent_publications`.
    pub max_concurrent: usize,
    /// Most publications received at once from one agency: `max_publications_per_agency`.
    pub max_per_agency: usize,
}

impl Limits {
    /// The limits `config` sets.
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            max_messages: config.max_publication_messages,
            idle_timeout: Duration::from_secs(config.publish_idle_timeout_secs),
            deadline: Duration::from_secs(config.publish_deadline_secs),
            max_concurrent: config.max_concurrent_publications,
            max_per_agency: config.max_publications_per_agency,
        }
    }
}

/// Counts the publications being received, in all and per agency, and admits one more only
/// while both counts are under their limits; past them it is refused at once (the agent
/// retries it with backoff), so no agency can take every place.
pub struct Admission {
    max_per_agency: usize,
    max_concurrent: usize,
    total: Arc<Semaphore>,
    /// One semaphore per agency that has published since the start (agencies are those of the
    /// registry: [`authorize`] runs first).
    agencies: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Publications admitted and not yet finished.
    in_progress: tokio::sync::watch::Sender<usize>,
}

/// A publication's place under the [`Admission`] limits, given back on drop.
#[derive(Debug)]
pub struct Admitted {
    _agency: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
    in_progress: tokio::sync::watch::Sender<usize>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.in_progress.send_modify(|n| *n -= 1);
    }
}

impl Admission {
    /// Admission under `limits`' `max_concurrent` and `max_per_agency`.
    pub fn new(limits: &Limits) -> Admission {
        Admission {
            max_per_agency: limits.max_per_agency,
            max_concurrent: limits.max_concurrent,
            total: Arc::new(Semaphore::new(limits.max_concurrent)),
            agencies: std::sync::Mutex::new(HashMap::new()),
            in_progress: tokio::sync::watch::channel(0).0,
        }
    }

    /// The publications admitted and not yet finished (committed, refused or abandoned).
    pub fn in_progress(&self) -> usize {
        *self.in_progress.borrow()
    }

    /// Waits until at least `n` publications are in progress.
    pub async fn wait_in_progress(&self, n: usize) {
        let mut rx = self.in_progress.subscribe();
        let _ = rx.wait_for(|&k| k >= n).await;
    }

    /// A place for `agency`'s publication of `dataset`, or [`Error::LimitReached`] naming the
    /// limit and its setting.
    pub fn admit(&self, agency: &str, dataset: &str) -> Result<Admitted> {
        let per_agency = {
            let mut map = self.agencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(agency.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.max_per_agency))).clone()
        };
        let refuse = |limit: &str, n: usize, setting: &str| {
            tracing::warn!(agency, dataset, limit = setting, "publication refused: too many at once");
            Error::LimitReached(format!(
                "agency {agency} dataset {dataset}: refused, {limit} already has {n} publication(s) in progress ({setting}); send it again when one has finished"
            ))
        };
        let agency_place = per_agency
            .try_acquire_owned()
            .map_err(|_| refuse(&format!("agency {agency}"), self.max_per_agency, "max_publications_per_agency"))?;
        let total_place = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| refuse("the coordinator", self.max_concurrent, "max_concurrent_publications"))?;
        self.in_progress.send_modify(|n| *n += 1);
        Ok(Admitted { _agency: agency_place, _total: total_place, in_progress: self.in_progress.clone() })
    }
}

/// `stream` with the limits applied: past `max_messages` messages, after `idle_timeout`
/// without one, or once `deadline` has passed, it ends with an error (and is not read
/// further).
fn guarded<S>(stream: S, limits: Limits, deadline: Instant) -> impl Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static
where
    S: Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    Box::pin(futures::stream::unfold((Some(stream), 0u64), move |(s, n)| async move {
        let mut s = s?;
        let wait_until = deadline.min(Instant::now() + limits.idle_timeout);
        match tokio::time::timeout_at(wait_until, s.next()).await {
            Err(_) if Instant::now() >= deadline => Some((Err(tonic::Status::deadline_exceeded(format!(
                "the publication was still arriving after {} s (publish_deadline_secs); it was abandoned and nothing was stored",
                limits.deadline.as_secs()
            ))), (None, n))),
            Err(_) => Some((Err(tonic::Status::deadline_exceeded(format!(
                "nothing arrived for {} s (publish_idle_timeout_secs); the publication was abandoned and nothing was stored",
                limits.idle_timeout.as_secs()
            ))), (None, n))),
            Ok(Some(Ok(_))) if n >= limits.max_messages => Some((Err(tonic::Status::invalid_argument(format!(
                "the stream carried more than {} messages (max_publication_messages); send the rows in fewer, larger batches",
                limits.max_messages
            ))), (None, n))),
            Ok(None) => None,
            Ok(Some(Ok(m))) => Some((Ok(m), (Some(s), n + 1))),
            Ok(Some(Err(status))) => Some((Err(status), (None, n))),
        }
    }))
}

/// Validates a publication's batches as they arrive, staging them to disk, then commits it;
/// a rejected publication leaves the store unchanged.
pub async fn ingest<S>(
    contract: &Contract,
    store: &Arc<Store>,
    options: ValidationOptions,
    manifest: Manifest,
    signed: Signed,
    batches: S,
) -> Result<Ack>
where
    S: Stream<Item = Result<RecordBatch>> + Send,
{
    tracing::info!(agency = %manifest.agency, dataset = %manifest.dataset, "publication received");
    let started = std::time::Instant::now();
    let (mut staging, summary) = validated(contract, options, &manifest, store.stage(&manifest)?, batches).await?;
    let received_ms = started.elapsed().as_millis() as u64;
    let signature = match signed.check(&manifest, &summary.content_hash) {
        Ok(s) => s,
        Err(e) => {
            staging.discard().await;
            return Err(e);
        }
    };
    let committed = store.commit(staging, manifest, summary, signature).await?;
    let e = &committed.entry;
    tracing::info!(agency = %e.agency, dataset = %e.dataset, publication = %e.publication_id,
        version = e.store_version, rows = e.rows, duplicate = committed.duplicate,
        received_ms, commit_ms = started.elapsed().as_millis() as u64 - received_ms, "publication acknowledged");
    Ok(Ack {
        contract_version: CONTRACT_VERSION.into(),
        publication_id: e.publication_id.clone(),
        store_version: e.store_version,
        duplicate: committed.duplicate,
        rows: e.rows,
        content_hash: e.content_hash.clone(),
        entry: Some(serde_json::to_value(e).map_err(|err| Error::Internal(format!("the log entry does not serialise: {err}")))?),
    })
}

/// A dry run of a publication: validated as [`ingest`] validates it (contract and quality
/// rules), then checked for being a duplicate and measured for its figure impact on the
/// official view (see [`crate::review`]); nothing is written or committed.
pub async fn dry_run<S>(catalog: &Catalog, options: ValidationOptions, manifest: Manifest, signed: &Signed, batches: S) -> Result<DryRunReport>
where
    S: Stream<Item = Result<RecordBatch>> + Send,
{
    let store = catalog.store();
    let (mut staging, summary) = validated(catalog.contract(), options, &manifest, store.stage_dry(&manifest)?, batches).await?;
    if let Err(e) = signed.check(&manifest, &summary.content_hash) {
        staging.discard().await;
        return Err(e);
    }
    let trial = store.trial(staging, &manifest, &summary).await?;
    let impact = match trial.duplicate {
        true => None,
        false => Some(crate::review::trial_impact(catalog, &manifest, &summary, &trial).await?),
    };
    tracing::info!(agency = %manifest.agency, dataset = %manifest.dataset, rows = summary.rows, duplicate = trial.duplicate, "dry run answered; nothing stored");
    Ok(DryRunReport { sdgx: "dry_run".into(), summary, duplicate: trial.duplicate, impact })
}

/// Validates `batches` while writing them to `staging`; returns the staging and the import
/// summary, or the rejection (the staging's uploads deleted first).
async fn validated<S>(contract: &Contract, options: ValidationOptions, manifest: &Manifest, staging: Staging, batches: S) -> Result<(Staging, ImportSummary)>
where
    S: Stream<Item = Result<RecordBatch>> + Send,
{
    let mut validator = Validator::new(contract, manifest.clone(), options);
    // Validation runs here, as batches are decoded; staging (Parquet encoding and the disk
    // write) runs on a blocking thread, one batch at a time, so that validating batch n + 1
    // overlaps writing batch n (BENCHMARKS.md, ingest: 23.6 s -> 13.0 s for 10 M rows), while
    // no thread is held when the stream waits for the network.
    let mut writer = Writer::new(staging);
    let mut batches = std::pin::pin!(batches);
    let received: Result<()> = async {
        let mut first = true;
        while let Some(batch) = batches.try_next().await? {
            validator.push(&batch);
            if validator.has_errors() {
                if validator.saturated() {
                    break;
                }
            } else {
                writer.write(batch).await?;
                if std::mem::take(&mut first) {
                    crate::crash_point::reach(crate::crash_point::Point::Receiving);
                }
            }
        }
        Ok(())
    }
    .await;
    // The write in flight ends before anything is answered, so a refused publication leaves
    // no staging file behind.
    // A stream that failed is reported before a write that failed with it.
    let mut staging = match (received, writer.finish().await) {
        (Ok(()), Ok(staging)) => staging,
        (Err(e), Ok(mut staging)) => {
            staging.discard().await;
            return Err(e);
        }
        (Err(e), Err(_)) | (Ok(()), Err(e)) => return Err(e),
    };
    let summary = validator
        .finish()
        .map_err(|e| match e {
            sdgx_schemas::Error::Io { path, source } => Error::Io { path: path.display().to_string(), source },
            other => Error::Contract(other),
        })
        .and_then(|finished| {
            finished.map_err(|report| {
                let rules: std::collections::BTreeSet<&str> = report.errors.iter().map(|p| p.rule.id()).collect();
                tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, errors = report.error_count, rules = ?rules, "publication rejected");
                if let Some(p) = report.errors.iter().find(|p| p.rule == sdgx_schemas::Rule::RefAreaNotAllowed) {
                    tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, row = p.row, ref_area = p.value.as_deref().unwrap_or_default(),
                        "publication refused: the agency published rows of an area it may not publish for");
                }
                Error::Rejected(Box::new(report))
            })
        });
    match summary {
        Ok(s) => Ok((staging, s)),
        Err(e) => {
            // What was uploaded is deleted before the answer.
            staging.discard().await;
            Err(e)
        }
    }
}

/// A publication's staging file, written on the blocking pool one batch at a time: a thread
/// is held only while a batch is encoded and written, and at most one write is in flight.
struct Writer {
    /// The staging file, while no write is in flight.
    idle: Option<Staging>,
    /// The write in flight, which gives the staging file back.
    busy: Option<tokio::task::JoinHandle<(Staging, Result<()>)>>,
}

impl Writer {
    fn new(staging: Staging) -> Writer {
        Writer { idle: Some(staging), busy: None }
    }

    /// Waits for the write in flight, if any, and returns its outcome.
    async fn settle(&mut self) -> Result<()> {
        let Some(busy) = self.busy.take() else { return Ok(()) };
        let (staging, written) = busy.await.map_err(|e| Error::Transport(format!("the staging writer failed: {e}")))?;
        self.idle = Some(staging);
        written
    }

    /// Waits for the previous write, then starts writing `batch`.
    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.settle().await?;
        let mut staging = self.idle.take().ok_or_else(|| Error::Transport("the staging writer failed earlier".into()))?;
        self.busy = Some(tokio::task::spawn_blocking(move || {
            let written = staging.write(&batch);
            (staging, written)
        }));
        Ok(())
    }

    /// Waits for the last write and returns the staging file.
    async fn finish(mut self) -> Result<Staging> {
        self.settle().await?;
        self.idle.take().ok_or_else(|| Error::Transport("the staging writer failed earlier".into()))
    }
}

/// Shared state of the ingest path.
pub struct Ingest {
    /// The contract in force.
    pub contract: Arc<Contract>,
    /// The store.
    pub store: Arc<Store>,
    /// The query catalog over it (dry runs measure their figure impact with it).
    pub catalog: Arc<Catalog>,
    /// Validation options (per publication: [`Ingest::options_for`]).
    pub options: ValidationOptions,
    /// Which agency may publish which dataset.
    pub registry: Registry,
    /// Limits on publications.
    pub limits: Limits,
    /// How many publications are being received, in all and per agency.
    pub admission: Admission,
    /// The counts of publications received, accepted and refused (see [`crate::metrics`]).
    pub publications: crate::metrics::Publications,
}

impl Ingest {
    /// The ingest path over `catalog`'s store under `limits`.
    pub fn new(catalog: Arc<Catalog>, options: ValidationOptions, registry: Registry, limits: Limits) -> Ingest {
        Ingest { contract: catalog.shared_contract(), store: catalog.store().clone(), catalog, options, registry, admission: Admission::new(&limits), limits, publications: Default::default() }
    }

    /// The validation options of a publication by `agency`: the coordinator's, with the areas
    /// the registry lets the agency publish for.
    pub fn options_for(&self, agency: &str) -> ValidationOptions {
        ValidationOptions { areas: self.registry.areas(agency), ..self.options.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_over_mutual_tls_must_be_signed_with_its_client_certificate() {
        use sdgx_schemas::evidence::KeySigner;
        let dir = tempfile::tempdir().unwrap();
        crate::pki::init(dir.path(), &["localhost".into()], 30).unwrap();
        let (cert, key) = crate::pki::issue_agent(dir.path(), "sms", 30).unwrap();
        let (other_cert, other_key) = crate::pki::issue_agent(dir.path(), "labour", 30).unwrap();
        let sms = KeySigner::from_pem_files(&cert, &key).unwrap();
        let labour = KeySigner::from_pem_files(&other_cert, &other_key).unwrap();
        let mut m = Manifest::from_toml(
            "agency = \"sms\"\ndataset = \"asylum\"\ntitle = \"t\"\nindicators = []\nperiodicity = \"A\"\n[reference_period]\nstart = \"2020\"\nend = \"2020\"\n",
        )
        .unwrap();
        m.content_hash = Some("sha256:00".into());
        let signed = sms.sign_publication(&m, "2026-01-01T00:00:00.000Z").unwrap();
        let kept = check_signature(&m, Some(signed.clone()), Some(sms.certificate())).unwrap().unwrap();
        assert_eq!(kept.signature.certificate.as_deref(), Some(sdgx_schemas::evidence::base64(sms.certificate()).as_str()), "kept with the certificate");
        assert_eq!(check_signature(&m, None, None).unwrap(), None, "plaintext development: nothing to check");
        let refused = |sig: Option<sdgx_schemas::evidence::PublicationSignature>, m: &Manifest| {
            let e = check_signature(m, sig, Some(sms.certificate())).unwrap_err();
            assert!(matches!(e, Error::PermissionDenied(_)), "{e}");
            let e = e.to_string();
            assert!(e.contains("agency sms dataset asylum") && e.contains("nothing was stored"), "{e}");
            e
        };
        assert!(refused(None, &m).contains("carries no signature"));
        let mut edited = m.clone();
        edited.title = "u".into();
        assert!(refused(Some(signed.clone()), &edited).contains("does not verify"), "the manifest is covered");
        assert!(refused(Some(labour.sign_publication(&m, "2026-01-01T00:00:00.000Z").unwrap()), &m).contains("does not verify"), "another key");
        let mut later = signed;
        later.signed_at = "2026-01-02T00:00:00.000Z".into();
        assert!(refused(Some(later), &m).contains("does not verify"), "the time is covered");
    }

    fn limits(max_concurrent: usize, max_per_agency: usize) -> Limits {
        Limits { max_messages: 10, idle_timeout: Duration::from_secs(1), deadline: Duration::from_secs(1), max_concurrent, max_per_agency }
    }

    #[test]
    fn admission_bounds_each_agency_and_the_total_and_gives_places_back() {
        let a = Admission::new(&limits(3, 2));
        let first = a.admit("armstat", "x").expect("1st");
        let _second = a.admit("armstat", "y").expect("2nd");
        let e = a.admit("armstat", "z").expect_err("armstat's third");
        assert!(matches!(e, Error::LimitReached(_)));
        let m = e.to_string();
        assert!(m.contains("agency armstat dataset z") && m.contains("max_publications_per_agency"), "{m}");
        assert_eq!(tonic::Status::from(e).code(), tonic::Code::ResourceExhausted);
        let _sms = a.admit("sms", "a").expect("another agency");
        let m = a.admit("moh", "h").expect_err("the total").to_string();
        assert!(m.contains("max_concurrent_publications"), "{m}");
        // A refusal by the total took no place of the agency's.
        drop(first);
        let _again = a.admit("moh", "h").expect("a place was given back");
    }

    #[test]
    fn the_publication_settings_are_checked() {
        assert!(Config::default().validate().is_ok());
        let bad = |c: Config, setting: &str| {
            let e = c.validate().expect_err(setting).to_string();
            assert!(e.contains(setting), "{e}");
        };
        bad(Config { publish_deadline_secs: 10, publish_idle_timeout_secs: 20, ..Config::default() }, "publish_deadline_secs");
        bad(Config { max_publications_per_agency: 0, ..Config::default() }, "max_publications_per_agency");
        bad(Config { max_concurrent_publications: 2, max_publications_per_agency: 3, ..Config::default() }, "max_concurrent_publications");
        let l = Limits::from_config(&Config::default());
        assert_eq!((l.deadline, l.max_concurrent, l.max_per_agency), (Duration::from_secs(3600), 16, 4));
    }
}
