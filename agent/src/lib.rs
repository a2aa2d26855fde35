//! # sdgx-agent
//!
//! The ministry agent: reads the datasets its configuration declares (contract CSV or
//! Parquet, each with a TOML manifest), validates them locally with the contract, and streams
//! each to the national coordinator over Arrow Flight.
//!
//! | module | concept |
//! | --- | --- |
//! | [`config`] | settings, loaded from TOML and `SDGX_*` variables |
//! | [`error`] | the crate's error type |
//! | [`source`] | reading dataset files as batch streams |
//! | [`sources`] | named sources of indicator definitions: files, Excel, PostgreSQL, HTTP(S) |
//! | [`compute`] | indicator definitions run in DataFusion, then disclosure control |
//! | [`sdc`] | statistical disclosure control: primary and secondary suppression |
//! | [`framework`] | the coordinator's framework: fetched, cached, and the precedence of sources |
//! | [`publish`] | local validation into the outbox, then the streaming upload |
//! | [`outbox`] | the durable outbox of publications |
//! | [`delivery`] | sending the outbox, with retries, backoff and jitter |
//! | [`evidence`] | signing publications, checking signed acknowledgements, the last head seen |
//! | [`progress`] | upload progress: a bar on a terminal, log lines otherwise |
//! | [`client`] | the Flight connection to the coordinator |
//! | [`daemon`] | `sdgx-agent run`: scheduled and on-change publication |
//! | [`metrics`] | the daemon's Prometheus metrics (outbox depth, delivery attempts) |
//! | [`logging`] | log output of both programs: text or JSON lines |
//! | [`status`] | the outbox and the agency's reporting calendar |

pub mod client;
pub mod compute;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod error;
pub mod evidence;
pub mod framework;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod progress;
pub mod publish;
pub mod sdc;
pub mod source;
pub mod sources;
pub mod status;

use std::path::Path;
use std::sync::Arc;

use sdgx_schemas::flight::Ack;
use sdgx_schemas::Contract;

pub use config::Config;
pub use error::{Error, Result};

use config::DatasetConfig;
use outbox::{Outbox, State};

/// What happened to one dataset.
#[derive(Debug)]
pub struct Outcome {
    /// The dataset's manifest path.
    pub manifest: std::path::PathBuf,
    /// For a computed dataset: what the indicator definition and disclosure control produced.
    pub computed: Option<compute::Computed>,
    /// The local check: the prepared publication, or why it failed.
    pub checked: Result<publish::Prepared>,
    /// The outbox entry delivered, when staged.
    pub entry: Option<outbox::Entry>,
    /// The coordinator's answer, when sent.
    pub sent: Option<Result<Ack>>,
    /// The coordinator's dry-run report, for `validate --remote`.
    pub remote: Option<Result<sdgx_schemas::api::DryRunReport>>,
}

/// Loads the contract of the configuration's own files (`national_codelists`,
/// `national_framework`); what validation uses is [`framework::in_force`].
pub fn contract(config: &Config) -> Result<Contract> {
    Ok(Contract::load(config.national_codelists.as_deref(), config.national_framework.as_deref())?)
}

/// Computes (for an indicator definition) and checks one dataset; with `copy`, writes its
/// normalised rows there for the outbox.
pub async fn prepare(config: &Config, contract: &Arc<Contract>, d: &DatasetConfig, copy: Option<&Path>) -> (Option<compute::Computed>, Result<publish::Prepared>) {
    let mut computed = None;
    if let Some(comp) = &d.compute {
        match compute::compute(&config.sources, config.tls.as_ref(), comp, &d.source).await {
            Ok(c) => computed = Some(c),
            Err(e) => return (None, Err(e)),
        }
    }
    let (c, d2, agency, bs, mp) = (contract.clone(), d.clone(), config.agency.clone(), config.batch_size, config.max_problems);
    let copy = copy.map(Path::to_owned);
    let target = copy.clone();
    let checked = tokio::task::spawn_blocking(move || publish::check(&c, &d2, &agency, bs, mp, target.as_deref()))
        .await
        .unwrap_or_else(|e| Err(Error::Config(format!("the check of {} stopped: {e}", d.manifest.display()))));
    if checked.is_err()
        && let Some(p) = copy
    {
        let _ = std::fs::remove_file(p);
    }
    (computed, checked)
}

/// Checks every dataset and, unless `dry_run`, stages each valid one in the outbox and
/// delivers the outbox (these and any earlier undelivered publications), retrying for
/// `delivery.publish_retry_secs`. A failure of one dataset does not stop the others.
///
/// The framework is the coordinator's, fetched first unless `dry_run` (see [`framework`]).
pub async fn run(config: &Config, dry_run: bool) -> Result<Vec<Outcome>> {
    run_with(config, framework::in_force(config, !dry_run).await?, dry_run).await
}

