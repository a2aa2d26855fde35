//! The versioned store: one Delta Lake table of observations, partitioned by agency and
//! dataset, where each accepted publication is exactly one commit.
//!
//! A publication is written, while it is validated, straight to the table's object store as
//! the data file it will be: `agency=<a>/dataset=<d>/part-….parquet`, the contract's columns by
//! name in the contract's order plus `publication_id` (the partition columns live in the path),
//! row groups flushed as they fill. Only a valid publication that changes the dataset (its rows
//! or its manifest) is committed: one Delta transaction of the file's `Add` (with the statistics
//! deltalake itself writes) and the `Remove`s of the previous version's files of that (agency,
//! dataset), so readers see either the previous version or the new one. Nothing is rewritten.
//! A rejected or duplicate publication's file is deleted; a crash before the commit leaves an
//! orphan file no commit lists, invisible to readers.
//!
//! The publications-log entry travels *inside that commit* (commit metadata key
//! `sdgx.publication`) and hashes the commit's actions (see [`crate::audit`]), so the log and the
//! data can never disagree unnoticed. On start the log is rebuilt by reading the commit files
//! themselves; the serving coordinator refuses a log that does not verify, or whose newest
//! commit is older than the head it recorded in `<data_dir>/state/head.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;
use delta_kernel::expressions::Scalar;
use delta_kernel::table_properties::DataSkippingNumIndexedCols;
use deltalake::datafile::writer::{PartitionWriter, PartitionWriterConfig};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, StructType};
use deltalake::logstore::{LogStoreRef, ObjectStoreRef};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::table::config::TablePropertiesExt as _;
use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt as _;
use tokio::sync::{Mutex, RwLock};

use sdgx_schemas::evidence::{ChainHead, KeySigner, PublicationSignature, Signature};
use sdgx_schemas::{ImportSummary, Manifest, Problem, Rule, ValidationReport};

use crate::audit::{Head, LogCommit};
use crate::error::{Error, Result};
use crate::facts::{Facts, FactsBuilder, FactsRef, StoredFile};
use crate::signoff::{Action as DecisionAction, Decision, DECISION_KEY};

pub use crate::entry::{PublicationEntry, LOG_KEY};

/// Provenance columns added to every stored observation.
pub const PROVENANCE: [&str; 3] = ["agency", "dataset", "publication_id"];

/// The table's partition columns (in the data files' paths, not in the files).
pub const PARTITIONS: [&str; 2] = ["agency", "dataset"];

/// Rows per row group of a data file: staging holds at most one row group (encoded) in memory.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Commit files read at once when the log is replayed.
const PARALLEL_READS: usize = 16;

/// What committing a dry run would do (see [`Store::trial`]).
#[derive(Debug, Clone)]
pub struct Trial {
    /// The id the publication would have had.
    pub publication_id: String,
    /// True when the same content under the same manifest is already the dataset's latest.
    pub duplicate: bool,
    /// Its facts.
    pub facts: Arc<Facts>,
}

/// The outcome of committing a staged publication.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The log entry (new, or the existing one for a duplicate).
    pub entry: PublicationEntry,
    /// True when the same content, under the same manifest, was already current and nothing
    /// was committed.
    pub duplicate: bool,
}

/// The Delta store and its publications log.
pub struct Store {
    url: url::Url,
    options: HashMap<String, String>,
    object_store: ObjectStoreRef,
    num_indexed_cols: DataSkippingNumIndexedCols,
    head_path: PathBuf,
    table: RwLock<DeltaTable>,
    log: RwLock<Vec<PublicationEntry>>,
    /// The sign-off decisions, oldest first.
    decisions: RwLock<Vec<Decision>>,
    /// The data files (path relative to the table's root, size) each publication's commit
    /// added, by publication id: the official view reads them (see [`Store::publication_files`]).
    files: std::sync::Mutex<HashMap<String, Vec<(String, u64)>>>,
    /// Commit time (ms since the epoch) of every version, indexed by version.
    commit_times: RwLock<Vec<i64>>,
    commit_lock: Mutex<()>,
    /// The facts of the publications read so far, by publication id (facts never change).
    facts: std::sync::Mutex<HashMap<String, Arc<Facts>>>,
    /// How this process uses the store.
    access: Access,
    /// A read-only replica's following of the writer (none for the other accesses).
    following: Option<std::sync::Mutex<Following>>,
    /// How long commits of publications take (see [`crate::metrics`]).
    commit_seconds: prometheus::Histogram,
    /// The coordinator's signing key: every entry the writer commits is signed with it (see
    /// [`sdgx_schemas::evidence`]); none in development.
    signer: Option<Arc<KeySigner>>,
}

/// How a process uses the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The serving coordinator: the one process that commits (publications, decisions).
    Writer,
    /// A read-only replica: serves what the writer committed and follows its new commits
    /// ([`Store::refresh`]); it writes nothing to the store. Opened before the writer has created
    /// the table, it waits for it, looking every `every`.
    Replica {
        /// How often to look for the table while there is none.
        every: std::time::Duration,
    },
    /// A command that reads the store once (`figures`, `export`, `audit verify`).
    Reader,
}

/// How a read-only replica's following of the writer goes (see [`Store::refresh`]).
#[derive(Debug, Clone, Default)]
pub struct Following {
    /// When the writer's commits were last looked for without an error.
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last look failed, if it did.
    pub error: Option<String>,
    /// Set once a commit did not verify: the replica follows no further.
    pub stopped: Option<String>,
    /// The log verified so far.
    verified: crate::audit::Verified,
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

/// The schema of a data file: the table's without its partition columns.
pub fn file_schema() -> SchemaRef {
    static S: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
        let fields: Vec<Field> =
            table_schema().fields().iter().filter(|f| !PARTITIONS.contains(&f.name().as_str())).map(|f| f.as_ref().clone()).collect();
        Arc::new(Schema::new(fields))
    });
    S.clone()
}

/// The batch to store for a wire batch: the contract's columns found *by name*, in the
/// contract's order, then `publication_id`. A column the contract does not know, a missing one
/// or one of another type is refused with the validator's rule and wording, naming it.
fn stored_batch(batch: &RecordBatch, agency: &str, dataset: &str, publication_id: &str) -> Result<RecordBatch> {
    let contract = sdgx_schemas::observation_schema();
    let wire = batch.schema();
    let mut problems = Vec::new();
    for f in wire.fields() {
        if contract.field_with_name(f.name()).is_err() {
            problems.push(Problem::new(Rule::UnknownColumn, None, Some(f.name()), None,
                format!("column {:?} is not part of the observation schema", f.name())));
        }
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(contract.fields().len() + 1);
    for c in contract.fields() {
        match wire.column_with_name(c.name()) {
            None => problems.push(Problem::new(Rule::MissingColumn, None, Some(c.name()), None,
                format!("column {} ({:?}) is missing", c.name(), c.data_type()))),
            Some((_, f)) if f.data_type() != c.data_type() => problems.push(Problem::new(Rule::WrongType, None, Some(c.name()),
                Some(&f.data_type().to_string()), format!("column {} must be {:?}, found {:?}", c.name(), c.data_type(), f.data_type()))),
            Some((i, _)) => columns.push(batch.column(i).clone()),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Rejected(Box::new(ValidationReport {
            agency: agency.to_owned(),
            dataset: dataset.to_owned(),
            rows: 0,
            error_count: problems.len() as u64,
            errors: problems,
            warnings: vec![],
            truncated: false,
        })));
    }
    columns.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(publication_id, batch.num_rows()))));
    Ok(RecordBatch::try_new(file_schema(), columns)?)
}

/// A publication being written, while it is validated, as its data file in the table's object
/// store (not yet part of the table: only [`Store::commit`] adds it).
///
/// [`write`](Self::write) blocks on the upload: call it from a blocking thread
/// (`spawn_blocking`), never from an async task.
pub struct Staging {
    writer: Option<PartitionWriter>,
    /// The facts of the rows written so far.
    facts: FactsBuilder,
    /// The files written, once the writer is closed.
    uploaded: Vec<Add>,
    /// The facts files written, once the facts are complete.
    facts_paths: Vec<String>,
    /// Set once the commit is attempted: the files are then never deleted.
    committed: bool,
    /// A dry run's: the rows are validated and their facts computed, nothing is written.
    dry: bool,
    runtime: tokio::runtime::Handle,
    store: ObjectStoreRef,
    /// Where the file goes, for messages: `<store>/agency=<a>/dataset=<d>/`.
    location: String,
    agency: String,
    dataset: String,
    publication_id: String,
}

