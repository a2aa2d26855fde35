//! Delivering the outbox: each pending publication is sent with `do_put`; a failure to reach
//! the coordinator is retried with exponential backoff and jitter, a refusal is final.
//!
//! Each publication is signed with the agency's key, names the newest log entry the agent was
//! acknowledged (a coordinator that no longer holds it refuses as rolled back, and delivery
//! stops), and each acknowledgement's signed entry is checked and kept ([`crate::evidence`]).
//!
//! Delivery is idempotent: a publication carries its content hash, and the coordinator
//! acknowledges content identical to the dataset's current version as a duplicate without a
//! new store version. So a retry after a lost acknowledgement, or after the agent was killed
//! mid-upload, never creates a second version.

use std::sync::Arc;
use std::time::Duration;

use arrow_flight::FlightClient;
use sdgx_schemas::flight::Ack;
use sdgx_schemas::Contract;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Format};
use crate::error::{Error, Result};
use crate::outbox::{now, Entry, Outbox, State};
use crate::publish::{send, Upload};

/// Retry settings (`[delivery]` in the agent config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The wait after the first failed attempt, in milliseconds; it doubles with each attempt.
    pub initial_backoff_ms: u64,
    /// The longest wait between attempts, in milliseconds.
    pub max_backoff_ms: u64,
    /// How long `sdgx-agent publish` keeps retrying before it leaves what is undelivered in the
    /// outbox and exits (the daemon, `sdgx-agent run`, never gives up), in seconds.
    pub publish_retry_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig { initial_backoff_ms: 1_000, max_backoff_ms: 300_000, publish_retry_secs: 600 }
    }
}

/// The wait before attempt `attempts + 1`: `initial · 2^(attempts-1)`, capped at the maximum,
/// then drawn uniformly from its upper half (jitter, so that agents cut off together do not
/// all come back at the same instant).
pub fn backoff(c: &DeliveryConfig, attempts: u32) -> Duration {
    use std::hash::BuildHasher;
    let exp = attempts.saturating_sub(1).min(32);
    let full = c.initial_backoff_ms.saturating_mul(1u64 << exp).min(c.max_backoff_ms.max(1));
    let random = std::collections::hash_map::RandomState::new().hash_one((attempts, std::time::SystemTime::now()));
    let half = full / 2;
    Duration::from_millis(half + random % (full - half + 1))
}

/// Whether a gRPC status means the coordinator refused for good: retrying the same
/// publication would get the same answer.
pub fn is_permanent(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(code, InvalidArgument | PermissionDenied | Unauthenticated | FailedPrecondition | AlreadyExists | NotFound | OutOfRange | Unimplemented)
}

/// The result of one attempt on one entry.
#[derive(Debug)]
pub struct Attempt {
    /// The entry as recorded after the attempt.
    pub entry: Entry,
    /// What the attempt returned.
    pub result: Result<Ack>,
}

