//! The query catalog: a DataFusion session over one view of the store (official or
//! provisional, see [`crate::signoff`]) at a chosen version, with the framework, the
//! publications log and every figure view registered.
//!
//! In the provisional view `store.observations` is the Delta table at the version read; in the
//! official view it is the data files of the publications official then (each publication's
//! files stay in storage after later versions supersede it), read as Parquet.
//!
//! | table or view | what it holds |
//! | --- | --- |
//! | `observations` | the observations of the view read, at the version queried (current by default), with provenance columns `agency`, `dataset`, `publication_id` and `store_version` (the commit that brought the row) |
//! | `store.observations` | the same rows without `store_version`; the figure views read it |
//! | `agencies` | the agency registry: `agency, name, datasets` |
//! | `reporting_calendar` | the reports owed: `agency, dataset, period, period_end, due` (dates) |
//! | `calendar_receipts` | each report owed with its `deadline` (end of the due day, UTC), `first_received`, `received`, `on_time` |
//! | `publication_periods` | every period each publication up to the version read carried, superseded ones included: `publication_id, agency, dataset, period, received_at` (UTC timestamp) |
//! | `indicators` | the framework in force: `indicator, goal, target, title, series, migration_relevant, in_scope, national, expected_disaggregations, unit_measure, derived` (`derived`: the framework's headline indicator, which the coordinator derives from the headline figure, see [`crate::derived`]) |
//! | `areas` | the reference areas: `ref_area, label` of every CL_AREA code of the contract (and of every code the `areas` setting lists), `compared` for those it lists |
//! | `publications` | the publications of the view at that version: `publication_id, agency, dataset, title, content_hash, rows, received_at, store_version` |
//! | `store.breakdown_facts` | the breakdown facts of the publications current at that version (see [`crate::facts`]), with `agency, dataset, publication_id` |
//! | `store.gap_facts` | their gap facts, the same way |
//! | views | the [`Views`] handed to the catalog (the figures' views, see `crate::figures`) |

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{CatalogProvider, MemorySchemaProvider};
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use std::num::NonZeroUsize;
use datafusion::prelude::{SessionConfig, SessionContext};
use sdgx_schemas::Contract;

use crate::auth::AgencyEntry;
use crate::calendar::Due;
use crate::error::{Error, Result};
use crate::signoff::View;
use crate::store::{PublicationEntry, Store};

/// An optional window of reference years, both ends inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Window {
    /// First reference year counted.
    pub from: Option<i32>,
    /// Last reference year counted.
    pub to: Option<i32>,
}

impl Window {
    /// The SQL predicate keeping the rows whose reference year (`year`, a SQL expression) is in
    /// the window.
    pub fn predicate(&self, year: &str) -> String {
        match (self.from, self.to) {
            (None, None) => "TRUE".into(),
            (Some(f), None) => format!("{year} >= {f}"),
            (None, Some(t)) => format!("{year} <= {t}"),
            (Some(f), Some(t)) => format!("{year} BETWEEN {f} AND {t}"),
        }
    }
}

/// What views are computed with.
#[derive(Debug, Clone)]
pub struct ViewParams {
    /// The reference-year window.
    pub window: Window,
    /// The `ref_area` of the whole country.
    pub national_area: String,
    /// When the store version read was committed: the reference time of the calendar views.
    pub reference_time: chrono::DateTime<chrono::Utc>,
}

/// Registers views on a context holding the catalog's tables; handed to [`Catalog::new`] by
/// whoever defines them (the figures).
pub type Views = Arc<dyn Fn(SessionContext, ViewParams) -> futures::future::BoxFuture<'static, Result<()>> + Send + Sync>;

/// Which store state to read: a store version, or a point in time (RFC 3339), which reads the
/// newest commit at or before it. In JSON either a number or a string; in a URL query a string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AsOf {
    /// A store version.
    Version(i64),
    /// A version number or an RFC 3339 timestamp, as text.
    Text(String),
}