impl Staging {
    /// Appends a wire batch: its columns by name in the contract's order, plus the publication
    /// id. Complete row groups are uploaded as they fill.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let out = stored_batch(batch, &self.agency, &self.dataset, &self.publication_id)?;
        self.facts.push(&out)?;
        if self.dry {
            return Ok(());
        }
        let writer = self.writer.as_mut().expect("open until finished");
        self.runtime.block_on(writer.write(&out)).map_err(|e| Error::or_no_space(e.into(), &self.location))
    }

    /// The publication id the staged rows carry.
    pub fn publication_id(&self) -> &str {
        &self.publication_id
    }

    /// Computes the facts of the rows written and uploads them beside the table (not yet
    /// named by any commit).
    async fn write_facts(&mut self) -> Result<(FactsRef, Arc<Facts>)> {
        let facts = std::mem::take(&mut self.facts).finish()?;
        let paths = crate::facts::paths(&self.publication_id);
        let named = put_facts(&self.store, paths, &facts, &self.location, &mut self.facts_paths).await?;
        Ok((named, Arc::new(facts)))
    }

    /// Completes the upload and returns the data files' `Add` actions (none for no rows).
    async fn finish(&mut self) -> Result<Vec<Add>> {
        if let Some(w) = self.writer.take() {
            self.uploaded = w.close().await.map_err(|e| Error::or_no_space(e.into(), &self.location))?;
        }
        Ok(self.uploaded.clone())
    }
}

/// Writes `bytes` at `path` (relative to the table's root) of `store`; `location` names the
/// store in a disk-full message.
async fn put(store: &ObjectStoreRef, path: &str, bytes: bytes::Bytes, location: &str) -> Result<()> {
    store
        .put(&deltalake::Path::from(path), bytes.into())
        .await
        .map(drop)
        .map_err(|e| Error::or_no_space(Error::Store(e.into()), location))
}

/// Writes `facts` at `paths` (breakdowns, gaps) in `store` (each path pushed to `written`
/// before its upload starts, so a failed one is still cleaned up), and returns what names them.
async fn put_facts(store: &ObjectStoreRef, paths: [String; 2], facts: &Facts, location: &str, written: &mut Vec<String>) -> Result<FactsRef> {
    let [breakdowns, gaps] = paths;
    let mut file = async |path: String, batch: &RecordBatch| -> Result<StoredFile> {
        let bytes = crate::facts::encode(batch)?;
        let stored = StoredFile { path: path.clone(), size: bytes.len() as u64, sha256: crate::facts::sha256(&bytes) };
        written.push(path.clone());
        put(store, &path, bytes, location).await?;
        Ok(stored)
    };
    Ok(FactsRef { breakdowns: file(breakdowns, &facts.breakdowns).await?, gaps: file(gaps, &facts.gaps).await?, format: crate::facts::FORMAT })
}

/// What an uncommitted publication left in the object store.
struct Leftovers {
    writer: Option<PartitionWriter>,
    paths: Vec<String>,
    store: ObjectStoreRef,
    location: String,
}

impl Leftovers {
    /// Aborts the unfinished upload and deletes the finished files. A file that cannot be
    /// deleted stays an orphan no commit lists.
    async fn remove(self) {
        if let Some(w) = self.writer
            && let Err(e) = w.abort().await {
                tracing::warn!(location = %self.location, error = %e, "could not abort an uncommitted upload");
            }
        for p in self.paths {
            let location = deltalake::Path::parse(&p).unwrap_or_else(|_| deltalake::Path::from(p.as_str()));
            if let Err(e) = self.store.delete(&location).await {
                tracing::warn!(path = %p, error = %e, "could not delete an uncommitted data file; it is an orphan no commit lists");
            }
        }
    }
}

impl Staging {
    fn leftovers(&mut self) -> Option<Leftovers> {
        if self.committed || (self.writer.is_none() && self.uploaded.is_empty() && self.facts_paths.is_empty()) {
            return None;
        }
        Some(Leftovers {
            writer: self.writer.take(),
            paths: self.uploaded.drain(..).map(|a| a.path).chain(self.facts_paths.drain(..)).collect(),
            store: self.store.clone(),
            location: self.location.clone(),
        })
    }

    /// Deletes what was uploaded for this uncommitted publication, before returning (dropping
    /// a `Staging` does the same in the background).
    pub async fn discard(&mut self) {
        if let Some(l) = self.leftovers() {
            l.remove().await;
        }
    }
}

impl Drop for Staging {
    /// An uncommitted publication's upload is aborted and its file deleted, in the background
    /// (should the process stop first, the file stays an orphan no commit lists).
    fn drop(&mut self) {
        if let Some(l) = self.leftovers() {
            drop(self.runtime.spawn(l.remove()));
        }
    }
}

/// Every commit of the Delta log under `log_store`, read from the commit files themselves
/// (`_delta_log/<version>.json`), oldest first. A version missing from the files is missing
/// from the list (the audit names it).
async fn read_commits(log_store: &LogStoreRef) -> Result<Vec<LogCommit>> {
    let store = log_store.object_store(None);
    let prefix = deltalake::Path::from("_delta_log");
    let listed: Vec<deltalake::ObjectMeta> = match store.list(Some(&prefix)).try_collect().await {
        Ok(l) => l,
        Err(object_store::Error::NotFound { .. }) => vec![],
        Err(e) => return Err(Error::Store(e.into())),
    };
    let mut versions: Vec<i64> = listed.iter().filter_map(|m| commit_version(m.location.filename()?)).collect();
    versions.sort_unstable();
    futures::stream::iter(versions)
        .map(|v| {
            let store = store.clone();
            async move {
                let bytes = store.get(&commit_path(v)).await?.bytes().await?;
                Ok::<_, object_store::Error>(crate::audit::parse_commit(v, &bytes))
            }
        })
        .buffered(PARALLEL_READS)
        .map_err(|e| Error::Store(e.into()))
        .try_collect()
        .await
}

/// The table at `url`, not loaded (loading fails on a log the audit must name instead).
fn unloaded(url: &url::Url, options: &HashMap<String, String>) -> Result<DeltaTable> {
    Ok(deltalake::DeltaTableBuilder::from_url(url.clone())?.with_storage_options(options.clone()).build()?)
}

/// The version of a commit file's name (`00000000000000000012.json` is 12).
/// The result of a commit task spawned so that no caller can cancel it halfway.
async fn complete<T>(task: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    task.await.map_err(|e| Error::Internal(format!("the commit task ended without an answer: {e}")))?
}

