//! Publishing upstream: a coordinator that is itself an agency of another (a province of its
//! nation, a nation of its region). On every change of its **official** view (an approval, an
//! un-approval, an embargo ending: see [`crate::release`]), the datasets that go up are relayed
//! to the upstream coordinator, through the agent library's durable outbox and delivery (the
//! same code an agency's agent runs: exactly-once across outages on either side).
//!
//! What one relayed publication is, for an official publication `P` of dataset `d` of agency
//! `a` here:
//! - agency: this coordinator's agency id upstream (`upstream.agency`; its certificate, issued
//!   by the upstream's CA, names it); dataset: `<a>--<d>` (see [`upstream_dataset`]);
//! - rows: `P`'s observations whose indicator is in the upstream's framework in force (fetched
//!   from the upstream and cached, like an agent's); rows of other indicators, national proxies
//!   among them, stay here and are counted in the upstream status. Every row keeps its
//!   `ref_area`. With no row left, nothing is relayed (and a relayed version is withdrawn);
//! - manifest: `P`'s (title, reference period, metadata) with the indicators the upstream knows
//!   and its provenance: `P` itself (agency, dataset, publication id, store version, content
//!   hash), then `P`'s own provenance, so a regional store names the agency that first
//!   published every row;
//! - a dataset that leaves the official view (un-approved with no earlier approved version) is
//!   withdrawn upstream.
//!
//! Which publication each upstream dataset last relayed is kept in `<outbox>/.relayed.json`,
//! and why datasets were not relayed at the last look in `<outbox>/.problems.json`
//! (written durably after the outbox entry), so nothing is extracted twice however many
//! datasets there are; were the file lost, the same manifest and rows are acknowledged upstream
//! as a duplicate, so no second version is ever made there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::compute::cast;
use datafusion::prelude::{col, lit};
use futures::StreamExt;
use sdgx_agent::outbox::{Outbox, State};
use sdgx_schemas::manifest::Origin;
use sdgx_schemas::normalize::observation_schema_nullable;
use sdgx_schemas::{Contract, Manifest};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Pinned};
use crate::entry::PublicationEntry;
use crate::error::{Error, Result};

/// `[upstream]` in coordinator.toml: where this coordinator publishes as an agency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The upstream coordinator's agents' Flight URL (`https://region.example.org:50051`).
    pub coordinator: String,
    /// This coordinator's agency id in the upstream's registry; the certificate of `tls`
    /// names it (`sdgx:agency:<id>`). An area code in lower case, by convention (`am`).
    pub agency: String,
    /// Which official datasets go up: `agency/dataset`, `agency/*` or `*`.
    pub datasets: Vec<String>,
    /// Mutual TLS towards the upstream: its CA, and the certificate and key its CA issued to
    /// this coordinator.
    pub tls: Option<sdgx_agent::config::TlsConfig>,
    /// The durable outbox of what goes up (default `<data_dir>/upstream`).
    pub outbox: Option<PathBuf>,
    /// Retries of deliveries (as an agent's `[delivery]`).
    pub delivery: sdgx_agent::delivery::DeliveryConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            coordinator: String::new(),
            agency: String::new(),
            datasets: vec!["*".into()],
            tls: None,
            outbox: None,
            delivery: sdgx_agent::delivery::DeliveryConfig::default(),
        }
    }
}

impl UpstreamConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.coordinator.is_empty() {
            return Err(Error::Config("upstream.coordinator (the upstream's Flight URL) must be set".into()));
        }
        if !sdgx_schemas::manifest::valid_id(&self.agency) {
            return Err(Error::Config(format!("upstream.agency {:?} is not a valid agency id (a-z, 0-9, '-', '_')", self.agency)));
        }
        for p in &self.datasets {
            let ok = p == "*" || p.split_once('/').is_some_and(|(a, d)| !a.is_empty() && !d.is_empty() && !a.contains('*') && (d == "*" || !d.contains('*')));
            if !ok {
                return Err(Error::Config(format!("upstream.datasets: {p:?} is not `agency/dataset`, `agency/*` or `*`")));
            }
        }
        Ok(())
    }

    /// Whether the dataset `agency/dataset` goes up.
    pub fn relays(&self, agency: &str, dataset: &str) -> bool {
        self.datasets.iter().any(|p| {
            p == "*" || p.split_once('/').is_some_and(|(a, d)| a == agency && (d == "*" || d == dataset))
        })
    }

    /// The outbox directory in force.
    pub fn outbox_dir(&self, data_dir: &Path) -> PathBuf {
        self.outbox.clone().unwrap_or_else(|| data_dir.join("upstream"))
    }

    /// The agent settings this coordinator publishes upstream with: the agent library's
    /// delivery, framework cache and outbox run on them.
    pub fn agent(&self, data_dir: &Path, transport: &crate::config::TransportConfig, max_problems: usize) -> sdgx_agent::Config {
        sdgx_agent::Config {
            agency: self.agency.clone(),
            coordinator: self.coordinator.clone(),
            tls: self.tls.clone(),
            outbox: self.outbox_dir(data_dir),
            delivery: self.delivery.clone(),
            transport: transport.clone(),
            max_problems,
            ..sdgx_agent::Config::default()
        }
    }
}

