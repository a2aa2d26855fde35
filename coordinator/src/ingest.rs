//! Receiving one publication: decode the manifest, validate the stream as it arrives while
//! staging it to disk, then commit it (or reject it, leaving the store unchanged).

use std::sync::Arc;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::FlightData;
use futures::{Stream, StreamExt, TryStreamExt};
use sdgx_schemas::flight::{Ack, PublishCommand};
use arrow::array::RecordBatch;
use sdgx_schemas::{Contract, Manifest, ValidationOptions, Validator, CONTRACT_VERSION};

use crate::auth::Registry;
use crate::error::{Error, Result};
use crate::store::{Staging, Store};

/// Who is publishing, as established by the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publisher {
    /// The agency named by a verified client certificate.
    Agency(String),
    /// A plaintext connection on a coordinator configured with `insecure_plaintext_publish`:
    /// the manifest's agency is trusted.
    Unverified,
}

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

/// Receives a `do_put` stream from `publisher`: the first message's descriptor carries the
/// manifest; nothing is read further unless the publisher may publish it.
pub async fn receive<S>(state: &Ingest, publisher: &Publisher, stream: S) -> Result<Ack>
where
    S: Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    let mut stream = guarded(stream, state.limits).peekable();
    let first = std::pin::Pin::new(&mut stream).peek().await;
    let descriptor = match first {
        Some(Ok(d)) => d.flight_descriptor.clone(),
        Some(Err(s)) => return Err(Error::Flight(FlightError::Tonic(Box::new(s.clone())))),
        None => return Err(Error::BadRequest("empty do_put stream: no descriptor, no data".into())),
    };
    let manifest = PublishCommand::decode(descriptor.as_ref())?;
    authorize(&state.registry, publisher, &manifest)?;
    let (contract, store, options) = (&state.contract, &state.store, state.options.clone());
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
    // A stream that carried a schema but no batch is an empty publication of that schema.
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
    let batches = decoded.map_err(move |e| match e {
        // Transport errors (a message over the size limit, a cancelled stream, the limits of
        // `guarded`) keep their gRPC code and gain the publication's name.
        FlightError::Tonic(s) => Error::Flight(FlightError::Tonic(Box::new(tonic::Status::new(
            s.code(),
            format!("agency {agency} dataset {dataset}: {}", s.message()),
        )))),
        other => Error::BadRequest(format!("agency {agency} dataset {dataset}: the Arrow IPC stream is malformed: {other}")),
    });
    ingest(contract, store, options, manifest, batches).await
}

/// Limits on one publication's stream.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most Flight messages accepted (schema and batches).
    pub max_messages: u64,
    /// Longest wait for the next message.
    pub idle_timeout: std::time::Duration,
}

/// `stream` with the limits applied: past `max_messages` messages, or after `idle_timeout`
/// without one, it ends with an error (and is not read further).
fn guarded<S>(stream: S, limits: Limits) -> impl Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static
where
    S: Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    Box::pin(futures::stream::unfold((Some(stream), 0u64), move |(s, n)| async move {
        let mut s = s?;
        match tokio::time::timeout(limits.idle_timeout, s.next()).await {
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
pub async fn ingest<S>(contract: &Contract, store: &Store, options: ValidationOptions, manifest: Manifest, batches: S) -> Result<Ack>
where
    S: Stream<Item = Result<RecordBatch>> + Send,
{
    tracing::info!(agency = %manifest.agency, dataset = %manifest.dataset, "publication received");
    let started = std::time::Instant::now();
    let mut validator = Validator::new(contract, manifest.clone(), options);
    // Validation runs here, as batches are decoded; staging (Parquet encoding and the disk
    // write) runs on a blocking thread fed through a short queue, so the two overlap.
    let mut staging = store.stage(&manifest)?;
    let (queue, mut staged) = tokio::sync::mpsc::channel::<RecordBatch>(4);
    let writer = tokio::task::spawn_blocking(move || -> Result<Staging> {
        while let Some(batch) = staged.blocking_recv() {
            staging.write(&batch)?;
        }
        Ok(staging)
    });
    let mut batches = std::pin::pin!(batches);
    let received: Result<()> = async {
        while let Some(batch) = batches.try_next().await? {
            validator.push(&batch);
            if validator.has_errors() {
                if validator.saturated() {
                    break;
                }
            } else if queue.send(batch).await.is_err() {
                // The writer stopped: its error is reported below.
                break;
            }
        }
        Ok(())
    }
    .await;
    drop(queue);
    let staging = writer.await.map_err(|e| Error::Transport(format!("the staging writer failed: {e}")))??;
    received?;
    let finished = validator.finish().map_err(|e| match e {
        sdgx_schemas::Error::Io { path, source } => Error::Io { path: path.display().to_string(), source },
        other => Error::Contract(other),
    })?;
    let summary = match finished {
        Ok(s) => s,
        Err(report) => {
            tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, errors = report.error_count, "publication rejected");
            return Err(Error::Rejected(Box::new(report)));
        }
    };
    let received_ms = started.elapsed().as_millis() as u64;
    let committed = store.commit(staging, manifest, summary).await?;
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
    })
}

/// Shared state of the ingest path.
pub struct Ingest {
    /// The contract in force.
    pub contract: Arc<Contract>,
    /// The store.
    pub store: Arc<Store>,
    /// Validation options.
    pub options: ValidationOptions,
    /// Which agency may publish which dataset.
    pub registry: Registry,
    /// Limits on each publication's stream.
    pub limits: Limits,
}
