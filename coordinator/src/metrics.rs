//! The coordinator's Prometheus metrics, served at `GET /metrics` on the HTTP port to tokens of
//! role `metrics` (or `admin`): see docs/operations.md.
//!
//! | metric | type | labels | what |
//! | --- | --- | --- | --- |
//! | `sdgx_publications_accepted_total` | counter | | publications acknowledged over Flight or the upload page (duplicates included) |
//! | `sdgx_publications_duplicate_total` | counter | | of those, duplicates of the dataset's current content (no new version) |
//! | `sdgx_publications_rejected_total` | counter | `reason` | publications refused: `validation` (the contract or a quality rule), or the error kind (`permission_denied`, `limit_reached`, `framework_mismatch`, `timeout`, `bad_request`, `read_only_replica`, `no_space`, `internal`, ...) |
//! | `sdgx_received_bytes_total` | counter | | bytes of Flight messages received in publications (headers and bodies) |
//! | `sdgx_received_rows_total` | counter | | rows decoded from publications over Flight |
//! | `sdgx_commit_duration_seconds` | histogram | | time to commit one publication to the store |
//! | `sdgx_figure_duration_seconds` | histogram | `figure` | time to answer a figure over HTTP |
//! | `sdgx_query_duration_seconds` | histogram | `surface` (`http`, `flight_sql`) | time to answer an analyst's SQL query, failed ones included |
//! | `sdgx_auth_failures_total` | counter | | invalid credentials (bearer tokens, dashboard logins, Flight SQL), locked-out ones included |
//! | `sdgx_auth_lockouts_total` | counter | | addresses locked out after repeated failures (once per address per window, as logged) |
//!
//! Each part of the coordinator owns its instruments (they are shared handles): the store its
//! commit histogram, the ingest path its [`Publications`], the failed-authentication limiter its
//! [`Auth`] counters; [`Metrics::new`] registers them all in one registry.

use std::time::Instant;

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

use crate::error::Error;

/// The buckets of every latency: from 1 ms doubling to about 65 s.
fn buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.001, 2.0, 17).expect("valid buckets")
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("a valid metric")
}

/// The histogram of commit times ([`crate::store::Store::commit`]).
pub fn commit_histogram() -> Histogram {
    Histogram::with_opts(HistogramOpts::new("commit_duration_seconds", "Time to commit one publication").buckets(buckets())).expect("a valid metric")
}

/// The publications counters of the ingest path.
#[derive(Debug, Clone)]
pub struct Publications {
    accepted: IntCounter,
    duplicates: IntCounter,
    rejected: IntCounterVec,
    bytes: IntCounter,
    rows: IntCounter,
}

impl Default for Publications {
    fn default() -> Self {
        Publications {
            accepted: counter("publications_accepted_total", "Publications acknowledged (duplicates included)"),
            duplicates: counter("publications_duplicate_total", "Publications acknowledged as duplicates of the current content"),
            rejected: IntCounterVec::new(Opts::new("publications_rejected_total", "Publications refused, by reason"), &["reason"]).expect("a valid metric"),
            bytes: counter("received_bytes_total", "Bytes of Flight messages received in publications"),
            rows: counter("received_rows_total", "Rows decoded from publications over Flight"),
        }
    }
}

impl Publications {
    /// Counts a publication's outcome: acknowledged (`duplicate` or not) or refused with `e`.
    pub fn record(&self, outcome: std::result::Result<bool, &Error>) {
        match outcome {
            Ok(duplicate) => {
                self.accepted.inc();
                if duplicate {
                    self.duplicates.inc();
                }
            }
            Err(e) => self.rejected.with_label_values(&[reason(e)]).inc(),
        }
    }

    /// Counts `n` bytes received.
    pub fn received_bytes(&self, n: usize) {
        self.bytes.inc_by(n as u64);
    }

    /// Counts `n` rows decoded.
    pub fn received_rows(&self, n: usize) {
        self.rows.inc_by(n as u64);
    }
}

