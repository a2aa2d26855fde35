//! The framework the agent validates against: the coordinator's, fetched over the agents'
//! Flight port (the `framework` action, authenticated like publications) and cached, so that
//! the agent keeps working from the cache while the coordinator cannot be reached.
//!
//! Precedence, first that applies:
//!
//! 1. the coordinator's framework, fetched now (`sdgx-agent framework fetch`, and by
//!    `publish`, `withdraw` and each scheduled cycle of `run` before they validate);
//! 2. the cached framework of the last fetch, when the coordinator was not asked (`validate`
//!    sends nothing and asks nothing) or could not be reached;
//! 3. the agent's own `national_codelists` and `national_framework` files, or the global
//!    framework alone when it names none: only while no coordinator's framework is cached
//!    (for development, or before the first fetch).
//!
//! Cache layout, inside the outbox directory:
//!
//! ```text
//! <outbox>/.framework/current.json       {"hash", "coordinator", "fetched_at"}
//! <outbox>/.framework/<sha256 hex>.json  the bundle (sdgx_schemas::bundle), named by its hash
//! ```
//!
//! Each file is written to a temporary name, synced, renamed into place and its directory
//! synced, so a crash leaves the old cache or the new one. A cached bundle is checked when read
//! (its files must hash to its name and make the framework it declares); one that fails is
//! refused, with a warning, and the agent falls back as if nothing were cached.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sdgx_schemas::bundle::{is_hash, FrameworkRef};
use sdgx_schemas::flight::FRAMEWORK_ACTION;
use sdgx_schemas::{Contract, FrameworkBundle};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};

/// Where the framework in force came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// Fetched from the coordinator just now (and cached).
    Coordinator {
        /// The coordinator's URL.
        url: String,
        /// When (RFC 3339).
        at: String,
    },
    /// The cache of an earlier fetch.
    Cache {
        /// The coordinator it was fetched from.
        url: String,
        /// When (RFC 3339).
        fetched_at: String,
        /// Why the coordinator's current framework was not fetched now.
        why: String,
    },
    /// The agent's configured files (no coordinator's framework is cached).
    Local {
        /// The configured national codelist file.
        codelists: Option<PathBuf>,
        /// The configured national framework file.
        framework: Option<PathBuf>,
        /// Why neither the coordinator's nor a cached framework is used.
        why: String,
    },
}

/// The framework validation uses, and where it came from.
#[derive(Debug, Clone)]
pub struct InForce {
    /// The contract it makes.
    pub contract: Arc<Contract>,
    /// Where it came from.
    pub origin: Origin,
}

impl InForce {
    /// Which framework it is.
    pub fn reference(&self) -> FrameworkRef {
        self.contract.bundle.reference()
    }

    /// One line saying which framework validation uses and where it came from.
    pub fn describe(&self) -> String {
        format!("framework {} {}", self.reference(), describe_origin(&self.origin))
    }
}

fn describe_origin(o: &Origin) -> String {
    match o {
        Origin::Coordinator { url, at } => format!("from the coordinator {url}, fetched at {at}"),
        Origin::Cache { url, fetched_at, why } => format!("from the cache (fetched from the coordinator {url} at {fetched_at}; {why})"),
        Origin::Local { codelists: None, framework: None, why } => format!("compiled in: the global framework alone ({why})"),
        Origin::Local { codelists, framework, why } => {
            let files: Vec<String> = codelists.iter().chain(framework).map(|p| p.display().to_string()).collect();
            format!("from the local files {} ({why})", files.join(" and "))
        }
    }
}

/// What the cache records of its current bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cached {
    /// The bundle's hash.
    pub hash: String,
    /// The coordinator it was fetched from.
    pub coordinator: String,
    /// When (RFC 3339).
    pub fetched_at: String,
}

