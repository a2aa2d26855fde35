//! Publishing a dataset: validate it locally (first pass over the file), then stream it to
//! the coordinator with `do_put` (second pass). Batches go from file to wire through a bounded
//! channel; the dataset is never held in memory whole.

use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::FlightClient;
use futures::TryStreamExt;
use sdgx_schemas::flight::{Ack, PublishCommand};
use sdgx_schemas::normalize::{observation_schema_nullable, validate_stream, Normalizer};
use sdgx_schemas::{Contract, ImportSummary, Manifest, ValidationOptions, Validator};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::DatasetConfig;
use crate::error::{Error, Result};
use crate::source;

/// A dataset that passed local validation, with its content hash in the manifest.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The manifest, `content_hash` filled in.
    pub manifest: Manifest,
    /// The local import summary.
    pub summary: ImportSummary,
    /// Where the data comes from.
    pub dataset: DatasetConfig,
}

/// Validates a dataset locally. Fails with every problem found, or when the manifest names
/// another agency than `agency`.
pub fn check(contract: &Contract, d: &DatasetConfig, agency: &str, batch_size: usize, max_problems: usize) -> Result<Prepared> {
    let text = std::fs::read_to_string(&d.manifest)
        .map_err(|e| Error::Source { path: d.manifest.display().to_string(), message: e.to_string() })?;
    let mut manifest = Manifest::from_toml(&text)
        .map_err(|e| Error::Config(format!("{}: {e}", d.manifest.display())))?;
    if manifest.agency != agency {
        return Err(Error::Config(format!(
            "{}: the manifest names agency {:?}, but this agent publishes for {agency:?}",
            d.manifest.display(),
            manifest.agency
        )));
    }
    manifest.content_hash = None;
    let src = source::open(&d.source, d.format()?, batch_size)?;
    let mut validator = Validator::new(contract, manifest.clone(), ValidationOptions { max_problems });
    validate_stream(&mut validator, contract, &src.schema, src.batches, |_| Ok(()))
        .map_err(|e| Error::Source { path: d.source.display().to_string(), message: e.to_string() })?;
    let summary = validator.finish()?.map_err(|r| Error::Invalid(Box::new(r)))?;
    manifest.content_hash = Some(summary.content_hash.clone());
    Ok(Prepared { manifest, summary, dataset: d.clone() })
}

/// Streams a prepared dataset to the coordinator and returns its acknowledgement.
pub async fn send(client: &mut FlightClient, url: &str, contract: Arc<Contract>, p: &Prepared, batch_size: usize) -> Result<Ack> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<arrow::array::RecordBatch, FlightError>>(4);
    let d = p.dataset.clone();
    let reader = tokio::task::spawn_blocking(move || -> Result<()> {
        let src = source::open(&d.source, d.format()?, batch_size)?;
        let mut normalizer = Normalizer::new(&contract, &src.schema);
        for batch in src.batches {
            let wire = batch
                .map_err(|e| e.into())
                .and_then(|b| normalizer.normalize(&b, &mut |_| {}))
                .map_err(|e| FlightError::ExternalError(Box::new(e)));
            let failed = wire.is_err();
            if tx.blocking_send(wire).is_err() || failed {
                break;
            }
        }
        Ok(())
    });
    let flight_data = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(PublishCommand::descriptor(&p.manifest)))
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
                Err(_) => fail(s.message().to_owned()),
            }
        }
        FlightError::Tonic(s) => fail(format!("{:?}: {}", s.code(), s.message())),
        other => fail(other.to_string()),
    })?;
    let first = results.first().ok_or_else(|| fail("no acknowledgement received".into()))?;
    Ok(Ack::decode(&first.app_metadata)?)
}
