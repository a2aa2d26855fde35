//! The versioned store: one Delta Lake table of observations, partitioned by agency and
//! dataset, where each accepted publication is exactly one commit.
//!
//! A publication is first written to a staging Parquet file while it is validated; only a
//! valid, non-duplicate publication is committed, with `replace_where agency = .. AND
//! dataset = ..`, so the commit atomically removes the previous version's files and adds the
//! new ones. The publications-log entry travels *inside that commit* (commit metadata key
//! `sdgx.publication`), so the log and the data can never disagree; on start the log is
//! rebuilt from the Delta history. Staging files left by a crash are removed on start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::prelude::{col, lit, ParquetReadOptions, SessionContext};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::StructType;
use deltalake::protocol::SaveMode;
use deltalake::DeltaTable;
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use sdgx_schemas::{ImportSummary, Manifest};

use crate::error::{Error, Result};

/// Commit-metadata key holding the publications-log entry.
const LOG_KEY: &str = "sdgx.publication";

/// Provenance columns added to every stored observation.
pub const PROVENANCE: [&str; 3] = ["agency", "dataset", "publication_id"];

/// One entry of the publications log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicationEntry {
    /// Unique id of the publication (UUID v7, time-ordered).
    pub publication_id: String,
    /// Publishing agency.
    pub agency: String,
    /// Dataset id.
    pub dataset: String,
    /// Dataset title from the manifest.
    pub title: String,
    /// `sha256:<hex>` content hash.
    pub content_hash: String,
    /// Rows stored.
    pub rows: u64,
    /// When the coordinator received it (RFC 3339, UTC).
    pub received_at: String,
    /// The store version its commit created (filled from the Delta log; not hashed).
    #[serde(default)]
    pub store_version: i64,
    /// `entry_hash` of the previous entry of the log, or [`crate::audit::GENESIS`] for the first.
    pub previous_entry_hash: String,
    /// SHA-256 of this entry's canonical JSON with `entry_hash` and `store_version` blanked
    /// (see [`crate::audit::entry_hash`]).
    pub entry_hash: String,
    /// The manifest as received.
    pub manifest: Manifest,
    /// The validation summary.
    pub summary: ImportSummary,
}

/// The outcome of committing a staged publication.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The log entry (new, or the existing one for a duplicate).
    pub entry: PublicationEntry,
    /// True when the same content was already current and nothing was committed.
    pub duplicate: bool,
}

/// The Delta store and its publications log.
pub struct Store {
    url: url::Url,
    options: HashMap<String, String>,
    staging: PathBuf,
    table: RwLock<DeltaTable>,
    log: RwLock<Vec<PublicationEntry>>,
    /// Commit time (ms since the epoch) of every version, indexed by version.
    commit_times: RwLock<Vec<i64>>,
    commit_lock: Mutex<()>,
}

/// The schema of the observations table: the contract columns plus provenance.
pub fn table_schema() -> SchemaRef {
    static S: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
        let mut fields: Vec<Field> = sdgx_schemas::observation_schema()
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect();
        fields.extend(PROVENANCE.iter().map(|n| Field::new(*n, DataType::Utf8, true)));
        Arc::new(Schema::new(fields))
    });
    S.clone()
}

/// A publication being written to a staging file while it is validated.
pub struct Staging {
    path: PathBuf,
    writer: Option<ArrowWriter<std::fs::File>>,
    provenance: [String; 3],
}

