//! Reading a dataset file as a stream of record batches, never whole.

use std::path::Path;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use crate::config::Format;
use crate::error::{Error, Result};

/// A dataset opened for reading: its schema and its batches.
pub struct Source {
    /// The file's schema (before normalisation).
    pub schema: SchemaRef,
    /// The batches, read lazily.
    pub batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
}

/// Opens `path` in `format`, yielding batches of about `batch_size` rows.
pub fn open(path: &Path, format: Format, batch_size: usize) -> Result<Source> {
    let err = |e: &dyn std::fmt::Display| Error::Source { path: path.display().to_string(), message: e.to_string() };
    match format {
        Format::Csv => {
            let r = sdgx_schemas::normalize::read_csv(path, batch_size).map_err(|e| err(&e))?;
            Ok(Source { schema: r.schema(), batches: Box::new(r) })
        }
        Format::Parquet => {
            let f = std::fs::File::open(path).map_err(|e| err(&e))?;
            let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| err(&e))?;
            let r = b.with_batch_size(batch_size).build().map_err(|e| err(&e))?;
            Ok(Source { schema: r.schema(), batches: Box::new(r) })
        }
    }
}
