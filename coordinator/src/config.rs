//! The coordinator's configuration: one struct with defaults, loaded from a TOML file and
//! `SDGX_*` environment variables (for example `SDGX_HTTP_ADDR=0.0.0.0:8080`,
//! `SDGX_STORE_URL=s3://bucket/sdgx`), then overridden by command-line flags.
//! Every setting is documented in `examples/federation/coordinator.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use sdgx_schemas::flight::TransportConfig;

/// The coordinator's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the store (when `store_url` is unset) and for staging files.
    pub data_dir: PathBuf,
    /// Store location: any object-store URL deltalake understands (`file:///...`, `s3://...`).
    /// Default: `<data_dir>/store`.
    pub store_url: Option<String>,
    /// Arrow Flight listen address (port 0 picks a free port).
    pub flight_addr: SocketAddr,
    /// HTTP API listen address (port 0 picks a free port).
    pub http_addr: SocketAddr,
    /// National framework TOML file; unset means the global framework.
    pub national_framework: Option<PathBuf>,
    /// National codelist CSV file; unset means the global codelists.
    pub national_codelists: Option<PathBuf>,
    /// At most this many validation problems are reported per publication.
    pub max_problems: usize,
    /// Memory limit of the query engine, in bytes.
    pub query_memory_limit: usize,
    /// Flight transport settings.
    pub transport: TransportConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("sdgx-data"),
            store_url: None,
            flight_addr: "127.0.0.1:50051".parse().expect("valid"),
            http_addr: "127.0.0.1:8080".parse().expect("valid"),
            national_framework: None,
            national_codelists: None,
            max_problems: 100,
            query_memory_limit: 2 << 30,
            transport: TransportConfig::default(),
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if any), then `SDGX_*` environment variables
    /// (`__` separates nested keys: `SDGX_TRANSPORT__MAX_MESSAGE_SIZE`). Relative paths in the
    /// file are resolved against the file's directory.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut b = config::Config::builder()
            .add_source(config::Config::try_from(&Config::default()).map_err(|e| Error::Config(e.to_string()))?);
        if let Some(f) = file {
            b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
        }
        b = b.add_source(config::Environment::with_prefix("SDGX").prefix_separator("_").separator("__").try_parsing(true));
        let mut c: Config = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| Error::Config(format!("{}: {e}", file.map_or("defaults".into(), |f| f.display().to_string()))))?;
        if let Some(base) = file.and_then(Path::parent) {
            for p in [&mut c.national_framework, &mut c.national_codelists].into_iter().flatten() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
            if c.data_dir.is_relative() && file.is_some() && std::env::var_os("SDGX_DATA_DIR").is_none() {
                c.data_dir = base.join(&c.data_dir);
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the settings for consistency.
    pub fn validate(&self) -> Result<()> {
        if self.max_problems == 0 {
            return Err(Error::Config("max_problems must be at least 1".into()));
        }
        if self.transport.max_message_size < 1 << 20 {
            return Err(Error::Config("transport.max_message_size must be at least 1 MiB".into()));
        }
        if self.query_memory_limit < 16 << 20 {
            return Err(Error::Config("query_memory_limit must be at least 16 MiB".into()));
        }
        for p in [&self.national_framework, &self.national_codelists].into_iter().flatten() {
            if !p.is_file() {
                return Err(Error::Config(format!("{} does not exist", p.display())));
            }
        }
        Ok(())
    }

    /// The store URL in force.
    pub fn store_url(&self) -> Result<url::Url> {
        match &self.store_url {
            Some(u) => url::Url::parse(u)
                .or_else(|_| url::Url::from_directory_path(std::path::absolute(u).map_err(|e| Error::Config(e.to_string()))?)
                    .map_err(|_| Error::Config(format!("store_url {u:?} is neither a URL nor a path"))))
                .map_err(|e| Error::Config(format!("store_url {u:?}: {e}"))),
            None => {
                let dir = std::path::absolute(self.data_dir.join("store")).map_err(|e| Error::Config(e.to_string()))?;
                url::Url::from_directory_path(&dir).map_err(|_| Error::Config(format!("bad data_dir {}", dir.display())))
            }
        }
    }
}
