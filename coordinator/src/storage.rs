//! Where the store lives: the object stores a store URL may name, and their options.
//!
//! deltalake alone opens `file://` and `memory://` tables. [`register`] adds the cloud object
//! stores of the `object_store` crate: Amazon S3 and S3-compatible servers (`s3://`, `s3a://`),
//! Google Cloud Storage (`gs://`) and Azure Blob Storage / ADLS Gen2 (`az://`, `azure://`,
//! `abfs://`, `abfss://`, `adl://`). Commits use the default Delta log store, whose
//! put-if-absent is the object store's conditional put (`If-None-Match: *` on S3), so two
//! writers can never both create the same log version.
//!
//! Options ([`StoreOptions`]) come from the `store_options` table of the coordinator config and
//! from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`, as the cloud SDKs name them); the
//! config wins. Keys are `object_store`'s configuration keys, e.g. `aws_endpoint`,
//! `aws_region`, `aws_access_key_id`, `aws_allow_http`, `google_service_account`,
//! `azure_storage_account_name`; and sdgx's `max_retries` (default 10) and
//! `retry_timeout_secs` (default 180) for the retry policy. Values never appear in logs or
//! `Debug` output.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Once};

use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore,
    logstore_factories, object_store_factories,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{ObjectStoreScheme, RetryConfig};
use serde::{Deserialize, Serialize};
use url::Url;

/// The URL schemes a store may use.
pub const SCHEMES: [&str; 10] = ["file", "memory", "s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"];

/// Environment-variable prefixes read as store options (lower-cased), as the cloud SDKs do.
const ENV_PREFIXES: [&str; 3] = ["AWS_", "GOOGLE_", "AZURE_"];

/// Options of the object store behind the store URL. Values may be credentials: `Debug`
/// prints only the keys.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoreOptions(pub BTreeMap<String, String>);

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl StoreOptions {
    /// The options in force for `url`: the environment's cloud variables overlaid with these.
    /// A local store takes none.
    pub fn resolve(&self, url: &Url) -> HashMap<String, String> {
        if matches!(url.scheme(), "file" | "memory") {
            return HashMap::new();
        }
        let mut opts: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        opts.extend(self.0.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
        opts
    }
}

/// Checks that `url` names a store kind sdgx can open.
pub fn check_scheme(url: &Url) -> crate::Result<()> {
    if SCHEMES.contains(&url.scheme()) {
        Ok(())
    } else {
        Err(crate::Error::Config(format!(
            "store_url {url}: unsupported scheme {:?}; use one of {}",
            url.scheme(),
            SCHEMES.join(", ")
        )))
    }
}

/// Registers the cloud object stores with deltalake (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let stores = object_store_factories();
        let logs = logstore_factories();
        for scheme in SCHEMES.iter().filter(|s| !matches!(**s, "file" | "memory")) {
            let key = Url::parse(&format!("{scheme}://")).expect("a scheme makes a URL");
            stores.insert(key.clone(), Arc::new(CloudStores));
            logs.insert(key, Arc::new(CloudStores));
        }
    });
}

/// Builds cloud object stores with `object_store`'s builders, and the default Delta log store
/// over them.
struct CloudStores;

impl ObjectStoreFactory for CloudStores {
    fn parse_url_opts(&self, url: &Url, config: &StorageConfig) -> DeltaResult<(ObjectStoreRef, ObjectPath)> {
        let fail = |e: object_store::Error| DeltaTableError::Generic(format!("object store for {}: {e}", redact(url)));
        let (scheme, path) = ObjectStoreScheme::parse(url).map_err(|e| fail(e.into()))?;
        let raw = &config.raw;
        let retry = retry_config(raw)?;
        let store: ObjectStoreRef = match scheme {
            ObjectStoreScheme::AmazonS3 => {
                Arc::new(keys(raw).fold(AmazonS3Builder::new().with_url(url.as_str()), |b, (k, v)| b.with_config(k, v)).with_retry(retry).build().map_err(fail)?)
            }
            ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                keys(raw).fold(GoogleCloudStorageBuilder::new().with_url(url.as_str()), |b, (k, v)| b.with_config(k, v)).with_retry(retry).build().map_err(fail)?,
            ),
            ObjectStoreScheme::MicrosoftAzure => Arc::new(
                keys(raw).fold(MicrosoftAzureBuilder::new().with_url(url.as_str()), |b, (k, v)| b.with_config(k, v)).with_retry(retry).build().map_err(fail)?,
            ),
            _ => return Err(DeltaTableError::InvalidTableLocation(redact(url))),
        };
        Ok((store, path))
    }
}

/// The options among `raw` that parse as configuration keys of `K` (others belong to other
/// kinds of store, or to sdgx).
fn keys<K: std::str::FromStr>(raw: &HashMap<String, String>) -> impl Iterator<Item = (K, String)> + '_ {
    raw.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v.clone())))
}

/// The retry policy: `max_retries` (default 10) and `retry_timeout_secs` (default 180).
fn retry_config(raw: &HashMap<String, String>) -> DeltaResult<RetryConfig> {
    let mut retry = RetryConfig::default();
    let number = |key: &str| -> DeltaResult<Option<u64>> {
        raw.get(key)
            .map(|v| v.parse().map_err(|_| DeltaTableError::Generic(format!("store option {key} = {v:?} is not a whole number"))))
            .transpose()
    };
    if let Some(n) = number("max_retries")? {
        retry.max_retries = n as usize;
    }
    if let Some(n) = number("retry_timeout_secs")? {
        retry.retry_timeout = std::time::Duration::from_secs(n);
    }
    Ok(retry)
}

impl LogStoreFactory for CloudStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(prefixed_store, root_store, location, options))
    }
}

/// `url` without user information or query (which may carry credentials).
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}