/// The dataset id upstream of `agency`'s dataset `dataset`: `<agency>--<dataset>`, which must
/// be a valid id (at most 64 characters).
pub fn upstream_dataset(agency: &str, dataset: &str) -> Result<String> {
    let id = format!("{agency}--{dataset}");
    if !sdgx_schemas::manifest::valid_id(&id) {
        return Err(Error::Config(format!("{agency}/{dataset} cannot go upstream: its id there, {id:?}, is longer than 64 characters")));
    }
    Ok(id)
}

/// What one upstream dataset last relayed (`<outbox>/.relayed.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Relayed {
    /// The official publication here it was made from (absent for a withdrawal).
    pub publication_id: Option<String>,
    /// The outbox entry.
    pub entry: String,
    /// Its manifest (a later withdrawal is made from it).
    #[schema(value_type = Object)]
    pub manifest: Manifest,
    /// Rows left out: their indicator is not in the upstream's framework.
    pub rows_left_out: u64,
    /// Those indicators.
    pub indicators_left_out: Vec<String>,
}

/// What one look at the official view did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Synced {
    /// Upstream datasets staged in the outbox (new versions and withdrawals).
    pub staged: Vec<String>,
    /// Datasets not relayed, and why (say, none of their indicators is in the upstream's
    /// framework, or their rows do not validate against it).
    pub problems: BTreeMap<String, String>,
}

/// The upstream queue, for `sdgx-coordinator upstream status` and `GET /api/v1/upstream`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = UpstreamStatus)]
pub struct Status {
    /// The upstream coordinator.
    pub coordinator: String,
    /// This coordinator's agency id there.
    pub agency: String,
    /// The outbox directory.
    #[schema(value_type = String)]
    pub outbox: PathBuf,
    /// Entries waiting to be delivered.
    pub pending: usize,
    /// Entries refused for good.
    pub failed: usize,
    /// Every entry the outbox keeps, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<sdgx_agent::outbox::Entry>,
    /// What each upstream dataset last relayed.
    pub relayed: BTreeMap<String, Relayed>,
    /// Why datasets were not relayed at the last look.
    pub problems: BTreeMap<String, String>,
}

/// The relay to one upstream coordinator.
pub struct Upstream {
    config: UpstreamConfig,
    agent: sdgx_agent::Config,
    outbox: Outbox,
    /// Wakes the delivery loop when something was staged.
    staged: tokio::sync::Notify,
}

impl Upstream {
    /// The relay of `config`, its outbox opened.
    pub fn open(config: &UpstreamConfig, data_dir: &Path, transport: &crate::config::TransportConfig, max_problems: usize) -> Result<Upstream> {
        config.validate()?;
        let agent = config.agent(data_dir, transport, max_problems);
        let outbox = Outbox::open(&agent.outbox)?;
        Ok(Upstream { config: config.clone(), agent, outbox, staged: tokio::sync::Notify::new() })
    }

    fn relayed_path(&self) -> PathBuf {
        self.outbox.dir().join(RELAYED)
    }

    /// What each upstream dataset last relayed.
    fn relayed(&self) -> Result<BTreeMap<String, Relayed>> {
        read_json(&self.relayed_path())
    }