/// The framework cache of an outbox directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache inside the outbox directory `outbox`.
    pub fn new(outbox: &Path) -> Cache {
        Cache { dir: outbox.join(".framework") }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(path: &Path, e: impl std::fmt::Display) -> Error {
        Error::FrameworkCache { path: path.display().to_string(), message: e.to_string() }
    }

    fn bundle_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{}.json", hash.trim_start_matches("sha256:")))
    }

    /// Stores `bundle`, fetched from `coordinator`, as the current one (atomically and
    /// durably), and removes the bundles cached before it.
    pub fn store(&self, bundle: &FrameworkBundle, coordinator: &str) -> Result<Cached> {
        if !is_hash(&bundle.hash) {
            return Err(Self::err(&self.dir, format!("{:?} is not a sha256 hash", bundle.hash)));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Self::err(&self.dir, e))?;
        let path = self.bundle_path(&bundle.hash);
        crate::outbox::write_durable(&path, &bundle.encode())?;
        let cached = Cached { hash: bundle.hash.clone(), coordinator: coordinator.to_owned(), fetched_at: crate::outbox::now() };
        crate::outbox::write_durable(&self.dir.join("current.json"), &serde_json::to_vec_pretty(&cached).expect("serialisable"))?;
        for old in std::fs::read_dir(&self.dir).map_err(|e| Self::err(&self.dir, e))?.flatten() {
            let p = old.path();
            let stale = p != path && p.file_name().is_some_and(|n| n != "current.json") && p.extension().is_some_and(|x| x == "json");
            if stale {
                let _ = std::fs::remove_file(&p);
            }
        }
        Ok(cached)
    }

    /// The current cached bundle with the contract it makes; `None` when nothing is cached.
    /// A cache that cannot be read, or whose bundle does not match its hash, is an error.
    pub fn load(&self) -> Result<Option<(Cached, FrameworkBundle, Contract)>> {
        let current = self.dir.join("current.json");
        let text = match std::fs::read(&current) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::err(&current, e)),
        };
        let cached: Cached = serde_json::from_slice(&text).map_err(|e| Self::err(&current, format!("not a framework cache record: {e}")))?;
        if !is_hash(&cached.hash) {
            return Err(Self::err(&current, format!("{:?} is not a sha256 hash", cached.hash)));
        }
        let path = self.bundle_path(&cached.hash);
        let bytes = std::fs::read(&path).map_err(|e| Self::err(&path, e))?;
        let (bundle, contract) = FrameworkBundle::decode(&bytes).map_err(|e| Self::err(&path, e))?;
        if bundle.hash != cached.hash {
            return Err(Self::err(&path, format!("it holds framework {}, not {}", bundle.hash, cached.hash)));
        }
        Ok(Some((cached, bundle, contract)))
    }
}

/// Asks the coordinator for its framework in force (checked: its files hash to its hash).
pub async fn ask(config: &Config) -> Result<(FrameworkBundle, Contract)> {
    use futures::TryStreamExt;
    let url = &config.coordinator;
    let mut client = crate::client::connect(url, &config.transport, config.tls.as_ref()).await?;
    let action = arrow_flight::Action { r#type: FRAMEWORK_ACTION.into(), body: Default::default() };
    let replies: Vec<_> = match client.do_action(action).await {
        Ok(s) => s.try_collect().await,
        Err(e) => Err(e),
    }
    .map_err(|e| match e {
        arrow_flight::error::FlightError::Tonic(s) if crate::delivery::is_permanent(s.code()) => {
            Error::Refused { url: url.clone(), code: s.code(), message: format!("the framework: {}", s.message()) }
        }
        other => Error::Coordinator { url: url.clone(), message: format!("the framework: {other}") },
    })?;
    let body = replies.first().ok_or_else(|| Error::Coordinator { url: url.clone(), message: "the framework action returned nothing".into() })?;
    FrameworkBundle::decode(body).map_err(|e| Error::Coordinator { url: url.clone(), message: format!("the framework it sent is refused: {e}") })
}

/// Fetches the coordinator's framework and caches it; returns it as the framework in force.
pub async fn fetch(config: &Config) -> Result<InForce> {
    let (bundle, contract) = ask(config).await?;
    let cached = Cache::new(&config.outbox).store(&bundle, &config.coordinator)?;
    tracing::info!(framework = %bundle.reference(), coordinator = %config.coordinator, "framework fetched and cached");
    Ok(InForce { contract: Arc::new(contract), origin: Origin::Coordinator { url: cached.coordinator, at: cached.fetched_at } })
}

/// The framework to validate against (see the [module docs](self) for the precedence). With
/// `ask_coordinator`, the coordinator's is fetched first; when it cannot be, the cache is
/// used, and without a (readable) cache the configured files. Fails only when the configured
/// files themselves do not load.
pub async fn in_force(config: &Config, ask_coordinator: bool) -> Result<InForce> {
    let why = if ask_coordinator {
        match fetch(config).await {
            Ok(f) => return Ok(f),
            Err(e) => format!("the coordinator's framework could not be fetched: {e}"),
        }
    } else {
        "the coordinator was not asked".to_owned()
    };
    let f = cached_or_local(config, why)?;
    if ask_coordinator {
        tracing::warn!(framework = %f.reference(), "validating {}", describe_origin(&f.origin));
    }
    Ok(f)
}

/// The cached framework, else the configured files; `why` says why the coordinator's current
/// one is not used.
fn cached_or_local(config: &Config, why: String) -> Result<InForce> {
    let why = match Cache::new(&config.outbox).load() {
        Ok(Some((cached, _, contract))) => {
            return Ok(InForce {
                contract: Arc::new(contract),
                origin: Origin::Cache { url: cached.coordinator, fetched_at: cached.fetched_at, why },
            });
        }
        Ok(None) => format!("{why}; no coordinator's framework is cached"),
        Err(e) => {
            tracing::warn!(error = %e, "the cached framework is refused; falling back to the configured files");
            format!("{why}; the cached framework is refused: {e}")
        }
    };
    Ok(InForce {
        contract: Arc::new(crate::contract(config)?),
        origin: Origin::Local { codelists: config.national_codelists.clone(), framework: config.national_framework.clone(), why },
    })
}

/// What `sdgx-agent status` says of the framework.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The framework validation uses now (without fetching).
    pub validates_against: FrameworkRef,
    /// Where it came from.
    pub origin: Origin,
    /// The coordinator's framework in force, when it answered.
    pub coordinator: Option<FrameworkRef>,
    /// Why the coordinator's framework is not known, when it did not answer.
    pub coordinator_error: Option<String>,
    /// Whether the two are the same; `None` when the coordinator's is not known.
    pub current: Option<bool>,
}