/// In the OpenAPI document: a store version (a non-negative integer, or its digits in a URL
/// query) or an RFC 3339 time, as [`Catalog::resolve_as_of`] parses them; never an empty string.
impl utoipa::PartialSchema for AsOf {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        let version = ObjectBuilder::new().schema_type(Type::Integer).format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))).minimum(Some(0));
        let digits = ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]+$"));
        let time = ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
        OneOfBuilder::new()
            .item(version)
            .item(AnyOfBuilder::new().item(digits).item(time))
            .description(Some("A store version (0 up to the current version), or an RFC 3339 time: the newest store version committed at or before it"))
            .into()
    }
}

impl utoipa::ToSchema for AsOf {}

impl std::str::FromStr for AsOf {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(AsOf::Text(s.to_owned()))
    }
}

/// What to read: a view of the store, at a store version or point in time (current when none).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Read {
    /// Official (the default) or provisional.
    #[serde(default)]
    pub view: View,
    /// A store version or an RFC 3339 timestamp; the current version when absent.
    #[serde(default)]
    pub as_of: Option<AsOf>,
}

impl Read {
    /// The current state of `view`.
    pub fn current(view: View) -> Read {
        Read { view, as_of: None }
    }

    /// `view` at store version `version`.
    pub fn at_version(view: View, version: i64) -> Read {
        Read { view, as_of: Some(AsOf::Version(version)) }
    }
}

/// A [`Read`] resolved: the view, the store version, the moment the official view is read at,
/// and the publications it holds.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The view.
    pub view: View,
    /// The store version.
    pub version: i64,
    /// The moment read: now for the current version, the time asked for with an RFC 3339
    /// `as_of`, and the commit's time with an older version number. The official view holds the
    /// publications released by then.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The publications of the view, oldest commit first.
    pub publications: Arc<Vec<PublicationEntry>>,
}

impl Pinned {
    /// The cache key of the catalog's tables: the version and view, and which publications
    /// the view holds (the official view changes when an embargo ends, without a commit).
    fn key(&self) -> (i64, View, u64) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for p in self.publications.iter() {
            p.publication_id.hash(&mut h);
        }
        (self.version, self.view, h.finish())
    }
}

/// The catalog name every table lives in (`sdgx.public.observations`).
pub const CATALOG: &str = "sdgx";

/// The coordinator's registers the catalog exposes beside the store.
#[derive(Debug, Clone, Default)]
pub struct Registers {
    /// The agency registry.
    pub agencies: Vec<AgencyEntry>,
    /// The reports owed (the expanded reporting calendar).
    pub calendar: Vec<Due>,
    /// The `ref_area` of the whole country.
    pub national_area: String,
    /// The agency of the coordinator's own derived dataset (`derived_agency`), when known: the
    /// full audit checks that the coordinator's automatic decisions are on its publications.
    pub derived_agency: Option<String>,
    /// The areas the per-area and cross-area figures compare (the `areas` setting).
    pub areas: Vec<String>,
    /// The language people read when they ask for none (the `language` setting).
    pub language: String,
    /// The maintenance agency of the national SDMX structures (the `sdmx_agency` setting).
    pub sdmx_agency: Option<String>,
    /// The CA certificate files the audit checks signers' certificates against
    /// (`security.audit_ca`, else `security.tls.client_ca`; read when the audit runs); empty:
    /// signatures are checked, certificates are not, and none is required.
    pub audit_ca: Vec<std::path::PathBuf>,
}

impl Registers {
    /// The registers of a coordinator config.
    pub fn from_config(config: &crate::Config) -> Result<Registers> {
        Ok(Registers {
            agencies: config.security.agencies.clone(),
            calendar: crate::calendar::expand(&config.calendar)?,
            national_area: config.national_area.clone(),
            derived_agency: Some(config.derived_agency.clone()),
            areas: config.areas.clone(),
            language: config.language.clone(),
            sdmx_agency: config.sdmx_agency.clone(),
            audit_ca: config.audit_trust(),
        })
    }
}

