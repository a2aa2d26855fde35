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
//! | [`client`] | the Flight connection to the coordinator |
//! | [`publish`] | local validation, then streaming publication |
//! | [`compute`] | sources (CSV, Parquet, Excel) and indicator definitions run in DataFusion |
//! | [`sdc`] | statistical disclosure control: primary and secondary suppression |
//! | [`status`] | the agency's reporting calendar, from the coordinator's HTTP API |

pub mod client;
pub mod compute;
pub mod config;
pub mod error;
pub mod publish;
pub mod sdc;
pub mod source;
pub mod status;

use std::sync::Arc;

use sdgx_schemas::flight::Ack;
use sdgx_schemas::Contract;

pub use config::Config;
pub use error::{Error, Result};

/// What happened to one dataset.
#[derive(Debug)]
pub struct Outcome {
    /// The dataset's manifest path.
    pub manifest: std::path::PathBuf,
    /// For a computed dataset: what the indicator definition and disclosure control produced.
    pub computed: Option<compute::Computed>,
    /// The local check: the prepared publication, or why it failed.
    pub checked: Result<publish::Prepared>,
    /// The coordinator's answer, when sent.
    pub sent: Option<Result<Ack>>,
}

/// Loads the contract the configuration names.
pub fn contract(config: &Config) -> Result<Contract> {
    Ok(Contract::load(config.national_codelists.as_deref(), config.national_framework.as_deref())?)
}

/// Checks every dataset and, unless `dry_run`, publishes each valid one. A failure of one
/// dataset does not stop the others.
pub async fn run(config: &Config, dry_run: bool) -> Result<Vec<Outcome>> {
    let contract = Arc::new(contract(config)?);
    let mut client = None;
    let mut out = Vec::new();
    for d in &config.datasets {
        let mut computed = None;
        if let Some(comp) = &d.compute {
            match compute::compute(&config.sources, comp, &d.source).await {
                Ok(c) => computed = Some(c),
                Err(e) => {
                    out.push(Outcome { manifest: d.manifest.clone(), computed: None, checked: Err(e), sent: None });
                    continue;
                }
            }
        }
        let c = contract.clone();
        let (d2, agency, bs, mp) = (d.clone(), config.agency.clone(), config.batch_size, config.max_problems);
        let checked = tokio::task::spawn_blocking(move || publish::check(&c, &d2, &agency, bs, mp))
            .await
            .map_err(|e| Error::Config(e.to_string()))?;
        let sent = match (&checked, dry_run) {
            (Ok(p), false) => {
                if client.is_none() {
                    client = Some(client::connect(&config.coordinator, &config.transport, config.tls.as_ref()).await?);
                }
                let cl = client.as_mut().expect("connected");
                Some(publish::send(cl, &config.coordinator, contract.clone(), p, config.batch_size).await)
            }
            _ => None,
        };
        out.push(Outcome { manifest: d.manifest.clone(), computed, checked, sent });
    }
    Ok(out)
}
