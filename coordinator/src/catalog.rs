//! The query catalog: a DataFusion session over the store at a chosen version, with the
//! framework, the publications log and every figure view registered.
//!
//! | table or view | what it holds |
//! | --- | --- |
//! | `observations` | the store's observations at the version queried (current by default), with provenance columns `agency`, `dataset`, `publication_id` |
//! | `indicators` | the framework in force: `indicator, goal, target, title, series, migration_relevant, in_scope, national, expected_disaggregations, unit_measure` |
//! | `publications` | the publications current at that version: `publication_id, agency, dataset, title, content_hash, rows, received_at, store_version` |
//! | figure views | see [`crate::figures`] |

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use sdgx_schemas::Contract;

use crate::error::Result;
use crate::figures::{self, Window};
use crate::store::{PublicationEntry, Store};

/// Builds query sessions over the store.
pub struct Catalog {
    contract: Arc<Contract>,
    store: Arc<Store>,
    memory_limit: usize,
}

/// A session ready to query, and the store version it reads.
pub struct Session {
    /// The DataFusion context with every table and view registered.
    pub ctx: SessionContext,
    /// The store version `observations` reads.
    pub store_version: i64,
    /// The publications current at that version.
    pub publications: Vec<PublicationEntry>,
}

impl Catalog {
    /// A catalog over `store` with the framework of `contract`.
    pub fn new(contract: Arc<Contract>, store: Arc<Store>, memory_limit: usize) -> Self {
        Catalog { contract, store, memory_limit }
    }

    /// The contract in force.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// A session over the store at `as_of` (current when `None`), with figure views computed
    /// over `window`.
    pub async fn session(&self, as_of: Option<i64>, window: Window) -> Result<Session> {
        let session = self.tables(as_of).await?;
        figures::register_views(&session.ctx, window).await?;
        Ok(session)
    }

    /// A session with the tables only, no figure views (for reading data, not figures).
    pub async fn tables(&self, as_of: Option<i64>) -> Result<Session> {
        let runtime = RuntimeEnvBuilder::new().with_memory_limit(self.memory_limit, 1.0).build_arc()?;
        let config = SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema("sdgx", "public");
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let (observations, store_version) = self.store.provider(&ctx, as_of).await?;
        ctx.register_table("observations", observations)?;
        ctx.register_table("indicators", Arc::new(indicators_table(&self.contract)?))?;
        let publications = current_publications(self.store.publications().await, store_version);
        ctx.register_table("publications", Arc::new(publications_table(&publications)?))?;
        Ok(Session { ctx, store_version, publications })
    }
}

/// The publications whose rows are in the store at `version`: the latest entry of each
/// (agency, dataset) committed at or before it.
pub fn current_publications(log: Vec<PublicationEntry>, version: i64) -> Vec<PublicationEntry> {
    let mut current: Vec<PublicationEntry> = Vec::new();
    for e in log.into_iter().filter(|e| e.store_version <= version) {
        current.retain(|c| !(c.agency == e.agency && c.dataset == e.dataset));
        current.push(e);
    }
    current
}

fn indicators_table(contract: &Contract) -> Result<MemTable> {
    let inds = contract.framework.indicators();
    let text = |f: &dyn Fn(&sdgx_schemas::Indicator) -> Option<String>| -> ArrayRef {
        Arc::new(inds.iter().map(f).collect::<StringArray>())
    };
    let flag = |f: &dyn Fn(&sdgx_schemas::Indicator) -> bool| -> ArrayRef {
        Arc::new(inds.iter().map(|i| Some(f(i))).collect::<BooleanArray>())
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("indicator", DataType::Utf8, false),
        Field::new("goal", DataType::Int32, false),
        Field::new("target", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("series", DataType::Utf8, false),
        Field::new("migration_relevant", DataType::Boolean, false),
        Field::new("in_scope", DataType::Boolean, false),
        Field::new("national", DataType::Boolean, false),
        Field::new("expected_disaggregations", DataType::Utf8, false),
        Field::new("unit_measure", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text(&|i| Some(i.code.clone())),
            Arc::new(inds.iter().map(|i| i32::from(i.goal)).collect::<Int32Array>()),
            text(&|i| Some(i.target.clone())),
            text(&|i| Some(i.title.clone())),
            text(&|i| Some(i.series.join(";"))),
            flag(&|i| i.migration_relevant),
            flag(&|i| i.in_scope),
            flag(&|i| i.national),
            text(&|i| Some(i.expected_disaggregations.join(";"))),
            text(&|i| i.unit_measure.clone()),
        ],
    )?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}

fn publications_table(log: &[PublicationEntry]) -> Result<MemTable> {
    let text = |f: &dyn Fn(&PublicationEntry) -> &str| -> ArrayRef {
        Arc::new(log.iter().map(|e| Some(f(e))).collect::<StringArray>())
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("publication_id", DataType::Utf8, false),
        Field::new("agency", DataType::Utf8, false),
        Field::new("dataset", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("content_hash", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("received_at", DataType::Utf8, false),
        Field::new("store_version", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text(&|e| &e.publication_id),
            text(&|e| &e.agency),
            text(&|e| &e.dataset),
            text(&|e| &e.title),
            text(&|e| &e.content_hash),
            Arc::new(log.iter().map(|e| e.rows).collect::<UInt64Array>()),
            text(&|e| &e.received_at),
            Arc::new(log.iter().map(|e| e.store_version).collect::<Int64Array>()),
        ],
    )?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}