fn commit_version(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// The object path of a commit file, relative to the table root.
pub fn commit_path(version: i64) -> deltalake::Path {
    deltalake::Path::from(format!("_delta_log/{version:020}.json"))
}

impl Store {
    /// Opens the store at `url`, creating an empty table when there is none, and rebuilds the
    /// publications log by reading the commit files.
    /// `writer` is true for the serving coordinator: it alone removes staging files left by a
    /// crash, refuses a log that does not verify or is older than the head recorded in
    /// `<data_dir>/state/head.json` (naming the commit), and records the head. Read-only users
    /// (`figures`, `audit verify`) open what deltalake can read and leave the audit to report.
    /// `options` configure the object store (see [`crate::storage`]).
    pub async fn open(url: url::Url, options: HashMap<String, String>, data_dir: &Path, writer: bool) -> Result<Store> {
        Store::open_as(url, options, data_dir, if writer { Access::Writer } else { Access::Reader }).await
    }

    /// Opens the store at `url` as a read-only replica: nothing is created, removed or written
    /// (no table, no head, no staging clean-up, no backfilled facts); a log that does not
    /// verify is refused as the writer refuses it (the writer's recorded head is the writer's
    /// own, not checked here). Before the writer has created the table it waits, looking every
    /// `every`. [`Store::refresh`] then follows the writer's commits.
    pub async fn open_replica(url: url::Url, options: HashMap<String, String>, data_dir: &Path, every: std::time::Duration) -> Result<Store> {
        Store::open_as(url, options, data_dir, Access::Replica { every }).await
    }

    /// Whether a store is at `url`: its Delta log holds at least one commit. Nothing is
    /// created (a local path that does not exist holds no store).
    pub async fn exists(url: &url::Url, options: &HashMap<String, String>) -> Result<bool> {
        crate::storage::check_scheme(url)?;
        if url.scheme() == "file"
            && let Ok(p) = url.to_file_path()
            && !p.join("_delta_log").is_dir()
        {
            return Ok(false);
        }
        crate::storage::register();
        Ok(!read_commits(&unloaded(url, options)?.log_store()).await?.is_empty())
    }

    async fn open_as(url: url::Url, options: HashMap<String, String>, data_dir: &Path, access: Access) -> Result<Store> {
        let (writer, replica) = (access == Access::Writer, matches!(access, Access::Replica { .. }));
        crate::storage::check_scheme(&url)?;
        crate::storage::register();
        let staging = data_dir.join("staging");
        if writer && staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(Error::io(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(Error::io(&staging))?;
        if url.scheme() == "file"
            && !replica
            && let Ok(p) = url.to_file_path() {
                std::fs::create_dir_all(&p).map_err(Error::io(&p))?;
            }
        let head_path = data_dir.join("state").join("head.json");
        let head = if replica { None } else { crate::audit::read_head(&head_path)? };
        let mut table = unloaded(&url, &options)?;
        let mut commits = read_commits(&table.log_store()).await?;
        if let Access::Replica { every } = access {
            let mut waits = 0u64;
            while commits.is_empty() {
                if waits.is_multiple_of((60_000 / every.as_millis().max(1) as u64).max(1)) {
                    tracing::warn!(store = %crate::storage::redact(&url), "there is no table at the store yet: waiting for the writer to create it (a read-only replica never does)");
                }
                waits += 1;
                tokio::time::sleep(every).await;
                commits = read_commits(&table.log_store()).await?;
            }
        }
        let problem = crate::audit::check_log(&commits, head.as_ref()).err();
        let refused = |m: &crate::audit::Mismatch| {
            Error::Integrity(format!("{m}; the store was changed outside the coordinator (`sdgx-coordinator audit verify` reports it)"))
        };
        if (writer || replica) && let Some(m) = &problem {
            return Err(refused(m));
        }
        if commits.is_empty() {
            let schema: StructType = table_schema().as_ref().try_into_kernel().map_err(|e| Error::Store(e.into()))?;
            table = table
                .create()
                .with_columns(schema.fields().cloned())
                .with_partition_columns(PARTITIONS)
                .with_table_name("observations")
                .with_comment("sdgx national SDG observations; one commit per publication")
                .with_configuration([
                    ("delta.logRetentionDuration", Some("interval 36500 days")),
                    ("delta.deletedFileRetentionDuration", Some("interval 36500 days")),
                    ("delta.enableExpiredLogCleanup", Some("false")),
                ])
                .await?;
            commits = read_commits(&table.log_store()).await?;
        } else {
            // Only the writer commits: another process loads the version it read the log of, so
            // a commit made meanwhile is not in the table without its entry.
            let newest = commits.last().map_or(0, |c| c.version);
            let loaded = if writer { table.load().await } else { table.load_version(newest as u64).await };
            if let Err(e) = loaded {
                return Err(match &problem {
                    Some(m) => refused(m),
                    None => e.into(),
                });
            }
        }
        let num_indexed_cols = table.snapshot()?.table_config().num_indexed_cols();
        let log = entries(&commits);
        let decisions = decisions(&commits);
        if writer
            && let Some(head) = newest_head(&log, &decisions) {
                crate::audit::write_head(&head_path, &head).map_err(|e| Error::or_no_space(e, &head_path.display().to_string()))?;
            }
        let following = if replica {
            let mut verified = crate::audit::Verified::default();
            for c in &commits {
                verified.next(c).map_err(|m| refused(&m))?;
            }
            Some(std::sync::Mutex::new(Following { verified, ..Following::default() }))
        } else {
            None
        };
        let store = Store {
            url,
            options,
            object_store: table.object_store(),
            num_indexed_cols,
            head_path,
            table: RwLock::new(table),
            files: std::sync::Mutex::new(added_files(&commits)),
            log: RwLock::new(log),
            decisions: RwLock::new(decisions),
            commit_times: RwLock::new(commit_times(&commits)),
            commit_lock: Mutex::new(()),
            facts: std::sync::Mutex::new(HashMap::new()),
            access,
            following,
            commit_seconds: crate::metrics::commit_histogram(),
            signer: None,
        };
        store.backfill(writer).await?;
        Ok(store)
    }

    /// The store signing every entry it commits with `signer` (the coordinator's signing key).
    pub fn with_signer(mut self, signer: KeySigner) -> Store {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// The coordinator's signature of the entry `entry_hash` committed at `version`, when it
    /// has a signing key.
    fn sign_entry(&self, version: i64, entry_hash: &str) -> Result<Option<Signature>> {
        let Some(signer) = &self.signer else { return Ok(None) };
        let statement = sdgx_schemas::evidence::entry_statement(version, entry_hash)?;
        signer.sign(&statement).map(Some).map_err(|e| Error::Internal(format!("signing the log entry at store version {version}: {e}")))
    }

    /// Whether the log holds the entry `head` names at its store version: false once the
    /// store was rolled back past it (restored from an older copy, or its newest commits
    /// replaced).
    pub async fn holds(&self, head: &ChainHead) -> bool {
        let is = |v: i64, h: &str| v == head.store_version && h == head.entry_hash;
        self.log.read().await.iter().any(|e| is(e.store_version, &e.entry_hash))
            || self.decisions.read().await.iter().any(|d| is(d.store_version, &d.entry_hash))
    }

    /// How this process uses the store.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Refuses a write (a publication, a dry run, a decision) unless this process is the
    /// store's writer: a read-only replica says so, naming the store.
    pub fn writable(&self) -> Result<()> {
        let store = crate::storage::redact(&self.url);
        match self.access {
            Access::Writer => Ok(()),
            Access::Replica { .. } => Err(Error::ReadOnly(format!("this coordinator is a read-only replica of {store}; send it to the writer"))),
            Access::Reader => Err(Error::ReadOnly(format!("the store {store} is open read-only here; send it to the serving coordinator"))),
        }
    }

    /// A read-only replica's following of the writer so far (none for the writer).
    pub fn following(&self) -> Option<Following> {
        self.following.as_ref().map(|f| f.lock().expect("following lock").clone())
    }

    /// A read-only replica learns the commits the writer made since it opened or last
    /// refreshed: it reads the commit files after the versions it knows, oldest first, checks
    /// each against the log's chain, loads the table at the newest, and appends their
    /// publications, decisions, data files and commit times (readers see the new version with
    /// all of them, or none). Returns the new store version, or `None` when there is none: that
    /// costs one request (the next commit file is not there). A commit that does not verify
    /// stops the following for good: the commits before it are served, none after (restarted,
    /// the replica refuses the log, naming the commit).
    pub async fn refresh(&self) -> Result<Option<i64>> {
        let Some(following) = &self.following else {
            return Err(Error::Internal("only a read-only replica follows the store's writer".into()));
        };
        let _guard = self.commit_lock.lock().await;
        let result = self.follow(following).await;
        let mut f = following.lock().expect("following lock");
        match &result {
            Ok(_) => {
                f.checked_at = Some(chrono::Utc::now());
                f.error = None;
            }
            Err(e) => f.error = Some(e.to_string()),
        }
        result
    }

    /// One look for the writer's new commits (see [`Store::refresh`]).
    async fn follow(&self, following: &std::sync::Mutex<Following>) -> Result<Option<i64>> {
        let (mut verified, stopped) = {
            let f = following.lock().expect("following lock");
            (f.verified.clone(), f.stopped.clone())
        };
        if let Some(why) = stopped {
            return Err(Error::Integrity(why));
        }
        let known = self.commit_times.read().await.len() as i64;
        let mut new = Vec::new();
        let mut mismatch = None;
        loop {
            let version = known + new.len() as i64;
            let bytes = match self.object_store.get(&commit_path(version)).await {
                Ok(r) => r.bytes().await.map_err(|e| Error::Store(e.into()))?,
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(Error::Store(e.into())),
            };
            let commit = crate::audit::parse_commit(version, &bytes);
            if let Err(m) = verified.next(&commit) {
                mismatch = Some(m);
                break;
            }
            new.push(commit);
        }
        let newest = new.last().map(|c| c.version);
        if let Some(version) = newest {
            let mut table = self.table.read().await.clone();
            table.update_incremental(Some(version as u64)).await?;
            // Held while the rest is appended: a reader asking for the version meanwhile waits
            // and then finds its entries.
            let mut current = self.table.write().await;
            self.files.lock().expect("files lock").extend(added_files(&new));
            self.log.write().await.extend(entries(&new));
            self.decisions.write().await.extend(decisions(&new));
            {
                let mut times = self.commit_times.write().await;
                let mut last = times.last().copied().unwrap_or(0);
                for c in &new {
                    last = last.max(c.timestamp.unwrap_or(0));
                    times.push(last);
                }
            }
            *current = table;
            following.lock().expect("following lock").verified = verified;
        }
        if let Some(m) = mismatch {
            let why = format!("{m}; the store was changed outside the coordinator: this replica follows the writer no further (`sdgx-coordinator audit verify` reports it)");
            tracing::error!(store = %crate::storage::redact(&self.url), "{why}");
            following.lock().expect("following lock").stopped = Some(why.clone());
            return Err(Error::Integrity(why));
        }
        Ok(newest)
    }

    /// Gives every publication of the log whose entry names no facts (written before facts
    /// were stored) or facts of an older format ([`crate::facts::FORMAT`]) its facts, computed
    /// from its observations (the table at its commit's version). The serving coordinator
    /// writes them beside the table at [`crate::facts::backfill_paths`], the index (the two
    /// files' sizes and hashes) last, so this happens once per format; a read-only user keeps
    /// them in memory.
    async fn backfill(&self, writer: bool) -> Result<()> {
        let missing: Vec<PublicationEntry> = self.log.read().await.iter().filter(|e| !e.facts.as_ref().is_some_and(FactsRef::is_current)).cloned().collect();
        for e in missing {
            let [breakdowns, gaps, index] = crate::facts::backfill_paths(&e.publication_id);
            let index = deltalake::Path::from(index);
            match self.object_store.head(&index).await {
                Ok(_) => continue,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(Error::Store(err.into())),
            }
            let facts = self.compute_facts(&e).await?;
            if writer {
                let location = crate::storage::redact(&self.url).to_string();
                let r = put_facts(&self.object_store, [breakdowns, gaps], &facts, &location, &mut Vec::new()).await?;
                let json = serde_json::to_vec(&r).map_err(|err| Error::Internal(format!("facts index: {err}")))?;
                put(&self.object_store, index.as_ref(), json.into(), &location).await?;
                tracing::info!(publication = %e.publication_id, version = e.store_version, "facts backfilled from the observations");
            }
            self.facts.lock().expect("facts lock").insert(e.publication_id.clone(), Arc::new(facts));
        }
        Ok(())
    }

    /// The facts of `entry`'s publication, computed from its rows as the table holds them at
    /// its commit's version (streamed: memory does not grow with the publication).
    pub async fn compute_facts(&self, entry: &PublicationEntry) -> Result<Facts> {
        let ctx = SessionContext::new();
        let (provider, _) = self.provider(&ctx, Some(entry.store_version)).await?;
        use datafusion::prelude::{col, lit};
        let rows = ctx.read_table(provider)?.filter(
            col("agency").eq(lit(entry.agency.clone()))
                .and(col("dataset").eq(lit(entry.dataset.clone())))
                .and(col("publication_id").eq(lit(entry.publication_id.clone()))),
        )?;
        let mut stream = rows.execute_stream().await?;
        let mut builder = FactsBuilder::default();
        while let Some(batch) = stream.try_next().await? {
            builder.push(&batch)?;
        }
        builder.finish()
    }

    /// The facts of `entry`'s publication (see [`Store::stored_facts`]), kept in memory once
    /// read: facts never change.
    pub async fn facts(&self, entry: &PublicationEntry) -> Result<Arc<Facts>> {
        if let Some(f) = self.facts.lock().expect("facts lock").get(&entry.publication_id) {
            return Ok(f.clone());
        }
        let facts = Arc::new(self.stored_facts(entry).await?);
        self.facts.lock().expect("facts lock").insert(entry.publication_id.clone(), facts.clone());
        Ok(facts)
    }

    /// The facts of `entry`'s publication as storage holds them now: the files its entry names
    /// (or, for an entry written before facts were stored or naming facts of an older format,
    /// the backfilled ones), checked against their hashes.
    pub async fn stored_facts(&self, entry: &PublicationEntry) -> Result<Facts> {
        let named = match &entry.facts {
            Some(r) if r.is_current() => r.clone(),
            _ => {
                let [_, _, index] = crate::facts::backfill_paths(&entry.publication_id);
                let named: FactsRef = serde_json::from_slice(&self.read_object(&index).await?).map_err(|e| {
                    Error::Integrity(format!("the facts index of publication {} is not readable: {e}", entry.publication_id))
                })?;
                if !named.is_current() {
                    return Err(Error::Integrity(format!("the facts index {index} names facts of format {}", named.format)));
                }
                named
            }
        };
        Ok(Facts {
            breakdowns: crate::facts::decode(self.read_object(&named.breakdowns.path).await?, &named.breakdowns, &crate::facts::breakdown_schema())?,
            gaps: crate::facts::decode(self.read_object(&named.gaps.path).await?, &named.gaps, &crate::facts::gap_schema())?,
        })
    }

    /// For an entry naming facts of an older format (no longer read: see [`Store::stored_facts`]),
    /// that the files it names still hash as it records.
    pub async fn check_older_facts(&self, entry: &PublicationEntry) -> Result<()> {
        for f in entry.facts.iter().filter(|r| !r.is_current()).flat_map(|r| [&r.breakdowns, &r.gaps]) {
            let found = crate::facts::sha256(&self.read_object(&f.path).await?);
            if found != f.sha256 {
                return Err(Error::Integrity(format!("facts file {} hashes {found}, its log entry records {}", f.path, f.sha256)));
            }
        }
        Ok(())
    }

    /// The bytes of the object at `path` (relative to the table's root); a missing one is an
    /// integrity failure (only the log names these objects).
    async fn read_object(&self, path: &str) -> Result<bytes::Bytes> {
        let get = async { self.object_store.get(&deltalake::Path::from(path)).await?.bytes().await };
        get.await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::Integrity(format!("{path}, named by the publications log, is missing from the store")),
            other => Error::Store(other.into()),
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

    /// Starts staging a publication of `manifest`: its data file is created in the table's
    /// object store, outside the table until committed. Call from within the tokio runtime.
    pub fn stage(&self, manifest: &Manifest) -> Result<Staging> {
        self.staging(manifest, false)
    }

    /// A staging of `manifest`'s publication; a dry run's has no writer.
    fn staging(&self, manifest: &Manifest, dry: bool) -> Result<Staging> {
        self.writable()?;
        let id = uuid::Uuid::now_v7().to_string();
        let partition = indexmap::IndexMap::from([
            ("agency".to_owned(), Scalar::String(manifest.agency.clone())),
            ("dataset".to_owned(), Scalar::String(manifest.dataset.clone())),
        ]);
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let config = PartitionWriterConfig::try_new(file_schema(), partition, Some(props), None, None, None, None)?;
        let writer = if dry { None } else { Some(PartitionWriter::try_with_config(self.object_store.clone(), config, self.num_indexed_cols, None)?) };
        let location = format!(
            "{}/agency={}/dataset={}/",
            crate::storage::redact(&self.url).trim_end_matches('/'),
            manifest.agency,
            manifest.dataset
        );
        Ok(Staging {
            writer,
            facts: FactsBuilder::default(),
            uploaded: vec![],
            facts_paths: vec![],
            committed: false,
            dry,
            runtime: tokio::runtime::Handle::current(),
            store: self.object_store.clone(),
            location,
            agency: manifest.agency.clone(),
            dataset: manifest.dataset.clone(),
            publication_id: id,
        })
    }

    /// Starts a dry run of a publication of `manifest`: its rows are checked and their facts
    /// computed as [`Store::stage`]'s are, but nothing is written.
    pub fn stage_dry(&self, manifest: &Manifest) -> Result<Staging> {
        self.staging(manifest, true)
    }

    /// What committing the dry-run `staged` would do: whether it is a duplicate of the
    /// dataset's latest publication, and its facts. Nothing is written.
    pub async fn trial(&self, mut staged: Staging, manifest: &Manifest, summary: &ImportSummary) -> Result<Trial> {
        let duplicate = self
            .current(&manifest.agency, &manifest.dataset)
            .await
            .is_some_and(|c| c.content_hash == summary.content_hash && c.manifest == *manifest);
        let facts = Arc::new(std::mem::take(&mut staged.facts).finish()?);
        Ok(Trial { publication_id: staged.publication_id.clone(), duplicate, facts })
    }

    /// Keeps `facts` as publication `publication_id`'s while it is looked at (a dry run's,
    /// which no log entry names), until [`Store::release_facts`].
    pub fn hold_facts(&self, publication_id: &str, facts: Arc<Facts>) {
        self.facts.lock().expect("facts lock").insert(publication_id.to_owned(), facts);
    }

    /// Forgets the facts [`Store::hold_facts`] kept.
    pub fn release_facts(&self, publication_id: &str) {
        self.facts.lock().expect("facts lock").remove(publication_id);
    }

    /// Commits a staged, validated publication as one Delta commit: the staged file's `Add`
    /// and the `Remove`s of the previous version's files of the same (agency, dataset), with
    /// the log entry (which hashes those actions) in the commit's metadata. The same content
    /// under the same manifest is acknowledged as a duplicate without a commit; a changed
    /// manifest with the same rows is a new version.
    ///
    /// The commit runs to completion whatever becomes of the caller. A publication whose sender
    /// disconnects mid-commit has its request dropped (tonic cancels the handler), and a commit
    /// cancelled between writing its commit file and recording it would leave this writer
    /// behind its own store: its next commit would chain to a stale entry and miss a duplicate.
    /// `signature` is the agency's, verified by the caller against the certificate it carries;
    /// it is kept in the entry.
    pub async fn commit(self: &Arc<Self>, staged: Staging, manifest: Manifest, summary: ImportSummary, signature: Option<PublicationSignature>) -> Result<Committed> {
        let store = Arc::clone(self);
        let started = std::time::Instant::now();
        let committed = complete(tokio::spawn(async move { store.commit_now(staged, manifest, summary, signature).await })).await;
        self.commit_seconds.observe(started.elapsed().as_secs_f64());
        committed
    }

    /// The histogram of commit times (every [`Store::commit`], duplicates and failures included).
    pub fn commit_histogram(&self) -> &prometheus::Histogram {
        &self.commit_seconds
    }

    /// [`Store::commit`], in the caller's task.
    async fn commit_now(&self, mut staged: Staging, manifest: Manifest, summary: ImportSummary, signature: Option<PublicationSignature>) -> Result<Committed> {
        self.writable()?;
        let adds = staged.finish().await?;
        let _guard = self.commit_lock.lock().await;
        if let Some(current) = self.current(&manifest.agency, &manifest.dataset).await
            && current.content_hash == summary.content_hash
            && current.manifest == manifest {
                staged.discard().await;
                return Ok(Committed { entry: current, duplicate: true });
            }
        crate::crash_point::reach(crate::crash_point::Point::Staged);
        let (facts_ref, facts) = staged.write_facts().await?;
        crate::crash_point::reach(crate::crash_point::Point::FactsWritten);
        let table = self.table.read().await.clone();
        let previous_entry_hash = self.last_entry_hash().await;
        let snapshot = table.snapshot()?;
        let files = snapshot.log_data();
        let removes = files.iter().filter(|f| {
            let p = f.partition_values_map();
            p.get("agency").is_some_and(|v| v.as_deref() == Some(manifest.agency.as_str()))
                && p.get("dataset").is_some_and(|v| v.as_deref() == Some(manifest.dataset.as_str()))
        });
        let added: Vec<(String, u64)> = adds.iter().map(|a| (a.path.clone(), a.size as u64)).collect();
        let actions: Vec<Action> =
            adds.into_iter().map(Action::Add).chain(removes.map(|f| Action::Remove(f.remove_action(true)))).collect();
        let json: Vec<serde_json::Value> = actions.iter().map(serde_json::to_value).collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Store(e.into()))?;
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
            actions_hash: Some(crate::audit::actions_hash(&json)),
            facts: Some(facts_ref),
            agency_signature: signature,
            entry_hash: String::new(),
            coordinator_signature: None,
            manifest,
            summary,
        };
        entry.entry_hash = crate::audit::entry_hash(&entry);
        // Without retries the commit lands at the version after the snapshot's, or fails.
        let next = snapshot.version() as i64 + 1;
        entry.coordinator_signature = self.sign_entry(next, &entry.entry_hash)?;
        let metadata = serde_json::to_value(&entry).map_err(|e| Error::Store(e.into()))?;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: Some(PARTITIONS.map(str::to_owned).to_vec()),
            predicate: Some(format!("agency = '{}' AND dataset = '{}'", entry.agency, entry.dataset)),
        };
        // From here the file is kept whatever happens: a commit that fails ambiguously (its
        // answer lost after the commit file was written) may still list it, and deleting a
        // listed file would lose data; an unlisted one is only an orphan.
        staged.committed = true;
        // No retries: a conflict means another commit landed since `snapshot`, and this entry's
        // `previous_entry_hash` names the entry before it; rebased, it would break the chain.
        let version = CommitBuilder::default()
            .with_max_retries(0)
            .with_actions(actions)
            .with_app_metadata(HashMap::from([(LOG_KEY.to_owned(), metadata)]))
            .build(Some(snapshot), table.log_store(), operation)
            .await
            .map_err(|e| Error::or_no_space(e.into(), &format!("{}/_delta_log/", crate::storage::redact(&self.url).trim_end_matches('/'))))?
            .version as i64;
        entry.store_version = version;
        if version != next && entry.coordinator_signature.is_some() {
            tracing::error!(version, signed_for = next, "the commit landed at another version than the one its entry was signed for; the audit will name it");
        }
        crate::crash_point::reach(crate::crash_point::Point::Committed);
        // The commit is durable now: nothing below may fail the publication.
        let written = self.settle(table, version, &Head::of(&entry)).await;
        if let Some(w) = &written
            && crate::audit::actions_hash(&w.actions) != *entry.actions_hash.as_ref().expect("set above") {
                tracing::error!(version, "the commit's actions as written do not hash as the entry records; the audit will name it");
            }
        self.facts.lock().expect("facts lock").insert(entry.publication_id.clone(), facts);
        self.files.lock().expect("files lock").insert(entry.publication_id.clone(), added);
        self.log.write().await.push(entry.clone());
        Ok(Committed { entry, duplicate: false })
    }

    /// After the durable commit of `version` (made on `table`, whose newest entry is `head`):
    /// loads it into `table` and makes that the store's table, records the head and the
    /// commit's time. Nothing here may fail the commit: failures are logged. Returns the commit
    /// as written, when it can be read back.
    async fn settle(&self, mut table: DeltaTable, version: i64, head: &Head) -> Option<LogCommit> {
        let written = match self.object_store.get(&commit_path(version)).await {
            Ok(r) => r.bytes().await.ok().map(|b| crate::audit::parse_commit(version, &b)),
            Err(_) => None,
        };
        // Without a readable commit timestamp, the time now stands in (a few milliseconds later).
        let committed_at = written.as_ref().and_then(|w| w.timestamp).unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        if let Err(e) = table.update_incremental(Some(version as u64)).await {
            tracing::error!(version, error = %e, "could not load the new commit; reloading the table");
            let _ = table.load().await;
        }
        if let Err(e) = crate::audit::write_head(&self.head_path, head) {
            tracing::error!(path = %self.head_path.display(), error = %e, "could not record the log's head; it is recorded at the next commit or start");
        }
        *self.table.write().await = table;
        self.commit_times.write().await.push(committed_at);
        written
    }

    /// The `entry_hash` of the newest entry of the log (publication or decision), or the
    /// genesis hash.
    async fn last_entry_hash(&self) -> String {
        let log = self.log.read().await;
        let decisions = self.decisions.read().await;
        newest_head(&log, &decisions).map_or_else(|| crate::audit::GENESIS.to_owned(), |h| h.entry_hash)
    }

    /// Records `by`'s decision `action` on `publication_id` at `now`, as one commit (no data
    /// actions; the decision, chained into the log, in its metadata), once
    /// [`crate::signoff::check`] and the rules of the coordinator's own decisions
    /// ([`crate::signoff::Automatic`]) allow it.
    /// Like [`Store::commit`], it runs to completion whatever becomes of the caller.
    pub async fn decide(
        self: &Arc<Self>,
        publication_id: &str,
        action: DecisionAction,
        by: &str,
        request: &crate::signoff::Request,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Decision> {
        let (store, id, by, request) = (Arc::clone(self), publication_id.to_owned(), by.to_owned(), request.clone());
        complete(tokio::spawn(async move { store.decide_now(&id, action, &by, &request, now).await })).await
    }

    /// [`Store::decide`], in the caller's task.
    async fn decide_now(
        &self,
        publication_id: &str,
        action: DecisionAction,
        by: &str,
        request: &crate::signoff::Request,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Decision> {
        self.writable()?;
        let _guard = self.commit_lock.lock().await;
        let log = self.log.read().await.clone();
        let publication = log
            .iter()
            .find(|e| e.publication_id == publication_id)
            .ok_or_else(|| Error::NotFound(format!("no publication {publication_id:?} in the log")))?;
        let version = self.version().await;
        let decisions = self.decisions.read().await.clone();
        let status = crate::signoff::statuses(&log, &decisions, version)
            .remove(publication_id)
            .expect("every publication of the log has a status");
        let stamp = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        crate::signoff::Automatic::of(&decisions)
            .check(&publication.agency, action, by, request.release_at.as_deref(), &stamp(now))
            .map_err(Error::PermissionDenied)?;
        let release_at = crate::signoff::check(publication, &status, action, by, request, now)?;
        let mut decision = Decision {
            decision_id: uuid::Uuid::now_v7().to_string(),
            action,
            publication_id: publication_id.to_owned(),
            agency: publication.agency.clone(),
            dataset: publication.dataset.clone(),
            by: by.to_owned(),
            decided_at: stamp(now),
            release_at: release_at.map(stamp),
            reason: request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned),
            store_version: 0,
            previous_entry_hash: self.last_entry_hash().await,
            entry_hash: String::new(),
            coordinator_signature: None,
        };
        decision.entry_hash = crate::audit::decision_hash(&decision);
        let table = self.table.read().await.clone();
        let snapshot = table.snapshot()?;
        let next = snapshot.version() as i64 + 1;
        decision.coordinator_signature = self.sign_entry(next, &decision.entry_hash)?;
        let metadata = serde_json::to_value(&decision).map_err(|e| Error::Store(e.into()))?;
        // A commit without data actions: an append of nothing, carrying the decision.
        let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by: None, predicate: None };
        let version = CommitBuilder::default()
            .with_max_retries(0)
            .with_actions(vec![])
            .with_app_metadata(HashMap::from([(DECISION_KEY.to_owned(), metadata)]))
            .build(Some(snapshot), table.log_store(), operation)
            .await
            .map_err(|e| Error::or_no_space(e.into(), &format!("{}/_delta_log/", crate::storage::redact(&self.url).trim_end_matches('/'))))?
            .version as i64;
        decision.store_version = version;
        self.settle(table, version, &Head::of_decision(&decision)).await;
        self.decisions.write().await.push(decision.clone());
        tracing::info!(publication = %decision.publication_id, agency = %decision.agency, dataset = %decision.dataset,
            decision = decision.action.name(), by = %decision.by, version, "sign-off decision recorded");
        Ok(decision)
    }

    /// The sign-off decisions, oldest first.
    pub async fn decisions(&self) -> Vec<Decision> {
        self.decisions.read().await.clone()
    }

    /// The data files (path relative to the table's root, size in bytes) the commit of
    /// `publication_id` added; they stay in storage after later versions supersede them.
    pub fn publication_files(&self, publication_id: &str) -> Vec<(String, u64)> {
        self.files.lock().expect("files lock").get(publication_id).cloned().unwrap_or_default()
    }

    /// The table's object store and the URL DataFusion knows it by (registered by
    /// [`Store::register_object_store`]).
    pub async fn object_store_url(&self) -> datafusion::execution::object_store::ObjectStoreUrl {
        self.table.read().await.log_store().object_store_url()
    }

    /// Every commit of the Delta log, re-read from the commit files in storage, oldest first.
    pub async fn read_commits(&self) -> Result<Vec<LogCommit>> {
        read_commits(&unloaded(&self.url, &self.options)?.log_store()).await
    }

    /// The head of the log the serving coordinator last recorded (outside the store), if any.
    pub fn recorded_head(&self) -> Result<Option<Head>> {
        crate::audit::read_head(&self.head_path)
    }

    /// Where the head of the log is recorded.
    pub fn head_path(&self) -> &Path {
        &self.head_path
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

/// The commit time of every version, oldest first (a commit without a timestamp takes its
/// predecessor's, so the list stays ordered).
fn commit_times(commits: &[LogCommit]) -> Vec<i64> {
    let mut times: Vec<i64> = commits.iter().map(|c| c.timestamp.unwrap_or(0)).collect();
    for i in 1..times.len() {
        times[i] = times[i].max(times[i - 1]);
    }
    times
}

/// The head of the log whose newest entries are the last of `log` and of `decisions`.
fn newest_head(log: &[PublicationEntry], decisions: &[Decision]) -> Option<Head> {
    match (log.last(), decisions.last()) {
        (Some(e), Some(d)) if d.store_version > e.store_version => Some(Head::of_decision(d)),
        (Some(e), _) => Some(Head::of(e)),
        (None, Some(d)) => Some(Head::of_decision(d)),
        (None, None) => None,
    }
}

/// The sign-off decisions of `commits`, oldest first, with their store versions.
fn decisions(commits: &[LogCommit]) -> Vec<Decision> {
    readable(commits, |c| c.decision.as_ref(), |d, v| d.store_version = v)
}

/// What `pick` finds readable in each of `commits`, oldest first, given its commit's version
/// by `stamp` (the version is known only from the Delta log, never from the entry itself).
fn readable<T: Clone>(
    commits: &[LogCommit],
    pick: impl Fn(&LogCommit) -> Option<&std::result::Result<T, String>>,
    stamp: impl Fn(&mut T, i64),
) -> Vec<T> {
    commits
        .iter()
        .filter_map(|c| {
            let mut x = pick(c)?.as_ref().ok()?.clone();
            stamp(&mut x, c.version);
            Some(x)
        })
        .collect()
}

/// The data files each publication's commit added, by publication id.
fn added_files(commits: &[LogCommit]) -> HashMap<String, Vec<(String, u64)>> {
    commits
        .iter()
        .filter_map(|c| {
            let e = c.entry.as_ref()?.as_ref().ok()?;
            let adds = c.actions.iter().filter_map(|a| {
                let add = a.get("add")?;
                Some((add.get("path")?.as_str()?.to_owned(), add.get("size")?.as_u64()?))
            });
            Some((e.publication_id.clone(), adds.collect()))
        })
        .collect()
}

/// The publications-log entries of `commits`, oldest first, with their store versions.
fn entries(commits: &[LogCommit]) -> Vec<PublicationEntry> {
    readable(commits, |c| c.entry.as_ref(), |e, v| e.store_version = v)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array};
    use proptest::prelude::*;
    use sdgx_schemas::hash::ContentHasher;
    use sdgx_schemas::Validator;

    /// A batch in the contract's schema with each column made by `column`.
    pub(crate) fn contract_batch(column: impl Fn(&Field) -> ArrayRef) -> RecordBatch {
        let schema = sdgx_schemas::observation_schema();
        let columns: Vec<ArrayRef> = schema.fields().iter().map(|f| column(f)).collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// A batch of `rows` rows in the contract's schema (values need not be valid codes).
    fn wire(rows: usize, tag: &str) -> RecordBatch {
        contract_batch(|f| -> ArrayRef {
            match f.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("{tag}{}{i}", f.name())))),
                DataType::Float64 => Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64 + 0.5))),
                DataType::Int32 => Arc::new(Int32Array::from_iter_values((0..rows).map(|i| i as i32))),
                other => unreachable!("the contract has no {other} column"),
            }
        })
    }

    /// `batch` with its columns in the order `order` (indices into its schema).
    fn reordered(batch: &RecordBatch, order: &[usize]) -> RecordBatch {
        batch.project(order).unwrap()
    }

    fn content_hash(batch: &RecordBatch) -> String {
        let mut h = ContentHasher::default();
        h.push_batch(batch, 1).unwrap();
        h.finish().unwrap().content_hash
    }

    fn manifest(agency: &str, dataset: &str, title: &str) -> Manifest {
        Manifest::from_toml(&format!(
            "agency = {agency:?}\ndataset = {dataset:?}\ntitle = {title:?}\nindicators = [\"1.1.1\"]\nperiodicity = \"A\"\n[reference_period]\nstart = \"2020\"\nend = \"2024\"\n"
        ))
        .unwrap()
    }

    fn summary(m: &Manifest, batches: &[RecordBatch]) -> ImportSummary {
        let mut h = ContentHasher::default();
        let mut rows = 0u64;
        for b in batches {
            h.push_batch(b, rows + 1).unwrap();
            rows += b.num_rows() as u64;
        }
        ImportSummary {
            agency: m.agency.clone(),
            dataset: m.dataset.clone(),
            rows,
            periods: Default::default(),
            indicators: Default::default(),
            content_hash: h.finish().unwrap().content_hash,
            warnings: vec![],
        }
    }

    async fn publish(store: &Arc<Store>, m: &Manifest, batches: Vec<RecordBatch>) -> Result<Committed> {
        let (staging, s) = staged(store, m, batches).await?;
        store.commit(staging, m.clone(), s, None).await
    }

    /// `batches` staged as `m`'s publication, with their summary.
    async fn staged(store: &Store, m: &Manifest, batches: Vec<RecordBatch>) -> Result<(Staging, ImportSummary)> {
        let s = summary(m, &batches);
        let mut staging = store.stage(m)?;
        let staging = tokio::task::spawn_blocking(move || -> Result<Staging> {
            for b in &batches {
                staging.write(b)?;
            }
            Ok(staging)
        })
        .await
        .unwrap()?;
        Ok((staging, s))
    }

    /// A commit whose caller goes away halfway (a publication's sender disconnects and tonic
    /// drops its request; seen in the compose system test) still completes: sent again, the
    /// publication is a duplicate, and the next one chains to it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_whose_caller_goes_away_still_completes() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        let m = manifest("a", "d", "A");
        let (staging, s) = staged(&store, &m, vec![wire(3, "x")]).await.unwrap();
        let commit_file = dir.path().join("store").join(commit_path(1).as_ref());
        let mut commit = Box::pin(store.commit(staging, m.clone(), s, None));
        // Polled until its commit file is written, then dropped, as a request is.
        let mut cut = false;
        for _ in 0..100_000 {
            if let std::task::Poll::Ready(r) = futures::poll!(commit.as_mut()) {
                r.unwrap();
                break;
            }
            if commit_file.exists() {
                cut = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(commit);
        let again = publish(&store, &m, vec![wire(3, "x")]).await.unwrap();
        assert!(again.duplicate, "the first commit was recorded (dropped mid-commit: {cut})");
        assert_eq!(again.entry.store_version, 1);
        let next = publish(&store, &manifest("b", "d", "B"), vec![wire(2, "y")]).await.unwrap();
        assert_eq!(next.entry.store_version, 2);
        assert_eq!(next.entry.previous_entry_hash, again.entry.entry_hash, "chained to the commit its caller left");
        assert_eq!(store.publications().await.len(), 2);
    }

    async fn open(dir: &Path) -> Arc<Store> {
        let url = url::Url::from_directory_path(dir.join("store")).unwrap();
        Arc::new(Store::open(url, Default::default(), dir, true).await.unwrap())
    }

    /// The JSON actions of commit `version` of the store in `dir`.
    fn actions(dir: &Path, version: i64) -> Vec<serde_json::Value> {
        let text = std::fs::read(dir.join("store").join(commit_path(version).as_ref())).unwrap();
        crate::audit::parse_commit(version, &text).actions
    }

    fn data_files(dir: &Path, agency: &str, dataset: &str) -> Vec<PathBuf> {
        let d = dir.join(format!("store/agency={agency}/dataset={dataset}"));
        let mut v: Vec<PathBuf> = std::fs::read_dir(d).map(|r| r.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Whatever order the columns arrive in, the same rows are stored, and they hash the same.
        #[test]
        fn any_column_permutation_stores_the_same_rows(
            order in Just((0..sdgx_schemas::observation_schema().fields().len()).collect::<Vec<_>>()).prop_shuffle(),
            rows in 0usize..40,
        ) {
            let batch = wire(rows, "r");
            let expected = stored_batch(&batch, "a", "d", "p").unwrap();
            let permuted = reordered(&batch, &order);
            let stored = stored_batch(&permuted, "a", "d", "p").unwrap();
            prop_assert_eq!(&stored, &expected);
            prop_assert_eq!(stored.schema(), file_schema());
            prop_assert_eq!(content_hash(&stored), content_hash(&batch));
            prop_assert_eq!(content_hash(&permuted), content_hash(&batch));
        }
    }

    #[test]
    fn staging_refuses_exactly_the_schemas_the_validator_refuses() {
        let contract = sdgx_schemas::Contract::load(None, None).unwrap();
        let batch = wire(3, "x");
        let schema = batch.schema();
        let (sex, age) = (schema.index_of("sex").unwrap(), schema.index_of("age").unwrap());
        let mut swapped: Vec<usize> = (0..schema.fields().len()).collect();
        swapped.swap(sex, age);
        let without_sex: Vec<usize> = (0..schema.fields().len()).filter(|i| *i != sex).collect();
        let extra = {
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new("ssn", DataType::Utf8, true));
            let mut cols = batch.columns().to_vec();
            cols.push(Arc::new(StringArray::from(vec!["1", "2", "3"])));
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
        };
        let retyped = {
            // `unit_mult` (Int32) and a text column swap names: both exist, each of the wrong type.
            let mult = schema.index_of("unit_mult").unwrap();
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields[mult] = Field::new("sex", DataType::Int32, true);
            fields[sex] = Field::new("unit_mult", DataType::Utf8, true);
            RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec()).unwrap()
        };
        let cases = [
            ("contract order", batch.clone(), vec![]),
            ("sex and age swapped", reordered(&batch, &swapped), vec![]),
            ("sex missing", reordered(&batch, &without_sex), vec![(Rule::MissingColumn, "sex")]),
            ("an unknown column", extra, vec![(Rule::UnknownColumn, "ssn")]),
            ("columns of other types swapped", retyped, vec![(Rule::WrongType, "sex"), (Rule::WrongType, "unit_mult")]),
        ];
        for (what, b, expected) in cases {
            let mut validator = Validator::new(&contract, manifest("a", "d", "t"), Default::default());
            validator.push(&b);
            let schema_rules = [Rule::MissingColumn, Rule::UnknownColumn, Rule::WrongType];
            let mut by_validator: Vec<(Rule, String)> = match validator.finish().unwrap() {
                Ok(_) => vec![],
                Err(report) => report.errors.iter().filter(|p| schema_rules.contains(&p.rule)).map(|p| (p.rule, p.column.clone().unwrap_or_default())).collect(),
            };
            let mut by_staging: Vec<(Rule, String)> = match stored_batch(&b, "a", "d", "p") {
                Ok(_) => vec![],
                Err(Error::Rejected(report)) => report.errors.iter().map(|p| (p.rule, p.column.clone().unwrap_or_default())).collect(),
                Err(other) => panic!("{what}: staging failed with {other}, not the contract's error"),
            };
            by_validator.sort_by_key(|(r, c)| (r.to_string(), c.clone()));
            by_staging.sort_by_key(|(r, c)| (r.to_string(), c.clone()));
            let mut expected: Vec<(Rule, String)> = expected.into_iter().map(|(r, c)| (r, c.to_owned())).collect();
            expected.sort_by_key(|(r, c)| (r.to_string(), c.clone()));
            assert_eq!(by_staging, expected, "{what}: staging");
            assert_eq!(by_validator, expected, "{what}: validator");
        }
    }

    #[test]
    fn a_full_disk_under_the_parquet_writer_says_so() {
        let file = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let stored = stored_batch(&wire(1000, "f"), "a", "d", "p").unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, file_schema(), None).unwrap();
        let e = w.write(&stored).and_then(|()| w.close().map(drop)).expect_err("/dev/full is full");
        let e = Error::or_no_space(Error::Parquet(e), "/dev/full");
        assert_eq!(e.to_string(), "no space left on device writing /dev/full");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publication_is_its_staged_file_committed_with_its_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        let m = manifest("a", "d", "First title");
        let batch = wire(5, "v1");
        let schema = batch.schema();
        let mut order: Vec<usize> = (0..schema.fields().len()).collect();
        order.swap(schema.index_of("sex").unwrap(), schema.index_of("age").unwrap());
        let first = publish(&store, &m, vec![reordered(&batch, &order)]).await.unwrap();
        assert!(!first.duplicate);
        assert_eq!(first.entry.store_version, 1);

        // One Add: the staged file, in the partition's directory, with deltalake's statistics.
        let acts = actions(dir.path(), 1);
        assert_eq!(acts.len(), 1, "{acts:?}");
        let add = &acts[0]["add"];
        let path = add["path"].as_str().unwrap();
        assert!(path.starts_with("agency=a/dataset=d/part-"), "{path}");
        assert_eq!(add["partitionValues"], serde_json::json!({"agency": "a", "dataset": "d"}));
        let stats: serde_json::Value = serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
        assert_eq!(stats["numRecords"], 5);
        assert_eq!(stats["minValues"]["sex"], "v1sex0", "{stats}");
        assert_eq!(stats["nullCount"]["obs_value"], 0);
        let file = std::fs::File::open(dir.path().join("store").join(path)).unwrap();
        assert_eq!(add["size"].as_u64().unwrap(), file.metadata().unwrap().len());
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        assert_eq!(reader.schema().as_ref(), file_schema().as_ref(), "no partition columns in the file; the contract's by name");
        let stored: Vec<RecordBatch> = reader.build().unwrap().collect::<std::result::Result<_, _>>().unwrap();
        assert_eq!(stored[0].column_by_name("sex").unwrap(), batch.column_by_name("sex").unwrap(), "sex stored as sex");
        assert_eq!(stored[0].column_by_name("age").unwrap(), batch.column_by_name("age").unwrap());

        // The same rows under the same manifest: a duplicate, nothing committed, the upload gone.
        let again = publish(&store, &m, vec![batch.clone()]).await.unwrap();
        assert!(again.duplicate);
        assert_eq!((store.version().await, again.entry.publication_id.as_str()), (1, first.entry.publication_id.as_str()));
        assert_eq!(data_files(dir.path(), "a", "d").len(), 1, "the duplicate's file was deleted");

        // The same rows with a new title: a new version, new entry, same rows.
        let retitled = manifest("a", "d", "Second title");
        let second = publish(&store, &retitled, vec![batch.clone()]).await.unwrap();
        assert!(!second.duplicate, "a changed manifest is never dropped as a duplicate");
        assert_eq!((second.entry.store_version, second.entry.title.as_str()), (2, "Second title"));
        assert_eq!(second.entry.content_hash, first.entry.content_hash);
        assert_eq!(store.current("a", "d").await.unwrap().manifest, retitled);
        let acts = actions(dir.path(), 2);
        let kinds: Vec<&str> = acts.iter().map(|a| a.as_object().unwrap().keys().next().unwrap().as_str()).collect();
        assert_eq!(kinds, ["add", "remove"]);
        assert_eq!(acts[1]["remove"]["path"], path, "the previous version's file is removed");
        assert_ne!(acts[0]["add"]["path"], path);

        // Another dataset's commit leaves this one's file alone.
        publish(&store, &manifest("b", "d", "B"), vec![wire(2, "b")]).await.unwrap();
        let kinds: Vec<String> = actions(dir.path(), 3).iter().map(|a| a.as_object().unwrap().keys().next().unwrap().clone()).collect();
        assert_eq!(kinds, ["add"]);

        // The log replays, the head is recorded, and a restart reads the same log.
        let commits = store.read_commits().await.unwrap();
        assert_eq!(crate::audit::check_log(&commits, store.recorded_head().unwrap().as_ref()), Ok(3));
        assert_eq!(store.recorded_head().unwrap().unwrap().version, 3);
        let log = store.publications().await;
        drop(store);
        let reopened = open(dir.path()).await;
        assert_eq!(reopened.publications().await, log);
        assert_eq!(reopened.version().await, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn facts_of_an_older_format_are_recomputed_once_beside_the_files_the_entry_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        let first = publish(&store, &manifest("a", "d", "t"), vec![wire(3, "x")]).await.unwrap();
        let current = store.facts(&first.entry).await.unwrap();
        assert!(first.entry.facts.as_ref().unwrap().is_current());
        drop(store);

        // Commit 1 as a coordinator of facts format 1 wrote it: breakdown facts without
        // `ref_area`, the entry naming them without a format (its hash recomputed), no head.
        let root = dir.path().join("store");
        let commit = root.join(commit_path(1).as_ref());
        let mut lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&commit).unwrap().lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        let info = lines.iter_mut().find_map(|l| l.get_mut("commitInfo")).unwrap();
        let mut entry: PublicationEntry = serde_json::from_value(info[LOG_KEY].clone()).unwrap();
        let schema = current.breakdowns.schema();
        let without_area: Vec<usize> = (0..schema.fields().len()).filter(|i| schema.field(*i).name() != crate::facts::AREA).collect();
        let old = crate::facts::encode(&current.breakdowns.project(&without_area).unwrap()).unwrap();
        let named = entry.facts.as_mut().unwrap();
        std::fs::write(root.join(&named.breakdowns.path), &old).unwrap();
        named.breakdowns.size = old.len() as u64;
        named.breakdowns.sha256 = crate::facts::sha256(&old);
        named.format = 1;
        entry.entry_hash = crate::audit::entry_hash(&entry);
        info[LOG_KEY] = serde_json::to_value(&entry).unwrap();
        assert!(!info[LOG_KEY]["facts"].as_object().unwrap().contains_key("format"));
        std::fs::write(&commit, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
        std::fs::remove_file(dir.path().join("state/head.json")).unwrap();

        let store = open(dir.path()).await;
        let e = store.publications().await[0].clone();
        assert_eq!(e.facts.as_ref().unwrap().format, 1, "the entry is read as written");
        assert_eq!(*store.facts(&e).await.unwrap(), *current, "recomputed in the current format");
        assert_eq!(store.stored_facts(&e).await.unwrap(), *current, "and written beside the table");
        let [b, g, index] = crate::facts::backfill_paths(&e.publication_id);
        for p in [&b, &g, &index] {
            assert!(root.join(p).is_file(), "{p}");
        }
        assert_eq!(std::fs::read(root.join(&e.facts.as_ref().unwrap().breakdowns.path)).unwrap(), old, "the file the entry names is kept");
        store.check_older_facts(&e).await.unwrap();
        let written = std::fs::metadata(root.join(&index)).unwrap().modified().unwrap();
        drop(store);
        let store = open(dir.path()).await;
        assert_eq!(std::fs::metadata(root.join(&index)).unwrap().modified().unwrap(), written, "recomputed once");
        assert_eq!(*store.facts(&e).await.unwrap(), *current);
        std::fs::write(root.join(&e.facts.as_ref().unwrap().breakdowns.path), b"altered").unwrap();
        assert!(matches!(store.check_older_facts(&e).await, Err(Error::Integrity(_))), "the audit still checks the files the entry names");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_publication_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        let m = manifest("a", "d", "t");
        let batch = wire(3, "x");
        let mut staging = store.stage(&m).unwrap();
        let staging = tokio::task::spawn_blocking(move || {
            staging.write(&batch).unwrap();
            let missing = batch.project(&[0, 1]).unwrap();
            let e = staging.write(&missing).expect_err("columns missing");
            assert!(e.to_string().contains("column sex"), "{e}");
            staging
        })
        .await
        .unwrap();
        let mut staging = staging;
        let adds = staging.finish().await.unwrap();
        assert_eq!(adds.len(), 1);
        assert_eq!(data_files(dir.path(), "a", "d").len(), 1, "uploaded, not committed");
        // As after a crash before the commit: the file is there, the table does not list it.
        let ctx = SessionContext::new();
        let (provider, version) = store.provider(&ctx, None).await.unwrap();
        ctx.register_table("t", provider).unwrap();
        let n = ctx.sql("SELECT count(*) AS n FROM t").await.unwrap().collect().await.unwrap();
        assert_eq!((version, n[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0)), (0, 0));
        staging.discard().await;
        assert!(data_files(dir.path(), "a", "d").is_empty(), "the uncommitted file is deleted");
        assert_eq!(store.version().await, 0);
    }

    /// The rows of the table at `version` of `store`.
    async fn count(store: &Store, version: Option<i64>) -> (i64, i64) {
        let ctx = SessionContext::new();
        let (provider, v) = store.provider(&ctx, version).await.unwrap();
        ctx.register_table("t", provider).unwrap();
        let n = ctx.sql("SELECT count(*) AS n FROM t").await.unwrap().collect().await.unwrap();
        (v, n[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_follows_the_writers_commits_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path().join("store")).unwrap();
        let replica_dir = dir.path().join("replica");
        // Started before the writer has created the table, the replica waits for it.
        let waiting = tokio::spawn({
            let (url, d) = (url.clone(), replica_dir.clone());
            async move { Store::open_replica(url, Default::default(), &d, std::time::Duration::from_millis(10)).await }
        });
        tokio::task::yield_now().await;
        let writer = open(dir.path()).await;
        let replica = Arc::new(waiting.await.unwrap().unwrap());
        assert_eq!((replica.version().await, replica.refresh().await.unwrap()), (0, None), "nothing new yet");

        let first = publish(&writer, &manifest("a", "d", "A"), vec![wire(3, "x")]).await.unwrap().entry;
        publish(&writer, &manifest("b", "d", "B"), vec![wire(2, "y")]).await.unwrap();
        assert_eq!(replica.version().await, 0, "not followed until it refreshes");
        assert_eq!(replica.refresh().await.unwrap(), Some(2), "both commits at once");
        assert_eq!(replica.refresh().await.unwrap(), None);
        assert_eq!(replica.publications().await, writer.publications().await);
        assert_eq!(replica.publication_files(&first.publication_id), writer.publication_files(&first.publication_id));
        assert_eq!(replica.committed_at(2).await.unwrap(), writer.committed_at(2).await.unwrap());
        assert_eq!(count(&replica, None).await, (2, 3 + 2));
        assert_eq!(count(&replica, Some(1)).await, (1, 3), "time travel to a version it followed");
        let at = writer.committed_at(1).await.unwrap();
        assert_eq!(replica.version_at(at).await.unwrap(), 1);

        // A decision is a commit like another.
        let now = chrono::Utc::now();
        writer.decide(&first.publication_id, DecisionAction::Approve, "nso", &Default::default(), now).await.unwrap();
        assert_eq!(replica.refresh().await.unwrap(), Some(3));
        assert_eq!(replica.decisions().await, writer.decisions().await);
        let f = replica.following().unwrap();
        assert!(f.checked_at.is_some() && f.error.is_none() && f.stopped.is_none(), "{f:?}");
        assert!(writer.following().is_none());

        // It writes nothing: no publication, dry run or decision, and no head of its own.
        let refused = |e: Error| match e {
            Error::ReadOnly(m) => assert_eq!(m, format!("this coordinator is a read-only replica of {url}; send it to the writer")),
            other => panic!("not refused as read-only: {other}"),
        };
        refused(replica.stage(&manifest("a", "d", "A")).err().unwrap());
        refused(replica.stage_dry(&manifest("a", "d", "A")).err().unwrap());
        refused(replica.decide(&first.publication_id, DecisionAction::Unapprove, "nso", &Default::default(), now).await.unwrap_err());
        assert!(!replica_dir.join("state").exists());
        assert_eq!(writer.version().await, 3);

        // A commit that does not chain stops the following; the versions before it are served.
        let forged = dir.path().join("store").join(commit_path(4).as_ref());
        std::fs::write(&forged, "{\"commitInfo\":{\"timestamp\":1}}\n").unwrap();
        let e = replica.refresh().await.unwrap_err();
        assert!(matches!(&e, Error::Integrity(m) if m.contains("commit 4")), "{e}");
        assert!(matches!(replica.refresh().await, Err(Error::Integrity(_))), "it stays stopped");
        assert_eq!(replica.version().await, 3);
        assert!(replica.following().unwrap().stopped.is_some());
        // A replica started now refuses the log, naming the commit.
        let e = Store::open_replica(url, Default::default(), &replica_dir, std::time::Duration::from_millis(10)).await.err().unwrap();
        assert!(matches!(&e, Error::Integrity(m) if m.contains("commit 4")), "{e}");
    }
}