/// Builds query sessions over the store.
///
/// Registering the tables and planning the figure views of one store version takes a while
/// (about a hundred milliseconds), so the catalog of the last few (version, window) pairs is
/// kept and shared: each query still gets a session of its own, with its own memory pool.
pub struct Catalog {
    contract: Arc<Contract>,
    store: Arc<Store>,
    registers: Registers,
    /// The one memory pool every session draws from (`query_memory_limit` in all).
    pool: Arc<dyn MemoryPool>,
    views: Views,
    cache: std::sync::Mutex<Vec<(CacheKey, Slot)>>,
    clock: crate::clock::Clock,
}

/// ((store version, view, its publications), window of the figure views, or none for the
/// tables only).
type CacheKey = ((i64, View, u64), Option<Window>);

/// A cached catalog, built by the first to ask.
type Slot = Arc<tokio::sync::OnceCell<Arc<Built>>>;

/// The tables and views of one store version, ready to mount in a session.
struct Built {
    catalog: Arc<dyn CatalogProvider>,
    publications: Vec<PublicationEntry>,
    memo: Memo,
}

/// Results derived from one (version, window) catalog, by name: each computed once however
/// many ask at the same time.
type Memo = std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::OnceCell<Arc<dyn std::any::Any + Send + Sync>>>>>;

/// How many (version, window) catalogs are kept.
const CACHED: usize = 8;

/// A session ready to query, and the store version it reads.
pub struct Session {
    /// The DataFusion context with every table and view registered.
    pub ctx: SessionContext,
    /// The view it reads.
    pub view: View,
    /// The store version `observations` reads.
    pub store_version: i64,
    /// The publications of the view at that version.
    pub publications: Vec<PublicationEntry>,
    /// When that version was committed.
    pub committed_at: chrono::DateTime<chrono::Utc>,
}

impl Catalog {
    /// A catalog over `store` with the framework of `contract`, registering `views` on every
    /// session with a window.
    pub fn new(contract: Arc<Contract>, store: Arc<Store>, registers: Registers, memory_limit: usize, views: Views) -> Self {
        // The five largest consumers are named when the pool is exhausted.
        let pool = TrackConsumersPool::new(GreedyMemoryPool::new(memory_limit), NonZeroUsize::new(5).expect("5 is not 0"));
        Catalog { contract, store, registers, pool: Arc::new(pool), views, cache: std::sync::Mutex::new(Vec::new()), clock: Default::default() }
    }