impl Staging {
    /// Appends a wire batch, adding the provenance columns.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        for v in &self.provenance {
            cols.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v.as_str(), n))));
        }
        let out = RecordBatch::try_new(table_schema(), cols)?;
        self.writer.as_mut().expect("open until finished").write(&out)?;
        Ok(())
    }

    /// The publication id the staged rows carry.
    pub fn publication_id(&self) -> &str {
        &self.provenance[2]
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.close()?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Store {
    /// Opens the store at `url`, creating an empty table when there is none, and rebuilds the
    /// publications log from the Delta history.
    /// `writer` is true for the serving coordinator, which alone removes staging files left by
    /// a crash; read-only users (the `figures` command) leave them alone.
    /// `options` configure the object store (see [`crate::storage`]).
    pub async fn open(url: url::Url, options: HashMap<String, String>, data_dir: &Path, writer: bool) -> Result<Store> {
        crate::storage::check_scheme(&url)?;
        crate::storage::register();
        let staging = data_dir.join("staging");
        if writer && staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(Error::io(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(Error::io(&staging))?;
        if url.scheme() == "file"
            && let Ok(p) = url.to_file_path() {
                std::fs::create_dir_all(&p).map_err(Error::io(&p))?;
            }
        let mut table = DeltaTable::try_from_url_with_storage_options(url.clone(), options.clone()).await?;
        if table.version().is_none() {
            match table.load().await {
                Ok(()) => {}
                Err(deltalake::DeltaTableError::NotATable(_)) | Err(deltalake::DeltaTableError::InvalidTableLocation(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if table.version().is_none() {
            let schema: StructType = table_schema().as_ref().try_into_kernel().map_err(|e| Error::Store(e.into()))?;
            table = table
                .create()
                .with_columns(schema.fields().cloned())
                .with_partition_columns(["agency", "dataset"])
                .with_table_name("observations")
                .with_comment("sdgx national SDG observations; one commit per publication")
                .with_configuration([
                    ("delta.logRetentionDuration", Some("interval 36500 days")),
                    ("delta.deletedFileRetentionDuration", Some("interval 36500 days")),
                    ("delta.enableExpiredLogCleanup", Some("false")),
                ])
                .await?;
        }
        let log = read_log(&table).await?;
        let commit_times = commit_times(&table).await?;
        Ok(Store {
            url,
            options,
            staging,
            table: RwLock::new(table),
            log: RwLock::new(log),
            commit_times: RwLock::new(commit_times),
            commit_lock: Mutex::new(()),
        })
    }

    /// The store URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The current store version.
    pub async fn version(&self) -> i64 {
        self.table.read().await.version().unwrap_or(0) as i64
    }

    /// Starts staging a publication of `manifest`.
    pub fn stage(&self, manifest: &Manifest) -> Result<Staging> {
        let id = uuid::Uuid::now_v7().to_string();
        let path = self.staging.join(format!("{id}.parquet"));
        let file = std::fs::File::create(&path).map_err(Error::io(&path))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(file, table_schema(), Some(props))?;
        Ok(Staging { path, writer: Some(writer), provenance: [manifest.agency.clone(), manifest.dataset.clone(), id] })
    }

    /// Commits a staged, validated publication as one Delta commit replacing the previous
    /// version of the same (agency, dataset); identical content is acknowledged as a
    /// duplicate without a commit.
    pub async fn commit(&self, mut staged: Staging, manifest: Manifest, summary: ImportSummary) -> Result<Committed> {
        staged.finish()?;
        let _guard = self.commit_lock.lock().await;
        if let Some(current) = self.current(&manifest.agency, &manifest.dataset).await
            && current.content_hash == summary.content_hash {
                return Ok(Committed { entry: current, duplicate: true });
            }
        let previous_entry_hash =
            self.log.read().await.last().map_or_else(|| crate::audit::GENESIS.to_owned(), |e| e.entry_hash.clone());
        let mut entry = PublicationEntry {
            publication_id: staged.publication_id().to_owned(),
            agency: manifest.agency.clone(),
            dataset: manifest.dataset.clone(),
            title: manifest.title.clone(),
            content_hash: summary.content_hash.clone(),
            rows: summary.rows,
            received_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            store_version: 0,
            previous_entry_hash,
            entry_hash: String::new(),
            manifest,
            summary,
        };
        entry.entry_hash = crate::audit::entry_hash(&entry);
        let ctx = SessionContext::new();
        let path = staged.path.to_str().ok_or_else(|| Error::Config("staging path is not UTF-8".into()))?;
        let input = ctx.read_parquet(path, ParquetReadOptions::default()).await?.into_unoptimized_plan();
        let table = self.table.read().await.clone();
        let metadata = serde_json::to_value(&entry).map_err(|e| Error::Config(e.to_string()))?;
        let table = table
            .write(vec![])
            .with_input_plan(input)
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(col("agency").eq(lit(entry.agency.clone())).and(col("dataset").eq(lit(entry.dataset.clone()))))
            .with_partition_columns(["agency", "dataset"])
            .with_commit_properties(CommitProperties::default().with_metadata([(LOG_KEY.to_owned(), metadata)]))
            .await?;
        entry.store_version = table.version().unwrap_or(0) as i64;
        // The commit is durable now: nothing below may fail the publication. Without a readable
        // commit timestamp, the time now stands in (a few milliseconds later).
        let newest: Vec<_> = table.history(Some(1)).try_collect().await.unwrap_or_default();
        let committed_at = newest.first().and_then(|c| c.timestamp).unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        *self.table.write().await = table;
        self.commit_times.write().await.push(committed_at);
        self.log.write().await.push(entry.clone());
        Ok(Committed { entry, duplicate: false })
    }

    /// The publications log as recorded in the store now, re-read from storage.
    pub async fn read_log(&self) -> Result<Vec<PublicationEntry>> {
        let mut table = DeltaTable::try_from_url_with_storage_options(self.url.clone(), self.options.clone()).await?;
        table.load().await?;
        read_log(&table).await
    }

    /// The current publication of (agency, dataset), if any.
    pub async fn current(&self, agency: &str, dataset: &str) -> Option<PublicationEntry> {
        self.log.read().await.iter().rev().find(|e| e.agency == agency && e.dataset == dataset).cloned()
    }

    /// The publications log, oldest first.
    pub async fn publications(&self) -> Vec<PublicationEntry> {
        self.log.read().await.clone()
    }

    /// The store version in force at `at`: the newest commit made at or before it.
    pub async fn version_at(&self, at: chrono::DateTime<chrono::Utc>) -> Result<i64> {
        let ms = at.timestamp_millis();
        let times = self.commit_times.read().await;
        times
            .iter()
            .rposition(|t| *t <= ms)
            .map(|v| v as i64)
            .ok_or_else(|| Error::NotFound(format!("the store did not exist yet at {}", at.to_rfc3339())))
    }

    /// When `version` was committed.
    pub async fn committed_at(&self, version: i64) -> Result<chrono::DateTime<chrono::Utc>> {
        let times = self.commit_times.read().await;
        usize::try_from(version)
            .ok()
            .and_then(|v| times.get(v))
            .and_then(|ms| chrono::DateTime::from_timestamp_millis(*ms))
            .ok_or_else(|| Error::NotFound(format!("store version {version} does not exist")))
    }

    /// Makes the store's object store known to `ctx` (needed before scanning a provider made in
    /// another session).
    pub async fn register_object_store(&self, ctx: &SessionContext) -> Result<()> {
        self.table.read().await.update_datafusion_session(&ctx.state())?;
        Ok(())
    }

    /// A table provider for the observations at the current version, or at `version`.
    pub async fn provider(&self, ctx: &SessionContext, version: Option<i64>) -> Result<(Arc<dyn TableProvider>, i64)> {
        let table = self.table.read().await.clone();
        table.update_datafusion_session(&ctx.state())?;
        let current = table.version().unwrap_or(0) as i64;
        let v = version.unwrap_or(current);
        if v < 0 || v > current {
            return Err(Error::NotFound(format!("store version {v} does not exist (current is {current})")));
        }
        let table = if v == current {
            table
        } else {
            let mut old = table;
            old.load_version(v as u64).await?;
            old
        };
        Ok((table.table_provider().await?, v))
    }
}

/// The commit time of every version of `table`, oldest first (a commit without a timestamp
/// takes its predecessor's, so the list stays ordered).
async fn commit_times(table: &DeltaTable) -> Result<Vec<i64>> {
    let infos: Vec<_> = table.history(None).try_collect().await?;
    let mut times: Vec<i64> = infos.iter().rev().map(|c| c.timestamp.unwrap_or(0)).collect();
    for i in 1..times.len() {
        times[i] = times[i].max(times[i - 1]);
    }
    Ok(times)
}

async fn read_log(table: &DeltaTable) -> Result<Vec<PublicationEntry>> {
    // The history lists every commit, newest first: the i-th is version latest - i (the log is
    // never cleaned up: the table is created with expired-log cleanup off).
    let infos: Vec<_> = table.history(None).try_collect().await?;
    let latest = table.version().unwrap_or(0) as i64;
    let mut log = Vec::new();
    for (i, info) in infos.into_iter().enumerate() {
        let Some(v) = info.info.get(LOG_KEY) else { continue };
        let mut e: PublicationEntry = serde_json::from_value(v.clone())
            .map_err(|e| Error::Config(format!("unreadable publications-log entry in the store: {e}")))?;
        e.store_version = latest - i as i64;
        log.push(e);
    }
    log.sort_by_key(|e| e.store_version);
    Ok(log)
}
