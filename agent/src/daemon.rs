//! `sdgx-agent run`: the daemon. It publishes every dataset at start, again on a schedule and
//! whenever a dataset's inputs change, and keeps delivering the outbox (with backoff) until it
//! is stopped. Content that equals a dataset's last delivery is not sent again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::{Config, DatasetConfig};
use crate::error::Result;
use crate::outbox::{Outbox, Staged};

/// The daemon's schedule (`[daemon]` in the agent config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Publish every dataset this often, in seconds (0: only at start and on change).
    pub every_secs: u64,
    /// Publish a dataset again when one of its input files changes (its manifest, its data
    /// file, or for an indicator definition its SQL and every file source).
    pub watch: bool,
    /// How often inputs are checked for changes, in seconds.
    pub poll_secs: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig { every_secs: 86_400, watch: true, poll_secs: 30 }
    }
}

/// The size and modification time of every input file of a dataset: a change of any means the
/// dataset may have changed.
type Fingerprint = BTreeMap<PathBuf, Option<(u64, SystemTime)>>;

fn fingerprint(config: &Config, d: &DatasetConfig) -> Fingerprint {
    let mut paths = vec![d.manifest.clone()];
    match &d.compute {
        Some(c) => {
            paths.push(c.sql.clone());
            paths.extend(config.sources.iter().filter_map(|s| s.kind.path().map(Path::to_owned)));
            // Databases and URLs cannot be watched: the schedule republishes them.
        }
        None => paths.push(d.source.clone()),
    }
    let mut f = Fingerprint::new();
    for p in paths {
        add_files(&p, &mut f);
    }
    f
}

fn add_files(p: &Path, f: &mut Fingerprint) {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                add_files(&e.path(), f);
            }
        }
        Ok(m) => {
            f.insert(p.to_owned(), Some((m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH))));
        }
        Err(_) => {
            f.insert(p.to_owned(), None);
        }
    }
}

/// Computes, checks and stages `d` in the outbox, logging the outcome.
async fn publish_one(config: &Config, contract: &Arc<sdgx_schemas::Contract>, outbox: &Outbox, d: &DatasetConfig) -> Result<()> {
    let copy = outbox.staging_file();
    let (computed, checked) = crate::prepare(config, contract, d, Some(&copy)).await;
    if let Some(c) = &computed {
        tracing::info!(manifest = %d.manifest.display(), rows = c.rows, suppressed = c.suppressed.len(), "computed");
    }
    match checked {
        Ok(p) => match outbox.stage(&p, &copy, true)? {
            Staged::Added(e) => tracing::info!(publication = %e.label(), rows = e.rows, entry = %e.id, "staged in the outbox"),
            Staged::AlreadyPending(e) => tracing::info!(publication = %e.label(), entry = %e.id, "same content already pending"),
            Staged::Unchanged(e) => tracing::info!(publication = %e.label(), "unchanged since its last delivery; not sent again"),
        },
        Err(e) => tracing::error!(manifest = %d.manifest.display(), error = %e, "not published"),
    }
    Ok(())
}

/// Runs until `shutdown` completes. The framework is the coordinator's, fetched at start and
/// before each scheduled cycle (see [`crate::framework`]); a publication refused for another
/// framework is revalidated against the coordinator's at once ([`crate::delivery::deliver_due`]). Errors of single datasets are logged and do not stop it;
/// an outbox that cannot be written does. With `[metrics] listen`, `GET /metrics` is served
/// there while it runs (see [`crate::metrics`]).
pub async fn run(config: &Config, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let outbox = Outbox::open(&config.outbox)?;
    let metrics = Arc::new(crate::metrics::AgentMetrics::default());
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let exporter = match config.metrics.listen {
        Some(addr) => {
            let listener = crate::metrics::bind(addr).await?;
            let bound = listener.local_addr().map_err(|e| crate::Error::Config(format!("metrics.listen {addr}: {e}")))?;
            tracing::info!(addr = %bound, "serving metrics at /metrics");
            let served = crate::metrics::serve(listener, metrics.clone(), async move {
                let _ = metrics_stopped.await;
            });
            Some(tokio::spawn(served))
        }
        None => None,
    };
    let mut contract = crate::framework::in_force(config, true).await?.contract;
    outbox.warn_corrupt()?;
    let d = &config.daemon;
    let poll = Duration::from_secs(d.poll_secs.max(1));
    let mut seen: Vec<Option<Fingerprint>> = vec![None; config.datasets.len()];
    let mut next_publish = tokio::time::Instant::now();
    let mut client = None;
    let mut first_cycle = true;
    tokio::pin!(shutdown);
    tracing::info!(agency = %config.agency, coordinator = %config.coordinator, outbox = %outbox.dir().display(), "agent daemon started");
    loop {
        {
            let _lock = outbox.lock().await?;
            let scheduled = tokio::time::Instant::now() >= next_publish;
            // The first cycle uses the framework resolved at start.
            if scheduled && !std::mem::replace(&mut first_cycle, false) {
                // Each scheduled cycle validates against the coordinator's framework of now
                // (or keeps the one in hand when the coordinator cannot be reached).
                match crate::framework::fetch(config).await {
                    Ok(f) => contract = f.contract,
                    Err(e) => tracing::warn!(error = %e, framework = %contract.bundle.reference(), "the coordinator's framework could not be fetched; validating against the one in hand"),
                }
            }
            for (i, ds) in config.datasets.iter().enumerate() {
                let now = d.watch.then(|| fingerprint(config, ds));
                let changed = d.watch && seen[i].as_ref() != now.as_ref();
                if scheduled || changed {
                    publish_one(config, &contract, &outbox, ds).await?;
                    seen[i] = now;
                }
            }
            if scheduled {
                next_publish = tokio::time::Instant::now() + if d.every_secs == 0 { Duration::MAX / 4 } else { Duration::from_secs(d.every_secs) };
            }
            for a in crate::delivery::deliver_due(config, &mut contract, &outbox, &mut client).await? {
                metrics.attempted(a.entry.state);
            }
            metrics.observe_outbox(&outbox.scan()?);
        }
        let mut wake = next_publish;
        if d.watch {
            wake = wake.min(tokio::time::Instant::now() + poll);
        }
        if let Some(t) = crate::delivery::next_due(&outbox)? {
            wake = wake.min(tokio::time::Instant::now() + (t - chrono::Utc::now()).to_std().unwrap_or_default());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = &mut shutdown => break,
        }
    }
    let _ = stop_metrics.send(());
    if let Some(exporter) = exporter {
        match exporter.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the metrics listener failed"),
            Err(e) => tracing::warn!(error = %e, "the metrics listener stopped unexpectedly"),
        }
    }
    tracing::info!("agent daemon stopped; undelivered publications stay in the outbox");
    Ok(())
}