    /// The catalog reading the official view at `clock`'s time (the system clock by default).
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Catalog { clock, ..self }
    }

    /// The clock the official view is read at.
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }

    /// The registers exposed beside the store.
    pub fn registers(&self) -> &Registers {
        &self.registers
    }

    /// The store version an `as_of` names: a version number, or an RFC 3339 timestamp (the
    /// newest commit at or before it).
    pub async fn resolve_as_of(&self, as_of: &str) -> Result<i64> {
        let text = as_of.trim();
        if let Ok(v) = text.parse::<i64>() {
            let current = self.store.version().await;
            if !(0..=current).contains(&v) {
                return Err(Error::NotFound(format!("store version {v} does not exist (current is {current})")));
            }
            return Ok(v);
        }
        let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
            Error::BadRequest(format!("as_of {text:?} is neither a store version nor an RFC 3339 timestamp: {e}"))
        })?;
        self.store.version_at(at.with_timezone(&chrono::Utc)).await
    }

    /// The contract in force.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The contract in force, shared.
    pub fn shared_contract(&self) -> Arc<Contract> {
        self.contract.clone()
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Resolves `read`: its store version, the moment it reads, and the publications of its
    /// view then.
    pub async fn pin(&self, read: &Read) -> Result<Pinned> {
        let current = self.store.version().await;
        let (version, at) = match &read.as_of {
            None => (current, self.clock.now()?),
            Some(as_of) => {
                let text = match as_of {
                    AsOf::Version(v) => v.to_string(),
                    AsOf::Text(t) => t.trim().to_owned(),
                };
                let version = self.resolve_as_of(&text).await?;
                let at = match chrono::DateTime::parse_from_rfc3339(&text) {
                    Ok(t) => t.with_timezone(&chrono::Utc),
                    Err(_) if version == current => self.clock.now()?,
                    Err(_) => self.store.committed_at(version).await?,
                };
                (version, at)
            }
        };
        self.pin_exact(read.view, version, at).await
    }

    /// `view` at store version `version` (which must exist) and moment `at`, which is never
    /// later than now (a client-held statement handle cannot read an embargo early).
    pub async fn pin_exact(&self, view: View, version: i64, at: chrono::DateTime<chrono::Utc>) -> Result<Pinned> {
        let version = self.resolve_as_of(&version.to_string()).await?;
        let at = at.min(self.clock.now()?);
        let log = self.store.publications().await;
        let publications = match view {
            View::Provisional => crate::signoff::provisional(&log, version),
            View::Official => crate::signoff::official(&log, &self.store.decisions().await, version, at),
        };
        Ok(Pinned { view, version, at, publications: Arc::new(publications) })
    }

    /// A session over `pinned`, with figure views computed over `window`.
    pub async fn session(&self, pinned: &Pinned, window: Window) -> Result<Session> {
        self.mount(pinned, Some(window)).await
    }

    /// A session with the tables only, no figure views (for reading data, not figures).
    pub async fn tables(&self, pinned: &Pinned) -> Result<Session> {
        self.mount(pinned, None).await
    }

    /// A fresh session (its own memory pool) with the catalog of `pinned` mounted.
    async fn mount(&self, pinned: &Pinned, window: Option<Window>) -> Result<Session> {
        let built = self.built(pinned, window).await?;
        self.session_of(pinned, built).await
    }

    /// The tables and views of (`pinned`, `window`): built once, however many ask at the same
    /// time, and kept for the last [`CACHED`] pairs asked for.
    async fn built(&self, pinned: &Pinned, window: Option<Window>) -> Result<Arc<Built>> {
        let key = (pinned.key(), window);
        let cell = {
            let mut cache = self.cache.lock().expect("cache lock");
            let cell = match cache.iter().position(|(k, _)| *k == key) {
                Some(i) => cache.remove(i).1,
                None => Arc::new(tokio::sync::OnceCell::new()),
            };
            if cache.len() >= CACHED {
                cache.remove(0);
            }
            cache.push((key, cell.clone()));
            cell
        };
        cell.get_or_try_init(|| async { self.build(pinned, window).await.map(Arc::new) }).await.cloned()
    }

    async fn session_of(&self, pinned: &Pinned, built: Arc<Built>) -> Result<Session> {
        let ctx = self.context()?;
        ctx.register_catalog(CATALOG, built.catalog.clone());
        self.store.register_object_store(&ctx).await?;
        let committed_at = self.store.committed_at(pinned.version).await?;
        Ok(Session { ctx, view: pinned.view, store_version: pinned.version, publications: built.publications.clone(), committed_at })
    }

    /// The result named `key` over `pinned` with views over `window`: computed by `compute`
    /// in a fresh session the first time, then shared (a view's state never changes) without
    /// a session. Concurrent callers wait for the one computation; a failed one is not kept.
    pub async fn memo<T, F, Fut>(&self, pinned: &Pinned, window: Window, key: &str, compute: F) -> Result<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce(Session) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let built = self.built(pinned, Some(window)).await?;
        let cell = built.memo.lock().expect("memo lock").entry(key.to_owned()).or_default().clone();
        let value = cell
            .get_or_try_init(|| async {
                let session = self.session_of(pinned, built.clone()).await?;
                compute(session).await.map(|v| Arc::new(v) as Arc<dyn std::any::Any + Send + Sync>)
            })
            .await?;
        value.clone().downcast::<T>().map_err(|_| Error::Internal(format!("memo {key:?} holds another type")))
    }

    /// A session drawing from the catalog's one memory pool (so queries, figures and exports
    /// together stay under `query_memory_limit`), whose joins yield to tokio's
    /// scheduler (so a query stopped at its time limit stops; see
    /// [`crate::query_pool::YieldingJoins`]).
    fn context(&self) -> Result<SessionContext> {
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(self.pool.clone()).build_arc()?;
        let config = SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema(CATALOG, "public");
        let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
        rules.push(Arc::new(crate::query_pool::YieldingJoins));
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        Ok(SessionContext::new_with_state(state))
    }

    /// Registers the tables of `pinned` and, with a window, the figure views.
    async fn build(&self, pinned: &Pinned, window: Option<Window>) -> Result<Built> {
        let ctx = self.context()?;
        let store_version = pinned.version;
        ctx.catalog(CATALOG)
            .ok_or_else(|| Error::Internal("the default catalog is missing".into()))?
            .register_schema("store", Arc::new(MemorySchemaProvider::new()))?;
        let publications = pinned.publications.as_ref().clone();
        match pinned.view {
            View::Provisional => {
                let (observations, _) = self.store.provider(&ctx, Some(store_version)).await?;
                ctx.register_table("store.observations", observations)?;
            }
            View::Official => {
                let observations = self.rows_of(&ctx, &publications).await?;
                ctx.register_table("store.observations", observations.into_view())?;
            }
        }
        ctx.register_table("indicators", Arc::new(indicators_table(&self.contract)?))?;
        ctx.register_table("publications", Arc::new(publications_table(&publications)?))?;
        let mut facts = Vec::with_capacity(publications.len());
        for e in &publications {
            facts.push((e, self.store.facts(e).await?));
        }
        ctx.register_table("store.breakdown_facts", Arc::new(facts_table(&facts, |f| &f.breakdowns, crate::facts::breakdown_schema())?))?;
        ctx.register_table("store.gap_facts", Arc::new(facts_table(&facts, |f| &f.gaps, crate::facts::gap_schema())?))?;
        ctx.register_table("agencies", Arc::new(agencies_table(&self.registers.agencies)?))?;
        ctx.register_table("areas", Arc::new(areas_table(&self.contract, &self.registers.areas)?))?;
        ctx.register_table("reporting_calendar", Arc::new(calendar_table(&self.registers.calendar)?))?;
        let log = self.store.publications().await;
        ctx.register_table("publication_periods", Arc::new(periods_table(log.iter().filter(|e| e.store_version <= store_version))?))?;
        for view in [
            "CREATE VIEW observations AS SELECT o.*, p.store_version
             FROM store.observations o JOIN publications p ON p.publication_id = o.publication_id",
            // Each report owed, its deadline (the end of its due day) and its first receipt:
            // the one definition of received and on time.
            "CREATE VIEW calendar_receipts AS
             SELECT c.agency, c.dataset, c.period, c.period_end, c.due,
                    CAST(c.due AS TIMESTAMP) + INTERVAL '1 day' AS deadline,
                    r.first_received, r.first_received IS NOT NULL AS received,
                    COALESCE(r.first_received < CAST(c.due AS TIMESTAMP) + INTERVAL '1 day', false) AS on_time
             FROM reporting_calendar c
             LEFT JOIN (SELECT agency, dataset, period, MIN(received_at) AS first_received
                        FROM publication_periods GROUP BY agency, dataset, period) r
               ON r.agency = c.agency AND r.dataset = c.dataset AND r.period = c.period",
        ] {
            ctx.sql(view).await?.collect().await?;
        }
        if let Some(window) = window {
            let reference_time = self.store.committed_at(store_version).await?;
            let params = ViewParams { window, national_area: self.registers.national_area.clone(), reference_time };
            (self.views)(ctx.clone(), params).await?;
        }
        let catalog = ctx.catalog(CATALOG).ok_or_else(|| Error::Internal("the default catalog is missing".into()))?;
        Ok(Built { catalog, publications, memo: Default::default() })
    }
}