    /// Keeps the last look's problems in `<outbox>/.problems.json`, for the status.
    fn remember(&self, problems: &BTreeMap<String, String>) -> Result<()> {
        let path = self.outbox.dir().join(PROBLEMS);
        if read_json::<BTreeMap<String, String>>(&path)? == *problems {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(problems).map_err(|e| Error::Internal(format!("upstream problems: {e}")))?;
        Ok(sdgx_agent::outbox::write_durable(&path, &bytes)?)
    }

    fn record(&self, all: &mut BTreeMap<String, Relayed>, dataset: &str, r: Relayed) -> Result<()> {
        all.insert(dataset.to_owned(), r);
        let bytes = serde_json::to_vec_pretty(all).map_err(|e| Error::Internal(format!("relayed state: {e}")))?;
        Ok(sdgx_agent::outbox::write_durable(&self.relayed_path(), &bytes)?)
    }

    /// Relays what changed in `official` (the official view now): stages a new version of each
    /// upstream dataset whose official publication here is not the one it last relayed, and a
    /// withdrawal of each whose dataset left the view. The upstream's framework is fetched
    /// first (or read from the cache when the upstream cannot be reached); while it has never
    /// been fetched, nothing is staged.
    pub async fn sync(&self, catalog: &Catalog, official: &Pinned) -> Result<Synced> {
        let _lock = self.outbox.lock().await?;
        let mut relayed = self.relayed()?;
        let mut out = Synced::default();
        let wanted: Vec<&PublicationEntry> = official.publications.iter().filter(|e| self.config.relays(&e.agency, &e.dataset)).collect();
        let mut current: BTreeMap<String, &PublicationEntry> = BTreeMap::new();
        for e in wanted {
            match upstream_dataset(&e.agency, &e.dataset) {
                Ok(id) => {
                    current.insert(id, e);
                }
                Err(err) => {
                    out.problems.insert(format!("{}/{}", e.agency, e.dataset), err.to_string());
                }
            }
        }
        let changed: Vec<(&String, &&PublicationEntry)> =
            current.iter().filter(|(id, e)| relayed.get(*id).and_then(|r| r.publication_id.as_deref()) != Some(e.publication_id.as_str())).collect();
        let gone: Vec<String> =
            relayed.iter().filter(|(id, r)| r.publication_id.is_some() && !current.contains_key(*id)).map(|(id, _)| id.clone()).collect();
        if changed.is_empty() && gone.is_empty() {
            self.remember(&out.problems)?;
            return Ok(out);
        }
        let framework = sdgx_agent::framework::in_force(&self.agent, true).await?;
        if let sdgx_agent::framework::Origin::Local { why, .. } = &framework.origin {
            return Err(Error::Upstream(sdgx_agent::Error::Config(format!(
                "the upstream's framework is not known yet, so nothing is relayed until it answers: {why}"
            ))));
        }
        let contract = framework.contract;
        for (id, e) in changed {
            match self.stage(catalog, &contract, id, e).await {
                Ok(Some(r)) => {
                    self.record(&mut relayed, id, r)?;
                    out.staged.push(id.clone());
                }
                Ok(None) => {
                    out.problems.insert(
                        format!("{}/{}", e.agency, e.dataset),
                        format!("none of its indicators ({}) is in the upstream's framework {}", e.manifest.indicators.join(", "), contract.framework.version),
                    );
                    if let Some(last) = relayed.get(id).filter(|r| r.publication_id.is_some()) {
                        let r = self.withdraw(&contract, id, last.manifest.clone())?;
                        self.record(&mut relayed, id, r)?;
                        out.staged.push(id.clone());
                    }
                }
                Err(err) => {
                    tracing::warn!(agency = %e.agency, dataset = %e.dataset, upstream_dataset = %id, error = %err, "not relayed upstream");
                    out.problems.insert(format!("{}/{}", e.agency, e.dataset), err.to_string());
                }
            }
        }
        for id in gone {
            let last = relayed[&id].manifest.clone();
            let r = self.withdraw(&contract, &id, last)?;
            self.record(&mut relayed, &id, r)?;
            out.staged.push(id);
        }
        if !out.staged.is_empty() {
            tracing::info!(upstream = %self.config.coordinator, staged = ?out.staged, "official releases staged for the upstream");
            self.staged.notify_one();
        }
        self.remember(&out.problems)?;
        Ok(out)
    }

    /// Extracts `e`'s rows of the indicators `contract` knows, validates them against it as
    /// upstream dataset `id` and stages them; `None` when no indicator is left.
    async fn stage(&self, catalog: &Catalog, contract: &Arc<Contract>, id: &str, e: &PublicationEntry) -> Result<Option<Relayed>> {
        let known: Vec<String> = e.manifest.indicators.iter().filter(|i| contract.framework.indicator(i).is_some()).cloned().collect();
        let left_out: Vec<String> = e.manifest.indicators.iter().filter(|i| !known.contains(i)).cloned().collect();
        if known.is_empty() {
            return Ok(None);
        }
        let manifest = Manifest {
            agency: self.config.agency.clone(),
            dataset: id.to_owned(),
            indicators: known,
            content_hash: None,
            provenance: std::iter::once(Origin {
                agency: e.agency.clone(),
                dataset: e.dataset.clone(),
                publication_id: e.publication_id.clone(),
                store_version: e.store_version,
                content_hash: e.content_hash.clone(),
            })
            .chain(e.manifest.provenance.iter().cloned())
            .collect(),
            ..e.manifest.clone()
        };
        if e.manifest.withdraw {
            // A withdrawal here, approved: withdrawn upstream too.
            return self.withdraw(contract, id, manifest).map(|r| Some(Relayed { publication_id: Some(e.publication_id.clone()), ..r }));
        }
        let extract = self.outbox.staging_file();
        let rows = self.extract(catalog, e, &manifest.indicators, &extract).await?;
        let copy = self.outbox.staging_file();
        let (c, data, to, bs, mp) = (contract.clone(), extract.clone(), copy.clone(), self.agent.batch_size, self.agent.max_problems);
        let m = manifest.clone();
        let checked = tokio::task::spawn_blocking(move || {
            sdgx_agent::publish::validate_file(&c, m, &data, sdgx_agent::config::Format::Parquet, bs, mp, Some(&to))
        })
        .await
        .map_err(|err| Error::Internal(format!("the upstream validation stopped: {err}")))?;
        let _ = std::fs::remove_file(&extract);
        let prepared = match checked {
            Ok(p) => p,
            Err(err) => {
                let _ = std::fs::remove_file(&copy);
                return Err(err.into());
            }
        };
        let entry = self.outbox.stage(&prepared, &copy, false)?;
        Ok(Some(Relayed {
            publication_id: Some(e.publication_id.clone()),
            entry: entry.entry().id.clone(),
            manifest,
            rows_left_out: e.rows.saturating_sub(rows),
            indicators_left_out: left_out,
        }))
    }

    /// Writes `e`'s rows of the indicators `known` to `to` (Parquet, the contract's columns),
    /// batch by batch; returns how many.
    async fn extract(&self, catalog: &Catalog, e: &PublicationEntry, known: &[String], to: &Path) -> Result<u64> {
        let schema = observation_schema_nullable();
        let ctx = catalog.scratch()?;
        let rows = catalog.rows_of(&ctx, std::slice::from_ref(e)).await?;
        let rows = rows
            .filter(col("indicator").in_list(known.iter().map(|k| lit(k.clone())).collect(), false))?
            .select(schema.fields().iter().map(|f| col(f.name())).collect::<Vec<_>>())?;
        let file = std::fs::File::create(to).map_err(Error::io(to))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
        let mut stream = rows.execute_stream().await?;
        let mut n = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let columns = batch.columns().iter().zip(schema.fields()).map(|(c, f)| cast(c, f.data_type())).collect::<std::result::Result<Vec<_>, _>>()?;
            let batch = arrow::array::RecordBatch::try_new(schema.clone(), columns)?;
            n += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
        writer.into_inner()?.sync_all().map_err(Error::io(to))?;
        Ok(n)
    }

    /// Stages the withdrawal of upstream dataset `id` (its last `manifest`, no rows).
    fn withdraw(&self, contract: &Contract, id: &str, manifest: Manifest) -> Result<Relayed> {
        let manifest = Manifest { agency: self.config.agency.clone(), dataset: id.to_owned(), ..manifest };
        let copy = self.outbox.staging_file();
        let prepared = sdgx_agent::publish::withdrawal_of(contract, manifest.clone(), &copy)?;
        let staged = self.outbox.stage(&prepared, &copy, false)?;
        Ok(Relayed { publication_id: None, entry: staged.entry().id.clone(), manifest, rows_left_out: 0, indicators_left_out: vec![] })
    }

    /// Delivers the outbox until `shutdown`: every pending entry when due, with the agent's
    /// backoff; woken at once when [`sync`](Self::sync) stages something.
    pub async fn deliver(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut client = None;
        let mut contract: Option<Arc<Contract>> = None;
        loop {
            let wait = match self.deliver_once(&mut client, &mut contract).await {
                Ok(next) => next.map_or(std::time::Duration::from_secs(3600), |t| (t - chrono::Utc::now()).to_std().unwrap_or_default()),
                Err(e) => {
                    tracing::warn!(upstream = %self.config.coordinator, error = %e, "upstream delivery failed; retrying");
                    sdgx_agent::delivery::backoff(&self.agent.delivery, 1)
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.staged.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass over the due entries; returns when the next one is due.
    async fn deliver_once(
        &self,
        client: &mut Option<arrow_flight::FlightClient>,
        contract: &mut Option<Arc<Contract>>,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let _lock = self.outbox.lock().await?;
        if self.outbox.pending()?.is_empty() {
            return Ok(None);
        }
        let c = match contract {
            Some(c) => c,
            None => contract.insert(sdgx_agent::framework::in_force(&self.agent, true).await?.contract),
        };
        sdgx_agent::delivery::deliver_due(&self.agent, c, &self.outbox, client).await?;
        Ok(sdgx_agent::delivery::next_due(&self.outbox)?)
    }

    /// The upstream queue now.
    pub fn status(&self) -> Result<Status> {
        status_of(&self.config, &self.agent.outbox)
    }
}

/// Which publication each upstream dataset last relayed, in the outbox directory.
const RELAYED: &str = ".relayed.json";
/// Why datasets were not relayed at the last look, in the outbox directory.
const PROBLEMS: &str = ".problems.json";

/// The JSON file at `path`, or the default when there is none.
fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Config(format!("{}: not the relay's state: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::io(path)(e)),
    }
}

/// The upstream queue of `config`'s outbox at `outbox`, read from disk (the coordinator need
/// not run).
pub fn status_of(config: &UpstreamConfig, outbox: &Path) -> Result<Status> {
    let entries = if outbox.is_dir() { Outbox::open(outbox)?.entries()? } else { vec![] };
    Ok(Status {
        coordinator: config.coordinator.clone(),
        agency: config.agency.clone(),
        outbox: outbox.to_owned(),
        pending: entries.iter().filter(|e| e.state == State::Pending).count(),
        failed: entries.iter().filter(|e| e.state == State::Failed).count(),
        relayed: read_json(&outbox.join(RELAYED))?,
        problems: read_json(&outbox.join(PROBLEMS))?,
        entries,
    })
}

/// `status` as text: the queue, then what each dataset relayed.
pub fn render(s: &Status) -> String {
    use std::fmt::Write;
    let mut out = format!("upstream {} as agency {}: {} pending, {} failed\n", s.coordinator, s.agency, s.pending, s.failed);
    let listing = sdgx_agent::outbox::Listing { entries: s.entries.clone(), corrupt: vec![] };
    out.push_str(&sdgx_agent::status::render_outbox(&s.outbox, &listing));
    for (id, r) in &s.relayed {
        let from = r.publication_id.as_deref().map_or("a withdrawal".to_owned(), |p| format!("publication {p}"));
        let _ = write!(out, "  {id}: {from} (entry {})", r.entry);
        if r.rows_left_out > 0 {
            let _ = write!(out, "; {} rows left out, indicators not in the upstream's framework: {}", r.rows_left_out, r.indicators_left_out.join(", "));
        }
        out.push('\n');
    }
    for (d, why) in &s.problems {
        let _ = writeln!(out, "  not relayed: {d}: {why}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_choose_what_goes_up() {
        let c = UpstreamConfig {
            coordinator: "https://region:50051".into(),
            agency: "am".into(),
            datasets: vec!["armstat/*".into(), "cba/remittances".into()],
            ..UpstreamConfig::default()
        };
        c.validate().unwrap();
        assert!(c.relays("armstat", "lfs") && c.relays("cba", "remittances"));
        assert!(!c.relays("cba", "other") && !c.relays("sms", "asylum"));
        assert!(UpstreamConfig { datasets: vec!["*".into()], ..c.clone() }.relays("sms", "asylum"));
        for bad in ["arm*/x", "armstat", "/x", "a/b*"] {
            assert!(UpstreamConfig { datasets: vec![bad.into()], ..c.clone() }.validate().is_err(), "{bad}");
        }
        assert!(UpstreamConfig { agency: "AM".into(), ..c.clone() }.validate().is_err(), "ids are lower case");
    }

    #[test]
    fn upstream_dataset_ids_join_agency_and_dataset() {
        assert_eq!(upstream_dataset("armstat", "ilcs-poverty").unwrap(), "armstat--ilcs-poverty");
        let long = "d".repeat(60);
        assert!(upstream_dataset("armstat", &long).unwrap_err().to_string().contains("longer than 64"));
    }
}