/// The framework the agent validates against (from the cache or its files, fetching nothing)
/// and, when the coordinator answers, whether it is the coordinator's current one.
pub async fn status(config: &Config) -> Result<Status> {
    let f = cached_or_local(config, "status does not fetch".into())?;
    let (coordinator, coordinator_error) = match ask(config).await {
        Ok((b, _)) => (Some(b.reference()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let ours = f.reference();
    let current = coordinator.as_ref().map(|c| c.hash == ours.hash);
    Ok(Status { validates_against: ours, origin: f.origin, coordinator, coordinator_error, current })
}

/// The framework status as text.
pub fn render(s: &Status) -> String {
    let mut out = format!("framework: validates against {}\n  {}\n", s.validates_against, describe_origin(&s.origin));
    let line = match (&s.coordinator, s.current) {
        (Some(_), Some(true)) => "  it is the coordinator's current framework".to_owned(),
        (Some(c), _) => format!(
            "  it is NOT the coordinator's current framework, which is {c}: run `sdgx-agent framework fetch` (publish and run fetch it by themselves)"
        ),
        (None, _) => format!(
            "  whether it is the coordinator's current framework is unknown: {}",
            s.coordinator_error.as_deref().unwrap_or("the coordinator did not answer")
        ),
    };
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(version: &str) -> FrameworkBundle {
        let text = format!("name = \"Testland\"\nversion = \"{version}\"\nout_of_scope = [\"14.1.1\"]\n");
        Contract::from_texts(Some(("c.csv", "codelist,code,name\nCL_AREA,AM-ER,Yerevan\n")), Some(("f.toml", &text))).unwrap().bundle
    }

    #[test]
    fn the_cache_stores_atomically_reads_back_and_keeps_only_the_current_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert!(cache.load().unwrap().is_none(), "nothing cached yet");
        let first = bundle("2026.1");
        let c1 = cache.store(&first, "https://coordinator:50051").unwrap();
        let (cached, back, contract) = cache.load().unwrap().expect("cached");
        assert_eq!((cached, back.clone()), (c1, first.clone()));
        assert!(contract.codelists.contains("CL_AREA", "AM-ER"));
        assert_eq!(contract.bundle.reference(), first.reference());
        let second = bundle("2026.2");
        cache.store(&second, "https://coordinator:50051").unwrap();
        assert_eq!(cache.load().unwrap().unwrap().1, second);
        let mut files: Vec<String> = std::fs::read_dir(cache.dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        files.sort();
        let mut expected = vec!["current.json".to_owned(), format!("{}.json", second.hash.trim_start_matches("sha256:"))];
        expected.sort();
        assert_eq!(files, expected, "the bundle named by its hash, the record, no temporary file, no older bundle");
    }

    #[test]
    fn a_corrupt_cache_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let b = bundle("2026.1");
        cache.store(&b, "https://c").unwrap();
        let path = cache.dir().join(format!("{}.json", b.hash.trim_start_matches("sha256:")));
        // An edited framework file no longer matches its hash.
        let mut edited = b.clone();
        edited.framework = Some(b.framework.clone().unwrap().replace("14.1.1", "14.2.1"));
        std::fs::write(&path, edited.encode()).unwrap();
        let e = cache.load().unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()) && e.contains("hash to"), "{e}");
        // A truncated file.
        std::fs::write(&path, &b.encode()[..20]).unwrap();
        assert!(cache.load().unwrap_err().to_string().contains("not a framework bundle"));
        // Another valid bundle under this bundle's name.
        std::fs::write(&path, bundle("2026.9").encode()).unwrap();
        assert!(cache.load().unwrap_err().to_string().contains("not sha256:"));
        // A damaged record.
        std::fs::write(cache.dir().join("current.json"), b"{\"hash\": \"../../etc/passwd\", \"coordinator\": \"c\", \"fetched_at\": \"t\"}").unwrap();
        assert!(cache.load().unwrap_err().to_string().contains("is not a sha256 hash"));
    }
}