/// Sends every pending entry that is due once, records each outcome in the outbox, and returns
/// them. `client` is reused across entries and dropped after a connection failure.
///
/// A publication the coordinator refuses because it was validated against another framework
/// is revalidated once against the coordinator's, fetched (and cached) for the purpose, and
/// sent again at once; `contract` becomes that framework's, for what is validated next. Still
/// refused, or when the framework cannot be fetched, it stays pending and is retried with
/// backoff; found invalid under the new framework, it fails with the report.
pub async fn deliver_due(config: &Config, contract: &mut Arc<Contract>, outbox: &Outbox, client: &mut Option<FlightClient>) -> Result<Vec<Attempt>> {
    let mut out = Vec::new();
    let now_time = chrono::Utc::now();
    for mut e in outbox.pending()? {
        let due = e.next_attempt.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_none_or(|t| t <= now_time);
        if !due {
            continue;
        }
        let mut result = attempt(config, contract, outbox, &e, client).await;
        if let Err(Error::FrameworkMismatch { mismatch, .. }) = &result {
            tracing::warn!(publication = %e.label(), validated = %mismatch.validated, in_force = %mismatch.coordinator,
                "the coordinator has another framework in force: revalidating against it");
            let wanted = mismatch.coordinator.hash.clone();
            result = match revalidate(config, contract, outbox, &mut e, &wanted).await {
                Ok(()) => attempt(config, contract, outbox, &e, client).await,
                Err(err) => Err(err),
            };
        }
        if let Err(err @ Error::Config(_)) = result {
            // The agent's own settings (say, a missing certificate): the publication is not at
            // fault and stays pending.
            return Err(err);
        }
        if let Err(err @ Error::RolledBack { .. }) = result {
            // The coordinator lost history this agent was acknowledged: the publication is not
            // at fault and stays pending, and delivery stops until the operator has looked.
            e.attempts += 1;
            e.last_attempt = Some(now());
            e.last_reply = Some(err.to_string());
            outbox.update(&e)?;
            tracing::error!(publication = %e.label(), error = %err, "the coordinator was rolled back; not delivered");
            return Err(err);
        }
        let result = result.and_then(|ack| {
            let head = crate::evidence::check_ack(&config.coordinator, config.tls.as_ref(), &ack)?;
            if let Some(h) = head {
                outbox.record_head(&h)?;
            }
            Ok(ack)
        });
        e.attempts += 1;
        e.last_attempt = Some(now());
        match &result {
            Ok(ack) => {
                e.state = State::Sent;
                e.next_attempt = None;
                e.last_reply = Some(format!(
                    "acknowledged: publication {} at store version {}{}",
                    ack.publication_id,
                    ack.store_version,
                    if ack.duplicate { " (duplicate of the current version: no new version)" } else { "" }
                ));
                e.ack = Some(ack.clone());
                tracing::info!(publication = %e.label(), store_version = ack.store_version, duplicate = ack.duplicate, "delivered");
            }
            Err(Error::Coordinator { .. } | Error::FrameworkMismatch { .. }) => {
                *client = None;
                let wait = backoff(&config.delivery, e.attempts);
                let next = chrono::Utc::now() + chrono::Duration::from_std(wait).expect("a backoff fits");
                e.next_attempt = Some(next.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                e.last_reply = Some(result.as_ref().err().map(ToString::to_string).unwrap_or_default());
                tracing::warn!(publication = %e.label(), attempt = e.attempts, retry_in_ms = wait.as_millis() as u64,
                    error = %e.last_reply.as_deref().unwrap_or_default(), "not delivered; it stays in the outbox");
            }
            Err(err) => {
                e.state = State::Failed;
                e.next_attempt = None;
                e.last_reply = Some(err.to_string());
                tracing::error!(publication = %e.label(), error = %err, "refused; not retried");
            }
        }
        outbox.update(&e)?;
        out.push(Attempt { entry: e, result });
    }
    Ok(out)
}

/// Fetches the coordinator's framework unless `contract` already has the hash `wanted`, then
/// validates `e`'s rows against it and records the result in the entry.
async fn revalidate(config: &Config, contract: &mut Arc<Contract>, outbox: &Outbox, e: &mut Entry, wanted: &str) -> Result<()> {
    if contract.bundle.hash != wanted {
        *contract = crate::framework::fetch(config).await?.contract;
    }
    let (c, manifest, data, bs, mp) = (contract.clone(), e.manifest.clone(), outbox.data(e), config.batch_size, config.max_problems);
    let label = e.label();
    let p = tokio::task::spawn_blocking(move || crate::publish::validate_file(&c, manifest, &data, Format::Parquet, bs, mp, None))
        .await
        .map_err(|err| Error::Outbox { path: label, message: format!("the revalidation stopped: {err}") })??;
    tracing::info!(publication = %e.label(), framework = %p.framework, "revalidated against the coordinator's framework");
    e.manifest = p.manifest;
    e.framework = Some(p.framework);
    outbox.update(e)
}

async fn attempt(config: &Config, contract: &Arc<Contract>, outbox: &Outbox, e: &Entry, client: &mut Option<FlightClient>) -> Result<Ack> {
    if client.is_none() {
        *client = Some(crate::client::connect(&config.coordinator, &config.transport, config.tls.as_ref()).await?);
    }
    let cl = client.as_mut().expect("connected");
    let data = outbox.data(e);
    let signature = crate::evidence::sign(config.tls.as_ref(), &e.manifest)?;
    let known_head = outbox.head()?;
    let up = Upload {
        manifest: &e.manifest,
        data: &data,
        format: Format::Parquet,
        rows: e.rows,
        framework: e.framework.as_ref(),
        signature: signature.as_ref(),
        known_head: known_head.as_ref(),
    };
    send(cl, &config.coordinator, contract.clone(), up, config.batch_size).await
}

/// When the next pending entry is due, if any is pending.
pub fn next_due(outbox: &Outbox) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(outbox
        .pending()?
        .iter()
        .map(|e| {
            e.next_attempt
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc))
        })
        .min())
}

/// Delivers until nothing is pending or `give_up` has passed, waiting out each backoff.
/// Returns the last attempt on each entry tried.
pub async fn deliver_all(config: &Config, contract: &mut Arc<Contract>, outbox: &Outbox, give_up: Duration) -> Result<Vec<Attempt>> {
    let deadline = tokio::time::Instant::now() + give_up;
    let mut client = None;
    let mut last: Vec<Attempt> = Vec::new();
    loop {
        for a in deliver_due(config, contract, outbox, &mut client).await? {
            last.retain(|x| x.entry.id != a.entry.id);
            last.push(a);
        }
        let Some(next) = next_due(outbox)? else { break };
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        if tokio::time::Instant::now() + wait > deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_the_upper_half() {
        let c = DeliveryConfig { initial_backoff_ms: 100, max_backoff_ms: 1_000, publish_retry_secs: 1 };
        for (attempts, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000), (40, 1_000)] {
            for _ in 0..50 {
                let d = backoff(&c, attempts).as_millis() as u64;
                assert!((full / 2..=full).contains(&d), "attempt {attempts}: {d} ms not in [{}, {full}]", full / 2);
            }
        }
        let draws: std::collections::BTreeSet<u128> = (0..50).map(|_| backoff(&c, 5).as_millis()).collect();
        assert!(draws.len() > 5, "jitter varies the wait: {draws:?}");
    }

    #[test]
    fn refusals_are_final_and_outages_are_retried() {
        assert!(is_permanent(tonic::Code::PermissionDenied));
        assert!(is_permanent(tonic::Code::InvalidArgument));
        assert!(!is_permanent(tonic::Code::Unavailable));
        assert!(!is_permanent(tonic::Code::DeadlineExceeded));
        assert!(!is_permanent(tonic::Code::ResourceExhausted));
    }
}