impl Catalog {
    /// A fresh session drawing from the catalog's memory pool, with nothing registered.
    pub fn scratch(&self) -> Result<SessionContext> {
        self.context()
    }

    /// The rows of `publications`, read from their data files (in the table's schema: the
    /// partition columns from the log entry, not from the files' paths).
    pub async fn rows_of(&self, ctx: &SessionContext, publications: &[PublicationEntry]) -> Result<datafusion::dataframe::DataFrame> {
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
        use datafusion::prelude::{col, lit};
        self.store.register_object_store(ctx).await?;
        let root = {
            let mut u = self.store.url().clone();
            if !u.path().ends_with('/') {
                u.set_path(&format!("{}/", u.path()));
            }
            u
        };
        let mut union: Option<datafusion::dataframe::DataFrame> = None;
        for e in publications {
            let urls = self
                .store
                .publication_files(&e.publication_id)
                .into_iter()
                .map(|(path, _)| {
                    let url = root.join(&path).map_err(|err| Error::Internal(format!("data file {path}: {err}")))?;
                    Ok(ListingTableUrl::parse(url.as_str())?)
                })
                .collect::<Result<Vec<_>>>()?;
            if urls.is_empty() {
                continue;
            }
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()));
            let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(crate::store::file_schema());
            let files = ctx.read_table(Arc::new(ListingTable::try_new(config)?))?;
            let columns = crate::store::table_schema()
                .fields()
                .iter()
                .map(|f| match f.name().as_str() {
                    "agency" => lit(e.agency.clone()).alias("agency"),
                    "dataset" => lit(e.dataset.clone()).alias("dataset"),
                    name => col(name),
                })
                .collect::<Vec<_>>();
            let rows = files.select(columns)?;
            union = Some(match union {
                None => rows,
                Some(u) => u.union(rows)?,
            });
        }
        match union {
            Some(u) => Ok(u),
            None => Ok(ctx.read_table(Arc::new(MemTable::try_new(crate::store::table_schema(), vec![vec![]])?))?),
        }
    }
}

