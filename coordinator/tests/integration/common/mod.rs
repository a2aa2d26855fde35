//! What the figure tests share: publishing contract CSV through the real ingest path.

use std::path::Path;
use std::sync::Arc;

use futures::stream;
use sdgx_coordinator::ingest::ingest;
use sdgx_schemas::flight::Ack;
use sdgx_coordinator::store::Store;
use sdgx_schemas::normalize::{read_csv, Normalizer};
use sdgx_schemas::{Contract, Manifest, ReferencePeriod, ValidationOptions};

/// Validates and commits `csv` (contract columns; absent ones take their defaults) as
/// `agency`'s `dataset`: the manifest lists the CSV's indicators, reference period 1900-2100,
/// periodicity A. `dir` holds the scratch file. A problem or a rejection is the error's text.
pub async fn publish(contract: &Contract, store: &Arc<Store>, dir: &Path, agency: &str, dataset: &str, csv: &str) -> Result<Ack, String> {
    let (manifest, batches) = prepare(contract, dir, agency, dataset, csv)?;
    ingest(contract, store, ValidationOptions::default(), manifest, Default::default(), stream::iter(batches.into_iter().map(Ok))).await.map_err(|e| e.to_string())
}

/// The manifest and wire batches [`publish`] sends for `csv`.
pub fn prepare(contract: &Contract, dir: &Path, agency: &str, dataset: &str, csv: &str) -> Result<(Manifest, Vec<arrow::array::RecordBatch>), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let path = dir.join("input.csv");
    std::fs::write(&path, csv).map_err(|e| fail(&e))?;
    let header: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    let col = header.iter().position(|h| *h == "indicator").ok_or("the CSV has no indicator column")?;
    let mut indicators: Vec<String> = csv.lines().skip(1).filter_map(|l| l.split(',').nth(col)).map(str::to_owned).collect();
    indicators.sort();
    indicators.dedup();
    let manifest = Manifest {
        agency: agency.into(),
        dataset: dataset.into(),
        title: format!("{agency} {dataset}"),
        indicators,
        reference_period: ReferencePeriod { start: "1900".into(), end: "2100".into() },
        periodicity: "A".into(),
        content_hash: None,
        metadata: Default::default(),
        withdraw: false,
        provenance: vec![],
    };
    let reader = read_csv(&path, 1024).map_err(|e| fail(&e))?;
    let mut normalizer = Normalizer::new(contract, &reader.schema());
    let mut problems = Vec::new();
    let batches: Vec<_> = reader
        .map(|b| b.map_err(sdgx_schemas::Error::from).and_then(|b| normalizer.normalize(&b, &mut |p| problems.push(p))))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(&e))?;
    if let Some(p) = problems.first() {
        return Err(fail(p));
    }
    Ok((manifest, batches))
}