/// The `reason` label of a refused publication: `validation` for a report of problems, else
/// the error's kind; a transport status (a stream cut, a limit of the stream) by its code.
pub fn reason(e: &Error) -> &'static str {
    use arrow_flight::error::FlightError;
    match e {
        Error::Rejected(_) => "validation",
        Error::Flight(FlightError::Tonic(s)) => match s.code() {
            tonic::Code::DeadlineExceeded => "timeout",
            tonic::Code::Cancelled => "cancelled",
            tonic::Code::InvalidArgument => "bad_request",
            tonic::Code::ResourceExhausted => "limit_reached",
            tonic::Code::PermissionDenied => "permission_denied",
            _ => "transport",
        },
        other => other.kind().name,
    }
}

/// The failed-authentication counters of [`crate::auth::FailureLimiter`].
#[derive(Debug, Clone)]
pub struct Auth {
    /// Invalid credentials.
    pub failures: IntCounter,
    /// Lockouts logged.
    pub lockouts: IntCounter,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            failures: counter("auth_failures_total", "Invalid credentials presented"),
            lockouts: counter("auth_lockouts_total", "Addresses locked out after repeated failed authentication"),
        }
    }
}

/// Where an analyst's query was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `POST /api/v1/query`.
    Http,
    /// The analysts' Flight SQL port.
    FlightSql,
}

impl Surface {
    fn label(self) -> &'static str {
        match self {
            Surface::Http => "http",
            Surface::FlightSql => "flight_sql",
        }
    }
}

/// Every instrument of a coordinator in one registry, and the latencies of the serving surfaces.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    figures: HistogramVec,
    queries: HistogramVec,
}

impl Metrics {
    /// The registry of the store's `commit` histogram, the ingest path's `publications` and the
    /// limiter's `auth` counters, with new figure and query latencies.
    pub fn new(commit: &Histogram, publications: &Publications, auth: &Auth) -> Metrics {
        let registry = Registry::new_custom(Some("sdgx".into()), None).expect("a valid prefix");
        let histograms = |name: &str, help: &str, label: &str| {
            HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets()), &[label]).expect("a valid metric")
        };
        let figures = histograms("figure_duration_seconds", "Time to answer a figure over HTTP", "figure");
        let queries = histograms("query_duration_seconds", "Time to answer an analyst's SQL query", "surface");
        let p = publications;
        let all: [Box<dyn Collector>; 10] = [
            Box::new(p.accepted.clone()),
            Box::new(p.duplicates.clone()),
            Box::new(p.rejected.clone()),
            Box::new(p.bytes.clone()),
            Box::new(p.rows.clone()),
            Box::new(commit.clone()),
            Box::new(figures.clone()),
            Box::new(queries.clone()),
            Box::new(auth.failures.clone()),
            Box::new(auth.lockouts.clone()),
        ];
        for c in all {
            registry.register(c).expect("each metric is registered once");
        }
        // The series of the surfaces exist from the start.
        for s in [Surface::Http, Surface::FlightSql] {
            queries.with_label_values(&[s.label()]);
        }
        Metrics { registry, figures, queries }
    }

    /// Records a figure answered in the time since `started`.
    pub fn figure(&self, figure: &'static str, started: Instant) {
        self.figures.with_label_values(&[figure]).observe(started.elapsed().as_secs_f64());
    }

    /// Records a query asked on `surface` answered in the time since `started`.
    pub fn query(&self, surface: Surface, started: Instant) {
        self.queries.with_label_values(&[surface.label()]).observe(started.elapsed().as_secs_f64());
    }

    /// The exposition (Prometheus text format) of every instrument.
    pub fn render(&self) -> String {
        sdgx_agent::metrics::exposition(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_by_reason() {
        let (commit, p, auth) = (commit_histogram(), Publications::default(), Auth::default());
        let m = Metrics::new(&commit, &p, &auth);
        p.record(Ok(false));
        p.record(Ok(true));
        p.record(Err(&Error::PermissionDenied("no".into())));
        p.record(Err(&Error::Flight(arrow_flight::error::FlightError::Tonic(Box::new(tonic::Status::deadline_exceeded("idle"))))));
        commit.observe(0.002);
        auth.failures.inc();
        let text = m.render();
        for line in [
            "sdgx_publications_accepted_total 2",
            "sdgx_publications_duplicate_total 1",
            "sdgx_publications_rejected_total{reason=\"permission_denied\"} 1",
            "sdgx_publications_rejected_total{reason=\"timeout\"} 1",
            "sdgx_commit_duration_seconds_count 1",
            "sdgx_auth_failures_total 1",
            "sdgx_query_duration_seconds_count{surface=\"flight_sql\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