/// One facts table of `facts` (the part `part` picks), each publication's rows preceded by its
/// `agency, dataset, publication_id`.
fn facts_table(
    facts: &[(&PublicationEntry, Arc<crate::facts::Facts>)],
    part: fn(&crate::facts::Facts) -> &RecordBatch,
    inner: SchemaRef,
) -> Result<MemTable> {
    let mut fields: Vec<Field> = ["agency", "dataset", "publication_id"].map(|n| Field::new(n, DataType::Utf8, false)).to_vec();
    fields.extend(inner.fields().iter().map(|f| f.as_ref().clone()));
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::with_capacity(facts.len());
    for (e, f) in facts {
        let b = part(f);
        let n = b.num_rows();
        let mut columns: Vec<ArrayRef> = [&e.agency, &e.dataset, &e.publication_id]
            .map(|v| Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v.as_str(), n))) as ArrayRef)
            .to_vec();
        columns.extend(b.columns().iter().cloned());
        batches.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok(MemTable::try_new(schema, vec![batches])?)
}

/// A one-batch in-memory table of `fields` and `columns`.
fn mem_table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}

fn indicators_table(contract: &Contract) -> Result<MemTable> {
    let inds = contract.framework.indicators();
    let headline = contract.framework.headline_indicator().map(|i| i.code.as_str());
    let text = |f: &dyn Fn(&sdgx_schemas::Indicator) -> Option<String>| -> ArrayRef {
        Arc::new(inds.iter().map(f).collect::<StringArray>())
    };
    let flag = |f: &dyn Fn(&sdgx_schemas::Indicator) -> bool| -> ArrayRef {
        Arc::new(inds.iter().map(|i| Some(f(i))).collect::<BooleanArray>())
    };
    mem_table(
        vec![
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
            Field::new("derived", DataType::Boolean, false),
        ],
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
            flag(&|i| Some(i.code.as_str()) == headline),
        ],
    )
}

fn agencies_table(agencies: &[AgencyEntry]) -> Result<MemTable> {
    mem_table(
        vec![
            Field::new("agency", DataType::Utf8, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("datasets", DataType::Utf8, false),
        ],
        vec![
            Arc::new(agencies.iter().map(|a| Some(a.id.as_str())).collect::<StringArray>()),
            Arc::new(agencies.iter().map(|a| Some(a.name.as_str())).collect::<StringArray>()),
            Arc::new(agencies.iter().map(|a| Some(a.datasets.join(";"))).collect::<StringArray>()),
        ],
    )
}

/// Every CL_AREA code with its label, and the codes `compared` lists (labelled by their code
/// when the codelist lacks them), with `compared` set for those.
fn areas_table(contract: &Contract, compared: &[String]) -> Result<MemTable> {
    let codelist = contract.codelists.get("CL_AREA");
    let mut rows: Vec<(&str, &str)> = codelist.map(|c| c.codes().map(|code| (code, c.name(code).unwrap_or(code))).collect()).unwrap_or_default();
    rows.extend(compared.iter().filter(|a| !codelist.is_some_and(|c| c.contains(a))).map(|a| (a.as_str(), a.as_str())));
    mem_table(
        vec![Field::new("ref_area", DataType::Utf8, false), Field::new("label", DataType::Utf8, false), Field::new("compared", DataType::Boolean, false)],
        vec![
            Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| Some(r.1)).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| Some(compared.iter().any(|a| a == r.0))).collect::<BooleanArray>()),
        ],
    )
}

