//! Prometheus metrics of the agent daemon, and the text exposition both programs serve.
//!
//! The daemon (`sdgx-agent run`) serves `GET /metrics` on its own small listener when
//! `[metrics] listen` is set in the agent config (nothing is bound otherwise), as a
//! long-running exporter is scraped in Prometheus' usual pull model. It exposes:
//!
//! | metric | type | labels | what |
//! | --- | --- | --- | --- |
//! | `sdgx_agent_outbox_entries` | gauge | `state` (pending, sent, failed, superseded) | outbox entries by state, after each cycle |
//! | `sdgx_agent_outbox_corrupt_entries` | gauge | | entries whose `entry.json` cannot be read |
//! | `sdgx_agent_delivery_attempts_total` | counter | `outcome` (delivered, retry, refused) | attempts to send an outbox entry |
//!
//! The answer is the Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), which every
//! scraper reads.

use std::net::SocketAddr;

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::outbox::{Listing, State};

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// What `registry` holds, in the Prometheus text format.
pub fn exposition(registry: &Registry) -> String {
    prometheus::TextEncoder::new().encode_to_string(&registry.gather()).expect("the metrics encode as text")
}

/// `[metrics]` in the agent config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where the daemon serves `GET /metrics` (say `127.0.0.1:9465`); absent: no listener.
    /// The metrics carry no data or secret, but bind it to an address only the monitoring
    /// system reaches.
    pub listen: Option<SocketAddr>,
}

/// The daemon's instruments and their registry.
#[derive(Debug, Clone)]
pub struct AgentMetrics {
    registry: Registry,
    outbox: IntGaugeVec,
    corrupt: IntGauge,
    attempts: IntCounterVec,
}

/// The states of the outbox gauge.
const STATES: [State; 4] = [State::Pending, State::Sent, State::Failed, State::Superseded];

/// The outcomes of a delivery attempt, by the entry's state after it.
const OUTCOMES: [&str; 3] = ["delivered", "retry", "refused"];

impl Default for AgentMetrics {
    fn default() -> Self {
        let registry = Registry::new_custom(Some("sdgx_agent".into()), None).expect("a valid prefix");
        let outbox = IntGaugeVec::new(Opts::new("outbox_entries", "Outbox entries by state"), &["state"]).expect("a valid metric");
        let corrupt = IntGauge::new("outbox_corrupt_entries", "Outbox entries whose entry.json cannot be read").expect("a valid metric");
        let attempts =
            IntCounterVec::new(Opts::new("delivery_attempts_total", "Attempts to send an outbox entry, by outcome"), &["outcome"]).expect("a valid metric");
        for c in [Box::new(outbox.clone()) as Box<dyn prometheus::core::Collector>, Box::new(corrupt.clone()), Box::new(attempts.clone())] {
            registry.register(c).expect("each metric is registered once");
        }
        // Every series exists from the start, at zero.
        for s in STATES {
            outbox.with_label_values(&[s.name()]);
        }
        for outcome in OUTCOMES {
            attempts.with_label_values(&[outcome]);
        }
        AgentMetrics { registry, outbox, corrupt, attempts }
    }
}

impl AgentMetrics {
    /// Sets the outbox gauges from `listing`.
    pub fn observe_outbox(&self, listing: &Listing) {
        for s in STATES {
            let n = listing.entries.iter().filter(|e| e.state == s).count();
            self.outbox.with_label_values(&[s.name()]).set(n as i64);
        }
        self.corrupt.set(listing.corrupt.len() as i64);
    }

    /// Counts one attempt on an entry that is now in `state`: sent (delivered), still pending
    /// (to be retried) or failed (refused for good).
    pub fn attempted(&self, state: State) {
        let outcome = match state {
            State::Sent => OUTCOMES[0],
            State::Pending => OUTCOMES[1],
            State::Failed | State::Superseded => OUTCOMES[2],
        };
        self.attempts.with_label_values(&[outcome]).inc();
    }

    /// The exposition of every instrument.
    pub fn render(&self) -> String {
        exposition(&self.registry)
    }
}

/// Binds `addr` for [`serve`] (port 0 works).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Config(format!("metrics.listen: cannot listen on {addr}: {e}")))
}

/// Serves `GET /metrics` of `metrics` on `listener` until `shutdown` completes; every other
/// path is 404.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: std::sync::Arc<AgentMetrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], m.render()) }
        }),
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_exposed_from_the_start_and_counts() {
        let m = AgentMetrics::default();
        let text = m.render();
        assert!(text.contains("sdgx_agent_outbox_entries{state=\"pending\"} 0"), "{text}");
        assert!(text.contains("sdgx_agent_delivery_attempts_total{outcome=\"retry\"} 0"), "{text}");
        assert!(text.contains("# TYPE sdgx_agent_delivery_attempts_total counter"), "{text}");
        m.attempted(State::Pending);
        m.attempted(State::Pending);
        m.attempted(State::Sent);
        let text = m.render();
        assert!(text.contains("sdgx_agent_delivery_attempts_total{outcome=\"retry\"} 2"), "{text}");
        assert!(text.contains("sdgx_agent_delivery_attempts_total{outcome=\"delivered\"} 1"), "{text}");
    }
}