/// [`run`] against the framework `f`.
pub async fn run_with(config: &Config, f: framework::InForce, dry_run: bool) -> Result<Vec<Outcome>> {
    let mut contract = f.contract;
    let mut out = Vec::new();
    if dry_run {
        for d in &config.datasets {
            let (computed, checked) = prepare(config, &contract, d, None).await;
            out.push(Outcome { manifest: d.manifest.clone(), computed, checked, entry: None, sent: None, remote: None });
        }
        return Ok(out);
    }
    let outbox = Outbox::open(&config.outbox)?;
    let _lock = outbox.lock().await?;
    outbox.warn_corrupt()?;
    // An explicit publish tries everything pending now, whatever its backoff.
    for mut e in outbox.pending()? {
        if e.next_attempt.take().is_some() {
            outbox.update(&e)?;
        }
    }
    for d in &config.datasets {
        let copy = outbox.staging_file();
        let (computed, checked) = prepare(config, &contract, d, Some(&copy)).await;
        let entry = match &checked {
            Ok(p) => Some(outbox.stage(p, &copy, false)?.entry().clone()),
            Err(_) => None,
        };
        out.push(Outcome { manifest: d.manifest.clone(), computed, checked, entry, sent: None, remote: None });
    }
    deliver(config, &mut contract, &outbox, &mut out).await?;
    Ok(out)
}

/// `sdgx-agent validate --remote`: checks every dataset locally as [`run_with`] does, then
/// sends each valid one to the coordinator marked as a dry run, which checks everything short
/// of the commit (identity, registry, framework, contract, quality rules, duplicate check) and
/// answers the import summary and the figure impact. Nothing is staged in the outbox and
/// nothing is stored at the coordinator.
pub async fn validate_remote(config: &Config, f: framework::InForce) -> Result<Vec<Outcome>> {
    let framework = f.reference();
    let contract = f.contract;
    let scratch = tempfile::tempdir().map_err(|e| Error::Config(format!("a scratch directory for the dry run: {e}")))?;
    let mut client = None;
    let mut out = Vec::new();
    for (i, d) in config.datasets.iter().enumerate() {
        let copy = scratch.path().join(format!("{i}.parquet"));
        let (computed, checked) = prepare(config, &contract, d, Some(&copy)).await;
        let remote = match &checked {
            Err(_) => None,
            Ok(p) => Some(
                async {
                    if client.is_none() {
                        client = Some(client::connect(&config.coordinator, &config.transport, config.tls.as_ref()).await?);
                    }
                    let signature = evidence::sign(config.tls.as_ref(), &p.manifest)?;
                    let up = publish::Upload {
                        manifest: &p.manifest,
                        data: &copy,
                        format: config::Format::Parquet,
                        rows: p.summary.rows,
                        framework: Some(&framework),
                        signature: signature.as_ref(),
                        known_head: None,
                    };
                    let c = client.as_mut().expect("connected");
                    publish::send_dry_run(c, &config.coordinator, contract.clone(), up, config.batch_size).await
                }
                .await,
            ),
        };
        out.push(Outcome { manifest: d.manifest.clone(), computed, checked, entry: None, sent: None, remote });
    }
    Ok(out)
}

/// Withdraws the configured dataset whose manifest has the id `dataset`: stages a
/// publication with `withdraw = true` and no rows in the outbox (superseding any pending
/// version of the dataset), then delivers the outbox as [`run`] does. Once acknowledged, the
/// dataset's current version is empty; `sdgx-agent run` publishes it again when its inputs
/// change or on its schedule, so remove it from the configuration to keep it withdrawn.
pub async fn withdraw(config: &Config, dataset: &str) -> Result<Vec<Outcome>> {
    let mut contract = framework::in_force(config, true).await?.contract;
    let mut ids = vec![];
    let mut found = None;
    for d in &config.datasets {
        let m = publish::manifest(d, &config.agency)?;
        if m.dataset == dataset {
            found = Some(d);
        }
        ids.push(m.dataset);
    }
    let d = found.ok_or_else(|| Error::Config(format!("no dataset {dataset:?} in the configuration (its datasets: {})", ids.join(", "))))?;
    let outbox = Outbox::open(&config.outbox)?;
    let _lock = outbox.lock().await?;
    outbox.warn_corrupt()?;
    let copy = outbox.staging_file();
    let checked = publish::withdrawal(&contract, d, &config.agency, &copy);
    let entry = match &checked {
        Ok(p) => Some(outbox.stage(p, &copy, false)?.entry().clone()),
        Err(_) => {
            let _ = std::fs::remove_file(&copy);
            None
        }
    };
    let mut out = vec![Outcome { manifest: d.manifest.clone(), computed: None, checked, entry, sent: None, remote: None }];
    deliver(config, &mut contract, &outbox, &mut out).await?;
    Ok(out)
}

/// Delivers the outbox, retrying for `delivery.publish_retry_secs`, and records in each of
/// `out` what became of its entry.
async fn deliver(config: &Config, contract: &mut Arc<Contract>, outbox: &Outbox, out: &mut [Outcome]) -> Result<()> {
    let mut attempts = delivery::deliver_all(config, contract, outbox, std::time::Duration::from_secs(config.delivery.publish_retry_secs)).await?;
    for o in out.iter_mut() {
        let Some(e) = &o.entry else { continue };
        let last = attempts.iter().position(|a| a.entry.id == e.id).map(|i| attempts.swap_remove(i));
        o.sent = Some(match last {
            Some(a) if a.entry.state != State::Pending => a.result,
            Some(a) => Err(undelivered(&a.entry)),
            None => Err(undelivered(e)),
        });
    }
    Ok(())
}

fn undelivered(e: &outbox::Entry) -> Error {
    Error::Undelivered {
        publication: e.label(),
        attempts: e.attempts,
        last: e.last_reply.clone().unwrap_or_else(|| "not attempted yet".into()),
    }
}