fn calendar_table(dues: &[Due]) -> Result<MemTable> {
    let days = |d: &chrono::NaiveDate| (*d - chrono::NaiveDate::default()).num_days() as i32;
    mem_table(
        vec![
            Field::new("agency", DataType::Utf8, false),
            Field::new("dataset", DataType::Utf8, false),
            Field::new("period", DataType::Utf8, false),
            Field::new("period_end", DataType::Date32, false),
            Field::new("due", DataType::Date32, false),
        ],
        vec![
            Arc::new(dues.iter().map(|d| Some(d.agency.as_str())).collect::<StringArray>()),
            Arc::new(dues.iter().map(|d| Some(d.dataset.as_str())).collect::<StringArray>()),
            Arc::new(dues.iter().map(|d| Some(d.period.as_str())).collect::<StringArray>()),
            Arc::new(dues.iter().map(|d| Some(days(&d.period_end))).collect::<Date32Array>()),
            Arc::new(dues.iter().map(|d| Some(days(&d.due))).collect::<Date32Array>()),
        ],
    )
}

fn periods_table<'a>(log: impl Iterator<Item = &'a PublicationEntry>) -> Result<MemTable> {
    let rows: Vec<(&PublicationEntry, &String)> = log.flat_map(|e| e.summary.periods.iter().map(move |p| (e, p))).collect();
    let received = |e: &PublicationEntry| {
        chrono::DateTime::parse_from_rfc3339(&e.received_at).map(|t| t.timestamp_millis()).map_err(|err| {
            Error::Internal(format!("publication {}: received_at {:?}: {err}", e.publication_id, e.received_at))
        })
    };
    mem_table(
        vec![
            Field::new("publication_id", DataType::Utf8, false),
            Field::new("agency", DataType::Utf8, false),
            Field::new("dataset", DataType::Utf8, false),
            Field::new("period", DataType::Utf8, false),
            Field::new("received_at", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        ],
        vec![
            Arc::new(rows.iter().map(|(e, _)| Some(e.publication_id.as_str())).collect::<StringArray>()),
            Arc::new(rows.iter().map(|(e, _)| Some(e.agency.as_str())).collect::<StringArray>()),
            Arc::new(rows.iter().map(|(e, _)| Some(e.dataset.as_str())).collect::<StringArray>()),
            Arc::new(rows.iter().map(|(_, p)| Some(p.as_str())).collect::<StringArray>()),
            Arc::new(TimestampMillisecondArray::from(rows.iter().map(|(e, _)| received(e)).collect::<Result<Vec<_>>>()?)),
        ],
    )
}

fn publications_table(log: &[PublicationEntry]) -> Result<MemTable> {
    let text = |f: &dyn Fn(&PublicationEntry) -> &str| -> ArrayRef {
        Arc::new(log.iter().map(|e| Some(f(e))).collect::<StringArray>())
    };
    mem_table(
        vec![
            Field::new("publication_id", DataType::Utf8, false),
            Field::new("agency", DataType::Utf8, false),
            Field::new("dataset", DataType::Utf8, false),
            Field::new("title", DataType::Utf8, false),
            Field::new("content_hash", DataType::Utf8, false),
            Field::new("rows", DataType::UInt64, false),
            Field::new("received_at", DataType::Utf8, false),
            Field::new("store_version", DataType::Int64, false),
        ],
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
    )
}
