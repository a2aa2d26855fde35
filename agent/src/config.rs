//! The agent's configuration: which coordinator, which datasets, which contract. Loaded from
//! TOML plus `SDGX_*` environment variables; every setting is documented in the example
//! configs under `examples/federation/agents/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compute::ComputeConfig;
use crate::sources::SourceConfig;
use crate::daemon::DaemonConfig;
use crate::delivery::DeliveryConfig;
use crate::error::{Error, Result};
pub use sdgx_schemas::flight::TransportConfig;

/// The format of a dataset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Contract CSV (header of contract column names).
    Csv,
    /// Parquet with contract column names.
    Parquet,
}

/// One dataset the agent publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// The manifest (TOML).
    pub manifest: PathBuf,
    /// The data file; for a computed dataset, the Parquet file the protected result is
    /// written to.
    pub source: PathBuf,
    /// The data format; guessed from the file extension when absent.
    pub format: Option<Format>,
    /// Compute the dataset from the agent's sources with an indicator definition (see
    /// [`crate::compute`]) instead of reading a ready contract file.
    #[serde(default)]
    pub compute: Option<ComputeConfig>,
}

impl DatasetConfig {
    /// The format in force.
    pub fn format(&self) -> Result<Format> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        match self.source.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("parquet") | Some("pq") => Ok(Format::Parquet),
            _ => Err(Error::Config(format!("{}: set format = \"csv\" or \"parquet\"", self.source.display()))),
        }
    }
}

/// Mutual TLS towards the coordinator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The CA bundle (PEM) the coordinator's certificate must chain to.
    pub ca: PathBuf,
    /// This agency's client certificate (PEM), naming it as `sdgx:agency:<id>`.
    pub cert: PathBuf,
    /// This agency's private key (PEM).
    pub key: PathBuf,
    /// The name to expect in the coordinator's certificate (default: the URL's host).
    pub domain: Option<String>,
}

/// The agent's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The agency this agent publishes for.
    pub agency: String,
    /// The coordinator's Flight URL, e.g. `http://127.0.0.1:50051`.
    pub coordinator: String,
    /// National framework TOML, used only while no coordinator's framework is cached (see
    /// [`crate::framework`] for the precedence).
    pub national_framework: Option<PathBuf>,
    /// National codelist CSV, used only while no coordinator's framework is cached.
    pub national_codelists: Option<PathBuf>,
    /// Rows per batch read and sent.
    pub batch_size: usize,
    /// At most this many problems are reported per dataset.
    pub max_problems: usize,
    /// Flight transport settings.
    pub transport: TransportConfig,
    /// Mutual TLS (required by coordinators in their default configuration).
    pub tls: Option<TlsConfig>,
    /// The coordinator's HTTP API, for `sdgx-agent status` (e.g. `http://127.0.0.1:8080`; with
    /// `https`, the `tls.ca` bundle is trusted).
    pub coordinator_http: Option<String>,
    /// A file holding this agency's API token (role `agency`, created with
    /// `sdgx-coordinator token create --role agency --name <agency>`).
    pub token_file: Option<PathBuf>,
    /// The durable outbox directory (default `outbox` beside the config file): publications
    /// wait here, synced to disk, until the coordinator acknowledges them.
    pub outbox: PathBuf,
    /// Retries of deliveries.
    pub delivery: DeliveryConfig,
    /// The daemon's schedule (`sdgx-agent run`).
    pub daemon: DaemonConfig,
    /// The daemon's Prometheus metrics listener (off unless `listen` is set).
    pub metrics: crate::metrics::MetricsConfig,
    /// Named sources that indicator definitions query (see [`crate::sources`]).
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// The datasets to publish.
    #[serde(rename = "dataset")]
    pub datasets: Vec<DatasetConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            agency: String::new(),
            coordinator: "http://127.0.0.1:50051".into(),
            national_framework: None,
            national_codelists: None,
            batch_size: 65_536,
            max_problems: 100,
            transport: TransportConfig::default(),
            tls: None,
            coordinator_http: None,
            token_file: None,
            outbox: PathBuf::from("outbox"),
            delivery: DeliveryConfig::default(),
            daemon: DaemonConfig::default(),
            metrics: crate::metrics::MetricsConfig::default(),
            sources: vec![],
            datasets: vec![],
        }
    }
}

impl Config {
    /// Loads defaults, the TOML file, then `SDGX_*` variables (`SDGX_COORDINATOR=...`).
    /// Relative paths are resolved against the file's directory.
    pub fn load(file: &Path) -> Result<Config> {
        let (settings, ignored) = sdgx_schemas::settings::environment(&Config::default(), std::env::vars());
        if !ignored.is_empty() {
            tracing::warn!(variables = ?ignored, "SDGX_ variables that name no agent setting are ignored");
        }
        let c = config::Config::builder()
            .add_source(config::Config::try_from(&Config::default()).map_err(|e| Error::Config(e.to_string()))?)
            .add_source(config::File::from(file).format(config::FileFormat::Toml))
            .add_source(config::Environment::with_prefix("SDGX").prefix_separator("_").separator("__").try_parsing(true).source(Some(settings)))
            .build()
            .and_then(|c| c.try_deserialize::<Config>())
            .map_err(|e| Error::Config(format!("{}: {e}", file.display())))?;
        let base = file.parent().unwrap_or(Path::new("."));
        let mut c = c;
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        c.national_framework.iter_mut().for_each(abs);
        c.national_codelists.iter_mut().for_each(abs);
        c.token_file.iter_mut().for_each(abs);
        abs(&mut c.outbox);
        for d in &mut c.datasets {
            abs(&mut d.manifest);
            abs(&mut d.source);
            if let Some(comp) = d.compute.as_mut() {
                abs(&mut comp.sql);
            }
        }
        for s in &mut c.sources {
            s.kind.paths_mut().into_iter().for_each(abs);
        }
        if let Some(t) = c.tls.as_mut() {
            abs(&mut t.ca);
            abs(&mut t.cert);
            abs(&mut t.key);
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !sdgx_schemas::manifest::valid_id(&self.agency) {
            return Err(Error::Config(format!("agency {:?} is not a valid id (a-z, 0-9, '-', '_')", self.agency)));
        }
        if !(self.coordinator.starts_with("http://") || self.coordinator.starts_with("https://")) {
            return Err(Error::Config(format!("coordinator {:?} must be an http:// or https:// URL", self.coordinator)));
        }
        if self.batch_size == 0 || self.max_problems == 0 {
            return Err(Error::Config("batch_size and max_problems must be at least 1".into()));
        }
        // TLS files are read (with errors naming them) when the agent connects.
        if self.tls.is_some() && !self.coordinator.starts_with("https://") {
            return Err(Error::Config(format!("with [tls], the coordinator URL must be https://, not {:?}", self.coordinator)));
        }
        for d in &self.datasets {
            // A computed dataset's source is its output, written before the check.
            let inputs = match &d.compute {
                Some(c) => [&d.manifest, &c.sql],
                None => [&d.manifest, &d.source],
            };
            for p in inputs {
                if !p.is_file() {
                    return Err(Error::Config(format!("{} does not exist", p.display())));
                }
            }
            if d.compute.is_some() && d.format()? != Format::Parquet {
                return Err(Error::Config(format!("{}: a computed dataset is written as Parquet (.parquet)", d.source.display())));
            }
            d.format()?;
        }
        let mut names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Config(format!("two sources are named {:?}", w[0])));
        }
        Ok(())
    }
}
